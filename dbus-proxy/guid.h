#pragma once

/*
 * D-Bus server GUIDs
 *
 * A GUID identifies one listening address of the bus (the "guid=" of the
 * printed address and the argument of the SASL "OK"). Like dbus-daemon's, it
 * is 32 lower-case hex characters: 12 random bytes followed by the 32-bit
 * big-endian UNIX time of its creation.
 */

#define GUID_LEN 32

/**
 * guid_generate() - make a new GUID
 * @out: buffer of GUID_LEN + 1 bytes, written on success (NUL-terminated)
 *
 * Return: 0 on success; negative errno if the kernel's random source
 * failed (getrandom(2)).
 */
int guid_generate(char out[GUID_LEN + 1]);

/**
 * guid_is_valid() - check a GUID string
 * @s: NUL-terminated string
 *
 * Return: 1 if @s is exactly GUID_LEN lower-case hex characters, else 0.
 */
int guid_is_valid(const char *s);

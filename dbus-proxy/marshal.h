#pragma once

/*
 * D-Bus wire codec: shared definitions
 *
 * Type codes, limits from the D-Bus specification, byte-order helpers and the
 * result codes shared by every part of the codec, dbus-proxy/libwire.la:
 *  - validate.h: names, paths, signatures, UTF-8, and the validating walk
 *    over marshalled values (the border: everything from a peer passes here);
 *  - message.h: struct message, parsed and validated once, SENDER set once,
 *    shared by reference; message_frame_size() for the socket reader;
 *  - marshal-reader.h: iterator over validated values (driver arguments,
 *    match rule arguments);
 *  - marshal-builder.h: builder of the messages the broker emits itself.
 * Typical flow in the broker: read 16 bytes, message_frame_size(), read the
 * rest into a malloc'd buffer, message_new_from_buffer(), message_set_sender(),
 * then message_ref() once per receiver and writev(m->vecs).
 *
 * Conventions of the codec:
 *  - All offsets and alignments are relative to the first byte of a message,
 *    as on the wire. The body starts 8-aligned, so alignment inside the body
 *    is the same whether counted from the message or from the body.
 *  - Data is never assumed to be aligned in memory: loads and stores go
 *    through memcpy(), so callers may hand in any buffer.
 *  - A message is either little-endian ('l') or big-endian ('B'); the codec
 *    reads and writes both, whatever the host order.
 *
 * Result codes: 0 is success, negative errno is an unexpected failure (only
 * -ENOMEM in this codec), positive MARSHAL_E_* codes say why untrusted input
 * was refused. A broker treats any MARSHAL_E_* from a peer's message as a
 * protocol violation of that peer.
 */

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* limits (D-Bus specification, "Valid Signatures", "Message Format") */
#define MARSHAL_MAX_MESSAGE_SIZE        (128U * 1024U * 1024U)
#define MARSHAL_MAX_ARRAY_SIZE          (64U * 1024U * 1024U)
#define MARSHAL_MAX_NAME_LENGTH         255U
#define MARSHAL_MAX_SIGNATURE_LENGTH    255U
#define MARSHAL_MAX_ARRAY_DEPTH         32U
#define MARSHAL_MAX_STRUCT_DEPTH        32U
#define MARSHAL_MAX_TOTAL_DEPTH         64U     /* arrays + structs + variants */
#define MARSHAL_FIXED_HEADER_SIZE       16U

/* byte order marks */
#define MARSHAL_LITTLE_ENDIAN           'l'
#define MARSHAL_BIG_ENDIAN              'B'

/* message types */
enum {
        MARSHAL_TYPE_INVALID            = 0,
        MARSHAL_TYPE_METHOD_CALL        = 1,
        MARSHAL_TYPE_METHOD_RETURN      = 2,
        MARSHAL_TYPE_ERROR              = 3,
        MARSHAL_TYPE_SIGNAL             = 4,
};

/* message flags */
enum {
        MARSHAL_FLAG_NO_REPLY_EXPECTED                  = 0x1,
        MARSHAL_FLAG_NO_AUTO_START                      = 0x2,
        MARSHAL_FLAG_ALLOW_INTERACTIVE_AUTHORIZATION    = 0x4,
};

/* header field codes */
enum {
        MARSHAL_FIELD_INVALID           = 0,
        MARSHAL_FIELD_PATH              = 1,
        MARSHAL_FIELD_INTERFACE         = 2,
        MARSHAL_FIELD_MEMBER            = 3,
        MARSHAL_FIELD_ERROR_NAME        = 4,
        MARSHAL_FIELD_REPLY_SERIAL      = 5,
        MARSHAL_FIELD_DESTINATION       = 6,
        MARSHAL_FIELD_SENDER            = 7,
        MARSHAL_FIELD_SIGNATURE         = 8,
        MARSHAL_FIELD_UNIX_FDS          = 9,
        /*
         * Not in the specification: libdbus >= 1.13 (hence dbus-daemon and
         * every libdbus client) reserves code 10 for an experimental
         * "container instance" object path and refuses any message where it
         * has another type or appears twice. We refuse the same messages, so
         * nothing we forward can make a libdbus receiver drop its connection.
         */
        MARSHAL_FIELD_CONTAINER_INSTANCE = 10,
        _MARSHAL_FIELD_N,
};

/* result codes: why input was refused (positive; see the file comment) */
enum {
        MARSHAL_E_TRUNCATED = 1,        /* data ends inside a value or header */
        MARSHAL_E_ENDIAN,               /* byte-order mark neither 'l' nor 'B' */
        MARSHAL_E_VERSION,              /* protocol version is not 1 */
        MARSHAL_E_MESSAGE_TYPE,         /* message type 0 (INVALID) */
        MARSHAL_E_SERIAL,               /* serial or reply serial is 0 */
        MARSHAL_E_TOO_LARGE,            /* message larger than 128 MiB */
        MARSHAL_E_ARRAY_TOO_LARGE,      /* array larger than 64 MiB */
        MARSHAL_E_ARRAY_LENGTH,         /* array length does not end on an element */
        MARSHAL_E_DEPTH,                /* containers nested too deeply */
        MARSHAL_E_PADDING,              /* alignment padding not zero */
        MARSHAL_E_BOOLEAN,              /* boolean neither 0 nor 1 */
        MARSHAL_E_STRING,               /* string not NUL-terminated, or embedded NUL */
        MARSHAL_E_UTF8,                 /* string is not valid UTF-8 */
        MARSHAL_E_OBJECT_PATH,          /* invalid object path */
        MARSHAL_E_SIGNATURE,            /* invalid signature */
        MARSHAL_E_UNIX_FD,              /* unix fd index out of range */
        MARSHAL_E_BODY_LENGTH,          /* body longer or shorter than its signature */
        MARSHAL_E_FIELD_TYPE,           /* known header field with the wrong type */
        MARSHAL_E_FIELD_DUPLICATE,      /* known header field appears twice */
        MARSHAL_E_FIELD_MISSING,        /* a field required by the message type is missing */
        MARSHAL_E_BUS_NAME,             /* invalid DESTINATION or SENDER */
        MARSHAL_E_INTERFACE,            /* invalid INTERFACE */
        MARSHAL_E_MEMBER,               /* invalid MEMBER */
        MARSHAL_E_ERROR_NAME,           /* invalid ERROR_NAME */
        MARSHAL_E_LOCAL,                /* uses the reserved org.freedesktop.DBus.Local path or interface */
        MARSHAL_E_UNIX_FDS,             /* UNIX_FDS differs from the number of fds received */
        MARSHAL_E_TYPE,                 /* reader/builder: value of another type expected */
        MARSHAL_E_END,                  /* reader: no value left in the container */
        MARSHAL_E_STATE,                /* builder: container not closed or misused */
        _MARSHAL_E_N,
};

/**
 * marshal_strerror() - name of a result code, for logs and test messages.
 * @r:          a MARSHAL_E_* code, 0, or a negative errno
 *
 * Return: a static string, never NULL ("unknown" for codes it does not know).
 */
const char *marshal_strerror(int r);

/* alignment of a type code (0 for codes that are not types) */
static inline size_t marshal_type_alignment(char type)
{
        switch (type) {
        case 'y': case 'g': case 'v':
                return 1;
        case 'n': case 'q':
                return 2;
        case 'b': case 'i': case 'u': case 'h': case 's': case 'o': case 'a':
                return 4;
        case 'x': case 't': case 'd': case '(': case '{':
                return 8;
        default:
                return 0;
        }
}

/* size of a fixed-size basic type (0 for other codes) */
static inline size_t marshal_type_fixed_size(char type)
{
        switch (type) {
        case 'y':
                return 1;
        case 'n': case 'q':
                return 2;
        case 'b': case 'i': case 'u': case 'h':
                return 4;
        case 'x': case 't': case 'd':
                return 8;
        default:
                return 0;
        }
}

static inline bool marshal_type_is_basic(char type)
{
        return marshal_type_fixed_size(type) || type == 's' || type == 'o' || type == 'g';
}

static inline size_t marshal_align(size_t pos, size_t alignment)
{
        return (pos + alignment - 1) & ~(alignment - 1);
}

static inline uint16_t marshal_load_u16(const void *p, bool big_endian)
{
        uint16_t v;

        memcpy(&v, p, sizeof(v));
        return big_endian ? be16toh(v) : le16toh(v);
}

static inline uint32_t marshal_load_u32(const void *p, bool big_endian)
{
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        return big_endian ? be32toh(v) : le32toh(v);
}

static inline uint64_t marshal_load_u64(const void *p, bool big_endian)
{
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return big_endian ? be64toh(v) : le64toh(v);
}

static inline void marshal_store_u16(void *p, uint16_t v, bool big_endian)
{
        v = big_endian ? htobe16(v) : htole16(v);
        memcpy(p, &v, sizeof(v));
}

static inline void marshal_store_u32(void *p, uint32_t v, bool big_endian)
{
        v = big_endian ? htobe32(v) : htole32(v);
        memcpy(p, &v, sizeof(v));
}

static inline void marshal_store_u64(void *p, uint64_t v, bool big_endian)
{
        v = big_endian ? htobe64(v) : htole64(v);
        memcpy(p, &v, sizeof(v));
}

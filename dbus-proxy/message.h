#pragma once

/*
 * D-Bus message
 *
 * A message is one D-Bus message as received from a peer (or sealed by
 * message_builder_seal()), parsed and validated exactly once, then shared by
 * reference among every receiver. It holds the raw bytes, the header fields
 * as pointers into them, and the fds that came with it.
 *
 * Invariants (after message_new_from_*() succeeded):
 *  - the whole message is valid by the D-Bus specification: fixed header,
 *    header fields (types, names, required fields per message type), header
 *    padding, and the body walked against its signature (see validate.h);
 *  - header field pointers (path, interface, ...) point into the message's
 *    own storage, are NUL-terminated there, and are NULL when the field is
 *    absent; `signature` is "" when the message has no SIGNATURE field;
 *  - the wire form is vecs[0..2] concatenated (header, sender field, body);
 *    vecs[1] is empty until message_set_sender(); the body is never copied
 *    nor moved;
 *  - the byte order never changes: a big-endian message stays big-endian.
 *
 * Lifetime: refcounted. message_set_sender() is the only mutation; it is
 * called by the single owner before the message is shared. After that, a
 * message is immutable and may be read from several threads; message_ref()
 * and message_unref() are atomic.
 *
 * Cost: message_new_from_data() makes one allocation (struct, fds and a copy
 * of the bytes); message_new_from_buffer() takes over the caller's buffer
 * and allocates only the struct. Parsing allocates nothing; set_sender
 * allocates nothing and rewrites only the header.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dbus-proxy/marshal.h"
#include "dbus-proxy/marshal-reader.h"

#define MESSAGE_N_VECS 3

struct message_account;

/* room for the SENDER header field element: 8 + 255 + NUL, 8-aligned */
#define MESSAGE_SENDER_FIELD_MAX 264

struct message {
        unsigned long n_refs;           /* atomic */

        /* parsed fixed header (immutable) */
        bool big_endian;
        uint8_t type;                   /* MARSHAL_TYPE_*; unknown types (> 4) are kept */
        uint8_t flags;
        uint32_t serial;

        /* header fields (NULL/0 if absent); lengths exclude the NUL */
        const char *path;
        const char *interface;
        const char *member;
        const char *error_name;
        const char *destination;
        const char *sender;
        const char *signature;          /* "" if absent */
        size_t n_path, n_interface, n_member, n_error_name, n_destination, n_sender, n_signature;
        bool has_reply_serial;
        uint32_t reply_serial;
        uint32_t unix_fds;              /* == n_fds */

        /* the fds received with the message, owned (closed by the last unref) */
        int *fds;
        size_t n_fds;

        /* storage */
        uint8_t *data;                  /* the bytes as received; header patched by set_sender */
        size_t n_data;
        size_t body_offset;             /* offset of the body in data (8-aligned) */
        size_t n_body;
        size_t fields_end;              /* end of the header fields in data, without an appended SENDER */
        size_t sender_start;            /* SENDER element in data, [start, end), 0 if none */
        size_t sender_end;
        bool data_owned;                /* data is a separate allocation to free */
        bool has_dropped_fields;        /* a SENDER or unknown header field: set_sender removes them */

        /* wire form: header | SENDER element (set_sender) | body */
        struct iovec vecs[MESSAGE_N_VECS];
        size_t n_wire;

        /* the account charged while the message lives (message_charge()) */
        struct message_account *account;
        size_t n_charged_bytes;

        /*
         * Last, and not zeroed by the allocation: only message_set_sender()
         * writes it, and only vecs[1] (empty until then) points into it.
         */
        uint8_t sender_field[MESSAGE_SENDER_FIELD_MAX] __attribute__((aligned(8)));
};

/*
 * An account of live messages: the bytes and fds of the messages charged to
 * it that are still referenced by someone. The broker keeps one per
 * connection for the messages that connection sent (dbus-daemon's
 * max_incoming_bytes and max_incoming_unix_fds count exactly these: a
 * message stays charged to its sender until the last receiver has written
 * it or dropped it).
 *
 * Lifetime: refcounted. The owner holds one reference (message_account_new)
 * and every charged message one, so a charged message may outlive the
 * owner; the owner gives up its reference with message_account_detach(),
 * after which @released is never called again.
 *
 * Not thread-safe: charged messages must be freed on the thread of the
 * account's owner (the broker is single-threaded).
 */
struct message_account {
        unsigned long n_refs;
        uint64_t n_messages;            /* live charged messages */
        uint64_t n_bytes;               /* their bytes */
        uint64_t n_fds;                 /* their fds */
        uint64_t peak_bytes;            /* the most n_bytes ever was (Debug.Stats) */
        uint64_t peak_fds;              /* the most n_fds ever was */
        void (*released)(void *userdata);
        void *userdata;
};

/**
 * message_account_new() - a new, empty account
 * @out:        the account, on success
 * @released:   called after a charged message was freed and its charge
 *              taken off (n_bytes and n_fds already lowered); may be NULL.
 *              It runs inside the message_unref() that freed the message.
 * @userdata:   passed to @released
 *
 * Return: 0, -ENOMEM.
 */
int message_account_new(struct message_account **out, void (*released)(void *userdata), void *userdata);

/**
 * message_account_detach() - the owner lets go of @a: @released is not
 * called any more; the account is freed when the last charged message is.
 * NULL ok. Return: NULL.
 */
struct message_account *message_account_detach(struct message_account *a);

/**
 * message_charge() - charge @m to @a until @m is freed
 * @m:          a message not charged yet
 * @a:          the account; a reference is taken
 * @n_bytes:    how many bytes to charge (the size the message had on the
 *              wire when it was received); its fds are charged too
 */
void message_charge(struct message *m, struct message_account *a, size_t n_bytes);

/**
 * message_frame_size() - how many bytes the message starting at @data needs.
 * @data:       the bytes received so far, from the first byte of a message
 * @n_data:     how many bytes that is (may be less than a whole message)
 * @sizep:      out: the number of bytes to have before message_new_*() can be
 *              called: MARSHAL_FIXED_HEADER_SIZE (16) while @n_data < 16,
 *              then the size of the whole message
 *
 * Looks only at the 16-byte fixed header: byte order, version, the header
 * fields array length (<= 64 MiB) and the total size (<= 128 MiB), so a
 * peer claiming a huge message is refused before anything is buffered.
 *
 * Return: 0 on success; MARSHAL_E_ENDIAN, MARSHAL_E_VERSION,
 *         MARSHAL_E_ARRAY_TOO_LARGE or MARSHAL_E_TOO_LARGE if the fixed
 *         header is invalid.
 */
int message_frame_size(const void *data, size_t n_data, size_t *sizep);

/**
 * message_new_from_data() - parse and validate a message, copying its bytes.
 * @msgp:       out: the new message (reference count 1)
 * @data:       exactly one message (message_frame_size() bytes)
 * @n_data:     its size
 * @fds:        fds received with it (may be NULL if @n_fds is 0)
 * @n_fds:      their number; must equal the UNIX_FDS header field (0 if absent)
 *
 * On success the message owns @fds (it closes them when freed; the caller's
 * array itself is copied). On failure nothing is taken over.
 *
 * Return: 0 on success, -ENOMEM, or a MARSHAL_E_* code saying why the
 *         message is invalid (see marshal.h; TRUNCATED if @n_data is
 *         shorter than the message, BODY_LENGTH if it is longer).
 */
int message_new_from_data(struct message **msgp, const void *data, size_t n_data,
                          const int *fds, size_t n_fds);

/**
 * message_new_from_stream() - like message_new_from_data(), for a message
 * read from a stream socket, where the fds of several messages may arrive
 * together: the message takes the first m->n_fds (its UNIX_FDS field) of
 * @fds, which must be at least that many (as libdbus assigns fds to
 * messages in the order they arrive); the rest stay the caller's.
 * Return: as message_new_from_data(); MARSHAL_E_UNIX_FDS if fewer than
 *         UNIX_FDS fds were passed.
 */
int message_new_from_stream(struct message **msgp, const void *data, size_t n_data,
                            const int *fds, size_t n_fds);

/**
 * message_new_from_stream_buffer() - message_new_from_stream(), but take
 * over @buffer (allocated with malloc()) instead of copying it: the reader
 * hands a large message's input buffer over. On success the message frees
 * it; on failure the caller still owns it.
 */
int message_new_from_stream_buffer(struct message **msgp, void *buffer, size_t n_buffer,
                                   const int *fds, size_t n_fds);

/**
 * message_new_from_buffer() - like message_new_from_data(), but take over
 * @buffer (allocated with malloc()) instead of copying it. On success the
 * message frees it; on failure the caller still owns it.
 */
int message_new_from_buffer(struct message **msgp, void *buffer, size_t n_buffer,
                            const int *fds, size_t n_fds);

/** message_ref() - take a reference; returns @m. Accepts NULL. */
struct message *message_ref(struct message *m);

/**
 * message_unref() - drop a reference; the last one frees the message and
 * closes its fds. Accepts NULL. Returns NULL.
 */
struct message *message_unref(struct message *m);

/**
 * message_set_sender() - set the SENDER header field, replacing any the
 * sender put there.
 * @m:          the message; the caller must hold the only reference
 * @sender:     a valid bus name, NUL-terminated (the broker passes ":1.N" or
 *              "org.freedesktop.DBus")
 *
 * Rewrites only the header: an existing SENDER element and every header
 * field of an unknown code (dbus-daemon's header filtering) are removed in place,
 * the new one is placed in m->sender_field and becomes vecs[1]; the header
 * fields array length in the fixed header is patched. The body is not
 * touched; the byte order is kept. May be called again (the last call wins).
 *
 * Return: 0 on success; MARSHAL_E_BUS_NAME if @sender is not a valid bus
 *         name; MARSHAL_E_TOO_LARGE if the message would exceed 128 MiB.
 *         On failure the message is unchanged.
 */
int message_set_sender(struct message *m, const char *sender);

/**
 * message_write() - copy the wire form (m->n_wire bytes) to @buffer.
 * For tests and for transports without writev; the broker writes m->vecs.
 */
void message_write(const struct message *m, void *buffer);

/**
 * message_body_reader() - initialise @r to read the body of @m against its
 * signature (see marshal-reader.h). The reader borrows @m's storage.
 */
void message_body_reader(const struct message *m, struct marshal_reader *r);

/**
 * message_read_basic() - read a body made only of basic values, in one call.
 * @m:          the message
 * @signature:  the exact signature the body must have, of basic types only
 *              (e.g. "su" for RequestName, "s" for GetNameOwner, "" for none)
 * @...:        one pointer per value, typed as for marshal_reader_read()
 *
 * For the driver: checks the whole signature first, so on failure no
 * out-parameter is written. Strings point into the message.
 *
 * Return: 0; MARSHAL_E_TYPE if the body has another signature or @signature
 *         holds a container type.
 */
int message_read_basic(const struct message *m, const char *signature, ...);

/**
 * struct message_arg - one top-level body argument, for match rules
 * @type:       its type code ('s', 'o', 'u', 'a', ...)
 * @value:      for 's' and 'o' the string (NUL-terminated), else NULL
 * @n_value:    length of @value
 */
struct message_arg {
        char type;
        const char *value;
        size_t n_value;
};

/**
 * message_read_args() - the first @n_args top-level body arguments with the
 * string values of 's' and 'o' arguments (what match rules' argN, argNpath
 * and arg0namespace compare against).
 *
 * Return: the number of entries written to @args (min(@n_args, number of
 *         arguments in the body)).
 */
size_t message_read_args(const struct message *m, struct message_arg *args, size_t n_args);

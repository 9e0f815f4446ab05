/*
 * D-Bus message: parse once, validate once, set SENDER once, share.
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbus-proxy/marshal.h"
#include "dbus-proxy/marshal-reader.h"
#include "dbus-proxy/message.h"
#include "dbus-proxy/validate.h"
#include "util/error.h"

#define LOCAL_PATH "/org/freedesktop/DBus/Local"
#define LOCAL_INTERFACE "org.freedesktop.DBus.Local"

/* the type each known header field must have */
static const char field_types[_MARSHAL_FIELD_N] = {
        [MARSHAL_FIELD_PATH] = 'o',
        [MARSHAL_FIELD_INTERFACE] = 's',
        [MARSHAL_FIELD_MEMBER] = 's',
        [MARSHAL_FIELD_ERROR_NAME] = 's',
        [MARSHAL_FIELD_REPLY_SERIAL] = 'u',
        [MARSHAL_FIELD_DESTINATION] = 's',
        [MARSHAL_FIELD_SENDER] = 's',
        [MARSHAL_FIELD_SIGNATURE] = 'g',
        [MARSHAL_FIELD_UNIX_FDS] = 'u',
        [MARSHAL_FIELD_CONTAINER_INSTANCE] = 'o',
};

int message_frame_size(const void *data, size_t n_data, size_t *sizep)
{
        const uint8_t *d = data;
        uint64_t n_fields, n_body, size;
        bool big_endian;

        if (n_data < MARSHAL_FIXED_HEADER_SIZE) {
                *sizep = MARSHAL_FIXED_HEADER_SIZE;
                return 0;
        }

        if (d[0] != MARSHAL_LITTLE_ENDIAN && d[0] != MARSHAL_BIG_ENDIAN)
                return MARSHAL_E_ENDIAN;
        big_endian = d[0] == MARSHAL_BIG_ENDIAN;
        if (d[3] != 1)
                return MARSHAL_E_VERSION;

        n_body = marshal_load_u32(d + 4, big_endian);
        n_fields = marshal_load_u32(d + 12, big_endian);
        if (n_fields > MARSHAL_MAX_ARRAY_SIZE)
                return MARSHAL_E_ARRAY_TOO_LARGE;

        size = marshal_align(MARSHAL_FIXED_HEADER_SIZE + n_fields, 8) + n_body;
        if (size > MARSHAL_MAX_MESSAGE_SIZE)
                return MARSHAL_E_TOO_LARGE;

        *sizep = size;
        return 0;
}

/* parse one header field at *posp (8-aligned) and store it in @m */
static int message_parse_field(struct message *m, const struct validate_ctx *ctx, size_t *posp,
                               bool *seen)
{
        size_t pos = *posp, start = pos, n_sig, n;
        const char *sig, *str;
        uint8_t code;
        int r;

        if (pos >= ctx->end)
                return MARSHAL_E_TRUNCATED;
        code = ctx->data[pos++];

        /* the variant's signature: nearly always one basic type code */
        if (ctx->end - pos >= 3 && ctx->data[pos] == 1 && ctx->data[pos + 2] == 0 &&
            marshal_type_is_basic((char)ctx->data[pos + 1])) {
                sig = (const char *)ctx->data + pos + 1;
                n_sig = 1;
                pos += 3;
        } else {
                r = validate_string(ctx, &pos, 'g', &sig, &n_sig);
                if (r)
                        return r;
                r = validate_signature_single(sig, n_sig);
                if (r)
                        return r == MARSHAL_E_DEPTH ? r : MARSHAL_E_SIGNATURE;
        }

        if (code == MARSHAL_FIELD_INVALID)
                return MARSHAL_E_FIELD_TYPE;

        if (code >= _MARSHAL_FIELD_N) {
                /* unknown fields are valid and ignored; depth: a(yv) */
                m->has_dropped_fields = true;
                r = validate_value(ctx, &pos, sig, 3);
                if (r)
                        return r;
                *posp = pos;
                return 0;
        }

        if (n_sig != 1 || sig[0] != field_types[code])
                return MARSHAL_E_FIELD_TYPE;
        if (seen[code])
                return MARSHAL_E_FIELD_DUPLICATE;
        seen[code] = true;

        if (sig[0] == 'u') {
                uint32_t u;

                r = validate_padding(ctx, &pos, 4);
                if (r)
                        return r;
                if (ctx->end - pos < 4)
                        return MARSHAL_E_TRUNCATED;
                u = marshal_load_u32(ctx->data + pos, ctx->big_endian);
                pos += 4;

                if (code == MARSHAL_FIELD_REPLY_SERIAL) {
                        if (!u)
                                return MARSHAL_E_SERIAL;
                        m->has_reply_serial = true;
                        m->reply_serial = u;
                } else {
                        m->unix_fds = u;
                }
                *posp = pos;
                return 0;
        }

        /* names are checked by their own (ASCII-only) validators below */
        if (sig[0] == 's')
                r = validate_string_ascii(ctx, &pos, &str, &n);
        else
                r = validate_string(ctx, &pos, sig[0], &str, &n);
        if (r)
                return r;

        switch (code) {
        case MARSHAL_FIELD_PATH:
                if (n == strlen(LOCAL_PATH) && !memcmp(str, LOCAL_PATH, n))
                        return MARSHAL_E_LOCAL;
                m->path = str;
                m->n_path = n;
                break;
        case MARSHAL_FIELD_INTERFACE:
                if (!syntax_is_interface_n(str, n))
                        return MARSHAL_E_INTERFACE;
                if (n == strlen(LOCAL_INTERFACE) && !memcmp(str, LOCAL_INTERFACE, n))
                        return MARSHAL_E_LOCAL;
                m->interface = str;
                m->n_interface = n;
                break;
        case MARSHAL_FIELD_MEMBER:
                if (!syntax_is_member_n(str, n))
                        return MARSHAL_E_MEMBER;
                m->member = str;
                m->n_member = n;
                break;
        case MARSHAL_FIELD_ERROR_NAME:
                if (!syntax_is_error_name_n(str, n))
                        return MARSHAL_E_ERROR_NAME;
                m->error_name = str;
                m->n_error_name = n;
                break;
        case MARSHAL_FIELD_DESTINATION:
                if (!syntax_is_bus_name_n(str, n))
                        return MARSHAL_E_BUS_NAME;
                m->destination = str;
                m->n_destination = n;
                break;
        case MARSHAL_FIELD_SENDER:
                if (!syntax_is_bus_name_n(str, n))
                        return MARSHAL_E_BUS_NAME;
                m->sender = str;
                m->n_sender = n;
                m->sender_start = start;
                m->has_dropped_fields = true;
                break;
        case MARSHAL_FIELD_SIGNATURE:
                m->signature = str;
                m->n_signature = n;
                break;
        case MARSHAL_FIELD_CONTAINER_INSTANCE:
                /* validated (see marshal.h), not used */
                break;
        default:
                assert(0);
        }

        *posp = pos;
        return 0;
}

/* @n_fds: the fds received with it; @fds_prefix: it takes the first UNIX_FDS of them */
static int message_parse(struct message *m, size_t n_fds, bool fds_prefix)
{
        bool seen[_MARSHAL_FIELD_N] = {};
        struct validate_ctx ctx;
        const uint8_t *d = m->data;
        size_t frame, pos, n_fields;
        const char *sig;
        int r;

        r = message_frame_size(d, m->n_data, &frame);
        if (r)
                return r;
        if (m->n_data < MARSHAL_FIXED_HEADER_SIZE || m->n_data < frame)
                return MARSHAL_E_TRUNCATED;
        if (m->n_data > frame)
                return MARSHAL_E_BODY_LENGTH;

        m->big_endian = d[0] == MARSHAL_BIG_ENDIAN;
        m->type = d[1];
        m->flags = d[2];
        m->serial = marshal_load_u32(d + 8, m->big_endian);
        if (m->type == MARSHAL_TYPE_INVALID)
                return MARSHAL_E_MESSAGE_TYPE;
        if (!m->serial)
                return MARSHAL_E_SERIAL;

        n_fields = marshal_load_u32(d + 12, m->big_endian);
        m->fields_end = MARSHAL_FIXED_HEADER_SIZE + n_fields;
        m->body_offset = marshal_align(m->fields_end, 8);
        m->n_body = m->n_data - m->body_offset;

        /* header fields: a(yv), elements 8-aligned, none may cross the array end */
        ctx = (struct validate_ctx){
                .data = d,
                .end = m->fields_end,
                .big_endian = m->big_endian,
        };
        pos = MARSHAL_FIXED_HEADER_SIZE;
        while (pos < ctx.end) {
                size_t start;

                r = validate_padding(&ctx, &pos, 8);
                if (r)
                        return r;
                start = pos;
                r = message_parse_field(m, &ctx, &pos, seen);
                if (r)
                        return r;
                if (m->sender_start == start && seen[MARSHAL_FIELD_SENDER] && !m->sender_end)
                        m->sender_end = pos;
        }

        /* padding between the header and the body */
        ctx.end = m->body_offset;
        pos = m->fields_end;
        r = validate_padding(&ctx, &pos, 8);
        if (r)
                return r;

        switch (m->type) {
        case MARSHAL_TYPE_METHOD_CALL:
                if (!m->path || !m->member)
                        return MARSHAL_E_FIELD_MISSING;
                break;
        case MARSHAL_TYPE_METHOD_RETURN:
                if (!m->has_reply_serial)
                        return MARSHAL_E_FIELD_MISSING;
                break;
        case MARSHAL_TYPE_ERROR:
                if (!m->error_name || !m->has_reply_serial)
                        return MARSHAL_E_FIELD_MISSING;
                break;
        case MARSHAL_TYPE_SIGNAL:
                if (!m->path || !m->interface || !m->member)
                        return MARSHAL_E_FIELD_MISSING;
                break;
        default:
                /* unknown message types are kept; receivers ignore them */
                break;
        }

        if (fds_prefix ? m->unix_fds > n_fds : m->unix_fds != n_fds)
                return MARSHAL_E_UNIX_FDS;

        /* body: exactly the values of the signature */
        if (!m->signature)
                m->signature = "";
        ctx = (struct validate_ctx){
                .data = d,
                .end = m->n_data,
                .big_endian = m->big_endian,
                .n_fds = m->unix_fds,
        };
        pos = m->body_offset;
        for (sig = m->signature; *sig; sig += validate_signature_next(sig)) {
                r = validate_value(&ctx, &pos, sig, 0);
                if (r)
                        return r == MARSHAL_E_TRUNCATED ? MARSHAL_E_BODY_LENGTH : r;
        }
        if (pos != m->n_data)
                return MARSHAL_E_BODY_LENGTH;

        m->vecs[0] = (struct iovec){ .iov_base = m->data, .iov_len = m->body_offset };
        m->vecs[1] = (struct iovec){ .iov_base = m->sender_field, .iov_len = 0 };
        m->vecs[2] = (struct iovec){ .iov_base = m->data + m->body_offset, .iov_len = m->n_body };
        m->n_wire = m->n_data;
        return 0;
}

static struct message_account *message_account_unref(struct message_account *a)
{
        if (a && --a->n_refs == 0) {
                assert(a->n_bytes == 0 && a->n_fds == 0);
                free(a);
        }
        return NULL;
}

int message_account_new(struct message_account **out, void (*released)(void *userdata), void *userdata)
{
        struct message_account *a = calloc(1, sizeof(*a));

        if (!a)
                return error_origin(-ENOMEM);
        a->n_refs = 1;
        a->released = released;
        a->userdata = userdata;
        *out = a;
        return 0;
}

struct message_account *message_account_detach(struct message_account *a)
{
        if (!a)
                return NULL;
        a->released = NULL;
        a->userdata = NULL;
        return message_account_unref(a);
}

void message_charge(struct message *m, struct message_account *a, size_t n_bytes)
{
        assert(!m->account);
        ++a->n_refs;
        ++a->n_messages;
        a->n_bytes += n_bytes;
        a->n_fds += m->n_fds;
        if (a->n_bytes > a->peak_bytes)
                a->peak_bytes = a->n_bytes;
        if (a->n_fds > a->peak_fds)
                a->peak_fds = a->n_fds;
        m->account = a;
        m->n_charged_bytes = n_bytes;
}

static struct message *message_free(struct message *m)
{
        size_t i;

        if (!m)
                return NULL;

        for (i = 0; i < m->n_fds; ++i)
                if (m->fds[i] >= 0)
                        close(m->fds[i]);
        if (m->data_owned)
                free(m->data);
        if (m->account) {
                struct message_account *a = m->account;

                --a->n_messages;
                a->n_bytes -= m->n_charged_bytes;
                a->n_fds -= m->n_fds;
                if (a->released)
                        a->released(a->userdata);
                message_account_unref(a);
        }
        free(m);
        return NULL;
}

/* allocate a message with room for @n_fds fds and @n_inline bytes of data */
static struct message *message_alloc(const int *fds, size_t n_fds, size_t n_inline)
{
        size_t n_fds_room = marshal_align(n_fds * sizeof(int), 8);
        struct message *m;

        m = malloc(sizeof(*m) + n_fds_room + n_inline);
        if (!m)
                return NULL;

        /* everything but sender_field, which message_set_sender() fills */
        memset(m, 0, offsetof(struct message, sender_field));
        m->n_refs = 1;
        m->fds = (int *)(m + 1);
        /* fds are not owned until parsing succeeded: see message_disown_fds() */
        if (n_fds)
                memcpy(m->fds, fds, n_fds * sizeof(int));
        m->data = (uint8_t *)(m + 1) + n_fds_room;
        return m;
}

static int message_finish(struct message **msgp, struct message *m, size_t n_fds, bool fds_prefix)
{
        int r;

        r = message_parse(m, n_fds, fds_prefix);
        if (r) {
                /* the caller keeps its buffer and fds on failure */
                m->data_owned = false;
                m->n_fds = 0;
                message_free(m);
                return r;
        }

        m->n_fds = fds_prefix ? m->unix_fds : n_fds;
        *msgp = m;
        return 0;
}

/* a message holding a copy of @data; @fds_prefix: see message_parse() */
static int message_new_copying(struct message **msgp, const void *data, size_t n_data,
                               const int *fds, size_t n_fds, bool fds_prefix)
{
        struct message *m;

        m = message_alloc(fds, n_fds, n_data);
        if (!m)
                return error_origin(-ENOMEM);

        if (n_data)
                memcpy(m->data, data, n_data);
        m->n_data = n_data;
        return message_finish(msgp, m, n_fds, fds_prefix);
}

int message_new_from_data(struct message **msgp, const void *data, size_t n_data,
                          const int *fds, size_t n_fds)
{
        return message_new_copying(msgp, data, n_data, fds, n_fds, false);
}

int message_new_from_stream(struct message **msgp, const void *data, size_t n_data,
                            const int *fds, size_t n_fds)
{
        return message_new_copying(msgp, data, n_data, fds, n_fds, true);
}

static int message_new_owning(struct message **msgp, void *buffer, size_t n_buffer,
                              const int *fds, size_t n_fds, bool fds_prefix)
{
        struct message *m;

        m = message_alloc(fds, n_fds, 0);
        if (!m)
                return error_origin(-ENOMEM);

        m->data = buffer;
        m->n_data = n_buffer;
        m->data_owned = true;
        return message_finish(msgp, m, n_fds, fds_prefix);
}

int message_new_from_buffer(struct message **msgp, void *buffer, size_t n_buffer,
                            const int *fds, size_t n_fds)
{
        return message_new_owning(msgp, buffer, n_buffer, fds, n_fds, false);
}

int message_new_from_stream_buffer(struct message **msgp, void *buffer, size_t n_buffer,
                                   const int *fds, size_t n_fds)
{
        return message_new_owning(msgp, buffer, n_buffer, fds, n_fds, true);
}

struct message *message_ref(struct message *m)
{
        if (m)
                __atomic_add_fetch(&m->n_refs, 1, __ATOMIC_RELAXED);
        return m;
}

struct message *message_unref(struct message *m)
{
        if (m && __atomic_sub_fetch(&m->n_refs, 1, __ATOMIC_ACQ_REL) == 0)
                message_free(m);
        return NULL;
}

/* move a header field pointer that lay after a removed span of @n bytes at @start */
static void message_shift_field(const struct message *m, const char **p, size_t start, size_t n)
{
        uintptr_t v = (uintptr_t)*p, base = (uintptr_t)m->data;

        if (*p && v > base + start && v < base + m->body_offset)
                *p -= n;
}

/* end of the (validated) header field element at @start */
static size_t message_field_end(const struct message *m, size_t start)
{
        const struct validate_ctx ctx = {
                .data = m->data,
                .end = m->fields_end,
                .big_endian = m->big_endian,
        };
        size_t pos = start + 1, n_sig;
        const char *sig;

        (void)validate_string(&ctx, &pos, 'g', &sig, &n_sig);
        (void)validate_value(&ctx, &pos, sig, 3);
        return pos;
}

/* the header fields the broker drops: the sender's SENDER, unknown codes */
static bool message_field_dropped(uint8_t code)
{
        return code == MARSHAL_FIELD_SENDER || code >= _MARSHAL_FIELD_N;
}

/*
 * Walk the header fields; with @apply, remove the dropped ones in place
 * (each removed span keeps the following elements 8-aligned). Return the
 * number of bytes removed.
 */
static size_t message_filter_fields(struct message *m, bool apply)
{
        size_t pos = MARSHAL_FIXED_HEADER_SIZE, removed = 0, end = m->fields_end;

        while (pos < end) {
                size_t start = marshal_align(pos, 8), stop, span;

                if (start >= end)
                        break;
                stop = message_field_end(m, start);
                /* message_field_end() reads m->fields_end: keep it current */
                if (!message_field_dropped(m->data[start])) {
                        pos = stop;
                        continue;
                }
                span = stop < end ? marshal_align(stop, 8) - start : end - start;
                removed += span;
                if (!apply) {
                        pos = stop;
                        continue;
                }
                memmove(m->data + start, m->data + start + span, end - start - span);
                end -= span;
                m->fields_end = end;
                message_shift_field(m, &m->path, start, span);
                message_shift_field(m, &m->interface, start, span);
                message_shift_field(m, &m->member, start, span);
                message_shift_field(m, &m->error_name, start, span);
                message_shift_field(m, &m->destination, start, span);
                message_shift_field(m, &m->signature, start, span);
                pos = start;
        }
        return removed;
}

int message_set_sender(struct message *m, const char *sender)
{
        size_t n = strlen(sender), span, header, field, n_fields, wire, old_end;

        /* only the single owner may rewrite: receivers share the bytes */
        assert(__atomic_load_n(&m->n_refs, __ATOMIC_RELAXED) == 1);

        if (!syntax_is_bus_name_n(sender, n))
                return MARSHAL_E_BUS_NAME;

        /*
         * The SENDER element the peer sent, if any, and every header field
         * of an unknown code are removed in place (dbus-daemon's header
         * filtering: a receiver never sees a field the bus did not vouch
         * for).
         */
        span = m->has_dropped_fields ? message_filter_fields(m, false) : 0;

        /* header up to the padded end of the remaining fields, then SENDER */
        header = marshal_align(m->fields_end - span, 8);
        field = 8 + n + 1;
        n_fields = header - MARSHAL_FIXED_HEADER_SIZE + field;
        wire = header + marshal_align(field, 8) + m->n_body;
        if (n_fields > MARSHAL_MAX_ARRAY_SIZE || wire > MARSHAL_MAX_MESSAGE_SIZE)
                return MARSHAL_E_TOO_LARGE;

        /* nothing fails from here on */
        if (span) {
                old_end = m->fields_end;
                message_filter_fields(m, true);
                memset(m->data + m->fields_end, 0, header > old_end ? old_end - m->fields_end
                                                                      : header - m->fields_end);
                m->sender_start = 0;
                m->sender_end = 0;
                m->has_dropped_fields = false;
        }

        m->sender_field[0] = MARSHAL_FIELD_SENDER;
        m->sender_field[1] = 1;
        m->sender_field[2] = 's';
        m->sender_field[3] = 0;
        marshal_store_u32(m->sender_field + 4, n, m->big_endian);
        memcpy(m->sender_field + 8, sender, n + 1);
        /* the padding up to the next 8-byte boundary goes on the wire */
        memset(m->sender_field + field, 0, marshal_align(field, 8) - field);
        marshal_store_u32(m->data + 12, n_fields, m->big_endian);

        m->sender = (const char *)m->sender_field + 8;
        m->n_sender = n;
        m->vecs[0].iov_len = header;
        m->vecs[1].iov_len = marshal_align(field, 8);
        m->n_wire = wire;
        return 0;
}

void message_write(const struct message *m, void *buffer)
{
        uint8_t *p = buffer;
        size_t i;

        for (i = 0; i < MESSAGE_N_VECS; ++i) {
                if (m->vecs[i].iov_len)
                        memcpy(p, m->vecs[i].iov_base, m->vecs[i].iov_len);
                p += m->vecs[i].iov_len;
        }
}

void message_body_reader(const struct message *m, struct marshal_reader *r)
{
        marshal_reader_init(r, m->data, m->big_endian, m->body_offset, m->n_data, m->signature);
}

int message_read_basic(const struct message *m, const char *signature, ...)
{
        struct marshal_reader r;
        const char *p;
        va_list ap;
        int ret;

        if (strcmp(m->signature, signature))
                return MARSHAL_E_TYPE;
        for (p = signature; *p; ++p)
                if (!marshal_type_is_basic(*p))
                        return MARSHAL_E_TYPE;

        message_body_reader(m, &r);
        va_start(ap, signature);
        for (p = signature; *p; ++p) {
                ret = marshal_reader_read(&r, *p, va_arg(ap, void *));
                /* the signature matched: reading cannot fail */
                assert(!ret);
        }
        va_end(ap);
        return 0;
}

size_t message_read_args(const struct message *m, struct message_arg *args, size_t n_args)
{
        struct marshal_reader r;
        size_t i;
        char t;

        message_body_reader(m, &r);
        for (i = 0; i < n_args && (t = marshal_reader_peek(&r)); ++i) {
                args[i] = (struct message_arg){ .type = t };
                if (t == 's' || t == 'o') {
                        marshal_reader_read(&r, t, &args[i].value);
                        args[i].n_value = strlen(args[i].value);
                } else {
                        marshal_reader_skip(&r);
                }
        }

        return i;
}

/*
 * Fuzz target of the SASL server state machine (dbus-proxy/sasl.c).
 *
 * Input: byte 0 selects the configuration (bit 0: EXTERNAL, bit 1:
 * ANONYMOUS, bit 2: peer uid known, bit 3: fd passing supported, bit 4:
 * uid 0 instead of 1000); the rest is the client's byte stream.
 *
 * Checked: the stream fed at once, byte by byte and in 7-byte chunks gives
 * the same result, the same number of consumed bytes and the same replies;
 * every call makes progress once the output is drained; DONE happens right
 * after "BEGIN\r\n"; replies are well-formed lines.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/sasl.h"
#include "test/dbus-proxy/fuzz-common.h"

#define GUID "0123456789abcdef0123456789abcdef"

struct run {
        int r;
        size_t consumed;
        size_t n_out;
        char *out;
};

static void run_stream(struct run *run, uint8_t config, const uint8_t *data, size_t size, size_t chunk)
{
        struct sasl s;
        size_t pos = 0, cap = 64 * size + SASL_OUTPUT_MAX;

        sasl_init(&s, config & 3, config & 4, (config & 16) ? 0 : 1000, config & 8, GUID);
        run->r = SASL_CONTINUE;
        run->n_out = 0;
        run->out = malloc(cap);
        FUZZ_CHECK(run->out);

        while (pos < size) {
                size_t len = chunk && chunk < size - pos ? chunk : size - pos, c, n;
                const char *o;

                run->r = sasl_feed(&s, data + pos, len, &c);
                FUZZ_CHECK(c <= len);
                o = sasl_output(&s, &n);
                FUZZ_CHECK(n <= SASL_OUTPUT_MAX);
                FUZZ_CHECK(run->n_out + n <= cap);
                memcpy(run->out + run->n_out, o, n);
                run->n_out += n;
                sasl_output_advance(&s, n);
                pos += c;
                if (run->r != SASL_CONTINUE)
                        break;
                /* output was drained before this call, so it must progress */
                FUZZ_CHECK(c > 0);
        }
        run->consumed = pos;

        FUZZ_CHECK((run->r == SASL_E_FAILED) == (sasl_failure(&s) != NULL));
        if (run->r == SASL_DONE) {
                FUZZ_CHECK(run->consumed >= 8);
                FUZZ_CHECK(!memcmp(data + run->consumed - 7, "BEGIN\r\n", 7));
                FUZZ_CHECK(s.auth != SASL_AUTH_NONE);
                /* final: nothing more is consumed */
                if (pos < size) {
                        size_t c;

                        FUZZ_CHECK(sasl_feed(&s, data + pos, size - pos, &c) == SASL_DONE && c == 0);
                }
        }
}

static void check_replies(const char *out, size_t n)
{
        static const char *const replies[] = { "OK ", "REJECTED", "DATA", "ERROR ", "AGREE_UNIX_FD" };
        size_t i = 0;

        while (i < n) {
                const char *eol = memchr(out + i, '\n', n - i);
                bool known = false;

                FUZZ_CHECK(eol && eol > out + i && eol[-1] == '\r');
                for (size_t k = 0; k < sizeof(replies) / sizeof(*replies); ++k)
                        if (!strncmp(out + i, replies[k], strlen(replies[k])))
                                known = true;
                FUZZ_CHECK(known);
                for (const char *p = out + i; p < eol - 1; ++p)
                        FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e);
                i = (size_t)(eol - out) + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct run whole, bytes, chunks;

        if (size < 1)
                return 0;
        run_stream(&whole, data[0], data + 1, size - 1, 0);
        run_stream(&bytes, data[0], data + 1, size - 1, 1);
        run_stream(&chunks, data[0], data + 1, size - 1, 7);

        FUZZ_CHECK(whole.r == bytes.r && whole.r == chunks.r);
        FUZZ_CHECK(whole.consumed == bytes.consumed && whole.consumed == chunks.consumed);
        FUZZ_CHECK(whole.n_out == bytes.n_out && whole.n_out == chunks.n_out);
        FUZZ_CHECK(!memcmp(whole.out, bytes.out, whole.n_out));
        FUZZ_CHECK(!memcmp(whole.out, chunks.out, whole.n_out));
        check_replies(whole.out, whole.n_out);

        free(whole.out);
        free(bytes.out);
        free(chunks.out);
        return 0;
}

#ifndef BUS1_LIBFUZZER
int main(int argc, char **argv)
{
        return fuzz_replay_main("sasl", argc, argv);
}
#endif

/*
 * Fuzz target of the ABI commands (the engine's border).
 *
 * An input is a program: each step is one byte selecting the calling peer
 * and the command, followed by the command struct's bytes (as many as the
 * struct has; missing bytes are zero). Pointer fields are then pointed at
 * buffers of the harness (the in-process host trusts pointers as a kernel
 * trusts copy_from_user to fault), and counts between a buffer's capacity
 * and the ABI maximum are clamped to the capacity (above the maximum they
 * stay: EINVAL). Handle IDs, flags, reserved fields, sizes and everything
 * else come from the input. After each command the result must be 0 or a
 * negative errno; at the end every peer is freed and the engine must hold
 * no allocation.
 *
 * The layout of an input follows the struct sizes: when a command struct
 * grows, convert the corpus (insert the new fields' bytes, zero, at their
 * offset in every step of that command), or every later step of a program
 * is read shifted. bus1_cmd_send gaining charge_bytes/charge_fds was
 * converted so; each program's sequence of results stayed the same.
 *
 * Built normally (test-fuzz-abi), main() replays test/core/corpus-abi/ and
 * the files given as arguments, printing TAP. With clang:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DBUS1_LIBFUZZER \
 *       -include config.h -I. test/core/fuzz-abi.c core/[a-z]*.c util/rbtree.c \
 *       -o fuzz-abi && ./fuzz-abi test/core/corpus-abi
 */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"

#define U(_p) ((__u64)(uintptr_t)(_p))
#define N_PEERS 3
#define CAP 8

#define CHECK(_c) do { if (!(_c)) { fprintf(stderr, "check failed: %s\n", #_c); abort(); } } while (0)

static __u64 clamp(__u64 n, __u64 cap, __u64 max)
{
        return n > max ? n : (n > cap ? cap : n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const unsigned long cmds[] = {
                BUS1_CMD_PEER_QUERY, BUS1_CMD_PEER_RESET, BUS1_CMD_PEER_DISCONNECT, BUS1_CMD_NODE_CREATE,
                BUS1_CMD_HANDLE_TRANSFER, BUS1_CMD_HANDLE_RELEASE, BUS1_CMD_NODES_DESTROY,
                BUS1_CMD_SEND, BUS1_CMD_SEND, BUS1_CMD_RECV, BUS1_CMD_CALL,
        };
        struct core_host *host;
        struct core_engine *e;
        struct core_peer *p[N_PEERS];
        __u64 ids[CAP], ids2[CAP], errs[CAP], fds[CAP], gids[CAP];
        struct bus1_vec vecs[CAP];
        char payload[256], label[16];
        int pipefd[2], i, steps = 0;
        size_t off = 0;

        CHECK(!core_host_new(&host));
        CHECK(!core_engine_new(&e, host, NULL, NULL));
        CHECK(!pipe(pipefd));
        for (i = 0; i < N_PEERS; ++i) {
                struct bus1_cmd_peer_create c = { .uid = (__u64)i };

                CHECK(!core_peer_create(e, U(&c), &p[i]));
        }

        while (off < size && steps++ < 256) {
                uint8_t b = data[off++];
                int who = b % N_PEERS, r;
                unsigned long cmd = cmds[(b / N_PEERS) % (sizeof(cmds) / sizeof(cmds[0]))];
                union {
                        struct bus1_cmd_peer_query query;
                        struct bus1_cmd_peer_reset reset;
                        struct bus1_cmd_node_create node;
                        struct bus1_cmd_handle_transfer transfer;
                        struct bus1_cmd_handle_release release;
                        struct bus1_cmd_nodes_destroy destroy;
                        struct bus1_cmd_send send;
                        struct bus1_cmd_recv recv;
                        struct bus1_cmd_call call;
                } u;
                size_t n = _IOC_SIZE(cmd), k;

                memset(&u, 0, sizeof(u));
                if (n > size - off)
                        n = size - off;
                memcpy(&u, data + off, n);
                off += n;
                for (k = 0; k < CAP; ++k) {
                        vecs[k].ptr = U(payload);
                        vecs[k].len = ids[k] % sizeof(payload);
                        fds[k] = (__u64)pipefd[k & 1];
                }

                switch (cmd) {
                case BUS1_CMD_HANDLE_TRANSFER:
                        u.transfer.dst_peer = u.transfer.dst_peer % 4 ? U(p[u.transfer.dst_peer % N_PEERS]) : 0;
                        break;
                case BUS1_CMD_NODES_DESTROY:
                        memcpy(ids, &u.destroy, sizeof(ids) < sizeof(u.destroy) ? sizeof(ids) : sizeof(u.destroy));
                        u.destroy.ptr_ids = U(ids);
                        u.destroy.n_ids = clamp(u.destroy.n_ids, CAP, BUS1_HANDLE_MAX);
                        break;
                case BUS1_CMD_CALL:
                        u.call.timeout_ns = 1000;
                        /* fall through */
                case BUS1_CMD_SEND: {
                        struct bus1_cmd_send *s = cmd == BUS1_CMD_SEND ? &u.send : &u.call.send;

                        for (k = 0; k < CAP; ++k) {
                                ids[k] = 1 + ((b + k) % 6);
                                ids2[k] = 1 + ((b * 3 + k) % 6);
                        }
                        s->ptr_destinations = U(ids);
                        s->n_destinations = clamp(s->n_destinations, CAP, BUS1_DESTINATION_MAX);
                        s->ptr_errors = s->ptr_errors & 1 ? U(errs) : 0;
                        s->ptr_vecs = s->ptr_vecs & 1 ? U(vecs) : 0;
                        s->n_vecs = clamp(s->n_vecs, CAP, BUS1_VEC_MAX);
                        s->ptr_handles = U(ids2);
                        s->n_handles = clamp(s->n_handles, CAP, BUS1_HANDLE_MAX);
                        s->ptr_fds = U(fds);
                        s->n_fds = clamp(s->n_fds, CAP, BUS1_FD_MAX);
                        if (cmd == BUS1_CMD_SEND)
                                break;
                }
                        /* fall through */
                case BUS1_CMD_RECV: {
                        struct bus1_cmd_recv *rc = cmd == BUS1_CMD_RECV ? &u.recv : &u.call.recv;

                        rc->ptr_payload = U(payload);
                        rc->n_payload = clamp(rc->n_payload, sizeof(payload), ~0ULL);
                        rc->ptr_handles = U(ids2);
                        rc->n_handles = clamp(rc->n_handles, CAP, ~0ULL);
                        rc->ptr_fds = U(fds);
                        rc->n_fds = clamp(rc->n_fds, CAP, ~0ULL);
                        rc->ptr_gids = rc->ptr_gids & 1 ? U(gids) : 0;
                        rc->n_gids = clamp(rc->n_gids, CAP, ~0ULL);
                        rc->ptr_label = rc->ptr_label & 1 ? U(label) : 0;
                        rc->n_label = clamp(rc->n_label, sizeof(label), ~0ULL);
                        break;
                }
                default:
                        break;
                }

                r = core_peer_ioctl(p[who], cmd, cmd == BUS1_CMD_PEER_DISCONNECT ? 0 : U(&u));
                CHECK(r <= 0 && r > -4096);
                if (!r && (cmd == BUS1_CMD_RECV || cmd == BUS1_CMD_CALL)) {
                        struct bus1_cmd_recv *rc = cmd == BUS1_CMD_RECV ? &u.recv : &u.call.recv;

                        if (!(rc->flags & BUS1_RECV_PEEK))
                                for (k = 0; k < rc->n_fds && k < CAP; ++k)
                                        close((int)fds[k]);
                }
                if (cmd == BUS1_CMD_PEER_DISCONNECT && !r) {
                        struct bus1_cmd_peer_create c = { .uid = (__u64)who };

                        core_peer_free(p[who]);
                        CHECK(!core_peer_create(e, U(&c), &p[who]));
                }
        }

        for (i = 0; i < N_PEERS; ++i)
                core_peer_free(p[i]);
        core_engine_free(e);
        CHECK(host_alloc_live(host) == 0);
        core_host_free(host);
        close(pipefd[0]);
        close(pipefd[1]);
        return 0;
}

#ifndef BUS1_LIBFUZZER
static int replay(const char *path, int n)
{
        FILE *f = fopen(path, "rb");
        static uint8_t buf[1 << 16];
        size_t len;

        if (!f) {
                printf("not ok %d - %s (cannot open)\n", n, path);
                return 1;
        }
        len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        printf("ok %d - %s\n", n, path);
        return 0;
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
        const char *top = getenv("top_srcdir");
        char dir[4096], path[8192], *names[1024];
        struct dirent *de;
        size_t n = 0, i;
        int failed = 0;
        DIR *d;

        if (argc > 1) {
                printf("1..%d\n", argc - 1);
                for (i = 1; i < (size_t)argc; ++i)
                        failed |= replay(argv[i], (int)i);
                return failed;
        }
        snprintf(dir, sizeof(dir), "%s/test/core/corpus-abi", top ? top : ".");
        d = opendir(dir);
        if (!d) {
                printf("1..0 # SKIP corpus %s not found\n", dir);
                return 0;
        }
        while ((de = readdir(d)) && n < 1024)
                if (de->d_name[0] != '.')
                        names[n++] = strdup(de->d_name);
        closedir(d);
        qsort(names, n, sizeof(*names), cmp);
        printf("1..%zu\n", n);
        for (i = 0; i < n; ++i) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                failed |= replay(path, (int)i + 1);
                free(names[i]);
        }
        return failed;
}
#endif

#pragma once

/*
 * Order checker: verifies a trace of sends and receives against the global
 * order guarantees of doc/core-order.md.
 *
 * Messages are numbered 0..n_msgs-1 by the test. The trace holds, per
 * message, a real-time ticket taken before its send began and one taken
 * after it returned, and the message its sending peer had received last
 * before sending it (its "dependency"); per receiver, the sequence of
 * messages received (each receiver is fed by one thread at a time).
 *
 * order_check_run() reports:
 *  - order violations: the per-receiver sequences together with the
 *    dependency edges admit no single total order (a cycle exists; this
 *    includes every pair of receivers that see two messages in opposite
 *    orders). Counted as the number of messages left on cycles.
 *  - causality violations: a receiver got B before A although A's send
 *    returned before B's send began.
 */

#include <stddef.h>
#include <stdint.h>

#define ORDER_CHECK_NONE UINT64_MAX

struct order_check;

struct order_check_result {
        size_t n_deliveries;
        size_t order_violations;
        size_t causality_violations;
};

/** order_check_new() - a checker for @n_msgs messages and @n_receivers; 0 or -ENOMEM. */
int order_check_new(struct order_check **out, size_t n_msgs, size_t n_receivers);

/** order_check_free() - free (NULL is fine); returns NULL. */
struct order_check *order_check_free(struct order_check *oc);

/** order_check_send_begin() - record that the send of @msg begins; @dep: see above. */
void order_check_send_begin(struct order_check *oc, uint64_t msg, uint64_t dep);

/** order_check_send_end() - record that the send of @msg returned. */
void order_check_send_end(struct order_check *oc, uint64_t msg);

/** order_check_recv() - @receiver got @msg; 0 or -ENOMEM. */
int order_check_recv(struct order_check *oc, size_t receiver, uint64_t msg);

/** order_check_run() - check the trace; 0 or -ENOMEM. */
int order_check_run(struct order_check *oc, struct order_check_result *out);

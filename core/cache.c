/*
 * core/cache: a small cache of freed objects of one size class
 *
 * Every message costs the send path a message and a payload allocation and
 * the receive path their frees. A cache keeps freed objects of its size
 * class (c->size bytes) and hands them out again, so a stream of messages,
 * also one with many in flight (the broker's pipelined calls keep 64), does
 * not go through the host allocator: one object in a lock-free hot slot
 * (what a strict send/receive alternation needs) and up to CORE_CACHE_MAX
 * more on a stack under a lock.
 *
 * Invariants:
 *  - every object of a class, cached or in use, was allocated with
 *    host_alloc(c->size): a request of at most c->size bytes is served at
 *    class size, larger ones exactly (and never cached); the caller frees
 *    with the size it asked for, so both sides pick the same path;
 *  - a cached object counts as a live host allocation until the cache is
 *    deinitialised (with its engine) or the object is handed out again;
 *  - while cached, an object is poisoned (host_poison()), so a memory
 *    checker reports any use of an object after it was freed; it is
 *    poisoned before it is pushed and unpoisoned after it is popped, so no
 *    other thread can own it in between.
 *
 * Locking: c->lock protects c->n and c->objs. It is innermost: nothing is
 * locked while holding it, and it may be taken with any other lock held.
 * c->hot is atomic: taken by exchanging it with NULL, filled by a
 * compare-and-exchange from NULL. Exactly one party owns an object at a
 * time (the slot, or the thread that took it out), and no thread looks into
 * an object it does not own, so reusing the slot has no ABA hazard; the
 * exchanges are acq_rel, so an object's last use happens before its next
 * owner's first.
 */

#include "core/internal.h"

void core_cache_init(struct core_cache *c, size_t size)
{
        c->size = size;
        c->hot = NULL;
        c->n = 0;
        host_lock_init(&c->lock);
}

void core_cache_deinit(struct core_host *h, struct core_cache *c)
{
        if (c->hot) {
                host_unpoison(c->hot, c->size);
                host_free(h, c->hot);
                c->hot = NULL;
        }
        while (c->n) {
                void *p = c->objs[--c->n];

                host_unpoison(p, c->size);
                host_free(h, p);
        }
        host_lock_deinit(&c->lock);
}

void *core_cache_alloc(struct core_host *h, struct core_cache *c, size_t size)
{
        void *p = NULL;

        if (size > c->size)
                return host_alloc(h, size);
        if (__atomic_load_n(&c->hot, __ATOMIC_RELAXED))
                p = __atomic_exchange_n(&c->hot, NULL, __ATOMIC_ACQ_REL);
        if (!p) {
                host_lock_lock(&c->lock);
                if (c->n)
                        p = c->objs[--c->n];
                host_lock_unlock(&c->lock);
                if (!p)
                        return host_alloc(h, c->size);
        }
        host_unpoison(p, c->size);
        host_memset(p, 0, size);
        return p;
}

void core_cache_free(struct core_host *h, struct core_cache *c, void *p, size_t size)
{
        if (!p)
                return;
        if (size <= c->size) {
                void *empty = NULL;

                host_poison(p, c->size);
                if (!__atomic_load_n(&c->hot, __ATOMIC_RELAXED) &&
                    __atomic_compare_exchange_n(&c->hot, &empty, p, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                        return;
                host_lock_lock(&c->lock);
                if (c->n < CORE_CACHE_MAX) {
                        c->objs[c->n++] = p;
                        host_lock_unlock(&c->lock);
                        return;
                }
                host_lock_unlock(&c->lock);
                host_unpoison(p, c->size);
        }
        host_free(h, p);
}

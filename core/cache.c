/*
 * core/cache: a small cache of freed objects of one size class
 *
 * Every message costs the send path a message and a payload allocation and
 * the receive path their frees. A cache keeps up to CORE_CACHE_SLOTS freed
 * objects of its size class (c->size bytes) and hands them out again, so a
 * steady stream of messages does not go through the host allocator.
 *
 * Invariants:
 *  - every object of a class, cached or in use, was allocated with
 *    host_alloc(c->size): a request of at most c->size bytes is served at
 *    class size, larger ones exactly (and never cached); the caller frees
 *    with the size it asked for, so both sides pick the same path;
 *  - a cached object counts as a live host allocation until the cache is
 *    deinitialised (with its engine) or the object is handed out again;
 *  - while cached, an object is poisoned (host_poison()), so a memory
 *    checker reports any use of an object after it was freed.
 *
 * Locking: none. Each slot is an atomic pointer, NULL or one cached object.
 * Allocating takes an object by exchanging a non-empty slot with NULL;
 * freeing parks it by a compare-and-exchange of an empty slot. Exactly one
 * party owns an object at a time (a slot, or the thread that took it out),
 * and no thread dereferences an object before it owns it, so slot reuse has
 * no ABA hazard. The exchanges are acq_rel: the last use of an object
 * happens before its next owner's first use.
 */

#include "core/internal.h"

void core_cache_init(struct core_cache *c, size_t size)
{
        unsigned int i;

        c->size = size;
        for (i = 0; i < CORE_CACHE_SLOTS; ++i)
                c->slots[i] = NULL;
}

void core_cache_deinit(struct core_host *h, struct core_cache *c)
{
        unsigned int i;

        for (i = 0; i < CORE_CACHE_SLOTS; ++i) {
                if (c->slots[i]) {
                        host_unpoison(c->slots[i], c->size);
                        host_free(h, c->slots[i]);
                        c->slots[i] = NULL;
                }
        }
}

void *core_cache_alloc(struct core_host *h, struct core_cache *c, size_t size)
{
        unsigned int i;
        void *p;

        if (size > c->size)
                return host_alloc(h, size);
        for (i = 0; i < CORE_CACHE_SLOTS; ++i) {
                if (!host_atomic_peek(&c->slots[i]))
                        continue;
                p = host_atomic_xchg(&c->slots[i], NULL);
                if (p) {
                        host_unpoison(p, c->size);
                        host_memset(p, 0, size);
                        return p;
                }
        }
        return host_alloc(h, c->size);
}

void core_cache_free(struct core_host *h, struct core_cache *c, void *p, size_t size)
{
        unsigned int i;
        void *empty;

        if (!p)
                return;
        if (size <= c->size) {
                host_poison(p, c->size);
                for (i = 0; i < CORE_CACHE_SLOTS; ++i) {
                        if (host_atomic_peek(&c->slots[i]))
                                continue;
                        empty = NULL;
                        if (host_atomic_cmpxchg(&c->slots[i], &empty, p))
                                return;
                }
                host_unpoison(p, c->size);
        }
        host_free(h, p);
}

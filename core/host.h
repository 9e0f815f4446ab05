#pragma once

/*
 * Host interface of the core engine
 *
 * Everything the engine needs from the world outside of it: memory, locks,
 * wait/wake, a clock, copies from/to the caller's memory, file objects and an
 * error-trace hook. The userspace host (core/host-user.c) implements it with
 * libc and futexes; a kernel host implements the same names with kernel
 * APIs. No other core/ file uses libc.
 *
 * A `struct core_host` is one host context. It carries the allocation
 * failure injection counter and the trace hook, so several engines (each
 * with its own host) can live in one process and be tested independently.
 *
 * Locks and wait queues are embedded in engine objects; their storage is
 * opaque and large enough for any host (the userspace host checks at compile
 * time that its futex words fit).
 */

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

struct core_host;

struct host_lock {
        _Alignas(16) unsigned char opaque[64];
};

struct host_wait {
        _Alignas(16) unsigned char opaque[64];
};

/* A file object held by the engine (an open file description). */
struct host_file;

/* Built-ins of the compiler, not libc: usable in every host. */
#define host_memcpy(_d, _s, _n) __builtin_memcpy((_d), (_s), (_n))
#define host_memset(_d, _c, _n) __builtin_memset((_d), (_c), (_n))
#define host_atomic_load(_p) __atomic_load_n((_p), __ATOMIC_ACQUIRE)
#define host_atomic_store(_p, _v) __atomic_store_n((_p), (_v), __ATOMIC_RELEASE)
#define host_atomic_inc(_p) __atomic_add_fetch((_p), 1, __ATOMIC_ACQ_REL)
#define host_atomic_dec(_p) __atomic_sub_fetch((_p), 1, __ATOMIC_ACQ_REL)

/**
 * core_host_new() - create a host context
 * @out:        the new context on success
 *
 * Return: 0, or -ENOMEM.
 */
int core_host_new(struct core_host **out);

/** core_host_free() - free a host context (NULL is fine); returns NULL. */
struct core_host *core_host_free(struct core_host *h);

/**
 * host_alloc() - allocate @size zeroed bytes
 *
 * Return: the memory, or NULL (out of memory, or an injected failure).
 */
void *host_alloc(struct core_host *h, size_t size);

/** host_free() - free memory from host_alloc() (NULL is fine); returns NULL. */
void *host_free(struct core_host *h, void *p);

/**
 * host_poison() - mark @n bytes at @p as off limits
 *
 * For memory the engine keeps but must not touch (a freed object waiting in
 * a cache): a memory checker of the host (ASan in the userspace host)
 * reports any access until host_unpoison(). Without one, both are no-ops.
 */
void host_poison(const void *p, size_t n);

/** host_unpoison() - undo host_poison() of @n bytes at @p. */
void host_unpoison(const void *p, size_t n);

/**
 * host_alloc_fail_at() - inject an allocation failure
 * @k:          0 disables injection; k >= 1 makes the k-th allocation from
 *              now on fail (once)
 *
 * Return: the number of allocations made since the previous call.
 */
unsigned long host_alloc_fail_at(struct core_host *h, unsigned long k);

/** host_alloc_live() - number of live allocations of @h (leak checks). */
long host_alloc_live(struct core_host *h);

/*
 * Locks: sleeping mutual exclusion, not recursive. init/deinit never fail;
 * deinit requires the lock to be unlocked and unused; lock blocks until the
 * lock is taken; unlock must be called by the holder.
 */
void host_lock_init(struct host_lock *l);
void host_lock_deinit(struct host_lock *l);
void host_lock_lock(struct host_lock *l);
void host_lock_unlock(struct host_lock *l);

/* Wait queues: init/deinit never fail; deinit requires no waiters. */
void host_wait_init(struct host_wait *w);
void host_wait_deinit(struct host_wait *w);

/**
 * host_wait_wait() - wait on @w, releasing @l while waiting
 * @deadline_ns: absolute host_now_ns() deadline; 0 waits without one
 *
 * @l must be held; it is held again on return. Wakeups may be spurious.
 *
 * Return: 0, or -ETIMEDOUT when the deadline passed.
 */
int host_wait_wait(struct host_wait *w, struct host_lock *l, __u64 deadline_ns);

/** host_wait_wake_all() - wake every waiter of @w. */
void host_wait_wake_all(struct host_wait *w);

/** host_now_ns() - a monotonic clock in nanoseconds. */
__u64 host_now_ns(void);

/**
 * host_copy_from() - copy @n bytes from the caller's address @src
 *
 * Return: 0, or -EFAULT.
 */
int host_copy_from(void *dst, __u64 src, size_t n);

/**
 * host_copy_to() - copy @n bytes to the caller's address @dst
 *
 * Return: 0, or -EFAULT.
 */
int host_copy_to(__u64 dst, const void *src, size_t n);

/**
 * host_file_get() - take a reference to the file behind the caller's @fd
 *
 * Return: 0, -EBADF (not an open fd), -ENOMEM, or -EMFILE.
 */
int host_file_get(struct core_host *h, __u64 fd, struct host_file **out);

/** host_file_put() - drop a reference from host_file_get(); returns NULL. */
struct host_file *host_file_put(struct core_host *h, struct host_file *f);

/**
 * host_file_install() - give the caller a new fd for @f (@f stays held)
 *
 * Return: 0, or -EMFILE.
 */
int host_file_install(struct core_host *h, struct host_file *f, __u64 *fd_out);

/** host_file_uninstall() - undo host_file_install() of @fd. */
void host_file_uninstall(struct core_host *h, __u64 fd);

/**
 * host_trace() - the error-trace hook
 *
 * Called where the engine originates an unexpected error (negative errno).
 * The userspace host forwards it to a callback set with host_set_trace().
 *
 * Return: @r.
 */
int host_trace(struct core_host *h, int r, const char *func, const char *file, int line);

/** host_set_trace() - set the callback behind host_trace() (NULL: none). */
void host_set_trace(struct core_host *h,
                    void (*fn)(void *userdata, int r, const char *func, const char *file, int line),
                    void *userdata);

#define CORE_TRACE(_h, _r) host_trace((_h), (_r), __func__, __FILE__, __LINE__)

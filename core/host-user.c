/*
 * Userspace host of the core engine: libc and futexes.
 *
 * The only file of core/ that uses libc. "Caller memory" is this process's
 * memory; a file object is a dup() of the caller's fd, installed by another
 * dup().
 *
 * Locking: struct core_host has no lock; its counters are atomics.
 */

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include "core/host.h"

#if defined(__SANITIZE_ADDRESS__)
#define HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_ASAN 1
#endif
#endif
#ifdef HOST_ASAN
#include <sanitizer/asan_interface.h>
#endif

struct core_host {
        unsigned long n_allocs;         /* atomic: allocations since the last host_alloc_fail_at() */
        unsigned long fail_at;          /* atomic: 0 or the allocation number that fails */
        long n_live;                    /* atomic: live allocations */
        void (*trace_fn)(void *userdata, int r, const char *func, const char *file, int line);
        void *trace_userdata;
};

struct host_file {
        int fd;
};


int core_host_new(struct core_host **out)
{
        struct core_host *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        *out = h;
        return 0;
}

struct core_host *core_host_free(struct core_host *h)
{
        free(h);
        return NULL;
}

void *host_alloc(struct core_host *h, size_t size)
{
        unsigned long n = __atomic_add_fetch(&h->n_allocs, 1, __ATOMIC_RELAXED);
        unsigned long k = __atomic_load_n(&h->fail_at, __ATOMIC_RELAXED);
        void *p;

        if (k && n == k)
                return NULL;
        /*
         * malloc() and memset() rather than calloc(): glibc's calloc()
         * bypasses its per-thread cache (tcache) and takes the arena path on
         * every call, which costs the engine's hot paths about 100
         * instructions per allocation. The empty asm keeps the compiler
         * from folding the pair back into calloc().
         */
        p = malloc(size);
        if (p) {
                __asm__ volatile("" : : "r"(p) : "memory");
                memset(p, 0, size);
                __atomic_add_fetch(&h->n_live, 1, __ATOMIC_RELAXED);
        }
        return p;
}

void *host_free(struct core_host *h, void *p)
{
        if (p) {
                __atomic_sub_fetch(&h->n_live, 1, __ATOMIC_RELAXED);
                free(p);
        }
        return NULL;
}

void host_poison(const void *p, size_t n)
{
#ifdef HOST_ASAN
        ASAN_POISON_MEMORY_REGION(p, n);
#else
        (void)p;
        (void)n;
#endif
}

void host_unpoison(const void *p, size_t n)
{
#ifdef HOST_ASAN
        ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
        (void)p;
        (void)n;
#endif
}

unsigned long host_alloc_fail_at(struct core_host *h, unsigned long k)
{
        __atomic_store_n(&h->fail_at, k, __ATOMIC_RELAXED);
        return __atomic_exchange_n(&h->n_allocs, 0, __ATOMIC_RELAXED);
}

long host_alloc_live(struct core_host *h)
{
        return __atomic_load_n(&h->n_live, __ATOMIC_RELAXED);
}

/*
 * Locks and wait queues on futexes rather than pthread mutexes and
 * condition variables: the engine takes about eight uncontended locks per
 * message, and a compare-and-exchange to take and an exchange to drop a
 * lock cost a fraction of pthread_mutex_lock()/unlock(), which dispatch on
 * the mutex type and keep owner and user counts.
 *
 * Lock word: 0 unlocked, 1 locked, 2 locked and maybe contended (someone
 * sleeps or is about to). Taking: 0 -> 1 by compare-and-exchange (acquire);
 * otherwise set it to 2 by exchange and sleep while the old value was not 0.
 * Dropping: exchange with 0 (release); if it was 2, wake one sleeper (which
 * takes the lock as 2, so the next unlock wakes the next sleeper). This is
 * the well-known three-state futex mutex; it is not recursive and has no
 * owner checks, as the interface requires.
 *
 * Wait queue: a sequence number, bumped by every wake. A waiter reads it
 * while it still holds the lock, then sleeps only while it is unchanged; a
 * wake after the waiter dropped the lock changes it, so no wake is lost.
 * n_waiters (seq_cst with the bump) lets a wake without sleepers skip the
 * system call: either the waker sees the waiter counted, or the waiter
 * reads the bumped sequence number and does not sleep.
 */
struct host_futex_lock {
        int v;                          /* atomic: 0, 1 or 2 (see above) */
};

struct host_futex_wait {
        unsigned int seq;               /* atomic */
        unsigned int n_waiters;         /* atomic */
};

_Static_assert(sizeof(struct host_futex_lock) <= sizeof(struct host_lock), "host_lock too small");
_Static_assert(sizeof(struct host_futex_wait) <= sizeof(struct host_wait), "host_wait too small");

static long host_futex(void *addr, int op, unsigned int val, const struct timespec *ts)
{
        return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

void host_lock_init(struct host_lock *l)
{
        ((struct host_futex_lock *)l->opaque)->v = 0;
}

void host_lock_deinit(struct host_lock *l)
{
        (void)l;
}

void host_lock_lock(struct host_lock *l)
{
        struct host_futex_lock *f = (struct host_futex_lock *)l->opaque;
        int c = 0;

        if (__atomic_compare_exchange_n(&f->v, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return;
        if (c != 2)
                c = __atomic_exchange_n(&f->v, 2, __ATOMIC_ACQUIRE);
        while (c != 0) {
                host_futex(&f->v, FUTEX_WAIT_BITSET, 2, NULL);
                c = __atomic_exchange_n(&f->v, 2, __ATOMIC_ACQUIRE);
        }
}

void host_lock_unlock(struct host_lock *l)
{
        struct host_futex_lock *f = (struct host_futex_lock *)l->opaque;

        if (__atomic_exchange_n(&f->v, 0, __ATOMIC_RELEASE) == 2)
                host_futex(&f->v, FUTEX_WAKE, 1, NULL);
}

void host_wait_init(struct host_wait *w)
{
        struct host_futex_wait *f = (struct host_futex_wait *)w->opaque;

        f->seq = 0;
        f->n_waiters = 0;
}

void host_wait_deinit(struct host_wait *w)
{
        (void)w;
}

int host_wait_wait(struct host_wait *w, struct host_lock *l, __u64 deadline_ns)
{
        struct host_futex_wait *f = (struct host_futex_wait *)w->opaque;
        struct timespec ts, *tsp = NULL;
        unsigned int seq;
        long r;

        if (deadline_ns) {
                ts.tv_sec = deadline_ns / 1000000000ULL;
                ts.tv_nsec = deadline_ns % 1000000000ULL;
                tsp = &ts;
        }
        __atomic_add_fetch(&f->n_waiters, 1, __ATOMIC_SEQ_CST);
        seq = __atomic_load_n(&f->seq, __ATOMIC_SEQ_CST);
        host_lock_unlock(l);
        /* FUTEX_WAIT_BITSET: an absolute CLOCK_MONOTONIC deadline, as host_now_ns() */
        r = host_futex(&f->seq, FUTEX_WAIT_BITSET, seq, tsp);
        if (r < 0 && errno == ETIMEDOUT)
                r = -ETIMEDOUT;
        else
                r = 0;
        __atomic_sub_fetch(&f->n_waiters, 1, __ATOMIC_SEQ_CST);
        host_lock_lock(l);
        return (int)r;
}

void host_wait_wake_all(struct host_wait *w)
{
        struct host_futex_wait *f = (struct host_futex_wait *)w->opaque;

        __atomic_add_fetch(&f->seq, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&f->n_waiters, __ATOMIC_SEQ_CST))
                host_futex(&f->seq, FUTEX_WAKE, 0x7fffffff, NULL);
}

__u64 host_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

int host_copy_from(void *dst, __u64 src, size_t n)
{
        if (!n)
                return 0;
        if (!src)
                return -EFAULT;
        memcpy(dst, (const void *)(unsigned long)src, n);
        return 0;
}

int host_copy_to(__u64 dst, const void *src, size_t n)
{
        if (!n)
                return 0;
        if (!dst)
                return -EFAULT;
        memcpy((void *)(unsigned long)dst, src, n);
        return 0;
}

int host_file_get(struct core_host *h, __u64 fd, struct host_file **out)
{
        struct host_file *f;

        if (fd > 0x7fffffff || fcntl((int)fd, F_GETFD) < 0)
                return -EBADF;
        f = host_alloc(h, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
        if (f->fd < 0) {
                int r = errno == EBADF ? -EBADF : -EMFILE;

                host_free(h, f);
                return r;
        }
        *out = f;
        return 0;
}

struct host_file *host_file_put(struct core_host *h, struct host_file *f)
{
        if (f) {
                close(f->fd);
                host_free(h, f);
        }
        return NULL;
}

int host_file_install(struct core_host *h, struct host_file *f, __u64 *fd_out)
{
        int fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 3);

        if (fd < 0)
                return -EMFILE;
        *fd_out = (__u64)fd;
        return 0;
}

void host_file_uninstall(struct core_host *h, __u64 fd)
{
        close((int)fd);
}

int host_trace(struct core_host *h, int r, const char *func, const char *file, int line)
{
        if (h->trace_fn)
                h->trace_fn(h->trace_userdata, r, func, file, line);
        return r;
}

void host_set_trace(struct core_host *h,
                    void (*fn)(void *userdata, int r, const char *func, const char *file, int line),
                    void *userdata)
{
        h->trace_fn = fn;
        h->trace_userdata = userdata;
}

/*
 * The broker's event loop. See loop.h.
 *
 * Invariants:
 *  - an io source is in the epoll set iff s->enabled; its epoll data is the
 *    source itself; the loop's signalfd is in the set with data == loop;
 *  - a time source is in loop->timers iff s->usec != LOOP_TIME_OFF, ordered
 *    by (usec, seq); seq is unique, so no two nodes compare equal;
 *  - loop->tfd (in the epoll set, data == &loop->tfd) is armed for
 *    loop->tfd_at, or disarmed (it fired) if that is LOOP_TIME_OFF; before
 *    each wait it is re-armed if the first timer's deadline differs (it is
 *    left armed when the tree empties: a spurious wakeup, not a syscall per
 *    change), so a timer that is due has made the tfd fire;
 *  - loop->signals[signo] is the source of each signal in loop->sigmask;
 *  - while an iteration dispatches, loop->batch[loop->batch_i + 1 ..
 *    loop->batch_n) are its pending events: a source freed meanwhile has
 *    its pending entries cleared (data.ptr = NULL) before it goes.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "dbus-proxy/loop.h"
#include "util/error.h"
#include "util/log.h"
#include "util/rbtree.h"

#define LOOP_BATCH 64
#define LOOP_NSIG 65

enum loop_kind {
        LOOP_IO,
        LOOP_TIME,
        LOOP_SIGNAL,
};

struct loop_source {
        struct loop *loop;
        enum loop_kind kind;
        void *userdata;
        union {
                loop_io_fn io;
                loop_time_fn time;
                loop_signal_fn signal;
        } fn;
        /* LOOP_IO */
        int fd;
        uint32_t events;
        bool enabled;
        /* LOOP_TIME */
        struct rb_node rb;
        uint64_t usec;
        uint64_t seq;
        /* LOOP_SIGNAL */
        int signo;
};

struct loop {
        int epfd;
        int sigfd;                      /* -1 until the first signal source */
        sigset_t sigmask;
        struct loop_source *signals[LOOP_NSIG];
        struct rb_root timers;
        uint64_t next_seq;
        int tfd;                        /* CLOCK_MONOTONIC timerfd for the first deadline */
        uint64_t tfd_at;                /* what tfd is armed for; LOOP_TIME_OFF: disarmed */
        uint64_t now;                   /* 0: not read in this iteration */
        loop_post_fn post;
        void *post_userdata;
        struct epoll_event batch[LOOP_BATCH];
        int batch_i, batch_n;
        bool exiting;
        int exit_code;
};

int loop_new(struct loop **loopp)
{
        struct epoll_event ev = { .events = EPOLLIN };
        struct loop *loop;
        int r;

        loop = calloc(1, sizeof(*loop));
        if (!loop)
                return error_origin(-ENOMEM);
        loop->sigfd = -1;
        sigemptyset(&loop->sigmask);
        rb_root_init(&loop->timers);
        loop->tfd_at = LOOP_TIME_OFF;
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        loop->tfd = loop->epfd < 0 ? -1 : timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        ev.data.ptr = &loop->tfd;
        /* errno is that of the first call that failed */
        if (loop->tfd < 0 || epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->tfd, &ev) < 0) {
                r = error_origin(-errno);
                if (loop->tfd >= 0)
                        close(loop->tfd);
                if (loop->epfd >= 0)
                        close(loop->epfd);
                free(loop);
                return r;
        }
        *loopp = loop;
        return 0;
}

struct loop *loop_free(struct loop *loop)
{
        if (!loop)
                return NULL;
        if (loop->sigfd >= 0)
                close(loop->sigfd);
        close(loop->tfd);
        close(loop->epfd);
        free(loop);
        return NULL;
}

static struct loop_source *loop_source_new(struct loop *loop, enum loop_kind kind, void *userdata)
{
        struct loop_source *s;

        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->loop = loop;
        s->kind = kind;
        s->userdata = userdata;
        s->fd = -1;
        s->usec = LOOP_TIME_OFF;
        rb_node_init(&s->rb);
        return s;
}

/* no event of @ptr is dispatched in what is left of this iteration */
static void loop_forget_pending(struct loop *loop, void *ptr)
{
        for (int i = loop->batch_i + 1; i < loop->batch_n; ++i)
                if (loop->batch[i].data.ptr == ptr)
                        loop->batch[i].data.ptr = NULL;
}

static int loop_epoll(struct loop_source *s, int op)
{
        struct epoll_event ev = { .events = s->events, .data.ptr = s };

        if (epoll_ctl(s->loop->epfd, op, s->fd, &ev) < 0)
                return error_origin(-errno);
        return 0;
}

int loop_add_io(struct loop *loop, struct loop_source **sourcep, int fd, uint32_t events, loop_io_fn fn,
                void *userdata)
{
        struct loop_source *s;
        int r;

        s = loop_source_new(loop, LOOP_IO, userdata);
        if (!s)
                return error_origin(-ENOMEM);
        s->fn.io = fn;
        s->fd = fd;
        s->events = events;
        r = loop_epoll(s, EPOLL_CTL_ADD);
        if (r < 0) {
                free(s);
                return error_trace(r);
        }
        s->enabled = true;
        *sourcep = s;
        return 0;
}

int loop_source_set_io_events(struct loop_source *s, uint32_t events)
{
        uint32_t old = s->events;
        int r;

        if (events == old)
                return 0;
        s->events = events;
        if (!s->enabled)
                return 0;
        r = loop_epoll(s, EPOLL_CTL_MOD);
        if (r < 0)
                s->events = old;
        return error_trace(r);
}

int loop_source_set_enabled(struct loop_source *s, bool enabled)
{
        int r;

        if (s->kind != LOOP_IO)
                return error_origin(-EINVAL);
        if (enabled == s->enabled)
                return 0;
        r = loop_epoll(s, enabled ? EPOLL_CTL_ADD : EPOLL_CTL_DEL);
        if (r < 0)
                return error_trace(r);
        s->enabled = enabled;
        if (!enabled)
                loop_forget_pending(s->loop, s);
        return 0;
}

static int loop_timer_compare(const void *key, const struct rb_node *node)
{
        const struct loop_source *a = key, *b = rb_entry(node, struct loop_source, rb);

        if (a->usec != b->usec)
                return a->usec < b->usec ? -1 : 1;
        return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void loop_source_set_time(struct loop_source *s, uint64_t usec)
{
        struct loop *loop = s->loop;

        if (rb_node_is_linked(&s->rb))
                rb_remove(&loop->timers, &s->rb);
        s->usec = usec;
        if (usec == LOOP_TIME_OFF)
                return;
        s->seq = loop->next_seq++;
        rb_insert(&loop->timers, &s->rb, s, loop_timer_compare);
}

uint64_t loop_source_get_time(const struct loop_source *s)
{
        return s->usec;
}

int loop_add_time(struct loop *loop, struct loop_source **sourcep, uint64_t usec, loop_time_fn fn,
                  void *userdata)
{
        struct loop_source *s;

        s = loop_source_new(loop, LOOP_TIME, userdata);
        if (!s)
                return error_origin(-ENOMEM);
        s->fn.time = fn;
        loop_source_set_time(s, usec);
        *sourcep = s;
        return 0;
}

int loop_add_time_relative(struct loop *loop, struct loop_source **sourcep, uint64_t usec, loop_time_fn fn,
                           void *userdata)
{
        uint64_t now = loop_now(loop);

        return loop_add_time(loop, sourcep, usec >= LOOP_TIME_OFF - now ? LOOP_TIME_OFF - 1 : now + usec, fn,
                             userdata);
}

int loop_add_signal(struct loop *loop, struct loop_source **sourcep, int signo, loop_signal_fn fn,
                    void *userdata)
{
        struct loop_source *s;
        sigset_t mask;
        int fd;

        if (signo <= 0 || signo >= LOOP_NSIG)
                return error_origin(-EINVAL);
        if (loop->signals[signo])
                return error_origin(-EBUSY);
        s = loop_source_new(loop, LOOP_SIGNAL, userdata);
        if (!s)
                return error_origin(-ENOMEM);
        s->fn.signal = fn;
        s->signo = signo;

        mask = loop->sigmask;
        sigaddset(&mask, signo);
        fd = signalfd(loop->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0) {
                int r = -errno;

                free(s);
                return error_origin(r);
        }
        if (loop->sigfd < 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = loop };

                if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        int r = -errno;

                        close(fd);
                        free(s);
                        return error_origin(r);
                }
                loop->sigfd = fd;
        }
        loop->sigmask = mask;
        loop->signals[signo] = s;
        *sourcep = s;
        return 0;
}

struct loop_source *loop_source_free(struct loop_source *s)
{
        struct loop *loop;

        if (!s)
                return NULL;
        loop = s->loop;
        switch (s->kind) {
        case LOOP_IO:
                /* the fd may live on elsewhere (a forked child): take it out explicitly */
                if (s->enabled && epoll_ctl(loop->epfd, EPOLL_CTL_DEL, s->fd, NULL) < 0)
                        log_warn("cannot remove fd %d from the event loop: %m", s->fd);
                loop_forget_pending(loop, s);
                break;
        case LOOP_TIME:
                if (rb_node_is_linked(&s->rb))
                        rb_remove(&loop->timers, &s->rb);
                break;
        case LOOP_SIGNAL:
                sigdelset(&loop->sigmask, s->signo);
                loop->signals[s->signo] = NULL;
                if (signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC) < 0)
                        log_warn("cannot update the signalfd: %m");
                break;
        }
        free(s);
        return NULL;
}

void loop_set_post(struct loop *loop, loop_post_fn fn, void *userdata)
{
        loop->post = fn;
        loop->post_userdata = userdata;
}

uint64_t loop_now(struct loop *loop)
{
        struct timespec ts;

        if (loop->now == 0) {
                clock_gettime(CLOCK_MONOTONIC, &ts);
                loop->now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
                if (loop->now == 0)
                        loop->now = 1;
        }
        return loop->now;
}

void loop_exit(struct loop *loop, int code)
{
        loop->exiting = true;
        loop->exit_code = code;
}

static void loop_report(int r, const char *what)
{
        if (r < 0) {
                error_trace(r);
                error_trace_log(what);
        }
}

static void loop_dispatch_signals(struct loop *loop)
{
        struct signalfd_siginfo si;

        /* bounded: at most one delivery per signal number is pending at a time for standard signals */
        for (unsigned int i = 0; i < LOOP_NSIG; ++i) {
                ssize_t k = read(loop->sigfd, &si, sizeof(si));
                struct loop_source *s;

                if (k != (ssize_t)sizeof(si))
                        return;
                s = si.ssi_signo < LOOP_NSIG ? loop->signals[si.ssi_signo] : NULL;
                if (s)
                        loop_report(s->fn.signal(s, &si, s->userdata), "signal handler failed");
        }
}

static int loop_dispatch_timers(struct loop *loop)
{
        uint64_t now, first_seq = loop->next_seq;
        int n = 0;

        now = loop_now(loop);
        for (;;) {
                struct rb_node *node = rb_first(&loop->timers);
                struct loop_source *s;
                uint64_t usec;

                if (!node)
                        break;
                s = rb_entry(node, struct loop_source, rb);
                /* a timer (re-)armed by a callback of this round waits for the next */
                if (s->usec > now || s->seq >= first_seq)
                        break;
                usec = s->usec;
                loop_source_set_time(s, LOOP_TIME_OFF);
                loop_report(s->fn.time(s, usec, s->userdata), "timer failed");
                ++n;
        }
        return n;
}

/* arm the timerfd for the first deadline if it is armed for something else */
static void loop_arm_timerfd(struct loop *loop)
{
        struct rb_node *first = rb_first(&loop->timers);
        struct itimerspec its = {};
        uint64_t at;

        if (!first)
                return;
        at = rb_entry(first, struct loop_source, rb)->usec;
        if (at == loop->tfd_at)
                return;
        /* 0 would disarm: a deadline that early is simply due */
        its.it_value.tv_sec = (time_t)(at / 1000000);
        its.it_value.tv_nsec = (long)(at % 1000000) * 1000;
        if (at == 0)
                its.it_value.tv_nsec = 1;
        if (timerfd_settime(loop->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
                log_err("cannot arm the loop's timerfd: %m");
                return;
        }
        loop->tfd_at = at;
}

int loop_run_once(struct loop *loop, int64_t timeout_usec)
{
        bool busy = false, timers = false;
        int n, timeout = -1, n_done = 0;

        if (loop->post)
                busy = loop->post(loop->post_userdata);
        loop_arm_timerfd(loop);
        if (busy)
                timeout = 0;
        else if (timeout_usec > (int64_t)INT32_MAX * 1000)
                timeout = INT32_MAX;
        else if (timeout_usec >= 0)
                timeout = (int)((timeout_usec + 999) / 1000);
        n = epoll_wait(loop->epfd, loop->batch, LOOP_BATCH, timeout);
        loop->now = 0;
        if (n < 0) {
                if (errno == EINTR)
                        return 0;
                return error_origin(-errno);
        }
        loop->batch_n = n;
        for (loop->batch_i = 0; loop->batch_i < n; ++loop->batch_i) {
                struct epoll_event *ev = &loop->batch[loop->batch_i];
                struct loop_source *s;

                if (!ev->data.ptr)
                        continue;
                if (ev->data.ptr == &loop->tfd) {
                        uint64_t expirations;

                        (void)!read(loop->tfd, &expirations, sizeof(expirations));
                        loop->tfd_at = LOOP_TIME_OFF;
                        timers = true;
                        continue;
                }
                ++n_done;
                if (ev->data.ptr == loop) {
                        loop_dispatch_signals(loop);
                        continue;
                }
                s = ev->data.ptr;
                loop_report(s->fn.io(s, s->fd, ev->events, s->userdata), "io handler failed");
        }
        loop->batch_n = 0;
        loop->batch_i = 0;
        if (timers)
                n_done += loop_dispatch_timers(loop);
        return n_done > 0;
}

int loop_run(struct loop *loop)
{
        while (!loop->exiting) {
                int r = loop_run_once(loop, -1);

                if (r < 0)
                        return r;
        }
        loop->exiting = false;
        return loop->exit_code;
}

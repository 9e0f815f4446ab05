/*
 * Unit tests of dbus-proxy/loop.c: io sources (events, enable/disable, a
 * source freed while its event is pending in the same iteration), one-shot
 * timers (order, re-arming from a callback, the wait bounded by the first
 * deadline), signals through the signalfd, the post hook and loop_exit().
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/loop.h"

struct io_rec {
        int n;
        int fd;
        uint32_t revents;
        struct loop_source **victim;    /* freed by the callback, if set */
        struct io_rec *victim_rec;
};

static int on_io(struct loop_source *s, int fd, uint32_t revents, void *userdata)
{
        struct io_rec *rec = userdata;
        char buf[64];

        (void)s;
        ++rec->n;
        rec->fd = fd;
        rec->revents = revents;
        (void)!read(fd, buf, sizeof(buf));
        if (rec->victim)
                *rec->victim = loop_source_free(*rec->victim);
        return 0;
}

static void test_io(void **state)
{
        struct io_rec rec = {};
        struct loop_source *s;
        struct loop *loop;
        int sv[2];

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(loop_add_io(loop, &s, sv[0], EPOLLIN, on_io, &rec), 0);

        /* nothing to read: the wait times out */
        assert_int_equal(loop_run_once(loop, 1000), 0);
        assert_int_equal(rec.n, 0);

        assert_int_equal(write(sv[1], "x", 1), 1);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(rec.n, 1);
        assert_int_equal(rec.fd, sv[0]);
        assert_true(rec.revents & EPOLLIN);

        /* disabled: not reported, even with data waiting; enabled again: reported */
        assert_int_equal(loop_source_set_enabled(s, false), 0);
        assert_int_equal(write(sv[1], "y", 1), 1);
        assert_int_equal(loop_run_once(loop, 1000), 0);
        assert_int_equal(rec.n, 1);
        assert_int_equal(loop_source_set_enabled(s, true), 0);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(rec.n, 2);

        /* waiting for EPOLLOUT only: data to read is not an event */
        assert_int_equal(loop_source_set_io_events(s, EPOLLOUT), 0);
        assert_int_equal(write(sv[1], "z", 1), 1);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(rec.n, 3);
        assert_true(rec.revents & EPOLLOUT);
        assert_false(rec.revents & EPOLLIN);

        /* a hangup is reported whatever the events */
        assert_int_equal(loop_source_set_io_events(s, 0), 0);
        close(sv[1]);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(rec.n, 4);
        assert_true(rec.revents & EPOLLHUP);

        assert_int_equal(loop_source_set_enabled(s, true), 0);
        assert_int_equal(loop_source_set_enabled(s, false), 0);
        loop_source_free(s);
        close(sv[0]);
        loop_free(loop);
}

/*
 * Two sockets ready in one iteration, and whichever callback runs first
 * frees the other's source: the other one must not be dispatched (it would
 * touch freed memory; ASan in CI turns that into a failure, the counters
 * here into a wrong count).
 */
static void test_free_pending(void **state)
{
        struct io_rec a = {}, b = {};
        struct loop_source *sa, *sb;
        struct loop *loop;
        int p[2], q[2];

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, q), 0);
        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(loop_add_io(loop, &sa, p[0], EPOLLIN, on_io, &a), 0);
        assert_int_equal(loop_add_io(loop, &sb, q[0], EPOLLIN, on_io, &b), 0);
        a.victim = &sb;
        b.victim = &sa;
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_int_equal(write(q[1], "x", 1), 1);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(a.n + b.n, 1);
        assert_true(sa == NULL || sb == NULL);
        loop_source_free(sa);
        loop_source_free(sb);

        /* a callback that frees its own source */
        assert_int_equal(loop_add_io(loop, &sa, p[0], EPOLLIN, on_io, &a), 0);
        a.victim = &sa;
        a.n = 0;
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(a.n, 1);
        assert_null(sa);

        close(p[0]);
        close(p[1]);
        close(q[0]);
        close(q[1]);
        loop_free(loop);
}

struct timer_rec {
        int order[8];
        int n;
        struct loop *loop;
        struct loop_source *rearm;      /* re-armed once, for a time already past */
        bool late;                      /* a callback ran before its deadline */
};

static int on_timer(struct loop_source *s, uint64_t usec, void *userdata)
{
        struct timer_rec *rec = userdata;

        if (loop_now(rec->loop) < usec)
                rec->late = true;
        /* one-shot: off while the callback runs */
        assert_int_equal(loop_source_get_time(s), LOOP_TIME_OFF);
        rec->order[rec->n++] = (int)(usec % 1000000);
        if (rec->rearm == s) {
                rec->rearm = NULL;
                loop_source_set_time(s, usec);
        }
        return 0;
}

static void test_timers(void **state)
{
        struct timer_rec rec = {};
        struct loop_source *t[4];
        struct loop *loop;
        uint64_t now;
        int i;

        (void)state;
        assert_int_equal(loop_new(&loop), 0);
        rec.loop = loop;
        now = loop_now(loop);
        assert_int_not_equal(now, 0);
        /* deadlines 30, 10, 20 ms ahead (and one never armed) */
        assert_int_equal(loop_add_time(loop, &t[0], now + 30000, on_timer, &rec), 0);
        assert_int_equal(loop_add_time(loop, &t[1], now + 10000, on_timer, &rec), 0);
        assert_int_equal(loop_add_time_relative(loop, &t[2], 20000, on_timer, &rec), 0);
        assert_int_equal(loop_add_time(loop, &t[3], LOOP_TIME_OFF, on_timer, &rec), 0);
        assert_int_equal(loop_source_get_time(t[1]), now + 10000);

        /* no io at all: each wait ends at the next deadline */
        for (i = 0; i < 100 && rec.n < 3; ++i)
                assert_true(loop_run_once(loop, -1) >= 0);
        assert_int_equal(rec.n, 3);
        assert_false(rec.late);
        assert_int_equal(rec.order[0], (int)((now + 10000) % 1000000));
        assert_int_equal(rec.order[1], (int)((now + 20000) % 1000000));
        assert_int_equal(rec.order[2], (int)((now + 30000) % 1000000));
        for (i = 0; i < 4; ++i)
                assert_int_equal(loop_source_get_time(t[i]), LOOP_TIME_OFF);

        /* equal deadlines fire in arming order; a re-arm for a past time runs in the next iteration */
        now = loop_now(loop);
        loop_source_set_time(t[2], now);
        loop_source_set_time(t[1], now);
        rec.rearm = t[2];
        rec.n = 0;
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(rec.n, 2);
        assert_int_equal(loop_source_get_time(t[2]), now);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(rec.n, 3);

        /* disarmed, then freed while armed */
        loop_source_set_time(t[0], now + 5000);
        loop_source_set_time(t[0], LOOP_TIME_OFF);
        loop_source_set_time(t[3], now + 5000);
        loop_source_free(t[3]);
        assert_int_equal(loop_run_once(loop, 20000), 0);
        assert_int_equal(rec.n, 3);

        /* the timerfd armed for a timer that is disarmed afterwards: its wakeup dispatches nothing */
        loop_source_set_time(t[0], loop_now(loop) + 5000);
        assert_int_equal(loop_run_once(loop, 0), 0);
        loop_source_set_time(t[0], LOOP_TIME_OFF);
        assert_int_equal(loop_run_once(loop, 50000), 0);
        assert_int_equal(rec.n, 3);
        /* a later deadline re-arms it */
        loop_source_set_time(t[0], loop_now(loop) + 5000);
        for (i = 0; i < 100 && rec.n < 4; ++i)
                assert_true(loop_run_once(loop, -1) >= 0);
        assert_int_equal(rec.n, 4);
        assert_false(rec.late);

        for (i = 0; i < 3; ++i)
                loop_source_free(t[i]);
        loop_free(loop);
}

static int on_signal(struct loop_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        int *got = userdata;

        (void)s;
        *got = (int)si->ssi_signo;
        return 0;
}

static void test_signal(void **state)
{
        struct loop_source *s, *dup;
        struct loop *loop;
        sigset_t mask, old;
        int got = 0;

        (void)state;
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGUSR2);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, &old), 0);
        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(loop_add_signal(loop, &s, SIGUSR1, on_signal, &got), 0);
        assert_int_equal(loop_add_signal(loop, &dup, SIGUSR1, on_signal, &got), -EBUSY);
        assert_int_equal(loop_add_signal(loop, &dup, 0, on_signal, &got), -EINVAL);
        assert_int_equal(loop_add_signal(loop, &dup, 65, on_signal, &got), -EINVAL);

        assert_int_equal(raise(SIGUSR1), 0);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(got, SIGUSR1);

        /* a second signal source shares the signalfd */
        got = 0;
        assert_int_equal(loop_add_signal(loop, &dup, SIGUSR2, on_signal, &got), 0);
        assert_int_equal(raise(SIGUSR2), 0);
        assert_int_equal(loop_run_once(loop, -1), 1);
        assert_int_equal(got, SIGUSR2);

        /* freed: the signal stays pending, the loop does not see it */
        loop_source_free(dup);
        got = 0;
        assert_int_equal(raise(SIGUSR2), 0);
        assert_int_equal(loop_run_once(loop, 1000), 0);
        assert_int_equal(got, 0);
        {
                int sig;

                assert_int_equal(sigwait(&mask, &sig), 0);
                assert_int_equal(sig, SIGUSR2);
        }

        loop_source_free(s);
        loop_free(loop);
        assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

struct post_rec {
        int n;
        int busy;               /* say "more work" this many times */
};

static bool on_post(void *userdata)
{
        struct post_rec *rec = userdata;

        ++rec->n;
        if (rec->busy > 0) {
                --rec->busy;
                return true;
        }
        return false;
}

static int on_exit_timer(struct loop_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        loop_exit(userdata, 42);
        return 0;
}

static void test_post_and_exit(void **state)
{
        struct post_rec rec = { .busy = 3 };
        struct loop_source *t;
        struct loop *loop;

        (void)state;
        assert_int_equal(loop_new(&loop), 0);
        loop_set_post(loop, on_post, &rec);
        /* while the hook has work, no wait blocks (an unbounded wait would hang here) */
        for (int i = 0; i < 3; ++i)
                assert_int_equal(loop_run_once(loop, -1), 0);
        assert_int_equal(rec.n, 3);
        assert_int_equal(loop_run_once(loop, 1000), 0);
        assert_int_equal(rec.n, 4);

        assert_int_equal(loop_add_time_relative(loop, &t, 1000, on_exit_timer, loop), 0);
        assert_int_equal(loop_run(loop), 42);
        assert_true(rec.n >= 5);
        loop_source_free(t);
        loop_free(loop);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_io),
                cmocka_unit_test(test_free_pending),
                cmocka_unit_test(test_timers),
                cmocka_unit_test(test_signal),
                cmocka_unit_test(test_post_and_exit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

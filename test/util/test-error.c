/*
 * Unit tests of util/error.[ch]: the origin and the callers' frames are
 * recorded in order with their function names, non-negative values pass
 * through untouched, deep traces are bounded, formatting is cut safely,
 * error_trace_log() logs and clears, and traces are per thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/error.h"
#include "util/log.h"

static int origin_line;

static int level3(int e)
{
        if (e >= 0)
                return e;
        origin_line = __LINE__ + 1;
        return error_origin(e);
}

static int level2(int e)
{
        int r = level3(e);

        if (r < 0)
                return error_trace(r);
        return 0;
}

static int level1(int e)
{
        return error_trace(level2(e));
}

static void test_frames(void **state)
{
        const struct error_trace *t;
        char buf[512];
        size_t len;

        error_trace_clear();
        assert_int_equal(level1(-ENOMEM), -ENOMEM);

        t = error_trace_get();
        assert_int_equal(t->error, -ENOMEM);
        assert_int_equal(t->n_frames, 3);
        assert_int_equal(t->n_dropped, 0);
        assert_string_equal(t->frames[0].func, "level3");
        assert_string_equal(t->frames[1].func, "level2");
        assert_string_equal(t->frames[2].func, "level1");
        assert_int_equal(t->frames[0].line, origin_line);
        assert_true(t->frames[1].line > t->frames[0].line);
        assert_true(t->frames[2].line > t->frames[1].line);
        assert_non_null(strstr(t->frames[0].file, "test-error.c"));

        len = error_trace_format(buf, sizeof(buf));
        assert_int_equal(len, strlen(buf));
        assert_true(strncmp(buf, "Cannot allocate memory: level3 ", 31) == 0);
        assert_non_null(strstr(buf, " <- level2 "));
        assert_true(strstr(buf, "level3 ") < strstr(buf, "level2 "));
        assert_true(strstr(buf, "level2 ") < strstr(buf, "level1 "));
        assert_null(strstr(buf, "more"));

        /* a fresh origin replaces the old trace */
        assert_int_equal(level3(-EIO), -EIO);
        t = error_trace_get();
        assert_int_equal(t->error, -EIO);
        assert_int_equal(t->n_frames, 1);

        error_trace_clear();
        assert_int_equal(t->error, 0);
        assert_int_equal(t->n_frames, 0);
        assert_int_equal(error_trace_format(buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");
}

static void test_pass_through(void **state)
{
        const struct error_trace *t = error_trace_get();

        error_trace_clear();
        assert_int_equal(error_trace(0), 0);
        assert_int_equal(error_trace(1), 1);
        assert_int_equal(error_trace(12345), 12345);
        assert_int_equal(t->error, 0);
        assert_int_equal(t->n_frames, 0);

        /* non-negative values do not touch an existing trace either */
        assert_int_equal(level3(-EPERM), -EPERM);
        assert_int_equal(error_trace(7), 7);
        assert_int_equal(level1(0), 0);
        assert_int_equal(t->error, -EPERM);
        assert_int_equal(t->n_frames, 1);

        /* an error that did not come through error_origin() starts a trace */
        error_trace_clear();
        assert_int_equal(error_trace(-EBADF), -EBADF);
        assert_int_equal(t->error, -EBADF);
        assert_int_equal(t->n_frames, 1);
        assert_string_equal(t->frames[0].func, "test_pass_through");
        /* and so does a different error than the traced one */
        assert_int_equal(error_trace(-EINVAL), -EINVAL);
        assert_int_equal(t->error, -EINVAL);
        assert_int_equal(t->n_frames, 1);
        error_trace_clear();
}

static int recurse(int depth)
{
        if (depth == 0)
                return error_origin(-E2BIG);
        return error_trace(recurse(depth - 1));
}

static void test_overflow(void **state)
{
        const struct error_trace *t = error_trace_get();
        char buf[4096], small[16];
        size_t len, i;

        error_trace_clear();
        assert_int_equal(recurse(100), -E2BIG);
        assert_int_equal(t->n_frames, ERROR_TRACE_FRAMES);
        assert_int_equal(t->n_dropped, 101 - ERROR_TRACE_FRAMES);
        for (i = 0; i < ERROR_TRACE_FRAMES; ++i)
                assert_string_equal(t->frames[i].func, "recurse");
        /* the origin is kept, the outermost callers are dropped */
        assert_true(t->frames[0].line < t->frames[1].line);

        len = error_trace_format(buf, sizeof(buf));
        assert_true(len < sizeof(buf));
        snprintf(small, sizeof(small), " (+%d more)", 101 - ERROR_TRACE_FRAMES);
        assert_non_null(strstr(buf, small));

        /* cut output: NUL-terminated, full length returned */
        memset(small, 'x', sizeof(small));
        assert_int_equal(error_trace_format(small, sizeof(small)), len);
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_true(strncmp(small, buf, sizeof(small) - 1) == 0);
        assert_int_equal(error_trace_format(NULL, 0), len);
        error_trace_clear();
}

static void test_log(void **state)
{
        char out[4096];
        int p[2], saved;
        ssize_t n;

        unsetenv("JOURNAL_STREAM");
        unsetenv("BUS1_LOG_LEVEL");
        log_init("test-error");
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        saved = dup(STDERR_FILENO);
        assert_true(saved >= 0);
        assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);

        error_trace_clear();
        error_trace_log("nothing"); /* empty trace: logs nothing */
        assert_int_equal(level1(-ENOENT), -ENOENT);
        error_trace_log("cannot frobnicate");

        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        close(p[1]);
        n = read(p[0], out, sizeof(out) - 1);
        close(p[0]);
        assert_true(n > 0);
        out[n] = '\0';

        assert_null(strstr(out, "nothing"));
        assert_non_null(strstr(out, "test-error["));
        assert_non_null(strstr(out, "]: error: cannot frobnicate: No such file or directory: level3 "));
        assert_non_null(strstr(out, " <- level2 "));
        assert_non_null(strstr(out, " <- level1 "));
        assert_int_equal(out[n - 1], '\n');
        assert_int_equal(strchr(out, '\n') - out, n - 1); /* one line */
        /* logging consumed the trace */
        assert_int_equal(error_trace_get()->error, 0);
}

static pthread_barrier_t barrier;

static int thread_fail(int e)
{
        return error_origin(e);
}

static void *thread_main(void *arg)
{
        int e = (int)(intptr_t)arg;
        const struct error_trace *t = error_trace_get();
        unsigned int i;
        int ok = 1;

        /* each thread starts empty even though the main thread has a trace */
        ok &= t->error == 0;
        pthread_barrier_wait(&barrier);
        thread_fail(e);
        for (i = 0; i < 5; ++i)
                error_trace(e);
        pthread_barrier_wait(&barrier); /* both traces are built now */
        ok &= t->error == e;
        ok &= t->n_frames == 6;
        ok &= strcmp(t->frames[0].func, "thread_fail") == 0;
        ok &= strcmp(t->frames[1].func, "thread_main") == 0;
        error_trace_clear();
        return (void *)(intptr_t)ok;
}

static void test_threads(void **state)
{
        pthread_t a, b;
        void *ra, *rb;
        const struct error_trace *t = error_trace_get();

        assert_int_equal(level3(-EACCES), -EACCES);
        assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
        assert_int_equal(pthread_create(&a, NULL, thread_main, (void *)(intptr_t)-EAGAIN), 0);
        assert_int_equal(pthread_create(&b, NULL, thread_main, (void *)(intptr_t)-ENOSPC), 0);
        assert_int_equal(pthread_join(a, &ra), 0);
        assert_int_equal(pthread_join(b, &rb), 0);
        pthread_barrier_destroy(&barrier);
        assert_int_equal((intptr_t)ra, 1);
        assert_int_equal((intptr_t)rb, 1);

        /* the main thread's trace is untouched by the threads */
        assert_int_equal(t->error, -EACCES);
        assert_int_equal(t->n_frames, 1);
        assert_string_equal(t->frames[0].func, "level3");
        error_trace_clear();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_frames),
                cmocka_unit_test(test_pass_through),
                cmocka_unit_test(test_overflow),
                cmocka_unit_test(test_log),
                cmocka_unit_test(test_threads),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of util/cleanup.h: cleanup runs at scope exit on every path,
 * steal_ptr()/steal_fd() hand ownership on, empty values are left alone,
 * closep() preserves errno.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/cleanup.h"

struct thing {
        int *freed;
};

static int thing_free_calls;

static struct thing *thing_free(struct thing *t)
{
        ++thing_free_calls;
        ++*t->freed;
        free(t);
        return NULL;
}

DEFINE_CLEANUP_FUNC(struct thing *, thing_free);

static struct thing *thing_new(int *freed)
{
        struct thing *t = malloc(sizeof(*t));

        assert_non_null(t);
        t->freed = freed;
        return t;
}

static bool fd_is_open(int fd)
{
        return fcntl(fd, F_GETFD) >= 0;
}

static int open_fd(void)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        return fd;
}

static void test_define_cleanup_func(void **state)
{
        int freed = 0;

        thing_free_calls = 0;
        {
                _cleanup_(thing_freep) struct thing *t = thing_new(&freed);
                assert_non_null(t);
                assert_int_equal(freed, 0);
        }
        assert_int_equal(freed, 1);

        /* NULL is left alone */
        {
                _cleanup_(thing_freep) struct thing *t = NULL;
                (void)t;
        }
        assert_int_equal(thing_free_calls, 1);

        /* runs on break out of a loop body, once per iteration */
        for (int i = 0; i < 3; ++i) {
                _cleanup_(thing_freep) struct thing *t = thing_new(&freed);
                (void)t;
                if (i == 1)
                        break;
        }
        assert_int_equal(freed, 3);
}

static struct thing *make_and_keep(int *freed, bool keep)
{
        _cleanup_(thing_freep) struct thing *t = thing_new(freed);

        if (!keep)
                return NULL;
        return steal_ptr(t);
}

static void test_steal_ptr(void **state)
{
        struct thing *t;
        int freed = 0;

        assert_null(make_and_keep(&freed, false));
        assert_int_equal(freed, 1);

        t = make_and_keep(&freed, true);
        assert_non_null(t);
        assert_int_equal(freed, 1);
        thing_free(t);
        assert_int_equal(freed, 2);

        /* steal_ptr() evaluates to the value and clears the variable */
        {
                _cleanup_free_ char *p = malloc(16);
                char *q;

                assert_non_null(p);
                q = p;
                assert_ptr_equal(steal_ptr(p), q);
                assert_null(p);
                free(q);
        }
}

static void test_freep(void **state)
{
        /* leak checkers (ASan, valgrind) catch a missing free here */
        {
                _cleanup_free_ char *p = malloc(32);
                _cleanup_free_ int *q = malloc(sizeof(int));
                _cleanup_free_ void *none = NULL;

                assert_non_null(p);
                assert_non_null(q);
                (void)none;
        }
}

static int keep_fd(bool keep)
{
        _cleanup_close_ int fd = open_fd();

        if (!keep)
                return -EIO;
        return steal_fd(fd);
}

static void test_close(void **state)
{
        int fd, saved;

        {
                _cleanup_close_ int inner = open_fd();
                fd = inner;
                assert_true(fd_is_open(fd));
        }
        assert_false(fd_is_open(fd));

        /* steal_fd() evaluates to the fd and sets the variable to -1 */
        fd = keep_fd(true);
        assert_true(fd >= 0);
        assert_true(fd_is_open(fd));
        close(fd);
        assert_int_equal(keep_fd(false), -EIO);

        {
                _cleanup_close_ int a = open_fd();
                int b = a;

                assert_int_equal(steal_fd(a), b);
                assert_int_equal(a, -1);
                close(b);
        }

        /* errno survives closep(), even when close() itself fails */
        fd = open_fd();
        close(fd);
        {
                _cleanup_close_ int bad = fd; /* no longer open: EBADF */
                (void)bad;
                errno = ENOSPC;
        }
        saved = errno;
        assert_int_equal(saved, ENOSPC);
        {
                _cleanup_close_ int none = -1;
                errno = EAGAIN;
                (void)none;
        }
        assert_int_equal(errno, EAGAIN);
}

static void test_fclose(void **state)
{
        FILE *copy;
        int fd;

        {
                _cleanup_fclose_ FILE *f = fopen("/dev/null", "re");
                assert_non_null(f);
                fd = fileno(f);
                assert_true(fd_is_open(fd));
        }
        assert_false(fd_is_open(fd));

        {
                _cleanup_fclose_ FILE *f = fopen("/dev/null", "re");
                assert_non_null(f);
                copy = steal_ptr(f);
                assert_null(f);
        }
        fd = fileno(copy);
        assert_true(fd_is_open(fd));
        fclose(copy);

        {
                _cleanup_fclose_ FILE *none = NULL;
                (void)none;
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_define_cleanup_func),
                cmocka_unit_test(test_steal_ptr),
                cmocka_unit_test(test_freep),
                cmocka_unit_test(test_close),
                cmocka_unit_test(test_fclose),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

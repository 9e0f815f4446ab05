#pragma once

/*
 * Automatic cleanup of local variables
 *
 * `_cleanup_(fn)` on a local variable calls fn(&variable) when the variable
 * goes out of scope, on every path out of the scope (return, break, goto out
 * of it). Cleanup functions must accept the "empty" value of their type
 * (NULL pointer, fd < 0) and do nothing then, so a variable that was never
 * filled, or whose ownership was handed on with steal_ptr()/steal_fd(), is
 * left alone. Variables with a cleanup attribute must be initialised at
 * declaration.
 *
 * Don't mix automatic cleanup with goto error ladders in one function.
 *
 * Userspace only (uses libc and a GCC/Clang attribute); core/ hides the
 * attribute behind its own macro.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/** _cleanup_(fn) - call fn(&var) when var goes out of scope. */
#define _cleanup_(_fn) __attribute__((__cleanup__(_fn)))

/**
 * DEFINE_CLEANUP_FUNC(type, fn) - define `static inline void fn##p(type *p)`
 * that calls fn(*p) if *p is not NULL; @type is a pointer type. The return
 * value of fn, if any, is ignored. Use at file scope, followed by a semicolon.
 * Example:
 *     DEFINE_CLEANUP_FUNC(struct peer *, peer_free);
 *     _cleanup_(peer_freep) struct peer *peer = NULL;
 */
#define DEFINE_CLEANUP_FUNC(_type, _fn) \
        static inline void _fn##p(_type *_p) \
        { \
                if (*_p) \
                        (void)_fn(*_p); \
        } \
        _Static_assert(1, "DEFINE_CLEANUP_FUNC wants a trailing semicolon")

/** freep() - free(*(void **)p); for any pointer variable. */
static inline void freep(void *p)
{
        free(*(void **)p);
}

/**
 * closep() - close(*fd) if *fd >= 0; preserves errno, ignores close errors
 * (the fd is gone either way on Linux).
 */
static inline void closep(int *fd)
{
        int saved_errno;

        if (*fd < 0)
                return;
        saved_errno = errno;
        (void)close(*fd);
        errno = saved_errno;
}

/** fclosep() - fclose(*f) if *f is not NULL; preserves errno. */
static inline void fclosep(FILE **f)
{
        int saved_errno;

        if (!*f)
                return;
        saved_errno = errno;
        (void)fclose(*f);
        errno = saved_errno;
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/**
 * steal_ptr(p) - evaluate to the pointer variable @p and set @p to NULL, so
 * its cleanup does nothing: ownership moves to the caller of steal_ptr().
 * @p is evaluated once and must be an lvalue.
 */
#define steal_ptr(_p) \
        ({ \
                __typeof__(_p) *_sp_ptr = &(_p); \
                __typeof__(_p) _sp_val = *_sp_ptr; \
                *_sp_ptr = NULL; \
                _sp_val; \
        })

/**
 * steal_fd(fd) - evaluate to the int variable @fd and set @fd to -1, so its
 * cleanup does nothing. @fd is evaluated once and must be an lvalue.
 */
#define steal_fd(_fd) \
        ({ \
                int *_sf_ptr = &(_fd); \
                int _sf_val = *_sf_ptr; \
                *_sf_ptr = -1; \
                _sf_val; \
        })

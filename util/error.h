#pragma once

/*
 * Error tracing
 *
 * A cheap record of where an unexpected error (a negative errno) came from
 * and which callers passed it up, kept per thread:
 *
 *     if (!p)
 *             return error_origin(-ENOMEM);      starts a fresh trace
 *     r = peer_queue_commit(...);
 *     if (r < 0)
 *             return error_trace(r);             appends "func file:line"
 *     ...
 *     error_trace_log("cannot dispatch");        at the top: log, then clear
 *
 * Logged as "cannot dispatch: Cannot allocate memory: f a.c:3 <- g b.c:9".
 *
 * Invariants of the per-thread trace:
 *  - it is empty (error == 0, no frames) or holds the negative errno it was
 *    started with and at least one frame;
 *  - frames are kept in order, origin first, at most ERROR_TRACE_FRAMES of
 *    them; further frames are only counted (n_dropped).
 * A trace is never shared between threads (thread-local storage), so no
 * locking is needed. Only pointers to string literals (__func__, __FILE__)
 * are stored; nothing is allocated.
 *
 * error_trace(r) with an r that differs from the traced error (or with an
 * empty trace) starts a new trace at its own frame: the error did not come
 * through error_origin(), e.g. straight from a libc call.
 */

#include <stddef.h>

/** Number of frames a trace keeps. */
#define ERROR_TRACE_FRAMES 16

struct error_frame {
        const char *func;
        const char *file;
        int line;
};

struct error_trace {
        int error;              /* negative errno, 0 if the trace is empty */
        unsigned int n_frames;  /* frames[0..n_frames) are valid */
        unsigned long n_dropped; /* frames that did not fit */
        struct error_frame frames[ERROR_TRACE_FRAMES];
};

/**
 * error_origin() - start a fresh trace for @r at the caller's location.
 * @r: a negative errno (asserted)
 *
 * Return: @r.
 */
#define error_origin(_r) error_origin_at((_r), __func__, __FILE__, __LINE__)

/**
 * error_trace() - record the caller's location if @r is an error.
 * @r: any int; if r < 0 a frame is appended, otherwise the trace is untouched
 *
 * Return: @r, unchanged.
 */
#define error_trace(_r) error_trace_at((_r), __func__, __FILE__, __LINE__)

/**
 * error_trace_log() - log the trace at error level, then clear it.
 * @context: what failed, printed first; may be NULL
 *
 * Does nothing if the trace is empty.
 */
#define error_trace_log(_context) error_trace_log_at((_context), __func__, __FILE__, __LINE__)

/** error_origin_at() - error_origin() with an explicit location. */
int error_origin_at(int r, const char *func, const char *file, int line);

/** error_trace_push() - append a frame for @r; use error_trace(). */
void error_trace_push(int r, const char *func, const char *file, int line);

/** error_trace_at() - error_trace() with an explicit location. */
static inline int error_trace_at(int r, const char *func, const char *file, int line)
{
        if (r < 0)
                error_trace_push(r, func, file, line);
        return r;
}

/** error_trace_log_at() - error_trace_log() with an explicit location. */
void error_trace_log_at(const char *context, const char *func, const char *file, int line);

/**
 * error_trace_format() - write the current thread's trace to @buf.
 * @buf:  destination, always NUL-terminated if @size > 0
 * @size: size of @buf
 *
 * Format: "<strerror>: <func> <file>:<line> <- <func> <file>:<line> ...",
 * origin first, followed by " (+N more)" if frames were dropped. An empty
 * trace gives "". Output that does not fit is cut.
 *
 * Return: the length of the complete text (like snprintf(); the text was cut
 *         if the result is >= @size).
 */
size_t error_trace_format(char *buf, size_t size);

/** error_trace_clear() - empty the current thread's trace. */
void error_trace_clear(void);

/** error_trace_get() - the current thread's trace (read-only view). */
const struct error_trace *error_trace_get(void);

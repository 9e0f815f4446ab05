#pragma once

/*
 * The broker's event loop: one epoll set for sockets, pidfds and inotify
 * fds, one signalfd for the signals it handles, and a tree of deadlines.
 *
 * It does what the broker needs and no more, so that a wakeup costs one
 * epoll_wait() and a function call per ready fd:
 *  - every fd epoll reports in one epoll_wait() is dispatched in that
 *    iteration (a loop that dispatches one source per epoll_wait() pays a
 *    syscall per source when several are ready);
 *  - deadlines are kept in a red-black tree; one timerfd in the epoll set
 *    is armed for the first, and re-armed only when the first deadline
 *    changes (epoll_wait() itself never gets a timeout from the timers: a
 *    blocking wait with a timeout costs the kernel an hrtimer every time);
 *  - after each iteration a post hook runs (the broker writes out what the
 *    iteration made ready); it says whether it left work, in which case
 *    the next epoll_wait() does not block.
 *
 * Sources are owned by whoever added them and freed with loop_source_free();
 * all of them must be freed before the loop. Freeing or disabling a source
 * from a callback is allowed at any time, also for a source whose event is
 * still pending in the current iteration: it is then not dispatched.
 *
 * Time is CLOCK_MONOTONIC in microseconds. A time source is one-shot: it
 * is disarmed (LOOP_TIME_OFF) before its callback runs.
 *
 * A callback returning a negative errno is logged; the source stays as the
 * callback left it.
 *
 * Single-threaded: a loop and its sources are used from one thread. A loop
 * belongs to the process that created it (do not use it across fork()).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

/** A deadline that is never reached: the time source is disarmed. */
#define LOOP_TIME_OFF UINT64_MAX

struct loop;
struct loop_source;

/** Called with the events epoll reported for @fd. Return: 0 or negative errno. */
typedef int (*loop_io_fn)(struct loop_source *s, int fd, uint32_t revents, void *userdata);
/** Called once the deadline @usec has passed. Return: 0 or negative errno. */
typedef int (*loop_time_fn)(struct loop_source *s, uint64_t usec, void *userdata);
/** Called for each delivery of the signal. Return: 0 or negative errno. */
typedef int (*loop_signal_fn)(struct loop_source *s, const struct signalfd_siginfo *si, void *userdata);
/** The post hook. Return: true if it left work (do not block before the next run). */
typedef bool (*loop_post_fn)(void *userdata);

/**
 * loop_new() - create an event loop.
 * @loopp: set to the new loop
 *
 * Return: 0, or negative errno (epoll_create1() failed, -ENOMEM).
 */
int loop_new(struct loop **loopp);

/**
 * loop_free() - free @loop (NULL is allowed). Every source must be gone.
 *
 * Return: NULL.
 */
struct loop *loop_free(struct loop *loop);

/**
 * loop_add_io() - watch @fd for @events (EPOLLIN, EPOLLOUT; level-triggered).
 * @loop:    the loop
 * @sourcep: set to the new source
 * @fd:      the fd; it stays owned by the caller and must stay open while the
 *           source exists
 * @events:  epoll events; EPOLLHUP and EPOLLERR are always reported
 * @fn:      the callback
 * @userdata: passed to @fn
 *
 * Return: 0, or negative errno (epoll_ctl() failed, -ENOMEM).
 */
int loop_add_io(struct loop *loop, struct loop_source **sourcep, int fd, uint32_t events, loop_io_fn fn,
                void *userdata);

/**
 * loop_source_set_io_events() - change the events an enabled io source waits for.
 *
 * Does nothing if they are unchanged. Return: 0, or negative errno.
 */
int loop_source_set_io_events(struct loop_source *s, uint32_t events);

/**
 * loop_source_set_enabled() - take an io source out of the epoll set or put it back.
 *
 * A disabled source reports nothing, not even a hangup. Return: 0, or negative errno.
 */
int loop_source_set_enabled(struct loop_source *s, bool enabled);

/**
 * loop_add_time() - a one-shot timer.
 * @loop:    the loop
 * @sourcep: set to the new source
 * @usec:    absolute CLOCK_MONOTONIC deadline, or LOOP_TIME_OFF (not armed)
 * @fn:      the callback
 * @userdata: passed to @fn
 *
 * Return: 0, or -ENOMEM.
 */
int loop_add_time(struct loop *loop, struct loop_source **sourcep, uint64_t usec, loop_time_fn fn,
                  void *userdata);

/**
 * loop_add_time_relative() - loop_add_time() @usec after loop_now().
 *
 * Return: 0, or -ENOMEM.
 */
int loop_add_time_relative(struct loop *loop, struct loop_source **sourcep, uint64_t usec, loop_time_fn fn,
                           void *userdata);

/** loop_source_set_time() - (re-)arm a time source for @usec; LOOP_TIME_OFF disarms it. */
void loop_source_set_time(struct loop_source *s, uint64_t usec);

/** loop_source_get_time() - the deadline a time source is armed for, or LOOP_TIME_OFF. */
uint64_t loop_source_get_time(const struct loop_source *s);

/**
 * loop_add_signal() - handle @signo through the loop's signalfd.
 * @loop:    the loop
 * @sourcep: set to the new source
 * @signo:   the signal; the caller blocks it (sigprocmask()) beforehand, or
 *           it is delivered the usual way instead
 * @fn:      the callback
 * @userdata: passed to @fn
 *
 * Return: 0; -EINVAL for a bad signal number; -EBUSY if @signo already has
 *         a source; another negative errno if signalfd() failed.
 */
int loop_add_signal(struct loop *loop, struct loop_source **sourcep, int signo, loop_signal_fn fn,
                    void *userdata);

/**
 * loop_source_free() - remove and free @s (NULL is allowed).
 *
 * Return: NULL.
 */
struct loop_source *loop_source_free(struct loop_source *s);

/** loop_set_post() - run @fn(@userdata) at the start of every iteration (NULL: none). */
void loop_set_post(struct loop *loop, loop_post_fn fn, void *userdata);

/**
 * loop_now() - CLOCK_MONOTONIC in microseconds, read once per iteration.
 *
 * Within one iteration every call returns the same time: the time the loop
 * woke up, or the first call's time.
 */
uint64_t loop_now(struct loop *loop);

/**
 * loop_run_once() - one iteration: post hook, wait, dispatch.
 * @loop:         the loop
 * @timeout_usec: how long to wait at most if nothing is ready (rounded up
 *                to milliseconds); negative: no limit other than the
 *                loop's timers
 *
 * Return: 1 if anything was dispatched, 0 if the wait timed out, negative
 *         errno if epoll_wait() failed (not -EINTR, which counts as 0).
 */
int loop_run_once(struct loop *loop, int64_t timeout_usec);

/**
 * loop_run() - iterate until loop_exit() is called.
 *
 * Return: the code given to loop_exit(), or a negative errno if waiting failed.
 */
int loop_run(struct loop *loop);

/** loop_exit() - make loop_run() return @code after the current iteration. */
void loop_exit(struct loop *loop, int code);

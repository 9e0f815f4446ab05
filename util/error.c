/*
 * Error tracing (see error.h). All state is thread-local.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

static __thread struct error_trace error_current;

static void error_trace_start(int r)
{
        error_current.error = r;
        error_current.n_frames = 0;
        error_current.n_dropped = 0;
}

static void error_trace_append(const char *func, const char *file, int line)
{
        if (error_current.n_frames >= ERROR_TRACE_FRAMES) {
                ++error_current.n_dropped;
                return;
        }
        error_current.frames[error_current.n_frames++] = (struct error_frame){
                .func = func,
                .file = file,
                .line = line,
        };
}

int error_origin_at(int r, const char *func, const char *file, int line)
{
        assert(r < 0);
        error_trace_start(r);
        error_trace_append(func, file, line);
        return r;
}

void error_trace_push(int r, const char *func, const char *file, int line)
{
        if (r >= 0)
                return;
        if (error_current.error != r || error_current.n_frames == 0)
                error_trace_start(r);
        error_trace_append(func, file, line);
}

void error_trace_clear(void)
{
        error_trace_start(0);
}

const struct error_trace *error_trace_get(void)
{
        return &error_current;
}

/* snprintf() into @buf at *@len, keeping *@len the length of the full text. */
__attribute__((format(printf, 4, 5)))
static void error_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
        va_end(ap);
        if (n > 0)
                *len += (size_t)n;
}

size_t error_trace_format(char *buf, size_t size)
{
        const struct error_trace *t = &error_current;
        char errbuf[128];
        const char *err;
        size_t len = 0;
        unsigned int i;

        if (size > 0)
                buf[0] = '\0';
        if (t->error == 0)
                return 0;

        err = strerror_r(-t->error, errbuf, sizeof(errbuf));
        error_append(buf, size, &len, "%s:", err);
        for (i = 0; i < t->n_frames; ++i)
                error_append(buf, size, &len, "%s %s %s:%d", i ? " <-" : "",
                             t->frames[i].func, t->frames[i].file, t->frames[i].line);
        if (t->n_dropped)
                error_append(buf, size, &len, " (+%lu more)", t->n_dropped);
        return len;
}

void error_trace_log_at(const char *context, const char *func, const char *file, int line)
{
        char buf[LOG_MESSAGE_MAX];

        if (error_current.error == 0)
                return;
        error_trace_format(buf, sizeof(buf));
        if (context)
                log_emit(LOG_ERR, file, line, func, "%s: %s", context, buf);
        else
                log_emit(LOG_ERR, file, line, func, "%s", buf);
        error_trace_clear();
}

/* bench-dbus: timing, results, processes and /proc readers (see bench.h). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test/bench/bench.h"

double bench_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

_Noreturn void bench_die(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "bench-dbus[%d]: ", (int)getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stdout);
        _exit(1);
}

int bench_check(int r, const char *what)
{
        if (r < 0)
                bench_die("%s: %s", what, strerror(-r));
        return r;
}

void bench_result(const char *key, double value)
{
        printf("%s %.6g\n", key, value);
        fflush(stdout);
}

pid_t bench_fork(void)
{
        pid_t parent = getpid(), pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0)
                bench_die("fork: %m");
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(1);
        }
        return pid;
}

void bench_reap(pid_t pid, bool kill_it)
{
        if (pid <= 0)
                return;
        if (kill_it)
                kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

void bench_write_all(int fd, const void *p, size_t n)
{
        const char *c = p;

        while (n > 0) {
                ssize_t k = write(fd, c, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        bench_die("write: %m");
                c += k;
                n -= (size_t)k;
        }
}

void bench_read_all(int fd, void *p, size_t n)
{
        char *c = p;

        while (n > 0) {
                ssize_t k = read(fd, c, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        bench_die("read: %m");
                if (k == 0)
                        bench_die("read: unexpected EOF");
                c += k;
                n -= (size_t)k;
        }
}

pid_t bench_server_start(void (*serve)(const char *address, int ready_fd), const char *address,
                         char *name, size_t size)
{
        int ready[2];
        size_t n = 0;
        pid_t pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                bench_die("pipe: %m");
        pid = bench_fork();
        if (pid == 0) {
                close(ready[0]);
                serve(address, ready[1]);
                _exit(1);       /* not reached: servers exit themselves */
        }
        close(ready[1]);
        do
                bench_read_all(ready[0], name + n, 1);
        while (name[n] && ++n < size);
        close(ready[0]);
        if (n == size)
                bench_die("server: unique name too long");
        return pid;
}

static uint64_t cpu_ns_of(pid_t pid)
{
        char path[64], line[128];
        struct dirent *de;
        uint64_t sum = 0;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        d = opendir(path);
        if (!d)
                bench_die("opendir %s: %m", path);
        while ((de = readdir(d))) {
                unsigned long long ns;
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid, de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue; /* the thread exited meanwhile */
                if (fgets(line, sizeof(line), f) && sscanf(line, "%llu", &ns) == 1)
                        sum += ns;
                fclose(f);
        }
        closedir(d);
        return sum;
}

uint64_t bench_cpu_ns(const struct bench_opts *opts)
{
        uint64_t sum = 0;
        size_t i;

        for (i = 0; i < opts->n_cpu_pids; ++i)
                sum += cpu_ns_of(opts->cpu_pids[i]);
        return sum;
}

long bench_rss_kib(pid_t pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                bench_die("open %s: %m", path);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        if (kib < 0)
                bench_die("no VmRSS in %s", path);
        return kib;
}

void bench_samples_add(struct bench_samples *s, double us)
{
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 4096;
                s->v = realloc(s->v, s->cap * sizeof(*s->v));
                if (!s->v)
                        bench_die("out of memory");
        }
        s->v[s->n++] = us;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

void bench_samples_stats(struct bench_samples *s, double *p50, double *p99)
{
        if (!s->n)
                bench_die("no samples");
        qsort(s->v, s->n, sizeof(*s->v), cmp_double);
        *p50 = s->v[s->n / 2];
        *p99 = s->v[(s->n * 99) / 100];
}

void bench_samples_free(struct bench_samples *s)
{
        free(s->v);
        *s = (struct bench_samples){};
}

/*
 * Unit tests of dbus-proxy/servicedir.c: precedence between and inside
 * directories, naming rules, rescans and their change sets, lazy lookups
 * and inotify-triggered rescans driven by the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/service.h"
#include "dbus-proxy/servicedir.h"
#include "policy/config.h"

struct fixture {
        char root[64];
        char dir[3][128];
};

static void write_file(const char *dir, const char *file, const char *name, const char *exec)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        f = fopen(path, "w");
        assert_non_null(f);
        if (name)
                fprintf(f, "[D-BUS Service]\nName=%s\nExec=%s\n", name, exec);
        else
                fprintf(f, "garbage\n");
        assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *dir, const char *file)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        assert_int_equal(unlink(path), 0);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        size_t i;

        assert_non_null(f);
        strcpy(f->root, "/tmp/test-servicedir-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        for (i = 0; i < 3; ++i) {
                snprintf(f->dir[i], sizeof(f->dir[i]), "%s/d%zu", f->root, i);
                assert_int_equal(mkdir(f->dir[i], 0755), 0);
        }
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[256];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static struct servicedir_registry *make(struct fixture *f, const unsigned int *flags, unsigned int regflags)
{
        struct bus_config_servicedir dirs[4];
        struct servicedir_registry *reg = NULL;
        size_t i;

        for (i = 0; i < 3; ++i)
                dirs[i] = (struct bus_config_servicedir){ .path = f->dir[i], .flags = flags ? flags[i] : 0 };
        dirs[3] = (struct bus_config_servicedir){ .path = "/nonexistent/dir", .flags = 0 };
        assert_int_equal(servicedir_registry_new(&reg, dirs, 4, regflags), 0);
        return reg;
}

static const char *exec_of(struct servicedir_registry *reg, const char *name)
{
        struct service *s = servicedir_registry_find(reg, name);

        return s ? s->exec : NULL;
}

static void test_precedence(void **state)
{
        struct fixture *f = *state;
        struct servicedir_registry *reg;
        const char **names;
        size_t n;

        write_file(f->dir[0], "org.example.A.service", "org.example.A", "/a0");
        write_file(f->dir[1], "org.example.A.service", "org.example.A", "/a1");
        write_file(f->dir[1], "org.example.B.service", "org.example.B", "/b1");
        write_file(f->dir[2], "org.example.B.service", "org.example.B", "/b2");
        write_file(f->dir[2], "org.example.C.service", "org.example.C", "/c2");
        /* same name twice in one directory: sorted by file name, first wins */
        write_file(f->dir[2], "zz.service", "org.example.D", "/dz");
        write_file(f->dir[2], "aa.service", "org.example.D", "/da");
        /* skipped: invalid content, wrong suffix */
        write_file(f->dir[0], "broken.service", NULL, NULL);
        write_file(f->dir[0], "org.example.E.conf", "org.example.E", "/e");

        reg = make(f, NULL, 0);
        assert_int_equal(servicedir_registry_count(reg), 0);
        assert_int_equal(servicedir_registry_rescan(reg, NULL), 0);
        assert_int_equal(servicedir_registry_count(reg), 4);
        assert_string_equal(exec_of(reg, "org.example.A"), "/a0");
        assert_string_equal(exec_of(reg, "org.example.B"), "/b1");
        assert_string_equal(exec_of(reg, "org.example.C"), "/c2");
        assert_string_equal(exec_of(reg, "org.example.D"), "/da");
        assert_null(exec_of(reg, "org.example.E"));

        assert_int_equal(servicedir_registry_list_names(reg, &names, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(names[0], "org.example.A");
        assert_string_equal(names[3], "org.example.D");
        assert_null(names[4]);
        free(names);
        servicedir_registry_free(reg);
        assert_null(servicedir_registry_free(NULL));
}

static void test_naming(void **state)
{
        char path_buf[256];
        static const unsigned int strict[3] = { BUS_CONFIG_SERVICEDIR_STRICT_NAMING, 0, 0 };
        struct fixture *f = *state;
        struct servicedir_registry *reg;

        {
                /* the strict (transient) directory is created when missing */
                char d[256];
                struct stat st;
                struct servicedir_registry *r2;
                struct bus_config_servicedir sd;

                snprintf(d, sizeof(d), "%s/runtime/dbus-1/services", f->root);
                sd = (struct bus_config_servicedir){ .path = d, .flags = BUS_CONFIG_SERVICEDIR_STRICT_NAMING };
                snprintf(path_buf, sizeof(path_buf), "%s/runtime", f->root);
                assert_int_equal(mkdir(path_buf, 0700), 0);
                assert_int_equal(servicedir_registry_new(&r2, &sd, 1, 0), 0);
                assert_int_equal(stat(d, &st), 0);
                assert_true(S_ISDIR(st.st_mode));
                assert_int_equal(st.st_mode & 07777, 0700);
                servicedir_registry_free(r2);
        }
        write_file(f->dir[0], "wrong.service", "org.example.Strict", "/s");
        write_file(f->dir[0], "org.example.Right.service", "org.example.Right", "/r");
        write_file(f->dir[1], "misnamed.service", "org.example.Loose", "/l");

        reg = make(f, strict, 0);
        assert_int_equal(servicedir_registry_rescan(reg, NULL), 0);
        assert_null(exec_of(reg, "org.example.Strict"));
        assert_string_equal(exec_of(reg, "org.example.Right"), "/r");
        assert_string_equal(exec_of(reg, "org.example.Loose"), "/l");
        assert_false(service_filename_matches(servicedir_registry_find(reg, "org.example.Loose")));
        servicedir_registry_free(reg);

        /* system bus: misnamed files load (direct activation refuses them) */
        reg = make(f, NULL, SERVICEDIR_REGISTRY_SYSTEM);
        assert_int_equal(servicedir_registry_rescan(reg, NULL), 0);
        assert_string_equal(exec_of(reg, "org.example.Strict"), "/s");
        assert_string_equal(exec_of(reg, "org.example.Loose"), "/l");
        servicedir_registry_free(reg);
}

static const struct servicedir_change *find_change(const struct servicedir_changes *c, const char *name)
{
        size_t i;

        for (i = 0; i < c->n_changes; ++i)
                if (!strcmp(c->changes[i].name, name))
                        return &c->changes[i];
        return NULL;
}

static void test_rescan_changes(void **state)
{
        struct fixture *f = *state;
        struct servicedir_registry *reg;
        struct servicedir_changes c = {};
        struct service *held;
        const struct bus_config_servicedir only2 = { .path = f->dir[2] };

        write_file(f->dir[0], "org.example.A.service", "org.example.A", "/a");
        write_file(f->dir[0], "org.example.B.service", "org.example.B", "/b");
        write_file(f->dir[1], "org.example.C.service", "org.example.C", "/c1");
        write_file(f->dir[2], "org.example.C.service", "org.example.C", "/c2");

        reg = make(f, NULL, 0);
        assert_int_equal(servicedir_registry_rescan(reg, &c), 0);
        assert_int_equal(c.n_changes, 3);
        assert_int_equal(c.changes[0].kind, SERVICEDIR_CHANGE_ADDED);
        assert_string_equal(c.changes[2].name, "org.example.C");
        servicedir_changes_deinit(&c);

        /* nothing changed */
        assert_int_equal(servicedir_registry_rescan(reg, &c), 0);
        assert_int_equal(c.n_changes, 0);
        servicedir_changes_deinit(&c);

        /* a reference survives the rescan that drops the entry */
        held = service_ref(servicedir_registry_find(reg, "org.example.C"));

        /* remove A, modify B, unshadow C, add D */
        remove_file(f->dir[0], "org.example.A.service");
        write_file(f->dir[0], "org.example.B.service", "org.example.B", "/b-new");
        remove_file(f->dir[1], "org.example.C.service");
        write_file(f->dir[1], "org.example.D.service", "org.example.D", "/d");
        assert_int_equal(servicedir_registry_rescan(reg, &c), 0);
        assert_int_equal(c.n_changes, 4);
        assert_int_equal(find_change(&c, "org.example.A")->kind, SERVICEDIR_CHANGE_REMOVED);
        assert_int_equal(find_change(&c, "org.example.B")->kind, SERVICEDIR_CHANGE_MODIFIED);
        assert_int_equal(find_change(&c, "org.example.C")->kind, SERVICEDIR_CHANGE_MODIFIED);
        assert_int_equal(find_change(&c, "org.example.D")->kind, SERVICEDIR_CHANGE_ADDED);
        servicedir_changes_deinit(&c);
        assert_string_equal(exec_of(reg, "org.example.C"), "/c2");
        assert_string_equal(held->exec, "/c1");
        service_unref(held);

        /* reload with another directory list */
        assert_int_equal(servicedir_registry_set_dirs(reg, &only2, 1), 0);
        assert_int_equal(servicedir_registry_rescan(reg, &c), 0);
        assert_int_equal(c.n_changes, 2); /* B and D removed */
        assert_int_equal(servicedir_registry_count(reg), 1);
        servicedir_changes_deinit(&c);
        servicedir_registry_free(reg);
}

static void test_lookup(void **state)
{
        struct fixture *f = *state;
        struct servicedir_registry *reg;
        struct servicedir_changes c = {};
        struct service *s = NULL;
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
        char path[512];

        reg = make(f, NULL, 0);
        assert_int_equal(servicedir_registry_rescan(reg, NULL), 0);
        assert_int_equal(servicedir_registry_lookup(reg, "org.example.L", &s, &c), SERVICEDIR_E_UNKNOWN);
        assert_null(s);
        assert_int_equal(c.n_changes, 0);
        servicedir_changes_deinit(&c);

        /* a new file is found by the rescan a failed lookup does */
        write_file(f->dir[1], "org.example.L.service", "org.example.L", "/l1");
        assert_int_equal(servicedir_registry_lookup(reg, "org.example.L", &s, &c), 0);
        assert_string_equal(s->exec, "/l1");
        assert_int_equal(c.n_changes, 1);
        assert_int_equal(c.changes[0].kind, SERVICEDIR_CHANGE_ADDED);
        servicedir_changes_deinit(&c);

        /* unchanged file: no rescan */
        assert_int_equal(servicedir_registry_lookup(reg, "org.example.L", &s, &c), 0);
        assert_int_equal(c.n_changes, 0);

        /* a changed file (other mtime) is reloaded */
        write_file(f->dir[1], "org.example.L.service", "org.example.L", "/l2");
        snprintf(path, sizeof(path), "%s/org.example.L.service", f->dir[1]);
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
        assert_int_equal(servicedir_registry_lookup(reg, "org.example.L", &s, NULL), 0);
        assert_string_equal(s->exec, "/l2");

        /* a removed file makes the name unknown */
        remove_file(f->dir[1], "org.example.L.service");
        assert_int_equal(servicedir_registry_lookup(reg, "org.example.L", &s, &c), SERVICEDIR_E_UNKNOWN);
        assert_int_equal(c.n_changes, 1);
        assert_int_equal(c.changes[0].kind, SERVICEDIR_CHANGE_REMOVED);
        servicedir_changes_deinit(&c);
        servicedir_registry_free(reg);
}

struct watch_state {
        size_t calls;
        size_t added, removed;
};

static void on_changed(void *userdata, const struct servicedir_changes *c)
{
        struct watch_state *w = userdata;
        size_t i;

        ++w->calls;
        for (i = 0; i < c->n_changes; ++i) {
                if (c->changes[i].kind == SERVICEDIR_CHANGE_ADDED)
                        ++w->added;
                if (c->changes[i].kind == SERVICEDIR_CHANGE_REMOVED)
                        ++w->removed;
        }
}

/* run the loop until @cond holds or 5 s pass */
#define RUN_UNTIL(_event, _cond) \
        do { \
                for (int _i = 0; _i < 500 && !(_cond); ++_i) \
                        assert_true(loop_run_once((_event), 10000) >= 0); \
                assert_true(_cond); \
        } while (0)

static void test_inotify(void **state)
{
        static const unsigned int flags[3] = { 0, BUS_CONFIG_SERVICEDIR_NO_WATCH, 0 };
        struct fixture *f = *state;
        struct servicedir_registry *reg;
        struct watch_state w = {};
        struct loop *event = NULL;
        char from[512], to[512];

        assert_int_equal(loop_new(&event), 0);
        reg = make(f, flags, 0);
        assert_int_equal(servicedir_registry_rescan(reg, NULL), 0);
        assert_int_equal(servicedir_registry_watch(reg, event, on_changed, &w), 0);
        assert_int_equal(servicedir_registry_watch(reg, event, on_changed, &w), -EBUSY);

        write_file(f->dir[0], "org.example.W.service", "org.example.W", "/w");
        RUN_UNTIL(event, w.added == 1);
        assert_non_null(servicedir_registry_find(reg, "org.example.W"));

        /* an atomic rename into place */
        write_file(f->root, "tmp.service", "org.example.R", "/r");
        snprintf(from, sizeof(from), "%s/tmp.service", f->root);
        snprintf(to, sizeof(to), "%s/org.example.R.service", f->dir[2]);
        assert_int_equal(rename(from, to), 0);
        RUN_UNTIL(event, w.added == 2);

        remove_file(f->dir[0], "org.example.W.service");
        RUN_UNTIL(event, w.removed == 1);
        assert_null(servicedir_registry_find(reg, "org.example.W"));

        /* the unwatched directory: no event, but a rescan finds it */
        write_file(f->dir[1], "org.example.U.service", "org.example.U", "/u");
        for (int i = 0; i < 10; ++i)
                assert_true(loop_run_once(event, 10000) >= 0);
        assert_null(servicedir_registry_find(reg, "org.example.U"));

        /* reload: watches move with the directories */
        {
                const struct bus_config_servicedir d = { .path = f->dir[1] };

                assert_int_equal(servicedir_registry_set_dirs(reg, &d, 1), 0);
                write_file(f->dir[1], "org.example.V.service", "org.example.V", "/v");
                RUN_UNTIL(event, servicedir_registry_find(reg, "org.example.V") != NULL);
                assert_non_null(servicedir_registry_find(reg, "org.example.U"));
        }

        servicedir_registry_free(reg);
        loop_free(event);
}

/*
 * The directories as the configuration yields them: <servicedir> first,
 * then <standard_session_servicedirs/> (runtime dir with strict naming,
 * $XDG_DATA_HOME, $XDG_DATA_DIRS in order).
 */
static void test_config_session_dirs(void **state)
{
        struct fixture *f = *state;
        struct bus_config *config = NULL;
        struct servicedir_registry *reg;
        char xml[2048], rt[256], home[256], dirs[512], p[512];
        char *err = NULL;
        const char *names[] = { "rt", "home", "d1", "d2", "explicit" };
        size_t i;

        for (i = 0; i < 5; ++i) {
                snprintf(p, sizeof(p), "%s/%s/dbus-1/services", f->root, names[i]);
                snprintf(xml, sizeof(xml), "mkdir -p '%s'", p);
                assert_int_equal(system(xml), 0);
        }
        snprintf(rt, sizeof(rt), "%s/rt", f->root);
        snprintf(home, sizeof(home), "%s/home", f->root);
        snprintf(dirs, sizeof(dirs), "%s/d1:%s/d2", f->root, f->root);
        setenv("XDG_RUNTIME_DIR", rt, 1);
        setenv("XDG_DATA_HOME", home, 1);
        setenv("XDG_DATA_DIRS", dirs, 1);
        snprintf(xml, sizeof(xml),
                 "<busconfig><listen>unix:tmpdir=/tmp</listen>"
                 "<servicedir>%s/explicit/dbus-1/services</servicedir>"
                 "<standard_session_servicedirs/></busconfig>", f->root);
        assert_int_equal(bus_config_parse(&config, xml, strlen(xml), "test.conf", NULL, &err), 0);
        unsetenv("XDG_RUNTIME_DIR");
        unsetenv("XDG_DATA_HOME");
        unsetenv("XDG_DATA_DIRS");

#define SVC(_d, _file, _name, _exec) \
        do { \
                snprintf(p, sizeof(p), "%s/%s/dbus-1/services", f->root, _d); \
                write_file(p, _file, _name, _exec); \
        } while (0)
        SVC("explicit", "org.example.A.service", "org.example.A", "/explicit");
        SVC("rt", "org.example.A.service", "org.example.A", "/rt");
        SVC("rt", "org.example.B.service", "org.example.B", "/rt");
        SVC("rt", "misnamed.service", "org.example.M", "/rt"); /* strict: skipped */
        SVC("home", "org.example.B.service", "org.example.B", "/home");
        SVC("home", "org.example.C.service", "org.example.C", "/home");
        SVC("home", "org.example.M.service", "org.example.M", "/home");
        SVC("d1", "org.example.C.service", "org.example.C", "/d1");
        SVC("d1", "org.example.D.service", "org.example.D", "/d1");
        SVC("d2", "org.example.D.service", "org.example.D", "/d2");
        SVC("d2", "org.example.E.service", "org.example.E", "/d2");
#undef SVC

        assert_int_equal(servicedir_registry_new(&reg, config->servicedirs, config->n_servicedirs, 0), 0);
        assert_int_equal(servicedir_registry_rescan(reg, NULL), 0);
        assert_string_equal(exec_of(reg, "org.example.A"), "/explicit");
        assert_string_equal(exec_of(reg, "org.example.B"), "/rt");
        assert_string_equal(exec_of(reg, "org.example.C"), "/home");
        assert_string_equal(exec_of(reg, "org.example.M"), "/home");
        assert_string_equal(exec_of(reg, "org.example.D"), "/d1");
        assert_string_equal(exec_of(reg, "org.example.E"), "/d2");
        servicedir_registry_free(reg);
        bus_config_free(config);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
                cmocka_unit_test_setup_teardown(test_naming, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rescan_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_inotify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_session_dirs, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * policy-eval (built as test/policy/test-policy-eval): evaluate one request against a configuration file with
 * libpolicy and print "allow" or "deny". Used by test-dbus-verdicts.py to
 * compare our verdicts with the ones recorded from dbus-daemon.
 *
 *   policy-eval CONFIG parse
 *   policy-eval CONFIG connect UID BUS_UID
 *   policy-eval CONFIG own UID NAME
 *   policy-eval CONFIG call SENDER_UID RECEIVER_UID DEST PATH IFACE MEMBER NAMES [N_FDS]
 *   policy-eval CONFIG eavesdrop SENDER_UID RECEIVER_UID DEST PATH IFACE MEMBER NAMES EAVESDROPPER_UID
 *   policy-eval CONFIG signal SENDER_UID RECEIVER_UID DEST PATH IFACE MEMBER NAMES
 *   policy-eval CONFIG reply SENDER_UID RECEIVER_UID TYPE REQUESTED NAMES [ERROR_NAME]
 *
 * "call" is a method call from a connection of SENDER_UID to one of
 * RECEIVER_UID owning NAMES (comma-separated; DEST is the destination
 * field): it passes if the sender may send it and the receiver may receive
 * it, which is what decides whether dbus-daemon delivers it. IFACE "-" means
 * no interface. A DEST of org.freedesktop.DBus is a call to the driver: the
 * receive side is not checked and the destination field is matched, as in
 * dbus-daemon. "eavesdrop" is the same call seen by an eavesdropper of
 * EAVESDROPPER_UID owning no name: as in dbus-daemon, the call must pass for
 * its addressed recipient, then the sender's send rules are checked against
 * the eavesdropper (not the addressed recipient) and the eavesdropper's
 * receive rules with eavesdropping set. Groups are the users' groups from
 * the user database.
 *
 * "signal" is a signal seen by a subscriber of RECEIVER_UID owning NAMES
 * through a match rule; DEST "-" makes it a broadcast. dbus-daemon checks
 * the sender's send rules with the subscriber as receiver, then the
 * subscriber's receive rules.
 *
 * "reply" is a reply (TYPE "method_return" or "error" named ERROR_NAME)
 * from a connection of SENDER_UID owning NAMES to one of RECEIVER_UID owning
 * no name, REQUESTED "1" if the receiver called the sender and waits for
 * it, "0" if not: it passes if the sender's send rules and the receiver's
 * receive rules allow it with that requested_reply.
 *
 * "parse" prints "valid", or "invalid" and the error on the next line.
 *
 * Exit status: 0 with a verdict printed, 2 on usage or load errors.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/db.h"

static size_t user_groups(uint32_t uid, uint32_t *gids, size_t max)
{
        struct passwd *pw = getpwuid(uid);
        gid_t list[64];
        int n = 64, i;

        if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, list, &n) < 0)
                return 0;
        for (i = 0; i < n && (size_t)i < max; ++i)
                gids[i] = list[i];
        return i;
}

static int snapshot(struct policy_snapshot *s, struct policy_db *db, uint32_t uid)
{
        uint32_t gids[64];
        size_t n = user_groups(uid, gids, 64);

        return policy_snapshot_init(s, db, uid, gids, n, false);
}

int main(int argc, char **argv)
{
        struct bus_config *config = NULL;
        struct policy_db *db = NULL;
        struct policy_verdict v = {};
        char *err = NULL;
        int r;

        if (argc == 3 && !strcmp(argv[2], "parse")) {
                r = bus_config_load(&config, argv[1], NULL, &err);
                if (r < 0)
                        return 2;
                printf(r ? "invalid\n%s\n" : "valid\n", err);
                free(err);
                bus_config_free(config);
                return 0;
        }
        if (argc < 4) {
                fprintf(stderr, "usage: see the header of policy-eval.c\n");
                return 2;
        }
        r = bus_config_load(&config, argv[1], NULL, &err);
        if (r) {
                fprintf(stderr, "%s: %s\n", argv[1], err ? err : "out of memory");
                free(err);
                return 2;
        }
        if (policy_db_new(&db, config) < 0)
                return 2;

        if (!strcmp(argv[2], "connect") && argc == 5) {
                uint32_t gids[64];
                uint32_t uid = strtoul(argv[3], NULL, 10);
                size_t n = user_groups(uid, gids, 64);

                policy_db_check_connect(db, uid, gids, n, strtoul(argv[4], NULL, 10), &v);
        } else if (!strcmp(argv[2], "own") && argc == 5) {
                struct policy_snapshot s;

                if (snapshot(&s, db, strtoul(argv[3], NULL, 10)) < 0)
                        return 2;
                policy_snapshot_check_own(&s, argv[4], &v);
                policy_snapshot_deinit(&s);
        } else if ((!strcmp(argv[2], "call") && (argc == 10 || argc == 11)) ||
                   (!strcmp(argv[2], "eavesdrop") && argc == 11)) {
                const char *sender_names[] = { ":1.0" };
                const char *names[16];
                struct policy_message m = {
                        .type = POLICY_TYPE_METHOD_CALL,
                        .destination = argv[5],
                        .path = argv[6],
                        .interface = strcmp(argv[7], "-") ? argv[7] : NULL,
                        .member = argv[8],
                        .sender = ":1.0",
                        .n_fds = argc == 11 && argv[2][0] == 'c' ? strtoul(argv[10], NULL, 10) : 0,
                };
                struct policy_snapshot sender, receiver;
                size_t n = 0;
                char *list = argv[9], *tok;

                while ((tok = strsep(&list, ",")) && n < 16)
                        if (*tok)
                                names[n++] = tok;
                if (snapshot(&sender, db, strtoul(argv[3], NULL, 10)) < 0 ||
                    snapshot(&receiver, db, strtoul(argv[4], NULL, 10)) < 0)
                        return 2;
                bool driver = !strcmp(m.destination, "org.freedesktop.DBus");

                policy_snapshot_check_send(&sender, &m, driver ? NULL : names, n, false, &v);
                if (v.allow && !driver)
                        policy_snapshot_check_receive(&receiver, &m, sender_names, 1, false, false, &v);
                if (v.allow && argc == 11 && argv[2][0] == 'e') {
                        const char *eavesdropper_names[] = { ":1.99" };
                        struct policy_snapshot eavesdropper;

                        if (snapshot(&eavesdropper, db, strtoul(argv[10], NULL, 10)) < 0)
                                return 2;
                        policy_snapshot_check_send(&sender, &m, eavesdropper_names, 1, false, &v);
                        if (v.allow)
                                policy_snapshot_check_receive(&eavesdropper, &m, sender_names, 1, false, true, &v);
                        policy_snapshot_deinit(&eavesdropper);
                }
                policy_snapshot_deinit(&sender);
                policy_snapshot_deinit(&receiver);
        } else if (!strcmp(argv[2], "signal") && argc == 10) {
                const char *sender_names[] = { ":1.0" };
                const char *names[16];
                struct policy_message m = {
                        .type = POLICY_TYPE_SIGNAL,
                        .destination = strcmp(argv[5], "-") ? argv[5] : NULL,
                        .path = argv[6],
                        .interface = argv[7],
                        .member = argv[8],
                        .sender = ":1.0",
                };
                struct policy_snapshot sender, receiver;
                bool addressed = !m.destination;
                size_t n = 0, k;
                char *list = argv[9], *tok;

                while ((tok = strsep(&list, ",")) && n < 16)
                        if (*tok)
                                names[n++] = tok;
                for (k = 0; k < n; ++k)
                        addressed |= m.destination && !strcmp(names[k], m.destination);
                if (snapshot(&sender, db, strtoul(argv[3], NULL, 10)) < 0 ||
                    snapshot(&receiver, db, strtoul(argv[4], NULL, 10)) < 0)
                        return 2;
                policy_snapshot_check_send(&sender, &m, names, n, false, &v);
                if (v.allow)
                        policy_snapshot_check_receive(&receiver, &m, sender_names, 1, false, !addressed, &v);
                policy_snapshot_deinit(&sender);
                policy_snapshot_deinit(&receiver);
        } else if (!strcmp(argv[2], "reply") && (argc == 8 || argc == 9)) {
                const char *receiver_names[] = { ":1.99" };
                const char *names[17];
                bool is_error = !strcmp(argv[5], "error");
                bool requested = !strcmp(argv[6], "1");
                struct policy_message m = {
                        .type = is_error ? POLICY_TYPE_ERROR : POLICY_TYPE_METHOD_RETURN,
                        .is_reply = true,
                        .error = argc == 9 ? argv[8] : NULL,
                        .destination = ":1.99",
                        .sender = ":1.0",
                };
                struct policy_snapshot sender, receiver;
                size_t n = 0;
                char *list = argv[7], *tok;

                if (is_error != (argc == 9) || (!is_error && strcmp(argv[5], "method_return"))) {
                        fprintf(stderr, "usage: see the header of policy-eval.c\n");
                        return 2;
                }
                names[n++] = ":1.0";
                while ((tok = strsep(&list, ",")) && n < 17)
                        if (*tok)
                                names[n++] = tok;
                if (snapshot(&sender, db, strtoul(argv[3], NULL, 10)) < 0 ||
                    snapshot(&receiver, db, strtoul(argv[4], NULL, 10)) < 0)
                        return 2;
                policy_snapshot_check_send(&sender, &m, receiver_names, 1, requested, &v);
                if (v.allow)
                        policy_snapshot_check_receive(&receiver, &m, names, n, requested, false, &v);
                policy_snapshot_deinit(&sender);
                policy_snapshot_deinit(&receiver);
        } else {
                fprintf(stderr, "usage: see the header of policy-eval.c\n");
                return 2;
        }
        printf("%s\n", v.allow ? "allow" : "deny");
        policy_db_unref(db);
        bus_config_free(config);
        return 0;
}

/*
 * Drives dbus-proxy/name.c from a script on stdin, for test-name-daemon.py,
 * which runs the same script against dbus-daemon and compares. One command
 * per line, owners are slot numbers 0..63:
 *   req SLOT NAME FLAGS   -> "R <code>", then "C <name> <old> <new>" per change
 *   rel SLOT NAME         -> same
 *   drop SLOT             -> "R 0", changes (the slot is then a fresh owner)
 *   queue NAME            -> "Q <slot>..." (primary first; just "Q" if none)
 * An owner in a change is its slot number, or '-' for none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/name.h"

#define N_SLOTS 64

static struct name_owner owners[N_SLOTS];

static void print_owner(const struct name_owner *o)
{
        if (o)
                printf(" %d", (int)(o - owners));
        else
                printf(" -");
}

static void print_changes(struct name_changes *c)
{
        for (size_t i = 0; i < c->n_changes; ++i) {
                printf("C %s", name_change_name(&c->changes[i]));
                print_owner(c->changes[i].old_owner);
                print_owner(c->changes[i].new_owner);
                printf("\n");
        }
        name_changes_clear(c);
}

int main(void)
{
        struct name_registry reg;
        struct name_changes changes;
        char line[1024], cmd[16], name[512];
        unsigned int flags;
        int slot, r;

        name_registry_init(&reg);
        name_changes_init(&changes);
        for (int i = 0; i < N_SLOTS; ++i)
                name_owner_init(&owners[i]);

        while (fgets(line, sizeof(line), stdin)) {
                if (sscanf(line, "%15s", cmd) != 1)
                        continue;
                if (strcmp(cmd, "req") == 0 && sscanf(line, "%*s %d %511s %u", &slot, name, &flags) == 3 &&
                    slot >= 0 && slot < N_SLOTS) {
                        r = name_registry_request(&reg, &owners[slot], name, flags, &changes);
                } else if (strcmp(cmd, "rel") == 0 && sscanf(line, "%*s %d %511s", &slot, name) == 2 &&
                           slot >= 0 && slot < N_SLOTS) {
                        r = name_registry_release(&reg, &owners[slot], name, &changes);
                } else if (strcmp(cmd, "drop") == 0 && sscanf(line, "%*s %d", &slot) == 1 &&
                           slot >= 0 && slot < N_SLOTS) {
                        r = name_registry_release_all(&reg, &owners[slot], &changes);
                } else if (strcmp(cmd, "queue") == 0 && sscanf(line, "%*s %511s", name) == 1) {
                        struct name_entry *e = name_registry_find(&reg, name);
                        struct name_ownership *o;

                        printf("Q");
                        if (e)
                                name_entry_for_each_ownership(o, e)
                                        print_owner(o->owner);
                        printf("\n");
                        continue;
                } else {
                        fprintf(stderr, "bad command: %s", line);
                        return 2;
                }
                printf("R %d\n", r);
                print_changes(&changes);
        }

        for (int i = 0; i < N_SLOTS; ++i) {
                if (name_registry_release_all(&reg, &owners[i], &changes) < 0)
                        return 1;
                name_owner_deinit(&owners[i]);
        }
        name_changes_clear(&changes);
        name_registry_deinit(&reg);
        return 0;
}

/*
 * Intrusive red-black tree (see rbtree.h for the invariants).
 *
 * Missing children are NULL and count as black. The algorithms are the
 * classic bottom-up insertion and deletion fixups; the deletion tracks the
 * parent of the (possibly missing) node that carries the extra blackness,
 * since a NULL child has no parent pointer of its own.
 */
#include <stdbool.h>
#include <stddef.h>

#include "util/rbtree.h"

static bool rb_is_red(const struct rb_node *n)
{
        return n && n->red;
}

/* Make @parent's link that pointed to @old (or the root) point to @new. */
static void rb_change_child(struct rb_root *root, struct rb_node *parent,
                            struct rb_node *old, struct rb_node *new)
{
        if (!parent)
                root->node = new;
        else if (parent->left == old)
                parent->left = new;
        else
                parent->right = new;
}

/*
 *     x                y
 *    / \              / \
 *   a   y     ->     x   c
 *      / \          / \
 *     b   c        a   b
 */
static void rb_rotate_left(struct rb_root *root, struct rb_node *x)
{
        struct rb_node *y = x->right;

        x->right = y->left;
        if (y->left)
                y->left->parent = x;
        y->parent = x->parent;
        rb_change_child(root, x->parent, x, y);
        y->left = x;
        x->parent = y;
}

/* Mirror image of rb_rotate_left(). */
static void rb_rotate_right(struct rb_root *root, struct rb_node *x)
{
        struct rb_node *y = x->left;

        x->left = y->right;
        if (y->right)
                y->right->parent = x;
        y->parent = x->parent;
        rb_change_child(root, x->parent, x, y);
        y->right = x;
        x->parent = y;
}

void rb_insert_fixup(struct rb_root *root, struct rb_node *n)
{
        struct rb_node *p, *g, *u;

        /* @n is red; the only possible violation is a red @p (or red root). */
        while ((p = n->parent) && p->red) {
                /* A red node is never the root, so @g exists. */
                g = p->parent;
                if (p == g->left) {
                        u = g->right;
                        if (rb_is_red(u)) {
                                /* Push the blackness of @g down one level. */
                                p->red = false;
                                u->red = false;
                                g->red = true;
                                n = g;
                                continue;
                        }
                        if (n == p->right) {
                                rb_rotate_left(root, p);
                                n = p;
                                p = n->parent;
                        }
                        p->red = false;
                        g->red = true;
                        rb_rotate_right(root, g);
                } else {
                        u = g->left;
                        if (rb_is_red(u)) {
                                p->red = false;
                                u->red = false;
                                g->red = true;
                                n = g;
                                continue;
                        }
                        if (n == p->left) {
                                rb_rotate_right(root, p);
                                n = p;
                                p = n->parent;
                        }
                        p->red = false;
                        g->red = true;
                        rb_rotate_left(root, g);
                }
        }
        root->node->red = false;
}

/* Put @v (possibly NULL) where @u is; @u's own links are left alone. */
static void rb_transplant(struct rb_root *root, struct rb_node *u, struct rb_node *v)
{
        rb_change_child(root, u->parent, u, v);
        if (v)
                v->parent = u->parent;
}

/*
 * @x (possibly NULL) below @xp carries one extra black: the paths through it
 * are one black node short. Move the deficit up or fix it by rotation.
 */
static void rb_remove_fixup(struct rb_root *root, struct rb_node *x, struct rb_node *xp)
{
        struct rb_node *w;

        while (x != root->node && !rb_is_red(x)) {
                if (x == xp->left) {
                        /* The sibling exists: its side has black height >= 1. */
                        w = xp->right;
                        if (w->red) {
                                w->red = false;
                                xp->red = true;
                                rb_rotate_left(root, xp);
                                w = xp->right;
                        }
                        if (!rb_is_red(w->left) && !rb_is_red(w->right)) {
                                w->red = true;
                                x = xp;
                                xp = x->parent;
                                continue;
                        }
                        if (!rb_is_red(w->right)) {
                                w->left->red = false;
                                w->red = true;
                                rb_rotate_right(root, w);
                                w = xp->right;
                        }
                        w->red = xp->red;
                        xp->red = false;
                        w->right->red = false;
                        rb_rotate_left(root, xp);
                        x = root->node;
                        break;
                } else {
                        w = xp->left;
                        if (w->red) {
                                w->red = false;
                                xp->red = true;
                                rb_rotate_right(root, xp);
                                w = xp->left;
                        }
                        if (!rb_is_red(w->left) && !rb_is_red(w->right)) {
                                w->red = true;
                                x = xp;
                                xp = x->parent;
                                continue;
                        }
                        if (!rb_is_red(w->left)) {
                                w->right->red = false;
                                w->red = true;
                                rb_rotate_left(root, w);
                                w = xp->left;
                        }
                        w->red = xp->red;
                        xp->red = false;
                        w->left->red = false;
                        rb_rotate_right(root, xp);
                        x = root->node;
                        break;
                }
        }
        if (x)
                x->red = false;
}

void rb_remove(struct rb_root *root, struct rb_node *z)
{
        struct rb_node *x, *xp, *y;
        bool removed_red;

        if (!z->left) {
                x = z->right;
                xp = z->parent;
                removed_red = z->red;
                rb_transplant(root, z, x);
        } else if (!z->right) {
                x = z->left;
                xp = z->parent;
                removed_red = z->red;
                rb_transplant(root, z, x);
        } else {
                /* Two children: the successor @y takes @z's place and colour. */
                y = z->right;
                while (y->left)
                        y = y->left;
                removed_red = y->red;
                x = y->right;
                if (y->parent == z) {
                        xp = y;
                } else {
                        xp = y->parent;
                        rb_transplant(root, y, x);
                        y->right = z->right;
                        y->right->parent = y;
                }
                rb_transplant(root, z, y);
                y->left = z->left;
                y->left->parent = y;
                y->red = z->red;
        }

        if (!removed_red)
                rb_remove_fixup(root, x, xp);
        rb_node_init(z);
}

struct rb_node *rb_first(const struct rb_root *root)
{
        struct rb_node *n = root->node;

        if (n)
                while (n->left)
                        n = n->left;
        return n;
}

struct rb_node *rb_last(const struct rb_root *root)
{
        struct rb_node *n = root->node;

        if (n)
                while (n->right)
                        n = n->right;
        return n;
}

struct rb_node *rb_next(const struct rb_node *n)
{
        struct rb_node *p;

        if (n->right) {
                p = n->right;
                while (p->left)
                        p = p->left;
                return p;
        }
        while ((p = n->parent) && n == p->right)
                n = p;
        return p;
}

struct rb_node *rb_prev(const struct rb_node *n)
{
        struct rb_node *p;

        if (n->left) {
                p = n->left;
                while (p->right)
                        p = p->right;
                return p;
        }
        while ((p = n->parent) && n == p->left)
                n = p;
        return p;
}

struct rb_node *rb_find(const struct rb_root *root, const void *key, rb_cmp_fn cmp)
{
        struct rb_node *n = root->node;
        int c;

        while (n) {
                c = cmp(key, n);
                if (c < 0)
                        n = n->left;
                else if (c > 0)
                        n = n->right;
                else
                        return n;
        }
        return NULL;
}

struct rb_node *rb_insert(struct rb_root *root, struct rb_node *n, const void *key, rb_cmp_fn cmp)
{
        struct rb_node **slot = &root->node, *parent = NULL;
        int c;

        while (*slot) {
                parent = *slot;
                c = cmp(key, parent);
                if (c < 0)
                        slot = &parent->left;
                else if (c > 0)
                        slot = &parent->right;
                else
                        return parent;
        }
        rb_link(n, parent, slot);
        rb_insert_fixup(root, n);
        return NULL;
}

#pragma once

/*
 * Intrusive red-black tree
 *
 * Objects embed a `struct rb_node`; a tree is a `struct rb_root`. Linking
 * never allocates and never fails. The tree does not know the ordering of its
 * entries: callers walk down from the root with their own comparison to find
 * the empty slot a new node belongs into, link it there with rb_link() and
 * rebalance with rb_insert_fixup(). rb_find() and rb_insert() wrap that walk
 * for callers that are happy with a compare callback.
 *
 * Red-black invariants (hold between any two calls of this API):
 *  1. every node is red or black; missing children (NULL) count as black;
 *  2. the root is black;
 *  3. a red node has no red child;
 *  4. every path from a node down to a missing child passes the same number
 *     of black nodes (the black height);
 *  5. for every linked node n: n->left/n->right (if any) point back to n
 *     through their parent, and the root's parent is NULL.
 * Hence the height is at most 2*log2(n+1) and every operation is O(log n).
 *
 * A node that is not in any tree is "unlinked": its parent points to itself
 * (after rb_node_init() and after rb_remove()), so rb_node_is_linked() tells
 * whether it is in a tree. rb_link() expects an unlinked node.
 *
 * Freestanding: no libc; usable from core/ (and later a kernel module).
 * Not thread-safe: callers serialise access to one tree.
 */

#include <stdbool.h>
#include <stddef.h>

struct rb_node {
        struct rb_node *parent; /* NULL for the root; self if unlinked */
        struct rb_node *left;
        struct rb_node *right;
        bool red;
};

struct rb_root {
        struct rb_node *node; /* NULL if the tree is empty */
};

/** RB_ROOT_INIT - static initialiser of an empty tree. */
#define RB_ROOT_INIT { .node = NULL }

/** RB_NODE_INIT(name) - static initialiser of an unlinked node @name. */
#define RB_NODE_INIT(_name) { .parent = &(_name) }

/** rb_entry() - the object that embeds @_node as member @_member. */
#define rb_entry(_node, _type, _member) \
        ((_type *)(void *)((char *)(_node) - offsetof(_type, _member)))

/** rb_entry_safe() - like rb_entry(), but maps a NULL @_node to NULL. */
#define rb_entry_safe(_node, _type, _member) \
        ({ \
                struct rb_node *_rb_n = (_node); \
                _rb_n ? rb_entry(_rb_n, _type, _member) : NULL; \
        })

/** rb_node_init() - mark @n unlinked. */
static inline void rb_node_init(struct rb_node *n)
{
        n->parent = n;
        n->left = NULL;
        n->right = NULL;
        n->red = false;
}

/** rb_node_is_linked() - whether @n is in a tree. */
static inline bool rb_node_is_linked(const struct rb_node *n)
{
        return n->parent != n;
}

/** rb_root_init() - make @root an empty tree. */
static inline void rb_root_init(struct rb_root *root)
{
        root->node = NULL;
}

/** rb_root_is_empty() - whether @root has no nodes. */
static inline bool rb_root_is_empty(const struct rb_root *root)
{
        return root->node == NULL;
}

/**
 * rb_link() - put unlinked @n into the empty slot @slot below @parent.
 * @n:      the node to link (must be unlinked)
 * @parent: the node whose child slot @slot is, or NULL if @slot is the root
 * @slot:   &parent->left, &parent->right, or &root->node of an empty tree;
 *          must currently be NULL
 *
 * Leaves the tree unbalanced; the caller must call rb_insert_fixup() next,
 * before any other operation on the tree.
 */
static inline void rb_link(struct rb_node *n, struct rb_node *parent, struct rb_node **slot)
{
        n->parent = parent;
        n->left = NULL;
        n->right = NULL;
        n->red = true;
        *slot = n;
}

/**
 * rb_insert_fixup() - rebalance @root after rb_link() linked @n.
 * @root: the tree
 * @n:    the node just linked
 *
 * Restores the red-black invariants. O(log n), at most two rotations.
 */
void rb_insert_fixup(struct rb_root *root, struct rb_node *n);

/**
 * rb_remove() - take @n out of @root and leave it unlinked.
 * @root: the tree @n is in
 * @n:    a linked node of @root
 *
 * Other nodes stay linked and keep their relative order; iterators pointing
 * to other nodes stay valid. O(log n), at most three rotations.
 */
void rb_remove(struct rb_root *root, struct rb_node *n);

/** rb_first() - the leftmost (smallest) node of @root, or NULL if empty. */
struct rb_node *rb_first(const struct rb_root *root);

/** rb_last() - the rightmost (largest) node of @root, or NULL if empty. */
struct rb_node *rb_last(const struct rb_root *root);

/** rb_next() - the in-order successor of linked @n, or NULL if @n is last. */
struct rb_node *rb_next(const struct rb_node *n);

/** rb_prev() - the in-order predecessor of linked @n, or NULL if @n is first. */
struct rb_node *rb_prev(const struct rb_node *n);

/**
 * rb_cmp_fn - ordering callback of rb_find()/rb_insert().
 * @key:  the key searched for (rb_find) or the key of the new node (rb_insert)
 * @node: a linked node of the tree
 *
 * Return: <0 if @key sorts before @node, >0 if after, 0 if equal.
 */
typedef int (*rb_cmp_fn)(const void *key, const struct rb_node *node);

/**
 * rb_find() - look a key up.
 * @root: the tree
 * @key:  passed unchanged to @cmp
 * @cmp:  the tree's ordering
 *
 * Return: a node comparing equal to @key, or NULL if there is none.
 */
struct rb_node *rb_find(const struct rb_root *root, const void *key, rb_cmp_fn cmp);

/**
 * rb_insert() - link unlinked @n at its sorted position unless its key exists.
 * @root: the tree
 * @n:    the node to insert (must be unlinked)
 * @key:  the key of @n, passed unchanged to @cmp
 * @cmp:  the tree's ordering
 *
 * Return: NULL if @n was linked, or the already linked node comparing equal
 *         to @key (then @n is left unlinked and the tree is unchanged).
 */
struct rb_node *rb_insert(struct rb_root *root, struct rb_node *n, const void *key, rb_cmp_fn cmp);

/**
 * rb_for_each() - in-order iteration; the current node must not be removed.
 */
#define rb_for_each(_n, _root) \
        for ((_n) = rb_first(_root); (_n); (_n) = rb_next(_n))

/**
 * rb_for_each_safe() - in-order iteration; the current node may be removed
 * (or freed) in the loop body, other nodes may not.
 */
#define rb_for_each_safe(_n, _tmp, _root) \
        for ((_n) = rb_first(_root), (_tmp) = (_n) ? rb_next(_n) : NULL; (_n); \
             (_n) = (_tmp), (_tmp) = (_n) ? rb_next(_n) : NULL)

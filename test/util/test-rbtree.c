/*
 * Unit tests of util/rbtree.[ch]: empty, one, many, lookups, removal during
 * in-order iteration, and a randomized insert/remove sequence that checks
 * every red-black invariant after every single operation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "util/rbtree.h"

struct item {
        int key;
        struct rb_node rb;
};

static int item_cmp(const void *key, const struct rb_node *n)
{
        int k = *(const int *)key;
        int v = rb_entry(n, const struct item, rb)->key;

        return (k > v) - (k < v);
}

/* Black height of the subtree @n, checking all invariants below @n. */
static size_t check_subtree(const struct rb_node *n, const struct rb_node *parent, size_t *count)
{
        size_t lh, rh;

        if (!n)
                return 1;
        ++*count;
        assert_ptr_equal(n->parent, parent);
        assert_true(rb_node_is_linked(n));
        if (n->red) {
                /* no red-red */
                assert_true(!n->left || !n->left->red);
                assert_true(!n->right || !n->right->red);
        }
        if (n->left)
                assert_true(item_cmp(&rb_entry(n->left, const struct item, rb)->key, n) < 0);
        if (n->right)
                assert_true(item_cmp(&rb_entry(n->right, const struct item, rb)->key, n) > 0);
        lh = check_subtree(n->left, n, count);
        rh = check_subtree(n->right, n, count);
        assert_int_equal(lh, rh);
        return lh + !n->red;
}

static size_t depth(const struct rb_node *n)
{
        size_t l, r;

        if (!n)
                return 0;
        l = depth(n->left);
        r = depth(n->right);
        return 1 + (l > r ? l : r);
}

/* Check every invariant of @root, which must hold exactly @expected nodes. */
static void check_tree(const struct rb_root *root, size_t expected)
{
        const struct rb_node *n, *prev = NULL;
        size_t count = 0, walked = 0, height;

        if (root->node) {
                assert_false(root->node->red);
                assert_null(root->node->parent);
        }
        height = check_subtree(root->node, NULL, &count);
        assert_int_equal(count, expected);
        /* a tree of black height bh holds at least 2^(bh-1) - 1 nodes, and
         * its depth is at most 2 * (bh - 1): the tree is balanced */
        assert_true(height >= 1 && height <= 64);
        assert_true(height >= 1 && ((size_t)1 << (height - 1)) - 1 <= count);
        assert_true(height >= 1 && depth(root->node) <= 2 * (height - 1));

        /* in-order walk forward: sorted, count matches, prev links agree */
        rb_for_each(n, root) {
                if (prev) {
                        assert_true(rb_entry(prev, const struct item, rb)->key <
                                    rb_entry(n, const struct item, rb)->key);
                        assert_ptr_equal(rb_prev(n), prev);
                } else {
                        assert_ptr_equal(n, rb_first(root));
                        assert_null(rb_prev(n));
                }
                prev = n;
                ++walked;
        }
        assert_int_equal(walked, expected);
        assert_ptr_equal(prev, rb_last(root));
}

static void test_empty(void **state)
{
        struct rb_root root = RB_ROOT_INIT;
        struct rb_node *n;
        int key = 1, visited = 0;

        assert_true(rb_root_is_empty(&root));
        assert_null(rb_first(&root));
        assert_null(rb_last(&root));
        assert_null(rb_find(&root, &key, item_cmp));
        rb_for_each(n, &root)
                ++visited;
        assert_int_equal(visited, 0);
        check_tree(&root, 0);
}

static void test_one(void **state)
{
        struct rb_root root = RB_ROOT_INIT;
        struct item a = { .key = 7, .rb = RB_NODE_INIT(a.rb) };
        int key;

        assert_false(rb_node_is_linked(&a.rb));
        /* the manual pattern: find the slot, link, fix up */
        rb_link(&a.rb, NULL, &root.node);
        rb_insert_fixup(&root, &a.rb);
        assert_true(rb_node_is_linked(&a.rb));
        assert_false(rb_root_is_empty(&root));
        check_tree(&root, 1);
        assert_ptr_equal(rb_first(&root), &a.rb);
        assert_ptr_equal(rb_last(&root), &a.rb);
        assert_null(rb_next(&a.rb));
        assert_null(rb_prev(&a.rb));
        assert_ptr_equal(rb_entry(rb_first(&root), struct item, rb), &a);
        key = 7;
        assert_ptr_equal(rb_find(&root, &key, item_cmp), &a.rb);
        key = 6;
        assert_null(rb_find(&root, &key, item_cmp));
        assert_null(rb_entry_safe(rb_find(&root, &key, item_cmp), struct item, rb));

        rb_remove(&root, &a.rb);
        assert_false(rb_node_is_linked(&a.rb));
        assert_true(rb_root_is_empty(&root));
        check_tree(&root, 0);
}

#define N_MANY 1000

static void test_many(void **state)
{
        static struct item items[N_MANY];
        struct rb_root root = RB_ROOT_INIT;
        struct rb_node *n;
        struct item dup;
        int i, key, expect;

        /* ascending, descending and interleaved insertion orders all stress
         * different rotation cases */
        for (i = 0; i < N_MANY; ++i) {
                items[i].key = (i * 7919) % N_MANY; /* a permutation: 7919 is prime */
                rb_node_init(&items[i].rb);
                assert_null(rb_insert(&root, &items[i].rb, &items[i].key, item_cmp));
        }
        check_tree(&root, N_MANY);

        /* duplicates are refused and the tree is unchanged */
        dup.key = 500;
        rb_node_init(&dup.rb);
        n = rb_insert(&root, &dup.rb, &dup.key, item_cmp);
        assert_non_null(n);
        assert_int_equal(rb_entry(n, struct item, rb)->key, 500);
        assert_false(rb_node_is_linked(&dup.rb));
        check_tree(&root, N_MANY);

        /* every key is found; keys outside are not */
        for (key = 0; key < N_MANY; ++key) {
                n = rb_find(&root, &key, item_cmp);
                assert_non_null(n);
                assert_int_equal(rb_entry(n, struct item, rb)->key, key);
        }
        key = -1;
        assert_null(rb_find(&root, &key, item_cmp));
        key = N_MANY;
        assert_null(rb_find(&root, &key, item_cmp));

        /* backwards walk sees N_MANY-1 .. 0 */
        expect = N_MANY - 1;
        for (n = rb_last(&root); n; n = rb_prev(n))
                assert_int_equal(rb_entry(n, struct item, rb)->key, expect--);
        assert_int_equal(expect, -1);

        /* remove the even keys, then the odd keys */
        for (i = 0; i < N_MANY; ++i)
                if (items[i].key % 2 == 0)
                        rb_remove(&root, &items[i].rb);
        check_tree(&root, N_MANY / 2);
        for (i = 0; i < N_MANY; ++i)
                assert_int_equal(rb_node_is_linked(&items[i].rb), items[i].key % 2 == 1);
        for (i = 0; i < N_MANY; ++i)
                if (items[i].key % 2 == 1)
                        rb_remove(&root, &items[i].rb);
        check_tree(&root, 0);
}

static void test_remove_while_iterating(void **state)
{
        static struct item items[200];
        struct rb_root root = RB_ROOT_INIT;
        struct rb_node *n, *tmp;
        int i, seen = 0, left;

        for (i = 0; i < 200; ++i) {
                items[i].key = i;
                rb_node_init(&items[i].rb);
                assert_null(rb_insert(&root, &items[i].rb, &items[i].key, item_cmp));
        }

        /* remove every third entry during an in-order walk */
        rb_for_each_safe(n, tmp, &root) {
                assert_int_equal(rb_entry(n, struct item, rb)->key, seen);
                if (seen % 3 == 0)
                        rb_remove(&root, n);
                ++seen;
        }
        assert_int_equal(seen, 200);
        left = 200 - (200 + 2) / 3;
        check_tree(&root, (size_t)left);

        /* remove all of the rest during another walk */
        seen = 0;
        rb_for_each_safe(n, tmp, &root) {
                assert_int_not_equal(rb_entry(n, struct item, rb)->key % 3, 0);
                rb_remove(&root, n);
                ++seen;
                check_tree(&root, (size_t)(left - seen));
        }
        assert_int_equal(seen, left);
        assert_true(rb_root_is_empty(&root));
}

/* Link with the manual slot-finding pattern, as most callers will. */
static void insert_manual(struct rb_root *root, struct item *it)
{
        struct rb_node **slot = &root->node, *parent = NULL;

        while (*slot) {
                parent = *slot;
                if (it->key < rb_entry(parent, struct item, rb)->key)
                        slot = &parent->left;
                else
                        slot = &parent->right;
        }
        rb_link(&it->rb, parent, slot);
        rb_insert_fixup(root, &it->rb);
}

#define N_KEYS 512
#define N_OPS 5000

/* xorshift32 with a fixed seed: reproducible across libcs */
static uint32_t rnd_state = 0x1badb002;

static uint32_t rnd(void)
{
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 17;
        rnd_state ^= rnd_state << 5;
        return rnd_state;
}

static void test_random(void **state)
{
        static struct item items[N_KEYS];
        struct rb_root root = RB_ROOT_INIT;
        size_t linked = 0;
        unsigned int inserts = 0, removes = 0;
        int i, op;

        for (i = 0; i < N_KEYS; ++i) {
                items[i].key = i;
                rb_node_init(&items[i].rb);
        }

        for (op = 0; op < N_OPS; ++op) {
                struct item *it = &items[rnd() % N_KEYS];

                /* bias towards insertion first, removal later, so the tree
                 * grows large and shrinks again */
                if (!rb_node_is_linked(&it->rb)) {
                        if (op < N_OPS / 2 || rnd() % 3 == 0) {
                                if (rnd() % 2)
                                        insert_manual(&root, it);
                                else
                                        assert_null(rb_insert(&root, &it->rb, &it->key, item_cmp));
                                ++linked;
                                ++inserts;
                        }
                } else if (op >= N_OPS / 2 || rnd() % 3 == 0) {
                        rb_remove(&root, &it->rb);
                        assert_false(rb_node_is_linked(&it->rb));
                        --linked;
                        ++removes;
                }
                check_tree(&root, linked);
                assert_ptr_equal(rb_find(&root, &it->key, item_cmp),
                                 rb_node_is_linked(&it->rb) ? &it->rb : NULL);
        }
        /* the sequence really exercised both paths a lot */
        assert_true(inserts > 1000);
        assert_true(removes > 1000);

        for (i = 0; i < N_KEYS; ++i) {
                if (rb_node_is_linked(&items[i].rb)) {
                        rb_remove(&root, &items[i].rb);
                        check_tree(&root, --linked);
                }
        }
        assert_true(rb_root_is_empty(&root));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_one),
                cmocka_unit_test(test_many),
                cmocka_unit_test(test_remove_while_iterating),
                cmocka_unit_test(test_random),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

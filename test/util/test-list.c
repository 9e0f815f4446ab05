/*
 * Unit tests of util/list.h: empty, one, many, splicing, and removal of the
 * current entry during iteration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/list.h"

struct item {
        int value;
        struct list_node link;
};

static void check_links(struct list_node *head, size_t expected)
{
        struct list_node *n;
        size_t count = 0;

        assert_ptr_equal(head->next->prev, head);
        assert_ptr_equal(head->prev->next, head);
        list_for_each(n, head) {
                assert_ptr_equal(n->next->prev, n);
                assert_ptr_equal(n->prev->next, n);
                ++count;
        }
        assert_int_equal(count, expected);
}

static void test_empty(void **state)
{
        struct list_node head = LIST_INIT(head);
        struct list_node *n;
        int visited = 0;

        assert_true(list_is_empty(&head));
        assert_false(list_node_is_linked(&head));
        assert_null(list_first(&head));
        assert_null(list_last(&head));
        list_for_each(n, &head)
                ++visited;
        assert_int_equal(visited, 0);
        check_links(&head, 0);
}

static void test_one(void **state)
{
        struct list_node head = LIST_INIT(head);
        struct item a = { .value = 1 };

        list_node_init(&a.link);
        assert_false(list_node_is_linked(&a.link));
        list_link_tail(&head, &a.link);
        assert_true(list_node_is_linked(&a.link));
        assert_ptr_equal(list_first(&head), &a.link);
        assert_ptr_equal(list_last(&head), &a.link);
        assert_ptr_equal(list_entry(list_first(&head), struct item, link), &a);
        check_links(&head, 1);

        list_unlink(&a.link);
        assert_false(list_node_is_linked(&a.link));
        assert_true(list_is_empty(&head));
        /* unlinking twice is a no-op */
        list_unlink(&a.link);
        check_links(&head, 0);
}

static void test_many_order(void **state)
{
        struct list_node head = LIST_INIT(head);
        struct item items[16], *it;
        int expect, i;

        for (i = 0; i < 16; ++i) {
                items[i].value = i;
                list_node_init(&items[i].link);
        }
        /* 8..15 at the tail, 7..0 at the front, gives 0..15 */
        for (i = 8; i < 16; ++i)
                list_link_tail(&head, &items[i].link);
        for (i = 7; i >= 0; --i)
                list_link_front(&head, &items[i].link);
        check_links(&head, 16);

        expect = 0;
        list_for_each_entry(it, &head, struct item, link)
                assert_int_equal(it->value, expect++);
        assert_int_equal(expect, 16);

        /* before/after relative to a linked entry */
        list_unlink(&items[5].link);
        list_link_before(&items[3].link, &items[5].link);
        list_unlink(&items[9].link);
        list_link_after(&items[12].link, &items[9].link);
        {
                static const int order[] = { 0, 1, 2, 5, 3, 4, 6, 7, 8, 10, 11, 12, 9, 13, 14, 15 };
                i = 0;
                list_for_each_entry(it, &head, struct item, link)
                        assert_int_equal(it->value, order[i++]);
                assert_int_equal(i, 16);
        }
        check_links(&head, 16);
}

static void test_remove_during_iteration(void **state)
{
        struct list_node head = LIST_INIT(head);
        struct item items[10], *it, *tmp;
        struct list_node *n, *t;
        int i, seen = 0;

        for (i = 0; i < 10; ++i) {
                items[i].value = i;
                list_node_init(&items[i].link);
                list_link_tail(&head, &items[i].link);
        }
        /* drop odd ones while iterating entries */
        list_for_each_entry_safe(it, tmp, &head, struct item, link) {
                ++seen;
                if (it->value % 2)
                        list_unlink(&it->link);
        }
        assert_int_equal(seen, 10);
        check_links(&head, 5);
        i = 0;
        list_for_each_entry(it, &head, struct item, link) {
                assert_int_equal(it->value, i);
                i += 2;
        }
        /* drop everything while iterating nodes */
        seen = 0;
        list_for_each_safe(n, t, &head) {
                list_unlink(n);
                ++seen;
        }
        assert_int_equal(seen, 5);
        assert_true(list_is_empty(&head));
        for (i = 0; i < 10; ++i)
                assert_false(list_node_is_linked(&items[i].link));
}

static void test_splice(void **state)
{
        struct list_node a = LIST_INIT(a), b = LIST_INIT(b);
        struct item items[6], *it;
        int i;

        for (i = 0; i < 6; ++i) {
                items[i].value = i;
                list_node_init(&items[i].link);
                list_link_tail(i < 3 ? &a : &b, &items[i].link);
        }
        list_splice_tail(&a, &b);
        assert_true(list_is_empty(&b));
        check_links(&a, 6);
        i = 0;
        list_for_each_entry(it, &a, struct item, link)
                assert_int_equal(it->value, i++);

        /* splicing an empty list changes nothing */
        list_splice_tail(&a, &b);
        check_links(&a, 6);
        /* splicing into an empty list moves everything */
        list_splice_tail(&b, &a);
        check_links(&b, 6);
        check_links(&a, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_one),
                cmocka_unit_test(test_many_order),
                cmocka_unit_test(test_remove_during_iteration),
                cmocka_unit_test(test_splice),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

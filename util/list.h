#pragma once

/*
 * Intrusive doubly linked list
 *
 * A list is a circular chain of `struct list_node`s; the list head is a node
 * of its own that is not embedded in an entry. Objects embed a node, so
 * linking never allocates and never fails. A node that is not on any list is
 * "unlinked": it points to itself (after list_node_init()/list_unlink()), so
 * list_node_is_linked() answers whether it is on a list.
 *
 * Invariants:
 *  - for every node n on a list: n->next->prev == n && n->prev->next == n;
 *  - an empty list head points to itself in both directions.
 *
 * Freestanding: no libc; usable from core/ (and later a kernel module).
 * Not thread-safe: callers serialise access to one list.
 */

#include <stdbool.h>
#include <stddef.h>

struct list_node {
        struct list_node *next;
        struct list_node *prev;
};

/** LIST_INIT(name) - static initialiser of an empty list head / unlinked node. */
#define LIST_INIT(_name) { .next = &(_name), .prev = &(_name) }

/** list_entry() - the object that embeds @_node as member @_member. */
#define list_entry(_node, _type, _member) \
        ((_type *)(void *)((char *)(_node) - offsetof(_type, _member)))

/** list_node_init() - make @n an empty list head or an unlinked node. */
static inline void list_node_init(struct list_node *n)
{
        n->next = n;
        n->prev = n;
}

/** list_node_is_linked() - whether @n is on a list (false for an empty head). */
static inline bool list_node_is_linked(const struct list_node *n)
{
        return n->next != n;
}

/** list_is_empty() - whether the list headed by @head has no entries. */
static inline bool list_is_empty(const struct list_node *head)
{
        return head->next == head;
}

static inline void list_insert_between(struct list_node *n, struct list_node *prev, struct list_node *next)
{
        n->prev = prev;
        n->next = next;
        prev->next = n;
        next->prev = n;
}

/** list_link_front() - insert unlinked @n as the first entry of @head. */
static inline void list_link_front(struct list_node *head, struct list_node *n)
{
        list_insert_between(n, head, head->next);
}

/** list_link_tail() - insert unlinked @n as the last entry of @head. */
static inline void list_link_tail(struct list_node *head, struct list_node *n)
{
        list_insert_between(n, head->prev, head);
}

/** list_link_before() - insert unlinked @n right before linked @pos. */
static inline void list_link_before(struct list_node *pos, struct list_node *n)
{
        list_insert_between(n, pos->prev, pos);
}

/** list_link_after() - insert unlinked @n right after linked @pos. */
static inline void list_link_after(struct list_node *pos, struct list_node *n)
{
        list_insert_between(n, pos, pos->next);
}

/**
 * list_unlink() - remove @n from its list and leave it unlinked.
 *
 * Safe on an already unlinked node (a no-op), so callers need not track it.
 */
static inline void list_unlink(struct list_node *n)
{
        n->prev->next = n->next;
        n->next->prev = n->prev;
        list_node_init(n);
}

/** list_first() - the first node of @head, or NULL if the list is empty. */
static inline struct list_node *list_first(const struct list_node *head)
{
        return list_is_empty(head) ? NULL : head->next;
}

/** list_last() - the last node of @head, or NULL if the list is empty. */
static inline struct list_node *list_last(const struct list_node *head)
{
        return list_is_empty(head) ? NULL : head->prev;
}

/**
 * list_splice_tail() - move all entries of @from to the end of @to.
 *
 * @from is left empty. O(1).
 */
static inline void list_splice_tail(struct list_node *to, struct list_node *from)
{
        if (list_is_empty(from))
                return;
        from->next->prev = to->prev;
        to->prev->next = from->next;
        from->prev->next = to;
        to->prev = from->prev;
        list_node_init(from);
}

/** list_for_each() - iterate nodes; the current node must not be unlinked. */
#define list_for_each(_n, _head) \
        for ((_n) = (_head)->next; (_n) != (_head); (_n) = (_n)->next)

/**
 * list_for_each_safe() - iterate nodes; the current node may be unlinked
 * (or freed) in the loop body, other nodes may not.
 */
#define list_for_each_safe(_n, _tmp, _head) \
        for ((_n) = (_head)->next, (_tmp) = (_n)->next; (_n) != (_head); \
             (_n) = (_tmp), (_tmp) = (_n)->next)

/** list_for_each_entry() - iterate the objects of type @_type on @_head. */
#define list_for_each_entry(_e, _head, _type, _member) \
        for ((_e) = list_entry((_head)->next, _type, _member); \
             &(_e)->_member != (_head); \
             (_e) = list_entry((_e)->_member.next, _type, _member))

/**
 * list_for_each_entry_safe() - iterate objects; the current one may be
 * unlinked or freed in the loop body.
 */
#define list_for_each_entry_safe(_e, _tmp, _head, _type, _member) \
        for ((_e) = list_entry((_head)->next, _type, _member), \
             (_tmp) = list_entry((_e)->_member.next, _type, _member); \
             &(_e)->_member != (_head); \
             (_e) = (_tmp), (_tmp) = list_entry((_e)->_member.next, _type, _member))

/*
 * lib/util/list.h -- the intrusive doubly-linked list every module uses
 * (queries of a check, checks of a context, deferred answers of a zone,
 * relays of an overlay, queries of the c-ares backend).  Header-only and
 * free of library types, so the c-ares backend, which is built against
 * the public headers only, can use it too.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A zero-initialised mdspf__list is empty and a zero-initialised link is
 * unlinked, so objects from a zeroing allocator need no set-up.  A link
 * is on at most one list at a time; mdspf__list_linked tells whether it
 * is on the given one.
 */
#ifndef MDSPF_UTIL_LIST_H
#define MDSPF_UTIL_LIST_H

#include <stddef.h>

typedef struct mdspf__link {
  struct mdspf__link *prev, *next;
} mdspf__link;

typedef struct mdspf__list {
  mdspf__link *head, *tail;
  size_t count;
} mdspf__list;

/* The object that holds link ptr as its member. */
#define MDSPF__CONTAINER(ptr, type, member)                                  \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline int mdspf__list_linked(const mdspf__list *l,
                                     const mdspf__link *k) {
  return k->prev != NULL || l->head == k;
}

static inline void mdspf__list_push_back(mdspf__list *l, mdspf__link *k) {
  k->next = NULL;
  k->prev = l->tail;
  if (l->tail) {
    l->tail->next = k;
  } else {
    l->head = k;
  }
  l->tail = k;
  l->count++;
}

static inline void mdspf__list_push_front(mdspf__list *l, mdspf__link *k) {
  k->prev = NULL;
  k->next = l->head;
  if (l->head) {
    l->head->prev = k;
  } else {
    l->tail = k;
  }
  l->head = k;
  l->count++;
}

/* Insert k right after at (at on l). */
static inline void mdspf__list_insert_after(mdspf__list *l, mdspf__link *at,
                                            mdspf__link *k) {
  k->prev = at;
  k->next = at->next;
  if (at->next) {
    at->next->prev = k;
  } else {
    l->tail = k;
  }
  at->next = k;
  l->count++;
}

/* Unlink k, which must be on l; k ends up unlinked. */
static inline void mdspf__list_remove(mdspf__list *l, mdspf__link *k) {
  if (k->prev) {
    k->prev->next = k->next;
  } else {
    l->head = k->next;
  }
  if (k->next) {
    k->next->prev = k->prev;
  } else {
    l->tail = k->prev;
  }
  k->prev = k->next = NULL;
  l->count--;
}

/* Unlink and return the first link, NULL when empty. */
static inline mdspf__link *mdspf__list_pop_front(mdspf__list *l) {
  mdspf__link *k = l->head;
  if (k) {
    mdspf__list_remove(l, k);
  }
  return k;
}

#endif /* MDSPF_UTIL_LIST_H */

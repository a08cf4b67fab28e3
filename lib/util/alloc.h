/*
 * lib/util/alloc.h -- every allocation of the library goes through an
 * allocator hook (mdspf_alloc_fn, lua_Alloc shape) and these
 * overflow-checked wrappers.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_UTIL_ALLOC_H
#define MDSPF_UTIL_ALLOC_H

#include <maildrop-spf/spf.h>

#include <stddef.h>

/*
 * A memory budget: what allocations through an allocator that points at
 * it may hold at once.  Budgets chain (a check's to its context's): an
 * allocation must fit every budget up the chain, is charged to all of
 * them, and a free gives back to all of them.  A refused allocation sets
 * exceeded on the budget that refused it and looks like any allocation
 * failure to the caller.
 */
typedef struct mdspf__budget {
  size_t used;
  size_t limit; /* 0: no limit */
  size_t peak;
  int exceeded;
  struct mdspf__budget *parent;
  /* Optional: give back memory held only speculatively (answers looked
   * up ahead of the evaluation) and return how many bytes that freed.
   * Called when this budget refuses an allocation that is not itself
   * speculative; the allocation is then tried once more.  It must only
   * free memory (no allocation, no callback). */
  size_t (*reclaim)(void *ud);
  void *reclaim_ud;
} mdspf__budget;

typedef struct mdspf__allocator {
  mdspf_alloc_fn fn; /* never NULL after mdspf__allocator_init */
  void *ud;
  mdspf__budget *budget; /* NULL: none */
  /* Speculative allocations: a budget that refuses one reclaims nothing
   * and is not marked exceeded (the request is just dropped). */
  int quiet;
} mdspf__allocator;

/* fn == NULL selects the libc allocator; no budget. */
void mdspf__allocator_init(mdspf__allocator *a, mdspf_alloc_fn fn, void *ud);
/* Zeroed block of n bytes (n > 0); NULL on failure. */
void *mdspf__alloc(const mdspf__allocator *a, size_t n);
/* Zeroed array of n elements of size sz, overflow-checked. */
void *mdspf__alloc_array(const mdspf__allocator *a, size_t n, size_t sz);
/* Resize; the new tail is NOT zeroed.  On failure returns NULL and the
 * old block is untouched. */
void *mdspf__realloc(const mdspf__allocator *a, void *p, size_t osize,
                     size_t nsize);
/* Free a block of exactly size bytes; p may be NULL. */
void mdspf__free(const mdspf__allocator *a, void *p, size_t size);
/* Copy n bytes of s plus a NUL; free with mdspf__strfree (or, when s may
 * hold NUL bytes, mdspf__free with n + 1). */
char *mdspf__strndup(const mdspf__allocator *a, const char *s, size_t n);
char *mdspf__strdup(const mdspf__allocator *a, const char *s);
/* Free a string from mdspf__strndup/strdup (size = strlen + 1). */
void mdspf__strfree(const mdspf__allocator *a, char *s);

/* Move accounting without allocating: charge n bytes to b and every
 * budget above it (1), or refuse (0) -- quietly when quiet, else after
 * trying the budgets' reclaim hooks, marking the refusing budget exceeded
 * as an allocation would; refund gives n bytes back to b and those above
 * it.  b NULL: always 1. */
int mdspf__budget_charge(mdspf__budget *b, size_t n, int quiet);
void mdspf__budget_refund(mdspf__budget *b, size_t n);

#endif /* MDSPF_UTIL_ALLOC_H */

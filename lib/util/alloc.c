/*
 * lib/util/alloc.c -- the allocator hook and its overflow-checked
 * wrappers.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *libc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return ptr ? realloc(ptr, nsize) : malloc(nsize);
}

void mdspf__allocator_init(mdspf__allocator *a, mdspf_alloc_fn fn, void *ud) {
  a->fn = fn ? fn : libc_alloc;
  a->ud = fn ? ud : NULL;
  a->budget = NULL;
  a->quiet = 0;
}

/* The first budget from b up that has no room for n more bytes. */
static mdspf__budget *budget_refuser(mdspf__budget *b, size_t n) {
  mdspf__budget *x;
  for (x = b; x; x = x->parent) {
    if (x->limit && (n > x->limit || x->used > x->limit - n)) {
      return x;
    }
  }
  return NULL;
}

/* Charge n bytes to b and every budget above it; 0 (nothing charged) if
 * one of them has no room.  A refusal of an allocation that is not
 * speculative (quiet) first lets the refusing budget reclaim what is held
 * speculatively, and is marked on the budgets only when that did not
 * help. */
static int budget_take(mdspf__budget *b, size_t n, int quiet) {
  mdspf__budget *x;
  int rounds = 0;
  while ((x = budget_refuser(b, n)) != NULL) {
    /* each budget of the chain reclaims at most once per allocation */
    if (!quiet && x->reclaim && rounds++ < 4 &&
        x->reclaim(x->reclaim_ud) > 0) {
      continue;
    }
    if (!quiet) {
      /* the requester learns which of its budgets said no: 1 its own,
       * 2 one above it */
      b->exceeded = x == b ? 1 : 2;
      x->exceeded = x->exceeded ? x->exceeded : 1;
    }
    return 0;
  }
  for (x = b; x; x = x->parent) {
    x->used += n;
    if (x->used > x->peak) {
      x->peak = x->used;
    }
  }
  return 1;
}

static void budget_give(mdspf__budget *b, size_t n) {
  mdspf__budget *x;
  for (x = b; x; x = x->parent) {
    x->used = n > x->used ? 0 : x->used - n;
  }
}

void *mdspf__alloc(const mdspf__allocator *a, size_t n) {
  void *p;
  if (n == 0 || !budget_take(a->budget, n, a->quiet)) {
    return NULL;
  }
  p = a->fn(a->ud, NULL, 0, n);
  if (p) {
    memset(p, 0, n);
  } else {
    budget_give(a->budget, n);
  }
  return p;
}

void *mdspf__alloc_array(const mdspf__allocator *a, size_t n, size_t sz) {
  if (n == 0 || sz == 0 || n > SIZE_MAX / sz) {
    return NULL;
  }
  return mdspf__alloc(a, n * sz);
}

void *mdspf__realloc(const mdspf__allocator *a, void *p, size_t osize,
                     size_t nsize) {
  void *np;
  if (nsize == 0) {
    return NULL;
  }
  if (!p) {
    osize = 0;
  }
  if (nsize > osize && !budget_take(a->budget, nsize - osize, a->quiet)) {
    return NULL;
  }
  np = a->fn(a->ud, p, osize, nsize);
  if (!np) {
    if (nsize > osize) {
      budget_give(a->budget, nsize - osize);
    }
  } else if (nsize < osize) {
    budget_give(a->budget, osize - nsize);
  }
  return np;
}

void mdspf__free(const mdspf__allocator *a, void *p, size_t size) {
  if (p) {
    (void)a->fn(a->ud, p, size, 0);
    budget_give(a->budget, size);
  }
}

char *mdspf__strndup(const mdspf__allocator *a, const char *s, size_t n) {
  char *p;
  if (n == SIZE_MAX) {
    return NULL;
  }
  p = mdspf__alloc(a, n + 1);
  if (p) {
    if (n) {
      memcpy(p, s, n);
    }
    p[n] = '\0';
  }
  return p;
}

char *mdspf__strdup(const mdspf__allocator *a, const char *s) {
  return mdspf__strndup(a, s, strlen(s));
}

void mdspf__strfree(const mdspf__allocator *a, char *s) {
  if (s) {
    mdspf__free(a, s, strlen(s) + 1);
  }
}


int mdspf__budget_charge(mdspf__budget *b, size_t n, int quiet) {
  return n == 0 || budget_take(b, n, quiet);
}

void mdspf__budget_refund(mdspf__budget *b, size_t n) {
  budget_give(b, n);
}

/*
 * tests/test_alloc.h -- the allocator hook the unit tests share: it
 * counts live bytes (so a test can assert that everything was freed with
 * the exact size it was allocated with) and can fail the n-th call (for
 * out-of-memory loops).  Include once per test program.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_TEST_ALLOC_H
#define MDSPF_TEST_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

typedef struct test_alloc {
  long fail_at; /* fail the call with this number (1-based); 0: never */
  long calls;   /* allocating calls so far */
  long live;    /* bytes allocated and not freed */
  long peak;    /* the most live bytes at any time */
} test_alloc;

/* An mdspf_alloc_fn; ud is a test_alloc. */
static void *test_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
  test_alloc *t = ud;
  if (nsize == 0) {
    t->live -= (long)osize;
    free(ptr);
    return NULL;
  }
  if (++t->calls == t->fail_at) {
    return NULL;
  }
  ptr = realloc(ptr, nsize);
  if (ptr) {
    t->live += (long)nsize - (long)osize;
    if (t->live > t->peak) {
      t->peak = t->live;
    }
  }
  return ptr;
}

#endif

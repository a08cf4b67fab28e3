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
  return realloc(ptr, nsize);
}

void mdspf__allocator_init(mdspf__allocator *a, mdspf_alloc_fn fn, void *ud) {
  a->fn = fn ? fn : libc_alloc;
  a->ud = fn ? ud : NULL;
}

void *mdspf__alloc(const mdspf__allocator *a, size_t n) {
  void *p;
  if (n == 0) {
    return NULL;
  }
  p = a->fn(a->ud, NULL, 0, n);
  if (p) {
    memset(p, 0, n);
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
  if (nsize == 0) {
    return NULL;
  }
  return a->fn(a->ud, p, p ? osize : 0, nsize);
}

void mdspf__free(const mdspf__allocator *a, void *p, size_t size) {
  if (p) {
    (void)a->fn(a->ud, p, size, 0);
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


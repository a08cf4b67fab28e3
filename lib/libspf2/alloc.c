/*
 * lib/libspf2/alloc.c -- the allocation functions of the libspf2 API (see
 * compat.h) and the small helpers over them.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "libspf2/compat.h"

#include <stdlib.h>
#include <string.h>

void *spfx_realloc(void *p, size_t n) {
#ifdef MDSPF_LIBSPF2_ALLOC_HOOK
  return mdspf_libspf2_test_realloc(p, n ? n : 1);
#else
  return realloc(p, n ? n : 1);
#endif
}

void spfx_free(void *p) {
  if (p) {
#ifdef MDSPF_LIBSPF2_ALLOC_HOOK
    (void)mdspf_libspf2_test_realloc(p, 0);
#else
    free(p);
#endif
  }
}

void *spfx_calloc(size_t n, size_t sz) {
  void *p;
  if (sz && n > (size_t)-1 / sz) {
    return NULL;
  }
  p = spfx_realloc(NULL, n * sz);
  if (p) {
    memset(p, 0, n * sz);
  }
  return p;
}

char *spfx_strndup(const char *s, size_t n) {
  char *d;
  if (n == (size_t)-1) {
    return NULL;
  }
  d = spfx_realloc(NULL, n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

char *spfx_strdup(const char *s) {
  return s ? spfx_strndup(s, strlen(s)) : NULL;
}

void *spfx_engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    spfx_free(ptr);
    return NULL;
  }
  return spfx_realloc(ptr, nsize);
}

SPF_errcode_t spfx_buf_set(char **bufp, size_t *buflenp, const char *s,
                           size_t n) {
  if (!bufp || !buflenp) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (!*bufp || *buflenp < n + 1) {
    size_t want = n + 1 < 64 ? 64 : n + 1;
    char *nb = spfx_realloc(*bufp, want);
    if (!nb) {
      return SPF_E_NO_MEMORY;
    }
    *bufp = nb;
    *buflenp = want;
  }
  memcpy(*bufp, s, n);
  (*bufp)[n] = '\0';
  return SPF_E_SUCCESS;
}

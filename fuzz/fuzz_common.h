/*
 * fuzz/fuzz_common.h -- shared by the fuzz targets: the libFuzzer entry
 * point prototype and a checking allocator hook.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The allocator keeps a small header in front of every block holding its
 * size, so it can verify the library's promise that osize is always the
 * exact size it allocated; it counts outstanding bytes (a leak check that
 * does not depend on LeakSanitizer, so the gcc replay build has it too)
 * and can fail allocations on a schedule to drive out-of-memory paths.
 */
#ifndef MDSPF_FUZZ_COMMON_H
#define MDSPF_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() with a message: a failed invariant is a crash for libFuzzer. */
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

#define FUZZ_HDR 16u /* keeps the returned block 16-byte aligned */
#define FUZZ_MAGIC 0x6d647370u

typedef struct fuzz_alloc {
  size_t outstanding;    /* bytes currently allocated */
  size_t peak;           /* high-water mark of outstanding */
  unsigned long nallocs; /* allocation requests (malloc and realloc) */
  unsigned long fail_at; /* 0: never fail; else the first request to fail */
  int fail_all;          /* fail every request from fail_at on (else one) */
  unsigned long nfailed; /* requests refused */
} fuzz_alloc;

static inline void fuzz_alloc_init(fuzz_alloc *fa, unsigned long fail_at,
                                   int fail_all) {
  memset(fa, 0, sizeof *fa);
  fa->fail_at = fail_at;
  fa->fail_all = fail_all;
}

/* The mdspf_alloc_fn hook (ud = fuzz_alloc *). */
static inline void *fuzz_alloc_fn(void *ud, void *ptr, size_t osize,
                                  size_t nsize) {
  fuzz_alloc *fa = ud;
  unsigned char *h = NULL;
  if (ptr) {
    uint32_t magic;
    size_t have;
    h = (unsigned char *)ptr - FUZZ_HDR;
    memcpy(&magic, h, sizeof magic);
    memcpy(&have, h + 8, sizeof have);
    /* a wrong osize would corrupt a size-class allocator */
    FUZZ_CHECK(magic == FUZZ_MAGIC);
    FUZZ_CHECK(have == osize);
    FUZZ_CHECK(fa->outstanding >= osize);
  }
  if (nsize == 0) {
    if (h) {
      fa->outstanding -= osize;
      memset(h, 0, sizeof(uint32_t));
      free(h);
    }
    return NULL;
  }
  fa->nallocs++;
  if (fa->fail_at && (fa->fail_all ? fa->nallocs >= fa->fail_at
                                   : fa->nallocs == fa->fail_at)) {
    fa->nfailed++;
    return NULL;
  }
  if (nsize > SIZE_MAX - FUZZ_HDR) {
    return NULL;
  }
  {
    unsigned char *nh = realloc(h, nsize + FUZZ_HDR);
    uint32_t magic = FUZZ_MAGIC;
    if (!nh) {
      return NULL;
    }
    if (h) {
      fa->outstanding -= osize;
    }
    fa->outstanding += nsize;
    if (fa->outstanding > fa->peak) {
      fa->peak = fa->outstanding;
    }
    memcpy(nh, &magic, sizeof magic);
    memcpy(nh + 8, &nsize, sizeof nsize);
    return nh + FUZZ_HDR;
  }
}

/* Copy n bytes into a fresh NUL-terminated heap string (libc). */
static inline char *fuzz_strndup(const void *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) {
    abort();
  }
  if (n) {
    memcpy(s, p, n);
  }
  s[n] = '\0';
  return s;
}

/* A cursor over the input for the targets that split it into fields. */
typedef struct fuzz_in {
  const uint8_t *p;
  size_t n;
} fuzz_in;

/* Next byte, 0 when the input is exhausted. */
static inline unsigned fuzz_byte(fuzz_in *in) {
  unsigned v = 0;
  if (in->n) {
    v = in->p[0];
    in->p++;
    in->n--;
  }
  return v;
}

/* Next field up to (not including) sep, or the rest; *len its length. */
static inline const uint8_t *fuzz_field(fuzz_in *in, uint8_t sep, size_t *len) {
  const uint8_t *start = in->p;
  const uint8_t *end = in->n ? memchr(in->p, sep, in->n) : NULL;
  size_t l = end ? (size_t)(end - in->p) : in->n;
  *len = l;
  in->p += l;
  in->n -= l;
  if (end) {
    in->p++;
    in->n--;
  }
  return start;
}

#endif /* MDSPF_FUZZ_COMMON_H */

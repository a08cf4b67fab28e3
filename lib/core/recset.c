/*
 * lib/core/recset.c -- a context's set of shared records (see recset.h).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/recset.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Smallest table; it doubles when half full and halves when less than an
 * eighth is used. */
#define RECSET_MIN 16

void mdspf__recset_init(mdspf__recset *s, const mdspf__allocator *a) {
  memset(s, 0, sizeof *s);
  s->alloc = *a;
  s->alloc.budget = NULL;
  s->alloc.quiet = 0;
}

void mdspf__recset_fini(mdspf__recset *s) {
  size_t i;
  for (i = 0; i < s->cap; i++) {
    mdspf_record_unref(s->slot[i]);
  }
  mdspf__free(&s->alloc, s->slot, s->cap * sizeof *s->slot);
  s->slot = NULL;
  s->cap = s->n = 0;
}

size_t mdspf__recset_count(const mdspf__recset *s) { return s->n; }

/* FNV-1a over the text. */
static size_t text_hash(const char *txt, size_t len) {
  uint64_t h = 14695981039346656037u;
  size_t i;
  for (i = 0; i < len; i++) {
    h ^= (unsigned char)txt[i];
    h *= 1099511628211u;
  }
  return (size_t)(h ^ (h >> 32));
}

static int same_text(const mdspf_record *r, const char *txt, size_t len) {
  return r->text_len == len && memcmp(r->pool, txt, len) == 0;
}

/* The slot holding the record of txt, or the free slot where it would
 * go; the table must not be full. */
static size_t find(const mdspf__recset *s, const char *txt, size_t len) {
  size_t mask = s->cap - 1, i = text_hash(txt, len) & mask;
  while (s->slot[i] && !same_text(s->slot[i], txt, len)) {
    i = (i + 1) & mask;
  }
  return i;
}

/* Move every record into a table of ncap slots; 0 when it cannot be
 * allocated (the set is unchanged). */
static int rehash(mdspf__recset *s, size_t ncap) {
  mdspf_record **old = s->slot;
  size_t ocap = s->cap, i;
  mdspf_record **n = mdspf__alloc_array(&s->alloc, ncap, sizeof *n);
  if (!n) {
    return 0;
  }
  s->slot = n;
  s->cap = ncap;
  for (i = 0; i < ocap; i++) {
    if (old[i]) {
      s->slot[find(s, old[i]->pool, old[i]->text_len)] = old[i];
    }
  }
  mdspf__free(&s->alloc, old, ocap * sizeof *old);
  return 1;
}

mdspf_status mdspf__recset_get(mdspf__recset *s, const char *txt, size_t len,
                               mdspf_record **out, int *err_code,
                               size_t *err_off, size_t *err_len) {
  mdspf_record *rec = NULL;
  mdspf_status rc;
  if (!out || !txt) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  if (s->cap) {
    size_t i = find(s, txt, len);
    if (s->slot[i]) {
      *out = mdspf_record_ref(s->slot[i]);
      return MDSPF_OK;
    }
  }
  rc = mdspf__record_parse(&s->alloc, txt, len, &rec, err_code, err_off,
                           err_len);
  if (rc != MDSPF_OK) {
    return rc;
  }
  /* at most half full after the insertion; a table that cannot grow
   * leaves the record unshared */
  if ((s->n + 1) * 2 <= s->cap ||
      rehash(s, s->cap ? s->cap * 2 : RECSET_MIN)) {
    s->slot[find(s, txt, len)] = mdspf_record_ref(rec);
    s->n++;
  }
  *out = rec;
  return MDSPF_OK;
}

/* Take slot i out (backward-shift deletion keeps every probe chain
 * unbroken). */
static void remove_at(mdspf__recset *s, size_t i) {
  size_t mask = s->cap - 1, j = i;
  s->slot[i] = NULL;
  s->n--;
  for (;;) {
    size_t home;
    j = (j + 1) & mask;
    if (!s->slot[j]) {
      break;
    }
    home = text_hash(s->slot[j]->pool, s->slot[j]->text_len) & mask;
    /* slot j's record may move to i when i lies cyclically in
     * [home, j) */
    if ((j > i && (home <= i || home > j)) ||
        (j < i && (home <= i && home > j))) {
      s->slot[i] = s->slot[j];
      s->slot[j] = NULL;
      i = j;
    }
  }
  if (s->cap > RECSET_MIN && s->n * 8 < s->cap) {
    (void)rehash(s, s->cap / 2); /* kept as it is when that fails */
  }
}

void mdspf__recset_put(mdspf__recset *s, mdspf_record *rec) {
  if (!rec) {
    return;
  }
  if (s->cap) {
    size_t i = find(s, rec->pool, rec->text_len);
    /* the set's reference and this one: the last user is gone */
    if (s->slot[i] == rec &&
        atomic_load_explicit(&rec->refs, memory_order_acquire) == 2u) {
      remove_at(s, i);
      mdspf_record_unref(rec);
    }
  }
  mdspf_record_unref(rec);
}

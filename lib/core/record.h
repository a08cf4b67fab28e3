/*
 * lib/core/record.h -- compiled records: one allocation per record, immutable,
 * reference-counted.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_RECORD_H
#define MDSPF_CORE_RECORD_H

#include <maildrop-spf/spf.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "util/alloc.h"

/* ---- compiled records (record.c) ------------------------------------------ */

enum {
  MDSPF__TF_MACROS = 1, /* value contains macro-expands */
  MDSPF__TF_NEEDS_P = 2 /* value uses %{p} */
};

#define MDSPF__NO_STR UINT32_MAX

typedef struct mdspf__term {
  uint8_t kind;      /* mdspf_term_kind */
  uint8_t qual;      /* mdspf_result of a match (mechanisms) */
  uint8_t qual_char; /* as written, 0 if none */
  uint8_t flags;     /* MDSPF__TF_* */
  int16_t cidr4;     /* -1: not given */
  int16_t cidr6;
  uint32_t off, len; /* span in the record text */
  uint32_t name;     /* pool offset of the name as written */
  uint32_t value;    /* pool offset of the value, MDSPF__NO_STR if none */
  uint32_t value_len;
  uint32_t letters; /* macro letters of the value (MDSPF__ML bits), found
                       by the parser; 0 without macros */
  uint8_t addr[16]; /* ip4 (first 4 bytes) / ip6 */
} mdspf__term;

struct mdspf_record {
  atomic_uint refs; /* the only mutable field */
  mdspf__allocator alloc;
  size_t size; /* bytes of the single allocation */
  uint32_t nterms;
  uint32_t text_len;
  int32_t redirect; /* term index or -1 */
  int32_t exp;      /* term index or -1 */
  mdspf__term *terms;
  /* text copy (NUL-terminated), then a second copy of the text in which
   * the octet after each name and each value is a NUL: names and values
   * are C strings there (pool offsets in the terms) */
  char *pool;
};

/* mdspf_record_parse with an allocator of the library's (its budget is
 * charged for the record, and given back when the record goes). */
mdspf_status mdspf__record_parse(const mdspf__allocator *a, const char *txt,
                                 size_t len, mdspf_record **out,
                                 int *err_code, size_t *err_off,
                                 size_t *err_len);

/* The same parser with its fast path off: every term goes through the
 * general term parser.  For tests and fuzzing only, which check that
 * both give byte-identical records and the same errors. */
mdspf_status mdspf__record_parse_general(const mdspf__allocator *a,
                                         const char *txt, size_t len,
                                         mdspf_record **out, int *err_code,
                                         size_t *err_off, size_t *err_len);

/* The macro letters a term's value uses (mask of MDSPF__ML bits; 0 when
 * it has no macros), as the parser recorded them (t->letters). */
unsigned mdspf__term_letters(const mdspf_record *r, const mdspf__term *t);

/* Value string (NUL-terminated) of a term, "" if none. */
static inline const char *mdspf__term_value(const mdspf_record *r,
                                            const mdspf__term *t) {
  return t->value == MDSPF__NO_STR ? "" : r->pool + t->value;
}

#endif /* MDSPF_CORE_RECORD_H */

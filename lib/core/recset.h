/*
 * lib/core/recset.h -- a context's set of shared records: checks in
 * flight that evaluate the same record text hold one parsed record
 * between them.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Parsing is a pure function of the text (RFC 7208 4.6: the record
 * alone), so two checks that fetched byte-identical TXT records may
 * evaluate one compiled record; records are immutable and
 * reference-counted already.  The set is weak: it holds a record only
 * while somebody else does (the last mdspf__recset_put of a record
 * takes it out and frees it), so it never keeps memory of its own
 * beyond its table of pointers, which grows and shrinks with the
 * records in it.
 *
 * The records are allocated without a budget: whoever takes one charges
 * its size to its own budget (the check's, see eval.c), so a shared
 * record costs every check that uses it what a private copy did and
 * every limit holds as before -- only the memory is less.
 *
 * Used by one thread at a time (its context's).
 */
#ifndef MDSPF_CORE_RECSET_H
#define MDSPF_CORE_RECSET_H

#include <maildrop-spf/spf.h>

#include <stddef.h>

#include "core/record.h"
#include "util/alloc.h"

typedef struct mdspf__recset {
  mdspf__allocator alloc; /* records and the table; no budget */
  mdspf_record **slot;    /* open addressing, linear probing; NULL: free */
  size_t cap;             /* 0 or a power of two */
  size_t n;               /* records in the set */
} mdspf__recset;

/* An empty set whose records and table go through a's hook (its budget
 * is not used). */
void mdspf__recset_init(mdspf__recset *s, const mdspf__allocator *a);
/* Free the table.  Every record taken must have been put back; one that
 * was not stays valid (the set's reference is dropped, not the taker's). */
void mdspf__recset_fini(mdspf__recset *s);
/* A reference to the record of txt (len octets): the one in the set, or
 * a new one (parsed as mdspf__record_parse would, then added; when the
 * table cannot grow it is returned all the same, unshared).  Errors as
 * mdspf__record_parse. */
mdspf_status mdspf__recset_get(mdspf__recset *s, const char *txt, size_t len,
                               mdspf_record **out, int *err_code,
                               size_t *err_off, size_t *err_len);
/* Give back a reference from mdspf__recset_get; rec may be NULL.  When
 * nobody else holds it, it leaves the set and is freed. */
void mdspf__recset_put(mdspf__recset *s, mdspf_record *rec);
/* Records in the set (tests). */
size_t mdspf__recset_count(const mdspf__recset *s);

#endif /* MDSPF_CORE_RECSET_H */

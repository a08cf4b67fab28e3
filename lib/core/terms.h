/*
 * lib/core/terms.h -- what evaluating each kind of term does, in one
 * table that the evaluator (core/eval.c) and the linter (admin/lint.c)
 * both read, so the two can never disagree on which terms query DNS,
 * count against the limits of RFC 7208 4.6.4, or are never reached.
 * Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_TERMS_H
#define MDSPF_CORE_TERMS_H

#include <maildrop-spf/spf.h>

#include <stddef.h>

#include "core/record.h"

/* The first lookup a term makes. */
enum {
  MDSPF__LK_NONE = 0, /* ip4, ip6, all, unknown modifiers */
  MDSPF__LK_ADDR,     /* a: A or AAAA, the client's family */
  MDSPF__LK_A,        /* exists: always A */
  MDSPF__LK_MX,       /* mx: MX, then the hosts' A or AAAA */
  MDSPF__LK_PTR,      /* ptr: the client's PTR names, then A or AAAA */
  MDSPF__LK_RECORD,   /* include, redirect: the target's SPF record */
  MDSPF__LK_EXPLAIN   /* exp: the explanation's TXT record */
};

typedef struct mdspf__term_info {
  unsigned char mechanism; /* evaluated in place, can match (RFC 7208 5) */
  unsigned char dns_term;  /* counts against MDSPF_LIMIT_DNS_TERMS */
  unsigned char void_term; /* a void answer of its lookup (for mx: of
                              the MX lookup, or of every host's address
                              lookup) is one void lookup; ptr's counts
                              for the PTR lookup, never for validation */
  unsigned char lookup;    /* MDSPF__LK_* */
} mdspf__term_info;

/* The semantics of an mdspf_term_kind (an all-zero entry for others). */
const mdspf__term_info *mdspf__term_sem(int kind);

/* Terms from this index on are never evaluated: one past the first
 * "all" (which always matches), else rec->nterms. */
size_t mdspf__record_reach(const mdspf_record *rec);
/* The redirect= term that a receiver follows when nothing matched: its
 * index, or -1 when there is none or the record has "all" (RFC 7208
 * 6.1: redirect is then ignored). */
int mdspf__record_redirect(const mdspf_record *rec);

#endif /* MDSPF_CORE_TERMS_H */

/*
 * lib/core/terms.c -- the term semantics table (see terms.h).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/terms.h"

/* indexed by mdspf_term_kind */
static const mdspf__term_info sem[] = {
    /* 0: not a kind */ {0, 0, 0, MDSPF__LK_NONE},
    /* ALL */ {1, 0, 0, MDSPF__LK_NONE},
    /* INCLUDE */ {1, 1, 1, MDSPF__LK_RECORD},
    /* A */ {1, 1, 1, MDSPF__LK_ADDR},
    /* MX */ {1, 1, 1, MDSPF__LK_MX},
    /* PTR */ {1, 1, 1, MDSPF__LK_PTR},
    /* IP4 */ {1, 0, 0, MDSPF__LK_NONE},
    /* IP6 */ {1, 0, 0, MDSPF__LK_NONE},
    /* EXISTS */ {1, 1, 1, MDSPF__LK_A},
    /* REDIRECT */ {0, 1, 1, MDSPF__LK_RECORD},
    /* EXP: never counted, never void (RFC 7208 4.6.4, 6.2) */
    {0, 0, 0, MDSPF__LK_EXPLAIN},
    /* MODIFIER */ {0, 0, 0, MDSPF__LK_NONE},
};

const mdspf__term_info *mdspf__term_sem(int kind) {
  if (kind < 0 || (size_t)kind >= sizeof sem / sizeof sem[0]) {
    return &sem[0];
  }
  return &sem[kind];
}

size_t mdspf__record_reach(const mdspf_record *rec) {
  size_t i;
  for (i = 0; i < rec->nterms; i++) {
    if (rec->terms[i].kind == MDSPF_TERM_ALL) {
      return i + 1; /* "all" runs and always matches */
    }
  }
  return rec->nterms;
}

int mdspf__record_redirect(const mdspf_record *rec) {
  size_t reach = mdspf__record_reach(rec);
  if (rec->redirect < 0 ||
      (reach > 0 && rec->terms[reach - 1].kind == MDSPF_TERM_ALL)) {
    return -1;
  }
  return rec->redirect;
}

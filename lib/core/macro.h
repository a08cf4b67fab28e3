/*
 * lib/core/macro.h -- RFC 7208 section 7 macros: validation and expansion into
 * bounded sinks.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_MACRO_H
#define MDSPF_CORE_MACRO_H

#include <maildrop-spf/spf.h>

#include <stddef.h>
#include "util/strbuf.h"
#include "core/domain.h"

/* ---- macros (macro.c) ----------------------------------------------------- */

enum {
  MDSPF__MS_DOMAIN = 0, /* domain-spec / modifier: no SP, no c/r/t */
  MDSPF__MS_EXPLAIN = 1 /* explain-string: SP and c/r/t allowed */
};
/* Bit for macro letter c ('a'..'z') in a letters mask. */
#define MDSPF__ML(c) (1u << ((unsigned)((c) - 'a')))

/* Validate a macro-string.  Returns an mdspf_syntax code; on error
 * err_off and err_len (relative to s) locate the offending text.  On success
 * *letters (if non-NULL) gets the mask of letters used and *ends_macro
 * (if non-NULL) whether the string ends with a macro-expand. */
int mdspf__macro_scan(const char *s, size_t n, int mode, unsigned *letters,
                      int *ends_macro, size_t *err_off, size_t *err_len);

/* Values of the macro letters for one expansion; NUL-terminated strings,
 * NULL = empty ("unknown" for p). */
typedef struct mdspf__macro_env {
  const char *s, *l, *o, *d, *i, *p, *v, *h, *c, *r, *t;
} mdspf__macro_env;

/* Expand an explain-string (or any macro-string) into out (head kept on
 * overflow).  Returns an mdspf_syntax code (validation included). */
int mdspf__macro_expand(const char *s, size_t n, int mode,
                        const mdspf__macro_env *env, mdspf__sbuf *out);
/* Expand a domain-spec into out[MDSPF__MAX_NAME + 1]: drops one trailing
 * dot and truncates from the left per RFC 7208 7.3.  Returns the length
 * (0 when nothing usable remains) or (size_t)-1 on a syntax error. */
size_t mdspf__macro_expand_domain(const char *s, size_t n,
                                  const mdspf__macro_env *env,
                                  char out[MDSPF__MAX_NAME + 1]);

#endif /* MDSPF_CORE_MACRO_H */

/*
 * lib/resolvers/cares/cares_internal.h -- private declarations of the c-ares
 * backend, shared by backend.c, answer.c and the tests/fuzzers.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Nothing here is public API.  The shared library hides these symbols;
 * the static library exposes them to the unit tests and the fuzzer.
 */
#ifndef MDSPF_CARES_INTERNAL_H
#define MDSPF_CARES_INTERNAL_H

#include <maildrop-spf/spf.h>

/*
 * Turn one c-ares completion into answer-builder calls on q: the
 * mdspf_dns_add_* records of the reply, then mdspf_dns_done(q, ...)
 * exactly once (q is invalid afterwards).
 *
 * rrtype is the MDSPF_DNS_* type that was asked, ares_status the status
 * c-ares passed to its callback, abuf/alen the raw reply (may be NULL/0,
 * e.g. after a timeout).  Nothing about the buffer is trusted: any length
 * and any bytes are handled (malformed replies give MDSPF_DNS_ERROR), so
 * the fuzzer calls this directly with raw input.  Temporary memory comes
 * from alloc (NULL: libc).  q NULL is a no-op.
 */
void mdspf__cares_answer(mdspf_dns_query *q, int rrtype, int ares_status,
                         const unsigned char *abuf, int alen,
                         mdspf_alloc_fn alloc, void *alloc_ud);

/*
 * The presentation-form name c-ares returns for MX and PTR targets
 * (escapes "\X" and "\DDD", no trailing dot) as raw octets into out
 * (outsz bytes, NUL-terminated).  Returns the length, or -1 when the name
 * is malformed, too long for out, or cannot be handed to the core (a
 * label containing '.' or NUL).  Exposed for the tests.
 */
int mdspf__cares_unescape_name(const char *in, char *out, size_t outsz);

/*
 * The reverse of the above for the query side: escape name for
 * ares_query() (c-ares 1.18 ares_create_query treats only '\\' as
 * special: "\X" means the octet X; every other octet but '.' and NUL is
 * copied as is).  Returns the length written (NUL excluded), or -1 if it
 * does not fit in outsz bytes.  Exposed for the tests.
 */
int mdspf__cares_escape_name(const char *name, char *out, size_t outsz);

#endif /* MDSPF_CARES_INTERNAL_H */

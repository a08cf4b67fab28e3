/*
 * lib/core/domain.h -- domain names: what may be queried, RFC 7208 4.3 and 7.3.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_DOMAIN_H
#define MDSPF_CORE_DOMAIN_H

#include <maildrop-spf/spf.h>

#include <stddef.h>

/* ---- domain names (domain.c) ------------------------------------------- */

#define MDSPF__MAX_NAME 253 /* presentation length, no trailing dot */

/* The toplabel of RFC 7208 section 7.1. */
int mdspf__toplabel_ok(const char *s, size_t n);
/* A name that a DNS query can be composed from: 1..253 octets after
 * dropping one trailing dot, labels 1..63 octets, no NUL (any other
 * octet is legal in a DNS label). */
int mdspf__name_queryable(const char *s, size_t n);
/* RFC 7208 4.3 initial processing: queryable, at least two labels and a
 * valid toplabel (so "[1.2.3.4]", "localhost", "a..b" are refused). */
int mdspf__domain_fqdn_ok(const char *s, size_t n);
/* Case-insensitive equality ignoring one trailing dot on either side. */
int mdspf__domain_eq(const char *a, size_t an, const char *b, size_t bn);
/* 1 if name equals parent or is a subdomain of it (case-insensitive,
 * trailing dots ignored). */
int mdspf__domain_under(const char *name, size_t nn, const char *parent,
                        size_t pn);
/* Copy into out (outsz bytes) lower-cased without a trailing dot;
 * returns the length, or (size_t)-1 if it does not fit. */
size_t mdspf__domain_norm(char *out, size_t outsz, const char *s, size_t n);
/* RFC 7208 7.3: drop one trailing dot, then remove labels from the left
 * until at most 253 octets remain.  Works in place; returns new length
 * (0 if nothing usable remains). */
size_t mdspf__domain_truncate(char *s, size_t n);

#endif /* MDSPF_CORE_DOMAIN_H */

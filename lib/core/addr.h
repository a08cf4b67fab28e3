/*
 * lib/core/addr.h -- IP addresses: RFC 7208 ip4/ip6 text, prefixes, reverse names.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_ADDR_H
#define MDSPF_CORE_ADDR_H

#include <maildrop-spf/spf.h>

#include <stdint.h>
#include <stddef.h>

/* ---- addresses (addr.c) ------------------------------------------------ */

/* Strict dotted quad (RFC 7208 ip4-network: no leading zeros). */
int mdspf__ip4_parse(const char *s, size_t n, uint8_t out[4]);
/* RFC 4291 section 2.2 text forms, including an embedded dotted quad. */
int mdspf__ip6_parse(const char *s, size_t n, uint8_t out[16]);
/* Either; writes family 4 or 6 and the address (4 or 16 bytes).  An
 * IPv4-mapped IPv6 address is returned as family 4 when unmap != 0. */
int mdspf__ip_parse(const char *s, size_t n, int unmap, int *family,
                    uint8_t out[16]);
/* Text forms: out needs 16 (IPv4) / 46 (IPv6, RFC 5952 lower case). */
void mdspf__ip4_format(const uint8_t a[4], char out[16]);
void mdspf__ip6_format(const uint8_t a[16], char out[46]);
/* 1 if the first bits bits of a and b agree. */
int mdspf__prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits);
/* Reverse-lookup name ("4.3.2.1.in-addr.arpa" / nibbles ".ip6.arpa",
 * lower case).  out needs 74 bytes. */
void mdspf__reverse_name(int family, const uint8_t *addr, char out[74]);
/* %{i}: dotted quad, or 32 dot-separated upper-case nibbles (the form the
 * reference implementation and the openspf suite use).  out: 64 bytes. */
void mdspf__ip_macro_i(int family, const uint8_t *addr, char out[64]);

#endif /* MDSPF_CORE_ADDR_H */

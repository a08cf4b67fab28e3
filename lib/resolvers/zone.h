/*
 * lib/resolvers/zone.h -- private interface between zone.c (the in-memory
 * zone and its resolver) and zonefile.c (master-file and rdata parsing).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Nothing here is public API.
 */
#ifndef MDSPF_RESOLVERS_ZONE_H
#define MDSPF_RESOLVERS_ZONE_H

#include "core/dnsq.h"
#include "core/domain.h"
#include "util/alloc.h"
#include "util/chars.h"
#include "util/strbuf.h"

#include <stddef.h>

/* Returned by mdspf__zone_put when owner already has a CNAME with a
 * different target (a name holds at most one CNAME). */
#define MDSPF__ZONE_CNAME_CONFLICT 1 /* statuses are 0 or negative */

/* Longest TXT record (all character-strings together) the zone stores:
 * a longer one could never be served (MDSPF_MAX_ANSWER_BYTES). */
#define MDSPF__ZONE_MAX_TXT MDSPF_MAX_ANSWER_BYTES

/* References for the overlay resolver, which reads the zone's data:
 * mdspf_zone_free closes the zone (its queries fail) and drops the
 * user's reference; the memory goes with the last one. */
mdspf_zone *mdspf__zone_ref(mdspf_zone *z);
void mdspf__zone_unref(mdspf_zone *z);
/* 1 once its user freed it: it answers nothing and holds no data. */
int mdspf__zone_closed(const mdspf_zone *z);

/* The zone's allocator and flags (MDSPF_ZONE_LAX, ...). */
const mdspf__allocator *mdspf__zone_allocator(const mdspf_zone *z);
unsigned mdspf__zone_flags(const mdspf_zone *z);

/*
 * Store one record under owner (any case, one trailing dot allowed).
 *   A:     data = 4 bytes            AAAA: data = 16 bytes
 *   MX:    data = exchange name, pref = preference (len 0 = null MX ".")
 *   PTR, CNAME: data = target name (trailing dot allowed)
 *   TXT:   data = the nstr character-strings concatenated (len octets);
 *          lens[i] their lengths (lens may be NULL when nstr == 0)
 * String lengths are NOT checked against 255 here (the callers apply
 * MDSPF_ZONE_LAX); the total is capped at MDSPF__ZONE_MAX_TXT.  ttl is
 * the record's TTL in seconds (0..2^31-1), -1 for none (unknown).
 * Returns MDSPF_OK, MDSPF_E_INVAL (bad owner, bad target name, bad type
 * or size), MDSPF_E_NOMEM or MDSPF__ZONE_CNAME_CONFLICT.
 */
int mdspf__zone_put(mdspf_zone *z, const char *owner, size_t ownerlen,
                    int rrtype, const void *data, size_t len, unsigned pref,
                    const size_t *lens, size_t nstr, long ttl);

/* A SOA record at owner with TTL ttl (-1: none) and MINIMUM field
 * minimum: names at and below owner get the negative-caching TTL
 * min(ttl, minimum) (RFC 2308; minimum alone without ttl).  The record
 * itself is counted with mdspf__zone_skip.  MDSPF_OK, MDSPF_E_INVAL or
 * MDSPF_E_NOMEM. */
int mdspf__zone_soa(mdspf_zone *z, const char *owner, size_t ownerlen,
                    long ttl, long minimum);

/* Make owner exist without serving data (an empty non-terminal).
 * MDSPF_OK, MDSPF_E_INVAL or MDSPF_E_NOMEM. */
int mdspf__zone_touch(mdspf_zone *z, const char *owner, size_t ownerlen);

/* Longest type name a skip counter holds, NUL included ("TYPE65535",
 * "NSAP-PTR", "NSEC3PARAM"). */
#define MDSPF__ZONE_TYPE_NAME 12

/* One record of a type the zone does not serve (SOA, NS, SPF, RRSIG,
 * SRV, TYPE65534, ...): owner exists from now on (NODATA, not NXDOMAIN)
 * and the counter of rrtype (0..65535) goes up by one; tname, its name
 * as mdspf_zone_skipped reports it (shorter than MDSPF__ZONE_TYPE_NAME),
 * is copied when the type is first seen.  MDSPF_OK, MDSPF_E_INVAL (bad
 * owner, type or name) or MDSPF_E_NOMEM. */
int mdspf__zone_skip(mdspf_zone *z, const char *owner, size_t ownerlen,
                     unsigned rrtype, const char *tname);

/*
 * Parse rdata in master-file syntax for rrtype (A, AAAA, MX, TXT, PTR,
 * CNAME) and store the record under owner.  Names in the rdata are
 * absolute (no origin; a trailing dot is optional).  Returns MDSPF_OK,
 * MDSPF_E_SYNTAX (bad rdata), MDSPF_E_INVAL (bad owner or type, CNAME
 * conflict) or MDSPF_E_NOMEM.  Defined in zonefile.c.
 */
int mdspf__zone_add_rdata(mdspf_zone *z, const char *owner, size_t ownerlen,
                          int rrtype, const char *rdata, size_t len);

#endif /* MDSPF_RESOLVERS_ZONE_H */

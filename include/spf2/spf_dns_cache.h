/*
 * spf2/spf_dns_cache.h -- a caching DNS layer (the libmaildrop-spf cache:
 * TTLs from the answers, bounded size).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_DNS_CACHE
#define INC_SPF_DNS_CACHE

#include "spf_dns.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A cache over layer_below (a layer of this library, which the cache
 * then owns and frees, or a caller's layer, which it does not).
 * cache_bits (1..24) sizes it at 2^cache_bits answers.  NULL when out
 * of memory or layer_below is NULL. */
SPF_dns_server_t *SPF_dns_cache_new(SPF_dns_server_t *layer_below,
                                    const char *name, int debug,
                                    int cache_bits);
/* Accepted; the cache keeps each answer for its own TTL (capped at an
 * hour) instead. */
void SPF_dns_cache_set_ttl(SPF_dns_server_t *spf_dns_server, time_t min_ttl,
                           time_t err_ttl, time_t txt_ttl, time_t rdns_ttl);
void SPF_dns_set_conserve_cache(SPF_dns_server_t *spf_dns_server,
                                int conserve_cache);

#ifdef __cplusplus
}
#endif
#endif /* INC_SPF_DNS_CACHE */

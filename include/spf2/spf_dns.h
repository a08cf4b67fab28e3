/*
 * spf2/spf_dns.h -- DNS layers.  A layer answers lookup(name, type) with
 * an SPF_dns_rr_t; layers stack (a cache over a resolver).  The
 * library's own layers (resolv, cache, zone, null) run on the
 * libmaildrop-spf resolvers; a layer the caller fills in itself (lookup
 * set to its own function) is called synchronously for every DNS query
 * of a check.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_DNS
#define INC_SPF_DNS

#include "spf_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ns_t_spf
#define ns_t_spf 99
#endif

typedef void (*SPF_dns_destroy_t)(SPF_dns_server_t *spf_dns_server);
/* Returns a new SPF_dns_rr_t the caller frees with SPF_dns_rr_free
 * (NULL only when out of memory). */
typedef SPF_dns_rr_t *(*SPF_dns_lookup_t)(SPF_dns_server_t *spf_dns_server,
                                          const char *domain,
                                          ns_type ns_type, int should_cache);
typedef SPF_errcode_t (*SPF_dns_get_spf_t)(SPF_server_t *spf_server,
                                           SPF_request_t *spf_request,
                                           SPF_response_t *spf_response,
                                           SPF_record_t **spf_recordp);
typedef SPF_errcode_t (*SPF_dns_get_exp_t)(SPF_server_t *spf_server,
                                           const char *domain, char **buf,
                                           size_t *buf_len);
typedef int (*SPF_dns_add_cache_t)(SPF_server_t *spf_server,
                                   SPF_dns_rr_t spfrr);

/* A DNS layer.  A caller's own layer sets lookup (and name, debug);
 * destroy NULL means nobody frees it but its maker.  get_spf, get_exp
 * and add_cache are not used by this library. */
struct SPF_dns_server_struct {
  SPF_dns_destroy_t destroy;
  SPF_dns_lookup_t lookup;
  SPF_dns_get_spf_t get_spf;
  SPF_dns_get_exp_t get_exp;
  SPF_dns_add_cache_t add_cache;
  SPF_dns_server_t *layer_below;
  const char *name;
  int debug;
  void *hook; /* the layer's own data */
};

/* Free a layer and the layers below it: each layer's destroy is called,
 * down to the first layer that has none (a layer its owner frees, with
 * what is below it).  NULL is fine. */
void SPF_dns_free(SPF_dns_server_t *spf_dns_server);
/* Look up through the layer (its lookup function). */
SPF_dns_rr_t *SPF_dns_lookup(SPF_dns_server_t *spf_dns_server,
                             const char *domain, ns_type rr_type,
                             int should_cache);
SPF_dns_rr_t *SPF_dns_rlookup(SPF_dns_server_t *spf_dns_server,
                              struct in_addr ipv4, ns_type rr_type,
                              int should_cache);
SPF_dns_rr_t *SPF_dns_rlookup6(SPF_dns_server_t *spf_dns_server,
                               struct in6_addr ipv6, ns_type rr_type,
                               int should_cache);
/* Always NULL: client names are not validated (see the README). */
char *SPF_dns_get_client_dom(SPF_dns_server_t *spf_dns_server,
                             SPF_request_t *sr);

#ifdef __cplusplus
}
#endif

#include "spf_request.h"
#include "spf_dns_rr.h"

#endif /* INC_SPF_DNS */

/*
 * spf2/spf_dns_zone.h -- an in-memory zone as DNS layer (tests, what-if
 * checks).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_DNS_ZONE
#define INC_SPF_DNS_ZONE

#include "spf_dns.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An empty zone; names it does not hold do not exist (layer_below is
 * not consulted and not owned).  NULL when out of memory. */
SPF_dns_server_t *SPF_dns_zone_new(SPF_dns_server_t *layer_below,
                                   const char *name, int debug);
/* Add to a zone layer: herrno NETDB_SUCCESS with data (A/AAAA address,
 * MX or PTR name, TXT text), NO_DATA (the name exists without records
 * of the type), HOST_NOT_FOUND, or TRY_AGAIN / NO_RECOVERY (queries of
 * the name fail temporarily).  SPF_E_INVALID_OPT for a layer that is
 * not a zone, a bad name or data. */
SPF_errcode_t SPF_dns_zone_add_str(SPF_dns_server_t *spf_dns_server,
                                   const char *domain, ns_type rr_type,
                                   SPF_dns_stat_t herrno, const char *data);

#ifdef __cplusplus
}
#endif
#endif /* INC_SPF_DNS_ZONE */

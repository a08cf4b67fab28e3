/*
 * spf2/spf_dns_resolv.h -- the system's DNS servers as DNS layer (the
 * libmaildrop-spf c-ares backend reading /etc/resolv.conf).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_DNS_RESOLV
#define INC_SPF_DNS_RESOLV

#include "spf_dns.h"

#ifdef __cplusplus
extern "C" {
#endif

/* layer_below is ignored.  NULL when out of memory or when the
 * resolver cannot be set up. */
SPF_dns_server_t *SPF_dns_resolv_new(SPF_dns_server_t *layer_below,
                                     const char *name, int debug);

#ifdef __cplusplus
}
#endif
#endif /* INC_SPF_DNS_RESOLV */

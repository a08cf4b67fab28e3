/*
 * spf2/spf_dns_null.h -- a DNS layer that passes every lookup to the
 * layer below (or answers "no such host" without one).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_DNS_NULL
#define INC_SPF_DNS_NULL

#include "spf_dns.h"

#ifdef __cplusplus
extern "C" {
#endif

SPF_dns_server_t *SPF_dns_null_new(SPF_dns_server_t *layer_below,
                                   const char *name, int debug);

#ifdef __cplusplus
}
#endif
#endif /* INC_SPF_DNS_NULL */

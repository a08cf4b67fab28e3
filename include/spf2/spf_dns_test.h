/*
 * spf2/spf_dns_test.h -- libspf2's test-suite layer: here an empty zone
 * (fill it with SPF_dns_zone_add_str).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_DNS_TEST
#define INC_SPF_DNS_TEST

#include "spf_dns.h"

#ifdef __cplusplus
extern "C" {
#endif

SPF_dns_server_t *SPF_dns_test_new(SPF_dns_server_t *layer_below,
                                   const char *name, int debug);

#ifdef __cplusplus
}
#endif
#endif /* INC_SPF_DNS_TEST */

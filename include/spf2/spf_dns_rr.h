/*
 * spf2/spf_dns_rr.h -- a DNS answer as DNS layers hand it over.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_DNS_RR
#define INC_SPF_DNS_RR

#include "spf_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One record: an address, or a NUL-terminated name (PTR, MX target) or
 * text (TXT, character-strings joined). */
typedef union {
  struct in_addr a;
  char ptr[1];
  char mx[1];
  char txt[1];
  struct in6_addr aaaa;
} SPF_dns_rr_data_t;

/* An answer.  rr[0..num_rr-1] are the records; rr_buf_len and
 * rr_buf_num describe the allocation (rr_buf_num >= num_rr when made by
 * this library).  herrno: NETDB_SUCCESS, HOST_NOT_FOUND, NO_DATA,
 * TRY_AGAIN or NO_RECOVERY. */
struct SPF_dns_rr_struct {
  char *domain;
  size_t domain_buf_len;
  ns_type rr_type;
  int num_rr;
  SPF_dns_rr_data_t **rr;
  size_t *rr_buf_len;
  int rr_buf_num;
  time_t ttl;
  time_t utc_ttl;
  SPF_dns_stat_t herrno;
  void *hook;
  SPF_dns_server_t *source;
};

/* Constructors return NULL when out of memory; free with
 * SPF_dns_rr_free (NULL is fine). */
SPF_dns_rr_t *SPF_dns_rr_new(void);
void SPF_dns_rr_free(SPF_dns_rr_t *spfrr);
SPF_dns_rr_t *SPF_dns_rr_new_init(SPF_dns_server_t *spf_dns_server,
                                  const char *domain, ns_type rr_type,
                                  int ttl, SPF_dns_stat_t herrno);
SPF_dns_rr_t *SPF_dns_rr_new_nxdomain(SPF_dns_server_t *spf_dns_server,
                                      const char *domain);
/* Make room for record idx of at least len octets. */
SPF_errcode_t SPF_dns_rr_buf_realloc(SPF_dns_rr_t *spfrr, int idx,
                                     size_t len);
/* Deep copy of src (its records read as src->rr_type says) into a new
 * answer *dstp.  src's own memory stays the caller's. */
SPF_errcode_t SPF_dns_rr_dup(SPF_dns_rr_t **dstp, SPF_dns_rr_t *src);

#ifdef __cplusplus
}
#endif

#include "spf_dns.h"

#endif /* INC_SPF_DNS_RR */

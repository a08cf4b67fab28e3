/*
 * spf2/spf_server.h -- the SPF server: DNS layer, local policy,
 * explanation, receiving domain and limits shared by its requests.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_SERVER
#define INC_SPF_SERVER

#include "spf_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SPF_MAX_DNS_MECH
#define SPF_MAX_DNS_MECH 10
#endif
#ifndef SPF_MAX_DNS_PTR
#define SPF_MAX_DNS_PTR 10
#endif
#ifndef SPF_MAX_DNS_MX
#define SPF_MAX_DNS_MX 10
#endif

/* Public fields: read them, change them only through the setters (the
 * library keeps its engine configuration in step with the setters). */
struct SPF_server_struct {
  SPF_dns_server_t *resolver; /* the DNS layer */
  SPF_record_t *local_policy; /* compiled local policy, or NULL */
  SPF_macro_t *explanation;   /* compiled default explanation */
  char *rec_dom;              /* receiving host name (%{r}, comments) */
  int max_dns_mech;
  int max_dns_ptr;
  int max_dns_mx;
  int sanitize;
  int debug;
  int destroy_resolver; /* 1 if SPF_server_free frees the resolver */
};

typedef enum SPF_server_dnstype_enum {
  SPF_DNS_RESOLV, /* the system's DNS servers (/etc/resolv.conf) */
  SPF_DNS_CACHE,  /* the same behind a cache */
  SPF_DNS_ZONE    /* an in-memory zone, filled by SPF_dns_zone_add_str */
} SPF_server_dnstype_t;

/* Create a server with a DNS layer of the given type (owned), or over
 * the caller's layer dns (not owned, must outlive the server).  NULL
 * when out of memory or the DNS layer cannot be made. */
SPF_server_t *SPF_server_new(SPF_server_dnstype_t dnstype, int debug);
SPF_server_t *SPF_server_new_dns(SPF_dns_server_t *dns, int debug);
/* Free the server (and its DNS layer if owned).  NULL is fine. */
void SPF_server_free(SPF_server_t *sp);
/* Receiving domain (NULL: gethostname()).  Copied. */
SPF_errcode_t SPF_server_set_rec_dom(SPF_server_t *sp, const char *dom);
/* Accepted and stored; strings from outside are always made printable. */
SPF_errcode_t SPF_server_set_sanitize(SPF_server_t *sp, int sanitize);
/* Default explanation (a macro-string).  *spf_responsep: if NULL, a new
 * response is made to carry error messages (the caller frees it). */
SPF_errcode_t SPF_server_set_explanation(SPF_server_t *sp, const char *exp,
                                         SPF_response_t **spf_responsep);
/* Local policy mechanisms, applied to requests whose use_local_policy
 * field is set.  use_default_whitelist is ignored. */
SPF_errcode_t SPF_server_set_localpolicy(SPF_server_t *sp,
                                         const char *policy,
                                         int use_default_whitelist,
                                         SPF_response_t **spf_responsep);
/* Fetch and compile the record of spf_request->cur_dom (or of the
 * identity's domain when cur_dom is NULL).  *spf_recordp owned by the
 * caller (SPF_record_free). */
SPF_errcode_t SPF_server_get_record(SPF_server_t *spf_server,
                                    SPF_request_t *spf_request,
                                    SPF_response_t *spf_response,
                                    SPF_record_t **spf_recordp);

/* Limits: DNS-querying terms (1..100), PTR names and MX names per
 * lookup (1..100).  Out of range: SPF_E_INVALID_OPT, nothing changed. */
SPF_errcode_t SPF_server_set_max_dns_mech(SPF_server_t *spf_server, int n);
int SPF_server_get_max_dns_mech(SPF_server_t *spf_server);
SPF_errcode_t SPF_server_set_max_dns_ptr(SPF_server_t *spf_server, int n);
int SPF_server_get_max_dns_ptr(SPF_server_t *spf_server);
SPF_errcode_t SPF_server_set_max_dns_mx(SPF_server_t *spf_server, int n);
int SPF_server_get_max_dns_mx(SPF_server_t *spf_server);

#ifdef __cplusplus
}
#endif

#include "spf_record.h"
#include "spf_dns.h"

#endif /* INC_SPF_SERVER */

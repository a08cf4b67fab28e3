/*
 * spf2/spf_request.h -- one SPF question: client address, HELO and
 * sender, asked of a server.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_REQUEST
#define INC_SPF_REQUEST

#include "spf_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Public fields (readable; spf_server, use_local_policy and use_helo may
 * be written).  The strings belong to the request. */
struct SPF_request_struct {
  SPF_server_t *spf_server;
  int client_ver;       /* AF_INET, AF_INET6, or AF_UNSPEC */
  struct in_addr ipv4;
  struct in6_addr ipv6;
  char *env_from;       /* the MAIL FROM address (postmaster@ added) */
  char *helo_dom;
  char *rcpt_to_dom;    /* set by SPF_request_query_rcptto */
  char use_local_policy;
  char use_helo;        /* check the HELO identity instead */
  char *env_from_lp;    /* local part of env_from */
  char *env_from_dp;    /* domain of env_from */
  char *client_dom;     /* unused (always NULL) */
  const char *cur_dom;  /* domain of the last query */
};

/* A request of spf_server (may be NULL and set later through the
 * spf_server field).  NULL when out of memory. */
SPF_request_t *SPF_request_new(SPF_server_t *spf_server);
void SPF_request_free(SPF_request_t *sr);
SPF_errcode_t SPF_request_set_ipv4(SPF_request_t *sr, struct in_addr addr);
SPF_errcode_t SPF_request_set_ipv6(SPF_request_t *sr, struct in6_addr addr);
/* SPF_E_INVALID_IP4 / _IP6 for text that is not an address (NULL means
 * the unspecified address, as in libspf2). */
SPF_errcode_t SPF_request_set_ipv4_str(SPF_request_t *sr, const char *astr);
SPF_errcode_t SPF_request_set_ipv6_str(SPF_request_t *sr, const char *astr);
/* HELO name (copied); also the sender while none is set. */
SPF_errcode_t SPF_request_set_helo_dom(SPF_request_t *sr, const char *dom);
/* MAIL FROM (copied); "" means the HELO name; no local part means
 * "postmaster".  0 on success, an SPF_errcode_t otherwise. */
int SPF_request_set_env_from(SPF_request_t *sr, const char *from);
const char *SPF_request_get_rec_dom(SPF_request_t *sr);
/* Always NULL: the library does not validate the client's name. */
const char *SPF_request_get_client_dom(SPF_request_t *sr);
/* 1 for 127.0.0.0/8 and ::1. */
int SPF_request_is_loopback(SPF_request_t *sr);

/* Evaluate.  *spf_responsep gets a new response (owned by the caller,
 * also when an error code is returned; NULL only when out of memory).
 * Blocking: runs the check to its end on the server's DNS layer. */
SPF_errcode_t SPF_request_query_mailfrom(SPF_request_t *spf_request,
                                         SPF_response_t **spf_responsep);
/* Is the client an MX host of rcpt_to's domain ("v=spf1 mx" there)? */
SPF_errcode_t SPF_request_query_rcptto(SPF_request_t *spf_request,
                                       SPF_response_t **spf_responsep,
                                       const char *rcpt_to);
/* Evaluate record as the sender domain's own record. */
SPF_errcode_t SPF_request_query_fallback(SPF_request_t *spf_request,
                                         SPF_response_t **spf_responsep,
                                         const char *record);
/* The explanation a fail of spf_record would get, into *bufp (realloc'd
 * with the C library; the caller frees). */
SPF_errcode_t SPF_request_get_exp(SPF_server_t *spf_server,
                                  SPF_request_t *spf_request,
                                  SPF_response_t *spf_response,
                                  SPF_record_t *spf_record, char **bufp,
                                  size_t *buflenp);
/* Set result, reason and error of a response of a request and format
 * its comments.  Returns err. */
SPF_errcode_t SPF_i_done(SPF_response_t *spf_response, SPF_result_t result,
                         SPF_reason_t reason, SPF_errcode_t err);

#ifdef __cplusplus
}
#endif

#include "spf_server.h"

#endif /* INC_SPF_REQUEST */

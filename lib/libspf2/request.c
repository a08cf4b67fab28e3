/*
 * lib/libspf2/request.c -- SPF_request_t and the queries: each query runs
 * one engine check to its end (mdspf_check_run drives the resolver) and
 * turns its outcome into a libspf2 response.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "libspf2/compat.h"

#include <arpa/inet.h>
#include <string.h>

SPF_request_t *SPF_request_new(SPF_server_t *spf_server) {
  SPF_request_t *sr = spfx_calloc(1, sizeof *sr);
  if (sr) {
    sr->spf_server = spf_server;
    sr->client_ver = AF_UNSPEC;
    sr->ipv4.s_addr = htonl(INADDR_ANY);
    sr->ipv6 = in6addr_any;
  }
  return sr;
}

void SPF_request_free(SPF_request_t *sr) {
  if (!sr) {
    return;
  }
  spfx_free(sr->client_dom);
  spfx_free(sr->helo_dom);
  spfx_free(sr->env_from);
  spfx_free(sr->env_from_lp);
  spfx_free(sr->env_from_dp);
  spfx_free(sr->rcpt_to_dom);
  spfx_free(sr);
}

SPF_errcode_t SPF_request_set_ipv4(SPF_request_t *sr, struct in_addr addr) {
  if (!sr) {
    return SPF_E_INTERNAL_ERROR;
  }
  sr->client_ver = AF_INET;
  sr->ipv4 = addr;
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_request_set_ipv6(SPF_request_t *sr, struct in6_addr addr) {
  if (!sr) {
    return SPF_E_INTERNAL_ERROR;
  }
  sr->client_ver = AF_INET6;
  sr->ipv6 = addr;
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_request_set_ipv4_str(SPF_request_t *sr, const char *astr) {
  struct in_addr a;
  if (inet_pton(AF_INET, astr ? astr : "0.0.0.0", &a) != 1) {
    return SPF_E_INVALID_IP4;
  }
  return SPF_request_set_ipv4(sr, a);
}

SPF_errcode_t SPF_request_set_ipv6_str(SPF_request_t *sr, const char *astr) {
  struct in6_addr a;
  if (inet_pton(AF_INET6, astr ? astr : "::", &a) != 1) {
    return SPF_E_INVALID_IP6;
  }
  return SPF_request_set_ipv6(sr, a);
}

SPF_errcode_t SPF_request_set_helo_dom(SPF_request_t *sr, const char *dom) {
  char *copy;
  if (!sr || !dom) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (!(copy = spfx_strdup(dom))) {
    return SPF_E_NO_MEMORY;
  }
  spfx_free(sr->helo_dom);
  sr->helo_dom = copy;
  if (!sr->env_from) {
    return (SPF_errcode_t)SPF_request_set_env_from(sr, dom);
  }
  return SPF_E_SUCCESS;
}

int SPF_request_set_env_from(SPF_request_t *sr, const char *from) {
  const char *at;
  char *ef, *lp, *dp;
  size_t n;
  if (!sr || !from) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (!*from && sr->helo_dom) {
    from = sr->helo_dom;
  }
  at = strrchr(from, '@');
  if (at && at != from) {
    ef = spfx_strdup(from);
    lp = spfx_strndup(from, (size_t)(at - from));
    dp = spfx_strdup(at + 1);
  } else {
    if (at) {
      from++;
    }
    n = strlen(from);
    ef = spfx_realloc(NULL, n + sizeof "postmaster@");
    if (ef) {
      memcpy(ef, "postmaster@", 11);
      memcpy(ef + 11, from, n + 1);
    }
    lp = spfx_strdup("postmaster");
    dp = spfx_strdup(from);
  }
  if (!ef || !lp || !dp) {
    spfx_free(ef);
    spfx_free(lp);
    spfx_free(dp);
    return SPF_E_NO_MEMORY;
  }
  spfx_free(sr->env_from);
  spfx_free(sr->env_from_lp);
  spfx_free(sr->env_from_dp);
  sr->env_from = ef;
  sr->env_from_lp = lp;
  sr->env_from_dp = dp;
  return SPF_E_SUCCESS;
}

const char *SPF_request_get_rec_dom(SPF_request_t *sr) {
  return sr && sr->spf_server ? sr->spf_server->rec_dom : NULL;
}

const char *SPF_request_get_client_dom(SPF_request_t *sr) {
  (void)sr;
  return NULL;
}

int SPF_request_is_loopback(SPF_request_t *sr) {
  if (!sr) {
    return 0;
  }
  if (sr->client_ver == AF_INET) {
    return (ntohl(sr->ipv4.s_addr) >> 24) == 127;
  }
  if (sr->client_ver == AF_INET6) {
    return IN6_IS_ADDR_LOOPBACK(&sr->ipv6);
  }
  return 0;
}

/* ---- queries ------------------------------------------------------- */

enum { Q_MAILFROM, Q_RCPTTO, Q_RECORD };

static SPF_errcode_t status_err(mdspf_status st) {
  switch (st) {
  case MDSPF_E_NOMEM:
  case MDSPF_E_BUDGET:
    return SPF_E_NO_MEMORY;
  case MDSPF_E_LIMIT:
    return SPF_E_BIG_DNS;
  case MDSPF_E_NORECORD:
    return SPF_E_INCLUDE_RETURNED_NONE;
  case MDSPF_E_MULTIREC:
    return SPF_E_MULTIPLE_RECORDS;
  case MDSPF_E_SYNTAX:
    return SPF_E_SYNTAX;
  case MDSPF_E_INVAL:
    return SPF_E_NOT_CONFIG;
  default:
    return SPF_E_DNS_ERROR;
  }
}

/* Result, reason and error code of a finished check. */
static SPF_errcode_t outcome(SPF_response_t *rp, mdspf_check *chk, int mode,
                             SPF_errcode_t *ret) {
  int res = mdspf_check_result(chk), code = 0;
  mdspf_status why = mdspf_check_reason(chk);
  const char *problem = mdspf_check_problem(chk);
  SPF_reason_t reason = SPF_REASON_NONE;
  SPF_errcode_t err = SPF_E_SUCCESS;
  *ret = SPF_E_SUCCESS;
  switch (res) {
  case MDSPF_PASS:
  case MDSPF_FAIL:
  case MDSPF_SOFTFAIL:
  case MDSPF_NEUTRAL:
    if (mdspf_check_source(chk) == MDSPF_SRC_LOCAL) {
      reason = SPF_REASON_LOCAL_POLICY;
    } else if (mode == Q_RCPTTO && res == MDSPF_PASS) {
      reason = SPF_REASON_2MX;
    } else {
      reason = mdspf_check_mechanism(chk) ? SPF_REASON_MECH
                                          : SPF_REASON_DEFAULT;
    }
    break;
  case MDSPF_NONE:
    reason = SPF_REASON_FAILURE;
    *ret = SPF_E_NOT_SPF;
    (void)SPF_response_add_error(rp, SPF_E_NOT_SPF, "%s",
                                 problem ? problem : "No SPF record");
    break;
  case MDSPF_PERMERROR:
    if (mdspf_check_syntax_error(chk, &code, NULL, NULL) == MDSPF_OK) {
      err = spfx_syntax_err(code);
    } else {
      err = status_err(why);
    }
    *ret = err;
    (void)SPF_response_add_error(rp, err, "%s",
                                 problem ? problem : SPF_strerror(err));
    break;
  default:
    res = MDSPF_TEMPERROR;
    err = why == MDSPF_E_NOMEM || why == MDSPF_E_BUDGET ? SPF_E_NO_MEMORY
                                                        : SPF_E_DNS_ERROR;
    *ret = err;
    (void)SPF_response_add_error(rp, err, "%s",
                                 problem ? problem : SPF_strerror(err));
    break;
  }
  rp->num_dns_mech = (int)mdspf_check_dns_terms(chk);
  if (res == MDSPF_FAIL && mdspf_check_explanation(chk)) {
    rp->explanation = spfx_strdup(mdspf_check_explanation(chk));
  }
  return SPF_i_done(rp, (SPF_result_t)res, reason, err);
}

/* Run one check for the request.  mode Q_RCPTTO: is the client an MX of
 * arg (a domain); Q_RECORD: evaluate rec as the domain's record. */
static SPF_errcode_t run_check(SPF_request_t *sr, SPF_response_t *rp,
                               int mode, const char *arg,
                               const mdspf_record *rec) {
  spfx_server *s = (spfx_server *)sr->spf_server;
  mdspf_check *chk = NULL;
  const char *dom;
  SPF_errcode_t ret = SPF_E_SUCCESS;
  mdspf_status st;
  int want_lp;

  if (sr->client_ver != AF_INET && sr->client_ver != AF_INET6) {
    SPF_response_add_error(rp, SPF_E_NOT_CONFIG, "No client IP address");
    return SPF_i_done(rp, SPF_RESULT_PERMERROR, SPF_REASON_NONE,
                      SPF_E_NOT_CONFIG);
  }
  if (SPF_request_is_loopback(sr)) {
    return SPF_i_done(rp, SPF_RESULT_PASS, SPF_REASON_LOCALHOST,
                      SPF_E_SUCCESS);
  }
  dom = mode == Q_RCPTTO ? arg : sr->use_helo ? sr->helo_dom
                                              : sr->env_from_dp;
  if (!dom) {
    SPF_response_add_error(rp, SPF_E_NOT_CONFIG, "No sender or HELO name");
    return SPF_i_done(rp, SPF_RESULT_PERMERROR, SPF_REASON_NONE,
                      SPF_E_NOT_CONFIG);
  }
  sr->cur_dom = dom;

  /* the local policy applies when the request asks for it */
  want_lp = sr->use_local_policy && s->lp_text && mode != Q_RCPTTO;
  if (want_lp != s->lp_active) {
    st = mdspf_ctx_set_local_policy(s->ctx, want_lp ? s->lp_text : NULL,
                                    NULL);
    if (st == MDSPF_OK) {
      s->lp_active = want_lp;
    } else if (st == MDSPF_E_NOMEM) {
      goto nomem;
    }
  }

  if (mdspf_check_new(s->ctx, &chk) != MDSPF_OK) {
    goto nomem;
  }
  if (sr->client_ver == AF_INET) {
    st = mdspf_check_set_ip_bin(chk, 4, &sr->ipv4);
  } else {
    st = mdspf_check_set_ip_bin(chk, 6, &sr->ipv6);
  }
  if (st == MDSPF_OK && sr->helo_dom && mode != Q_RCPTTO &&
      mdspf_check_set_helo(chk, sr->helo_dom) != MDSPF_OK && sr->use_helo) {
    st = MDSPF_E_INVAL;
  }
  if (st == MDSPF_OK && mode == Q_RCPTTO) {
    st = mdspf_check_set_helo(chk, arg);
    if (st == MDSPF_OK) {
      st = mdspf_check_set_identity(chk, MDSPF_ID_HELO);
    }
  } else if (st == MDSPF_OK && sr->use_helo) {
    st = mdspf_check_set_identity(chk, MDSPF_ID_HELO);
  } else if (st == MDSPF_OK && sr->env_from) {
    st = mdspf_check_set_sender(chk, sr->env_from);
  }
  if (st == MDSPF_E_NOMEM) {
    goto nomem;
  }
  if (st != MDSPF_OK) {
    /* a sender or HELO no DNS name can be made of (RFC 7208 4.3) */
    mdspf_check_free(chk);
    SPF_response_add_error(rp, SPF_E_NOT_SPF, "Malformed identity");
    SPF_i_done(rp, SPF_RESULT_NONE, SPF_REASON_FAILURE, SPF_E_SUCCESS);
    return SPF_E_NOT_SPF;
  }

  if (mode == Q_RCPTTO) {
    st = mdspf_ctx_add_override(s->ctx, dom, "v=spf1 mx");
  } else if (mode == Q_RECORD) {
    st = mdspf_ctx_add_override_record(s->ctx, dom, rec);
  } else {
    st = MDSPF_OK;
  }
  if (st == MDSPF_E_NOMEM) {
    goto nomem;
  }
  if (st != MDSPF_OK) {
    /* the context refuses an override for a name that is no domain:
     * none, as for any sender of such a domain */
    mdspf_check_free(chk);
    SPF_response_add_error(rp, SPF_E_NOT_SPF, "Malformed domain");
    SPF_i_done(rp, SPF_RESULT_NONE, SPF_REASON_FAILURE, SPF_E_SUCCESS);
    return SPF_E_NOT_SPF;
  }
  if (mdspf_check_run(chk, 0) == MDSPF_E_NOMEM) {
    if (mode != Q_MAILFROM) {
      (void)mdspf_ctx_add_override(s->ctx, dom, NULL);
    }
    goto nomem;
  }
  if (mode != Q_MAILFROM) {
    (void)mdspf_ctx_add_override(s->ctx, dom, NULL);
  }
  (void)outcome(rp, chk, mode, &ret);
  mdspf_check_free(chk);
  return ret;

nomem:
  mdspf_check_free(chk);
  SPF_response_add_error(rp, SPF_E_NO_MEMORY, "Out of memory");
  SPF_i_done(rp, SPF_RESULT_TEMPERROR, SPF_REASON_NONE, SPF_E_NO_MEMORY);
  return SPF_E_NO_MEMORY;
}

static SPF_errcode_t query_start(SPF_request_t *sr, SPF_response_t **out) {
  if (!out) {
    return SPF_E_INTERNAL_ERROR;
  }
  *out = NULL;
  if (!sr) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (!(*out = SPF_response_new(sr))) {
    return SPF_E_NO_MEMORY;
  }
  if (!sr->spf_server) {
    SPF_response_add_error(*out, SPF_E_NOT_CONFIG, "No server");
    (*out)->result = SPF_RESULT_PERMERROR;
    (*out)->err = SPF_E_NOT_CONFIG;
    return SPF_E_NOT_CONFIG;
  }
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_request_query_mailfrom(SPF_request_t *spf_request,
                                         SPF_response_t **spf_responsep) {
  SPF_errcode_t err = query_start(spf_request, spf_responsep);
  if (err != SPF_E_SUCCESS) {
    return err;
  }
  return run_check(spf_request, *spf_responsep, Q_MAILFROM, NULL, NULL);
}

SPF_errcode_t SPF_request_query_rcptto(SPF_request_t *spf_request,
                                       SPF_response_t **spf_responsep,
                                       const char *rcpt_to) {
  const char *dom;
  char *copy;
  SPF_errcode_t err = query_start(spf_request, spf_responsep);
  if (err != SPF_E_SUCCESS) {
    return err;
  }
  if (!rcpt_to) {
    rcpt_to = "";
  }
  dom = strrchr(rcpt_to, '@');
  dom = dom ? dom + 1 : rcpt_to;
  if (!(copy = spfx_strdup(dom))) {
    SPF_i_done(*spf_responsep, SPF_RESULT_TEMPERROR, SPF_REASON_NONE,
               SPF_E_NO_MEMORY);
    return SPF_E_NO_MEMORY;
  }
  spfx_free(spf_request->rcpt_to_dom);
  spf_request->rcpt_to_dom = copy;
  return run_check(spf_request, *spf_responsep, Q_RCPTTO, copy, NULL);
}

/* Evaluate a compiled record (Q_RECORD); the request's response rp. */
static SPF_errcode_t run_record(SPF_request_t *sr, SPF_response_t *rp,
                                SPF_record_t *record) {
  return run_check(sr, rp, Q_RECORD, NULL,
                   ((spfx_record *)record)->rec);
}

SPF_errcode_t SPF_request_query_fallback(SPF_request_t *spf_request,
                                         SPF_response_t **spf_responsep,
                                         const char *record) {
  SPF_record_t *rec = NULL;
  SPF_errcode_t err = query_start(spf_request, spf_responsep);
  if (err != SPF_E_SUCCESS) {
    return err;
  }
  err = SPF_record_compile(spf_request->spf_server, *spf_responsep, &rec,
                           record ? record : "");
  if (err != SPF_E_SUCCESS) {
    return SPF_i_done(*spf_responsep, SPF_RESULT_PERMERROR, SPF_REASON_NONE,
                      err);
  }
  err = run_record(spf_request, *spf_responsep, rec);
  SPF_record_free(rec);
  return err;
}

SPF_errcode_t SPF_record_interpret(SPF_record_t *spf_record,
                                   SPF_request_t *spf_request,
                                   SPF_response_t *spf_response,
                                   int depth) {
  (void)depth;
  if (!spf_record || !spf_request || !spf_response ||
      !spf_request->spf_server) {
    return SPF_E_NOT_CONFIG;
  }
  return run_record(spf_request, spf_response, spf_record);
}

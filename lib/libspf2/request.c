/*
 * lib/libspf2/request.c -- SPF_request_t and the queries: each query runs
 * one engine check to its end (mdspf_check_run drives the resolver) and
 * turns its outcome into a libspf2 response.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "libspf2/compat.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

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
    return SPF_E_NOT_SPF; /* as libspf2 reports an include of none */
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

/* What the trace of a check tells about record lookups, for libspf2's
 * messages: the last domain found without a record, and the DNS status
 * of the last TXT answers (a few names: lookahead interleaves them). */
#define SEEN_MAX 8
#define NAME_ROOM 256 /* a domain name (253) and its NUL */
typedef struct {
  char none[NAME_ROOM]; /* last domain without a record */
  struct {
    char name[NAME_ROOM];
    int status;
    unsigned count;
  } txt[SEEN_MAX];
  unsigned ntxt;
} seen;

static void copy_name(char *dst, const char *src) {
  size_t n = strlen(src);
  if (n >= NAME_ROOM) {
    n = NAME_ROOM - 1;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static void on_event(void *ud, const mdspf_event *ev) {
  seen *sn = ud;
  switch (mdspf_event_type(ev)) {
  case MDSPF_EV_ANSWER:
    if (mdspf_event_rrtype(ev) == MDSPF_RR_TXT) {
      unsigned i = sn->ntxt++ % SEEN_MAX;
      copy_name(sn->txt[i].name, mdspf_event_text(ev));
      sn->txt[i].status = mdspf_event_dns_status(ev);
      sn->txt[i].count = mdspf_event_count(ev);
    }
    break;
  case MDSPF_EV_RECORD:
    if (strcmp(mdspf_event_text(ev), "(none)") == 0) {
      copy_name(sn->none, mdspf_event_domain(ev));
    }
    break;
  default:
    break;
  }
}

/* libspf2's message for a domain without an SPF record, by what the DNS
 * said of its TXT lookup; NULL when the trace did not see it. */
static int none_message(SPF_response_t *rp, const seen *sn) {
  unsigned i, n = sn->ntxt < SEEN_MAX ? sn->ntxt : SEEN_MAX;
  if (!sn->none[0]) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    unsigned k = (sn->ntxt - 1 - i) % SEEN_MAX; /* newest first */
    if (strcasecmp(sn->txt[k].name, sn->none) != 0) {
      continue;
    }
    switch (sn->txt[k].status) {
    case MDSPF_DNS_NXDOMAIN:
      SPF_response_add_error(rp, SPF_E_NOT_SPF, "Host '%s' not found.",
                             sn->none);
      return 1;
    case MDSPF_DNS_NODATA:
      SPF_response_add_error(rp, SPF_E_NOT_SPF, "No DNS data for '%s'.",
                             sn->none);
      return 1;
    case MDSPF_DNS_OK:
      SPF_response_add_error(rp, SPF_E_NOT_SPF, "No SPF records for '%s'",
                             sn->none);
      return 1;
    default:
      return 0;
    }
  }
  return 0;
}

/* The text after a fixed prefix of the engine's problem, or NULL. */
static const char *after(const char *problem, const char *prefix) {
  size_t n = strlen(prefix);
  return problem && strncmp(problem, prefix, n) == 0 && problem[n]
             ? problem + n
             : NULL;
}

/* The messages libspf2 gives for an error it shares with the engine,
 * else the engine's problem. */
static void error_message(SPF_response_t *rp, SPF_errcode_t err,
                          const char *problem, const seen *sn) {
  const char *name;
  if (err == SPF_E_NOT_SPF && none_message(rp, sn)) {
    return;
  }
  if (err == SPF_E_MULTIPLE_RECORDS &&
      (name = after(problem, "more than one SPF record at "))) {
    SPF_response_add_error(rp, err, "Multiple SPF records for '%s'", name);
    return;
  }
  if (err == SPF_E_DNS_ERROR &&
      ((name = after(problem, "DNS tempfail looking up TXT ")) ||
       (name = after(problem, "DNS error looking up TXT ")))) {
    SPF_response_add_error(rp, err, "Temporary DNS failure for '%s'.", name);
    return;
  }
  SPF_response_add_error(rp, err, "%s", problem ? problem : SPF_strerror(err));
}

static int same_name(const char *a, const char *b) {
  return a && b && strcasecmp(a, b) == 0;
}

/* libspf2's messages for a record that does not compile: what is wrong
 * near which text, then which domain's record it was. */
static void syntax_message(SPF_response_t *rp, const mdspf_check *chk,
                           SPF_errcode_t err, size_t off, size_t len) {
  size_t rlen = 0;
  const char *rec = mdspf_check_record(chk, &rlen);
  const char *dom = mdspf_check_domain(chk);
  if (rec && off <= rlen && len <= rlen - off && len > 0) {
    SPF_response_add_error(rp, err, "%s near '%.*s'", SPF_strerror(err),
                           (int)len, rec + off);
  } else {
    SPF_response_add_error(rp, err, "%s", SPF_strerror(err));
  }
  SPF_response_add_error(rp, err, "Failed to compile SPF record for '%s'",
                         dom ? dom : "");
}

/* Result, reason and error code of a finished check. */
static SPF_errcode_t outcome(SPF_response_t *rp, mdspf_check *chk, int mode,
                             const seen *sn, SPF_errcode_t *ret) {
  int res = mdspf_check_result(chk), code = 0;
  size_t off = 0, len = 0;
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
    err = SPF_E_NOT_SPF;
    *ret = err;
    error_message(rp, err, problem, sn);
    break;
  case MDSPF_PERMERROR:
    if (mdspf_check_syntax_error(chk, &code, &off, &len) == MDSPF_OK) {
      syntax_message(rp, chk, spfx_syntax_err(code), off, len);
      /* libspf2: a record below the checked domain's that does not
       * compile is one not found */
      err = same_name(mdspf_check_domain(chk), rp->spf_request->cur_dom)
                ? spfx_syntax_err(code)
                : SPF_E_NOT_SPF;
      *ret = err;
      break;
    }
    err = status_err(why);
    if (err == SPF_E_MULTIPLE_RECORDS &&
        same_name(after(problem, "more than one SPF record at "),
                  rp->spf_request->cur_dom)) {
      reason = SPF_REASON_FAILURE; /* as libspf2: no record to evaluate */
    }
    *ret = err;
    error_message(rp, err, problem, sn);
    break;
  default:
    res = MDSPF_TEMPERROR;
    err = why == MDSPF_E_NOMEM || why == MDSPF_E_BUDGET ? SPF_E_NO_MEMORY
                                                        : SPF_E_DNS_ERROR;
    *ret = err;
    error_message(rp, err, problem, sn);
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
  seen sn;

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
    SPF_i_done(rp, SPF_RESULT_NONE, SPF_REASON_FAILURE, SPF_E_NOT_SPF);
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
    SPF_i_done(rp, SPF_RESULT_NONE, SPF_REASON_FAILURE, SPF_E_NOT_SPF);
    return SPF_E_NOT_SPF;
  }
  /* the trace tells libspf2's messages apart: the check takes the hook
   * when it starts, and it is removed again before sn goes */
  sn.none[0] = '\0';
  sn.ntxt = 0;
  st = mdspf_ctx_set_trace(s->ctx, on_event, &sn);
  if (st == MDSPF_OK) {
    st = mdspf_check_run(chk, 0);
  }
  (void)mdspf_ctx_set_trace(s->ctx, NULL, NULL);
  if (st == MDSPF_E_NOMEM) {
    if (mode != Q_MAILFROM) {
      (void)mdspf_ctx_add_override(s->ctx, dom, NULL);
    }
    goto nomem;
  }
  if (mode != Q_MAILFROM) {
    (void)mdspf_ctx_add_override(s->ctx, dom, NULL);
  }
  (void)outcome(rp, chk, mode, &sn, &ret);
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

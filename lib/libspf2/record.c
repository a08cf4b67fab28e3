/*
 * lib/libspf2/record.c -- compiled records and macro-strings of the
 * libspf2 API on the engine's parser and macro expander, and the macro
 * values of a request.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * An SPF_record_t wraps an engine record (mdspf_record); an SPF_macro_t
 * is followed by its validated text, which SPF_record_expand_data
 * expands with the engine's expander: every length is bounded there
 * (the macro bugs of libspf2 -- CVE-2021-20314, CVE-2023-42118 -- were
 * in its own expander, which is not used).
 */
#include "libspf2/compat.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/addr.h"

/* Longest expansion kept (an explanation, a modifier value). */
#define EXPAND_MAX 4096

SPF_errcode_t spfx_syntax_err(int code) {
  switch (code) {
  case MDSPF_SYN_VERSION:
    return SPF_E_NOT_SPF;
  case MDSPF_SYN_TOO_LONG:
    return SPF_E_BIG_STRING;
  case MDSPF_SYN_BAD_CHAR:
    return SPF_E_INVALID_CHAR;
  case MDSPF_SYN_UNKNOWN_MECH:
    return SPF_E_UNKNOWN_MECH;
  case MDSPF_SYN_MISSING_ARG:
    return SPF_E_MISSING_OPT;
  case MDSPF_SYN_UNEXPECTED_ARG:
    return SPF_E_INVALID_OPT;
  case MDSPF_SYN_BAD_DOMAIN:
    return SPF_E_BAD_HOST_TLD;
  case MDSPF_SYN_BAD_MACRO:
    return SPF_E_INVALID_ESC;
  case MDSPF_SYN_MACRO_LETTER:
    return SPF_E_INVALID_VAR;
  case MDSPF_SYN_BAD_CIDR:
    return SPF_E_INVALID_CIDR;
  case MDSPF_SYN_BAD_IP4:
    return SPF_E_INVALID_IP4;
  case MDSPF_SYN_BAD_IP6:
    return SPF_E_INVALID_IP6;
  case MDSPF_SYN_TOO_MANY_TERMS:
    return SPF_E_BIG_MECH;
  default:
    return SPF_E_SYNTAX;
  }
}

/* ---- macro values of a request ------------------------------------- */

void spfx_env_init(spfx_env *e, SPF_server_t *srv, SPF_request_t *req,
                   const char *domain) {
  memset(e, 0, sizeof *e);
  e->env.p = "unknown";
  snprintf(e->t, sizeof e->t, "%lld", (long long)time(NULL));
  e->env.t = e->t;
  e->env.r = srv && srv->rec_dom ? srv->rec_dom : "unknown";
  if (!req) {
    return;
  }
  e->env.s = req->env_from;
  e->env.l = req->env_from_lp;
  e->env.o = req->env_from_dp;
  e->env.h = req->helo_dom;
  e->env.d = domain ? domain : req->cur_dom ? req->cur_dom
                                            : req->env_from_dp;
  if (req->client_ver == AF_INET) {
    mdspf__ip_macro_i(4, (const uint8_t *)&req->ipv4, e->ip);
    mdspf__ip4_format((const uint8_t *)&req->ipv4, e->cip);
    e->env.v = "in-addr";
  } else if (req->client_ver == AF_INET6) {
    mdspf__ip_macro_i(6, req->ipv6.s6_addr, e->ip);
    mdspf__ip6_format(req->ipv6.s6_addr, e->cip);
    e->env.v = "ip6";
  }
  if (e->ip[0]) {
    e->env.i = e->ip;
    e->env.c = e->cip;
  }
}

SPF_errcode_t spfx_expand(SPF_server_t *srv, SPF_request_t *req,
                          const char *domain, const char *s, size_t n,
                          int urlsafe, char **bufp, size_t *buflenp) {
  char out[EXPAND_MAX], safe[EXPAND_MAX * 3];
  mdspf__sbuf sb;
  spfx_env e;
  int rc;
  spfx_env_init(&e, srv, req, domain);
  mdspf__sbuf_init(&sb, out, sizeof out);
  rc = mdspf__macro_expand(s, n, MDSPF__MS_EXPLAIN, &e.env, &sb);
  if (rc != MDSPF_SYN_OK) {
    return spfx_syntax_err(rc);
  }
  if (!urlsafe) {
    return spfx_buf_set(bufp, buflenp, out, sb.len);
  }
  mdspf__sbuf_init(&sb, safe, sizeof safe);
  mdspf__sbuf_put_urlsafe(&sb, out, strlen(out));
  return spfx_buf_set(bufp, buflenp, safe, sb.len);
}

/* ---- records ------------------------------------------------------- */

SPF_record_t *SPF_record_new(SPF_server_t *spf_server, const char *text) {
  spfx_record *r = spfx_calloc(1, sizeof *r);
  (void)text;
  if (!r) {
    return NULL;
  }
  r->pub.spf_server = spf_server;
  r->pub.version = SPF_VERSION;
  return &r->pub;
}

void SPF_record_free(SPF_record_t *rp) {
  if (rp) {
    mdspf_record_unref(((spfx_record *)rp)->rec);
    spfx_free(rp);
  }
}

void SPF_macro_free(SPF_macro_t *mac) { spfx_free(mac); }

static unsigned char cap255(size_t n) {
  return (unsigned char)(n > 255 ? 255 : n);
}

SPF_errcode_t SPF_record_compile(SPF_server_t *spf_server,
                                 SPF_response_t *spf_response,
                                 SPF_record_t **spf_recordp,
                                 const char *record) {
  mdspf_record *rec = NULL;
  spfx_record *r;
  size_t off = 0, i, nmech = 0, nmod = 0, ndns = 0, len;
  int code = 0;
  mdspf_status st;
  if (!spf_recordp) {
    return SPF_E_INTERNAL_ERROR;
  }
  *spf_recordp = NULL;
  if (!record) {
    return SPF_E_INTERNAL_ERROR;
  }
  len = strlen(record);
  st = mdspf_record_parse(record, len, spfx_engine_alloc, NULL, &rec, &code,
                          &off, NULL);
  if (st == MDSPF_E_NOMEM) {
    return SPF_response_add_error(spf_response, SPF_E_NO_MEMORY,
                                  "Failed to allocate an SPF record");
  }
  if (st != MDSPF_OK) {
    SPF_errcode_t err = spfx_syntax_err(code);
    return SPF_response_add_error_ptr(spf_response, err, record,
                                      record + (off <= len ? off : len),
                                      "%s", mdspf_syntax_str(code));
  }
  if (!(r = (spfx_record *)SPF_record_new(spf_server, record))) {
    mdspf_record_unref(rec);
    return SPF_response_add_error(spf_response, SPF_E_NO_MEMORY,
                                  "Failed to allocate an SPF record");
  }
  r->rec = rec;
  for (i = 0; i < mdspf_record_nterms(rec); i++) {
    int k = mdspf_record_term_kind(rec, i);
    if (k >= MDSPF_TERM_REDIRECT) {
      nmod++;
    } else {
      nmech++;
    }
    if (k == MDSPF_TERM_INCLUDE || k == MDSPF_TERM_A || k == MDSPF_TERM_MX ||
        k == MDSPF_TERM_PTR || k == MDSPF_TERM_EXISTS ||
        k == MDSPF_TERM_REDIRECT) {
      ndns++;
    }
  }
  r->pub.num_mech = cap255(nmech);
  r->pub.num_mod = cap255(nmod);
  r->pub.num_dns_mech = cap255(ndns);
  *spf_recordp = &r->pub;
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_record_compile_macro(SPF_server_t *spf_server,
                                       SPF_response_t *spf_response,
                                       SPF_macro_t **spf_macrop,
                                       const char *record) {
  size_t n, off = 0, elen = 0;
  SPF_macro_t *mac;
  int rc;
  (void)spf_server;
  if (!spf_macrop) {
    return SPF_E_INTERNAL_ERROR;
  }
  *spf_macrop = NULL;
  if (!record) {
    return SPF_E_INTERNAL_ERROR;
  }
  n = strlen(record);
  if (n > MDSPF_MAX_RECORD) {
    return SPF_response_add_error(spf_response, SPF_E_BIG_STRING,
                                  "Macro string too long");
  }
  rc = mdspf__macro_scan(record, n, MDSPF__MS_EXPLAIN, NULL, NULL, &off,
                         &elen);
  if (rc != MDSPF_SYN_OK) {
    return SPF_response_add_error_ptr(spf_response, spfx_syntax_err(rc),
                                      record, record + off, "%s",
                                      mdspf_syntax_str(rc));
  }
  if (!(mac = spfx_realloc(NULL, sizeof *mac + n + 1))) {
    return SPF_response_add_error(spf_response, SPF_E_NO_MEMORY,
                                  "Out of memory");
  }
  mac->macro_len = n;
  memcpy((char *)mac + sizeof *mac, record, n + 1);
  *spf_macrop = mac;
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_record_expand_data(SPF_server_t *spf_server,
                                     SPF_request_t *spf_request,
                                     SPF_response_t *spf_response,
                                     SPF_data_t *data, size_t data_len,
                                     char **bufp, size_t *buflenp) {
  (void)spf_response;
  if (!data || data_len > MDSPF_MAX_RECORD) {
    return SPF_E_INTERNAL_ERROR;
  }
  return spfx_expand(spf_server, spf_request, NULL, (const char *)data,
                     data_len, 0, bufp, buflenp);
}

SPF_errcode_t SPF_record_find_mod_value(SPF_server_t *spf_server,
                                        SPF_request_t *spf_request,
                                        SPF_response_t *spf_response,
                                        SPF_record_t *spf_record,
                                        const char *mod_name, char **bufp,
                                        size_t *buflenp) {
  const mdspf_record *rec;
  size_t i;
  (void)spf_response;
  if (!spf_record || !mod_name) {
    return SPF_E_INTERNAL_ERROR;
  }
  rec = ((spfx_record *)spf_record)->rec;
  for (i = 0; rec && i < mdspf_record_nterms(rec); i++) {
    const char *name, *value;
    if (mdspf_record_term_kind(rec, i) < MDSPF_TERM_REDIRECT) {
      continue;
    }
    name = mdspf_record_term_name(rec, i);
    if (!name || strcasecmp(name, mod_name) != 0) {
      continue;
    }
    value = mdspf_record_term_value(rec, i);
    if (!value) {
      value = "";
    }
    return spfx_expand(spf_server, spf_request, NULL, value, strlen(value),
                       0, bufp, buflenp);
  }
  return SPF_E_MOD_NOT_FOUND;
}

SPF_errcode_t SPF_record_stringify(SPF_record_t *spf_record, char **bufp,
                                   size_t *buflenp) {
  const mdspf_record *rec;
  size_t need = 0;
  if (!spf_record || !bufp || !buflenp) {
    return SPF_E_INTERNAL_ERROR;
  }
  rec = ((spfx_record *)spf_record)->rec;
  if (!rec) {
    return spfx_buf_set(bufp, buflenp, "v=spf1", 6);
  }
  (void)mdspf_record_format(rec, NULL, 0, &need);
  if (!*bufp || *buflenp < need + 1) {
    char *nb = spfx_realloc(*bufp, need + 1);
    if (!nb) {
      return SPF_E_NO_MEMORY;
    }
    *bufp = nb;
    *buflenp = need + 1;
  }
  if (mdspf_record_format(rec, *bufp, *buflenp, NULL) != MDSPF_OK) {
    return SPF_E_INTERNAL_ERROR;
  }
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_record_print(SPF_record_t *spf_record) {
  char *buf = NULL;
  size_t len = 0;
  SPF_errcode_t err = SPF_record_stringify(spf_record, &buf, &len);
  if (err == SPF_E_SUCCESS) {
    SPF_debugx(__FILE__, __LINE__, "SPF record: %s", buf);
  }
  spfx_free(buf);
  return err;
}

/* ---- explanation and record retrieval through the DNS layer --------- */

SPF_errcode_t SPF_request_get_exp(SPF_server_t *spf_server,
                                  SPF_request_t *spf_request,
                                  SPF_response_t *spf_response,
                                  SPF_record_t *spf_record, char **bufp,
                                  size_t *buflenp) {
  const char *text = spfx_exp_text(spf_server);
  char *target = NULL;
  size_t tlen = 0;
  SPF_errcode_t err;
  if (!spf_server || !spf_request) {
    return SPF_E_NOT_CONFIG;
  }
  err = spf_record ? SPF_record_find_mod_value(spf_server, spf_request,
                                               spf_response, spf_record,
                                               "exp", &target, &tlen)
                   : SPF_E_MOD_NOT_FOUND;
  if (err == SPF_E_SUCCESS && target[0]) {
    SPF_dns_rr_t *rr =
        SPF_dns_lookup(spf_server->resolver, target, ns_t_txt, 1);
    if (rr && rr->herrno == NETDB_SUCCESS && rr->num_rr == 1 && rr->rr &&
        rr->rr[0]) {
      err = spfx_expand(spf_server, spf_request, NULL, rr->rr[0]->txt,
                        strnlen(rr->rr[0]->txt, MDSPF_MAX_RECORD), 1, bufp,
                        buflenp);
      SPF_dns_rr_free(rr);
      spfx_free(target);
      if (err == SPF_E_SUCCESS) {
        return err;
      }
    } else {
      SPF_dns_rr_free(rr);
      spfx_free(target);
    }
  } else {
    spfx_free(target);
  }
  return spfx_expand(spf_server, spf_request, NULL, text, strlen(text), 1,
                     bufp, buflenp);
}

SPF_errcode_t SPF_server_get_record(SPF_server_t *spf_server,
                                    SPF_request_t *spf_request,
                                    SPF_response_t *spf_response,
                                    SPF_record_t **spf_recordp) {
  const char *dom, *found = NULL;
  SPF_dns_rr_t *rr;
  SPF_errcode_t err;
  int i, n = 0;
  if (!spf_recordp) {
    return SPF_E_INTERNAL_ERROR;
  }
  *spf_recordp = NULL;
  if (!spf_server || !spf_request) {
    return SPF_E_NOT_CONFIG;
  }
  dom = spf_request->cur_dom ? spf_request->cur_dom
                             : spf_request->env_from_dp;
  if (!dom) {
    return SPF_E_NOT_CONFIG;
  }
  rr = SPF_dns_lookup(spf_server->resolver, dom, ns_t_txt, 1);
  if (!rr) {
    return SPF_E_NO_MEMORY;
  }
  if (rr->herrno == TRY_AGAIN) {
    SPF_dns_rr_free(rr);
    return SPF_response_add_error(spf_response, SPF_E_DNS_ERROR,
                                  "Temporary DNS failure for '%s'.", dom);
  }
  for (i = 0; rr->herrno == NETDB_SUCCESS && rr->rr && i < rr->num_rr; i++) {
    const char *t = rr->rr[i] ? rr->rr[i]->txt : NULL;
    if (t && strncasecmp(t, "v=spf1", 6) == 0 &&
        (t[6] == ' ' || t[6] == '\0')) {
      n++;
      found = t;
    }
  }
  if (n == 0) {
    SPF_dns_rr_free(rr);
    return SPF_response_add_error(spf_response, SPF_E_NOT_SPF,
                                  "No SPF records for '%s'", dom);
  }
  if (n > 1) {
    SPF_dns_rr_free(rr);
    return SPF_response_add_error(spf_response, SPF_E_MULTIPLE_RECORDS,
                                  "Multiple SPF records for '%s'", dom);
  }
  err = SPF_record_compile(spf_server, spf_response, spf_recordp, found);
  SPF_dns_rr_free(rr);
  return err;
}

/*
 * lib/libspf2/server.c -- SPF_server_t: one engine context per server,
 * configured through the libspf2 setters.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "libspf2/compat.h"

#include <string.h>
#include <unistd.h>

static SPF_errcode_t set_rec_dom_host(SPF_server_t *sp) {
  char host[256];
  if (gethostname(host, sizeof host) != 0) {
    strcpy(host, "localhost");
  }
  host[sizeof host - 1] = '\0';
  spfx_free(sp->rec_dom);
  sp->rec_dom = spfx_strdup(host);
  return sp->rec_dom ? SPF_E_SUCCESS : SPF_E_NO_MEMORY;
}

/* %{r} of the engine follows rec_dom when it is a usable name */
static void sync_receiver(spfx_server *s) {
  if (mdspf_ctx_set_receiver(s->ctx, s->pub.rec_dom) != MDSPF_OK) {
    (void)mdspf_ctx_set_receiver(s->ctx, NULL);
  }
}

static SPF_server_t *server_new(SPF_dns_server_t *dns, int own, int debug) {
  spfx_server *s;
  const mdspf_resolver *res;
  if (!dns) {
    return NULL;
  }
  s = spfx_calloc(1, sizeof *s);
  if (!s) {
    if (own) {
      SPF_dns_free(dns);
    }
    return NULL;
  }
  s->pub.resolver = dns;
  s->pub.destroy_resolver = own;
  s->pub.max_dns_mech = SPF_MAX_DNS_MECH;
  s->pub.max_dns_ptr = SPF_MAX_DNS_PTR;
  s->pub.max_dns_mx = SPF_MAX_DNS_MX;
  s->pub.debug = debug;
  res = spfx_dns_resolver(dns, &s->adapter);
  if (!res || mdspf_ctx_new(spfx_engine_alloc, NULL, &s->ctx) != MDSPF_OK ||
      mdspf_ctx_set_resolver(s->ctx, res) != MDSPF_OK ||
      set_rec_dom_host(&s->pub) != SPF_E_SUCCESS ||
      mdspf_ctx_set_default_explanation(s->ctx, SPF_DEFAULT_EXP) !=
          MDSPF_OK) {
    SPF_server_free(&s->pub);
    return NULL;
  }
  sync_receiver(s);
  return &s->pub;
}

SPF_server_t *SPF_server_new(SPF_server_dnstype_t dnstype, int debug) {
  SPF_dns_server_t *d = NULL, *r;
  switch (dnstype) {
  case SPF_DNS_RESOLV:
    d = SPF_dns_resolv_new(NULL, NULL, debug);
    break;
  case SPF_DNS_CACHE:
    r = SPF_dns_resolv_new(NULL, NULL, debug);
    if (r) {
      d = SPF_dns_cache_new(r, NULL, debug, 8);
      if (!d) {
        SPF_dns_free(r);
      }
    }
    break;
  case SPF_DNS_ZONE:
    d = SPF_dns_zone_new(NULL, NULL, debug);
    break;
  default:
    break;
  }
  return server_new(d, 1, debug);
}

SPF_server_t *SPF_server_new_dns(SPF_dns_server_t *dns, int debug) {
  return server_new(dns, 0, debug);
}

void SPF_server_free(SPF_server_t *sp) {
  spfx_server *s = (spfx_server *)sp;
  if (!sp) {
    return;
  }
  mdspf_ctx_free(s->ctx);
  spfx_adapter_free(s->adapter);
  if (sp->resolver && sp->destroy_resolver) {
    SPF_dns_free(sp->resolver);
  }
  SPF_record_free(sp->local_policy);
  SPF_macro_free(sp->explanation);
  spfx_free(sp->rec_dom);
  spfx_free(s->exp_text);
  spfx_free(s->lp_text);
  spfx_free(s);
}

SPF_errcode_t SPF_server_set_rec_dom(SPF_server_t *sp, const char *dom) {
  char *copy;
  if (!sp) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (!dom) {
    if (set_rec_dom_host(sp) != SPF_E_SUCCESS) {
      return SPF_E_NO_MEMORY;
    }
  } else {
    if (!(copy = spfx_strdup(dom))) {
      return SPF_E_NO_MEMORY;
    }
    spfx_free(sp->rec_dom);
    sp->rec_dom = copy;
  }
  sync_receiver((spfx_server *)sp);
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_server_set_sanitize(SPF_server_t *sp, int sanitize) {
  if (!sp) {
    return SPF_E_INTERNAL_ERROR;
  }
  sp->sanitize = sanitize;
  return SPF_E_SUCCESS;
}

/* A response to carry messages when the caller passed none. */
static SPF_response_t *msg_response(SPF_response_t **rp) {
  if (!rp) {
    return NULL;
  }
  if (!*rp) {
    *rp = SPF_response_new(NULL);
  }
  return *rp;
}

SPF_errcode_t SPF_server_set_explanation(SPF_server_t *sp, const char *exp,
                                         SPF_response_t **spf_responsep) {
  spfx_server *s = (spfx_server *)sp;
  SPF_response_t *rp = msg_response(spf_responsep);
  SPF_macro_t *mac = NULL;
  SPF_errcode_t err;
  char *text;
  if (!sp || !exp) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (spf_responsep && !rp) {
    return SPF_E_NO_MEMORY;
  }
  err = SPF_record_compile_macro(sp, rp, &mac, exp);
  if (err != SPF_E_SUCCESS) {
    if (rp) {
      SPF_response_add_error(rp, err, "Failed to compile explanation '%s'",
                             exp);
    }
    return err;
  }
  if (!(text = spfx_strdup(exp))) {
    SPF_macro_free(mac);
    return SPF_E_NO_MEMORY;
  }
  switch (mdspf_ctx_set_default_explanation(s->ctx, exp)) {
  case MDSPF_OK:
    break;
  case MDSPF_E_NOMEM:
    SPF_macro_free(mac);
    spfx_free(text);
    return SPF_E_NO_MEMORY;
  default:
    SPF_macro_free(mac);
    spfx_free(text);
    return SPF_E_SYNTAX;
  }
  SPF_macro_free(sp->explanation);
  sp->explanation = mac;
  spfx_free(s->exp_text);
  s->exp_text = text;
  return SPF_E_SUCCESS;
}

SPF_errcode_t SPF_server_set_localpolicy(SPF_server_t *sp,
                                         const char *policy,
                                         int use_default_whitelist,
                                         SPF_response_t **spf_responsep) {
  spfx_server *s = (spfx_server *)sp;
  SPF_response_t *rp = msg_response(spf_responsep);
  SPF_record_t *rec = NULL;
  SPF_errcode_t err;
  size_t n;
  char *text, *lp = NULL;
  (void)use_default_whitelist; /* the service it names is gone */
  if (!sp || !policy) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (spf_responsep && !rp) {
    return SPF_E_NO_MEMORY;
  }
  n = strlen(policy);
  if (!(text = spfx_realloc(NULL, n + 8))) {
    return SPF_E_NO_MEMORY;
  }
  memcpy(text, "v=spf1 ", 7);
  memcpy(text + 7, policy, n + 1);
  err = SPF_record_compile(sp, rp, &rec, text);
  spfx_free(text);
  if (err != SPF_E_SUCCESS) {
    if (rp) {
      SPF_response_add_error(rp, err, "Failed to compile local policy '%s'",
                             policy);
    }
    return err;
  }
  if (policy[strspn(policy, " ")] != '\0' && !(lp = spfx_strdup(policy))) {
    SPF_record_free(rec);
    return SPF_E_NO_MEMORY;
  }
  /* the engine takes it when a request asks for it (use_local_policy) */
  if (s->lp_active) {
    (void)mdspf_ctx_set_local_policy(s->ctx, NULL, NULL);
    s->lp_active = 0;
  }
  SPF_record_free(sp->local_policy);
  sp->local_policy = rec;
  spfx_free(s->lp_text);
  s->lp_text = lp;
  return SPF_E_SUCCESS;
}

static SPF_errcode_t set_limit(SPF_server_t *sp, int which, int n,
                               int *field) {
  spfx_server *s = (spfx_server *)sp;
  if (!sp) {
    return SPF_E_INTERNAL_ERROR;
  }
  switch (mdspf_ctx_set_limit(s->ctx, which, n)) {
  case MDSPF_OK:
    *field = n;
    return SPF_E_SUCCESS;
  case MDSPF_E_NOMEM:
    return SPF_E_NO_MEMORY;
  default:
    return SPF_E_INVALID_OPT;
  }
}

SPF_errcode_t SPF_server_set_max_dns_mech(SPF_server_t *sp, int n) {
  return set_limit(sp, MDSPF_LIMIT_DNS_TERMS, n, &sp->max_dns_mech);
}
SPF_errcode_t SPF_server_set_max_dns_ptr(SPF_server_t *sp, int n) {
  return set_limit(sp, MDSPF_LIMIT_PTR_NAMES, n, &sp->max_dns_ptr);
}
SPF_errcode_t SPF_server_set_max_dns_mx(SPF_server_t *sp, int n) {
  return set_limit(sp, MDSPF_LIMIT_MX_NAMES, n, &sp->max_dns_mx);
}
int SPF_server_get_max_dns_mech(SPF_server_t *sp) {
  return sp ? sp->max_dns_mech : 0;
}
int SPF_server_get_max_dns_ptr(SPF_server_t *sp) {
  return sp ? sp->max_dns_ptr : 0;
}
int SPF_server_get_max_dns_mx(SPF_server_t *sp) {
  return sp ? sp->max_dns_mx : 0;
}

const char *spfx_exp_text(SPF_server_t *srv) {
  const spfx_server *s = (const spfx_server *)srv;
  return s && s->exp_text ? s->exp_text : SPF_DEFAULT_EXP;
}

/*
 * lib/libspf2/dns.c -- libspf2 DNS layers on the engine's resolvers, and
 * the adapter that lets the engine use a caller's layer.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The library's own layers are an spfx_dns: the public struct first
 * (lookup = layer_lookup, which is how they are told apart from a
 * caller's layer), then the engine objects behind them.  A check runs on
 * the layer's engine resolver directly (c-ares, cache, zone); the lookup
 * pointer exists for callers that query a layer themselves, and sends
 * one query through the same resolver, waiting for its answer.
 *
 * A caller's layer (Exim fills in its own SPF_dns_server_t) is used
 * through an adapter: an engine resolver whose query() calls
 * layer->lookup synchronously and hands the SPF_dns_rr_t it returns to
 * the engine's answer builders -- so it completes before query()
 * returns, which the engine allows -- mapping h_errno values to DNS
 * statuses: NETDB_SUCCESS with records -> OK (none -> NODATA),
 * HOST_NOT_FOUND -> NXDOMAIN, NO_DATA -> NODATA, TRY_AGAIN -> TEMPFAIL,
 * NO_RECOVERY and anything else -> ERROR.  Only what the answer
 * struct declares is read: num_rr records, each non-NULL, names and
 * texts up to their NUL within rr_buf_len when that is known.
 */
#include "libspf2/compat.h"

#include <maildrop-spf/cares.h>

#include <stdio.h>
#include <string.h>

#include "core/dnsq.h"
#include "core/domain.h"
#include "util/alloc.h"

enum { LAYER_RESOLV = 1, LAYER_CACHE, LAYER_ZONE, LAYER_NULL };

typedef struct spfx_dns {
  SPF_dns_server_t pub;
  int kind;
  mdspf_cares *cares;
  mdspf_cache *cache;
  mdspf_zone *zone;
  spfx_adapter *below; /* a caller's layer below (cache, null) */
  const mdspf_resolver *res;
} spfx_dns;

struct spfx_adapter {
  mdspf_resolver vt;
  SPF_dns_server_t *layer;
};

static SPF_dns_rr_t *layer_lookup(SPF_dns_server_t *d, const char *domain,
                                  ns_type type, int should_cache);

/* ---- answers ------------------------------------------------------- */

SPF_dns_rr_t *SPF_dns_rr_new(void) {
  SPF_dns_rr_t *rr = spfx_calloc(1, sizeof *rr);
  if (rr) {
    rr->rr_type = ns_t_invalid;
    rr->herrno = HOST_NOT_FOUND;
  }
  return rr;
}

void SPF_dns_rr_free(SPF_dns_rr_t *rr) {
  int i;
  if (!rr) {
    return;
  }
  spfx_free(rr->domain);
  if (rr->rr) {
    for (i = 0; i < rr->rr_buf_num; i++) {
      spfx_free(rr->rr[i]);
    }
    spfx_free(rr->rr);
  }
  spfx_free(rr->rr_buf_len);
  spfx_free(rr->hook);
  spfx_free(rr);
}

SPF_dns_rr_t *SPF_dns_rr_new_init(SPF_dns_server_t *d, const char *domain,
                                  ns_type rr_type, int ttl,
                                  SPF_dns_stat_t herrno) {
  SPF_dns_rr_t *rr = SPF_dns_rr_new();
  if (!rr) {
    return NULL;
  }
  rr->source = d;
  if (domain && domain[0]) {
    rr->domain = spfx_strdup(domain);
    if (!rr->domain) {
      SPF_dns_rr_free(rr);
      return NULL;
    }
    rr->domain_buf_len = strlen(domain) + 1;
  }
  rr->rr_type = rr_type;
  rr->ttl = ttl;
  rr->herrno = herrno;
  return rr;
}

SPF_dns_rr_t *SPF_dns_rr_new_nxdomain(SPF_dns_server_t *d,
                                      const char *domain) {
  return SPF_dns_rr_new_init(d, domain, ns_t_any, 0, HOST_NOT_FOUND);
}

SPF_errcode_t SPF_dns_rr_buf_realloc(SPF_dns_rr_t *rr, int idx, size_t len) {
  if (!rr || idx < 0 || idx > 65535) {
    return SPF_E_INTERNAL_ERROR;
  }
  if (idx >= rr->rr_buf_num) {
    int num = idx + idx / 4 + 4, j;
    SPF_dns_rr_data_t **nd;
    size_t *nl;
    nd = spfx_realloc(rr->rr, (size_t)num * sizeof *nd);
    if (!nd) {
      return SPF_E_NO_MEMORY;
    }
    rr->rr = nd;
    nl = spfx_realloc(rr->rr_buf_len, (size_t)num * sizeof *nl);
    if (!nl) {
      return SPF_E_NO_MEMORY; /* rr->rr is larger; harmless */
    }
    rr->rr_buf_len = nl;
    for (j = rr->rr_buf_num; j < num; j++) {
      rr->rr[j] = NULL;
      rr->rr_buf_len[j] = 0;
    }
    rr->rr_buf_num = num;
  }
  if (len < sizeof(SPF_dns_rr_data_t)) {
    len = sizeof(SPF_dns_rr_data_t);
  }
  if (rr->rr_buf_len[idx] < len) {
    void *n = spfx_realloc(rr->rr[idx], len);
    if (!n) {
      return SPF_E_NO_MEMORY;
    }
    rr->rr[idx] = n;
    rr->rr_buf_len[idx] = len;
  }
  return SPF_E_SUCCESS;
}

/* Length of the string of record i of src, bounded by its buffer when
 * the answer says how large that is. */
static size_t rr_strlen(const SPF_dns_rr_t *src, int i) {
  const char *s = src->rr[i]->txt;
  if (src->rr_buf_len && i < src->rr_buf_num && src->rr_buf_len[i] > 0) {
    return strnlen(s, src->rr_buf_len[i]);
  }
  return strnlen(s, MDSPF_MAX_ANSWER_BYTES);
}

SPF_errcode_t SPF_dns_rr_dup(SPF_dns_rr_t **dstp, SPF_dns_rr_t *src) {
  SPF_dns_rr_t *dst;
  SPF_errcode_t err;
  int i;
  if (!dstp) {
    return SPF_E_INTERNAL_ERROR;
  }
  *dstp = NULL;
  if (!src) {
    return SPF_E_INTERNAL_ERROR;
  }
  dst = SPF_dns_rr_new_init(src->source, src->domain, src->rr_type,
                            (int)src->ttl, src->herrno);
  if (!dst) {
    return SPF_E_NO_MEMORY;
  }
  *dstp = dst;
  dst->utc_ttl = src->utc_ttl;
  for (i = 0; i < src->num_rr && src->rr; i++) {
    size_t n;
    if (!src->rr[i]) {
      continue;
    }
    switch (src->rr_type) {
    case ns_t_a:
    case ns_t_aaaa:
      if ((err = SPF_dns_rr_buf_realloc(dst, dst->num_rr,
                                        sizeof(SPF_dns_rr_data_t)))) {
        return err;
      }
      memcpy(dst->rr[dst->num_rr], src->rr[i],
             src->rr_type == ns_t_a ? sizeof(struct in_addr)
                                    : sizeof(struct in6_addr));
      break;
    case ns_t_ptr:
    case ns_t_mx:
    case ns_t_txt:
    case ns_t_spf:
      n = rr_strlen(src, i);
      if ((err = SPF_dns_rr_buf_realloc(dst, dst->num_rr, n + 1))) {
        return err;
      }
      memcpy(dst->rr[dst->num_rr]->txt, src->rr[i]->txt, n);
      dst->rr[dst->num_rr]->txt[n] = '\0';
      break;
    default:
      continue;
    }
    dst->num_rr++;
  }
  return SPF_E_SUCCESS;
}

/* ---- the adapter: a caller's layer as engine resolver --------------- */

static void give_answer(mdspf_dns_query *q, const SPF_dns_rr_t *rr,
                        int rrtype) {
  int i, status;
  switch (rr->herrno) {
  case NETDB_SUCCESS:
    status = MDSPF_DNS_OK;
    break;
  case HOST_NOT_FOUND:
    status = MDSPF_DNS_NXDOMAIN;
    break;
  case NO_DATA:
    status = MDSPF_DNS_NODATA;
    break;
  case TRY_AGAIN:
    status = MDSPF_DNS_TEMPFAIL;
    break;
  default:
    status = MDSPF_DNS_ERROR;
    break;
  }
  if (status == MDSPF_DNS_OK && rr->rr) {
    for (i = 0; i < rr->num_rr; i++) {
      if (!rr->rr[i]) {
        continue;
      }
      switch (rrtype) {
      case MDSPF_RR_A:
        mdspf_dns_add_addr(q, 4, &rr->rr[i]->a);
        break;
      case MDSPF_RR_AAAA:
        mdspf_dns_add_addr(q, 6, &rr->rr[i]->aaaa);
        break;
      case MDSPF_RR_MX:
      case MDSPF_RR_PTR: {
        char name[MDSPF__MAX_NAME + 2];
        size_t n = rr_strlen(rr, i);
        if (n >= sizeof name) {
          continue; /* no such name in DNS */
        }
        memcpy(name, rr->rr[i]->mx, n);
        name[n] = '\0';
        /* MX preferences are not in the answer; the order given is */
        mdspf_dns_add_name(q, name, (unsigned)i);
        break;
      }
      case MDSPF_RR_TXT:
        mdspf_dns_add_txt(q, rr->rr[i]->txt, rr_strlen(rr, i));
        break;
      default:
        break;
      }
    }
    if (rr->ttl > 0) {
      mdspf_dns_set_ttl(q, (uint32_t)(rr->ttl > 0x7fffffff ? 0x7fffffff
                                                             : rr->ttl));
    }
  }
  mdspf_dns_done(q, status, -1);
}

static int adapter_query(void *impl, mdspf_dns_query *q, const char *name,
                         int rrtype, void **token) {
  spfx_adapter *ad = impl;
  SPF_dns_rr_t *rr = NULL;
  *token = NULL;
  if (ad->layer && ad->layer->lookup) {
    rr = ad->layer->lookup(ad->layer, name, (ns_type)rrtype, 1);
  }
  if (!rr) {
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, -1);
    return 0;
  }
  give_answer(q, rr, rrtype);
  SPF_dns_rr_free(rr);
  return 0;
}

static void adapter_cancel(void *impl, void *token) {
  (void)impl; /* answers are always given inside query() */
  (void)token;
}

static int adapter_wait(void *impl, int timeout_ms) {
  (void)impl;
  (void)timeout_ms;
  return 0;
}

static spfx_adapter *adapter_new(SPF_dns_server_t *layer) {
  spfx_adapter *ad = spfx_calloc(1, sizeof *ad);
  if (ad) {
    ad->vt.version = MDSPF_RESOLVER_V1;
    ad->vt.impl = ad;
    ad->vt.query = adapter_query;
    ad->vt.cancel = adapter_cancel;
    ad->vt.wait = adapter_wait;
    ad->layer = layer;
  }
  return ad;
}

void spfx_adapter_free(spfx_adapter *ad) { spfx_free(ad); }

const mdspf_resolver *spfx_dns_resolver(SPF_dns_server_t *d,
                                        spfx_adapter **adapter_out) {
  *adapter_out = NULL;
  if (!d) {
    return NULL;
  }
  if (d->lookup == layer_lookup) {
    return ((spfx_dns *)d)->res;
  }
  *adapter_out = adapter_new(d);
  return *adapter_out ? &(*adapter_out)->vt : NULL;
}

/* ---- the library's layers ------------------------------------------ */

static void layer_destroy(SPF_dns_server_t *d) {
  spfx_dns *x = (spfx_dns *)d;
  /* the engine objects first: they may still hold queries of below */
  mdspf_cache_free(x->cache);
  mdspf_zone_free(x->zone);
  mdspf_cares_free(x->cares);
  spfx_adapter_free(x->below);
  /* the layer below is SPF_dns_free's to free */
  spfx_free(x);
}

struct sync_wait {
  int done;
};

static void sync_done(mdspf_dns_query *q, void *ud) {
  (void)q;
  ((struct sync_wait *)ud)->done = 1;
}

static SPF_dns_rr_t *answer_rr(SPF_dns_server_t *d, const char *domain,
                               ns_type type, mdspf_dns_query *q) {
  SPF_dns_stat_t herrno;
  SPF_dns_rr_t *rr;
  size_t pos = 0;
  mdspf__rr r;
  switch (q->status) {
  case MDSPF_DNS_OK:
    herrno = NETDB_SUCCESS;
    break;
  case MDSPF_DNS_NODATA:
    herrno = NO_DATA;
    break;
  case MDSPF_DNS_NXDOMAIN:
    herrno = HOST_NOT_FOUND;
    break;
  case MDSPF_DNS_TEMPFAIL:
    herrno = TRY_AGAIN;
    break;
  default:
    herrno = NO_RECOVERY;
    break;
  }
  rr = SPF_dns_rr_new_init(d, domain, type,
                           q->has_ttl ? (int)q->ttl : 0, herrno);
  if (!rr) {
    return NULL;
  }
  while (herrno == NETDB_SUCCESS && mdspf__dnsq_next(q, &pos, &r)) {
    size_t need = r.kind == MDSPF__RK_ADDR ? r.len : r.len + 1;
    if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, need) != SPF_E_SUCCESS) {
      SPF_dns_rr_free(rr);
      return NULL;
    }
    memcpy(rr->rr[rr->num_rr], r.data, r.len);
    if (r.kind != MDSPF__RK_ADDR) {
      rr->rr[rr->num_rr]->txt[r.len] = '\0';
    }
    rr->num_rr++;
  }
  return rr;
}

/* One query through the layer's engine resolver, waited for. */
static SPF_dns_rr_t *layer_lookup(SPF_dns_server_t *d, const char *domain,
                                  ns_type type, int should_cache) {
  spfx_dns *x = (spfx_dns *)d;
  const mdspf_resolver *res = x->res;
  mdspf__allocator a;
  mdspf_dns_query *q;
  struct sync_wait w = {0};
  void *tok = NULL;
  SPF_dns_rr_t *rr;
  size_t n;
  int i;
  (void)should_cache;
  if (!domain) {
    return SPF_dns_rr_new_init(d, domain, type, 0, HOST_NOT_FOUND);
  }
  n = strnlen(domain, MDSPF__MAX_NAME + 2);
  if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx &&
      type != ns_t_ptr && type != ns_t_txt) {
    /* the SPF type (RFC 7208 3.1 retired it) and anything else */
    return SPF_dns_rr_new_init(d, domain, type, 0, NO_DATA);
  }
  if (!mdspf__name_queryable(domain, n)) {
    return SPF_dns_rr_new_init(d, domain, type, 0, HOST_NOT_FOUND);
  }
  mdspf__allocator_init(&a, spfx_engine_alloc, NULL);
  q = mdspf__dnsq_new(&a, domain, n, (int)type, sync_done, &w);
  if (!q) {
    return NULL;
  }
  q->state = MDSPF__Q_PENDING;
  if (!res || res->query(res->impl, q, q->name, (int)type, &tok) != 0) {
    mdspf__dnsq_free(q);
    return SPF_dns_rr_new_init(d, domain, type, 0, TRY_AGAIN);
  }
  /* the resolvers give up on their own (c-ares timeouts and tries);
   * the bound is for a resolver that would not */
  for (i = 0; !w.done && i < 120; i++) {
    if (!res->wait || res->wait(res->impl, 250) != 0) {
      break;
    }
  }
  if (!w.done) {
    res->cancel(res->impl, tok);
    mdspf__dnsq_free(q);
    return SPF_dns_rr_new_init(d, domain, type, 0, TRY_AGAIN);
  }
  rr = answer_rr(d, domain, type, q);
  mdspf__dnsq_free(q);
  return rr;
}

static spfx_dns *layer_new(int kind, SPF_dns_server_t *below,
                           const char *name, int debug) {
  spfx_dns *x = spfx_calloc(1, sizeof *x);
  if (!x) {
    return NULL;
  }
  x->kind = kind;
  x->pub.destroy = layer_destroy;
  x->pub.lookup = layer_lookup;
  x->pub.layer_below = below;
  x->pub.name = name;
  x->pub.debug = debug;
  x->pub.hook = x;
  return x;
}

SPF_dns_server_t *SPF_dns_resolv_new(SPF_dns_server_t *layer_below,
                                     const char *name, int debug) {
  mdspf_cares_options opt;
  spfx_dns *x = layer_new(LAYER_RESOLV, NULL, name ? name : "resolv", debug);
  (void)layer_below;
  if (!x) {
    return NULL;
  }
  mdspf_cares_options_init(&opt);
  opt.alloc = spfx_engine_alloc;
  if (mdspf_cares_new(&opt, &x->cares) != MDSPF_OK) {
    spfx_free(x);
    return NULL;
  }
  x->res = mdspf_cares_resolver(x->cares);
  return &x->pub;
}

SPF_dns_server_t *SPF_dns_cache_new(SPF_dns_server_t *layer_below,
                                    const char *name, int debug,
                                    int cache_bits) {
  mdspf_cache_options opt;
  const mdspf_resolver *below;
  spfx_dns *x;
  if (!layer_below) {
    return NULL;
  }
  x = layer_new(LAYER_CACHE, layer_below, name ? name : "cache", debug);
  if (!x) {
    return NULL;
  }
  below = spfx_dns_resolver(layer_below, &x->below);
  mdspf_cache_options_init(&opt);
  opt.alloc = spfx_engine_alloc;
  if (cache_bits >= 1 && cache_bits <= 24) {
    opt.max_entries = (size_t)1 << cache_bits;
  }
  if (!below || mdspf_cache_new(below, &opt, &x->cache) != MDSPF_OK) {
    spfx_adapter_free(x->below);
    spfx_free(x);
    return NULL;
  }
  x->res = mdspf_cache_resolver(x->cache);
  return &x->pub;
}

void SPF_dns_cache_set_ttl(SPF_dns_server_t *d, time_t min_ttl,
                           time_t err_ttl, time_t txt_ttl,
                           time_t rdns_ttl) {
  (void)d;
  (void)min_ttl;
  (void)err_ttl;
  (void)txt_ttl;
  (void)rdns_ttl;
}

void SPF_dns_set_conserve_cache(SPF_dns_server_t *d, int conserve_cache) {
  (void)d;
  (void)conserve_cache;
}

SPF_dns_server_t *SPF_dns_zone_new(SPF_dns_server_t *layer_below,
                                   const char *name, int debug) {
  spfx_dns *x = layer_new(LAYER_ZONE, NULL, name ? name : "zone", debug);
  (void)layer_below;
  if (!x) {
    return NULL;
  }
  if (mdspf_zone_new(spfx_engine_alloc, NULL, &x->zone) != MDSPF_OK) {
    spfx_free(x);
    return NULL;
  }
  mdspf_zone_set_flags(x->zone, MDSPF_ZONE_LAX);
  x->res = mdspf_zone_resolver(x->zone);
  return &x->pub;
}

SPF_dns_server_t *SPF_dns_test_new(SPF_dns_server_t *layer_below,
                                   const char *name, int debug) {
  return SPF_dns_zone_new(layer_below, name ? name : "test", debug);
}

SPF_dns_server_t *SPF_dns_null_new(SPF_dns_server_t *layer_below,
                                   const char *name, int debug) {
  spfx_dns *x;
  if (!layer_below) {
    /* nothing below: every name does not exist */
    SPF_dns_server_t *z = SPF_dns_zone_new(NULL, name ? name : "null",
                                           debug);
    if (z) {
      ((spfx_dns *)z)->kind = LAYER_NULL;
    }
    return z;
  }
  x = layer_new(LAYER_NULL, layer_below, name ? name : "null", debug);
  if (!x) {
    return NULL;
  }
  x->res = spfx_dns_resolver(layer_below, &x->below);
  if (!x->res) {
    spfx_free(x);
    return NULL;
  }
  return &x->pub;
}

SPF_errcode_t SPF_dns_zone_add_str(SPF_dns_server_t *d, const char *domain,
                                   ns_type rr_type, SPF_dns_stat_t herrno,
                                   const char *data) {
  spfx_dns *x = (spfx_dns *)d;
  mdspf_status st;
  if (!d || d->lookup != layer_lookup || !x->zone || !domain) {
    return SPF_E_INVALID_OPT;
  }
  if (herrno == HOST_NOT_FOUND) {
    return SPF_E_SUCCESS; /* names the zone does not hold do not exist */
  }
  if (herrno == TRY_AGAIN || herrno == NO_RECOVERY) {
    st = mdspf_zone_set_fault(x->zone, domain,
                              rr_type == ns_t_any ? 0 : (int)rr_type,
                              MDSPF_ZONE_SERVFAIL);
  } else if (herrno == NO_DATA || !data) {
    /* the name exists: a record of no string (answers NODATA for every
     * other type) */
    st = mdspf_zone_add_txt(x->zone, domain, NULL, NULL, 0);
  } else if (rr_type == ns_t_txt || rr_type == ns_t_spf) {
    const char *parts[256];
    size_t lens[256], len = strlen(data), n = 0, off = 0;
    if (len > 255 * 256) {
      return SPF_E_BIG_STRING;
    }
    do {
      size_t l = len - off > 255 ? 255 : len - off;
      parts[n] = data + off;
      lens[n++] = l;
      off += l;
    } while (off < len);
    st = mdspf_zone_add_txt(x->zone, domain, parts, lens, n);
  } else if (rr_type == ns_t_mx) {
    char buf[MDSPF__MAX_NAME + 16];
    size_t l = strlen(data);
    if (l > MDSPF__MAX_NAME + 1) {
      return SPF_E_INVALID_OPT;
    }
    memcpy(buf, "10 ", 3);
    memcpy(buf + 3, data, l + 1);
    st = mdspf_zone_add(x->zone, domain, MDSPF_RR_MX, buf);
  } else {
    st = mdspf_zone_add(x->zone, domain, (int)rr_type, data);
  }
  if (st == MDSPF_E_NOMEM) {
    return SPF_E_NO_MEMORY;
  }
  return st == MDSPF_OK ? SPF_E_SUCCESS : SPF_E_INVALID_OPT;
}

/* ---- generic layer calls ------------------------------------------- */

/* As libspf2: a layer with a destructor goes, and so does the chain
 * below it, down to the first layer without one (whose owner frees it
 * and what is below it). */
void SPF_dns_free(SPF_dns_server_t *d) {
  while (d && d->destroy) {
    SPF_dns_server_t *below = d->layer_below;
    d->destroy(d);
    d = below;
  }
}

SPF_dns_rr_t *SPF_dns_lookup(SPF_dns_server_t *d, const char *domain,
                             ns_type rr_type, int should_cache) {
  if (!d || !d->lookup) {
    return SPF_dns_rr_new_init(d, domain, rr_type, 0, NO_RECOVERY);
  }
  return d->lookup(d, domain, rr_type, should_cache);
}

SPF_dns_rr_t *SPF_dns_rlookup(SPF_dns_server_t *d, struct in_addr ipv4,
                              ns_type rr_type, int should_cache) {
  const unsigned char *b = (const unsigned char *)&ipv4.s_addr;
  char name[32];
  snprintf(name, sizeof name, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1],
           b[0]);
  return SPF_dns_lookup(d, name, rr_type, should_cache);
}

SPF_dns_rr_t *SPF_dns_rlookup6(SPF_dns_server_t *d, struct in6_addr ipv6,
                               ns_type rr_type, int should_cache) {
  static const char hex[] = "0123456789abcdef";
  char name[80], *p = name;
  int i;
  for (i = 15; i >= 0; i--) {
    *p++ = hex[ipv6.s6_addr[i] & 15];
    *p++ = '.';
    *p++ = hex[ipv6.s6_addr[i] >> 4];
    *p++ = '.';
  }
  memcpy(p, "ip6.arpa", 9);
  return SPF_dns_lookup(d, name, rr_type, should_cache);
}

char *SPF_dns_get_client_dom(SPF_dns_server_t *d, SPF_request_t *sr) {
  (void)d;
  (void)sr;
  return NULL;
}

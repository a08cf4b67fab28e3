/*
 * lib/core/config.c -- configuration snapshots and the context setters.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A snapshot is immutable while anybody but the context holds it: every
 * setter asks for a private copy (cfg_mut), which is the current snapshot
 * when the context is its only holder, and a deep copy otherwise.  The
 * copy shares the parsed records (they are reference-counted and
 * immutable) and duplicates the strings.  So a setter never disturbs a
 * running check or lint, and it fails only when memory runs out.
 */
#include "core/engine.h"
#include "core/macro.h"
#include "core/resolver.h"

#include <string.h>

/* indexed by MDSPF_LIMIT_*; lookahead is on by default, as wide as the
 * RFC 7208 4.6.4 term budget */
const long mdspf__limit_default[MDSPF__NLIMITS] = {
    0, 10, 2, 10, 10, 20000, 256L * 1024, 128L * 1024 * 1024, 10};
static const long limit_min[MDSPF__NLIMITS] = {0, 1, 0, 1, 1, 1, 4096,
                                               65536, 0};
static const long limit_max[MDSPF__NLIMITS] = {
    0, 100, 100, 100, 100, 3600000, 2147483647L, 2147483647L, 100};

mdspf__config *mdspf__config_new(const mdspf__allocator *a) {
  mdspf__config *c = mdspf__alloc(a, sizeof *c);
  if (!c) {
    return NULL;
  }
  c->refs = 1;
  c->alloc = *a;
  memcpy(c->limits, mdspf__limit_default, sizeof c->limits);
  return c;
}

mdspf__config *mdspf__config_ref(mdspf__config *c) {
  c->refs++;
  return c;
}

static void free_contents(mdspf__config *c) {
  size_t i;
  if (c->has_res) {
    mdspf__resolver_release(&c->res);
  }
  mdspf__strfree(&c->alloc, c->receiver);
  mdspf__strfree(&c->alloc, c->default_exp);
  mdspf_record_unref(c->local);
  mdspf_record_unref(c->guess);
  for (i = 0; i < c->novr; i++) {
    mdspf__strfree(&c->alloc, c->ovr[i].domain);
    mdspf_record_unref(c->ovr[i].rec);
  }
  mdspf__free(&c->alloc, c->ovr, c->ovr_cap * sizeof *c->ovr);
}

void mdspf__config_unref(mdspf__config *c) {
  if (c && --c->refs == 0) {
    mdspf__allocator a = c->alloc;
    free_contents(c);
    mdspf__free(&a, c, sizeof *c);
  }
}

/* A deep copy with one reference; NULL when out of memory. */
static mdspf__config *config_clone(const mdspf__config *src) {
  const mdspf__allocator *a = &src->alloc;
  mdspf__config *c = mdspf__alloc(a, sizeof *c);
  size_t i;
  if (!c) {
    return NULL;
  }
  *c = *src;
  c->refs = 1;
  if (c->has_res) {
    mdspf__resolver_hold(&c->res, &src->res);
  }
  c->receiver = c->default_exp = NULL;
  c->local = c->guess = NULL;
  c->ovr = NULL;
  c->novr = c->ovr_cap = 0;
  if ((src->receiver && !(c->receiver = mdspf__strdup(a, src->receiver))) ||
      (src->default_exp &&
       !(c->default_exp = mdspf__strdup(a, src->default_exp)))) {
    goto fail;
  }
  if (src->novr) {
    c->ovr = mdspf__alloc_array(a, src->novr, sizeof *c->ovr);
    if (!c->ovr) {
      goto fail;
    }
    c->ovr_cap = src->novr;
    for (i = 0; i < src->novr; i++) {
      c->ovr[i].domain = mdspf__strdup(a, src->ovr[i].domain);
      if (!c->ovr[i].domain) {
        goto fail;
      }
      c->ovr[i].rec = mdspf_record_ref(src->ovr[i].rec);
      c->ovr[i].kind = src->ovr[i].kind;
      c->novr++;
    }
  }
  c->local = src->local ? mdspf_record_ref(src->local) : NULL;
  c->guess = src->guess ? mdspf_record_ref(src->guess) : NULL;
  return c;
fail:
  mdspf__config_unref(c);
  return NULL;
}

const mdspf__override *mdspf__config_find(const mdspf__config *c,
                                          const char *domain, int kind) {
  size_t i, n = strlen(domain);
  for (i = 0; i < c->novr; i++) {
    if (c->ovr[i].kind == kind &&
        mdspf__domain_eq(c->ovr[i].domain, strlen(c->ovr[i].domain), domain,
                         n)) {
      return &c->ovr[i];
    }
  }
  return NULL;
}

/* The context's configuration, made private to it first (copy on write).
 * NULL when the copy cannot be made. */
static mdspf__config *cfg_mut(mdspf_ctx *ctx) {
  mdspf__config *c;
  if (ctx->cfg->refs == 1) {
    return ctx->cfg;
  }
  c = config_clone(ctx->cfg);
  if (!c) {
    return NULL;
  }
  mdspf__config_unref(ctx->cfg);
  ctx->cfg = c;
  return c;
}

/* ---- setters ---------------------------------------------------------- */

mdspf_status mdspf_ctx_set_resolver(mdspf_ctx *ctx, const mdspf_resolver *r) {
  mdspf__config *c;
  mdspf_resolver old;
  int had;
  if (!ctx || !r || ctx->closed || !mdspf__resolver_ok(r)) {
    return MDSPF_E_INVAL;
  }
  if (!(c = cfg_mut(ctx))) {
    return MDSPF_E_NOMEM;
  }
  old = c->res;
  had = c->has_res;
  mdspf__resolver_hold(&c->res, r); /* before the old one goes: r may be
                                       the same resolver */
  c->has_res = 1;
  if (had) {
    mdspf__resolver_release(&old);
  }
  return MDSPF_OK;
}

mdspf_status mdspf_ctx_set_limit(mdspf_ctx *ctx, int which, long value) {
  mdspf__config *c;
  if (!ctx || ctx->closed || which < 1 || which >= MDSPF__NLIMITS) {
    return MDSPF_E_INVAL;
  }
  if (value < limit_min[which] || value > limit_max[which]) {
    return MDSPF_E_INVAL;
  }
  if (ctx->cfg->limits[which] == value) {
    return MDSPF_OK;
  }
  if (!(c = cfg_mut(ctx))) {
    return MDSPF_E_NOMEM;
  }
  c->limits[which] = value;
  if (which == MDSPF_LIMIT_CONTEXT_MEMORY) {
    ctx->budget.limit = (size_t)value; /* at once, for every check */
  }
  return MDSPF_OK;
}

long mdspf_ctx_get_limit(const mdspf_ctx *ctx, int which) {
  if (!ctx || ctx->closed || which < 1 || which >= MDSPF__NLIMITS) {
    return -1;
  }
  return ctx->cfg->limits[which];
}

/* Replace the string at offset off of the private configuration with a
 * copy of s (NULL clears). */
static mdspf_status set_cfg_string(mdspf_ctx *ctx, size_t off,
                                   const char *s) {
  mdspf__config *c;
  char *copy = NULL, **slot;
  if (!(c = cfg_mut(ctx))) {
    return MDSPF_E_NOMEM;
  }
  if (s && !(copy = mdspf__strdup(&c->alloc, s))) {
    return MDSPF_E_NOMEM;
  }
  slot = (char **)(void *)((char *)c + off);
  mdspf__strfree(&c->alloc, *slot);
  *slot = copy;
  return MDSPF_OK;
}

mdspf_status mdspf_ctx_set_receiver(mdspf_ctx *ctx, const char *name) {
  size_t i, n;
  if (!ctx || ctx->closed) {
    return MDSPF_E_INVAL;
  }
  if (name) {
    n = strlen(name);
    if (n == 0 || n > MDSPF__MAX_NAME) {
      return MDSPF_E_INVAL;
    }
    for (i = 0; i < n; i++) {
      unsigned char ch = (unsigned char)name[i];
      if (ch <= 0x20 || ch >= 0x7f) {
        return MDSPF_E_INVAL;
      }
    }
  }
  return set_cfg_string(ctx, offsetof(mdspf__config, receiver), name);
}

mdspf_status mdspf_ctx_set_default_explanation(mdspf_ctx *ctx,
                                               const char *text) {
  if (!ctx || ctx->closed) {
    return MDSPF_E_INVAL;
  }
  if (text && (strlen(text) > 4096 ||
               mdspf__macro_scan(text, strlen(text), MDSPF__MS_EXPLAIN, NULL,
                                 NULL, NULL, NULL) != MDSPF_SYN_OK)) {
    return MDSPF_E_SYNTAX;
  }
  return set_cfg_string(ctx, offsetof(mdspf__config, default_exp), text);
}

/* Parse "v=spf1 " + body (prefix added when add is set). */
static mdspf_status parse_with_prefix(const mdspf__allocator *a,
                                      const char *body, int add,
                                      mdspf_record **out, size_t *err_off) {
  size_t n = strlen(body), off = 0, total;
  char *buf;
  mdspf_status rc;
  size_t eo = 0;
  if (n > MDSPF_MAX_RECORD) {
    return MDSPF_E_SYNTAX;
  }
  total = n + (add ? 7 : 0);
  buf = mdspf__alloc(a, total + 1);
  if (!buf) {
    return MDSPF_E_NOMEM;
  }
  if (add) {
    memcpy(buf, "v=spf1 ", 7);
    off = 7;
  }
  memcpy(buf + off, body, n);
  rc = mdspf_record_parse(buf, total, a->fn, a->ud, out, NULL, &eo, NULL);
  mdspf__free(a, buf, total + 1);
  if (rc == MDSPF_E_SYNTAX && err_off) {
    *err_off = eo >= off ? eo - off : 0;
  }
  return rc;
}

/* Install rec (a reference, or NULL) at offset off of the private
 * configuration; rec is released on failure. */
static mdspf_status set_cfg_record(mdspf_ctx *ctx, size_t off,
                                   mdspf_record *rec) {
  mdspf__config *c = cfg_mut(ctx);
  mdspf_record **slot;
  if (!c) {
    mdspf_record_unref(rec);
    return MDSPF_E_NOMEM;
  }
  slot = (mdspf_record **)(void *)((char *)c + off);
  mdspf_record_unref(*slot);
  *slot = rec;
  return MDSPF_OK;
}

mdspf_status mdspf_ctx_set_local_policy(mdspf_ctx *ctx, const char *mechs,
                                        size_t *err_off) {
  mdspf_record *rec = NULL;
  size_t i;
  mdspf_status rc;
  if (!ctx || ctx->closed) {
    return MDSPF_E_INVAL;
  }
  if (mechs && *mechs) {
    rc = parse_with_prefix(&ctx->alloc, mechs, 1, &rec, err_off);
    if (rc != MDSPF_OK) {
      return rc;
    }
    for (i = 0; i < rec->nterms; i++) {
      if (rec->terms[i].kind >= MDSPF_TERM_REDIRECT) {
        if (err_off) {
          *err_off = rec->terms[i].off - 7;
        }
        mdspf_record_unref(rec);
        return MDSPF_E_SYNTAX;
      }
    }
  }
  return set_cfg_record(ctx, offsetof(mdspf__config, local), rec);
}

mdspf_status mdspf_ctx_set_best_guess(mdspf_ctx *ctx, const char *record) {
  mdspf_record *rec = NULL;
  mdspf_status rc;
  if (!ctx || ctx->closed) {
    return MDSPF_E_INVAL;
  }
  if (record) {
    rc = parse_with_prefix(&ctx->alloc, record,
                           !mdspf_record_is_spf(record, strlen(record)), &rec,
                           NULL);
    if (rc != MDSPF_OK) {
      return rc;
    }
  }
  return set_cfg_record(ctx, offsetof(mdspf__config, guess), rec);
}

/* Set (rec != NULL, a reference that is consumed) or remove the entry
 * of kind for domain. */
static mdspf_status set_ovr(mdspf_ctx *ctx, const char *domain,
                            mdspf_record *rec, int kind) {
  char norm[MDSPF__MAX_NAME + 1];
  size_t i, n = strlen(domain);
  mdspf__config *c;
  mdspf__override *o;
  if (!mdspf__name_queryable(domain, n) ||
      mdspf__domain_norm(norm, sizeof norm, domain, n) == (size_t)-1) {
    mdspf_record_unref(rec);
    return MDSPF_E_INVAL;
  }
  if (!(c = cfg_mut(ctx))) {
    mdspf_record_unref(rec);
    return MDSPF_E_NOMEM;
  }
  for (i = 0; i < c->novr; i++) {
    o = &c->ovr[i];
    if (o->kind == kind && strcmp(o->domain, norm) == 0) {
      mdspf_record_unref(o->rec);
      if (rec) {
        o->rec = rec;
      } else {
        mdspf__strfree(&c->alloc, o->domain);
        c->ovr[i] = c->ovr[--c->novr];
      }
      return MDSPF_OK;
    }
  }
  if (!rec) {
    return MDSPF_OK;
  }
  if (c->novr == c->ovr_cap) {
    size_t ncap = c->ovr_cap ? c->ovr_cap * 2 : 4;
    mdspf__override *no = mdspf__realloc(
        &c->alloc, c->ovr, c->ovr_cap * sizeof *no, ncap * sizeof *no);
    if (!no) {
      mdspf_record_unref(rec);
      return MDSPF_E_NOMEM;
    }
    c->ovr = no;
    c->ovr_cap = ncap;
  }
  o = &c->ovr[c->novr];
  o->domain = mdspf__strdup(&c->alloc, norm);
  if (!o->domain) {
    mdspf_record_unref(rec);
    return MDSPF_E_NOMEM;
  }
  o->rec = rec;
  o->kind = kind;
  c->novr++;
  return MDSPF_OK;
}

static mdspf_status add_ovr(mdspf_ctx *ctx, const char *domain,
                            const char *record, int kind) {
  mdspf_record *rec = NULL;
  mdspf_status rc;
  if (!ctx || ctx->closed || !domain) {
    return MDSPF_E_INVAL;
  }
  if (record) {
    rc = mdspf_record_parse(record, strlen(record), ctx->alloc.fn,
                            ctx->alloc.ud, &rec, NULL, NULL, NULL);
    if (rc != MDSPF_OK) {
      return rc;
    }
  }
  return set_ovr(ctx, domain, rec, kind);
}

mdspf_status mdspf_ctx_add_override(mdspf_ctx *ctx, const char *domain,
                                    const char *record) {
  return add_ovr(ctx, domain, record, MDSPF_SRC_OVERRIDE);
}

mdspf_status mdspf_ctx_add_fallback(mdspf_ctx *ctx, const char *domain,
                                    const char *record) {
  return add_ovr(ctx, domain, record, MDSPF_SRC_FALLBACK);
}

mdspf_status mdspf_ctx_add_override_record(mdspf_ctx *ctx, const char *domain,
                                           const mdspf_record *rec) {
  if (!ctx || ctx->closed || !domain) {
    return MDSPF_E_INVAL;
  }
  return set_ovr(ctx, domain, rec ? mdspf_record_ref(rec) : NULL,
                 MDSPF_SRC_OVERRIDE);
}

mdspf_status mdspf_ctx_set_trace(mdspf_ctx *ctx, mdspf_trace_fn fn,
                                 void *ud) {
  mdspf__config *c;
  if (!ctx || ctx->closed) {
    return MDSPF_E_INVAL;
  }
  if (!(c = cfg_mut(ctx))) {
    return MDSPF_E_NOMEM;
  }
  c->trace = fn;
  c->trace_ud = fn ? ud : NULL;
  return MDSPF_OK;
}

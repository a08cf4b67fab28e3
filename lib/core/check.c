/*
 * lib/core/check.c -- contexts, check lifecycle, the completion queue and the
 * blocking wrapper.  The evaluation itself is in eval.c.
 *
 * Re-entrancy model: every entry point that can run user callbacks
 * brackets its work with mdspf__engine_enter/leave.  DNS completions are
 * queued on the context and processed by the outermost leave, so an
 * answer delivered inside a resolver's query() never recurses, and a
 * long include chain over an inline resolver runs in a loop, not on the
 * stack.  Frees requested from inside callbacks are deferred until it is
 * safe.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/engine.h"
#include "core/addr.h"
#include "core/macro.h"
#include "util/strbuf.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

static const long limit_defaults[MDSPF__NLIMITS] = {0, 10, 2, 10, 10, 20000};
static const long limit_min[MDSPF__NLIMITS] = {0, 1, 0, 1, 1, 1};
static const long limit_max[MDSPF__NLIMITS] = {0, 100, 100, 100, 100, 3600000};

static void ctx_destroy(mdspf_ctx *ctx);
static void check_destroy(mdspf_check *chk);

/* A check of ctx is inside mdspf_check_run: destroying the context must
 * wait until that call returns. */
static int ctx_in_run(const mdspf_ctx *ctx) {
  const mdspf_check *c;
  for (c = ctx->checks; c; c = c->next) {
    if (c->in_run) {
      return 1;
    }
  }
  return 0;
}

long mdspf__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- time budgets ------------------------------------------------------------ */

/* Tell the host about the earliest deadline when it changed. */
static void timer_update(mdspf_ctx *ctx) {
  long want = ctx->run_head ? ctx->run_head->deadline : -1;
  if (!ctx->timer || want == ctx->timer_armed) {
    return;
  }
  ctx->timer_armed = want;
  if (want < 0) {
    ctx->timer(ctx->timer_ud, -1);
  } else {
    long ms = want - mdspf__now_ms();
    ctx->timer(ctx->timer_ud, ms > 0 ? ms : 0);
  }
}

static void running_add(mdspf_check *chk) {
  mdspf_ctx *ctx = chk->ctx;
  chk->rnext = NULL;
  chk->rprev = ctx->run_tail;
  if (ctx->run_tail) {
    ctx->run_tail->rnext = chk;
  } else {
    ctx->run_head = chk;
  }
  ctx->run_tail = chk;
  chk->on_run_list = 1;
  timer_update(ctx);
}

/* The check is no longer running (done, cancelled or freed). */
void mdspf__check_stopped(mdspf_check *chk) {
  mdspf_ctx *ctx = chk->ctx;
  if (!chk->on_run_list) {
    return;
  }
  if (chk->rprev) {
    chk->rprev->rnext = chk->rnext;
  } else {
    ctx->run_head = chk->rnext;
  }
  if (chk->rnext) {
    chk->rnext->rprev = chk->rprev;
  } else {
    ctx->run_tail = chk->rprev;
  }
  chk->rprev = chk->rnext = NULL;
  chk->on_run_list = 0;
  if (!ctx->free_pending) {
    timer_update(ctx);
  }
}

mdspf_status mdspf_ctx_set_timer(mdspf_ctx *ctx, mdspf_timer_fn fn, void *loop_ud) {
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  ctx->timer = fn;
  ctx->timer_ud = fn ? loop_ud : NULL;
  ctx->timer_armed = -2; /* force a report */
  timer_update(ctx);
  return MDSPF_OK;
}

long mdspf_ctx_timeout(const mdspf_ctx *ctx) {
  long ms;
  if (!ctx || !ctx->run_head) {
    return -1;
  }
  ms = ctx->run_head->deadline - mdspf__now_ms();
  return ms > 0 ? ms : 0;
}

void mdspf_ctx_process_timeouts(mdspf_ctx *ctx) {
  long now;
  if (!ctx) {
    return;
  }
  now = mdspf__now_ms();
  mdspf__engine_enter(ctx);
  while (ctx->run_head && ctx->run_head->deadline <= now &&
         !ctx->free_pending) {
    mdspf_check *chk = ctx->run_head;
    mdspf__eval_finish(chk, MDSPF_TEMPERROR, MDSPF_E_TIMEOUT,
                       "time budget exceeded");
    mdspf__check_notify(chk); /* may free chk: not touched afterwards */
  }
  if (!ctx->free_pending) {
    /* an early or quiet firing still leaves the host with a timer */
    ctx->timer_armed = -2;
    timer_update(ctx);
  }
  mdspf__engine_leave(ctx);
}

/* ---- engine bracketing ----------------------------------------------------- */

void mdspf__engine_enter(mdspf_ctx *ctx) { ctx->depth++; }

void mdspf__engine_leave(mdspf_ctx *ctx) {
  if (ctx->depth == 1) {
    mdspf_dns_query *q;
    while ((q = ctx->dq_head) != NULL) {
      ctx->dq_head = q->qnext;
      if (!ctx->dq_head) {
        ctx->dq_tail = NULL;
      }
      q->qnext = NULL;
      q->queued = 0;
      if (!q->ud) {
        mdspf__dnsq_free(q); /* released while queued */
        continue;
      }
      mdspf__eval_run((mdspf_check *)q->ud);
    }
  }
  ctx->depth--;
  if (ctx->depth == 0 && ctx->free_pending && !ctx_in_run(ctx)) {
    ctx_destroy(ctx);
  }
}

void mdspf__check_notify(mdspf_check *chk) {
  mdspf_ctx *ctx = chk->ctx;
  if (chk->notified || chk->state != MDSPF__CS_DONE) {
    return;
  }
  chk->notified = 1;
  if (chk->cb) {
    ctx->in_callback++;
    chk->in_cb = 1;
    chk->cb(chk, chk->user);
    chk->in_cb = 0;
    ctx->in_callback--;
  }
  if (chk->free_req && !chk->in_run) {
    check_destroy(chk);
  }
}

/* ---- contexts --------------------------------------------------------------- */

mdspf_status mdspf_ctx_new(mdspf_alloc_fn alloc, void *alloc_ud, mdspf_ctx **out) {
  mdspf__allocator a;
  mdspf_ctx *ctx;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  mdspf__allocator_init(&a, alloc, alloc_ud);
  ctx = mdspf__alloc(&a, sizeof *ctx);
  if (!ctx) {
    return MDSPF_E_NOMEM;
  }
  ctx->alloc = a;
  ctx->timer_armed = -1;
  memcpy(ctx->limits, limit_defaults, sizeof ctx->limits);
  *out = ctx;
  return MDSPF_OK;
}

/* Free an override's record if the context owns it. */
static void ovr_release(mdspf__override *o) {
  if (o->owned) {
    mdspf_record_free((mdspf_record *)(uintptr_t)o->rec);
  }
  o->rec = NULL;
  o->owned = 0;
}

static void free_overrides(mdspf_ctx *ctx) {
  size_t i;
  for (i = 0; i < ctx->novr; i++) {
    mdspf__strfree(&ctx->alloc, ctx->ovr[i].domain);
    ovr_release(&ctx->ovr[i]);
  }
  mdspf__free(&ctx->alloc, ctx->ovr, ctx->ovr_cap * sizeof *ctx->ovr);
  ctx->ovr = NULL;
  ctx->novr = ctx->ovr_cap = 0;
}

static void ctx_destroy(mdspf_ctx *ctx) {
  mdspf__allocator a = ctx->alloc;
  mdspf_dns_query *q;
  if (ctx->timer && ctx->timer_armed != -1) {
    ctx->timer(ctx->timer_ud, -1); /* the host must not fire at us later */
  }
  ctx->timer = NULL; /* no further timer reports while tearing down */
  while (ctx->checks) {
    mdspf_check *chk = ctx->checks;
    chk->in_cb = 0;
    chk->in_run = 0;
    check_destroy(chk);
  }
  while ((q = ctx->dq_head) != NULL) {
    ctx->dq_head = q->qnext;
    mdspf__dnsq_free(q);
  }
  mdspf__strfree(&a, ctx->receiver);
  mdspf__strfree(&a, ctx->default_exp);
  mdspf_record_free(ctx->local);
  mdspf_record_free(ctx->guess);
  free_overrides(ctx);
  mdspf__free(&a, ctx, sizeof *ctx);
}

void mdspf_ctx_free(mdspf_ctx *ctx) {
  if (!ctx) {
    return;
  }
  if (ctx->depth > 0 || ctx_in_run(ctx)) {
    ctx->free_pending = 1; /* inside a callback: free when it is safe */
    return;
  }
  ctx_destroy(ctx);
}

static int ctx_busy(const mdspf_ctx *ctx) {
  const mdspf_check *c;
  for (c = ctx->checks; c; c = c->next) {
    if (c->state == MDSPF__CS_RUNNING) {
      return 1;
    }
  }
  return 0;
}

mdspf_status mdspf_ctx_set_resolver(mdspf_ctx *ctx, const mdspf_resolver *r) {
  if (!ctx || !r) {
    return MDSPF_E_INVAL;
  }
  if (r->version != MDSPF_RESOLVER_V1 || !r->query || !r->cancel) {
    return MDSPF_E_INVAL;
  }
  if (ctx_busy(ctx)) {
    return MDSPF_E_STATE;
  }
  ctx->res = *r;
  ctx->has_res = 1;
  return MDSPF_OK;
}

mdspf_status mdspf_ctx_set_limit(mdspf_ctx *ctx, int which, long value) {
  if (!ctx || which < 1 || which >= MDSPF__NLIMITS) {
    return MDSPF_E_INVAL;
  }
  if (value < limit_min[which] || value > limit_max[which]) {
    return MDSPF_E_INVAL;
  }
  if (ctx_busy(ctx)) {
    return MDSPF_E_STATE;
  }
  ctx->limits[which] = value;
  return MDSPF_OK;
}

long mdspf_ctx_get_limit(const mdspf_ctx *ctx, int which) {
  if (!ctx || which < 1 || which >= MDSPF__NLIMITS) {
    return -1;
  }
  return ctx->limits[which];
}

/* Replace *slot with a copy of s (NULL clears). */
static int set_string(mdspf_ctx *ctx, char **slot, const char *s) {
  char *copy = NULL;
  if (s) {
    copy = mdspf__strdup(&ctx->alloc, s);
    if (!copy) {
      return MDSPF_E_NOMEM;
    }
  }
  mdspf__strfree(&ctx->alloc, *slot);
  *slot = copy;
  return MDSPF_OK;
}

mdspf_status mdspf_ctx_set_receiver(mdspf_ctx *ctx, const char *name) {
  size_t i, n;
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  if (name) {
    n = strlen(name);
    if (n == 0 || n > MDSPF__MAX_NAME) {
      return MDSPF_E_INVAL;
    }
    for (i = 0; i < n; i++) {
      unsigned char c = (unsigned char)name[i];
      if (c <= 0x20 || c >= 0x7f) {
        return MDSPF_E_INVAL;
      }
    }
  }
  return set_string(ctx, &ctx->receiver, name);
}

mdspf_status mdspf_ctx_set_default_explanation(mdspf_ctx *ctx, const char *text) {
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  if (text && (strlen(text) > 4096 ||
               mdspf__macro_scan(text, strlen(text), MDSPF__MS_EXPLAIN, NULL,
                                 NULL, NULL, NULL) != MDSPF_SYN_OK)) {
    return MDSPF_E_SYNTAX;
  }
  return set_string(ctx, &ctx->default_exp, text);
}

/* Parse "v=spf1 " + body (prefix added when absent). */
static int parse_with_prefix(mdspf_ctx *ctx, const char *body, int add,
                             mdspf_record **out, size_t *err_off) {
  size_t n = strlen(body), off = 0, total;
  char *buf;
  int rc;
  size_t eo = 0;
  if (n > MDSPF_MAX_RECORD) {
    return MDSPF_E_SYNTAX;
  }
  total = n + (add ? 7 : 0);
  buf = mdspf__alloc(&ctx->alloc, total + 1);
  if (!buf) {
    return MDSPF_E_NOMEM;
  }
  if (add) {
    memcpy(buf, "v=spf1 ", 7);
    off = 7;
  }
  memcpy(buf + off, body, n);
  rc = mdspf_record_parse(buf, total, ctx->alloc.fn, ctx->alloc.ud, out, NULL,
                          &eo, NULL);
  mdspf__free(&ctx->alloc, buf, total + 1);
  if (rc == MDSPF_E_SYNTAX && err_off) {
    *err_off = eo >= off ? eo - off : 0;
  }
  return rc;
}

mdspf_status mdspf_ctx_set_local_policy(mdspf_ctx *ctx, const char *mechs,
                               size_t *err_off) {
  mdspf_record *rec = NULL;
  size_t i;
  int rc;
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  if (mechs && *mechs) {
    rc = parse_with_prefix(ctx, mechs, 1, &rec, err_off);
    if (rc != MDSPF_OK) {
      return rc;
    }
    for (i = 0; i < rec->nterms; i++) {
      if (rec->terms[i].kind >= MDSPF_TERM_REDIRECT) {
        if (err_off) {
          *err_off = rec->terms[i].off - 7;
        }
        mdspf_record_free(rec);
        return MDSPF_E_SYNTAX;
      }
    }
  }
  mdspf_record_free(ctx->local);
  ctx->local = rec;
  return MDSPF_OK;
}

mdspf_status mdspf_ctx_set_best_guess(mdspf_ctx *ctx, const char *record) {
  mdspf_record *rec = NULL;
  int rc;
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  if (record) {
    rc = parse_with_prefix(ctx, record,
                           !mdspf_record_is_spf(record, strlen(record)), &rec,
                           NULL);
    if (rc != MDSPF_OK) {
      return rc;
    }
  }
  mdspf_record_free(ctx->guess);
  ctx->guess = rec;
  return MDSPF_OK;
}

/* Set (rec != NULL) or remove the entry of kind for domain.  owned: the
 * context frees rec later (also on failure here). */
static int set_ovr(mdspf_ctx *ctx, const char *domain, const mdspf_record *rec,
                   int owned, int kind) {
  char norm[MDSPF__MAX_NAME + 1];
  size_t i, n = strlen(domain);
  mdspf__override tmp;
  tmp.rec = rec;
  tmp.owned = owned;
  if (!mdspf__name_queryable(domain, n) ||
      mdspf__domain_norm(norm, sizeof norm, domain, n) == (size_t)-1) {
    ovr_release(&tmp);
    return MDSPF_E_INVAL;
  }
  for (i = 0; i < ctx->novr; i++) {
    if (ctx->ovr[i].kind == kind && strcmp(ctx->ovr[i].domain, norm) == 0) {
      ovr_release(&ctx->ovr[i]);
      if (rec) {
        ctx->ovr[i].rec = rec;
        ctx->ovr[i].owned = owned;
      } else {
        mdspf__strfree(&ctx->alloc, ctx->ovr[i].domain);
        ctx->ovr[i] = ctx->ovr[--ctx->novr];
      }
      return MDSPF_OK;
    }
  }
  if (!rec) {
    return MDSPF_OK;
  }
  if (ctx->novr == ctx->ovr_cap) {
    size_t ncap = ctx->ovr_cap ? ctx->ovr_cap * 2 : 4;
    mdspf__override *no =
        mdspf__realloc(&ctx->alloc, ctx->ovr, ctx->ovr_cap * sizeof *no,
                       ncap * sizeof *no);
    if (!no) {
      ovr_release(&tmp);
      return MDSPF_E_NOMEM;
    }
    ctx->ovr = no;
    ctx->ovr_cap = ncap;
  }
  ctx->ovr[ctx->novr].domain = mdspf__strdup(&ctx->alloc, norm);
  if (!ctx->ovr[ctx->novr].domain) {
    ovr_release(&tmp);
    return MDSPF_E_NOMEM;
  }
  ctx->ovr[ctx->novr].rec = rec;
  ctx->ovr[ctx->novr].owned = owned;
  ctx->ovr[ctx->novr].kind = kind;
  ctx->novr++;
  return MDSPF_OK;
}

static int add_ovr(mdspf_ctx *ctx, const char *domain, const char *record,
                   int kind) {
  mdspf_record *rec = NULL;
  int rc;
  if (!ctx || !domain) {
    return MDSPF_E_INVAL;
  }
  if (record) {
    rc = mdspf_record_parse(record, strlen(record), ctx->alloc.fn,
                            ctx->alloc.ud, &rec, NULL, NULL, NULL);
    if (rc != MDSPF_OK) {
      return rc;
    }
  }
  return set_ovr(ctx, domain, rec, 1, kind);
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
  if (!ctx || !domain) {
    return MDSPF_E_INVAL;
  }
  return set_ovr(ctx, domain, rec, 0, MDSPF_SRC_OVERRIDE);
}

mdspf_status mdspf_ctx_set_trace(mdspf_ctx *ctx, mdspf_trace_fn fn, void *ud) {
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  ctx->trace = fn;
  ctx->trace_ud = fn ? ud : NULL;
  return MDSPF_OK;
}

/* ---- checks -------------------------------------------------------------------- */

mdspf_status mdspf_check_new(mdspf_ctx *ctx, mdspf_check **out) {
  mdspf_check *chk;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  chk = mdspf__alloc(&ctx->alloc, sizeof *chk);
  if (!chk) {
    return MDSPF_E_NOMEM;
  }
  chk->ctx = ctx;
  chk->trace = ctx->trace;
  chk->trace_ud = ctx->trace_ud;
  chk->result = MDSPF_TEMPERROR;
  chk->reason = MDSPF_E_STATE;
  chk->next = ctx->checks;
  if (ctx->checks) {
    ctx->checks->prev = chk;
  }
  ctx->checks = chk;
  *out = chk;
  return MDSPF_OK;
}

mdspf_status mdspf_check_set_ip(mdspf_check *chk, const char *ip) {
  uint8_t a[16];
  int fam;
  if (!chk || !ip || chk->state != MDSPF__CS_NEW) {
    return chk && chk->state != MDSPF__CS_NEW ? MDSPF_E_STATE : MDSPF_E_INVAL;
  }
  if (!mdspf__ip_parse(ip, strnlen(ip, 64), 1, &fam, a)) {
    return MDSPF_E_INVAL;
  }
  chk->family = fam;
  memcpy(chk->ip, a, 16);
  chk->have_ip = 1;
  return MDSPF_OK;
}

mdspf_status mdspf_check_set_ip_bin(mdspf_check *chk, int family, const void *addr) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!chk || !addr || (family != 4 && family != 6)) {
    return MDSPF_E_INVAL;
  }
  if (chk->state != MDSPF__CS_NEW) {
    return MDSPF_E_STATE;
  }
  memset(chk->ip, 0, 16);
  if (family == 6 && memcmp(addr, mapped, 12) == 0) {
    memcpy(chk->ip, (const uint8_t *)addr + 12, 4);
    family = 4;
  } else {
    memcpy(chk->ip, addr, family == 4 ? 4 : 16);
  }
  chk->family = family;
  chk->have_ip = 1;
  return MDSPF_OK;
}

static int set_input(mdspf_check *chk, char **slot, const char *s) {
  size_t i, n;
  char *copy = NULL;
  if (!chk) {
    return MDSPF_E_INVAL;
  }
  if (chk->state != MDSPF__CS_NEW) {
    return MDSPF_E_STATE;
  }
  if (s) {
    n = strnlen(s, 1025);
    if (n > 1024) {
      return MDSPF_E_INVAL;
    }
    for (i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20 || c == 0x7f) {
        return MDSPF_E_INVAL;
      }
    }
    copy = mdspf__strndup(&chk->ctx->alloc, s, n);
    if (!copy) {
      return MDSPF_E_NOMEM;
    }
  }
  mdspf__strfree(&chk->ctx->alloc, *slot);
  *slot = copy;
  return MDSPF_OK;
}

mdspf_status mdspf_check_set_sender(mdspf_check *chk, const char *mailfrom) {
  return set_input(chk, &chk->sender, mailfrom && *mailfrom ? mailfrom : NULL);
}

mdspf_status mdspf_check_set_helo(mdspf_check *chk, const char *helo) {
  return set_input(chk, &chk->helo, helo && *helo ? helo : NULL);
}

mdspf_status mdspf_check_set_identity(mdspf_check *chk, int identity) {
  if (!chk || (identity != MDSPF_ID_MAILFROM && identity != MDSPF_ID_HELO)) {
    return MDSPF_E_INVAL;
  }
  if (chk->state != MDSPF__CS_NEW) {
    return MDSPF_E_STATE;
  }
  chk->identity = identity;
  return MDSPF_OK;
}

mdspf_status mdspf_check_start(mdspf_check *chk, mdspf_check_cb cb, void *user) {
  mdspf_ctx *ctx;
  if (!chk) {
    return MDSPF_E_INVAL;
  }
  ctx = chk->ctx;
  if (chk->state != MDSPF__CS_NEW) {
    return MDSPF_E_STATE;
  }
  if (!chk->have_ip || (!chk->sender && !chk->helo) ||
      (chk->identity == MDSPF_ID_HELO && !chk->helo)) {
    return MDSPF_E_INVAL;
  }
  if (!ctx->has_res) {
    return MDSPF_E_NOTSUP;
  }
  chk->cb = cb;
  chk->user = user;
  chk->state = MDSPF__CS_RUNNING;
  chk->deadline = mdspf__now_ms() + ctx->limits[MDSPF_LIMIT_TIMEOUT_MS];
  running_add(chk);
  mdspf__engine_enter(ctx);
  mdspf__eval_start(chk);
  mdspf__engine_leave(ctx);
  return MDSPF_OK;
}

void mdspf_check_cancel(mdspf_check *chk) {
  if (!chk || chk->state != MDSPF__CS_RUNNING) {
    return;
  }
  mdspf__eval_release_all(chk);
  chk->state = MDSPF__CS_CANCELLED;
  mdspf__check_stopped(chk);
  chk->result = MDSPF_TEMPERROR;
  chk->reason = MDSPF_E_CANCELLED;
}

static void check_destroy(mdspf_check *chk) {
  mdspf_ctx *ctx = chk->ctx;
  mdspf__allocator *a = &ctx->alloc;
  mdspf__check_stopped(chk);
  mdspf__eval_release_all(chk);
  mdspf__eval_free_state(chk);
  mdspf__strfree(a, chk->sender);
  mdspf__strfree(a, chk->helo);
  mdspf__strfree(a, chk->m_s);
  mdspf__strfree(a, chk->m_l);
  mdspf__strfree(a, chk->problem);
  mdspf__strfree(a, chk->explanation);
  mdspf__strfree(a, chk->mechanism);
  mdspf__strfree(a, chk->out_domain);
  mdspf__free(a, chk->out_record, chk->out_record_len + 1);
  mdspf__strfree(a, chk->exp_text);
  if (chk->prev) {
    chk->prev->next = chk->next;
  } else {
    ctx->checks = chk->next;
  }
  if (chk->next) {
    chk->next->prev = chk->prev;
  }
  mdspf__free(a, chk, sizeof *chk);
}

void mdspf_check_free(mdspf_check *chk) {
  if (!chk) {
    return;
  }
  if (chk->in_cb || chk->in_run) {
    /* inside its own callback or mdspf_check_run: free afterwards */
    mdspf_check_cancel(chk);
    chk->free_req = 1;
    return;
  }
  mdspf_check_cancel(chk);
  check_destroy(chk);
}

mdspf_status mdspf_check_run(mdspf_check *chk, int timeout_ms) {
  mdspf_ctx *ctx;
  long deadline;
  int rc = MDSPF_OK;
  if (!chk) {
    return MDSPF_E_INVAL;
  }
  ctx = chk->ctx;
  if (ctx->depth > 0 || ctx->in_callback > 0) {
    return MDSPF_E_RECURSIVE;
  }
  if (chk->state == MDSPF__CS_NEW) {
    rc = mdspf_check_start(chk, NULL, NULL);
    if (rc != MDSPF_OK) {
      return rc;
    }
  }
  if (timeout_ms <= 0) {
    timeout_ms = (int)ctx->limits[MDSPF_LIMIT_TIMEOUT_MS];
  }
  deadline = mdspf__now_ms() + timeout_ms;
  if (chk->state == MDSPF__CS_RUNNING && chk->deadline < deadline) {
    deadline = chk->deadline; /* the check's own budget ends first */
  }
  chk->in_run = 1;
  while (chk->state == MDSPF__CS_RUNNING) {
    long left = deadline - mdspf__now_ms();
    if (left <= 0) {
      mdspf__engine_enter(ctx);
      mdspf__eval_finish(chk, MDSPF_TEMPERROR, MDSPF_E_TIMEOUT,
                         "time budget exceeded");
      mdspf__check_notify(chk);
      mdspf__engine_leave(ctx);
      break;
    }
    if (!ctx->res.wait) {
      rc = MDSPF_E_NOTSUP;
      break;
    }
    if (ctx->res.wait(ctx->res.impl, (int)left) != 0) {
      mdspf__engine_enter(ctx);
      mdspf__eval_finish(chk, MDSPF_TEMPERROR, MDSPF_E_DNS,
                         "resolver failure");
      mdspf__check_notify(chk);
      mdspf__engine_leave(ctx);
      break;
    }
  }
  chk->in_run = 0;
  if (ctx->free_pending && ctx->depth == 0 && !ctx_in_run(ctx)) {
    ctx_destroy(ctx); /* freed from a callback meanwhile; takes chk along */
    return rc;
  }
  if (chk->free_req) {
    check_destroy(chk);
  }
  return rc;
}

int mdspf_check_done(const mdspf_check *chk) {
  return chk && chk->state == MDSPF__CS_DONE;
}

/* ---- outcome ------------------------------------------------------------------ */

static int finished(const mdspf_check *chk) {
  return chk && (chk->state == MDSPF__CS_DONE ||
                 chk->state == MDSPF__CS_CANCELLED);
}

mdspf_result mdspf_check_result(const mdspf_check *chk) {
  return finished(chk) ? (mdspf_result)chk->result : MDSPF_NO_RESULT;
}
mdspf_status mdspf_check_reason(const mdspf_check *chk) {
  return chk ? chk->reason : MDSPF_E_INVAL;
}
const char *mdspf_check_problem(const mdspf_check *chk) {
  return finished(chk) ? chk->problem : NULL;
}
const char *mdspf_check_explanation(const mdspf_check *chk) {
  return finished(chk) ? chk->explanation : NULL;
}
const char *mdspf_check_mechanism(const mdspf_check *chk) {
  return finished(chk) ? chk->mechanism : NULL;
}
const char *mdspf_check_domain(const mdspf_check *chk) {
  return finished(chk) ? chk->out_domain : NULL;
}
const char *mdspf_check_record(const mdspf_check *chk, size_t *len) {
  const char *r = finished(chk) ? chk->out_record : NULL;
  if (len) {
    *len = r ? chk->out_record_len : 0;
  }
  return r;
}
mdspf_status mdspf_check_syntax_error(const mdspf_check *chk, int *code, size_t *off,
                             size_t *len) {
  if (!finished(chk) || !chk->has_syn) {
    return MDSPF_E_STATE;
  }
  if (code) {
    *code = chk->syn_code;
  }
  if (off) {
    *off = chk->syn_off;
  }
  if (len) {
    *len = chk->syn_len;
  }
  return MDSPF_OK;
}
const char *mdspf_check_client_ip(const mdspf_check *chk) {
  return (chk && chk->state != MDSPF__CS_NEW && chk->m_c[0]) ? chk->m_c
                                                              : NULL;
}
const char *mdspf_check_identity_domain(const mdspf_check *chk) {
  return (chk && chk->state != MDSPF__CS_NEW && chk->m_o[0]) ? chk->m_o
                                                              : NULL;
}
int mdspf_check_identity(const mdspf_check *chk) {
  return chk ? chk->id_used : MDSPF_ID_MAILFROM;
}
int mdspf_check_source(const mdspf_check *chk) {
  return finished(chk) ? chk->source : MDSPF_SRC_NONE;
}
unsigned mdspf_check_dns_terms(const mdspf_check *chk) {
  return chk ? chk->dns_terms : 0;
}
unsigned mdspf_check_void_lookups(const mdspf_check *chk) {
  return chk ? chk->voids : 0;
}
unsigned mdspf_check_queries(const mdspf_check *chk) {
  return chk ? chk->queries : 0;
}

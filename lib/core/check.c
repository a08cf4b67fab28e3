/*
 * lib/core/check.c -- the engine (run queue, deadlines, the callback
 * guard), contexts and the check lifecycle.  The evaluation itself is in
 * eval.c, the configuration setters in config.c.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * See engine.h for the three rules (snapshots, one callback discipline,
 * reference-counted contexts).  In short: every entry point that can run
 * user code brackets its work with mdspf__engine_enter/leave; what a job
 * has to do is queued (mdspf__job_wake) and done by the outermost leave,
 * one job step at a time.  A DNS answer, a cancel or a free from inside
 * any callback therefore never runs into code that is still on the
 * stack, and an inline resolver never makes the stack grow.
 */
#include "core/addr.h"
#include "core/engine.h"

#include <string.h>

/* ---- time ---------------------------------------------------------------- */

int64_t mdspf__ctx_now(const mdspf_ctx *ctx) {
  return ctx->clock(ctx->clock_ud);
}

void mdspf__ctx_set_clock(mdspf_ctx *ctx, mdspf__clock_fn fn, void *ud) {
  ctx->clock = fn ? fn : mdspf__monotonic_ms;
  ctx->clock_ud = fn ? ud : NULL;
  ctx->timer_stale = 1;
}

/* ---- the engine ------------------------------------------------------------ */

static void ctx_destroy(mdspf_ctx *ctx);
static size_t ctx_reclaim(void *ud);

void mdspf__engine_enter(mdspf_ctx *ctx) { ctx->depth++; }

/* Tell the host about the earliest deadline when it changed. */
static void timer_update(mdspf_ctx *ctx) {
  mdspf__link *h = ctx->timed.head;
  if (!ctx->timer) {
    return;
  }
  if (ctx->closed) {
    /* the host must not fire at us later, and hears nothing more */
    mdspf_timer_fn fn = ctx->timer;
    ctx->timer = NULL;
    if (ctx->timer_armed) {
      ctx->timer_armed = 0;
      MDSPF__CALLBACK(ctx, fn(ctx->timer_ud, -1));
    }
    return;
  }
  if (!h) {
    if (ctx->timer_armed || ctx->timer_stale) {
      ctx->timer_armed = 0;
      ctx->timer_stale = 0;
      MDSPF__CALLBACK(ctx, ctx->timer(ctx->timer_ud, -1));
    }
    return;
  }
  {
    int64_t due = MDSPF__CONTAINER(h, mdspf__job, timed)->deadline;
    if (ctx->timer_armed && !ctx->timer_stale && due == ctx->timer_due) {
      return;
    }
    ctx->timer_armed = 1;
    ctx->timer_stale = 0;
    ctx->timer_due = due;
    MDSPF__CALLBACK(ctx, ctx->timer(ctx->timer_ud,
                                    mdspf__ms_until(due, mdspf__ctx_now(ctx))));
  }
}

void mdspf__engine_leave(mdspf_ctx *ctx) {
  if (ctx->depth == 1) {
    /* the drain: one job step at a time, until nothing is left (the
     * timer callback may queue more) */
    for (;;) {
      mdspf__link *k = mdspf__list_pop_front(&ctx->runq);
      if (k) {
        mdspf__job *j = MDSPF__CONTAINER(k, mdspf__job, run);
        j->ops->step(j); /* may destroy j */
        continue;
      }
      timer_update(ctx);
      if (!ctx->runq.head) {
        break;
      }
    }
  }
  if (--ctx->depth == 0 && ctx->refs == 0) {
    ctx_destroy(ctx);
  }
}

mdspf_status mdspf__job_attach(mdspf_ctx *ctx, mdspf__job *j,
                               const mdspf__job_ops *ops) {
  if (ctx->closed) {
    return MDSPF_E_STATE;
  }
  j->ops = ops;
  j->ctx = ctx;
  ctx->refs++;
  mdspf__list_push_back(&ctx->jobs, &j->all);
  return MDSPF_OK;
}

void mdspf__job_detach(mdspf__job *j) {
  mdspf_ctx *ctx = j->ctx;
  if (mdspf__list_linked(&ctx->runq, &j->run)) {
    mdspf__list_remove(&ctx->runq, &j->run);
  }
  mdspf__job_clear_deadline(j);
  mdspf__list_remove(&ctx->jobs, &j->all);
  if (--ctx->refs == 0 && ctx->depth == 0) {
    ctx_destroy(ctx);
  }
}

void mdspf__job_wake(mdspf__job *j) {
  mdspf_ctx *ctx = j->ctx;
  if (!mdspf__list_linked(&ctx->runq, &j->run)) {
    mdspf__list_push_back(&ctx->runq, &j->run);
  }
}

void mdspf__job_clear_deadline(mdspf__job *j) {
  mdspf_ctx *ctx = j->ctx;
  if (mdspf__list_linked(&ctx->timed, &j->timed)) {
    mdspf__list_remove(&ctx->timed, &j->timed);
  }
}

void mdspf__job_set_deadline(mdspf__job *j, int64_t deadline) {
  mdspf_ctx *ctx = j->ctx;
  mdspf__link *at;
  mdspf__job_clear_deadline(j);
  j->deadline = deadline;
  /* budgets may differ between snapshots: keep the list sorted, looking
   * from the end, where a new deadline usually belongs */
  for (at = ctx->timed.tail; at; at = at->prev) {
    if (MDSPF__CONTAINER(at, mdspf__job, timed)->deadline <= deadline) {
      break;
    }
  }
  if (at) {
    mdspf__list_insert_after(&ctx->timed, at, &j->timed);
  } else {
    mdspf__list_push_front(&ctx->timed, &j->timed);
  }
}

/* ---- contexts -------------------------------------------------------------- */

mdspf_status mdspf_ctx_new(mdspf_alloc_fn alloc, void *alloc_ud,
                           mdspf_ctx **out) {
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
  ctx->refs = 1;
  ctx->clock = mdspf__monotonic_ms;
  ctx->budget.limit =
      (size_t)mdspf__limit_default[MDSPF_LIMIT_CONTEXT_MEMORY];
  ctx->budget.reclaim = ctx_reclaim;
  ctx->budget.reclaim_ud = ctx;
  mdspf__recset_init(&ctx->records, &a);
  ctx->cfg = mdspf__config_new(&a);
  if (!ctx->cfg) {
    mdspf__free(&a, ctx, sizeof *ctx);
    return MDSPF_E_NOMEM;
  }
  *out = ctx;
  return MDSPF_OK;
}

static void ctx_destroy(mdspf_ctx *ctx) {
  mdspf__allocator a = ctx->alloc;
  mdspf__config_unref(ctx->cfg);
  mdspf__recset_fini(&ctx->records);
  mdspf__free(&a, ctx, sizeof *ctx);
}

void mdspf_ctx_free(mdspf_ctx *ctx) {
  mdspf__link *k;
  if (!ctx || ctx->closed) {
    return;
  }
  mdspf__engine_enter(ctx);
  ctx->closed = 1; /* the timer is disarmed by the outermost leave */
  for (k = ctx->jobs.head; k; k = k->next) {
    mdspf__job *j = MDSPF__CONTAINER(k, mdspf__job, all);
    j->ops->abort(j); /* no callback; released by the drain */
  }
  ctx->refs--; /* the user's reference */
  mdspf__engine_leave(ctx); /* ctx may be gone */
}

mdspf_status mdspf_ctx_set_timer(mdspf_ctx *ctx, mdspf_timer_fn fn,
                                 void *loop_ud) {
  if (!ctx || ctx->closed) {
    return MDSPF_E_INVAL;
  }
  mdspf__engine_enter(ctx);
  ctx->timer = fn;
  ctx->timer_ud = fn ? loop_ud : NULL;
  ctx->timer_armed = 0;
  ctx->timer_stale = 1; /* the new hook hears the current state */
  mdspf__engine_leave(ctx);
  return MDSPF_OK;
}

long mdspf_ctx_timeout(const mdspf_ctx *ctx) {
  if (!ctx || ctx->closed || !ctx->timed.head) {
    return -1;
  }
  return mdspf__ms_until(
      MDSPF__CONTAINER(ctx->timed.head, mdspf__job, timed)->deadline,
      mdspf__ctx_now(ctx));
}

void mdspf_ctx_process_timeouts(mdspf_ctx *ctx) {
  int64_t now;
  if (!ctx || ctx->closed) {
    return;
  }
  now = mdspf__ctx_now(ctx);
  mdspf__engine_enter(ctx);
  while (ctx->timed.head) {
    mdspf__job *j = MDSPF__CONTAINER(ctx->timed.head, mdspf__job, timed);
    if (j->deadline > now) {
      break;
    }
    mdspf__job_clear_deadline(j);
    j->ops->expire(j);
  }
  /* an early or quiet firing still leaves the host with a timer */
  ctx->timer_stale = 1;
  mdspf__engine_leave(ctx);
}

/* ---- the check job --------------------------------------------------------- */

static void check_destroy(mdspf_check *chk) {
  mdspf__allocator a = chk->ctx->alloc;
  const mdspf__allocator *ea = &chk->alloc; /* the evaluation's */
  mdspf__eval_release(chk);
  mdspf__config_unref(chk->cfg);
  mdspf__strfree(&a, chk->sender);
  mdspf__strfree(&a, chk->helo);
  mdspf__strfree(ea, chk->m_s);
  mdspf__strfree(ea, chk->m_l);
  mdspf__strfree(ea, chk->m_o);
  /* the outcome (bounded, and needed most when a budget ran out) is not
   * charged to the budgets */
  mdspf__strfree(&a, chk->problem);
  mdspf__strfree(&a, chk->explanation);
  mdspf__strfree(&a, chk->mechanism);
  mdspf__strfree(&a, chk->out_domain);
  mdspf__strfree(&a, chk->out_identity);
  mdspf__free(&a, chk->out_record, chk->out_record_len + 1);
  mdspf__strfree(&a, chk->exp_text);
  mdspf__job_detach(&chk->job); /* may destroy the context */
  mdspf__free(&a, chk, sizeof *chk);
}

static void check_step(mdspf__job *j) {
  mdspf_check *chk = (mdspf_check *)(void *)j;
  mdspf_ctx *ctx = chk->ctx;
  if (chk->state == MDSPF__CS_RUNNING) {
    mdspf__eval_run(chk);
  }
  if (chk->state == MDSPF__CS_DONE && !chk->notified) {
    chk->notified = 1;
    if (chk->cb) {
      chk->in_cb = 1;
      MDSPF__CALLBACK(ctx, chk->cb(chk, chk->user));
      chk->in_cb = 0;
    }
  }
  if (chk->state != MDSPF__CS_RUNNING && !chk->released) {
    mdspf__eval_release(chk);
  }
  if (chk->free_req && !chk->in_run && !chk->in_cb) {
    check_destroy(chk);
  }
}

/* Stop a running check without a callback. */
static void check_cancel_mark(mdspf_check *chk) {
  if (chk->state != MDSPF__CS_RUNNING) {
    return;
  }
  chk->state = MDSPF__CS_CANCELLED;
  chk->notified = 1;
  chk->result = MDSPF_TEMPERROR;
  chk->reason = MDSPF_E_CANCELLED;
  mdspf__job_clear_deadline(&chk->job);
  mdspf__job_wake(&chk->job); /* the drain releases its queries */
}

static void check_expire(mdspf__job *j) {
  mdspf_check *chk = (mdspf_check *)(void *)j;
  mdspf__eval_abandon(chk, MDSPF_E_TIMEOUT, "time budget exceeded");
  mdspf__job_wake(j);
}

/* The context is being freed: no callback any more, also not the one of
 * a check that finished and waits for the drain to deliver it. */
static void check_abort(mdspf__job *j) {
  mdspf_check *chk = (mdspf_check *)(void *)j;
  chk->notified = 1;
  check_cancel_mark(chk);
}

static const mdspf__job_ops check_ops = {check_step, check_expire,
                                         check_abort};

/* A budget refused an allocation: the answers its checks hold only for
 * lookups made ahead go first (mdspf__eval_reclaim). */
static size_t check_reclaim(void *ud) {
  return mdspf__eval_reclaim((mdspf_check *)ud);
}

static size_t ctx_reclaim(void *ud) {
  mdspf_ctx *ctx = ud;
  mdspf__link *k;
  size_t freed = 0;
  for (k = ctx->jobs.head; k; k = k->next) {
    mdspf__job *j = MDSPF__CONTAINER(k, mdspf__job, all);
    if (j->ops == &check_ops) {
      freed += mdspf__eval_reclaim((mdspf_check *)(void *)j);
    }
  }
  return freed;
}

/* ---- checks ------------------------------------------------------------------ */

mdspf_status mdspf_check_new(mdspf_ctx *ctx, mdspf_check **out) {
  mdspf_check *chk;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  if (!ctx) {
    return MDSPF_E_INVAL;
  }
  if (ctx->closed) {
    return MDSPF_E_STATE;
  }
  chk = mdspf__alloc(&ctx->alloc, sizeof *chk);
  if (!chk) {
    return MDSPF_E_NOMEM;
  }
  chk->ctx = ctx;
  chk->alloc = ctx->alloc;
  chk->alloc.budget = &chk->budget;
  chk->budget.parent = &ctx->budget;
  chk->budget.reclaim = check_reclaim;
  chk->budget.reclaim_ud = chk;
  chk->result = MDSPF_NO_RESULT;
  chk->reason = MDSPF_E_STATE;
  (void)mdspf__job_attach(ctx, &chk->job, &check_ops);
  *out = chk;
  return MDSPF_OK;
}

mdspf_status mdspf_check_set_ip(mdspf_check *chk, const char *ip) {
  uint8_t a[16];
  int fam;
  if (!chk || !ip) {
    return MDSPF_E_INVAL;
  }
  if (chk->state != MDSPF__CS_NEW) {
    return MDSPF_E_STATE;
  }
  if (!mdspf__ip_parse(ip, strnlen(ip, 64), 1, &fam, a)) {
    return MDSPF_E_INVAL;
  }
  chk->family = fam;
  memcpy(chk->ip, a, 16);
  chk->have_ip = 1;
  return MDSPF_OK;
}

mdspf_status mdspf_check_set_ip_bin(mdspf_check *chk, int family,
                                    const void *addr) {
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

static mdspf_status set_input(mdspf_check *chk, char **slot, const char *s) {
  size_t i, n;
  char *copy = NULL;
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
  if (!chk) {
    return MDSPF_E_INVAL;
  }
  return set_input(chk, &chk->sender,
                   mailfrom && *mailfrom ? mailfrom : NULL);
}

mdspf_status mdspf_check_set_helo(mdspf_check *chk, const char *helo) {
  if (!chk) {
    return MDSPF_E_INVAL;
  }
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

mdspf_status mdspf_check_start(mdspf_check *chk, mdspf_check_cb cb,
                               void *user) {
  mdspf_ctx *ctx;
  if (!chk) {
    return MDSPF_E_INVAL;
  }
  ctx = chk->ctx;
  if (chk->state != MDSPF__CS_NEW || ctx->closed || chk->free_req) {
    return MDSPF_E_STATE;
  }
  if (!chk->have_ip || (!chk->sender && !chk->helo) ||
      (chk->identity == MDSPF_ID_HELO && !chk->helo)) {
    return MDSPF_E_INVAL;
  }
  if (!ctx->cfg->has_res) {
    return MDSPF_E_NOTSUP;
  }
  chk->cfg = mdspf__config_ref(ctx->cfg);
  chk->budget.limit = (size_t)chk->cfg->limits[MDSPF_LIMIT_CHECK_MEMORY];
  chk->cb = cb;
  chk->user = user;
  chk->state = MDSPF__CS_RUNNING;
  mdspf__engine_enter(ctx);
  mdspf__job_set_deadline(&chk->job,
                          mdspf__ctx_now(ctx) +
                              chk->cfg->limits[MDSPF_LIMIT_TIMEOUT_MS]);
  mdspf__eval_start(chk);
  mdspf__job_wake(&chk->job);
  mdspf__engine_leave(ctx);
  return MDSPF_OK;
}

void mdspf_check_cancel(mdspf_check *chk) {
  mdspf_ctx *ctx;
  if (!chk || chk->state != MDSPF__CS_RUNNING) {
    return;
  }
  ctx = chk->ctx;
  mdspf__engine_enter(ctx);
  check_cancel_mark(chk);
  mdspf__engine_leave(ctx);
}

void mdspf_check_free(mdspf_check *chk) {
  mdspf_ctx *ctx;
  if (!chk || chk->free_req) {
    return;
  }
  ctx = chk->ctx;
  mdspf__engine_enter(ctx);
  check_cancel_mark(chk);
  chk->free_req = 1;
  chk->notified = 1; /* a finished check freed before its callback ran */
  mdspf__job_wake(&chk->job);
  mdspf__engine_leave(ctx); /* chk, and ctx, may be gone */
}

mdspf_status mdspf_check_run(mdspf_check *chk, int timeout_ms) {
  mdspf_ctx *ctx;
  int64_t deadline;
  mdspf_status rc = MDSPF_OK;
  if (!chk) {
    return MDSPF_E_INVAL;
  }
  ctx = chk->ctx;
  if (ctx->depth > 0 || ctx->in_callback > 0) {
    return MDSPF_E_RECURSIVE;
  }
  if (chk->in_run || chk->free_req) {
    return MDSPF_E_STATE;
  }
  if (chk->state == MDSPF__CS_NEW) {
    rc = mdspf_check_start(chk, NULL, NULL);
    if (rc != MDSPF_OK) {
      return rc;
    }
  }
  deadline = mdspf__ctx_now(ctx) +
             (timeout_ms > 0 ? (int64_t)timeout_ms
                             : (int64_t)chk->cfg->limits[MDSPF_LIMIT_TIMEOUT_MS]);
  if (chk->state == MDSPF__CS_RUNNING && chk->job.deadline < deadline) {
    deadline = chk->job.deadline; /* the check's own budget ends first */
  }
  chk->in_run = 1;
  while (chk->state == MDSPF__CS_RUNNING) {
    int64_t now = mdspf__ctx_now(ctx);
    const mdspf_resolver *res = &chk->cfg->res;
    if (now >= deadline) {
      mdspf__engine_enter(ctx);
      mdspf__eval_abandon(chk, MDSPF_E_TIMEOUT, "time budget exceeded");
      mdspf__job_wake(&chk->job);
      mdspf__engine_leave(ctx);
      break;
    }
    if (!res->wait) {
      rc = MDSPF_E_NOTSUP;
      break;
    }
    if (res->wait(res->impl, (int)mdspf__ms_until(deadline, now)) != 0) {
      mdspf__engine_enter(ctx);
      mdspf__eval_abandon(chk, MDSPF_E_DNS, "resolver failure");
      mdspf__job_wake(&chk->job);
      mdspf__engine_leave(ctx);
      break;
    }
  }
  chk->in_run = 0;
  if (rc == MDSPF_OK && chk->state == MDSPF__CS_CANCELLED) {
    rc = MDSPF_E_CANCELLED;
  }
  if (chk->free_req) {
    /* freed from a callback meanwhile (or its context was) */
    mdspf__engine_enter(ctx);
    mdspf__job_wake(&chk->job);
    mdspf__engine_leave(ctx);
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
  return chk ? (mdspf_status)chk->reason : MDSPF_E_INVAL;
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
mdspf_status mdspf_check_syntax_error(const mdspf_check *chk, int *code,
                                      size_t *off, size_t *len) {
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
  return (chk && chk->state != MDSPF__CS_NEW) ? chk->out_identity : NULL;
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
unsigned mdspf_check_prefetched(const mdspf_check *chk) {
  return chk ? chk->prefetched : 0;
}
unsigned mdspf_check_wasted(const mdspf_check *chk) {
  return chk ? chk->wasted : 0;
}
size_t mdspf_check_memory_peak(const mdspf_check *chk) {
  return chk ? chk->budget.peak : 0;
}
size_t mdspf_ctx_memory(const mdspf_ctx *ctx, size_t *peak) {
  if (peak) {
    *peak = ctx ? ctx->budget.peak : 0;
  }
  return ctx ? ctx->budget.used : 0;
}

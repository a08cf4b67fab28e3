/*
 * lib/core/engine.h -- contexts, configuration snapshots, jobs (checks
 * and lints) and the engine that runs them.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The rules this file implements (the header states them to users):
 *
 * Configuration is a snapshot.  A context holds its current
 * configuration (mdspf__config: resolver, limits, overrides, fallbacks,
 * best guess, local policy, explanation, receiver, trace hook).  A check
 * or lint takes a reference to it when it starts and keeps it until it
 * is freed.  Setters never change a configuration somebody else holds:
 * when the current one is shared they copy it first (copy on write), so
 * a reload never disturbs what runs and never fails because checks run.
 *
 * One callback discipline.  Everything that can run user code (a check's
 * completion or trace callback, a lint's callback, the timer callback)
 * runs inside an engine section: mdspf__engine_enter/leave.  Work that
 * a job must do -- an answer arrived, it was cancelled or freed -- only
 * puts it on the run queue (mdspf__job_wake); the outermost leave drains
 * the queue.  So nothing recurses, and a cancel or free called from any
 * callback only marks the job: its queries are released and its memory
 * freed by the drain, once no frame of it is on the stack.
 *
 * One teardown rule for contexts.  The context is reference-counted:
 * the user's reference (dropped by mdspf_ctx_free) and one per check or
 * lint.  Freeing it cancels every job at once (no callbacks) and
 * disarms the timer; the memory goes when the last handle is freed, so
 * finalizers may run in any order.
 */
#ifndef MDSPF_CORE_ENGINE_H
#define MDSPF_CORE_ENGINE_H

#include <maildrop-spf/spf.h>

#include <stddef.h>
#include <stdint.h>

#include "core/dnsq.h"
#include "core/domain.h"
#include "core/record.h"
#include "core/recset.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/list.h"

/* ---- configuration snapshots (config.c) ------------------------------ */

#define MDSPF__NLIMITS 9

typedef struct mdspf__override {
  char *domain;      /* normalised: lower case, no trailing dot */
  mdspf_record *rec; /* a reference */
  int kind;          /* MDSPF_SRC_OVERRIDE or MDSPF_SRC_FALLBACK */
} mdspf__override;

typedef struct mdspf__config {
  unsigned refs; /* the context while current, plus each job using it */
  mdspf__allocator alloc;
  mdspf_resolver res;
  int has_res;
  long limits[MDSPF__NLIMITS];
  char *receiver;      /* NULL: "unknown" */
  char *default_exp;   /* NULL: MDSPF_DEFAULT_EXPLANATION */
  mdspf_record *local; /* "v=spf1 " + local policy mechanisms */
  mdspf_record *guess;
  mdspf__override *ovr;
  size_t novr, ovr_cap;
  mdspf_trace_fn trace;
  void *trace_ud;
} mdspf__config;

/* A configuration with the defaults (no resolver); NULL when out of
 * memory. */
mdspf__config *mdspf__config_new(const mdspf__allocator *a);
mdspf__config *mdspf__config_ref(mdspf__config *c);
void mdspf__config_unref(mdspf__config *c);
/* The override (kind MDSPF_SRC_OVERRIDE) or fallback of domain, NULL if
 * none. */
const mdspf__override *mdspf__config_find(const mdspf__config *c,
                                          const char *domain, int kind);
/* The limit's default, lowest and highest value. */
extern const long mdspf__limit_default[MDSPF__NLIMITS];

/* ---- jobs and the engine (check.c) ------------------------------------ */

typedef struct mdspf__job mdspf__job;

typedef struct mdspf__job_ops {
  /* Do what is due: evaluate, deliver the callback, release, destroy.
   * Called by the drain of the outermost engine section only. */
  void (*step)(mdspf__job *j);
  /* The deadline passed: end the job (inside an engine section). */
  void (*expire)(mdspf__job *j);
  /* The context is being freed: stop without any callback (inside an
   * engine section). */
  void (*abort)(mdspf__job *j);
} mdspf__job_ops;

struct mdspf__job {
  const mdspf__job_ops *ops;
  mdspf_ctx *ctx;
  mdspf__link all;   /* ctx->jobs */
  mdspf__link run;   /* ctx->runq while queued */
  mdspf__link timed; /* ctx->timed while it has a deadline */
  int64_t deadline;
};

struct mdspf_ctx {
  mdspf__allocator alloc;
  unsigned refs; /* the user's until mdspf_ctx_free, plus one per job */
  int closed;    /* mdspf_ctx_free was called */
  mdspf__config *cfg;
  mdspf__budget budget; /* what its checks hold together */
  mdspf__recset records; /* records its checks evaluate, shared */
  mdspf__clock_fn clock;
  void *clock_ud;
  /* engine */
  unsigned depth;       /* nesting of engine sections */
  unsigned in_callback; /* user callbacks running */
  mdspf__list jobs;     /* every check and lint of the context */
  mdspf__list runq;     /* jobs with something to do */
  mdspf__list timed;    /* jobs with a deadline, earliest first */
  mdspf_timer_fn timer;
  void *timer_ud;
  int timer_armed;   /* a deadline was reported and not disarmed */
  int timer_stale;   /* report again even if the deadline is the same */
  int64_t timer_due; /* the deadline last reported */
};

int64_t mdspf__ctx_now(const mdspf_ctx *ctx);
/* Test hook (not public API): the context's clock; fn NULL restores the
 * monotonic clock. */
void mdspf__ctx_set_clock(mdspf_ctx *ctx, mdspf__clock_fn fn, void *ud);

void mdspf__engine_enter(mdspf_ctx *ctx);
/* Leave an engine section; the outermost one drains the run queue and
 * reports the timer.  ctx may be gone afterwards. */
void mdspf__engine_leave(mdspf_ctx *ctx);
/* Run a user callback inside the guard. */
#define MDSPF__CALLBACK(ctx, call)                                           \
  do {                                                                       \
    (ctx)->in_callback++;                                                    \
    call;                                                                    \
    (ctx)->in_callback--;                                                    \
  } while (0)

/* Bind a job to ctx (takes a context reference).  MDSPF_E_STATE when the
 * context is closed. */
mdspf_status mdspf__job_attach(mdspf_ctx *ctx, mdspf__job *j,
                               const mdspf__job_ops *ops);
/* Unbind (drops the reference; the context may be destroyed by the
 * engine section this runs in, or at once outside one). */
void mdspf__job_detach(mdspf__job *j);
/* Queue the job's step for the drain. */
void mdspf__job_wake(mdspf__job *j);
/* Keep the job on the deadline list (at deadline) or take it off. */
void mdspf__job_set_deadline(mdspf__job *j, int64_t deadline);
void mdspf__job_clear_deadline(mdspf__job *j);

/* ---- checks (check.c, eval.c) ------------------------------------------ */

enum {
  MDSPF__CS_NEW = 0,
  MDSPF__CS_RUNNING = 1,
  MDSPF__CS_DONE = 2,
  MDSPF__CS_CANCELLED = 3
};

/* One record being evaluated (the checked domain's, or an include's).
 * Allocated when the evaluation enters it and freed when it returns, so
 * a check holds only the frames of the includes it is inside. */
typedef struct mdspf__frame {
  struct mdspf__frame *parent; /* the including frame; NULL at the root */
  mdspf_record *rec; /* a reference; NULL while its TXT lookup is pending */
  int shared;        /* rec is from ctx->records, its size charged to the
                        check's budget */
  char *domain;      /* exact size (the check's allocator) */
  mdspf_dns_query *fq; /* TXT lookup of this frame's record */
  uint32_t next;       /* next term to evaluate */
  int source;          /* MDSPF_SRC_* */
  int top;             /* checked domain (or its redirect target) */
  int redirected;      /* reached through redirect= */
  int inc_state;       /* 0 idle, 1 child running, 2 child returned */
  int inc_result;
} mdspf__frame;

enum {
  MDSPF__V_UNKNOWN = 0,
  MDSPF__V_PENDING,
  MDSPF__V_VALID,
  MDSPF__V_INVALID
};

/* A name of an MX set (pointing into the MX answer, which is kept while
 * the term runs) or of the client's PTR answer (copied: the check keeps
 * them). */
typedef struct mdspf__host {
  const char *name; /* not NUL-terminated */
  size_t len;
  unsigned pref;
  int vstate;         /* PTR names: MDSPF__V_* */
  mdspf_dns_query *q; /* its address lookup */
} mdspf__host;

/* State of the term being evaluated. */
typedef struct mdspf__op {
  int counted;  /* DNS term counted */
  int expanded; /* target computed */
  int invalid;  /* target is not a queryable name */
  char *target; /* exact size; NULL until expanded */
  size_t target_len;
  mdspf_dns_query *q; /* primary query; mx: the MX answer, kept while the
                         hosts (which point into it) are looked up */
  int mx_started;
  unsigned mx_n, mx_next, mx_size; /* hosts, the next, allocated */
  int mx_nonvoid;   /* an address lookup of a host was not void */
  mdspf__host *mx;  /* mx_n hosts in preference order */
} mdspf__op;

/* The PTR names of the client and their validation, shared by "ptr"
 * mechanisms and %{p} within one check. */
typedef struct mdspf__ptrcache {
  int state;    /* 0 none, 1 pending, 2 done */
  int failed;   /* DNS error: no names */
  int void_ans; /* NXDOMAIN / NODATA */
  mdspf_dns_query *q; /* the PTR lookup, until its answer is taken */
  unsigned n;
  mdspf__host *names; /* n names, their text after them (one block) */
  size_t size;        /* of that block */
} mdspf__ptrcache;

enum {
  MDSPF__PH_FETCH = 1, /* waiting for the top frame's record */
  MDSPF__PH_TERMS = 2, /* evaluating terms */
  MDSPF__PH_EXP = 3    /* computing the explanation */
};

struct mdspf_check {
  mdspf__job job; /* first: the engine's handle */
  mdspf_ctx *ctx;
  mdspf__config *cfg; /* the snapshot it started with (NULL before) */
  /* what the evaluation allocates goes through alloc, charged to budget
   * (MDSPF_LIMIT_CHECK_MEMORY), which is charged to the context's */
  mdspf__allocator alloc;
  mdspf__budget budget;
  /* inputs */
  int family;
  uint8_t ip[16];
  int have_ip;
  char *sender;
  char *helo;
  int identity;
  /* derived at start */
  int id_used;
  char *m_s, *m_l, *m_o; /* %{s}, %{l}, %{o} (the evaluation's allocator) */
  char m_c[48];          /* %{c}, also mdspf_check_client_ip */
  unsigned long m_t;     /* %{t} */
  /* callback */
  mdspf_check_cb cb;
  void *user;
  int state;
  int in_cb;    /* inside its completion callback */
  int in_run;   /* inside mdspf_check_run */
  int free_req; /* mdspf_check_free was called */
  int notified; /* the callback has run (or never will) */
  int released; /* queries and evaluation state are gone */
  /* engine */
  int ph;
  mdspf__frame *frame; /* the innermost record being evaluated */
  size_t nframes;
  mdspf__op op;
  mdspf__ptrcache ptr;
  int local_done, local_active;
  uint32_t local_next;
  mdspf__list live; /* queries not yet released */
  /* lookahead (MDSPF_LIMIT_LOOKAHEAD): queries started ahead of the
   * evaluation and not used yet; counters for the outcome */
  mdspf__list spec;
  int spec_off; /* memory ran short: no more lookups ahead */
  unsigned prefetched, wasted;
  /* exp */
  int exp_stage;
  mdspf_dns_query *exp_q;
  char *exp_text; /* explain-string to expand */
  /* counters */
  unsigned dns_terms, voids, queries;
  /* outcome */
  int result, reason, source;
  char *problem, *explanation, *mechanism, *out_domain;
  char *out_identity; /* m_o made printable */
  char *out_record; /* may hold NUL bytes: freed by out_record_len */
  size_t out_record_len;
  int syn_code;
  size_t syn_off, syn_len;
  int has_syn;
  int oom; /* an outcome string could not be allocated */
};

/* eval.c */
void mdspf__eval_start(mdspf_check *chk);
void mdspf__eval_run(mdspf_check *chk);
void mdspf__eval_finish(mdspf_check *chk, int result, int reason,
                        const char *problem);
/* The budget ran out (or the resolver failed): temperror, except once
 * the result is a fail, which keeps its verdict and gets the default
 * explanation (RFC 7208 6.2: the explanation never changes a result). */
void mdspf__eval_abandon(mdspf_check *chk, int reason, const char *problem);
/* Cancel and free every query, free the evaluation state. */
void mdspf__eval_release(mdspf_check *chk);
/* The check's budget (or its context's) refused an allocation: free the
 * answers held for lookups made ahead.  Returns the bytes freed.  Only
 * frees (no backend call, no callback), so it is safe inside any
 * allocation. */
size_t mdspf__eval_reclaim(mdspf_check *chk);

#endif /* MDSPF_CORE_ENGINE_H */

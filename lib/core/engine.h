/*
 * lib/core/engine.h -- contexts, checks and the engine that runs them.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_ENGINE_H
#define MDSPF_CORE_ENGINE_H

#include <maildrop-spf/spf.h>

#include <stddef.h>
#include <stdint.h>
#include "util/alloc.h"
#include "core/dnsq.h"
#include "core/domain.h"
#include "core/record.h"

/* ---- context and checks (check.c, eval.c) ------------------------------------ */

#define MDSPF__NLIMITS 6

typedef struct mdspf__override {
  char *domain; /* normalised */
  const mdspf_record *rec;
  int owned; /* rec was parsed by the context (else borrowed) */
  int kind;  /* MDSPF_SRC_OVERRIDE or MDSPF_SRC_FALLBACK */
} mdspf__override;

struct mdspf_ctx {
  mdspf__allocator alloc;
  mdspf_resolver res;
  int has_res;
  long limits[MDSPF__NLIMITS];
  char *receiver;
  char *default_exp;
  mdspf_record *local; /* "v=spf1 " + local policy mechanisms */
  mdspf_record *guess;
  mdspf__override *ovr;
  size_t novr, ovr_cap;
  mdspf_trace_fn trace;
  void *trace_ud;
  /* engine */
  mdspf_dns_query *dq_head, *dq_tail; /* completions to process */
  int depth;                          /* engine nesting */
  int in_callback;
  int free_pending;
  mdspf_check *checks; /* every check of this context */
  /* running checks in start order: deadlines never decrease along the
   * list (the budget cannot change while checks run), so the head holds
   * the earliest one */
  mdspf_check *run_head, *run_tail;
  mdspf_timer_fn timer;
  void *timer_ud;
  long timer_armed; /* deadline last reported, -1 none */
};

enum {
  MDSPF__CS_NEW = 0,
  MDSPF__CS_RUNNING = 1,
  MDSPF__CS_DONE = 2,
  MDSPF__CS_CANCELLED = 3
};

/* One record being evaluated (the checked domain's, or an include's). */
typedef struct mdspf__frame {
  const mdspf_record *rec; /* NULL while its TXT lookup is pending */
  int own;           /* rec is owned by the frame */
  int source;        /* MDSPF_SRC_* */
  int top;           /* checked domain (or its redirect target) */
  int redirected;    /* reached through redirect= */
  uint32_t next;     /* next term to evaluate */
  int inc_state;     /* 0 idle, 1 child running, 2 child returned */
  int inc_result;
  mdspf_dns_query *fq; /* TXT lookup of this frame's record */
  char domain[MDSPF__MAX_NAME + 1];
} mdspf__frame;

/* State of the term being evaluated. */
typedef struct mdspf__op {
  int counted;  /* DNS term counted */
  int expanded; /* target computed */
  int invalid;  /* target is not a queryable name */
  char target[MDSPF__MAX_NAME + 1];
  size_t target_len;
  mdspf_dns_query *q; /* primary query */
  /* mx */
  int mx_started;
  unsigned mx_n, mx_next;
  char (*mx_names)[MDSPF__MAX_NAME + 1];
  mdspf_dns_query **mx_q;
} mdspf__op;

enum { MDSPF__V_UNKNOWN = 0, MDSPF__V_PENDING, MDSPF__V_VALID, MDSPF__V_INVALID };

/* The PTR names of the client and their validation, shared by "ptr"
 * mechanisms and %{p} within one check. */
typedef struct mdspf__ptrcache {
  int state; /* 0 none, 1 pending, 2 done */
  int failed;   /* DNS error: no names */
  int void_ans; /* NXDOMAIN / NODATA */
  mdspf_dns_query *q;
  unsigned n;
  char (*names)[MDSPF__MAX_NAME + 1];
  int *vstate;
  mdspf_dns_query **vq;
} mdspf__ptrcache;

enum {
  MDSPF__PH_FETCH = 1, /* waiting for the top frame's record */
  MDSPF__PH_TERMS = 2, /* evaluating terms */
  MDSPF__PH_EXP = 3    /* computing the explanation */
};

struct mdspf_check {
  mdspf_ctx *ctx;
  mdspf_check *prev, *next;
  /* inputs */
  int family;
  uint8_t ip[16];
  int have_ip;
  char *sender;
  char *helo;
  int identity;
  /* derived at start */
  int id_used;
  char *m_s, *m_l; /* %{s} and %{l} */
  char m_o[MDSPF__MAX_NAME + 1];
  char m_i[64], m_c[48], m_t[24];
  /* time budget */
  long deadline; /* monotonic ms */
  mdspf_check *rprev, *rnext;
  int on_run_list;
  /* trace hook, taken from the context at creation */
  mdspf_trace_fn trace;
  void *trace_ud;
  /* callback */
  mdspf_check_cb cb;
  void *user;
  int state;
  int in_cb, in_run, free_req, notified;
  /* engine */
  int ph;
  mdspf__frame *frames;
  size_t nframes, frames_cap;
  mdspf__op op;
  mdspf__ptrcache ptr;
  int local_done, local_active;
  uint32_t local_next;
  mdspf_dns_query *live; /* queries not yet released */
  /* exp */
  int exp_stage;
  mdspf_dns_query *exp_q;
  char *exp_text; /* explain-string to expand */
  /* counters */
  unsigned dns_terms, voids, queries;
  /* outcome */
  int result, reason, source;
  char *problem, *explanation, *mechanism, *out_domain;
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
void mdspf__eval_release_all(mdspf_check *chk);
void mdspf__eval_free_state(mdspf_check *chk);
/* check.c */
void mdspf__engine_enter(mdspf_ctx *ctx);
void mdspf__engine_leave(mdspf_ctx *ctx);
void mdspf__check_notify(mdspf_check *chk);
void mdspf__check_stopped(mdspf_check *chk);
long mdspf__now_ms(void);
/* trace.c */
void mdspf__emit(mdspf_check *chk, int type, int depth, const char *domain,
                 const char *text, int result, int rrtype, int dns_status,
                 unsigned count);

#endif /* MDSPF_CORE_ENGINE_H */

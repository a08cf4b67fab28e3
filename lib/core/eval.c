/*
 * lib/core/eval.c -- check_host() (RFC 7208 section 4) as a resumable state
 * machine over the resolver interface.
 *
 * Every step function is restartable: it looks at what it already has
 * (counted? expanded? answer arrived?) and either makes progress or
 * returns ST_WAIT after issuing queries.  An answer only wakes the check
 * (see check.c); the engine's drain then calls mdspf__eval_run, which
 * re-enters the current step.  So answers may arrive inline (inside
 * query()), later, or in any order, while results are applied in record
 * order.  The evaluation itself asks one query at a time, as RFC 7208
 * reads: the address lookups of an MX set's hosts and of the client's
 * PTR names go one after the other, in order, and stop at the first
 * match (or error), so a check never sends a query that a sequential
 * evaluation would not.  Lookahead (below) is what starts queries early.
 *
 * Everything here reads the check's configuration snapshot (chk->cfg),
 * never the context's current one, and frees nothing that a caller up
 * the stack may still use: a cancel or free from a trace hook only marks
 * the check (see engine.h), every loop stops when the check is no longer
 * running, and mdspf__eval_release runs from the drain.
 *
 * Memory: a check allocates what its evaluation reaches -- one frame
 * per record it is inside, the target of the term at hand, an MX set's
 * or the PTR answer's hosts sized to the answer -- through its budget.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/engine.h"
#include "core/addr.h"
#include "core/macro.h"
#include "core/event.h"
#include "core/terms.h"
#include "util/strbuf.h"

#include <string.h>
#include <time.h>

enum { ST_CONT = 0, ST_WAIT = 1, ST_STOP = 2 };
enum { M_NOMATCH = 0, M_MATCH = 1, M_WAIT = 2, M_STOP = 3, M_PUSHED = 4 };

#define LIMIT(chk, w) ((chk)->cfg->limits[w])
#define EXPLAIN_MAX 2048

static mdspf__frame *top_frame(mdspf_check *chk) { return chk->frame; }

/* The checked domain's frame (the only one left once the verdict is
 * known). */
static mdspf__frame *root_frame(mdspf_check *chk) {
  mdspf__frame *f = chk->frame;
  while (f && f->parent) {
    f = f->parent;
  }
  return f;
}

static int depth_of(const mdspf_check *chk) {
  return chk->nframes ? (int)chk->nframes - 1 : 0;
}

static const char *cur_domain(mdspf_check *chk) {
  return chk->frame ? chk->frame->domain : chk->m_o;
}

/* Length of a name as a query asks it: one trailing dot dropped. */
static size_t qname_len(const char *name, size_t n) {
  return (n > 0 && name[n - 1] == '.') ? n - 1 : n;
}
/* ---- problems / outcome helpers ---------------------------------------------- */

/* The problem text: the first one set stays (the root cause).  Its
 * pieces may carry names from DNS or the sender, so it is made printable
 * US-ASCII as names are in DNS presentation format (mdspf_check_problem
 * promises that); a cut-off one ends in "...". */
static void set_problem(mdspf_check *chk, const char *a, const char *b,
                        const char *c) {
  char buf[1024];
  mdspf__sbuf sb;
  if (chk->problem) {
    return; /* keep the first (root-cause) problem */
  }
  mdspf__sbuf_init(&sb, buf, sizeof buf);
  if (a) {
    mdspf__sbuf_put_escaped(&sb, a, strlen(a));
  }
  if (b) {
    mdspf__sbuf_put_escaped(&sb, b, strlen(b));
  }
  if (c) {
    mdspf__sbuf_put_escaped(&sb, c, strlen(c));
  }
  if (sb.overflow && sb.len >= 3) {
    memcpy(buf + sb.len - 3, "...", 3);
  }
  chk->problem = mdspf__strndup(&chk->ctx->alloc, buf, sb.len);
  if (!chk->problem) {
    chk->oom = 1;
  }
}

/* The deciding record's text.  A record that did not parse may hold any
 * octet (NUL included): each one that is not printable ASCII is shown as
 * '?', one for one, so the text is safe to print and the syntax error's
 * offset and length still point into it. */
static void set_record(mdspf_check *chk, const char *s, size_t n) {
  mdspf__allocator *a = &chk->ctx->alloc;
  size_t i;
  if (chk->out_record) {
    mdspf__free(a, chk->out_record, chk->out_record_len + 1);
  }
  chk->out_record = mdspf__strndup(a, s, n);
  chk->out_record_len = chk->out_record ? n : 0;
  if (!chk->out_record) {
    chk->oom = 1;
    return;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)chk->out_record[i];
    if (c < 0x20 || c > 0x7e) {
      chk->out_record[i] = '?';
    }
  }
}

/* A name for the outcome (mdspf_check_domain): printable US-ASCII as in
 * DNS presentation format. */
static void set_name(mdspf_check *chk, char **slot, const char *s) {
  char buf[MDSPF__MAX_NAME * 4 + 1];
  mdspf__sbuf sb;
  mdspf__sbuf_init(&sb, buf, sizeof buf);
  mdspf__sbuf_put_escaped(&sb, s, strlen(s));
  if (*slot) {
    mdspf__strfree(&chk->ctx->alloc, *slot);
  }
  *slot = mdspf__strndup(&chk->ctx->alloc, buf, sb.len);
  if (!*slot) {
    chk->oom = 1;
  }
}

static void set_str(mdspf_check *chk, char **slot, const char *s, size_t n) {
  if (*slot) {
    mdspf__strfree(&chk->ctx->alloc, *slot);
  }
  *slot = s ? mdspf__strndup(&chk->ctx->alloc, s, n) : NULL;
  if (s && !*slot) {
    chk->oom = 1;
  }
}

/* ---- query bookkeeping ---------------------------------------------------------- */

static int running(const mdspf_check *chk) {
  return chk->state == MDSPF__CS_RUNNING;
}

/* Give up a query: cancel it at the backend if still pending, then free
 * it. */
static void drop(mdspf_check *chk, mdspf_dns_query **qp) {
  mdspf_dns_query *q = *qp;
  if (!q) {
    return;
  }
  *qp = NULL;
  mdspf__list_remove(&chk->live, &q->link);
  if (q->state == MDSPF__Q_PENDING) {
    chk->cfg->res.cancel(chk->cfg->res.impl, q->token);
  }
  mdspf__dnsq_free(q);
}

/* An answer arrived (from inside the backend's query() or later): tell
 * the trace and wake the check; the drain evaluates it. */
static void on_done(mdspf_dns_query *q, void *ud) {
  mdspf_check *chk = ud;
  mdspf_ctx *ctx = chk->ctx;
  (void)q; /* announced to the trace by mdspf__eval_run */
  mdspf__engine_enter(ctx);
  mdspf__job_wake(&chk->job);
  mdspf__engine_leave(ctx);
}

/* Tell the trace about the answers that arrived since the last step.
 * Done here, from the drain, so that a trace hook never runs inside
 * another callback (an answer may arrive inside one, e.g. when a
 * resolver is freed there). */
static void announce_answers(mdspf_check *chk) {
  mdspf__link *k;
  for (k = chk->live.head; k && running(chk); k = k->next) {
    mdspf_dns_query *q = MDSPF__CONTAINER(k, mdspf_dns_query, link);
    if (q->state == MDSPF__Q_DONE && !q->announced) {
      q->announced = 1;
      mdspf__emit(chk, MDSPF_EV_ANSWER, depth_of(chk), cur_domain(chk),
                  q->name, -1, q->rrtype, q->status, q->nrr);
    }
  }
}

static void finish(mdspf_check *chk, int result, int reason,
                   const char *problem);

/* Send a query for a name the caller has checked is queryable.  Returns
 * NULL -- and the caller stops -- when the check is no longer running
 * (a trace hook may cancel it) or out of memory (the check then ends in
 * temperror). */
static mdspf_dns_query *issue(mdspf_check *chk, const char *name,
                              size_t len, int rrtype) {
  const mdspf_resolver *res = &chk->cfg->res;
  mdspf_dns_query *q;
  int rc;
  if (!running(chk)) {
    return NULL;
  }
  q = mdspf__dnsq_new(&chk->alloc, name, len, rrtype, on_done, chk);
  if (!q) {
    finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
    return NULL;
  }
  mdspf__list_push_back(&chk->live, &q->link);
  chk->queries++;
  mdspf__emit(chk, MDSPF_EV_QUERY, depth_of(chk), cur_domain(chk), q->name,
              -1, rrtype, -1, 0);
  if (!running(chk)) {
    return q; /* cancelled by the trace hook: never sent, released later */
  }
  q->state = MDSPF__Q_PENDING;
  rc = res->query(res->impl, q, q->name, rrtype, &q->token);
  if (rc != 0 && q->state != MDSPF__Q_DONE) {
    /* the backend refused: treat as a failed lookup */
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, -1);
  }
  return q;
}

static int is_done(const mdspf_dns_query *q) {
  return q && q->state == MDSPF__Q_DONE;
}

static int dns_failed(const mdspf_dns_query *q) {
  return q->status == MDSPF_DNS_TEMPFAIL || q->status == MDSPF_DNS_ERROR;
}

static int dns_void(const mdspf_dns_query *q) {
  return q->status == MDSPF_DNS_NXDOMAIN || q->status == MDSPF_DNS_NODATA;
}

/* ---- lookahead ------------------------------------------------------------------- */

/*
 * When a record arrives, the first lookup of each of its next
 * DNS-querying terms is started at once (plan; refill looks further when
 * the evaluation takes one), and when the evaluation asks for the
 * address of a name of an MX set or of the client's PTR names, those of
 * the names it may ask for next (spec_hosts).  These queries go on
 * chk->spec, not chk->live: nothing of them is traced, counted or waited
 * for.  The evaluation itself is unchanged and asks for every lookup
 * through ask(), exactly where and when it would ask without lookahead;
 * ask() takes the lookup made ahead when there is one (adopt) and sends
 * the query otherwise.
 * Why the outcome is the sequential one, piece by piece:
 *
 * - Order and counters.  The evaluation applies answers in record order
 *   whatever arrives first, and a lookup made ahead counts for nothing
 *   until adopted.  Adopting does what issue() does -- the query joins
 *   chk->live, mdspf_check_queries and the QUERY event, and an answer
 *   already there wakes the check as an inline answer would -- so the
 *   ANSWER event and every later one come where they come without
 *   lookahead.  DNS terms and void lookups are counted only by the
 *   evaluation, so a term it never reaches (after a match, past the
 *   10-term limit, past a permerror) changes no counter and trips no
 *   limit.
 *
 * - Failures are asked again.  An answer that arrived as TEMPFAIL or
 *   ERROR (or one that could not be kept: too large, out of memory)
 *   before the evaluation reached its term is not used: the term asks
 *   anew, as it would have without lookahead -- a server that timed out
 *   earlier may answer now, and a temperror must come from the moment
 *   the evaluation needs the answer, never from a look ahead.  A
 *   failure before the term is reached therefore changes nothing at
 *   all, and one that never is reached is only counted as wasted.
 *   Positive and void answers (OK, NODATA, NXDOMAIN) are used as they
 *   are: they are what the server says about the name, which a
 *   resolver's cache would have served just the same.  A lookup still
 *   pending when its term is reached is adopted as it is: it is the
 *   question in flight at that moment, and asking again could only be
 *   slower.  With the deterministic zone resolver every answer is the
 *   same whenever it is asked, so outcomes are identical (the property
 *   the suite runner and the check fuzzer assert).
 *
 * - Bounds.  At most min(MDSPF_LIMIT_LOOKAHEAD, DNS terms left) term
 *   lookups are outstanding, and only terms the evaluation can still
 *   count without passing the term limit are looked at; at most
 *   MDSPF_LIMIT_LOOKAHEAD host lookups, all of the term being evaluated
 *   and cancelled when it is over.  What is outstanding is cancelled
 *   when the verdict is known and whenever the check is released
 *   (finished, cancelled, freed, its context freed).  Once memory ran
 *   short the check looks no further ahead.
 *
 * - Memory.  A lookup ahead is allocated quietly: its query object is
 *   charged to the context's budget, its answer to the check's; a
 *   budget that has no room refuses it without marking anything
 *   exceeded, and the lookup is dropped.  Whenever an allocation of the
 *   evaluation is refused, the budget first reclaims the answers held
 *   ahead (mdspf__eval_reclaim) and tries again.  Adopting hands the
 *   memory over as if the evaluation allocated it at that moment: the
 *   query object and then its answer are charged again as ordinary
 *   allocations, and what would not have fit fails exactly as it would
 *   have without lookahead (no query: out of memory; no room for the
 *   answer: the answer is lost, as mdspf_dns_add_* loses it).  So the
 *   evaluation sees the memory it would see without lookahead.
 */

/* What a lookup ahead is for (its query's tag): a term of a record, or
 * an address lookup of the MX set or PTR names the evaluation is at. */
enum { SPEC_TERM = 1, SPEC_HOST = 2 };

/* How many more lookups of that kind may be started ahead: terms up to
 * min(lookahead, DNS terms left), hosts up to the lookahead. */
static long lookahead_room(const mdspf_check *chk, unsigned kind) {
  long la = LIMIT(chk, MDSPF_LIMIT_LOOKAHEAD);
  long cap = la, out = 0;
  const mdspf__link *k;
  if (kind == SPEC_TERM) {
    long left = LIMIT(chk, MDSPF_LIMIT_DNS_TERMS) - (long)chk->dns_terms;
    cap = la < left ? la : left;
  }
  for (k = chk->spec.head; k; k = k->next) {
    out += MDSPF__CONTAINER(k, mdspf_dns_query, link)->tag == kind;
  }
  return cap - out;
}

static mdspf_dns_query *spec_find(const mdspf_check *chk, const char *name,
                                  size_t len, int rrtype) {
  const mdspf__link *k;
  len = qname_len(name, len);
  for (k = chk->spec.head; k; k = k->next) {
    mdspf_dns_query *q = MDSPF__CONTAINER(k, mdspf_dns_query, link);
    if (q->rrtype == rrtype && strlen(q->name) == len &&
        memcmp(q->name, name, len) == 0) {
      return q;
    }
  }
  return NULL;
}

/* Free memory the budgets no longer count. */
static void raw_free(const mdspf_check *chk, void *p, size_t n) {
  mdspf__allocator a = chk->alloc;
  a.budget = NULL;
  mdspf__free(&a, p, n);
}

/* Drop a lookup made ahead that the evaluation does not take.  Its
 * answer is charged to the check's budget, the query object to the
 * context's. */
static void spec_free(mdspf_check *chk, mdspf_dns_query *q) {
  mdspf__list_remove(&chk->spec, &q->link);
  chk->wasted++;
  if (q->state == MDSPF__Q_PENDING) {
    chk->cfg->res.cancel(chk->cfg->res.impl, q->token);
  }
  mdspf__free(&q->alloc, q->data, q->cap);
  q->data = NULL;
  q->cap = 0;
  q->alloc.budget = &chk->ctx->budget;
  mdspf__dnsq_free(q);
}

static void spec_cancel_all(mdspf_check *chk) {
  while (chk->spec.head) {
    spec_free(chk, MDSPF__CONTAINER(chk->spec.head, mdspf_dns_query, link));
  }
}

/* The term is over: the address lookups made ahead for its hosts go. */
static void spec_cancel_hosts(mdspf_check *chk) {
  mdspf__link *k = chk->spec.head;
  while (k) {
    mdspf_dns_query *q = MDSPF__CONTAINER(k, mdspf_dns_query, link);
    k = k->next;
    if (q->tag == SPEC_HOST) {
      spec_free(chk, q);
    }
  }
}

size_t mdspf__eval_reclaim(mdspf_check *chk) {
  mdspf__link *k = chk->spec.head;
  size_t freed = 0;
  if (running(chk)) {
    chk->spec_off = 1; /* memory is short: no more lookups ahead */
  }
  while (k) {
    mdspf_dns_query *q = MDSPF__CONTAINER(k, mdspf_dns_query, link);
    k = k->next;
    if (q->state == MDSPF__Q_DONE) {
      freed += q->cap + mdspf__dnsq_size(q);
      spec_free(chk, q);
    } else if (q->cap) {
      /* a backend filling it now: its answer is lost, and asked again
       * if the evaluation reaches it (no backend call from here) */
      freed += q->cap;
      mdspf__free(&q->alloc, q->data, q->cap);
      q->data = NULL;
      q->cap = q->len = 0;
      q->nrr = 0;
      q->nomem = 1;
    } else {
      q->nomem = 1; /* nothing held yet; keep it from holding any */
    }
  }
  return freed;
}

/* Answers made ahead wake nobody: the evaluation looks at them when it
 * reaches their term. */
static void on_spec_done(mdspf_dns_query *q, void *ud) {
  (void)q;
  (void)ud;
}

/* Start a lookup ahead; 1 if one was started.  Allocated quietly (see
 * above); a refused or failed one is simply not made. */
static int speculate(mdspf_check *chk, const char *name, size_t len,
                     int rrtype, unsigned kind) {
  const mdspf_resolver *res = &chk->cfg->res;
  mdspf__allocator sa = chk->alloc;
  mdspf_dns_query *q;
  int rc;
  if (!running(chk) || chk->spec_off ||
      !mdspf__name_queryable(name, len) ||
      spec_find(chk, name, len, rrtype)) {
    return 0;
  }
  sa.budget = &chk->ctx->budget;
  sa.quiet = 1;
  q = mdspf__dnsq_new(&sa, name, len, rrtype, on_spec_done, chk);
  if (!q) {
    chk->spec_off = 1; /* no room: stop looking ahead */
    return 0;
  }
  q->alloc.budget = &chk->budget; /* its answer: the check's */
  q->tag = kind;
  mdspf__list_push_back(&chk->spec, &q->link);
  q->state = MDSPF__Q_PENDING;
  chk->prefetched++; /* handed to the resolver */
  rc = res->query(res->impl, q, q->name, rrtype, &q->token);
  if (rc != 0 && q->state != MDSPF__Q_DONE) {
    /* refused (a resolver may have passed it on before it failed):
     * wasted, and nothing to cancel */
    q->state = MDSPF__Q_DONE;
    spec_free(chk, q);
    return 0;
  }
  return 1;
}

static void refill(mdspf_check *chk);

/* Take over a lookup made ahead as the evaluation's own, as if issue()
 * had sent it now (see above).  NULL when the check stopped. */
static mdspf_dns_query *adopt(mdspf_check *chk, mdspf_dns_query *q) {
  unsigned kind = q->tag;
  size_t data = q->cap, size = mdspf__dnsq_size(q);
  mdspf__list_remove(&chk->spec, &q->link);
  mdspf__budget_refund(&chk->ctx->budget, size);
  mdspf__budget_refund(&chk->budget, data);
  q->alloc = chk->alloc;
  if (!mdspf__budget_charge(&chk->budget, size, 0)) {
    /* without lookahead the query could not have been made */
    chk->wasted++;
    if (q->state == MDSPF__Q_PENDING) {
      chk->cfg->res.cancel(chk->cfg->res.impl, q->token);
    }
    raw_free(chk, q->data, data);
    raw_free(chk, q, size);
    finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
    return NULL;
  }
  if (data && !mdspf__budget_charge(&chk->budget, data, 0)) {
    /* nor could its answer have been kept */
    raw_free(chk, q->data, data);
    q->data = NULL;
    q->cap = q->len = 0;
    q->nrr = 0;
    q->nomem = 1;
    if (q->state == MDSPF__Q_DONE && q->status == MDSPF_DNS_OK) {
      q->status = MDSPF_DNS_ERROR;
    }
  }
  q->on_done = on_done;
  q->tag = 0;
  mdspf__list_push_back(&chk->live, &q->link);
  chk->queries++;
  mdspf__emit(chk, MDSPF_EV_QUERY, depth_of(chk), cur_domain(chk), q->name,
              -1, q->rrtype, -1, 0);
  if (q->state == MDSPF__Q_DONE) {
    mdspf__job_wake(&chk->job); /* as an answer inside query() does */
  }
  if (kind == SPEC_TERM && running(chk)) {
    refill(chk); /* a place ahead came free */
  }
  return q;
}

/* The evaluation's lookup of (name, rrtype): the one made ahead, or a
 * query sent now.  NULL -- the caller stops -- as for issue(). */
static mdspf_dns_query *ask(mdspf_check *chk, const char *name, size_t len,
                            int rrtype) {
  mdspf_dns_query *q = running(chk) ? spec_find(chk, name, len, rrtype)
                                    : NULL;
  if (q && q->nomem) {
    chk->spec_off = 1; /* its answer found no room: stop looking ahead */
  }
  if (q && (q->nomem || q->too_big ||
            (q->state == MDSPF__Q_DONE && dns_failed(q)))) {
    /* a failure (or an answer given up for memory) is never used: the
     * term asks now, as it would without lookahead */
    spec_free(chk, q);
    q = NULL;
  }
  return q ? adopt(chk, q) : issue(chk, name, len, rrtype);
}

/* The address type of the client's family. */
static int addr_type(const mdspf_check *chk) {
  return chk->family == 4 ? MDSPF_RR_A : MDSPF_RR_AAAA;
}

/* Address lookups ahead for hosts[from..n) that want(h) selects, in
 * order, as far as there is room. */
static void spec_hosts(mdspf_check *chk, const mdspf__host *hosts,
                       unsigned from, unsigned n,
                       int (*want)(const mdspf_check *, const mdspf__host *,
                                   const void *),
                       const void *arg) {
  long room = lookahead_room(chk, SPEC_HOST);
  unsigned i;
  for (i = from; i < n && room > 0; i++) {
    if (!hosts[i].q && hosts[i].vstate == MDSPF__V_UNKNOWN &&
        (!want || want(chk, &hosts[i], arg))) {
      room -= speculate(chk, hosts[i].name, hosts[i].len, addr_type(chk),
                        SPEC_HOST);
    }
  }
}

static void reset_op(mdspf_check *chk) {
  mdspf__op *op = &chk->op;
  unsigned i;
  spec_cancel_hosts(chk);
  drop(chk, &op->q);
  for (i = 0; i < op->mx_n; i++) {
    drop(chk, &op->mx[i].q);
  }
  mdspf__free(&chk->alloc, op->mx, op->mx_size * sizeof *op->mx);
  if (op->target) {
    mdspf__free(&chk->alloc, op->target, op->target_len + 1);
  }
  memset(op, 0, sizeof *op);
}

static void frame_pop(mdspf_check *chk);

/* Cancel and free every query, free the evaluation state (frames and
 * their record references, the term at hand, the PTR names).  The
 * outcome stays.  Idempotent; called by the drain once the check
 * stopped, and when it is destroyed. */
void mdspf__eval_release(mdspf_check *chk) {
  mdspf__ptrcache *pc = &chk->ptr;
  unsigned i;
  if (chk->released) {
    return;
  }
  chk->released = 1;
  spec_cancel_all(chk);
  reset_op(chk);
  for (i = 0; i < pc->n; i++) {
    drop(chk, &pc->names[i].q);
  }
  mdspf__free(&chk->alloc, pc->names, pc->size);
  pc->names = NULL;
  pc->n = 0;
  pc->size = 0;
  drop(chk, &pc->q);
  while (chk->frame) {
    frame_pop(chk);
  }
  drop(chk, &chk->exp_q);
  while (chk->live.head) {
    mdspf_dns_query *q = MDSPF__CONTAINER(chk->live.head, mdspf_dns_query,
                                          link);
    drop(chk, &q);
  }
}

/* ---- finishing ------------------------------------------------------------------ */

static void finish(mdspf_check *chk, int result, int reason,
                   const char *problem) {
  if (chk->state != MDSPF__CS_RUNNING) {
    return;
  }
  spec_cancel_all(chk); /* the verdict is known: nothing ahead is needed */
  if (chk->oom) {
    /* part of the outcome could not be stored: never report a verdict
     * with missing pieces */
    result = MDSPF_TEMPERROR;
    reason = MDSPF_E_NOMEM;
  }
  if (reason == MDSPF_E_NOMEM && chk->budget.exceeded) {
    /* not the process running out: a budget said no */
    char msg[96];
    mdspf__sbuf sb;
    mdspf__sbuf_init(&sb, msg, sizeof msg);
    mdspf__sbuf_puts(&sb, "memory budget exceeded (");
    if (chk->budget.exceeded == 1) {
      mdspf__sbuf_puts(&sb, "check: ");
      mdspf__sbuf_putu64(&sb, chk->budget.limit);
    } else {
      mdspf__sbuf_puts(&sb, "context: ");
      mdspf__sbuf_putu64(&sb, chk->ctx->budget.limit);
    }
    mdspf__sbuf_puts(&sb, " bytes)");
    reason = MDSPF_E_BUDGET;
    problem = NULL;
    if (chk->problem) {
      mdspf__strfree(&chk->ctx->alloc, chk->problem);
      chk->problem = NULL;
    }
    set_problem(chk, msg, NULL, NULL);
  }
  chk->result = result;
  chk->reason = reason;
  if (result != MDSPF_FAIL && chk->explanation) {
    /* an explanation belongs to a fail only (a late error may have
     * replaced the fail after it was computed) */
    mdspf__strfree(&chk->ctx->alloc, chk->explanation);
    chk->explanation = NULL;
  }
  if (result == MDSPF_NONE || result == MDSPF_TEMPERROR ||
      result == MDSPF_PERMERROR) {
    /* likewise a matched term and its record's source: an error after
     * the match is what decides */
    if (chk->mechanism) {
      mdspf__strfree(&chk->ctx->alloc, chk->mechanism);
      chk->mechanism = NULL;
    }
    chk->source = MDSPF_SRC_NONE;
  }
  if (result != MDSPF_PERMERROR || reason != MDSPF_E_SYNTAX) {
    chk->has_syn = 0; /* the position only describes a syntax permerror */
  }
  if (problem) {
    set_problem(chk, problem, NULL, NULL);
  }
  if (!chk->out_domain && chk->frame &&
      (result == MDSPF_PERMERROR || result == MDSPF_TEMPERROR)) {
    mdspf__frame *f = top_frame(chk);
    set_name(chk, &chk->out_domain, f->domain);
    if (f->rec && !chk->out_record) {
      set_record(chk, f->rec->pool, f->rec->text_len);
    }
  }
  chk->state = MDSPF__CS_DONE;
  mdspf__job_clear_deadline(&chk->job);
  mdspf__job_wake(&chk->job); /* the drain releases and calls back */
  mdspf__emit(chk, MDSPF_EV_RESULT, 0, chk->out_domain, chk->mechanism,
              result, 0, -1, 0);
}

void mdspf__eval_finish(mdspf_check *chk, int result, int reason,
                        const char *problem) {
  finish(chk, result, reason, problem);
}

/* A counter passed its limit: report and end with permerror.  what
 * follows "more than N" in the message. */
static void over_limit(mdspf_check *chk, long limit, const char *what,
                       const char *tail) {
  char msg[MDSPF__MAX_NAME + 64];
  mdspf__sbuf sb;
  mdspf__sbuf_init(&sb, msg, sizeof msg);
  mdspf__sbuf_puts(&sb, "more than ");
  mdspf__sbuf_putu(&sb, (unsigned long)limit);
  mdspf__sbuf_puts(&sb, what);
  mdspf__emit(chk, MDSPF_EV_LIMIT, depth_of(chk), cur_domain(chk), msg, -1,
              0, -1, 0);
  if (tail) {
    mdspf__sbuf_puts(&sb, tail);
  }
  finish(chk, MDSPF_PERMERROR, MDSPF_E_LIMIT, msg);
}

/* Count one DNS-querying term (RFC 7208 4.6.4); 1 if the limit ended the
 * check. */
static int count_term(mdspf_check *chk) {
  long limit = LIMIT(chk, MDSPF_LIMIT_DNS_TERMS);
  if (++chk->dns_terms > (unsigned long)limit) {
    over_limit(chk, limit, " DNS-querying terms", NULL);
    return 1;
  }
  return 0;
}

/* Count one void lookup; 1 if the limit ended the check. */
static int count_void(mdspf_check *chk) {
  long limit = LIMIT(chk, MDSPF_LIMIT_VOID_LOOKUPS);
  if (++chk->voids > (unsigned long)limit) {
    over_limit(chk, limit, " void lookups", NULL);
    return 1;
  }
  return 0;
}

static void dns_error(mdspf_check *chk, const mdspf_dns_query *q) {
  char msg[MDSPF__MAX_NAME + 64];
  mdspf__sbuf sb;
  if (q->nomem) {
    finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
    return;
  }
  mdspf__sbuf_init(&sb, msg, sizeof msg);
  mdspf__sbuf_puts(&sb, "DNS ");
  mdspf__sbuf_puts(&sb, mdspf_dns_status_str(q->status));
  mdspf__sbuf_puts(&sb, q->too_big ? " (answer too large)" : "");
  mdspf__sbuf_puts(&sb, " looking up ");
  mdspf__sbuf_puts(&sb, mdspf_rr_type_str(q->rrtype));
  mdspf__sbuf_putc(&sb, ' ');
  mdspf__sbuf_puts(&sb, q->name);
  finish(chk, MDSPF_TEMPERROR, MDSPF_E_DNS, msg);
}

/* ---- macros ----------------------------------------------------------------------- */

/* Storage for the letters computed on demand. */
typedef struct envbuf {
  char i[64];
  char t[24];
} envbuf;

static void make_env(const mdspf_check *chk, const char *domain,
                     const char *p, mdspf__macro_env *env, envbuf *b) {
  const mdspf__config *cfg = chk->cfg;
  mdspf__sbuf sb;
  mdspf__ip_macro_i(chk->family, chk->ip, b->i);
  mdspf__sbuf_init(&sb, b->t, sizeof b->t);
  mdspf__sbuf_putu(&sb, chk->m_t);
  env->s = chk->m_s;
  env->l = chk->m_l;
  env->o = chk->m_o;
  env->d = domain;
  env->i = b->i;
  env->p = p;
  env->v = chk->family == 4 ? "in-addr" : "ip6";
  env->h = chk->helo ? chk->helo : "";
  env->c = chk->m_c;
  env->r = cfg->receiver ? cfg->receiver : "unknown";
  env->t = b->t;
}

/* The target of term t of rec evaluated for domain: its expanded
 * domain-spec (p: %{p}, NULL when it is not used), or domain itself when
 * it has none.  Returns the length (0: nothing usable). */
static size_t compute_target(const mdspf_check *chk, const char *domain,
                             const mdspf_record *rec, const mdspf__term *t,
                             const char *p, char out[MDSPF__MAX_NAME + 1]) {
  size_t n;
  if (t->value != MDSPF__NO_STR && t->value_len > 0) {
    mdspf__macro_env env;
    envbuf eb;
    make_env(chk, domain, p, &env, &eb);
    n = mdspf__macro_expand_domain(rec->pool + t->value, t->value_len, &env,
                                   out);
    n = n == (size_t)-1 ? 0 : n;
  } else {
    n = strlen(domain);
    memcpy(out, domain, n);
  }
  out[n] = '\0';
  return n;
}

/* ---- PTR names and their validation (ptr mechanism, %{p}) ---------------------- */

static int ptr_list(mdspf_check *chk) {
  mdspf__ptrcache *pc = &chk->ptr;
  if (pc->state == 0) {
    char rev[74];
    mdspf__reverse_name(chk->family, chk->ip, rev);
    pc->q = ask(chk, rev, strlen(rev), MDSPF_RR_PTR);
    if (!pc->q) {
      return ST_STOP;
    }
    pc->state = 1;
    return ST_WAIT;
  }
  if (pc->state == 1) {
    size_t pos = 0;
    mdspf__rr rr;
    unsigned max = (unsigned)LIMIT(chk, MDSPF_LIMIT_PTR_NAMES), n = 0;
    if (!is_done(pc->q)) {
      return ST_WAIT;
    }
    if (pc->q->nomem) {
      /* not a DNS error: treating it as one could change the verdict */
      finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
      return ST_STOP;
    }
    if (dns_failed(pc->q)) {
      pc->failed = 1;
    } else if (dns_void(pc->q)) {
      pc->void_ans = 1;
    }
    /* only the first `max` names are used (RFC 7208 4.6.4); they are
     * kept in one block, sized to them, for the rest of the check */
    {
      size_t bytes = 0;
      char *text;
      while (n < max && mdspf__dnsq_next(pc->q, &pos, &rr)) {
        if (rr.kind == MDSPF__RK_NAME &&
            mdspf__name_queryable((const char *)rr.data, rr.len)) {
          n++;
          bytes += rr.len;
        }
      }
      if (n) {
        pc->size = n * sizeof *pc->names + bytes;
        pc->names = mdspf__alloc(&chk->alloc, pc->size);
        if (!pc->names) {
          pc->size = 0;
          finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
          return ST_STOP;
        }
      }
      text = n ? (char *)(pc->names + n) : NULL;
      pos = 0;
      while (pc->n < n && mdspf__dnsq_next(pc->q, &pos, &rr)) {
        if (rr.kind == MDSPF__RK_NAME &&
            mdspf__name_queryable((const char *)rr.data, rr.len)) {
          memcpy(text, rr.data, rr.len);
          pc->names[pc->n].name = text;
          pc->names[pc->n].len = rr.len;
          text += rr.len;
          pc->n++;
        }
      }
    }
    drop(chk, &pc->q);
    pc->state = 2;
  }
  return ST_CONT;
}

/* Which PTR names a ptr term or %{p} looks at next (spec_hosts). */
typedef struct ptr_want {
  const char *domain;
  size_t len;
  int phase; /* 0: the domain itself, 1: it or a subdomain, 2: any */
} ptr_want;

static int ptr_wanted(const mdspf_check *chk, const mdspf__host *h,
                      const void *arg) {
  const ptr_want *w = arg;
  (void)chk;
  switch (w->phase) {
  case 0:
    return mdspf__domain_eq(h->name, h->len, w->domain, w->len);
  case 1:
    return mdspf__domain_under(h->name, h->len, w->domain, w->len);
  default:
    return 1;
  }
}

/* Validate PTR name i (RFC 7208 5.5: its address lookup holds the
 * client's address).  ST_CONT once its state is known, ST_WAIT while its
 * lookup is out, ST_STOP when the check stopped.  Names are validated one
 * at a time, in the order the caller looks at them; with lookahead the
 * next ones the caller would look at (w) are looked up ahead. */
static int ptr_settle(mdspf_check *chk, unsigned i, const ptr_want *w) {
  mdspf__ptrcache *pc = &chk->ptr;
  mdspf__host *h = &pc->names[i];
  if (h->vstate == MDSPF__V_UNKNOWN) {
    h->q = ask(chk, h->name, h->len, addr_type(chk));
    if (!h->q) {
      return ST_STOP;
    }
    h->vstate = MDSPF__V_PENDING;
    spec_hosts(chk, pc->names, i + 1, pc->n, ptr_wanted, w);
    return ST_WAIT;
  }
  if (h->vstate == MDSPF__V_PENDING) {
    size_t pos = 0;
    mdspf__rr rr;
    int ok = 0;
    if (!is_done(h->q)) {
      return ST_WAIT;
    }
    if (h->q->nomem) {
      finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
      return ST_STOP;
    }
    /* a DNS error skips the name (RFC 7208 5.5) */
    while (!ok && mdspf__dnsq_next(h->q, &pos, &rr)) {
      if (rr.kind == MDSPF__RK_ADDR && rr.family == chk->family &&
          memcmp(rr.data, chk->ip, chk->family == 4 ? 4 : 16) == 0) {
        ok = 1;
      }
    }
    h->vstate = ok ? MDSPF__V_VALID : MDSPF__V_INVALID;
    drop(chk, &h->q);
  }
  return ST_CONT;
}

static void copy_name(char out[MDSPF__MAX_NAME + 1], const char *s,
                      size_t n) {
  memcpy(out, s, n);
  out[n] = '\0';
}

/* %{p} from the names validated so far (RFC 7208 7.3): the domain
 * itself, else a subdomain of it, else any validated name, else
 * "unknown". */
static void pick_p(const mdspf_check *chk, const char *domain,
                   char out[MDSPF__MAX_NAME + 1]) {
  const mdspf__ptrcache *pc = &chk->ptr;
  ptr_want w;
  unsigned i;
  w.domain = domain;
  w.len = strlen(domain);
  for (w.phase = 0; w.phase < 3; w.phase++) {
    for (i = 0; i < pc->n; i++) {
      if (pc->names[i].vstate == MDSPF__V_VALID &&
          ptr_wanted(chk, &pc->names[i], &w)) {
        copy_name(out, pc->names[i].name, pc->names[i].len);
        return;
      }
    }
  }
  copy_name(out, "unknown", 7);
}

/* Compute %{p} for domain into out (RFC 7208 7.3).  The names are
 * validated in the order pick_p prefers them, and no further once one
 * is valid: the pick is the one of validating them all. */
static int ensure_p(mdspf_check *chk, const char *domain,
                    char out[MDSPF__MAX_NAME + 1]) {
  mdspf__ptrcache *pc = &chk->ptr;
  ptr_want w;
  unsigned i;
  int r = ptr_list(chk);
  if (r != ST_CONT) {
    return r;
  }
  w.domain = domain;
  w.len = strlen(domain);
  for (w.phase = 0; w.phase < 3; w.phase++) {
    for (i = 0; i < pc->n; i++) {
      if (!ptr_wanted(chk, &pc->names[i], &w)) {
        continue;
      }
      r = ptr_settle(chk, i, &w);
      if (r != ST_CONT) {
        return r;
      }
      if (pc->names[i].vstate == MDSPF__V_VALID) {
        copy_name(out, pc->names[i].name, pc->names[i].len);
        return ST_CONT;
      }
    }
  }
  copy_name(out, "unknown", 7);
  return ST_CONT;
}

/* Target name of a term: its expanded domain-spec, or the current
 * domain when it has none. */
static int expand_target(mdspf_check *chk, mdspf__frame *f,
                         const mdspf_record *rec, const mdspf__term *t) {
  mdspf__op *op = &chk->op;
  char name[MDSPF__MAX_NAME + 1];
  char p[MDSPF__MAX_NAME + 1];
  const char *pv = NULL;
  size_t n;
  if (op->expanded) {
    return ST_CONT;
  }
  if (t->value != MDSPF__NO_STR && t->value_len > 0 &&
      (t->flags & MDSPF__TF_NEEDS_P)) {
    int r = ensure_p(chk, f->domain, p);
    if (r != ST_CONT) {
      return r;
    }
    pv = p;
  }
  n = compute_target(chk, f->domain, rec, t, pv, name);
  op->target = mdspf__strndup(&chk->alloc, name, n);
  if (!op->target) {
    finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
    return ST_STOP;
  }
  op->target_len = n;
  if (t->value != MDSPF__NO_STR && t->value_len > 0 &&
      (t->flags & MDSPF__TF_MACROS)) {
    char ev[MDSPF__MAX_NAME * 2 + 8];
    mdspf__sbuf sb;
    mdspf__sbuf_init(&sb, ev, sizeof ev);
    mdspf__sbuf_put(&sb, rec->pool + t->value, t->value_len);
    mdspf__sbuf_puts(&sb, " -> ");
    mdspf__sbuf_puts(&sb, op->target);
    mdspf__emit(chk, MDSPF_EV_EXPAND, depth_of(chk), f->domain, ev, -1, 0,
                -1, 0);
  }
  op->invalid = !mdspf__name_queryable(op->target, op->target_len);
  op->expanded = 1;
  return ST_CONT;
}

static int addr_match(const mdspf_check *chk, const mdspf_dns_query *q,
                      const mdspf__term *t) {
  size_t pos = 0;
  mdspf__rr rr;
  unsigned bits;
  if (chk->family == 4) {
    bits = t->cidr4 >= 0 ? (unsigned)t->cidr4 : 32u;
  } else {
    bits = t->cidr6 >= 0 ? (unsigned)t->cidr6 : 128u;
  }
  while (mdspf__dnsq_next(q, &pos, &rr)) {
    if (rr.kind == MDSPF__RK_ADDR && rr.family == chk->family &&
        mdspf__prefix_match(rr.data, chk->ip, bits)) {
      return 1;
    }
  }
  return 0;
}

/* Shared prologue of the DNS mechanisms: count, expand. */
static int prologue(mdspf_check *chk, mdspf__frame *f, const mdspf_record *rec,
                    const mdspf__term *t) {
  if (!chk->op.counted && mdspf__term_sem(t->kind)->dns_term) {
    if (count_term(chk)) {
      return ST_STOP;
    }
    chk->op.counted = 1;
  }
  return expand_target(chk, f, rec, t);
}

static int st2m(int r) { return r == ST_WAIT ? M_WAIT : M_STOP; }

static int mech_a_exists(mdspf_check *chk, mdspf__frame *f,
                         const mdspf_record *rec, const mdspf__term *t) {
  mdspf__op *op = &chk->op;
  int r = prologue(chk, f, rec, t);
  if (r != ST_CONT) {
    return st2m(r);
  }
  if (op->invalid) {
    return M_NOMATCH;
  }
  if (!op->q) {
    int type = t->kind == MDSPF_TERM_EXISTS ? MDSPF_RR_A : addr_type(chk);
    op->q = ask(chk, op->target, op->target_len, type);
    return op->q ? M_WAIT : M_STOP;
  }
  if (!is_done(op->q)) {
    return M_WAIT;
  }
  if (dns_failed(op->q)) {
    dns_error(chk, op->q);
    return M_STOP;
  }
  if (dns_void(op->q)) {
    return count_void(chk) ? M_STOP : M_NOMATCH;
  }
  if (t->kind == MDSPF_TERM_EXISTS) {
    return M_MATCH;
  }
  return addr_match(chk, op->q, t) ? M_MATCH : M_NOMATCH;
}

/* The MX set of the answer op->q, in preference order, without
 * duplicates; its names point into the answer, which is kept. */
static int mx_hosts(mdspf_check *chk) {
  mdspf__op *op = &chk->op;
  size_t pos = 0;
  mdspf__rr rr;
  unsigned total = 0, n = 0, max = (unsigned)LIMIT(chk, MDSPF_LIMIT_MX_NAMES);
  while (mdspf__dnsq_next(op->q, &pos, &rr)) {
    if (rr.kind != MDSPF__RK_NAME || rr.len == 0) {
      continue; /* null MX ("MX 0 .") names no host */
    }
    if (++total > max) {
      over_limit(chk, (long)max, " MX names for ", op->target);
      return ST_STOP;
    }
    if (mdspf__name_queryable((const char *)rr.data, rr.len)) {
      n++;
    }
  }
  if (n) {
    op->mx = mdspf__alloc_array(&chk->alloc, n, sizeof *op->mx);
    if (!op->mx) {
      finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
      return ST_STOP;
    }
    op->mx_size = n;
  }
  pos = 0;
  while (mdspf__dnsq_next(op->q, &pos, &rr)) {
    unsigned k, j;
    int dup = 0;
    if (rr.kind != MDSPF__RK_NAME || rr.len == 0 ||
        !mdspf__name_queryable((const char *)rr.data, rr.len)) {
      continue;
    }
    for (k = 0; k < op->mx_n && !dup; k++) {
      dup = mdspf__domain_eq(op->mx[k].name, op->mx[k].len,
                             (const char *)rr.data, rr.len);
    }
    if (dup) {
      continue;
    }
    /* insertion by preference keeps the evaluation order stable */
    for (j = op->mx_n; j > 0 && op->mx[j - 1].pref > rr.pref; j--) {
      op->mx[j] = op->mx[j - 1];
    }
    memset(&op->mx[j], 0, sizeof op->mx[j]);
    op->mx[j].name = (const char *)rr.data;
    op->mx[j].len = rr.len;
    op->mx[j].pref = rr.pref;
    op->mx_n++;
  }
  return ST_CONT;
}

static int mech_mx(mdspf_check *chk, mdspf__frame *f, const mdspf_record *rec,
                   const mdspf__term *t) {
  mdspf__op *op = &chk->op;
  int r = prologue(chk, f, rec, t);
  if (r != ST_CONT) {
    return st2m(r);
  }
  if (op->invalid) {
    return M_NOMATCH;
  }
  if (!op->q) {
    op->q = ask(chk, op->target, op->target_len, MDSPF_RR_MX);
    return op->q ? M_WAIT : M_STOP;
  }
  if (!op->mx_started) {
    if (!is_done(op->q)) {
      return M_WAIT;
    }
    if (dns_failed(op->q)) {
      dns_error(chk, op->q);
      return M_STOP;
    }
    if (dns_void(op->q)) {
      return count_void(chk) ? M_STOP : M_NOMATCH;
    }
    if (mx_hosts(chk) != ST_CONT) {
      return M_STOP;
    }
    op->mx_started = 1;
  }
  /* the hosts in preference order, one lookup at a time: the first error
   * or match decides, and no host after it is asked */
  while (op->mx_next < op->mx_n) {
    mdspf__host *h = &op->mx[op->mx_next];
    if (!h->q) {
      h->q = ask(chk, h->name, h->len, addr_type(chk));
      if (!h->q) {
        return M_STOP;
      }
      spec_hosts(chk, op->mx, op->mx_next + 1, op->mx_n, NULL, NULL);
      return M_WAIT;
    }
    if (!is_done(h->q)) {
      return M_WAIT;
    }
    if (dns_failed(h->q)) {
      dns_error(chk, h->q);
      return M_STOP;
    }
    if (h->q->status == MDSPF_DNS_OK) {
      op->mx_nonvoid = 1;
    }
    if (addr_match(chk, h->q, t)) {
      return M_MATCH;
    }
    drop(chk, &h->q);
    op->mx_next++;
  }
  /* RFC 7208 4.6.4 counts void lookups per term: an MX set none of whose
   * hosts has an address is as void as no MX set at all (once) */
  if (!op->mx_nonvoid && count_void(chk)) {
    return M_STOP;
  }
  return M_NOMATCH;
}

static int mech_ptr(mdspf_check *chk, mdspf__frame *f, const mdspf_record *rec,
                    const mdspf__term *t) {
  mdspf__ptrcache *pc = &chk->ptr;
  mdspf__op *op = &chk->op;
  ptr_want w;
  unsigned i;
  int r = prologue(chk, f, rec, t);
  if (r != ST_CONT) {
    return st2m(r);
  }
  if (op->invalid) {
    return M_NOMATCH;
  }
  r = ptr_list(chk);
  if (r != ST_CONT) {
    return st2m(r);
  }
  if (!op->mx_started) { /* reused as "void counted for this term" */
    op->mx_started = 1;
    if (pc->void_ans && count_void(chk)) {
      return M_STOP;
    }
  }
  if (pc->failed) {
    return M_NOMATCH; /* a DNS error on the PTR lookup: no match */
  }
  /* the names under the target, in answer order, one at a time: the
   * first valid one matches */
  w.domain = op->target;
  w.len = op->target_len;
  w.phase = 1;
  for (i = 0; i < pc->n; i++) {
    if (!ptr_wanted(chk, &pc->names[i], &w)) {
      continue;
    }
    r = ptr_settle(chk, i, &w);
    if (r != ST_CONT) {
      return st2m(r);
    }
    if (pc->names[i].vstate == MDSPF__V_VALID) {
      return M_MATCH;
    }
  }
  return M_NOMATCH;
}

/* Enter a record: a new innermost frame for domain. */
static int push_frame(mdspf_check *chk, const char *domain, size_t len,
                      int top) {
  mdspf__frame *f;
  /* each include counts as a DNS term, so the term limit ends a deeper
   * nesting first; this only bounds the frames in any case */
  if (chk->nframes >= (size_t)LIMIT(chk, MDSPF_LIMIT_DNS_TERMS) + 2) {
    finish(chk, MDSPF_PERMERROR, MDSPF_E_LIMIT, "include nesting too deep");
    return ST_STOP;
  }
  f = mdspf__alloc(&chk->alloc, sizeof *f);
  if (f) {
    f->domain = mdspf__strndup(&chk->alloc, domain, len);
  }
  if (!f || !f->domain) {
    mdspf__free(&chk->alloc, f, sizeof *f);
    finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
    return ST_STOP;
  }
  f->parent = chk->frame;
  f->top = top;
  f->source = MDSPF_SRC_DNS;
  chk->frame = f;
  chk->nframes++;
  return ST_CONT;
}

static int mech_include(mdspf_check *chk, mdspf__frame *f,
                        const mdspf_record *rec, const mdspf__term *t) {
  int r;
  if (f->inc_state == 2) {
    /* RFC 7208 5.2: pass matches; fail, softfail, neutral do not; errors
     * and none never get here (they end the check) */
    f->inc_state = 0;
    return f->inc_result == MDSPF_PASS ? M_MATCH : M_NOMATCH;
  }
  r = prologue(chk, f, rec, t);
  if (r != ST_CONT) {
    return st2m(r);
  }
  f->inc_state = 1;
  r = push_frame(chk, chk->op.target, chk->op.target_len, 0);
  if (r != ST_CONT) {
    return M_STOP;
  }
  mdspf__emit(chk, MDSPF_EV_INCLUDE, depth_of(chk), chk->op.target, NULL, -1,
              0, -1, 0);
  reset_op(chk);
  return M_PUSHED;
}

static int eval_mech(mdspf_check *chk, mdspf__frame *f, const mdspf_record *rec,
                     const mdspf__term *t) {
  switch (t->kind) {
  case MDSPF_TERM_ALL:
    return M_MATCH;
  case MDSPF_TERM_IP4:
    return (chk->family == 4 &&
            mdspf__prefix_match(t->addr, chk->ip,
                                t->cidr4 >= 0 ? (unsigned)t->cidr4 : 32u))
               ? M_MATCH
               : M_NOMATCH;
  case MDSPF_TERM_IP6:
    return (chk->family == 6 &&
            mdspf__prefix_match(t->addr, chk->ip,
                                t->cidr6 >= 0 ? (unsigned)t->cidr6 : 128u))
               ? M_MATCH
               : M_NOMATCH;
  case MDSPF_TERM_A:
  case MDSPF_TERM_EXISTS:
    return mech_a_exists(chk, f, rec, t);
  case MDSPF_TERM_MX:
    return mech_mx(chk, f, rec, t);
  case MDSPF_TERM_PTR:
    return mech_ptr(chk, f, rec, t);
  case MDSPF_TERM_INCLUDE:
    return mech_include(chk, f, rec, t);
  default:
    return M_NOMATCH;
  }
}

/* ---- records ------------------------------------------------------------------------ */

/* Start the first lookup of term t of rec, evaluated in frame f, ahead
 * of the evaluation (see "lookahead"); 1 if one was started.  The name
 * and type are those the evaluation will ask: the same expansion, the
 * same checks (an override or a name that is no domain is never looked
 * up). */
static int spec_term(mdspf_check *chk, const mdspf__frame *f,
                     const mdspf_record *rec, const mdspf__term *t) {
  char name[MDSPF__MAX_NAME + 1];
  size_t n;
  int type;
  if (t->value != MDSPF__NO_STR && t->value_len > 0 &&
      (t->flags & MDSPF__TF_NEEDS_P)) {
    return 0; /* %{p} is known only once the PTR names are validated */
  }
  n = compute_target(chk, f->domain, rec, t, NULL, name);
  if (!mdspf__name_queryable(name, n)) {
    return 0;
  }
  switch (t->kind) {
  case MDSPF_TERM_A:
    type = addr_type(chk);
    break;
  case MDSPF_TERM_EXISTS:
    type = MDSPF_RR_A;
    break;
  case MDSPF_TERM_MX:
    type = MDSPF_RR_MX;
    break;
  case MDSPF_TERM_INCLUDE:
  case MDSPF_TERM_REDIRECT:
    if (mdspf__config_find(chk->cfg, name, MDSPF_SRC_OVERRIDE) ||
        !mdspf__domain_fqdn_ok(name, n)) {
      return 0;
    }
    type = MDSPF_RR_TXT;
    break;
  default:
    return 0; /* ptr: the client's PTR names, shared with %{p} */
  }
  return speculate(chk, name, n, type, SPEC_TERM);
}

/* Look up ahead the DNS-querying terms of frame f's record from term
 * from on that the evaluation may still count -- those up to the first
 * "all", then the redirect target when there is no "all" -- as far as
 * there is room. */
static void plan(mdspf_check *chk, const mdspf__frame *f, uint32_t from) {
  const mdspf_record *rec = f->rec;
  long room = lookahead_room(chk, SPEC_TERM);
  long left = LIMIT(chk, MDSPF_LIMIT_DNS_TERMS) - (long)chk->dns_terms;
  size_t reach, i;
  int redir;
  if (room <= 0 || chk->spec_off) {
    return;
  }
  reach = mdspf__record_reach(rec);
  for (i = from; i < reach && room > 0 && left > 0 && running(chk); i++) {
    const mdspf__term *t = &rec->terms[i];
    if (!mdspf__term_sem(t->kind)->mechanism ||
        !mdspf__term_sem(t->kind)->dns_term) {
      continue;
    }
    left--; /* the term takes its place whether looked up ahead or not */
    room -= spec_term(chk, f, rec, t);
  }
  redir = mdspf__record_redirect(rec);
  if (redir >= 0 && room > 0 && left > 0) {
    (void)spec_term(chk, f, rec, &rec->terms[redir]);
  }
}

/* Evaluate rec (a reference, handed over) in frame f. */
static void use_record(mdspf_check *chk, mdspf__frame *f, mdspf_record *rec,
                       int source) {
  f->rec = rec;
  f->source = source;
  f->next = 0;
  mdspf__emit(chk, MDSPF_EV_RECORD, depth_of(chk), f->domain, rec->pool, -1, 0,
              -1, 0);
  if (running(chk)) {
    plan(chk, f, 0); /* the record arrived */
  }
}

/* The evaluation took a term's lookup made ahead: look further ahead in
 * the record of that term (the including one, when the lookup was an
 * include's record), after it. */
static void refill(mdspf_check *chk) {
  mdspf__frame *f = chk->frame;
  if (f && !f->rec) {
    f = f->parent;
  }
  if (f && f->rec) {
    plan(chk, f, f->next + 1);
  }
}

/* The frame's domain has no SPF record (or is malformed). */
static int frame_none(mdspf_check *chk, mdspf__frame *f, const char *why) {
  const mdspf__override *o =
      mdspf__config_find(chk->cfg, f->domain, MDSPF_SRC_FALLBACK);
  int root = chk->nframes == 1 && !f->redirected;
  if (o) {
    use_record(chk, f, mdspf_record_ref(o->rec), MDSPF_SRC_FALLBACK);
    return ST_CONT;
  }
  if (root && chk->cfg->guess) {
    use_record(chk, f, mdspf_record_ref(chk->cfg->guess), MDSPF_SRC_GUESS);
    return ST_CONT;
  }
  mdspf__emit(chk, MDSPF_EV_RECORD, depth_of(chk), f->domain, "(none)", -1, 0,
              -1, 0);
  if (root) {
    set_name(chk, &chk->out_domain, f->domain);
    set_problem(chk, why, f->domain, NULL);
    finish(chk, MDSPF_NONE, MDSPF_OK, NULL);
    return ST_STOP;
  }
  set_problem(chk, f->redirected ? "redirect target " : "included domain ",
              f->domain[0] ? f->domain : "(empty)", " has no SPF record");
  finish(chk, MDSPF_PERMERROR, MDSPF_E_NORECORD, NULL);
  return ST_STOP;
}

static int step_fetch(mdspf_check *chk, mdspf__frame *f) {
  mdspf_dns_query *q;
  size_t pos = 0, nspf = 0;
  mdspf__rr rr, spf;
  int root = chk->nframes == 1 && !f->redirected;
  if (!f->fq) {
    const mdspf__override *o =
        mdspf__config_find(chk->cfg, f->domain, MDSPF_SRC_OVERRIDE);
    if (o) {
      use_record(chk, f, mdspf_record_ref(o->rec), MDSPF_SRC_OVERRIDE);
      return ST_CONT;
    }
    if (!mdspf__domain_fqdn_ok(f->domain, strlen(f->domain))) {
      return frame_none(chk, f, "not a valid domain name: ");
    }
    f->fq = ask(chk, f->domain, strlen(f->domain), MDSPF_RR_TXT);
    return f->fq ? ST_WAIT : ST_STOP;
  }
  q = f->fq;
  if (!is_done(q)) {
    return ST_WAIT;
  }
  if (dns_failed(q)) {
    dns_error(chk, q);
    return ST_STOP;
  }
  if (dns_void(q)) {
    drop(chk, &f->fq);
    if (!root && count_void(chk)) {
      return ST_STOP;
    }
    return frame_none(chk, f, "no SPF record at ");
  }
  memset(&spf, 0, sizeof spf);
  while (mdspf__dnsq_next(q, &pos, &rr)) {
    if (rr.kind == MDSPF__RK_TXT &&
        mdspf_record_is_spf((const char *)rr.data, rr.len)) {
      if (nspf++ == 0) {
        spf = rr;
      }
    }
  }
  if (nspf > 1) {
    set_problem(chk, "more than one SPF record at ", f->domain, NULL);
    finish(chk, MDSPF_PERMERROR, MDSPF_E_MULTIREC, NULL);
    return ST_STOP;
  }
  if (nspf == 0) {
    drop(chk, &f->fq);
    return frame_none(chk, f, "no SPF record at ");
  }
  {
    mdspf_record *rec = NULL;
    int code = 0, rc;
    size_t eo = 0, el = 0;
    /* checks of the same record text share one parsed record; each
     * pays for it in its budget as for a copy of its own */
    rc = mdspf__recset_get(&chk->ctx->records, (const char *)spf.data,
                           spf.len, &rec, &code, &eo, &el);
    if (rc == MDSPF_OK &&
        !mdspf__budget_charge(&chk->budget, rec->size, chk->alloc.quiet)) {
      mdspf__recset_put(&chk->ctx->records, rec);
      rec = NULL;
      rc = MDSPF_E_NOMEM;
    }
    if (rc == MDSPF_E_SYNTAX) {
      mdspf__emit(chk, MDSPF_EV_RECORD, depth_of(chk), f->domain,
                  "(syntax error)", -1, 0, -1, 0);
      set_name(chk, &chk->out_domain, f->domain);
      set_record(chk, (const char *)spf.data, spf.len);
      chk->has_syn = 1;
      chk->syn_code = code;
      chk->syn_off = eo;
      chk->syn_len = el;
      set_problem(chk, mdspf_syntax_str(code), " in the record of ",
                  f->domain);
      finish(chk, MDSPF_PERMERROR, MDSPF_E_SYNTAX, NULL);
      return ST_STOP;
    }
    if (rc != MDSPF_OK) {
      finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
      return ST_STOP;
    }
    drop(chk, &f->fq);
    f->shared = 1;
    use_record(chk, f, rec, MDSPF_SRC_DNS);
  }
  return ST_CONT;
}

static void frame_release(mdspf_check *chk, mdspf__frame *f) {
  drop(chk, &f->fq);
  if (f->shared && f->rec) {
    mdspf__budget_refund(&chk->budget, f->rec->size);
    mdspf__recset_put(&chk->ctx->records, f->rec);
  } else {
    mdspf_record_unref(f->rec);
  }
  f->rec = NULL;
  f->shared = 0;
}

/* Leave the innermost record: its frame goes. */
static void frame_pop(mdspf_check *chk) {
  mdspf__frame *f = chk->frame;
  frame_release(chk, f);
  chk->frame = f->parent;
  chk->nframes--;
  mdspf__strfree(&chk->alloc, f->domain);
  mdspf__free(&chk->alloc, f, sizeof *f);
}

/* A record produced result r (pass/fail/softfail/neutral); t is the term
 * that matched (NULL: none matched). */
static int frame_result(mdspf_check *chk, int r, const mdspf_record *rec,
                        const mdspf__term *t) {
  mdspf__frame *f = top_frame(chk);
  if (chk->nframes == 1) {
    set_name(chk, &chk->out_domain, f->domain);
    set_record(chk, f->rec->pool, f->rec->text_len);
    chk->source = chk->local_active ? MDSPF_SRC_LOCAL : f->source;
    if (t) {
      set_str(chk, &chk->mechanism, rec->pool + t->off, t->len);
    }
    chk->local_active = 0;
    chk->result = r;
    if (r == MDSPF_FAIL) {
      /* the verdict is known: only the explanation is looked up now */
      spec_cancel_all(chk);
      chk->ph = MDSPF__PH_EXP;
      return ST_CONT;
    }
    finish(chk, r, MDSPF_OK, NULL);
    return ST_STOP;
  }
  mdspf__emit(chk, MDSPF_EV_RETURN, depth_of(chk), f->domain, NULL, r, 0, -1,
              0);
  frame_pop(chk);
  f = top_frame(chk);
  f->inc_state = 2;
  f->inc_result = r;
  return ST_CONT;
}

static int do_redirect(mdspf_check *chk, mdspf__frame *f) {
  const mdspf__term *t = &f->rec->terms[f->rec->redirect];
  int r = prologue(chk, f, f->rec, t);
  if (r != ST_CONT) {
    return r;
  }
  mdspf__emit(chk, MDSPF_EV_REDIRECT, depth_of(chk), chk->op.target, NULL, -1,
              0, -1, 0);
  if (!running(chk)) {
    return ST_STOP;
  }
  {
    char *d = mdspf__strndup(&chk->alloc, chk->op.target,
                             chk->op.target_len);
    if (!d) {
      finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
      return ST_STOP;
    }
    frame_release(chk, f);
    mdspf__strfree(&chk->alloc, f->domain);
    f->domain = d;
  }
  f->redirected = 1;
  f->next = 0;
  f->source = MDSPF_SRC_DNS;
  reset_op(chk);
  return ST_CONT;
}

static void emit_term(mdspf_check *chk, const mdspf_record *rec,
                      const mdspf__term *t, int result) {
  char buf[512];
  mdspf__sbuf sb;
  if (!chk->cfg->trace) {
    return;
  }
  mdspf__sbuf_init(&sb, buf, sizeof buf);
  mdspf__sbuf_put(&sb, rec->pool + t->off, t->len);
  if (chk->local_active && top_frame(chk)->top) {
    mdspf__sbuf_puts(&sb, " (local policy)");
  }
  mdspf__emit(chk, MDSPF_EV_TERM, depth_of(chk), top_frame(chk)->domain, buf,
              result, 0, -1, 0);
}

static int step_terms(mdspf_check *chk) {
  const mdspf__config *cfg = chk->cfg;
  for (;;) {
    mdspf__frame *f;
    const mdspf_record *rec;
    const mdspf__term *t;
    uint32_t idx;
    int m, r, loc;
    if (!running(chk)) {
      return ST_STOP; /* finished, or cancelled from a trace hook */
    }
    f = top_frame(chk);
    if (!f->rec) {
      r = step_fetch(chk, f);
      if (r != ST_CONT) {
        return r;
      }
      continue;
    }
    /* local policy terms run in place of the top record's terms */
    loc = chk->local_active && f->top;
    rec = loc ? cfg->local : f->rec;
    idx = loc ? chk->local_next : f->next;
    if (idx >= rec->nterms) {
      if (loc) {
        chk->local_active = 0;
        continue;
      }
      if (f->top && !chk->local_done && cfg->local) {
        chk->local_active = chk->local_done = 1;
        chk->local_next = 0;
        continue;
      }
      if (f->rec->redirect >= 0) {
        r = do_redirect(chk, f);
        if (r != ST_CONT) {
          return r;
        }
        continue;
      }
      r = frame_result(chk, MDSPF_NEUTRAL, NULL, NULL);
      if (r != ST_CONT) {
        return r;
      }
      if (chk->ph != MDSPF__PH_TERMS) {
        return ST_CONT;
      }
      continue;
    }
    t = &rec->terms[idx];
    if (!mdspf__term_sem(t->kind)->mechanism) {
      f->next++; /* modifiers are not evaluated in place */
      continue;
    }
    if (!loc && t->kind == MDSPF_TERM_ALL &&
        t->qual != MDSPF_PASS && f->top && !chk->local_done && cfg->local) {
      chk->local_active = chk->local_done = 1;
      chk->local_next = 0;
      continue;
    }
    m = eval_mech(chk, f, rec, t);
    switch (m) {
    case M_WAIT:
      return ST_WAIT;
    case M_STOP:
      return ST_STOP;
    case M_PUSHED:
      continue;
    case M_MATCH:
      emit_term(chk, rec, t, t->qual);
      reset_op(chk);
      r = frame_result(chk, t->qual, rec, t);
      if (r != ST_CONT) {
        return r;
      }
      if (chk->ph != MDSPF__PH_TERMS) {
        return ST_CONT;
      }
      break;
    default:
      emit_term(chk, rec, t, -1);
      reset_op(chk);
      if (loc) {
        chk->local_next++;
      } else {
        f->next++;
      }
      break;
    }
  }
}

/* ---- explanation (RFC 7208 6.2) --------------------------------------------------- */

static int printable_ascii(const uint8_t *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (s[i] < 0x20 || s[i] > 0x7e) {
      return 0;
    }
  }
  return 1;
}

/* Expand the explain-string chk->exp_text (p: %{p}, NULL when unused)
 * and finish with fail. */
static void finish_explained(mdspf_check *chk, const char *p) {
  char out[EXPLAIN_MAX], safe[EXPLAIN_MAX];
  mdspf__sbuf sb, ss;
  mdspf__macro_env env;
  envbuf eb;
  make_env(chk, root_frame(chk)->domain, p, &env, &eb);
  mdspf__sbuf_init(&sb, out, sizeof out);
  (void)mdspf__macro_expand(chk->exp_text, strlen(chk->exp_text),
                            MDSPF__MS_EXPLAIN, &env, &sb);
  /* RFC 7208 6.2: limited to US-ASCII.  The expansion may carry any octet
   * (a PTR name served by the sender's DNS, 8-bit sender or HELO): every
   * octet that is not printable ASCII is URL-escaped, so the text can go
   * into an SMTP reply or a header as it is */
  mdspf__sbuf_init(&ss, safe, sizeof safe);
  mdspf__sbuf_put_urlsafe(&ss, out, sb.len);
  set_str(chk, &chk->explanation, safe, ss.len);
  finish(chk, MDSPF_FAIL, MDSPF_OK, NULL);
}

static const char *default_exp(const mdspf_check *chk) {
  return chk->cfg->default_exp ? chk->cfg->default_exp
                               : MDSPF_DEFAULT_EXPLANATION;
}

static int step_exp(mdspf_check *chk) {
  mdspf__frame *f = root_frame(chk);
  char p[MDSPF__MAX_NAME + 1];
  const char *pv = NULL;
  int r;
  for (;;) {
    if (!running(chk)) {
      return ST_STOP;
    }
    switch (chk->exp_stage) {
    case 0: /* exp= of the deciding record, else the default */
      chk->exp_stage =
          (chk->source == MDSPF_SRC_LOCAL || f->rec->exp < 0) ? 3 : 1;
      break;
    case 1: {
      const mdspf__term *t = &f->rec->terms[f->rec->exp];
      r = expand_target(chk, f, f->rec, t);
      if (r != ST_CONT) {
        return r;
      }
      if (chk->op.invalid) {
        chk->exp_stage = 3;
        break;
      }
      /* not a DNS-querying term: neither the term nor the void limit
       * applies (RFC 7208 4.6.4) */
      chk->exp_q = ask(chk, chk->op.target, chk->op.target_len,
                       MDSPF_RR_TXT);
      if (!chk->exp_q) {
        return ST_STOP;
      }
      chk->exp_stage = 2;
      return ST_WAIT;
    }
    case 2: {
      size_t pos = 0;
      mdspf__rr rr;
      if (!is_done(chk->exp_q)) {
        return ST_WAIT;
      }
      chk->exp_stage = 3;
      if (chk->exp_q->nomem) {
        finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
        return ST_STOP;
      }
      if (chk->exp_q->status == MDSPF_DNS_OK && chk->exp_q->nrr == 1 &&
          mdspf__dnsq_next(chk->exp_q, &pos, &rr) &&
          rr.kind == MDSPF__RK_TXT && rr.len <= 4096 &&
          printable_ascii(rr.data, rr.len) &&
          mdspf__macro_scan((const char *)rr.data, rr.len, MDSPF__MS_EXPLAIN,
                            NULL, NULL, NULL, NULL) == MDSPF_SYN_OK) {
        set_str(chk, &chk->exp_text, (const char *)rr.data, rr.len);
        if (!chk->exp_text) {
          finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
          return ST_STOP;
        }
        chk->exp_stage = 4;
      }
      drop(chk, &chk->exp_q);
      reset_op(chk);
      break;
    }
    case 3: {
      const char *d = default_exp(chk);
      set_str(chk, &chk->exp_text, d, strlen(d));
      if (!chk->exp_text) {
        finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
        return ST_STOP;
      }
      chk->exp_stage = 4;
      break;
    }
    default: {
      unsigned letters = 0;
      (void)mdspf__macro_scan(chk->exp_text, strlen(chk->exp_text),
                              MDSPF__MS_EXPLAIN, &letters, NULL, NULL, NULL);
      if (letters & MDSPF__ML('p')) {
        r = ensure_p(chk, f->domain, p);
        if (r != ST_CONT) {
          return r;
        }
        pv = p;
      }
      finish_explained(chk, pv);
      return ST_STOP;
    }
    }
  }
}

/* ---- driver ----------------------------------------------------------------------------- */

void mdspf__eval_run(mdspf_check *chk) {
  while (running(chk)) {
    if (chk->cfg->trace) {
      announce_answers(chk);
      if (!running(chk)) {
        return;
      }
    }
    int r = chk->ph == MDSPF__PH_EXP ? step_exp(chk) : step_terms(chk);
    if (r == ST_WAIT) {
      return;
    }
  }
}

void mdspf__eval_abandon(mdspf_check *chk, int reason, const char *problem) {
  if (!running(chk)) {
    return;
  }
  if (chk->ph == MDSPF__PH_EXP) {
    /* the verdict is fail; only its explanation was still being looked
     * up: the default one, with what is known of %{p} */
    const char *d = default_exp(chk);
    char p[MDSPF__MAX_NAME + 1];
    unsigned letters = 0;
    set_str(chk, &chk->exp_text, d, strlen(d));
    if (!chk->exp_text) {
      finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
      return;
    }
    (void)mdspf__macro_scan(d, strlen(d), MDSPF__MS_EXPLAIN, &letters, NULL,
                            NULL, NULL);
    if (letters & MDSPF__ML('p')) {
      pick_p(chk, root_frame(chk)->domain, p);
    }
    finish_explained(chk, (letters & MDSPF__ML('p')) ? p : NULL);
    return;
  }
  finish(chk, MDSPF_TEMPERROR, reason, problem);
}

/* Set the check up from its inputs and its snapshot; the engine's drain
 * then runs it (or delivers the outcome when it is already known). */
void mdspf__eval_start(mdspf_check *chk) {
  mdspf__allocator *a = &chk->alloc;
  const char *domain, *local;
  size_t dl, ll;
  char *at = NULL;

  /* identity (RFC 7208 2.3, 2.4, 4.3) */
  if (chk->identity == MDSPF_ID_HELO || !chk->sender) {
    chk->id_used = MDSPF_ID_HELO;
    domain = chk->helo;
    dl = strlen(domain);
    local = "postmaster";
    ll = 10;
  } else {
    chk->id_used = MDSPF_ID_MAILFROM;
    at = strrchr(chk->sender, '@');
    if (at) {
      domain = at + 1;
      local = chk->sender;
      ll = (size_t)(at - chk->sender);
    } else {
      domain = chk->sender;
      local = "";
      ll = 0;
    }
    if (ll == 0) {
      local = "postmaster";
      ll = 10;
    }
    dl = strlen(domain);
  }
  if (dl > 0 && domain[dl - 1] == '.') {
    dl--;
  }
  if (dl > MDSPF__MAX_NAME) {
    dl = 0; /* cannot be a domain name: handled as invalid below */
  }
  chk->m_o = mdspf__strndup(a, domain, dl);
  if (chk->m_o && dl) {
    set_name(chk, &chk->out_identity, chk->m_o);
  }
  chk->m_l = mdspf__strndup(a, local, ll);
  chk->m_s = chk->m_o ? mdspf__alloc(a, ll + dl + 2) : NULL;
  if (chk->m_s) {
    /* filled at once: it is freed by length (mdspf__strfree) */
    memcpy(chk->m_s, local, ll);
    chk->m_s[ll] = '@';
    memcpy(chk->m_s + ll + 1, chk->m_o, dl + 1);
  }
  if (chk->family == 4) {
    mdspf__ip4_format(chk->ip, chk->m_c);
  } else {
    mdspf__ip6_format(chk->ip, chk->m_c);
  }
  {
    time_t now = time(NULL);
    chk->m_t = now > 0 ? (unsigned long)now : 0ul;
  }
  if (!chk->m_o || !chk->m_l || !chk->m_s) {
    finish(chk, MDSPF_TEMPERROR, MDSPF_E_NOMEM, "out of memory");
    return;
  }

  chk->ph = MDSPF__PH_TERMS;
  if (!mdspf__domain_fqdn_ok(chk->m_o, dl)) {
    set_problem(chk, "not a valid domain name: ",
                dl ? chk->m_o : "(empty)", NULL);
    finish(chk, MDSPF_NONE, MDSPF_E_INVAL, NULL);
    return;
  }
  (void)push_frame(chk, chk->m_o, dl, 1);
}

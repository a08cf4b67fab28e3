/*
 * tests/test_contracts.c -- the contracts a long-running host relies on
 * (include/maildrop-spf/spf.h, "Contracts"): configuration snapshots,
 * reference-counted records and contexts, the callback discipline and
 * the teardown rule of the resolvers, plus the fixes of issue 8.
 *
 * Bugs these tests reproduce on the code before the engine contracts
 * (each failed there, under ASan or by its assertions):
 *   snapshot_*        heap-use-after-free in eval.c: an override replaced
 *                     while a check evaluated its record;
 *   limits_*          heap-buffer-overflow freeing a check after
 *                     mdspf_ctx_set_limit(MX/PTR names);
 *   trace_cancel_*    use-after-free: mdspf_check_cancel in the trace hook;
 *   ctx_free_*        checks kept running and calling back after
 *                     mdspf_ctx_free in a completion callback;
 *   lint_shares_*     use-after-free: a lint freed by a check's callback
 *                     while mdspf_lint_domain drove the resolver;
 *   exp_timeout_*     a fail turned into temperror when the budget ran
 *                     out during the exp= lookup;
 *   mx_void_*         an mx term whose hosts have no addresses was not a
 *                     void lookup (fail instead of permerror);
 *   clock_*           (32-bit) long milliseconds overflowed after 24.8
 *                     days; the clock is now 64-bit and injectable.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maildrop-spf/spf.h>

#include "core/engine.h"
#include "test_alloc.h"

static const int MODES[] = {MDSPF_ZONE_INLINE, MDSPF_ZONE_DEFERRED_FIFO,
                            MDSPF_ZONE_DEFERRED_LIFO};
#define NMODES 3
#define DEFERRED(m) ((m) != MDSPF_ZONE_INLINE)

/* ---- helpers ---------------------------------------------------------- */

static mdspf_zone *zone_a(test_alloc *ta, const char *text) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(
      mdspf_zone_new(ta ? test_alloc_fn : NULL, ta, &z), MDSPF_OK);
  if (mdspf_zone_load(z, text, strlen(text), "example.com.", "test", err,
                      sizeof err) != MDSPF_OK) {
    print_error("zone: %s\n", err);
    fail();
  }
  return z;
}

static mdspf_zone *zone_of(const char *text) { return zone_a(NULL, text); }

static mdspf_ctx *ctx_a(test_alloc *ta, mdspf_zone *z) {
  mdspf_ctx *ctx = NULL;
  assert_int_equal(mdspf_ctx_new(ta ? test_alloc_fn : NULL, ta, &ctx),
                   MDSPF_OK);
  if (z) {
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
  }
  return ctx;
}

static mdspf_check *new_check(mdspf_ctx *ctx, const char *ip,
                              const char *sender) {
  mdspf_check *chk = NULL;
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  return chk;
}

/* Deliver every deferred answer of z. */
static void drain(mdspf_zone *z) {
  while (mdspf_zone_pending(z) > 0) {
    (void)mdspf_zone_process(z, 1);
  }
}

typedef struct outcome {
  int result, reason, source;
  unsigned terms, voids;
  char mech[256], domain[256], exp[512];
} outcome;

static void copy(char *dst, size_t n, const char *s) {
  snprintf(dst, n, "%s", s ? s : "(null)");
}

static outcome outcome_of(const mdspf_check *chk) {
  outcome o;
  memset(&o, 0, sizeof o);
  o.result = mdspf_check_result(chk);
  o.reason = mdspf_check_reason(chk);
  o.source = mdspf_check_source(chk);
  o.terms = mdspf_check_dns_terms(chk);
  o.voids = mdspf_check_void_lookups(chk);
  copy(o.mech, sizeof o.mech, mdspf_check_mechanism(chk));
  copy(o.domain, sizeof o.domain, mdspf_check_domain(chk));
  copy(o.exp, sizeof o.exp, mdspf_check_explanation(chk));
  return o;
}

static void expect_same(const outcome *got, const outcome *want,
                        const char *what) {
  if (got->result != want->result || got->reason != want->reason ||
      got->source != want->source || got->terms != want->terms ||
      got->voids != want->voids || strcmp(got->mech, want->mech) != 0 ||
      strcmp(got->domain, want->domain) != 0 ||
      strcmp(got->exp, want->exp) != 0) {
    print_error("%s: got %s/%d src %d terms %u voids %u [%s] [%s] [%s]\n"
                "  want %s/%d src %d terms %u voids %u [%s] [%s] [%s]\n",
                what, mdspf_result_str(got->result), got->reason, got->source,
                got->terms, got->voids, got->mech, got->domain, got->exp,
                mdspf_result_str(want->result), want->reason, want->source,
                want->terms, want->voids, want->mech, want->domain,
                want->exp);
    fail();
  }
}

/* An injectable clock (64-bit milliseconds). */
typedef struct fclock {
  int64_t now;
} fclock;

static int64_t fclock_fn(void *ud) { return ((fclock *)ud)->now; }

typedef struct cbcount {
  int calls;
} cbcount;

static void count_cb(mdspf_check *chk, void *user) {
  (void)chk;
  ((cbcount *)user)->calls++;
}

/* ====================================================================
 * Configuration snapshots
 * ==================================================================== */

static const char SNAP_ZONE[] =
    "h A 192.0.2.9\n"
    "other TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
    "e TXT \"explained %{d}\"\n"
    "site TXT \"v=spf1 a:h.example.com -all exp=e.example.com\"\n";

/* Configure ctx as generation g (0: the initial one). */
static void configure(mdspf_ctx *ctx, int g, mdspf_zone *z0,
                      mdspf_zone *z1) {
  char rec[128];
  mdspf_record *r = NULL;
  snprintf(rec, sizeof rec, "v=spf1 ip4:192.0.2.%d a:h.example.com -all",
           100 + g);
  /* an override parsed by the owner, whose reference goes at once */
  assert_int_equal(mdspf_record_parse(rec, strlen(rec), NULL, NULL, &r, NULL,
                                      NULL, NULL),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_add_override_record(ctx, "example.com", r),
                   MDSPF_OK);
  mdspf_record_unref(r);
  assert_int_equal(
      mdspf_ctx_add_override(ctx, "site.example.com",
                             g % 2 ? "v=spf1 ?all" : "v=spf1 a:h.example.com "
                                                     "-all exp=e.example.com"),
      MDSPF_OK);
  assert_int_equal(
      mdspf_ctx_add_fallback(ctx, "none.example.com",
                             g % 2 ? "v=spf1 +all" : "v=spf1 -all"),
      MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_best_guess(ctx, g % 2 ? "v=spf1 ~all" : NULL),
                   MDSPF_OK);
  snprintf(rec, sizeof rec, "ip4:192.0.2.%d", 200 + g);
  assert_int_equal(mdspf_ctx_set_local_policy(ctx, rec, NULL), MDSPF_OK);
  snprintf(rec, sizeof rec, "generation %d for %%{s}", g);
  assert_int_equal(mdspf_ctx_set_default_explanation(ctx, rec), MDSPF_OK);
  snprintf(rec, sizeof rec, "mx%d.example.net", g);
  assert_int_equal(mdspf_ctx_set_receiver(ctx, rec), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, 10 + g),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_MX_NAMES, 1 + g % 20),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_PTR_NAMES, 1 + g % 30),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS, g % 3),
                   MDSPF_OK);
  /* lookahead changes no outcome, whichever way it is switched */
  assert_int_equal(
      mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, g % 2 ? 0 : 1 + g),
      MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(
                       ctx, mdspf_zone_resolver(g % 2 ? z1 : z0)),
                   MDSPF_OK);
}

static const char *const SNAP_SENDERS[] = {
    "a@example.com", "b@site.example.com", "c@none.example.com",
    "d@other.example.com", "e@nothing.example.com"};
static const char *const SNAP_IPS[] = {"192.0.2.9", "192.0.2.100",
                                       "192.0.2.201", "192.0.2.1",
                                       "192.0.2.77"};

/* The outcome of (ip, sender) under generation g, from a fresh context
 * and inline answers. */
static outcome reference_outcome(int g, const char *ip, const char *sender) {
  mdspf_zone *z0 = zone_of(SNAP_ZONE), *z1 = zone_of(SNAP_ZONE);
  mdspf_ctx *ctx = ctx_a(NULL, NULL);
  mdspf_check *chk;
  outcome o;
  configure(ctx, g, z0, z1);
  chk = new_check(ctx, ip, sender);
  assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
  o = outcome_of(chk);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z0);
  mdspf_zone_free(z1);
  return o;
}

/* Every setter, called while checks run, changes nothing for them: each
 * ends with the outcome of the configuration it started with, whatever
 * the delivery order.  The owner of an override record drops it at
 * once. */
static void test_snapshot_setters_during_checks(void **state) {
  test_alloc ta;
  int m, g, s;
  (void)state;
  for (m = 1; m < NMODES; m++) {
    mdspf_zone *z0, *z1;
    mdspf_ctx *ctx;
    mdspf_check *chk[5 * 4];
    int gen[5 * 4];
    cbcount cb = {0};
    int n = 0;
    memset(&ta, 0, sizeof ta);
    z0 = zone_a(&ta, SNAP_ZONE);
    z1 = zone_a(&ta, SNAP_ZONE);
    assert_int_equal(mdspf_zone_set_delivery(z0, MODES[m]), MDSPF_OK);
    assert_int_equal(mdspf_zone_set_delivery(z1, MODES[m]), MDSPF_OK);
    ctx = ctx_a(&ta, NULL);
    for (g = 0; g < 4; g++) {
      configure(ctx, g, z0, z1);
      for (s = 0; s < 5; s++) {
        chk[n] = new_check(ctx, SNAP_IPS[(s + g) % 5], SNAP_SENDERS[s]);
        gen[n] = g;
        assert_int_equal(mdspf_check_start(chk[n], count_cb, &cb), MDSPF_OK);
        n++;
      }
      /* part of the answers now, the rest under later generations */
      (void)mdspf_zone_process(z0, 2);
      (void)mdspf_zone_process(z1, 2);
    }
    configure(ctx, 5, z0, z1);
    drain(z0);
    drain(z1);
    drain(z0);
    assert_int_equal(cb.calls, n);
    for (s = 0; s < n; s++) {
      outcome got = outcome_of(chk[s]);
      outcome want = reference_outcome(
          gen[s], SNAP_IPS[(s % 5 + gen[s]) % 5], SNAP_SENDERS[s % 5]);
      char what[64];
      snprintf(what, sizeof what, "mode %d check %d (generation %d)", m, s,
               gen[s]);
      expect_same(&got, &want, what);
      mdspf_check_free(chk[s]);
    }
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z0);
    mdspf_zone_free(z1);
    assert_int_equal(ta.live, 0);
  }
}

/* The reproduction of the use-after-free: the override a check is
 * evaluating is replaced, then removed, before its answer arrives. */
static void test_snapshot_override_replaced(void **state) {
  int m;
  (void)state;
  for (m = 1; m < NMODES; m++) {
    mdspf_zone *z = zone_of("h A 192.0.2.9\n");
    mdspf_ctx *ctx = ctx_a(NULL, z);
    mdspf_check *chk;
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    assert_int_equal(mdspf_ctx_add_override(ctx, "example.com",
                                            "v=spf1 a:h.example.com -all"),
                     MDSPF_OK);
    chk = new_check(ctx, "192.0.2.1", "a@example.com");
    assert_int_equal(mdspf_check_start(chk, NULL, NULL), MDSPF_OK);
    assert_int_equal(
        mdspf_ctx_add_override(ctx, "example.com", "v=spf1 +all"), MDSPF_OK);
    assert_int_equal(mdspf_ctx_add_override(ctx, "example.com", NULL),
                     MDSPF_OK);
    drain(z);
    assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
    assert_string_equal(mdspf_check_mechanism(chk), "-all");
    mdspf_check_free(chk);
    /* the next check sees the current configuration: no override */
    chk = new_check(ctx, "192.0.2.1", "a@example.com");
    assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
    assert_int_equal(mdspf_check_result(chk), MDSPF_NONE);
    mdspf_check_free(chk);
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
  }
}

/* A record shared by reference: its owner and every context may drop
 * their references in any order. */
static void test_snapshot_record_references(void **state) {
  test_alloc ta;
  mdspf_record *r = NULL;
  mdspf_ctx *c1, *c2;
  mdspf_zone *z = zone_of("");
  mdspf_check *chk;
  (void)state;
  memset(&ta, 0, sizeof ta);
  assert_int_equal(mdspf_record_parse("v=spf1 -all", 11, test_alloc_fn, &ta,
                                      &r, NULL, NULL, NULL),
                   MDSPF_OK);
  assert_ptr_equal(mdspf_record_ref(r), r);
  mdspf_record_unref(r); /* back to one */
  assert_null(mdspf_record_ref(NULL));
  mdspf_record_unref(NULL);
  c1 = ctx_a(NULL, z);
  c2 = ctx_a(NULL, z);
  assert_int_equal(mdspf_ctx_add_override_record(c1, "example.com", r),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_add_override_record(c2, "example.com", r),
                   MDSPF_OK);
  chk = new_check(c1, "192.0.2.1", "a@example.com");
  mdspf_record_free(r); /* the owner's reference: the record stays */
  assert_true(ta.live > 0);
  assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
  assert_int_equal(mdspf_check_source(chk), MDSPF_SRC_OVERRIDE);
  mdspf_ctx_free(c1);
  assert_true(ta.live > 0); /* c2 still holds it */
  mdspf_ctx_free(c2);
  assert_true(ta.live > 0); /* and the check's snapshot */
  mdspf_check_free(chk);
  assert_int_equal(ta.live, 0);
  mdspf_zone_free(z);
}

/* ====================================================================
 * Limits changed while checks hold arrays sized by the old ones
 * ==================================================================== */

static void test_limits_changed_after_checks(void **state) {
  static const char zone[] =
      "@ TXT \"v=spf1 mx ptr -all\"\n"
      "@ MX 10 m1\n"
      "@ MX 20 m2\n"
      "m1 A 192.0.2.9\n"
      "m2 A 192.0.2.8\n"
      "1.2.0.192.in-addr.arpa. PTR p1.example.com.\n"
      "1.2.0.192.in-addr.arpa. PTR p2.example.com.\n";
  static const long values[][2] = {{100, 100}, {1, 1}, {10, 10}, {50, 2}};
  test_alloc ta;
  size_t v;
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    for (v = 0; v < sizeof values / sizeof values[0]; v++) {
      mdspf_zone *z;
      mdspf_ctx *ctx;
      mdspf_check *done, *cancelled, *running;
      memset(&ta, 0, sizeof ta);
      z = zone_a(&ta, zone);
      assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
      ctx = ctx_a(&ta, z);
      done = new_check(ctx, "192.0.2.1", "a@example.com");
      assert_int_equal(mdspf_check_run(done, 0), MDSPF_OK);
      assert_int_equal(mdspf_check_result(done), MDSPF_FAIL);
      cancelled = new_check(ctx, "192.0.2.1", "a@example.com");
      running = new_check(ctx, "192.0.2.1", "a@example.com");
      assert_int_equal(mdspf_check_start(cancelled, NULL, NULL), MDSPF_OK);
      assert_int_equal(mdspf_check_start(running, NULL, NULL), MDSPF_OK);
      mdspf_check_cancel(cancelled);
      assert_int_equal(
          mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_MX_NAMES, values[v][0]),
          MDSPF_OK);
      assert_int_equal(
          mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_PTR_NAMES, values[v][1]),
          MDSPF_OK);
      assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_MX_NAMES),
                       values[v][0]);
      drain(z);
      assert_int_equal(mdspf_check_result(running), MDSPF_FAIL);
      mdspf_check_free(done);
      mdspf_check_free(cancelled);
      mdspf_check_free(running);
      mdspf_ctx_free(ctx);
      mdspf_zone_free(z);
      /* every block freed with the size it was allocated with */
      assert_int_equal(ta.live, 0);
    }
  }
}

/* ====================================================================
 * The trace hook may cancel or free its check, or free the context
 * ==================================================================== */

static const char TRACE_ZONE[] =
    "@ TXT \"v=spf1 include:i.example.com mx a:%{l}.example.com ptr "
    "-all exp=e.example.com\"\n"
    "i TXT \"v=spf1 ip4:198.51.100.1 ~all\"\n"
    "@ MX 1 m1\n"
    "m1 A 192.0.2.9\n"
    "x A 192.0.2.8\n"
    "e TXT \"no %{p}\"\n"
    "1.2.0.192.in-addr.arpa. PTR q.example.com.\n";

enum { ACT_CANCEL = 0, ACT_FREE = 1, ACT_CTX_FREE = 2 };

typedef struct tracer {
  mdspf_check *chk; /* the check to act on */
  mdspf_ctx *ctx;
  int type;   /* act at the first event of this type */
  int action; /* ACT_* */
  int acted;
  int after;   /* events seen after acting */
  int seen[16];
} tracer;

static void trace_act(void *ud, const mdspf_event *ev) {
  tracer *t = ud;
  int type = mdspf_event_type(ev);
  if (t->acted) {
    t->after++;
    return;
  }
  if (type >= 0 && type < 16) {
    t->seen[type]++;
  }
  if (type != t->type || mdspf_event_check(ev) != t->chk) {
    return;
  }
  t->acted = 1;
  switch (t->action) {
  case ACT_CANCEL:
    mdspf_check_cancel(t->chk);
    /* the outcome says so at once (a verdict already reached stays),
     * and a second cancel is harmless */
    if (t->type != MDSPF_EV_RESULT) {
      assert_int_equal(mdspf_check_reason(t->chk), MDSPF_E_CANCELLED);
    }
    mdspf_check_cancel(t->chk);
    break;
  case ACT_FREE:
    mdspf_check_free(t->chk);
    t->chk = NULL;
    break;
  default:
    mdspf_ctx_free(t->ctx);
    t->ctx = NULL;
    break;
  }
}

static void run_trace_action(int mode, int type, int action) {
  test_alloc ta;
  mdspf_zone *z;
  mdspf_ctx *ctx;
  tracer t;
  cbcount cb = {0};
  memset(&ta, 0, sizeof ta);
  memset(&t, 0, sizeof t);
  z = zone_a(&ta, TRACE_ZONE);
  assert_int_equal(mdspf_zone_set_delivery(z, mode), MDSPF_OK);
  ctx = ctx_a(&ta, z);
  t.ctx = ctx;
  t.type = type;
  t.action = action;
  assert_int_equal(mdspf_ctx_set_trace(ctx, trace_act, &t), MDSPF_OK);
  t.chk = new_check(ctx, "192.0.2.1", "x@example.com");
  assert_int_equal(mdspf_check_start(t.chk, count_cb, &cb), MDSPF_OK);
  drain(z);
  if (!t.acted) {
    print_error("mode %d: no event of type %d\n", mode, type);
    fail();
  }
  /* nothing after the action: no events, no callback (a verdict already
   * reached stays, with its callback) */
  if (type == MDSPF_EV_RESULT) {
    assert_int_equal(cb.calls, action == ACT_CANCEL ? 1 : 0);
  } else {
    assert_int_equal(cb.calls, 0);
    assert_int_equal(t.after, 0);
    if (t.chk) {
      assert_int_equal(mdspf_check_result(t.chk), MDSPF_TEMPERROR);
      assert_int_equal(mdspf_check_reason(t.chk), MDSPF_E_CANCELLED);
    }
  }
  assert_int_equal(mdspf_zone_pending(z), 0);
  mdspf_check_free(t.chk);
  mdspf_ctx_free(t.ctx);
  mdspf_zone_free(z);
  assert_int_equal(ta.live, 0);
}

static void test_trace_cancel_free_at_every_event(void **state) {
  static const int types[] = {
      MDSPF_EV_RECORD, MDSPF_EV_TERM,   MDSPF_EV_QUERY,  MDSPF_EV_ANSWER,
      MDSPF_EV_INCLUDE, MDSPF_EV_RETURN, MDSPF_EV_EXPAND, MDSPF_EV_RESULT};
  size_t k;
  int m, a;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    for (k = 0; k < sizeof types / sizeof types[0]; k++) {
      for (a = ACT_CANCEL; a <= ACT_CTX_FREE; a++) {
        run_trace_action(MODES[m], types[k], a);
      }
    }
  }
}

/* ====================================================================
 * mdspf_ctx_free inside a completion callback stops every other check
 * ==================================================================== */

typedef struct freer {
  mdspf_ctx *ctx;
  int calls;
} freer;

static void free_ctx_cb(mdspf_check *chk, void *user) {
  freer *f = user;
  (void)chk;
  f->calls++;
  mdspf_ctx_free(f->ctx);
}

static void test_ctx_free_in_callback_stops_others(void **state) {
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    test_alloc ta;
    mdspf_zone *z;
    mdspf_ctx *ctx;
    mdspf_check *first, *others[3], *blocking;
    freer f = {NULL, 0};
    cbcount cb = {0};
    unsigned long sent;
    int k;
    memset(&ta, 0, sizeof ta);
    z = zone_a(&ta, "a TXT \"v=spf1 -all\"\n"
                    "b TXT \"v=spf1 a a a a -all\"\n");
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    ctx = ctx_a(&ta, z);
    f.ctx = ctx;
    first = new_check(ctx, "192.0.2.1", "x@a.example.com");
    for (k = 0; k < 3; k++) {
      others[k] = new_check(ctx, "192.0.2.1", "x@b.example.com");
    }
    blocking = new_check(ctx, "192.0.2.1", "x@b.example.com");
    if (DEFERRED(MODES[m])) {
      assert_int_equal(mdspf_check_start(first, free_ctx_cb, &f), MDSPF_OK);
      for (k = 0; k < 3; k++) {
        assert_int_equal(mdspf_check_start(others[k], count_cb, &cb),
                         MDSPF_OK);
      }
      /* the blocking call drives the zone: the first check's callback
       * frees the context while this one and the others run */
      assert_int_equal(mdspf_check_run(blocking, 0), MDSPF_E_CANCELLED);
    } else {
      for (k = 0; k < 3; k++) {
        /* inline: make the others wait on a hung answer */
        assert_int_equal(
            mdspf_zone_set_fault(z, "b.example.com", 0, MDSPF_ZONE_HANG),
            MDSPF_OK);
        assert_int_equal(mdspf_check_start(others[k], count_cb, &cb),
                         MDSPF_OK);
      }
      assert_int_equal(mdspf_check_start(first, free_ctx_cb, &f), MDSPF_OK);
    }
    sent = mdspf_zone_queries(z);
    drain(z);
    assert_int_equal(f.calls, 1);
    assert_int_equal(cb.calls, 0); /* no callback after the free */
    assert_int_equal(mdspf_zone_queries(z), sent); /* no query either */
    assert_int_equal(mdspf_zone_pending(z), 0);
    for (k = 0; k < 3; k++) {
      assert_int_equal(mdspf_check_reason(others[k]), MDSPF_E_CANCELLED);
      assert_int_equal(mdspf_check_start(others[k], NULL, NULL),
                       MDSPF_E_STATE);
      mdspf_check_free(others[k]);
    }
    assert_int_equal(mdspf_check_result(first), MDSPF_FAIL);
    mdspf_check_free(first);
    mdspf_check_free(blocking);
    mdspf_zone_free(z);
    assert_int_equal(ta.live, 0);
  }
}

/* ====================================================================
 * A lint and checks sharing a context
 * ==================================================================== */

typedef struct sharer {
  mdspf_lint *lint;   /* free it in the callback */
  mdspf_check *other; /* free it in the callback */
  int calls;
} sharer;

static void share_cb(mdspf_check *chk, void *user) {
  sharer *s = user;
  (void)chk;
  s->calls++;
  if (s->lint) {
    mdspf_lint_free(s->lint);
    s->lint = NULL;
  }
  if (s->other) {
    mdspf_check_free(s->other);
    s->other = NULL;
  }
}

static void lint_free_check_cb(mdspf_lint *l, void *user) {
  sharer *s = user;
  s->calls++;
  assert_int_equal(mdspf_lint_status(l), MDSPF_OK);
  assert_true(mdspf_lint_lookups(l) > 0);
  if (s->other) {
    mdspf_check_free(s->other);
    s->other = NULL;
  }
  mdspf_lint_free(l); /* its own free, inside its callback */
}

static void test_lint_shares_context_with_checks(void **state) {
  static const char zone[] =
      "@ TXT \"v=spf1 include:i.example.com mx -all\"\n"
      "i TXT \"v=spf1 a:h.example.com ~all\"\n"
      "h A 192.0.2.9\n"
      "@ MX 5 h\n";
  int m;
  (void)state;
  for (m = 1; m < NMODES; m++) {
    test_alloc ta;
    mdspf_zone *z;
    mdspf_ctx *ctx;
    mdspf_lint *l = NULL, *l2 = NULL;
    mdspf_check *c1, *c2, *c3;
    sharer s1, s2;
    fclock fc;
    memset(&ta, 0, sizeof ta);
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    z = zone_a(&ta, zone);
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    ctx = ctx_a(&ta, z);
    assert_int_equal(mdspf_lint_new(ctx, &l), MDSPF_OK);
    c1 = new_check(ctx, "192.0.2.9", "x@example.com");
    c2 = new_check(ctx, "192.0.2.9", "x@hang.example.com");
    assert_int_equal(
        mdspf_zone_set_fault(z, "hang.example.com", 0, MDSPF_ZONE_HANG),
        MDSPF_OK);
    s1.lint = l;
    s1.other = c2;
    assert_int_equal(mdspf_check_start(c1, share_cb, &s1), MDSPF_OK);
    assert_int_equal(mdspf_check_start(c2, share_cb, &s2), MDSPF_OK);
    /* the blocking lint drives the resolver; c1's callback frees the
     * lint and c2 while it runs */
    assert_int_equal(mdspf_lint_domain(l, "example.com", 0),
                     MDSPF_E_CANCELLED);
    assert_int_equal(s1.calls, 1);
    assert_int_equal(s2.calls, 0);
    assert_int_equal(mdspf_check_result(c1), MDSPF_PASS);
    /* an asynchronous lint whose callback frees a running check and
     * itself, when its budget runs out on a hung lookup */
    fc.now = (int64_t)1 << 40;
    mdspf__ctx_set_clock(ctx, fclock_fn, &fc);
    assert_int_equal(mdspf_zone_set_fault(z, "h.example.com", MDSPF_RR_A,
                                          MDSPF_ZONE_HANG),
                     MDSPF_OK);
    assert_int_equal(mdspf_lint_new(ctx, &l2), MDSPF_OK);
    c3 = new_check(ctx, "192.0.2.9", "x@example.com");
    memset(&s1, 0, sizeof s1);
    s1.other = c3;
    assert_int_equal(mdspf_lint_start_domain(l2, "example.com",
                                             lint_free_check_cb, &s1),
                     MDSPF_OK);
    assert_int_equal(mdspf_lint_start_domain(l2, "example.com",
                                             lint_free_check_cb, &s1),
                     MDSPF_E_STATE);
    assert_int_equal(mdspf_check_start(c3, share_cb, &s2), MDSPF_OK);
    drain(z);
    assert_int_equal(s1.calls, 0);
    assert_int_equal(mdspf_ctx_timeout(ctx), 20000);
    fc.now += 20000;
    mdspf_ctx_process_timeouts(ctx); /* both due: the lint first */
    assert_int_equal(s1.calls, 1);
    assert_int_equal(s2.calls, 0); /* c3 was freed by the lint's callback */
    assert_int_equal(mdspf_ctx_timeout(ctx), -1);
    mdspf_check_free(c1);
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
    assert_int_equal(s2.calls, 0);
    assert_int_equal(ta.live, 0);
  }
}

/* ====================================================================
 * A fail keeps its verdict when the explanation cannot be fetched in time
 * ==================================================================== */

static void test_exp_timeout_keeps_fail(void **state) {
  static const char zone[] =
      "@ TXT \"v=spf1 -all exp=e.example.com\"\n"
      "p TXT \"v=spf1 -all exp=%{p}.e.example.com\"\n"
      "1.2.0.192.in-addr.arpa. PTR slow.example.com.\n";
  int m, way;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    for (way = 0; way < 3; way++) {
      mdspf_zone *z = zone_of(zone);
      mdspf_ctx *ctx = ctx_a(NULL, z);
      mdspf_check *chk;
      fclock fc = {1000};
      cbcount cb = {0};
      const char *sender = way == 2 ? "u@p.example.com" : "u@example.com";
      assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
      assert_int_equal(
          mdspf_zone_set_fault(z, "e.example.com", 0, MDSPF_ZONE_HANG),
          MDSPF_OK);
      /* %{p} of the explanation: the validation of the PTR name hangs */
      assert_int_equal(
          mdspf_zone_set_fault(z, "slow.example.com", 0, MDSPF_ZONE_HANG),
          MDSPF_OK);
      assert_int_equal(mdspf_ctx_set_default_explanation(
                           ctx, "denied for %{i} (%{p})"),
                       MDSPF_OK);
      chk = new_check(ctx, "192.0.2.1", sender);
      if (way == 0) {
        /* the blocking call's budget */
        assert_int_equal(mdspf_check_run(chk, 50), MDSPF_OK);
      } else {
        /* the context's timer, with an injected clock */
        mdspf__ctx_set_clock(ctx, fclock_fn, &fc);
        assert_int_equal(mdspf_check_start(chk, count_cb, &cb), MDSPF_OK);
        drain(z);
        assert_int_equal(cb.calls, 0);
        fc.now += 20000;
        mdspf_ctx_process_timeouts(ctx);
        assert_int_equal(cb.calls, 1);
      }
      assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
      assert_int_equal(mdspf_check_reason(chk), MDSPF_OK);
      assert_string_equal(mdspf_check_explanation(chk),
                          "denied for 192.0.2.1 (unknown)");
      assert_string_equal(mdspf_check_mechanism(chk), "-all");
      mdspf_check_free(chk);
      mdspf_ctx_free(ctx);
      mdspf_zone_free(z);
    }
  }
}

/* ====================================================================
 * 64-bit time: budgets work at any uptime
 * ==================================================================== */

typedef struct timerlog {
  long last;
  int calls;
} timerlog;

static void log_timer(void *ud, long ms) {
  timerlog *t = ud;
  t->last = ms;
  t->calls++;
}

static void test_clock_past_32_bits(void **state) {
  /* 24.8 days, 49.7 days, and far beyond */
  static const int64_t bases[] = {INT64_C(2147483647) - 5,
                                  INT64_C(4294967295) - 3, INT64_C(1) << 50};
  size_t b;
  (void)state;
  for (b = 0; b < sizeof bases / sizeof bases[0]; b++) {
    mdspf_zone *z = zone_of("@ TXT \"v=spf1 a -all\"\n");
    mdspf_ctx *ctx = ctx_a(NULL, z);
    mdspf_check *c1, *c2;
    fclock fc;
    timerlog tl = {-2, 0};
    cbcount cb = {0};
    fc.now = bases[b];
    assert_int_equal(mdspf_zone_set_fault(z, "example.com", MDSPF_RR_A,
                                          MDSPF_ZONE_HANG),
                     MDSPF_OK);
    mdspf__ctx_set_clock(ctx, fclock_fn, &fc);
    assert_int_equal(mdspf_ctx_set_timer(ctx, log_timer, &tl), MDSPF_OK);
    assert_int_equal(tl.last, -1);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 3000),
                     MDSPF_OK);
    c1 = new_check(ctx, "192.0.2.1", "u@example.com");
    assert_int_equal(mdspf_check_start(c1, count_cb, &cb), MDSPF_OK);
    assert_int_equal(tl.last, 3000);
    assert_int_equal(mdspf_ctx_timeout(ctx), 3000);
    /* a shorter budget for a later check: its deadline comes first */
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 1000),
                     MDSPF_OK);
    fc.now += 500;
    c2 = new_check(ctx, "192.0.2.1", "u@example.com");
    assert_int_equal(mdspf_check_start(c2, count_cb, &cb), MDSPF_OK);
    assert_int_equal(tl.last, 1000);
    fc.now += 999;
    mdspf_ctx_process_timeouts(ctx);
    assert_int_equal(cb.calls, 0);
    assert_int_equal(tl.last, 1);
    fc.now += 1;
    mdspf_ctx_process_timeouts(ctx);
    assert_int_equal(cb.calls, 1);
    assert_int_equal(mdspf_check_reason(c2), MDSPF_E_TIMEOUT);
    assert_int_equal(tl.last, 1500); /* c1's deadline: 3000 - 1500 */
    fc.now += 1500;
    mdspf_ctx_process_timeouts(ctx);
    assert_int_equal(cb.calls, 2);
    assert_int_equal(mdspf_check_reason(c1), MDSPF_E_TIMEOUT);
    assert_int_equal(tl.last, -1);
    assert_int_equal(mdspf_ctx_timeout(ctx), -1);
    mdspf_check_free(c1);
    mdspf_check_free(c2);
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
  }
}

/* ====================================================================
 * Void lookups are counted per term: an mx term whose hosts all lack
 * addresses is one void lookup
 * ==================================================================== */

static void test_mx_void_lookups(void **state) {
  static const char zone[] =
      "@ TXT \"v=spf1 mx:m3.example.com a:n1.example.com a:n2.example.com "
      "-all\"\n"
      "m3 MX 10 gone.example.com.\n"
      "two TXT \"v=spf1 mx:m2.example.com a:n1.example.com -all\"\n"
      "m2 MX 10 gone.example.com.\n"
      "m2 MX 20 gone2.example.com.\n"
      "m2 MX 30 gone3.example.com.\n"
      "ok TXT \"v=spf1 mx:m4.example.com a:n1.example.com a:n2.example.com "
      "-all\"\n"
      "m4 MX 10 gone.example.com.\n"
      "m4 MX 20 host.example.com.\n"
      "host AAAA 2001:db8::1\n"
      "null TXT \"v=spf1 mx:m5.example.com a:n1.example.com a:n2.example.com "
      "-all\"\n"
      "m5 MX 0 .\n";
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    mdspf_zone *z = zone_of(zone);
    mdspf_ctx *ctx = ctx_a(NULL, z);
    struct {
      const char *sender, *ip;
      int result;
      unsigned voids;
    } cases[] = {
        /* the example: three void terms */
        {"u@example.com", "192.0.2.1", MDSPF_PERMERROR, 3},
        /* three hosts without addresses: one void lookup, not three */
        {"u@two.example.com", "192.0.2.1", MDSPF_FAIL, 2},
        /* the only host with an address has an AAAA record: the term
         * is void for an IPv4 client (its A lookups are) ... */
        {"u@ok.example.com", "192.0.2.1", MDSPF_PERMERROR, 3},
        /* ... and not void for IPv6, where it has one */
        {"u@ok.example.com", "2001:db8::2", MDSPF_FAIL, 2},
        /* a null MX names no host: void */
        {"u@null.example.com", "192.0.2.1", MDSPF_PERMERROR, 3},
    };
    size_t k;
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      mdspf_check *chk = new_check(ctx, cases[k].ip, cases[k].sender);
      assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
      if ((int)mdspf_check_result(chk) != cases[k].result ||
          mdspf_check_void_lookups(chk) != cases[k].voids) {
        print_error("case %zu: %s with %u voids\n", k,
                    mdspf_result_str(mdspf_check_result(chk)),
                    mdspf_check_void_lookups(chk));
        fail();
      }
      mdspf_check_free(chk);
    }
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
  }
}

/* ====================================================================
 * Every call the header allows from inside each callback
 * ==================================================================== */

enum {
  CB_DONE = 0, /* a check's completion callback */
  CB_TRACE,    /* the trace hook (an answer event of that check) */
  CB_TIMER,    /* the context's timer callback */
  CB_LINT,     /* a lint's completion callback */
  NCB
};

enum {
  A_GETTERS = 0,  /* read the outcome of every check */
  A_START,        /* start a new check */
  A_CANCEL_OTHER, /* cancel a running check */
  A_FREE_OTHER,   /* free a running check */
  A_FREE_SELF,    /* free the check (or lint) the callback belongs to */
  A_SETTERS,      /* every configuration setter */
  A_RUN,          /* blocking check: refused */
  A_LINT_RUN,     /* blocking lint: refused */
  A_LINT_START,   /* asynchronous lint */
  A_TIMEOUTS,     /* the timer entry points */
  A_CTX_FREE,     /* free the context */
  A_ZONE_FREE,    /* free the resolver */
  NACT
};

typedef struct env {
  mdspf_zone *z;
  mdspf_ctx *ctx;
  mdspf_check *a, *b, *spawned;
  mdspf_lint *lint, *lint2;
  int cb_kind, action, acted, rc, rc2;
  int in_cb, nested;
  int a_calls, b_calls, spawned_calls, lint_calls, lint2_calls;
  int zone_freed, ctx_freed, a_freed, b_freed, lint_freed;
} env;

static void enter_cb(env *e) {
  if (e->in_cb) {
    e->nested++; /* a user callback inside another one */
  }
  e->in_cb++;
}

static void leave_cb(env *e) { e->in_cb--; }

static void spawned_cb(mdspf_check *chk, void *user) {
  env *e = user;
  enter_cb(e);
  (void)chk;
  e->spawned_calls++;
  leave_cb(e);
}

static void lint2_cb(mdspf_lint *l, void *user) {
  env *e = user;
  enter_cb(e);
  e->lint2_calls++;
  assert_int_equal(mdspf_lint_status(l), MDSPF_OK);
  leave_cb(e);
}

static void act(env *e) {
  mdspf_ctx *ctx = e->ctx;
  if (e->acted) {
    return;
  }
  e->acted = 1;
  switch (e->action) {
  case A_GETTERS:
    (void)mdspf_check_result(e->a);
    (void)mdspf_check_problem(e->a);
    (void)mdspf_check_done(e->b);
    (void)mdspf_check_queries(e->b);
    (void)mdspf_check_prefetched(e->a);
    (void)mdspf_check_wasted(e->b);
    (void)mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_DNS_TERMS);
    break;
  case A_START:
    e->spawned = new_check(ctx, "192.0.2.7", "x@a.example.com");
    e->rc = mdspf_check_start(e->spawned, spawned_cb, e);
    assert_int_equal(e->rc, MDSPF_OK);
    /* not evaluated inside this callback: no recursion */
    assert_int_equal(e->spawned_calls, 0);
    break;
  case A_CANCEL_OTHER:
    mdspf_check_cancel(e->b);
    break;
  case A_FREE_OTHER:
    mdspf_check_free(e->b);
    e->b_freed = 1;
    break;
  case A_FREE_SELF:
    if (e->cb_kind == CB_LINT) {
      mdspf_lint_free(e->lint);
      e->lint_freed = 1;
    } else {
      mdspf_check_free(e->a);
      e->a_freed = 1;
    }
    break;
  case A_SETTERS:
    assert_int_equal(mdspf_ctx_add_override(ctx, "o.example.com", "v=spf1 -all"),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_add_fallback(ctx, "f.example.com", "v=spf1 -all"),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_add_override_record(ctx, "a.example.com", NULL),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_best_guess(ctx, "v=spf1 ~all"), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_local_policy(ctx, "ip4:192.0.2.0/24", NULL),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_default_explanation(ctx, "no"), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_receiver(ctx, "mx.example.net"), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_MX_NAMES, 3),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_PTR_NAMES, 99),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 60000),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 0),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(e->z)),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_trace(ctx, NULL, NULL), MDSPF_OK);
    break;
  case A_RUN:
    e->rc = mdspf_check_run(e->b, 10);
    assert_int_equal(e->rc, MDSPF_E_RECURSIVE);
    break;
  case A_LINT_RUN:
    assert_int_equal(mdspf_lint_new(ctx, &e->lint2), MDSPF_OK);
    e->rc = mdspf_lint_domain(e->lint2, "a.example.com", 10);
    assert_int_equal(e->rc, MDSPF_E_RECURSIVE);
    e->rc2 = mdspf_lint_record(e->lint2, NULL, "v=spf1 -all", 11, 10);
    assert_int_equal(e->rc2, MDSPF_E_RECURSIVE);
    break;
  case A_LINT_START:
    assert_int_equal(mdspf_lint_new(ctx, &e->lint2), MDSPF_OK);
    e->rc = mdspf_lint_start_domain(e->lint2, "a.example.com", lint2_cb, e);
    assert_int_equal(e->rc, MDSPF_OK);
    assert_int_equal(e->lint2_calls, 0);
    break;
  case A_TIMEOUTS:
    mdspf_ctx_process_timeouts(ctx);
    assert_true(mdspf_ctx_timeout(ctx) >= -1);
    assert_int_equal(mdspf_ctx_set_timer(ctx, NULL, NULL), MDSPF_OK);
    break;
  case A_CTX_FREE:
    mdspf_ctx_free(ctx);
    e->ctx_freed = 1;
    break;
  default: /* A_ZONE_FREE */
    mdspf_zone_free(e->z);
    e->zone_freed = 1;
    break;
  }
}

static void a_cb(mdspf_check *chk, void *user) {
  env *e = user;
  enter_cb(e);
  e->a_calls++;
  assert_ptr_equal(chk, e->a);
  if (e->cb_kind == CB_DONE) {
    act(e);
  }
  leave_cb(e);
}

static void b_cb(mdspf_check *chk, void *user) {
  env *e = user;
  enter_cb(e);
  (void)chk;
  e->b_calls++;
  leave_cb(e);
}

static void trace_cb(void *ud, const mdspf_event *ev) {
  env *e = ud;
  enter_cb(e);
  if (e->cb_kind == CB_TRACE && mdspf_event_check(ev) == e->a &&
      mdspf_event_type(ev) == MDSPF_EV_ANSWER) {
    act(e);
  }
  leave_cb(e);
}

static void timer_cb(void *ud, long ms) {
  env *e = ud;
  enter_cb(e);
  (void)ms;
  if (e->cb_kind == CB_TIMER) {
    act(e);
  }
  leave_cb(e);
}

static void lint_cb(mdspf_lint *l, void *user) {
  env *e = user;
  enter_cb(e);
  e->lint_calls++;
  assert_ptr_equal(l, e->lint);
  if (e->cb_kind == CB_LINT) {
    act(e);
  }
  leave_cb(e);
}

static void run_contract(int mode, int cb_kind, int action) {
  static const char zone[] =
      "a TXT \"v=spf1 a mx -all\"\n"
      "a A 192.0.2.9\n"
      "a MX 1 a\n"
      "b TXT \"v=spf1 -all\"\n";
  test_alloc ta;
  env e;
  memset(&ta, 0, sizeof ta);
  memset(&e, 0, sizeof e);
  e.cb_kind = cb_kind;
  e.action = action;
  e.z = zone_a(&ta, zone);
  assert_int_equal(mdspf_zone_set_delivery(e.z, mode), MDSPF_OK);
  /* b waits for ever (until cancelled or its resolver goes) */
  assert_int_equal(
      mdspf_zone_set_fault(e.z, "b.example.com", 0, MDSPF_ZONE_HANG),
      MDSPF_OK);
  e.ctx = ctx_a(&ta, e.z);
  assert_int_equal(mdspf_ctx_set_trace(e.ctx, trace_cb, &e), MDSPF_OK);
  e.a = new_check(e.ctx, "192.0.2.1", "x@a.example.com");
  e.b = new_check(e.ctx, "192.0.2.1", "x@b.example.com");
  assert_int_equal(mdspf_check_start(e.b, b_cb, &e), MDSPF_OK);
  assert_int_equal(mdspf_lint_new(e.ctx, &e.lint), MDSPF_OK);
  if (cb_kind == CB_LINT) {
    assert_int_equal(mdspf_lint_start_domain(e.lint, "a.example.com",
                                             lint_cb, &e),
                     MDSPF_OK);
  }
  /* (an inline lint may have acted already) */
  assert_int_equal(mdspf_check_start(e.a, a_cb, &e),
                   e.ctx_freed ? MDSPF_E_STATE : MDSPF_OK);
  if (!e.ctx_freed) {
    assert_int_equal(mdspf_ctx_set_timer(e.ctx, timer_cb, &e), MDSPF_OK);
  }
  if (!e.zone_freed) {
    drain(e.z);
  }
  if (!e.zone_freed) {
    drain(e.z);
  }

  /* what every action must leave behind */
  if (!e.acted) {
    print_error("callback %d never ran (mode %d, action %d)\n", cb_kind,
                mode, action);
    fail();
  }
  assert_int_equal(e.nested, 0);
  assert_true(e.a_calls <= 1);
  assert_true(e.b_calls <= 1);
  assert_true(e.lint_calls <= 1);
  switch (action) {
  case A_START:
    assert_int_equal(e.spawned_calls, e.ctx_freed ? 0 : 1);
    break;
  case A_CANCEL_OTHER:
  case A_FREE_OTHER:
  case A_CTX_FREE:
    assert_int_equal(e.b_calls, 0);
    if (!e.b_freed) {
      assert_int_equal(mdspf_check_reason(e.b), MDSPF_E_CANCELLED);
    }
    break;
  case A_FREE_SELF:
    if (cb_kind == CB_TRACE) {
      assert_int_equal(e.a_calls, 0); /* freed while it ran */
    }
    break;
  case A_LINT_START:
    assert_int_equal(e.lint2_calls, 1);
    break;
  case A_ZONE_FREE:
    /* b's hung lookup failed: temperror, with its callback */
    assert_int_equal(e.b_calls, 1);
    assert_int_equal(mdspf_check_result(e.b), MDSPF_TEMPERROR);
    break;
  default:
    break;
  }
  if (cb_kind == CB_DONE || cb_kind == CB_TRACE) {
    if (action != A_FREE_SELF && action != A_CTX_FREE &&
        action != A_ZONE_FREE) {
      assert_int_equal(e.a_calls, 1);
      assert_int_equal(mdspf_check_result(e.a), MDSPF_FAIL);
    }
  }

  /* teardown, in an order the action left us */
  if (!e.b_freed) {
    mdspf_check_free(e.b);
  }
  if (!e.a_freed) {
    mdspf_check_free(e.a);
  }
  mdspf_check_free(e.spawned);
  if (!e.lint_freed) {
    mdspf_lint_free(e.lint);
  }
  mdspf_lint_free(e.lint2);
  if (!e.ctx_freed) {
    mdspf_ctx_free(e.ctx);
  }
  if (!e.zone_freed) {
    mdspf_zone_free(e.z);
  }
  assert_int_equal(ta.live, 0);
}

static void test_callback_contracts(void **state) {
  int m, cb, a;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    for (cb = 0; cb < NCB; cb++) {
      for (a = 0; a < NACT; a++) {
        run_contract(MODES[m], cb, a);
      }
    }
  }
}

/* ====================================================================
 * One teardown rule: every order of freeing contexts, checks and
 * resolvers is safe, with queries in flight
 * ==================================================================== */

enum { O_CTX = 0, O_CHECKS, O_OVERLAY, O_TOP, O_BELOW, NOBJ };

typedef struct world {
  mdspf_zone *top, *below;
  mdspf_overlay *ov;
  mdspf_ctx *ctx;
  mdspf_check *chk[3];
  cbcount cb[3];
  int freed[NOBJ];
} world;

static void free_obj(world *w, int obj) {
  int k;
  switch (obj) {
  case O_CTX:
    mdspf_ctx_free(w->ctx);
    break;
  case O_CHECKS:
    for (k = 0; k < 3; k++) {
      mdspf_check_free(w->chk[k]);
    }
    break;
  case O_OVERLAY:
    mdspf_overlay_free(w->ov);
    break;
  case O_TOP:
    mdspf_zone_free(w->top);
    break;
  default:
    mdspf_zone_free(w->below);
    break;
  }
  w->freed[obj] = 1;
}

/* Free the objects in the order perm[0..n), with two checks waiting for
 * answers and one finished; use_overlay: the checks resolve through an
 * overlay of top over below, else through below alone. */
static void teardown_order(int mode, const int *perm, int n,
                           int use_overlay) {
  static const char below_zone[] =
      "a TXT \"v=spf1 a:h.example.com -all\"\n"
      "h A 192.0.2.9\n"
      "done TXT \"v=spf1 -all\"\n";
  test_alloc ta;
  world w;
  int k;
  memset(&ta, 0, sizeof ta);
  memset(&w, 0, sizeof w);
  w.below = zone_a(&ta, below_zone);
  w.top = zone_a(&ta, "w TXT \"v=spf1 include:a.example.com -all\"\n");
  assert_int_equal(mdspf_zone_set_delivery(w.below, mode), MDSPF_OK);
  assert_int_equal(mdspf_zone_set_delivery(w.top, mode), MDSPF_OK);
  /* hold one query on each side for ever */
  assert_int_equal(
      mdspf_zone_set_fault(w.below, "h.example.com", 0, MDSPF_ZONE_HANG),
      MDSPF_OK);
  w.ctx = ctx_a(&ta, NULL);
  if (use_overlay) {
    assert_int_equal(mdspf_overlay_new(test_alloc_fn, &ta, w.top,
                                       mdspf_zone_resolver(w.below), &w.ov),
                     MDSPF_OK);
    assert_int_equal(
        mdspf_ctx_set_resolver(w.ctx, mdspf_overlay_resolver(w.ov)),
        MDSPF_OK);
  } else {
    assert_int_equal(
        mdspf_ctx_set_resolver(w.ctx, mdspf_zone_resolver(w.below)),
        MDSPF_OK);
  }
  w.chk[0] = new_check(w.ctx, "192.0.2.1", "x@done.example.com");
  assert_int_equal(mdspf_check_run(w.chk[0], 0), MDSPF_OK);
  assert_int_equal(mdspf_check_result(w.chk[0]), MDSPF_FAIL);
  w.chk[1] = new_check(w.ctx, "192.0.2.1", "x@a.example.com");
  w.chk[2] = new_check(w.ctx, "192.0.2.1",
                       use_overlay ? "x@w.example.com" : "x@a.example.com");
  for (k = 1; k < 3; k++) {
    assert_int_equal(mdspf_check_start(w.chk[k], count_cb, &w.cb[k]),
                     MDSPF_OK);
  }
  drain(w.top);
  drain(w.below);
  drain(w.top);
  drain(w.below);
  assert_false(mdspf_check_done(w.chk[1]));
  assert_false(mdspf_check_done(w.chk[2]));
  for (k = 0; k < n; k++) {
    free_obj(&w, perm[k]);
    /* a resolver freed before the checks fails their lookups: they end
     * in temperror, with their callbacks; anything else cancels them */
    if (perm[k] != O_CHECKS && !w.freed[O_CHECKS] && !w.freed[O_CTX]) {
      int resolver_gone =
          w.freed[O_BELOW] || (use_overlay && w.freed[O_OVERLAY]);
      int j;
      for (j = 1; j < 3; j++) {
        if (resolver_gone) {
          assert_int_equal(w.cb[j].calls, 1);
          assert_int_equal(mdspf_check_result(w.chk[j]), MDSPF_TEMPERROR);
        }
      }
    }
  }
  for (k = 1; k < 3; k++) {
    assert_true(w.cb[k].calls <= 1);
  }
  assert_int_equal(ta.live, 0);
}

static void permute(int *a, int k, int n, int mode, int use_overlay) {
  int i;
  if (k == n) {
    teardown_order(mode, a, n, use_overlay);
    return;
  }
  for (i = k; i < n; i++) {
    int tmp = a[k];
    a[k] = a[i];
    a[i] = tmp;
    permute(a, k + 1, n, mode, use_overlay);
    tmp = a[k];
    a[k] = a[i];
    a[i] = tmp;
  }
}

static void test_teardown_every_order_zone(void **state) {
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    /* ctx, checks, the zone (top is unused: freed last) */
    int objs[] = {O_CTX, O_CHECKS, O_BELOW, O_TOP};
    permute(objs, 0, 4, MODES[m], 0);
  }
}

static void test_teardown_every_order_overlay(void **state) {
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    int objs[] = {O_CTX, O_CHECKS, O_OVERLAY, O_TOP, O_BELOW};
    permute(objs, 0, NOBJ, MODES[m], 1);
  }
}

/* ====================================================================
 * A configuration reload under load: 200 checks in flight on one loop,
 * the configuration replaced every few completions
 * ==================================================================== */

#define RL_INFLIGHT 200
#define RL_TOTAL 3000
#define RL_GENS 7 /* distinct configurations (the generation modulo this) */
#define RL_NSENDER 10
#define RL_NIP 4

static const char RL_ZONE[] =
    "d0 TXT \"v=spf1 a mx:d1.example.com include:d2.example.com -all\"\n"
    "d0 A 192.0.2.10\n"
    "d1 MX 10 m1\n"
    "m1 A 192.0.2.11\n"
    "d2 TXT \"v=spf1 ip4:192.0.2.12 ptr ?all\"\n"
    "d3 TXT \"v=spf1 redirect=d0.example.com\"\n"
    "d4 TXT \"v=spf1 include:o1.example.com ~all\"\n"
    "o0 TXT \"v=spf1 -all\"\n"
    "o1 TXT \"v=spf1 ip4:192.0.2.13 -all\"\n"
    "13.2.0.192.in-addr.arpa. PTR d2.example.com.\n"
    "d2 A 192.0.2.13\n";

static const char *const RL_SENDERS[RL_NSENDER] = {
    "a@d0.example.com", "b@d1.example.com", "c@d2.example.com",
    "d@d3.example.com", "e@d4.example.com", "f@o0.example.com",
    "g@o1.example.com", "h@o2.example.com", "i@none.example.com",
    "j@d0.example.com"};
static const char *const RL_IPS[RL_NIP] = {"192.0.2.10", "192.0.2.11",
                                           "192.0.2.13", "192.0.2.99"};

/* The configuration of generation g: depends on g % RL_GENS only. */
static void rl_configure(mdspf_ctx *ctx, int g) {
  char buf[128];
  int p = g % RL_GENS;
  snprintf(buf, sizeof buf, "v=spf1 ip4:192.0.2.%d %s", 10 + p,
           p % 2 ? "-all" : "~all");
  assert_int_equal(mdspf_ctx_add_override(ctx, "o0.example.com", buf),
                   MDSPF_OK);
  assert_int_equal(
      mdspf_ctx_add_override(ctx, "o1.example.com",
                             p % 3 ? "v=spf1 include:d0.example.com -all"
                                   : NULL),
      MDSPF_OK);
  assert_int_equal(mdspf_ctx_add_override(ctx, "o2.example.com",
                                          p % 2 ? "v=spf1 a:d0.example.com -all"
                                                : "v=spf1 ?all"),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, 2 + p),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_MX_NAMES, 1 + p),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS, p % 2),
                   MDSPF_OK);
  snprintf(buf, sizeof buf, "ip4:192.0.2.%d", 99 - (p % 3) * 44);
  assert_int_equal(mdspf_ctx_set_local_policy(ctx, p % 4 ? buf : NULL, NULL),
                   MDSPF_OK);
}

typedef struct rl_state rl_state;

typedef struct rl_slot {
  rl_state *s;
  mdspf_check *chk;
  int gen, si, ii;
} rl_slot;

struct rl_state {
  mdspf_ctx *ctx;
  mdspf_zone *z;
  int gen, started, completed;
  int checked;
  outcome ref[RL_GENS][RL_NSENDER][RL_NIP];
  int have_ref[RL_GENS][RL_NSENDER][RL_NIP];
  rl_slot slots[RL_INFLIGHT];
};

static const outcome *rl_reference(rl_state *s, int g, int si, int ii) {
  int p = g % RL_GENS;
  if (!s->have_ref[p][si][ii]) {
    mdspf_zone *z = zone_of(RL_ZONE);
    mdspf_ctx *ctx = ctx_a(NULL, z);
    mdspf_check *chk;
    rl_configure(ctx, p);
    chk = new_check(ctx, RL_IPS[ii], RL_SENDERS[si]);
    assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
    s->ref[p][si][ii] = outcome_of(chk);
    s->have_ref[p][si][ii] = 1;
    mdspf_check_free(chk);
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
  }
  return &s->ref[p][si][ii];
}

static void rl_start(rl_state *s, rl_slot *slot);

static void rl_complete(mdspf_check *chk, void *user) {
  rl_slot *slot = user;
  rl_state *s = slot->s;
  outcome got = outcome_of(chk);
  const outcome *want = rl_reference(s, slot->gen, slot->si, slot->ii);
  char what[96];
  snprintf(what, sizeof what, "check %s from %s, generation %d",
           RL_SENDERS[slot->si], RL_IPS[slot->ii], slot->gen);
  expect_same(&got, want, what);
  s->checked++;
  mdspf_check_free(chk); /* inside its own callback */
  slot->chk = NULL;
  s->completed++;
  if (s->completed % 5 == 0) {
    /* a reload while 199 checks are in flight */
    s->gen++;
    rl_configure(s->ctx, s->gen);
  }
  if (s->started < RL_TOTAL) {
    rl_start(s, slot); /* keep the loop full, from inside the callback */
  }
}

static void rl_start(rl_state *s, rl_slot *slot) {
  int n = s->started++;
  slot->gen = s->gen;
  slot->si = (n * 7) % RL_NSENDER;
  slot->ii = (n / 3) % RL_NIP;
  slot->chk = new_check(s->ctx, RL_IPS[slot->ii], RL_SENDERS[slot->si]);
  assert_int_equal(mdspf_check_start(slot->chk, rl_complete, slot), MDSPF_OK);
}

static void test_reload_under_load(void **state) {
  test_alloc ta;
  rl_state *s = calloc(1, sizeof *s);
  int k, rounds = 0;
  (void)state;
  assert_non_null(s);
  memset(&ta, 0, sizeof ta);
  s->z = zone_a(&ta, RL_ZONE);
  /* the loop: answers come back one at a time, newest first */
  assert_int_equal(mdspf_zone_set_delivery(s->z, MDSPF_ZONE_DEFERRED_LIFO),
                   MDSPF_OK);
  s->ctx = ctx_a(&ta, s->z);
  rl_configure(s->ctx, 0);
  for (k = 0; k < RL_INFLIGHT; k++) {
    s->slots[k].s = s;
    rl_start(s, &s->slots[k]);
  }
  while (mdspf_zone_pending(s->z) > 0) {
    (void)mdspf_zone_process(s->z, 1);
    if (++rounds % 97 == 0) {
      /* and in first-in-first-out order now and then */
      (void)mdspf_zone_set_delivery(s->z, rounds % 2
                                              ? MDSPF_ZONE_DEFERRED_FIFO
                                              : MDSPF_ZONE_DEFERRED_LIFO);
    }
  }
  assert_int_equal(s->started, RL_TOTAL);
  assert_int_equal(s->completed, RL_TOTAL);
  assert_int_equal(s->checked, RL_TOTAL);
  assert_true(s->gen >= RL_TOTAL / 5 - 1);
  mdspf_ctx_free(s->ctx);
  mdspf_zone_free(s->z);
  assert_int_equal(ta.live, 0);
  free(s);
}

/* ====================================================================
 * The linter and the evaluator count lookups alike (one term table)
 * ==================================================================== */

typedef struct rng {
  uint32_t s;
} rng;

static unsigned rnd(rng *r, unsigned n) {
  r->s = r->s * 1103515245u + 12345u;
  return (r->s >> 8) % n;
}

#define PT_NODES 6

/* A zone of PT_NODES records; node k includes only nodes after it, and
 * no term matches the client 192.0.2.1, so a check reaches every term
 * that a receiver evaluates (terms after "all" and a redirect= beside
 * "all" are generated too: neither side may count them). */
static void gen_zone(rng *r, char *out, size_t outsz) {
  size_t len = 0;
  int k, t;
#define PUT(...) len += (size_t)snprintf(out + len, outsz - len, __VA_ARGS__)
  for (k = 0; k < 4; k++) {
    PUT("h%d A 10.0.0.%d\n", k, k + 1);
    PUT("mx%d MX 10 h%d\n", k, k);
  }
  PUT("1.2.0.192.in-addr.arpa. PTR h0.example.com.\n");
  PUT("v0 TXT \"not spf\"\n");
  for (k = 0; k < PT_NODES; k++) {
    int nterms = 1 + (int)rnd(r, 4), voids = 0, all_at = -1, redirect = 0;
    PUT("n%d TXT \"v=spf1", k);
    if (k > 0 && rnd(r, 4) == 0) {
      all_at = (int)rnd(r, (unsigned)nterms + 1);
    }
    for (t = 0; t < nterms; t++) {
      unsigned what = rnd(r, 7);
      if (t == all_at) {
        PUT(" -all");
      }
      if (what == 0) {
        PUT(" ip4:10.9.%d.0/24", t);
      } else if (what == 1) {
        PUT(" a:h%u.example.com", rnd(r, 4));
      } else if (what == 2) {
        PUT(" mx:mx%u.example.com/24", rnd(r, 4));
      } else if (what == 3) {
        PUT(" ptr:nowhere.example.com");
      } else if (what == 4 && voids == 0) {
        PUT(" exists:missing%d.example.com", k);
        voids++;
      } else if (what >= 5 && k + 1 < PT_NODES) {
        PUT(" include:n%u.example.com",
            (unsigned)k + 1 + rnd(r, (unsigned)(PT_NODES - k - 1)));
      } else {
        PUT(" a");
      }
    }
    if (k + 1 < PT_NODES && rnd(r, 3) == 0) {
      PUT(" redirect=n%u.example.com",
          (unsigned)k + 1 + rnd(r, (unsigned)(PT_NODES - k - 1)));
      redirect = 1;
    }
    if (k > 0 && all_at < 0 && !redirect) {
      PUT(rnd(r, 2) ? " -all" : " ~all"); /* an include's result: no match */
    } else if (k == 0 && !redirect && all_at < 0) {
      PUT(" -all");
    } else if (k > 0 && all_at >= 0) {
      /* -all already written */
    }
    PUT("\"\n");
    PUT("n%d A 10.0.1.%d\n", k, k + 1);
  }
#undef PUT
}

static void test_lint_counts_like_the_evaluator(void **state) {
  rng r = {20261203u};
  int sample, compared = 0, m;
  char text[8192];
  (void)state;
  for (sample = 0; sample < 300; sample++) {
    mdspf_zone *z;
    mdspf_ctx *ctx;
    mdspf_lint *l = NULL;
    unsigned lookups;
    gen_zone(&r, text, sizeof text);
    z = zone_of(text);
    ctx = ctx_a(NULL, z);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, 100),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS, 100),
                     MDSPF_OK);
    assert_int_equal(mdspf_lint_new(ctx, &l), MDSPF_OK);
    assert_int_equal(mdspf_lint_domain(l, "n0.example.com", 0), MDSPF_OK);
    lookups = mdspf_lint_lookups(l);
    for (m = 0; m < NMODES; m++) {
      mdspf_check *chk;
      int res;
      assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
      chk = new_check(ctx, "192.0.2.1", "x@n0.example.com");
      assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
      res = mdspf_check_result(chk);
      if (res != MDSPF_FAIL && res != MDSPF_SOFTFAIL &&
          res != MDSPF_NEUTRAL) {
        print_error("sample %d: %s (%s)\n%s", sample, mdspf_result_str(res),
                    mdspf_check_problem(chk), text);
        fail();
      }
      if (mdspf_check_dns_terms(chk) != lookups) {
        print_error("sample %d (mode %d): the check counted %u DNS terms, "
                    "the linter %u lookups\n%s",
                    sample, m, mdspf_check_dns_terms(chk), lookups, text);
        fail();
      }
      compared++;
      mdspf_check_free(chk);
    }
    mdspf_lint_free(l);
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
  }
  assert_int_equal(compared, 300 * NMODES);
}

/* ====================================================================
 * Results and statuses cannot be confused
 * ==================================================================== */

static void test_results_and_statuses_apart(void **state) {
  mdspf_zone *z = zone_of("@ TXT \"v=spf1 -all\"\n");
  mdspf_ctx *ctx = ctx_a(NULL, z);
  mdspf_check *chk = new_check(ctx, "192.0.2.1", "x@example.com");
  int s, r;
  (void)state;
  /* before the check finished: no result, which no finished check has */
  assert_int_equal(mdspf_check_result(chk), MDSPF_NO_RESULT);
  assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
  assert_true(mdspf_check_result(chk) != MDSPF_NO_RESULT);
  /* numbered as libspf2 and its spfquery's exit status */
  assert_int_equal(MDSPF_NEUTRAL, 1);
  assert_int_equal(MDSPF_PASS, 2);
  assert_int_equal(MDSPF_FAIL, 3);
  assert_int_equal(MDSPF_SOFTFAIL, 4);
  assert_int_equal(MDSPF_NONE, 5);
  assert_int_equal(MDSPF_TEMPERROR, 6);
  assert_int_equal(MDSPF_PERMERROR, 7);
  /* no status value is a result value */
  for (s = MDSPF_E_BUFFER; s <= MDSPF_OK; s++) {
    for (r = MDSPF_NEUTRAL; r <= MDSPF_PERMERROR; r++) {
      assert_int_not_equal(s, r);
    }
  }
  assert_string_equal(mdspf_strerror(MDSPF_E_BUFFER), "buffer too small");
  assert_int_not_equal(MDSPF_RR_A, MDSPF_DNS_OK);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_results_and_statuses_apart),
      cmocka_unit_test(test_snapshot_override_replaced),
      cmocka_unit_test(test_snapshot_setters_during_checks),
      cmocka_unit_test(test_snapshot_record_references),
      cmocka_unit_test(test_limits_changed_after_checks),
      cmocka_unit_test(test_trace_cancel_free_at_every_event),
      cmocka_unit_test(test_ctx_free_in_callback_stops_others),
      cmocka_unit_test(test_lint_shares_context_with_checks),
      cmocka_unit_test(test_exp_timeout_keeps_fail),
      cmocka_unit_test(test_clock_past_32_bits),
      cmocka_unit_test(test_mx_void_lookups),
      cmocka_unit_test(test_callback_contracts),
      cmocka_unit_test(test_teardown_every_order_zone),
      cmocka_unit_test(test_teardown_every_order_overlay),
      cmocka_unit_test(test_reload_under_load),
      cmocka_unit_test(test_lint_counts_like_the_evaluator),
  };
  return cmocka_run_group_tests_name("contracts", tests, NULL, NULL);
}

/*
 * tests/test_lookahead.c -- lookahead (MDSPF_LIMIT_LOOKAHEAD): lookups
 * started ahead of the evaluation never change what a check reports.
 *
 * Every check here runs with lookahead on (the default) and off, in every
 * delivery mode of the zone, and the two must agree on the whole outcome:
 * result, reason, problem, explanation, matched term, domain, source, the
 * DNS-term, void-lookup and query counters and the trace, event by event.
 * Beyond that: the bound on the lookups outstanding, their cancellation
 * at the verdict and by every teardown path, exact prefetched / wasted
 * counts on hand-built zones, limits never tripped and void lookups never
 * counted by terms the evaluation does not reach, failures of lookups
 * ahead that are asked again, %{p}, memory budgets swept byte range by
 * byte range, the setter while checks run, and out of memory.
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

#include "test_alloc.h"

static const int MODES[] = {MDSPF_ZONE_INLINE, MDSPF_ZONE_DEFERRED_FIFO,
                            MDSPF_ZONE_DEFERRED_LIFO};
#define NMODES 3

static mdspf_zone *zone_of(const char *text) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  if (mdspf_zone_load(z, text, strlen(text), "example.com.", "test", err,
                      sizeof err) != MDSPF_OK) {
    print_error("zone: %s\n", err);
    fail();
  }
  return z;
}

/* ---- a resolver over the zone that counts what it is asked ---------- */

typedef struct counting {
  const mdspf_resolver *inner;
  mdspf_resolver vt;
  unsigned long queries, cancels;
} counting;

static int c_query(void *impl, mdspf_dns_query *q, const char *name,
                   int rrtype, void **token) {
  counting *c = impl;
  c->queries++;
  return c->inner->query(c->inner->impl, q, name, rrtype, token);
}

static void c_cancel(void *impl, void *token) {
  counting *c = impl;
  c->cancels++;
  c->inner->cancel(c->inner->impl, token);
}

static int c_wait(void *impl, int timeout_ms) {
  counting *c = impl;
  return c->inner->wait(c->inner->impl, timeout_ms);
}

static void counting_init(counting *c, mdspf_zone *z) {
  memset(c, 0, sizeof *c);
  c->inner = mdspf_zone_resolver(z);
  c->vt.version = MDSPF_RESOLVER_V1;
  c->vt.impl = c;
  c->vt.query = c_query;
  c->vt.cancel = c_cancel;
  c->vt.wait = c_wait;
}

/* ---- outcomes ------------------------------------------------------------ */

typedef struct outcome {
  int result, reason, source;
  unsigned terms, voids, queries, prefetched, wasted;
  unsigned long sent; /* queries the resolver received */
  size_t peak;        /* memory the check counted against its budget */
  char mech[256], domain[256], exp[512], problem[512];
  char *trace; /* every event's line, in order */
  size_t trace_len;
} outcome;

static void copy(char *dst, size_t n, const char *s) {
  snprintf(dst, n, "%s", s ? s : "(null)");
}

typedef struct tracebuf {
  char *p;
  size_t len;
} tracebuf;

static void record_event(void *ud, const mdspf_event *ev) {
  tracebuf *t = ud;
  size_t need = 0;
  (void)mdspf_event_format(ev, NULL, 0, &need);
  t->p = realloc(t->p, t->len + need + 2);
  assert_non_null(t->p);
  assert_int_equal(mdspf_event_format(ev, t->p + t->len, need + 1, NULL),
                   MDSPF_OK);
  t->len += need;
  t->p[t->len++] = '\n';
  t->p[t->len] = '\0';
}

static void outcome_free(outcome *o) {
  free(o->trace);
  o->trace = NULL;
}

/* Limits of the next runs: index MDSPF_LIMIT_*, 0 = the default. */
static long g_limits[9];

/* Run one check to its end (blocking) over z in delivery mode mode with
 * lookahead la (-1: the default); *o gets everything it reports. */
static void run(mdspf_zone *z, int mode, long la, const char *ip,
                const char *sender, outcome *o) {
  mdspf_ctx *ctx = NULL;
  mdspf_check *chk = NULL;
  counting cr;
  tracebuf tb = {NULL, 0};
  int i;
  memset(o, 0, sizeof *o);
  counting_init(&cr, z);
  assert_int_equal(mdspf_zone_set_delivery(z, mode), MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, &cr.vt), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_trace(ctx, record_event, &tb), MDSPF_OK);
  for (i = 1; i < 9; i++) {
    if (g_limits[i]) {
      assert_int_equal(mdspf_ctx_set_limit(ctx, i, g_limits[i]), MDSPF_OK);
    }
  }
  if (la >= 0) {
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, la),
                     MDSPF_OK);
  }
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 5000), MDSPF_OK);
  o->result = mdspf_check_result(chk);
  o->reason = mdspf_check_reason(chk);
  o->source = mdspf_check_source(chk);
  o->terms = mdspf_check_dns_terms(chk);
  o->voids = mdspf_check_void_lookups(chk);
  o->queries = mdspf_check_queries(chk);
  o->prefetched = mdspf_check_prefetched(chk);
  o->wasted = mdspf_check_wasted(chk);
  o->peak = mdspf_check_memory_peak(chk);
  copy(o->mech, sizeof o->mech, mdspf_check_mechanism(chk));
  copy(o->domain, sizeof o->domain, mdspf_check_domain(chk));
  copy(o->exp, sizeof o->exp, mdspf_check_explanation(chk));
  copy(o->problem, sizeof o->problem, mdspf_check_problem(chk));
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  o->sent = cr.queries;
  o->trace = tb.p ? tb.p : calloc(1, 1);
  o->trace_len = tb.len;
  /* nothing is left behind, nothing was sent that is not accounted for */
  assert_int_equal(mdspf_zone_pending(z), 0);
  assert_int_equal(o->sent, (unsigned long)o->queries + o->wasted);
  assert_true(o->wasted <= o->prefetched);
  if (la == 0) {
    assert_int_equal(o->prefetched, 0);
  }
}

static void expect_same(const outcome *on, const outcome *off,
                        const char *what) {
  if (on->result != off->result || on->reason != off->reason ||
      on->source != off->source || on->terms != off->terms ||
      on->voids != off->voids || on->queries != off->queries ||
      strcmp(on->mech, off->mech) != 0 ||
      strcmp(on->domain, off->domain) != 0 ||
      strcmp(on->exp, off->exp) != 0 ||
      strcmp(on->problem, off->problem) != 0 ||
      strcmp(on->trace, off->trace) != 0) {
    print_error("%s: lookahead on and off differ\n"
                "  on:  %s/%d src %d terms %u voids %u queries %u [%s] [%s] "
                "[%s] [%s]\n"
                "  off: %s/%d src %d terms %u voids %u queries %u [%s] [%s] "
                "[%s] [%s]\n  trace on:\n%s  trace off:\n%s",
                what, mdspf_result_str(on->result), on->reason, on->source,
                on->terms, on->voids, on->queries, on->mech, on->domain,
                on->exp, on->problem, mdspf_result_str(off->result),
                off->reason, off->source, off->terms, off->voids,
                off->queries, off->mech, off->domain, off->exp, off->problem,
                on->trace, off->trace);
    fail();
  }
}

/* The check with lookahead on and off in every delivery mode: all agree
 * with inline, lookahead off (returned in *ref, traces compared within a
 * delivery mode).  *on_inline gets the inline run with lookahead on. */
static void run_both(mdspf_zone *z, const char *ip, const char *sender,
                     outcome *ref, outcome *on_inline) {
  int m;
  char what[128];
  for (m = 0; m < NMODES; m++) {
    outcome on, off;
    run(z, MODES[m], 0, ip, sender, &off);
    run(z, MODES[m], -1, ip, sender, &on);
    snprintf(what, sizeof what, "%s, delivery %d", sender, MODES[m]);
    expect_same(&on, &off, what);
    if (m == 0) {
      *ref = off;
      *on_inline = on;
      continue;
    }
    /* the delivery order changes nothing either (the trace may order
     * answers differently) */
    assert_int_equal(off.result, ref->result);
    assert_int_equal(off.queries, ref->queries);
    assert_int_equal(off.terms, ref->terms);
    assert_int_equal(off.voids, ref->voids);
    assert_string_equal(off.mech, ref->mech);
    outcome_free(&on);
    outcome_free(&off);
  }
}

static void expect_result(const outcome *o, int result) {
  if (o->result != result) {
    print_error("got %s (%s), want %s\n", mdspf_result_str(o->result),
                o->problem, mdspf_result_str(result));
  }
  assert_int_equal(o->result, result);
}

/* ---- exact counts on hand-built zones --------------------------------- */

/* A gmail-like chain: redirect to a record of three includes; the client
 * is in the second. */
static void test_counts_redirect_and_includes(void **state) {
  mdspf_zone *z = zone_of(
      "g TXT \"v=spf1 redirect=_spf.g.example.com\"\n"
      "_spf.g TXT \"v=spf1 include:n1.g.example.com include:n2.g.example.com "
      "include:n3.g.example.com ~all\"\n"
      "n1.g TXT \"v=spf1 ip4:198.51.100.0/24 ~all\"\n"
      "n2.g TXT \"v=spf1 ip4:192.0.2.0/24 ~all\"\n"
      "n3.g TXT \"v=spf1 ip4:203.0.113.0/24 ~all\"\n");
  outcome ref, on;
  (void)state;
  run_both(z, "192.0.2.7", "x@g.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PASS);
  assert_string_equal(ref.mech, "include:n2.g.example.com");
  /* g, _spf, n1, n2: asked by the evaluation either way */
  assert_int_equal(ref.queries, 4);
  assert_int_equal(ref.terms, 3);
  /* ahead: _spf when g arrived, n1-n3 when _spf arrived; n3 was never
   * reached */
  assert_int_equal(on.prefetched, 4);
  assert_int_equal(on.wasted, 1);
  assert_int_equal(on.sent, 5);
  outcome_free(&ref);
  outcome_free(&on);
  /* a client in none: all three are used */
  run_both(z, "192.0.2.7", "x@g.example.com", &ref, &on);
  outcome_free(&ref);
  outcome_free(&on);
  run_both(z, "10.0.0.1", "x@g.example.com", &ref, &on);
  expect_result(&ref, MDSPF_SOFTFAIL);
  assert_int_equal(ref.queries, 5);
  assert_int_equal(on.prefetched, 4);
  assert_int_equal(on.wasted, 0);
  outcome_free(&ref);
  outcome_free(&on);
  mdspf_zone_free(z);
}

/* MX hosts: without lookahead one address lookup at a time, none after
 * the match; with it the next hosts ahead, cancelled when the term
 * matched. */
static void test_counts_mx_hosts(void **state) {
  mdspf_zone *z = zone_of("m TXT \"v=spf1 mx -all\"\n"
                          "m MX 10 h1\n"
                          "m MX 20 h2\n"
                          "m MX 30 h3\n"
                          "h1 A 198.51.100.1\n"
                          "h2 A 192.0.2.2\n"
                          "h3 A 198.51.100.3\n");
  outcome ref, on;
  (void)state;
  run_both(z, "192.0.2.2", "x@m.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PASS);
  /* TXT, MX, A h1, A h2 -- never h3 */
  assert_int_equal(ref.queries, 4);
  assert_int_equal(ref.sent, 4);
  /* ahead: the MX set, then h2 and h3 with h1 */
  assert_int_equal(on.prefetched, 3);
  assert_int_equal(on.wasted, 1);
  outcome_free(&ref);
  outcome_free(&on);
  /* no match: every host, in order */
  run_both(z, "192.0.2.9", "x@m.example.com", &ref, &on);
  expect_result(&ref, MDSPF_FAIL);
  assert_int_equal(ref.queries, 5);
  assert_int_equal(on.prefetched, 3);
  assert_int_equal(on.wasted, 0);
  outcome_free(&ref);
  outcome_free(&on);
  mdspf_zone_free(z);
}

/* %{p}: a target that needs it is not looked up ahead (it takes its place
 * in the term budget all the same); the others are. */
static void test_macros_needing_p(void **state) {
  mdspf_zone *z = zone_of(
      "p TXT \"v=spf1 a:%{p}.x.example.com include:%{d}.i.example.com "
      "exists:%{ir}.%{l}.e.example.com -all\"\n"
      "1.2.0.192.in-addr.arpa. PTR host.p.example.com.\n"
      "host.p A 192.0.2.1\n"
      "p.example.com.i TXT \"v=spf1 ip4:198.51.100.1 -all\"\n"
      "1.2.0.192.joe.e A 127.0.0.2\n");
  outcome ref, on;
  (void)state;
  run_both(z, "192.0.2.1", "joe@p.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PASS);
  assert_string_equal(ref.mech, "exists:%{ir}.%{l}.e.example.com");
  /* TXT, PTR, A host.p, A of %{p}.x, TXT of the include, A of exists */
  assert_int_equal(ref.queries, 6);
  /* ahead: the include's TXT and the exists lookup, not a:%{p} */
  assert_int_equal(on.prefetched, 2);
  assert_int_equal(on.wasted, 0);
  outcome_free(&ref);
  outcome_free(&on);
  mdspf_zone_free(z);
}

/* ---- limits and void lookups of terms never reached -------------------- */

static void test_unreached_terms_trip_nothing(void **state) {
  char rec[2048];
  char *zt;
  size_t n = 0;
  int i;
  mdspf_zone *z;
  outcome ref, on;
  (void)state;
  zt = malloc(16384);
  assert_non_null(zt);
  /* +all first, then 20 includes of domains without a record */
  n += (size_t)snprintf(rec, sizeof rec, "v=spf1 +all");
  for (i = 0; i < 20; i++) {
    n += (size_t)snprintf(rec + n, sizeof rec - n, " include:i%d.example.com",
                          i);
  }
  snprintf(zt, 16384, "a TXT \"%s\"\n", rec);
  /* a record whose 11th and 12th DNS terms are never reached: ten a
   * terms, then the client's address, then two more */
  n = (size_t)snprintf(rec, sizeof rec, "v=spf1");
  for (i = 0; i < 10; i++) {
    n += (size_t)snprintf(rec + n, sizeof rec - n, " a:h%d.example.com", i);
  }
  n += (size_t)snprintf(rec + n, sizeof rec - n,
                        " ip4:192.0.2.1 a:h10.example.com mx:h11.example.com "
                        "-all");
  snprintf(zt + strlen(zt), 16384 - strlen(zt), "b TXT \"%s\"\n", rec);
  /* the client's address early, then 20 includes: within the window
   * they are looked up ahead, never evaluated */
  n = (size_t)snprintf(rec, sizeof rec, "v=spf1 ip4:192.0.2.1");
  for (i = 0; i < 20; i++) {
    n += (size_t)snprintf(rec + n, sizeof rec - n, " include:i%d.example.com",
                          i);
  }
  snprintf(zt + strlen(zt), 16384 - strlen(zt), "c TXT \"%s -all\"\n", rec);
  for (i = 0; i < 12; i++) {
    snprintf(zt + strlen(zt), 16384 - strlen(zt), "h%d A 198.51.100.%d\n", i,
             i + 1);
  }
  z = zone_of(zt);
  free(zt);

  run_both(z, "192.0.2.1", "x@a.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PASS);
  assert_int_equal(ref.terms, 0);
  assert_int_equal(on.prefetched, 0); /* nothing after "all" */
  outcome_free(&ref);
  outcome_free(&on);

  run_both(z, "192.0.2.1", "x@b.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PASS);
  assert_string_equal(ref.mech, "ip4:192.0.2.1");
  assert_int_equal(ref.terms, 10);
  /* the ten a terms ahead, not the 11th and 12th */
  assert_int_equal(on.prefetched, 10);
  assert_int_equal(on.wasted, 0);
  outcome_free(&ref);
  outcome_free(&on);

  run_both(z, "192.0.2.1", "x@c.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PASS);
  assert_int_equal(ref.terms, 0);
  assert_int_equal(ref.voids, 0);
  /* ten include targets ahead (no more: terms past the limit are never
   * looked at), all cancelled at the verdict */
  assert_int_equal(on.prefetched, 10);
  assert_int_equal(on.wasted, 10);
  outcome_free(&ref);
  outcome_free(&on);
  mdspf_zone_free(z);
}

static void test_unreached_voids_not_counted(void **state) {
  /* two void lookups (the limit), a match, then two more void targets
   * looked up ahead: a third counted would be a permerror */
  mdspf_zone *z = zone_of("v TXT \"v=spf1 a:v1.example.com mx:v2.example.com "
                          "ip4:192.0.2.1 a:v3.example.com "
                          "exists:v4.example.com -all\"\n");
  outcome ref, on;
  (void)state;
  run_both(z, "192.0.2.1", "x@v.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PASS);
  assert_int_equal(ref.voids, 2);
  assert_int_equal(on.voids, 2);
  assert_int_equal(on.prefetched, 4);
  assert_int_equal(on.wasted, 2);
  outcome_free(&ref);
  outcome_free(&on);
  /* not matching: the third void lookup is reached, permerror either way */
  run_both(z, "192.0.2.9", "x@v.example.com", &ref, &on);
  expect_result(&ref, MDSPF_PERMERROR);
  assert_int_equal(ref.reason, MDSPF_E_LIMIT);
  assert_int_equal(ref.voids, 3);
  outcome_free(&ref);
  outcome_free(&on);
  mdspf_zone_free(z);
}

/* ---- failed lookups ahead ------------------------------------------------- */

static void test_failed_lookups_ahead(void **state) {
  mdspf_zone *z = zone_of(
      "u TXT \"v=spf1 ip4:192.0.2.1 a:tf.example.com include:sf.example.com "
      "mx:hang.example.com -all\"\n"
      "r TXT \"v=spf1 a:tf.example.com -all\"\n"
      "s TXT \"v=spf1 include:sf.example.com -all\"\n"
      "tf A 192.0.2.1\n");
  static const int faults[] = {MDSPF_ZONE_TIMEOUT, MDSPF_ZONE_SERVFAIL};
  outcome ref, on;
  size_t f;
  (void)state;
  assert_int_equal(
      mdspf_zone_set_fault(z, "hang.example.com", 0, MDSPF_ZONE_HANG),
      MDSPF_OK);
  for (f = 0; f < 2; f++) {
    assert_int_equal(mdspf_zone_set_fault(z, "tf.example.com", MDSPF_RR_A,
                                          faults[f]),
                     MDSPF_OK);
    assert_int_equal(mdspf_zone_set_fault(z, "sf.example.com", 0, faults[f]),
                     MDSPF_OK);
    /* failed (and hung) lookups ahead of terms never reached: nothing */
    run_both(z, "192.0.2.1", "x@u.example.com", &ref, &on);
    expect_result(&ref, MDSPF_PASS);
    assert_int_equal(ref.reason, MDSPF_OK);
    assert_int_equal(on.prefetched, 3);
    assert_int_equal(on.wasted, 3);
    outcome_free(&ref);
    outcome_free(&on);
    /* reached: asked again, and the temperror comes from that answer */
    run_both(z, "192.0.2.1", "x@r.example.com", &ref, &on);
    expect_result(&ref, MDSPF_TEMPERROR);
    assert_int_equal(ref.reason, MDSPF_E_DNS);
    assert_int_equal(ref.queries, 2);
    assert_int_equal(on.prefetched, 1);
    assert_int_equal(on.wasted, 1);
    assert_int_equal(on.sent, 3);
    outcome_free(&ref);
    outcome_free(&on);
    run_both(z, "192.0.2.1", "x@s.example.com", &ref, &on);
    expect_result(&ref, MDSPF_TEMPERROR);
    outcome_free(&ref);
    outcome_free(&on);
  }
  mdspf_zone_free(z);
}

/* A lookup ahead that failed is asked again when its term is reached, and
 * then the answer of that moment counts: the server recovered, the
 * check passes -- as it does without lookahead. */
static void test_failure_ahead_then_recovered(void **state) {
  mdspf_zone *z = zone_of("w TXT \"v=spf1 a:slow.example.com a:tf.example.com "
                          "-all\"\n"
                          "slow A 198.51.100.1\n"
                          "tf A 192.0.2.1\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  int la;
  (void)state;
  for (la = 0; la < 2; la++) {
    assert_int_equal(mdspf_zone_set_fault(z, "tf.example.com", MDSPF_RR_A,
                                          MDSPF_ZONE_TIMEOUT),
                     MDSPF_OK);
    assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_LIFO),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
    if (!la) {
      assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 0),
                       MDSPF_OK);
    }
    assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
    assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
    assert_int_equal(mdspf_check_set_sender(chk, "x@w.example.com"),
                     MDSPF_OK);
    assert_int_equal(mdspf_check_start(chk, NULL, NULL), MDSPF_OK);
    /* the record */
    assert_int_equal(mdspf_zone_process(z, 1), 1);
    /* with lookahead, slow (adopted) and tf are out; last in, first out:
     * tf fails now, ahead of its term */
    assert_int_equal(mdspf_zone_pending(z), la ? 2 : 1);
    if (la) {
      assert_int_equal(mdspf_zone_process(z, 1), 1);
      assert_int_equal(mdspf_check_done(chk), 0);
    }
    /* the server recovers before the evaluation gets there */
    assert_int_equal(mdspf_zone_set_fault(z, "tf.example.com", MDSPF_RR_A,
                                          MDSPF_ZONE_NOFAULT),
                     MDSPF_OK);
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 1);
    }
    assert_int_equal(mdspf_check_done(chk), 1);
    assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
    assert_string_equal(mdspf_check_mechanism(chk), "a:tf.example.com");
    assert_int_equal(mdspf_check_queries(chk), 3);
    assert_int_equal(mdspf_check_prefetched(chk), la ? 2u : 0u);
    assert_int_equal(mdspf_check_wasted(chk), la ? 1u : 0u);
    mdspf_check_free(chk);
    mdspf_ctx_free(ctx);
  }
  mdspf_zone_free(z);
}

/* ---- the bound ---------------------------------------------------------- */

/* 20 includes: never more lookups ahead outstanding than the term budget
 * left allows, and than the lookahead, at any point of the evaluation. */
static void test_bound_on_lookups_ahead(void **state) {
  static const long cases[][3] = {
      /* lookahead, DNS-term limit, prefetched in all */
      {10, 10, 10},
      {3, 10, 10},
      {1, 10, 10},
      {10, 4, 4},
      {100, 15, 15},
      {0, 10, 0}};
  char zt[4096];
  size_t n = 0, c;
  int i;
  mdspf_zone *z;
  (void)state;
  n += (size_t)snprintf(zt + n, sizeof zt - n, "top TXT \"v=spf1");
  for (i = 0; i < 20; i++) {
    n += (size_t)snprintf(zt + n, sizeof zt - n, " include:i%d.example.com", i);
  }
  n += (size_t)snprintf(zt + n, sizeof zt - n, " -all\"\n");
  for (i = 0; i < 20; i++) {
    n += (size_t)snprintf(zt + n, sizeof zt - n,
                          "i%d TXT \"v=spf1 ip4:198.51.100.%d -all\"\n", i, i);
  }
  z = zone_of(zt);
  for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    long la = cases[c][0], terms = cases[c][1];
    mdspf_ctx *ctx;
    mdspf_check *chk;
    counting cr;
    counting_init(&cr, z);
    assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_FIFO),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, &cr.vt), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, la),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, terms),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_LOOKAHEAD), la);
    assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
    assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
    assert_int_equal(mdspf_check_set_sender(chk, "x@top.example.com"),
                     MDSPF_OK);
    assert_int_equal(mdspf_check_start(chk, NULL, NULL), MDSPF_OK);
    while (mdspf_zone_pending(z) > 0) {
      /* in flight: the evaluation's one query, and at most
       * min(lookahead, terms left) ahead (the term being evaluated has
       * been counted already) */
      long left = terms - (long)mdspf_check_dns_terms(chk);
      long cap = la < left ? la : left;
      if ((long)mdspf_zone_pending(z) > 1 + cap) {
        print_error("case %zu: %zu queries outstanding, %u terms counted\n",
                    c, mdspf_zone_pending(z), mdspf_check_dns_terms(chk));
        fail();
      }
      (void)mdspf_zone_process(z, 1);
    }
    assert_int_equal(mdspf_check_done(chk), 1);
    assert_int_equal(mdspf_check_result(chk), MDSPF_PERMERROR);
    assert_int_equal(mdspf_check_reason(chk), MDSPF_E_LIMIT);
    assert_int_equal(mdspf_check_dns_terms(chk), terms + 1);
    assert_int_equal(mdspf_check_prefetched(chk), cases[c][2]);
    /* every one was used: only terms the evaluation counts are ahead */
    assert_int_equal(mdspf_check_wasted(chk), 0);
    assert_int_equal(mdspf_check_queries(chk), 1 + terms);
    assert_int_equal(cr.queries, 1 + terms);
    mdspf_check_free(chk);
    mdspf_ctx_free(ctx);
  }
  assert_int_equal(mdspf_ctx_set_limit(NULL, MDSPF_LIMIT_LOOKAHEAD, 1),
                   MDSPF_E_INVAL);
  {
    mdspf_ctx *ctx;
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_LOOKAHEAD), 10);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, -1),
                     MDSPF_E_INVAL);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 101),
                     MDSPF_E_INVAL);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 100),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 0),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_LOOKAHEAD), 0);
    mdspf_ctx_free(ctx);
  }
  assert_int_equal(mdspf_check_prefetched(NULL), 0);
  assert_int_equal(mdspf_check_wasted(NULL), 0);
  mdspf_zone_free(z);
}

/* ---- cancellation ---------------------------------------------------------- */

static const char HANG_ZONE[] =
    "t TXT \"v=spf1 include:p.example.com a:h1.example.com "
    "mx:h2.example.com exists:h3.example.com -all\"\n"
    "p TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
    "k TXT \"v=spf1 a:h0.example.com a:h1.example.com mx:h2.example.com "
    "-all\"\n";

enum {
  END_VERDICT = 0,
  END_CANCEL,
  END_FREE,
  END_CTX_FREE,
  END_TIMEOUT,
  END_ZONE_FREE,
  NEND
};

typedef struct ender {
  int calls;
} ender;

static void end_cb(mdspf_check *chk, void *user) {
  (void)chk;
  ((ender *)user)->calls++;
}

/* Lookups ahead that would never answer (hung) are cancelled at the
 * verdict and by every way a check can end before it. */
static void end_check(int mode, int how) {
  test_alloc ta;
  mdspf_zone *z;
  mdspf_ctx *ctx;
  mdspf_check *chk;
  counting cr;
  ender e = {0};
  int i;
  memset(&ta, 0, sizeof ta);
  assert_int_equal(mdspf_zone_new(test_alloc_fn, &ta, &z), MDSPF_OK);
  assert_int_equal(mdspf_zone_load(z, HANG_ZONE, strlen(HANG_ZONE),
                                   "example.com.", "hang", NULL, 0),
                   MDSPF_OK);
  for (i = 0; i < 4; i++) {
    char name[32];
    snprintf(name, sizeof name, "h%d.example.com", i);
    assert_int_equal(mdspf_zone_set_fault(z, name, 0, MDSPF_ZONE_HANG),
                     MDSPF_OK);
  }
  assert_int_equal(mdspf_zone_set_delivery(z, mode), MDSPF_OK);
  counting_init(&cr, z);
  assert_int_equal(mdspf_ctx_new(test_alloc_fn, &ta, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, &cr.vt), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 60000),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, how == END_VERDICT
                                                   ? "x@t.example.com"
                                                   : "x@k.example.com"),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_start(chk, end_cb, &e), MDSPF_OK);
  for (i = 0; i < 3 && mdspf_zone_pending(z) > 0; i++) {
    (void)mdspf_zone_process(z, 1);
  }
  if (how == END_VERDICT) {
    /* include:p matched: the three hung lookups ahead are gone */
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 1);
    }
    assert_int_equal(e.calls, 1);
    assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
    assert_int_equal(mdspf_check_prefetched(chk), 4);
    assert_int_equal(mdspf_check_wasted(chk), 3);
    assert_int_equal(cr.queries, 5);
    assert_int_equal(cr.cancels, 3);
    mdspf_check_free(chk);
  } else {
    /* k: a:h0 hangs, the lookups ahead of h1 and h2 hang too */
    assert_int_equal(mdspf_check_done(chk), 0);
    assert_int_equal(mdspf_check_prefetched(chk), 3);
    assert_int_equal(cr.queries, 4);
    assert_int_equal(cr.cancels, 0);
    switch (how) {
    case END_CANCEL:
      mdspf_check_cancel(chk);
      break;
    case END_FREE:
      mdspf_check_free(chk);
      chk = NULL;
      break;
    case END_CTX_FREE:
      mdspf_ctx_free(ctx);
      ctx = NULL;
      break;
    case END_TIMEOUT:
      assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 1),
                       MDSPF_OK); /* for later checks: this one keeps 60 s */
      assert_int_equal(mdspf_check_run(chk, 20), MDSPF_OK);
      assert_int_equal(mdspf_check_reason(chk), MDSPF_E_TIMEOUT);
      break;
    default: /* END_ZONE_FREE: the resolver's teardown rule */
      mdspf_zone_free(z);
      z = NULL;
      assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
      break;
    }
    /* the query of the evaluation (a:h0) and the two ahead: cancelled at
     * the backend, or completed by its teardown */
    if (how != END_ZONE_FREE) {
      assert_int_equal(cr.cancels, 3);
    }
    if (chk) {
      assert_int_equal(mdspf_check_wasted(chk), 2);
      mdspf_check_free(chk);
    }
    assert_int_equal(e.calls, how == END_TIMEOUT || how == END_ZONE_FREE);
  }
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
  assert_int_equal(ta.live, 0);
}

static void test_cancelled_at_verdict_and_teardown(void **state) {
  int m, how;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    for (how = 0; how < NEND; how++) {
      end_check(MODES[m], how);
    }
  }
}

/* ---- the setter while checks run ---------------------------------------- */

/* Lookahead is part of the snapshot: switching it off (or on) while
 * checks run changes nothing for them. */
static void test_setter_while_checks_run(void **state) {
  mdspf_zone *z = zone_of(
      "s TXT \"v=spf1 include:a.example.com include:b.example.com "
      "include:c.example.com -all\"\n"
      "a TXT \"v=spf1 ip4:198.51.100.1 -all\"\n"
      "b TXT \"v=spf1 ip4:198.51.100.2 -all\"\n"
      "c TXT \"v=spf1 ip4:192.0.2.1 -all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk[6];
  int k, m;
  (void)state;
  for (m = 1; m < NMODES; m++) {
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
    for (k = 0; k < 6; k++) {
      /* on, off, on, off, ... set before each start; the earlier checks
       * are still waiting for their record */
      assert_int_equal(
          mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, k % 2 ? 0 : 10),
          MDSPF_OK);
      assert_int_equal(mdspf_check_new(ctx, &chk[k]), MDSPF_OK);
      assert_int_equal(mdspf_check_set_ip(chk[k], "192.0.2.1"), MDSPF_OK);
      assert_int_equal(mdspf_check_set_sender(chk[k], "x@s.example.com"),
                       MDSPF_OK);
      assert_int_equal(mdspf_check_start(chk[k], NULL, NULL), MDSPF_OK);
    }
    (void)mdspf_zone_process(z, 3);
    /* and changed again while they evaluate */
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 1),
                     MDSPF_OK);
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 2);
    }
    for (k = 0; k < 6; k++) {
      assert_int_equal(mdspf_check_result(chk[k]), MDSPF_PASS);
      assert_int_equal(mdspf_check_queries(chk[k]), 4);
      assert_int_equal(mdspf_check_prefetched(chk[k]), k % 2 ? 0u : 3u);
      assert_int_equal(mdspf_check_wasted(chk[k]), 0);
      mdspf_check_free(chk[k]);
    }
    mdspf_ctx_free(ctx);
  }
  mdspf_zone_free(z);
}

/* ---- memory budgets ------------------------------------------------------- */

/* Three includes of ~12 KB records before the client's address: without
 * lookahead one is held at a time, with it all three answers are looked
 * up at once.  Swept over budgets from far too small to enough, the
 * outcome with lookahead is always the one without: the answers held
 * ahead are given up, never a temperror of their own. */
static void test_budget_sweep(void **state) {
  char *zt = malloc(65536), *rec = malloc(16384);
  size_t n, r;
  int i, k, m;
  long limit;
  mdspf_zone *z;
  outcome off_big;
  (void)state;
  assert_non_null(zt);
  assert_non_null(rec);
  n = (size_t)snprintf(zt, 65536,
                       "top TXT \"v=spf1 include:b0.example.com "
                       "include:b1.example.com include:b2.example.com "
                       "ip4:192.0.2.1 -all\"\n");
  for (k = 0; k < 3; k++) {
    r = (size_t)snprintf(rec, 16384, "v=spf1");
    for (i = 0; i < 700; i++) {
      r += (size_t)snprintf(rec + r, 16384 - r, " ip4:10.%d.%d.%d", k,
                            i / 250, i % 250);
    }
    snprintf(rec + r, 16384 - r, " -all");
    n += (size_t)snprintf(zt + n, 65536 - n, "b%d TXT \"%s\"\n", k, rec);
  }
  z = zone_of(zt);
  free(zt);
  free(rec);
  run(z, MDSPF_ZONE_INLINE, 0, "192.0.2.1", "x@top.example.com", &off_big);
  expect_result(&off_big, MDSPF_PASS);
  print_message("peak without lookahead %zu bytes\n", off_big.peak);
  for (m = 0; m < NMODES; m++) {
    int saw_dropped = 0, saw_budget = 0;
    for (limit = 4096; limit <= (long)off_big.peak + 40000; limit += 977) {
      outcome on, off;
      char what[96];
      g_limits[MDSPF_LIMIT_CHECK_MEMORY] = limit;
      run(z, MODES[m], 0, "192.0.2.1", "x@top.example.com", &off);
      run(z, MODES[m], -1, "192.0.2.1", "x@top.example.com", &on);
      snprintf(what, sizeof what, "budget %ld, delivery %d", limit, MODES[m]);
      expect_same(&on, &off, what);
      assert_true(on.peak <= (size_t)limit);
      if (off.result == MDSPF_PASS && on.wasted > 0) {
        saw_dropped = 1;
      }
      if (off.reason == MDSPF_E_BUDGET) {
        saw_budget = 1;
        assert_non_null(strstr(on.problem, "memory budget exceeded"));
      }
      outcome_free(&on);
      outcome_free(&off);
    }
    /* the sweep crossed both regions; the answers ahead are held (and
     * dropped) when they arrive before their turn: at once inline, last
     * in first out, but not first in first out */
    assert_true(saw_budget);
    assert_int_equal(saw_dropped, MODES[m] != MDSPF_ZONE_DEFERRED_FIFO);
  }
  g_limits[MDSPF_LIMIT_CHECK_MEMORY] = 0;
  outcome_free(&off_big);
  mdspf_zone_free(z);
}

/* The context's budget: room for what the checks' evaluations hold at
 * once, not for the answers they look up ahead as well.  Whichever
 * check's allocation the context refuses, the answers held ahead by all
 * its checks go first: every check gets its result. */
static size_t ctx_round(mdspf_zone *z, int la, long ctx_limit,
                        unsigned *wasted) {
  enum { N = 4 };
  mdspf_ctx *ctx;
  mdspf_check *c[N];
  size_t peak = 0;
  int k;
  *wasted = 0;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  if (ctx_limit) {
    assert_int_equal(
        mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CONTEXT_MEMORY, ctx_limit),
        MDSPF_OK);
  }
  if (!la) {
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 0),
                     MDSPF_OK);
  }
  for (k = 0; k < N; k++) {
    assert_int_equal(mdspf_check_new(ctx, &c[k]), MDSPF_OK);
    assert_int_equal(mdspf_check_set_ip(c[k], "192.0.2.1"), MDSPF_OK);
    assert_int_equal(mdspf_check_set_sender(c[k], "x@top.example.com"),
                     MDSPF_OK);
    assert_int_equal(mdspf_check_start(c[k], NULL, NULL), MDSPF_OK);
  }
  while (mdspf_zone_pending(z) > 0) {
    (void)mdspf_zone_process(z, 1);
  }
  for (k = 0; k < N; k++) {
    if (mdspf_check_result(c[k]) != MDSPF_PASS) {
      print_error("lookahead %d, check %d: %s (%s)\n", la, k,
                  mdspf_result_str(mdspf_check_result(c[k])),
                  mdspf_check_problem(c[k]));
      fail();
    }
    *wasted += mdspf_check_wasted(c[k]);
    mdspf_check_free(c[k]);
  }
  (void)mdspf_ctx_memory(ctx, &peak);
  mdspf_ctx_free(ctx);
  return peak;
}

static void test_context_budget_reclaims_all_checks(void **state) {
  char *zt = malloc(65536), *rec = malloc(16384);
  size_t n, r, peak_off, peak_on, peak;
  unsigned wasted;
  int i, k;
  long limit;
  mdspf_zone *z;
  (void)state;
  assert_non_null(zt);
  assert_non_null(rec);
  n = (size_t)snprintf(zt, 65536,
                       "top TXT \"v=spf1 include:b0.example.com "
                       "include:b1.example.com include:b2.example.com "
                       "ip4:192.0.2.1 -all\"\n");
  for (k = 0; k < 3; k++) {
    r = (size_t)snprintf(rec, 16384, "v=spf1");
    for (i = 0; i < 700; i++) {
      r += (size_t)snprintf(rec + r, 16384 - r, " ip4:10.%d.%d.%d", k,
                            i / 250, i % 250);
    }
    snprintf(rec + r, 16384 - r, " -all");
    n += (size_t)snprintf(zt + n, 65536 - n, "b%d TXT \"%s\"\n", k, rec);
  }
  z = zone_of(zt);
  free(zt);
  free(rec);
  /* four checks interleaved, the later answers first */
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_LIFO),
                   MDSPF_OK);
  peak_off = ctx_round(z, 0, 0, &wasted);
  peak_on = ctx_round(z, 1, 0, &wasted);
  print_message("context peak: %zu bytes without lookahead, %zu with\n",
                peak_off, peak_on);
  /* the answers ahead take room that the evaluations do not need */
  assert_true(peak_on > peak_off + 16384);
  limit = (long)peak_off + 8192;
  peak = ctx_round(z, 0, limit, &wasted);
  assert_true(peak <= (size_t)limit);
  peak = ctx_round(z, 1, limit, &wasted);
  assert_true(peak <= (size_t)limit);
  assert_true(wasted > 0);
  mdspf_zone_free(z);
}

/* ---- out of memory -------------------------------------------------------- */

/* Fail the n-th allocation, for every n, with lookups ahead in flight: a
 * failed one ahead changes nothing (it is just not made), a failed one of
 * the evaluation ends in temperror; never a leak. */
static void test_oom_every_allocation(void **state) {
  mdspf_zone *z = zone_of(
      "g TXT \"v=spf1 redirect=_spf.g.example.com\"\n"
      "_spf.g TXT \"v=spf1 include:n1.g.example.com mx:m.example.com "
      "include:n2.g.example.com ~all\"\n"
      "n1.g TXT \"v=spf1 ip4:198.51.100.0/24 ~all\"\n"
      "n2.g TXT \"v=spf1 ip4:192.0.2.0/24 ~all\"\n"
      "m MX 1 h1\n"
      "m MX 2 h2\n"
      "h1 A 203.0.113.1\n"
      "h2 A 203.0.113.2\n");
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    long n;
    int done = 0;
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    for (n = 1; !done && n < 10000; n++) {
      test_alloc f;
      mdspf_ctx *ctx = NULL;
      mdspf_check *chk = NULL;
      memset(&f, 0, sizeof f);
      f.fail_at = n;
      if (mdspf_ctx_new(test_alloc_fn, &f, &ctx) != MDSPF_OK) {
        assert_int_equal(f.live, 0);
        continue;
      }
      if (mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)) == MDSPF_OK &&
          mdspf_check_new(ctx, &chk) == MDSPF_OK &&
          mdspf_check_set_ip(chk, "192.0.2.1") == MDSPF_OK &&
          mdspf_check_set_sender(chk, "x@g.example.com") == MDSPF_OK) {
        assert_int_equal(mdspf_check_run(chk, 2000), MDSPF_OK);
        if (mdspf_check_reason(chk) == MDSPF_E_NOMEM) {
          assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
        } else {
          assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
          assert_int_equal(mdspf_check_queries(chk), 7);
          done = f.calls < n;
          if (done) {
            assert_int_equal(mdspf_check_prefetched(chk), 5);
          }
        }
      }
      mdspf_check_free(chk);
      mdspf_ctx_free(ctx);
      assert_int_equal(mdspf_zone_pending(z), 0);
      if (f.live != 0) {
        print_error("mode %d: failing allocation %ld leaks %ld bytes\n", m, n,
                    f.live);
      }
      assert_int_equal(f.live, 0);
    }
    assert_true(done);
  }
  mdspf_zone_free(z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_redirect_and_includes),
      cmocka_unit_test(test_counts_mx_hosts),
      cmocka_unit_test(test_macros_needing_p),
      cmocka_unit_test(test_unreached_terms_trip_nothing),
      cmocka_unit_test(test_unreached_voids_not_counted),
      cmocka_unit_test(test_failed_lookups_ahead),
      cmocka_unit_test(test_failure_ahead_then_recovered),
      cmocka_unit_test(test_bound_on_lookups_ahead),
      cmocka_unit_test(test_cancelled_at_verdict_and_teardown),
      cmocka_unit_test(test_setter_while_checks_run),
      cmocka_unit_test(test_budget_sweep),
      cmocka_unit_test(test_context_budget_reclaims_all_checks),
      cmocka_unit_test(test_oom_every_allocation),
  };
  return cmocka_run_group_tests_name("lookahead", tests, NULL, NULL);
}

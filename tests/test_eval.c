/*
 * tests/test_eval.c -- check_host() over the in-memory zone: RFC 7208
 * semantics, the section 4.6.4 limits at and over their edges, inline
 * versus deferred (in order and reversed) answers, cancel, free inside
 * callbacks, the blocking wrapper, configuration hooks and OOM.
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
#include <time.h>

#include <maildrop-spf/spf.h>

#include "test_alloc.h"

static const int MODES[] = {MDSPF_ZONE_INLINE, MDSPF_ZONE_DEFERRED_FIFO,
                            MDSPF_ZONE_DEFERRED_LIFO};
#define NMODES 3

/* A zone from master-file text ($ORIGIN example.com.). */
static mdspf_zone *zone_of(const char *text) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  if (mdspf_zone_load(z, text, strlen(text), "example.com.", "test", err,
                      sizeof err) != MDSPF_OK) {
    print_error("zone: %s\n", err);
    fail();
  }
  return z;
}

typedef struct outcome {
  int result, reason;
  unsigned terms, voids, queries;
  char mech[128], domain[128], exp[256], problem[256];
  int source;
} outcome;

static void copy(char *dst, size_t n, const char *s) {
  snprintf(dst, n, "%s", s ? s : "");
}

/* Run one check against z in the given delivery mode. */
static outcome run(mdspf_zone *z, mdspf_ctx *ctx_in, int mode, const char *ip,
                   const char *sender, const char *helo) {
  mdspf_ctx *ctx = ctx_in;
  mdspf_check *chk = NULL;
  outcome o;
  memset(&o, 0, sizeof o);
  if (!ctx) {
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  }
  assert_int_equal(mdspf_zone_set_delivery(z, mode), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  if (helo) {
    assert_int_equal(mdspf_check_set_helo(chk, helo), MDSPF_OK);
  }
  assert_int_equal(mdspf_check_run(chk, 5000), MDSPF_OK);
  assert_true(mdspf_check_done(chk));
  o.result = mdspf_check_result(chk);
  o.reason = mdspf_check_reason(chk);
  o.terms = mdspf_check_dns_terms(chk);
  o.voids = mdspf_check_void_lookups(chk);
  o.queries = mdspf_check_queries(chk);
  o.source = mdspf_check_source(chk);
  copy(o.mech, sizeof o.mech, mdspf_check_mechanism(chk));
  copy(o.domain, sizeof o.domain, mdspf_check_domain(chk));
  copy(o.exp, sizeof o.exp, mdspf_check_explanation(chk));
  copy(o.problem, sizeof o.problem, mdspf_check_problem(chk));
  mdspf_check_free(chk);
  assert_int_equal(mdspf_zone_pending(z), 0);
  if (!ctx_in) {
    mdspf_ctx_free(ctx);
  }
  return o;
}

/* Same check in every delivery mode; all must agree.  Returns inline's. */
static outcome run_all(mdspf_zone *z, mdspf_ctx *ctx, const char *ip,
                       const char *sender) {
  outcome first = run(z, ctx, MODES[0], ip, sender, "helo.example.org");
  int m;
  for (m = 1; m < NMODES; m++) {
    outcome o = run(z, ctx, MODES[m], ip, sender, "helo.example.org");
    /* the delivery order must not change anything observable, the
     * number of queries sent included */
    if (o.result != first.result || o.terms != first.terms ||
        o.voids != first.voids || o.queries != first.queries ||
        strcmp(o.mech, first.mech) != 0 || strcmp(o.exp, first.exp) != 0) {
      print_error("mode %d disagrees: %s/%u/%u/%u/%s vs %s/%u/%u/%u/%s\n",
                  MODES[m], mdspf_result_str(o.result), o.terms, o.voids,
                  o.queries, o.mech, mdspf_result_str(first.result),
                  first.terms, first.voids, first.queries, first.mech);
      fail();
    }
  }
  return first;
}

static void expect_result(const outcome *o, int result) {
  if (o->result != result) {
    print_error("got %s (%s), want %s\n", mdspf_result_str(o->result),
                o->problem, mdspf_result_str(result));
  }
  assert_int_equal(o->result, result);
}

/* ---- semantics --------------------------------------------------------- */

static void test_eval_qualifiers_and_outcome(void **state) {
  mdspf_zone *z = zone_of(
      "q      TXT \"v=spf1 +ip4:192.0.2.1 -ip4:192.0.2.2 ~ip4:192.0.2.3 "
      "?ip4:192.0.2.4 exp=why.%{d}\"\n"
      "why.q  TXT \"%{i} is not allowed for %{d}\"\n"
      "n      TXT \"v=spf1 ip4:192.0.2.1\"\n");
  outcome o;
  (void)state;
  o = run_all(z, NULL, "192.0.2.1", "a@q.example.com");
  expect_result(&o, MDSPF_PASS);
  assert_string_equal(o.mech, "+ip4:192.0.2.1");
  assert_string_equal(o.domain, "q.example.com");
  assert_string_equal(o.exp, "");
  assert_int_equal(o.source, MDSPF_SRC_DNS);
  o = run_all(z, NULL, "192.0.2.2", "a@q.example.com");
  expect_result(&o, MDSPF_FAIL);
  assert_string_equal(o.exp, "192.0.2.2 is not allowed for q.example.com");
  o = run_all(z, NULL, "192.0.2.3", "a@q.example.com");
  expect_result(&o, MDSPF_SOFTFAIL);
  assert_string_equal(o.exp, "");
  o = run_all(z, NULL, "192.0.2.4", "a@q.example.com");
  expect_result(&o, MDSPF_NEUTRAL);
  o = run_all(z, NULL, "192.0.2.5", "a@q.example.com");
  expect_result(&o, MDSPF_NEUTRAL); /* no match, no redirect */
  assert_string_equal(o.mech, "");
  o = run_all(z, NULL, "192.0.2.5", "a@n.example.com");
  expect_result(&o, MDSPF_NEUTRAL);
  o = run_all(z, NULL, "192.0.2.5", "a@nowhere.example.com");
  expect_result(&o, MDSPF_NONE);
  mdspf_zone_free(z);
}

static void test_eval_default_explanation(void **state) {
  mdspf_zone *z = zone_of("d TXT \"v=spf1 -all\"\n");
  mdspf_ctx *ctx;
  outcome o;
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  o = run_all(z, ctx, "192.0.2.9", "joe@d.example.com");
  assert_string_equal(o.exp,
                      "192.0.2.9 is not one of d.example.com's designated "
                      "mail servers.");
  assert_int_equal(mdspf_ctx_set_receiver(ctx, "mx.example.net"), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_default_explanation(ctx, "%{l} at %{r}"),
                   MDSPF_OK);
  o = run_all(z, ctx, "192.0.2.9", "joe@d.example.com");
  assert_string_equal(o.exp, "joe at mx.example.net");
  assert_int_equal(mdspf_ctx_set_default_explanation(ctx, "bad %{"),
                   MDSPF_E_SYNTAX);
  assert_int_equal(mdspf_ctx_set_receiver(ctx, "bad name"), MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_set_receiver(ctx, ""), MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_set_receiver(ctx, NULL), MDSPF_OK);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

static void test_eval_mechanisms(void **state) {
  mdspf_zone *z = zone_of(
      "a      TXT \"v=spf1 a -all\"\n"
      "a      A 192.0.2.10\n"
      "a      AAAA 2001:db8::10\n"
      "c      TXT \"v=spf1 a:a.example.com/24//64 -all\"\n"
      "m      TXT \"v=spf1 mx -all\"\n"
      "m      MX 10 mx1\n"
      "m      MX 20 mx2\n"
      "mx1    A 192.0.2.20\n"
      "mx2    AAAA 2001:db8::20\n"
      "e      TXT \"v=spf1 exists:%{ir}.bl.example.com -all\"\n"
      "20.2.0.192.bl A 127.0.0.2\n"
      "i      TXT \"v=spf1 include:a.example.com -all\"\n"
      "p      TXT \"v=spf1 ptr -all\"\n"
      "30.2.0.192.in-addr.arpa. PTR host.p.example.com.\n"
      "host.p A 192.0.2.30\n"
      "6      TXT \"v=spf1 ip6:2001:db8::/32 ip4:192.0.2.0/24 -all\"\n");
  outcome o;
  (void)state;
  o = run_all(z, NULL, "192.0.2.10", "x@a.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "2001:db8::10", "x@a.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "192.0.2.11", "x@a.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, NULL, "192.0.2.200", "x@c.example.com");
  expect_result(&o, MDSPF_PASS); /* /24 */
  o = run_all(z, NULL, "2001:db8::ffff", "x@c.example.com");
  expect_result(&o, MDSPF_PASS); /* //64 */
  o = run_all(z, NULL, "192.0.2.20", "x@m.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "2001:db8::20", "x@m.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "192.0.2.20", "x@e.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "192.0.2.21", "x@e.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, NULL, "192.0.2.10", "x@i.example.com");
  expect_result(&o, MDSPF_PASS);
  assert_string_equal(o.mech, "include:a.example.com");
  o = run_all(z, NULL, "192.0.2.30", "x@p.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "192.0.2.31", "x@p.example.com");
  expect_result(&o, MDSPF_FAIL);
  /* IPv4-mapped IPv6 is IPv4: matches ip4, never ip6 */
  o = run_all(z, NULL, "::ffff:192.0.2.7", "x@6.example.com");
  expect_result(&o, MDSPF_PASS);
  assert_string_equal(o.mech, "ip4:192.0.2.0/24");
  mdspf_zone_free(z);
}

static void test_eval_cidr_edges(void **state) {
  mdspf_zone *z = zone_of(
      "z0 TXT \"v=spf1 ip4:0.0.0.0/0 -all\"\n"
      "z32 TXT \"v=spf1 ip4:192.0.2.1/32 -all\"\n"
      "s0 TXT \"v=spf1 ip6:::/0 -all\"\n"
      "s128 TXT \"v=spf1 ip6:2001:db8::1/128 -all\"\n"
      "a0 TXT \"v=spf1 a/0 -all\"\n"
      "a0 A 203.0.113.1\n");
  outcome o;
  (void)state;
  o = run_all(z, NULL, "198.51.100.77", "x@z0.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "2001:db8::1", "x@z0.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, NULL, "192.0.2.1", "x@z32.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "192.0.2.0", "x@z32.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, NULL, "2001:db8:ffff::9", "x@s0.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "192.0.2.1", "x@s0.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, NULL, "2001:db8::1", "x@s128.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "2001:db8::2", "x@s128.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, NULL, "192.0.2.99", "x@a0.example.com");
  expect_result(&o, MDSPF_PASS); /* any A record matches /0 */
  mdspf_zone_free(z);
}

static void test_eval_include_results(void **state) {
  mdspf_zone *z = zone_of(
      "ip5 TXT \"v=spf1 ip4:192.0.2.5 -all\"\n"
      "ip6 TXT \"v=spf1 ip4:192.0.2.6 ~all\"\n"
      "ip7 TXT \"v=spf1 ip4:192.0.2.7 ?all\"\n"
      "i1 TXT \"v=spf1 include:ip5.example.com ~all\"\n"
      "i2 TXT \"v=spf1 include:ip6.example.com all\"\n"
      "i3 TXT \"v=spf1 include:ip7.example.com -all\"\n"
      "i4 TXT \"v=spf1 include:tmo.example.com -all\"\n"
      "i5 TXT \"v=spf1 include:bad.example.com -all\"\n"
      "bad TXT \"v=spf1 include +all\"\n"
      "i6 TXT \"v=spf1 include:none.example.com -all\"\n"
      "none TXT \"not spf\"\n"
      "i7 TXT \"v=spf1 -include:ip5.example.com +all\"\n");
  outcome o;
  (void)state;
  assert_int_equal(mdspf_zone_set_fault(z, "tmo.example.com", 0,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  o = run_all(z, NULL, "1.2.3.4", "x@i1.example.com");
  expect_result(&o, MDSPF_SOFTFAIL); /* include fail: no match */
  o = run_all(z, NULL, "1.2.3.4", "x@i2.example.com");
  expect_result(&o, MDSPF_PASS);
  o = run_all(z, NULL, "1.2.3.4", "x@i3.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, NULL, "1.2.3.4", "x@i4.example.com");
  expect_result(&o, MDSPF_TEMPERROR);
  assert_int_equal(o.reason, MDSPF_E_DNS);
  o = run_all(z, NULL, "1.2.3.4", "x@i5.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_SYNTAX);
  assert_string_equal(o.domain, "bad.example.com");
  o = run_all(z, NULL, "1.2.3.4", "x@i6.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_NORECORD);
  o = run_all(z, NULL, "192.0.2.5", "x@i7.example.com");
  expect_result(&o, MDSPF_FAIL); /* include pass with "-" qualifier */
  mdspf_zone_free(z);
}

static void test_eval_redirect_and_exp(void **state) {
  mdspf_zone *z = zone_of(
      "r1 TXT \"v=spf1 exp=e1.example.com redirect=r2.example.com\"\n"
      "r2 TXT \"v=spf1 -all exp=e2.example.com\"\n"
      "e1 TXT \"not me\"\n"
      "e2 TXT \"from %{d}\"\n"
      "r3 TXT \"v=spf1 redirect=r4.example.com\"\n"
      "r5 TXT \"v=spf1 all redirect=r4.example.com\"\n"
      "r6 TXT \"v=spf1 redirect=%{d}.sub.example.com\"\n"
      "r6.example.com.sub TXT \"v=spf1 a -all\"\n"
      "r6.example.com.sub A 192.0.2.66\n"
      "x1 TXT \"v=spf1 -all exp=two.example.com\"\n"
      "two TXT \"one\"\n"
      "two TXT \"two\"\n"
      "x2 TXT \"v=spf1 -all exp=multi.example.com\"\n"
      "multi TXT \"a \" \"b\"\n");
  outcome o;
  (void)state;
  o = run_all(z, NULL, "1.2.3.4", "x@r1.example.com");
  expect_result(&o, MDSPF_FAIL);
  assert_string_equal(o.exp, "from r2.example.com");
  assert_string_equal(o.domain, "r2.example.com");
  o = run_all(z, NULL, "1.2.3.4", "x@r3.example.com");
  expect_result(&o, MDSPF_PERMERROR); /* redirect to a domain w/o record */
  assert_int_equal(o.reason, MDSPF_E_NORECORD);
  o = run_all(z, NULL, "1.2.3.4", "x@r5.example.com");
  expect_result(&o, MDSPF_PASS); /* redirect ignored with all */
  o = run_all(z, NULL, "192.0.2.66", "x@r6.example.com");
  expect_result(&o, MDSPF_PASS); /* %{d} of the redirect target */
  o = run_all(z, NULL, "1.2.3.4", "x@x1.example.com");
  assert_string_equal(o.exp,
                      "1.2.3.4 is not one of x1.example.com's designated mail "
                      "servers.");
  o = run_all(z, NULL, "1.2.3.4", "x@x2.example.com");
  assert_string_equal(o.exp, "a b"); /* strings joined, no separator */
  mdspf_zone_free(z);
}

static void test_eval_helo_and_identity(void **state) {
  mdspf_zone *z = zone_of(
      "h TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
      "s TXT \"v=spf1 -all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  outcome o;
  (void)state;
  /* empty MAIL FROM: the HELO identity, sender postmaster@helo */
  o = run(z, NULL, MDSPF_ZONE_INLINE, "192.0.2.1", "", "h.example.com");
  expect_result(&o, MDSPF_PASS);
  /* explicit HELO identity even with a sender */
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, "x@s.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_helo(chk, "h.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_identity(chk, MDSPF_ID_HELO), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
  assert_int_equal(mdspf_check_identity(chk), MDSPF_ID_HELO);
  assert_string_equal(mdspf_check_identity_domain(chk), "h.example.com");
  assert_string_equal(mdspf_check_client_ip(chk), "192.0.2.1");
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  /* invalid identities give none */
  o = run(z, NULL, MDSPF_ZONE_INLINE, "192.0.2.1", "", "A2345678");
  expect_result(&o, MDSPF_NONE);
  o = run(z, NULL, MDSPF_ZONE_INLINE, "192.0.2.1", "", "[192.0.2.1]");
  expect_result(&o, MDSPF_NONE);
  o = run(z, NULL, MDSPF_ZONE_INLINE, "192.0.2.1", "foo@[192.0.2.1]", NULL);
  expect_result(&o, MDSPF_NONE);
  /* no local part: postmaster (%{S} of the explanation shows it) */
  {
    mdspf_ctx *c2;
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &c2), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_default_explanation(c2, "id=%{S}"),
                     MDSPF_OK);
    o = run(z, c2, MDSPF_ZONE_INLINE, "192.0.2.2", "@s.example.com", NULL);
    expect_result(&o, MDSPF_FAIL);
    assert_string_equal(o.exp, "id=postmaster%40s.example.com");
    mdspf_ctx_free(c2);
  }
  mdspf_zone_free(z);
}

static void test_eval_p_macro(void **state) {
  mdspf_zone *z = zone_of(
      "e TXT \"v=spf1 -all exp=msg.example.com\"\n"
      "msg TXT \"connect from %{p}\"\n"
      "x TXT \"v=spf1 exists:%{p}.ok.example.com -all\"\n"
      "mx.e.example.com.ok A 127.0.0.2\n"
      "40.2.0.192.in-addr.arpa. PTR other.example.net.\n"
      "40.2.0.192.in-addr.arpa. PTR mx.e.example.com.\n"
      "mx.e A 192.0.2.40\n"
      "other.example.net. A 192.0.2.40\n"
      "41.2.0.192.in-addr.arpa. PTR nope.example.net.\n");
  outcome o;
  (void)state;
  o = run_all(z, NULL, "192.0.2.40", "a@e.example.com");
  assert_string_equal(o.exp, "connect from mx.e.example.com"); /* subdomain */
  o = run_all(z, NULL, "192.0.2.41", "a@e.example.com");
  assert_string_equal(o.exp, "connect from unknown"); /* not validated */
  o = run_all(z, NULL, "192.0.2.42", "a@e.example.com");
  assert_string_equal(o.exp, "connect from unknown"); /* no PTR */
  o = run_all(z, NULL, "192.0.2.40", "a@x.example.com");
  expect_result(&o, MDSPF_FAIL); /* %{p} picks other.example.net here */
  mdspf_zone_free(z);
}

/* ---- limits ------------------------------------------------------------ */

static void test_eval_dns_term_limit(void **state) {
  char zone[4096], *p = zone;
  mdspf_zone *z;
  outcome o;
  int k;
  (void)state;
  p += sprintf(p, "ten TXT \"v=spf1");
  for (k = 1; k <= 10; k++) {
    p += sprintf(p, " a:h%d.example.com", k);
  }
  p += sprintf(p, " ip4:192.0.2.1 -all\"\neleven TXT \"v=spf1");
  for (k = 1; k <= 11; k++) {
    p += sprintf(p, " a:h%d.example.com", k);
  }
  p += sprintf(p, " ip4:192.0.2.1 -all\"\n");
  for (k = 1; k <= 11; k++) {
    p += sprintf(p, "h%d A 198.51.100.%d\n", k, k);
  }
  z = zone_of(zone);
  o = run_all(z, NULL, "192.0.2.1", "x@ten.example.com");
  expect_result(&o, MDSPF_PASS);
  assert_int_equal(o.terms, 10);
  assert_int_equal(o.queries, 11); /* TXT + 10 A */
  o = run_all(z, NULL, "192.0.2.1", "x@eleven.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_LIMIT);
  assert_int_equal(o.terms, 11);
  assert_int_equal(o.queries, 11); /* the 11th term sends nothing */
  mdspf_zone_free(z);
}

static void test_eval_include_limit_and_loops(void **state) {
  mdspf_zone *z = zone_of(
      "loop1 TXT \"v=spf1 include:loop2.example.com -all\"\n"
      "loop2 TXT \"v=spf1 include:loop1.example.com -all\"\n"
      "self TXT \"v=spf1 include:self.example.com -all\"\n"
      "rl TXT \"v=spf1 ip4:1.1.1.1 redirect=rl.example.com\"\n"
      "t5 TXT \"v=spf1 redirect=t5.example.com ~all\"\n");
  outcome o;
  (void)state;
  o = run_all(z, NULL, "192.0.2.1", "x@loop1.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_LIMIT);
  assert_int_equal(o.terms, 11);
  o = run_all(z, NULL, "192.0.2.1", "x@self.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  o = run_all(z, NULL, "192.0.2.1", "x@rl.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.terms, 11);
  o = run_all(z, NULL, "192.0.2.1", "x@t5.example.com");
  expect_result(&o, MDSPF_SOFTFAIL); /* never reached */
  mdspf_zone_free(z);
}

static void test_eval_void_limit(void **state) {
  mdspf_zone *z = zone_of(
      "v2 TXT \"v=spf1 a:nx1.example.com a:nx2.example.com ?all\"\n"
      "v3 TXT \"v=spf1 a:nx1.example.com a:nx2.example.com "
      "a:nx3.example.com ?all\"\n"
      "nd TXT \"v=spf1 a:nodata.example.com mx:nodata.example.com "
      "exists:nodata.example.com ?all\"\n"
      "nodata TXT \"x\"\n"
      "ex TXT \"v=spf1 a:nx1.example.com a:nx2.example.com "
      "exp=nx3.example.com -all\"\n");
  outcome o;
  (void)state;
  o = run_all(z, NULL, "192.0.2.1", "x@v2.example.com");
  expect_result(&o, MDSPF_NEUTRAL);
  assert_int_equal(o.voids, 2);
  o = run_all(z, NULL, "192.0.2.1", "x@v3.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_LIMIT);
  assert_int_equal(o.voids, 3);
  o = run_all(z, NULL, "192.0.2.1", "x@nd.example.com");
  expect_result(&o, MDSPF_PERMERROR); /* NODATA counts as void too */
  o = run_all(z, NULL, "192.0.2.1", "x@ex.example.com");
  expect_result(&o, MDSPF_FAIL); /* exp lookups are not counted */
  assert_int_equal(o.voids, 2);
  mdspf_zone_free(z);
}

static void make_mx_zone(char *buf, int n, const char *name) {
  char *p = buf + strlen(buf);
  int k;
  p += sprintf(p, "%s TXT \"v=spf1 mx -all\"\n", name);
  for (k = 1; k <= n; k++) {
    p += sprintf(p, "%s MX %d mx%d.%s\n", name, k, k, name);
    p += sprintf(p, "mx%d.%s A 198.51.100.%d\n", k, name, k);
  }
}

static void test_eval_mx_limit(void **state) {
  char buf[8192] = "";
  mdspf_zone *z;
  outcome o;
  (void)state;
  make_mx_zone(buf, 10, "ten");
  make_mx_zone(buf, 11, "eleven");
  z = zone_of(buf);
  o = run_all(z, NULL, "198.51.100.10", "x@ten.example.com");
  expect_result(&o, MDSPF_PASS); /* the 10th name is still used */
  assert_int_equal(o.queries, 12); /* TXT + MX + 10 A */
  o = run_all(z, NULL, "198.51.100.1", "x@eleven.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_LIMIT);
  assert_int_equal(o.queries, 2); /* no address lookups at all */
  mdspf_zone_free(z);
}

static void test_eval_mx_order(void **state) {
  /* mx1 (preference 10) fails to resolve, mx2 (20) matches: a sequential
   * evaluation stops at mx1 with temperror, so must we, even when mx2's
   * answer arrives first (LIFO delivery). */
  mdspf_zone *z = zone_of("m TXT \"v=spf1 mx -all\"\n"
                          "m MX 20 mx2\n"
                          "m MX 10 mx1\n"
                          "mx2 A 192.0.2.2\n"
                          "n TXT \"v=spf1 mx -all\"\n"
                          "n MX 10 good\n"
                          "n MX 20 bad\n"
                          "good A 192.0.2.3\n");
  outcome o;
  (void)state;
  assert_int_equal(mdspf_zone_set_fault(z, "mx1.example.com", 0,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_set_fault(z, "bad.example.com", 0,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  o = run_all(z, NULL, "192.0.2.2", "x@m.example.com");
  expect_result(&o, MDSPF_TEMPERROR);
  o = run_all(z, NULL, "192.0.2.3", "x@n.example.com");
  expect_result(&o, MDSPF_PASS); /* match before the failing name */
  mdspf_zone_free(z);
}

static void test_eval_ptr_limit(void **state) {
  char buf[8192], *p = buf;
  mdspf_zone *z;
  outcome o;
  int k;
  (void)state;
  p += sprintf(p, "p TXT \"v=spf1 ptr -all\"\n");
  /* 192.0.2.10 has 11 PTR names, only the 11th validates */
  for (k = 1; k <= 11; k++) {
    p += sprintf(p, "10.2.0.192.in-addr.arpa. PTR n%d.p.example.com.\n", k);
    p += sprintf(p, "n%d.p A %s\n", k, k == 11 ? "192.0.2.10" : "203.0.113.1");
  }
  /* 192.0.2.11: the 10th of 11 names validates */
  for (k = 1; k <= 11; k++) {
    p += sprintf(p, "11.2.0.192.in-addr.arpa. PTR m%d.p.example.com.\n", k);
    p += sprintf(p, "m%d.p A %s\n", k, k == 10 ? "192.0.2.11" : "203.0.113.1");
  }
  z = zone_of(buf);
  o = run_all(z, NULL, "192.0.2.10", "x@p.example.com");
  expect_result(&o, MDSPF_FAIL); /* names past the 10th are ignored */
  assert_int_equal(o.queries, 12); /* TXT + PTR + 10 A */
  o = run_all(z, NULL, "192.0.2.11", "x@p.example.com");
  expect_result(&o, MDSPF_PASS);
  mdspf_zone_free(z);
}

static void test_eval_configurable_limits(void **state) {
  mdspf_zone *z = zone_of(
      "v TXT \"v=spf1 a:nx1.example.com a:nx2.example.com ?all\"\n");
  mdspf_ctx *ctx;
  outcome o;
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_DNS_TERMS), 10);
  assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS), 2);
  assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS), 20000);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS, 1),
                   MDSPF_OK);
  o = run_all(z, ctx, "192.0.2.1", "x@v.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, 1),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS, 5),
                   MDSPF_OK);
  o = run_all(z, ctx, "192.0.2.1", "x@v.example.com");
  expect_result(&o, MDSPF_PERMERROR);
  assert_int_equal(o.terms, 2);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, 0),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, 101),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_set_limit(ctx, 99, 1), MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_get_limit(ctx, 99), -1);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* ---- configuration hooks ---------------------------------------------- */

static void test_eval_local_guess_override_fallback(void **state) {
  mdspf_zone *z = zone_of(
      "l TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
      "plus TXT \"v=spf1 ip4:192.0.2.1 +all\"\n"
      "g A 192.0.2.50\n"
      "o TXT \"v=spf1 -all\"\n");
  mdspf_ctx *ctx;
  size_t off = 0;
  outcome o;
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_local_policy(ctx, "ip4:198.51.100.0/24",
                                              NULL),
                   MDSPF_OK);
  o = run_all(z, ctx, "198.51.100.9", "x@l.example.com");
  expect_result(&o, MDSPF_PASS);
  assert_int_equal(o.source, MDSPF_SRC_LOCAL);
  assert_string_equal(o.mech, "ip4:198.51.100.0/24");
  o = run_all(z, ctx, "203.0.113.9", "x@l.example.com");
  expect_result(&o, MDSPF_FAIL);
  assert_int_equal(o.source, MDSPF_SRC_DNS);
  assert_int_equal(mdspf_ctx_set_local_policy(ctx, "a:x.example.com moo",
                                              &off),
                   MDSPF_E_SYNTAX);
  assert_int_equal(off, 16);
  assert_int_equal(mdspf_ctx_set_local_policy(ctx, "redirect=x.example.com",
                                              &off),
                   MDSPF_E_SYNTAX);
  assert_int_equal(mdspf_ctx_set_local_policy(ctx, NULL, NULL), MDSPF_OK);
  /* best guess only when there is no record */
  assert_int_equal(mdspf_ctx_set_best_guess(ctx, "a/24 -all"), MDSPF_OK);
  o = run_all(z, ctx, "192.0.2.77", "x@g.example.com");
  expect_result(&o, MDSPF_PASS);
  assert_int_equal(o.source, MDSPF_SRC_GUESS);
  o = run_all(z, ctx, "192.0.2.1", "x@l.example.com");
  assert_int_equal(o.source, MDSPF_SRC_DNS);
  assert_int_equal(mdspf_ctx_set_best_guess(ctx, "v=spf1 bad:"),
                   MDSPF_E_SYNTAX);
  assert_int_equal(mdspf_ctx_set_best_guess(ctx, NULL), MDSPF_OK);
  /* override beats DNS; fallback only fills a gap */
  assert_int_equal(mdspf_ctx_add_override(ctx, "O.example.com.",
                                          "v=spf1 +all"),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_add_fallback(ctx, "l.example.com",
                                          "v=spf1 +all"),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_add_fallback(ctx, "missing.example.com",
                                          "v=spf1 ?all"),
                   MDSPF_OK);
  o = run_all(z, ctx, "203.0.113.9", "x@o.example.com");
  expect_result(&o, MDSPF_PASS);
  assert_int_equal(o.source, MDSPF_SRC_OVERRIDE);
  assert_int_equal(o.queries, 0);
  o = run_all(z, ctx, "203.0.113.9", "x@l.example.com");
  expect_result(&o, MDSPF_FAIL);
  o = run_all(z, ctx, "203.0.113.9", "x@missing.example.com");
  expect_result(&o, MDSPF_NEUTRAL);
  assert_int_equal(o.source, MDSPF_SRC_FALLBACK);
  assert_int_equal(mdspf_ctx_add_override(ctx, "o.example.com", NULL),
                   MDSPF_OK);
  o = run_all(z, ctx, "203.0.113.9", "x@o.example.com");
  expect_result(&o, MDSPF_FAIL);
  assert_int_equal(mdspf_ctx_add_override(ctx, "x.example.com", "junk"),
                   MDSPF_E_SYNTAX);
  {
    /* a borrowed, shared record: not copied, not freed by the context */
    mdspf_record *rec = NULL;
    assert_int_equal(mdspf_record_parse("v=spf1 ip4:203.0.113.0/24 -all", 30,
                                        NULL, NULL, &rec, NULL, NULL, NULL),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_add_override_record(ctx, "o.example.com", rec),
                     MDSPF_OK);
    o = run_all(z, ctx, "203.0.113.9", "x@o.example.com");
    expect_result(&o, MDSPF_PASS);
    assert_int_equal(o.source, MDSPF_SRC_OVERRIDE);
    /* replacing a borrowed entry by an owned one and back */
    assert_int_equal(mdspf_ctx_add_override(ctx, "o.example.com", "v=spf1 ?all"),
                     MDSPF_OK);
    o = run_all(z, ctx, "203.0.113.9", "x@o.example.com");
    expect_result(&o, MDSPF_NEUTRAL);
    assert_int_equal(mdspf_ctx_add_override_record(ctx, "o.example.com", rec),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_add_override_record(ctx, "o.example.com", NULL),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_add_override_record(ctx, "bad..name", rec),
                     MDSPF_E_INVAL);
    mdspf_record_free(rec);
  }
  assert_int_equal(mdspf_ctx_add_override(ctx, "", "v=spf1"), MDSPF_E_INVAL);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* ---- async behaviour ---------------------------------------------------- */

typedef struct cbstate {
  int calls;
  int free_in_cb;
  int free_ctx_in_cb;
  int run_in_cb;
  mdspf_ctx *ctx;
} cbstate;

static void on_done(mdspf_check *chk, void *user) {
  cbstate *s = user;
  s->calls++;
  if (s->run_in_cb) {
    s->run_in_cb = mdspf_check_run(chk, 10);
  }
  if (s->free_in_cb) {
    mdspf_check_free(chk);
  }
  if (s->free_ctx_in_cb) {
    mdspf_ctx_free(s->ctx);
  }
}

static mdspf_check *new_check(mdspf_ctx *ctx, const char *sender) {
  mdspf_check *chk = NULL;
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  return chk;
}

static void test_async_callback_once(void **state) {
  mdspf_zone *z = zone_of("a TXT \"v=spf1 include:b.example.com -all\"\n"
                          "b TXT \"v=spf1 ip4:192.0.2.1\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  cbstate s;
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  /* inline: completes before start returns */
  memset(&s, 0, sizeof s);
  chk = new_check(ctx, "x@a.example.com");
  assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_OK);
  assert_int_equal(s.calls, 1);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
  assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_E_STATE);
  mdspf_check_free(chk);
  /* deferred: only as answers are delivered */
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_FIFO),
                   MDSPF_OK);
  memset(&s, 0, sizeof s);
  chk = new_check(ctx, "x@a.example.com");
  assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_OK);
  assert_int_equal(s.calls, 0);
  assert_false(mdspf_check_done(chk));
  assert_int_equal(mdspf_zone_pending(z), 1);
  assert_int_equal(mdspf_zone_process(z, 1), 1);
  assert_int_equal(s.calls, 0);
  while (mdspf_zone_pending(z) > 0) {
    (void)mdspf_zone_process(z, 1);
  }
  assert_int_equal(s.calls, 1);
  assert_true(mdspf_check_done(chk));
  mdspf_check_free(chk);
  /* start refuses incomplete input */
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_set_ip(chk, "300.1.1.1"), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_E_INVAL);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

static void test_async_cancel(void **state) {
  mdspf_zone *z = zone_of("a TXT \"v=spf1 a:hang.example.com -all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  cbstate s;
  int m;
  (void)state;
  assert_int_equal(mdspf_zone_set_fault(z, "hang.example.com", 0,
                                        MDSPF_ZONE_HANG),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  for (m = 0; m < NMODES; m++) {
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    memset(&s, 0, sizeof s);
    chk = new_check(ctx, "x@a.example.com");
    assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_OK);
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 8);
    }
    assert_false(mdspf_check_done(chk));
    /* the configuration is a snapshot: changing it never waits for, nor
     * disturbs, a running check */
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
    mdspf_check_cancel(chk);
    assert_int_equal(s.calls, 0);
    assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
    assert_int_equal(mdspf_check_reason(chk), MDSPF_E_CANCELLED);
    mdspf_check_cancel(chk); /* idempotent */
    mdspf_check_free(chk);
    assert_int_equal(s.calls, 0);
    /* free without cancel also cancels */
    chk = new_check(ctx, "x@a.example.com");
    assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_OK);
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 8);
    }
    mdspf_check_free(chk);
    assert_int_equal(s.calls, 0);
  }
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

static void test_async_timeout(void **state) {
  mdspf_zone *z = zone_of("a TXT \"v=spf1 a:hang.example.com -all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  (void)state;
  assert_int_equal(mdspf_zone_set_fault(z, "hang.example.com", 0,
                                        MDSPF_ZONE_HANG),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 50),
                   MDSPF_OK);
  chk = new_check(ctx, "x@a.example.com");
  assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
  assert_int_equal(mdspf_check_reason(chk), MDSPF_E_TIMEOUT);
  assert_int_equal(mdspf_check_dns_terms(chk), 1);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

typedef struct timer_log {
  int calls;
  long last;
} timer_log;

static void on_timer(void *ud, long ms) {
  timer_log *t = ud;
  t->calls++;
  t->last = ms;
}

static void test_async_budget(void **state) {
  mdspf_zone *z = zone_of("a TXT \"v=spf1 a:hang.example.com -all\"\n"
                          "b TXT \"v=spf1 -all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *c1, *c2, *c3;
  cbstate s;
  timer_log t;
  struct timespec ts = {0, 60 * 1000000L};
  (void)state;
  memset(&t, 0, sizeof t);
  assert_int_equal(mdspf_zone_set_fault(z, "hang.example.com", 0,
                                        MDSPF_ZONE_HANG),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 40),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_timer(ctx, on_timer, &t), MDSPF_OK);
  assert_int_equal(t.calls, 1); /* installing reports the state: none */
  assert_int_equal(t.last, -1);
  assert_int_equal(mdspf_ctx_timeout(ctx), -1);
  memset(&s, 0, sizeof s);
  c1 = new_check(ctx, "x@a.example.com");
  assert_int_equal(mdspf_check_start(c1, on_done, &s), MDSPF_OK);
  assert_int_equal(t.calls, 2);
  assert_true(t.last >= 0 && t.last <= 40);
  assert_true(mdspf_ctx_timeout(ctx) >= 0);
  c2 = new_check(ctx, "x@a.example.com");
  assert_int_equal(mdspf_check_start(c2, on_done, &s), MDSPF_OK);
  /* a check that completes at once does not disturb the timer */
  c3 = new_check(ctx, "x@b.example.com");
  assert_int_equal(mdspf_check_start(c3, on_done, &s), MDSPF_OK);
  assert_int_equal(s.calls, 1);
  mdspf_ctx_process_timeouts(ctx); /* nothing due yet */
  assert_int_equal(s.calls, 1);
  nanosleep(&ts, NULL);
  assert_int_equal(mdspf_ctx_timeout(ctx), 0);
  mdspf_ctx_process_timeouts(ctx);
  assert_int_equal(s.calls, 3);
  assert_int_equal(mdspf_check_result(c1), MDSPF_TEMPERROR);
  assert_int_equal(mdspf_check_reason(c1), MDSPF_E_TIMEOUT);
  assert_int_equal(mdspf_check_reason(c2), MDSPF_E_TIMEOUT);
  assert_int_equal(t.last, -1); /* disarmed: nothing runs any more */
  assert_int_equal(mdspf_ctx_timeout(ctx), -1);
  mdspf_check_free(c1);
  mdspf_check_free(c2);
  mdspf_check_free(c3);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

static void test_async_free_inside_callback(void **state) {
  mdspf_zone *z = zone_of("a TXT \"v=spf1 mx -all\"\n"
                          "a MX 1 m1\n"
                          "a MX 2 m2\n"
                          "m2 A 192.0.2.1\n");
  mdspf_ctx *ctx;
  mdspf_check *chk, *idle;
  cbstate s;
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
    /* free the check in its own callback */
    memset(&s, 0, sizeof s);
    s.free_in_cb = 1;
    s.run_in_cb = 1;
    chk = new_check(ctx, "x@a.example.com");
    assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_OK);
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 1);
    }
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.run_in_cb, MDSPF_E_RECURSIVE);
    /* free the whole context in a callback, with another check pending */
    memset(&s, 0, sizeof s);
    s.free_ctx_in_cb = 1;
    s.ctx = ctx;
    chk = new_check(ctx, "x@a.example.com");
    idle = new_check(ctx, "x@a.example.com"); /* never started */
    assert_int_equal(mdspf_check_start(chk, on_done, &s), MDSPF_OK);
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 1);
    }
    assert_int_equal(s.calls, 1);
    assert_int_equal(mdspf_zone_pending(z), 0);
    /* the handles outlive the context until they are freed; a check of a
     * freed context cannot start */
    assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
    assert_int_equal(mdspf_check_start(idle, on_done, &s), MDSPF_E_STATE);
    mdspf_check_free(idle);
    mdspf_check_free(chk);
  }
  mdspf_zone_free(z);
}

static void test_async_many_checks_interleaved(void **state) {
  mdspf_zone *z = zone_of("a TXT \"v=spf1 mx ptr include:b.example.com -all\"\n"
                          "a MX 1 m1\n"
                          "m1 A 192.0.2.77\n"
                          "b TXT \"v=spf1 ip4:192.0.2.0/28 ~all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk[40];
  cbstate s;
  int k;
  (void)state;
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_LIFO),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  memset(&s, 0, sizeof s);
  for (k = 0; k < 40; k++) {
    char ip[32];
    assert_int_equal(mdspf_check_new(ctx, &chk[k]), MDSPF_OK);
    snprintf(ip, sizeof ip, "192.0.2.%d", k * 2);
    assert_int_equal(mdspf_check_set_ip(chk[k], ip), MDSPF_OK);
    assert_int_equal(mdspf_check_set_sender(chk[k], "x@a.example.com"),
                     MDSPF_OK);
    assert_int_equal(mdspf_check_start(chk[k], on_done, &s), MDSPF_OK);
  }
  assert_int_equal(s.calls, 0);
  while (mdspf_zone_pending(z) > 0) {
    (void)mdspf_zone_process(z, 3);
  }
  assert_int_equal(s.calls, 40);
  for (k = 0; k < 40; k++) {
    int want = k * 2 < 16 ? MDSPF_PASS : (k * 2 == 77 ? MDSPF_PASS : MDSPF_FAIL);
    assert_int_equal(mdspf_check_result(chk[k]), want);
    mdspf_check_free(chk[k]);
  }
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* A resolver whose query() always refuses. */
static int refuse_query(void *impl, mdspf_dns_query *q, const char *name,
                        int rrtype, void **token) {
  (void)impl;
  (void)q;
  (void)name;
  (void)rrtype;
  (void)token;
  return -1;
}
static void refuse_cancel(void *impl, void *token) {
  (void)impl;
  (void)token;
  fail(); /* never called: nothing is pending */
}

static void test_async_refusing_resolver(void **state) {
  mdspf_resolver r = {MDSPF_RESOLVER_V1, NULL, refuse_query, refuse_cancel,
                      NULL, NULL, NULL};
  mdspf_ctx *ctx;
  mdspf_check *chk;
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, &r), MDSPF_OK);
  chk = new_check(ctx, "x@a.example.com");
  assert_int_equal(mdspf_check_run(chk, 100), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
  assert_int_equal(mdspf_check_reason(chk), MDSPF_E_DNS);
  mdspf_check_free(chk);
  r.version = 99;
  assert_int_equal(mdspf_ctx_set_resolver(ctx, &r), MDSPF_E_INVAL);
  mdspf_ctx_free(ctx);
  /* no resolver at all */
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  chk = new_check(ctx, "x@a.example.com");
  assert_int_equal(mdspf_check_start(chk, NULL, NULL), MDSPF_E_NOTSUP);
  mdspf_ctx_free(ctx); /* the check's handle stays valid */
  mdspf_check_free(chk);
}

/* ---- trace ---------------------------------------------------------------- */

static void count_events(void *ud, const mdspf_event *ev) {
  int *counts = ud;
  char line[512];
  size_t need = 0;
  assert_non_null(mdspf_event_check(ev));
  assert_int_equal(mdspf_event_dns_terms(ev),
                   mdspf_check_dns_terms(mdspf_event_check(ev)));
  assert_int_equal(mdspf_event_format(ev, line, sizeof line, &need), MDSPF_OK);
  assert_int_equal(strlen(line), need);
  counts[mdspf_event_type(ev)]++;
}

static void test_trace_events(void **state) {
  mdspf_zone *z = zone_of("a TXT \"v=spf1 include:b.example.com -all\"\n"
                          "b TXT \"v=spf1 exists:%{l}.b.example.com ~all\"\n");
  mdspf_ctx *ctx;
  int counts[16];
  outcome o;
  (void)state;
  memset(counts, 0, sizeof counts);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_trace(ctx, count_events, counts), MDSPF_OK);
  o = run(z, ctx, MDSPF_ZONE_INLINE, "192.0.2.1", "joe@a.example.com", NULL);
  expect_result(&o, MDSPF_FAIL);
  assert_int_equal(counts[MDSPF_EV_RECORD], 2);
  assert_int_equal(counts[MDSPF_EV_INCLUDE], 1);
  assert_int_equal(counts[MDSPF_EV_RETURN], 1);
  assert_int_equal(counts[MDSPF_EV_EXPAND], 1);
  assert_int_equal(counts[MDSPF_EV_QUERY], 3);
  assert_int_equal(counts[MDSPF_EV_ANSWER], 3);
  assert_int_equal(counts[MDSPF_EV_TERM], 4);
  assert_int_equal(counts[MDSPF_EV_RESULT], 1);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* ---- out of memory ---------------------------------------------------------- */


static void test_eval_oom_every_allocation(void **state) {
  mdspf_zone *z = zone_of(
      "a TXT \"v=spf1 mx ptr:%{d} include:b.example.com exists:%{p}.x.%{d} "
      "-all exp=e.example.com\"\n"
      "a MX 1 m1\n"
      "m1 A 192.0.2.200\n"
      "b TXT \"v=spf1 a ~all\"\n"
      "b A 203.0.113.5\n"
      "1.2.0.192.in-addr.arpa. PTR m1.example.com.\n"
      "e TXT \"%{c} denied by %{o}\"\n");
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
      int rc;
      memset(&f, 0, sizeof f);
      f.fail_at = n;
      rc = mdspf_ctx_new(test_alloc_fn, &f, &ctx);
      if (rc != MDSPF_OK) {
        assert_int_equal(rc, MDSPF_E_NOMEM);
        assert_int_equal(f.live, 0);
        continue;
      }
      (void)mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z));
      rc = mdspf_check_new(ctx, &chk);
      if (rc == MDSPF_OK) {
        rc = mdspf_check_set_ip(chk, "192.0.2.1");
        if (rc == MDSPF_OK) {
          rc = mdspf_check_set_sender(chk, "x@a.example.com");
        }
        if (rc == MDSPF_OK) {
          rc = mdspf_check_run(chk, 1000);
          assert_int_equal(rc, MDSPF_OK);
          if (mdspf_check_reason(chk) == MDSPF_E_NOMEM) {
            assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
          } else {
            /* no allocation failed on the way: the real verdict */
            if (mdspf_check_result(chk) != MDSPF_FAIL) {
              print_error("mode %d n %ld: %s reason %d (%s)\n", m, n,
                          mdspf_result_str(mdspf_check_result(chk)),
                          mdspf_check_reason(chk),
                          mdspf_check_problem(chk) ? mdspf_check_problem(chk)
                                                   : "-");
            }
            assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
            /* a failure while fetching exp= text falls back to the
             * default explanation (RFC 7208 6.2), never to garbage */
            if (strcmp(mdspf_check_explanation(chk),
                       "192.0.2.1 denied by a.example.com") != 0) {
              assert_non_null(strstr(mdspf_check_explanation(chk),
                                     "designated mail servers"));
            }
            done = f.calls < n;
            if (done) {
              assert_string_equal(mdspf_check_explanation(chk),
                                  "192.0.2.1 denied by a.example.com");
            }
          }
        } else {
          assert_int_equal(rc, MDSPF_E_NOMEM);
        }
        mdspf_check_free(chk);
      } else {
        assert_int_equal(rc, MDSPF_E_NOMEM);
      }
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
      cmocka_unit_test(test_eval_qualifiers_and_outcome),
      cmocka_unit_test(test_eval_default_explanation),
      cmocka_unit_test(test_eval_mechanisms),
      cmocka_unit_test(test_eval_cidr_edges),
      cmocka_unit_test(test_eval_include_results),
      cmocka_unit_test(test_eval_redirect_and_exp),
      cmocka_unit_test(test_eval_helo_and_identity),
      cmocka_unit_test(test_eval_p_macro),
      cmocka_unit_test(test_eval_dns_term_limit),
      cmocka_unit_test(test_eval_include_limit_and_loops),
      cmocka_unit_test(test_eval_void_limit),
      cmocka_unit_test(test_eval_mx_limit),
      cmocka_unit_test(test_eval_mx_order),
      cmocka_unit_test(test_eval_ptr_limit),
      cmocka_unit_test(test_eval_configurable_limits),
      cmocka_unit_test(test_eval_local_guess_override_fallback),
      cmocka_unit_test(test_async_callback_once),
      cmocka_unit_test(test_async_cancel),
      cmocka_unit_test(test_async_timeout),
      cmocka_unit_test(test_async_budget),
      cmocka_unit_test(test_async_free_inside_callback),
      cmocka_unit_test(test_async_many_checks_interleaved),
      cmocka_unit_test(test_async_refusing_resolver),
      cmocka_unit_test(test_trace_events),
      cmocka_unit_test(test_eval_oom_every_allocation),
  };
  return cmocka_run_group_tests_name("eval", tests, NULL, NULL);
}

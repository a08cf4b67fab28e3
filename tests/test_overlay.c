/*
 * tests/test_overlay.c -- the overlay resolver (lib/resolvers/overlay.c) and
 * mdspf_zone_has: routing, answers relayed unchanged, every combination
 * of inline and deferred delivery on both sides, cancel of queries owned
 * by either side, freeing (also inside callbacks), out of memory, and the
 * what-if property: a record published in the top zone gives exactly
 * what the same record gives once published below (result, mechanism,
 * explanation, counters, queries, and the whole trace).
 * SPDX-License-Identifier: BSD-2-Clause
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "core/dnsq.h"
#include "test_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int MODES[] = {MDSPF_ZONE_INLINE, MDSPF_ZONE_DEFERRED_FIFO,
                            MDSPF_ZONE_DEFERRED_LIFO};
#define NMODES 3

/* ---- allocation accounting ------------------------------------------------
 */


/* ---- the world --------------------------------------------------------- */

/* "Below": the published DNS.  whatif.example.com has addresses and mail
 * exchangers but no SPF record; the tests publish one, either in a top
 * zone (through the overlay) or in a copy of this zone. */
static const char WORLD[] =
    "$ORIGIN example.com.\n"
    "@         MX 10 mail\n"
    "mail      A 192.0.2.10\n"
    "mail      AAAA 2001:db8::10\n"
    "mx2       A 192.0.2.20\n"
    "whatif    A 192.0.2.30\n"
    "whatif    AAAA 2001:db8::30\n"
    "whatif    MX 10 mail\n"
    "whatif    MX 20 mx2\n"
    "inc       TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n"
    "inc2      TXT \"v=spf1 include:inc.example.com ?all\"\n"
    "incmac    TXT \"v=spf1 a:%{l}.users.%{o} -all\"\n"
    "redir     TXT \"v=spf1 ip4:203.0.113.0/24 -all\"\n"
    "redirexp  TXT \"v=spf1 -all exp=exp2.example.com\"\n"
    "broken    TXT \"v=spf1 incldue:x -all\"\n"
    "exp       TXT \"%{i} is not allowed for %{d} (%{o})\"\n"
    "exp2      TXT \"redirected: %{d} says no to %{i}\"\n"
    "notspf    TXT \"hello world\"\n"
    "twice     TXT \"v=spf1 +all\"\n"
    "twice     TXT \"v=spf1 -all\"\n"
    "cname     CNAME mail.example.com.\n"
    "192.0.2.30.bl A 127.0.0.2\n"
    "alice.users.whatif A 192.0.2.40\n"
    "30.2.0.192.in-addr.arpa. PTR whatif.example.com.\n"
    "10.2.0.192.in-addr.arpa. PTR mail.example.com.\n"
    "mxmany MX 1 m1\nmxmany MX 2 m2\nmxmany MX 3 m3\nmxmany MX 4 m4\n"
    "mxmany MX 5 m5\nmxmany MX 6 m6\nmxmany MX 7 m7\nmxmany MX 8 m8\n"
    "mxmany MX 9 m9\nmxmany MX 10 m10\nmxmany MX 11 m11\n"
    "m11       A 192.0.2.111\n";

#define WHATIF "whatif.example.com"

static mdspf_zone *zone_of(const char *text) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  if (mdspf_zone_load(z, text, strlen(text), NULL, "test", err, sizeof err) !=
      MDSPF_OK) {
    print_error("zone: %s\n", err);
    fail();
  }
  return z;
}

static void add_txt(mdspf_zone *z, const char *name, const char *txt) {
  size_t len = strlen(txt);
  assert_int_equal(mdspf_zone_add_txt(z, name, &txt, &len, 1), MDSPF_OK);
}

/* The world with its faults (not expressible in a master file). */
static mdspf_zone *world(void) {
  mdspf_zone *z = zone_of(WORLD);
  mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  assert_int_equal(mdspf_zone_set_fault(z, "temp.example.com", MDSPF_RR_TXT,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  assert_int_equal(
      mdspf_zone_set_fault(z, "slow.example.com", 0, MDSPF_ZONE_TIMEOUT),
      MDSPF_OK);
  return z;
}

/* A top zone holding one TXT record (lax: long strings allowed). */
static mdspf_zone *top_with(const char *name, const char *txt) {
  mdspf_zone *z = NULL;
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  if (txt) {
    add_txt(z, name, txt);
  }
  return z;
}

/* ---- running checks --------------------------------------------------------
 */

typedef struct outcome {
  int result, reason, source;
  unsigned terms, voids, queries;
  char mech[256], domain[256], exp[512], problem[512];
  char trace[8192];
} outcome;

static void copy(char *dst, size_t n, const char *s) {
  snprintf(dst, n, "%s", s ? s : "");
}

static void collect_trace(void *ud, const mdspf_event *ev) {
  char *buf = ud;
  char line[1024];
  size_t used = strlen(buf);
  assert_int_equal(mdspf_event_format(ev, line, sizeof line, NULL), MDSPF_OK);
  snprintf(buf + used, sizeof((outcome *)0)->trace - used, "%d %s\n",
           mdspf_event_depth(ev), line);
}

/* One check through resolver r (driven by mdspf_check_run). */
static outcome run_on(const mdspf_resolver *r, const char *ip,
                      const char *sender, const char *helo) {
  mdspf_ctx *ctx = NULL;
  mdspf_check *chk = NULL;
  outcome o;
  memset(&o, 0, sizeof o);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, r), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_receiver(ctx, "mx.example.net"), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_trace(ctx, collect_trace, o.trace), MDSPF_OK);
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
  o.source = mdspf_check_source(chk);
  o.terms = mdspf_check_dns_terms(chk);
  o.voids = mdspf_check_void_lookups(chk);
  o.queries = mdspf_check_queries(chk);
  copy(o.mech, sizeof o.mech, mdspf_check_mechanism(chk));
  copy(o.domain, sizeof o.domain, mdspf_check_domain(chk));
  copy(o.exp, sizeof o.exp, mdspf_check_explanation(chk));
  copy(o.problem, sizeof o.problem, mdspf_check_problem(chk));
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  return o;
}

static void show(const char *what, const outcome *o) {
  print_error("  %s: %s reason %d source %d terms %u voids %u queries %u\n"
              "    mech '%s' domain '%s'\n    exp '%s'\n    problem '%s'\n",
              what, mdspf_result_str(o->result), o->reason, o->source, o->terms,
              o->voids, o->queries, o->mech, o->domain, o->exp, o->problem);
}

/* Equal outcomes; with_trace: the traces too. */
static void expect_same(const char *label, const outcome *got,
                        const outcome *want, int with_trace) {
  if (got->result != want->result || got->reason != want->reason ||
      got->source != want->source || got->terms != want->terms ||
      got->voids != want->voids || got->queries != want->queries ||
      strcmp(got->mech, want->mech) != 0 ||
      strcmp(got->domain, want->domain) != 0 ||
      strcmp(got->exp, want->exp) != 0 ||
      strcmp(got->problem, want->problem) != 0 ||
      (with_trace && strcmp(got->trace, want->trace) != 0)) {
    print_error("%s: overlay and published record disagree\n", label);
    show("overlay", got);
    show("published", want);
    if (with_trace) {
      print_error("--- overlay trace\n%s--- published trace\n%s", got->trace,
                  want->trace);
    }
    fail();
  }
}

/* ---- mdspf_zone_has
 * ---------------------------------------------------------- */

static void test_zone_has(void **state) {
  mdspf_zone *z = zone_of("$ORIGIN example.com.\n"
                          "a      A 192.0.2.1\n"
                          "a      TXT \"v=spf1 -all\"\n"
                          "x.y.z  MX 10 a\n"
                          "alias  CNAME a.example.com.\n");
  (void)state;
  assert_int_equal(mdspf_zone_has(z, "a.example.com", MDSPF_RR_A), 1);
  assert_int_equal(mdspf_zone_has(z, "a.example.com", MDSPF_RR_TXT), 1);
  assert_int_equal(mdspf_zone_has(z, "a.example.com", 0), 1);
  assert_int_equal(mdspf_zone_has(z, "a.example.com", MDSPF_RR_AAAA), 0);
  assert_int_equal(mdspf_zone_has(z, "a.example.com", MDSPF_RR_MX), 0);
  /* case-insensitive, one trailing dot ignored */
  assert_int_equal(mdspf_zone_has(z, "A.Example.COM", MDSPF_RR_TXT), 1);
  assert_int_equal(mdspf_zone_has(z, "a.example.com.", MDSPF_RR_TXT), 1);
  assert_int_equal(mdspf_zone_has(z, "A.EXAMPLE.COM.", 0), 1);
  assert_int_equal(mdspf_zone_has(z, "a.example.com..", MDSPF_RR_TXT), 0);
  /* empty non-terminals and missing names hold nothing */
  assert_int_equal(mdspf_zone_has(z, "y.z.example.com", 0), 0);
  assert_int_equal(mdspf_zone_has(z, "z.example.com", MDSPF_RR_MX), 0);
  assert_int_equal(mdspf_zone_has(z, "example.com", 0), 0);
  assert_int_equal(mdspf_zone_has(z, "nowhere.example.com", 0), 0);
  assert_int_equal(mdspf_zone_has(z, "x.y.z.example.com", MDSPF_RR_MX), 1);
  assert_int_equal(mdspf_zone_has(z, "x.y.z.example.com", MDSPF_RR_A), 0);
  /* a CNAME answers every type */
  assert_int_equal(mdspf_zone_has(z, "alias.example.com", MDSPF_RR_TXT), 1);
  assert_int_equal(mdspf_zone_has(z, "alias.example.com", MDSPF_RR_AAAA), 1);
  assert_int_equal(mdspf_zone_has(z, "alias.example.com", MDSPF_RR_CNAME), 1);
  assert_int_equal(mdspf_zone_has(z, "alias.example.com", 0), 1);
  /* faults: for one type, or for every type */
  assert_int_equal(mdspf_zone_set_fault(z, "f.example.com", MDSPF_RR_TXT,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_has(z, "f.example.com", MDSPF_RR_TXT), 1);
  assert_int_equal(mdspf_zone_has(z, "f.example.com", MDSPF_RR_A), 0);
  assert_int_equal(mdspf_zone_has(z, "F.example.com.", 0), 1);
  assert_int_equal(mdspf_zone_set_fault(z, "g.example.com", 0, MDSPF_ZONE_HANG),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_has(z, "g.example.com", MDSPF_RR_MX), 1);
  assert_int_equal(mdspf_zone_has(z, "g.example.com", MDSPF_RR_TXT), 1);
  assert_int_equal(mdspf_zone_set_fault(z, "a.example.com", MDSPF_RR_AAAA,
                                        MDSPF_ZONE_TIMEOUT),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_has(z, "a.example.com", MDSPF_RR_AAAA), 1);
  /* a removed fault no longer counts */
  assert_int_equal(mdspf_zone_set_fault(z, "f.example.com", MDSPF_RR_TXT,
                                        MDSPF_ZONE_NOFAULT),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_has(z, "f.example.com", MDSPF_RR_TXT), 0);
  assert_int_equal(mdspf_zone_has(z, "f.example.com", 0), 0);
  /* an empty TXT record (no strings) is a record */
  assert_int_equal(mdspf_zone_add_txt(z, "e.example.com", NULL, NULL, 0),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_has(z, "e.example.com", MDSPF_RR_TXT), 1);
  /* bad arguments */
  assert_int_equal(mdspf_zone_has(NULL, "a.example.com", 0), 0);
  assert_int_equal(mdspf_zone_has(z, NULL, 0), 0);
  assert_int_equal(mdspf_zone_has(z, "", 0), 0);
  assert_int_equal(mdspf_zone_has(z, "a..example.com", 0), 0);
  assert_int_equal(mdspf_zone_has(z, "a.example.com", -1), 0);
  {
    char longname[600];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(mdspf_zone_has(z, longname, 0), 0);
  }
  mdspf_zone_free(z);
}

/* ---- construction ----------------------------------------------------------
 */

static int nowait_query(void *impl, mdspf_dns_query *q, const char *name,
                        int rrtype, void **token) {
  const mdspf_resolver *zr = mdspf_zone_resolver(impl);
  return zr->query(zr->impl, q, name, rrtype, token);
}
static void nowait_cancel(void *impl, void *token) {
  const mdspf_resolver *zr = mdspf_zone_resolver(impl);
  zr->cancel(zr->impl, token);
}

static void test_overlay_new(void **state) {
  mdspf_zone *top = top_with(WHATIF, "v=spf1 -all");
  mdspf_zone *below = world();
  mdspf_overlay *o = NULL;
  mdspf_resolver bad = *mdspf_zone_resolver(below);
  mdspf_resolver nowait = {MDSPF_RESOLVER_V1, below, nowait_query,
                           nowait_cancel, NULL, NULL, NULL};
  test_alloc c;
  const mdspf_resolver *r;
  outcome res;
  (void)state;
  assert_int_equal(mdspf_overlay_new(NULL, NULL, top, NULL, NULL),
                   MDSPF_E_INVAL);
  assert_int_equal(
      mdspf_overlay_new(NULL, NULL, NULL, mdspf_zone_resolver(below), &o),
      MDSPF_E_INVAL);
  assert_null(o);
  assert_int_equal(mdspf_overlay_new(NULL, NULL, top, NULL, &o), MDSPF_E_INVAL);
  bad.version = 3;
  assert_int_equal(mdspf_overlay_new(NULL, NULL, top, &bad, &o), MDSPF_E_INVAL);
  bad = *mdspf_zone_resolver(below);
  bad.unref = NULL; /* ref without unref */
  assert_int_equal(mdspf_overlay_new(NULL, NULL, top, &bad, &o), MDSPF_E_INVAL);
  bad = *mdspf_zone_resolver(below);
  bad.cancel = NULL;
  assert_int_equal(mdspf_overlay_new(NULL, NULL, top, &bad, &o), MDSPF_E_INVAL);
  assert_null(mdspf_overlay_resolver(NULL));
  mdspf_overlay_free(NULL);
  /* allocation failure */
  memset(&c, 0, sizeof c);
  c.fail_at = 1;
  assert_int_equal(
      mdspf_overlay_new(test_alloc_fn, &c, top, mdspf_zone_resolver(below), &o),
      MDSPF_E_NOMEM);
  assert_null(o);
  assert_int_equal(c.live, 0);
  /* a normal one */
  memset(&c, 0, sizeof c);
  assert_int_equal(
      mdspf_overlay_new(test_alloc_fn, &c, top, mdspf_zone_resolver(below), &o),
      MDSPF_OK);
  r = mdspf_overlay_resolver(o);
  assert_non_null(r);
  assert_int_equal(r->version, MDSPF_RESOLVER_V2);
  assert_ptr_equal(r->impl, o);
  assert_non_null(r->query);
  assert_non_null(r->cancel);
  assert_non_null(r->wait);
  res = run_on(r, "192.0.2.30", "x@" WHATIF, NULL);
  assert_int_equal(res.result, MDSPF_FAIL);
  mdspf_overlay_free(o);
  assert_int_equal(c.live, 0);
  /* below without wait(): the overlay has none either; inline answers
   * still complete a blocking check */
  assert_int_equal(mdspf_overlay_new(NULL, NULL, top, &nowait, &o), MDSPF_OK);
  assert_null(mdspf_overlay_resolver(o)->wait);
  res = run_on(mdspf_overlay_resolver(o), "192.0.2.30", "x@" WHATIF, NULL);
  assert_int_equal(res.result, MDSPF_FAIL);
  mdspf_overlay_free(o);
  mdspf_zone_free(top);
  mdspf_zone_free(below);
}

/* ---- raw queries through the overlay ----------------------------------------
 */

typedef struct answer {
  int calls, status, rcode;
  unsigned nrr;
  char rr[8][128];
  mdspf_overlay *free_overlay; /* free it inside the callback */
} answer;

static void on_answer(mdspf_dns_query *q, void *ud) {
  answer *a = ud;
  size_t pos = 0;
  mdspf__rr rr;
  a->calls++;
  a->status = q->status;
  a->rcode = q->rcode;
  a->nrr = q->nrr;
  while (mdspf__dnsq_next(q, &pos, &rr)) {
    unsigned i = (unsigned)(a->nrr > 8 ? 8 : a->nrr);
    char *out = NULL;
    size_t k;
    for (k = 0; k < i; k++) {
      if (a->rr[k][0] == '\0') {
        out = a->rr[k];
        break;
      }
    }
    if (!out) {
      continue;
    }
    if (rr.kind == MDSPF__RK_ADDR && rr.family == 4) {
      snprintf(out, 128, "A %u.%u.%u.%u", rr.data[0], rr.data[1], rr.data[2],
               rr.data[3]);
    } else if (rr.kind == MDSPF__RK_ADDR) {
      snprintf(out, 128, "AAAA %02x%02x..%02x", rr.data[0], rr.data[1],
               rr.data[15]);
    } else if (rr.kind == MDSPF__RK_NAME) {
      snprintf(out, 128, "NAME %u %.*s", rr.pref, (int)rr.len,
               (const char *)rr.data);
    } else {
      snprintf(out, 128, "TXT %.*s", (int)rr.len, (const char *)rr.data);
    }
  }
  if (a->free_overlay) {
    mdspf_overlay_free(a->free_overlay);
    a->free_overlay = NULL;
  }
}

/* Send one query through r; the query is returned (free it once done or
 * after cancelling it). */
static mdspf_dns_query *send_q(const mdspf_resolver *r, const char *name,
                               int rrtype, answer *a, void **token, int *rc) {
  mdspf__allocator al;
  mdspf_dns_query *q;
  mdspf__allocator_init(&al, NULL, NULL);
  q = mdspf__dnsq_new(&al, name, strlen(name), rrtype, on_answer, a);
  assert_non_null(q);
  q->state = MDSPF__Q_PENDING;
  *rc = r->query(r->impl, q, q->name, rrtype, token);
  return q;
}

static void test_overlay_raw_answers(void **state) {
  mdspf_zone *below = world();
  mdspf_zone *top = top_with(WHATIF, "v=spf1 mx -all");
  mdspf_overlay *o;
  const mdspf_resolver *r;
  answer a;
  void *tok;
  int rc, t, b;
  mdspf_dns_query *q;
  (void)state;
  add_txt(top, WHATIF, "second string");
  assert_int_equal(mdspf_zone_add(top, "mx.top.example", MDSPF_RR_MX, "0 ."),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_add(top, "mx.top.example", MDSPF_RR_MX,
                                  "7 Host.Example.ORG."),
                   MDSPF_OK);
  assert_int_equal(
      mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
      MDSPF_OK);
  r = mdspf_overlay_resolver(o);
  for (t = 0; t < NMODES; t++) {
    for (b = 0; b < NMODES; b++) {
      unsigned long tq = mdspf_zone_queries(top);
      unsigned long bq = mdspf_zone_queries(below);
      assert_int_equal(mdspf_zone_set_delivery(top, MODES[t]), MDSPF_OK);
      assert_int_equal(mdspf_zone_set_delivery(below, MODES[b]), MDSPF_OK);
      /* TXT of whatif: from top, both records, in order */
      memset(&a, 0, sizeof a);
      q = send_q(r, WHATIF, MDSPF_RR_TXT, &a, &tok, &rc);
      assert_int_equal(rc, 0);
      assert_int_equal(a.calls, t == 0 ? 1 : 0);
      assert_true(t == 0 ? tok == NULL : tok != NULL);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.calls, 1);
      assert_int_equal(a.status, MDSPF_DNS_OK);
      assert_int_equal(a.rcode, 0);
      assert_int_equal(a.nrr, 2);
      assert_string_equal(a.rr[0], "TXT v=spf1 mx -all");
      assert_string_equal(a.rr[1], "TXT second string");
      mdspf__dnsq_free(q);
      assert_int_equal(mdspf_zone_queries(top), tq + 1);
      assert_int_equal(mdspf_zone_queries(below), bq);
      /* MX of whatif: from below, both exchangers */
      memset(&a, 0, sizeof a);
      q = send_q(r, "WHATIF.example.com", MDSPF_RR_MX, &a, &tok, &rc);
      assert_int_equal(rc, 0);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.status, MDSPF_DNS_OK);
      assert_int_equal(a.nrr, 2);
      assert_string_equal(a.rr[0], "NAME 10 mail.example.com");
      assert_string_equal(a.rr[1], "NAME 20 mx2.example.com");
      mdspf__dnsq_free(q);
      assert_int_equal(mdspf_zone_queries(below), bq + 1);
      /* null MX and names relayed as they are */
      memset(&a, 0, sizeof a);
      q = send_q(r, "mx.top.example", MDSPF_RR_MX, &a, &tok, &rc);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.nrr, 2);
      assert_string_equal(a.rr[0], "NAME 0 ");
      assert_string_equal(a.rr[1], "NAME 7 Host.Example.ORG");
      mdspf__dnsq_free(q);
      /* A and AAAA from below */
      memset(&a, 0, sizeof a);
      q = send_q(r, "mail.example.com", MDSPF_RR_AAAA, &a, &tok, &rc);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.nrr, 1);
      assert_string_equal(a.rr[0], "AAAA 2001..10");
      mdspf__dnsq_free(q);
      /* negative answers keep status and rcode */
      memset(&a, 0, sizeof a);
      q = send_q(r, "nowhere.example.com", MDSPF_RR_A, &a, &tok, &rc);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.status, MDSPF_DNS_NXDOMAIN);
      assert_int_equal(a.rcode, 3);
      assert_int_equal(a.nrr, 0);
      mdspf__dnsq_free(q);
      memset(&a, 0, sizeof a);
      q = send_q(r, "mx2.example.com", MDSPF_RR_TXT, &a, &tok, &rc);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.status, MDSPF_DNS_NODATA);
      assert_int_equal(a.rcode, 0);
      mdspf__dnsq_free(q);
      memset(&a, 0, sizeof a);
      q = send_q(r, "temp.example.com", MDSPF_RR_TXT, &a, &tok, &rc);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.status, MDSPF_DNS_TEMPFAIL);
      assert_int_equal(a.rcode, 2);
      mdspf__dnsq_free(q);
      memset(&a, 0, sizeof a);
      q = send_q(r, "slow.example.com", MDSPF_RR_A, &a, &tok, &rc);
      while (a.calls == 0) {
        assert_int_equal(r->wait(r->impl, 100), 0);
      }
      assert_int_equal(a.status, MDSPF_DNS_TEMPFAIL);
      assert_int_equal(a.rcode, -1);
      mdspf__dnsq_free(q);
      assert_int_equal(mdspf_zone_pending(top), 0);
      assert_int_equal(mdspf_zone_pending(below), 0);
    }
  }
  mdspf_overlay_free(o);
  mdspf_zone_free(top);
  mdspf_zone_free(below);
}

/* An answer that is too large below stays an error through the overlay;
 * one that fits is relayed whole. */
static void test_overlay_big_answers(void **state) {
  mdspf_zone *below = NULL;
  mdspf_zone *top = top_with("x.example", NULL);
  mdspf_overlay *o;
  answer a;
  void *tok;
  int rc, i;
  mdspf_dns_query *q;
  char buf[64];
  (void)state;
  assert_int_equal(mdspf_zone_new(NULL, NULL, &below), MDSPF_OK);
  for (i = 0; i < MDSPF_MAX_ANSWER_RRS; i++) {
    snprintf(buf, sizeof buf, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
             i & 255);
    assert_int_equal(mdspf_zone_add(below, "fits.example", MDSPF_RR_A, buf),
                     MDSPF_OK);
    assert_int_equal(mdspf_zone_add(below, "big.example", MDSPF_RR_A, buf),
                     MDSPF_OK);
  }
  assert_int_equal(
      mdspf_zone_add(below, "big.example", MDSPF_RR_A, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(
      mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
      MDSPF_OK);
  memset(&a, 0, sizeof a);
  q = send_q(mdspf_overlay_resolver(o), "fits.example", MDSPF_RR_A, &a, &tok,
             &rc);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, MDSPF_DNS_OK);
  assert_int_equal(a.nrr, MDSPF_MAX_ANSWER_RRS);
  mdspf__dnsq_free(q);
  memset(&a, 0, sizeof a);
  q = send_q(mdspf_overlay_resolver(o), "big.example", MDSPF_RR_A, &a, &tok,
             &rc);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, MDSPF_DNS_ERROR);
  assert_int_equal(a.nrr, 0);
  mdspf__dnsq_free(q);
  mdspf_overlay_free(o);
  mdspf_zone_free(top);
  mdspf_zone_free(below);
}

/* Cancel at either side, and freeing the overlay with queries out. */
static void test_overlay_raw_cancel_and_free(void **state) {
  mdspf_zone *below = world();
  mdspf_zone *top = top_with(WHATIF, "v=spf1 -all");
  mdspf_overlay *o;
  const mdspf_resolver *r;
  answer a1, a2, a3;
  void *t1, *t2, *t3;
  int rc, t, b;
  mdspf_dns_query *q1, *q2, *q3;
  test_alloc c;
  (void)state;
  assert_int_equal(
      mdspf_zone_set_fault(top, "hang.top.example", 0, MDSPF_ZONE_HANG),
      MDSPF_OK);
  assert_int_equal(
      mdspf_zone_set_fault(below, "hang.example.com", 0, MDSPF_ZONE_HANG),
      MDSPF_OK);
  for (t = 0; t < NMODES; t++) {
    for (b = 0; b < NMODES; b++) {
      assert_int_equal(mdspf_zone_set_delivery(top, MODES[t]), MDSPF_OK);
      assert_int_equal(mdspf_zone_set_delivery(below, MODES[b]), MDSPF_OK);
      memset(&c, 0, sizeof c);
      assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top,
                                         mdspf_zone_resolver(below), &o),
                       MDSPF_OK);
      r = mdspf_overlay_resolver(o);
      /* cancel a top query and a below query before their answers */
      memset(&a1, 0, sizeof a1);
      memset(&a2, 0, sizeof a2);
      memset(&a3, 0, sizeof a3);
      q1 = send_q(r, "hang.top.example", MDSPF_RR_TXT, &a1, &t1, &rc);
      assert_int_equal(rc, 0);
      assert_non_null(t1);
      q2 = send_q(r, "hang.example.com", MDSPF_RR_A, &a2, &t2, &rc);
      assert_int_equal(rc, 0);
      assert_non_null(t2);
      q3 = send_q(r, WHATIF, MDSPF_RR_A, &a3, &t3, &rc);
      assert_int_equal(rc, 0);
      assert_true(c.live > 0);
      if (b != 0) {
        /* deferred below: cancel the one with an answer queued too */
        assert_non_null(t3);
        r->cancel(r->impl, t3);
        mdspf__dnsq_free(q3);
        q3 = NULL;
      }
      r->cancel(r->impl, t1);
      r->cancel(r->impl, t2);
      mdspf__dnsq_free(q1);
      mdspf__dnsq_free(q2);
      assert_int_equal(mdspf_zone_pending(top), 0);
      assert_int_equal(mdspf_zone_pending(below), 0);
      assert_int_equal(r->wait(r->impl, 1), 0);
      assert_int_equal(a1.calls + a2.calls, 0);
      assert_int_equal(a3.calls, b == 0 ? 1 : 0);
      mdspf__dnsq_free(q3);
      /* everything the overlay allocated for them is gone */
      {
        long self = c.live;
        mdspf_overlay_free(o);
        assert_int_equal(c.live, 0);
        assert_true(self > 0);
      }
      /* free with queries out at both sides: withdrawn there and
       * completed with a temporary failure */
      memset(&c, 0, sizeof c);
      assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top,
                                         mdspf_zone_resolver(below), &o),
                       MDSPF_OK);
      r = mdspf_overlay_resolver(o);
      memset(&a1, 0, sizeof a1);
      memset(&a2, 0, sizeof a2);
      q1 = send_q(r, "hang.top.example", MDSPF_RR_TXT, &a1, &t1, &rc);
      q2 = send_q(r, "mail.example.com", MDSPF_RR_A, &a2, &t2, &rc);
      mdspf_overlay_free(o);
      assert_int_equal(c.live, 0);
      assert_int_equal(mdspf_zone_pending(top), 0);
      assert_int_equal(mdspf_zone_pending(below), 0);
      (void)mdspf_zone_process(below, 100);
      assert_int_equal(a1.calls, 1);
      assert_int_equal(a1.status, MDSPF_DNS_TEMPFAIL);
      assert_int_equal(a2.calls, 1);
      if (b != 0) {
        assert_int_equal(a2.status, MDSPF_DNS_TEMPFAIL);
      }
      mdspf__dnsq_free(q1);
      mdspf__dnsq_free(q2);
    }
  }
  mdspf_zone_free(top);
  mdspf_zone_free(below);
}

/* mdspf_overlay_free inside an answer callback delivered by the overlay's
 * wait(): postponed until wait() returns; the other query is cancelled. */
static void test_overlay_free_inside_callback(void **state) {
  mdspf_zone *below = world();
  mdspf_zone *top = top_with(WHATIF, "v=spf1 -all");
  int t, b;
  (void)state;
  for (t = 1; t < NMODES; t++) {
    for (b = 1; b < NMODES; b++) {
      mdspf_overlay *o;
      const mdspf_resolver *r;
      answer a1, a2;
      void *t1, *t2;
      int rc;
      mdspf_dns_query *q1, *q2;
      test_alloc c;
      memset(&c, 0, sizeof c);
      assert_int_equal(mdspf_zone_set_delivery(top, MODES[t]), MDSPF_OK);
      assert_int_equal(mdspf_zone_set_delivery(below, MODES[b]), MDSPF_OK);
      assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top,
                                         mdspf_zone_resolver(below), &o),
                       MDSPF_OK);
      r = mdspf_overlay_resolver(o);
      memset(&a1, 0, sizeof a1);
      memset(&a2, 0, sizeof a2);
      a1.free_overlay = o;
      q1 = send_q(r, WHATIF, MDSPF_RR_TXT, &a1, &t1, &rc);
      q2 = send_q(r, "mail.example.com", MDSPF_RR_A, &a2, &t2, &rc);
      assert_int_equal(r->wait(r->impl, 10), 0); /* delivers top first */
      assert_int_equal(a1.calls, 1);
      /* the free, once wait() returned, withdrew q2 from below and
       * failed it */
      assert_int_equal(a2.calls, 1);
      assert_int_equal(a2.status, MDSPF_DNS_TEMPFAIL);
      assert_int_equal(c.live, 0);
      assert_int_equal(mdspf_zone_pending(below), 0);
      mdspf__dnsq_free(q1);
      mdspf__dnsq_free(q2);
      /* also when the host drives a zone directly (not inside wait) */
      memset(&c, 0, sizeof c);
      assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top,
                                         mdspf_zone_resolver(below), &o),
                       MDSPF_OK);
      r = mdspf_overlay_resolver(o);
      memset(&a1, 0, sizeof a1);
      memset(&a2, 0, sizeof a2);
      a2.free_overlay = o;
      q1 = send_q(r, WHATIF, MDSPF_RR_TXT, &a1, &t1, &rc);
      q2 = send_q(r, "mail.example.com", MDSPF_RR_A, &a2, &t2, &rc);
      assert_int_equal(mdspf_zone_process(below, 10), 1);
      assert_int_equal(a2.calls, 1);
      assert_int_equal(c.live, 0);
      assert_int_equal(mdspf_zone_pending(top), 0);
      assert_int_equal(mdspf_zone_process(top, 10), 0);
      assert_int_equal(a1.calls, 1);
      assert_int_equal(a1.status, MDSPF_DNS_TEMPFAIL);
      mdspf__dnsq_free(q1);
      mdspf__dnsq_free(q2);
    }
  }
  mdspf_zone_free(top);
  mdspf_zone_free(below);
}

/* A side that refuses: the overlay refuses too and keeps nothing. */
static int refuse_query(void *impl, mdspf_dns_query *q, const char *name,
                        int rrtype, void **token) {
  (void)impl;
  (void)q;
  (void)name;
  (void)rrtype;
  *token = (void *)1;
  return -1;
}
static void refuse_cancel(void *impl, void *token) {
  (void)impl;
  (void)token;
  fail();
}
static int refuse_wait(void *impl, int ms) {
  (void)impl;
  (void)ms;
  return 0;
}

static void test_overlay_refusing_below(void **state) {
  mdspf_zone *top = top_with(WHATIF, "v=spf1 a -all");
  mdspf_resolver refuse = {MDSPF_RESOLVER_V1, NULL, refuse_query, refuse_cancel,
                           refuse_wait, NULL, NULL};
  mdspf_overlay *o;
  test_alloc c;
  outcome res;
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top, &refuse, &o),
                   MDSPF_OK);
  res = run_on(mdspf_overlay_resolver(o), "192.0.2.30", "x@" WHATIF, NULL);
  assert_int_equal(res.result, MDSPF_TEMPERROR);
  assert_int_equal(res.reason, MDSPF_E_DNS);
  assert_int_equal(res.queries, 2); /* TXT from top, A refused below */
  mdspf_overlay_free(o);
  assert_int_equal(c.live, 0);
  mdspf_zone_free(top);
}

/* ---- checks through the overlay
 * ----------------------------------------------- */

typedef struct cbstate {
  int calls;
} cbstate;

static void on_check(mdspf_check *chk, void *user) {
  cbstate *s = user;
  (void)chk;
  s->calls++;
}

static mdspf_check *start_check(mdspf_ctx *ctx, const char *ip,
                                const char *sender, cbstate *s) {
  mdspf_check *chk = NULL;
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_start(chk, on_check, s), MDSPF_OK);
  return chk;
}

/* Every delivery combination, driven by the host (mdspf_zone_process on
 * either zone, in a fixed alternation) instead of wait(). */
static void test_overlay_async_all_modes(void **state) {
  mdspf_zone *below = world();
  mdspf_zone *top =
      top_with(WHATIF, "v=spf1 mx include:inc.example.com a -all");
  int t, b;
  (void)state;
  for (t = 0; t < NMODES; t++) {
    for (b = 0; b < NMODES; b++) {
      mdspf_overlay *o;
      mdspf_ctx *ctx;
      mdspf_check *c1, *c2, *c3;
      cbstate s;
      test_alloc c;
      memset(&c, 0, sizeof c);
      memset(&s, 0, sizeof s);
      assert_int_equal(mdspf_zone_set_delivery(top, MODES[t]), MDSPF_OK);
      assert_int_equal(mdspf_zone_set_delivery(below, MODES[b]), MDSPF_OK);
      assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top,
                                         mdspf_zone_resolver(below), &o),
                       MDSPF_OK);
      assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
      assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_overlay_resolver(o)),
                       MDSPF_OK);
      c1 = start_check(ctx, "198.51.100.7", "x@" WHATIF, &s);
      c2 = start_check(ctx, "192.0.2.30", "x@" WHATIF, &s);
      c3 = start_check(ctx, "192.0.2.99", "x@" WHATIF, &s);
      while (mdspf_zone_pending(top) + mdspf_zone_pending(below) > 0) {
        (void)mdspf_zone_process(below, 1);
        (void)mdspf_zone_process(top, 1);
      }
      assert_int_equal(s.calls, 3);
      assert_int_equal(mdspf_check_result(c1), MDSPF_PASS);
      assert_string_equal(mdspf_check_mechanism(c1), "include:inc.example.com");
      assert_int_equal(mdspf_check_result(c2), MDSPF_PASS);
      assert_string_equal(mdspf_check_mechanism(c2), "a");
      assert_int_equal(mdspf_check_result(c3), MDSPF_FAIL);
      mdspf_check_free(c1);
      mdspf_check_free(c2);
      mdspf_check_free(c3);
      mdspf_ctx_free(ctx);
      mdspf_overlay_free(o);
      assert_int_equal(c.live, 0);
    }
  }
  mdspf_zone_free(top);
  mdspf_zone_free(below);
}

/* Cancel (and free) a running check whose outstanding query is owned by
 * top, or by below: no callback, nothing queued, nothing leaked. */
static void test_overlay_cancel_checks(void **state) {
  mdspf_zone *below = world();
  int t, b, side, how;
  (void)state;
  assert_int_equal(
      mdspf_zone_set_fault(below, "hang.example.com", 0, MDSPF_ZONE_HANG),
      MDSPF_OK);
  for (side = 0; side < 2; side++) {
    /* side 0: the hung query is answered by top, side 1: by below */
    mdspf_zone *top =
        top_with(WHATIF, side == 0 ? "v=spf1 a:hang.top.example -all"
                                   : "v=spf1 a:hang.example.com -all");
    assert_int_equal(
        mdspf_zone_set_fault(top, "hang.top.example", 0, MDSPF_ZONE_HANG),
        MDSPF_OK);
    for (t = 0; t < NMODES; t++) {
      for (b = 0; b < NMODES; b++) {
        for (how = 0; how < 2; how++) {
          mdspf_overlay *o;
          mdspf_ctx *ctx;
          mdspf_check *chk;
          cbstate s;
          test_alloc c, cc;
          memset(&c, 0, sizeof c);
          memset(&cc, 0, sizeof cc);
          memset(&s, 0, sizeof s);
          assert_int_equal(mdspf_zone_set_delivery(top, MODES[t]), MDSPF_OK);
          assert_int_equal(mdspf_zone_set_delivery(below, MODES[b]), MDSPF_OK);
          assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top,
                                             mdspf_zone_resolver(below), &o),
                           MDSPF_OK);
          assert_int_equal(mdspf_ctx_new(test_alloc_fn, &cc, &ctx), MDSPF_OK);
          assert_int_equal(
              mdspf_ctx_set_resolver(ctx, mdspf_overlay_resolver(o)), MDSPF_OK);
          chk = start_check(ctx, "192.0.2.1", "x@" WHATIF, &s);
          while (mdspf_zone_pending(top) + mdspf_zone_pending(below) > 0) {
            (void)mdspf_zone_process(top, 1);
            (void)mdspf_zone_process(below, 1);
          }
          assert_false(mdspf_check_done(chk));
          assert_int_equal(mdspf_check_queries(chk), 2);
          if (how == 0) {
            mdspf_check_cancel(chk);
            assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
            assert_int_equal(mdspf_check_reason(chk), MDSPF_E_CANCELLED);
          }
          mdspf_check_free(chk);
          assert_int_equal(s.calls, 0);
          /* nothing is left at either side */
          assert_int_equal(mdspf_zone_pending(top), 0);
          assert_int_equal(mdspf_zone_pending(below), 0);
          assert_int_equal(mdspf_zone_process(top, 10), 0);
          assert_int_equal(mdspf_zone_process(below, 10), 0);
          /* the overlay holds nothing but its handle any more, which
           * the context's configuration still refers to */
          mdspf_overlay_free(o);
          assert_true(c.live > 0);
          mdspf_ctx_free(ctx);
          assert_int_equal(c.live, 0);
          assert_int_equal(cc.live, 0);
        }
      }
    }
    mdspf_zone_free(top);
  }
  mdspf_zone_free(below);
}

/* The same check with the hung query at top or below times out through
 * mdspf_check_run (the overlay's wait passes the time). */
static void test_overlay_timeout(void **state) {
  mdspf_zone *below = world();
  int side;
  (void)state;
  assert_int_equal(
      mdspf_zone_set_fault(below, "hang.example.com", 0, MDSPF_ZONE_HANG),
      MDSPF_OK);
  for (side = 0; side < 2; side++) {
    mdspf_zone *top =
        top_with(WHATIF, side == 0 ? "v=spf1 a:hang.top.example -all"
                                   : "v=spf1 a:hang.example.com -all");
    mdspf_overlay *o;
    mdspf_ctx *ctx;
    mdspf_check *chk;
    assert_int_equal(
        mdspf_zone_set_fault(top, "hang.top.example", 0, MDSPF_ZONE_HANG),
        MDSPF_OK);
    assert_int_equal(
        mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
        MDSPF_OK);
    assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_overlay_resolver(o)),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, 30),
                     MDSPF_OK);
    assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
    assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
    assert_int_equal(mdspf_check_set_sender(chk, "x@" WHATIF), MDSPF_OK);
    assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
    assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
    assert_int_equal(mdspf_check_reason(chk), MDSPF_E_TIMEOUT);
    mdspf_check_free(chk);
    mdspf_ctx_free(ctx);
    mdspf_overlay_free(o);
    assert_int_equal(mdspf_zone_pending(top), 0);
    mdspf_zone_free(top);
  }
  mdspf_zone_free(below);
}

/* Out of memory in the overlay at every allocation: the query is refused
 * (temperror), never leaked; once nothing fails, the real verdict. */
static void test_overlay_oom(void **state) {
  mdspf_zone *below = world();
  mdspf_zone *top = top_with(
      WHATIF,
      "v=spf1 mx ptr include:inc2.example.com -all exp=exp.example.com");
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    long n;
    int done = 0;
    assert_int_equal(mdspf_zone_set_delivery(top, MODES[m]), MDSPF_OK);
    assert_int_equal(mdspf_zone_set_delivery(below, MODES[NMODES - 1 - m]),
                     MDSPF_OK);
    for (n = 2; !done && n < 1000; n++) {
      test_alloc c;
      mdspf_overlay *o = NULL;
      mdspf_ctx *ctx;
      mdspf_check *chk;
      memset(&c, 0, sizeof c);
      c.fail_at = n;
      assert_int_equal(mdspf_overlay_new(test_alloc_fn, &c, top,
                                         mdspf_zone_resolver(below), &o),
                       MDSPF_OK);
      assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
      assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_overlay_resolver(o)),
                       MDSPF_OK);
      assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
      assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.99"), MDSPF_OK);
      assert_int_equal(mdspf_check_set_sender(chk, "x@" WHATIF), MDSPF_OK);
      assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
      if (c.calls >= n) {
        /* an allocation failed: the result may be anything the failed
         * lookup leads to, but the check ended */
        assert_true(mdspf_check_done(chk));
      } else {
        assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
        assert_string_equal(mdspf_check_explanation(chk),
                            "192.0.2.99 is not allowed for " WHATIF " (" WHATIF
                            ")");
        done = 1;
      }
      mdspf_check_free(chk);
      mdspf_ctx_free(ctx);
      mdspf_overlay_free(o);
      assert_int_equal(c.live, 0);
      assert_int_equal(mdspf_zone_pending(top), 0);
      assert_int_equal(mdspf_zone_pending(below), 0);
    }
    assert_true(done);
  }
  mdspf_zone_free(top);
  mdspf_zone_free(below);
}

/* ---- the what-if property
 * ------------------------------------------------------ */

typedef struct case_ {
  const char *record;
  const char *ip;
  const char *sender; /* "" = the null sender: the HELO is checked */
  int want;           /* sanity check of the table itself */
} case_;

#define S "x@" WHATIF
static const case_ CASES[] = {
    {"v=spf1 -all", "192.0.2.1", S, MDSPF_FAIL},
    {"v=spf1 +all", "192.0.2.1", S, MDSPF_PASS},
    {"v=spf1 ?all", "192.0.2.1", S, MDSPF_NEUTRAL},
    {"v=spf1 ip4:192.0.2.1 -all", "192.0.2.1", S, MDSPF_PASS},
    {"v=spf1 ip4:192.0.2.0/24 ~all", "198.51.100.1", S, MDSPF_SOFTFAIL},
    {"v=spf1 ip6:2001:db8::/32 -all", "2001:db8::99", S, MDSPF_PASS},
    {"v=spf1 -ip4:192.0.2.1 +all", "192.0.2.1", S, MDSPF_FAIL},
    {"v=spf1 a -all", "192.0.2.30", S, MDSPF_PASS},
    {"v=spf1 a/24 -all", "192.0.2.77", S, MDSPF_PASS},
    {"v=spf1 a//64 -all", "2001:db8::31", S, MDSPF_PASS},
    {"v=spf1 a:mail.example.com -all", "192.0.2.10", S, MDSPF_PASS},
    {"v=spf1 a:cname.example.com -all", "192.0.2.10", S, MDSPF_PASS},
    {"v=spf1 mx -all", "192.0.2.20", S, MDSPF_PASS},
    {"v=spf1 mx:example.com/24 -all", "192.0.2.200", S, MDSPF_PASS},
    {"v=spf1 mx:mxmany.example.com -all", "192.0.2.111", S, MDSPF_PERMERROR},
    {"v=spf1 ptr -all", "192.0.2.30", S, MDSPF_PASS},
    {"v=spf1 ptr:example.com -all", "192.0.2.10", S, MDSPF_PASS},
    {"v=spf1 exists:%{i}.bl.example.com -all", "192.0.2.30", S, MDSPF_PASS},
    {"v=spf1 a:%{l}.users.%{d} -all", "192.0.2.40", "alice@" WHATIF,
     MDSPF_PASS},
    {"v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all", "192.0.2.1", S, MDSPF_FAIL},
    {"v=spf1 include:inc.example.com -all", "198.51.100.9", S, MDSPF_PASS},
    {"v=spf1 include:inc2.example.com -all", "198.51.100.9", S, MDSPF_PASS},
    {"v=spf1 include:inc2.example.com -all", "192.0.2.1", S, MDSPF_FAIL},
    {"v=spf1 include:incmac.example.com -all", "192.0.2.40", "alice@" WHATIF,
     MDSPF_PASS},
    {"v=spf1 redirect=redir.example.com", "203.0.113.5", S, MDSPF_PASS},
    {"v=spf1 redirect=redirexp.example.com", "203.0.113.5", S, MDSPF_FAIL},
    {"v=spf1 -all exp=exp.example.com", "192.0.2.1", S, MDSPF_FAIL},
    {"v=spf1 include:inc.example.com -all exp=exp2.example.com", "192.0.2.1", S,
     MDSPF_FAIL},
    {"v=spf1 -all exp=nowhere.example.com", "192.0.2.1", S, MDSPF_FAIL},
    {"v=spf1 include:broken.example.com -all", "192.0.2.1", S, MDSPF_PERMERROR},
    {"v=spf1 include:notspf.example.com -all", "192.0.2.1", S, MDSPF_PERMERROR},
    {"v=spf1 include:twice.example.com -all", "192.0.2.1", S, MDSPF_PERMERROR},
    {"v=spf1 include:temp.example.com -all", "192.0.2.1", S, MDSPF_TEMPERROR},
    {"v=spf1 a:slow.example.com -all", "192.0.2.1", S, MDSPF_TEMPERROR},
    {"v=spf1 a:nx1.example.com a:nx2.example.com a:nx3.example.com -all",
     "192.0.2.1", S, MDSPF_PERMERROR},
    {"v=spf1 a a a a a a a a a a a -all", "192.0.2.99", S, MDSPF_PERMERROR},
    {"v=spf1 include:" WHATIF " -all", "192.0.2.1", S, MDSPF_PERMERROR},
    {"v=spf1 redirect=" WHATIF, "192.0.2.1", S, MDSPF_PERMERROR},
    {"v=spf1 incldue:x -all", "192.0.2.1", S, MDSPF_PERMERROR},
    {"v=spf1 ip4:192.0.2.300 -all", "192.0.2.1", S, MDSPF_PERMERROR},
    {"hello, not an SPF record", "192.0.2.1", S, MDSPF_NONE},
    {"v=spf1 a mx -all", "192.0.2.30", "", MDSPF_PASS},
    {"v=spf1 mx/24 include:inc.example.com ip4:10.0.0.0/8 moo=cow ~all",
     "10.1.2.3", S, MDSPF_PASS},
};
#undef S

/* The published variant: the world plus the record at whatif. */
static mdspf_zone *world_with(const char *record) {
  mdspf_zone *z = world();
  add_txt(z, WHATIF, record);
  return z;
}

static void test_overlay_equivalence(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    const case_ *k = &CASES[i];
    const char *helo = k->sender[0] ? "helo.example.net" : WHATIF;
    mdspf_zone *pub = world_with(k->record);
    mdspf_zone *below = world();
    mdspf_zone *top = top_with(WHATIF, k->record);
    outcome want, got;
    char label[512];
    int t, b, m;
    snprintf(label, sizeof label, "case %zu '%s'", i, k->record);
    want = run_on(mdspf_zone_resolver(pub), k->ip, k->sender, helo);
    if (want.result != k->want) {
      print_error("%s: published gives %s, the table says %s\n", label,
                  mdspf_result_str(want.result), mdspf_result_str(k->want));
      show("published", &want);
      fail();
    }
    /* published, other deliveries: the reference itself is stable */
    for (m = 1; m < NMODES; m++) {
      outcome o;
      assert_int_equal(mdspf_zone_set_delivery(pub, MODES[m]), MDSPF_OK);
      o = run_on(mdspf_zone_resolver(pub), k->ip, k->sender, helo);
      expect_same(label, &o, &want, 0);
    }
    for (t = 0; t < NMODES; t++) {
      for (b = 0; b < NMODES; b++) {
        mdspf_overlay *o;
        assert_int_equal(mdspf_zone_set_delivery(top, MODES[t]), MDSPF_OK);
        assert_int_equal(mdspf_zone_set_delivery(below, MODES[b]), MDSPF_OK);
        assert_int_equal(
            mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
            MDSPF_OK);
        got = run_on(mdspf_overlay_resolver(o), k->ip, k->sender, helo);
        /* all inline: the traces are identical, query by query */
        expect_same(label, &got, &want, t == 0 && b == 0);
        mdspf_overlay_free(o);
        assert_int_equal(mdspf_zone_pending(top), 0);
        assert_int_equal(mdspf_zone_pending(below), 0);
      }
    }
    mdspf_zone_free(top);
    mdspf_zone_free(below);
    mdspf_zone_free(pub);
  }
}

/* A record published in top hides the name's TXT records below (here an
 * older SPF record): the outcome is the new record's, as if it replaced
 * the old one. */
static void test_overlay_hides_below(void **state) {
  mdspf_zone *below = world();
  mdspf_zone *pub = world();
  mdspf_zone *top = top_with(WHATIF, "v=spf1 ip4:192.0.2.1 -all");
  mdspf_overlay *o;
  outcome got, want, old;
  (void)state;
  add_txt(below, WHATIF, "v=spf1 +all");
  add_txt(below, WHATIF, "google-site-verification=xyz");
  add_txt(pub, WHATIF, "v=spf1 ip4:192.0.2.1 -all");
  old = run_on(mdspf_zone_resolver(below), "192.0.2.2", "x@" WHATIF, NULL);
  assert_int_equal(old.result, MDSPF_PASS);
  assert_int_equal(
      mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
      MDSPF_OK);
  got = run_on(mdspf_overlay_resolver(o), "192.0.2.2", "x@" WHATIF, NULL);
  want = run_on(mdspf_zone_resolver(pub), "192.0.2.2", "x@" WHATIF, NULL);
  assert_int_equal(got.result, MDSPF_FAIL);
  expect_same("hides below", &got, &want, 1);
  mdspf_overlay_free(o);
  /* faults in top win over records below */
  assert_int_equal(mdspf_zone_set_fault(top, "inc.example.com", MDSPF_RR_TXT,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  mdspf_zone_free(top);
  top = top_with(WHATIF, "v=spf1 include:inc.example.com -all");
  assert_int_equal(mdspf_zone_set_fault(top, "inc.example.com", MDSPF_RR_TXT,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  assert_int_equal(
      mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
      MDSPF_OK);
  got = run_on(mdspf_overlay_resolver(o), "198.51.100.1", "x@" WHATIF, NULL);
  assert_int_equal(got.result, MDSPF_TEMPERROR);
  mdspf_overlay_free(o);
  /* a long record (one string over 255 octets, allowed by LAX) */
  {
    char rec[1024];
    int k;
    size_t len;
    mdspf_zone_free(top);
    strcpy(rec, "v=spf1");
    for (k = 0; k < 40; k++) {
      len = strlen(rec);
      snprintf(rec + len, sizeof rec - len, " ip4:198.51.%d.0/24", k);
    }
    strcat(rec, " -all");
    assert_true(strlen(rec) > 255);
    top = top_with(WHATIF, rec);
    mdspf_zone_free(pub);
    pub = world_with(rec);
    assert_int_equal(
        mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
        MDSPF_OK);
    got = run_on(mdspf_overlay_resolver(o), "198.51.39.1", "x@" WHATIF, NULL);
    want = run_on(mdspf_zone_resolver(pub), "198.51.39.1", "x@" WHATIF, NULL);
    expect_same("long record", &got, &want, 1);
    if (got.result != MDSPF_PASS) {
      show("long record", &got);
    }
    assert_int_equal(got.result, MDSPF_PASS);
    mdspf_overlay_free(o);
  }
  mdspf_zone_free(top);
  mdspf_zone_free(pub);
  mdspf_zone_free(below);
}

/* A record for a name that does not exist below: once published the
 * name exists, so its other types are NODATA, not NXDOMAIN -- through
 * the overlay too (same traces). */
static void test_overlay_new_name(void **state) {
  static const char *const recs[] = {
      "v=spf1 a mx -all",
      "v=spf1 a/24 mx:new.example.org ptr -all",
      "v=spf1 exists:%{d} -all",
      "v=spf1 a a:new.example.org -all",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof recs / sizeof recs[0]; i++) {
    mdspf_zone *below = world();
    mdspf_zone *pub = world();
    mdspf_zone *top = top_with("new.example.org", recs[i]);
    mdspf_overlay *o;
    outcome got, want;
    answer a;
    void *tok;
    int rc;
    mdspf_dns_query *q;
    add_txt(pub, "new.example.org", recs[i]);
    assert_int_equal(
        mdspf_overlay_new(NULL, NULL, top, mdspf_zone_resolver(below), &o),
        MDSPF_OK);
    got = run_on(mdspf_overlay_resolver(o), "192.0.2.1", "x@new.example.org",
                 NULL);
    want = run_on(mdspf_zone_resolver(pub), "192.0.2.1", "x@new.example.org",
                  NULL);
    expect_same(recs[i], &got, &want, 1);
    assert_true(got.result == MDSPF_FAIL || got.result == MDSPF_PERMERROR);
    /* raw: NODATA with rcode 0 for another type, NXDOMAIN for others */
    memset(&a, 0, sizeof a);
    q = send_q(mdspf_overlay_resolver(o), "NEW.example.org.", MDSPF_RR_AAAA,
               &a, &tok, &rc);
    assert_int_equal(a.status, MDSPF_DNS_NODATA);
    assert_int_equal(a.rcode, 0);
    mdspf__dnsq_free(q);
    memset(&a, 0, sizeof a);
    q = send_q(mdspf_overlay_resolver(o), "other.example.org", MDSPF_RR_A, &a,
               &tok, &rc);
    assert_int_equal(a.status, MDSPF_DNS_NXDOMAIN);
    assert_int_equal(a.rcode, 3);
    mdspf__dnsq_free(q);
    mdspf_overlay_free(o);
    mdspf_zone_free(top);
    mdspf_zone_free(pub);
    mdspf_zone_free(below);
  }
}

/* Overlays stack: an overlay below another overlay. */
static void test_overlay_stacked(void **state) {
  mdspf_zone *below = world();
  mdspf_zone *mid = top_with("inc.example.com", "v=spf1 ip4:192.0.2.55 -all");
  mdspf_zone *top = top_with(WHATIF, "v=spf1 include:inc.example.com -all");
  mdspf_overlay *o1, *o2;
  outcome got;
  int t;
  (void)state;
  for (t = 0; t < NMODES; t++) {
    assert_int_equal(mdspf_zone_set_delivery(mid, MODES[t]), MDSPF_OK);
    assert_int_equal(mdspf_zone_set_delivery(below, MODES[NMODES - 1 - t]),
                     MDSPF_OK);
    assert_int_equal(
        mdspf_overlay_new(NULL, NULL, mid, mdspf_zone_resolver(below), &o1),
        MDSPF_OK);
    assert_int_equal(
        mdspf_overlay_new(NULL, NULL, top, mdspf_overlay_resolver(o1), &o2),
        MDSPF_OK);
    got = run_on(mdspf_overlay_resolver(o2), "192.0.2.55", "x@" WHATIF, NULL);
    assert_int_equal(got.result, MDSPF_PASS);
    assert_int_equal(got.queries, 2);
    got = run_on(mdspf_overlay_resolver(o2), "198.51.100.1", "x@" WHATIF, NULL);
    assert_int_equal(got.result, MDSPF_FAIL);
    mdspf_overlay_free(o2);
    mdspf_overlay_free(o1);
  }
  mdspf_zone_free(top);
  mdspf_zone_free(mid);
  mdspf_zone_free(below);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zone_has),
      cmocka_unit_test(test_overlay_new),
      cmocka_unit_test(test_overlay_raw_answers),
      cmocka_unit_test(test_overlay_big_answers),
      cmocka_unit_test(test_overlay_raw_cancel_and_free),
      cmocka_unit_test(test_overlay_free_inside_callback),
      cmocka_unit_test(test_overlay_refusing_below),
      cmocka_unit_test(test_overlay_async_all_modes),
      cmocka_unit_test(test_overlay_cancel_checks),
      cmocka_unit_test(test_overlay_timeout),
      cmocka_unit_test(test_overlay_oom),
      cmocka_unit_test(test_overlay_equivalence),
      cmocka_unit_test(test_overlay_hides_below),
      cmocka_unit_test(test_overlay_new_name),
      cmocka_unit_test(test_overlay_stacked),
  };
  return cmocka_run_group_tests_name("overlay", tests, NULL, NULL);
}

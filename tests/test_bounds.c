/*
 * tests/test_bounds.c -- resource bounds proved on hostile zones: the
 * exact ceiling of DNS queries one check can send, memory per check,
 * nesting depth, oversized records and answers.
 *
 * The query ceiling.  Only these send queries: the record lookup of the
 * checked domain (1), each DNS-querying term (at most T of them, RFC 7208
 * 4.6.4), the PTR names of the client (one PTR lookup and at most P
 * address lookups per check, shared by every ptr mechanism and %{p}), and
 * the exp= lookup (1).  The most expensive term is mx: one MX lookup plus
 * at most M address lookups.  So no check can ever send more than
 *
 *     1 + T * (1 + M) + (1 + P) + 1
 *
 * queries: 123 with the RFC defaults T = M = P = 10.  The tests below
 * build zones that reach the ceiling exactly, for the defaults and for
 * raised limits, and show that going past a limit sends nothing more.
 *
 * That is what the evaluation asks (mdspf_check_queries), with lookahead
 * (MDSPF_LIMIT_LOOKAHEAD, on by default) or without it.  Lookahead also
 * sends lookups ahead that the evaluation may never use
 * (mdspf_check_wasted): at most min(lookahead, T) are outstanding at any
 * time and they are cancelled at the verdict, so where no answer fails
 * and the memory budget is not reached no more than T of them are
 * wasted; the zone receives the sum of both.
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

/* A growable text buffer for generated zones. */
typedef struct text {
  char *p;
  size_t len, cap;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void add(text *t, const char *fmt, ...) {
  va_list ap;
  int n;
  char probe[1];
  for (;;) {
    size_t room = t->cap - t->len;
    va_start(ap, fmt);
    /* (never a NULL destination: compilers warn about it at -O3) */
    n = t->p ? vsnprintf(t->p + t->len, room, fmt, ap)
             : vsnprintf(probe, sizeof probe, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if ((size_t)n < room) {
      t->len += (size_t)n;
      return;
    }
    t->cap = (t->cap + (size_t)n + 1) * 2;
    t->p = realloc(t->p, t->cap);
    assert_non_null(t->p);
  }
}

static mdspf_zone *zone_of(text *t) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  if (mdspf_zone_load(z, t->p, t->len, "example.com.", "bounds", err,
                      sizeof err) != MDSPF_OK) {
    print_error("%s\n", err);
    fail();
  }
  free(t->p);
  memset(t, 0, sizeof *t);
  return z;
}

/* Counting allocator: live and peak bytes. */
typedef struct meter {
  long live, peak;
} meter;

static void *meter_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  meter *m = ud;
  if (nsize == 0) {
    m->live -= (long)osize;
    free(ptr);
    return NULL;
  }
  ptr = realloc(ptr, nsize);
  if (ptr) {
    m->live += (long)nsize - (long)osize;
    if (m->live > m->peak) {
      m->peak = m->live;
    }
  }
  return ptr;
}

typedef struct run_out {
  int result, reason;
  unsigned terms, queries, wasted;
  long peak;
  size_t budget_peak; /* what the check counted against its budget */
} run_out;

/* The check's memory budget of the next check() calls (0: default),
 * and their lookahead (-1: default). */
static long g_check_memory;
static long g_lookahead = -1;

static run_out check(mdspf_zone *z, int mode, long terms, long mx, long ptr,
                     const char *ip, const char *sender) {
  mdspf_ctx *ctx;
  mdspf_check *chk;
  meter m = {0, 0};
  run_out o;
  unsigned long before = mdspf_zone_queries(z);
  assert_int_equal(mdspf_zone_set_delivery(z, mode), MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(meter_alloc, &m, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, terms),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_MX_NAMES, mx),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_PTR_NAMES, ptr),
                   MDSPF_OK);
  if (g_check_memory) {
    assert_int_equal(
        mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CHECK_MEMORY, g_check_memory),
        MDSPF_OK);
  }
  if (g_lookahead >= 0) {
    assert_int_equal(
        mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, g_lookahead),
        MDSPF_OK);
  }
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 10000), MDSPF_OK);
  o.result = mdspf_check_result(chk);
  o.reason = mdspf_check_reason(chk);
  o.terms = mdspf_check_dns_terms(chk);
  o.queries = mdspf_check_queries(chk);
  o.wasted = mdspf_check_wasted(chk);
  o.budget_peak = mdspf_check_memory_peak(chk);
  /* the zone saw exactly what the check says it sent */
  assert_int_equal(mdspf_zone_queries(z) - before, o.queries + o.wasted);
  if (g_lookahead == 0) {
    assert_int_equal(o.wasted, 0);
    assert_int_equal(mdspf_check_prefetched(chk), 0);
  }
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  assert_int_equal(m.live, 0);
  o.peak = m.peak;
  return o;
}

/* A zone where the record of top.example.com spends every term on mx
 * (each MX set has exactly M distinct hosts, none matching the client),
 * the client has P PTR names of which only the last validates, and exp=
 * uses %{p} (so every name is validated): the check ends in fail and
 * reaches the ceiling. */
static mdspf_zone *ceiling_zone(long T, long M, long P, int over) {
  text t = {NULL, 0, 0};
  long i, j;
  add(&t, "top TXT \"v=spf1");
  for (i = 0; i < T + over; i++) {
    add(&t, " mx:m%ld.example.com", i);
  }
  add(&t, " -all exp=%%{p}.exp.example.com\"\n");
  for (i = 0; i < T + over; i++) {
    for (j = 0; j < M; j++) {
      add(&t, "m%ld MX %ld h%ld-%ld.m%ld\n", i, j, i, j, i);
      add(&t, "h%ld-%ld.m%ld A 198.51.100.%ld\n", i, j, i, 1 + (i * M + j) % 250);
    }
  }
  for (j = 0; j < P; j++) {
    add(&t, "1.2.0.192.in-addr.arpa. PTR p%ld.example.com.\n", j);
    add(&t, "p%ld A 192.0.2.%d\n", j, j == P - 1 ? 1 : 2);
  }
  add(&t, "p%ld.example.com.exp TXT \"no\"\n", P - 1);
  return zone_of(&t);
}

static void test_bounds_query_ceiling(void **state) {
  static const long limits[][3] = {{10, 10, 10}, {20, 15, 12}, {1, 1, 1}};
  static const int modes[] = {MDSPF_ZONE_INLINE, MDSPF_ZONE_DEFERRED_FIFO,
                              MDSPF_ZONE_DEFERRED_LIFO};
  size_t k, m;
  (void)state;
  for (k = 0; k < sizeof limits / sizeof limits[0]; k++) {
    long T = limits[k][0], M = limits[k][1], P = limits[k][2];
    unsigned ceiling = (unsigned)(1 + T * (1 + M) + (1 + P) + 1);
    mdspf_zone *z = ceiling_zone(T, M, P, 0);
    mdspf_zone *over = ceiling_zone(T, M, P, 1);
    for (m = 0; m < 3 * 2; m++) {
      run_out o;
      g_lookahead = m % 2 ? -1 : 0; /* the default (on), and off */
      o = check(z, modes[m / 2], T, M, P, "192.0.2.1", "x@top.example.com");
      assert_int_equal(o.result, MDSPF_FAIL);
      assert_int_equal(o.terms, T);
      assert_int_equal(o.queries, ceiling);
      assert_true(o.wasted <= (unsigned)T);
      if (T == 10 && M == 10 && P == 10) {
        assert_int_equal(o.queries, 123);
      }
      /* one more term: permerror, and not a single query more than the
       * terms that were allowed cost (no exp, no %{p}) */
      o = check(over, modes[m / 2], T, M, P, "192.0.2.1",
                "x@top.example.com");
      assert_int_equal(o.result, MDSPF_PERMERROR);
      assert_int_equal(o.reason, MDSPF_E_LIMIT);
      assert_int_equal(o.terms, T + 1);
      assert_int_equal(o.queries, (unsigned)(1 + T * (1 + M)));
      assert_true(o.wasted <= (unsigned)T);
    }
    g_lookahead = -1;
    mdspf_zone_free(z);
    mdspf_zone_free(over);
  }
}

static void test_bounds_mx_over_limit_costs_nothing(void **state) {
  /* 500 MX names: one MX lookup, then permerror without address lookups */
  text t = {NULL, 0, 0};
  mdspf_zone *z;
  run_out o;
  long j;
  (void)state;
  add(&t, "top TXT \"v=spf1 mx -all\"\n");
  for (j = 0; j < 500; j++) {
    add(&t, "top MX %ld h%ld\n", j, j);
  }
  z = zone_of(&t);
  o = check(z, MDSPF_ZONE_INLINE, 10, 10, 10, "192.0.2.1", "x@top.example.com");
  assert_int_equal(o.result, MDSPF_PERMERROR);
  assert_int_equal(o.queries, 2);
  mdspf_zone_free(z);
}

static void test_bounds_ptr_names_capped(void **state) {
  /* 1000 PTR names, all validating: at most P address lookups */
  text t = {NULL, 0, 0};
  mdspf_zone *z;
  run_out o;
  long j;
  (void)state;
  add(&t, "top TXT \"v=spf1 ptr ptr:example.com ptr:p999.example.com "
          "exists:%%{p}.x.example.com -all\"\n");
  for (j = 0; j < 1000; j++) {
    add(&t, "1.2.0.192.in-addr.arpa. PTR q%ld.example.net.\n", j);
    add(&t, "q%ld.example.net. A 192.0.2.1\n", j);
  }
  z = zone_of(&t);
  o = check(z, MDSPF_ZONE_DEFERRED_LIFO, 10, 10, 10, "192.0.2.1",
            "x@top.example.com");
  /* TXT + PTR + the exists lookup: no name is under a ptr term's domain,
   * and %{p} takes the first name that validates (RFC 7208 7.3: any
   * validated name when none is the domain or under it), so one address
   * lookup */
  assert_int_equal(o.result, MDSPF_FAIL);
  assert_int_equal(o.queries, 1 + 1 + 1 + 1);
  mdspf_zone_free(z);
  /* no name validates: the first P (10) are tried, shared by the three
   * ptr terms and %{p} */
  t.len = 0;
  add(&t, "top TXT \"v=spf1 ptr ptr:example.com ptr:p999.example.com "
          "exists:%%{p}.x.example.com -all\"\n");
  for (j = 0; j < 1000; j++) {
    add(&t, "1.2.0.192.in-addr.arpa. PTR q%ld.example.net.\n", j);
    add(&t, "q%ld.example.net. A 192.0.2.2\n", j);
  }
  z = zone_of(&t);
  for (j = 0; j < 2; j++) {
    g_lookahead = j ? -1 : 0;
    o = check(z, MDSPF_ZONE_DEFERRED_LIFO, 10, 10, 10, "192.0.2.1",
              "x@top.example.com");
    assert_int_equal(o.result, MDSPF_FAIL);
    assert_int_equal(o.queries, 1 + 1 + 10 + 1);
  }
  g_lookahead = -1;
  mdspf_zone_free(z);
}

static void test_bounds_memory_per_check(void **state) {
  /* Every answer as large as the zone will make it: 10 mx terms whose
   * hosts each have 2000 A records, 1000 PTR names, huge TXT records.
   * The memory one check uses stays small and bounded. */
  text t = {NULL, 0, 0};
  mdspf_zone *z;
  run_out o;
  long i, j;
  (void)state;
  add(&t, "top TXT \"v=spf1");
  for (i = 0; i < 9; i++) {
    add(&t, " mx:m%ld.example.com", i);
  }
  add(&t, " ptr -all exp=%%{p}.exp.example.com\"\n");
  for (i = 0; i < 9; i++) {
    for (j = 0; j < 10; j++) {
      add(&t, "m%ld MX %ld h%ld-%ld.m%ld\n", i, j, i, j, i);
    }
    if (i < 4) {
      /* every host of the first four MX sets: 2000 addresses each, so
       * ten 20 KB answers are held at once while they are applied */
      long h;
      for (h = 0; h < 10; h++) {
        for (j = 0; j < 2000; j++) {
          add(&t, "h%ld-%ld.m%ld A 10.%ld.%ld.%ld\n", i, h, i, h, j / 250,
              j % 250);
        }
      }
    } else {
      /* one address per host: an MX set without any would be a void
       * lookup, and five of them a permerror */
      long h;
      for (h = 0; h < 10; h++) {
        add(&t, "h%ld-%ld.m%ld A 10.99.%ld.%ld\n", i, h, i, i, h);
      }
    }
  }
  for (j = 0; j < 1000; j++) {
    add(&t, "1.2.0.192.in-addr.arpa. PTR q%ld.example.net.\n", j);
  }
  /* 40 other TXT records of ~1 KB next to the SPF record */
  for (j = 0; j < 40; j++) {
    add(&t, "top TXT \"");
    for (i = 0; i < 4; i++) {
      add(&t, "%0250d ", 0);
    }
    add(&t, "\"\n");
  }
  z = zone_of(&t);
  /* Last-in-first-out delivery.  The hosts of an MX set are asked one at
   * a time, so without lookahead one 20 KB answer is held at a time:
   * well within the default budget of a check (256 KiB). */
  g_lookahead = 0;
  o = check(z, MDSPF_ZONE_DEFERRED_LIFO, 10, 10, 10, "192.0.2.1",
            "x@top.example.com");
  assert_int_equal(o.result, MDSPF_FAIL);
  assert_true(o.budget_peak <= 128 * 1024);
  print_message("peak memory of the check, lookahead off: %ld bytes "
                "(budget %zu)\n", o.peak, o.budget_peak);
  /* With lookahead the later hosts' answers are looked up at once and
   * held until their turn: more than the budget has room for.  Those
   * are given up as the evaluation needs the memory, and the outcome is
   * the same. */
  g_lookahead = -1;
  o = check(z, MDSPF_ZONE_DEFERRED_LIFO, 10, 10, 10, "192.0.2.1",
            "x@top.example.com");
  assert_int_equal(o.result, MDSPF_FAIL);
  assert_true(o.budget_peak <= 256 * 1024);
  print_message("peak memory of the check, lookahead on: %ld bytes "
                "(budget %zu), %u lookups ahead wasted\n", o.peak,
                o.budget_peak, o.wasted);
  /* ... and with a budget of 4 MiB, measured: the answers held ahead
   * are counted */
  g_check_memory = 4L << 20;
  o = check(z, MDSPF_ZONE_DEFERRED_LIFO, 10, 10, 10, "192.0.2.1",
            "x@top.example.com");
  g_check_memory = 0;
  assert_int_equal(o.result, MDSPF_FAIL);
  assert_true(o.budget_peak > 150000);
  /* answers are kept only while a term needs them: well under 1 MiB */
  print_message("peak memory of the check, 4 MiB budget: %ld bytes\n",
                o.peak);
  assert_true(o.peak < 1L << 20);
  mdspf_zone_free(z);
}

static void test_bounds_deep_includes(void **state) {
  /* With the term limit raised to its maximum (100), a chain of 99
   * nested includes is evaluated (iteratively: no recursion), the 100th
   * level passes; one level more is a permerror. */
  text t = {NULL, 0, 0};
  mdspf_zone *z;
  run_out o;
  long i;
  (void)state;
  for (i = 0; i < 99; i++) {
    add(&t, "c%ld TXT \"v=spf1 include:c%ld.example.com -all\"\n", i, i + 1);
  }
  add(&t, "c99 TXT \"v=spf1 ip4:192.0.2.1 -all\"\n");
  for (i = 0; i < 101; i++) {
    add(&t, "d%ld TXT \"v=spf1 include:d%ld.example.com -all\"\n", i, i + 1);
  }
  add(&t, "d101 TXT \"v=spf1 ip4:192.0.2.1 -all\"\n");
  z = zone_of(&t);
  o = check(z, MDSPF_ZONE_INLINE, 100, 10, 10, "192.0.2.1", "x@c0.example.com");
  assert_int_equal(o.result, MDSPF_PASS);
  assert_int_equal(o.terms, 99);
  o = check(z, MDSPF_ZONE_DEFERRED_LIFO, 100, 10, 10, "192.0.2.1",
            "x@d0.example.com");
  assert_int_equal(o.result, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_LIMIT);
  o = check(z, MDSPF_ZONE_INLINE, 10, 10, 10, "192.0.2.1", "x@c0.example.com");
  assert_int_equal(o.result, MDSPF_PERMERROR);
  assert_int_equal(o.terms, 11);
  mdspf_zone_free(z);
}

static void test_bounds_oversized_records_and_answers(void **state) {
  text t = {NULL, 0, 0};
  mdspf_zone *z;
  run_out o;
  long i, j;
  (void)state;
  /* a record of 40 strings of 250 octets: 5000 terms, too many */
  add(&t, "many TXT ( \"v=spf1\"");
  for (j = 0; j < 40; j++) {
    add(&t, " \"");
    for (i = 0; i < 125; i++) {
      add(&t, " a");
    }
    add(&t, "\"");
  }
  add(&t, " )\n");
  /* three TXT records of 30,000 octets (one string each, which only a
   * lax zone allows): together over MDSPF_MAX_ANSWER_BYTES -> a DNS
   * error, temperror, never a truncated answer */
  for (i = 0; i < 3; i++) {
    add(&t, "big TXT \"v=spf%ld ", i);
    for (j = 0; j < 3000; j++) {
      add(&t, "%s", "a:a.b.com ");
    }
    add(&t, "\"\n");
  }
  /* 5000 TXT records: over MDSPF_MAX_ANSWER_RRS */
  for (j = 0; j < 5000; j++) {
    add(&t, "rrs TXT \"x%ld\"\n", j);
  }
  /* a record just under the size limit whose terms are fine */
  add(&t, "long TXT ( \"v=spf1\"");
  for (j = 0; j < 200; j++) {
    add(&t, " \" ip4:192.0.2.%ld\"", j % 250);
  }
  add(&t, " \" -all\" )\n");
  z = zone_of(&t);
  o = check(z, MDSPF_ZONE_INLINE, 10, 10, 10, "192.0.2.1", "x@many.example.com");
  assert_int_equal(o.result, MDSPF_PERMERROR);
  assert_int_equal(o.reason, MDSPF_E_SYNTAX);
  o = check(z, MDSPF_ZONE_INLINE, 10, 10, 10, "192.0.2.1", "x@big.example.com");
  assert_int_equal(o.result, MDSPF_TEMPERROR);
  assert_int_equal(o.reason, MDSPF_E_DNS);
  o = check(z, MDSPF_ZONE_INLINE, 10, 10, 10, "192.0.2.1", "x@rrs.example.com");
  assert_int_equal(o.result, MDSPF_TEMPERROR);
  o = check(z, MDSPF_ZONE_INLINE, 10, 10, 10, "192.0.2.199", "x@long.example.com");
  assert_int_equal(o.result, MDSPF_PASS);
  assert_true(o.peak < 1L << 20);
  mdspf_zone_free(z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bounds_query_ceiling),
      cmocka_unit_test(test_bounds_mx_over_limit_costs_nothing),
      cmocka_unit_test(test_bounds_ptr_names_capped),
      cmocka_unit_test(test_bounds_memory_per_check),
      cmocka_unit_test(test_bounds_deep_includes),
      cmocka_unit_test(test_bounds_oversized_records_and_answers),
  };
  return cmocka_run_group_tests_name("bounds", tests, NULL, NULL);
}

/*
 * tests/test_recset.c -- the context's set of shared records
 * (core/recset.c): one parsed record per text among the checks in
 * flight, gone with its last user, charged to every check that uses it
 * as a copy of its own was, and correct when memory runs out.
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
#include "core/recset.h"
#include "test_alloc.h"

static mdspf_record *get(mdspf__recset *s, const char *txt) {
  mdspf_record *r = NULL;
  assert_int_equal(mdspf__recset_get(s, txt, strlen(txt), &r, NULL, NULL,
                                     NULL),
                   MDSPF_OK);
  assert_non_null(r);
  return r;
}

static void set_init(mdspf__recset *s, test_alloc *ta) {
  mdspf__allocator a;
  mdspf__allocator_init(&a, test_alloc_fn, ta);
  mdspf__recset_init(s, &a);
}

/* The same text gives the same record, another text another one; the
 * last put frees it, and the set with it. */
static void test_recset_shares_same_text(void **state) {
  test_alloc ta = {0};
  mdspf__recset s;
  mdspf_record *a, *b, *c;
  (void)state;
  set_init(&s, &ta);
  a = get(&s, "v=spf1 ip4:192.0.2.0/24 -all");
  b = get(&s, "v=spf1 ip4:192.0.2.0/24 -all");
  c = get(&s, "v=spf1 ip4:192.0.2.0/24 ~all");
  assert_ptr_equal(a, b);
  assert_ptr_not_equal(a, c);
  assert_int_equal(mdspf__recset_count(&s), 2);
  assert_int_equal(mdspf_record_nterms(a), 2);
  assert_string_equal(mdspf_record_text(a, NULL), "v=spf1 ip4:192.0.2.0/24 -all");
  mdspf__recset_put(&s, a);
  assert_int_equal(mdspf__recset_count(&s), 2); /* b still holds it */
  assert_string_equal(mdspf_record_text(b, NULL), "v=spf1 ip4:192.0.2.0/24 -all");
  mdspf__recset_put(&s, b);
  assert_int_equal(mdspf__recset_count(&s), 1);
  mdspf__recset_put(&s, c);
  assert_int_equal(mdspf__recset_count(&s), 0);
  mdspf__recset_put(&s, NULL);
  mdspf__recset_fini(&s);
  assert_int_equal(ta.live, 0);
}

/* The key is every octet of the text: case and spaces make other
 * records; a text that does not parse enters nothing. */
static void test_recset_key_is_every_octet(void **state) {
  test_alloc ta = {0};
  mdspf__recset s;
  mdspf_record *a = NULL, *b, *c;
  static const char bad[] = "v=spf1 -all\0a";
  int code = 0;
  size_t eo = 0, el = 0;
  (void)state;
  set_init(&s, &ta);
  assert_int_equal(mdspf__recset_get(&s, bad, sizeof bad - 1, &a, &code, &eo,
                                     &el),
                   MDSPF_E_SYNTAX);
  assert_null(a);
  assert_int_not_equal(code, MDSPF_SYN_OK);
  assert_true(eo + el <= sizeof bad - 1 && el > 0);
  assert_int_equal(mdspf__recset_count(&s), 0);
  a = get(&s, "v=spf1 -all");
  b = get(&s, "v=spf1 -ALL");
  c = get(&s, "v=spf1 -all ");
  assert_ptr_not_equal(a, b);
  assert_ptr_not_equal(a, c);
  assert_ptr_not_equal(b, c);
  assert_int_equal(mdspf__recset_count(&s), 3);
  mdspf__recset_put(&s, a);
  mdspf__recset_put(&s, b);
  mdspf__recset_put(&s, c);
  mdspf__recset_fini(&s);
  assert_int_equal(ta.live, 0);
}

/* A record of the same text that is not the set's (an override, a copy
 * parsed elsewhere) is only unreferenced by put; the set's stays. */
static void test_recset_put_foreign(void **state) {
  test_alloc ta = {0};
  mdspf__recset s;
  mdspf_record *a, *f = NULL;
  (void)state;
  set_init(&s, &ta);
  a = get(&s, "v=spf1 mx -all");
  assert_int_equal(mdspf_record_parse("v=spf1 mx -all", 14, test_alloc_fn,
                                      &ta, &f, NULL, NULL, NULL),
                   MDSPF_OK);
  mdspf_record_ref(f);
  mdspf__recset_put(&s, f); /* one of f's two references */
  assert_int_equal(mdspf__recset_count(&s), 1);
  assert_ptr_equal(get(&s, "v=spf1 mx -all"), a);
  mdspf__recset_put(&s, a);
  mdspf__recset_put(&s, a);
  assert_int_equal(mdspf__recset_count(&s), 0);
  mdspf_record_free(f);
  mdspf__recset_fini(&s);
  assert_int_equal(ta.live, 0);
}

/* Many records: the table grows, every one is found again, and taking
 * them out in any order (backward-shift deletion, shrinking) keeps the
 * others found. */
static void test_recset_grows_and_shrinks(void **state) {
  enum { N = 300 };
  test_alloc ta = {0};
  mdspf__recset s;
  mdspf_record *r[N];
  char txt[64];
  size_t i, k, order[3] = {7, 1, 13}; /* strides coprime with N */
  (void)state;
  for (k = 0; k < 3; k++) {
    set_init(&s, &ta);
    for (i = 0; i < N; i++) {
      snprintf(txt, sizeof txt, "v=spf1 ip4:10.%zu.%zu.0/24 -all", i / 256,
               i % 256);
      r[i] = get(&s, txt);
    }
    assert_int_equal(mdspf__recset_count(&s), N);
    for (i = 0; i < N; i++) {
      mdspf_record *again;
      snprintf(txt, sizeof txt, "v=spf1 ip4:10.%zu.%zu.0/24 -all", i / 256,
               i % 256);
      again = get(&s, txt);
      assert_ptr_equal(again, r[i]);
      mdspf__recset_put(&s, again);
    }
    /* out in a scattered order, checking the rest now and then */
    for (i = 0; i < N; i++) {
      size_t j = (i * order[k]) % N, m;
      mdspf__recset_put(&s, r[j]);
      r[j] = NULL;
      assert_int_equal(mdspf__recset_count(&s), N - i - 1);
      if (i % 37 == 0) {
        for (m = 0; m < N; m++) {
          if (r[m]) {
            mdspf_record *again;
            snprintf(txt, sizeof txt, "v=spf1 ip4:10.%zu.%zu.0/24 -all",
                     m / 256, m % 256);
            again = get(&s, txt);
            assert_ptr_equal(again, r[m]);
            mdspf__recset_put(&s, again);
          }
        }
      }
    }
    assert_true(s.cap <= 16);
    mdspf__recset_fini(&s);
    assert_int_equal(ta.live, 0);
  }
}

/* Every allocation failing in turn: get either fails cleanly or returns
 * a usable record (shared or, when the table could not grow, not);
 * nothing leaks. */
static void test_recset_oom(void **state) {
  long n;
  (void)state;
  for (n = 1; n < 200; n++) {
    test_alloc ta = {0};
    mdspf__recset s;
    mdspf_record *r[40];
    char txt[64];
    size_t i, got = 0;
    ta.fail_at = n;
    set_init(&s, &ta);
    for (i = 0; i < 40; i++) {
      mdspf_record *x = NULL;
      int rc;
      snprintf(txt, sizeof txt, "v=spf1 a:h%zu.example -all", i % 20);
      rc = mdspf__recset_get(&s, txt, strlen(txt), &x, NULL, NULL, NULL);
      if (rc == MDSPF_OK) {
        assert_non_null(x);
        assert_int_equal(mdspf_record_nterms(x), 2);
        r[got++] = x;
      } else {
        assert_int_equal(rc, MDSPF_E_NOMEM);
        assert_null(x);
      }
    }
    assert_true(got >= 39);
    assert_true(mdspf__recset_count(&s) <= 20);
    for (i = 0; i < got; i++) {
      mdspf__recset_put(&s, r[i]);
    }
    assert_int_equal(mdspf__recset_count(&s), 0);
    mdspf__recset_fini(&s);
    assert_int_equal(ta.live, 0);
  }
}

/* ---- through checks ------------------------------------------------------ */

static const char ZONE[] =
    "$TTL 300\n"
    "@ SOA ns hostmaster 1 3600 900 604800 300\n"
    "shared TXT \"v=spf1 include:_spf.shared.example.com -all\"\n"
    "_spf.shared TXT \"v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ~all\"\n"
    "other TXT \"v=spf1 include:_spf.shared.example.com ?all\"\n";

typedef struct done_t {
  int n;
} done_t;

static void on_done(mdspf_check *chk, void *user) {
  (void)chk;
  ((done_t *)user)->n++;
}

static mdspf_check *start(mdspf_ctx *ctx, const char *ip, const char *sender,
                          done_t *d) {
  mdspf_check *chk = NULL;
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_start(chk, on_done, d), MDSPF_OK);
  return chk;
}

static mdspf_zone *zone(int mode) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  assert_int_equal(mdspf_zone_load(z, ZONE, strlen(ZONE), "example.com.",
                                   "test", err, sizeof err),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_set_delivery(z, mode), MDSPF_OK);
  return z;
}

/* Checks in flight hold one copy of each record between them; each is
 * charged for it as before (the same peak as a check alone); the set
 * empties when they are done. */
static void test_recset_checks_share(void **state) {
  int la;
  (void)state;
  for (la = 0; la <= 1; la++) {
    test_alloc ta = {0};
    mdspf_zone *z = zone(MDSPF_ZONE_DEFERRED_FIFO);
    mdspf_ctx *ctx = NULL;
    mdspf_check *c[6];
    done_t d = {0};
    size_t solo_peak, i;
    assert_int_equal(mdspf_ctx_new(test_alloc_fn, &ta, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, la),
                     MDSPF_OK);
    /* one alone */
    c[0] = start(ctx, "198.51.100.7", "a@shared.example.com", &d);
    while (mdspf_zone_process(z, 1) > 0) {
    }
    assert_int_equal(d.n, 1);
    assert_int_equal(mdspf_check_result(c[0]), MDSPF_PASS);
    solo_peak = mdspf_check_memory_peak(c[0]);
    mdspf_check_free(c[0]);
    assert_int_equal(mdspf__recset_count(&ctx->records), 0);
    /* six at once, of two domains that include the same record */
    for (i = 0; i < 6; i++) {
      c[i] = start(ctx, i % 2 ? "203.0.113.1" : "198.51.100.7",
                   i < 4 ? "a@shared.example.com" : "b@other.example.com",
                   &d);
    }
    /* the top records arrive: two texts */
    assert_int_equal(mdspf_zone_process(z, 6), 6);
    assert_int_equal(mdspf__recset_count(&ctx->records), 2);
    /* the included one: a third, shared by all six */
    assert_int_equal(mdspf_zone_process(z, 6), 6);
    while (mdspf_zone_process(z, 1) > 0) {
    }
    assert_int_equal(d.n, 7);
    assert_int_equal(mdspf__recset_count(&ctx->records), 0);
    for (i = 0; i < 6; i++) {
      int want = i % 2 ? (i < 4 ? MDSPF_FAIL : MDSPF_NEUTRAL) : MDSPF_PASS;
      assert_int_equal(mdspf_check_result(c[i]), want);
      if (i < 4 && i % 2 == 0) {
        assert_int_equal(mdspf_check_memory_peak(c[i]), solo_peak);
      }
      mdspf_check_free(c[i]);
    }
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
    assert_int_equal(ta.live, 0);
  }
}

/* The check's budget still pays for a shared record: at every budget
 * around the one the check needs, a check whose records another check
 * holds (stuck on a lookup that hangs) ends exactly as the same check
 * alone -- result, reason and memory peak -- and at some of them that is
 * temperror, memory budget exceeded. */
typedef struct budget_out {
  int result, reason;
  size_t peak;
} budget_out;

static budget_out run_small(mdspf_ctx *ctx, mdspf_zone *z, long lim) {
  budget_out o;
  done_t d = {0};
  mdspf_check *small;
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CHECK_MEMORY, lim),
                   MDSPF_OK);
  small = start(ctx, "10.0.0.5", "a@big.example.com", &d);
  while (mdspf_zone_process(z, 1) > 0) {
  }
  assert_int_equal(d.n, 1);
  o.result = mdspf_check_result(small);
  o.reason = mdspf_check_reason(small);
  o.peak = mdspf_check_memory_peak(small);
  mdspf_check_free(small);
  return o;
}

static void test_recset_budget_still_charged(void **state) {
  test_alloc ta = {0};
  mdspf_zone *z;
  mdspf_ctx *ctx = NULL;
  mdspf_check *holder;
  done_t d = {0};
  char zone_text[4096], *p = zone_text;
  size_t peak, budget_errors = 0, i;
  long lim;
  char err[256];
  (void)state;
  /* _big: 60 ip4 terms, then a lookup that never answers */
  p += sprintf(p, "big TXT \"v=spf1 include:_big.example.com -all\"\n"
                  "_big TXT \"v=spf1");
  for (i = 0; i < 60; i++) {
    p += sprintf(p, "%s ip4:10.%zu.0.0/16", i % 10 == 9 ? "\" \"" : "", i);
  }
  p += sprintf(p, " a:hang.example.com ~all\"\n");
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  assert_int_equal(mdspf_zone_load(z, zone_text, strlen(zone_text),
                                   "example.com.", "test", err, sizeof err),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_set_fault(z, "hang.example.com", 0,
                                        MDSPF_ZONE_HANG),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_FIFO),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(test_alloc_fn, &ta, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  peak = run_small(ctx, z, 1L << 20).peak;
  assert_true(peak > 4096 + 200);
  for (lim = (long)peak - 200; lim <= (long)peak + 1; lim++) {
    budget_out alone, shared;
    alone = run_small(ctx, z, lim);
    assert_int_equal(mdspf__recset_count(&ctx->records), 0);
    /* the holder gets stuck inside _big, holding both records */
    assert_int_equal(
        mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CHECK_MEMORY, 1L << 20),
        MDSPF_OK);
    holder = start(ctx, "192.0.2.1", "h@big.example.com", &d);
    while (mdspf_zone_process(z, 1) > 0) {
    }
    assert_int_equal(mdspf__recset_count(&ctx->records), 2);
    shared = run_small(ctx, z, lim);
    assert_int_equal(shared.result, alone.result);
    assert_int_equal(shared.reason, alone.reason);
    assert_int_equal(shared.peak, alone.peak);
    if (alone.result == MDSPF_TEMPERROR) {
      assert_int_equal(alone.reason, MDSPF_E_BUDGET);
      budget_errors++;
    } else {
      assert_int_equal(alone.result, MDSPF_PASS);
    }
    assert_int_equal(mdspf__recset_count(&ctx->records), 2);
    mdspf_check_free(holder);
    assert_int_equal(mdspf__recset_count(&ctx->records), 0);
  }
  assert_true(budget_errors > 0 && budget_errors < 202);
  assert_int_equal(d.n, 0);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
  assert_int_equal(ta.live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recset_shares_same_text),
      cmocka_unit_test(test_recset_key_is_every_octet),
      cmocka_unit_test(test_recset_put_foreign),
      cmocka_unit_test(test_recset_grows_and_shrinks),
      cmocka_unit_test(test_recset_oom),
      cmocka_unit_test(test_recset_checks_share),
      cmocka_unit_test(test_recset_budget_still_charged),
  };
  return cmocka_run_group_tests_name("recset", tests, NULL, NULL);
}

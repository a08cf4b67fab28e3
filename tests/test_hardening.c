/*
 * tests/test_hardening.c -- what an adversary who controls some DNS zones
 * and some client addresses can try (the second hardening round):
 * control and 8-bit octets reaching the outcome strings, CNAME loops,
 * overlong trace lines, and memory: a budget per check and per context.
 *
 * On the code before this round: the explanation of the PTR-injection
 * case carried CR, LF and ESC, 8-bit senders reached the explanation
 * unescaped, a record with NUL and ESC came back raw, and the outcome's
 * domain carried the octets of a macro-expanded redirect target.
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

static mdspf_ctx *ctx_of(mdspf_zone *z) {
  mdspf_ctx *ctx = NULL;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  return ctx;
}

static mdspf_check *run(mdspf_ctx *ctx, const char *ip, const char *sender,
                        const char *helo) {
  mdspf_check *chk = NULL;
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  if (helo) {
    assert_int_equal(mdspf_check_set_helo(chk, helo), MDSPF_OK);
  }
  assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
  return chk;
}

/* s (n octets; NULL is fine) is printable US-ASCII. */
static void expect_printable(const char *what, const char *s, size_t n) {
  size_t i;
  if (!s) {
    return;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c > 0x7e) {
      print_error("%s: octet 0x%02x at %zu\n", what, c, i);
      fail();
    }
  }
}

static void expect_printable_s(const char *what, const char *s) {
  expect_printable(what, s, s ? strlen(s) : 0);
}

/* Every string of the outcome, and both header lines. */
static void expect_safe_outcome(const mdspf_check *chk) {
  size_t len = 0;
  const char *rec = mdspf_check_record(chk, &len);
  char line[8192];
  expect_printable_s("problem", mdspf_check_problem(chk));
  expect_printable_s("explanation", mdspf_check_explanation(chk));
  expect_printable_s("mechanism", mdspf_check_mechanism(chk));
  expect_printable_s("domain", mdspf_check_domain(chk));
  expect_printable("record", rec, len);
  if (rec) {
    assert_int_equal(strlen(rec), len); /* no NUL inside */
  }
  expect_printable_s("client ip", mdspf_check_client_ip(chk));
  expect_printable_s("identity domain", mdspf_check_identity_domain(chk));
  assert_int_equal(
      mdspf_check_received_spf(chk, NULL, line, sizeof line, NULL), MDSPF_OK);
  expect_printable_s("Received-SPF", line);
  assert_int_equal(
      mdspf_check_auth_results(chk, NULL, line, sizeof line, NULL), MDSPF_OK);
  expect_printable_s("Authentication-Results", line);
}

/* ---- explanations ------------------------------------------------------ */

/* The case: exp TXT "Denied: %{p}" and a client whose PTR name,
 * served by the attacker, holds CR, LF and an escape sequence. */
static void test_explanation_ptr_injection(void **state) {
  static const char evil[] = "x\r\nX-Injected: yes\x1b[31m.evil.example.com";
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    mdspf_zone *z = zone_of("@ TXT \"v=spf1 -all exp=e.example.com\"\n"
                            "e TXT \"Denied: %{p}\"\n");
    mdspf_ctx *ctx = ctx_of(z);
    mdspf_check *chk;
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    assert_int_equal(mdspf_zone_add(z, evil, MDSPF_RR_A, "192.0.2.1"),
                     MDSPF_OK);
    {
      /* the PTR record, its target given raw through the API */
      char rdata[256];
      size_t i, o = 0;
      for (i = 0; evil[i]; i++) {
        unsigned char c = (unsigned char)evil[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == ';') {
          o += (size_t)snprintf(rdata + o, sizeof rdata - o, "\\%03u", c);
        } else {
          rdata[o++] = (char)c;
        }
      }
      rdata[o] = '\0';
      assert_int_equal(mdspf_zone_add(z, "1.2.0.192.in-addr.arpa",
                                      MDSPF_RR_PTR, rdata),
                       MDSPF_OK);
    }
    chk = run(ctx, "192.0.2.1", "u@example.com", NULL);
    assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
    assert_string_equal(mdspf_check_explanation(chk),
                        "Denied: x%0D%0AX-Injected: yes%1B[31m.evil.example."
                        "com");
    expect_safe_outcome(chk);
    mdspf_check_free(chk);
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
  }
}

/* 8-bit sender and HELO through %{s}, %{l}, %{h} into the explanation
 * (the default one too). */
static void test_explanation_8bit_identities(void **state) {
  mdspf_zone *z = zone_of("@ TXT \"v=spf1 -all exp=e.example.com\"\n"
                          "e TXT \"%{l} %{s} via %{h}\"\n"
                          "d TXT \"v=spf1 -all\"\n");
  mdspf_ctx *ctx = ctx_of(z);
  mdspf_check *chk;
  (void)state;
  chk = run(ctx, "192.0.2.1", "\xc3\xa9t\xe9@example.com", "h\xff.example");
  assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
  assert_string_equal(mdspf_check_explanation(chk),
                      "%C3%A9t%E9 %C3%A9t%E9@example.com via h%FF.example");
  expect_safe_outcome(chk);
  mdspf_check_free(chk);
  assert_int_equal(
      mdspf_ctx_set_default_explanation(ctx, "no %{l} from %{i} (%{h})"),
      MDSPF_OK);
  chk = run(ctx, "192.0.2.1", "\x80\x81@d.example.com", "\xfe");
  assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
  assert_string_equal(mdspf_check_explanation(chk),
                      "no %80%81 from 192.0.2.1 (%FE)");
  expect_safe_outcome(chk);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* ---- every other getter ----------------------------------------------- */

static void test_getters_are_printable(void **state) {
  /* the zone loader takes any octet as \DDD */
  mdspf_zone *z = zone_of(
      /* a redirect target built from the sender's local part: the
       * outcome's domain and the problem name it */
      "r TXT \"v=spf1 redirect=%{l}.t.example.com\"\n"
      /* a record with NUL and ESC: a syntax error, reported with its
       * position */
      "bad TXT \"v=spf1 ip4:192.0.2.1 \\000\\027[2J -all\"\n"
      /* a DNS failure on a name with control octets */
      "f TXT \"v=spf1 a:%{l}.f.example.com -all\"\n"
      "two TXT \"v=spf1 -all\"\n"
      "two TXT \"v=spf1 +all\"\n");
  mdspf_ctx *ctx = ctx_of(z);
  mdspf_check *chk;
  int code;
  size_t off, len, rlen;
  (void)state;
  assert_int_equal(mdspf_zone_set_fault(z, "x\xfe\xe9.f.example.com", 0,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  /* redirect to a name that does not exist: permerror, the problem names
   * it */
  chk = run(ctx, "192.0.2.1", "a\xe9\\b@r.example.com", NULL);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PERMERROR);
  assert_non_null(strstr(mdspf_check_problem(chk), "a\\233\\\\b.t.example.com"));
  assert_string_equal(mdspf_check_domain(chk), "a\\233\\\\b.t.example.com");
  assert_string_equal(mdspf_check_identity_domain(chk), "r.example.com");
  expect_safe_outcome(chk);
  mdspf_check_free(chk);

  /* the syntax error: the record with '?' for the octets, positions kept */
  chk = run(ctx, "192.0.2.1", "u@bad.example.com", NULL);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PERMERROR);
  assert_string_equal(mdspf_check_record(chk, &rlen),
                      "v=spf1 ip4:192.0.2.1 ??[2J -all");
  assert_int_equal(rlen, 31);
  assert_int_equal(mdspf_check_syntax_error(chk, &code, &off, &len), MDSPF_OK);
  assert_true(off + len <= rlen);
  expect_safe_outcome(chk);
  mdspf_check_free(chk);

  /* temperror on a name with 8-bit octets */
  chk = run(ctx, "192.0.2.1", "x\xfe\xe9@f.example.com", NULL);
  assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
  assert_non_null(strstr(mdspf_check_problem(chk), "x\\254\\233.f.example.com"));
  expect_safe_outcome(chk);
  mdspf_check_free(chk);

  /* an identity domain with 8-bit octets (not a valid name: none) */
  chk = run(ctx, "192.0.2.1", "u@\xe9\xe9.example.com", NULL);
  assert_int_equal(mdspf_check_result(chk), MDSPF_NONE);
  assert_string_equal(mdspf_check_identity_domain(chk),
                      "\\233\\233.example.com");
  expect_safe_outcome(chk);
  mdspf_check_free(chk);

  chk = run(ctx, "192.0.2.1", "u@two.example.com", NULL);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PERMERROR);
  expect_safe_outcome(chk);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* ---- CNAME loops ------------------------------------------------------- */

/* A CNAME-only answer that loops is unusable: temperror (the c-ares
 * backend gives the same; see test_cares.c). */
static void test_cname_loops(void **state) {
  mdspf_zone *z =
      zone_of("@ TXT \"v=spf1 a:self.example.com -all\"\n"
              "self CNAME self.example.com.\n"
              "two TXT \"v=spf1 a:p.example.com -all\"\n"
              "p CNAME q.example.com.\n"
              "q CNAME p.example.com.\n"
              "top CNAME top.example.com.\n"
              "end TXT \"v=spf1 a:c.example.com -all\"\n"
              "c CNAME nowhere.example.com.\n"
              "nowhere TXT \"not an address\"\n");
  mdspf_ctx *ctx = ctx_of(z);
  static const struct {
    const char *sender;
    int result;
  } cases[] = {
      {"u@example.com", MDSPF_TEMPERROR},
      {"u@two.example.com", MDSPF_TEMPERROR},
      {"u@top.example.com", MDSPF_TEMPERROR}, /* the record lookup loops */
      /* a chain that ends at a name without the type: no data, no loop */
      {"u@end.example.com", MDSPF_FAIL},
  };
  size_t k;
  int m;
  (void)state;
  for (m = 0; m < NMODES; m++) {
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      mdspf_check *chk = run(ctx, "192.0.2.1", cases[k].sender, NULL);
      if ((int)mdspf_check_result(chk) != cases[k].result) {
        print_error("%s: %s\n", cases[k].sender,
                    mdspf_result_str(mdspf_check_result(chk)));
        fail();
      }
      mdspf_check_free(chk);
    }
  }
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* ---- trace lines -------------------------------------------------------- */

typedef struct longest {
  size_t need;
  int cut_ok;
} longest;

static void trace_longest(void *ud, const mdspf_event *ev) {
  longest *l = ud;
  char small[64], *big;
  size_t need = 0, need2 = 0;
  mdspf_status rc = mdspf_event_format(ev, small, sizeof small, &need);
  if (need > l->need) {
    l->need = need;
  }
  if (rc == MDSPF_E_BUFFER) {
    /* cut visibly, and the full length reported */
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small + sizeof small - 4, "...", 3);
    big = malloc(need + 1);
    assert_non_null(big);
    assert_int_equal(mdspf_event_format(ev, big, need + 1, &need2), MDSPF_OK);
    assert_int_equal(need2, need);
    assert_int_equal(strlen(big), need);
    assert_memory_equal(small, big, sizeof small - 4);
    free(big);
    l->cut_ok++;
  } else {
    assert_int_equal(rc, MDSPF_OK);
    assert_int_equal(strlen(small), need);
  }
}

static void test_trace_lines_cut_visibly(void **state) {
  /* a record far longer than 4 KiB: its RECORD event's line too */
  char *text = malloc(70000);
  size_t o = 0;
  int k;
  mdspf_zone *z;
  mdspf_ctx *ctx;
  mdspf_check *chk;
  longest l = {0, 0};
  (void)state;
  assert_non_null(text);
  o += (size_t)sprintf(text + o, "@ TXT ( \"v=spf1");
  for (k = 0; k < 500; k++) {
    o += (size_t)sprintf(text + o, " ip4:10.%d.%d.0/24", k / 250, k % 250);
    if (k % 10 == 9) {
      o += (size_t)sprintf(text + o, "\" \"");
    }
  }
  o += (size_t)sprintf(text + o, " -all\" )\n");
  z = zone_of(text);
  ctx = ctx_of(z);
  assert_int_equal(mdspf_ctx_set_trace(ctx, trace_longest, &l), MDSPF_OK);
  chk = run(ctx, "192.0.2.1", "u@example.com", NULL);
  assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
  assert_true(l.need > 8000); /* the whole record, not 4,095 */
  assert_true(l.cut_ok > 0);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
  free(text);
}

/* ---- memory budgets ---------------------------------------------------- */

/* 11 nested includes of ~52 KB records (3,500 ip4 terms each): a check
 * over them used to hold megabytes. */
static mdspf_zone *hostile_zone(test_alloc *ta) {
  mdspf_zone *z = NULL;
  char *rec = malloc(100000);
  int k, j;
  assert_non_null(rec);
  assert_int_equal(mdspf_zone_new(test_alloc_fn, ta, &z), MDSPF_OK);
  for (k = 0; k <= 10; k++) {
    size_t o = 0, nstr = 0, pos;
    const char *strs[400];
    size_t lens[400];
    char name[64];
    o += (size_t)sprintf(rec + o, "v=spf1");
    for (j = 0; j < 3500; j++) {
      o += (size_t)sprintf(rec + o, " ip4:10.%d.%d.%d", k, j / 250, j % 250);
    }
    assert_true(o > 50000 && o < 60000);
    if (k < 10) {
      o += (size_t)sprintf(rec + o, " include:h%d.example.com", k + 1);
    }
    o += (size_t)sprintf(rec + o, " -all");
    for (pos = 0; pos < o; pos += 255) {
      strs[nstr] = rec + pos;
      lens[nstr] = o - pos < 255 ? o - pos : 255;
      nstr++;
    }
    snprintf(name, sizeof name, "h%d.example.com", k);
    assert_int_equal(mdspf_zone_add_txt(z, name, strs, lens, nstr), MDSPF_OK);
  }
  free(rec);
  for (k = 0; k < 8; k++) {
    char name[64];
    snprintf(name, sizeof name, "n%d.example.com", k);
    assert_int_equal(
        mdspf_zone_add(z, name, MDSPF_RR_TXT,
                       "\"v=spf1 ip4:192.0.2.0/28 include:i.example.com "
                       "-all\""),
        MDSPF_OK);
  }
  assert_int_equal(mdspf_zone_add(z, "i.example.com", MDSPF_RR_TXT,
                                  "\"v=spf1 ip4:192.0.2.64/26 ~all\""),
                   MDSPF_OK);
  return z;
}

typedef struct mslot {
  mdspf_check *chk;
  int hostile, done, want;
} mslot;

static void mcb(mdspf_check *chk, void *user) {
  mslot *s = user;
  (void)chk;
  s->done++;
}

/* 256 hostile checks in flight with 64 of other domains interleaved:
 * every hostile one ends in temperror at its budget, the others get
 * their results, and the context's memory stays within its budget. */
static void test_budget_hostile_in_flight(void **state) {
  enum { NH = 256, NN = 64 };
  test_alloc tz, tc;
  mdspf_zone *z;
  mdspf_ctx *ctx;
  mslot *s = calloc(NH + NN, sizeof *s);
  size_t peak = 0, used;
  int k, m;
  (void)state;
  assert_non_null(s);
  for (m = 1; m < NMODES; m++) {
    memset(&tz, 0, sizeof tz);
    memset(&tc, 0, sizeof tc);
    memset(s, 0, (NH + NN) * sizeof *s);
    z = hostile_zone(&tz);
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    assert_int_equal(mdspf_ctx_new(test_alloc_fn, &tc, &ctx), MDSPF_OK);
    assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
    for (k = 0; k < NH + NN; k++) {
      char sender[64];
      /* every fifth one is of another domain */
      int hostile = k % 5 != 4 || k >= 5 * NN;
      const char *ip = k % 2 ? "192.0.2.70" : "192.0.2.200";
      if (k >= NH + NN) {
        break;
      }
      s[k].hostile = hostile;
      if (hostile) {
        snprintf(sender, sizeof sender, "x@h0.example.com");
        s[k].want = MDSPF_TEMPERROR;
      } else {
        snprintf(sender, sizeof sender, "x@n%d.example.com", k % 8);
        s[k].want = k % 2 ? MDSPF_PASS : MDSPF_FAIL;
      }
      assert_int_equal(mdspf_check_new(ctx, &s[k].chk), MDSPF_OK);
      assert_int_equal(mdspf_check_set_ip(s[k].chk, ip), MDSPF_OK);
      assert_int_equal(mdspf_check_set_sender(s[k].chk, sender), MDSPF_OK);
      assert_int_equal(mdspf_check_start(s[k].chk, mcb, &s[k]), MDSPF_OK);
    }
    while (mdspf_zone_pending(z) > 0) {
      (void)mdspf_zone_process(z, 7);
    }
    for (k = 0; k < NH + NN; k++) {
      assert_int_equal(s[k].done, 1);
      if ((int)mdspf_check_result(s[k].chk) != s[k].want) {
        print_error("check %d (%s): %s (%s)\n", k,
                    s[k].hostile ? "hostile" : "other",
                    mdspf_result_str(mdspf_check_result(s[k].chk)),
                    mdspf_check_problem(s[k].chk));
        fail();
      }
      if (s[k].hostile) {
        assert_int_equal(mdspf_check_reason(s[k].chk), MDSPF_E_BUDGET);
        assert_non_null(strstr(mdspf_check_problem(s[k].chk),
                               "memory budget exceeded"));
      }
      assert_true(mdspf_check_memory_peak(s[k].chk) <= 256 * 1024);
      mdspf_check_free(s[k].chk);
    }
    used = mdspf_ctx_memory(ctx, &peak);
    /* within the context budget (128 MiB) with room to spare: 320
     * checks at 256 KiB at most */
    assert_int_equal(used, 0);
    assert_true(peak <= (size_t)NH * 256 * 1024 + (size_t)NN * 256 * 1024);
    print_message("mode %d: context peak %zu bytes for %d checks in flight; "
                  "process peak %ld\n", m, peak, NH + NN, tc.peak);
    mdspf_ctx_free(ctx);
    mdspf_zone_free(z);
    assert_int_equal(tc.live, 0);
  }
  free(s);
}

/* The context's budget: hostile checks that together pass it fail with
 * the context named; a check started once they are done passes. */
static void test_budget_context(void **state) {
  test_alloc tz, tc;
  mdspf_zone *z;
  mdspf_ctx *ctx;
  mdspf_check *c[8], *ok;
  int k, by_ctx = 0;
  (void)state;
  memset(&tz, 0, sizeof tz);
  memset(&tc, 0, sizeof tc);
  z = hostile_zone(&tz);
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_FIFO),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(test_alloc_fn, &tc, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CHECK_MEMORY, 4L << 20),
                   MDSPF_OK);
  assert_int_equal(
      mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CONTEXT_MEMORY, 1L << 20),
      MDSPF_OK);
  assert_int_equal(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_CONTEXT_MEMORY),
                   1L << 20);
  for (k = 0; k < 8; k++) {
    assert_int_equal(mdspf_check_new(ctx, &c[k]), MDSPF_OK);
    assert_int_equal(mdspf_check_set_ip(c[k], "192.0.2.7"), MDSPF_OK);
    assert_int_equal(mdspf_check_set_sender(c[k], "x@h0.example.com"),
                     MDSPF_OK);
    assert_int_equal(mdspf_check_start(c[k], NULL, NULL), MDSPF_OK);
  }
  while (mdspf_zone_pending(z) > 0) {
    (void)mdspf_zone_process(z, 1);
  }
  for (k = 0; k < 8; k++) {
    assert_int_equal(mdspf_check_result(c[k]), MDSPF_TEMPERROR);
    assert_int_equal(mdspf_check_reason(c[k]), MDSPF_E_BUDGET);
    by_ctx += strstr(mdspf_check_problem(c[k]), "context") != NULL;
    mdspf_check_free(c[k]);
  }
  assert_true(by_ctx > 0);
  assert_int_equal(mdspf_ctx_memory(ctx, NULL), 0);
  assert_int_equal(mdspf_check_new(ctx, &ok), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(ok, "192.0.2.7"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(ok, "x@n1.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_run(ok, 0), MDSPF_OK);
  assert_int_equal(mdspf_check_result(ok), MDSPF_PASS);
  mdspf_check_free(ok);
  /* out of range */
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CHECK_MEMORY, 100),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_CONTEXT_MEMORY, 100),
                   MDSPF_E_INVAL);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
  assert_int_equal(tc.live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_explanation_ptr_injection),
      cmocka_unit_test(test_explanation_8bit_identities),
      cmocka_unit_test(test_getters_are_printable),
      cmocka_unit_test(test_cname_loops),
      cmocka_unit_test(test_trace_lines_cut_visibly),
      cmocka_unit_test(test_budget_hostile_in_flight),
      cmocka_unit_test(test_budget_context),
  };
  return cmocka_run_group_tests_name("hardening", tests, NULL, NULL);
}

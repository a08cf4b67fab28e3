/*
 * tests/test_api.c -- the public surface that the module tests do not
 * reach: code-to-text functions, argument checking, getters before and
 * after a check, the answer builders fed hostile data by a scripted
 * backend, and remaining evaluator corners (identities, local policy
 * placement, invalid targets).
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

static void test_api_strings(void **state) {
  int i, j;
  (void)state;
  assert_int_equal(mdspf_version(), MDSPF_VERSION_NUM);
  assert_string_equal(mdspf_version_str(), MDSPF_VERSION_STR);
  /* every known code has its own text; unknown codes still get one */
  for (i = MDSPF_E_BUFFER; i <= MDSPF_OK; i++) {
    for (j = MDSPF_E_BUFFER; j < i; j++) {
      assert_string_not_equal(mdspf_strerror(i), mdspf_strerror(j));
    }
  }
  assert_string_equal(mdspf_strerror(1), "unknown status");
  assert_string_equal(mdspf_strerror(-1000), "unknown status");
  /* statuses and results never share a value but 0 */
  for (i = MDSPF_E_BUFFER; i < MDSPF_OK; i++) {
    assert_true(i < MDSPF_NEUTRAL);
  }
  assert_string_equal(mdspf_result_str(MDSPF_NO_RESULT), "no result");
  for (i = MDSPF_NEUTRAL; i <= MDSPF_PERMERROR; i++) {
    assert_string_not_equal(mdspf_result_str(i), "invalid");
  }
  assert_string_equal(mdspf_result_str(MDSPF_SOFTFAIL), "softfail");
  assert_string_equal(mdspf_result_str(8), "invalid");
  assert_string_equal(mdspf_result_str(-1), "invalid");
  for (i = MDSPF_SYN_OK; i <= MDSPF_SYN_TOO_MANY_TERMS; i++) {
    assert_string_not_equal(mdspf_syntax_str(i), "unknown syntax error");
  }
  assert_string_equal(mdspf_syntax_str(-3), "unknown syntax error");
  for (i = MDSPF_TERM_ALL; i <= MDSPF_TERM_MODIFIER; i++) {
    assert_string_not_equal(mdspf_term_kind_str(i), "unknown");
  }
  assert_string_equal(mdspf_term_kind_str(MDSPF_TERM_EXISTS), "exists");
  assert_string_equal(mdspf_term_kind_str(0), "unknown");
  for (i = MDSPF_DNS_OK; i <= MDSPF_DNS_ERROR; i++) {
    assert_string_not_equal(mdspf_dns_status_str(i), "unknown");
  }
  assert_string_equal(mdspf_dns_status_str(9), "unknown");
  assert_string_equal(mdspf_rr_type_str(MDSPF_RR_AAAA), "AAAA");
  assert_string_equal(mdspf_rr_type_str(MDSPF_RR_PTR), "PTR");
  assert_string_equal(mdspf_rr_type_str(99), "?");
}

static void test_api_null_arguments(void **state) {
  mdspf_ctx *ctx = NULL;
  mdspf_check *chk = NULL;
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_new(NULL, &chk), MDSPF_E_INVAL);
  assert_null(chk);
  assert_int_equal(mdspf_ctx_set_resolver(NULL, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_set_limit(NULL, MDSPF_LIMIT_DNS_TERMS, 5),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_ctx_set_trace(NULL, NULL, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_start(NULL, NULL, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_run(NULL, 0), MDSPF_E_INVAL);
  mdspf_check_cancel(NULL);
  mdspf_check_free(NULL);
  mdspf_ctx_free(NULL);
  assert_int_equal(mdspf_check_result(NULL), MDSPF_NO_RESULT);
  assert_null(mdspf_check_explanation(NULL));
  assert_int_equal(mdspf_check_done(NULL), 0);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_new(ctx, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_set_ip_bin(chk, 5, "abcd"), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_set_ip_bin(chk, 4, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_check_set_identity(chk, 7), MDSPF_E_INVAL);
  /* getters before the check ran */
  assert_int_equal(mdspf_check_result(chk), MDSPF_NO_RESULT);
  assert_int_equal(mdspf_check_reason(chk), MDSPF_E_STATE);
  assert_null(mdspf_check_mechanism(chk));
  assert_null(mdspf_check_domain(chk));
  assert_null(mdspf_check_record(chk, NULL));
  assert_null(mdspf_check_problem(chk));
  assert_null(mdspf_check_identity_domain(chk));
  assert_null(mdspf_check_client_ip(chk));
  assert_int_equal(mdspf_check_source(chk), MDSPF_SRC_NONE);
  assert_int_equal(mdspf_check_syntax_error(chk, NULL, NULL, NULL),
                   MDSPF_E_STATE);
  /* inputs are bounded and printable */
  {
    char big[1100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(mdspf_check_set_sender(chk, big), MDSPF_E_INVAL);
    assert_int_equal(mdspf_check_set_helo(chk, big), MDSPF_E_INVAL);
    assert_int_equal(mdspf_check_set_sender(chk, "a\nb@example.com"),
                     MDSPF_E_INVAL);
    assert_int_equal(mdspf_check_set_helo(chk, "h\x7f.example.com"),
                     MDSPF_E_INVAL);
  }
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
}

/* ---- a scripted backend: answers with whatever the test wants ------ */

typedef struct script {
  int mode; /* what to answer for the next queries */
  int queries;
} script;

enum {
  S_WRONG_TYPES = 1, /* A query answered with TXT/MX data and bad lengths */
  S_TOO_MANY = 2,    /* more than MDSPF_MAX_ANSWER_RRS records */
  S_TOO_BIG = 3,     /* more than MDSPF_MAX_ANSWER_BYTES of TXT */
  S_BAD_STATUS = 4,  /* an out-of-range status */
  S_TWICE = 5        /* done() called twice */
};

static int script_query(void *impl, mdspf_dns_query *q, const char *name,
                        int rrtype, void **token) {
  script *s = impl;
  static const char rec[] = "v=spf1 a:host.example.com -all";
  static const uint8_t a4[4] = {192, 0, 2, 1};
  static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8};
  int k;
  (void)token;
  s->queries++;
  assert_string_equal(mdspf_dns_query_name(q), name);
  assert_int_equal(mdspf_dns_query_type(q), rrtype);
  if (rrtype == MDSPF_RR_TXT && strcmp(name, "example.com") == 0) {
    mdspf_dns_add_txt(q, rec, sizeof rec - 1);
    mdspf_dns_add_addr(q, 4, a4); /* wrong type for TXT: ignored */
    mdspf_dns_done(q, MDSPF_DNS_OK, 0);
    return 0;
  }
  switch (s->mode) {
  case S_WRONG_TYPES:
    mdspf_dns_add_txt(q, "junk", 4);       /* not for an A query */
    mdspf_dns_add_name(q, "x.example", 1); /* neither */
    mdspf_dns_add_addr(q, 6, a6);          /* AAAA data on an A query */
    mdspf_dns_add_addr(q, 5, a4);          /* no such family */
    mdspf_dns_add_addr(q, 4, NULL);
    mdspf_dns_add_txt(NULL, "x", 1);
    mdspf_dns_add_addr(q, 4, a4); /* the only real record */
    mdspf_dns_done(q, MDSPF_DNS_OK, 0);
    break;
  case S_TOO_MANY:
    for (k = 0; k <= MDSPF_MAX_ANSWER_RRS; k++) {
      mdspf_dns_add_addr(q, 4, a4);
    }
    mdspf_dns_done(q, MDSPF_DNS_OK, 0);
    break;
  case S_TOO_BIG: {
    char *big = calloc(1, MDSPF_MAX_ANSWER_BYTES + 1);
    assert_non_null(big);
    mdspf_dns_add_addr(q, 4, a4);
    mdspf_dns_add_txt(q, big, MDSPF_MAX_ANSWER_BYTES + 1); /* wrong type */
    free(big);
    for (k = 0; k < 40000; k++) {
      mdspf_dns_add_addr(q, 4, a4); /* 4096 records max */
    }
    mdspf_dns_done(q, MDSPF_DNS_OK, 0);
    break;
  }
  case S_BAD_STATUS:
    mdspf_dns_add_addr(q, 4, a4);
    mdspf_dns_done(q, 42, 0);
    break;
  default:
    mdspf_dns_add_addr(q, 4, a4);
    mdspf_dns_done(q, MDSPF_DNS_OK, 0);
    mdspf_dns_done(q, MDSPF_DNS_NXDOMAIN, 3); /* ignored */
    break;
  }
  return 0;
}

static void script_cancel(void *impl, void *token) {
  (void)impl;
  (void)token;
  fail(); /* everything completes inline */
}

static int scripted(int mode, unsigned *queries) {
  script s = {mode, 0};
  mdspf_resolver r = {MDSPF_RESOLVER_V1, &s, script_query, script_cancel,
                      NULL, NULL, NULL};
  mdspf_ctx *ctx;
  mdspf_check *chk;
  int result;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, &r), MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, "x@example.com"), MDSPF_OK);
  /* no wait(): works because every answer is inline */
  assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
  result = mdspf_check_result(chk);
  if (queries) {
    *queries = mdspf_check_queries(chk);
  }
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  return result;
}

static void test_api_hostile_answers(void **state) {
  unsigned n = 0;
  (void)state;
  assert_int_equal(scripted(S_WRONG_TYPES, &n), MDSPF_PASS);
  assert_int_equal(n, 2);
  /* answers that cannot be kept whole are DNS errors, not partial data */
  assert_int_equal(scripted(S_TOO_MANY, NULL), MDSPF_TEMPERROR);
  assert_int_equal(scripted(S_TOO_BIG, NULL), MDSPF_TEMPERROR);
  assert_int_equal(scripted(S_BAD_STATUS, NULL), MDSPF_TEMPERROR);
  assert_int_equal(scripted(S_TWICE, NULL), MDSPF_PASS);
}

/* ---- evaluator corners ------------------------------------------------- */

static mdspf_zone *zone_of(const char *text) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  if (mdspf_zone_load(z, text, strlen(text), "example.com.", "t", err,
                      sizeof err) != MDSPF_OK) {
    print_error("%s\n", err);
    fail();
  }
  return z;
}

static int check_with(mdspf_ctx *ctx, const char *ip, const char *sender,
                      char *mech, size_t mechsz) {
  mdspf_check *chk;
  int r;
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
  r = mdspf_check_result(chk);
  if (mech) {
    snprintf(mech, mechsz, "%s",
             mdspf_check_mechanism(chk) ? mdspf_check_mechanism(chk) : "");
  }
  mdspf_check_free(chk);
  return r;
}

static void test_api_identity_forms(void **state) {
  mdspf_zone *z = zone_of("d TXT \"v=spf1 ip4:192.0.2.1 -all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  static const uint8_t mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                     0, 0, 0xff, 0xff, 192, 0, 2, 1};
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  /* a sender without '@' is a domain; a trailing dot is dropped */
  assert_int_equal(check_with(ctx, "192.0.2.1", "d.example.com", NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(check_with(ctx, "192.0.2.1", "x@d.example.com.", NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(check_with(ctx, "192.0.2.1", "x@", NULL, 0), MDSPF_NONE);
  /* binary addresses, IPv4-mapped IPv6 becomes IPv4 */
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip_bin(chk, 6, mapped), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, "x@d.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
  assert_string_equal(mdspf_check_client_ip(chk), "192.0.2.1");
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.2"), MDSPF_E_STATE);
  assert_int_equal(mdspf_check_set_sender(chk, "y@d.example.com"),
                   MDSPF_E_STATE);
  assert_int_equal(mdspf_check_set_identity(chk, MDSPF_ID_HELO),
                   MDSPF_E_STATE);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

static void test_api_local_policy_placement(void **state) {
  mdspf_zone *z = zone_of("noall TXT \"v=spf1 ip4:192.0.2.1\"\n"
                          "plus TXT \"v=spf1 ip4:192.0.2.1 +all\"\n"
                          "red TXT \"v=spf1 ip4:192.0.2.1 "
                          "redirect=tgt.example.com\"\n"
                          "tgt TXT \"v=spf1 -all\"\n"
                          "inc TXT \"v=spf1 include:noall.example.com -all\"\n");
  mdspf_ctx *ctx;
  char mech[128];
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_local_policy(ctx, "-ip4:203.0.113.0/24 "
                                              "+ip4:198.51.100.0/24",
                                              NULL),
                   MDSPF_OK);
  /* no "all": after the last mechanism */
  assert_int_equal(check_with(ctx, "198.51.100.1", "x@noall.example.com",
                              mech, sizeof mech),
                   MDSPF_PASS);
  assert_string_equal(mech, "+ip4:198.51.100.0/24");
  assert_int_equal(check_with(ctx, "203.0.113.5", "x@noall.example.com",
                              NULL, 0),
                   MDSPF_FAIL);
  /* "+all" is not preceded by the local policy */
  assert_int_equal(check_with(ctx, "203.0.113.5", "x@plus.example.com",
                              mech, sizeof mech),
                   MDSPF_PASS);
  assert_string_equal(mech, "+all");
  /* once per check, before the redirect is followed */
  assert_int_equal(check_with(ctx, "198.51.100.1", "x@red.example.com",
                              NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(check_with(ctx, "192.0.2.99", "x@red.example.com",
                              NULL, 0),
                   MDSPF_FAIL);
  /* never inside an include */
  assert_int_equal(check_with(ctx, "198.51.100.1", "x@inc.example.com",
                              mech, sizeof mech),
                   MDSPF_PASS);
  assert_string_equal(mech, "+ip4:198.51.100.0/24");
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

static void test_api_invalid_targets(void **state) {
  mdspf_zone *z = zone_of(
      "i TXT \"v=spf1 include:foo..example.com -all\"\n"
      "a TXT \"v=spf1 a:foo..example.com ?all\"\n"
      "r TXT \"v=spf1 redirect=%{l}.example.com\"\n"
      "e TXT \"v=spf1 -all exp=%{l}.example.com\"\n"
      "s TXT \"v=spf1 -all\"\n"
      "s TXT \"v=spf1 +all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  int code = 0;
  size_t off = 0, len = 0;
  char longl[80];
  (void)state;
  memset(longl, 'a', 64);
  strcpy(longl + 64, "@r.example.com");
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  /* a target that cannot be a DNS name: no match; none -> permerror for
   * include and redirect */
  assert_int_equal(check_with(ctx, "192.0.2.1", "x@i.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(check_with(ctx, "192.0.2.1", "x@a.example.com", NULL, 0),
                   MDSPF_NEUTRAL);
  assert_int_equal(check_with(ctx, "192.0.2.1", longl, NULL, 0),
                   MDSPF_PERMERROR);
  memcpy(longl + 64, "@e.example.com", 15);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, longl), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_FAIL);
  assert_non_null(
      strstr(mdspf_check_explanation(chk), "designated mail servers"));
  mdspf_check_free(chk);
  /* more than one record */
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, "x@s.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PERMERROR);
  assert_int_equal(mdspf_check_reason(chk), MDSPF_E_MULTIREC);
  assert_int_equal(mdspf_check_syntax_error(chk, &code, &off, &len),
                   MDSPF_E_STATE);
  assert_non_null(strstr(mdspf_check_problem(chk), "more than one"));
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

static void test_api_syntax_error_outcome(void **state) {
  mdspf_zone *z = zone_of("b TXT \"v=spf1 a mx incldue:x.example.com ~all\"\n");
  mdspf_ctx *ctx;
  mdspf_check *chk;
  int code = 0;
  size_t off = 0, len = 0;
  (void)state;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, "x@b.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 1000), MDSPF_OK);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PERMERROR);
  assert_int_equal(mdspf_check_reason(chk), MDSPF_E_SYNTAX);
  assert_int_equal(mdspf_check_syntax_error(chk, &code, &off, &len),
                   MDSPF_OK);
  assert_int_equal(code, MDSPF_SYN_UNKNOWN_MECH);
  assert_int_equal(off, 12);
  assert_int_equal(len, 21);
  assert_string_equal(mdspf_check_record(chk, &len),
                      "v=spf1 a mx incldue:x.example.com ~all");
  assert_int_equal(len, 38);
  assert_string_equal(mdspf_check_domain(chk), "b.example.com");
  /* the whole check failed before any mechanism ran */
  assert_int_equal(mdspf_check_dns_terms(chk), 0);
  assert_int_equal(mdspf_check_queries(chk), 1);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_api_strings),
      cmocka_unit_test(test_api_null_arguments),
      cmocka_unit_test(test_api_hostile_answers),
      cmocka_unit_test(test_api_identity_forms),
      cmocka_unit_test(test_api_local_policy_placement),
      cmocka_unit_test(test_api_invalid_targets),
      cmocka_unit_test(test_api_syntax_error_outcome),
  };
  return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}

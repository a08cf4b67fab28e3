/*
 * test_policy.c -- spf-policyd's request parser, configuration reader and
 * decision table (examples/spf-policyd), without I/O.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <maildrop-spf/spf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decide.h"
#include "policy.h"

/* ---- parser ---------------------------------------------------------- */

static void feed(pd_parser *p, const char *s, size_t n) {
  while (n > 0) {
    size_t room, k;
    char *dst = pd_parser_space(p, &room);
    assert_non_null(dst);
    if (room == 0) {
      return;
    }
    k = n < room ? n : room;
    memcpy(dst, s, k);
    pd_parser_commit(p, k);
    s += k;
    n -= k;
  }
}

static void test_parser_requests(void **state) {
  const char *in = "request=smtpd_access_policy\nsender=a@b\r\n"
                   "empty=\nsender=c@d\n\nclient_address=192.0.2.1\n\n";
  pd_parser *p = pd_parser_new();
  pd_request *r = NULL;
  size_t i;
  (void)state;
  /* byte by byte: an end split across reads is found */
  for (i = 0; i < strlen(in); i++) {
    feed(p, in + i, 1);
    if (i + 1 < 45) {
      assert_int_equal(pd_parser_next(p, &r), PD_NEED_MORE);
    }
  }
  assert_int_equal(pd_parser_next(p, &r), PD_REQUEST);
  assert_int_equal(r->nattrs, 4);
  assert_string_equal(pd_request_get(r, "request"), "smtpd_access_policy");
  assert_string_equal(pd_request_get(r, "sender"), "c@d"); /* last wins */
  assert_string_equal(pd_request_get(r, "empty"), "");
  assert_null(pd_request_get(r, "client_address"));
  pd_request_free(r);
  assert_int_equal(pd_parser_next(p, &r), PD_REQUEST);
  assert_string_equal(pd_request_get(r, "client_address"), "192.0.2.1");
  pd_request_free(r);
  assert_int_equal(pd_parser_next(p, &r), PD_NEED_MORE);
  assert_int_equal(pd_parser_pending(p), 0);
  /* an empty request (a lone empty line) has no attributes */
  feed(p, "\r\n", 2);
  assert_int_equal(pd_parser_next(p, &r), PD_REQUEST);
  assert_int_equal(r->nattrs, 0);
  pd_request_free(r);
  pd_parser_free(p);
}

static void expect_error(const char *in, size_t n, int want) {
  pd_parser *p = pd_parser_new();
  pd_request *r = NULL;
  feed(p, in, n);
  assert_int_equal(pd_parser_next(p, &r), want);
  assert_null(r);
  assert_int_equal(pd_parser_next(p, &r), want); /* sticky */
  pd_parser_free(p);
}

static void test_parser_errors(void **state) {
  char *big;
  size_t i, o = 0;
  (void)state;
  expect_error("no equals sign\n\n", 16, PD_ERR_SYNTAX);
  expect_error("=value\n\n", 8, PD_ERR_SYNTAX);
  expect_error("a=b\0c\n\n", 7, PD_ERR_SYNTAX);
  big = malloc(PD_MAX_REQUEST + 10);
  assert_non_null(big);
  memset(big, 'x', PD_MAX_REQUEST + 10);
  expect_error(big, PD_MAX_REQUEST + 10, PD_ERR_TOO_LARGE);
  /* a request of exactly the bound is fine: "a=...\n\n" */
  big[0] = 'a';
  big[1] = '=';
  big[PD_MAX_REQUEST - 2] = '\n';
  big[PD_MAX_REQUEST - 1] = '\n';
  {
    pd_parser *p = pd_parser_new();
    pd_request *r = NULL;
    feed(p, big, PD_MAX_REQUEST);
    assert_int_equal(pd_parser_next(p, &r), PD_REQUEST);
    assert_int_equal(strlen(pd_request_get(r, "a")), PD_MAX_REQUEST - 4);
    pd_request_free(r);
    pd_parser_free(p);
  }
  for (i = 0; i <= PD_MAX_ATTRS; i++) {
    big[o++] = 'a';
    big[o++] = '=';
    big[o++] = '\n';
  }
  big[o++] = '\n';
  expect_error(big, o, PD_ERR_TOO_MANY);
  free(big);
  assert_string_not_equal(pd_parser_strerror(PD_ERR_SYNTAX), "no error");
}

/* ---- configuration --------------------------------------------------- */

struct msgs {
  int errors, warnings;
  char last[512];
};

static void on_msg(void *ud, int is_error, const char *file, unsigned line,
                   const char *msg) {
  struct msgs *m = ud;
  (void)file;
  (void)line;
  if (is_error) {
    m->errors++;
  } else {
    m->warnings++;
  }
  snprintf(m->last, sizeof m->last, "%s", msg);
}

static pd_config *parse(const char *text, struct msgs *m) {
  memset(m, 0, sizeof *m);
  return pd_config_parse(text, strlen(text), "test.conf", on_msg, m);
}

static void test_config_defaults(void **state) {
  struct msgs m;
  pd_config *c = parse("", &m);
  (void)state;
  assert_non_null(c);
  assert_int_equal(c->helo_reject, PD_REJ_FAIL);
  assert_int_equal(c->mail_from_reject, PD_REJ_FAIL);
  assert_int_equal(c->permerror_reject, 0);
  assert_int_equal(c->temperror_defer, 0);
  assert_int_equal(c->lookup_time, 20);
  assert_int_equal(c->void_limit, 2);
  assert_int_equal(c->test_only, 1);
  assert_int_equal(c->header_type, PD_HDR_SPF);
  assert_int_equal(c->nskip, 3);
  assert_true(pd_net_match(c->skip, c->nskip, "127.0.0.1"));
  assert_true(pd_net_match(c->skip, c->nskip, "::1"));
  assert_true(pd_net_match(c->skip, c->nskip, "::ffff:127.1.2.3"));
  assert_false(pd_net_match(c->skip, c->nskip, "192.0.2.1"));
  assert_false(pd_net_match(c->skip, c->nskip, "garbage"));
  pd_config_free(c);
}

static void test_config_file(void **state) {
  struct msgs m;
  pd_config *c = parse(
    "# comment\n"
    "debugLevel = 3 # trailing comment\n"
    "HELO_reject=SPF_Not_Pass\n"
    "  Mail_From_reject =  Softfail  \n"
    "PermError_reject = True\nTempError_Defer = True\n"
    "skip_addresses = 10.0.0.0/8, 2001:db8::/32\n"
    "Whitelist = 192.0.2.0/24\n"
    "Domain_Whitelist = Pobox.com,trusted.example.\n"
    "Header_Type = AR\nAuthserv_Id = mx.example.net\n"
    "Lookup_Time = 5\nVoid_Limit = 4\nTestOnly = 0\n"
    "Socket = local:/x\n"  /* a milter setting: silently ignored */
    "Frobnicate = 1\n"     /* unknown: a warning */
    "JustAWord\n",         /* not defined: a warning */
    &m);
  (void)state;
  assert_non_null(c);
  assert_int_equal(m.errors, 0);
  assert_int_equal(m.warnings, 2);
  assert_int_equal(c->debug_level, 3);
  assert_int_equal(c->helo_reject, PD_REJ_SPF_NOT_PASS);
  assert_int_equal(c->mail_from_reject, PD_REJ_SOFTFAIL);
  assert_true(c->permerror_reject && c->temperror_defer);
  assert_int_equal(c->nskip, 2);
  assert_true(pd_net_match(c->skip, c->nskip, "10.1.2.3"));
  assert_false(pd_net_match(c->skip, c->nskip, "127.0.0.1"));
  assert_true(pd_net_match(c->white, c->nwhite, "192.0.2.77"));
  assert_int_equal(c->ndomain_wl, 2);
  assert_string_equal(c->domain_wl[0], "pobox.com");
  assert_string_equal(c->domain_wl[1], "trusted.example");
  assert_int_equal(c->header_type, PD_HDR_AR);
  assert_string_equal(c->authserv_id, "mx.example.net");
  assert_int_equal(c->lookup_time, 5);
  assert_int_equal(c->void_limit, 4);
  assert_int_equal(c->test_only, 0);
  pd_config_free(c);
}

static void test_config_errors(void **state) {
  static const char *const bad[] = {
    "HELO_reject = Sometimes\n", "Mail_From_reject = fail\n",
    "PermError_reject = true\n", "TempError_Defer = 1\n",
    "Lookup_Time = 0\n",         "Lookup_Time = abc\n",
    "Void_Limit = -1\n",         "Header_Type = Both\n",
    "skip_addresses = 127.0.0.1/8\n", /* host bits: Python refuses too */
    "Whitelist = 192.0.2.0/33\n", "Whitelist = example.com\n",
    "Prospective = 192.0.2.0/24\n", "Hide_Receiver = Maybe\n",
    "Reason_Message = a=b\n",    /* two '=': spf-engine cannot parse */
    "debugLevel = x\n",          "Domain_Whitelist = a b.example\n"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct msgs m;
    pd_config *c = parse(bad[i], &m);
    if (c) {
      fail_msg("accepted: %s", bad[i]);
    }
    assert_int_equal(m.errors, 1);
  }
}

static void test_net_parse(void **state) {
  pd_net n;
  (void)state;
  assert_int_equal(pd_net_parse("192.0.2.0/24", &n), 0);
  assert_int_equal(n.family, 4);
  assert_int_equal(n.prefix, 24);
  assert_int_equal(pd_net_parse("2001:db8::/32", &n), 0);
  assert_int_equal(n.prefix, 32);
  assert_int_equal(pd_net_parse("[2001:db8::1]", &n), 0);
  assert_int_equal(n.family, 6);
  assert_int_equal(pd_net_parse("192.0.2.1", &n), 0);
  assert_int_equal(n.prefix, 32);
  assert_int_equal(pd_net_parse("192.0.2.1/24", &n), -1);
  assert_int_equal(pd_net_parse("192.0.2.0/", &n), -1);
  assert_int_equal(pd_net_parse("192.0.2.0/+8", &n), -1);
  assert_int_equal(pd_net_parse("", &n), -1);
  assert_int_equal(pd_net_parse("::/0", &n), 0);
  assert_true(pd_net_match(&n, 1, "2001:db8::1"));
  assert_false(pd_net_match(&n, 1, "192.0.2.1"));
}

/* ---- decision table: every *_reject value x every result ------------- */

static void test_action_table(void **state) {
  /* expected action per policy (rows: Fail, SPF_Not_Pass, Softfail, Null,
   * False) and result (columns: neutral, pass, fail, softfail, none,
   * temperror, permerror), spf-engine's _get_resultcodes with
   * TempError_Defer and PermError_reject off (P prepend, R reject). */
  static const char helo[5][8] = {"PPRPPPP", "RPRRPPP", "PPRRPPP",
                                  "PPRPPPP", "PPPPPPP"};
  static const char mfrom[5][8] = {"PPRPPPP", "RPRRPPP", "PPRRPPP",
                                   "PPPPPPP", "PPPPPPP"};
  static const int policies[5] = {PD_REJ_FAIL, PD_REJ_SPF_NOT_PASS,
                                  PD_REJ_SOFTFAIL, PD_REJ_NULL,
                                  PD_REJ_FALSE};
  struct msgs m;
  pd_config *c = parse("", &m);
  int p, r, scope, defer_perm;
  (void)state;
  for (defer_perm = 0; defer_perm < 2; defer_perm++) {
    c->temperror_defer = c->permerror_reject = defer_perm;
    for (scope = 0; scope < 2; scope++) {
      for (p = 0; p < 5; p++) {
        for (r = MDSPF_NEUTRAL; r <= MDSPF_PERMERROR; r++) {
          char want = (scope ? helo : mfrom)[p][r - 1];
          int got;
          if (scope) {
            c->helo_reject = policies[p];
          } else {
            c->mail_from_reject = policies[p];
          }
          got = pd_action_for(c, scope, r, 0);
          if (defer_perm && policies[p] != PD_REJ_FALSE) {
            if (r == MDSPF_TEMPERROR) {
              want = 'D';
            } else if (r == MDSPF_PERMERROR) {
              want = 'R';
            }
          }
          assert_int_equal(got, want == 'R'   ? PD_REJECT
                                : want == 'D' ? PD_DEFER
                                              : PD_PREPEND);
        }
      }
    }
  }
  /* Reject_Not_Pass_Domains: treated as SPF_Not_Pass */
  c->mail_from_reject = PD_REJ_FAIL;
  c->permerror_reject = c->temperror_defer = 0;
  assert_int_equal(pd_action_for(c, 0, MDSPF_NEUTRAL, 1), PD_REJECT);
  assert_int_equal(pd_action_for(c, 0, MDSPF_NEUTRAL, 0), PD_PREPEND);
  pd_config_free(c);
}

/* Run a transaction with scripted results; returns the reply. */
static char reply[16384];
static const char *run(const pd_config *c, const char *request,
                       const int *results, int nresults, int *kinds_seen) {
  pd_parser *p = pd_parser_new();
  pd_request *r = NULL;
  pd_txn *t;
  pd_check_spec spec;
  int i = 0;
  feed(p, request, strlen(request));
  assert_int_equal(pd_parser_next(p, &r), PD_REQUEST);
  t = pd_txn_new(c, r);
  assert_non_null(t);
  while (pd_txn_step(t, &spec) == PD_STEP_CHECK) {
    assert_true(i < nresults);
    if (kinds_seen) {
      kinds_seen[i] = spec.kind;
    }
    pd_txn_feed(t, results[i], NULL, "test problem",
                results[i] == MDSPF_FAIL ? "v=spf1 -all" : NULL);
    i++;
  }
  assert_int_equal(i, nresults);
  pd_format_action(c, pd_txn_kind(t), pd_txn_iserror(t), pd_txn_text(t),
                   reply, sizeof reply);
  pd_txn_free(t);
  pd_request_free(r);
  pd_parser_free(p);
  return reply;
}

#define REQ(sender)                                                          \
  "client_address=192.0.2.1\nhelo_name=Mail.Example.ORG\nsender=" sender     \
  "\nrecipient=bob@example.net\ninstance=1\n\n"

static void test_decisions(void **state) {
  struct msgs m;
  pd_config *c = parse("", &m);
  int pass_pass[2] = {MDSPF_PASS, MDSPF_PASS};
  int none_fail[2] = {MDSPF_NONE, MDSPF_FAIL};
  int fail1[1] = {MDSPF_FAIL};
  int temp[2] = {MDSPF_NONE, MDSPF_TEMPERROR};
  int perm[2] = {MDSPF_NONE, MDSPF_PERMERROR};
  int kinds[4];
  (void)state;
  assert_string_equal(
    run(c, REQ("User@Example.COM"), pass_pass, 2, kinds),
    "prepend Received-SPF: Pass (mailfrom) identity=mailfrom; "
    "client-ip=192.0.2.1; helo=mail.example.org; "
    "envelope-from=user@example.com; receiver=example.net ");
  assert_int_equal(kinds[0], PD_CHK_HELO);
  assert_int_equal(kinds[1], PD_CHK_MFROM);
  assert_string_equal(
    run(c, REQ("user@example.com"), none_fail, 2, NULL),
    "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please "
    "see http://www.openspf.net/Why?s=mfrom;id=user@example.com;"
    "ip=192.0.2.1;r=example.net");
  /* the HELO fail rejects before MAIL FROM is checked */
  assert_string_equal(
    run(c, REQ("user@example.com"), fail1, 1, NULL),
    "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please "
    "see http://www.openspf.net/Why?s=helo;id=mail.example.org;"
    "ip=192.0.2.1;r=example.net");
  /* errors: prepended by default; deferred / rejected when configured */
  assert_string_equal(run(c, REQ("u@e.com"), temp, 2, NULL),
                      "prepend Received-SPF: Temperror (mailfrom) "
                      "identity=mailfrom; client-ip=192.0.2.1; "
                      "helo=mail.example.org; envelope-from=u@e.com; "
                      "receiver=example.net ");
  c->temperror_defer = 1;
  c->permerror_reject = 1;
  assert_string_equal(run(c, REQ("u@e.com"), temp, 2, NULL),
                      "defer_if_permit 4.7.24 Message deferred due to: SPF "
                      "Temporary Error: test problem. Please see "
                      "http://www.openspf.net/Why?s=mfrom;id=u@e.com;"
                      "ip=192.0.2.1;r=example.net");
  assert_string_equal(run(c, REQ("u@e.com"), perm, 2, NULL),
                      "550 5.7.24 Message rejected due to: SPF Permanent "
                      "Error: test problem. Please see "
                      "http://www.openspf.net/Why?s=mfrom;id=u@e.com;"
                      "ip=192.0.2.1;r=example.net");
  c->enhanced_codes = 0;
  assert_memory_equal(run(c, REQ("u@e.com"), perm, 2, NULL), "550 Message",
                      11);
  c->enhanced_codes = 1;
  /* TestOnly = 0: nothing but prepend */
  c->test_only = 0;
  assert_string_equal(run(c, REQ("u@e.com"), perm, 2, NULL), "dunno");
  c->test_only = 1;
  /* Header_Type None: no header */
  c->header_type = PD_HDR_NONE;
  assert_string_equal(run(c, REQ("u@e.com"), pass_pass, 2, NULL), "dunno");
  c->header_type = PD_HDR_SPF;
  /* No_Mail: a fail from anything but "v=spf1 -all" is only prepended */
  c->no_mail = 1;
  {
    int helo_fail_nomail[2] = {MDSPF_NONE, MDSPF_FAIL};
    assert_memory_equal(run(c, REQ("u@e.com"), helo_fail_nomail, 2, NULL),
                        "550 5.7.23", 10); /* record was v=spf1 -all */
  }
  c->no_mail = 0;
  /* null sender: the HELO result decides */
  assert_string_equal(
    run(c, REQ(""), pass_pass, 1, NULL),
    "prepend Received-SPF: Pass (sender SPF authorized) identity=helo; "
    "client-ip=192.0.2.1; helo=mail.example.org; envelope-from=<>; "
    "receiver=example.net ");
  /* HELO_reject = Null: HELO fail rejects only the null sender */
  c->helo_reject = PD_REJ_NULL;
  {
    int fail_pass[2] = {MDSPF_FAIL, MDSPF_PASS};
    assert_memory_equal(run(c, REQ("u@e.com"), fail_pass, 2, NULL),
                        "prepend Received-SPF: Pass", 26);
    assert_memory_equal(run(c, REQ(""), fail1, 1, NULL), "550 5.7.23", 10);
  }
  c->helo_reject = PD_REJ_FAIL;
  /* SASL clients and requests without a client address: dunno */
  assert_string_equal(
    run(c, "client_address=192.0.2.1\nsasl_username=alice\nsender=a@b\n\n",
        NULL, 0, NULL),
    "dunno");
  assert_string_equal(run(c, "sender=a@b\n\n", NULL, 0, NULL), "dunno");
  assert_string_equal(run(c, "client_address=192.0.2.1\n\n", NULL, 0, NULL),
                      "dunno");
  pd_config_free(c);
}

static void test_decisions_config(void **state) {
  struct msgs m;
  pd_config *c = parse("HELO_reject = No_Check\n"
                       "Domain_Whitelist = fwd.example\n"
                       "HELO_Whitelist = relay.example\n"
                       "Header_Type = AR\nAuthserv_Id = mx.test\n"
                       "Hide_Receiver = Yes\n"
                       "Mail_From_pass_restriction = spf_passed\n",
                       &m);
  int seen[4];
  int fail_only[1] = {MDSPF_FAIL};
  int wl_pass[1] = {MDSPF_PASS};
  int wl_no_then_pass[2] = {MDSPF_FAIL, MDSPF_PASS};
  (void)state;
  assert_non_null(c);
  /* Domain_Whitelist first; its fail goes on to MAIL FROM (no HELO) */
  assert_memory_equal(run(c, REQ("u@e.com"), wl_no_then_pass, 2, seen),
                      "spf_passed", 10);
  assert_int_equal(seen[0], PD_CHK_DOMAIN_WL);
  assert_int_equal(seen[1], PD_CHK_MFROM);
  assert_string_equal(
    run(c, REQ("u@e.com"), wl_pass, 1, NULL),
    "prepend Authentication-Results: mx.test; none (SPF skipped for "
    "whitelisted relay domain -  client-ip=192.0.2.1; "
    "helo=mail.example.org; envelope-from=u@e.com; receiver=<UNKNOWN>)");
  assert_string_equal(
    run(c,
        "client_address=192.0.2.9\nhelo_name=relay.example\nsender=u@e.com"
        "\n\n",
        (int[]){MDSPF_FAIL, MDSPF_PASS}, 2, seen),
    "prepend Authentication-Results: mx.test; none (SPF skipped for "
    "whitelisted HELO domain -  client-ip=192.0.2.9; helo=relay.example; "
    "envelope-from=u@e.com; receiver=<UNKNOWN>)");
  assert_int_equal(seen[1], PD_CHK_HELO_WL);
  assert_memory_equal(run(c, REQ("u@e.com"),
                          (int[]){MDSPF_FAIL, MDSPF_FAIL}, 2, NULL),
                      "550 5.7.23 Message rejected due to: SPF fail - not "
                      "authorized. Please see "
                      "http://www.openspf.net/Why?s=mfrom;id=u@e.com;"
                      "ip=192.0.2.1;r=<UNKNOWN>",
                      118);
  (void)fail_only;
  pd_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parser_requests),
    cmocka_unit_test(test_parser_errors),
    cmocka_unit_test(test_config_defaults),
    cmocka_unit_test(test_config_file),
    cmocka_unit_test(test_config_errors),
    cmocka_unit_test(test_net_parse),
    cmocka_unit_test(test_action_table),
    cmocka_unit_test(test_decisions),
    cmocka_unit_test(test_decisions_config),
  };
  return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

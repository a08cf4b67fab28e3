/*
 * tests/test_libspf2.c -- the libspf2-compatible API (lib/libspf2) over
 * an in-memory zone (SPF_DNS_ZONE) and over a DNS layer of the test's
 * own, filled in as Exim fills in its layer: results, reasons, error
 * codes, the exact texts, fallback, local policy, secondary MX, record
 * compile/stringify/expand, hostile input, and out of memory at every
 * allocation.  Linked to the test build of the library, whose
 * allocations go through mdspf_libspf2_test_realloc below.
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

#include <spf2/spf.h>
#include <spf2/spf_dns_cache.h>
#include <spf2/spf_dns_zone.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* ---- the allocation hook of the test build -------------------------- */

static long alloc_calls, alloc_fail_at, alloc_live;

void *mdspf_libspf2_test_realloc(void *p, size_t n);
void *mdspf_libspf2_test_realloc(void *p, size_t n) {
  if (n == 0) {
    if (p) {
      alloc_live--;
      free(p);
    }
    return NULL;
  }
  if (++alloc_calls == alloc_fail_at) {
    return NULL;
  }
  if (!p) {
    void *q = malloc(n);
    if (q) {
      alloc_live++;
    }
    return q;
  }
  return realloc(p, n);
}

/* ---- fixtures -------------------------------------------------------- */

static void zone_fill(SPF_dns_server_t *z) {
  static const struct {
    const char *name;
    ns_type type;
    int herrno;
    const char *data;
  } recs[] = {
      {"example.com", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:192.0.2.0/24 -all"},
      {"soft.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 ~all"},
      {"neutral.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 ?all"},
      {"nomatch.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:10.0.0.1"},
      {"bad.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 foo:bar -all"},
      {"two.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 -all"},
      {"two.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 +all"},
      {"tmp.example", ns_t_any, TRY_AGAIN, NULL},
      {"plain.example", ns_t_txt, NETDB_SUCCESS, "hello"},
      {"mx.example", ns_t_mx, NETDB_SUCCESS, "mx1.mx.example"},
      {"mx1.mx.example", ns_t_a, NETDB_SUCCESS, "198.51.100.77"},
      {"exp.example", ns_t_txt, NETDB_SUCCESS,
       "v=spf1 -all exp=why.exp.example"},
      {"why.exp.example", ns_t_txt, NETDB_SUCCESS, "%{i} may not send for %{d}"},
      {"loop.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 include:loop.example"},
      {"mod.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 -all moo=%{l}.cow"},
      {"incnone.example", ns_t_txt, NETDB_SUCCESS,
       "v=spf1 include:none.example -all"},
      {"inctwo.example", ns_t_txt, NETDB_SUCCESS,
       "v=spf1 include:two.example -all"},
      {"incbad.example", ns_t_txt, NETDB_SUCCESS,
       "v=spf1 include:bad.example -all"},
      {"nodata.example", ns_t_a, NETDB_SUCCESS, "192.0.2.9"},
  };
  size_t i;
  for (i = 0; i < sizeof recs / sizeof recs[0]; i++) {
    assert_int_equal(SPF_dns_zone_add_str(z, recs[i].name, recs[i].type,
                                          recs[i].herrno, recs[i].data),
                     SPF_E_SUCCESS);
  }
}

static SPF_server_t *zone_server(void) {
  SPF_server_t *s = SPF_server_new(SPF_DNS_ZONE, 0);
  assert_non_null(s);
  assert_non_null(s->resolver);
  zone_fill(s->resolver);
  assert_int_equal(SPF_server_set_rec_dom(s, "mx.test"), SPF_E_SUCCESS);
  return s;
}

static SPF_response_t *ask(SPF_server_t *s, const char *ip, const char *from,
                           const char *helo, SPF_errcode_t *ret) {
  SPF_request_t *r = SPF_request_new(s);
  SPF_response_t *rp = NULL;
  SPF_errcode_t e;
  assert_non_null(r);
  if (SPF_request_set_ipv4_str(r, ip) != SPF_E_SUCCESS) {
    assert_int_equal(SPF_request_set_ipv6_str(r, ip), SPF_E_SUCCESS);
  }
  if (helo) {
    assert_int_equal(SPF_request_set_helo_dom(r, helo), SPF_E_SUCCESS);
  }
  assert_int_equal(SPF_request_set_env_from(r, from), 0);
  e = SPF_request_query_mailfrom(r, &rp);
  if (ret) {
    *ret = e;
  }
  assert_non_null(rp);
  assert_ptr_equal(rp->spf_request, r); /* done() frees both */
  return rp;
}

static void done(SPF_response_t *rp) {
  SPF_request_t *r = rp->spf_request;
  SPF_response_free(rp);
  SPF_request_free(r);
}

/* ---- results and texts over a zone ---------------------------------- */

static void test_pass_texts(void **state) {
  SPF_server_t *s = zone_server();
  SPF_errcode_t ret;
  SPF_response_t *rp =
      ask(s, "192.0.2.1", "user@example.com", "helo.example", &ret);
  (void)state;
  assert_int_equal(ret, SPF_E_SUCCESS);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PASS);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_MECH);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_SUCCESS);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: domain of example.com designates 192.0.2.1 "
                      "as permitted sender");
  assert_string_equal(
      SPF_response_get_received_spf(rp),
      "Received-SPF: pass (mx.test: domain of example.com designates "
      "192.0.2.1 as permitted sender) client-ip=192.0.2.1; "
      "envelope-from=user@example.com; helo=helo.example;");
  assert_string_equal(SPF_response_get_received_spf_value(rp),
                      SPF_response_get_received_spf(rp) + 14);
  assert_null(SPF_response_get_smtp_comment(rp));
  assert_int_equal(SPF_response_messages(rp), 0);
  assert_string_equal(SPF_strresult(SPF_response_result(rp)), "pass");
  done(rp);
  SPF_server_free(s);
}

static void test_fail_softfail_neutral(void **state) {
  SPF_server_t *s = zone_server();
  SPF_response_t *rp =
      ask(s, "198.51.100.1", "user@example.com", "helo.example", NULL);
  (void)state;
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_FAIL);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_MECH);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: domain of example.com does not designate "
                      "198.51.100.1 as permitted sender");
  /* libspf2's default explanation */
  assert_string_equal(SPF_response_get_explanation(rp),
                      "Please see http://www.openspf.org/Why?id=user%40"
                      "example.com&ip=198.51.100.1&receiver=mx.test");
  assert_string_equal(SPF_response_get_smtp_comment(rp),
                      "Please see http://www.openspf.org/Why?id=user%40"
                      "example.com&ip=198.51.100.1&receiver=mx.test : "
                      "Reason: mechanism");
  done(rp);

  rp = ask(s, "198.51.100.1", "a@soft.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_SOFTFAIL);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: transitioning domain of soft.example does "
                      "not designate 198.51.100.1 as permitted sender");
  assert_string_equal(SPF_response_get_smtp_comment(rp),
                      "Please see http://www.openspf.org/Why?id=a%40"
                      "soft.example&ip=198.51.100.1&receiver=mx.test : "
                      "Reason: mechanism");
  assert_string_equal(SPF_response_get_received_spf(rp),
                      "Received-SPF: softfail (mx.test: transitioning domain "
                      "of soft.example does not designate 198.51.100.1 as "
                      "permitted sender) client-ip=198.51.100.1; "
                      "envelope-from=a@soft.example;");
  done(rp);

  rp = ask(s, "198.51.100.1", "a@nomatch.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_NEUTRAL);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_DEFAULT);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: 198.51.100.1 is neither permitted nor denied "
                      "by domain of nomatch.example");
  assert_string_equal(SPF_strreason(SPF_response_reason(rp)), "default");
  done(rp);

  /* exp= of the record, expanded */
  rp = ask(s, "198.51.100.1", "a@exp.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_FAIL);
  assert_string_equal(SPF_response_get_explanation(rp),
                      "198.51.100.1 may not send for exp.example");
  done(rp);
  SPF_server_free(s);
}

static void test_none_errors(void **state) {
  SPF_server_t *s = zone_server();
  SPF_errcode_t ret;
  SPF_response_t *rp;
  (void)state;
  rp = ask(s, "192.0.2.1", "a@none.example", NULL, &ret);
  assert_int_equal(ret, SPF_E_NOT_SPF);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_NONE);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_FAILURE);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_NOT_SPF);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: domain of none.example does not provide an "
                      "SPF record");
  assert_int_equal(SPF_response_messages(rp), 1);
  assert_int_equal(SPF_error_code(SPF_response_message(rp, 0)),
                   SPF_E_NOT_SPF);
  assert_int_equal(SPF_error_errorp(SPF_response_message(rp, 0)), 1);
  /* libspf2's message by what the DNS said */
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 0)),
                      "Host 'none.example' not found.");
  assert_null(SPF_response_message(rp, 1));
  done(rp);

  rp = ask(s, "192.0.2.1", "a@plain.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_NONE);
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 0)),
                      "No SPF records for 'plain.example'");
  done(rp);

  rp = ask(s, "192.0.2.1", "a@nodata.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_NONE);
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 0)),
                      "No DNS data for 'nodata.example'.");
  done(rp);

  /* an include without a record: libspf2's "not found", reason none */
  rp = ask(s, "192.0.2.1", "a@incnone.example", NULL, &ret);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  assert_int_equal(ret, SPF_E_NOT_SPF);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_NOT_SPF);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_NONE);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: error in processing during lookup of domain "
                      "of incnone.example: Could not find a valid SPF "
                      "record");
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 0)),
                      "Host 'none.example' not found.");
  done(rp);

  /* an included record that does not compile: "not found" too, with
   * what was wrong near which text */
  rp = ask(s, "192.0.2.1", "a@incbad.example", NULL, &ret);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_NOT_SPF);
  assert_int_equal(SPF_response_messages(rp), 2);
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 0)),
                      "Unknown mechanism found near 'foo:bar'");
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 1)),
                      "Failed to compile SPF record for 'bad.example'");
  done(rp);

  /* two records: reason "failure" only for the checked domain's own */
  rp = ask(s, "192.0.2.1", "a@inctwo.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_MULTIPLE_RECORDS);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_NONE);
  done(rp);

  rp = ask(s, "192.0.2.1", "a@bad.example", NULL, &ret);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_UNKNOWN_MECH);
  assert_int_equal(ret, SPF_E_UNKNOWN_MECH);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: error in processing during lookup of domain "
                      "of bad.example: Unknown mechanism found");
  done(rp);

  rp = ask(s, "192.0.2.1", "a@two.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_MULTIPLE_RECORDS);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_FAILURE);
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 0)),
                      "Multiple SPF records for 'two.example'");
  done(rp);

  rp = ask(s, "192.0.2.1", "a@loop.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_BIG_DNS);
  done(rp);

  rp = ask(s, "192.0.2.1", "a@tmp.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_TEMPERROR);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_DNS_ERROR);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: encountered temporary error during SPF "
                      "processing of domain of tmp.example");
  assert_string_equal(SPF_error_message(SPF_response_message(rp, 0)),
                      "Temporary DNS failure for 'tmp.example'.");
  done(rp);
  SPF_server_free(s);
}

static void test_localhost_and_noip(void **state) {
  SPF_server_t *s = zone_server();
  SPF_request_t *r;
  SPF_response_t *rp = ask(s, "127.0.0.1", "a@none.example", "h.example",
                           NULL);
  (void)state;
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PASS);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_LOCALHOST);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: localhost is always allowed.");
  done(rp);
  rp = ask(s, "::1", "a@none.example", NULL, NULL);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_LOCALHOST);
  done(rp);

  /* no address: libspf2's "not configured" */
  r = SPF_request_new(s);
  assert_int_equal(SPF_request_set_env_from(r, "a@example.com"), 0);
  rp = NULL;
  assert_int_equal(SPF_request_query_mailfrom(r, &rp), SPF_E_NOT_CONFIG);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  SPF_response_free(rp);
  /* no server (as Mail::SPF_XS makes requests) */
  r->spf_server = NULL;
  assert_int_equal(SPF_request_set_ipv4_str(r, "192.0.2.1"), SPF_E_SUCCESS);
  assert_int_equal(SPF_request_query_mailfrom(r, &rp), SPF_E_NOT_CONFIG);
  SPF_response_free(rp);
  SPF_request_free(r);
  SPF_server_free(s);
}

/* Empty MAIL FROM: the HELO name, with postmaster; bad addresses. */
static void test_request_setters(void **state) {
  SPF_server_t *s = zone_server();
  SPF_request_t *r = SPF_request_new(s);
  (void)state;
  assert_int_equal(SPF_request_set_ipv4_str(r, "::1"), SPF_E_INVALID_IP4);
  assert_int_equal(SPF_request_set_ipv6_str(r, "1.2.3.4"), SPF_E_INVALID_IP6);
  assert_int_equal(SPF_request_set_ipv6_str(r, "2001:db8::1"), SPF_E_SUCCESS);
  assert_int_equal(r->client_ver, AF_INET6);
  assert_int_equal(SPF_request_set_helo_dom(r, "example.com"), SPF_E_SUCCESS);
  assert_string_equal(r->env_from, "postmaster@example.com");
  assert_int_equal(SPF_request_set_env_from(r, ""), 0);
  assert_string_equal(r->env_from, "postmaster@example.com");
  assert_string_equal(r->env_from_lp, "postmaster");
  assert_string_equal(r->env_from_dp, "example.com");
  assert_int_equal(SPF_request_set_env_from(r, "@other.example"), 0);
  assert_string_equal(r->env_from, "postmaster@other.example");
  assert_int_equal(SPF_request_is_loopback(r), 0);
  assert_string_equal(SPF_request_get_rec_dom(r), "mx.test");
  SPF_request_free(r);
  SPF_server_free(s);
}

/* ---- a DNS layer of the caller's, as Exim builds one ----------------- */

typedef struct fake_rr {
  const char *name;
  ns_type type;
  int herrno;
  const char *data;
} fake_rr;

static const fake_rr fake_zone[] = {
    {"exim.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 a mx:mail.exim.example -all"},
    {"exim.example", ns_t_a, NETDB_SUCCESS, "192.0.2.10"},
    {"mail.exim.example", ns_t_mx, NETDB_SUCCESS, "mx.exim.example"},
    {"mx.exim.example", ns_t_aaaa, NETDB_SUCCESS, "2001:db8::25"},
    {"again.example", ns_t_txt, TRY_AGAIN, NULL},
    {"broken.example", ns_t_txt, NO_RECOVERY, NULL},
    {"nodata.example", ns_t_txt, NO_DATA, NULL},
};

static int fake_lookups;

static SPF_dns_rr_t *fake_lookup(SPF_dns_server_t *d, const char *domain,
                                 ns_type type, int should_cache) {
  SPF_dns_rr_t srr, *out = NULL;
  SPF_dns_rr_data_t *rrs[4];
  union {
    SPF_dns_rr_data_t d;
    char buf[256];
  } bufs[4];
  size_t i;
  int n = 0, herrno = HOST_NOT_FOUND;
  (void)should_cache;
  fake_lookups++;
  memset(&srr, 0, sizeof srr);
  for (i = 0; i < sizeof fake_zone / sizeof fake_zone[0]; i++) {
    if (strcmp(fake_zone[i].name, domain) != 0) {
      continue;
    }
    herrno = herrno == HOST_NOT_FOUND ? NO_DATA : herrno;
    if (fake_zone[i].type != type) {
      continue;
    }
    herrno = fake_zone[i].herrno;
    if (herrno != NETDB_SUCCESS || n == 4) {
      continue;
    }
    if (type == ns_t_a) {
      assert_int_equal(inet_pton(AF_INET, fake_zone[i].data, &bufs[n].d.a), 1);
    } else if (type == ns_t_aaaa) {
      assert_int_equal(inet_pton(AF_INET6, fake_zone[i].data, &bufs[n].d.aaaa),
                       1);
    } else {
      strcpy(bufs[n].buf, fake_zone[i].data);
    }
    rrs[n] = &bufs[n].d;
    n++;
  }
  srr.domain = (char *)(uintptr_t)domain;
  srr.rr_type = type;
  srr.num_rr = n;
  srr.rr = n ? rrs : NULL;
  srr.ttl = 300;
  srr.herrno = herrno;
  srr.source = d;
  if (herrno == NETDB_SUCCESS && n == 0) {
    srr.herrno = NO_DATA;
  }
  if (SPF_dns_rr_dup(&out, &srr) != SPF_E_SUCCESS) {
    SPF_dns_rr_free(out); /* out of memory half-way */
    return NULL;
  }
  return out;
}

static SPF_dns_server_t fake_layer = {
    NULL, fake_lookup, NULL, NULL, NULL, NULL, "fake", 0, NULL};

static void exim_like(void **state, int with_cache) {
  SPF_dns_server_t *dc = with_cache
                             ? SPF_dns_cache_new(&fake_layer, NULL, 0, 8)
                             : &fake_layer;
  SPF_server_t *s;
  SPF_response_t *rp = NULL;
  int before;
  (void)state;
  assert_non_null(dc);
  s = SPF_server_new_dns(dc, 0);
  assert_non_null(s);
  assert_int_equal(s->destroy_resolver, 0);
  assert_int_equal(SPF_server_set_rec_dom(s, "mx.test"), SPF_E_SUCCESS);
  assert_int_equal(SPF_server_set_explanation(s, "See %{d}", &rp),
                   SPF_E_SUCCESS);
  assert_non_null(rp);
  assert_int_equal(SPF_response_errcode(rp), SPF_E_SUCCESS);
  SPF_response_free(rp);

  rp = ask(s, "192.0.2.10", "x@exim.example", "h.example", NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PASS);
  done(rp);
  rp = ask(s, "2001:db8::25", "x@exim.example", "h.example", NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PASS);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: domain of exim.example designates "
                      "2001:db8::25 as permitted sender");
  done(rp);
  rp = ask(s, "192.0.2.11", "x@exim.example", "h.example", NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_FAIL);
  assert_string_equal(SPF_response_get_smtp_comment(rp),
                      "See exim.example : Reason: mechanism");
  done(rp);
  rp = ask(s, "192.0.2.11", "x@again.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_TEMPERROR);
  done(rp);
  rp = ask(s, "192.0.2.11", "x@broken.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_TEMPERROR);
  done(rp);
  rp = ask(s, "192.0.2.11", "x@nodata.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_NONE);
  done(rp);
  rp = ask(s, "192.0.2.11", "x@nowhere.example", NULL, NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_NONE);
  done(rp);

  /* with the cache, the second check asks the layer nothing new */
  before = fake_lookups;
  rp = ask(s, "192.0.2.10", "x@exim.example", "h.example", NULL);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PASS);
  done(rp);
  if (with_cache) {
    assert_int_equal(fake_lookups, before);
  } else {
    assert_true(fake_lookups > before);
  }
  SPF_server_free(s);
  SPF_dns_free(dc); /* the cache (fake_layer has no destroy) */
}

static void test_caller_layer(void **state) { exim_like(state, 0); }
static void test_caller_layer_cached(void **state) { exim_like(state, 1); }

/* Our own layers' lookup works when a caller calls it. */
static void test_layer_lookup(void **state) {
  SPF_server_t *s = zone_server();
  SPF_dns_rr_t *rr;
  (void)state;
  rr = SPF_dns_lookup(s->resolver, "mx1.mx.example", ns_t_a, 1);
  assert_non_null(rr);
  assert_int_equal(rr->herrno, NETDB_SUCCESS);
  assert_int_equal(rr->num_rr, 1);
  assert_int_equal(ntohl(rr->rr[0]->a.s_addr), 0xc633644d);
  SPF_dns_rr_free(rr);
  rr = s->resolver->lookup(s->resolver, "example.com", ns_t_txt, 1);
  assert_int_equal(rr->num_rr, 1);
  assert_string_equal(rr->rr[0]->txt, "v=spf1 ip4:192.0.2.0/24 -all");
  SPF_dns_rr_free(rr);
  rr = SPF_dns_lookup(s->resolver, "none.example", ns_t_txt, 1);
  assert_int_equal(rr->herrno, HOST_NOT_FOUND);
  SPF_dns_rr_free(rr);
  rr = SPF_dns_lookup(s->resolver, "mx.example", ns_t_mx, 1);
  assert_int_equal(rr->num_rr, 1);
  assert_string_equal(rr->rr[0]->mx, "mx1.mx.example");
  SPF_dns_rr_free(rr);
  rr = SPF_dns_lookup(s->resolver, "tmp.example", ns_t_txt, 1);
  assert_int_equal(rr->herrno, TRY_AGAIN);
  SPF_dns_rr_free(rr);
  SPF_server_free(s);
}

/* ---- fallback, local policy, secondary MX ---------------------------- */

static void test_fallback(void **state) {
  SPF_server_t *s = zone_server();
  SPF_request_t *r = SPF_request_new(s);
  SPF_response_t *rp = NULL;
  (void)state;
  assert_int_equal(SPF_request_set_ipv4_str(r, "192.0.2.99"), SPF_E_SUCCESS);
  assert_int_equal(SPF_request_set_env_from(r, "a@none.example"), 0);
  assert_int_equal(SPF_request_query_fallback(r, &rp, "v=spf1 ip4:192.0.2.99 -all"),
                   SPF_E_SUCCESS);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PASS);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_MECH);
  SPF_response_free(rp);
  /* the override is gone after the query */
  assert_int_equal(SPF_request_query_mailfrom(r, &rp), SPF_E_NOT_SPF);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_NONE);
  SPF_response_free(rp);
  assert_int_equal(SPF_request_query_fallback(r, &rp, "v=spf1 bogus"),
                   SPF_E_UNKNOWN_MECH);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PERMERROR);
  SPF_response_free(rp);
  SPF_request_free(r);
  SPF_server_free(s);
}

static void test_local_policy(void **state) {
  SPF_server_t *s = zone_server();
  SPF_request_t *r = SPF_request_new(s);
  SPF_response_t *rp = NULL;
  (void)state;
  assert_int_equal(SPF_server_set_localpolicy(s, "ip4:198.51.100.7", 0, &rp),
                   SPF_E_SUCCESS);
  SPF_response_free(rp);
  rp = NULL;
  assert_int_equal(SPF_server_set_localpolicy(s, "nonsense:x", 0, &rp),
                   SPF_E_UNKNOWN_MECH);
  assert_true(SPF_response_messages(rp) >= 1);
  SPF_response_free(rp);
  rp = NULL;
  assert_int_equal(SPF_request_set_ipv4_str(r, "198.51.100.7"), SPF_E_SUCCESS);
  assert_int_equal(SPF_request_set_env_from(r, "a@example.com"), 0);
  /* only for requests that ask for it, as libspf2 */
  assert_int_equal(SPF_request_query_mailfrom(r, &rp), SPF_E_SUCCESS);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_FAIL);
  SPF_response_free(rp);
  r->use_local_policy = 1;
  assert_int_equal(SPF_request_query_mailfrom(r, &rp), SPF_E_SUCCESS);
  assert_int_equal(SPF_response_result(rp), SPF_RESULT_PASS);
  assert_int_equal(SPF_response_reason(rp), SPF_REASON_LOCAL_POLICY);
  assert_string_equal(SPF_response_get_header_comment(rp),
                      "mx.test: local policy designates 198.51.100.7 as "
                      "permitted sender");
  SPF_response_free(rp);
  SPF_request_free(r);
  SPF_server_free(s);
}

static void test_rcptto_combine(void **state) {
  SPF_server_t *s = zone_server();
  SPF_request_t *r = SPF_request_new(s);
  SPF_response_t *main_rp = NULL, *mx_rp = NULL, *kept;
  (void)state;
  assert_int_equal(SPF_request_set_ipv4_str(r, "198.51.100.77"), SPF_E_SUCCESS);
  assert_int_equal(SPF_request_set_env_from(r, "a@example.com"), 0);
  assert_int_equal(SPF_request_query_mailfrom(r, &main_rp), SPF_E_SUCCESS);
  assert_int_equal(SPF_response_result(main_rp), SPF_RESULT_FAIL);
  assert_int_equal(SPF_request_query_rcptto(r, &mx_rp, "bob@mx.example"),
                   SPF_E_SUCCESS);
  assert_int_equal(SPF_response_result(mx_rp), SPF_RESULT_PASS);
  assert_int_equal(SPF_response_reason(mx_rp), SPF_REASON_2MX);
  assert_string_equal(SPF_response_get_header_comment(mx_rp),
                      "mx.test: message received from 198.51.100.77 which is "
                      "an MX secondary for mx.example.");
  kept = SPF_response_combine(main_rp, mx_rp);
  assert_ptr_equal(kept, mx_rp);
  SPF_response_free(kept);

  /* not an MX: neutral; combine keeps the main response */
  assert_int_equal(SPF_request_set_ipv4_str(r, "192.0.2.5"), SPF_E_SUCCESS);
  assert_int_equal(SPF_request_query_mailfrom(r, &main_rp), SPF_E_SUCCESS);
  assert_int_equal(SPF_request_query_rcptto(r, &mx_rp, "mx.example"),
                   SPF_E_SUCCESS);
  assert_int_equal(SPF_response_result(mx_rp), SPF_RESULT_NEUTRAL);
  kept = SPF_response_combine(main_rp, mx_rp);
  assert_ptr_equal(kept, main_rp);
  assert_int_equal(SPF_response_result(kept), SPF_RESULT_PASS);
  SPF_response_free(kept);
  SPF_request_free(r);
  SPF_server_free(s);
}

/* ---- records and macros ---------------------------------------------- */

static void test_record_compile(void **state) {
  SPF_server_t *s = zone_server();
  SPF_response_t *rp = SPF_response_new(NULL);
  SPF_record_t *rec = NULL;
  SPF_macro_t *mac = (SPF_macro_t *)&rec; /* must be overwritten */
  SPF_request_t *r;
  char *buf = NULL;
  size_t len = 0;
  (void)state;
  assert_int_equal(SPF_record_compile(s, rp, &rec,
                                      "v=spf1 +A mx:%{d} ip4:192.0.2.0/24 "
                                      "-all moo=%{l}.cow"),
                   SPF_E_SUCCESS);
  assert_ptr_equal(rec->spf_server, s);
  assert_int_equal(rec->num_mech, 4);
  assert_int_equal(rec->num_mod, 1);
  assert_int_equal(rec->num_dns_mech, 2);
  assert_int_equal(SPF_record_stringify(rec, &buf, &len), SPF_E_SUCCESS);
  assert_string_equal(buf,
                      "v=spf1 a mx:%{d} ip4:192.0.2.0/24 -all moo=%{l}.cow");
  r = SPF_request_new(NULL);
  assert_int_equal(SPF_request_set_env_from(r, "jo@example.com"), 0);
  assert_int_equal(
      SPF_record_find_mod_value(s, r, rp, rec, "MOO", &buf, &len),
      SPF_E_SUCCESS);
  assert_string_equal(buf, "jo.cow");
  assert_int_equal(
      SPF_record_find_mod_value(s, r, rp, rec, "exp", &buf, &len),
      SPF_E_MOD_NOT_FOUND);
  SPF_record_free(rec);

  assert_int_equal(SPF_record_compile(s, rp, &rec, "v=spf1 ip4:1.2.3"),
                   SPF_E_INVALID_IP4);
  assert_null(rec);
  assert_int_equal(SPF_record_compile(s, rp, &rec, "spf2.0/pra"),
                   SPF_E_NOT_SPF);
  assert_true(SPF_response_errors(rp) >= 2);

  assert_int_equal(SPF_record_compile_macro(s, rp, &mac, "%{x}"),
                   SPF_E_INVALID_VAR);
  assert_null(mac);
  assert_int_equal(
      SPF_record_compile_macro(s, rp, &mac, "%{l1r-} at %{d2} %% %_ %-"),
      SPF_E_SUCCESS);
  assert_int_equal(mac->macro_len, strlen("%{l1r-} at %{d2} %% %_ %-"));
  r->cur_dom = "a.b.example.com";
  assert_int_equal(SPF_record_expand_data(
                       s, r, rp, (SPF_data_t *)((char *)mac + sizeof *mac),
                       mac->macro_len, &buf, &len),
                   SPF_E_SUCCESS);
  assert_string_equal(buf, "jo at example.com %   %20");
  SPF_macro_free(mac);
  free(buf);
  SPF_request_free(r);
  SPF_response_free(rp);
  SPF_server_free(s);
}

/* ---- hostile input --------------------------------------------------- */

static void test_hostile(void **state) {
  SPF_server_t *s = zone_server();
  SPF_response_t *rp = SPF_response_new(NULL);
  SPF_macro_t *mac = NULL;
  SPF_request_t *r;
  char helo[2200], from[1400], *buf = NULL;
  size_t len = 0, i;
  const char *t;
  (void)state;
  /* long HELO with CR/LF: nothing of it can start a header line */
  memset(helo, 'h', sizeof helo);
  memcpy(helo + 10, "\r\nX-Evil: 1\r\n", 13);
  helo[sizeof helo - 1] = '\0';
  SPF_response_free(rp);
  rp = ask(s, "198.51.100.1", "", helo, NULL);
  for (t = SPF_response_get_received_spf(rp); t && *t; t++) {
    assert_true(*t >= 0x20 && *t < 0x7f);
  }
  for (t = SPF_response_get_header_comment(rp); t && *t; t++) {
    assert_true(*t >= 0x20 && *t < 0x7f);
  }
  assert_true(strlen(SPF_response_get_received_spf(rp)) <
              SPF_RECEIVED_SPF_SIZE);
  done(rp);
  /* an 8-bit, CR/LF sender against a domain that fails */
  strcpy(from, "a\r\nb\x80@example.com");
  rp = ask(s, "198.51.100.1", from, "ok.example", NULL);
  for (t = SPF_response_get_received_spf(rp); t && *t; t++) {
    assert_true(*t >= 0x20 && *t < 0x7f);
  }
  for (t = SPF_response_get_smtp_comment(rp); t && *t; t++) {
    assert_true(*t >= 0x20 && *t < 0x7f);
  }
  done(rp);

  /* CVE-style macros: huge transformers, many reversals, long values */
  rp = SPF_response_new(NULL);
  {
    SPF_errcode_t e =
        SPF_record_compile_macro(s, rp, &mac, "%{l99999999999999999999r}");
    assert_true(e == SPF_E_SUCCESS ? mac != NULL : mac == NULL);
  }
  SPF_macro_free(mac);
  mac = NULL;
  assert_int_equal(
      SPF_record_compile_macro(s, rp, &mac, "%{L128r+-.,/_=}%{S}%{ir}.%{h}"),
      SPF_E_SUCCESS);
  r = SPF_request_new(s);
  memset(from, 'x', sizeof from);
  memcpy(from + 600, "@", 1);
  for (i = 601; i < sizeof from - 1; i += 2) {
    from[i + 1] = '.';
  }
  from[sizeof from - 1] = '\0';
  assert_int_equal(SPF_request_set_env_from(r, from), 0);
  assert_int_equal(SPF_request_set_helo_dom(r, helo), SPF_E_SUCCESS);
  assert_int_equal(SPF_request_set_ipv6_str(r, "2001:db8::1"), SPF_E_SUCCESS);
  assert_int_equal(SPF_record_expand_data(
                       s, r, rp, (SPF_data_t *)((char *)mac + sizeof *mac),
                       mac->macro_len, &buf, &len),
                   SPF_E_SUCCESS);
  assert_true(strlen(buf) < 8192);
  free(buf);
  SPF_macro_free(mac);
  SPF_request_free(r);
  SPF_response_free(rp);
  SPF_server_free(s);
}

/* ---- out of memory at every allocation ------------------------------- */

static int oom_round(void) {
  SPF_server_t *s = SPF_server_new(SPF_DNS_ZONE, 0);
  SPF_dns_server_t *dc;
  SPF_server_t *s2;
  SPF_request_t *r;
  SPF_response_t *rp = NULL, *rp2 = NULL;
  SPF_record_t *rec = NULL;
  char *buf = NULL;
  size_t len = 0;
  if (!s) {
    return 0;
  }
  (void)SPF_dns_zone_add_str(s->resolver, "example.com", ns_t_txt,
                             NETDB_SUCCESS, "v=spf1 ip4:192.0.2.0/24 -all");
  (void)SPF_dns_zone_add_str(s->resolver, "mx.example", ns_t_mx,
                             NETDB_SUCCESS, "mx1.mx.example");
  (void)SPF_server_set_rec_dom(s, "mx.test");
  (void)SPF_server_set_explanation(s, "No %{i}", &rp);
  SPF_response_free(rp);
  rp = NULL;
  (void)SPF_server_set_localpolicy(s, "a:relay.example", 0, &rp);
  SPF_response_free(rp);
  rp = NULL;
  r = SPF_request_new(s);
  if (r) {
    (void)SPF_request_set_ipv4_str(r, "198.51.100.1");
    (void)SPF_request_set_helo_dom(r, "helo.example");
    (void)SPF_request_set_env_from(r, "a@example.com");
    r->use_local_policy = 1;
    (void)SPF_request_query_mailfrom(r, &rp);
    (void)SPF_request_query_rcptto(r, &rp2, "b@mx.example");
    if (rp && rp2) {
      rp = SPF_response_combine(rp, rp2);
    } else {
      SPF_response_free(rp2);
    }
    SPF_response_free(rp);
    rp = NULL;
    (void)SPF_request_query_fallback(r, &rp, "v=spf1 -all");
    SPF_response_free(rp);
    rp = NULL;
    if (SPF_record_compile(s, NULL, &rec, "v=spf1 a -all x=%{d}") ==
        SPF_E_SUCCESS) {
      (void)SPF_record_stringify(rec, &buf, &len);
      (void)SPF_record_find_mod_value(s, r, NULL, rec, "x", &buf, &len);
      SPF_record_free(rec);
    }
    /* a caller frees it with free(); here through the hook, so that
     * the count of live blocks stays exact */
    (void)mdspf_libspf2_test_realloc(buf, 0);
    SPF_request_free(r);
  }
  dc = SPF_dns_cache_new(&fake_layer, NULL, 0, 4);
  s2 = dc ? SPF_server_new_dns(dc, 0) : NULL;
  if (s2) {
    r = SPF_request_new(s2);
    if (r) {
      (void)SPF_request_set_ipv4_str(r, "192.0.2.10");
      (void)SPF_request_set_env_from(r, "a@exim.example");
      (void)SPF_request_query_mailfrom(r, &rp);
      SPF_response_free(rp);
      rp = NULL;
      SPF_request_free(r);
    }
  }
  SPF_server_free(s2);
  SPF_dns_free(dc);
  SPF_server_free(s);
  return 1;
}

static void test_oom(void **state) {
  long n, total;
  (void)state;
  alloc_fail_at = 0;
  alloc_calls = 0;
  alloc_live = 0;
  assert_int_equal(oom_round(), 1);
  total = alloc_calls;
  assert_int_equal(alloc_live, 0);
  assert_true(total > 50);
  for (n = 1; n <= total; n++) {
    alloc_calls = 0;
    alloc_fail_at = n;
    (void)oom_round();
    assert_int_equal(alloc_live, 0);
  }
  alloc_fail_at = 0;
}

/* ---- codes and texts ------------------------------------------------- */

static void test_texts(void **state) {
  int maj = 0, min = 0, pat = 0;
  (void)state;
  assert_string_equal(SPF_strresult(SPF_RESULT_INVALID), "(invalid)");
  assert_string_equal(SPF_strresult(SPF_RESULT_PERMERROR), "permerror");
  assert_string_equal(SPF_strresult((SPF_result_t)99),
                      "(error: unknown result)");
  assert_string_equal(SPF_strreason(SPF_REASON_2MX), "secondary MX");
  assert_string_equal(SPF_strreason(SPF_REASON_FAILURE), "(invalid reason)");
  assert_string_equal(SPF_strerror(SPF_E_NOT_SPF),
                      "Could not find a valid SPF record");
  assert_string_equal(SPF_strerror((SPF_errcode_t)1000),
                      "Unknown SPF error code");
  SPF_get_lib_version(&maj, &min, &pat);
  assert_int_equal(maj * 10000 + min * 100 + pat, 10210);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pass_texts),
      cmocka_unit_test(test_fail_softfail_neutral),
      cmocka_unit_test(test_none_errors),
      cmocka_unit_test(test_localhost_and_noip),
      cmocka_unit_test(test_request_setters),
      cmocka_unit_test(test_caller_layer),
      cmocka_unit_test(test_caller_layer_cached),
      cmocka_unit_test(test_layer_lookup),
      cmocka_unit_test(test_fallback),
      cmocka_unit_test(test_local_policy),
      cmocka_unit_test(test_rcptto_combine),
      cmocka_unit_test(test_record_compile),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_oom),
      cmocka_unit_test(test_texts),
  };
  return cmocka_run_group_tests_name("libspf2", tests, NULL, NULL);
}

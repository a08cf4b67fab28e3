/*
 * tests/test_record.c -- record parser: every mechanism and modifier,
 * exact error codes/offsets/lengths, introspection, canonical format.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/record.h"
#include "core/macro.h"
#include "util/strbuf.h"
#include "test_alloc.h"

static mdspf_record *parse_ok(const char *txt) {
  mdspf_record *rec = NULL;
  int code = -1;
  size_t off = 99, len = 99;
  int rc = mdspf_record_parse(txt, strlen(txt), NULL, NULL, &rec, &code,
                              &off, &len);
  if (rc != MDSPF_OK) {
    print_error("unexpected error for '%s': %s at %zu+%zu\n", txt,
                mdspf_syntax_str(code), off, len);
  }
  assert_int_equal(rc, MDSPF_OK);
  assert_non_null(rec);
  return rec;
}

/* Assert that txt fails with code at [off, off+len). */
static void parse_err(const char *txt, int code, size_t off, size_t len) {
  mdspf_record *rec = (mdspf_record *)(uintptr_t)1;
  int c = -1;
  size_t o = 999, l = 999;
  int rc = mdspf_record_parse(txt, strlen(txt), NULL, NULL, &rec, &c, &o, &l);
  if (rc != MDSPF_E_SYNTAX || c != code || o != off || l != len) {
    print_error("'%s': got rc=%d code=%d(%s) off=%zu len=%zu, want code=%d "
                "off=%zu len=%zu\n",
                txt, rc, c, mdspf_syntax_str(c), o, l, code, off, len);
  }
  assert_int_equal(rc, MDSPF_E_SYNTAX);
  assert_null(rec);
  assert_int_equal(c, code);
  assert_int_equal(o, off);
  assert_int_equal(l, len);
}

static void test_record_is_spf(void **state) {
  (void)state;
  assert_true(mdspf_record_is_spf("v=spf1", 6));
  assert_true(mdspf_record_is_spf("v=spf1 -all", 11));
  assert_true(mdspf_record_is_spf("V=SpF1 -all", 11));
  assert_false(mdspf_record_is_spf("v=spf10", 7));
  assert_false(mdspf_record_is_spf("v=spf1mx", 8));
  assert_false(mdspf_record_is_spf("v=spf1\t-all", 11));
  assert_false(mdspf_record_is_spf(" v=spf1", 7));
  assert_false(mdspf_record_is_spf("v=spf", 5));
  assert_false(mdspf_record_is_spf(NULL, 0));
  /* length is honoured: "v=spf1 -all" cut to 6 bytes is still a record */
  assert_true(mdspf_record_is_spf("v=spf1 -all", 6));
}

static void test_record_every_mechanism(void **state) {
  unsigned char addr[16];
  mdspf_record *rec;
  (void)state;
  rec = parse_ok("v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com"
                 " mx/24 mx:mx.example.com//64 ptr ptr:example.org"
                 " ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.bl.example.com"
                 " a/0//0 a:x.example.com/32//128");
  assert_int_equal(mdspf_record_nterms(rec), 13);
  assert_int_equal(mdspf_record_term_kind(rec, 0), MDSPF_TERM_ALL);
  assert_int_equal(mdspf_record_term_qualifier(rec, 0), MDSPF_PASS);
  assert_int_equal(mdspf_record_term_qualifier_char(rec, 0), '+');
  assert_int_equal(mdspf_record_term_kind(rec, 1), MDSPF_TERM_INCLUDE);
  assert_int_equal(mdspf_record_term_qualifier(rec, 1), MDSPF_FAIL);
  assert_string_equal(mdspf_record_term_value(rec, 1), "_spf.example.com");
  assert_int_equal(mdspf_record_term_kind(rec, 2), MDSPF_TERM_A);
  assert_int_equal(mdspf_record_term_qualifier(rec, 2), MDSPF_SOFTFAIL);
  assert_null(mdspf_record_term_value(rec, 2));
  assert_int_equal(mdspf_record_term_cidr(rec, 2, 4), -1);
  assert_int_equal(mdspf_record_term_qualifier(rec, 3), MDSPF_NEUTRAL);
  assert_string_equal(mdspf_record_term_value(rec, 3), "mail.example.com");
  assert_int_equal(mdspf_record_term_kind(rec, 4), MDSPF_TERM_MX);
  assert_int_equal(mdspf_record_term_qualifier_char(rec, 4), 0);
  assert_int_equal(mdspf_record_term_cidr(rec, 4, 4), 24);
  assert_int_equal(mdspf_record_term_cidr(rec, 4, 6), -1);
  assert_string_equal(mdspf_record_term_value(rec, 5), "mx.example.com");
  assert_int_equal(mdspf_record_term_cidr(rec, 5, 4), -1);
  assert_int_equal(mdspf_record_term_cidr(rec, 5, 6), 64);
  assert_int_equal(mdspf_record_term_kind(rec, 6), MDSPF_TERM_PTR);
  assert_null(mdspf_record_term_value(rec, 6));
  assert_string_equal(mdspf_record_term_value(rec, 7), "example.org");
  assert_int_equal(mdspf_record_term_kind(rec, 8), MDSPF_TERM_IP4);
  assert_int_equal(mdspf_record_term_addr(rec, 8, addr), 4);
  assert_memory_equal(addr, "\xc0\x00\x02\x00", 4);
  assert_int_equal(mdspf_record_term_cidr(rec, 8, 4), 24);
  assert_int_equal(mdspf_record_term_kind(rec, 9), MDSPF_TERM_IP6);
  assert_int_equal(mdspf_record_term_addr(rec, 9, addr), 6);
  assert_memory_equal(addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\0", 16);
  assert_int_equal(mdspf_record_term_cidr(rec, 9, 6), 32);
  assert_int_equal(mdspf_record_term_kind(rec, 10), MDSPF_TERM_EXISTS);
  assert_true(mdspf_record_term_has_macros(rec, 10));
  assert_false(mdspf_record_term_has_macros(rec, 3));
  assert_int_equal(mdspf_record_term_cidr(rec, 11, 4), 0);
  assert_int_equal(mdspf_record_term_cidr(rec, 11, 6), 0);
  assert_int_equal(mdspf_record_term_cidr(rec, 12, 4), 32);
  assert_int_equal(mdspf_record_term_cidr(rec, 12, 6), 128);
  /* out of range */
  assert_int_equal(mdspf_record_term_kind(rec, 13), 0);
  assert_null(mdspf_record_term_value(rec, 99));
  assert_int_equal(mdspf_record_term_qualifier(rec, 99), -1);
  assert_int_equal(mdspf_record_term_span(rec, 99, NULL, NULL), MDSPF_E_INVAL);
  mdspf_record_free(rec);
}

static void test_record_modifiers(void **state) {
  mdspf_record *rec;
  size_t off, len;
  (void)state;
  rec = parse_ok("v=spf1 Redirect=_spf.example.com EXP=exp.%{d} "
                 "moo.cow-far_out=man:dog/cat x= op=pass");
  assert_int_equal(mdspf_record_nterms(rec), 5);
  assert_int_equal(mdspf_record_term_kind(rec, 0), MDSPF_TERM_REDIRECT);
  assert_string_equal(mdspf_record_term_name(rec, 0), "Redirect");
  assert_string_equal(mdspf_record_term_value(rec, 0), "_spf.example.com");
  assert_int_equal(mdspf_record_term_qualifier(rec, 0), -1);
  assert_int_equal(mdspf_record_term_kind(rec, 1), MDSPF_TERM_EXP);
  assert_int_equal(mdspf_record_term_kind(rec, 2), MDSPF_TERM_MODIFIER);
  assert_string_equal(mdspf_record_term_name(rec, 2), "moo.cow-far_out");
  assert_string_equal(mdspf_record_term_value(rec, 2), "man:dog/cat");
  assert_string_equal(mdspf_record_term_value(rec, 3), "");
  assert_int_equal(mdspf_record_term_span(rec, 1, &off, &len), MDSPF_OK);
  assert_int_equal(off, 33);
  assert_int_equal(len, 12);
  mdspf_record_free(rec);
  /* unknown modifiers may repeat */
  rec = parse_ok("v=spf1 a=1 a=2 a=3");
  assert_int_equal(mdspf_record_nterms(rec), 3);
  mdspf_record_free(rec);
}

static void test_record_spaces(void **state) {
  mdspf_record *rec;
  (void)state;
  rec = parse_ok("v=spf1");
  assert_int_equal(mdspf_record_nterms(rec), 0);
  mdspf_record_free(rec);
  rec = parse_ok("v=spf1      ");
  assert_int_equal(mdspf_record_nterms(rec), 0);
  mdspf_record_free(rec);
  rec = parse_ok("v=spf1 a  -all ");
  assert_int_equal(mdspf_record_nterms(rec), 2);
  mdspf_record_free(rec);
}

static void test_record_domain_specs(void **state) {
  mdspf_record *rec;
  (void)state;
  /* valid: toplabel with dash, trailing dot, colon/slash in the middle,
   * ending in a macro, the %% %_ %- escapes */
  rec = parse_ok("v=spf1 a:foo.example.xn--zckzah a:mail.example.com. "
                 "a:foo:bar/baz.example.com exists:%{i}._spf.%{d} "
                 "a:%{d}.x.%{d2} a:macro%%percent%_%_space%-url.example.com "
                 "a:.museum exists:foo%- a:1-2.example.123-4");
  assert_int_equal(mdspf_record_nterms(rec), 9);
  mdspf_record_free(rec);
  /* invalid domain ends: offset points at the would-be top label */
  parse_err("v=spf1 a:foo-bar", MDSPF_SYN_BAD_DOMAIN, 9, 7);
  parse_err("v=spf1 a:museum", MDSPF_SYN_BAD_DOMAIN, 9, 6);
  parse_err("v=spf1 a:museum.", MDSPF_SYN_BAD_DOMAIN, 9, 7);
  parse_err("v=spf1 a:111.222.33.44", MDSPF_SYN_BAD_DOMAIN, 20, 2);
  parse_err("v=spf1 a:abc.123", MDSPF_SYN_BAD_DOMAIN, 13, 3);
  parse_err("v=spf1 a:example.-com", MDSPF_SYN_BAD_DOMAIN, 17, 4);
  parse_err("v=spf1 a:example.com-", MDSPF_SYN_BAD_DOMAIN, 17, 4);
  parse_err("v=spf1 a:example.com:8080", MDSPF_SYN_BAD_DOMAIN, 17, 8);
  parse_err("v=spf1 include:ip5.example.com/24", MDSPF_SYN_BAD_DOMAIN, 27, 6);
  parse_err("v=spf1 exists:mail.example.com/24", MDSPF_SYN_BAD_DOMAIN, 27, 6);
  parse_err("v=spf1 a:%{d}x", MDSPF_SYN_BAD_DOMAIN, 9, 5);
  /* a 64-octet label is still valid syntax (it fails at lookup time) */
  rec = parse_ok("v=spf1 a:a123456789012345678901234567890123456789012345678"
                 "901234567890123.example.com");
  mdspf_record_free(rec);
}

static void test_record_bad_chars(void **state) {
  (void)state;
  parse_err("v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all",
            MDSPF_SYN_BAD_CHAR, 9, 1);
  parse_err("v=spf1 \x80" "a:example.net -all", MDSPF_SYN_UNKNOWN_MECH, 7, 14);
  parse_err("v=spf1 a:example.net \x96" "all", MDSPF_SYN_UNKNOWN_MECH, 21, 4);
  parse_err("v=spf1 a:ctrl.example.com\rptr -all", MDSPF_SYN_BAD_CHAR, 25, 1);
  parse_err("v=spf1 ip4:192.0.2.5\n include:x.example.com ~all",
            MDSPF_SYN_BAD_IP4, 11, 10);
  {
    /* NUL inside the record (binary-safe length) */
    static const char txt[] = "v=spf1 a:foo.example.com\0";
    mdspf_record *rec = NULL;
    int code = 0;
    size_t off = 0, len = 0;
    assert_int_equal(mdspf_record_parse(txt, sizeof txt - 1, NULL, NULL, &rec,
                                        &code, &off, &len),
                     MDSPF_E_SYNTAX);
    assert_int_equal(code, MDSPF_SYN_BAD_CHAR);
    assert_int_equal(off, 24);
  }
}

static void test_record_mechanism_errors(void **state) {
  (void)state;
  parse_err("v=spf1 ip4:1.2.3.4 -all moo", MDSPF_SYN_UNKNOWN_MECH, 24, 3);
  parse_err("v=spf1 -all.", MDSPF_SYN_UNKNOWN_MECH, 7, 5);
  parse_err("v=spf1 -all:foobar", MDSPF_SYN_UNEXPECTED_ARG, 11, 7);
  parse_err("v=spf1 -all/8", MDSPF_SYN_UNEXPECTED_ARG, 11, 2);
  parse_err("v=spf1 ptr/0 -all", MDSPF_SYN_UNEXPECTED_ARG, 10, 2);
  parse_err("v=spf1 ptr:", MDSPF_SYN_MISSING_ARG, 7, 4);
  parse_err("v=spf1 include +all", MDSPF_SYN_MISSING_ARG, 7, 7);
  parse_err("v=spf1 include: -all", MDSPF_SYN_MISSING_ARG, 7, 8);
  parse_err("v=spf1 exists", MDSPF_SYN_MISSING_ARG, 7, 6);
  parse_err("v=spf1 exists:", MDSPF_SYN_MISSING_ARG, 7, 7);
  parse_err("v=spf1 a:", MDSPF_SYN_MISSING_ARG, 7, 2);
  parse_err("v=spf1 mx: -all", MDSPF_SYN_MISSING_ARG, 7, 3);
  parse_err("v=spf1 ip4", MDSPF_SYN_MISSING_ARG, 7, 3);
  parse_err("v=spf1 -all ip6", MDSPF_SYN_MISSING_ARG, 12, 3);
  parse_err("v=spf1 ip4:", MDSPF_SYN_MISSING_ARG, 7, 4);
  parse_err("v=spf1 redirect:t2.example.com", MDSPF_SYN_UNKNOWN_MECH, 7, 23);
  parse_err("v=spf1 =all", MDSPF_SYN_UNKNOWN_MECH, 7, 4);
  parse_err("v=spf1 1up=foo", MDSPF_SYN_UNKNOWN_MECH, 7, 7);
  parse_err("v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all",
            MDSPF_SYN_UNKNOWN_MECH, 7, 27);
  parse_err("v=spf1 moo.cow:far_out=man:dog/cat", MDSPF_SYN_UNKNOWN_MECH, 7,
            27);
  parse_err("v=spf1 -redirect=x.example.com", MDSPF_SYN_UNKNOWN_MECH, 7, 23);
}

static void test_record_cidr(void **state) {
  mdspf_record *rec;
  (void)state;
  rec = parse_ok("v=spf1 ip4:0.0.0.0/0 ip4:1.2.3.4/32 ip6:::/0 ip6:::1/128 "
                 "a//128 a/32");
  assert_int_equal(mdspf_record_term_cidr(rec, 0, 4), 0);
  assert_int_equal(mdspf_record_term_cidr(rec, 1, 4), 32);
  assert_int_equal(mdspf_record_term_cidr(rec, 2, 6), 0);
  assert_int_equal(mdspf_record_term_cidr(rec, 3, 6), 128);
  mdspf_record_free(rec);
  parse_err("v=spf1 ip4:1.2.3.4/33 -all", MDSPF_SYN_BAD_CIDR, 18, 3);
  parse_err("v=spf1 ip4:1.2.3.4/032 -all", MDSPF_SYN_BAD_CIDR, 18, 4);
  parse_err("v=spf1 ip4:1.2.3.4//32", MDSPF_SYN_BAD_CIDR, 18, 4);
  parse_err("v=spf1 ip4:1.2.3.4/", MDSPF_SYN_BAD_CIDR, 18, 1);
  parse_err("v=spf1 ip6:::1.1.1.1/129", MDSPF_SYN_BAD_CIDR, 20, 4);
  parse_err("v=spf1 ip6:::1.1.1.1//33", MDSPF_SYN_BAD_CIDR, 20, 4);
  parse_err("v=spf1 a/33 -all", MDSPF_SYN_BAD_CIDR, 8, 3);
  parse_err("v=spf1 a//129 -all", MDSPF_SYN_BAD_CIDR, 8, 5);
  parse_err("v=spf1 a/24/64 -all", MDSPF_SYN_BAD_CIDR, 11, 3); /* /64 > 32 */
  parse_err("v=spf1 a/24/16 -all", MDSPF_SYN_BAD_CIDR, 8, 3);  /* stray /24 */
  parse_err("v=spf1 mx/", MDSPF_SYN_BAD_CIDR, 9, 1);
  parse_err("v=spf1 a/99999999999999999999", MDSPF_SYN_BAD_CIDR, 8, 21);
}

static void test_record_cidr_ip6_33(void **state) {
  /* a//33 is a valid ip6 prefix length (only ip4 stops at 32) */
  mdspf_record *rec;
  (void)state;
  rec = parse_ok("v=spf1 a//33 -all");
  assert_int_equal(mdspf_record_term_cidr(rec, 0, 6), 33);
  mdspf_record_free(rec);
}

static void test_record_ip_errors(void **state) {
  (void)state;
  parse_err("v=spf1 ip4:1.2.3", MDSPF_SYN_BAD_IP4, 11, 5);
  parse_err("v=spf1 ip4:1.2.3.4:8080", MDSPF_SYN_BAD_IP4, 11, 12);
  parse_err("v=spf1 ip4:1.2.03.4", MDSPF_SYN_BAD_IP4, 11, 8);
  parse_err("v=spf1 ip4:1.2.3.256", MDSPF_SYN_BAD_IP4, 11, 9);
  parse_err("v=spf1 ip6::CAFE::BABE", MDSPF_SYN_BAD_IP6, 11, 11);
  parse_err("v=spf1 ip6:1:2:3:4:5:6:7:8:9", MDSPF_SYN_BAD_IP6, 11, 17);
  parse_err("v=spf1 ip6:12345::", MDSPF_SYN_BAD_IP6, 11, 7);
  parse_err("v=spf1 ip4:/24", MDSPF_SYN_BAD_IP4, 11, 1);
}

static void test_record_modifier_errors(void **state) {
  (void)state;
  parse_err("v=spf1 redirect=", MDSPF_SYN_MISSING_ARG, 16, 0);
  parse_err("v=spf1 exp= -all", MDSPF_SYN_MISSING_ARG, 11, 0);
  parse_err("v=spf1 exp=-all", MDSPF_SYN_BAD_DOMAIN, 11, 4);
  parse_err("v=spf1 redirect=-all ?all", MDSPF_SYN_BAD_DOMAIN, 16, 4);
  parse_err("v=spf1 redirect=a.example.com -all redirect=a.example.com",
            MDSPF_SYN_DUP_MODIFIER, 35, 22);
  parse_err("v=spf1 exp=a.example.com -all exp=b.example.com",
            MDSPF_SYN_DUP_MODIFIER, 30, 17);
  parse_err("v=spf1 -all foo=%abc", MDSPF_SYN_BAD_MACRO, 16, 2);
  parse_err("v=spf1 exp=%{r}.example.com", MDSPF_SYN_MACRO_LETTER, 11, 3);
  parse_err("v=spf1 x=%{c}", MDSPF_SYN_MACRO_LETTER, 9, 3);
  parse_err("v=spf1 x=a\x01" "b", MDSPF_SYN_BAD_CHAR, 10, 1);
}

static void test_record_macro_errors(void **state) {
  (void)state;
  parse_err("v=spf1 -exists:%(ir).sbl.example.com ?all", MDSPF_SYN_BAD_MACRO,
            15, 2);
  parse_err("v=spf1 exists:foo%(ir).sbl.example.com ?all",
            MDSPF_SYN_BAD_MACRO, 17, 2);
  parse_err("v=spf1 exists:foo%.sbl.example.com ?all", MDSPF_SYN_BAD_MACRO, 17,
            2);
  parse_err("v=spf1 a:%{a}.example.com -all", MDSPF_SYN_MACRO_LETTER, 9, 3);
  parse_err("v=spf1 a:%{d0}.example.com", MDSPF_SYN_BAD_MACRO, 9, 4);
  parse_err("v=spf1 a:%{d2x}.example.com", MDSPF_SYN_BAD_MACRO, 9, 6);
  parse_err("v=spf1 a:%{d.example.com", MDSPF_SYN_BAD_MACRO, 9, 15);
  parse_err("v=spf1 a:foo.example.com%", MDSPF_SYN_BAD_MACRO, 24, 1);
  parse_err("v=spf1 a:%{", MDSPF_SYN_BAD_MACRO, 9, 2);
  parse_err("v=spf1 a:%{t}.example.com", MDSPF_SYN_MACRO_LETTER, 9, 3);
}

static void test_record_version_and_size(void **state) {
  char *big;
  size_t n = MDSPF_MAX_RECORD + 10, i;
  (void)state;
  parse_err("v=spf10", MDSPF_SYN_VERSION, 0, 7);
  parse_err("spf1 -all", MDSPF_SYN_VERSION, 0, 4);
  parse_err("", MDSPF_SYN_VERSION, 0, 0);
  parse_err(" v=spf1 -all", MDSPF_SYN_VERSION, 0, 1);
  big = malloc(n + 1);
  assert_non_null(big);
  memcpy(big, "v=spf1", 6);
  for (i = 6; i < n; i++) {
    big[i] = (i % 2) ? 'a' : ' ';
  }
  big[n] = '\0';
  parse_err(big, MDSPF_SYN_TOO_LONG, MDSPF_MAX_RECORD, 10);
  /* many terms, below the length limit but above the term limit */
  big[8 + 2 * MDSPF_MAX_TERMS] = '\0';
  parse_err(big, MDSPF_SYN_TOO_MANY_TERMS, 0, strlen(big));
  free(big);
}

static void test_record_null_args(void **state) {
  mdspf_record *rec = NULL;
  (void)state;
  assert_int_equal(mdspf_record_parse(NULL, 0, NULL, NULL, &rec, NULL, NULL,
                                      NULL),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_record_parse("v=spf1", 6, NULL, NULL, NULL, NULL,
                                      NULL, NULL),
                   MDSPF_E_INVAL);
  /* error out-params are optional */
  assert_int_equal(mdspf_record_parse("v=spf1 x", 8, NULL, NULL, &rec, NULL,
                                      NULL, NULL),
                   MDSPF_E_SYNTAX);
  mdspf_record_free(NULL);
  assert_null(mdspf_record_text(NULL, NULL));
  assert_int_equal(mdspf_record_nterms(NULL), 0);
}

static void roundtrip(const char *txt, const char *canonical) {
  mdspf_record *a = parse_ok(txt), *b;
  char buf[512];
  size_t need = 0, i;
  assert_int_equal(mdspf_record_format(a, buf, sizeof buf, &need), MDSPF_OK);
  assert_string_equal(buf, canonical);
  assert_int_equal(need, strlen(canonical));
  b = parse_ok(buf);
  assert_int_equal(mdspf_record_nterms(a), mdspf_record_nterms(b));
  for (i = 0; i < mdspf_record_nterms(a); i++) {
    unsigned char x[16], y[16];
    assert_int_equal(mdspf_record_term_kind(a, i), mdspf_record_term_kind(b, i));
    assert_int_equal(mdspf_record_term_qualifier(a, i),
                     mdspf_record_term_qualifier(b, i));
    assert_int_equal(mdspf_record_term_cidr(a, i, 4),
                     mdspf_record_term_cidr(b, i, 4));
    assert_int_equal(mdspf_record_term_cidr(a, i, 6),
                     mdspf_record_term_cidr(b, i, 6));
    assert_int_equal(mdspf_record_term_addr(a, i, x),
                     mdspf_record_term_addr(b, i, y));
    if (mdspf_record_term_value(a, i)) {
      assert_string_equal(mdspf_record_term_value(a, i),
                          mdspf_record_term_value(b, i));
    }
  }
  mdspf_record_free(a);
  mdspf_record_free(b);
}

static void test_record_format(void **state) {
  mdspf_record *rec;
  char small[10];
  size_t need = 0;
  (void)state;
  roundtrip("V=SPF1  +A  MX/24//64 -Include:X.example.com ?ip4:192.0.2.1/32 "
            "~ip6:2001:DB8::/48 Exists:%{i}.x.example.com Redirect=r.example "
            "Foo=bar",
            "v=spf1 a mx/24//64 -include:X.example.com ?ip4:192.0.2.1/32 "
            "~ip6:2001:DB8::/48 exists:%{i}.x.example.com redirect=r.example "
            "foo=bar");
  roundtrip("v=spf1", "v=spf1");
  rec = parse_ok("v=spf1 -all");
  assert_int_equal(mdspf_record_format(rec, small, 5, &need), MDSPF_E_BUFFER);
  assert_string_equal(small, "v=sp");
  assert_int_equal(need, 11);
  assert_int_equal(mdspf_record_format(rec, NULL, 0, &need), MDSPF_E_BUFFER);
  assert_int_equal(need, 11);
  mdspf_record_free(rec);
}

static void test_record_oom(void **state) {
  static const char txt[] = "v=spf1 a mx include:x.example.com -all";
  test_alloc f;
  mdspf_record *rec = NULL;
  (void)state;
  memset(&f, 0, sizeof f);
  f.fail_at = 1;
  assert_int_equal(mdspf_record_parse(txt, strlen(txt), test_alloc_fn, &f, &rec,
                                      NULL, NULL, NULL),
                   MDSPF_E_NOMEM);
  assert_null(rec);
  assert_int_equal(f.live, 0);
  f.fail_at = 0;
  f.calls = 0;
  assert_int_equal(mdspf_record_parse(txt, strlen(txt), test_alloc_fn, &f, &rec,
                                      NULL, NULL, NULL),
                   MDSPF_OK);
  /* exactly one allocation per record */
  assert_int_equal(f.calls, 1);
  mdspf_record_free(rec);
  assert_int_equal(f.live, 0);
}

static void test_record_text_kept(void **state) {
  mdspf_record *rec;
  size_t len = 0;
  (void)state;
  rec = parse_ok("v=spf1 ip4:192.0.2.1 -all");
  assert_string_equal(mdspf_record_text(rec, &len), "v=spf1 ip4:192.0.2.1 -all");
  assert_int_equal(len, 25);
  mdspf_record_free(rec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_is_spf),
      cmocka_unit_test(test_record_every_mechanism),
      cmocka_unit_test(test_record_modifiers),
      cmocka_unit_test(test_record_spaces),
      cmocka_unit_test(test_record_domain_specs),
      cmocka_unit_test(test_record_bad_chars),
      cmocka_unit_test(test_record_mechanism_errors),
      cmocka_unit_test(test_record_cidr),
      cmocka_unit_test(test_record_cidr_ip6_33),
      cmocka_unit_test(test_record_ip_errors),
      cmocka_unit_test(test_record_modifier_errors),
      cmocka_unit_test(test_record_macro_errors),
      cmocka_unit_test(test_record_version_and_size),
      cmocka_unit_test(test_record_null_args),
      cmocka_unit_test(test_record_format),
      cmocka_unit_test(test_record_oom),
      cmocka_unit_test(test_record_text_kept),
  };
  return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}

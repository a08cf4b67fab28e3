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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/record.h"
#include "core/macro.h"
#include "util/strbuf.h"
#include "test_alloc.h"

/* The parser reads common terms on a fast path and everything else with
 * its general term parser: both must give the same error at the same
 * place, or byte-identical records.  Every record of these tests is
 * checked both ways. */
static void same_as_general(const char *txt, size_t n) {
  mdspf__allocator a;
  mdspf_record *r = NULL, *g = NULL;
  int rc, grc, code = -1, gcode = -2;
  size_t off = 1, len = 1, goff = 2, glen = 2, i;
  mdspf__allocator_init(&a, NULL, NULL);
  rc = mdspf__record_parse(&a, txt, n, &r, &code, &off, &len);
  grc = mdspf__record_parse_general(&a, txt, n, &g, &gcode, &goff, &glen);
  if (rc != grc || (rc != MDSPF_OK &&
                    (code != gcode || off != goff || len != glen))) {
    print_error("'%s': fast path rc=%d %s at %zu+%zu, general rc=%d %s at "
                "%zu+%zu\n",
                txt, rc, mdspf_syntax_str(code), off, len, grc,
                mdspf_syntax_str(gcode), goff, glen);
  }
  assert_int_equal(rc, grc);
  if (rc != MDSPF_OK) {
    assert_int_equal(code, gcode);
    assert_int_equal(off, goff);
    assert_int_equal(len, glen);
    return;
  }
  assert_int_equal(r->size, g->size);
  assert_int_equal(r->nterms, g->nterms);
  assert_int_equal(r->redirect, g->redirect);
  assert_int_equal(r->exp, g->exp);
  for (i = 0; i < r->nterms; i++) {
    const mdspf__term *x = &r->terms[i], *y = &g->terms[i];
    assert_int_equal(x->kind, y->kind);
    assert_int_equal(x->qual, y->qual);
    assert_int_equal(x->qual_char, y->qual_char);
    assert_int_equal(x->flags, y->flags);
    assert_int_equal(x->cidr4, y->cidr4);
    assert_int_equal(x->cidr6, y->cidr6);
    assert_int_equal(x->off, y->off);
    assert_int_equal(x->len, y->len);
    assert_int_equal(x->name, y->name);
    assert_int_equal(x->value, y->value);
    assert_int_equal(x->value_len, y->value_len);
    assert_int_equal(x->letters, y->letters);
    assert_memory_equal(x->addr, y->addr, sizeof x->addr);
  }
  assert_memory_equal(r->pool, g->pool, 2 * (size_t)r->text_len + 2);
  mdspf_record_free(r);
  mdspf_record_free(g);
}

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
  same_as_general(txt, strlen(txt));
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
  same_as_general(txt, strlen(txt));
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

/* A record of more terms than the parser's stack holds is allocated
 * mid-parse: still one allocation, and none left when it fails. */
static void test_record_oom_many_terms(void **state) {
  char txt[8 + 3 * 100 + 16];
  test_alloc f;
  mdspf_record *rec = NULL;
  size_t n, i;
  (void)state;
  n = (size_t)sprintf(txt, "v=spf1");
  for (i = 0; i < 100; i++) {
    n += (size_t)sprintf(txt + n, " mx");
  }
  memset(&f, 0, sizeof f);
  f.fail_at = 1;
  assert_int_equal(mdspf_record_parse(txt, n, test_alloc_fn, &f, &rec, NULL,
                                      NULL, NULL),
                   MDSPF_E_NOMEM);
  assert_null(rec);
  assert_int_equal(f.live, 0);
  f.fail_at = 0;
  f.calls = 0;
  assert_int_equal(mdspf_record_parse(txt, n, test_alloc_fn, &f, &rec, NULL,
                                      NULL, NULL),
                   MDSPF_OK);
  assert_int_equal(f.calls, 1);
  assert_int_equal(mdspf_record_nterms(rec), 100);
  mdspf_record_free(rec);
  /* a syntax error after the allocation gives it back */
  memcpy(txt + n - 2, "m%", 2);
  f.calls = 0;
  assert_int_equal(mdspf_record_parse(txt, n, test_alloc_fn, &f, &rec, NULL,
                                      NULL, NULL),
                   MDSPF_E_SYNTAX);
  assert_null(rec);
  assert_int_equal(f.calls, 1);
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

/* The macro letters and flags are the parser's: kept in the term, not
 * found by scanning its value again. */
static void test_record_letters_kept(void **state) {
  mdspf_record *rec;
  (void)state;
  rec = parse_ok("v=spf1 exists:%{i}.%{l1r+-}._spf.%{d} a:%{P}.x.example "
                 "include:%%.%_.%-.example.com redirect=%{s}.%{h}.example");
  assert_int_equal(mdspf_record_nterms(rec), 4);
  assert_int_equal(rec->terms[0].letters,
                   MDSPF__ML('i') | MDSPF__ML('l') | MDSPF__ML('d'));
  assert_int_equal(rec->terms[0].flags, MDSPF__TF_MACROS);
  assert_int_equal(rec->terms[1].letters, MDSPF__ML('p'));
  assert_int_equal(rec->terms[1].flags,
                   MDSPF__TF_MACROS | MDSPF__TF_NEEDS_P);
  /* escapes only: macros, but no letters */
  assert_int_equal(rec->terms[2].letters, 0);
  assert_int_equal(rec->terms[2].flags, MDSPF__TF_MACROS);
  assert_int_equal(rec->terms[3].letters, MDSPF__ML('s') | MDSPF__ML('h'));
  /* c is an explain-string letter: not allowed in exp's domain-spec */
  mdspf_record_free(rec);
  parse_err("v=spf1 exp=%{c}.example", MDSPF_SYN_MACRO_LETTER, 11, 3);
  rec = parse_ok("v=spf1 exp=%{d}.example foo=%{p}%{o} ip4:192.0.2.1 "
                 "mx:example.com");
  assert_int_equal(rec->terms[0].letters, MDSPF__ML('d'));
  /* an unknown modifier is never expanded: its %{p} needs no lookup */
  assert_int_equal(rec->terms[1].letters, MDSPF__ML('p') | MDSPF__ML('o'));
  assert_int_equal(rec->terms[1].flags, MDSPF__TF_MACROS);
  assert_int_equal(rec->terms[2].letters, 0);
  assert_int_equal(rec->terms[2].flags, 0);
  assert_int_equal(rec->terms[3].letters, 0);
  assert_int_equal(mdspf__term_letters(rec, &rec->terms[1]),
                   MDSPF__ML('p') | MDSPF__ML('o'));
  assert_true(mdspf_record_term_has_macros(rec, 1));
  assert_false(mdspf_record_term_has_macros(rec, 3));
  mdspf_record_free(rec);
}

/* Records of more terms than the parser keeps on its stack, up to the
 * limit; and the order of errors when a record is also too long. */
static void test_record_many_terms(void **state) {
  static const size_t counts[] = {1, 63, 64, 65, 129, 1000, 4096};
  char *txt = malloc(8 + 16 * 4100);
  mdspf_record *rec;
  size_t k, i, n;
  (void)state;
  assert_non_null(txt);
  for (k = 0; k < sizeof counts / sizeof counts[0]; k++) {
    n = (size_t)sprintf(txt, "v=spf1");
    for (i = 0; i < counts[k]; i++) {
      n += (size_t)sprintf(txt + n, i % 3 ? " ip4:192.0.2.%zu" : " mx/%zu",
                           i % 3 ? i % 250 : i % 33);
    }
    rec = parse_ok(txt);
    assert_int_equal(mdspf_record_nterms(rec), counts[k]);
    for (i = 0; i < counts[k]; i++) {
      assert_int_equal(mdspf_record_term_kind(rec, i),
                       i % 3 ? MDSPF_TERM_IP4 : MDSPF_TERM_MX);
      assert_int_equal(mdspf_record_term_cidr(rec, i, 4),
                       i % 3 ? -1 : (int)(i % 33));
    }
    assert_string_equal(mdspf_record_term_name(rec, counts[k] - 1),
                        (counts[k] - 1) % 3 ? "ip4" : "mx");
    mdspf_record_free(rec);
  }
  /* 4097 terms: too many, whatever else is wrong with them */
  n = (size_t)sprintf(txt, "v=spf1");
  for (i = 0; i < 4097; i++) {
    n += (size_t)sprintf(txt + n, " a");
  }
  parse_err(txt, MDSPF_SYN_TOO_MANY_TERMS, 0, n);
  memcpy(txt + 7, "x", 1); /* the first term is now unknown */
  parse_err(txt, MDSPF_SYN_TOO_MANY_TERMS, 0, n);
  txt[7 + 2 * 70] = '%'; /* and the 71st a bad one */
  memcpy(txt + 7, "a", 1);
  parse_err(txt, MDSPF_SYN_TOO_MANY_TERMS, 0, n);
  /* 200 terms, the 150th unknown: that error */
  n = (size_t)sprintf(txt, "v=spf1");
  for (i = 0; i < 200; i++) {
    n += (size_t)sprintf(txt + n, i == 149 ? " bogus" : " a");
  }
  parse_err(txt, MDSPF_SYN_UNKNOWN_MECH, 6 + 2 * 149 + 1, 5);
  free(txt);
}

/* Shapes the fast path reads, and their near misses, all compared with
 * the general term parser (same_as_general). */
static void test_record_fast_path_agrees(void **state) {
  static const char *const terms[] = {
      "all", "-all", "~ALL", "all:x", "all/24", "a", "a/24", "a//64",
      "a/24//64", "a:x.example", "a:x.example/0//0", "a:x.example/33",
      "a:x.example//129", "a:x.example/024", "a:", "a:/24", "a/x",
      "a:x.example.", "a:x.example..", "a:.example", "a:example",
      "a:x.-ex", "a:x.ex-", "a:x.e-x", "a:x.123", "a:x.1a", "a:x.%{d}",
      "a:x%.ex", "a:x\x01.ex", "a:x:y.ex", "a:x=y.ex", "a:x.e:x", "a:x.e.x:",
      "a:x.e_x", "a:x.e/x", "a:x.e:1//64", "mx", "MX:x.ex/24",
      "mx-y=z", "ptr", "ptr:x.ex", "ptr:", "ptr/24", "ptr:x.ex/24",
      "include:x.ex", "include:", "include", "include:x", "Include:X.EX",
      "include:x.ex/24", "exists:x.ex", "exists:%{i}.x.ex", "ip4:192.0.2.1",
      "ip4:192.0.2.1/0", "ip4:192.0.2.1/32", "ip4:192.0.2.1/33",
      "ip4:192.0.2.1/", "ip4:192.0.2.1/024", "ip4:192.0.2.1//24",
      "ip4:192.0.2", "ip4:192.0.2.01", "ip4:192.0.2.256", "ip4:192.0.2.1x",
      "ip4:192.0.2.1000", "ip4:", "ip4", "ip4/24", "IP4:1.2.3.4",
      "ip6:2001:db8::1", "ip6:2001:db8::/32", "ip6:::1/128", "ip6:::",
      "ip6:2001:db8::1/129", "ip6:2001:db8::g", "ip6:1:2:3:4:5:6:7:8:9",
      "ip6:::ffff:192.0.2.1", "ip6:2001:db8::1%", "ip6:2001:db8::1/64x",
      "ip6:1::2::3", "ip6:12345::", "ip6:::1:2:3:4:5:6:7:8",
      "ip6:1:2:3:4:5:6:7::", "ip6:1:2:3:4:5:6:7:8::", "ip6:2001:db8::1x",
      "ip6::1", "ip6:1:", "ip6:1:2:3:4:5:6:7:8.1",
      "redirect=x.ex", "redirect=", "REDIRECT=x.ex", "redirect=x",
      "redirect=%{d}", "exp=x.ex", "exp=x", "foo=bar", "foo=", "foo=%{d}",
      "foo=%{c}", "foo=a\x80", "foo-bar=x", "foo.bar=x", "1foo=x", "-foo=x",
      "+a", "?mx", "!a", "", "a=b", "ip4=b", "all=x", "=x", ":x", "%",
      "include:x.ex:y", "v=spf1",
  };
  char txt[256];
  size_t i, j;
  (void)state;
  for (i = 0; i < sizeof terms / sizeof terms[0]; i++) {
    for (j = 0; j < sizeof terms / sizeof terms[0]; j += 7) {
      int n = snprintf(txt, sizeof txt, "v=spf1 %s %s", terms[i], terms[j]);
      assert_true(n > 0 && (size_t)n < sizeof txt);
      same_as_general(txt, (size_t)n);
      n = snprintf(txt, sizeof txt, "v=spf1 %s  %s", terms[j], terms[i]);
      same_as_general(txt, (size_t)n);
    }
    /* the term alone, at the very end of the text */
    same_as_general(txt, (size_t)snprintf(txt, sizeof txt, "v=spf1 %s",
                                          terms[i]));
  }
  /* a duplicate modifier after many terms */
  same_as_general("v=spf1 redirect=a.ex a a a redirect=b.ex", 40);
  same_as_general("v=spf1 exp=a.ex exp=b.ex", 24);
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
      cmocka_unit_test(test_record_oom_many_terms),
      cmocka_unit_test(test_record_text_kept),
      cmocka_unit_test(test_record_letters_kept),
      cmocka_unit_test(test_record_many_terms),
      cmocka_unit_test(test_record_fast_path_agrees),
  };
  return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}

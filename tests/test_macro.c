/*
 * tests/test_macro.c -- RFC 7208 section 7 macro expansion: the examples
 * of section 7.4, transformers, URL escaping, truncation, bounds.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <strings.h>

#include "core/macro.h"
#include "core/addr.h"
#include "core/domain.h"
#include "util/strbuf.h"

/* The RFC 7208 7.4 example request. */
static mdspf__macro_env rfc_env(void) {
  mdspf__macro_env e;
  memset(&e, 0, sizeof e);
  e.s = "strong-bad@email.example.com";
  e.l = "strong-bad";
  e.o = "email.example.com";
  e.d = "email.example.com";
  e.i = "192.0.2.3";
  e.c = "192.0.2.3";
  e.v = "in-addr";
  e.h = "mx.example.org";
  e.p = "mx.example.org";
  e.r = "receiver.example.net";
  e.t = "1234567890";
  return e;
}

static void expect(const mdspf__macro_env *e, int mode, const char *in,
                   const char *want) {
  char buf[1024];
  mdspf__sbuf sb;
  int rc;
  mdspf__sbuf_init(&sb, buf, sizeof buf);
  rc = mdspf__macro_expand(in, strlen(in), mode, e, &sb);
  if (rc != MDSPF_SYN_OK || strcmp(buf, want) != 0) {
    print_error("'%s' -> '%s' (rc %d), want '%s'\n", in, buf, rc, want);
  }
  assert_int_equal(rc, MDSPF_SYN_OK);
  assert_string_equal(buf, want);
}

static void test_macro_rfc_examples(void **state) {
  mdspf__macro_env e = rfc_env();
  (void)state;
  expect(&e, MDSPF__MS_DOMAIN, "%{s}", "strong-bad@email.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{o}", "email.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{d}", "email.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{d4}", "email.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{d3}", "email.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{d2}", "example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{d1}", "com");
  expect(&e, MDSPF__MS_DOMAIN, "%{dr}", "com.example.email");
  expect(&e, MDSPF__MS_DOMAIN, "%{d2r}", "example.email");
  expect(&e, MDSPF__MS_DOMAIN, "%{l}", "strong-bad");
  expect(&e, MDSPF__MS_DOMAIN, "%{l-}", "strong.bad");
  expect(&e, MDSPF__MS_DOMAIN, "%{lr}", "strong-bad");
  expect(&e, MDSPF__MS_DOMAIN, "%{lr-}", "bad.strong");
  expect(&e, MDSPF__MS_DOMAIN, "%{l1r-}", "strong");
  expect(&e, MDSPF__MS_DOMAIN, "%{ir}.%{v}._spf.%{d2}",
         "3.2.0.192.in-addr._spf.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{lr-}.lp._spf.%{d2}",
         "bad.strong.lp._spf.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
         "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
         "3.2.0.192.in-addr.strong.lp._spf.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{d2}.trusted-domains.example.net",
         "example.com.trusted-domains.example.net");
}

static void test_macro_ipv6_i(void **state) {
  uint8_t a[16];
  char i[64], c[46], rev[74];
  mdspf__macro_env e = rfc_env();
  char buf[256];
  mdspf__sbuf sb;
  (void)state;
  assert_true(mdspf__ip6_parse("2001:db8::cb01", 14, a));
  mdspf__ip_macro_i(6, a, i);
  mdspf__ip6_format(a, c);
  assert_string_equal(c, "2001:db8::cb01");
  e.i = i;
  e.c = c;
  e.v = "ip6";
  mdspf__sbuf_init(&sb, buf, sizeof buf);
  assert_int_equal(mdspf__macro_expand("%{ir}.%{v}._spf.%{d2}", 21,
                                       MDSPF__MS_DOMAIN, &e, &sb),
                   MDSPF_SYN_OK);
  /* RFC 7208 7.4 prints the nibbles in lower case; the reference
   * implementation (and the openspf suite) uses upper case.  DNS names
   * compare case-insensitively, so both name the same node. */
  assert_int_equal(strcasecmp(buf, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                                   "0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"),
                   0);
  mdspf__reverse_name(6, a, rev);
  assert_string_equal(rev, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                           "8.b.d.0.1.0.0.2.ip6.arpa");
  /* the suite's v-macro-ip6 case: %{c} compressed lower case */
  expect(&e, MDSPF__MS_EXPLAIN, "%{c} is queried as %{ir}.%{v}.arpa",
         "2001:db8::cb01 is queried as 1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
         "0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa");
}

static void test_macro_escapes(void **state) {
  mdspf__macro_env e = rfc_env();
  (void)state;
  expect(&e, MDSPF__MS_DOMAIN, "macro%%percent%_%_space%-url-space.example.com",
         "macro%percent  space%20url-space.example.com");
  e.l = "~jack&jill=up-a_b3.c";
  expect(&e, MDSPF__MS_EXPLAIN, "http://example.com/why.html?l=%{L}",
         "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c");
  e.l = "a b/\xc3\xa9";
  expect(&e, MDSPF__MS_DOMAIN, "%{L}", "a%20b%2F%C3%A9");
  /* upper case with transformers: escape each part, keep the '.' */
  e.s = "a+b@x.y";
  expect(&e, MDSPF__MS_DOMAIN, "%{S1r+}", "a");
  expect(&e, MDSPF__MS_DOMAIN, "%{Sr+}", "b%40x.y.a");
}

static void test_macro_delimiters(void **state) {
  mdspf__macro_env e = rfc_env();
  (void)state;
  e.l = "foo-bar+zip+quux";
  expect(&e, MDSPF__MS_DOMAIN, "%{l2r+-}", "bar.foo");
  expect(&e, MDSPF__MS_DOMAIN, "%{l+-}", "foo.bar.zip.quux");
  expect(&e, MDSPF__MS_DOMAIN, "%{l-}", "foo.bar+zip+quux");
  e.l = "a.b,c/d_e=f";
  expect(&e, MDSPF__MS_DOMAIN, "%{l.,/_=}", "a.b.c.d.e.f");
  expect(&e, MDSPF__MS_DOMAIN, "%{lr.,/_=}", "f.e.d.c.b.a");
  /* empty parts survive */
  e.l = "a..b";
  expect(&e, MDSPF__MS_DOMAIN, "%{lr}", "b..a");
  e.l = "";
  expect(&e, MDSPF__MS_DOMAIN, "x%{l}y", "xy");
  expect(&e, MDSPF__MS_DOMAIN, "x%{l3r}y", "xy");
}

static void test_macro_huge_digits(void **state) {
  mdspf__macro_env e = rfc_env();
  (void)state;
  /* libspf2-class bug: digits that overflow 32 bits */
  expect(&e, MDSPF__MS_DOMAIN, "%{d4294967297r}", "com.example.email");
  expect(&e, MDSPF__MS_DOMAIN,
         "%{d99999999999999999999999999999999999999999}", "email.example.com");
  expect(&e, MDSPF__MS_DOMAIN, "%{d1000000}", "email.example.com");
}

static void test_macro_letters_and_modes(void **state) {
  mdspf__macro_env e = rfc_env();
  unsigned letters = 0;
  int ends = 0;
  size_t off = 0, len = 0;
  (void)state;
  expect(&e, MDSPF__MS_EXPLAIN, "%{c} %{r} %{t} %{h} %{p} %{v}",
         "192.0.2.3 receiver.example.net 1234567890 mx.example.org "
         "mx.example.org in-addr");
  e.p = NULL;
  e.r = NULL;
  expect(&e, MDSPF__MS_EXPLAIN, "%{p} %{r}", "unknown unknown");
  /* c, r, t are exp-only */
  assert_int_equal(mdspf__macro_scan("%{c}", 4, MDSPF__MS_DOMAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_MACRO_LETTER);
  assert_int_equal(off, 0);
  assert_int_equal(len, 3);
  assert_int_equal(mdspf__macro_scan("a %{t}", 6, MDSPF__MS_EXPLAIN, &letters,
                                     &ends, NULL, NULL),
                   MDSPF_SYN_OK);
  assert_int_equal(letters, MDSPF__ML('t'));
  assert_true(ends);
  /* spaces only in explanations */
  assert_int_equal(mdspf__macro_scan("a b", 3, MDSPF__MS_DOMAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_BAD_CHAR);
  assert_int_equal(off, 1);
  assert_int_equal(mdspf__macro_scan("%{x}", 4, MDSPF__MS_EXPLAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_MACRO_LETTER);
  assert_int_equal(mdspf__macro_scan("%", 1, MDSPF__MS_EXPLAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_BAD_MACRO);
  assert_int_equal(mdspf__macro_scan("ab%", 3, MDSPF__MS_DOMAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_BAD_MACRO);
  assert_int_equal(off, 2);
  assert_int_equal(len, 1);
  assert_int_equal(mdspf__macro_scan("%{d", 3, MDSPF__MS_DOMAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_BAD_MACRO);
  assert_int_equal(mdspf__macro_scan("%{}", 3, MDSPF__MS_DOMAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_BAD_MACRO);
  assert_int_equal(mdspf__macro_scan("%{dR}", 5, MDSPF__MS_DOMAIN, &letters,
                                     &ends, NULL, NULL),
                   MDSPF_SYN_OK);
  assert_int_equal(mdspf__macro_scan("x\x80", 2, MDSPF__MS_EXPLAIN, NULL, NULL,
                                     &off, &len),
                   MDSPF_SYN_BAD_CHAR);
}

static void test_macro_domain_truncation(void **state) {
  mdspf__macro_env e = rfc_env();
  char out[MDSPF__MAX_NAME + 1];
  static const char spec[] =
      "foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com";
  size_t n;
  (void)state;
  e.o = "somewhat.long.exp.example.com";
  n = mdspf__macro_expand_domain(spec, strlen(spec), &e, out);
  /* the suite's domain-name-truncation case */
  assert_string_equal(out,
                      "somewhat.long.exp.example.com.somewhat.long.exp.example."
                      "com.somewhat.long.exp.example.com.somewhat.long.exp."
                      "example.com.somewhat.long.exp.example.com.somewhat.long."
                      "exp.example.com.somewhat.long.exp.example.com.somewhat."
                      "long.exp.example.com.example.com");
  assert_int_equal(n, strlen(out));
  assert_true(n <= 253);
  /* trailing dot dropped */
  n = mdspf__macro_expand_domain("%{d}.", 5, &e, out);
  assert_string_equal(out, "email.example.com");
  assert_int_equal(n, 17);
  /* syntax error */
  assert_int_equal(mdspf__macro_expand_domain("%{x}", 4, &e, out), (size_t)-1);
}

static void test_macro_huge_expansion_keeps_tail(void **state) {
  /* 600 copies of a 1024-octet sender: far beyond any buffer; only the
   * rightmost labels may survive, and they must be exactly right. */
  static char sender[1025], spec[600 * 5 + 32];
  mdspf__macro_env e = rfc_env();
  char out[MDSPF__MAX_NAME + 1];
  size_t i, n;
  (void)state;
  for (i = 0; i < 1024; i++) {
    sender[i] = (i % 10 == 9) ? '.' : (char)('a' + (int)(i % 7));
  }
  sender[1024] = '\0';
  e.s = sender;
  spec[0] = '\0';
  for (i = 0; i < 600; i++) {
    strcat(spec, "%{s}");
  }
  strcat(spec, ".tail.example.com");
  n = mdspf__macro_expand_domain(spec, strlen(spec), &e, out);
  assert_true(n > 0 && n <= 253);
  assert_int_equal(strlen(out), n);
  assert_true(strcmp(out + n - 17, ".tail.example.com") == 0);
  assert_true(out[0] != '.');
  /* the URL-escaped variant triples the size */
  spec[0] = '\0';
  for (i = 0; i < 600; i++) {
    strcat(spec, "%{S}");
  }
  strcat(spec, ".x.example");
  n = mdspf__macro_expand_domain(spec, strlen(spec), &e, out);
  assert_true(n > 0 && n <= 253);
  assert_true(strcmp(out + n - 10, ".x.example") == 0);
  /* a single label longer than 253 octets leaves nothing */
  n = mdspf__macro_expand_domain("%{s}", 4, &e, out);
  assert_true(n <= 253);
}

static void test_macro_explain_bounded(void **state) {
  mdspf__macro_env e = rfc_env();
  char buf[32];
  mdspf__sbuf sb;
  (void)state;
  mdspf__sbuf_init(&sb, buf, sizeof buf);
  assert_int_equal(mdspf__macro_expand("%{s} %{s} %{s} %{s}", 19,
                                       MDSPF__MS_EXPLAIN, &e, &sb),
                   MDSPF_SYN_OK);
  assert_true(sb.overflow);
  assert_int_equal(strlen(buf), sizeof buf - 1);
  assert_int_equal(memcmp(buf, "strong-bad@email.example.com str", 31), 0);
}

static void test_domain_helpers(void **state) {
  char buf[300];
  (void)state;
  assert_true(mdspf__toplabel_ok("com", 3));
  assert_true(mdspf__toplabel_ok("xn--zckzah", 10));
  assert_true(mdspf__toplabel_ok("123-456", 7));
  assert_true(mdspf__toplabel_ok("a1", 2));
  assert_false(mdspf__toplabel_ok("123", 3));
  assert_false(mdspf__toplabel_ok("-com", 4));
  assert_false(mdspf__toplabel_ok("com-", 4));
  assert_false(mdspf__toplabel_ok("c_m", 3));
  assert_false(mdspf__toplabel_ok("", 0));
  assert_true(mdspf__domain_fqdn_ok("example.com", 11));
  assert_true(mdspf__domain_fqdn_ok("example.com.", 12));
  assert_false(mdspf__domain_fqdn_ok("A2345678", 8));
  assert_false(mdspf__domain_fqdn_ok("[1.2.3.5]", 9));
  assert_false(mdspf__domain_fqdn_ok("a..example.com", 14));
  assert_false(mdspf__domain_fqdn_ok("1.2.3.4", 7));
  assert_true(mdspf__name_queryable("_spf.example.com", 16));
  assert_true(mdspf__name_queryable("a b.com", 7));
  assert_false(mdspf__name_queryable("a\0b.com", 7));
  assert_false(mdspf__domain_fqdn_ok("a b.com", 7));
  /* 63 vs 64 octet labels */
  memset(buf, 'a', 63);
  memcpy(buf + 63, ".com", 5);
  assert_true(mdspf__name_queryable(buf, 67));
  memset(buf, 'a', 64);
  memcpy(buf + 64, ".com", 5);
  assert_false(mdspf__name_queryable(buf, 68));
  /* 253 vs 254 octet names */
  memset(buf, 'a', 254);
  {
    size_t k;
    for (k = 63; k < 254; k += 64) {
      buf[k] = '.';
    }
  }
  assert_true(mdspf__name_queryable(buf, 253));
  assert_false(mdspf__name_queryable(buf, 254));
  assert_true(mdspf__domain_under("a.b.example.com", 15, "example.com", 11));
  assert_true(mdspf__domain_under("EXAMPLE.com.", 12, "example.COM", 11));
  assert_false(mdspf__domain_under("badexample.com", 14, "example.com", 11));
  assert_true(mdspf__domain_eq("Mail.Example.com.", 17, "mail.example.com",
                               16));
  assert_int_equal(mdspf__domain_norm(buf, 20, "MAIL.Example.com.", 17), 16);
  assert_string_equal(buf, "mail.example.com");
  assert_int_equal(mdspf__domain_norm(buf, 5, "toolong.example", 15),
                   (size_t)-1);
}

static void test_addr_parse_format(void **state) {
  uint8_t a[16];
  char txt[46];
  int fam = 0;
  (void)state;
  assert_true(mdspf__ip4_parse("0.0.0.0", 7, a));
  assert_true(mdspf__ip4_parse("255.255.255.255", 15, a));
  assert_false(mdspf__ip4_parse("256.1.1.1", 9, a));
  assert_false(mdspf__ip4_parse("01.1.1.1", 8, a));
  assert_false(mdspf__ip4_parse("1.1.1", 5, a));
  assert_false(mdspf__ip4_parse("1.1.1.1.", 8, a));
  assert_false(mdspf__ip4_parse("1.1.1.1\n", 8, a));
  assert_false(mdspf__ip4_parse("", 0, a));
  assert_true(mdspf__ip6_parse("::", 2, a));
  assert_true(mdspf__ip6_parse("::1", 3, a));
  assert_true(mdspf__ip6_parse("1::", 3, a));
  assert_true(mdspf__ip6_parse("1:2:3:4:5:6:7:8", 15, a));
  assert_true(mdspf__ip6_parse("1:2:3:4:5:6:7::", 15, a));
  assert_true(mdspf__ip6_parse("::FFFF:1.2.3.4", 14, a));
  assert_true(mdspf__ip6_parse("CAFE:BABE::192.168.218.40", 25, a));
  assert_false(mdspf__ip6_parse(":1", 2, a));
  assert_false(mdspf__ip6_parse("1:", 2, a));
  assert_false(mdspf__ip6_parse("1::2::3", 7, a));
  assert_false(mdspf__ip6_parse("1:2:3:4:5:6:7:8::", 17, a));
  assert_false(mdspf__ip6_parse("1:2:3:4:5:6:7:8:9", 17, a));
  assert_false(mdspf__ip6_parse("12345::", 7, a));
  assert_false(mdspf__ip6_parse("::g", 3, a));
  assert_false(mdspf__ip6_parse("1:2:3:4:5:6:7:1.2.3.4", 21, a));
  assert_false(mdspf__ip6_parse("::1.2.3", 7, a));
  assert_true(mdspf__ip_parse("::ffff:192.0.2.1", 16, 1, &fam, a));
  assert_int_equal(fam, 4);
  assert_memory_equal(a, "\xc0\x00\x02\x01", 4);
  assert_true(mdspf__ip_parse("::ffff:192.0.2.1", 16, 0, &fam, a));
  assert_int_equal(fam, 6);
  assert_true(mdspf__ip6_parse("2001:db8:0:0:1:0:0:1", 20, a));
  mdspf__ip6_format(a, txt);
  assert_string_equal(txt, "2001:db8::1:0:0:1");
  assert_true(mdspf__ip6_parse("0:0:1:0:0:0:0:0", 15, a));
  mdspf__ip6_format(a, txt);
  assert_string_equal(txt, "0:0:1::");
  assert_true(mdspf__ip6_parse("1:0:2:0:3:0:4:0", 15, a));
  mdspf__ip6_format(a, txt);
  assert_string_equal(txt, "1:0:2:0:3:0:4:0");
  assert_true(mdspf__ip6_parse("::", 2, a));
  mdspf__ip6_format(a, txt);
  assert_string_equal(txt, "::");
}

static void test_addr_prefix(void **state) {
  uint8_t a[16], b[16];
  (void)state;
  assert_true(mdspf__ip4_parse("192.0.2.1", 9, a));
  assert_true(mdspf__ip4_parse("192.0.3.1", 9, b));
  assert_true(mdspf__prefix_match(a, b, 0));
  assert_true(mdspf__prefix_match(a, b, 22));
  assert_true(mdspf__prefix_match(a, b, 23));
  assert_false(mdspf__prefix_match(a, b, 24));
  assert_false(mdspf__prefix_match(a, b, 32));
  assert_true(mdspf__prefix_match(a, a, 32));
  assert_true(mdspf__ip6_parse("2001:db8::1", 11, a));
  assert_true(mdspf__ip6_parse("2001:db8::2", 11, b));
  assert_true(mdspf__prefix_match(a, b, 126));
  assert_false(mdspf__prefix_match(a, b, 127));
  assert_false(mdspf__prefix_match(a, b, 128));
  assert_true(mdspf__prefix_match(a, a, 128));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_macro_rfc_examples),
      cmocka_unit_test(test_macro_ipv6_i),
      cmocka_unit_test(test_macro_escapes),
      cmocka_unit_test(test_macro_delimiters),
      cmocka_unit_test(test_macro_huge_digits),
      cmocka_unit_test(test_macro_letters_and_modes),
      cmocka_unit_test(test_macro_domain_truncation),
      cmocka_unit_test(test_macro_huge_expansion_keeps_tail),
      cmocka_unit_test(test_macro_explain_bounded),
      cmocka_unit_test(test_domain_helpers),
      cmocka_unit_test(test_addr_parse_format),
      cmocka_unit_test(test_addr_prefix),
  };
  return cmocka_run_group_tests_name("macro", tests, NULL, NULL);
}

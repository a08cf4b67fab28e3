/*
 * tests/test_regress.c -- the failure classes known from other SPF
 * implementations (libspf2's macro CVEs and crash loops among them),
 * each driven end to end: published in a zone, evaluated by a check.
 * Every case must give a defined result -- no crash, no leak (the
 * sanitizer and valgrind runs cover this file too).
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

typedef struct env {
  mdspf_zone *z;
  mdspf_ctx *ctx;
} env;

static int setup(void **state) {
  env *e = calloc(1, sizeof *e);
  assert_non_null(e);
  assert_int_equal(mdspf_zone_new(NULL, NULL, &e->z), MDSPF_OK);
  mdspf_zone_set_flags(e->z, MDSPF_ZONE_LAX);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &e->ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(e->ctx, mdspf_zone_resolver(e->z)),
                   MDSPF_OK);
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env *e = *state;
  mdspf_ctx_free(e->ctx);
  mdspf_zone_free(e->z);
  free(e);
  return 0;
}

/* Publish one TXT record (binary-safe) at name. */
static void publish(env *e, const char *name, const char *txt, size_t len) {
  const char *strs[1];
  size_t lens[1];
  strs[0] = txt;
  lens[0] = len;
  assert_int_equal(mdspf_zone_add_txt(e->z, name, strs, lens, 1), MDSPF_OK);
}

static void publish_s(env *e, const char *name, const char *txt) {
  publish(e, name, txt, strlen(txt));
}

/* Run a check; returns the result; copies the explanation if wanted. */
static int run(env *e, const char *ip, const char *sender, char *exp,
               size_t expsz) {
  mdspf_check *chk;
  int r;
  assert_int_equal(mdspf_check_new(e->ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 2000), MDSPF_OK);
  r = mdspf_check_result(chk);
  if (exp) {
    snprintf(exp, expsz, "%s",
             mdspf_check_explanation(chk) ? mdspf_check_explanation(chk) : "");
  }
  mdspf_check_free(chk);
  return r;
}

static void test_regress_url_escape_high_bytes(void **state) {
  env *e = *state;
  char exp[512];
  publish_s(e, "u.example.com", "v=spf1 -all exp=why.u.example.com");
  publish_s(e, "why.u.example.com", "see %{L} at %{S}");
  assert_int_equal(run(e, "192.0.2.1", "j\xc3\xbcrgen\xff@u.example.com", exp,
                       sizeof exp),
                   MDSPF_FAIL);
  assert_string_equal(exp, "see j%C3%BCrgen%FF at "
                           "j%C3%BCrgen%FF%40u.example.com");
}

static void test_regress_reverse_many_labels(void **state) {
  /* the r transformer on a local part of 500 labels and on long labels:
   * the target is cut to 253 octets from the left, never overflows */
  env *e = *state;
  char sender[1100];
  size_t i, n = 0;
  for (i = 0; i < 500; i++) {
    sender[n++] = (char)('a' + (int)(i % 26));
    sender[n++] = '.';
  }
  memcpy(sender + n - 1, "@r.example.com", 15);
  publish_s(e, "r.example.com",
            "v=spf1 exists:%{lr}.%{l1r}.%{l499r}.%{lr-}.x.example.com "
            "exists:%{L}.y.example.com -all");
  assert_int_equal(run(e, "192.0.2.1", sender, NULL, 0), MDSPF_FAIL);
  memset(sender, 'q', 1000);
  memcpy(sender + 1000, "@r.example.com", 15);
  assert_int_equal(run(e, "192.0.2.1", sender, NULL, 0), MDSPF_FAIL);
}

static void test_regress_huge_digit_transformers(void **state) {
  env *e = *state;
  publish_s(e, "d.example.com",
            "v=spf1 exists:%{d4294967297r}.a.example.com "
            "exists:%{d99999999999999999999}.b.example.com -all");
  assert_int_equal(mdspf_zone_add(e->z, "com.example.d.a.example.com",
                                  MDSPF_RR_A, "127.0.0.2"),
                   MDSPF_OK);
  /* 4294967297 parts of a 3-part name: all of them, reversed */
  assert_int_equal(run(e, "192.0.2.1", "x@d.example.com", NULL, 0), MDSPF_PASS);
}

static void test_regress_ipv6_i(void **state) {
  env *e = *state;
  publish_s(e, "six.example.com",
            "v=spf1 exists:%{ir}.%{v}.bl.example.com -all");
  assert_int_equal(
      mdspf_zone_add(e->z,
                     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0."
                     "1.0.0.2.ip6.bl.example.com",
                     MDSPF_RR_A, "127.0.0.2"),
      MDSPF_OK);
  assert_int_equal(run(e, "2001:db8::1", "x@six.example.com", NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(run(e, "2001:db8::2", "x@six.example.com", NULL, 0),
                   MDSPF_FAIL);
}

static void test_regress_trailing_percent(void **state) {
  env *e = *state;
  publish_s(e, "p1.example.com", "v=spf1 exists:foo% -all");
  publish_s(e, "p2.example.com", "v=spf1 -all x=%");
  publish_s(e, "p3.example.com", "v=spf1 -all exp=e.p3.example.com");
  publish_s(e, "e.p3.example.com", "bad %");
  assert_int_equal(run(e, "192.0.2.1", "x@p1.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "192.0.2.1", "x@p2.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  /* a broken explanation falls back to the default */
  {
    char exp[256];
    assert_int_equal(run(e, "192.0.2.1", "x@p3.example.com", exp, sizeof exp),
                     MDSPF_FAIL);
    assert_non_null(strstr(exp, "designated mail servers"));
  }
}

static void test_regress_only_spaces(void **state) {
  env *e = *state;
  publish_s(e, "s1.example.com", "          ");
  publish_s(e, "s2.example.com", "v=spf1          ");
  publish_s(e, "s3.example.com", " v=spf1 -all");
  assert_int_equal(run(e, "192.0.2.1", "x@s1.example.com", NULL, 0),
                   MDSPF_NONE);
  assert_int_equal(run(e, "192.0.2.1", "x@s2.example.com", NULL, 0),
                   MDSPF_NEUTRAL);
  assert_int_equal(run(e, "192.0.2.1", "x@s3.example.com", NULL, 0),
                   MDSPF_NONE);
}

static void test_regress_nul_and_control_bytes(void **state) {
  env *e = *state;
  static const char nul[] = "v=spf1 ip4:192.0.2.1\0 -all";
  static const char vt[] = "v=spf1 ip4:192.0.2.1\x0b -all";
  publish(e, "n1.example.com", nul, sizeof nul - 1);
  publish(e, "n2.example.com", vt, sizeof vt - 1);
  publish_s(e, "n3.example.com", "v=spf1 a:x\x01y.example.com -all");
  publish_s(e, "n4.example.com", "v=spf1 exists:%{l}.example.com -all");
  assert_int_equal(run(e, "192.0.2.1", "x@n1.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "192.0.2.1", "x@n2.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "192.0.2.1", "x@n3.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  /* control bytes coming in through the sender are refused up front */
  {
    mdspf_check *chk;
    assert_int_equal(mdspf_check_new(e->ctx, &chk), MDSPF_OK);
    assert_int_equal(mdspf_check_set_sender(chk, "a\rb@n4.example.com"),
                     MDSPF_E_INVAL);
    assert_int_equal(mdspf_check_set_helo(chk, "h\x1b[2Jx.example.com"),
                     MDSPF_E_INVAL);
    mdspf_check_free(chk);
  }
  /* ...but any other octet a macro carries into a name is just data */
  assert_int_equal(run(e, "192.0.2.1", "a%20b c@n4.example.com", NULL, 0),
                   MDSPF_FAIL);
}

static void test_regress_txt_string_sizes(void **state) {
  env *e = *state;
  char s255[256];
  const char *strs[300];
  size_t lens[300], i;
  char piece[300][24];
  /* a 255-octet string, the maximum of one character-string */
  memset(s255, 'x', 255);
  memcpy(s255, "v=spf1 ip4:192.0.2.1", 20);
  memset(s255 + 20, ' ', 235);
  memcpy(s255 + 250, " -all", 5);
  strs[0] = s255;
  lens[0] = 255;
  assert_int_equal(mdspf_zone_add_txt(e->z, "t1.example.com", strs, lens, 1),
                   MDSPF_OK);
  assert_int_equal(run(e, "192.0.2.1", "x@t1.example.com", NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(run(e, "192.0.2.2", "x@t1.example.com", NULL, 0),
                   MDSPF_FAIL);
  /* a record of 300 strings, joined without separators */
  strs[0] = "v=spf1";
  lens[0] = 6;
  for (i = 1; i < 300; i++) {
    snprintf(piece[i], sizeof piece[i], " ip4:198.51.100.%zu", i % 250);
    strs[i] = piece[i];
    lens[i] = strlen(piece[i]);
  }
  assert_int_equal(mdspf_zone_add_txt(e->z, "t2.example.com", strs, lens, 300),
                   MDSPF_OK);
  assert_int_equal(run(e, "198.51.100.249", "x@t2.example.com", NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(run(e, "198.51.100.250", "x@t2.example.com", NULL, 0),
                   MDSPF_NEUTRAL);
}

static void test_regress_ip4_with_control_chars(void **state) {
  env *e = *state;
  publish_s(e, "c1.example.com", "v=spf1 ip4:192.0.2.5\n include:x.example.com");
  publish_s(e, "c2.example.com", "v=spf1 ip4:192.0.2.5\t-all");
  publish_s(e, "c3.example.com", "v=spf1 ip4:192.0.\x7f" "2.5 -all");
  assert_int_equal(run(e, "192.0.2.5", "x@c1.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "192.0.2.5", "x@c2.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "192.0.2.5", "x@c3.example.com", NULL, 0),
                   MDSPF_PERMERROR);
}

static void test_regress_cidr_edges(void **state) {
  env *e = *state;
  publish_s(e, "z4.example.com", "v=spf1 ip4:0.0.0.0/0 -all");
  publish_s(e, "z6.example.com", "v=spf1 ip6:::/0 -all");
  publish_s(e, "o4.example.com", "v=spf1 ip4:192.0.2.0/33 -all");
  publish_s(e, "o6.example.com", "v=spf1 ip6:::/129 -all");
  publish_s(e, "oa.example.com", "v=spf1 a/4294967328 -all");
  publish_s(e, "neg.example.com", "v=spf1 ip4:192.0.2.0/-1 -all");
  assert_int_equal(run(e, "203.0.113.9", "x@z4.example.com", NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(run(e, "2001:db8::9", "x@z4.example.com", NULL, 0),
                   MDSPF_FAIL);
  assert_int_equal(run(e, "2001:db8::9", "x@z6.example.com", NULL, 0),
                   MDSPF_PASS);
  assert_int_equal(run(e, "203.0.113.9", "x@o4.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "203.0.113.9", "x@o6.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "203.0.113.9", "x@oa.example.com", NULL, 0),
                   MDSPF_PERMERROR);
  assert_int_equal(run(e, "203.0.113.9", "x@neg.example.com", NULL, 0),
                   MDSPF_PERMERROR);
}

/* a name of `total` octets ending in ".example.com", labels of `label`
 * octets */
static void make_name(char *out, size_t total, size_t label) {
  size_t n = 0, suffix = 12; /* ".example.com" */
  while (n < total - suffix) {
    size_t k = label;
    if (n) {
      out[n++] = '.';
    }
    if (k > total - suffix - n) {
      k = total - suffix - n;
    }
    memset(out + n, 'l', k);
    n += k;
  }
  memcpy(out + n, ".example.com", suffix + 1);
}

static void test_regress_label_and_name_lengths(void **state) {
  env *e = *state;
  char name[300], sender[320];
  /* labels of 63 octets are fine, 64 are not */
  memset(name, 'a', 63);
  memcpy(name + 63, ".example.com", 13);
  publish_s(e, name, "v=spf1 -all");
  snprintf(sender, sizeof sender, "x@%s", name);
  assert_int_equal(run(e, "192.0.2.1", sender, NULL, 0), MDSPF_FAIL);
  memset(name, 'a', 64);
  memcpy(name + 64, ".example.com", 13);
  snprintf(sender, sizeof sender, "x@%s", name);
  assert_int_equal(run(e, "192.0.2.1", sender, NULL, 0), MDSPF_NONE);
  /* names of 253 octets are fine, 254 are not */
  make_name(name, 253, 50);
  assert_int_equal(strlen(name), 253);
  publish_s(e, name, "v=spf1 -all");
  snprintf(sender, sizeof sender, "x@%s", name);
  assert_int_equal(run(e, "192.0.2.1", sender, NULL, 0), MDSPF_FAIL);
  make_name(name, 254, 50);
  assert_int_equal(strlen(name), 254);
  snprintf(sender, sizeof sender, "x@%s", name);
  assert_int_equal(run(e, "192.0.2.1", sender, NULL, 0), MDSPF_NONE);
  /* a mechanism target of 64-octet label: no match; include: permerror */
  publish_s(e, "l.example.com",
            "v=spf1 a:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaa.example.com ?all");
  publish_s(e, "li.example.com",
            "v=spf1 include:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaa.example.com ?all");
  assert_int_equal(run(e, "192.0.2.1", "x@l.example.com", NULL, 0),
                   MDSPF_NEUTRAL);
  assert_int_equal(run(e, "192.0.2.1", "x@li.example.com", NULL, 0),
                   MDSPF_PERMERROR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_regress_url_escape_high_bytes,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_regress_reverse_many_labels, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_regress_huge_digit_transformers,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_regress_ipv6_i, setup, teardown),
      cmocka_unit_test_setup_teardown(test_regress_trailing_percent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_regress_only_spaces, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_regress_nul_and_control_bytes,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_regress_txt_string_sizes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_regress_ip4_with_control_chars,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_regress_cidr_edges, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_regress_label_and_name_lengths,
                                      setup, teardown),
  };
  return cmocka_run_group_tests_name("regress", tests, NULL, NULL);
}

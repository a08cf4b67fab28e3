/*
 * tests/test_lint.c -- the record linter (lib/admin/lint.c) and the term
 * descriptions (lib/admin/describe.c): every diagnostic code triggered by one
 * domain of tests/lint-zones/lint.zone and absent from its good twin,
 * exact lookup counts on trees, exact descriptions, inline versus
 * deferred answers, time-outs, resolvers without wait() or refusing
 * queries, static mode without DNS, the PTR names of a client, bounds
 * on hostile trees, and allocation failure at every step.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <maildrop-spf/spf.h>

#include "test_alloc.h"

#define LINT_ZONE MDSPF_SOURCE_DIR "/tests/lint-zones/lint.zone"
#define DEMO_ZONE MDSPF_SOURCE_DIR "/examples/zones/demo.zone"

static const int MODES[] = {MDSPF_ZONE_INLINE, MDSPF_ZONE_DEFERRED_FIFO,
                            MDSPF_ZONE_DEFERRED_LIFO};
#define NMODES 3

static mdspf_zone *zone_file(const char *path) {
  mdspf_zone *z = NULL;
  char err[512];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  if (mdspf_zone_load_file(z, path, NULL, err, sizeof err) != MDSPF_OK) {
    print_error("zone: %s\n", err);
    fail();
  }
  return z;
}

static mdspf_zone *zone_text(const char *text) {
  mdspf_zone *z = NULL;
  char err[512];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  if (mdspf_zone_load(z, text, strlen(text), "t.test.", "test", err,
                      sizeof err) != MDSPF_OK) {
    print_error("zone: %s\n", err);
    fail();
  }
  return z;
}

/* A context and linter over z. */
typedef struct rig {
  mdspf_ctx *ctx;
  mdspf_lint *l;
} rig;

static rig rig_new(mdspf_zone *z) {
  rig r;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &r.ctx), MDSPF_OK);
  if (z) {
    assert_int_equal(mdspf_ctx_set_resolver(r.ctx, mdspf_zone_resolver(z)),
                     MDSPF_OK);
  }
  assert_int_equal(mdspf_lint_new(r.ctx, &r.l), MDSPF_OK);
  return r;
}

static void rig_free(rig *r) {
  mdspf_lint_free(r->l);
  mdspf_ctx_free(r->ctx);
}

/* Everything observable about a lint, as text (for comparisons). */
static char *snapshot(const mdspf_lint *l) {
  size_t cap = 1 << 16, len = 0, i;
  char *s = malloc(cap);
  assert_non_null(s);
#define ADD(...)                                                               \
  do {                                                                         \
    int k_ = snprintf(s + len, cap - len, __VA_ARGS__);                        \
    assert_true(k_ >= 0 && (size_t)k_ < cap - len);                            \
    len += (size_t)k_;                                                         \
  } while (0)
  ADD("worst %d lookups %u voids %u\n", mdspf_lint_worst(l),
      mdspf_lint_lookups(l), mdspf_lint_void_lookups(l));
  for (i = 0; i < mdspf_lint_nnodes(l); i++) {
    const char *d = mdspf_lint_node_domain(l, i);
    const char *t = mdspf_lint_node_text(l, i);
    ADD("node %zu parent %zu via %d term %d lookups %u rec %d %s [%s]\n", i,
        mdspf_lint_node_parent(l, i), mdspf_lint_node_via(l, i),
        mdspf_lint_node_term(l, i), mdspf_lint_node_lookups(l, i),
        mdspf_lint_node_record(l, i) != NULL, d ? d : "-", t ? t : "-");
  }
  for (i = 0; i < mdspf_lint_ndiags(l); i++) {
    size_t off = 0, n = 0;
    assert_int_equal(mdspf_lint_diag_span(l, i, &off, &n), MDSPF_OK);
    ADD("diag %d %s node %zu %zu+%zu %s\n", mdspf_lint_diag_severity(l, i),
        mdspf_lint_code_str(mdspf_lint_diag_code(l, i)),
        mdspf_lint_diag_node(l, i), off, n, mdspf_lint_diag_message(l, i));
  }
#undef ADD
  return s;
}

/* Index of the first diagnostic with code (and severity sev >= 0), or -1. */
static long find(const mdspf_lint *l, int code, int sev) {
  size_t i;
  for (i = 0; i < mdspf_lint_ndiags(l); i++) {
    if (mdspf_lint_diag_code(l, i) == code &&
        (sev < 0 || mdspf_lint_diag_severity(l, i) == sev)) {
      return (long)i;
    }
  }
  return -1;
}

static void dump(const mdspf_lint *l) {
  char *s = snapshot(l);
  print_error("%s", s);
  free(s);
}

/* ---- every code: a trigger and a good twin ------------------------------- */

typedef struct trigger {
  const char *domain;
  int code, sev;
  size_t node, off, len;
} trigger;

static const trigger TRIGGERS[] = {
    {"broken.lint.test", MDSPF_LINT_SYNTAX, MDSPF_SEV_ERROR, 0, 12, 22},
    {"nospf.lint.test", MDSPF_LINT_NO_RECORD, MDSPF_SEV_ERROR, 0, 0, 0},
    {"nx.lint.test", MDSPF_LINT_NO_RECORD, MDSPF_SEV_ERROR, 0, 0, 0},
    {"twospf.lint.test", MDSPF_LINT_MULTIPLE_RECORDS, MDSPF_SEV_ERROR, 0, 0, 0},
    {"toomany.lint.test", MDSPF_LINT_TOO_MANY_LOOKUPS, MDSPF_SEV_ERROR, 0, 0,
     0},
    {"void3.lint.test", MDSPF_LINT_VOID_LOOKUPS, MDSPF_SEV_ERROR, 0, 0, 0},
    {"void2.lint.test", MDSPF_LINT_VOID_LOOKUPS, MDSPF_SEV_WARNING, 0, 7, 15},
    {"mx11lint.lint.test", MDSPF_LINT_TOO_MANY_MX, MDSPF_SEV_ERROR, 0, 7, 17},
    {"plusall.lint.test", MDSPF_LINT_PASS_ALL, MDSPF_SEV_ERROR, 0, 24, 4},
    {"incplus.lint.test", MDSPF_LINT_PASS_ALL, MDSPF_SEV_ERROR, 1, 24, 4},
    {"neutralall.lint.test", MDSPF_LINT_NEUTRAL_ALL, MDSPF_SEV_WARNING, 0, 24,
     4},
    {"noall.lint.test", MDSPF_LINT_NO_ALL, MDSPF_SEV_WARNING, 0, 0, 0},
    {"afterall.lint.test", MDSPF_LINT_AFTER_ALL, MDSPF_SEV_WARNING, 0, 29, 1},
    {"redirect-ignored.lint.test", MDSPF_LINT_REDIRECT_IGNORED,
     MDSPF_SEV_WARNING, 0, 12, 27},
    {"ptr.lint.test", MDSPF_LINT_PTR_DEPRECATED, MDSPF_SEV_WARNING, 0, 7, 13},
    {"hostbits.lint.test", MDSPF_LINT_HOST_BITS, MDSPF_SEV_WARNING, 0, 7, 16},
    {"hostbits6.lint.test", MDSPF_LINT_HOST_BITS, MDSPF_SEV_WARNING, 0, 7, 18},
    {"overlap.lint.test", MDSPF_LINT_OVERLAP, MDSPF_SEV_INFO, 0, 24, 18},
    {"duplicate.lint.test", MDSPF_LINT_DUPLICATE, MDSPF_SEV_WARNING, 0, 38, 13},
    {"includenone.lint.test", MDSPF_LINT_INCLUDE_NO_RECORD, MDSPF_SEV_ERROR, 0,
     7, 23},
    {"includenx.lint.test", MDSPF_LINT_INCLUDE_NO_RECORD, MDSPF_SEV_ERROR, 0, 7,
     20},
    {"big.lint.test", MDSPF_LINT_TOO_LARGE_UDP, MDSPF_SEV_WARNING, 0, 0, 0},
    {"expnowhere.lint.test", MDSPF_LINT_EXP_NOWHERE, MDSPF_SEV_WARNING, 0, 12,
     19},
    {"exptwo.lint.test", MDSPF_LINT_EXP_NOWHERE, MDSPF_SEV_WARNING, 0, 12, 20},
    {"macro.lint.test", MDSPF_LINT_MACRO_TARGET, MDSPF_SEV_INFO, 0, 7, 27},
    {"loop1.lint.test", MDSPF_LINT_LOOP, MDSPF_SEV_ERROR, 1, 7, 23},
    {"selfredirect.lint.test", MDSPF_LINT_LOOP, MDSPF_SEV_ERROR, 0, 7, 31},
};

/* (domain, code) pairs that must NOT be reported. */
typedef struct absent {
  const char *domain;
  int code, sev; /* sev -1: any severity */
} absent;

static const absent ABSENT[] = {
    {"good.lint.test", MDSPF_LINT_SYNTAX, -1},
    {"good.lint.test", MDSPF_LINT_NO_RECORD, -1},
    {"good.lint.test", MDSPF_LINT_MULTIPLE_RECORDS, -1},
    {"good.lint.test", MDSPF_LINT_DNS_ERROR, -1},
    {"tenexactly.lint.test", MDSPF_LINT_TOO_MANY_LOOKUPS, -1},
    {"void2.lint.test", MDSPF_LINT_VOID_LOOKUPS, MDSPF_SEV_ERROR},
    {"void0.lint.test", MDSPF_LINT_VOID_LOOKUPS, -1},
    {"mx10lint.lint.test", MDSPF_LINT_TOO_MANY_MX, -1},
    {"ptr.lint.test", MDSPF_LINT_TOO_MANY_PTR, -1}, /* needs a client */
    {"pptr.lint.test", MDSPF_LINT_TOO_MANY_PTR, -1},
    {"minusall.lint.test", MDSPF_LINT_PASS_ALL, -1},
    {"softall.lint.test", MDSPF_LINT_NEUTRAL_ALL, -1},
    {"incneutral.lint.test", MDSPF_LINT_NEUTRAL_ALL, -1},
    {"redirect.lint.test", MDSPF_LINT_NO_ALL, -1},
    {"incneutral.lint.test", MDSPF_LINT_NO_ALL, -1},
    {"minusall.lint.test", MDSPF_LINT_AFTER_ALL, -1},
    {"expok.lint.test", MDSPF_LINT_AFTER_ALL, -1},
    {"redirect-ignored.lint.test", MDSPF_LINT_AFTER_ALL, -1},
    {"redirect.lint.test", MDSPF_LINT_REDIRECT_IGNORED, -1},
    {"good.lint.test", MDSPF_LINT_PTR_DEPRECATED, -1},
    {"nohostbits.lint.test", MDSPF_LINT_HOST_BITS, -1},
    {"nooverlap.lint.test", MDSPF_LINT_OVERLAP, -1},
    {"duplicate.lint.test", MDSPF_LINT_OVERLAP, -1}, /* a duplicate only */
    {"noduplicate.lint.test", MDSPF_LINT_DUPLICATE, -1},
    {"includegood.lint.test", MDSPF_LINT_INCLUDE_NO_RECORD, -1},
    {"good.lint.test", MDSPF_LINT_LONG_STRING, -1},
    {"under.lint.test", MDSPF_LINT_TOO_LARGE_UDP, -1},
    {"expok.lint.test", MDSPF_LINT_EXP_NOWHERE, -1},
    {"pd.lint.test", MDSPF_LINT_MACRO_TARGET, -1},
    {"diamond.lint.test", MDSPF_LINT_LOOP, -1},
};

/* The good twins are entirely clean. */
static const char *const CLEAN[] = {
    "good.lint.test",      "minusall.lint.test",    "softall.lint.test",
    "redirect.lint.test",  "incneutral.lint.test",  "nohostbits.lint.test",
    "nooverlap.lint.test", "noduplicate.lint.test", "includegood.lint.test",
    "diamond.lint.test",   "tenexactly.lint.test",  "void0.lint.test",
    "mx10lint.lint.test",  "expok.lint.test",       "under.lint.test",
    "pd.lint.test",
};

static void lint_ok(mdspf_lint *l, const char *domain) {
  int rc = mdspf_lint_domain(l, domain, 5000);
  if (rc != MDSPF_OK) {
    print_error("%s: %s\n", domain, mdspf_strerror(rc));
  }
  assert_int_equal(rc, MDSPF_OK);
}

static void test_lint_every_code(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  rig r = rig_new(z);
  size_t i;
  (void)state;
  for (i = 0; i < sizeof TRIGGERS / sizeof TRIGGERS[0]; i++) {
    const trigger *t = &TRIGGERS[i];
    long k;
    size_t off = 99, len = 99;
    lint_ok(r.l, t->domain);
    k = find(r.l, t->code, t->sev);
    if (k < 0) {
      print_error("%s: no %s (severity %d)\n", t->domain,
                  mdspf_lint_code_str(t->code), t->sev);
      dump(r.l);
      fail();
    }
    assert_int_equal(mdspf_lint_diag_severity(r.l, (size_t)k), t->sev);
    assert_int_equal(mdspf_lint_diag_node(r.l, (size_t)k), t->node);
    assert_int_equal(mdspf_lint_diag_span(r.l, (size_t)k, &off, &len),
                     MDSPF_OK);
    if (off != t->off || len != t->len) {
      print_error("%s %s: span %zu+%zu, want %zu+%zu\n", t->domain,
                  mdspf_lint_code_str(t->code), off, len, t->off, t->len);
      fail();
    }
    assert_true(mdspf_lint_worst(r.l) >= t->sev);
    assert_non_null(mdspf_lint_diag_message(r.l, (size_t)k));
  }
  for (i = 0; i < sizeof ABSENT / sizeof ABSENT[0]; i++) {
    lint_ok(r.l, ABSENT[i].domain);
    if (find(r.l, ABSENT[i].code, ABSENT[i].sev) >= 0) {
      print_error("%s: unexpected %s\n", ABSENT[i].domain,
                  mdspf_lint_code_str(ABSENT[i].code));
      dump(r.l);
      fail();
    }
  }
  for (i = 0; i < sizeof CLEAN / sizeof CLEAN[0]; i++) {
    lint_ok(r.l, CLEAN[i]);
    if (mdspf_lint_ndiags(r.l) != 0) {
      print_error("%s is not clean\n", CLEAN[i]);
      dump(r.l);
      fail();
    }
    assert_int_equal(mdspf_lint_worst(r.l), -1);
  }
  rig_free(&r);
  mdspf_zone_free(z);
}

/* Exact messages of a few diagnostics (what an administrator reads). */
static void test_lint_messages(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  rig r = rig_new(z);
  long k;
  (void)state;
  lint_ok(r.l, "includenone.lint.test");
  k = find(r.l, MDSPF_LINT_INCLUDE_NO_RECORD, -1);
  assert_true(k >= 0);
  assert_string_equal(mdspf_lint_diag_message(r.l, (size_t)k),
                      "include:nospf.lint.test: the domain publishes no SPF "
                      "record; receivers return permerror");
  lint_ok(r.l, "toomany.lint.test");
  k = find(r.l, MDSPF_LINT_TOO_MANY_LOOKUPS, -1);
  assert_string_equal(
      mdspf_lint_diag_message(r.l, (size_t)k),
      "toomany.lint.test: 11 DNS lookups (include, a, mx, ptr, exists, "
      "redirect) in the record and its includes; receivers allow 10 and "
      "return permerror beyond");
  lint_ok(r.l, "broken.lint.test");
  k = find(r.l, MDSPF_LINT_SYNTAX, -1);
  assert_string_equal(mdspf_lint_diag_message(r.l, (size_t)k),
                      "broken.lint.test: unknown mechanism: "
                      "'incldue:good.lint.test'; receivers return permerror");
  assert_non_null(mdspf_lint_node_text(r.l, 0));
  assert_null(mdspf_lint_node_record(r.l, 0));
  lint_ok(r.l, "hostbits.lint.test");
  k = find(r.l, MDSPF_LINT_HOST_BITS, -1);
  assert_string_equal(mdspf_lint_diag_message(r.l, (size_t)k),
                      "ip4:192.0.2.1/24: bits set past the /24 prefix; "
                      "receivers use 192.0.2.0/24, so write that");
  lint_ok(r.l, "void3.lint.test");
  assert_int_equal(mdspf_lint_void_lookups(r.l), 3);
  k = find(r.l, MDSPF_LINT_VOID_LOOKUPS, MDSPF_SEV_WARNING);
  assert_string_equal(mdspf_lint_diag_message(r.l, (size_t)k),
                      "a:nx1.lint.test: nx1.lint.test has no A or AAAA record "
                      "(it does not exist): the term matches nothing and is a "
                      "void lookup (1 so far; receivers allow 2)");
  rig_free(&r);
  mdspf_zone_free(z);
}

/* ---- trees and lookup counts --------------------------------------------- */

typedef struct xnode {
  size_t parent;
  int via, term;
  const char *domain;
  unsigned lookups;
} xnode;

static void expect_tree(const mdspf_lint *l, unsigned total, const xnode *want,
                        size_t n) {
  size_t i;
  if (mdspf_lint_nnodes(l) != n || mdspf_lint_lookups(l) != total) {
    dump(l);
  }
  assert_int_equal(mdspf_lint_lookups(l), total);
  assert_int_equal(mdspf_lint_nnodes(l), n);
  for (i = 0; i < n; i++) {
    assert_int_equal(mdspf_lint_node_parent(l, i), want[i].parent);
    assert_int_equal(mdspf_lint_node_via(l, i), want[i].via);
    assert_int_equal(mdspf_lint_node_term(l, i), want[i].term);
    assert_string_equal(mdspf_lint_node_domain(l, i), want[i].domain);
    assert_int_equal(mdspf_lint_node_lookups(l, i), want[i].lookups);
  }
}

static void test_lint_tree_counts(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  mdspf_zone *demo = zone_file(DEMO_ZONE);
  rig r = rig_new(z), d = rig_new(demo);
  static const xnode ten[] = {
      {0, 0, -1, "tenexactly.lint.test", 10},
      {0, MDSPF_TERM_INCLUDE, 1, "four.lint.test", 4},
      {0, MDSPF_TERM_INCLUDE, 2, "three.lint.test", 3},
      {2, MDSPF_TERM_REDIRECT, 2, "two.lint.test", 0},
  };
  static const xnode many[] = {
      {0, 0, -1, "toomany.lint.test", 11},
      {0, MDSPF_TERM_INCLUDE, 2, "four.lint.test", 4},
      {0, MDSPF_TERM_INCLUDE, 3, "three.lint.test", 3},
      {2, MDSPF_TERM_REDIRECT, 2, "two.lint.test", 0},
  };
  static const xnode diamond[] = {
      {0, 0, -1, "diamond.lint.test", 7},
      {0, MDSPF_TERM_INCLUDE, 0, "good.lint.test", 2},
      {0, MDSPF_TERM_INCLUDE, 1, "includegood.lint.test", 3},
      {2, MDSPF_TERM_INCLUDE, 0, "good.lint.test", 2},
  };
  static const xnode loop[] = {
      {0, 0, -1, "loop1.lint.test", 2},
      {0, MDSPF_TERM_INCLUDE, 0, "loop2.lint.test", 1},
      {1, MDSPF_TERM_INCLUDE, 0, "loop1.lint.test", 0},
  };
  static const xnode bcoug[] = {
      {0, 0, -1, "bcoug.org", 7},
      {0, MDSPF_TERM_INCLUDE, 2, "_spf.google.com", 3},
      {1, MDSPF_TERM_INCLUDE, 0, "_netblocks.google.com", 0},
      {1, MDSPF_TERM_INCLUDE, 1, "_netblocks2.google.com", 0},
      {1, MDSPF_TERM_INCLUDE, 2, "_netblocks3.google.com", 0},
      {0, MDSPF_TERM_INCLUDE, 3, "servers.mcsv.net", 0},
  };
  static const xnode macro[] = {{0, 0, -1, "macro.lint.test", 2}};
  static const xnode pd[] = {
      {0, 0, -1, "pd.lint.test", 2},
      {0, MDSPF_TERM_INCLUDE, 1, "_spf.pd.lint.test", 0},
  };
  (void)state;
  lint_ok(r.l, "tenexactly.lint.test");
  expect_tree(r.l, 10, ten, 4);
  lint_ok(r.l, "toomany.lint.test");
  expect_tree(r.l, 11, many, 4);
  lint_ok(r.l, "diamond.lint.test");
  expect_tree(r.l, 7, diamond, 4);
  lint_ok(r.l, "loop1.lint.test");
  expect_tree(r.l, 2, loop, 3);
  assert_null(mdspf_lint_node_record(r.l, 2));
  assert_null(mdspf_lint_node_text(r.l, 2));
  lint_ok(r.l, "macro.lint.test");
  expect_tree(r.l, 2, macro, 1);
  lint_ok(r.l, "pd.lint.test");
  expect_tree(r.l, 2, pd, 2);
  lint_ok(r.l, "redirect-ignored.lint.test"); /* not counted, not followed */
  assert_int_equal(mdspf_lint_lookups(r.l), 0);
  assert_int_equal(mdspf_lint_nnodes(r.l), 1);
  lint_ok(r.l, "afterall.lint.test"); /* "a" after all never runs */
  assert_int_equal(mdspf_lint_lookups(r.l), 0);
  lint_ok(d.l, "bcoug.org");
  expect_tree(d.l, 7, bcoug, 6);
  assert_int_equal(mdspf_lint_ndiags(d.l), 0);
  assert_string_equal(mdspf_lint_node_text(d.l, 5),
                      "v=spf1 ip4:198.19.192.0/21 ip4:198.19.200.0/22 "
                      "ip4:198.19.208.0/20 ?all");
  assert_int_equal(mdspf_record_nterms(mdspf_lint_node_record(d.l, 5)), 4);
  rig_free(&r);
  rig_free(&d);
  mdspf_zone_free(z);
  mdspf_zone_free(demo);
}

/* ---- delivery modes ------------------------------------------------------ */

static const char *const EVERY[] = {
    "good",     "plusall",     "neutralall",       "noall",  "redirect",
    "afterall", "incneutral",  "incplus",          "ptr",    "hostbits6",
    "overlap",  "duplicate",   "twospf",           "nospf",  "nx",
    "broken",   "includenone", "includenx",        "loop1",  "selfredirect",
    "diamond",  "tenexactly",  "toomany",          "void2",  "void3",
    "mx11lint", "expok",       "expnowhere",       "exptwo", "big",
    "macro",    "pd",          "redirect-ignored",
};

static void test_lint_delivery_modes(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  rig r = rig_new(z);
  size_t i;
  int m;
  (void)state;
  for (i = 0; i < sizeof EVERY / sizeof EVERY[0]; i++) {
    char name[128], *first = NULL;
    snprintf(name, sizeof name, "%s.lint.test", EVERY[i]);
    for (m = 0; m < NMODES; m++) {
      char *s;
      assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
      lint_ok(r.l, name);
      assert_int_equal(mdspf_zone_pending(z), 0);
      s = snapshot(r.l);
      if (!first) {
        first = s;
        continue;
      }
      if (strcmp(first, s) != 0) {
        print_error("%s: mode %d differs:\n%s--- vs inline ---\n%s", name,
                    MODES[m], s, first);
        fail();
      }
      free(s);
    }
    free(first);
  }
  rig_free(&r);
  mdspf_zone_free(z);
}

/* ---- mdspf_lint_record --------------------------------------------------- */

static void test_lint_record_mode(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  rig r = rig_new(z), bare = rig_new(NULL);
  char text[512];
  unsigned long q0;
  long k;
  size_t off, len;
  (void)state;

  /* static: no domain, no DNS at all (not even with a resolver) */
  q0 = mdspf_zone_queries(z);
  static const char rec1[] =
      "v=spf1 a mx include:good.lint.test ip4:192.0.2.1/24 ?all";
  assert_int_equal(mdspf_lint_record(r.l, NULL, rec1, strlen(rec1), 1000),
                   MDSPF_OK);
  assert_int_equal(mdspf_zone_queries(z), q0);
  assert_int_equal(mdspf_lint_nnodes(r.l), 1);
  assert_null(mdspf_lint_node_domain(r.l, 0));
  assert_string_equal(mdspf_lint_node_text(r.l, 0), rec1);
  assert_int_equal(mdspf_lint_lookups(r.l), 3);
  assert_true(find(r.l, MDSPF_LINT_HOST_BITS, MDSPF_SEV_WARNING) >= 0);
  assert_true(find(r.l, MDSPF_LINT_NEUTRAL_ALL, MDSPF_SEV_WARNING) >= 0);
  assert_true(find(r.l, MDSPF_LINT_INCLUDE_NO_RECORD, -1) < 0);
  /* the same without any resolver */
  assert_int_equal(mdspf_lint_record(bare.l, NULL, rec1, strlen(rec1), 0),
                   MDSPF_OK);
  assert_int_equal(mdspf_lint_lookups(bare.l), 3);
  assert_int_equal(mdspf_lint_domain(bare.l, "good.lint.test", 0),
                   MDSPF_E_NOTSUP);
  assert_int_equal(
      mdspf_lint_record(bare.l, "good.lint.test", rec1, strlen(rec1), 0),
      MDSPF_E_NOTSUP);

  /* LONG_STRING: 256 octets, not 255 */
  memset(text, 0, sizeof text);
  memcpy(text, "v=spf1 ", 7);
  memset(text + 7, ' ', 255 - 7 - 5);
  memcpy(text + 250, " -all", 5); /* 255 octets */
  assert_int_equal(mdspf_lint_record(r.l, NULL, text, 255, 0), MDSPF_OK);
  assert_true(find(r.l, MDSPF_LINT_LONG_STRING, -1) < 0);
  assert_int_equal(mdspf_lint_ndiags(r.l), 0);
  memmove(text + 8, text + 7, 255 - 7);
  text[7] = ' '; /* 256 octets */
  assert_int_equal(mdspf_lint_record(r.l, NULL, text, 256, 0), MDSPF_OK);
  k = find(r.l, MDSPF_LINT_LONG_STRING, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_int_equal(mdspf_lint_diag_span(r.l, (size_t)k, &off, &len), MDSPF_OK);
  assert_int_equal(off, 255);
  assert_int_equal(len, 1);
  assert_int_equal(mdspf_lint_diag_node(r.l, (size_t)k), 0);
  assert_non_null(strstr(mdspf_lint_diag_message(r.l, (size_t)k),
                         "must be published as several strings of at most 255 "
                         "octets"));

  /* as if published at a domain: includes followed through DNS */
  static const char rec2[] = "v=spf1 include:nospf.lint.test -all";
  assert_int_equal(
      mdspf_lint_record(r.l, "Good.Lint.Test.", rec2, strlen(rec2), 0),
      MDSPF_OK);
  assert_string_equal(mdspf_lint_node_domain(r.l, 0), "good.lint.test");
  k = find(r.l, MDSPF_LINT_INCLUDE_NO_RECORD, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_int_equal(mdspf_lint_diag_span(r.l, (size_t)k, &off, &len), MDSPF_OK);
  assert_int_equal(off, 7);
  assert_int_equal(len, 23);
  assert_int_equal(mdspf_lint_nnodes(r.l), 2);

  /* the other TXT records of the name count towards the answer size:
   * 440 octets alone fit, with good.lint.test's other TXT record not */
  memset(text, 0, sizeof text);
  memcpy(text, "v=spf1", 6);
  memset(text + 6, ' ', 440 - 6 - 5);
  memcpy(text + 435, " -all", 5);
  assert_int_equal(mdspf_lint_record(r.l, NULL, text, 440, 0), MDSPF_OK);
  assert_true(find(r.l, MDSPF_LINT_TOO_LARGE_UDP, -1) < 0);
  assert_int_equal(mdspf_lint_record(r.l, "nx.lint.test", text, 440, 0),
                   MDSPF_OK);
  assert_true(find(r.l, MDSPF_LINT_TOO_LARGE_UDP, -1) < 0);
  assert_int_equal(mdspf_lint_record(r.l, "good.lint.test", text, 440, 0),
                   MDSPF_OK);
  assert_true(find(r.l, MDSPF_LINT_TOO_LARGE_UDP, MDSPF_SEV_WARNING) >= 0);

  /* a syntax error in given text, with its position */
  static const char rec3[] = "v=spf1 ip4:192.0.2.300 -all";
  assert_int_equal(mdspf_lint_record(r.l, NULL, rec3, strlen(rec3), 0),
                   MDSPF_OK);
  k = find(r.l, MDSPF_LINT_SYNTAX, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_int_equal(mdspf_lint_diag_span(r.l, (size_t)k, &off, &len), MDSPF_OK);
  assert_int_equal(off, 11);
  assert_int_equal(len, 11);
  assert_null(mdspf_lint_node_record(r.l, 0));

  /* bad arguments */
  assert_int_equal(mdspf_lint_record(r.l, NULL, NULL, 0, 0), MDSPF_E_INVAL);
  assert_int_equal(mdspf_lint_record(r.l, "bad..name", rec1, strlen(rec1), 0),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_lint_domain(r.l, NULL, 0), MDSPF_E_INVAL);
  assert_int_equal(mdspf_lint_domain(r.l, "localhost", 0), MDSPF_E_INVAL);
  /* a refused call leaves the last results alone */
  assert_int_equal(mdspf_lint_nnodes(r.l), 1);
  assert_null(mdspf_lint_node_record(r.l, 0));
  rig_free(&r);
  rig_free(&bare);
  mdspf_zone_free(z);
}

/* ---- descriptions -------------------------------------------------------- */

static void test_describe_every_kind(void **state) {
  static const char text[] =
      "v=spf1 all include:_spf.example.com a:example.com/24//64 a mx "
      "mx:example.com/24 ptr ptr:example.com ip4:192.0.2.0/24 "
      "ip4:192.0.2.1 ip4:192.0.2.77/24 ip4:0.0.0.0/0 ip6:2001:db8::/32 "
      "ip6:2001:db8::1 ip6:2001:db8::1:0/120 exists:example.com "
      "include:%{i}._spf.example.com exists:%{i}.%{l}.users.example.com "
      "a:%{d}/28 -all redirect=example.com exp=explain.example.com "
      "moo=cow";
  static const char *const want[] = {
      "every address",
      "addresses the SPF record of _spf.example.com permits",
      "the addresses of example.com (A/AAAA), IPv4 /24, IPv6 /64",
      "the addresses of the checked domain (A/AAAA)",
      "the addresses of the mail exchangers of the checked domain",
      "the addresses of the mail exchangers of example.com, IPv4 /24",
      "clients whose validated reverse name ends in the checked domain "
      "(deprecated)",
      "clients whose validated reverse name ends in example.com (deprecated)",
      "192.0.2.0 - 192.0.2.255 (256 addresses)",
      "192.0.2.1 (1 address)",
      "192.0.2.0 - 192.0.2.255 (256 addresses)",
      "0.0.0.0 - 255.255.255.255 (4294967296 addresses)",
      "2001:db8::/32 (2^96 addresses)",
      "2001:db8::1 (1 address)",
      "2001:db8::1:0/120 (256 addresses)",
      "any address, if example.com has an A record",
      "addresses the SPF record of %{i}._spf.example.com, which depends on "
      "the connecting IP, permits",
      "any address, if %{i}.%{l}.users.example.com, which depends on the "
      "connecting IP and the sender, has an A record",
      "the addresses of %{d} (A/AAAA), which depends on the checked domain, "
      "IPv4 /28",
      "every address",
      "if nothing matched, the result of example.com's record",
      "the explanation comes from the TXT record of explain.example.com",
      "unknown modifier, ignored",
  };
  mdspf_record *rec = NULL;
  char buf[256], small[10];
  size_t i, need = 0;
  (void)state;
  assert_int_equal(mdspf_record_parse(text, strlen(text), NULL, NULL, &rec,
                                      NULL, NULL, NULL),
                   MDSPF_OK);
  assert_int_equal(mdspf_record_nterms(rec), sizeof want / sizeof want[0]);
  for (i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_int_equal(mdspf_record_term_describe(rec, i, buf, sizeof buf, &need),
                     MDSPF_OK);
    assert_string_equal(buf, want[i]);
    assert_int_equal(need, strlen(want[i]));
  }
  /* buffer handling as mdspf_record_format */
  assert_int_equal(
      mdspf_record_term_describe(rec, 1, small, sizeof small, &need),
      MDSPF_E_BUFFER);
  assert_int_equal(need, strlen(want[1]));
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_int_equal(mdspf_record_term_describe(rec, 1, NULL, 0, &need),
                   MDSPF_E_BUFFER);
  assert_int_equal(need, strlen(want[1]));
  assert_int_equal(mdspf_record_term_describe(rec, i, buf, sizeof buf, NULL),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_record_term_describe(NULL, 0, buf, sizeof buf, NULL),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_record_term_describe(rec, 0, NULL, 5, NULL),
                   MDSPF_E_INVAL);
  mdspf_record_free(rec);

  /* a redirect with macros, an mx with macros and CIDR */
  static const char t2[] =
      "v=spf1 mx:%{o}.example.com/24 redirect=%{h}.x.example";
  assert_int_equal(
      mdspf_record_parse(t2, strlen(t2), NULL, NULL, &rec, NULL, NULL, NULL),
      MDSPF_OK);
  assert_int_equal(mdspf_record_term_describe(rec, 0, buf, sizeof buf, NULL),
                   MDSPF_OK);
  assert_string_equal(buf, "the addresses of the mail exchangers of "
                           "%{o}.example.com, which depends on the sender, "
                           "IPv4 /24");
  assert_int_equal(mdspf_record_term_describe(rec, 1, buf, sizeof buf, NULL),
                   MDSPF_OK);
  assert_string_equal(buf, "if nothing matched, the result of the record of "
                           "%{h}.x.example, which depends on the HELO name");
  mdspf_record_free(rec);
}

/* ---- DNS failures -------------------------------------------------------- */

static const char FAULTY[] =
    "a TXT \"v=spf1 include:b.t.test a:c.t.test -all\"\n"
    "b TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
    "c A 192.0.2.1\n"
    "hang TXT \"v=spf1 include:b.t.test include:slow.t.test -all\"\n"
    "slow TXT \"v=spf1 -all\"\n";

static void test_lint_dns_errors(void **state) {
  mdspf_zone *z = zone_text(FAULTY);
  rig r = rig_new(z);
  long k;
  size_t off, len;
  (void)state;
  lint_ok(r.l, "a.t.test");
  assert_int_equal(mdspf_lint_ndiags(r.l), 0);

  /* the include's TXT: SERVFAIL, on the include term of node 0 */
  assert_int_equal(
      mdspf_zone_set_fault(z, "b.t.test", MDSPF_RR_TXT, MDSPF_ZONE_SERVFAIL),
      MDSPF_OK);
  lint_ok(r.l, "a.t.test");
  k = find(r.l, MDSPF_LINT_DNS_ERROR, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_int_equal(mdspf_lint_diag_node(r.l, (size_t)k), 0);
  assert_int_equal(mdspf_lint_diag_span(r.l, (size_t)k, &off, &len), MDSPF_OK);
  assert_int_equal(off, 7);
  assert_int_equal(len, 16);
  assert_string_equal(mdspf_lint_diag_message(r.l, (size_t)k),
                      "include:b.t.test: the TXT lookup of b.t.test failed: "
                      "temporary failure (SERVFAIL)");
  assert_int_equal(mdspf_lint_lookups(r.l), 2);
  assert_int_equal(
      mdspf_zone_set_fault(z, "b.t.test", MDSPF_RR_TXT, MDSPF_ZONE_NOFAULT),
      MDSPF_OK);

  /* the AAAA of an "a" target times out */
  assert_int_equal(
      mdspf_zone_set_fault(z, "c.t.test", MDSPF_RR_AAAA, MDSPF_ZONE_TIMEOUT),
      MDSPF_OK);
  lint_ok(r.l, "a.t.test");
  k = find(r.l, MDSPF_LINT_DNS_ERROR, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_string_equal(mdspf_lint_diag_message(r.l, (size_t)k),
                      "a:c.t.test: the AAAA lookup of c.t.test failed: "
                      "temporary failure");
  assert_int_equal(
      mdspf_zone_set_fault(z, "c.t.test", MDSPF_RR_AAAA, MDSPF_ZONE_NOFAULT),
      MDSPF_OK);

  /* the domain itself */
  assert_int_equal(
      mdspf_zone_set_fault(z, "a.t.test", MDSPF_RR_TXT, MDSPF_ZONE_SERVFAIL),
      MDSPF_OK);
  lint_ok(r.l, "a.t.test");
  k = find(r.l, MDSPF_LINT_DNS_ERROR, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_int_equal(mdspf_lint_diag_span(r.l, (size_t)k, &off, &len), MDSPF_OK);
  assert_int_equal(off + len, 0);
  assert_int_equal(mdspf_lint_nnodes(r.l), 1);
  assert_null(mdspf_lint_node_text(r.l, 0));
  rig_free(&r);
  mdspf_zone_free(z);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void test_lint_timeout(void **state) {
  mdspf_zone *z = zone_text(FAULTY);
  rig r = rig_new(z);
  int m;
  (void)state;
  assert_int_equal(
      mdspf_zone_set_fault(z, "slow.t.test", MDSPF_RR_TXT, MDSPF_ZONE_HANG),
      MDSPF_OK);
  for (m = 0; m < NMODES; m++) {
    long t0, el, k;
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    t0 = now_ms();
    assert_int_equal(mdspf_lint_domain(r.l, "hang.t.test", 300), MDSPF_OK);
    el = now_ms() - t0;
    assert_true(el >= 250);
    assert_true(el < 3000);
    k = find(r.l, MDSPF_LINT_DNS_ERROR, MDSPF_SEV_ERROR);
    if (k < 0) {
      dump(r.l);
    }
    assert_true(k >= 0);
    assert_string_equal(mdspf_lint_diag_message(r.l, (size_t)k),
                        "include:slow.t.test: the TXT lookup of slow.t.test "
                        "failed: timed out, no answer within 300 ms");
    /* what did answer is still there */
    assert_int_equal(mdspf_lint_nnodes(r.l), 3);
    assert_non_null(mdspf_lint_node_record(r.l, 1));
    assert_int_equal(mdspf_lint_lookups(r.l), 2);
    assert_int_equal(mdspf_zone_pending(z), 0);
  }
  /* default budget: the context's MDSPF_LIMIT_TIMEOUT_MS */
  assert_int_equal(mdspf_ctx_set_limit(r.ctx, MDSPF_LIMIT_TIMEOUT_MS, 200),
                   MDSPF_OK);
  {
    long t0 = now_ms(), el;
    assert_int_equal(mdspf_lint_domain(r.l, "hang.t.test", 0), MDSPF_OK);
    el = now_ms() - t0;
    assert_true(el >= 150 && el < 3000);
    assert_true(find(r.l, MDSPF_LINT_DNS_ERROR, -1) >= 0);
  }
  rig_free(&r);
  mdspf_zone_free(z);
}

/* A resolver over a deferred zone but without wait(): NOTSUP, and
 * nothing left behind. */
typedef struct nowait {
  mdspf_zone *z;
  const mdspf_resolver *zr;
  int refuse;
  mdspf_lint *poke; /* mdspf_lint_set_client on it from query() */
  int poke_rc;
} nowait;

static int nw_query(void *impl, mdspf_dns_query *q, const char *name,
                    int rrtype, void **token) {
  nowait *w = impl;
  if (w->poke) {
    w->poke_rc = mdspf_lint_set_client(w->poke, "192.0.2.11");
  }
  if (w->refuse) {
    return 1;
  }
  return w->zr->query(w->zr->impl, q, name, rrtype, token);
}

static void nw_cancel(void *impl, void *token) {
  nowait *w = impl;
  w->zr->cancel(w->zr->impl, token);
}

static void test_lint_resolver_limits(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  nowait w;
  mdspf_resolver res;
  mdspf_ctx *ctx = NULL;
  mdspf_lint *l = NULL;
  long k;
  (void)state;
  memset(&w, 0, sizeof w);
  w.z = z;
  w.zr = mdspf_zone_resolver(z);
  w.refuse = 0;
  memset(&res, 0, sizeof res);
  res.version = MDSPF_RESOLVER_V1;
  res.impl = &w;
  res.query = nw_query;
  res.cancel = nw_cancel;
  res.wait = NULL;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, &res), MDSPF_OK);
  assert_int_equal(mdspf_lint_new(ctx, &l), MDSPF_OK);
  /* inline answers need no wait() */
  assert_int_equal(mdspf_lint_domain(l, "good.lint.test", 1000), MDSPF_OK);
  assert_int_equal(mdspf_lint_lookups(l), 2);
  /* deferred ones do */
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_FIFO),
                   MDSPF_OK);
  assert_int_equal(mdspf_lint_domain(l, "good.lint.test", 1000),
                   MDSPF_E_NOTSUP);
  assert_int_equal(mdspf_zone_pending(z), 0);
  assert_int_equal(mdspf_lint_nnodes(l), 0);
  /* a refusing backend: DNS errors, not a hang */
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_INLINE), MDSPF_OK);
  w.refuse = 1;
  assert_int_equal(mdspf_lint_domain(l, "good.lint.test", 1000), MDSPF_OK);
  k = find(l, MDSPF_LINT_DNS_ERROR, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_string_equal(mdspf_lint_diag_message(l, (size_t)k),
                      "good.lint.test: the TXT lookup failed: the resolver "
                      "refused the query");
  /* the client cannot change during a lint */
  w.refuse = 0;
  w.poke = l;
  w.poke_rc = -1;
  assert_int_equal(mdspf_lint_domain(l, "ptr.lint.test", 1000), MDSPF_OK);
  assert_int_equal(w.poke_rc, MDSPF_E_STATE);
  assert_true(find(l, MDSPF_LINT_TOO_MANY_PTR, -1) < 0);
  w.poke = NULL;
  mdspf_lint_free(l);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* ---- PTR names of a client ----------------------------------------------- */

/* Exactly one diagnostic with code, and it is the one described. */
static void expect_one(const mdspf_lint *l, int code, int sev, size_t node,
                       size_t off, size_t len, const char *message) {
  size_t i, n = 0, o = 99, ln = 99;
  long k = find(l, code, -1);
  for (i = 0; i < mdspf_lint_ndiags(l); i++) {
    n += mdspf_lint_diag_code(l, i) == code;
  }
  if (k < 0 || n != 1) {
    print_error("want one %s, have %zu\n", mdspf_lint_code_str(code), n);
    dump(l);
    fail();
  }
  assert_int_equal(mdspf_lint_diag_severity(l, (size_t)k), sev);
  assert_int_equal(mdspf_lint_diag_node(l, (size_t)k), node);
  assert_int_equal(mdspf_lint_diag_span(l, (size_t)k, &o, &ln), MDSPF_OK);
  if (o != off || ln != len) {
    print_error("%s: span %zu+%zu, want %zu+%zu\n", mdspf_lint_code_str(code),
                o, ln, off, len);
    fail();
  }
  if (message) {
    assert_string_equal(mdspf_lint_diag_message(l, (size_t)k), message);
  }
}

static void expect_no(const mdspf_lint *l, int code) {
  if (find(l, code, -1) >= 0) {
    print_error("unexpected %s\n", mdspf_lint_code_str(code));
    dump(l);
    fail();
  }
}

static const char PTR_DEPRECATED_MSG[] =
    "ptr:lint.test: slow, unreliable and deprecated (RFC 7208 5.5); list the "
    "senders with ip4, ip6, a or mx";
static const char PTR11_MSG[] =
    "ptr:lint.test: 192.0.2.11 has 11 PTR names; only the first 10 are used, "
    "so the result depends on their order";

static void test_lint_ptr_names(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  rig r = rig_new(z);
  char want[512];
  unsigned long q0;
  size_t i;
  int m;
  long k;
  (void)state;

  /* no client: nothing counted, no PTR lookup, and the ptr-deprecated
   * message of a ptr that runs says so */
  q0 = mdspf_zone_queries(z);
  lint_ok(r.l, "ptr.lint.test");
  expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
  assert_int_equal(mdspf_zone_queries(z) - q0, 1);
  snprintf(want, sizeof want, "%s%s", PTR_DEPRECATED_MSG,
           " (PTR names not counted without a client address)");
  expect_one(r.l, MDSPF_LINT_PTR_DEPRECATED, MDSPF_SEV_WARNING, 0, 7, 13, want);
  lint_ok(r.l, "ptrafter.lint.test"); /* never runs: nothing to count */
  k = find(r.l, MDSPF_LINT_PTR_DEPRECATED, -1);
  assert_true(k >= 0);
  assert_null(strstr(mdspf_lint_diag_message(r.l, (size_t)k), "not counted"));

  /* 11 names: only the first 10 are used */
  assert_int_equal(mdspf_lint_set_client(r.l, "192.0.2.11"), MDSPF_OK);
  q0 = mdspf_zone_queries(z);
  lint_ok(r.l, "ptr.lint.test");
  expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 7, 13,
             PTR11_MSG);
  expect_one(r.l, MDSPF_LINT_PTR_DEPRECATED, MDSPF_SEV_WARNING, 0, 7, 13,
             PTR_DEPRECATED_MSG);
  assert_int_equal(mdspf_zone_queries(z) - q0, 2); /* TXT, PTR */
  assert_int_equal(mdspf_lint_worst(r.l), MDSPF_SEV_WARNING);
  assert_int_equal(mdspf_lint_lookups(r.l), 1);
  assert_int_equal(mdspf_lint_void_lookups(r.l), 0);
  /* the client stays for later runs; a tree without ptr or %{p} asks
   * no PTR */
  q0 = mdspf_zone_queries(z);
  lint_ok(r.l, "minusall.lint.test");
  assert_int_equal(mdspf_zone_queries(z) - q0, 1);
  assert_int_equal(mdspf_lint_ndiags(r.l), 0);

  /* 10 names: fine; none at all (NXDOMAIN): fine, not a void lookup */
  assert_int_equal(mdspf_lint_set_client(r.l, "192.0.2.10"), MDSPF_OK);
  lint_ok(r.l, "ptr.lint.test");
  expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
  expect_one(r.l, MDSPF_LINT_PTR_DEPRECATED, MDSPF_SEV_WARNING, 0, 7, 13,
             PTR_DEPRECATED_MSG);
  assert_int_equal(mdspf_lint_set_client(r.l, "192.0.2.99"), MDSPF_OK);
  lint_ok(r.l, "ptr.lint.test");
  expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
  expect_no(r.l, MDSPF_LINT_DNS_ERROR);
  assert_int_equal(mdspf_lint_void_lookups(r.l), 0);

  /* NULL clears */
  assert_int_equal(mdspf_lint_set_client(r.l, NULL), MDSPF_OK);
  q0 = mdspf_zone_queries(z);
  lint_ok(r.l, "pptr.lint.test");
  expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
  assert_int_equal(mdspf_zone_queries(z) - q0, 1);

  /* %{p} in exists */
  assert_int_equal(mdspf_lint_set_client(r.l, "192.0.2.11"), MDSPF_OK);
  lint_ok(r.l, "pptr.lint.test");
  expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 7, 24,
             "exists:%{p}.ok.lint.test: 192.0.2.11 has 11 PTR names; only "
             "the first 10 are used, so the result depends on their order");
  assert_true(find(r.l, MDSPF_LINT_MACRO_TARGET, MDSPF_SEV_INFO) >= 0);

  /* ptr inside an include: on the include's node */
  lint_ok(r.l, "incptr.lint.test");
  assert_int_equal(mdspf_lint_nnodes(r.l), 2);
  assert_string_equal(mdspf_lint_node_domain(r.l, 1), "ptr.lint.test");
  expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 1, 7, 13,
             PTR11_MSG);
  /* once, on the first ptr a receiver meets: the include's, evaluated
   * at the include, before the record's own later ptr */
  lint_ok(r.l, "ptrorder.lint.test");
  expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 1, 7, 13,
             PTR11_MSG);
  /* a ptr after all never runs */
  lint_ok(r.l, "ptrafter.lint.test");
  expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);

  /* IPv6, and IPv4-mapped IPv6 as IPv4 */
  assert_int_equal(mdspf_lint_set_client(r.l, "2001:DB8::11"), MDSPF_OK);
  lint_ok(r.l, "ptr.lint.test");
  expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 7, 13,
             "ptr:lint.test: 2001:db8::11 has 11 PTR names; only the first "
             "10 are used, so the result depends on their order");
  assert_int_equal(mdspf_lint_set_client(r.l, "::ffff:192.0.2.11"), MDSPF_OK);
  lint_ok(r.l, "ptr.lint.test");
  expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 7, 13,
             PTR11_MSG);

  /* the limit is the context's */
  assert_int_equal(mdspf_ctx_set_limit(r.ctx, MDSPF_LIMIT_PTR_NAMES, 11),
                   MDSPF_OK);
  lint_ok(r.l, "ptr.lint.test");
  expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
  assert_int_equal(mdspf_ctx_set_limit(r.ctx, MDSPF_LIMIT_PTR_NAMES, 5),
                   MDSPF_OK);
  assert_int_equal(mdspf_lint_set_client(r.l, "192.0.2.10"), MDSPF_OK);
  lint_ok(r.l, "ptr.lint.test");
  expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 7, 13,
             "ptr:lint.test: 192.0.2.10 has 10 PTR names; only the first 5 "
             "are used, so the result depends on their order");
  assert_int_equal(mdspf_ctx_set_limit(r.ctx, MDSPF_LIMIT_PTR_NAMES, 10),
                   MDSPF_OK);
  assert_int_equal(mdspf_lint_set_client(r.l, "192.0.2.11"), MDSPF_OK);

  /* mdspf_lint_record: %{p} in an effective redirect= counts, in exp=
   * not (it only shapes the explanation); static mode asks nothing */
  {
    static const char redir[] =
        "v=spf1 ip4:192.0.2.0/24 redirect=%{p}._spf.lint.test";
    static const char ignored[] = "v=spf1 -all redirect=%{p}._spf.lint.test";
    static const char exp[] = "v=spf1 -all exp=%{p}.why.lint.test";
    static const char bare[] = "v=spf1 ptr -all";
    assert_int_equal(
        mdspf_lint_record(r.l, "good.lint.test", redir, strlen(redir), 0),
        MDSPF_OK);
    expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 24, 28,
               NULL);
    assert_int_equal(
        mdspf_lint_record(r.l, "good.lint.test", ignored, strlen(ignored), 0),
        MDSPF_OK);
    expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
    assert_int_equal(
        mdspf_lint_record(r.l, "good.lint.test", exp, strlen(exp), 0),
        MDSPF_OK);
    expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
    q0 = mdspf_zone_queries(z);
    assert_int_equal(mdspf_lint_record(r.l, NULL, bare, strlen(bare), 0),
                     MDSPF_OK);
    assert_int_equal(mdspf_zone_queries(z), q0);
    expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
    expect_one(r.l, MDSPF_LINT_PTR_DEPRECATED, MDSPF_SEV_WARNING, 0, 7, 3,
               "ptr: slow, unreliable and deprecated (RFC 7208 5.5); list "
               "the senders with ip4, ip6, a or mx");
    /* as published: the example of the issue */
    assert_int_equal(
        mdspf_lint_record(r.l, "good.lint.test", bare, strlen(bare), 0),
        MDSPF_OK);
    expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 7, 3,
               "ptr: 192.0.2.11 has 11 PTR names; only the first 10 are "
               "used, so the result depends on their order");
  }

  /* a failed PTR lookup: the usual DNS_ERROR on the term, nothing else */
  assert_int_equal(mdspf_zone_set_fault(z, "11.2.0.192.in-addr.arpa",
                                        MDSPF_RR_PTR, MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  lint_ok(r.l, "ptr.lint.test");
  expect_no(r.l, MDSPF_LINT_TOO_MANY_PTR);
  expect_one(r.l, MDSPF_LINT_DNS_ERROR, MDSPF_SEV_ERROR, 0, 7, 13,
             "ptr:lint.test: the PTR lookup of 11.2.0.192.in-addr.arpa "
             "failed: temporary failure (SERVFAIL)");
  assert_int_equal(mdspf_zone_set_fault(z, "11.2.0.192.in-addr.arpa",
                                        MDSPF_RR_PTR, MDSPF_ZONE_NOFAULT),
                   MDSPF_OK);

  /* every delivery mode gives the same */
  {
    static const char *const names[] = {"ptr.lint.test", "pptr.lint.test",
                                        "incptr.lint.test",
                                        "ptrorder.lint.test"};
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
      char *first = NULL;
      for (m = 0; m < NMODES; m++) {
        char *s;
        assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
        lint_ok(r.l, names[i]);
        assert_int_equal(mdspf_zone_pending(z), 0);
        assert_true(find(r.l, MDSPF_LINT_TOO_MANY_PTR, -1) >= 0);
        s = snapshot(r.l);
        if (!first) {
          first = s;
          continue;
        }
        if (strcmp(first, s) != 0) {
          print_error("%s: mode %d differs:\n%s--- vs inline ---\n%s", names[i],
                      MODES[m], s, first);
          fail();
        }
        free(s);
      }
      free(first);
    }
    assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_INLINE), MDSPF_OK);
  }

  /* malformed addresses: MDSPF_E_INVAL, the client stays */
  {
    char longer[200];
    static const char *const bad[] = {
        "",
        "192.0.2.300",
        "192.0.2",
        "192.0.2.1.",
        " 192.0.2.1",
        "192.0.2.1 ",
        "192.00.2.1",
        "2001:db8::g",
        "2001:db8:::1",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "example.com",
        "192.0.2.1/32",
    };
    memset(longer, '0', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memcpy(longer, "::", 2);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      if (mdspf_lint_set_client(r.l, bad[i]) != MDSPF_E_INVAL) {
        print_error("'%s' accepted\n", bad[i]);
        fail();
      }
    }
    assert_int_equal(mdspf_lint_set_client(r.l, longer), MDSPF_E_INVAL);
    assert_int_equal(mdspf_lint_set_client(NULL, "192.0.2.1"), MDSPF_E_INVAL);
    assert_int_equal(mdspf_lint_set_client(NULL, NULL), MDSPF_E_INVAL);
    lint_ok(r.l, "ptr.lint.test");
    expect_one(r.l, MDSPF_LINT_TOO_MANY_PTR, MDSPF_SEV_WARNING, 0, 7, 13,
               PTR11_MSG);
  }
  rig_free(&r);
  mdspf_zone_free(z);
}

/* ---- bounds -------------------------------------------------------------- */

static void test_lint_bounds(void **state) {
  /* every record includes ten others: 1 + 10 + 100 + 1000 names */
  mdspf_zone *z = NULL;
  rig r;
  char name[64], rec[512];
  int i, j;
  unsigned long q0;
  long k;
  (void)state;
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  for (i = -1; i < 111; i++) {
    size_t len;
    if (i < 0) {
      snprintf(name, sizeof name, "fan.t.test");
    } else {
      snprintf(name, sizeof name, "n%d.t.test", i);
    }
    len = (size_t)snprintf(rec, sizeof rec, "v=spf1");
    for (j = 0; j < 10; j++) {
      int child = i < 0 ? j : (i * 10 + j + 10) % 1000;
      len += (size_t)snprintf(rec + len, sizeof rec - len,
                              " include:n%d.t.test", child);
    }
    snprintf(rec + len, sizeof rec - len, " -all");
    {
      const char *s[] = {rec};
      size_t n[] = {strlen(rec)};
      mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
      assert_int_equal(mdspf_zone_add_txt(z, name, s, n, 1), MDSPF_OK);
    }
  }
  /* and 200 "a" terms in one record */
  {
    size_t len = (size_t)snprintf(rec, sizeof rec, "v=spf1");
    char big[8192];
    len = (size_t)snprintf(big, sizeof big, "v=spf1");
    for (j = 0; j < 200; j++) {
      len += (size_t)snprintf(big + len, sizeof big - len, " a:h%d.t.test", j);
    }
    snprintf(big + len, sizeof big - len, " -all");
    const char *s[] = {big};
    size_t n[] = {strlen(big)};
    assert_int_equal(mdspf_zone_add_txt(z, "wide.t.test", s, n, 1), MDSPF_OK);
  }
  r = rig_new(z);
  q0 = mdspf_zone_queries(z);
  lint_ok(r.l, "fan.t.test");
  /* nodes capped at max(64, limit + 2); the lookups over the limit */
  assert_int_equal(mdspf_lint_nnodes(r.l), 64);
  k = find(r.l, MDSPF_LINT_TOO_MANY_LOOKUPS, MDSPF_SEV_ERROR);
  assert_true(k >= 0);
  assert_non_null(strstr(mdspf_lint_diag_message(r.l, (size_t)k), "at least"));
  /* one TXT per node: nothing else to look up */
  assert_int_equal(mdspf_zone_queries(z) - q0, 64);

  q0 = mdspf_zone_queries(z);
  lint_ok(r.l, "wide.t.test");
  assert_int_equal(mdspf_lint_lookups(r.l), 200);
  /* the TXT, then A + AAAA for the first 11 targets only */
  assert_int_equal(mdspf_zone_queries(z) - q0, 1 + 22);
  assert_int_equal(mdspf_lint_void_lookups(r.l), 11);
  /* diagnostics per code are capped */
  assert_true(mdspf_lint_ndiags(r.l) <= 64 + 2);
  rig_free(&r);
  mdspf_zone_free(z);
}

/* ---- API edges ----------------------------------------------------------- */

static int g_rc_inside = -1;
static mdspf_lint *g_lint;

static void inside_cb(mdspf_check *chk, void *user) {
  (void)chk;
  (void)user;
  g_rc_inside = mdspf_lint_domain(g_lint, "good.lint.test", 100);
}

static void test_lint_api_edges(void **state) {
  mdspf_zone *z = zone_file(LINT_ZONE);
  rig r = rig_new(z);
  mdspf_check *chk = NULL;
  mdspf_lint *l = NULL;
  int code;
  size_t off, len;
  (void)state;
  assert_int_equal(mdspf_lint_new(NULL, &l), MDSPF_E_INVAL);
  assert_int_equal(mdspf_lint_new(r.ctx, NULL), MDSPF_E_INVAL);
  mdspf_lint_free(NULL);
  for (code = 1; code <= MDSPF_LINT_LOOP; code++) {
    assert_string_not_equal(mdspf_lint_code_str(code), "unknown");
  }
  assert_string_equal(mdspf_lint_code_str(MDSPF_LINT_TOO_MANY_LOOKUPS),
                      "too-many-lookups");
  assert_string_equal(mdspf_lint_code_str(MDSPF_LINT_LOOP), "loop");
  assert_string_equal(mdspf_lint_code_str(0), "unknown");
  assert_string_equal(mdspf_lint_code_str(99), "unknown");
  /* before any lint and out of range */
  assert_int_equal(mdspf_lint_worst(r.l), -1);
  assert_int_equal(mdspf_lint_nnodes(r.l), 0);
  assert_int_equal(mdspf_lint_ndiags(r.l), 0);
  assert_int_equal(mdspf_lint_worst(NULL), -1);
  assert_int_equal(mdspf_lint_lookups(NULL), 0);
  lint_ok(r.l, "plusall.lint.test");
  assert_int_equal(mdspf_lint_diag_severity(r.l, 99), -1);
  assert_int_equal(mdspf_lint_diag_code(r.l, 99), 0);
  assert_null(mdspf_lint_diag_message(r.l, 99));
  assert_int_equal(mdspf_lint_diag_span(r.l, 99, &off, &len), MDSPF_E_INVAL);
  assert_null(mdspf_lint_node_domain(r.l, 5));
  assert_null(mdspf_lint_node_record(r.l, 5));
  assert_null(mdspf_lint_node_text(r.l, 5));
  assert_int_equal(mdspf_lint_node_via(r.l, 5), -1);
  assert_int_equal(mdspf_lint_node_term(r.l, 5), -1);
  assert_int_equal(mdspf_lint_node_lookups(r.l, 5), 0);
  assert_int_equal(mdspf_lint_node_via(r.l, 0), 0);
  assert_int_equal(mdspf_lint_node_parent(r.l, 0), 0);
  /* a new lint replaces the old results */
  lint_ok(r.l, "good.lint.test");
  assert_int_equal(mdspf_lint_ndiags(r.l), 0);
  assert_int_equal(mdspf_lint_worst(r.l), -1);

  /* not from inside a callback of the same context */
  g_lint = r.l;
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_FIFO),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_new(r.ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.10"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, "x@good.lint.test"), MDSPF_OK);
  assert_int_equal(mdspf_check_start(chk, inside_cb, NULL), MDSPF_OK);
  while (mdspf_zone_pending(z) > 0) {
    (void)mdspf_zone_process(z, 1);
  }
  assert_int_equal(g_rc_inside, MDSPF_E_RECURSIVE);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
  mdspf_check_free(chk);
  /* the results of before are untouched */
  assert_int_equal(mdspf_lint_nnodes(r.l), 1);
  rig_free(&r);
  mdspf_zone_free(z);
}

/* ---- out of memory ------------------------------------------------------- */


/* A tree with every kind of lookup and diagnostic. */
static const char OOM_ZONE[] =
    "a TXT \"v=spf1 a mx include:b.t.test ptr ip4:192.0.2.1/24 "
    "ip4:192.0.2.1/24 exists:nx.t.test include:%{i}.x.t.test "
    "redirect=c.t.test exp=e.t.test\"\n"
    "a TXT \"other\"\n"
    "a A 192.0.2.1\n"
    "a MX 10 m.t.test.\n"
    "b TXT \"v=spf1 include:a.t.test include:d.t.test ?all\"\n"
    "c TXT \"v=spf1 a:m.t.test -all\"\n"
    "m A 192.0.2.2\n"
    "d TXT \"v=spf1 +all\"\n"
    "11.2.0.192.in-addr.arpa. PTR h1.t.test.\n"
    "11.2.0.192.in-addr.arpa. PTR h2.t.test.\n";

/* The client for the OOM runs, and how many PTR names it gets. */
static void oom_client(mdspf_ctx *ctx, mdspf_lint *l, int with_client) {
  if (with_client) {
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_PTR_NAMES, 1),
                     MDSPF_OK);
    assert_int_equal(mdspf_lint_set_client(l, "192.0.2.11"), MDSPF_OK);
  }
}

/* Fail allocation n = 1, 2, ... of a lint of a.t.test until it runs
 * through: NOMEM and nothing left, or exactly the full result. */
static void oom_every_allocation(int with_client) {
  mdspf_zone *z = zone_text(OOM_ZONE);
  int m;
  char *want = NULL;
  {
    rig r = rig_new(z);
    oom_client(r.ctx, r.l, with_client);
    lint_ok(r.l, "a.t.test");
    want = snapshot(r.l);
    assert_true(mdspf_lint_nnodes(r.l) >= 5);
    assert_true(mdspf_lint_ndiags(r.l) >= 6);
    assert_true((find(r.l, MDSPF_LINT_TOO_MANY_PTR, -1) >= 0) == with_client);
    rig_free(&r);
  }
  for (m = 0; m < NMODES; m++) {
    long n;
    int done = 0;
    assert_int_equal(mdspf_zone_set_delivery(z, MODES[m]), MDSPF_OK);
    for (n = 1; !done && n < 20000; n++) {
      test_alloc f;
      mdspf_ctx *ctx = NULL;
      mdspf_lint *l = NULL;
      int rc;
      memset(&f, 0, sizeof f);
      f.fail_at = n;
      rc = mdspf_ctx_new(test_alloc_fn, &f, &ctx);
      if (rc != MDSPF_OK) {
        assert_int_equal(rc, MDSPF_E_NOMEM);
        assert_int_equal(f.live, 0);
        continue;
      }
      (void)mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z));
      rc = mdspf_lint_new(ctx, &l);
      if (rc == MDSPF_OK) {
        oom_client(ctx, l, with_client);
        rc = mdspf_lint_domain(l, "a.t.test", 2000);
        if (rc == MDSPF_OK) {
          char *got = snapshot(l);
          /* no failure on the way: the full result */
          assert_true(f.calls < n);
          assert_string_equal(got, want);
          free(got);
          done = 1;
        } else {
          assert_int_equal(rc, MDSPF_E_NOMEM);
          assert_int_equal(mdspf_lint_nnodes(l), 0);
          assert_int_equal(mdspf_lint_ndiags(l), 0);
        }
        mdspf_lint_free(l);
      } else {
        assert_int_equal(rc, MDSPF_E_NOMEM);
      }
      mdspf_ctx_free(ctx);
      assert_int_equal(mdspf_zone_pending(z), 0);
      if (f.live != 0) {
        print_error("mode %d: failing allocation %ld leaks %ld bytes\n", m, n,
                    f.live);
      }
      assert_int_equal(f.live, 0);
    }
    assert_true(done);
  }
  free(want);
  mdspf_zone_free(z);
}

static void test_lint_oom_every_allocation(void **state) {
  (void)state;
  oom_every_allocation(0);
  oom_every_allocation(1); /* with the client's PTR lookup */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lint_every_code),
      cmocka_unit_test(test_lint_messages),
      cmocka_unit_test(test_lint_tree_counts),
      cmocka_unit_test(test_lint_delivery_modes),
      cmocka_unit_test(test_lint_record_mode),
      cmocka_unit_test(test_describe_every_kind),
      cmocka_unit_test(test_lint_dns_errors),
      cmocka_unit_test(test_lint_timeout),
      cmocka_unit_test(test_lint_resolver_limits),
      cmocka_unit_test(test_lint_ptr_names),
      cmocka_unit_test(test_lint_bounds),
      cmocka_unit_test(test_lint_api_edges),
      cmocka_unit_test(test_lint_oom_every_allocation),
  };
  return cmocka_run_group_tests_name("lint", tests, NULL, NULL);
}

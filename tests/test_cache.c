/*
 * tests/test_cache.c -- the cache resolver (lib/resolvers/cache.c): every
 * rule of the header, with an injected clock.  Most tests talk to the
 * cache through its vtable with query objects of their own, over a
 * scripted backend ("fake") that holds each query until the test answers
 * it with chosen records, status and TTL; the others run whole checks
 * over zones, also out of memory at every allocation.
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

#include "core/dnsq.h"
#include "test_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the clock ---------------------------------------------------------- */

static int64_t test_now(void *ud) { return *(int64_t *)ud; }

/* ---- the scripted backend ------------------------------------------------ */

#define FAKE_MAX 300

typedef struct fake_q {
  mdspf_dns_query *q; /* NULL once answered or cancelled */
  char name[MDSPF__MAX_NAME + 1];
  int type;
} fake_q;

typedef struct fake {
  mdspf_resolver res;
  fake_q qs[FAKE_MAX];
  int n;         /* queries received */
  int cancels;   /* cancel() calls */
  int refs;      /* references held (V2) */
  int refuse;    /* query() returns non-zero */
  int waits;     /* wait() calls */
  /* answer inline, inside query(), with this (status < 0: hold) */
  int inline_status;
  long long inline_ttl;
} fake;

static int fake_query(void *impl, mdspf_dns_query *q, const char *name,
                      int type, void **token) {
  fake *f = impl;
  fake_q *e;
  *token = NULL;
  if (f->refuse) {
    return 1;
  }
  assert_true(f->n < FAKE_MAX);
  e = &f->qs[f->n++];
  e->q = q;
  snprintf(e->name, sizeof e->name, "%s", name);
  e->type = type;
  if (f->inline_status >= 0) {
    static const uint8_t a[4] = {192, 0, 2, 1};
    e->q = NULL;
    if (f->inline_status == MDSPF_DNS_OK) {
      mdspf_dns_add_addr(q, 4, a);
    }
    if (f->inline_ttl >= 0) {
      mdspf_dns_set_ttl(q, (uint32_t)f->inline_ttl);
    }
    mdspf_dns_done(q, f->inline_status, 0);
    return 0;
  }
  *token = e;
  return 0;
}

static void fake_cancel(void *impl, void *token) {
  fake *f = impl;
  fake_q *e = token;
  f->cancels++;
  assert_non_null(e);
  assert_non_null(e->q); /* never for a query that completed */
  e->q = NULL;
}

static int fake_wait(void *impl, int timeout_ms) {
  fake *f = impl;
  (void)timeout_ms;
  f->waits++;
  return 0;
}

static void fake_ref(void *impl) { ((fake *)impl)->refs++; }
static void fake_unref(void *impl) { ((fake *)impl)->refs--; }

static void fake_init(fake *f, unsigned version) {
  memset(f, 0, sizeof *f);
  f->res.version = version;
  f->res.impl = f;
  f->res.query = fake_query;
  f->res.cancel = fake_cancel;
  f->res.wait = fake_wait;
  if (version == MDSPF_RESOLVER_V2) {
    f->res.ref = fake_ref;
    f->res.unref = fake_unref;
  }
  f->inline_status = -1;
}

/* Answer the i-th query the fake received: status, ttl (-1: none) and
 * the records of a spec like "A 192.0.2.1|A 192.0.2.2" written by the
 * tests below (a TXT spec is the text after "TXT "). */
static void fake_answer(fake *f, int i, int status, long long ttl,
                        const char *const *recs, size_t nrec) {
  mdspf_dns_query *q;
  size_t k;
  assert_true(i < f->n);
  q = f->qs[i].q;
  assert_non_null(q);
  f->qs[i].q = NULL;
  for (k = 0; k < nrec; k++) {
    const char *r = recs[k];
    if (strncmp(r, "A ", 2) == 0) {
      uint8_t a[4];
      unsigned x[4];
      assert_int_equal(sscanf(r + 2, "%u.%u.%u.%u", &x[0], &x[1], &x[2],
                              &x[3]),
                       4);
      a[0] = (uint8_t)x[0];
      a[1] = (uint8_t)x[1];
      a[2] = (uint8_t)x[2];
      a[3] = (uint8_t)x[3];
      mdspf_dns_add_addr(q, 4, a);
    } else if (strncmp(r, "MX ", 3) == 0) {
      mdspf_dns_add_name(q, r + 3, 10);
    } else if (strncmp(r, "TXT ", 4) == 0) {
      mdspf_dns_add_txt(q, r + 4, strlen(r + 4));
    } else {
      fail_msg("bad record spec %s", r);
    }
  }
  if (ttl >= 0) {
    mdspf_dns_set_ttl(q, (uint32_t)ttl);
  }
  mdspf_dns_done(q, status, status == MDSPF_DNS_NXDOMAIN ? 3 : 0);
}

static void fake_answer_a(fake *f, int i, long long ttl) {
  static const char *const a[] = {"A 192.0.2.1"};
  fake_answer(f, i, MDSPF_DNS_OK, ttl, a, 1);
}

/* Answer every query the fake still holds. */
static void fake_answer_all(fake *f, long long ttl) {
  int i;
  for (i = 0; i < f->n; i++) {
    if (f->qs[i].q) {
      fake_answer_a(f, i, ttl);
    }
  }
}

/* ---- asking through the cache ------------------------------------------- */

typedef struct asked asked;
typedef void (*asked_hook)(asked *a);

/* One query of the test to the cache, and what came back. */
struct asked {
  mdspf_dns_query *q;
  void *token;
  int rc;
  int calls;
  int status, rcode;
  int has_ttl;
  uint32_t ttl;
  char text[1200]; /* the records, formatted */
  /* run inside the completion (tests of callbacks) */
  asked_hook hook;
  void *hook_ud;
};

static mdspf__allocator g_libc;

static void format_records(const mdspf_dns_query *q, char *out, size_t n) {
  size_t pos = 0, o = 0;
  mdspf__rr rr;
  out[0] = '\0';
  while (mdspf__dnsq_next(q, &pos, &rr) && o + 300 < n) {
    if (o) {
      out[o++] = '|';
    }
    if (rr.kind == MDSPF__RK_ADDR && rr.family == 4) {
      o += (size_t)snprintf(out + o, n - o, "A %u.%u.%u.%u", rr.data[0],
                            rr.data[1], rr.data[2], rr.data[3]);
    } else if (rr.kind == MDSPF__RK_NAME) {
      o += (size_t)snprintf(out + o, n - o, "MX %.*s", (int)rr.len,
                            (const char *)rr.data);
    } else if (rr.kind == MDSPF__RK_TXT) {
      size_t i;
      o += (size_t)snprintf(out + o, n - o, "TXT ");
      for (i = 0; i < rr.len && o + 5 < n; i++) {
        unsigned char ch = rr.data[i];
        if (ch >= 0x20 && ch < 0x7f) {
          out[o++] = (char)ch;
        } else {
          o += (size_t)snprintf(out + o, n - o, "\\%03u", ch);
        }
      }
      out[o] = '\0';
    }
  }
}

static void on_asked(mdspf_dns_query *q, void *ud) {
  asked *a = ud;
  a->calls++;
  a->status = q->status;
  a->rcode = q->rcode;
  a->has_ttl = q->has_ttl;
  a->ttl = q->ttl;
  format_records(q, a->text, sizeof a->text);
  if (a->hook) {
    a->hook(a);
  }
}

/* Send a query for (name, type) to resolver r; the answer lands in *a
 * (maybe before this returns). */
static void ask_r(const mdspf_resolver *r, asked *a, const char *name,
                  int type) {
  memset(a, 0, sizeof *a); /* a hook is set after this, if at all */
  a->q = mdspf__dnsq_new(&g_libc, name, strlen(name), type, on_asked, a);
  assert_non_null(a->q);
  a->q->state = MDSPF__Q_PENDING;
  a->rc = r->query(r->impl, a->q, a->q->name, type, &a->token);
}

static void ask(mdspf_cache *c, asked *a, const char *name, int type) {
  ask_r(mdspf_cache_resolver(c), a, name, type);
}

static void cancel(mdspf_cache *c, asked *a) {
  const mdspf_resolver *r = mdspf_cache_resolver(c);
  r->cancel(r->impl, a->token);
}

static void done_with(asked *a) {
  mdspf__dnsq_free(a->q);
  a->q = NULL;
}

static mdspf_cache_counters stats_of(const mdspf_cache *c) {
  mdspf_cache_counters s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  assert_int_equal(mdspf_cache_stats(c, &s), MDSPF_OK);
  return s;
}

/* hits, misses, coalesced, expired, evicted, stored, entries, inflight */
#define STATS(c, h, m, co, ex, ev, st, en, inf)                               \
  do {                                                                        \
    mdspf_cache_counters s_ = stats_of(c);                                    \
    assert_int_equal(s_.hits, (h));                                           \
    assert_int_equal(s_.misses, (m));                                         \
    assert_int_equal(s_.coalesced, (co));                                     \
    assert_int_equal(s_.expired, (ex));                                       \
    assert_int_equal(s_.evicted, (ev));                                       \
    assert_int_equal(s_.stored, (st));                                        \
    assert_int_equal(s_.entries, (en));                                       \
    assert_int_equal(s_.inflight, (inf));                                     \
  } while (0)

typedef struct world {
  fake f;
  int64_t now;
  test_alloc ta;
  mdspf_cache_options o;
  mdspf_cache *c;
} world;

static void world_new(world *w, const mdspf_cache_options *opt) {
  memset(&w->ta, 0, sizeof w->ta);
  fake_init(&w->f, MDSPF_RESOLVER_V2);
  w->now = 1000000; /* any origin */
  if (opt) {
    w->o = *opt;
  } else {
    mdspf_cache_options_init(&w->o);
  }
  w->o.alloc = test_alloc_fn;
  w->o.alloc_ud = &w->ta;
  w->o.now = test_now;
  w->o.now_ud = &w->now;
  assert_int_equal(mdspf_cache_new(&w->f.res, &w->o, &w->c), MDSPF_OK);
  assert_int_equal(w->f.refs, 1);
}

static void world_free(world *w) {
  mdspf_cache_free(w->c);
  w->c = NULL;
  assert_int_equal(w->f.refs, 0);
  assert_int_equal(w->ta.live, 0);
}

/* Ask (name, A), have the fake answer it with ttl; asserts a miss. */
static void fill(world *w, const char *name, long long ttl) {
  asked a;
  int n = w->f.n;
  memset(&a, 0, sizeof a);
  ask(w->c, &a, name, MDSPF_RR_A);
  assert_int_equal(a.rc, 0);
  assert_int_equal(w->f.n, n + 1);
  fake_answer_a(&w->f, n, ttl);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, MDSPF_DNS_OK);
  done_with(&a);
}

/* Ask (name, A): 1 if it was answered from the cache (inline, no
 * upstream query), 0 if it went upstream (then answered with ttl). */
static int probe(world *w, const char *name, long long ttl) {
  asked a;
  int n = w->f.n, hit;
  memset(&a, 0, sizeof a);
  ask(w->c, &a, name, MDSPF_RR_A);
  assert_int_equal(a.rc, 0);
  hit = w->f.n == n;
  if (hit) {
    assert_int_equal(a.calls, 1);
    assert_null(a.token);
  } else {
    assert_int_equal(a.calls, 0);
    fake_answer_a(&w->f, n, ttl);
    assert_int_equal(a.calls, 1);
  }
  assert_int_equal(a.status, MDSPF_DNS_OK);
  assert_string_equal(a.text, "A 192.0.2.1");
  done_with(&a);
  return hit;
}

static int setup(void **state) {
  (void)state;
  mdspf__allocator_init(&g_libc, NULL, NULL);
  return 0;
}

/* ---- options ------------------------------------------------------------ */

static void test_cache_options(void **state) {
  fake f;
  mdspf_cache_options o;
  mdspf_cache *c = (mdspf_cache *)&o;
  mdspf_cache_counters s;
  mdspf_resolver bad;
  (void)state;
  fake_init(&f, MDSPF_RESOLVER_V2);
  mdspf_cache_options_init(&o);
  assert_int_equal(o.struct_size, sizeof o);
  assert_int_equal(o.max_entries, 10000);
  assert_int_equal(o.max_bytes, 8u * 1024u * 1024u);
  assert_int_equal(o.max_ttl, 3600);
  assert_int_equal(o.max_neg_ttl, 3600);
  assert_int_equal(o.nosoa_ttl, 0);
  assert_int_equal(o.fail_ttl, 0);
  assert_null(o.now);
  assert_int_equal(mdspf_cache_new(&f.res, &o, NULL), MDSPF_E_INVAL);
  assert_int_equal(mdspf_cache_new(NULL, &o, &c), MDSPF_E_INVAL);
  assert_null(c);
  bad = f.res;
  bad.cancel = NULL;
  assert_int_equal(mdspf_cache_new(&bad, &o, &c), MDSPF_E_INVAL);
  bad = f.res;
  bad.version = 99;
  assert_int_equal(mdspf_cache_new(&bad, &o, &c), MDSPF_E_INVAL);
  o.max_entries = 0;
  assert_int_equal(mdspf_cache_new(&f.res, &o, &c), MDSPF_E_INVAL);
  mdspf_cache_options_init(&o);
  o.max_bytes = 4095;
  assert_int_equal(mdspf_cache_new(&f.res, &o, &c), MDSPF_E_INVAL);
  mdspf_cache_options_init(&o);
  o.fail_ttl = MDSPF_CACHE_MAX_FAIL_TTL + 1;
  assert_int_equal(mdspf_cache_new(&f.res, &o, &c), MDSPF_E_INVAL);
  mdspf_cache_options_init(&o);
  o.struct_size = offsetof(mdspf_cache_options, now_ud);
  assert_int_equal(mdspf_cache_new(&f.res, &o, &c), MDSPF_E_INVAL);
  assert_int_equal(f.refs, 0);
  /* NULL options: the defaults; a V1 backend has no references */
  assert_int_equal(mdspf_cache_new(&f.res, NULL, &c), MDSPF_OK);
  assert_int_equal(f.refs, 1);
  assert_non_null(mdspf_cache_resolver(c));
  assert_int_equal(mdspf_cache_resolver(c)->version, MDSPF_RESOLVER_V2);
  assert_non_null(mdspf_cache_resolver(c)->wait);
  assert_null(mdspf_cache_resolver(NULL));
  /* set_options checks the same way and changes nothing on error */
  assert_int_equal(mdspf_cache_set_options(c, NULL), MDSPF_E_INVAL);
  o.struct_size = sizeof o;
  o.max_entries = 0;
  assert_int_equal(mdspf_cache_set_options(c, &o), MDSPF_E_INVAL);
  memset(&s, 0, sizeof s);
  s.struct_size = offsetof(mdspf_cache_counters, inflight);
  assert_int_equal(mdspf_cache_stats(c, &s), MDSPF_E_INVAL);
  assert_int_equal(mdspf_cache_stats(NULL, &s), MDSPF_E_INVAL);
  /* a caller's bigger struct: what the library knows is filled */
  {
    struct {
      mdspf_cache_counters k;
      uint64_t later;
    } big;
    memset(&big, 0xab, sizeof big);
    big.k.struct_size = sizeof big;
    assert_int_equal(mdspf_cache_stats(c, &big.k), MDSPF_OK);
    assert_int_equal(big.k.hits, 0);
    assert_int_equal(big.k.inflight, 0);
    assert_int_equal(big.k.struct_size, sizeof big);
  }
  mdspf_cache_free(c);
  assert_int_equal(f.refs, 0);
  mdspf_cache_free(NULL);
  mdspf_cache_flush(NULL);
  /* without wait() below, the cache has none */
  f.res.wait = NULL;
  fake_init(&f, MDSPF_RESOLVER_V1);
  f.res.wait = NULL;
  assert_int_equal(mdspf_cache_new(&f.res, NULL, &c), MDSPF_OK);
  assert_null(mdspf_cache_resolver(c)->wait);
  mdspf_cache_free(c);
}

/* ---- TTLs ----------------------------------------------------------------- */

/* A positive answer lives exactly its TTL; a hit passes on what is left. */
static void test_cache_positive_ttl(void **state) {
  world w;
  asked a;
  (void)state;
  world_new(&w, NULL);
  fill(&w, "example.com", 300);
  STATS(w.c, 0, 1, 0, 0, 0, 1, 1, 0);
  w.now += 1500;
  ask(w.c, &a, "example.com", MDSPF_RR_A);
  assert_int_equal(a.calls, 1);
  assert_true(a.has_ttl);
  assert_int_equal(a.ttl, 298); /* 298.5 s left, rounded down */
  done_with(&a);
  w.now += 300000 - 1500 - 1;
  assert_true(probe(&w, "example.com", 300)); /* 1 ms before the end */
  w.now += 1;
  assert_false(probe(&w, "example.com", 300)); /* expired, asked again */
  STATS(w.c, 2, 2, 0, 1, 0, 2, 1, 0);
  assert_int_equal(w.f.n, 2);
  world_free(&w);
}

/* TTLs over max_ttl are capped; 0, unknown and TTLs with the top bit set
 * (RFC 2181: 0) are not kept. */
static void test_cache_positive_cap(void **state) {
  world w;
  mdspf_cache_options o;
  (void)state;
  world_new(&w, NULL);
  fill(&w, "day.example", 86400);
  w.now += 3600 * 1000 - 1;
  assert_true(probe(&w, "day.example", 0));
  w.now += 1;
  assert_false(probe(&w, "day.example", 0)); /* default cap: one hour */
  fill(&w, "zero.example", 0);
  assert_false(probe(&w, "zero.example", -1));
  assert_false(probe(&w, "zero.example", 0x80000000LL));
  assert_false(probe(&w, "zero.example", 0xffffffffLL));
  fill(&w, "max.example", 0x7fffffffLL);
  STATS(w.c, 1, 7, 0, 1, 0, 2, 1, 0);
  w.now += 3600 * 1000 - 1;
  assert_true(probe(&w, "max.example", 0));
  world_free(&w);
  /* a smaller cap */
  mdspf_cache_options_init(&o);
  o.max_ttl = 60;
  world_new(&w, &o);
  fill(&w, "example.com", 300);
  w.now += 59999;
  assert_true(probe(&w, "example.com", 0));
  w.now += 1;
  assert_false(probe(&w, "example.com", 0));
  /* max_ttl 0: nothing positive is kept */
  o.max_ttl = 0;
  assert_int_equal(mdspf_cache_set_options(w.c, &o), MDSPF_OK);
  fill(&w, "other.example", 300);
  assert_false(probe(&w, "other.example", 300));
  world_free(&w);
}

/* NXDOMAIN and NODATA: RFC 2308 TTL, capped by max_neg_ttl; without a
 * SOA (no TTL) not kept unless nosoa_ttl says so. */
static void test_cache_negative(void **state) {
  world w;
  asked a, b;
  mdspf_cache_options o;
  (void)state;
  mdspf_cache_options_init(&o);
  o.max_neg_ttl = 600;
  world_new(&w, &o);
  ask(w.c, &a, "gone.example", MDSPF_RR_TXT);
  fake_answer(&w.f, 0, MDSPF_DNS_NXDOMAIN, 120, NULL, 0);
  assert_int_equal(a.status, MDSPF_DNS_NXDOMAIN);
  assert_int_equal(a.rcode, 3);
  done_with(&a);
  w.now += 119999;
  ask(w.c, &a, "GONE.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 1); /* from the cache */
  assert_int_equal(a.status, MDSPF_DNS_NXDOMAIN);
  assert_int_equal(a.rcode, 3);
  assert_string_equal(a.text, "");
  done_with(&a);
  /* the key is (name, type): another type is asked */
  ask(w.c, &b, "gone.example", MDSPF_RR_A);
  assert_int_equal(b.calls, 0);
  fake_answer(&w.f, 1, MDSPF_DNS_NODATA, 86400, NULL, 0); /* cap 600 */
  assert_int_equal(b.status, MDSPF_DNS_NODATA);
  done_with(&b);
  w.now += 1;
  ask(w.c, &a, "gone.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0); /* expired */
  fake_answer(&w.f, 2, MDSPF_DNS_NXDOMAIN, -1, NULL, 0); /* no SOA */
  done_with(&a);
  ask(w.c, &a, "gone.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0); /* not kept */
  fake_answer(&w.f, 3, MDSPF_DNS_NXDOMAIN, 0, NULL, 0); /* TTL 0 */
  done_with(&a);
  w.now += 600 * 1000 - 2;
  ask(w.c, &b, "gone.example", MDSPF_RR_A);
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.status, MDSPF_DNS_NODATA);
  done_with(&b);
  STATS(w.c, 2, 4, 0, 1, 0, 2, 1, 0);
  /* nosoa_ttl: a short floor for negative answers without SOA */
  o.nosoa_ttl = 5;
  assert_int_equal(mdspf_cache_set_options(w.c, &o), MDSPF_OK);
  ask(w.c, &a, "nosoa.example", MDSPF_RR_A);
  fake_answer(&w.f, 4, MDSPF_DNS_NODATA, -1, NULL, 0);
  done_with(&a);
  w.now += 4999;
  ask(w.c, &a, "nosoa.example", MDSPF_RR_A);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, MDSPF_DNS_NODATA);
  done_with(&a);
  w.now += 1;
  ask(w.c, &a, "nosoa.example", MDSPF_RR_A);
  assert_int_equal(a.calls, 0);
  fake_answer(&w.f, 5, MDSPF_DNS_NODATA, -1, NULL, 0);
  done_with(&a);
  /* ... and max_neg_ttl caps it too */
  o.nosoa_ttl = 100000;
  o.max_neg_ttl = 2;
  assert_int_equal(mdspf_cache_set_options(w.c, &o), MDSPF_OK);
  ask(w.c, &a, "nosoa2.example", MDSPF_RR_A);
  fake_answer(&w.f, 6, MDSPF_DNS_NXDOMAIN, -1, NULL, 0);
  done_with(&a);
  w.now += 1999;
  ask(w.c, &a, "nosoa2.example", MDSPF_RR_A);
  assert_int_equal(a.calls, 1);
  done_with(&a);
  w.now += 1;
  ask(w.c, &a, "nosoa2.example", MDSPF_RR_A);
  assert_int_equal(a.calls, 0);
  fake_answer(&w.f, 7, MDSPF_DNS_NXDOMAIN, 1, NULL, 0);
  done_with(&a);
  world_free(&w);
}

/* TEMPFAIL is not kept by default; with fail_ttl it is, for that long,
 * with its rcode.  ERROR never, whatever TTL it claims. */
static void test_cache_failures(void **state) {
  world w;
  asked a;
  mdspf_cache_options o;
  (void)state;
  world_new(&w, NULL);
  ask(w.c, &a, "servfail.example", MDSPF_RR_TXT);
  fake_answer(&w.f, 0, MDSPF_DNS_TEMPFAIL, 3600, NULL, 0);
  assert_int_equal(a.status, MDSPF_DNS_TEMPFAIL);
  done_with(&a);
  ask(w.c, &a, "servfail.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0); /* asked again at once */
  fake_answer(&w.f, 1, MDSPF_DNS_ERROR, 3600, NULL, 0);
  assert_int_equal(a.status, MDSPF_DNS_ERROR);
  done_with(&a);
  ask(w.c, &a, "servfail.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0);
  fake_answer(&w.f, 2, MDSPF_DNS_TEMPFAIL, -1, NULL, 0);
  done_with(&a);
  STATS(w.c, 0, 3, 0, 0, 0, 0, 0, 0);
  /* on, and bounded */
  mdspf_cache_options_init(&o);
  o.fail_ttl = 3;
  assert_int_equal(mdspf_cache_set_options(w.c, &o), MDSPF_OK);
  ask(w.c, &a, "servfail.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0);
  {
    mdspf_dns_query *q = w.f.qs[3].q;
    w.f.qs[3].q = NULL;
    mdspf_dns_set_ttl(q, 86400); /* a claimed TTL does not matter */
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, 2);
  }
  done_with(&a);
  w.now += 2999;
  ask(w.c, &a, "servfail.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, MDSPF_DNS_TEMPFAIL);
  assert_int_equal(a.rcode, 2);
  done_with(&a);
  w.now += 1;
  ask(w.c, &a, "servfail.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0);
  fake_answer_a(&w.f, 4, 60); /* recovered (the fake does not check) */
  done_with(&a);
  STATS(w.c, 1, 5, 0, 1, 0, 2, 1, 0);
  world_free(&w);
}

/* Oversized answers (more records than the caps) are an ERROR for every
 * waiter, as without the cache, and never kept; entries over a quarter
 * of max_bytes are passed on but not kept. */
static void test_cache_oversized(void **state) {
  world w;
  asked a, b;
  mdspf_cache_options o;
  static char big[3000];
  const char *rec[1];
  mdspf_dns_query *q;
  int i;
  (void)state;
  world_new(&w, NULL);
  ask(w.c, &a, "huge.example", MDSPF_RR_A);
  ask(w.c, &b, "huge.example", MDSPF_RR_A);
  q = w.f.qs[0].q;
  w.f.qs[0].q = NULL;
  for (i = 0; i <= MDSPF_MAX_ANSWER_RRS; i++) {
    uint8_t addr[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                       (uint8_t)i};
    mdspf_dns_add_addr(q, 4, addr);
  }
  mdspf_dns_set_ttl(q, 3600);
  mdspf_dns_done(q, MDSPF_DNS_OK, 0);
  assert_int_equal(a.status, MDSPF_DNS_ERROR);
  assert_true(a.q->too_big);
  assert_int_equal(b.status, MDSPF_DNS_ERROR);
  assert_true(b.q->too_big);
  done_with(&a);
  done_with(&b);
  STATS(w.c, 0, 1, 1, 0, 0, 0, 0, 0);
  world_free(&w);

  mdspf_cache_options_init(&o);
  o.max_bytes = 8192; /* an entry may take 2048 */
  world_new(&w, &o);
  memset(big, 'x', sizeof big - 1);
  memcpy(big, "TXT ", 4);
  rec[0] = big;
  ask(w.c, &a, "big.example", MDSPF_RR_TXT);
  fake_answer(&w.f, 0, MDSPF_DNS_OK, 3600, rec, 1);
  assert_int_equal(a.status, MDSPF_DNS_OK);
  assert_int_equal(a.q->nrr, 1);
  assert_int_equal(a.q->len, 5 + sizeof big - 5); /* header + text */
  done_with(&a);
  big[1500] = '\0';
  ask(w.c, &a, "small.example", MDSPF_RR_TXT);
  fake_answer(&w.f, 1, MDSPF_DNS_OK, 3600, rec, 1);
  done_with(&a);
  STATS(w.c, 0, 2, 0, 0, 0, 1, 1, 0);
  assert_true(stats_of(w.c).bytes > 1500 && stats_of(w.c).bytes <= 2048);
  world_free(&w);
}

/* ---- names and copies -------------------------------------------------------- */

/* Keys fold ASCII case only; answers are byte-exact copies, each waiter
 * its own. */
static void test_cache_case_and_copies(void **state) {
  world w;
  asked a, b, c2;
  static const char *const mx[] = {"MX Mail.Example.COM",
                                   "MX mx2.EXAMPLE.com"};
  static const char *const txt[] = {"TXT v=spf1 \xc3\x89 -ALL"};
  (void)state;
  world_new(&w, NULL);
  ask(w.c, &a, "Example.COM", MDSPF_RR_MX);
  ask(w.c, &b, "example.com.", MDSPF_RR_MX);
  assert_int_equal(w.f.n, 1);
  assert_string_equal(w.f.qs[0].name, "Example.COM"); /* asked as given */
  fake_answer(&w.f, 0, MDSPF_DNS_OK, 60, mx, 2);
  assert_string_equal(a.text, "MX Mail.Example.COM|MX mx2.EXAMPLE.com");
  assert_string_equal(b.text, a.text);
  assert_ptr_not_equal(a.q->data, b.q->data);
  ask(w.c, &c2, "EXAMPLE.com", MDSPF_RR_MX);
  assert_int_equal(c2.calls, 1);
  assert_string_equal(c2.text, a.text);
  assert_ptr_not_equal(c2.q->data, a.q->data);
  assert_int_equal(memcmp(c2.q->data, a.q->data, a.q->len), 0);
  assert_int_equal(c2.q->len, a.q->len);
  done_with(&a);
  done_with(&b);
  done_with(&c2);
  /* only ASCII folds: these are different names */
  ask(w.c, &a, "\xc3\x89xample.com", MDSPF_RR_TXT);
  fake_answer(&w.f, 1, MDSPF_DNS_OK, 60, txt, 1);
  done_with(&a);
  ask(w.c, &a, "\xc3\xa9xample.com", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0);
  assert_int_equal(w.f.n, 3);
  fake_answer(&w.f, 2, MDSPF_DNS_NXDOMAIN, 60, NULL, 0);
  done_with(&a);
  ask(w.c, &a, "\xc3\x89XAMPLE.COM", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 1);
  assert_string_equal(a.text, "TXT v=spf1 \\195\\137 -ALL");
  done_with(&a);
  STATS(w.c, 2, 3, 1, 0, 0, 3, 3, 0);
  world_free(&w);
}

/* ---- memory bounds ------------------------------------------------------------ */

/* At most max_entries answers; the least recently used goes first, an
 * expired one counted as expired. */
static void test_cache_lru_entries(void **state) {
  world w;
  mdspf_cache_options o;
  (void)state;
  mdspf_cache_options_init(&o);
  o.max_entries = 3;
  world_new(&w, &o);
  fill(&w, "a.example", 600);
  fill(&w, "b.example", 600);
  fill(&w, "c.example", 600);
  assert_true(probe(&w, "a.example", 0)); /* a is now the most recent */
  fill(&w, "d.example", 600);            /* b goes */
  STATS(w.c, 1, 4, 0, 0, 1, 4, 3, 0);
  assert_true(probe(&w, "a.example", 0));
  assert_true(probe(&w, "c.example", 0));
  assert_true(probe(&w, "d.example", 0));
  assert_false(probe(&w, "b.example", 600)); /* a goes (LRU) */
  STATS(w.c, 4, 5, 0, 0, 2, 5, 3, 0);
  /* an expired LRU entry pushed out counts as expired */
  fill(&w, "short.example", 1);
  STATS(w.c, 4, 6, 0, 0, 3, 6, 3, 0); /* c went */
  assert_true(probe(&w, "d.example", 0));
  assert_true(probe(&w, "b.example", 0));
  w.now += 1000; /* short expired, and is the LRU */
  fill(&w, "e.example", 600);
  STATS(w.c, 6, 7, 0, 1, 3, 7, 3, 0);
  /* smaller bounds apply at once */
  o.max_entries = 1;
  assert_int_equal(mdspf_cache_set_options(w.c, &o), MDSPF_OK);
  STATS(w.c, 6, 7, 0, 1, 5, 7, 1, 0);
  assert_true(probe(&w, "e.example", 0));
  mdspf_cache_flush(w.c);
  STATS(w.c, 7, 7, 0, 1, 5, 7, 0, 0);
  assert_int_equal(stats_of(w.c).bytes, 0);
  world_free(&w);
}

/* At most max_bytes; LRU again. */
static void test_cache_lru_bytes(void **state) {
  world w;
  mdspf_cache_options o;
  static char t[800];
  const char *rec[1];
  asked a;
  uint64_t one;
  int i, fit;
  (void)state;
  mdspf_cache_options_init(&o);
  o.max_bytes = 4096;
  world_new(&w, &o);
  memset(t, 'y', sizeof t - 1);
  memcpy(t, "TXT ", 4);
  rec[0] = t;
  ask(w.c, &a, "n0.example", MDSPF_RR_TXT);
  fake_answer(&w.f, 0, MDSPF_DNS_OK, 600, rec, 1);
  done_with(&a);
  one = stats_of(w.c).bytes;
  assert_true(one > 800 && one <= 1024);
  fit = (int)(4096 / one);
  for (i = 1; i < fit; i++) {
    char name[32];
    snprintf(name, sizeof name, "n%d.example", i);
    ask(w.c, &a, name, MDSPF_RR_TXT);
    fake_answer(&w.f, i, MDSPF_DNS_OK, 600, rec, 1);
    done_with(&a);
  }
  STATS(w.c, 0, (uint64_t)fit, 0, 0, 0, (uint64_t)fit, (uint64_t)fit, 0);
  assert_int_equal(stats_of(w.c).bytes, one * (uint64_t)fit);
  /* n0 used again: n1 is the least recently used */
  ask(w.c, &a, "n0.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 1);
  done_with(&a);
  ask(w.c, &a, "more.example", MDSPF_RR_TXT);
  fake_answer(&w.f, fit, MDSPF_DNS_OK, 600, rec, 1);
  done_with(&a);
  STATS(w.c, 1, (uint64_t)fit + 1, 0, 0, 1, (uint64_t)fit + 1,
        (uint64_t)fit, 0);
  assert_true(stats_of(w.c).bytes <= 4096);
  ask(w.c, &a, "n1.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 0); /* it was n1 that went */
  fake_answer(&w.f, fit + 1, MDSPF_DNS_NXDOMAIN, 600, NULL, 0);
  done_with(&a);
  ask(w.c, &a, "n0.example", MDSPF_RR_TXT);
  assert_int_equal(a.calls, 1);
  done_with(&a);
  world_free(&w);
}

/* ---- coalescing ----------------------------------------------------------------- */

/* N identical queries in flight: one upstream query, N copies. */
static void test_cache_coalesce(void **state) {
  world w;
  asked a[5];
  int i;
  (void)state;
  world_new(&w, NULL);
  for (i = 0; i < 5; i++) {
    ask(w.c, &a[i], i % 2 ? "CO.example" : "co.example", MDSPF_RR_A);
    assert_int_equal(a[i].rc, 0);
    assert_non_null(a[i].token);
    assert_int_equal(a[i].calls, 0);
  }
  assert_int_equal(w.f.n, 1);
  STATS(w.c, 0, 1, 4, 0, 0, 0, 0, 1);
  /* cancel one: nothing else is cancelled */
  cancel(w.c, &a[2]);
  assert_int_equal(w.f.cancels, 0);
  STATS(w.c, 0, 1, 4, 0, 0, 0, 0, 1);
  fake_answer_a(&w.f, 0, 60);
  for (i = 0; i < 5; i++) {
    assert_int_equal(a[i].calls, i == 2 ? 0 : 1);
    if (i != 2) {
      assert_int_equal(a[i].status, MDSPF_DNS_OK);
      assert_string_equal(a[i].text, "A 192.0.2.1");
      assert_true(a[i].has_ttl);
      assert_int_equal(a[i].ttl, 60);
    }
    done_with(&a[i]);
  }
  STATS(w.c, 0, 1, 4, 0, 0, 1, 1, 0);
  /* a different type is a different query */
  ask(w.c, &a[0], "co.example", MDSPF_RR_TXT);
  ask(w.c, &a[1], "co.example", MDSPF_RR_MX);
  assert_int_equal(w.f.n, 3);
  /* cancelling every waiter leaves the upstream query running, so that
   * its answer is kept (a lookup made ahead and given up at the verdict
   * is not sent again by the next check) */
  cancel(w.c, &a[0]);
  cancel(w.c, &a[1]);
  assert_int_equal(w.f.cancels, 0);
  assert_non_null(w.f.qs[1].q);
  assert_non_null(w.f.qs[2].q);
  STATS(w.c, 0, 3, 4, 0, 0, 1, 1, 2);
  assert_int_equal(a[0].calls, 0);
  assert_int_equal(a[1].calls, 0);
  done_with(&a[0]);
  done_with(&a[1]);
  /* a new query of the key joins the flight nobody waited for */
  ask(w.c, &a[0], "co.example", MDSPF_RR_TXT);
  assert_int_equal(w.f.n, 3);
  STATS(w.c, 0, 3, 5, 0, 0, 1, 1, 2);
  fake_answer(&w.f, 1, MDSPF_DNS_NODATA, 30, NULL, 0);
  assert_int_equal(a[0].calls, 1);
  assert_int_equal(a[0].status, MDSPF_DNS_NODATA);
  done_with(&a[0]);
  /* the other arrives for nobody and is kept */
  fake_answer(&w.f, 2, MDSPF_DNS_NXDOMAIN, 30, NULL, 0);
  STATS(w.c, 0, 3, 5, 0, 0, 3, 3, 0);
  ask(w.c, &a[1], "co.example", MDSPF_RR_MX);
  assert_int_equal(a[1].calls, 1);
  assert_int_equal(a[1].status, MDSPF_DNS_NXDOMAIN);
  assert_int_equal(w.f.n, 3);
  done_with(&a[1]);
  world_free(&w);
}

/* Upstream queries nobody waits for are bounded: past 256 of them the
 * last waiter's cancel cancels upstream too, and the cache's free
 * cancels those still out. */
static void test_cache_orphans_bounded(void **state) {
  enum { N = 260, BOUND = 256 };
  static asked a[N];
  world w;
  char name[64];
  int i;
  (void)state;
  world_new(&w, NULL);
  for (i = 0; i < N; i++) {
    snprintf(name, sizeof name, "o%d.example", i);
    ask(w.c, &a[i], name, MDSPF_RR_TXT);
    assert_int_equal(a[i].rc, 0);
  }
  assert_int_equal(w.f.n, N);
  for (i = 0; i < N; i++) {
    cancel(w.c, &a[i]);
    assert_int_equal(w.f.cancels, i < BOUND ? 0 : i - BOUND + 1);
    done_with(&a[i]);
  }
  STATS(w.c, 0, N, 0, 0, 0, 0, 0, BOUND);
  /* one answered for nobody: room for one more orphan */
  fake_answer_a(&w.f, 0, 60);
  STATS(w.c, 0, N, 0, 0, 0, 1, 1, BOUND - 1);
  snprintf(name, sizeof name, "late.example");
  ask(w.c, &a[0], name, MDSPF_RR_TXT);
  cancel(w.c, &a[0]);
  done_with(&a[0]);
  assert_int_equal(w.f.cancels, N - BOUND);
  STATS(w.c, 0, N + 1, 0, 0, 0, 1, 1, BOUND);
  /* the free cancels every query still out, calling back no one */
  mdspf_cache_free(w.c);
  w.c = NULL;
  assert_int_equal(w.f.cancels, N - BOUND + BOUND);
  world_free(&w);
}

/* Freeing the cache with waiters: the upstream query is cancelled, each
 * waiter fails with TEMPFAIL, then queries are refused. */
static void test_cache_free_with_waiters(void **state) {
  world w;
  asked a, b, c2;
  mdspf_cache *c;
  const mdspf_resolver *r;
  mdspf_resolver held;
  (void)state;
  world_new(&w, NULL);
  c = w.c;
  fill(&w, "kept.example", 600);
  ask(c, &a, "x.example", MDSPF_RR_A);
  ask(c, &b, "x.example", MDSPF_RR_A);
  ask(c, &c2, "y.example", MDSPF_RR_A);
  /* a holder of the vtable keeps the handle alive past the free */
  r = mdspf_cache_resolver(c);
  held = *r;
  held.ref(held.impl);
  mdspf_cache_free(c);
  assert_int_equal(w.f.cancels, 2);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, MDSPF_DNS_TEMPFAIL);
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.status, MDSPF_DNS_TEMPFAIL);
  assert_int_equal(c2.calls, 1);
  assert_int_equal(w.f.refs, 0); /* below is let go at once */
  done_with(&a);
  done_with(&b);
  done_with(&c2);
  /* refused now, also a kept name */
  ask_r(&held, &a, "kept.example", MDSPF_RR_A);
  assert_int_not_equal(a.rc, 0);
  assert_int_equal(a.calls, 0);
  done_with(&a);
  assert_int_not_equal(held.wait(held.impl, 0), 0);
  mdspf_cache_free(c); /* a second free is ignored */
  held.unref(held.impl);
  assert_int_equal(w.ta.live, 0);
}

/* What a waiter's completion may do: free or cancel other waiters, query
 * again (a hit now), flush, change options, read the counters, free the
 * cache (carried out when the delivery returns). */
typedef struct cbwork {
  world *w;
  asked *other;   /* cancel this waiter */
  asked *requery; /* ask the same key again into it */
  asked *newkey;  /* ask another key into it */
  int flush, set_options, free_cache;
  mdspf_cache_counters seen;
} cbwork;

static void hook_work(asked *a) {
  cbwork *k = a->hook_ud;
  mdspf_cache *c = k->w->c;
  k->seen = stats_of(c);
  if (k->other) {
    cancel(c, k->other);
    done_with(k->other); /* its query is gone: freed by its owner */
  }
  if (k->requery) {
    ask(c, k->requery, "cb.example", MDSPF_RR_A);
  }
  if (k->newkey) {
    ask(c, k->newkey, "cb-other.example", MDSPF_RR_A);
  }
  if (k->flush) {
    mdspf_cache_flush(c);
  }
  if (k->set_options) {
    mdspf_cache_options o;
    mdspf_cache_options_init(&o);
    o.max_entries = 1;
    assert_int_equal(mdspf_cache_set_options(c, &o), MDSPF_OK);
  }
  if (k->free_cache) {
    mdspf_cache_free(c);
  }
  a->hook = NULL;
}

static void test_cache_callbacks(void **state) {
  world w;
  asked a, b, c2, re, nk;
  cbwork k;
  (void)state;
  world_new(&w, NULL);
  /* the first waiter cancels the second, queries again and elsewhere */
  memset(&a, 0, sizeof a);
  memset(&k, 0, sizeof k);
  k.w = &w;
  k.other = &b;
  k.requery = &re;
  k.newkey = &nk;
  ask(w.c, &a, "cb.example", MDSPF_RR_A);
  a.hook = hook_work;
  a.hook_ud = &k;
  ask(w.c, &b, "cb.example", MDSPF_RR_A);
  ask(w.c, &c2, "cb.example", MDSPF_RR_A);
  fake_answer_a(&w.f, 0, 60);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 0);
  assert_null(b.q);
  assert_int_equal(c2.calls, 1);
  assert_int_equal(k.seen.stored, 1);   /* kept before anyone was told */
  assert_int_equal(k.seen.inflight, 0); /* and no longer joinable */
  assert_int_equal(re.calls, 1);        /* a hit, inline */
  assert_string_equal(re.text, "A 192.0.2.1");
  assert_int_equal(nk.calls, 0); /* went upstream */
  assert_int_equal(w.f.n, 2);
  STATS(w.c, 1, 2, 2, 0, 0, 1, 1, 1);
  fake_answer_a(&w.f, 1, 60);
  assert_int_equal(nk.calls, 1);
  done_with(&a);
  done_with(&c2);
  done_with(&re);
  done_with(&nk);
  /* flush and set_options from a waiter's callback while another waits */
  memset(&a, 0, sizeof a);
  memset(&k, 0, sizeof k);
  k.w = &w;
  k.flush = 1;
  k.set_options = 1;
  ask(w.c, &a, "flush.example", MDSPF_RR_A);
  a.hook = hook_work;
  a.hook_ud = &k;
  ask(w.c, &b, "flush.example", MDSPF_RR_A);
  fake_answer_a(&w.f, 2, 60);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 1);
  STATS(w.c, 1, 3, 3, 0, 0, 3, 0, 0);
  done_with(&a);
  done_with(&b);
  /* free the cache from a waiter's callback: the other waiters still get
   * the answer, then it is gone */
  memset(&a, 0, sizeof a);
  memset(&k, 0, sizeof k);
  k.w = &w;
  k.free_cache = 1;
  ask(w.c, &a, "free.example", MDSPF_RR_A);
  a.hook = hook_work;
  a.hook_ud = &k;
  ask(w.c, &b, "free.example", MDSPF_RR_A);
  ask(w.c, &c2, "pending.example", MDSPF_RR_A);
  fake_answer_a(&w.f, 3, 60);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.status, MDSPF_DNS_OK);
  assert_int_equal(c2.calls, 1); /* by the free */
  assert_int_equal(c2.status, MDSPF_DNS_TEMPFAIL);
  assert_int_equal(w.f.cancels, 1);
  assert_int_equal(w.f.refs, 0);
  assert_int_equal(w.ta.live, 0);
  done_with(&a);
  done_with(&b);
  done_with(&c2);
}

/* Setters and flush while queries are in flight. */
static void test_cache_setters_in_flight(void **state) {
  world w;
  asked a, b;
  mdspf_cache_options o;
  (void)state;
  world_new(&w, NULL);
  fill(&w, "old.example", 600);
  ask(w.c, &a, "fly.example", MDSPF_RR_A);
  ask(w.c, &b, "fly2.example", MDSPF_RR_A);
  mdspf_cache_flush(w.c);
  STATS(w.c, 0, 3, 0, 0, 0, 1, 0, 2);
  mdspf_cache_options_init(&o);
  o.max_entries = 1;
  o.max_ttl = 10;
  assert_int_equal(mdspf_cache_set_options(w.c, &o), MDSPF_OK);
  fake_answer_a(&w.f, 1, 600);
  fake_answer_a(&w.f, 2, 600);
  STATS(w.c, 0, 3, 0, 0, 1, 3, 1, 0);
  done_with(&a);
  done_with(&b);
  assert_false(probe(&w, "fly.example", 600)); /* pushed out */
  w.now += 9999;
  assert_true(probe(&w, "fly.example", 600)); /* the new cap: 10 s */
  w.now += 1;
  assert_false(probe(&w, "fly.example", 600));
  world_free(&w);
}

/* A backend that answers inside query(), one that refuses, V1. */
static void test_cache_backends(void **state) {
  world w;
  asked a;
  fake f1;
  mdspf_cache *c;
  (void)state;
  world_new(&w, NULL);
  w.f.inline_status = MDSPF_DNS_OK;
  w.f.inline_ttl = 30;
  ask(w.c, &a, "inline.example", MDSPF_RR_A);
  assert_int_equal(a.rc, 0);
  assert_int_equal(a.calls, 1);
  assert_null(a.token);
  done_with(&a);
  w.f.inline_status = -1;
  assert_true(probe(&w, "inline.example", 0));
  w.f.refuse = 1;
  ask(w.c, &a, "refused.example", MDSPF_RR_A);
  assert_int_not_equal(a.rc, 0);
  assert_int_equal(a.calls, 0);
  done_with(&a);
  STATS(w.c, 1, 2, 0, 0, 0, 1, 1, 0);
  assert_true(probe(&w, "inline.example", 0)); /* still served */
  assert_int_equal(mdspf_cache_resolver(w.c)->wait(w.c, 5), 0);
  assert_int_equal(w.f.waits, 1);
  world_free(&w);
  /* V1: no references, works the same */
  fake_init(&f1, MDSPF_RESOLVER_V1);
  assert_int_equal(mdspf_cache_new(&f1.res, NULL, &c), MDSPF_OK);
  ask(c, &a, "v1.example", MDSPF_RR_A);
  fake_answer_a(&f1, 0, 60);
  assert_int_equal(a.calls, 1);
  done_with(&a);
  ask(c, &a, "v1.example", MDSPF_RR_A);
  assert_int_equal(a.calls, 1);
  assert_int_equal(f1.n, 1);
  done_with(&a);
  mdspf_cache_free(c);
}

/* The cache's own allocations fail one by one: a query is refused or
 * answered, the answer is passed on even when it cannot be kept, nothing
 * leaks. */
static void test_cache_oom_direct(void **state) {
  long n;
  int done = 0;
  (void)state;
  for (n = 1; !done && n < 200; n++) {
    world w;
    asked a, b;
    int rc;
    fake_init(&w.f, MDSPF_RESOLVER_V2);
    memset(&w.ta, 0, sizeof w.ta);
    w.ta.fail_at = n;
    w.now = 0;
    mdspf_cache_options_init(&w.o);
    w.o.alloc = test_alloc_fn;
    w.o.alloc_ud = &w.ta;
    w.o.now = test_now;
    w.o.now_ud = &w.now;
    rc = mdspf_cache_new(&w.f.res, &w.o, &w.c);
    if (rc != MDSPF_OK) {
      assert_int_equal(rc, MDSPF_E_NOMEM);
      assert_int_equal(w.ta.live, 0);
      assert_int_equal(w.f.refs, 0);
      continue;
    }
    ask(w.c, &a, "oom.example", MDSPF_RR_A);
    ask(w.c, &b, "oom.example", MDSPF_RR_A);
    fake_answer_all(&w.f, 60);
    /* a query the cache accepted is answered, and only then */
    assert_int_equal(a.calls, a.rc == 0 ? 1 : 0);
    assert_int_equal(b.calls, b.rc == 0 ? 1 : 0);
    if (a.calls && a.status != MDSPF_DNS_OK) {
      /* the answer could not be held: the waiter learns it was memory */
      assert_int_equal(a.status, MDSPF_DNS_ERROR);
      assert_true(a.q->nomem);
    } else if (a.calls) {
      assert_string_equal(a.text, "A 192.0.2.1");
    }
    done_with(&a);
    done_with(&b);
    ask(w.c, &a, "oom.example", MDSPF_RR_A);
    fake_answer_all(&w.f, 60);
    assert_int_equal(a.calls, a.rc == 0 ? 1 : 0);
    done_with(&a);
    if (w.ta.calls < n) {
      STATS(w.c, 1, 1, 1, 0, 0, 1, 1, 0);
      done = 1;
    }
    world_free(&w);
  }
  assert_true(done);
}

/* ---- whole checks -------------------------------------------------------------- */

static const char ZONE[] =
    "$ORIGIN example.com.\n"
    "$TTL 300\n"
    "@ SOA ns hostmaster 1 3600 600 86400 60\n"
    "@ TXT \"v=spf1 include:inc.example.com mx a:%{l}.users.%{o} -all\"\n"
    "@ MX 10 mail\n"
    "mail A 192.0.2.10\n"
    "inc TXT \"v=spf1 ip4:198.51.100.0/24 ~all\"\n"
    "other TXT \"v=spf1 redirect=Example.COM\"\n";

static mdspf_zone *zone_of(const char *text, test_alloc *ta) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(ta ? test_alloc_fn : NULL, ta, &z),
                   MDSPF_OK);
  if (mdspf_zone_load(z, text, strlen(text), NULL, "test", err, sizeof err) !=
      MDSPF_OK) {
    fail_msg("zone: %s", err);
  }
  return z;
}

static int run_check(const mdspf_resolver *r, const char *ip,
                     const char *sender, int *reason) {
  mdspf_ctx *ctx;
  mdspf_check *chk;
  int res;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, r), MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 5000), MDSPF_OK);
  res = mdspf_check_result(chk);
  if (reason) {
    *reason = mdspf_check_reason(chk);
  }
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  return res;
}

/* Checks through the cache over a zone give what the zone gives, and the
 * second round asks the zone nothing; the negative answer (the a: target
 * does not exist) is kept for the SOA's 60 s, the rest for 300 s. */
static void test_cache_checks(void **state) {
  static const int modes[] = {MDSPF_ZONE_INLINE, MDSPF_ZONE_DEFERRED_FIFO,
                              MDSPF_ZONE_DEFERRED_LIFO};
  size_t m;
  (void)state;
  for (m = 0; m < 3; m++) {
    mdspf_zone *z = zone_of(ZONE, NULL);
    mdspf_cache *c;
    mdspf_cache_options o;
    int64_t now = 0;
    unsigned long q1, q2;
    assert_int_equal(mdspf_zone_set_delivery(z, modes[m]), MDSPF_OK);
    mdspf_cache_options_init(&o);
    o.now = test_now;
    o.now_ud = &now;
    assert_int_equal(mdspf_cache_new(mdspf_zone_resolver(z), &o, &c),
                     MDSPF_OK);
    assert_int_equal(run_check(mdspf_zone_resolver(z), "192.0.2.10",
                               "u@example.com", NULL),
                     MDSPF_PASS);
    q1 = mdspf_zone_queries(z);
    assert_int_equal(run_check(mdspf_cache_resolver(c), "192.0.2.10",
                               "u@example.com", NULL),
                     MDSPF_PASS);
    assert_int_equal(mdspf_zone_queries(z) - q1, q1); /* all missed */
    q2 = mdspf_zone_queries(z);
    assert_int_equal(run_check(mdspf_cache_resolver(c), "192.0.2.10",
                               "U@EXAMPLE.com", NULL),
                     MDSPF_PASS);
    assert_int_equal(run_check(mdspf_cache_resolver(c), "203.0.113.1",
                               "u@other.example.com", NULL),
                     MDSPF_FAIL);
    /* new: other.example.com's TXT and u.users.other.example.com (%{o}
     * is the sender's domain), which does not exist */
    assert_int_equal(mdspf_zone_queries(z) - q2, 2);
    now += 60 * 1000 - 1;
    q2 = mdspf_zone_queries(z);
    assert_int_equal(run_check(mdspf_cache_resolver(c), "203.0.113.1",
                               "u@other.example.com", NULL),
                     MDSPF_FAIL);
    assert_int_equal(mdspf_zone_queries(z) - q2, 0);
    now += 1; /* the NXDOMAIN lives min(SOA TTL 300, MINIMUM 60) s */
    assert_int_equal(run_check(mdspf_cache_resolver(c), "203.0.113.1",
                               "u@other.example.com", NULL),
                     MDSPF_FAIL);
    assert_int_equal(mdspf_zone_queries(z) - q2, 1);
    assert_int_equal(stats_of(c).expired, 1);
    mdspf_cache_free(c);
    mdspf_zone_free(z);
  }
}

/* Checks through the cache, waiting for the same answers: a check freed
 * inside another one's callback, and the cache and the zone freed with
 * checks waiting. */
typedef struct pair {
  mdspf_check *other;
  int calls;
} pair;

static void on_check_free_other(mdspf_check *chk, void *user) {
  pair *p = user;
  (void)chk;
  p->calls++;
  if (p->other) {
    mdspf_check_free(p->other);
    p->other = NULL;
  }
}

static void test_cache_checks_free_in_callback(void **state) {
  mdspf_zone *z = zone_of(ZONE, NULL);
  mdspf_cache *c;
  mdspf_ctx *ctx;
  mdspf_check *c1, *c2, *c3;
  pair p1, p2, p3;
  (void)state;
  assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_FIFO),
                   MDSPF_OK);
  assert_int_equal(mdspf_cache_new(mdspf_zone_resolver(z), NULL, &c),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_cache_resolver(c)),
                   MDSPF_OK);
  memset(&p1, 0, sizeof p1);
  memset(&p2, 0, sizeof p2);
  memset(&p3, 0, sizeof p3);
  assert_int_equal(mdspf_check_new(ctx, &c1), MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &c2), MDSPF_OK);
  assert_int_equal(mdspf_check_new(ctx, &c3), MDSPF_OK);
  p1.other = c2;
  assert_int_equal(mdspf_check_set_ip(c1, "198.51.100.7"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(c2, "198.51.100.7"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(c3, "198.51.100.7"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(c1, "a@inc.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(c2, "a@inc.example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(c3, "a@inc.example.com"),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_start(c1, on_check_free_other, &p1), MDSPF_OK);
  assert_int_equal(mdspf_check_start(c2, on_check_free_other, &p2), MDSPF_OK);
  assert_int_equal(mdspf_check_start(c3, on_check_free_other, &p3), MDSPF_OK);
  assert_int_equal(mdspf_zone_queries(z), 1); /* one TXT for three */
  assert_int_equal(stats_of(c).coalesced, 2);
  while (mdspf_zone_pending(z) > 0) {
    (void)mdspf_zone_process(z, 1);
  }
  assert_int_equal(p1.calls, 1);
  assert_int_equal(p2.calls, 0); /* freed by c1's callback */
  assert_int_equal(p3.calls, 1);
  assert_int_equal(mdspf_check_result(c1), MDSPF_PASS);
  assert_int_equal(mdspf_check_result(c3), MDSPF_PASS);
  assert_int_equal(stats_of(c).inflight, 0);
  mdspf_check_free(c1);
  mdspf_check_free(c3);
  /* checks waiting when the cache is freed: temperror */
  assert_int_equal(mdspf_check_new(ctx, &c1), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(c1, "198.51.100.7"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(c1, "a@nothing.example.com"),
                   MDSPF_OK);
  memset(&p1, 0, sizeof p1);
  assert_int_equal(mdspf_check_start(c1, on_check_free_other, &p1), MDSPF_OK);
  assert_int_equal(p1.calls, 0);
  mdspf_cache_free(c);
  assert_int_equal(p1.calls, 1);
  assert_int_equal(mdspf_check_result(c1), MDSPF_TEMPERROR);
  assert_int_equal(mdspf_zone_pending(z), 0); /* cancelled at the zone */
  mdspf_check_free(c1);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
}

/* The zone freed under the cache: its queries fail (temperror), kept
 * answers are still served, misses fail. */
static void test_cache_below_freed(void **state) {
  mdspf_zone *z = zone_of(ZONE, NULL);
  mdspf_cache *c;
  int reason;
  (void)state;
  assert_int_equal(mdspf_cache_new(mdspf_zone_resolver(z), NULL, &c),
                   MDSPF_OK);
  assert_int_equal(run_check(mdspf_cache_resolver(c), "198.51.100.7",
                             "a@inc.example.com", NULL),
                   MDSPF_PASS);
  mdspf_zone_free(z);
  assert_int_equal(run_check(mdspf_cache_resolver(c), "198.51.100.7",
                             "a@inc.example.com", NULL),
                   MDSPF_PASS);
  assert_int_equal(run_check(mdspf_cache_resolver(c), "198.51.100.7",
                             "a@example.com", &reason),
                   MDSPF_TEMPERROR);
  mdspf_cache_free(c);
}

/* Out of memory at every allocation of the cache, the zone and the
 * checks: each check ends (the right verdict or temperror), nothing
 * leaks; once nothing fails, the right verdict and hits. */
static void test_cache_oom_checks(void **state) {
  long n;
  int done = 0;
  (void)state;
  for (n = 1; !done && n < 3000; n++) {
    test_alloc ta;
    mdspf_zone *z = NULL;
    mdspf_cache *c = NULL;
    mdspf_cache_options o;
    mdspf_ctx *ctx = NULL;
    int round, ok = 1;
    memset(&ta, 0, sizeof ta);
    z = zone_of(ZONE, NULL);
    assert_int_equal(mdspf_zone_set_delivery(z, MDSPF_ZONE_DEFERRED_LIFO),
                     MDSPF_OK);
    ta.fail_at = n;
    mdspf_cache_options_init(&o);
    o.alloc = test_alloc_fn;
    o.alloc_ud = &ta;
    if (mdspf_cache_new(mdspf_zone_resolver(z), &o, &c) != MDSPF_OK ||
        mdspf_ctx_new(test_alloc_fn, &ta, &ctx) != MDSPF_OK ||
        mdspf_ctx_set_resolver(ctx, mdspf_cache_resolver(c)) != MDSPF_OK) {
      ok = 0;
    }
    for (round = 0; ok && round < 2; round++) {
      mdspf_check *chk = NULL;
      int res;
      if (mdspf_check_new(ctx, &chk) != MDSPF_OK ||
          mdspf_check_set_ip(chk, "192.0.2.10") != MDSPF_OK ||
          mdspf_check_set_sender(chk, "u@example.com") != MDSPF_OK) {
        mdspf_check_free(chk);
        ok = 0;
        break;
      }
      if (mdspf_check_run(chk, 5000) != MDSPF_OK) {
        ok = 0;
      } else {
        res = mdspf_check_result(chk);
        assert_true(res == MDSPF_PASS || res == MDSPF_TEMPERROR);
        if (res != MDSPF_PASS) {
          ok = 0;
        }
      }
      mdspf_check_free(chk);
    }
    if (ok && ta.calls < n) {
      mdspf_cache_counters s = stats_of(c);
      assert_true(s.hits > 0);
      assert_int_equal(s.hits, s.misses); /* round 2 hit all round 1 missed */
      done = 1;
    }
    mdspf_ctx_free(ctx);
    mdspf_cache_free(c);
    assert_int_equal(mdspf_zone_pending(z), 0);
    mdspf_zone_free(z);
    assert_int_equal(ta.live, 0);
  }
  assert_true(done);
}

int main(void) {
  static const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cache_options),
      cmocka_unit_test(test_cache_positive_ttl),
      cmocka_unit_test(test_cache_positive_cap),
      cmocka_unit_test(test_cache_negative),
      cmocka_unit_test(test_cache_failures),
      cmocka_unit_test(test_cache_oversized),
      cmocka_unit_test(test_cache_case_and_copies),
      cmocka_unit_test(test_cache_lru_entries),
      cmocka_unit_test(test_cache_lru_bytes),
      cmocka_unit_test(test_cache_coalesce),
      cmocka_unit_test(test_cache_orphans_bounded),
      cmocka_unit_test(test_cache_free_with_waiters),
      cmocka_unit_test(test_cache_callbacks),
      cmocka_unit_test(test_cache_setters_in_flight),
      cmocka_unit_test(test_cache_backends),
      cmocka_unit_test(test_cache_oom_direct),
      cmocka_unit_test(test_cache_checks),
      cmocka_unit_test(test_cache_checks_free_in_callback),
      cmocka_unit_test(test_cache_below_freed),
      cmocka_unit_test(test_cache_oom_checks),
  };
  return cmocka_run_group_tests_name("cache", tests, setup, NULL);
}

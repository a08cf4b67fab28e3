/*
 * lib/resolvers/cache.c -- the cache resolver: answers of another resolver
 * ("below") kept for their TTL, identical queries in flight coalesced.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Objects
 * -------
 * entry:  a kept answer -- status, rcode, the records as the query object
 *         stores them (a copy of q->data), when it expires -- in the
 *         entry table and on the LRU list (most recently used first).
 * flight: an upstream query for (name, type): an inner query object of
 *         the cache's own (mdspf__dnsq_new), below's token, and the
 *         waiters; in the flight table while further queries may join.
 * waiter: one query of the library waiting for a flight; its token.
 * Both tables are keyed by (name folded to lower-case ASCII, type) and
 * hashed with FNV-1a from a per-cache seed.  A key has at most one entry
 * and at most one joinable flight.
 *
 * The library's queries are never handed to below (as in the overlay):
 * below answers the inner query, and on_inner_done keeps the answer if
 * its TTL allows and copies it, through the public answer builders, into
 * every waiter's query.  So each waiter gets its own copy, a waiter can
 * be cancelled alone, and the cache always knows when a query ended.
 *
 * Lifetimes
 * ---------
 * A flight leaves the flight table when its answer arrives (before the
 * answer is handed out, so that a query made from a waiter's callback
 * finds the kept entry, or starts a new flight), when its last waiter is
 * cancelled and ORPHANS_MAX flights already run without waiters (below's
 * cancel is called then; under the bound the flight goes on as an
 * "orphan", to keep its answer), when below refuses it, or
 * when the cache is freed.  While a flight hands out its answer
 * ("delivering"), waiters may be cancelled from callbacks: they are just
 * taken off its list.  A flight answered inline, inside below's query(),
 * is freed when that query() returns, because below may still write its
 * token.
 *
 * Re-entrancy, as in the overlay: answers run callbacks that may query,
 * cancel, flush, change options or free the cache; a free inside one of
 * the cache's own calls is put off until the outermost one returns
 * (busy).  The handle goes with the last reference (V2 ref/unref), once
 * no call of the cache is on the stack.
 */
#include "core/dnsq.h"
#include "core/domain.h"
#include "core/resolver.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/list.h"

#include <string.h>

#define DEF_MAX_ENTRIES 10000u
#define DEF_MAX_BYTES (8u * 1024u * 1024u)
#define DEF_MAX_TTL 3600u
#define MIN_BYTES 4096u
#define TAB_MIN 16u
/* Upstream queries kept going after their last waiter was cancelled, so
 * that their answers are kept: a lookup made ahead and given up at the
 * verdict (lookahead), or a check cancelled, would otherwise be sent
 * upstream again by every later check of the same domain, because it
 * never reaches the cache.  Bounded, so cancelled checks cannot pile up
 * queries: beyond it the upstream query is cancelled with its last
 * waiter. */
#define ORPHANS_MAX 256u
/* The first published struct ends with now_ud. */
#define OPTIONS_MIN_SIZE                                                     \
  (offsetof(mdspf_cache_options, now_ud) + sizeof(void *))
#define COUNTERS_MIN_SIZE                                                    \
  (offsetof(mdspf_cache_counters, inflight) + sizeof(uint64_t))

/* What the two tables chain: the key of an entry or a flight. */
typedef struct hnode {
  struct hnode *next;
  uint32_t hash;
  int rrtype;
  size_t keylen;
  const char *key; /* lower case, in the object */
} hnode;

typedef struct htab {
  hnode **b;
  size_t n; /* buckets: 0 or a power of two */
  size_t count;
} htab;

typedef struct entry {
  hnode h;
  mdspf__link lru;
  size_t size; /* of this allocation: struct, key, data */
  int status, rcode;
  int64_t expires; /* ms on the cache's clock */
  size_t len;      /* record data */
  uint8_t *data;   /* inside this allocation */
} entry;

typedef struct flight {
  hnode h;
  mdspf_cache *c;
  mdspf_dns_query *inner;
  void *token;        /* below's */
  mdspf__list waiters;
  int in_table;   /* joinable: in the flight table */
  int in_query;   /* inside below's query() */
  int answered;   /* the answer arrived (maybe inline) */
  int delivering; /* handing out the answer or the teardown failure */
  int orphan;     /* every waiter cancelled: only the cache waits */
  char key[MDSPF__MAX_NAME + 1];
} flight;

typedef struct waiter {
  mdspf__link link; /* on its flight's list */
  flight *f;
  mdspf_dns_query *q; /* the library's query */
} waiter;

struct mdspf_cache {
  mdspf__allocator alloc;
  mdspf_resolver below; /* copy of the caller's vtable */
  mdspf_resolver res;   /* our own */
  mdspf_cache_options o;
  mdspf_clock_fn now;
  void *now_ud;
  uint32_t seed;
  htab entries, flights;
  mdspf__list lru; /* entries, most recently used first */
  size_t bytes;
  mdspf_cache_counters st;
  size_t orphans; /* flights no waiter waits for (ORPHANS_MAX at most) */
  unsigned busy;  /* nesting depth of the cache's calls */
  int free_requested;
  int closed;
  unsigned refs; /* the user's, plus one per holder of the vtable */
};

#define ENTRY_OF_LRU(k) MDSPF__CONTAINER(k, entry, lru)
#define WAITER(k) MDSPF__CONTAINER(k, waiter, link)

/* ---- keys and tables -------------------------------------------------- */

static char fold(char ch) {
  return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* Fold name (NUL-terminated) into out; its length, or (size_t)-1 when it
 * is no queryable name. */
static size_t make_key(const char *name, char out[MDSPF__MAX_NAME + 1]) {
  size_t n = strnlen(name, MDSPF__MAX_NAME + 2), i;
  if (n > 0 && name[n - 1] == '.') {
    n--;
  }
  if (n == 0 || n > MDSPF__MAX_NAME || !mdspf__name_queryable(name, n)) {
    return (size_t)-1;
  }
  for (i = 0; i < n; i++) {
    out[i] = fold(name[i]);
  }
  out[n] = '\0';
  return n;
}

static uint32_t key_hash(uint32_t seed, const char *k, size_t n, int rrtype) {
  uint32_t h = 2166136261u ^ seed; /* FNV-1a */
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)k[i];
    h *= 16777619u;
  }
  h ^= (uint32_t)rrtype & 0xffffu;
  h *= 16777619u;
  h ^= h >> 15; /* spread the high bits into the bucket index */
  return h;
}

static int tab_init(mdspf_cache *c, htab *t) {
  t->b = mdspf__alloc_array(&c->alloc, TAB_MIN, sizeof *t->b);
  t->n = t->b ? TAB_MIN : 0;
  return t->b != NULL;
}

static void tab_fini(mdspf_cache *c, htab *t) {
  mdspf__free(&c->alloc, t->b, t->n * sizeof *t->b);
  t->b = NULL;
  t->n = t->count = 0;
}

static hnode *tab_find(const htab *t, uint32_t h, const char *k, size_t n,
                       int rrtype) {
  hnode *e;
  for (e = t->b[h & (t->n - 1)]; e; e = e->next) {
    if (e->hash == h && e->rrtype == rrtype && e->keylen == n &&
        memcmp(e->key, k, n) == 0) {
      return e;
    }
  }
  return NULL;
}

/* Double the buckets when the table is fuller than one per bucket; a
 * failed allocation only means longer chains. */
static void tab_grow(mdspf_cache *c, htab *t) {
  size_t nb = t->n * 2, i;
  hnode **b;
  if (t->count < t->n || nb < t->n) {
    return;
  }
  b = mdspf__alloc_array(&c->alloc, nb, sizeof *b);
  if (!b) {
    return;
  }
  for (i = 0; i < t->n; i++) {
    hnode *e = t->b[i], *next;
    for (; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
    }
  }
  mdspf__free(&c->alloc, t->b, t->n * sizeof *t->b);
  t->b = b;
  t->n = nb;
}

static void tab_insert(mdspf_cache *c, htab *t, hnode *e) {
  tab_grow(c, t);
  e->next = t->b[e->hash & (t->n - 1)];
  t->b[e->hash & (t->n - 1)] = e;
  t->count++;
}

static void tab_remove(htab *t, hnode *e) {
  hnode **pp;
  for (pp = &t->b[e->hash & (t->n - 1)]; *pp; pp = &(*pp)->next) {
    if (*pp == e) {
      *pp = e->next;
      t->count--;
      return;
    }
  }
}

/* Any node of t, NULL when empty. */
static hnode *tab_any(const htab *t) {
  size_t i;
  for (i = 0; t->count > 0 && i < t->n; i++) {
    if (t->b[i]) {
      return t->b[i];
    }
  }
  return NULL;
}

/* ---- entries ------------------------------------------------------------ */

static int64_t now_ms(const mdspf_cache *c) { return c->now(c->now_ud); }

static void entry_drop(mdspf_cache *c, entry *e) {
  tab_remove(&c->entries, &e->h);
  mdspf__list_remove(&c->lru, &e->lru);
  c->bytes -= e->size;
  mdspf__free(&c->alloc, e, e->size);
}

/* Drop the least recently used entry; counted as expired when it is. */
static void evict_one(mdspf_cache *c, int64_t now) {
  entry *e = ENTRY_OF_LRU(c->lru.tail);
  if (now >= e->expires) {
    c->st.expired++;
  } else {
    c->st.evicted++;
  }
  entry_drop(c, e);
}

/* Drop least recently used entries until need more entries of need_bytes
 * more bytes fit. */
static void make_room(mdspf_cache *c, size_t need, size_t need_bytes,
                      int64_t now) {
  while (c->lru.tail &&
         (c->entries.count + need > c->o.max_entries ||
          c->bytes + need_bytes > c->o.max_bytes)) {
    evict_one(c, now);
  }
}

/* How many seconds a completed inner query may be kept: 0 for not at all
 * (see the rules in spf.h). */
static uint32_t lifetime(const mdspf_cache *c, const mdspf_dns_query *q) {
  uint32_t ttl;
  if (q->too_big || q->nomem) {
    return 0;
  }
  switch (q->status) {
  case MDSPF_DNS_OK:
    if (!q->has_ttl) {
      return 0;
    }
    return q->ttl < c->o.max_ttl ? q->ttl : c->o.max_ttl;
  case MDSPF_DNS_NODATA:
  case MDSPF_DNS_NXDOMAIN:
    ttl = q->has_ttl ? q->ttl : c->o.nosoa_ttl;
    return ttl < c->o.max_neg_ttl ? ttl : c->o.max_neg_ttl;
  case MDSPF_DNS_TEMPFAIL:
    return c->o.fail_ttl;
  default:
    return 0;
  }
}

/* Keep the answer of flight f if its TTL allows and it fits. */
static void store(mdspf_cache *c, const flight *f) {
  const mdspf_dns_query *q = f->inner;
  uint32_t life = lifetime(c, q);
  size_t len = q->status == MDSPF_DNS_OK ? q->len : 0, size;
  int64_t now;
  entry *e;
  hnode *old;
  if (life == 0) {
    return;
  }
  size = sizeof *e + f->h.keylen + 1;
  if (len > c->o.max_bytes / 4 || size + len > c->o.max_bytes / 4) {
    return; /* one answer must not push out most of the others */
  }
  size += len;
  now = now_ms(c);
  old = tab_find(&c->entries, f->h.hash, f->h.key, f->h.keylen, f->h.rrtype);
  if (old) {
    entry_drop(c, (entry *)(void *)old); /* a newer answer replaces it */
  }
  make_room(c, 1, size, now);
  e = mdspf__alloc(&c->alloc, size);
  if (!e) {
    return;
  }
  e->size = size;
  e->status = q->status;
  e->rcode = q->rcode;
  e->expires = now + (int64_t)life * 1000;
  e->len = len;
  e->data = (uint8_t *)(e + 1);
  if (len) {
    memcpy(e->data, q->data, len);
  }
  memcpy(e->data + len, f->h.key, f->h.keylen + 1);
  e->h.key = (const char *)e->data + len;
  e->h.keylen = f->h.keylen;
  e->h.hash = f->h.hash;
  e->h.rrtype = f->h.rrtype;
  tab_insert(c, &c->entries, &e->h);
  mdspf__list_push_front(&c->lru, &e->lru);
  c->bytes += size;
  c->st.stored++;
}

/* ---- lifetime ------------------------------------------------------------ */

static void maybe_destroy(mdspf_cache *c) {
  if (c->refs == 0 && c->busy == 0) {
    mdspf__allocator a = c->alloc;
    mdspf__free(&a, c, sizeof *c);
  }
}

static void ca_ref(void *impl) { ((mdspf_cache *)impl)->refs++; }

static void ca_unref(void *impl) {
  mdspf_cache *c = impl;
  c->refs--;
  maybe_destroy(c);
}

static void flight_free(mdspf_cache *c, flight *f) {
  mdspf__dnsq_free(f->inner);
  mdspf__free(&c->alloc, f, sizeof *f);
}

static void flight_unlink(mdspf_cache *c, flight *f) {
  if (f->in_table) {
    tab_remove(&c->flights, &f->h);
    f->in_table = 0;
    c->st.inflight--;
  }
}

/* Complete a waiter's query with a temporary failure.  May run
 * callbacks. */
static void fail_waiter(mdspf_cache *c, waiter *w) {
  mdspf_dns_query *q = w->q;
  mdspf__free(&c->alloc, w, sizeof *w);
  mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, -1);
}

/* The user's free: every flight is cancelled at below and its waiters
 * fail; kept answers go; below is let go.  Only when no call of the
 * cache is on the stack, so no flight is inside below's query() or
 * delivering. */
static void ca_close(mdspf_cache *c) {
  hnode *h;
  if (c->closed) {
    return;
  }
  c->closed = 1;
  c->busy++; /* a free from a callback is ignored; no destroy meanwhile */
  while ((h = tab_any(&c->flights)) != NULL) {
    flight *f = (flight *)(void *)h;
    if (f->orphan) {
      f->orphan = 0;
      c->orphans--;
    }
    flight_unlink(c, f);
    c->below.cancel(c->below.impl, f->token);
    f->delivering = 1; /* callbacks may cancel its other waiters */
    while (f->waiters.head) {
      waiter *w = WAITER(mdspf__list_pop_front(&f->waiters));
      fail_waiter(c, w);
    }
    flight_free(c, f);
  }
  while (c->lru.head) {
    entry_drop(c, ENTRY_OF_LRU(c->lru.head));
  }
  tab_fini(c, &c->entries);
  tab_fini(c, &c->flights);
  mdspf__resolver_release(&c->below);
  c->busy--;
  ca_unref(c); /* the user's reference */
}

void mdspf_cache_free(mdspf_cache *c) {
  if (!c || c->closed) {
    return;
  }
  if (c->busy) {
    c->free_requested = 1; /* inside one of our calls: free on exit */
    return;
  }
  ca_close(c);
}

static void enter(mdspf_cache *c) { c->busy++; }

/* Leave a cache call; performs a free requested meanwhile.  c must not
 * be used after this returns. */
static void leave(mdspf_cache *c) {
  if (--c->busy == 0) {
    if (c->free_requested) {
      c->free_requested = 0;
      ca_close(c);
    } else {
      maybe_destroy(c);
    }
  }
}

/* ---- answers -------------------------------------------------------------- */

/* Copy an answer into q and complete it (last: may run callbacks). */
static void answer(mdspf_dns_query *q, int status, int rcode,
                   const uint8_t *data, size_t len, int has_ttl,
                   uint32_t ttl, int too_big, int nomem) {
  if (status == MDSPF_DNS_OK) {
    mdspf__dnsq_replay(q, data, len);
  }
  if (too_big) {
    q->too_big = 1; /* the waiter learns why, as without the cache */
  }
  if (nomem) {
    q->nomem = 1;
  }
  if (has_ttl) {
    mdspf_dns_set_ttl(q, ttl);
  }
  mdspf_dns_done(q, status, rcode);
}

/* below answered flight f (ud).  Called from inside mdspf_dns_done(inner),
 * which does not touch inner afterwards. */
static void on_inner_done(mdspf_dns_query *inner, void *ud) {
  flight *f = ud;
  mdspf_cache *c = f->c;
  enter(c);
  f->answered = 1;
  f->delivering = 1;
  if (f->orphan) {
    f->orphan = 0;
    c->orphans--;
  }
  flight_unlink(c, f);
  if (!c->closed) {
    store(c, f);
  }
  while (f->waiters.head) {
    waiter *w = WAITER(mdspf__list_pop_front(&f->waiters));
    mdspf_dns_query *q = w->q;
    mdspf__free(&c->alloc, w, sizeof *w);
    answer(q, inner->status, inner->rcode, inner->data, inner->len,
           inner->has_ttl, inner->ttl, inner->too_big, inner->nomem);
  }
  if (!f->in_query) {
    flight_free(c, f); /* else ca_query frees it once below returns */
  }
  leave(c);
}

/* ---- resolver vtable ------------------------------------------------------- */

static waiter *waiter_add(mdspf_cache *c, flight *f, mdspf_dns_query *q) {
  waiter *w = mdspf__alloc(&c->alloc, sizeof *w);
  if (w) {
    w->f = f;
    w->q = q;
    mdspf__list_push_back(&f->waiters, &w->link);
  }
  return w;
}

static int ca_query(void *impl, mdspf_dns_query *q, const char *name,
                    int rrtype, void **token) {
  mdspf_cache *c = impl;
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  uint32_t h;
  hnode *hn;
  flight *f;
  waiter *w;
  void *dummy, *tok = NULL;
  int rc;
  if (!token) {
    token = &dummy;
  }
  *token = NULL;
  if (!c || !q || !name || c->closed || c->free_requested) {
    return 1;
  }
  kn = make_key(name, key);
  if (kn == (size_t)-1) {
    return 1;
  }
  h = key_hash(c->seed, key, kn, rrtype);
  hn = tab_find(&c->entries, h, key, kn, rrtype);
  if (hn) {
    entry *e = (entry *)(void *)hn;
    int64_t now = now_ms(c);
    if (now >= e->expires) {
      c->st.expired++;
      entry_drop(c, e);
    } else {
      int64_t left = (e->expires - now) / 1000;
      c->st.hits++;
      mdspf__list_remove(&c->lru, &e->lru);
      mdspf__list_push_front(&c->lru, &e->lru);
      enter(c);
      /* e is not touched once the answer starts: callbacks may drop it */
      answer(q, e->status, e->rcode, e->data, e->len, 1, (uint32_t)left, 0,
             0);
      leave(c);
      return 0;
    }
  }
  hn = tab_find(&c->flights, h, key, kn, rrtype);
  if (hn) {
    flight *j = (flight *)(void *)hn;
    w = waiter_add(c, j, q);
    if (!w) {
      return 1;
    }
    if (j->orphan) {
      j->orphan = 0; /* waited for again */
      c->orphans--;
    }
    c->st.coalesced++;
    *token = w;
    return 0;
  }
  f = mdspf__alloc(&c->alloc, sizeof *f);
  if (!f) {
    return 1;
  }
  f->c = c;
  memcpy(f->key, key, kn + 1);
  f->h.key = f->key;
  f->h.keylen = kn;
  f->h.hash = h;
  f->h.rrtype = rrtype;
  f->inner = mdspf__dnsq_new(&c->alloc, name, strlen(name), rrtype,
                             on_inner_done, f);
  w = f->inner ? waiter_add(c, f, q) : NULL;
  if (!w) {
    flight_free(c, f);
    return 1;
  }
  f->inner->state = MDSPF__Q_PENDING;
  tab_insert(c, &c->flights, &f->h);
  f->in_table = 1;
  c->st.inflight++;
  c->st.misses++;
  enter(c);
  f->in_query = 1;
  rc = c->below.query(c->below.impl, f->inner, f->inner->name, rrtype, &tok);
  f->in_query = 0;
  if (f->answered) {
    flight_free(c, f); /* answered inline: every waiter has its answer */
  } else if (rc != 0) {
    /* refused: below never answers.  q is told by our return value;
     * others that joined meanwhile (only from a callback inside below's
     * query()) were promised an answer: a temporary failure. */
    flight_unlink(c, f);
    f->delivering = 1;
    while (f->waiters.head) {
      waiter *x = WAITER(mdspf__list_pop_front(&f->waiters));
      if (x == w) {
        mdspf__free(&c->alloc, x, sizeof *x);
      } else {
        fail_waiter(c, x);
      }
    }
    flight_free(c, f);
  } else {
    f->token = tok;
    if (f->waiters.count == 0) {
      /* every waiter, q's included, was cancelled from a callback
       * inside below's query() (q's then by a holder of its token --
       * not the library, which has no token yet) */
      flight_unlink(c, f);
      c->below.cancel(c->below.impl, f->token);
      flight_free(c, f);
    } else {
      *token = w;
    }
  }
  leave(c);
  return rc;
}

static void ca_cancel(void *impl, void *token) {
  mdspf_cache *c = impl;
  waiter *w = token;
  flight *f;
  if (!c || !w) {
    return;
  }
  f = w->f;
  mdspf__list_remove(&f->waiters, &w->link);
  mdspf__free(&c->alloc, w, sizeof *w);
  if (f->waiters.count > 0 || f->delivering || f->in_query) {
    return; /* others still wait, or the caller of that loop frees f */
  }
  if (!c->closed && !c->free_requested && c->orphans < ORPHANS_MAX) {
    f->orphan = 1; /* let it finish: its answer is kept (ORPHANS_MAX) */
    c->orphans++;
    return;
  }
  enter(c);
  flight_unlink(c, f);
  c->below.cancel(c->below.impl, f->token);
  flight_free(c, f);
  leave(c);
}

static int ca_wait(void *impl, int timeout_ms) {
  mdspf_cache *c = impl;
  int rc;
  if (!c || c->closed || c->free_requested) {
    return 1;
  }
  enter(c);
  rc = c->below.wait(c->below.impl, timeout_ms);
  leave(c);
  return rc;
}

/* ---- public API ------------------------------------------------------------- */

void mdspf_cache_options_init(mdspf_cache_options *opt) {
  if (!opt) {
    return;
  }
  memset(opt, 0, sizeof *opt);
  opt->struct_size = sizeof *opt;
  opt->max_entries = DEF_MAX_ENTRIES;
  opt->max_bytes = DEF_MAX_BYTES;
  opt->max_ttl = DEF_MAX_TTL;
  opt->max_neg_ttl = DEF_MAX_TTL;
}

/* The caller's options over the defaults; 0 when they are unusable. */
static int read_options(const mdspf_cache_options *opt,
                        mdspf_cache_options *o) {
  mdspf_cache_options_init(o);
  if (opt) {
    if (opt->struct_size < OPTIONS_MIN_SIZE) {
      return 0;
    }
    memcpy(o, opt, opt->struct_size < sizeof *o ? opt->struct_size
                                                 : sizeof *o);
    o->struct_size = sizeof *o;
  }
  return o->max_entries >= 1 && o->max_bytes >= MIN_BYTES &&
         o->fail_ttl <= MDSPF_CACHE_MAX_FAIL_TTL;
}

mdspf_status mdspf_cache_new(const mdspf_resolver *below,
                             const mdspf_cache_options *opt,
                             mdspf_cache **out) {
  mdspf_cache_options o;
  mdspf__allocator a;
  mdspf_cache *c;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  if (!mdspf__resolver_ok(below) || !read_options(opt, &o)) {
    return MDSPF_E_INVAL;
  }
  mdspf__allocator_init(&a, o.alloc, o.alloc_ud);
  c = mdspf__alloc(&a, sizeof *c);
  if (!c) {
    return MDSPF_E_NOMEM;
  }
  c->alloc = a;
  if (!tab_init(c, &c->entries) || !tab_init(c, &c->flights)) {
    tab_fini(c, &c->entries);
    mdspf__free(&a, c, sizeof *c);
    return MDSPF_E_NOMEM;
  }
  c->o = o;
  c->now = o.now ? o.now : mdspf__monotonic_ms;
  c->now_ud = o.now ? o.now_ud : NULL;
  /* hash seed: where the cache lives and when it was made, so that the
   * names that collide differ between caches and runs */
  c->seed = (uint32_t)(((uint64_t)(uintptr_t)c >> 4) ^
                       ((uint64_t)mdspf__monotonic_ms(NULL) * 2654435761u));
  c->refs = 1;
  c->st.struct_size = sizeof c->st;
  mdspf__resolver_hold(&c->below, below);
  c->res.version = MDSPF_RESOLVER_V2;
  c->res.impl = c;
  c->res.query = ca_query;
  c->res.cancel = ca_cancel;
  c->res.wait = below->wait ? ca_wait : NULL;
  c->res.ref = ca_ref;
  c->res.unref = ca_unref;
  *out = c;
  return MDSPF_OK;
}

const mdspf_resolver *mdspf_cache_resolver(mdspf_cache *c) {
  return c ? &c->res : NULL;
}

mdspf_status mdspf_cache_set_options(mdspf_cache *c,
                                     const mdspf_cache_options *opt) {
  mdspf_cache_options o;
  if (!c || !opt) {
    return MDSPF_E_INVAL;
  }
  if (c->closed) {
    return MDSPF_E_STATE;
  }
  if (!read_options(opt, &o)) {
    return MDSPF_E_INVAL;
  }
  c->o.max_entries = o.max_entries;
  c->o.max_bytes = o.max_bytes;
  c->o.max_ttl = o.max_ttl;
  c->o.max_neg_ttl = o.max_neg_ttl;
  c->o.nosoa_ttl = o.nosoa_ttl;
  c->o.fail_ttl = o.fail_ttl;
  make_room(c, 0, 0, now_ms(c));
  return MDSPF_OK;
}

void mdspf_cache_flush(mdspf_cache *c) {
  if (!c) {
    return;
  }
  while (c->lru.head) {
    entry_drop(c, ENTRY_OF_LRU(c->lru.head));
  }
}

mdspf_status mdspf_cache_stats(const mdspf_cache *c,
                               mdspf_cache_counters *out) {
  mdspf_cache_counters st;
  size_t n;
  if (!c || !out || out->struct_size < COUNTERS_MIN_SIZE) {
    return MDSPF_E_INVAL;
  }
  st = c->st;
  st.entries = c->entries.count;
  st.bytes = c->bytes;
  n = out->struct_size < sizeof st ? out->struct_size : sizeof st;
  st.struct_size = out->struct_size;
  memcpy(out, &st, n);
  return MDSPF_OK;
}

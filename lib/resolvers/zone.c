/*
 * lib/resolvers/zone.c -- the in-memory zone: a small authoritative data set
 * plus a resolver backend (mdspf_resolver) that answers from it, inline or
 * deferred, with injectable faults.  Used by tests, demos, what-if checks
 * and fuzzing.  Master-file and rdata parsing live in zonefile.c.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Data model
 * ----------
 * A chained hash table maps the owner name (lower case, no trailing dot)
 * to a node.  A node holds its records in insertion order (A, AAAA, MX,
 * PTR, TXT), at most one CNAME target and a list of injected faults.
 * Identical records are not merged.  Adding anything under a name also
 * creates every ancestor as an "empty non-terminal", so a query for it
 * gives NODATA, not NXDOMAIN, as an authoritative server would answer.
 * Owner names are matched literally: "*" labels are not wildcards.
 * Records of types the zone does not serve (SOA, NS, DNSSEC, SRV, ...)
 * only make their owner exist and are counted per type in a small table
 * sorted by type number (mdspf_zone_skipped).
 *
 * Answers
 * -------
 * For (name, type): (1) a fault for (name, type), else for (name, 0):
 * TIMEOUT = TEMPFAIL without rcode, SERVFAIL = TEMPFAIL rcode 2, HANG =
 * no answer until cancelled; (2) records of the type: OK; (3) a CNAME
 * (and type != CNAME): restart at the target, at most ZONE_MAX_CNAME
 * hops (a loop ends there too) else TEMPFAIL rcode 2; (4) the name
 * exists: NODATA, else NXDOMAIN (rcode 3).  A CNAME query never returns
 * the CNAME itself (the answer builders have no CNAME record): NODATA.
 *
 * Deferred answers are computed when they are delivered, so faults and
 * records added after query() count.  Entries are unlinked before their
 * answer is delivered and delivery is bounded to the entries queued when
 * mdspf_zone_process started, so callbacks may cancel, query or process
 * freely.  mdspf_zone_free inside such a callback is deferred until the
 * outermost zone call returns.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "resolvers/zone.h"
#include "util/list.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#define ZONE_MAX_CNAME 10 /* CNAME hops followed per query */
#define ZONE_MAX_TXT_STRINGS 65536
#define ZONE_INITIAL_BUCKETS 64u
#define ZONE_BAD_NAME ((size_t)-1)

/* The node exists without served data: an ancestor of an added name
 * (empty non-terminal) or the owner of skipped records only. */
enum { NODE_ENT = 1u };

typedef struct zone_rr {
  struct zone_rr *next;
  size_t size; /* bytes allocated for this struct */
  int type;    /* MDSPF_RR_A, _AAAA, _MX, _PTR, _TXT */
  long ttl;    /* seconds, -1: unknown */
  unsigned pref;
  size_t len;  /* data octets (TXT: all strings concatenated) */
  size_t nstr; /* TXT: number of character-strings */
  /* data[0..len): address, name or TXT text; data[len] = NUL; for TXT
   * nstr size_t lengths follow at data + len + 1 (unaligned). */
  unsigned char data[];
} zone_rr;

typedef struct zone_fault {
  struct zone_fault *next;
  int rrtype; /* 0 = every type */
  int fault;  /* MDSPF_ZONE_TIMEOUT, _SERVFAIL, _HANG */
} zone_fault;

typedef struct zone_node {
  struct zone_node *next; /* hash chain */
  size_t hash;
  unsigned flags; /* NODE_* */
  zone_rr *rr_head, *rr_tail;
  zone_fault *faults;
  char *cname; /* lower case, no trailing dot; NULL if none */
  size_t cname_len;
  long cname_ttl; /* seconds, -1: unknown */
  long neg_ttl;   /* a SOA is here: RFC 2308 TTL of the subtree; else -1 */
  size_t namelen;
  char name[]; /* lower case, no trailing dot, NUL-terminated */
} zone_node;

typedef struct zone_entry {
  mdspf__link link; /* on z->pending or z->hung */
  mdspf_dns_query *q;
  uint64_t seq;
  int rrtype;
  int hung; /* on the hung list (else the pending list) */
  size_t namelen;
  char name[MDSPF__MAX_NAME + 1]; /* normalised */
} zone_entry;

/* Records of one type that master files held and the zone does not
 * serve (mdspf_zone_skipped).  Allocated one by one so that name stays
 * put while the table of pointers grows. */
typedef struct zone_skip {
  unsigned long count;
  unsigned type; /* 0..65535 */
  char name[MDSPF__ZONE_TYPE_NAME];
} zone_skip;

struct mdspf_zone {
  mdspf__allocator alloc;
  zone_node **buckets;
  size_t nbuckets; /* 0 or a power of two */
  size_t nnodes;
  zone_skip **skips; /* sorted by type; nskips used, skipcap allocated */
  size_t nskips, skipcap;
  unsigned flags;
  int delivery;
  mdspf__list pending; /* deferred answers (zone_entry), in query order */
  mdspf__list hung;    /* HANG faults waiting for cancel() */
  uint64_t seq;      /* next entry sequence number */
  unsigned long nqueries;
  unsigned busy;      /* nesting depth of query/process calls */
  int free_requested; /* mdspf_zone_free called while busy */
  int closed;         /* freed by its user: answers nothing any more */
  unsigned refs;      /* the user's, plus one per overlay on top of it */
  mdspf_resolver resolver;
};

/* ---- names and the hash table ------------------------------------------- */

/* Normalise a queryable name into out; ZONE_BAD_NAME if not queryable. */
static size_t norm_name(const char *s, size_t n,
                        char out[MDSPF__MAX_NAME + 1]) {
  if (!s || !mdspf__name_queryable(s, n)) {
    return ZONE_BAD_NAME;
  }
  return mdspf__domain_norm(out, MDSPF__MAX_NAME + 1, s, n);
}

static size_t hash_name(const char *s, size_t n) {
  /* FNV-1a, 32 bits is plenty for a test zone */
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 16777619u;
  }
  return (size_t)h;
}

static zone_node *node_find(const mdspf_zone *z, const char *key, size_t n) {
  size_t h;
  zone_node *nd;
  if (z->nbuckets == 0) {
    return NULL;
  }
  h = hash_name(key, n);
  for (nd = z->buckets[h & (z->nbuckets - 1)]; nd; nd = nd->next) {
    if (nd->hash == h && nd->namelen == n && memcmp(nd->name, key, n) == 0) {
      return nd;
    }
  }
  return NULL;
}

/* Double the table (or create it).  0 on allocation failure; the old
 * table then stays usable. */
static int table_grow(mdspf_zone *z) {
  size_t nb = z->nbuckets ? z->nbuckets * 2 : ZONE_INITIAL_BUCKETS;
  zone_node **nbk;
  size_t i;
  if (nb < z->nbuckets) {
    return 0;
  }
  nbk = mdspf__alloc_array(&z->alloc, nb, sizeof *nbk);
  if (!nbk) {
    return 0;
  }
  for (i = 0; i < z->nbuckets; i++) {
    zone_node *nd = z->buckets[i];
    while (nd) {
      zone_node *next = nd->next;
      size_t b = nd->hash & (nb - 1);
      nd->next = nbk[b];
      nbk[b] = nd;
      nd = next;
    }
  }
  mdspf__free(&z->alloc, z->buckets, z->nbuckets * sizeof *z->buckets);
  z->buckets = nbk;
  z->nbuckets = nb;
  return 1;
}

/* Find or create the node for a normalised key; NULL on OOM. */
static zone_node *node_get(mdspf_zone *z, const char *key, size_t n) {
  zone_node *nd = node_find(z, key, n);
  size_t b;
  if (nd) {
    return nd;
  }
  /* load factor 3/4; a failed grow is fine while a table exists */
  if ((z->nbuckets == 0 || z->nnodes >= z->nbuckets / 4 * 3) &&
      !table_grow(z) && z->nbuckets == 0) {
    return NULL;
  }
  nd = mdspf__alloc(&z->alloc, sizeof *nd + n + 1);
  if (!nd) {
    return NULL;
  }
  memcpy(nd->name, key, n);
  nd->name[n] = '\0';
  nd->namelen = n;
  nd->cname_ttl = -1;
  nd->neg_ttl = -1;
  nd->hash = hash_name(key, n);
  b = nd->hash & (z->nbuckets - 1);
  nd->next = z->buckets[b];
  z->buckets[b] = nd;
  z->nnodes++;
  return nd;
}

static int node_has_data(const zone_node *nd) {
  return nd && (nd->rr_head || nd->cname || nd->faults);
}

static int node_exists(const zone_node *nd) {
  return nd && (node_has_data(nd) || (nd->flags & NODE_ENT));
}

/* The node for a normalised owner, creating it and marking its ancestors
 * as empty non-terminals (top-down, so a marked node always has marked
 * ancestors).  NULL on OOM. */
static zone_node *owner_node(mdspf_zone *z, const char *key, size_t n) {
  size_t i = n;
  while (i > 0) {
    i--;
    if (key[i] == '.') {
      zone_node *anc = node_get(z, key + i + 1, n - i - 1);
      if (!anc) {
        return NULL;
      }
      anc->flags |= NODE_ENT;
    }
  }
  return node_get(z, key, n);
}

static void node_free(mdspf_zone *z, zone_node *nd) {
  zone_rr *rr = nd->rr_head;
  zone_fault *f = nd->faults;
  while (rr) {
    zone_rr *next = rr->next;
    mdspf__free(&z->alloc, rr, rr->size);
    rr = next;
  }
  while (f) {
    zone_fault *next = f->next;
    mdspf__free(&z->alloc, f, sizeof *f);
    f = next;
  }
  if (nd->cname) {
    mdspf__free(&z->alloc, nd->cname, nd->cname_len + 1);
  }
  mdspf__free(&z->alloc, nd, sizeof *nd + nd->namelen + 1);
}

/* ---- entry lists ----------------------------------------------------------
 */

#define ENTRY(k) MDSPF__CONTAINER(k, zone_entry, link)

static zone_entry *entry_new(mdspf_zone *z, mdspf_dns_query *q, const char *key,
                             size_t n, int rrtype) {
  zone_entry *e = mdspf__alloc(&z->alloc, sizeof *e);
  if (!e) {
    return NULL;
  }
  e->q = q;
  e->seq = z->seq++;
  e->rrtype = rrtype;
  memcpy(e->name, key, n);
  e->name[n] = '\0';
  e->namelen = n;
  return e;
}

/* ---- lifetime ---------------------------------------------------------------
 */

static int zone_query(void *impl, mdspf_dns_query *q, const char *name,
                      int rrtype, void **token);
static void zone_cancel(void *impl, void *token);
static int zone_wait(void *impl, int timeout_ms);
static void zone_vt_ref(void *impl);
static void zone_vt_unref(void *impl);

mdspf_status mdspf_zone_new(mdspf_alloc_fn alloc, void *alloc_ud, mdspf_zone **out) {
  mdspf__allocator a;
  mdspf_zone *z;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  mdspf__allocator_init(&a, alloc, alloc_ud);
  z = mdspf__alloc(&a, sizeof *z);
  if (!z) {
    return MDSPF_E_NOMEM;
  }
  z->alloc = a;
  z->refs = 1;
  z->delivery = MDSPF_ZONE_INLINE;
  z->resolver.version = MDSPF_RESOLVER_V2;
  z->resolver.impl = z;
  z->resolver.query = zone_query;
  z->resolver.cancel = zone_cancel;
  z->resolver.wait = zone_wait;
  z->resolver.ref = zone_vt_ref;
  z->resolver.unref = zone_vt_unref;
  *out = z;
  return MDSPF_OK;
}

/* Complete every deferred and hung query with a temporary failure (the
 * teardown rule of every resolver).  Callbacks run inside: they may
 * cancel other entries or query again (refused: the zone is closing). */
static void fail_outstanding(mdspf_zone *z) {
  mdspf__list *lists[2];
  int k;
  lists[0] = &z->pending;
  lists[1] = &z->hung;
  for (k = 0; k < 2; k++) {
    while (lists[k]->head) {
      zone_entry *e = ENTRY(mdspf__list_pop_front(lists[k]));
      mdspf_dns_query *q = e->q;
      mdspf__free(&z->alloc, e, sizeof *e);
      mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, -1);
    }
  }
}

/* Free the data: every name and record. */
static void free_data(mdspf_zone *z) {
  size_t i;
  for (i = 0; i < z->nbuckets; i++) {
    zone_node *nd = z->buckets[i];
    while (nd) {
      zone_node *next = nd->next;
      node_free(z, nd);
      nd = next;
    }
  }
  mdspf__free(&z->alloc, z->buckets, z->nbuckets * sizeof *z->buckets);
  z->buckets = NULL;
  z->nbuckets = z->nnodes = 0;
  for (i = 0; i < z->nskips; i++) {
    mdspf__free(&z->alloc, z->skips[i], sizeof *z->skips[i]);
  }
  mdspf__free(&z->alloc, z->skips, z->skipcap * sizeof *z->skips);
  z->skips = NULL;
  z->nskips = z->skipcap = 0;
}

/* The handle goes with the last reference, once no call of the zone is
 * on the stack. */
static void maybe_destroy(mdspf_zone *z) {
  if (z->refs == 0 && z->busy == 0) {
    mdspf__allocator a = z->alloc;
    free_data(z);
    mdspf__free(&a, z, sizeof *z);
  }
}

mdspf_zone *mdspf__zone_ref(mdspf_zone *z) {
  z->refs++;
  return z;
}

void mdspf__zone_unref(mdspf_zone *z) {
  if (z) {
    z->refs--;
    maybe_destroy(z);
  }
}

static void zone_vt_ref(void *impl) { (void)mdspf__zone_ref(impl); }
static void zone_vt_unref(void *impl) { mdspf__zone_unref(impl); }

/* The user's free: outstanding queries fail, new ones are refused, the
 * data goes at once and the handle with the last reference (contexts
 * and overlays hold some). */
static void zone_close(mdspf_zone *z) {
  if (z->closed) {
    return;
  }
  z->closed = 1;
  z->busy++; /* a free from a callback is ignored; no destroy meanwhile */
  fail_outstanding(z);
  free_data(z);
  z->busy--;
  mdspf__zone_unref(z); /* the user's reference */
}

void mdspf_zone_free(mdspf_zone *z) {
  if (!z || z->closed) {
    return;
  }
  if (z->busy) {
    z->free_requested = 1; /* inside a delivery callback: free on exit */
    return;
  }
  zone_close(z);
}

static void zone_enter(mdspf_zone *z) { z->busy++; }

/* Leave a zone call; performs a free requested meanwhile.  z must not be
 * used after this returns. */
static void zone_leave(mdspf_zone *z) {
  if (--z->busy == 0) {
    if (z->free_requested) {
      z->free_requested = 0;
      zone_close(z);
    } else {
      maybe_destroy(z);
    }
  }
}

const mdspf__allocator *mdspf__zone_allocator(const mdspf_zone *z) {
  return &z->alloc;
}

unsigned mdspf__zone_flags(const mdspf_zone *z) { return z->flags; }

int mdspf__zone_closed(const mdspf_zone *z) { return z->closed; }

void mdspf_zone_set_flags(mdspf_zone *z, unsigned flags) {
  if (z) {
    z->flags = flags;
  }
}

/* ---- adding data
 * ------------------------------------------------------------- */

/* A record with room for len data octets (+ NUL) and nstr lengths. */
static zone_rr *rr_new(mdspf_zone *z, int type, unsigned pref, size_t len,
                       size_t nstr) {
  size_t size = sizeof(zone_rr);
  zone_rr *rr;
  if (len > SIZE_MAX - size - 1) {
    return NULL;
  }
  size += len + 1;
  if (nstr > (SIZE_MAX - size) / sizeof(size_t)) {
    return NULL;
  }
  size += nstr * sizeof(size_t);
  rr = mdspf__alloc(&z->alloc, size);
  if (!rr) {
    return NULL;
  }
  rr->size = size;
  rr->type = type;
  rr->ttl = -1;
  rr->pref = pref;
  rr->len = len;
  rr->nstr = nstr;
  return rr;
}

/* Attach rr to the owner's node; frees rr and returns MDSPF_E_NOMEM if
 * the node cannot be created. */
static int rr_attach(mdspf_zone *z, const char *key, size_t kn, zone_rr *rr) {
  zone_node *nd = owner_node(z, key, kn);
  if (!nd) {
    mdspf__free(&z->alloc, rr, rr->size);
    return MDSPF_E_NOMEM;
  }
  if (nd->rr_tail) {
    nd->rr_tail->next = rr;
  } else {
    nd->rr_head = rr;
  }
  nd->rr_tail = rr;
  return MDSPF_OK;
}

static int put_cname(mdspf_zone *z, const char *key, size_t kn,
                     const char *target, size_t tn, long ttl) {
  char tkey[MDSPF__MAX_NAME + 1];
  size_t tkn = norm_name(target, tn, tkey);
  zone_node *nd;
  if (tkn == ZONE_BAD_NAME) {
    return MDSPF_E_INVAL;
  }
  nd = node_find(z, key, kn);
  if (nd && nd->cname) {
    if (nd->cname_len == tkn && memcmp(nd->cname, tkey, tkn) == 0) {
      if (ttl >= 0 && (nd->cname_ttl < 0 || ttl < nd->cname_ttl)) {
        nd->cname_ttl = ttl; /* the same CNAME again: one RRset */
      }
      return MDSPF_OK;
    }
    return MDSPF__ZONE_CNAME_CONFLICT;
  }
  {
    char *c = mdspf__strndup(&z->alloc, tkey, tkn);
    if (!c) {
      return MDSPF_E_NOMEM;
    }
    nd = owner_node(z, key, kn);
    if (!nd) {
      mdspf__free(&z->alloc, c, tkn + 1);
      return MDSPF_E_NOMEM;
    }
    nd->cname = c;
    nd->cname_len = tkn;
    nd->cname_ttl = ttl;
  }
  return MDSPF_OK;
}

int mdspf__zone_put(mdspf_zone *z, const char *owner, size_t ownerlen,
                    int rrtype, const void *data, size_t len, unsigned pref,
                    const size_t *lens, size_t nstr, long ttl) {
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  zone_rr *rr;
  if (!z || (!data && len)) {
    return MDSPF_E_INVAL;
  }
  kn = norm_name(owner, ownerlen, key);
  if (kn == ZONE_BAD_NAME) {
    return MDSPF_E_INVAL;
  }
  switch (rrtype) {
  case MDSPF_RR_A:
  case MDSPF_RR_AAAA:
    if (len != (rrtype == MDSPF_RR_A ? 4u : 16u)) {
      return MDSPF_E_INVAL;
    }
    break;
  case MDSPF_RR_MX:
  case MDSPF_RR_PTR: {
    const char *s = data;
    if (rrtype == MDSPF_RR_MX && (len == 0 || (len == 1 && s[0] == '.'))) {
      len = 0; /* null MX (RFC 7505) */
    } else if (!mdspf__name_queryable(s, len)) {
      return MDSPF_E_INVAL;
    } else if (s[len - 1] == '.') {
      len--;
    }
    if (pref > 0xffff) {
      return MDSPF_E_INVAL;
    }
    if (rrtype == MDSPF_RR_PTR) {
      pref = 0;
    }
    break;
  }
  case MDSPF_RR_CNAME:
    return put_cname(z, key, kn, data, len, ttl);
  case MDSPF_RR_TXT: {
    size_t i, total = 0;
    if (len > MDSPF__ZONE_MAX_TXT || nstr > ZONE_MAX_TXT_STRINGS ||
        (nstr && !lens)) {
      return MDSPF_E_INVAL;
    }
    for (i = 0; i < nstr; i++) {
      if (lens[i] > len - total) {
        return MDSPF_E_INVAL;
      }
      total += lens[i];
    }
    if (total != len) {
      return MDSPF_E_INVAL;
    }
    break;
  }
  default:
    return MDSPF_E_INVAL;
  }
  if (rrtype != MDSPF_RR_TXT) {
    nstr = 0;
  }
  rr = rr_new(z, rrtype, pref, len, nstr);
  if (!rr) {
    return MDSPF_E_NOMEM;
  }
  rr->ttl = ttl < 0 || ttl > 0x7fffffffL ? -1 : ttl;
  if (len) {
    memcpy(rr->data, data, len);
  }
  rr->data[len] = '\0';
  if (nstr) {
    memcpy(rr->data + len + 1, lens, nstr * sizeof(size_t));
  }
  return rr_attach(z, key, kn, rr);
}

int mdspf__zone_soa(mdspf_zone *z, const char *owner, size_t ownerlen,
                    long ttl, long minimum) {
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  zone_node *nd;
  long neg = minimum;
  if (!z || minimum < 0) {
    return MDSPF_E_INVAL;
  }
  kn = norm_name(owner, ownerlen, key);
  if (kn == ZONE_BAD_NAME) {
    return MDSPF_E_INVAL;
  }
  nd = owner_node(z, key, kn);
  if (!nd) {
    return MDSPF_E_NOMEM;
  }
  if (ttl >= 0 && ttl < neg) {
    neg = ttl;
  }
  nd->flags |= NODE_ENT;
  nd->neg_ttl = neg; /* a zone has one SOA: the last one counts */
  return MDSPF_OK;
}

int mdspf__zone_touch(mdspf_zone *z, const char *owner, size_t ownerlen) {
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  zone_node *nd;
  if (!z) {
    return MDSPF_E_INVAL;
  }
  kn = norm_name(owner, ownerlen, key);
  if (kn == ZONE_BAD_NAME) {
    return MDSPF_E_INVAL;
  }
  nd = owner_node(z, key, kn);
  if (!nd) {
    return MDSPF_E_NOMEM;
  }
  nd->flags |= NODE_ENT;
  return MDSPF_OK;
}

/* Index of the first counter whose type is >= type. */
static size_t skip_find(const mdspf_zone *z, unsigned type) {
  size_t lo = 0, hi = z->nskips;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (z->skips[mid]->type < type) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

int mdspf__zone_skip(mdspf_zone *z, const char *owner, size_t ownerlen,
                     unsigned rrtype, const char *tname) {
  size_t at, tn;
  zone_skip *s;
  int rc;
  if (!z || rrtype > 0xffffu || !tname) {
    return MDSPF_E_INVAL;
  }
  tn = strlen(tname);
  if (tn == 0 || tn >= MDSPF__ZONE_TYPE_NAME) {
    return MDSPF_E_INVAL;
  }
  rc = mdspf__zone_touch(z, owner, ownerlen);
  if (rc != MDSPF_OK) {
    return rc;
  }
  at = skip_find(z, rrtype);
  if (at < z->nskips && z->skips[at]->type == rrtype) {
    if (z->skips[at]->count < ULONG_MAX) {
      z->skips[at]->count++;
    }
    return MDSPF_OK;
  }
  if (z->nskips == z->skipcap) {
    /* at most 65536 types, so the doubling stays far from overflow */
    size_t ncap = z->skipcap ? z->skipcap * 2 : 8;
    zone_skip **nt = mdspf__realloc(&z->alloc, z->skips,
                                    z->skipcap * sizeof *nt, ncap * sizeof *nt);
    if (!nt) {
      return MDSPF_E_NOMEM;
    }
    z->skips = nt;
    z->skipcap = ncap;
  }
  s = mdspf__alloc(&z->alloc, sizeof *s);
  if (!s) {
    return MDSPF_E_NOMEM;
  }
  s->count = 1;
  s->type = rrtype;
  memcpy(s->name, tname, tn + 1);
  memmove(z->skips + at + 1, z->skips + at,
          (z->nskips - at) * sizeof *z->skips);
  z->skips[at] = s;
  z->nskips++;
  return MDSPF_OK;
}

size_t mdspf_zone_skipped(const mdspf_zone *z, size_t i, const char **type,
                          unsigned long *count) {
  const zone_skip *s = z && i < z->nskips ? z->skips[i] : NULL;
  if (type) {
    *type = s ? s->name : NULL;
  }
  if (count) {
    *count = s ? s->count : 0;
  }
  return z ? z->nskips : 0;
}

mdspf_status mdspf_zone_add(mdspf_zone *z, const char *name, int rrtype,
                   const char *rdata) {
  int rc;
  if (!z || !name || !rdata) {
    return MDSPF_E_INVAL;
  }
  if (!mdspf__name_queryable(name, strlen(name))) {
    return MDSPF_E_INVAL;
  }
  switch (rrtype) {
  case MDSPF_RR_A:
  case MDSPF_RR_AAAA:
  case MDSPF_RR_MX:
  case MDSPF_RR_TXT:
  case MDSPF_RR_PTR:
  case MDSPF_RR_CNAME:
    break;
  default:
    return MDSPF_E_INVAL;
  }
  rc = mdspf__zone_add_rdata(z, name, strlen(name), rrtype, rdata,
                             strlen(rdata));
  return rc == MDSPF__ZONE_CNAME_CONFLICT ? MDSPF_E_INVAL : rc;
}

/* MDSPF_E_INVAL: bad name, strings/lens NULL with n > 0, a string over
 * 255 octets without MDSPF_ZONE_LAX, more than 65536 strings or more than
 * MDSPF__ZONE_MAX_TXT octets in all. */
mdspf_status mdspf_zone_add_txt(mdspf_zone *z, const char *name,
                       const char *const *strings, const size_t *lens,
                       size_t n) {
  char key[MDSPF__MAX_NAME + 1];
  size_t kn, i, total = 0, off = 0;
  zone_rr *rr;
  if (!z || !name || (n && (!strings || !lens)) || n > ZONE_MAX_TXT_STRINGS) {
    return MDSPF_E_INVAL;
  }
  kn = norm_name(name, strlen(name), key);
  if (kn == ZONE_BAD_NAME) {
    return MDSPF_E_INVAL;
  }
  for (i = 0; i < n; i++) {
    if ((lens[i] && !strings[i]) ||
        (lens[i] > 255 && !(z->flags & MDSPF_ZONE_LAX)) ||
        lens[i] > MDSPF__ZONE_MAX_TXT - total) {
      return MDSPF_E_INVAL;
    }
    total += lens[i];
  }
  rr = rr_new(z, MDSPF_RR_TXT, 0, total, n);
  if (!rr) {
    return MDSPF_E_NOMEM;
  }
  for (i = 0; i < n; i++) {
    if (lens[i]) {
      memcpy(rr->data + off, strings[i], lens[i]);
      off += lens[i];
    }
  }
  rr->data[total] = '\0';
  if (n) {
    memcpy(rr->data + total + 1, lens, n * sizeof(size_t));
  }
  return rr_attach(z, key, kn, rr);
}

mdspf_status mdspf_zone_set_fault(mdspf_zone *z, const char *name, int rrtype,
                         int fault) {
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  zone_node *nd;
  zone_fault *f, **pf;
  if (!z || !name || rrtype < 0 || rrtype > 0xffff ||
      fault < MDSPF_ZONE_NOFAULT || fault > MDSPF_ZONE_HANG) {
    return MDSPF_E_INVAL;
  }
  kn = norm_name(name, strlen(name), key);
  if (kn == ZONE_BAD_NAME) {
    return MDSPF_E_INVAL;
  }
  if (fault == MDSPF_ZONE_NOFAULT) {
    /* The name stops existing if nothing else is left, but ancestors
     * stay empty non-terminals. */
    nd = node_find(z, key, kn);
    for (pf = nd ? &nd->faults : NULL; pf && *pf; pf = &(*pf)->next) {
      if ((*pf)->rrtype == rrtype) {
        f = *pf;
        *pf = f->next;
        mdspf__free(&z->alloc, f, sizeof *f);
        break;
      }
    }
    return MDSPF_OK;
  }
  nd = owner_node(z, key, kn);
  if (!nd) {
    return MDSPF_E_NOMEM;
  }
  for (f = nd->faults; f; f = f->next) {
    if (f->rrtype == rrtype) {
      f->fault = fault;
      return MDSPF_OK;
    }
  }
  f = mdspf__alloc(&z->alloc, sizeof *f);
  if (!f) {
    return MDSPF_E_NOMEM;
  }
  f->rrtype = rrtype;
  f->fault = fault;
  f->next = nd->faults;
  nd->faults = f;
  return MDSPF_OK;
}

/* Names that hold served records (a CNAME included) or faults.  Empty
 * non-terminals (ancestors created implicitly) and names holding only
 * skipped types (SOA, NS, SPF, DNSSEC, ... from a master file) do not
 * count, although a query for one answers NODATA. */
int mdspf_zone_has_name(const mdspf_zone *z, const char *name) {
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  if (!z || !name) {
    return 0;
  }
  kn = norm_name(name, strlen(name), key);
  if (kn == ZONE_BAD_NAME) {
    return 0;
  }
  return node_has_data(node_find(z, key, kn));
}

/* ---- answering
 * ---------------------------------------------------------------- */

enum { ANSWER_DONE = 0, ANSWER_HANG = 1 };

static int node_fault(const zone_node *nd, int rrtype) {
  const zone_fault *f;
  int any = MDSPF_ZONE_NOFAULT;
  for (f = nd ? nd->faults : NULL; f; f = f->next) {
    if (f->rrtype == rrtype) {
      return f->fault;
    }
    if (f->rrtype == 0) {
      any = f->fault;
    }
  }
  return any;
}

/* Whether the zone answers (name, rrtype) from its own data (the overlay
 * resolver's routing test): a record of rrtype (0: of any type), a fault
 * for rrtype or for every type, or a CNAME, through which the zone would
 * answer any type. */
int mdspf_zone_has(const mdspf_zone *z, const char *name, int rrtype) {
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  const zone_node *nd;
  const zone_rr *rr;
  if (!z || !name || rrtype < 0) {
    return 0;
  }
  kn = norm_name(name, strnlen(name, MDSPF__MAX_NAME + 2), key);
  if (kn == ZONE_BAD_NAME) {
    return 0;
  }
  nd = node_find(z, key, kn);
  if (!nd) {
    return 0;
  }
  if (rrtype == 0 || nd->cname) {
    return node_has_data(nd);
  }
  if (node_fault(nd, rrtype) != MDSPF_ZONE_NOFAULT) {
    return 1;
  }
  for (rr = nd->rr_head; rr; rr = rr->next) {
    if (rr->type == rrtype) {
      return 1;
    }
  }
  return 0;
}

/* The smaller of two TTLs where -1 (unknown) wins: an answer is only
 * as cacheable as its least known part. */
static long ttl_min(long a, long b) {
  if (a < 0 || b < 0) {
    return -1;
  }
  return a < b ? a : b;
}

/* Add the records of rrtype held by nd to q; returns how many, and
 * lowers *ttl to their smallest TTL. */
static size_t add_records(const zone_node *nd, mdspf_dns_query *q, int rrtype,
                          long *ttl) {
  const zone_rr *rr;
  size_t n = 0;
  for (rr = nd->rr_head; rr; rr = rr->next) {
    if (rr->type != rrtype) {
      continue;
    }
    *ttl = ttl_min(*ttl, rr->ttl);
    switch (rr->type) {
    case MDSPF_RR_A:
      mdspf_dns_add_addr(q, 4, rr->data);
      break;
    case MDSPF_RR_AAAA:
      mdspf_dns_add_addr(q, 6, rr->data);
      break;
    case MDSPF_RR_MX:
    case MDSPF_RR_PTR:
      mdspf_dns_add_name(q, (const char *)rr->data, rr->pref);
      break;
    case MDSPF_RR_TXT:
      mdspf_dns_add_txt(q, (const char *)rr->data, rr->len);
      break;
    default:
      continue;
    }
    n++;
  }
  return n;
}

/* The negative-caching TTL for name (normalised): the one of the
 * nearest SOA at or above it; -1 when there is none. */
static long neg_ttl_of(const mdspf_zone *z, const char *name, size_t n) {
  size_t i = 0;
  for (;;) {
    const zone_node *nd = node_find(z, name + i, n - i);
    if (nd && nd->neg_ttl >= 0) {
      return nd->neg_ttl;
    }
    while (i < n && name[i] != '.') {
      i++;
    }
    if (i >= n) {
      return -1;
    }
    i++; /* past the dot: the parent */
  }
}

/* Compute the answer for (key, rrtype).  Adds records to q only for a
 * positive answer; on ANSWER_HANG q is untouched.  *ttl gets the
 * answer's TTL (-1: unknown): the records' and the CNAMEs' smallest, or
 * for NODATA and NXDOMAIN the SOA's negative TTL (and the CNAMEs'). */
static int compute_answer(const mdspf_zone *z, mdspf_dns_query *q,
                          const char *key, size_t kn, int rrtype, int *status,
                          int *rcode, long *ttl) {
  const zone_node *nd = node_find(z, key, kn);
  const char *cur = key; /* the name being looked at */
  size_t curlen = kn;
  long chain = 0x7fffffffL; /* smallest TTL of the CNAMEs followed */
  unsigned hops = 0;
  *ttl = -1;
  for (;;) {
    switch (node_fault(nd, rrtype)) {
    case MDSPF_ZONE_TIMEOUT:
      *status = MDSPF_DNS_TEMPFAIL;
      *rcode = -1;
      return ANSWER_DONE;
    case MDSPF_ZONE_SERVFAIL:
      *status = MDSPF_DNS_TEMPFAIL;
      *rcode = 2;
      return ANSWER_DONE;
    case MDSPF_ZONE_HANG:
      return ANSWER_HANG;
    default:
      break;
    }
    {
      long rt = chain;
      if (nd && rrtype != MDSPF_RR_CNAME &&
          add_records(nd, q, rrtype, &rt) > 0) {
        *status = MDSPF_DNS_OK;
        *rcode = 0;
        *ttl = rt;
        return ANSWER_DONE;
      }
    }
    if (nd && nd->cname && rrtype != MDSPF_RR_CNAME) {
      if (hops >= ZONE_MAX_CNAME) {
        *status = MDSPF_DNS_TEMPFAIL; /* chain too long or a loop */
        *rcode = 2;
        return ANSWER_DONE;
      }
      hops++;
      chain = ttl_min(chain, nd->cname_ttl);
      cur = nd->cname;
      curlen = nd->cname_len;
      nd = node_find(z, nd->cname, nd->cname_len);
      continue;
    }
    if (node_exists(nd)) {
      *status = MDSPF_DNS_NODATA;
      *rcode = 0;
    } else {
      *status = MDSPF_DNS_NXDOMAIN;
      *rcode = 3;
    }
    *ttl = ttl_min(chain, neg_ttl_of(z, cur, curlen));
    return ANSWER_DONE;
  }
}

/* Deliver a popped (unlinked) pending entry: 1 if answered, 0 if it hung
 * (then it moves to the hung list).  May run callbacks. */
static int deliver(mdspf_zone *z, zone_entry *e) {
  int status = MDSPF_DNS_ERROR, rcode = -1;
  long ttl = -1;
  mdspf_dns_query *q = e->q;
  if (compute_answer(z, q, e->name, e->namelen, e->rrtype, &status, &rcode,
                     &ttl) == ANSWER_HANG) {
    e->hung = 1;
    mdspf__list_push_back(&z->hung, &e->link);
    return 0;
  }
  mdspf__free(&z->alloc, e, sizeof *e); /* before the callback can run */
  if (ttl >= 0) {
    mdspf_dns_set_ttl(q, (uint32_t)ttl);
  }
  mdspf_dns_done(q, status, rcode);
  return 1;
}

static int zone_query(void *impl, mdspf_dns_query *q, const char *name,
                      int rrtype, void **token) {
  mdspf_zone *z = impl;
  char key[MDSPF__MAX_NAME + 1];
  size_t kn;
  void *dummy;
  zone_entry *e;
  int status = MDSPF_DNS_ERROR, rcode = -1;
  long ttl = -1;
  if (!token) {
    token = &dummy;
  }
  *token = NULL;
  if (!z || !q || z->free_requested || z->closed) {
    return 1;
  }
  z->nqueries++;
  kn = name ? norm_name(name, strnlen(name, MDSPF__MAX_NAME + 2), key)
            : ZONE_BAD_NAME;
  if (kn == ZONE_BAD_NAME) {
    /* cannot be a DNS question: answer FORMERR at once */
    zone_enter(z);
    mdspf_dns_done(q, MDSPF_DNS_ERROR, 1);
    zone_leave(z);
    return 0;
  }
  if (z->delivery != MDSPF_ZONE_INLINE) {
    e = entry_new(z, q, key, kn, rrtype);
    if (!e) {
      return 1;
    }
    mdspf__list_push_back(&z->pending, &e->link);
    *token = e;
    return 0;
  }
  zone_enter(z);
  if (compute_answer(z, q, key, kn, rrtype, &status, &rcode, &ttl) ==
      ANSWER_HANG) {
    e = entry_new(z, q, key, kn, rrtype);
    if (e) {
      e->hung = 1;
      mdspf__list_push_back(&z->hung, &e->link);
      *token = e;
    }
    zone_leave(z);
    return e ? 0 : 1;
  }
  if (ttl >= 0) {
    mdspf_dns_set_ttl(q, (uint32_t)ttl);
  }
  mdspf_dns_done(q, status, rcode);
  zone_leave(z);
  return 0;
}

static void zone_cancel(void *impl, void *token) {
  mdspf_zone *z = impl;
  zone_entry *e = token;
  if (!z || !e) {
    return;
  }
  mdspf__list_remove(e->hung ? &z->hung : &z->pending, &e->link);
  mdspf__free(&z->alloc, e, sizeof *e);
}

/* The next entry to deliver among those queued before seq limit. */
static zone_entry *pick_entry(const mdspf_zone *z, uint64_t limit) {
  mdspf__link *k;
  if (z->delivery == MDSPF_ZONE_DEFERRED_LIFO) {
    /* the list is in seq order: skip entries queued during this call */
    for (k = z->pending.tail; k && ENTRY(k)->seq >= limit; k = k->prev) {
    }
    return k ? ENTRY(k) : NULL;
  }
  k = z->pending.head;
  return (k && ENTRY(k)->seq < limit) ? ENTRY(k) : NULL;
}

size_t mdspf_zone_process(mdspf_zone *z, size_t max) {
  uint64_t limit;
  size_t n = 0;
  if (!z || max == 0 || z->free_requested || z->closed) {
    return 0;
  }
  limit = z->seq; /* only what is queued now: callbacks may add more */
  zone_enter(z);
  while (n < max && !z->free_requested) {
    zone_entry *e = pick_entry(z, limit);
    if (!e) {
      break;
    }
    mdspf__list_remove(&z->pending, &e->link);
    n += (size_t)deliver(z, e);
  }
  zone_leave(z);
  return n;
}

static void sleep_ms(int ms) {
  struct timespec ts, rem;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &rem) != 0 && errno == EINTR) {
    ts = rem;
  }
}

static int zone_wait(void *impl, int timeout_ms) {
  mdspf_zone *z = impl;
  if (!z || z->closed) {
    return 1;
  }
  if (z->pending.count > 0) {
    (void)mdspf_zone_process(z, SIZE_MAX); /* z may be gone now */
    return 0;
  }
  if (z->hung.count > 0 && timeout_ms > 0) {
    sleep_ms(timeout_ms); /* nothing will ever arrive: just pass time */
  }
  return 0;
}

mdspf_status mdspf_zone_set_delivery(mdspf_zone *z, int mode) {
  if (!z || mode < MDSPF_ZONE_INLINE || mode > MDSPF_ZONE_DEFERRED_LIFO) {
    return MDSPF_E_INVAL;
  }
  z->delivery = mode; /* entries already queued stay queued */
  return MDSPF_OK;
}

size_t mdspf_zone_pending(const mdspf_zone *z) {
  return z ? z->pending.count : 0;
}

unsigned long mdspf_zone_queries(const mdspf_zone *z) {
  return z ? z->nqueries : 0;
}

const mdspf_resolver *mdspf_zone_resolver(mdspf_zone *z) {
  return z ? &z->resolver : NULL;
}

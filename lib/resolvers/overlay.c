/*
 * lib/resolvers/overlay.c -- the overlay resolver: (name, type) pairs that an
 * in-memory zone ("top") holds are answered from it, every other query
 * goes to another resolver ("below").  What-if checks publish a record in
 * top and evaluate through the overlay over the real DNS.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Routing
 * -------
 * query() asks mdspf_zone_has(top, name, type) at the moment the query is
 * sent: records of the type, a fault for it (or for every type) or a
 * CNAME at the name route it to top, anything else to below.  So a TXT
 * record published in top hides every TXT record of that name below,
 * while its A, MX, ... queries still go below.  A name that holds data in
 * top exists: when below answers NXDOMAIN for another type of it, the
 * overlay answers NODATA (rcode 0), as a server publishing the record
 * would.  (Names that exist only as parents of names in top are not
 * made to exist; SPF treats NXDOMAIN and NODATA alike in any case.)
 *
 * Tokens: one relay per forwarded query
 * -------------------------------------
 * cancel(impl, token) must reach the side that owns the query, but the
 * sides' tokens are opaque (a zone's is a pointer or NULL, another
 * backend's may be anything) and cannot be tagged.  And the answer goes
 * from a backend straight to mdspf_dns_done, so an overlay that handed
 * the library's query down could never tell when a query ended -- a
 * per-query record would leak or be touched after its query is gone.
 *
 * So the overlay never hands the library's query ("outer") down.  For
 * each query it allocates, through its allocator hook, a relay: a small
 * record holding the side, the side's token and an inner query of its
 * own (mdspf__dnsq_new) whose completion callback is the overlay's.  The
 * side answers the inner query; the callback copies the answer (records
 * through the public answer builders, which apply the same caps, then
 * status and rcode) into the outer query, frees the relay and completes
 * the outer query -- the last thing it does, since that may run check
 * callbacks.  The token given to the library is the relay.
 *
 * Every relay is on the overlay's list from query() until exactly one
 * of: the answer arrives (freed before the outer query completes),
 * cancel() (the side's cancel is called first, then it is freed),
 * query() fails at the side (freed before returning), or
 * mdspf_overlay_free() (cancelled at its side and freed).  An answer
 * delivered inline, inside the side's query(), is marked and the relay
 * freed when that query() returns, because the side may still write its
 * token; the side's token is stored in the relay only for a query still
 * pending.  The library never cancels a completed query, so cancel()
 * only sees live relays.  Nothing leaks, nothing is touched after free.
 *
 * wait() delivers top's deferred answers (then polls below without
 * waiting), else waits in below while below has queries out, else in
 * top (which only passes the time while a HANG fault holds a query).
 * When below has no wait(), the overlay has none either: nothing could
 * drive below's answers, so mdspf_check_run reports MDSPF_E_NOTSUP as it
 * would for below itself, and the host drives both sides.
 *
 * Re-entrancy: answers may run callbacks that query, cancel or free the
 * overlay; mdspf_overlay_free inside one of the overlay's own calls is
 * postponed until the outermost call returns (as mdspf_zone_free is).
 */
#include "core/dnsq.h"
#include "core/domain.h"
#include "core/resolver.h"
#include "resolvers/zone.h"
#include "util/list.h"

#include <string.h>

enum { SIDE_TOP = 0, SIDE_BELOW = 1 };

typedef struct relay {
  mdspf__link link; /* on the overlay's list of live relays */
  mdspf_overlay *o;
  mdspf_dns_query *outer; /* the library's query */
  mdspf_dns_query *inner; /* ours, answered by the side */
  void *token;            /* the side's token (pending queries only) */
  int side;               /* SIDE_TOP or SIDE_BELOW */
  int exists_top;         /* below, but top holds other types of the name */
  int in_query;           /* inside the side's query() */
  int answered;           /* answered inline, inside that query() */
} relay;

struct mdspf_overlay {
  mdspf__allocator alloc;
  mdspf_zone *top;
  mdspf_resolver below; /* copy of the caller's vtable */
  mdspf_resolver res;   /* the overlay's own vtable */
  mdspf__list live; /* relays */
  size_t n_live[2]; /* live relays per side */
  unsigned busy;    /* nesting depth of query/cancel/wait calls */
  int free_requested;
  int closed;    /* freed by its user: refuses queries, holds no sides */
  unsigned refs; /* the user's, plus one per holder of its vtable */
};

static int ov_query(void *impl, mdspf_dns_query *q, const char *name,
                    int rrtype, void **token);
static void ov_cancel(void *impl, void *token);
static int ov_wait(void *impl, int timeout_ms);
static void ov_ref(void *impl);
static void ov_unref(void *impl);

mdspf_status mdspf_overlay_new(mdspf_alloc_fn alloc, void *alloc_ud, mdspf_zone *top,
                      const mdspf_resolver *below, mdspf_overlay **out) {
  mdspf__allocator a;
  mdspf_overlay *o;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  if (!top || !mdspf__resolver_ok(below) || mdspf__zone_closed(top)) {
    return MDSPF_E_INVAL;
  }
  mdspf__allocator_init(&a, alloc, alloc_ud);
  o = mdspf__alloc(&a, sizeof *o);
  if (!o) {
    return MDSPF_E_NOMEM;
  }
  o->alloc = a;
  o->refs = 1;
  o->top = mdspf__zone_ref(top);
  mdspf__resolver_hold(&o->below, below);
  o->res.version = MDSPF_RESOLVER_V2;
  o->res.impl = o;
  o->res.query = ov_query;
  o->res.cancel = ov_cancel;
  o->res.ref = ov_ref;
  o->res.unref = ov_unref;
  /* Without a wait() below, nothing could drive below's answers: the
   * overlay then has none either (mdspf_check_run reports NOTSUP, as it
   * would for below itself) and the host drives both sides. */
  o->res.wait = below->wait ? ov_wait : NULL;
  *out = o;
  return MDSPF_OK;
}

const mdspf_resolver *mdspf_overlay_resolver(mdspf_overlay *o) {
  return o ? &o->res : NULL;
}

static const mdspf_resolver *side_res(const mdspf_overlay *o, int side) {
  return side == SIDE_TOP ? mdspf_zone_resolver(o->top) : &o->below;
}

static void relay_link(mdspf_overlay *o, relay *r) {
  mdspf__list_push_front(&o->live, &r->link);
  o->n_live[r->side]++;
}

static void relay_unlink(mdspf_overlay *o, relay *r) {
  mdspf__list_remove(&o->live, &r->link);
  o->n_live[r->side]--;
}

static void relay_free(mdspf_overlay *o, relay *r) {
  mdspf__dnsq_free(r->inner);
  mdspf__free(&o->alloc, r, sizeof *r);
}

/* The handle goes with the last reference (contexts hold some), once no
 * call of the overlay is on the stack. */
static void maybe_destroy(mdspf_overlay *o) {
  if (o->refs == 0 && o->busy == 0) {
    mdspf__allocator a = o->alloc;
    mdspf__free(&a, o, sizeof *o);
  }
}

static void ov_ref(void *impl) { ((mdspf_overlay *)impl)->refs++; }

static void ov_unref(void *impl) {
  mdspf_overlay *o = impl;
  o->refs--;
  maybe_destroy(o);
}

/* The user's free, and the teardown rule of every resolver: each query
 * still in flight is withdrawn from its side and completed with a
 * temporary failure; from then on queries are refused.  Completions may
 * run callbacks: they may cancel other relays or query again.  The
 * sides are let go; the handle stays while references remain. */
static void ov_close(mdspf_overlay *o) {
  if (o->closed) {
    return;
  }
  o->closed = 1;
  o->busy++; /* a free from a callback is ignored; no destroy meanwhile */
  while (o->live.head) {
    relay *r = MDSPF__CONTAINER(o->live.head, relay, link);
    const mdspf_resolver *s = side_res(o, r->side);
    mdspf_dns_query *outer = r->outer;
    relay_unlink(o, r);
    s->cancel(s->impl, r->token);
    relay_free(o, r);
    mdspf_dns_done(outer, MDSPF_DNS_TEMPFAIL, -1);
  }
  mdspf__resolver_release(&o->below);
  mdspf__zone_unref(o->top);
  o->top = NULL;
  o->busy--;
  ov_unref(o); /* the user's reference */
}

void mdspf_overlay_free(mdspf_overlay *o) {
  if (!o || o->closed) {
    return;
  }
  if (o->busy) {
    o->free_requested = 1; /* inside one of our calls: free on exit */
    return;
  }
  ov_close(o);
}

static void enter(mdspf_overlay *o) { o->busy++; }

/* Leave an overlay call; performs a free requested meanwhile.  o must
 * not be used after this returns. */
static void leave(mdspf_overlay *o) {
  if (--o->busy == 0) {
    if (o->free_requested) {
      o->free_requested = 0;
      ov_close(o);
    } else {
      maybe_destroy(o);
    }
  }
}

/* The side answered the inner query: relay the answer to the outer one.
 * Called from inside mdspf_dns_done(inner), which does not touch inner
 * after this returns, so inner may be freed here. */
static void on_inner_done(mdspf_dns_query *inner, void *ud) {
  relay *r = ud;
  mdspf_overlay *o = r->o;
  mdspf_dns_query *outer = r->outer;
  int status = inner->status, rcode = inner->rcode;
  if (r->exists_top && status == MDSPF_DNS_NXDOMAIN) {
    status = MDSPF_DNS_NODATA; /* the name exists once top is published */
    rcode = 0;
  }
  mdspf__dnsq_replay(outer, inner->data, inner->len);
  if (inner->has_ttl) {
    mdspf_dns_set_ttl(outer, inner->ttl); /* for a cache above */
  }
  relay_unlink(o, r);
  if (r->in_query) {
    r->answered = 1; /* ov_query frees it once the side's query() returns */
  } else {
    relay_free(o, r);
  }
  mdspf_dns_done(outer, status, rcode); /* last: may run check callbacks */
}

static int ov_query(void *impl, mdspf_dns_query *q, const char *name,
                    int rrtype, void **token) {
  mdspf_overlay *o = impl;
  const mdspf_resolver *s;
  relay *r;
  void *tok = NULL;
  void *dummy;
  int rc;
  if (!token) {
    token = &dummy;
  }
  *token = NULL;
  if (!o || !q || !name || o->free_requested || o->closed ||
      mdspf__zone_closed(o->top)) {
    return 1;
  }
  r = mdspf__alloc(&o->alloc, sizeof *r);
  if (!r) {
    return 1;
  }
  r->inner =
      mdspf__dnsq_new(&o->alloc, name, strnlen(name, MDSPF__MAX_NAME + 2),
                      rrtype, on_inner_done, r);
  if (!r->inner) {
    mdspf__free(&o->alloc, r, sizeof *r);
    return 1;
  }
  r->inner->state = MDSPF__Q_PENDING;
  r->o = o;
  r->outer = q;
  r->side = mdspf_zone_has(o->top, name, rrtype) ? SIDE_TOP : SIDE_BELOW;
  r->exists_top = r->side == SIDE_BELOW && mdspf_zone_has(o->top, name, 0);
  relay_link(o, r);
  s = side_res(o, r->side);
  enter(o);
  r->in_query = 1;
  rc = s->query(s->impl, r->inner, r->inner->name, rrtype, &tok);
  r->in_query = 0;
  if (r->answered) {
    relay_free(o, r); /* answered inline: already unlinked */
  } else if (rc != 0) {
    relay_unlink(o, r); /* refused: the side never answers */
    relay_free(o, r);
  } else {
    r->token = tok;
    *token = r;
  }
  leave(o);
  return rc;
}

static void ov_cancel(void *impl, void *token) {
  mdspf_overlay *o = impl;
  relay *r = token;
  const mdspf_resolver *s;
  if (!o || !r) {
    return;
  }
  s = side_res(o, r->side);
  enter(o);
  relay_unlink(o, r);
  s->cancel(s->impl, r->token);
  relay_free(o, r);
  leave(o);
}

/* Drive both sides for at most timeout_ms: deferred answers of top are
 * delivered at once (then below is polled without waiting); otherwise
 * below waits when it has queries out, else top (whose wait only passes
 * the time while a HANG fault holds a query). */
static int ov_wait(void *impl, int timeout_ms) {
  mdspf_overlay *o = impl;
  const mdspf_resolver *top = NULL;
  int rc = 0;
  if (!o || o->free_requested || o->closed) {
    return 1;
  }
  top = mdspf_zone_resolver(o->top);
  enter(o);
  if (mdspf_zone_pending(o->top) > 0) {
    (void)mdspf_zone_process(o->top, SIZE_MAX);
    if (o->n_live[SIDE_BELOW] > 0 && !o->free_requested && !o->closed) {
      rc = o->below.wait(o->below.impl, 0);
    }
  } else if (o->n_live[SIDE_BELOW] > 0 || o->n_live[SIDE_TOP] == 0) {
    rc = o->below.wait(o->below.impl, timeout_ms);
  } else {
    rc = top->wait(top->impl, timeout_ms);
  }
  leave(o);
  return rc;
}

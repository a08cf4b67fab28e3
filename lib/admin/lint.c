/*
 * lib/admin/lint.c -- the record linter: what a mail administrator needs to
 * know about an SPF record, found the way a receiver would find it.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The walk.  Node 0 is the linted record: fetched (mdspf_lint_domain) or
 * given (mdspf_lint_record).  Each record is parsed and checked on its
 * own (the static checks), then every include and redirect target
 * without request-dependent macros becomes a child node whose TXT record
 * is fetched in turn.  The tree is fetched level by level: all the
 * queries of one level are issued (at most LINT_INFLIGHT at a time), the
 * driver waits until every answer is in, and only then are the answers
 * handled -- in the order the queries were created, which is the order
 * of the terms.  Once the tree is complete, the targets of a, mx and
 * exists (and the exp= target of the records whose result is final) are
 * looked up in one more round, walking the tree in pre-order.  So the
 * answers may arrive inline, later or in any order: the diagnostics, the
 * node numbering (pre-order) and the counts come out the same.
 *
 * What is evaluated.  Terms after the first "all" never run, so they are
 * reported (AFTER_ALL) but neither counted nor followed; a redirect= in a
 * record with "all" is ignored by receivers, so it is reported
 * (REDIRECT_IGNORED) but neither counted nor followed either.  Lookups
 * are counted as RFC 7208 4.6.4 counts them: include, a, mx, ptr, exists
 * and redirect, one each, wherever they are in the tree; an include or
 * redirect whose target has macros costs its one lookup and its subtree
 * is unknown (MACRO_TARGET).  Only %{d} is expanded (it is the domain of
 * the record that holds it); any other macro letter makes the target
 * depend on the request.
 *
 * Void lookups: the target of "a" is void when it has neither A nor
 * AAAA records (a receiver asks only one of them, for the client's
 * family, so a name with only one kind is void for the other family --
 * not reported); "mx" when there is no MX record; "exists" when there is
 * no A record.  Each void target is a warning; more than the context's
 * void limit (2) is an error.  The address records of the MX hosts are
 * not looked up.  Records of included domains are not checked for a
 * missing or neutral "all" (an include only looks at "pass"), and their
 * exp= is not looked up (RFC 7208 6.2: it is never used); "+all" is an
 * error anywhere.
 *
 * PTR names.  How many names the PTR lookup of a ptr mechanism or of
 * %{p} gives depends on the connecting client, so TOO_MANY_PTR needs one
 * (mdspf_lint_set_client; kept across runs, unlike everything else).
 * With a client, a domain and a tree whose evaluated terms use PTR names
 * -- a ptr mechanism before "all", or %{p} in the target of a mechanism
 * before "all" or of an effective redirect= (exp= is left out: it only
 * shapes the explanation, never the result) -- the client's reverse name
 * is looked up once, in the target round, and more names than the
 * context's PTR-name limit is a warning on the first such term in the
 * order a receiver meets them (an include's terms before the including
 * record's later terms, redirect= last).  Names are counted as the
 * evaluator takes them (queryable ones only).  A failed PTR lookup is
 * reported like any other failed lookup (DNS_ERROR on that term: the
 * names could not be counted, although receivers take such a failure as
 * no match rather than temperror) and nothing else; a PTR answer without
 * names (NXDOMAIN, NODATA) is neither reported nor counted as a void
 * lookup (receivers count it, but it says nothing about the record).
 * Without a client (and outside static mode), the ptr-deprecated
 * message of an evaluated ptr says that the names were not counted.
 *
 * Bounds.  Nodes: at most max(64, DNS-term limit + 2) -- more nodes than
 * limit + 1 means more include/redirect lookups than the limit, so a
 * truncated tree is always reported as TOO_MANY_LOOKUPS ("at least").
 * Record text kept across the tree: LINT_TEXT_BUDGET octets (a record
 * that does not fit is not examined: DNS_ERROR).  Queries: one TXT per
 * node, one exp TXT per final node, one TXT for mdspf_lint_record's
 * answer-size estimate, at most 2 x (limit + 1) for a/mx/exists targets
 * (beyond that the lookup count is over the limit anyway) and one PTR
 * for the client.  At most LINT_INFLIGHT queries are outstanding at once
 * (each answer is capped at MDSPF_MAX_ANSWER_BYTES by the query object).
 * Diagnostics: at most LINT_PER_CODE per code (the worst severity still
 * counts every one).  Duplicates and overlaps are looked for among the
 * first LINT_PAIR_MAX terms of a record.  Every query is completed, or
 * cancelled, and freed before mdspf_lint_domain / mdspf_lint_record
 * return.
 *
 * Sizes.  The answer to a TXT query is estimated as a server would send
 * it without EDNS0: the 12-octet header, the question, and every TXT RR
 * of the name (owner as a 2-octet compression pointer, 10 octets of
 * type, class, TTL and length, the text split into strings of at most
 * 255 octets, each with its length octet); over 512 octets is
 * TOO_LARGE_UDP.  Answers arrive with their strings already joined, so
 * LONG_STRING (a string over 255 octets) is only checked for the text
 * given to mdspf_lint_record, which must fit in one string or be split.
 * With mdspf_lint_record and a domain, the name's other (non-SPF) TXT
 * records count towards the answer; without a domain the question is
 * counted as the root name.
 */
#include "core/addr.h"
#include "core/engine.h"
#include "core/macro.h"
#include "core/terms.h"
#include "util/chars.h"
#include "util/strbuf.h"

#include <limits.h>
#include <string.h>

#define LINT_INFLIGHT 32
#define LINT_MIN_NODES 64
#define LINT_TEXT_BUDGET (128u * 1024u)
#define LINT_PER_CODE 64
#define LINT_NCODES 24 /* codes are 1..23 */
#define LINT_UDP_MAX 512
#define LINT_STRING_MAX 255
#define LINT_MSG_MAX 1024
#define LINT_ECHO_MAX 120   /* longest piece of record text in a message */
#define LINT_PAIR_MAX 1024  /* terms compared pairwise (duplicate, overlap) */
#define LINT_IP_TEXT_MAX 63 /* longest client address text accepted */
#define LINT_HOST_BUDGET 64 /* address lookups of MX hosts per run */

/* What a lookup is for. */
enum {
  P_NODE = 1, /* the TXT record of a node */
  P_UDP,      /* mdspf_lint_record: the other TXT records of the name */
  P_A,        /* "a" target: A (always followed by its P_AAAA) */
  P_AAAA,
  P_MX,     /* "mx" target */
  P_EXISTS, /* "exists" target */
  P_EXP,    /* exp= target */
  P_PTR,    /* the client's PTR names (first term that uses them) */
  P_HOST_A, /* an MX host of an "mx" target: A (then its P_HOST_AAAA) */
  P_HOST_AAAA
};

/* The rounds of a run: the include/redirect tree level by level, then
 * the targets (and after them the MX hosts' addresses). */
enum { PH_TREE = 1, PH_TARGETS = 2 };

enum { E_NEW = 0, E_SENT = 1, E_OVER = 2 };

typedef struct lq {
  mdspf_dns_query *q; /* NULL before issue, after cancel and when freed */
  int purpose;
  int rrtype;
  int state;
  size_t node;   /* creation index of the node the lookup serves */
  uint32_t term; /* term index in that node's record */
  int refused;   /* the backend refused the query */
  int lost;      /* cancelled: no answer within the time or backend died */
  int unasked;   /* never sent: the lint had already stopped */
  char name[MDSPF__MAX_NAME + 1];
} lq;

typedef struct lnode {
  size_t parent; /* creation index until renumbering */
  int via;       /* 0, MDSPF_TERM_INCLUDE, MDSPF_TERM_REDIRECT */
  int term;      /* term index in the parent's record, -1 for node 0 */
  int final_;    /* its result is the check's result (root, redirects) */
  char *domain;  /* normalised; NULL for a record linted without one */
  char *text;
  size_t text_len;
  mdspf_record *rec;
  int all_idx; /* first "all" term, -1 if none */
  unsigned own, sub;
} lnode;

typedef struct ldiag {
  int sev, code;
  size_t node, off, len;
  char *msg;
} ldiag;

struct mdspf_lint {
  mdspf__job job; /* first: the engine's handle */
  mdspf_ctx *ctx;
  mdspf__allocator alloc;
  mdspf__config *cfg; /* the snapshot of the run; NULL between runs */
  /* settings: kept across runs */
  int client_family; /* 4 or 6; 0: no client */
  uint8_t client_ip[16];
  char client_text[46]; /* canonical text, for messages */
  /* the run as a job */
  int state; /* MDSPF__CS_* */
  mdspf_lint_cb cb;
  void *user;
  int in_cb, in_run, free_req, notified;
  mdspf_status status; /* of the finished run */
  int phase;           /* PH_* */
  size_t from, to;     /* the round being fetched: qs[from, to) */
  size_t next;         /* the next of them to send */
  /* results */
  lnode *nodes;
  size_t nnodes, max_nodes;
  ldiag *diags;
  size_t ndiags, diags_cap;
  unsigned code_count[LINT_NCODES];
  int worst;
  unsigned lookups, voids;
  /* run */
  lq *qs;
  size_t nqs, qs_cap;
  size_t *scratch; /* 2 * max_nodes: renumbering */
  size_t inflight;
  int timeout_ms;
  int is_static; /* mdspf_lint_record without a domain: no DNS */
  int truncated; /* a child was not created: node cap */
  int nomem;     /* an allocation failed: the run ends in E_NOMEM */
  int stopped;   /* 1 time out, 2 backend failure: no more queries */
  size_t text_total;
  unsigned target_queries, target_budget, host_queries;
};

/* ---- small helpers ------------------------------------------------------- */

static long limit_of(const mdspf_lint *l, int which) {
  return l->cfg->limits[which];
}

static int is_failed(int st) {
  return st == MDSPF_DNS_TEMPFAIL || st == MDSPF_DNS_ERROR;
}

static int is_void(int st) {
  return st == MDSPF_DNS_NXDOMAIN || st == MDSPF_DNS_NODATA;
}

/* ---- messages ------------------------------------------------------------ */

typedef struct msg {
  char buf[LINT_MSG_MAX];
  mdspf__sbuf sb;
} msg;

static void m_init(msg *m) { mdspf__sbuf_init(&m->sb, m->buf, sizeof m->buf); }
static void m_s(msg *m, const char *s) { mdspf__sbuf_puts(&m->sb, s); }
static void m_u(msg *m, unsigned long v) { mdspf__sbuf_putu(&m->sb, v); }

/* Text from outside (records, names): printable ASCII, anything else as
 * '?', cut at LINT_ECHO_MAX octets. */
static void m_safe(msg *m, const char *s, size_t n) {
  size_t i, k = n > LINT_ECHO_MAX ? LINT_ECHO_MAX : n;
  for (i = 0; i < k; i++) {
    unsigned char c = (unsigned char)s[i];
    mdspf__sbuf_putc(&m->sb, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
  }
  if (k < n) {
    m_s(m, "...");
  }
}

static void m_safes(msg *m, const char *s) { m_safe(m, s, strlen(s)); }

/* A term as written. */
static void m_term(msg *m, const mdspf_record *rec, size_t i) {
  const mdspf__term *t = &rec->terms[i];
  m_safe(m, rec->pool + t->off, t->len);
}

/* The domain a node stands for, or "the record" without one. */
static void m_who(msg *m, const lnode *nd) {
  if (nd->domain) {
    m_safes(m, nd->domain);
  } else {
    m_s(m, "the record");
  }
}

static const char *rcode_name(int rcode) {
  switch (rcode) {
  case 1:
    return "FORMERR";
  case 2:
    return "SERVFAIL";
  case 4:
    return "NOTIMP";
  case 5:
    return "REFUSED";
  default:
    return NULL;
  }
}

/* Why a lookup gave no usable answer. */
static void m_why(msg *m, const mdspf_lint *l, const lq *e) {
  if (e->unasked) {
    m_s(m, l->stopped == 2 ? "not asked: the resolver had failed"
                           : "not asked: the time had run out");
  } else if (e->lost && l->stopped == 2) {
    m_s(m, "the resolver failed");
  } else if (e->lost) {
    m_s(m, "timed out, no answer within ");
    m_u(m, (unsigned long)l->timeout_ms);
    m_s(m, " ms");
  } else if (e->refused) {
    m_s(m, "the resolver refused the query");
  } else {
    const char *rc = rcode_name(e->q ? e->q->rcode : -1);
    int st = e->q ? e->q->status : MDSPF_DNS_TEMPFAIL;
    m_s(m, st == MDSPF_DNS_ERROR ? "unusable answer" : "temporary failure");
    if (rc) {
      m_s(m, " (");
      m_s(m, rc);
      m_s(m, ")");
    }
  }
}

/* ---- diagnostics --------------------------------------------------------- */

static void add_diag(mdspf_lint *l, int sev, int code, size_t node, size_t off,
                     size_t len, const msg *m) {
  ldiag *d;
  if (sev > l->worst) {
    l->worst = sev;
  }
  if (code <= 0 || code >= LINT_NCODES ||
      l->code_count[code] >= LINT_PER_CODE) {
    return;
  }
  if (l->ndiags == l->diags_cap) {
    size_t ncap = l->diags_cap ? l->diags_cap * 2 : 16;
    ldiag *nd =
        mdspf__realloc(&l->alloc, l->diags, l->diags_cap * sizeof *l->diags,
                       ncap * sizeof *l->diags);
    if (!nd) {
      l->nomem = 1;
      return;
    }
    l->diags = nd;
    l->diags_cap = ncap;
  }
  d = &l->diags[l->ndiags];
  d->msg = mdspf__strndup(&l->alloc, m->buf, m->sb.len);
  if (!d->msg) {
    l->nomem = 1;
    return;
  }
  d->sev = sev;
  d->code = code;
  d->node = node;
  d->off = off;
  d->len = len;
  l->ndiags++;
  l->code_count[code]++;
}

/* A diagnostic about term i of node n. */
static void term_diag(mdspf_lint *l, int sev, int code, size_t n, size_t i,
                      const msg *m) {
  const mdspf__term *t = &l->nodes[n].rec->terms[i];
  add_diag(l, sev, code, n, t->off, t->len, m);
}

/* Where a diagnostic about fetching node n goes: node 0 itself (whole),
 * else the include/redirect term of the parent that leads to it. */
static void fetch_diag(mdspf_lint *l, int sev, int code, size_t n,
                       const msg *m) {
  const lnode *nd = &l->nodes[n];
  if (n == 0) {
    add_diag(l, sev, code, 0, 0, 0, m);
  } else {
    term_diag(l, sev, code, nd->parent, (size_t)nd->term, m);
  }
}

/* "include:x.example: " or "x.example: " before a fetch message. */
static void m_fetch_prefix(msg *m, const mdspf_lint *l, size_t n) {
  const lnode *nd = &l->nodes[n];
  if (n == 0) {
    m_who(m, nd);
  } else {
    m_term(m, l->nodes[nd->parent].rec, (size_t)nd->term);
  }
  m_s(m, ": ");
}

/* ---- state --------------------------------------------------------------- */

/* Cancel (at the backend) and free the queries [from, to). */
static void free_queries(mdspf_lint *l, size_t from, size_t to) {
  size_t i;
  for (i = from; i < to && i < l->nqs; i++) {
    lq *e = &l->qs[i];
    if (e->q) {
      if (e->q->state == MDSPF__Q_PENDING) {
        l->cfg->res.cancel(l->cfg->res.impl, e->q->token);
        if (l->inflight) {
          l->inflight--;
        }
      }
      mdspf__dnsq_free(e->q);
      e->q = NULL;
    }
  }
}

/* Free the queries and the snapshot of a run that ended. */
static void release_run(mdspf_lint *l) {
  if (l->cfg) {
    free_queries(l, 0, l->nqs);
    mdspf__config_unref(l->cfg);
    l->cfg = NULL;
  }
}

/* Free the results of the last run. */
static void reset(mdspf_lint *l) {
  size_t i;
  const mdspf__allocator *a = &l->alloc;
  release_run(l);
  for (i = 0; i < l->nnodes; i++) {
    lnode *nd = &l->nodes[i];
    if (nd->domain) {
      mdspf__strfree(a, nd->domain);
    }
    if (nd->text) {
      mdspf__free(a, nd->text, nd->text_len + 1);
    }
    mdspf_record_unref(nd->rec);
  }
  mdspf__free(a, l->nodes, l->max_nodes * sizeof *l->nodes);
  mdspf__free(a, l->scratch, 2 * l->max_nodes * sizeof *l->scratch);
  for (i = 0; i < l->ndiags; i++) {
    mdspf__strfree(a, l->diags[i].msg);
  }
  mdspf__free(a, l->diags, l->diags_cap * sizeof *l->diags);
  mdspf__free(a, l->qs, l->qs_cap * sizeof *l->qs);
  memset(l->code_count, 0, sizeof l->code_count);
  l->nodes = NULL;
  l->scratch = NULL;
  l->diags = NULL;
  l->qs = NULL;
  l->nnodes = l->max_nodes = l->ndiags = l->diags_cap = 0;
  l->nqs = l->qs_cap = 0;
  l->inflight = 0;
  l->worst = -1;
  l->lookups = l->voids = 0;
  l->is_static = l->truncated = l->nomem = l->stopped = 0;
  l->text_total = 0;
  l->target_queries = l->target_budget = l->host_queries = 0;
}

static void lint_destroy(mdspf_lint *l) {
  mdspf__allocator a = l->alloc;
  reset(l);
  mdspf__job_detach(&l->job); /* may destroy the context */
  mdspf__free(&a, l, sizeof *l);
}

static void lint_advance(mdspf_lint *l);

static void lint_step(mdspf__job *j) {
  mdspf_lint *l = (mdspf_lint *)(void *)j;
  if (l->state == MDSPF__CS_RUNNING) {
    lint_advance(l);
  }
  if (l->state == MDSPF__CS_DONE && !l->notified) {
    l->notified = 1;
    if (l->cb) {
      l->in_cb = 1;
      MDSPF__CALLBACK(l->ctx, l->cb(l, l->user));
      l->in_cb = 0;
    }
  }
  if (l->state == MDSPF__CS_CANCELLED) {
    reset(l); /* a cancelled run has no results */
  } else if (l->state == MDSPF__CS_DONE) {
    release_run(l);
  }
  if (l->free_req && !l->in_run && !l->in_cb) {
    lint_destroy(l);
  }
}

/* Stop a running lint without a callback; the drain frees what it has. */
static void lint_cancel_mark(mdspf_lint *l, mdspf_status why) {
  if (l->state != MDSPF__CS_RUNNING) {
    return;
  }
  l->state = MDSPF__CS_CANCELLED;
  l->status = why;
  l->notified = 1;
  mdspf__job_clear_deadline(&l->job);
  mdspf__job_wake(&l->job);
}

/* The time ran out (1) or the resolver failed (2): what has not been
 * answered is lost, what has not been sent is never sent, and the run
 * finishes with what it has. */
static void lint_stop(mdspf_lint *l, int why) {
  if (l->state == MDSPF__CS_RUNNING && !l->stopped) {
    l->stopped = why;
    mdspf__job_wake(&l->job);
  }
}

static void lint_expire(mdspf__job *j) { lint_stop((mdspf_lint *)(void *)j, 1); }

static void lint_abort(mdspf__job *j) {
  mdspf_lint *l = (mdspf_lint *)(void *)j;
  l->notified = 1; /* no callback once the context is being freed */
  lint_cancel_mark(l, MDSPF_E_CANCELLED);
}

static const mdspf__job_ops lint_ops = {lint_step, lint_expire, lint_abort};

mdspf_status mdspf_lint_new(mdspf_ctx *ctx, mdspf_lint **out) {
  mdspf_lint *l;
  if (out) {
    *out = NULL;
  }
  if (!ctx || !out) {
    return MDSPF_E_INVAL;
  }
  if (ctx->closed) {
    return MDSPF_E_STATE;
  }
  l = mdspf__alloc(&ctx->alloc, sizeof *l);
  if (!l) {
    return MDSPF_E_NOMEM;
  }
  l->ctx = ctx;
  l->alloc = ctx->alloc;
  l->worst = -1;
  (void)mdspf__job_attach(ctx, &l->job, &lint_ops);
  *out = l;
  return MDSPF_OK;
}

void mdspf_lint_free(mdspf_lint *l) {
  mdspf_ctx *ctx;
  if (!l || l->free_req) {
    return;
  }
  ctx = l->ctx;
  mdspf__engine_enter(ctx);
  lint_cancel_mark(l, MDSPF_E_CANCELLED);
  l->free_req = 1;
  l->notified = 1;
  mdspf__job_wake(&l->job);
  mdspf__engine_leave(ctx); /* l, and ctx, may be gone */
}

void mdspf_lint_cancel(mdspf_lint *l) {
  mdspf_ctx *ctx;
  if (!l || l->state != MDSPF__CS_RUNNING) {
    return;
  }
  ctx = l->ctx;
  mdspf__engine_enter(ctx);
  lint_cancel_mark(l, MDSPF_E_CANCELLED);
  mdspf__engine_leave(ctx);
}

int mdspf_lint_done(const mdspf_lint *l) {
  return l && l->state == MDSPF__CS_DONE;
}

mdspf_status mdspf_lint_status(const mdspf_lint *l) {
  if (!l) {
    return MDSPF_E_INVAL;
  }
  if (l->state == MDSPF__CS_NEW || l->state == MDSPF__CS_RUNNING) {
    return MDSPF_E_STATE;
  }
  return l->status;
}

mdspf_status mdspf_lint_set_client(mdspf_lint *l, const char *ip) {
  uint8_t a[16];
  int fam;
  size_t n;
  if (!l) {
    return MDSPF_E_INVAL;
  }
  if (l->state == MDSPF__CS_RUNNING) {
    return MDSPF_E_STATE;
  }
  if (!ip) {
    l->client_family = 0;
    return MDSPF_OK;
  }
  n = strnlen(ip, LINT_IP_TEXT_MAX + 1);
  if (n > LINT_IP_TEXT_MAX || !mdspf__ip_parse(ip, n, 1, &fam, a)) {
    return MDSPF_E_INVAL; /* the previous setting stays */
  }
  l->client_family = fam;
  memcpy(l->client_ip, a, sizeof l->client_ip);
  if (fam == 4) {
    mdspf__ip4_format(a, l->client_text);
  } else {
    mdspf__ip6_format(a, l->client_text);
  }
  return MDSPF_OK;
}

/* New node; the caller has checked the node cap. */
static size_t new_node(mdspf_lint *l, size_t parent, int via, int term,
                       const char *domain) {
  size_t n = l->nnodes;
  lnode *nd = &l->nodes[n];
  memset(nd, 0, sizeof *nd);
  nd->parent = parent;
  nd->via = via;
  nd->term = term;
  nd->all_idx = -1;
  if (domain) {
    nd->domain = mdspf__strdup(&l->alloc, domain);
    if (!nd->domain) {
      l->nomem = 1;
    }
  }
  l->nnodes++;
  return n;
}

/* Queue a lookup (the caller has checked the capacity and the name). */
static void add_lookup(mdspf_lint *l, int purpose, int rrtype, size_t node,
                       size_t term, const char *name) {
  lq *e;
  if (l->nqs >= l->qs_cap) {
    return; /* cannot happen: qs_cap covers every bounded purpose */
  }
  e = &l->qs[l->nqs++];
  memset(e, 0, sizeof *e);
  e->purpose = purpose;
  e->rrtype = rrtype;
  e->node = node;
  e->term = (uint32_t)term;
  memcpy(e->name, name, strlen(name) + 1);
}

/* ---- driving the resolver ------------------------------------------------ */

static void on_answer(mdspf_dns_query *q, void *ud) {
  mdspf_lint *l = ud;
  mdspf_ctx *ctx = l->ctx;
  (void)q;
  if (l->inflight) {
    l->inflight--;
  }
  mdspf__engine_enter(ctx);
  mdspf__job_wake(&l->job); /* the drain looks at the state */
  mdspf__engine_leave(ctx);
}

static void issue(mdspf_lint *l, lq *e) {
  const mdspf_resolver *res = &l->cfg->res;
  mdspf_dns_query *q;
  int rc;
  q = mdspf__dnsq_new(&l->alloc, e->name, strlen(e->name), e->rrtype, on_answer,
                      l);
  e->state = E_SENT;
  if (!q) {
    l->nomem = 1; /* names are checked queryable when queued */
    e->unasked = 1;
    return;
  }
  e->q = q;
  q->state = MDSPF__Q_PENDING;
  l->inflight++;
  rc = res->query(res->impl, q, q->name, e->rrtype, &q->token);
  if (rc != 0 && q->state != MDSPF__Q_DONE) {
    e->refused = 1;
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, -1);
  }
}

/* The round [from, to) is over: whatever has not answered is cancelled
 * (lost), whatever was not sent never will be (unasked). */
static void settle(mdspf_lint *l, size_t from, size_t to) {
  size_t i;
  for (i = from; i < to; i++) {
    lq *e = &l->qs[i];
    if (e->state == E_NEW) {
      e->state = E_SENT;
      e->unasked = 1;
    } else if (e->q && e->q->state == MDSPF__Q_PENDING) {
      l->cfg->res.cancel(l->cfg->res.impl, e->q->token);
      mdspf__dnsq_free(e->q);
      e->q = NULL;
      e->lost = 1;
      if (l->inflight) {
        l->inflight--;
      }
    }
  }
}

/* Status of a finished lookup: TEMPFAIL when it never answered. */
static int lq_status(mdspf_lint *l, const lq *e) {
  if (!e->q || e->q->state != MDSPF__Q_DONE) {
    return MDSPF_DNS_TEMPFAIL;
  }
  if (e->q->nomem) {
    l->nomem = 1; /* the answer could not be stored */
  }
  return e->q->status;
}

/* ---- estimates ----------------------------------------------------------- */

/* Octets of one TXT RR holding len octets of text, split into strings of
 * at most 255 octets, its owner name compressed to a pointer. */
static size_t txt_rr_size(size_t len) {
  size_t strings = len == 0 ? 1 : (len + LINT_STRING_MAX - 1) / LINT_STRING_MAX;
  return 2 + 10 + len + strings;
}

/* Octets of the whole answer to "name TXT": header, question, RRs. */
static size_t answer_size(const char *name, size_t rr_total) {
  size_t qname = name ? strlen(name) + 2 : 1;
  return 12 + qname + 4 + rr_total;
}

static void udp_check(mdspf_lint *l, size_t n, size_t rr_total) {
  size_t size = answer_size(l->nodes[n].domain, rr_total);
  msg m;
  if (size <= LINT_UDP_MAX) {
    return;
  }
  m_init(&m);
  m_who(&m, &l->nodes[n]);
  m_s(&m, ": the answer to its TXT query is about ");
  m_u(&m, (unsigned long)size);
  m_s(&m, " octets; over 512 it needs EDNS0 or TCP, which some receivers "
          "lack");
  add_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_TOO_LARGE_UDP, n, 0, 0, &m);
}

/* ---- static checks of one record ----------------------------------------- */

static int has_host_bits(const uint8_t *a, unsigned nbytes, unsigned bits) {
  unsigned k;
  for (k = 0; k < nbytes; k++) {
    unsigned keep = bits > 8 * k ? bits - 8 * k : 0;
    unsigned m = keep >= 8   ? 0xffu
                 : keep == 0 ? 0u
                             : (0xffu << (8 - keep)) & 0xffu;
    if (a[k] & ~m & 0xffu) {
      return 1;
    }
  }
  return 0;
}

static unsigned prefix_of(const mdspf__term *t) {
  if (t->kind == MDSPF_TERM_IP4) {
    return t->cidr4 >= 0 ? (unsigned)t->cidr4 : 32u;
  }
  return t->cidr6 >= 0 ? (unsigned)t->cidr6 : 128u;
}

/* Identical terms: same kind, qualifier, target and CIDR lengths. */
static int same_term(const mdspf_record *r, const mdspf__term *a,
                     const mdspf__term *b) {
  const char *va, *vb;
  if (a->kind != b->kind || a->qual != b->qual || a->cidr4 != b->cidr4 ||
      a->cidr6 != b->cidr6) {
    return 0;
  }
  if (a->kind == MDSPF_TERM_IP4) {
    return memcmp(a->addr, b->addr, 4) == 0;
  }
  if (a->kind == MDSPF_TERM_IP6) {
    return memcmp(a->addr, b->addr, 16) == 0;
  }
  if (a->kind == MDSPF_TERM_MODIFIER) {
    const char *na = r->pool + a->name, *nb = r->pool + b->name;
    size_t la = strlen(na);
    if (la != strlen(nb) || mdspf__casecmpn(na, nb, la) != 0) {
      return 0;
    }
  }
  if ((a->value == MDSPF__NO_STR) != (b->value == MDSPF__NO_STR)) {
    return 0;
  }
  if (a->value == MDSPF__NO_STR) {
    return 1;
  }
  va = r->pool + a->value;
  vb = r->pool + b->value;
  if (((a->flags | b->flags) & MDSPF__TF_MACROS) ||
      a->kind == MDSPF_TERM_MODIFIER) {
    return a->value_len == b->value_len && memcmp(va, vb, a->value_len) == 0;
  }
  return mdspf__domain_eq(va, a->value_len, vb, b->value_len);
}

static void static_checks(mdspf_lint *l, size_t n) {
  lnode *nd = &l->nodes[n];
  const mdspf_record *rec = nd->rec;
  size_t i, j, nt = rec->nterms;
  int after_reported = 0;
  msg m;

  for (i = 0; i < nt; i++) {
    if (rec->terms[i].kind == MDSPF_TERM_ALL) {
      nd->all_idx = (int)i;
      break;
    }
  }
  for (i = 0; i < nt; i++) {
    const mdspf__term *t = &rec->terms[i];
    m_init(&m);
    if (nd->all_idx >= 0 && i > (size_t)nd->all_idx && !after_reported &&
        mdspf__term_sem(t->kind)->mechanism) {
      after_reported = 1;
      m_term(&m, rec, i);
      m_s(&m, ": comes after all, so it is never evaluated");
      term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_AFTER_ALL, n, i, &m);
      m_init(&m);
    }
    switch (t->kind) {
    case MDSPF_TERM_ALL:
      if (i != (size_t)nd->all_idx) {
        break;
      }
      if (t->qual == MDSPF_PASS) {
        m_term(&m, rec, i);
        if (nd->final_) {
          m_s(&m, ": every address passes, so anyone may send mail as ");
          m_who(&m, nd);
        } else {
          const lnode *p = &l->nodes[nd->parent];
          m_s(&m, ": every address passes ");
          m_who(&m, nd);
          m_s(&m, ", so ");
          m_term(&m, p->rec, (size_t)nd->term);
          m_s(&m, " in ");
          m_who(&m, p);
          m_s(&m, " matches every address");
        }
        term_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_PASS_ALL, n, i, &m);
      } else if (t->qual == MDSPF_NEUTRAL && nd->final_) {
        m_term(&m, rec, i);
        m_s(&m, ": addresses not listed get neutral, which protects "
                "nothing; use ~all or -all");
        term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_NEUTRAL_ALL, n, i, &m);
      }
      break;
    case MDSPF_TERM_PTR:
      m_term(&m, rec, i);
      m_s(&m, ": slow, unreliable and deprecated (RFC 7208 5.5); list the "
              "senders with ip4, ip6, a or mx");
      if (!l->client_family && !l->is_static &&
          (nd->all_idx < 0 || i < (size_t)nd->all_idx)) {
        m_s(&m, " (PTR names not counted without a client address)");
      }
      term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_PTR_DEPRECATED, n, i, &m);
      break;
    case MDSPF_TERM_IP4:
    case MDSPF_TERM_IP6: {
      unsigned bits = prefix_of(t);
      int v6 = t->kind == MDSPF_TERM_IP6;
      if (has_host_bits(t->addr, v6 ? 16u : 4u, bits)) {
        char text[46];
        uint8_t net[16];
        unsigned k;
        for (k = 0; k < (v6 ? 16u : 4u); k++) {
          unsigned keep = bits > 8 * k ? bits - 8 * k : 0;
          unsigned mk = keep >= 8   ? 0xffu
                        : keep == 0 ? 0u
                                    : (0xffu << (8 - keep)) & 0xffu;
          net[k] = (uint8_t)(t->addr[k] & mk);
        }
        if (v6) {
          mdspf__ip6_format(net, text);
        } else {
          mdspf__ip4_format(net, text);
        }
        m_term(&m, rec, i);
        m_s(&m, ": bits set past the /");
        m_u(&m, bits);
        m_s(&m, " prefix; receivers use ");
        m_s(&m, text);
        m_s(&m, "/");
        m_u(&m, bits);
        m_s(&m, ", so write that");
        term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_HOST_BITS, n, i, &m);
      }
      break;
    }
    case MDSPF_TERM_REDIRECT:
      if (nd->all_idx >= 0) {
        m_term(&m, rec, i);
        m_s(&m, ": ignored, because the record has an all mechanism");
        term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_REDIRECT_IGNORED, n, i, &m);
      }
      break;
    default:
      break;
    }
  }
  if (nd->all_idx < 0 && rec->redirect < 0 && nd->final_) {
    m_init(&m);
    m_who(&m, nd);
    m_s(&m, ": neither all nor redirect=, so addresses not listed get "
            "neutral; end the record with ~all or -all");
    add_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_NO_ALL, n, 0, 0, &m);
  }

  /* identical terms, then ranges inside other ranges: quadratic, so
   * only among the first LINT_PAIR_MAX terms (a record that long is far
   * over 512 octets anyway) */
  if (nt > LINT_PAIR_MAX) {
    nt = LINT_PAIR_MAX;
  }
  for (j = 1; j < nt; j++) {
    for (i = 0; i < j; i++) {
      if (same_term(rec, &rec->terms[i], &rec->terms[j])) {
        m_init(&m);
        m_term(&m, rec, j);
        m_s(&m, ": appears twice in the record; remove one");
        term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_DUPLICATE, n, j, &m);
        break;
      }
    }
  }
  for (j = 0; j < nt; j++) {
    const mdspf__term *tj = &rec->terms[j];
    if (tj->kind != MDSPF_TERM_IP4 && tj->kind != MDSPF_TERM_IP6) {
      continue;
    }
    for (i = 0; i < nt; i++) {
      const mdspf__term *ti = &rec->terms[i];
      unsigned pi, pj;
      if (i == j || ti->kind != tj->kind) {
        continue;
      }
      pi = prefix_of(ti);
      pj = prefix_of(tj);
      /* tj inside ti; equal ranges are reported on the later term */
      if (pi > pj || (pi == pj && i > j) ||
          !mdspf__prefix_match(ti->addr, tj->addr, pi)) {
        continue;
      }
      if (same_term(rec, ti, tj)) {
        continue; /* a duplicate, reported as such */
      }
      m_init(&m);
      m_term(&m, rec, j);
      m_s(&m, pi == pj ? ": the same range as " : ": inside ");
      m_term(&m, rec, i);
      m_s(&m, i < j ? ", earlier in the record" : ", later in the record");
      term_diag(l, MDSPF_SEV_INFO, MDSPF_LINT_OVERLAP, n, j, &m);
      break;
    }
  }
}

/* ---- the walk ------------------------------------------------------------ */

/* The target domain of a term (value, %{d} expanded, or the node's own
 * domain), normalised into out.  Returns 1 and fills out, or 0 when the
 * target depends on the request (*letters_out gets the letters) or there
 * is no known target. */
static int term_target(const mdspf_lint *l, size_t n, const mdspf__term *t,
                       char out[MDSPF__MAX_NAME + 1], unsigned *letters_out,
                       int *invalid) {
  const lnode *nd = &l->nodes[n];
  const mdspf_record *rec = nd->rec;
  char tmp[MDSPF__MAX_NAME + 1];
  const char *src;
  size_t len;
  unsigned letters = mdspf__term_letters(rec, t);
  *letters_out = letters;
  *invalid = 0;
  if (t->value == MDSPF__NO_STR || t->value_len == 0) {
    if (!nd->domain) {
      return 0;
    }
    memcpy(out, nd->domain, strlen(nd->domain) + 1);
    return 1;
  }
  if (letters & ~MDSPF__ML('d')) {
    return 0;
  }
  if (letters && !nd->domain) {
    return 0;
  }
  if (t->flags & MDSPF__TF_MACROS) {
    mdspf__macro_env env;
    memset(&env, 0, sizeof env);
    env.d = nd->domain;
    len = mdspf__macro_expand_domain(rec->pool + t->value, t->value_len, &env,
                                     tmp);
    if (len == (size_t)-1 || len == 0) {
      *invalid = 1;
      return 1;
    }
    src = tmp;
  } else {
    src = rec->pool + t->value;
    len = t->value_len;
  }
  len = mdspf__domain_norm(out, MDSPF__MAX_NAME + 1, src, len);
  if (len == (size_t)-1 || !mdspf__name_queryable(out, len)) {
    *invalid = 1;
  }
  return 1;
}

static void m_depends(msg *m, unsigned letters) {
  if (letters & (MDSPF__ML('i') | MDSPF__ML('v'))) {
    m_s(m, "the connecting IP");
  } else if (letters & MDSPF__ML('p')) {
    m_s(m, "the client's validated host name");
  } else if (letters & (MDSPF__ML('s') | MDSPF__ML('l') | MDSPF__ML('o'))) {
    m_s(m, "the sender");
  } else if (letters & MDSPF__ML('h')) {
    m_s(m, "the HELO name");
  } else {
    m_s(m, "the checked domain");
  }
}

static void macro_info(mdspf_lint *l, size_t n, size_t i, unsigned letters,
                       int followed) {
  msg m;
  m_init(&m);
  m_term(&m, l->nodes[n].rec, i);
  m_s(&m, ": the target depends on ");
  m_depends(&m, letters);
  m_s(&m, followed ? "; counted as 1 lookup, its record is not checked"
                   : "; not looked up");
  term_diag(l, MDSPF_SEV_INFO, MDSPF_LINT_MACRO_TARGET, n, i, &m);
}

/* Follow include/redirect term i of node n. */
static void follow(mdspf_lint *l, size_t n, size_t i) {
  const mdspf__term *t = &l->nodes[n].rec->terms[i];
  char dom[MDSPF__MAX_NAME + 1];
  unsigned letters;
  int invalid;
  size_t p, child;
  msg m;
  if (!term_target(l, n, t, dom, &letters, &invalid)) {
    macro_info(l, n, i, letters, 1);
    return;
  }
  if (l->is_static) {
    return;
  }
  if (invalid || !mdspf__domain_fqdn_ok(dom, strlen(dom))) {
    m_init(&m);
    m_term(&m, l->nodes[n].rec, i);
    m_s(&m, ": not a valid domain name, so there is no SPF record to use; "
            "receivers return permerror");
    term_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_INCLUDE_NO_RECORD, n, i, &m);
    return;
  }
  if (l->nnodes >= l->max_nodes) {
    l->truncated = 1;
    return;
  }
  for (p = n;; p = l->nodes[p].parent) {
    const lnode *a = &l->nodes[p];
    if (a->domain && strcmp(a->domain, dom) == 0) {
      child = new_node(l, n, t->kind, (int)i, dom);
      m_init(&m);
      m_term(&m, l->nodes[n].rec, i);
      m_s(&m, ": loop: ");
      m_safes(&m, dom);
      m_s(&m, " is already being evaluated on this path; receivers return "
              "permerror");
      term_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_LOOP, n, i, &m);
      (void)child;
      return;
    }
    if (p == 0) {
      break;
    }
  }
  child = new_node(l, n, t->kind, (int)i, dom);
  l->nodes[child].final_ = l->nodes[n].final_ && t->kind == MDSPF_TERM_REDIRECT;
  add_lookup(l, P_NODE, MDSPF_RR_TXT, child, 0, dom);
}

/* Count node n's own lookups, report request-dependent targets and
 * follow its includes and redirect. */
static void walk(mdspf_lint *l, size_t n) {
  const mdspf_record *rec = l->nodes[n].rec;
  size_t i, reach = mdspf__record_reach(rec);
  int redirect = mdspf__record_redirect(rec);
  unsigned own = 0;
  /* what a receiver evaluates, as the evaluator does (core/terms.h):
   * the mechanisms up to the first "all", then an effective redirect= */
  for (i = 0; i < reach; i++) {
    const mdspf__term *t = &rec->terms[i];
    const mdspf__term_info *s = mdspf__term_sem(t->kind);
    char dom[MDSPF__MAX_NAME + 1];
    unsigned letters;
    int invalid;
    if (!s->mechanism) {
      continue; /* modifiers are not evaluated in place */
    }
    own += s->dns_term;
    switch (s->lookup) {
    case MDSPF__LK_RECORD:
      follow(l, n, i);
      break;
    case MDSPF__LK_ADDR:
    case MDSPF__LK_A:
    case MDSPF__LK_MX:
      if (!term_target(l, n, t, dom, &letters, &invalid) && letters) {
        macro_info(l, n, i, letters, 0);
      }
      break;
    default:
      break;
    }
  }
  if (redirect >= 0) {
    own += mdspf__term_sem(MDSPF_TERM_REDIRECT)->dns_term;
    follow(l, n, (size_t)redirect);
  }
  l->nodes[n].own = own;
}

/* Parse node n's text; on success check it and walk it. */
static void process_text(mdspf_lint *l, size_t n) {
  lnode *nd = &l->nodes[n];
  int code = 0, rc;
  size_t eo = 0, el = 0;
  msg m;
  size_t i;
  rc = mdspf_record_parse(nd->text, nd->text_len, l->alloc.fn, l->alloc.ud,
                          &nd->rec, &code, &eo, &el);
  if (rc == MDSPF_E_NOMEM) {
    l->nomem = 1;
    return;
  }
  /* the text kept for mdspf_lint_node_text: printable, one octet for
   * one, so spans still point into it and a NUL cannot hide its end */
  for (i = 0; i < nd->text_len; i++) {
    unsigned char c = (unsigned char)nd->text[i];
    if (c < 0x20 || c > 0x7e) {
      nd->text[i] = '?';
    }
  }
  if (rc != MDSPF_OK) {
    m_init(&m);
    m_who(&m, nd);
    m_s(&m, ": ");
    m_s(&m, mdspf_syntax_str(code));
    if (el > 0 && eo < nd->text_len) {
      m_s(&m, ": '");
      m_safe(&m, nd->text + eo,
             el < nd->text_len - eo ? el : nd->text_len - eo);
      m_s(&m, "'");
    } else {
      m_s(&m, " at the end of the record");
    }
    m_s(&m, "; receivers return permerror");
    add_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_SYNTAX, n, eo, el, &m);
    return;
  }
  static_checks(l, n);
  walk(l, n);
}

static int set_text(mdspf_lint *l, size_t n, const char *txt, size_t len) {
  lnode *nd = &l->nodes[n];
  nd->text = mdspf__strndup(&l->alloc, txt, len);
  if (!nd->text) {
    l->nomem = 1;
    return 0;
  }
  nd->text_len = len;
  l->text_total += len;
  return 1;
}

/* The TXT answer of node n arrived (or did not). */
static void handle_node(mdspf_lint *l, const lq *e) {
  size_t n = e->node, pos = 0, nspf = 0, ntxt = 0, rr_total = 0;
  int st = lq_status(l, e);
  mdspf__rr rr, spf;
  msg m;
  m_init(&m);
  m_fetch_prefix(&m, l, n);
  if (is_failed(st)) {
    m_s(&m, "the TXT lookup");
    if (n != 0) {
      m_s(&m, " of ");
      m_safes(&m, e->name);
    }
    m_s(&m, " failed: ");
    m_why(&m, l, e);
    fetch_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_DNS_ERROR, n, &m);
    return;
  }
  memset(&spf, 0, sizeof spf);
  if (st == MDSPF_DNS_OK) {
    while (mdspf__dnsq_next(e->q, &pos, &rr)) {
      if (rr.kind != MDSPF__RK_TXT) {
        continue;
      }
      ntxt++;
      rr_total += txt_rr_size(rr.len);
      if (mdspf_record_is_spf((const char *)rr.data, rr.len) && nspf++ == 0) {
        spf = rr;
      }
    }
  }
  if (nspf == 0 && n == 0) {
    if (st == MDSPF_DNS_NXDOMAIN) {
      m_s(&m, "the domain does not exist");
    } else if (ntxt == 0) {
      m_s(&m, "no SPF record (the domain has no TXT records)");
    } else {
      m_s(&m, "no SPF record (");
      m_s(&m, ntxt == 1 ? "its TXT record does" : "none of its TXT records");
      m_s(&m, " not start with \"v=spf1\")");
    }
    add_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_NO_RECORD, 0, 0, 0, &m);
    return;
  }
  if (nspf == 0) {
    m_s(&m, st == MDSPF_DNS_NXDOMAIN ? "the domain does not exist"
                                     : "the domain publishes no SPF record");
    m_s(&m, "; receivers return permerror");
    fetch_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_INCLUDE_NO_RECORD, n, &m);
    return;
  }
  if (nspf > 1) {
    m_s(&m, n == 0 ? "" : "the domain publishes ");
    m_u(&m, (unsigned long)nspf);
    m_s(&m, n == 0 ? " SPF records published" : " SPF records");
    m_s(&m, "; receivers return permerror, so merge them into one");
    fetch_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_MULTIPLE_RECORDS, n, &m);
    return;
  }
  if (n != 0 && l->text_total + spf.len > LINT_TEXT_BUDGET) {
    m_s(&m, "not examined: the records of this tree are over ");
    m_u(&m, LINT_TEXT_BUDGET / 1024);
    m_s(&m, " KiB in total");
    fetch_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_DNS_ERROR, n, &m);
    return;
  }
  if (!set_text(l, n, (const char *)spf.data, spf.len)) {
    return;
  }
  udp_check(l, n, rr_total);
  process_text(l, n);
}

/* mdspf_lint_record with a domain: the other TXT records of the name
 * count towards the size of the answer the record would be part of. */
static void handle_udp(mdspf_lint *l, const lq *e) {
  size_t pos = 0, rr_total = txt_rr_size(l->nodes[0].text_len);
  int st = lq_status(l, e);
  mdspf__rr rr;
  if (is_failed(st)) {
    msg m;
    m_init(&m);
    m_safes(&m, e->name);
    m_s(&m, ": the TXT lookup failed: ");
    m_why(&m, l, e);
    add_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_DNS_ERROR, 0, 0, 0, &m);
  } else if (st == MDSPF_DNS_OK) {
    while (mdspf__dnsq_next(e->q, &pos, &rr)) {
      if (rr.kind == MDSPF__RK_TXT &&
          !mdspf_record_is_spf((const char *)rr.data, rr.len)) {
        rr_total += txt_rr_size(rr.len);
      }
    }
  }
  udp_check(l, 0, rr_total);
}

/* The term (i of node n) matches nothing and is a void lookup; m holds
 * "term: what is missing". */
static void void_diag(mdspf_lint *l, size_t n, size_t i, msg *m) {
  l->voids++;
  m_s(m, ": the term matches nothing and is a void lookup (");
  m_u(m, l->voids);
  m_s(m, " so far; receivers allow ");
  m_u(m, (unsigned long)limit_of(l, MDSPF_LIMIT_VOID_LOOKUPS));
  m_s(m, ")");
  term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_VOID_LOOKUPS, n, i, m);
}

/* An mx term's MX answer e names hosts (within the limit): look up
 * their addresses in the next round, since an MX set none of whose hosts
 * has an address is a void lookup too (the term semantics of
 * core/terms.h).  All hosts or none, within LINT_HOST_BUDGET; a term
 * that does not fit is not judged. */
static void queue_hosts(mdspf_lint *l, const lq *e, size_t hosts) {
  size_t pos = 0;
  mdspf__rr rr;
  if (l->stopped || l->host_queries + 2 * hosts > LINT_HOST_BUDGET) {
    return;
  }
  while (mdspf__dnsq_next(e->q, &pos, &rr)) {
    char name[MDSPF__MAX_NAME + 1];
    if (rr.kind != MDSPF__RK_NAME || rr.len == 0 ||
        !mdspf__name_queryable((const char *)rr.data, rr.len) ||
        mdspf__domain_norm(name, sizeof name, (const char *)rr.data,
                           rr.len) == (size_t)-1) {
      continue;
    }
    add_lookup(l, P_HOST_A, MDSPF_RR_A, e->node, e->term, name);
    add_lookup(l, P_HOST_AAAA, MDSPF_RR_AAAA, e->node, e->term, name);
    l->host_queries += 2;
  }
}

/* The address lookups of the MX hosts of one mx term, from qs[k] on:
 * a failed one is a DNS error, none with an address a void lookup.
 * Returns how many entries it consumed. */
static size_t handle_hosts(mdspf_lint *l, size_t k, size_t to) {
  const lq *first = &l->qs[k], *failed = NULL;
  size_t n = first->node, i = first->term, used = 0;
  int any = 0;
  msg m;
  while (k + used < to) {
    const lq *e = &l->qs[k + used];
    int st;
    if ((e->purpose != P_HOST_A && e->purpose != P_HOST_AAAA) ||
        e->node != n || e->term != i) {
      break;
    }
    st = lq_status(l, e);
    if (is_failed(st) && !failed) {
      failed = e;
    } else if (st == MDSPF_DNS_OK) {
      any = 1;
    }
    used++;
  }
  m_init(&m);
  m_term(&m, l->nodes[n].rec, i);
  m_s(&m, ": ");
  if (failed) {
    m_s(&m, "the ");
    m_s(&m, mdspf_rr_type_str(failed->rrtype));
    m_s(&m, " lookup of the MX host ");
    m_safes(&m, failed->name);
    m_s(&m, " failed: ");
    m_why(&m, l, failed);
    term_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_DNS_ERROR, n, i, &m);
  } else if (!any) {
    m_s(&m, "none of the MX hosts has an A or AAAA record");
    void_diag(l, n, i, &m);
  }
  return used;
}

/* A target lookup (a, mx, exists, exp) answered.  Returns how many
 * entries it consumed (an "a" uses its A and AAAA entries). */
static size_t handle_target(mdspf_lint *l, size_t k) {
  const lq *e = &l->qs[k];
  const lq *e6 = NULL;
  size_t n = e->node, i = e->term, used = 1, pos = 0, count = 0;
  int st = lq_status(l, e);
  mdspf__rr rr;
  msg m;
  m_init(&m);
  m_term(&m, l->nodes[n].rec, i);
  m_s(&m, ": ");
  if (e->purpose == P_A && k + 1 < l->nqs && l->qs[k + 1].purpose == P_AAAA) {
    int st6;
    e6 = &l->qs[k + 1];
    used = 2;
    st6 = lq_status(l, e6);
    if (!is_failed(st) && is_failed(st6)) {
      e = e6;
      st = st6;
    } else if (is_void(st) && !is_void(st6)) {
      st = st6;
    }
  }
  if (is_failed(st)) {
    m_s(&m, "the ");
    m_s(&m, mdspf_rr_type_str(e->rrtype));
    m_s(&m, " lookup of ");
    m_safes(&m, e->name);
    m_s(&m, " failed: ");
    m_why(&m, l, e);
    term_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_DNS_ERROR, n, i, &m);
    return used;
  }
  switch (e->purpose) {
  case P_PTR: {
    long max = limit_of(l, MDSPF_LIMIT_PTR_NAMES);
    if (st == MDSPF_DNS_OK) {
      while (mdspf__dnsq_next(e->q, &pos, &rr)) {
        /* as the evaluator takes them: queryable names only */
        if (rr.kind == MDSPF__RK_NAME &&
            mdspf__name_queryable((const char *)rr.data, rr.len)) {
          count++;
        }
      }
    }
    if (count > (size_t)max) {
      m_s(&m, l->client_text);
      m_s(&m, " has ");
      m_u(&m, (unsigned long)count);
      m_s(&m, " PTR names; only the first ");
      m_u(&m, (unsigned long)max);
      m_s(&m, " are used, so the result depends on their order");
      term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_TOO_MANY_PTR, n, i, &m);
    }
    return used;
  }
  case P_A:
  case P_EXISTS:
  case P_MX:
    if (is_void(st)) {
      m_safes(&m, e->name);
      m_s(&m, e->purpose == P_A    ? " has no A or AAAA record"
              : e->purpose == P_MX ? " has no MX record"
                                   : " has no A record");
      m_s(&m, st == MDSPF_DNS_NXDOMAIN ? " (it does not exist)" : "");
      void_diag(l, n, i, &m);
      return used;
    }
    if (e->purpose == P_MX) {
      long max = limit_of(l, MDSPF_LIMIT_MX_NAMES);
      size_t hosts = 0;
      while (mdspf__dnsq_next(e->q, &pos, &rr)) {
        if (rr.kind == MDSPF__RK_NAME && rr.len > 0) {
          count++;
          hosts += mdspf__name_queryable((const char *)rr.data, rr.len) ? 1u : 0u;
        }
      }
      if (count > (size_t)max) {
        m_safes(&m, e->name);
        m_s(&m, " has ");
        m_u(&m, (unsigned long)count);
        m_s(&m, " MX hosts; receivers allow ");
        m_u(&m, (unsigned long)max);
        m_s(&m, " and return permerror beyond");
        term_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_TOO_MANY_MX, n, i, &m);
      } else if (hosts == 0) {
        /* a null MX, or only names that cannot be looked up */
        m_safes(&m, e->name);
        m_s(&m, " names no mail host with an address");
        void_diag(l, n, i, &m);
      } else {
        queue_hosts(l, e, hosts);
      }
    }
    return used;
  default: /* P_EXP */
    if (st == MDSPF_DNS_OK) {
      while (mdspf__dnsq_next(e->q, &pos, &rr)) {
        if (rr.kind == MDSPF__RK_TXT) {
          count++;
        }
      }
    }
    if (count != 1) {
      m_safes(&m, e->name);
      if (count == 0) {
        m_s(&m, st == MDSPF_DNS_NXDOMAIN ? " does not exist"
                                         : " has no TXT record");
        m_s(&m, ", so receivers use their default explanation");
      } else {
        m_s(&m, " has ");
        m_u(&m, (unsigned long)count);
        m_s(&m, " TXT records; exactly one is needed, so receivers use "
                "their default explanation");
      }
      term_diag(l, MDSPF_SEV_WARNING, MDSPF_LINT_EXP_NOWHERE, n, i, &m);
    }
    return used;
  }
}

/* Pre-order of the nodes (children in term order, which is creation
 * order among siblings) into order[]; uses stack[] (both max_nodes). */
static void preorder(const mdspf_lint *l, size_t *order, size_t *stack) {
  size_t top = 0, k = 0, c;
  stack[top++] = 0;
  while (top > 0) {
    size_t n = stack[--top];
    order[k++] = n;
    /* push children in reverse creation order: the first pops first */
    for (c = l->nnodes; c-- > 1;) {
      if (l->nodes[c].parent == n && c != n) {
        stack[top++] = c;
      }
    }
  }
}

/* 1 if term t of a record needs the client's PTR names when it runs: a
 * ptr mechanism, or %{p} in a target (the caller passes only terms that
 * run). */
static int uses_ptr(const mdspf__term *t) {
  switch (t->kind) {
  case MDSPF_TERM_PTR:
    return 1;
  case MDSPF_TERM_A:
  case MDSPF_TERM_MX:
  case MDSPF_TERM_EXISTS:
  case MDSPF_TERM_INCLUDE:
  case MDSPF_TERM_REDIRECT:
    return (t->flags & MDSPF__TF_NEEDS_P) != 0;
  default:
    return 0;
  }
}

/* The node (creation index) that include/redirect term i of node n
 * leads to, or 0 when it was not followed. */
static size_t child_of(const mdspf_lint *l, size_t n, size_t i) {
  size_t c;
  for (c = 1; c < l->nnodes; c++) {
    if (l->nodes[c].parent == n && l->nodes[c].term == (int)i) {
      return c;
    }
  }
  return 0;
}

/* The first term in the subtree of node n that uses PTR names, in the
 * order a receiver evaluates them: the mechanisms before "all" in order,
 * an include's subtree at the include, then an effective redirect= and
 * its subtree.  Returns 1 and fills *node, *term.  Recursion depth is at
 * most the node count (children are created after their parent). */
static int first_ptr_user(const mdspf_lint *l, size_t n, size_t *node,
                          size_t *term) {
  const lnode *nd = &l->nodes[n];
  const mdspf_record *rec = nd->rec;
  size_t i, end, c;
  int redirect;
  if (!rec) {
    return 0;
  }
  end = mdspf__record_reach(rec);
  redirect = mdspf__record_redirect(rec);
  for (i = 0; i < end; i++) {
    const mdspf__term *t = &rec->terms[i];
    if (!mdspf__term_sem(t->kind)->mechanism) {
      continue; /* modifiers: redirect= below, the rest never looks up */
    }
    if (uses_ptr(t)) {
      *node = n;
      *term = i;
      return 1;
    }
    if (t->kind == MDSPF_TERM_INCLUDE && (c = child_of(l, n, i)) != 0 &&
        first_ptr_user(l, c, node, term)) {
      return 1;
    }
  }
  if (redirect >= 0) {
    i = (size_t)redirect;
    if (uses_ptr(&rec->terms[i])) {
      *node = n;
      *term = i;
      return 1;
    }
    if ((c = child_of(l, n, i)) != 0) {
      return first_ptr_user(l, c, node, term);
    }
  }
  return 0;
}

/* Queue the lookups of the a, mx, exists and exp targets, tree in
 * pre-order, terms in order, then the client's PTR names if the tree
 * uses them. */
static void queue_targets(mdspf_lint *l) {
  size_t *order = l->scratch, *stack = l->scratch + l->max_nodes, k, i;
  preorder(l, order, stack);
  for (k = 0; k < l->nnodes; k++) {
    size_t n = order[k];
    const lnode *nd = &l->nodes[n];
    const mdspf_record *rec = nd->rec;
    size_t end;
    if (!rec) {
      continue;
    }
    end = mdspf__record_reach(rec);
    for (i = 0; i < rec->nterms; i++) {
      const mdspf__term *t = &rec->terms[i];
      char dom[MDSPF__MAX_NAME + 1];
      unsigned letters, need;
      int invalid;
      if (t->kind == MDSPF_TERM_EXP) {
        if (nd->final_ && term_target(l, n, t, dom, &letters, &invalid) &&
            !invalid) {
          add_lookup(l, P_EXP, MDSPF_RR_TXT, n, i, dom);
        }
        continue;
      }
      if (i >= end || (t->kind != MDSPF_TERM_A && t->kind != MDSPF_TERM_MX &&
                       t->kind != MDSPF_TERM_EXISTS)) {
        continue;
      }
      if (!term_target(l, n, t, dom, &letters, &invalid) || invalid) {
        continue;
      }
      need = t->kind == MDSPF_TERM_A ? 2u : 1u;
      if (l->target_queries + need > l->target_budget) {
        continue; /* over the lookup limit anyway */
      }
      l->target_queries += need;
      if (t->kind == MDSPF_TERM_A) {
        add_lookup(l, P_A, MDSPF_RR_A, n, i, dom);
        add_lookup(l, P_AAAA, MDSPF_RR_AAAA, n, i, dom);
      } else if (t->kind == MDSPF_TERM_MX) {
        add_lookup(l, P_MX, MDSPF_RR_MX, n, i, dom);
      } else {
        add_lookup(l, P_EXISTS, MDSPF_RR_A, n, i, dom);
      }
    }
  }
  if (l->client_family) {
    size_t pn, pt;
    if (first_ptr_user(l, 0, &pn, &pt)) {
      char rev[74];
      mdspf__reverse_name(l->client_family, l->client_ip, rev);
      add_lookup(l, P_PTR, MDSPF_RR_PTR, pn, pt, rev);
    }
  }
}

/* Renumber the nodes in pre-order, sum the subtrees, add the totals and
 * sort the diagnostics by node and position. */
static void finish(mdspf_lint *l) {
  size_t *order = l->scratch, *newidx = l->scratch + l->max_nodes;
  size_t n, k;
  lnode tmp;
  msg m;
  for (n = 0; n < l->nnodes; n++) {
    l->nodes[n].sub = l->nodes[n].own;
  }
  for (n = l->nnodes; n-- > 1;) { /* children were created after parents */
    l->nodes[l->nodes[n].parent].sub += l->nodes[n].sub;
  }
  l->lookups = l->nnodes ? l->nodes[0].sub : 0;

  preorder(l, order, newidx);
  for (k = 0; k < l->nnodes; k++) {
    newidx[order[k]] = k;
  }
  for (n = 0; n < l->nnodes; n++) {
    l->nodes[n].parent = newidx[l->nodes[n].parent];
  }
  for (k = 0; k < l->ndiags; k++) {
    l->diags[k].node = newidx[l->diags[k].node];
  }
  /* apply the permutation in place, cycle by cycle */
  for (n = 0; n < l->nnodes; n++) {
    while (newidx[n] != n) {
      size_t t = newidx[n];
      tmp = l->nodes[t];
      l->nodes[t] = l->nodes[n];
      l->nodes[n] = tmp;
      newidx[n] = newidx[t];
      newidx[t] = t;
    }
  }

  if (l->lookups > (unsigned long)limit_of(l, MDSPF_LIMIT_DNS_TERMS) ||
      l->truncated) {
    m_init(&m);
    m_who(&m, &l->nodes[0]);
    m_s(&m, l->truncated ? ": at least " : ": ");
    m_u(&m, l->lookups);
    m_s(&m, " DNS lookups (include, a, mx, ptr, exists, redirect) in the "
            "record and its includes; receivers allow ");
    m_u(&m, (unsigned long)limit_of(l, MDSPF_LIMIT_DNS_TERMS));
    m_s(&m, " and return permerror beyond");
    add_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_TOO_MANY_LOOKUPS, 0, 0, 0, &m);
  }
  if (l->voids > (unsigned long)limit_of(l, MDSPF_LIMIT_VOID_LOOKUPS)) {
    m_init(&m);
    m_who(&m, &l->nodes[0]);
    m_s(&m, ": ");
    m_u(&m, l->voids);
    m_s(&m, " void lookups (names that do not exist or have no records); "
            "receivers allow ");
    m_u(&m, (unsigned long)limit_of(l, MDSPF_LIMIT_VOID_LOOKUPS));
    m_s(&m, " and return permerror beyond");
    add_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_VOID_LOOKUPS, 0, 0, 0, &m);
  }

  /* stable insertion sort by (node, offset): bounded by the per-code cap */
  for (k = 1; k < l->ndiags; k++) {
    ldiag d = l->diags[k];
    size_t j = k;
    while (j > 0 &&
           (l->diags[j - 1].node > d.node ||
            (l->diags[j - 1].node == d.node && l->diags[j - 1].off > d.off))) {
      l->diags[j] = l->diags[j - 1];
      j--;
    }
    l->diags[j] = d;
  }
}

/* Handle the answered lookups [from, to). */
static void handle_batch(mdspf_lint *l, size_t from, size_t to) {
  size_t k = from;
  while (k < to && !l->nomem) {
    const lq *e = &l->qs[k];
    if (e->purpose == P_NODE) {
      handle_node(l, e);
      k++;
    } else if (e->purpose == P_UDP) {
      handle_udp(l, e);
      k++;
    } else if (e->purpose == P_HOST_A || e->purpose == P_HOST_AAAA) {
      k += handle_hosts(l, k, to);
    } else {
      k += handle_target(l, k);
    }
  }
  free_queries(l, from, to);
}

/* The run is over (status MDSPF_OK: the results are complete). */
static void lint_end(mdspf_lint *l, mdspf_status status) {
  l->status = status;
  if (status == MDSPF_OK) {
    finish(l);
  }
  if (l->nomem) {
    l->status = MDSPF_E_NOMEM;
  }
  if (l->status != MDSPF_OK) {
    release_run(l);
    reset(l); /* no half results */
  }
  l->state = MDSPF__CS_DONE;
  mdspf__job_clear_deadline(&l->job);
}

/* The run as a state machine, driven by the engine's drain: send the
 * lookups of the current round (at most LINT_INFLIGHT at a time), wait
 * until every one has answered, handle them in the order they were
 * queued (which may queue the next round), and so on: the tree level by
 * level, then the targets, then the MX hosts.  Answers may come inline
 * or later and in any order; the results are the same. */
static void lint_advance(mdspf_lint *l) {
  for (;;) {
    int going;
    if (l->state != MDSPF__CS_RUNNING) {
      return;
    }
    going = !l->stopped && !l->nomem;
    while (going && l->next < l->to && l->inflight < LINT_INFLIGHT) {
      issue(l, &l->qs[l->next++]);
      going = !l->stopped && !l->nomem;
    }
    if (going && l->inflight > 0) {
      return; /* woken again by an answer, the deadline or a cancel */
    }
    if (going && l->next < l->to) {
      continue;
    }
    settle(l, l->from, l->to);
    if (l->nomem) {
      lint_end(l, MDSPF_E_NOMEM);
      return;
    }
    handle_batch(l, l->from, l->to);
    if (l->nomem) {
      lint_end(l, MDSPF_E_NOMEM);
      return;
    }
    l->from = l->next = l->to;
    if (l->nqs > l->from) {
      l->to = l->nqs; /* the next level, or the MX hosts */
      continue;
    }
    if (l->phase == PH_TREE) {
      l->phase = PH_TARGETS;
      if (!l->stopped && !l->is_static) {
        queue_targets(l);
      }
      if (l->nqs > l->from) {
        l->to = l->nqs;
        continue;
      }
    }
    lint_end(l, MDSPF_OK);
    return;
  }
}

/* Set up a run (mdspf_lint_start_* and the blocking calls). */
static mdspf_status lint_start(mdspf_lint *l, const char *domain,
                               const char *txt, size_t len, mdspf_lint_cb cb,
                               void *user, int timeout_ms) {
  mdspf_ctx *ctx = l->ctx;
  char dom[MDSPF__MAX_NAME + 1];
  size_t limit;
  if (l->state == MDSPF__CS_RUNNING || l->free_req || ctx->closed) {
    return MDSPF_E_STATE;
  }
  if ((!domain && !txt) || (txt == NULL && len > 0)) {
    return MDSPF_E_INVAL;
  }
  if (domain) {
    size_t dl = strnlen(domain, MDSPF__MAX_NAME + 2);
    if (!mdspf__domain_fqdn_ok(domain, dl) ||
        mdspf__domain_norm(dom, sizeof dom, domain, dl) == (size_t)-1) {
      return MDSPF_E_INVAL;
    }
    if (!ctx->cfg->has_res) {
      return MDSPF_E_NOTSUP;
    }
  }
  if (txt && len > MDSPF_MAX_RECORD) {
    return MDSPF_E_INVAL;
  }
  reset(l);
  l->cfg = mdspf__config_ref(ctx->cfg);
  limit = (size_t)limit_of(l, MDSPF_LIMIT_DNS_TERMS);
  l->max_nodes = limit + 2 > LINT_MIN_NODES ? limit + 2 : LINT_MIN_NODES;
  l->target_budget = (unsigned)(2 * (limit + 1));
  /* every node's TXT, the size estimate, the targets, the PTR names,
   * the MX hosts */
  l->qs_cap =
      2 * l->max_nodes + 1 + l->target_budget + 1 + LINT_HOST_BUDGET;
  l->nodes = mdspf__alloc_array(&l->alloc, l->max_nodes, sizeof *l->nodes);
  l->scratch =
      mdspf__alloc_array(&l->alloc, 2 * l->max_nodes, sizeof *l->scratch);
  l->qs = mdspf__alloc_array(&l->alloc, l->qs_cap, sizeof *l->qs);
  if (!l->nodes || !l->scratch || !l->qs) {
    reset(l);
    return MDSPF_E_NOMEM;
  }
  l->is_static = domain == NULL;
  l->timeout_ms = timeout_ms > 0
                      ? timeout_ms
                      : (int)limit_of(l, MDSPF_LIMIT_TIMEOUT_MS);

  (void)new_node(l, 0, 0, -1, domain ? dom : NULL);
  l->nodes[0].final_ = 1;
  if (txt) {
    if (set_text(l, 0, txt, len)) {
      if (len > LINT_STRING_MAX) {
        msg m;
        m_init(&m);
        m_who(&m, &l->nodes[0]);
        m_s(&m, ": the record is ");
        m_u(&m, (unsigned long)len);
        m_s(&m, " octets; it must be published as several strings of at "
                "most 255 octets (receivers join them without spaces)");
        add_diag(l, MDSPF_SEV_ERROR, MDSPF_LINT_LONG_STRING, 0, LINT_STRING_MAX,
                 len - LINT_STRING_MAX, &m);
      }
      if (domain) {
        add_lookup(l, P_UDP, MDSPF_RR_TXT, 0, 0, dom);
      } else {
        udp_check(l, 0, txt_rr_size(len));
      }
      process_text(l, 0);
    }
  } else {
    add_lookup(l, P_NODE, MDSPF_RR_TXT, 0, 0, dom);
  }
  l->state = MDSPF__CS_RUNNING;
  l->status = MDSPF_OK;
  l->cb = cb;
  l->user = user;
  l->notified = 0;
  l->phase = PH_TREE;
  l->from = l->next = 0;
  l->to = l->nqs;
  mdspf__engine_enter(ctx);
  mdspf__job_set_deadline(&l->job, mdspf__ctx_now(ctx) + l->timeout_ms);
  mdspf__job_wake(&l->job);
  mdspf__engine_leave(ctx); /* may run it through, callback included */
  return MDSPF_OK;
}

mdspf_status mdspf_lint_start_domain(mdspf_lint *l, const char *domain,
                                     mdspf_lint_cb cb, void *user) {
  if (!l || !domain) {
    return MDSPF_E_INVAL;
  }
  return lint_start(l, domain, NULL, 0, cb, user, 0);
}

mdspf_status mdspf_lint_start_record(mdspf_lint *l, const char *domain,
                                     const char *txt, size_t len,
                                     mdspf_lint_cb cb, void *user) {
  if (!l || !txt) {
    return MDSPF_E_INVAL;
  }
  return lint_start(l, domain, txt, len, cb, user, 0);
}

/* The blocking calls: a run driven through the resolver's wait(). */
static mdspf_status run_blocking(mdspf_lint *l, const char *domain,
                                 const char *txt, size_t len,
                                 int timeout_ms) {
  mdspf_ctx *ctx;
  mdspf_status rc;
  if (!l) {
    return MDSPF_E_INVAL;
  }
  ctx = l->ctx;
  if (ctx->depth > 0 || ctx->in_callback > 0) {
    return MDSPF_E_RECURSIVE;
  }
  if (l->in_run) {
    return MDSPF_E_RECURSIVE;
  }
  rc = lint_start(l, domain, txt, len, NULL, NULL, timeout_ms);
  if (rc != MDSPF_OK) {
    return rc;
  }
  l->in_run = 1;
  while (l->state == MDSPF__CS_RUNNING) {
    const mdspf_resolver *res = &l->cfg->res;
    int64_t now = mdspf__ctx_now(ctx);
    int why = 0;
    if (now >= l->job.deadline) {
      why = 1;
    } else if (!res->wait) {
      mdspf__engine_enter(ctx);
      lint_cancel_mark(l, MDSPF_E_NOTSUP);
      mdspf__engine_leave(ctx);
      break;
    } else if (res->wait(res->impl,
                         (int)mdspf__ms_until(l->job.deadline, now)) != 0) {
      why = 2;
    }
    if (why) {
      mdspf__engine_enter(ctx);
      lint_stop(l, why);
      mdspf__engine_leave(ctx);
    }
  }
  l->in_run = 0;
  rc = l->state == MDSPF__CS_NEW ? MDSPF_E_STATE : l->status;
  if (l->free_req) {
    /* freed from a callback meanwhile (or its context was) */
    mdspf__engine_enter(ctx);
    mdspf__job_wake(&l->job);
    mdspf__engine_leave(ctx);
  }
  return rc;
}

mdspf_status mdspf_lint_domain(mdspf_lint *l, const char *domain,
                               int timeout_ms) {
  if (!domain) {
    return MDSPF_E_INVAL;
  }
  return run_blocking(l, domain, NULL, 0, timeout_ms);
}

mdspf_status mdspf_lint_record(mdspf_lint *l, const char *domain,
                               const char *txt, size_t len, int timeout_ms) {
  if (!txt) {
    return MDSPF_E_INVAL;
  }
  return run_blocking(l, domain, txt, len, timeout_ms);
}

/* ---- getters ------------------------------------------------------------- */

int mdspf_lint_worst(const mdspf_lint *l) { return l ? l->worst : -1; }

unsigned mdspf_lint_lookups(const mdspf_lint *l) { return l ? l->lookups : 0; }

unsigned mdspf_lint_void_lookups(const mdspf_lint *l) {
  return l ? l->voids : 0;
}

size_t mdspf_lint_ndiags(const mdspf_lint *l) { return l ? l->ndiags : 0; }

static const ldiag *diag_at(const mdspf_lint *l, size_t i) {
  return (l && i < l->ndiags) ? &l->diags[i] : NULL;
}

int mdspf_lint_diag_severity(const mdspf_lint *l, size_t i) {
  const ldiag *d = diag_at(l, i);
  return d ? d->sev : -1;
}

int mdspf_lint_diag_code(const mdspf_lint *l, size_t i) {
  const ldiag *d = diag_at(l, i);
  return d ? d->code : 0;
}

const char *mdspf_lint_diag_message(const mdspf_lint *l, size_t i) {
  const ldiag *d = diag_at(l, i);
  return d ? d->msg : NULL;
}

size_t mdspf_lint_diag_node(const mdspf_lint *l, size_t i) {
  const ldiag *d = diag_at(l, i);
  return d ? d->node : 0;
}

mdspf_status mdspf_lint_diag_span(const mdspf_lint *l, size_t i, size_t *off,
                         size_t *len) {
  const ldiag *d = diag_at(l, i);
  if (!d) {
    return MDSPF_E_INVAL;
  }
  if (off) {
    *off = d->off;
  }
  if (len) {
    *len = d->len;
  }
  return MDSPF_OK;
}

size_t mdspf_lint_nnodes(const mdspf_lint *l) { return l ? l->nnodes : 0; }

static const lnode *node_at(const mdspf_lint *l, size_t n) {
  return (l && n < l->nnodes) ? &l->nodes[n] : NULL;
}

size_t mdspf_lint_node_parent(const mdspf_lint *l, size_t n) {
  const lnode *nd = node_at(l, n);
  return nd ? nd->parent : 0;
}

int mdspf_lint_node_via(const mdspf_lint *l, size_t n) {
  const lnode *nd = node_at(l, n);
  return nd ? nd->via : -1;
}

int mdspf_lint_node_term(const mdspf_lint *l, size_t n) {
  const lnode *nd = node_at(l, n);
  return nd ? nd->term : -1;
}

const char *mdspf_lint_node_domain(const mdspf_lint *l, size_t n) {
  const lnode *nd = node_at(l, n);
  return nd ? nd->domain : NULL;
}

const mdspf_record *mdspf_lint_node_record(const mdspf_lint *l, size_t n) {
  const lnode *nd = node_at(l, n);
  return nd ? nd->rec : NULL;
}

const char *mdspf_lint_node_text(const mdspf_lint *l, size_t n) {
  const lnode *nd = node_at(l, n);
  return nd ? nd->text : NULL;
}

unsigned mdspf_lint_node_lookups(const mdspf_lint *l, size_t n) {
  const lnode *nd = node_at(l, n);
  return nd ? nd->sub : 0;
}

const char *mdspf_lint_code_str(int code) {
  static const char *const names[LINT_NCODES] = {
      "unknown",           "syntax",           "no-record",
      "multiple-records",  "dns-error",        "too-many-lookups",
      "void-lookups",      "too-many-mx",      "too-many-ptr",
      "pass-all",          "neutral-all",      "no-all",
      "after-all",         "redirect-ignored", "ptr-deprecated",
      "host-bits",         "overlap",          "duplicate",
      "include-no-record", "long-string",      "too-large-udp",
      "exp-nowhere",       "macro-target",     "loop"};
  if (code <= 0 || code >= LINT_NCODES) {
    return "unknown";
  }
  return names[code];
}

/*
 * lib/core/dnsq.h -- DNS query objects: what a backend answers through the
 * mdspf_dns_add_* / mdspf_dns_done builders, stored with hard caps.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_DNSQ_H
#define MDSPF_CORE_DNSQ_H

#include <maildrop-spf/spf.h>

#include <stddef.h>
#include <stdint.h>
#include "core/domain.h"
#include "util/alloc.h"
#include "util/list.h"

/* ---- DNS query objects (dnsq.c) ---------------------------------------- */

enum {
  MDSPF__Q_NEW = 0,     /* created, not yet handed to a backend */
  MDSPF__Q_PENDING = 1, /* the backend owns the answer */
  MDSPF__Q_DONE = 2     /* mdspf_dns_done was called */
};

enum { MDSPF__RK_TXT = 1, MDSPF__RK_ADDR = 2, MDSPF__RK_NAME = 3 };

/* One answer record, as stored in a query (see mdspf__dnsq_next). */
typedef struct mdspf__rr {
  int kind;            /* MDSPF__RK_* */
  const uint8_t *data; /* TXT bytes, address (4/16), or name (no dot) */
  size_t len;
  int family;    /* ADDR: 4 or 6 */
  unsigned pref; /* NAME: MX preference */
} mdspf__rr;

typedef void (*mdspf__dnsq_cb)(mdspf_dns_query *q, void *ud);

struct mdspf_dns_query {
  mdspf__allocator alloc;
  mdspf__dnsq_cb on_done; /* called by mdspf_dns_done */
  void *ud;
  mdspf__link link; /* on the owner's list of live queries */
  void *token;      /* backend token for cancel() */
  int rrtype;
  int state;
  int status; /* mdspf_dns_status once done */
  int rcode;
  unsigned nrr;
  int too_big; /* answer exceeded the caps */
  int nomem;   /* an add_* failed to allocate */
  int has_ttl;  /* mdspf_dns_set_ttl was called (else the TTL is unknown) */
  uint32_t ttl; /* seconds: the smallest value set */
  unsigned tag;  /* owner data */
  int announced; /* owner data: the answer was traced */
  uint8_t *data;
  size_t len, cap;
  char name[]; /* allocated to its length (mdspf__dnsq_size) */
};

/* Create a query for name (copied, normalised: no trailing dot) and type.
 * Returns NULL on allocation failure or if name is not queryable. */
mdspf_dns_query *mdspf__dnsq_new(const mdspf__allocator *a, const char *name,
                                 size_t namelen, int rrtype,
                                 mdspf__dnsq_cb on_done, void *ud);
void mdspf__dnsq_free(mdspf_dns_query *q);
/* Bytes of the query object itself (its answer data not included). */
size_t mdspf__dnsq_size(const mdspf_dns_query *q);
/* Iterate records: *pos starts at 0; returns 1 and fills rr, or 0 at end. */
int mdspf__dnsq_next(const mdspf_dns_query *q, size_t *pos, mdspf__rr *rr);
/* The same over a copy of a query's record data (q->data, q->len). */
int mdspf__dnsq_next_in(const uint8_t *data, size_t len, size_t *pos,
                        mdspf__rr *rr);
/* Give every record of data (a copy of some query's q->data, q->len) to
 * dst through the public answer builders, which copy and cap them as
 * for any backend.  Used by resolvers that pass answers on (overlay,
 * cache). */
void mdspf__dnsq_replay(mdspf_dns_query *dst, const uint8_t *data,
                        size_t len);

#endif /* MDSPF_CORE_DNSQ_H */

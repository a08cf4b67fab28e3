/*
 * lib/core/dnsq.c -- DNS query objects and the answer builder calls backends
 * use (mdspf_dns_add_* / mdspf_dns_done).  Answers are stored in one
 * growing buffer per query with hard caps, so a hostile answer costs at
 * most MDSPF_MAX_ANSWER_BYTES (+ small overhead) of memory.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/dnsq.h"

#include <string.h>

/* record layout in q->data: kind (1), length (4, little endian), data */
#define HDR 5

mdspf_dns_query *mdspf__dnsq_new(const mdspf__allocator *a, const char *name,
                                 size_t namelen, int rrtype,
                                 mdspf__dnsq_cb on_done, void *ud) {
  mdspf_dns_query *q;
  if (!mdspf__name_queryable(name, namelen)) {
    return NULL;
  }
  if (namelen > 0 && name[namelen - 1] == '.') {
    namelen--;
  }
  q = mdspf__alloc(a, sizeof *q + namelen + 1);
  if (!q) {
    return NULL;
  }
  q->alloc = *a;
  q->on_done = on_done;
  q->ud = ud;
  q->rrtype = rrtype;
  q->rcode = -1;
  memcpy(q->name, name, namelen);
  q->name[namelen] = '\0';
  return q;
}

size_t mdspf__dnsq_size(const mdspf_dns_query *q) {
  return sizeof *q + strlen(q->name) + 1;
}

void mdspf__dnsq_free(mdspf_dns_query *q) {
  if (q) {
    mdspf__allocator a = q->alloc;
    mdspf__free(&a, q->data, q->cap);
    mdspf__free(&a, q, mdspf__dnsq_size(q));
  }
}

static void put_record(mdspf_dns_query *q, int kind, const void *d1,
                       size_t l1, const void *d2, size_t l2) {
  size_t need, total = l1 + l2;
  if (!q || q->state == MDSPF__Q_DONE || q->too_big || q->nomem) {
    return;
  }
  /* q->len - nrr * HDR is the record data stored so far */
  if (q->nrr >= MDSPF_MAX_ANSWER_RRS || total > MDSPF_MAX_ANSWER_BYTES ||
      (q->len - (size_t)q->nrr * HDR) + total > MDSPF_MAX_ANSWER_BYTES) {
    q->too_big = 1;
    return;
  }
  need = q->len + HDR + total;
  if (need > q->cap) {
    size_t ncap = q->cap ? q->cap : 64; /* most answers are small */
    uint8_t *nd;
    while (ncap < need) {
      ncap *= 2;
    }
    nd = mdspf__realloc(&q->alloc, q->data, q->cap, ncap);
    if (!nd) {
      q->nomem = 1;
      return;
    }
    q->data = nd;
    q->cap = ncap;
  }
  q->data[q->len] = (uint8_t)kind;
  q->data[q->len + 1] = (uint8_t)(total & 0xff);
  q->data[q->len + 2] = (uint8_t)((total >> 8) & 0xff);
  q->data[q->len + 3] = (uint8_t)((total >> 16) & 0xff);
  q->data[q->len + 4] = (uint8_t)((total >> 24) & 0xff);
  if (l1) {
    memcpy(q->data + q->len + HDR, d1, l1);
  }
  if (l2) {
    memcpy(q->data + q->len + HDR + l1, d2, l2);
  }
  q->len += HDR + total;
  q->nrr++;
}

void mdspf_dns_add_txt(mdspf_dns_query *q, const char *txt, size_t len) {
  if (!q || q->rrtype != MDSPF_RR_TXT || (!txt && len)) {
    return;
  }
  put_record(q, MDSPF__RK_TXT, txt, len, NULL, 0);
}

void mdspf_dns_add_addr(mdspf_dns_query *q, int family, const void *addr) {
  uint8_t f;
  if (!q || !addr) {
    return;
  }
  if (family == 4 && q->rrtype == MDSPF_RR_A) {
    f = 4;
    put_record(q, MDSPF__RK_ADDR, &f, 1, addr, 4);
  } else if (family == 6 && q->rrtype == MDSPF_RR_AAAA) {
    f = 6;
    put_record(q, MDSPF__RK_ADDR, &f, 1, addr, 16);
  }
}

void mdspf_dns_add_name(mdspf_dns_query *q, const char *name,
                        unsigned pref) {
  size_t n;
  uint8_t p[2];
  if (!q || !name || (q->rrtype != MDSPF_RR_MX && q->rrtype != MDSPF_RR_PTR)) {
    return;
  }
  n = strnlen(name, MDSPF__MAX_NAME + 2);
  if (n > MDSPF__MAX_NAME + 1) {
    return; /* longer than any DNS name: malformed, ignore */
  }
  if (n > 0 && name[n - 1] == '.') {
    n--;
  }
  if (pref > 0xffff) {
    pref = 0xffff;
  }
  p[0] = (uint8_t)(pref >> 8);
  p[1] = (uint8_t)(pref & 0xff);
  put_record(q, MDSPF__RK_NAME, p, 2, name, n);
}

void mdspf_dns_done(mdspf_dns_query *q, int dns_status, int rcode) {
  if (!q || q->state == MDSPF__Q_DONE) {
    return;
  }
  if (dns_status < MDSPF_DNS_OK || dns_status > MDSPF_DNS_ERROR) {
    dns_status = MDSPF_DNS_ERROR;
  }
  if (dns_status == MDSPF_DNS_OK && (q->too_big || q->nomem)) {
    dns_status = MDSPF_DNS_ERROR; /* an answer we could not keep whole */
  } else if (dns_status == MDSPF_DNS_OK && q->nrr == 0) {
    dns_status = MDSPF_DNS_NODATA;
  }
  if (dns_status != MDSPF_DNS_OK) {
    q->len = 0; /* records only count for a positive answer */
    q->nrr = 0;
  }
  q->status = dns_status;
  q->rcode = rcode;
  q->state = MDSPF__Q_DONE;
  if (q->on_done) {
    q->on_done(q, q->ud);
  }
}

void mdspf_dns_set_ttl(mdspf_dns_query *q, uint32_t seconds) {
  if (!q || q->state == MDSPF__Q_DONE) {
    return;
  }
  if (seconds > 0x7fffffffu) {
    seconds = 0; /* RFC 2181 8: a TTL with the top bit set counts as 0 */
  }
  if (!q->has_ttl || seconds < q->ttl) {
    q->ttl = seconds;
  }
  q->has_ttl = 1;
}

const char *mdspf_dns_query_name(const mdspf_dns_query *q) {
  return q ? q->name : "";
}

int mdspf_dns_query_type(const mdspf_dns_query *q) {
  return q ? q->rrtype : 0;
}

int mdspf__dnsq_next(const mdspf_dns_query *q, size_t *pos, mdspf__rr *rr) {
  if (!q) {
    return 0;
  }
  return mdspf__dnsq_next_in(q->data, q->len, pos, rr);
}

int mdspf__dnsq_next_in(const uint8_t *data, size_t dlen, size_t *pos,
                        mdspf__rr *rr) {
  size_t p = *pos, len;
  const uint8_t *d;
  if (!data || p > dlen || dlen - p < HDR) {
    return 0;
  }
  d = data + p;
  len = (size_t)d[1] | ((size_t)d[2] << 8) | ((size_t)d[3] << 16) |
        ((size_t)d[4] << 24);
  if (len > dlen - p - HDR) {
    return 0;
  }
  memset(rr, 0, sizeof *rr);
  rr->kind = d[0];
  rr->data = d + HDR;
  rr->len = len;
  if (rr->kind == MDSPF__RK_ADDR && len >= 1) {
    rr->family = d[HDR];
    rr->data = d + HDR + 1;
    rr->len = len - 1;
  } else if (rr->kind == MDSPF__RK_NAME && len >= 2) {
    rr->pref = ((unsigned)d[HDR] << 8) | d[HDR + 1];
    rr->data = d + HDR + 2;
    rr->len = len - 2;
  }
  *pos = p + HDR + len;
  return 1;
}

void mdspf__dnsq_replay(mdspf_dns_query *dst, const uint8_t *data,
                        size_t len) {
  size_t pos = 0;
  mdspf__rr rr;
  while (mdspf__dnsq_next_in(data, len, &pos, &rr)) {
    switch (rr.kind) {
    case MDSPF__RK_TXT:
      mdspf_dns_add_txt(dst, (const char *)rr.data, rr.len);
      break;
    case MDSPF__RK_ADDR:
      if (rr.len == (rr.family == 4 ? 4u : 16u)) {
        mdspf_dns_add_addr(dst, rr.family, rr.data);
      }
      break;
    case MDSPF__RK_NAME: {
      char name[MDSPF__MAX_NAME + 2];
      if (rr.len < sizeof name) {
        memcpy(name, rr.data, rr.len);
        name[rr.len] = '\0';
        mdspf_dns_add_name(dst, name, rr.pref);
      }
      break;
    }
    default:
      break;
    }
  }
}

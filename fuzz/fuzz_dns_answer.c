/*
 * fuzz/fuzz_dns_answer.c -- the c-ares backend's answer handling
 * (mdspf__cares_answer: raw DNS reply -> answer-builder calls).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Input: one raw DNS reply (as c-ares would hand it to its callback).  It
 * is fed, as a successful reply, to a standalone query of each type the
 * backend asks for (A, AAAA, MX, TXT, PTR); then once more under an
 * allocation failure, and once with an error status chosen from the
 * reply's length.
 *
 * Invariants: the completion callback runs exactly once, inside the call;
 * the status is a valid mdspf_dns_status, OK only with records and none
 * otherwise; iterating the stored records visits exactly nrr records of
 * the asked type with sane lengths (names without NUL, '.'-separated
 * non-empty labels of at most 63 octets); nothing leaks and every free
 * passes the exact size.
 */
#include "fuzz_common.h"

#include "core/dnsq.h"

#include "resolvers/cares/cares_internal.h"

/* for the ARES_* status codes */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>

typedef struct seen {
  int calls;
  int status;
  int rcode;
} seen;

static void check_name(const uint8_t *p, size_t n) {
  size_t i, label = 0;
  FUZZ_CHECK(n <= MDSPF__MAX_NAME);
  for (i = 0; i < n; i++) {
    FUZZ_CHECK(p[i] != 0);
    if (p[i] == '.') {
      FUZZ_CHECK(label > 0);
      label = 0;
    } else {
      label++;
      FUZZ_CHECK(label <= 63);
    }
  }
  FUZZ_CHECK(n == 0 || label > 0); /* no trailing dot */
}

static void on_done(mdspf_dns_query *q, void *ud) {
  seen *s = ud;
  size_t pos = 0;
  unsigned n = 0;
  mdspf__rr rr;
  s->calls++;
  s->status = q->status;
  s->rcode = q->rcode;
  FUZZ_CHECK(q->state == MDSPF__Q_DONE);
  FUZZ_CHECK(q->status >= MDSPF_DNS_OK && q->status <= MDSPF_DNS_ERROR);
  FUZZ_CHECK(q->rcode >= -1 && q->rcode <= 15);
  if (q->status == MDSPF_DNS_OK) {
    FUZZ_CHECK(q->nrr > 0 && q->rcode == 0);
  } else {
    FUZZ_CHECK(q->nrr == 0);
  }
  while (mdspf__dnsq_next(q, &pos, &rr)) {
    n++;
    switch (q->rrtype) {
    case MDSPF_RR_A:
      FUZZ_CHECK(rr.kind == MDSPF__RK_ADDR && rr.family == 4 && rr.len == 4);
      break;
    case MDSPF_RR_AAAA:
      FUZZ_CHECK(rr.kind == MDSPF__RK_ADDR && rr.family == 6 && rr.len == 16);
      break;
    case MDSPF_RR_MX:
    case MDSPF_RR_PTR:
      FUZZ_CHECK(rr.kind == MDSPF__RK_NAME);
      FUZZ_CHECK(q->rrtype == MDSPF_RR_MX || rr.pref == 0);
      FUZZ_CHECK(rr.pref <= 0xffff);
      check_name(rr.data, rr.len);
      break;
    case MDSPF_RR_TXT:
      FUZZ_CHECK(rr.kind == MDSPF__RK_TXT);
      FUZZ_CHECK(rr.len <= MDSPF_MAX_ANSWER_BYTES);
      break;
    default:
      FUZZ_CHECK(0);
    }
  }
  FUZZ_CHECK(n == q->nrr && n <= MDSPF_MAX_ANSWER_RRS);
  FUZZ_CHECK(pos == q->len);
}

/* One call of the answer function on a fresh query; returns the status. */
static int feed(int rrtype, int ares_status, const uint8_t *buf, size_t len,
                unsigned long fail_at) {
  fuzz_alloc fa;
  mdspf__allocator al;
  mdspf_dns_query *q;
  seen s = {0, -1, -2};
  fuzz_alloc_init(&fa, 0, 0);
  mdspf__allocator_init(&al, fuzz_alloc_fn, &fa);
  q = mdspf__dnsq_new(&al, "fuzz.example", 12, rrtype, on_done, &s);
  FUZZ_CHECK(q != NULL);
  q->state = MDSPF__Q_PENDING;
  if (fail_at) {
    fa.fail_at = fa.nallocs + fail_at;
  }
  mdspf__cares_answer(q, rrtype, ares_status, buf, (int)len, fuzz_alloc_fn, &fa);
  FUZZ_CHECK(s.calls == 1);
  if (!fa.nfailed && ares_status == ARES_SUCCESS) {
    /* no shortage: never the out-of-memory answer */
    FUZZ_CHECK(!q->nomem);
  }
  if (fa.nfailed && s.status == MDSPF_DNS_OK) {
    FUZZ_CHECK(!q->nomem);
  }
  /* a second completion must be ignored */
  mdspf_dns_done(q, MDSPF_DNS_OK, 0);
  FUZZ_CHECK(s.calls == 1);
  mdspf__dnsq_free(q);
  FUZZ_CHECK(fa.outstanding == 0);
  return s.status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int types[] = {MDSPF_RR_A, MDSPF_RR_AAAA, MDSPF_RR_MX,
                              MDSPF_RR_TXT, MDSPF_RR_PTR};
  static const int errors[] = {
      ARES_ENODATA,  ARES_ENOTFOUND,    ARES_ESERVFAIL,  ARES_EREFUSED,
      ARES_ETIMEOUT, ARES_ECONNREFUSED, ARES_ECANCELLED, ARES_EDESTRUCTION,
      ARES_ENOMEM,   ARES_EFORMERR,     ARES_ENOTIMP,    ARES_EBADRESP,
      ARES_EBADNAME, ARES_SUCCESS};
  size_t k;
  if (size > 65535) {
    return 0; /* larger than any DNS message */
  }
  for (k = 0; k < sizeof types / sizeof types[0]; k++) {
    int st = feed(types[k], ARES_SUCCESS, data, size, 0);
    int st2;
    /* an allocation failure early in the work: a valid answer, no leak */
    (void)feed(types[k], ARES_SUCCESS, data, size, 1 + size % 3);
    /* an error status: the reply only lends its RCODE */
    st2 = feed(types[k], errors[size % (sizeof errors / sizeof errors[0])],
               data, size, 0);
    (void)st2;
    /* deterministic */
    FUZZ_CHECK(feed(types[k], ARES_SUCCESS, data, size, 0) == st);
  }
  /* a type the backend never asks for, and no reply at all */
  {
    int st = feed(MDSPF_RR_CNAME, ARES_SUCCESS, data, size, 0);
    FUZZ_CHECK(size < 12 || (data[3] & 0x0f) != 0 || st == MDSPF_DNS_ERROR);
  }
  FUZZ_CHECK(feed(MDSPF_RR_TXT, ARES_SUCCESS, NULL, 0, 0) == MDSPF_DNS_ERROR);
  return 0;
}

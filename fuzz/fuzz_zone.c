/*
 * fuzz/fuzz_zone.c -- the RFC 1035 master-file loader (mdspf_zone_load)
 * and the in-memory zone resolver answering from what it loaded.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Input layout:
 *   byte 0   allocation failures: 0 none; 1..127 fail only that request;
 *            128..255 fail every request from number (b - 127) on
 *   byte 1   errsz (0: no error buffer at all)
 *   byte 2   bits 0-2 origin choice, bit 3 MDSPF_ZONE_LAX
 *   rest     the master-file text
 *
 * Then the first word of up to MAX_NAMES lines (made absolute with the
 * origin) is asked for A, AAAA, MX, TXT, PTR and CNAME through the zone's
 * resolver, inline, on standalone query objects.
 *
 * Invariants: the error message is NUL-terminated within errsz and starts
 * with the file name on failure, empty on success; $INCLUDE never reaches
 * the file system (mdspf_zone_load refuses it: MDSPF_E_NOTSUP) and only
 * $GENERATE can hit a load bound (MDSPF_E_LIMIT); the skipped-type list
 * holds distinct upper-case names with counts of at least one; every
 * query answers exactly once inside query(), with a valid status and
 * records of the asked type only; a name the zone says it has is never
 * NXDOMAIN; no allocation is leaked (byte count) and every free passes
 * the exact size.
 */
#include "fuzz_common.h"

#include "core/dnsq.h"

#define MAX_NAMES 8
#define FILENAME "fuzz.zone"

static const char *const ORIGINS[8] = {
    NULL,        "example.com", "example.com.",  ".",
    "spf.test.", "a..b",        "x.example.org", "",
};

typedef struct answer {
  int calls;
  int status;
  unsigned nrr;
} answer;

static void on_done(mdspf_dns_query *q, void *ud) {
  answer *a = ud;
  size_t pos = 0;
  unsigned n = 0;
  mdspf__rr rr;
  a->calls++;
  a->status = q->status;
  a->nrr = q->nrr;
  FUZZ_CHECK(q->state == MDSPF__Q_DONE);
  FUZZ_CHECK(q->status >= MDSPF_DNS_OK && q->status <= MDSPF_DNS_ERROR);
  FUZZ_CHECK(mdspf_dns_status_str(q->status) != NULL);
  if (q->status == MDSPF_DNS_OK) {
    FUZZ_CHECK(q->nrr > 0 && !q->too_big && !q->nomem);
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
      FUZZ_CHECK(rr.kind == MDSPF__RK_NAME && rr.len <= MDSPF__MAX_NAME);
      FUZZ_CHECK(rr.len == 0 || rr.data[rr.len - 1] != '.');
      FUZZ_CHECK(q->rrtype == MDSPF_RR_MX || rr.pref == 0);
      break;
    case MDSPF_RR_TXT:
      FUZZ_CHECK(rr.kind == MDSPF__RK_TXT && rr.len <= MDSPF_MAX_ANSWER_BYTES);
      break;
    default:
      FUZZ_CHECK(0); /* CNAME answers carry no records */
    }
  }
  FUZZ_CHECK(n == q->nrr);
  FUZZ_CHECK(pos == q->len);
}

/* 1 if text holds word, ASCII case-insensitive. */
static int has_word(const char *text, size_t len, const char *word) {
  size_t n = strlen(word), i, k;
  for (i = 0; i + n <= len; i++) {
    for (k = 0; k < n; k++) {
      char c = text[i + k];
      if (c >= 'a' && c <= 'z') {
        c = (char)(c - 'a' + 'A');
      }
      if (c != word[k]) {
        break;
      }
    }
    if (k == n) {
      return 1;
    }
  }
  return 0;
}

/* The skipped-type list: names distinct, "TYPEnnn" or an upper-case
 * mnemonic (letters, digits, '-'), counts at least one, NULL and 0 past
 * the end. */
static void check_skipped(const mdspf_zone *z) {
  size_t n = mdspf_zone_skipped(z, 0, NULL, NULL), i, j;
  const char *type = "";
  unsigned long count = 1;
  FUZZ_CHECK(n <= 65536);
  for (i = 0; i < n; i++) {
    size_t len;
    FUZZ_CHECK(mdspf_zone_skipped(z, i, &type, &count) == n);
    FUZZ_CHECK(type != NULL && count >= 1);
    len = strlen(type);
    FUZZ_CHECK(len >= 1 && len < 12);
    for (j = 0; j < len; j++) {
      FUZZ_CHECK((type[j] >= 'A' && type[j] <= 'Z') ||
                 (type[j] >= '0' && type[j] <= '9') || type[j] == '-');
    }
    for (j = 0; j < i; j++) {
      const char *other = NULL;
      (void)mdspf_zone_skipped(z, j, &other, NULL);
      FUZZ_CHECK(other != NULL && strcmp(other, type) != 0);
    }
  }
  FUZZ_CHECK(mdspf_zone_skipped(z, n, &type, &count) == n);
  FUZZ_CHECK(type == NULL && count == 0);
}

/* Ask the zone for name (n octets) and every type; returns the status of
 * the CNAME-type query (-1 if it could not be asked). */
static int ask(const mdspf_resolver *res, const mdspf__allocator *al,
               const char *name, size_t n) {
  static const int types[] = {MDSPF_RR_A,   MDSPF_RR_AAAA, MDSPF_RR_MX,
                              MDSPF_RR_TXT, MDSPF_RR_PTR,  MDSPF_RR_CNAME};
  size_t k;
  int cname_status = -1;
  for (k = 0; k < sizeof types / sizeof types[0]; k++) {
    answer a = {0, -1, 0};
    void *token = (void *)&a; /* must be overwritten */
    mdspf_dns_query *q = mdspf__dnsq_new(al, name, n, types[k], on_done, &a);
    int rc;
    if (!q) {
      continue; /* not queryable, or out of memory */
    }
    q->state = MDSPF__Q_PENDING;
    rc = res->query(res->impl, q, q->name, types[k], &token);
    if (rc == 0) {
      /* inline delivery, no faults in a loaded zone: answered already */
      FUZZ_CHECK(a.calls == 1);
      FUZZ_CHECK(token == NULL);
      if (types[k] == MDSPF_RR_CNAME) {
        cname_status = a.status;
      }
    } else {
      FUZZ_CHECK(a.calls == 0);
    }
    mdspf__dnsq_free(q);
  }
  return cname_status;
}

/* Up to MAX_NAMES owner-like words: the first word of a line, made
 * absolute with the origin ("@" is the origin itself). */
static size_t collect_names(const char *text, size_t len, const char *origin,
                            char names[MAX_NAMES][600]) {
  size_t pos = 0, count = 0;
  const char *org =
      origin && origin[0] && strcmp(origin, ".") != 0 ? origin : "";
  size_t ol = strlen(org);
  if (ol && org[ol - 1] == '.') {
    ol--;
  }
  if (ol) {
    memcpy(names[count], org, ol);
    names[count][ol] = '\0';
    count++;
  }
  while (pos < len && count < MAX_NAMES) {
    size_t end = pos, wl;
    while (end < len && text[end] != ' ' && text[end] != '\t' &&
           text[end] != '\n' && text[end] != '\r' && text[end] != '\0') {
      end++;
    }
    wl = end - pos;
    if (wl > 0 && wl < 256 && text[pos] != ';' && text[pos] != '$' &&
        text[pos] != '(' && text[pos] != '"') {
      char *out = names[count];
      if (wl == 1 && text[pos] == '@') {
        memcpy(out, org, ol);
        out[ol] = '\0';
      } else if (text[pos + wl - 1] == '.' || ol == 0) {
        memcpy(out, text + pos, wl);
        out[wl] = '\0';
      } else {
        memcpy(out, text + pos, wl);
        out[wl] = '.';
        memcpy(out + wl + 1, org, ol);
        out[wl + 1 + ol] = '\0';
      }
      if (out[0]) {
        count++;
      }
    }
    /* next line */
    while (end < len && text[end] != '\n') {
      end++;
    }
    pos = end + 1;
  }
  return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size};
  unsigned oom = fuzz_byte(&in);
  size_t errsz = fuzz_byte(&in);
  unsigned opt = fuzz_byte(&in);
  const char *origin = ORIGINS[opt & 7u];
  const char *text = (const char *)in.p;
  size_t len = in.n, nn, i;
  fuzz_alloc fa;
  mdspf__allocator al;
  mdspf_zone *z = NULL;
  char *err = NULL;
  char names[MAX_NAMES][600];
  int rc;

  fuzz_alloc_init(&fa, oom == 0 ? 0 : (oom < 128 ? oom : oom - 127),
                  oom >= 128);
  mdspf__allocator_init(&al, fuzz_alloc_fn, &fa);
  if (mdspf_zone_new(fuzz_alloc_fn, &fa, &z) != MDSPF_OK) {
    FUZZ_CHECK(fa.nfailed > 0 && z == NULL);
    FUZZ_CHECK(fa.outstanding == 0);
    return 0;
  }
  if (opt & 8u) {
    mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  }
  if (errsz) {
    err = malloc(errsz); /* exact size: ASan sees any write past it */
    FUZZ_CHECK(err != NULL);
    memset(err, 'Z', errsz);
  }
  rc = mdspf_zone_load(z, text, len, origin, FILENAME, err, errsz);
  FUZZ_CHECK(rc == MDSPF_OK || rc == MDSPF_E_SYNTAX || rc == MDSPF_E_NOMEM ||
             rc == MDSPF_E_INVAL || rc == MDSPF_E_NOTSUP ||
             rc == MDSPF_E_LIMIT);
  /* no file is ever opened from text: $INCLUDE is refused */
  FUZZ_CHECK(rc != MDSPF_E_NOTSUP || has_word(text, len, "$INCLUDE"));
  FUZZ_CHECK(rc != MDSPF_E_LIMIT || has_word(text, len, "$GENERATE"));
  FUZZ_CHECK(rc != MDSPF_E_NOMEM || fa.nfailed > 0);
  if (err) {
    FUZZ_CHECK(memchr(err, '\0', errsz) != NULL);
    if (rc == MDSPF_OK) {
      FUZZ_CHECK(err[0] == '\0');
    } else if (errsz > sizeof FILENAME) {
      FUZZ_CHECK(strncmp(err, FILENAME ":", sizeof FILENAME) == 0);
    }
  }
  if (rc == MDSPF_E_INVAL) {
    /* only a bad origin is refused this way */
    FUZZ_CHECK(origin != NULL && strcmp(origin, "a..b") == 0);
  }

  check_skipped(z);

  /* answer from what was loaded */
  nn = collect_names(text, len, origin, names);
  for (i = 0; i < nn; i++) {
    size_t n = strlen(names[i]);
    int has = mdspf_zone_has_name(z, names[i]);
    int cs;
    FUZZ_CHECK(has == 0 || has == 1);
    cs = ask(mdspf_zone_resolver(z), &al, names[i], n);
    if (has && cs >= 0) {
      FUZZ_CHECK(cs == MDSPF_DNS_NODATA);
    }
  }
  FUZZ_CHECK(mdspf_zone_pending(z) == 0);
  mdspf_zone_free(z);
  free(err);
  FUZZ_CHECK(fa.outstanding == 0);
  return 0;
}

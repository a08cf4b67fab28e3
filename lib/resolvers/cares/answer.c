/*
 * lib/resolvers/cares/answer.c -- one c-ares completion (status + raw reply) into
 * the answer-builder calls of the resolver interface.
 *
 * The reply is parsed with the c-ares 1.18 parsers (ares_parse_*_reply),
 * which validate it; we still check every length ourselves because this
 * function is also the fuzzer's entry point and sees arbitrary bytes.
 *
 * Two things the c-ares parsers do not look at are decided here:
 *   - a NOERROR reply whose TC bit is still set is not an answer (RFC
 *     2181 9: the records may be a part of the set): a truncated UDP
 *     reply is asked again over TCP before it gets here, so one that
 *     reaches this function is final -- e.g. one that came over TCP --
 *     and is MDSPF_DNS_ERROR, never "no data";
 *   - a reply without records of the type whose CNAME chain, followed
 *     from the question name through the answer section, comes back to a
 *     name it passed is a CNAME loop: MDSPF_DNS_TEMPFAIL with RCODE 2, as
 *     a recursive server that finds the loop itself answers (SERVFAIL)
 *     and as the zone resolver reports it.  A chain that ends at a name
 *     without records of the type stays "no data".
 * And the TTL every answer carries (mdspf_dns_set_ttl), read from the
 * reply itself since the 1.18 parsers report it for A and AAAA only: a
 * positive answer's is the smallest TTL of the answer section's records
 * of the asked type and its CNAMEs; a negative one's (NXDOMAIN, NODATA)
 * is RFC 2308's, min(TTL of the authority section's SOA, its MINIMUM),
 * lowered by the CNAMEs the answer section holds.  No SOA, or a reply
 * that cannot be walked: no TTL (a cache then does not keep it).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "cares_internal.h"

/* ares.h uses fd_set and struct timeval without including their headers
 * under a strict POSIX feature set */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>
#include <netdb.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DNS_HEADER_LEN 12
#define DNS_FLAG_TC 0x02 /* in octet 2 of the header */
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA 6
#define DNS_CLASS_IN 1

/* CNAME records of one reply looked at for a loop (a real chain has a
 * handful; the ones past this are ignored, so the check stays cheap on
 * hostile input), and the longest name in wire form. */
#define MAX_CNAMES 32
#define WIRE_NAME_MAX 255

/* Smallest encodings of one answer RR of each type (compressed owner
 * name of 2 octets + 10 octets of fixed fields + rdata): they bound how
 * many records a reply of alen octets can hold. */
#define MIN_RR_A (2 + 10 + 4)
#define MIN_RR_AAAA (2 + 10 + 16)

/* Presentation names are at most 4 times the raw length (\DDD). */
#define MAX_NAME 253 /* presentation length without the trailing dot */
#define NAME_BUF (MAX_NAME + 2)

/* ---- memory ---------------------------------------------------------------- */

/* Temporary memory comes from the backend's allocator hook (NULL: libc).
 * The backend is built against the public headers only, so it has its
 * own small wrappers rather than the core's. */
typedef struct mem {
  mdspf_alloc_fn fn;
  void *ud;
} mem;

static void *m_alloc(const mem *m, size_t n) {
  void *p;
  if (n == 0) {
    return NULL;
  }
  p = m->fn ? m->fn(m->ud, NULL, 0, n) : malloc(n);
  if (p) {
    memset(p, 0, n);
  }
  return p;
}

static void m_free(const mem *m, void *p, size_t n) {
  if (!p) {
    return;
  }
  if (m->fn) {
    (void)m->fn(m->ud, p, n, 0);
  } else {
    free(p);
  }
}

/* ---- names ----------------------------------------------------------------- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int mdspf__cares_unescape_name(const char *in, char *out, size_t outsz) {
  size_t i = 0, o = 0, label = 0;
  if (!in || !out || outsz == 0) {
    return -1;
  }
  while (in[i] != '\0') {
    unsigned v;
    if (in[i] == '.') {
      /* an empty label ("a..b", ".a") is not a name */
      if (label == 0) {
        return -1;
      }
      label = 0;
      v = '.';
      i++;
    } else if (in[i] == '\\') {
      if (is_digit(in[i + 1]) && is_digit(in[i + 2]) && is_digit(in[i + 3])) {
        v = (unsigned)(in[i + 1] - '0') * 100u +
            (unsigned)(in[i + 2] - '0') * 10u + (unsigned)(in[i + 3] - '0');
        if (v > 255) {
          return -1;
        }
        i += 4;
      } else if (in[i + 1] != '\0') {
        v = (unsigned char)in[i + 1];
        i += 2;
      } else {
        return -1; /* a lone backslash at the end */
      }
      /* the core separates labels with '.' and ends names at NUL: a
       * label that contains either cannot be passed on */
      if (v == '.' || v == 0) {
        return -1;
      }
      label++;
    } else {
      v = (unsigned char)in[i];
      label++;
      i++;
    }
    if (label > 63 || o + 1 >= outsz) {
      return -1;
    }
    out[o++] = (char)v;
  }
  if (o > 0 && label == 0) {
    o--; /* a trailing dot: c-ares strips it, but be lenient */
  }
  if (o > MAX_NAME) {
    return -1;
  }
  out[o] = '\0';
  return (int)o;
}

static void add_name(mdspf_dns_query *q, const char *name, unsigned pref,
                     size_t *added) {
  char raw[NAME_BUF];
  if (!name || mdspf__cares_unescape_name(name, raw, sizeof raw) < 0) {
    return; /* malformed target: ignored, as the builder would */
  }
  mdspf_dns_add_name(q, raw, pref);
  (*added)++;
}

/* ---- per-type parsing ----------------------------------------------------- */

/* Answers of ordinary size are parsed in buffers on the stack, larger
 * ones in memory from the allocator hook: the usual answer costs no
 * allocation of ours. */
#define STACK_ADDRS 32   /* A or AAAA records */
#define STACK_TXT 1024   /* octets of the longest TXT record, + 1 */

static size_t rr_cap(int alen, size_t min_rr) {
  size_t cap = (size_t)alen / min_rr + 1;
  /* one more than the builder accepts, so an over-long answer still
   * reaches it and is turned into an error there */
  if (cap > (size_t)MDSPF_MAX_ANSWER_RRS + 1) {
    cap = (size_t)MDSPF_MAX_ANSWER_RRS + 1;
  }
  return cap;
}

/* Each parser hands the records of the asked type to q and counts them
 * in *added; it returns the c-ares status of the parse. */
static int parse_a(mdspf_dns_query *q, const mem *mm,
                   const unsigned char *abuf, int alen, size_t *added) {
  struct ares_addrttl stack[STACK_ADDRS];
  size_t cap = rr_cap(alen, MIN_RR_A), i;
  struct ares_addrttl *tt =
      cap <= STACK_ADDRS ? stack : m_alloc(mm, cap * sizeof *tt);
  int n = (int)cap, st;
  if (!tt) {
    return ARES_ENOMEM;
  }
  st = ares_parse_a_reply(abuf, alen, NULL, tt, &n);
  if (st == ARES_SUCCESS) {
    for (i = 0; n > 0 && i < (size_t)n && i < cap; i++) {
      mdspf_dns_add_addr(q, 4, &tt[i].ipaddr);
      (*added)++;
    }
  }
  if (tt != stack) {
    m_free(mm, tt, cap * sizeof *tt);
  }
  return st;
}

static int parse_aaaa(mdspf_dns_query *q, const mem *mm,
                      const unsigned char *abuf, int alen, size_t *added) {
  struct ares_addr6ttl stack[STACK_ADDRS];
  size_t cap = rr_cap(alen, MIN_RR_AAAA), i;
  struct ares_addr6ttl *tt =
      cap <= STACK_ADDRS ? stack : m_alloc(mm, cap * sizeof *tt);
  int n = (int)cap, st;
  if (!tt) {
    return ARES_ENOMEM;
  }
  st = ares_parse_aaaa_reply(abuf, alen, NULL, tt, &n);
  if (st == ARES_SUCCESS) {
    for (i = 0; n > 0 && i < (size_t)n && i < cap; i++) {
      mdspf_dns_add_addr(q, 6, &tt[i].ip6addr);
      (*added)++;
    }
  }
  if (tt != stack) {
    m_free(mm, tt, cap * sizeof *tt);
  }
  return st;
}

static int parse_mx(mdspf_dns_query *q, const unsigned char *abuf, int alen,
                    size_t *added) {
  struct ares_mx_reply *mx = NULL, *m;
  int st = ares_parse_mx_reply(abuf, alen, &mx);
  if (st == ARES_SUCCESS) {
    for (m = mx; m; m = m->next) {
      add_name(q, m->host, m->priority, added);
    }
  }
  if (mx) {
    ares_free_data(mx);
  }
  return st;
}

static int parse_ptr(mdspf_dns_query *q, const unsigned char *abuf,
                     int alen, size_t *added) {
  /* ares_parse_ptr_reply wants the address the name was made from, only
   * to copy it into the hostent; any 4 octets do. */
  static const unsigned char any_addr[4] = {0, 0, 0, 0};
  struct hostent *h = NULL;
  int st = ares_parse_ptr_reply(abuf, alen, any_addr, (int)sizeof any_addr,
                                AF_INET, &h);
  if (st == ARES_SUCCESS && h) {
    /* c-ares lists every PTR target in h_aliases (h_name is the last
     * one); fall back to h_name if a version leaves the list empty */
    size_t i, n = 0;
    if (h->h_aliases) {
      for (i = 0; h->h_aliases[i] && i < MDSPF_MAX_ANSWER_RRS + 1; i++) {
        add_name(q, h->h_aliases[i], 0, added);
        n++;
      }
    }
    if (n == 0 && h->h_name) {
      add_name(q, h->h_name, 0, added);
    }
  }
  if (h) {
    ares_free_hostent(h);
  }
  return st;
}

static int parse_txt(mdspf_dns_query *q, const mem *mm,
                     const unsigned char *abuf, int alen, size_t *added) {
  struct ares_txt_ext *txt = NULL, *t, *start;
  size_t maxrec = 0, cur = 0;
  char stack[STACK_TXT];
  char *buf;
  int st = ares_parse_txt_reply_ext(abuf, alen, &txt);
  if (st != ARES_SUCCESS) {
    if (txt) {
      ares_free_data(txt);
    }
    return st;
  }
  /* Pass 1: the longest record, so one buffer serves every record.  The
   * strings of a record all come out of the reply, so a record longer
   * than the reply means the parser handed us nonsense. */
  for (t = txt; t; t = t->next) {
    if (t == txt || t->record_start) {
      cur = 0;
    }
    if (t->length > (size_t)alen - cur) {
      ares_free_data(txt);
      return ARES_EBADRESP;
    }
    cur += t->length;
    if (cur > maxrec) {
      maxrec = cur;
    }
  }
  buf = maxrec < sizeof stack ? stack : m_alloc(mm, maxrec + 1);
  if (!buf) {
    ares_free_data(txt);
    return ARES_ENOMEM;
  }
  /* Pass 2: join the character-strings of each RR at the record_start
   * boundaries and hand over one whole record at a time. */
  start = txt;
  while (start) {
    size_t len = 0;
    t = start;
    do {
      if (t->length > 0 && t->txt) {
        memcpy(buf + len, t->txt, t->length);
        len += t->length;
      }
      t = t->next;
    } while (t && !t->record_start);
    mdspf_dns_add_txt(q, buf, len);
    (*added)++;
    start = t;
  }
  if (buf != stack) {
    m_free(mm, buf, maxrec + 1);
  }
  ares_free_data(txt);
  return ARES_SUCCESS;
}

/* ---- truncation and CNAME loops ----------------------------------------- */

static int truncated(const unsigned char *abuf, int alen) {
  return alen >= DNS_HEADER_LEN && (abuf[2] & DNS_FLAG_TC) != 0;
}

static unsigned get16(const unsigned char *p) {
  return ((unsigned)p[0] << 8) | p[1];
}

/* The name at off, compression pointers followed, in a canonical form
 * (uncompressed wire labels, ASCII letters lower-cased) into out (at
 * least WIRE_NAME_MAX octets).  *end, if not NULL, gets the offset just
 * past the name where it is written.  Returns the length, or -1 for a
 * malformed name (out of bounds, a pointer loop, longer than 255). */
static int wire_name(const unsigned char *abuf, int alen, int off,
                     unsigned char *out, int *end) {
  int pos = off, n = 0, jumps = 0, after = -1;
  for (;;) {
    unsigned len;
    int i;
    if (pos < 0 || pos >= alen) {
      return -1;
    }
    len = abuf[pos];
    if ((len & 0xc0u) == 0xc0u) {
      /* a name has at most 127 labels, so more jumps mean a loop */
      if (pos + 1 >= alen || ++jumps > 127) {
        return -1;
      }
      if (after < 0) {
        after = pos + 2;
      }
      pos = (int)(((len & 0x3fu) << 8) | abuf[pos + 1]);
      continue;
    }
    if ((len & 0xc0u) != 0) {
      return -1; /* extended label types: not in a reply we asked for */
    }
    if (n + 1 + (int)len > WIRE_NAME_MAX) {
      return -1;
    }
    if (len == 0) {
      out[n++] = 0;
      if (after < 0) {
        after = pos + 1;
      }
      break;
    }
    if (pos + 1 + (int)len > alen) {
      return -1;
    }
    out[n++] = (unsigned char)len;
    for (i = 1; i <= (int)len; i++) {
      unsigned char ch = abuf[pos + i];
      out[n++] = (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
    }
    pos += 1 + (int)len;
  }
  if (end) {
    *end = after;
  }
  return n;
}

/* 1 when the CNAME chain of the answer section, followed from the first
 * question's name, comes back to a name it passed; 0 when it ends (or
 * the reply cannot be walked: the parsers judge that). */
static int cname_loop(const unsigned char *abuf, int alen) {
  int owner[MAX_CNAMES], target[MAX_CNAMES];
  unsigned char cur[WIRE_NAME_MAX], tmp[WIRE_NAME_MAX];
  int pos = DNS_HEADER_LEN, ncname = 0, curlen, steps;
  unsigned qd, an, i;
  if (alen < DNS_HEADER_LEN) {
    return 0;
  }
  qd = get16(abuf + 4);
  an = get16(abuf + 6);
  if (qd == 0) {
    return 0;
  }
  curlen = wire_name(abuf, alen, pos, cur, &pos);
  if (curlen < 0) {
    return 0;
  }
  pos += 4;
  for (i = 1; i < qd; i++) {
    if (wire_name(abuf, alen, pos, tmp, &pos) < 0) {
      return 0;
    }
    pos += 4;
  }
  for (i = 0; i < an && ncname < MAX_CNAMES; i++) {
    int at = pos;
    unsigned rdlen;
    if (pos > alen || wire_name(abuf, alen, pos, tmp, &pos) < 0 ||
        pos + 10 > alen) {
      return 0;
    }
    rdlen = get16(abuf + pos + 8);
    if (pos + 10 + (int)rdlen > alen) {
      return 0;
    }
    if (get16(abuf + pos) == DNS_TYPE_CNAME &&
        get16(abuf + pos + 2) == DNS_CLASS_IN) {
      owner[ncname] = at;
      target[ncname] = pos + 10;
      ncname++;
    }
    pos += 10 + (int)rdlen;
  }
  /* A chain that does not loop passes each CNAME at most once: after
   * ncname hops with yet another one to follow, a name came back. */
  for (steps = 0;; steps++) {
    int next = -1, k;
    for (k = 0; k < ncname && next < 0; k++) {
      int len = wire_name(abuf, alen, owner[k], tmp, NULL);
      if (len == curlen && memcmp(tmp, cur, (size_t)len) == 0) {
        next = target[k];
      }
    }
    if (next < 0) {
      return 0; /* the chain ends here */
    }
    if (steps >= ncname) {
      return 1;
    }
    curlen = wire_name(abuf, alen, next, cur, NULL);
    if (curlen < 0) {
      return 0;
    }
  }
}

/* ---- TTLs ---------------------------------------------------------------- */

static uint32_t get32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

/* The offset just past the name at off, without following compression
 * pointers; -1 when it runs out of the reply. */
static int skip_name(const unsigned char *abuf, int alen, int off) {
  int pos = off;
  for (;;) {
    unsigned len;
    if (pos < 0 || pos >= alen) {
      return -1;
    }
    len = abuf[pos];
    if ((len & 0xc0u) == 0xc0u) {
      return pos + 2 <= alen ? pos + 2 : -1;
    }
    if ((len & 0xc0u) != 0) {
      return -1;
    }
    if (len == 0) {
      return pos + 1;
    }
    pos += 1 + (int)len;
  }
}

/* The reply's TTL for an answer of rrtype (see the top): for a positive
 * answer (negative == 0) the smallest TTL of the records of rrtype and
 * the CNAMEs in the answer section, which must hold one of rrtype; for a
 * negative one min(SOA TTL, MINIMUM) of the first SOA in the authority
 * section and the CNAMEs' TTLs.  Returns 1 and sets *ttl, or 0 when the
 * reply has no such TTL or cannot be walked.  TTLs with the top bit set
 * are left to mdspf_dns_set_ttl (RFC 2181: 0). */
static int reply_ttl(const unsigned char *abuf, int alen, int rrtype,
                     int negative, uint32_t *ttl) {
  uint32_t best = 0xffffffffu;
  int pos = DNS_HEADER_LEN, found = 0;
  unsigned qd, an, ns, i;
  if (!abuf || alen < DNS_HEADER_LEN) {
    return 0;
  }
  qd = get16(abuf + 4);
  an = get16(abuf + 6);
  ns = get16(abuf + 8);
  for (i = 0; i < qd; i++) {
    pos = skip_name(abuf, alen, pos);
    if (pos < 0 || pos + 4 > alen) {
      return 0;
    }
    pos += 4;
  }
  for (i = 0; i < an + ns; i++) {
    unsigned type, klass, rdlen;
    uint32_t t;
    pos = skip_name(abuf, alen, pos);
    if (pos < 0 || pos + 10 > alen) {
      return 0;
    }
    type = get16(abuf + pos);
    klass = get16(abuf + pos + 2);
    t = get32(abuf + pos + 4);
    rdlen = get16(abuf + pos + 8);
    pos += 10;
    if (pos + (int)rdlen > alen) {
      return 0;
    }
    if (t > 0x7fffffffu) {
      t = 0; /* RFC 2181 8 */
    }
    if (klass == DNS_CLASS_IN && i < an &&
        (type == DNS_TYPE_CNAME || (!negative && (int)type == rrtype))) {
      if (t < best) {
        best = t;
      }
      if ((int)type == rrtype) {
        found = 1;
      }
    } else if (klass == DNS_CLASS_IN && i >= an && negative &&
               type == DNS_TYPE_SOA) {
      /* MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM */
      int r = skip_name(abuf, alen, pos);
      uint32_t minimum;
      r = r < 0 ? -1 : skip_name(abuf, alen, r);
      if (r < 0 || r + 20 != pos + (int)rdlen) {
        return 0;
      }
      minimum = get32(abuf + r + 16);
      if (minimum > 0x7fffffffu) {
        minimum = 0;
      }
      if (t < best) {
        best = t;
      }
      if (minimum < best) {
        best = minimum;
      }
      found = 1;
      break;
    }
    pos += (int)rdlen;
  }
  if (!found) {
    return 0;
  }
  *ttl = best;
  return 1;
}

/* Complete q with status, carrying the reply's TTL when it has one. */
static void done_ttl(mdspf_dns_query *q, int rrtype, int status, int rcode,
                     const unsigned char *abuf, int alen) {
  uint32_t ttl;
  if ((status == MDSPF_DNS_OK || status == MDSPF_DNS_NODATA ||
       status == MDSPF_DNS_NXDOMAIN) &&
      reply_ttl(abuf, alen, rrtype, status != MDSPF_DNS_OK, &ttl)) {
    mdspf_dns_set_ttl(q, ttl);
  }
  mdspf_dns_done(q, status, rcode);
}

/* ---- status mapping ----------------------------------------------------- */

/* The answer for an RCODE other than NOERROR, as c-ares' own qcallback
 * maps it (ares_query.c); used for statuses without a reply, and when a
 * "successful" reply (the fuzzer) carries an error RCODE. */
static int rcode_status(int rcode) {
  switch (rcode) {
  case 2: /* SERVFAIL */
  case 5: /* REFUSED */
    return MDSPF_DNS_TEMPFAIL;
  case 3: /* NXDOMAIN */
    return MDSPF_DNS_NXDOMAIN;
  default: /* FORMERR, NOTIMP, reserved */
    return MDSPF_DNS_ERROR;
  }
}

void mdspf__cares_answer(mdspf_dns_query *q, int rrtype, int ares_status,
                         const unsigned char *abuf, int alen,
                         mdspf_alloc_fn alloc, void *alloc_ud) {
  int rcode = -1, st;
  size_t added = 0;
  mem mm;
  mm.fn = alloc;
  mm.ud = alloc_ud;
  if (!q) {
    return;
  }
  if (!abuf || alen < 0) {
    abuf = NULL;
    alen = 0;
  }
  if (alen >= DNS_HEADER_LEN) {
    rcode = abuf[3] & 0x0f;
  }
  switch (ares_status) {
  case ARES_SUCCESS:
    break;
  case ARES_ENODATA:
    /* a truncated reply is not "no data" (see the top) */
    done_ttl(q, rrtype,
             truncated(abuf, alen) ? MDSPF_DNS_ERROR : MDSPF_DNS_NODATA,
             rcode >= 0 ? rcode : 0, abuf, alen);
    return;
  case ARES_ENOTFOUND:
    done_ttl(q, rrtype, MDSPF_DNS_NXDOMAIN, rcode >= 0 ? rcode : 3, abuf,
             alen);
    return;
  case ARES_ESERVFAIL:
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, rcode >= 0 ? rcode : 2);
    return;
  case ARES_EREFUSED:
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, rcode >= 0 ? rcode : 5);
    return;
  case ARES_ETIMEOUT:
  case ARES_ECONNREFUSED:
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION:
  case ARES_ENOMEM: /* a local shortage: worth trying again later */
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, rcode);
    return;
  case ARES_EFORMERR:
    mdspf_dns_done(q, MDSPF_DNS_ERROR, rcode >= 0 ? rcode : 1);
    return;
  case ARES_ENOTIMP:
    mdspf_dns_done(q, MDSPF_DNS_ERROR, rcode >= 0 ? rcode : 4);
    return;
  default: /* EBADRESP, EBADNAME, EBADQUERY, ... */
    mdspf_dns_done(q, MDSPF_DNS_ERROR, rcode);
    return;
  }

  /* ARES_SUCCESS: c-ares only says so for a NOERROR reply with answers,
   * but nothing here relies on that. */
  if (alen < DNS_HEADER_LEN) {
    mdspf_dns_done(q, MDSPF_DNS_ERROR, -1);
    return;
  }
  if (rcode != 0) {
    done_ttl(q, rrtype, rcode_status(rcode), rcode, abuf, alen);
    return;
  }
  if (truncated(abuf, alen)) {
    /* whatever records it holds may be a part of the set only */
    mdspf_dns_done(q, MDSPF_DNS_ERROR, rcode);
    return;
  }
  switch (rrtype) {
  case MDSPF_RR_A:
    st = parse_a(q, &mm, abuf, alen, &added);
    break;
  case MDSPF_RR_AAAA:
    st = parse_aaaa(q, &mm, abuf, alen, &added);
    break;
  case MDSPF_RR_MX:
    st = parse_mx(q, abuf, alen, &added);
    break;
  case MDSPF_RR_PTR:
    st = parse_ptr(q, abuf, alen, &added);
    break;
  case MDSPF_RR_TXT:
    st = parse_txt(q, &mm, abuf, alen, &added);
    break;
  default:
    st = ARES_ENOTIMP;
    break;
  }
  if ((st == ARES_SUCCESS || st == ARES_ENODATA) && added == 0 &&
      cname_loop(abuf, alen)) {
    /* no records, and the CNAMEs lead round in a circle */
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, 2);
    return;
  }
  switch (st) {
  case ARES_SUCCESS:
    /* no records of the type (e.g. only a CNAME): the core makes it
     * NODATA, and then the reply's SOA (if any) gives the TTL */
    done_ttl(q, rrtype, added > 0 ? MDSPF_DNS_OK : MDSPF_DNS_NODATA, rcode,
             abuf, alen);
    break;
  case ARES_ENODATA:
    done_ttl(q, rrtype, MDSPF_DNS_NODATA, rcode, abuf, alen);
    break;
  case ARES_ENOMEM:
    mdspf_dns_done(q, MDSPF_DNS_TEMPFAIL, -1);
    break;
  default:
    mdspf_dns_done(q, MDSPF_DNS_ERROR, rcode);
    break;
  }
}

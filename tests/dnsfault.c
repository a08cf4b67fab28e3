/*
 * tests/dnsfault.c -- a small scripted DNS responder for the c-ares
 * backend tests.  Plain libc, no library of ours.
 *
 *   dnsfault [-p PORT] [-6] [-s]
 *
 * Listens on 127.0.0.1 (and ::1 with -6), UDP and TCP, on PORT (0: any
 * free port, the default), prints "port N" once ready, and serves until
 * SIGTERM/SIGINT, or until stdin reaches EOF with -s (so a test that
 * starts it through a pipe takes it down with it).
 *
 * The behaviour is chosen by the FIRST label of the query name (ASCII
 * case-insensitive), for any query type:
 *
 *   drop        never answers                 servfail  RCODE 2
 *   refused     RCODE 5                       formerr   RCODE 1
 *   notimp      RCODE 4                       nxdomain  RCODE 3
 *   nodata      NOERROR, no answer
 *   tc          UDP: TC, no records; TCP: the "ok" answer
 *   tcloop      UDP: TC; TCP: connection closed without an answer
 *   tctc        UDP: TC; TCP: TC still set, no records
 *   cnameself   NOERROR, only "<name> CNAME <name>" (a loop)
 *   cnamea      NOERROR, only "<name> CNAME cnameb.<rest>" and
 *               "cnameb.<rest> CNAME <name>" (a loop of two; cnameb the
 *               other way round)
 *   cnameend    NOERROR, only "<name> CNAME nodata.<rest>" (no loop)
 *   cnameok     "<name> CNAME ok.<rest>" and the "ok" records of ok.<rest>
 *   badid       the "ok" answer with a wrong transaction ID
 *   wrongq      the "ok" answer for a different question name
 *   trunc       the "ok" answer cut off inside its record
 *   garbled     the right ID followed by random octets
 *   short       5 octets (shorter than a DNS header)
 *   huge        UDP: TC; TCP: ~60 KB of TXT in 8 records (see below)
 *   ptrloop     an answer whose owner name is a compression loop
 *   slow-N      the "ok" answer after N ms (N <= 60000)
 *   ok, ok-*    TXT "v=spf1 ip4:192.0.2.1 -all", A 192.0.2.1,
 *               AAAA 2001:db8::1, MX 10 ok-mx.<rest>, PTR ok.example
 *   echo        TXT: the query name as received (raw label octets
 *               joined with '.'), A 192.0.2.1
 *   inc-F       TXT "v=spf1 include:F.<rest> -all"
 *   a-F         TXT "v=spf1 a:F.<rest> -all"
 *   mx-F        TXT "v=spf1 mx:F.<rest> -all"
 *   spf-X       TXT "v=spf1 X" with every '_' in X turned into ' '
 *   anything else: NXDOMAIN
 *
 * <rest> is the query name after its first label.  The "huge" TXT answer
 * is one SPF record ("v=spf1" + HUGE_FILL " ip4:10.0.0.K" terms +
 * " ip4:192.0.2.1 -all") followed by HUGE_FILLER records, record k being
 * HUGE_STRINGS strings of 255 octets of the letter 'a' + k.
 *
 * Bounded: at most MAX_CONNS TCP connections (more are closed at once),
 * MAX_DELAYED delayed answers, one 64 KiB output buffer per connection.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define MAX_DELAYED 256
#define MAX_QUERY 4096      /* longest query accepted over TCP */
#define MAX_MSG 65535       /* longest DNS message */
#define DELAYED_MAX_LEN 4096 /* delayed answers are small ones */
#define MAX_DELAY_MS 60000

#define HUGE_FILL 250
#define HUGE_FILLER 7
#define HUGE_STRINGS 30

enum { ACT_DROP = 0, ACT_SEND = 1, ACT_CLOSE = 2 };

typedef struct conn {
  int fd; /* -1: free slot */
  unsigned gen;
  uint8_t in[2 + MAX_QUERY];
  size_t inlen;
  uint8_t *out; /* 2-octet length prefixed messages */
  size_t outlen, outoff;
} conn;

typedef struct delayed {
  int used;
  long due;
  int tcp;
  int sock; /* UDP socket */
  struct sockaddr_storage peer;
  socklen_t peerlen;
  size_t conn_idx;
  unsigned conn_gen;
  uint8_t msg[DELAYED_MAX_LEN];
  size_t len;
} delayed;

typedef struct server {
  int udp[2], tcp[2]; /* [0] 127.0.0.1, [1] ::1 (-1 if unused) */
  int use_stdin;
  conn conns[MAX_CONNS];
  delayed *dq; /* MAX_DELAYED entries */
  uint8_t *rbuf; /* receive buffer, MAX_MSG + 1 */
  uint8_t *mbuf; /* response buffer, MAX_MSG */
  uint32_t rng;
} server;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static uint32_t rnd(server *s) {
  /* xorshift32: deterministic enough, never zero */
  uint32_t x = s->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  s->rng = x;
  return x;
}

/* ---- message building -------------------------------------------------- */

typedef struct msg {
  uint8_t *b;
  size_t len, cap;
  int overflow;
} msg;

static void put(msg *m, const void *d, size_t n) {
  if (m->overflow || n > m->cap - m->len) {
    m->overflow = 1;
    return;
  }
  memcpy(m->b + m->len, d, n);
  m->len += n;
}

static void put8(msg *m, unsigned v) {
  uint8_t b = (uint8_t)(v & 0xff);
  put(m, &b, 1);
}

static void put16(msg *m, unsigned v) {
  put8(m, (v >> 8) & 0xff);
  put8(m, v & 0xff);
}

static void put32(msg *m, uint32_t v) {
  put16(m, (unsigned)(v >> 16));
  put16(m, (unsigned)(v & 0xffff));
}

static void set16(msg *m, size_t off, unsigned v) {
  if (off + 2 <= m->len) {
    m->b[off] = (uint8_t)((v >> 8) & 0xff);
    m->b[off + 1] = (uint8_t)(v & 0xff);
  }
}

static unsigned get16(const uint8_t *p) {
  return ((unsigned)p[0] << 8) | p[1];
}

/* A parsed query. */
typedef struct query {
  const uint8_t *raw;
  size_t len;
  unsigned id, flags;
  size_t qname_off, qname_len; /* wire name at raw + qname_off */
  size_t qend;                 /* end of the question section */
  unsigned qtype, qclass;
  int edns;
  unsigned udpsize;
  char label[64]; /* first label, lower-cased, NUL-terminated */
  size_t label_len;
  size_t rest_off; /* wire offset of the name after the first label */
} query;

/* Header + question of a response. */
static void start_answer(msg *m, const query *q, unsigned rcode, int tc) {
  unsigned flags = 0x8000u | (q->flags & 0x7800u) | 0x0400u /* AA */ |
                   (q->flags & 0x0100u) /* RD */ | 0x0080u /* RA */ |
                   (rcode & 0xfu);
  if (tc) {
    flags |= 0x0200u;
  }
  m->len = 0;
  m->overflow = 0;
  put16(m, q->id);
  put16(m, flags);
  put16(m, 1);
  put16(m, 0);
  put16(m, 0);
  put16(m, 0);
  put(m, q->raw + 12, q->qend - 12);
}

/* One RR owned by the name at offset owner (a compression pointer). */
static void rr_head_at(msg *m, size_t owner, unsigned type, size_t rdlen) {
  put16(m, 0xc000u | (unsigned)(owner & 0x3fffu));
  put16(m, type);
  put16(m, 1);
  put32(m, 300);
  put16(m, (unsigned)rdlen);
}

/* One RR owned by the question name (offset 12). */
static void rr_head(msg *m, unsigned type, size_t rdlen) {
  rr_head_at(m, 12, type, rdlen);
}

static void inc_count(msg *m, size_t off) {
  if (off + 2 <= m->len) {
    set16(m, off, get16(m->b + off) + 1);
  }
}

/* A TXT RR owned by the name at offset owner, holding text split into
 * strings of at most 255 octets. */
static void add_txt_at(msg *m, size_t owner, const char *txt, size_t n) {
  size_t rdlen = n + (n + 254) / 255 + (n == 0 ? 1 : 0), off = 0;
  rr_head_at(m, owner, 16, rdlen);
  if (n == 0) {
    put8(m, 0);
  }
  while (off < n) {
    size_t k = n - off > 255 ? 255 : n - off;
    put8(m, (unsigned)k);
    put(m, txt + off, k);
    off += k;
  }
  inc_count(m, 6);
}

static void add_txt(msg *m, const char *txt, size_t n) {
  add_txt_at(m, 12, txt, n);
}

/* The wire name after the first label, in presentation form (raw
 * octets, '.' between labels) into out; returns its length. */
static size_t rest_text(const query *q, char *out, size_t cap) {
  size_t p = q->rest_off, o = 0;
  while (p < q->len && q->raw[p] != 0) {
    size_t l = q->raw[p];
    if (o > 0 && o + 1 < cap) {
      out[o++] = '.';
    }
    if (p + 1 + l > q->len || o + l >= cap) {
      break;
    }
    memcpy(out + o, q->raw + p + 1, l);
    o += l;
    p += 1 + l;
  }
  out[o] = '\0';
  return o;
}

/* The whole query name as raw octets joined with '.'. */
static size_t name_text(const query *q, char *out, size_t cap) {
  size_t p = q->qname_off, o = 0;
  while (p < q->len && q->raw[p] != 0) {
    size_t l = q->raw[p];
    if (o > 0 && o + 1 < cap) {
      out[o++] = '.';
    }
    if (p + 1 + l > q->len || o + l >= cap) {
      break;
    }
    memcpy(out + o, q->raw + p + 1, l);
    o += l;
    p += 1 + l;
  }
  out[o] = '\0';
  return o;
}

/* The "ok" records of the question's type, owned by the name at offset
 * owner (12: the question name). */
static void add_ok_records_at(msg *m, const query *q, size_t owner) {
  static const char spf[] = "v=spf1 ip4:192.0.2.1 -all";
  static const uint8_t a4[4] = {192, 0, 2, 1};
  static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                 0,    0,    0,    0,    0, 0, 0, 1};
  switch (q->qtype) {
  case 16:
    add_txt_at(m, owner, spf, sizeof spf - 1);
    break;
  case 1:
    rr_head_at(m, owner, 1, 4);
    put(m, a4, 4);
    inc_count(m, 6);
    break;
  case 28:
    rr_head_at(m, owner, 28, 16);
    put(m, a6, 16);
    inc_count(m, 6);
    break;
  case 15: {
    /* MX 10 ok-mx.<rest>: the rest copied from the question */
    size_t restlen = q->qname_off + q->qname_len - q->rest_off;
    rr_head_at(m, owner, 15, 2 + 1 + 5 + restlen);
    put16(m, 10);
    put8(m, 5);
    put(m, "ok-mx", 5);
    put(m, q->raw + q->rest_off, restlen);
    inc_count(m, 6);
    break;
  }
  case 12:
    rr_head_at(m, owner, 12, 12);
    put8(m, 2);
    put(m, "ok", 2);
    put8(m, 7);
    put(m, "example", 7);
    put8(m, 0);
    inc_count(m, 6);
    break;
  default:
    break; /* NODATA */
  }
}

static void add_ok_records(msg *m, const query *q) {
  add_ok_records_at(m, q, 12);
}

/* A CNAME RR owned by the name at offset owner whose target is the label
 * "label" followed by the question's <rest> (label NULL: the question
 * name itself).  Returns the offset of the target name in m. */
static size_t add_cname(msg *m, const query *q, size_t owner,
                        const char *label) {
  size_t n = label ? strlen(label) : 0, at;
  rr_head_at(m, owner, 5, label ? 1 + n + 2 : 2);
  at = m->len;
  if (label) {
    put8(m, (unsigned)n);
    put(m, label, n);
    /* the question is copied to the same offsets as in the query */
    put16(m, 0xc000u | (unsigned)q->rest_off);
  } else {
    put16(m, 0xc00cu);
  }
  inc_count(m, 6);
  return at;
}

static void add_opt(msg *m, const query *q) {
  if (!q->edns) {
    return;
  }
  put8(m, 0);
  put16(m, 41);
  put16(m, 1232);
  put32(m, 0);
  put16(m, 0);
  inc_count(m, 10);
}

static void add_huge(msg *m, const query *q) {
  char *buf;
  size_t n = 0, k, i;
  if (q->qtype != 16) {
    add_ok_records(m, q);
    return;
  }
  buf = malloc(HUGE_STRINGS * 255 + 16);
  if (!buf) {
    return;
  }
  /* the SPF record */
  n = (size_t)snprintf(buf, 16, "v=spf1");
  for (k = 0; k < HUGE_FILL; k++) {
    n += (size_t)snprintf(buf + n, 24, " ip4:10.0.%u.%u",
                          (unsigned)(k / 250), (unsigned)(k % 250 + 1));
  }
  n += (size_t)snprintf(buf + n, 32, " ip4:192.0.2.1 -all");
  add_txt(m, buf, n);
  /* the filler records */
  for (k = 0; k < HUGE_FILLER; k++) {
    rr_head(m, 16, HUGE_STRINGS * 256);
    for (i = 0; i < HUGE_STRINGS; i++) {
      memset(buf, 'a' + (int)k, 255);
      put8(m, 255);
      put(m, buf, 255);
    }
    inc_count(m, 6);
  }
  free(buf);
}

static int starts(const query *q, const char *prefix) {
  size_t n = strlen(prefix);
  return q->label_len >= n && memcmp(q->label, prefix, n) == 0;
}

static int is(const query *q, const char *word) {
  return strcmp(q->label, word) == 0;
}

/* The TXT record of inc-/a-/mx-/spf- names, or 0 if not one of them. */
static int spf_name(msg *m, const query *q) {
  static const struct {
    const char *prefix, *mech;
  } kinds[] = {{"inc-", "include:"}, {"a-", "a:"}, {"mx-", "mx:"}};
  char rest[256], txt[600];
  size_t i, n;
  if (starts(q, "spf-")) {
    if (q->qtype == 16) {
      n = (size_t)snprintf(txt, sizeof txt, "v=spf1 %s", q->label + 4);
      for (i = 7; i < n && i < sizeof txt; i++) {
        if (txt[i] == '_') {
          txt[i] = ' ';
        }
      }
      add_txt(m, txt, n < sizeof txt ? n : sizeof txt - 1);
    }
    return 1;
  }
  for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    if (starts(q, kinds[i].prefix) &&
        q->label_len > strlen(kinds[i].prefix)) {
      if (q->qtype == 16) {
        (void)rest_text(q, rest, sizeof rest);
        /* the fault label keeps the case it was sent with */
        n = (size_t)snprintf(
            txt, sizeof txt, "v=spf1 %s%.*s%s%s -all", kinds[i].mech,
            (int)(q->label_len - strlen(kinds[i].prefix)),
            (const char *)q->raw + q->qname_off + 1 + strlen(kinds[i].prefix),
            rest[0] ? "." : "", rest);
        add_txt(m, txt, n < sizeof txt ? n : sizeof txt - 1);
      }
      return 1;
    }
  }
  return 0;
}

/* Parse a query; 0 if it is too broken to answer at all. */
static int parse_query(const uint8_t *b, size_t len, query *q, int *rcode) {
  size_t p = 12, total = 0;
  memset(q, 0, sizeof *q);
  *rcode = 0;
  if (len < 12) {
    return 0;
  }
  q->raw = b;
  q->len = len;
  q->id = get16(b);
  q->flags = get16(b + 2);
  if (q->flags & 0x8000u) {
    return 0; /* a response: ignore */
  }
  if (((q->flags >> 11) & 0xfu) != 0) {
    *rcode = 4;
  }
  if (get16(b + 4) != 1) {
    *rcode = 1;
  }
  q->qname_off = p;
  while (p < len && b[p] != 0) {
    size_t l = b[p];
    if ((l & 0xc0u) != 0 || p + 1 + l >= len) {
      *rcode = 1;
      return 0;
    }
    if (p == q->qname_off) {
      size_t i;
      for (i = 0; i < l; i++) {
        char ch = (char)b[p + 1 + i];
        q->label[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
      }
      q->label[l] = '\0';
      q->label_len = l;
      q->rest_off = p + 1 + l;
    }
    total += l + 1;
    if (total > 255) {
      return 0;
    }
    p += l + 1;
  }
  if (p + 5 > len) {
    return 0;
  }
  if (p == q->qname_off) {
    q->rest_off = p; /* the root name */
  }
  q->qname_len = p + 1 - q->qname_off;
  q->qtype = get16(b + p + 1);
  q->qclass = get16(b + p + 3);
  q->qend = p + 5;
  /* an OPT RR right after the question (the only additional c-ares
   * sends) */
  q->udpsize = 512;
  if (get16(b + 10) >= 1 && q->qend + 11 <= len && b[q->qend] == 0 &&
      get16(b + q->qend + 1) == 41) {
    q->edns = 1;
    q->udpsize = get16(b + q->qend + 3);
    if (q->udpsize < 512) {
      q->udpsize = 512;
    }
  }
  return 1;
}

/* Decide what to do with one query; a response goes to m.  *delay_ms
 * gets the delay for slow-N. */
static int respond(server *s, const uint8_t *b, size_t len, int tcp, msg *m,
                   long *delay_ms) {
  query q;
  int rcode;
  *delay_ms = 0;
  if (!parse_query(b, len, &q, &rcode)) {
    if (rcode != 0 && len >= 12) {
      /* a header-only FORMERR */
      m->len = 0;
      m->overflow = 0;
      put16(m, get16(b));
      put16(m, 0x8000u | (get16(b + 2) & 0x0100u) | 1u);
      put16(m, 0);
      put16(m, 0);
      put16(m, 0);
      put16(m, 0);
      return ACT_SEND;
    }
    return ACT_DROP;
  }
  if (rcode != 0) {
    start_answer(m, &q, (unsigned)rcode, 0);
    return ACT_SEND;
  }
  if (is(&q, "drop")) {
    return ACT_DROP;
  }
  if (is(&q, "servfail") || is(&q, "refused") || is(&q, "formerr") ||
      is(&q, "notimp") || is(&q, "nxdomain")) {
    unsigned rc = is(&q, "servfail")  ? 2
                  : is(&q, "refused") ? 5
                  : is(&q, "formerr") ? 1
                  : is(&q, "notimp")  ? 4
                                      : 3;
    start_answer(m, &q, rc, 0);
    add_opt(m, &q);
    return ACT_SEND;
  }
  if (is(&q, "nodata")) {
    start_answer(m, &q, 0, 0);
    add_opt(m, &q);
    return ACT_SEND;
  }
  if (is(&q, "tc") || is(&q, "tcloop") || is(&q, "tctc") || is(&q, "huge")) {
    if (!tcp || is(&q, "tctc")) {
      start_answer(m, &q, 0, 1);
      add_opt(m, &q);
      return ACT_SEND;
    }
    if (is(&q, "tcloop")) {
      return ACT_CLOSE;
    }
    start_answer(m, &q, 0, 0);
    if (is(&q, "huge")) {
      add_huge(m, &q);
    } else {
      add_ok_records(m, &q);
    }
    add_opt(m, &q);
    return ACT_SEND;
  }
  if (is(&q, "cnameself") || is(&q, "cnamea") || is(&q, "cnameb") ||
      is(&q, "cnameend") || is(&q, "cnameok")) {
    start_answer(m, &q, 0, 0);
    if (is(&q, "cnameself")) {
      (void)add_cname(m, &q, 12, NULL);
    } else if (is(&q, "cnamea") || is(&q, "cnameb")) {
      size_t other = add_cname(m, &q, 12, is(&q, "cnamea") ? "cnameb" : "cnamea");
      (void)add_cname(m, &q, other, NULL);
    } else if (is(&q, "cnameend")) {
      (void)add_cname(m, &q, 12, "nodata");
    } else {
      add_ok_records_at(m, &q, add_cname(m, &q, 12, "ok"));
    }
    add_opt(m, &q);
    return ACT_SEND;
  }
  if (is(&q, "badid")) {
    start_answer(m, &q, 0, 0);
    add_ok_records(m, &q);
    set16(m, 0, (q.id + 0x5555u) & 0xffffu);
    return ACT_SEND;
  }
  if (is(&q, "wrongq")) {
    /* same ID, but the question names "other.<rest>" */
    size_t restlen = q.qname_off + q.qname_len - q.rest_off;
    m->len = 0;
    m->overflow = 0;
    put16(m, q.id);
    put16(m, 0x8000u | 0x0400u | (q.flags & 0x0100u) | 0x0080u);
    put16(m, 1);
    put16(m, 0);
    put16(m, 0);
    put16(m, 0);
    put8(m, 5);
    put(m, "other", 5);
    put(m, q.raw + q.rest_off, restlen);
    put16(m, q.qtype);
    put16(m, q.qclass);
    add_ok_records(m, &q);
    return ACT_SEND;
  }
  if (is(&q, "trunc")) {
    size_t before;
    start_answer(m, &q, 0, 0);
    before = m->len;
    add_ok_records(m, &q);
    if (m->len > before) {
      /* keep the RR header and half of its data */
      size_t rdlen = get16(m->b + before + 10);
      m->len = before + 12 + rdlen / 2;
    } else {
      m->len = q.qend - 3; /* cut inside the question */
    }
    return ACT_SEND;
  }
  if (is(&q, "garbled")) {
    size_t n = 12 + rnd(s) % 200, i;
    m->len = 0;
    m->overflow = 0;
    put16(m, q.id);
    for (i = 2; i < n; i++) {
      put8(m, rnd(s) & 0xffu);
    }
    return ACT_SEND;
  }
  if (is(&q, "short")) {
    m->len = 0;
    m->overflow = 0;
    put16(m, q.id);
    put16(m, 0x8180u);
    put8(m, 0);
    return ACT_SEND;
  }
  if (is(&q, "ptrloop")) {
    size_t at;
    start_answer(m, &q, 0, 0);
    at = m->len;
    /* the owner name points at itself */
    put16(m, 0xc000u | (unsigned)at);
    put16(m, q.qtype == 0 ? 1 : q.qtype);
    put16(m, 1);
    put32(m, 300);
    put16(m, 4);
    put32(m, 0xc0000201u);
    inc_count(m, 6);
    return ACT_SEND;
  }
  if (starts(&q, "slow-") && q.label_len > 5) {
    long ms = 0;
    size_t i;
    for (i = 5; i < q.label_len; i++) {
      if (q.label[i] < '0' || q.label[i] > '9' || ms > MAX_DELAY_MS) {
        break;
      }
      ms = ms * 10 + (q.label[i] - '0');
    }
    if (i == q.label_len && ms <= MAX_DELAY_MS) {
      *delay_ms = ms;
      start_answer(m, &q, 0, 0);
      add_ok_records(m, &q);
      add_opt(m, &q);
      return ACT_SEND;
    }
  }
  if (is(&q, "ok") || starts(&q, "ok-")) {
    start_answer(m, &q, 0, 0);
    add_ok_records(m, &q);
    add_opt(m, &q);
    return ACT_SEND;
  }
  if (is(&q, "echo")) {
    char name[300];
    size_t n = name_text(&q, name, sizeof name);
    start_answer(m, &q, 0, 0);
    if (q.qtype == 16) {
      add_txt(m, name, n);
    } else {
      add_ok_records(m, &q);
    }
    add_opt(m, &q);
    return ACT_SEND;
  }
  start_answer(m, &q, 0, 0);
  if (spf_name(m, &q)) {
    add_opt(m, &q);
    return ACT_SEND;
  }
  start_answer(m, &q, 3, 0);
  add_opt(m, &q);
  return ACT_SEND;
}

/* UDP: replace an answer that does not fit with a TC header. */
static void fit_udp(msg *m, const uint8_t *qb, size_t qlen) {
  query q;
  int rcode;
  size_t limit = 512;
  if (!parse_query(qb, qlen, &q, &rcode)) {
    return;
  }
  if (q.edns) {
    limit = q.udpsize;
  }
  if (m->len > limit || m->overflow) {
    start_answer(m, &q, 0, 1);
  }
}

/* ---- delayed answers --------------------------------------------------------- */

static void delay_udp(server *s, int sock, const struct sockaddr_storage *peer,
                      socklen_t peerlen, const msg *m, long ms) {
  size_t i;
  for (i = 0; i < MAX_DELAYED; i++) {
    delayed *d = &s->dq[i];
    if (!d->used && m->len <= DELAYED_MAX_LEN) {
      d->used = 1;
      d->due = now_ms() + ms;
      d->tcp = 0;
      d->sock = sock;
      d->peer = *peer;
      d->peerlen = peerlen;
      memcpy(d->msg, m->b, m->len);
      d->len = m->len;
      return;
    }
  }
  /* queue full: the answer is lost, like a dropped datagram */
}

static void delay_tcp(server *s, size_t ci, const msg *m, long ms) {
  size_t i;
  for (i = 0; i < MAX_DELAYED; i++) {
    delayed *d = &s->dq[i];
    if (!d->used && m->len <= DELAYED_MAX_LEN) {
      d->used = 1;
      d->due = now_ms() + ms;
      d->tcp = 1;
      d->conn_idx = ci;
      d->conn_gen = s->conns[ci].gen;
      memcpy(d->msg, m->b, m->len);
      d->len = m->len;
      return;
    }
  }
}

/* ---- TCP connections ------------------------------------------------------------ */

static void conn_close(conn *c) {
  if (c->fd >= 0) {
    close(c->fd);
  }
  c->fd = -1;
  c->gen++;
  free(c->out);
  c->out = NULL;
  c->outlen = c->outoff = c->inlen = 0;
}

/* Queue one message (length-prefixed); closes the connection when its
 * output would exceed one maximal message plus what is queued. */
static void conn_queue(conn *c, const uint8_t *d, size_t n) {
  size_t need;
  uint8_t *nb;
  if (c->fd < 0 || n > MAX_MSG) {
    return;
  }
  if (c->outoff > 0) {
    memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
    c->outlen -= c->outoff;
    c->outoff = 0;
  }
  need = c->outlen + 2 + n;
  if (need > 4 * (MAX_MSG + 2)) {
    conn_close(c); /* the client does not read: give up on it */
    return;
  }
  nb = realloc(c->out, need);
  if (!nb) {
    conn_close(c);
    return;
  }
  c->out = nb;
  c->out[c->outlen] = (uint8_t)(n >> 8);
  c->out[c->outlen + 1] = (uint8_t)(n & 0xff);
  memcpy(c->out + c->outlen + 2, d, n);
  c->outlen = need;
}

static void conn_flush(conn *c) {
  while (c->fd >= 0 && c->outoff < c->outlen) {
    ssize_t w =
        send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        conn_close(c);
      }
      return;
    }
    c->outoff += (size_t)w;
  }
  if (c->fd >= 0 && c->outoff == c->outlen) {
    c->outoff = c->outlen = 0;
  }
}

static void conn_read(server *s, size_t ci) {
  conn *c = &s->conns[ci];
  msg m;
  ssize_t r =
      recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
  if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN &&
                 errno != EWOULDBLOCK)) {
    conn_close(c);
    return;
  }
  if (r < 0) {
    return;
  }
  c->inlen += (size_t)r;
  m.b = s->mbuf;
  m.cap = MAX_MSG;
  while (c->fd >= 0 && c->inlen >= 2) {
    size_t ql = get16(c->in);
    long delay;
    int act;
    if (ql > MAX_QUERY) {
      conn_close(c);
      return;
    }
    if (c->inlen < 2 + ql) {
      break;
    }
    m.len = 0;
    m.overflow = 0;
    act = respond(s, c->in + 2, ql, 1, &m, &delay);
    memmove(c->in, c->in + 2 + ql, c->inlen - 2 - ql);
    c->inlen -= 2 + ql;
    if (act == ACT_CLOSE) {
      conn_close(c);
      return;
    }
    if (act == ACT_SEND && !m.overflow) {
      if (delay > 0) {
        delay_tcp(s, ci, &m, delay);
      } else {
        conn_queue(c, m.b, m.len);
      }
    }
  }
  conn_flush(c);
}

static void accept_conn(server *s, int lfd) {
  size_t i;
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) {
    return;
  }
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  for (i = 0; i < MAX_CONNS; i++) {
    if (s->conns[i].fd < 0) {
      s->conns[i].fd = fd;
      s->conns[i].inlen = 0;
      return;
    }
  }
  close(fd); /* too many: refuse */
}

/* ---- UDP ---------------------------------------------------------------------------- */

/* One datagram; 0 when the socket has nothing more. */
static int udp_read_one(server *s, int sock) {
  struct sockaddr_storage peer;
  socklen_t plen = sizeof peer;
  msg m;
  long delay;
  int act;
  ssize_t r = recvfrom(sock, s->rbuf, MAX_MSG + 1, 0,
                       (struct sockaddr *)&peer, &plen);
  if (r < 0) {
    return errno == EINTR;
  }
  if (r == 0) {
    return 1; /* an empty datagram: nothing to answer */
  }
  m.b = s->mbuf;
  m.cap = MAX_MSG;
  m.len = 0;
  m.overflow = 0;
  act = respond(s, s->rbuf, (size_t)r, 0, &m, &delay);
  if (act != ACT_SEND) {
    return 1;
  }
  fit_udp(&m, s->rbuf, (size_t)r);
  if (delay > 0) {
    delay_udp(s, sock, &peer, plen, &m, delay);
    return 1;
  }
  (void)sendto(sock, m.b, m.len, 0, (struct sockaddr *)&peer, plen);
  return 1;
}

/* Drain the socket (bounded, so TCP clients get their turn): a client
 * firing hundreds of queries at once must not overflow our buffer. */
static void udp_read(server *s, int sock) {
  int i;
  for (i = 0; i < 256 && udp_read_one(s, sock); i++) {
  }
}

static void run_delayed(server *s, long now) {
  size_t i;
  for (i = 0; i < MAX_DELAYED; i++) {
    delayed *d = &s->dq[i];
    if (!d->used || d->due > now) {
      continue;
    }
    d->used = 0;
    if (d->tcp) {
      conn *c = &s->conns[d->conn_idx];
      if (c->fd >= 0 && c->gen == d->conn_gen) {
        conn_queue(c, d->msg, d->len);
        conn_flush(c);
      }
    } else {
      (void)sendto(d->sock, d->msg, d->len, 0, (struct sockaddr *)&d->peer,
                   d->peerlen);
    }
  }
}

static long next_due(const server *s, long now) {
  long best = -1;
  size_t i;
  for (i = 0; i < MAX_DELAYED; i++) {
    if (s->dq[i].used) {
      long left = s->dq[i].due - now;
      if (left < 0) {
        left = 0;
      }
      if (best < 0 || left < best) {
        best = left;
      }
    }
  }
  return best;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int bind_one(int family, int type, unsigned port, unsigned *bound) {
  int fd = socket(family, type, 0), one = 1;
  struct sockaddr_storage ss;
  socklen_t len;
  if (fd < 0) {
    return -1;
  }
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (type == SOCK_STREAM) {
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  } else {
    int rcvbuf = 1 << 20; /* capped by the kernel; best effort */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
      (type == SOCK_STREAM && listen(fd, 64) != 0)) {
    close(fd);
    return -1;
  }
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  if (bound) {
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
      close(fd);
      return -1;
    }
    *bound = family == AF_INET
                 ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                 : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return fd;
}

static void close_listeners(server *s) {
  int i;
  for (i = 0; i < 2; i++) {
    if (s->udp[i] >= 0) {
      close(s->udp[i]);
    }
    if (s->tcp[i] >= 0) {
      close(s->tcp[i]);
    }
    s->udp[i] = s->tcp[i] = -1;
  }
}

/* Bind everything on one port; with port 0 retry until a free port
 * serves all sockets. */
static int setup(server *s, unsigned port, int v6, unsigned *bound) {
  int attempt;
  for (attempt = 0; attempt < 50; attempt++) {
    unsigned p = port;
    s->udp[0] = bind_one(AF_INET, SOCK_DGRAM, port, &p);
    if (s->udp[0] >= 0) {
      s->tcp[0] = bind_one(AF_INET, SOCK_STREAM, p, NULL);
      if (v6 && s->tcp[0] >= 0) {
        s->udp[1] = bind_one(AF_INET6, SOCK_DGRAM, p, NULL);
        s->tcp[1] = s->udp[1] >= 0 ? bind_one(AF_INET6, SOCK_STREAM, p, NULL)
                                   : -1;
      }
      if (s->tcp[0] >= 0 && (!v6 || (s->udp[1] >= 0 && s->tcp[1] >= 0))) {
        *bound = p;
        return 0;
      }
    }
    close_listeners(s);
    if (port != 0) {
      break;
    }
  }
  return -1;
}

static void usage(void) {
  fprintf(stderr, "usage: dnsfault [-p PORT] [-6] [-s]\n");
}

int main(int argc, char **argv) {
  server *s;
  struct sigaction sa;
  struct pollfd pfd[4 + 1 + MAX_CONNS];
  size_t pidx[4 + 1 + MAX_CONNS];
  unsigned port = 0, bound = 0;
  int v6 = 0, use_stdin = 0, opt, rc = 0;
  size_t i;
  while ((opt = getopt(argc, argv, "p:6s")) != -1) {
    switch (opt) {
    case 'p': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*optarg == '\0' || *end != '\0' || v < 0 || v > 65535) {
        usage();
        return 2;
      }
      port = (unsigned)v;
      break;
    }
    case '6':
      v6 = 1;
      break;
    case 's':
      use_stdin = 1;
      break;
    default:
      usage();
      return 2;
    }
  }
  s = calloc(1, sizeof *s);
  if (!s) {
    return 1;
  }
  s->dq = calloc(MAX_DELAYED, sizeof *s->dq);
  s->rbuf = malloc(MAX_MSG + 1);
  s->mbuf = malloc(MAX_MSG);
  if (!s->dq || !s->rbuf || !s->mbuf) {
    free(s->dq);
    free(s->rbuf);
    free(s->mbuf);
    free(s);
    return 1;
  }
  s->use_stdin = use_stdin;
  s->rng = (uint32_t)now_ms() ^ ((uint32_t)getpid() << 16) ^ 0x9e3779b9u;
  if (s->rng == 0) {
    s->rng = 1;
  }
  s->udp[0] = s->udp[1] = s->tcp[0] = s->tcp[1] = -1;
  for (i = 0; i < MAX_CONNS; i++) {
    s->conns[i].fd = -1;
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);

  if (setup(s, port, v6, &bound) != 0) {
    fprintf(stderr, "dnsfault: cannot bind port %u: %s\n", port,
            strerror(errno));
    rc = 1;
    goto out;
  }
  printf("port %u\n", bound);
  fflush(stdout);

  while (!g_stop) {
    size_t n = 0;
    long due = next_due(s, now_ms());
    int pr;
    for (i = 0; i < 2; i++) {
      if (s->udp[i] >= 0) {
        pfd[n].fd = s->udp[i];
        pfd[n].events = POLLIN;
        pidx[n++] = 100 + i;
      }
      if (s->tcp[i] >= 0) {
        pfd[n].fd = s->tcp[i];
        pfd[n].events = POLLIN;
        pidx[n++] = 200 + i;
      }
    }
    if (s->use_stdin) {
      pfd[n].fd = 0;
      pfd[n].events = POLLIN;
      pidx[n++] = 300;
    }
    for (i = 0; i < MAX_CONNS; i++) {
      conn *c = &s->conns[i];
      if (c->fd >= 0) {
        pfd[n].fd = c->fd;
        pfd[n].events = (short)(POLLIN | (c->outlen > c->outoff ? POLLOUT : 0));
        pidx[n++] = i;
      }
    }
    pr = poll(pfd, (nfds_t)n, due < 0 ? -1 : (int)(due > 60000 ? 60000 : due));
    if (pr < 0) {
      if (errno == EINTR) {
        continue;
      }
      rc = 1;
      break;
    }
    run_delayed(s, now_ms());
    for (i = 0; i < n && pr > 0; i++) {
      short re = pfd[i].revents;
      size_t who = pidx[i];
      if (re == 0) {
        continue;
      }
      if (who >= 300) {
        char tmp[256];
        ssize_t r = read(0, tmp, sizeof tmp);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
          g_stop = 1; /* the test went away */
        }
      } else if (who >= 200) {
        accept_conn(s, s->tcp[who - 200]);
      } else if (who >= 100) {
        udp_read(s, s->udp[who - 100]);
      } else {
        conn *c = &s->conns[who];
        if (c->fd != pfd[i].fd) {
          continue; /* replaced meanwhile */
        }
        if (re & (POLLIN | POLLHUP | POLLERR)) {
          conn_read(s, who);
        }
        if (c->fd >= 0 && (re & POLLOUT)) {
          conn_flush(c);
        }
      }
    }
  }
out:
  for (i = 0; i < MAX_CONNS; i++) {
    conn_close(&s->conns[i]);
  }
  close_listeners(s);
  free(s->dq);
  free(s->rbuf);
  free(s->mbuf);
  free(s);
  return rc;
}

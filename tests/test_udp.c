/*
 * tests/test_udp.c -- the c-ares backend's own DNS-over-UDP transport
 * (lib/resolvers/cares/udp.c), tested directly against the contract of
 * udp.h rather than through the backend.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The test plays the DNS servers: it opens UDP sockets on 127.0.0.1 (and
 * ::1 where there is one) at port 0, gives their addresses to the
 * transport as its servers, recv()s the query datagrams the transport
 * sends, and writes the answers back with sendto().  It runs the
 * transport's loop itself: poll() on the sockets the transport reports
 * through its sock callback, mdspf__udp_read when one is readable, and
 * mdspf__udp_timeouts at the deadline mdspf__udp_ms gives (on the same
 * CLOCK_MONOTONIC milliseconds as udp.c).
 *
 * Timing tests use short per-try timeouts and loose bounds.  Their
 * timeouts and bounds are stretched by MDSPF_TEST_TIME_SCALE=N (as
 * test_cares does: valgrind runs the program several times slower).
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "resolvers/cares/udp.h"

/* for the ARES_* status codes: ares.h uses fd_set and struct timeval
 * without including their headers under a strict POSIX feature set */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Timing scale: MDSPF_TEST_TIME_SCALE=N stretches every timeout and bound
 * N times. */
static int g_scale = 1;
#define T(ms) ((long)(ms) * (long)g_scale)
/* how long a step that needs no timeout may wait at most (a bound for a
 * broken transport, never reached by a working one) */
#define T_STEP T(2000)

#define T_TXT 16
#define T_A 1

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- queries (tokens) ---------------------------------------------------- */

typedef struct tok {
  mdspf__udpq q; /* the transport's part */
  const char *name;
  int rrtype;
  /* what the done callback saw */
  int ndone;
  int status;
  int had_abuf;
  size_t alen;
  unsigned char abuf[MDSPF__UDP_MAX_MSG + 1];
  long t_done;
  int linked_at_done;
  size_t count_at_done;
  /* re-entry, from inside its done callback */
  struct tok *cancel_on_done; /* cancel this one */
  struct tok *send_on_done;   /* start this one */
  int resend_self;            /* start itself again (times) */
} tok;

#define TOK(p) MDSPF__CONTAINER(p, tok, q)

#define MAX_TOKS 600
#define MAX_SRV 4

typedef struct env {
  mdspf__udp_cfg cfg;
  mdspf__udp u;
  int srv[MAX_SRV]; /* the test's server sockets */
  unsigned nsrv;
  int extra_fd; /* another socket a test may open (closed by teardown) */
  /* the transport's sockets, as its sock callback reported them */
  int tfd[MDSPF__UDP_MAX_SERVERS];
  unsigned ntfd;
  int opened, closed;
  int closed_fd[MDSPF__UDP_MAX_SERVERS];
  unsigned nclosed_fd;
  int ndone_total;
  int bad; /* a callback saw something the contract rules out */
  tok *toks[MAX_TOKS];
  unsigned ntoks;
  /* re-entry from the sock callback: cancel this query when a socket
   * opens, then (poison) fill its transport part with 0xA5, standing in
   * for its owner freeing it -- the transport must not write it again */
  tok *cancel_on_open;
  int poison;
} env;

static const char *op_name(mdspf__udpq *q, char *buf, size_t bufsz, void *ud) {
  tok *t = TOK(q);
  env *e = ud;
  size_t n;
  if (!t->name) {
    return NULL;
  }
  n = strlen(t->name);
  if (n >= bufsz) {
    e->bad++;
    return NULL;
  }
  memcpy(buf, t->name, n + 1);
  return buf;
}

static void tok_send(env *e, tok *t) {
  memset(&t->q, 0, sizeof t->q);
  t->q.rrtype = t->rrtype;
  mdspf__udp_send(&e->u, &t->q);
}

static void op_done(mdspf__udpq *q, int status, const unsigned char *abuf,
                    int alen, void *ud) {
  env *e = ud;
  tok *t = TOK(q);
  t->ndone++;
  e->ndone_total++;
  t->status = status;
  t->t_done = now_ms();
  t->linked_at_done = q->linked;
  t->count_at_done = mdspf__udp_count(&e->u);
  if (abuf) {
    if (alen < 0 || (size_t)alen > sizeof t->abuf) {
      e->bad++;
      t->had_abuf = 0;
      t->alen = 0;
    } else {
      memcpy(t->abuf, abuf, (size_t)alen);
      t->had_abuf = 1;
      t->alen = (size_t)alen;
    }
  } else {
    if (alen != 0) {
      e->bad++;
    }
    t->had_abuf = 0;
    t->alen = 0;
  }
  if (t->cancel_on_done) {
    tok *c = t->cancel_on_done;
    t->cancel_on_done = NULL;
    mdspf__udp_cancel(&e->u, &c->q);
  }
  if (t->send_on_done) {
    tok *n = t->send_on_done;
    t->send_on_done = NULL;
    tok_send(e, n);
  }
  if (t->resend_self > 0) {
    t->resend_self--;
    tok_send(e, t);
  }
}

static void op_sock(int fd, int open, void *ud) {
  env *e = ud;
  unsigned i;
  for (i = 0; i < e->ntfd && e->tfd[i] != fd; i++) {
  }
  if (open) {
    if (fd < 0 || i < e->ntfd || e->ntfd == MDSPF__UDP_MAX_SERVERS) {
      e->bad++; /* reported twice, or nonsense */
      return;
    }
    e->tfd[e->ntfd++] = fd;
    e->opened++;
    if (e->cancel_on_open) {
      tok *c = e->cancel_on_open;
      e->cancel_on_open = NULL;
      mdspf__udp_cancel(&e->u, &c->q);
      if (e->poison) {
        memset(&c->q, 0xA5, sizeof c->q);
      }
    }
  } else {
    if (i == e->ntfd) {
      e->bad++; /* closing a socket never reported open */
      return;
    }
    e->tfd[i] = e->tfd[--e->ntfd];
    e->closed++;
    if (e->nclosed_fd < MDSPF__UDP_MAX_SERVERS) {
      e->closed_fd[e->nclosed_fd++] = fd;
    }
  }
}

static const mdspf__udp_ops g_ops = {op_name, op_done, op_sock};

static tok *tok_new(env *e, const char *name, int rrtype) {
  tok *t = calloc(1, sizeof *t);
  assert_non_null(t);
  assert_true(e->ntoks < MAX_TOKS);
  t->name = name;
  t->rrtype = rrtype;
  e->toks[e->ntoks++] = t;
  return t;
}

/* ---- servers ------------------------------------------------------------- */

/* A non-blocking UDP socket bound to the loopback address of family at
 * port 0, its address in *out; -1 when the family has no loopback. */
static int loopback_socket(int family, mdspf__udp_server *out) {
  int fd = socket(family, SOCK_DGRAM, 0);
  int fl;
  memset(out, 0, sizeof *out);
  if (fd < 0) {
    return -1;
  }
  if (family == AF_INET6) {
    out->addr.in6.sin6_family = AF_INET6;
    out->addr.in6.sin6_addr = in6addr_loopback;
    out->len = sizeof out->addr.in6;
  } else {
    out->addr.in4.sin_family = AF_INET;
    out->addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    out->len = sizeof out->addr.in4;
  }
  fl = fcntl(fd, F_GETFL, 0);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      bind(fd, &out->addr.sa, out->len) != 0 ||
      getsockname(fd, &out->addr.sa, &out->len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Open n servers on 127.0.0.1 (the transport's servers 0..n-1). */
static void env_servers(env *e, unsigned n) {
  unsigned i;
  assert_true(n <= MAX_SRV);
  for (i = 0; i < n; i++) {
    e->srv[i] = loopback_socket(AF_INET, &e->cfg.srv[i]);
    assert_true(e->srv[i] >= 0);
  }
  e->nsrv = n;
  e->cfg.nsrv = n;
}

/* ---- the loop ------------------------------------------------------------ */

typedef int (*stop_fn)(env *e, void *arg);

static int stop_done(env *e, void *arg) {
  (void)e;
  return ((tok *)arg)->ndone > 0;
}

static int stop_ndone(env *e, void *arg) {
  return e->ndone_total >= *(int *)arg;
}

static int stop_empty(env *e, void *arg) {
  (void)arg;
  return mdspf__udp_count(&e->u) == 0;
}

/* Run the transport's loop (reads, timeouts) until stop(e, arg) holds
 * (1), a server in srvmask (bit i: server i) has a datagram waiting (2),
 * or limit ms have passed (0). */
static int drive(env *e, unsigned srvmask, stop_fn stop, void *arg,
                 long limit) {
  long end = now_ms() + limit;
  for (;;) {
    struct pollfd p[MDSPF__UDP_MAX_SERVERS + MAX_SRV];
    nfds_t n = 0, ntr, k;
    long now, tmo, ms;
    unsigned i;
    int r;
    if (stop && stop(e, arg)) {
      return 1;
    }
    mdspf__udp_timeouts(&e->u, now_ms());
    if (stop && stop(e, arg)) {
      return 1;
    }
    for (i = 0; i < e->ntfd; i++) {
      p[n].fd = e->tfd[i];
      p[n].events = POLLIN;
      p[n].revents = 0;
      n++;
    }
    ntr = n;
    for (i = 0; i < e->nsrv; i++) {
      if (srvmask & (1u << i)) {
        p[n].fd = e->srv[i];
        p[n].events = POLLIN;
        p[n].revents = 0;
        n++;
      }
    }
    now = now_ms();
    tmo = end - now;
    if (tmo < 0) {
      tmo = 0;
    }
    ms = mdspf__udp_ms(&e->u, now);
    if (ms >= 0 && ms < tmo) {
      tmo = ms;
    }
    r = poll(p, n, (int)tmo);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail_msg("poll: %s", strerror(errno));
    }
    for (k = 0; k < ntr; k++) {
      if (p[k].revents & (POLLIN | POLLERR)) {
        mdspf__udp_read(&e->u, p[k].fd);
      }
    }
    for (k = ntr; k < n; k++) {
      if (p[k].revents & POLLIN) {
        return 2;
      }
    }
    if (now_ms() >= end) {
      return stop && stop(e, arg) ? 1 : 0;
    }
  }
}

static void run_until_done(env *e, tok *t, long limit) {
  drive(e, 0, stop_done, t, limit);
}

/* A datagram a server received. */
typedef struct dgram {
  unsigned char b[MDSPF__UDP_MAX_MSG + 1];
  size_t len;
  struct sockaddr_storage from;
  socklen_t fromlen;
  unsigned srv; /* which server */
  long t;       /* when it was read */
} dgram;

/* Wait (running the transport) for a datagram to one of the servers in
 * mask; 1 with it in *d, 0 when none came within limit ms. */
static int srv_recv(env *e, unsigned mask, dgram *d, long limit) {
  long end = now_ms() + limit;
  for (;;) {
    unsigned i;
    long left;
    for (i = 0; i < e->nsrv; i++) {
      if (mask & (1u << i)) {
        ssize_t n;
        d->fromlen = sizeof d->from;
        n = recvfrom(e->srv[i], d->b, sizeof d->b, 0,
                     (struct sockaddr *)&d->from, &d->fromlen);
        if (n >= 0) {
          d->len = (size_t)n;
          d->srv = i;
          d->t = now_ms();
          return 1;
        }
      }
    }
    left = end - now_ms();
    if (left <= 0) {
      return 0;
    }
    (void)drive(e, mask, NULL, NULL, left);
  }
}

/* 1 when no datagram reaches the servers in mask for ms (while the
 * transport runs). */
static int srv_quiet(env *e, unsigned mask, long ms) {
  dgram *d = malloc(sizeof *d);
  int got;
  assert_non_null(d);
  got = srv_recv(e, mask, d, ms);
  free(d);
  return !got;
}

/* Server d->srv answers the sender of d with buf. */
static void srv_reply(env *e, const dgram *d, const unsigned char *buf,
                      size_t len) {
  ssize_t n = sendto(e->srv[d->srv], buf, len, 0,
                     (const struct sockaddr *)&d->from, d->fromlen);
  assert_int_equal(n, (ssize_t)len);
}

/* ---- messages ------------------------------------------------------------ */

typedef struct qinfo {
  unsigned id, f2, f3, qd, an, ns, ar;
  size_t qname_len; /* the wire name at offset 12 */
  unsigned qtype, qclass;
  size_t qend; /* end of the question */
  int opt;     /* an OPT record follows */
  unsigned opt_size, opt_ttl_hi, opt_ttl_lo, opt_rdlen;
  size_t end; /* end of what was parsed */
} qinfo;

static unsigned u16at(const unsigned char *b) {
  return (unsigned)b[0] << 8 | (unsigned)b[1];
}

/* Parse a query datagram: header, one question, the OPT record when
 * ARCOUNT is 1.  0, or -1 when it is malformed. */
static int parse_query(const unsigned char *b, size_t len, qinfo *qi) {
  size_t o = 12;
  memset(qi, 0, sizeof *qi);
  if (len < 12) {
    return -1;
  }
  qi->id = u16at(b);
  qi->f2 = b[2];
  qi->f3 = b[3];
  qi->qd = u16at(b + 4);
  qi->an = u16at(b + 6);
  qi->ns = u16at(b + 8);
  qi->ar = u16at(b + 10);
  while (o < len && b[o] != 0) {
    if (b[o] > 63) {
      return -1;
    }
    o += (size_t)b[o] + 1;
  }
  if (o >= len) {
    return -1;
  }
  o++;
  qi->qname_len = o - 12;
  if (o + 4 > len) {
    return -1;
  }
  qi->qtype = u16at(b + o);
  qi->qclass = u16at(b + o + 2);
  o += 4;
  qi->qend = o;
  if (qi->ar == 1) {
    if (o + 11 > len || b[o] != 0 || u16at(b + o + 1) != 41) {
      return -1;
    }
    qi->opt = 1;
    qi->opt_size = u16at(b + o + 3);
    qi->opt_ttl_hi = u16at(b + o + 5);
    qi->opt_ttl_lo = u16at(b + o + 7);
    qi->opt_rdlen = u16at(b + o + 9);
    o += 11;
  }
  qi->end = o;
  return 0;
}

/* The wire form of a valid name (the test's own encoder). */
static size_t wire_name(const char *name, unsigned char *out) {
  size_t o = 0;
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    if (len == 0) {
      break; /* a trailing dot */
    }
    out[o++] = (unsigned char)len;
    memcpy(out + o, p, len);
    o += len;
    p += len;
    if (*p == '.') {
      p++;
    }
  }
  out[o++] = 0;
  return o;
}

/* A reply to query q: its header and question with QR (and RA) set and
 * rcode, ANCOUNT an and an A records (127.0.0.2, 127.0.0.3, ...). */
static size_t mk_reply(const unsigned char *q, size_t qlen, unsigned rcode,
                       unsigned an, unsigned char *out) {
  qinfo qi;
  size_t o;
  unsigned k;
  assert_int_equal(parse_query(q, qlen, &qi), 0);
  memcpy(out, q, qi.qend);
  out[2] = (unsigned char)(0x80 | (q[2] & 0x01));  /* QR, RD as asked */
  out[3] = (unsigned char)(0x80 | (rcode & 0x0f)); /* RA, RCODE */
  out[4] = 0;
  out[5] = 1;
  out[6] = (unsigned char)(an >> 8);
  out[7] = (unsigned char)an;
  memset(out + 8, 0, 4);
  o = qi.qend;
  for (k = 0; k < an; k++) {
    static const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0,   1, 0, 0,
                                       0x0e, 0x10, 0, 4, 127, 0, 0};
    memcpy(out + o, rr, sizeof rr);
    o += sizeof rr;
    out[o++] = (unsigned char)(2 + k);
  }
  return o;
}

/* The next query to a server in mask, parsed; fails the test when none
 * comes within limit ms or it is malformed. */
static void expect_query(env *e, unsigned mask, dgram *d, qinfo *qi,
                         long limit) {
  if (!srv_recv(e, mask, d, limit)) {
    fail_msg("no query reached the server(s) within %ld ms", limit);
  }
  assert_int_equal(parse_query(d->b, d->len, qi), 0);
}

/* Answer d with rcode / an and return the bytes sent in out. */
static size_t answer_with(env *e, const dgram *d, unsigned rcode, unsigned an,
                          unsigned char *out) {
  size_t n = mk_reply(d->b, d->len, rcode, an, out);
  srv_reply(e, d, out, n);
  return n;
}

static void assert_done_with(const tok *t, int status,
                             const unsigned char *abuf, size_t alen) {
  assert_int_equal(t->ndone, 1);
  assert_int_equal(t->status, status);
  if (abuf) {
    assert_int_equal(t->had_abuf, 1);
    assert_int_equal(t->alen, alen);
    assert_memory_equal(t->abuf, abuf, alen);
  } else {
    assert_int_equal(t->had_abuf, 0);
  }
  assert_int_equal(t->linked_at_done, 0);
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state) {
  env *e = calloc(1, sizeof *e);
  unsigned i;
  if (!e) {
    return -1;
  }
  for (i = 0; i < MAX_SRV; i++) {
    e->srv[i] = -1;
  }
  e->extra_fd = -1;
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T_STEP;
  e->cfg.edns_size = 1232;
  e->cfg.no_rotate = 1;
  e->cfg.rnd_left = 0;
  mdspf__udp_init(&e->u, &e->cfg, &g_ops, e);
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env *e = *state;
  unsigned i;
  int ok = 1;
  /* withdraw what a failed test left, then close */
  for (i = 0; i < e->ntoks; i++) {
    if (e->toks[i]->q.linked) {
      mdspf__udp_cancel(&e->u, &e->toks[i]->q);
    }
  }
  if (mdspf__udp_count(&e->u) != 0 || mdspf__udp_ms(&e->u, now_ms()) != -1) {
    fprintf(stderr, "teardown: the transport still holds queries\n");
    ok = 0;
  }
  mdspf__udp_close(&e->u);
  if (e->ntfd != 0) {
    fprintf(stderr, "teardown: %u socket(s) not reported closed\n", e->ntfd);
    ok = 0;
  }
  if (e->bad) {
    fprintf(stderr, "teardown: %d callback(s) broke the contract\n", e->bad);
    ok = 0;
  }
  for (i = 0; i < MAX_SRV; i++) {
    if (e->srv[i] >= 0) {
      close(e->srv[i]);
    }
  }
  if (e->extra_fd >= 0) {
    close(e->extra_fd);
  }
  for (i = 0; i < e->ntoks; i++) {
    free(e->toks[i]);
  }
  free(e);
  return ok ? 0 : -1;
}

/* ---- 1. names ------------------------------------------------------------ */

static void fill_label(char *p, size_t n, char ch) { memset(p, ch, n); }

/* "L1.L2...." of the given label lengths (labels of 'a'+i) into buf,
 * with a trailing dot when dot; the name's length. */
static size_t mk_name(char *buf, const size_t *lens, size_t nl, int dot) {
  size_t o = 0, i;
  for (i = 0; i < nl; i++) {
    if (i > 0) {
      buf[o++] = '.';
    }
    fill_label(buf + o, lens[i], (char)('a' + (int)(i % 26)));
    o += lens[i];
  }
  if (dot) {
    buf[o++] = '.';
  }
  buf[o] = '\0';
  return o;
}

static void test_encode_name(void **state) {
  unsigned char out[600];
  char name[600];
  size_t lens[200], i;
  (void)state;

  /* plain, absolute, root */
  assert_int_equal(mdspf__udp_encode_name("example.com", out, sizeof out), 13);
  assert_memory_equal(out, "\7example\3com", 13);
  memset(out, 0xee, sizeof out);
  assert_int_equal(mdspf__udp_encode_name("example.com.", out, sizeof out), 13);
  assert_memory_equal(out, "\7example\3com", 13);
  assert_int_equal(mdspf__udp_encode_name("a", out, sizeof out), 3);
  assert_memory_equal(out, "\1a", 3);
  memset(out, 0xee, sizeof out);
  assert_int_equal(mdspf__udp_encode_name(".", out, sizeof out), 1);
  assert_int_equal(out[0], 0);
  memset(out, 0xee, sizeof out);
  assert_int_equal(mdspf__udp_encode_name("", out, sizeof out), 1);
  assert_int_equal(out[0], 0);
  /* letter case kept as given */
  assert_int_equal(mdspf__udp_encode_name("ExAmPle.COM", out, sizeof out), 13);
  assert_memory_equal(out, "\7ExAmPle\3COM", 13);

  /* raw octets are octets: no escapes, no interpretation */
  assert_int_equal(mdspf__udp_encode_name("a b.c\\d", out, sizeof out), 9);
  assert_memory_equal(out, "\3a b\3c\\d", 9);
  assert_int_equal(mdspf__udp_encode_name("\\046.\x7f\xff", out, sizeof out),
                   9);
  assert_memory_equal(out, "\4\\046\2\x7f\xff", 9);

  /* 63-octet label fine, 64 not */
  lens[0] = 63;
  lens[1] = 3;
  mk_name(name, lens, 2, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), 69);
  assert_int_equal(out[0], 63);
  assert_int_equal(out[64], 3);
  assert_int_equal(out[68], 0);
  lens[0] = 64;
  mk_name(name, lens, 2, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), -1);
  lens[0] = 3;
  lens[1] = 64;
  mk_name(name, lens, 2, 1);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), -1);
  lens[0] = 64;
  mk_name(name, lens, 1, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), -1);

  /* empty labels */
  assert_int_equal(mdspf__udp_encode_name("a..b", out, sizeof out), -1);
  assert_int_equal(mdspf__udp_encode_name(".a", out, sizeof out), -1);
  assert_int_equal(mdspf__udp_encode_name("..", out, sizeof out), -1);
  assert_int_equal(mdspf__udp_encode_name("a..", out, sizeof out), -1);
  assert_int_equal(mdspf__udp_encode_name("a.b..", out, sizeof out), -1);
  assert_int_equal(mdspf__udp_encode_name(".a.", out, sizeof out), -1);

  /* 255 octets in all: 63+63+63+61 labels (253 characters) is the
   * longest, one more octet is too long; with and without the dot */
  lens[0] = lens[1] = lens[2] = 63;
  lens[3] = 61;
  assert_int_equal(mk_name(name, lens, 4, 0), 253);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), 255);
  assert_int_equal(out[254], 0);
  assert_int_equal(out[192], 61);
  mk_name(name, lens, 4, 1);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), 255);
  lens[3] = 62;
  mk_name(name, lens, 4, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), -1);
  mk_name(name, lens, 4, 1);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), -1);
  /* the same limit with 127 one-octet labels (255), 128 (257) */
  for (i = 0; i < 128; i++) {
    lens[i] = 1;
  }
  mk_name(name, lens, 127, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), 255);
  mk_name(name, lens, 128, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), -1);
  /* a label of 63 after 192 octets: 256 in all */
  lens[0] = lens[1] = lens[2] = 63;
  lens[3] = 63;
  mk_name(name, lens, 4, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, sizeof out), -1);

  /* the output size is honoured: exactly enough, one octet less */
  memset(out, 0xee, sizeof out);
  assert_int_equal(mdspf__udp_encode_name("example.com", out, 13), 13);
  assert_int_equal(mdspf__udp_encode_name("example.com", out, 12), -1);
  assert_int_equal(mdspf__udp_encode_name("example.com", out, 8), -1);
  assert_int_equal(mdspf__udp_encode_name(".", out, 1), 1);
  assert_int_equal(mdspf__udp_encode_name("", out, 0), -1);
  memset(out, 0xee, sizeof out);
  lens[0] = lens[1] = lens[2] = 63;
  lens[3] = 61;
  mk_name(name, lens, 4, 0);
  assert_int_equal(mdspf__udp_encode_name(name, out, 255), 255);
  assert_int_equal(mdspf__udp_encode_name(name, out, 254), -1);
}

/* Names that cannot be asked end inside send, with nothing sent. */
static void test_bad_name_inline(void **state) {
  env *e = *state;
  static char long_label[80], too_long[300];
  size_t lens[4] = {63, 63, 63, 62};
  const char *names[6];
  unsigned i;
  env_servers(e, 1);
  memset(long_label, 'x', 64);
  memcpy(long_label + 64, ".example", 9);
  mk_name(too_long, lens, 4, 0);
  names[0] = "a..b";
  names[1] = ".a";
  names[2] = long_label;
  names[3] = too_long;
  names[4] = "x..";
  names[5] = NULL; /* ops->name has none */
  for (i = 0; i < 6; i++) {
    tok *t = tok_new(e, names[i], T_TXT);
    tok_send(e, t);
    assert_int_equal(t->ndone, 1);
    assert_int_equal(t->status, ARES_EBADNAME);
    assert_int_equal(t->had_abuf, 0);
    assert_int_equal(mdspf__udp_count(&e->u), 0);
    assert_int_equal(mdspf__udp_ms(&e->u, now_ms()), -1);
  }
  assert_true(srv_quiet(e, 1, T(20)));
}

/* ---- 2. the query and the answer ----------------------------------------- */

static void test_query_format(void **state) {
  env *e = *state;
  static const unsigned char qname[] = "\7Example\3COM";
  tok *t, *t2;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  env_servers(e, 1);
  e->cfg.edns_size = 1232;

  t = tok_new(e, "Example.COM", T_TXT);
  tok_send(e, t);
  assert_int_equal(t->ndone, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 1);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(qi.id, t->q.id);
  assert_int_equal(qi.f2, 0x01); /* QR 0, opcode QUERY, RD */
  assert_int_equal(qi.f3, 0x00);
  assert_int_equal(qi.qd, 1);
  assert_int_equal(qi.an, 0);
  assert_int_equal(qi.ns, 0);
  assert_int_equal(qi.ar, 1);
  assert_int_equal(qi.qname_len, sizeof qname);
  assert_memory_equal(d.b + 12, qname, sizeof qname);
  assert_int_equal(qi.qtype, T_TXT);
  assert_int_equal(qi.qclass, 1);
  assert_int_equal(qi.opt, 1);
  assert_int_equal(qi.opt_size, 1232);
  assert_int_equal(qi.opt_ttl_hi, 0); /* extended RCODE, version */
  assert_int_equal(qi.opt_ttl_lo, 0); /* no DO */
  assert_int_equal(qi.opt_rdlen, 0);
  assert_int_equal(d.len, qi.end); /* nothing after the OPT record */
  assert_int_equal(d.len, 12 + sizeof qname + 4 + 11);

  alen = answer_with(e, &d, 0, 2, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
  assert_int_equal(t->count_at_done, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  assert_int_equal(mdspf__udp_ms(&e->u, now_ms()), -1);

  /* another EDNS size, then none */
  e->cfg.edns_size = 4096;
  t2 = tok_new(e, "a.example.", T_A);
  tok_send(e, t2);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(qi.opt, 1);
  assert_int_equal(qi.opt_size, 4096);
  assert_int_equal(qi.qtype, T_A);
  assert_int_equal(qi.qname_len, 11);
  assert_memory_equal(d.b + 12, "\1a\7example", 11);
  alen = answer_with(e, &d, 0, 1, ans);
  run_until_done(e, t2, T_STEP);
  assert_done_with(t2, ARES_SUCCESS, ans, alen);

  e->cfg.edns_size = 0;
  t2 = tok_new(e, "example.org", 28);
  tok_send(e, t2);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(qi.id, t2->q.id);
  assert_int_equal(qi.f2, 0x01);
  assert_int_equal(qi.qd, 1);
  assert_int_equal(qi.ar, 0);
  assert_int_equal(qi.opt, 0);
  assert_int_equal(qi.qtype, 28);
  assert_int_equal(qi.qclass, 1);
  assert_int_equal(d.len, 12 + 13 + 4);
  alen = answer_with(e, &d, 0, 1, ans);
  run_until_done(e, t2, T_STEP);
  assert_done_with(t2, ARES_SUCCESS, ans, alen);
}

/* The status of each kind of answer, as ares_query reports it. */
static void test_rcodes(void **state) {
  env *e = *state;
  static const struct {
    unsigned rcode, an;
    unsigned an_hdr; /* ANCOUNT when it differs from the records */
    int tc;
    int want;
    int with_abuf;
  } c[] = {
      {0, 1, 0, 0, ARES_SUCCESS, 1},   {0, 3, 0, 0, ARES_SUCCESS, 1},
      {0, 0, 0, 0, ARES_ENODATA, 1},   {0, 0, 0x100, 0, ARES_SUCCESS, 1},
      {3, 0, 0, 0, ARES_ENOTFOUND, 1}, {3, 1, 0, 0, ARES_ENOTFOUND, 1},
      {1, 0, 0, 0, ARES_EFORMERR, 1},  {6, 0, 0, 0, ARES_SUCCESS, 1},
      {9, 0, 0, 0, ARES_SUCCESS, 1},   {15, 0, 0, 0, ARES_SUCCESS, 1},
      {0, 1, 0, 1, ARES_SUCCESS, 1}, /* TC is the backend's business */
      {2, 0, 0, 0, ARES_ESERVFAIL, 0}, {4, 0, 0, 0, ARES_ENOTIMP, 0},
      {5, 0, 0, 0, ARES_EREFUSED, 0},
  };
  unsigned i;
  env_servers(e, 1);
  e->cfg.edns_size = 0; /* a FORMERR is final */
  e->cfg.tries = 1;     /* SERVFAIL & co. are final */
  for (i = 0; i < sizeof c / sizeof c[0]; i++) {
    tok *t = tok_new(e, "rcode.example", T_TXT);
    dgram d;
    qinfo qi;
    unsigned char ans[512];
    size_t alen;
    tok_send(e, t);
    expect_query(e, 1, &d, &qi, T_STEP);
    alen = mk_reply(d.b, d.len, c[i].rcode, c[i].an, ans);
    if (c[i].an_hdr) {
      ans[6] = (unsigned char)(c[i].an_hdr >> 8);
      ans[7] = (unsigned char)c[i].an_hdr;
    }
    if (c[i].tc) {
      ans[2] |= 0x02;
    }
    srv_reply(e, &d, ans, alen);
    run_until_done(e, t, T_STEP);
    print_message("rcode %u an %u: status %d\n", c[i].rcode, c[i].an,
                  t->status);
    assert_done_with(t, c[i].want, c[i].with_abuf ? ans : NULL, alen);
    assert_int_equal(mdspf__udp_count(&e->u), 0);
  }
  /* nothing was asked twice */
  assert_true(srv_quiet(e, 1, T(20)));
}

/* ---- 3. IDs -------------------------------------------------------------- */

static int cmp_uint(const void *a, const void *b) {
  unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
  return x < y ? -1 : x > y;
}

#define NIDS 200

static void test_ids(void **state) {
  env *e = *state;
  static char names[NIDS][32];
  tok *t[NIDS];
  unsigned ids[NIDS], sorted[NIDS], seq = 0, close_steps = 0, k;
  dgram *d = malloc(sizeof *d);
  assert_non_null(d);
  env_servers(e, 1);
  e->cfg.edns_size = 0;
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(5000);
  /* all in flight at once: each sent, and read by the server, before
   * any is answered */
  for (k = 0; k < NIDS; k++) {
    qinfo qi;
    unsigned char wn[64];
    size_t wl;
    snprintf(names[k], sizeof names[k], "q%u.ids.example", k);
    t[k] = tok_new(e, names[k], T_TXT);
    tok_send(e, t[k]);
    assert_int_equal(t[k]->ndone, 0);
    expect_query(e, 1, d, &qi, T_STEP);
    assert_int_equal(qi.id, t[k]->q.id);
    wl = wire_name(names[k], wn);
    assert_int_equal(qi.qname_len, wl);
    assert_memory_equal(d->b + 12, wn, wl);
    ids[k] = qi.id;
  }
  assert_int_equal(mdspf__udp_count(&e->u), NIDS);
  memcpy(sorted, ids, sizeof ids);
  qsort(sorted, NIDS, sizeof sorted[0], cmp_uint);
  for (k = 1; k < NIDS; k++) {
    assert_true(sorted[k] != sorted[k - 1]); /* all distinct */
  }
  /* not a counter: one draw after another is rarely within 2 of the
   * previous (200 random IDs: ~0.03 such steps expected; a counter or
   * a small stride: 199) */
  for (k = 1; k < NIDS; k++) {
    unsigned diff = (ids[k] - ids[k - 1]) & 0xffffu;
    if (diff == 1) {
      seq++;
    }
    if (diff <= 2 || diff >= 0xfffeu) {
      close_steps++;
    }
  }
  print_message("IDs: %u consecutive, %u close steps, range %u..%u\n", seq,
                close_steps, sorted[0], sorted[NIDS - 1]);
  assert_true(seq < 5);
  assert_true(close_steps < 5);
  /* spread over the space: 200 random IDs span far more than 200 */
  assert_true(sorted[NIDS - 1] - sorted[0] > 20000);

  /* every one answered, in reverse order: each completes itself */
  for (k = NIDS; k-- > 0;) {
    unsigned char ans[512];
    size_t alen;
    qinfo qi;
    /* rebuild the query of t[k] as the server saw it */
    memset(d->b, 0, 12);
    d->b[0] = (unsigned char)(ids[k] >> 8);
    d->b[1] = (unsigned char)ids[k];
    d->b[2] = 1;
    d->b[5] = 1;
    d->len = 12 + wire_name(names[k], d->b + 12);
    d->b[d->len++] = 0;
    d->b[d->len++] = T_TXT;
    d->b[d->len++] = 0;
    d->b[d->len++] = 1;
    assert_int_equal(parse_query(d->b, d->len, &qi), 0);
    d->srv = 0;
    d->fromlen = sizeof d->from;
    assert_int_equal(
        getsockname(e->tfd[0], (struct sockaddr *)&d->from, &d->fromlen), 0);
    alen = answer_with(e, d, 0, 1, ans);
    run_until_done(e, t[k], T_STEP);
    assert_done_with(t[k], ARES_SUCCESS, ans, alen);
  }
  assert_int_equal(e->ndone_total, NIDS);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  free(d);
}

/* IDs stay unique when the entropy source repeats itself: the random
 * octets of the configuration preset to one value (as if every draw came
 * out the same). */
static void test_ids_unique_on_repeat(void **state) {
  env *e = *state;
  tok *t[40];
  unsigned k, j;
  env_servers(e, 1);
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(5000);
  memset(e->cfg.rnd, 0x42, sizeof e->cfg.rnd);
  e->cfg.rnd_left = sizeof e->cfg.rnd;
  for (k = 0; k < 40; k++) {
    dgram d;
    qinfo qi;
    t[k] = tok_new(e, "same.example", T_A);
    tok_send(e, t[k]);
    expect_query(e, 1, &d, &qi, T_STEP);
    assert_int_equal(qi.id, t[k]->q.id);
    for (j = 0; j < k; j++) {
      assert_true(t[j]->q.id != t[k]->q.id);
    }
  }
  assert_int_equal(mdspf__udp_count(&e->u), 40);
  for (k = 0; k < 40; k++) {
    mdspf__udp_cancel(&e->u, &t[k]->q);
  }
}

/* ---- 4. answers that are not answers ------------------------------------- */

/* Make bad (from the good reply r of rl octets, to the query d) the
 * variant v, its length in *len; 0 when v is past the last. */
static int mk_bad(unsigned v, const dgram *d, const unsigned char *r, size_t rl,
                  unsigned char *bad, size_t *len, const char **what) {
  qinfo qi;
  size_t n = rl, k;
  assert_int_equal(parse_query(d->b, d->len, &qi), 0);
  memcpy(bad, r, rl);
  switch (v) {
  case 0:
    *what = "wrong ID";
    bad[1] ^= 0x5a;
    break;
  case 1:
    *what = "ID off by one";
    bad[0] = (unsigned char)((qi.id + 1) >> 8);
    bad[1] = (unsigned char)(qi.id + 1);
    break;
  case 2:
    *what = "QR clear";
    bad[2] &= 0x7f;
    break;
  case 3:
    *what = "opcode IQUERY";
    bad[2] |= 0x08;
    break;
  case 4:
    *what = "opcode STATUS";
    bad[2] |= 0x10;
    break;
  case 5:
    *what = "opcode 15";
    bad[2] |= 0x78;
    break;
  case 6:
    *what = "another name (one letter)";
    bad[13] = 'z';
    break;
  case 7:
    *what = "another name (the same octets, other labels)";
    /* ab.cd.test -> abc.d.test */
    bad[12] = 3;
    bad[15] = 'c';
    bad[16] = 1;
    break;
  case 8:
    *what = "a compression pointer for the name";
    bad[12] = 0xc0;
    bad[13] = 0x0c;
    break;
  case 9:
    *what = "another QTYPE";
    bad[qi.qend - 3] = T_TXT + 1;
    break;
  case 10:
    *what = "QTYPE high octet";
    bad[qi.qend - 4] = 1;
    break;
  case 11:
    *what = "another QCLASS (CH)";
    bad[qi.qend - 1] = 3;
    break;
  case 12:
    *what = "QDCOUNT 0";
    bad[5] = 0;
    break;
  case 13:
    *what = "QDCOUNT 2";
    bad[5] = 2;
    break;
  case 14:
    *what = "QDCOUNT 257";
    bad[4] = 1;
    break;
  case 15:
    *what = "QDCOUNT 2 with two questions";
    bad[5] = 2;
    memcpy(bad + qi.qend, d->b + 12, qi.qend - 12);
    memcpy(bad + 2 * qi.qend - 12, r + qi.qend, rl - qi.qend);
    n = rl + qi.qend - 12;
    break;
  case 16:
    *what = "11 octets";
    n = 11;
    break;
  case 17:
    *what = "the header alone";
    n = 12;
    break;
  case 18:
    *what = "the question cut short";
    n = qi.qend - 1;
    break;
  case 19:
    *what = "an empty datagram";
    n = 0;
    break;
  case 20: {
    uint32_t x = 0x12345678u;
    *what = "garbage after the ID";
    n = 100;
    for (k = 2; k < n; k++) {
      x = x * 1103515245u + 12345u;
      bad[k] = (unsigned char)(x >> 16);
    }
    break;
  }
  case 21:
    *what = "the name in the answer with a different last label";
    bad[qi.qend - 6] = 'x';
    break;
  default:
    return 0;
  }
  *len = n;
  return 1;
}

/* Each kind of non-answer is dropped: the query is still pending, and
 * the proper answer after it completes it with its own bytes. */
static void test_ignored_answers(void **state) {
  env *e = *state;
  unsigned v;
  env_servers(e, 1);
  e->cfg.edns_size = 0;
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(5000);
  for (v = 0;; v++) {
    tok *t = tok_new(e, "ab.cd.test", T_TXT);
    dgram d;
    qinfo qi;
    unsigned char good[512], bad[512];
    size_t gl, bl;
    const char *what = "";
    tok_send(e, t);
    expect_query(e, 1, &d, &qi, T_STEP);
    gl = mk_reply(d.b, d.len, 0, 1, good);
    if (!mk_bad(v, &d, good, gl, bad, &bl, &what)) {
      mdspf__udp_cancel(&e->u, &t->q);
      break;
    }
    print_message("ignored: %s\n", what);
    srv_reply(e, &d, bad, bl);
    /* a first pass that reads the bad one alone */
    (void)drive(e, 0, stop_done, t, T(5));
    assert_int_equal(t->ndone, 0);
    assert_int_equal(mdspf__udp_count(&e->u), 1);
    srv_reply(e, &d, good, gl);
    run_until_done(e, t, T_STEP);
    assert_done_with(t, ARES_SUCCESS, good, gl);
    assert_int_equal(mdspf__udp_count(&e->u), 0);
  }
  assert_true(srv_quiet(e, 1, T(10))); /* no retry was caused */
}

/* Dropped answers leave the query to time out. */
static void test_ignored_then_timeout(void **state) {
  env *e = *state;
  tok *t;
  dgram d;
  qinfo qi;
  unsigned char good[512];
  size_t gl;
  long t0;
  env_servers(e, 1);
  e->cfg.edns_size = 0;
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(50);
  t = tok_new(e, "late.example", T_A);
  t0 = now_ms();
  tok_send(e, t);
  expect_query(e, 1, &d, &qi, T_STEP);
  gl = mk_reply(d.b, d.len, 0, 1, good);
  good[2] &= 0x7f; /* QR clear */
  srv_reply(e, &d, good, gl);
  good[2] |= 0x80;
  good[0] ^= 0xff; /* wrong ID */
  srv_reply(e, &d, good, gl);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_ETIMEOUT, NULL, 0);
  assert_true(t->t_done - t0 >= T(50) - 1);
}

/* The name of the question is matched case-insensitively. */
static void test_case_insensitive(void **state) {
  env *e = *state;
  tok *t;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen, k;
  env_servers(e, 1);
  t = tok_new(e, "MiXeD.Example.ORG", T_TXT);
  tok_send(e, t);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_memory_equal(d.b + 12, "\5MiXeD\7Example\3ORG", 19);
  alen = mk_reply(d.b, d.len, 0, 1, ans);
  for (k = 12; k < 12 + qi.qname_len; k++) {
    unsigned char ch = ans[k];
    if (ch >= 'a' && ch <= 'z') {
      ans[k] = (unsigned char)(ch - 32);
    } else if (ch >= 'A' && ch <= 'Z') {
      ans[k] = (unsigned char)(ch + 32);
    }
  }
  assert_memory_equal(ans + 12, "\5mIxEd\7eXAMPLE\3org", 19);
  srv_reply(e, &d, ans, alen);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
}

/* One read takes at most 256 datagrams (cares.h: hosts watch
 * level-triggered, and a socket flooded with answers or junk must not
 * hold the loop); the next read takes the rest. */
static void test_read_burst(void **state) {
  enum { N = 260, BATCH = 20 };
  env *e = *state;
  static dgram d;
  qinfo qi;
  unsigned char ans[512];
  int i, k, done0;
  env_servers(e, 1);
  e->cfg.timeout_ms = (int)T(5000);
  e->cfg.rcvbuf = 1 << 20; /* room for all the answers (best effort) */
  /* in batches, so that the server's own buffer never overflows */
  for (i = 0; i < N; i += BATCH) {
    for (k = 0; k < BATCH; k++) {
      tok_send(e, tok_new(e, "burst.example", T_TXT));
    }
    for (k = 0; k < BATCH; k++) {
      expect_query(e, 1, &d, &qi, T_STEP);
      srv_reply(e, &d, ans, mk_reply(d.b, d.len, 0, 1, ans));
    }
  }
  assert_int_equal(e->ntfd, 1);
  /* every answer is in the socket's buffer before the first read */
  {
    struct pollfd p;
    p.fd = e->tfd[0];
    p.events = POLLIN;
    assert_int_equal(poll(&p, 1, (int)T_STEP), 1);
    sleep_ms(T(50));
  }
  done0 = e->ndone_total;
  mdspf__udp_read(&e->u, e->tfd[0]);
  assert_int_equal(e->ndone_total - done0, 256);
  assert_int_equal(mdspf__udp_count(&e->u), N - 256);
  mdspf__udp_read(&e->u, e->tfd[0]);
  assert_int_equal(e->ndone_total - done0, N);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  assert_int_equal(e->bad, 0);
}

static unsigned from_port(const dgram *d) {
  return ntohs(((const struct sockaddr_in *)(const void *)&d->from)->sin_port);
}

/* Source ports rotate: after max_per_socket sends a server's socket
 * retires and the next query goes out through a new one (a new port);
 * the retired socket is still read -- a late answer to a query sent
 * through it is taken -- until the deadlines of the queries then in
 * flight have passed, and is closed by the next timeouts call after
 * that; meanwhile the new socket does not retire (one retiring socket
 * per server), and once the old is closed it does. */
static void test_socket_rotation(void **state) {
  env *e = *state;
  tok *t[12];
  static dgram d[12];
  qinfo qi;
  unsigned char ans[512];
  int i, s1;
  env_servers(e, 1);
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(150);
  e->cfg.max_per_socket = 4;
  for (i = 0; i < 4; i++) {
    t[i] = tok_new(e, "rot.example", T_TXT);
    tok_send(e, t[i]);
    expect_query(e, 1, &d[i], &qi, T_STEP);
    assert_int_equal(from_port(&d[i]), from_port(&d[0]));
  }
  assert_int_equal(e->opened, 1);
  s1 = e->tfd[0];
  /* the fifth: a new socket, a new port; the old one still open */
  t[4] = tok_new(e, "rot.example", T_TXT);
  tok_send(e, t[4]);
  expect_query(e, 1, &d[4], &qi, T_STEP);
  assert_int_equal(e->opened, 2);
  assert_int_equal(e->closed, 0);
  assert_int_not_equal(from_port(&d[4]), from_port(&d[0]));
  assert_true(mdspf__udp_owns(&e->u, s1));
  /* a late answer to a query sent through the retired socket */
  (void)answer_with(e, &d[0], 0, 1, ans);
  run_until_done(e, t[0], T_STEP);
  assert_int_equal(t[0]->status, ARES_SUCCESS);
  /* four more through the new socket: it has carried its share, but
   * the old one still retires, so it stays */
  for (i = 5; i < 9; i++) {
    t[i] = tok_new(e, "rot.example", T_TXT);
    tok_send(e, t[i]);
    expect_query(e, 1, &d[i], &qi, T_STEP);
    assert_int_equal(from_port(&d[i]), from_port(&d[4]));
  }
  assert_int_equal(e->opened, 2);
  /* answered through the new socket */
  for (i = 4; i < 9; i++) {
    (void)answer_with(e, &d[i], 0, 1, ans);
  }
  (void)drive(e, 0, stop_done, t[8], T_STEP);
  for (i = 4; i < 9; i++) {
    assert_int_equal(t[i]->ndone, 1);
    assert_int_equal(t[i]->status, ARES_SUCCESS);
  }
  /* the old socket's queries time out, and then it is closed */
  (void)drive(e, 0, stop_done, t[3], T_STEP);
  assert_int_equal(t[1]->status, ARES_ETIMEOUT);
  assert_int_equal(t[3]->status, ARES_ETIMEOUT);
  mdspf__udp_timeouts(&e->u, now_ms());
  assert_int_equal(e->closed, 1);
  assert_int_equal(e->closed_fd[0], s1);
  assert_false(mdspf__udp_owns(&e->u, s1));
  /* now the new socket retires at the next send */
  t[9] = tok_new(e, "rot.example", T_TXT);
  tok_send(e, t[9]);
  expect_query(e, 1, &d[9], &qi, T_STEP);
  assert_int_equal(e->opened, 3);
  assert_int_not_equal(from_port(&d[9]), from_port(&d[4]));
  (void)answer_with(e, &d[9], 0, 1, ans);
  run_until_done(e, t[9], T_STEP);
  assert_int_equal(t[9]->status, ARES_SUCCESS);
  assert_int_equal(e->bad, 0);
}

/* The type and class of the question are compared exactly, not folded
 * like the name: type 65 has the octet 'A' (0x41), type 97 'a'. */
static void test_qtype_exact(void **state) {
  env *e = *state;
  tok *t;
  dgram d;
  qinfo qi;
  unsigned char good[512], bad[512];
  size_t gl;
  env_servers(e, 1);
  t = tok_new(e, "svc.example", 65);
  tok_send(e, t);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(qi.qtype, 65);
  gl = mk_reply(d.b, d.len, 0, 1, good);
  memcpy(bad, good, gl);
  bad[qi.qend - 3] = 97; /* QTYPE 97 */
  srv_reply(e, &d, bad, gl);
  (void)drive(e, 0, stop_done, t, T(20));
  assert_int_equal(t->ndone, 0);
  memcpy(bad, good, gl);
  bad[qi.qend - 1] = 0x21; /* QCLASS 0x21 ('!' against IN's 1) */
  srv_reply(e, &d, bad, gl);
  (void)drive(e, 0, stop_done, t, T(20));
  assert_int_equal(t->ndone, 0);
  srv_reply(e, &d, good, gl);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, good, gl);
}

/* The sock callback (the backend's: the host's watch hook, from which
 * checks may be cancelled) cancels the query whose send opened the
 * socket: at its first send, and when it fails over to a server not
 * asked before.  The query is gone for good -- no deadline, no callback,
 * its memory never written again. */
static void test_cancel_from_sock(void **state) {
  env *e = *state;
  tok *a, *b;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  unsigned char poisoned[sizeof a->q];
  env_servers(e, 2);
  e->cfg.no_rotate = 1;
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(50);
  memset(poisoned, 0xA5, sizeof poisoned);
  /* the first send opens server 0's socket */
  a = tok_new(e, "first.example", T_TXT);
  e->cancel_on_open = a;
  e->poison = 1;
  tok_send(e, a);
  assert_null(e->cancel_on_open);
  assert_memory_equal(&a->q, poisoned, sizeof a->q);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  assert_int_equal(mdspf__udp_ms(&e->u, now_ms()), -1);
  /* a failover opens server 1's socket */
  b = tok_new(e, "second.example", T_TXT);
  tok_send(e, b);
  expect_query(e, 3, &d, &qi, T_STEP);
  assert_int_equal(d.srv, 0);
  e->cancel_on_open = b;
  (void)answer_with(e, &d, 2, 0, ans); /* SERVFAIL: on to server 1 */
  (void)drive(e, 0, stop_empty, NULL, T_STEP);
  assert_null(e->cancel_on_open);
  assert_memory_equal(&b->q, poisoned, sizeof b->q);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  assert_int_equal(mdspf__udp_ms(&e->u, now_ms()), -1);
  (void)drive(e, 0, NULL, NULL, T(200)); /* past every deadline */
  assert_int_equal(a->ndone, 0);
  assert_int_equal(b->ndone, 0);
  assert_int_equal(e->bad, 0);
  assert_memory_equal(&a->q, poisoned, sizeof a->q);
  assert_memory_equal(&b->q, poisoned, sizeof b->q);
  /* (the teardown cancels every token: give them back a state) */
  memset(&a->q, 0, sizeof a->q);
  memset(&b->q, 0, sizeof b->q);
}

/* An answer from another socket than the server's never reaches the
 * query (the transport's socket is connected). */
static void test_other_socket(void **state) {
  env *e = *state;
  tok *t;
  dgram d;
  qinfo qi;
  mdspf__udp_server other;
  unsigned char good[512], forged[512];
  size_t gl, fl;
  env_servers(e, 1);
  e->cfg.edns_size = 0;
  t = tok_new(e, "spoof.example", T_A);
  tok_send(e, t);
  expect_query(e, 1, &d, &qi, T_STEP);
  /* the same address, another port */
  e->extra_fd = loopback_socket(AF_INET, &other);
  assert_true(e->extra_fd >= 0);
  fl = mk_reply(d.b, d.len, 0, 1, forged);
  forged[fl - 1] = 66; /* 127.0.0.66: told apart from the real one */
  assert_int_equal(sendto(e->extra_fd, forged, fl, 0,
                          (const struct sockaddr *)&d.from, d.fromlen),
                   (ssize_t)fl);
  (void)drive(e, 0, stop_done, t, T(20));
  assert_int_equal(t->ndone, 0);
  gl = mk_reply(d.b, d.len, 0, 1, good);
  srv_reply(e, &d, good, gl);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, good, gl);
}

/* An answer from one of the transport's servers that the query was not
 * sent to is dropped; a late answer from one it was sent to is taken. */
static void test_server_not_asked(void **state) {
  env *e = *state;
  tok *a, *b, *c;
  dgram d0, d1, d;
  qinfo qi;
  unsigned char ans[512], ans2[512];
  size_t alen, alen2;
  env_servers(e, 2);
  e->cfg.edns_size = 0;
  e->cfg.no_rotate = 1;
  e->cfg.tries = 1;
  /* a: SERVFAIL from server 0, answered by server 1 (both sockets open) */
  a = tok_new(e, "a.example", T_A);
  tok_send(e, a);
  expect_query(e, 1, &d0, &qi, T_STEP);
  answer_with(e, &d0, 2, 0, ans);
  expect_query(e, 2, &d1, &qi, T_STEP);
  alen = answer_with(e, &d1, 0, 1, ans);
  run_until_done(e, a, T_STEP);
  assert_done_with(a, ARES_SUCCESS, ans, alen);
  assert_int_equal(e->opened, 2);

  /* b goes to server 0 only; server 1 answers it anyway */
  b = tok_new(e, "b.example", T_A);
  tok_send(e, b);
  expect_query(e, 1, &d0, &qi, T_STEP);
  d = d0;
  d.srv = 1; /* the same answer from server 1, to b's socket there */
  d.fromlen = sizeof d.from;
  {
    unsigned i;
    int found = 0;
    /* server 1's socket of the transport: the one that is not d0's */
    for (i = 0; i < e->ntfd; i++) {
      struct sockaddr_storage peer;
      socklen_t pl = sizeof peer;
      struct sockaddr_in *p4 = (struct sockaddr_in *)(void *)&peer;
      assert_int_equal(getpeername(e->tfd[i], (struct sockaddr *)&peer, &pl),
                       0);
      if (p4->sin_port == e->cfg.srv[1].addr.in4.sin_port) {
        d.fromlen = sizeof d.from;
        assert_int_equal(
            getsockname(e->tfd[i], (struct sockaddr *)&d.from, &d.fromlen), 0);
        found = 1;
      }
    }
    assert_true(found);
  }
  alen2 = mk_reply(d0.b, d0.len, 0, 1, ans2);
  ans2[alen2 - 1] = 99;
  srv_reply(e, &d, ans2, alen2);
  (void)drive(e, 0, stop_done, b, T(20));
  assert_int_equal(b->ndone, 0);
  alen = answer_with(e, &d0, 0, 1, ans);
  run_until_done(e, b, T_STEP);
  assert_done_with(b, ARES_SUCCESS, ans, alen);

  /* c: server 0 silent, the query moves on to server 1 after the
   * timeout; server 0's late answer is taken */
  e->cfg.timeout_ms = (int)T(50);
  e->cfg.tries = 2;
  c = tok_new(e, "c.example", T_A);
  tok_send(e, c);
  expect_query(e, 1, &d0, &qi, T_STEP);
  expect_query(e, 2, &d1, &qi, T_STEP);
  assert_int_equal(c->ndone, 0);
  alen = answer_with(e, &d0, 0, 1, ans);
  run_until_done(e, c, T_STEP);
  assert_done_with(c, ARES_SUCCESS, ans, alen);
}

/* ---- 5. retries and failover --------------------------------------------- */

static void test_retry_one_server(void **state) {
  env *e = *state;
  tok *t;
  dgram d1, d2;
  qinfo q1, q2;
  long t0, gap, end;
  env_servers(e, 1);
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(50);
  t = tok_new(e, "slow.example", T_TXT);
  t0 = now_ms();
  tok_send(e, t);
  expect_query(e, 1, &d1, &q1, T_STEP);
  assert_true(d1.t - t0 < T(40));
  expect_query(e, 1, &d2, &q2, T_STEP);
  gap = d2.t - d1.t;
  /* the same query again (ID, question, EDNS) */
  assert_int_equal(d2.len, d1.len);
  assert_memory_equal(d2.b, d1.b, d1.len);
  run_until_done(e, t, T_STEP);
  end = t->t_done - d2.t;
  print_message("second try after %ld ms, the end %ld ms after it\n", gap, end);
  /* try 1: 50 ms; try 2 (round 2): 100 ms */
  assert_true(d2.t - t0 >= T(50) - 1);
  assert_true(gap < T(95));
  assert_true(t->t_done - t0 >= T(150) - 2);
  assert_true(end >= T(100) - 2);
  assert_true(end < T(190));
  assert_done_with(t, ARES_ETIMEOUT, NULL, 0);
  assert_true(srv_quiet(e, 1, T(20))); /* no third try */
}

/* Two servers, two rounds: 50, 50, 100, 100 ms. */
static void test_retry_two_servers(void **state) {
  env *e = *state;
  tok *t;
  dgram d[4];
  qinfo qi;
  long t0;
  unsigned k;
  env_servers(e, 2);
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(50);
  e->cfg.no_rotate = 1;
  t = tok_new(e, "slow2.example", T_TXT);
  t0 = now_ms();
  tok_send(e, t);
  for (k = 0; k < 4; k++) {
    expect_query(e, 3, &d[k], &qi, T_STEP);
    assert_int_equal(d[k].srv, k % 2);
    assert_int_equal(qi.id, t->q.id);
  }
  run_until_done(e, t, T_STEP);
  print_message("tries at %ld %ld %ld %ld ms, the end at %ld ms\n", d[0].t - t0,
                d[1].t - t0, d[2].t - t0, d[3].t - t0, t->t_done - t0);
  assert_done_with(t, ARES_ETIMEOUT, NULL, 0);
  assert_true(d[1].t - d[0].t >= T(50) - 2);
  assert_true(d[1].t - d[0].t < T(95));
  assert_true(d[2].t - d[1].t >= T(50) - 2);
  assert_true(d[2].t - d[1].t < T(95));
  assert_true(d[3].t - d[2].t >= T(100) - 2);
  assert_true(d[3].t - d[2].t < T(190));
  assert_true(t->t_done - d[3].t >= T(100) - 2);
  assert_true(t->t_done - d[3].t < T(190));
  assert_true(srv_quiet(e, 3, T(20)));
}

/* An error answer from the first server: the second is asked at once,
 * and its answer is the query's. */
static void test_failover_answered(void **state) {
  env *e = *state;
  static const unsigned rc[] = {2, 4, 5};
  unsigned i;
  env_servers(e, 2);
  e->cfg.no_rotate = 1;
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(2000);
  for (i = 0; i < 3; i++) {
    tok *t = tok_new(e, "fo.example", T_TXT);
    dgram d0, d1;
    qinfo q0, q1;
    unsigned char ans[512];
    size_t alen;
    long t0 = now_ms();
    tok_send(e, t);
    expect_query(e, 3, &d0, &q0, T_STEP);
    assert_int_equal(d0.srv, 0);
    answer_with(e, &d0, rc[i], 0, ans);
    expect_query(e, 3, &d1, &q1, T_STEP);
    assert_int_equal(d1.srv, 1);
    assert_int_equal(q1.id, q0.id);
    assert_int_equal(d1.len, d0.len);
    assert_memory_equal(d1.b, d0.b, d0.len);
    assert_true(d1.t - t0 < T(500)); /* not after a timeout */
    alen = answer_with(e, &d1, 0, 1, ans);
    run_until_done(e, t, T_STEP);
    assert_done_with(t, ARES_SUCCESS, ans, alen);
  }
  assert_true(srv_quiet(e, 3, T(20)));
}

/* Both servers answer with errors: the last error is the status, and
 * neither is asked again in the second round. */
static void test_failover_all_fail(void **state) {
  env *e = *state;
  static const struct {
    unsigned rc0, rc1;
    int want;
  } c[] = {
      {2, 2, ARES_ESERVFAIL}, {5, 5, ARES_EREFUSED}, {4, 4, ARES_ENOTIMP},
      {2, 5, ARES_EREFUSED},  {5, 4, ARES_ENOTIMP},  {4, 2, ARES_ESERVFAIL},
  };
  unsigned i;
  env_servers(e, 2);
  e->cfg.no_rotate = 1;
  e->cfg.tries = 3;
  e->cfg.timeout_ms = (int)T(2000);
  for (i = 0; i < sizeof c / sizeof c[0]; i++) {
    tok *t = tok_new(e, "fail.example", T_TXT);
    dgram d0, d1;
    qinfo qi;
    unsigned char ans[512];
    long t0 = now_ms();
    tok_send(e, t);
    expect_query(e, 3, &d0, &qi, T_STEP);
    assert_int_equal(d0.srv, 0);
    answer_with(e, &d0, c[i].rc0, 0, ans);
    expect_query(e, 3, &d1, &qi, T_STEP);
    assert_int_equal(d1.srv, 1);
    answer_with(e, &d1, c[i].rc1, 0, ans);
    run_until_done(e, t, T_STEP);
    assert_done_with(t, c[i].want, NULL, 0);
    assert_true(t->t_done - t0 < T(500));
    assert_int_equal(mdspf__udp_count(&e->u), 0);
    assert_true(srv_quiet(e, 3, T(20)));
  }
}

/* With one server, an error answer is retried in the next round (there
 * is no other to ask). */
static void test_one_server_servfail_retried(void **state) {
  env *e = *state;
  tok *t;
  dgram d0, d1;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  env_servers(e, 1);
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(2000);
  t = tok_new(e, "sf.example", T_TXT);
  tok_send(e, t);
  expect_query(e, 1, &d0, &qi, T_STEP);
  answer_with(e, &d0, 2, 0, ans);
  expect_query(e, 1, &d1, &qi, T(500));
  assert_int_equal(qi.id, t->q.id);
  answer_with(e, &d1, 2, 0, ans);
  run_until_done(e, t, T(500));
  assert_done_with(t, ARES_ESERVFAIL, NULL, 0);

  /* and an answer to the second try is the query's */
  t = tok_new(e, "sf2.example", T_TXT);
  tok_send(e, t);
  expect_query(e, 1, &d0, &qi, T_STEP);
  answer_with(e, &d0, 5, 0, ans);
  expect_query(e, 1, &d1, &qi, T(500));
  alen = answer_with(e, &d1, 3, 0, ans);
  run_until_done(e, t, T(500));
  assert_done_with(t, ARES_ENOTFOUND, ans, alen);
}

/* ---- 6. EDNS fallback ---------------------------------------------------- */

static void test_edns_fallback(void **state) {
  env *e = *state;
  tok *t;
  dgram d1, d2, d3;
  qinfo q1, q2, q3;
  unsigned char ans[512];
  size_t alen;
  long t0;
  env_servers(e, 2);
  e->cfg.no_rotate = 1;
  e->cfg.edns_size = 1232;
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(2000);

  t = tok_new(e, "old.example", T_TXT);
  t0 = now_ms();
  tok_send(e, t);
  expect_query(e, 3, &d1, &q1, T_STEP);
  assert_int_equal(d1.srv, 0);
  assert_int_equal(q1.ar, 1);
  assert_int_equal(q1.opt, 1);
  answer_with(e, &d1, 1, 0, ans); /* FORMERR */
  expect_query(e, 3, &d2, &q2, T_STEP);
  assert_int_equal(d2.srv, 0); /* the same server */
  assert_true(d2.t - t0 < T(500));
  assert_int_equal(q2.id, q1.id);
  assert_int_equal(q2.ar, 0);
  assert_int_equal(q2.opt, 0);
  assert_int_equal(q2.f2, 0x01);
  assert_int_equal(q2.qd, 1);
  assert_int_equal(d2.len, q1.qend);
  assert_memory_equal(d2.b + 12, d1.b + 12, q1.qend - 12);
  alen = answer_with(e, &d2, 0, 1, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);

  /* a FORMERR to the query without EDNS is final */
  t = tok_new(e, "older.example", T_TXT);
  tok_send(e, t);
  expect_query(e, 3, &d1, &q1, T_STEP);
  assert_int_equal(q1.ar, 1);
  answer_with(e, &d1, 1, 0, ans);
  expect_query(e, 3, &d2, &q2, T_STEP);
  assert_int_equal(d2.srv, 0);
  assert_int_equal(q2.ar, 0);
  alen = answer_with(e, &d2, 1, 0, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_EFORMERR, ans, alen);
  assert_true(srv_quiet(e, 3, T(20)));

  /* the tries after the fallback stay without EDNS */
  e->cfg.timeout_ms = (int)T(50);
  t = tok_new(e, "oldest.example", T_TXT);
  tok_send(e, t);
  expect_query(e, 3, &d1, &q1, T_STEP);
  assert_int_equal(q1.ar, 1);
  answer_with(e, &d1, 1, 0, ans);
  expect_query(e, 3, &d2, &q2, T_STEP);
  assert_int_equal(d2.srv, 0);
  assert_int_equal(q2.ar, 0);
  expect_query(e, 3, &d3, &q3, T_STEP); /* timed out: server 1 */
  assert_int_equal(d3.srv, 1);
  assert_int_equal(q3.id, q1.id);
  assert_int_equal(q3.ar, 0);
  assert_int_equal(d3.len, d2.len);
  alen = answer_with(e, &d3, 0, 1, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
}

/* ---- 7. a port where nothing listens ------------------------------------- */

static void closed_port(mdspf__udp_server *s) {
  int fd = loopback_socket(AF_INET, s);
  assert_true(fd >= 0);
  close(fd);
}

static void test_closed_port(void **state) {
  env *e = *state;
  tok *t;
  long t0;
  e->cfg.nsrv = 1;
  closed_port(&e->cfg.srv[0]);
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(2000);
  t = tok_new(e, "refused.example", T_A);
  t0 = now_ms();
  tok_send(e, t);
  run_until_done(e, t, T(4000));
  print_message("refused after %ld ms\n", t->t_done - t0);
  assert_done_with(t, ARES_ECONNREFUSED, NULL, 0);
  assert_true(t->t_done - t0 < T(500));
  assert_int_equal(mdspf__udp_count(&e->u), 0);

  /* the socket is still good for the next query */
  t = tok_new(e, "refused2.example", T_A);
  t0 = now_ms();
  tok_send(e, t);
  run_until_done(e, t, T(4000));
  assert_done_with(t, ARES_ECONNREFUSED, NULL, 0);
  assert_true(t->t_done - t0 < T(500));
}

static void test_closed_port_failover(void **state) {
  env *e = *state;
  tok *t;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  long t0;
  env_servers(e, 2);
  closed_port(&e->cfg.srv[0]); /* server 0: nothing there */
  e->cfg.no_rotate = 1;
  e->cfg.tries = 2;
  e->cfg.timeout_ms = (int)T(2000);
  t = tok_new(e, "fo-refused.example", T_A);
  t0 = now_ms();
  tok_send(e, t);
  expect_query(e, 3, &d, &qi, T(4000));
  assert_int_equal(d.srv, 1);
  assert_true(d.t - t0 < T(500));
  alen = answer_with(e, &d, 0, 1, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
  assert_true(t->t_done - t0 < T(500));
}

/* A server that cannot be sent to at all (its address is refused by
 * connect): the next is asked; with none left, the query ends inline. */
static void test_unsendable_server(void **state) {
  env *e = *state;
  tok *t;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  env_servers(e, 2);
  e->cfg.srv[0].len = 1; /* too short an address: connect fails */
  e->cfg.no_rotate = 1;
  e->cfg.tries = 2;
  t = tok_new(e, "unsendable.example", T_A);
  tok_send(e, t);
  expect_query(e, 3, &d, &qi, T_STEP);
  assert_int_equal(d.srv, 1);
  alen = answer_with(e, &d, 0, 1, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
  assert_int_equal(e->opened, 1); /* server 1's socket only */

  e->cfg.nsrv = 1;
  t = tok_new(e, "nowhere.example", T_A);
  tok_send(e, t);
  assert_done_with(t, ARES_ECONNREFUSED, NULL, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
}

/* ---- 8. cancel ----------------------------------------------------------- */

static void test_cancel(void **state) {
  env *e = *state;
  tok *a, *b;
  dgram da, db, d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  env_servers(e, 1);
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(50);
  a = tok_new(e, "a.cancel.example", T_TXT);
  b = tok_new(e, "b.cancel.example", T_TXT);
  tok_send(e, a);
  tok_send(e, b);
  expect_query(e, 1, &da, &qi, T_STEP);
  assert_int_equal(qi.id, a->q.id);
  expect_query(e, 1, &db, &qi, T_STEP);
  assert_int_equal(qi.id, b->q.id);
  assert_int_equal(mdspf__udp_count(&e->u), 2);
  mdspf__udp_cancel(&e->u, &a->q);
  assert_int_equal(mdspf__udp_count(&e->u), 1);
  assert_int_equal(a->ndone, 0);
  /* a's answer is dropped; b's completes b */
  answer_with(e, &da, 0, 1, ans);
  alen = answer_with(e, &db, 0, 1, ans);
  run_until_done(e, b, T_STEP);
  assert_done_with(b, ARES_SUCCESS, ans, alen);
  assert_int_equal(a->ndone, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  assert_int_equal(mdspf__udp_ms(&e->u, now_ms()), -1);

  /* a cancelled query never times out either (nor retries) */
  a = tok_new(e, "c.cancel.example", T_TXT);
  b = tok_new(e, "d.cancel.example", T_TXT);
  e->cfg.tries = 2;
  tok_send(e, a);
  tok_send(e, b);
  expect_query(e, 1, &d, &qi, T_STEP);
  expect_query(e, 1, &d, &qi, T_STEP);
  mdspf__udp_cancel(&e->u, &b->q);
  assert_int_equal(mdspf__udp_count(&e->u), 1);
  expect_query(e, 1, &d, &qi, T_STEP); /* a's second try, not b's */
  assert_int_equal(qi.id, a->q.id);
  run_until_done(e, a, T_STEP);
  assert_done_with(a, ARES_ETIMEOUT, NULL, 0);
  assert_true(srv_quiet(e, 1, T(120)));
  assert_int_equal(b->ndone, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
}

/* ---- 9. re-entry --------------------------------------------------------- */

/* From inside a done callback that runs in mdspf__udp_read: a new query
 * is started and another one cancelled, whose answer is already waiting
 * in the same socket. */
static void test_reentry_read(void **state) {
  env *e = *state;
  tok *a, *b, *c, *n;
  dgram d, da, db, dc, dn;
  qinfo qi;
  unsigned char ans[512], ansc[512];
  size_t alen, alenc;
  unsigned k;
  int want;
  env_servers(e, 1);
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(5000);
  a = tok_new(e, "a.re.example", T_TXT);
  b = tok_new(e, "b.re.example", T_TXT);
  c = tok_new(e, "c.re.example", T_TXT);
  n = tok_new(e, "n.re.example", T_TXT);
  a->cancel_on_done = b;
  a->send_on_done = n;
  tok_send(e, a);
  tok_send(e, b);
  tok_send(e, c);
  for (k = 0; k < 3; k++) {
    expect_query(e, 1, &d, &qi, T_STEP);
    if (qi.id == a->q.id) {
      da = d;
    } else if (qi.id == b->q.id) {
      db = d;
    } else {
      assert_int_equal(qi.id, c->q.id);
      dc = d;
    }
  }
  /* a's and b's answers wait together; then c's */
  alen = answer_with(e, &da, 0, 1, ans);
  answer_with(e, &db, 0, 1, ansc);
  alenc = answer_with(e, &dc, 0, 2, ansc);
  want = 2;
  (void)drive(e, 0, stop_ndone, &want, T_STEP);
  assert_done_with(a, ARES_SUCCESS, ans, alen);
  assert_int_equal(a->count_at_done, 2); /* b and c */
  assert_done_with(c, ARES_SUCCESS, ansc, alenc);
  assert_int_equal(b->ndone, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 1); /* n */
  expect_query(e, 1, &dn, &qi, T_STEP);
  assert_int_equal(qi.id, n->q.id);
  assert_memory_equal(dn.b + 12, "\1n\2re\7example", 14);
  alen = answer_with(e, &dn, 0, 1, ans);
  run_until_done(e, n, T_STEP);
  assert_done_with(n, ARES_SUCCESS, ans, alen);
  assert_int_equal(b->ndone, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  assert_int_equal(e->ndone_total, 3);
}

/* From inside a done callback that runs in mdspf__udp_timeouts: the next
 * query due in the same call is cancelled, a new one started. */
static void test_reentry_timeouts(void **state) {
  env *e = *state;
  tok *x, *y, *z;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  long due;
  env_servers(e, 1);
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(50);
  x = tok_new(e, "x.re.example", T_TXT);
  y = tok_new(e, "y.re.example", T_TXT);
  z = tok_new(e, "z.re.example", T_TXT);
  x->cancel_on_done = y;
  x->send_on_done = z;
  tok_send(e, x);
  tok_send(e, y);
  expect_query(e, 1, &d, &qi, T_STEP);
  expect_query(e, 1, &d, &qi, T_STEP);
  /* both due in one call of mdspf__udp_timeouts, x first */
  due = y->q.due;
  assert_true(x->q.due <= due);
  while (now_ms() <= due) {
    sleep_ms(1);
  }
  mdspf__udp_timeouts(&e->u, due);
  assert_done_with(x, ARES_ETIMEOUT, NULL, 0);
  assert_int_equal(x->count_at_done, 1); /* y, not yet cancelled */
  assert_int_equal(y->ndone, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 1); /* z */
  assert_int_equal(z->ndone, 0);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(qi.id, z->q.id);
  alen = answer_with(e, &d, 0, 1, ans);
  run_until_done(e, z, T_STEP);
  assert_done_with(z, ARES_SUCCESS, ans, alen);
  assert_true(srv_quiet(e, 1, T(70)));
  assert_int_equal(y->ndone, 0);
  assert_int_equal(mdspf__udp_count(&e->u), 0);
}

/* A query started again from inside its own done callback (its token
 * reused at once), from read and from timeouts; and a callback run
 * inline in send that starts another query. */
static void test_reentry_resend(void **state) {
  env *e = *state;
  tok *r, *o, *n;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  env_servers(e, 1);
  e->cfg.tries = 1;
  e->cfg.timeout_ms = (int)T(50);
  r = tok_new(e, "again.example", T_TXT);
  r->resend_self = 2;
  tok_send(e, r);
  expect_query(e, 1, &d, &qi, T_STEP);
  answer_with(e, &d, 3, 0, ans); /* NXDOMAIN: done, sent again */
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(r->ndone, 1);
  assert_int_equal(r->status, ARES_ENOTFOUND);
  assert_int_equal(qi.id, r->q.id);
  assert_int_equal(mdspf__udp_count(&e->u), 1);
  /* no answer: times out, sent once more */
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(r->ndone, 2);
  assert_int_equal(r->status, ARES_ETIMEOUT);
  alen = answer_with(e, &d, 0, 1, ans);
  drive(e, 0, stop_empty, NULL, T_STEP);
  assert_int_equal(r->ndone, 3);
  assert_int_equal(r->status, ARES_SUCCESS);
  assert_int_equal(r->alen, alen);
  assert_memory_equal(r->abuf, ans, alen);

  /* inline: a .onion query's callback starts a real one */
  o = tok_new(e, "hidden.onion", T_TXT);
  n = tok_new(e, "after-onion.example", T_TXT);
  o->send_on_done = n;
  tok_send(e, o);
  assert_int_equal(o->ndone, 1);
  assert_int_equal(o->status, ARES_ENOTFOUND);
  assert_int_equal(mdspf__udp_count(&e->u), 1);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(qi.id, n->q.id);
  alen = answer_with(e, &d, 0, 1, ans);
  run_until_done(e, n, T_STEP);
  assert_done_with(n, ARES_SUCCESS, ans, alen);
}

/* ---- 10. .onion ---------------------------------------------------------- */

static void test_onion(void **state) {
  env *e = *state;
  static const char *const onion[] = {
      "onion",   "ONION",     "onion.",     "Onion.",
      "x.onion", "a.b.OnIoN", "foo.onion.", "3g2upl4pq6kufc4m.onion",
  };
  static const char *const sent[] = {
      "xonion", "onion.example", "onionx", "x.onionx", "onio", "x-onion.",
  };
  unsigned i;
  env_servers(e, 1);
  e->cfg.edns_size = 0;
  for (i = 0; i < sizeof onion / sizeof onion[0]; i++) {
    tok *t = tok_new(e, onion[i], T_TXT);
    tok_send(e, t);
    assert_done_with(t, ARES_ENOTFOUND, NULL, 0);
    assert_int_equal(mdspf__udp_count(&e->u), 0);
  }
  assert_true(srv_quiet(e, 1, T(20)));
  for (i = 0; i < sizeof sent / sizeof sent[0]; i++) {
    tok *t = tok_new(e, sent[i], T_TXT);
    dgram d;
    qinfo qi;
    unsigned char wn[64], ans[512];
    size_t wl, alen;
    tok_send(e, t);
    assert_int_equal(t->ndone, 0);
    expect_query(e, 1, &d, &qi, T_STEP);
    wl = wire_name(sent[i], wn);
    assert_int_equal(qi.qname_len, wl);
    assert_memory_equal(d.b + 12, wn, wl);
    alen = answer_with(e, &d, 3, 0, ans);
    run_until_done(e, t, T_STEP);
    assert_done_with(t, ARES_ENOTFOUND, ans, alen);
  }
}

/* ---- 11. rotation -------------------------------------------------------- */

#define NROT 64

static void test_rotate(void **state) {
  env *e = *state;
  unsigned per[2] = {0, 0}, k;
  int pass;
  env_servers(e, 2);
  e->cfg.tries = 1;
  e->cfg.edns_size = 0;
  e->cfg.timeout_ms = (int)T(5000);
  for (pass = 0; pass < 2; pass++) {
    e->cfg.no_rotate = pass; /* 0: rotate, 1: always server 0 */
    per[0] = per[1] = 0;
    for (k = 0; k < NROT; k++) {
      tok *t = tok_new(e, "rot.example", T_A);
      dgram d;
      qinfo qi;
      tok_send(e, t);
      expect_query(e, 3, &d, &qi, T_STEP);
      assert_int_equal(qi.id, t->q.id);
      per[d.srv]++;
      mdspf__udp_cancel(&e->u, &t->q);
    }
    print_message("no_rotate %d: %u first tries to server 0, %u to 1\n", pass,
                  per[0], per[1]);
    if (pass == 0) {
      /* a random start: all on one server has odds of 2^-63 */
      assert_true(per[0] > 0);
      assert_true(per[1] > 0);
    } else {
      assert_int_equal(per[0], NROT);
      assert_int_equal(per[1], 0);
    }
    assert_int_equal(mdspf__udp_count(&e->u), 0);
  }
  assert_true(srv_quiet(e, 3, T(10)));
}

/* ---- 12. the sockets, and closing ---------------------------------------- */

static void test_sockets_and_close(void **state) {
  env *e = *state;
  tok *t;
  dgram d0, d1;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  int fds[2], closed_before, def_rcv = 0;
  unsigned i, j;
  env_servers(e, 3);
  e->cfg.no_rotate = 1;
  e->cfg.tries = 1;
  {
    /* SO_RCVBUF asked for: something other than the default */
    socklen_t rl = sizeof def_rcv;
    assert_int_equal(
        getsockopt(e->srv[2], SOL_SOCKET, SO_RCVBUF, &def_rcv, &rl), 0);
    e->cfg.rcvbuf = def_rcv > 40000 ? 12000 : 2 * def_rcv;
  }
  assert_false(mdspf__udp_owns(&e->u, -1));
  assert_int_equal(mdspf__udp_ms(&e->u, now_ms()), -1);

  /* server 0 fails, server 1 answers: two sockets, server 2 untouched */
  t = tok_new(e, "sock.example", T_A);
  tok_send(e, t);
  assert_int_equal(e->opened, 1);
  {
    long ms = mdspf__udp_ms(&e->u, now_ms());
    assert_true(ms > 0 && ms <= (long)e->cfg.timeout_ms);
    assert_int_equal(mdspf__udp_ms(&e->u, now_ms() + e->cfg.timeout_ms + 1), 0);
  }
  expect_query(e, 7, &d0, &qi, T_STEP);
  assert_int_equal(d0.srv, 0);
  answer_with(e, &d0, 2, 0, ans);
  expect_query(e, 7, &d1, &qi, T_STEP);
  assert_int_equal(d1.srv, 1);
  alen = answer_with(e, &d1, 0, 1, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
  assert_int_equal(e->opened, 2);
  assert_int_equal(e->ntfd, 2);

  for (i = 0; i < 2; i++) {
    struct sockaddr_in peer, self;
    socklen_t pl = sizeof peer, sl = sizeof self;
    int fl, fd = e->tfd[i], rcv = 0;
    socklen_t rl = sizeof rcv;
    fds[i] = fd;
    assert_true(mdspf__udp_owns(&e->u, fd));
    /* connected to one of the servers asked */
    assert_int_equal(getpeername(fd, (struct sockaddr *)&peer, &pl), 0);
    assert_true(peer.sin_port == e->cfg.srv[0].addr.in4.sin_port ||
                peer.sin_port == e->cfg.srv[1].addr.in4.sin_port);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&self, &sl), 0);
    assert_int_equal(self.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    fl = fcntl(fd, F_GETFL, 0);
    assert_true(fl >= 0 && (fl & O_NONBLOCK));
    fl = fcntl(fd, F_GETFD, 0);
    assert_true(fl >= 0 && (fl & FD_CLOEXEC));
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &rl), 0);
    assert_true(rcv >= e->cfg.rcvbuf);
    assert_true(rcv != def_rcv);
  }
  assert_true(fds[0] != fds[1]);
  for (i = 0; i < e->nsrv; i++) {
    assert_false(mdspf__udp_owns(&e->u, e->srv[i]));
  }

  /* a second query to server 0 reuses its socket */
  t = tok_new(e, "sock2.example", T_A);
  tok_send(e, t);
  expect_query(e, 7, &d0, &qi, T_STEP);
  alen = answer_with(e, &d0, 0, 1, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
  assert_int_equal(e->opened, 2);

  /* closing reports every socket, then closes it */
  closed_before = e->closed;
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  mdspf__udp_close(&e->u);
  assert_int_equal(e->closed - closed_before, 2);
  assert_int_equal(e->ntfd, 0);
  assert_int_equal(e->nclosed_fd, 2);
  for (i = 0; i < 2; i++) {
    int found = 0;
    for (j = 0; j < 2; j++) {
      found |= e->closed_fd[j] == fds[i];
    }
    assert_true(found);
    errno = 0;
    assert_int_equal(fcntl(fds[i], F_GETFD, 0), -1);
    assert_int_equal(errno, EBADF);
    assert_false(mdspf__udp_owns(&e->u, fds[i]));
  }
  /* closing again reports nothing */
  mdspf__udp_close(&e->u);
  assert_int_equal(e->closed - closed_before, 2);
}

/* Cancelled queries leave nothing behind: close after cancelling. */
static void test_close_after_cancel(void **state) {
  env *e = *state;
  tok *t[8];
  dgram d;
  qinfo qi;
  unsigned k;
  env_servers(e, 2);
  e->cfg.no_rotate = 0;
  e->cfg.tries = 1;
  for (k = 0; k < 8; k++) {
    t[k] = tok_new(e, "cc.example", T_A);
    tok_send(e, t[k]);
    expect_query(e, 3, &d, &qi, T_STEP);
  }
  for (k = 0; k < 8; k++) {
    mdspf__udp_cancel(&e->u, &t[k]->q);
  }
  assert_int_equal(mdspf__udp_count(&e->u), 0);
  assert_int_equal(mdspf__udp_ms(&e->u, now_ms()), -1);
  assert_true(e->opened >= 1);
  mdspf__udp_close(&e->u);
  assert_int_equal(e->closed, e->opened);
  assert_int_equal(e->ntfd, 0);
  for (k = 0; k < 8; k++) {
    assert_int_equal(t[k]->ndone, 0);
  }
}

/* ---- IPv6 ---------------------------------------------------------------- */

static void test_ipv6(void **state) {
  env *e = *state;
  tok *t;
  dgram d;
  qinfo qi;
  unsigned char ans[512];
  size_t alen;
  struct sockaddr_in6 peer;
  socklen_t pl = sizeof peer;
  e->srv[0] = loopback_socket(AF_INET6, &e->cfg.srv[0]);
  if (e->srv[0] < 0) {
    print_message("no ::1 here: IPv6 not tested\n");
    skip();
  }
  e->nsrv = 1;
  e->cfg.nsrv = 1;
  t = tok_new(e, "v6.example", 28);
  tok_send(e, t);
  expect_query(e, 1, &d, &qi, T_STEP);
  assert_int_equal(qi.id, t->q.id);
  assert_int_equal(d.from.ss_family, AF_INET6);
  assert_int_equal(getpeername(e->tfd[0], (struct sockaddr *)&peer, &pl), 0);
  assert_int_equal(peer.sin6_port, e->cfg.srv[0].addr.in6.sin6_port);
  alen = answer_with(e, &d, 0, 1, ans);
  run_until_done(e, t, T_STEP);
  assert_done_with(t, ARES_SUCCESS, ans, alen);
}

/* ---- main ---------------------------------------------------------------- */

#define UT(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_name),
      UT(test_qtype_exact),
      UT(test_socket_rotation),
      UT(test_read_burst),
      UT(test_cancel_from_sock),
      UT(test_bad_name_inline),
      UT(test_query_format),
      UT(test_rcodes),
      UT(test_ids),
      UT(test_ids_unique_on_repeat),
      UT(test_ignored_answers),
      UT(test_ignored_then_timeout),
      UT(test_case_insensitive),
      UT(test_other_socket),
      UT(test_server_not_asked),
      UT(test_retry_one_server),
      UT(test_retry_two_servers),
      UT(test_failover_answered),
      UT(test_failover_all_fail),
      UT(test_one_server_servfail_retried),
      UT(test_edns_fallback),
      UT(test_closed_port),
      UT(test_closed_port_failover),
      UT(test_unsendable_server),
      UT(test_cancel),
      UT(test_reentry_read),
      UT(test_reentry_timeouts),
      UT(test_reentry_resend),
      UT(test_onion),
      UT(test_rotate),
      UT(test_sockets_and_close),
      UT(test_close_after_cancel),
      UT(test_ipv6),
  };
  const char *scale = getenv("MDSPF_TEST_TIME_SCALE");
  if (scale && atoi(scale) > 1 && atoi(scale) <= 50) {
    g_scale = atoi(scale);
  }
  return cmocka_run_group_tests_name("udp", tests, NULL, NULL);
}

/*
 * lib/resolvers/cares/udp.c -- the backend's own DNS-over-UDP transport;
 * what it does and promises is in udp.h.
 *
 * Why it exists.  A c-ares 1.18 channel costs ~75 KiB of tables whatever
 * it holds, a query in it ~340 octets more, and every UDP query of a
 * channel shares one socket whose receive buffer bounds a channel to ~128
 * queries in flight: hundreds of checks in flight took a channel per 128
 * queries.  Here a query costs the fields of mdspf__udpq inside the token
 * the backend has anyway, and a channel a socket per server and a small
 * table.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* getentropy */
#endif

#include "udp.h"

/* ares.h uses fd_set and struct timeval without including their headers
 * under a strict POSIX feature set */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <sys/random.h> /* getentropy */
#endif

#if defined(MSG_NOSIGNAL)
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif

#define HDR 12
#define T_OPT 41
#define C_IN 1

/* DNS RCODEs */
enum {
  RC_NOERROR = 0,
  RC_FORMERR = 1,
  RC_SERVFAIL = 2,
  RC_NXDOMAIN = 3,
  RC_NOTIMP = 4,
  RC_REFUSED = 5
};

/* Datagrams read from one socket per call at most (twice a channel's
 * worth of answers): the rest wait for the next readiness report, so a
 * socket flooded with junk does not starve the others (and the timers)
 * of a host's loop.  Hosts watch level-triggered (see cares.h). */
#define READ_BURST 256

/* ---- randomness ------------------------------------------------------- */

/* Fill cfg->rnd from the system's entropy source.  getentropy is in
 * glibc, musl, macOS and the BSDs; /dev/urandom stands in where it fails.
 * Should both fail, the IDs come from the clock and a counter -- a weak
 * source, but DNS still works. */
static void rnd_refill(mdspf__udp_cfg *cfg) {
  size_t i;
  if (getentropy(cfg->rnd, sizeof cfg->rnd) != 0) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = -1;
    if (fd >= 0) {
      n = read(fd, cfg->rnd, sizeof cfg->rnd);
      close(fd);
    }
    if (n != (ssize_t)sizeof cfg->rnd) {
      struct timespec ts;
      uint32_t x;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      x = (uint32_t)ts.tv_nsec ^ ((uint32_t)ts.tv_sec << 7) ^
          (uint32_t)(uintptr_t)cfg;
      for (i = 0; i < sizeof cfg->rnd; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        cfg->rnd[i] = (unsigned char)(x >> 11);
      }
    }
  }
  cfg->rnd_left = sizeof cfg->rnd;
}

static uint16_t rnd16(mdspf__udp_cfg *cfg) {
  uint16_t v;
  if (cfg->rnd_left < 2) {
    rnd_refill(cfg);
  }
  cfg->rnd_left -= 2;
  v = (uint16_t)(cfg->rnd[cfg->rnd_left] << 8 | cfg->rnd[cfg->rnd_left + 1]);
  memset(cfg->rnd + cfg->rnd_left, 0, 2); /* an ID used is not kept */
  return v;
}

/* ---- bookkeeping -------------------------------------------------------- */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

#define Q_OF(k) MDSPF__CONTAINER(k, mdspf__udpq, due_link)

static mdspf__udpq *id_find(const mdspf__udp *u, uint16_t id) {
  mdspf__udpq *q = u->ids[id % MDSPF__UDP_ID_BUCKETS];
  while (q && q->id != id) {
    q = q->id_next;
  }
  return q;
}

static void id_remove(mdspf__udp *u, mdspf__udpq *q) {
  mdspf__udpq **pp = &u->ids[q->id % MDSPF__UDP_ID_BUCKETS];
  while (*pp && *pp != q) {
    pp = &(*pp)->id_next;
  }
  if (*pp) {
    *pp = q->id_next;
  }
  q->id_next = NULL;
}

/* Put q on the deadline list in order (from the back: a new deadline is
 * usually the latest). */
static void due_insert(mdspf__udp *u, mdspf__udpq *q) {
  mdspf__link *k = u->due.tail;
  while (k && Q_OF(k)->due > q->due) {
    k = k->prev;
  }
  if (!k) {
    mdspf__list_push_front(&u->due, &q->due_link);
  } else {
    mdspf__list_insert_after(&u->due, k, &q->due_link);
  }
}

static int on_due(const mdspf__udp *u, const mdspf__udpq *q) {
  return mdspf__list_linked(&u->due, &q->due_link);
}

static void unlink_q(mdspf__udp *u, mdspf__udpq *q) {
  if (!q->linked) {
    return;
  }
  if (on_due(u, q)) {
    mdspf__list_remove(&u->due, &q->due_link);
  }
  id_remove(u, q);
  q->linked = 0;
  u->n--;
}

/* q is over: out of the transport, then the callback (which may run
 * anything the header allows). */
static void finish(mdspf__udp *u, mdspf__udpq *q, int status,
                   const unsigned char *abuf, int alen) {
  unlink_q(u, q);
  u->ops->done(q, status, abuf, alen, u->ud);
}

/* ---- the wire ------------------------------------------------------------ */

int mdspf__udp_encode_name(const char *name, unsigned char *out,
                           size_t outsz) {
  size_t n = strlen(name), i = 0, o = 0;
  if (n > 0 && name[n - 1] == '.') {
    n--; /* absolute form */
  }
  if (n == 0) {
    if (outsz < 1) {
      return -1;
    }
    out[0] = 0; /* the root */
    return 1;
  }
  while (i <= n) {
    size_t start = i, len;
    while (i < n && name[i] != '.') {
      i++;
    }
    len = i - start;
    if (len == 0 || len > 63 || o + 1 + len + 1 > outsz || o + 1 + len > 254) {
      return -1;
    }
    out[o++] = (unsigned char)len;
    memcpy(out + o, name + start, len);
    o += len;
    i++; /* past the dot (or the end) */
  }
  out[o++] = 0;
  return (int)o;
}

static unsigned char lc(unsigned char ch) {
  return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
}

/* The query of q into buf; its length, or -1 for a name that cannot be
 * asked.  Header: q's ID, RD, one question, and an OPT record when EDNS
 * is used. */
static int build(const mdspf__udp *u, mdspf__udpq *q, unsigned char *buf,
                 size_t bufsz) {
  char nbuf[512];
  const char *name = u->ops->name(q, nbuf, sizeof nbuf, u->ud);
  int edns = u->cfg->edns_size > 0 && !q->noedns, nl;
  size_t o;
  if (!name || bufsz < HDR) {
    return -1;
  }
  memset(buf, 0, HDR);
  buf[0] = (unsigned char)(q->id >> 8);
  buf[1] = (unsigned char)q->id;
  buf[2] = 0x01; /* RD */
  buf[5] = 1;    /* QDCOUNT */
  buf[11] = edns ? 1 : 0;
  nl = mdspf__udp_encode_name(name, buf + HDR, bufsz - HDR - 4 - 11);
  if (nl < 0) {
    return -1;
  }
  o = HDR + (size_t)nl;
  buf[o++] = (unsigned char)(q->rrtype >> 8);
  buf[o++] = (unsigned char)q->rrtype;
  buf[o++] = 0;
  buf[o++] = C_IN;
  if (edns) {
    buf[o++] = 0; /* root owner */
    buf[o++] = 0;
    buf[o++] = T_OPT;
    buf[o++] = (unsigned char)(u->cfg->edns_size >> 8);
    buf[o++] = (unsigned char)u->cfg->edns_size;
    memset(buf + o, 0, 6); /* extended RCODE, version, flags, RDLENGTH */
    o += 6;
  }
  return (int)o;
}

/* 1 when answer a (alen octets) has q's single question. */
static int same_question(const mdspf__udp *u, mdspf__udpq *q,
                         const unsigned char *a, size_t alen) {
  unsigned char want[HDR + 256 + 4 + 11];
  int wl = build(u, q, want, sizeof want);
  size_t i, wend;
  if (wl < 0 || alen < HDR || a[4] != 0 || a[5] != 1) {
    return 0;
  }
  /* the question of want ends after its name and 4 octets */
  wend = HDR;
  while (want[wend] != 0) {
    wend += (size_t)want[wend] + 1;
  }
  wend += 1 + 4;
  if (alen < wend) {
    return 0;
  }
  for (i = HDR; i < wend - 4; i++) {
    if (lc(a[i]) != lc(want[i])) {
      return 0; /* label lengths too: a pointer (0xC0..) never matches */
    }
  }
  return memcmp(a + wend - 4, want + wend - 4, 4) == 0; /* type, class */
}

/* ---- sockets ---------------------------------------------------------------- */

static int sock_open(mdspf__udp *u, unsigned i) {
  const mdspf__udp_server *s = &u->cfg->srv[i];
  int fd, fl;
  fd = socket(s->addr.sa.sa_family, SOCK_DGRAM, 0);
  if (fd < 0) {
    return -1;
  }
  fl = fcntl(fd, F_GETFL, 0);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    close(fd);
    return -1;
  }
  if (u->cfg->rcvbuf > 0) {
    int rcv = u->cfg->rcvbuf;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  }
  /* connected: the kernel drops datagrams from anyone else, and reports
   * an unreachable port as an error on the socket */
  if (connect(fd, &s->addr.sa, s->len) != 0) {
    close(fd);
    return -1;
  }
  u->fd[i] = fd;
  /* announced by attempt() once it is done with its query: the host's
   * hook may cancel that very query */
  u->unannounced |= (uint32_t)1 << i;
  return 0;
}

/* Tell the caller about sockets opened since; each is announced once,
 * even when a callback opens more meanwhile. */
static void announce(mdspf__udp *u) {
  while (u->unannounced) {
    unsigned i = 0;
    while (!(u->unannounced & ((uint32_t)1 << i))) {
      i++;
    }
    u->unannounced &= ~((uint32_t)1 << i);
    if (u->fd[i] >= 0) {
      u->ops->sock(u->fd[i], 1, u->ud);
    }
  }
}

/* ---- tries ------------------------------------------------------------------ */

/* Close the socket in *slot: no longer u's when the callback hears of
 * it. */
static void sock_close(mdspf__udp *u, int *slot) {
  int fd = *slot;
  *slot = -1;
  u->ops->sock(fd, 0, u->ud);
  close(fd);
}

/* Close the retiring sockets whose time has come (see mdspf__udp); now
 * is read only when there is one (0: read it here). */
static void reap_old(mdspf__udp *u, long now) {
  unsigned i;
  for (i = 0; i < u->cfg->nsrv; i++) {
    if (u->old_fd[i] >= 0) {
      if (now == 0) {
        now = now_ms();
      }
      if (now >= u->old_until[i]) {
        sock_close(u, &u->old_fd[i]);
      }
    }
  }
}

/* Server i's socket has carried its share: it retires (unless another
 * still does), so the next send opens a new one with a new port.  It is
 * read until every query in flight now has passed its deadline. */
static void maybe_retire(mdspf__udp *u, unsigned i) {
  if (u->cfg->max_per_socket == 0 || u->fd[i] < 0 ||
      u->nsent[i] < u->cfg->max_per_socket || u->old_fd[i] >= 0) {
    return;
  }
  u->old_fd[i] = u->fd[i];
  /* the latest deadline of any query (the one being sent is off the
   * list, and goes out on the new socket) */
  u->old_until[i] = u->due.tail ? Q_OF(u->due.tail)->due : now_ms();
  u->fd[i] = -1;
  u->nsent[i] = 0;
}

/* Send q's current try; 0 when it is out, -1 when this server cannot be
 * asked (no socket, a send error). */
static int send_try(mdspf__udp *u, mdspf__udpq *q, const unsigned char *buf,
                    size_t len) {
  unsigned i = q->srv;
  long tmo = u->cfg->timeout_ms;
  unsigned shift = q->tries / u->cfg->nsrv;
  int k;
  maybe_retire(u, i);
  if (u->fd[i] < 0 && sock_open(u, i) != 0) {
    return -1;
  }
  for (k = 0;; k++) {
    ssize_t n = send(u->fd[i], buf, len, SEND_FLAGS);
    if (n == (ssize_t)len) {
      break;
    }
    /* EINTR, or an ICMP error left by an earlier datagram to this server
     * (reported once, then cleared): worth one more go, not a try */
    if (n >= 0 || k > 0 || (errno != EINTR && errno != ECONNREFUSED)) {
      return -1;
    }
  }
  q->asked |= (uint32_t)1 << i;
  u->nsent[i]++;
  /* c-ares doubles the timeout for every full round over the servers */
  while (shift-- > 0 && tmo < LONG_MAX / 4) {
    tmo *= 2;
  }
  q->due = now_ms() + tmo;
  q->failed = 0;
  due_insert(u, q);
  return 0;
}

/* Ask q of its current server, or -- advance -- of the next one it may
 * still ask; end it with its status when its tries are used up.  q is
 * off the deadline list (but in the ID table) on entry. */
static void attempt(mdspf__udp *u, mdspf__udpq *q, int advance) {
  unsigned n = u->cfg->nsrv;
  unsigned max = n * (unsigned)u->cfg->tries;
  unsigned char buf[HDR + 256 + 4 + 11];
  int len = build(u, q, buf, sizeof buf);
  if (len < 0) {
    finish(u, q, ARES_EBADNAME, NULL, 0);
    announce(u);
    return;
  }
  /* q is never touched after finish() or announce(): their callbacks
   * may cancel it, and its owner free it */
  for (;;) {
    if (advance) {
      do {
        if ((unsigned)q->tries + 1 >= max) {
          finish(u, q, q->status, NULL, 0);
          announce(u);
          return;
        }
        q->tries++;
        q->srv = (uint8_t)((q->srv + 1) % n);
      } while (q->skip & ((uint32_t)1 << q->srv));
    }
    if (send_try(u, q, buf, (size_t)len) == 0) {
      announce(u);
      return;
    }
    if (n > 1) {
      q->skip |= (uint32_t)1 << q->srv;
    }
    advance = 1;
  }
}

/* ---- entry points ------------------------------------------------------------ */

void mdspf__udp_init(mdspf__udp *u, mdspf__udp_cfg *cfg,
                     const mdspf__udp_ops *ops, void *ud) {
  size_t i;
  memset(u, 0, sizeof *u);
  u->cfg = cfg;
  u->ops = ops;
  u->ud = ud;
  for (i = 0; i < MDSPF__UDP_MAX_SERVERS; i++) {
    u->fd[i] = -1;
    u->old_fd[i] = -1;
  }
}

/* 1 for a name under .onion (RFC 7686), which is never asked of DNS */
static int is_onion(const char *name) {
  static const char suf[] = "onion";
  size_t n = strlen(name), i;
  if (n > 0 && name[n - 1] == '.') {
    n--;
  }
  if (n < 5 || (n > 5 && name[n - 6] != '.')) {
    return 0;
  }
  for (i = 0; i < 5; i++) {
    if (lc((unsigned char)name[n - 5 + i]) != (unsigned char)suf[i]) {
      return 0;
    }
  }
  return 1;
}

void mdspf__udp_send(mdspf__udp *u, mdspf__udpq *q) {
  char nbuf[512];
  const char *name = u->ops->name(q, nbuf, sizeof nbuf, u->ud);
  uint16_t id;
  int k;
  q->linked = 0;
  reap_old(u, 0);
  if (name && is_onion(name)) {
    /* NXDOMAIN at once, as c-ares 1.18 answers them */
    u->ops->done(q, ARES_ENOTFOUND, NULL, 0, u->ud);
    return;
  }
  q->status = ARES_ECONNREFUSED; /* c-ares' "no server answered" */
  q->tries = 0;
  q->asked = q->skip = 0;
  q->noedns = 0;
  q->srv = (uint8_t)(u->cfg->no_rotate || u->cfg->nsrv < 2
                         ? 0u
                         : rnd16(u->cfg) % u->cfg->nsrv);
  /* a random ID no other query here has (a handful of draws at most: a
   * transport holds a few hundred of 65,536) */
  id = rnd16(u->cfg);
  for (k = 0; k < 64 && id_find(u, id); k++) {
    id = rnd16(u->cfg);
  }
  while (id_find(u, id)) {
    id++;
  }
  q->id = id;
  q->id_next = u->ids[id % MDSPF__UDP_ID_BUCKETS];
  u->ids[id % MDSPF__UDP_ID_BUCKETS] = q;
  q->due = 0;
  q->due_link.prev = q->due_link.next = NULL; /* off the deadline list */
  q->linked = 1;
  u->n++;
  attempt(u, q, 0);
}

void mdspf__udp_cancel(mdspf__udp *u, mdspf__udpq *q) { unlink_q(u, q); }

int mdspf__udp_owns(const mdspf__udp *u, int fd) {
  unsigned i;
  for (i = 0; i < u->cfg->nsrv; i++) {
    if ((u->fd[i] == fd || u->old_fd[i] == fd) && fd >= 0) {
      return 1;
    }
  }
  return 0;
}

size_t mdspf__udp_count(const mdspf__udp *u) { return u->n; }

long mdspf__udp_ms(const mdspf__udp *u, long now) {
  long d;
  if (!u->due.head) {
    return -1;
  }
  d = Q_OF(u->due.head)->due - now;
  return d < 0 ? 0 : d;
}

void mdspf__udp_timeouts(mdspf__udp *u, long now) {
  reap_old(u, now);
  /* the head is read again after every step: a callback may have
   * cancelled or added queries */
  while (u->due.head && Q_OF(u->due.head)->due <= now) {
    mdspf__udpq *q = Q_OF(u->due.head);
    mdspf__list_remove(&u->due, &q->due_link);
    if (!q->failed) {
      q->status = ARES_ETIMEOUT;
    }
    attempt(u, q, 1);
  }
}

/* Server i's socket reported an error (an ICMP unreachable, typically):
 * every query whose current try is there moves on now, as c-ares does. */
static void server_failed(mdspf__udp *u, unsigned i) {
  mdspf__link *k, *next;
  long now = now_ms();
  for (k = u->due.head; k; k = next) {
    mdspf__udpq *q = Q_OF(k);
    next = k->next;
    if (q->srv == i) {
      mdspf__list_remove(&u->due, k);
      q->due = now - 1;
      q->failed = 1;
      if (u->cfg->nsrv > 1) {
        q->skip |= (uint32_t)1 << i;
      }
      mdspf__list_push_front(&u->due, k);
    }
  }
  mdspf__udp_timeouts(u, now);
}

/* One datagram from server i. */
static void answer(mdspf__udp *u, unsigned i, const unsigned char *a,
                   size_t alen) {
  mdspf__udpq *q;
  int rcode, st;
  if (alen < HDR || (a[2] & 0x80) == 0 || (a[2] & 0x78) != 0) {
    return; /* not a response to a standard query */
  }
  q = id_find(u, (uint16_t)(a[0] << 8 | a[1]));
  if (!q || !(q->asked & ((uint32_t)1 << i)) || !same_question(u, q, a, alen)) {
    return; /* late, forged or misdirected: ignored, as c-ares does */
  }
  rcode = a[3] & 0x0f;
  if (rcode == RC_FORMERR && !q->noedns && u->cfg->edns_size > 0) {
    if (q->srv != i) {
      return; /* late, to an earlier try: the current one stands */
    }
    /* a server that does not understand EDNS: the same question without
     * it, of the same server, in the same try */
    mdspf__list_remove(&u->due, &q->due_link);
    q->noedns = 1;
    attempt(u, q, 0);
    return;
  }
  if (rcode == RC_SERVFAIL || rcode == RC_NOTIMP || rcode == RC_REFUSED) {
    q->status = rcode == RC_SERVFAIL ? ARES_ESERVFAIL
                : rcode == RC_NOTIMP ? ARES_ENOTIMP
                                     : ARES_EREFUSED;
    if (u->cfg->nsrv > 1) {
      q->skip |= (uint32_t)1 << i;
    }
    if (q->srv == i) {
      mdspf__list_remove(&u->due, &q->due_link);
      attempt(u, q, 1);
    }
    return;
  }
  /* as ares_query reports it */
  switch (rcode) {
  case RC_NOERROR:
    st = (a[6] | a[7]) != 0 ? ARES_SUCCESS : ARES_ENODATA;
    break;
  case RC_FORMERR:
    st = ARES_EFORMERR;
    break;
  case RC_NXDOMAIN:
    st = ARES_ENOTFOUND;
    break;
  default:
    st = ARES_SUCCESS; /* the RCODE tells */
    break;
  }
  finish(u, q, st, a, (int)alen);
}

void mdspf__udp_read(mdspf__udp *u, int fd) {
  unsigned char buf[MDSPF__UDP_MAX_MSG + 1];
  unsigned i;
  int k;
  for (i = 0; i < u->cfg->nsrv && u->fd[i] != fd && u->old_fd[i] != fd;
       i++) {
  }
  if (i == u->cfg->nsrv || fd < 0) {
    return;
  }
  for (k = 0; k < READ_BURST; k++) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        server_failed(u, i);
      }
      return;
    }
    answer(u, i, buf, (size_t)n);
    if (u->fd[i] != fd && u->old_fd[i] != fd) {
      return; /* closed, or retired and closed, meanwhile */
    }
  }
}

void mdspf__udp_close(mdspf__udp *u) {
  unsigned i;
  for (i = 0; i < MDSPF__UDP_MAX_SERVERS; i++) {
    if (u->fd[i] >= 0) {
      sock_close(u, &u->fd[i]);
    }
    if (u->old_fd[i] >= 0) {
      sock_close(u, &u->old_fd[i]);
    }
  }
}

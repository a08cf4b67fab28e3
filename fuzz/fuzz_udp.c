/*
 * fuzz/fuzz_udp.c -- the c-ares backend's own DNS-over-UDP transport
 * (lib/resolvers/cares/udp.c) against hostile servers.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The harness plays the DNS servers itself: three UDP sockets on
 * 127.0.0.1, port 0, opened once at the first input and reused (their
 * queues drained at the start of every input).  Each input builds a fresh
 * transport over 1-3 of them, starts a few queries, then runs a script
 * of "server actions": a server takes the query it got and answers it
 * with bytes of the input, patched (or not) to carry the query's ID,
 * flags and question so that the deeper paths are reached (EDNS FORMERR
 * retry, SERVFAIL/NOTIMP/REFUSED failover, acceptance), or time moves on
 * (mdspf__udp_timeouts with a fake "now": retries and final time-outs).
 * No sleeps, no blocking: every socket is non-blocking, poll waits 0 ms.
 *
 * Input layout:
 *   byte 0  bits 0-1 servers (1 + v % 3); bits 2-3 tries (1 + v % 3;
 *           v == 3 also retires a socket after 2 sends: rotation);
 *           bit 4 EDNS (payload 1232) or none; bit 5 no_rotate; bits 6-7
 *           the last server: 0 a live one; 1 a live one, and the sock
 *           callback starts the next unstarted query when a socket opens
 *           (as the header allows); 2 a dead port (ICMP port
 *           unreachable: the socket error path); 3 unconnectable (its
 *           address length is 0: connect fails, the no-socket path)
 *   byte 1  bits 0-1 queries started at once (1 + v); bits 2-3 more
 *           defined for later (started by an action or a callback);
 *           bit 4 timeout 1000 ms, else 3000; bit 5 small SO_RCVBUF;
 *           bits 6-7 IDs: 0-2 from a generator seeded by byte 2, 3 from
 *           a set of four (collisions, shared hash buckets)
 *   byte 2  seed of the transport's "random" octets (cfg->rnd), so that
 *           server rotation and IDs are a function of the input
 *   then per query (all defined queries):
 *     type byte   A AAAA MX TXT PTR NS CNAME, or the byte itself
 *     flags byte  bit 0 the name callback gives NULL; bit 1 cancel right
 *                 after the start; bits 2-3 in its done callback: 1
 *                 start the next unstarted query, 2 cancel query
 *                 (flags >> 4) % 8, 3 both; bit 7 the done callback
 *                 cancels its own (finished) query too
 *     callout byte  query 0's only: when the (v & 15)-th socket of the
 *                 transport opens (0: never), the sock callback starts
 *                 the next unstarted query and cancels query v >> 4
 *                 (>= 8: none) -- as the header allows from inside the
 *                 sock and done callbacks (the name callback must not
 *                 call into the transport: it is an accessor)
 *     name        octets up to a NUL (at most NAME_CAP kept); may be
 *                 invalid (then ARES_EBADNAME at once) or under .onion
 *                 (ARES_ENOTFOUND at once)
 *   then at most MAX_ACTIONS actions, each an opcode byte (v % 10):
 *     0-3  reply: server byte, flags byte, length byte, that many octets
 *          (the reply; zero-padded to a 12-octet header).  The server
 *          receives its oldest queued query (kept queued with flag bit
 *          3), and the reply is sent to the transport's socket for that
 *          server.  flags: bit 0 ID of the query; bit 1 QR set, opcode
 *          QUERY; bit 2 QDCOUNT 1 and the query's question inserted
 *          after the header (before the rest of the octets); bit 4
 *          case-flip the inserted name; bits 5-7 RCODE: 0 as given, 1-6
 *          NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED, 7 NOTAUTH
 *          (one of the others)
 *     4    drop: server byte; that server's oldest query is discarded
 *     5    time: byte d; mdspf__udp_timeouts at now + d * 100 ms
 *          (d >= 0xf0: far in the future, every deadline passes)
 *     6    cancel: byte k; query k % defined
 *     7    start the next unstarted query
 *     8    big reply: as 0-3 with one more byte p after the octets; the
 *          reply is zero-padded to p * 20 octets (over the 4096 read)
 *     9    reads of sockets the transport does not own (ignored)
 *   after every action the transport's readable sockets are read.  At
 *   the end the queries left are cancelled and the transport closed.
 *
 * Invariants: each query completes at most once, never after it was
 * cancelled, never before it was started; a completion's status is one
 * of the ARES_* codes the transport can give; an answer is given only
 * with a status ares_query would give for its RCODE (never SERVFAIL,
 * NOTIMP or REFUSED; FORMERR to an EDNS try only from a server other
 * than the current one), with the query's ID, QR set, opcode QUERY and
 * its own question (the name case-insensitively, type, class IN), from a
 * server it was sent to, 12..MDSPF__UDP_MAX_MSG+1 octets; no answer with
 * the other statuses; a name the harness deems invalid (or none) ends in
 * ARES_EBADNAME inside mdspf__udp_send, a .onion name in ARES_ENOTFOUND
 * there, a valid one never in ARES_EBADNAME; every query a server
 * receives is well-formed (RD, one question naming a started query with
 * its ID and type, an OPT record of the configured size exactly when
 * EDNS is on for that try); mdspf__udp_count is the number of queries in
 * flight after every step, and mdspf__udp_ms is -1 exactly when there
 * are none; between calls the deadline list holds exactly those queries,
 * in order; the sock callback reports each socket open once and closed
 * once, the transport owns exactly the open ones, every one is closed at
 * mdspf__udp_close (the descriptor is really gone), and the process's
 * number of open descriptors stays flat across inputs.
 *
 * Build switches: -DFUZZ_UDP_TRACE prints what happens (to read one
 * input).
 */
#include "fuzz_common.h"

#include "resolvers/cares/udp.h"

/* ares.h wants fd_set and struct timeval */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define NLIVE 3        /* server sockets of the harness */
#define MAXQ 8         /* queries defined per input */
#define NAME_CAP 400   /* name octets kept */
#define MAX_ACTIONS 64 /* actions per input */
#define MAX_REPLY 5120 /* largest reply sent (p * 20 <= 5100) */
#define QBUF 1024      /* a query is at most 12 + 255 + 4 + 11 octets */
#define EDNS_SIZE 1232
#define FD_CHECK_EVERY 64

/* -DFUZZ_UDP_TRACE: what happens, on stderr (to read a single input) */
#ifdef FUZZ_UDP_TRACE
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) ((void)0)
#endif

enum { S_IDLE, S_FLIGHT, S_DONE, S_CANCELLED };

typedef struct slot {
  mdspf__udpq q;
  char name[NAME_CAP + 1];
  unsigned flags;
  int state;
  int started;
  unsigned callout;
  unsigned name_calls;
  int in_send; /* inside mdspf__udp_send of this query */
  int completions;
  int status;
} slot;

/* The servers: opened once. */
static int g_srv[NLIVE] = {-1, -1, -1};
static struct sockaddr_in g_srv_addr[NLIVE];
static struct sockaddr_in g_dead_addr;
static int g_inited;
static long g_fd_baseline = -1;
static unsigned long g_inputs;

/* One input's state. */
static struct {
  mdspf__udp u;
  mdspf__udp_cfg cfg;
  slot s[MAXQ];
  unsigned ndef;
  unsigned live[MDSPF__UDP_MAX_SERVERS]; /* cfg server i -> g_srv index */
  int is_live[MDSPF__UDP_MAX_SERVERS];
  unsigned inflight;
  int open_fd[256];
  unsigned nopen_fd; /* entries in open_fd (never shrinks) */
  int fd_state[256]; /* 1 open, 0 closed (rotation opens more) */
  int reading; /* cfg server index being read, -1 */
  int closing;
  int start_on_open; /* the sock callback starts a query */
  int callout;       /* inside the name or sock (open) callback */
} H;

static long real_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL, 0);
  FUZZ_CHECK(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
  FUZZ_CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
}

static int udp_bound(struct sockaddr_in *out) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  FUZZ_CHECK(fd >= 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  FUZZ_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  FUZZ_CHECK(getsockname(fd, (struct sockaddr *)out, &len) == 0);
  set_nonblock(fd);
  return fd;
}

/* Open descriptors of the process (-1 when it cannot tell). */
static long count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  long n = 0;
  if (!d) {
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != '.') {
      n++;
    }
  }
  closedir(d);
  return n;
}

/* at exit: the process leaves no socket of its own open (valgrind
 * --track-fds) */
static void close_servers(void) {
  unsigned i;
  for (i = 0; i < NLIVE; i++) {
    if (g_srv[i] >= 0) {
      close(g_srv[i]);
      g_srv[i] = -1;
    }
  }
}

static void init_once(void) {
  unsigned i;
  if (g_inited) {
    return;
  }
  g_inited = 1;
  for (i = 0; i < NLIVE; i++) {
    g_srv[i] = udp_bound(&g_srv_addr[i]);
  }
  FUZZ_CHECK(atexit(close_servers) == 0);
  {
    /* a port nobody listens on: bound once, then closed */
    int fd = udp_bound(&g_dead_addr);
    close(fd);
  }
}

/* ---- name rules, written apart from udp.c's ---------------------------- */

static int name_valid(const char *s) {
  size_t n = strlen(s), i, lab = 0, wire = 1;
  if (n > 0 && s[n - 1] == '.') {
    n--;
  }
  if (n == 0) {
    return 1; /* the root */
  }
  for (i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      if (lab == 0 || lab > 63) {
        return 0;
      }
      wire += lab + 1;
      lab = 0;
    } else {
      lab++;
    }
  }
  return wire <= 255;
}

static unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int name_onion(const char *s) {
  size_t n = strlen(s);
  if (n > 0 && s[n - 1] == '.') {
    n--;
  }
  if (n < 5 || (n > 5 && s[n - 6] != '.')) {
    return 0;
  }
  return lower((unsigned char)s[n - 5]) == 'o' &&
         lower((unsigned char)s[n - 4]) == 'n' &&
         lower((unsigned char)s[n - 3]) == 'i' &&
         lower((unsigned char)s[n - 2]) == 'o' &&
         lower((unsigned char)s[n - 1]) == 'n';
}

/* The question of a valid name: labels, type, class IN; its length. */
static size_t question(const slot *sl, unsigned char *out) {
  const char *s = sl->name;
  size_t n = strlen(s), i = 0, o = 0;
  if (n > 0 && s[n - 1] == '.') {
    n--;
  }
  while (n > 0 && i <= n) {
    size_t start = i;
    while (i < n && s[i] != '.') {
      i++;
    }
    out[o++] = (unsigned char)(i - start);
    memcpy(out + o, s + start, i - start);
    o += i - start;
    i++;
  }
  out[o++] = 0;
  out[o++] = (unsigned char)((unsigned)sl->q.rrtype >> 8);
  out[o++] = (unsigned char)sl->q.rrtype;
  out[o++] = 0;
  out[o++] = 1;
  return o;
}

/* 1 when msg (len octets) has sl's question right after the header. */
static int has_question(const slot *sl, const unsigned char *msg, size_t len) {
  unsigned char want[300];
  size_t wl, i;
  if (!name_valid(sl->name) || len < 12 || msg[4] != 0 || msg[5] != 1) {
    return 0;
  }
  wl = question(sl, want);
  if (len < 12 + wl) {
    return 0;
  }
  for (i = 0; i < wl; i++) {
    if (lower(msg[12 + i]) != lower(want[i])) {
      return 0;
    }
  }
  return 1;
}

/* ---- the transport's callbacks ------------------------------------------ */

/* Between calls: the deadline list holds exactly the queries in flight,
 * earliest first, its links consistent. */
static void check_counts(void) {
  long ms = mdspf__udp_ms(&H.u, real_now_ms());
  const mdspf__link *k, *prev = NULL;
  unsigned n = 0;
  long due = 0;
  FUZZ_CHECK(mdspf__udp_count(&H.u) == H.inflight);
  FUZZ_CHECK((ms == -1) == (H.inflight == 0));
  FUZZ_CHECK(ms >= -1);
  for (k = H.u.due.head; k; k = k->next) {
    const mdspf__udpq *q = MDSPF__CONTAINER(k, mdspf__udpq, due_link);
    const slot *sl = MDSPF__CONTAINER(q, slot, q);
    FUZZ_CHECK(++n <= MAXQ);
    FUZZ_CHECK(sl >= H.s && sl < H.s + H.ndef);
    FUZZ_CHECK(sl->state == S_FLIGHT && q->linked);
    FUZZ_CHECK(k->prev == prev);
    FUZZ_CHECK(n == 1 || q->due >= due);
    due = q->due;
    prev = k;
  }
  FUZZ_CHECK(H.u.due.tail == prev);
  FUZZ_CHECK(n == H.inflight && H.u.due.count == n);
}

static void start(unsigned k);

/* Queries inside their mdspf__udp_send: the transport may not hold
 * them yet (it asks for the name first). */
static unsigned sending(void) {
  unsigned j, n = 0;
  for (j = 0; j < H.ndef; j++) {
    n += H.s[j].in_send && H.s[j].state == S_FLIGHT;
  }
  return n;
}

/* The transport's count as far as the harness can tell inside calls. */
static void check_count_inside(void) {
  size_t n = mdspf__udp_count(&H.u);
  FUZZ_CHECK(n <= H.inflight && n + sending() >= H.inflight);
}

static void cancel(unsigned k) {
  slot *sl = &H.s[k];
  size_t before = mdspf__udp_count(&H.u);
  mdspf__udp_cancel(&H.u, &sl->q);
  if (sl->state == S_FLIGHT) {
    sl->state = S_CANCELLED;
    H.inflight--;
    /* (one still in its send may not be in the transport yet) */
    FUZZ_CHECK(mdspf__udp_count(&H.u) == before - 1 ||
               (sl->in_send && mdspf__udp_count(&H.u) == before));
  } else {
    /* not in the transport: nothing changes */
    FUZZ_CHECK(mdspf__udp_count(&H.u) == before);
  }
}

static const char *cb_name(mdspf__udpq *q, char *buf, size_t bufsz, void *ud) {
  slot *sl = MDSPF__CONTAINER(q, slot, q);
  size_t n = strlen(sl->name);
  FUZZ_CHECK(ud == &H);
  FUZZ_CHECK(sl >= H.s && sl < H.s + MAXQ && sl->started);
  sl->name_calls++;
  if ((sl->flags & 1) || n >= bufsz) {
    return NULL;
  }
  memcpy(buf, sl->name, n + 1);
  return buf;
}

static int valid_status(int st) {
  switch (st) {
  case ARES_SUCCESS:
  case ARES_ENODATA:
  case ARES_EFORMERR:
  case ARES_ESERVFAIL:
  case ARES_ENOTFOUND:
  case ARES_ENOTIMP:
  case ARES_EREFUSED:
  case ARES_EBADNAME:
  case ARES_ETIMEOUT:
  case ARES_ECONNREFUSED:
    return 1;
  default:
    return 0;
  }
}

static void cb_done(mdspf__udpq *q, int status, const unsigned char *abuf,
                    int alen, void *ud) {
  slot *sl = MDSPF__CONTAINER(q, slot, q);
  unsigned k;
  int bad;
  FUZZ_CHECK(ud == &H);
  FUZZ_CHECK(!H.closing);
  FUZZ_CHECK(sl >= H.s && sl < H.s + MAXQ);
  k = (unsigned)(sl - H.s);
  FUZZ_CHECK(sl->started);
  FUZZ_CHECK(sl->state == S_FLIGHT); /* once, never after cancel */
  FUZZ_CHECK(sl->completions == 0);
  FUZZ_CHECK(!q->linked);
  TRACE("  done q%u id %04x status %d alen %d\n", k, (unsigned)q->id, status,
        alen);
  sl->completions++;
  sl->state = S_DONE;
  sl->status = status;
  H.inflight--;
  check_count_inside();
  FUZZ_CHECK(valid_status(status));

  bad = (sl->flags & 1) || !name_valid(sl->name);
  if (!(sl->flags & 1) && name_onion(sl->name)) {
    FUZZ_CHECK(status == ARES_ENOTFOUND && sl->in_send && !abuf);
  } else if (bad) {
    FUZZ_CHECK(status == ARES_EBADNAME && sl->in_send && !abuf);
  } else {
    FUZZ_CHECK(status != ARES_EBADNAME);
  }

  if (abuf) {
    int rcode;
    size_t len = (size_t)alen;
    FUZZ_CHECK(alen >= 12 && alen <= MDSPF__UDP_MAX_MSG + 1);
    FUZZ_CHECK(H.reading >= 0); /* answers come only from a read */
    FUZZ_CHECK(q->asked & ((uint32_t)1 << (unsigned)H.reading));
    FUZZ_CHECK(((unsigned)abuf[0] << 8 | abuf[1]) == (unsigned)q->id);
    FUZZ_CHECK((abuf[2] & 0x80) && (abuf[2] & 0x78) == 0);
    FUZZ_CHECK(has_question(sl, abuf, len));
    rcode = abuf[3] & 0x0f;
    switch (rcode) {
    case 0:
      FUZZ_CHECK(status == ((abuf[6] | abuf[7]) ? ARES_SUCCESS : ARES_ENODATA));
      break;
    case 1:
      FUZZ_CHECK(status == ARES_EFORMERR);
      /* the EDNS FORMERR of the current server is retried instead */
      FUZZ_CHECK(H.cfg.edns_size == 0 || q->noedns ||
                 q->srv != (unsigned)H.reading);
      break;
    case 3:
      FUZZ_CHECK(status == ARES_ENOTFOUND);
      break;
    case 2:
    case 4:
    case 5:
      FUZZ_CHECK(0); /* never accepted */
      break;
    default:
      FUZZ_CHECK(status == ARES_SUCCESS);
      break;
    }
  } else {
    FUZZ_CHECK(alen == 0);
    FUZZ_CHECK(status != ARES_SUCCESS && status != ARES_ENODATA &&
               status != ARES_EFORMERR);
  }

  /* what the header allows from inside: new queries, cancels */
  if (sl->flags & 0x80) {
    cancel(k); /* already over: a no-op */
  }
  if (sl->flags & 0x04) {
    unsigned j;
    for (j = 0; j < H.ndef; j++) {
      if (!H.s[j].started) {
        start(j);
        break;
      }
    }
  }
  if (sl->flags & 0x08) {
    unsigned j = (sl->flags >> 4) % MAXQ;
    if (j < H.ndef) {
      cancel(j);
    }
  }
}

static void cb_sock(int fd, int open, void *ud) {
  unsigned i;
  FUZZ_CHECK(ud == &H);
  FUZZ_CHECK(fd >= 0);
  for (i = 0; i < H.nopen_fd; i++) {
    if (H.open_fd[i] == fd && H.fd_state[i]) {
      break;
    }
  }
  if (open) {
    FUZZ_CHECK(!H.closing);
    FUZZ_CHECK(i == H.nopen_fd); /* not open already */
    FUZZ_CHECK(H.nopen_fd < sizeof H.open_fd / sizeof H.open_fd[0]);
    H.open_fd[H.nopen_fd] = fd;
    H.fd_state[H.nopen_fd] = 1;
    H.nopen_fd++;
    FUZZ_CHECK(mdspf__udp_owns(&H.u, fd));
    if (H.start_on_open ||
        (H.ndef > 0 && (H.s[0].callout & 15) == H.nopen_fd)) {
      unsigned victim = H.ndef > 0 ? H.s[0].callout >> 4 : 8;
      H.callout++;
      for (i = 0; i < H.ndef; i++) {
        if (!H.s[i].started) {
          start(i);
          break;
        }
      }
      if ((H.s[0].callout & 15) == H.nopen_fd && victim < H.ndef &&
          H.s[victim].started) {
        cancel(victim); /* the query whose send opened it, perhaps */
      }
      H.callout--;
    }
  } else {
    /* at the end, or a retired socket's (no longer the transport's) */
    FUZZ_CHECK(H.closing ||
               (H.cfg.max_per_socket > 0 && !mdspf__udp_owns(&H.u, fd)));
    FUZZ_CHECK(i < H.nopen_fd); /* reported open before */
    H.fd_state[i] = 0;
  }
}

static const mdspf__udp_ops OPS = {cb_name, cb_done, cb_sock};

/* ---- driving ----------------------------------------------------------- */

static void start(unsigned k) {
  slot *sl = &H.s[k];
  int rrtype = sl->q.rrtype;
  if (sl->started) {
    return;
  }
  memset(&sl->q, 0, sizeof sl->q);
  sl->q.rrtype = rrtype;
  sl->started = 1;
  sl->state = S_FLIGHT;
  sl->in_send = 1;
  H.inflight++;
  mdspf__udp_send(&H.u, &sl->q);
  sl->in_send = 0;
  TRACE("  start q%u id %04x srv %u\n", k, (unsigned)sl->q.id,
        (unsigned)sl->q.srv);
  if ((sl->flags & 1) || !name_valid(sl->name) || name_onion(sl->name)) {
    FUZZ_CHECK(sl->state == S_DONE); /* ended inside the call */
  }
  if ((sl->flags & 2) && sl->state == S_FLIGHT) {
    cancel(k);
  }
}

/* Read every readable socket of the transport (once each). */
static void read_ready(void) {
  struct pollfd pfd[MDSPF__UDP_MAX_SERVERS];
  int which[MDSPF__UDP_MAX_SERVERS];
  unsigned i, n = 0;
  for (i = 0; i < H.cfg.nsrv; i++) {
    if (H.u.fd[i] >= 0) {
      pfd[n].fd = H.u.fd[i];
      pfd[n].events = POLLIN;
      pfd[n].revents = 0;
      which[n] = (int)i;
      n++;
    }
  }
  if (n == 0 || poll(pfd, n, 0) <= 0) {
    return;
  }
  for (i = 0; i < n; i++) {
    if (pfd[i].revents && H.u.fd[which[i]] == pfd[i].fd) {
      H.reading = which[i];
      mdspf__udp_read(&H.u, pfd[i].fd);
      H.reading = -1;
    }
  }
}

static void drain(int fd) {
  unsigned char buf[MAX_REPLY];
  while (recv(fd, buf, sizeof buf, 0) >= 0) {
  }
}

/* A query a server received: well-formed, one of the input's. */
static void check_query(const unsigned char *m, size_t len) {
  unsigned id, k;
  size_t qend;
  int found = 0;
  FUZZ_CHECK(len >= 12 + 1 + 4);
  FUZZ_CHECK(m[2] == 0x01 && m[3] == 0); /* RD only */
  FUZZ_CHECK(m[4] == 0 && m[5] == 1 && m[6] == 0 && m[7] == 0 && m[8] == 0 &&
             m[9] == 0 && m[10] == 0 && m[11] <= 1);
  id = (unsigned)m[0] << 8 | m[1];
  for (k = 0; k < H.ndef && !found; k++) {
    const slot *sl = &H.s[k];
    found = sl->started && (unsigned)sl->q.id == id && has_question(sl, m, len);
  }
  FUZZ_CHECK(found);
  qend = 12;
  while (m[qend] != 0) {
    qend += (size_t)m[qend] + 1u;
  }
  qend += 1 + 4;
  if (m[11] == 1) {
    FUZZ_CHECK(H.cfg.edns_size > 0);
    FUZZ_CHECK(len == qend + 11);
    FUZZ_CHECK(m[qend] == 0 && m[qend + 1] == 0 && m[qend + 2] == 41);
    FUZZ_CHECK(((unsigned)m[qend + 3] << 8 | m[qend + 4]) ==
               (unsigned)H.cfg.edns_size);
  } else {
    FUZZ_CHECK(len == qend);
  }
}

/* Length of the question of a checked query. */
static size_t query_qlen(const unsigned char *m) {
  size_t o = 12;
  while (m[o] != 0) {
    o += (size_t)m[o] + 1u;
  }
  return o + 1 + 4 - 12;
}

static void server_reply(fuzz_in *in, int big) {
  unsigned si = fuzz_byte(in) % H.cfg.nsrv;
  unsigned fl = fuzz_byte(in);
  size_t plen = fuzz_byte(in), pad = 0;
  const uint8_t *payload;
  unsigned char qbuf[QBUF];
  static unsigned char rep[MAX_REPLY];
  ssize_t qn;
  size_t o = 12, i;
  struct sockaddr_in to;
  socklen_t tolen = sizeof to;
  int sfd;
  if (plen > in->n) {
    plen = in->n;
  }
  payload = in->p;
  in->p += plen;
  in->n -= plen;
  if (big) {
    pad = (size_t)fuzz_byte(in) * 20u;
  }
  if (!H.is_live[si]) {
    return; /* no server there */
  }
  sfd = g_srv[H.live[si]];
  qn = recv(sfd, qbuf, sizeof qbuf, (fl & 0x08) ? MSG_PEEK : 0);
  if (qn >= 0) {
    check_query(qbuf, (size_t)qn);
  }
  TRACE("  server %u flags %02x got %ld octets, id %04x\n", si, fl, (long)qn,
        qn >= 2 ? (unsigned)qbuf[0] << 8 | qbuf[1] : 0u);
  if (H.u.fd[si] < 0 ||
      getsockname(H.u.fd[si], (struct sockaddr *)&to, &tolen) != 0) {
    return; /* nobody to answer */
  }
  memset(rep, 0, 12);
  if (plen > 0) {
    memcpy(rep, payload, plen < 12 ? plen : 12);
  }
  if ((fl & 0x01) && qn >= 0) {
    rep[0] = qbuf[0];
    rep[1] = qbuf[1];
  }
  if (fl & 0x02) {
    rep[2] = (unsigned char)(0x80 | (rep[2] & 0x07));
  }
  if (fl >> 5) {
    static const unsigned char rc[8] = {0, 0, 1, 2, 3, 4, 5, 9};
    rep[3] = (unsigned char)((rep[3] & 0xf0) | rc[fl >> 5]);
  }
  if ((fl & 0x04) && qn >= 0) {
    size_t ql = query_qlen(qbuf);
    rep[4] = 0;
    rep[5] = 1;
    memcpy(rep + o, qbuf + 12, ql);
    if (fl & 0x10) {
      for (i = o; i < o + ql - 4; i++) {
        unsigned char c = rep[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
          rep[i] = (unsigned char)(c ^ 0x20);
        }
      }
    }
    o += ql;
  }
  if (plen > 12) {
    memcpy(rep + o, payload + 12, plen - 12);
    o += plen - 12;
  }
  if (pad > o) {
    memset(rep + o, 0, pad - o);
    o = pad;
  }
  if (!big && plen < 12 && !(fl & 0x07)) {
    o = plen; /* short garbage as it came */
  }
  TRACE("  reply %zu octets id %02x%02x flags %02x%02x\n", o, rep[0], rep[1],
        rep[2], rep[3]);
  (void)sendto(sfd, rep, o, 0, (struct sockaddr *)&to, tolen);
}

static void time_passes(unsigned d) {
  long now = real_now_ms();
  if (d >= 0xf0) {
    now += 1000L * 1000L * 1000L; /* ~11 days: every deadline */
  } else {
    now += (long)d * 100L;
  }
  mdspf__udp_timeouts(&H.u, now);
}

static void setup(fuzz_in *in) {
  unsigned b0 = fuzz_byte(in), b1 = fuzz_byte(in), b2 = fuzz_byte(in);
  unsigned i, nstart, last;
  memset(&H, 0, sizeof H);
  H.reading = -1;
  H.cfg.nsrv = 1 + (b0 & 3) % 3;
  H.cfg.tries = (int)(1 + ((b0 >> 2) & 3) % 3);
  /* tries value 3 (one try, as 0) also rotates sockets every 2 sends */
  H.cfg.max_per_socket = ((b0 >> 2) & 3) == 3 ? 2u : 0u;
  H.cfg.edns_size = (b0 & 0x10) ? EDNS_SIZE : 0;
  H.cfg.no_rotate = (b0 & 0x20) != 0;
  H.cfg.timeout_ms = (b1 & 0x10) ? 1000 : 3000;
  H.cfg.rcvbuf = (b1 & 0x20) ? 1 : 0; /* the kernel's minimum */
  for (i = 0; i < H.cfg.nsrv; i++) {
    mdspf__udp_server *s = &H.cfg.srv[i];
    H.live[i] = i;
    H.is_live[i] = 1;
    memcpy(&s->addr.in4, &g_srv_addr[i], sizeof s->addr.in4);
    s->len = sizeof s->addr.in4;
  }
  last = H.cfg.nsrv - 1;
  H.start_on_open = (b0 >> 6) == 1;
  if ((b0 >> 6) == 2) {
    H.is_live[last] = 0;
    memcpy(&H.cfg.srv[last].addr.in4, &g_dead_addr, sizeof g_dead_addr);
  } else if ((b0 >> 6) == 3) {
    H.is_live[last] = 0;
    H.cfg.srv[last].len = 0; /* connect fails */
  }
  /* the transport's random octets: a function of the input */
  {
    uint32_t x = 0x9e3779b9u ^ (b2 * 0x01000193u);
    for (i = 0; i < sizeof H.cfg.rnd; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      H.cfg.rnd[i] = (unsigned char)(x >> 7);
      if ((b1 >> 6) == 3) {
        H.cfg.rnd[i] &= 1; /* IDs 0x0000 0x0001 0x0100 0x0101 */
      }
    }
    H.cfg.rnd_left = sizeof H.cfg.rnd;
  }
  nstart = 1 + (b1 & 3);
  H.ndef = nstart + ((b1 >> 2) & 3);
  for (i = 0; i < H.ndef; i++) {
    static const int types[7] = {1, 28, 15, 16, 12, 2, 5};
    slot *sl = &H.s[i];
    unsigned t = fuzz_byte(in);
    size_t nl;
    const uint8_t *nm;
    sl->q.rrtype = t < 0xf0 ? types[t % 7] : (int)t;
    sl->flags = fuzz_byte(in);
    sl->callout = fuzz_byte(in);
    nm = fuzz_field(in, 0, &nl);
    if (nl > NAME_CAP) {
      nl = NAME_CAP;
    }
    if (nl > 0) {
      memcpy(sl->name, nm, nl);
    }
    sl->name[nl] = '\0';
  }
  mdspf__udp_init(&H.u, &H.cfg, &OPS, &H);
  for (i = 0; i < H.ndef && i < nstart; i++) {
    start(i);
    check_counts();
  }
}

static void finish_input(void) {
  unsigned i;
  for (i = 0; i < H.ndef; i++) {
    cancel(i);
    FUZZ_CHECK(H.s[i].completions <= 1);
  }
  FUZZ_CHECK(H.inflight == 0);
  FUZZ_CHECK(mdspf__udp_count(&H.u) == 0);
  FUZZ_CHECK(mdspf__udp_ms(&H.u, real_now_ms()) == -1);
  H.closing = 1;
  mdspf__udp_close(&H.u);
  H.closing = 0;
  for (i = 0; i < MDSPF__UDP_MAX_SERVERS; i++) {
    FUZZ_CHECK(H.u.fd[i] == -1);
  }
  for (i = 0; i < H.nopen_fd; i++) {
    FUZZ_CHECK(H.fd_state[i] == 0); /* reported closed */
    errno = 0;
    FUZZ_CHECK(fcntl(H.open_fd[i], F_GETFD) == -1 && errno == EBADF);
  }
  /* a second close has nothing to do */
  H.closing = 1;
  mdspf__udp_close(&H.u);
  H.closing = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size};
  unsigned i, nact = 0;
  init_once();
  for (i = 0; i < NLIVE; i++) {
    drain(g_srv[i]);
  }
  setup(&in);
  read_ready();
  check_counts();
  while (in.n > 0 && nact < MAX_ACTIONS) {
    unsigned op = fuzz_byte(&in) % 10;
    nact++;
    TRACE("action %u: op %u\n", nact, op);
    switch (op) {
    case 0:
    case 1:
    case 2:
    case 3:
      server_reply(&in, 0);
      break;
    case 4: {
      unsigned si = fuzz_byte(&in) % H.cfg.nsrv;
      unsigned char qbuf[QBUF];
      ssize_t qn;
      if (H.is_live[si]) {
        qn = recv(g_srv[H.live[si]], qbuf, sizeof qbuf, 0);
        if (qn >= 0) {
          check_query(qbuf, (size_t)qn);
        }
      }
      break;
    }
    case 5:
      time_passes(fuzz_byte(&in));
      break;
    case 6:
      cancel(fuzz_byte(&in) % H.ndef);
      break;
    case 7:
      for (i = 0; i < H.ndef; i++) {
        if (!H.s[i].started) {
          start(i);
          break;
        }
      }
      break;
    case 8:
      server_reply(&in, 1);
      break;
    default:
      /* not the transport's: ignored, nothing owned */
      for (i = 0; i < NLIVE; i++) {
        FUZZ_CHECK(!mdspf__udp_owns(&H.u, g_srv[i]));
        mdspf__udp_read(&H.u, g_srv[i]);
      }
      FUZZ_CHECK(!mdspf__udp_owns(&H.u, -1));
      mdspf__udp_read(&H.u, -1);
      break;
    }
    read_ready();
    check_counts();
    for (i = 0; i < H.nopen_fd; i++) {
      FUZZ_CHECK(!H.fd_state[i] || mdspf__udp_owns(&H.u, H.open_fd[i]));
    }
  }
  finish_input();
  /* no descriptor leaks across inputs */
  if (g_inputs < FD_CHECK_EVERY || g_inputs % FD_CHECK_EVERY == 0) {
    long n = count_fds();
    if (g_fd_baseline < 0) {
      g_fd_baseline = n;
    } else if (n >= 0) {
      FUZZ_CHECK(n == g_fd_baseline);
    }
  }
  g_inputs++;
  return 0;
}

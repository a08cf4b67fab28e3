/*
 * lib/resolvers/cares/backend.c -- the c-ares 1.18 resolver backend: one channel per
 * mdspf_cares, per-query tokens, socket and timer bookkeeping, and the
 * poll(2) driver behind mdspf_cares_wait().
 *
 * Tokens.  c-ares 1.18 cannot cancel one query, so every query gets a
 * small token (the c-ares callback argument, and the resolver token the
 * core passes back to cancel()).  cancel() only marks it and forgets q;
 * the token stays on the backend's list until c-ares calls back (answer,
 * timeout, ARES_ECANCELLED or ARES_EDESTRUCTION), which frees it quietly.
 * When every remaining query is a cancelled one, ares_cancel() ends them
 * all at once, so abandoned lookups do not keep sockets and timers alive.
 * At most MAX_SENT queries are in c-ares at a time; the others wait in a
 * FIFO queue of tokens (freed at once when cancelled there).
 *
 * Re-entrancy.  Answers are delivered from inside c-ares calls
 * (ares_process_fd, ares_query, ares_cancel, ares_destroy), and delivery
 * runs the SPF engine and user callbacks, which may start queries,
 * cancel others, or ask to free the backend.  c->in_ares counts those
 * nested c-ares calls: work that c-ares itself does not tolerate from its
 * callbacks (ares_cancel, ares_destroy, re-entering ares_process_fd) is
 * refused or deferred until the outermost call returns (leave()).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <maildrop-spf/cares.h>

#include "cares_internal.h"
/* header-only, and free of library types: no private include path */
#include "../../util/list.h"

/* ares.h uses fd_set and struct timeval without including their headers
 * under a strict POSIX feature set */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DNS_CLASS_IN 1

/* The longest name the core hands us is 253 octets; escaping at most
 * doubles it. */
#define ESC_NAME_MAX (2 * 253 + 1)

/* Most servers accepted in mdspf_cares_options.servers. */
#define MAX_SERVERS 32
/* Longest text of one server entry ("[v6 address]:port"). */
#define MAX_SERVER_TEXT 64

/* A later deadline than the one the host's timer is armed for is only
 * reported when it moves by more than this: firing a little early costs
 * one empty process_timeout call, which then re-arms. */
#define TIMER_SLACK_MS 10

/* SO_RCVBUF asked for on c-ares' sockets.  c-ares 1.18 sends every UDP
 * query to a server through one socket, so the answers to hundreds of
 * concurrent checks arrive in one burst; the default buffer (~200 KiB,
 * i.e. a few hundred small datagrams) overflows and the lost answers
 * cost a retransmission timeout each.  The kernel caps the value at
 * net.core.rmem_max; the memory is only used while answers queue. */
#define SOCK_RCVBUF (1 << 20)

/* timer_due values besides a deadline */
#define DUE_NONE (-1L)   /* the host's timer is disarmed */
#define DUE_UNKNOWN (-2L) /* report the next value whatever it is */

/* Most queries handed to c-ares at once; more wait in a FIFO queue.  The
 * answers to every query in flight may arrive in one burst on one UDP
 * socket (c-ares 1.18 has one per server), and what does not fit in the
 * socket's receive buffer is lost and costs a retransmission timeout.
 * 128 answers of EDNS size (1232 octets, ~2.3 KiB of buffer each) fit in
 * the ~420 KiB a stock kernel grants SOCK_RCVBUF below, and 128 queries
 * in flight are plenty for SPF: a check rarely has more than ten. */
#define MAX_SENT 128

enum { TOK_QUEUED = 1, TOK_SENT = 2 };

typedef struct cares_token {
  struct mdspf_cares *c;
  mdspf_dns_query *q; /* NULL once cancelled or completed */
  mdspf__link link; /* on c->sent or c->queued */
  size_t size;                     /* of this allocation */
  int rrtype;
  int state;      /* TOK_* */
  int cancelled;  /* (TOK_SENT only: a queued token is freed at once) */
  int submitting; /* inside ares_query(): do not free on completion */
  int completed;  /* c-ares called back while submitting */
  char name[];    /* the name escaped for ares_query */
} cares_token;

#define TOKEN(k) MDSPF__CONTAINER(k, cares_token, link)

typedef struct cares_fd {
  int fd;
  int events; /* 1 read, 2 write */
} cares_fd;

struct mdspf_cares {
  mdspf_alloc_fn afn;
  void *aud;
  ares_channel ch;
  mdspf_resolver res;
  /* event-loop hooks */
  mdspf_watch_fn watch;
  mdspf_timer_fn timer;
  void *loop_ud;
  long timer_due; /* deadline last reported (monotonic ms) or DUE_* */
  /* queries */
  mdspf__list sent;   /* tokens handed to c-ares (cancelled ones too) */
  mdspf__list queued; /* tokens waiting for room (see MAX_SENT) */
  size_t pending;    /* tokens neither cancelled nor completed */
  unsigned long delivered;
  /* sockets c-ares asked to be watched */
  cares_fd *fds;
  size_t nfds, fds_cap;
  int fds_lost; /* the table could not grow: ask c-ares as well */
  struct pollfd *pfd; /* mdspf_cares_wait's scratch array */
  size_t pfd_cap;
  /* re-entrancy */
  int in_ares;  /* nesting depth of c-ares calls that may call back */
  int closing;  /* mdspf_cares_free ran (or is running): closed for good */
  int free_req; /* free asked for from a delivery callback or a hook */
  int in_hook;  /* inside the host's watch or timer callback */
  unsigned refs; /* the user's, plus one per holder of the vtable */
};

/* ---- allocation --------------------------------------------------------- */

static void *libc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

static void *c_alloc(const mdspf_cares *c, size_t n) {
  void *p = c->afn(c->aud, NULL, 0, n);
  if (p) {
    memset(p, 0, n);
  }
  return p;
}

static void *c_alloc_array(const mdspf_cares *c, size_t n, size_t sz) {
  if (n == 0 || sz == 0 || n > SIZE_MAX / sz) {
    return NULL;
  }
  return c_alloc(c, n * sz);
}

static void c_free(const mdspf_cares *c, void *p, size_t n) {
  if (p) {
    (void)c->afn(c->aud, p, n, 0);
  }
}

/* ---- time ---------------------------------------------------------------- */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Milliseconds until c-ares wants a timeout pass, rounded up so that a
 * poll or a host timer never wakes just before it; -1 when c-ares has no
 * query at all. */
static long ares_ms(const mdspf_cares *c) {
  struct timeval tv, *r;
  long ms;
  if (!c->ch) {
    return -1;
  }
  r = ares_timeout(c->ch, NULL, &tv);
  if (!r) {
    return -1;
  }
  if (r->tv_sec < 0 || (r->tv_sec == 0 && r->tv_usec <= 0)) {
    return 0;
  }
  if (r->tv_sec > (LONG_MAX / 1000L) - 1) {
    return LONG_MAX / 2;
  }
  ms = (long)r->tv_sec * 1000L + ((long)r->tv_usec + 999L) / 1000L;
  return ms;
}

/* Tell the host's timer about the next deadline when it changed enough
 * to matter (see TIMER_SLACK_MS). */
static void timer_sync(mdspf_cares *c) {
  long ms, due;
  if (!c->timer || c->closing) {
    return;
  }
  ms = ares_ms(c);
  due = ms < 0 ? DUE_NONE : now_ms() + ms;
  if (c->timer_due != DUE_UNKNOWN) {
    if (due == DUE_NONE && c->timer_due == DUE_NONE) {
      return;
    }
    if (due >= 0 && c->timer_due >= 0 && due >= c->timer_due &&
        due - c->timer_due <= TIMER_SLACK_MS) {
      return;
    }
  }
  c->timer_due = due;
  c->in_hook++;
  c->timer(c->loop_ud, ms);
  c->in_hook--;
}

/* ---- socket table ---------------------------------------------------------- */

static size_t fd_find(const mdspf_cares *c, int fd) {
  size_t i;
  for (i = 0; i < c->nfds; i++) {
    if (c->fds[i].fd == fd) {
      return i;
    }
  }
  return SIZE_MAX;
}

static int fd_reserve(mdspf_cares *c, size_t want) {
  cares_fd *n;
  size_t ncap;
  if (want <= c->fds_cap) {
    return 0;
  }
  ncap = c->fds_cap ? c->fds_cap : 4;
  while (ncap < want) {
    if (ncap > SIZE_MAX / 2 / sizeof *n) {
      return -1;
    }
    ncap *= 2;
  }
  n = c->afn(c->aud, c->fds, c->fds_cap * sizeof *n, ncap * sizeof *n);
  if (!n) {
    return -1;
  }
  c->fds = n;
  c->fds_cap = ncap;
  return 0;
}

static void fd_set_events(mdspf_cares *c, int fd, int events) {
  size_t i = fd_find(c, fd);
  if (events == 0) {
    if (i != SIZE_MAX) {
      c->fds[i] = c->fds[c->nfds - 1]; /* order does not matter */
      c->nfds--;
    }
    return;
  }
  if (i != SIZE_MAX) {
    c->fds[i].events = events;
    return;
  }
  if (fd_reserve(c, c->nfds + 1) != 0) {
    /* cannot happen with c-ares 1.18 (the table is sized for two
     * sockets per server at creation); stay correct anyway */
    c->fds_lost = 1;
    return;
  }
  c->fds[c->nfds].fd = fd;
  c->fds[c->nfds].events = events;
  c->nfds++;
}

/* ARES_OPT_SOCK_STATE_CB: c-ares opens, re-arms or is about to close a
 * socket.  Called from inside c-ares calls only. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable,
                          int writable) {
  mdspf_cares *c = data;
  int rd = readable ? 1 : 0, wr = writable ? 1 : 0;
  fd_set_events(c, (int)fd, rd | (wr << 1));
  if (c->watch) {
    c->in_hook++;
    c->watch(c->loop_ud, (int)fd, rd, wr);
    c->in_hook--;
  }
}

/* Sockets c-ares reports through ares_getsock that our table does not
 * hold (only after the table failed to grow).  Appends to fds/events from
 * index n up to max; returns the new count. */
static size_t lost_fds(const mdspf_cares *c, int *fds, int *events, size_t n,
                       size_t max) {
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  int bits, k;
  if (!c->fds_lost || !c->ch) {
    return n;
  }
  bits = ares_getsock(c->ch, socks, ARES_GETSOCK_MAXNUM);
  for (k = 0; k < ARES_GETSOCK_MAXNUM && n < max; k++) {
    int ev = (ARES_GETSOCK_READABLE(bits, k) ? 1 : 0) |
             (ARES_GETSOCK_WRITABLE(bits, k) ? 2 : 0);
    size_t j;
    int dup = 0;
    if (ev == 0) {
      continue;
    }
    for (j = 0; j < n && !dup; j++) {
      dup = fds[j] == (int)socks[k];
    }
    if (!dup) {
      fds[n] = (int)socks[k];
      events[n] = ev;
      n++;
    }
  }
  return n;
}

/* The sockets to watch: our table, plus what c-ares reports itself if
 * the table ever lost track.  Returns the number written (at most max). */
static size_t collect_fds(const mdspf_cares *c, int *fds, int *events,
                          size_t max) {
  size_t n = 0, i;
  for (i = 0; i < c->nfds && n < max; i++) {
    fds[n] = c->fds[i].fd;
    events[n] = c->fds[i].events;
    n++;
  }
  return lost_fds(c, fds, events, n, max);
}

/* ---- tokens ---------------------------------------------------------------- */

static void list_push(mdspf__list *l, cares_token *t) {
  mdspf__list_push_back(l, &t->link);
}

static void list_remove(mdspf__list *l, cares_token *t) {
  mdspf__list_remove(l, &t->link);
}

static int ares_type(int rrtype) {
  switch (rrtype) {
  case MDSPF_RR_A:
  case MDSPF_RR_AAAA:
  case MDSPF_RR_MX:
  case MDSPF_RR_TXT:
  case MDSPF_RR_PTR:
    return rrtype; /* the MDSPF_DNS_* values are the DNS type codes */
  default:
    return -1;
  }
}

/* The c-ares callback.  Exactly one call per ares_query (c-ares
 * guarantees it, destruction included), which is what frees the token. */
static void on_ares_done(void *arg, int status, int timeouts,
                         unsigned char *abuf, int alen) {
  cares_token *t = arg;
  mdspf_cares *c = t->c;
  mdspf_dns_query *q = t->q;
  int rrtype = t->rrtype;
  (void)timeouts;
  list_remove(&c->sent, t);
  if (q) {
    t->q = NULL;
    c->pending--;
    c->delivered++;
  }
  if (t->submitting) {
    t->completed = 1; /* submit() frees it after ares_query returns */
  } else {
    c_free(c, t, t->size);
  }
  if (q) {
    /* may run the engine and user callbacks: nothing above may be
     * touched afterwards but c */
    mdspf__cares_answer(q, rrtype, status, abuf, alen, c->afn, c->aud);
  }
}

/* Hand a token to c-ares.  ares_query (never ares_search: no search
 * domains) may complete before it returns -- bad name, out of memory,
 * no server -- and then the token is gone: returns NULL. */
static cares_token *submit(mdspf_cares *c, cares_token *t) {
  t->state = TOK_SENT;
  t->submitting = 1;
  list_push(&c->sent, t);
  c->in_ares++;
  ares_query(c->ch, t->name, DNS_CLASS_IN, ares_type(t->rrtype), on_ares_done,
             t);
  c->in_ares--;
  t->submitting = 0;
  if (t->completed) {
    c_free(c, t, t->size);
    return NULL;
  }
  return t;
}

/* Send queued queries while there is room.  Outside c-ares processing
 * only; an inline completion may run user code (it sees in_ares > 0). */
static void launch(mdspf_cares *c) {
  while (c->queued.head && c->sent.count < MAX_SENT && c->ch && !c->closing &&
         !c->free_req) {
    cares_token *t = TOKEN(c->queued.head);
    list_remove(&c->queued, t);
    (void)submit(c, t); /* the core keeps t as its token either way */
  }
}

/* Every query left in c-ares was cancelled by the core: end them now
 * rather than letting them time out.  Only outside c-ares processing:
 * ares_cancel from a callback would free queries c-ares is iterating. */
static void sweep(mdspf_cares *c) {
  if (c->pending > 0 || c->sent.count == 0 || c->in_ares > 0 || c->closing ||
      !c->ch) {
    return;
  }
  c->in_ares++;
  ares_cancel(c->ch); /* callbacks only free cancelled tokens */
  c->in_ares--;
}

static int destroy(mdspf_cares *c);
static int settle(mdspf_cares *c);
static int maybe_free(mdspf_cares *c);
static void cares_ref(void *impl);
static void cares_unref(void *impl);

/* Socket functions for c-ares.  Its own TCP path writes with writev(),
 * which raises SIGPIPE when the server has closed the connection and
 * would kill a host that did not ignore the signal; a library must not
 * demand that.  These wrappers are the plain calls, except that sends go
 * through sendmsg(MSG_NOSIGNAL).  With socket functions installed c-ares
 * 1.18 leaves the sockets unconfigured ("user-managed"), so asocket()
 * does what it would do: non-blocking, close-on-exec, a large receive
 * buffer for UDP (see SOCK_RCVBUF) and no Nagle delay for TCP. */
static ares_socket_t sf_socket(int af, int type, int proto, void *ud) {
  int fd, fl, one = 1, rcv = SOCK_RCVBUF;
  (void)ud;
  fd = socket(af, type, proto);
  if (fd < 0) {
    return ARES_SOCKET_BAD;
  }
  fl = fcntl(fd, F_GETFL, 0);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    close(fd);
    return ARES_SOCKET_BAD;
  }
  if (type == SOCK_DGRAM) {
    /* best effort: the kernel may grant less */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  } else if (type == SOCK_STREAM) {
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

static int sf_close(ares_socket_t fd, void *ud) {
  (void)ud;
  return close(fd);
}

static int sf_connect(ares_socket_t fd, const struct sockaddr *sa,
                      ares_socklen_t len, void *ud) {
  (void)ud;
  return connect(fd, sa, len);
}

static ares_ssize_t sf_recvfrom(ares_socket_t fd, void *buf, size_t len,
                                int flags, struct sockaddr *from,
                                ares_socklen_t *fromlen, void *ud) {
  (void)ud;
  return recvfrom(fd, buf, len, flags, from, fromlen);
}

static ares_ssize_t sf_sendv(ares_socket_t fd, const struct iovec *iov,
                             int n, void *ud) {
  struct msghdr m;
  (void)ud;
  if (n < 0) {
    errno = EINVAL;
    return -1;
  }
  memset(&m, 0, sizeof m);
  m.msg_iov = (struct iovec *)(uintptr_t)iov; /* sendmsg does not write */
  m.msg_iovlen = (size_t)n;
  return sendmsg(fd, &m, MSG_NOSIGNAL);
}

/* Immutable, shared by every channel. */
static const struct ares_socket_functions socket_functions = {
    sf_socket, sf_close, sf_connect, sf_recvfrom, sf_sendv};

static void enter(mdspf_cares *c) { c->in_ares++; }

/* Leave a c-ares call.  The outermost leave runs what was deferred.
 * Returns 1 if c was freed (the caller must not touch it again). */
static int leave(mdspf_cares *c) {
  c->in_ares--;
  if (c->in_ares > 0 || c->in_hook > 0) {
    return 0;
  }
  if (c->closing) {
    return maybe_free(c);
  }
  return settle(c);
}

/* The backend became idle (no c-ares call, no hook on the stack): send
 * what waits, end what was cancelled, report the timer -- whose callback
 * may queue more --, and carry out a free asked for meanwhile.  Returns 1
 * when c was freed. */
static int settle(mdspf_cares *c) {
  int rounds = 0;
  for (;;) {
    launch(c);
    if (c->free_req) {
      return destroy(c);
    }
    sweep(c);
    timer_sync(c);
    if (c->free_req) {
      return destroy(c);
    }
    if (!c->queued.head || c->sent.count >= MAX_SENT || c->closing ||
        ++rounds > 8) {
      return 0;
    }
  }
}

/* ---- names ------------------------------------------------------------------ */

int mdspf__cares_escape_name(const char *name, char *out, size_t outsz) {
  size_t i, o = 0;
  if (!name || !out || outsz == 0) {
    return -1;
  }
  for (i = 0; name[i] != '\0'; i++) {
    /* ares_create_query (1.18) reads "\X" as the octet X and copies any
     * other octet verbatim (spaces, '%', controls, 8-bit), so only the
     * backslash itself needs escaping.  \DDD is NOT decoded by 1.18 and
     * must not be produced. */
    if (name[i] == '\\') {
      if (o + 2 >= outsz) {
        return -1;
      }
      out[o++] = '\\';
      out[o++] = '\\';
    } else {
      if (o + 1 >= outsz) {
        return -1;
      }
      out[o++] = name[i];
    }
    if (o > INT_MAX - 2) {
      return -1;
    }
  }
  out[o] = '\0';
  return (int)o;
}

/* ---- resolver vtable ------------------------------------------------------------ */

static int cares_query(void *impl, mdspf_dns_query *q, const char *name,
                       int rrtype, void **token) {
  mdspf_cares *c = impl;
  char esc[ESC_NAME_MAX + 1];
  cares_token *t;
  size_t size;
  int len;
  if (!c || !q || !name || !token) {
    return MDSPF_E_INVAL;
  }
  *token = NULL;
  if (c->closing || c->free_req || !c->ch) {
    return MDSPF_E_STATE; /* the core completes q with TEMPFAIL */
  }
  if (ares_type(rrtype) < 0 || name[0] == '\0' || strlen(name) > 253) {
    return MDSPF_E_INVAL;
  }
  len = mdspf__cares_escape_name(name, esc, sizeof esc);
  if (len < 0) {
    return MDSPF_E_INVAL;
  }
  size = sizeof *t + (size_t)len + 1;
  t = c_alloc(c, size);
  if (!t) {
    return MDSPF_E_NOMEM;
  }
  t->c = c;
  t->q = q;
  t->size = size;
  t->rrtype = rrtype;
  memcpy(t->name, esc, (size_t)len + 1);
  c->pending++;
  if (c->queued.count > 0 || c->sent.count >= MAX_SENT || c->in_hook > 0) {
    /* no room, or from the host's watch or timer callback (c-ares may be
     * opening or closing a socket right now): wait in line, first in,
     * first out, until the backend is idle */
    t->state = TOK_QUEUED;
    list_push(&c->queued, t);
    *token = t;
    return 0;
  }
  /* An inline completion only queues the answer in the core (we are
   * inside its query()), so normally no user code runs here. */
  *token = submit(c, t);
  if (c->in_ares == 0 && c->in_hook == 0) {
    /* a host calling query() itself, whose completion callback freed
     * the backend: the token is gone (*token is NULL) */
    (void)settle(c);
  }
  return 0;
}

static void cares_cancel(void *impl, void *token) {
  mdspf_cares *c = impl;
  cares_token *t = token;
  if (!c || !t || !t->q || t->cancelled) {
    return;
  }
  t->q = NULL; /* never touched again */
  c->pending--;
  if (t->state == TOK_QUEUED) {
    list_remove(&c->queued, t); /* c-ares never saw it */
    c_free(c, t, t->size);
  } else {
    t->cancelled = 1; /* the token waits for c-ares to call back */
  }
  if (c->in_ares == 0 && c->in_hook == 0 && !c->closing) {
    (void)settle(c);
  }
}

static int cares_wait_vt(void *impl, int timeout_ms) {
  return mdspf_cares_wait(impl, timeout_ms);
}

/* ---- servers --------------------------------------------------------------------- */

static int parse_port(const char *s, size_t n, int *port) {
  size_t i;
  long v = 0;
  if (n == 0 || n > 5) {
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  if (v < 1 || v > 65535) {
    return -1;
  }
  *port = (int)v;
  return 0;
}

/* Parse one entry (no surrounding blanks) into node. */
static int parse_server(const char *s, size_t n,
                        struct ares_addr_port_node *node) {
  char host[MAX_SERVER_TEXT];
  const char *colon = NULL, *hend;
  size_t i, hlen, ncolons = 0;
  int port = 53;
  if (n == 0 || n >= MAX_SERVER_TEXT) {
    return -1;
  }
  if (s[0] == '[') {
    /* "[v6]" or "[v6]:port" */
    const char *close = memchr(s, ']', n);
    if (!close) {
      return -1;
    }
    hend = close;
    if ((size_t)(close - s) + 1 < n) {
      if (close[1] != ':' ||
          parse_port(close + 2, n - (size_t)(close - s) - 2, &port) != 0) {
        return -1;
      }
    }
    hlen = (size_t)(hend - s) - 1;
    memcpy(host, s + 1, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET6, host, &node->addr.addr6) != 1) {
      return -1;
    }
    node->family = AF_INET6;
  } else {
    for (i = 0; i < n; i++) {
      if (s[i] == ':') {
        ncolons++;
        colon = s + i;
      }
    }
    if (ncolons >= 2) {
      /* a bare IPv6 address: no port (use the bracket form for one) */
      memcpy(host, s, n);
      host[n] = '\0';
      if (inet_pton(AF_INET6, host, &node->addr.addr6) != 1) {
        return -1;
      }
      node->family = AF_INET6;
    } else {
      hlen = colon ? (size_t)(colon - s) : n;
      if (colon && parse_port(colon + 1, n - hlen - 1, &port) != 0) {
        return -1;
      }
      memcpy(host, s, hlen);
      host[hlen] = '\0';
      if (inet_pton(AF_INET, host, &node->addr.addr4) != 1) {
        return -1;
      }
      node->family = AF_INET;
    }
  }
  node->udp_port = port;
  node->tcp_port = port;
  return 0;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Comma-separated list into nodes[max]; *count gets the number used. */
static int parse_servers(const char *list, struct ares_addr_port_node *nodes,
                         size_t max, size_t *count) {
  const char *p = list;
  size_t n = 0;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    while (len > 0 && is_blank(*p)) {
      p++;
      len--;
    }
    while (len > 0 && is_blank(p[len - 1])) {
      len--;
    }
    if (n >= max || parse_server(p, len, &nodes[n]) != 0) {
      return -1;
    }
    if (n > 0) {
      nodes[n - 1].next = &nodes[n];
    }
    n++;
    if (!e) {
      break;
    }
    p = e + 1;
  }
  *count = n;
  return 0;
}

static size_t count_entries(const char *list) {
  size_t n = 1;
  for (; *list; list++) {
    if (*list == ',') {
      n++;
    }
  }
  return n;
}

/* ---- public API -------------------------------------------------------------------- */

/* The options every caller must provide: the struct as first published. */
#define OPTIONS_MIN_SIZE                                                      \
  (offsetof(mdspf_cares_options, edns_size) + sizeof(int))

void mdspf_cares_options_init(mdspf_cares_options *opt) {
  if (!opt) {
    return;
  }
  memset(opt, 0, sizeof *opt);
  opt->struct_size = sizeof *opt;
  opt->timeout_ms = 2000;
  opt->tries = 2;
  opt->flags = 0;
  opt->edns_size = 1232;
}

static int options_valid(const mdspf_cares_options *o) {
  const unsigned known =
      MDSPF_CARES_NO_EDNS | MDSPF_CARES_USE_TCP | MDSPF_CARES_NO_ROTATE;
  return o->timeout_ms >= 10 && o->timeout_ms <= 60000 && o->tries >= 1 &&
         o->tries <= 10 && o->edns_size >= 512 && o->edns_size <= 4096 &&
         (o->flags & ~known) == 0;
}

static int status_from_ares(int st) {
  return st == ARES_ENOMEM ? MDSPF_E_NOMEM : MDSPF_E_DNS;
}

mdspf_status mdspf_cares_new(const mdspf_cares_options *opt, mdspf_cares **out) {
  mdspf_cares_options o;
  struct ares_options ao;
  struct ares_addr_port_node *nodes = NULL;
  size_t nnodes = 0, cap = 0;
  mdspf_cares tmp, *c;
  int mask, st;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  mdspf_cares_options_init(&o);
  if (opt) {
    if (opt->struct_size < OPTIONS_MIN_SIZE) {
      return MDSPF_E_INVAL;
    }
    /* a newer caller's struct may be longer: read what we know */
    memcpy(&o, opt, opt->struct_size < sizeof o ? opt->struct_size
                                                : sizeof o);
    o.struct_size = sizeof o;
  }
  if (!options_valid(&o)) {
    return MDSPF_E_INVAL;
  }
  memset(&tmp, 0, sizeof tmp);
  tmp.afn = o.alloc ? o.alloc : libc_alloc;
  tmp.aud = o.alloc ? o.alloc_ud : NULL;

  /* Servers first: a bad list must fail before c-ares is touched. */
  if (o.servers && o.servers[0] != '\0') {
    cap = count_entries(o.servers);
    if (cap > MAX_SERVERS) {
      return MDSPF_E_INVAL;
    }
    nodes = c_alloc_array(&tmp, cap, sizeof *nodes);
    if (!nodes) {
      return MDSPF_E_NOMEM;
    }
    if (parse_servers(o.servers, nodes, cap, &nnodes) != 0) {
      c_free(&tmp, nodes, cap * sizeof *nodes);
      return MDSPF_E_INVAL;
    }
  }

  c = c_alloc(&tmp, sizeof *c);
  if (!c) {
    c_free(&tmp, nodes, cap * sizeof *nodes);
    return MDSPF_E_NOMEM;
  }
  *c = tmp;
  c->watch = o.watch;
  c->timer = o.timer;
  c->loop_ud = o.loop_ud;
  c->timer_due = DUE_NONE;
  c->refs = 1;
  c->res.version = MDSPF_RESOLVER_V2;
  c->res.ref = cares_ref;
  c->res.unref = cares_unref;
  c->res.impl = c;
  c->res.query = cares_query;
  c->res.cancel = cares_cancel;
  c->res.wait = cares_wait_vt;

  memset(&ao, 0, sizeof ao);
  mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
         ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_RCVBUF;
  /* never search domains or HOSTALIASES: SPF names are absolute */
  ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  if (!(o.flags & MDSPF_CARES_NO_EDNS)) {
    ao.flags |= ARES_FLAG_EDNS;
  }
  if (o.flags & MDSPF_CARES_USE_TCP) {
    ao.flags |= ARES_FLAG_USEVC;
  }
  mask |= (o.flags & MDSPF_CARES_NO_ROTATE) ? ARES_OPT_NOROTATE
                                            : ARES_OPT_ROTATE;
  ao.timeout = o.timeout_ms;
  ao.tries = o.tries;
  ao.ednspsz = o.edns_size;
  ao.socket_receive_buffer_size = SOCK_RCVBUF;
  ao.sock_state_cb = sock_state_cb;
  ao.sock_state_cb_data = c;
  /* No ares_library_init: a no-op on POSIX in 1.18, and global. */
  st = ares_init_options(&c->ch, &ao, mask);
  if (st != ARES_SUCCESS) {
    c->ch = NULL;
    c_free(&tmp, nodes, cap * sizeof *nodes);
    c_free(&tmp, c, sizeof *c);
    return status_from_ares(st);
  }
  ares_set_socket_functions(c->ch, &socket_functions, NULL);
  if (nnodes > 0) {
    st = ares_set_servers_ports(c->ch, nodes); /* copies the list */
    c_free(&tmp, nodes, cap * sizeof *nodes);
    if (st != ARES_SUCCESS) {
      ares_destroy(c->ch);
      c_free(&tmp, c, sizeof *c);
      return status_from_ares(st);
    }
  } else {
    struct ares_addr_port_node *cur = NULL, *p;
    /* sized from the configuration c-ares read */
    if (ares_get_servers_ports(c->ch, &cur) == ARES_SUCCESS) {
      for (p = cur; p; p = p->next) {
        nnodes++;
      }
      ares_free_data(cur);
    }
  }
  /* c-ares 1.18 opens at most one UDP and one TCP socket per server:
   * reserving that now means sock_state_cb never has to allocate. */
  if (fd_reserve(c, (nnodes > 0 ? nnodes : 1) * 2) != 0) {
    ares_destroy(c->ch);
    c_free(&tmp, c, sizeof *c);
    return MDSPF_E_NOMEM;
  }
  *out = c;
  return MDSPF_OK;
}

/* The user's free: every query fails (the teardown rule of every
 * resolver), the channel, sockets and timer go; from then on queries
 * are refused.  The handle itself stays while references remain. */
static void close_channel(mdspf_cares *c) {
  size_t i;
  c->closing = 1;
  /* Every query still in c-ares completes with ARES_EDESTRUCTION, which
   * answer.c maps to TEMPFAIL (cancelled tokens are just freed); checks
   * may finish and their callbacks run from here.  c-ares then closes
   * its sockets, reporting each through sock_state_cb. */
  if (c->ch) {
    c->in_ares++;
    ares_destroy(c->ch);
    c->in_ares--;
    c->ch = NULL;
  }
  /* queries that never reached c-ares complete the same way */
  while (c->queued.head) {
    cares_token *t = TOKEN(c->queued.head);
    mdspf_dns_query *q = t->q;
    int rrtype = t->rrtype;
    list_remove(&c->queued, t);
    c_free(c, t, t->size);
    if (q) {
      c->pending--;
      mdspf__cares_answer(q, rrtype, ARES_EDESTRUCTION, NULL, 0, c->afn,
                          c->aud);
    }
  }
  while (c->sent.head) {
    /* not expected: c-ares calls back for every query it holds */
    cares_token *t = TOKEN(c->sent.head);
    list_remove(&c->sent, t);
    c_free(c, t, t->size);
  }
  c->in_hook++; /* the hooks below run inside the guard */
  for (i = 0; i < c->nfds; i++) {
    if (c->watch) {
      c->watch(c->loop_ud, c->fds[i].fd, 0, 0);
    }
  }
  c->nfds = 0;
  if (c->timer && c->timer_due != DUE_NONE) {
    c->timer(c->loop_ud, -1);
  }
  c->in_hook--;
  c_free(c, c->fds, c->fds_cap * sizeof *c->fds);
  c_free(c, c->pfd, c->pfd_cap * sizeof *c->pfd);
  c->fds = NULL;
  c->pfd = NULL;
  c->fds_cap = c->pfd_cap = 0;
}

/* Free the handle once nothing refers to it and no call is on the stack.
 * Returns 1 when it is gone. */
static int maybe_free(mdspf_cares *c) {
  if (c->refs == 0 && c->in_ares == 0) {
    c_free(c, c, sizeof *c);
    return 1;
  }
  return 0;
}

static void cares_ref(void *impl) { ((mdspf_cares *)impl)->refs++; }

static void cares_unref(void *impl) {
  mdspf_cares *c = impl;
  c->refs--;
  (void)maybe_free(c);
}

/* Close and drop the user's reference; 1 when the handle is gone. */
static int destroy(mdspf_cares *c) {
  close_channel(c);
  c->refs--;
  return maybe_free(c);
}

void mdspf_cares_free(mdspf_cares *c) {
  if (!c || c->closing) {
    return; /* a second free from a callback run by this one: ignored */
  }
  if (c->in_ares > 0 || c->in_hook > 0) {
    /* from a delivery callback or a hook: c-ares (or the backend) is on
     * the stack, so the channel is destroyed when the outermost call
     * returns */
    c->free_req = 1;
    return;
  }
  (void)destroy(c);
}

mdspf_status mdspf_cares_set_loop(mdspf_cares *c, mdspf_watch_fn watch,
                         mdspf_timer_fn timer, void *loop_ud) {
  size_t i;
  if (!c) {
    return MDSPF_E_INVAL;
  }
  if (c->in_ares > 0 || c->in_hook > 0) {
    return MDSPF_E_RECURSIVE; /* from a delivery callback or a hook */
  }
  if (c->pending > 0 || c->closing || c->free_req) {
    return MDSPF_E_STATE;
  }
  c->in_hook++; /* the hooks below run inside the guard */
  /* the old loop forgets what it watched; the new one learns it (cancelled
   * queries may still hold sockets) */
  for (i = 0; i < c->nfds && c->watch; i++) {
    c->watch(c->loop_ud, c->fds[i].fd, 0, 0);
  }
  if (c->timer && c->timer_due != DUE_NONE) {
    c->timer(c->loop_ud, -1);
  }
  c->watch = watch;
  c->timer = timer;
  c->loop_ud = loop_ud;
  c->timer_due = DUE_UNKNOWN;
  for (i = 0; i < c->nfds && c->watch; i++) {
    c->watch(c->loop_ud, c->fds[i].fd, c->fds[i].events & 1,
             (c->fds[i].events >> 1) & 1);
  }
  if (c->timer) {
    timer_sync(c);
  } else {
    c->timer_due = DUE_NONE;
  }
  c->in_hook--;
  (void)settle(c); /* what the hooks started (or a free they asked for) */
  return MDSPF_OK;
}

const mdspf_resolver *mdspf_cares_resolver(mdspf_cares *c) {
  return c ? &c->res : NULL;
}

void mdspf_cares_process_fd(mdspf_cares *c, int fd, int readable,
                            int writable) {
  if (!c || c->in_ares > 0 || c->in_hook > 0 || c->closing || !c->ch) {
    return; /* c-ares 1.18 must not be re-entered from its callbacks */
  }
  enter(c);
  ares_process_fd(c->ch, readable && fd >= 0 ? fd : ARES_SOCKET_BAD,
                  writable && fd >= 0 ? fd : ARES_SOCKET_BAD);
  (void)leave(c);
}

void mdspf_cares_process_timeout(mdspf_cares *c) {
  if (!c || c->in_ares > 0 || c->in_hook > 0 || c->closing || !c->ch) {
    return;
  }
  /* the host's timer has fired: whatever is due next must be reported
   * again, even if it equals the old deadline */
  c->timer_due = DUE_UNKNOWN;
  enter(c);
  ares_process_fd(c->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  (void)leave(c);
}

long mdspf_cares_timeout(mdspf_cares *c) {
  if (!c || c->closing) {
    return -1;
  }
  return ares_ms(c);
}

int mdspf_cares_getsock(mdspf_cares *c, int *fds, int *events, int max) {
  if (!c || !fds || !events || max <= 0) {
    return 0;
  }
  return (int)collect_fds(c, fds, events, (size_t)max);
}

/* Grow the poll scratch array to hold n entries. */
static int pfd_reserve(mdspf_cares *c, size_t n) {
  struct pollfd *p;
  size_t ncap;
  if (n <= c->pfd_cap) {
    return 0;
  }
  ncap = n < 8 ? 8 : n;
  if (ncap > SIZE_MAX / sizeof *p) {
    return -1;
  }
  p = c->afn(c->aud, c->pfd, c->pfd_cap * sizeof *p, ncap * sizeof *p);
  if (!p) {
    return -1;
  }
  c->pfd = p;
  c->pfd_cap = ncap;
  return 0;
}

/* Snapshot the sockets into c->pfd; returns the count or -1 (no memory).
 * A snapshot, because delivery may open and close sockets while the
 * ready ones are being processed. */
static long build_pollset(mdspf_cares *c) {
  int fdbuf[ARES_GETSOCK_MAXNUM], evbuf[ARES_GETSOCK_MAXNUM];
  size_t nlost = 0, n = 0, i;
  if (c->fds_lost) {
    /* rare path: what c-ares reports beyond our table (at most 16);
     * table entries are filtered out below */
    size_t k, m = lost_fds(c, fdbuf, evbuf, 0, ARES_GETSOCK_MAXNUM);
    for (k = 0; k < m; k++) {
      if (fd_find(c, fdbuf[k]) == SIZE_MAX) {
        fdbuf[nlost] = fdbuf[k];
        evbuf[nlost] = evbuf[k];
        nlost++;
      }
    }
  }
  if (c->nfds + nlost == 0) {
    return 0;
  }
  if (pfd_reserve(c, c->nfds + nlost) != 0) {
    return -1;
  }
  for (i = 0; i < c->nfds + nlost; i++) {
    int fd = i < c->nfds ? c->fds[i].fd : fdbuf[i - c->nfds];
    int ev = i < c->nfds ? c->fds[i].events : evbuf[i - c->nfds];
    c->pfd[n].fd = fd;
    c->pfd[n].events =
        (short)(((ev & 1) ? POLLIN : 0) | ((ev & 2) ? POLLOUT : 0));
    c->pfd[n].revents = 0;
    n++;
  }
  return (long)n;
}

mdspf_status mdspf_cares_wait(mdspf_cares *c, int timeout_ms) {
  long deadline;
  unsigned long delivered0;
  if (!c) {
    return MDSPF_E_INVAL;
  }
  if (c->in_ares > 0 || c->in_hook > 0) {
    return MDSPF_E_RECURSIVE; /* from a delivery callback or a hook */
  }
  if (c->closing) {
    return MDSPF_E_STATE;
  }
  if (timeout_ms < 0) {
    timeout_ms = 0;
  }
  deadline = now_ms() + timeout_ms;
  delivered0 = c->delivered;
  for (;;) {
    long left = deadline - now_ms(), at = ares_ms(c), npfd;
    int pto, n;
    size_t i;
    if (at < 0) {
      return 0; /* no query in c-ares: nothing can be delivered */
    }
    if (left < 0) {
      left = 0;
    }
    pto = (int)(at >= 0 && at < left ? at : left);
    npfd = build_pollset(c);
    if (npfd < 0) {
      return MDSPF_E_NOMEM;
    }
    n = poll(c->pfd, (nfds_t)npfd, pto);
    if (n < 0 && errno != EINTR) {
      return MDSPF_E_IO;
    }
    enter(c);
    for (i = 0; n > 0 && i < (size_t)npfd && !c->closing; i++) {
      short re = c->pfd[i].revents;
      int rd, wr;
      if (re == 0 || (re & POLLNVAL)) {
        continue;
      }
      /* errors and hang-ups are reported as readable: the read then
       * fails and c-ares moves the queries on */
      rd = (re & (POLLIN | POLLERR | POLLHUP)) != 0;
      wr = (re & (POLLOUT | POLLERR)) != 0;
      ares_process_fd(c->ch, rd ? c->pfd[i].fd : ARES_SOCKET_BAD,
                      wr ? c->pfd[i].fd : ARES_SOCKET_BAD);
    }
    if (n <= 0 && !c->closing) {
      /* poll timed out (or was interrupted): timeouts and retries */
      ares_process_fd(c->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
    if (leave(c)) {
      return 0; /* freed from a delivery callback */
    }
    if (c->delivered != delivered0 || now_ms() >= deadline) {
      return 0;
    }
  }
}

size_t mdspf_cares_pending(const mdspf_cares *c) {
  return c ? c->pending : 0;
}

/*
 * lib/resolvers/cares/backend.c -- the c-ares 1.18 resolver backend: a
 * small pool of channels (our own UDP transport, udp.c, for the main
 * lane; c-ares channels for TCP), admission of queries to them site by
 * site, per-query tokens, socket and timer bookkeeping, and the poll(2)
 * driver behind mdspf_cares_wait().
 *
 * Channels.  A channel sends every UDP query to a server through one
 * socket, so the answers to everything in flight may arrive in one burst
 * on it, and what does not fit in its receive buffer is lost and costs a
 * retransmission timeout: a channel takes at most CHAN_SENT queries (see
 * there).  Queries whose servers never answer hold their place until
 * they time out (timeout_ms, doubled per round), so one full channel
 * would make every other lookup wait behind them.  The backend therefore
 * keeps a pool: the primary channel, made at creation and kept until the
 * free, and up to max_channels - 1 more, opened when every open one is
 * full and closed once empty while the others are at most half full.  A
 * new query goes to the first open channel with room (so the extra ones
 * drain and close).  Each channel has its own sockets; the fd table maps
 * every socket to its channel, the hooks and mdspf_cares_getsock report
 * all of them, the timer is the earliest deadline of any channel, and
 * mdspf_cares_wait polls them all.  The main lane's channels keep their
 * UDP sockets open while they have no query: a host that checks one
 * message at a time would otherwise open, configure, connect and close a
 * socket per check.  So the primary channel holds one UDP socket per
 * server from its first query there until the free; an extra channel's
 * sockets close with it.
 *
 * Own UDP.  Over UDP (the main lane, unless MDSPF_CARES_USE_TCP) a
 * channel is not a c-ares channel but udp.c's transport: a c-ares 1.18
 * channel costs ~75 KiB of tables and each query in it ~340 octets more,
 * which made a check in flight cost twice what the library itself
 * allocates for it.  A token carries the transport's state of its query
 * (uq); an own channel has no cancelled queries waiting for a callback
 * (cancel takes the query out at once), its sockets go through udp_sock
 * into the same fd table and hooks, and its deadlines into chan_ms.
 * c-ares still reads the system configuration (system_servers, once, at
 * creation: every channel then gets the same servers) and carries TCP.
 *
 * Sites.  The pool alone would only move the limit: a domain whose name
 * servers never answer can fill any number of channels with names under
 * it.  So admission is per site -- the registered domain a name is under,
 * guessed from its last labels (site_key) -- and a site has at most
 * SITE_SENT queries in the main lane's channels at a time (a channel's
 * worth; half of it when the pool is one channel); its others wait in the
 * site's own FIFO queue.  Sites with queries waiting and room under their
 * bound take turns (a round-robin "ready" list), one query each, for the
 * room the channels have.  So a hostile domain holds at most one
 * channel's worth of places, the pool keeps room for everyone else until
 * max_channels such domains hang at once, and even then a check of
 * another domain waits for the next free place, not behind the hostile
 * domains' queues.  A site exists while it has queries (queued or in
 * c-ares) and is found through a hash table that grows and shrinks with
 * the number of sites.
 *
 * TCP.  c-ares keeps one TCP connection per server and channel, and when
 * it fails (a server that closes it, a reset, a write error) c-ares
 * retries or fails every query on it, and every other query to that
 * server in the channel, UDP ones included: a server closing the
 * connection for one domain's truncated answers took the TCP answers of
 * every other domain with it.  So TCP has lanes of its own:
 *   - UDP channels ignore truncation (ARES_FLAG_IGNTC): a truncated
 *     NOERROR reply comes back to the backend, which queues the query
 *     again -- first in its site's line -- for the TCP lane;
 *   - TCP lane: up to TCP_CHANNELS shared channels (ARES_FLAG_USEVC, one
 *     try per server, TCP_CHAN_SENT queries each, TCP_SITE_SENT per site),
 *     whose connections carry the queries of many sites, as RFC 7766
 *     wants; the main lane's channels are such channels too with
 *     MDSPF_CARES_USE_TCP;
 *   - solo lane: a query whose shared connection failed -- c-ares says
 *     ARES_ECONNREFUSED, its status when no server gave an answer -- or
 *     that timed out on it (when tries > 1) is asked once more on a
 *     channel of its own (a fresh connection per server, twice the
 *     timeout: c-ares' second round), up to SOLO_CHANNELS at a time; that
 *     answer is final.
 * So a failed connection fails only the queries that were on it, and
 * each only after a retry of its own on a fresh connection; the culprit
 * fails again there, the others are answered.  A reply that is still
 * truncated over TCP is final, and answer.c makes it an error.
 *
 * Tokens.  c-ares 1.18 cannot cancel one query, so every query gets a
 * small token (the c-ares callback argument, and the resolver token the
 * core passes back to cancel()).  In an own UDP channel cancel() takes
 * it out at once.  In a c-ares channel cancel() only marks a token
 * and forgets q; the token stays on its channel's list until c-ares calls
 * back (answer, timeout, ARES_ECANCELLED or ARES_EDESTRUCTION), which
 * frees it quietly.  When every query left in a channel is a cancelled
 * one, ares_cancel() ends them all at once, so abandoned lookups do not
 * keep sockets and timers alive.  A token still waiting in its site's
 * queue is freed at once when cancelled.
 *
 * Free lists.  Tokens and sites are made and dropped for every query, so
 * they have one size each (a token holds no name: it asks for its
 * query's, see TOKEN_SMALL_SIZE; a site has room for the longest key)
 * and the ones dropped are kept for reuse, up to FREE_TOKENS and FREE_SITES:
 * one check at a time, or a steady load below those numbers, allocates
 * nothing in the backend per query.  What is kept is bounded and goes
 * with the free.
 *
 * Re-entrancy.  Answers are delivered from inside c-ares calls
 * (ares_process_fd, ares_query, ares_cancel, ares_destroy), and delivery
 * runs the SPF engine and user callbacks, which may start queries,
 * cancel others, or ask to free the backend.  c->in_ares counts those
 * nested c-ares calls, c->in_hook the host's watch and timer callbacks:
 * work that c-ares itself does not tolerate from its callbacks
 * (ares_cancel, ares_destroy, re-entering ares_process_fd) and channels
 * opening or closing are refused or deferred until the backend is idle
 * again (leave() -> settle()).  Queries started from a hook wait in their
 * site's queue until then; queries started from a delivery callback go
 * straight to a channel with room.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <maildrop-spf/cares.h>

#include "cares_internal.h"
#include "udp.h"
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
 * query to a server through one socket per channel, so the answers to
 * hundreds of concurrent checks arrive in one burst; the default buffer
 * (~200 KiB, i.e. a few hundred small datagrams) overflows and the lost
 * answers cost a retransmission timeout each.  The kernel caps the value
 * at net.core.rmem_max; the memory is only used while answers queue. */
#define SOCK_RCVBUF (1 << 20)

/* Queries one UDP socket of an own channel carries before a new socket
 * (a new random source port) takes over: an off-path attacker who has
 * learnt the port of a socket kept for the backend's lifetime would
 * only have the 16-bit ID left to guess.  Opening a socket costs a few
 * system calls, so the price per query is nil. */
#define UDP_MAX_PER_SOCKET 1024

/* timer_due values besides a deadline */
#define DUE_NONE (-1L)   /* the host's timer is disarmed */
#define DUE_UNKNOWN (-2L) /* report the next value whatever it is */

/* Most queries in one channel at once.  The answers to every query in
 * flight may arrive in one burst on its UDP socket, and what does not fit
 * in the socket's receive buffer is lost.  128 answers of EDNS size (1232
 * octets, ~2.3 KiB of buffer each) fit in the ~420 KiB a stock kernel
 * grants SOCK_RCVBUF above. */
#define CHAN_SENT 128

/* Channels in the pool: mdspf_cares_options.max_channels, default and
 * most (the bound keeps sockets -- one per server and channel -- and
 * memory in check: 64 channels are 8,192 queries in flight). */
#define CHANNELS_DEFAULT 16
#define CHANNELS_MAX 64

/* Most queries of one site in the main lane at once: one channel's worth
 * (what the whole backend took before the pool: a burst for one popular
 * domain is as fast as it was), but never more than half the pool, so
 * even with max_channels 1 one site leaves room for the others. */
#define SITE_SENT(chan_sent, chans)                                          \
  ((chans) > 1 ? (chan_sent) : (chan_sent) / 2)

/* The TCP lane: shared channels, queries per channel and per site.  The
 * answers are flow-controlled, so the bound is about what one failing
 * connection takes with it, and what a server pipelines. */
#define TCP_CHANNELS 4
#define TCP_CHAN_SENT 32
#define TCP_SITE_SENT 16

/* The solo lane: retries on a connection of their own, at once, and per
 * site.  Each is a channel (~75 KiB) for one query. */
#define SOLO_CHANNELS 16
#define SOLO_SITE_SENT 4

/* Longest site key: a name is at most 253 octets. */
#define SITE_KEY_MAX 253

/* Tokens and sites kept for reuse (see "Free lists" at the top): about
 * 75 KiB and 25 KiB at most. */
#define FREE_TOKENS 128
#define FREE_SITES 64

/* The site hash table starts with (and never shrinks below) this many
 * buckets; it doubles when there are more sites than buckets and halves
 * when there are fewer than an eighth. */
#define SITE_TAB_MIN 64

/* Lanes: the ways a query can wait for a channel.  Every lane has its
 * own channels, its own bounds and its own ready list of sites. */
enum {
  LANE_MAIN = 0, /* first try: UDP (TCP with MDSPF_CARES_USE_TCP) */
  LANE_TCP = 1,  /* after a truncated UDP reply: shared TCP channels */
  LANE_SOLO = 2, /* after a failed shared connection: one's own */
  NLANES = 3
};

enum { TOK_QUEUED = 1, TOK_SENT = 2 };

typedef struct cares_site cares_site;
typedef struct cares_chan cares_chan;

typedef struct cares_token {
  struct mdspf_cares *c;
  mdspf_dns_query *q; /* NULL once cancelled or completed */
  mdspf__link link;   /* on its site's lane queue, or its channel's list */
  cares_site *site;   /* holds a reference (site->ntokens) */
  cares_chan *chan;   /* TOK_SENT: the channel it is in */
  size_t size;        /* of this allocation */
  int rrtype;
  int lane;       /* LANE_*: the lane it waits in or was sent through */
  int state;      /* TOK_* */
  int submitting; /* inside ares_query(): do not free on completion */
  int completed;  /* c-ares called back while submitting */
  int own_name;   /* name[] holds the name (else it is q's) */
  struct cares_token *next_free; /* on the free list */
  mdspf__udpq uq; /* TOK_SENT in an own UDP channel: its state there */
  char name[];    /* own_name: the name escaped for ares_query */
} cares_token;

/* The name a token asks for is needed whenever it goes to c-ares: at
 * the first try, and again for the TCP and solo lanes -- always while
 * its query q is alive (a cancelled token is never sent again).  The
 * library asks for q's own name (mdspf_dns_query_name), so a token
 * normally has no copy of it and escapes q's name when it is sent: a
 * query out costs about 100 octets here.  Only a query whose name
 * differs from its q's (a host's resolver in between that rewrote it)
 * gets a token with room for the longest escaped name; the free list
 * keeps the small ones only. */
#define TOKEN_SMALL_SIZE (sizeof(cares_token))
#define TOKEN_SIZE (sizeof(cares_token) + ESC_NAME_MAX + 1)

#define TOKEN(k) MDSPF__CONTAINER(k, cares_token, link)

/* A site's state in one lane. */
typedef struct site_lane {
  mdspf__list queue; /* tokens waiting, first in first out */
  mdspf__link ready; /* on the lane's ready list (see site_ready) */
  size_t sent;       /* tokens in c-ares (cancelled ones too) */
} site_lane;

struct cares_site {
  cares_site *hnext; /* hash chain */
  site_lane ln[NLANES];
  size_t ntokens; /* tokens referring to it: freed at 0 */
  size_t size;    /* of this allocation */
  uint32_t hash;
  size_t keylen;
  cares_site *next_free; /* on the free list */
  char key[]; /* lower case, NUL-terminated */
};

/* Every site has room for the longest key. */
#define SITE_SIZE (sizeof(cares_site) + SITE_KEY_MAX + 1)

struct cares_chan {
  struct mdspf_cares *c;
  ares_channel ch;
  mdspf__link link; /* on its lane's list of channels */
  mdspf__list sent; /* tokens in c-ares (cancelled ones too) */
  size_t live;      /* of them, the ones not cancelled */
  int lane;
  int primary; /* made at creation, kept until the free */
  int spent;   /* a solo channel that had its query: never reused */
  int own;     /* our own UDP transport (u), not c-ares (ch is NULL) */
  mdspf__udp u;
};

#define CHAN(k) MDSPF__CONTAINER(k, cares_chan, link)

typedef struct cares_lane {
  mdspf__list chans; /* open channels, oldest first */
  mdspf__list ready; /* sites with tokens waiting and room: take turns */
  size_t chan_sent;  /* queries in one channel at most */
  size_t max_chans;  /* channels at most */
  size_t site_sent;  /* queries of one site in this lane's channels */
  unsigned flags;    /* ARES_FLAG_* of its channels */
  int tries, timeout_ms;
} cares_lane;

typedef struct cares_fd {
  int fd;
  int events; /* 1 read, 2 write */
  cares_chan *chan;
} cares_fd;

struct mdspf_cares {
  mdspf_alloc_fn afn;
  void *aud;
  mdspf_resolver res;
  /* channels */
  cares_lane lanes[NLANES];
  cares_chan *primary;
  int optmask;     /* ARES_OPT_ROTATE or _NOROTATE */
  int ednspsz;
  int tries;       /* mdspf_cares_options.tries */
  size_t nservers; /* of every channel */
  /* the servers, given or read from the system at creation: every
   * c-ares channel gets them, and own_udp channels use ucfg */
  struct ares_addr_port_node *srv_nodes;
  size_t srv_cap;
  int own_udp; /* the main lane is our UDP transport (see udp.h) */
  mdspf__udp_cfg ucfg;
  size_t fd_slots; /* sockets the open channels may have: 2 per server */
  /* sites */
  cares_site **tab;
  size_t tab_n, nsites;
  /* event-loop hooks */
  mdspf_watch_fn watch;
  mdspf_timer_fn timer;
  void *loop_ud;
  long timer_due; /* deadline last reported (monotonic ms) or DUE_* */
  /* queries */
  size_t pending; /* tokens neither cancelled nor completed */
  unsigned long delivered;
  /* sockets c-ares asked to be watched, of every channel */
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
  /* dropped tokens and sites kept for reuse */
  cares_token *free_tokens;
  size_t nfree_tokens;
  cares_site *free_sites;
  size_t nfree_sites;
};

static int destroy(mdspf_cares *c);
static int settle(mdspf_cares *c);
static int maybe_free(mdspf_cares *c);
static void cares_ref(void *impl);
static void cares_unref(void *impl);

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

/* A zeroed token (its name not), with room for an escaped name when
 * own_name; a small one from the free list when it has one. */
static cares_token *token_alloc(mdspf_cares *c, int own_name) {
  size_t size = own_name ? TOKEN_SIZE : TOKEN_SMALL_SIZE;
  cares_token *t = size == TOKEN_SMALL_SIZE ? c->free_tokens : NULL;
  if (t) {
    c->free_tokens = t->next_free;
    c->nfree_tokens--;
    memset(t, 0, sizeof *t);
  } else {
    t = c_alloc(c, size);
    if (!t) {
      return NULL;
    }
  }
  t->size = size;
  return t;
}

/* The memory of a token that is done with: kept for reuse while the
 * free list has room and the backend is open. */
static void token_release(mdspf_cares *c, cares_token *t) {
  if (t->size == TOKEN_SMALL_SIZE && c->nfree_tokens < FREE_TOKENS &&
      !c->closing) {
    t->next_free = c->free_tokens;
    c->free_tokens = t;
    c->nfree_tokens++;
  } else {
    c_free(c, t, t->size);
  }
}

static cares_site *site_alloc(mdspf_cares *c) {
  cares_site *s = c->free_sites;
  if (s) {
    c->free_sites = s->next_free;
    c->nfree_sites--;
    memset(s, 0, sizeof *s);
  } else {
    s = c_alloc(c, SITE_SIZE);
    if (!s) {
      return NULL;
    }
  }
  s->size = SITE_SIZE;
  return s;
}

static void site_release(mdspf_cares *c, cares_site *s) {
  if (c->nfree_sites < FREE_SITES && !c->closing) {
    s->next_free = c->free_sites;
    c->free_sites = s;
    c->nfree_sites++;
  } else {
    c_free(c, s, s->size);
  }
}

/* Empty both free lists (the backend closes). */
static void free_lists_drop(mdspf_cares *c) {
  while (c->free_tokens) {
    cares_token *t = c->free_tokens;
    c->free_tokens = t->next_free;
    c_free(c, t, t->size);
  }
  while (c->free_sites) {
    cares_site *s = c->free_sites;
    c->free_sites = s->next_free;
    c_free(c, s, s->size);
  }
  c->nfree_tokens = c->nfree_sites = 0;
}

/* ---- time ---------------------------------------------------------------- */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Milliseconds until channel h wants a timeout pass, rounded up so that a
 * poll or a host timer never wakes just before it; -1 when it has no
 * query at all. */
static long chan_ms(const cares_chan *h) {
  struct timeval tv, *r;
  if (h->own) {
    return mdspf__udp_ms(&h->u, now_ms());
  }
  r = ares_timeout(h->ch, NULL, &tv);
  if (!r) {
    return -1;
  }
  if (r->tv_sec < 0 || (r->tv_sec == 0 && r->tv_usec <= 0)) {
    return 0;
  }
  if (r->tv_sec > (LONG_MAX / 1000L) - 1) {
    return LONG_MAX / 2;
  }
  return (long)r->tv_sec * 1000L + ((long)r->tv_usec + 999L) / 1000L;
}

/* The earliest of every channel's; -1 when no channel has a query. */
static long ares_ms(const mdspf_cares *c) {
  long best = -1;
  int l;
  for (l = 0; l < NLANES; l++) {
    mdspf__link *k;
    for (k = c->lanes[l].chans.head; k; k = k->next) {
      long ms = chan_ms(CHAN(k));
      if (ms >= 0 && (best < 0 || ms < best)) {
        best = ms;
      }
    }
  }
  return best;
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

static void fd_set_events(mdspf_cares *c, cares_chan *h, int fd,
                          int events) {
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
    c->fds[i].chan = h;
    return;
  }
  if (fd_reserve(c, c->nfds + 1) != 0) {
    /* cannot happen with c-ares 1.18 (the table has room for two sockets
     * per server of every open channel); stay correct anyway */
    c->fds_lost = 1;
    return;
  }
  c->fds[c->nfds].fd = fd;
  c->fds[c->nfds].events = events;
  c->fds[c->nfds].chan = h;
  c->nfds++;
}

/* ARES_OPT_SOCK_STATE_CB: c-ares opens, re-arms or is about to close a
 * socket of channel data.  Called from inside c-ares calls only. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable,
                          int writable) {
  cares_chan *h = data;
  mdspf_cares *c = h->c;
  int rd = readable ? 1 : 0, wr = writable ? 1 : 0;
  fd_set_events(c, h, (int)fd, rd | (wr << 1));
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
  int l;
  if (!c->fds_lost) {
    return n;
  }
  for (l = 0; l < NLANES; l++) {
    mdspf__link *lk;
    for (lk = c->lanes[l].chans.head; lk; lk = lk->next) {
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      int bits, k;
      if (CHAN(lk)->own) {
        continue; /* its sockets are always in the table */
      }
      bits = ares_getsock(CHAN(lk)->ch, socks, ARES_GETSOCK_MAXNUM);
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

/* Socket fd is ready: let its channel read or write it.  A socket not in
 * the table (closed meanwhile, or lost) goes to every channel: each
 * ignores a socket that is not its own.  Inside enter()/leave(). */
static void proc_fd(mdspf_cares *c, int fd, int rd, int wr) {
  ares_socket_t r = rd && fd >= 0 ? fd : ARES_SOCKET_BAD;
  ares_socket_t w = wr && fd >= 0 ? fd : ARES_SOCKET_BAD;
  size_t i = fd >= 0 ? fd_find(c, fd) : SIZE_MAX;
  int l;
  if (i != SIZE_MAX) {
    cares_chan *h = c->fds[i].chan;
    if (!h->own) {
      ares_process_fd(h->ch, r, w);
    } else if (rd) {
      mdspf__udp_read(&h->u, fd);
    }
    return;
  }
  for (l = 0; l < NLANES; l++) {
    mdspf__link *k;
    for (k = c->lanes[l].chans.head; k; k = k->next) {
      if (!CHAN(k)->own) {
        ares_process_fd(CHAN(k)->ch, r, w);
      }
    }
  }
}

/* Timeouts and retries of every channel whose deadline has come (all of
 * them with all != 0): ares_process_fd does a channel's own timeouts
 * whenever it reads one of its sockets, but one channel busy with answers
 * must not hold back the timeouts of another.  Inside enter()/leave():
 * channels neither open nor close meanwhile. */
static void proc_timeouts(mdspf_cares *c, int all) {
  size_t open = 0;
  int l;
  for (l = 0; l < NLANES; l++) {
    mdspf__link *k;
    for (k = c->lanes[l].chans.head; k; k = k->next) {
      open += CHAN(k)->own ? 0 : 1;
    }
  }
  for (l = 0; l < NLANES; l++) {
    mdspf__link *k;
    for (k = c->lanes[l].chans.head; k; k = k->next) {
      cares_chan *h = CHAN(k);
      if (h->own) {
        /* reading a socket does no timeouts here: always looked at */
        if (chan_ms(h) == 0) {
          mdspf__udp_timeouts(&h->u, now_ms());
        }
      } else if ((all || open >= 2) && (all || chan_ms(h) == 0)) {
        /* (a lone c-ares channel did its timeouts with its sockets) */
        ares_process_fd(h->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      }
    }
  }
}

/* ---- sites ------------------------------------------------------------------ */

/* Second-level labels under which a two-letter country code registers
 * names (co.uk, com.au, or.jp, ...): a name there is grouped by three
 * labels. */
static const char *const cc_second[] = {
    "ac",  "co",  "com", "edu", "gob", "gov", "go",  "ltd", "mil",
    "ne",  "net", "nic", "nom", "or",  "org", "plc", "sch"};

static char lower(char ch) {
  return (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
}

/* The site of name (no trailing dot, at most 253 octets) into out
 * (SITE_KEY_MAX + 1 octets): the registered domain it is most likely
 * under, lower case.  Without a public suffix list this is a guess, good
 * enough for fairness: the last two labels; three under a two-letter
 * country code whose second label is one of cc_second; for reverse names
 * the /24 (in-addr.arpa) or the /48 (ip6.arpa), which is how address
 * space is delegated.  Returns its length. */
static size_t site_key(const char *name, char *out) {
  size_t n = strlen(name), i, start, want = 2, seen = 0;
  size_t dots[16]; /* positions of the last dots, last first */
  if (n > SITE_KEY_MAX) {
    n = SITE_KEY_MAX;
  }
  for (i = 0; i < n; i++) {
    out[i] = lower(name[i]);
  }
  out[n] = '\0';
  for (i = n; i > 0 && seen < sizeof dots / sizeof dots[0]; i--) {
    if (out[i - 1] == '.') {
      dots[seen++] = i - 1;
    }
  }
  if (n >= 13 && strcmp(out + n - 13, ".in-addr.arpa") == 0) {
    want = 5;
  } else if (n >= 9 && strcmp(out + n - 9, ".ip6.arpa") == 0) {
    want = 14;
  } else if (seen >= 2 && n - dots[0] - 1 == 2) {
    size_t k, len = dots[0] - dots[1] - 1;
    for (k = 0; k < sizeof cc_second / sizeof cc_second[0]; k++) {
      if (strlen(cc_second[k]) == len &&
          memcmp(out + dots[1] + 1, cc_second[k], len) == 0) {
        want = 3;
        break;
      }
    }
  }
  if (seen < want) {
    return n; /* the whole name */
  }
  start = dots[want - 1] + 1;
  memmove(out, out + start, n - start + 1);
  return n - start;
}

static uint32_t key_hash(const char *k, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)k[i];
    h *= 16777619u;
  }
  return h;
}

/* Rehash into nb buckets (a power of two); on failure keep the old. */
static void site_rehash(mdspf_cares *c, size_t nb) {
  cares_site **nt = c_alloc_array(c, nb, sizeof *nt);
  size_t i;
  if (!nt) {
    return;
  }
  for (i = 0; i < c->tab_n; i++) {
    cares_site *s = c->tab[i], *next;
    for (; s; s = next) {
      next = s->hnext;
      s->hnext = nt[s->hash & (nb - 1)];
      nt[s->hash & (nb - 1)] = s;
    }
  }
  c_free(c, c->tab, c->tab_n * sizeof *c->tab);
  c->tab = nt;
  c->tab_n = nb;
}

/* The site of name, made if new, with one more reference; NULL when
 * there is no memory. */
static cares_site *site_get(mdspf_cares *c, const char *name) {
  char key[SITE_KEY_MAX + 1];
  size_t n = site_key(name, key);
  uint32_t h = key_hash(key, n);
  cares_site *s;
  if (c->tab) {
    for (s = c->tab[h & (c->tab_n - 1)]; s; s = s->hnext) {
      if (s->hash == h && s->keylen == n && memcmp(s->key, key, n) == 0) {
        s->ntokens++;
        return s;
      }
    }
  }
  if (!c->tab) {
    site_rehash(c, SITE_TAB_MIN);
    if (!c->tab) {
      return NULL;
    }
  } else if (c->nsites >= c->tab_n && c->tab_n <= SIZE_MAX / 4) {
    site_rehash(c, c->tab_n * 2); /* failure: longer chains */
  }
  s = site_alloc(c);
  if (!s) {
    return NULL;
  }
  s->hash = h;
  s->keylen = n;
  memcpy(s->key, key, n + 1);
  s->hnext = c->tab[h & (c->tab_n - 1)];
  c->tab[h & (c->tab_n - 1)] = s;
  c->nsites++;
  s->ntokens = 1;
  return s;
}

/* Drop a reference; the site goes with its last token (its queues are
 * empty then, so it is on no ready list). */
static void site_put(mdspf_cares *c, cares_site *s) {
  cares_site **pp;
  if (--s->ntokens > 0) {
    return;
  }
  for (pp = &c->tab[s->hash & (c->tab_n - 1)]; *pp; pp = &(*pp)->hnext) {
    if (*pp == s) {
      *pp = s->hnext;
      break;
    }
  }
  c->nsites--;
  site_release(c, s);
  if (c->tab_n > SITE_TAB_MIN && c->nsites < c->tab_n / 8) {
    site_rehash(c, c->tab_n / 2); /* kept at SITE_TAB_MIN until the free */
  }
}

#define SITE_OF_READY(k, l)                                                  \
  ((cares_site *)(void *)((char *)(k)-offsetof(cares_site, ln) -             \
                          (size_t)(l) * sizeof(site_lane) -                  \
                          offsetof(site_lane, ready)))

/* Keep the invariant: a site is on lane l's ready list exactly when it
 * has tokens waiting there and room under the lane's bound for a site. */
static void site_ready(mdspf_cares *c, cares_site *s, int l) {
  cares_lane *L = &c->lanes[l];
  site_lane *sl = &s->ln[l];
  int want = sl->queue.count > 0 && sl->sent < L->site_sent;
  int on = mdspf__list_linked(&L->ready, &sl->ready);
  if (want && !on) {
    mdspf__list_push_back(&L->ready, &sl->ready);
  } else if (!want && on) {
    mdspf__list_remove(&L->ready, &sl->ready);
  }
}

/* Socket functions for c-ares.  Its own TCP path writes with writev(),
 * which raises SIGPIPE when the server has closed the connection and
 * would kill a host that did not ignore the signal; a library must not
 * demand that.  These wrappers are the plain calls, except that sends go
 * through sendmsg(MSG_NOSIGNAL) (SO_NOSIGPIPE on macOS).  With socket functions installed c-ares
 * 1.18 leaves the sockets unconfigured ("user-managed"), so asocket()
 * does what it would do: non-blocking, close-on-exec, a large receive
 * buffer for UDP (see SOCK_RCVBUF) and no Nagle delay for TCP. */
/* Linux and the BSDs have MSG_NOSIGNAL; macOS has the socket option
 * SO_NOSIGPIPE instead (set in sf_socket). */
#if defined(MSG_NOSIGNAL)
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#if !defined(SO_NOSIGPIPE)
#error "neither MSG_NOSIGNAL nor SO_NOSIGPIPE: a closed TCP connection would raise SIGPIPE"
#endif
#endif

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
#if defined(SO_NOSIGPIPE)
  if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) != 0) {
    close(fd);
    return ARES_SOCKET_BAD;
  }
#endif
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
  return sendmsg(fd, &m, SEND_FLAGS);
}

/* Immutable, shared by every channel. */
static const struct ares_socket_functions socket_functions = {
    sf_socket, sf_close, sf_connect, sf_recvfrom, sf_sendv};

/* ---- own UDP channels ------------------------------------------------------ */

static void on_ares_done(void *arg, int status, int timeouts,
                         unsigned char *abuf, int alen);

#define TOKEN_OF_UQ(p) MDSPF__CONTAINER(p, cares_token, uq)

/* The raw name of the token's query (see TOKEN_SMALL_SIZE: its q is
 * alive while it is in a channel -- a cancelled one leaves at once). */
static const char *udp_name(mdspf__udpq *uq, char *buf, size_t bufsz,
                            void *ud) {
  cares_token *t = TOKEN_OF_UQ(uq);
  (void)ud;
  if (!t->q) {
    return NULL;
  }
  if (t->own_name) {
    return mdspf__cares_unescape_name(t->name, buf, bufsz) >= 0 ? buf : NULL;
  }
  return mdspf_dns_query_name(t->q);
}

static void udp_done(mdspf__udpq *uq, int status, const unsigned char *abuf,
                     int alen, void *ud) {
  (void)ud;
  /* on_ares_done only reads the answer */
  on_ares_done(TOKEN_OF_UQ(uq), status, 0,
               (unsigned char *)(uintptr_t)abuf, alen);
}

/* A socket of own channel ud opened or closing: the table and the host's
 * watch hook learn it, as from sock_state_cb. */
static void udp_sock(int fd, int open, void *ud) {
  cares_chan *h = ud;
  mdspf_cares *c = h->c;
  fd_set_events(c, h, fd, open ? 1 : 0);
  if (c->watch) {
    c->in_hook++;
    c->watch(c->loop_ud, fd, open ? 1 : 0, 0);
    c->in_hook--;
  }
}

static const mdspf__udp_ops udp_ops = {udp_name, udp_done, udp_sock};

/* ---- channels ------------------------------------------------------------- */

/* Open a channel for lane l, configured like every other of the lane and
 * talking to the primary's servers.  NULL on failure, and *err says why:
 * MDSPF_E_NOMEM, or MDSPF_E_DNS when c-ares could not initialise. */
static cares_chan *chan_open(mdspf_cares *c, int l, int *err) {
  cares_lane *L = &c->lanes[l];
  struct ares_options ao;
  size_t slots = 2 * (c->nservers > 0 ? c->nservers : 1);
  cares_chan *h;
  int mask, st;
  /* c-ares 1.18 opens at most one UDP and one TCP socket per server and
   * channel: reserving that now means sock_state_cb never allocates */
  *err = MDSPF_E_NOMEM;
  if (fd_reserve(c, c->fd_slots + slots) != 0) {
    return NULL;
  }
  h = c_alloc(c, sizeof *h);
  if (!h) {
    return NULL;
  }
  h->c = c;
  h->lane = l;
  if (l == LANE_MAIN && c->own_udp) {
    h->own = 1;
    mdspf__udp_init(&h->u, &c->ucfg, &udp_ops, h);
    *err = MDSPF_OK;
    c->fd_slots += slots;
    mdspf__list_push_back(&L->chans, &h->link);
    return h;
  }
  memset(&ao, 0, sizeof ao);
  mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
         ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_RCVBUF |
         c->optmask;
  ao.flags = (int)L->flags;
  ao.timeout = L->timeout_ms;
  ao.tries = L->tries;
  ao.ednspsz = c->ednspsz;
  ao.socket_receive_buffer_size = SOCK_RCVBUF;
  ao.sock_state_cb = sock_state_cb;
  ao.sock_state_cb_data = h;
  /* No ares_library_init: a no-op on POSIX in 1.18, and global. */
  st = ares_init_options(&h->ch, &ao, mask);
  if (st != ARES_SUCCESS) {
    *err = st == ARES_ENOMEM ? MDSPF_E_NOMEM : MDSPF_E_DNS;
    c_free(c, h, sizeof *h);
    return NULL;
  }
  ares_set_socket_functions(h->ch, &socket_functions, NULL);
  if (c->srv_nodes) {
    /* the servers given, or read from the system at creation */
    st = ares_set_servers_ports(h->ch, c->srv_nodes);
    if (st != ARES_SUCCESS) {
      *err = st == ARES_ENOMEM ? MDSPF_E_NOMEM : MDSPF_E_DNS;
      ares_destroy(h->ch);
      c_free(c, h, sizeof *h);
      return NULL;
    }
  }
  *err = MDSPF_OK;
  c->fd_slots += slots;
  mdspf__list_push_back(&L->chans, &h->link);
  return h;
}

/* Close channel h, which must not be on the stack (settle, or the free).
 * Queries still in it complete with ARES_EDESTRUCTION. */
static void chan_close(mdspf_cares *c, cares_chan *h) {
  size_t i;
  c->in_ares++;
  if (h->own) {
    /* what is still in it ends as a destroyed c-ares channel's would */
    while (h->sent.head) {
      cares_token *t = TOKEN(h->sent.head);
      mdspf__udp_cancel(&h->u, &t->uq);
      on_ares_done(t, ARES_EDESTRUCTION, 0, NULL, 0);
    }
    mdspf__udp_close(&h->u); /* reports its sockets through udp_sock */
  } else {
    ares_destroy(h->ch); /* reports its sockets through sock_state_cb */
  }
  c->in_ares--;
  /* not expected: c-ares reports every socket it closes */
  for (i = 0; i < c->nfds;) {
    if (c->fds[i].chan == h) {
      int fd = c->fds[i].fd;
      c->fds[i] = c->fds[--c->nfds];
      if (c->watch) {
        c->in_hook++;
        c->watch(c->loop_ud, fd, 0, 0);
        c->in_hook--;
      }
    } else {
      i++;
    }
  }
  while (h->sent.head) {
    /* not expected either: c-ares calls back for every query it holds */
    cares_token *t = TOKEN(h->sent.head);
    mdspf__list_remove(&h->sent, &t->link);
    t->site->ln[t->lane].sent--;
    site_put(c, t->site);
    token_release(c, t);
  }
  c->fd_slots -= 2 * (c->nservers > 0 ? c->nservers : 1);
  mdspf__list_remove(&c->lanes[h->lane].chans, &h->link);
  if (c->primary == h) {
    c->primary = NULL;
  }
  c_free(c, h, sizeof *h);
}

/* The first open channel of lane l with room, NULL if none. */
static cares_chan *chan_room(const mdspf_cares *c, int l) {
  const cares_lane *L = &c->lanes[l];
  mdspf__link *k;
  for (k = L->chans.head; k; k = k->next) {
    if (!CHAN(k)->spent && CHAN(k)->sent.count < L->chan_sent) {
      return CHAN(k);
    }
  }
  return NULL;
}

/* Close the extra channels that are empty while the others of their lane
 * are at most half full (so a load around one channel's worth does not
 * open and close one all the time), and solo channels once their query
 * is done.  Idle only. */
static void reap(mdspf_cares *c) {
  int l;
  for (l = 0; l < NLANES && !c->closing; l++) {
    cares_lane *L = &c->lanes[l];
    mdspf__link *k, *next;
    size_t load = 0;
    for (k = L->chans.head; k; k = k->next) {
      load += CHAN(k)->sent.count;
    }
    for (k = L->chans.head; k; k = next) {
      cares_chan *h = CHAN(k);
      next = k->next;
      if (h->primary || h->sent.count > 0) {
        continue;
      }
      if (h->spent || load <= (L->chans.count - 1) * L->chan_sent / 2) {
        chan_close(c, h);
      }
    }
  }
}

/* ---- tokens ---------------------------------------------------------------- */

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

static void token_free(mdspf_cares *c, cares_token *t) {
  site_put(c, t->site);
  token_release(c, t);
}

/* Put t at the back of its site's queue in lane l. */
static void enqueue(mdspf_cares *c, cares_token *t, int l) {
  t->lane = l;
  t->state = TOK_QUEUED;
  t->chan = NULL;
  mdspf__list_push_back(&t->site->ln[l].queue, &t->link);
  site_ready(c, t->site, l);
}

/* Where a query goes after channel h called back with status, instead of
 * to the core: the lane it waits in next, or -1 when the answer is final
 * (see "TCP" at the top). */
static int next_lane(const mdspf_cares *c, const cares_chan *h, int status,
                     const unsigned char *abuf, int alen) {
  if (!(c->lanes[h->lane].flags & ARES_FLAG_USEVC)) {
    /* UDP, truncation ignored: a NOERROR reply with TC, or one c-ares
     * cut to the UDP size it asked for (512, or the EDNS size), is asked
     * again over TCP */
    if ((status == ARES_SUCCESS || status == ARES_ENODATA) && abuf &&
        alen >= 12 &&
        ((abuf[2] & 0x02) != 0 || alen == 512 || alen >= c->ednspsz)) {
      return LANE_TCP;
    }
    return -1;
  }
  if (h->lane == LANE_SOLO) {
    return -1;
  }
  /* a shared TCP connection: it failed under the query, or the query
   * timed out on it */
  if (status == ARES_ECONNREFUSED ||
      (status == ARES_ETIMEOUT && c->tries > 1)) {
    return LANE_SOLO;
  }
  return -1;
}

/* The c-ares callback.  Exactly one call per ares_query (c-ares
 * guarantees it, destruction included), which is what frees the token --
 * unless the query is to be asked again elsewhere (next_lane). */
static void on_ares_done(void *arg, int status, int timeouts,
                         unsigned char *abuf, int alen) {
  cares_token *t = arg;
  mdspf_cares *c = t->c;
  cares_chan *h = t->chan;
  mdspf_dns_query *q = t->q;
  int rrtype = t->rrtype, next;
  (void)timeouts;
  mdspf__list_remove(&h->sent, &t->link);
  t->site->ln[t->lane].sent--;
  site_ready(c, t->site, t->lane);
  t->chan = NULL;
  if (q && !c->closing &&
      (next = next_lane(c, h, status, abuf, alen)) >= 0) {
    /* first in its site's line: it has waited its turn already; sent
     * from settle(), or submit()'s caller when this is inline */
    h->live--;
    t->lane = next;
    t->state = TOK_QUEUED;
    mdspf__list_push_front(&t->site->ln[next].queue, &t->link);
    site_ready(c, t->site, next);
    return;
  }
  if (q) {
    h->live--;
    t->q = NULL;
    c->pending--;
    c->delivered++;
  }
  if (t->submitting) {
    t->completed = 1; /* submit() frees it after ares_query returns */
  } else {
    token_free(c, t);
  }
  if (q) {
    /* may run the engine and user callbacks: nothing above may be
     * touched afterwards but c */
    mdspf__cares_answer(q, rrtype, status, abuf, alen, c->afn, c->aud);
  }
}

/* Hand t (counted in its site's sent already) to channel h.  ares_query
 * (never ares_search: no search domains) may complete before it returns
 * -- bad name, out of memory, no server -- and then the token is gone:
 * returns NULL. */
static cares_token *submit(mdspf_cares *c, cares_chan *h, cares_token *t) {
  char esc[ESC_NAME_MAX + 1];
  const char *name = t->name;
  if (h->own) {
    name = ""; /* udp_name gives it when it is needed */
  } else if (!t->own_name) {
    /* q is alive (see TOKEN_SMALL_SIZE) and its name was checked and
     * escaped once already by cares_query: this cannot fail */
    name = t->q && mdspf__cares_escape_name(mdspf_dns_query_name(t->q),
                                            esc, sizeof esc) >= 0
               ? esc
               : NULL;
  }
  t->state = TOK_SENT;
  t->chan = h;
  t->submitting = 1;
  t->completed = 0;
  mdspf__list_push_back(&h->sent, &t->link);
  h->live++;
  if (h->lane == LANE_SOLO) {
    h->spent = 1;
  }
  c->in_ares++;
  if (name && h->own) {
    memset(&t->uq, 0, sizeof t->uq);
    t->uq.rrtype = ares_type(t->rrtype);
    mdspf__udp_send(&h->u, &t->uq); /* may complete inline */
  } else if (name) {
    ares_query(h->ch, name, DNS_CLASS_IN, ares_type(t->rrtype),
               on_ares_done, t);
  } else {
    on_ares_done(t, ARES_EBADNAME, 0, NULL, 0); /* as c-ares would */
  }
  c->in_ares--;
  t->submitting = 0;
  if (t->completed) {
    token_free(c, t);
    return NULL;
  }
  return t;
}

/* No channel of lane l could be opened and none is open (no memory, or
 * c-ares failed to initialise): what waits there fails (TEMPFAIL) rather
 * than waiting for ever.  Every waiting site is on the ready list then:
 * nothing of the lane is in c-ares. */
static void fail_waiting(mdspf_cares *c, int l) {
  cares_lane *L = &c->lanes[l];
  while (L->ready.head && !c->closing) {
    cares_site *s = SITE_OF_READY(L->ready.head, l);
    cares_token *t = TOKEN(s->ln[l].queue.head);
    mdspf_dns_query *q = t->q;
    int rrtype = t->rrtype;
    mdspf__list_remove(&s->ln[l].queue, &t->link);
    site_ready(c, s, l);
    token_free(c, t);
    c->pending--;
    c->delivered++;
    c->in_ares++; /* user code runs as in any delivery */
    mdspf__cares_answer(q, rrtype, ARES_ENOMEM, NULL, 0, c->afn, c->aud);
    c->in_ares--;
  }
}

/* Send what waits while channels have room (opening channels up to the
 * lane's bound), one query per ready site in turn.  Idle only; an inline
 * completion may run user code (it sees in_ares > 0).  The lanes go in
 * order, so a query an inline completion sends on (a failed TCP connect)
 * goes out in the same pass. */
static void launch(mdspf_cares *c) {
  int l;
  for (l = 0; l < NLANES; l++) {
    cares_lane *L = &c->lanes[l];
    while (L->ready.head && !c->closing && !c->free_req) {
      cares_site *s = SITE_OF_READY(L->ready.head, l);
      cares_token *t = TOKEN(s->ln[l].queue.head);
      cares_chan *h = chan_room(c, l);
      int err;
      if (!h && L->chans.count < L->max_chans) {
        h = chan_open(c, l, &err);
      }
      if (!h) {
        if (L->chans.count == 0) {
          fail_waiting(c, l);
        }
        break; /* every place taken: the next completion makes room */
      }
      mdspf__list_remove(&s->ln[l].queue, &t->link);
      s->ln[l].sent++;
      /* round robin: the site goes to the back of the line */
      mdspf__list_remove(&L->ready, &s->ln[l].ready);
      site_ready(c, s, l);
      (void)submit(c, h, t); /* the core keeps t as its token either way */
    }
  }
}

/* 1 when launch() could send something now. */
static int launchable(const mdspf_cares *c) {
  int l;
  for (l = 0; l < NLANES; l++) {
    const cares_lane *L = &c->lanes[l];
    if (L->ready.head &&
        (chan_room(c, l) || L->chans.count < L->max_chans)) {
      return 1;
    }
  }
  return 0;
}

/* Every query left in a channel was cancelled by the core: end them now
 * rather than letting them time out.  Only outside c-ares processing:
 * ares_cancel from a callback would free queries c-ares is iterating. */
static void sweep(mdspf_cares *c) {
  int l;
  if (c->in_ares > 0 || c->closing) {
    return;
  }
  for (l = 0; l < NLANES; l++) {
    mdspf__link *k;
    for (k = c->lanes[l].chans.head; k; k = k->next) {
      cares_chan *h = CHAN(k);
      /* (an own channel has no cancelled query: they leave at once) */
      if (!h->own && h->live == 0 && h->sent.count > 0) {
        c->in_ares++;
        ares_cancel(h->ch); /* callbacks only free cancelled tokens */
        c->in_ares--;
      }
    }
  }
}

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
 * what waits, end what was cancelled, close idle extra channels, report
 * the timer -- whose callback, like the watch callback of a closing
 * channel, may queue more --, and carry out a free asked for meanwhile.
 * Returns 1 when c was freed. */
static int settle(mdspf_cares *c) {
  int rounds = 0;
  for (;;) {
    launch(c);
    if (c->free_req) {
      return destroy(c);
    }
    sweep(c);
    reap(c);
    if (c->free_req) {
      return destroy(c);
    }
    timer_sync(c);
    if (c->free_req) {
      return destroy(c);
    }
    if (c->closing || !launchable(c) || ++rounds > 8) {
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
  cares_site *s;
  cares_chan *h;
  int len;
  if (!c || !q || !name || !token) {
    return MDSPF_E_INVAL;
  }
  *token = NULL;
  if (c->closing || c->free_req) {
    return MDSPF_E_STATE; /* the core completes q with TEMPFAIL */
  }
  if (ares_type(rrtype) < 0 || name[0] == '\0' || strlen(name) > 253) {
    return MDSPF_E_INVAL;
  }
  len = mdspf__cares_escape_name(name, esc, sizeof esc);
  if (len < 0) {
    return MDSPF_E_INVAL;
  }
  t = token_alloc(c, strcmp(name, mdspf_dns_query_name(q)) != 0);
  if (!t) {
    return MDSPF_E_NOMEM;
  }
  s = site_get(c, name);
  if (!s) {
    token_release(c, t);
    return MDSPF_E_NOMEM;
  }
  t->c = c;
  t->q = q;
  t->site = s;
  t->rrtype = rrtype;
  if (t->size == TOKEN_SIZE) {
    t->own_name = 1;
    memcpy(t->name, esc, (size_t)len + 1);
  }
  c->pending++;
  h = chan_room(c, LANE_MAIN);
  if (c->in_hook > 0 || !h || c->lanes[LANE_MAIN].ready.head ||
      s->ln[LANE_MAIN].sent >= c->lanes[LANE_MAIN].site_sent) {
    /* From the host's watch or timer callback (c-ares may be opening or
     * closing a socket right now), or no room in an open channel, or
     * others -- of this site or another -- wait for room: in line, sent
     * by settle() once the backend is idle (at once when it is). */
    enqueue(c, t, LANE_MAIN);
    *token = t;
    if (c->in_ares == 0 && c->in_hook == 0) {
      /* a host calling query() itself; its completion callback may free
       * the backend (then the token is gone, and never cancelled) */
      (void)settle(c);
    }
    return 0;
  }
  /* An inline completion only queues the answer in the core (we are
   * inside its query()), so normally no user code runs here. */
  t->lane = LANE_MAIN;
  s->ln[LANE_MAIN].sent++;
  *token = submit(c, h, t);
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
  if (!c || !t || !t->q) {
    return;
  }
  t->q = NULL; /* never touched again */
  c->pending--;
  if (t->state == TOK_QUEUED) {
    /* c-ares never saw it */
    cares_site *s = t->site;
    mdspf__list_remove(&s->ln[t->lane].queue, &t->link);
    site_ready(c, s, t->lane);
    token_free(c, t);
  } else if (t->chan->own) {
    /* out at once: a late answer to its ID is dropped */
    cares_chan *h = t->chan;
    mdspf__udp_cancel(&h->u, &t->uq);
    mdspf__list_remove(&h->sent, &t->link);
    h->live--;
    t->site->ln[t->lane].sent--;
    site_ready(c, t->site, t->lane);
    token_free(c, t);
  } else {
    t->chan->live--; /* the token waits for c-ares to call back */
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
  opt->max_channels = CHANNELS_DEFAULT;
}

static int options_valid(const mdspf_cares_options *o) {
  const unsigned known =
      MDSPF_CARES_NO_EDNS | MDSPF_CARES_USE_TCP | MDSPF_CARES_NO_ROTATE;
  return o->timeout_ms >= 10 && o->timeout_ms <= 60000 && o->tries >= 1 &&
         o->tries <= 10 && o->edns_size >= 512 && o->edns_size <= 4096 &&
         (o->flags & ~known) == 0 && o->max_channels >= 1 &&
         o->max_channels <= CHANNELS_MAX;
}

static int status_from_ares(int st) {
  return st == ARES_ENOMEM ? MDSPF_E_NOMEM : MDSPF_E_DNS;
}

/* The system's servers (resolv.conf, through c-ares) into c->srv_nodes:
 * a channel made only to read the configuration, then destroyed. */
static int system_servers(mdspf_cares *c) {
  struct ares_options ao;
  struct ares_addr_port_node *cur = NULL, *p;
  ares_channel ch;
  size_t n = 0, i;
  int st;
  memset(&ao, 0, sizeof ao);
  ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  /* No ares_library_init: a no-op on POSIX in 1.18, and global. */
  st = ares_init_options(&ch, &ao, ARES_OPT_FLAGS);
  if (st != ARES_SUCCESS) {
    return status_from_ares(st);
  }
  st = ares_get_servers_ports(ch, &cur);
  if (st != ARES_SUCCESS) {
    ares_destroy(ch);
    return status_from_ares(st);
  }
  for (p = cur; p && n < MAX_SERVERS; p = p->next) {
    n++;
  }
  if (n > 0) {
    c->srv_nodes = c_alloc_array(c, n, sizeof *c->srv_nodes);
    if (!c->srv_nodes) {
      ares_free_data(cur);
      ares_destroy(ch);
      return MDSPF_E_NOMEM;
    }
    for (p = cur, i = 0; i < n; p = p->next, i++) {
      c->srv_nodes[i] = *p;
      c->srv_nodes[i].next = i + 1 < n ? &c->srv_nodes[i + 1] : NULL;
    }
    c->srv_cap = n;
  }
  ares_free_data(cur);
  ares_destroy(ch);
  c->nservers = n;
  return MDSPF_OK;
}

/* The own UDP transport's configuration: the servers and options. */
static void udp_cfg_fill(mdspf_cares *c, const mdspf_cares_options *o) {
  mdspf__udp_cfg *u = &c->ucfg;
  const struct ares_addr_port_node *p;
  for (p = c->srv_nodes; p && u->nsrv < MDSPF__UDP_MAX_SERVERS; p = p->next) {
    mdspf__udp_server *s = &u->srv[u->nsrv];
    uint16_t port = (uint16_t)(p->udp_port > 0 ? p->udp_port : 53);
    memset(s, 0, sizeof *s);
    if (p->family == AF_INET) {
      s->addr.in4.sin_family = AF_INET;
      s->addr.in4.sin_port = htons(port);
      memcpy(&s->addr.in4.sin_addr, &p->addr.addr4, 4);
      s->len = sizeof s->addr.in4;
    } else if (p->family == AF_INET6) {
      s->addr.in6.sin6_family = AF_INET6;
      s->addr.in6.sin6_port = htons(port);
      memcpy(&s->addr.in6.sin6_addr, &p->addr.addr6, 16);
      s->len = sizeof s->addr.in6;
    } else {
      continue;
    }
    u->nsrv++;
  }
  if (u->nsrv == 0) {
    /* what c-ares does without a configured server */
    u->srv[0].addr.in4.sin_family = AF_INET;
    u->srv[0].addr.in4.sin_port = htons(53);
    u->srv[0].addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u->srv[0].len = sizeof u->srv[0].addr.in4;
    u->nsrv = 1;
  }
  u->tries = o->tries;
  u->timeout_ms = o->timeout_ms;
  u->edns_size = (o->flags & MDSPF_CARES_NO_EDNS) ? 0 : o->edns_size;
  u->no_rotate = (o->flags & MDSPF_CARES_NO_ROTATE) != 0;
  u->rcvbuf = SOCK_RCVBUF;
  u->max_per_socket = UDP_MAX_PER_SOCKET;
}

mdspf_status mdspf_cares_new(const mdspf_cares_options *opt, mdspf_cares **out) {
  mdspf_cares_options o;
  struct ares_addr_port_node *nodes = NULL;
  size_t nnodes = 0, cap = 0;
  mdspf_cares tmp, *c;
  cares_lane *L;
  int st;
  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  mdspf_cares_options_init(&o);
  if (opt) {
    if (opt->struct_size < OPTIONS_MIN_SIZE) {
      return MDSPF_E_INVAL;
    }
    /* a newer caller's struct may be longer, an older one's shorter: read
     * what both know, the defaults stand for the rest */
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
  c->optmask = (o.flags & MDSPF_CARES_NO_ROTATE) ? ARES_OPT_NOROTATE
                                                 : ARES_OPT_ROTATE;
  c->ednspsz = o.edns_size;
  c->nservers = nnodes;

  c->tries = o.tries;
  {
    /* never search domains or HOSTALIASES: SPF names are absolute */
    unsigned base = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
                    ((o.flags & MDSPF_CARES_NO_EDNS) ? 0u : ARES_FLAG_EDNS);
    /* TCP channels: one try per server, the backend retries on a fresh
     * connection of the query's own (see "TCP" at the top) */
    L = &c->lanes[LANE_TCP];
    L->chan_sent = TCP_CHAN_SENT;
    L->max_chans = TCP_CHANNELS;
    L->site_sent = TCP_SITE_SENT;
    L->flags = base | ARES_FLAG_USEVC;
    L->tries = 1;
    L->timeout_ms = o.timeout_ms;
    L = &c->lanes[LANE_SOLO];
    L->chan_sent = 1;
    L->max_chans = SOLO_CHANNELS;
    L->site_sent = SOLO_SITE_SENT;
    L->flags = base | ARES_FLAG_USEVC;
    L->tries = 1;
    L->timeout_ms = 2 * o.timeout_ms;
    L = &c->lanes[LANE_MAIN];
    if (o.flags & MDSPF_CARES_USE_TCP) {
      *L = c->lanes[LANE_TCP]; /* (its lists are still empty) */
    } else {
      /* UDP: a truncated reply comes back to us (next_lane) */
      L->chan_sent = CHAN_SENT;
      /* own UDP channels then (see "Own UDP"); these flags are for a
       * c-ares UDP channel, which none is: STAYOPEN, the sockets outlive
       * the queries (see "Channels") */
      L->flags = base | ARES_FLAG_IGNTC | ARES_FLAG_STAYOPEN;
      L->tries = o.tries;
      L->timeout_ms = o.timeout_ms;
    }
    L->max_chans = (size_t)o.max_channels;
    L->site_sent = SITE_SENT(L->chan_sent, L->max_chans);
  }

  if (nnodes > 0) {
    c->srv_nodes = nodes; /* freed with the channels */
    c->srv_cap = cap;
  } else {
    st = system_servers(c);
    if (st != MDSPF_OK) {
      c_free(&tmp, c, sizeof *c);
      return st;
    }
  }
  udp_cfg_fill(c, &o);
  c->own_udp = !(o.flags & MDSPF_CARES_USE_TCP);
  c->primary = chan_open(c, LANE_MAIN, &st);
  if (!c->primary) {
    c_free(&tmp, c->srv_nodes, c->srv_cap * sizeof *c->srv_nodes);
    c_free(&tmp, c->fds, c->fds_cap * sizeof *c->fds);
    c_free(&tmp, c, sizeof *c);
    return st;
  }
  c->primary->primary = 1;
  *out = c;
  return MDSPF_OK;
}

/* The user's free: every query fails (the teardown rule of every
 * resolver), the channels, sockets and timer go; from then on queries
 * are refused.  The handle itself stays while references remain. */
static cares_token *first_queued(const mdspf_cares *c) {
  size_t i;
  int l;
  for (l = 0; l < NLANES; l++) {
    if (c->lanes[l].ready.head) {
      return TOKEN(SITE_OF_READY(c->lanes[l].ready.head, l)->ln[l].queue.head);
    }
  }
  /* with every channel gone no site is held back by its bound, so the
   * ready lists hold them all; look everywhere all the same */
  for (i = 0; i < c->tab_n; i++) {
    const cares_site *s;
    for (s = c->tab[i]; s; s = s->hnext) {
      for (l = 0; l < NLANES; l++) {
        if (s->ln[l].queue.head) {
          return TOKEN(s->ln[l].queue.head);
        }
      }
    }
  }
  return NULL;
}

static void close_all(mdspf_cares *c) {
  cares_token *t;
  size_t i;
  int l;
  c->closing = 1;
  /* Every query still in c-ares completes with ARES_EDESTRUCTION, which
   * answer.c maps to TEMPFAIL (cancelled tokens are just freed); checks
   * may finish and their callbacks run from here.  c-ares then closes
   * its sockets, reporting each through sock_state_cb. */
  for (l = 0; l < NLANES; l++) {
    while (c->lanes[l].chans.head) {
      chan_close(c, CHAN(c->lanes[l].chans.head));
    }
  }
  /* queries that never reached c-ares complete the same way */
  while ((t = first_queued(c)) != NULL) {
    mdspf_dns_query *q = t->q;
    int rrtype = t->rrtype;
    mdspf__list_remove(&t->site->ln[t->lane].queue, &t->link);
    site_ready(c, t->site, t->lane);
    token_free(c, t);
    c->pending--;
    mdspf__cares_answer(q, rrtype, ARES_EDESTRUCTION, NULL, 0, c->afn,
                        c->aud);
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
  c_free(c, c->tab, c->tab_n * sizeof *c->tab); /* no site is left */
  c_free(c, c->srv_nodes, c->srv_cap * sizeof *c->srv_nodes);
  c->srv_nodes = NULL;
  c->srv_cap = 0;
  free_lists_drop(c);
  c->fds = NULL;
  c->pfd = NULL;
  c->tab = NULL;
  c->fds_cap = c->pfd_cap = c->tab_n = 0;
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
  close_all(c);
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
  if (!c || c->in_ares > 0 || c->in_hook > 0 || c->closing) {
    return; /* c-ares 1.18 must not be re-entered from its callbacks */
  }
  enter(c);
  proc_fd(c, fd, readable, writable);
  (void)leave(c);
}

void mdspf_cares_process_timeout(mdspf_cares *c) {
  if (!c || c->in_ares > 0 || c->in_hook > 0 || c->closing) {
    return;
  }
  /* the host's timer has fired: whatever is due next must be reported
   * again, even if it equals the old deadline */
  c->timer_due = DUE_UNKNOWN;
  enter(c);
  proc_timeouts(c, 1);
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
      proc_fd(c, c->pfd[i].fd, rd, wr);
    }
    if (!c->closing) {
      /* timeouts and retries: of every channel when poll timed out (or
       * was interrupted), else of those whose deadline has come -- a
       * busy channel must not hold back another's */
      proc_timeouts(c, n <= 0);
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

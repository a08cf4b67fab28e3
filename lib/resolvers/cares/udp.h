/*
 * lib/resolvers/cares/udp.h -- the backend's own DNS-over-UDP transport
 * (udp.c): what the first try of a query costs when c-ares is not in the
 * way.  Private to the c-ares backend, which still uses c-ares for the
 * system configuration and for TCP.
 *
 * A transport (mdspf__udp) is one of the backend's main-lane channels: one
 * connected UDP socket per server, opened at its first query and kept
 * until the transport is closed, the queries in it found by their DNS ID,
 * and their deadlines on one ordered list.  A query (mdspf__udpq) lives
 * inside its caller's token; the transport holds no memory of its own
 * per query, and a query can be withdrawn at once (mdspf__udp_cancel).
 *
 * Retries follow c-ares 1.18, whose behaviour the backend documents: a
 * query goes to the servers in turn, starting at a random one (or the
 * first with no_rotate), cfg->tries rounds in all; a try times out after
 * timeout_ms, doubled for each full round; a server that answers
 * SERVFAIL, NOTIMP or REFUSED, or that cannot be sent to, is not asked
 * again for that query (when there are others); the final status is the
 * last error (ARES_ECONNREFUSED when no server answered, ARES_ETIMEOUT
 * after a timeout, ARES_ESERVFAIL, ...).  A FORMERR to a query with EDNS
 * is asked once more of the same server without it.  Names under .onion
 * are never sent: they end in ARES_ENOTFOUND at once (RFC 7686), as in
 * c-ares.
 *
 * Answers are accepted only from a server the query was sent to (the
 * socket is connected; a server's retiring socket, see mdspf__udp, is
 * still read), with its ID, QR set, opcode QUERY and the same
 * single question (name compared case-insensitively, type and class).
 * Anything else on the socket is read and dropped.  IDs come from the
 * system's entropy source (getentropy), unique among the transport's
 * queries.
 *
 * Not thread-safe; every call from the backend's own thread, the way the
 * backend is used.  Callbacks (ops) run from inside send, read, timeouts
 * and close.  From inside done and sock the transport may be given new
 * queries and have any query cancelled, but not be read, timed out or
 * closed; name is an accessor, asked while a query is half-way through
 * its bookkeeping, and must not call into the transport at all.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CARES_UDP_H
#define MDSPF_CARES_UDP_H

#include "../../util/list.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Most servers a transport talks to (the backend accepts no more). */
#define MDSPF__UDP_MAX_SERVERS 32

/* Largest datagram read: the largest EDNS size the backend advertises. */
#define MDSPF__UDP_MAX_MSG 4096

/* ID hash buckets of one transport (it holds ~128 queries). */
#define MDSPF__UDP_ID_BUCKETS 64

typedef struct mdspf__udp_server {
  socklen_t len;
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
  } addr;
} mdspf__udp_server;

/* Shared by the transports of one backend; filled by the backend. */
typedef struct mdspf__udp_cfg {
  mdspf__udp_server srv[MDSPF__UDP_MAX_SERVERS];
  unsigned nsrv;   /* 1..MDSPF__UDP_MAX_SERVERS */
  int tries;       /* rounds over the servers, 1..10 */
  int timeout_ms;  /* first per-try timeout */
  int edns_size;   /* 0: no EDNS; else the payload size advertised */
  int no_rotate;   /* start every query at the first server */
  int rcvbuf;      /* SO_RCVBUF asked for (best effort), 0: default */
  /* queries sent through one socket before it is replaced by a new one
   * (a new source port), 0: never (see mdspf__udp) */
  unsigned max_per_socket;
  /* random octets not used yet (refilled from the entropy source) */
  unsigned char rnd[64];
  size_t rnd_left;
} mdspf__udp_cfg;

/* One query: lives inside the caller's token. */
typedef struct mdspf__udpq {
  mdspf__link due_link;        /* on the transport's deadline list */
  struct mdspf__udpq *id_next; /* ID hash chain */
  long due;                    /* monotonic ms */
  uint32_t asked;              /* servers it was sent to (bit i) */
  uint32_t skip;               /* servers not to ask again (bit i) */
  int status;                  /* ARES_* error if it ended now */
  int rrtype;                  /* DNS type code */
  uint16_t id;
  uint8_t srv;    /* server of the current try */
  uint16_t tries; /* tries used (c-ares' try_count) */
  uint8_t noedns; /* asked without EDNS */
  uint8_t failed; /* due now because its server's socket failed */
  uint8_t linked; /* in the transport */
} mdspf__udpq;

typedef struct mdspf__udp_ops {
  /* The raw name q asks for (labels joined by '.', no escapes), written
   * into buf; NULL if there is none. */
  const char *(*name)(mdspf__udpq *q, char *buf, size_t bufsz, void *ud);
  /* q is over (no longer in the transport): status is an ARES_* code,
   * abuf the answer (NULL when none), as ares_query would report it. */
  void (*done)(mdspf__udpq *q, int status, const unsigned char *abuf,
               int alen, void *ud);
  /* Socket fd was opened (open 1: watch it for reading) or is about to
   * be closed (open 0).  An opening is reported once the query that
   * opened it is in the transport (or over), so the callback may cancel
   * any query. */
  void (*sock)(int fd, int open, void *ud);
} mdspf__udp_ops;

typedef struct mdspf__udp {
  mdspf__udp_cfg *cfg;
  const mdspf__udp_ops *ops;
  void *ud;
  int fd[MDSPF__UDP_MAX_SERVERS]; /* -1: not open */
  /* Source ports are not kept for ever: after cfg->max_per_socket sends
   * a server's socket retires -- the next query opens a new one -- and
   * stays open, still read, until the last deadline of a query that was
   * in flight then has passed; it is closed by the next send or
   * timeouts call after that (never from cancel, which a host's hook may
   * call).  A server has one retiring socket at most: the current one
   * retires only once the last has closed. */
  int old_fd[MDSPF__UDP_MAX_SERVERS];        /* -1: none retiring */
  long old_until[MDSPF__UDP_MAX_SERVERS];    /* when it may close */
  unsigned nsent[MDSPF__UDP_MAX_SERVERS];    /* through fd[i] */
  mdspf__udpq *ids[MDSPF__UDP_ID_BUCKETS];
  mdspf__list due; /* every query, earliest deadline first */
  uint32_t unannounced; /* sockets opened, ops->sock not called yet */
  size_t n;        /* queries in it */
} mdspf__udp;

void mdspf__udp_init(mdspf__udp *u, mdspf__udp_cfg *cfg,
                     const mdspf__udp_ops *ops, void *ud);
/* Start q (zeroed by the caller but for rrtype).  It may end inside this
 * call (a name that cannot be asked, no server to send to): ops->done
 * has run then. */
void mdspf__udp_send(mdspf__udp *u, mdspf__udpq *q);
/* Withdraw q without a callback. */
void mdspf__udp_cancel(mdspf__udp *u, mdspf__udpq *q);
/* fd (one of u's) is readable: read what it holds. */
void mdspf__udp_read(mdspf__udp *u, int fd);
/* 1 when fd is one of u's sockets. */
int mdspf__udp_owns(const mdspf__udp *u, int fd);
/* Milliseconds until the earliest deadline (0: due), -1 when empty. */
long mdspf__udp_ms(const mdspf__udp *u, long now);
/* Retry or end the queries whose deadline has come. */
void mdspf__udp_timeouts(mdspf__udp *u, long now);
/* Close the sockets; the transport must hold no query. */
void mdspf__udp_close(mdspf__udp *u);
/* Number of queries in u. */
size_t mdspf__udp_count(const mdspf__udp *u);

/* Encode name (raw, optionally ending in '.') as DNS labels into out;
 * the length written, or -1 when it is not a valid name (an empty label,
 * a label over 63 octets, over 255 octets in all).  Exposed for tests. */
int mdspf__udp_encode_name(const char *name, unsigned char *out,
                           size_t outsz);

#endif /* MDSPF_CARES_UDP_H */

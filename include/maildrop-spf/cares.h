/*
 * maildrop-spf/cares.h -- the c-ares resolver backend (live DNS).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Shipped as its own library, libmaildrop-spf-cares (pkg-config
 * maildrop-spf-cares), so the core library never links c-ares.  Works
 * with c-ares >= 1.18 and uses only the 1.18 API.
 *
 * Transports: queries over UDP (the first try of every query unless
 * MDSPF_CARES_USE_TCP) go out through the backend's own transport, not
 * through c-ares: one connected UDP socket per server, replaced by a new
 * one (a new source port) after 1,024 queries, a random 16-bit ID per
 * query from the system's entropy source (getentropy), and an
 * answer accepted only from a server the query was sent to, with its ID,
 * QR set, opcode QUERY and the same single question (name compared
 * without regard to case); anything else is read and dropped.  Retries
 * are c-ares': the servers in turn from a random one (the first with
 * MDSPF_CARES_NO_ROTATE), tries rounds, timeout_ms doubled for every
 * full round; a server answering SERVFAIL, REFUSED or NOTIMP, or that
 * cannot be sent to or reports its port unreachable, is not asked again
 * for that query when there are others; a FORMERR to a query with EDNS
 * is asked once more of the same server without it.  Names under .onion
 * are never sent (NXDOMAIN at once, RFC 7686).  c-ares reads the system
 * configuration (/etc/resolv.conf) at mdspf_cares_new and carries
 * everything over TCP (see "TCP").
 *
 * Event-loop integration follows c-ares and hiredis: the backend owns its
 * sockets and tells the host which ones to watch (watch callback) and
 * when it next needs a timeout pass (timer callback); the host calls
 * mdspf_cares_process_fd() when a socket is ready and
 * mdspf_cares_process_timeout() when the timer fires.  Without callbacks
 * the backend is driven by mdspf_cares_wait() (poll(2)), which is also
 * the resolver's wait() used by mdspf_check_run().
 *
 * Threads: one backend is used by one thread at a time, like the context
 * it serves.  Answers are delivered (and check callbacks run) only inside
 * mdspf_cares_process_fd / _process_timeout / _wait / _free.
 *
 * Callbacks: the watch and timer hooks run inside the backend's guard,
 * as do the check callbacks its answers lead to.  From inside either, the
 * calls that would re-enter c-ares are refused -- mdspf_cares_wait and
 * mdspf_cares_set_loop return MDSPF_E_RECURSIVE, mdspf_cares_process_fd
 * and _process_timeout do nothing -- while everything else is allowed:
 * reading the timeout and sockets, starting, cancelling or freeing
 * checks (queries started from a hook are sent once the backend is
 * idle), freeing the context, and mdspf_cares_free, which then happens
 * when the call that ran the callback returns.
 *
 * Admission: one hostile domain cannot hold up the others.  A query
 * whose name servers never answer keeps its place until it times out
 * (timeout_ms, doubled per round: 6 s with the defaults).  So the
 * backend keeps a pool of channels, each with its own sockets and at
 * most 128 queries in flight (a channel has one UDP socket per server,
 * and a burst of more answers than that overflows its receive buffer):
 * the first is made by mdspf_cares_new, another is opened when every
 * open one is full, up to max_channels, and an extra one is closed once
 * it is empty and the others are at most half full.
 * On top of that, queries are admitted per site -- the registered domain
 * a name is under, guessed from its last labels (two; three under a
 * two-letter country code with a generic second level such as co.uk or
 * com.au; the /24 or /48 of a reverse name) -- and one site has at most
 * a channel's worth of queries in flight (128; 64 when max_channels is
 * 1, never more than half the pool); its others wait in its own queue,
 * and the sites with queries waiting take turns for the room the
 * channels have.  So a domain whose servers never answer, under one name
 * or thousands, holds at most one channel and every other lookup goes
 * out at once; only when max_channels such domains hang at the same time
 * (2,048 queries with the defaults) does a new lookup wait, and then for
 * the next free place rather than behind their queues.  Memory: a UDP
 * channel is under 1 KiB (its ID table; no c-ares channel), a TCP one
 * about 75 KiB (c-ares' tables); a query is a token of about 150 octets
 * (one with a name of its own that differs from its check's, rare, about
 * 660), which is also all a UDP query in flight costs; a site is its
 * key.  Up to 128 tokens and 64 sites that are done with are kept for
 * reuse (about 50 KiB), so a steady load allocates nothing per query.
 *
 * Sockets: the first channel's UDP sockets (one per server, opened when
 * its first query to that server goes out) stay open until
 * mdspf_cares_free or until they have carried 1,024 queries (a retired
 * socket is still read until the queries sent through it have passed
 * their deadline, then closed), so checks that follow one
 * another reuse them instead of opening one each; the watch hook hears
 * of them once.  Other channels, and TCP connections, have sockets only
 * while they have queries.
 *
 * TCP: isolated per query when a connection fails.  A truncated UDP
 * reply is asked again over TCP on channels of their own (up to 4, each
 * with one connection per server carrying up to 32 queries, 16 of one
 * site), with one try per server.  When such a shared connection fails
 * -- a server that closes it for one domain's queries, a reset -- or a
 * query times out on it (with tries > 1), each query that was on it is
 * asked once more on a fresh connection of its own, with twice the
 * timeout (up to 16 such retries at once, 4 of one site), and only that
 * answer is final: the domain that broke the connection fails, the
 * others are answered.  MDSPF_CARES_USE_TCP sends every query over such
 * shared connections (the pool's channels then carry 32 queries each),
 * so over TCP tries only decides whether a query that timed out is
 * retried alone (tries > 1).  A reply still truncated over TCP is a DNS
 * error (MDSPF_DNS_ERROR).
 *
 * Known limits of c-ares 1.18: it allocates through its own process-wide
 * allocator (the alloc hook below covers this library's allocations
 * only: everything of a UDP query, and TCP's tokens, but not what c-ares
 * holds for TCP and the configuration); over TCP it retries
 * SERVFAIL/REFUSED/NOTIMP on the next server and then reports "could not
 * contact servers", so those answers arrive as MDSPF_DNS_TEMPFAIL without
 * an rcode (over UDP the last server's code is kept: SERVFAIL and
 * REFUSED give MDSPF_DNS_TEMPFAIL with it, NOTIMP MDSPF_DNS_ERROR); and
 * an MX, PTR or CNAME target
 * with octets other than letters, digits, '-', '.', '_', '/' and '*'
 * makes the whole reply unreadable (MDSPF_DNS_ERROR) rather than that
 * one record being skipped.
 *
 * Signals: the backend writes with MSG_NOSIGNAL (SO_NOSIGPIPE on macOS), so a
 * server closing a TCP connection never raises SIGPIPE in the host.
 */
#ifndef MAILDROP_SPF_CARES_H
#define MAILDROP_SPF_CARES_H

#include <maildrop-spf/spf.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mdspf_cares mdspf_cares;

/** Watch fd for reading (rd != 0) and/or writing (wr != 0); rd == wr == 0
 *  means stop watching it (it is about to be closed).  Level-triggered,
 *  as poll(2), libevent's EV_PERSIST and asyncio's add_reader are: one
 *  mdspf_cares_process_fd reads at most 256 datagrams from a UDP socket
 *  and leaves the rest for the next report that it is readable. */
typedef void (*mdspf_watch_fn)(void *loop_ud, int fd, int rd, int wr);
/* mdspf_timer_fn (spf.h): call mdspf_cares_process_timeout after ms. */

/** Flags for mdspf_cares_options.flags. */
enum {
  MDSPF_CARES_NO_EDNS = 1,  /**< plain 512-octet UDP (EDNS0 is default) */
  MDSPF_CARES_USE_TCP = 2,  /**< always TCP */
  MDSPF_CARES_NO_ROTATE = 4 /**< always ask servers in the given order */
};

/**
 * Options.  Fill with mdspf_cares_options_init() and change what you
 * need; the library reads only struct_size bytes, so fields are only
 * ever appended.
 */
typedef struct mdspf_cares_options {
  size_t struct_size;   /**< sizeof(mdspf_cares_options) */
  mdspf_alloc_fn alloc; /**< NULL: libc */
  void *alloc_ud;
  mdspf_watch_fn watch; /**< NULL: drive with mdspf_cares_wait() */
  mdspf_timer_fn timer; /**< NULL: the host polls mdspf_cares_timeout() */
  void *loop_ud;        /**< passed to watch and timer */
  /** Comma-separated servers: "192.0.2.53", "192.0.2.53:5353",
   *  "[2001:db8::53]:5353", "::1".  NULL or "": the system configuration
   *  (/etc/resolv.conf).  Copied by mdspf_cares_new. */
  const char *servers;
  int timeout_ms; /**< first per-try timeout [2000]; doubled per round */
  int tries;      /**< attempts per server over UDP [2]; see "TCP" */
  unsigned flags; /**< MDSPF_CARES_* */
  int edns_size;  /**< EDNS0 UDP payload size advertised [1232] */
  /** channels in the pool at most (see "Admission") [16], 1..64;
   *  each has its own sockets (one per server).  Appended in 0.2: a
   *  caller whose struct_size ends before it gets the default. */
  int max_channels;
} mdspf_cares_options;

/** Defaults: struct_size set, everything else as documented above. */
MDSPF_API void mdspf_cares_options_init(mdspf_cares_options *opt);

/**
 * Create a backend.  opt may be NULL (all defaults).  MDSPF_E_INVAL for a
 * malformed server list or option (struct_size smaller than the struct
 * as first published, which ended with edns_size; unknown flag bits; a
 * value out of range: timeout_ms 10..60000, tries 1..10,
 * edns_size 512..4096, max_channels 1..64), MDSPF_E_DNS if
 * c-ares cannot initialise or read the system configuration,
 * MDSPF_E_NOMEM.
 */
MDSPF_API mdspf_status mdspf_cares_new(const mdspf_cares_options *opt,
                              mdspf_cares **out);
/**
 * Free the backend.  Queries still in flight complete with
 * MDSPF_DNS_TEMPFAIL first (so their checks end in temperror and their
 * callbacks may run inside this call); cancelled ones are dropped.  The
 * watch callback is told to stop watching every socket and the timer is
 * disarmed; from then on the backend refuses queries.  The channel and
 * sockets go at once; the small handle stays while contexts still hold
 * its resolver (a V2 resolver, see mdspf_resolver), so contexts, checks
 * and the backend may be freed in any order.  NULL is fine.  Called from
 * inside one of the backend's own delivery callbacks, the free is put
 * off until the delivering call returns.
 */
MDSPF_API void mdspf_cares_free(mdspf_cares *c);
/**
 * Install (or replace) the event-loop hooks after creation, as the
 * adapters in <maildrop-spf/adapters/...> do; watch NULL returns to
 * mdspf_cares_wait()-driven operation.  The old hooks are told to stop
 * watching every open socket and to disarm their timer; the new watch
 * hook is told about the open sockets.  MDSPF_E_STATE while queries are
 * outstanding, MDSPF_E_RECURSIVE from inside a delivery callback or a
 * hook.
 */
MDSPF_API mdspf_status mdspf_cares_set_loop(mdspf_cares *c, mdspf_watch_fn watch,
                                   mdspf_timer_fn timer, void *loop_ud);
/** The resolver vtable for mdspf_ctx_set_resolver (lives with c). */
MDSPF_API const mdspf_resolver *mdspf_cares_resolver(mdspf_cares *c);

/** Socket fd is ready (readable / writable flags as seen by the host).
 *  Does nothing when called from inside a delivery callback or a hook. */
MDSPF_API void mdspf_cares_process_fd(mdspf_cares *c, int fd, int readable,
                                      int writable);
/** The timer fired: handle timeouts and retries.  The timer is one-shot:
 *  the backend reports it again afterwards whenever queries remain. */
MDSPF_API void mdspf_cares_process_timeout(mdspf_cares *c);
/** Milliseconds until mdspf_cares_process_timeout is due; -1 when no
 *  query is outstanding. */
MDSPF_API long mdspf_cares_timeout(mdspf_cares *c);
/**
 * The sockets to watch now (pull style, instead of the watch callback):
 * writes up to max entries into fds[] with events[] bit 1 = read, 2 =
 * write; returns the number written.  These are the sockets of every
 * channel of the pool: at most two per server and open channel (one UDP,
 * one TCP), usually one per channel that has queries; a caller that
 * passes a smaller max learns the rest from mdspf_cares_wait(c, 0).
 */
MDSPF_API int mdspf_cares_getsock(mdspf_cares *c, int *fds, int *events,
                                  int max);
/** Drive I/O with poll(2) for at most timeout_ms (0: only what is ready;
 *  returns early once something was delivered, and at once when no query
 *  is outstanding -- a host waiting for other deadlines must not spin on
 *  it).  Returns 0; MDSPF_E_RECURSIVE when called from inside a delivery
 *  callback or a hook; MDSPF_E_STATE once the backend was freed;
 *  MDSPF_E_INVAL for NULL; MDSPF_E_NOMEM or MDSPF_E_IO (poll failed) on
 *  a local failure. */
MDSPF_API mdspf_status mdspf_cares_wait(mdspf_cares *c, int timeout_ms);
/** Queries sent and not yet completed or cancelled. */
MDSPF_API size_t mdspf_cares_pending(const mdspf_cares *c);

#ifdef __cplusplus
}
#endif
#endif /* MAILDROP_SPF_CARES_H */

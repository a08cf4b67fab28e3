/*
 * tests/bench/proxy.h -- the benchmark's UDP delay proxy: a DNS server
 * address on loopback that holds every query for a fixed delay, then
 * forwards it to the real server and relays the reply at once.  It runs
 * in a process of its own (forked, single-threaded, one poll loop, no
 * thread per packet) and counts what it forwards in memory shared with
 * the benchmark.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_BENCH_PROXY_H
#define MDSPF_BENCH_PROXY_H

#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Counters shared between the proxy process and the benchmark (in a
 * MAP_SHARED mapping made before the fork). */
typedef struct bench_proxy_stats {
  atomic_ulong queries; /* datagrams received from clients */
  atomic_ulong replies; /* replies relayed back to clients */
  atomic_ulong dropped; /* queue full, oversized or unmatched */
} bench_proxy_stats;

typedef struct bench_proxy {
  pid_t pid;                      /* the proxy process, 0 if none */
  bench_proxy_stats *stats;       /* shared counters */
  struct sockaddr_storage listen; /* where clients send (port filled in) */
  socklen_t listen_len;
} bench_proxy;

/*
 * Bind a UDP socket at listen_addr (port 0: any free one), fork the proxy
 * process and return.  upstream is the real server; delay_us the time
 * every query is held.  Returns 0, or -1 with a message in err.  The
 * proxy ends when bench_proxy_stop is called or the benchmark dies.
 */
int bench_proxy_start(bench_proxy *p, const struct sockaddr *listen_addr,
                      socklen_t listen_len, const struct sockaddr *upstream,
                      socklen_t upstream_len, long delay_us, char *err,
                      size_t errlen);
void bench_proxy_stop(bench_proxy *p);

/* "A.B.C.D" or "A.B.C.D:PORT" (def_port without one) into *sa; 0, or -1
 * when it is not such an address. */
struct sockaddr_in;
int bench_parse_inet(const char *s, struct sockaddr_in *sa, int def_port);

#endif

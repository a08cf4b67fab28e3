/*
 * tests/bench/proxy.c -- the UDP delay proxy (see proxy.h).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * One process, one poll loop over two sockets: "front" (where clients
 * send their queries) and "back" (connected to the real server).  A
 * query is copied into a FIFO with the time it is due; since every query
 * waits the same delay, the FIFO is in due order and the loop only ever
 * looks at its head.  When it is due, its DNS ID is replaced by a fresh
 * one of the proxy's (so replies from the one back socket can be told
 * apart) and it goes out; the reply gets the client's ID back and is
 * sent to the client from the front socket, the address the client
 * asked.  Replies are not delayed: the round trip is the delay plus the
 * server's time.  UDP only: the workload's answers fit in 512 octets.
 */
#define _GNU_SOURCE 1 /* ppoll, prctl */

#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_SLOTS 16384 /* queries held at once (256 checks x lookahead) */
#define MAX_QUERY 512 /* bigger queries are dropped (ours are < 300) */
#define MAX_REPLY 65535

typedef struct held {
  uint64_t due_ns;
  struct sockaddr_storage from;
  socklen_t from_len;
  uint16_t len;
  unsigned char data[MAX_QUERY];
} held;

typedef struct pending {
  struct sockaddr_storage client;
  socklen_t client_len;
  uint16_t client_id;
  unsigned char used;
} pending;

typedef struct loop {
  int front, back;
  uint64_t delay_ns;
  held *q;         /* ring of QUEUE_SLOTS */
  size_t head, n;  /* oldest slot, slots in use */
  pending *ids;    /* 65536 entries: in-flight queries by proxy ID */
  uint16_t next_id;
  bench_proxy_stats *st;
} loop;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void take_queries(loop *L) {
  for (;;) {
    held *h;
    ssize_t r;
    if (L->n == QUEUE_SLOTS) {
      unsigned char junk[16];
      /* full: read and drop, so the socket does not stall */
      if (recv(L->front, junk, sizeof junk, MSG_DONTWAIT) < 0) {
        return;
      }
      atomic_fetch_add(&L->st->queries, 1);
      atomic_fetch_add(&L->st->dropped, 1);
      continue;
    }
    h = &L->q[(L->head + L->n) % QUEUE_SLOTS];
    h->from_len = sizeof h->from;
    r = recvfrom(L->front, h->data, sizeof h->data, MSG_DONTWAIT | MSG_TRUNC,
                 (struct sockaddr *)&h->from, &h->from_len);
    if (r < 0) {
      return; /* EAGAIN, or an error that the next poll shows again */
    }
    atomic_fetch_add(&L->st->queries, 1);
    if (r < 12 || (size_t)r > sizeof h->data) {
      atomic_fetch_add(&L->st->dropped, 1);
      continue;
    }
    h->len = (uint16_t)r;
    h->due_ns = now_ns() + L->delay_ns;
    L->n++;
  }
}

static void send_due(loop *L) {
  uint64_t now = now_ns();
  while (L->n > 0 && L->q[L->head].due_ns <= now) {
    held *h = &L->q[L->head];
    uint16_t id = L->next_id++;
    pending *p = &L->ids[id]; /* an old unanswered one is forgotten */
    p->used = 1;
    p->client = h->from;
    p->client_len = h->from_len;
    p->client_id = (uint16_t)((h->data[0] << 8) | h->data[1]);
    h->data[0] = (unsigned char)(id >> 8);
    h->data[1] = (unsigned char)(id & 0xff);
    if (send(L->back, h->data, h->len, 0) < 0) {
      p->used = 0;
      atomic_fetch_add(&L->st->dropped, 1);
    }
    L->head = (L->head + 1) % QUEUE_SLOTS;
    L->n--;
  }
}

static void relay_replies(loop *L, unsigned char *buf) {
  for (;;) {
    ssize_t r = recv(L->back, buf, MAX_REPLY, MSG_DONTWAIT);
    uint16_t id;
    pending *p;
    if (r < 0) {
      return;
    }
    if (r < 12) {
      atomic_fetch_add(&L->st->dropped, 1);
      continue;
    }
    id = (uint16_t)((buf[0] << 8) | buf[1]);
    p = &L->ids[id];
    if (!p->used) {
      atomic_fetch_add(&L->st->dropped, 1);
      continue;
    }
    p->used = 0;
    buf[0] = (unsigned char)(p->client_id >> 8);
    buf[1] = (unsigned char)(p->client_id & 0xff);
    if (sendto(L->front, buf, (size_t)r, 0, (struct sockaddr *)&p->client,
               p->client_len) >= 0) {
      atomic_fetch_add(&L->st->replies, 1);
    } else {
      atomic_fetch_add(&L->st->dropped, 1);
    }
  }
}

static void run_loop(loop *L, pid_t parent) {
  unsigned char *buf = malloc(MAX_REPLY);
  if (!buf) {
    _exit(3);
  }
  for (;;) {
    struct pollfd pf[2];
    struct timespec ts, *tsp = NULL;
    int rc;
    send_due(L);
    if (L->n > 0) {
      uint64_t now = now_ns(), due = L->q[L->head].due_ns;
      uint64_t d = due > now ? due - now : 0;
      ts.tv_sec = (time_t)(d / 1000000000u);
      ts.tv_nsec = (long)(d % 1000000000u);
      tsp = &ts;
    } else {
      ts.tv_sec = 1; /* look at the parent now and then */
      ts.tv_nsec = 0;
      tsp = &ts;
    }
    pf[0].fd = L->front;
    pf[0].events = POLLIN;
    pf[1].fd = L->back;
    pf[1].events = POLLIN;
    rc = ppoll(pf, 2, tsp, NULL);
    if (rc < 0 && errno != EINTR) {
      _exit(4);
    }
    if (getppid() != parent) {
      _exit(0);
    }
    if (rc > 0) {
      if (pf[1].revents) {
        relay_replies(L, buf);
      }
      if (pf[0].revents) {
        take_queries(L);
      }
    }
  }
}

static void big_buffers(int fd) {
  int sz = 4 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

int bench_proxy_start(bench_proxy *p, const struct sockaddr *listen_addr,
                      socklen_t listen_len, const struct sockaddr *upstream,
                      socklen_t upstream_len, long delay_us, char *err,
                      size_t errlen) {
  int front = -1, back = -1;
  pid_t parent = getpid(), pid;
  memset(p, 0, sizeof *p);
  p->stats = mmap(NULL, sizeof *p->stats, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p->stats == MAP_FAILED) {
    p->stats = NULL;
    snprintf(err, errlen, "mmap: %s", strerror(errno));
    return -1;
  }
  atomic_init(&p->stats->queries, 0);
  atomic_init(&p->stats->replies, 0);
  atomic_init(&p->stats->dropped, 0);
  front = socket(listen_addr->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  back = socket(upstream->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (front < 0 || back < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    goto fail;
  }
  if (bind(front, listen_addr, listen_len) != 0) {
    snprintf(err, errlen, "cannot bind the proxy's address: %s",
             strerror(errno));
    goto fail;
  }
  if (connect(back, upstream, upstream_len) != 0) {
    snprintf(err, errlen, "connect to the server: %s", strerror(errno));
    goto fail;
  }
  big_buffers(front);
  big_buffers(back);
  p->listen_len = sizeof p->listen;
  if (getsockname(front, (struct sockaddr *)&p->listen, &p->listen_len) != 0) {
    snprintf(err, errlen, "getsockname: %s", strerror(errno));
    goto fail;
  }
  pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    goto fail;
  }
  if (pid == 0) {
    loop L;
    memset(&L, 0, sizeof L);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(0);
    }
    L.front = front;
    L.back = back;
    L.delay_ns = (uint64_t)delay_us * 1000u;
    L.st = p->stats;
    L.q = calloc(QUEUE_SLOTS, sizeof *L.q);
    L.ids = calloc(65536, sizeof *L.ids);
    if (!L.q || !L.ids) {
      _exit(3);
    }
    run_loop(&L, parent);
    _exit(0);
  }
  p->pid = pid;
  close(front);
  close(back);
  return 0;
fail:
  if (front >= 0) {
    close(front);
  }
  if (back >= 0) {
    close(back);
  }
  munmap(p->stats, sizeof *p->stats);
  p->stats = NULL;
  return -1;
}

void bench_proxy_stop(bench_proxy *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGTERM);
    (void)waitpid(p->pid, NULL, 0);
    p->pid = 0;
  }
  if (p->stats) {
    munmap(p->stats, sizeof *p->stats);
    p->stats = NULL;
  }
}

int bench_parse_inet(const char *s, struct sockaddr_in *sa, int def_port) {
  char host[64];
  const char *colon = strchr(s, ':');
  size_t hl = colon ? (size_t)(colon - s) : strlen(s);
  long port = def_port;
  if (hl == 0 || hl >= sizeof host) {
    return -1;
  }
  memcpy(host, s, hl);
  host[hl] = '\0';
  if (colon) {
    char *end;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
      return -1;
    }
  }
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

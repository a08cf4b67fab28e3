/*
 * tests/bench/policyload.c -- spf-policyload: a load generator for
 * Postfix policy services (the SMTPD access policy delegation protocol),
 * and the side-by-side report of two of its runs.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * ./build.sh bench runs it twice per DNS set-up (tests/bench/run.sh):
 * once against spf-policyd (a daemon on a socket, many persistent
 * connections) and once against Debian's policyd-spf (spf-engine on
 * pyspf), which Postfix spawns once per smtpd connection with the
 * request stream on its standard input and output: --spawn does the
 * same, one process per connection, each on a socketpair.  Then
 * --compare prints both runs side by side.
 *
 * The work.  Every connection sends one message after another, as
 * smtpd would: a message is a sender and a client address from the
 * benchmark's workload (workload.c, the zone of zones/example.zone),
 * taken round-robin over the whole run, with 1, 2 or 3 recipients (one
 * request each, the same instance attribute for all of them, so that a
 * policy service that remembers an instance's result is exercised the
 * way Postfix exercises it).  One request at a time per connection and
 * no pipelining: Postfix waits for each reply.
 *
 * The phases.  Warm-up: every connection makes one whole message (a
 * spawned interpreter starts, a daemon accepts); then, at one instant
 * for all connections, the timed phase of --seconds: requests are
 * started until it ends, and the ones outstanding then are waited for.
 * Requests per second are the requests of the timed phase over the time
 * from its start to the last reply; every one of their latencies (write
 * of the request to the end of the reply) goes into the percentiles.
 *
 * What is checked.  Every reply must be a well-formed "action=..."
 * followed by an empty line; a malformed reply, a closed connection or
 * a process that dies is an error and the run fails.  The action is
 * reduced to a key: its verb or SMTP code class ("reject" for 5xx and
 * REJECT, "defer" for 4xx and DEFER, "defer_if_permit", ...), and for
 * PREPEND the header's SPF result ("prepend Received-SPF: pass"), since
 * the header text itself may differ between implementations.  Each
 * run's file records, per workload check and recipient position (first
 * or later), how often each key came (warm-up included), with the first
 * full action seen; --compare counts the requests whose key differs
 * from the other side's for the same check and position.  The first
 * recipient's key must also match the workload's expected result
 * (fail: reject; otherwise prepend with that result): a set-up that
 * answers every request alike (every one a temperror, say) does not
 * pass as "no differences".
 *
 * Memory and CPU.  With --pid (a daemon) or for the spawned processes,
 * the peak resident set (VmHWM), the proportional set (Pss, which
 * shares the interpreter's pages out among its processes) and the CPU
 * time used during the timed phase are read from /proc before the
 * connections are closed.
 *
 * DNS.  With --proxy, the benchmark's UDP delay proxy (proxy.c) runs
 * for the time of this invocation in front of --nsd, holding every
 * query --delay-ms; it counts the queries of the timed phase, which
 * gives DNS queries per request.
 *
 * usage:
 *   spf-policyload --label NAME --out FILE [--conns N] [--seconds S]
 *                  [--nsd IP:PORT --proxy IP:PORT [--delay-ms MS]]
 *                  ( --connect unix:PATH|inet:IP:PORT [--pid PID]
 *                  | --spawn [--child-log FILE] -- PROGRAM [ARGS...] )
 *   spf-policyload --not-run NAME WHY --out FILE
 *   spf-policyload --compare FILE_A FILE_B [--title TEXT]
 *
 * Exit status: 0 done (compare: both ran and every action agreed and
 * was the expected one), 1 a failure or a difference, 2 bad usage.
 */
#define _GNU_SOURCE 1

#include "proxy.h"
#include "workload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_REPLY 8192  /* a reply longer than this is a protocol error */
#define MAX_KEY 64      /* a reduced action */
#define MAX_SAMPLE 200  /* the first full action kept per key */
#define MAX_KEYS 8      /* distinct keys kept per check and position */
#define MAX_CHECKS 64   /* the workload's checks (workload.c has 19) */
#define CONNECT_WAIT_MS 10000
#define REPLY_TIMEOUT_MS 60000

/* ======================================================================
 * Helpers
 * ==================================================================== */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  fputs("spf-policyload: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) {
    die("out of memory");
  }
  return p;
}

/* What /proc tells of one process. */
typedef struct proc_info {
  long hwm_kb; /* peak resident set (VmHWM) */
  long pss_kb; /* proportional set size (smaps_rollup), -1 unknown */
  uint64_t cpu_ticks; /* utime + stime */
} proc_info;

static int read_proc(pid_t pid, proc_info *pi) {
  char path[64], line[512];
  FILE *f;
  pi->hwm_kb = -1;
  pi->pss_kb = -1;
  pi->cpu_ticks = 0;
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  if (!(f = fopen(path, "r"))) {
    return -1;
  }
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "VmHWM:", 6)) {
      pi->hwm_kb = strtol(line + 6, NULL, 10);
    }
  }
  fclose(f);
  snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", (long)pid);
  if ((f = fopen(path, "r")) != NULL) {
    while (fgets(line, sizeof line, f)) {
      if (!strncmp(line, "Pss:", 4)) {
        pi->pss_kb = strtol(line + 4, NULL, 10);
      }
    }
    fclose(f);
  }
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  if ((f = fopen(path, "r")) != NULL) {
    if (fgets(line, sizeof line, f)) {
      /* the command name may hold spaces: fields count from its ')' */
      const char *p = strrchr(line, ')');
      unsigned long long ut = 0, st = 0;
      if (p && sscanf(p + 1,
                      " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
                      "%llu",
                      &ut, &st) == 2) {
        pi->cpu_ticks = (uint64_t)(ut + st);
      }
    }
    fclose(f);
  }
  return pi->hwm_kb >= 0 ? 0 : -1;
}

/* ======================================================================
 * The reduced action
 * ==================================================================== */

/* "action=VALUE": the key of VALUE into key (see the top of the file). */
static void action_key(const char *v, char *key, size_t n) {
  char verb[32];
  size_t i = 0;
  while (*v == ' ' || *v == '\t') {
    v++;
  }
  while (v[i] && v[i] != ' ' && v[i] != '\t' && i + 1 < sizeof verb) {
    verb[i] = v[i];
    i++;
  }
  verb[i] = '\0';
  if (i == 3 && verb[0] >= '2' && verb[0] <= '5' && verb[1] >= '0' &&
      verb[1] <= '9' && verb[2] >= '0' && verb[2] <= '9') {
    snprintf(key, n, "%s",
             verb[0] == '5'   ? "reject"
             : verb[0] == '4' ? "defer"
                              : "ok");
    return;
  }
  if (!strcasecmp(verb, "prepend")) {
    const char *h = v + i, *r;
    char res[24];
    size_t k = 0;
    while (*h == ' ' || *h == '\t') {
      h++;
    }
    if (!strncasecmp(h, "Received-SPF:", 13)) {
      r = h + 13;
      while (*r == ' ') {
        r++;
      }
      while (r[k] && r[k] != ' ' && r[k] != ';' && k + 1 < sizeof res) {
        res[k] = (char)(r[k] >= 'A' && r[k] <= 'Z' ? r[k] + 32 : r[k]);
        k++;
      }
      res[k] = '\0';
      snprintf(key, n, "prepend Received-SPF: %s", res);
      return;
    }
    if (!strncasecmp(h, "Authentication-Results:", 23) &&
        (r = strstr(h, "spf=")) != NULL) {
      r += 4;
      while (r[k] && r[k] != ' ' && r[k] != ';' && k + 1 < sizeof res) {
        res[k] = (char)(r[k] >= 'A' && r[k] <= 'Z' ? r[k] + 32 : r[k]);
        k++;
      }
      res[k] = '\0';
      snprintf(key, n, "prepend Authentication-Results: spf=%s", res);
      return;
    }
    snprintf(key, n, "prepend (other header)");
    return;
  }
  for (i = 0; verb[i]; i++) {
    if (verb[i] >= 'A' && verb[i] <= 'Z') {
      verb[i] = (char)(verb[i] + 32);
    }
  }
  snprintf(key, n, "%s", verb[0] ? verb : "(empty)");
}

/* The key the first recipient of a check must get. */
static void expected_key(int expect, char *key, size_t n) {
  if (expect == W_FAIL) {
    snprintf(key, n, "reject");
  } else {
    snprintf(key, n, "prepend Received-SPF: %s", bench_result_name(expect));
  }
}

/* Counts per check and recipient position. */
typedef struct key_count {
  char key[MAX_KEY];
  char sample[MAX_SAMPLE];
  unsigned long n;
} key_count;

typedef struct tally {
  key_count k[MAX_CHECKS][2][MAX_KEYS];
  unsigned long overflow; /* replies past MAX_KEYS distinct keys */
} tally;

static void tally_add(tally *t, size_t check, int later, const char *key,
                      const char *action) {
  key_count *kc = t->k[check][later];
  int i;
  for (i = 0; i < MAX_KEYS && kc[i].n; i++) {
    if (!strcmp(kc[i].key, key)) {
      kc[i].n++;
      return;
    }
  }
  if (i == MAX_KEYS) {
    t->overflow++;
    return;
  }
  snprintf(kc[i].key, sizeof kc[i].key, "%s", key);
  snprintf(kc[i].sample, sizeof kc[i].sample, "%s", action);
  kc[i].n = 1;
}

/* ======================================================================
 * The load
 * ==================================================================== */

typedef struct conn {
  int fd;
  pid_t pid;        /* spawned process, 0 if none */
  int idx;
  size_t check;     /* the message's workload check */
  unsigned msg;     /* messages begun on this connection */
  int rcpt, nrcpt;  /* recipient being asked (0-based), of how many */
  int busy;         /* a request is out */
  int warm;         /* its warm-up message is done */
  int timed;        /* the request out belongs to the timed phase */
  uint64_t sent_ns;
  size_t got;
  char buf[MAX_REPLY + 1];
} conn;

typedef struct load {
  /* options */
  const char *label, *out, *connect_to, *child_log;
  char *const *spawn_argv;
  int conns;
  double seconds;
  pid_t daemon_pid;
  /* state */
  conn *c;
  size_t next_msg;    /* round-robin over the workload */
  uint64_t t0, t_end, t_last;
  int phase;          /* 0 warm-up, 1 timed, 2 draining */
  uint32_t *lat_us;   /* latencies of the timed phase */
  size_t nlat, caplat;
  unsigned long errors;
  tally *tl;
  unsigned long unexpected;
  char first_error[512];
} load;

static void load_error(load *L, const conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void load_error(load *L, const conn *c, const char *fmt, ...) {
  va_list ap;
  char msg[400];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (L->errors < 5) {
    fprintf(stderr, "spf-policyload: %s: connection %d: %s\n", L->label,
            c->idx, msg);
  }
  if (!L->errors) {
    snprintf(L->first_error, sizeof L->first_error, "connection %d: %s",
             c->idx, msg);
  }
  L->errors++;
}

static int parse_target(const char *t, struct sockaddr_storage *sa,
                        socklen_t *len) {
  memset(sa, 0, sizeof *sa);
  if (!strncmp(t, "unix:", 5)) {
    struct sockaddr_un *un = (struct sockaddr_un *)sa;
    if (strlen(t + 5) >= sizeof un->sun_path || !t[5]) {
      return -1;
    }
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, t + 5);
    *len = (socklen_t)sizeof *un;
    return 0;
  }
  if (!strncmp(t, "inet:", 5)) {
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    char host[64];
    const char *colon = strrchr(t + 5, ':');
    long port;
    char *end;
    if (!colon || (size_t)(colon - (t + 5)) >= sizeof host) {
      return -1;
    }
    memcpy(host, t + 5, (size_t)(colon - (t + 5)));
    host[colon - (t + 5)] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535 ||
        inet_pton(AF_INET, host, &in->sin_addr) != 1) {
      return -1;
    }
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    *len = (socklen_t)sizeof *in;
    return 0;
  }
  return -1;
}

/* Connect, retrying while the daemon is not listening yet. */
static int connect_target(const char *t) {
  struct sockaddr_storage sa;
  socklen_t len;
  uint64_t give_up = now_ns() + (uint64_t)CONNECT_WAIT_MS * 1000000u;
  if (parse_target(t, &sa, &len) != 0) {
    die("bad --connect target '%s' (unix:PATH or inet:IP:PORT)", t);
  }
  for (;;) {
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      die("socket: %s", strerror(errno));
    }
    if (connect(fd, (struct sockaddr *)&sa, len) == 0) {
      return fd;
    }
    if ((errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) ||
        now_ns() > give_up) {
      fprintf(stderr, "spf-policyload: connect %s: %s\n", t, strerror(errno));
      close(fd);
      return -1;
    }
    close(fd);
    (void)poll(NULL, 0, 20);
  }
}

/* One process per connection, on a socketpair, as Postfix's spawn. */
static int spawn_one(load *L, conn *c) {
  int sv[2];
  pid_t pid;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    die("socketpair: %s", strerror(errno));
  }
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    die("fork: %s", strerror(errno));
  }
  if (pid == 0) {
    int logfd = -1;
    if (L->child_log) {
      logfd = open(L->child_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    }
    if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 ||
        (logfd >= 0 && dup2(logfd, 2) < 0)) {
      _exit(126);
    }
    signal(SIGPIPE, SIG_DFL);
    execvp(L->spawn_argv[0], L->spawn_argv);
    fprintf(stderr, "spf-policyload: exec %s: %s\n", L->spawn_argv[0],
            strerror(errno));
    _exit(127);
  }
  close(sv[1]);
  c->fd = sv[0];
  c->pid = pid;
  return 0;
}

static void begin_message(load *L, conn *c) {
  c->check = L->next_msg++ % bench_nchecks;
  c->nrcpt = 1 + (int)(c->msg % 3);
  c->rcpt = 0;
  c->msg++;
}

static int send_request(load *L, conn *c) {
  const bench_check *k = &bench_checks[c->check];
  char req[1024];
  int n;
  size_t off = 0;
  n = snprintf(req, sizeof req,
               "request=smtpd_access_policy\n"
               "protocol_state=RCPT\n"
               "protocol_name=ESMTP\n"
               "client_address=%s\n"
               "client_name=unknown\n"
               "client_port=%u\n"
               "reverse_client_name=unknown\n"
               "server_address=192.0.2.1\n"
               "server_port=25\n"
               "helo_name=" "mail.client.example" "\n"
               "sender=%s\n"
               "recipient=user%d@rcpt%u.example.net\n"
               "recipient_count=%d\n"
               "queue_id=\n"
               "instance=%x.%x.%x\n"
               "size=%u\n"
               "etrn_domain=\n"
               "stress=\n"
               "sasl_method=\n"
               "sasl_username=\n"
               "sasl_sender=\n"
               "ccert_subject=\n"
               "ccert_issuer=\n"
               "ccert_fingerprint=\n"
               "ccert_pubkey_fingerprint=\n"
               "encryption_protocol=TLSv1.3\n"
               "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
               "encryption_keysize=256\n"
               "policy_context=\n"
               "compatibility_level=3.6\n"
               "\n",
               k->ip, 40000u + (unsigned)c->idx, k->sender, c->rcpt + 1,
               c->msg % 7, c->rcpt, (unsigned)getpid() & 0xfffu,
               (unsigned)c->idx, c->msg, 1000u + 100u * c->msg % 50000u);
  if (n < 0 || (size_t)n >= sizeof req) {
    die("request too long");
  }
  c->sent_ns = now_ns();
  while (off < (size_t)n) {
    ssize_t w = send(c->fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      load_error(L, c, "cannot send a request: %s",
                 w < 0 ? strerror(errno) : "short write");
      return -1;
    }
    off += (size_t)w;
  }
  c->busy = 1;
  c->got = 0;
  c->timed = L->phase == 1;
  return 0;
}

static void record_latency(load *L, uint64_t ns) {
  uint64_t us = ns / 1000u;
  if (L->nlat == L->caplat) {
    size_t cap = L->caplat ? L->caplat * 2 : 65536;
    uint32_t *p = realloc(L->lat_us, cap * sizeof *p);
    if (!p) {
      die("out of memory");
    }
    L->lat_us = p;
    L->caplat = cap;
  }
  L->lat_us[L->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* A whole reply is in c->buf: check it, count it.  0, or -1 (an error,
 * said). */
static int take_reply(load *L, conn *c) {
  char key[MAX_KEY], want[MAX_KEY];
  char *line = c->buf, *action = NULL;
  const bench_check *k = &bench_checks[c->check];
  uint64_t t = now_ns();
  c->buf[c->got] = '\0';
  /* lines up to the empty one; exactly one action= */
  while (*line && *line != '\n') {
    char *nl = strchr(line, '\n');
    *nl = '\0';
    if (!strncmp(line, "action=", 7)) {
      if (action) {
        load_error(L, c, "two action= lines in one reply");
        return -1;
      }
      action = line + 7;
    } else {
      load_error(L, c, "not an action= line in a reply: '%.80s'", line);
      return -1;
    }
    line = nl + 1;
  }
  if (!action) {
    load_error(L, c, "a reply without action=");
    return -1;
  }
  action_key(action, key, sizeof key);
  tally_add(L->tl, c->check, c->rcpt > 0, key, action);
  if (c->rcpt == 0) {
    expected_key(k->expect, want, sizeof want);
    if (strcmp(key, want) != 0) {
      if (L->unexpected < 5) {
        fprintf(stderr,
                "spf-policyload: %s: client_address=%s sender=%s (%s): "
                "'%s', expected '%s': action=%.160s\n",
                L->label, k->ip, k->sender, k->what, key, want, action);
      }
      L->unexpected++;
    }
  }
  if (c->timed) {
    record_latency(L, t - c->sent_ns);
    L->t_last = t;
  }
  c->busy = 0;
  c->timed = 0;
  if (++c->rcpt == c->nrcpt) {
    if (L->phase == 0 && !c->warm) {
      c->warm = 1;
    }
    begin_message(L, c);
  }
  return 0;
}

/* Read what is there; a complete reply ends in "\n\n". */
static int on_readable(load *L, conn *c) {
  ssize_t r;
  if (!c->busy) {
    char junk[64];
    r = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
    if (r == 0) {
      load_error(L, c, "the server closed the connection between requests");
    } else if (r > 0) {
      load_error(L, c, "data without a request: '%.*s'", (int)r, junk);
    } else if (errno == EAGAIN || errno == EINTR) {
      return 0;
    } else {
      load_error(L, c, "recv: %s", strerror(errno));
    }
    return -1;
  }
  r = recv(c->fd, c->buf + c->got, MAX_REPLY - c->got, MSG_DONTWAIT);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
    return 0;
  }
  if (r <= 0) {
    load_error(L, c, "%s while waiting for a reply",
               r == 0 ? "the server closed the connection"
                      : strerror(errno));
    return -1;
  }
  c->got += (size_t)r;
  if (c->got >= 2 && c->buf[c->got - 1] == '\n' && c->buf[c->got - 2] == '\n') {
    return take_reply(L, c);
  }
  if (c->got == 1 && c->buf[0] == '\n') {
    load_error(L, c, "an empty reply");
    return -1;
  }
  if (c->got == MAX_REPLY) {
    load_error(L, c, "a reply longer than %d octets", MAX_REPLY);
    return -1;
  }
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static double pct_ms(const uint32_t *v, size_t n, double p) {
  size_t i;
  if (!n) {
    return 0;
  }
  /* nearest rank */
  i = (size_t)(p / 100.0 * (double)n + 0.999999);
  if (i < 1) {
    i = 1;
  }
  if (i > n) {
    i = n;
  }
  return v[i - 1] / 1000.0;
}

/* Run the load; write the results file. */
static int run_load(load *L, bench_proxy *px) {
  struct pollfd *pf = xcalloc((size_t)L->conns, sizeof *pf);
  proc_info *before = xcalloc((size_t)L->conns + 1, sizeof *before);
  int i, warm_all = 0, failed = 0, nproc = 0;
  unsigned long q0 = 0, q1 = 0;
  uint64_t cpu0 = 0, cpu1 = 0, deadline;
  long hwm = 0, pss = 0;
  int pss_ok = 1;
  FILE *f;
  L->c = xcalloc((size_t)L->conns, sizeof *L->c);
  L->tl = xcalloc(1, sizeof *L->tl);
  for (i = 0; i < L->conns; i++) {
    L->c[i].fd = -1;
  }
  for (i = 0; i < L->conns; i++) {
    conn *c = &L->c[i];
    c->idx = i;
    if (L->spawn_argv) {
      spawn_one(L, c);
    } else if ((c->fd = connect_target(L->connect_to)) < 0) {
      L->errors++;
      snprintf(L->first_error, sizeof L->first_error,
               "cannot connect to %s", L->connect_to);
      failed = 1;
      break;
    }
    begin_message(L, c);
  }
  /* warm-up: every connection one whole message */
  deadline = now_ns() + (uint64_t)REPLY_TIMEOUT_MS * 1000000u;
  L->phase = 0;
  for (i = 0; !failed && i < L->conns; i++) {
    if (send_request(L, &L->c[i]) != 0) {
      failed = 1;
    }
  }
  while (!failed) {
    int n, busy = 0, warm = 0;
    uint64_t t = now_ns();
    for (i = 0; i < L->conns; i++) {
      conn *c = &L->c[i];
      if (L->phase >= 1 && !c->busy && L->phase == 1 && t < L->t_end) {
        if (send_request(L, c) != 0) {
          failed = 1;
          break;
        }
      } else if (L->phase == 0 && !c->busy && !c->warm) {
        if (send_request(L, c) != 0) {
          failed = 1;
          break;
        }
      }
      busy += c->busy;
      warm += c->warm;
      pf[i].fd = c->fd;
      pf[i].events = POLLIN;
      pf[i].revents = 0;
    }
    if (failed) {
      break;
    }
    if (L->phase == 0 && warm == L->conns && busy == 0) {
      /* everyone warm: the timed phase starts now, for all at once */
      warm_all = 1;
      nproc = 0;
      for (i = 0; i < L->conns; i++) {
        pid_t pid = L->spawn_argv ? L->c[i].pid : (i == 0 ? L->daemon_pid : 0);
        if (pid > 0 && read_proc(pid, &before[i]) == 0) {
          cpu0 += before[i].cpu_ticks;
        }
      }
      q0 = px->stats ? atomic_load(&px->stats->queries) : 0;
      L->phase = 1;
      L->t0 = now_ns();
      L->t_last = L->t0;
      L->t_end = L->t0 + (uint64_t)(L->seconds * 1e9);
      continue;
    }
    if (L->phase == 1 && t >= L->t_end) {
      L->phase = 2;
    }
    if (L->phase == 2 && busy == 0) {
      break;
    }
    n = poll(pf, (nfds_t)L->conns, 100);
    if (n < 0 && errno != EINTR) {
      die("poll: %s", strerror(errno));
    }
    if (n == 0 && now_ns() > deadline && L->phase == 0) {
      load_error(L, &L->c[0], "warm-up took more than %d s",
                 REPLY_TIMEOUT_MS / 1000);
      failed = 1;
      break;
    }
    for (i = 0; n > 0 && i < L->conns; i++) {
      if (pf[i].revents && on_readable(L, &L->c[i]) != 0) {
        failed = 1;
        break;
      }
    }
    if (!failed && L->phase >= 1) {
      /* a reply that never comes */
      for (i = 0; i < L->conns; i++) {
        if (L->c[i].busy &&
            now_ns() - L->c[i].sent_ns > (uint64_t)REPLY_TIMEOUT_MS * 1000000u) {
          load_error(L, &L->c[i], "no reply in %d s", REPLY_TIMEOUT_MS / 1000);
          failed = 1;
          break;
        }
      }
    }
  }
  q1 = px->stats ? atomic_load(&px->stats->queries) : 0;
  /* memory and CPU, while the processes are still there */
  for (i = 0; i < L->conns; i++) {
    pid_t pid = L->spawn_argv ? L->c[i].pid : (i == 0 ? L->daemon_pid : 0);
    proc_info pi;
    if (pid > 0 && read_proc(pid, &pi) == 0) {
      nproc++;
      hwm += pi.hwm_kb;
      if (pi.pss_kb >= 0) {
        pss += pi.pss_kb;
      } else {
        pss_ok = 0;
      }
      cpu1 += pi.cpu_ticks;
    }
  }
  for (i = 0; i < L->conns; i++) {
    if (L->c[i].fd >= 0) {
      close(L->c[i].fd);
    }
  }
  /* spawned processes end at the end of their input */
  for (i = 0; i < L->conns; i++) {
    pid_t pid = L->c[i].pid;
    int st = 0, waited = 0;
    if (pid <= 0) {
      continue;
    }
    while (waited < 5000) {
      pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        break;
      }
      (void)poll(NULL, 0, 10);
      waited += 10;
    }
    if (waited >= 5000) {
      kill(pid, SIGKILL);
      (void)waitpid(pid, &st, 0);
      if (!failed) {
        load_error(L, &L->c[i], "the process did not end at end of input");
        failed = 1;
      }
    } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !failed) {
      load_error(L, &L->c[i], "the process ended with status %d",
                 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
      failed = 1;
    }
  }
  if (L->tl->overflow && !failed) {
    load_error(L, &L->c[0], "more than %d different actions for one check",
               MAX_KEYS);
    failed = 1;
  }

  if (!(f = fopen(L->out, "w"))) {
    die("cannot write %s: %s", L->out, strerror(errno));
  }
  fprintf(f, "label=%s\n", L->label);
  if (failed || !warm_all) {
    fprintf(f, "status=failed\nwhy=%s (%lu error%s)\n",
            L->first_error[0] ? L->first_error : "did not run",
            L->errors, L->errors == 1 ? "" : "s");
  } else {
    double secs = (double)(L->t_last - L->t0) / 1e9;
    long tck = sysconf(_SC_CLK_TCK);
    qsort(L->lat_us, L->nlat, sizeof *L->lat_us, cmp_u32);
    fprintf(f, "status=ok\n");
    fprintf(f, "conns=%d\nprocesses=%d\nrequests=%zu\nseconds=%.3f\n",
            L->conns, nproc, L->nlat, secs);
    fprintf(f, "rps=%.1f\n", secs > 0 ? (double)L->nlat / secs : 0.0);
    fprintf(f, "p50_ms=%.3f\np90_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\n",
            pct_ms(L->lat_us, L->nlat, 50), pct_ms(L->lat_us, L->nlat, 90),
            pct_ms(L->lat_us, L->nlat, 99),
            L->nlat ? L->lat_us[L->nlat - 1] / 1000.0 : 0.0);
    if (nproc) {
      fprintf(f, "hwm_kb=%ld\n", hwm);
      if (pss_ok) {
        fprintf(f, "pss_kb=%ld\n", pss);
      }
      if (tck > 0 && L->nlat) {
        fprintf(f, "cpu_ms_per_req=%.3f\n",
                (double)(cpu1 - cpu0) * 1000.0 / (double)tck /
                    (double)L->nlat);
      }
    }
    if (px->stats && L->nlat) {
      fprintf(f, "queries_per_req=%.2f\n", (double)(q1 - q0) / (double)L->nlat);
    }
    fprintf(f, "unexpected=%lu\n", L->unexpected);
  }
  {
    size_t ci;
    int pos, j;
    for (ci = 0; ci < bench_nchecks; ci++) {
      for (pos = 0; pos < 2; pos++) {
        for (j = 0; j < MAX_KEYS && L->tl->k[ci][pos][j].n; j++) {
          const key_count *kc = &L->tl->k[ci][pos][j];
          fprintf(f, "kind %zu %d %lu\t%s\t%s\n", ci, pos, kc->n, kc->key,
                  kc->sample);
        }
      }
    }
  }
  if (fclose(f) != 0) {
    die("cannot write %s", L->out);
  }
  if (!failed && warm_all) {
    printf("%s: %zu requests in %.1f s on %d connections: %.1f requests/s, "
           "p99 %.2f ms\n",
           L->label, L->nlat, (double)(L->t_last - L->t0) / 1e9, L->conns,
           (double)L->nlat / ((double)(L->t_last - L->t0) / 1e9),
           pct_ms(L->lat_us, L->nlat, 99));
  }
  free(L->lat_us);
  free(L->tl);
  free(L->c);
  free(pf);
  free(before);
  return failed || !warm_all || L->unexpected ? 1 : 0;
}

/* ======================================================================
 * The report: two results files side by side
 * ==================================================================== */

typedef struct side {
  char label[64];
  char status[32];
  char why[512];
  double rps, p50, p90, p99, max, cpu, qpr;
  long hwm, pss;
  int conns, processes;
  unsigned long requests, unexpected;
  int has_cpu, has_qpr;
  tally *tl;
} side;

static void chomp(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
    s[--n] = '\0';
  }
}

static int read_side(const char *path, side *s) {
  FILE *f = fopen(path, "r");
  char line[1024];
  memset(s, 0, sizeof *s);
  s->hwm = s->pss = -1;
  s->tl = xcalloc(1, sizeof *s->tl);
  if (!f) {
    snprintf(s->status, sizeof s->status, "missing");
    snprintf(s->why, sizeof s->why, "no results file %s", path);
    return -1;
  }
  while (fgets(line, sizeof line, f)) {
    char *eq = strchr(line, '=');
    chomp(line);
    if (!strncmp(line, "kind ", 5)) {
      size_t ci;
      int pos;
      unsigned long n;
      char *key, *sample;
      int off = 0;
      if (sscanf(line + 5, "%zu %d %lu%n", &ci, &pos, &n, &off) != 3 ||
          ci >= MAX_CHECKS || ci >= bench_nchecks || pos < 0 || pos > 1 ||
          line[5 + off] != '\t') {
        continue;
      }
      key = line + 5 + off + 1;
      sample = strchr(key, '\t');
      if (!sample) {
        continue;
      }
      *sample++ = '\0';
      {
        int j;
        key_count *kc = s->tl->k[ci][pos];
        for (j = 0; j < MAX_KEYS && kc[j].n; j++) {
        }
        if (j < MAX_KEYS) {
          snprintf(kc[j].key, sizeof kc[j].key, "%s", key);
          snprintf(kc[j].sample, sizeof kc[j].sample, "%s", sample);
          kc[j].n = n;
        }
      }
      continue;
    }
    if (!eq) {
      continue;
    }
    *eq++ = '\0';
    if (!strcmp(line, "label")) {
      snprintf(s->label, sizeof s->label, "%s", eq);
    } else if (!strcmp(line, "status")) {
      snprintf(s->status, sizeof s->status, "%s", eq);
    } else if (!strcmp(line, "why")) {
      snprintf(s->why, sizeof s->why, "%s", eq);
    } else if (!strcmp(line, "rps")) {
      s->rps = atof(eq);
    } else if (!strcmp(line, "p50_ms")) {
      s->p50 = atof(eq);
    } else if (!strcmp(line, "p90_ms")) {
      s->p90 = atof(eq);
    } else if (!strcmp(line, "p99_ms")) {
      s->p99 = atof(eq);
    } else if (!strcmp(line, "max_ms")) {
      s->max = atof(eq);
    } else if (!strcmp(line, "cpu_ms_per_req")) {
      s->cpu = atof(eq);
      s->has_cpu = 1;
    } else if (!strcmp(line, "queries_per_req")) {
      s->qpr = atof(eq);
      s->has_qpr = 1;
    } else if (!strcmp(line, "hwm_kb")) {
      s->hwm = atol(eq);
    } else if (!strcmp(line, "pss_kb")) {
      s->pss = atol(eq);
    } else if (!strcmp(line, "conns")) {
      s->conns = atoi(eq);
    } else if (!strcmp(line, "processes")) {
      s->processes = atoi(eq);
    } else if (!strcmp(line, "requests")) {
      s->requests = strtoul(eq, NULL, 10);
    } else if (!strcmp(line, "unexpected")) {
      s->unexpected = strtoul(eq, NULL, 10);
    }
  }
  fclose(f);
  if (!s->status[0]) {
    snprintf(s->status, sizeof s->status, "failed");
    snprintf(s->why, sizeof s->why, "%s has no status", path);
  }
  return strcmp(s->status, "ok") ? -1 : 0;
}

static void cell(char *out, size_t n, const side *s, double v, int dec,
                 int have) {
  if (strcmp(s->status, "ok") != 0) {
    snprintf(out, n, "%s", s->status);
  } else if (!have) {
    snprintf(out, n, "n/a");
  } else {
    snprintf(out, n, "%.*f", dec, v);
  }
}

/* A row: a's value, b's, and the ratio a/b (or b/a when lower is
 * better, so that "20x" reads as "20 times better" in every row; lower
 * -1: no ratio). */
static void row(const side *a, const side *b, const char *label, double va,
                double vb, int dec, int have_a, int have_b, int lower) {
  char ca[32], cb[32], r[32] = "";
  cell(ca, sizeof ca, a, va, dec, have_a);
  cell(cb, sizeof cb, b, vb, dec, have_b);
  if (lower >= 0 && !strcmp(a->status, "ok") && !strcmp(b->status, "ok") &&
      have_a && have_b && va > 0 && vb > 0) {
    snprintf(r, sizeof r, "%.1fx %s", lower ? vb / va : va / vb,
             (lower ? va <= vb : va >= vb) ? "better" : "worse");
  }
  printf("%-30s %16s %16s  %s\n", label, ca, cb, r);
}

static int compare(const char *fa, const char *fb, const char *title) {
  side a, b;
  int ok_a = read_side(fa, &a) == 0, ok_b = read_side(fb, &b) == 0;
  unsigned long diff_req = 0, compared = 0;
  int diff_kinds = 0, shown = 0, rc = 0;
  size_t ci;
  int pos;
  if (!a.label[0]) {
    snprintf(a.label, sizeof a.label, "A");
  }
  if (!b.label[0]) {
    snprintf(b.label, sizeof b.label, "B");
  }
  if (title) {
    printf("%s\n", title);
  }
  printf("%-30s %16s %16s  %s\n", "", a.label, b.label, "ratio");
  row(&a, &b, "requests/s", a.rps, b.rps, 1, 1, 1, 0);
  row(&a, &b, "latency p50, ms", a.p50, b.p50, 2, 1, 1, 1);
  row(&a, &b, "latency p90, ms", a.p90, b.p90, 2, 1, 1, 1);
  row(&a, &b, "latency p99, ms", a.p99, b.p99, 2, 1, 1, 1);
  row(&a, &b, "latency max, ms", a.max, b.max, 2, 1, 1, 1);
  row(&a, &b, "CPU ms per request", a.cpu, b.cpu, 3, a.has_cpu, b.has_cpu, 1);
  row(&a, &b, "DNS queries per request", a.qpr, b.qpr, 2, a.has_qpr,
      b.has_qpr, 1);
  row(&a, &b, "processes", a.processes, b.processes, 0, a.processes > 0,
      b.processes > 0, -1);
  row(&a, &b, "peak RSS KiB, all processes", (double)a.hwm, (double)b.hwm, 0,
      a.hwm >= 0, b.hwm >= 0, 1);
  row(&a, &b, "PSS KiB, all processes", (double)a.pss, (double)b.pss, 0,
      a.pss >= 0, b.pss >= 0, 1);
  row(&a, &b, "requests measured", (double)a.requests, (double)b.requests, 0,
      1, 1, -1);
  if (!ok_a) {
    printf("%s: %s%s%s\n", a.label, a.status, a.why[0] ? ": " : "", a.why);
    rc = 1;
  }
  if (!ok_b) {
    printf("%s: %s%s%s\n", b.label, b.status, b.why[0] ? ": " : "", b.why);
    rc = 1;
  }
  if (ok_a != ok_b && (ok_a ? a.unexpected : b.unexpected)) {
    printf("%s: %lu first recipients whose action is not the workload's "
           "expected result\n",
           ok_a ? a.label : b.label, ok_a ? a.unexpected : b.unexpected);
  }
  if (ok_a && ok_b) {
    /* the same action for the same request? */
    for (ci = 0; ci < bench_nchecks; ci++) {
      for (pos = 0; pos < 2; pos++) {
        const key_count *ka = a.tl->k[ci][pos], *kb = b.tl->k[ci][pos];
        int i, j, differs = 0;
        unsigned long na = 0, nb = 0;
        /* a request of one side differs when the other side never gave
         * its key for this check and position, or gave another too */
        for (i = 0; i < MAX_KEYS && ka[i].n; i++) {
          na += ka[i].n;
        }
        for (j = 0; j < MAX_KEYS && kb[j].n; j++) {
          nb += kb[j].n;
        }
        if (!na || !nb) {
          continue; /* not asked of both (too short a run) */
        }
        compared += na + nb;
        if (ka[1].n || kb[1].n || strcmp(ka[0].key, kb[0].key) != 0) {
          differs = 1;
        }
        if (!differs) {
          continue;
        }
        diff_kinds++;
        for (i = 0; i < MAX_KEYS && ka[i].n; i++) {
          int same = !ka[1].n && !kb[1].n && !strcmp(ka[i].key, kb[0].key);
          diff_req += same ? 0 : ka[i].n;
        }
        for (j = 0; j < MAX_KEYS && kb[j].n; j++) {
          int same = !ka[1].n && !kb[1].n && !strcmp(kb[j].key, ka[0].key);
          diff_req += same ? 0 : kb[j].n;
        }
        if (shown++ < 8) {
          printf("  DIFFERENT: client_address=%s sender=%s, %s recipient "
                 "[%s]:\n",
                 bench_checks[ci].ip, bench_checks[ci].sender,
                 pos ? "a later" : "the first", bench_checks[ci].what);
          for (i = 0; i < MAX_KEYS && ka[i].n; i++) {
            printf("    %-12s %6lux action=%s\n", a.label, ka[i].n,
                   ka[i].sample);
          }
          for (j = 0; j < MAX_KEYS && kb[j].n; j++) {
            printf("    %-12s %6lux action=%s\n", b.label, kb[j].n,
                   kb[j].sample);
          }
        }
      }
    }
    printf("same action (verb/code, and the SPF result of a prepended "
           "header): %lu requests compared, %lu different (%d check%s)\n",
           compared, diff_req, diff_kinds, diff_kinds == 1 ? "" : "s");
    if (a.unexpected || b.unexpected) {
      printf("first recipients whose action is not the workload's expected "
             "result: %s %lu, %s %lu\n",
             a.label, a.unexpected, b.label, b.unexpected);
    }
    if (diff_req || a.unexpected || b.unexpected || !compared) {
      rc = 1;
    }
    if (rc) {
      printf("goal (>= 20x the requests/s at an equal or better p99): not "
             "judged, the two did not do the same work\n");
    } else if (a.rps > 0 && b.rps > 0) {
      printf("goal (>= 20x the requests/s at an equal or better p99): %s "
             "(%.1fx, p99 %.2f against %.2f ms)\n",
             a.rps >= 20 * b.rps && a.p99 <= b.p99 ? "met" : "NOT met",
             a.rps / b.rps, a.p99, b.p99);
    }
  }
  free(a.tl);
  free(b.tl);
  return rc;
}

/* ======================================================================
 * main
 * ==================================================================== */

static void usage(FILE *f) {
  fputs("usage: spf-policyload --label NAME --out FILE [--conns N] "
        "[--seconds S]\n"
        "                      [--nsd IP:PORT --proxy IP:PORT "
        "[--delay-ms MS]]\n"
        "                      ( --connect unix:PATH|inet:IP:PORT "
        "[--pid PID]\n"
        "                      | --spawn [--child-log FILE] -- PROGRAM "
        "[ARGS...] )\n"
        "       spf-policyload --not-run NAME WHY --out FILE\n"
        "       spf-policyload --compare FILE_A FILE_B [--title TEXT]\n",
        f);
}


int main(int argc, char **argv) {
  load L;
  bench_proxy px;
  const char *nsd = NULL, *proxy = NULL, *title = NULL;
  long delay_ms = 5;
  int i, spawn = 0, rc;
  char err[256];
  memset(&L, 0, sizeof L);
  memset(&px, 0, sizeof px);
  L.conns = 64;
  L.seconds = 8;
  if (bench_nchecks > MAX_CHECKS) {
    die("the workload has more than %d checks", MAX_CHECKS);
  }
  if (argc >= 4 && !strcmp(argv[1], "--compare")) {
    if (argc == 6 && !strcmp(argv[4], "--title")) {
      title = argv[5];
    } else if (argc != 4) {
      usage(stderr);
      return 2;
    }
    return compare(argv[2], argv[3], title);
  }
  if (argc == 6 && !strcmp(argv[1], "--not-run") && !strcmp(argv[4], "--out")) {
    FILE *f = fopen(argv[5], "w");
    if (!f) {
      die("cannot write %s: %s", argv[5], strerror(errno));
    }
    fprintf(f, "label=%s\nstatus=not run\nwhy=%s\n", argv[2], argv[3]);
    return fclose(f) == 0 ? 0 : 1;
  }
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--spawn")) {
      spawn = 1;
      continue;
    }
    if (!strcmp(a, "--")) {
      if (!spawn || i + 1 >= argc) {
        usage(stderr);
        return 2;
      }
      L.spawn_argv = argv + i + 1;
      break;
    }
    if (!v) {
      usage(stderr);
      return 2;
    }
    if (!strcmp(a, "--label")) {
      L.label = v;
    } else if (!strcmp(a, "--out")) {
      L.out = v;
    } else if (!strcmp(a, "--conns")) {
      L.conns = atoi(v);
    } else if (!strcmp(a, "--seconds")) {
      L.seconds = atof(v);
    } else if (!strcmp(a, "--connect")) {
      L.connect_to = v;
    } else if (!strcmp(a, "--pid")) {
      L.daemon_pid = (pid_t)atol(v);
    } else if (!strcmp(a, "--child-log")) {
      L.child_log = v;
    } else if (!strcmp(a, "--nsd")) {
      nsd = v;
    } else if (!strcmp(a, "--proxy")) {
      proxy = v;
    } else if (!strcmp(a, "--delay-ms")) {
      delay_ms = atol(v);
    } else {
      usage(stderr);
      return 2;
    }
    i++;
  }
  if (!L.label || !L.out || (!L.connect_to == !L.spawn_argv) ||
      L.conns < 1 || L.conns > MAX_CONNS || !(L.seconds > 0) ||
      L.seconds > 3600 || delay_ms < 0 || delay_ms > 1000 ||
      (!nsd != !proxy)) {
    usage(stderr);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (proxy) {
    struct sockaddr_in up, lis;
    if (bench_parse_inet(nsd, &up, 53) != 0 ||
        bench_parse_inet(proxy, &lis, 53) != 0) {
      die("bad --nsd or --proxy address");
    }
    if (bench_proxy_start(&px, (struct sockaddr *)&lis, sizeof lis,
                          (struct sockaddr *)&up, sizeof up, delay_ms * 1000,
                          err, sizeof err) != 0) {
      die("delay proxy: %s", err);
    }
  }
  rc = run_load(&L, &px);
  if (px.stats && atomic_load(&px.stats->dropped)) {
    fprintf(stderr, "spf-policyload: note: the proxy dropped %lu datagrams\n",
            atomic_load(&px.stats->dropped));
  }
  bench_proxy_stop(&px);
  return rc;
}

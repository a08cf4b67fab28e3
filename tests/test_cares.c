/*
 * tests/test_cares.c -- the c-ares backend (lib/cares) against the
 * scripted fault responder (tests/dnsfault.c), plus the answer parser on
 * hand-made replies.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The responder is started once for the whole group (fork/exec with
 * "-p 0 -s", reading its "port N" line); it dies with this program
 * because its stdin is a pipe we hold.  Its path is the first argument,
 * or MDSPF_DNSFAULT_PATH.
 *
 * Every backend here talks to 127.0.0.1:PORT with short per-try timeouts,
 * so the faults that end in a c-ares timeout cost ~200 ms each; they run
 * concurrently where possible to keep the program to a few seconds.
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "core/dnsq.h"

#include "resolvers/cares/cares_internal.h"

#include <maildrop-spf/cares.h>

/* for the ARES_* status codes fed to mdspf__cares_answer */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>

#include <errno.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h> /* mallinfo2 */
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MDSPF_DNSFAULT_PATH
#define MDSPF_DNSFAULT_PATH "dnsfault"
#endif

/* per-try timeout and tries of the test backends: a timeout fault costs
 * T_TIMEOUT + 2 * T_TIMEOUT (c-ares doubles it for the second try); the
 * second try keeps the answered cases robust on a loaded machine */
/* Timing scale: MDSPF_TEST_TIME_SCALE=N stretches every timeout and bound
 * N times (valgrind runs the test several times slower). */
static int g_scale = 1;
static int g_skipped; /* tests that could not run here */
#define T_TIMEOUT (200 * g_scale)
#define T_TRIES 2
#define T_GIVEUP (3 * T_TIMEOUT)
/* how long any single test may wait for its checks */
#define T_LIMIT_MS (8000 * g_scale)

static const char *g_dnsfault = MDSPF_DNSFAULT_PATH;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- counting / failing allocator ------------------------------------------ */

typedef struct counting {
  size_t outstanding;
  unsigned long allocs;
  unsigned long fail_at; /* fail exactly this request (1-based); 0 never */
  int failed;
} counting;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counting *c = ud;
  void *np;
  if (nsize == 0) {
    if (ptr) {
      assert_true(c->outstanding >= osize);
      c->outstanding -= osize;
    }
    free(ptr);
    return NULL;
  }
  c->allocs++;
  if (c->fail_at && c->allocs == c->fail_at) {
    c->failed = 1;
    return NULL;
  }
  np = realloc(ptr, nsize);
  if (!np) {
    return NULL;
  }
  if (ptr) {
    c->outstanding -= osize;
  }
  c->outstanding += nsize;
  return np;
}

/* ---- the responder -------------------------------------------------------------- */

typedef struct responder {
  pid_t pid;
  int stdin_fd;
  int port;
} responder;

static responder g_main = {-1, -1, 0};

static void responder_stop(responder *r) {
  int st;
  if (r->stdin_fd >= 0) {
    close(r->stdin_fd); /* -s: EOF on stdin ends it */
    r->stdin_fd = -1;
  }
  if (r->pid > 0) {
    kill(r->pid, SIGTERM);
    (void)waitpid(r->pid, &st, 0);
    r->pid = -1;
  }
}

/* Start dnsfault with "-p 0 -s" plus extra (may be NULL); 0 when it
 * printed its port. */
static int responder_start(responder *r, const char *extra) {
  int in[2], out[2];
  char line[64];
  size_t got = 0;
  long limit = now_ms() + 10000;
  r->pid = -1;
  r->stdin_fd = -1;
  r->port = 0;
  if (pipe(in) != 0) {
    return -1;
  }
  if (pipe(out) != 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  r->pid = fork();
  if (r->pid < 0) {
    return -1;
  }
  if (r->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execl(g_dnsfault, g_dnsfault, "-p", "0", "-s", extra, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  (void)fcntl(in[1], F_SETFD, FD_CLOEXEC);
  r->stdin_fd = in[1];
  while (got + 1 < sizeof line && now_ms() < limit) {
    struct pollfd p = {out[0], POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, 200) <= 0) {
      continue;
    }
    n = read(out[0], line + got, 1);
    if (n <= 0) {
      break;
    }
    got++;
    if (line[got - 1] == '\n') {
      break;
    }
  }
  close(out[0]);
  line[got] = '\0';
  if (sscanf(line, "port %d", &r->port) != 1 || r->port <= 0) {
    responder_stop(r);
    return -1;
  }
  return 0;
}

static int group_setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN);
  if (responder_start(&g_main, NULL) != 0) {
    fprintf(stderr, "cannot start %s\n", g_dnsfault);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  responder_stop(&g_main);
  return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static mdspf_cares *backend_opts(counting *ca, int timeout_ms, int tries,
                                 unsigned flags, mdspf_watch_fn watch,
                                 mdspf_timer_fn timer, void *loop_ud) {
  mdspf_cares_options o;
  mdspf_cares *c = NULL;
  char servers[64];
  snprintf(servers, sizeof servers, "127.0.0.1:%d", g_main.port);
  mdspf_cares_options_init(&o);
  o.alloc = ca ? count_alloc : NULL;
  o.alloc_ud = ca;
  o.servers = servers;
  o.timeout_ms = timeout_ms;
  o.tries = tries;
  o.flags = flags;
  o.watch = watch;
  o.timer = timer;
  o.loop_ud = loop_ud;
  assert_int_equal(mdspf_cares_new(&o, &c), MDSPF_OK);
  assert_non_null(c);
  return c;
}

static mdspf_cares *backend(counting *ca) {
  return backend_opts(ca, T_TIMEOUT, T_TRIES, 0, NULL, NULL, NULL);
}

static mdspf_ctx *ctx_for(mdspf_cares *c, counting *ca) {
  mdspf_ctx *ctx = NULL;
  assert_int_equal(mdspf_ctx_new(ca ? count_alloc : NULL, ca, &ctx),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_cares_resolver(c)),
                   MDSPF_OK);
  return ctx;
}

typedef struct job {
  const char *domain;
  int want_result;
  int want_reason; /* -1: any */
  mdspf_check *chk;
  mdspf_cares *c;   /* for callbacks that act on the backend */
  int ncb;
  int result, reason;
  long t_start, t_done;
  /* callback actions */
  int free_backend;
  int try_reentry;
  int reentry_wait, reentry_loop;
  struct job *spawn; /* start this job from the callback */
  mdspf_ctx *ctx;
} job;

/* A job expecting result r with reason s (-1: any). */
#define J(d, r, s)                                                             \
  { .domain = (d), .want_result = (r), .want_reason = (s) }

static void job_cb(mdspf_check *chk, void *user) {
  job *j = user;
  j->ncb++;
  j->result = mdspf_check_result(chk);
  j->reason = mdspf_check_reason(chk);
  j->t_done = now_ms();
  if (j->try_reentry) {
    j->reentry_wait = mdspf_cares_wait(j->c, 0);
    j->reentry_loop = mdspf_cares_set_loop(j->c, NULL, NULL, NULL);
  }
  if (j->spawn) {
    job *s = j->spawn;
    j->spawn = NULL;
    assert_int_equal(mdspf_check_new(j->ctx, &s->chk), MDSPF_OK);
    assert_int_equal(mdspf_check_set_ip(s->chk, "192.0.2.1"), MDSPF_OK);
    {
      char sender[300];
      snprintf(sender, sizeof sender, "x@%s", s->domain);
      assert_int_equal(mdspf_check_set_sender(s->chk, sender), MDSPF_OK);
    }
    s->t_start = now_ms();
    assert_int_equal(mdspf_check_start(s->chk, job_cb, s), MDSPF_OK);
  }
  if (j->free_backend) {
    mdspf_cares_free(j->c); /* deferred: we are inside its delivery */
  }
}

static void job_start(mdspf_ctx *ctx, job *j) {
  char sender[300];
  assert_int_equal(mdspf_check_new(ctx, &j->chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(j->chk, "192.0.2.1"), MDSPF_OK);
  snprintf(sender, sizeof sender, "x@%s", j->domain);
  assert_int_equal(mdspf_check_set_sender(j->chk, sender), MDSPF_OK);
  j->t_start = now_ms();
  j->ctx = ctx;
  assert_int_equal(mdspf_check_start(j->chk, job_cb, j), MDSPF_OK);
}

static int all_done(const job *jobs, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (jobs[i].ncb == 0) {
      return 0;
    }
  }
  return 1;
}

/* Drive c with mdspf_cares_wait until every job completed. */
static void drive(mdspf_cares *c, const job *jobs, size_t n) {
  long limit = now_ms() + T_LIMIT_MS;
  while (!all_done(jobs, n) && now_ms() < limit) {
    assert_int_equal(mdspf_cares_wait(c, 100), 0);
  }
  assert_true(all_done(jobs, n));
}

static void expect_jobs(const job *jobs, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (jobs[i].ncb != 1 || jobs[i].result != jobs[i].want_result ||
        (jobs[i].want_reason >= 0 && jobs[i].reason != jobs[i].want_reason)) {
      fail_msg("%s: %d callbacks, result %s reason %s (want %s / %s)",
               jobs[i].domain, jobs[i].ncb,
               mdspf_result_str(jobs[i].result),
               mdspf_strerror(jobs[i].reason),
               mdspf_result_str(jobs[i].want_result),
               jobs[i].want_reason >= 0 ? mdspf_strerror(jobs[i].want_reason)
                                        : "any");
    }
  }
}

static void free_jobs(job *jobs, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    mdspf_check_free(jobs[i].chk);
    jobs[i].chk = NULL;
  }
}

/* One blocking check through mdspf_check_run. */
static int run_sync(mdspf_cares *c, const char *domain, long budget_ms,
                    int *reason, long *elapsed) {
  counting ca = {0};
  mdspf_ctx *ctx = ctx_for(c, &ca);
  mdspf_check *chk = NULL;
  char sender[300];
  long t0;
  int result;
  if (budget_ms > 0) {
    assert_int_equal(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, budget_ms),
                     MDSPF_OK);
  }
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  snprintf(sender, sizeof sender, "x@%s", domain);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  t0 = now_ms();
  assert_int_equal(mdspf_check_run(chk, 0), MDSPF_OK);
  if (elapsed) {
    *elapsed = now_ms() - t0;
  }
  result = mdspf_check_result(chk);
  if (reason) {
    *reason = mdspf_check_reason(chk);
  }
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  assert_int_equal(ca.outstanding, 0);
  return result;
}

/* A raw query through the resolver vtable, as the core would send it. */
typedef struct direct {
  int ncb;
  int status, rcode;
} direct;

static void direct_cb(mdspf_dns_query *q, void *ud) {
  direct *d = ud;
  d->ncb++;
  d->status = q->status;
  d->rcode = q->rcode;
}

static mdspf_dns_query *query_direct_as(mdspf_cares *c, const char *name,
                                        const char *asked, int rrtype,
                                        direct *d);
static mdspf_dns_query *query_direct(mdspf_cares *c, const char *name,
                                     int rrtype, direct *d) {
  return query_direct_as(c, name, NULL, rrtype, d);
}

/* The same with the backend asked for another name than the query's own
 * (asked; NULL: the query's), as a host's resolver in between might. */
static mdspf_dns_query *query_direct_as(mdspf_cares *c, const char *name,
                                        const char *asked, int rrtype,
                                        direct *d) {
  mdspf__allocator a;
  const mdspf_resolver *r = mdspf_cares_resolver(c);
  mdspf_dns_query *q;
  void *token = NULL;
  long limit = now_ms() + T_LIMIT_MS;
  mdspf__allocator_init(&a, NULL, NULL);
  memset(d, 0, sizeof *d);
  q = mdspf__dnsq_new(&a, name, strlen(name), rrtype, direct_cb, d);
  assert_non_null(q);
  q->state = MDSPF__Q_PENDING;
  assert_int_equal(
      r->query(r->impl, q, asked ? asked : q->name, rrtype, &token), 0);
  while (d->ncb == 0 && now_ms() < limit) {
    assert_int_equal(mdspf_cares_wait(c, 100), 0);
  }
  assert_int_equal(d->ncb, 1);
  return q;
}

/* A direct query whose completion (inline: c-ares answers .onion names
 * itself) frees the backend. */
static void free_on_done(mdspf_dns_query *q, void *ud) {
  (void)q;
  mdspf_cares_free(ud);
}

static void test_cares_free_inline(void **state) {
  counting ca = {0};
  mdspf__allocator a;
  mdspf_cares *c;
  const mdspf_resolver *r;
  mdspf_dns_query *q;
  void *token = &a;
  (void)state;
  c = backend(&ca);
  r = mdspf_cares_resolver(c);
  mdspf__allocator_init(&a, NULL, NULL);
  q = mdspf__dnsq_new(&a, "x.onion", 7, MDSPF_RR_TXT, free_on_done, c);
  assert_non_null(q);
  assert_int_equal(r->query(r->impl, q, q->name, MDSPF_RR_TXT, &token), 0);
  assert_null(token);
  assert_int_equal(q->status, MDSPF_DNS_NXDOMAIN);
  mdspf__dnsq_free(q);
  assert_int_equal(ca.outstanding, 0); /* the backend is gone */
}

/* ---- options and servers ------------------------------------------------------------ */

static int try_new(const mdspf_cares_options *o) {
  counting ca = {0};
  mdspf_cares_options copy = *o;
  mdspf_cares *c = NULL;
  int rc;
  copy.alloc = count_alloc;
  copy.alloc_ud = &ca;
  rc = mdspf_cares_new(&copy, &c);
  if (rc == MDSPF_OK) {
    assert_non_null(c);
    mdspf_cares_free(c);
  } else {
    assert_null(c);
  }
  assert_int_equal(ca.outstanding, 0);
  return rc;
}

static void test_cares_options(void **state) {
  mdspf_cares_options o;
  mdspf_cares *c = (mdspf_cares *)&o;
  (void)state;
  mdspf_cares_options_init(&o);
  assert_int_equal(o.struct_size, sizeof o);
  assert_int_equal(o.timeout_ms, 2000);
  assert_int_equal(o.tries, 2);
  assert_int_equal(o.edns_size, 1232);
  assert_int_equal(o.max_channels, 16);
  assert_int_equal(o.flags, 0);
  assert_null(o.servers);
  o.servers = "127.0.0.1";
  assert_int_equal(try_new(&o), MDSPF_OK);

  assert_int_equal(mdspf_cares_new(&o, NULL), MDSPF_E_INVAL);
  o.struct_size = 0;
  assert_int_equal(mdspf_cares_new(&o, &c), MDSPF_E_INVAL);
  assert_null(c);
  o.struct_size = offsetof(mdspf_cares_options, edns_size);
  assert_int_equal(try_new(&o), MDSPF_E_INVAL);
  o.struct_size = sizeof o;

#define BAD_FIELD(field, value)                                                \
  do {                                                                         \
    mdspf_cares_options b = o;                                                 \
    b.field = value;                                                           \
    assert_int_equal(try_new(&b), MDSPF_E_INVAL);                             \
  } while (0)
  BAD_FIELD(timeout_ms, 5);
  BAD_FIELD(timeout_ms, 9);
  BAD_FIELD(timeout_ms, 60001);
  BAD_FIELD(tries, 0);
  BAD_FIELD(tries, 11);
  BAD_FIELD(edns_size, 511);
  BAD_FIELD(edns_size, 4097);
  BAD_FIELD(flags, 8u);
  BAD_FIELD(max_channels, 0);
  BAD_FIELD(max_channels, 65);
#undef BAD_FIELD
  {
    mdspf_cares_options b = o;
    b.timeout_ms = 10;
    b.tries = 10;
    b.edns_size = 512;
    b.flags = MDSPF_CARES_NO_EDNS | MDSPF_CARES_USE_TCP | MDSPF_CARES_NO_ROTATE;
    assert_int_equal(try_new(&b), MDSPF_OK);
    b.timeout_ms = 60000;
    b.edns_size = 4096;
    b.tries = 1;
    b.max_channels = 64;
    assert_int_equal(try_new(&b), MDSPF_OK);
    b.max_channels = 1;
    assert_int_equal(try_new(&b), MDSPF_OK);
    /* a caller from before max_channels: the default, whatever follows */
    b.max_channels = -5;
    b.struct_size = offsetof(mdspf_cares_options, max_channels);
    assert_int_equal(try_new(&b), MDSPF_OK);
  }
  /* a newer caller's longer struct is fine */
  {
    struct {
      mdspf_cares_options o;
      int later_field;
    } big;
    memset(&big, 0, sizeof big);
    big.o = o;
    big.o.struct_size = sizeof big;
    assert_int_equal(try_new(&big.o), MDSPF_OK);
  }
  /* NULL options: defaults with the system configuration */
  {
    int rc = mdspf_cares_new(NULL, &c);
    assert_true(rc == MDSPF_OK || rc == MDSPF_E_DNS);
    mdspf_cares_free(rc == MDSPF_OK ? c : NULL);
  }
  /* NULL is fine everywhere */
  mdspf_cares_free(NULL);
  assert_null(mdspf_cares_resolver(NULL));
  assert_int_equal(mdspf_cares_pending(NULL), 0);
  assert_int_equal(mdspf_cares_timeout(NULL), -1);
  assert_int_equal(mdspf_cares_wait(NULL, 0), MDSPF_E_INVAL);
  assert_int_equal(mdspf_cares_set_loop(NULL, NULL, NULL, NULL),
                   MDSPF_E_INVAL);
  assert_int_equal(mdspf_cares_getsock(NULL, NULL, NULL, 0), 0);
  mdspf_cares_process_fd(NULL, 0, 1, 0);
  mdspf_cares_process_timeout(NULL);
  mdspf_cares_options_init(NULL);
}

static void test_cares_servers(void **state) {
  static const char *const good[] = {
      "127.0.0.1",
      "127.0.0.1:5353",
      "[::1]:53",
      "::1",
      "[2001:db8::1]",
      "2001:db8::53",
      " 192.0.2.53 , 192.0.2.54:53 ",
      "192.0.2.1,[::1]:5353,::2",
      "[::ffff:192.0.2.1]:53",
      "",
  };
  static const char *const bad[] = {
      "127.0.0.1:0", "[::1",       "1.2.3.4:99999", "a.b",
      ",",           "1.2.3.4,",   ",1.2.3.4",      "1.2.3.4:",
      "[::1]x",      "[::1]:",     "[1.2.3.4]:53",  "[]",
      "256.1.1.1",   "1.2.3",      "1.2.3.4.5",     "1.2.3.4:53:53",
      "::1%lo",      "[fe80::1%eth0]", "1.2.3.4 5.6.7.8", "localhost",
      "1.2.3.4:+53", "1.2.3.4:0x35", " ",           "[::1]:65536",
  };
  mdspf_cares_options o;
  char many[40 * 16];
  size_t i;
  (void)state;
  mdspf_cares_options_init(&o);
  for (i = 0; i < sizeof good / sizeof *good; i++) {
    int rc;
    o.servers = good[i];
    rc = try_new(&o);
    if (good[i][0] == '\0') {
      /* the system configuration: whatever this machine has */
      assert_true(rc == MDSPF_OK || rc == MDSPF_E_DNS);
    } else if (rc != MDSPF_OK) {
      fail_msg("servers \"%s\" refused (%d)", good[i], rc);
    }
  }
  for (i = 0; i < sizeof bad / sizeof *bad; i++) {
    o.servers = bad[i];
    if (try_new(&o) != MDSPF_E_INVAL) {
      fail_msg("servers \"%s\" accepted", bad[i]);
    }
  }
  /* at most 32 servers */
  many[0] = '\0';
  for (i = 0; i < 32; i++) {
    strcat(many, i ? ",127.0.0.1" : "127.0.0.1");
  }
  o.servers = many;
  assert_int_equal(try_new(&o), MDSPF_OK);
  strcat(many, ",127.0.0.1");
  assert_int_equal(try_new(&o), MDSPF_E_INVAL);
}

static void test_cares_new_oom(void **state) {
  mdspf_cares_options o;
  unsigned long n;
  int ok = 0;
  (void)state;
  mdspf_cares_options_init(&o);
  o.servers = "127.0.0.1,[::1]:53";
  for (n = 1; n < 50 && !ok; n++) {
    counting ca = {0};
    mdspf_cares *c = NULL;
    int rc;
    ca.fail_at = n;
    o.alloc = count_alloc;
    o.alloc_ud = &ca;
    rc = mdspf_cares_new(&o, &c);
    if (rc == MDSPF_OK) {
      assert_false(ca.failed);
      ok = 1;
      mdspf_cares_free(c);
    } else {
      assert_int_equal(rc, MDSPF_E_NOMEM);
      assert_null(c);
    }
    assert_int_equal(ca.outstanding, 0);
  }
  assert_true(ok);
}

/* ---- names ------------------------------------------------------------------------------ */

static void test_cares_escape(void **state) {
  char out[600];
  (void)state;
  assert_int_equal(mdspf__cares_escape_name("a.b", out, sizeof out), 3);
  assert_string_equal(out, "a.b");
  assert_int_equal(mdspf__cares_escape_name("a\\b.c d", out, sizeof out), 8);
  assert_string_equal(out, "a\\\\b.c d");
  assert_int_equal(mdspf__cares_escape_name("x\\", out, sizeof out), 3);
  assert_string_equal(out, "x\\\\");
  assert_int_equal(mdspf__cares_escape_name("\\\\", out, 4), -1);
  assert_int_equal(mdspf__cares_escape_name("\\\\", out, 5), 4);
  assert_int_equal(mdspf__cares_escape_name("%\x01\xff", out, sizeof out),
                   3);
  assert_int_equal(mdspf__cares_escape_name(NULL, out, sizeof out), -1);

  assert_int_equal(mdspf__cares_unescape_name("mx.example.com", out, 100),
                   14);
  assert_string_equal(out, "mx.example.com");
  assert_int_equal(mdspf__cares_unescape_name("a\\032b\\\\c.d", out, 100), 7);
  assert_string_equal(out, "a b\\c.d");
  assert_int_equal(mdspf__cares_unescape_name("a\\255", out, 100), 2);
  assert_int_equal((unsigned char)out[1], 255);
  assert_int_equal(mdspf__cares_unescape_name("", out, 100), 0);
  assert_int_equal(mdspf__cares_unescape_name("host.", out, 100), 4);
  /* a label with '.' or NUL cannot reach the core */
  assert_int_equal(mdspf__cares_unescape_name("a\\.b", out, 100), -1);
  assert_int_equal(mdspf__cares_unescape_name("a\\046b", out, 100), -1);
  assert_int_equal(mdspf__cares_unescape_name("a\\000b", out, 100), -1);
  assert_int_equal(mdspf__cares_unescape_name("a\\256", out, 100), -1);
  assert_int_equal(mdspf__cares_unescape_name("a\\", out, 100), -1);
  assert_int_equal(mdspf__cares_unescape_name("a..b", out, 100), -1);
  assert_int_equal(mdspf__cares_unescape_name(".a", out, 100), -1);
  assert_int_equal(mdspf__cares_unescape_name("abcdef", out, 6), -1);
  assert_int_equal(mdspf__cares_unescape_name("abcde", out, 6), 5);
  {
    char label[70];
    memset(label, 'a', 64);
    label[64] = '\0';
    assert_int_equal(mdspf__cares_unescape_name(label, out, 100), -1);
    label[63] = '\0';
    assert_int_equal(mdspf__cares_unescape_name(label, out, 100), 63);
  }
}

/* ---- the answer function on hand-made replies ----------------------------------- */

typedef struct wbuf {
  unsigned char b[70000];
  size_t len;
} wbuf;

static void w8(wbuf *w, unsigned v) { w->b[w->len++] = (unsigned char)v; }
static void w16(wbuf *w, unsigned v) {
  w8(w, (v >> 8) & 0xff);
  w8(w, v & 0xff);
}
static void w32(wbuf *w, unsigned long v) {
  w16(w, (unsigned)((v >> 16) & 0xffff));
  w16(w, (unsigned)(v & 0xffff));
}
static void wbytes(wbuf *w, const void *d, size_t n) {
  memcpy(w->b + w->len, d, n);
  w->len += n;
}
static void wname(wbuf *w, const char *name) {
  while (*name) {
    const char *dot = strchr(name, '.');
    size_t n = dot ? (size_t)(dot - name) : strlen(name);
    w8(w, (unsigned)n);
    wbytes(w, name, n);
    name += n;
    if (*name == '.') {
      name++;
    }
  }
  w8(w, 0);
}
/* header + question; answers are counted by rr() */
static void reply(wbuf *w, const char *qname, unsigned qtype, unsigned rcode) {
  w->len = 0;
  w16(w, 0x1234);
  w16(w, 0x8180u | rcode);
  w16(w, 1);
  w16(w, 0);
  w16(w, 0);
  w16(w, 0);
  wname(w, qname);
  w16(w, qtype);
  w16(w, 1);
}
static void rr_ttl(wbuf *w, unsigned type, unsigned long ttl,
                   const void *rdata, size_t rdlen) {
  w16(w, 0xc00c);
  w16(w, type);
  w16(w, 1);
  w32(w, ttl);
  w16(w, (unsigned)rdlen);
  wbytes(w, rdata, rdlen);
  w->b[7] = (unsigned char)(w->b[7] + 1);
}
static void rr(wbuf *w, unsigned type, const void *rdata, size_t rdlen) {
  rr_ttl(w, type, 300, rdata, rdlen);
}
/* A SOA record in the authority section (after every answer RR), owned
 * by the question name, with TTL ttl and MINIMUM minimum. */
static void soa(wbuf *w, unsigned long ttl, unsigned long minimum) {
  static const unsigned char names[] = "\x02ns\xc0\x0c\x0ahostmaster\xc0\x0c";
  w16(w, 0xc00c);
  w16(w, 6);
  w16(w, 1);
  w32(w, ttl);
  w16(w, (unsigned)(sizeof names - 1 + 20));
  wbytes(w, names, sizeof names - 1);
  w32(w, 1);
  w32(w, 3600);
  w32(w, 600);
  w32(w, 86400);
  w32(w, minimum);
  w->b[9] = (unsigned char)(w->b[9] + 1);
}

typedef struct got {
  int ncb;
  int status, rcode;
  long ttl; /* -1: none */
  unsigned nrr;
  char txt[8][300];
  size_t txtlen[8];
  unsigned char addr[8][16];
  int family[8];
  char names[8][300];
  unsigned prefs[8];
} got;

static void got_cb(mdspf_dns_query *q, void *ud) {
  got *g = ud;
  size_t pos = 0;
  mdspf__rr r;
  unsigned i = 0;
  g->ncb++;
  g->status = q->status;
  g->rcode = q->rcode;
  g->ttl = q->has_ttl ? (long)q->ttl : -1;
  g->nrr = q->nrr;
  while (mdspf__dnsq_next(q, &pos, &r) && i < 8) {
    if (r.kind == MDSPF__RK_TXT) {
      size_t n = r.len < 299 ? r.len : 299;
      memcpy(g->txt[i], r.data, n);
      g->txt[i][n] = '\0';
      g->txtlen[i] = r.len;
    } else if (r.kind == MDSPF__RK_ADDR) {
      g->family[i] = r.family;
      memcpy(g->addr[i], r.data, r.len <= 16 ? r.len : 16);
    } else if (r.kind == MDSPF__RK_NAME) {
      size_t n = r.len < 299 ? r.len : 299;
      memcpy(g->names[i], r.data, n);
      g->names[i][n] = '\0';
      g->prefs[i] = r.pref;
    }
    i++;
  }
}

/* Run the answer function on a buffer for a fresh query. */
static void answer(const char *qname, int rrtype, int status,
                   const unsigned char *buf, int len, got *g) {
  counting ca = {0};
  mdspf__allocator a;
  mdspf_dns_query *q;
  mdspf__allocator_init(&a, count_alloc, &ca);
  memset(g, 0, sizeof *g);
  q = mdspf__dnsq_new(&a, qname, strlen(qname), rrtype, got_cb, g);
  assert_non_null(q);
  q->state = MDSPF__Q_PENDING;
  mdspf__cares_answer(q, rrtype, status, buf, len, count_alloc, &ca);
  assert_int_equal(g->ncb, 1);
  mdspf__dnsq_free(q);
  assert_int_equal(ca.outstanding, 0);
}

static void test_cares_answer_txt(void **state) {
  static wbuf w;
  got g;
  (void)state;
  reply(&w, "example.com", 16, 0);
  /* one record in three strings, one in one, one empty string */
  rr(&w, 16, "\x07v=spf1 \x0dip4:192.0.2.1\x05 -all", 1 + 7 + 1 + 13 + 1 + 5);
  rr(&w, 16, "\x05hello", 6);
  rr(&w, 16, "\x00", 1);
  answer("example.com", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.rcode, 0);
  assert_int_equal(g.nrr, 3);
  assert_string_equal(g.txt[0], "v=spf1 ip4:192.0.2.1 -all");
  assert_string_equal(g.txt[1], "hello");
  assert_int_equal(g.txtlen[2], 0);

  /* two long records of several 255-octet strings */
  {
    unsigned char rd[3 * 256];
    size_t i;
    for (i = 0; i < 3; i++) {
      rd[i * 256] = 255;
      memset(rd + i * 256 + 1, 'a' + (int)i, 255);
    }
    reply(&w, "long.example", 16, 0);
    rr(&w, 16, rd, sizeof rd);
    rr(&w, 16, rd, 256);
    {
      counting ca = {0};
      mdspf__allocator a;
      mdspf_dns_query *q;
      size_t pos = 0;
      mdspf__rr r;
      mdspf__allocator_init(&a, count_alloc, &ca);
      memset(&g, 0, sizeof g);
      q = mdspf__dnsq_new(&a, "long.example", 12, MDSPF_RR_TXT, got_cb, &g);
      q->state = MDSPF__Q_PENDING;
      mdspf__cares_answer(q, MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len,
                          count_alloc, &ca);
      assert_int_equal(q->status, MDSPF_DNS_OK);
      assert_int_equal(q->nrr, 2);
      assert_true(mdspf__dnsq_next(q, &pos, &r));
      assert_int_equal(r.len, 765);
      assert_int_equal(r.data[0], 'a');
      assert_int_equal(r.data[255], 'b');
      assert_int_equal(r.data[764], 'c');
      assert_true(mdspf__dnsq_next(q, &pos, &r));
      assert_int_equal(r.len, 255);
      assert_false(mdspf__dnsq_next(q, &pos, &r));
      mdspf__dnsq_free(q);
      assert_int_equal(ca.outstanding, 0);
    }
  }

  /* only a CNAME: no data */
  reply(&w, "alias.example", 16, 0);
  rr(&w, 5, "\x03" "foo\x07" "example\x00", 13);
  answer("alias.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NODATA);
}

/* The TTL every answer carries: a positive one's is the smallest of its
 * records and CNAMEs; a negative one's min(SOA TTL, MINIMUM) from the
 * authority section (and the CNAMEs'); none without a SOA, for errors,
 * or when the reply cannot be walked. */
static void test_cares_answer_ttl(void **state) {
  static wbuf w;
  static const unsigned char a1[4] = {192, 0, 2, 1};
  got g;
  (void)state;
  reply(&w, "host.example", 1, 0);
  rr_ttl(&w, 1, 600, a1, 4);
  rr_ttl(&w, 1, 60, a1, 4);
  rr_ttl(&w, 16, 5, "\x01x", 2); /* another type: not counted */
  answer("host.example", MDSPF_RR_A, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.ttl, 60);
  /* a CNAME on the way lowers it */
  reply(&w, "alias.example", 16, 0);
  rr_ttl(&w, 5, 30, "\x03" "foo\xc0\x0c", 6);
  rr_ttl(&w, 16, 300, "\x02hi", 3);
  answer("alias.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.ttl, 30);
  /* huge and zero TTLs */
  reply(&w, "host.example", 1, 0);
  rr_ttl(&w, 1, 0x7fffffffUL, a1, 4);
  answer("host.example", MDSPF_RR_A, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.ttl, 0x7fffffffL);
  reply(&w, "host.example", 1, 0);
  rr_ttl(&w, 1, 0x80000000UL, a1, 4);
  answer("host.example", MDSPF_RR_A, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.ttl, 0); /* RFC 2181 8 */
  reply(&w, "host.example", 1, 0);
  rr_ttl(&w, 1, 0, a1, 4);
  answer("host.example", MDSPF_RR_A, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.ttl, 0);
  /* NXDOMAIN with a SOA: min(SOA TTL, MINIMUM) either way round */
  reply(&w, "gone.example", 16, 3);
  soa(&w, 3600, 300);
  answer("gone.example", MDSPF_RR_TXT, ARES_ENOTFOUND, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NXDOMAIN);
  assert_int_equal(g.ttl, 300);
  reply(&w, "gone.example", 16, 3);
  soa(&w, 100, 86400);
  answer("gone.example", MDSPF_RR_TXT, ARES_ENOTFOUND, w.b, (int)w.len, &g);
  assert_int_equal(g.ttl, 100);
  reply(&w, "gone.example", 16, 3);
  soa(&w, 100, 0xffffffffUL);
  answer("gone.example", MDSPF_RR_TXT, ARES_ENOTFOUND, w.b, (int)w.len, &g);
  assert_int_equal(g.ttl, 0);
  /* NODATA, as c-ares says it and as a reply with only a CNAME */
  reply(&w, "empty.example", 16, 0);
  soa(&w, 900, 120);
  answer("empty.example", MDSPF_RR_TXT, ARES_ENODATA, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NODATA);
  assert_int_equal(g.ttl, 120);
  reply(&w, "alias.example", 16, 0);
  rr_ttl(&w, 5, 30, "\x03" "foo\xc0\x0c", 6);
  soa(&w, 900, 120);
  answer("alias.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NODATA);
  assert_int_equal(g.ttl, 30);
  /* no SOA: no TTL */
  reply(&w, "gone.example", 16, 3);
  answer("gone.example", MDSPF_RR_TXT, ARES_ENOTFOUND, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NXDOMAIN);
  assert_int_equal(g.ttl, -1);
  answer("gone.example", MDSPF_RR_TXT, ARES_ENOTFOUND, NULL, 0, &g);
  assert_int_equal(g.ttl, -1);
  /* a SOA whose rdata does not add up: no TTL */
  reply(&w, "gone.example", 16, 3);
  soa(&w, 100, 50);
  w.b[w.len - 20 - 13] = 0x0b; /* RNAME's label one octet longer */
  answer("gone.example", MDSPF_RR_TXT, ARES_ENOTFOUND, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NXDOMAIN);
  assert_int_equal(g.ttl, -1);
  /* errors carry none */
  reply(&w, "fail.example", 16, 2);
  soa(&w, 100, 50);
  answer("fail.example", MDSPF_RR_TXT, ARES_ESERVFAIL, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_TEMPFAIL);
  assert_int_equal(g.ttl, -1);
  /* every truncated prefix of a reply: a defined answer, never a crash */
  {
    size_t cut, full;
    reply(&w, "alias.example", 16, 0);
    rr_ttl(&w, 5, 30, "\x03" "foo\xc0\x0c", 6);
    soa(&w, 900, 120);
    full = w.len;
    for (cut = 0; cut < full; cut++) {
      answer("alias.example", MDSPF_RR_TXT, ARES_ENODATA, w.b, (int)cut, &g);
      assert_true(g.ttl == -1 || g.ttl == 30);
    }
  }
}

static void test_cares_answer_types(void **state) {
  static wbuf w;
  static const unsigned char a1[4] = {192, 0, 2, 1}, a2[4] = {198, 51, 100, 7};
  static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                       0,    0,    0,    0,    0, 0, 0, 9};
  got g;
  (void)state;
  reply(&w, "host.example", 1, 0);
  rr(&w, 1, a1, 4);
  rr(&w, 28, v6, 16); /* wrong type: ignored */
  rr(&w, 1, a2, 4);
  answer("host.example", MDSPF_RR_A, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.nrr, 2);
  assert_int_equal(g.family[0], 4);
  assert_memory_equal(g.addr[0], a1, 4);
  assert_memory_equal(g.addr[1], a2, 4);

  reply(&w, "host.example", 28, 0);
  rr(&w, 28, v6, 16);
  answer("host.example", MDSPF_RR_AAAA, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.nrr, 1);
  assert_int_equal(g.family[0], 6);
  assert_memory_equal(g.addr[0], v6, 16);

  /* an AAAA reply that holds only an A record: nothing of the type */
  reply(&w, "host.example", 28, 0);
  rr(&w, 1, a1, 4);
  answer("host.example", MDSPF_RR_AAAA, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NODATA);

  reply(&w, "example.com", 15, 0);
  rr(&w, 15, "\x00\x0a\x03mx1\x07" "example\x03" "com\x00", 2 + 17);
  rr(&w, 15, "\x00\x14\x03mx2\xc0\x0c", 2 + 6); /* compressed */
  answer("example.com", MDSPF_RR_MX, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.nrr, 2);
  assert_string_equal(g.names[0], "mx1.example.com");
  assert_int_equal(g.prefs[0], 10);
  assert_string_equal(g.names[1], "mx2.example.com");
  assert_int_equal(g.prefs[1], 20);

  /* null MX (RFC 7505): the root name */
  reply(&w, "nomail.example", 15, 0);
  rr(&w, 15, "\x00\x00\x00", 3);
  answer("nomail.example", MDSPF_RR_MX, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.nrr, 1);
  assert_string_equal(g.names[0], "");

  reply(&w, "1.2.0.192.in-addr.arpa", 12, 0);
  rr(&w, 12, "\x02ok\x07" "example\x00", 12);
  rr(&w, 12, "\x03two\x07" "example\x00", 13);
  answer("1.2.0.192.in-addr.arpa", MDSPF_RR_PTR, ARES_SUCCESS, w.b,
         (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_OK);
  assert_int_equal(g.nrr, 2);
  assert_string_equal(g.names[0], "ok.example");
  assert_string_equal(g.names[1], "two.example");

  /* a type the backend never asks for */
  reply(&w, "host.example", 99, 0);
  answer("host.example", 99, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_ERROR);
}

static void test_cares_answer_status(void **state) {
  static const struct {
    int ares, status, rcode;
  } map[] = {
      {ARES_ENODATA, MDSPF_DNS_NODATA, 0},
      {ARES_ENOTFOUND, MDSPF_DNS_NXDOMAIN, 3},
      {ARES_ESERVFAIL, MDSPF_DNS_TEMPFAIL, 2},
      {ARES_EREFUSED, MDSPF_DNS_TEMPFAIL, 5},
      {ARES_ETIMEOUT, MDSPF_DNS_TEMPFAIL, -1},
      {ARES_ECONNREFUSED, MDSPF_DNS_TEMPFAIL, -1},
      {ARES_ECANCELLED, MDSPF_DNS_TEMPFAIL, -1},
      {ARES_EDESTRUCTION, MDSPF_DNS_TEMPFAIL, -1},
      {ARES_ENOMEM, MDSPF_DNS_TEMPFAIL, -1},
      {ARES_EFORMERR, MDSPF_DNS_ERROR, 1},
      {ARES_ENOTIMP, MDSPF_DNS_ERROR, 4},
      {ARES_EBADRESP, MDSPF_DNS_ERROR, -1},
      {ARES_EBADNAME, MDSPF_DNS_ERROR, -1},
      {ARES_EBADQUERY, MDSPF_DNS_ERROR, -1},
      {12345, MDSPF_DNS_ERROR, -1},
      {-7, MDSPF_DNS_ERROR, -1},
  };
  static wbuf w;
  got g;
  size_t i;
  (void)state;
  for (i = 0; i < sizeof map / sizeof *map; i++) {
    answer("x.example", MDSPF_RR_TXT, map[i].ares, NULL, 0, &g);
    if (g.status != map[i].status || g.rcode != map[i].rcode) {
      fail_msg("ares status %d: got %d/%d", map[i].ares, g.status, g.rcode);
    }
  }
  /* with a reply, the RCODE comes from its header */
  reply(&w, "x.example", 16, 3);
  answer("x.example", MDSPF_RR_TXT, ARES_ENOTFOUND, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NXDOMAIN);
  assert_int_equal(g.rcode, 3);
  /* a "success" whose header carries an error RCODE follows the RCODE */
  reply(&w, "x.example", 16, 2);
  rr(&w, 16, "\x01x", 2);
  answer("x.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_TEMPFAIL);
  assert_int_equal(g.rcode, 2);
  /* NULL q is a no-op */
  mdspf__cares_answer(NULL, MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, NULL,
                      NULL);
}

/* Allocation failures while an answer is turned into records: a valid
 * status, no leak. */
static void test_cares_answer_oom(void **state) {
  static wbuf w;
  static const unsigned char a1[4] = {192, 0, 2, 1};
  static const struct {
    int type;
    const char *rdata;
    size_t len;
  } rrs[] = {
      {MDSPF_RR_A, (const char *)a1, 4},
      {MDSPF_RR_AAAA, "0123456789abcdef", 16},
      {MDSPF_RR_TXT, "\x05hello\x03you", 10},
      {MDSPF_RR_MX, "\x00\x0a\x02mx\x00", 6},
      {MDSPF_RR_PTR, "\x02ok\x00", 4},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof rrs / sizeof *rrs; i++) {
    unsigned long k;
    reply(&w, "x.example", (unsigned)rrs[i].type, 0);
    rr(&w, (unsigned)rrs[i].type, rrs[i].rdata, rrs[i].len);
    for (k = 1; k <= 3; k++) {
      counting ca = {0};
      mdspf__allocator a;
      mdspf_dns_query *q;
      got g;
      memset(&g, 0, sizeof g);
      mdspf__allocator_init(&a, count_alloc, &ca);
      q = mdspf__dnsq_new(&a, "x.example", 9, rrs[i].type, got_cb, &g);
      assert_non_null(q);
      ca.fail_at = ca.allocs + k;
      mdspf__cares_answer(q, rrs[i].type, ARES_SUCCESS, w.b, (int)w.len,
                          count_alloc, &ca);
      assert_int_equal(g.ncb, 1);
      if (ca.failed) {
        /* our buffer: TEMPFAIL; the builder's: ERROR */
        assert_true(g.status == MDSPF_DNS_TEMPFAIL ||
                    g.status == MDSPF_DNS_ERROR);
      } else {
        assert_int_equal(g.status, MDSPF_DNS_OK);
      }
      mdspf__dnsq_free(q);
      assert_int_equal(ca.outstanding, 0);
    }
  }
}

/* Answers too big for the parsers' stack buffers (40 A records, a TXT
 * record of 2000 octets) take memory from the hook: every failure of it
 * is a defined answer, never a leak; small ones take none. */
static void test_cares_answer_big_oom(void **state) {
  static wbuf w;
  static unsigned char txt[2000 + 8];
  int pass;
  (void)state;
  for (pass = 0; pass < 3; pass++) {
    int type = pass == 0 ? MDSPF_RR_A : MDSPF_RR_TXT;
    unsigned long k, need = 0;
    reply(&w, "big.example", (unsigned)type, 0);
    if (pass == 0) {
      int i;
      for (i = 0; i < 40; i++) {
        unsigned char a[4] = {192, 0, 2, (unsigned char)i};
        rr(&w, 1, a, 4);
      }
    } else {
      size_t n = pass == 1 ? 2000 : 100, off = 0, i;
      for (i = 0; i < n; i += 250) {
        size_t len = n - i < 250 ? n - i : 250;
        txt[off++] = (unsigned char)len;
        memset(txt + off, 'a', len);
        off += len;
      }
      rr(&w, 16, txt, off);
    }
    for (k = 0; k <= 4; k++) {
      counting ca = {0}, qa = {0};
      mdspf__allocator a;
      mdspf_dns_query *q;
      got g;
      mdspf__allocator_init(&a, count_alloc, &qa); /* the query's own */
      q = mdspf__dnsq_new(&a, "big.example", 11, type, got_cb, &g);
      assert_non_null(q);
      memset(&g, 0, sizeof g);
      ca.fail_at = k; /* 0: none */
      mdspf__cares_answer(q, type, ARES_SUCCESS, w.b, (int)w.len,
                          count_alloc, &ca);
      assert_int_equal(g.ncb, 1);
      if (k == 0) {
        need = ca.allocs;
        assert_int_equal(g.status, MDSPF_DNS_OK);
        assert_int_equal(g.nrr, pass == 0 ? 40 : 1);
        /* the big ones need the hook once, the small one never */
        assert_int_equal(need, pass == 2 ? 0 : 1);
      } else if (k <= need) {
        assert_true(ca.failed);
        assert_int_equal(g.status, MDSPF_DNS_TEMPFAIL);
      } else {
        assert_int_equal(g.status, MDSPF_DNS_OK);
      }
      mdspf__dnsq_free(q);
      assert_int_equal(ca.outstanding, 0);
      assert_int_equal(qa.outstanding, 0);
    }
  }
}

static void test_cares_answer_bad(void **state) {
  static wbuf w;
  static const int types[] = {MDSPF_RR_A, MDSPF_RR_AAAA, MDSPF_RR_MX,
                              MDSPF_RR_TXT, MDSPF_RR_PTR};
  got g;
  size_t t;
  uint32_t seed = 12345;
  int i;
  (void)state;
  for (t = 0; t < sizeof types / sizeof *types; t++) {
    int ty = types[t];
    /* nothing, or less than a header */
    answer("x.example", ty, ARES_SUCCESS, NULL, 0, &g);
    assert_int_equal(g.status, MDSPF_DNS_ERROR);
    answer("x.example", ty, ARES_SUCCESS, (const unsigned char *)"\x12\x34",
           -5, &g);
    assert_int_equal(g.status, MDSPF_DNS_ERROR);
    answer("x.example", ty, ARES_SUCCESS,
           (const unsigned char *)"\x12\x34\x81\x80\x00", 5, &g);
    assert_int_equal(g.status, MDSPF_DNS_ERROR);
    /* a header promising a question and an answer, and nothing else */
    reply(&w, "x.example", (unsigned)ty, 0);
    w.b[7] = 1;
    answer("x.example", ty, ARES_SUCCESS, w.b, 12, &g);
    assert_int_equal(g.status, MDSPF_DNS_ERROR);
    /* a record cut off in the middle */
    reply(&w, "x.example", (unsigned)ty, 0);
    rr(&w, (unsigned)ty, "\x19v=spf1 ip4:192.0.2.1 -all", 26);
    answer("x.example", ty, ARES_SUCCESS, w.b, (int)w.len - 13, &g);
    assert_int_equal(g.status, MDSPF_DNS_ERROR);
    /* an owner name that is a compression loop */
    reply(&w, "x.example", (unsigned)ty, 0);
    {
      size_t at = w.len;
      w16(&w, 0xc000u | (unsigned)at);
      w16(&w, (unsigned)ty);
      w16(&w, 1);
      w32(&w, 300);
      w16(&w, 4);
      w32(&w, 0xc0000201ul);
      w.b[7] = 1;
    }
    answer("x.example", ty, ARES_SUCCESS, w.b, (int)w.len, &g);
    assert_int_equal(g.status, MDSPF_DNS_ERROR);
  }
  /* random bytes with random statuses: one completion, never a crash */
  for (i = 0; i < 20000; i++) {
    unsigned char buf[600];
    size_t n, k;
    int st;
    seed = seed * 1103515245u + 12345u;
    n = (seed >> 8) % sizeof buf;
    for (k = 0; k < n; k++) {
      seed = seed * 1103515245u + 12345u;
      buf[k] = (unsigned char)(seed >> 16);
    }
    if (n >= 12 && (i & 1)) {
      /* make it look like a reply often enough to reach the parsers */
      buf[2] = 0x81;
      buf[3] = 0x80;
      buf[4] = 0;
      buf[5] = 1;
      buf[6] = 0;
      buf[7] = (unsigned char)(buf[7] & 7);
    }
    st = (i % 3 == 0) ? ARES_SUCCESS : (int)((seed >> 4) % 30);
    answer("x.example", types[(unsigned)i % 5], st, buf, (int)n, &g);
    assert_true(g.status >= MDSPF_DNS_OK && g.status <= MDSPF_DNS_ERROR);
  }
}

/* ---- live faults ------------------------------------------------------------------------- */

static void test_cares_faults(void **state) {
  job jobs[] = {
      J("ok.test", MDSPF_PASS, MDSPF_OK),
      J("servfail.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("refused.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("formerr.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("notimp.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("nxdomain.test", MDSPF_NONE, -1),
      J("nodata.test", MDSPF_NONE, -1),
      J("drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("badid.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("wrongq.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("garbled.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("short.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("trunc.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("ptrloop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("tc.test", MDSPF_PASS, MDSPF_OK),
      J("huge.test", MDSPF_PASS, MDSPF_OK),
      J("slow-50.test", MDSPF_PASS, MDSPF_OK),
      J("OK.Test", MDSPF_PASS, MDSPF_OK),
      J("unknown.test", MDSPF_NONE, -1),
      /* through include / a / mx */
      J("inc-ok.test", MDSPF_PASS, MDSPF_OK),
      J("a-ok.test", MDSPF_PASS, MDSPF_OK),
      J("mx-ok.test", MDSPF_PASS, MDSPF_OK),
      J("inc-tc.test", MDSPF_PASS, MDSPF_OK),
      J("inc-huge.test", MDSPF_PASS, MDSPF_OK),
      J("inc-servfail.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("a-servfail.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("mx-servfail.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("inc-drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("a-drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("mx-drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("inc-trunc.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("a-garbled.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("mx-refused.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("inc-nxdomain.test", MDSPF_PERMERROR, -1),
      J("a-nxdomain.test", MDSPF_FAIL, MDSPF_OK),
      J("spf-all.test", MDSPF_PASS, MDSPF_OK),
      J("spf-~all.test", MDSPF_SOFTFAIL, MDSPF_OK),
      J("spf--all.test", MDSPF_FAIL, MDSPF_OK),
      J("spf-?all.test", MDSPF_NEUTRAL, MDSPF_OK),
  };
  size_t n = sizeof jobs / sizeof *jobs, i;
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  long t0 = now_ms();
  (void)state;
  /* (tcloop is checked on its own in test_cares_sync_and_tcp: closing
   * the TCP connection fails every query sharing it, tc and huge here,
   * when there is only one try) */
  c = backend(&ca);
  ctx = ctx_for(c, &cc);
  for (i = 0; i < n; i++) {
    job_start(ctx, &jobs[i]);
  }
  drive(c, jobs, n);
  expect_jobs(jobs, n);
  /* every fault ends in bounded time: at most T_GIVEUP per lookup, and
   * no chain here has more than one lookup that can time out */
  for (i = 0; i < n; i++) {
    long took = jobs[i].t_done - jobs[i].t_start;
    if (took > T_GIVEUP + 500 * g_scale) {
      fail_msg("%s took %ld ms", jobs[i].domain, took);
    }
  }
  assert_true(now_ms() - t0 < 3000 * g_scale);
  assert_int_equal(mdspf_cares_pending(c), 0);
  free_jobs(jobs, n);
  mdspf_ctx_free(ctx);
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

static void test_cares_sync_and_tcp(void **state) {
  counting ca = {0};
  mdspf_cares *c;
  int reason;
  long took;
  (void)state;
  /* mdspf_check_run drives the backend through the vtable's wait() */
  c = backend(&ca);
  assert_int_equal(run_sync(c, "ok.test", 0, &reason, NULL), MDSPF_PASS);
  assert_int_equal(run_sync(c, "servfail.test", 0, &reason, NULL),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  assert_int_equal(run_sync(c, "drop.test", 0, &reason, &took),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  assert_true(took >= T_GIVEUP - 20 && took < T_GIVEUP + 500 * g_scale);
  assert_int_equal(run_sync(c, "tcloop.test", 0, &reason, NULL),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  assert_int_equal(run_sync(c, "inc-tcloop.test", 0, &reason, NULL),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  mdspf_cares_free(c);

  /* slow-N with a check budget shorter than N (and than c-ares' own
   * timeout): the budget wins, within it */
  c = backend_opts(&ca, 1000, 3, 0, NULL, NULL, NULL);
  assert_int_equal(run_sync(c, "slow-1500.test", 300, &reason, &took),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_TIMEOUT);
  assert_true(took >= 290 && took < 300 + 300);
  assert_int_equal(mdspf_cares_pending(c), 0);
  /* the abandoned query was swept out of c-ares */
  assert_int_equal(mdspf_cares_timeout(c), -1);
  assert_int_equal(run_sync(c, "inc-slow-2000.test", 400, &reason, &took),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_TIMEOUT);
  assert_true(took >= 390 && took < 400 + 300);
  /* and a slow answer inside the budget is just slow */
  assert_int_equal(run_sync(c, "slow-300.test", 1000, &reason, &took),
                   MDSPF_PASS);
  assert_true(took >= 290);
  mdspf_cares_free(c);

  /* always TCP, and no EDNS */
  c = backend_opts(&ca, T_TIMEOUT, T_TRIES, MDSPF_CARES_USE_TCP, NULL, NULL,
                   NULL);
  assert_int_equal(run_sync(c, "ok.test", 0, &reason, NULL), MDSPF_PASS);
  assert_int_equal(run_sync(c, "huge.test", 0, &reason, NULL), MDSPF_PASS);
  assert_int_equal(run_sync(c, "mx-ok.test", 0, &reason, NULL), MDSPF_PASS);
  mdspf_cares_free(c);
  c = backend_opts(&ca, T_TIMEOUT, T_TRIES,
                   MDSPF_CARES_NO_EDNS | MDSPF_CARES_NO_ROTATE, NULL, NULL,
                   NULL);
  assert_int_equal(run_sync(c, "tc.test", 0, &reason, NULL), MDSPF_PASS);
  assert_int_equal(run_sync(c, "formerr.test", 0, &reason, NULL),
                   MDSPF_TEMPERROR);
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
}

static void test_cares_huge_direct(void **state) {
  counting ca = {0};
  mdspf_cares *c;
  mdspf_dns_query *q;
  direct d;
  size_t pos = 0, total = 0;
  mdspf__rr r;
  unsigned k = 0;
  (void)state;
  c = backend(&ca);
  q = query_direct(c, "huge.test", MDSPF_RR_TXT, &d);
  assert_int_equal(d.status, MDSPF_DNS_OK);
  assert_int_equal(q->nrr, 8);
  while (mdspf__dnsq_next(q, &pos, &r)) {
    assert_int_equal(r.kind, MDSPF__RK_TXT);
    total += r.len;
    if (k == 0) {
      static const char tail[] = " ip4:192.0.2.1 -all";
      assert_true(r.len > 3000);
      assert_memory_equal(r.data, "v=spf1 ip4:10.0.0.1 ", 20);
      assert_memory_equal(r.data + r.len - (sizeof tail - 1), tail,
                          sizeof tail - 1);
    } else {
      size_t i;
      /* 30 strings of 255 octets joined into one record */
      assert_int_equal(r.len, 30 * 255);
      for (i = 0; i < r.len; i++) {
        if (r.data[i] != 'a' + (int)(k - 1)) {
          fail_msg("record %u octet %zu is %d", k, i, r.data[i]);
        }
      }
    }
    k++;
  }
  assert_true(total > 55000);
  mdspf__dnsq_free(q);

  /* the other types through the vtable */
  q = query_direct(c, "ok.test", MDSPF_RR_MX, &d);
  assert_int_equal(d.status, MDSPF_DNS_OK);
  pos = 0;
  assert_true(mdspf__dnsq_next(q, &pos, &r));
  assert_int_equal(r.pref, 10);
  assert_int_equal(r.len, strlen("ok-mx.test"));
  assert_memory_equal(r.data, "ok-mx.test", r.len);
  mdspf__dnsq_free(q);
  q = query_direct(c, "ok.test", MDSPF_RR_AAAA, &d);
  assert_int_equal(d.status, MDSPF_DNS_OK);
  mdspf__dnsq_free(q);
  q = query_direct(c, "1.2.0.192.ok.test", MDSPF_RR_PTR, &d);
  assert_int_equal(d.status, MDSPF_DNS_NXDOMAIN); /* first label "1" */
  assert_int_equal(d.rcode, 3);
  mdspf__dnsq_free(q);
  q = query_direct(c, "ok.test", MDSPF_RR_PTR, &d);
  assert_int_equal(d.status, MDSPF_DNS_OK);
  pos = 0;
  assert_true(mdspf__dnsq_next(q, &pos, &r));
  assert_memory_equal(r.data, "ok.example", r.len);
  mdspf__dnsq_free(q);
  q = query_direct(c, "nodata.test", MDSPF_RR_A, &d);
  assert_int_equal(d.status, MDSPF_DNS_NODATA);
  assert_int_equal(d.rcode, 0);
  mdspf__dnsq_free(q);
  /* c-ares 1.18 retries SERVFAIL, REFUSED and NOTIMP elsewhere and then
   * reports ARES_ECONNREFUSED without the reply (later versions keep the
   * RCODE): TEMPFAIL either way, the RCODE when known */
  q = query_direct(c, "servfail.test", MDSPF_RR_A, &d);
  assert_int_equal(d.status, MDSPF_DNS_TEMPFAIL);
  assert_true(d.rcode == 2 || d.rcode == -1);
  mdspf__dnsq_free(q);
  q = query_direct(c, "refused.test", MDSPF_RR_TXT, &d);
  assert_int_equal(d.status, MDSPF_DNS_TEMPFAIL);
  assert_true(d.rcode == 5 || d.rcode == -1);
  mdspf__dnsq_free(q);
  q = query_direct(c, "notimp.test", MDSPF_RR_A, &d);
  assert_true((d.status == MDSPF_DNS_ERROR && d.rcode == 4) ||
              (d.status == MDSPF_DNS_TEMPFAIL && d.rcode == -1));
  mdspf__dnsq_free(q);
  q = query_direct(c, "formerr.test", MDSPF_RR_A, &d);
  assert_int_equal(d.status, MDSPF_DNS_ERROR);
  assert_int_equal(d.rcode, 1);
  mdspf__dnsq_free(q);
  q = query_direct(c, "trunc.test", MDSPF_RR_TXT, &d);
  assert_int_equal(d.status, MDSPF_DNS_ERROR);
  mdspf__dnsq_free(q);
  q = query_direct(c, "drop.test", MDSPF_RR_TXT, &d);
  assert_int_equal(d.status, MDSPF_DNS_TEMPFAIL);
  assert_int_equal(d.rcode, -1);
  mdspf__dnsq_free(q);
  /* RFC 7686: c-ares answers .onion itself, inside query() */
  q = query_direct(c, "x.onion", MDSPF_RR_A, &d);
  assert_int_equal(d.status, MDSPF_DNS_NXDOMAIN);
  mdspf__dnsq_free(q);
  /* a type the backend does not do is refused without a completion */
  {
    mdspf__allocator a;
    const mdspf_resolver *res = mdspf_cares_resolver(c);
    void *tok = (void *)&a;
    mdspf__allocator_init(&a, NULL, NULL);
    memset(&d, 0, sizeof d);
    q = mdspf__dnsq_new(&a, "ok.test", 7, 99, direct_cb, &d);
    assert_int_not_equal(res->query(res->impl, q, q->name, 99, &tok), 0);
    assert_null(tok);
    assert_int_equal(d.ncb, 0);
    mdspf__dnsq_free(q);
  }
  assert_int_equal(mdspf_cares_pending(c), 0);
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
}

static void test_cares_name_escaping(void **state) {
  static const char *const names[] = {
      "echo.a\\b.test",       "echo.x\\.test",         "echo.sp ace.test",
      "echo.pct%{d}.test",    "echo.\x01\x7f\xff.test", "echo.q\"u(o)t;e@$.test",
      "echo.\\\\\\.test",     "echo.\\032.test",
      /* past a small token's room (127 escaped octets): a large one */
      ("echo.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
       "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
       "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.test"),
      ("echo.\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"
       "\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\.test"),
  };
  counting ca = {0};
  mdspf_cares *c;
  size_t i;
  (void)state;
  c = backend(&ca);
  for (i = 0; i < sizeof names / sizeof *names; i++) {
    direct d;
    size_t pos = 0;
    mdspf__rr r;
    mdspf_dns_query *q = query_direct(c, names[i], MDSPF_RR_TXT, &d);
    if (d.status != MDSPF_DNS_OK) {
      fail_msg("%s: status %d", names[i], d.status);
    }
    /* the responder echoes the octets it received */
    assert_true(mdspf__dnsq_next(q, &pos, &r));
    if (r.len != strlen(names[i]) || memcmp(r.data, names[i], r.len) != 0) {
      fail_msg("%s: sent as \"%.*s\"", names[i], (int)r.len, r.data);
    }
    mdspf__dnsq_free(q);
  }
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
}

/* Tokens keep no copy of the name when it is their query's own: the
 * name asked for is what goes out all the same when it is another one
 * -- on the first try and on the retry over TCP after truncation -- and
 * a token of each kind is reused in turn. */
static void test_cares_name_not_the_querys(void **state) {
  counting ca = {0};
  mdspf_cares *c;
  int round;
  (void)state;
  c = backend(&ca);
  for (round = 0; round < 3; round++) {
    direct d;
    size_t pos = 0;
    mdspf__rr r;
    mdspf_dns_query *q;
    /* the responder echoes the name it was asked */
    q = query_direct_as(c, "echo.own.test", "echo.rewritten.test",
                        MDSPF_RR_TXT, &d);
    assert_int_equal(d.status, MDSPF_DNS_OK);
    assert_true(mdspf__dnsq_next(q, &pos, &r));
    assert_int_equal(r.len, strlen("echo.rewritten.test"));
    assert_memory_equal(r.data, "echo.rewritten.test", r.len);
    mdspf__dnsq_free(q);
    q = query_direct(c, "echo.own.test", MDSPF_RR_TXT, &d);
    assert_int_equal(d.status, MDSPF_DNS_OK);
    pos = 0;
    assert_true(mdspf__dnsq_next(q, &pos, &r));
    assert_int_equal(r.len, strlen("echo.own.test"));
    assert_memory_equal(r.data, "echo.own.test", r.len);
    mdspf__dnsq_free(q);
    /* truncated over UDP, answered over TCP: asked twice, both times
     * by the name asked for */
    q = query_direct_as(c, "nx.own.test", "tc.test", MDSPF_RR_TXT, &d);
    assert_int_equal(d.status, MDSPF_DNS_OK);
    mdspf__dnsq_free(q);
    q = query_direct(c, "tc.test", MDSPF_RR_TXT, &d);
    assert_int_equal(d.status, MDSPF_DNS_OK);
    mdspf__dnsq_free(q);
  }
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
}

/* A reply whose TC bit is still set is not an answer: over TCP (where
 * c-ares hands it over) it is a DNS error, never "no data". */
static void test_cares_tc_over_tcp(void **state) {
  static wbuf w;
  counting ca = {0};
  mdspf_cares *c;
  mdspf_dns_query *q;
  direct d;
  got g;
  int reason;
  (void)state;
  /* the parser: TC with no records, with ENODATA or SUCCESS */
  reply(&w, "x.example", 16, 0);
  w.b[2] |= 0x02;
  answer("x.example", MDSPF_RR_TXT, ARES_ENODATA, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_ERROR);
  answer("x.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_ERROR);
  /* ... and with records: they may be a part of the set only */
  rr(&w, 16, "\x05hello", 6);
  answer("x.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_ERROR);
  /* an NXDOMAIN stays one, truncated or not */
  reply(&w, "x.example", 16, 3);
  w.b[2] |= 0x02;
  answer("x.example", MDSPF_RR_TXT, ARES_ENOTFOUND, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NXDOMAIN);

  /* live: tctc answers TC over UDP and again over TCP */
  c = backend(&ca);
  q = query_direct(c, "tctc.test", MDSPF_RR_TXT, &d);
  assert_int_equal(d.status, MDSPF_DNS_ERROR);
  mdspf__dnsq_free(q);
  assert_int_equal(run_sync(c, "tctc.test", 0, &reason, NULL),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  assert_int_equal(run_sync(c, "inc-tctc.test", 0, &reason, NULL),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  assert_int_equal(run_sync(c, "tc.test", 0, &reason, NULL), MDSPF_PASS);
  mdspf_cares_free(c);
  c = backend_opts(&ca, T_TIMEOUT, T_TRIES, MDSPF_CARES_USE_TCP, NULL, NULL,
                   NULL);
  assert_int_equal(run_sync(c, "tctc.test", 0, &reason, NULL),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
}

/* CNAME-only answers: a chain that loops is a temporary failure (as a
 * recursive server and the zone resolver report it), one that ends at a
 * name without records of the type is no data. */
static void test_cares_cname_loop(void **state) {
  static wbuf w;
  got g;
  job jobs[] = {
      J("cnameself.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("cnamea.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("cnameb.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("CnameA.Sub.Test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("cnameend.test", MDSPF_NONE, -1),
      J("cnameok.test", MDSPF_PASS, MDSPF_OK),
      J("inc-cnameself.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("a-cnameself.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("mx-cnamea.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("a-cnameend.test", MDSPF_FAIL, MDSPF_OK),
      J("a-cnameok.test", MDSPF_PASS, MDSPF_OK),
      J("mx-cnameok.test", MDSPF_PASS, MDSPF_OK),
  };
  size_t n = sizeof jobs / sizeof *jobs;
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  size_t i;
  (void)state;
  /* the parser, every type: a name that is its own alias */
  for (i = 0; i < 5; i++) {
    static const int types[] = {MDSPF_RR_A, MDSPF_RR_AAAA, MDSPF_RR_MX,
                                MDSPF_RR_TXT, MDSPF_RR_PTR};
    reply(&w, "self.example", (unsigned)types[i], 0);
    rr(&w, 5, "\xc0\x0c", 2);
    answer("self.example", types[i], ARES_SUCCESS, w.b, (int)w.len, &g);
    if (g.status != MDSPF_DNS_TEMPFAIL) {
      fail_msg("type %d: status %d", types[i], g.status);
    }
  }
  /* two names, written out in full and in another case */
  reply(&w, "a.example", 16, 0);
  rr(&w, 5, "\x01" "b\x07" "example\x00", 11);
  /* the second CNAME is owned by b.example, not the question name */
  wname(&w, "B.EXAMPLE");
  w16(&w, 5);
  w16(&w, 1);
  w32(&w, 300);
  w16(&w, 11);
  wbytes(&w, "\x01" "A\x07" "Example\x00", 11);
  w.b[7] = (unsigned char)(w.b[7] + 1);
  answer("a.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_TEMPFAIL);
  /* a chain of three that ends: no data */
  reply(&w, "a.example", 16, 0);
  rr(&w, 5, "\x01" "b\x07" "example\x00", 11);
  wname(&w, "b.example");
  w16(&w, 5);
  w16(&w, 1);
  w32(&w, 300);
  w16(&w, 11);
  wbytes(&w, "\x01" "c\x07" "example\x00", 11);
  w.b[7] = (unsigned char)(w.b[7] + 1);
  answer("a.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NODATA);
  /* a loop away from the question name's chain is not the answer's:
   * the chain a -> b ends, b2 -> b2 is noise */
  reply(&w, "a.example", 16, 0);
  rr(&w, 5, "\x01" "b\x07" "example\x00", 11);
  wname(&w, "b2.example");
  w16(&w, 5);
  w16(&w, 1);
  w32(&w, 300);
  w16(&w, 2);
  w16(&w, 0xc000u | (unsigned)(w.len - 10 - 12));
  w.b[7] = (unsigned char)(w.b[7] + 1);
  answer("a.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_int_equal(g.status, MDSPF_DNS_NODATA);
  /* a compression loop in a CNAME target: unreadable, never a hang */
  reply(&w, "a.example", 16, 0);
  {
    size_t at = w.len + 12;
    rr(&w, 5, "\xc0\x00", 2);
    w.b[at] = (unsigned char)(0xc0u | (at >> 8));
    w.b[at + 1] = (unsigned char)(at & 0xff);
  }
  answer("a.example", MDSPF_RR_TXT, ARES_SUCCESS, w.b, (int)w.len, &g);
  assert_true(g.status == MDSPF_DNS_NODATA || g.status == MDSPF_DNS_ERROR);

  /* live, through the backend: loops of one and two names, over TXT,
   * A and MX; a chain that ends without records; one that ends at
   * records */
  c = backend(&ca);
  ctx = ctx_for(c, &cc);
  for (i = 0; i < n; i++) {
    job_start(ctx, &jobs[i]);
  }
  drive(c, jobs, n);
  expect_jobs(jobs, n);
  free_jobs(jobs, n);
  mdspf_ctx_free(ctx);
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

/* ---- cancel and free ------------------------------------------------------------------ */

static void test_cares_cancel(void **state) {
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  job a = J("drop.test", MDSPF_TEMPERROR, -1);
  job b = J("slow-150.test", MDSPF_PASS, MDSPF_OK);
  long t0;
  (void)state;
  /* one try: the drop's query ends at T_TIMEOUT */
  c = backend_opts(&ca, T_TIMEOUT, 1, 0, NULL, NULL, NULL);
  ctx = ctx_for(c, &cc);

  /* cancelled alone: the query is swept out of c-ares at once */
  job_start(ctx, &a);
  assert_int_equal(mdspf_cares_pending(c), 1);
  assert_true(mdspf_cares_timeout(c) >= 0);
  assert_int_equal(mdspf_cares_wait(c, 20), 0);
  mdspf_check_cancel(a.chk);
  assert_int_equal(mdspf_cares_pending(c), 0);
  assert_int_equal(mdspf_cares_timeout(c), -1);
  assert_int_equal(mdspf_cares_wait(c, 50), 0);
  assert_int_equal(a.ncb, 0);
  mdspf_check_free(a.chk);

  /* cancelled while another query is live: its token lingers until the
   * c-ares timeout (T_TIMEOUT), which must not touch the freed check */
  memset(&a, 0, sizeof a);
  a.domain = "drop.test";
  job_start(ctx, &a);
  t0 = now_ms();
  assert_int_equal(mdspf_cares_wait(c, T_TIMEOUT - 80), 0);
  assert_true(now_ms() - t0 >= T_TIMEOUT - 90);
  job_start(ctx, &b); /* answered 150 ms later: after a's timeout */
  assert_int_equal(mdspf_cares_pending(c), 2);
  mdspf_check_free(a.chk); /* cancels, then frees the check */
  a.chk = NULL;
  assert_int_equal(mdspf_cares_pending(c), 1);
  drive(c, &b, 1);
  assert_true(now_ms() - t0 > T_TIMEOUT); /* the drop timed out meanwhile */
  expect_jobs(&b, 1);
  assert_true(b.t_done - b.t_start >= 140);
  assert_int_equal(a.ncb, 0);
  assert_int_equal(mdspf_cares_pending(c), 0);
  assert_int_equal(mdspf_cares_timeout(c), -1); /* nothing left in c-ares */
  mdspf_check_free(b.chk);

  mdspf_ctx_free(ctx);
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

static void test_cares_free_inflight(void **state) {
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  job jobs[] = {
      J("drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("slow-1000.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("inc-drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("tcloop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
  };
  size_t n = sizeof jobs / sizeof *jobs, i;
  (void)state;
  c = backend_opts(&ca, 2000, 1, 0, NULL, NULL, NULL);
  ctx = ctx_for(c, &cc);
  for (i = 0; i < n; i++) {
    job_start(ctx, &jobs[i]);
  }
  assert_int_equal(mdspf_cares_wait(c, 30), 0);
  assert_true(mdspf_cares_pending(c) > 0);
  /* the queries in flight complete as TEMPFAIL inside the free */
  mdspf_cares_free(c);
  for (i = 0; i < n; i++) {
    assert_int_equal(jobs[i].ncb, 1);
  }
  expect_jobs(jobs, n);
  free_jobs(jobs, n);
  mdspf_ctx_free(ctx);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);

  /* the context first: its checks are cancelled, then the backend */
  memset(jobs, 0, sizeof jobs);
  jobs[0].domain = "drop.test";
  jobs[1].domain = "slow-1000.test";
  jobs[2].domain = "ok.test";
  jobs[3].domain = "tc.test";
  c = backend_opts(&ca, 2000, 1, 0, NULL, NULL, NULL);
  ctx = ctx_for(c, &cc);
  for (i = 0; i < n; i++) {
    job_start(ctx, &jobs[i]);
  }
  mdspf_ctx_free(ctx); /* cancels the checks; their handles stay */
  assert_int_equal(mdspf_cares_pending(c), 0);
  assert_int_equal(mdspf_cares_wait(c, 50), 0);
  mdspf_cares_free(c);
  for (i = 0; i < n; i++) {
    assert_int_equal(jobs[i].ncb, 0);
    assert_int_equal(mdspf_check_reason(jobs[i].chk), MDSPF_E_CANCELLED);
  }
  free_jobs(jobs, n); /* after the context and the backend: any order */
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

/* The teardown rule in every order: context, checks, backend, with two
 * checks waiting for answers that never come and one finished. */
static void cares_teardown(const int *order) {
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  job jobs[3];
  int k, ctx_gone = 0, checks_gone = 0;
  memset(jobs, 0, sizeof jobs);
  jobs[0].domain = "ok.test";
  jobs[1].domain = "drop.test";
  jobs[2].domain = "slow-1000.test";
  c = backend_opts(&ca, 2000, 1, 0, NULL, NULL, NULL);
  ctx = ctx_for(c, &cc);
  for (k = 0; k < 3; k++) {
    job_start(ctx, &jobs[k]);
  }
  while (jobs[0].ncb == 0) {
    assert_int_equal(mdspf_cares_wait(c, 100), 0);
  }
  for (k = 0; k < 3; k++) {
    switch (order[k]) {
    case 0:
      mdspf_ctx_free(ctx);
      ctx_gone = 1;
      break;
    case 1:
      free_jobs(jobs, 3);
      checks_gone = 1;
      break;
    default:
      mdspf_cares_free(c);
      if (!ctx_gone && !checks_gone) {
        /* the waiting checks failed inside the free */
        assert_int_equal(jobs[1].ncb, 1);
        assert_int_equal(jobs[2].ncb, 1);
        assert_int_equal(mdspf_check_result(jobs[1].chk), MDSPF_TEMPERROR);
      }
      break;
    }
  }
  for (k = 0; k < 3; k++) {
    assert_true(jobs[k].ncb <= 1);
  }
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

static void test_cares_teardown_every_order(void **state) {
  static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                   {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  int k;
  (void)state;
  for (k = 0; k < 6; k++) {
    cares_teardown(orders[k]);
  }
}

/* Every call from inside the backend's watch and timer hooks: the ones
 * that would re-enter c-ares are refused (MDSPF_E_RECURSIVE or no-op),
 * queries started there wait until the backend is idle, a free is
 * deferred. */
enum {
  H_START = 0, /* start a check */
  H_CANCEL,    /* cancel a running check */
  H_PROCESS,   /* process_fd / process_timeout: no-ops */
  H_WAIT,      /* wait / set_loop: refused */
  H_QUERIES,   /* timeout, getsock, pending: plain reads */
  H_FREE,      /* mdspf_cares_free: deferred */
  H_CTX_FREE,  /* mdspf_ctx_free */
  NH
};

typedef struct hookenv {
  mdspf_cares *c;
  mdspf_ctx *ctx;
  job *victim; /* cancelled by H_CANCEL */
  job spawned;
  int action, in_timer, armed, acted, rc1, rc2, freed, ctx_freed;
  int victim_running; /* when H_CANCEL cancelled it */
} hookenv;

static void hook_act(hookenv *h) {
  int fds[8], ev[8];
  if (h->acted || !h->armed) {
    return;
  }
  h->acted = 1;
  switch (h->action) {
  case H_START:
    job_start(h->ctx, &h->spawned);
    break;
  case H_CANCEL:
    h->victim_running = h->victim->ncb == 0;
    mdspf_check_cancel(h->victim->chk);
    break;
  case H_PROCESS:
    mdspf_cares_process_fd(h->c, -1, 1, 1);
    mdspf_cares_process_timeout(h->c);
    break;
  case H_WAIT:
    h->rc1 = mdspf_cares_wait(h->c, 10);
    h->rc2 = mdspf_cares_set_loop(h->c, NULL, NULL, NULL);
    break;
  case H_QUERIES:
    (void)mdspf_cares_timeout(h->c);
    (void)mdspf_cares_getsock(h->c, fds, ev, 8);
    (void)mdspf_cares_pending(h->c);
    break;
  case H_FREE:
    mdspf_cares_free(h->c);
    h->freed = 1;
    break;
  default:
    mdspf_ctx_free(h->ctx);
    h->ctx_freed = 1;
    break;
  }
}

static void hook_watch(void *ud, int fd, int rd, int wr) {
  hookenv *h = ud;
  (void)fd;
  (void)rd;
  (void)wr;
  if (!h->in_timer) {
    hook_act(h);
  }
}

static void hook_timer(void *ud, long ms) {
  hookenv *h = ud;
  (void)ms;
  if (h->in_timer) {
    hook_act(h);
  }
}

static void test_cares_hook_reentry(void **state) {
  int a, which;
  (void)state;
  for (which = 0; which < 2; which++) {
    for (a = 0; a < NH; a++) {
      counting ca = {0}, cc = {0};
      hookenv h;
      job jobs[2];
      int k;
      memset(&h, 0, sizeof h);
      memset(jobs, 0, sizeof jobs);
      h.action = a;
      h.in_timer = which;
      h.spawned.domain = "ok.test";
      h.spawned.want_result = MDSPF_PASS;
      h.spawned.want_reason = -1;
      /* The watch hook is called when c-ares opens or closes a socket:
       * the main lane's UDP socket stays open, so the watch variant
       * asks for a truncated answer, whose TCP connection opens and
       * closes while the backend works. */
      jobs[0].domain = which == 0 ? "tc.test" : "ok.test";
      jobs[1].domain = "slow-300.test";
      h.victim = &jobs[1];
      h.c = backend_opts(&ca, 2000, 1, 0, hook_watch, hook_timer, &h);
      h.ctx = ctx_for(h.c, &cc);
      for (k = 0; k < 2; k++) {
        job_start(h.ctx, &jobs[k]);
      }
      h.armed = 1; /* the next hook call acts (the answer closes or the
                      timer moves) */
      for (k = 0; k < 100 && !h.freed &&
                  (jobs[0].ncb == 0 || jobs[1].ncb == 0 ||
                   (a == H_START && h.spawned.ncb == 0));
           k++) {
        if (h.ctx_freed || (a == H_CANCEL && h.acted && jobs[0].ncb)) {
          break;
        }
        assert_int_equal(mdspf_cares_wait(h.c, 50), 0);
      }
      assert_int_equal(h.acted, 1);
      switch (a) {
      case H_START:
        assert_int_equal(h.spawned.ncb, 1); /* sent once the backend idled */
        assert_int_equal(mdspf_check_result(h.spawned.chk), MDSPF_PASS);
        break;
      case H_CANCEL:
        assert_int_equal(jobs[1].ncb, h.victim_running ? 0 : 1);
        break;
      case H_WAIT:
        assert_int_equal(h.rc1, MDSPF_E_RECURSIVE);
        assert_int_equal(h.rc2, MDSPF_E_RECURSIVE);
        break;
      case H_FREE:
        /* done when the hook's caller returned: the checks failed */
        assert_true(jobs[0].ncb + jobs[1].ncb >= 1);
        break;
      default:
        break;
      }
      mdspf_check_free(h.spawned.chk);
      free_jobs(jobs, 2);
      if (!h.ctx_freed) {
        mdspf_ctx_free(h.ctx);
      }
      if (!h.freed) {
        mdspf_cares_free(h.c);
      }
      assert_int_equal(ca.outstanding, 0);
      assert_int_equal(cc.outstanding, 0);
    }
  }
}

static void test_cares_callback_reentry(void **state) {
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  job spawned = J("inc-ok.test", MDSPF_PASS, MDSPF_OK);
  job jobs[3];
  long limit;
  (void)state;
  memset(jobs, 0, sizeof jobs);
  c = backend(&ca);
  ctx = ctx_for(c, &cc);
  /* a callback that starts a new check on the same backend, and probes
   * the calls that are refused from inside a delivery */
  jobs[0].domain = "ok.test";
  jobs[0].want_result = MDSPF_PASS;
  jobs[0].c = c;
  jobs[0].try_reentry = 1;
  jobs[0].spawn = &spawned;
  jobs[1].domain = "nxdomain.test";
  jobs[1].want_result = MDSPF_NONE;
  jobs[1].want_reason = -1;
  jobs[2].domain = "slow-100.test";
  jobs[2].want_result = MDSPF_PASS;
  job_start(ctx, &jobs[0]);
  job_start(ctx, &jobs[1]);
  job_start(ctx, &jobs[2]);
  drive(c, jobs, 3);
  drive(c, &spawned, 1);
  expect_jobs(jobs, 3);
  expect_jobs(&spawned, 1);
  assert_int_equal(jobs[0].reentry_wait, MDSPF_E_RECURSIVE);
  assert_int_equal(jobs[0].reentry_loop, MDSPF_E_RECURSIVE);
  mdspf_check_free(spawned.chk);
  free_jobs(jobs, 3);

  /* a callback that frees the backend: deferred to the end of the wait;
   * the other query in flight then completes as TEMPFAIL */
  memset(jobs, 0, sizeof jobs);
  jobs[0].domain = "ok.test";
  jobs[0].want_result = MDSPF_PASS;
  jobs[0].c = c;
  jobs[0].free_backend = 1;
  jobs[1].domain = "drop.test";
  jobs[1].want_result = MDSPF_TEMPERROR;
  jobs[1].want_reason = MDSPF_E_DNS;
  job_start(ctx, &jobs[0]);
  job_start(ctx, &jobs[1]);
  limit = now_ms() + T_LIMIT_MS;
  while (jobs[0].ncb == 0 && now_ms() < limit) {
    assert_int_equal(mdspf_cares_wait(c, 100), 0);
  }
  /* c is gone now */
  expect_jobs(jobs, 2);
  free_jobs(jobs, 2);
  mdspf_ctx_free(ctx);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

/* ---- event-loop hooks -------------------------------------------------------------------- */

typedef struct tloop {
  struct {
    int fd, rd, wr;
  } w[32];
  size_t n;
  long timer_at; /* monotonic ms, -1 disarmed */
  unsigned watch_calls, timer_calls, max_fds;
  int saw_write;
} tloop;

static void tl_watch(void *ud, int fd, int rd, int wr) {
  tloop *L = ud;
  size_t i;
  L->watch_calls++;
  if (wr) {
    L->saw_write = 1;
  }
  for (i = 0; i < L->n; i++) {
    if (L->w[i].fd == fd) {
      break;
    }
  }
  if (!rd && !wr) {
    assert_true(i < L->n); /* only sockets we were told about */
    L->w[i] = L->w[L->n - 1];
    L->n--;
    return;
  }
  if (i == L->n) {
    assert_true(L->n < 32);
    L->n++;
    if (L->n > L->max_fds) {
      L->max_fds = (unsigned)L->n;
    }
  }
  L->w[i].fd = fd;
  L->w[i].rd = rd;
  L->w[i].wr = wr;
}

static void tl_timer(void *ud, long ms) {
  tloop *L = ud;
  L->timer_calls++;
  L->timer_at = ms < 0 ? -1 : now_ms() + ms;
}

/* One round of the host's loop: poll the watched sockets until the
 * timer is due, then hand over what happened. */
static void tl_round(tloop *L, mdspf_cares *c) {
  struct pollfd p[32];
  int fds[32];
  size_t i, n = L->n;
  int timeout = 100, r;
  for (i = 0; i < n; i++) {
    p[i].fd = fds[i] = L->w[i].fd;
    p[i].events = (short)((L->w[i].rd ? POLLIN : 0) | (L->w[i].wr ? POLLOUT : 0));
    p[i].revents = 0;
  }
  if (L->timer_at >= 0) {
    long left = L->timer_at - now_ms();
    timeout = left < 0 ? 0 : (left < 100 ? (int)left : 100);
  }
  r = poll(p, (nfds_t)n, timeout);
  assert_true(r >= 0 || errno == EINTR);
  for (i = 0; r > 0 && i < n; i++) {
    if (p[i].revents) {
      mdspf_cares_process_fd(c, fds[i],
                             (p[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0,
                             (p[i].revents & POLLOUT) != 0);
    }
  }
  if (L->timer_at >= 0 && now_ms() >= L->timer_at) {
    L->timer_at = -1; /* one-shot */
    mdspf_cares_process_timeout(c);
  }
}

/* Sockets as the watch hook sees them: opened (first watched) and
 * closed (told to stop). */
typedef struct sockcount {
  int fds[64];
  size_t n;
  unsigned opens, closes;
} sockcount;

static void count_watch(void *ud, int fd, int rd, int wr) {
  sockcount *sc = ud;
  size_t i;
  for (i = 0; i < sc->n && sc->fds[i] != fd; i++) {
  }
  if (rd == 0 && wr == 0) {
    if (i < sc->n) {
      sc->fds[i] = sc->fds[--sc->n];
      sc->closes++;
    }
  } else if (i == sc->n) {
    assert_true(sc->n < 64);
    sc->fds[sc->n++] = fd;
    sc->opens++;
  }
}

/* Source ports rotate (cares.h, "Transports" and "Sockets"): after
 * 1,024 queries a server's UDP socket is replaced by a new one, of which
 * the watch hook hears; the retired one stays watched until the
 * deadlines of the queries sent through it have passed, and the next
 * query after that closes it. */
static void test_cares_port_rotation(void **state) {
  counting ca = {0};
  sockcount sc;
  mdspf_cares *c;
  int i;
  (void)state;
  memset(&sc, 0, sizeof sc);
  c = backend_opts(&ca, T_TIMEOUT, 1, 0, count_watch, NULL, &sc);
  for (i = 0; i < 1025; i++) {
    direct d;
    mdspf_dns_query *q = query_direct(c, "ok.test", MDSPF_RR_A, &d);
    assert_int_equal(d.status, MDSPF_DNS_OK);
    mdspf__dnsq_free(q);
    if (i == 1023) {
      assert_int_equal(sc.opens, 1); /* 1,024 through the first */
    }
  }
  assert_int_equal(sc.opens, 2);
  assert_int_equal(sc.closes, 0);
  assert_int_equal(sc.n, 2);
  (void)poll(NULL, 0, (int)(T_TIMEOUT + 50 * g_scale));
  {
    direct d;
    mdspf_dns_query *q = query_direct(c, "ok.test", MDSPF_RR_TXT, &d);
    assert_int_equal(d.status, MDSPF_DNS_OK);
    mdspf__dnsq_free(q);
  }
  assert_int_equal(sc.opens, 2);
  assert_int_equal(sc.closes, 1);
  assert_int_equal(sc.n, 1);
  mdspf_cares_free(c);
  assert_int_equal(sc.n, 0);
  assert_int_equal(sc.closes, sc.opens);
  assert_int_equal(ca.outstanding, 0);
}

/* The hot path: checks one after another use the one UDP socket opened
 * for the first (ARES_FLAG_STAYOPEN), and once warm the backend allocates
 * nothing per query (its tokens and sites come from free lists, ordinary
 * answers are parsed on the stack); a burst grows the free lists only up
 * to their bound, and the free releases everything. */
/* Octets of the process heap in use (every allocator: ours, c-ares',
 * libc's), -1 where it cannot be read: not glibc >= 2.33, or a malloc
 * that bypasses glibc's arenas (ASan's: it then reads as unchanged). */
static long heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 m = mallinfo2();
  return (long)m.uordblks;
#else
  return -1;
#endif
}

/* What a UDP query in flight costs: its token and a share of its
 * channel, and nothing behind it (no c-ares channel, no c-ares query):
 * the process heap grows by about what the allocator hook sees.  And a
 * cancelled query leaves at once: nothing pending, no deadline, nothing
 * delivered. */
static void test_cares_inflight_memory(void **state) {
  enum { N = 512 };
  static mdspf_dns_query *qs[N];
  static direct ds[N];
  static void *toks[N];
  counting ca = {0};
  mdspf__allocator a;
  const mdspf_resolver *r;
  mdspf_cares *c;
  size_t held, per_hook;
  long heap0, heap1;
  int i;
  (void)state;
  /* drop.*: never answered, so all N stay in flight */
  c = backend_opts(&ca, 5000 * g_scale, 1, 0, NULL, NULL, NULL);
  r = mdspf_cares_resolver(c);
  mdspf__allocator_init(&a, NULL, NULL);
  for (i = 0; i < N; i++) {
    char name[64];
    /* eight sites: every query goes out at once (128 per site) */
    snprintf(name, sizeof name, "drop.n%d.s%d.test", i, i % 8);
    memset(&ds[i], 0, sizeof ds[i]);
    qs[i] = mdspf__dnsq_new(&a, name, strlen(name), MDSPF_RR_TXT, direct_cb,
                            &ds[i]);
    assert_non_null(qs[i]);
    qs[i]->state = MDSPF__Q_PENDING;
  }
  held = ca.outstanding;
  heap0 = heap_in_use();
  for (i = 0; i < N; i++) {
    toks[i] = NULL;
    assert_int_equal(
        r->query(r->impl, qs[i], qs[i]->name, MDSPF_RR_TXT, &toks[i]), 0);
    assert_non_null(toks[i]);
  }
  heap1 = heap_in_use();
  assert_int_equal(mdspf_cares_pending(c), N);
  assert_true(mdspf_cares_timeout(c) >= 0);
  per_hook = (ca.outstanding - held) / N;
  print_message("a UDP query in flight: %zu octets through the hook", per_hook);
  /* a token (~150), a share of a site and of a channel's table */
  assert_true(per_hook < 256);
  if (heap0 >= 0 && heap1 > heap0) {
    long per_heap = (heap1 - heap0) / N;
    print_message(", %ld of the process heap\n", per_heap);
    /* malloc's own overhead on top, and the growth of the socket table;
     * a c-ares query (~340) and channel (~75 KiB per 128) would not fit */
    assert_true(per_heap < (long)per_hook + 128);
  } else {
    print_message(" (the process heap cannot be read here)\n");
  }
  for (i = 0; i < N; i++) {
    r->cancel(r->impl, toks[i]);
  }
  assert_int_equal(mdspf_cares_pending(c), 0);
  assert_int_equal(mdspf_cares_timeout(c), -1);
  assert_int_equal(mdspf_cares_wait(c, 1000), 0); /* at once: nothing */
  for (i = 0; i < N; i++) {
    assert_int_equal(ds[i].ncb, 0);
    mdspf__dnsq_free(qs[i]);
  }
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
}

/* Over UDP an error answer from the last server asked is reported with
 * its rcode (cares.h, "Known limits"): SERVFAIL and REFUSED as
 * TEMPFAIL, NOTIMP and FORMERR as ERROR; and a name under .onion is
 * answered NXDOMAIN without a query. */
static void test_cares_udp_rcodes(void **state) {
  static const struct {
    const char *name;
    int status, rcode;
  } cases[] = {
      {"servfail.test", MDSPF_DNS_TEMPFAIL, 2},
      {"refused.test", MDSPF_DNS_TEMPFAIL, 5},
      {"notimp.test", MDSPF_DNS_ERROR, 4},
      {"formerr.test", MDSPF_DNS_ERROR, 1},
      {"nxdomain.test", MDSPF_DNS_NXDOMAIN, 3},
      {"Ok.TEST", MDSPF_DNS_OK, 0},
  };
  counting ca = {0};
  mdspf_cares *c;
  size_t i;
  (void)state;
  c = backend(&ca);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    direct d;
    mdspf_dns_query *q = query_direct(c, cases[i].name, MDSPF_RR_TXT, &d);
    if (d.status != cases[i].status || d.rcode != cases[i].rcode) {
      fail_msg("%s: status %d rcode %d, want %d %d", cases[i].name, d.status,
               d.rcode, cases[i].status, cases[i].rcode);
    }
    mdspf__dnsq_free(q);
  }
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
}

static void test_cares_hot_path(void **state) {
  counting ca = {0};
  sockcount sc;
  mdspf_cares *c;
  unsigned long warm;
  size_t held;
  int i;
  (void)state;
  memset(&sc, 0, sizeof sc);
  c = backend_opts(&ca, T_TIMEOUT, T_TRIES, 0, count_watch, NULL, &sc);
  assert_int_equal(sc.opens, 0); /* no socket before the first query */
  for (i = 0; i < 40; i++) {
    direct d;
    char name[64];
    mdspf_dns_query *q;
    /* a new site every time, and the types an SPF check asks */
    snprintf(name, sizeof name, "ok-%d.test", i % 20);
    q = query_direct(c, name, i % 2 ? MDSPF_RR_TXT : MDSPF_RR_A, &d);
    assert_int_equal(d.status, MDSPF_DNS_OK);
    mdspf__dnsq_free(q);
    if (i == 1) {
      warm = ca.allocs; /* a token and a site are on the free lists */
    }
  }
  assert_int_equal(sc.opens, 1);
  assert_int_equal(sc.closes, 0);
  assert_int_equal(ca.allocs, warm);
  /* checks through a context, one at a time: still the one socket */
  for (i = 0; i < 5; i++) {
    assert_int_equal(run_sync(c, "mx-ok.test", 0, NULL, NULL), MDSPF_PASS);
  }
  assert_int_equal(sc.opens, 1);
  assert_int_equal(sc.closes, 0);
  assert_int_equal(ca.allocs, warm);
  /* a burst of 300: the free lists keep at most their bound */
  held = ca.outstanding;
  {
    mdspf__allocator a;
    const mdspf_resolver *r = mdspf_cares_resolver(c);
    static mdspf_dns_query *qs[300];
    static direct ds[300];
    long limit = now_ms() + T_LIMIT_MS;
    size_t done = 0;
    mdspf__allocator_init(&a, NULL, NULL);
    for (i = 0; i < 300; i++) {
      char name[64];
      void *token = NULL;
      snprintf(name, sizeof name, "ok-%d.test", i);
      memset(&ds[i], 0, sizeof ds[i]);
      qs[i] = mdspf__dnsq_new(&a, name, strlen(name), MDSPF_RR_A, direct_cb,
                              &ds[i]);
      assert_non_null(qs[i]);
      qs[i]->state = MDSPF__Q_PENDING;
      assert_int_equal(r->query(r->impl, qs[i], qs[i]->name, MDSPF_RR_A,
                                &token),
                       0);
    }
    while (done < 300 && now_ms() < limit) {
      assert_int_equal(mdspf_cares_wait(c, 100), 0);
      for (done = 0, i = 0; i < 300; i++) {
        done += (size_t)ds[i].ncb;
      }
    }
    assert_int_equal(done, 300);
    for (i = 0; i < 300; i++) {
      assert_int_equal(ds[i].status, MDSPF_DNS_OK);
      mdspf__dnsq_free(qs[i]);
    }
  }
  assert_int_equal(mdspf_cares_pending(c), 0);
  /* 128 tokens of ~200 octets, 64 sites of ~400, the socket table */
  assert_true(ca.outstanding - held < 64 * 1024);
  assert_true(sc.n >= 1);
  mdspf_cares_free(c);
  assert_int_equal(sc.n, 0); /* every socket told to stop */
  assert_int_equal(sc.closes, sc.opens);
  assert_int_equal(ca.outstanding, 0);
}

static void test_cares_event_loop(void **state) {
  counting ca = {0}, cc = {0};
  tloop L;
  mdspf_cares *c;
  mdspf_ctx *ctx;
  job jobs[] = {
      J("ok.test", MDSPF_PASS, MDSPF_OK),
      J("tc.test", MDSPF_PASS, MDSPF_OK),
      J("huge.test", MDSPF_PASS, MDSPF_OK),
      J("drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS),
      J("nxdomain.test", MDSPF_NONE, -1),
      J("mx-ok.test", MDSPF_PASS, MDSPF_OK),
  };
  size_t n = sizeof jobs / sizeof *jobs, i;
  long limit;
  int fds[8], ev[8], k;
  (void)state;
  memset(&L, 0, sizeof L);
  L.timer_at = -1;
  c = backend_opts(&ca, T_TIMEOUT, T_TRIES, 0, tl_watch, tl_timer, &L);
  ctx = ctx_for(c, &cc);
  assert_int_equal(mdspf_cares_timeout(c), -1);
  assert_int_equal(mdspf_cares_getsock(c, fds, ev, 8), 0);
  for (i = 0; i < n; i++) {
    job_start(ctx, &jobs[i]);
  }
  /* queries sent: a socket to watch, a timer armed, hooks locked */
  assert_true(mdspf_cares_pending(c) > 0);
  assert_true(L.n >= 1);
  assert_true(L.timer_at >= 0);
  assert_true(mdspf_cares_timeout(c) >= 0);
  assert_true(mdspf_cares_timeout(c) <= T_TIMEOUT);
  k = mdspf_cares_getsock(c, fds, ev, 8);
  assert_int_equal((size_t)k, L.n);
  for (i = 0; i < (size_t)k; i++) {
    size_t j;
    int found = 0;
    for (j = 0; j < L.n; j++) {
      found |= L.w[j].fd == fds[i] && L.w[j].rd == (ev[i] & 1) &&
               L.w[j].wr == ((ev[i] >> 1) & 1);
    }
    assert_true(found);
  }
  assert_int_equal(mdspf_cares_getsock(c, fds, ev, 0), 0);
  assert_int_equal(mdspf_cares_set_loop(c, NULL, NULL, NULL), MDSPF_E_STATE);

  limit = now_ms() + T_LIMIT_MS;
  while (!all_done(jobs, n) && now_ms() < limit) {
    tl_round(&L, c);
  }
  expect_jobs(jobs, n);
  assert_true(L.saw_write); /* the TCP connection asked for writability */
  assert_true(L.max_fds >= 2);
  assert_true(L.timer_calls >= 2);
  assert_int_equal(mdspf_cares_pending(c), 0);
  free_jobs(jobs, n);

  /* nothing pending: the hooks may be swapped, the new loop learns the
   * open sockets at once */
  {
    tloop M;
    memset(&M, 0, sizeof M);
    M.timer_at = -1;
    assert_int_equal(mdspf_cares_set_loop(c, tl_watch, tl_timer, &M),
                     MDSPF_OK);
    assert_int_equal(L.n, 0); /* the old loop was told to forget them */
    assert_int_equal(M.n, (size_t)mdspf_cares_getsock(c, fds, ev, 8));
    memset(jobs, 0, sizeof jobs);
    jobs[0].domain = "a-ok.test";
    jobs[0].want_result = MDSPF_PASS;
    jobs[1].domain = "inc-servfail.test";
    jobs[1].want_result = MDSPF_TEMPERROR;
    jobs[1].want_reason = MDSPF_E_DNS;
    job_start(ctx, &jobs[0]);
    job_start(ctx, &jobs[1]);
    limit = now_ms() + T_LIMIT_MS;
    while (!all_done(jobs, 2) && now_ms() < limit) {
      tl_round(&M, c);
    }
    expect_jobs(jobs, 2);
    free_jobs(jobs, 2);
    /* an idle backend without hooks again, then free: nothing left */
    mdspf_ctx_free(ctx);
    mdspf_cares_free(c);
    assert_int_equal(M.n, 0); /* every socket got rd = wr = 0 */
    assert_true(M.timer_at < 0);
  }

  /* hooks installed after creation, freed with queries in flight */
  memset(&L, 0, sizeof L);
  L.timer_at = -1;
  c = backend(&ca);
  assert_int_equal(mdspf_cares_set_loop(c, tl_watch, tl_timer, &L), MDSPF_OK);
  ctx = ctx_for(c, &cc);
  memset(jobs, 0, sizeof jobs);
  jobs[0].domain = "drop.test";
  jobs[0].want_result = MDSPF_TEMPERROR;
  jobs[0].want_reason = MDSPF_E_DNS;
  jobs[1].domain = "tcloop.test";
  jobs[1].want_result = MDSPF_TEMPERROR;
  jobs[1].want_reason = MDSPF_E_DNS;
  job_start(ctx, &jobs[0]);
  job_start(ctx, &jobs[1]);
  tl_round(&L, c);
  assert_true(L.n >= 1);
  mdspf_cares_free(c);
  assert_int_equal(L.n, 0);
  assert_true(L.timer_at < 0);
  expect_jobs(jobs, 2);
  free_jobs(jobs, 2);
  mdspf_ctx_free(ctx);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

/* ---- load --------------------------------------------------------------------------------- */

static void test_cares_concurrent(void **state) {
  static const struct {
    const char *domain;
    int result, reason;
  } kinds[] = {
      {"ok.test", MDSPF_PASS, MDSPF_OK},
      {"nxdomain.test", MDSPF_NONE, -1},
      {"servfail.test", MDSPF_TEMPERROR, MDSPF_E_DNS},
      {"tc.test", MDSPF_PASS, MDSPF_OK},
      {"inc-ok.test", MDSPF_PASS, MDSPF_OK},
      {"slow-30.test", MDSPF_PASS, MDSPF_OK},
      {"a-nxdomain.test", MDSPF_FAIL, MDSPF_OK},
      {"mx-ok.test", MDSPF_PASS, MDSPF_OK},
      {"drop.test", MDSPF_TEMPERROR, MDSPF_E_DNS},
      {"nodata.test", MDSPF_NONE, -1},
  };
  enum { N = 200 };
  static job jobs[N];
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  size_t i;
  long t0 = now_ms();
  (void)state;
  memset(jobs, 0, sizeof jobs);
  c = backend_opts(&ca, 300, 2, 0, NULL, NULL, NULL);
  ctx = ctx_for(c, &cc);
  for (i = 0; i < N; i++) {
    size_t k = i % (sizeof kinds / sizeof *kinds);
    jobs[i].domain = kinds[k].domain;
    jobs[i].want_result = kinds[k].result;
    jobs[i].want_reason = kinds[k].reason;
    job_start(ctx, &jobs[i]);
  }
  assert_true(mdspf_cares_pending(c) >= N / 2);
  drive(c, jobs, N);
  expect_jobs(jobs, N);
  assert_true(now_ms() - t0 < 5000);
  assert_int_equal(mdspf_cares_pending(c), 0);
  free_jobs(jobs, N);
  mdspf_ctx_free(ctx);
  mdspf_cares_free(c);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

/* A responder on ::1 as well, an IPv6 server entry, and failover from a
 * dead first server (skipped where ::1 cannot be bound). */
static void test_cares_ipv6_failover(void **state) {
  responder r6;
  mdspf_cares_options o;
  counting ca = {0};
  mdspf_cares *c = NULL;
  char servers[96];
  int reason;
  long took;
  (void)state;
  if (responder_start(&r6, "-6") != 0) {
    g_skipped++; /* the run then ends in 77: CTest says "skipped" */
    skip();
  }
  mdspf_cares_options_init(&o);
  o.alloc = count_alloc;
  o.alloc_ud = &ca;
  o.timeout_ms = T_TIMEOUT;
  o.tries = 2;
  o.flags = MDSPF_CARES_NO_ROTATE;
  snprintf(servers, sizeof servers, "[::1]:%d", r6.port);
  o.servers = servers;
  assert_int_equal(mdspf_cares_new(&o, &c), MDSPF_OK);
  assert_int_equal(run_sync(c, "ok.test", 0, &reason, NULL), MDSPF_PASS);
  assert_int_equal(run_sync(c, "tc.test", 0, &reason, NULL), MDSPF_PASS);
  mdspf_cares_free(c);
  /* the first server never answers (a responder stopped a moment ago,
   * so nothing listens there): c-ares moves on to the second */
  {
    responder dead;
    int dead_port;
    assert_int_equal(responder_start(&dead, NULL), 0);
    dead_port = dead.port;
    responder_stop(&dead);
    snprintf(servers, sizeof servers, "127.0.0.1:%d,[::1]:%d", dead_port,
             r6.port);
  }
  assert_int_equal(mdspf_cares_new(&o, &c), MDSPF_OK);
  assert_int_equal(run_sync(c, "mx-ok.test", 0, &reason, &took), MDSPF_PASS);
  assert_true(took < 4 * T_TIMEOUT);
  mdspf_cares_free(c);
  responder_stop(&r6);
  assert_int_equal(ca.outstanding, 0);
}

/* Head-of-line blocking: queries whose servers never answer (dnsfault's
 * "drop") stay in c-ares until they time out.  However many of them there
 * are -- of one domain under one name, of one domain under many names,
 * of as many domains -- a check of another domain needing one answered
 * query is answered at once, driven by mdspf_cares_wait or by the
 * watch and timer hooks; every socket of every channel is reported. */
enum { HOL_N = 1000 };
static job hol_jobs[HOL_N];
static char hol_names[HOL_N][48];

static void head_of_line(int shape, int hooks, int channels) {
  counting ca = {0}, cc = {0};
  tloop L;
  mdspf_cares_options o;
  mdspf_cares *c = NULL;
  mdspf_ctx *ctx;
  job ok = J("ok.test", MDSPF_PASS, MDSPF_OK);
  char servers[64];
  int fds[64], ev[64], k;
  size_t i;
  long limit, took;
  memset(hol_jobs, 0, sizeof hol_jobs);
  memset(&L, 0, sizeof L);
  L.timer_at = -1;
  snprintf(servers, sizeof servers, "127.0.0.1:%d", g_main.port);
  mdspf_cares_options_init(&o);
  o.alloc = count_alloc;
  o.alloc_ud = &ca;
  o.servers = servers;
  o.watch = hooks ? tl_watch : NULL;
  o.timer = hooks ? tl_timer : NULL;
  o.loop_ud = &L;
  if (channels > 0) {
    o.max_channels = channels;
  }
  assert_int_equal(mdspf_cares_new(&o, &c), MDSPF_OK);
  ctx = ctx_for(c, &cc);
  for (i = 0; i < HOL_N; i++) {
    if (shape == 0) {
      snprintf(hol_names[i], sizeof hol_names[i], "drop.test");
    } else if (shape == 1) {
      snprintf(hol_names[i], sizeof hol_names[i], "drop.h%zu.evil.test", i);
    } else {
      snprintf(hol_names[i], sizeof hol_names[i], "drop.d%zu.test", i);
    }
    hol_jobs[i].domain = hol_names[i];
    job_start(ctx, &hol_jobs[i]);
  }
  assert_int_equal(mdspf_cares_pending(c), HOL_N);
  /* the drops are out (and their first answers due in 2 s) */
  if (hooks) {
    tl_round(&L, c);
  } else {
    assert_int_equal(mdspf_cares_wait(c, 20), 0);
  }
  job_start(ctx, &ok);
  limit = now_ms() + 1000 * g_scale;
  while (ok.ncb == 0 && now_ms() < limit) {
    if (hooks) {
      tl_round(&L, c);
    } else {
      assert_int_equal(mdspf_cares_wait(c, 10), 0);
    }
  }
  took = ok.t_done - ok.t_start;
  if (ok.ncb != 1 || took > 50 * g_scale) {
    fail_msg("shape %d%s, %d channels: ok.test %s after %ld ms behind %d "
             "hanging queries",
             shape, hooks ? " (hooks)" : "", channels,
             ok.ncb ? "answered" : "not answered", now_ms() - ok.t_start,
             HOL_N);
  }
  expect_jobs(&ok, 1);
  for (i = 0; i < HOL_N; i++) {
    assert_int_equal(hol_jobs[i].ncb, 0);
  }
  /* the sockets of every channel: what the hooks were told, and (a
   * channel per 128 queries in flight) one each for many domains */
  k = mdspf_cares_getsock(c, fds, ev, 64);
  assert_true(k >= 1);
  if (shape == 2) {
    assert_true(k >= (HOL_N + 127) / 128);
  }
  if (hooks) {
    assert_int_equal((size_t)k, L.n);
    for (i = 0; i < (size_t)k; i++) {
      size_t j;
      int found = 0;
      for (j = 0; j < L.n; j++) {
        found |= L.w[j].fd == fds[i] && L.w[j].rd == (ev[i] & 1);
      }
      assert_true(found);
    }
  }
  if (shape == 2 && hooks) {
    /* the drops given up: swept out of c-ares, the extra channels close,
     * and with them every socket but the primary channel's UDP socket,
     * which stays open for the next queries */
    free_jobs(hol_jobs, HOL_N);
    assert_int_equal(mdspf_cares_pending(c), 0);
    assert_int_equal(mdspf_cares_timeout(c), -1);
    assert_int_equal(mdspf_cares_getsock(c, fds, ev, 64), 1);
    assert_int_equal(L.n, 1);
    /* and the pool is as good as new */
    mdspf_check_free(ok.chk);
    memset(&ok, 0, sizeof ok);
    ok.domain = "mx-ok.test";
    ok.want_result = MDSPF_PASS;
    job_start(ctx, &ok);
    limit = now_ms() + T_LIMIT_MS;
    while (ok.ncb == 0 && now_ms() < limit) {
      tl_round(&L, c);
    }
    expect_jobs(&ok, 1);
  }
  /* freed with every drop still out: each fails inside the free */
  mdspf_cares_free(c);
  for (i = 0; i < HOL_N; i++) {
    assert_int_equal(hol_jobs[i].ncb, shape == 2 && hooks ? 0 : 1);
    if (hol_jobs[i].ncb) {
      assert_int_equal(hol_jobs[i].result, MDSPF_TEMPERROR);
    }
  }
  if (hooks) {
    assert_int_equal(L.n, 0);
    assert_true(L.timer_at < 0);
  }
  mdspf_check_free(ok.chk);
  free_jobs(hol_jobs, HOL_N);
  mdspf_ctx_free(ctx);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

static void test_cares_head_of_line(void **state) {
  int shape;
  (void)state;
  for (shape = 0; shape < 3; shape++) {
    head_of_line(shape, 0, 0);
  }
  head_of_line(2, 1, 0);
  /* one channel: the bound of a site alone keeps room for the others */
  head_of_line(0, 0, 1);
  head_of_line(1, 1, 1);
}

/* TCP isolation: a server that closes the TCP connection when asked for
 * one domain (dnsfault's tcloop: TC over UDP, then the connection closed
 * without an answer) fails only that domain's queries, not the TCP
 * answers of other domains interleaved with them, with one try or two,
 * after TC or with MDSPF_CARES_USE_TCP. */
static void test_cares_tcp_isolation(void **state) {
  enum { N = 200 };
  static job jobs[N];
  counting ca = {0}, cc = {0};
  int round;
  (void)state;
  for (round = 0; round < 3; round++) {
    mdspf_cares *c;
    mdspf_ctx *ctx;
    size_t i;
    long t0 = now_ms();
    memset(jobs, 0, sizeof jobs);
    c = backend_opts(&ca, T_TIMEOUT, round == 1 ? 1 : T_TRIES,
                     round == 2 ? MDSPF_CARES_USE_TCP : 0, NULL, NULL, NULL);
    ctx = ctx_for(c, &cc);
    for (i = 0; i < N; i++) {
      if (i % 2) {
        jobs[i].domain = "tcloop.test";
        jobs[i].want_result = MDSPF_TEMPERROR;
        jobs[i].want_reason = MDSPF_E_DNS;
      } else {
        jobs[i].domain = round == 2 ? "ok.test"
                         : i % 10 == 0 ? "huge.test"
                                       : "tc.test";
        jobs[i].want_result = MDSPF_PASS;
        jobs[i].want_reason = MDSPF_OK;
      }
      job_start(ctx, &jobs[i]);
    }
    drive(c, jobs, N);
    expect_jobs(jobs, N);
    /* failed connections cost retries on fresh ones, not timeouts */
    assert_true(now_ms() - t0 < 2 * T_TIMEOUT + 1000 * g_scale);
    assert_int_equal(mdspf_cares_pending(c), 0);
    free_jobs(jobs, N);
    mdspf_ctx_free(ctx);
    mdspf_cares_free(c);
    assert_int_equal(ca.outstanding, 0);
    assert_int_equal(cc.outstanding, 0);
  }
}

/* Over TCP a query that times out on a shared connection is asked once
 * more alone, with twice the timeout, when tries > 1 (as c-ares' second
 * round would); with one try it is not.  And queries waiting for or
 * sent on a TCP channel, shared or alone, are cancelled and failed by a
 * free like any other. */
static void test_cares_tcp_lanes(void **state) {
  enum { N = 60 };
  static job jobs[N];
  int done_before[N];
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  int reason, k;
  long took;
  size_t i;
  (void)state;
  c = backend_opts(&ca, T_TIMEOUT, 2, MDSPF_CARES_USE_TCP, NULL, NULL, NULL);
  assert_int_equal(run_sync(c, "drop.test", 0, &reason, &took),
                   MDSPF_TEMPERROR);
  assert_int_equal(reason, MDSPF_E_DNS);
  assert_true(took >= 3 * T_TIMEOUT - 20 &&
              took < 3 * T_TIMEOUT + 500 * g_scale);
  mdspf_cares_free(c);
  c = backend_opts(&ca, T_TIMEOUT, 1, MDSPF_CARES_USE_TCP, NULL, NULL, NULL);
  assert_int_equal(run_sync(c, "drop.test", 0, &reason, &took),
                   MDSPF_TEMPERROR);
  assert_true(took >= T_TIMEOUT - 20 && took < T_TIMEOUT + 500 * g_scale);
  mdspf_cares_free(c);

  /* cancelled and freed at every stage: before the TC, waiting for a
   * TCP channel, on one, waiting for a retry alone, on one alone */
  for (k = 0; k < 6; k++) {
    memset(jobs, 0, sizeof jobs);
    c = backend(&ca);
    ctx = ctx_for(c, &cc);
    for (i = 0; i < N; i++) {
      jobs[i].domain = i % 3 == 0   ? "tcloop.test"
                       : i % 3 == 1 ? "huge.test"
                                    : "tc.test";
      job_start(ctx, &jobs[i]);
    }
    /* a few rounds in: queries spread over the lanes */
    for (i = 0; i < (size_t)k; i++) {
      assert_int_equal(mdspf_cares_wait(c, 2), 0);
    }
    for (i = 0; i < N; i += 4) {
      done_before[i] = jobs[i].ncb; /* finished already, or cancelled */
      mdspf_check_cancel(jobs[i].chk);
    }
    mdspf_cares_free(c);
    for (i = 0; i < N; i++) {
      if (i % 4 == 0) {
        assert_int_equal(jobs[i].ncb, done_before[i]);
      } else {
        assert_int_equal(jobs[i].ncb, 1);
        if (jobs[i].result != MDSPF_TEMPERROR) {
          assert_int_equal(jobs[i].result, MDSPF_PASS);
          assert_true(i % 3 != 0);
        }
      }
    }
    free_jobs(jobs, N);
    mdspf_ctx_free(ctx);
    assert_int_equal(ca.outstanding, 0);
    assert_int_equal(cc.outstanding, 0);
  }
}

/* More queries than the backend hands to c-ares at once: the rest wait
 * in its queue; the burst of answers loses nothing (no retransmission:
 * with one try, every check passes, well within the per-try timeout). */
static void test_cares_burst(void **state) {
  enum { N = 1500 };
  static job jobs[N];
  counting ca = {0}, cc = {0};
  mdspf_cares *c;
  mdspf_ctx *ctx;
  size_t i;
  long t0 = now_ms();
  (void)state;
  memset(jobs, 0, sizeof jobs);
  /* one try: a lost answer would end its check in temperror */
  c = backend_opts(&ca, 3000, 1, 0, NULL, NULL, NULL);
  ctx = ctx_for(c, &cc);
  for (i = 0; i < N; i++) {
    jobs[i].domain = (i % 3 == 0) ? "mx-ok.test" : "ok.test";
    jobs[i].want_result = MDSPF_PASS;
    jobs[i].want_reason = MDSPF_OK;
    job_start(ctx, &jobs[i]);
  }
  assert_int_equal(mdspf_cares_pending(c), N);
  drive(c, jobs, N);
  expect_jobs(jobs, N);
  assert_true(now_ms() - t0 < 3000 * g_scale);
  free_jobs(jobs, N);

  /* queued queries cancelled, and the backend freed with queries both
   * in c-ares and still queued: the live ones end as TEMPFAIL */
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < N; i++) {
    jobs[i].domain = (i % 2 == 0) ? "drop.test" : "ok.test";
    job_start(ctx, &jobs[i]);
  }
  for (i = 0; i < N; i += 3) {
    mdspf_check_cancel(jobs[i].chk); /* queued ones are freed at once */
  }
  assert_int_equal(mdspf_cares_pending(c), N - (N + 2) / 3);
  mdspf_cares_free(c);
  for (i = 0; i < N; i++) {
    if (i % 3 == 0) {
      assert_int_equal(jobs[i].ncb, 0);
    } else {
      assert_int_equal(jobs[i].ncb, 1);
      assert_int_equal(jobs[i].result, MDSPF_TEMPERROR);
      assert_int_equal(jobs[i].reason, MDSPF_E_DNS);
    }
  }
  free_jobs(jobs, N);
  mdspf_ctx_free(ctx);
  assert_int_equal(ca.outstanding, 0);
  assert_int_equal(cc.outstanding, 0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cares_options),
      cmocka_unit_test(test_cares_servers),
      cmocka_unit_test(test_cares_new_oom),
      cmocka_unit_test(test_cares_escape),
      cmocka_unit_test(test_cares_answer_txt),
      cmocka_unit_test(test_cares_answer_types),
      cmocka_unit_test(test_cares_answer_ttl),
      cmocka_unit_test(test_cares_answer_status),
      cmocka_unit_test(test_cares_answer_oom),
      cmocka_unit_test(test_cares_answer_big_oom),
      cmocka_unit_test(test_cares_answer_bad),
      cmocka_unit_test(test_cares_faults),
      cmocka_unit_test(test_cares_sync_and_tcp),
      cmocka_unit_test(test_cares_huge_direct),
      cmocka_unit_test(test_cares_name_escaping),
      cmocka_unit_test(test_cares_name_not_the_querys),
      cmocka_unit_test(test_cares_tc_over_tcp),
      cmocka_unit_test(test_cares_cname_loop),
      cmocka_unit_test(test_cares_cancel),
      cmocka_unit_test(test_cares_free_inflight),
      cmocka_unit_test(test_cares_teardown_every_order),
      cmocka_unit_test(test_cares_callback_reentry),
      cmocka_unit_test(test_cares_hook_reentry),
      cmocka_unit_test(test_cares_event_loop),
      cmocka_unit_test(test_cares_hot_path),
      cmocka_unit_test(test_cares_inflight_memory),
      cmocka_unit_test(test_cares_udp_rcodes),
      cmocka_unit_test(test_cares_port_rotation),
      cmocka_unit_test(test_cares_concurrent),
      cmocka_unit_test(test_cares_burst),
      cmocka_unit_test(test_cares_head_of_line),
      cmocka_unit_test(test_cares_tcp_isolation),
      cmocka_unit_test(test_cares_tcp_lanes),
      cmocka_unit_test(test_cares_free_inline),
      cmocka_unit_test(test_cares_ipv6_failover),
  };
  int rc;
  const char *scale = getenv("MDSPF_TEST_TIME_SCALE");
  if (argc > 1) {
    g_dnsfault = argv[1];
  }
  if (scale && atoi(scale) > 1 && atoi(scale) <= 50) {
    g_scale = atoi(scale);
  }
  rc = cmocka_run_group_tests_name("cares", tests, group_setup,
                                   group_teardown);
  responder_stop(&g_main); /* also after a failed setup */
  if (rc == 0 && g_skipped > 0) {
    fprintf(stderr, "%d test(s) skipped: reporting the run as skipped\n",
            g_skipped);
    return 77;
  }
  return rc;
}

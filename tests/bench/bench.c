/*
 * tests/bench/bench.c -- spf-bench: libmaildrop-spf against libspf2,
 * measured in the same run, on the same DNS data.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * What it prints is a table: per row our figure, libspf2's figure and
 * the ratio ours/libspf2, each the median of --runs runs (the ratio is
 * the median of the per-run ratios, with their range, so a drift of the
 * machine's speed during the call does not bias it), plus the number of
 * cores.  Before any figure is printed, every result of every check of
 * every run -- both libraries -- has been compared with the expected one
 * (workload.c); one wrong result, or one record that does not parse,
 * and the benchmark prints what was wrong and exits 1 without figures.
 *
 * Rows:
 *   records parsed per      every record of workload.c, in passes:
 *   CPU second              mdspf_record_parse + free against
 *                           SPF_record_compile + SPF_record_free, in
 *                           this process, five slices of each in turn,
 *                           timed by thread CPU time (other processes
 *                           of a busy machine do not count)
 *   checks/s sequential     one check at a time (mdspf_check_run over the
 *                           c-ares backend; libspf2's SPF_DNS_RESOLV),
 *                           straight to NSD, then through the delay proxy
 *   checks/s, 256 in flight ours asynchronous (c-ares backend, 256 checks
 *                           started and kept in flight); libspf2 is
 *                           synchronous, so its figure is its sequential
 *                           rate through the proxy (the table says so)
 *   ms per gmail-like check the redirect + three includes of
 *                           zones/example.zone, one at a time, proxy
 *   checks/s, warm cache    after one untimed pass: our cache resolver
 *                           (mdspf_cache_*, when this build has it)
 *                           against libspf2's SPF_DNS_CACHE
 *   peak RSS                ours, asynchronous, 1 and 256 in flight, each
 *                           in a fresh process (getrusage of the job
 *                           process), and the difference per check
 *   DNS queries per check   counted by the delay proxy, both libraries;
 *                           ours also with lookahead on and off when the
 *                           engine has that switch
 *
 * Every check measurement runs in a process of its own (this program,
 * exec'd again with --job), so a peak RSS is that job's alone and
 * libspf2's resolver state is fresh.  The delay proxy (proxy.c) is a
 * forked process with one poll loop.
 *
 * DNS set-up.  The server is NSD on loopback, serving zones/.  libspf2
 * asks the system resolver (res_nquery: /etc/resolv.conf, port 53
 * always), so run.sh starts everything inside a private network and
 * mount namespace (unshare --net --mount; as non-root with --map-root-
 * user): a fresh loopback where NSD listens on 127.0.0.1:53, the proxy
 * on 127.0.0.2:53, and /etc/resolv.conf is a bind-mounted file of the
 * benchmark's, which it rewrites (--resolv-conf) before each libspf2
 * job to name the server that job must use.  Nothing outside the
 * namespace sees any of it.  Where namespaces are not available, run.sh
 * starts NSD on a free port and the benchmark runs without
 * --resolv-conf: our rows are measured, libspf2's DNS rows say n/a.
 *
 * usage: spf-bench --nsd IP[:PORT] [--proxy IP[:PORT]] [--resolv-conf F]
 *                  [--runs N] [--delay-ms MS] [--scale X]
 *        spf-bench --parse-only [--runs N] [--scale X]
 *        spf-bench --print-workload
 *        spf-bench --nsd IP[:PORT] --proxy IP[:PORT] [--delay-ms MS]
 *                  --exec PROGRAM [ARGS...]
 *
 * The last two serve the benchmark's other measurements (the Python
 * section of run.sh): --print-workload prints the checks of workload.c,
 * one "IP SENDER HELO RESULT" line each; --exec runs PROGRAM with the
 * delay proxy in front of NSD for its lifetime, says on standard error
 * how many queries the proxy relayed, and exits with PROGRAM's status.
 */
#define _GNU_SOURCE 1

#include "bench.h"
#include "proxy.h"

#include <maildrop-spf/cares.h>
#include <maildrop-spf/spf.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MDSPF_BENCH_HAVE_CACHE
#define MDSPF_BENCH_HAVE_CACHE 0
#endif
/* 0: no lookahead switch; 1: mdspf_ctx_set_lookahead(ctx, on);
 * 2: mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, n) */
#ifndef MDSPF_BENCH_LOOKAHEAD
#define MDSPF_BENCH_LOOKAHEAD 0
#endif

#define MAX_RUNS 21

/* ======================================================================
 * Helpers
 * ==================================================================== */

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_peak_rss_kb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) {
    return -1;
  }
  return ru.ru_maxrss; /* KiB on Linux */
}

void bench_warm_done(void) {
  fputs("warm\n", stdout);
  fflush(stdout);
}

void bench_report_wrong(const char *who, const bench_check *c, int got,
                        const char *detail) {
  fprintf(stderr,
          "spf-bench: WRONG RESULT (%s): -ip %s -sender %s gave %s, "
          "expected %s [%s]%s%s\n",
          who, c->ip, c->sender, bench_result_name(got),
          bench_result_name(c->expect), c->what, detail ? ": " : "",
          detail ? detail : "");
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  fputs("spf-bench: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

/* ======================================================================
 * Our side: checks over the c-ares backend
 * ==================================================================== */

typedef struct ours_opts {
  const char *server; /* c-ares server list entry, "IP" or "IP:PORT" */
  int conc;           /* checks in flight; 0 = sequential mdspf_check_run */
  const bench_check *set;
  size_t nset;
  uint64_t min_ns;
  size_t min_checks;
  int lookahead; /* -1 the engine's default, 0 off, 1 on */
  int cache;
  int warm;
} ours_opts;

/* The library's own memory: every allocation of the context (checks,
 * records, answers) and of the c-ares backend (tokens, sites) goes
 * through this hook, which keeps the current and the peak total.
 * (c-ares' own allocations, its channels and per-query state, do not.) */
typedef struct heap_count {
  size_t cur, peak;
} heap_count;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  heap_count *h = ud;
  if (nsize == 0) {
    free(ptr);
    h->cur -= osize;
    return NULL;
  }
  ptr = realloc(ptr, nsize);
  if (ptr) {
    h->cur += nsize - osize;
    if (h->cur > h->peak) {
      h->peak = h->cur;
    }
  }
  return ptr;
}

typedef struct ours_env {
  heap_count heap;
  mdspf_ctx *ctx;
  mdspf_cares *cares;
#if MDSPF_BENCH_HAVE_CACHE
  mdspf_cache *cache;
#endif
} ours_env;

static int set_lookahead(mdspf_ctx *ctx, int on) {
#if MDSPF_BENCH_LOOKAHEAD == 1
  return mdspf_ctx_set_lookahead(ctx, on);
#elif MDSPF_BENCH_LOOKAHEAD == 2
  long v = on ? mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_LOOKAHEAD) : 0;
  if (on && v <= 0) {
    v = 1;
  }
  return mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, v);
#else
  (void)ctx;
  (void)on;
  return MDSPF_E_NOTSUP;
#endif
}

static void ours_free(ours_env *e) {
  mdspf_ctx_free(e->ctx);
#if MDSPF_BENCH_HAVE_CACHE
  mdspf_cache_free(e->cache);
#endif
  mdspf_cares_free(e->cares);
}

static int ours_setup(const ours_opts *o, ours_env *e) {
  mdspf_cares_options co;
  const mdspf_resolver *res;
  int rc;
  memset(e, 0, sizeof *e);
  mdspf_cares_options_init(&co);
  co.servers = o->server;
  co.alloc = count_alloc;
  co.alloc_ud = &e->heap;
  rc = mdspf_cares_new(&co, &e->cares);
  if (rc != MDSPF_OK) {
    fprintf(stderr, "spf-bench: mdspf_cares_new(%s): %s\n", o->server,
            mdspf_strerror(rc));
    return -1;
  }
  res = mdspf_cares_resolver(e->cares);
  if (o->cache) {
#if MDSPF_BENCH_HAVE_CACHE
    rc = mdspf_cache_new(res, NULL, &e->cache);
    if (rc != MDSPF_OK) {
      fprintf(stderr, "spf-bench: mdspf_cache_new: %s\n", mdspf_strerror(rc));
      ours_free(e);
      return -1;
    }
    res = mdspf_cache_resolver(e->cache);
#else
    fprintf(stderr, "spf-bench: no cache in this build\n");
    ours_free(e);
    return -1;
#endif
  }
  rc = mdspf_ctx_new(count_alloc, &e->heap, &e->ctx);
  if (rc == MDSPF_OK) {
    rc = mdspf_ctx_set_resolver(e->ctx, res);
  }
  if (rc == MDSPF_OK && o->lookahead >= 0) {
    rc = set_lookahead(e->ctx, o->lookahead);
  }
  if (rc != MDSPF_OK) {
    fprintf(stderr, "spf-bench: context set-up: %s\n", mdspf_strerror(rc));
    ours_free(e);
    return -1;
  }
  return 0;
}

static int prepare(mdspf_ctx *ctx, const bench_check *c, mdspf_check **out) {
  mdspf_check *chk = NULL;
  int rc = mdspf_check_new(ctx, &chk);
  if (rc == MDSPF_OK) {
    rc = mdspf_check_set_ip(chk, c->ip);
  }
  if (rc == MDSPF_OK) {
    rc = mdspf_check_set_sender(chk, c->sender);
  }
  if (rc == MDSPF_OK) {
    rc = mdspf_check_set_helo(chk, BENCH_HELO);
  }
  if (rc != MDSPF_OK) {
    fprintf(stderr, "spf-bench: cannot set up the check %s %s: %s\n", c->ip,
            c->sender, mdspf_strerror(rc));
    mdspf_check_free(chk);
    return -1;
  }
  *out = chk;
  return 0;
}

static void verify(mdspf_check *chk, const bench_check *c, size_t *wrong) {
  int r = mdspf_check_result(chk);
  if (r != c->expect) {
    if (*wrong < 5) {
      bench_report_wrong("libmaildrop-spf", c, r, mdspf_check_problem(chk));
    }
    (*wrong)++;
  }
}

/* Sequential: mdspf_check_run, the blocking wrapper. */
static int ours_seq_pass(ours_env *e, const ours_opts *o, size_t *wrong) {
  size_t i;
  for (i = 0; i < o->nset; i++) {
    mdspf_check *chk;
    int rc;
    if (prepare(e->ctx, &o->set[i], &chk) != 0) {
      return -1;
    }
    rc = mdspf_check_run(chk, 0);
    if (rc != MDSPF_OK) {
      fprintf(stderr, "spf-bench: mdspf_check_run: %s\n", mdspf_strerror(rc));
      mdspf_check_free(chk);
      return -1;
    }
    verify(chk, &o->set[i], wrong);
    mdspf_check_free(chk);
  }
  return 0;
}

/* Asynchronous: up to conc checks in flight, refilled as they finish. */
typedef struct arun arun;
typedef struct aslot {
  arun *r;
  const bench_check *c;
  int next_free;
} aslot;
struct arun {
  ours_env *e;
  const ours_opts *o;
  aslot *slots;
  int free_head;
  size_t next, inflight, done, wrong;
  int failed;
};

static void on_done(mdspf_check *chk, void *user) {
  aslot *s = user;
  arun *r = s->r;
  verify(chk, s->c, &r->wrong);
  mdspf_check_free(chk);
  s->next_free = r->free_head;
  r->free_head = (int)(s - r->slots);
  r->inflight--;
  r->done++;
}

static int start_one(arun *r) {
  const bench_check *c = &r->o->set[r->next % r->o->nset];
  aslot *s = &r->slots[r->free_head];
  mdspf_check *chk;
  int rc;
  if (prepare(r->e->ctx, c, &chk) != 0) {
    return -1;
  }
  r->free_head = s->next_free;
  s->c = c;
  r->next++;
  r->inflight++;
  rc = mdspf_check_start(chk, on_done, s); /* may finish inside */
  if (rc != MDSPF_OK) {
    fprintf(stderr, "spf-bench: mdspf_check_start: %s\n", mdspf_strerror(rc));
    mdspf_check_free(chk);
    return -1;
  }
  return 0;
}

/* Run checks until stop says so (limit: total to start), then drain. */
static int ours_async(ours_env *e, const ours_opts *o, size_t total,
                      uint64_t min_ns, size_t *done, size_t *wrong,
                      uint64_t *ns) {
  arun r;
  int i;
  uint64_t t0 = bench_now_ns();
  memset(&r, 0, sizeof r);
  r.e = e;
  r.o = o;
  r.slots = calloc((size_t)o->conc, sizeof *r.slots);
  if (!r.slots) {
    return -1;
  }
  for (i = 0; i < o->conc; i++) {
    r.slots[i].r = &r;
    r.slots[i].next_free = i + 1 < o->conc ? i + 1 : -1;
  }
  r.free_head = 0;
  for (;;) {
    int submit = total ? r.next < total
                       : (bench_now_ns() - t0 < min_ns ||
                          r.next < o->min_checks);
    while (submit && r.free_head >= 0 && (int)r.inflight < o->conc) {
      if (start_one(&r) != 0) {
        free(r.slots);
        return -1;
      }
      submit = total ? r.next < total : submit;
    }
    if (!submit && r.inflight == 0) {
      break;
    }
    if (mdspf_cares_pending(e->cares) > 0) {
      /* with no check of ours waiting, the queries out are ones nobody
       * waits for (a cache's, filling it): take what has arrived, but
       * do not wait for them */
      if (mdspf_cares_wait(e->cares, r.inflight > 0 ? 100 : 0) != MDSPF_OK) {
        fprintf(stderr, "spf-bench: mdspf_cares_wait failed\n");
        free(r.slots);
        return -1;
      }
    } else if (r.inflight > 0) {
      /* nothing asked of DNS yet checks still open: only a budget can
       * end them (not expected; keeps the loop from spinning) */
      (void)poll(NULL, 0, 1);
      mdspf_ctx_process_timeouts(e->ctx);
    }
  }
  *ns = bench_now_ns() - t0;
  *done = r.done;
  *wrong += r.wrong;
  free(r.slots);
  return 0;
}

static int ours_job(const ours_opts *o, bench_job_out *out) {
  ours_env e;
  size_t done = 0;
  memset(out, 0, sizeof *out);
  if (ours_setup(o, &e) != 0) {
    return -1;
  }
  if (o->warm) { /* one untimed pass */
    int rc;
    if (o->conc == 0) {
      rc = ours_seq_pass(&e, o, &out->wrong);
    } else {
      uint64_t ns;
      size_t d;
      rc = ours_async(&e, o, o->nset, 0, &d, &out->wrong, &ns);
    }
    if (rc != 0) {
      ours_free(&e);
      return -1;
    }
    bench_warm_done();
  }
  if (o->conc == 0) {
    uint64_t t0 = bench_now_ns(), t;
    do {
      if (ours_seq_pass(&e, o, &out->wrong) != 0) {
        ours_free(&e);
        return -1;
      }
      done += o->nset;
      t = bench_now_ns();
    } while (t - t0 < o->min_ns || done < o->min_checks);
    out->ns = t - t0;
    out->checks = done;
  } else if (ours_async(&e, o, 0, o->min_ns, &out->checks, &out->wrong,
                        &out->ns) != 0) {
    ours_free(&e);
    return -1;
  }
  out->heap_b = (long)e.heap.peak;
  ours_free(&e);
  out->rss_kb = bench_peak_rss_kb();
  return 0;
}

static int ours_parse(const char *const *recs, size_t n, uint64_t min_ns,
                      bench_job_out *out) {
  size_t lens[64], i, done = 0;
  uint64_t t0, t;
  memset(out, 0, sizeof *out);
  if (n > sizeof lens / sizeof lens[0]) {
    return -1;
  }
  for (i = 0; i < n; i++) {
    lens[i] = strlen(recs[i]);
  }
  t0 = bench_cpu_ns();
  do {
    for (i = 0; i < n; i++) {
      mdspf_record *rec = NULL;
      int code = 0;
      size_t eo = 0, el = 0;
      int rc = mdspf_record_parse(recs[i], lens[i], NULL, NULL, &rec, &code,
                                  &eo, &el);
      if (rc != MDSPF_OK) {
        fprintf(stderr,
                "spf-bench: mdspf_record_parse(\"%s\"): %s (%s at %zu+%zu)\n",
                recs[i], mdspf_strerror(rc), mdspf_syntax_str(code), eo, el);
        out->wrong++;
      }
      mdspf_record_free(rec);
    }
    done += n;
    t = bench_cpu_ns();
  } while (out->wrong == 0 && t - t0 < min_ns);
  out->ns = t - t0;
  out->checks = done;
  return out->wrong ? -1 : 0;
}

/* ======================================================================
 * Job processes
 * ==================================================================== */

/* A job's parameters, passed on the command line of the exec'd copy. */
typedef struct job {
  const char *lib; /* "ours" or "spf2" */
  const char *server;
  int conc, lookahead, cache, warm, gmail;
  uint64_t min_ns;
  size_t min_checks;
} job;

static int job_main(int argc, char **argv) {
  job j;
  bench_job_out out;
  int i, rc;
  const bench_check *set = bench_checks;
  size_t nset = bench_nchecks;
  memset(&j, 0, sizeof j);
  j.lookahead = -1;
  for (i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "lib")) {
      j.lib = v;
    } else if (!strcmp(k, "server")) {
      j.server = v;
    } else if (!strcmp(k, "conc")) {
      j.conc = atoi(v);
    } else if (!strcmp(k, "lookahead")) {
      j.lookahead = atoi(v);
    } else if (!strcmp(k, "cache")) {
      j.cache = atoi(v);
    } else if (!strcmp(k, "warm")) {
      j.warm = atoi(v);
    } else if (!strcmp(k, "gmail")) {
      j.gmail = atoi(v);
    } else if (!strcmp(k, "min_ns")) {
      j.min_ns = strtoull(v, NULL, 10);
    } else if (!strcmp(k, "min_checks")) {
      j.min_checks = (size_t)strtoull(v, NULL, 10);
    }
  }
  if (!j.lib) {
    return 3;
  }
  if (j.gmail) {
    set = &bench_gmail_check;
    nset = 1;
  }
  if (!strcmp(j.lib, "spf2")) {
    rc = spf2_checks(set, nset, j.cache, j.warm, j.min_ns, j.min_checks, &out);
    out.rss_kb = bench_peak_rss_kb();
  } else {
    ours_opts o;
    memset(&o, 0, sizeof o);
    o.server = j.server;
    o.conc = j.conc;
    o.set = set;
    o.nset = nset;
    o.min_ns = j.min_ns;
    o.min_checks = j.min_checks;
    o.lookahead = j.lookahead;
    o.cache = j.cache;
    o.warm = j.warm;
    rc = ours_job(&o, &out);
  }
  if (rc != 0) {
    return 3;
  }
  printf("checks=%zu ns=%" PRIu64 " rss_kb=%ld heap_b=%ld wrong=%zu\n",
         out.checks, out.ns, out.rss_kb, out.heap_b, out.wrong);
  fflush(stdout);
  return out.wrong ? 2 : 0;
}

static char self_exe[4096];

/* Run a job in a fresh process; 0 with *out filled, 2 wrong results,
 * other values: the job could not run.  When the job says "warm" (its
 * untimed pass is over), *q_warm gets the proxy's query count then and
 * *warm_seen is set, so that only the timed part's queries are counted. */
static int run_job(const job *j, bench_job_out *out, const bench_proxy *px,
                   unsigned long *q_warm, int *warm_seen) {
  char conc[16], la[16], cache[16], warm[16], gm[16], mn[32], mc[32];
  char buf[512];
  const char *argv[32];
  int argc = 0, pfd[2], st;
  size_t got = 0;
  ssize_t r;
  pid_t pid;
  snprintf(conc, sizeof conc, "%d", j->conc);
  snprintf(la, sizeof la, "%d", j->lookahead);
  snprintf(cache, sizeof cache, "%d", j->cache);
  snprintf(warm, sizeof warm, "%d", j->warm);
  snprintf(gm, sizeof gm, "%d", j->gmail);
  snprintf(mn, sizeof mn, "%" PRIu64, j->min_ns);
  snprintf(mc, sizeof mc, "%zu", j->min_checks);
  argv[argc++] = "spf-bench";
  argv[argc++] = "--job";
  argv[argc++] = "lib";
  argv[argc++] = j->lib;
  argv[argc++] = "server";
  argv[argc++] = j->server ? j->server : "-";
  argv[argc++] = "conc";
  argv[argc++] = conc;
  argv[argc++] = "lookahead";
  argv[argc++] = la;
  argv[argc++] = "cache";
  argv[argc++] = cache;
  argv[argc++] = "warm";
  argv[argc++] = warm;
  argv[argc++] = "gmail";
  argv[argc++] = gm;
  argv[argc++] = "min_ns";
  argv[argc++] = mn;
  argv[argc++] = "min_checks";
  argv[argc++] = mc;
  argv[argc] = NULL;
  memset(out, 0, sizeof *out);
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    die("pipe: %s", strerror(errno));
  }
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    die("fork: %s", strerror(errno));
  }
  if (pid == 0) {
    dup2(pfd[1], 1);
    execv(self_exe, (char *const *)(uintptr_t)argv);
    _exit(127);
  }
  close(pfd[1]);
  *warm_seen = 0;
  while ((r = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0) {
    got += (size_t)r;
    if (!*warm_seen && got >= 5 && memcmp(buf, "warm\n", 5) == 0) {
      *q_warm = px->stats ? atomic_load(&px->stats->queries) : 0;
      *warm_seen = 1;
      memmove(buf, buf + 5, got - 5);
      got -= 5;
    }
    if (got == sizeof buf - 1) {
      break;
    }
  }
  buf[got] = '\0';
  close(pfd[0]);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (sscanf(buf, "checks=%zu ns=%" SCNu64 " rss_kb=%ld heap_b=%ld wrong=%zu",
             &out->checks, &out->ns, &out->rss_kb, &out->heap_b,
             &out->wrong) != 5) {
    return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) + 10 : 11;
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && out->wrong == 0) {
    return 0;
  }
  return 2;
}

/* ======================================================================
 * The orchestrator
 * ==================================================================== */

enum {
  R_PARSE,
  R_SEQ0,
  R_SEQ5,
  R_ASYNC,
  R_GMAIL,
  R_CACHE,
  R_RSS1,
  R_RSS256,
  R_RSSPER,
  R_HEAPPER,
  R_QUERIES,
  R_Q_CACHE,
  R_Q_ON,
  R_Q_OFF,
  NROWS
};

typedef struct row {
  const char *label;
  int decimals;      /* shown after the point */
  int lower_better;  /* the ratio still is ours/libspf2 */
  double ours[MAX_RUNS], spf2[MAX_RUNS];
  int nours, nspf2;
  int ours_only;                 /* no libspf2 figure to compare */
  const char *ours_na, *spf2_na; /* why a column is empty */
} row;

static row rows[NROWS];

static void row_init(int i, const char *label, int decimals, int lower) {
  rows[i].label = label;
  rows[i].decimals = decimals;
  rows[i].lower_better = lower;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(const double *v, int n) {
  double s[MAX_RUNS];
  memcpy(s, v, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, cmp_double);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

typedef struct config {
  char nsd[64], proxy_server[64];
  struct sockaddr_in nsd_sa, proxy_sa;
  const char *resolv_conf;
  int runs;
  long delay_ms;
  double scale;
  int parse_only;   /* only the parsing row: no DNS at all */
  char **exec_argv; /* --exec: run this behind the proxy, nothing else */
} config;


static void addr_str(const struct sockaddr_in *sa, char *out, size_t n) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
  snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(sa->sin_port));
}

/* Point libspf2 (in the next job process) at sa: rewrite the file that
 * is bind-mounted over /etc/resolv.conf, in place (same inode). */
static void point_libspf2(const config *c, const struct sockaddr_in *sa) {
  char ip[INET_ADDRSTRLEN];
  FILE *f = fopen(c->resolv_conf, "r+");
  if (!f) {
    die("cannot open %s: %s", c->resolv_conf, strerror(errno));
  }
  inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
  if (ftruncate(fileno(f), 0) != 0) {
    die("cannot truncate %s: %s", c->resolv_conf, strerror(errno));
  }
  fprintf(f, "# written by spf-bench for libspf2 (private namespace)\n"
             "nameserver %s\noptions timeout:2 attempts:2\n",
          ip);
  if (fclose(f) != 0) {
    die("cannot write %s", c->resolv_conf);
  }
}

static int failures;

static void job_failed(const char *what, int rc, const bench_job_out *o) {
  if (rc == 2) {
    fprintf(stderr, "spf-bench: %s: %zu wrong result(s), the first above\n",
            what, o->wrong);
  } else {
    fprintf(stderr, "spf-bench: %s: the job failed (status %d)\n", what, rc);
  }
  failures++;
}

static double per_s(const bench_job_out *o) {
  return o->ns ? (double)o->checks * 1e9 / (double)o->ns : 0;
}

static uint64_t ms_ns(double ms, double scale) {
  return (uint64_t)(ms * scale * 1e6);
}

/* One job of ours or libspf2's; records the rate in rows[r] (if r >= 0)
 * and the proxy's query count per check in rows[q] (if q >= 0). */
static int measure(const config *c, bench_proxy *px, const job *j, int r,
                   int q, bench_job_out *out, const char *what) {
  unsigned long q0 = atomic_load(&px->stats->queries), q1, qw = 0;
  int warm_seen = 0;
  int rc = run_job(j, out, px, &qw, &warm_seen);
  int spf2 = !strcmp(j->lib, "spf2");
  (void)c;
  q1 = atomic_load(&px->stats->queries);
  if (warm_seen) {
    q0 = qw; /* the timed part only */
  }
  if (rc != 0) {
    job_failed(what, rc, out);
    return -1;
  }
  if (r >= 0) {
    if (spf2) {
      rows[r].spf2[rows[r].nspf2++] = per_s(out);
    } else {
      rows[r].ours[rows[r].nours++] = per_s(out);
    }
  }
  if (q >= 0 && out->checks) {
    double v = (double)(q1 - q0) / (double)out->checks;
    if (spf2) {
      rows[q].spf2[rows[q].nspf2++] = v;
    } else {
      rows[q].ours[rows[q].nours++] = v;
    }
  }
  return 0;
}

static void one_run(const config *c, bench_proxy *px, int run) {
  bench_job_out o, o1;
  job j;
  int spf2_dns = c->resolv_conf != NULL && spf2_available(NULL);
  double s = c->scale;

  fprintf(stderr, "spf-bench: run %d/%d\n", run + 1, c->runs);

  /* records parsed per CPU second, in this process: five slices of
   * each, taken in turn (ours, libspf2, ours, ...), so that a change of
   * the machine's speed during the run hits both alike */
  {
    bench_job_out sum_o, sum_s;
    int k, ok = 1;
    memset(&sum_o, 0, sizeof sum_o);
    memset(&sum_s, 0, sizeof sum_s);
    for (k = 0; k < 5 && ok; k++) {
      if (ours_parse(bench_records, bench_nrecords, ms_ns(60, s), &o) != 0) {
        job_failed("parsing (ours)", 2, &o);
        ok = 0;
        break;
      }
      sum_o.checks += o.checks;
      sum_o.ns += o.ns;
      if (!spf2_available(NULL)) {
        continue;
      }
      if (spf2_parse(bench_records, bench_nrecords, ms_ns(60, s), &o) != 0) {
        job_failed("parsing (libspf2)", 2, &o);
        ok = 0;
        break;
      }
      sum_s.checks += o.checks;
      sum_s.ns += o.ns;
    }
    if (ok) {
      rows[R_PARSE].ours[rows[R_PARSE].nours++] = per_s(&sum_o);
      if (spf2_available(NULL)) {
        rows[R_PARSE].spf2[rows[R_PARSE].nspf2++] = per_s(&sum_s);
      }
    }
  }

  if (c->parse_only) {
    return;
  }

  /* sequential, straight to NSD */
  memset(&j, 0, sizeof j);
  j.lookahead = -1;
  j.lib = "ours";
  j.server = c->nsd;
  j.min_ns = ms_ns(500, s);
  j.min_checks = bench_nchecks;
  measure(c, px, &j, R_SEQ0, -1, &o, "sequential checks, no delay (ours)");
  if (spf2_dns) {
    point_libspf2(c, &c->nsd_sa);
    j.lib = "spf2";
    measure(c, px, &j, R_SEQ0, -1, &o, "sequential checks, no delay (libspf2)");
  }

  /* sequential through the delay proxy */
  j.lib = "ours";
  j.server = c->proxy_server;
  j.min_ns = ms_ns(400, s);
  j.min_checks = bench_nchecks;
  measure(c, px, &j, R_SEQ5, -1, &o, "sequential checks, delayed (ours)");
  if (spf2_dns) {
    point_libspf2(c, &c->proxy_sa);
    j.lib = "spf2";
    if (measure(c, px, &j, R_SEQ5, R_QUERIES, &o,
                "sequential checks, delayed (libspf2)") == 0) {
      /* libspf2 is synchronous: its rate with 256 in flight is this */
      rows[R_ASYNC].spf2[rows[R_ASYNC].nspf2++] = per_s(&o);
    }
  }

  /* 256 in flight through the proxy (ours), peak RSS at 256 */
  j.lib = "ours";
  j.conc = 256;
  j.min_ns = ms_ns(1000, s);
  j.min_checks = 512;
  if (measure(c, px, &j, R_ASYNC, R_QUERIES, &o,
              "256 checks in flight (ours)") == 0) {
    /* one check at a time, asynchronous too: peak RSS at 1 */
    j.conc = 1;
    j.min_ns = 0;
    j.min_checks = bench_nchecks;
    if (measure(c, px, &j, -1, -1, &o1, "1 check in flight (ours)") == 0) {
      rows[R_RSS1].ours[rows[R_RSS1].nours++] = (double)o1.rss_kb;
      rows[R_RSS256].ours[rows[R_RSS256].nours++] = (double)o.rss_kb;
      rows[R_RSSPER].ours[rows[R_RSSPER].nours++] =
          (double)(o.rss_kb - o1.rss_kb) / 255.0;
      rows[R_HEAPPER].ours[rows[R_HEAPPER].nours++] =
          (double)(o.heap_b - o1.heap_b) / 255.0 / 1024.0;
    }
  }
#if MDSPF_BENCH_LOOKAHEAD
  j.conc = 256;
  j.min_ns = ms_ns(500, s);
  j.min_checks = 512;
  j.lookahead = 1;
  measure(c, px, &j, -1, R_Q_ON, &o, "256 in flight, lookahead on (ours)");
  j.lookahead = 0;
  measure(c, px, &j, -1, R_Q_OFF, &o, "256 in flight, lookahead off (ours)");
  j.lookahead = -1;
#endif

  /* the gmail-like check, one at a time through the proxy */
  j.conc = 0;
  j.gmail = 1;
  j.min_ns = ms_ns(300, s);
  j.min_checks = 10;
  if (measure(c, px, &j, -1, -1, &o, "gmail-like checks (ours)") == 0 &&
      o.checks) {
    rows[R_GMAIL].ours[rows[R_GMAIL].nours++] =
        (double)o.ns / 1e6 / (double)o.checks;
  }
  if (spf2_dns) {
    j.lib = "spf2";
    if (measure(c, px, &j, -1, -1, &o, "gmail-like checks (libspf2)") == 0 &&
        o.checks) {
      rows[R_GMAIL].spf2[rows[R_GMAIL].nspf2++] =
          (double)o.ns / 1e6 / (double)o.checks;
    }
  }
  j.gmail = 0;

  /* warm cache, through the proxy */
  j.warm = 1;
  j.cache = 1;
  j.min_ns = ms_ns(500, s);
  j.min_checks = bench_nchecks;
#if MDSPF_BENCH_HAVE_CACHE
  j.lib = "ours";
  measure(c, px, &j, R_CACHE, R_Q_CACHE, &o, "warm cache (ours)");
#endif
  if (spf2_dns) {
    j.lib = "spf2";
    measure(c, px, &j, R_CACHE, R_Q_CACHE, &o, "warm cache (libspf2)");
  }
}

static void fmt_val(const row *r, double v, char *out, size_t n) {
  snprintf(out, n, "%.*f", r->decimals, v);
}

static void print_table(const config *c) {
  int i;
  char ours[48], spf2[48], ratio[64];
  printf("%-44s %14s %14s  %s\n", "", "libmaildrop-spf", "libspf2",
         "ours/libspf2 (range)");
  for (i = 0; i < NROWS; i++) {
    row *r = &rows[i];
    double ro[MAX_RUNS];
    int k, n = 0;
    if (!r->label) {
      continue;
    }
    if (r->nours) {
      fmt_val(r, median(r->ours, r->nours), ours, sizeof ours);
    } else {
      snprintf(ours, sizeof ours, "n/a");
    }
    if (r->nspf2) {
      fmt_val(r, median(r->spf2, r->nspf2), spf2, sizeof spf2);
    } else {
      snprintf(spf2, sizeof spf2, r->ours_only ? "-" : "n/a");
    }
    if (r->nours && r->nours == r->nspf2) {
      for (k = 0; k < r->nours; k++) {
        if (r->spf2[k] > 0) {
          ro[n++] = r->ours[k] / r->spf2[k];
        }
      }
    }
    if (n == r->nours && n > 0) {
      double lo = ro[0], hi = ro[0];
      for (k = 1; k < n; k++) {
        lo = ro[k] < lo ? ro[k] : lo;
        hi = ro[k] > hi ? ro[k] : hi;
      }
      snprintf(ratio, sizeof ratio, "%.2fx (%.2f-%.2f)%s", median(ro, n), lo,
               hi, r->lower_better ? " lower is better" : "");
    } else {
      snprintf(ratio, sizeof ratio, "-");
    }
    printf("%-44s %14s %14s  %s\n", r->label, ours, spf2, ratio);
  }
  printf("\n");
  for (i = 0; i < NROWS; i++) {
    if (rows[i].label && !rows[i].nours && rows[i].ours_na) {
      printf("%s: ours: n/a: %s\n", rows[i].label, rows[i].ours_na);
    }
  }
  for (i = 0; i < NROWS; i++) { /* each reason once */
    const char *why = rows[i].spf2_na;
    int k, seen = 0;
    if (!rows[i].label || rows[i].ours_only || rows[i].nspf2 || !why) {
      continue;
    }
    for (k = 0; k < i; k++) {
      seen |= rows[k].label && !rows[k].ours_only && !rows[k].nspf2 &&
              rows[k].spf2_na == why;
    }
    if (!seen) {
      printf("libspf2 n/a: %s\n", why);
    }
  }
  (void)c;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: spf-bench --nsd IP[:PORT] [--proxy IP[:PORT]] "
          "[--resolv-conf FILE]\n"
          "                 [--runs N] [--delay-ms MS] [--scale X]\n"
          "       spf-bench --parse-only [--runs N] [--scale X]\n"
          "       spf-bench --print-workload\n"
          "       spf-bench --nsd IP[:PORT] --proxy IP[:PORT] [--delay-ms MS] "
          "--exec PROG [ARGS...]\n"
          "Measures libmaildrop-spf against libspf2 on the workload of "
          "zones/example.zone\n"
          "served by NSD at --nsd; run it through tests/bench/run.sh "
          "(./build.sh bench).\n"
          "  --proxy IP[:PORT]   where the delay proxy listens "
          "[the NSD address, any port]\n"
          "  --resolv-conf FILE  the file bind-mounted over "
          "/etc/resolv.conf (private\n"
          "                      namespace; proxy and NSD on port 53): "
          "enables libspf2's DNS rows\n"
          "  --runs N            runs; every figure is the median [5]\n"
          "  --delay-ms MS       delay per query at the proxy [5]\n"
          "  --scale X           time per measurement x X [1.0]\n"
          "  --parse-only        only the records-parsed row (no DNS)\n"
          "  --print-workload    print the checks (IP SENDER HELO "
          "RESULT) and exit\n"
          "  --exec PROG [ARGS]  (last) run PROG with the delay proxy "
          "up, nothing else;\n"
          "                      exit with its status\n");
}

/* --exec: PROGRAM runs while the proxy relays; its status is ours. */
static int exec_behind_proxy(const config *c, bench_proxy *px) {
  int st = 0;
  pid_t pid;
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    die("fork: %s", strerror(errno));
  }
  if (pid == 0) {
    execvp(c->exec_argv[0], c->exec_argv);
    fprintf(stderr, "spf-bench: cannot run %s: %s\n", c->exec_argv[0],
            strerror(errno));
    _exit(127);
  }
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      die("waitpid: %s", strerror(errno));
    }
  }
  fprintf(stderr,
          "spf-bench: the delay proxy (%s, %ld ms/query) relayed %lu "
          "queries, dropped %lu\n",
          c->proxy_server, c->delay_ms, atomic_load(&px->stats->replies),
          atomic_load(&px->stats->dropped));
  bench_proxy_stop(px);
  if (WIFEXITED(st)) {
    return WEXITSTATUS(st);
  }
  return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int main(int argc, char **argv) {
  config c;
  bench_proxy px;
  char err[256], line[256];
  const char *why = NULL, *proxy_arg = NULL;
  int i, la_label = 0;
  ssize_t n;

  if (argc >= 2 && !strcmp(argv[1], "--job")) {
    return job_main(argc, argv);
  }
  if (argc == 2 && !strcmp(argv[1], "--print-workload")) {
    size_t k;
    for (k = 0; k < bench_nchecks; k++) {
      printf("%s %s %s %s\n", bench_checks[k].ip, bench_checks[k].sender,
             BENCH_HELO, bench_result_name(bench_checks[k].expect));
    }
    return fflush(stdout) == 0 ? 0 : 1;
  }
  memset(&c, 0, sizeof c);
  c.runs = 5;
  c.delay_ms = 5;
  c.scale = 1.0;
  i = 1;
  while (i < argc) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--parse-only")) {
      c.parse_only = 1;
      i++;
      continue;
    }
    if (!strcmp(a, "--exec")) {
      if (!v) {
        usage(stderr);
        return 2;
      }
      c.exec_argv = argv + i + 1;
      break;
    }
    if (!v) {
      usage(stderr);
      return 2;
    }
    if (!strcmp(a, "--nsd")) {
      if (bench_parse_inet(v, &c.nsd_sa, 53) != 0) {
        die("bad --nsd address: %s", v);
      }
    } else if (!strcmp(a, "--proxy")) {
      proxy_arg = v;
    } else if (!strcmp(a, "--resolv-conf")) {
      c.resolv_conf = v;
    } else if (!strcmp(a, "--runs")) {
      c.runs = atoi(v);
    } else if (!strcmp(a, "--delay-ms")) {
      c.delay_ms = atol(v);
    } else if (!strcmp(a, "--scale")) {
      c.scale = atof(v);
    } else {
      usage(stderr);
      return 2;
    }
    i += 2;
  }
  if ((!c.nsd_sa.sin_family && !c.parse_only) ||
      (c.exec_argv && (c.parse_only || !proxy_arg))) {
    usage(stderr);
    return 2;
  }
  if (c.runs < 1 || c.runs > MAX_RUNS || c.delay_ms < 0 ||
      c.delay_ms > 1000 || !(c.scale > 0 && c.scale <= 100)) {
    die("--runs 1..%d, --delay-ms 0..1000, --scale (0, 100]", MAX_RUNS);
  }
  if (proxy_arg) {
    if (bench_parse_inet(proxy_arg, &c.proxy_sa, 53) != 0) {
      die("bad --proxy address: %s", proxy_arg);
    }
  } else {
    c.proxy_sa = c.nsd_sa;
    c.proxy_sa.sin_port = 0;
  }
  if (c.resolv_conf && (ntohs(c.nsd_sa.sin_port) != 53 ||
                        ntohs(c.proxy_sa.sin_port) != 53)) {
    die("--resolv-conf needs NSD and the proxy on port 53 (libspf2's "
        "resolver has no port)");
  }
  n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n <= 0) {
    die("cannot find my own executable: %s", strerror(errno));
  }
  self_exe[n] = '\0';
  signal(SIGPIPE, SIG_IGN);

  memset(&px, 0, sizeof px);
  if (!c.parse_only &&
      bench_proxy_start(&px, (struct sockaddr *)&c.proxy_sa,
                        sizeof c.proxy_sa, (struct sockaddr *)&c.nsd_sa,
                        sizeof c.nsd_sa, c.delay_ms * 1000, err,
                        sizeof err) != 0) {
    die("delay proxy: %s", err);
  }
  memcpy(&c.proxy_sa, &px.listen, sizeof c.proxy_sa);
  addr_str(&c.nsd_sa, c.nsd, sizeof c.nsd);
  addr_str(&c.proxy_sa, c.proxy_server, sizeof c.proxy_server);
  if (c.exec_argv) {
    return exec_behind_proxy(&c, &px);
  }

  row_init(R_PARSE, "records parsed per CPU second [2]", 0, 0);
  row_init(R_SEQ0, "checks/s, sequential, NSD on loopback", 0, 0);
  snprintf(line, sizeof line, "checks/s, sequential, %ld ms/query", c.delay_ms);
  rows[R_SEQ5].label = strdup(line);
  rows[R_SEQ5].decimals = 1;
  snprintf(line, sizeof line, "checks/s, 256 in flight, %ld ms/query [1]",
           c.delay_ms);
  rows[R_ASYNC].label = strdup(line);
  rows[R_ASYNC].decimals = 1;
  snprintf(line, sizeof line, "ms per gmail-like check, %ld ms/query",
           c.delay_ms);
  rows[R_GMAIL].label = strdup(line);
  rows[R_GMAIL].decimals = 1;
  rows[R_GMAIL].lower_better = 1;
  snprintf(line, sizeof line, "checks/s, warm cache, %ld ms/query",
           c.delay_ms);
  rows[R_CACHE].label = strdup(line);
  rows[R_CACHE].decimals = 0;
  row_init(R_RSS1, "peak RSS KiB, 1 check in flight", 0, 1);
  row_init(R_RSS256, "peak RSS KiB, 256 checks in flight", 0, 1);
  row_init(R_RSSPER, "RSS KiB per extra check in flight", 1, 1);
  row_init(R_HEAPPER, "  the library's own heap per check, KiB [3]", 1, 1);
  row_init(R_QUERIES, "DNS queries per check", 2, 1);
  row_init(R_Q_CACHE, "DNS queries per check, warm cache", 2, 1);
#if MDSPF_BENCH_LOOKAHEAD
  row_init(R_Q_ON, "DNS queries per check, lookahead on", 2, 1);
  row_init(R_Q_OFF, "DNS queries per check, lookahead off", 2, 1);
  la_label = 1;
#endif
  for (i = R_RSS1; i <= R_HEAPPER; i++) {
    rows[i].ours_only = 1;
  }
  rows[R_Q_ON].ours_only = rows[R_Q_OFF].ours_only = 1;
#if !MDSPF_BENCH_HAVE_CACHE
  rows[R_CACHE].ours_na = "no cache in this build";
  rows[R_Q_CACHE].ours_na = "no cache in this build";
#endif
  if (!spf2_available(&why)) {
    for (i = 0; i < NROWS; i++) {
      if (!rows[i].spf2_na) {
        rows[i].spf2_na = why;
      }
    }
  } else if (!c.resolv_conf) {
    for (i = R_SEQ0; i < NROWS; i++) {
      if (!rows[i].spf2_na) {
        rows[i].spf2_na =
            "libspf2 asks the system resolver, which has no port; it needs "
            "a private network namespace (run.sh makes one where "
            "unshare works)";
      }
    }
  }
  if (c.parse_only) {
    for (i = 0; i < NROWS; i++) {
      if (i != R_PARSE) {
        rows[i].label = NULL;
      }
    }
  }
  for (i = 0; i < c.runs && failures == 0; i++) {
    one_run(&c, &px, i);
  }
  if (px.stats && atomic_load(&px.stats->dropped)) {
    fprintf(stderr, "spf-bench: note: the proxy dropped %lu datagrams\n",
            atomic_load(&px.stats->dropped));
  }
  bench_proxy_stop(&px);
  if (failures) {
    fprintf(stderr,
            "spf-bench: FAILED: %d measurement(s) gave wrong results or did "
            "not run; no figures printed\n",
            failures);
    return 1;
  }

  printf("spf-bench: libmaildrop-spf %s against libspf2 %s, %d run%s, "
         "%ld core%s online\n",
         mdspf_version_str(), spf2_version(), c.runs, c.runs == 1 ? "" : "s",
         sysconf(_SC_NPROCESSORS_ONLN),
         sysconf(_SC_NPROCESSORS_ONLN) == 1 ? "" : "s");
  printf("every figure is the median of the runs; the ratio is the median "
         "of the per-run\nratios ours/libspf2 (both measured in the same "
         "run), with their range\n");
  if (c.parse_only) {
    printf("workload: %zu records (tests/bench/workload.c), every one "
           "parsed without error\nin every pass\n\n",
           bench_nrecords);
  } else {
    printf("workload: %zu checks and %zu records (tests/bench/workload.c), "
           "every result\nverified in every run; NSD at %s, delay proxy at "
           "%s (%ld ms/query)\n\n",
           bench_nchecks, bench_nrecords, c.nsd, c.proxy_server, c.delay_ms);
  }
  print_table(&c);
  printf("[2] thread CPU time, so that other processes on the machine "
         "do not count; parsing\n    is all CPU, so on a quiet machine it "
         "is the wall time.\n");
  if (c.parse_only) {
    return 0;
  }
  printf("[1] libspf2 is synchronous: its figure in this row is its "
         "sequential rate at %ld ms/query.\n",
         c.delay_ms);
  printf("[3] what the context and the c-ares backend allocated through "
         "their allocator\n    hooks (checks, records, answers, tokens, "
         "UDP channels); the RSS row also\n    has malloc's own overhead "
         "and, on the other side, memory freed and reused.\n");
  printf("DNS queries per check are counted at the delay proxy (every "
         "datagram a library sent).\n");
  if (!la_label) {
    printf("lookahead: n/a (the engine of this build has no lookahead "
           "switch)\n");
  }
  return 0;
}

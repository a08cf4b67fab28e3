/*
 * spf-evloop -- many SPF checks at once, on one thread, from a libevent
 * loop: the pattern an event-driven MTA or milter would use.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * usage: spf-evloop [--server ADDR[:PORT]] [--concurrency N] [--timeout MS]
 *                   [FILE|-]
 *
 * Reads lines "ip sender [helo]" (as libspf2's spfquery -file does; "<>"
 * is the null sender, which needs a HELO name) from FILE or standard
 * input, keeps up to N checks (default 64) in flight and prints, as each
 * completes (so in completion order, not input order):
 *
 *     <line-no> <result> <matched mechanism, or "-">
 *
 * A line that cannot be checked (bad address, missing field, ...) prints
 * "<line-no> error -" and a message on stderr.  Empty lines and lines
 * starting with '#' are skipped.  At the end a summary goes to stderr.
 * Exit status: 0 when every input line was processed (whatever the SPF
 * results), 1 when FILE cannot be read, setup fails or the run is
 * interrupted (SIGINT/SIGTERM), 2 for usage errors.
 *
 * The moving parts, as an MTA would have them, one set per loop thread:
 *
 *   struct event_base  -- the application's loop
 *   mdspf_cares        -- the DNS backend: owns the sockets
 *   mdspf_ctx          -- configuration and time budget shared by checks
 *   mdspf_libevent     -- the adapter wiring the first three together
 *                         (<maildrop-spf/adapters/libevent.h>)
 *   mdspf_check        -- one per SMTP transaction (here: per input line)
 *
 * Nothing in the library blocks or creates threads: checks make progress
 * only while the loop runs, and completion callbacks run inside
 * event_base_dispatch() on this thread.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif

#include <maildrop-spf/adapters/libevent.h>
#include <maildrop-spf/cares.h>
#include <maildrop-spf/spf.h>

#include <event2/event.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "spf-evloop"
#define EXIT_USAGE 2

#define DEFAULT_CONCURRENCY 64
#define MAX_CONCURRENCY 100000
/* Longest input line accepted (ip + sender + helo need far less). */
#define LINE_BUF 4096
/* Checks started per loop iteration at most (see refill()). */
#define START_BURST 32
/* Result counters: index 0 counts input errors, 1..7 the mdspf_result
 * values (MDSPF_NEUTRAL .. MDSPF_PERMERROR). */
#define NRESULTS 7
#define ERRSLOT 0

/* ======================================================================
 * State
 * ==================================================================== */

struct app;

/* One check in flight.  The slots are allocated once (N of them), so
 * memory stays bounded however long the input is. */
struct slot {
  struct app *app;
  mdspf_check *chk;   /* NULL: slot free */
  unsigned long line; /* input line number */
  struct slot *next_free;
};

struct app {
  struct event_base *base;
  mdspf_cares *cares;
  mdspf_ctx *ctx;
  mdspf_libevent *le;
  struct event *sigint, *sigterm;
  struct event *refill_ev; /* zero-delay timer: continue refill() */

  FILE *in;
  const char *in_name;
  unsigned long lineno; /* lines read so far */
  int eof;              /* no more lines will be read */
  int read_error;
  int interrupted;
  int refilling;  /* inside refill(): see there */
  int burst_left; /* checks refill() may still start this round */

  struct slot *slots;
  struct slot *free_slots;
  long max_inflight;
  long inflight;

  unsigned long processed; /* lines reported (checks and input errors) */
  unsigned long counts[NRESULTS + 1];
};

/* ======================================================================
 * Output
 * ==================================================================== */

static void report(struct app *app, unsigned long line, const char *result,
                   const char *mech) {
  printf("%lu %s %s\n", line, result, mech ? mech : "-");
  app->processed++;
}

/* A line that could not become a check: "<n> error -" plus a reason. */
static void report_error(struct app *app, unsigned long line,
                         const char *why) {
  fprintf(stderr, PROG ": %s:%lu: %s\n", app->in_name, line, why);
  report(app, line, "error", NULL);
  app->counts[ERRSLOT]++;
}

/* ======================================================================
 * Checks
 * ==================================================================== */

static void refill(struct app *app);

/*
 * Completion callback.  It runs exactly once per started check, from
 * inside the loop (a socket or a timer of the adapter) -- or even before
 * mdspf_check_start() returns, when the answer needs no DNS (e.g. a
 * sender domain that is not a valid name).  Two rules for an MTA:
 *   - read the outcome here (or keep the check until you have);
 *     mdspf_check_free() inside the callback is allowed;
 *   - do not block: every other check on this thread waits meanwhile.
 *     Starting new checks is fine (this one does, through refill()).
 */
static void on_check_done(mdspf_check *chk, void *user) {
  struct slot *s = (struct slot *)user;
  struct app *app = s->app;
  int result = mdspf_check_result(chk);

  report(app, s->line, mdspf_result_str(result), mdspf_check_mechanism(chk));
  if (result >= MDSPF_NEUTRAL && result <= NRESULTS) {
    app->counts[result]++;
  }
  mdspf_check_free(chk); /* the getters' strings die here: used above */
  s->chk = NULL;
  s->next_free = app->free_slots;
  app->free_slots = s;
  app->inflight--;

  refill(app); /* keep the pipeline full */
}

/* Split a line into at most max whitespace-separated fields, in place.
 * Returns the number of fields, or max + 1 when there are more. */
static int split_fields(char *p, char **fields, int max) {
  int n = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
      p++;
    }
    if (!*p) {
      return n;
    }
    if (n == max) {
      return max + 1;
    }
    fields[n++] = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
      p++;
    }
    if (*p) {
      *p++ = '\0';
    }
  }
}

/* Turn one input line into a running check (or an error report). */
static void start_line(struct app *app, char *text, unsigned long line) {
  char *f[3];
  const char *sender;
  struct slot *s;
  mdspf_check *chk = NULL;
  int n, rc;

  n = split_fields(text, f, 3);
  if (n == 0 || f[0][0] == '#') {
    return; /* blank or comment */
  }
  if (n < 2 || n > 3) {
    report_error(app, line, n < 2 ? "expected \"ip sender [helo]\""
                                  : "too many fields");
    return;
  }
  sender = strcmp(f[1], "<>") == 0 ? NULL : f[1];
  if (!sender && n < 3) {
    report_error(app, line, "the null sender <> needs a HELO name");
    return;
  }

  /* A check is cheap: create one per transaction, configure, start. */
  rc = mdspf_check_new(app->ctx, &chk);
  if (rc == MDSPF_OK) {
    rc = mdspf_check_set_ip(chk, f[0]);
    if (rc != MDSPF_OK) {
      report_error(app, line, "bad IP address");
      mdspf_check_free(chk);
      return;
    }
    rc = mdspf_check_set_sender(chk, sender);
  }
  if (rc == MDSPF_OK && n == 3) {
    rc = mdspf_check_set_helo(chk, f[2]);
  }
  if (rc != MDSPF_OK) {
    report_error(app, line, mdspf_strerror(rc));
    mdspf_check_free(chk);
    return;
  }

  /* Book the slot *before* starting: the callback may run inside
   * mdspf_check_start() and release it again. */
  s = app->free_slots;
  app->free_slots = s->next_free;
  s->chk = chk;
  s->line = line;
  app->inflight++;
  rc = mdspf_check_start(chk, on_check_done, s);
  if (rc != MDSPF_OK) { /* nothing started, no callback will come */
    s->chk = NULL;
    s->next_free = app->free_slots;
    app->free_slots = s;
    app->inflight--;
    report_error(app, line, mdspf_strerror(rc));
    mdspf_check_free(chk);
  }
  /* From here on chk and s belong to the callback: not touched again. */
}

/* Read one line and start it; sets app->eof at the end of the input.
 * Reads byte by byte into a fixed buffer: memory stays bounded, and NUL
 * bytes and overlong lines are noticed rather than silently split. */
static void next_line(struct app *app) {
  char buf[LINE_BUF];
  size_t len = 0;
  int ch, too_long = 0, has_nul = 0;

  while ((ch = getc(app->in)) != EOF && ch != '\n') {
    if (ch == '\0') {
      has_nul = 1;
    }
    if (len < sizeof buf - 1) {
      buf[len++] = (char)ch;
    } else {
      too_long = 1;
    }
  }
  if (ch == EOF) {
    if (ferror(app->in)) {
      fprintf(stderr, PROG ": %s: read error: %s\n", app->in_name,
              strerror(errno));
      app->read_error = 1;
      app->eof = 1;
      return;
    }
    app->eof = 1;
    if (len == 0 && !too_long) {
      return; /* nothing after the last newline */
    }
  }
  buf[len] = '\0';
  app->lineno++;
  if (too_long) {
    report_error(app, app->lineno, "line too long");
  } else if (has_nul) {
    report_error(app, app->lineno, "NUL byte in line");
  } else {
    start_line(app, buf, app->lineno);
  }
}

/*
 * Start checks until N are in flight or the input ends.  This is the
 * back-pressure an MTA applies too (e.g. stop accepting connections).
 *
 * Pacing: c-ares sends every query to a server through one UDP socket,
 * and the kernel keeps only a few hundred unread answers on it (the
 * socket's receive buffer).  Sending thousands of queries without letting
 * the loop read would lose answers, and those checks would end in
 * temperror when their budget runs out.  So at most START_BURST checks
 * are started per loop round; the rest waits for a zero-delay timer,
 * which runs after the loop has read what arrived meanwhile.
 *
 * refill() is called from completion callbacks, and a check can complete
 * inside its own mdspf_check_start() -- so without care a run of such
 * lines would recurse refill -> start -> callback -> refill ...  The flag
 * flattens that: a nested call returns at once, and the outer loop sees
 * the slot its callback freed.
 */
static void refill(struct app *app) {
  if (app->refilling) {
    return;
  }
  app->refilling = 1;
  while (!app->eof && app->inflight < app->max_inflight) {
    if (app->burst_left == 0) {
      if (!evtimer_pending(app->refill_ev, NULL)) {
        struct timeval now = {0, 0};
        evtimer_add(app->refill_ev, &now);
      }
      break;
    }
    app->burst_left--;
    next_line(app);
  }
  app->refilling = 0;
  if (app->eof && app->inflight == 0) {
    /* All done.  The backend's sockets stay watched (c-ares keeps them
     * open), so the loop would not end by itself: stop it. */
    event_base_loopbreak(app->base);
  }
}

/* The next loop round: a new burst. */
static void on_refill(evutil_socket_t fd, short what, void *arg) {
  struct app *app = (struct app *)arg;
  (void)fd;
  (void)what;
  app->burst_left = START_BURST;
  refill(app);
}

/* SIGINT/SIGTERM: stop reading and leave the loop; the checks still in
 * flight are cancelled by the teardown (see main). */
static void on_signal(evutil_socket_t sig, short what, void *arg) {
  struct app *app = (struct app *)arg;
  (void)sig;
  (void)what;
  app->interrupted = 1;
  app->eof = 1;
  event_base_loopbreak(app->base);
}

/* ======================================================================
 * Setup and teardown
 * ==================================================================== */

struct options {
  const char *server;
  const char *file;
  long concurrency;
  long timeout_ms; /* 0: the library's default budget */
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " [--server ADDR[:PORT]] [--concurrency N]"
          " [--timeout MS] [FILE|-]\n"
          "  reads lines \"ip sender [helo]\" (sender <> = null sender),\n"
          "  prints \"<line-no> <result> <mechanism|->\" as checks complete\n"
          "  --server ADDR[:PORT]  DNS server(s), comma-separated "
          "(default: /etc/resolv.conf)\n"
          "  --concurrency N       checks in flight at once, 1..%d "
          "(default %d)\n"
          "  --timeout MS          time budget per check, 1..3600000 "
          "(default 20000)\n",
          MAX_CONCURRENCY, DEFAULT_CONCURRENCY);
}

static int parse_num(const char *s, long lo, long hi, long *out) {
  char *end;
  long v;
  if (!s || !*s || *s == '-' || *s == '+') {
    return -1;
  }
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) {
    return -1;
  }
  *out = v;
  return 0;
}

/* Returns -1 to exit 0 (--help), 0 to run, EXIT_USAGE for a usage error. */
static int parse_args(int argc, char **argv, struct options *o) {
  int i;
  o->server = NULL;
  o->file = NULL;
  o->concurrency = DEFAULT_CONCURRENCY;
  o->timeout_ms = 0;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    const char *eq;
    size_t nlen;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return -1;
    }
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) {
        if (o->file || i + 2 < argc) {
          fprintf(stderr, PROG ": only one input file\n");
          return EXIT_USAGE;
        }
        o->file = argv[i + 1];
      }
      break;
    }
    if (a[0] != '-' || a[1] == '\0') { /* FILE or "-" */
      if (o->file) {
        fprintf(stderr, PROG ": only one input file\n");
        return EXIT_USAGE;
      }
      o->file = a;
      continue;
    }
    if (a[1] != '-') {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    eq = strchr(a, '=');
    nlen = eq ? (size_t)(eq - a) : strlen(a);
    if (eq) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[i + 1];
    }
#define IS_OPT(name) (nlen == sizeof(name) - 1 && strncmp(a, name, nlen) == 0)
    if (!IS_OPT("--server") && !IS_OPT("--concurrency") &&
        !IS_OPT("--timeout")) {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    if (!val) {
      fprintf(stderr, PROG ": %s needs a value\n", a);
      return EXIT_USAGE;
    }
    if (!eq) {
      i++;
    }
    if (IS_OPT("--server")) {
      if (!*val) {
        fprintf(stderr, PROG ": --server needs an address\n");
        return EXIT_USAGE;
      }
      o->server = val;
    } else if (IS_OPT("--concurrency")) {
      if (parse_num(val, 1, MAX_CONCURRENCY, &o->concurrency) != 0) {
        fprintf(stderr, PROG ": --concurrency: expected 1..%d\n",
                MAX_CONCURRENCY);
        return EXIT_USAGE;
      }
    } else {
      if (parse_num(val, 1, 3600000, &o->timeout_ms) != 0) {
        fprintf(stderr, PROG ": --timeout: expected 1..3600000 ms\n");
        return EXIT_USAGE;
      }
    }
#undef IS_OPT
  }
  return 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void print_summary(const struct app *app, long ms) {
  static const char *const names[NRESULTS + 1] = {
    "error", "neutral", "pass", "fail", "softfail", "none", "temperror",
    "permerror"};
  /* the order people read them in */
  static const int order[NRESULTS + 1] = {
    MDSPF_PASS,      MDSPF_FAIL,      MDSPF_SOFTFAIL, MDSPF_NEUTRAL,
    MDSPF_NONE,      MDSPF_TEMPERROR, MDSPF_PERMERROR, ERRSLOT};
  double rate = ms > 0 ? (double)app->processed * 1000.0 / (double)ms
                       : (double)app->processed * 1000.0;
  int i;
  fprintf(stderr, "%lu checks in %ld ms, %.0f/s; results:", app->processed,
          ms, rate);
  for (i = 0; i <= NRESULTS; i++) {
    fprintf(stderr, " %s=%lu", names[order[i]], app->counts[order[i]]);
  }
  fputc('\n', stderr);
  if (app->interrupted) {
    fprintf(stderr, PROG ": interrupted, %ld checks cancelled\n",
            app->inflight);
  }
}

/* Create backend, context and adapter.  Returns 0 or prints why not. */
static int setup(struct app *app, const struct options *o) {
  mdspf_cares_options copt;
  long i;
  int rc;

  app->base = event_base_new();
  if (!app->base) {
    fprintf(stderr, PROG ": event_base_new failed\n");
    return -1;
  }

  /* The backend.  No watch/timer hooks here: the adapter installs them. */
  mdspf_cares_options_init(&copt);
  copt.servers = o->server;
  rc = mdspf_cares_new(&copt, &app->cares);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": DNS backend: %s\n", mdspf_strerror(rc));
    return -1;
  }

  /* One context for all checks: resolver, limits, budget. */
  rc = mdspf_ctx_new(NULL, NULL, &app->ctx);
  if (rc == MDSPF_OK) {
    rc = mdspf_ctx_set_resolver(app->ctx, mdspf_cares_resolver(app->cares));
  }
  if (rc == MDSPF_OK && o->timeout_ms > 0) {
    rc = mdspf_ctx_set_limit(app->ctx, MDSPF_LIMIT_TIMEOUT_MS, o->timeout_ms);
  }
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": context: %s\n", mdspf_strerror(rc));
    return -1;
  }

  /* The adapter: backend sockets and timers, and the context's budget
   * timer, all become events of app->base.  Attach before any check. */
  rc = mdspf_libevent_attach(app->cares, app->ctx, app->base, &app->le);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": libevent adapter: %s\n", mdspf_strerror(rc));
    return -1;
  }

  app->max_inflight = o->concurrency;
  app->slots =
    (struct slot *)calloc((size_t)o->concurrency, sizeof *app->slots);
  if (!app->slots) {
    fprintf(stderr, PROG ": out of memory\n");
    return -1;
  }
  for (i = o->concurrency; i-- > 0;) {
    app->slots[i].app = app;
    app->slots[i].next_free = app->free_slots;
    app->free_slots = &app->slots[i];
  }

  app->burst_left = START_BURST;
  app->refill_ev = evtimer_new(app->base, on_refill, app);
  app->sigint = evsignal_new(app->base, SIGINT, on_signal, app);
  app->sigterm = evsignal_new(app->base, SIGTERM, on_signal, app);
  if (!app->refill_ev || !app->sigint || !app->sigterm ||
      evsignal_add(app->sigint, NULL) ||
      evsignal_add(app->sigterm, NULL)) {
    fprintf(stderr, PROG ": cannot create loop events\n");
    return -1;
  }
  return 0;
}

/*
 * Teardown, valid in every state (see the adapter header, "Teardown"):
 * when no check is running, detach first -- the usual order.  When checks
 * are still in flight (interrupted), detach refuses and leaves the adapter
 * in place, and the order is: context (cancels the checks, no callbacks),
 * backend (stops watching its sockets), adapter, then the checks.  The loop does not run
 * between these calls, and the event base goes last.
 */
static void teardown(struct app *app) {
  if (mdspf_libevent_detach(app->le) == MDSPF_OK) {
    app->le = NULL;
  }
  mdspf_ctx_free(app->ctx); /* cancels the checks still in flight */
  mdspf_cares_free(app->cares);
  mdspf_libevent_free(app->le);
  if (app->slots) {
    /* their handles outlive the context: free them (any order works) */
    long i;
    for (i = 0; i < app->max_inflight; i++) {
      mdspf_check_free(app->slots[i].chk);
      app->slots[i].chk = NULL;
    }
  }
  if (app->refill_ev) {
    event_free(app->refill_ev);
  }
  if (app->sigint) {
    event_free(app->sigint);
  }
  if (app->sigterm) {
    event_free(app->sigterm);
  }
  if (app->base) {
    event_base_free(app->base);
  }
  free(app->slots);
}

int main(int argc, char **argv) {
  struct options o;
  struct app app;
  long t0, ms;
  int rc, status = 1;

  rc = parse_args(argc, argv, &o);
  if (rc != 0) {
    return rc < 0 ? 0 : rc;
  }

  /* c-ares 1.18 writes DNS-over-TCP queries with writev(), which raises
   * SIGPIPE when the server has closed the connection: a process using it
   * must ignore that signal (most servers do anyway). */
  {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
  }

  memset(&app, 0, sizeof app);
  if (!o.file || strcmp(o.file, "-") == 0) {
    app.in = stdin;
    app.in_name = "<stdin>";
  } else {
    app.in = fopen(o.file, "r");
    app.in_name = o.file;
    if (!app.in) {
      fprintf(stderr, PROG ": %s: %s\n", o.file, strerror(errno));
      return 1;
    }
  }

  if (setup(&app, &o) == 0) {
    t0 = now_ms();
    refill(&app); /* start the first checks; some may complete at once */
    if (app.inflight > 0 || !app.eof) {
      event_base_dispatch(app.base); /* runs until refill() stops it */
    }
    ms = now_ms() - t0;
    if (app.le && mdspf_libevent_status(app.le) != MDSPF_OK) {
      fprintf(stderr, PROG ": warning: event loop glue: %s\n",
              mdspf_strerror(mdspf_libevent_status(app.le)));
    }
    if (fflush(stdout) != 0) {
      fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
      app.read_error = 1;
    }
    print_summary(&app, ms);
    status = (app.read_error || app.interrupted) ? 1 : 0;
  }
  teardown(&app);
  if (app.in != stdin) {
    fclose(app.in);
  }
  return status;
}

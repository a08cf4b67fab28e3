/*
 * tests/test_threads.c -- the library's threading contract, under load.
 *
 * spf.h promises: no global mutable state; every handle is used by one
 * thread at a time; a parsed mdspf_record is immutable and may be shared
 * freely between threads, its reference count being atomic
 * (mdspf_ctx_add_override_record takes a reference: "compile once, share
 * everywhere").  This program holds the library to
 * that with NTHREADS threads started together (a barrier), each with its
 * OWN context and its OWN in-memory zone, while all of them share the
 * same parsed records:
 *
 * - records are parsed once in main and installed in every thread's
 *   context with mdspf_ctx_add_override_record (at the top level, as an
 *   include target and as a redirect target);
 * - every thread runs many checks over them: inline answers, deferred
 *   answers (FIFO and LIFO) driven by mdspf_check_run, and several checks
 *   in flight at once driven by mdspf_zone_process with completion
 *   callbacks (which free their check);
 * - the expected outcomes depend on the thread (each thread's zone
 *   publishes its own addresses and explanation text), so a check that
 *   saw another thread's data -- a mixed-up context, zone or trace hook
 *   -- gives a wrong result and is reported;
 * - each context has a trace hook whose ud points at that thread's own
 *   state; the hook checks it runs on the owning thread, formats every
 *   event and records the verdict, which must equal the check's result;
 * - main drops its own references as soon as the threads start: the
 *   records live on through the references each thread and each of its
 *   contexts (configuration snapshots included) take and drop
 *   concurrently, and the last one frees them;
 * - every thread also walks the shared records concurrently: every
 *   introspection getter and mdspf_record_format, compared with what main
 *   computed before the threads started, and parses its own copies.
 *
 * Built normally (a CTest test) and with -fsanitize=thread by
 * "./build.sh test", which requires ThreadSanitizer to report nothing.
 *
 * usage: test_threads [ROUNDS [THREADS]]   (defaults 40 and 8)
 * Prints "N passed, M failed" (checks) and exits 0 only when all passed.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maildrop-spf/spf.h>

#define MAX_THREADS 64
#define MAX_FAIL_MSGS 10 /* per thread; later failures are only counted */
#define INFLIGHT 32      /* slots for checks in flight in one thread */

/* ---- records shared by every thread ------------------------------------- */

/* domain (NULL: only walked, not installed) and record text. */
static const struct shared_def {
  const char *domain;
  const char *text;
} SHARED[] = {
    {"example.com",
     "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:inc.example.com "
     "a:host.example.com mx:mx.example.com exists:%{ir}.%{l}.ex.example.com "
     "redirect=red.example.com"},
    {"inc.example.com",
     "v=spf1 ip4:198.51.100.0/24 include:zinc.example.com -all"},
    {"red.example.com", "v=spf1 -ip4:203.0.113.13 ~all exp=exp.example.com"},
    {"ptr.example.com", "v=spf1 ptr:example.com -all"},
    {NULL, "v=spf1 a:%{d}/24//64 MX/28 -ip6:2001:DB8::/48 "
           "?exists:%{i}.x.%{d2} ~include:foo.example.org moo.cow=bar "
           "exp=e.%{d} redirect=%{d1}.example.net"},
};
#define NSHARED (sizeof SHARED / sizeof SHARED[0])

static mdspf_record *g_rec[NSHARED];
static char *g_desc[NSHARED]; /* describe() of each, computed by main */

/* ---- a growing string ----------------------------------------------------- */

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  if (b->oom) {
    return;
  }
  for (;;) {
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    {
      size_t ncap = (b->cap ? b->cap * 2 : 256) + (size_t)n;
      char *np = realloc(b->p, ncap);
      if (!np) {
        b->oom = 1;
        return;
      }
      b->p = np;
      b->cap = ncap;
    }
  }
}

/* Everything the getters say about rec, as one string (caller frees).
 * Also exercises the truncating path of mdspf_record_format. */
static char *describe(const mdspf_record *rec) {
  sbuf b = {NULL, 0, 0, 0};
  char small[8], full[1024];
  size_t n, i, tlen = 0, need = 0, need2 = 0;
  unsigned char addr[16];
  const char *text = mdspf_record_text(rec, &tlen);
  int rc, rc2;
  n = mdspf_record_nterms(rec);
  sb_printf(&b, "text=[%s] len=%zu spf=%d n=%zu\n", text, tlen,
            mdspf_record_is_spf(text, tlen), n);
  rc = mdspf_record_format(rec, full, sizeof full, &need);
  rc2 = mdspf_record_format(rec, small, sizeof small, &need2);
  sb_printf(&b, "fmt=%d [%s] %zu small=%d [%s] %zu\n", rc, full, need, rc2,
            small, need2);
  for (i = 0; i <= n; i++) { /* i == n: the out-of-range answers */
    const char *name = mdspf_record_term_name(rec, i);
    const char *val = mdspf_record_term_value(rec, i);
    size_t off = 0, len = 0;
    int fam, k;
    memset(addr, 0, sizeof addr);
    fam = mdspf_record_term_addr(rec, i, addr);
    rc = mdspf_record_term_span(rec, i, &off, &len);
    sb_printf(&b, "%zu: %d(%s) q=%d qc=%d name=%s val=%s cidr=%d/%d", i,
              mdspf_record_term_kind(rec, i),
              mdspf_term_kind_str(mdspf_record_term_kind(rec, i)),
              mdspf_record_term_qualifier(rec, i),
              mdspf_record_term_qualifier_char(rec, i),
              name ? name : "(null)", val ? val : "(null)",
              mdspf_record_term_cidr(rec, i, 4),
              mdspf_record_term_cidr(rec, i, 6));
    sb_printf(&b, " span=%d:%zu+%zu macros=%d addr=%d:", rc, off, len,
              mdspf_record_term_has_macros(rec, i), fam);
    for (k = 0; k < 16; k++) {
      sb_printf(&b, "%02x", addr[k]);
    }
    sb_printf(&b, "\n");
  }
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* ---- per-thread state ------------------------------------------------------ */

typedef struct slot {
  mdspf_check *chk; /* NULL: free */
  size_t ci;        /* index into CASES */
  int traced;       /* result of the MDSPF_EV_RESULT event, -2 if none */
  int completed;
  struct tstate *st;
} slot;

typedef struct tstate {
  int tid;
  pthread_t self;
  int rounds;
  mdspf_zone *zone;
  mdspf_ctx *ctx;
  unsigned long passed, failed, fail_msgs, verified;
  unsigned long events[16], event_bytes;
  slot slots[INFLIGHT];
} tstate;

static _Thread_local int tls_tid = -1; /* which tstate this thread owns */

static void failf(tstate *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void failf(tstate *st, const char *fmt, ...) {
  va_list ap;
  char msg[1024];
  st->failed++;
  if (st->fail_msgs++ >= MAX_FAIL_MSGS) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "FAIL thread %d: %s\n", st->tid, msg);
}

/* ---- the cases --------------------------------------------------------------- */

/* Strings may hold one "%d": the thread number, or with N (next) the
 * next thread's number -- data that only the other thread's zone has. */
typedef struct tcase {
  const char *name;
  const char *ip;     /* "%d": thread number; "%N": next thread's */
  const char *sender; /* "" = null reverse-path */
  const char *helo;
  int result;
  const char *mech;   /* NULL: none expected */
  const char *domain; /* NULL: not checked */
  const char *exp;    /* NULL: none; else substring of the explanation */
  int source;
} tcase;

#define OVR MDSPF_SRC_OVERRIDE
#define DNS MDSPF_SRC_DNS
static const tcase CASES[] = {
    {"ip4", "192.0.2.7", "u@example.com", "h.example.net", MDSPF_PASS,
     "ip4:192.0.2.0/24", "example.com", NULL, OVR},
    {"ip6", "2001:db8::1", "u@example.com", "h.example.net", MDSPF_PASS,
     "ip6:2001:db8::/32", "example.com", NULL, OVR},
    {"include", "10.4.%d.9", "u@example.com", "h.example.net", MDSPF_PASS,
     "include:inc.example.com", NULL, NULL, OVR},
    {"a", "10.1.%d.1", "u@example.com", "h.example.net", MDSPF_PASS,
     "a:host.example.com", "example.com", NULL, OVR},
    {"mx", "10.2.%d.2", "u@example.com", "h.example.net", MDSPF_PASS,
     "mx:mx.example.com", "example.com", NULL, OVR},
    {"exists", "10.3.%d.3", "user%d@example.com", "h.example.net", MDSPF_PASS,
     "exists:%{ir}.%{l}.ex.example.com", "example.com", NULL, OVR},
    {"redirect-fail", "203.0.113.13", "u@example.com", "h.example.net",
     MDSPF_FAIL, "-ip4:203.0.113.13", "red.example.com",
     "t%d denies 203.0.113.13", OVR},
    {"redirect-softfail", "203.0.113.14", "u@example.com", "h.example.net",
     MDSPF_SOFTFAIL, "~all", "red.example.com", NULL, OVR},
    {"other-thread-a", "10.1.%N.1", "u@example.com", "h.example.net",
     MDSPF_SOFTFAIL, "~all", "red.example.com", NULL, OVR},
    {"other-thread-exists", "10.3.%d.3", "user%N@example.com",
     "h.example.net", MDSPF_SOFTFAIL, "~all", "red.example.com", NULL, OVR},
    {"other-thread-include", "10.4.%N.9", "u@example.com", "h.example.net",
     MDSPF_SOFTFAIL, "~all", "red.example.com", NULL, OVR},
    {"dns-pass", "10.5.%d.5", "x@plain.example.com", "h.example.net",
     MDSPF_PASS, "ip4:10.5.%d.0/24", "plain.example.com", NULL, DNS},
    {"dns-fail", "10.5.%N.5", "x@plain.example.com", "h.example.net",
     MDSPF_FAIL, "-all", "plain.example.com", "10.5.%N.5 is not one of", DNS},
    {"helo", "10.5.%d.5", "", "plain.example.com", MDSPF_PASS,
     "ip4:10.5.%d.0/24", "plain.example.com", NULL, DNS},
    {"syntax", "192.0.2.1", "x@bad.example.com", "h.example.net",
     MDSPF_PERMERROR, NULL, "bad.example.com", NULL, MDSPF_SRC_NONE},
    {"ptr-pass", "10.6.%d.6", "x@ptr.example.com", "h.example.net",
     MDSPF_PASS, "ptr:example.com", "ptr.example.com", NULL, OVR},
    {"ptr-fail", "10.6.%N.6", "x@ptr.example.com", "h.example.net",
     MDSPF_FAIL, "-all", "ptr.example.com", "designated mail servers", OVR},
    {"none", "192.0.2.1", "x@nothing.example.com", "h.example.net",
     MDSPF_NONE, NULL, NULL, NULL, MDSPF_SRC_NONE},
    {"own-override", "10.7.%d.1", "x@own.example.com", "h.example.net",
     MDSPF_PASS, "ip4:10.7.%d.0/24", "own.example.com", NULL, OVR},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static int g_nthreads = 8;

/* Expand "%d" (this thread) and "%N" (the next thread) in pat. */
static void subst(char *out, size_t outsz, const char *pat, int tid) {
  size_t o = 0;
  const char *p;
  out[0] = '\0';
  for (p = pat; *p && o + 1 < outsz; p++) {
    if (p[0] == '%' && (p[1] == 'd' || p[1] == 'N')) {
      int v = p[1] == 'd' ? tid : (tid + 1) % g_nthreads;
      int n = snprintf(out + o, outsz - o, "%d", v);
      if (n < 0 || (size_t)n >= outsz - o) {
        break;
      }
      o += (size_t)n;
      p++;
    } else {
      out[o++] = *p;
      out[o] = '\0';
    }
  }
}

/* ---- trace hook: ud is the owning thread's state ------------------------ */

static slot *find_slot(tstate *st, const mdspf_check *chk) {
  int i;
  for (i = 0; i < INFLIGHT; i++) {
    if (st->slots[i].chk == chk) {
      return &st->slots[i];
    }
  }
  return NULL;
}

static void trace_hook(void *ud, const mdspf_event *ev) {
  tstate *st = ud;
  char line[2048];
  size_t need = 0;
  int type = mdspf_event_type(ev);
  if (st->tid != tls_tid || !pthread_equal(st->self, pthread_self())) {
    failf(st, "trace hook of thread %d ran on thread %d", st->tid, tls_tid);
    return;
  }
  if (type <= 0 || type >= 16) {
    failf(st, "event type %d", type);
    return;
  }
  st->events[type]++;
  if (mdspf_event_format(ev, line, sizeof line, &need) != MDSPF_OK ||
      strlen(line) != need) {
    failf(st, "event format (type %d)", type);
  }
  st->event_bytes += need;
  if (type == MDSPF_EV_RESULT) {
    slot *s = find_slot(st, mdspf_event_check(ev));
    if (!s) {
      failf(st, "verdict event for a check this thread does not own");
    } else if (s->traced != -2) {
      failf(st, "two verdict events for one check");
    } else {
      s->traced = mdspf_event_result(ev);
    }
  }
}

/* ---- running and verifying a check ----------------------------------------- */

static slot *new_slot(tstate *st, size_t ci) {
  slot *s = find_slot(st, NULL);
  if (!s) {
    return NULL;
  }
  if (mdspf_check_new(st->ctx, &s->chk) != MDSPF_OK) {
    s->chk = NULL;
    return NULL;
  }
  s->ci = ci;
  s->traced = -2;
  s->completed = 0;
  s->st = st;
  return s;
}

static int set_inputs(tstate *st, slot *s) {
  const tcase *c = &CASES[s->ci];
  char ip[64], sender[128];
  subst(ip, sizeof ip, c->ip, st->tid);
  subst(sender, sizeof sender, c->sender, st->tid);
  return mdspf_check_set_ip(s->chk, ip) == MDSPF_OK &&
         mdspf_check_set_sender(s->chk, sender) == MDSPF_OK &&
         mdspf_check_set_helo(s->chk, c->helo) == MDSPF_OK;
}

static int str_is(const char *got, const char *want) {
  if (!want) {
    return got == NULL;
  }
  return got && strcmp(got, want) == 0;
}

/* Compare the outcome of s->chk with its case; free the check. */
static void verify(tstate *st, slot *s, const char *how) {
  const tcase *c = &CASES[s->ci];
  mdspf_check *chk = s->chk;
  char want[256];
  const char *got;
  int ok = 1, res = mdspf_check_result(chk);
  st->verified++;
  if (!mdspf_check_done(chk)) {
    failf(st, "%s/%s: not done", c->name, how);
    ok = 0;
  } else if (res != c->result) {
    failf(st, "%s/%s: result %s, want %s (%s)", c->name, how,
          mdspf_result_str(res), mdspf_result_str(c->result),
          mdspf_check_problem(chk) ? mdspf_check_problem(chk) : "-");
    ok = 0;
  }
  if (ok && s->traced != res) {
    failf(st, "%s/%s: traced verdict %d, result %d", c->name, how, s->traced,
          res);
    ok = 0;
  }
  if (c->mech) {
    subst(want, sizeof want, c->mech, st->tid);
  }
  got = mdspf_check_mechanism(chk);
  if (ok && !str_is(got, c->mech ? want : NULL)) {
    failf(st, "%s/%s: mechanism %s, want %s", c->name, how,
          got ? got : "(null)", c->mech ? want : "(null)");
    ok = 0;
  }
  got = mdspf_check_domain(chk);
  if (ok && c->domain && !str_is(got, c->domain)) {
    failf(st, "%s/%s: domain %s, want %s", c->name, how, got ? got : "(null)",
          c->domain);
    ok = 0;
  }
  got = mdspf_check_explanation(chk);
  if (c->exp) {
    subst(want, sizeof want, c->exp, st->tid);
  }
  if (ok && (c->exp ? !got || !strstr(got, want) : got != NULL)) {
    failf(st, "%s/%s: explanation [%s], want [%s]", c->name, how,
          got ? got : "(null)", c->exp ? want : "(null)");
    ok = 0;
  }
  if (ok && mdspf_check_source(chk) != c->source) {
    failf(st, "%s/%s: source %d, want %d", c->name, how,
          mdspf_check_source(chk), c->source);
    ok = 0;
  }
  if (ok && c->result == MDSPF_PERMERROR) {
    int code = 0;
    size_t off = 0, len = 0;
    if (mdspf_check_syntax_error(chk, &code, &off, &len) != MDSPF_OK ||
        code != MDSPF_SYN_UNKNOWN_MECH || off != 21 || len != 3) {
      failf(st, "%s/%s: syntax error %d at %zu+%zu", c->name, how, code, off,
            len);
      ok = 0;
    }
  }
  if (ok) {
    st->passed++;
  }
  mdspf_check_free(chk);
  s->chk = NULL;
}

/* Blocking: mdspf_check_run (inline answers, or deferred ones that the
 * zone's wait() delivers). */
static void run_blocking(tstate *st, size_t ci, const char *how) {
  slot *s = new_slot(st, ci);
  if (!s) {
    failf(st, "%s/%s: cannot create a check", CASES[ci].name, how);
    return;
  }
  if (!set_inputs(st, s) || mdspf_check_run(s->chk, 0) != MDSPF_OK) {
    failf(st, "%s/%s: cannot run the check", CASES[ci].name, how);
    mdspf_check_free(s->chk);
    s->chk = NULL;
    return;
  }
  verify(st, s, how);
}

static const char *g_how_async = "async";

static void on_done(mdspf_check *chk, void *user) {
  slot *s = user;
  if (s->chk != chk || s->completed) {
    failf(s->st, "completion callback for a foreign check");
    return;
  }
  s->completed = 1;
  verify(s->st, s, g_how_async); /* frees the check inside its callback */
}

/* Asynchronous: start every case, then deliver the deferred answers one
 * at a time; all checks are in flight at once. */
static void run_async_batch(tstate *st) {
  size_t ci;
  int i, started = 0, inflight = 0;
  for (ci = 0; ci < NCASES; ci++) {
    slot *s = new_slot(st, ci);
    if (!s) {
      failf(st, "%s/async: cannot create a check", CASES[ci].name);
      continue;
    }
    if (!set_inputs(st, s) || mdspf_check_start(s->chk, on_done, s) != 0) {
      failf(st, "%s/async: cannot start", CASES[ci].name);
      mdspf_check_free(s->chk);
      s->chk = NULL;
      continue;
    }
    started++;
  }
  for (i = 0; i < INFLIGHT; i++) {
    inflight += st->slots[i].chk != NULL;
  }
  if (inflight < 2) { /* deferred answers: most checks wait for DNS */
    failf(st, "only %d of %d checks in flight", inflight, started);
  }
  while (mdspf_zone_pending(st->zone) > 0) {
    mdspf_zone_process(st->zone, 1);
  }
  for (i = 0; i < INFLIGHT; i++) {
    if (st->slots[i].chk) {
      failf(st, "%s/async: never completed", CASES[st->slots[i].ci].name);
      mdspf_check_free(st->slots[i].chk);
      st->slots[i].chk = NULL;
    }
  }
}

/* ---- shared records: concurrent introspection ----------------------------- */

static void walk_shared(tstate *st) {
  size_t i;
  for (i = 0; i < NSHARED; i++) {
    char *d = describe(g_rec[i]);
    mdspf_record *mine = NULL;
    char a[1024], b[1024];
    if (!d || strcmp(d, g_desc[i]) != 0) {
      failf(st, "shared record %zu reads differently in this thread", i);
    }
    free(d);
    /* a private parse of the same text formats identically */
    if (mdspf_record_parse(SHARED[i].text, strlen(SHARED[i].text), NULL, NULL,
                           &mine, NULL, NULL, NULL) != MDSPF_OK ||
        mdspf_record_format(mine, a, sizeof a, NULL) != MDSPF_OK ||
        mdspf_record_format(g_rec[i], b, sizeof b, NULL) != MDSPF_OK ||
        strcmp(a, b) != 0) {
      failf(st, "record %zu: private parse differs", i);
    }
    mdspf_record_free(mine);
  }
}

/* ---- the thread ------------------------------------------------------------ */

static pthread_barrier_t g_start;

/* The thread's own DNS ("%d": the thread number, expanded by subst). */
static const char ZONE_TEXT[] =
    "$ORIGIN example.com.\n"
    "host            A    10.1.%d.1\n"
    "mx              MX   10 mail%d.example.com.\n"
    "mail%d          A    10.2.%d.2\n"
    "3.%d.3.10.user%d.ex A 127.0.0.2\n"
    "zinc            TXT  \"v=spf1 ip4:10.4.%d.0/24 -all\"\n"
    "exp             TXT  \"t%d denies %{i}\"\n"
    "plain           TXT  \"v=spf1 ip4:10.5.%d.0/24\" \" -all\"\n"
    "bad             TXT  \"v=spf1 ip4:192.0.2.1 foo -all\"\n"
    "6.%d.6.10.in-addr.arpa. PTR p%d.example.com.\n"
    "p%d             A    10.6.%d.6\n";

static int setup_thread(tstate *st) {
  char text[2048], own[128], err[256];
  size_t i, n;
  subst(text, sizeof text, ZONE_TEXT, st->tid);
  n = strlen(text);
  if (n + 1 >= sizeof text) {
    failf(st, "zone text too long");
    return -1;
  }
  if (mdspf_zone_new(NULL, NULL, &st->zone) != MDSPF_OK ||
      mdspf_zone_load(st->zone, text, n, NULL, "thread-zone", err,
                      sizeof err) != MDSPF_OK) {
    failf(st, "zone: %s", err);
    return -1;
  }
  if (mdspf_ctx_new(NULL, NULL, &st->ctx) != MDSPF_OK ||
      mdspf_ctx_set_resolver(st->ctx, mdspf_zone_resolver(st->zone)) !=
          MDSPF_OK ||
      mdspf_ctx_set_trace(st->ctx, trace_hook, st) != MDSPF_OK) {
    failf(st, "context setup");
    return -1;
  }
  for (i = 0; i < NSHARED; i++) {
    if (SHARED[i].domain &&
        mdspf_ctx_add_override_record(st->ctx, SHARED[i].domain, g_rec[i]) !=
            MDSPF_OK) {
      failf(st, "override %s", SHARED[i].domain);
      return -1;
    }
  }
  /* one override the context parses and owns itself */
  snprintf(own, sizeof own, "v=spf1 ip4:10.7.%d.0/24 -all", st->tid);
  if (mdspf_ctx_add_override(st->ctx, "own.example.com", own) != MDSPF_OK) {
    failf(st, "own override");
    return -1;
  }
  return 0;
}

static void *thread_main(void *arg) {
  tstate *st = arg;
  int r, ok;
  size_t ci;
  tls_tid = st->tid;
  st->self = pthread_self();
  for (ci = 0; ci < NSHARED; ci++) {
    (void)mdspf_record_ref(g_rec[ci]); /* this thread's own references */
  }
  ok = setup_thread(st) == 0;
  pthread_barrier_wait(&g_start); /* everyone starts checking together */
  for (r = 0; ok && r < st->rounds; r++) {
    int mode = (r + st->tid) % 4; /* threads are in different modes */
    switch (mode) {
    case 0:
      mdspf_zone_set_delivery(st->zone, MDSPF_ZONE_INLINE);
      for (ci = 0; ci < NCASES; ci++) {
        run_blocking(st, ci, "inline");
      }
      break;
    case 1:
      mdspf_zone_set_delivery(st->zone, MDSPF_ZONE_DEFERRED_FIFO);
      for (ci = 0; ci < NCASES; ci++) {
        run_blocking(st, ci, "run-fifo");
      }
      break;
    case 2:
      mdspf_zone_set_delivery(st->zone, MDSPF_ZONE_DEFERRED_LIFO);
      for (ci = 0; ci < NCASES; ci++) {
        run_blocking(st, ci, "run-lifo");
      }
      break;
    default:
      mdspf_zone_set_delivery(st->zone, r % 8 < 4 ? MDSPF_ZONE_DEFERRED_LIFO
                                                  : MDSPF_ZONE_DEFERRED_FIFO);
      run_async_batch(st);
      break;
    }
    walk_shared(st);
  }
  /* the trace saw exactly one verdict per check */
  if (ok && st->events[MDSPF_EV_RESULT] != st->verified) {
    failf(st, "%lu verdict events for %lu checks",
          st->events[MDSPF_EV_RESULT], st->verified);
  }
  mdspf_ctx_free(st->ctx);
  mdspf_zone_free(st->zone);
  for (ci = 0; ci < NSHARED; ci++) {
    mdspf_record_unref(g_rec[ci]); /* the last one frees the record */
  }
  return NULL;
}

int main(int argc, char **argv) {
  static tstate states[MAX_THREADS];
  pthread_t th[MAX_THREADS];
  int rounds = 40, i, created = 0;
  unsigned long passed = 0, failed = 0, events = 0;
  size_t k;
  if (argc > 1) {
    rounds = atoi(argv[1]);
  }
  if (argc > 2) {
    g_nthreads = atoi(argv[2]);
  }
  if (rounds < 1 || g_nthreads < 2 || g_nthreads > MAX_THREADS) {
    fprintf(stderr, "usage: test_threads [ROUNDS [THREADS (2..%d)]]\n",
            MAX_THREADS);
    return 2;
  }
  for (k = 0; k < NSHARED; k++) {
    size_t off = 0;
    int code = 0;
    if (mdspf_record_parse(SHARED[k].text, strlen(SHARED[k].text), NULL, NULL,
                           &g_rec[k], &code, &off, NULL) != MDSPF_OK) {
      fprintf(stderr, "shared record %zu: %s at %zu\n", k,
              mdspf_syntax_str(code), off);
      return 1;
    }
    g_desc[k] = describe(g_rec[k]);
    if (!g_desc[k]) {
      fprintf(stderr, "out of memory\n");
      return 1;
    }
  }
  /* the threads and main */
  if (pthread_barrier_init(&g_start, NULL, (unsigned)g_nthreads + 1) != 0) {
    fprintf(stderr, "pthread_barrier_init failed\n");
    return 1;
  }
  for (i = 0; i < g_nthreads; i++) {
    states[i].tid = i;
    states[i].rounds = rounds;
    if (pthread_create(&th[i], NULL, thread_main, &states[i]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1; /* the barrier would never open: give up */
    }
    created++;
  }
  pthread_barrier_wait(&g_start);
  for (k = 0; k < NSHARED; k++) {
    mdspf_record_unref(g_rec[k]); /* the threads' references keep them */
  }
  for (i = 0; i < created; i++) {
    pthread_join(th[i], NULL);
    passed += states[i].passed;
    failed += states[i].failed;
    events += states[i].events[MDSPF_EV_TERM] + states[i].events[MDSPF_EV_QUERY];
  }
  pthread_barrier_destroy(&g_start);
  for (k = 0; k < NSHARED; k++) {
    free(g_desc[k]);
  }
  printf("test_threads: %d threads x %d rounds sharing %zu records, "
         "%lu term/query events\n",
         g_nthreads, rounds, NSHARED, events);
  printf("%lu passed, %lu failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

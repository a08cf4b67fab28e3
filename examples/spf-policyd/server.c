/*
 * spf-policyd -- an asynchronous Postfix SPF policy service.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * One thread, one libevent loop: every connection (Postfix keeps them open
 * for many requests), every SPF check (asynchronous, through the c-ares
 * backend, or a zone file) and the shared DNS cache live on it.  Decisions
 * are spf-engine's (postfix-policyd-spf-python), read from its
 * configuration file; see spf-policyd(8).
 *
 * Requests on one connection are answered strictly in order, one at a
 * time (Postfix never sends the next before the reply); requests of
 * different connections run at the same time.  The configuration is a
 * generation: a SIGHUP builds a new one (contexts included) while the
 * requests in flight finish with the one they started with, which is
 * released when its last request ends.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* struct rusage, gethostname */
#endif

#include "config.h"
#include "decide.h"
#include "policy.h"

#include <maildrop-spf/adapters/libevent.h>
#include <maildrop-spf/cares.h>
#include <maildrop-spf/spf.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PROG "spf-policyd"
#define DEFAULT_CONFIG "/etc/postfix-policyd-spf-python/policyd-spf.conf"
#define EXIT_USAGE 2

#define DEFAULT_MAX_CONNECTIONS 1000
#define DEFAULT_STOP_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_S 3600
#define DEFAULT_INSTANCES 20000
#define INSTANCE_TTL_S 3600
#define INSTANCE_BUCKETS 4096
#define OUT_LOW 65536  /* stop taking requests while more output waits */
#define REPLY_MAX 10240
#define MAX_LISTEN 16
#define MAX_SERVERS 1024 /* octets of the --server list */
#define LAT_BUCKETS 2201 /* 0..999 ms by 1, then by 100 ms up to 121 s */

struct server;

/* One configuration generation: the spf-engine settings and the engine
 * contexts made from them (0: the checks, 1: Domain_Whitelist, 2:
 * HELO_Whitelist), each with its budget timer on the loop. */
struct gen {
  unsigned long id;
  int refs;
  pd_config *cfg;
  mdspf_ctx *ctx[3];
  mdspf_libevent *le[3];
  struct server *s;
};

/* A remembered decision for a message (Postfix's instance attribute). */
struct inst {
  char *key;
  char *text;
  int kind, iserror;
  time_t expires;
  struct inst *hnext;          /* hash chain */
  struct inst *qprev, *qnext;  /* age order, oldest first */
};

struct conn {
  struct server *s;
  unsigned long id;
  int rfd, wfd;
  struct event *rev, *wev, *idle, *kick;
  pd_parser *parser;
  struct evbuffer *out;
  pd_request *req;
  pd_txn *txn;
  struct gen *gen;
  mdspf_check *chk;
  int in_start; /* inside mdspf_check_start: callbacks do not kick */
  int eof, closing, reading, writing;
  struct timespec t0;
  struct conn *prev, *next;
};

struct listener {
  struct server *s;
  int fd;
  int status; /* the --status socket: write the statistics and close */
  char *unix_path;
  struct event *ev;
};

struct stats {
  uint64_t requests, answered, dropped, cached, refused, idle_closed;
  uint64_t results[9]; /* mdspf_result 1..7; 0: no check; 8: sasl etc. */
  uint64_t kinds[5];   /* PD_DUNNO .. PD_RESULT_ONLY */
  uint64_t lat[LAT_BUCKETS];
  uint64_t lat_max;
  uint64_t conns_total;
  long conns_now, conns_peak;
};

struct server {
  struct event_base *base;
  mdspf_cares *cares;
  mdspf_libevent *le_cares;
  mdspf_zone *zone;
  struct event *zone_timer; /* --zone-delay: deliver deferred answers */
  long zone_delay_ms;
  mdspf_cache *cache;
  const mdspf_resolver *resolver;
  struct gen *cur;
  unsigned long next_gen, next_conn;
  struct conn *conns;
  struct listener listeners[MAX_LISTEN];
  int nlisteners;
  struct event *sig_hup, *sig_term, *sig_int, *sig_usr1, *stop_timer;
  int spawn, stopping, exit_code;
  /* options */
  const char *config_path; /* NULL: built-in defaults */
  int log_stderr;
  long max_conns, stop_timeout_ms, idle_timeout_s;
  size_t max_instances;
  const char *pidfile;
  int socket_mode;
  /* instance memory */
  struct inst *ibucket[INSTANCE_BUCKETS];
  struct inst *iq_head, *iq_tail;
  size_t ninst;
  struct stats st;
  time_t started;
};

/* ======================================================================
 * Logging
 * ==================================================================== */

static int log_level(const struct server *s) {
  return s->cur ? s->cur->cfg->debug_level : 1;
}

static void logv(struct server *s, int prio, const char *f, va_list ap)
  __attribute__((format(printf, 3, 0)));
static void logv(struct server *s, int prio, const char *f, va_list ap) {
  char buf[4096];
  (void)vsnprintf(buf, sizeof buf, f, ap);
  if (s->log_stderr) {
    fprintf(stderr, PROG "[%ld]: %s\n", (long)getpid(), buf);
    fflush(stderr);
  } else {
    syslog(prio, "%s", buf);
  }
}

static void logmsg(struct server *s, int level, int prio, const char *f, ...)
  __attribute__((format(printf, 4, 5)));
/* level: the debugLevel from which the message is written (0: errors and
 * warnings, 1: decisions, 2+: details). */
static void logmsg(struct server *s, int level, int prio, const char *f,
                   ...) {
  va_list ap;
  if (log_level(s) < level) {
    return;
  }
  va_start(ap, f);
  logv(s, prio, f, ap);
  va_end(ap);
}

/* A request value in a log line: bytes outside 0x21..0x7e, '"' and '\\'
 * as '?', cut at 256 octets; NULL as "-", "" as def. */
static const char *logval(const char *v, const char *def, char *buf,
                          size_t n) {
  size_t i;
  if (!v) {
    return "-";
  }
  if (!*v) {
    return def;
  }
  for (i = 0; v[i] && i < n - 1 && i < 256; i++) {
    unsigned char ch = (unsigned char)v[i];
    buf[i] = (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
               ? '?'
               : (char)ch;
  }
  buf[i] = '\0';
  return buf;
}

/* The action inside quotes: '"' and '\\' as '\'', controls as '?'. */
static void quote_action(const char *a, char *buf, size_t n) {
  size_t i;
  for (i = 0; a[i] && i < n - 1; i++) {
    unsigned char ch = (unsigned char)a[i];
    buf[i] = (ch == '"' || ch == '\\') ? '\''
             : (ch < 0x20 || ch == 0x7f) ? '?'
                                         : (char)ch;
  }
  buf[i] = '\0';
}

static void config_msg(void *ud, int is_error, const char *file,
                       unsigned line, const char *msg) {
  struct server *s = ud;
  char where[64] = "";
  if (line) {
    snprintf(where, sizeof where, ":%u", line);
  }
  logmsg(s, 0, is_error ? LOG_ERR : LOG_WARNING, "%s: %s%s: %s",
         is_error ? "error" : "warning", file, where, msg);
}

/* ======================================================================
 * Time and statistics
 * ==================================================================== */

static long ms_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long)(now.tv_sec - t0->tv_sec) * 1000 +
         (long)(now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void lat_add(struct stats *st, long ms) {
  size_t b;
  if (ms < 0) {
    ms = 0;
  }
  b = ms < 1000 ? (size_t)ms : 1000 + (size_t)(ms - 1000) / 100;
  if (b >= LAT_BUCKETS) {
    b = LAT_BUCKETS - 1;
  }
  st->lat[b]++;
  if ((uint64_t)ms > st->lat_max) {
    st->lat_max = (uint64_t)ms;
  }
}

static long lat_pct(const struct stats *st, double p) {
  uint64_t total = 0, want, acc = 0;
  size_t b;
  for (b = 0; b < LAT_BUCKETS; b++) {
    total += st->lat[b];
  }
  if (!total) {
    return 0;
  }
  want = (uint64_t)((double)total * p + 0.999999);
  if (want < 1) {
    want = 1;
  }
  for (b = 0; b < LAT_BUCKETS; b++) {
    acc += st->lat[b];
    if (acc >= want) {
      return b < 1000 ? (long)b : 1000 + (long)(b - 1000) * 100;
    }
  }
  return (long)st->lat_max;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (!f) {
    return -1;
  }
  if (fscanf(f, "%ld %ld", &pages, &res) != 2) {
    res = -1;
  }
  fclose(f);
  return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The statistics, one "stats ..." line per group, into buf. */
static void stats_text(struct server *s, char *buf, size_t n) {
  const struct stats *st = &s->st;
  mdspf_cache_counters cc;
  struct rusage ru;
  size_t o = 0;
  memset(&cc, 0, sizeof cc);
  cc.struct_size = sizeof cc;
  if (s->cache) {
    (void)mdspf_cache_stats(s->cache, &cc);
  }
  memset(&ru, 0, sizeof ru);
  (void)getrusage(RUSAGE_SELF, &ru);
#define ADD(...)                                                             \
  do {                                                                       \
    int k_ = snprintf(buf + o, n - o, __VA_ARGS__);                          \
    if (k_ > 0) {                                                            \
      o += (size_t)k_ < n - o ? (size_t)k_ : n - o - 1;                      \
    }                                                                        \
  } while (0)
  ADD("stats requests=%llu answered=%llu remembered=%llu dropped=%llu "
      "refused_connections=%llu idle_closed=%llu\n",
      (unsigned long long)st->requests, (unsigned long long)st->answered,
      (unsigned long long)st->cached, (unsigned long long)st->dropped,
      (unsigned long long)st->refused, (unsigned long long)st->idle_closed);
  ADD("stats results pass=%llu fail=%llu softfail=%llu neutral=%llu "
      "none=%llu temperror=%llu permerror=%llu unchecked=%llu\n",
      (unsigned long long)st->results[MDSPF_PASS],
      (unsigned long long)st->results[MDSPF_FAIL],
      (unsigned long long)st->results[MDSPF_SOFTFAIL],
      (unsigned long long)st->results[MDSPF_NEUTRAL],
      (unsigned long long)st->results[MDSPF_NONE],
      (unsigned long long)st->results[MDSPF_TEMPERROR],
      (unsigned long long)st->results[MDSPF_PERMERROR],
      (unsigned long long)(st->results[0] + st->results[8]));
  ADD("stats actions dunno=%llu prepend=%llu reject=%llu defer=%llu "
      "result_only=%llu\n",
      (unsigned long long)st->kinds[PD_DUNNO],
      (unsigned long long)st->kinds[PD_PREPEND],
      (unsigned long long)st->kinds[PD_REJECT],
      (unsigned long long)st->kinds[PD_DEFER],
      (unsigned long long)st->kinds[PD_RESULT_ONLY]);
  ADD("stats dns_cache enabled=%d hits=%llu misses=%llu coalesced=%llu "
      "entries=%llu bytes=%llu\n",
      s->cache != NULL, (unsigned long long)cc.hits,
      (unsigned long long)cc.misses, (unsigned long long)cc.coalesced,
      (unsigned long long)cc.entries, (unsigned long long)cc.bytes);
  ADD("stats latency_ms p50=%ld p90=%ld p99=%ld max=%llu\n",
      lat_pct(st, 0.50), lat_pct(st, 0.90), lat_pct(st, 0.99),
      (unsigned long long)st->lat_max);
  ADD("stats connections now=%ld peak=%ld total=%llu max=%ld\n",
      st->conns_now, st->conns_peak, (unsigned long long)st->conns_total,
      s->max_conns);
  ADD("stats memory rss_kb=%ld maxrss_kb=%ld instances=%lu\n", rss_kb(),
      (long)ru.ru_maxrss, (unsigned long)s->ninst);
  ADD("stats generation=%lu uptime_s=%ld\n", s->cur ? s->cur->id : 0UL,
      (long)(time(NULL) - s->started));
#undef ADD
}

static void stats_log(struct server *s) {
  char buf[2048], *p, *nl;
  stats_text(s, buf, sizeof buf);
  for (p = buf; *p; p = nl + 1) {
    nl = strchr(p, '\n');
    if (!nl) {
      break;
    }
    *nl = '\0';
    logmsg(s, 0, LOG_INFO, "%s", p);
  }
}

/* ======================================================================
 * Configuration generations
 * ==================================================================== */

static void gen_unref(struct gen *g) {
  int i;
  if (!g || --g->refs > 0) {
    return;
  }
  for (i = 0; i < 3; i++) {
    if (g->le[i] && mdspf_libevent_detach(g->le[i]) != MDSPF_OK) {
      mdspf_ctx_free(g->ctx[i]);
      g->ctx[i] = NULL;
      mdspf_libevent_free(g->le[i]);
    }
    mdspf_ctx_free(g->ctx[i]);
  }
  pd_config_free(g->cfg);
  free(g);
}

static int make_ctx(struct server *s, struct gen *g, int i, int seconds) {
  char host[256];
  int rc = mdspf_ctx_new(NULL, NULL, &g->ctx[i]);
  if (rc == MDSPF_OK) {
    rc = mdspf_ctx_set_resolver(g->ctx[i], s->resolver);
  }
  if (rc == MDSPF_OK) {
    rc = mdspf_ctx_set_limit(g->ctx[i], MDSPF_LIMIT_TIMEOUT_MS,
                             (long)seconds * 1000);
  }
  if (rc == MDSPF_OK) {
    rc = mdspf_ctx_set_limit(g->ctx[i], MDSPF_LIMIT_VOID_LOOKUPS,
                             g->cfg->void_limit);
  }
  if (rc == MDSPF_OK) {
    /* pyspf's explanation of a fail without exp= */
    rc = mdspf_ctx_set_default_explanation(g->ctx[i],
                                           "SPF fail - not authorized");
  }
  if (rc == MDSPF_OK && gethostname(host, sizeof host) == 0) {
    host[sizeof host - 1] = '\0';
    (void)mdspf_ctx_set_receiver(g->ctx[i], host); /* %{r}; best effort */
  }
  if (rc == MDSPF_OK) {
    rc = mdspf_libevent_attach(NULL, g->ctx[i], s->base, &g->le[i]);
  }
  return rc;
}

/* A generation from cfg (taken over, also on failure). */
static struct gen *gen_new(struct server *s, pd_config *cfg) {
  struct gen *g = calloc(1, sizeof *g);
  size_t i;
  int rc;
  if (!g) {
    pd_config_free(cfg);
    return NULL;
  }
  g->cfg = cfg;
  g->refs = 1;
  g->s = s;
  g->id = ++s->next_gen;
  rc = make_ctx(s, g, 0, cfg->lookup_time);
  if (rc == MDSPF_OK && cfg->ndomain_wl) {
    rc = make_ctx(s, g, 1, cfg->whitelist_lookup_time);
  }
  if (rc == MDSPF_OK && cfg->nhelo_wl) {
    rc = make_ctx(s, g, 2, cfg->whitelist_lookup_time);
    /* "is the client an address of the HELO name?" as an SPF question */
    for (i = 0; rc == MDSPF_OK && i < cfg->nhelo_wl; i++) {
      rc = mdspf_ctx_add_override(g->ctx[2], cfg->helo_wl[i],
                                  "v=spf1 a -all");
      if (rc == MDSPF_E_INVAL) { /* not a usable name: never matches */
        rc = MDSPF_OK;
      }
    }
  }
  if (rc != MDSPF_OK) {
    logmsg(s, 0, LOG_ERR, "error: cannot set up the SPF engine: %s",
           mdspf_strerror(rc));
    gen_unref(g);
    return NULL;
  }
  return g;
}

static pd_config *load_config(struct server *s) {
  if (!s->config_path) {
    return pd_config_defaults();
  }
  return pd_config_read(s->config_path, config_msg, s);
}

/* ======================================================================
 * Instance memory (one decision per message, as spf-engine)
 * ==================================================================== */

static size_t ihash(const char *k) {
  size_t h = 5381;
  for (; *k; k++) {
    h = h * 33 + (unsigned char)*k;
  }
  return h % INSTANCE_BUCKETS;
}

static void inst_remove(struct server *s, struct inst *e) {
  struct inst **pp = &s->ibucket[ihash(e->key)];
  while (*pp && *pp != e) {
    pp = &(*pp)->hnext;
  }
  if (*pp) {
    *pp = e->hnext;
  }
  if (e->qprev) {
    e->qprev->qnext = e->qnext;
  } else {
    s->iq_head = e->qnext;
  }
  if (e->qnext) {
    e->qnext->qprev = e->qprev;
  } else {
    s->iq_tail = e->qprev;
  }
  s->ninst--;
  free(e->key);
  free(e->text);
  free(e);
}

static void inst_expire(struct server *s) {
  time_t now = time(NULL);
  while (s->iq_head &&
         (s->iq_head->expires <= now || s->ninst > s->max_instances)) {
    inst_remove(s, s->iq_head);
  }
}

static struct inst *inst_find(struct server *s, const char *key) {
  struct inst *e;
  inst_expire(s);
  for (e = s->ibucket[ihash(key)]; e; e = e->hnext) {
    if (strcmp(e->key, key) == 0) {
      return e;
    }
  }
  return NULL;
}

static void inst_add(struct server *s, const char *key, int kind,
                     int iserror, const char *text) {
  struct inst *e;
  size_t h;
  if (s->max_instances == 0 || inst_find(s, key)) {
    return;
  }
  e = calloc(1, sizeof *e);
  if (!e) {
    return;
  }
  e->key = strdup(key);
  e->text = strdup(text);
  if (!e->key || !e->text) {
    free(e->key);
    free(e->text);
    free(e);
    return;
  }
  e->kind = kind;
  e->iserror = iserror;
  e->expires = time(NULL) + INSTANCE_TTL_S;
  h = ihash(key);
  e->hnext = s->ibucket[h];
  s->ibucket[h] = e;
  e->qprev = s->iq_tail;
  if (s->iq_tail) {
    s->iq_tail->qnext = e;
  } else {
    s->iq_head = e;
  }
  s->iq_tail = e;
  s->ninst++;
  inst_expire(s);
}

/* ======================================================================
 * Connections
 * ==================================================================== */

static void conn_run(struct conn *c);
static void server_check_done(struct server *s);

static void conn_free(struct conn *c) {
  struct server *s = c->s;
  if (c->chk) {
    mdspf_check_free(c->chk);
    c->chk = NULL;
  }
  pd_txn_free(c->txn);
  pd_request_free(c->req);
  gen_unref(c->gen);
  pd_parser_free(c->parser);
  if (c->out) {
    evbuffer_free(c->out);
  }
  if (c->rev) {
    event_free(c->rev);
  }
  if (c->wev) {
    event_free(c->wev);
  }
  if (c->idle) {
    event_free(c->idle);
  }
  if (c->kick) {
    event_free(c->kick);
  }
  if (c->rfd >= 0) {
    close(c->rfd);
  }
  if (c->wfd >= 0 && c->wfd != c->rfd) {
    close(c->wfd);
  }
  if (c->prev) {
    c->prev->next = c->next;
  } else {
    s->conns = c->next;
  }
  if (c->next) {
    c->next->prev = c->prev;
  }
  s->st.conns_now--;
  free(c);
  server_check_done(s);
}

/* Close without replying (protocol error, internal trouble). */
static void conn_drop(struct conn *c, const char *why) {
  logmsg(c->s, 0, LOG_WARNING, "warning: conn=%lu: closing without reply: %s",
         c->id, why);
  c->s->st.dropped++;
  conn_free(c);
}

static void conn_events(struct conn *c) {
  int want_read = !c->eof && !c->txn && !c->closing &&
                  evbuffer_get_length(c->out) < OUT_LOW;
  int want_write = evbuffer_get_length(c->out) > 0;
  if (want_read != c->reading) {
    if (want_read) {
      event_add(c->rev, NULL);
    } else {
      event_del(c->rev);
    }
    c->reading = want_read;
  }
  if (want_write != c->writing) {
    if (want_write) {
      event_add(c->wev, NULL);
    } else {
      event_del(c->wev);
    }
    c->writing = want_write;
  }
}

static void conn_touch(struct conn *c) {
  struct timeval tv;
  tv.tv_sec = c->s->idle_timeout_s;
  tv.tv_usec = 0;
  evtimer_add(c->idle, &tv);
}

static void on_check(mdspf_check *chk, void *user) {
  struct conn *c = user;
  pd_txn_feed(c->txn, mdspf_check_result(chk), mdspf_check_explanation(chk),
              mdspf_check_problem(chk), mdspf_check_record(chk, NULL));
  c->chk = NULL;
  mdspf_check_free(chk);
  if (!c->in_start) {
    event_active(c->kick, EV_TIMEOUT, 0);
  }
}

/* Start the check the transaction asks for.  Returns 0 when it runs or
 * has completed already, -1 on internal trouble. */
static int conn_start_check(struct conn *c, const pd_check_spec *sp) {
  int idx = sp->kind == PD_CHK_DOMAIN_WL ? 1
            : sp->kind == PD_CHK_HELO_WL  ? 2
                                          : 0;
  mdspf_ctx *ctx = c->gen->ctx[idx];
  mdspf_check *chk = NULL;
  int rc = ctx ? mdspf_check_new(ctx, &chk) : MDSPF_E_STATE;
  if (rc != MDSPF_OK) {
    return -1;
  }
  /* Values the engine refuses (a malformed address, control characters)
   * cannot match anything: the check's result is "none". */
  if (mdspf_check_set_ip(chk, sp->ip) != MDSPF_OK ||
      mdspf_check_set_sender(chk, sp->sender) != MDSPF_OK ||
      mdspf_check_set_helo(chk, sp->helo) != MDSPF_OK ||
      mdspf_check_set_identity(chk, (sp->kind == PD_CHK_HELO ||
                                     sp->kind == PD_CHK_HELO_WL)
                                      ? MDSPF_ID_HELO
                                      : MDSPF_ID_MAILFROM) != MDSPF_OK) {
    mdspf_check_free(chk);
    pd_txn_feed(c->txn, MDSPF_NONE, NULL, NULL, NULL);
    return 0;
  }
  c->chk = chk;
  c->in_start = 1;
  rc = mdspf_check_start(chk, on_check, c);
  c->in_start = 0;
  if (rc != MDSPF_OK) {
    c->chk = NULL;
    mdspf_check_free(chk);
    return -1;
  }
  return 0;
}

static void conn_reply(struct conn *c, const char *action) {
  evbuffer_add_printf(c->out, "action=%s\n\n", action);
  c->s->st.answered++;
}

static void log_decision(struct conn *c, const pd_txn *t, const char *action,
                         long ms, int cached) {
  char b1[300], b2[300], b3[300], b4[300], b5[300], qa[REPLY_MAX];
  quote_action(action, qa, sizeof qa);
  logmsg(c->s, 1, LOG_INFO,
         "decision client=%s helo=%s sender=%s identity=%s result=%s "
         "action=\"%s\" ms=%ld instance=%s queue_id=%s conn=%lu gen=%lu "
         "cached=%d",
         logval(pd_txn_client(t), "-", b1, sizeof b1),
         logval(pd_txn_helo(t), "-", b2, sizeof b2),
         logval(pd_txn_sender(t), "<>", b3, sizeof b3),
         cached ? "-" : pd_txn_identity(t), cached ? "remembered"
                                                   : pd_txn_result(t),
         qa, ms, logval(pd_txn_instance(t), "-", b4, sizeof b4),
         logval(pd_txn_queue_id(t), "-", b5, sizeof b5), c->id, c->gen->id,
         cached);
}

static int result_index(const char *r) {
  static const char *const names[] = {"",     "neutral",   "pass",
                                      "fail", "softfail",  "none",
                                      "temperror", "permerror"};
  int i;
  for (i = 1; i < 8; i++) {
    if (strcmp(r, names[i]) == 0) {
      return i;
    }
  }
  return 8;
}

/* The transaction is done: reply, log, remember, release. */
static void conn_finish(struct conn *c, int cached_kind, int cached_err,
                        const char *cached_text) {
  pd_txn *t = c->txn;
  const pd_config *cfg = c->gen->cfg;
  char action[REPLY_MAX];
  int cached = cached_text != NULL;
  int kind = cached ? cached_kind : pd_txn_kind(t);
  long ms = ms_since(&c->t0);
  if (cached) {
    /* a later recipient: the header is prepended once per message */
    pd_format_action(cfg, kind == PD_PREPEND ? PD_DUNNO : kind, cached_err,
                     cached_text, action, sizeof action);
    c->s->st.cached++;
    c->s->st.results[0]++;
  } else {
    pd_format_action(cfg, kind, pd_txn_iserror(t), pd_txn_text(t), action,
                     sizeof action);
    c->s->st.results[result_index(pd_txn_result(t))]++;
    if (pd_txn_cacheable(t) && pd_txn_instance(t)) {
      inst_add(c->s, pd_txn_instance(t), kind, pd_txn_iserror(t),
               pd_txn_text(t));
    }
  }
  conn_reply(c, action);
  if (strncmp(action, "prepend", 7) == 0) {
    c->s->st.kinds[PD_PREPEND]++;
  } else if (strncmp(action, "dunno", 5) == 0) {
    c->s->st.kinds[PD_DUNNO]++;
  } else if (strncmp(action, "550", 3) == 0) {
    c->s->st.kinds[PD_REJECT]++;
  } else if (strncmp(action, "defer", 5) == 0) {
    c->s->st.kinds[PD_DEFER]++;
  } else {
    c->s->st.kinds[PD_RESULT_ONLY]++;
  }
  lat_add(&c->s->st, ms);
  log_decision(c, t, action, ms, cached);
  pd_txn_free(t);
  c->txn = NULL;
  pd_request_free(c->req);
  c->req = NULL;
  gen_unref(c->gen);
  c->gen = NULL;
}

/* A new request: returns 0, or -1 when the connection was dropped. */
static int conn_begin(struct conn *c, pd_request *req) {
  struct server *s = c->s;
  const char *inst;
  struct inst *e;
  s->st.requests++;
  c->req = req;
  c->gen = s->cur;
  c->gen->refs++;
  clock_gettime(CLOCK_MONOTONIC, &c->t0);
  if (c->gen->cfg->mock) {
    conn_reply(c, "dunno mock header field that should be ignored");
    pd_request_free(req);
    c->req = NULL;
    gen_unref(c->gen);
    c->gen = NULL;
    return 0;
  }
  c->txn = pd_txn_new(c->gen->cfg, req);
  if (!c->txn) {
    conn_drop(c, "out of memory");
    return -1;
  }
  inst = pd_txn_instance(c->txn);
  if (inst && (e = inst_find(s, inst)) != NULL) {
    conn_finish(c, e->kind, e->iserror, e->text);
  }
  return 0;
}

static void conn_run(struct conn *c) {
  for (;;) {
    if (c->txn) {
      pd_check_spec spec;
      if (c->chk) {
        break; /* a check is running: its callback kicks us */
      }
      if (pd_txn_step(c->txn, &spec) == PD_STEP_DONE) {
        conn_finish(c, 0, 0, NULL);
        continue;
      }
      if (conn_start_check(c, &spec) != 0) {
        conn_drop(c, "cannot start an SPF check");
        return;
      }
      continue;
    }
    if (c->closing || evbuffer_get_length(c->out) >= OUT_LOW) {
      break;
    }
    {
      pd_request *req = NULL;
      int rc = pd_parser_next(c->parser, &req);
      if (rc == PD_REQUEST) {
        if (conn_begin(c, req) != 0) {
          return;
        }
        continue;
      }
      if (rc != PD_NEED_MORE) {
        conn_drop(c, pd_parser_strerror(rc));
        return;
      }
      break;
    }
  }
  if (c->eof && !c->txn && !c->closing) {
    if (pd_parser_pending(c->parser) > 0) {
      conn_drop(c, "connection closed in the middle of a request");
      return;
    }
    c->closing = 1;
  }
  /* Write at once what we can (saves a loop round; and stdout may be a
   * file, which no poller watches). */
  if (evbuffer_get_length(c->out) > 0) {
    if (evbuffer_write(c->out, c->wfd) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK && errno != EINTR) {
      evbuffer_drain(c->out, evbuffer_get_length(c->out));
      c->eof = 1;
      c->closing = 1;
    }
  }
  if (c->closing && !c->txn && evbuffer_get_length(c->out) == 0) {
    conn_free(c);
    return;
  }
  conn_events(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  conn_run(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
  struct conn *c = arg;
  size_t room;
  char *p;
  ssize_t n;
  (void)what;
  p = pd_parser_space(c->parser, &room);
  if (!p) {
    conn_drop(c, "out of memory");
    return;
  }
  if (room == 0) {
    conn_run(c); /* the parser reports the oversized request */
    return;
  }
  n = read((int)fd, p, room);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return;
    }
    c->eof = 1;
    pd_parser_commit(c->parser, 0);
  } else if (n == 0) {
    c->eof = 1;
  } else {
    pd_parser_commit(c->parser, (size_t)n);
    conn_touch(c);
  }
  conn_run(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
  struct conn *c = arg;
  int n;
  (void)what;
  n = evbuffer_write(c->out, fd);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return;
    }
    logmsg(c->s, 2, LOG_INFO, "conn=%lu: write failed: %s", c->id,
           strerror(errno));
    evbuffer_drain(c->out, evbuffer_get_length(c->out));
    c->eof = 1;
    c->closing = 1;
  } else if (n > 0) {
    conn_touch(c);
  }
  conn_run(c);
}

static void on_idle(evutil_socket_t fd, short what, void *arg) {
  struct conn *c = arg;
  (void)fd;
  (void)what;
  if (c->txn) { /* a check is running: it has a budget of its own */
    conn_touch(c);
    return;
  }
  c->s->st.idle_closed++;
  logmsg(c->s, 2, LOG_INFO, "conn=%lu: idle timeout", c->id);
  conn_free(c);
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static struct conn *conn_new(struct server *s, int rfd, int wfd) {
  struct conn *c = calloc(1, sizeof *c);
  if (!c) {
    return NULL;
  }
  c->s = s;
  c->rfd = rfd;
  c->wfd = wfd;
  c->id = ++s->next_conn;
  (void)set_nonblock(rfd);
  (void)set_nonblock(wfd);
  c->parser = pd_parser_new();
  c->out = evbuffer_new();
  c->rev = event_new(s->base, rfd, EV_READ | EV_PERSIST, on_read, c);
  c->wev = event_new(s->base, wfd, EV_WRITE | EV_PERSIST, on_write, c);
  c->idle = evtimer_new(s->base, on_idle, c);
  c->kick = event_new(s->base, -1, 0, on_kick, c);
  c->next = s->conns;
  if (s->conns) {
    s->conns->prev = c;
  }
  s->conns = c;
  s->st.conns_now++;
  s->st.conns_total++;
  if (s->st.conns_now > s->st.conns_peak) {
    s->st.conns_peak = s->st.conns_now;
  }
  if (!c->parser || !c->out || !c->rev || !c->wev || !c->idle || !c->kick) {
    c->rfd = c->wfd = -1; /* the caller closes them */
    conn_free(c);
    return NULL;
  }
  conn_touch(c);
  conn_events(c);
  return c;
}

/* ======================================================================
 * Listeners
 * ==================================================================== */

static void on_accept(evutil_socket_t fd, short what, void *arg) {
  struct listener *l = arg;
  struct server *s = l->s;
  int cfd;
  (void)what;
  cfd = accept((int)fd, NULL, NULL);
  if (cfd < 0) {
    return;
  }
  (void)fcntl(cfd, F_SETFD, FD_CLOEXEC);
  if (l->status) {
    char buf[2048];
    ssize_t w;
    stats_text(s, buf, sizeof buf);
    w = write(cfd, buf, strlen(buf)); /* small: fits a socket buffer */
    (void)w;
    close(cfd);
    return;
  }
  if (s->stopping) {
    close(cfd);
    return;
  }
  if (s->st.conns_now >= s->max_conns) {
    s->st.refused++;
    logmsg(s, 0, LOG_WARNING,
           "warning: %ld connections open (--max-connections): closing a "
           "new one",
           s->st.conns_now);
    close(cfd);
    return;
  }
  if (!conn_new(s, cfd, cfd)) {
    logmsg(s, 0, LOG_ERR, "error: out of memory for a new connection");
    close(cfd);
  }
}

static int listen_on(struct server *s, const char *spec, int status) {
  struct listener *l;
  int fd = -1, one = 1;
  if (s->nlisteners == MAX_LISTEN) {
    fprintf(stderr, PROG ": too many --listen/--status sockets\n");
    return -1;
  }
  l = &s->listeners[s->nlisteners];
  memset(l, 0, sizeof *l);
  l->s = s;
  l->status = status;
  if (strncmp(spec, "unix:", 5) == 0) {
    struct sockaddr_un sun;
    struct stat sb;
    const char *path = spec + 5;
    if (!*path || strlen(path) >= sizeof sun.sun_path) {
      fprintf(stderr, PROG ": %s: bad socket path\n", spec);
      return -1;
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
      (void)unlink(path); /* a stale socket of an earlier run */
    }
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
      fprintf(stderr, PROG ": %s: %s\n", spec, strerror(errno));
      if (fd >= 0) {
        close(fd);
      }
      return -1;
    }
    (void)chmod(path, (mode_t)(status ? 0600 : s->socket_mode));
    l->unix_path = strdup(path);
  } else if (strncmp(spec, "inet:", 5) == 0) {
    char host[256];
    const char *h = spec + 5, *colon = strrchr(h, ':');
    struct sockaddr_storage ss;
    socklen_t sl;
    char *end;
    long port;
    size_t hl;
    if (!colon) {
      fprintf(stderr, PROG ": %s: want inet:ADDRESS:PORT\n", spec);
      return -1;
    }
    hl = (size_t)(colon - h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
      h++;
      hl -= 2;
    }
    port = strtol(colon + 1, &end, 10);
    if (hl == 0 || hl >= sizeof host || *end || colon[1] == '\0' ||
        port < 0 || port > 65535) {
      fprintf(stderr, PROG ": %s: want inet:ADDRESS:PORT\n", spec);
      return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) ==
        1) {
      struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
      sin->sin_family = AF_INET;
      sin->sin_port = htons((uint16_t)port);
      sl = sizeof *sin;
    } else if (inet_pton(AF_INET6, host,
                         &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons((uint16_t)port);
      sl = sizeof *sin6;
    } else {
      fprintf(stderr, PROG ": %s: not a numeric address\n", spec);
      return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd >= 0) {
      (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0) {
      fprintf(stderr, PROG ": %s: %s\n", spec, strerror(errno));
      if (fd >= 0) {
        close(fd);
      }
      return -1;
    }
  } else {
    fprintf(stderr, PROG ": %s: want unix:PATH or inet:ADDRESS:PORT\n", spec);
    return -1;
  }
  (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (listen(fd, 512) != 0 || set_nonblock(fd) != 0) {
    fprintf(stderr, PROG ": %s: %s\n", spec, strerror(errno));
    close(fd);
    return -1;
  }
  l->fd = fd;
  s->nlisteners++;
  return 0;
}

static void close_listeners(struct server *s, int status_too) {
  int i;
  for (i = 0; i < s->nlisteners; i++) {
    struct listener *l = &s->listeners[i];
    if (l->fd < 0 || (l->status && !status_too)) {
      continue;
    }
    if (l->ev) {
      event_free(l->ev);
      l->ev = NULL;
    }
    close(l->fd);
    l->fd = -1;
    if (l->unix_path) {
      (void)unlink(l->unix_path);
      free(l->unix_path);
      l->unix_path = NULL;
    }
  }
}

/* ======================================================================
 * Signals and shutdown
 * ==================================================================== */

static void server_check_done(struct server *s) {
  if ((s->stopping || s->spawn) && !s->conns) {
    event_base_loopexit(s->base, NULL);
  }
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg) {
  struct server *s = arg;
  (void)fd;
  (void)what;
  if (s->conns) {
    logmsg(s, 0, LOG_WARNING,
           "warning: stop timeout: closing %ld connections with requests "
           "in flight",
           s->st.conns_now);
  }
  while (s->conns) {
    conn_free(s->conns);
  }
  event_base_loopexit(s->base, NULL);
}

static void on_term(evutil_socket_t fd, short what, void *arg) {
  struct server *s = arg;
  struct conn *c, *next;
  struct timeval tv;
  (void)what;
  if (s->stopping) {
    return;
  }
  s->stopping = 1;
  logmsg(s, 0, LOG_INFO, "stopping (signal %d): %ld connections open",
         (int)fd, s->st.conns_now);
  close_listeners(s, 0);
  tv.tv_sec = s->stop_timeout_ms / 1000;
  tv.tv_usec = (s->stop_timeout_ms % 1000) * 1000;
  s->stop_timer = evtimer_new(s->base, on_stop_timer, s);
  if (s->stop_timer) {
    evtimer_add(s->stop_timer, &tv);
  }
  /* Connections finish the request they are on, then close. */
  for (c = s->conns; c; c = next) {
    next = c->next;
    c->closing = 1;
    if (!c->txn) {
      evbuffer_drain(c->out, 0);
      conn_run(c);
    }
  }
  server_check_done(s);
}

static void on_hup(evutil_socket_t fd, short what, void *arg) {
  struct server *s = arg;
  pd_config *cfg;
  struct gen *g, *old;
  (void)fd;
  (void)what;
  if (!s->config_path) {
    logmsg(s, 0, LOG_INFO, "reload: no configuration file (built-in "
                           "defaults); nothing to reload");
    return;
  }
  cfg = load_config(s);
  if (!cfg) {
    logmsg(s, 0, LOG_ERR,
           "error: reload refused: %s has errors; generation %lu stays",
           s->config_path, s->cur->id);
    return;
  }
  g = gen_new(s, cfg);
  if (!g) {
    logmsg(s, 0, LOG_ERR, "error: reload failed; generation %lu stays",
           s->cur->id);
    return;
  }
  old = s->cur;
  s->cur = g;
  logmsg(s, 0, LOG_INFO,
         "reloaded %s: generation %lu (generation %lu ends with its last "
         "request)",
         s->config_path, g->id, old->id);
  gen_unref(old);
}

static void on_usr1(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  stats_log(arg);
}

/* ======================================================================
 * Main
 * ==================================================================== */

static void usage(FILE *out) {
  fprintf(out,
    "usage: " PROG " [options]\n"
    "\n"
    "Without --listen: Postfix spawn mode, one connection on stdin/stdout.\n"
    "\n"
    "  -c, --config FILE       spf-engine configuration (policyd-spf.conf);\n"
    "                          default " DEFAULT_CONFIG "\n"
    "                          if it exists, else built-in defaults\n"
    "      --no-config         built-in defaults, read no file\n"
    "      --check-config      read the configuration, report, exit\n"
    "  -l, --listen SOCKET     unix:PATH or inet:ADDRESS:PORT (repeatable):\n"
    "                          run as a standalone daemon\n"
    "      --status unix:PATH  socket that answers with the statistics\n"
    "      --max-connections N connections at once [%d]; more are closed\n"
    "      --stop-timeout MS   on SIGTERM, time for requests in flight [%d]\n"
    "      --idle-timeout S    close a connection idle this long [%d]\n"
    "      --socket-mode OCTAL permissions of unix:PATH sockets [0666]\n"
    "      --instances N       messages remembered (one header each) [%d]\n"
    "      --log syslog|stderr where to log [syslog]\n"
    "      --pidfile FILE      write the process id there\n"
    "      --server ADDR[:PORT] DNS server to ask (repeatable);\n"
    "                          default: /etc/resolv.conf\n"
    "      --zone FILE         answer DNS from a master file (repeatable)\n"
    "      --zone-delay MS     hold --zone answers up to MS (tests)\n"
    "      --no-cache          no shared DNS cache\n"
    "  -h, --help, -V, --version\n",
    DEFAULT_MAX_CONNECTIONS, DEFAULT_STOP_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_INSTANCES);
}

static int parse_num(const char *s, long lo, long hi, long *out) {
  char *end;
  long v;
  if (!s || !*s || *s == '-' || *s == '+') {
    return -1;
  }
  errno = 0;
  v = strtol(s, &end, 10);
  if (*end || errno || v < lo || v > hi) {
    return -1;
  }
  *out = v;
  return 0;
}

/* --zone-delay: answers wait up to that long, as if DNS were slow. */
static void on_zone_timer(evutil_socket_t fd, short what, void *arg) {
  struct server *s = arg;
  (void)fd;
  (void)what;
  if (mdspf_zone_pending(s->zone) > 0) {
    (void)mdspf_zone_process(s->zone, (size_t)-1);
  }
}

static int setup_dns(struct server *s, const char *servers,
                     char **zones, int nzones, int no_cache) {
  int rc, i;
  if (nzones > 0) {
    char err[512];
    rc = mdspf_zone_new(NULL, NULL, &s->zone);
    for (i = 0; rc == MDSPF_OK && i < nzones; i++) {
      rc = mdspf_zone_load_file(s->zone, zones[i], NULL, err, sizeof err);
      if (rc != MDSPF_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
      }
    }
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": %s\n", mdspf_strerror(rc));
      return -1;
    }
    s->resolver = mdspf_zone_resolver(s->zone);
    if (s->zone_delay_ms > 0) {
      struct timeval tv;
      tv.tv_sec = s->zone_delay_ms / 1000;
      tv.tv_usec = (s->zone_delay_ms % 1000) * 1000;
      (void)mdspf_zone_set_delivery(s->zone, MDSPF_ZONE_DEFERRED_FIFO);
      s->zone_timer =
        event_new(s->base, -1, EV_PERSIST, on_zone_timer, s);
      if (!s->zone_timer || evtimer_add(s->zone_timer, &tv) != 0) {
        fprintf(stderr, PROG ": cannot arm the zone timer\n");
        return -1;
      }
    }
  } else {
    mdspf_cares_options opt;
    mdspf_cares_options_init(&opt);
    opt.servers = servers;
    rc = mdspf_cares_new(&opt, &s->cares);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": DNS setup failed: %s\n", mdspf_strerror(rc));
      return -1;
    }
    rc = mdspf_libevent_attach(s->cares, NULL, s->base, &s->le_cares);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": DNS setup failed: %s\n", mdspf_strerror(rc));
      return -1;
    }
    s->resolver = mdspf_cares_resolver(s->cares);
  }
  if (!no_cache) {
    rc = mdspf_cache_new(s->resolver, NULL, &s->cache);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": cache setup failed: %s\n", mdspf_strerror(rc));
      return -1;
    }
    s->resolver = mdspf_cache_resolver(s->cache);
  }
  return 0;
}

static void teardown(struct server *s) {
  int i;
  while (s->conns) {
    conn_free(s->conns);
  }
  gen_unref(s->cur);
  s->cur = NULL;
  mdspf_cache_free(s->cache);
  if (s->le_cares && mdspf_libevent_detach(s->le_cares) == MDSPF_OK) {
    s->le_cares = NULL;
  }
  mdspf_cares_free(s->cares);
  mdspf_libevent_free(s->le_cares);
  mdspf_zone_free(s->zone);
  if (s->zone_timer) {
    event_free(s->zone_timer);
  }
  close_listeners(s, 1);
  while (s->iq_head) {
    inst_remove(s, s->iq_head);
  }
  if (s->sig_hup) {
    event_free(s->sig_hup);
  }
  if (s->sig_term) {
    event_free(s->sig_term);
  }
  if (s->sig_int) {
    event_free(s->sig_int);
  }
  if (s->sig_usr1) {
    event_free(s->sig_usr1);
  }
  if (s->stop_timer) {
    event_free(s->stop_timer);
  }
  for (i = 0; i < s->nlisteners; i++) {
    free(s->listeners[i].unix_path);
  }
  if (s->base) {
    event_base_free(s->base);
  }
  if (s->pidfile) {
    (void)unlink(s->pidfile);
  }
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"no-config", no_argument, NULL, 'N'},
    {"check-config", no_argument, NULL, 'C'},
    {"listen", required_argument, NULL, 'l'},
    {"status", required_argument, NULL, 'S'},
    {"max-connections", required_argument, NULL, 'm'},
    {"stop-timeout", required_argument, NULL, 'T'},
    {"idle-timeout", required_argument, NULL, 'I'},
    {"socket-mode", required_argument, NULL, 'M'},
    {"instances", required_argument, NULL, 'i'},
    {"log", required_argument, NULL, 'L'},
    {"pidfile", required_argument, NULL, 'p'},
    {"server", required_argument, NULL, 's'},
    {"zone", required_argument, NULL, 'z'},
    {"no-cache", no_argument, NULL, 'n'},
    {"zone-delay", required_argument, NULL, 'D'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};
  struct server srv, *s = &srv;
  char *listens[MAX_LISTEN], *statuses[MAX_LISTEN], *zones[64];
  int nlisten = 0, nstatus = 0, nzones = 0, opt, i, no_config = 0;
  int check_only = 0, no_cache = 0, log_set = 0;
  char servers[MAX_SERVERS] = "";
  pd_config *cfg;
  long v;

  memset(s, 0, sizeof *s);
  s->max_conns = DEFAULT_MAX_CONNECTIONS;
  s->stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS;
  s->idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S;
  s->max_instances = DEFAULT_INSTANCES;
  s->socket_mode = 0666;
  s->started = time(NULL);
  for (i = 0; i < MAX_LISTEN; i++) {
    s->listeners[i].fd = -1;
  }

  while ((opt = getopt_long(argc, argv, "c:l:hV", longopts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      s->config_path = optarg;
      break;
    case 'N':
      no_config = 1;
      break;
    case 'C':
      check_only = 1;
      break;
    case 'l':
    case 'S':
      if (nlisten + nstatus >= MAX_LISTEN) {
        fprintf(stderr, PROG ": too many sockets\n");
        return EXIT_USAGE;
      }
      if (opt == 'l') {
        listens[nlisten++] = optarg;
      } else {
        statuses[nstatus++] = optarg;
      }
      break;
    case 'm':
      if (parse_num(optarg, 1, 1000000, &s->max_conns) != 0) {
        fprintf(stderr, PROG ": bad --max-connections\n");
        return EXIT_USAGE;
      }
      break;
    case 'T':
      if (parse_num(optarg, 0, 3600000, &s->stop_timeout_ms) != 0) {
        fprintf(stderr, PROG ": bad --stop-timeout\n");
        return EXIT_USAGE;
      }
      break;
    case 'I':
      if (parse_num(optarg, 1, 86400 * 7, &s->idle_timeout_s) != 0) {
        fprintf(stderr, PROG ": bad --idle-timeout\n");
        return EXIT_USAGE;
      }
      break;
    case 'M':
      v = strtol(optarg, NULL, 8);
      if (v < 0 || v > 0777) {
        fprintf(stderr, PROG ": bad --socket-mode\n");
        return EXIT_USAGE;
      }
      s->socket_mode = (int)v;
      break;
    case 'i':
      if (parse_num(optarg, 0, 10000000, &v) != 0) {
        fprintf(stderr, PROG ": bad --instances\n");
        return EXIT_USAGE;
      }
      s->max_instances = (size_t)v;
      break;
    case 'L':
      if (strcmp(optarg, "stderr") == 0) {
        s->log_stderr = 1;
      } else if (strcmp(optarg, "syslog") == 0) {
        s->log_stderr = 0;
      } else {
        fprintf(stderr, PROG ": --log wants syslog or stderr\n");
        return EXIT_USAGE;
      }
      log_set = 1;
      break;
    case 'p':
      s->pidfile = optarg;
      break;
    case 's':
      if (strlen(servers) + strlen(optarg) + 2 > sizeof servers) {
        fprintf(stderr, PROG ": too many --server values\n");
        return EXIT_USAGE;
      }
      if (servers[0]) {
        strcat(servers, ",");
      }
      strcat(servers, optarg);
      break;
    case 'z':
      if (nzones == 64) {
        fprintf(stderr, PROG ": too many --zone files\n");
        return EXIT_USAGE;
      }
      zones[nzones++] = optarg;
      break;
    case 'n':
      no_cache = 1;
      break;
    case 'D':
      if (parse_num(optarg, 1, 600000, &s->zone_delay_ms) != 0) {
        fprintf(stderr, PROG ": bad --zone-delay\n");
        return EXIT_USAGE;
      }
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf(PROG " (libmaildrop-spf %s)\n", mdspf_version_str());
      return 0;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, PROG ": unexpected argument: %s\n", argv[optind]);
    usage(stderr);
    return EXIT_USAGE;
  }
  if (nzones && servers[0]) {
    fprintf(stderr, PROG ": --zone and --server exclude each other\n");
    return EXIT_USAGE;
  }
  s->spawn = nlisten == 0;
  (void)log_set;
  if (check_only) {
    s->log_stderr = 1;
  }
  if (!s->log_stderr) {
    openlog(PROG, LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
  if (no_config) {
    s->config_path = NULL;
  } else if (!s->config_path && access(DEFAULT_CONFIG, F_OK) == 0) {
    s->config_path = DEFAULT_CONFIG;
  }
  cfg = load_config(s);
  if (!cfg) {
    if (!s->log_stderr) {
      fprintf(stderr, PROG ": configuration errors (see the log)\n");
    }
    fprintf(stderr, PROG ": %s: configuration has errors\n",
            s->config_path ? s->config_path : "(built-in)");
    return 1;
  }
  if (check_only) {
    printf("%s: ok (HELO_reject=%s Mail_From_reject=%s)\n",
           s->config_path ? s->config_path : "built-in defaults",
           pd_reject_str(cfg->helo_reject),
           pd_reject_str(cfg->mail_from_reject));
    pd_config_free(cfg);
    return 0;
  }

  (void)signal(SIGPIPE, SIG_IGN);
  {
    /* Spawn mode: stdin/stdout may be files (tests, manual runs), which
     * epoll refuses; poll(2) takes them. */
    struct event_config *ec = event_config_new();
    if (ec && s->spawn) {
      (void)event_config_avoid_method(ec, "epoll");
    }
    s->base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec) {
      event_config_free(ec);
    }
  }
  if (!s->base) {
    fprintf(stderr, PROG ": cannot create the event loop\n");
    pd_config_free(cfg);
    return 1;
  }
  if (setup_dns(s, servers[0] ? servers : NULL, zones, nzones, no_cache) !=
      0) {
    pd_config_free(cfg);
    teardown(s);
    return 1;
  }
  s->cur = gen_new(s, cfg);
  if (!s->cur) {
    teardown(s);
    return 1;
  }
  for (i = 0; i < nlisten; i++) {
    if (listen_on(s, listens[i], 0) != 0) {
      teardown(s);
      return 1;
    }
  }
  for (i = 0; i < nstatus; i++) {
    if (strncmp(statuses[i], "unix:", 5) != 0 ||
        listen_on(s, statuses[i], 1) != 0) {
      if (strncmp(statuses[i], "unix:", 5) != 0) {
        fprintf(stderr, PROG ": --status wants unix:PATH\n");
      }
      teardown(s);
      return 1;
    }
  }
  for (i = 0; i < s->nlisteners; i++) {
    struct listener *l = &s->listeners[i];
    l->ev = event_new(s->base, l->fd, EV_READ | EV_PERSIST, on_accept, l);
    if (!l->ev || event_add(l->ev, NULL) != 0) {
      fprintf(stderr, PROG ": cannot watch a socket\n");
      teardown(s);
      return 1;
    }
  }
  s->sig_hup = evsignal_new(s->base, SIGHUP, on_hup, s);
  s->sig_term = evsignal_new(s->base, SIGTERM, on_term, s);
  s->sig_int = evsignal_new(s->base, SIGINT, on_term, s);
  s->sig_usr1 = evsignal_new(s->base, SIGUSR1, on_usr1, s);
  if (!s->sig_hup || !s->sig_term || !s->sig_int || !s->sig_usr1 ||
      evsignal_add(s->sig_hup, NULL) != 0 ||
      evsignal_add(s->sig_term, NULL) != 0 ||
      evsignal_add(s->sig_int, NULL) != 0 ||
      evsignal_add(s->sig_usr1, NULL) != 0) {
    fprintf(stderr, PROG ": cannot install signal handlers\n");
    teardown(s);
    return 1;
  }
  if (s->pidfile) {
    FILE *f = fopen(s->pidfile, "w");
    if (!f) {
      fprintf(stderr, PROG ": %s: %s\n", s->pidfile, strerror(errno));
      s->pidfile = NULL;
      teardown(s);
      return 1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
  }
  if (s->spawn) {
    if (!conn_new(s, 0, 1)) {
      fprintf(stderr, PROG ": out of memory\n");
      teardown(s);
      return 1;
    }
  }
  logmsg(s, s->spawn ? 3 : 0, LOG_INFO,
         "started (%s mode, %s, %s, DNS cache %s, generation %lu)",
         s->spawn ? "spawn" : "daemon",
         s->config_path ? s->config_path : "built-in defaults",
         nzones ? "zone files" : (servers[0] ? servers : "system resolver"),
         s->cache ? "on" : "off", s->cur->id);
  if (event_base_dispatch(s->base) < 0) {
    s->exit_code = 1;
  }
  logmsg(s, s->spawn ? 3 : 0, LOG_INFO, "stopped");
  teardown(s);
  if (!s->log_stderr) {
    closelog();
  }
  return s->exit_code;
}

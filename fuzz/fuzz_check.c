/*
 * fuzz/fuzz_check.c -- a whole check_host() evaluation over a fuzzed zone:
 * records, includes, redirects, mx, ptr, exists, macros, exp, limits,
 * local policy, best guess, overrides, DNS faults, answer delivery order
 * and out-of-memory.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Input layout:
 *   byte 0  bits 0-1 extra runs with deferred delivery: 0 none, 1 FIFO,
 *           2 LIFO, 3 both; bit 2 check the HELO identity; bit 3 zone
 *           flag MDSPF_ZONE_LAX; bit 4 one more run with an allocation
 *           failure; bit 5 trace hook; bit 6 the failure run uses deferred
 *           FIFO delivery; bit 7 the failure run fails every allocation
 *           from the chosen one on (else only that one)
 *   byte 1  limit DNS terms (0: default, else 1 + (b - 1) % 100)
 *   byte 2  limit void lookups (255: default, else b % 101)
 *   byte 3  limit MX names (0: default, else 1 + (b - 1) % 100)
 *   byte 4  limit PTR names (same)
 *   byte 5  which allocation (counted after setup) fails in the failure run
 *   then '\n'-separated text lines: client IP, sender, HELO, local policy,
 *   best guess, receiver, default explanation; the rest is a master file
 *   (origin example.com.) in which lines starting with '!' are directives
 *   for this harness:
 *     !timeout NAME [TYPE]   !servfail NAME [TYPE]   !hang NAME [TYPE]
 *     !override NAME RECORD  !fallback NAME RECORD
 *   (TYPE: A AAAA MX TXT PTR CNAME or a number; none = every type).
 *
 * Invariants: mdspf_check_run returns MDSPF_OK; the outcome is consistent
 * (valid result, reason and source; an explanation exactly for fail; a
 * matched mechanism only for a match result; no source for none and the
 * errors; a syntax error only with permerror, inside the record's length;
 * dns_terms <= limit + 1; the zone received exactly mdspf_check_queries
 * + mdspf_check_wasted queries, and none was looked up ahead with
 * lookahead off; no time-out unless a query hangs) -- also when an
 * allocation fails; deferred delivery, FIFO or LIFO, gives exactly the
 * inline outcome, counters included; in every delivery mode lookahead
 * on (the default) and off (MDSPF_LIMIT_LOOKAHEAD 0) give the same
 * outcome, counters and trace included; after the check is freed nothing is left
 * queued in the zone; no allocation is leaked and every free passes the
 * exact size; the Received-SPF and Authentication-Results lines are
 * printable ASCII only, whatever the sender, HELO, records or host name.
 *
 * Every input (without a hang fault) also runs through a DNS cache
 * (mdspf_cache) over the zone, whose text then starts with "$TTL 300"
 * so that answers can be kept: the check gives exactly the inline
 * outcome with at most as many zone queries, a second check through the
 * warm cache gives it again, and the cache's hits, misses and coalesced
 * lookups add up to the checks' queries.  The failure run goes through
 * a cache too when the failing allocation's number is odd.
 */
#include "fuzz_common.h"

#include <maildrop-spf/spf.h>

#include <time.h>

#define ORIGIN "example.com."
#define NOHANG_TIMEOUT_MS 5000
#define HANG_TIMEOUT_MS 10
#define HANG_RETRY_MS 300

typedef struct spec {
  unsigned flags;
  long limit[5]; /* index MDSPF_LIMIT_* - 1; -1: default */
  unsigned fail_at;
  char *ip, *sender, *helo, *local, *guess, *receiver, *defexp;
  char *zone; /* directives blanked out */
  size_t zone_len;
  char *directives; /* the '!' lines, NUL-separated, without the '!' */
  size_t directives_len;
  int has_hang;
} spec;

typedef struct outcome {
  int ok; /* the run happened (check created, inputs set) */
  int run_rc;
  int result, reason, source, identity;
  char *problem, *explanation, *mechanism, *domain;
  char *record; /* may hold NUL bytes: record_len octets (+ NUL) */
  size_t record_len;
  char *client_ip, *identity_domain;
  int syn_rc, syn_code;
  size_t syn_off, syn_len;
  unsigned dns_terms, voids, queries, prefetched, wasted;
  unsigned long zone_queries;
  unsigned long events, results;
  uint64_t trace_hash; /* of every event's whole line, in order */
  char *received_spf; /* the header with the context's receiver */
} outcome;

typedef struct tracer {
  const mdspf_check *chk;
  long dns_limit;
  unsigned long events, results;
  size_t bufsz;
  uint64_t hash;
} tracer;

/* FNV-1a over the bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  size_t i;
  for (i = 0; i < n; i++) {
    h = (h ^ s[i]) * 1099511628211u;
  }
  return h;
}

static char *dup_or_null(const char *s) {
  return s ? fuzz_strndup(s, strlen(s)) : NULL;
}

static int same_str(const char *a, const char *b) {
  if (!a || !b) {
    return a == b;
  }
  return strcmp(a, b) == 0;
}

static void outcome_free(outcome *o) {
  free(o->problem);
  free(o->explanation);
  free(o->mechanism);
  free(o->domain);
  free(o->record);
  free(o->client_ip);
  free(o->identity_domain);
  free(o->received_spf);
  memset(o, 0, sizeof *o);
}

static void on_event(void *ud, const mdspf_event *ev) {
  tracer *t = ud;
  char *buf = malloc(t->bufsz);
  size_t need = 0;
  int type = mdspf_event_type(ev), rc;
  FUZZ_CHECK(buf != NULL);
  t->events++;
  FUZZ_CHECK(mdspf_event_check(ev) == t->chk);
  FUZZ_CHECK(type >= MDSPF_EV_RECORD && type <= MDSPF_EV_RESULT);
  FUZZ_CHECK(mdspf_event_depth(ev) >= 0);
  FUZZ_CHECK(mdspf_event_text(ev) != NULL);
  FUZZ_CHECK(mdspf_event_dns_terms(ev) <= (unsigned long)t->dns_limit + 1);
  (void)mdspf_event_domain(ev);
  (void)mdspf_event_result(ev);
  (void)mdspf_event_rrtype(ev);
  (void)mdspf_event_dns_status(ev);
  (void)mdspf_event_count(ev);
  (void)mdspf_event_void_lookups(ev);
  if (type == MDSPF_EV_RESULT) {
    int r = mdspf_event_result(ev);
    t->results++;
    FUZZ_CHECK(r >= MDSPF_NEUTRAL && r <= MDSPF_PERMERROR);
  }
  rc = mdspf_event_format(ev, buf, t->bufsz, &need);
  FUZZ_CHECK(memchr(buf, '\0', t->bufsz) != NULL);
  FUZZ_CHECK(rc == (need < t->bufsz ? MDSPF_OK : MDSPF_E_BUFFER));
  FUZZ_CHECK(strlen(buf) == (need < t->bufsz ? need : t->bufsz - 1));
  free(buf);
  /* the whole line, for comparing runs */
  buf = malloc(need + 1);
  FUZZ_CHECK(buf != NULL);
  FUZZ_CHECK(mdspf_event_format(ev, buf, need + 1, NULL) == MDSPF_OK);
  t->hash = fnv(t->hash, buf, need + 1);
  free(buf);
}

typedef int (*header_fn)(const mdspf_check *chk, const char *host, char *buf,
                         size_t bufsz, size_t *needed);

/* One header line: printable ASCII only (no CR, LF or other control can
 * be smuggled in by the sender, HELO, records or host name), the right
 * field name, exact *needed, and a NUL-terminated prefix on overflow.
 * Returns the line (heap). */
static char *header(const mdspf_check *chk, header_fn fn, const char *host,
                    const char *field, size_t shortsz) {
  size_t need = 0, need2 = 0, i, fl = strlen(field);
  char *buf, *part;
  int rc = fn(chk, host, NULL, 0, &need);
  FUZZ_CHECK(rc == MDSPF_E_BUFFER);
  buf = malloc(need + 1);
  FUZZ_CHECK(buf != NULL);
  FUZZ_CHECK(fn(chk, host, buf, need + 1, &need2) == MDSPF_OK);
  FUZZ_CHECK(need2 == need && strlen(buf) == need);
  FUZZ_CHECK(need > fl && memcmp(buf, field, fl) == 0);
  for (i = 0; i < need; i++) {
    FUZZ_CHECK(buf[i] >= 0x20 && buf[i] <= 0x7e);
  }
  part = malloc(shortsz);
  FUZZ_CHECK(part != NULL);
  rc = fn(chk, host, part, shortsz, &need2);
  FUZZ_CHECK(need2 == need);
  FUZZ_CHECK(rc == (need < shortsz ? MDSPF_OK : MDSPF_E_BUFFER));
  FUZZ_CHECK(strnlen(part, shortsz) < shortsz);
  FUZZ_CHECK(strncmp(part, buf, shortsz - 1) == 0);
  free(part);
  return buf;
}

static int type_of(const char *s, size_t n) {
  static const struct {
    const char *name;
    int type;
  } T[] = {{"A", MDSPF_RR_A},     {"AAAA", MDSPF_RR_AAAA},
           {"MX", MDSPF_RR_MX},   {"TXT", MDSPF_RR_TXT},
           {"PTR", MDSPF_RR_PTR}, {"CNAME", MDSPF_RR_CNAME}};
  size_t i;
  int v = 0;
  for (i = 0; i < sizeof T / sizeof T[0]; i++) {
    if (strlen(T[i].name) == n && strncmp(T[i].name, s, n) == 0) {
      return T[i].type;
    }
  }
  for (i = 0; i < n && i < 5; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return 0;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Split "WORD REST" of a directive; the word is NUL-terminated in place. */
static char *split_word(char *s, char **rest) {
  char *sp = strchr(s, ' ');
  if (sp) {
    *sp = '\0';
    *rest = sp + 1;
  } else {
    *rest = s + strlen(s);
  }
  return s;
}

/* Apply the directives to a zone and a context. */
static void apply_directives(const spec *sp, mdspf_zone *z, mdspf_ctx *ctx) {
  const char *d = sp->directives;
  const char *end = sp->directives + sp->directives_len;
  while (d < end) {
    size_t n = strlen(d);
    char *line = fuzz_strndup(d, n), *rest, *cmd, *name, *tail;
    cmd = split_word(line, &rest);
    name = split_word(rest, &tail);
    if (strcmp(cmd, "timeout") == 0 || strcmp(cmd, "servfail") == 0 ||
        strcmp(cmd, "hang") == 0) {
      int fault = cmd[0] == 't'   ? MDSPF_ZONE_TIMEOUT
                  : cmd[0] == 's' ? MDSPF_ZONE_SERVFAIL
                                  : MDSPF_ZONE_HANG;
      (void)mdspf_zone_set_fault(z, name, type_of(tail, strlen(tail)), fault);
    } else if (strcmp(cmd, "override") == 0) {
      (void)mdspf_ctx_add_override(ctx, name, tail);
    } else if (strcmp(cmd, "fallback") == 0) {
      (void)mdspf_ctx_add_fallback(ctx, name, tail);
    }
    free(line);
    d += n + 1;
  }
}

/* A second check through the warm cache of a finished first one (of
 * outcome o): the same verdict, and the cache's counters add up. */
static void rerun_cached(const spec *sp, mdspf_ctx *ctx, mdspf_zone *z,
                         mdspf_cache *cache, const mdspf_check *first,
                         const outcome *o, int timeout_ms) {
  mdspf_check *chk = NULL;
  mdspf_cache_counters k;
  unsigned long zq = mdspf_zone_queries(z);
  FUZZ_CHECK(mdspf_check_new(ctx, &chk) == MDSPF_OK);
  FUZZ_CHECK(mdspf_check_set_ip(chk, o->client_ip) == MDSPF_OK);
  if (sp->sender[0]) {
    (void)mdspf_check_set_sender(chk, sp->sender);
  }
  if (!sp->helo[0] || mdspf_check_set_helo(chk, sp->helo) != MDSPF_OK) {
    FUZZ_CHECK(mdspf_check_set_helo(chk, "mail.example.net") == MDSPF_OK);
  }
  if (sp->flags & 4u) {
    FUZZ_CHECK(mdspf_check_set_identity(chk, MDSPF_ID_HELO) == MDSPF_OK);
  }
  FUZZ_CHECK(mdspf_check_run(chk, timeout_ms) == MDSPF_OK);
  FUZZ_CHECK(mdspf_check_result(chk) == o->result);
  FUZZ_CHECK(mdspf_check_reason(chk) == o->reason);
  FUZZ_CHECK(mdspf_check_source(chk) == o->source);
  FUZZ_CHECK(same_str(mdspf_check_mechanism(chk), o->mechanism));
  FUZZ_CHECK(same_str(mdspf_check_domain(chk), o->domain));
  FUZZ_CHECK(same_str(mdspf_check_problem(chk), o->problem));
  FUZZ_CHECK(mdspf_check_dns_terms(chk) == o->dns_terms);
  FUZZ_CHECK(mdspf_check_void_lookups(chk) == o->voids);
  FUZZ_CHECK(mdspf_check_queries(chk) == o->queries);
  FUZZ_CHECK(mdspf_zone_queries(z) - zq <=
             (unsigned long)o->queries + mdspf_check_wasted(chk));
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  FUZZ_CHECK(mdspf_cache_stats(cache, &k) == MDSPF_OK);
  /* the cache was asked what both checks asked and looked up ahead */
  FUZZ_CHECK(k.hits + k.misses + k.coalesced ==
             (uint64_t)mdspf_check_queries(first) + mdspf_check_wasted(first) +
                 mdspf_check_queries(chk) + mdspf_check_wasted(chk));
  /* what is still in flight is what the checks gave up: lookups made
   * ahead and not used, and at most one query per check whose budget ran
   * out; the cache lets those finish (orphans) to keep their answers */
  FUZZ_CHECK(k.misses >= mdspf_zone_queries(z) && k.entries <= k.stored);
  FUZZ_CHECK(k.inflight <= (uint64_t)mdspf_check_wasted(first) +
                               mdspf_check_wasted(chk) + 2u);
  mdspf_check_free(chk);
}

static void run_check(const spec *sp, int delivery, int lookahead, int oom,
                      int timeout_ms, outcome *o, int cached) {
  fuzz_alloc fa;
  mdspf_zone *z = NULL;
  mdspf_cache *cache = NULL;
  mdspf_ctx *ctx = NULL;
  mdspf_check *chk = NULL;
  tracer tr;
  int i, set_ok = 1;
  long dns_limit;

  memset(o, 0, sizeof *o);
  fuzz_alloc_init(&fa, 0, 0);
  FUZZ_CHECK(mdspf_zone_new(fuzz_alloc_fn, &fa, &z) == MDSPF_OK);
  if (sp->flags & 8u) {
    mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  }
  FUZZ_CHECK(mdspf_zone_set_delivery(z, delivery) == MDSPF_OK);
  /* errors leave what was loaded before them */
  if (cached) {
    /* a default TTL, so that the cache keeps what it can */
    static const char ttl[] = "$TTL 300\n";
    char *text = malloc(sizeof ttl - 1 + sp->zone_len + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, ttl, sizeof ttl - 1);
    memcpy(text + sizeof ttl - 1, sp->zone, sp->zone_len);
    (void)mdspf_zone_load(z, text, sizeof ttl - 1 + sp->zone_len, ORIGIN,
                          "check.zone", NULL, 0);
    free(text);
  } else {
    (void)mdspf_zone_load(z, sp->zone, sp->zone_len, ORIGIN, "check.zone",
                          NULL, 0);
  }
  FUZZ_CHECK(mdspf_ctx_new(fuzz_alloc_fn, &fa, &ctx) == MDSPF_OK);
  if (cached) {
    mdspf_cache_options co;
    mdspf_cache_options_init(&co);
    co.alloc = fuzz_alloc_fn;
    co.alloc_ud = &fa;
    FUZZ_CHECK(mdspf_cache_new(mdspf_zone_resolver(z), &co, &cache) ==
               MDSPF_OK);
    FUZZ_CHECK(mdspf_ctx_set_resolver(ctx, mdspf_cache_resolver(cache)) ==
               MDSPF_OK);
  } else {
    FUZZ_CHECK(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)) ==
               MDSPF_OK);
  }
  for (i = 0; i < 5; i++) {
    if (sp->limit[i] >= 0) {
      FUZZ_CHECK(mdspf_ctx_set_limit(ctx, i + 1, sp->limit[i]) == MDSPF_OK);
    }
  }
  dns_limit = mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_DNS_TERMS);
  FUZZ_CHECK(dns_limit >= 1 && dns_limit <= 100);
  if (sp->receiver[0]) {
    (void)mdspf_ctx_set_receiver(ctx, sp->receiver);
  }
  if (sp->defexp[0]) {
    (void)mdspf_ctx_set_default_explanation(ctx, sp->defexp);
  }
  if (sp->local[0]) {
    size_t eo = 0;
    (void)mdspf_ctx_set_local_policy(ctx, sp->local, &eo);
  }
  if (sp->guess[0]) {
    (void)mdspf_ctx_set_best_guess(ctx, sp->guess);
  }
  apply_directives(sp, z, ctx);
  if (!lookahead) {
    FUZZ_CHECK(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 0) ==
               MDSPF_OK);
  } else {
    FUZZ_CHECK(mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_LOOKAHEAD) > 0);
  }
  memset(&tr, 0, sizeof tr);
  tr.hash = 14695981039346656037u;
  tr.dns_limit = dns_limit;
  tr.bufsz = 1 + (sp->fail_at % 64) * 3;
  if (sp->flags & 0x20u) {
    FUZZ_CHECK(mdspf_ctx_set_trace(ctx, on_event, &tr) == MDSPF_OK);
  }

  if (oom) {
    fa.fail_at = fa.nallocs + (sp->fail_at ? sp->fail_at : 1);
    fa.fail_all = (sp->flags & 0x80u) != 0;
  }
  if (mdspf_check_new(ctx, &chk) != MDSPF_OK) {
    FUZZ_CHECK(oom && fa.nfailed > 0 && chk == NULL);
    goto out;
  }
  tr.chk = chk;
  if (mdspf_check_set_ip(chk, sp->ip) != MDSPF_OK) {
    /* a malformed address: any valid one will do */
    FUZZ_CHECK(mdspf_check_set_ip(chk, "192.0.2.1") == MDSPF_OK);
  }
  if (sp->sender[0]) {
    /* a malformed sender is refused (then the HELO identity is used) */
    int rc = mdspf_check_set_sender(chk, sp->sender);
    FUZZ_CHECK(rc == MDSPF_OK || rc == MDSPF_E_INVAL || rc == MDSPF_E_NOMEM);
    if (rc == MDSPF_E_NOMEM) {
      set_ok = 0;
    }
  }
  if (!sp->helo[0] || mdspf_check_set_helo(chk, sp->helo) != MDSPF_OK) {
    int rc = mdspf_check_set_helo(chk, "mail.example.net");
    FUZZ_CHECK(rc == MDSPF_OK || rc == MDSPF_E_NOMEM);
    if (rc != MDSPF_OK) {
      set_ok = 0;
    }
  }
  if (sp->flags & 4u) {
    FUZZ_CHECK(mdspf_check_set_identity(chk, MDSPF_ID_HELO) == MDSPF_OK);
  }
  if (!set_ok) {
    FUZZ_CHECK(oom && fa.nfailed > 0);
    goto out;
  }
  o->ok = 1;
  o->run_rc = mdspf_check_run(chk, timeout_ms);
  FUZZ_CHECK(o->run_rc == MDSPF_OK);
  FUZZ_CHECK(mdspf_check_done(chk) == 1);
  /* a second run of a completed check returns at once */
  FUZZ_CHECK(mdspf_check_run(chk, timeout_ms) == MDSPF_OK);
  o->result = mdspf_check_result(chk);
  o->reason = mdspf_check_reason(chk);
  o->source = mdspf_check_source(chk);
  o->identity = mdspf_check_identity(chk);
  o->problem = dup_or_null(mdspf_check_problem(chk));
  o->explanation = dup_or_null(mdspf_check_explanation(chk));
  o->mechanism = dup_or_null(mdspf_check_mechanism(chk));
  o->domain = dup_or_null(mdspf_check_domain(chk));
  {
    size_t rl = (size_t)-1;
    const char *r = mdspf_check_record(chk, &rl);
    FUZZ_CHECK(r ? rl != (size_t)-1 && r[rl] == '\0' && strlen(r) <= rl
                 : rl == 0);
    FUZZ_CHECK(mdspf_check_record(chk, NULL) == r);
    o->record = r ? fuzz_strndup(r, rl) : NULL;
    o->record_len = r ? rl : 0;
  }
  o->client_ip = dup_or_null(mdspf_check_client_ip(chk));
  o->identity_domain = dup_or_null(mdspf_check_identity_domain(chk));
  o->syn_rc =
      mdspf_check_syntax_error(chk, &o->syn_code, &o->syn_off, &o->syn_len);
  o->dns_terms = mdspf_check_dns_terms(chk);
  o->voids = mdspf_check_void_lookups(chk);
  o->queries = mdspf_check_queries(chk);
  o->prefetched = mdspf_check_prefetched(chk);
  o->wasted = mdspf_check_wasted(chk);
  o->zone_queries = mdspf_zone_queries(z);
  o->events = tr.events;
  o->results = tr.results;
  o->trace_hash = tr.hash;
  o->received_spf = header(chk, mdspf_check_received_spf, NULL,
                           "Received-SPF: ", 1 + sp->fail_at % 97);
  free(header(chk, mdspf_check_received_spf, sp->receiver,
              "Received-SPF: ", 1 + sp->fail_at % 13));
  free(header(chk, mdspf_check_auth_results, NULL,
              "Authentication-Results: ", 1 + sp->fail_at % 89));
  free(header(chk, mdspf_check_auth_results, sp->receiver,
              "Authentication-Results: ", 1 + sp->fail_at % 7));

  /* consistency of one outcome */
  FUZZ_CHECK(o->result >= MDSPF_NEUTRAL && o->result <= MDSPF_PERMERROR);
  FUZZ_CHECK(o->reason <= MDSPF_OK && o->reason >= MDSPF_E_BUFFER);
  FUZZ_CHECK(o->source >= MDSPF_SRC_NONE && o->source <= MDSPF_SRC_LOCAL);
  FUZZ_CHECK(o->identity == MDSPF_ID_MAILFROM || o->identity == MDSPF_ID_HELO);
  FUZZ_CHECK(o->identity == MDSPF_ID_HELO || !(sp->flags & 4u));
  FUZZ_CHECK(o->dns_terms <= (unsigned long)dns_limit + 1);
  FUZZ_CHECK(o->client_ip != NULL || fa.nfailed > 0);
  if (o->result == MDSPF_TEMPERROR || o->result == MDSPF_PERMERROR) {
    FUZZ_CHECK(o->reason != MDSPF_OK);
  }
  if (o->result == MDSPF_FAIL && !fa.nfailed) {
    FUZZ_CHECK(o->explanation != NULL);
  }
  if (o->result != MDSPF_FAIL) {
    FUZZ_CHECK(o->explanation == NULL);
  }
  if (o->mechanism) {
    FUZZ_CHECK(o->result == MDSPF_PASS || o->result == MDSPF_FAIL ||
               o->result == MDSPF_SOFTFAIL || o->result == MDSPF_NEUTRAL);
  }
  if (o->result == MDSPF_NONE || o->result == MDSPF_TEMPERROR ||
      o->result == MDSPF_PERMERROR) {
    FUZZ_CHECK(o->source == MDSPF_SRC_NONE); /* "no record decided" */
  }
  if (o->syn_rc == MDSPF_OK) {
    FUZZ_CHECK(o->result == MDSPF_PERMERROR && o->reason == MDSPF_E_SYNTAX);
    FUZZ_CHECK(o->syn_code >= MDSPF_SYN_VERSION &&
               o->syn_code <= MDSPF_SYN_TOO_MANY_TERMS);
    if (o->record) {
      size_t rl = o->record_len;
      FUZZ_CHECK(o->syn_off <= rl && o->syn_len <= rl - o->syn_off);
    }
  } else {
    FUZZ_CHECK(o->syn_rc == MDSPF_E_STATE);
  }
  if (o->reason == MDSPF_E_TIMEOUT) {
    FUZZ_CHECK(sp->has_hang); /* nothing else can stall a zone */
  }
  if (o->reason == MDSPF_E_NOMEM) {
    FUZZ_CHECK(fa.nfailed > 0);
  }
  FUZZ_CHECK(o->wasted <= o->prefetched);
  FUZZ_CHECK(lookahead || o->prefetched == 0);
  if (!oom && !cached) {
    /* every query the zone received was asked by the evaluation or
     * looked up ahead and not used */
    FUZZ_CHECK(o->zone_queries == (unsigned long)o->queries + o->wasted);
  }
  if (cached) {
    /* identical lookups of one check are asked once */
    FUZZ_CHECK(o->zone_queries <= (unsigned long)o->queries + o->wasted);
  }
  if (sp->flags & 0x20u) {
    FUZZ_CHECK(o->results == 1);
  }
  if (cached && !oom) {
    mdspf_ctx_set_trace(ctx, NULL, NULL);
    rerun_cached(sp, ctx, z, cache, chk, o, timeout_ms);
  }

out:
  mdspf_check_free(chk);
  if (cache) {
    /* the cache lets lookups the checks gave up finish (their answers
     * are kept); freeing it cancels them */
    mdspf_ctx_free(ctx);
    ctx = NULL;
    mdspf_cache_free(cache);
    cache = NULL;
  }
  /* nothing of the check may stay queued (it would be delivered to a
   * freed query) */
  FUZZ_CHECK(mdspf_zone_pending(z) == 0);
  FUZZ_CHECK(mdspf_zone_process(z, (size_t)-1) == 0);
  mdspf_ctx_free(ctx);
  mdspf_cache_free(cache);
  mdspf_zone_free(z);
  FUZZ_CHECK(fa.outstanding == 0);
}

static void report(const char *what, const outcome *a, const outcome *b) {
  fprintf(stderr,
          "%s differs:\n"
          "  first:    %s reason %d src %d mech %s dom %s terms %u voids %u "
          "queries %u problem %s exp %s\n"
          "  second:   %s reason %d src %d mech %s dom %s terms %u voids %u "
          "queries %u problem %s exp %s\n",
          what, mdspf_result_str(a->result), a->reason, a->source,
          a->mechanism ? a->mechanism : "-", a->domain ? a->domain : "-",
          a->dns_terms, a->voids, a->queries, a->problem ? a->problem : "-",
          a->explanation ? a->explanation : "-", mdspf_result_str(b->result),
          b->reason, b->source, b->mechanism ? b->mechanism : "-",
          b->domain ? b->domain : "-", b->dns_terms, b->voids, b->queries,
          b->problem ? b->problem : "-", b->explanation ? b->explanation : "-");
}

/* 1 if the two outcomes agree (explanations only when same_second; the
 * queries the zone received only when same_sent: lookahead sends
 * queries ahead that the evaluation may not use, and how many depends on
 * when answers arrive). */
static int same_outcome(const outcome *a, const outcome *b, int same_second,
                        int same_sent) {
  return a->ok == b->ok && a->run_rc == b->run_rc && a->result == b->result &&
         a->reason == b->reason && a->source == b->source &&
         a->identity == b->identity && same_str(a->problem, b->problem) &&
         (!same_second || same_str(a->explanation, b->explanation)) &&
         ((a->explanation == NULL) == (b->explanation == NULL)) &&
         same_str(a->mechanism, b->mechanism) &&
         same_str(a->domain, b->domain) && a->record_len == b->record_len &&
         (a->record == NULL) == (b->record == NULL) &&
         (!a->record || memcmp(a->record, b->record, a->record_len) == 0) &&
         same_str(a->client_ip, b->client_ip) &&
         same_str(a->identity_domain, b->identity_domain) &&
         a->syn_rc == b->syn_rc &&
         (a->syn_rc != MDSPF_OK ||
          (a->syn_code == b->syn_code && a->syn_off == b->syn_off &&
           a->syn_len == b->syn_len)) &&
         a->dns_terms == b->dns_terms && a->voids == b->voids &&
         a->queries == b->queries &&
         (!same_sent || a->zone_queries == b->zone_queries) &&
         a->results == b->results &&
         (!same_second || same_str(a->received_spf, b->received_spf));
}

/* Whether a and b agree (see same_outcome); when they do not, abort --
 * unless the input hangs a query, they differ in whether the budget ran
 * out, and this is the first attempt (0 then: the caller tries again
 * with a longer budget). */
static int agree(const spec *sp, const outcome *a, const outcome *b,
                 int same_second, int same_sent, int same_trace, int attempt,
                 const char *what) {
  if (same_outcome(a, b, same_second, same_sent) &&
      (!same_trace ||
       (a->events == b->events && a->trace_hash == b->trace_hash))) {
    return 1;
  }
  if (attempt == 0 && sp->has_hang &&
      (a->reason == MDSPF_E_TIMEOUT) != (b->reason == MDSPF_E_TIMEOUT)) {
    return 0;
  }
  report(what, a, b);
  abort();
}

static char *take_line(fuzz_in *in) {
  size_t n;
  const uint8_t *f = fuzz_field(in, '\n', &n);
  char *s = fuzz_strndup(f, n);
  /* the setters take C strings: cut at an embedded NUL */
  return s;
}

static long pick_limit(unsigned b, int which) {
  switch (which) {
  case MDSPF_LIMIT_VOID_LOOKUPS:
    return b == 255 ? -1 : (long)(b % 101);
  default:
    return b == 0 ? -1 : 1 + (long)((b - 1) % 100);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size};
  spec sp;
  outcome base, base_off, other, other_off;
  int i, timeout, attempt;
  const char *what;
  time_t t0, t1;
  size_t k;

  if (size > 65536) {
    return 0;
  }
  memset(&sp, 0, sizeof sp);
  sp.flags = fuzz_byte(&in);
  for (i = 0; i < 4; i++) {
    sp.limit[i] = pick_limit(fuzz_byte(&in), i + 1);
  }
  sp.limit[4] = -1; /* the budget: mdspf_check_run's timeout instead */
  sp.fail_at = fuzz_byte(&in);
  sp.ip = take_line(&in);
  sp.sender = take_line(&in);
  sp.helo = take_line(&in);
  sp.local = take_line(&in);
  sp.guess = take_line(&in);
  sp.receiver = take_line(&in);
  sp.defexp = take_line(&in);

  /* the zone text with directive lines blanked (line numbers kept) */
  sp.zone = fuzz_strndup(in.p, in.n);
  sp.zone_len = in.n;
  sp.directives = fuzz_strndup(in.p, in.n);
  sp.directives_len = 0;
  for (k = 0; k < sp.zone_len;) {
    size_t e = k;
    while (e < sp.zone_len && sp.zone[e] != '\n') {
      e++;
    }
    if (sp.zone[k] == '!' && e > k + 1) {
      size_t n = e - k - 1;
      if (memchr(sp.zone + k + 1, '\0', n) == NULL) {
        memcpy(sp.directives + sp.directives_len, sp.zone + k + 1, n);
        sp.directives[sp.directives_len + n] = '\0';
        sp.directives_len += n + 1;
        if (n >= 5 && memcmp(sp.zone + k + 1, "hang ", 5) == 0) {
          sp.has_hang = 1;
        }
      }
      memset(sp.zone + k, ' ', n + 1);
    }
    k = e + 1;
  }
  timeout = sp.has_hang ? HANG_TIMEOUT_MS : NOHANG_TIMEOUT_MS;

  /* inline with lookahead (the default) is the reference; the same
   * delivery without lookahead must agree to the trace, the deferred
   * ones with it and without it to the counters */
  for (attempt = 0; attempt < 2; attempt++) {
    int slow = attempt ? HANG_RETRY_MS : timeout, ok = 1;
    t0 = time(NULL);
    run_check(&sp, MDSPF_ZONE_INLINE, 1, 0, slow, &base, 0);
    run_check(&sp, MDSPF_ZONE_INLINE, 0, 0, slow, &base_off, 0);
    t1 = time(NULL);
    what = "lookahead off, inline delivery";
    ok = agree(&sp, &base, &base_off, t0 == t1, 0, 1, attempt, what);
    for (i = 1; ok && i <= 2; i++) {
      int d = i == 1 ? MDSPF_ZONE_DEFERRED_FIFO : MDSPF_ZONE_DEFERRED_LIFO;
      if (!(sp.flags & (unsigned)i)) {
        continue;
      }
      run_check(&sp, d, 1, 0, slow, &other, 0);
      run_check(&sp, d, 0, 0, slow, &other_off, 0);
      t1 = time(NULL);
      ok = agree(&sp, &base, &other, t0 == t1, 0, 0, attempt,
                 i == 1 ? "FIFO delivery" : "LIFO delivery") &&
           agree(&sp, &base_off, &other_off, t0 == t1, 1, 0, attempt,
                 i == 1 ? "FIFO delivery, lookahead off"
                        : "LIFO delivery, lookahead off") &&
           agree(&sp, &other, &other_off, t0 == t1, 0, 1, attempt,
                 i == 1 ? "lookahead off, FIFO delivery"
                        : "lookahead off, LIFO delivery");
      outcome_free(&other);
      outcome_free(&other_off);
    }
    if (ok) {
      break;
    }
    /* a loaded machine can eat a short budget: try once more, slower */
    outcome_free(&base);
    outcome_free(&base_off);
  }
  outcome_free(&base_off);
  if (!sp.has_hang) {
    /* through a cache: the same outcome, no more zone queries (the
     * explanation may hold %{t}: compared only when the reference and
     * this run fell in one second, t0 being the reference's start) */
    run_check(&sp, (sp.flags & 2u) ? MDSPF_ZONE_DEFERRED_LIFO
                                   : MDSPF_ZONE_INLINE,
              1, 0, timeout, &other, 1);
    t1 = time(NULL);
    FUZZ_CHECK(other.zone_queries <= base.zone_queries);
    other.zone_queries = base.zone_queries;
    if (!same_outcome(&base, &other, t0 == t1, 1)) {
      report("cached run", &base, &other);
      abort();
    }
    outcome_free(&other);
  }
  if (sp.flags & 0x10u) {
    run_check(&sp,
              (sp.flags & 0x40u) ? MDSPF_ZONE_DEFERRED_FIFO : MDSPF_ZONE_INLINE,
              1, 1, timeout, &other, (sp.fail_at & 1u) != 0);
    outcome_free(&other);
  }
  outcome_free(&base);
  free(sp.ip);
  free(sp.sender);
  free(sp.helo);
  free(sp.local);
  free(sp.guess);
  free(sp.receiver);
  free(sp.defexp);
  free(sp.zone);
  free(sp.directives);
  return 0;
}

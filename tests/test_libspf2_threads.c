/*
 * tests/test_libspf2_threads.c -- the thread rule of the libspf2-compatible
 * library: one SPF_server_t per thread, used by that thread only, needs
 * no lock.  Several threads each build a server over a zone of their own
 * (and one over a caller's DNS layer wrapped in the cache, as Exim does),
 * and run the same queries at the same time; every answer and every text
 * must be what one thread alone gets.  Also built with ThreadSanitizer by
 * "./build.sh test".
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <spf2/spf.h>
#include <spf2/spf_dns_cache.h>
#include <spf2/spf_dns_zone.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ROUNDS 150

/* the test build of the library allocates through this hook: here the C
 * library's, which is thread-safe */
void *mdspf_libspf2_test_realloc(void *p, size_t n);
void *mdspf_libspf2_test_realloc(void *p, size_t n) {
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

static const struct {
  const char *name;
  const char *txt;
} zone[] = {
    {"pass.example", "v=spf1 ip4:192.0.2.0/24 -all"},
    {"fail.example", "v=spf1 -all exp=why.fail.example"},
    {"why.fail.example", "%{i} may not send for %{d}"},
    {"inc.example", "v=spf1 include:pass.example ~all"},
    {"mac.example", "v=spf1 exists:%{l}.%{d} -all"},
    {"bob.mac.example", NULL}, /* an A record, below */
    {"bad.example", "v=spf1 ip4:192.0.2.300 -all"},
};

static const struct {
  const char *ip, *from;
  SPF_result_t result;
} cases[] = {
    {"192.0.2.7", "a@pass.example", SPF_RESULT_PASS},
    {"198.51.100.1", "a@pass.example", SPF_RESULT_FAIL},
    {"198.51.100.1", "a@fail.example", SPF_RESULT_FAIL},
    {"192.0.2.7", "a@inc.example", SPF_RESULT_PASS},
    {"198.51.100.1", "a@inc.example", SPF_RESULT_SOFTFAIL},
    {"198.51.100.1", "bob@mac.example", SPF_RESULT_PASS},
    {"198.51.100.1", "eve@mac.example", SPF_RESULT_FAIL},
    {"192.0.2.7", "a@bad.example", SPF_RESULT_PERMERROR},
    {"192.0.2.7", "a@nothing.example", SPF_RESULT_NONE},
    {"2001:db8::1", "a@pass.example", SPF_RESULT_FAIL},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* What a query gives, texts included. */
typedef struct {
  SPF_result_t result;
  SPF_reason_t reason;
  SPF_errcode_t err;
  char text[1024];
} answer;

static void fill_zone(SPF_dns_server_t *z) {
  size_t i;
  for (i = 0; i < sizeof zone / sizeof zone[0]; i++) {
    SPF_errcode_t e =
        zone[i].txt ? SPF_dns_zone_add_str(z, zone[i].name, ns_t_txt,
                                           NETDB_SUCCESS, zone[i].txt)
                    : SPF_dns_zone_add_str(z, zone[i].name, ns_t_a,
                                           NETDB_SUCCESS, "127.0.0.2");
    if (e != SPF_E_SUCCESS) {
      fprintf(stderr, "zone: %s: %s\n", zone[i].name, SPF_strerror(e));
      abort();
    }
  }
}

static int query(SPF_server_t *s, size_t c, answer *out) {
  SPF_request_t *r = SPF_request_new(s);
  SPF_response_t *rp = NULL;
  const char *exp, *hc, *rs;
  if (!r) {
    return -1;
  }
  if (SPF_request_set_ipv4_str(r, cases[c].ip) != SPF_E_SUCCESS &&
      SPF_request_set_ipv6_str(r, cases[c].ip) != SPF_E_SUCCESS) {
    SPF_request_free(r);
    return -1;
  }
  (void)SPF_request_set_helo_dom(r, "helo.example");
  (void)SPF_request_set_env_from(r, cases[c].from);
  (void)SPF_request_query_mailfrom(r, &rp);
  if (!rp) {
    SPF_request_free(r);
    return -1;
  }
  out->result = SPF_response_result(rp);
  out->reason = SPF_response_reason(rp);
  out->err = SPF_response_errcode(rp);
  exp = SPF_response_get_explanation(rp);
  hc = SPF_response_get_header_comment(rp);
  rs = SPF_response_get_received_spf(rp);
  snprintf(out->text, sizeof out->text, "%s|%s|%s", exp ? exp : "-",
           hc ? hc : "-", rs ? rs : "-");
  SPF_response_free(rp);
  SPF_request_free(r);
  return 0;
}

/* ---- a caller's DNS layer over a zone of its own -------------------- */

/* As Exim does: a layer the caller fills, answering from below. */
static SPF_dns_rr_t *layer_lookup(SPF_dns_server_t *d, const char *domain,
                                  ns_type type, int should_cache) {
  SPF_dns_server_t *zone_layer = d->layer_below;
  SPF_dns_rr_t *rr = zone_layer->lookup(zone_layer, domain, type,
                                        should_cache);
  return rr;
}

static SPF_server_t *server_for(int t, SPF_dns_server_t **layer_out) {
  SPF_server_t *s;
  *layer_out = NULL;
  if (t % 2 == 0) {
    s = SPF_server_new(SPF_DNS_ZONE, 0);
    if (s) {
      fill_zone(s->resolver);
    }
  } else {
    SPF_dns_server_t *z = SPF_dns_zone_new(NULL, "zone", 0), *cache;
    SPF_dns_server_t *layer = calloc(1, sizeof *layer);
    if (!z || !layer) {
      abort();
    }
    fill_zone(z);
    layer->lookup = layer_lookup;
    layer->layer_below = z;
    layer->name = "caller";
    cache = SPF_dns_cache_new(layer, NULL, 0, 8);
    if (!cache) {
      abort();
    }
    s = SPF_server_new_dns(cache, 0);
    *layer_out = layer;
  }
  if (!s || SPF_server_set_rec_dom(s, "mx.test") != SPF_E_SUCCESS) {
    abort();
  }
  return s;
}

static void server_done(SPF_server_t *s, SPF_dns_server_t *layer) {
  SPF_dns_server_t *cache = layer ? s->resolver : NULL;
  SPF_server_free(s);
  if (layer) {
    SPF_dns_free(cache); /* the server does not own a layer given to it */
    SPF_dns_free(layer->layer_below);
    free(layer);
  }
}

static answer expected[NCASES];

typedef struct {
  int id;
  unsigned wrong;
  unsigned done;
} worker;

static void *run(void *arg) {
  worker *w = arg;
  SPF_dns_server_t *layer;
  SPF_server_t *s = server_for(w->id, &layer);
  int round;
  size_t c;
  for (round = 0; round < ROUNDS; round++) {
    for (c = 0; c < NCASES; c++) {
      /* start at another case in each thread */
      size_t k = (c + (size_t)w->id * 3) % NCASES;
      answer a;
      if (query(s, k, &a) != 0 || a.result != expected[k].result ||
          a.reason != expected[k].reason || a.err != expected[k].err ||
          strcmp(a.text, expected[k].text) != 0) {
        if (w->wrong++ == 0) {
          fprintf(stderr, "thread %d, %s from %s: %d %s\n  want %d %s\n",
                  w->id, cases[k].from, cases[k].ip, (int)a.result, a.text,
                  (int)expected[k].result, expected[k].text);
        }
      }
      w->done++;
    }
  }
  server_done(s, layer);
  return NULL;
}

int main(void) {
  pthread_t th[THREADS];
  worker w[THREADS];
  SPF_dns_server_t *layer;
  SPF_server_t *s;
  unsigned wrong = 0, done = 0;
  size_t c;
  int t;

  /* one thread alone, both kinds of server: the reference */
  for (t = 0; t < 2; t++) {
    s = server_for(t, &layer);
    for (c = 0; c < NCASES; c++) {
      answer a;
      if (query(s, c, &a) != 0 || a.result != cases[c].result) {
        fprintf(stderr, "alone: %s from %s: %s, want %s\n", cases[c].from,
                cases[c].ip, SPF_strresult(a.result),
                SPF_strresult(cases[c].result));
        return 1;
      }
      if (t == 0) {
        expected[c] = a;
      } else if (a.reason != expected[c].reason ||
                 a.err != expected[c].err ||
                 strcmp(a.text, expected[c].text) != 0) {
        fprintf(stderr, "caller layer differs for %s: %s\n  zone: %s\n",
                cases[c].from, a.text, expected[c].text);
        return 1;
      }
    }
    server_done(s, layer);
  }

  for (t = 0; t < THREADS; t++) {
    w[t].id = t;
    w[t].wrong = w[t].done = 0;
    if (pthread_create(&th[t], NULL, run, &w[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  }
  for (t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
    wrong += w[t].wrong;
    done += w[t].done;
  }
  printf("test_libspf2_threads: %d threads x %d rounds x %zu cases, "
         "%u queries, %u wrong\n",
         THREADS, ROUNDS, NCASES, done, wrong);
  return wrong == 0 && done == THREADS * ROUNDS * NCASES ? 0 : 1;
}

/*
 * tests/bench/bench_spf2.c -- the peer: libspf2 (Debian's libspf2-dev),
 * used as its own documentation describes -- SPF_server_new with
 * SPF_DNS_RESOLV or SPF_DNS_CACHE, one SPF_request per check,
 * SPF_request_query_mailfrom, SPF_response_result -- and
 * SPF_record_compile for parsing.  Built only when CMake found libspf2;
 * bench_spf2_stub.c stands in otherwise.
 *
 * libspf2 resolves through the system resolver (res_nquery with
 * /etc/resolv.conf, no port): the benchmark points it at its servers by
 * running in a private network and mount namespace where the servers
 * listen on port 53 and /etc/resolv.conf is its own file (see run.sh).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE 1 /* libspf2's headers use BSD types (u_char) */

#include "bench.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <spf2/spf.h>

int spf2_available(const char **why) {
  if (why) {
    *why = NULL;
  }
  return 1;
}

const char *spf2_version(void) {
  static char v[32];
  snprintf(v, sizeof v, "%d.%d.%d", SPF_LIB_VERSION_MAJOR,
           SPF_LIB_VERSION_MINOR, SPF_LIB_VERSION_PATCH);
  return v;
}

int spf2_parse(const char *const *recs, size_t n, uint64_t min_ns,
               bench_job_out *out) {
  SPF_server_t *srv = SPF_server_new(SPF_DNS_RESOLV, 0);
  SPF_response_t *resp;
  uint64_t t0, t;
  size_t done = 0, i;
  int rc = 0;
  memset(out, 0, sizeof *out);
  if (!srv) {
    fprintf(stderr, "libspf2: SPF_server_new failed\n");
    return -1;
  }
  resp = SPF_response_new(NULL);
  if (!resp) {
    SPF_server_free(srv);
    return -1;
  }
  t0 = bench_cpu_ns();
  do {
    for (i = 0; i < n; i++) {
      SPF_record_t *rec = NULL;
      SPF_errcode_t err = SPF_record_compile(srv, resp, &rec, recs[i]);
      if (err != SPF_E_SUCCESS || !rec) {
        fprintf(stderr, "libspf2: SPF_record_compile(\"%s\"): %s\n", recs[i],
                SPF_strerror(err));
        out->wrong++;
        rc = -1;
      }
      if (rec) {
        SPF_record_free(rec);
      }
    }
    done += n;
    t = bench_cpu_ns();
  } while (rc == 0 && t - t0 < min_ns);
  out->ns = t - t0;
  out->checks = done;
  if (SPF_response_errors(resp) > 0) {
    fprintf(stderr, "libspf2: %d errors while compiling the records\n",
            SPF_response_errors(resp));
    rc = -1;
  }
  SPF_response_free(resp);
  SPF_server_free(srv);
  return rc;
}

static int one_check(SPF_server_t *srv, const bench_check *c, size_t *wrong) {
  SPF_request_t *req = SPF_request_new(srv);
  SPF_response_t *resp = NULL;
  SPF_errcode_t err;
  int r;
  if (!req) {
    return -1;
  }
  err = strchr(c->ip, ':') ? SPF_request_set_ipv6_str(req, c->ip)
                           : SPF_request_set_ipv4_str(req, c->ip);
  if (err == SPF_E_SUCCESS) {
    err = SPF_request_set_helo_dom(req, BENCH_HELO);
  }
  if (err == SPF_E_SUCCESS && SPF_request_set_env_from(req, c->sender) != 0) {
    err = SPF_E_INVALID_CHAR;
  }
  if (err != SPF_E_SUCCESS) {
    fprintf(stderr, "libspf2: cannot set up the request for %s %s: %s\n",
            c->ip, c->sender, SPF_strerror(err));
    SPF_request_free(req);
    return -1;
  }
  (void)SPF_request_query_mailfrom(req, &resp);
  r = resp ? (int)SPF_response_result(resp) : -1;
  if (r != c->expect) {
    if (*wrong < 5) {
      bench_report_wrong("libspf2", c, r, NULL);
    }
    (*wrong)++;
  }
  if (resp) {
    SPF_response_free(resp);
  }
  SPF_request_free(req);
  return 0;
}

int spf2_checks(const bench_check *set, size_t n, int cache, int warm,
                uint64_t min_ns, size_t min_checks, bench_job_out *out) {
  SPF_server_t *srv = SPF_server_new(cache ? SPF_DNS_CACHE : SPF_DNS_RESOLV, 0);
  uint64_t t0, t;
  size_t i, done = 0;
  memset(out, 0, sizeof *out);
  if (!srv) {
    fprintf(stderr, "libspf2: SPF_server_new failed\n");
    return -1;
  }
  if (warm) {
    for (i = 0; i < n; i++) {
      if (one_check(srv, &set[i], &out->wrong) != 0) {
        SPF_server_free(srv);
        return -1;
      }
    }
    bench_warm_done();
  }
  t0 = bench_now_ns();
  do {
    for (i = 0; i < n; i++) {
      if (one_check(srv, &set[i], &out->wrong) != 0) {
        SPF_server_free(srv);
        return -1;
      }
    }
    done += n;
    t = bench_now_ns();
  } while (t - t0 < min_ns || done < min_checks);
  out->ns = t - t0;
  out->checks = done;
  SPF_server_free(srv);
  return 0;
}

/*
 * tests/bench/workload.h -- what the benchmark parses and checks, with
 * the result every check must give (zones/example.zone is the DNS data).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_BENCH_WORKLOAD_H
#define MDSPF_BENCH_WORKLOAD_H

#include <stddef.h>

/* Results, numbered as both libraries number them (and spfquery's exit
 * status): neutral 1, pass 2, fail 3, softfail 4, none 5, temperror 6,
 * permerror 7. */
enum { W_NEUTRAL = 1, W_PASS, W_FAIL, W_SOFTFAIL, W_NONE };

typedef struct bench_check {
  const char *ip;
  const char *sender; /* MAIL FROM */
  int expect;
  const char *what; /* shown when the result is wrong */
} bench_check;

/* The mix of checks, one pass over the shapes of real senders. */
extern const bench_check bench_checks[];
extern const size_t bench_nchecks;
/* The gmail-like check: redirect, then three includes, the last one
 * matching (5 TXT lookups, depth 3). */
extern const bench_check bench_gmail_check;
/* Records both parsers parse (all valid). */
extern const char *const bench_records[];
extern const size_t bench_nrecords;

const char *bench_result_name(int r);

#endif

/*
 * tests/bench/bench.h -- what the benchmark's parts share.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_BENCH_BENCH_H
#define MDSPF_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "workload.h"

#define BENCH_HELO "mail.client.example"

/* What one measurement job did. */
typedef struct bench_job_out {
  size_t checks;   /* checks (or records) completed and verified */
  uint64_t ns;     /* wall time of the timed part */
  long rss_kb;     /* peak resident set of the job's process, KiB */
  long heap_b;     /* ours: peak of what the library allocated through its
                      allocator hooks (context and c-ares backend), bytes */
  size_t wrong;    /* results that were not the expected ones */
} bench_job_out;

uint64_t bench_now_ns(void); /* monotonic clock */
uint64_t bench_cpu_ns(void); /* this thread's CPU time */
/* Peak RSS of this process in KiB (getrusage). */
long bench_peak_rss_kb(void);

/* In a job process: say that the untimed warm-up pass is over (a line
 * "warm" on stdout, read by the benchmark to count only the timed
 * part's DNS queries). */
void bench_warm_done(void);

/* Report a wrong result on stderr (at most a few lines per job). */
void bench_report_wrong(const char *who, const bench_check *c, int got,
                        const char *detail);

/* ---- libspf2 (bench_spf2.c, or a stub without libspf2) ---------------- */

/* Non-zero when libspf2 is linked in; *why says why not otherwise. */
int spf2_available(const char **why);
/* "1.2.10" */
const char *spf2_version(void);
/* Parse every record of the set with SPF_record_compile, in passes until
 * min_ns of this thread's CPU time has gone by; 0, or -1 when a record
 * did not compile (said on stderr). */
int spf2_parse(const char *const *recs, size_t n, uint64_t min_ns,
               bench_job_out *out);
/* Check the set in order, one at a time (libspf2 is synchronous), with
 * SPF_server_new(cache ? SPF_DNS_CACHE : SPF_DNS_RESOLV): after one
 * untimed pass when warm, then passes until min_ns has gone by and at
 * least min_checks were made.  0, or -1 on a setup failure. */
int spf2_checks(const bench_check *set, size_t n, int cache, int warm,
                uint64_t min_ns, size_t min_checks, bench_job_out *out);

#endif

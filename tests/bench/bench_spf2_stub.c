/*
 * tests/bench/bench_spf2_stub.c -- stands in for bench_spf2.c when CMake
 * did not find libspf2: the benchmark then prints the library's own
 * figures and says that the libspf2 column is missing.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "bench.h"

#include <string.h>

int spf2_available(const char **why) {
  if (why) {
    *why = "libspf2 was not found when this benchmark was built "
           "(Debian: apt-get install libspf2-dev, then rebuild)";
  }
  return 0;
}

const char *spf2_version(void) { return "(not built in)"; }

int spf2_parse(const char *const *recs, size_t n, uint64_t min_ns,
               bench_job_out *out) {
  (void)recs;
  (void)n;
  (void)min_ns;
  memset(out, 0, sizeof *out);
  return -1;
}

int spf2_checks(const bench_check *set, size_t n, int cache, int warm,
                uint64_t min_ns, size_t min_checks, bench_job_out *out) {
  (void)set;
  (void)n;
  (void)cache;
  (void)warm;
  (void)min_ns;
  (void)min_checks;
  memset(out, 0, sizeof *out);
  return -1;
}

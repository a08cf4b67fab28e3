/*
 * lib/util/clock.c -- the monotonic millisecond clock.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "util/clock.h"

#include <time.h>

int64_t mdspf__monotonic_ms(void *ud) {
  struct timespec ts;
  (void)ud;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000L);
}

long mdspf__ms_until(int64_t deadline, int64_t now) {
  int64_t d = deadline - now;
  if (d <= 0) {
    return 0;
  }
  return d > INT32_MAX ? (long)INT32_MAX : (long)d;
}

/*
 * lib/util/clock.h -- time as 64-bit milliseconds of a monotonic clock,
 * so deadlines neither overflow after 24.8 days on 32-bit systems nor
 * move with the wall clock.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_UTIL_CLOCK_H
#define MDSPF_UTIL_CLOCK_H

#include <stdint.h>

/* A clock: milliseconds from an arbitrary origin, never decreasing. */
typedef int64_t (*mdspf__clock_fn)(void *ud);

/* CLOCK_MONOTONIC in milliseconds (ud is ignored). */
int64_t mdspf__monotonic_ms(void *ud);

/* The milliseconds from now until deadline as a long, clamped to
 * [0, 2^31 - 1] so it fits every "int/long ms" interface. */
long mdspf__ms_until(int64_t deadline, int64_t now);

#endif /* MDSPF_UTIL_CLOCK_H */

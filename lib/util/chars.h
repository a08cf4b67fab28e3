/*
 * lib/util/chars.h -- character classes and comparisons, independent of
 * the locale.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_UTIL_CHARS_H
#define MDSPF_UTIL_CHARS_H

#include <stddef.h>

static inline int mdspf__is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int mdspf__is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int mdspf__is_alnum(int c) {
  return mdspf__is_alpha(c) || mdspf__is_digit(c);
}
static inline int mdspf__lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}
/* Case-insensitive comparison of n bytes (ASCII only): <0, 0, >0. */
static inline int mdspf__casecmpn(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    int ca = mdspf__lower((unsigned char)a[i]);
    int cb = mdspf__lower((unsigned char)b[i]);
    if (ca != cb) {
      return ca < cb ? -1 : 1;
    }
  }
  return 0;
}

#endif /* MDSPF_UTIL_CHARS_H */

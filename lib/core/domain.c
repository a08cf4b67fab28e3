/*
 * lib/core/domain.c -- domain name checks used by initial processing, the
 * parser (toplabel) and the evaluator (queryable names, truncation).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/domain.h"
#include "util/chars.h"

#include <string.h>

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )          */
int mdspf__toplabel_ok(const char *s, size_t n) {
  size_t i;
  int alpha = 0, dash = 0;
  if (n == 0 || n > 63) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (mdspf__is_alpha(c)) {
      alpha = 1;
    } else if (c == '-') {
      dash = 1;
    } else if (!mdspf__is_digit(c)) {
      return 0;
    }
  }
  if (dash) {
    return mdspf__is_alnum((unsigned char)s[0]) &&
           mdspf__is_alnum((unsigned char)s[n - 1]);
  }
  return alpha;
}

int mdspf__name_queryable(const char *s, size_t n) {
  size_t i, label = 0;
  if (n > 0 && s[n - 1] == '.') {
    n--;
  }
  if (n == 0 || n > MDSPF__MAX_NAME) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    /* DNS labels may hold any octet; only NUL cannot travel in a C
     * string (macro expansion can produce spaces, "%", ...) */
    if (c == 0) {
      return 0;
    }
    if (c == '.') {
      if (label == 0) {
        return 0;
      }
      label = 0;
    } else if (++label > 63) {
      return 0;
    }
  }
  return label > 0;
}

int mdspf__domain_fqdn_ok(const char *s, size_t n) {
  size_t i, last = 0;
  int dots = 0;
  if (!mdspf__name_queryable(s, n)) {
    return 0;
  }
  if (s[n - 1] == '.') {
    n--;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f) {
      return 0; /* an identity is a 7-bit host name (A-labels) */
    }
    if (c == '.') {
      dots++;
      last = i + 1;
    }
  }
  return dots > 0 && mdspf__toplabel_ok(s + last, n - last);
}

static size_t strip_dot(const char *s, size_t n) {
  return (n > 0 && s[n - 1] == '.') ? n - 1 : n;
}

int mdspf__domain_eq(const char *a, size_t an, const char *b, size_t bn) {
  an = strip_dot(a, an);
  bn = strip_dot(b, bn);
  return an == bn && mdspf__casecmpn(a, b, an) == 0;
}

int mdspf__domain_under(const char *name, size_t nn, const char *parent,
                        size_t pn) {
  nn = strip_dot(name, nn);
  pn = strip_dot(parent, pn);
  if (pn == 0 || nn < pn) {
    return 0;
  }
  if (mdspf__casecmpn(name + nn - pn, parent, pn) != 0) {
    return 0;
  }
  return nn == pn || name[nn - pn - 1] == '.';
}

size_t mdspf__domain_norm(char *out, size_t outsz, const char *s, size_t n) {
  size_t i;
  n = strip_dot(s, n);
  if (n + 1 > outsz) {
    return (size_t)-1;
  }
  for (i = 0; i < n; i++) {
    out[i] = (char)mdspf__lower((unsigned char)s[i]);
  }
  out[n] = '\0';
  return n;
}

size_t mdspf__domain_truncate(char *s, size_t n) {
  size_t start = 0;
  n = strip_dot(s, n);
  while (n - start > MDSPF__MAX_NAME) {
    const char *dot = memchr(s + start, '.', n - start);
    if (!dot) {
      n = start; /* one giant label: nothing usable */
      break;
    }
    start = (size_t)(dot - s) + 1;
  }
  if (start) {
    memmove(s, s + start, n - start);
  }
  n -= start;
  s[n] = '\0';
  return n;
}

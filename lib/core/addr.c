/*
 * lib/core/addr.c -- IPv4/IPv6 text parsing and formatting, prefix matching,
 * reverse names.  Own parsers (no inet_pton) so that the accepted syntax
 * is exactly RFC 7208's and independent of the C library.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/addr.h"
#include "util/chars.h"
#include "util/strbuf.h"

#include <string.h>

/* qnum = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25"
 * %x30-35: 0..255 without leading zeros. */
int mdspf__ip4_parse(const char *s, size_t n, uint8_t out[4]) {
  const unsigned char *p = (const unsigned char *)s, *e = p + n;
  int part;
  for (part = 0; part < 4; part++) {
    unsigned v, d;
    if (part > 0) {
      if (p == e || *p != '.') {
        return 0;
      }
      p++;
    }
    if (p == e || (v = (unsigned)*p - '0') > 9) {
      return 0;
    }
    p++;
    if (p < e && (d = (unsigned)*p - '0') <= 9) {
      if (v == 0) {
        return 0; /* leading zero */
      }
      v = v * 10 + d;
      p++;
      if (p < e && (d = (unsigned)*p - '0') <= 9) {
        v = v * 10 + d;
        p++;
        if (v > 255 || (p < e && (unsigned)*p - '0' <= 9)) {
          return 0; /* over 255, or a fourth digit */
        }
      }
    }
    out[part] = (uint8_t)v;
  }
  return p == e;
}

/* Value of a hex digit, -1 for any other octet. */
static int hexval(int c) {
  static const signed char hex[256] = {
      ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
      ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
      ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
      ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16};
  return hex[c & 0xff] - 1;
}

int mdspf__ip6_parse(const char *s, size_t n, uint8_t out[16]) {
  uint8_t buf[16];
  size_t i = 0;
  int words = 0;      /* 16-bit groups written */
  int gap = -1;       /* group index where "::" stands */
  if (n < 2 || n > 45) {
    return 0;
  }
  memset(buf, 0, sizeof buf);
  if (s[0] == ':') {
    if (s[1] != ':') {
      return 0;
    }
    gap = 0;
    i = 2;
    if (i == n) {
      memcpy(out, buf, 16);
      return 1;
    }
  }
  while (i < n) {
    size_t start = i;
    unsigned v = 0;
    int digits = 0, h;
    if (words >= 8) {
      return 0;
    }
    while (i < n && (h = hexval((unsigned char)s[i])) >= 0) {
      if (digits == 4) {
        return 0;
      }
      v = (v << 4) | (unsigned)h;
      digits++;
      i++;
    }
    if (i < n && s[i] == '.') {
      /* embedded dotted quad: must be the last 32 bits */
      if (words > 6) {
        return 0;
      }
      if (!mdspf__ip4_parse(s + start, n - start, buf + words * 2)) {
        return 0;
      }
      words += 2;
      i = n;
      break;
    }
    if (digits == 0) {
      return 0;
    }
    buf[words * 2] = (uint8_t)(v >> 8);
    buf[words * 2 + 1] = (uint8_t)(v & 0xff);
    words++;
    if (i == n) {
      break;
    }
    if (s[i] != ':') {
      return 0;
    }
    i++;
    if (i < n && s[i] == ':') {
      if (gap >= 0) {
        return 0; /* second "::" */
      }
      gap = words;
      i++;
      if (i == n) {
        break;
      }
    } else if (i == n) {
      return 0; /* trailing single ':' */
    }
  }
  if (gap >= 0) {
    int tail = words - gap;
    if (words >= 8) {
      return 0; /* "::" must stand for at least one group */
    }
    memmove(buf + (8 - tail) * 2, buf + gap * 2, (size_t)tail * 2);
    memset(buf + gap * 2, 0, (size_t)(8 - tail - gap) * 2);
  } else if (words != 8) {
    return 0;
  }
  memcpy(out, buf, 16);
  return 1;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0xff, 0xff};

int mdspf__ip_parse(const char *s, size_t n, int unmap, int *family,
                    uint8_t out[16]) {
  uint8_t a[16];
  if (mdspf__ip4_parse(s, n, a)) {
    memset(out, 0, 16);
    memcpy(out, a, 4);
    *family = 4;
    return 1;
  }
  if (mdspf__ip6_parse(s, n, a)) {
    if (unmap && memcmp(a, v4mapped_prefix, 12) == 0) {
      memset(out, 0, 16);
      memcpy(out, a + 12, 4);
      *family = 4;
    } else {
      memcpy(out, a, 16);
      *family = 6;
    }
    return 1;
  }
  return 0;
}

void mdspf__ip4_format(const uint8_t a[4], char out[16]) {
  mdspf__sbuf sb;
  int k;
  mdspf__sbuf_init(&sb, out, 16);
  for (k = 0; k < 4; k++) {
    if (k) {
      mdspf__sbuf_putc(&sb, '.');
    }
    mdspf__sbuf_putu(&sb, a[k]);
  }
}

void mdspf__ip6_format(const uint8_t a[16], char out[46]) {
  static const char hex[] = "0123456789abcdef";
  mdspf__sbuf sb;
  unsigned w[8];
  int k, best = -1, bestlen = 0;
  mdspf__sbuf_init(&sb, out, 46);
  for (k = 0; k < 8; k++) {
    w[k] = ((unsigned)a[2 * k] << 8) | a[2 * k + 1];
  }
  /* RFC 5952: compress the longest run (>= 2) of zero groups, first one
   * on ties. */
  for (k = 0; k < 8;) {
    int j = k;
    while (j < 8 && w[j] == 0) {
      j++;
    }
    if (j - k > bestlen && j - k >= 2) {
      best = k;
      bestlen = j - k;
    }
    k = (j == k) ? k + 1 : j;
  }
  for (k = 0; k < 8; k++) {
    if (k == best) {
      mdspf__sbuf_puts(&sb, "::");
      k += bestlen - 1;
      continue;
    }
    if (k > 0 && !(best >= 0 && k == best + bestlen)) {
      mdspf__sbuf_putc(&sb, ':');
    }
    {
      char g[4];
      int gl = 0, shift;
      int started = 0;
      for (shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (w[k] >> shift) & 0xf;
        if (d || started || shift == 0) {
          g[gl++] = hex[d];
          started = 1;
        }
      }
      mdspf__sbuf_put(&sb, g, (size_t)gl);
    }
  }
}

int mdspf__prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned full = bits / 8, rest = bits % 8;
  if (full && memcmp(a, b, full) != 0) {
    return 0;
  }
  if (rest) {
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    if ((a[full] & mask) != (b[full] & mask)) {
      return 0;
    }
  }
  return 1;
}

void mdspf__reverse_name(int family, const uint8_t *addr, char out[74]) {
  static const char hex[] = "0123456789abcdef";
  mdspf__sbuf sb;
  int k;
  mdspf__sbuf_init(&sb, out, 74);
  if (family == 4) {
    for (k = 3; k >= 0; k--) {
      mdspf__sbuf_putu(&sb, addr[k]);
      mdspf__sbuf_putc(&sb, '.');
    }
    mdspf__sbuf_puts(&sb, "in-addr.arpa");
  } else {
    for (k = 15; k >= 0; k--) {
      mdspf__sbuf_putc(&sb, hex[addr[k] & 0xf]);
      mdspf__sbuf_putc(&sb, '.');
      mdspf__sbuf_putc(&sb, hex[addr[k] >> 4]);
      mdspf__sbuf_putc(&sb, '.');
    }
    mdspf__sbuf_puts(&sb, "ip6.arpa");
  }
}

void mdspf__ip_macro_i(int family, const uint8_t *addr, char out[64]) {
  static const char hex[] = "0123456789ABCDEF";
  if (family == 4) {
    mdspf__ip4_format(addr, out);
  } else {
    mdspf__sbuf sb;
    int k;
    mdspf__sbuf_init(&sb, out, 64);
    for (k = 0; k < 16; k++) {
      if (k) {
        mdspf__sbuf_putc(&sb, '.');
      }
      mdspf__sbuf_putc(&sb, hex[addr[k] >> 4]);
      mdspf__sbuf_putc(&sb, '.');
      mdspf__sbuf_putc(&sb, hex[addr[k] & 0xf]);
    }
  }
}

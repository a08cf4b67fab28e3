/*
 * examples/toolutil.c -- helpers shared by the command-line tools.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "toolutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void put_safe_n(FILE *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    putc((c >= 0x20 && c < 0x7f) ? (int)c : '?', out);
  }
}

void put_safe(FILE *out, const char *s) {
  if (s != NULL)
    put_safe_n(out, s, strlen(s));
}

void put_echo(FILE *out, const char *s) {
  size_t n = strlen(s);
  put_safe_n(out, s, n > ECHO_MAX ? ECHO_MAX : n);
  if (n > ECHO_MAX)
    fputs("...", out);
}

void show_span(FILE *out, const char *indent, const char *text, size_t tlen,
               size_t off, size_t len) {
  if (off > tlen)
    off = tlen;
  if (len > tlen - off)
    len = tlen - off;
  size_t start = 0, end = tlen;
  if (tlen > SPAN_WIDTH) {
    start = off > SPAN_LEFT ? off - SPAN_LEFT : 0;
    end = start + SPAN_WIDTH < tlen ? start + SPAN_WIDTH : tlen;
  }
  size_t mark_end = off + len < end ? off + len : end;

  fputs(indent, out);
  if (start > 0)
    fputs("...", out);
  put_safe_n(out, text + start, end - start);
  if (end < tlen)
    fputs("...", out);
  putc('\n', out);

  fputs(indent, out);
  if (start > 0)
    fputs("   ", out);
  for (size_t i = start; i < off; i++)
    putc(' ', out);
  putc('^', out);
  for (size_t i = off + 1; i < mark_end; i++)
    putc('~', out);
  putc('\n', out);
}

void json_str_n(FILE *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  putc('"', out);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      putc('\\', out);
      putc(c, out);
    } else if (c < 0x20 || c >= 0x7f) {
      fputs("\\u00", out);
      putc(hex[c >> 4], out);
      putc(hex[c & 0x0f], out);
    } else {
      putc(c, out);
    }
  }
  putc('"', out);
}

void json_str(FILE *out, const char *s) {
  if (s == NULL)
    fputs("null", out);
  else
    json_str_n(out, s, strlen(s));
}

int parse_long(const char *s, long *out) {
  if (*s == '\0')
    return -1;
  for (const char *p = s; *p != '\0'; p++)
    if (*p < '0' || *p > '9')
      return -1;
  errno = 0;
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == NULL || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

/* A port: 1..65535, decimal digits only. */
static int valid_port(const char *p, size_t n) {
  unsigned long v = 0;
  if (n == 0 || n > 5)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return 0;
    v = v * 10 + (unsigned long)(p[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

/* One server of a --server list. */
static int valid_server(const char *s, size_t n) {
  char host[INET6_ADDRSTRLEN + 1];
  unsigned char addr[16];
  const char *h = s, *port = NULL;
  size_t hlen = n, plen = 0;
  int family = AF_INET;
  if (n > 0 && s[0] == '[') {
    const char *rb = memchr(s, ']', n);
    if (rb == NULL)
      return 0;
    h = s + 1;
    hlen = (size_t)(rb - h);
    size_t rest = n - (size_t)(rb + 1 - s);
    if (rest > 0) {
      if (rb[1] != ':')
        return 0;
      port = rb + 2;
      plen = rest - 1;
    }
    family = AF_INET6;
  } else {
    const char *colon = memchr(s, ':', n);
    if (colon != NULL &&
        memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) != NULL) {
      family = AF_INET6;
    } else if (colon != NULL) {
      hlen = (size_t)(colon - s);
      port = colon + 1;
      plen = n - hlen - 1;
    }
  }
  if (hlen == 0 || hlen >= sizeof host)
    return 0;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  if (inet_pton(family, host, addr) != 1)
    return 0;
  return port == NULL || valid_port(port, plen);
}

int valid_server_list(const char *list) {
  const char *p = list;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
    if (!valid_server(p, n))
      return 0;
    if (comma == NULL)
      return 1;
    p = comma + 1;
  }
}

/* ASCII lower case. */
static char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Damerau-Levenshtein distance of a[0..an) (any case) and the lower-case
 * name b[0..bn), when it is at most 1: 0 or 1; else 2. */
static int edit_distance_01(const char *a, size_t an, const char *b,
                            size_t bn) {
  size_t i = 0;
  if (an == bn) {
    while (i < an && lower(a[i]) == b[i])
      i++;
    if (i == an)
      return 0;
    if (i + 1 < an && lower(a[i]) == b[i + 1] && lower(a[i + 1]) == b[i]) {
      i += 2; /* two neighbours swapped */
    } else {
      i++; /* one letter changed */
    }
    while (i < an && lower(a[i]) == b[i])
      i++;
    return i == an ? 1 : 2;
  }
  if (an + 1 == bn || bn + 1 == an) {
    /* one letter added or dropped: skip it in the longer one */
    const char *l = an > bn ? a : b, *s = an > bn ? b : a;
    size_t sn = an > bn ? bn : an;
    while (i < sn && lower(l[i]) == lower(s[i]))
      i++;
    for (; i < sn; i++)
      if (lower(l[i + 1]) != lower(s[i]))
        return 2;
    return 1;
  }
  return 2;
}

int suggest_term(const char *text, size_t tlen, size_t off, size_t len,
                 char *buf, size_t bufsz) {
  /* RFC 7208 5 (mechanisms) and 6 (modifiers, with their '=') */
  static const char *const names[] = {"all",    "include", "a",       "mx",
                                      "ptr",    "ip4",     "ip6",     "exists",
                                      "redirect=", "exp="};
  const char *found[sizeof names / sizeof names[0]];
  size_t nfound = 0, used = 0;
  if (bufsz > 0)
    buf[0] = '\0';
  if (off > tlen || len > tlen - off)
    return 0;
  const char *p = text + off, *end = text + off + len;
  if (p < end && (*p == '+' || *p == '-' || *p == '~' || *p == '?'))
    p++;
  const char *name = p;
  while (p < end && *p != ':' && *p != '/' && *p != '=')
    p++;
  size_t nlen = (size_t)(p - name);
  if (nlen < 2)
    return 0;
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    size_t klen = strlen(names[k]);
    int modifier = names[k][klen - 1] == '=';
    int d = edit_distance_01(name, nlen, names[k], modifier ? klen - 1 : klen);
    if (d == 1 || (d == 0 && modifier))
      found[nfound++] = names[k];
  }
  for (size_t k = 0; k < nfound; k++) {
    const char *sep = k == 0 ? "" : k + 1 == nfound ? " or " : ", ";
    int n = snprintf(buf + used, bufsz > used ? bufsz - used : 0, "%s%s", sep,
                     found[k]);
    if (n < 0 || (size_t)n >= (bufsz > used ? bufsz - used : 0)) {
      if (bufsz > 0)
        buf[0] = '\0';
      return 0;
    }
    used += (size_t)n;
  }
  return nfound > 0;
}

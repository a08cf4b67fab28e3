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

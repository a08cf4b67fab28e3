/*
 * lib/util/strbuf.c -- the bounded string builder.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "util/strbuf.h"

#include <stdint.h>
#include <string.h>

void mdspf__sbuf_init(mdspf__sbuf *sb, char *buf, size_t cap) {
  sb->buf = buf;
  sb->cap = buf ? cap : 0;
  sb->len = 0;
  sb->need = 0;
  sb->overflow = 0;
  if (sb->cap) {
    buf[0] = '\0';
  } else {
    sb->overflow = 1; /* not even the NUL fits */
  }
}

void mdspf__sbuf_put(mdspf__sbuf *sb, const char *s, size_t n) {
  size_t room;
  sb->need = n > SIZE_MAX - sb->need ? SIZE_MAX : sb->need + n;
  if (sb->cap == 0) {
    return;
  }
  room = sb->cap - 1 - sb->len;
  if (n > room) {
    n = room;
    sb->overflow = 1;
  }
  if (n) {
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
  }
  sb->buf[sb->len] = '\0';
}

void mdspf__sbuf_puts(mdspf__sbuf *sb, const char *s) {
  mdspf__sbuf_put(sb, s, strlen(s));
}

void mdspf__sbuf_putc(mdspf__sbuf *sb, char c) { mdspf__sbuf_put(sb, &c, 1); }

void mdspf__sbuf_putu(mdspf__sbuf *sb, unsigned long v) {
  mdspf__sbuf_putu64(sb, v);
}

void mdspf__sbuf_putu64(mdspf__sbuf *sb, uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + (v % 10));
    v /= 10;
  } while (v && i > 0);
  mdspf__sbuf_put(sb, tmp + i, sizeof tmp - i);
}

void mdspf__sbuf_unput(mdspf__sbuf *sb, size_t n) {
  if (n > sb->len) {
    n = sb->len;
  }
  sb->len -= n;
  sb->need -= n;
  if (sb->cap) {
    sb->buf[sb->len] = '\0';
  }
}

mdspf_status mdspf__sbuf_finish(const mdspf__sbuf *sb, size_t *needed) {
  if (needed) {
    *needed = sb->need;
  }
  return sb->overflow ? MDSPF_E_BUFFER : MDSPF_OK;
}

void mdspf__sbuf_put_escaped(mdspf__sbuf *sb, const char *s, size_t n) {
  size_t i, run = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c <= 0x7e && c != '\\') {
      continue;
    }
    mdspf__sbuf_put(sb, s + run, i - run);
    run = i + 1;
    if (c == '\\') {
      mdspf__sbuf_put(sb, "\\\\", 2);
    } else {
      char e[4];
      e[0] = '\\';
      e[1] = (char)('0' + c / 100);
      e[2] = (char)('0' + (c / 10) % 10);
      e[3] = (char)('0' + c % 10);
      mdspf__sbuf_put(sb, e, 4);
    }
  }
  mdspf__sbuf_put(sb, s + run, n - run);
}

void mdspf__sbuf_put_urlsafe(mdspf__sbuf *sb, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i, run = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c <= 0x7e) {
      continue;
    }
    mdspf__sbuf_put(sb, s + run, i - run);
    run = i + 1;
    {
      char e[3];
      e[0] = '%';
      e[1] = hex[c >> 4];
      e[2] = hex[c & 0xf];
      mdspf__sbuf_put(sb, e, 3);
    }
  }
  mdspf__sbuf_put(sb, s + run, n - run);
}

int mdspf__printable(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c > 0x7e) {
      return 0;
    }
  }
  return 1;
}

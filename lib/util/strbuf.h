/*
 * lib/util/strbuf.h -- the one bounded string builder of the library.
 * Private.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * It writes into a caller's buffer of cap bytes, keeps it NUL-terminated
 * (when cap > 0), drops what does not fit (setting overflow) and counts
 * the full length that was asked for (need, saturating at SIZE_MAX), so
 * every "buffer + size + *needed" function of the API reports the exact
 * length whatever the buffer size.
 */
#ifndef MDSPF_UTIL_STRBUF_H
#define MDSPF_UTIL_STRBUF_H

#include <maildrop-spf/spf.h>

#include <stddef.h>
#include <stdint.h>

typedef struct mdspf__sbuf {
  char *buf;
  size_t cap;
  size_t len;  /* bytes stored (< cap) */
  size_t need; /* bytes asked for, stored or not */
  int overflow;
} mdspf__sbuf;

/* cap may be 0 (buf is then never written). */
void mdspf__sbuf_init(mdspf__sbuf *sb, char *buf, size_t cap);
void mdspf__sbuf_put(mdspf__sbuf *sb, const char *s, size_t n);
void mdspf__sbuf_puts(mdspf__sbuf *sb, const char *s);
void mdspf__sbuf_putc(mdspf__sbuf *sb, char c);
void mdspf__sbuf_putu(mdspf__sbuf *sb, unsigned long v);
void mdspf__sbuf_putu64(mdspf__sbuf *sb, uint64_t v);
/* Text from outside (names from DNS, the sender) made printable US-ASCII
 * as DNS presentation format writes names: octets 0x20..0x7e but '\'
 * as they are, '\' as "\\", every other octet as "\DDD" (decimal). */
void mdspf__sbuf_put_escaped(mdspf__sbuf *sb, const char *s, size_t n);
/* An explanation made printable US-ASCII (RFC 7208 6.2): octets
 * 0x20..0x7e as they are, every other one URL-escaped as "%XX". */
void mdspf__sbuf_put_urlsafe(mdspf__sbuf *sb, const char *s, size_t n);
/* 1 when the n octets at s are all 0x20..0x7e. */
int mdspf__printable(const char *s, size_t n);

/* Drop the last n stored bytes (n <= len); need shrinks by as much. */
void mdspf__sbuf_unput(mdspf__sbuf *sb, size_t n);
/* The end of a "buf, bufsz, *needed" API call: *needed (if non-NULL)
 * gets the full length, and MDSPF_E_BUFFER when it did not fit. */
mdspf_status mdspf__sbuf_finish(const mdspf__sbuf *sb, size_t *needed);

#endif /* MDSPF_UTIL_STRBUF_H */

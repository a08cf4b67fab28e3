/*
 * lib/alloc.c -- allocator wrappers, bounded string sink, status strings.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *libc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

void mdspf__allocator_init(mdspf__allocator *a, mdspf_alloc_fn fn, void *ud) {
  a->fn = fn ? fn : libc_alloc;
  a->ud = fn ? ud : NULL;
}

void *mdspf__alloc(const mdspf__allocator *a, size_t n) {
  void *p;
  if (n == 0) {
    return NULL;
  }
  p = a->fn(a->ud, NULL, 0, n);
  if (p) {
    memset(p, 0, n);
  }
  return p;
}

void *mdspf__alloc_array(const mdspf__allocator *a, size_t n, size_t sz) {
  if (n == 0 || sz == 0 || n > SIZE_MAX / sz) {
    return NULL;
  }
  return mdspf__alloc(a, n * sz);
}

void *mdspf__realloc(const mdspf__allocator *a, void *p, size_t osize,
                     size_t nsize) {
  if (nsize == 0) {
    return NULL;
  }
  return a->fn(a->ud, p, p ? osize : 0, nsize);
}

void mdspf__free(const mdspf__allocator *a, void *p, size_t size) {
  if (p) {
    (void)a->fn(a->ud, p, size, 0);
  }
}

char *mdspf__strndup(const mdspf__allocator *a, const char *s, size_t n) {
  char *p;
  if (n == SIZE_MAX) {
    return NULL;
  }
  p = mdspf__alloc(a, n + 1);
  if (p) {
    if (n) {
      memcpy(p, s, n);
    }
    p[n] = '\0';
  }
  return p;
}

char *mdspf__strdup(const mdspf__allocator *a, const char *s) {
  return mdspf__strndup(a, s, strlen(s));
}

void mdspf__strfree(const mdspf__allocator *a, char *s) {
  if (s) {
    mdspf__free(a, s, strlen(s) + 1);
  }
}

/* ---- bounded sink ------------------------------------------------------- */

void mdspf__sbuf_init(mdspf__sbuf *sb, char *buf, size_t cap) {
  sb->buf = buf;
  sb->cap = cap;
  sb->len = 0;
  sb->overflow = 0;
  if (cap) {
    buf[0] = '\0';
  } else {
    sb->overflow = 1;
  }
}

void mdspf__sbuf_put(mdspf__sbuf *sb, const char *s, size_t n) {
  size_t room;
  if (sb->cap == 0) {
    sb->overflow = n > 0 || sb->overflow;
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
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + (v % 10));
    v /= 10;
  } while (v && i > 0);
  mdspf__sbuf_put(sb, tmp + i, sizeof tmp - i);
}

int mdspf__casecmpn(const char *a, const char *b, size_t n) {
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

/* ---- version and code strings ------------------------------------------- */

unsigned mdspf_version(void) { return MDSPF_VERSION_NUM; }

const char *mdspf_version_str(void) { return MDSPF_VERSION_STR; }

const char *mdspf_strerror(int status) {
  switch ((mdspf_status)status) {
  case MDSPF_OK:
    return "success";
  case MDSPF_E_NOMEM:
    return "out of memory";
  case MDSPF_E_INVAL:
    return "invalid argument";
  case MDSPF_E_SYNTAX:
    return "syntax error";
  case MDSPF_E_LIMIT:
    return "limit exceeded";
  case MDSPF_E_DNS:
    return "DNS failure";
  case MDSPF_E_TIMEOUT:
    return "time budget exceeded";
  case MDSPF_E_CANCELLED:
    return "cancelled";
  case MDSPF_E_STATE:
    return "operation not allowed in this state";
  case MDSPF_E_RECURSIVE:
    return "blocking call made from inside a callback";
  case MDSPF_E_IO:
    return "I/O error";
  case MDSPF_E_NORECORD:
    return "no SPF record where one is required";
  case MDSPF_E_MULTIREC:
    return "more than one SPF record";
  case MDSPF_E_NOTSUP:
    return "not supported";
  case MDSPF_E_BUFFER:
    return "buffer too small";
  }
  return "unknown status";
}

const char *mdspf_result_str(int result) {
  switch ((mdspf_result)result) {
  case MDSPF_NO_RESULT:
    return "no result";
  case MDSPF_NONE:
    return "none";
  case MDSPF_NEUTRAL:
    return "neutral";
  case MDSPF_PASS:
    return "pass";
  case MDSPF_FAIL:
    return "fail";
  case MDSPF_SOFTFAIL:
    return "softfail";
  case MDSPF_TEMPERROR:
    return "temperror";
  case MDSPF_PERMERROR:
    return "permerror";
  }
  return "invalid";
}

const char *mdspf_syntax_str(int code) {
  switch ((mdspf_syntax)code) {
  case MDSPF_SYN_OK:
    return "no error";
  case MDSPF_SYN_VERSION:
    return "record does not start with \"v=spf1\"";
  case MDSPF_SYN_TOO_LONG:
    return "record too long";
  case MDSPF_SYN_BAD_CHAR:
    return "character not allowed here";
  case MDSPF_SYN_UNKNOWN_MECH:
    return "unknown mechanism";
  case MDSPF_SYN_MISSING_ARG:
    return "required argument missing or empty";
  case MDSPF_SYN_UNEXPECTED_ARG:
    return "argument not allowed for this term";
  case MDSPF_SYN_BAD_DOMAIN:
    return "domain-spec must end in a macro or a valid top label";
  case MDSPF_SYN_BAD_MACRO:
    return "malformed macro";
  case MDSPF_SYN_MACRO_LETTER:
    return "macro letter not allowed here";
  case MDSPF_SYN_BAD_CIDR:
    return "invalid CIDR prefix length";
  case MDSPF_SYN_BAD_IP4:
    return "invalid IPv4 address";
  case MDSPF_SYN_BAD_IP6:
    return "invalid IPv6 address";
  case MDSPF_SYN_DUP_MODIFIER:
    return "modifier may appear only once";
  case MDSPF_SYN_BAD_MODIFIER:
    return "invalid modifier name";
  case MDSPF_SYN_TOO_MANY_TERMS:
    return "too many terms";
  }
  return "unknown syntax error";
}

const char *mdspf_term_kind_str(int kind) {
  switch ((mdspf_term_kind)kind) {
  case MDSPF_TERM_ALL:
    return "all";
  case MDSPF_TERM_INCLUDE:
    return "include";
  case MDSPF_TERM_A:
    return "a";
  case MDSPF_TERM_MX:
    return "mx";
  case MDSPF_TERM_PTR:
    return "ptr";
  case MDSPF_TERM_IP4:
    return "ip4";
  case MDSPF_TERM_IP6:
    return "ip6";
  case MDSPF_TERM_EXISTS:
    return "exists";
  case MDSPF_TERM_REDIRECT:
    return "redirect";
  case MDSPF_TERM_EXP:
    return "exp";
  case MDSPF_TERM_MODIFIER:
    return "modifier";
  }
  return "unknown";
}

const char *mdspf_dns_status_str(int status) {
  switch ((mdspf_dns_status)status) {
  case MDSPF_DNS_OK:
    return "ok";
  case MDSPF_DNS_NODATA:
    return "nodata";
  case MDSPF_DNS_NXDOMAIN:
    return "nxdomain";
  case MDSPF_DNS_TEMPFAIL:
    return "tempfail";
  case MDSPF_DNS_ERROR:
    return "error";
  }
  return "unknown";
}

const char *mdspf_rr_type_str(int rrtype) {
  switch (rrtype) {
  case MDSPF_RR_A:
    return "A";
  case MDSPF_RR_CNAME:
    return "CNAME";
  case MDSPF_RR_PTR:
    return "PTR";
  case MDSPF_RR_MX:
    return "MX";
  case MDSPF_RR_TXT:
    return "TXT";
  case MDSPF_RR_AAAA:
    return "AAAA";
  default:
    return "?";
  }
}

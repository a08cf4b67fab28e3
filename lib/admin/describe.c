/*
 * lib/admin/describe.c -- one readable line per record term, for people:
 * "every address", "192.0.2.0 - 192.0.2.255 (256 addresses)", "addresses
 * the SPF record of _spf.example.com permits", ...  Pure text work on a
 * parsed record: no DNS, no allocation.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/record.h"
#include "core/addr.h"
#include "core/macro.h"
#include "util/strbuf.h"

#include <string.h>

/* The library's bounded builder: it counts what did not fit, so *needed
 * is exact whatever the buffer size. */
typedef mdspf__sbuf out;

static void put(out *o, const char *s, size_t n) { mdspf__sbuf_put(o, s, n); }

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(out *o, uint64_t v) { mdspf__sbuf_putu64(o, v); }

/* ", which depends on the connecting IP and the sender" for the macro
 * letters used (only the letters that make the name request-dependent;
 * a value with only %%, %_ or %- escapes gets nothing). */
static void put_depends(out *o, unsigned letters) {
  static const struct {
    unsigned mask;
    const char *what;
  } parts[] = {
      {MDSPF__ML('i') | MDSPF__ML('v'), "the connecting IP"},
      {MDSPF__ML('s') | MDSPF__ML('l') | MDSPF__ML('o'), "the sender"},
      {MDSPF__ML('h'), "the HELO name"},
      {MDSPF__ML('p'), "the client's validated host name"},
      {MDSPF__ML('d'), "the checked domain"},
  };
  const char *found[5];
  size_t n = 0, k;
  for (k = 0; k < sizeof parts / sizeof parts[0]; k++) {
    if (letters & parts[k].mask) {
      found[n++] = parts[k].what;
    }
  }
  if (n == 0) {
    return;
  }
  puts_(o, ", which depends on ");
  for (k = 0; k < n; k++) {
    if (k > 0) {
      puts_(o, k + 1 == n ? " and " : ", ");
    }
    puts_(o, found[k]);
  }
}

/* The target domain of a term: its value as written (and, for macros,
 * what it depends on), or "the checked domain" when it has none.
 * with_depends = 0 leaves the dependency clause to the caller. */
static void put_target(out *o, const mdspf_record *rec, const mdspf__term *t,
                       int with_depends) {
  if (t->value == MDSPF__NO_STR || t->value_len == 0) {
    puts_(o, "the checked domain");
    return;
  }
  put(o, rec->pool + t->value, t->value_len);
  if (with_depends) {
    put_depends(o, mdspf__term_letters(rec, t));
  }
}

static void put_cidrs(out *o, const mdspf__term *t) {
  if (t->cidr4 >= 0) {
    puts_(o, ", IPv4 /");
    put_u64(o, (uint64_t)t->cidr4);
  }
  if (t->cidr6 >= 0) {
    puts_(o, ", IPv6 /");
    put_u64(o, (uint64_t)t->cidr6);
  }
}

static void put_count(out *o, uint64_t n) {
  puts_(o, " (");
  put_u64(o, n);
  puts_(o, n == 1 ? " address)" : " addresses)");
}

/* ip4: the real range, host bits beyond the prefix cleared. */
static void put_ip4(out *o, const mdspf__term *t) {
  unsigned bits = t->cidr4 >= 0 ? (unsigned)t->cidr4 : 32u;
  uint32_t a = ((uint32_t)t->addr[0] << 24) | ((uint32_t)t->addr[1] << 16) |
               ((uint32_t)t->addr[2] << 8) | (uint32_t)t->addr[3];
  uint32_t mask = bits == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - bits));
  uint32_t lo = a & mask, hi = lo | ~mask;
  uint8_t b[4];
  char text[16];
  int k;
  for (k = 0; k < 4; k++) {
    b[k] = (uint8_t)(lo >> (24 - 8 * k));
  }
  mdspf__ip4_format(b, text);
  puts_(o, text);
  if (bits < 32) {
    for (k = 0; k < 4; k++) {
      b[k] = (uint8_t)(hi >> (24 - 8 * k));
    }
    mdspf__ip4_format(b, text);
    puts_(o, " - ");
    puts_(o, text);
  }
  put_count(o, (uint64_t)1 << (32 - bits));
}

/* ip6: the network in prefix notation, host bits cleared. */
static void put_ip6(out *o, const mdspf__term *t) {
  unsigned bits = t->cidr6 >= 0 ? (unsigned)t->cidr6 : 128u;
  uint8_t net[16];
  char text[46];
  unsigned k, host = 128 - bits;
  for (k = 0; k < 16; k++) {
    unsigned keep = bits > 8 * k ? bits - 8 * k : 0;
    unsigned m = keep >= 8 ? 0xffu : keep == 0 ? 0u : 0xffu << (8 - keep);
    net[k] = (uint8_t)(t->addr[k] & m & 0xffu);
  }
  mdspf__ip6_format(net, text);
  puts_(o, text);
  if (bits == 128) {
    put_count(o, 1);
    return;
  }
  puts_(o, "/");
  put_u64(o, bits);
  if (host <= 32) {
    put_count(o, (uint64_t)1 << host);
  } else {
    puts_(o, " (2^");
    put_u64(o, host);
    puts_(o, " addresses)");
  }
}

mdspf_status mdspf_record_term_describe(const mdspf_record *rec, size_t i, char *buf,
                               size_t bufsz, size_t *needed) {
  const mdspf__term *t;
  char dummy[1];
  out o;
  if (!rec || i >= rec->nterms || (!buf && bufsz)) {
    return MDSPF_E_INVAL;
  }
  if (!buf) {
    buf = dummy;
    bufsz = sizeof dummy;
  }
  t = &rec->terms[i];
  mdspf__sbuf_init(&o, buf, bufsz);
  switch (t->kind) {
  case MDSPF_TERM_ALL:
    puts_(&o, "every address");
    break;
  case MDSPF_TERM_INCLUDE:
    puts_(&o, "addresses the SPF record of ");
    put_target(&o, rec, t, 1);
    if (mdspf__term_letters(rec, t)) {
      puts_(&o, ",");
    }
    puts_(&o, " permits");
    break;
  case MDSPF_TERM_A:
    puts_(&o, "the addresses of ");
    put_target(&o, rec, t, 0);
    puts_(&o, " (A/AAAA)");
    put_depends(&o, mdspf__term_letters(rec, t));
    put_cidrs(&o, t);
    break;
  case MDSPF_TERM_MX:
    puts_(&o, "the addresses of the mail exchangers of ");
    put_target(&o, rec, t, 1);
    put_cidrs(&o, t);
    break;
  case MDSPF_TERM_PTR:
    puts_(&o, "clients whose validated reverse name ends in ");
    put_target(&o, rec, t, 1);
    puts_(&o, " (deprecated)");
    break;
  case MDSPF_TERM_IP4:
    put_ip4(&o, t);
    break;
  case MDSPF_TERM_IP6:
    put_ip6(&o, t);
    break;
  case MDSPF_TERM_EXISTS:
    puts_(&o, "any address, if ");
    put_target(&o, rec, t, 1);
    if (mdspf__term_letters(rec, t)) {
      puts_(&o, ",");
    }
    puts_(&o, " has an A record");
    break;
  case MDSPF_TERM_REDIRECT:
    if (mdspf__term_letters(rec, t)) {
      puts_(&o, "if nothing matched, the result of the record of ");
      put_target(&o, rec, t, 1);
    } else {
      puts_(&o, "if nothing matched, the result of ");
      put_target(&o, rec, t, 0);
      puts_(&o, "'s record");
    }
    break;
  case MDSPF_TERM_EXP:
    puts_(&o, "the explanation comes from the TXT record of ");
    put_target(&o, rec, t, 1);
    break;
  default:
    puts_(&o, "unknown modifier, ignored");
    break;
  }
  return mdspf__sbuf_finish(&o, needed);
}

/*
 * lib/core/record.c -- SPF record parser (RFC 7208 sections 4.5, 4.6, 12) and
 * the immutable compiled record: one allocation holding the header, the
 * term array and a string pool.  No allocation per term.
 *
 * The parser makes one pass over the text, term by term, and the
 * mechanism is told by the length and letters of its name (no search of
 * a table of names).  A term of a common shape without macros (ip4:,
 * ip6:, include:, a/mx with CIDR lengths, all, redirect= ...) is read
 * front to back once by fast_term and filled in as it goes.  Anything
 * else -- macros, unusual names, every error -- goes to the general term
 * parser, which scans the term once through a class table, noting where
 * its first ':', '/', '=' and '%' are and its first octet that no record
 * may hold, and works from those positions; it alone decides errors and
 * their positions.  A value with '%' is validated by the macro scanner,
 * which also gives the macro letters: they are kept in the term
 * (mdspf__term.letters), so nobody scans a value for them again.  Terms
 * are collected on the stack; a record with more than STACK_TERMS is
 * counted once it has that many and parsed on into its own allocation.
 *
 * The pool: the record text and its NUL, then a second copy of the text
 * in which the octet after each name and after each value is a NUL, so
 * every name and value is a C string inside its own term's span (a
 * term "[q]name[:value][/cidr]" plus the space or NUL after it has room
 * for "name\0value\0").
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/record.h"
#include "core/addr.h"
#include "core/domain.h"
#include "core/macro.h"
#include "util/chars.h"
#include "util/strbuf.h"

#include <stdatomic.h>
#include <string.h>

typedef struct parse_err {
  int code;
  size_t off, len;
} parse_err;

static int fail(parse_err *e, int code, size_t off, size_t len) {
  e->code = code;
  e->off = off;
  e->len = len;
  return code;
}

/* Octet c is letter l (lower case) in either case: only l and its upper
 * case have l's bits once 0x20 is set. */
#define IS_LETTER(c, l) ((((unsigned char)(c)) | 0x20u) == (unsigned)(l))

/* The library's exported functions are called through the dynamic
 * linker's table even from inside the library (a program may interpose
 * them), and cannot be inlined there: the parser and the free path use
 * these static ones, and the exported functions are wrappers. */
static int is_spf(const char *txt, size_t len) {
  if (!txt || len < 6 || !IS_LETTER(txt[0], 'v') || txt[1] != '=' ||
      !IS_LETTER(txt[2], 's') || !IS_LETTER(txt[3], 'p') ||
      !IS_LETTER(txt[4], 'f') || txt[5] != '1') {
    return 0;
  }
  return len == 6 || txt[6] == ' ';
}

int mdspf_record_is_spf(const char *txt, size_t len) {
  return is_spf(txt, len);
}

static void record_unref(const mdspf_record *rec);

/* n octets at p spell the lower-case letters l, in any case. */
static int letters_eq(const char *p, const char *l, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (!IS_LETTER(p[i], l[i])) {
      return 0;
    }
  }
  return 1;
}

/* CIDR digits: "0" or no leading zero, at most 3 digits, <= max. */
static int parse_cidr(const char *s, size_t n, unsigned max, int16_t *out) {
  unsigned v = 0;
  size_t i;
  if (n == 0 || n > 3 || (n > 1 && s[0] == '0')) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    if (!mdspf__is_digit((unsigned char)s[i])) {
      return 0;
    }
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > max) {
    return 0;
  }
  *out = (int16_t)v;
  return 1;
}

/* Split a trailing dual-cidr-length off r[0..*n): updates *n. */
static int take_dual_cidr(const char *r, size_t *n, size_t base, int16_t *c4,
                          int16_t *c6, parse_err *e) {
  size_t end = *n, k;
  k = end;
  while (k > 0 && mdspf__is_digit((unsigned char)r[k - 1])) {
    k--;
  }
  if (k < end && k >= 2 && r[k - 1] == '/' && r[k - 2] == '/') {
    if (!parse_cidr(r + k, end - k, 128, c6)) {
      return fail(e, MDSPF_SYN_BAD_CIDR, base + k - 2, end - k + 2);
    }
    end = k - 2;
  }
  k = end;
  while (k > 0 && mdspf__is_digit((unsigned char)r[k - 1])) {
    k--;
  }
  if (k < end && k >= 1 && r[k - 1] == '/' && !(k >= 2 && r[k - 2] == '/')) {
    if (!parse_cidr(r + k, end - k, 32, c4)) {
      return fail(e, MDSPF_SYN_BAD_CIDR, base + k - 1, end - k + 1);
    }
    end = k - 1;
  }
  *n = end;
  return MDSPF_SYN_OK;
}

/* ---- the term scanner ---------------------------------------------------- */

/* Octet classes: 0 nothing to note, E the term separator (SP), B an
 * octet no record may hold (controls, DEL, 8-bit), M one whose first
 * position the parser needs (: / = %). */
enum { C_0 = 0, C_E = 1, C_B = 2, C_M = 3 };
#define E C_E
#define B C_B
#define M C_M
static const unsigned char octet_class[256] = {
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    E, 0, 0, 0, 0, M, 0, 0, 0, 0, 0, 0, 0, 0, 0, M,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, M, 0, 0, M, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
};
#undef E
#undef B
#undef M

/* Octet classes for names and labels. */
enum { I_ALPHA = 1, I_DIGIT = 2, I_DASH = 4, I_ALNUM = I_ALPHA | I_DIGIT };
#define A I_ALPHA
#define D I_DIGIT
#define H I_DASH
static const unsigned char ident_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, H, 0, 0,
    D, D, D, D, D, D, D, D, D, D, 0, 0, 0, 0, 0, 0,
    0, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    A, A, A, A, A, A, A, A, A, A, A, 0, 0, 0, 0, 0,
    0, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    A, A, A, A, A, A, A, A, A, A, A, 0, 0, 0, 0, 0,
};
#undef A
#undef D
#undef H

#define NONE ((size_t)-1)

/* What one pass over a term found: positions in the record text. */
typedef struct scan {
  size_t start, end;       /* the term is text[start..end) */
  size_t colon, slash, eq; /* first ':', '/', '=' (NONE if none) */
  size_t pct;              /* first '%' */
  size_t bad;              /* first octet outside 0x21..0x7e */
} scan;

static size_t scan_term(const char *txt, size_t len, size_t i, scan *s) {
  const unsigned char *u = (const unsigned char *)txt;
  s->start = i;
  s->colon = s->slash = s->eq = s->pct = s->bad = NONE;
  for (;;) {
    unsigned k = C_0;
    /* four octets at a time while none of them needs a look */
    while (i + 4 <= len &&
           !(octet_class[u[i]] | octet_class[u[i + 1]] |
             octet_class[u[i + 2]] | octet_class[u[i + 3]])) {
      i += 4;
    }
    while (i < len && (k = octet_class[u[i]]) == C_0) {
      i++;
    }
    if (i == len || k == C_E) {
      break;
    }
    if (k == C_M) {
      switch (u[i]) {
      case ':':
        s->colon = s->colon == NONE ? i : s->colon;
        break;
      case '/':
        s->slash = s->slash == NONE ? i : s->slash;
        break;
      case '=':
        s->eq = s->eq == NONE ? i : s->eq;
        break;
      default: /* '%' */
        s->pct = s->pct == NONE ? i : s->pct;
        break;
      }
    } else if (s->bad == NONE) {
      s->bad = i;
    }
    i++;
  }
  s->end = i;
  return i;
}

/* text[b..e) is a modifier name: ALPHA *( ALPHA / DIGIT / - _ . ) */
static int modifier_name(const char *txt, size_t b, size_t e) {
  if (b == e || !mdspf__is_alpha((unsigned char)txt[b])) {
    return 0;
  }
  for (b++; b < e; b++) {
    int c = (unsigned char)txt[b];
    if (!mdspf__is_alnum(c) && c != '-' && c != '_' && c != '.') {
      return 0;
    }
  }
  return 1;
}

/* The mechanism named by n octets at p (any case), 0 if none: told by
 * the length and the letters; digits are compared as they are. */
static int mech_kind(const char *p, size_t n) {
  switch (n) {
  case 1:
    return IS_LETTER(p[0], 'a') ? MDSPF_TERM_A : 0;
  case 2:
    return IS_LETTER(p[0], 'm') && IS_LETTER(p[1], 'x') ? MDSPF_TERM_MX : 0;
  case 3:
    if (IS_LETTER(p[0], 'i') && IS_LETTER(p[1], 'p')) {
      return p[2] == '4' ? MDSPF_TERM_IP4 : p[2] == '6' ? MDSPF_TERM_IP6 : 0;
    }
    if (IS_LETTER(p[0], 'a')) {
      return letters_eq(p + 1, "ll", 2) ? MDSPF_TERM_ALL : 0;
    }
    return letters_eq(p, "ptr", 3) ? MDSPF_TERM_PTR : 0;
  case 6:
    return letters_eq(p, "exists", 6) ? MDSPF_TERM_EXISTS : 0;
  case 7:
    return letters_eq(p, "include", 7) ? MDSPF_TERM_INCLUDE : 0;
  default:
    return 0;
  }
}

/* Length of a mechanism's name, by kind. */
static size_t mech_len(const mdspf__term *t) {
  static const unsigned char len_of[] = {0, 3, 7, 1, 2, 3, 3, 3, 6};
  return t->kind < sizeof len_of ? len_of[t->kind] : 0;
}

/* The macro part of a value text[v..v+n) inside the term scanned as *s:
 * validation (domain-spec rules: no SP, no c/r/t), the letters and the
 * flags.  Only a value with '%' is looked at again.  *ends_macro: the
 * value ends with a macro-expand. */
static int value_macros(const char *txt, const scan *s, size_t v, size_t n,
                        mdspf__term *term, int *ends_macro, parse_err *e) {
  *ends_macro = 0;
  if (s->pct != NONE && s->pct >= v && s->pct < v + n) {
    unsigned letters = 0;
    size_t eo = 0, el = 0;
    int rc = mdspf__macro_scan(txt + v, n, MDSPF__MS_DOMAIN, &letters,
                               ends_macro, &eo, &el);
    if (rc != MDSPF_SYN_OK) {
      return fail(e, rc, v + eo, el);
    }
    term->flags |= MDSPF__TF_MACROS;
    if (letters & MDSPF__ML('p')) {
      term->flags |= MDSPF__TF_NEEDS_P;
    }
    term->letters = letters;
    return MDSPF_SYN_OK;
  }
  if (s->bad != NONE && s->bad >= v && s->bad < v + n) {
    return fail(e, MDSPF_SYN_BAD_CHAR, s->bad, 1);
  }
  return MDSPF_SYN_OK;
}

/* domain-spec = macro-string domain-end;
 * domain-end  = ( "." toplabel [ "." ] ) / macro-expand            */
static int domain_spec(const char *txt, const scan *s, size_t v, size_t n,
                       mdspf__term *term, parse_err *e) {
  const char *p = txt + v;
  size_t end, dot;
  int ends_macro, rc;
  if (n == 0) {
    return fail(e, MDSPF_SYN_MISSING_ARG, v, 0);
  }
  rc = value_macros(txt, s, v, n, term, &ends_macro, e);
  if (rc != MDSPF_SYN_OK || ends_macro) {
    return rc;
  }
  end = n;
  if (p[end - 1] == '.') {
    end--;
  }
  dot = end;
  while (dot > 0 && p[dot - 1] != '.') {
    dot--;
  }
  if (dot == 0 || !mdspf__toplabel_ok(p + dot, end - dot)) {
    /* point at the would-be top label (or the whole spec) */
    if (dot == 0) {
      return fail(e, MDSPF_SYN_BAD_DOMAIN, v, n);
    }
    return fail(e, MDSPF_SYN_BAD_DOMAIN, v + dot, end - dot ? end - dot : 1);
  }
  return MDSPF_SYN_OK;
}

static int qual_result(int c) {
  switch (c) {
  case '-':
    return MDSPF_FAIL;
  case '~':
    return MDSPF_SOFTFAIL;
  case '?':
    return MDSPF_NEUTRAL;
  default:
    return MDSPF_PASS;
  }
}

/* The parse state of one record. */
typedef struct parser {
  const char *txt;
  size_t len;
  uint32_t names; /* pool offset of the second copy of the text */
  int32_t redirect, exp;
  int general_only; /* no fast_term: see mdspf__record_parse_general */
  parse_err e;
} parser;

static void set_value(const parser *P, mdspf__term *t, size_t v, size_t n) {
  t->value = P->names + (uint32_t)v;
  t->value_len = (uint32_t)n;
}

/* A modifier: name at text[s->start..s->eq), value after the '='. */
static int parse_modifier(parser *P, const scan *s, mdspf__term *t,
                          uint32_t index) {
  const char *txt = P->txt;
  size_t nl = s->eq - s->start, v = s->eq + 1, vl = s->end - v;
  int ends_macro, rc;
  set_value(P, t, v, vl);
  if (nl == 8 && letters_eq(txt + s->start, "redirect", 8)) {
    t->kind = MDSPF_TERM_REDIRECT;
    if (P->redirect >= 0) {
      return fail(&P->e, MDSPF_SYN_DUP_MODIFIER, s->start, s->end - s->start);
    }
    P->redirect = (int32_t)index;
    return domain_spec(txt, s, v, vl, t, &P->e);
  }
  if (nl == 3 && letters_eq(txt + s->start, "exp", 3)) {
    t->kind = MDSPF_TERM_EXP;
    if (P->exp >= 0) {
      return fail(&P->e, MDSPF_SYN_DUP_MODIFIER, s->start, s->end - s->start);
    }
    P->exp = (int32_t)index;
    return domain_spec(txt, s, v, vl, t, &P->e);
  }
  t->kind = MDSPF_TERM_MODIFIER;
  rc = value_macros(txt, s, v, vl, t, &ends_macro, &P->e);
  /* never expanded, so it never needs the validated name */
  t->flags &= (uint8_t)~MDSPF__TF_NEEDS_P;
  return rc;
}

/* A directive: [qualifier] mechanism; the name runs to the first ':' or
 * '/' (or the end of the term). */
static int parse_directive(parser *P, const scan *s, mdspf__term *t, size_t q) {
  const char *txt = P->txt;
  size_t o = s->start, tl = s->end - s->start, ne = s->end, rest;
  int kind;
  if (s->colon < ne) {
    ne = s->colon;
  }
  if (s->slash < ne) {
    ne = s->slash;
  }
  kind = mech_kind(txt + o + q, ne - o - q);
  if (!kind) {
    return fail(&P->e, MDSPF_SYN_UNKNOWN_MECH, o, tl);
  }
  t->kind = (uint8_t)kind;
  rest = s->end - ne; /* text[ne..end) starts with ':' or '/' or is empty */

  switch (kind) {
  case MDSPF_TERM_ALL:
    if (rest) {
      return fail(&P->e, MDSPF_SYN_UNEXPECTED_ARG, ne, rest);
    }
    return MDSPF_SYN_OK;

  case MDSPF_TERM_INCLUDE:
  case MDSPF_TERM_EXISTS:
  case MDSPF_TERM_PTR:
    if (rest == 0) {
      return kind == MDSPF_TERM_PTR
                 ? MDSPF_SYN_OK
                 : fail(&P->e, MDSPF_SYN_MISSING_ARG, o, tl);
    }
    if (txt[ne] != ':') {
      return fail(&P->e, MDSPF_SYN_UNEXPECTED_ARG, ne, rest);
    }
    set_value(P, t, ne + 1, rest - 1);
    if (rest == 1) {
      return fail(&P->e, MDSPF_SYN_MISSING_ARG, o, tl);
    }
    return domain_spec(txt, s, ne + 1, rest - 1, t, &P->e);

  case MDSPF_TERM_A:
  case MDSPF_TERM_MX: {
    size_t n = rest;
    int rc = take_dual_cidr(txt + ne, &n, ne, &t->cidr4, &t->cidr6, &P->e);
    if (rc != MDSPF_SYN_OK) {
      return rc;
    }
    if (n == 0) {
      return MDSPF_SYN_OK;
    }
    if (txt[ne] != ':') {
      return fail(&P->e, MDSPF_SYN_BAD_CIDR, ne, n);
    }
    set_value(P, t, ne + 1, n - 1);
    if (n == 1) {
      return fail(&P->e, MDSPF_SYN_MISSING_ARG, o, tl);
    }
    return domain_spec(txt, s, ne + 1, n - 1, t, &P->e);
  }

  default: { /* ip4, ip6: the first '/' after the ':' ends the address */
    int v6 = kind == MDSPF_TERM_IP6;
    size_t a = ne + 1, al, sl;
    if (rest <= 1 || txt[ne] != ':') {
      return fail(&P->e, MDSPF_SYN_MISSING_ARG, o, tl);
    }
    al = s->end - a;
    sl = s->slash != NONE ? s->slash - a : al;
    set_value(P, t, a, sl);
    if (v6 ? !mdspf__ip6_parse(txt + a, sl, t->addr)
           : !mdspf__ip4_parse(txt + a, sl, t->addr)) {
      return fail(&P->e, v6 ? MDSPF_SYN_BAD_IP6 : MDSPF_SYN_BAD_IP4, a,
                  sl ? sl : 1);
    }
    if (sl < al) {
      int16_t c = -1;
      if (!parse_cidr(txt + a + sl + 1, al - sl - 1, v6 ? 128u : 32u, &c)) {
        return fail(&P->e, MDSPF_SYN_BAD_CIDR, a + sl, al - sl);
      }
      if (v6) {
        t->cidr6 = c;
      } else {
        t->cidr4 = c;
      }
    }
    return MDSPF_SYN_OK;
  }
  }
}

/* ---- the common shapes, in one forward pass ----------------------------- *
 *
 * Nearly every published term is one of a few shapes without macros:
 * ip4:ADDR[/N], ip6:ADDR[/N], include:DOMAIN, a/mx[:DOMAIN][/N][//N],
 * ptr[:DOMAIN], exists:DOMAIN, all, redirect=DOMAIN, exp=DOMAIN, or an
 * unknown modifier with a plain value.  fast_term reads those front to
 * back once, filling the term as it goes; at the first thing it does not
 * expect -- a macro, an error of any kind, a duplicate modifier, an
 * unusual name -- it gives up (returns 0) and the term is parsed by the
 * general code above, which alone decides every error and its position.
 * So the two can only disagree by fast_term accepting what the general
 * parser would refuse or reading it differently; each shape below is
 * accepted exactly when the general parser accepts it, with the same
 * fields. */

/* Up to three CIDR digits at u[p..): "0" or no leading zero, <= max,
 * followed by the end of the term; the position after them, or 0. */
static size_t fast_cidr(const unsigned char *u, size_t len, size_t p,
                        unsigned max, int16_t *out) {
  unsigned v = 0, d;
  size_t b = p;
  while (p < len && (d = (unsigned)u[p] - '0') <= 9) {
    if (p - b == 3) {
      return 0;
    }
    v = v * 10 + d;
    p++;
  }
  if (p == b || (p - b > 1 && u[b] == '0') || v > max ||
      (p < len && u[p] != ' ')) {
    return 0;
  }
  *out = (int16_t)v;
  return p;
}

/* One qnum at u[p..) (0..255, no leading zero): the position after it
 * and *v, or 0. */
static inline size_t fast_qnum(const unsigned char *u, size_t len,
                               size_t p, uint8_t *out) {
  unsigned v, d;
  if (p == len || (v = (unsigned)u[p] - '0') > 9) {
    return 0;
  }
  p++;
  if (p < len && (d = (unsigned)u[p] - '0') <= 9) {
    if (v == 0) {
      return 0;
    }
    v = v * 10 + d;
    p++;
    if (p < len && (d = (unsigned)u[p] - '0') <= 9) {
      v = v * 10 + d;
      p++;
      if (v > 255) {
        return 0;
      }
    }
  }
  *out = (uint8_t)v;
  return p;
}

/* A dotted quad at u[p..) (the rules of mdspf__ip4_parse); the position
 * after it, or 0.  (A fourth digit after the last qnum is left to the
 * caller, which wants '/', SP or the end there.) */
static size_t fast_ip4(const unsigned char *u, size_t len, size_t p,
                       uint8_t out[4]) {
  if (!(p = fast_qnum(u, len, p, &out[0])) || p == len || u[p] != '.' ||
      !(p = fast_qnum(u, len, p + 1, &out[1])) || p == len || u[p] != '.' ||
      !(p = fast_qnum(u, len, p + 1, &out[2])) || p == len || u[p] != '.') {
    return 0;
  }
  return fast_qnum(u, len, p + 1, &out[3]);
}

/* An IPv6 address at u[p..) of hex groups and at most one "::" (the
 * rules of mdspf__ip6_parse); the position after it, or 0 -- also for an
 * embedded dotted quad, left to the general parser. */
static size_t fast_ip6(const unsigned char *u, size_t len, size_t p,
                       uint8_t out[16]) {
  static const signed char hex[256] = {
      ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
      ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
      ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
      ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16};
  unsigned w[8];
  int n = 0, gap = -1, k;
  if (p + 1 < len && u[p] == ':' && u[p + 1] == ':') {
    gap = 0;
    p += 2;
    if (p == len || u[p] == '/' || u[p] == ' ') {
      memset(out, 0, 16);
      return p;
    }
  }
  for (;;) {
    unsigned v = 0;
    int digits = 0, h;
    while (p < len && (h = hex[u[p]]) != 0) {
      if (digits == 4) {
        return 0;
      }
      v = (v << 4) | (unsigned)(h - 1);
      digits++;
      p++;
    }
    if (digits == 0 || n == 8) {
      return 0;
    }
    w[n++] = v;
    if (p == len || u[p] != ':') {
      break; /* the end ('.' included: a dotted quad) */
    }
    p++;
    if (p < len && u[p] == ':') {
      if (gap >= 0) {
        return 0;
      }
      gap = n;
      p++;
      if (p == len || u[p] == '/' || u[p] == ' ') {
        break;
      }
    }
  }
  if (p < len && u[p] == '.') {
    return 0;
  }
  if (gap < 0 ? n != 8 : n == 8) {
    return 0;
  }
  memset(out, 0, 16);
  for (k = 0; k < n; k++) {
    /* the groups after the gap go to the end */
    int at = (gap >= 0 && k >= gap) ? 8 - (n - k) : k;
    out[2 * at] = (uint8_t)(w[k] >> 8);
    out[2 * at + 1] = (uint8_t)(w[k] & 0xff);
  }
  return p;
}

/* A plain value at u[p..): runs to the end of the term; 0 if it holds a
 * '%' or an octet outside 0x21..0x7e (the general parser decides). */
static size_t fast_value(const unsigned char *u, size_t len, size_t p) {
  for (;;) {
    unsigned k = C_0;
    while (p + 4 <= len &&
           !(octet_class[u[p]] | octet_class[u[p + 1]] |
             octet_class[u[p + 2]] | octet_class[u[p + 3]])) {
      p += 4;
    }
    while (p < len && (k = octet_class[u[p]]) == C_0) {
      p++;
    }
    if (p == len || k == C_E) {
      return p;
    }
    if (k == C_B || u[p] == '%') {
      return 0;
    }
    p++;
  }
}

/* mdspf__toplabel_ok, with the class table: 1..63 letters, digits and
 * dashes, with a letter somewhere, or with a dash but neither first nor
 * last. */
static int toplabel(const unsigned char *l, size_t n) {
  unsigned all = 0, k;
  size_t j;
  if (n == 0 || n > 63) {
    return 0;
  }
  for (j = 0; j < n; j++) {
    k = ident_class[l[j]];
    if (!k) {
      return 0;
    }
    all |= k;
  }
  if (all & I_DASH) {
    return (ident_class[l[0]] & I_ALNUM) && (ident_class[l[n - 1]] & I_ALNUM);
  }
  return (all & I_ALPHA) != 0;
}

/* The domain-end of a plain domain-spec u[v..v+n): "." toplabel ["."]. */
static int fast_domain_end(const unsigned char *u, size_t v, size_t n) {
  size_t end = n, dot;
  if (n == 0) {
    return 0;
  }
  if (u[v + end - 1] == '.') {
    end--;
  }
  dot = end;
  while (dot > 0 && u[v + dot - 1] != '.') {
    dot--;
  }
  return dot > 0 && toplabel(u + v + dot, end - dot);
}

/* Keywords as fast_term folds them: one octet per letter, first letter
 * highest. */
#define KW1(a) ((uint64_t)(a))
#define KW2(a, b) (KW1(a) << 8 | (uint64_t)(b))
#define KW3(a, b, c) (KW2(a, b) << 8 | (uint64_t)(c))
#define KW4(a, b, c, d) (KW3(a, b, c) << 8 | (uint64_t)(d))
#define KW6(a, b, c, d, e, f) (KW4(a, b, c, d) << 16 | KW2(e, f))
#define KW7(a, b, c, d, e, f, g) (KW6(a, b, c, d, e, f) << 8 | (uint64_t)(g))
#define KW8(a, b, c, d, e, f, g, h) (KW4(a, b, c, d) << 32 | KW4(e, f, g, h))

/* The mechanism names' keys, each in its own slot of eight: the slot of
 * a key is the top three bits of key * MECH_HASH (a multiplier picked so
 * that the eight names fall in eight different slots; the assertions
 * below check that at compile time). */
#define MECH_HASH UINT64_C(0x0d36ce2c1a09a841)
#define MECH_SLOT(k) ((size_t)(((uint64_t)(k) * MECH_HASH) >> 61))
static const struct {
  uint64_t key;
  int kind;
} mech_slots[8] = {
    {KW1('a'), MDSPF_TERM_A},
    {KW3('i', 'p', '4'), MDSPF_TERM_IP4},
    {KW3('i', 'p', '6'), MDSPF_TERM_IP6},
    {KW6('e', 'x', 'i', 's', 't', 's'), MDSPF_TERM_EXISTS},
    {KW2('m', 'x'), MDSPF_TERM_MX},
    {KW7('i', 'n', 'c', 'l', 'u', 'd', 'e'), MDSPF_TERM_INCLUDE},
    {KW3('a', 'l', 'l'), MDSPF_TERM_ALL},
    {KW3('p', 't', 'r'), MDSPF_TERM_PTR},
};
_Static_assert(MECH_SLOT(KW1('a')) == 0, "mech_slots");
_Static_assert(MECH_SLOT(KW3('i', 'p', '4')) == 1, "mech_slots");
_Static_assert(MECH_SLOT(KW3('i', 'p', '6')) == 2, "mech_slots");
_Static_assert(MECH_SLOT(KW6('e', 'x', 'i', 's', 't', 's')) == 3, "mech_slots");
_Static_assert(MECH_SLOT(KW2('m', 'x')) == 4, "mech_slots");
_Static_assert(MECH_SLOT(KW7('i', 'n', 'c', 'l', 'u', 'd', 'e')) == 5,
               "mech_slots");
_Static_assert(MECH_SLOT(KW3('a', 'l', 'l')) == 6, "mech_slots");
_Static_assert(MECH_SLOT(KW3('p', 't', 'r')) == 7, "mech_slots");

static size_t fast_term(parser *P, size_t i, mdspf__term *t, uint32_t index) {
  static const mdspf__term blank = {0, 0, 0, 0, -1, -1, 0, 0, 0,
                                    MDSPF__NO_STR, 0, 0, {0}};
  const unsigned char *u = (const unsigned char *)P->txt;
  size_t len = P->len, p = i, ne, e, v, n;
  uint64_t key = 0;
  int kind, qc = 0;
  switch (u[p]) {
  case '+':
  case '-':
  case '~':
  case '?':
    qc = u[p++];
    break;
  default:
    break;
  }
  /* the name, folded to lower case into a key (letters and digits
   * only, so setting 0x20 folds exactly) */
  ne = p;
  while (ne < len && (ident_class[u[ne]] & I_ALNUM)) {
    key = (key << 8) | (u[ne] | 0x20u);
    ne++;
  }
  if (ne - p > 8) {
    key = 0; /* longer than every keyword */
  }
  *t = blank;
  t->off = (uint32_t)i;
  t->name = P->names + (uint32_t)p;
  if (ne < len && u[ne] == '=') { /* a modifier (no qualifier, ALPHA first) */
    if (qc || !mdspf__is_alpha(u[i])) {
      return 0;
    }
    v = ne + 1;
    e = fast_value(u, len, v);
    if (!e) {
      return 0;
    }
    n = e - v;
    if (key == KW8('r', 'e', 'd', 'i', 'r', 'e', 'c', 't')) {
      if (P->redirect >= 0 || !fast_domain_end(u, v, n)) {
        return 0;
      }
      t->kind = MDSPF_TERM_REDIRECT;
      P->redirect = (int32_t)index;
    } else if (key == KW3('e', 'x', 'p')) {
      if (P->exp >= 0 || !fast_domain_end(u, v, n)) {
        return 0;
      }
      t->kind = MDSPF_TERM_EXP;
      P->exp = (int32_t)index;
    } else {
      t->kind = MDSPF_TERM_MODIFIER;
    }
    t->len = (uint32_t)(e - i);
    t->value = P->names + (uint32_t)v;
    t->value_len = (uint32_t)n;
    return e;
  }
  /* one look into a table, one comparison: the name is a mechanism
   * exactly when its slot holds its key */
  kind = mech_slots[MECH_SLOT(key)].key == key ? mech_slots[MECH_SLOT(key)].kind
                                               : 0;
  if (!kind) {
    return 0;
  }
  t->kind = (uint8_t)kind;
  t->qual_char = (uint8_t)qc;
  t->qual = (uint8_t)qual_result(qc);
  /* after the name: the end of the term, ':' or '/' */
  if (ne == len || u[ne] == ' ') {
    if (kind == MDSPF_TERM_ALL || kind == MDSPF_TERM_A ||
        kind == MDSPF_TERM_MX || kind == MDSPF_TERM_PTR) {
      t->len = (uint32_t)(ne - i);
      return ne;
    }
    return 0;
  }
  switch (kind) {
  case MDSPF_TERM_IP4:
  case MDSPF_TERM_IP6:
    if (u[ne] != ':') {
      return 0;
    }
    v = ne + 1;
    if (kind == MDSPF_TERM_IP4) {
      e = fast_ip4(u, len, v, t->addr);
    } else {
      e = fast_ip6(u, len, v, t->addr);
    }
    if (!e) {
      return 0;
    }
    t->value = P->names + (uint32_t)v;
    t->value_len = (uint32_t)(e - v);
    if (e < len && u[e] == '/') {
      e = fast_cidr(u, len, e + 1, kind == MDSPF_TERM_IP4 ? 32u : 128u,
                    kind == MDSPF_TERM_IP4 ? &t->cidr4 : &t->cidr6);
    } else if (e < len && u[e] != ' ') {
      return 0;
    }
    if (!e) {
      return 0;
    }
    t->len = (uint32_t)(e - i);
    return e;
  case MDSPF_TERM_A:
  case MDSPF_TERM_MX:
    if (u[ne] != ':' && u[ne] != '/') {
      return 0;
    }
    e = fast_value(u, len, ne + 1);
    if (!e) {
      return 0;
    }
    n = e - ne;
    {
      parse_err ignored;
      if (take_dual_cidr(P->txt + ne, &n, ne, &t->cidr4, &t->cidr6,
                         &ignored) != MDSPF_SYN_OK) {
        return 0;
      }
    }
    if (n > 0) {
      if (u[ne] != ':' || !fast_domain_end(u, ne + 1, n - 1)) {
        return 0;
      }
      t->value = P->names + (uint32_t)(ne + 1);
      t->value_len = (uint32_t)(n - 1);
    }
    t->len = (uint32_t)(e - i);
    return e;
  case MDSPF_TERM_INCLUDE:
  case MDSPF_TERM_EXISTS:
  case MDSPF_TERM_PTR:
    if (u[ne] != ':') {
      return 0;
    }
    v = ne + 1;
    e = fast_value(u, len, v);
    if (!e || !fast_domain_end(u, v, e - v)) {
      return 0;
    }
    t->value = P->names + (uint32_t)v;
    t->value_len = (uint32_t)(e - v);
    t->len = (uint32_t)(e - i);
    return e;
  default: /* all with an argument */
    return 0;
  }
}

/* Parse the term that starts at text[i]; returns its end. */
static size_t parse_term(parser *P, size_t i, mdspf__term *t, uint32_t index,
                         int *rc) {
  const char *txt = P->txt;
  scan s;
  size_t q = 0;
  static const mdspf__term blank = {0, 0, 0, 0, -1, -1, 0, 0, 0,
                                    MDSPF__NO_STR, 0, 0, {0}};
  size_t e = P->general_only ? 0 : fast_term(P, i, t, index);
  if (e) {
    *rc = MDSPF_SYN_OK;
    return e;
  }
  i = scan_term(txt, P->len, i, &s);
  *t = blank;
  t->off = (uint32_t)s.start;
  t->len = (uint32_t)(s.end - s.start);
  t->name = P->names + (uint32_t)s.start;
  /* modifier: name "=" value, name = ALPHA *( ALPHA / DIGIT / - _ . ) */
  if (s.eq != NONE && modifier_name(txt, s.start, s.eq)) {
    *rc = parse_modifier(P, &s, t, index);
    return i;
  }
  switch (txt[s.start]) {
  case '+':
  case '-':
  case '~':
  case '?':
    t->qual_char = (uint8_t)txt[s.start];
    t->name++;
    q = 1;
    break;
  default:
    break;
  }
  t->qual = (uint8_t)qual_result(t->qual_char);
  *rc = parse_directive(P, &s, t, q);
  return i;
}

/* Terms from text[i] on, counted only when a record turned out bad, to
 * tell whether it also has too many (that error comes first). */
static size_t count_terms(const char *txt, size_t len, size_t i, size_t n) {
  while (i < len && n <= MDSPF_MAX_TERMS) {
    if (txt[i] == ' ') {
      i++;
      continue;
    }
    n++;
    while (i < len && txt[i] != ' ') {
      i++;
    }
  }
  return n;
}

mdspf_status mdspf_record_parse(const char *txt, size_t len, mdspf_alloc_fn alloc,
                       void *alloc_ud, mdspf_record **out, int *err_code,
                       size_t *err_off, size_t *err_len) {
  mdspf__allocator a;
  mdspf__allocator_init(&a, alloc, alloc_ud);
  return mdspf__record_parse(&a, txt, len, out, err_code, err_off, err_len);
}

/* Terms kept on the stack while parsing.  A record with more is counted
 * once it has that many (the only second look at any text, and only for
 * such long records), allocated with its exact number of terms, and
 * parsed on into its own array. */
#define STACK_TERMS 64

/* The record block: header | terms | pool (text + NUL, names and
 * values); everything but the terms and the pool's contents set. */
static mdspf_record *new_record(const mdspf__allocator *a, size_t nterms,
                                size_t len) {
  size_t terms_off = (sizeof(mdspf_record) + 15) & ~(size_t)15;
  size_t pool_off = terms_off + nterms * sizeof(mdspf__term);
  size_t size = pool_off + 2 * (len + 1);
  /* not zeroed (mdspf__realloc of nothing): every byte that is ever
   * read is written below or by the caller */
  mdspf_record *rec = mdspf__realloc(a, NULL, 0, size);
  if (!rec) {
    return NULL;
  }
  rec->alloc = *a;
  rec->size = size;
  atomic_init(&rec->refs, 1u);
  rec->terms = (mdspf__term *)(void *)((char *)rec + terms_off);
  rec->pool = (char *)rec + pool_off;
  rec->nterms = (uint32_t)nterms;
  rec->text_len = (uint32_t)len;
  return rec;
}

static mdspf_status parse(const mdspf__allocator *alloc, const char *txt,
                          size_t len, int general_only, mdspf_record **out,
                          int *err_code, size_t *err_off, size_t *err_len) {
  mdspf__allocator a = *alloc;
  mdspf__term stack[STACK_TERMS];
  mdspf__term *terms = stack, *t;
  size_t nterms = 0, i;
  parser P;
  mdspf_record *rec = NULL;

  if (out) {
    *out = NULL;
  }
  if (!txt || !out) {
    return MDSPF_E_INVAL;
  }
  P.txt = txt;
  P.len = len;
  P.names = (uint32_t)(len + 1);
  P.redirect = -1;
  P.exp = -1;
  P.general_only = general_only;
  P.e.code = MDSPF_SYN_OK;
  P.e.off = P.e.len = 0;

  if (len > MDSPF_MAX_RECORD) {
    fail(&P.e, MDSPF_SYN_TOO_LONG, MDSPF_MAX_RECORD, len - MDSPF_MAX_RECORD);
    goto syntax;
  }
  if (!is_spf(txt, len)) {
    size_t n = 0;
    while (n < len && txt[n] != ' ') {
      n++;
    }
    fail(&P.e, MDSPF_SYN_VERSION, 0, n ? n : (len ? 1 : 0));
    goto syntax;
  }

  for (i = 6; i < len;) {
    int rc;
    if (txt[i] == ' ') {
      i++;
      continue;
    }
    if (nterms == STACK_TERMS && !rec) {
      size_t total = count_terms(txt, len, i, nterms);
      if (total > MDSPF_MAX_TERMS) {
        fail(&P.e, MDSPF_SYN_TOO_MANY_TERMS, 0, len);
        goto syntax;
      }
      rec = new_record(&a, total, len);
      if (!rec) {
        return MDSPF_E_NOMEM;
      }
      memcpy(rec->terms, stack, nterms * sizeof *stack);
      terms = rec->terms;
    }
    i = parse_term(&P, i, &terms[nterms], (uint32_t)nterms, &rc);
    nterms++;
    if (rc != MDSPF_SYN_OK) {
      if (!rec && count_terms(txt, len, i, nterms) > MDSPF_MAX_TERMS) {
        fail(&P.e, MDSPF_SYN_TOO_MANY_TERMS, 0, len);
      }
      goto syntax;
    }
  }

  if (!rec) {
    rec = new_record(&a, nterms, len);
    if (!rec) {
      return MDSPF_E_NOMEM;
    }
    if (nterms) {
      memcpy(rec->terms, stack, nterms * sizeof *stack);
    }
  }
  rec->redirect = P.redirect;
  rec->exp = P.exp;
  memcpy(rec->pool, txt, len);
  rec->pool[len] = '\0';
  memcpy(rec->pool + len + 1, txt, len);
  rec->pool[2 * len + 1] = '\0';
  /* end every name and value with a NUL in the second copy: a
   * mechanism's name ends after its fixed length (at ':', '/' or the
   * separator), a modifier's at its '='; a value at the '/' of a CIDR
   * or the separator */
  for (t = rec->terms; t < rec->terms + nterms; t++) {
    size_t ne = t->kind >= MDSPF_TERM_REDIRECT
                    ? (size_t)(t->value - 1)
                    : (size_t)t->name + mech_len(t);
    /* (a term without a value ends its name twice) */
    size_t ve = t->value != MDSPF__NO_STR
                    ? (size_t)t->value + t->value_len
                    : ne;
    rec->pool[ne] = '\0';
    rec->pool[ve] = '\0';
  }
  *out = rec;
  return MDSPF_OK;

syntax:
  record_unref(rec);
  if (err_code) {
    *err_code = P.e.code;
  }
  if (err_off) {
    *err_off = P.e.off;
  }
  if (err_len) {
    *err_len = P.e.len;
  }
  return MDSPF_E_SYNTAX;
}

mdspf_status mdspf__record_parse(const mdspf__allocator *alloc,
                                 const char *txt, size_t len,
                                 mdspf_record **out, int *err_code,
                                 size_t *err_off, size_t *err_len) {
  return parse(alloc, txt, len, 0, out, err_code, err_off, err_len);
}

mdspf_status mdspf__record_parse_general(const mdspf__allocator *alloc,
                                         const char *txt, size_t len,
                                         mdspf_record **out, int *err_code,
                                         size_t *err_off, size_t *err_len) {
  return parse(alloc, txt, len, 1, out, err_code, err_off, err_len);
}

/* The reference count is the only part of a record that ever changes,
 * and it is atomic: records are shared between threads. */
static mdspf_record *mutable_rec(const mdspf_record *rec) {
  return (mdspf_record *)(uintptr_t)rec;
}

mdspf_record *mdspf_record_ref(const mdspf_record *rec) {
  mdspf_record *r = mutable_rec(rec);
  if (r) {
    atomic_fetch_add_explicit(&r->refs, 1u, memory_order_relaxed);
  }
  return r;
}

static void record_unref(const mdspf_record *rec) {
  mdspf_record *r = mutable_rec(rec);
  if (r && atomic_fetch_sub_explicit(&r->refs, 1u, memory_order_acq_rel) ==
               1u) {
    mdspf__allocator a = r->alloc;
    mdspf__free(&a, r, r->size);
  }
}

void mdspf_record_unref(const mdspf_record *rec) { record_unref(rec); }

void mdspf_record_free(mdspf_record *rec) { record_unref(rec); }

const char *mdspf_record_text(const mdspf_record *rec, size_t *len) {
  if (!rec) {
    if (len) {
      *len = 0;
    }
    return NULL;
  }
  if (len) {
    *len = rec->text_len;
  }
  return rec->pool;
}

size_t mdspf_record_nterms(const mdspf_record *rec) {
  return rec ? rec->nterms : 0;
}

static const mdspf__term *term_at(const mdspf_record *rec, size_t i) {
  return (rec && i < rec->nterms) ? &rec->terms[i] : NULL;
}

int mdspf_record_term_kind(const mdspf_record *rec, size_t i) {
  const mdspf__term *t = term_at(rec, i);
  return t ? t->kind : 0;
}

static int is_mechanism(int kind) {
  return kind >= MDSPF_TERM_ALL && kind <= MDSPF_TERM_EXISTS;
}

int mdspf_record_term_qualifier(const mdspf_record *rec, size_t i) {
  const mdspf__term *t = term_at(rec, i);
  return (t && is_mechanism(t->kind)) ? t->qual : -1;
}

int mdspf_record_term_qualifier_char(const mdspf_record *rec, size_t i) {
  const mdspf__term *t = term_at(rec, i);
  return t ? t->qual_char : 0;
}

const char *mdspf_record_term_name(const mdspf_record *rec, size_t i) {
  const mdspf__term *t = term_at(rec, i);
  return (t && t->name != MDSPF__NO_STR) ? rec->pool + t->name : NULL;
}

const char *mdspf_record_term_value(const mdspf_record *rec, size_t i) {
  const mdspf__term *t = term_at(rec, i);
  return (t && t->value != MDSPF__NO_STR) ? rec->pool + t->value : NULL;
}

int mdspf_record_term_cidr(const mdspf_record *rec, size_t i, int family) {
  const mdspf__term *t = term_at(rec, i);
  if (!t) {
    return -1;
  }
  return family == 4 ? t->cidr4 : family == 6 ? t->cidr6 : -1;
}

int mdspf_record_term_addr(const mdspf_record *rec, size_t i,
                           unsigned char out[16]) {
  const mdspf__term *t = term_at(rec, i);
  if (!t || !out) {
    return 0;
  }
  if (t->kind == MDSPF_TERM_IP4) {
    memcpy(out, t->addr, 4);
    return 4;
  }
  if (t->kind == MDSPF_TERM_IP6) {
    memcpy(out, t->addr, 16);
    return 6;
  }
  return 0;
}

mdspf_status mdspf_record_term_span(const mdspf_record *rec, size_t i, size_t *off,
                           size_t *len) {
  const mdspf__term *t = term_at(rec, i);
  if (!t) {
    return MDSPF_E_INVAL;
  }
  if (off) {
    *off = t->off;
  }
  if (len) {
    *len = t->len;
  }
  return MDSPF_OK;
}

int mdspf_record_term_has_macros(const mdspf_record *rec, size_t i) {
  const mdspf__term *t = term_at(rec, i);
  return (t && (t->flags & MDSPF__TF_MACROS)) ? 1 : 0;
}

mdspf_status mdspf_record_format(const mdspf_record *rec, char *buf,
                                 size_t bufsz, size_t *needed) {
  mdspf__sbuf sb;
  size_t i;
  if (!rec || (!buf && bufsz)) {
    return MDSPF_E_INVAL;
  }
  mdspf__sbuf_init(&sb, buf, bufsz);
  mdspf__sbuf_puts(&sb, "v=spf1");
  for (i = 0; i < rec->nterms; i++) {
    const mdspf__term *t = &rec->terms[i];
    const char *name = rec->pool + t->name;
    mdspf__sbuf_putc(&sb, ' ');
    if (t->qual_char && t->qual_char != '+') {
      mdspf__sbuf_putc(&sb, (char)t->qual_char);
    }
    for (; *name; name++) { /* lower-cased */
      mdspf__sbuf_putc(&sb, (char)mdspf__lower((unsigned char)*name));
    }
    if (t->value != MDSPF__NO_STR) {
      mdspf__sbuf_putc(&sb, t->kind >= MDSPF_TERM_REDIRECT ? '=' : ':');
      mdspf__sbuf_put(&sb, rec->pool + t->value, t->value_len);
    }
    if (t->cidr4 >= 0) {
      mdspf__sbuf_putc(&sb, '/');
      mdspf__sbuf_putu(&sb, (unsigned long)t->cidr4);
    }
    if (t->cidr6 >= 0) {
      mdspf__sbuf_puts(&sb, t->kind == MDSPF_TERM_IP6 ? "/" : "//");
      mdspf__sbuf_putu(&sb, (unsigned long)t->cidr6);
    }
  }
  return mdspf__sbuf_finish(&sb, needed);
}

unsigned mdspf__term_letters(const mdspf_record *r, const mdspf__term *t) {
  (void)r;
  return t->letters;
}

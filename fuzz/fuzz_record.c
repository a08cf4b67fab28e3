/*
 * fuzz/fuzz_record.c -- the record parser and the canonical formatter.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Input: the record text, raw.  Invariants:
 *   - a syntax error has a valid code and err_off + err_len <= len;
 *   - a parsed record survives every introspection getter, in range and
 *     one past it;
 *   - mdspf_record_format is canonical: parsing its output gives a record
 *     with identical terms, and formatting that gives the same text;
 *   - formatting into a short buffer gives a NUL-terminated prefix and
 *     MDSPF_E_BUFFER exactly when the text does not fit;
 *   - every allocation is returned (the checking allocator);
 *   - the parser's fast path and its general term parser agree: the
 *     same error at the same place, or byte-identical records
 *     (mdspf__record_parse_general).
 */
#include "fuzz_common.h"

#include <maildrop-spf/spf.h>

#include <ctype.h>

#include "core/record.h"

static int same_name(const char *a, const char *b) {
  if (!a || !b) {
    return a == b;
  }
  while (*a && *b) {
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) {
      return 0;
    }
    a++;
    b++;
  }
  return *a == *b;
}

static int same_str(const char *a, const char *b) {
  if (!a || !b) {
    return a == b;
  }
  return strcmp(a, b) == 0;
}

/* Walk every getter of rec; text/len are what it was parsed from. */
static void walk(const mdspf_record *rec, const char *text, size_t len) {
  size_t n = mdspf_record_nterms(rec), i, tl = 0;
  const char *t = mdspf_record_text(rec, &tl);
  FUZZ_CHECK(t != NULL && tl == len && memcmp(t, text, len) == 0);
  FUZZ_CHECK(t[len] == '\0');
  FUZZ_CHECK(n <= MDSPF_MAX_TERMS);
  for (i = 0; i <= n; i++) {
    int kind = mdspf_record_term_kind(rec, i);
    int q = mdspf_record_term_qualifier(rec, i);
    int qc = mdspf_record_term_qualifier_char(rec, i);
    const char *name = mdspf_record_term_name(rec, i);
    const char *value = mdspf_record_term_value(rec, i);
    int c4 = mdspf_record_term_cidr(rec, i, 4);
    int c6 = mdspf_record_term_cidr(rec, i, 6);
    int cx = mdspf_record_term_cidr(rec, i, 5);
    unsigned char addr[16];
    int af = mdspf_record_term_addr(rec, i, addr);
    size_t off = 0, sl = 0;
    int span = mdspf_record_term_span(rec, i, &off, &sl);
    int mac = mdspf_record_term_has_macros(rec, i);
    const char *ks = mdspf_term_kind_str(kind);
    FUZZ_CHECK(ks != NULL);
    FUZZ_CHECK(mac == 0 || mac == 1);
    if (i == n) { /* one past the end */
      FUZZ_CHECK(kind == 0 && q == -1 && qc == 0 && !name && !value);
      FUZZ_CHECK(c4 == -1 && c6 == -1 && af == 0 && mac == 0);
      FUZZ_CHECK(span == MDSPF_E_INVAL);
      break;
    }
    FUZZ_CHECK(kind >= MDSPF_TERM_ALL && kind <= MDSPF_TERM_MODIFIER);
    FUZZ_CHECK(name != NULL);
    FUZZ_CHECK(cx == -1);
    FUZZ_CHECK(span == MDSPF_OK && sl > 0 && off >= 6 && off + sl <= len);
    /* the span is the term as written: no spaces, the name inside */
    FUZZ_CHECK(memchr(t + off, ' ', sl) == NULL);
    FUZZ_CHECK(off == 6 || t[off - 1] == ' ');
    FUZZ_CHECK(off + sl == len || t[off + sl] == ' ');
    if (kind <= MDSPF_TERM_EXISTS) {
      FUZZ_CHECK(q == MDSPF_PASS || q == MDSPF_FAIL || q == MDSPF_SOFTFAIL ||
                 q == MDSPF_NEUTRAL);
      FUZZ_CHECK(qc == 0 || qc == '+' || qc == '-' || qc == '~' || qc == '?');
      FUZZ_CHECK((qc == '-') == (q == MDSPF_FAIL));
      FUZZ_CHECK((qc == '~') == (q == MDSPF_SOFTFAIL));
      FUZZ_CHECK((qc == '?') == (q == MDSPF_NEUTRAL));
    } else {
      FUZZ_CHECK(q == -1 && qc == 0);
    }
    FUZZ_CHECK(c4 >= -1 && c4 <= 32 && c6 >= -1 && c6 <= 128);
    if (kind == MDSPF_TERM_IP4) {
      FUZZ_CHECK(af == 4 && value != NULL && c6 == -1);
    } else if (kind == MDSPF_TERM_IP6) {
      FUZZ_CHECK(af == 6 && value != NULL && c4 == -1);
    } else {
      FUZZ_CHECK(af == 0);
    }
    if (kind == MDSPF_TERM_ALL) {
      FUZZ_CHECK(value == NULL && c4 == -1 && c6 == -1);
    }
    if (kind == MDSPF_TERM_INCLUDE || kind == MDSPF_TERM_EXISTS ||
        kind == MDSPF_TERM_REDIRECT || kind == MDSPF_TERM_EXP) {
      FUZZ_CHECK(value != NULL && value[0] != '\0' && c4 == -1 && c6 == -1);
    }
    if (kind >= MDSPF_TERM_REDIRECT) {
      FUZZ_CHECK(value != NULL && c4 == -1 && c6 == -1);
    }
    if (mac) {
      FUZZ_CHECK(value != NULL && strchr(value, '%') != NULL);
    }
  }
}

/* The term-by-term equality the formatter promises. */
static void same_terms(const mdspf_record *a, const mdspf_record *b) {
  size_t n = mdspf_record_nterms(a), i;
  FUZZ_CHECK(mdspf_record_nterms(b) == n);
  for (i = 0; i < n; i++) {
    unsigned char aa[16], ba[16];
    int af = mdspf_record_term_addr(a, i, aa);
    int bf = mdspf_record_term_addr(b, i, ba);
    int aq = mdspf_record_term_qualifier_char(a, i);
    int bq = mdspf_record_term_qualifier_char(b, i);
    FUZZ_CHECK(mdspf_record_term_kind(a, i) == mdspf_record_term_kind(b, i));
    FUZZ_CHECK(mdspf_record_term_qualifier(a, i) ==
               mdspf_record_term_qualifier(b, i));
    /* "+" is the default and not written by the formatter */
    FUZZ_CHECK((aq == '+' ? 0 : aq) == (bq == '+' ? 0 : bq));
    FUZZ_CHECK(
        same_name(mdspf_record_term_name(a, i), mdspf_record_term_name(b, i)));
    FUZZ_CHECK(
        same_str(mdspf_record_term_value(a, i), mdspf_record_term_value(b, i)));
    FUZZ_CHECK(mdspf_record_term_cidr(a, i, 4) ==
               mdspf_record_term_cidr(b, i, 4));
    FUZZ_CHECK(mdspf_record_term_cidr(a, i, 6) ==
               mdspf_record_term_cidr(b, i, 6));
    FUZZ_CHECK(af == bf);
    FUZZ_CHECK(af == 0 || memcmp(aa, ba, af == 4 ? 4u : 16u) == 0);
    FUZZ_CHECK(mdspf_record_term_has_macros(a, i) ==
               mdspf_record_term_has_macros(b, i));
  }
}

/* Format rec into a fresh heap buffer of exactly the needed size. */
static char *format(const mdspf_record *rec, size_t *outlen) {
  size_t need = 0, need2 = 0;
  char *buf;
  int rc = mdspf_record_format(rec, NULL, 0, &need);
  FUZZ_CHECK(rc == MDSPF_E_BUFFER || (rc == MDSPF_OK && need == 0));
  buf = malloc(need + 1);
  FUZZ_CHECK(buf != NULL);
  rc = mdspf_record_format(rec, buf, need + 1, &need2);
  FUZZ_CHECK(rc == MDSPF_OK && need2 == need);
  FUZZ_CHECK(strlen(buf) == need);
  *outlen = need;
  return buf;
}

/* Short buffers: NUL-terminated prefix, E_BUFFER iff it did not fit. */
static void format_short(const mdspf_record *rec, const char *full, size_t flen,
                         size_t bufsz) {
  char *buf = malloc(bufsz);
  size_t need = 0, got;
  int rc;
  FUZZ_CHECK(buf != NULL);
  rc = mdspf_record_format(rec, buf, bufsz, &need);
  FUZZ_CHECK(need == flen);
  FUZZ_CHECK(rc == (flen < bufsz ? MDSPF_OK : MDSPF_E_BUFFER));
  got = strnlen(buf, bufsz);
  FUZZ_CHECK(got < bufsz);
  FUZZ_CHECK(got == (flen < bufsz ? flen : bufsz - 1));
  FUZZ_CHECK(memcmp(buf, full, got) == 0);
  free(buf);
}

/* The general term parser gives what the parser gave. */
static void same_as_general(const char *txt, size_t size, int rc,
                            const mdspf_record *r, int code, size_t off,
                            size_t len) {
  mdspf__allocator a;
  mdspf_record *g = NULL;
  int gcode = -1;
  size_t goff = (size_t)-1, glen = (size_t)-1, i;
  int grc;
  mdspf__allocator_init(&a, NULL, NULL);
  grc = mdspf__record_parse_general(&a, txt, size, &g, &gcode, &goff, &glen);
  FUZZ_CHECK(grc == rc);
  if (rc != MDSPF_OK) {
    FUZZ_CHECK(gcode == code && goff == off && glen == len);
    return;
  }
  FUZZ_CHECK(g->size == r->size && g->nterms == r->nterms &&
             g->redirect == r->redirect && g->exp == r->exp &&
             g->text_len == r->text_len);
  for (i = 0; i < r->nterms; i++) {
    const mdspf__term *x = &r->terms[i], *y = &g->terms[i];
    FUZZ_CHECK(x->kind == y->kind && x->qual == y->qual &&
               x->qual_char == y->qual_char && x->flags == y->flags);
    FUZZ_CHECK(x->cidr4 == y->cidr4 && x->cidr6 == y->cidr6);
    FUZZ_CHECK(x->off == y->off && x->len == y->len && x->name == y->name);
    FUZZ_CHECK(x->value == y->value && x->value_len == y->value_len);
    FUZZ_CHECK(x->letters == y->letters);
    FUZZ_CHECK(memcmp(x->addr, y->addr, sizeof x->addr) == 0);
  }
  FUZZ_CHECK(memcmp(r->pool, g->pool, 2 * (size_t)r->text_len + 2) == 0);
  mdspf_record_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *txt = (const char *)data;
  mdspf_record *rec = NULL, *rec2 = NULL, *rec3 = NULL;
  int code = -1, rc;
  size_t off = (size_t)-1, len = (size_t)-1;
  fuzz_alloc fa;
  char *f1, *f2;
  size_t l1, l2;

  fuzz_alloc_init(&fa, 0, 0);
  FUZZ_CHECK(mdspf_record_is_spf(txt, size) == 0 ||
             mdspf_record_is_spf(txt, size) == 1);
  rc = mdspf_record_parse(txt, size, fuzz_alloc_fn, &fa, &rec, &code, &off,
                          &len);
  same_as_general(txt, size, rc, rec, code, off, len);
  if (rc != MDSPF_OK) {
    FUZZ_CHECK(rc == MDSPF_E_SYNTAX);
    FUZZ_CHECK(rec == NULL);
    FUZZ_CHECK(code >= MDSPF_SYN_VERSION && code <= MDSPF_SYN_TOO_MANY_TERMS);
    FUZZ_CHECK(off <= size && len <= size - off);
    /* at least one byte unless the error is at the end of the text */
    FUZZ_CHECK(len >= 1 || off == size || code == MDSPF_SYN_VERSION ||
               code == MDSPF_SYN_MISSING_ARG);
    FUZZ_CHECK(mdspf_syntax_str(code) != NULL);
    FUZZ_CHECK(fa.outstanding == 0);
    /* the NULL out-pointer variants must not crash either */
    FUZZ_CHECK(mdspf_record_parse(txt, size, NULL, NULL, &rec, NULL, NULL,
                                  NULL) == MDSPF_E_SYNTAX);
    FUZZ_CHECK(!mdspf_record_is_spf(txt, size) || code != MDSPF_SYN_VERSION);
    return 0;
  }
  FUZZ_CHECK(rec != NULL);
  FUZZ_CHECK(mdspf_record_is_spf(txt, size) == 1);
  walk(rec, txt, size);

  /* canonical round trip */
  f1 = format(rec, &l1);
  FUZZ_CHECK(l1 <= size); /* only spaces, '+' and case can change */
  rc = mdspf_record_parse(f1, l1, fuzz_alloc_fn, &fa, &rec2, &code, &off, &len);
  if (rc != MDSPF_OK) {
    fprintf(stderr, "formatted record does not parse: %s at %zu: \"%s\"\n",
            mdspf_syntax_str(code), off, f1);
  }
  FUZZ_CHECK(rc == MDSPF_OK);
  walk(rec2, f1, l1);
  same_terms(rec, rec2);
  f2 = format(rec2, &l2);
  FUZZ_CHECK(l2 == l1 && memcmp(f1, f2, l1) == 0);

  /* the formatted text also parses from a NUL-less exact-size copy with
   * the default allocator */
  rc = mdspf_record_parse(f2, l2, NULL, NULL, &rec3, NULL, NULL, NULL);
  FUZZ_CHECK(rc == MDSPF_OK);
  same_terms(rec2, rec3);

  /* truncated output: sizes 1, a few, around the end */
  format_short(rec, f1, l1, 1);
  format_short(rec, f1, l1, 1 + size % 16);
  format_short(rec, f1, l1, l1);
  format_short(rec, f1, l1, l1 + 1);
  FUZZ_CHECK(mdspf_record_format(rec, NULL, 1, NULL) == MDSPF_E_INVAL);

  free(f1);
  free(f2);
  mdspf_record_free(rec);
  mdspf_record_free(rec2);
  mdspf_record_free(rec3);
  FUZZ_CHECK(fa.outstanding == 0);
  return 0;
}

/*
 * lib/core/record.c -- SPF record parser (RFC 7208 sections 4.5, 4.6, 12) and
 * the immutable compiled record: one allocation holding the header, the
 * term array and a string pool (record text + NUL-terminated names and
 * values).  No allocation per term.
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

int mdspf_record_is_spf(const char *txt, size_t len) {
  if (!txt || len < 6 || mdspf__casecmpn(txt, "v=spf1", 6) != 0) {
    return 0;
  }
  return len == 6 || txt[6] == ' ';
}

/* Pool writer over the record's string area. */
typedef struct pool {
  char *base;
  size_t len, cap;
} pool;

static uint32_t pool_add(pool *p, const char *s, size_t n) {
  uint32_t at = (uint32_t)p->len;
  /* capacity was computed as an upper bound; this is a safety net */
  if (p->len + n + 1 > p->cap) {
    return MDSPF__NO_STR;
  }
  if (n) {
    memcpy(p->base + p->len, s, n);
  }
  p->base[p->len + n] = '\0';
  p->len += n + 1;
  return at;
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

/* domain-spec = macro-string domain-end;
 * domain-end  = ( "." toplabel [ "." ] ) / macro-expand            */
static int check_domain_spec(const char *s, size_t n, size_t base,
                             parse_err *e, uint8_t *flags) {
  unsigned letters = 0;
  int ends_macro = 0;
  size_t eo = 0, el = 0, end, dot;
  int rc;
  if (n == 0) {
    return fail(e, MDSPF_SYN_MISSING_ARG, base, 0);
  }
  rc = mdspf__macro_scan(s, n, MDSPF__MS_DOMAIN, &letters, &ends_macro, &eo,
                         &el);
  if (rc != MDSPF_SYN_OK) {
    return fail(e, rc, base + eo, el);
  }
  if (letters) {
    *flags |= MDSPF__TF_MACROS;
  }
  if (letters & MDSPF__ML('p')) {
    *flags |= MDSPF__TF_NEEDS_P;
  }
  if (memchr(s, '%', n)) {
    *flags |= MDSPF__TF_MACROS;
  }
  if (ends_macro) {
    return MDSPF_SYN_OK;
  }
  end = n;
  if (s[end - 1] == '.') {
    end--;
  }
  dot = end;
  while (dot > 0 && s[dot - 1] != '.') {
    dot--;
  }
  if (dot == 0 || !mdspf__toplabel_ok(s + dot, end - dot)) {
    /* point at the would-be top label (or the whole spec) */
    if (dot == 0) {
      return fail(e, MDSPF_SYN_BAD_DOMAIN, base, n);
    }
    return fail(e, MDSPF_SYN_BAD_DOMAIN, base + dot,
                end - dot ? end - dot : 1);
  }
  return MDSPF_SYN_OK;
}

typedef struct mech_name {
  const char *name;
  size_t len;
  int kind;
} mech_name;

static const mech_name MECHS[] = {
    {"all", 3, MDSPF_TERM_ALL},       {"include", 7, MDSPF_TERM_INCLUDE},
    {"a", 1, MDSPF_TERM_A},           {"mx", 2, MDSPF_TERM_MX},
    {"ptr", 3, MDSPF_TERM_PTR},       {"ip4", 3, MDSPF_TERM_IP4},
    {"ip6", 3, MDSPF_TERM_IP6},       {"exists", 6, MDSPF_TERM_EXISTS},
};

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

/* The ":" domain-spec argument of a mechanism: t[i..i+n) holds ":spec"
 * (n > 0, t[i] == ':' checked by the caller). */
static int take_spec(const char *t, size_t i, size_t n, size_t o, size_t tl,
                     mdspf__term *term, pool *p, parse_err *e) {
  term->value = pool_add(p, t + i + 1, n - 1);
  term->value_len = (uint32_t)(n - 1);
  if (n == 1) {
    return fail(e, MDSPF_SYN_MISSING_ARG, o, tl);
  }
  return check_domain_spec(t + i + 1, n - 1, o + i + 1, e, &term->flags);
}

/* Parse one term t[0..tl) found at offset o of the record. */
static int parse_term(const char *t, size_t tl, size_t o, mdspf__term *term,
                      pool *p, parse_err *e, int32_t *redirect, int32_t *exp,
                      uint32_t index) {
  size_t j, i = 0, rest, nl;
  const char *name;
  const mech_name *m = NULL;
  size_t k;

  memset(term, 0, sizeof *term);
  term->off = (uint32_t)o;
  term->len = (uint32_t)tl;
  term->cidr4 = -1;
  term->cidr6 = -1;
  term->value = MDSPF__NO_STR;

  /* modifier: name "=" value, name = ALPHA *( ALPHA / DIGIT / - _ . ) */
  if (mdspf__is_alpha((unsigned char)t[0])) {
    j = 1;
    while (j < tl && (mdspf__is_alnum((unsigned char)t[j]) || t[j] == '-' ||
                      t[j] == '_' || t[j] == '.')) {
      j++;
    }
    if (j < tl && t[j] == '=') {
      const char *v = t + j + 1;
      size_t vl = tl - j - 1;
      int rc;
      term->name = pool_add(p, t, j);
      term->value = pool_add(p, v, vl);
      term->value_len = (uint32_t)vl;
      if (j == 8 && mdspf__casecmpn(t, "redirect", 8) == 0) {
        term->kind = MDSPF_TERM_REDIRECT;
        if (*redirect >= 0) {
          return fail(e, MDSPF_SYN_DUP_MODIFIER, o, tl);
        }
        *redirect = (int32_t)index;
        return check_domain_spec(v, vl, o + j + 1, e, &term->flags);
      }
      if (j == 3 && mdspf__casecmpn(t, "exp", 3) == 0) {
        term->kind = MDSPF_TERM_EXP;
        if (*exp >= 0) {
          return fail(e, MDSPF_SYN_DUP_MODIFIER, o, tl);
        }
        *exp = (int32_t)index;
        return check_domain_spec(v, vl, o + j + 1, e, &term->flags);
      }
      term->kind = MDSPF_TERM_MODIFIER;
      {
        size_t eo = 0, el = 0;
        unsigned letters = 0;
        rc = mdspf__macro_scan(v, vl, MDSPF__MS_DOMAIN, &letters, NULL, &eo,
                               &el);
        if (rc != MDSPF_SYN_OK) {
          return fail(e, rc, o + j + 1 + eo, el);
        }
        if (letters || memchr(v, '%', vl)) {
          term->flags |= MDSPF__TF_MACROS;
        }
      }
      return MDSPF_SYN_OK;
    }
  }

  /* directive = [ qualifier ] mechanism */
  if (t[0] == '+' || t[0] == '-' || t[0] == '~' || t[0] == '?') {
    term->qual_char = (uint8_t)t[0];
    i = 1;
  }
  term->qual = (uint8_t)qual_result(term->qual_char);
  name = t + i;
  nl = 0;
  while (i + nl < tl && t[i + nl] != ':' && t[i + nl] != '/') {
    nl++;
  }
  for (k = 0; k < sizeof MECHS / sizeof MECHS[0]; k++) {
    if (MECHS[k].len == nl && mdspf__casecmpn(name, MECHS[k].name, nl) == 0) {
      m = &MECHS[k];
      break;
    }
  }
  if (!m) {
    /* a modifier with a bad name is reported as such when '=' follows a
     * name-like prefix ("moo.cow/x=y" is neither) */
    return fail(e, MDSPF_SYN_UNKNOWN_MECH, o, tl);
  }
  term->kind = (uint8_t)m->kind;
  term->name = pool_add(p, name, nl);
  i += nl;
  rest = tl - i; /* t[i..tl) starts with ':' or '/' or is empty */

  switch (m->kind) {
  case MDSPF_TERM_ALL:
    if (rest) {
      return fail(e, MDSPF_SYN_UNEXPECTED_ARG, o + i, rest);
    }
    return MDSPF_SYN_OK;

  case MDSPF_TERM_INCLUDE:
  case MDSPF_TERM_EXISTS:
    if (rest == 0) {
      return fail(e, MDSPF_SYN_MISSING_ARG, o, tl);
    }
    if (t[i] != ':') {
      return fail(e, MDSPF_SYN_UNEXPECTED_ARG, o + i, rest);
    }
    return take_spec(t, i, rest, o, tl, term, p, e);

  case MDSPF_TERM_A:
  case MDSPF_TERM_MX: {
    size_t n = rest;
    int rc = take_dual_cidr(t + i, &n, o + i, &term->cidr4, &term->cidr6, e);
    if (rc != MDSPF_SYN_OK) {
      return rc;
    }
    if (n == 0) {
      return MDSPF_SYN_OK;
    }
    if (t[i] != ':') {
      return fail(e, MDSPF_SYN_BAD_CIDR, o + i, n);
    }
    return take_spec(t, i, n, o, tl, term, p, e);
  }

  case MDSPF_TERM_PTR:
    if (rest == 0) {
      return MDSPF_SYN_OK;
    }
    if (t[i] != ':') {
      return fail(e, MDSPF_SYN_UNEXPECTED_ARG, o + i, rest);
    }
    return take_spec(t, i, rest, o, tl, term, p, e);

  default: { /* ip4, ip6 */
    int v6 = m->kind == MDSPF_TERM_IP6;
    const char *a;
    size_t al, slash;
    if (rest == 0 || t[i] != ':') {
      return fail(e, MDSPF_SYN_MISSING_ARG, o, tl);
    }
    a = t + i + 1;
    al = rest - 1;
    if (al == 0) {
      return fail(e, MDSPF_SYN_MISSING_ARG, o, tl);
    }
    slash = 0;
    while (slash < al && a[slash] != '/') {
      slash++;
    }
    term->value = pool_add(p, a, slash);
    term->value_len = (uint32_t)slash;
    if (v6 ? !mdspf__ip6_parse(a, slash, term->addr)
           : !mdspf__ip4_parse(a, slash, term->addr)) {
      return fail(e, v6 ? MDSPF_SYN_BAD_IP6 : MDSPF_SYN_BAD_IP4, o + i + 1,
                  slash ? slash : 1);
    }
    if (slash < al) {
      int16_t c = -1;
      if (!parse_cidr(a + slash + 1, al - slash - 1, v6 ? 128u : 32u, &c)) {
        return fail(e, MDSPF_SYN_BAD_CIDR, o + i + 1 + slash, al - slash);
      }
      if (v6) {
        term->cidr6 = c;
      } else {
        term->cidr4 = c;
      }
    }
    return MDSPF_SYN_OK;
  }
  }
}

mdspf_status mdspf_record_parse(const char *txt, size_t len, mdspf_alloc_fn alloc,
                       void *alloc_ud, mdspf_record **out, int *err_code,
                       size_t *err_off, size_t *err_len) {
  mdspf__allocator a;
  mdspf__allocator_init(&a, alloc, alloc_ud);
  return mdspf__record_parse(&a, txt, len, out, err_code, err_off, err_len);
}

mdspf_status mdspf__record_parse(const mdspf__allocator *alloc,
                                 const char *txt, size_t len,
                                 mdspf_record **out, int *err_code,
                                 size_t *err_off, size_t *err_len) {
  mdspf__allocator a = *alloc;
  parse_err e = {MDSPF_SYN_OK, 0, 0};
  size_t i, nterms = 0, size, pool_cap, terms_off, pool_off;
  mdspf_record *rec;
  pool p;
  int rc = MDSPF_OK;

  if (out) {
    *out = NULL;
  }
  if (!txt || !out) {
    return MDSPF_E_INVAL;
  }

  if (len > MDSPF_MAX_RECORD) {
    fail(&e, MDSPF_SYN_TOO_LONG, MDSPF_MAX_RECORD, len - MDSPF_MAX_RECORD);
    goto syntax;
  }
  if (!mdspf_record_is_spf(txt, len)) {
    size_t n = 0;
    while (n < len && txt[n] != ' ') {
      n++;
    }
    fail(&e, MDSPF_SYN_VERSION, 0, n ? n : (len ? 1 : 0));
    goto syntax;
  }
  for (i = 6; i < len;) {
    if (txt[i] == ' ') {
      i++;
      continue;
    }
    nterms++;
    while (i < len && txt[i] != ' ') {
      i++;
    }
  }
  if (nterms > MDSPF_MAX_TERMS) {
    fail(&e, MDSPF_SYN_TOO_MANY_TERMS, 0, len);
    goto syntax;
  }

  /* One block: header | terms | pool (text + at most two strings per
   * term, each no longer than the term, plus NULs). */
  terms_off = (sizeof *rec + 15) & ~(size_t)15;
  pool_off = terms_off + nterms * sizeof(mdspf__term);
  pool_cap = (len + 1) + 2 * len + 2 * nterms + 2;
  size = pool_off + pool_cap;
  rec = mdspf__alloc(&a, size);
  if (!rec) {
    return MDSPF_E_NOMEM;
  }
  rec->alloc = a;
  rec->size = size;
  atomic_init(&rec->refs, 1u);
  rec->terms = (mdspf__term *)(void *)((char *)rec + terms_off);
  rec->pool = (char *)rec + pool_off;
  rec->text_len = (uint32_t)len;
  rec->redirect = -1;
  rec->exp = -1;
  p.base = rec->pool;
  p.cap = pool_cap;
  p.len = 0;
  (void)pool_add(&p, txt, len);

  for (i = 6; i < len;) {
    size_t start;
    if (txt[i] == ' ') {
      i++;
      continue;
    }
    start = i;
    while (i < len && txt[i] != ' ') {
      i++;
    }
    if (parse_term(rec->pool + start, i - start, start,
                   &rec->terms[rec->nterms], &p, &e, &rec->redirect, &rec->exp,
                   rec->nterms) != MDSPF_SYN_OK) {
      mdspf_record_free(rec);
      goto syntax;
    }
    rec->nterms++;
  }
  *out = rec;
  return rc;

syntax:
  if (err_code) {
    *err_code = e.code;
  }
  if (err_off) {
    *err_off = e.off;
  }
  if (err_len) {
    *err_len = e.len;
  }
  return MDSPF_E_SYNTAX;
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

void mdspf_record_unref(const mdspf_record *rec) {
  mdspf_record *r = mutable_rec(rec);
  if (r && atomic_fetch_sub_explicit(&r->refs, 1u, memory_order_acq_rel) ==
               1u) {
    mdspf__allocator a = r->alloc;
    mdspf__free(&a, r, r->size);
  }
}

void mdspf_record_free(mdspf_record *rec) { mdspf_record_unref(rec); }

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
  unsigned letters = 0;
  if (!(t->flags & MDSPF__TF_MACROS) || t->value == MDSPF__NO_STR) {
    return 0;
  }
  (void)mdspf__macro_scan(r->pool + t->value, t->value_len, MDSPF__MS_DOMAIN,
                          &letters, NULL, NULL, NULL);
  return letters;
}

/*
 * tests/test_header.c -- Received-SPF (RFC 7208 9.1) and
 * Authentication-Results (RFC 8601) lines of finished checks: exact text
 * for the common cases, every result and both identities over an
 * in-memory zone, and for everything a recursive-descent validator over
 * the RFC grammars (RFC 5322 CFWS, comment, quoted-string, dot-atom;
 * RFC 2045 token) that also gives back the keys and unquoted values.
 * Hostile senders, HELOs, receivers, mechanisms and problem texts --
 * including ones planted directly into the check, past the input
 * checks -- must always give one valid line of printable ASCII.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"

/* ======================================================================
 * Growable byte sink for unquoted values
 * ==================================================================== */

typedef struct sink {
  char *b;
  size_t len, cap;
} sink;

static void sink_add(sink *k, const char *s, size_t n) {
  if (!k) {
    return;
  }
  if (k->len + n + 1 > k->cap) {
    size_t cap = (k->len + n + 1) * 2;
    char *nb = realloc(k->b, cap);
    assert_non_null(nb);
    k->b = nb;
    k->cap = cap;
  }
  memcpy(k->b + k->len, s, n);
  k->len += n;
  k->b[k->len] = '\0';
}

static void sink_reset(sink *k) {
  if (k) {
    k->len = 0;
    if (k->b) {
      k->b[0] = '\0';
    }
  }
}

static void sink_free(sink *k) {
  free(k->b);
  k->b = NULL;
  k->len = k->cap = 0;
}

static const char *sink_str(const sink *k) { return k->b ? k->b : ""; }

/* ======================================================================
 * RFC 5322 lexical rules (no obsolete forms)
 * ==================================================================== */

typedef struct P {
  const char *s;
  size_t n, i;
  int depth;
  sink comment; /* text of the last top-level comment, unescaped */
} P;

static int peek(const P *p) {
  return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}
static int at(const P *p, size_t k) {
  return k < p->n ? (unsigned char)p->s[k] : -1;
}
static int is_wsp(int c) { return c == ' ' || c == '\t'; }
static int is_vchar(int c) { return c >= 0x21 && c <= 0x7e; }
static int is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static int is_ctext(int c) {
  return (c >= 33 && c <= 39) || (c >= 42 && c <= 91) || (c >= 93 && c <= 126);
}
static int is_qtext(int c) {
  return c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}
static int is_atext(int c) {
  return c > 0 && (is_alnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c));
}
/* RFC 2045 token character */
static int is_tchar(int c) {
  return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* FWS = ([*WSP CRLF] 1*WSP); the whitespace taken goes to out (CRLF
 * dropped, as unfolding does). */
static int p_fws(P *p, sink *out) {
  size_t start = p->i, j = p->i;
  while (j < p->n && is_wsp(at(p, j))) {
    j++;
  }
  if (at(p, j) == '\r' && at(p, j + 1) == '\n') {
    size_t k = j + 2, m = k;
    while (m < p->n && is_wsp(at(p, m))) {
      m++;
    }
    if (m > k) {
      sink_add(out, p->s + start, j - start);
      sink_add(out, p->s + k, m - k);
      p->i = m;
      return 1;
    }
  }
  if (j > start) {
    sink_add(out, p->s + start, j - start);
    p->i = j;
    return 1;
  }
  return 0;
}

/* quoted-pair = "\" (VCHAR / WSP) */
static int p_qpair(P *p, sink *out) {
  int c = at(p, p->i + 1);
  if (peek(p) != '\\' || !(is_vchar(c) || is_wsp(c))) {
    return 0;
  }
  sink_add(out, p->s + p->i + 1, 1);
  p->i += 2;
  return 1;
}

/* comment = "(" *([FWS] ccontent) [FWS] ")"; ccontent = ctext /
 * quoted-pair / comment */
static int p_comment(P *p) {
  size_t save = p->i;
  sink *out;
  if (peek(p) != '(' || p->depth >= 50) {
    return 0;
  }
  p->depth++;
  out = p->depth == 1 ? &p->comment : NULL;
  if (out) {
    sink_reset(out);
  }
  p->i++;
  for (;;) {
    int c;
    (void)p_fws(p, out);
    c = peek(p);
    if (is_ctext(c)) {
      sink_add(out, p->s + p->i, 1);
      p->i++;
    } else if (c == '\\') {
      if (!p_qpair(p, out)) {
        break;
      }
    } else if (c == '(') {
      if (!p_comment(p)) {
        break;
      }
      sink_add(out, "(...)", 5);
    } else if (c == ')') {
      p->i++;
      p->depth--;
      return 1;
    } else {
      break;
    }
  }
  p->depth--;
  p->i = save;
  return 0;
}

/* CFWS = (1*([FWS] comment) [FWS]) / FWS */
static int p_cfws(P *p) {
  size_t start = p->i;
  int comments = 0;
  for (;;) {
    size_t s2 = p->i;
    (void)p_fws(p, NULL);
    if (peek(p) == '(' && p_comment(p)) {
      comments++;
      continue;
    }
    p->i = s2;
    break;
  }
  if (comments) {
    (void)p_fws(p, NULL);
    return 1;
  }
  p->i = start;
  return p_fws(p, NULL);
}

/* DQUOTE *([FWS] qcontent) [FWS] DQUOTE, without the surrounding CFWS of
 * RFC 5322's quoted-string (as RFC 2045 uses it); content unescaped. */
static int p_qcore(P *p, sink *out) {
  size_t save = p->i, mark = out ? out->len : 0;
  if (peek(p) != '"') {
    return 0;
  }
  p->i++;
  for (;;) {
    int c;
    (void)p_fws(p, out);
    c = peek(p);
    if (is_qtext(c)) {
      sink_add(out, p->s + p->i, 1);
      p->i++;
    } else if (c == '\\') {
      if (!p_qpair(p, out)) {
        break;
      }
    } else if (c == '"') {
      p->i++;
      return 1;
    } else {
      break;
    }
  }
  p->i = save;
  if (out) {
    out->len = mark;
  }
  return 0;
}

/* dot-atom-text = 1*atext *("." 1*atext) */
static int p_dot_atom_text(P *p, sink *out) {
  size_t start = p->i;
  if (!is_atext(peek(p))) {
    return 0;
  }
  for (;;) {
    while (is_atext(peek(p))) {
      p->i++;
    }
    if (peek(p) == '.' && is_atext(at(p, p->i + 1))) {
      p->i++;
      continue;
    }
    break;
  }
  sink_add(out, p->s + start, p->i - start);
  return 1;
}

static int p_lit(P *p, const char *lit) {
  size_t n = strlen(lit), k;
  if (p->n - p->i < n) {
    return 0;
  }
  for (k = 0; k < n; k++) {
    int a = at(p, p->i + k), b = (unsigned char)lit[k];
    if (is_alpha(a)) {
      a |= 0x20;
    }
    if (is_alpha(b)) {
      b |= 0x20;
    }
    if (a != b) {
      return 0;
    }
  }
  p->i += n;
  return 1;
}

static int p_crlf_end(P *p) {
  return peek(p) == '\r' && at(p, p->i + 1) == '\n' && p->i + 2 == p->n;
}

/* ======================================================================
 * Parsed header: keys / properties and their unquoted values
 * ==================================================================== */

#define MAXKV 16

typedef struct parsed {
  char result[16];
  char method[16];
  sink id; /* authserv-id */
  int nkv;
  char key[MAXKV][72];
  sink val[MAXKV];
  sink comment;
} parsed;

static void parsed_free(parsed *r) {
  int k;
  sink_free(&r->id);
  sink_free(&r->comment);
  for (k = 0; k < MAXKV; k++) {
    sink_free(&r->val[k]);
  }
  memset(r, 0, sizeof *r);
}

static void copy_word(char *dst, size_t n, const char *s, size_t len) {
  if (len >= n) {
    len = n - 1;
  }
  memcpy(dst, s, len);
  dst[len] = '\0';
}

/* ======================================================================
 * RFC 7208 9.1:
 *   header-field = "Received-SPF:" [CFWS] result FWS [comment FWS]
 *                  [ key-value-list ] CRLF
 *   key-value-list = key-value-pair *( ";" [CFWS] key-value-pair ) [";"]
 *   key-value-pair = key [CFWS] "=" ( dot-atom / quoted-string )
 *   key = "client-ip" / ... / name   (all of them are names)
 *   name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
 * ==================================================================== */

static const char *const RSPF_RESULTS[] = {
    "pass", "fail", "softfail", "policy", "neutral",
    "none", "temperror", "permerror"};

/* key-value-pair; appends to r */
static int p_kv_pair(P *p, parsed *r) {
  size_t save = p->i, start = p->i;
  sink *v;
  if (!is_alpha(peek(p)) || r->nkv >= MAXKV) {
    return 0;
  }
  while (is_alnum(peek(p)) || peek(p) == '-' || peek(p) == '_' ||
         peek(p) == '.') {
    p->i++;
  }
  copy_word(r->key[r->nkv], sizeof r->key[0], p->s + start, p->i - start);
  (void)p_cfws(p);
  if (peek(p) != '=') {
    p->i = save;
    return 0;
  }
  p->i++;
  /* dot-atom = [CFWS] dot-atom-text [CFWS]; quoted-string = [CFWS]
   * DQUOTE ... DQUOTE [CFWS] */
  v = &r->val[r->nkv];
  sink_reset(v);
  sink_add(v, "", 0);
  (void)p_cfws(p);
  if (!p_qcore(p, v) && !p_dot_atom_text(p, v)) {
    p->i = save;
    return 0;
  }
  (void)p_cfws(p);
  r->nkv++;
  return 1;
}

/* 1 if line is a valid Received-SPF field (CRLF implied at the end). */
static int parse_received_spf(const char *line, parsed *r) {
  P p;
  size_t k, n = strlen(line);
  char *s = malloc(n + 3);
  int ok = 0;
  assert_non_null(s);
  memcpy(s, line, n);
  memcpy(s + n, "\r\n", 3);
  memset(&p, 0, sizeof p);
  memset(r, 0, sizeof *r);
  p.s = s;
  p.n = n + 2;
  if (!p_lit(&p, "Received-SPF:")) {
    goto out;
  }
  (void)p_cfws(&p);
  for (k = 0; k < sizeof RSPF_RESULTS / sizeof RSPF_RESULTS[0]; k++) {
    size_t save = p.i;
    if (p_lit(&p, RSPF_RESULTS[k]) && p_fws(&p, NULL)) {
      snprintf(r->result, sizeof r->result, "%s", RSPF_RESULTS[k]);
      break;
    }
    p.i = save;
  }
  if (!r->result[0]) {
    goto out;
  }
  {
    size_t save = p.i;
    if (p_comment(&p) && p_fws(&p, NULL)) {
      sink_add(&r->comment, sink_str(&p.comment), p.comment.len);
    } else {
      p.i = save;
    }
  }
  if (p_kv_pair(&p, r)) {
    for (;;) {
      size_t save = p.i;
      if (peek(&p) != ';') {
        break;
      }
      p.i++;
      (void)p_cfws(&p);
      if (!p_kv_pair(&p, r)) {
        p.i = save + 1; /* the optional trailing ";" */
        break;
      }
    }
  }
  ok = p_crlf_end(&p);
out:
  sink_free(&p.comment);
  free(s);
  return ok;
}

/* ======================================================================
 * RFC 8601:
 *   authres-header = "Authentication-Results:" [CFWS] authserv-id
 *            [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS] CRLF
 *   authserv-id = value            ; RFC 2045: token / quoted-string
 *   authres-version = 1*DIGIT [CFWS]
 *   no-result = [CFWS] ";" [CFWS] "none"
 *   resinfo = [CFWS] ";" methodspec [ CFWS reasonspec ]
 *             [ CFWS 1*propspec ]
 *   methodspec = [CFWS] method [CFWS] "=" [CFWS] result
 *   reasonspec = "reason" [CFWS] "=" [CFWS] value
 *   propspec = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
 *   method = Keyword [ [CFWS] "/" [CFWS] method-version ]
 *   method-version = 1*DIGIT [CFWS]
 *   result = Keyword; ptype = Keyword; property = special-smtp-verb /
 *   Keyword; Keyword = Ldh-str (RFC 5321)
 *   pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
 *   domain-name = sub-domain 1*("." sub-domain)     (RFC 6376)
 * ==================================================================== */

/* Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig */
static int p_keyword(P *p, char *out, size_t outsz) {
  size_t start = p->i, end;
  while (is_alnum(peek(p)) || peek(p) == '-') {
    p->i++;
  }
  end = p->i;
  while (end > start && p->s[end - 1] == '-') {
    end--;
  }
  p->i = end;
  if (end == start) {
    return 0;
  }
  if (out) {
    copy_word(out, outsz, p->s + start, end - start);
  }
  return 1;
}

/* RFC 2045 value = token / quoted-string */
static int p_mime_value(P *p, sink *out) {
  size_t start = p->i;
  if (p_qcore(p, out)) {
    return 1;
  }
  while (is_tchar(peek(p))) {
    p->i++;
  }
  if (p->i == start) {
    return 0;
  }
  sink_add(out, p->s + start, p->i - start);
  return 1;
}

/* sub-domain = Let-dig [Ldh-str] */
static int p_subdomain(P *p) {
  if (!is_alnum(peek(p))) {
    return 0;
  }
  return p_keyword(p, NULL, 0);
}

static int p_domain_name(P *p) {
  size_t start = p->i;
  int labels = 0;
  if (!p_subdomain(p)) {
    return 0;
  }
  labels = 1;
  while (peek(p) == '.' && is_alnum(at(p, p->i + 1))) {
    p->i++;
    (void)p_subdomain(p);
    labels++;
  }
  if (labels < 2) {
    p->i = start;
    return 0;
  }
  return 1;
}

static int p_pvalue(P *p, sink *out) {
  size_t save;
  sink_reset(out);
  sink_add(out, "", 0);
  (void)p_cfws(p);
  save = p->i;
  /* local-part "@" domain-name, "@" domain-name (local-part here:
   * dot-atom-text / quoted-string) */
  {
    sink lp = {0};
    (void)(p_qcore(p, &lp) || p_dot_atom_text(p, &lp));
    if (peek(p) == '@') {
      size_t dstart;
      p->i++;
      dstart = p->i;
      if (p_domain_name(p)) {
        sink_add(out, sink_str(&lp), lp.len);
        sink_add(out, "@", 1);
        sink_add(out, p->s + dstart, p->i - dstart);
        sink_free(&lp);
        (void)p_cfws(p);
        return 1;
      }
    }
    sink_free(&lp);
    p->i = save;
  }
  /* value (token / quoted-string); a bare domain-name is a token too */
  if (p_mime_value(p, out)) {
    (void)p_cfws(p);
    return 1;
  }
  if (p_domain_name(p)) {
    sink_add(out, p->s + save, p->i - save);
    (void)p_cfws(p);
    return 1;
  }
  p->i = save;
  return 0;
}

static int p_propspec(P *p, parsed *r) {
  size_t save = p->i;
  char ptype[32], prop[32];
  if (r->nkv >= MAXKV || !p_keyword(p, ptype, sizeof ptype)) {
    return 0;
  }
  (void)p_cfws(p);
  if (peek(p) != '.') {
    p->i = save;
    return 0;
  }
  p->i++;
  (void)p_cfws(p);
  if (!p_keyword(p, prop, sizeof prop)) {
    p->i = save;
    return 0;
  }
  (void)p_cfws(p);
  if (peek(p) != '=') {
    p->i = save;
    return 0;
  }
  p->i++;
  if (!p_pvalue(p, &r->val[r->nkv])) {
    p->i = save;
    return 0;
  }
  snprintf(r->key[r->nkv], sizeof r->key[0], "%s.%s", ptype, prop);
  r->nkv++;
  return 1;
}

static int p_resinfo(P *p, parsed *r) {
  size_t save = p->i;
  char method[16], result[16];
  (void)p_cfws(p);
  if (peek(p) != ';') {
    goto fail;
  }
  p->i++;
  (void)p_cfws(p);
  if (!p_keyword(p, method, sizeof method)) {
    goto fail;
  }
  {
    size_t s2 = p->i;
    (void)p_cfws(p);
    if (peek(p) == '/') {
      p->i++;
      (void)p_cfws(p);
      if (!is_digit(peek(p))) {
        goto fail;
      }
      while (is_digit(peek(p))) {
        p->i++;
      }
      (void)p_cfws(p);
    } else {
      p->i = s2;
    }
  }
  (void)p_cfws(p);
  if (peek(p) != '=') {
    goto fail;
  }
  p->i++;
  (void)p_cfws(p);
  if (!p_keyword(p, result, sizeof result)) {
    goto fail;
  }
  snprintf(r->method, sizeof r->method, "%s", method);
  snprintf(r->result, sizeof r->result, "%s", result);
  { /* [ CFWS reasonspec ] */
    size_t s2 = p->i;
    sink reason = {0};
    int ok = p_cfws(p) && p_lit(p, "reason");
    if (ok) {
      (void)p_cfws(p);
      ok = peek(p) == '=';
    }
    if (ok) {
      p->i++;
      (void)p_cfws(p);
      ok = p_mime_value(p, &reason);
    }
    sink_free(&reason);
    if (!ok) {
      p->i = s2;
    }
  }
  { /* [ CFWS 1*propspec ] */
    size_t s2 = p->i;
    if (p_cfws(p)) {
      sink_add(&r->comment, sink_str(&p->comment), p->comment.len);
    }
    if (p->i > s2 && p_propspec(p, r)) {
      while (p_propspec(p, r)) {
      }
    } else {
      p->i = s2;
    }
  }
  return 1;
fail:
  p->i = save;
  return 0;
}

static int parse_auth_results(const char *line, parsed *r) {
  P p;
  size_t n = strlen(line);
  char *s = malloc(n + 3);
  int ok = 0, count = 0;
  assert_non_null(s);
  memcpy(s, line, n);
  memcpy(s + n, "\r\n", 3);
  memset(&p, 0, sizeof p);
  memset(r, 0, sizeof *r);
  p.s = s;
  p.n = n + 2;
  if (!p_lit(&p, "Authentication-Results:")) {
    goto out;
  }
  (void)p_cfws(&p);
  sink_add(&r->id, "", 0);
  if (!p_mime_value(&p, &r->id)) {
    goto out;
  }
  { /* [ CFWS authres-version ] */
    size_t save = p.i;
    if (p_cfws(&p) && is_digit(peek(&p))) {
      while (is_digit(peek(&p))) {
        p.i++;
      }
      (void)p_cfws(&p);
    } else {
      p.i = save;
    }
  }
  { /* no-result */
    size_t save = p.i;
    (void)p_cfws(&p);
    if (peek(&p) == ';') {
      p.i++;
      (void)p_cfws(&p);
      if (p_lit(&p, "none")) {
        (void)p_cfws(&p);
        if (p_crlf_end(&p)) {
          snprintf(r->result, sizeof r->result, "none");
          ok = 1;
          goto out;
        }
      }
    }
    p.i = save;
  }
  while (p_resinfo(&p, r)) {
    count++;
  }
  if (count == 0) {
    goto out;
  }
  (void)p_cfws(&p);
  ok = p_crlf_end(&p) && count == 1;
out:
  sink_free(&p.comment);
  free(s);
  return ok;
}

/* ======================================================================
 * Helpers: zone, checks, expectations
 * ==================================================================== */

static const char ZONE[] =
    "@       TXT \"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all\"\n"
    "soft    TXT \"v=spf1 ip4:192.0.2.1 ~all\"\n"
    "neut    TXT \"v=spf1 ip4:192.0.2.1 ?all\"\n"
    "dflt    TXT \"v=spf1 ip4:192.0.2.1\"\n"
    "plain   TXT \"no spf here\"\n"
    "tmp     TXT \"v=spf1 -all\"\n"
    "bad     TXT \"v=spf1 ip4:192.0.2.1 frob -all\"\n"
    "mail    A   192.0.2.1\n"
    "mail    TXT \"v=spf1 a -all\"\n"
    "inc     TXT \"v=spf1 include:example.com -all\"\n"
    "guess   A   192.0.2.9\n";

/* Record texts with quotes, parentheses and backslashes in a domain-spec
 * (all legal macro-literals) and their targets. */
static const char ODD_MATCH[] = "v=spf1 a:\"q(\\)\".example.com -all";
static const char ODD_TMP[] = "v=spf1 a:\"t(\\);=x\".example.com -all";
static const char ODD_EXISTS[] = "v=spf1 exists:%{l}.ex.example.com -all";

static void add_txt(mdspf_zone *z, const char *name, const char *txt) {
  const char *strs[1];
  size_t lens[1];
  strs[0] = txt;
  lens[0] = strlen(txt);
  assert_int_equal(mdspf_zone_add_txt(z, name, strs, lens, 1), MDSPF_OK);
}

static mdspf_zone *make_zone(void) {
  mdspf_zone *z = NULL;
  char err[256];
  assert_int_equal(mdspf_zone_new(NULL, NULL, &z), MDSPF_OK);
  if (mdspf_zone_load(z, ZONE, strlen(ZONE), "example.com.", "header", err,
                      sizeof err) != MDSPF_OK) {
    print_error("zone: %s\n", err);
    fail();
  }
  assert_int_equal(mdspf_zone_set_fault(z, "tmp.example.com", MDSPF_RR_TXT,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  add_txt(z, "odd.example.com", ODD_MATCH);
  assert_int_equal(
      mdspf_zone_add(z, "\"q(\\)\".example.com", MDSPF_RR_A, "192.0.2.1"),
      MDSPF_OK);
  add_txt(z, "oddtmp.example.com", ODD_TMP);
  assert_int_equal(mdspf_zone_set_fault(z, "\"t(\\);=x\".example.com", 0,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  add_txt(z, "ex.example.com", ODD_EXISTS);
  return z;
}

typedef struct fixture {
  mdspf_zone *z;
  mdspf_ctx *ctx;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->z = make_zone();
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &f->ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(f->ctx, mdspf_zone_resolver(f->z)),
                   MDSPF_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  mdspf_ctx_free(f->ctx);
  mdspf_zone_free(f->z);
  free(f);
  return 0;
}

static mdspf_check *run_check(mdspf_ctx *ctx, const char *ip,
                              const char *sender, const char *helo,
                              int identity) {
  mdspf_check *chk = NULL;
  assert_int_equal(mdspf_check_new(ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, ip), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, sender), MDSPF_OK);
  assert_int_equal(mdspf_check_set_helo(chk, helo), MDSPF_OK);
  assert_int_equal(mdspf_check_set_identity(chk, identity), MDSPF_OK);
  assert_int_equal(mdspf_check_run(chk, 5000), MDSPF_OK);
  assert_true(mdspf_check_done(chk));
  return chk;
}

/* The header into a heap buffer of exactly the needed size. */
static char *format(int ar, const mdspf_check *chk, const char *who) {
  size_t need = 0, need2 = 0;
  char *buf;
  int rc = ar ? mdspf_check_auth_results(chk, who, NULL, 0, &need)
              : mdspf_check_received_spf(chk, who, NULL, 0, &need);
  assert_int_equal(rc, MDSPF_E_BUFFER);
  buf = malloc(need + 1);
  assert_non_null(buf);
  rc = ar ? mdspf_check_auth_results(chk, who, buf, need + 1, &need2)
          : mdspf_check_received_spf(chk, who, buf, need + 1, &need2);
  assert_int_equal(rc, MDSPF_OK);
  assert_int_equal(need, need2);
  assert_int_equal(strlen(buf), need);
  return buf;
}

/* What the formatter promises for any input octet. */
static char *sanitize(const char *s) {
  size_t k, n = strlen(s);
  char *out = malloc(n + 1);
  assert_non_null(out);
  for (k = 0; k <= n; k++) {
    unsigned char c = (unsigned char)s[k];
    out[k] = (char)((c == 0 || c == ' ' || (c >= 0x21 && c <= 0x7e)) ? c
                                                                     : '?');
  }
  return out;
}

static void assert_printable_line(const char *line) {
  size_t k;
  for (k = 0; line[k]; k++) {
    unsigned char c = (unsigned char)line[k];
    if (c < 0x20 || c > 0x7e) {
      print_error("octet 0x%02x at %zu in: %s\n", c, k, line);
      fail();
    }
  }
}

/* The sanitised value expected for key in r (asserts presence / order
 * through index k). */
static void expect_kv(const parsed *r, int k, const char *key,
                      const char *raw) {
  char *want = sanitize(raw);
  if (k >= r->nkv || strcmp(r->key[k], key) != 0) {
    print_error("key %d: want %s, got %s\n", k, key,
                k < r->nkv ? r->key[k] : "(none)");
    fail();
  }
  if (strcmp(sink_str(&r->val[k]), want) != 0) {
    print_error("%s: want [%s], got [%s]\n", key, want, sink_str(&r->val[k]));
    fail();
  }
  free(want);
}

static int matching(int result) {
  return result == MDSPF_PASS || result == MDSPF_FAIL ||
         result == MDSPF_SOFTFAIL || result == MDSPF_NEUTRAL;
}

static const char *expected_problem(const mdspf_check *chk) {
  int result = mdspf_check_result(chk);
  if (result == MDSPF_TEMPERROR || result == MDSPF_PERMERROR) {
    return mdspf_check_problem(chk) ? mdspf_check_problem(chk)
                                    : mdspf_strerror(mdspf_check_reason(chk));
  }
  if (result == MDSPF_NONE) {
    return mdspf_check_problem(chk);
  }
  return NULL;
}

/*
 * Validate both headers of chk against the grammars and the documented
 * key set.  sender / helo: what the check holds (NULL if none); host:
 * the receiver / authserv-id expected.  Returns the Received-SPF line
 * (caller frees).
 */
static char *verify(const mdspf_check *chk, const char *who,
                    const char *host, const char *sender, const char *helo) {
  parsed r;
  char *line = format(0, chk, who), *ar;
  int k = 0, result = mdspf_check_result(chk);
  int helo_id = mdspf_check_identity(chk) == MDSPF_ID_HELO;
  const char *mech = mdspf_check_mechanism(chk);
  const char *problem = expected_problem(chk);
  const char *subject = helo_id ? helo : sender;
  char *want_subject;

  assert_printable_line(line);
  if (!parse_received_spf(line, &r)) {
    print_error("not a valid Received-SPF field: %s\n", line);
    fail();
  }
  assert_string_equal(r.result, mdspf_result_str(result));
  expect_kv(&r, k++, "client-ip", mdspf_check_client_ip(chk));
  if (sender) {
    expect_kv(&r, k++, "envelope-from", sender);
  } else {
    char pm[1100];
    snprintf(pm, sizeof pm, "postmaster@%s", helo);
    expect_kv(&r, k++, "envelope-from", pm);
  }
  if (helo) {
    expect_kv(&r, k++, "helo", helo);
  }
  expect_kv(&r, k++, "receiver", host);
  if (mech) {
    expect_kv(&r, k++, "mechanism", mech);
  } else if (matching(result)) {
    expect_kv(&r, k++, "mechanism", "default");
  }
  if (problem) {
    expect_kv(&r, k++, "problem", problem);
  }
  expect_kv(&r, k++, "identity", helo_id ? "helo" : "mailfrom");
  assert_int_equal(r.nkv, k);
  /* the comment names this host and the identity, unescaped intact */
  want_subject = sanitize(subject);
  {
    char *want_host = sanitize(host);
    const char *c = sink_str(&r.comment);
    if (strncmp(c, want_host, strlen(want_host)) != 0 ||
        strncmp(c + strlen(want_host), ": ", 2) != 0 ||
        !strstr(c, want_subject)) {
      print_error("comment [%s] lacks [%s] / [%s]\n", c, want_host,
                  want_subject);
      fail();
    }
    free(want_host);
  }
  parsed_free(&r);

  ar = format(1, chk, who);
  assert_printable_line(ar);
  if (!parse_auth_results(ar, &r)) {
    print_error("not a valid Authentication-Results field: %s\n", ar);
    fail();
  }
  {
    char *want_id = sanitize(host);
    assert_string_equal(sink_str(&r.id), want_id);
    free(want_id);
  }
  assert_string_equal(r.method, "spf");
  assert_string_equal(r.result, mdspf_result_str(result));
  assert_int_equal(r.nkv, 1);
  expect_kv(&r, 0, helo_id ? "smtp.helo" : "smtp.mailfrom", subject);
  if (matching(result) && mech) {
    char *want = sanitize(mech);
    char *c = malloc(strlen(want) + 16);
    assert_non_null(c);
    sprintf(c, "matched %s", want);
    assert_non_null(strstr(sink_str(&r.comment), c));
    free(c);
    free(want);
  } else if (problem) {
    char *want = sanitize(problem);
    assert_non_null(strstr(sink_str(&r.comment), want));
    free(want);
  }
  parsed_free(&r);
  free(want_subject);
  free(ar);
  return line;
}

/* ======================================================================
 * Tests
 * ==================================================================== */

typedef struct exact {
  const char *ip, *sender, *helo;
  int identity, result;
  const char *rspf, *ar;
} exact;

static const exact EXACT[] = {
    {"192.0.2.1", "user@example.com", "mail.example.com", MDSPF_ID_MAILFROM,
     MDSPF_PASS,
     "Received-SPF: pass (mx.example.net: domain of user@example.com "
     "designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; "
     "envelope-from=\"user@example.com\"; helo=mail.example.com; "
     "receiver=mx.example.net; mechanism=\"ip4:192.0.2.0/24\"; "
     "identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=pass (matched "
     "ip4:192.0.2.0/24) smtp.mailfrom=user@example.com"},
    {"198.51.100.7", "user@example.com", "mail.example.com",
     MDSPF_ID_MAILFROM, MDSPF_FAIL,
     "Received-SPF: fail (mx.example.net: domain of user@example.com does "
     "not designate 198.51.100.7 as permitted sender) "
     "client-ip=198.51.100.7; envelope-from=\"user@example.com\"; "
     "helo=mail.example.com; receiver=mx.example.net; mechanism=-all; "
     "identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=fail (matched -all) "
     "smtp.mailfrom=user@example.com"},
    {"2001:db8::1", "user@example.com", NULL, MDSPF_ID_MAILFROM, MDSPF_PASS,
     "Received-SPF: pass (mx.example.net: domain of user@example.com "
     "designates 2001:db8::1 as permitted sender) "
     "client-ip=\"2001:db8::1\"; envelope-from=\"user@example.com\"; "
     "receiver=mx.example.net; mechanism=\"ip6:2001:db8::/32\"; "
     "identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=pass (matched "
     "ip6:2001:db8::/32) smtp.mailfrom=user@example.com"},
    {"198.51.100.7", "x@soft.example.com", "mail.example.com",
     MDSPF_ID_MAILFROM, MDSPF_SOFTFAIL,
     "Received-SPF: softfail (mx.example.net: transitioning domain of "
     "x@soft.example.com does not designate 198.51.100.7 as permitted "
     "sender) client-ip=198.51.100.7; envelope-from=\"x@soft.example.com\"; "
     "helo=mail.example.com; receiver=mx.example.net; mechanism=~all; "
     "identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=softfail (matched ~all) "
     "smtp.mailfrom=x@soft.example.com"},
    {"198.51.100.7", "x@neut.example.com", "mail.example.com",
     MDSPF_ID_MAILFROM, MDSPF_NEUTRAL,
     "Received-SPF: neutral (mx.example.net: 198.51.100.7 is neither "
     "permitted nor denied by domain of x@neut.example.com) "
     "client-ip=198.51.100.7; envelope-from=\"x@neut.example.com\"; "
     "helo=mail.example.com; receiver=mx.example.net; mechanism=?all; "
     "identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=neutral (matched ?all) "
     "smtp.mailfrom=x@neut.example.com"},
    {"198.51.100.7", "x@dflt.example.com", "mail.example.com",
     MDSPF_ID_MAILFROM, MDSPF_NEUTRAL,
     "Received-SPF: neutral (mx.example.net: 198.51.100.7 is neither "
     "permitted nor denied by domain of x@dflt.example.com) "
     "client-ip=198.51.100.7; envelope-from=\"x@dflt.example.com\"; "
     "helo=mail.example.com; receiver=mx.example.net; mechanism=default; "
     "identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=neutral (no mechanism "
     "matched) smtp.mailfrom=x@dflt.example.com"},
    {"192.0.2.1", "x@plain.example.com", "mail.example.com",
     MDSPF_ID_MAILFROM, MDSPF_NONE,
     "Received-SPF: none (mx.example.net: domain of x@plain.example.com "
     "does not provide an SPF record) client-ip=192.0.2.1; "
     "envelope-from=\"x@plain.example.com\"; helo=mail.example.com; "
     "receiver=mx.example.net; problem=\"no SPF record at "
     "plain.example.com\"; identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=none (no SPF record at "
     "plain.example.com) smtp.mailfrom=x@plain.example.com"},
    {"192.0.2.1", "x@tmp.example.com", "mail.example.com", MDSPF_ID_MAILFROM,
     MDSPF_TEMPERROR,
     "Received-SPF: temperror (mx.example.net: error in processing during "
     "lookup of x@tmp.example.com: DNS tempfail looking up TXT "
     "tmp.example.com) client-ip=192.0.2.1; "
     "envelope-from=\"x@tmp.example.com\"; helo=mail.example.com; "
     "receiver=mx.example.net; problem=\"DNS tempfail looking up TXT "
     "tmp.example.com\"; identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=temperror (DNS tempfail "
     "looking up TXT tmp.example.com) smtp.mailfrom=x@tmp.example.com"},
    {"192.0.2.1", "x@bad.example.com", "mail.example.com", MDSPF_ID_MAILFROM,
     MDSPF_PERMERROR,
     "Received-SPF: permerror (mx.example.net: permanent error in "
     "processing domain of x@bad.example.com: unknown mechanism in the "
     "record of bad.example.com) client-ip=192.0.2.1; "
     "envelope-from=\"x@bad.example.com\"; helo=mail.example.com; "
     "receiver=mx.example.net; problem=\"unknown mechanism in the record "
     "of bad.example.com\"; identity=mailfrom",
     "Authentication-Results: mx.example.net; spf=permerror (unknown "
     "mechanism in the record of bad.example.com) "
     "smtp.mailfrom=x@bad.example.com"},
    /* HELO identity: the null reverse-path, and chosen explicitly */
    {"192.0.2.1", NULL, "mail.example.com", MDSPF_ID_MAILFROM, MDSPF_PASS,
     "Received-SPF: pass (mx.example.net: domain of mail.example.com "
     "designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; "
     "envelope-from=\"postmaster@mail.example.com\"; helo=mail.example.com; "
     "receiver=mx.example.net; mechanism=a; identity=helo",
     "Authentication-Results: mx.example.net; spf=pass (matched a) "
     "smtp.helo=mail.example.com"},
    {"198.51.100.7", "user@example.com", "mail.example.com", MDSPF_ID_HELO,
     MDSPF_FAIL,
     "Received-SPF: fail (mx.example.net: domain of mail.example.com does "
     "not designate 198.51.100.7 as permitted sender) "
     "client-ip=198.51.100.7; envelope-from=\"user@example.com\"; "
     "helo=mail.example.com; receiver=mx.example.net; mechanism=-all; "
     "identity=helo",
     "Authentication-Results: mx.example.net; spf=fail (matched -all) "
     "smtp.helo=mail.example.com"},
};

static void test_exact_lines(void **state) {
  fixture *f = *state;
  size_t k;
  for (k = 0; k < sizeof EXACT / sizeof EXACT[0]; k++) {
    const exact *e = &EXACT[k];
    mdspf_check *chk =
        run_check(f->ctx, e->ip, e->sender, e->helo, e->identity);
    char *line, *ar;
    assert_int_equal(mdspf_check_result(chk), e->result);
    line = verify(chk, "mx.example.net", "mx.example.net", e->sender,
                  e->helo);
    if (strcmp(line, e->rspf) != 0) {
      print_error("case %zu:\n got  %s\n want %s\n", k, line, e->rspf);
      fail();
    }
    ar = format(1, chk, "mx.example.net");
    if (strcmp(ar, e->ar) != 0) {
      print_error("case %zu:\n got  %s\n want %s\n", k, ar, e->ar);
      fail();
    }
    free(ar);
    free(line);
    mdspf_check_free(chk);
  }
}

/* Every result, both identities, IPv4 and IPv6, through the validator. */
static void test_all_results_validate(void **state) {
  fixture *f = *state;
  static const struct {
    const char *ip, *sender, *helo;
    int identity, result;
  } cases[] = {
      {"192.0.2.1", "a@example.com", "mail.example.com", 0, MDSPF_PASS},
      {"192.0.2.77", "a@inc.example.com", NULL, 0, MDSPF_PASS},
      {"203.0.113.1", "a@inc.example.com", NULL, 0, MDSPF_FAIL},
      {"203.0.113.1", "a@soft.example.com", NULL, 0, MDSPF_SOFTFAIL},
      {"203.0.113.1", "a@neut.example.com", "x.example.org", 0,
       MDSPF_NEUTRAL},
      {"2001:db8:1::5", "a@dflt.example.com", "mail.example.com", 0,
       MDSPF_NEUTRAL},
      {"2001:db8:1::5", "a@plain.example.com", NULL, 0, MDSPF_NONE},
      {"192.0.2.1", "a@nowhere.example.com", NULL, 0, MDSPF_NONE},
      {"192.0.2.1", "a@tmp.example.com", NULL, 0, MDSPF_TEMPERROR},
      {"192.0.2.1", "a@bad.example.com", NULL, 0, MDSPF_PERMERROR},
      {"192.0.2.1", NULL, "mail.example.com", 0, MDSPF_PASS},
      {"192.0.2.2", NULL, "mail.example.com", 0, MDSPF_FAIL},
      {"192.0.2.2", NULL, "soft.example.com", 0, MDSPF_SOFTFAIL},
      {"192.0.2.2", NULL, "neut.example.com", 0, MDSPF_NEUTRAL},
      {"192.0.2.2", NULL, "plain.example.com", 0, MDSPF_NONE},
      {"192.0.2.2", NULL, "tmp.example.com", 0, MDSPF_TEMPERROR},
      {"192.0.2.2", "u@example.com", "bad.example.com", 1, MDSPF_PERMERROR},
      {"192.0.2.2", "u@example.com", "localhost", 1, MDSPF_NONE},
      {"::ffff:192.0.2.1", "u@example.com", "[192.0.2.1]", 0, MDSPF_PASS},
      {"192.0.2.2", "u@example.com", "[192.0.2.1]", 1, MDSPF_NONE},
  };
  size_t k;
  for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    mdspf_check *chk = run_check(f->ctx, cases[k].ip, cases[k].sender,
                                 cases[k].helo, cases[k].identity);
    char *line;
    if ((int)mdspf_check_result(chk) != cases[k].result) {
      print_error("case %zu: result %s\n", k,
                  mdspf_result_str(mdspf_check_result(chk)));
      fail();
    }
    line = verify(chk, "mx.example.net", "mx.example.net", cases[k].sender,
                  cases[k].helo);
    free(line);
    mdspf_check_free(chk);
  }
}

/* Receiver / authserv-id: argument, then the context's, then "unknown";
 * anything else is quoted like any value. */
static void test_receiver_choice(void **state) {
  fixture *f = *state;
  mdspf_check *chk =
      run_check(f->ctx, "192.0.2.1", "u@example.com", NULL, 0);
  char *line;
  line = verify(chk, NULL, "unknown", "u@example.com", NULL);
  assert_non_null(strstr(line, "(unknown: domain of"));
  assert_non_null(strstr(line, "; receiver=unknown;"));
  free(line);
  line = verify(chk, "", "unknown", "u@example.com", NULL);
  free(line);
  /* the receiver is the one of the configuration the check ran with */
  assert_int_equal(mdspf_ctx_set_receiver(f->ctx, "mx.ctx.example"),
                   MDSPF_OK);
  line = verify(chk, NULL, "unknown", "u@example.com", NULL);
  free(line);
  mdspf_check_free(chk);
  chk = run_check(f->ctx, "192.0.2.1", "u@example.com", NULL, 0);
  line = verify(chk, NULL, "mx.ctx.example", "u@example.com", NULL);
  assert_non_null(strstr(line, "; receiver=mx.ctx.example;"));
  free(line);
  {
    char *ar = format(1, chk, NULL);
    assert_string_equal(ar, "Authentication-Results: mx.ctx.example; "
                            "spf=pass (matched ip4:192.0.2.0/24) "
                            "smtp.mailfrom=u@example.com");
    free(ar);
  }
  line = verify(chk, "[192.0.2.254]", "[192.0.2.254]", "u@example.com", NULL);
  assert_non_null(strstr(line, "; receiver=\"[192.0.2.254]\";"));
  free(line);
  {
    char *ar = format(1, chk, "[192.0.2.254]");
    assert_non_null(
        strstr(ar, "Authentication-Results: \"[192.0.2.254]\"; spf=pass"));
    free(ar);
  }
  /* hostile host names: the caller's argument is not checked */
  line = verify(chk, "evil\r\nX-Injected: yes", "evil\r\nX-Injected: yes",
                "u@example.com", NULL);
  assert_non_null(strstr(line, "(evil??X-Injected: yes: domain of"));
  assert_non_null(strstr(line, "; receiver=\"evil??X-Injected: yes\";"));
  free(line);
  line = verify(chk, "a(b)\\c\"d;e=f", "a(b)\\c\"d;e=f", "u@example.com",
                NULL);
  assert_non_null(strstr(line, "(a\\(b\\)\\\\c\"d;e=f: domain of"));
  assert_non_null(strstr(line, "; receiver=\"a(b)\\\\c\\\"d;e=f\";"));
  free(line);
  assert_int_equal(mdspf_ctx_set_receiver(f->ctx, NULL), MDSPF_OK);
  mdspf_check_free(chk);
}

/* Senders and HELOs with every special character set_sender lets
 * through, UTF-8 and maximal lengths. */
static void test_hostile_inputs(void **state) {
  fixture *f = *state;
  static const char *const senders[] = {
      "\"we(ird)\\\\ \\\";=x\"@example.com",
      "a\"b@example.com",
      "a\\b@example.com",
      "(comment)@example.com",
      "a)b(c@example.com",
      "x; identity=helo@example.com",
      "x=y@example.com",
      "with space@example.com",
      "j\xc3\xb6rg@example.com",
      "\xff\xfe@example.com",
      "@example.com",
      "example.com",
      "a..b@example.com",
      ".a@example.com",
      "a@b@example.com",
      "x@ex.example.com",
      "q\"(\\)\x7e@ex.example.com",
      "a@\"quoted\".example.com",
      "a@bad domain(x)\";y=z",
      "a@-leading.example.com",
      "a@example.com.",
  };
  static const char *const helos[] = {
      "mail.example.com",
      "he(lo",
      "he)lo\\",
      "\"quoted\"",
      "x; envelope-from=forged@example.com",
      "h\xc3\xa9lo.example.com",
      "[192.0.2.1]",
      "a b c",
      "trailing.example.com.",
      ".lead..ing",
  };
  size_t i, j;
  for (i = 0; i < sizeof senders / sizeof senders[0]; i++) {
    for (j = 0; j < sizeof helos / sizeof helos[0]; j++) {
      int id;
      for (id = 0; id < 2; id++) {
        mdspf_check *chk =
            run_check(f->ctx, "192.0.2.1", senders[i], helos[j], id);
        char *line = verify(chk, "mx.example.net", "mx.example.net",
                            senders[i], helos[j]);
        free(line);
        mdspf_check_free(chk);
      }
    }
  }
  /* null sender with hostile HELOs (the HELO identity) */
  for (j = 0; j < sizeof helos / sizeof helos[0]; j++) {
    mdspf_check *chk = run_check(f->ctx, "192.0.2.1", NULL, helos[j], 0);
    char *line = verify(chk, "mx.example.net", "mx.example.net", NULL,
                        helos[j]);
    free(line);
    mdspf_check_free(chk);
  }
}

static void test_long_inputs(void **state) {
  fixture *f = *state;
  char s[1025];
  const char *fill = "a\"\\()\xc3;";
  size_t k, plen;
  int variant;
  for (variant = 0; variant < 8; variant++) {
    mdspf_check *chk;
    char *line;
    size_t need = 0;
    /* 1012 octets of local part + "@example.com" = 1024 octets */
    plen = 1024 - strlen("@example.com");
    for (k = 0; k < plen; k++) {
      s[k] = variant < 7 ? fill[variant] : fill[k % 7];
    }
    memcpy(s + plen, "@example.com", strlen("@example.com") + 1);
    assert_int_equal(strlen(s), 1024);
    chk = run_check(f->ctx, "192.0.2.1", s, s, 0);
    line = verify(chk, "mx.example.net", "mx.example.net", s, s);
    assert_int_equal(mdspf_check_received_spf(chk, "mx.example.net", NULL, 0,
                                              &need),
                     MDSPF_E_BUFFER);
    assert_int_equal(need, strlen(line));
    free(line);
    mdspf_check_free(chk);
  }
}

/* Mechanism and problem texts with quotes, parentheses, backslashes,
 * ';' and '=' produced by the evaluator itself. */
static void test_odd_mechanism_and_problem(void **state) {
  fixture *f = *state;
  mdspf_check *chk;
  char *line, *ar;

  chk = run_check(f->ctx, "192.0.2.1", "u@odd.example.com", NULL, 0);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
  assert_string_equal(mdspf_check_mechanism(chk), "a:\"q(\\)\".example.com");
  line = verify(chk, "mx", "mx", "u@odd.example.com", NULL);
  assert_non_null(
      strstr(line, "; mechanism=\"a:\\\"q(\\\\)\\\".example.com\";"));
  free(line);
  ar = format(1, chk, "mx");
  assert_string_equal(ar, "Authentication-Results: mx; spf=pass (matched "
                          "a:\"q\\(\\\\\\)\".example.com) "
                          "smtp.mailfrom=u@odd.example.com");
  free(ar);
  mdspf_check_free(chk);

  chk = run_check(f->ctx, "192.0.2.1", "u@oddtmp.example.com", NULL, 0);
  assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
  /* the name in the problem text as DNS presentation format writes it */
  assert_non_null(strstr(mdspf_check_problem(chk), "\"t(\\\\);=x\""));
  line = verify(chk, "mx", "mx", "u@oddtmp.example.com", NULL);
  free(line);
  mdspf_check_free(chk);

  /* %{l} copies the sender's local part into the DNS name (and so into
   * the problem text when the lookup fails) */
  assert_int_equal(mdspf_zone_set_fault(f->z, "x(y)\"z\\.ex.example.com", 0,
                                        MDSPF_ZONE_SERVFAIL),
                   MDSPF_OK);
  chk = run_check(f->ctx, "192.0.2.1", "x(y)\"z\\@ex.example.com", NULL, 0);
  assert_int_equal(mdspf_check_result(chk), MDSPF_TEMPERROR);
  line = verify(chk, "mx", "mx", "x(y)\"z\\@ex.example.com", NULL);
  free(line);
  mdspf_check_free(chk);

  /* an invalid identity domain: "none" with a problem naming it */
  chk = run_check(f->ctx, "192.0.2.1", "u@(x)\"y\\;z=w", NULL, 0);
  assert_int_equal(mdspf_check_result(chk), MDSPF_NONE);
  assert_non_null(mdspf_check_problem(chk));
  line = verify(chk, "mx", "mx", "u@(x)\"y\\;z=w", NULL);
  assert_non_null(strstr(line, "; problem=\""));
  free(line);
  mdspf_check_free(chk);
}

/* Replace a string of a finished check, as if the input checks had let
 * anything through. */
static void plant(mdspf_check *chk, char **slot, const char *s) {
  const mdspf__allocator *a = &chk->ctx->alloc;
  mdspf__strfree(a, *slot);
  *slot = s ? mdspf__strdup(a, s) : NULL;
  if (s) {
    assert_non_null(*slot);
  }
}

static void test_planted_controls(void **state) {
  fixture *f = *state;
  static const char *const evil[] = {
      "a\r\nX-Injected: yes@example.com",
      "\r\n",
      "\n\n\r\r",
      "tab\there",
      "del\x7f",
      "bell\x07\x1b[31m",
      "(unclosed",
      "closed)",
      "\"",
      "\\",
      "\\\"",
      "x\xc3\xa9\xff\x80",
      "",
      " leading and trailing ",
      "a;b=c; identity=mailfrom",
  };
  const size_t ne = sizeof evil / sizeof evil[0];
  size_t i;
  int result;
  for (i = 0; i < ne; i++) {
    for (result = MDSPF_NEUTRAL; result <= MDSPF_PERMERROR; result++) {
      int id;
      for (id = 0; id < 2; id++) {
        mdspf_check *chk =
            run_check(f->ctx, "192.0.2.1", "u@example.com", "h.example", id);
        const char *host = evil[(i + 1) % ne];
        char *line;
        chk->result = result;
        plant(chk, &chk->sender, evil[i]);
        plant(chk, &chk->helo, evil[(i + 3) % ne]);
        plant(chk, &chk->mechanism, evil[(i + 5) % ne]);
        plant(chk, &chk->problem, evil[(i + 7) % ne]);
        line = verify(chk, host, host[0] ? host : "unknown", chk->sender,
                      chk->helo);
        assert_null(strstr(line, "\nX-Injected"));
        free(line);
        /* no mechanism and no problem: "default" / the reason's text */
        plant(chk, &chk->mechanism, NULL);
        plant(chk, &chk->problem, NULL);
        chk->reason = MDSPF_E_DNS;
        line = verify(chk, "mx", "mx", chk->sender, chk->helo);
        if (result == MDSPF_TEMPERROR || result == MDSPF_PERMERROR) {
          assert_non_null(strstr(line, "; problem=\"DNS failure\";"));
        }
        free(line);
        mdspf_check_free(chk);
      }
    }
  }
}

/* The validators themselves: they must refuse what is not in the
 * grammar. */
static void test_validator_rejects(void **state) {
  static const char *const bad_rspf[] = {
      "Received-SPF: pass",                                 /* no FWS */
      "Received-SPF: maybe (x) a=b",                        /* result */
      "Received-SPF: pass (x a=b",                          /* comment */
      "Received-SPF: pass (x)) a=b",                        /* extra ) */
      "Received-SPF: pass (x\\) a=b",                       /* escaped ) */
      "Received-SPF: pass (x) a=\"b",                       /* quote */
      "Received-SPF: pass (x) a=b\"c\"",                    /* junk */
      "Received-SPF: pass (x) a=b c=d",                     /* no ; */
      "Received-SPF: pass (x) a=b;; c=d",                   /* empty pair */
      "Received-SPF: pass (x) a=.b",                        /* dot-atom */
      "Received-SPF: pass (x) a=b..c",                      /* dot-atom */
      "Received-SPF: pass (x) a=b:c",                       /* not atext */
      "Received-SPF: pass (x) 1a=b",                        /* key */
      "Received-SPF: pass (x) a=b\r\nX: y",                 /* CRLF */
      "Received-SPF: pass (x) a=\"b\r\nc\"",                /* bare CRLF */
      "Received-SPF: pass (x) a=\"\\\x01\"",                /* bad pair */
      "Received-SPF: pass (\x01) a=b",                      /* control */
      "Received-SPF: pass (x) a=b;  ",                      /* trailing */
  };
  static const char *const good_rspf[] = {
      "Received-SPF: pass ",
      "Received-SPF: pass (x) ",
      "Received-SPF: Pass (a (nested \\) one) b) client-ip=1.2.3.4;",
      "Received-SPF:softfail a=b;c=\"d e\\\"\";  e (c) = f.g",
      "Received-SPF: none (x)\r\n  a=b",
  };
  static const char *const bad_ar[] = {
      "Authentication-Results: a b; spf=pass",
      "Authentication-Results: a@b; spf=pass",
      "Authentication-Results: a; spf=pass smtp.mailfrom=a@b@c",
      "Authentication-Results: a; spf=pass (x) smtp.mailfrom=\"a",
      "Authentication-Results: a; spf=pass (x smtp.mailfrom=a",
      "Authentication-Results: a; spf=pass (x) smtp.mailfrom=a(",
      "Authentication-Results: a; spf=pass (x) smtp.mailfrom=a b@c.d",
      "Authentication-Results: a; spf=pass (x) smtp.mailfrom=",
      "Authentication-Results: a; spf=pass (x) smtp.mailfrom=a;",
      "Authentication-Results: a; spf=",
      "Authentication-Results: a;",
      "Authentication-Results: a",
  };
  static const char *const good_ar[] = {
      "Authentication-Results: a; none",
      "Authentication-Results: a 1; spf=pass",
      ("Authentication-Results: \"a b\"; spf=pass reason=\"x\" "
       "smtp.mailfrom=u@e.example"),
      "Authentication-Results: a; spf=fail (c) smtp.helo=x.y",
      "Authentication-Results: a; spf=fail (c) smtp.mailfrom=\"a b\"@c.d",
      "Authentication-Results: a; spf=fail (c) smtp.mailfrom=@c.d",
      "Authentication-Results: a; spf=fail (c) smtp.mailfrom=tok!en",
  };
  size_t k;
  parsed r;
  (void)state;
  for (k = 0; k < sizeof bad_rspf / sizeof bad_rspf[0]; k++) {
    if (parse_received_spf(bad_rspf[k], &r)) {
      print_error("accepted: %s\n", bad_rspf[k]);
      fail();
    }
    parsed_free(&r);
  }
  for (k = 0; k < sizeof good_rspf / sizeof good_rspf[0]; k++) {
    if (!parse_received_spf(good_rspf[k], &r)) {
      print_error("refused: %s\n", good_rspf[k]);
      fail();
    }
    parsed_free(&r);
  }
  assert_true(parse_received_spf(good_rspf[3], &r));
  assert_int_equal(r.nkv, 3);
  assert_string_equal(r.key[1], "c");
  assert_string_equal(sink_str(&r.val[1]), "d e\"");
  assert_string_equal(r.key[2], "e");
  assert_string_equal(sink_str(&r.val[2]), "f.g");
  parsed_free(&r);
  for (k = 0; k < sizeof bad_ar / sizeof bad_ar[0]; k++) {
    if (parse_auth_results(bad_ar[k], &r)) {
      print_error("accepted: %s\n", bad_ar[k]);
      fail();
    }
    parsed_free(&r);
  }
  for (k = 0; k < sizeof good_ar / sizeof good_ar[0]; k++) {
    if (!parse_auth_results(good_ar[k], &r)) {
      print_error("refused: %s\n", good_ar[k]);
      fail();
    }
    parsed_free(&r);
  }
}

/* Buffer handling as mdspf_record_format; argument and state errors. */
static void test_buffers_and_state(void **state) {
  fixture *f = *state;
  mdspf_check *chk =
      run_check(f->ctx, "192.0.2.1", "user@example.com", NULL, 0);
  int ar;
  for (ar = 0; ar < 2; ar++) {
    char *full = format(ar, chk, "mx.example.net");
    size_t n = strlen(full), need, sz;
    char *buf = malloc(n + 8);
    assert_non_null(buf);
    for (sz = 0; sz <= n + 2; sz++) {
      int rc;
      need = 12345;
      memset(buf, 'Z', n + 8);
      rc = ar ? mdspf_check_auth_results(chk, "mx.example.net", buf, sz,
                                         &need)
              : mdspf_check_received_spf(chk, "mx.example.net", buf, sz,
                                         &need);
      assert_int_equal(need, n);
      if (sz == 0) {
        assert_int_equal(rc, MDSPF_E_BUFFER);
        assert_int_equal(buf[0], 'Z'); /* nothing written */
      } else if (sz <= n) {
        assert_int_equal(rc, MDSPF_E_BUFFER);
        assert_int_equal(strlen(buf), sz - 1);
        assert_memory_equal(buf, full, sz - 1);
        assert_int_equal(buf[sz], 'Z'); /* never past bufsz */
      } else {
        assert_int_equal(rc, MDSPF_OK);
        assert_string_equal(buf, full);
        assert_int_equal(buf[sz], 'Z');
      }
    }
    /* needed may be NULL */
    assert_int_equal(ar ? mdspf_check_auth_results(chk, "mx.example.net", buf,
                                                   n + 1, NULL)
                        : mdspf_check_received_spf(chk, "mx.example.net", buf,
                                                   n + 1, NULL),
                     MDSPF_OK);
    assert_string_equal(buf, full);
    /* argument errors */
    assert_int_equal(ar ? mdspf_check_auth_results(chk, NULL, NULL, 5, NULL)
                        : mdspf_check_received_spf(chk, NULL, NULL, 5, NULL),
                     MDSPF_E_INVAL);
    assert_int_equal(ar ? mdspf_check_auth_results(NULL, NULL, buf, n, NULL)
                        : mdspf_check_received_spf(NULL, NULL, buf, n, NULL),
                     MDSPF_E_INVAL);
    assert_int_equal(ar ? mdspf_check_auth_results(NULL, NULL, NULL, 0, NULL)
                        : mdspf_check_received_spf(NULL, NULL, NULL, 0, NULL),
                     MDSPF_E_INVAL);
    free(buf);
    free(full);
  }
  mdspf_check_free(chk);
}

static void test_state(void **state) {
  fixture *f = *state;
  mdspf_check *chk = NULL;
  char buf[512];
  size_t need = 7;
  /* before start */
  assert_int_equal(mdspf_check_new(f->ctx, &chk), MDSPF_OK);
  assert_int_equal(mdspf_check_set_ip(chk, "192.0.2.1"), MDSPF_OK);
  assert_int_equal(mdspf_check_set_sender(chk, "u@example.com"), MDSPF_OK);
  assert_int_equal(mdspf_check_received_spf(chk, NULL, buf, sizeof buf,
                                            &need),
                   MDSPF_E_STATE);
  assert_int_equal(mdspf_check_auth_results(chk, NULL, buf, sizeof buf,
                                            &need),
                   MDSPF_E_STATE);
  assert_int_equal(mdspf_check_received_spf(chk, NULL, NULL, 0, &need),
                   MDSPF_E_STATE);
  /* while running (answers held back) */
  assert_int_equal(mdspf_zone_set_delivery(f->z, MDSPF_ZONE_DEFERRED_FIFO),
                   MDSPF_OK);
  assert_int_equal(mdspf_check_start(chk, NULL, NULL), MDSPF_OK);
  assert_false(mdspf_check_done(chk));
  assert_int_equal(mdspf_check_received_spf(chk, NULL, buf, sizeof buf,
                                            &need),
                   MDSPF_E_STATE);
  assert_int_equal(mdspf_check_auth_results(chk, NULL, buf, sizeof buf,
                                            &need),
                   MDSPF_E_STATE);
  /* cancelled: the outcome is temperror, reason "cancelled" */
  mdspf_check_cancel(chk);
  {
    char *line = verify(chk, "mx", "mx", "u@example.com", NULL);
    assert_string_equal(
        line, "Received-SPF: temperror (mx: error in processing during "
              "lookup of u@example.com: cancelled) client-ip=192.0.2.1; "
              "envelope-from=\"u@example.com\"; receiver=mx; "
              "problem=cancelled; identity=mailfrom");
    free(line);
  }
  mdspf_check_free(chk);
  assert_int_equal(mdspf_zone_set_delivery(f->z, MDSPF_ZONE_INLINE),
                   MDSPF_OK);
  /* done: fine */
  chk = run_check(f->ctx, "192.0.2.1", "u@example.com", NULL, 0);
  assert_int_equal(mdspf_check_received_spf(chk, NULL, buf, sizeof buf,
                                            &need),
                   MDSPF_OK);
  assert_int_equal(need, strlen(buf));
  mdspf_check_free(chk);
}

/* Deciding record not published: the comment says where it came from. */
static void test_source_tags(void **state) {
  fixture *f = *state;
  mdspf_ctx *ctx = NULL;
  mdspf_check *chk;
  char *line, *ar;
  assert_int_equal(mdspf_ctx_new(NULL, NULL, &ctx), MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(f->z)),
                   MDSPF_OK);
  assert_int_equal(mdspf_ctx_set_best_guess(ctx, "v=spf1 a:guess.example.com"),
                   MDSPF_OK);
  chk = run_check(ctx, "192.0.2.9", "u@plain.example.com", NULL, 0);
  assert_int_equal(mdspf_check_result(chk), MDSPF_PASS);
  line = verify(chk, "mx", "mx", "u@plain.example.com", NULL);
  assert_non_null(strstr(line, "as permitted sender [best guess])"));
  ar = format(1, chk, "mx");
  assert_non_null(strstr(ar, "(matched a:guess.example.com [best guess])"));
  free(ar);
  free(line);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validator_rejects),
      cmocka_unit_test_setup_teardown(test_exact_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_all_results_validate, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_receiver_choice, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_inputs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_inputs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_odd_mechanism_and_problem, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_planted_controls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_buffers_and_state, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_source_tags, setup, teardown),
  };
  return cmocka_run_group_tests_name("header", tests, NULL, NULL);
}

/*
 * lib/resolvers/zonefile.c -- RFC 1035 master files (mdspf_zone_load and
 * mdspf_zone_load_file) and the rdata parser shared with mdspf_zone_add.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The text is split into logical records (one line, or several joined by
 * parentheses), each a list of tokens decoded into one scratch buffer:
 * words and quoted strings with \X and \DDD escapes.  A record is then
 * interpreted as a directive ($ORIGIN, $TTL; $INCLUDE is refused) or as
 * owner [TTL] [class] type rdata.  Input is read strictly within len
 * (no NUL terminator needed), NUL bytes and raw control characters are
 * errors, and one logical record may hold at most ZF_MAX_RECORD octets,
 * so memory stays bounded by the zone's own contents.  The first error
 * stops the load with "file:line: message".
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "resolvers/zone.h"
#include "core/addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ZF_MAX_FILE (16ul * 1024ul * 1024ul) /* mdspf_zone_load_file cap */
#define ZF_MAX_RECORD 70000u /* decoded octets (+1 per token) per record */
#define ZF_SHOW_MAX 60u      /* octets of a token quoted in messages */

/* record types beyond the stored ones: accepted and ignored */
enum { ZF_NS = 2, ZF_SOA = 6, ZF_SPF = 99 };

enum {
  TOK_QUOTED = 1u, /* written as "..." */
  TOK_ESCDOT = 2u  /* contains an escaped '.' ("\.") */
};

typedef struct ztok {
  size_t off, len;    /* decoded bytes in the parser's buf */
  unsigned long line; /* where the token starts */
  unsigned flags;     /* TOK_* */
} ztok;

typedef struct zparser {
  mdspf_zone *z;
  const mdspf__allocator *a;
  const char *text;
  size_t len, pos;
  unsigned long line;
  const char *filename;
  mdspf__sbuf err;
  int status;     /* MDSPF_OK until the first error */
  int conflict;   /* the error was a CNAME conflict */
  int rdata_only; /* mdspf_zone_add: names absolute, one record */
  unsigned zflags;
  /* the current logical record */
  unsigned char *buf;
  size_t blen, bcap;
  ztok *toks;
  size_t ntoks, tcap;
  size_t cost; /* against ZF_MAX_RECORD */
  int indented;
  /* state carried between records */
  int has_origin;
  size_t originlen;
  char origin[MDSPF__MAX_NAME + 1];
  int has_owner;
  size_t ownerlen;
  char owner[MDSPF__MAX_NAME + 1];
} zparser;

/* ---- error reporting ----------------------------------------------------- */

static void err_begin(zparser *p, unsigned long line) {
  mdspf__sbuf_puts(&p->err, p->filename ? p->filename : "<zone>");
  mdspf__sbuf_putc(&p->err, ':');
  mdspf__sbuf_putu(&p->err, line);
  mdspf__sbuf_puts(&p->err, ": ");
}

/* Quote bytes for a message: printable ASCII as is, others as \DDD, at
 * most ZF_SHOW_MAX octets then "...". */
static void err_show(zparser *p, const void *data, size_t n) {
  const unsigned char *s = data;
  size_t i;
  for (i = 0; i < n && i < ZF_SHOW_MAX; i++) {
    if (s[i] >= 0x20 && s[i] < 0x7f) {
      mdspf__sbuf_putc(&p->err, (char)s[i]);
    } else {
      char esc[4];
      esc[0] = '\\';
      esc[1] = (char)('0' + s[i] / 100);
      esc[2] = (char)('0' + s[i] / 10 % 10);
      esc[3] = (char)('0' + s[i] % 10);
      mdspf__sbuf_put(&p->err, esc, sizeof esc);
    }
  }
  if (n > ZF_SHOW_MAX) {
    mdspf__sbuf_puts(&p->err, "...");
  }
}

/* Record the first error: "file:line: pre<shown data>post".  Returns -1
 * so callers can `return fail...`. */
static int fail_show(zparser *p, unsigned long line, const char *pre,
                     const void *data, size_t n, const char *post) {
  if (p->status == MDSPF_OK) {
    err_begin(p, line);
    mdspf__sbuf_puts(&p->err, pre);
    if (data) {
      err_show(p, data, n);
    }
    mdspf__sbuf_puts(&p->err, post);
    p->status = MDSPF_E_SYNTAX;
  }
  return -1;
}

static int fail(zparser *p, unsigned long line, const char *msg) {
  return fail_show(p, line, msg, NULL, 0, "");
}

static const char *tok_data(const zparser *p, const ztok *t) {
  /* buf is still NULL when every token so far is empty ("") */
  return p->buf ? (const char *)p->buf + t->off : "";
}

static int fail_tok(zparser *p, const ztok *t, const char *pre,
                    const char *post) {
  return fail_show(p, t->line, pre, tok_data(p, t), t->len, post);
}

static int fail_nomem(zparser *p) {
  if (p->status == MDSPF_OK) {
    err_begin(p, p->line);
    mdspf__sbuf_puts(&p->err, "out of memory");
    p->status = MDSPF_E_NOMEM;
  }
  return -1;
}

static int fail_ctrl(zparser *p, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  char msg[] = "invalid control character 0x00";
  size_t n = sizeof msg - 1;
  if (c == 0) {
    return fail(p, p->line, "NUL byte in zone text");
  }
  msg[n - 2] = hex[c >> 4];
  msg[n - 1] = hex[c & 0xf];
  return fail(p, p->line, msg);
}

/* ---- lexer --------------------------------------------------------------- */

static int charge(zparser *p, size_t n) {
  if (n > ZF_MAX_RECORD - p->cost) {
    return fail(p, p->line, "record too long");
  }
  p->cost += n;
  return 0;
}

static int put_byte(zparser *p, unsigned char c) {
  if (charge(p, 1) < 0) {
    return -1;
  }
  if (p->blen == p->bcap) {
    size_t ncap = p->bcap ? p->bcap * 2 : 256;
    unsigned char *nb = mdspf__realloc(p->a, p->buf, p->bcap, ncap);
    if (!nb) {
      return fail_nomem(p);
    }
    p->buf = nb;
    p->bcap = ncap;
  }
  p->buf[p->blen++] = c;
  return 0;
}

static int tok_begin(zparser *p, unsigned flags) {
  ztok *t;
  if (charge(p, 1) < 0) {
    return -1;
  }
  if (p->ntoks == p->tcap) {
    size_t ncap = p->tcap ? p->tcap * 2 : 16;
    ztok *nt =
        mdspf__realloc(p->a, p->toks, p->tcap * sizeof *nt, ncap * sizeof *nt);
    if (!nt) {
      return fail_nomem(p);
    }
    p->toks = nt;
    p->tcap = ncap;
  }
  t = &p->toks[p->ntoks++];
  t->off = p->blen;
  t->len = 0;
  t->line = p->line;
  t->flags = flags;
  return 0;
}

static void tok_end(zparser *p) {
  ztok *t = &p->toks[p->ntoks - 1];
  t->len = p->blen - t->off;
}

static int is_ctrl(unsigned char c) { return c < 0x20 || c == 0x7f; }

static int is_eol(const zparser *p, size_t i) {
  return p->text[i] == '\n' ||
         (p->text[i] == '\r' && (i + 1 >= p->len || p->text[i + 1] == '\n'));
}

/* A backslash escape at p->pos, in a word or a quoted string. */
static int lex_escape(zparser *p) {
  size_t i = p->pos + 1;
  unsigned char c;
  if (i >= p->len) {
    return fail(p, p->line, "backslash at end of input");
  }
  if (is_eol(p, i)) {
    return fail(p, p->line, "backslash at end of line");
  }
  c = (unsigned char)p->text[i];
  if (mdspf__is_digit(c)) {
    unsigned v;
    if (i + 3 > p->len || !mdspf__is_digit((unsigned char)p->text[i + 1]) ||
        !mdspf__is_digit((unsigned char)p->text[i + 2])) {
      return fail(p, p->line, "\\DDD escape needs three digits");
    }
    v = (unsigned)(c - '0') * 100 + (unsigned)(p->text[i + 1] - '0') * 10 +
        (unsigned)(p->text[i + 2] - '0');
    if (v > 255) {
      return fail_show(p, p->line, "escape '\\", p->text + i, 3,
                       "' is above 255");
    }
    if (v == '.') {
      p->toks[p->ntoks - 1].flags |= TOK_ESCDOT;
    }
    p->pos = i + 3;
    return put_byte(p, (unsigned char)v);
  }
  if (is_ctrl(c) && c != '\t') {
    return fail_ctrl(p, c);
  }
  if (c == '.') {
    p->toks[p->ntoks - 1].flags |= TOK_ESCDOT;
  }
  p->pos = i + 1;
  return put_byte(p, c);
}

static int lex_word(zparser *p) {
  if (tok_begin(p, 0) < 0) {
    return -1;
  }
  while (p->pos < p->len) {
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' ||
        c == '(' || c == ')' || c == '"') {
      break;
    }
    if (is_ctrl(c)) {
      return fail_ctrl(p, c);
    }
    if (c == '\\') {
      if (lex_escape(p) < 0) {
        return -1;
      }
      continue;
    }
    if (put_byte(p, c) < 0) {
      return -1;
    }
    p->pos++;
  }
  tok_end(p);
  return 0;
}

static int lex_quoted(zparser *p) {
  unsigned long start = p->line;
  if (tok_begin(p, TOK_QUOTED) < 0) {
    return -1;
  }
  p->pos++; /* opening quote */
  for (;;) {
    unsigned char c;
    if (p->pos >= p->len || is_eol(p, p->pos)) {
      return fail(p, start, "unterminated quoted string");
    }
    c = (unsigned char)p->text[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c == '\\') {
      if (lex_escape(p) < 0) {
        return -1;
      }
      continue;
    }
    if (is_ctrl(c) && c != '\t') {
      return fail_ctrl(p, c);
    }
    if (put_byte(p, c) < 0) {
      return -1;
    }
    p->pos++;
  }
  tok_end(p);
  return 0;
}

/* Read the next logical record into p->toks.  Returns 1 when one was
 * read, 0 at the end of the text (no tokens), -1 on error.  In rdata_only
 * mode newlines do not end the record. */
static int read_record(zparser *p) {
  int depth = 0, line_start = 1;
  unsigned long paren_line = 0;
  p->ntoks = 0;
  p->blen = 0;
  p->cost = 0;
  p->indented = 0;
  while (p->pos < p->len) {
    unsigned char c = (unsigned char)p->text[p->pos];
    if (line_start && depth == 0 && p->ntoks == 0) {
      p->indented = (c == ' ' || c == '\t');
    }
    line_start = 0;
    switch (c) {
    case '\n':
      p->pos++;
      p->line++;
      line_start = 1;
      if (depth == 0 && p->ntoks > 0 && !p->rdata_only) {
        return 1;
      }
      break;
    case ' ':
    case '\t':
    case '\r':
      p->pos++;
      break;
    case ';':
      while (p->pos < p->len && p->text[p->pos] != '\n') {
        if (p->text[p->pos] == '\0') {
          return fail_ctrl(p, 0);
        }
        p->pos++;
      }
      break;
    case '(':
      if (depth) {
        return fail(p, p->line, "nested '('");
      }
      depth = 1;
      paren_line = p->line;
      p->pos++;
      break;
    case ')':
      if (!depth) {
        return fail(p, p->line, "unbalanced ')'");
      }
      depth = 0;
      p->pos++;
      break;
    case '"':
      if (lex_quoted(p) < 0) {
        return -1;
      }
      break;
    default:
      if (is_ctrl(c)) {
        return fail_ctrl(p, c);
      }
      if (lex_word(p) < 0) {
        return -1;
      }
      break;
    }
  }
  if (depth) {
    return fail(p, paren_line, "unbalanced '('");
  }
  return p->ntoks > 0;
}

/* ---- token interpretation -------------------------------------------------
 */

/* An unquoted token equal to word (ASCII case-insensitive). */
static int tok_is(const zparser *p, const ztok *t, const char *word) {
  size_t n = strlen(word);
  return !(t->flags & TOK_QUOTED) && t->len == n &&
         mdspf__casecmpn(tok_data(p, t), word, n) == 0;
}

/* TTL: a number, or BIND units ("1h30m", "2d", "1w"); 0..2^31-1. */
static int ttl_ok(const char *s, size_t n) {
  size_t i = 0;
  unsigned long long total = 0;
  int units = 0;
  if (n == 0) {
    return 0;
  }
  while (i < n) {
    unsigned long long v = 0, mult;
    size_t digits = 0;
    while (i < n && mdspf__is_digit((unsigned char)s[i])) {
      v = v * 10 + (unsigned long long)(s[i] - '0');
      if (v > 0x7fffffffull) {
        return 0;
      }
      digits++;
      i++;
    }
    if (digits == 0) {
      return 0;
    }
    if (i == n) {
      return !units; /* a bare number must stand alone */
    }
    switch (mdspf__lower((unsigned char)s[i])) {
    case 's':
      mult = 1;
      break;
    case 'm':
      mult = 60;
      break;
    case 'h':
      mult = 3600;
      break;
    case 'd':
      mult = 86400;
      break;
    case 'w':
      mult = 604800;
      break;
    default:
      return 0;
    }
    i++;
    units = 1;
    total += v * mult;
    if (total > 0x7fffffffull) {
      return 0;
    }
  }
  return 1;
}

/* Unsigned decimal of at most max. */
static int num_ok(const char *s, size_t n, unsigned long max,
                  unsigned long *out) {
  unsigned long v = 0;
  size_t i;
  if (n == 0 || n > 10) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    if (!mdspf__is_digit((unsigned char)s[i])) {
      return 0;
    }
    v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > max) {
      return 0;
    }
  }
  *out = v;
  return 1;
}

static int type_code(const zparser *p, const ztok *t) {
  static const struct {
    const char *name;
    int code;
  } types[] = {{"A", MDSPF_RR_A},     {"AAAA", MDSPF_RR_AAAA},
               {"MX", MDSPF_RR_MX},   {"TXT", MDSPF_RR_TXT},
               {"PTR", MDSPF_RR_PTR}, {"CNAME", MDSPF_RR_CNAME},
               {"SOA", ZF_SOA},        {"NS", ZF_NS},
               {"SPF", ZF_SPF}};
  size_t i;
  for (i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (tok_is(p, t, types[i].name)) {
      return types[i].code;
    }
  }
  return 0;
}

/* 1 for a class mnemonic (IN and the ones we refuse), else 0. */
static int is_class(const zparser *p, const ztok *t) {
  static const char *const classes[] = {"IN",     "CH", "CHAOS", "HS",
                                        "HESIOD", "CS", "ANY",   "NONE"};
  size_t i;
  for (i = 0; i < sizeof classes / sizeof classes[0]; i++) {
    if (tok_is(p, t, classes[i])) {
      return 1;
    }
  }
  /* RFC 3597 generic CLASSnnn */
  return !(t->flags & TOK_QUOTED) && t->len > 5 &&
         mdspf__casecmpn(tok_data(p, t), "CLASS", 5) == 0 &&
         mdspf__is_digit((unsigned char)tok_data(p, t)[5]);
}

/*
 * The absolute name written as token t: "@" is the origin, a name ending
 * in "." is absolute, anything else is relative to the origin (or, in
 * rdata_only mode, absolute anyway).  Writes it without trailing dot to
 * out.  The root (empty name) only when allow_root.
 */
static int make_name(zparser *p, const ztok *t, int allow_root,
                     char out[MDSPF__MAX_NAME + 1], size_t *outlen) {
  const char *d = tok_data(p, t);
  size_t n = t->len, total, i, label = 0;
  if (!(t->flags & TOK_QUOTED) && n == 1 && d[0] == '@') {
    if (!p->has_origin) {
      return fail(p, t->line, "'@' used but no $ORIGIN is set");
    }
    memcpy(out, p->origin, p->originlen + 1);
    total = p->originlen;
  } else {
    int relative;
    if (t->flags & TOK_ESCDOT) {
      return fail_tok(p, t, "escaped '.' in name '", "' is not supported");
    }
    if (n == 0) {
      return fail(p, t->line, "empty name");
    }
    relative = d[n - 1] != '.' && !p->rdata_only;
    if (d[n - 1] == '.') {
      n--;
    }
    total = n;
    if (relative) {
      if (!p->has_origin) {
        return fail_tok(p, t, "relative name '",
                        "' used but no $ORIGIN is set");
      }
      if (p->originlen) {
        total += 1 + p->originlen;
      }
    }
    if (total > MDSPF__MAX_NAME) {
      return fail_tok(p, t, "name too long: '", "'");
    }
    memcpy(out, d, n);
    if (relative && p->originlen) {
      out[n] = '.';
      memcpy(out + n + 1, p->origin, p->originlen);
    }
    out[total] = '\0';
  }
  if (total == 0) {
    if (!allow_root) {
      return fail(p, t->line, "the root name is not allowed here");
    }
    *outlen = 0;
    return 0;
  }
  for (i = 0; i < total; i++) {
    unsigned char c = (unsigned char)out[i];
    if (c == '.') {
      if (label == 0) {
        return fail_show(p, t->line, "empty label in name '", out, total, "'");
      }
      label = 0;
    } else if (c == 0) {
      /* any other octet is fine (as for mdspf__name_queryable) */
      return fail_show(p, t->line, "NUL octet in name '", out, total, "'");
    } else if (++label > 63) {
      return fail_show(p, t->line, "label longer than 63 octets in name '", out,
                       total, "'");
    }
  }
  if (label == 0) {
    return fail_show(p, t->line, "empty label in name '", out, total, "'");
  }
  *outlen = total;
  return 0;
}

static int store(zparser *p, unsigned long line, const char *owner,
                 size_t ownerlen, int rrtype, const void *data, size_t len,
                 unsigned pref, const size_t *lens, size_t nstr) {
  int rc = mdspf__zone_put(p->z, owner, ownerlen, rrtype, data, len, pref, lens,
                           nstr);
  if (rc == MDSPF_OK) {
    return 0;
  }
  if (rc == MDSPF_E_NOMEM) {
    return fail_nomem(p);
  }
  if (rc == MDSPF__ZONE_CNAME_CONFLICT) {
    p->conflict = 1;
    return fail_show(p, line, "'", owner, ownerlen,
                     "' already has a different CNAME");
  }
  return fail_show(p, line, "cannot store record for '", owner, ownerlen, "'");
}

/* An accepted but ignored record: its owner exists. */
static int touch(zparser *p, unsigned long line, const char *owner,
                 size_t ownerlen) {
  int rc = mdspf__zone_touch(p->z, owner, ownerlen);
  if (rc == MDSPF_OK) {
    return 0;
  }
  if (rc == MDSPF_E_NOMEM) {
    return fail_nomem(p);
  }
  return fail_show(p, line, "cannot store record for '", owner, ownerlen, "'");
}

static int no_more(zparser *p, const ztok *r, size_t nr, size_t want,
                   const char *what) {
  if (nr > want) {
    (void)fail_tok(p, &r[want], "unexpected '", "' after ");
    if (p->status == MDSPF_E_SYNTAX) {
      mdspf__sbuf_puts(&p->err, what);
    }
    return -1;
  }
  return 0;
}

static int rdata_txt(zparser *p, const char *owner, size_t ownerlen, int type,
                     const ztok *tt, const ztok *r, size_t nr) {
  const char *tname = type == ZF_SPF ? "SPF" : "TXT";
  size_t k, total;
  size_t *lens;
  int rc;
  if (nr == 0) {
    return fail_show(p, tt->line, "missing ", tname, 3, " data");
  }
  for (k = 0; k < nr; k++) {
    if (r[k].len > 255 && !(p->zflags & MDSPF_ZONE_LAX)) {
      return fail_show(p, r[k].line, "", tname, 3,
                       " string longer than 255 octets");
    }
  }
  /* the strings were decoded one after the other into buf */
  total = r[nr - 1].off + r[nr - 1].len - r[0].off;
  if (total > MDSPF__ZONE_MAX_TXT) {
    return fail_show(p, tt->line, "", tname, 3,
                     " record longer than 65536 octets");
  }
  if (type == ZF_SPF) {
    return touch(p, tt->line, owner, ownerlen); /* accepted, not served */
  }
  lens = mdspf__alloc_array(p->a, nr, sizeof *lens);
  if (!lens) {
    return fail_nomem(p);
  }
  for (k = 0; k < nr; k++) {
    lens[k] = r[k].len;
  }
  rc = store(p, tt->line, owner, ownerlen, MDSPF_RR_TXT, tok_data(p, &r[0]),
             total, 0, lens, nr);
  mdspf__free(p->a, lens, nr * sizeof *lens);
  return rc;
}

/* Interpret the rdata tokens p->toks[first..] of a record of type (tt
 * is the type token, for line numbers). */
static int rdata(zparser *p, const char *owner, size_t ownerlen, int type,
                 const ztok *tt, size_t first) {
  size_t nr = p->ntoks > first ? p->ntoks - first : 0;
  const ztok *r = nr ? p->toks + first : NULL;
  char name[MDSPF__MAX_NAME + 1];
  size_t namelen;
  uint8_t addr[16];
  unsigned long v;
  size_t k;
  switch (type) {
  case MDSPF_RR_A:
    if (nr == 0) {
      return fail(p, tt->line, "missing IPv4 address");
    }
    if (!mdspf__ip4_parse(tok_data(p, r), r->len, addr)) {
      return fail_tok(p, r, "invalid IPv4 address '", "'");
    }
    if (no_more(p, r, nr, 1, "the A address") < 0) {
      return -1;
    }
    return store(p, r->line, owner, ownerlen, type, addr, 4, 0, NULL, 0);
  case MDSPF_RR_AAAA:
    if (nr == 0) {
      return fail(p, tt->line, "missing IPv6 address");
    }
    if (!mdspf__ip6_parse(tok_data(p, r), r->len, addr)) {
      return fail_tok(p, r, "invalid IPv6 address '", "'");
    }
    if (no_more(p, r, nr, 1, "the AAAA address") < 0) {
      return -1;
    }
    return store(p, r->line, owner, ownerlen, type, addr, 16, 0, NULL, 0);
  case MDSPF_RR_MX:
    if (nr == 0) {
      return fail(p, tt->line, "missing MX preference");
    }
    if ((r->flags & TOK_QUOTED) || !num_ok(tok_data(p, r), r->len, 65535, &v)) {
      return fail_tok(p, r, "invalid MX preference '", "'");
    }
    if (nr == 1) {
      return fail(p, r->line, "missing MX exchange name");
    }
    if (make_name(p, &r[1], 1, name, &namelen) < 0 ||
        no_more(p, r, nr, 2, "the MX exchange name") < 0) {
      return -1;
    }
    return store(p, r[1].line, owner, ownerlen, type, name, namelen,
                 (unsigned)v, NULL, 0);
  case MDSPF_RR_PTR:
  case MDSPF_RR_CNAME:
  case ZF_NS: {
    const char *what = type == MDSPF_RR_PTR ? "missing PTR target name"
                       : type == ZF_NS       ? "missing NS name"
                                             : "missing CNAME target name";
    if (nr == 0) {
      return fail(p, tt->line, what);
    }
    if (make_name(p, r, 0, name, &namelen) < 0 ||
        no_more(p, r, nr, 1, "the target name") < 0) {
      return -1;
    }
    if (type == ZF_NS) {
      return touch(p, r->line, owner, ownerlen);
    }
    return store(p, r->line, owner, ownerlen, type, name, namelen, 0, NULL, 0);
  }
  case MDSPF_RR_TXT:
  case ZF_SPF:
    return rdata_txt(p, owner, ownerlen, type, tt, r, nr);
  case ZF_SOA:
    /* MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM: checked, ignored */
    if (nr != 7) {
      char msg[] = "SOA record needs 7 fields, found 0";
      if (nr < 7) {
        msg[sizeof msg - 2] = (char)('0' + nr);
        return fail(p, nr ? r[nr - 1].line : tt->line, msg);
      }
      return no_more(p, r, nr, 7, "the SOA fields");
    }
    if (make_name(p, &r[0], 1, name, &namelen) < 0 ||
        make_name(p, &r[1], 1, name, &namelen) < 0) {
      return -1;
    }
    if (!num_ok(tok_data(p, &r[2]), r[2].len, 0xfffffffful, &v)) {
      return fail_tok(p, &r[2], "invalid SOA serial '", "'");
    }
    for (k = 3; k < 7; k++) {
      if (!ttl_ok(tok_data(p, &r[k]), r[k].len)) {
        return fail_tok(p, &r[k], "invalid SOA time value '", "'");
      }
    }
    return touch(p, tt->line, owner, ownerlen);
  default:
    return fail_tok(p, tt, "unsupported record type ", "");
  }
}

static int directive(zparser *p) {
  const ztok *t = p->toks;
  size_t n = p->ntoks;
  if (tok_is(p, t, "$INCLUDE")) {
    return fail(p, t->line, "$INCLUDE is not supported");
  }
  if (tok_is(p, t, "$ORIGIN")) {
    char name[MDSPF__MAX_NAME + 1];
    size_t namelen;
    if (n < 2) {
      return fail(p, t->line, "$ORIGIN needs a domain name");
    }
    if (make_name(p, &t[1], 1, name, &namelen) < 0 ||
        no_more(p, t, n, 2, "the $ORIGIN name") < 0) {
      return -1;
    }
    memcpy(p->origin, name, namelen + 1);
    p->originlen = namelen;
    p->has_origin = 1;
    return 0;
  }
  if (tok_is(p, t, "$TTL")) {
    if (n < 2) {
      return fail(p, t->line, "$TTL needs a value");
    }
    if ((t[1].flags & TOK_QUOTED) || !ttl_ok(tok_data(p, &t[1]), t[1].len)) {
      return fail_tok(p, &t[1], "invalid TTL '", "'");
    }
    return no_more(p, t, n, 2, "the $TTL value");
  }
  return fail_tok(p, t, "unknown directive ", "");
}

static int process_record(zparser *p) {
  const ztok *t = p->toks;
  size_t n = p->ntoks, i = 0;
  int have_ttl = 0, have_class = 0, type;
  if (!p->indented && !(t->flags & TOK_QUOTED) && t->len > 0 &&
      tok_data(p, t)[0] == '$') {
    return directive(p);
  }
  if (p->indented) {
    if (!p->has_owner) {
      return fail(p, t->line,
                  "no owner name for a record that starts "
                  "with blank space");
    }
  } else {
    if (make_name(p, t, 0, p->owner, &p->ownerlen) < 0) {
      p->has_owner = 0;
      return -1;
    }
    p->has_owner = 1;
    i = 1;
  }
  for (; i < n; i++) {
    const ztok *ti = &t[i];
    if (ti->flags & TOK_QUOTED || ti->len == 0) {
      break;
    }
    if (mdspf__is_digit((unsigned char)tok_data(p, ti)[0])) {
      if (have_ttl) {
        return fail_tok(p, ti, "duplicate TTL '", "'");
      }
      if (!ttl_ok(tok_data(p, ti), ti->len)) {
        return fail_tok(p, ti, "invalid TTL '", "'");
      }
      have_ttl = 1;
    } else if (is_class(p, ti)) {
      if (have_class) {
        return fail_tok(p, ti, "duplicate class '", "'");
      }
      if (!tok_is(p, ti, "IN")) {
        return fail_tok(p, ti, "unsupported class ", "");
      }
      have_class = 1;
    } else {
      break;
    }
  }
  if (i >= n) {
    return fail(p, t[n - 1].line, "missing record type");
  }
  type = type_code(p, &t[i]);
  if (type == 0) {
    return fail_tok(p, &t[i], "unsupported record type ", "");
  }
  return rdata(p, p->owner, p->ownerlen, type, &t[i], i + 1);
}

/* ---- entry points
 * ------------------------------------------------------------- */

static void parser_init(zparser *p, mdspf_zone *z, const char *text, size_t len,
                        const char *filename, char *err, size_t errsz) {
  memset(p, 0, sizeof *p);
  p->z = z;
  p->a = mdspf__zone_allocator(z);
  p->zflags = mdspf__zone_flags(z);
  p->text = text;
  p->len = text ? len : 0;
  p->line = 1;
  p->filename = filename;
  mdspf__sbuf_init(&p->err, err, err ? errsz : 0);
  p->status = MDSPF_OK;
}

static void parser_fini(zparser *p) {
  mdspf__free(p->a, p->buf, p->bcap);
  mdspf__free(p->a, p->toks, p->tcap * sizeof *p->toks);
}

int mdspf__zone_add_rdata(mdspf_zone *z, const char *owner, size_t ownerlen,
                          int rrtype, const char *rdata_text, size_t len) {
  static const ztok type_tok = {0, 0, 1, 0};
  zparser p;
  int rc;
  if (!z || !owner || (!rdata_text && len)) {
    return MDSPF_E_INVAL;
  }
  parser_init(&p, z, rdata_text, len, NULL, NULL, 0);
  p.rdata_only = 1;
  if (read_record(&p) >= 0) {
    (void)rdata(&p, owner, ownerlen, rrtype, &type_tok, 0);
  }
  rc = p.conflict ? MDSPF__ZONE_CNAME_CONFLICT : p.status;
  parser_fini(&p);
  return rc;
}

mdspf_status mdspf_zone_load(mdspf_zone *z, const char *text, size_t len,
                    const char *origin, const char *filename, char *err,
                    size_t errsz) {
  zparser p;
  int rc;
  if (err && errsz) {
    err[0] = '\0';
  }
  if (!z || (!text && len)) {
    return MDSPF_E_INVAL;
  }
  parser_init(&p, z, text, len, filename, err, errsz);
  if (origin && origin[0]) {
    size_t on = strlen(origin);
    if (on == 1 && origin[0] == '.') {
      p.has_origin = 1; /* the root */
    } else if (!mdspf__name_queryable(origin, on)) {
      mdspf__sbuf_puts(&p.err, filename ? filename : "<zone>");
      mdspf__sbuf_puts(&p.err, ": invalid origin '");
      err_show(&p, origin, on);
      mdspf__sbuf_putc(&p.err, '\'');
      return MDSPF_E_INVAL;
    } else {
      if (origin[on - 1] == '.') {
        on--;
      }
      memcpy(p.origin, origin, on);
      p.origin[on] = '\0';
      p.originlen = on;
      p.has_origin = 1;
    }
  }
  for (;;) {
    int r = read_record(&p);
    if (r <= 0 || process_record(&p) < 0) {
      break;
    }
  }
  rc = p.status;
  parser_fini(&p);
  return rc;
}

static void put_errno(mdspf__sbuf *sb, int e) {
  char tmp[256];
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  mdspf__sbuf_puts(sb, strerror_r(e, tmp, sizeof tmp));
#else
  if (strerror_r(e, tmp, sizeof tmp) == 0) {
    mdspf__sbuf_puts(sb, tmp);
  } else {
    mdspf__sbuf_puts(sb, "error ");
    mdspf__sbuf_putu(sb, (unsigned long)(e < 0 ? -e : e));
  }
#endif
}

mdspf_status mdspf_zone_load_file(mdspf_zone *z, const char *path, const char *origin,
                         char *err, size_t errsz) {
  mdspf__sbuf sb;
  const mdspf__allocator *a;
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0;
  FILE *f;
  int rc;
  mdspf__sbuf_init(&sb, err, err ? errsz : 0);
  if (!z || !path) {
    return MDSPF_E_INVAL;
  }
  a = mdspf__zone_allocator(z);
  f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    mdspf__sbuf_puts(&sb, path);
    mdspf__sbuf_puts(&sb, ": ");
    put_errno(&sb, e);
    return MDSPF_E_IO;
  }
  for (;;) {
    size_t got;
    if (len == cap) {
      /* read one octet past the cap to notice an oversized file */
      size_t ncap = cap ? cap * 2 : 65536;
      unsigned char *nb;
      if (ncap > ZF_MAX_FILE + 1) {
        ncap = ZF_MAX_FILE + 1;
      }
      nb = mdspf__realloc(a, buf, cap, ncap);
      if (!nb) {
        rc = MDSPF_E_NOMEM;
        mdspf__sbuf_puts(&sb, path);
        mdspf__sbuf_puts(&sb, ": out of memory");
        goto out;
      }
      buf = nb;
      cap = ncap;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (len > ZF_MAX_FILE) {
      rc = MDSPF_E_LIMIT;
      mdspf__sbuf_puts(&sb, path);
      mdspf__sbuf_puts(&sb, ": file larger than 16 MiB");
      goto out;
    }
    if (got == 0) {
      if (ferror(f)) {
        int e = errno;
        rc = MDSPF_E_IO;
        mdspf__sbuf_puts(&sb, path);
        mdspf__sbuf_puts(&sb, ": ");
        put_errno(&sb, e ? e : EIO);
        goto out;
      }
      break;
    }
  }
  (void)fclose(f);
  f = NULL;
  rc = mdspf_zone_load(z, (const char *)buf, len, origin, path, err, errsz);
out:
  if (f) {
    (void)fclose(f);
  }
  mdspf__free(a, buf, cap);
  return rc;
}

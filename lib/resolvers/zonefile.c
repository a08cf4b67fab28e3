/*
 * lib/resolvers/zonefile.c -- RFC 1035 master files (mdspf_zone_load and
 * mdspf_zone_load_file) and the rdata parser shared with mdspf_zone_add.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The text is split into logical records (one line, or several joined by
 * parentheses), each a list of tokens decoded into one scratch buffer:
 * words and quoted strings with \X and \DDD escapes.  A record is then
 * interpreted as a directive ($ORIGIN, $TTL, $INCLUDE, $GENERATE) or as
 * owner [TTL] [class] type rdata.  Input is read strictly within len
 * (no NUL terminator needed), NUL bytes and raw control characters are
 * errors, and one logical record may hold at most ZF_MAX_RECORD octets,
 * so memory stays bounded by the zone's own contents.  The first error
 * stops the load with "file:line: message".
 *
 * Record types
 * ------------
 * A, AAAA, MX, TXT, PTR and CNAME are stored.  Every other type known
 * to IANA, and any type written TYPEnnn (RFC 3597), is skipped: its
 * rdata is consumed as tokens (parentheses, quotes, comments and all),
 * its owner exists from then on, and it is counted per type in the zone
 * (mdspf_zone_skipped).  SOA, NS and SPF rdata in its usual form is
 * checked as before; other skipped rdata is not interpreted.  Rdata in
 * the generic form "\# length hex..." is checked for every type (the
 * hex must hold exactly length octets) and decoded for the stored ones.
 * Meta-types (OPT, TSIG, AXFR, ANY, ... and TYPE0) cannot be in a zone.
 *
 * TTLs
 * ----
 * Each stored record keeps its TTL: the one written on it, else the
 * last $TTL, else the last TTL written on a record before it (RFC 1035
 * 5.1), else none ("unknown": answers made of it carry no TTL, so a
 * cache does not keep them).  mdspf_zone_add and mdspf_zone_add_txt
 * store records without a TTL.  A SOA record gives its owner's subtree
 * the negative-caching TTL of RFC 2308, min(SOA TTL, MINIMUM) -- MINIMUM
 * alone when the SOA has no TTL; see zone.c for how answers use them.
 *
 * $INCLUDE and $GENERATE
 * ----------------------
 * $INCLUDE works only when the text came from a file (files != 0): the
 * included file is read whole, regular files only, its path relative to
 * the directory of the including file; it is parsed by the same parser
 * with the text, line, file name, origin and owner swapped out and back
 * in afterwards (so its $ORIGIN, $TTL and owner never leak out).
 * Bounds: ZF_MAX_DEPTH levels, ZF_MAX_INCLUDES files and ZF_MAX_FILE
 * octets of all files together per load.
 *
 * $GENERATE range lhs [ttl] [class] type rhs (a BIND extension) is
 * supported: its tokens are lexed raw (escapes kept), "$" and
 * "${offset,width,base}" are replaced for every value of the range, and
 * each resulting line is parsed as a record on its own (so a quoted rhs
 * becomes several rdata tokens, as in BIND).  Bounds: ZF_MAX_GENERATED
 * records and ZF_MAX_GEN_TEXT octets of generated text per load.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "resolvers/zone.h"
#include "core/addr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZF_MAX_FILE (16ul * 1024ul * 1024ul) /* all files of one load */
/* decoded octets (+1 per token) per record: the largest rdata (65535
 * octets) in generic form, hex in words of 16 digits or more */
#define ZF_MAX_RECORD 140000u
#define ZF_SHOW_MAX 60u          /* octets of a token quoted in messages */
#define ZF_MAX_DEPTH 8u          /* $INCLUDE nesting below the first file */
#define ZF_MAX_INCLUDES 4096u    /* files included per load */
#define ZF_MAX_PATH 4096u        /* octets of an included file's path */
#define ZF_MAX_GENERATED 65536ul /* records made by $GENERATE per load */
#define ZF_MAX_GEN_TEXT (16ul * 1024ul * 1024ul) /* their text, per load */
#define ZF_GEN_WIDTH 127u /* widest ${offset,width,base} */

/* type codes beyond the stored ones (MDSPF_RR_*) that get a closer look */
enum { ZF_NS = 2, ZF_SOA = 6, ZF_SPF = 99 };

enum {
  TOK_QUOTED = 1u, /* written as "..." */
  TOK_ESCDOT = 2u, /* contains an escaped '.' ("\.") */
  TOK_GENERIC = 4u, /* exactly the word \# (RFC 3597 generic rdata) */
  TOK_ESCAPED = 8u  /* has a backslash escape: never a directive's name */
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
  const char *filename; /* names the text; the path of a file */
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
  int raw;       /* lexing a $GENERATE line: escapes are kept as written */
  int generated; /* parsing a line made by $GENERATE: no directives */
  /* state carried between records */
  int has_origin;
  size_t originlen;
  char origin[MDSPF__MAX_NAME + 1];
  int has_owner;
  size_t ownerlen;
  char owner[MDSPF__MAX_NAME + 1];
  /* TTLs, -1 for none: $TTL, the last one written on a record, and the
   * one of the record being stored (see "TTLs" at the top) */
  long dollar_ttl, last_ttl, rec_ttl;
  /* state of the whole load */
  int files;                /* loaded from a file: $INCLUDE allowed */
  unsigned depth;           /* $INCLUDE nesting of the current text */
  unsigned nincludes;       /* files included so far */
  size_t budget;            /* file octets still allowed (ZF_MAX_FILE) */
  int chain_open;           /* " (included from " written after the error */
  unsigned long ngenerated; /* records made by $GENERATE */
  size_t gentext;           /* octets of text they were made from */
} zparser;

/* What a file or a generated line swaps out of the parser. */
typedef struct zstate {
  const char *text;
  size_t len, pos;
  unsigned long line;
  const char *filename;
  int has_origin;
  size_t originlen;
  char origin[MDSPF__MAX_NAME + 1];
  int has_owner;
  size_t ownerlen;
  char owner[MDSPF__MAX_NAME + 1];
  long dollar_ttl, last_ttl;
} zstate;

static void state_save(const zparser *p, zstate *s) {
  s->text = p->text;
  s->len = p->len;
  s->pos = p->pos;
  s->line = p->line;
  s->filename = p->filename;
  s->has_origin = p->has_origin;
  s->originlen = p->originlen;
  memcpy(s->origin, p->origin, sizeof s->origin);
  s->has_owner = p->has_owner;
  s->ownerlen = p->ownerlen;
  memcpy(s->owner, p->owner, sizeof s->owner);
  s->dollar_ttl = p->dollar_ttl;
  s->last_ttl = p->last_ttl;
}

static void state_restore(zparser *p, const zstate *s) {
  p->text = s->text;
  p->len = s->len;
  p->pos = s->pos;
  p->line = s->line;
  p->filename = s->filename;
  p->has_origin = s->has_origin;
  p->originlen = s->originlen;
  memcpy(p->origin, s->origin, sizeof p->origin);
  p->has_owner = s->has_owner;
  p->ownerlen = s->ownerlen;
  memcpy(p->owner, s->owner, sizeof p->owner);
  p->dollar_ttl = s->dollar_ttl;
  p->last_ttl = s->last_ttl;
}

/* ---- error reporting ----------------------------------------------------- */

/* Bytes for a message: printable ASCII as is, others as \DDD, at most
 * max octets then "...". */
static void show_bytes(mdspf__sbuf *sb, const void *data, size_t n,
                       size_t max) {
  const unsigned char *s = data;
  size_t i;
  for (i = 0; i < n && i < max; i++) {
    if (s[i] >= 0x20 && s[i] < 0x7f) {
      mdspf__sbuf_putc(sb, (char)s[i]);
    } else {
      char esc[4];
      esc[0] = '\\';
      esc[1] = (char)('0' + s[i] / 100);
      esc[2] = (char)('0' + s[i] / 10 % 10);
      esc[3] = (char)('0' + s[i] % 10);
      mdspf__sbuf_put(sb, esc, sizeof esc);
    }
  }
  if (n > max) {
    mdspf__sbuf_puts(sb, "...");
  }
}

/* A file name for a message (printable, whole). */
static void show_name(mdspf__sbuf *sb, const char *name) {
  show_bytes(sb, name, strlen(name), ZF_MAX_PATH);
}

static void err_begin(zparser *p, unsigned long line) {
  show_name(&p->err, p->filename ? p->filename : "<zone>");
  mdspf__sbuf_putc(&p->err, ':');
  mdspf__sbuf_putu(&p->err, line);
  mdspf__sbuf_puts(&p->err, ": ");
}

static void err_show(zparser *p, const void *data, size_t n) {
  show_bytes(&p->err, data, n, ZF_SHOW_MAX);
}

/* Record the first error: "file:line: pre<shown data>post" with the
 * given status.  Returns -1 so callers can `return fail...`. */
static int fail_st(zparser *p, int status, unsigned long line, const char *pre,
                   const void *data, size_t n, const char *post) {
  if (p->status == MDSPF_OK) {
    err_begin(p, line);
    mdspf__sbuf_puts(&p->err, pre);
    if (data) {
      err_show(p, data, n);
    }
    mdspf__sbuf_puts(&p->err, post);
    p->status = status;
  }
  return -1;
}

static int fail_show(zparser *p, unsigned long line, const char *pre,
                     const void *data, size_t n, const char *post) {
  return fail_st(p, MDSPF_E_SYNTAX, line, pre, data, n, post);
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

/* A backslash escape at p->pos, in a word or a quoted string.  In raw
 * mode ($GENERATE) it is checked the same way but kept as written. */
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
    p->pos = i + 3;
    if (p->raw) {
      return put_byte(p, '\\') < 0 || put_byte(p, c) < 0 ||
                     put_byte(p, (unsigned char)p->text[i + 1]) < 0 ||
                     put_byte(p, (unsigned char)p->text[i + 2]) < 0
                 ? -1
                 : 0;
    }
    if (v == '.') {
      p->toks[p->ntoks - 1].flags |= TOK_ESCDOT;
    }
    return put_byte(p, (unsigned char)v);
  }
  if (is_ctrl(c) && c != '\t') {
    return fail_ctrl(p, c);
  }
  p->pos = i + 1;
  if (p->raw) {
    return put_byte(p, '\\') < 0 ? -1 : put_byte(p, c);
  }
  if (c == '.') {
    p->toks[p->ntoks - 1].flags |= TOK_ESCDOT;
  }
  return put_byte(p, c);
}

static int lex_word(zparser *p) {
  size_t start = p->pos;
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
      p->toks[p->ntoks - 1].flags |= TOK_ESCAPED;
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
  if (p->pos - start == 2 && p->text[start] == '\\' &&
      p->text[start + 1] == '#') {
    p->toks[p->ntoks - 1].flags |= TOK_GENERIC;
  }
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

/* An unquoted token equal to word (ASCII case-insensitive). */
static int tok_is(const zparser *p, const ztok *t, const char *word) {
  size_t n = strlen(word);
  return !(t->flags & TOK_QUOTED) && t->len == n &&
         mdspf__casecmpn(tok_data(p, t), word, n) == 0;
}

/* A directive's name is written as it is: "$\INCLUDE" is not $INCLUDE
 * (it is an unknown directive): an escape never makes a directive. */
static int directive_is(const zparser *p, const ztok *t, const char *word) {
  return !(t->flags & TOK_ESCAPED) && tok_is(p, t, word);
}

/* Read the next logical record into p->toks.  Returns 1 when one was
 * read, 0 at the end of the text (no tokens), -1 on error.  In rdata_only
 * mode newlines do not end the record.  The tokens after a leading
 * $GENERATE are lexed raw. */
static int read_record(zparser *p) {
  int depth = 0, line_start = 1;
  unsigned long paren_line = 0;
  p->ntoks = 0;
  p->blen = 0;
  p->cost = 0;
  p->indented = 0;
  p->raw = 0;
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
      if (p->ntoks == 1 && !p->indented && !p->rdata_only && !p->generated &&
          directive_is(p, p->toks, "$GENERATE")) {
        p->raw = 1;
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

/* TTL: a number, or BIND units ("1h30m", "2d", "1w"); 0..2^31-1, into
 * *out when it is one. */
static int ttl_val(const char *s, size_t n, long *out) {
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
      if (units) {
        return 0; /* a bare number must stand alone */
      }
      *out = (long)v;
      return 1;
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
  *out = (long)total;
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

/* The record types of the IANA registry (2024) by mnemonic.  The meta-
 * types are here too, so that a message can name them. */
static const struct ztype {
  const char *name;
  unsigned code;
} ZF_TYPES[] = {
    {"A", 1},         {"NS", 2},       {"MD", 3},          {"MF", 4},
    {"CNAME", 5},     {"SOA", 6},      {"MB", 7},          {"MG", 8},
    {"MR", 9},        {"NULL", 10},    {"WKS", 11},        {"PTR", 12},
    {"HINFO", 13},    {"MINFO", 14},   {"MX", 15},         {"TXT", 16},
    {"RP", 17},       {"AFSDB", 18},   {"X25", 19},        {"ISDN", 20},
    {"RT", 21},       {"NSAP", 22},    {"NSAP-PTR", 23},   {"SIG", 24},
    {"KEY", 25},      {"PX", 26},      {"GPOS", 27},       {"AAAA", 28},
    {"LOC", 29},      {"NXT", 30},     {"EID", 31},        {"NIMLOC", 32},
    {"SRV", 33},      {"ATMA", 34},    {"NAPTR", 35},      {"KX", 36},
    {"CERT", 37},     {"A6", 38},      {"DNAME", 39},      {"SINK", 40},
    {"OPT", 41},      {"APL", 42},     {"DS", 43},         {"SSHFP", 44},
    {"IPSECKEY", 45}, {"RRSIG", 46},   {"NSEC", 47},       {"DNSKEY", 48},
    {"DHCID", 49},    {"NSEC3", 50},   {"NSEC3PARAM", 51}, {"TLSA", 52},
    {"SMIMEA", 53},   {"HIP", 55},     {"NINFO", 56},      {"RKEY", 57},
    {"TALINK", 58},   {"CDS", 59},     {"CDNSKEY", 60},    {"OPENPGPKEY", 61},
    {"CSYNC", 62},    {"ZONEMD", 63},  {"SVCB", 64},       {"HTTPS", 65},
    {"DSYNC", 66},    {"SPF", 99},     {"UINFO", 100},     {"UID", 101},
    {"GID", 102},     {"UNSPEC", 103}, {"NID", 104},       {"L32", 105},
    {"L64", 106},     {"LP", 107},     {"EUI48", 108},     {"EUI64", 109},
    {"TKEY", 249},    {"TSIG", 250},   {"IXFR", 251},      {"AXFR", 252},
    {"MAILB", 253},   {"MAILA", 254},  {"ANY", 255},       {"URI", 256},
    {"CAA", 257},     {"AVC", 258},    {"DOA", 259},       {"AMTRELAY", 260},
    {"RESINFO", 261}, {"WALLET", 262}, {"TA", 32768},      {"DLV", 32769},
};

#define ZF_NTYPES (sizeof ZF_TYPES / sizeof ZF_TYPES[0])

/* Types that cannot be records of a zone: reserved 0, OPT and the
 * question/meta range 128-255 (RFC 6895 3.1). */
static int type_is_meta(unsigned code) {
  return code == 0 || code == 41 || (code >= 128 && code <= 255);
}

/* The name of a type as mdspf_zone_skipped reports it: the mnemonic in
 * upper case, else TYPEnnn. */
static void type_name(unsigned code, char out[MDSPF__ZONE_TYPE_NAME]) {
  size_t i, n = 4;
  char digits[8];
  size_t nd = 0;
  for (i = 0; i < ZF_NTYPES; i++) {
    if (ZF_TYPES[i].code == code) {
      size_t len = strlen(ZF_TYPES[i].name);
      memcpy(out, ZF_TYPES[i].name, len + 1);
      return;
    }
  }
  memcpy(out, "TYPE", 4);
  do {
    digits[nd++] = (char)('0' + code % 10);
    code /= 10;
  } while (code && nd < sizeof digits);
  while (nd) {
    out[n++] = digits[--nd];
  }
  out[n] = '\0';
}

/* The type written as token t: a mnemonic or TYPEnnn (0..65535).
 * 1 and *code, or 0 when t is no type. */
static int type_code(const zparser *p, const ztok *t, unsigned *code) {
  const char *d = tok_data(p, t);
  size_t i;
  unsigned long v;
  if (t->flags & TOK_QUOTED) {
    return 0;
  }
  if (t->len > 4 && mdspf__casecmpn(d, "TYPE", 4) == 0) {
    if (!num_ok(d + 4, t->len - 4, 0xffff, &v)) {
      return 0;
    }
    *code = (unsigned)v;
    return 1;
  }
  for (i = 0; i < ZF_NTYPES; i++) {
    if (tok_is(p, t, ZF_TYPES[i].name)) {
      *code = ZF_TYPES[i].code;
      return 1;
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

/* IN, or CLASS1, its RFC 3597 spelling. */
static int is_class_in(const zparser *p, const ztok *t) {
  unsigned long v;
  return tok_is(p, t, "IN") ||
         (!(t->flags & TOK_QUOTED) && t->len > 5 &&
          mdspf__casecmpn(tok_data(p, t), "CLASS", 5) == 0 &&
          num_ok(tok_data(p, t) + 5, t->len - 5, 0xffff, &v) && v == 1);
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
                           nstr, p->rec_ttl);
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

/* A record of a type the zone does not serve: its owner exists and the
 * type is counted. */
static int skip_rec(zparser *p, unsigned long line, const char *owner,
                    size_t ownerlen, unsigned code) {
  char tname[MDSPF__ZONE_TYPE_NAME];
  int rc;
  type_name(code, tname);
  rc = mdspf__zone_skip(p->z, owner, ownerlen, code, tname);
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
    return skip_rec(p, tt->line, owner, ownerlen, ZF_SPF); /* not served */
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

/* ---- RFC 3597 generic rdata ---------------------------------------------- */

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = (unsigned char)mdspf__lower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

/*
 * Check "\# length hex..." (r[0] is the \# token) and decode the octets
 * in place: they overwrite the hex, which always lies ahead of them in
 * buf (each hex word is checked whole before it is overwritten, so a
 * message can still show it).  *out and *outlen locate the octets.
 */
static int generic_rdata(zparser *p, const ztok *r, size_t nr,
                         unsigned char **out, size_t *outlen) {
  unsigned long want;
  size_t k, w;
  if (nr < 2) {
    return fail(p, r[0].line, "missing length after \\#");
  }
  if ((r[1].flags & TOK_QUOTED) ||
      !num_ok(tok_data(p, &r[1]), r[1].len, 65535, &want)) {
    return fail_tok(p, &r[1], "invalid length '", "' after \\#");
  }
  w = nr > 2 ? r[2].off : 0;
  for (k = 2; k < nr; k++) {
    const unsigned char *h = (const unsigned char *)tok_data(p, &r[k]);
    size_t j;
    if (r[k].flags & TOK_QUOTED || r[k].len == 0) {
      return fail_tok(p, &r[k], "invalid hex '", "' in \\# rdata");
    }
    for (j = 0; j < r[k].len; j++) {
      if (hex_value(h[j]) < 0) {
        return fail_tok(p, &r[k], "invalid hex '", "' in \\# rdata");
      }
    }
    if (r[k].len % 2) {
      return fail_tok(p, &r[k], "odd number of hex digits in '", "'");
    }
    for (j = 0; j < r[k].len; j += 2) {
      p->buf[w++] = (unsigned char)(hex_value(h[j]) * 16 + hex_value(h[j + 1]));
    }
  }
  if (nr > 2) {
    w -= r[2].off;
  }
  if (w != want) {
    char msg[80];
    (void)snprintf(msg, sizeof msg, "\\# rdata holds %lu octets, not %lu",
                   (unsigned long)w, want);
    return fail(p, r[1].line, msg);
  }
  *out = nr > 2 ? p->buf + r[2].off : NULL;
  *outlen = w;
  return 0;
}

/* A domain name in wire form (uncompressed) at data[*off..len) as text
 * without trailing dot into out; the root gives length 0. */
static int wire_name(zparser *p, unsigned long line, const unsigned char *data,
                     size_t len, size_t *off, char out[MDSPF__MAX_NAME + 1],
                     size_t *outlen) {
  size_t i = *off, n = 0, wire = 0;
  for (;;) {
    size_t l, j;
    if (i >= len) {
      return fail(p, line, "domain name runs past the end of the \\# rdata");
    }
    l = data[i++];
    wire += l + 1;
    if (l == 0) {
      break;
    }
    if (l > 63) {
      return fail(p, line, "compressed or bad label in \\# rdata");
    }
    if (l > len - i) {
      return fail(p, line, "domain name runs past the end of the \\# rdata");
    }
    if (wire > 255) {
      return fail(p, line, "domain name too long in \\# rdata");
    }
    if (n) {
      out[n++] = '.';
    }
    for (j = 0; j < l; j++) {
      unsigned char c = data[i + j];
      if (c == '.' || c == 0) {
        return fail(p, line,
                    "label with '.' or NUL in \\# rdata "
                    "is not supported");
      }
      out[n++] = (char)c;
    }
    i += l;
  }
  if (n > MDSPF__MAX_NAME) {
    return fail(p, line, "domain name too long in \\# rdata");
  }
  out[n] = '\0';
  *outlen = n;
  *off = i;
  return 0;
}

/* A stored type given in generic form: decode its wire rdata. */
static int rdata_generic(zparser *p, const char *owner, size_t ownerlen,
                         int type, const ztok *tt, const ztok *r, size_t nr) {
  unsigned char *d = NULL;
  size_t n = 0, off = 0, namelen;
  char name[MDSPF__MAX_NAME + 1];
  unsigned long line = r[0].line;
  if (generic_rdata(p, r, nr, &d, &n) < 0) {
    return -1;
  }
  switch (type) {
  case MDSPF_RR_A:
  case MDSPF_RR_AAAA: {
    size_t want = type == MDSPF_RR_A ? 4u : 16u;
    if (n != want) {
      return fail(p, line,
                  type == MDSPF_RR_A ? "A rdata must be 4 octets"
                                     : "AAAA rdata must be 16 octets");
    }
    return store(p, line, owner, ownerlen, type, d, n, 0, NULL, 0);
  }
  case MDSPF_RR_MX: {
    unsigned pref;
    if (n < 3) {
      return fail(p, line, "MX rdata too short");
    }
    pref = ((unsigned)d[0] << 8) | (unsigned)d[1];
    off = 2;
    if (wire_name(p, line, d, n, &off, name, &namelen) < 0) {
      return -1;
    }
    if (off != n) {
      return fail(p, line, "octets after the MX exchange in \\# rdata");
    }
    return store(p, line, owner, ownerlen, type, name, namelen, pref, NULL, 0);
  }
  case MDSPF_RR_PTR:
  case MDSPF_RR_CNAME:
    if (wire_name(p, line, d, n, &off, name, &namelen) < 0) {
      return -1;
    }
    if (off != n) {
      return fail(p, line, "octets after the target name in \\# rdata");
    }
    if (namelen == 0) {
      return fail(p, line, "the root name is not allowed here");
    }
    return store(p, line, owner, ownerlen, type, name, namelen, 0, NULL, 0);
  case MDSPF_RR_TXT: {
    size_t cnt = 0, i = 0, k = 0, total = 0, *lens;
    int rc;
    if (n == 0) {
      return fail(p, tt->line, "missing TXT data");
    }
    while (i < n) {
      size_t l = d[i];
      if (l > n - i - 1) {
        return fail(p, line, "TXT string runs past the end of the \\# rdata");
      }
      i += 1 + l;
      cnt++;
    }
    lens = mdspf__alloc_array(p->a, cnt, sizeof *lens);
    if (!lens) {
      return fail_nomem(p);
    }
    /* squeeze out the length octets in place */
    for (i = 0; i < n; k++) {
      size_t l = d[i];
      memmove(d + total, d + i + 1, l);
      lens[k] = l;
      total += l;
      i += 1 + l;
    }
    rc = store(p, line, owner, ownerlen, MDSPF_RR_TXT, d, total, 0, lens, cnt);
    mdspf__free(p->a, lens, cnt * sizeof *lens);
    return rc;
  }
  default:
    return fail_tok(p, tt, "unsupported record type ", "");
  }
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
  long minimum = 0;
  size_t k;
  if (nr && (r->flags & TOK_GENERIC)) {
    unsigned char *d;
    size_t n;
    switch (type) {
    case MDSPF_RR_A:
    case MDSPF_RR_AAAA:
    case MDSPF_RR_MX:
    case MDSPF_RR_TXT:
    case MDSPF_RR_PTR:
    case MDSPF_RR_CNAME:
      return rdata_generic(p, owner, ownerlen, type, tt, r, nr);
    default:
      if (generic_rdata(p, r, nr, &d, &n) < 0) {
        return -1;
      }
      return skip_rec(p, tt->line, owner, ownerlen, (unsigned)type);
    }
  }
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
      return skip_rec(p, r->line, owner, ownerlen, ZF_NS);
    }
    return store(p, r->line, owner, ownerlen, type, name, namelen, 0, NULL, 0);
  }
  case MDSPF_RR_TXT:
  case ZF_SPF:
    return rdata_txt(p, owner, ownerlen, type, tt, r, nr);
  case ZF_SOA:
    /* MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM: checked, skipped */
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
      if (!ttl_val(tok_data(p, &r[k]), r[k].len, &minimum)) {
        return fail_tok(p, &r[k], "invalid SOA time value '", "'");
      }
    }
    /* the last value is MINIMUM: with the SOA's own TTL it makes the
     * negative-caching TTL of the names below (RFC 2308) */
    if (skip_rec(p, tt->line, owner, ownerlen, ZF_SOA) < 0) {
      return -1;
    }
    return mdspf__zone_soa(p->z, owner, ownerlen, p->rec_ttl, minimum) ==
                   MDSPF_OK
               ? 0
               : fail_nomem(p);
  default:
    if (p->rdata_only) {
      return fail_tok(p, tt, "unsupported record type ", "");
    }
    /* any other type: its rdata was consumed as tokens, not interpreted */
    return skip_rec(p, tt->line, owner, ownerlen, (unsigned)type);
  }
}

/* ---- files -----------------------------------------------------------------
 */

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

/* Why a file could not be read: an errno value, or a text. */
typedef struct zwhy {
  int eno;
  const char *text;
} zwhy;

static void put_why(mdspf__sbuf *sb, const zwhy *w) {
  if (w->text) {
    mdspf__sbuf_puts(sb, w->text);
  } else {
    put_errno(sb, w->eno ? w->eno : EIO);
  }
}

/*
 * Read all of f into a new block (*buf, *cap octets, *len used) of at
 * most limit octets: one more is MDSPF_E_LIMIT.  hint is the expected
 * size (0 unknown).  MDSPF_OK, MDSPF_E_NOMEM, MDSPF_E_LIMIT or
 * MDSPF_E_IO (why set).  On failure *buf is freed and NULL.
 */
static int read_all(const mdspf__allocator *a, FILE *f, size_t limit,
                    size_t hint, unsigned char **buf, size_t *len, size_t *cap,
                    zwhy *why) {
  unsigned char *b = NULL;
  size_t n = 0, c = 0;
  int rc = MDSPF_OK;
  for (;;) {
    size_t got;
    if (n == c) {
      /* read one octet past the limit to notice an oversized file */
      size_t ncap = c ? c * 2 : (hint && hint <= limit ? hint + 1 : 65536);
      unsigned char *nb;
      if (ncap > limit + 1 || ncap < c) {
        ncap = limit + 1;
      }
      nb = mdspf__realloc(a, b, c, ncap);
      if (!nb) {
        rc = MDSPF_E_NOMEM;
        break;
      }
      b = nb;
      c = ncap;
    }
    got = fread(b + n, 1, c - n, f);
    n += got;
    if (n > limit) {
      rc = MDSPF_E_LIMIT;
      break;
    }
    if (got == 0) {
      if (ferror(f)) {
        why->eno = errno;
        rc = MDSPF_E_IO;
      }
      break;
    }
  }
  if (rc != MDSPF_OK) {
    mdspf__free(a, b, c);
    b = NULL;
    n = c = 0;
  }
  *buf = b;
  *len = n;
  *cap = c;
  return rc;
}

/* Open path for reading if it is a regular file (no device, FIFO or
 * directory is ever opened); *size gets its size.  NULL with why set
 * otherwise. */
static FILE *open_regular(const char *path, size_t *size, zwhy *why) {
  struct stat st, st2;
  int fd;
  FILE *f;
  if (stat(path, &st) != 0) {
    why->eno = errno;
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    why->eno = EISDIR;
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    why->text = "not a regular file";
    return NULL;
  }
  fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    why->eno = errno;
    return NULL;
  }
  /* the same regular file that stat saw, not one swapped in meanwhile */
  if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) ||
      st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
    (void)close(fd);
    why->text = "file changed while being opened";
    return NULL;
  }
  f = fdopen(fd, "rb");
  if (!f) {
    why->eno = errno;
    (void)close(fd);
    return NULL;
  }
  *size = st2.st_size > 0 && (unsigned long long)st2.st_size < SIZE_MAX
              ? (size_t)st2.st_size
              : 0;
  return f;
}

/* ---- directives ------------------------------------------------------------
 */

static void parse_all(zparser *p);
static int process_record(zparser *p);

/* After an error inside an included file: name the including file and
 * the line of its $INCLUDE, innermost first. */
static void chain_add(zparser *p, unsigned long line) {
  mdspf__sbuf_puts(&p->err, p->chain_open ? ", " : " (included from ");
  p->chain_open = 1;
  show_name(&p->err, p->filename ? p->filename : "<zone>");
  mdspf__sbuf_putc(&p->err, ':');
  mdspf__sbuf_putu(&p->err, line);
}

/* A file that cannot be included: "file:line: cannot include 'path':
 * reason". */
static int fail_include(zparser *p, int status, unsigned long line,
                        const char *path, size_t pathlen, const zwhy *why) {
  if (p->status == MDSPF_OK) {
    err_begin(p, line);
    mdspf__sbuf_puts(&p->err, "cannot include '");
    show_bytes(&p->err, path, pathlen, ZF_MAX_PATH);
    mdspf__sbuf_puts(&p->err, "': ");
    if (why) {
      put_why(&p->err, why);
    } else if (status == MDSPF_E_LIMIT) {
      mdspf__sbuf_puts(&p->err, "the zone files are larger than 16 MiB "
                                "together");
    } else {
      mdspf__sbuf_puts(&p->err, "out of memory");
    }
    p->status = status;
  }
  return -1;
}

/* $INCLUDE file [origin]: parse the file here, then go on with this one
 * as it was. */
static int include(zparser *p) {
  const ztok *t = p->toks;
  size_t n = p->ntoks, dirlen = 0, pathlen, i, tlen = 0;
  unsigned long line = t->line;
  char origin[MDSPF__MAX_NAME + 1];
  size_t originlen = 0;
  char *path;
  unsigned char *text = NULL;
  size_t textcap = 0, size = 0;
  zwhy why = {0, NULL};
  zstate saved;
  FILE *f;
  int rc;
  if (n < 2) {
    return fail(p, line, "$INCLUDE needs a file name");
  }
  if (t[1].len == 0) {
    return fail(p, line, "empty file name after $INCLUDE");
  }
  if (memchr(tok_data(p, &t[1]), '\0', t[1].len)) {
    return fail_tok(p, &t[1], "NUL octet in file name '", "'");
  }
  if (n > 2 && make_name(p, &t[2], 1, origin, &originlen) < 0) {
    return -1;
  }
  if (no_more(p, t, n, 3, "the $INCLUDE origin") < 0) {
    return -1;
  }
  if (!p->files) {
    return fail_st(p, MDSPF_E_NOTSUP, line,
                   "$INCLUDE needs a zone loaded from a file, not from text",
                   NULL, 0, "");
  }
  if (p->depth >= ZF_MAX_DEPTH) {
    return fail_st(p, MDSPF_E_LIMIT, line,
                   "$INCLUDE nested more than 8 levels deep (an include "
                   "loop?)",
                   NULL, 0, "");
  }
  if (p->nincludes >= ZF_MAX_INCLUDES) {
    return fail_st(p, MDSPF_E_LIMIT, line,
                   "more than 4096 $INCLUDEs in one load", NULL, 0, "");
  }
  /* relative to the directory of this file (absolute paths as they are) */
  if (tok_data(p, &t[1])[0] != '/' && p->filename) {
    for (i = 0; p->filename[i]; i++) {
      if (p->filename[i] == '/') {
        dirlen = i + 1;
      }
    }
  }
  if (t[1].len > ZF_MAX_PATH - dirlen) {
    return fail_tok(p, &t[1], "file name too long: '", "'");
  }
  pathlen = dirlen + t[1].len;
  path = mdspf__alloc(p->a, pathlen + 1);
  if (!path) {
    return fail_nomem(p);
  }
  if (dirlen) {
    memcpy(path, p->filename, dirlen);
  }
  memcpy(path + dirlen, tok_data(p, &t[1]), t[1].len);
  path[pathlen] = '\0';
  /* t is not used below: the included file reuses the token arrays */
  f = open_regular(path, &size, &why);
  if (!f) {
    rc = fail_include(p, MDSPF_E_IO, line, path, pathlen, &why);
    mdspf__free(p->a, path, pathlen + 1);
    return rc;
  }
  /* a file already known to be too big is not read at all */
  rc = size > p->budget
           ? MDSPF_E_LIMIT
           : read_all(p->a, f, p->budget, size, &text, &tlen, &textcap, &why);
  (void)fclose(f);
  if (rc != MDSPF_OK) {
    (void)fail_include(p, rc, line, path, pathlen,
                       rc == MDSPF_E_IO ? &why : NULL);
    mdspf__free(p->a, path, pathlen + 1);
    return -1;
  }
  p->budget -= tlen;
  p->nincludes++;
  state_save(p, &saved);
  p->text = (const char *)text;
  p->len = tlen;
  p->pos = 0;
  p->line = 1;
  p->filename = path;
  if (n > 2) {
    memcpy(p->origin, origin, originlen + 1);
    p->originlen = originlen;
    p->has_origin = 1;
  }
  p->has_owner = 0; /* the owner does not carry into an included file */
  p->depth++;
  parse_all(p);
  p->depth--;
  state_restore(p, &saved);
  mdspf__free(p->a, text, textcap);
  mdspf__free(p->a, path, pathlen + 1);
  if (p->status != MDSPF_OK) {
    chain_add(p, line);
    return -1;
  }
  return 0;
}

/* ---- $GENERATE -------------------------------------------------------------
 */

/* A growing text buffer for generated lines. */
typedef struct zgbuf {
  char *s;
  size_t len, cap;
} zgbuf;

static int gbuf_put(zparser *p, zgbuf *g, const char *s, size_t n) {
  if (n > ZF_MAX_RECORD - g->len) {
    return fail(p, p->line, "$GENERATE line too long");
  }
  if (g->len + n > g->cap) {
    size_t ncap = g->cap ? g->cap : 256;
    char *ns;
    while (ncap < g->len + n) {
      ncap *= 2;
    }
    ns = mdspf__realloc(p->a, g->s, g->cap, ncap);
    if (!ns) {
      return fail_nomem(p);
    }
    g->s = ns;
    g->cap = ncap;
  }
  memcpy(g->s + g->len, s, n);
  g->len += n;
  return 0;
}

/* "start-stop[/step]", each 0..2^31-1, start <= stop, step >= 1. */
static int gen_range(const char *s, size_t n, unsigned long *start,
                     unsigned long *stop, unsigned long *step) {
  const char *dash = memchr(s, '-', n), *slash;
  size_t rest;
  if (!dash || !num_ok(s, (size_t)(dash - s), 0x7fffffffUL, start)) {
    return 0;
  }
  rest = n - (size_t)(dash - s) - 1;
  slash = memchr(dash + 1, '/', rest);
  *step = 1;
  if (slash) {
    if (!num_ok(dash + 1, (size_t)(slash - dash - 1), 0x7fffffffUL, stop) ||
        !num_ok(slash + 1, rest - (size_t)(slash - dash), 0x7fffffffUL, step) ||
        *step == 0) {
      return 0;
    }
  } else if (!num_ok(dash + 1, rest, 0x7fffffffUL, stop)) {
    return 0;
  }
  return *start <= *stop;
}

/* value in nibble form (BIND): hex digits lowest first, dot-separated,
 * padded to width characters (dots included). */
static size_t gen_nibbles(char *out, size_t outsz, unsigned long v,
                          unsigned width, int upper) {
  static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
  size_t n = 0;
  do {
    if (n + 2 > outsz) {
      break;
    }
    out[n++] = (upper ? up : lo)[v & 0xf];
    v >>= 4;
    width = width ? width - 1 : 0;
    if (width > 0 || v != 0) {
      out[n++] = '.';
      width = width ? width - 1 : 0;
    }
  } while (v != 0 || width > 0);
  return n;
}

/* "invalid $GENERATE modifier '${...}'" for the modifier whose '{' is
 * at tpl[i]. */
static int gen_bad_modifier(zparser *p, const char *tpl, size_t tn, size_t i) {
  size_t to = i;
  while (to < tn && tpl[to] != '}' && tpl[to] != ' ') {
    to++;
  }
  if (to < tn && tpl[to] == '}') {
    to++;
  }
  return fail_show(p, p->line, "invalid $GENERATE modifier '", tpl + i - 1,
                   to - i + 1, "'");
}

/*
 * One generated line: tpl (tn octets, the raw tokens after the range)
 * with "$" replaced by value, "${offset[,width[,base]]}" by value +
 * offset formatted, "$$" by "$"; backslash escapes are copied whole (so
 * "\$" stays a '$'), to be decoded when the line is read.
 */
static int gen_line(zparser *p, const char *tpl, size_t tn, unsigned long value,
                    zgbuf *g) {
  size_t i = 0;
  g->len = 0;
  while (i < tn) {
    char c = tpl[i];
    char num[ZF_GEN_WIDTH + 24];
    long long off = 0, v;
    unsigned long width = 0;
    char base = 'd';
    size_t nn;
    if (c == '\\') {
      size_t k = i + 1 < tn ? 2 : 1;
      if (gbuf_put(p, g, tpl + i, k) < 0) {
        return -1;
      }
      i += k;
      continue;
    }
    if (c != '$') {
      size_t k = i;
      while (k < tn && tpl[k] != '$' && tpl[k] != '\\') {
        k++;
      }
      if (gbuf_put(p, g, tpl + i, k - i) < 0) {
        return -1;
      }
      i = k;
      continue;
    }
    i++;
    if (i < tn && tpl[i] == '$') {
      if (gbuf_put(p, g, "$", 1) < 0) {
        return -1;
      }
      i++;
      continue;
    }
    if (i < tn && tpl[i] == '{') {
      /* {offset[,width[,base]]} */
      size_t k = i + 1, d0;
      int neg = 0;
      unsigned long mag = 0;
      if (k < tn && (tpl[k] == '-' || tpl[k] == '+')) {
        neg = tpl[k] == '-';
        k++;
      }
      d0 = k;
      while (k < tn && mdspf__is_digit((unsigned char)tpl[k]) && k - d0 < 11) {
        mag = mag * 10 + (unsigned long)(tpl[k] - '0');
        k++;
      }
      if (k == d0 || mag > 0x7fffffffUL) {
        return gen_bad_modifier(p, tpl, tn, i);
      }
      off = neg ? -(long long)mag : (long long)mag;
      if (k < tn && tpl[k] == ',') {
        k++;
        d0 = k;
        while (k < tn && mdspf__is_digit((unsigned char)tpl[k]) && k - d0 < 4) {
          width = width * 10 + (unsigned long)(tpl[k] - '0');
          k++;
        }
        if (k == d0 || width > ZF_GEN_WIDTH) {
          return gen_bad_modifier(p, tpl, tn, i);
        }
        if (k < tn && tpl[k] == ',') {
          k++;
          if (k >= tn || !strchr("doxXnN", tpl[k]) || tpl[k] == '\0') {
            return gen_bad_modifier(p, tpl, tn, i);
          }
          base = tpl[k++];
        }
      }
      if (k >= tn || tpl[k] != '}') {
        return gen_bad_modifier(p, tpl, tn, i);
      }
      i = k + 1;
    }
    v = (long long)value + off;
    if (v < 0 || v > 0x7fffffffLL) {
      char msg[96];
      (void)snprintf(msg, sizeof msg,
                     "$GENERATE value %lld is out of range (0-2147483647)", v);
      return fail(p, p->line, msg);
    }
    if (base == 'n' || base == 'N') {
      nn = gen_nibbles(num, sizeof num, (unsigned long)v, (unsigned)width,
                       base == 'N');
    } else {
      unsigned long uv = (unsigned long)v;
      int w = (int)width, k;
      switch (base) {
      case 'o':
        k = snprintf(num, sizeof num, "%0*lo", w, uv);
        break;
      case 'x':
        k = snprintf(num, sizeof num, "%0*lx", w, uv);
        break;
      case 'X':
        k = snprintf(num, sizeof num, "%0*lX", w, uv);
        break;
      default:
        k = snprintf(num, sizeof num, "%0*lu", w, uv);
        break;
      }
      nn = k > 0 && (size_t)k < sizeof num ? (size_t)k : 0;
    }
    if (gbuf_put(p, g, num, nn) < 0) {
      return -1;
    }
    continue;
  }
  return 0;
}

/* Parse one generated line as a record of its own (no directives), at
 * the $GENERATE's line; the owner of later blank-owner lines stays. */
static int gen_record(zparser *p, const zgbuf *g) {
  zstate saved;
  int r;
  state_save(p, &saved);
  p->text = g->s;
  p->len = g->len;
  p->pos = 0;
  p->generated = 1;
  r = read_record(p);
  if (r == 0) {
    r = fail(p, p->line, "$GENERATE made an empty line");
  } else if (r > 0) {
    r = process_record(p);
  }
  p->generated = 0;
  state_restore(p, &saved);
  return r < 0 ? -1 : 0;
}

static int generate(zparser *p) {
  const ztok *t = p->toks;
  size_t n = p->ntoks, k, tn = 0;
  unsigned long line = t->line, next_line, start, stop, step, count, v;
  char *tpl;
  zgbuf g = {NULL, 0, 0};
  int rc = 0;
  if (n < 5) {
    return fail(p, line, "$GENERATE needs a range, an owner, a type and rdata");
  }
  if ((t[1].flags & TOK_QUOTED) ||
      !gen_range(tok_data(p, &t[1]), t[1].len, &start, &stop, &step)) {
    return fail_tok(p, &t[1], "invalid $GENERATE range '", "'");
  }
  if ((t[2].flags & TOK_QUOTED) || t[2].len == 0) {
    return fail_tok(p, &t[2], "invalid $GENERATE owner '", "'");
  }
  count = (stop - start) / step + 1;
  if (count > ZF_MAX_GENERATED - p->ngenerated) {
    return fail_st(p, MDSPF_E_LIMIT, line,
                   "$GENERATE makes more than 65536 records in one load", NULL,
                   0, "");
  }
  /* the raw tokens after the range, one space apart (a quoted one loses
   * its quotes: its text is read again as rdata, as BIND does) */
  for (k = 2; k < n; k++) {
    tn += t[k].len + 1;
  }
  tpl = mdspf__alloc(p->a, tn);
  if (!tpl) {
    return fail_nomem(p);
  }
  tn = 0;
  for (k = 2; k < n; k++) {
    if (t[k].len) {
      memcpy(tpl + tn, tok_data(p, &t[k]), t[k].len);
    }
    tn += t[k].len;
    tpl[tn++] = ' ';
  }
  tn--;
  /* t is not used below: generated lines reuse the token arrays.  They
   * and every message about them are at the $GENERATE's line.  Check
   * both ends of the range first, so a bad modifier or a value out of
   * range stops the load before anything is stored. */
  next_line = p->line;
  p->line = line;
  if (gen_line(p, tpl, tn, start, &g) < 0 ||
      gen_line(p, tpl, tn, start + (count - 1) * step, &g) < 0) {
    rc = -1;
  }
  for (v = 0; rc == 0 && v < count; v++) {
    unsigned long value = start + v * step;
    if (gen_line(p, tpl, tn, value, &g) < 0) {
      rc = -1;
    } else if (g.len > ZF_MAX_GEN_TEXT - p->gentext) {
      rc = fail_st(p, MDSPF_E_LIMIT, line,
                   "$GENERATE makes more than 16 MiB of text in one load", NULL,
                   0, "");
    } else {
      p->gentext += g.len;
      p->ngenerated++;
      if (gen_record(p, &g) < 0) {
        char msg[48];
        (void)snprintf(msg, sizeof msg, " ($GENERATE value %lu)", value);
        if (p->status == MDSPF_E_SYNTAX) {
          mdspf__sbuf_puts(&p->err, msg);
        }
        rc = -1;
      }
    }
  }
  p->line = next_line;
  mdspf__free(p->a, g.s, g.cap);
  mdspf__free(p->a, tpl, tn + 1);
  return rc;
}

static int directive(zparser *p) {
  const ztok *t = p->toks;
  size_t n = p->ntoks;
  if (directive_is(p, t, "$INCLUDE")) {
    return include(p);
  }
  if (directive_is(p, t, "$GENERATE")) {
    return generate(p);
  }
  if (directive_is(p, t, "$ORIGIN")) {
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
  if (directive_is(p, t, "$TTL")) {
    if (n < 2) {
      return fail(p, t->line, "$TTL needs a value");
    }
    if ((t[1].flags & TOK_QUOTED) ||
        !ttl_val(tok_data(p, &t[1]), t[1].len, &p->dollar_ttl)) {
      return fail_tok(p, &t[1], "invalid TTL '", "'");
    }
    return no_more(p, t, n, 2, "the $TTL value");
  }
  return fail_tok(p, t, "unknown directive ", "");
}

/* ---- records ---------------------------------------------------------------
 */

static int process_record(zparser *p) {
  const ztok *t = p->toks;
  size_t n = p->ntoks, i = 0;
  int have_ttl = 0, have_class = 0;
  long ttl = -1;
  unsigned code;
  if (!p->indented && !p->generated && !(t->flags & TOK_QUOTED) && t->len > 0 &&
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
      if (!ttl_val(tok_data(p, ti), ti->len, &ttl)) {
        return fail_tok(p, ti, "invalid TTL '", "'");
      }
      have_ttl = 1;
    } else if (is_class(p, ti)) {
      if (have_class) {
        return fail_tok(p, ti, "duplicate class '", "'");
      }
      if (!is_class_in(p, ti)) {
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
  if (!type_code(p, &t[i], &code)) {
    return fail_tok(p, &t[i], "unknown record type ", "");
  }
  if (type_is_meta(code)) {
    char tname[MDSPF__ZONE_TYPE_NAME];
    type_name(code, tname);
    return fail_show(p, t[i].line, "record type ", tname, strlen(tname),
                     " cannot be in a zone");
  }
  if (have_ttl) {
    p->last_ttl = ttl;
  }
  p->rec_ttl = have_ttl ? ttl : p->dollar_ttl >= 0 ? p->dollar_ttl
                                                   : p->last_ttl;
  return rdata(p, p->owner, p->ownerlen, (int)code, &t[i], i + 1);
}

static void parse_all(zparser *p) {
  for (;;) {
    int r = read_record(p);
    if (r <= 0 || process_record(p) < 0) {
      break;
    }
  }
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
  p->budget = ZF_MAX_FILE;
  p->dollar_ttl = p->last_ttl = p->rec_ttl = -1;
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

/* The initial origin; MDSPF_E_INVAL with "file: invalid origin" when it
 * cannot be one. */
static int set_origin(zparser *p, const char *origin) {
  size_t on;
  if (!origin || !origin[0]) {
    return MDSPF_OK;
  }
  on = strlen(origin);
  if (on == 1 && origin[0] == '.') {
    p->has_origin = 1; /* the root */
    return MDSPF_OK;
  }
  if (!mdspf__name_queryable(origin, on)) {
    show_name(&p->err, p->filename ? p->filename : "<zone>");
    mdspf__sbuf_puts(&p->err, ": invalid origin '");
    err_show(p, origin, on);
    mdspf__sbuf_putc(&p->err, '\'');
    return MDSPF_E_INVAL;
  }
  if (origin[on - 1] == '.') {
    on--;
  }
  memcpy(p->origin, origin, on);
  p->origin[on] = '\0';
  p->originlen = on;
  p->has_origin = 1;
  return MDSPF_OK;
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
  rc = set_origin(&p, origin);
  if (rc != MDSPF_OK) {
    return rc;
  }
  parse_all(&p);
  rc = p.status;
  parser_fini(&p);
  return rc;
}

mdspf_status mdspf_zone_load_file(mdspf_zone *z, const char *path, const char *origin,
                         char *err, size_t errsz) {
  zparser p;
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0;
  zwhy why = {0, NULL};
  FILE *f;
  int rc;
  if (err && errsz) {
    err[0] = '\0';
  }
  if (!z || !path) {
    return MDSPF_E_INVAL;
  }
  parser_init(&p, z, NULL, 0, path, err, errsz);
  rc = set_origin(&p, origin);
  if (rc != MDSPF_OK) {
    return rc;
  }
  /* the first file may be anything fopen reads (a pipe, /dev/stdin);
   * only included files must be regular files */
  f = fopen(path, "rb");
  if (!f) {
    why.eno = errno;
    rc = MDSPF_E_IO;
  } else {
    rc = read_all(p.a, f, ZF_MAX_FILE, 0, &buf, &len, &cap, &why);
    (void)fclose(f);
  }
  if (rc != MDSPF_OK) {
    show_name(&p.err, path);
    mdspf__sbuf_puts(&p.err, ": ");
    if (rc == MDSPF_E_IO) {
      put_why(&p.err, &why);
    } else if (rc == MDSPF_E_LIMIT) {
      mdspf__sbuf_puts(&p.err, "file larger than 16 MiB");
    } else {
      mdspf__sbuf_puts(&p.err, "out of memory");
    }
    return rc;
  }
  p.files = 1;
  p.text = (const char *)buf;
  p.len = len;
  p.budget -= len;
  parse_all(&p);
  if (p.chain_open) {
    mdspf__sbuf_putc(&p.err, ')');
  }
  rc = p.status;
  parser_fini(&p);
  mdspf__free(p.a, buf, cap);
  return rc;
}

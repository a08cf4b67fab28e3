/*
 * spf-testsuite -- run openspf YAML test suites (RFC 7208 / RFC 4408
 * format) against libmaildrop-spf, using the public API only.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Usage: spf-testsuite [-v] [--mode inline|fifo|lifo|all]
 *                      [--lookahead on|off|both] [--only ID]... FILE.yml...
 *
 * The DNS conventions are those of the suite's reference driver (pyspf's
 * testspf.py):
 *
 *  - zonedata maps a name (case-insensitive, one trailing dot stripped)
 *    to a list of entries: the bare scalar TIMEOUT, or a mapping
 *    TYPE: value with TYPE in A, AAAA, MX, PTR, CNAME, TXT, SPF.  The
 *    value NONE means "no record", TIMEOUT means "this type times out".
 *  - SPF entries are served as TXT records when the name has no TXT entry
 *    at all; those generated records come after every listed entry.
 *  - For a query of type T the entries are walked in order: a T record is
 *    "seen"; "T: TIMEOUT" times out; a bare TIMEOUT times out when no T
 *    record was seen before it, and otherwise ends the list.
 *  - A name absent from zonedata does not exist, except names whose first
 *    label is "error", which time out.
 *  - The variant of the suite that Debian's golang-blitiri-go-spf-dev
 *    ships is read too: "TIMEOUT: true" is the bare TIMEOUT, "CNAMELOOP:
 *    true" a CNAME of the name to itself, and its "skip:" fields are
 *    ignored -- every test runs.
 *
 * Every test runs once per delivery mode of the zone (inline, deferred
 * FIFO, deferred LIFO) and lookahead setting (MDSPF_LIMIT_LOOKAHEAD 0,
 * "off", and the library's default, "on"), and passes only if every run
 * passes and, in each delivery mode, lookahead on and off give the same
 * full outcome: result, reason, problem, explanation, matched term,
 * domain, record, source, the DNS-term, void-lookup and query counters
 * and the trace; the zone must also have received exactly the queries
 * the check accounts for (mdspf_check_queries + mdspf_check_wasted).
 *
 * Exit status: 0 all tests passed (and at least one ran), 1 a test failed
 * (or none ran), 2 usage error or an unreadable / unparsable file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include <maildrop-spf/spf.h>

#define PROG "spf-testsuite"

#if defined(__GNUC__)
#define ST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ST_NORETURN __attribute__((noreturn))
#else
#define ST_PRINTF(f, a)
#define ST_NORETURN
#endif

/* Cap on the trace kept per run (-v), so a runaway check stays readable. */
#define TRACE_MAX_BYTES (256u * 1024u)

/* ======================================================================
 * Small utilities
 * ==================================================================== */

static ST_NORETURN void die_nomem(void) {
  fputs(PROG ": out of memory\n", stderr);
  exit(2);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q)
    die_nomem();
  return q;
}

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p)
    die_nomem();
  return p;
}

/* Growable byte buffer, always NUL-terminated once something was added. */
struct sbuf {
  char *p;
  size_t len, cap;
};

static void sb_reserve(struct sbuf *b, size_t add) {
  size_t need, cap;
  if (add > (size_t)-1 - b->len - 1)
    die_nomem();
  need = b->len + add + 1;
  if (need <= b->cap)
    return;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
  b->p = xrealloc(b->p, cap);
  b->cap = cap;
}

static void sb_put(struct sbuf *b, const void *data, size_t n) {
  sb_reserve(b, n);
  if (n)
    memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_putc(struct sbuf *b, char c) { sb_put(b, &c, 1); }

static ST_PRINTF(2, 3) void sb_printf(struct sbuf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  char small[256];
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof small) {
    sb_put(b, small, (size_t)n);
    return;
  }
  sb_reserve(b, (size_t)n);
  va_start(ap, fmt);
  n = vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  if (n > 0)
    b->len += (size_t)n;
  b->p[b->len] = '\0';
}

/* Bytes with control and non-ASCII octets written as \xNN. */
static void sb_put_esc(struct sbuf *b, const void *data, size_t n) {
  const unsigned char *s = data;
  size_t i;
  for (i = 0; i < n; i++) {
    if (s[i] < 0x20 || s[i] >= 0x7f)
      sb_printf(b, "\\x%02X", (unsigned)s[i]);
    else
      sb_putc(b, (char)s[i]);
  }
}

/* Hand over the buffer's string (never NULL) and reset the buffer. */
static char *sb_take(struct sbuf *b) {
  char *s;
  if (!b->p)
    sb_reserve(b, 0), b->p[0] = '\0';
  s = b->p;
  b->p = NULL;
  b->len = b->cap = 0;
  return s;
}

static void sb_free(struct sbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

static unsigned char lc(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int mem_eq_ci(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  size_t i;
  for (i = 0; i < n; i++)
    if (lc(x[i]) != lc(y[i]))
      return 0;
  return 1;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = xrealloc(NULL, n);
  memcpy(p, s, n);
  return p;
}

/* ======================================================================
 * YAML node helpers (every node type is checked before use)
 * ==================================================================== */

static yaml_node_t *ynode(yaml_document_t *d, int idx) {
  return yaml_document_get_node(d, idx);
}

static int is_scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE;
}

static int is_map(const yaml_node_t *n) {
  return n && n->type == YAML_MAPPING_NODE;
}

static int is_seq(const yaml_node_t *n) {
  return n && n->type == YAML_SEQUENCE_NODE;
}

static const unsigned char *sval(const yaml_node_t *n) {
  return n->data.scalar.value;
}

static size_t slen(const yaml_node_t *n) { return n->data.scalar.length; }

/* Scalar equal to the text s (exact bytes). */
static int scalar_is(const yaml_node_t *n, const char *s) {
  size_t l = strlen(s);
  return is_scalar(n) && slen(n) == l && memcmp(sval(n), s, l) == 0;
}

/* A YAML null written as a plain scalar: empty, "~" or "null". */
static int is_null(const yaml_node_t *n) {
  if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return 0;
  return slen(n) == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
         scalar_is(n, "Null") || scalar_is(n, "NULL");
}

/* The scalar as a C string, or NULL when it holds a NUL byte (libyaml
 * always terminates scalar values). */
static const char *scalar_cstr(const yaml_node_t *n) {
  if (!is_scalar(n) || memchr(sval(n), 0, slen(n)) != NULL)
    return NULL;
  return (const char *)sval(n);
}

static unsigned long nline(const yaml_node_t *n) {
  return n ? (unsigned long)n->start_mark.line + 1 : 0;
}

static size_t map_size(const yaml_node_t *m) {
  return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

static size_t seq_size(const yaml_node_t *s) {
  return (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
}

static yaml_node_t *map_key(yaml_document_t *d, const yaml_node_t *m,
                            size_t i) {
  return ynode(d, m->data.mapping.pairs.start[i].key);
}

static yaml_node_t *map_val(yaml_document_t *d, const yaml_node_t *m,
                            size_t i) {
  return ynode(d, m->data.mapping.pairs.start[i].value);
}

static yaml_node_t *seq_item(yaml_document_t *d, const yaml_node_t *s,
                             size_t i) {
  return ynode(d, s->data.sequence.items.start[i]);
}

/* Value for a scalar key; the last one wins, as in a Python dict.
 * *found tells whether the key is present (its value may be NULL only
 * for a corrupt document). */
static yaml_node_t *map_get(yaml_document_t *d, const yaml_node_t *m,
                            const char *key, int *found) {
  yaml_node_t *v = NULL;
  size_t i, n;
  *found = 0;
  if (!is_map(m))
    return NULL;
  n = map_size(m);
  for (i = 0; i < n; i++) {
    if (scalar_is(map_key(d, m, i), key)) {
      v = map_val(d, m, i);
      *found = 1;
    }
  }
  return v;
}

/* ======================================================================
 * Options, files, scenarios
 * ==================================================================== */

enum { MODE_INLINE = 1u, MODE_FIFO = 2u, MODE_LIFO = 4u, MODE_ALL = 7u };

static const struct {
  unsigned bit;
  int delivery;
  const char *name;
} modes_tab[] = {
    {MODE_INLINE, MDSPF_ZONE_INLINE, "inline"},
    {MODE_FIFO, MDSPF_ZONE_DEFERRED_FIFO, "fifo"},
    {MODE_LIFO, MDSPF_ZONE_DEFERRED_LIFO, "lifo"},
};
#define NMODES (sizeof modes_tab / sizeof modes_tab[0])

enum { LA_OFF = 1u, LA_ON = 2u, LA_BOTH = 3u };

/* The runs of a test: delivery mode mi with lookahead off (2 mi) and on
 * (2 mi + 1). */
#define NRUNS (2 * NMODES)
static const char *const run_names[NRUNS] = {
    "inline:off", "inline:on", "fifo:off", "fifo:on", "lifo:off", "lifo:on"};

struct options {
  int verbose;
  unsigned modes;
  unsigned lookahead; /* LA_* */
  const char **only;
  size_t nonly;
};

/* Zone data types of the suite format. */
enum { ET_A, ET_AAAA, ET_MX, ET_PTR, ET_CNAME, ET_TXT, ET_SPF };
static const struct {
  const char *name;
  int rrtype;
} etypes[] = {
    {"A", MDSPF_RR_A},         {"AAAA", MDSPF_RR_AAAA},
    {"MX", MDSPF_RR_MX},       {"PTR", MDSPF_RR_PTR},
    {"CNAME", MDSPF_RR_CNAME}, {"TXT", MDSPF_RR_TXT},
    {"SPF", 99},
};
#define NETYPES (sizeof etypes / sizeof etypes[0])

/* Query types whose timeouts are modelled (the ones SPF asks). */
static const int qtypes[] = {ET_A, ET_AAAA, ET_MX, ET_TXT, ET_PTR};
#define NQTYPES (sizeof qtypes / sizeof qtypes[0])

enum { VK_RECORD, VK_NONE, VK_TIMEOUT };

struct zentry {
  int bare;  /* the bare TIMEOUT entry */
  int loop;  /* "CNAMELOOP: true": a CNAME of the name to itself */
  int type;  /* ET_* */
  int vkind; /* VK_* */
  yaml_node_t *val;
  unsigned long line;
};

struct zname {
  char *name; /* normalised: lower case, no trailing dot */
  unsigned long line;
  int skip; /* superseded by a later key with the same name */
  struct zentry *e;
  size_t n;
};

struct scenario {
  const char *file;
  yaml_document_t *doc;
  yaml_node_t *tests;
  char *desc; /* printable */
  unsigned long line;
  struct zname *names;
  size_t nnames;
  char **nameset; /* sorted normalised names, for the error. rule */
  size_t nnameset;
  char *zone_error; /* zonedata is unusable: every test fails with this */
};

struct suite {
  yaml_document_t **docs;
  size_t ndocs, capdocs;
  struct scenario *scn;
  size_t nscn, capscn;
};

static void zname_free(struct zname *z) {
  free(z->name);
  free(z->e);
}

static void scenario_free(struct scenario *s) {
  size_t i;
  for (i = 0; i < s->nnames; i++)
    zname_free(&s->names[i]);
  free(s->names);
  for (i = 0; i < s->nnameset; i++)
    free(s->nameset[i]);
  free(s->nameset);
  free(s->desc);
  free(s->zone_error);
}

static void suite_free(struct suite *su) {
  size_t i;
  for (i = 0; i < su->nscn; i++)
    scenario_free(&su->scn[i]);
  free(su->scn);
  for (i = 0; i < su->ndocs; i++) {
    yaml_document_delete(su->docs[i]);
    free(su->docs[i]);
  }
  free(su->docs);
}

/* Normalise a zonedata name: lower case, one trailing dot stripped.
 * NULL when it cannot be used as a C string or is empty. */
static char *norm_name(const unsigned char *s, size_t n) {
  char *p;
  size_t i;
  if (memchr(s, 0, n) != NULL)
    return NULL;
  if (n > 0 && s[n - 1] == '.')
    n--;
  if (n == 0)
    return NULL;
  p = xrealloc(NULL, n + 1);
  for (i = 0; i < n; i++)
    p[i] = (char)lc(s[i]);
  p[n] = '\0';
  return p;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parse one zonedata value (TYPE: value). 0 ok, -1 with *err. */
static int parse_value(yaml_document_t *d, struct zentry *e, char **err) {
  struct sbuf b = {0};
  yaml_node_t *v = e->val;
  size_t i;
  if (is_scalar(v) && scalar_is(v, "NONE")) {
    e->vkind = VK_NONE;
    return 0;
  }
  if (is_scalar(v) && scalar_is(v, "TIMEOUT")) {
    e->vkind = VK_TIMEOUT;
    return 0;
  }
  e->vkind = VK_RECORD;
  switch (e->type) {
  case ET_A:
  case ET_AAAA:
  case ET_PTR:
  case ET_CNAME:
    if (!is_scalar(v)) {
      sb_printf(&b, "%s value is not a scalar", etypes[e->type].name);
      goto fail;
    }
    return 0;
  case ET_MX:
    if (!is_seq(v) || seq_size(v) != 2 || !is_scalar(seq_item(d, v, 0)) ||
        !is_scalar(seq_item(d, v, 1))) {
      sb_puts(&b, "MX value is not a sequence [preference, host]");
      goto fail;
    } else {
      yaml_node_t *p = seq_item(d, v, 0);
      unsigned long pref = 0;
      if (slen(p) == 0 || slen(p) > 5)
        goto badpref;
      for (i = 0; i < slen(p); i++) {
        if (sval(p)[i] < '0' || sval(p)[i] > '9')
          goto badpref;
        pref = pref * 10 + (unsigned long)(sval(p)[i] - '0');
      }
      if (pref > 65535)
        goto badpref;
    }
    return 0;
  badpref:
    sb_puts(&b, "MX preference is not a number 0..65535");
    goto fail;
  case ET_TXT:
  case ET_SPF:
    if (is_scalar(v))
      return 0;
    if (is_seq(v)) {
      for (i = 0; i < seq_size(v); i++) {
        if (!is_scalar(seq_item(d, v, i))) {
          sb_printf(&b, "%s string %zu is not a scalar",
                    etypes[e->type].name, i + 1);
          goto fail;
        }
      }
      return 0;
    }
    sb_printf(&b, "%s value is neither a string nor a list of strings",
              etypes[e->type].name);
    goto fail;
  default:
    sb_puts(&b, "internal error: bad type");
    goto fail;
  }
fail:
  *err = sb_take(&b);
  return -1;
}

/* Parse the entry list of one name.  0 ok, -1 with *err. */
static int parse_entries(yaml_document_t *d, struct zname *zn,
                         yaml_node_t *list, char **err) {
  struct sbuf b = {0};
  size_t i, j, k, n, cap = 0;
  int has_txt = 0;

  zn->e = NULL;
  zn->n = 0;
  if (is_null(list))
    return 0;
  if (!is_seq(list)) {
    sb_puts(&b, "entries are not a sequence");
    goto fail;
  }
  n = seq_size(list);
  for (i = 0; i < n; i++) {
    yaml_node_t *it = seq_item(d, list, i);
    if (is_scalar(it)) {
      if (!scalar_is(it, "TIMEOUT")) {
        sb_puts(&b, "entry \"");
        sb_put_esc(&b, sval(it), slen(it));
        sb_printf(&b, "\" (line %lu) is neither TIMEOUT nor TYPE: value",
                  nline(it));
        goto fail;
      }
      if (zn->n == cap) {
        cap = cap ? cap * 2 : 8;
        zn->e = xrealloc(zn->e, cap * sizeof *zn->e);
      }
      memset(&zn->e[zn->n], 0, sizeof zn->e[zn->n]);
      zn->e[zn->n].bare = 1;
      zn->e[zn->n].line = nline(it);
      zn->n++;
      continue;
    }
    if (!is_map(it)) {
      sb_printf(&b, "entry at line %lu is not a TYPE: value mapping",
                nline(it));
      goto fail;
    }
    /* One key normally; several keys are taken in order (as pyspf does). */
    for (j = 0; j < map_size(it); j++) {
      yaml_node_t *key = map_key(d, it, j);
      struct zentry *e;
      if (zn->n == cap) {
        cap = cap ? cap * 2 : 8;
        zn->e = xrealloc(zn->e, cap * sizeof *zn->e);
      }
      e = &zn->e[zn->n];
      memset(e, 0, sizeof *e);
      e->line = nline(key);
      e->type = -1;
      if (is_scalar(key) && (scalar_is(key, "TIMEOUT") ||
                             scalar_is(key, "CNAMELOOP"))) {
        yaml_node_t *v = map_val(d, it, j);
        if (!v || !is_scalar(v) || !scalar_is(v, "true")) {
          sb_printf(&b, "%s at line %lu: only \"true\" is known",
                    scalar_is(key, "TIMEOUT") ? "TIMEOUT" : "CNAMELOOP",
                    e->line);
          goto fail;
        }
        if (scalar_is(key, "TIMEOUT")) {
          e->bare = 1;
        } else {
          e->loop = 1;
          e->vkind = VK_NONE; /* not a listed record: added below */
        }
        zn->n++;
        continue;
      }
      if (is_scalar(key)) {
        for (k = 0; k < NETYPES; k++) {
          size_t l = strlen(etypes[k].name);
          if (slen(key) == l && mem_eq_ci(sval(key), etypes[k].name, l))
            e->type = (int)k;
        }
      }
      if (e->type < 0) {
        if (is_scalar(key)) {
          sb_puts(&b, "unknown record type \"");
          sb_put_esc(&b, sval(key), slen(key));
          sb_printf(&b, "\" (line %lu)", e->line);
        } else {
          sb_printf(&b, "record type at line %lu is not a scalar", e->line);
        }
        goto fail;
      }
      e->val = map_val(d, it, j);
      if (!e->val) {
        sb_printf(&b, "missing value at line %lu", e->line);
        goto fail;
      }
      if (parse_value(d, e, err) < 0) {
        sb_puts(&b, *err);
        sb_printf(&b, " (line %lu)", e->line);
        free(*err);
        goto fail;
      }
      if (e->type == ET_TXT)
        has_txt = 1;
      zn->n++;
    }
  }
  /* SPF entries double as TXT records when no TXT entry is listed; the
   * generated records come after every listed entry. */
  if (!has_txt) {
    size_t listed = zn->n;
    for (i = 0; i < listed; i++) {
      if (zn->e[i].bare || zn->e[i].type != ET_SPF ||
          zn->e[i].vkind == VK_NONE)
        continue;
      if (zn->n == cap) {
        cap = cap ? cap * 2 : 8;
        zn->e = xrealloc(zn->e, cap * sizeof *zn->e);
      }
      zn->e[zn->n] = zn->e[i];
      zn->e[zn->n].type = ET_TXT;
      zn->n++;
    }
  }
  return 0;
fail:
  *err = sb_take(&b);
  free(zn->e);
  zn->e = NULL;
  zn->n = 0;
  return -1;
}

/* Read the zonedata of a scenario.  Structural problems of the mapping
 * itself return -1 (with *err); problems in entries set s->zone_error. */
static int parse_zonedata(struct scenario *s, yaml_node_t *zd, char **err) {
  yaml_document_t *d = s->doc;
  struct sbuf b = {0};
  size_t i, j, n;

  if (!zd || is_null(zd))
    return 0;
  if (!is_map(zd)) {
    sb_printf(&b, "%s:%lu: scenario \"%s\": zonedata is not a mapping",
              s->file, nline(zd), s->desc);
    *err = sb_take(&b);
    return -1;
  }
  n = map_size(zd);
  s->names = xcalloc(n, sizeof *s->names);
  for (i = 0; i < n; i++) {
    yaml_node_t *key = map_key(d, zd, i);
    struct zname *zn;
    char *perr = NULL;
    if (!is_scalar(key)) {
      sb_printf(&b, "%s:%lu: scenario \"%s\": zonedata key is not a scalar",
                s->file, nline(key), s->desc);
      *err = sb_take(&b);
      return -1;
    }
    zn = &s->names[s->nnames];
    zn->line = nline(key);
    zn->name = norm_name(sval(key), slen(key));
    if (!zn->name) {
      sb_printf(&b, "%s:%lu: warning: scenario \"%s\": zonedata name \"",
                s->file, zn->line, s->desc);
      sb_put_esc(&b, sval(key), slen(key));
      sb_puts(&b, "\" is empty or holds a NUL byte; ignored\n");
      fputs(b.p, stderr);
      sb_free(&b);
      continue;
    }
    if (parse_entries(d, zn, map_val(d, zd, i), &perr) < 0) {
      if (!s->zone_error) {
        sb_printf(&b, "%s:%lu: scenario \"%s\": zonedata \"%s\": %s",
                  s->file, zn->line, s->desc, zn->name, perr);
        s->zone_error = sb_take(&b);
      }
      free(perr);
    }
    s->nnames++;
  }
  /* Later keys for the same name replace earlier ones (a Python dict). */
  for (i = 0; i < s->nnames; i++) {
    for (j = i + 1; j < s->nnames; j++) {
      if (strcmp(s->names[i].name, s->names[j].name) == 0) {
        fprintf(stderr,
                "%s:%lu: warning: scenario \"%s\": zonedata \"%s\" given "
                "again at line %lu; the later one is used\n",
                s->file, s->names[i].line, s->desc, s->names[i].name,
                s->names[j].line);
        s->names[i].skip = 1;
        break;
      }
    }
  }
  /* Sorted set of names for the "error." rule. */
  s->nameset = xcalloc(s->nnames, sizeof *s->nameset);
  for (i = 0; i < s->nnames; i++)
    if (!s->names[i].skip)
      s->nameset[s->nnameset++] = xstrdup(s->names[i].name);
  qsort(s->nameset, s->nnameset, sizeof *s->nameset, cmp_str);
  return 0;
}

static char *printable(const yaml_node_t *n, size_t max) {
  struct sbuf b = {0};
  size_t l = slen(n);
  sb_put_esc(&b, sval(n), l > max ? max : l);
  if (l > max)
    sb_puts(&b, "...");
  return sb_take(&b);
}

/* Check one document's skeleton and record it as a scenario.
 * Returns 0 (possibly adding nothing for an empty document) or -1 with
 * *err for a structural error. */
static int add_scenario(struct suite *su, const char *file,
                        yaml_document_t *d, size_t docno, char **err) {
  struct sbuf b = {0};
  yaml_node_t *root = yaml_document_get_root_node(d);
  yaml_node_t *tests, *zd, *desc;
  struct scenario *s;
  int found;
  size_t i;

  if (is_null(root))
    return 0;
  if (!is_map(root)) {
    sb_printf(&b, "%s:%lu: document %zu is not a mapping", file,
              nline(root), docno);
    *err = sb_take(&b);
    return -1;
  }
  if (su->nscn == su->capscn) {
    su->capscn = su->capscn ? su->capscn * 2 : 16;
    su->scn = xrealloc(su->scn, su->capscn * sizeof *su->scn);
  }
  s = &su->scn[su->nscn++];
  memset(s, 0, sizeof *s);
  s->file = file;
  s->doc = d;
  s->line = nline(root);
  desc = map_get(d, root, "description", &found);
  if (is_scalar(desc)) {
    s->desc = printable(desc, 72);
  } else {
    sb_printf(&b, "#%zu", docno);
    s->desc = sb_take(&b);
  }
  tests = map_get(d, root, "tests", &found);
  if (!found || !is_map(tests)) {
    sb_printf(&b, "%s:%lu: scenario \"%s\": %s", file,
              found ? nline(tests) : s->line, s->desc,
              found ? "tests is not a mapping" : "no tests");
    *err = sb_take(&b);
    return -1;
  }
  for (i = 0; i < map_size(tests); i++) {
    yaml_node_t *k = map_key(d, tests, i);
    if (!is_scalar(k) || slen(k) == 0) {
      sb_printf(&b, "%s:%lu: scenario \"%s\": test id is not a scalar",
                file, nline(k), s->desc);
      *err = sb_take(&b);
      return -1;
    }
  }
  s->tests = tests;
  zd = map_get(d, root, "zonedata", &found);
  return parse_zonedata(s, zd, err);
}

static int load_file(struct suite *su, const char *path) {
  yaml_parser_t parser;
  struct stat st;
  FILE *fp;
  size_t docno = 0;
  int rc = 0;

  if (stat(path, &st) != 0) {
    fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (S_ISDIR(st.st_mode)) {
    fprintf(stderr, PROG ": %s: is a directory\n", path);
    return -1;
  }
  fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (!yaml_parser_initialize(&parser)) {
    fclose(fp);
    die_nomem();
  }
  yaml_parser_set_input_file(&parser, fp);
  for (;;) {
    yaml_document_t doc;
    char *err = NULL;
    if (!yaml_parser_load(&parser, &doc)) {
      switch (parser.error) {
      case YAML_MEMORY_ERROR:
        fprintf(stderr, PROG ": %s: out of memory while parsing\n", path);
        break;
      case YAML_READER_ERROR:
        fprintf(stderr, PROG ": %s: %s at byte offset %zu\n", path,
                parser.problem ? parser.problem : "read error",
                parser.problem_offset);
        break;
      default:
        fprintf(stderr, PROG ": %s: %s%s%s at line %lu column %lu\n", path,
                parser.context ? parser.context : "",
                parser.context ? ": " : "",
                parser.problem ? parser.problem : "syntax error",
                (unsigned long)parser.problem_mark.line + 1,
                (unsigned long)parser.problem_mark.column + 1);
        break;
      }
      rc = -1;
      break;
    }
    if (!yaml_document_get_root_node(&doc)) { /* end of stream */
      yaml_document_delete(&doc);
      break;
    }
    if (su->ndocs == su->capdocs) {
      su->capdocs = su->capdocs ? su->capdocs * 2 : 16;
      su->docs = xrealloc(su->docs, su->capdocs * sizeof *su->docs);
    }
    /* Each document on the heap: scenarios keep pointers to it. */
    su->docs[su->ndocs] = xrealloc(NULL, sizeof doc);
    *su->docs[su->ndocs] = doc;
    docno++;
    if (add_scenario(su, path, su->docs[su->ndocs++], docno, &err) < 0) {
      fprintf(stderr, PROG ": %s\n", err);
      free(err);
      rc = -1;
      break;
    }
  }
  yaml_parser_delete(&parser);
  if (ferror(fp) && rc == 0) {
    fprintf(stderr, PROG ": %s: read error\n", path);
    rc = -1;
  }
  fclose(fp);
  return rc;
}

/* ======================================================================
 * Building the zone of a scenario
 * ==================================================================== */

static void zone_warn(const struct scenario *s, const struct zname *zn,
                      const struct zentry *e, const char *what, int rc) {
  fprintf(stderr,
          "%s:%lu: warning: scenario \"%s\": zonedata \"%s\": %s%s%s; "
          "skipped\n",
          s->file, e ? e->line : zn->line, s->desc, zn->name, what,
          rc ? ": " : "", rc ? mdspf_strerror(rc) : "");
}

static void zone_status(int rc) {
  if (rc == MDSPF_E_NOMEM)
    die_nomem();
}

/* Does a query of type qt (ET_*) time out for this name? */
static int times_out(const struct zname *zn, int qt) {
  size_t i;
  int seen = 0;
  for (i = 0; i < zn->n; i++) {
    const struct zentry *e = &zn->e[i];
    if (e->bare)
      return !seen; /* times out, or ends the list */
    if (e->type != qt)
      continue;
    if (e->vkind == VK_TIMEOUT)
      return 1;
    if (e->vkind == VK_RECORD)
      seen = 1;
  }
  return 0;
}

static void add_record(mdspf_zone *z, const struct scenario *s,
                       const struct zname *zn, const struct zentry *e,
                       int quiet) {
  yaml_document_t *d = s->doc;
  struct sbuf b = {0};
  int rc, rrtype = etypes[e->type].rrtype;

  if (e->type == ET_TXT) {
    const char **strs;
    size_t *lens, n, i;
    if (is_scalar(e->val)) {
      n = 1;
      strs = xcalloc(1, sizeof *strs);
      lens = xcalloc(1, sizeof *lens);
      strs[0] = (const char *)sval(e->val);
      lens[0] = slen(e->val);
    } else {
      n = seq_size(e->val);
      strs = xcalloc(n, sizeof *strs);
      lens = xcalloc(n, sizeof *lens);
      for (i = 0; i < n; i++) {
        yaml_node_t *it = seq_item(d, e->val, i);
        strs[i] = (const char *)sval(it);
        lens[i] = slen(it);
      }
    }
    rc = mdspf_zone_add_txt(z, zn->name, strs, lens, n);
    free(strs);
    free(lens);
    zone_status(rc);
    if (rc != MDSPF_OK && !quiet)
      zone_warn(s, zn, e, "TXT record rejected", rc);
    return;
  }

  if (e->type == ET_MX) {
    yaml_node_t *pref = seq_item(d, e->val, 0);
    yaml_node_t *host = seq_item(d, e->val, 1);
    sb_put(&b, sval(pref), slen(pref));
    sb_putc(&b, ' ');
    if (slen(host) == 0)
      sb_putc(&b, '.'); /* null MX: the root */
    else
      sb_put(&b, sval(host), slen(host));
    if (memchr(sval(host), 0, slen(host)) != NULL) {
      if (!quiet)
        zone_warn(s, zn, e, "MX host holds a NUL byte", 0);
      sb_free(&b);
      return;
    }
  } else {
    const char *v = scalar_cstr(e->val);
    if (!v) {
      if (!quiet) {
        sb_printf(&b, "%s value holds a NUL byte", etypes[e->type].name);
        zone_warn(s, zn, e, b.p, 0);
        sb_free(&b);
      }
      return;
    }
    sb_puts(&b, v);
  }
  rc = mdspf_zone_add(z, zn->name, rrtype, b.p);
  zone_status(rc);
  if (rc != MDSPF_OK && !quiet) {
    struct sbuf w = {0};
    sb_printf(&w, "%s record \"", etypes[e->type].name);
    sb_put_esc(&w, b.p, b.len);
    sb_puts(&w, "\" rejected");
    zone_warn(s, zn, e, w.p, rc);
    sb_free(&w);
  }
  sb_free(&b);
}

/* Build a fresh zone for the scenario (warnings only when !quiet). */
static mdspf_zone *build_zone(const struct scenario *s, int quiet) {
  mdspf_zone *z = NULL;
  size_t i, j, q;
  int rc;

  rc = mdspf_zone_new(NULL, NULL, &z);
  if (rc != MDSPF_OK || !z) {
    fprintf(stderr, PROG ": mdspf_zone_new: %s\n", mdspf_strerror(rc));
    exit(2);
  }
  mdspf_zone_set_flags(z, MDSPF_ZONE_LAX);
  for (i = 0; i < s->nnames; i++) {
    const struct zname *zn = &s->names[i];
    int tmo[NQTYPES], all = 1;
    if (zn->skip)
      continue;
    for (q = 0; q < NQTYPES; q++) {
      tmo[q] = times_out(zn, qtypes[q]);
      all = all && tmo[q];
    }
    if (all) {
      rc = mdspf_zone_set_fault(z, zn->name, 0, MDSPF_ZONE_TIMEOUT);
      zone_status(rc);
      if (rc != MDSPF_OK && !quiet)
        zone_warn(s, zn, NULL, "cannot make the name time out", rc);
    } else {
      for (q = 0; q < NQTYPES; q++) {
        if (!tmo[q])
          continue;
        rc = mdspf_zone_set_fault(z, zn->name, etypes[qtypes[q]].rrtype,
                                  MDSPF_ZONE_TIMEOUT);
        zone_status(rc);
        if (rc != MDSPF_OK && !quiet)
          zone_warn(s, zn, NULL, "cannot make a type time out", rc);
      }
    }
    /* Records listed before a bare TIMEOUT; types that time out get
     * none (the fault would win anyway).  SPF entries are never served
     * as such, only through their generated TXT copies. */
    for (j = 0; j < zn->n; j++) {
      const struct zentry *e = &zn->e[j];
      int skip = 0;
      if (e->bare)
        break;
      if (e->loop) {
        char target[300];
        snprintf(target, sizeof target, "%s.", zn->name);
        rc = mdspf_zone_add(z, zn->name, MDSPF_RR_CNAME, target);
        zone_status(rc);
        if (rc != MDSPF_OK && !quiet)
          zone_warn(s, zn, e, "cannot add the CNAME loop", rc);
        continue;
      }
      if (e->vkind != VK_RECORD || e->type == ET_SPF)
        continue;
      for (q = 0; q < NQTYPES; q++)
        if (qtypes[q] == e->type && tmo[q])
          skip = 1;
      if (!skip)
        add_record(z, s, zn, e, quiet);
    }
  }
  return z;
}

/* ======================================================================
 * Wrapper resolver: names under "error." that the zone lacks time out
 * ==================================================================== */

struct wrap {
  mdspf_zone *zone;
  const mdspf_resolver *inner;
  char *const *names; /* sorted, normalised zonedata names */
  size_t nnames;
};

static int wrap_known(const struct wrap *w, const char *name) {
  char buf[256];
  const char *key = buf;
  size_t n = strlen(name), i;
  if (n > 0 && name[n - 1] == '.')
    n--;
  if (n >= sizeof buf)
    return 0;
  for (i = 0; i < n; i++)
    buf[i] = (char)lc((unsigned char)name[i]);
  buf[n] = '\0';
  return w->nnames &&
         bsearch(&key, w->names, w->nnames, sizeof *w->names, cmp_str);
}

static int wrap_query(void *impl, mdspf_dns_query *q, const char *name,
                      int rrtype, void **token) {
  struct wrap *w = impl;
  if (name && strlen(name) >= 6 && mem_eq_ci(name, "error.", 6) &&
      !mdspf_zone_has_name(w->zone, name) && !wrap_known(w, name)) {
    if (mdspf_zone_set_fault(w->zone, name, 0, MDSPF_ZONE_TIMEOUT) !=
        MDSPF_OK)
      return -1; /* the library turns this into a temperror as well */
  }
  return w->inner->query(w->inner->impl, q, name, rrtype, token);
}

static void wrap_cancel(void *impl, void *token) {
  struct wrap *w = impl;
  if (w->inner->cancel)
    w->inner->cancel(w->inner->impl, token);
}

static int wrap_wait(void *impl, int timeout_ms) {
  struct wrap *w = impl;
  if (!w->inner->wait)
    return MDSPF_E_NOTSUP;
  return w->inner->wait(w->inner->impl, timeout_ms);
}

/* ======================================================================
 * Running tests
 * ==================================================================== */

static const struct {
  const char *name;
  int result;
} result_names[] = {
    {"none", MDSPF_NONE},         {"neutral", MDSPF_NEUTRAL},
    {"pass", MDSPF_PASS},         {"fail", MDSPF_FAIL},
    {"softfail", MDSPF_SOFTFAIL}, {"temperror", MDSPF_TEMPERROR},
    {"permerror", MDSPF_PERMERROR},
    /* RFC 4408 era names, mapped like the reference driver does */
    {"unknown", MDSPF_PERMERROR}, {"error", MDSPF_TEMPERROR},
};

static int parse_result(const yaml_node_t *n) {
  size_t i, l;
  if (!is_scalar(n))
    return -1;
  for (i = 0; i < sizeof result_names / sizeof result_names[0]; i++) {
    l = strlen(result_names[i].name);
    if (slen(n) == l && mem_eq_ci(sval(n), result_names[i].name, l))
      return result_names[i].result;
  }
  return -1;
}

struct test_in {
  const yaml_node_t *id;
  const char *helo, *host, *mailfrom;
  int *want; /* acceptable results, preferred first */
  size_t nwant;
  char *want_text; /* "r1|r2" (printable) */
  const yaml_node_t *explanation; /* NULL: not checked */
};

static void test_in_free(struct test_in *t) {
  free(t->want);
  free(t->want_text);
}

/* Read a test's fields.  0 ok, -1 with *err. */
static int get_test(const struct scenario *s, const yaml_node_t *id,
                    const yaml_node_t *tn, struct test_in *t, char **err) {
  yaml_document_t *d = s->doc;
  static const char *const strkeys[] = {"helo", "host", "mailfrom"};
  const char **dst[3];
  struct sbuf b = {0}, wt = {0};
  yaml_node_t *res, *v;
  size_t i, n;
  int found;

  memset(t, 0, sizeof *t);
  t->id = id;
  dst[0] = &t->helo;
  dst[1] = &t->host;
  dst[2] = &t->mailfrom;
  if (!is_map(tn)) {
    sb_printf(&b, "%s:%lu: test is not a mapping", s->file, nline(tn));
    goto fail;
  }
  for (i = 0; i < 3; i++) {
    v = map_get(d, tn, strkeys[i], &found);
    if (!found) {
      sb_printf(&b, "%s:%lu: test has no %s", s->file, nline(tn),
                strkeys[i]);
      goto fail;
    }
    if (!is_scalar(v)) {
      sb_printf(&b, "%s:%lu: %s is not a scalar", s->file, nline(v),
                strkeys[i]);
      goto fail;
    }
    *dst[i] = scalar_cstr(v);
    if (!*dst[i]) {
      sb_printf(&b, "%s:%lu: %s holds a NUL byte", s->file, nline(v),
                strkeys[i]);
      goto fail;
    }
  }
  res = map_get(d, tn, "result", &found);
  if (!found) {
    sb_printf(&b, "%s:%lu: test has no result", s->file, nline(tn));
    goto fail;
  }
  if (is_scalar(res)) {
    n = 1;
  } else if (is_seq(res) && seq_size(res) > 0) {
    n = seq_size(res);
  } else {
    sb_printf(&b,
              "%s:%lu: result is neither a result name nor a non-empty "
              "list of result names",
              s->file, nline(res));
    goto fail;
  }
  t->want = xcalloc(n, sizeof *t->want);
  for (i = 0; i < n; i++) {
    v = is_scalar(res) ? res : seq_item(d, res, i);
    if (!is_scalar(v)) {
      sb_printf(&b, "%s:%lu: result list item is not a scalar", s->file,
                nline(v));
      goto fail;
    }
    t->want[i] = parse_result(v);
    if (t->want[i] < 0) {
      sb_printf(&b, "%s:%lu: \"", s->file, nline(v));
      sb_put_esc(&b, sval(v), slen(v));
      sb_puts(&b, "\" is not an SPF result");
      goto fail;
    }
    if (i)
      sb_putc(&wt, '|');
    sb_put_esc(&wt, sval(v), slen(v));
  }
  t->nwant = n;
  t->want_text = sb_take(&wt);
  v = map_get(d, tn, "explanation", &found);
  if (found) {
    if (!is_scalar(v)) {
      sb_printf(&b, "%s:%lu: explanation is not a scalar", s->file,
                nline(v));
      goto fail;
    }
    t->explanation = v;
  }
  return 0;
fail:
  sb_free(&wt);
  test_in_free(t);
  memset(t, 0, sizeof *t);
  *err = sb_take(&b);
  return -1;
}

struct trace {
  struct sbuf b;
  int truncated;
};

static void trace_hook(void *ud, const mdspf_event *ev) {
  struct trace *tr = ud;
  char small[512];
  size_t need = 0;
  int rc;

  if (tr->b.len >= TRACE_MAX_BYTES) {
    tr->truncated = 1;
    return;
  }
  rc = mdspf_event_format(ev, small, sizeof small, &need);
  if (rc == MDSPF_OK) {
    sb_put(&tr->b, small, strnlen(small, sizeof small));
  } else if (rc == MDSPF_E_BUFFER && need < TRACE_MAX_BYTES) {
    char *big = xrealloc(NULL, need + 1);
    if (mdspf_event_format(ev, big, need + 1, NULL) == MDSPF_OK)
      sb_put(&tr->b, big, strnlen(big, need + 1));
    else
      sb_puts(&tr->b, "(event could not be formatted)");
    free(big);
  } else {
    sb_printf(&tr->b, "(event could not be formatted: %s)",
              mdspf_strerror(rc));
  }
  sb_putc(&tr->b, '\n');
}

struct runner {
  const struct options *opt;
  struct scenario *scn;
  mdspf_zone *zone;
  struct wrap wrap;
  mdspf_resolver vt;
};

static void runner_set_zone(struct runner *r, mdspf_zone *z) {
  r->zone = z;
  r->wrap.zone = z;
  r->wrap.inner = mdspf_zone_resolver(z);
  r->vt.version = MDSPF_RESOLVER_V1;
  r->vt.impl = &r->wrap;
  r->vt.query = wrap_query;
  r->vt.cancel = wrap_cancel;
  r->vt.wait = r->wrap.inner && r->wrap.inner->wait ? wrap_wait : NULL;
}

/* Printable copy of a string the library returned (NULL -> "-"). */
static void sb_put_lib(struct sbuf *b, const char *s) {
  if (s)
    sb_put_esc(b, s, strlen(s));
  else
    sb_putc(b, '-');
}

/* Everything a run's check reports, for comparing lookahead on and
 * off. */
struct outcome {
  int done;
  int result, reason, source;
  char *problem, *explanation, *mechanism, *domain, *record;
  size_t record_len;
  unsigned terms, voids, queries, prefetched, wasted;
  char *trace;
};

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static void outcome_free(struct outcome *o) {
  free(o->problem);
  free(o->explanation);
  free(o->mechanism);
  free(o->domain);
  free(o->record);
  free(o->trace);
  memset(o, 0, sizeof *o);
}

static void outcome_take(struct outcome *o, const mdspf_check *chk,
                         struct trace *tr) {
  const char *rec;
  o->done = 1;
  o->result = mdspf_check_result(chk);
  o->reason = mdspf_check_reason(chk);
  o->source = mdspf_check_source(chk);
  o->problem = dup_or_null(mdspf_check_problem(chk));
  o->explanation = dup_or_null(mdspf_check_explanation(chk));
  o->mechanism = dup_or_null(mdspf_check_mechanism(chk));
  o->domain = dup_or_null(mdspf_check_domain(chk));
  rec = mdspf_check_record(chk, &o->record_len);
  if (rec) {
    o->record = xrealloc(NULL, o->record_len + 1);
    memcpy(o->record, rec, o->record_len + 1);
  }
  o->terms = mdspf_check_dns_terms(chk);
  o->voids = mdspf_check_void_lookups(chk);
  o->queries = mdspf_check_queries(chk);
  o->prefetched = mdspf_check_prefetched(chk);
  o->wasted = mdspf_check_wasted(chk);
  o->trace = sb_take(&tr->b);
}

static int str_same(const char *a, const char *b) {
  return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

/* NULL when lookahead off (a) and on (b) agree, else a malloc'd message
 * naming the first difference. */
static char *outcome_diff(const struct outcome *a, const struct outcome *b) {
  struct sbuf m = {0};
  const char *what = NULL;
  if (!a->done || !b->done)
    return NULL; /* the run itself failed: reported as such */
  if (a->result != b->result || a->reason != b->reason)
    what = "result or reason";
  else if (a->source != b->source)
    what = "source";
  else if (!str_same(a->problem, b->problem))
    what = "problem";
  else if (!str_same(a->explanation, b->explanation))
    what = "explanation";
  else if (!str_same(a->mechanism, b->mechanism))
    what = "matched term";
  else if (!str_same(a->domain, b->domain))
    what = "domain";
  else if (a->record_len != b->record_len || !str_same(a->record, b->record))
    what = "record";
  else if (a->terms != b->terms || a->voids != b->voids)
    what = "DNS-term or void-lookup count";
  else if (a->queries != b->queries)
    what = "query count";
  else if (!str_same(a->trace, b->trace))
    what = "trace";
  if (!what)
    return NULL;
  sb_printf(&m,
            "lookahead changes the %s (off: %s/%s, terms %u, voids %u, "
            "queries %u; on: %s/%s, terms %u, voids %u, queries %u)",
            what, mdspf_result_str(a->result), mdspf_strerror(a->reason),
            a->terms, a->voids, a->queries, mdspf_result_str(b->result),
            mdspf_strerror(b->reason), b->terms, b->voids, b->queries);
  return sb_take(&m);
}

/* Run a test in one delivery mode with lookahead off (la 0) or on (1).
 * Returns NULL when it passed, else a malloc'd message; *details gets
 * the -v details of a failure, *note a "not the preferred result" note,
 * *out the outcome. */
static char *run_mode(struct runner *r, const struct test_in *t, size_t mi,
                      int la, char **details, char **note,
                      struct outcome *out) {
  const char *mode = run_names[2 * mi + (size_t)la];
  mdspf_ctx *ctx = NULL;
  mdspf_check *chk = NULL;
  struct trace tr = {{0}, 0};
  struct sbuf msg = {0};
  unsigned long zq = 0;
  int rc, got = -1;
  size_t i, pend;

  *details = NULL;
  *note = NULL;
  rc = mdspf_zone_set_delivery(r->zone, modes_tab[mi].delivery);
  if (rc != MDSPF_OK) {
    sb_printf(&msg, "mdspf_zone_set_delivery: %s", mdspf_strerror(rc));
    goto out;
  }
  rc = mdspf_ctx_new(NULL, NULL, &ctx);
  if (rc == MDSPF_E_NOMEM)
    die_nomem();
  if (rc != MDSPF_OK) {
    sb_printf(&msg, "mdspf_ctx_new: %s", mdspf_strerror(rc));
    goto out;
  }
  if ((rc = mdspf_ctx_set_resolver(ctx, &r->vt)) != MDSPF_OK) {
    sb_printf(&msg, "mdspf_ctx_set_resolver: %s", mdspf_strerror(rc));
    goto out;
  }
  rc = mdspf_ctx_set_default_explanation(ctx, "DEFAULT");
  if (rc != MDSPF_OK) {
    sb_printf(&msg, "mdspf_ctx_set_default_explanation: %s",
              mdspf_strerror(rc));
    goto out;
  }
  /* the trace is part of the outcome compared between the runs */
  if ((rc = mdspf_ctx_set_trace(ctx, trace_hook, &tr)) != MDSPF_OK) {
    sb_printf(&msg, "mdspf_ctx_set_trace: %s", mdspf_strerror(rc));
    goto out;
  }
  if (!la && (rc = mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, 0)) !=
                 MDSPF_OK) {
    sb_printf(&msg, "mdspf_ctx_set_limit: %s", mdspf_strerror(rc));
    goto out;
  }
  if (la && mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_LOOKAHEAD) <= 0) {
    sb_puts(&msg, "lookahead is not on by default");
    goto out;
  }
  rc = mdspf_check_new(ctx, &chk);
  if (rc == MDSPF_E_NOMEM)
    die_nomem();
  if (rc != MDSPF_OK) {
    sb_printf(&msg, "mdspf_check_new: %s", mdspf_strerror(rc));
    goto out;
  }
  if ((rc = mdspf_check_set_ip(chk, t->host)) != MDSPF_OK) {
    sb_puts(&msg, "host \"");
    sb_put_esc(&msg, t->host, strlen(t->host));
    sb_printf(&msg, "\" rejected by mdspf_check_set_ip: %s",
              mdspf_strerror(rc));
    goto out;
  }
  if ((rc = mdspf_check_set_sender(chk, t->mailfrom)) != MDSPF_OK) {
    sb_puts(&msg, "mailfrom \"");
    sb_put_esc(&msg, t->mailfrom, strlen(t->mailfrom));
    sb_printf(&msg, "\" rejected by mdspf_check_set_sender: %s",
              mdspf_strerror(rc));
    goto out;
  }
  if ((rc = mdspf_check_set_helo(chk, t->helo)) != MDSPF_OK) {
    sb_puts(&msg, "helo \"");
    sb_put_esc(&msg, t->helo, strlen(t->helo));
    sb_printf(&msg, "\" rejected by mdspf_check_set_helo: %s",
              mdspf_strerror(rc));
    goto out;
  }
  zq = mdspf_zone_queries(r->zone);
  rc = mdspf_check_run(chk, 0);
  if (rc != MDSPF_OK) {
    sb_printf(&msg, "mdspf_check_run: %s", mdspf_strerror(rc));
    goto out;
  }
  zq = mdspf_zone_queries(r->zone) - zq;
  if (zq != (unsigned long)mdspf_check_queries(chk) +
                mdspf_check_wasted(chk) ||
      (!la && mdspf_check_prefetched(chk) != 0) ||
      mdspf_check_wasted(chk) > mdspf_check_prefetched(chk)) {
    sb_printf(&msg,
              "the zone received %lu queries, the check counts %u asked, "
              "%u looked up ahead, %u of them wasted",
              zq, mdspf_check_queries(chk), mdspf_check_prefetched(chk),
              mdspf_check_wasted(chk));
    goto out;
  }
  got = mdspf_check_result(chk);
  for (i = 0; i < t->nwant; i++)
    if (t->want[i] == got)
      break;
  if (i == t->nwant) {
    sb_printf(&msg, "expected %s, got %s", t->want_text,
              mdspf_result_str(got));
  } else if (i > 0) {
    struct sbuf nb = {0};
    sb_puts(&nb, mdspf_result_str(t->want[0]));
    sb_printf(&nb, " preferred, got %s", mdspf_result_str(got));
    *note = sb_take(&nb);
  }
  if (t->explanation) {
    const char *x = mdspf_check_explanation(chk);
    size_t xl = x ? strlen(x) : 0;
    if (xl != slen(t->explanation) ||
        (xl && memcmp(x, sval(t->explanation), xl) != 0)) {
      if (msg.len)
        sb_puts(&msg, "; ");
      sb_puts(&msg, "explanation expected \"");
      sb_put_esc(&msg, sval(t->explanation), slen(t->explanation));
      sb_puts(&msg, "\", got \"");
      sb_put_esc(&msg, x ? x : "", xl);
      sb_putc(&msg, '"');
    }
  }
out:
  if (msg.len && r->opt->verbose) {
    struct sbuf db = {0};
    if (chk && mdspf_check_done(chk)) {
      sb_printf(&db, "  [%s] result %s, reason %s\n", mode,
                mdspf_result_str(mdspf_check_result(chk)),
                mdspf_strerror(mdspf_check_reason(chk)));
      sb_printf(&db, "  [%s] problem: ", mode);
      sb_put_lib(&db, mdspf_check_problem(chk));
      sb_printf(&db, "\n  [%s] domain: ", mode);
      sb_put_lib(&db, mdspf_check_domain(chk));
      sb_puts(&db, ", mechanism: ");
      sb_put_lib(&db, mdspf_check_mechanism(chk));
      sb_puts(&db, ", explanation: ");
      sb_put_lib(&db, mdspf_check_explanation(chk));
      sb_printf(&db, "\n  [%s] dns terms %u, void lookups %u, queries %u\n",
                mode, mdspf_check_dns_terms(chk),
                mdspf_check_void_lookups(chk), mdspf_check_queries(chk));
    }
    if (tr.b.len) {
      const char *p = tr.b.p, *end = tr.b.p + tr.b.len;
      sb_printf(&db, "  [%s] trace:\n", mode);
      while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        sb_puts(&db, "    ");
        sb_put_esc(&db, p, l);
        sb_putc(&db, '\n');
        p += l + 1;
      }
      if (tr.truncated)
        sb_puts(&db, "    (trace truncated)\n");
    }
    if (db.len)
      *details = sb_take(&db);
  }
  if (chk && mdspf_check_done(chk))
    outcome_take(out, chk, &tr);
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  sb_free(&tr.b);
  pend = mdspf_zone_pending(r->zone);
  if (pend > 0) {
    /* Answers left for freed queries: never reuse such a zone. */
    fprintf(stderr,
            PROG ": warning: %zu deferred answers still queued after the "
                 "check was freed [%s]; rebuilding the zone\n",
            pend, mode);
    mdspf_zone_free(r->zone);
    runner_set_zone(r, build_zone(r->scn, 1));
  }
  return msg.len ? sb_take(&msg) : (sb_free(&msg), (char *)NULL);
}

static int only_selected(const struct options *opt, const yaml_node_t *id) {
  size_t i;
  if (!opt->nonly)
    return 1;
  for (i = 0; i < opt->nonly; i++)
    if (scalar_is(id, opt->only[i]))
      return 1;
  return 0;
}

struct totals {
  unsigned long passed, failed;
};

static void report_fail(const yaml_node_t *id, const char *msg) {
  struct sbuf b = {0};
  sb_puts(&b, "FAIL ");
  sb_put_esc(&b, sval(id), slen(id));
  sb_printf(&b, ": %s\n", msg);
  fputs(b.p, stdout);
  sb_free(&b);
}

/* The trace of an outcome, indented, for -v. */
static void put_trace(struct sbuf *b, const char *name, const char *trace) {
  const char *p = trace ? trace : "", *end = p + strlen(p);
  sb_printf(b, "  [%s] trace:\n", name);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
    sb_puts(b, "    ");
    sb_put_esc(b, p, l);
    sb_putc(b, '\n');
    p += l + 1;
  }
}

static void run_test(struct runner *r, const yaml_node_t *id,
                     const yaml_node_t *tn, struct totals *tot) {
  const struct options *opt = r->opt;
  struct scenario *s = r->scn;
  struct test_in t;
  char *msg[NRUNS] = {0}, *det[NRUNS] = {0}, *note[NRUNS] = {0};
  struct outcome out[NRUNS];
  char *err = NULL;
  struct sbuf line = {0};
  size_t i, j, k;
  int failed = 0;

  memset(out, 0, sizeof out);
  if (get_test(s, id, tn, &t, &err) < 0) {
    struct sbuf m = {0};
    sb_printf(&m, "%s (scenario \"%s\")", err, s->desc);
    report_fail(id, m.p);
    sb_free(&m);
    free(err);
    tot->failed++;
    fflush(stdout);
    return;
  }
  for (k = 0; k < NRUNS; k++) {
    i = k / 2;
    if (!(opt->modes & modes_tab[i].bit) ||
        !(opt->lookahead & (k % 2 ? LA_ON : LA_OFF)))
      continue;
    msg[k] = run_mode(r, &t, i, (int)(k % 2), &det[k], &note[k], &out[k]);
    if (msg[k])
      failed = 1;
  }
  /* lookahead on must give exactly what off gives, per delivery mode */
  for (i = 0; i < NMODES; i++) {
    char *diff = outcome_diff(&out[2 * i], &out[2 * i + 1]);
    if (!diff)
      continue;
    failed = 1;
    if (msg[2 * i + 1]) {
      struct sbuf m = {0};
      sb_printf(&m, "%s; %s", msg[2 * i + 1], diff);
      free(msg[2 * i + 1]);
      free(diff);
      msg[2 * i + 1] = sb_take(&m);
    } else {
      msg[2 * i + 1] = diff;
    }
    if (opt->verbose) {
      struct sbuf d = {0};
      if (det[2 * i + 1])
        sb_puts(&d, det[2 * i + 1]);
      put_trace(&d, run_names[2 * i], out[2 * i].trace);
      put_trace(&d, run_names[2 * i + 1], out[2 * i + 1].trace);
      free(det[2 * i + 1]);
      det[2 * i + 1] = sb_take(&d);
    }
  }
  if (!failed) {
    sb_puts(&line, "ok ");
    sb_put_esc(&line, sval(id), slen(id));
    sb_putc(&line, '\n');
    tot->passed++;
  } else {
    /* One line: identical messages grouped with the runs showing them. */
    int first = 1;
    sb_puts(&line, "FAIL ");
    sb_put_esc(&line, sval(id), slen(id));
    sb_puts(&line, ": ");
    for (i = 0; i < NRUNS; i++) {
      int dup = 0;
      if (!msg[i])
        continue;
      for (j = 0; j < i; j++)
        if (msg[j] && strcmp(msg[j], msg[i]) == 0)
          dup = 1;
      if (dup)
        continue;
      if (!first)
        sb_puts(&line, "; ");
      first = 0;
      sb_printf(&line, "%s [%s", msg[i], run_names[i]);
      for (j = i + 1; j < NRUNS; j++)
        if (msg[j] && strcmp(msg[j], msg[i]) == 0)
          sb_printf(&line, ",%s", run_names[j]);
      sb_putc(&line, ']');
    }
    sb_putc(&line, '\n');
    tot->failed++;
  }
  if (opt->verbose) {
    if (failed)
      sb_printf(&line, "  in %s, scenario \"%s\" (line %lu)\n", s->file,
                s->desc, nline(id));
    for (i = 0; i < NRUNS; i++) {
      int dup = 0;
      for (j = 0; j < i && note[i]; j++)
        if (note[j] && strcmp(note[j], note[i]) == 0)
          dup = 1;
      if (note[i] && !dup) {
        sb_printf(&line, "  note: %s [%s", note[i], run_names[i]);
        for (j = i + 1; j < NRUNS; j++)
          if (note[j] && strcmp(note[j], note[i]) == 0)
            sb_printf(&line, ",%s", run_names[j]);
        sb_puts(&line, "]\n");
      }
      dup = 0;
      if (!det[i])
        continue;
      for (j = 0; j < i; j++)
        if (msg[j] && msg[i] && strcmp(msg[j], msg[i]) == 0)
          dup = 1;
      if (!dup)
        sb_puts(&line, det[i]);
    }
  }
  fputs(line.p, stdout);
  fflush(stdout);
  sb_free(&line);
  for (i = 0; i < NRUNS; i++) {
    free(msg[i]);
    free(det[i]);
    free(note[i]);
    outcome_free(&out[i]);
  }
  test_in_free(&t);
}

static void run_scenario(const struct options *opt, struct scenario *s,
                         struct totals *tot) {
  yaml_document_t *d = s->doc;
  struct runner r;
  size_t i, n = map_size(s->tests), nsel = 0;

  for (i = 0; i < n; i++)
    if (only_selected(opt, map_key(d, s->tests, i)))
      nsel++;
  if (!nsel)
    return;
  if (s->zone_error) {
    fprintf(stderr, PROG ": %s\n", s->zone_error);
    for (i = 0; i < n; i++) {
      yaml_node_t *id = map_key(d, s->tests, i);
      struct sbuf m = {0};
      if (!only_selected(opt, id))
        continue;
      sb_printf(&m, "bad zonedata: %s", s->zone_error);
      report_fail(id, m.p);
      sb_free(&m);
      tot->failed++;
    }
    fflush(stdout);
    return;
  }
  memset(&r, 0, sizeof r);
  r.opt = opt;
  r.scn = s;
  r.wrap.names = s->nameset;
  r.wrap.nnames = s->nnameset;
  runner_set_zone(&r, build_zone(s, 0));
  for (i = 0; i < n; i++) {
    yaml_node_t *id = map_key(d, s->tests, i);
    if (only_selected(opt, id))
      run_test(&r, id, map_val(d, s->tests, i), tot);
  }
  mdspf_zone_free(r.zone);
}

/* ======================================================================
 * main
 * ==================================================================== */

static void usage(FILE *fp) {
  fputs("usage: " PROG " [-v] [--mode inline|fifo|lifo|all] "
        "[--lookahead on|off|both] [--only ID]... FILE.yml...\n"
        "Run openspf YAML test suites against libmaildrop-spf.\n"
        "  -v, --verbose  on failure show problem, domain, mechanism, trace\n"
        "  --mode M       zone delivery: inline, fifo, lifo or all "
        "(default all)\n"
        "  --lookahead L  on, off or both (default both: the outcomes of\n"
        "                 the two must agree in every delivery mode)\n"
        "  --only ID      run only the test(s) named ID (repeatable)\n"
        "  --help         show this help\n"
        "  --version      show the library version\n"
        "Exit status: 0 all passed, 1 a test failed, 2 usage or file "
        "error.\n",
        fp);
}

static int parse_mode(const char *m, unsigned *modes) {
  size_t i;
  if (strcmp(m, "all") == 0) {
    *modes |= MODE_ALL;
    return 0;
  }
  for (i = 0; i < NMODES; i++) {
    if (strcmp(m, modes_tab[i].name) == 0) {
      *modes |= modes_tab[i].bit;
      return 0;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  struct options opt;
  struct suite su;
  struct totals tot = {0, 0};
  const char **files;
  size_t nfiles = 0, i, j, k;
  int a, status = 0, opts_done = 0;

  memset(&opt, 0, sizeof opt);
  memset(&su, 0, sizeof su);
  files = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *files);
  opt.only = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *opt.only);
  for (a = 1; a < argc; a++) {
    const char *arg = argv[a], *val = NULL;
    if (opts_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
      files[nfiles++] = arg;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      opts_done = 1;
    } else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
      opt.verbose++;
    } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      usage(stdout);
      status = 0;
      goto done;
    } else if (strcmp(arg, "--version") == 0) {
      printf("%s\n", mdspf_version_str());
      status = 0;
      goto done;
    } else if (strcmp(arg, "--lookahead") == 0 ||
               strncmp(arg, "--lookahead=", 12) == 0) {
      if (arg[11] == '=') {
        val = arg + 12;
      } else if (a + 1 < argc) {
        val = argv[++a];
      } else {
        fprintf(stderr, PROG ": %s needs an argument\n", arg);
        usage(stderr);
        status = 2;
        goto done;
      }
      if (strcmp(val, "on") == 0) {
        opt.lookahead |= LA_ON;
      } else if (strcmp(val, "off") == 0) {
        opt.lookahead |= LA_OFF;
      } else if (strcmp(val, "both") == 0) {
        opt.lookahead |= LA_BOTH;
      } else {
        fprintf(stderr, PROG ": unknown lookahead \"%s\" (on, off, both)\n",
                val);
        status = 2;
        goto done;
      }
    } else if (strcmp(arg, "--mode") == 0 || strncmp(arg, "--mode=", 7) == 0 ||
               strcmp(arg, "--only") == 0 || strncmp(arg, "--only=", 7) == 0) {
      int is_mode = strncmp(arg, "--mode", 6) == 0;
      if (arg[6] == '=') {
        val = arg + 7;
      } else if (a + 1 < argc) {
        val = argv[++a];
      } else {
        fprintf(stderr, PROG ": %s needs an argument\n", arg);
        usage(stderr);
        status = 2;
        goto done;
      }
      if (is_mode) {
        if (parse_mode(val, &opt.modes) < 0) {
          fprintf(stderr, PROG ": unknown mode \"%s\" (inline, fifo, lifo, all)\n",
                  val);
          status = 2;
          goto done;
        }
      } else {
        opt.only[opt.nonly++] = val;
      }
    } else {
      fprintf(stderr, PROG ": unknown option %s\n", arg);
      usage(stderr);
      status = 2;
      goto done;
    }
  }
  if (!opt.modes)
    opt.modes = MODE_ALL;
  if (!opt.lookahead)
    opt.lookahead = LA_BOTH;
  if (!nfiles) {
    fputs(PROG ": no test suite file given\n", stderr);
    usage(stderr);
    status = 2;
    goto done;
  }

  /* Load and check every file before running anything. */
  for (i = 0; i < nfiles; i++)
    if (load_file(&su, files[i]) < 0)
      status = 2;
  if (status)
    goto done;
  for (k = 0; k < opt.nonly; k++) {
    int found = 0;
    for (i = 0; i < su.nscn && !found; i++)
      for (j = 0; j < map_size(su.scn[i].tests) && !found; j++)
        if (scalar_is(map_key(su.scn[i].doc, su.scn[i].tests, j),
                      opt.only[k]))
          found = 1;
    if (!found) {
      fprintf(stderr, PROG ": --only %s: no such test\n", opt.only[k]);
      status = 2;
    }
  }
  if (status)
    goto done;

  for (i = 0; i < su.nscn; i++)
    run_scenario(&opt, &su.scn[i], &tot);
  printf("%lu passed, %lu failed\n", tot.passed, tot.failed);
  if (tot.passed + tot.failed == 0)
    fputs(PROG ": no tests ran\n", stderr);
  status = (tot.failed == 0 && tot.passed > 0) ? 0 : 1;
done:
  suite_free(&su);
  free(files);
  free(opt.only);
  return status;
}

/*
 * spf-lint -- check an SPF record the way a mail administrator needs it
 * checked: every term explained, the include/redirect tree with its DNS
 * lookup count, and the problems receivers would trip over.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *   spf-lint [--server ADDR[:PORT]] [--zone FILE]... [--timeout MS]
 *            [--ip ADDR] [--json]
 *            (DOMAIN | --record 'v=spf1 ...' [--domain DOMAIN])
 *
 * Uses only the public API (maildrop-spf/spf.h, maildrop-spf/cares.h):
 * mdspf_lint_* does the work, this program prints it.  DNS is live (the
 * c-ares backend: the system configuration, or --server), or answered
 * from RFC 1035 master files (--zone).  --record lints a record before it
 * is published: with --domain as if published there (its includes are
 * followed through DNS), without it statically (no DNS at all).  --ip
 * names a connecting client: where the record uses ptr or %{p}, that
 * client's PTR names are counted (more than 10: only the first 10 are
 * used, so the result depends on their order).
 *
 * Exit status: 0 no warnings or errors (information is fine), 1
 * warnings, 2 errors in the records, 3 when the lint could not do its
 * job: a usage error (a DOMAIN that is an e-mail address or a URL gets a
 * hint), a zone file that cannot be read, no DNS configuration, or a
 * failed lookup of the linted domain's own record -- so a cron job can
 * tell a broken record from a broken run.
 */
#include <maildrop-spf/cares.h>
#include <maildrop-spf/spf.h>

#include "toolutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "spf-lint"
#define EXIT_WARNINGS 1
#define EXIT_ERRORS 2
#define EXIT_TROUBLE 3 /* the lint could not do its job */

#define VALUE_COL_MAX 40 /* the Value column grows up to this width */
#define TREE_COL 44      /* where the lookup counts of the tree start */
#define TIMEOUT_MAX_MS 3600000
#define TRY_TIMEOUT_MAX_MS 2000
#define TRY_TIMEOUT_MIN_MS 50
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ======================================================================
 * Options
 * ==================================================================== */

struct strlist {
  const char **v;
  size_t n;
};

struct options {
  const char *domain; /* DOMAIN or --domain */
  const char *record; /* --record */
  int domain_opt;     /* --domain was given */
  struct strlist zones;
  struct strlist servers;
  long timeout_ms; /* 0: the library default */
  const char *ip;  /* --ip: the connecting client, NULL if none */
  int json;
  int help;
  int version;
};

enum opt_id {
  OPT_SERVER,
  OPT_ZONE,
  OPT_TIMEOUT,
  OPT_JSON,
  OPT_RECORD,
  OPT_DOMAIN,
  OPT_IP,
  OPT_HELP,
  OPT_VERSION
};

struct opt_def {
  const char *name;
  enum opt_id id;
  int has_arg;
};

static const struct opt_def opt_table[] = {
    {"server", OPT_SERVER, 1},   {"zone", OPT_ZONE, 1},
    {"timeout", OPT_TIMEOUT, 1}, {"json", OPT_JSON, 0},
    {"record", OPT_RECORD, 1},   {"domain", OPT_DOMAIN, 1},
    {"ip", OPT_IP, 1},           {"help", OPT_HELP, 0},
    {"h", OPT_HELP, 0},          {"version", OPT_VERSION, 0},
};

static void usage(FILE *out) {
  fputs("Usage: " PROG " [options] DOMAIN\n"
        "       " PROG " [options] --record 'v=spf1 ...' [--domain DOMAIN]\n"
        "\n"
        "Check the SPF record of DOMAIN (or a record not yet published): "
        "explain\n"
        "every term, show the include/redirect tree with its DNS lookups, "
        "and\n"
        "report what receivers would reject or ignore.\n"
        "\n"
        "  DOMAIN               the domain whose published record is linted "
        "(an\n"
        "                       e-mail address or a URL gets a hint: "
        "\"did you mean\n"
        "                       example.com?\")\n"
        "  --record TEXT        lint TEXT instead of DOMAIN's published "
        "record;\n"
        "                       with --domain as if published there "
        "(includes are\n"
        "                       followed), without it statically (no DNS: "
        "includes\n"
        "                       and redirects are not followed, and the "
        "lookup count\n"
        "                       says so)\n"
        "  --domain DOMAIN      the domain TEXT would be published at\n"
        "  --server ADDR[:PORT] ask these name servers (IPv4, IPv6, "
        "[IPv6]:PORT;\n"
        "                       repeatable or comma-separated) instead of "
        "the\n"
        "                       system's resolver configuration\n"
        "  --zone FILE          answer DNS from an RFC 1035 master file "
        "instead\n"
        "                       (repeatable: the files form one zone)\n"
        "  --timeout MS         time for all the lookups (1..3600000, default "
        "20000)\n"
        "  --ip ADDR            the connecting client (IPv4 or IPv6): where "
        "the\n"
        "                       record uses ptr or %{p}, report a client with "
        "more\n"
        "                       than 10 PTR names (only the first 10 are "
        "used)\n"
        "  --json               one JSON document instead of text\n"
        "  --help, -h           show this help and exit\n"
        "  --version            show the version and exit\n"
        "\n"
        "Every option may be written -opt VALUE, -opt=VALUE, --opt VALUE or\n"
        "--opt=VALUE.\n"
        "\n"
        "Exit status: 0 no warnings or errors, 1 warnings, 2 errors in the "
        "records,\n"
        "3 when the lint could not do its job: a usage error, a zone file "
        "that\n"
        "cannot be read, no DNS configuration, or a failed lookup of "
        "DOMAIN's own\n"
        "record.\n",
        out);
}

/* ======================================================================
 * Output helpers (untrusted text: put_safe, toolutil.h)
 * ==================================================================== */

static void pad(FILE *out, size_t n) {
  while (n-- > 0)
    putc(' ', out);
}

/* "spf-lint: <what> '<arg>'<tail>" */
static void err_arg(const char *what, const char *arg, const char *tail) {
  fprintf(stderr, PROG ": %s '", what);
  put_echo(stderr, arg);
  fprintf(stderr, "'%s\n", tail);
}

/* ======================================================================
 * JSON (RFC 8259), plain ASCII, as spfquery writes it
 * ==================================================================== */

/* ,"key": (no comma before the first member) */
static void json_key(FILE *out, const char *key, int *first) {
  if (!*first)
    fputs(", ", out);
  *first = 0;
  putc('"', out);
  fputs(key, out);
  fputs("\": ", out);
}

/* ======================================================================
 * Option parsing
 * ==================================================================== */

static void options_free(struct options *o) {
  free(o->zones.v);
  free(o->servers.v);
  o->zones.v = o->servers.v = NULL;
}

/* ASCII case-insensitive prefix test. */
static int has_prefix(const char *s, const char *prefix) {
  for (; *prefix != '\0'; s++, prefix++) {
    char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
    if (c != *prefix)
      return 0;
  }
  return 1;
}

/*
 * A DOMAIN that is not a domain name but something people paste for one:
 * an e-mail address ("me@example.com", "<me@example.com>",
 * "mailto:me@example.com"), a URL ("https://user@www.example.com:8443/x")
 * or a host with a path ("example.com/").  Returns 0 when s may be a
 * domain name, else 1 with *what set ("an e-mail address", "a URL", "not
 * a domain name") and the domain in it written into buf ("" if none).
 */
static int domain_hint(const char *s, const char **what, char *buf,
                       size_t bufsz) {
  const char *p = s, *host, *end;
  int mailto = has_prefix(p, "mailto:");
  if (mailto)
    p += 7;
  const char *scheme = strstr(p, "://");
  buf[0] = '\0';
  if (scheme != NULL && !mailto) {
    *what = "a URL";
    host = scheme + 3;
    end = host + strcspn(host, "/?#");
    for (const char *q = host; q < end; q++) /* user:password@ */
      if (*q == '@')
        host = q + 1;
    if (host < end && *host == '[')
      return 1; /* an IPv6 literal: no domain in it */
    for (const char *q = host; q < end; q++) /* :port */
      if (*q == ':') {
        end = q;
        break;
      }
  } else if (strchr(p, '@') != NULL) {
    *what = "an e-mail address";
    host = strrchr(p, '@') + 1;
    end = host + strcspn(host, ">/ ");
  } else if (mailto || strchr(p, '/') != NULL) {
    *what = mailto ? "an e-mail address" : "not a domain name";
    host = p;
    end = host + strcspn(host, "/");
  } else {
    return 0;
  }
  size_t n = (size_t)(end - host);
  if (n == 0 || n >= bufsz)
    return 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)host[i];
    if (c <= ' ' || c >= 0x7f || strchr("@:/<>[]\"'\\", c) != NULL)
      return 1;
  }
  memcpy(buf, host, n);
  buf[n] = '\0';
  return 1;
}

/* A DOMAIN argument (or --domain) that is not one: a one-line hint and
 * -1; else 0. */
static int check_domain_arg(const char *d, int opt) {
  const char *what = NULL;
  char hint[256];
  if (mdspf_record_is_spf(d, strlen(d))) {
    err_arg(opt ? "--domain" : "DOMAIN", d,
            " is an SPF record, not a domain name: lint it with --record");
    return -1;
  }
  if (!domain_hint(d, &what, hint, sizeof hint))
    return 0;
  fprintf(stderr, PROG ": %s'", opt ? "--domain " : "");
  put_echo(stderr, d);
  if (strcmp(what, "not a domain name") == 0)
    fputs("' is not a domain name", stderr);
  else
    fprintf(stderr, "' is %s, not a domain name", what);
  if (hint[0] != '\0') {
    fputs(": did you mean ", stderr);
    put_safe(stderr, hint);
    putc('?', stderr);
  }
  putc('\n', stderr);
  return -1;
}

/* Parse argv; 0 on success (o->help / o->version may be set), -1 after
 * printing a one-line error. */
static int parse_options(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  size_t cap = argc > 0 ? (size_t)argc : 1;
  o->zones.v = calloc(cap, sizeof *o->zones.v);
  o->servers.v = calloc(cap, sizeof *o->servers.v);
  if (o->zones.v == NULL || o->servers.v == NULL) {
    fputs(PROG ": out of memory\n", stderr);
    return -1;
  }
  const char *positional = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || arg[1] == '\0') {
      if (positional != NULL) {
        err_arg("unexpected argument", arg, " (one DOMAIN only; try --help)");
        return -1;
      }
      positional = arg;
      continue;
    }
    if (arg[1] == '-' && arg[2] == '\0') {
      err_arg("unexpected argument", arg, " (try --help)");
      return -1;
    }
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct opt_def *def = NULL;
    for (size_t k = 0; k < sizeof opt_table / sizeof opt_table[0]; k++)
      if (strlen(opt_table[k].name) == nlen &&
          memcmp(opt_table[k].name, name, nlen) == 0)
        def = &opt_table[k];
    size_t arglen = (size_t)(name - arg) + nlen;
    if (def == NULL) {
      fputs(PROG ": option '", stderr);
      put_safe_n(stderr, arg, arglen < ECHO_MAX ? arglen : ECHO_MAX);
      fputs("' is unknown (try --help)\n", stderr);
      return -1;
    }
    const char *value = NULL;
    if (eq != NULL) {
      if (!def->has_arg) {
        fprintf(stderr, PROG ": option '--%s' takes no value (try --help)\n",
                def->name);
        return -1;
      }
      value = eq + 1;
    } else if (def->has_arg) {
      if (i + 1 >= argc) {
        fprintf(stderr, PROG ": option '--%s' needs a value (try --help)\n",
                def->name);
        return -1;
      }
      value = argv[++i];
    }
    switch (def->id) {
    case OPT_SERVER:
      if (!valid_server_list(value)) {
        err_arg("invalid --server", value,
                " (expected ADDR, ADDR:PORT or [IPv6]:PORT, comma-separated)");
        return -1;
      }
      o->servers.v[o->servers.n++] = value;
      break;
    case OPT_ZONE:
      o->zones.v[o->zones.n++] = value;
      break;
    case OPT_TIMEOUT:
      if (parse_long(value, &o->timeout_ms) != 0 || o->timeout_ms < 1 ||
          o->timeout_ms > TIMEOUT_MAX_MS) {
        err_arg("invalid --timeout value", value, " (expected 1..3600000)");
        return -1;
      }
      break;
    case OPT_JSON:
      o->json = 1;
      break;
    case OPT_RECORD:
      o->record = value;
      break;
    case OPT_DOMAIN:
      o->domain = value;
      o->domain_opt = 1;
      break;
    case OPT_IP:
      o->ip = value; /* checked by the library in run() */
      break;
    case OPT_HELP:
      o->help = 1;
      return 0;
    case OPT_VERSION:
      o->version = 1;
      return 0;
    }
  }
  if (o->zones.n > 0 && o->servers.n > 0) {
    fputs(PROG ": --zone and --server cannot be used together (try --help)\n",
          stderr);
    return -1;
  }
  if (o->record != NULL) {
    if (positional != NULL) {
      err_arg("unexpected argument", positional,
              " (with --record, give the domain with --domain)");
      return -1;
    }
    if (o->ip != NULL && !o->domain_opt) {
      fputs(PROG ": --ip needs DNS: give --domain with --record (try --help)\n",
            stderr);
      return -1;
    }
  } else {
    if (o->domain_opt) {
      fputs(PROG ": --domain needs --record (try --help)\n", stderr);
      return -1;
    }
    if (positional == NULL) {
      fputs(PROG ": missing DOMAIN (try --help)\n", stderr);
      return -1;
    }
    o->domain = positional;
  }
  if (o->domain != NULL && check_domain_arg(o->domain, o->domain_opt) != 0)
    return -1;
  return 0;
}

/* ======================================================================
 * DNS backend
 * ==================================================================== */

struct backend {
  mdspf_zone *zone;
  mdspf_cares *cares;
  char *servers;
};

static char *join_servers(const struct strlist *l) {
  size_t total = 1;
  for (size_t i = 0; i < l->n; i++)
    total += strlen(l->v[i]) + 1;
  char *s = malloc(total);
  if (s == NULL)
    return NULL;
  size_t len = 0;
  for (size_t i = 0; i < l->n; i++) {
    size_t n = strlen(l->v[i]);
    if (i > 0)
      s[len++] = ',';
    memcpy(s + len, l->v[i], n);
    len += n;
  }
  s[len] = '\0';
  return s;
}

/* Create the resolver for ctx; 0, or -1 after an error. */
static int backend_open(struct backend *b, const struct options *o,
                        mdspf_ctx *ctx) {
  const mdspf_resolver *res;
  int rc;
  if (o->zones.n > 0) {
    char err[PATH_MAX + 512];
    rc = mdspf_zone_new(NULL, NULL, &b->zone);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": cannot create the zone: %s\n",
              mdspf_strerror(rc));
      return -1;
    }
    for (size_t i = 0; i < o->zones.n; i++) {
      err[0] = '\0';
      rc = mdspf_zone_load_file(b->zone, o->zones.v[i], NULL, err, sizeof err);
      if (rc == MDSPF_OK)
        continue;
      if (err[0] != '\0') {
        fputs(PROG ": ", stderr);
        put_safe(stderr, err); /* "file:line: message" */
        putc('\n', stderr);
      } else {
        err_arg("cannot load zone", o->zones.v[i], "");
      }
      return -1;
    }
    res = mdspf_zone_resolver(b->zone);
  } else {
    mdspf_cares_options co;
    mdspf_cares_options_init(&co);
    if (o->servers.n > 0) {
      b->servers = join_servers(&o->servers);
      if (b->servers == NULL) {
        fputs(PROG ": out of memory\n", stderr);
        return -1;
      }
      co.servers = b->servers;
    }
    long budget = o->timeout_ms > 0 ? o->timeout_ms : 20000;
    long try_ms = budget / 2;
    if (try_ms > TRY_TIMEOUT_MAX_MS)
      try_ms = TRY_TIMEOUT_MAX_MS;
    if (try_ms < TRY_TIMEOUT_MIN_MS)
      try_ms = TRY_TIMEOUT_MIN_MS;
    co.timeout_ms = (int)try_ms;
    rc = mdspf_cares_new(&co, &b->cares);
    if (rc == MDSPF_E_DNS) {
      fputs(PROG ": cannot set up DNS: no usable resolver configuration "
                 "(try --server ADDR or --zone FILE)\n",
            stderr);
      return -1;
    }
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": cannot set up DNS: %s\n", mdspf_strerror(rc));
      return -1;
    }
    res = mdspf_cares_resolver(b->cares);
  }
  rc = mdspf_ctx_set_resolver(ctx, res);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot use the resolver: %s\n", mdspf_strerror(rc));
    return -1;
  }
  return 0;
}

static void backend_close(struct backend *b) {
  mdspf_cares_free(b->cares);
  mdspf_zone_free(b->zone);
  free(b->servers);
}

/* ======================================================================
 * Terms
 * ==================================================================== */

static const char *severity_word(int sev) {
  switch (sev) {
  case MDSPF_SEV_ERROR:
    return "error";
  case MDSPF_SEV_WARNING:
    return "warning";
  default:
    return "info";
  }
}

static const char *meaning(int result) {
  switch (result) {
  case MDSPF_PASS:
    return "Pass";
  case MDSPF_FAIL:
    return "Fail";
  case MDSPF_SOFTFAIL:
    return "SoftFail";
  case MDSPF_NEUTRAL:
    return "Neutral";
  default:
    return "-";
  }
}

static int is_modifier(int kind) {
  return kind == MDSPF_TERM_REDIRECT || kind == MDSPF_TERM_EXP ||
         kind == MDSPF_TERM_MODIFIER;
}

/* The prefix column: the qualifier as written, "+" when implied, ""
 * for modifiers. */
static void term_prefix(const mdspf_record *r, size_t i, char out[2]) {
  int q = mdspf_record_term_qualifier_char(r, i);
  out[0] = is_modifier(mdspf_record_term_kind(r, i)) ? '\0'
           : q != 0                                  ? (char)q
                                                     : '+';
  out[1] = '\0';
}

/* The type column: the mechanism or modifier name (an unknown modifier
 * as written). */
static const char *term_type(const mdspf_record *r, size_t i) {
  int kind = mdspf_record_term_kind(r, i);
  return kind == MDSPF_TERM_MODIFIER ? mdspf_record_term_name(r, i)
                                     : mdspf_term_kind_str(kind);
}

/* The value column: the value as written plus the CIDR lengths. */
static void term_value(const mdspf_record *r, size_t i, char *buf,
                       size_t bufsz) {
  const char *v = mdspf_record_term_value(r, i);
  int kind = mdspf_record_term_kind(r, i);
  int c4 = mdspf_record_term_cidr(r, i, 4),
      c6 = mdspf_record_term_cidr(r, i, 6);
  size_t n = (size_t)snprintf(buf, bufsz, "%s", v != NULL ? v : "");
  if (n >= bufsz)
    return;
  if (c4 >= 0)
    n += (size_t)snprintf(buf + n, bufsz - n, "/%d", c4);
  if (n >= bufsz)
    return;
  if (c6 >= 0)
    snprintf(buf + n, bufsz - n, "%s%d", kind == MDSPF_TERM_IP6 ? "/" : "//",
             c6);
}

/* mdspf_record_term_describe into a malloc'ed string (NULL: no memory). */
static char *term_describe(const mdspf_record *r, size_t i) {
  size_t need = 0;
  (void)mdspf_record_term_describe(r, i, NULL, 0, &need);
  char *s = malloc(need + 1);
  if (s != NULL &&
      mdspf_record_term_describe(r, i, s, need + 1, NULL) != MDSPF_OK) {
    free(s);
    s = NULL;
  }
  return s;
}

/* ======================================================================
 * Text output
 * ==================================================================== */

/* "include:_spf.example.com" as written in the parent, or the domain. */
static void put_node_name(FILE *out, const mdspf_lint *l, size_t n) {
  int t = mdspf_lint_node_term(l, n);
  const mdspf_record *pr =
      n > 0 ? mdspf_lint_node_record(l, mdspf_lint_node_parent(l, n)) : NULL;
  size_t off = 0, len = 0;
  if (t >= 0 && pr != NULL &&
      mdspf_record_term_span(pr, (size_t)t, &off, &len) == MDSPF_OK) {
    put_safe_n(out, mdspf_record_text(pr, NULL) + off, len);
    return;
  }
  const char *d = mdspf_lint_node_domain(l, n);
  put_safe(out, d != NULL ? d : "(record)");
}

/* Columns of one term table, measured over all its rows. */
struct widths {
  size_t type, value;
};

static void print_table(FILE *out, const mdspf_record *r) {
  size_t nt = mdspf_record_nterms(r);
  struct widths w = {4, 5};
  char value[512];
  for (size_t i = 0; i < nt; i++) {
    size_t tl = strlen(term_type(r, i));
    term_value(r, i, value, sizeof value);
    size_t vl = strlen(value);
    if (tl > w.type)
      w.type = tl;
    if (vl > w.value)
      w.value = vl > VALUE_COL_MAX ? VALUE_COL_MAX : vl;
  }
  fputs("  Prefix  ", out);
  fputs("Type", out);
  pad(out, w.type - 4 + 2);
  fputs("Value", out);
  pad(out, w.value - 5 + 2);
  fputs("Prefix meaning  Description\n", out);
  for (size_t i = 0; i < nt; i++) {
    char prefix[2];
    const char *type = term_type(r, i);
    term_prefix(r, i, prefix);
    term_value(r, i, value, sizeof value);
    fputs("  ", out);
    fputs(prefix, out);
    pad(out, 8 - strlen(prefix));
    put_safe(out, type);
    pad(out, w.type - strlen(type) + 2);
    put_safe(out, value);
    size_t vl = strlen(value);
    pad(out, vl < w.value ? w.value - vl + 2 : 2);
    const char *m = meaning(mdspf_record_term_qualifier(r, i));
    fputs(m, out);
    pad(out, 16 - strlen(m));
    char *d = term_describe(r, i);
    put_safe(out, d != NULL ? d : "?");
    free(d);
    putc('\n', out);
  }
}

/* A syntax diagnostic of node n, if any: its index, else -1. */
static long syntax_diag(const mdspf_lint *l, size_t n) {
  for (size_t i = 0; i < mdspf_lint_ndiags(l); i++)
    if (mdspf_lint_diag_node(l, i) == n &&
        mdspf_lint_diag_code(l, i) == MDSPF_LINT_SYNTAX)
      return (long)i;
  return -1;
}

/* Diagnostics about fetching node n (on its parent's term): the first
 * one's message says why the node has no record. */
static const char *fetch_problem(const mdspf_lint *l, size_t n) {
  int t = mdspf_lint_node_term(l, n);
  const mdspf_record *pr =
      n > 0 ? mdspf_lint_node_record(l, mdspf_lint_node_parent(l, n)) : NULL;
  size_t toff = 0, tlen = 0;
  if (n == 0) {
    for (size_t i = 0; i < mdspf_lint_ndiags(l); i++) {
      size_t off, len;
      int code = mdspf_lint_diag_code(l, i);
      mdspf_lint_diag_span(l, i, &off, &len);
      if (mdspf_lint_diag_node(l, i) == 0 &&
          (code == MDSPF_LINT_NO_RECORD || code == MDSPF_LINT_DNS_ERROR ||
           code == MDSPF_LINT_MULTIPLE_RECORDS))
        return mdspf_lint_diag_message(l, i);
    }
    return NULL;
  }
  if (t < 0 || pr == NULL ||
      mdspf_record_term_span(pr, (size_t)t, &toff, &tlen) != MDSPF_OK)
    return NULL;
  for (size_t i = 0; i < mdspf_lint_ndiags(l); i++) {
    size_t off, len;
    mdspf_lint_diag_span(l, i, &off, &len);
    int code = mdspf_lint_diag_code(l, i);
    if (mdspf_lint_diag_node(l, i) == mdspf_lint_node_parent(l, n) &&
        off == toff && len == tlen &&
        (code == MDSPF_LINT_LOOP || code == MDSPF_LINT_INCLUDE_NO_RECORD ||
         code == MDSPF_LINT_DNS_ERROR || code == MDSPF_LINT_MULTIPLE_RECORDS))
      return mdspf_lint_diag_message(l, i);
  }
  return NULL;
}

/* The records, one section per node in tree order. */
static void print_records(FILE *out, const mdspf_lint *l,
                          const struct options *o) {
  for (size_t n = 0; n < mdspf_lint_nnodes(l); n++) {
    const char *text = mdspf_lint_node_text(l, n);
    const mdspf_record *r = mdspf_lint_node_record(l, n);
    if (n == 0) {
      const char *d = mdspf_lint_node_domain(l, 0);
      if (o->record != NULL && d == NULL)
        fputs("Record (no --domain: static checks only, includes not "
              "followed)\n",
              out);
      else if (o->record != NULL) {
        fputs("Record for ", out);
        put_safe(out, d);
        fputs(" (as if published)\n", out);
      } else {
        fputs("SPF record of ", out);
        put_safe(out, d);
        putc('\n', out);
      }
    } else {
      if (text == NULL)
        continue; /* shown in the tree with the reason */
      putc('\n', out);
      put_node_name(out, l, n);
      fputs(" (in ", out);
      size_t p = mdspf_lint_node_parent(l, n);
      const char *pd = mdspf_lint_node_domain(l, p);
      put_safe(out, pd != NULL ? pd : "the record");
      fputs(")\n", out);
    }
    if (text == NULL) {
      const char *why = fetch_problem(l, n);
      fputs("  (no record", out);
      if (why != NULL) {
        fputs(": ", out);
        put_safe(out, why);
      }
      fputs(")\n", out);
      continue;
    }
    long sd = syntax_diag(l, n);
    if (r == NULL && sd >= 0) {
      size_t off = 0, len = 0;
      mdspf_lint_diag_span(l, (size_t)sd, &off, &len);
      show_span(out, "  ", text, strlen(text), off, len);
      fputs("  (syntax error: the record is not used; receivers return "
            "permerror)\n",
            out);
      continue;
    }
    fputs("  ", out);
    put_safe(out, text);
    fputs("\n\n", out);
    if (r != NULL)
      print_table(out, r);
  }
}

/* Depth of node n (node 0: 0). */
static size_t depth_of(const mdspf_lint *l, size_t n) {
  size_t d = 0;
  while (n != 0 && d < mdspf_lint_nnodes(l)) {
    n = mdspf_lint_node_parent(l, n);
    d++;
  }
  return d;
}

/* 1 if node n is the last child of its parent (nodes are in pre-order). */
static int last_child(const mdspf_lint *l, size_t n) {
  size_t p = mdspf_lint_node_parent(l, n);
  for (size_t k = n + 1; k < mdspf_lint_nnodes(l); k++) {
    if (mdspf_lint_node_parent(l, k) == p && k != 0)
      return 0;
    if (depth_of(l, k) <= depth_of(l, p))
      break;
  }
  return 1;
}

/* 1 if the ancestor of n at depth d (1..depth-1) has a later sibling:
 * then its branch line continues past n. */
static int branch_continues(const mdspf_lint *l, size_t n, size_t d) {
  size_t a = n, dn = depth_of(l, n);
  while (dn > d) {
    a = mdspf_lint_node_parent(l, a);
    dn--;
  }
  return !last_child(l, a);
}

/* followed: 0 in static mode (--record without --domain), where no
 * include or redirect is followed and nothing is looked up. */
static void print_tree(FILE *out, const mdspf_lint *l, long limit,
                       long void_limit, int followed) {
  fputs("\nDNS lookups (include, a, mx, ptr, exists, redirect; each "
        "include or\nredirect counts 1 plus what its record costs):\n",
        out);
  for (size_t n = 0; n < mdspf_lint_nnodes(l); n++) {
    size_t d = depth_of(l, n), col = 2;
    fputs("  ", out);
    for (size_t k = 1; k < d; k++) {
      fputs(branch_continues(l, n, k) ? "|   " : "    ", out);
      col += 4;
    }
    if (d > 0) {
      fputs(last_child(l, n) ? "`-- " : "|-- ", out);
      col += 4;
    }
    /* the name as written, measured for the column */
    size_t nlen;
    {
      int t = mdspf_lint_node_term(l, n);
      const mdspf_record *pr =
          n > 0 ? mdspf_lint_node_record(l, mdspf_lint_node_parent(l, n))
                : NULL;
      size_t off = 0, len = 0;
      if (t >= 0 && pr != NULL &&
          mdspf_record_term_span(pr, (size_t)t, &off, &len) == MDSPF_OK)
        nlen = len;
      else {
        const char *dm = mdspf_lint_node_domain(l, n);
        nlen = strlen(dm != NULL ? dm : "(record)");
      }
    }
    put_node_name(out, l, n);
    col += nlen;
    pad(out, col < TREE_COL ? TREE_COL - col : 2);
    unsigned cost = mdspf_lint_node_lookups(l, n) + (n > 0 ? 1u : 0u);
    fprintf(out, "%3u", cost);
    if (mdspf_lint_node_text(l, n) == NULL && n > 0) {
      const char *why = fetch_problem(l, n);
      int code = 0;
      for (size_t i = 0; why != NULL && i < mdspf_lint_ndiags(l); i++)
        if (mdspf_lint_diag_message(l, i) == why)
          code = mdspf_lint_diag_code(l, i);
      fputs("  (", out);
      fputs(code == MDSPF_LINT_LOOP                ? "loop"
            : code == MDSPF_LINT_INCLUDE_NO_RECORD ? "no SPF record"
            : code == MDSPF_LINT_MULTIPLE_RECORDS  ? "several SPF records"
            : code == MDSPF_LINT_DNS_ERROR         ? "lookup failed"
                                                   : "not examined",
            out);
      putc(')', out);
    } else if (mdspf_lint_node_record(l, n) == NULL &&
               mdspf_lint_node_text(l, n) != NULL) {
      fputs("  (syntax error)", out);
    }
    putc('\n', out);
  }
  unsigned total = mdspf_lint_lookups(l);
  if (!followed) {
    fprintf(out,
            "  total: %u/%ld DNS lookups%s (includes not followed: the "
            "lookups of included\n"
            "         and redirected records are not counted without "
            "--domain); void\n"
            "         lookups not checked\n",
            total, limit, total > (unsigned long)limit ? ", too many" : "");
    return;
  }
  fprintf(out, "  total: %u/%ld DNS lookups%s, %u/%ld void lookups\n", total,
          limit, total > (unsigned long)limit ? " (too many)" : "",
          mdspf_lint_void_lookups(l), void_limit);
}

/* For a syntax diagnostic i about a misspelt mechanism: the names it may
 * have meant, from the record's own syntax error (its text parsed
 * again, the error at the diagnostic's span); 1 when buf holds them. */
static int diag_suggestion(const mdspf_lint *l, size_t i, char *buf,
                           size_t bufsz) {
  const char *text = mdspf_lint_node_text(l, mdspf_lint_diag_node(l, i));
  size_t doff = 0, dlen = 0, off = 0, len = 0;
  int code = 0;
  mdspf_record *rec = NULL;
  buf[0] = '\0';
  if (mdspf_lint_diag_code(l, i) != MDSPF_LINT_SYNTAX || text == NULL ||
      mdspf_lint_diag_span(l, i, &doff, &dlen) != MDSPF_OK)
    return 0;
  int rc = mdspf_record_parse(text, strlen(text), NULL, NULL, &rec, &code,
                              &off, &len);
  mdspf_record_free(rec);
  return rc == MDSPF_E_SYNTAX && code == MDSPF_SYN_UNKNOWN_MECH &&
         off == doff && suggest_term(text, strlen(text), off, len, buf, bufsz);
}

static void print_diags(FILE *out, const mdspf_lint *l) {
  size_t nd = mdspf_lint_ndiags(l), counts[3] = {0, 0, 0};
  if (nd == 0) {
    fputs("\nNo problems found.\n", out);
    return;
  }
  fputs("\nDiagnostics:\n", out);
  for (int sev = MDSPF_SEV_ERROR; sev >= MDSPF_SEV_INFO; sev--) {
    for (size_t i = 0; i < nd; i++) {
      if (mdspf_lint_diag_severity(l, i) != sev)
        continue;
      char hint[64];
      counts[sev]++;
      fputs(severity_word(sev), out);
      fputs(": ", out);
      put_safe(out, mdspf_lint_diag_message(l, i));
      if (diag_suggestion(l, i, hint, sizeof hint))
        fprintf(out, "; did you mean %s?", hint);
      fprintf(out, " [%s]\n", mdspf_lint_code_str(mdspf_lint_diag_code(l, i)));
      size_t off = 0, len = 0;
      const char *text = mdspf_lint_node_text(l, mdspf_lint_diag_node(l, i));
      mdspf_lint_diag_span(l, i, &off, &len);
      if (text != NULL && len > 0)
        show_span(out, "    ", text, strlen(text), off, len);
    }
  }
  fprintf(out, "%zu error%s, %zu warning%s, %zu note%s\n", counts[2],
          counts[2] == 1 ? "" : "s", counts[1], counts[1] == 1 ? "" : "s",
          counts[0], counts[0] == 1 ? "" : "s");
}

/* ======================================================================
 * JSON output
 * ==================================================================== */

static void json_term(FILE *out, const mdspf_record *r, size_t i) {
  int first = 1, kind = mdspf_record_term_kind(r, i);
  char prefix[2], value[512];
  size_t off = 0, len = 0;
  term_prefix(r, i, prefix);
  term_value(r, i, value, sizeof value);
  (void)mdspf_record_term_span(r, i, &off, &len);
  putc('{', out);
  json_key(out, "index", &first);
  fprintf(out, "%zu", i);
  json_key(out, "prefix", &first);
  json_str(out, prefix[0] != '\0' ? prefix : NULL);
  int q = mdspf_record_term_qualifier_char(r, i);
  char qs[2] = {(char)q, '\0'};
  json_key(out, "qualifier", &first);
  json_str(out, q != 0 ? qs : NULL);
  json_key(out, "type", &first);
  json_str(out, term_type(r, i));
  json_key(out, "kind", &first);
  json_str(out, mdspf_term_kind_str(kind));
  json_key(out, "name", &first);
  json_str(out, mdspf_record_term_name(r, i));
  json_key(out, "value", &first);
  json_str(out, mdspf_record_term_value(r, i));
  json_key(out, "value_cidr", &first);
  json_str(out, value[0] != '\0' ? value : NULL);
  int c4 = mdspf_record_term_cidr(r, i, 4),
      c6 = mdspf_record_term_cidr(r, i, 6);
  json_key(out, "cidr4", &first);
  if (c4 >= 0)
    fprintf(out, "%d", c4);
  else
    fputs("null", out);
  json_key(out, "cidr6", &first);
  if (c6 >= 0)
    fprintf(out, "%d", c6);
  else
    fputs("null", out);
  int res = mdspf_record_term_qualifier(r, i);
  json_key(out, "prefix_meaning", &first);
  json_str(out, res >= 0 ? meaning(res) : NULL);
  json_key(out, "result", &first);
  json_str(out, res >= 0 ? mdspf_result_str(res) : NULL);
  json_key(out, "macros", &first);
  fputs(mdspf_record_term_has_macros(r, i) ? "true" : "false", out);
  json_key(out, "offset", &first);
  fprintf(out, "%zu", off);
  json_key(out, "length", &first);
  fprintf(out, "%zu", len);
  json_key(out, "description", &first);
  char *d = term_describe(r, i);
  json_str(out, d);
  free(d);
  putc('}', out);
}

static const char *via_word(int via) {
  return via == MDSPF_TERM_INCLUDE    ? "include"
         : via == MDSPF_TERM_REDIRECT ? "redirect"
                                      : "root";
}

static void print_json(FILE *out, const mdspf_lint *l, const struct options *o,
                       long limit, long void_limit, int followed) {
  int worst = mdspf_lint_worst(l);
  fputs("{\n  \"domain\": ", out);
  json_str(out, mdspf_lint_node_domain(l, 0));
  fputs(",\n  \"given_record\": ", out);
  json_str(out, o->record);
  fprintf(out, ",\n  \"lookups\": %u,\n  \"lookup_limit\": %ld,\n",
          mdspf_lint_lookups(l), limit);
  fprintf(out, "  \"void_lookups\": %u,\n  \"void_limit\": %ld,\n",
          mdspf_lint_void_lookups(l), void_limit);
  fprintf(out, "  \"includes_followed\": %s,\n", followed ? "true" : "false");
  fputs("  \"worst\": ", out);
  json_str(out, worst >= 0 ? severity_word(worst) : NULL);
  fputs(",\n  \"nodes\": [", out);
  for (size_t n = 0; n < mdspf_lint_nnodes(l); n++) {
    int first = 1;
    const mdspf_record *r = mdspf_lint_node_record(l, n);
    fputs(n > 0 ? ",\n    {" : "\n    {", out);
    json_key(out, "index", &first);
    fprintf(out, "%zu", n);
    json_key(out, "parent", &first);
    fprintf(out, "%zu", mdspf_lint_node_parent(l, n));
    json_key(out, "via", &first);
    json_str(out, via_word(mdspf_lint_node_via(l, n)));
    json_key(out, "term", &first);
    if (mdspf_lint_node_term(l, n) >= 0)
      fprintf(out, "%d", mdspf_lint_node_term(l, n));
    else
      fputs("null", out);
    json_key(out, "domain", &first);
    json_str(out, mdspf_lint_node_domain(l, n));
    json_key(out, "lookups", &first);
    fprintf(out, "%u", mdspf_lint_node_lookups(l, n));
    json_key(out, "text", &first);
    json_str(out, mdspf_lint_node_text(l, n));
    json_key(out, "parsed", &first);
    fputs(r != NULL ? "true" : "false", out);
    json_key(out, "terms", &first);
    putc('[', out);
    for (size_t i = 0; r != NULL && i < mdspf_record_nterms(r); i++) {
      fputs(i > 0 ? ",\n      " : "\n      ", out);
      json_term(out, r, i);
    }
    fputs(r != NULL && mdspf_record_nterms(r) > 0 ? "\n    ]}" : "]}", out);
  }
  fputs(mdspf_lint_nnodes(l) > 0 ? "\n  ],\n" : "],\n", out);
  fputs("  \"diagnostics\": [", out);
  size_t nd = mdspf_lint_ndiags(l);
  for (size_t i = 0; i < nd; i++) {
    int first = 1;
    size_t off = 0, len = 0;
    mdspf_lint_diag_span(l, i, &off, &len);
    fputs(i > 0 ? ",\n    {" : "\n    {", out);
    json_key(out, "severity", &first);
    json_str(out, severity_word(mdspf_lint_diag_severity(l, i)));
    json_key(out, "code", &first);
    json_str(out, mdspf_lint_code_str(mdspf_lint_diag_code(l, i)));
    json_key(out, "node", &first);
    fprintf(out, "%zu", mdspf_lint_diag_node(l, i));
    json_key(out, "offset", &first);
    fprintf(out, "%zu", off);
    json_key(out, "length", &first);
    fprintf(out, "%zu", len);
    json_key(out, "message", &first);
    json_str(out, mdspf_lint_diag_message(l, i));
    char hint[64];
    json_key(out, "suggestion", &first);
    json_str(out, diag_suggestion(l, i, hint, sizeof hint) ? hint : NULL);
    putc('}', out);
  }
  fputs(nd > 0 ? "\n  ]\n}\n" : "]\n}\n", out);
}

/* ======================================================================
 * main
 * ==================================================================== */

/* The linted domain's own record could not be looked up (DNS failure
 * or timeout): the run failed, whatever the domain publishes. */
static int top_lookup_failed(const mdspf_lint *l, const struct options *o) {
  if (o->record != NULL || mdspf_lint_node_text(l, 0) != NULL)
    return 0;
  for (size_t i = 0; i < mdspf_lint_ndiags(l); i++)
    if (mdspf_lint_diag_node(l, i) == 0 &&
        mdspf_lint_diag_code(l, i) == MDSPF_LINT_DNS_ERROR)
      return 1;
  return 0;
}

static int run(const struct options *o) {
  mdspf_ctx *ctx = NULL;
  mdspf_lint *l = NULL;
  struct backend be;
  int status = EXIT_TROUBLE, rc;
  int use_dns = o->domain != NULL;
  memset(&be, 0, sizeof be);

  rc = mdspf_ctx_new(NULL, NULL, &ctx);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot create context: %s\n", mdspf_strerror(rc));
    goto out;
  }
  if (o->timeout_ms > 0 && mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS,
                                               o->timeout_ms) != MDSPF_OK) {
    fputs(PROG ": invalid --timeout\n", stderr);
    goto out;
  }
  rc = mdspf_lint_new(ctx, &l);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": %s\n", mdspf_strerror(rc));
    goto out;
  }
  /* before the backend: a bad address is a usage error, whatever DNS */
  if (o->ip != NULL && mdspf_lint_set_client(l, o->ip) != MDSPF_OK) {
    err_arg("invalid --ip", o->ip, " (expected an IPv4 or IPv6 address)");
    goto out;
  }
  if (use_dns && backend_open(&be, o, ctx) != 0)
    goto out;
  if (o->record != NULL)
    rc = mdspf_lint_record(l, o->domain, o->record, strlen(o->record),
                           (int)o->timeout_ms);
  else
    rc = mdspf_lint_domain(l, o->domain, (int)o->timeout_ms);
  if (rc == MDSPF_E_INVAL && o->domain != NULL) {
    err_arg("invalid domain", o->domain, "");
    goto out;
  }
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": lint failed: %s\n", mdspf_strerror(rc));
    goto out;
  }

  long limit = mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_DNS_TERMS);
  long void_limit = mdspf_ctx_get_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS);
  if (o->json) {
    print_json(stdout, l, o, limit, void_limit, use_dns);
  } else {
    print_records(stdout, l, o);
    print_tree(stdout, l, limit, void_limit, use_dns);
    print_diags(stdout, l);
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fputs(PROG ": error writing the output\n", stderr);
    goto out;
  }
  if (top_lookup_failed(l, o)) {
    err_arg("the lint is incomplete: the SPF record of", o->domain,
            " could not be looked up");
    goto out;
  }
  int worst = mdspf_lint_worst(l);
  status = worst == MDSPF_SEV_ERROR     ? EXIT_ERRORS
           : worst == MDSPF_SEV_WARNING ? EXIT_WARNINGS
                                        : 0;
out:
  mdspf_lint_free(l);
  mdspf_ctx_free(ctx);
  backend_close(&be);
  return status;
}

int main(int argc, char **argv) {
  struct options o;
  int status;
  if (parse_options(argc, argv, &o) != 0) {
    status = EXIT_TROUBLE;
  } else if (o.help) {
    usage(stdout);
    status = fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
  } else if (o.version) {
    printf(PROG " (libmaildrop-spf) %s\n", mdspf_version_str());
    status = fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
  } else {
    status = run(&o);
  }
  options_free(&o);
  return status;
}

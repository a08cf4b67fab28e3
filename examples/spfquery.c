/*
 * spfquery -- command-line SPF check, a drop-in for libspf2's spfquery.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Uses only the public API (maildrop-spf/spf.h).  Output on stdout is
 * exactly three lines, as libspf2's spfquery prints them:
 *
 *   1. the result word ("pass", "fail", ...)
 *   2. the SMTP explanation for "fail", else an empty line
 *   3. a comment: "<receiver>: domain of <domain> designates ..."
 *
 * and the exit status is the result in libspf2's numbering (neutral 1,
 * pass 2, fail 3, softfail 4, none 5, temperror 6, permerror 7), or 255
 * for usage errors and unusable input.
 *
 * This version answers DNS only from an RFC 1035 master file (--zone);
 * live DNS arrives with the c-ares backend.
 */
#include <maildrop-spf/spf.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PROG "spfquery"
#define EXIT_USAGE 255

/* Longest piece of user-supplied text echoed in an error message. */
#define ECHO_MAX 200
/* Widest record excerpt shown above a caret line. */
#define SPAN_WIDTH 120
/* Context kept to the left of the error when the excerpt is cut. */
#define SPAN_LEFT 40
/* Deepest indentation of debug lines (2 spaces per level). */
#define DEBUG_MAX_DEPTH 32
#ifndef PATH_MAX /* optional in POSIX */
#define PATH_MAX 4096
#endif

/* ======================================================================
 * Options
 * ==================================================================== */

struct options {
  const char *ip;          /* -ip */
  const char *sender;      /* -sender */
  const char *helo;        /* -helo */
  const char *local;       /* -local */
  const char *guess;       /* -guess */
  const char *default_exp; /* -default-explanation */
  const char *name;        /* -name (receiver) */
  const char *zone;        /* --zone */
  const char *max_lookup;  /* -max-lookup, validated in run() */
  const char **overrides;  /* -override DOMAIN=RECORD, in order */
  size_t n_overrides;
  const char **fallbacks; /* -fallback DOMAIN=RECORD, in order */
  size_t n_fallbacks;
  long debug; /* -debug[=N]; 0 = no trace */
  int help;
  int version;
};

enum opt_id {
  OPT_IP,
  OPT_SENDER,
  OPT_HELO,
  OPT_LOCAL,
  OPT_GUESS,
  OPT_DEFAULT_EXP,
  OPT_NAME,
  OPT_OVERRIDE,
  OPT_FALLBACK,
  OPT_MAX_LOOKUP,
  OPT_DEBUG,
  OPT_ZONE,
  OPT_HELP,
  OPT_VERSION,
  OPT_UNSUPPORTED
};

enum opt_arg { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

struct opt_def {
  const char *name;
  enum opt_id id;
  enum opt_arg arg;
};

static const struct opt_def opt_table[] = {
    {"ip", OPT_IP, ARG_REQUIRED},
    {"sender", OPT_SENDER, ARG_REQUIRED},
    {"helo", OPT_HELO, ARG_REQUIRED},
    {"local", OPT_LOCAL, ARG_REQUIRED},
    {"guess", OPT_GUESS, ARG_REQUIRED},
    {"default-explanation", OPT_DEFAULT_EXP, ARG_REQUIRED},
    {"name", OPT_NAME, ARG_REQUIRED},
    {"override", OPT_OVERRIDE, ARG_REQUIRED},
    {"fallback", OPT_FALLBACK, ARG_REQUIRED},
    {"max-lookup", OPT_MAX_LOOKUP, ARG_REQUIRED},
    {"debug", OPT_DEBUG, ARG_OPTIONAL},
    {"zone", OPT_ZONE, ARG_REQUIRED},
    {"help", OPT_HELP, ARG_NONE},
    {"h", OPT_HELP, ARG_NONE},
    {"version", OPT_VERSION, ARG_NONE},
    /* libspf2 options this version does not implement. */
    {"file", OPT_UNSUPPORTED, ARG_NONE},
    {"rcpt-to", OPT_UNSUPPORTED, ARG_NONE},
    {"trusted", OPT_UNSUPPORTED, ARG_NONE},
    {"sanitize", OPT_UNSUPPORTED, ARG_NONE},
    {"keep-comments", OPT_UNSUPPORTED, ARG_NONE},
};

static void usage(FILE *out) {
  fputs("Usage: " PROG " -ip ADDR (-sender ADDR | -helo NAME) [options]\n"
        "\n"
        "Evaluate SPF (RFC 7208) for a client IP and a MAIL FROM / HELO "
        "identity.\n"
        "\n"
        "Identity:\n"
        "  -ip ADDR             client IP address (IPv4 or IPv6), required\n"
        "  -sender ADDR         MAIL FROM address (postmaster@ is assumed "
        "when it\n"
        "                       has no local part)\n"
        "  -helo NAME           HELO/EHLO name: checked when -sender is "
        "absent,\n"
        "                       otherwise only used for %{h}\n"
        "\n"
        "Policy:\n"
        "  -local MECHS         local policy mechanisms, tried before a "
        "final 'all'\n"
        "  -guess RECORD        best-guess record for domains without SPF\n"
        "  -default-explanation STR\n"
        "                       explanation for 'fail' when the record has "
        "no exp=\n"
        "  -name HOST           receiver host name for %{r} and the comment "
        "line\n"
        "                       (default: " PROG ")\n"
        "  -override DOMAIN=RECORD\n"
        "                       use RECORD as DOMAIN's SPF record "
        "(repeatable)\n"
        "  -fallback DOMAIN=RECORD\n"
        "                       use RECORD when DOMAIN publishes none "
        "(repeatable)\n"
        "  -max-lookup N        limit of DNS-querying terms (default 10)\n"
        "\n"
        "DNS:\n"
        "  --zone FILE          answer DNS queries from an RFC 1035 master "
        "file\n"
        "\n"
        "Other:\n"
        "  -debug[=N]           trace the evaluation on stderr\n"
        "  --help               show this help and exit\n"
        "  --version            show the version and exit\n"
        "\n"
        "Every option may be written -opt VALUE, -opt=VALUE, --opt VALUE or\n"
        "--opt=VALUE.\n"
        "\n"
        "Output: three lines (result, explanation, comment).  Exit status:\n"
        "neutral 1, pass 2, fail 3, softfail 4, none 5, temperror 6,\n"
        "permerror 7, 255 for usage errors.\n",
        out);
}

/* ======================================================================
 * Safe output of untrusted text
 * ==================================================================== */

/* One display column per byte: printable ASCII as is, anything else
 * (control characters, DEL, non-ASCII) as '?', so that no input can
 * split an output line, drive the terminal or misalign a caret. */
static int safe_char(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) ? (int)c : '?';
}

static void put_safe_n(FILE *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    putc(safe_char((unsigned char)s[i]), out);
}

static void put_safe(FILE *out, const char *s) {
  if (s != NULL)
    put_safe_n(out, s, strlen(s));
}

/* Echo user input in an error message: sanitised and cut at ECHO_MAX. */
static void put_echo(FILE *out, const char *s) {
  size_t n = strlen(s);
  if (n > ECHO_MAX) {
    put_safe_n(out, s, ECHO_MAX);
    fputs("...", out);
  } else {
    put_safe_n(out, s, n);
  }
}

/* "spfquery: <what> '<arg>'<tail>\n" */
static void err_arg(const char *what, const char *arg, const char *tail) {
  fprintf(stderr, PROG ": %s '", what);
  put_echo(stderr, arg);
  fprintf(stderr, "'%s\n", tail);
}

/* "spfquery: option '<first len bytes of arg>' <tail>\n": names the
 * option as written, without any "=value". */
static void err_opt(const char *arg, size_t len, const char *tail) {
  fputs(PROG ": option '", stderr);
  put_safe_n(stderr, arg, len < ECHO_MAX ? len : ECHO_MAX);
  if (len > ECHO_MAX)
    fputs("...", stderr);
  fprintf(stderr, "' %s\n", tail);
}

/*
 * Show text with a caret line under [off, off+len), compiler style:
 *
 *     v=spf1 a mx incldue:_spf.example.com ~all
 *                 ^~~~~~~~~~~~~~~~~~~~~~~~
 *
 * Long texts are cut to a window around the error, marked with "...".
 */
static void show_span(FILE *out, const char *text, size_t tlen, size_t off,
                      size_t len) {
  if (off > tlen)
    off = tlen;
  if (len > tlen - off)
    len = tlen - off;

  size_t start = 0, end = tlen;
  if (tlen > SPAN_WIDTH) {
    start = off > SPAN_LEFT ? off - SPAN_LEFT : 0;
    end = start + SPAN_WIDTH < tlen ? start + SPAN_WIDTH : tlen;
  }
  size_t mark_end = off + len < end ? off + len : end;

  fputs("    ", out);
  if (start > 0)
    fputs("...", out);
  put_safe_n(out, text + start, end - start);
  if (end < tlen)
    fputs("...", out);
  putc('\n', out);

  fputs("    ", out);
  if (start > 0)
    fputs("   ", out);
  for (size_t i = start; i < off; i++)
    putc(' ', out);
  putc('^', out);
  for (size_t i = off + 1; i < mark_end; i++)
    putc('~', out);
  putc('\n', out);
}

/* ======================================================================
 * Option parsing
 * ==================================================================== */

static const struct opt_def *find_option(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
    if (strlen(opt_table[i].name) == len &&
        memcmp(opt_table[i].name, name, len) == 0)
      return &opt_table[i];
  }
  return NULL;
}

/* Strict decimal: digits only, no sign, no blanks, fits in a long. */
static int parse_long(const char *s, long *out) {
  if (*s == '\0')
    return -1;
  for (const char *p = s; *p != '\0'; p++)
    if (*p < '0' || *p > '9')
      return -1;
  errno = 0;
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == NULL || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

static void options_free(struct options *o) {
  free(o->overrides);
  free(o->fallbacks);
  o->overrides = o->fallbacks = NULL;
}

/* Store one option's value; returns 0, or -1 after printing an error. */
static int apply_option(struct options *o, const struct opt_def *def,
                        const char *arg, size_t arglen, const char *value) {
  switch (def->id) {
  case OPT_IP:
    o->ip = value;
    break;
  case OPT_SENDER:
    o->sender = value;
    break;
  case OPT_HELO:
    o->helo = value;
    break;
  case OPT_LOCAL:
    o->local = value;
    break;
  case OPT_GUESS:
    o->guess = value;
    break;
  case OPT_DEFAULT_EXP:
    o->default_exp = value;
    break;
  case OPT_NAME:
    o->name = value;
    break;
  case OPT_ZONE:
    o->zone = value;
    break;
  case OPT_MAX_LOOKUP:
    o->max_lookup = value;
    break;
  case OPT_OVERRIDE:
  case OPT_FALLBACK:
    if (strchr(value, '=') == NULL) {
      err_arg(def->id == OPT_OVERRIDE ? "-override needs DOMAIN=RECORD, got"
                                      : "-fallback needs DOMAIN=RECORD, got",
              value, " (try --help)");
      return -1;
    }
    if (def->id == OPT_OVERRIDE)
      o->overrides[o->n_overrides++] = value;
    else
      o->fallbacks[o->n_fallbacks++] = value;
    break;
  case OPT_DEBUG:
    if (value == NULL) {
      o->debug = 1;
    } else if (parse_long(value, &o->debug) != 0) {
      err_arg("invalid -debug level", value, " (try --help)");
      return -1;
    }
    break;
  case OPT_HELP:
    o->help = 1;
    break;
  case OPT_VERSION:
    o->version = 1;
    break;
  case OPT_UNSUPPORTED:
    err_opt(arg, arglen, "is not supported in this version");
    return -1;
  }
  return 0;
}

/*
 * Parse argv into *o.  Returns 0 on success (o->help / o->version may be
 * set: parsing stops at the first of them), -1 after printing a one-line
 * error.  Values point into argv; o->overrides / o->fallbacks are
 * allocated and released by options_free() on every path.
 */
static int parse_options(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  size_t cap = argc > 0 ? (size_t)argc : 1;
  o->overrides = calloc(cap, sizeof *o->overrides);
  o->fallbacks = calloc(cap, sizeof *o->fallbacks);
  if (o->overrides == NULL || o->fallbacks == NULL) {
    fputs(PROG ": out of memory\n", stderr);
    return -1;
  }

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || arg[1] == '\0' || (arg[1] == '-' && arg[2] == '\0')) {
      err_arg("unexpected argument", arg, " (try --help)");
      return -1;
    }
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
    size_t arglen = (size_t)(name - arg) + nlen; /* "-name", "--name" */
    const struct opt_def *def = find_option(name, nlen);
    if (def == NULL) {
      err_opt(arg, arglen, "is unknown (try --help)");
      return -1;
    }

    const char *value = NULL;
    if (def->id == OPT_UNSUPPORTED) {
      /* reported by apply_option, whatever the value */
    } else if (eq != NULL) {
      if (def->arg == ARG_NONE) {
        err_opt(arg, arglen, "takes no value (try --help)");
        return -1;
      }
      value = eq + 1;
    } else if (def->arg == ARG_REQUIRED) {
      if (i + 1 >= argc) {
        err_opt(arg, arglen, "needs a value (try --help)");
        return -1;
      }
      value = argv[++i]; /* like getopt: may start with '-' ("-all") */
    }

    if (apply_option(o, def, arg, arglen, value) != 0)
      return -1;
    if (o->help || o->version)
      return 0;
  }

  if (o->ip == NULL) {
    fputs(PROG ": missing -ip (try --help)\n", stderr);
    return -1;
  }
  if (o->sender == NULL && o->helo == NULL) {
    fputs(PROG ": missing -sender or -helo (try --help)\n", stderr);
    return -1;
  }
  return 0;
}

/* ======================================================================
 * Trace hook (-debug)
 * ==================================================================== */

struct tracer {
  FILE *out;
};

static void trace_event(void *ud, const mdspf_event *ev) {
  const struct tracer *t = ud;
  char small[512];
  char *line = small;
  char *big = NULL;
  size_t needed = 0;

  int rc = mdspf_event_format(ev, small, sizeof small, &needed);
  if (rc == MDSPF_E_LIMIT && needed < SIZE_MAX) {
    big = malloc(needed + 1);
    if (big != NULL &&
        mdspf_event_format(ev, big, needed + 1, NULL) == MDSPF_OK)
      line = big; /* else: print the truncated prefix in small */
  } else if (rc != MDSPF_OK) {
    line = NULL;
  }

  int depth = mdspf_event_depth(ev);
  if (depth < 0)
    depth = 0;
  if (depth > DEBUG_MAX_DEPTH)
    depth = DEBUG_MAX_DEPTH;

  fputs("debug: ", t->out);
  for (int i = 0; i < depth; i++)
    fputs("  ", t->out);
  if (line != NULL)
    put_safe(t->out, line);
  else
    fprintf(t->out, "(event %d: %s)", mdspf_event_type(ev), mdspf_strerror(rc));
  putc('\n', t->out);
  free(big);
}

/* ======================================================================
 * Context configuration
 * ==================================================================== */

/* After a syntax error in a record given on the command line, parse it
 * again with mdspf_record_parse to point at the offending text. */
static void explain_record_error(const char *record) {
  size_t len = strlen(record);
  mdspf_record *rec = NULL;
  int code = 0;
  size_t off = 0, elen = 0;
  int rc =
      mdspf_record_parse(record, len, NULL, NULL, &rec, &code, &off, &elen);
  mdspf_record_free(rec);
  if (rc != MDSPF_E_SYNTAX)
    return;
  fprintf(stderr, PROG ": %s\n", mdspf_syntax_str(code));
  show_span(stderr, record, len, off, elen);
}

/* -guess: the library adds a missing "v=spf1 " itself; do the same for
 * the diagnostic so the offsets match. */
static void explain_guess_error(const char *guess) {
  if (mdspf_record_is_spf(guess, strlen(guess))) {
    explain_record_error(guess);
    return;
  }
  static const char prefix[] = "v=spf1 ";
  size_t glen = strlen(guess);
  char *full = malloc(sizeof prefix + glen);
  if (full == NULL)
    return;
  memcpy(full, prefix, sizeof prefix - 1);
  memcpy(full + sizeof prefix - 1, guess, glen + 1);
  explain_record_error(full);
  free(full);
}

/* -override / -fallback "DOMAIN=RECORD" */
static int add_domain_record(mdspf_ctx *ctx, const char *opt,
                             const char *spec) {
  const char *eq = strchr(spec, '=');
  size_t dlen = (size_t)(eq - spec);
  char *domain = malloc(dlen + 1);
  if (domain == NULL) {
    fputs(PROG ": out of memory\n", stderr);
    return -1;
  }
  memcpy(domain, spec, dlen);
  domain[dlen] = '\0';
  const char *record = eq + 1;

  int rc = strcmp(opt, "-override") == 0
               ? mdspf_ctx_add_override(ctx, domain, record)
               : mdspf_ctx_add_fallback(ctx, domain, record);
  if (rc == MDSPF_E_INVAL) {
    fprintf(stderr, PROG ": %s: invalid domain '", opt);
    put_echo(stderr, domain);
    fputs("'\n", stderr);
  } else if (rc == MDSPF_E_SYNTAX) {
    fprintf(stderr, PROG ": %s: invalid SPF record for '", opt);
    put_echo(stderr, domain);
    fputs("'\n", stderr);
    explain_record_error(record);
  } else if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": %s: %s\n", opt, mdspf_strerror(rc));
  }
  free(domain);
  return rc == MDSPF_OK ? 0 : -1;
}

/* Apply every policy option to ctx; 0, or -1 after printing an error. */
static int configure_ctx(mdspf_ctx *ctx, const struct options *o,
                         struct tracer *tracer) {
  int rc;
  const char *receiver = o->name != NULL ? o->name : PROG;

  rc = mdspf_ctx_set_receiver(ctx, receiver);
  if (rc != MDSPF_OK) {
    err_arg("invalid -name", receiver, "");
    return -1;
  }

  if (o->max_lookup != NULL) {
    long n = 0;
    if (parse_long(o->max_lookup, &n) != 0 ||
        mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, n) != MDSPF_OK) {
      err_arg("invalid -max-lookup value", o->max_lookup, " (expected 1..100)");
      return -1;
    }
  }

  if (o->local != NULL) {
    size_t off = 0;
    rc = mdspf_ctx_set_local_policy(ctx, o->local, &off);
    if (rc == MDSPF_E_SYNTAX) {
      fputs(PROG ": invalid -local policy\n", stderr);
      size_t len = strlen(o->local);
      show_span(stderr, o->local, len, off, off < len ? 1 : 0);
      return -1;
    }
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": -local: %s\n", mdspf_strerror(rc));
      return -1;
    }
  }

  if (o->guess != NULL) {
    rc = mdspf_ctx_set_best_guess(ctx, o->guess);
    if (rc != MDSPF_OK) {
      err_arg("invalid -guess record", o->guess, "");
      if (rc == MDSPF_E_SYNTAX)
        explain_guess_error(o->guess);
      return -1;
    }
  }

  if (o->default_exp != NULL) {
    rc = mdspf_ctx_set_default_explanation(ctx, o->default_exp);
    if (rc != MDSPF_OK) {
      err_arg("invalid -default-explanation", o->default_exp,
              rc == MDSPF_E_SYNTAX ? " (bad macro)" : "");
      return -1;
    }
  }

  for (size_t i = 0; i < o->n_overrides; i++)
    if (add_domain_record(ctx, "-override", o->overrides[i]) != 0)
      return -1;
  for (size_t i = 0; i < o->n_fallbacks; i++)
    if (add_domain_record(ctx, "-fallback", o->fallbacks[i]) != 0)
      return -1;

  if (o->debug > 0) {
    rc = mdspf_ctx_set_trace(ctx, trace_event, tracer);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": -debug: %s\n", mdspf_strerror(rc));
      return -1;
    }
  }
  return 0;
}

/* ======================================================================
 * Reporting
 * ==================================================================== */

/* libspf2's numbering of results, used as the exit status. */
static int exit_code(int result) {
  switch (result) {
  case MDSPF_NEUTRAL:
    return 1;
  case MDSPF_PASS:
    return 2;
  case MDSPF_FAIL:
    return 3;
  case MDSPF_SOFTFAIL:
    return 4;
  case MDSPF_NONE:
    return 5;
  case MDSPF_TEMPERROR:
    return 6;
  case MDSPF_PERMERROR:
    return 7;
  default:
    return EXIT_USAGE;
  }
}

/* ASCII case-insensitive equality (domain names). */
static int same_domain(const char *a, const char *b) {
  for (;; a++, b++) {
    unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca >= 'A' && ca <= 'Z')
      ca = (unsigned char)(ca - 'A' + 'a');
    if (cb >= 'A' && cb <= 'Z')
      cb = (unsigned char)(cb - 'A' + 'a');
    if (ca != cb)
      return 0;
    if (ca == '\0')
      return 1;
  }
}

/* The client address as shown in the comment: canonical text when the
 * libc parser agrees (an IPv4-mapped IPv6 address is shown as IPv4, as
 * the library treats it), else exactly as given. */
static void format_ip(const char *ip, char *buf, size_t bufsz) {
  unsigned char a[16];
  if (inet_pton(AF_INET6, ip, a) == 1) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, sizeof mapped) == 0) {
      if (inet_ntop(AF_INET, a + 12, buf, (socklen_t)bufsz) != NULL)
        return;
    } else if (inet_ntop(AF_INET6, a, buf, (socklen_t)bufsz) != NULL) {
      return;
    }
  } else if (inet_pton(AF_INET, ip, a) == 1 &&
             inet_ntop(AF_INET, a, buf, (socklen_t)bufsz) != NULL) {
    return;
  }
  snprintf(buf, bufsz, "%s", ip);
}

/* Line 3, libspf2's wording. */
static void print_comment(FILE *out, const mdspf_check *chk,
                          const char *receiver, const char *ip) {
  int result = mdspf_check_result(chk);
  const char *idom = mdspf_check_identity_domain(chk);
  const char *rdom = mdspf_check_domain(chk);
  const char *domain = rdom != NULL ? rdom : idom;
  if (domain == NULL)
    domain = "(unknown)";
  const char *problem = mdspf_check_problem(chk);
  if (problem == NULL || problem[0] == '\0')
    problem = mdspf_strerror(mdspf_check_reason(chk));

  put_safe(out, receiver);
  fputs(": ", out);
  switch (result) {
  case MDSPF_PASS:
  case MDSPF_FAIL:
    fputs("domain of ", out);
    put_safe(out, domain);
    fputs(result == MDSPF_PASS ? " designates " : " does not designate ", out);
    put_safe(out, ip);
    fputs(" as permitted sender", out);
    break;
  case MDSPF_SOFTFAIL:
    fputs("transitioning domain of ", out);
    put_safe(out, domain);
    fputs(" does not designate ", out);
    put_safe(out, ip);
    fputs(" as permitted sender", out);
    break;
  case MDSPF_NEUTRAL:
    put_safe(out, ip);
    fputs(" is neither permitted nor denied by domain of ", out);
    put_safe(out, domain);
    break;
  case MDSPF_NONE:
    fputs("domain of ", out);
    put_safe(out, domain);
    fputs(" does not provide an SPF record", out);
    break;
  case MDSPF_TEMPERROR:
    fputs("error in processing during lookup of ", out);
    put_safe(out, domain);
    fputs(": ", out);
    put_safe(out, problem);
    break;
  default: /* MDSPF_PERMERROR */
    fputs("permanent error in processing domain of ", out);
    put_safe(out, domain);
    fputs(": ", out);
    put_safe(out, problem);
    break;
  }

  const char *mech = mdspf_check_mechanism(chk);
  if (mech != NULL) {
    fputs(" (matched ", out);
    put_safe(out, mech);
    if (rdom != NULL && (idom == NULL || !same_domain(rdom, idom))) {
      fputs(" in ", out);
      put_safe(out, rdom);
    }
    putc(')', out);
  }

  switch (mdspf_check_source(chk)) {
  case MDSPF_SRC_GUESS:
    fputs(" [best guess]", out);
    break;
  case MDSPF_SRC_LOCAL:
    fputs(" [local policy]", out);
    break;
  case MDSPF_SRC_OVERRIDE:
    fputs(" [override]", out);
    break;
  case MDSPF_SRC_FALLBACK:
    fputs(" [fallback]", out);
    break;
  default:
    break;
  }
  putc('\n', out);
}

/* For a syntax permerror: the record with a caret under the error. */
static void print_syntax_error(FILE *out, const mdspf_check *chk) {
  int code = 0;
  size_t off = 0, len = 0;
  if (mdspf_check_syntax_error(chk, &code, &off, &len) != MDSPF_OK)
    return;
  const char *record = mdspf_check_record(chk);
  const char *domain = mdspf_check_domain(chk);
  fputs(PROG ": ", out);
  fputs(mdspf_syntax_str(code), out);
  if (domain != NULL) {
    fputs(" in SPF record of ", out);
    put_safe(out, domain);
  }
  putc('\n', out);
  if (record != NULL)
    show_span(out, record, strlen(record), off, len);
}

/* The three result lines on stdout (plus a syntax diagnostic on
 * stderr); returns the exit status. */
static int report(const mdspf_check *chk, const char *receiver,
                  const char *ip_text) {
  int result = mdspf_check_result(chk);
  char ip[INET6_ADDRSTRLEN + 1];
  format_ip(ip_text, ip, sizeof ip);

  put_safe(stdout, mdspf_result_str(result));
  putc('\n', stdout);
  if (result == MDSPF_FAIL)
    put_safe(stdout, mdspf_check_explanation(chk));
  putc('\n', stdout);
  print_comment(stdout, chk, receiver, ip);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fputs(PROG ": error writing the result\n", stderr);
    return EXIT_USAGE;
  }

  if (result == MDSPF_PERMERROR)
    print_syntax_error(stderr, chk);
  return exit_code(result);
}

/* ======================================================================
 * Running the check
 * ==================================================================== */

/* Everything run() creates, released by resources_free() on every path. */
struct resources {
  mdspf_zone *zone;
  mdspf_ctx *ctx;
  mdspf_check *chk;
};

static void resources_free(struct resources *r) {
  mdspf_check_free(r->chk); /* before the ctx it is bound to */
  mdspf_ctx_free(r->ctx);
  mdspf_zone_free(r->zone); /* after the check that used it */
}

static int load_zone(struct resources *r, const char *path) {
  char err[PATH_MAX + 512]; /* "file:line: message" */
  err[0] = '\0';
  int rc = mdspf_zone_new(NULL, NULL, &r->zone);
  if (rc == MDSPF_OK)
    rc = mdspf_zone_load_file(r->zone, path, NULL, err, sizeof err);
  if (rc == MDSPF_OK)
    return 0;
  if (err[0] != '\0') {
    put_safe(stderr, err); /* "file:line: message", compiler style */
    putc('\n', stderr);
  } else {
    fprintf(stderr, PROG ": cannot load zone '");
    put_echo(stderr, path);
    fprintf(stderr, "': %s\n", mdspf_strerror(rc));
  }
  return -1;
}

/* Set the identity of the check; 0, or -1 after printing an error. */
static int set_identity(mdspf_check *chk, const struct options *o) {
  if (mdspf_check_set_ip(chk, o->ip) != MDSPF_OK) {
    err_arg("invalid IP address", o->ip, "");
    return -1;
  }
  if (o->sender != NULL && mdspf_check_set_sender(chk, o->sender) != 0) {
    err_arg("invalid -sender", o->sender,
            " (too long or contains control characters)");
    return -1;
  }
  if (o->helo != NULL && mdspf_check_set_helo(chk, o->helo) != 0) {
    err_arg("invalid -helo", o->helo,
            " (too long or contains control characters)");
    return -1;
  }
  if ((o->sender == NULL || o->sender[0] == '\0') &&
      (o->helo == NULL || o->helo[0] == '\0')) {
    fputs(PROG ": nothing to check: -sender and -helo are empty\n", stderr);
    return -1;
  }
  return 0;
}

/* Run the check described by o and print its outcome; returns the exit
 * status. */
static int run(const struct options *o) {
  struct resources r = {NULL, NULL, NULL};
  struct tracer tracer = {stderr};
  const char *receiver = o->name != NULL ? o->name : PROG;
  int status = EXIT_USAGE;
  int rc;

  rc = mdspf_ctx_new(NULL, NULL, &r.ctx);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot create context: %s\n", mdspf_strerror(rc));
    goto out;
  }
  if (configure_ctx(r.ctx, o, &tracer) != 0)
    goto out;

  /* The inputs first, so that they are reported before DNS problems. */
  rc = mdspf_check_new(r.ctx, &r.chk);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot create check: %s\n", mdspf_strerror(rc));
    goto out;
  }
  if (set_identity(r.chk, o) != 0)
    goto out;

  if (o->zone == NULL) {
    fputs(PROG ": no DNS resolver available yet; use --zone FILE\n", stderr);
    goto out;
  }
  if (load_zone(&r, o->zone) != 0)
    goto out;
  rc = mdspf_ctx_set_resolver(r.ctx, mdspf_zone_resolver(r.zone));
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot use the zone: %s\n", mdspf_strerror(rc));
    goto out;
  }

  rc = mdspf_check_run(r.chk, 0);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": check failed: %s\n", mdspf_strerror(rc));
    goto out;
  }

  status = report(r.chk, receiver, o->ip);

out:
  resources_free(&r);
  return status;
}

int main(int argc, char **argv) {
  struct options o;
  int status;

  if (parse_options(argc, argv, &o) != 0) {
    status = EXIT_USAGE;
  } else if (o.help) {
    usage(stdout);
    status = fflush(stdout) == 0 ? 0 : EXIT_USAGE;
  } else if (o.version) {
    printf(PROG " (libmaildrop-spf) %s\n", mdspf_version_str());
    status = fflush(stdout) == 0 ? 0 : EXIT_USAGE;
  } else {
    status = run(&o);
  }
  options_free(&o);
  return status;
}

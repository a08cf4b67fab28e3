/*
 * spfquery -- command-line SPF check, a drop-in for libspf2's spfquery.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Uses only the public API (maildrop-spf/spf.h, maildrop-spf/cares.h).
 * For each check it prints exactly four lines on stdout, as libspf2's
 * spfquery prints them:
 *
 *   1. the result word ("pass", "fail", ...)
 *   2. the SMTP explanation for "fail", else an empty line
 *   3. a comment: "<receiver>: domain of <domain> designates ..."
 *   4. the Received-SPF header field ("Received-SPF: pass (...) ...")
 *
 * and, with --auth-results, a fifth: the Authentication-Results header
 * field.  A record's syntax error is said once, on line 3; stderr shows
 * where it is (the record with a caret line).  With -rcpt-to (libspf2's
 * secondary-MX check) line 1 also carries the recipients' results.  With --json it prints one JSON object on one line instead.  An
 * input line that cannot be checked gets one line ("Invalid IP address."
 * or {"error":...}).  The exit status is the
 * result in libspf2's numbering (neutral 1, pass 2, fail 3, softfail 4,
 * none 5, temperror 6, permerror 7), or 255 for usage errors and
 * unusable input; in batch mode it is the status of the last line.
 *
 * DNS is live (the c-ares backend: the system configuration, or the
 * servers given with --server), or answered from RFC 1035 master files
 * (--zone).  What-if records (--record, -override) are published in an
 * in-memory zone laid over that resolver (mdspf_overlay): they are
 * looked up like published records, so a what-if check gives what the
 * record will give once published, query count included.
 *
 * Cache.  In batch mode (-file) without a trace, and with --cache, a DNS
 * cache (mdspf_cache) sits between the what-if overlay and the live or
 * zone resolver, so checks of the same domains share their lookups and
 * identical lookups in flight are asked once; --no-cache turns it off.
 * Its counters are printed once, after the last check: with --verbose
 * on stderr, and when --cache was asked for, with --json as a last
 * object {"cache":{...}} or with --trace as a last trace line "  cache:
 * ...".  Without --cache the output is one object per check as before,
 * and a check's object never holds counters, so it stays the same
 * whatever --concurrency.
 *
 * Traces.  -debug (stderr) and --trace (stdout, or a "trace" array with
 * --json) collect each check's events in the check's own buffer (the
 * hook is installed per check, and mdspf_event_check confirms the
 * owner), printed with its result: checks keep running concurrently and
 * the output is the same whatever --concurrency.
 *
 * Structure.  The options configure one context.  A "runner" then keeps
 * a window of jobs -- input lines read and not yet printed -- in a ring:
 * it reads lines while fewer than --concurrency checks are in flight and
 * not too many finished results wait, starts each check with
 * mdspf_check_start on the shared context and resolver, drives the
 * resolver and the per-check time budgets, and prints the longest
 * finished prefix of the window, so results come out in input order.  A
 * single check from the command line is a window of one job that runs
 * through the same loop.
 */
#include <maildrop-spf/cares.h>
#include <maildrop-spf/spf.h>

#include "toolutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "spfquery"
#define EXIT_USAGE 255

/* Longest piece of user-supplied text echoed in an error message. */
/* Widest record excerpt shown above a caret line. */
/* Context kept to the left of the error when the excerpt is cut. */
/* Deepest indentation of debug lines (2 spaces per level). */
#define DEBUG_MAX_DEPTH 32
#ifndef PATH_MAX /* optional in POSIX */
#define PATH_MAX 4096
#endif

/* Batch input: longest usable line (octets, newline excluded) and the
 * size of the read buffer (must exceed LINE_MAX_OCTETS). */
#define LINE_MAX_OCTETS 4096
#define READ_BUF_SIZE 65536
/* --concurrency: range and default. */
#define CONCURRENCY_DEFAULT 16
#define CONCURRENCY_MAX 4096
/* Reading stops while more than this many finished results per
 * in-flight slot wait for an earlier, slower line. */
#define WAITING_PER_SLOT 4
/* --timeout: the per-check budget (MDSPF_LIMIT_TIMEOUT_MS's range). */
#define TIMEOUT_DEFAULT_MS 20000
#define TIMEOUT_MAX_MS 3600000
/* The c-ares per-try timeout is half the budget, within these bounds,
 * so that one lost packet does not use up the whole budget. */
#define TRY_TIMEOUT_MAX_MS 2000
#define TRY_TIMEOUT_MIN_MS 50
/* Lines read at most between two passes over the DNS events. */
#define FILL_MAX_LINES 4096
/* Progress line on a terminal: redrawn at most this often. */
#define PROGRESS_INTERVAL_MS 250
/* Sockets watched at once while input is read too: the backend's pool has
 * a socket or two per channel and server (16 channels by default); any
 * beyond these are served by mdspf_cares_wait(c, 0) after the poll. */
#define MAX_WATCH 256

/* ======================================================================
 * Options
 * ==================================================================== */

/* Repeatable option values, in order; they point into argv. */
struct strlist {
  const char **v;
  size_t n;
};

struct options {
  const char *ip;           /* -ip */
  const char *sender;       /* -sender, after sender_normalize() */
  char *sender_buf;         /* the normalised copy sender points to */
  const char *helo;         /* -helo */
  const char *rcpt_to;      /* -rcpt-to: recipients for the secondary-MX
                               check */
  const char *local;        /* -local */
  const char *guess;        /* -guess */
  const char *default_exp;  /* -default-explanation */
  const char *name;         /* -name (receiver) */
  const char *max_lookup;   /* -max-lookup, validated by configure_ctx() */
  const char *file;         /* -file: batch input, "-" = stdin */
  const char *record;       /* --record: what-if record of the identity */
  struct strlist overrides; /* -override DOMAIN=RECORD */
  struct strlist fallbacks; /* -fallback DOMAIN=RECORD */
  struct strlist zones;     /* --zone FILE */
  struct strlist servers;   /* --server LIST (validated) */
  long debug;               /* -debug[=N]; 0 = no trace */
  long timeout_ms;          /* --timeout */
  long lookahead;           /* --lookahead; -1: the library's default */
  long concurrency;         /* --concurrency */
  long trusted;             /* -trusted 0|1: accepted, no effect */
  long sanitize;            /* -sanitize 0|1: accepted, always sanitised */
  int keep_comments;        /* -keep-comments */
  int json;                 /* --json */
  int auth_results;         /* --auth-results */
  int trace;                /* --trace */
  int cache;                /* CACHE_*: --cache, --no-cache */
  int verbose;              /* --verbose: what was set up, on stderr */
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
  OPT_FILE,
  OPT_KEEP_COMMENTS,
  OPT_CONCURRENCY,
  OPT_ZONE,
  OPT_SERVER,
  OPT_TIMEOUT,
  OPT_LOOKAHEAD,
  OPT_JSON,
  OPT_AUTH_RESULTS,
  OPT_TRACE,
  OPT_CACHE,
  OPT_NO_CACHE,
  OPT_VERBOSE,
  OPT_RECORD,
  OPT_RCPT_TO,
  OPT_TRUSTED,
  OPT_SANITIZE,
  OPT_HELP,
  OPT_VERSION
};

enum opt_arg { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

/* options.cache: the default is on for -file batches, off otherwise */
enum { CACHE_DEFAULT = 0, CACHE_ON = 1, CACHE_OFF = 2 };

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
    {"file", OPT_FILE, ARG_REQUIRED},
    {"keep-comments", OPT_KEEP_COMMENTS, ARG_NONE},
    {"concurrency", OPT_CONCURRENCY, ARG_REQUIRED},
    {"zone", OPT_ZONE, ARG_REQUIRED},
    {"server", OPT_SERVER, ARG_REQUIRED},
    {"timeout", OPT_TIMEOUT, ARG_REQUIRED},
    {"lookahead", OPT_LOOKAHEAD, ARG_REQUIRED},
    {"json", OPT_JSON, ARG_NONE},
    {"auth-results", OPT_AUTH_RESULTS, ARG_NONE},
    {"trace", OPT_TRACE, ARG_NONE},
    {"cache", OPT_CACHE, ARG_NONE},
    {"no-cache", OPT_NO_CACHE, ARG_NONE},
    {"verbose", OPT_VERBOSE, ARG_NONE},
    {"record", OPT_RECORD, ARG_REQUIRED},
    {"help", OPT_HELP, ARG_NONE},
    {"version", OPT_VERSION, ARG_NONE},
    /* libspf2's, with libspf2's values */
    {"rcpt-to", OPT_RCPT_TO, ARG_REQUIRED},
    {"trusted", OPT_TRUSTED, ARG_REQUIRED},
    {"sanitize", OPT_SANITIZE, ARG_REQUIRED},
};

static void usage(FILE *out) {
  fputs(
      "Usage: " PROG " -ip ADDR (-sender ADDR | -helo NAME) [-rcpt-to LIST] "
      "[options]\n"
      "       " PROG " -file FILE [options]\n"
      "\n"
      "Evaluate SPF (RFC 7208) for a client IP and a MAIL FROM / HELO "
      "identity.\n"
      "\n"
      "Identity:\n"
      "  -ip ADDR             client IP address (IPv4 or IPv6)\n"
      "  -sender ADDR         MAIL FROM address; postmaster@ is assumed when "
      "it has\n"
      "                       no local part.  Written as in an SMTP log, "
      "\"<ADDR>\"\n"
      "                       is ADDR, and \"<>\", \"-\" or \"\" is the null "
      "sender: the\n"
      "                       HELO name is checked (the same rule as for "
      "-file)\n"
      "  -helo NAME           HELO/EHLO name: checked when the sender is "
      "null or\n"
      "                       absent, otherwise only used for %{h}\n"
      "  -rcpt-to LIST        libspf2's secondary-MX check.  LIST: "
      "recipients (ADDR\n"
      "                       or DOMAIN) separated by ',' or ';'.  While "
      "the result\n"
      "                       is not pass, the next recipient's domain is "
      "checked:\n"
      "                       is the client one of its mail exchangers "
      "(\"v=spf1\n"
      "                       mx:DOMAIN\", as libspf2 checks it)?  A pass "
      "makes the\n"
      "                       result pass (line 3: \"... which is an MX "
      "secondary\n"
      "                       for DOMAIN.\"); any other outcome leaves "
      "the SPF\n"
      "                       result as it is (libspf2 let a neutral or "
      "softfail one\n"
      "                       replace fail, softfail, none and the "
      "errors).  Line 1\n"
      "                       is the SPF result followed, without spaces, "
      "by each\n"
      "                       recipient check's result, as libspf2 prints "
      "it\n"
      "                       (\"softfailneutralpass\")\n"
      "\n"
      "Batch:\n"
      "  -file FILE, -f FILE  check each line \"IP SENDER [HELO [RCPT-TO]]\" "
      "of FILE\n"
      "                       (\"-\": standard input); SENDER as for "
      "-sender, RCPT-TO\n"
      "                       as for -rcpt-to.  Blank lines and lines "
      "starting with\n"
      "                       '#' are skipped.  Results are printed in "
      "input order;\n"
      "                       the exit status is that of the last line\n"
      "  -keep-comments       echo blank and comment lines in place (as "
      "libspf2)\n"
      "  --concurrency N      checks in flight at once (1..4096, default "
      "16)\n"
      "\n"
      "Policy:\n"
      "  -local MECHS         local policy mechanisms, tried before a "
      "final 'all'\n"
      "  -guess RECORD        best-guess record for domains without SPF\n"
      "  -default-explanation STR\n"
      "                       explanation for 'fail' when the record has "
      "no exp=\n"
      "  -name HOST           receiver host name for %{r}, the comment "
      "line and the\n"
      "                       header fields (default: " PROG ")\n"
      "  -fallback DOMAIN=RECORD\n"
      "                       use RECORD when DOMAIN publishes none "
      "(repeatable)\n"
      "  -max-lookup N        limit of DNS-querying terms (1..100, default "
      "10)\n"
      "  -trusted 0|1         accepted for libspf2 scripts, no effect: "
      "libspf2 added\n"
      "                       include:spf.trusted-forwarder.org to the "
      "-local policy,\n"
      "                       a list that no longer exists (name "
      "forwarders in -local)\n"
      "\n"
      "DNS (live, with the system resolver configuration, by default):\n"
      "  --server ADDR[:PORT] ask these name servers instead: IPv4, IPv6, "
      "or\n"
      "                       [IPv6]:PORT (repeatable or comma-separated)\n"
      "  --timeout MS         time budget of each check in milliseconds\n"
      "                       (1..3600000, default 20000)\n"
      "  --lookahead N        DNS queries a check may start ahead of its\n"
      "                       evaluation (0..100, default 10; 0: none).  The\n"
      "                       results are the same; only the waiting and\n"
      "                       the queries sent change\n"
      "  --zone FILE          answer DNS queries from an RFC 1035 master "
      "file\n"
      "                       instead (repeatable: the files form one "
      "zone)\n"
      "  --cache              keep DNS answers for their TTL (at most an "
      "hour)\n"
      "                       and ask identical lookups once; the default "
      "for\n"
      "                       -file batches without --trace or -debug.  "
      "Its\n"
      "                       counters follow the last check: on stderr "
      "with\n"
      "                       --verbose, and when --cache is given, as a "
      "last\n"
      "                       --json object {\"cache\":...} or --trace "
      "line\n"
      "  --no-cache           do not (every check asks the DNS itself)\n"
      "\n"
      "What-if:\n"
      "  --record RECORD      evaluate RECORD as the SPF record of the "
      "checked\n"
      "                       domain (the -sender domain, or the -helo name "
      "for\n"
      "                       the HELO identity): it is published as that "
      "domain's\n"
      "                       only TXT record in an overlay over the DNS, "
      "so the\n"
      "                       result (lookups and queries included) is what "
      "it\n"
      "                       will give once published.  A record that does "
      "not\n"
      "                       parse is published too (permerror), after a "
      "warning.\n"
      "                       Single checks only; wins over an -override of "
      "the\n"
      "                       same domain\n"
      "  -override DOMAIN=RECORD\n"
      "                       publish RECORD as DOMAIN's TXT record in the "
      "same\n"
      "                       way, for any domain (repeatable; the last one "
      "for a\n"
      "                       domain counts)\n"
      "\n"
      "Output:\n"
      "  --json               one JSON object per check, on one line\n"
      "  --auth-results       also print the Authentication-Results header "
      "field\n"
      "                       (a fifth line; \"auth_results\" with --json)\n"
      "  --trace              print the evaluation trace on stdout before "
      "the\n"
      "                       result lines, one event per line, each "
      "starting with\n"
      "                       two spaces and indented by include depth (a "
      "\"trace\"\n"
      "                       array of event objects with --json)\n"
      "  -debug[=N]           print the same trace on stderr, each line "
      "starting\n"
      "                       with \"debug: \" (in batch mode with the input "
      "line\n"
      "                       number first), just before the check's "
      "result\n"
      "  --verbose, -v        after loading --zone files, say on stderr "
      "how many\n"
      "                       records of types the zone does not serve "
      "(SOA, RRSIG,\n"
      "                       SRV, ...) were skipped, by type (--trace "
      "says it too)\n"
      "  -sanitize 0|1        accepted for libspf2 scripts: the output is "
      "always\n"
      "                       sanitised (every octet that is not printable "
      "ASCII\n"
      "                       is shown as '?'), also with -sanitize 0\n"
      "  --help               show this help and exit (so does a lone "
      "-h as the\n"
      "                       last argument)\n"
      "  --version            show the version and exit\n"
      "\n"
      "Every option may be written -opt VALUE, -opt=VALUE, --opt VALUE or\n"
      "--opt=VALUE, and shortened to any prefix that begins no other "
      "option\n"
      "(-send).  libspf2's letters are accepted with libspf2's meaning: "
      "-f file,\n"
      "-i ip, -s sender, -h helo, -r rcpt-to, -l local, -t trusted, -g "
      "guess,\n"
      "-e default-explanation, -m max-lookup, -c sanitize, -n name, -d "
      "debug,\n"
      "-k keep-comments; -v is --verbose (libspf2 printed its version).\n"
      "\n"
      "Output: four lines per check (result, explanation, comment, "
      "Received-SPF\n"
      "header; the -name value is the receiver), five with --auth-results; "
      "a\n"
      "line that cannot be checked gets one line instead (\"Invalid IP "
      "address.\",\n"
      "...).  A syntax error in a record is shown on stderr, the record "
      "with a\n"
      "caret line under the error.\n"
      "Exit status: neutral 1, pass 2, fail 3, softfail 4, none 5, "
      "temperror 6,\n"
      "permerror 7, 255 for usage errors and unusable input.\n",
      out);
}

/* ======================================================================
 * Error messages (untrusted text goes through put_safe, toolutil.h)
 * ==================================================================== */

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

/* ======================================================================
 * JSON output (RFC 8259), always plain ASCII
 * ==================================================================== */

/* The next member's name: ,"key": (no comma before the first). */
static void json_key(FILE *out, const char *key, int *first) {
  if (!*first)
    putc(',', out);
  *first = 0;
  putc('"', out);
  fputs(key, out);
  fputs("\":", out);
}

/* ======================================================================
 * Option parsing
 * ==================================================================== */

/*
 * libspf2's one-letter options (its getopt string), by the long name they
 * stand for.  "-h" is special: libspf2 reads it as -helo, so it is -helo
 * when a value follows and --help when it is the last argument.
 */
static const struct {
  char letter;
  const char *name;
} short_table[] = {
    {'f', "file"},    {'i', "ip"},         {'s', "sender"},
    {'h', "helo"},    {'r', "rcpt-to"},    {'l', "local"},
    {'t', "trusted"}, {'g', "guess"},      {'e', "default-explanation"},
    {'m', "max-lookup"}, {'c', "sanitize"}, {'n', "name"},
    {'d', "debug"},   {'k', "keep-comments"}, {'v', "verbose"},
};

static const struct opt_def *find_exact(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
    if (strlen(opt_table[i].name) == len &&
        memcmp(opt_table[i].name, name, len) == 0)
      return &opt_table[i];
  }
  return NULL;
}

/*
 * The option NAME (LEN octets) stands for, as libspf2's getopt_long_only
 * reads it: an exact long name, a libspf2 letter, or an unambiguous prefix
 * of a long name ("-send").  NULL when unknown; *AMBIGUOUS is then set
 * when NAME is the prefix of more than one long name.
 */
static const struct opt_def *find_option(const char *name, size_t len,
                                         int *ambiguous) {
  *ambiguous = 0;
  const struct opt_def *def = find_exact(name, len);
  if (def != NULL)
    return def;
  if (len == 1) {
    for (size_t i = 0; i < sizeof short_table / sizeof short_table[0]; i++)
      if (short_table[i].letter == name[0])
        return find_exact(short_table[i].name, strlen(short_table[i].name));
    return NULL;
  }
  const struct opt_def *found = NULL;
  for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
    if (strlen(opt_table[i].name) > len &&
        memcmp(opt_table[i].name, name, len) == 0) {
      if (found != NULL && found->id != opt_table[i].id) {
        *ambiguous = 1;
        return NULL;
      }
      found = &opt_table[i];
    }
  }
  return found;
}

/* Decimal in [lo, hi] into *out; -1 after an error naming the option. */
static int parse_ranged(const char *opt, const char *value, long lo, long hi,
                        long *out) {
  long v = 0;
  if (parse_long(value, &v) != 0 || v < lo || v > hi) {
    char tail[64];
    snprintf(tail, sizeof tail, " (expected %ld..%ld)", lo, hi);
    fprintf(stderr, PROG ": invalid %s value '", opt);
    put_echo(stderr, value);
    fprintf(stderr, "'%s\n", tail);
    return -1;
  }
  *out = v;
  return 0;
}

static void options_free(struct options *o) {
  free(o->sender_buf);
  o->sender_buf = NULL;
  free(o->overrides.v);
  free(o->fallbacks.v);
  free(o->zones.v);
  free(o->servers.v);
  o->overrides.v = o->fallbacks.v = o->zones.v = o->servers.v = NULL;
}

/* Store one option's value; returns 0, or -1 after printing an error. */
static int apply_option(struct options *o, const struct opt_def *def,
                        const char *value) {
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
  case OPT_MAX_LOOKUP:
    o->max_lookup = value;
    break;
  case OPT_FILE:
    o->file = value;
    break;
  case OPT_KEEP_COMMENTS:
    o->keep_comments = 1;
    break;
  case OPT_JSON:
    o->json = 1;
    break;
  case OPT_AUTH_RESULTS:
    o->auth_results = 1;
    break;
  case OPT_VERBOSE:
    o->verbose = 1;
    break;
  case OPT_TRACE:
    o->trace = 1;
    break;
  case OPT_CACHE:
    o->cache = CACHE_ON;
    break;
  case OPT_NO_CACHE:
    o->cache = CACHE_OFF;
    break;
  case OPT_RECORD:
    o->record = value;
    break;
  case OPT_CONCURRENCY:
    if (parse_ranged("--concurrency", value, 1, CONCURRENCY_MAX,
                     &o->concurrency) != 0)
      return -1;
    break;
  case OPT_TIMEOUT:
    if (parse_ranged("--timeout", value, 1, TIMEOUT_MAX_MS, &o->timeout_ms) !=
        0)
      return -1;
    break;
  case OPT_LOOKAHEAD:
    if (parse_ranged("--lookahead", value, 0, 100, &o->lookahead) != 0)
      return -1;
    break;
  case OPT_ZONE:
    o->zones.v[o->zones.n++] = value;
    break;
  case OPT_SERVER:
    if (!valid_server_list(value)) {
      err_arg("invalid --server", value,
              " (expected ADDR, ADDR:PORT or [IPv6]:PORT, comma-separated)");
      return -1;
    }
    o->servers.v[o->servers.n++] = value;
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
      o->overrides.v[o->overrides.n++] = value;
    else
      o->fallbacks.v[o->fallbacks.n++] = value;
    break;
  case OPT_DEBUG:
    if (value == NULL) {
      o->debug = 1;
    } else if (parse_long(value, &o->debug) != 0) {
      err_arg("invalid -debug level", value, " (try --help)");
      return -1;
    }
    break;
  case OPT_RCPT_TO:
    o->rcpt_to = value;
    break;
  case OPT_TRUSTED:
    if (parse_ranged("-trusted", value, 0, 1, &o->trusted) != 0)
      return -1;
    break;
  case OPT_SANITIZE:
    if (parse_ranged("-sanitize", value, 0, 1, &o->sanitize) != 0)
      return -1;
    break;
  case OPT_HELP:
    o->help = 1;
    break;
  case OPT_VERSION:
    o->version = 1;
    break;
  }
  return 0;
}

/*
 * The one rule for a sender, from -sender or a -file line, in place:
 * written as in an SMTP log, "<ADDR>" is ADDR, and "<>", "-" and "" are
 * the null reverse-path (the check then uses the HELO identity: "").
 */
static void sender_normalize(char *s) {
  size_t n = strlen(s);
  if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
    memmove(s, s + 1, n - 2);
    s[n - 2] = '\0';
  }
  if (strcmp(s, "-") == 0)
    s[0] = '\0';
}

/* Combinations the single options cannot check, and the sender's
 * normal form; 0 or -1 after an error. */
static int check_option_set(struct options *o) {
  if (o->zones.n > 0 && o->servers.n > 0) {
    fputs(PROG ": --zone and --server cannot be used together (try --help)\n",
          stderr);
    return -1;
  }
  if (o->file != NULL) {
    if (o->record != NULL) {
      fputs(PROG ": --record applies to one check, not to -file (use "
                 "-override DOMAIN=RECORD; try --help)\n",
            stderr);
      return -1;
    }
    if (o->ip != NULL || o->sender != NULL || o->helo != NULL ||
        o->rcpt_to != NULL) {
      fputs(PROG ": -file cannot be combined with -ip, -sender, -helo or "
                 "-rcpt-to (try --help)\n",
            stderr);
      return -1;
    }
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
  if (o->sender != NULL) { /* the rule -file lines follow too */
    o->sender_buf = strdup(o->sender);
    if (o->sender_buf == NULL) {
      fputs(PROG ": out of memory\n", stderr);
      return -1;
    }
    sender_normalize(o->sender_buf);
    o->sender = o->sender_buf;
  }
  return 0;
}

/*
 * Parse argv into *o.  Returns 0 on success (o->help / o->version may be
 * set: parsing stops at the first of them), -1 after printing a one-line
 * error.  Values point into argv; the lists are allocated and released
 * by options_free() on every path.
 */
static int parse_options(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->timeout_ms = TIMEOUT_DEFAULT_MS;
  o->lookahead = -1;
  o->concurrency = CONCURRENCY_DEFAULT;
  size_t cap = argc > 0 ? (size_t)argc : 1;
  o->overrides.v = calloc(cap, sizeof *o->overrides.v);
  o->fallbacks.v = calloc(cap, sizeof *o->fallbacks.v);
  o->zones.v = calloc(cap, sizeof *o->zones.v);
  o->servers.v = calloc(cap, sizeof *o->servers.v);
  if (o->overrides.v == NULL || o->fallbacks.v == NULL || o->zones.v == NULL ||
      o->servers.v == NULL) {
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
    int ambiguous = 0;
    const struct opt_def *def = find_option(name, nlen, &ambiguous);
    if (def != NULL && def->id == OPT_HELO && nlen == 1 && eq == NULL &&
        i + 1 >= argc)
      def = find_exact("help", 4); /* a lone trailing -h asks for help */
    if (def == NULL) {
      err_opt(arg, arglen,
              ambiguous ? "is ambiguous: it begins more than one option "
                          "(try --help)"
                        : "is unknown (try --help)");
      return -1;
    }

    const char *value = NULL;
    if (eq != NULL) {
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

    if (apply_option(o, def, value) != 0)
      return -1;
    if (o->help || o->version)
      return 0;
  }
  return check_option_set(o);
}

/* ======================================================================
 * Jobs, input, the runner: types
 * ==================================================================== */

struct runner;

enum job_state {
  JOB_FREE,    /* slot unused */
  JOB_RUNNING, /* check started, no outcome yet */
  JOB_DONE,    /* outcome available */
  JOB_BAD,     /* the line cannot be checked (job->bad says why) */
  JOB_ECHO     /* -keep-comments: a comment or blank line to echo */
};

enum job_error {
  BAD_NONE,
  BAD_IP,          /* malformed IP address */
  BAD_HELO,        /* HELO name rejected */
  BAD_SENDER,      /* sender rejected */
  BAD_NO_SENDER,   /* batch line without a sender field */
  BAD_NO_IDENTITY, /* null sender and no HELO name */
  BAD_TOO_LONG,    /* line over LINE_MAX_OCTETS */
  BAD_RCPT,        /* a recipient (-rcpt-to) without a usable domain */
  BAD_START        /* mdspf_check_start refused (job->bad_rc) */
};

/* Fields of a batch line that contain a NUL byte. */
enum { NUL_IP = 1, NUL_SENDER = 2, NUL_HELO = 4, NUL_RCPT = 8 };

/* One recipient of -rcpt-to (or of a -file line's fourth field). */
struct rcpt {
  const char *addr;   /* as given, angle brackets removed */
  const char *domain; /* after its last '@', else all of it */
  int result;         /* its secondary-MX check's; 0: not checked */
};

/* A growing text buffer (a check's trace until it is printed); after an
 * allocation failure it keeps what it has and drops the rest. */
struct tbuf {
  char *p;
  size_t len, cap;
  int truncated;
};

struct job {
  struct runner *run;
  enum job_state state;
  enum job_error bad;
  int bad_rc;          /* BAD_START: the mdspf_status */
  const char *bad_rcpt; /* BAD_RCPT: the recipient */
  unsigned long line;  /* input line number; 0 = the command line */
  char *text;          /* owned copy of the line (fields NUL-separated) */
  size_t text_len;     /* length of the line (it may contain NULs) */
  const char *ip;      /* the fields, into text or argv */
  const char *sender;  /* NULL: not given; "": the null sender */
  const char *helo;    /* NULL: not given */
  const char *rcpt_to; /* the recipient list; NULL: none */
  unsigned nul_fields; /* NUL_* */
  int sender_missing;  /* batch line with only an IP */
  int extra_fields;    /* batch line with more than four fields */
  mdspf_check *chk;    /* the SPF check */
  /* -rcpt-to: the recipients (split in rcpt_buf), the next to check,
   * the secondary-MX check running and the one that passed (it then
   * decides the outcome) */
  char *rcpt_buf;
  struct rcpt *rcpts;
  size_t nrcpt, next_rcpt;
  mdspf_check *mx_run;
  mdspf_check *mx_win;
  const struct rcpt *win_rcpt;
  long t_start; /* monotonic ms at mdspf_check_start */
  long elapsed_ms;
  struct tbuf trace; /* --trace: text lines, or JSON event objects */
  struct tbuf debug; /* -debug: lines for stderr */
};

/* Line reader over a file descriptor: bounded buffer, lines of any
 * content (NUL bytes included), over-long lines reported and skipped. */
struct reader {
  int fd;
  int owned;  /* opened here: close it */
  int stream; /* not a regular file: a read may block */
  int eof;
  int skipping; /* discarding the rest of an over-long line */
  unsigned long lineno;
  char *buf; /* READ_BUF_SIZE bytes */
  size_t start, end;
};

/* The resolver: a zone (--zone) or the c-ares backend, and over it the
 * what-if overlay when --record or -override publishes records. */
struct backend {
  mdspf_zone *zone;
  mdspf_cares *cares;
  char *servers;      /* joined --server list, kept while the backend lives */
  mdspf_zone *whatif; /* the what-if records (NULL: none) */
  mdspf_overlay *overlay; /* whatif over zone / cares */
  mdspf_cache *cache;     /* between them (NULL: none) */
  int ready;
};

struct progress {
  int enabled;
  int stdout_tty; /* results share the terminal: clear before printing */
  size_t shown;   /* columns of the progress line on screen; 0 = none */
  long t_begin;
  long t_next;
};

struct runner {
  const struct options *o;
  const char *receiver;
  mdspf_ctx *ctx;
  /* the secondary-MX checks (-rcpt-to) run in a context of their own:
   * receiver, limits and resolver of ctx, none of its policy options;
   * per check an override "v=spf1" of the identity domain and the local
   * policy "mx:DOMAIN" (NULL when no line can have recipients) */
  mdspf_ctx *mxctx;
  mdspf_record *empty_rec; /* "v=spf1" */
  struct backend be;
  struct reader *in; /* batch input; NULL = one check from argv */
  int input_done;
  int read_error;
  int failed;       /* fatal error: stop, exit 255 */
  int status;       /* exit status of the last line printed */
  struct job *ring; /* the window: jobs read and not yet printed */
  size_t cap, head, count;
  size_t in_flight;
  size_t max_flight;
  size_t max_waiting;
  unsigned long checks_done;
  struct progress pg;
};

static long now_ms(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0;
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ======================================================================
 * Progress line (stderr is a terminal, batch mode)
 * ==================================================================== */

static void progress_clear(struct runner *r) {
  if (r->pg.shown == 0)
    return;
  putc('\r', stderr);
  for (size_t i = 0; i < r->pg.shown; i++)
    putc(' ', stderr);
  putc('\r', stderr);
  fflush(stderr);
  r->pg.shown = 0;
}

static void progress_tick(struct runner *r) {
  if (!r->pg.enabled)
    return;
  long now = now_ms();
  if (now < r->pg.t_next)
    return;
  r->pg.t_next = now + PROGRESS_INTERVAL_MS;
  long elapsed = now - r->pg.t_begin;
  unsigned long rate =
      elapsed > 0 ? r->checks_done * 1000UL / (unsigned long)elapsed : 0;
  char line[128];
  int n =
      snprintf(line, sizeof line, PROG ": %lu/?? checks, %lu/s, %zu in flight",
               r->checks_done, rate, r->in_flight);
  if (n < 0)
    return;
  size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  putc('\r', stderr);
  fputs(line, stderr);
  for (size_t i = len; i < r->pg.shown; i++) /* over a longer old line */
    putc(' ', stderr);
  if (len > r->pg.shown)
    r->pg.shown = len;
  fflush(stderr);
}

/* Milliseconds until the next redraw is due, folded into t (-1 = none). */
static long progress_cap(const struct runner *r, long t) {
  if (!r->pg.enabled)
    return t;
  long left = r->pg.t_next - now_ms();
  if (left < 0)
    left = 0;
  return t < 0 || left < t ? left : t;
}

/* ======================================================================
 * Trace hook (-debug, --trace)
 * ==================================================================== */

static void tb_put(struct tbuf *b, const char *s, size_t n) {
  if (b->truncated)
    return;
  if (n > b->cap - b->len) {
    size_t ncap = b->cap ? b->cap : 1024;
    while (ncap - b->len < n) {
      if (ncap > SIZE_MAX / 2) {
        b->truncated = 1;
        return;
      }
      ncap *= 2;
    }
    char *np = realloc(b->p, ncap);
    if (np == NULL) {
      b->truncated = 1;
      return;
    }
    b->p = np;
    b->cap = ncap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void tb_puts(struct tbuf *b, const char *s) { tb_put(b, s, strlen(s)); }

static void tb_putc(struct tbuf *b, char c) { tb_put(b, &c, 1); }

static void tb_putu(struct tbuf *b, unsigned long v) {
  char num[24];
  int n = snprintf(num, sizeof num, "%lu", v);
  if (n > 0)
    tb_put(b, num, (size_t)n);
}

/* Printable ASCII only, like put_safe. */
static void tb_put_safe(struct tbuf *b, const char *s) {
  for (; *s != '\0'; s++)
    tb_putc(b, (*s >= 0x20 && *s < 0x7f) ? *s : '?');
}

/* A JSON string, escaped as json_str_n does. */
static void tb_json_str(struct tbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  tb_putc(b, '"');
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      tb_putc(b, '\\');
      tb_putc(b, (char)c);
    } else if (c < 0x20 || c >= 0x7f) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0f]};
      tb_put(b, e, sizeof e);
    } else {
      tb_putc(b, (char)c);
    }
  }
  tb_putc(b, '"');
}

static void tb_free(struct tbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static const char *event_type_name(int type) {
  static const char *const names[] = {NULL,     "record",  "term",   "query",
                                      "answer", "include", "return", "redirect",
                                      "expand", "limit",   "result"};
  if (type >= 1 && type <= MDSPF_EV_RESULT)
    return names[type];
  return "unknown";
}

/* One event as a JSON object, keys in a fixed order, only those that
 * apply to its type: type, depth, domain, text, result, rrtype,
 * dns_status, count, dns_terms, void_lookups. */
static void event_json(struct tbuf *b, const mdspf_event *ev) {
  int type = mdspf_event_type(ev);
  int has_text = 0, has_result = 0, has_rr = 0, has_answer = 0;
  switch (type) {
  case MDSPF_EV_RECORD:
  case MDSPF_EV_QUERY:
  case MDSPF_EV_EXPAND:
  case MDSPF_EV_LIMIT:
    has_text = 1;
    has_rr = type == MDSPF_EV_QUERY;
    break;
  case MDSPF_EV_ANSWER:
    has_text = has_rr = has_answer = 1;
    break;
  case MDSPF_EV_TERM:
  case MDSPF_EV_RESULT:
    has_text = has_result = 1;
    break;
  case MDSPF_EV_RETURN:
    has_result = 1;
    break;
  default: /* include, redirect: the domain is the target */
    break;
  }
  tb_puts(b, "{\"type\":");
  tb_json_str(b, event_type_name(type));
  tb_puts(b, ",\"depth\":");
  int depth = mdspf_event_depth(ev);
  tb_putu(b, depth > 0 ? (unsigned long)depth : 0UL);
  tb_puts(b, ",\"domain\":");
  tb_json_str(b, mdspf_event_domain(ev));
  if (has_text) {
    tb_puts(b, ",\"text\":");
    tb_json_str(b, mdspf_event_text(ev));
  }
  if (has_result) {
    int res = mdspf_event_result(ev);
    tb_puts(b, ",\"result\":");
    if (res < 0) /* a term that did not match */
      tb_puts(b, "null");
    else
      tb_json_str(b, mdspf_result_str(res));
  }
  if (has_rr) {
    tb_puts(b, ",\"rrtype\":");
    tb_json_str(b, mdspf_rr_type_str(mdspf_event_rrtype(ev)));
  }
  if (has_answer) {
    tb_puts(b, ",\"dns_status\":");
    tb_json_str(b, mdspf_dns_status_str(mdspf_event_dns_status(ev)));
    tb_puts(b, ",\"count\":");
    tb_putu(b, mdspf_event_count(ev));
  }
  tb_puts(b, ",\"dns_terms\":");
  tb_putu(b, mdspf_event_dns_terms(ev));
  tb_puts(b, ",\"void_lookups\":");
  tb_putu(b, mdspf_event_void_lookups(ev));
  tb_putc(b, '}');
}

/* The hook of every traced check: ud is the job the check was created
 * for (the hook is installed just before mdspf_check_new, and each check
 * keeps the one it was created with), so concurrent checks never mix;
 * mdspf_event_check confirms it.  Events go into the job's buffers and
 * are printed with its result (print_job). */
static void trace_event(void *ud, const mdspf_event *ev) {
  struct job *j = ud;
  const struct options *o = j->run->o;
  char small[512];
  char *line = small;
  char *big = NULL;
  size_t needed = 0;

  const mdspf_check *owner = mdspf_event_check(ev);
  if (owner != j->chk && owner != j->mx_run)
    return; /* cannot happen: not this job's check */

  if (o->trace && o->json) {
    /* built apart and appended whole, so that even a buffer cut short
     * by a failed allocation holds complete objects */
    struct tbuf e;
    memset(&e, 0, sizeof e);
    if (j->trace.len > 0)
      tb_putc(&e, ',');
    event_json(&e, ev);
    if (e.truncated)
      j->trace.truncated = 1;
    else
      tb_put(&j->trace, e.p, e.len);
    tb_free(&e);
  }
  if (o->debug <= 0 && !(o->trace && !o->json))
    return;

  int rc = mdspf_event_format(ev, small, sizeof small, &needed);
  if (rc == MDSPF_E_BUFFER && needed < SIZE_MAX) {
    big = malloc(needed + 1);
    if (big != NULL &&
        mdspf_event_format(ev, big, needed + 1, NULL) == MDSPF_OK)
      line = big; /* else: the truncated prefix in small */
  } else if (rc != MDSPF_OK) {
    line = NULL;
  }
  char fallback[64];
  if (line == NULL) {
    snprintf(fallback, sizeof fallback, "(event %d: %s)", mdspf_event_type(ev),
             mdspf_strerror(rc));
    line = fallback;
  }

  int depth = mdspf_event_depth(ev);
  if (depth < 0)
    depth = 0;
  if (depth > DEBUG_MAX_DEPTH)
    depth = DEBUG_MAX_DEPTH;

  if (o->debug > 0) {
    struct tbuf *b = &j->debug;
    if (j->line > 0) {
      tb_putu(b, j->line);
      tb_puts(b, ": ");
    }
    tb_puts(b, "debug: ");
    for (int i = 0; i < depth; i++)
      tb_puts(b, "  ");
    tb_put_safe(b, line);
    tb_putc(b, '\n');
  }
  if (o->trace && !o->json) {
    struct tbuf *b = &j->trace;
    tb_puts(b, "  ");
    for (int i = 0; i < depth; i++)
      tb_puts(b, "  ");
    tb_put_safe(b, line);
    tb_putc(b, '\n');
  }
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
  show_span(stderr, "    ", record, len, off, elen);
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

/* -fallback "DOMAIN=RECORD" */
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

  int rc = mdspf_ctx_add_fallback(ctx, domain, record);
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

/* What every context takes from the options: the receiver, the lookup
 * limit and the per-check budget; 0, or -1 after printing an error. */
static int configure_common(mdspf_ctx *ctx, const struct options *o) {
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

  /* The per-check budget; the trace hook is installed per job. */
  rc = mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_TIMEOUT_MS, o->timeout_ms);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": --timeout: %s\n", mdspf_strerror(rc));
    return -1;
  }
  if (o->lookahead >= 0) {
    rc = mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_LOOKAHEAD, o->lookahead);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": --lookahead: %s\n", mdspf_strerror(rc));
      return -1;
    }
  }
  return 0;
}

/* Apply every option to the SPF checks' context; 0, or -1 after
 * printing an error. */
static int configure_ctx(mdspf_ctx *ctx, const struct options *o) {
  int rc;
  if (configure_common(ctx, o) != 0)
    return -1;

  if (o->local != NULL) {
    size_t off = 0;
    rc = mdspf_ctx_set_local_policy(ctx, o->local, &off);
    if (rc == MDSPF_E_SYNTAX) {
      fputs(PROG ": invalid -local policy\n", stderr);
      size_t len = strlen(o->local);
      show_span(stderr, "    ", o->local, len, off, off < len ? 1 : 0);
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

  /* -override goes to the what-if zone (whatif_overrides), not here */
  for (size_t i = 0; i < o->fallbacks.n; i++)
    if (add_domain_record(ctx, "-fallback", o->fallbacks.v[i]) != 0)
      return -1;
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

/* The check whose outcome is printed: the secondary-MX check that
 * passed (-rcpt-to), else the SPF check. */
static const mdspf_check *job_outcome(const struct job *j) {
  return j->mx_win != NULL ? j->mx_win : j->chk;
}

/* MDSPF_SYN_* as names for --json (the enum's, lower case with '-'). */
static const char *syntax_name(int code) {
  static const char *const names[] = {
      NULL,           "version",      "too-long",    "bad-char",
      "unknown-mech", "missing-arg",  "unexpected-arg", "bad-domain",
      "bad-macro",    "macro-letter", "bad-cidr",    "bad-ip4",
      "bad-ip6",      "dup-modifier", "bad-modifier", "too-many-terms"};
  if (code > 0 && (size_t)code < sizeof names / sizeof names[0])
    return names[code];
  return NULL;
}

/* "spfquery: " or, for a batch line, "spfquery: line N: " on stderr;
 * the results before it go out first (for 2>&1). */
static void err_head(const struct job *j) {
  progress_clear(j->run);
  fflush(stdout);
  fputs(PROG ": ", stderr);
  if (j->line > 0)
    fprintf(stderr, "line %lu: ", j->line);
}

/* For a syntax permerror: where the error is -- the record with a caret
 * under it, and for a misspelt mechanism the names it may have meant.
 * What the error is, line 3 has said: it is not repeated. */
static void print_syntax_error(const struct job *j) {
  const mdspf_check *chk = job_outcome(j);
  int code = 0;
  size_t off = 0, len = 0;
  if (mdspf_check_syntax_error(chk, &code, &off, &len) != MDSPF_OK)
    return;
  size_t rlen = 0;
  const char *record = mdspf_check_record(chk, &rlen);
  const char *domain = mdspf_check_domain(chk);
  char hint[64];
  if (record == NULL)
    return;
  err_head(j);
  fputs("the error in the SPF record", stderr);
  if (domain != NULL) {
    fputs(" of ", stderr);
    put_safe(stderr, domain);
  }
  if (code == MDSPF_SYN_UNKNOWN_MECH &&
      suggest_term(record, rlen, off, len, hint, sizeof hint))
    fprintf(stderr, " (did you mean %s?)", hint);
  fputs(":\n", stderr);
  show_span(stderr, "    ", record, rlen, off, len);
}

/* A header field of a finished check (Received-SPF, or with auth != 0
 * Authentication-Results) naming this host as id; malloc'd, NULL on
 * failure (reported on stderr). */
static char *header_field(const struct job *j, int auth, const char *id) {
  const mdspf_check *chk = job_outcome(j);
  char small[1024];
  size_t needed = 0;
  int rc = auth ? mdspf_check_auth_results(chk, id, small, sizeof small, &needed)
                : mdspf_check_received_spf(chk, id, small, sizeof small, &needed);
  if (rc == MDSPF_OK)
    return strdup(small);
  if (rc == MDSPF_E_BUFFER && needed < SIZE_MAX) {
    char *big = malloc(needed + 1);
    if (big != NULL) {
      rc = auth ? mdspf_check_auth_results(chk, id, big, needed + 1, NULL)
                : mdspf_check_received_spf(chk, id, big, needed + 1, NULL);
      if (rc == MDSPF_OK)
        return big;
      free(big);
    } else {
      rc = MDSPF_E_NOMEM;
    }
  }
  err_head(j);
  fprintf(stderr, "cannot format the %s header field: %s\n",
          auth ? "Authentication-Results" : "Received-SPF", mdspf_strerror(rc));
  return NULL;
}

/* The result lines of a finished check: result, explanation, comment,
 * Received-SPF, and with --auth-results Authentication-Results (an empty
 * line if a header field cannot be made, so the count stays fixed). */
static void print_text_result(const struct runner *r, const struct job *j) {
  const mdspf_check *chk = job_outcome(j);
  int result = mdspf_check_result(chk);
  char ip[INET6_ADDRSTRLEN + 1];
  format_ip(j->ip, ip, sizeof ip);

  /* line 1: with -rcpt-to, the SPF result followed by the result of
   * each recipient check made, without spaces, as libspf2 prints them */
  put_safe(stdout, mdspf_result_str(mdspf_check_result(j->chk)));
  for (size_t k = 0; k < j->nrcpt; k++)
    if (j->rcpts[k].result != 0)
      put_safe(stdout, mdspf_result_str(j->rcpts[k].result));
  putc('\n', stdout);
  if (result == MDSPF_FAIL)
    put_safe(stdout, mdspf_check_explanation(chk));
  putc('\n', stdout);
  if (j->mx_win != NULL) { /* libspf2's wording for its 2mx pass */
    put_safe(stdout, r->receiver);
    fputs(": message received from ", stdout);
    put_safe(stdout, ip);
    fputs(" which is an MX secondary for ", stdout);
    put_safe(stdout, j->win_rcpt->domain);
    fputs(".\n", stdout);
  } else {
    print_comment(stdout, chk, r->receiver, ip);
  }
  char *h = header_field(j, 0, r->receiver);
  put_safe(stdout, h);
  putc('\n', stdout);
  free(h);
  if (r->o->auth_results) {
    h = header_field(j, 1, r->receiver);
    put_safe(stdout, h);
    putc('\n', stdout);
    free(h);
  }
}

static const char *source_name(int source) {
  switch (source) {
  case MDSPF_SRC_DNS:
    return "dns";
  case MDSPF_SRC_OVERRIDE:
    return "override";
  case MDSPF_SRC_FALLBACK:
    return "fallback";
  case MDSPF_SRC_GUESS:
    return "guess";
  case MDSPF_SRC_LOCAL:
    return "local";
  default:
    return NULL;
  }
}

/* {"line":N, -- or { for the command line; *first tells json_key. */
static void json_open(const struct job *j, int *first) {
  putc('{', stdout);
  *first = 1;
  if (j->line > 0) {
    json_key(stdout, "line", first);
    printf("%lu", j->line);
  }
}

/* "syntax_error": null, or for a syntax permerror the error's code
 * (name and number), message, where it is in the record (offset and
 * length in octets), the record and the names a misspelt mechanism may
 * have meant. */
static void json_syntax_error(FILE *out, const mdspf_check *chk) {
  int code = 0, first = 1;
  size_t off = 0, len = 0, rlen = 0;
  char hint[64];
  const char *record = mdspf_check_record(chk, &rlen);
  if (mdspf_check_syntax_error(chk, &code, &off, &len) != MDSPF_OK ||
      record == NULL) {
    fputs("null", out);
    return;
  }
  putc('{', out);
  json_key(out, "code", &first);
  json_str(out, syntax_name(code));
  json_key(out, "number", &first);
  fprintf(out, "%d", code);
  json_key(out, "message", &first);
  json_str(out, mdspf_syntax_str(code));
  json_key(out, "offset", &first);
  fprintf(out, "%zu", off);
  json_key(out, "length", &first);
  fprintf(out, "%zu", len);
  json_key(out, "record", &first);
  json_str_n(out, record, rlen);
  json_key(out, "suggestion", &first);
  json_str(out, code == MDSPF_SYN_UNKNOWN_MECH &&
                        suggest_term(record, rlen, off, len, hint, sizeof hint)
                    ? hint
                    : NULL);
  putc('}', out);
}

/* "rcpt_to": the SPF check's own result and each recipient's secondary-MX
 * check (result null: not checked, as an earlier one passed or the SPF
 * result was pass). */
static void json_rcpt_to(FILE *out, const struct job *j) {
  int first = 1;
  putc('{', out);
  json_key(out, "spf_result", &first);
  json_str(out, mdspf_result_str(mdspf_check_result(j->chk)));
  json_key(out, "recipients", &first);
  putc('[', out);
  for (size_t k = 0; k < j->nrcpt; k++) {
    int f = 1;
    const struct rcpt *rc = &j->rcpts[k];
    if (k > 0)
      putc(',', out);
    putc('{', out);
    json_key(out, "recipient", &f);
    json_str(out, rc->addr);
    json_key(out, "domain", &f);
    json_str(out, rc->domain);
    json_key(out, "result", &f);
    json_str(out, rc->result != 0 ? mdspf_result_str(rc->result) : NULL);
    putc('}', out);
  }
  fputs("]}", out);
}

/* One JSON object for a finished check; the keys in a fixed order.  With
 * -rcpt-to, the members up to "received_spf" describe the check that
 * decided (a recipient's secondary-MX check that passed: source
 * "secondary-mx"), and "rcpt_to" has them all. */
/* The cache's counters as a JSON object. */
static void json_cache(FILE *out, const mdspf_cache *c) {
  mdspf_cache_counters k;
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  (void)mdspf_cache_stats(c, &k);
  fprintf(out,
          "{\"hits\":%llu,\"misses\":%llu,\"coalesced\":%llu,"
          "\"expired\":%llu,\"evicted\":%llu,\"stored\":%llu,"
          "\"entries\":%llu,\"bytes\":%llu,\"inflight\":%llu}",
          (unsigned long long)k.hits, (unsigned long long)k.misses,
          (unsigned long long)k.coalesced, (unsigned long long)k.expired,
          (unsigned long long)k.evicted, (unsigned long long)k.stored,
          (unsigned long long)k.entries, (unsigned long long)k.bytes,
          (unsigned long long)k.inflight);
}

/* The cache's counters as one text line ("cache: hits N, ..."). */
static void text_cache(FILE *out, const char *prefix, const mdspf_cache *c) {
  mdspf_cache_counters k;
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  (void)mdspf_cache_stats(c, &k);
  fprintf(out,
          "%scache: hits %llu, misses %llu, coalesced %llu, expired %llu, "
          "evicted %llu, stored %llu, entries %llu, bytes %llu, "
          "inflight %llu\n",
          prefix, (unsigned long long)k.hits, (unsigned long long)k.misses,
          (unsigned long long)k.coalesced, (unsigned long long)k.expired,
          (unsigned long long)k.evicted, (unsigned long long)k.stored,
          (unsigned long long)k.entries, (unsigned long long)k.bytes,
          (unsigned long long)k.inflight);
}

static void print_json_result(const struct runner *r, const struct job *j) {
  const mdspf_check *chk = job_outcome(j);
  FILE *out = stdout;
  int first;
  json_open(j, &first);
  json_key(out, "ip", &first);
  json_str(out, j->ip);
  json_key(out, "sender", &first);
  json_str(out, j->sender);
  json_key(out, "helo", &first);
  json_str(out, j->helo);
  json_key(out, "identity", &first);
  json_str(out,
           mdspf_check_identity(chk) == MDSPF_ID_HELO ? "helo" : "mailfrom");
  json_key(out, "domain", &first);
  json_str(out, mdspf_check_identity_domain(chk));
  json_key(out, "result", &first);
  json_str(out, mdspf_result_str(mdspf_check_result(chk)));
  json_key(out, "explanation", &first);
  json_str(out, mdspf_check_explanation(chk));
  json_key(out, "mechanism", &first);
  json_str(out, mdspf_check_mechanism(chk));
  json_key(out, "matched_domain", &first);
  json_str(out, mdspf_check_domain(chk));
  json_key(out, "source", &first);
  json_str(out, j->mx_win != NULL ? "secondary-mx"
                                  : source_name(mdspf_check_source(chk)));
  json_key(out, "problem", &first);
  json_str(out, mdspf_check_problem(chk));
  json_key(out, "syntax_error", &first);
  json_syntax_error(out, chk);
  json_key(out, "dns_terms", &first);
  fprintf(out, "%u", mdspf_check_dns_terms(chk));
  json_key(out, "void_lookups", &first);
  fprintf(out, "%u", mdspf_check_void_lookups(chk));
  json_key(out, "queries", &first);
  fprintf(out, "%u", mdspf_check_queries(chk));
  json_key(out, "elapsed_ms", &first);
  fprintf(out, "%ld", j->elapsed_ms);
  char *h = header_field(j, 0, r->receiver);
  json_key(out, "received_spf", &first);
  json_str(out, h);
  free(h);
  if (r->o->auth_results) {
    h = header_field(j, 1, r->receiver);
    json_key(out, "auth_results", &first);
    json_str(out, h);
    free(h);
  }
  if (j->nrcpt > 0) {
    json_key(out, "rcpt_to", &first);
    json_rcpt_to(out, j);
  }
  if (r->o->trace) {
    json_key(out, "trace", &first);
    putc('[', out);
    if (j->trace.len > 0)
      fwrite(j->trace.p, 1, j->trace.len, out);
    putc(']', out);
  }
  fputs("}\n", out);
}

/* libspf2's stdout line for an unusable line (NULL: none). */
static const char *bad_stdout_line(enum job_error e) {
  switch (e) {
  case BAD_IP:
    return "Invalid IP address.";
  case BAD_HELO:
  case BAD_NO_IDENTITY:
    return "Invalid HELO domain.";
  case BAD_SENDER:
  case BAD_NO_SENDER:
    return "Invalid envelope from address.";
  case BAD_TOO_LONG:
    return "Invalid input line.";
  case BAD_RCPT:
    return "Invalid recipient address.";
  case BAD_NONE:
  case BAD_START:
    break;
  }
  return NULL;
}

/* What is wrong, without the offending value; *echo (if any) is the
 * value to quote on stderr, *why what follows it. */
static const char *bad_what(const struct job *j, const char **echo,
                            const char **why) {
  static const char bad_text[] = " (too long or contains control characters)";
  static const char nul_text[] = " (contains a NUL byte)";
  *echo = NULL;
  *why = "";
  switch (j->bad) {
  case BAD_IP:
    *echo = j->ip;
    if ((j->nul_fields & NUL_IP) != 0)
      *why = nul_text;
    return "invalid IP address";
  case BAD_HELO:
    *echo = j->helo;
    *why = (j->nul_fields & NUL_HELO) != 0 ? nul_text : bad_text;
    return "invalid HELO name";
  case BAD_SENDER:
    *echo = j->sender;
    *why = (j->nul_fields & NUL_SENDER) != 0 ? nul_text : bad_text;
    return "invalid sender";
  case BAD_NO_SENDER:
    return "missing sender";
  case BAD_NO_IDENTITY:
    return "nothing to check: the sender and the HELO name are empty";
  case BAD_TOO_LONG:
    return "line longer than 4096 octets";
  case BAD_RCPT:
    *echo = j->bad_rcpt;
    *why = (j->nul_fields & NUL_RCPT) != 0
               ? nul_text
               : " (expected ADDRESS or DOMAIN with a plain domain name: "
                 "letters, digits, '-', '_' and '.')";
    return "invalid recipient";
  case BAD_NONE:
  case BAD_START:
    break;
  }
  *why = mdspf_strerror(j->bad_rc);
  return "cannot start the check: ";
}

/* An unusable line: libspf2's one stdout line (or {"error":...}) and a
 * message on stderr. */
static void print_bad(const struct runner *r, const struct job *j) {
  const char *echo, *why;
  const char *what = bad_what(j, &echo, &why);

  if (r->o->json) {
    int first;
    char msg[256];
    snprintf(msg, sizeof msg, "%s%s", what, why);
    json_open(j, &first);
    json_key(stdout, "error", &first);
    json_str(stdout, msg);
    fputs("}\n", stdout);
  } else {
    const char *line = bad_stdout_line(j->bad);
    if (line != NULL)
      puts(line);
  }

  err_head(j);
  fputs(what, stderr);
  if (echo != NULL) {
    fputs(" '", stderr);
    put_echo(stderr, echo);
    putc('\'', stderr);
  }
  fputs(why, stderr);
  putc('\n', stderr);
}

/* -keep-comments: the line as read (sanitised), or {"line":N,
 * "comment":...} with --json. */
static void print_echo(const struct runner *r, const struct job *j) {
  if (r->o->json) {
    int first;
    json_open(j, &first);
    json_key(stdout, "comment", &first);
    json_str_n(stdout, j->text, j->text_len);
    fputs("}\n", stdout);
  } else {
    for (size_t i = 0; i < j->text_len; i++) { /* tabs kept, as written */
      if (j->text[i] == '\t')
        putc('\t', stdout);
      else
        put_safe_n(stdout, j->text + i, 1);
    }
    putc('\n', stdout);
  }
}

/* Print one finished job; returns its exit status (-1 for an echo). */
static int print_job(struct runner *r, const struct job *j) {
  if (j->state == JOB_ECHO) {
    print_echo(r, j);
    return -1;
  }
  if (j->debug.len > 0) { /* -debug: the trace, just before the result */
    progress_clear(r);
    fflush(stdout);
    fwrite(j->debug.p, 1, j->debug.len, stderr);
    if (j->debug.truncated)
      fputs("debug: (trace truncated: out of memory)\n", stderr);
    fflush(stderr);
  }
  if (j->trace.len > 0 && !r->o->json) {
    fwrite(j->trace.p, 1, j->trace.len, stdout);
    if (j->trace.truncated)
      fputs("  (trace truncated: out of memory)\n", stdout);
  }

  if (j->extra_fields) {
    err_head(j);
    fputs("fields after the recipients ignored\n", stderr);
  }
  if (j->state == JOB_BAD) {
    print_bad(r, j);
    return EXIT_USAGE;
  }
  int result = mdspf_check_result(job_outcome(j));
  if (r->o->json) {
    print_json_result(r, j); /* the syntax error is in the object */
  } else {
    print_text_result(r, j);
    if (result == MDSPF_PERMERROR)
      print_syntax_error(j);
  }
  return exit_code(result);
}

/* ======================================================================
 * DNS backends
 * ==================================================================== */

/* Load every --zone file into one zone; 0, or -1 after an error. */
/*
 * With --verbose (on stderr) or --trace (on stdout, as a trace line), one
 * line after the zone files are loaded: the records of types the zone does not serve (SOA, RRSIG, SRV,
 * ...), which the loader skipped, by type.  Nothing in them can change an
 * SPF result, but a record someone expected to be served may be among
 * them.
 */
static void report_skipped(FILE *out, const char *lead,
                           const mdspf_zone *zone, size_t files) {
  fprintf(out, "%s%zu zone file%s loaded; ", lead, files,
          files == 1 ? "" : "s");
  size_t n = mdspf_zone_skipped(zone, 0, NULL, NULL);
  if (n == 0) {
    fputs("no records skipped\n", out);
    return;
  }
  unsigned long total = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned long count = 0;
    (void)mdspf_zone_skipped(zone, i, NULL, &count);
    total += count;
  }
  fprintf(out, "%lu record%s of types not served skipped:", total,
          total == 1 ? "" : "s");
  for (size_t i = 0; i < n; i++) {
    const char *type = NULL;
    unsigned long count = 0;
    (void)mdspf_zone_skipped(zone, i, &type, &count);
    fputc(' ', out);
    put_safe(out, type != NULL ? type : "?");
    fprintf(out, "=%lu", count);
  }
  fputc('\n', out);
}

static int load_zones(struct backend *b, const struct options *o) {
  char err[PATH_MAX + 512]; /* "file:line: message" */
  int rc = mdspf_zone_new(NULL, NULL, &b->zone);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot create the zone: %s\n", mdspf_strerror(rc));
    return -1;
  }
  for (size_t i = 0; i < o->zones.n; i++) {
    const char *path = o->zones.v[i];
    err[0] = '\0';
    rc = mdspf_zone_load_file(b->zone, path, NULL, err, sizeof err);
    if (rc == MDSPF_OK)
      continue;
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
  if (o->verbose)
    report_skipped(stderr, PROG ": ", b->zone, o->zones.n);
  if (o->trace && !o->json) /* a trace line of its own, before the checks */
    report_skipped(stdout, "  ", b->zone, o->zones.n);
  return 0;
}

/* The --server values as one comma-separated list (NULL: none). */
static char *join_servers(const struct strlist *l) {
  size_t total = 1;
  for (size_t i = 0; i < l->n; i++)
    total += strlen(l->v[i]) + 1;
  if (l->n == 0)
    return NULL;
  char *s = malloc(total);
  if (s == NULL)
    return NULL;
  s[0] = '\0';
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

/* The c-ares backend: system configuration or --server. */
static int open_cares(struct backend *b, const struct options *o) {
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
  long try_ms = o->timeout_ms / 2;
  if (try_ms > TRY_TIMEOUT_MAX_MS)
    try_ms = TRY_TIMEOUT_MAX_MS;
  if (try_ms < TRY_TIMEOUT_MIN_MS)
    try_ms = TRY_TIMEOUT_MIN_MS;
  co.timeout_ms = (int)try_ms;

  int rc = mdspf_cares_new(&co, &b->cares);
  if (rc == MDSPF_OK)
    return 0;
  if (rc == MDSPF_E_DNS)
    fputs(PROG ": cannot set up DNS: no usable resolver configuration "
               "(try --server ADDR or --zone FILE)\n",
          stderr);
  else
    fprintf(stderr, PROG ": cannot set up DNS: %s\n", mdspf_strerror(rc));
  return -1;
}

/* ======================================================================
 * What-if records (--record, -override)
 * ==================================================================== */

/* The identity domain a check of (sender, helo) evaluates: the domain
 * part of a non-empty sender (the whole sender without '@'), else the
 * HELO name (NULL if none). */
static const char *identity_domain(const char *sender, const char *helo) {
  if (sender != NULL && sender[0] != '\0') {
    const char *at = strrchr(sender, '@');
    return at != NULL ? at + 1 : sender;
  }
  return helo;
}

/* Domain names a[0..an) and b[0..bn) equal, ignoring case and one
 * trailing dot on either. */
static int same_name(const char *a, size_t an, const char *b, size_t bn) {
  if (an > 0 && a[an - 1] == '.')
    an--;
  if (bn > 0 && b[bn - 1] == '.')
    bn--;
  if (an != bn)
    return 0;
  for (size_t i = 0; i < an; i++) {
    unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
    if (ca >= 'A' && ca <= 'Z')
      ca = (unsigned char)(ca - 'A' + 'a');
    if (cb >= 'A' && cb <= 'Z')
      cb = (unsigned char)(cb - 'A' + 'a');
    if (ca != cb)
      return 0;
  }
  return 1;
}

/* A published what-if record that is not a valid SPF record: say so (it
 * stays published, so the check shows what it would do for real).  What
 * is wrong and where, a check that reaches the record reports, once. */
static void warn_record(const char *opt, const char *domain,
                        const char *record) {
  size_t len = strlen(record);
  mdspf_record *rec = NULL;
  int rc = mdspf_record_parse(record, len, NULL, NULL, &rec, NULL, NULL, NULL);
  mdspf_record_free(rec);
  if (rc == MDSPF_OK)
    return;
  fprintf(stderr, PROG ": warning: the %s for '",
          strcmp(opt, "--record") == 0 ? "--record text" : "-override record");
  put_echo(stderr, domain);
  if (!mdspf_record_is_spf(record, len)) {
    fputs("' does not start with \"v=spf1\": published as is, the domain "
          "has no SPF record\n",
          stderr);
  } else if (rc == MDSPF_E_SYNTAX) {
    fputs("' does not parse (published as is: a check that reaches it "
          "gives permerror)\n",
          stderr);
  } else {
    fprintf(stderr, "' cannot be parsed: %s\n", mdspf_strerror(rc));
  }
}

/* Publish record as a TXT record of domain (one string: the zone is lax)
 * in the what-if zone, created on first use; 0, or -1 after an error. */
static int whatif_publish(struct backend *b, const char *opt,
                          const char *domain, size_t dlen, const char *record) {
  size_t len = strlen(record);
  int rc;
  if (len > MDSPF_MAX_RECORD) {
    fprintf(stderr, PROG ": %s: the record is longer than %d octets\n", opt,
            MDSPF_MAX_RECORD);
    return -1;
  }
  if (b->whatif == NULL) {
    rc = mdspf_zone_new(NULL, NULL, &b->whatif);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": cannot create the what-if zone: %s\n",
              mdspf_strerror(rc));
      return -1;
    }
    mdspf_zone_set_flags(b->whatif, MDSPF_ZONE_LAX);
  }
  char *name = malloc(dlen + 1);
  if (name == NULL) {
    fputs(PROG ": out of memory\n", stderr);
    return -1;
  }
  memcpy(name, domain, dlen);
  name[dlen] = '\0';
  const char *strings[1] = {record};
  rc = mdspf_zone_add_txt(b->whatif, name, strings, &len, 1);
  if (rc == MDSPF_OK) {
    warn_record(opt, name, record);
  } else if (rc == MDSPF_E_INVAL) {
    fprintf(stderr, PROG ": %s: invalid domain '", opt);
    put_echo(stderr, name);
    fputs("'\n", stderr);
  } else {
    fprintf(stderr, PROG ": %s: %s\n", opt, mdspf_strerror(rc));
  }
  free(name);
  return rc == MDSPF_OK ? 0 : -1;
}

/* -override DOMAIN=RECORD: each the TXT record of its domain; the last
 * one for a domain counts, and --record wins for the checked domain.
 * 0, or -1 after an error. */
static int whatif_overrides(struct backend *b, const struct options *o) {
  const char *idom =
      o->record != NULL ? identity_domain(o->sender, o->helo) : NULL;
  for (size_t i = 0; i < o->overrides.n; i++) {
    const char *spec = o->overrides.v[i];
    const char *eq = strchr(spec, '=');
    size_t dlen = (size_t)(eq - spec);
    int skip = idom != NULL && same_name(spec, dlen, idom, strlen(idom));
    for (size_t k = i + 1; k < o->overrides.n && !skip; k++) {
      const char *later = o->overrides.v[k];
      skip = same_name(later, (size_t)(strchr(later, '=') - later), spec, dlen);
    }
    if (!skip && whatif_publish(b, "-override", spec, dlen, eq + 1) != 0)
      return -1;
  }
  return 0;
}

/* --record: the TXT record of the checked domain; 0, or -1 after an
 * error. */
static int whatif_record(struct backend *b, const struct options *o) {
  const char *domain = identity_domain(o->sender, o->helo);
  if (domain == NULL || domain[0] == '\0') {
    fputs(PROG ": --record: the check has no domain to publish the record "
               "for\n",
          stderr);
    return -1;
  }
  return whatif_publish(b, "--record", domain, strlen(domain), o->record);
}

/* Create the resolver and hand it to the context; 0, or -1 after an
 * error.  In batch mode answers from a zone are deferred (first in,
 * first out), so that concurrent checks really interleave -- and with
 * --concurrency 1 too, so that every outcome, the query count included,
 * is the same whatever the concurrency.  What-if records go in a zone
 * laid over that resolver (inline answers: nothing to drive). */
static int backend_open(struct runner *r) {
  struct backend *b = &r->be;
  const mdspf_resolver *res;
  if (r->o->record != NULL && whatif_record(b, r->o) != 0)
    return -1;
  if (r->o->zones.n > 0) {
    if (load_zones(b, r->o) != 0)
      return -1;
    if (r->in != NULL)
      (void)mdspf_zone_set_delivery(b->zone, MDSPF_ZONE_DEFERRED_FIFO);
    res = mdspf_zone_resolver(b->zone);
  } else {
    if (open_cares(b, r->o) != 0)
      return -1;
    res = mdspf_cares_resolver(b->cares);
  }
  int rc;
  /* By default only in batch mode, and not with a trace: a check's trace
   * shows its own lookups in the order they are answered, the same
   * whatever --concurrency, which a shared cache would change. */
  if (r->o->cache == CACHE_ON ||
      (r->o->cache == CACHE_DEFAULT && r->in != NULL && !r->o->trace &&
       r->o->debug <= 0)) {
    /* below the what-if overlay: its records never enter the cache */
    rc = mdspf_cache_new(res, NULL, &b->cache);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": cannot create the DNS cache: %s\n",
              mdspf_strerror(rc));
      return -1;
    }
    res = mdspf_cache_resolver(b->cache);
  }
  if (b->whatif != NULL) {
    rc = mdspf_overlay_new(NULL, NULL, b->whatif, res, &b->overlay);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": cannot create the what-if overlay: %s\n",
              mdspf_strerror(rc));
      return -1;
    }
    res = mdspf_overlay_resolver(b->overlay);
  }
  rc = mdspf_ctx_set_resolver(r->ctx, res);
  if (rc == MDSPF_OK && r->mxctx != NULL)
    rc = mdspf_ctx_set_resolver(r->mxctx, res);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot use the resolver: %s\n", mdspf_strerror(rc));
    return -1;
  }
  b->ready = 1;
  return 0;
}

/* After the context (and with it every check) is gone. */
static void backend_close(struct backend *b) {
  mdspf_overlay_free(b->overlay); /* before what it lies over */
  mdspf_zone_free(b->whatif);
  mdspf_cache_free(b->cache);
  mdspf_cares_free(b->cares);
  mdspf_zone_free(b->zone);
  free(b->servers);
  memset(b, 0, sizeof *b);
}

/* ======================================================================
 * Batch input
 * ==================================================================== */

static void reader_init(struct reader *rd) {
  memset(rd, 0, sizeof *rd);
  rd->fd = -1;
}

/* Open FILE ("-" = stdin); 0, or -1 after an error. */
static int reader_open(struct reader *rd, const char *path) {
  struct stat st;
  rd->buf = malloc(READ_BUF_SIZE);
  if (rd->buf == NULL) {
    fputs(PROG ": out of memory\n", stderr);
    return -1;
  }
  if (strcmp(path, "-") == 0) {
    rd->fd = STDIN_FILENO;
  } else {
    rd->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->fd < 0) {
      int e = errno;
      err_arg("cannot open", path, "");
      fprintf(stderr, PROG ": %s\n", strerror(e));
      return -1;
    }
    rd->owned = 1;
  }
  if (fstat(rd->fd, &st) != 0) {
    int e = errno;
    err_arg("cannot read", path, "");
    fprintf(stderr, PROG ": %s\n", strerror(e));
    return -1;
  }
  if (S_ISDIR(st.st_mode)) {
    err_arg("cannot read", path, ": it is a directory");
    return -1;
  }
  rd->stream = !S_ISREG(st.st_mode);
  return 0;
}

static void reader_close(struct reader *rd) {
  if (rd->owned && rd->fd >= 0)
    close(rd->fd);
  free(rd->buf);
  reader_init(rd);
}

/* One read(2) into the buffer: 1 = data (or nothing yet), 0 = end of
 * input, -1 = error (printed). */
static int reader_fill(struct reader *rd) {
  if (rd->start > 0) {
    memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
    rd->end -= rd->start;
    rd->start = 0;
  }
  for (;;) {
    ssize_t n = read(rd->fd, rd->buf + rd->end, READ_BUF_SIZE - rd->end);
    if (n > 0) {
      rd->end += (size_t)n;
      return 1;
    }
    if (n == 0) {
      rd->eof = 1;
      return 0;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return 1;
    fprintf(stderr, PROG ": error reading the input: %s\n", strerror(errno));
    return -1;
  }
}

enum { TAKE_LINE, TAKE_TOO_LONG, TAKE_NEED, TAKE_EOF };

/* The next line from the buffer (without its newline; valid until the
 * next reader_fill), or why there is none.  Lines over LINE_MAX_OCTETS
 * are reported once and skipped up to their newline. */
static int reader_take(struct reader *rd, const char **line, size_t *len) {
  for (;;) {
    char *p = rd->buf + rd->start;
    size_t avail = rd->end - rd->start;
    char *nl = memchr(p, '\n', avail);
    if (rd->skipping) {
      if (nl == NULL) {
        rd->start = rd->end = 0;
        return rd->eof ? TAKE_EOF : TAKE_NEED;
      }
      rd->start += (size_t)(nl - p) + 1;
      rd->skipping = 0;
      continue;
    }
    if (nl != NULL) {
      size_t n = (size_t)(nl - p);
      rd->start += n + 1;
      rd->lineno++;
      if (n > LINE_MAX_OCTETS)
        return TAKE_TOO_LONG;
      *line = p;
      *len = n;
      return TAKE_LINE;
    }
    if (avail > LINE_MAX_OCTETS) {
      rd->lineno++;
      rd->skipping = 1;
      rd->start = rd->end = 0;
      return TAKE_TOO_LONG;
    }
    if (rd->eof) {
      if (avail == 0)
        return TAKE_EOF;
      rd->start = rd->end; /* a last line without newline */
      rd->lineno++;
      *line = p;
      *len = avail;
      return TAKE_LINE;
    }
    return TAKE_NEED;
  }
}

static int fd_readable(int fd) {
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, 0) > 0;
}

/* Separators between fields: libspf2 splits on " \t\n"; '\r' for CRLF
 * files, '\v' and '\f' for good measure. */
static int is_field_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* ======================================================================
 * Jobs
 * ==================================================================== */

static void job_reset(struct job *j, struct runner *r, unsigned long line) {
  memset(j, 0, sizeof *j);
  j->run = r;
  j->line = line;
}

/* Printed (or abandoned): free what the job owns. */
static void job_release(struct job *j) {
  mdspf_check_free(j->chk); /* cancels a running check */
  mdspf_check_free(j->mx_run);
  mdspf_check_free(j->mx_win);
  tb_free(&j->trace);
  tb_free(&j->debug);
  free(j->text);
  free(j->rcpt_buf);
  free(j->rcpts);
  memset(j, 0, sizeof *j);
}

/*
 * Turn an input line into a job: 0 = nothing to do (blank or comment
 * line without -keep-comments), 1 = *j filled (a check to start, or a
 * line to echo), -1 = out of memory.  The fields are libspf2's: IP,
 * sender, HELO name, recipients.
 */
static int job_from_line(struct runner *r, struct job *j, const char *line,
                         size_t len, unsigned long lineno) {
  static const unsigned nul_flag[4] = {NUL_IP, NUL_SENDER, NUL_HELO,
                                       NUL_RCPT};
  size_t i = 0;
  if (len > 0 && line[len - 1] == '\r')
    len--; /* CRLF line end */
  while (i < len && is_field_space(line[i]))
    i++;
  int comment = i == len || line[i] == '#';
  if (comment && !r->o->keep_comments)
    return 0;

  job_reset(j, r, lineno);
  j->text = malloc(len + 1);
  if (j->text == NULL)
    return -1;
  memcpy(j->text, line, len);
  j->text[len] = '\0';
  j->text_len = len;
  if (comment) {
    j->state = JOB_ECHO;
    return 1;
  }

  /* Split in place: each field ends with a NUL. */
  char *s = j->text;
  char *field[4] = {NULL, NULL, NULL, NULL};
  size_t nfields = 0;
  while (i < len) {
    size_t b = i;
    while (i < len && !is_field_space(s[i]))
      i++;
    if (nfields < 4) {
      if (memchr(s + b, '\0', i - b) != NULL)
        j->nul_fields |= nul_flag[nfields];
      field[nfields++] = s + b;
    } else {
      j->extra_fields = 1;
    }
    if (i < len)
      s[i++] = '\0';
    while (i < len && is_field_space(s[i]))
      i++;
  }
  j->ip = field[0];
  j->helo = field[2];
  j->rcpt_to = field[3];
  if (field[1] == NULL) {
    j->sender_missing = 1;
  } else {
    if ((j->nul_fields & NUL_SENDER) == 0)
      sender_normalize(field[1]); /* the rule -sender follows too */
    j->sender = field[1];
  }
  return 1;
}

static void job_bad(struct job *j, enum job_error why) {
  mdspf_check_free(j->chk);
  j->chk = NULL;
  j->state = JOB_BAD;
  j->bad = why;
}

/* A recipient domain the secondary-MX check can use as it is: a plain
 * host name (letters, digits, '-', '_', '.'; no macro can hide in it)
 * that makes a valid "mx:DOMAIN" term. */
static int rcpt_domain_ok(const char *d) {
  static const char prefix[] = "v=spf1 mx:";
  char rec[sizeof prefix + 256];
  size_t n = strlen(d);
  if (n == 0 || n > 253)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = d[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return 0;
  }
  memcpy(rec, prefix, sizeof prefix - 1);
  memcpy(rec + sizeof prefix - 1, d, n + 1);
  mdspf_record *parsed = NULL;
  int rc = mdspf_record_parse(rec, sizeof prefix - 1 + n, NULL, NULL, &parsed,
                              NULL, NULL, NULL);
  mdspf_record_free(parsed);
  return rc == MDSPF_OK;
}

/*
 * Split j->rcpt_to (recipients separated by ',' or ';', as libspf2
 * splits them; blanks around them and empty ones ignored; "<ADDR>" is
 * ADDR) into j->rcpts.  0, 1 = a recipient without a usable domain
 * (j->bad_rcpt), -1 = out of memory.
 */
static int job_parse_rcpts(struct job *j) {
  if (j->rcpt_to == NULL)
    return 0;
  if ((j->nul_fields & NUL_RCPT) != 0) {
    j->bad_rcpt = j->rcpt_to;
    return 1;
  }
  size_t n = strlen(j->rcpt_to), max = 1;
  for (size_t i = 0; i < n; i++)
    if (j->rcpt_to[i] == ',' || j->rcpt_to[i] == ';')
      max++;
  j->rcpt_buf = malloc(n + 1);
  j->rcpts = calloc(max, sizeof *j->rcpts);
  if (j->rcpt_buf == NULL || j->rcpts == NULL)
    return -1;
  memcpy(j->rcpt_buf, j->rcpt_to, n + 1);
  char *p = j->rcpt_buf;
  for (;;) {
    char *end = p + strcspn(p, ",;");
    int last = *end == '\0';
    *end = '\0';
    while (*p == ' ' || *p == '\t')
      p++;
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
      p[--len] = '\0';
    if (len >= 2 && p[0] == '<' && p[len - 1] == '>') {
      p[len - 1] = '\0';
      p++;
    }
    if (*p != '\0') {
      struct rcpt *rc = &j->rcpts[j->nrcpt++];
      const char *at = strrchr(p, '@');
      rc->addr = p;
      rc->domain = at != NULL ? at + 1 : p;
      if (!rcpt_domain_ok(rc->domain)) {
        j->bad_rcpt = p;
        return 1;
      }
    }
    if (last)
      return 0;
    p = end + 1;
  }
}

/* A line of the job's text trace (--trace, -debug) between its checks. */
static void trace_note(struct job *j, const char *a, const char *b,
                       const char *c) {
  const struct options *o = j->run->o;
  if (o->trace && !o->json) {
    tb_puts(&j->trace, "  ");
    tb_put_safe(&j->trace, a);
    tb_put_safe(&j->trace, b);
    tb_put_safe(&j->trace, c);
    tb_putc(&j->trace, '\n');
  }
  if (o->debug > 0) {
    if (j->line > 0) {
      tb_putu(&j->debug, j->line);
      tb_puts(&j->debug, ": ");
    }
    tb_puts(&j->debug, "debug: ");
    tb_put_safe(&j->debug, a);
    tb_put_safe(&j->debug, b);
    tb_put_safe(&j->debug, c);
    tb_putc(&j->debug, '\n');
  }
}

static void on_check_done(mdspf_check *chk, void *user);

/*
 * -rcpt-to: start the secondary-MX check of the next recipient, libspf2's
 * "v=spf1 mx:DOMAIN": is the client one of the mail exchangers of the
 * recipient's domain?  It runs in r->mxctx with the SPF check's IP,
 * sender and HELO name, the identity domain's record overridden by
 * "v=spf1" and "mx:DOMAIN" as the local policy, so that it passes (local
 * policy) when the client is a mail exchanger of DOMAIN and is neutral
 * when it is not.  Called from the SPF check's (or the previous
 * recipient check's) completion, so the check runs after that callback
 * returns; the configuration is a snapshot taken at the start, so it is
 * set just for that call.  Returns 1 when a check was started.
 */
static int mx_next(struct runner *r, struct job *j) {
  const char *idom = identity_domain(j->sender, j->helo);
  if (r->mxctx == NULL || idom == NULL || idom[0] == '\0')
    return 0;
  while (j->next_rcpt < j->nrcpt) {
    const struct rcpt *rc = &j->rcpts[j->next_rcpt++];
    size_t dlen = strlen(rc->domain);
    char *mechs = malloc(dlen + 4);
    mdspf_check *chk = NULL;
    if (mechs == NULL)
      return 0;
    memcpy(mechs, "mx:", 3);
    memcpy(mechs + 3, rc->domain, dlen + 1);
    if (r->o->debug > 0 || r->o->trace) {
      trace_note(j, "rcpt-to ", rc->addr, ": secondary-MX check");
      (void)mdspf_ctx_set_trace(r->mxctx, trace_event, j);
    }
    int rcode = mdspf_check_new(r->mxctx, &chk);
    if (rcode == MDSPF_OK)
      rcode = mdspf_check_set_ip(chk, j->ip);
    if (rcode == MDSPF_OK && j->helo != NULL)
      rcode = mdspf_check_set_helo(chk, j->helo);
    if (rcode == MDSPF_OK && j->sender != NULL)
      rcode = mdspf_check_set_sender(chk, j->sender);
    if (rcode == MDSPF_OK)
      rcode = mdspf_ctx_add_override_record(r->mxctx, idom, r->empty_rec);
    if (rcode == MDSPF_OK)
      rcode = mdspf_ctx_set_local_policy(r->mxctx, mechs, NULL);
    if (rcode == MDSPF_OK) {
      j->mx_run = chk;
      rcode = mdspf_check_start(chk, on_check_done, j);
    }
    (void)mdspf_ctx_set_local_policy(r->mxctx, NULL, NULL);
    (void)mdspf_ctx_add_override_record(r->mxctx, idom, NULL);
    free(mechs);
    if (rcode == MDSPF_OK)
      return 1;
    j->mx_run = NULL;
    mdspf_check_free(chk);
  }
  return 0;
}

/* A check of the job has finished: the SPF check, or a recipient's
 * secondary-MX check.  With recipients, while the result is not pass,
 * the next recipient is checked; a recipient check that passes decides
 * the outcome (libspf2 also let a neutral or softfail one replace fail,
 * softfail, none and the errors; here only a pass changes the result). */
static void on_check_done(mdspf_check *chk, void *user) {
  struct job *j = user;
  if (chk == j->mx_run) {
    struct rcpt *rc = &j->rcpts[j->next_rcpt - 1];
    rc->result = mdspf_check_result(chk);
    j->mx_run = NULL;
    if (rc->result == MDSPF_PASS) {
      j->mx_win = chk;
      j->win_rcpt = rc;
    } else {
      mdspf_check_free(chk); /* allowed in its own callback */
    }
  }
  if (j->mx_win == NULL && mdspf_check_result(j->chk) != MDSPF_PASS &&
      mx_next(j->run, j))
    return; /* the next recipient's check runs */
  j->state = JOB_DONE;
  j->elapsed_ms = now_ms() - j->t_start;
  j->run->in_flight--;
  j->run->checks_done++;
}

/*
 * Validate the job's inputs (libspf2's order: IP, HELO, sender) and
 * start its check.  An unusable line becomes JOB_BAD.  Returns 0, or -1
 * on a fatal error (printed).
 */
static int job_start(struct runner *r, struct job *j) {
  int rc;
  /* The trace hook applies to checks created later, each keeping the
   * one it was created with (spf.h): installed with j just before j's
   * check is created, it sees only j's events, however many run. */
  if (r->o->debug > 0 || r->o->trace)
    (void)mdspf_ctx_set_trace(r->ctx, trace_event, j);
  rc = mdspf_check_new(r->ctx, &j->chk);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot create check: %s\n", mdspf_strerror(rc));
    return -1;
  }
  if ((j->nul_fields & NUL_IP) != 0 ||
      mdspf_check_set_ip(j->chk, j->ip) != MDSPF_OK) {
    job_bad(j, BAD_IP);
    return 0;
  }
  if (j->helo != NULL && ((j->nul_fields & NUL_HELO) != 0 ||
                          mdspf_check_set_helo(j->chk, j->helo) != MDSPF_OK)) {
    job_bad(j, BAD_HELO);
    return 0;
  }
  if (j->sender_missing) {
    job_bad(j, BAD_NO_SENDER);
    return 0;
  }
  if (j->sender != NULL &&
      ((j->nul_fields & NUL_SENDER) != 0 ||
       mdspf_check_set_sender(j->chk, j->sender) != MDSPF_OK)) {
    job_bad(j, BAD_SENDER);
    return 0;
  }
  if ((j->sender == NULL || j->sender[0] == '\0') &&
      (j->helo == NULL || j->helo[0] == '\0')) {
    job_bad(j, BAD_NO_IDENTITY);
    return 0;
  }
  rc = job_parse_rcpts(j);
  if (rc < 0) {
    fputs(PROG ": out of memory\n", stderr);
    return -1;
  }
  if (rc > 0) {
    job_bad(j, BAD_RCPT);
    return 0;
  }
  /* One check from argv: its inputs are reported before DNS problems. */
  if (!r->be.ready && backend_open(r) != 0)
    return -1;

  j->state = JOB_RUNNING;
  r->in_flight++;
  j->t_start = now_ms();
  rc = mdspf_check_start(j->chk, on_check_done, j); /* may finish inside */
  if (rc != MDSPF_OK) {
    r->in_flight--;
    j->bad_rc = rc;
    job_bad(j, BAD_START);
  }
  return 0;
}

/* ======================================================================
 * The run loop
 * ==================================================================== */

/* May another line be read and started now? */
static int can_take(const struct runner *r) {
  return !r->input_done && !r->failed && r->in_flight < r->max_flight &&
         r->count - r->in_flight <= r->max_waiting && r->count < r->cap;
}

/* Read lines and start their checks while the window allows.  Never
 * blocks on a pipe or terminal (wait_step() waits for input), and
 * returns 1 after FILL_MAX_LINES lines with more to read at once, so
 * that a long run of skipped lines cannot starve the checks in flight. */
static int fill(struct runner *r) {
  size_t lines = 0;
  while (can_take(r)) {
    struct job *j = &r->ring[(r->head + r->count) % r->cap];
    if (r->in == NULL) { /* the single check from the command line */
      job_reset(j, r, 0);
      j->ip = r->o->ip;
      j->sender = r->o->sender;
      j->helo = r->o->helo;
      j->rcpt_to = r->o->rcpt_to;
      r->count++;
      r->input_done = 1;
      if (job_start(r, j) != 0)
        r->failed = 1;
      return 0;
    }
    if (++lines > FILL_MAX_LINES)
      return 1;

    const char *line = NULL;
    size_t len = 0;
    int t = reader_take(r->in, &line, &len);
    if (t == TAKE_NEED) {
      if (r->in->stream && !fd_readable(r->in->fd))
        return 0; /* wait_step() watches the input */
      if (reader_fill(r->in) < 0) {
        r->input_done = 1;
        r->read_error = 1;
      }
      continue;
    }
    if (t == TAKE_EOF) {
      r->input_done = 1;
      return 0;
    }
    if (t == TAKE_TOO_LONG) {
      job_reset(j, r, r->in->lineno);
      j->state = JOB_BAD;
      j->bad = BAD_TOO_LONG;
      r->count++;
      continue;
    }
    int k = job_from_line(r, j, line, len, r->in->lineno);
    if (k < 0) {
      fputs(PROG ": out of memory\n", stderr);
      job_release(j);
      r->failed = 1;
      return 0;
    }
    if (k == 0)
      continue;
    r->count++;
    if (j->state != JOB_ECHO && job_start(r, j) != 0) {
      r->failed = 1;
      return 0;
    }
  }
  return 0;
}

/* Print the longest finished prefix of the window, in input order. */
static void flush(struct runner *r) {
  int printed = 0;
  while (r->count > 0 && !r->failed) {
    struct job *j = &r->ring[r->head];
    if (j->state == JOB_RUNNING)
      break;
    if (!printed && r->pg.stdout_tty)
      progress_clear(r);
    printed = 1;
    int status = print_job(r, j);
    if (status >= 0)
      r->status = status;
    job_release(j);
    r->head = (r->head + 1) % r->cap;
    r->count--;
  }
  if (printed && (fflush(stdout) != 0 || ferror(stdout))) {
    fputs(PROG ": error writing the result\n", stderr);
    r->failed = 1;
  }
}

static int poll_ms(long t) {
  if (t < 0)
    return -1;
  return t > INT_MAX ? INT_MAX : (int)t;
}

/*
 * Wait for something to do and do it: deliver DNS answers (or deferred
 * zone answers), until the earliest time budget ends, the input becomes
 * readable (when the window wants a line from a pipe or terminal), or
 * the progress line is due.  busy: more input is ready, do not wait.
 */
static void wait_step(struct runner *r, int busy) {
  int want_input = !busy && r->in != NULL && r->in->stream && can_take(r);
  long t = -1;
  if (r->in_flight > 0) {
    t = mdspf_ctx_timeout(r->ctx);
    long tmx = r->mxctx != NULL ? mdspf_ctx_timeout(r->mxctx) : -1;
    if (tmx >= 0 && (t < 0 || tmx < t))
      t = tmx;
    if (t < 0)
      t = 1000; /* cannot happen: a running check has a deadline */
  }
  t = progress_cap(r, t);
  if (busy)
    t = 0;
  if (r->in_flight == 0 && !want_input)
    return;

  struct pollfd pfd[1 + MAX_WATCH];
  nfds_t n = 0;
  if (want_input) {
    pfd[0].fd = r->in->fd;
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    n = 1;
  }

  if (r->be.zone != NULL) {
    if (r->in_flight > 0 && mdspf_zone_pending(r->be.zone) > 0) {
      (void)mdspf_zone_process(r->be.zone, r->in_flight);
      return;
    }
    (void)poll(pfd, n, poll_ms(t)); /* nothing to deliver: just wait */
    return;
  }
  if (r->be.cares == NULL) { /* no check has started yet */
    (void)poll(pfd, n, poll_ms(t));
    return;
  }

  int rc;
  if (want_input) {
    int fds[MAX_WATCH], events[MAX_WATCH];
    int ns = mdspf_cares_getsock(r->be.cares, fds, events, MAX_WATCH);
    for (int i = 0; i < ns && i < MAX_WATCH; i++) {
      pfd[n].fd = fds[i];
      pfd[n].events = (short)(((events[i] & 1) != 0 ? POLLIN : 0) |
                              ((events[i] & 2) != 0 ? POLLOUT : 0));
      pfd[n].revents = 0;
      n++;
    }
    long ct = mdspf_cares_timeout(r->be.cares);
    if (ct >= 0 && (t < 0 || ct < t))
      t = ct;
    (void)poll(pfd, n, poll_ms(t));
    rc = mdspf_cares_wait(r->be.cares, 0); /* what is ready, no waiting */
  } else if (mdspf_cares_pending(r->be.cares) == 0) {
    (void)poll(pfd, n, poll_ms(t)); /* no query out: wait for the budget */
    rc = MDSPF_OK;
  } else {
    rc = mdspf_cares_wait(r->be.cares, poll_ms(t));
  }
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": DNS backend failure: %s\n", mdspf_strerror(rc));
    r->failed = 1;
  }
}

static void run_loop(struct runner *r) {
  for (;;) {
    int busy = fill(r);
    flush(r);
    if (r->failed || (r->input_done && r->count == 0))
      break;
    wait_step(r, busy);
    if (r->failed)
      break;
    mdspf_ctx_process_timeouts(r->ctx); /* the per-check time budgets */
    if (r->mxctx != NULL)
      mdspf_ctx_process_timeouts(r->mxctx);
    progress_tick(r);
  }
  progress_clear(r);
}

/* Everything run() creates, released on every path. */
static void runner_free(struct runner *r) {
  if (r->ring != NULL) {
    for (size_t i = 0; i < r->count; i++) /* checks before their ctx */
      job_release(&r->ring[(r->head + i) % r->cap]);
    free(r->ring);
  }
  mdspf_ctx_free(r->ctx);
  mdspf_ctx_free(r->mxctx);
  mdspf_record_unref(r->empty_rec);
  backend_close(&r->be); /* after the checks and ctx that used it */
  if (r->in != NULL)
    reader_close(r->in);
}

/* Run the check(s) described by o and print the outcomes; returns the
 * exit status. */
static int run(const struct options *o) {
  struct runner r;
  struct reader rd;
  int status = EXIT_USAGE;
  int rc;

  memset(&r, 0, sizeof r);
  reader_init(&rd);
  r.o = o;
  r.receiver = o->name != NULL ? o->name : PROG;

  rc = mdspf_ctx_new(NULL, NULL, &r.ctx);
  if (rc != MDSPF_OK) {
    fprintf(stderr, PROG ": cannot create context: %s\n", mdspf_strerror(rc));
    goto out;
  }
  if (configure_ctx(r.ctx, o) != 0 || whatif_overrides(&r.be, o) != 0)
    goto out;
  if (o->rcpt_to != NULL || o->file != NULL) { /* recipients possible */
    rc = mdspf_ctx_new(NULL, NULL, &r.mxctx);
    if (rc == MDSPF_OK)
      rc = mdspf_record_parse("v=spf1", 6, NULL, NULL, &r.empty_rec, NULL,
                              NULL, NULL);
    if (rc != MDSPF_OK) {
      fprintf(stderr, PROG ": cannot create context: %s\n",
              mdspf_strerror(rc));
      goto out;
    }
    if (configure_common(r.mxctx, o) != 0)
      goto out;
  }

  /* Traces (-debug, --trace) are kept per check and printed with its
   * result, so they need no serialisation. */
  r.max_flight = o->file != NULL ? (size_t)o->concurrency : 1;
  r.max_waiting = r.max_flight * WAITING_PER_SLOT;
  r.cap = r.max_flight + r.max_waiting + 1;
  r.ring = calloc(r.cap, sizeof *r.ring);
  if (r.ring == NULL) {
    fputs(PROG ": out of memory\n", stderr);
    goto out;
  }

  if (o->file != NULL) {
    r.in = &rd;
    if (reader_open(&rd, o->file) != 0 || backend_open(&r) != 0)
      goto out;
    /* libspf2 exits 0 after an input without checks */
    r.status = 0;
    r.pg.enabled = isatty(STDERR_FILENO) && !isatty(rd.fd);
    r.pg.stdout_tty = isatty(STDOUT_FILENO);
    r.pg.t_begin = now_ms();
    r.pg.t_next = r.pg.t_begin + PROGRESS_INTERVAL_MS;
  }

  run_loop(&r);
  status = r.failed || r.read_error ? EXIT_USAGE : r.status;
  if (r.be.cache != NULL && !r.failed) {
    /* the counters, once, after the last check; on stdout only when
     * asked for, so that a default batch keeps one object per check */
    if (o->json && o->cache == CACHE_ON) {
      fputs("{\"cache\":", stdout);
      json_cache(stdout, r.be.cache);
      fputs("}\n", stdout);
    } else if (o->trace && o->cache == CACHE_ON) {
      text_cache(stdout, "  ", r.be.cache);
    }
    if (o->verbose) {
      fflush(stdout);
      text_cache(stderr, PROG ": ", r.be.cache);
    }
  }

out:
  runner_free(&r);
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

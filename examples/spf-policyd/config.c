/*
 * examples/spf-policyd/config.c -- policyd-spf.conf reader.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PD_MAX_CONFIG (1024 * 1024) /* a config file larger is refused */
#define PD_MAX_LIST 10000           /* entries per list */

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) {
    memcpy(d, s, n);
  }
  return d;
}

const char *pd_reject_str(int v) {
  switch (v) {
  case PD_REJ_FAIL:
    return "Fail";
  case PD_REJ_SPF_NOT_PASS:
    return "SPF_Not_Pass";
  case PD_REJ_SOFTFAIL:
    return "Softfail";
  case PD_REJ_NULL:
    return "Null";
  case PD_REJ_FALSE:
    return "False";
  case PD_REJ_NO_CHECK:
    return "No_Check";
  default:
    return "?";
  }
}

int pd_net_parse(const char *s, pd_net *out) {
  char tmp[128];
  size_t n = strlen(s);
  char *slash, *end;
  long pl;
  unsigned maxp, i;
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
    s++;
    n -= 2;
  }
  if (n == 0 || n >= sizeof tmp) {
    return -1;
  }
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  slash = strchr(tmp, '/');
  if (slash) {
    *slash++ = '\0';
  }
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, tmp, out->addr) == 1) {
    out->family = 4;
    maxp = 32;
  } else if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
    out->family = 6;
    maxp = 128;
  } else {
    return -1;
  }
  out->prefix = maxp;
  if (slash) {
    if (!isdigit((unsigned char)*slash)) {
      return -1;
    }
    errno = 0;
    pl = strtol(slash, &end, 10);
    if (*end || errno || pl < 0 || pl > (long)maxp) {
      return -1;
    }
    out->prefix = (unsigned)pl;
  }
  for (i = out->prefix; i < maxp; i++) { /* host bits must be clear */
    if (out->addr[i / 8] & (0x80u >> (i % 8))) {
      return -1;
    }
  }
  return 0;
}

static int in_net(const pd_net *net, int family, const unsigned char *a) {
  unsigned full = net->prefix / 8, rest = net->prefix % 8;
  if (net->family != family) {
    return 0;
  }
  if (memcmp(net->addr, a, full) != 0) {
    return 0;
  }
  if (rest) {
    unsigned mask = (0xffu << (8 - rest)) & 0xffu;
    if ((net->addr[full] & mask) != (a[full] & mask)) {
      return 0;
    }
  }
  return 1;
}

int pd_net_match(const pd_net *nets, size_t n, const char *ip) {
  unsigned char a[16];
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
                                           0, 0, 0, 0, 0xff, 0xff};
  int fam;
  size_t i;
  if (!ip) {
    return 0;
  }
  if (inet_pton(AF_INET, ip, a) == 1) {
    fam = 4;
  } else if (inet_pton(AF_INET6, ip, a) == 1) {
    fam = 6;
  } else {
    return 0;
  }
  for (i = 0; i < n; i++) {
    if (in_net(&nets[i], fam, a)) {
      return 1;
    }
    if (fam == 6 && memcmp(a, mapped, 12) == 0 &&
        in_net(&nets[i], 4, a + 12)) {
      return 1;
    }
  }
  return 0;
}

pd_config *pd_config_defaults(void) {
  pd_config *c = calloc(1, sizeof *c);
  char host[256];
  static const char *const skip[] = {"127.0.0.0/8", "::ffff:127.0.0.0/104",
                                     "::1"};
  size_t i;
  if (!c) {
    return NULL;
  }
  c->debug_level = 1;
  c->test_only = 1;
  c->helo_reject = PD_REJ_FAIL;
  c->mail_from_reject = PD_REJ_FAIL;
  c->enhanced_codes = 1;
  c->header_type = PD_HDR_SPF;
  c->lookup_time = 20;
  c->whitelist_lookup_time = 10;
  c->void_limit = 2;
  c->queue_id = 1;
  if (gethostname(host, sizeof host) != 0) {
    strcpy(host, "localhost");
  }
  host[sizeof host - 1] = '\0';
  c->authserv_id = xstrdup(host);
  c->reason_message =
    xstrdup("Message {rejectdefer} due to: {spf}. Please see {url}");
  c->skip = calloc(3, sizeof *c->skip);
  if (!c->authserv_id || !c->reason_message || !c->skip) {
    pd_config_free(c);
    return NULL;
  }
  for (i = 0; i < 3; i++) {
    (void)pd_net_parse(skip[i], &c->skip[i]);
  }
  c->nskip = 3;
  return c;
}

static void free_list(char **l, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    free(l[i]);
  }
  free(l);
}

void pd_config_free(pd_config *c) {
  if (!c) {
    return;
  }
  free(c->authserv_id);
  free(c->reason_message);
  free(c->prospective);
  free(c->helo_pass_restriction);
  free(c->mail_from_pass_restriction);
  free(c->skip);
  free(c->white);
  free_list(c->helo_wl, c->nhelo_wl);
  free_list(c->domain_wl, c->ndomain_wl);
  free_list(c->reject_np, c->nreject_np);
  free(c);
}

/* ---- the reader ------------------------------------------------------ */

struct reader {
  pd_config *c;
  const char *file;
  unsigned line;
  int errors;
  pd_config_msg_fn msg;
  void *ud;
};

static void report(struct reader *r, int is_error, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
static void report(struct reader *r, int is_error, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (is_error) {
    r->errors++;
  }
  if (r->msg) {
    r->msg(r->ud, is_error, r->file, r->line, buf);
  }
}

static int parse_int(const char *v, long lo, long hi, int *out) {
  char *end;
  long n;
  errno = 0;
  if (!*v) {
    return -1;
  }
  n = strtol(v, &end, 10);
  if (*end || errno || n < lo || n > hi) {
    return -1;
  }
  *out = (int)n;
  return 0;
}

static int parse_bool(const char *v, const char *yes, const char *no,
                      int *out) {
  if (strcmp(v, yes) == 0) {
    *out = 1;
  } else if (strcmp(v, no) == 0) {
    *out = 0;
  } else {
    return -1;
  }
  return 0;
}

static int parse_reject(const char *v, int *out) {
  static const char *const names[] = {"Fail",  "SPF_Not_Pass", "Softfail",
                                      "Null",  "False",        "No_Check"};
  int i;
  for (i = 0; i < 6; i++) {
    if (strcmp(v, names[i]) == 0) {
      *out = i;
      return 0;
    }
  }
  return -1;
}

/* Split a comma-separated list (empty items dropped), each item trimmed. */
static int split_list(const char *v, char ***out, size_t *nout) {
  char **l = NULL;
  size_t n = 0;
  const char *p = v;
  while (*p) {
    const char *e = strchr(p, ',');
    const char *s = p, *t;
    size_t len;
    if (!e) {
      e = p + strlen(p);
    }
    t = e;
    while (s < t && isspace((unsigned char)*s)) {
      s++;
    }
    while (t > s && isspace((unsigned char)t[-1])) {
      t--;
    }
    len = (size_t)(t - s);
    if (len > 0) {
      char **nl;
      if (n >= PD_MAX_LIST) {
        free_list(l, n);
        return -1;
      }
      nl = realloc(l, (n + 1) * sizeof *l);
      if (!nl) {
        free_list(l, n);
        return -1;
      }
      l = nl;
      l[n] = malloc(len + 1);
      if (!l[n]) {
        free_list(l, n);
        return -1;
      }
      memcpy(l[n], s, len);
      l[n][len] = '\0';
      n++;
    }
    p = *e ? e + 1 : e;
  }
  *out = l;
  *nout = n;
  return 0;
}

static int set_nets(struct reader *r, const char *name, const char *v,
                    pd_net **nets, size_t *nnets) {
  char **items;
  size_t n, i;
  pd_net *set;
  if (split_list(v, &items, &n) != 0) {
    report(r, 1, "%s: list too long or out of memory", name);
    return -1;
  }
  set = n ? calloc(n, sizeof *set) : NULL;
  if (n && !set) {
    free_list(items, n);
    report(r, 1, "%s: out of memory", name);
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (pd_net_parse(items[i], &set[i]) != 0) {
      report(r, 1, "%s: \"%s\" is not an IP network", name, items[i]);
      free_list(items, n);
      free(set);
      return -1;
    }
  }
  free_list(items, n);
  free(*nets);
  *nets = set;
  *nnets = n;
  return 0;
}

static void lower(char *s) {
  for (; *s; s++) {
    *s = (char)tolower((unsigned char)*s);
  }
}

static int set_domains(struct reader *r, const char *name, const char *v,
                       char ***list, size_t *nlist) {
  char **items;
  size_t n, i;
  if (split_list(v, &items, &n) != 0) {
    report(r, 1, "%s: list too long or out of memory", name);
    return -1;
  }
  for (i = 0; i < n; i++) {
    const char *p;
    size_t len = strlen(items[i]);
    if (len > 253) {
      report(r, 1, "%s: \"%s\" is not a domain name", name, items[i]);
      free_list(items, n);
      return -1;
    }
    for (p = items[i]; *p; p++) {
      unsigned char ch = (unsigned char)*p;
      if (ch <= 0x20 || ch >= 0x7f || ch == '@') {
        report(r, 1, "%s: \"%s\" is not a domain name", name, items[i]);
        free_list(items, n);
        return -1;
      }
    }
    if (items[i][len - 1] == '.') {
      items[i][len - 1] = '\0';
    }
    lower(items[i]);
  }
  free_list(*list, *nlist);
  *list = items;
  *nlist = n;
  return 0;
}

static int set_str(char **dst, const char *v) {
  char *d = xstrdup(v);
  if (!d) {
    return -1;
  }
  free(*dst);
  *dst = d;
  return 0;
}

/* Printable ASCII without controls: what may go into a reply or header. */
static int printable(const char *v) {
  for (; *v; v++) {
    if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f) {
      return 0;
    }
  }
  return 1;
}

static void setting(struct reader *r, const char *name, const char *v) {
  pd_config *c = r->c;
  int bad = 0, iv;
  pd_net net;

  if (strcmp(name, "debugLevel") == 0) {
    bad = parse_int(v, -1, 1000, &c->debug_level);
  } else if (strcmp(name, "TestOnly") == 0 ||
             strcmp(name, "defaultSeedOnly") == 0) {
    bad = parse_int(v, INT_MIN, INT_MAX, &c->test_only);
    if (name[0] == 'd') {
      report(r, 0, "deprecated option %s: use TestOnly", name);
    }
  } else if (strcmp(name, "HELO_reject") == 0) {
    bad = parse_reject(v, &c->helo_reject);
  } else if (strcmp(name, "Mail_From_reject") == 0) {
    bad = parse_reject(v, &c->mail_from_reject);
  } else if (strcmp(name, "PermError_reject") == 0) {
    bad = parse_bool(v, "True", "False", &c->permerror_reject);
  } else if (strcmp(name, "TempError_Defer") == 0) {
    bad = parse_bool(v, "True", "False", &c->temperror_defer);
  } else if (strcmp(name, "No_Mail") == 0) {
    bad = parse_bool(v, "True", "False", &c->no_mail);
  } else if (strcmp(name, "Mock") == 0) {
    bad = parse_bool(v, "True", "False", &c->mock);
  } else if (strcmp(name, "QueueID") == 0) {
    bad = parse_bool(v, "True", "False", &c->queue_id);
  } else if (strcmp(name, "SPF_Enhanced_Status_Codes") == 0) {
    bad = parse_bool(v, "Yes", "No", &c->enhanced_codes);
  } else if (strcmp(name, "Hide_Receiver") == 0) {
    bad = parse_bool(v, "Yes", "No", &c->hide_receiver);
  } else if (strcmp(name, "Header_Type") == 0) {
    if (strcmp(v, "SPF") == 0) {
      c->header_type = PD_HDR_SPF;
    } else if (strcmp(v, "AR") == 0) {
      c->header_type = PD_HDR_AR;
    } else if (strcmp(v, "None") == 0) {
      c->header_type = PD_HDR_NONE;
    } else {
      bad = 1;
    }
  } else if (strcmp(name, "Lookup_Time") == 0) {
    bad = parse_int(v, 1, 3600, &c->lookup_time);
  } else if (strcmp(name, "Whitelist_Lookup_Time") == 0) {
    bad = parse_int(v, 1, 3600, &c->whitelist_lookup_time);
  } else if (strcmp(name, "Void_Limit") == 0) {
    bad = parse_int(v, 0, 100, &c->void_limit);
  } else if (strcmp(name, "Authserv_Id") == 0) {
    if (strcmp(v, "HOSTNAME") != 0) {
      bad = !*v || !printable(v) || strchr(v, ' ') || strchr(v, ';') ||
            set_str(&c->authserv_id, v) != 0;
    }
  } else if (strcmp(name, "Reason_Message") == 0) {
    bad = !printable(v) || set_str(&c->reason_message, v) != 0;
  } else if (strcmp(name, "Prospective") == 0) {
    if (pd_net_parse(v, &net) != 0 || net.prefix != (net.family == 4 ? 32u : 128u) ||
        strchr(v, '/') || strchr(v, '[')) {
      bad = 1;
    } else {
      bad = set_str(&c->prospective, v) != 0;
    }
  } else if (strcmp(name, "HELO_pass_restriction") == 0) {
    bad = !*v || !printable(v) || set_str(&c->helo_pass_restriction, v) != 0;
  } else if (strcmp(name, "Mail_From_pass_restriction") == 0) {
    bad = !*v || !printable(v) ||
          set_str(&c->mail_from_pass_restriction, v) != 0;
  } else if (strcmp(name, "skip_addresses") == 0) {
    (void)set_nets(r, name, v, &c->skip, &c->nskip);
    return;
  } else if (strcmp(name, "Whitelist") == 0) {
    (void)set_nets(r, name, v, &c->white, &c->nwhite);
    return;
  } else if (strcmp(name, "HELO_Whitelist") == 0) {
    (void)set_domains(r, name, v, &c->helo_wl, &c->nhelo_wl);
    return;
  } else if (strcmp(name, "Domain_Whitelist") == 0) {
    (void)set_domains(r, name, v, &c->domain_wl, &c->ndomain_wl);
    return;
  } else if (strcmp(name, "Reject_Not_Pass_Domains") == 0) {
    (void)set_domains(r, name, v, &c->reject_np, &c->nreject_np);
    return;
  } else if (strcmp(name, "Domain_Whitelist_PTR") == 0 ||
             strcmp(name, "Per_User") == 0) {
    report(r, 0, "%s is not supported by spf-policyd; ignored", name);
    return;
  } else if (strcmp(name, "Socket") == 0 || strcmp(name, "PidFile") == 0 ||
             strcmp(name, "UserID") == 0 || strcmp(name, "UMask") == 0 ||
             strcmp(name, "InternalHosts") == 0 ||
             strcmp(name, "IntHosts") == 0 ||
             strcmp(name, "MacroList") == 0) {
    return; /* spf-engine's milter settings: nothing to do for a policy
               server (spf-engine's policy server ignores them too) */
  } else {
    report(r, 0, "unknown name \"%s\"; ignored", name);
    return;
  }
  (void)iv;
  if (bad) {
    report(r, 1, "bad value for %s: \"%s\"", name, v);
  }
}

static void strip(char **s, char **e) {
  while (*s < *e && isspace((unsigned char)**s)) {
    (*s)++;
  }
  while (*e > *s && isspace((unsigned char)(*e)[-1])) {
    (*e)--;
  }
}

pd_config *pd_config_parse(const char *text, size_t len, const char *file,
                           pd_config_msg_fn msg, void *ud) {
  struct reader r;
  char *copy, *p, *end;
  memset(&r, 0, sizeof r);
  r.file = file;
  r.msg = msg;
  r.ud = ud;
  r.c = pd_config_defaults();
  copy = malloc(len + 1);
  if (!r.c || !copy) {
    report(&r, 1, "out of memory");
    free(copy);
    pd_config_free(r.c);
    return NULL;
  }
  memcpy(copy, text, len);
  copy[len] = '\0';
  p = copy;
  end = copy + len;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *ls = p, *le = nl ? nl : end, *hash, *eq, *n1, *n2, *v1, *v2;
    r.line++;
    p = nl ? nl + 1 : end;
    if (memchr(ls, '\0', (size_t)(le - ls))) {
      report(&r, 1, "NUL octet in line");
      continue;
    }
    hash = memchr(ls, '#', (size_t)(le - ls));
    if (hash) {
      le = hash;
    }
    strip(&ls, &le);
    if (ls == le) {
      continue;
    }
    *le = '\0';
    eq = strchr(ls, '=');
    if (!eq) {
      report(&r, 0, "configuration item \"%s\" not defined (no '=')", ls);
      continue;
    }
    if (strchr(eq + 1, '=')) {
      report(&r, 1, "cannot parse line \"%s\" (more than one '=')", ls);
      continue;
    }
    n1 = ls;
    n2 = eq;
    v1 = eq + 1;
    v2 = le;
    strip(&n1, &n2);
    strip(&v1, &v2);
    *n2 = '\0';
    *v2 = '\0';
    setting(&r, n1, v1);
  }
  free(copy);
  if (r.c->header_type == PD_HDR_AR && !*r.c->authserv_id) {
    r.line = 0;
    report(&r, 1, "Header_Type AR needs an Authserv_Id");
  }
  if (r.errors) {
    pd_config_free(r.c);
    return NULL;
  }
  return r.c;
}

pd_config *pd_config_read(const char *file, pd_config_msg_fn msg, void *ud) {
  FILE *f;
  struct stat st;
  char *buf;
  size_t n;
  pd_config *c;
  char err[300];
  f = fopen(file, "r");
  if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > PD_MAX_CONFIG) {
    snprintf(err, sizeof err, "cannot read: %s",
             !f ? strerror(errno)
                : (!S_ISREG(st.st_mode) ? "not a regular file" : "too large"));
    if (msg) {
      msg(ud, 1, file, 0, err);
    }
    if (f) {
      fclose(f);
    }
    return NULL;
  }
  buf = malloc((size_t)st.st_size + 1);
  if (!buf) {
    fclose(f);
    if (msg) {
      msg(ud, 1, file, 0, "out of memory");
    }
    return NULL;
  }
  n = fread(buf, 1, (size_t)st.st_size, f);
  fclose(f);
  c = pd_config_parse(buf, n, file, msg, ud);
  free(buf);
  return c;
}

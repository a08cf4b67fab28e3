/*
 * examples/spf-policyd/decide.c -- spf-engine compatible decisions.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Mirrors spf_engine._spfcheck (non per-user path) and
 * spf_engine.policyd_spf's reply formatting; the differences are listed
 * in spf-policyd(8).
 */
#include "decide.h"

#include <maildrop-spf/spf.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PD_TEXT 8192    /* header or reason text */
#define PD_VALUE 1024   /* request values cut to this in texts */

enum {
  ST_START,
  ST_DOMAIN_WL,
  ST_HELO_WL,
  ST_HELO_FED,
  ST_MFROM,
  ST_MFROM_FED,
  ST_DONE
};

struct pd_txn {
  const pd_config *cfg;
  /* request values, lower-cased (NULL when absent) */
  char *client, *helo_name, *sender, *recipient, *instance, *sasl, *queue_id;
  const char *ip;   /* Prospective or client */
  char *helo;       /* HELO identity used (helo_name, else sender domain) */
  char *wl_sender;  /* postmaster@<whitelisted domain> */
  int state;
  size_t wl_index;
  int helo_wl_done; /* the HELO_Whitelist check was asked for */
  /* HELO result */
  int helo_res;     /* 0: not checked ("None") */
  int helo_action;  /* PD_PREPEND, PD_REJECT, PD_DEFER, PD_DUNNO */
  char helo_reason[PD_TEXT];
  /* last fed check */
  int fed_res;
  char fed_reason[PD_TEXT];
  int fed_nomail; /* the record was "v=spf1 -all" */
  char header[PD_TEXT];
  /* outcome */
  int kind, iserror, cacheable;
  const char *identity, *result;
  char text[PD_TEXT];
};

static char *dup_lower(const char *s, int lower) {
  size_t n, i;
  char *d;
  if (!s) {
    return NULL;
  }
  n = strlen(s);
  d = malloc(n + 1);
  if (!d) {
    return NULL;
  }
  for (i = 0; i < n; i++) {
    d[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
  }
  d[n] = '\0';
  return d;
}

/* A value as it may appear in a header or reply: controls become '?',
 * cut at PD_VALUE octets. */
static const char *safe(const char *s, char *buf) {
  size_t i;
  if (!s) {
    return NULL;
  }
  for (i = 0; s[i] && i < PD_VALUE - 1; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  buf[i] = '\0';
  return buf;
}

static void fmt(char *buf, const char *f, ...)
  __attribute__((format(printf, 2, 3)));
static void fmt(char *buf, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  (void)vsnprintf(buf, PD_TEXT, f, ap);
  va_end(ap);
}

pd_txn *pd_txn_new(const pd_config *cfg, const pd_request *req) {
  pd_txn *t = calloc(1, sizeof *t);
  const char *rcpt;
  if (!t) {
    return NULL;
  }
  t->cfg = cfg;
  t->client = dup_lower(pd_request_get(req, "client_address"), 1);
  t->helo_name = dup_lower(pd_request_get(req, "helo_name"), 1);
  t->sender = dup_lower(pd_request_get(req, "sender"), 1);
  t->instance = dup_lower(pd_request_get(req, "instance"), 1);
  t->sasl = dup_lower(pd_request_get(req, "sasl_username"), 1);
  t->queue_id = dup_lower(pd_request_get(req, "queue_id"), 0);
  /* The receiver: "none" without recipient, "<UNKNOWN>" when hidden,
   * else the recipient's domain (spf-engine 3.0). */
  rcpt = pd_request_get(req, "recipient");
  if (cfg->hide_receiver) {
    t->recipient = dup_lower("<UNKNOWN>", 0);
  } else if (!rcpt || !*rcpt) {
    t->recipient = dup_lower("none", 0);
  } else {
    t->recipient = dup_lower(strchr(rcpt, '@') ? strchr(rcpt, '@') + 1 : rcpt,
                             1);
  }
  if (!t->recipient) {
    pd_txn_free(t);
    return NULL;
  }
  t->identity = "-";
  t->result = "not-checked";
  t->state = ST_START;
  return t;
}

void pd_txn_free(pd_txn *t) {
  if (!t) {
    return;
  }
  free(t->client);
  free(t->helo_name);
  free(t->sender);
  free(t->recipient);
  free(t->instance);
  free(t->sasl);
  free(t->queue_id);
  free(t->helo);
  free(t->wl_sender);
  free(t);
}

static const char *res_name(int r) {
  switch (r) {
  case MDSPF_PASS:
    return "Pass";
  case MDSPF_FAIL:
    return "Fail";
  case MDSPF_SOFTFAIL:
    return "Softfail";
  case MDSPF_NEUTRAL:
    return "Neutral";
  case MDSPF_TEMPERROR:
    return "Temperror";
  case MDSPF_PERMERROR:
    return "Permerror";
  default:
    return "None";
  }
}

int pd_action_for(const pd_config *cfg, int helo_scope, int result,
                  int local) {
  int policy = helo_scope ? cfg->helo_reject : cfg->mail_from_reject;
  int rej = 0; /* bits: 1 fail, 2 softfail, 4 neutral */
  if (local) {
    policy = PD_REJ_SPF_NOT_PASS;
  }
  switch (policy) {
  case PD_REJ_SPF_NOT_PASS:
    rej = 7;
    break;
  case PD_REJ_SOFTFAIL:
    rej = 3;
    break;
  case PD_REJ_FAIL:
    rej = 1;
    break;
  case PD_REJ_NULL:
    rej = helo_scope ? 1 : 0;
    break;
  case PD_REJ_FALSE:
    return PD_PREPEND;
  default:
    break;
  }
  if ((result == MDSPF_FAIL && (rej & 1)) ||
      (result == MDSPF_SOFTFAIL && (rej & 2)) ||
      (result == MDSPF_NEUTRAL && (rej & 4))) {
    return PD_REJECT;
  }
  if (result == MDSPF_TEMPERROR && cfg->temperror_defer) {
    return PD_DEFER;
  }
  if (result == MDSPF_PERMERROR && cfg->permerror_reject) {
    return PD_REJECT;
  }
  return PD_PREPEND;
}

/* pyspf's explanation texts for a result. */
static void reason_for(int res, const char *expl, const char *problem,
                       char *out) {
  switch (res) {
  case MDSPF_PASS:
    fmt(out, "sender SPF authorized");
    break;
  case MDSPF_FAIL:
    fmt(out, "%s", expl ? expl : "SPF fail - not authorized");
    break;
  case MDSPF_SOFTFAIL:
    fmt(out, "domain owner discourages use of this host");
    break;
  case MDSPF_NEUTRAL:
    fmt(out, "access neither permitted nor denied");
    break;
  case MDSPF_TEMPERROR:
    fmt(out, "SPF Temporary Error: %s",
        problem ? problem : "temporary DNS error in processing");
    break;
  case MDSPF_PERMERROR:
    fmt(out, "SPF Permanent Error: %s",
        problem ? problem : "permanent error in processing");
    break;
  default:
    out[0] = '\0';
    break;
  }
  /* The engine's texts are printable ASCII already; keep it so whatever
   * feeds us (a reply or header must stay one line). */
  for (; *out; out++) {
    if ((unsigned char)*out < 0x20 || (unsigned char)*out == 0x7f) {
      *out = '?';
    }
  }
}

/* pyspf domainmatch(list, d): an entry equal to d or ending in ".d". */
static int domain_listed(char *const *list, size_t n, const char *d) {
  size_t i, dl;
  if (!d || !*d) {
    return 0;
  }
  dl = strlen(d);
  for (i = 0; i < n; i++) {
    size_t el = strlen(list[i]);
    if (strcmp(list[i], d) == 0 ||
        (el > dl && list[i][el - dl - 1] == '.' &&
         strcmp(list[i] + el - dl, d) == 0)) {
      return 1;
    }
  }
  return 0;
}

static void done(pd_txn *t, int kind, const char *text, int cacheable) {
  t->kind = kind;
  t->cacheable = cacheable;
  fmt(t->text, "%s", text ? text : "");
  t->state = ST_DONE;
}

/* The X-Comment / Authentication-Results "none" header of a bypass. */
static void bypass(pd_txn *t, const char *comment, const char *why) {
  char a[PD_VALUE], b[PD_VALUE], c[PD_VALUE], d[PD_VALUE];
  const char *ip = t->client ? safe(t->client, a) : "<UNKNOWN>";
  const char *h = t->helo_name ? safe(t->helo_name, b) : "<UNKNOWN>";
  const char *s = t->sender ? safe(t->sender, c) : "<UNKNOWN>";
  const char *r = safe(t->recipient, d);
  if (t->cfg->header_type == PD_HDR_AR) {
    fmt(t->header,
        "Authentication-Results: %s; none (%s client-ip=%s; helo=%s; "
        "envelope-from=%s; receiver=%s)",
        t->cfg->authserv_id, comment, ip, h, s, r);
  } else {
    fmt(t->header,
        "X-Comment: %sclient-ip=%s; helo=%s; envelope-from=%s; receiver=%s ",
        comment, ip, h, s, r);
  }
  t->result = why;
  done(t, PD_PREPEND, t->header, 1);
}

/* The Received-SPF or Authentication-Results header of a check. */
static void make_header(pd_txn *t, int helo_scope, int res,
                        const char *reason) {
  char a[PD_VALUE], b[PD_VALUE], c[PD_VALUE], d[PD_VALUE], e[PD_VALUE];
  const char *ip = safe(t->ip, a), *h = safe(t->helo, b);
  const char *s = safe(*t->sender ? t->sender : "<>", c);
  const char *r = safe(t->recipient, d);
  const char *rs = res_name(res);
  if (t->cfg->header_type == PD_HDR_AR) {
    char lres[16];
    size_t i;
    for (i = 0; rs[i] && i < sizeof lres - 1; i++) {
      lres[i] = (char)tolower((unsigned char)rs[i]);
    }
    lres[i] = '\0';
    if (helo_scope) {
      fmt(t->header,
          "Authentication-Results: %s; spf=%s (%s) smtp.helo=%s "
          "(client-ip=%s; helo=%s; envelope-from=%s; receiver=%s)",
          t->cfg->authserv_id, lres, reason, h, ip, h, s, r);
    } else {
      const char *at = strchr(t->sender, '@');
      fmt(t->header,
          "Authentication-Results: %s; spf=%s (%s) smtp.mailfrom=%s "
          "(client-ip=%s; helo=%s; envelope-from=%s; receiver=%s)",
          t->cfg->authserv_id, lres, reason, safe(at ? at + 1 : t->sender, e),
          ip, h, s, r);
    }
  } else {
    /* spf-engine writes the reason for HELO, the identity for MAIL FROM */
    fmt(t->header,
        "Received-SPF: %s (%s) identity=%s; client-ip=%s; helo=%s; "
        "envelope-from=%s; receiver=%s ",
        rs, helo_scope ? reason : "mailfrom", helo_scope ? "helo" : "mailfrom",
        ip, h, s, r);
  }
}

/* Reason_Message with {rejectdefer}, {spf} and {url} filled in. */
static void reject_message(pd_txn *t, int kind, int helo_scope,
                           const char *reason, char *out) {
  char url[PD_TEXT], a[PD_VALUE], b[PD_VALUE], c[PD_VALUE];
  const char *m = t->cfg->reason_message;
  size_t o = 0;
  fmt(url, "http://www.openspf.net/Why?s=%s;id=%s;ip=%s;r=%s",
      helo_scope ? "helo" : "mfrom",
      safe(helo_scope ? t->helo : t->sender, a), safe(t->ip, b),
      safe(t->recipient, c));
  while (*m && o < PD_TEXT - 1) {
    const char *ins = NULL;
    size_t skip = 1;
    if (strncmp(m, "{rejectdefer}", 13) == 0) {
      ins = kind == PD_DEFER ? "deferred" : "rejected";
      skip = 13;
    } else if (strncmp(m, "{spf}", 5) == 0) {
      ins = reason;
      skip = 5;
    } else if (strncmp(m, "{url}", 5) == 0) {
      ins = url;
      skip = 5;
    } else if (strncmp(m, "{{", 2) == 0 || strncmp(m, "}}", 2) == 0) {
      out[o++] = *m;
      m += 2;
      continue;
    }
    if (ins) {
      size_t n = strlen(ins);
      if (n > PD_TEXT - 1 - o) {
        n = PD_TEXT - 1 - o;
      }
      memcpy(out + o, ins, n);
      o += n;
      m += skip;
    } else {
      out[o++] = *m++;
    }
  }
  out[o] = '\0';
}

static void set_result(pd_txn *t, const char *identity, int res) {
  static const char *const names[] = {"none",      "neutral", "pass",
                                      "fail",      "softfail", "none",
                                      "temperror", "permerror"};
  t->identity = identity;
  t->result = (res >= 1 && res <= 7) ? names[res] : "none";
}

int pd_txn_step(pd_txn *t, pd_check_spec *spec) {
  const pd_config *cfg = t->cfg;
  memset(spec, 0, sizeof *spec);
  for (;;) {
    switch (t->state) {
    case ST_START:
      t->ip = cfg->prospective ? cfg->prospective : t->client;
      if (!t->ip) {
        t->result = "no-client";
        done(t, PD_DUNNO, NULL, 0);
        break;
      }
      if (t->sasl && *t->sasl) {
        t->result = "sasl";
        done(t, PD_DUNNO, NULL, 0);
        break;
      }
      if (pd_net_match(cfg->skip, cfg->nskip, t->ip)) {
        bypass(t, "SPF check N/A for local connections - ", "skipped");
        break;
      }
      if (pd_net_match(cfg->white, cfg->nwhite, t->ip)) {
        bypass(t, "SPF skipped for whitelisted relay - ", "whitelisted");
        break;
      }
      t->state = ST_DOMAIN_WL;
      t->wl_index = 0;
      break;
    case ST_DOMAIN_WL:
      if (t->wl_index < cfg->ndomain_wl) {
        const char *d = cfg->domain_wl[t->wl_index];
        size_t n = strlen(d) + sizeof "postmaster@";
        free(t->wl_sender);
        t->wl_sender = malloc(n);
        if (!t->wl_sender) {
          t->wl_index++;
          break;
        }
        snprintf(t->wl_sender, n, "postmaster@%s", d);
        spec->kind = PD_CHK_DOMAIN_WL;
        spec->ip = t->ip;
        spec->sender = t->wl_sender;
        spec->helo = d;
        return PD_STEP_CHECK;
      }
      t->state = ST_HELO_WL;
      break;
    case ST_HELO_WL:
      if (!t->helo_wl_done && t->helo_name && cfg->nhelo_wl) {
        size_t i;
        t->helo_wl_done = 1;
        for (i = 0; i < cfg->nhelo_wl; i++) {
          if (strcmp(cfg->helo_wl[i], t->helo_name) == 0) {
            spec->kind = PD_CHK_HELO_WL;
            spec->ip = t->ip;
            spec->sender = "";
            spec->helo = t->helo_name;
            return PD_STEP_CHECK;
          }
        }
      }
      /* Then the identities. */
      if ((!t->sender || !*t->sender) &&
          (!t->helo_name || !*t->helo_name)) {
        t->result = "no-identity";
        done(t, PD_DUNNO, NULL, 0);
        break;
      }
      if (!t->sender) {
        t->sender = dup_lower("", 0);
        if (!t->sender) {
          t->result = "no-memory";
          done(t, PD_DUNNO, NULL, 0);
          break;
        }
      }
      if (t->helo_name && *t->helo_name) {
        t->helo = dup_lower(t->helo_name, 0);
      } else {
        const char *at = strchr(t->sender, '@');
        t->helo = dup_lower(at ? at + 1 : "unknown", 0);
      }
      if (!t->helo) {
        t->result = "no-memory";
        done(t, PD_DUNNO, NULL, 0);
        break;
      }
      t->helo_action = PD_DUNNO;
      if (cfg->helo_reject != PD_REJ_NO_CHECK) {
        spec->kind = PD_CHK_HELO;
        spec->ip = t->ip;
        spec->sender = "";
        spec->helo = t->helo;
        t->state = ST_HELO_FED;
        return PD_STEP_CHECK;
      }
      t->state = ST_MFROM;
      break;
    case ST_HELO_FED: {
      int res = t->fed_res, action, local = 0;
      t->helo_res = res;
      set_result(t, "helo", res);
      fmt(t->helo_reason, "%s", t->fed_reason);
      if (cfg->helo_reject == PD_REJ_NULL && *t->sender) {
        action = PD_DUNNO;
      } else {
        local = domain_listed(cfg->reject_np, cfg->nreject_np, t->helo);
        action = pd_action_for(cfg, 1, res, local);
        if (local) {
          fmt(t->helo_reason, "Receiver policy for SPF %s", res_name(res));
        }
      }
      if (res == MDSPF_NONE) {
        fmt(t->helo_reason, "no SPF record");
      }
      make_header(t, 1, res, t->helo_reason);
      if (action == PD_REJECT && cfg->no_mail && !t->fed_nomail) {
        action = PD_PREPEND;
      }
      t->helo_action = action;
      if (action == PD_REJECT || action == PD_DEFER) {
        t->iserror = res == MDSPF_TEMPERROR || res == MDSPF_PERMERROR;
        reject_message(t, action, 1, t->helo_reason, t->text);
        t->kind = action;
        t->cacheable = 1;
        t->state = ST_DONE;
        break;
      }
      t->state = ST_MFROM;
      break;
    }
    case ST_MFROM:
      if (!*t->sender) { /* null sender: the HELO result decides */
        if (cfg->helo_reject == PD_REJ_NO_CHECK) {
          done(t, PD_DUNNO, NULL, 0);
        } else if (cfg->helo_pass_restriction && t->helo_res == MDSPF_PASS) {
          done(t, PD_RESULT_ONLY, cfg->helo_pass_restriction, 1);
        } else {
          done(t, t->helo_action, t->header, 1);
        }
        break;
      }
      if (cfg->mail_from_reject == PD_REJ_NO_CHECK) {
        if (cfg->helo_reject == PD_REJ_NO_CHECK) {
          done(t, PD_DUNNO, NULL, 0);
        } else {
          done(t, PD_PREPEND, t->header, 1);
        }
        break;
      }
      spec->kind = PD_CHK_MFROM;
      spec->ip = t->ip;
      spec->sender = t->sender;
      spec->helo = t->helo;
      t->state = ST_MFROM_FED;
      return PD_STEP_CHECK;
    case ST_MFROM_FED: {
      int res = t->fed_res, action, local;
      const char *at = strchr(t->sender, '@');
      char reason[PD_TEXT];
      fmt(reason, "%s", t->fed_reason);
      local = domain_listed(cfg->reject_np, cfg->nreject_np,
                            at ? at + 1 : "");
      action = pd_action_for(cfg, 0, res, local);
      if (local) {
        fmt(reason, "Receiver policy for SPF %s", res_name(res));
      }
      if (res == MDSPF_NONE) {
        fmt(reason, "no SPF record");
      }
      /* A MAIL FROM "none" after a HELO result keeps the HELO header. */
      if (res != MDSPF_NONE || t->helo_res == 0 ||
          t->helo_res == MDSPF_NONE) {
        make_header(t, 0, res, reason);
        set_result(t, "mailfrom", res);
      }
      if ((cfg->mail_from_pass_restriction && res == MDSPF_PASS) ||
          (cfg->helo_pass_restriction && t->helo_res == MDSPF_PASS)) {
        set_result(t, "mailfrom", res);
        done(t, PD_RESULT_ONLY,
             (cfg->mail_from_pass_restriction && res == MDSPF_PASS)
               ? cfg->mail_from_pass_restriction
               : cfg->helo_pass_restriction,
             1);
        break;
      }
      if (action == PD_REJECT && cfg->no_mail && !t->fed_nomail) {
        action = PD_PREPEND;
      }
      if (action == PD_REJECT || action == PD_DEFER) {
        set_result(t, "mailfrom", res);
        t->iserror = res == MDSPF_TEMPERROR || res == MDSPF_PERMERROR;
        reject_message(t, action, 0, reason, t->text);
        t->kind = action;
        t->cacheable = 1;
        t->state = ST_DONE;
        break;
      }
      done(t, PD_PREPEND, t->header, 1);
      break;
    }
    case ST_DONE:
    default:
      return PD_STEP_DONE;
    }
  }
}

void pd_txn_feed(pd_txn *t, int result, const char *explanation,
                 const char *problem, const char *record) {
  if (result < MDSPF_NEUTRAL || result > MDSPF_PERMERROR) {
    result = MDSPF_TEMPERROR;
  }
  t->fed_res = result;
  reason_for(result, explanation, problem, t->fed_reason);
  t->fed_nomail = record && strcmp(record, "v=spf1 -all") == 0;
  switch (t->state) {
  case ST_DOMAIN_WL:
    if (result == MDSPF_PASS) {
      bypass(t, "SPF skipped for whitelisted relay domain - ", "whitelisted");
    } else {
      t->wl_index++;
    }
    break;
  case ST_HELO_WL: /* fed the HELO_Whitelist check */
    if (result == MDSPF_PASS) {
      bypass(t, "SPF skipped for whitelisted HELO domain - ", "whitelisted");
    }
    break;
  default:
    break;
  }
}

int pd_txn_kind(const pd_txn *t) {
  return t->kind;
}
const char *pd_txn_text(const pd_txn *t) {
  return t->text;
}
int pd_txn_iserror(const pd_txn *t) {
  return t->iserror;
}
const char *pd_txn_identity(const pd_txn *t) {
  return t->identity;
}
const char *pd_txn_result(const pd_txn *t) {
  return t->result;
}
int pd_txn_cacheable(const pd_txn *t) {
  return t->cacheable;
}
const char *pd_txn_client(const pd_txn *t) {
  return t->client;
}
const char *pd_txn_helo(const pd_txn *t) {
  return t->helo ? t->helo : t->helo_name;
}
const char *pd_txn_sender(const pd_txn *t) {
  return t->sender;
}
const char *pd_txn_instance(const pd_txn *t) {
  return t->instance;
}
const char *pd_txn_queue_id(const pd_txn *t) {
  return t->queue_id;
}

void pd_format_action(const pd_config *cfg, int kind, int iserror,
                      const char *text, char *buf, size_t bufsz) {
  if (cfg->test_only == 0 && kind != PD_PREPEND) {
    kind = PD_DUNNO;
  }
  switch (kind) {
  case PD_REJECT:
    snprintf(buf, bufsz, "%s %s",
             !cfg->enhanced_codes ? "550"
             : iserror            ? "550 5.7.24"
                                  : "550 5.7.23",
             text);
    break;
  case PD_DEFER:
    snprintf(buf, bufsz, "%s %s",
             cfg->enhanced_codes ? "defer_if_permit 4.7.24"
                                 : "defer_if_permit",
             text);
    break;
  case PD_PREPEND:
    if (cfg->prospective || cfg->header_type == PD_HDR_NONE) {
      snprintf(buf, bufsz, "dunno");
    } else {
      snprintf(buf, bufsz, "prepend %s", text);
    }
    break;
  case PD_RESULT_ONLY:
    snprintf(buf, bufsz, "%s", text);
    break;
  default:
    snprintf(buf, bufsz, "dunno");
    break;
  }
}

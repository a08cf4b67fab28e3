/*
 * lib/admin/header.c -- the verdict as a header field: Received-SPF (RFC 7208
 * section 9.1) and Authentication-Results (RFC 8601).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Both functions write one line without CRLF.  Everything that comes
 * from outside the library's own vocabulary (sender, HELO, receiver /
 * authserv-id, matched mechanism, problem text) goes through one of the
 * encoders below, which share one rule: an octet that is neither VCHAR
 * (0x21-0x7E) nor SP is written as '?'.  So the line is always printable
 * ASCII, CR and LF never appear, and every quoted-string and comment is
 * closed (the characters that could end or nest one are written as
 * quoted-pairs).  The encoders decide dot-atom / token / quoted-string on
 * the sanitised text, so unquoting a value gives exactly the sanitised
 * input.
 *
 * Every space written is part of an RFC 5322 FWS or CFWS, so a caller
 * that must respect the 998-octet line limit (long senders or problem
 * texts can exceed it) may fold at any space by inserting CRLF before it.
 *
 * Output goes through mdspf__sbuf, which counts the full length, so
 * *needed is exact whatever the buffer size and there is no internal cap.
 *
 * Decisions where RFC 7208 9.1 leaves room:
 * - envelope-from is the MAIL FROM as given; for the null reverse-path
 *   it is "postmaster@<HELO>", the mailbox RFC 7208 2.4 defines as the
 *   MAIL FROM identity in that case (and the <sender> check_host() saw).
 * - mechanism: the matched term as written; for pass, fail, softfail and
 *   neutral without a matched term the RFC's "default"; omitted for
 *   none, temperror and permerror without one.
 * - problem: for temperror and permerror the check's problem text, else
 *   the text of its reason (e.g. "cancelled"); for none only when the
 *   check reports a problem (e.g. an invalid identity domain).
 * - the comment names the identity: the MAIL FROM as given, or the HELO
 *   name for the HELO identity.
 */
#include "core/engine.h"
#include "core/addr.h"
#include "util/chars.h"
#include "util/strbuf.h"

#include <string.h>

/* ---- output: the bounded builder, which counts the full length --------- */

typedef mdspf__sbuf hout;

static void out_puts(hout *o, const char *s) { mdspf__sbuf_puts(o, s); }

static void out_putc(hout *o, char c) { mdspf__sbuf_putc(o, c); }

/* ---- character classes -------------------------------------------------- */

/* The octet as it may appear in the output: VCHAR and SP unchanged,
 * anything else (controls, DEL, >= 0x80) becomes '?'. */
static char safe_char(char ch) {
  unsigned char c = (unsigned char)ch;
  if (c == ' ' || (c >= 0x21 && c <= 0x7e)) {
    return (char)c;
  }
  return '?';
}

/* RFC 5322 atext. */
static int is_atext(char c) {
  return c != '\0' && (mdspf__is_alnum((unsigned char)c) ||
                       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 2045 token character: CHAR except SP, CTLs and tspecials. */
static int is_token_char(char c) {
  unsigned char u = (unsigned char)c;
  return u > 0x20 && u < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* RFC 5322 dot-atom-text (sanitised view of s[0..n)). */
static int is_dot_atom(const char *s, size_t n) {
  size_t i;
  int after_dot = 1;
  if (n == 0) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    char c = safe_char(s[i]);
    if (c == '.') {
      if (after_dot) {
        return 0;
      }
      after_dot = 1;
    } else if (is_atext(c)) {
      after_dot = 0;
    } else {
      return 0;
    }
  }
  return !after_dot;
}

/* RFC 2045 token (sanitised view). */
static int is_token(const char *s, size_t n) {
  size_t i;
  if (n == 0) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    if (!is_token_char(safe_char(s[i]))) {
      return 0;
    }
  }
  return 1;
}

/* RFC 6376 domain-name: sub-domain 1*("." sub-domain), sub-domain =
 * Let-dig [Ldh-str] (RFC 5321).  Only ASCII letters, digits and '-'
 * occur, so the sanitised and raw views agree. */
static int is_domain_name(const char *s, size_t n) {
  size_t i, labels = 0, ll = 0;
  for (i = 0; i <= n; i++) {
    unsigned char c = i < n ? (unsigned char)s[i] : '.';
    if (c == '.') {
      if (ll == 0 || s[i - 1] == '-') {
        return 0;
      }
      labels++;
      ll = 0;
    } else if (mdspf__is_alnum(c) || (c == '-' && ll > 0)) {
      ll++;
    } else {
      return 0;
    }
  }
  return labels >= 2;
}

/* dot-atom-text "@" domain-name: the form an RFC 8601 pvalue may carry
 * bare. */
static int is_simple_mailbox(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  size_t ll;
  if (!at) {
    return 0;
  }
  ll = (size_t)(at - s);
  return is_dot_atom(s, ll) && is_domain_name(at + 1, n - ll - 1);
}

/* ---- encoders ----------------------------------------------------------- */

/* The sanitised text of s as it stands (caller checked the form). */
static void put_bare(hout *o, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    out_putc(o, safe_char(s[i]));
  }
}

/* Inside a quoted-string: qtext and SP as they are, '"' and '\\' as
 * quoted-pairs. */
static void put_qcontent(hout *o, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    char c = safe_char(s[i]);
    if (c == '"' || c == '\\') {
      out_putc(o, '\\');
    }
    out_putc(o, c);
  }
}

static void put_quoted(hout *o, const char *s, size_t n) {
  out_putc(o, '"');
  put_qcontent(o, s, n);
  out_putc(o, '"');
}

/* Received-SPF value: dot-atom / quoted-string. */
static void put_value(hout *o, const char *s) {
  size_t n = strlen(s);
  if (is_dot_atom(s, n)) {
    put_bare(o, s, n);
  } else {
    put_quoted(o, s, n);
  }
}

/* RFC 2045 value (the authserv-id): token / quoted-string. */
static void put_mime_value(hout *o, const char *s) {
  size_t n = strlen(s);
  if (is_token(s, n)) {
    put_bare(o, s, n);
  } else {
    put_quoted(o, s, n);
  }
}

/* RFC 8601 pvalue: value / [ [ local-part ] "@" ] domain-name. */
static void put_pvalue(hout *o, const char *s) {
  size_t n = strlen(s);
  if (is_token(s, n) || is_simple_mailbox(s, n)) {
    put_bare(o, s, n);
  } else {
    put_quoted(o, s, n);
  }
}

/* Comment text: ctext and SP as they are, '(' ')' '\\' as quoted-pairs,
 * so the comment can neither close early nor nest. */
static void put_ctext(hout *o, const char *s) {
  size_t i, n = strlen(s);
  for (i = 0; i < n; i++) {
    char c = safe_char(s[i]);
    if (c == '(' || c == ')' || c == '\\') {
      out_putc(o, '\\');
    }
    out_putc(o, c);
  }
}

/* ---- the outcome, as the headers see it --------------------------------- */

static int header_begin(const mdspf_check *chk, char **buf, size_t *bufsz,
                        char *dummy, hout *o) {
  if (!chk || (!*buf && *bufsz)) {
    return MDSPF_E_INVAL;
  }
  if (chk->state != MDSPF__CS_DONE && chk->state != MDSPF__CS_CANCELLED) {
    return MDSPF_E_STATE;
  }
  if (!*buf) {
    *buf = dummy;
    *bufsz = 1;
  }
  mdspf__sbuf_init(o, *buf, *bufsz);
  return MDSPF_OK;
}

static mdspf_status header_end(const hout *o, size_t *needed) {
  return mdspf__sbuf_finish(o, needed);
}

/* The host name for the comment / receiver= / authserv-id. */
static const char *host_name(const mdspf_check *chk, const char *given) {
  if (given && *given) {
    return given;
  }
  if (chk->cfg && chk->cfg->receiver && *chk->cfg->receiver) {
    return chk->cfg->receiver;
  }
  return "unknown";
}

/* Client IP text from the stored address (valid for every started
 * check, also when start ran out of memory before %{c} was set). */
static void client_ip(const mdspf_check *chk, char out[48]) {
  if (chk->family == 4) {
    mdspf__ip4_format(chk->ip, out);
  } else {
    mdspf__ip6_format(chk->ip, out);
  }
}

static int used_helo(const mdspf_check *chk) {
  return chk->id_used == MDSPF_ID_HELO || !chk->sender;
}

/* The identity named in the comments. */
static const char *subject(const mdspf_check *chk) {
  const char *s = used_helo(chk) ? chk->helo : chk->sender;
  return s ? s : "unknown";
}

static int matching_result(int result) {
  return result == MDSPF_PASS || result == MDSPF_FAIL ||
         result == MDSPF_SOFTFAIL || result == MDSPF_NEUTRAL;
}

/* Details of an error result (see the file comment); NULL if none. */
static const char *problem_text(const mdspf_check *chk) {
  if (chk->result == MDSPF_TEMPERROR || chk->result == MDSPF_PERMERROR) {
    return chk->problem ? chk->problem : mdspf_strerror(chk->reason);
  }
  if (chk->result == MDSPF_NONE) {
    return chk->problem;
  }
  return NULL;
}

static const char *result_word(const mdspf_check *chk) {
  /* the engine only stores valid results; never print "invalid" */
  if (chk->result < MDSPF_NEUTRAL || chk->result > MDSPF_PERMERROR) {
    return "temperror";
  }
  return mdspf_result_str(chk->result);
}

/* " [best guess]" etc. when the deciding record was not published. */
static void put_source_tag(hout *o, const mdspf_check *chk) {
  switch (chk->source) {
  case MDSPF_SRC_GUESS:
    out_puts(o, " [best guess]");
    break;
  case MDSPF_SRC_LOCAL:
    out_puts(o, " [local policy]");
    break;
  case MDSPF_SRC_OVERRIDE:
    out_puts(o, " [override]");
    break;
  case MDSPF_SRC_FALLBACK:
    out_puts(o, " [fallback]");
    break;
  default:
    break;
  }
}

/* The Received-SPF comment body, libspf2's wording. */
static void put_long_comment(hout *o, const mdspf_check *chk,
                             const char *host, const char *ip) {
  const char *who = subject(chk);
  const char *problem = problem_text(chk);
  put_ctext(o, host);
  out_puts(o, ": ");
  switch (chk->result) {
  case MDSPF_PASS:
  case MDSPF_FAIL:
    out_puts(o, "domain of ");
    put_ctext(o, who);
    out_puts(o, chk->result == MDSPF_PASS ? " designates "
                                          : " does not designate ");
    put_ctext(o, ip);
    out_puts(o, " as permitted sender");
    break;
  case MDSPF_SOFTFAIL:
    out_puts(o, "transitioning domain of ");
    put_ctext(o, who);
    out_puts(o, " does not designate ");
    put_ctext(o, ip);
    out_puts(o, " as permitted sender");
    break;
  case MDSPF_NEUTRAL:
    put_ctext(o, ip);
    out_puts(o, " is neither permitted nor denied by domain of ");
    put_ctext(o, who);
    break;
  case MDSPF_NONE:
    out_puts(o, "domain of ");
    put_ctext(o, who);
    out_puts(o, " does not provide an SPF record");
    break;
  case MDSPF_PERMERROR:
    out_puts(o, "permanent error in processing domain of ");
    put_ctext(o, who);
    out_puts(o, ": ");
    put_ctext(o, problem ? problem : "");
    break;
  default: /* MDSPF_TEMPERROR */
    out_puts(o, "error in processing during lookup of ");
    put_ctext(o, who);
    out_puts(o, ": ");
    put_ctext(o, problem ? problem : "");
    break;
  }
  put_source_tag(o, chk);
}

/* The Authentication-Results comment: the matched term, or why not. */
static void put_short_comment(hout *o, const mdspf_check *chk) {
  const char *problem = problem_text(chk);
  if (matching_result(chk->result)) {
    if (chk->mechanism) {
      out_puts(o, "matched ");
      put_ctext(o, chk->mechanism);
    } else {
      out_puts(o, "no mechanism matched");
    }
  } else if (problem) {
    put_ctext(o, problem);
  } else {
    out_puts(o, "no SPF record");
  }
  put_source_tag(o, chk);
}

/* ---- public ------------------------------------------------------------- */

mdspf_status mdspf_check_received_spf(const mdspf_check *chk, const char *receiver,
                             char *buf, size_t bufsz, size_t *needed) {
  hout o;
  char dummy[1];
  char ip[48];
  const char *host, *problem;
  int rc = header_begin(chk, &buf, &bufsz, dummy, &o);
  if (rc != MDSPF_OK) {
    return rc;
  }
  host = host_name(chk, receiver);
  client_ip(chk, ip);
  problem = problem_text(chk);

  out_puts(&o, "Received-SPF: ");
  out_puts(&o, result_word(chk));
  out_puts(&o, " (");
  put_long_comment(&o, chk, host, ip);
  out_puts(&o, ") client-ip=");
  put_value(&o, ip);
  if (chk->sender) {
    out_puts(&o, "; envelope-from=");
    put_value(&o, chk->sender);
  } else if (chk->helo) {
    /* null reverse-path: RFC 7208 2.4's postmaster@<HELO> (has '@', so
     * never a dot-atom) */
    out_puts(&o, "; envelope-from=\"postmaster@");
    put_qcontent(&o, chk->helo, strlen(chk->helo));
    out_putc(&o, '"');
  }
  if (chk->helo) {
    out_puts(&o, "; helo=");
    put_value(&o, chk->helo);
  }
  out_puts(&o, "; receiver=");
  put_value(&o, host);
  if (chk->mechanism) {
    out_puts(&o, "; mechanism=");
    put_value(&o, chk->mechanism);
  } else if (matching_result(chk->result)) {
    out_puts(&o, "; mechanism=default");
  }
  if (problem) {
    out_puts(&o, "; problem=");
    put_value(&o, problem);
  }
  out_puts(&o, used_helo(chk) ? "; identity=helo" : "; identity=mailfrom");
  return header_end(&o, needed);
}

mdspf_status mdspf_check_auth_results(const mdspf_check *chk, const char *authserv_id,
                             char *buf, size_t bufsz, size_t *needed) {
  hout o;
  char dummy[1];
  int rc = header_begin(chk, &buf, &bufsz, dummy, &o);
  if (rc != MDSPF_OK) {
    return rc;
  }
  out_puts(&o, "Authentication-Results: ");
  put_mime_value(&o, host_name(chk, authserv_id));
  out_puts(&o, "; spf=");
  out_puts(&o, result_word(chk));
  out_puts(&o, " (");
  put_short_comment(&o, chk);
  out_putc(&o, ')');
  if (!used_helo(chk)) {
    out_puts(&o, " smtp.mailfrom=");
    put_pvalue(&o, chk->sender);
  } else if (chk->helo) {
    out_puts(&o, " smtp.helo=");
    put_pvalue(&o, chk->helo);
  }
  return header_end(&o, needed);
}

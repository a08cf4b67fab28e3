/*
 * lib/libspf2/response.c -- SPF_response_t: result, messages, and the
 * three texts programs copy into headers and SMTP replies, in libspf2's
 * formats.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Every piece of outside text in them (sender, HELO, receiving domain,
 * explanation) is written printable: names as DNS presentation format
 * writes them (a control octet becomes "\DDD"), the explanation
 * URL-escaped -- so no CR or LF, whatever the SMTP client sent, and the
 * texts can go into a header field as they are.
 */
#include "libspf2/compat.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

SPF_response_t *SPF_response_new(SPF_request_t *spf_request) {
  SPF_response_t *rp = spfx_calloc(1, sizeof *rp);
  if (rp) {
    rp->spf_request = spf_request;
    rp->result = SPF_RESULT_INVALID;
  }
  return rp;
}

static void free_texts(SPF_response_t *rp) {
  spfx_free(rp->received_spf);
  spfx_free(rp->header_comment);
  spfx_free(rp->smtp_comment);
  rp->received_spf = rp->received_spf_value = NULL;
  rp->header_comment = rp->smtp_comment = NULL;
}

void SPF_response_free(SPF_response_t *rp) {
  unsigned i;
  if (!rp) {
    return;
  }
  free_texts(rp);
  spfx_free(rp->explanation);
  for (i = 0; rp->errors && i < rp->errors_length; i++) {
    spfx_free(rp->errors[i].message);
  }
  spfx_free(rp->errors);
  spfx_free(rp);
}

static SPF_response_t *keep(SPF_response_t *yes, SPF_response_t *no) {
  SPF_response_free(no);
  return yes;
}

SPF_response_t *SPF_response_combine(SPF_response_t *main,
                                     SPF_response_t *r2mx) {
  SPF_result_t second;
  if (!main || !r2mx) {
    return main ? main : r2mx;
  }
  second = r2mx->result;
  switch (main->result) {
  case SPF_RESULT_PASS:
    return keep(main, r2mx);
  case SPF_RESULT_INVALID:
  case SPF_RESULT_FAIL:
    return keep(r2mx, main);
  case SPF_RESULT_NEUTRAL:
    return second == SPF_RESULT_PASS ? keep(r2mx, main) : keep(main, r2mx);
  default: /* softfail, none, temperror, permerror */
    return second == SPF_RESULT_PASS || second == SPF_RESULT_NEUTRAL ||
                   second == SPF_RESULT_SOFTFAIL
               ? keep(r2mx, main)
               : keep(main, r2mx);
  }
}

SPF_result_t SPF_response_result(SPF_response_t *rp) {
  return rp ? rp->result : SPF_RESULT_INVALID;
}
SPF_reason_t SPF_response_reason(SPF_response_t *rp) {
  return rp ? rp->reason : SPF_REASON_NONE;
}
SPF_errcode_t SPF_response_errcode(SPF_response_t *rp) {
  return rp ? rp->err : SPF_E_SUCCESS;
}
const char *SPF_response_get_received_spf(SPF_response_t *rp) {
  return rp ? rp->received_spf : NULL;
}
const char *SPF_response_get_received_spf_value(SPF_response_t *rp) {
  return rp ? rp->received_spf_value : NULL;
}
const char *SPF_response_get_header_comment(SPF_response_t *rp) {
  return rp ? rp->header_comment : NULL;
}
const char *SPF_response_get_smtp_comment(SPF_response_t *rp) {
  return rp ? rp->smtp_comment : NULL;
}
const char *SPF_response_get_explanation(SPF_response_t *rp) {
  return rp ? rp->explanation : NULL;
}

int SPF_response_messages(SPF_response_t *rp) {
  return rp ? rp->errors_length : 0;
}
int SPF_response_errors(SPF_response_t *rp) { return rp ? rp->num_errors : 0; }
int SPF_response_warnings(SPF_response_t *rp) {
  return rp ? rp->errors_length - rp->num_errors : 0;
}
SPF_error_t *SPF_response_message(SPF_response_t *rp, int idx) {
  if (!rp || idx < 0 || idx >= rp->errors_length) {
    return NULL;
  }
  return &rp->errors[idx];
}
SPF_errcode_t SPF_error_code(SPF_error_t *err) {
  return err ? err->code : SPF_E_SUCCESS;
}
const char *SPF_error_message(SPF_error_t *err) {
  return err && err->message ? err->message : "";
}
char SPF_error_errorp(SPF_error_t *err) { return err ? err->is_error : 0; }

/* ---- messages ------------------------------------------------------ */

#define MSG_MAX 1024
#define MSGS_MAX 64 /* per response: a bound, not a libspf2 rule */

static void add_msg(SPF_response_t *rp, SPF_errcode_t code, int is_error,
                    const char *text, const char *near, const char *format,
                    va_list ap) __attribute__((format(printf, 6, 0)));
static void add_msg(SPF_response_t *rp, SPF_errcode_t code, int is_error,
                    const char *text, const char *near, const char *format,
                    va_list ap) {
  char buf[MSG_MAX];
  mdspf__sbuf sb;
  SPF_error_t *e;
  int n;
  if (!rp || rp->errors_length >= MSGS_MAX) {
    return;
  }
  if (format) {
    n = vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) {
      buf[0] = '\0';
    }
  } else {
    snprintf(buf, sizeof buf, "%s", SPF_strerror(code));
  }
  (void)text;
  if (near) {
    size_t len = strlen(buf);
    snprintf(buf + len, sizeof buf - len, " near '%.12s'", near);
  }
  if (rp->errors_length == rp->errors_size) {
    unsigned short size = (unsigned short)(rp->errors_size + 8);
    e = spfx_realloc(rp->errors, size * sizeof *e);
    if (!e) {
      return;
    }
    rp->errors = e;
    rp->errors_size = size;
  }
  e = &rp->errors[rp->errors_length];
  /* messages quote outside text: keep them printable too */
  {
    char clean[MSG_MAX * 4 + 1];
    mdspf__sbuf_init(&sb, clean, sizeof clean);
    mdspf__sbuf_put_escaped(&sb, buf, strlen(buf));
    e->message = spfx_strdup(clean);
  }
  if (!e->message) {
    return;
  }
  e->code = code;
  e->is_error = (char)is_error;
  rp->errors_length++;
  if (is_error) {
    rp->num_errors++;
  }
}

#define ADD_MSG(is_error, text, near)                                          \
  do {                                                                     \
    va_list ap;                                                            \
    va_start(ap, format);                                                  \
    add_msg(rp, code, is_error, text, near, format, ap);                   \
    va_end(ap);                                                            \
    return code;                                                           \
  } while (0)

SPF_errcode_t SPF_response_add_error_ptr(SPF_response_t *rp,
                                         SPF_errcode_t code,
                                         const char *text, const char *tptr,
                                         const char *format, ...) {
  ADD_MSG(1, text, tptr ? tptr : text);
}
SPF_errcode_t SPF_response_add_error_idx(SPF_response_t *rp,
                                         SPF_errcode_t code,
                                         const char *text, int idx,
                                         const char *format, ...) {
  ADD_MSG(1, text,
      text && idx >= 0 && (size_t)idx <= strlen(text) ? text + idx : NULL);
}
SPF_errcode_t SPF_response_add_error(SPF_response_t *rp, SPF_errcode_t code,
                                     const char *format, ...) {
  ADD_MSG(1, NULL, NULL);
}
SPF_errcode_t SPF_response_add_warn_ptr(SPF_response_t *rp,
                                        SPF_errcode_t code, const char *text,
                                        const char *tptr, const char *format,
                                        ...) {
  ADD_MSG(0, text, tptr ? tptr : text);
}
SPF_errcode_t SPF_response_add_warn_idx(SPF_response_t *rp,
                                        SPF_errcode_t code, const char *text,
                                        int idx, const char *format, ...) {
  ADD_MSG(0, text,
      text && idx >= 0 && (size_t)idx <= strlen(text) ? text + idx : NULL);
}
SPF_errcode_t SPF_response_add_warn(SPF_response_t *rp, SPF_errcode_t code,
                                    const char *format, ...) {
  ADD_MSG(0, NULL, NULL);
}

/* ---- the texts ----------------------------------------------------- */

static void put_name(mdspf__sbuf *sb, const char *s) {
  mdspf__sbuf_put_escaped(sb, s, strlen(s));
}

static const char *client_ip(const SPF_request_t *sr, char *buf,
                              size_t size) {
  const char *ip = NULL;
  if (sr->client_ver == AF_INET) {
    ip = inet_ntop(AF_INET, &sr->ipv4, buf, (socklen_t)size);
  } else if (sr->client_ver == AF_INET6) {
    ip = inet_ntop(AF_INET6, &sr->ipv6, buf, (socklen_t)size);
  }
  return ip;
}

/* "<source>" of the header comment: who made the statement. */
static void put_source(mdspf__sbuf *sb, const SPF_response_t *rp) {
  const SPF_request_t *sr = rp->spf_request;
  const char *dom = sr->env_from_dp ? sr->env_from_dp : sr->helo_dom;
  if (rp->reason == SPF_REASON_LOCAL_POLICY) {
    mdspf__sbuf_puts(sb, "local policy");
  } else if (rp->reason == SPF_REASON_2MX && sr->rcpt_to_dom) {
    put_name(sb, sr->rcpt_to_dom);
  } else if (!dom) {
    mdspf__sbuf_puts(sb, "unknown domain");
  } else {
    mdspf__sbuf_puts(sb, "domain of ");
    put_name(sb, dom);
  }
}

static char *header_comment(const SPF_response_t *rp) {
  const SPF_request_t *sr = rp->spf_request;
  const SPF_server_t *srv = sr->spf_server;
  char out[2048], ipbuf[INET6_ADDRSTRLEN];
  const char *ip = client_ip(sr, ipbuf, sizeof ipbuf);
  mdspf__sbuf sb;
  if (!ip) {
    ip = "(unknown ip address)";
  }
  mdspf__sbuf_init(&sb, out, sizeof out);
  put_name(&sb, srv && srv->rec_dom ? srv->rec_dom : "unknown");
  mdspf__sbuf_puts(&sb, ": ");
  switch (rp->result) {
  case SPF_RESULT_PASS:
    if (rp->reason == SPF_REASON_LOCALHOST) {
      mdspf__sbuf_puts(&sb, "localhost is always allowed.");
    } else if (rp->reason == SPF_REASON_2MX) {
      mdspf__sbuf_puts(&sb, "message received from ");
      mdspf__sbuf_puts(&sb, ip);
      mdspf__sbuf_puts(&sb, " which is an MX secondary for ");
      put_source(&sb, rp);
      mdspf__sbuf_puts(&sb, ".");
    } else {
      put_source(&sb, rp);
      mdspf__sbuf_puts(&sb, " designates ");
      mdspf__sbuf_puts(&sb, ip);
      mdspf__sbuf_puts(&sb, " as permitted sender");
    }
    break;
  case SPF_RESULT_FAIL:
  case SPF_RESULT_SOFTFAIL:
    if (rp->result == SPF_RESULT_SOFTFAIL) {
      mdspf__sbuf_puts(&sb, "transitioning ");
    }
    put_source(&sb, rp);
    mdspf__sbuf_puts(&sb, " does not designate ");
    mdspf__sbuf_puts(&sb, ip);
    mdspf__sbuf_puts(&sb, " as permitted sender");
    break;
  case SPF_RESULT_PERMERROR:
    mdspf__sbuf_puts(&sb, "error in processing during lookup of ");
    put_source(&sb, rp);
    mdspf__sbuf_puts(&sb, ": ");
    mdspf__sbuf_puts(&sb, SPF_strerror(rp->err));
    break;
  case SPF_RESULT_NEUTRAL:
    mdspf__sbuf_puts(&sb, ip);
    mdspf__sbuf_puts(&sb, " is neither permitted nor denied by ");
    put_source(&sb, rp);
    break;
  case SPF_RESULT_NONE:
    put_source(&sb, rp);
    mdspf__sbuf_puts(&sb, " does not provide an SPF record");
    break;
  case SPF_RESULT_TEMPERROR:
    mdspf__sbuf_puts(&sb,
                     "encountered temporary error during SPF processing of ");
    put_source(&sb, rp);
    break;
  default:
    mdspf__sbuf_puts(&sb, "error: unknown SPF result ");
    mdspf__sbuf_putu(&sb, (unsigned long)rp->result);
    mdspf__sbuf_puts(&sb, " encountered while checking ");
    mdspf__sbuf_puts(&sb, ip);
    mdspf__sbuf_puts(&sb, " for ");
    put_source(&sb, rp);
    break;
  }
  return spfx_strdup(out);
}

/* "Received-SPF: " value, cut at SPF_RECEIVED_SPF_SIZE - 1 octets. */
static char *received_spf(const SPF_response_t *rp) {
  const SPF_request_t *sr = rp->spf_request;
  char out[SPF_RECEIVED_SPF_SIZE], ipbuf[INET6_ADDRSTRLEN];
  const char *ip = client_ip(sr, ipbuf, sizeof ipbuf);
  mdspf__sbuf sb;
  mdspf__sbuf_init(&sb, out, sizeof out);
  mdspf__sbuf_puts(&sb, "Received-SPF: ");
  mdspf__sbuf_puts(&sb, SPF_strresult(rp->result));
  mdspf__sbuf_puts(&sb, " (");
  mdspf__sbuf_puts(&sb, rp->header_comment ? rp->header_comment : "");
  mdspf__sbuf_puts(&sb, ")");
  if (ip) {
    mdspf__sbuf_puts(&sb, " client-ip=");
    mdspf__sbuf_puts(&sb, ip);
    mdspf__sbuf_puts(&sb, ";");
  }
  if (sr->env_from) {
    mdspf__sbuf_puts(&sb, " envelope-from=");
    put_name(&sb, sr->env_from);
    mdspf__sbuf_puts(&sb, ";");
  }
  if (sr->helo_dom) {
    mdspf__sbuf_puts(&sb, " helo=");
    put_name(&sb, sr->helo_dom);
    mdspf__sbuf_puts(&sb, ";");
  }
  return spfx_strdup(out);
}

/* The default explanation for softfail and neutral (and fail when the
 * engine gave none): the server's explanation expanded for the request. */
static char *default_explanation(const SPF_response_t *rp) {
  SPF_request_t *sr = rp->spf_request;
  const char *text = spfx_exp_text(sr->spf_server);
  char *buf = NULL;
  size_t len = 0;
  if (spfx_expand(sr->spf_server, sr, sr->cur_dom, text, strlen(text), 1,
                  &buf, &len) != SPF_E_SUCCESS) {
    spfx_free(buf);
    return NULL;
  }
  return buf;
}

SPF_errcode_t SPF_i_done(SPF_response_t *rp, SPF_result_t result,
                         SPF_reason_t reason, SPF_errcode_t err) {
  char smtp[SPF_SMTP_COMMENT_SIZE];
  if (!rp) {
    return err;
  }
  rp->result = result;
  rp->reason = reason;
  rp->err = err;
  free_texts(rp);
  if (!rp->spf_request || !rp->spf_request->spf_server) {
    return err;
  }
  if (result == SPF_RESULT_FAIL || result == SPF_RESULT_SOFTFAIL ||
      result == SPF_RESULT_NEUTRAL) {
    if (!rp->explanation) {
      rp->explanation = default_explanation(rp);
    }
    if (rp->explanation) {
      mdspf__sbuf sb;
      mdspf__sbuf_init(&sb, smtp, sizeof smtp);
      mdspf__sbuf_puts(&sb, rp->explanation);
      mdspf__sbuf_puts(&sb, " : Reason: ");
      mdspf__sbuf_puts(&sb, SPF_strreason(reason));
      rp->smtp_comment = spfx_strdup(smtp);
    }
  }
  rp->header_comment = header_comment(rp);
  if (rp->header_comment) {
    rp->received_spf = received_spf(rp);
    if (rp->received_spf) {
      rp->received_spf_value = rp->received_spf + strlen("Received-SPF: ");
    }
  }
  return err;
}

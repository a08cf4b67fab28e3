/*
 * lib/core/names.c -- the version and the texts of every code.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <maildrop-spf/spf.h>

unsigned mdspf_version(void) { return MDSPF_VERSION_NUM; }

const char *mdspf_version_str(void) { return MDSPF_VERSION_STR; }

const char *mdspf_strerror(int status) {
  switch ((mdspf_status)status) {
  case MDSPF_OK:
    return "success";
  case MDSPF_E_NOMEM:
    return "out of memory";
  case MDSPF_E_INVAL:
    return "invalid argument";
  case MDSPF_E_SYNTAX:
    return "syntax error";
  case MDSPF_E_LIMIT:
    return "limit exceeded";
  case MDSPF_E_DNS:
    return "DNS failure";
  case MDSPF_E_TIMEOUT:
    return "time budget exceeded";
  case MDSPF_E_CANCELLED:
    return "cancelled";
  case MDSPF_E_STATE:
    return "operation not allowed in this state";
  case MDSPF_E_RECURSIVE:
    return "blocking call made from inside a callback";
  case MDSPF_E_IO:
    return "I/O error";
  case MDSPF_E_NORECORD:
    return "no SPF record where one is required";
  case MDSPF_E_MULTIREC:
    return "more than one SPF record";
  case MDSPF_E_NOTSUP:
    return "not supported";
  case MDSPF_E_BUFFER:
    return "buffer too small";
  case MDSPF_E_BUDGET:
    return "memory budget exceeded";
  }
  return "unknown status";
}

const char *mdspf_result_str(int result) {
  switch ((mdspf_result)result) {
  case MDSPF_NO_RESULT:
    return "no result";
  case MDSPF_RESULT_SIGNED_:
    break;
  case MDSPF_NONE:
    return "none";
  case MDSPF_NEUTRAL:
    return "neutral";
  case MDSPF_PASS:
    return "pass";
  case MDSPF_FAIL:
    return "fail";
  case MDSPF_SOFTFAIL:
    return "softfail";
  case MDSPF_TEMPERROR:
    return "temperror";
  case MDSPF_PERMERROR:
    return "permerror";
  }
  return "invalid";
}

const char *mdspf_syntax_str(int code) {
  switch ((mdspf_syntax)code) {
  case MDSPF_SYN_OK:
    return "no error";
  case MDSPF_SYN_VERSION:
    return "record does not start with \"v=spf1\"";
  case MDSPF_SYN_TOO_LONG:
    return "record too long";
  case MDSPF_SYN_BAD_CHAR:
    return "character not allowed here";
  case MDSPF_SYN_UNKNOWN_MECH:
    return "unknown mechanism";
  case MDSPF_SYN_MISSING_ARG:
    return "required argument missing or empty";
  case MDSPF_SYN_UNEXPECTED_ARG:
    return "argument not allowed for this term";
  case MDSPF_SYN_BAD_DOMAIN:
    return "domain-spec must end in a macro or a valid top label";
  case MDSPF_SYN_BAD_MACRO:
    return "malformed macro";
  case MDSPF_SYN_MACRO_LETTER:
    return "macro letter not allowed here";
  case MDSPF_SYN_BAD_CIDR:
    return "invalid CIDR prefix length";
  case MDSPF_SYN_BAD_IP4:
    return "invalid IPv4 address";
  case MDSPF_SYN_BAD_IP6:
    return "invalid IPv6 address";
  case MDSPF_SYN_DUP_MODIFIER:
    return "modifier may appear only once";
  case MDSPF_SYN_BAD_MODIFIER:
    return "invalid modifier name";
  case MDSPF_SYN_TOO_MANY_TERMS:
    return "too many terms";
  }
  return "unknown syntax error";
}

const char *mdspf_term_kind_str(int kind) {
  switch ((mdspf_term_kind)kind) {
  case MDSPF_TERM_ALL:
    return "all";
  case MDSPF_TERM_INCLUDE:
    return "include";
  case MDSPF_TERM_A:
    return "a";
  case MDSPF_TERM_MX:
    return "mx";
  case MDSPF_TERM_PTR:
    return "ptr";
  case MDSPF_TERM_IP4:
    return "ip4";
  case MDSPF_TERM_IP6:
    return "ip6";
  case MDSPF_TERM_EXISTS:
    return "exists";
  case MDSPF_TERM_REDIRECT:
    return "redirect";
  case MDSPF_TERM_EXP:
    return "exp";
  case MDSPF_TERM_MODIFIER:
    return "modifier";
  }
  return "unknown";
}

const char *mdspf_dns_status_str(int status) {
  switch ((mdspf_dns_status)status) {
  case MDSPF_DNS_OK:
    return "ok";
  case MDSPF_DNS_NODATA:
    return "nodata";
  case MDSPF_DNS_NXDOMAIN:
    return "nxdomain";
  case MDSPF_DNS_TEMPFAIL:
    return "tempfail";
  case MDSPF_DNS_ERROR:
    return "error";
  }
  return "unknown";
}

const char *mdspf_rr_type_str(int rrtype) {
  switch (rrtype) {
  case MDSPF_RR_A:
    return "A";
  case MDSPF_RR_CNAME:
    return "CNAME";
  case MDSPF_RR_PTR:
    return "PTR";
  case MDSPF_RR_MX:
    return "MX";
  case MDSPF_RR_TXT:
    return "TXT";
  case MDSPF_RR_AAAA:
    return "AAAA";
  default:
    return "?";
  }
}

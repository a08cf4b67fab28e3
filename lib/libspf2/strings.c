/*
 * lib/libspf2/strings.c -- texts of the codes, the version, and the
 * diagnostic functions with the four handler pointers libspf2 exports as
 * data (the only global state of the compatible API).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "libspf2/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

const char *SPF_strerror(SPF_errcode_t e) {
  switch (e) {
  case SPF_E_SUCCESS: return "No errors";
  case SPF_E_NO_MEMORY: return "Out of memory";
  case SPF_E_NOT_SPF: return "Could not find a valid SPF record";
  case SPF_E_SYNTAX: return "Syntax error";
  case SPF_E_MOD_W_PREF: return "Modifiers can not have prefixes";
  case SPF_E_INVALID_CHAR: return "Invalid character found";
  case SPF_E_UNKNOWN_MECH: return "Unknown mechanism found";
  case SPF_E_INVALID_OPT: return "Invalid option found";
  case SPF_E_INVALID_CIDR: return "Invalid CIDR length";
  case SPF_E_MISSING_OPT: return "Required option is missing";
  case SPF_E_INTERNAL_ERROR: return "Internal programming error";
  case SPF_E_INVALID_ESC: return "Invalid %-escape character";
  case SPF_E_INVALID_VAR: return "Invalid macro variable";
  case SPF_E_BIG_SUBDOM: return "Subdomain truncation depth too large";
  case SPF_E_INVALID_DELIM: return "Invalid delimiter character";
  case SPF_E_BIG_STRING: return "Option string too long";
  case SPF_E_BIG_MECH: return "Too many mechanisms";
  case SPF_E_BIG_MOD: return "Too many modifiers";
  case SPF_E_BIG_DNS: return "Mechanisms used too many DNS lookups";
  case SPF_E_INVALID_IP4: return "Invalid IPv4 address literal";
  case SPF_E_INVALID_IP6: return "Invalid IPv6 address literal";
  case SPF_E_INVALID_PREFIX: return "Invalid mechanism prefix";
  case SPF_E_RESULT_UNKNOWN: return "SPF result is \"unknown\"";
  case SPF_E_UNINIT_VAR: return "Uninitialized variable";
  case SPF_E_MOD_NOT_FOUND: return "Modifier not found";
  case SPF_E_NOT_CONFIG: return "Not configured";
  case SPF_E_DNS_ERROR: return "DNS lookup failure";
  case SPF_E_BAD_HOST_IP: return "Invalid hostname (possibly an IP address?)";
  case SPF_E_BAD_HOST_TLD: return "Hostname has a missing or invalid TLD";
  case SPF_E_MECH_AFTER_ALL:
    return "Mechanisms found after the \"all:\" mechanism will be ignored";
  case SPF_E_INCLUDE_RETURNED_NONE: return "include: mechanism returned 'none'";
  case SPF_E_RECURSIVE:
    return "include: or redirect= caused unlimited recursion";
  case SPF_E_MULTIPLE_RECORDS: return "Multiple SPF or TXT records for domain.";
  }
  return "Unknown SPF error code";
}

const char *SPF_strresult(SPF_result_t r) {
  switch (r) {
  case SPF_RESULT_INVALID: return "(invalid)";
  case SPF_RESULT_NEUTRAL: return "neutral";
  case SPF_RESULT_PASS: return "pass";
  case SPF_RESULT_FAIL: return "fail";
  case SPF_RESULT_SOFTFAIL: return "softfail";
  case SPF_RESULT_NONE: return "none";
  case SPF_RESULT_TEMPERROR: return "temperror";
  case SPF_RESULT_PERMERROR: return "permerror";
  }
  return "(error: unknown result)";
}

const char *SPF_strreason(SPF_reason_t r) {
  switch (r) {
  case SPF_REASON_NONE: return "none";
  case SPF_REASON_FAILURE: return "(invalid reason)";
  case SPF_REASON_LOCALHOST: return "localhost";
  case SPF_REASON_LOCAL_POLICY: return "local policy";
  case SPF_REASON_MECH: return "mechanism";
  case SPF_REASON_DEFAULT: return "default";
  case SPF_REASON_2MX: return "secondary MX";
  }
  return "(invalid reason)";
}

const char *SPF_strrrtype(ns_type t) {
  switch ((int)t) {
  case ns_t_a: return "A";
  case ns_t_aaaa: return "AAAA";
  case ns_t_any: return "ANY";
  case ns_t_invalid: return "BAD";
  case ns_t_mx: return "MX";
  case ns_t_ptr: return "PTR";
  case ns_t_spf: return "SPF";
  case ns_t_txt: return "TXT";
  default: return "??";
  }
}

void SPF_get_lib_version(int *major, int *minor, int *patch) {
  if (major) {
    *major = SPF_LIB_VERSION_MAJOR;
  }
  if (minor) {
    *minor = SPF_LIB_VERSION_MINOR;
  }
  if (patch) {
    *patch = SPF_LIB_VERSION_PATCH;
  }
}

/* ---- diagnostics --------------------------------------------------- */

void (*SPF_error_handler)(const char *, int, const char *)
    __attribute__((noreturn)) = SPF_error_stdio;
void (*SPF_warning_handler)(const char *, int,
                            const char *) = SPF_warning_stdio;
void (*SPF_info_handler)(const char *, int, const char *) = SPF_info_stdio;
void (*SPF_debug_handler)(const char *, int, const char *) = SPF_debug_stdio;

typedef void (*handler_fn)(const char *, int, const char *);

static void emit(handler_fn h, const char *file, int line,
                 const char *format, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void emit(handler_fn h, const char *file, int line,
                 const char *format, va_list ap) {
  char buf[4096];
  if (!h) {
    return;
  }
  buf[0] = '\0';
  if (format && vsnprintf(buf, sizeof buf, format, ap) < 0) {
    buf[0] = '\0';
  }
  h(file, line, buf);
}

void SPF_errorv(const char *file, int line, const char *format, va_list ap) {
  emit(SPF_error_handler, file, line, format, ap);
  abort();
}
void SPF_errorx(const char *file, int line, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  SPF_errorv(file, line, format, ap);
}
void SPF_errorx2(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  SPF_errorv(NULL, 0, format, ap);
}

#define LOGFNS(kind, handler)                                              \
  void SPF_##kind##v(const char *file, int line, const char *format,      \
                     va_list ap) {                                         \
    emit(handler, file, line, format, ap);                                 \
  }                                                                        \
  void SPF_##kind##x(const char *file, int line, const char *format, ...) { \
    va_list ap;                                                            \
    va_start(ap, format);                                                  \
    emit(handler, file, line, format, ap);                                 \
    va_end(ap);                                                            \
  }                                                                        \
  void SPF_##kind##x2(const char *format, ...) {                           \
    va_list ap;                                                            \
    va_start(ap, format);                                                  \
    emit(handler, NULL, 0, format, ap);                                    \
    va_end(ap);                                                            \
  }
LOGFNS(warning, SPF_warning_handler)
LOGFNS(info, SPF_info_handler)
LOGFNS(debug, SPF_debug_handler)

static void to_stream(FILE *f, const char *tag, const char *file, int line,
                      const char *msg) {
  if (file) {
    fprintf(f, "%s (%s:%d): %s\n", tag, file, line, msg ? msg : "");
  } else {
    fprintf(f, "%s: %s\n", tag, msg ? msg : "");
  }
  fflush(f);
}

void SPF_error_stdio(const char *file, int line, const char *errmsg) {
  to_stream(stderr, "Error", file, line, errmsg);
  abort();
}
void SPF_warning_stdio(const char *file, int line, const char *errmsg) {
  to_stream(stderr, "Warning", file, line, errmsg);
}
void SPF_info_stdio(const char *file, int line, const char *errmsg) {
  (void)file;
  (void)line;
  to_stream(stdout, "Info", NULL, 0, errmsg);
}
void SPF_debug_stdio(const char *file, int line, const char *errmsg) {
  to_stream(stderr, "Debug", file, line, errmsg);
}

void SPF_error_syslog(const char *file, int line, const char *errmsg) {
  syslog(LOG_MAIL | LOG_ERR, "%s:%d %s", file ? file : "", line,
         errmsg ? errmsg : "");
  abort();
}
void SPF_warning_syslog(const char *file, int line, const char *errmsg) {
  syslog(LOG_MAIL | LOG_WARNING, "%s:%d %s", file ? file : "", line,
         errmsg ? errmsg : "");
}
void SPF_info_syslog(const char *file, int line, const char *errmsg) {
  (void)file;
  (void)line;
  syslog(LOG_MAIL | LOG_INFO, "%s", errmsg ? errmsg : "");
}
void SPF_debug_syslog(const char *file, int line, const char *errmsg) {
  syslog(LOG_MAIL | LOG_DEBUG, "%s:%d %s", file ? file : "", line,
         errmsg ? errmsg : "");
}

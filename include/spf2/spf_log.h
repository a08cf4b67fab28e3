/*
 * spf2/spf_log.h -- diagnostics.  The library itself reports through
 * responses, never through these; they exist for programs that call or
 * replace them.  The four handler pointers are the only global state
 * (libspf2 exports them as data); assign them before any thread starts.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_LOG
#define INC_SPF_LOG

#include <stdarg.h>
#include "spf_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPF_error(errmsg) SPF_errorx(__FILE__, __LINE__, "%s", errmsg)
void SPF_errorx(const char *file, int line, const char *format, ...)
    __attribute__((noreturn)) __attribute__((format(printf, 3, 4)));
void SPF_errorx2(const char *format, ...)
    __attribute__((format(printf, 1, 2)));
void SPF_errorv(const char *file, int line, const char *format, va_list ap)
    __attribute__((noreturn)) __attribute__((format(printf, 3, 0)));

#define SPF_warning(errmsg) SPF_warningx(__FILE__, __LINE__, "%s", errmsg)
void SPF_warningx(const char *file, int line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void SPF_warningx2(const char *format, ...)
    __attribute__((format(printf, 1, 2)));
void SPF_warningv(const char *file, int line, const char *format, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define SPF_info(errmsg) SPF_infox(__FILE__, __LINE__, "%s", errmsg)
void SPF_infox(const char *file, int line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void SPF_infox2(const char *format, ...)
    __attribute__((format(printf, 1, 2)));
void SPF_infov(const char *file, int line, const char *format, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define SPF_debug(errmsg) SPF_debugx(__FILE__, __LINE__, "%s", errmsg)
void SPF_debugx(const char *file, int line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void SPF_debugx2(const char *format, ...)
    __attribute__((format(printf, 1, 2)));
void SPF_debugv(const char *file, int line, const char *format, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define SPF_errorf(...) SPF_errorx(__FILE__, __LINE__, __VA_ARGS__)
#define SPF_warningf(...) SPF_warningx(__FILE__, __LINE__, __VA_ARGS__)
#define SPF_infof(...) SPF_infox(__FILE__, __LINE__, __VA_ARGS__)
#define SPF_debugf(...) SPF_debugx(__FILE__, __LINE__, __VA_ARGS__)

/* Handlers writing to stderr / stdout, and to syslog. */
void SPF_error_stdio(const char *file, int line, const char *errmsg)
    __attribute__((noreturn));
void SPF_warning_stdio(const char *file, int line, const char *errmsg);
void SPF_info_stdio(const char *file, int line, const char *errmsg);
void SPF_debug_stdio(const char *file, int line, const char *errmsg);
void SPF_error_syslog(const char *file, int line, const char *errmsg)
    __attribute__((noreturn));
void SPF_warning_syslog(const char *file, int line, const char *errmsg);
void SPF_info_syslog(const char *file, int line, const char *errmsg);
void SPF_debug_syslog(const char *file, int line, const char *errmsg);

#define SPF_DEFAULT_ERROR_HANDLER SPF_error_stdio
#define SPF_DEFAULT_WARNING_HANDLER SPF_warning_stdio
#define SPF_DEFAULT_INFO_HANDLER SPF_info_stdio
#define SPF_DEFAULT_DEBUG_HANDLER SPF_debug_stdio

/* The handlers the functions above call (NULL: silent; the error
 * handler then aborts). */
extern void (*SPF_error_handler)(const char *, int, const char *)
    __attribute__((noreturn));
extern void (*SPF_warning_handler)(const char *, int, const char *);
extern void (*SPF_info_handler)(const char *, int, const char *);
extern void (*SPF_debug_handler)(const char *, int, const char *);

#define SPF_ASSERT_NOTNULL(x)                                              \
  do {                                                                     \
    if ((x) == NULL)                                                       \
      SPF_error(#x " is NULL");                                            \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif /* INC_SPF_LOG */

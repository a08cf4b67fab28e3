/*
 * spf2/spf_types.h -- the types every libspf2-compatible header shares:
 * forward declarations of the handles and the three code enums.  Not a
 * libspf2 header (libspf2 spreads these over mutually including files);
 * include <spf2/spf.h> instead.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Part of the libspf2 1.2.10 compatible API of libmaildrop-spf.  Names,
 * enum values and the layout of the structures callers touch are those
 * of libspf2 1.2.10, so programs built against libspf2 run unchanged on
 * this library (SONAME libspf2.so.2).
 */
#ifndef SPF2_COMPAT_TYPES_H
#define SPF2_COMPAT_TYPES_H

#include <stddef.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>

#ifndef __GNUC__
#define __attribute__(x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Handles.  SPF_server_t, SPF_request_t and SPF_response_t are only
 * ever allocated by the library (their public fields may be read, and
 * request->spf_server written); SPF_dns_server_t and SPF_dns_rr_t may be
 * filled by the caller (a DNS layer of its own). */
typedef struct SPF_server_struct SPF_server_t;
typedef struct SPF_request_struct SPF_request_t;
typedef struct SPF_response_struct SPF_response_t;
typedef struct SPF_record_struct SPF_record_t;
typedef struct SPF_macro_struct SPF_macro_t;
typedef struct SPF_dns_server_struct SPF_dns_server_t;
typedef struct SPF_dns_rr_struct SPF_dns_rr_t;

/* h_errno values (netdb.h hides them from strict standard modes). */
#ifndef NETDB_SUCCESS
#define NETDB_SUCCESS 0
#endif
#ifndef HOST_NOT_FOUND
#define HOST_NOT_FOUND 1
#endif
#ifndef TRY_AGAIN
#define TRY_AGAIN 2
#endif
#ifndef NO_RECOVERY
#define NO_RECOVERY 3
#endif
#ifndef NO_DATA
#define NO_DATA 4
#endif

/* A DNS outcome in h_errno terms: NETDB_SUCCESS, HOST_NOT_FOUND
 * (NXDOMAIN), NO_DATA, TRY_AGAIN (temporary), NO_RECOVERY. */
typedef int SPF_dns_stat_t;

/* The SPF verdict.  Same numbers as mdspf_result (0 = none yet). */
typedef enum SPF_result_enum {
  SPF_RESULT_INVALID = 0,
  SPF_RESULT_NEUTRAL,
  SPF_RESULT_PASS,
  SPF_RESULT_FAIL,
  SPF_RESULT_SOFTFAIL,
  SPF_RESULT_NONE,
  SPF_RESULT_TEMPERROR,
  SPF_RESULT_PERMERROR
} SPF_result_t;

/* What decided the verdict. */
typedef enum SPF_reason_enum {
  SPF_REASON_NONE = 0,     /* an error, or not evaluated */
  SPF_REASON_FAILURE,      /* no usable record (result none) */
  SPF_REASON_LOCALHOST,    /* the client is a loopback address */
  SPF_REASON_LOCAL_POLICY, /* a local-policy mechanism matched */
  SPF_REASON_MECH,         /* a mechanism of the record matched */
  SPF_REASON_DEFAULT,      /* nothing matched */
  SPF_REASON_2MX           /* the client is an MX of the recipient */
} SPF_reason_t;

/* Error codes (SPF_strerror gives the text). */
typedef enum SPF_errcode_t {
  SPF_E_SUCCESS = 0,
  SPF_E_NO_MEMORY,
  SPF_E_NOT_SPF,
  SPF_E_SYNTAX,
  SPF_E_MOD_W_PREF,
  SPF_E_INVALID_CHAR,
  SPF_E_UNKNOWN_MECH,
  SPF_E_INVALID_OPT,
  SPF_E_INVALID_CIDR,
  SPF_E_MISSING_OPT,
  SPF_E_INTERNAL_ERROR,
  SPF_E_INVALID_ESC,
  SPF_E_INVALID_VAR,
  SPF_E_BIG_SUBDOM,
  SPF_E_INVALID_DELIM,
  SPF_E_BIG_STRING,
  SPF_E_BIG_MECH,
  SPF_E_BIG_MOD,
  SPF_E_BIG_DNS,
  SPF_E_INVALID_IP4,
  SPF_E_INVALID_IP6,
  SPF_E_INVALID_PREFIX,
  SPF_E_RESULT_UNKNOWN,
  SPF_E_UNINIT_VAR,
  SPF_E_MOD_NOT_FOUND,
  SPF_E_NOT_CONFIG,
  SPF_E_DNS_ERROR,
  SPF_E_BAD_HOST_IP,
  SPF_E_BAD_HOST_TLD,
  SPF_E_MECH_AFTER_ALL,
  SPF_E_INCLUDE_RETURNED_NONE,
  SPF_E_RECURSIVE,
  SPF_E_MULTIPLE_RECORDS
} SPF_errcode_t;

#ifdef __cplusplus
}
#endif
#endif /* SPF2_COMPAT_TYPES_H */

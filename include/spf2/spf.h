/*
 * spf2/spf.h -- libspf2 1.2.10 compatible API of libmaildrop-spf: the
 * header programs include.  Every evaluation runs on the libmaildrop-spf
 * engine (RFC 7208); see the README for the documented differences.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Threads: there is no global state but the four log handler pointers of
 * spf_log.h.  Objects of one SPF_server_t (its requests, responses,
 * records, DNS layers) are used by one thread at a time; one server per
 * thread is the model.
 */
#ifndef INC_SPF
#define INC_SPF

#include "spf_types.h"
#include "spf_lib_version.h"
#include "spf_server.h"
#include "spf_request.h"
#include "spf_response.h"
#include "spf_dns.h"
#include "spf_log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPF_VERSION 1
#define SPF_VER_STR "v=spf1"

/* Sizes libspf2 formats its strings into (the SMTP comment is cut at
 * SPF_SMTP_COMMENT_SIZE - 1 octets, the Received-SPF field at
 * SPF_RECEIVED_SPF_SIZE - 1). */
#define SPF_C_ERR_MSG_SIZE (2 * 80)
#define SPF_SMTP_COMMENT_SIZE (4 * 80)
#define SPF_RECEIVED_SPF_SIZE (6 * 80)
#define SPF_SYSLOG_SIZE (10 * 80)

#define SPF_DEFAULT_MAX_DNS_MECH 10
#define SPF_DEFAULT_MAX_DNS_PTR 10
#define SPF_DEFAULT_MAX_DNS_MX 10
#define SPF_DEFAULT_SANITIZE 1
/* Kept for source compatibility; the library ignores the default
 * whitelist (the service it named no longer exists). */
#define SPF_DEFAULT_WHITELIST "include:spf.trusted-forwarder.org"
#define SPF_EXP_MOD_NAME "exp-text"
/* The default explanation, libspf2's: programs copy it into SMTP
 * replies.  The site it names is gone; set your own with
 * SPF_server_set_explanation. */
#define SPF_DEFAULT_EXP "Please%_see%_http://www.openspf.org/Why?id=%{S}&ip=%{C}&receiver=%{R}"

/* Texts for the codes; never NULL (unknown values get a fixed text).
 * Static strings, any thread. */
const char *SPF_strerror(SPF_errcode_t spf_err);
const char *SPF_strresult(SPF_result_t result);
const char *SPF_strreason(SPF_reason_t reason);
const char *SPF_strrrtype(ns_type rr_type);

/* The libspf2 version reproduced (1.2.10); NULL pointers are skipped. */
void SPF_get_lib_version(int *major, int *minor, int *patch);

#ifdef __cplusplus
}
#endif
#endif /* INC_SPF */

/*
 * spf2/spf_response.h -- the answer to a request: result, reason, error
 * code, the texts mail software copies into headers and replies, and the
 * error and warning messages.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_RESPONSE
#define INC_SPF_RESPONSE

#include "spf_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One message of a response. */
typedef struct SPF_error_struct {
  SPF_errcode_t code;
  char *message;
  char is_error; /* 1 error, 0 warning */
} SPF_error_t;

/* Public fields: read only.  The strings are printable US-ASCII (no
 * control character, so no header line can be injected through them). */
struct SPF_response_struct {
  SPF_request_t *spf_request;
  SPF_record_t *spf_record_exp;
  SPF_result_t result;
  SPF_reason_t reason;
  SPF_errcode_t err;
  char *received_spf;       /* "Received-SPF: " + received_spf_value */
  char *received_spf_value; /* points into received_spf */
  char *header_comment;
  char *smtp_comment;       /* fail, softfail, neutral only */
  char *explanation;        /* fail, softfail, neutral only */
  SPF_error_t *errors;
  unsigned short errors_size;
  unsigned short errors_length;
  unsigned short num_errors;
  int num_dns_mech;
};

/* A response for spf_request (may be NULL).  NULL when out of memory. */
SPF_response_t *SPF_response_new(SPF_request_t *spf_request);
void SPF_response_free(SPF_response_t *rp);
/* Keep the better of a main and a secondary-MX response (as libspf2
 * chooses) and free the other; returns the one kept. */
SPF_response_t *SPF_response_combine(SPF_response_t *main,
                                     SPF_response_t *r2mx);

SPF_result_t SPF_response_result(SPF_response_t *rp);
SPF_reason_t SPF_response_reason(SPF_response_t *rp);
SPF_errcode_t SPF_response_errcode(SPF_response_t *rp);
/* The texts; valid until the response is freed; NULL when not made. */
const char *SPF_response_get_received_spf(SPF_response_t *rp);
const char *SPF_response_get_received_spf_value(SPF_response_t *rp);
const char *SPF_response_get_header_comment(SPF_response_t *rp);
const char *SPF_response_get_smtp_comment(SPF_response_t *rp);
const char *SPF_response_get_explanation(SPF_response_t *rp);

/* Messages: all of them, the errors among them, and idx-th (NULL when
 * out of range). */
int SPF_response_messages(SPF_response_t *rp);
int SPF_response_errors(SPF_response_t *rp);
int SPF_response_warnings(SPF_response_t *rp);
SPF_error_t *SPF_response_message(SPF_response_t *rp, int idx);

SPF_errcode_t SPF_error_code(SPF_error_t *err);
const char *SPF_error_message(SPF_error_t *err);
char SPF_error_errorp(SPF_error_t *err);

/* Add a message (printf format; NULL format: the code's text).  The
 * _ptr and _idx forms add " near '...'" quoting up to 12 octets of text
 * at tptr / text + idx.  Return code. */
SPF_errcode_t SPF_response_add_error_ptr(SPF_response_t *rp,
                                         SPF_errcode_t code,
                                         const char *text, const char *tptr,
                                         const char *format, ...)
    __attribute__((format(printf, 5, 6)));
SPF_errcode_t SPF_response_add_error_idx(SPF_response_t *rp,
                                         SPF_errcode_t code,
                                         const char *text, int idx,
                                         const char *format, ...)
    __attribute__((format(printf, 5, 6)));
SPF_errcode_t SPF_response_add_error(SPF_response_t *rp, SPF_errcode_t code,
                                     const char *format, ...)
    __attribute__((format(printf, 3, 4)));
SPF_errcode_t SPF_response_add_warn_ptr(SPF_response_t *rp,
                                        SPF_errcode_t code, const char *text,
                                        const char *tptr, const char *format,
                                        ...)
    __attribute__((format(printf, 5, 6)));
SPF_errcode_t SPF_response_add_warn_idx(SPF_response_t *rp,
                                        SPF_errcode_t code, const char *text,
                                        int idx, const char *format, ...)
    __attribute__((format(printf, 5, 6)));
SPF_errcode_t SPF_response_add_warn(SPF_response_t *rp, SPF_errcode_t code,
                                    const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#include "spf.h"
#include "spf_request.h"

#endif /* INC_SPF_RESPONSE */

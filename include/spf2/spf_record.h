/*
 * spf2/spf_record.h -- compiled SPF records and macro-strings.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The compiled form is the libmaildrop-spf engine's, not libspf2's byte
 * code: mech_first and mod_first are NULL and mech_len/mod_len 0.  The
 * data after an SPF_macro_t (macro_len octets) is the validated macro
 * text, which SPF_record_expand_data expands.
 */
#ifndef INC_SPF_RECORD
#define INC_SPF_RECORD

#include "spf_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPF_MAX_STR_LEN 255
#define SPF_MAX_MECH_LEN 511
#define SPF_MAX_MOD_LEN 511

/* Macro letters as libspf2 numbers them. */
#define PARM_LP_FROM 0
#define PARM_ENV_FROM 1
#define PARM_DP_FROM 2
#define PARM_CUR_DOM 3
#define PARM_CLIENT_IP 4
#define PARM_CLIENT_IP_P 5
#define PARM_TIME 6
#define PARM_CLIENT_DOM 7
#define PARM_CLIENT_VER 8
#define PARM_HELO_DOM 9
#define PARM_REC_DOM 10
#define PARM_CIDR 11
#define PARM_STRING 12

typedef struct SPF_data_str_struct {
  unsigned char parm_type;
  unsigned char len;
  unsigned char __unused0;
  unsigned char __unused1;
} SPF_data_str_t;

typedef struct SPF_data_var_struct {
  unsigned char parm_type;
  unsigned char num_rhs;
  unsigned short rev : 1;
  unsigned short url_encode : 1;
  unsigned short delim_dot : 1;
  unsigned short delim_dash : 1;
  unsigned short delim_plus : 1;
  unsigned short delim_equal : 1;
  unsigned short delim_bar : 1;
  unsigned short delim_under : 1;
} SPF_data_var_t;

typedef struct SPF_data_cidr_struct {
  unsigned char parm_type;
  unsigned char ipv4;
  unsigned char ipv6;
  unsigned char __unused0;
} SPF_data_cidr_t;

typedef union SPF_data_union {
  SPF_data_var_t dv;
  SPF_data_str_t ds;
  SPF_data_cidr_t dc;
} SPF_data_t;

#define PREFIX_PASS SPF_RESULT_PASS
#define PREFIX_FAIL SPF_RESULT_FAIL
#define PREFIX_SOFTFAIL SPF_RESULT_SOFTFAIL
#define PREFIX_NEUTRAL SPF_RESULT_NEUTRAL
#define PREFIX_UNKNOWN SPF_RESULT_PERMERROR

#define MECH_UNKNOWN 0
#define MECH_A 1
#define MECH_MX 2
#define MECH_PTR 3
#define MECH_INCLUDE 4
#define MECH_IP4 5
#define MECH_IP6 6
#define MECH_EXISTS 7
#define MECH_ALL 8
#define MECH_REDIRECT 9

typedef struct SPF_mech_struct {
  unsigned char prefix_type;
  unsigned char mech_type;
  unsigned short mech_len;
} SPF_mech_t;

typedef struct SPF_mod_struct {
  unsigned short name_len;
  unsigned short data_len;
} SPF_mod_t;

/* Public fields: spf_server, version, num_mech, num_mod, num_dns_mech
 * (counts capped at 255). */
struct SPF_record_struct {
  SPF_server_t *spf_server;
  unsigned char version;
  unsigned char num_mech;
  unsigned char num_mod;
  unsigned char num_dns_mech;
  SPF_mech_t *mech_first;
  size_t mech_size;
  size_t mech_len;
  SPF_mod_t *mod_first;
  size_t mod_size;
  size_t mod_len;
};

struct SPF_macro_struct {
  size_t macro_len; /* octets of data following the struct */
};

/* An empty record of spf_server (text is not used).  NULL if out of
 * memory. */
SPF_record_t *SPF_record_new(SPF_server_t *spf_server, const char *text);
void SPF_record_free(SPF_record_t *rp);
void SPF_macro_free(SPF_macro_t *mac);

/* Expand modifier mod_name of spf_record for spf_request into *bufp
 * (realloc'd with the C library, *buflenp its size; the caller frees).
 * SPF_E_MOD_NOT_FOUND when the record has no such modifier. */
SPF_errcode_t SPF_record_find_mod_value(SPF_server_t *spf_server,
                                        SPF_request_t *spf_request,
                                        SPF_response_t *spf_response,
                                        SPF_record_t *spf_record,
                                        const char *mod_name, char **bufp,
                                        size_t *buflenp);
/* Compile record text; *spf_recordp owned by the caller (NULL on
 * error, with a message added to spf_response if it is not NULL). */
SPF_errcode_t SPF_record_compile(SPF_server_t *spf_server,
                                 SPF_response_t *spf_response,
                                 SPF_record_t **spf_recordp,
                                 const char *record);
/* Compile an explain-string (macro-string, spaces allowed). */
SPF_errcode_t SPF_record_compile_macro(SPF_server_t *spf_server,
                                       SPF_response_t *spf_response,
                                       SPF_macro_t **spf_macrop,
                                       const char *record);
/* Evaluate spf_record as the record of spf_request->cur_dom (or the
 * request's identity domain); result into spf_response. */
SPF_errcode_t SPF_record_interpret(SPF_record_t *spf_record,
                                   SPF_request_t *spf_request,
                                   SPF_response_t *spf_response, int depth);
/* Expand macro data (the octets after an SPF_macro_t) for spf_request
 * into *bufp as SPF_record_find_mod_value does. */
SPF_errcode_t SPF_record_expand_data(SPF_server_t *spf_server,
                                     SPF_request_t *spf_request,
                                     SPF_response_t *spf_response,
                                     SPF_data_t *data, size_t data_len,
                                     char **bufp, size_t *buflenp);
/* Write the record's text to the debug handler. */
SPF_errcode_t SPF_record_print(SPF_record_t *spf_record);
/* The record's canonical text into *bufp (as above). */
SPF_errcode_t SPF_record_stringify(SPF_record_t *spf_record, char **bufp,
                                   size_t *buflenp);

#ifdef __cplusplus
}
#endif

#include "spf_response.h"
#include "spf_request.h"
#include "spf_server.h"

#endif /* INC_SPF_RECORD */

/*
 * tests/libspf2_layout.c -- prints the size and field offsets of the
 * libspf2 structures callers touch.  Built twice: against this project's
 * spf2/ headers and against libspf2's own (libspf2-dev); the test
 * libspf2-layout compares the two outputs line by line.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdio.h>
/* libspf2's headers expect these first */
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>
#include <spf2/spf_record.h>

#define SZ(t) printf("sizeof %s %zu\n", #t, sizeof(t))
#define OFF(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(t, f))

int main(void) {
  SZ(SPF_dns_server_t);
  OFF(SPF_dns_server_t, destroy);
  OFF(SPF_dns_server_t, lookup);
  OFF(SPF_dns_server_t, get_spf);
  OFF(SPF_dns_server_t, get_exp);
  OFF(SPF_dns_server_t, add_cache);
  OFF(SPF_dns_server_t, layer_below);
  OFF(SPF_dns_server_t, name);
  OFF(SPF_dns_server_t, debug);
  OFF(SPF_dns_server_t, hook);
  SZ(SPF_dns_rr_t);
  SZ(SPF_dns_rr_data_t);
  OFF(SPF_dns_rr_t, domain);
  OFF(SPF_dns_rr_t, domain_buf_len);
  OFF(SPF_dns_rr_t, rr_type);
  OFF(SPF_dns_rr_t, num_rr);
  OFF(SPF_dns_rr_t, rr);
  OFF(SPF_dns_rr_t, rr_buf_len);
  OFF(SPF_dns_rr_t, rr_buf_num);
  OFF(SPF_dns_rr_t, ttl);
  OFF(SPF_dns_rr_t, utc_ttl);
  OFF(SPF_dns_rr_t, herrno);
  OFF(SPF_dns_rr_t, hook);
  OFF(SPF_dns_rr_t, source);
  SZ(SPF_server_t);
  OFF(SPF_server_t, resolver);
  OFF(SPF_server_t, local_policy);
  OFF(SPF_server_t, explanation);
  OFF(SPF_server_t, rec_dom);
  OFF(SPF_server_t, max_dns_mech);
  OFF(SPF_server_t, max_dns_ptr);
  OFF(SPF_server_t, max_dns_mx);
  OFF(SPF_server_t, sanitize);
  OFF(SPF_server_t, debug);
  OFF(SPF_server_t, destroy_resolver);
  SZ(SPF_request_t);
  OFF(SPF_request_t, spf_server);
  OFF(SPF_request_t, client_ver);
  OFF(SPF_request_t, ipv4);
  OFF(SPF_request_t, ipv6);
  OFF(SPF_request_t, env_from);
  OFF(SPF_request_t, helo_dom);
  OFF(SPF_request_t, rcpt_to_dom);
  OFF(SPF_request_t, use_local_policy);
  OFF(SPF_request_t, use_helo);
  OFF(SPF_request_t, env_from_lp);
  OFF(SPF_request_t, env_from_dp);
  OFF(SPF_request_t, client_dom);
  OFF(SPF_request_t, cur_dom);
  SZ(SPF_response_t);
  OFF(SPF_response_t, spf_request);
  OFF(SPF_response_t, spf_record_exp);
  OFF(SPF_response_t, result);
  OFF(SPF_response_t, reason);
  OFF(SPF_response_t, err);
  OFF(SPF_response_t, received_spf);
  OFF(SPF_response_t, received_spf_value);
  OFF(SPF_response_t, header_comment);
  OFF(SPF_response_t, smtp_comment);
  OFF(SPF_response_t, explanation);
  OFF(SPF_response_t, errors);
  OFF(SPF_response_t, errors_size);
  OFF(SPF_response_t, errors_length);
  OFF(SPF_response_t, num_errors);
  OFF(SPF_response_t, num_dns_mech);
  SZ(SPF_error_t);
  OFF(SPF_error_t, code);
  OFF(SPF_error_t, message);
  OFF(SPF_error_t, is_error);
  SZ(SPF_record_t);
  OFF(SPF_record_t, spf_server);
  OFF(SPF_record_t, version);
  OFF(SPF_record_t, num_mech);
  OFF(SPF_record_t, num_mod);
  OFF(SPF_record_t, num_dns_mech);
  OFF(SPF_record_t, mech_first);
  OFF(SPF_record_t, mod_len);
  SZ(SPF_macro_t);
  OFF(SPF_macro_t, macro_len);
  SZ(SPF_data_t);
  SZ(SPF_mech_t);
  SZ(SPF_mod_t);
  printf("enum %d %d %d %d %d %d\n", (int)SPF_RESULT_PERMERROR,
         (int)SPF_REASON_2MX, (int)SPF_E_MULTIPLE_RECORDS,
         (int)SPF_E_DNS_ERROR, (int)SPF_DNS_ZONE, (int)sizeof(SPF_errcode_t));
  return 0;
}

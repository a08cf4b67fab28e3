/*
 * fuzz/fuzz_libspf2.c -- the libspf2-compatible API (lib/libspf2) on
 * hostile input: the request setters and the queries over a zone built
 * from the input.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Input: lines.  Line 1 the client IP, 2 MAIL FROM, 3 HELO, 4 a
 * recipient, 5 a fallback record; every further line "name type data"
 * (type: txt, a, aaaa, mx, ptr, nx, nodata, fail) goes into the zone
 * with SPF_dns_zone_add_str.  Every response text must be printable
 * ASCII, whatever the input.
 */
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The test build's allocation hook: plain libc here. */
void *mdspf_libspf2_test_realloc(void *p, size_t n);
void *mdspf_libspf2_test_realloc(void *p, size_t n) {
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

static void check_text(const char *t) {
  for (; t && *t; t++) {
    if ((unsigned char)*t < 0x20 || (unsigned char)*t > 0x7e) {
      abort();
    }
  }
}

static void check_response(SPF_response_t *rp) {
  if (!rp) {
    return;
  }
  check_text(SPF_response_get_received_spf(rp));
  check_text(SPF_response_get_header_comment(rp));
  check_text(SPF_response_get_smtp_comment(rp));
  check_text(SPF_response_get_explanation(rp));
  if (SPF_response_result(rp) > SPF_RESULT_PERMERROR) {
    abort();
  }
}

static void add_line(SPF_dns_server_t *z, char *line) {
  char *name = line, *type, *val;
  if (!(type = strchr(name, ' '))) {
    return;
  }
  *type++ = '\0';
  val = strchr(type, ' ');
  if (val) {
    *val++ = '\0';
  }
  if (!strcmp(type, "txt")) {
    SPF_dns_zone_add_str(z, name, ns_t_txt, NETDB_SUCCESS, val ? val : "");
  } else if (!strcmp(type, "a") && val) {
    SPF_dns_zone_add_str(z, name, ns_t_a, NETDB_SUCCESS, val);
  } else if (!strcmp(type, "aaaa") && val) {
    SPF_dns_zone_add_str(z, name, ns_t_aaaa, NETDB_SUCCESS, val);
  } else if (!strcmp(type, "mx") && val) {
    SPF_dns_zone_add_str(z, name, ns_t_mx, NETDB_SUCCESS, val);
  } else if (!strcmp(type, "ptr") && val) {
    SPF_dns_zone_add_str(z, name, ns_t_ptr, NETDB_SUCCESS, val);
  } else if (!strcmp(type, "nx")) {
    SPF_dns_zone_add_str(z, name, ns_t_any, HOST_NOT_FOUND, NULL);
  } else if (!strcmp(type, "nodata")) {
    SPF_dns_zone_add_str(z, name, ns_t_a, NO_DATA, NULL);
  } else if (!strcmp(type, "fail")) {
    SPF_dns_zone_add_str(z, name, ns_t_any, TRY_AGAIN, NULL);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *lines[5] = {"", "", "", "", ""};
  char *text, *p, *nl;
  SPF_server_t *s;
  SPF_request_t *r;
  SPF_response_t *rp = NULL, *rp2 = NULL;
  int n = 0;
  if (size > 65536) {
    return 0;
  }
  if (!(text = malloc(size + 1))) {
    return 0;
  }
  memcpy(text, data, size);
  text[size] = '\0';
  if (!(s = SPF_server_new(SPF_DNS_ZONE, 0))) {
    free(text);
    return 0;
  }
  SPF_server_set_rec_dom(s, "mx.fuzz.example");
  for (p = text; p; p = nl) {
    nl = strchr(p, '\n');
    if (nl) {
      *nl++ = '\0';
    }
    if (n < 5) {
      lines[n++] = p;
    } else {
      add_line(s->resolver, p);
    }
  }
  if ((r = SPF_request_new(s))) {
    if (SPF_request_set_ipv4_str(r, lines[0]) != SPF_E_SUCCESS) {
      SPF_request_set_ipv6_str(r, lines[0]);
    }
    if (lines[2][0]) {
      SPF_request_set_helo_dom(r, lines[2]);
    }
    SPF_request_set_env_from(r, lines[1]);
    r->use_local_policy = (char)(size & 1);
    SPF_request_query_mailfrom(r, &rp);
    check_response(rp);
    SPF_request_query_rcptto(r, &rp2, lines[3]);
    check_response(rp2);
    if (rp && rp2) {
      rp = SPF_response_combine(rp, rp2);
      rp2 = NULL;
    }
    SPF_response_free(rp);
    SPF_response_free(rp2);
    rp = NULL;
    SPF_request_query_fallback(r, &rp, lines[4]);
    check_response(rp);
    SPF_response_free(rp);
    SPF_request_free(r);
  }
  SPF_server_free(s);
  free(text);
  return 0;
}

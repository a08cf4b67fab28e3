/*
 * examples/spf-policyd/config.h -- spf-engine compatible configuration
 * (the policyd-spf.conf(5) format of postfix-policyd-spf-python).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A pd_config is immutable once read: one generation of the daemon's
 * configuration, shared (read-only) by every request started under it.
 * Not thread-safe to build; safe to read from anywhere.
 */
#ifndef SPF_POLICYD_CONFIG_H
#define SPF_POLICYD_CONFIG_H

#include <stddef.h>

/* HELO_reject / Mail_From_reject values. */
enum {
  PD_REJ_FAIL = 0,
  PD_REJ_SPF_NOT_PASS = 1,
  PD_REJ_SOFTFAIL = 2,
  PD_REJ_NULL = 3,
  PD_REJ_FALSE = 4,
  PD_REJ_NO_CHECK = 5
};

/* Header_Type values. */
enum { PD_HDR_SPF = 0, PD_HDR_AR = 1, PD_HDR_NONE = 2 };

/* One IP network (family 4 or 6, address, prefix length). */
typedef struct pd_net {
  int family;
  unsigned char addr[16];
  unsigned prefix;
} pd_net;

typedef struct pd_config {
  int debug_level;        /* debugLevel [1] */
  int test_only;          /* TestOnly [1]; 0 = test mode */
  int helo_reject;        /* HELO_reject [Fail] */
  int mail_from_reject;   /* Mail_From_reject [Fail] */
  int permerror_reject;   /* PermError_reject [False] */
  int temperror_defer;    /* TempError_Defer [False] */
  int enhanced_codes;     /* SPF_Enhanced_Status_Codes [Yes] */
  int header_type;        /* Header_Type [SPF] */
  int hide_receiver;      /* Hide_Receiver [No] */
  int lookup_time;        /* Lookup_Time, s [20] */
  int whitelist_lookup_time; /* Whitelist_Lookup_Time, s [10] */
  int void_limit;         /* Void_Limit [2] */
  int no_mail;            /* No_Mail [False] */
  int mock;               /* Mock [False] */
  int queue_id;           /* QueueID [True] */
  char *authserv_id;      /* Authserv_Id [HOSTNAME = gethostname()] */
  char *reason_message;   /* Reason_Message */
  char *prospective;      /* Prospective (an IP address) or NULL */
  char *helo_pass_restriction;      /* or NULL */
  char *mail_from_pass_restriction; /* or NULL */
  pd_net *skip;  size_t nskip;        /* skip_addresses */
  pd_net *white; size_t nwhite;       /* Whitelist */
  char **helo_wl; size_t nhelo_wl;    /* HELO_Whitelist */
  char **domain_wl; size_t ndomain_wl; /* Domain_Whitelist */
  char **reject_np; size_t nreject_np; /* Reject_Not_Pass_Domains */
} pd_config;

/* Called for each warning or error while reading (line 0: not about one
 * line); is_error != 0 for errors. */
typedef void (*pd_config_msg_fn)(void *ud, int is_error, const char *file,
                                 unsigned line, const char *msg);

/* Built-in defaults (spf-engine's).  NULL when out of memory. */
pd_config *pd_config_defaults(void);
/* Read FILE over the defaults.  Unknown keys and keys of no meaning here
 * are warnings; a malformed line or a bad value is an error.  Returns the
 * configuration, or NULL after at least one error (or when FILE cannot be
 * read), every message reported through msg. */
pd_config *pd_config_read(const char *file, pd_config_msg_fn msg, void *ud);
/* The same over text in memory (tests, fuzzing); file names it. */
pd_config *pd_config_parse(const char *text, size_t len, const char *file,
                           pd_config_msg_fn msg, void *ud);
void pd_config_free(pd_config *c); /* NULL is fine */

/* Parse a network "192.0.2.0/24", "2001:db8::/32" or an address (host
 * prefix); brackets around it are allowed.  Host bits set past the prefix
 * are an error (as Python's ipaddress says).  0 on success. */
int pd_net_parse(const char *s, pd_net *out);
/* 1 if the address text ip is inside one of nets (an IPv4-mapped IPv6
 * address also matches IPv4 networks). */
int pd_net_match(const pd_net *nets, size_t n, const char *ip);

/* Names for logging. */
const char *pd_reject_str(int v);

#endif

/*
 * examples/spf-policyd/decide.h -- spf-engine's decisions as a small state
 * machine without I/O: the daemon asks it which SPF check to run next,
 * feeds the result back, and finally reads the outcome (action + text).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Order (as spf-engine's _spfcheck): no client address -> dunno; SASL
 * client -> dunno; skip_addresses; Whitelist; Domain_Whitelist (an SPF
 * check of each listed domain, pass = whitelisted); HELO_Whitelist (the
 * HELO name is listed and one of its A/AAAA addresses is the client's);
 * the HELO check unless HELO_reject = No_Check; then, for a non-null
 * sender, the MAIL FROM check unless Mail_From_reject = No_Check.
 *
 * A pd_txn is used by one thread; it keeps pointers to its pd_config,
 * which must outlive it.
 */
#ifndef SPF_POLICYD_DECIDE_H
#define SPF_POLICYD_DECIDE_H

#include <stddef.h>

#include "config.h"
#include "policy.h"

/* What to answer. */
enum {
  PD_DUNNO = 0,
  PD_PREPEND = 1,    /* text: the header field */
  PD_REJECT = 2,     /* text: the reason (Reason_Message) */
  PD_DEFER = 3,      /* text: the reason */
  PD_RESULT_ONLY = 4 /* text: a Postfix restriction name */
};

/* Which check the daemon is asked to run. */
enum {
  PD_CHK_DOMAIN_WL = 1, /* Domain_Whitelist: MAIL FROM postmaster@domain,
                           HELO domain; Whitelist_Lookup_Time */
  PD_CHK_HELO_WL = 2,   /* HELO_Whitelist: is ip an A/AAAA of helo?  Run as
                           a HELO check of "v=spf1 a -all" for helo */
  PD_CHK_HELO = 3,      /* the HELO identity; Lookup_Time */
  PD_CHK_MFROM = 4      /* the MAIL FROM identity; Lookup_Time */
};

typedef struct pd_check_spec {
  int kind;           /* PD_CHK_* */
  const char *ip;     /* client (or Prospective) address */
  const char *sender; /* MAIL FROM to set ("" for the HELO checks) */
  const char *helo;   /* HELO name to set */
} pd_check_spec;

/* Step status. */
enum { PD_STEP_DONE = 0, PD_STEP_CHECK = 1 };

typedef struct pd_txn pd_txn;

/* A transaction for one request (values copied; lower-cased as spf-engine
 * does for everything but queue_id).  NULL when out of memory. */
pd_txn *pd_txn_new(const pd_config *cfg, const pd_request *req);
void pd_txn_free(pd_txn *t); /* NULL is fine */

/* Advance: PD_STEP_CHECK with *spec filled (strings valid until the next
 * call), or PD_STEP_DONE when the outcome is ready. */
int pd_txn_step(pd_txn *t, pd_check_spec *spec);
/* The result of the check asked for: an mdspf_result (1..7), the
 * explanation of a fail (or NULL), the problem text behind a
 * permerror/temperror (or NULL) and the text of the deciding record (or
 * NULL; for No_Mail). */
void pd_txn_feed(pd_txn *t, int result, const char *explanation,
                 const char *problem, const char *record);

/* The outcome, once pd_txn_step said PD_STEP_DONE. */
int pd_txn_kind(const pd_txn *t);
const char *pd_txn_text(const pd_txn *t);  /* "" for dunno */
int pd_txn_iserror(const pd_txn *t);       /* permerror/temperror decided */
/* For the log: the identity that decided ("helo", "mailfrom", or "-")
 * and its result ("pass", ..., or why nothing was checked: "skipped",
 * "whitelisted", "sasl", "no-client", "no-identity", "not-checked"). */
const char *pd_txn_identity(const pd_txn *t);
const char *pd_txn_result(const pd_txn *t);
/* Whether the outcome may be remembered for the request's instance
 * (spf-engine remembers all but the early "dunno"s). */
int pd_txn_cacheable(const pd_txn *t);
/* Request values as used (lower-cased; NULL when absent). */
const char *pd_txn_client(const pd_txn *t);
const char *pd_txn_helo(const pd_txn *t);
const char *pd_txn_sender(const pd_txn *t);
const char *pd_txn_instance(const pd_txn *t);
const char *pd_txn_queue_id(const pd_txn *t);

/* The action a result gets under HELO_reject (helo_scope != 0) or
 * Mail_From_reject, as spf-engine's _get_resultcodes table says:
 * PD_PREPEND, PD_REJECT or PD_DEFER.  local: the domain is in
 * Reject_Not_Pass_Domains. */
int pd_action_for(const pd_config *cfg, int helo_scope, int result,
                  int local);

/* The reply line without "action=" and without newline, for an outcome
 * (applies TestOnly, Prospective, Header_Type None and the enhanced status
 * codes, as spf-engine's policyd_spf.py).  Written into buf (always
 * NUL-terminated, cut to fit). */
void pd_format_action(const pd_config *cfg, int kind, int iserror,
                      const char *text, char *buf, size_t bufsz);

#endif

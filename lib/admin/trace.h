/*
 * lib/admin/trace.h -- evaluation trace events.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_ADMIN_TRACE_H
#define MDSPF_ADMIN_TRACE_H

#include <maildrop-spf/spf.h>

#include "core/engine.h"

/* ---- events (trace.c) -------------------------------------------------------- */

struct mdspf_event {
  const mdspf_check *check;
  int type;
  int depth;
  int result;
  int rrtype;
  int dns_status;
  unsigned count;
  unsigned dns_terms;
  unsigned void_lookups;
  const char *domain;
  const char *text;
};

#endif /* MDSPF_ADMIN_TRACE_H */

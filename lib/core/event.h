/*
 * lib/core/event.h -- evaluation trace events.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_EVENT_H
#define MDSPF_CORE_EVENT_H

#include <maildrop-spf/spf.h>

#include "core/engine.h"


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

/* Tell the check's trace hook (from its snapshot), inside the callback
 * guard.  Nothing is emitted once the check stopped, except the verdict
 * (MDSPF_EV_RESULT).  The hook may cancel or free the check, or free the
 * context: both only mark (see engine.h). */
void mdspf__emit(mdspf_check *chk, int type, int depth, const char *domain,
                 const char *text, int result, int rrtype, int dns_status,
                 unsigned count);

#endif /* MDSPF_CORE_EVENT_H */

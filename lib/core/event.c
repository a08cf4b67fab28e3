/*
 * lib/core/event.c -- evaluation trace events: what the evaluator tells
 * a trace hook, and the getters of an event.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/event.h"

void mdspf__emit(mdspf_check *chk, int type, int depth, const char *domain,
                 const char *text, int result, int rrtype, int dns_status,
                 unsigned count) {
  mdspf_event ev;
  const mdspf__config *cfg = chk->cfg;
  /* nothing after the check stopped, but its verdict */
  if (!cfg || !cfg->trace ||
      (chk->state != MDSPF__CS_RUNNING && type != MDSPF_EV_RESULT)) {
    return;
  }
  ev.check = chk;
  ev.type = type;
  ev.depth = depth;
  ev.domain = domain ? domain : "";
  ev.text = text ? text : "";
  ev.result = result;
  ev.rrtype = rrtype;
  ev.dns_status = dns_status;
  ev.count = count;
  ev.dns_terms = chk->dns_terms;
  ev.void_lookups = chk->voids;
  MDSPF__CALLBACK(chk->ctx, cfg->trace(cfg->trace_ud, &ev));
}

const mdspf_check *mdspf_event_check(const mdspf_event *ev) {
  return ev ? ev->check : NULL;
}

int mdspf_event_type(const mdspf_event *ev) { return ev ? ev->type : 0; }
int mdspf_event_depth(const mdspf_event *ev) { return ev ? ev->depth : 0; }
const char *mdspf_event_domain(const mdspf_event *ev) {
  return ev ? ev->domain : "";
}
const char *mdspf_event_text(const mdspf_event *ev) {
  return ev ? ev->text : "";
}
int mdspf_event_result(const mdspf_event *ev) { return ev ? ev->result : -1; }
int mdspf_event_rrtype(const mdspf_event *ev) { return ev ? ev->rrtype : 0; }
int mdspf_event_dns_status(const mdspf_event *ev) {
  return ev ? ev->dns_status : -1;
}
unsigned mdspf_event_count(const mdspf_event *ev) { return ev ? ev->count : 0; }
unsigned mdspf_event_dns_terms(const mdspf_event *ev) {
  return ev ? ev->dns_terms : 0;
}
unsigned mdspf_event_void_lookups(const mdspf_event *ev) {
  return ev ? ev->void_lookups : 0;
}


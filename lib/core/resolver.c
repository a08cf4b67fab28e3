/*
 * lib/core/resolver.c -- storing a resolver vtable (see resolver.h).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/resolver.h"

#include <string.h>

int mdspf__resolver_ok(const mdspf_resolver *r) {
  if (!r || !r->query || !r->cancel) {
    return 0;
  }
  if (r->version == MDSPF_RESOLVER_V1) {
    return 1;
  }
  return r->version == MDSPF_RESOLVER_V2 && !r->ref == !r->unref;
}

void mdspf__resolver_hold(mdspf_resolver *dst, const mdspf_resolver *src) {
  memset(dst, 0, sizeof *dst);
  dst->version = src->version;
  dst->impl = src->impl;
  dst->query = src->query;
  dst->cancel = src->cancel;
  dst->wait = src->wait;
  if (src->version >= MDSPF_RESOLVER_V2) {
    dst->ref = src->ref;
    dst->unref = src->unref;
  }
  if (dst->ref) {
    dst->ref(dst->impl);
  }
}

void mdspf__resolver_release(const mdspf_resolver *r) {
  if (r->unref) {
    r->unref(r->impl);
  }
}

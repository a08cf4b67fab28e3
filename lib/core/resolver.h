/*
 * lib/core/resolver.h -- storing a resolver vtable: copy what its
 * version has, and hold a reference when it offers them.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_CORE_RESOLVER_H
#define MDSPF_CORE_RESOLVER_H

#include <maildrop-spf/spf.h>

/* 1 if r is a vtable the library can use (known version, query and
 * cancel set, ref and unref both or neither). */
int mdspf__resolver_ok(const mdspf_resolver *r);
/* Copy src into dst (fields of src's version only, the rest NULL) and
 * take a reference. */
void mdspf__resolver_hold(mdspf_resolver *dst, const mdspf_resolver *src);
/* Drop the reference taken by mdspf__resolver_hold (dst stays as is). */
void mdspf__resolver_release(const mdspf_resolver *r);

#endif /* MDSPF_CORE_RESOLVER_H */

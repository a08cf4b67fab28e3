/*
 * lib/libspf2/compat.h -- the libspf2 1.2.10 compatible API over the
 * engine: private types shared by the compat sources.  Private.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The public libspf2 structures (SPF_server_t, SPF_request_t, ...) are
 * the first member of larger private ones, so a pointer to either is a
 * pointer to both.  Every allocation goes through spfx_realloc, which is
 * the C library's realloc -- buffers handed to callers (which libspf2
 * callers release with free()) and buffers callers hand in (which the
 * library may realloc) stay compatible -- except in the test build
 * (MDSPF_LIBSPF2_ALLOC_HOOK), where the test program supplies it and
 * can make any allocation fail.
 */
#ifndef MDSPF_LIBSPF2_COMPAT_H
#define MDSPF_LIBSPF2_COMPAT_H

#include <spf2/spf.h>
#include <spf2/spf_dns_cache.h>
#include <spf2/spf_dns_null.h>
#include <spf2/spf_dns_resolv.h>
#include <spf2/spf_dns_test.h>
#include <spf2/spf_dns_zone.h>

#include <maildrop-spf/spf.h>

#include <stddef.h>

#include "core/macro.h"
#include "util/strbuf.h"

/* ---- allocation (alloc.c) ------------------------------------------ */

#ifdef MDSPF_LIBSPF2_ALLOC_HOOK
/* Supplied by the test program: realloc(p, n), n == 0 frees. */
void *mdspf_libspf2_test_realloc(void *p, size_t n);
#endif

void *spfx_realloc(void *p, size_t n); /* n > 0 */
void *spfx_calloc(size_t n, size_t sz);
void spfx_free(void *p);
char *spfx_strdup(const char *s);
char *spfx_strndup(const char *s, size_t n);
/* The engine's allocator hook over the same functions. */
void *spfx_engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Copy n octets of s (+ NUL) into *bufp, growing it (and *buflenp). */
SPF_errcode_t spfx_buf_set(char **bufp, size_t *buflenp, const char *s,
                           size_t n);

/* ---- DNS layers (dns.c) -------------------------------------------- */

/* The resolver a check of a server with DNS layer d uses: the layer's
 * own engine resolver, or (*adapter_out set, owned by the caller, free
 * with spfx_adapter_free) an adapter calling a caller's layer.  NULL
 * when out of memory or d is NULL. */
typedef struct spfx_adapter spfx_adapter;
const mdspf_resolver *spfx_dns_resolver(SPF_dns_server_t *d,
                                        spfx_adapter **adapter_out);
void spfx_adapter_free(spfx_adapter *ad);

/* ---- server, request (server.c, request.c) ------------------------- */

typedef struct spfx_server {
  SPF_server_t pub;
  mdspf_ctx *ctx;
  spfx_adapter *adapter; /* for a caller's DNS layer */
  char *exp_text;        /* default explanation (NULL: built-in) */
  char *lp_text;         /* local policy mechanisms, or NULL */
  int lp_active;         /* the context has lp_text set */
} spfx_server;

/* Macro letter values of a request (with buffers for the derived ones). */
typedef struct spfx_env {
  mdspf__macro_env env;
  char ip[64];
  char cip[64];
  char t[24];
} spfx_env;
void spfx_env_init(spfx_env *e, SPF_server_t *srv, SPF_request_t *req,
                   const char *domain);
/* Expand macro-string s (n octets) into *bufp (see spfx_buf_set);
 * non-printable octets of the result are URL-escaped when urlsafe. */
SPF_errcode_t spfx_expand(SPF_server_t *srv, SPF_request_t *req,
                          const char *domain, const char *s, size_t n,
                          int urlsafe, char **bufp, size_t *buflenp);
/* The SPF_errcode_t for an mdspf_syntax code. */
SPF_errcode_t spfx_syntax_err(int code);
/* The default explanation text of a server (its own or the built-in). */
const char *spfx_exp_text(SPF_server_t *srv);

/* ---- records (record.c) -------------------------------------------- */

typedef struct spfx_record {
  SPF_record_t pub;
  mdspf_record *rec;
} spfx_record;

#endif /* MDSPF_LIBSPF2_COMPAT_H */

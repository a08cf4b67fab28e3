# SPDX-License-Identifier: BSD-2-Clause
"""cffi (API mode) build script for maildrop_spf._native.

The declarations below are the part of <maildrop-spf/spf.h> and
<maildrop-spf/cares.h> the binding uses; in API mode cffi checks every
one of them against the real headers when the extension is compiled.

Where the library is found, first match wins:

- MDSPF_INCLUDE_DIR and MDSPF_LIBRARY_DIR (e.g. a build tree: the
  source's include/ and the build's lib/), separated by os.pathsep;
- pkg-config maildrop-spf-cares (PKG_CONFIG_PATH for another prefix).

The library directory is recorded as the extension's run path unless it
is one the dynamic linker searches anyway.
"""

import os
import shlex
import subprocess

from cffi import FFI

CDEF = r"""
typedef void *(*mdspf_alloc_fn)(void *ud, void *ptr, size_t osize,
                                size_t nsize);
typedef struct mdspf_record mdspf_record;
typedef struct mdspf_dns_query mdspf_dns_query;
typedef struct mdspf_zone mdspf_zone;
typedef struct mdspf_overlay mdspf_overlay;
typedef struct mdspf_ctx mdspf_ctx;
typedef struct mdspf_check mdspf_check;
typedef struct mdspf_lint mdspf_lint;
typedef struct mdspf_cares mdspf_cares;

#define MDSPF_VERSION_NUM ...
#define MDSPF_OK ...
#define MDSPF_E_NOMEM ...
#define MDSPF_E_INVAL ...
#define MDSPF_E_SYNTAX ...
#define MDSPF_E_STATE ...
#define MDSPF_E_RECURSIVE ...
#define MDSPF_E_BUFFER ...
#define MDSPF_E_CANCELLED ...
#define MDSPF_E_IO ...
#define MDSPF_RESOLVER_V2 ...
#define MDSPF_DNS_OK ...
#define MDSPF_DNS_NODATA ...
#define MDSPF_DNS_NXDOMAIN ...
#define MDSPF_DNS_TEMPFAIL ...
#define MDSPF_DNS_ERROR ...
#define MDSPF_LIMIT_DNS_TERMS ...
#define MDSPF_LIMIT_VOID_LOOKUPS ...
#define MDSPF_LIMIT_MX_NAMES ...
#define MDSPF_LIMIT_PTR_NAMES ...
#define MDSPF_LIMIT_TIMEOUT_MS ...
#define MDSPF_LIMIT_CHECK_MEMORY ...
#define MDSPF_LIMIT_LOOKAHEAD ...
#define MDSPF_ID_MAILFROM ...
#define MDSPF_ID_HELO ...

typedef struct mdspf_resolver {
  uint32_t version;
  void *impl;
  int (*query)(void *impl, mdspf_dns_query *q, const char *name,
               int rrtype, void **token);
  void (*cancel)(void *impl, void *token);
  int (*wait)(void *impl, int timeout_ms);
  void (*ref)(void *impl);
  void (*unref)(void *impl);
} mdspf_resolver;

typedef void (*mdspf_timer_fn)(void *loop_ud, long ms);
typedef void (*mdspf_watch_fn)(void *loop_ud, int fd, int rd, int wr);
typedef void (*mdspf_check_cb)(mdspf_check *chk, void *user);

const char *mdspf_version_str(void);
const char *mdspf_strerror(int status);
const char *mdspf_result_str(int result);
const char *mdspf_syntax_str(int code);

int mdspf_record_parse(const char *txt, size_t len, mdspf_alloc_fn alloc,
                       void *alloc_ud, mdspf_record **out, int *err_code,
                       size_t *err_off, size_t *err_len);
void mdspf_record_unref(const mdspf_record *rec);
size_t mdspf_record_nterms(const mdspf_record *rec);
int mdspf_record_format(const mdspf_record *rec, char *buf, size_t bufsz,
                        size_t *needed);
int mdspf_record_term_kind(const mdspf_record *rec, size_t i);
const char *mdspf_term_kind_str(int kind);
int mdspf_record_term_qualifier(const mdspf_record *rec, size_t i);
int mdspf_record_term_qualifier_char(const mdspf_record *rec, size_t i);
const char *mdspf_record_term_name(const mdspf_record *rec, size_t i);
const char *mdspf_record_term_value(const mdspf_record *rec, size_t i);
int mdspf_record_term_cidr(const mdspf_record *rec, size_t i, int family);
int mdspf_record_term_span(const mdspf_record *rec, size_t i, size_t *off,
                           size_t *len);
int mdspf_record_term_has_macros(const mdspf_record *rec, size_t i);
int mdspf_record_term_describe(const mdspf_record *rec, size_t i, char *buf,
                               size_t bufsz, size_t *needed);

void mdspf_dns_add_txt(mdspf_dns_query *q, const char *txt, size_t len);
void mdspf_dns_add_addr(mdspf_dns_query *q, int family, const void *addr);
void mdspf_dns_add_name(mdspf_dns_query *q, const char *name, unsigned pref);
void mdspf_dns_done(mdspf_dns_query *q, int dns_status, int rcode);
void mdspf_dns_set_ttl(mdspf_dns_query *q, uint32_t seconds);

int mdspf_zone_new(mdspf_alloc_fn alloc, void *alloc_ud, mdspf_zone **out);
void mdspf_zone_free(mdspf_zone *z);
int mdspf_zone_add(mdspf_zone *z, const char *name, int rrtype,
                   const char *rdata);
int mdspf_zone_load(mdspf_zone *z, const char *text, size_t len,
                    const char *origin, const char *filename, char *err,
                    size_t errsz);
int mdspf_zone_load_file(mdspf_zone *z, const char *path, const char *origin,
                         char *err, size_t errsz);
unsigned long mdspf_zone_queries(const mdspf_zone *z);
const mdspf_resolver *mdspf_zone_resolver(mdspf_zone *z);

int mdspf_overlay_new(mdspf_alloc_fn alloc, void *alloc_ud, mdspf_zone *top,
                      const mdspf_resolver *below, mdspf_overlay **out);
const mdspf_resolver *mdspf_overlay_resolver(mdspf_overlay *o);
void mdspf_overlay_free(mdspf_overlay *o);

int mdspf_ctx_new(mdspf_alloc_fn alloc, void *alloc_ud, mdspf_ctx **out);
void mdspf_ctx_free(mdspf_ctx *ctx);
int mdspf_ctx_set_resolver(mdspf_ctx *ctx, const mdspf_resolver *r);
int mdspf_ctx_set_limit(mdspf_ctx *ctx, int which, long value);
long mdspf_ctx_get_limit(const mdspf_ctx *ctx, int which);
int mdspf_ctx_set_receiver(mdspf_ctx *ctx, const char *name);
int mdspf_ctx_set_default_explanation(mdspf_ctx *ctx, const char *text);
int mdspf_ctx_set_local_policy(mdspf_ctx *ctx, const char *mechs,
                               size_t *err_off);
int mdspf_ctx_set_best_guess(mdspf_ctx *ctx, const char *record);
int mdspf_ctx_add_override(mdspf_ctx *ctx, const char *domain,
                           const char *record);
int mdspf_ctx_set_timer(mdspf_ctx *ctx, mdspf_timer_fn fn, void *loop_ud);
void mdspf_ctx_process_timeouts(mdspf_ctx *ctx);

int mdspf_check_new(mdspf_ctx *ctx, mdspf_check **out);
int mdspf_check_set_ip(mdspf_check *chk, const char *ip);
int mdspf_check_set_sender(mdspf_check *chk, const char *mailfrom);
int mdspf_check_set_helo(mdspf_check *chk, const char *helo);
int mdspf_check_set_identity(mdspf_check *chk, int identity);
int mdspf_check_start(mdspf_check *chk, mdspf_check_cb cb, void *user);
void mdspf_check_cancel(mdspf_check *chk);
void mdspf_check_free(mdspf_check *chk);
int mdspf_check_run(mdspf_check *chk, int timeout_ms);
int mdspf_check_done(const mdspf_check *chk);
int mdspf_check_result(const mdspf_check *chk);
int mdspf_check_reason(const mdspf_check *chk);
const char *mdspf_check_problem(const mdspf_check *chk);
const char *mdspf_check_explanation(const mdspf_check *chk);
const char *mdspf_check_mechanism(const mdspf_check *chk);
const char *mdspf_check_domain(const mdspf_check *chk);
const char *mdspf_check_record(const mdspf_check *chk, size_t *len);
int mdspf_check_syntax_error(const mdspf_check *chk, int *code, size_t *off,
                             size_t *len);
const char *mdspf_check_client_ip(const mdspf_check *chk);
const char *mdspf_check_identity_domain(const mdspf_check *chk);
int mdspf_check_identity(const mdspf_check *chk);
int mdspf_check_source(const mdspf_check *chk);
unsigned mdspf_check_dns_terms(const mdspf_check *chk);
unsigned mdspf_check_void_lookups(const mdspf_check *chk);
unsigned mdspf_check_queries(const mdspf_check *chk);
int mdspf_check_received_spf(const mdspf_check *chk, const char *receiver,
                             char *buf, size_t bufsz, size_t *needed);
int mdspf_check_auth_results(const mdspf_check *chk, const char *authserv_id,
                             char *buf, size_t bufsz, size_t *needed);

int mdspf_lint_new(mdspf_ctx *ctx, mdspf_lint **out);
void mdspf_lint_free(mdspf_lint *l);
int mdspf_lint_domain(mdspf_lint *l, const char *domain, int timeout_ms);
int mdspf_lint_record(mdspf_lint *l, const char *domain, const char *txt,
                      size_t len, int timeout_ms);
int mdspf_lint_set_client(mdspf_lint *l, const char *ip);
int mdspf_lint_worst(const mdspf_lint *l);
unsigned mdspf_lint_lookups(const mdspf_lint *l);
unsigned mdspf_lint_void_lookups(const mdspf_lint *l);
size_t mdspf_lint_ndiags(const mdspf_lint *l);
int mdspf_lint_diag_severity(const mdspf_lint *l, size_t i);
int mdspf_lint_diag_code(const mdspf_lint *l, size_t i);
const char *mdspf_lint_code_str(int code);
const char *mdspf_lint_diag_message(const mdspf_lint *l, size_t i);
size_t mdspf_lint_diag_node(const mdspf_lint *l, size_t i);
int mdspf_lint_diag_span(const mdspf_lint *l, size_t i, size_t *off,
                         size_t *len);
size_t mdspf_lint_nnodes(const mdspf_lint *l);
size_t mdspf_lint_node_parent(const mdspf_lint *l, size_t n);
int mdspf_lint_node_via(const mdspf_lint *l, size_t n);
const char *mdspf_lint_node_domain(const mdspf_lint *l, size_t n);
const char *mdspf_lint_node_text(const mdspf_lint *l, size_t n);
unsigned mdspf_lint_node_lookups(const mdspf_lint *l, size_t n);

typedef struct mdspf_cares_options {
  size_t struct_size;
  mdspf_watch_fn watch;
  mdspf_timer_fn timer;
  void *loop_ud;
  const char *servers;
  int timeout_ms;
  int tries;
  ...;
} mdspf_cares_options;
void mdspf_cares_options_init(mdspf_cares_options *opt);
int mdspf_cares_new(const mdspf_cares_options *opt, mdspf_cares **out);
void mdspf_cares_free(mdspf_cares *c);
const mdspf_resolver *mdspf_cares_resolver(mdspf_cares *c);
void mdspf_cares_process_fd(mdspf_cares *c, int fd, int readable,
                            int writable);
void mdspf_cares_process_timeout(mdspf_cares *c);
size_t mdspf_cares_pending(const mdspf_cares *c);

/* Callbacks into Python (cffi runs them with the GIL held). */
extern "Python" void _mdspf_py_check_done(mdspf_check *, void *);
extern "Python" int _mdspf_py_query(void *, mdspf_dns_query *, const char *,
                                    int, void **);
extern "Python" void _mdspf_py_cancel(void *, void *);
extern "Python" int _mdspf_py_wait(void *, int);
extern "Python" void _mdspf_py_ref(void *);
extern "Python" void _mdspf_py_unref(void *);
extern "Python" void _mdspf_py_watch(void *, int, int, int);
extern "Python" void _mdspf_py_cares_timer(void *, long);
extern "Python" void _mdspf_py_ctx_timer(void *, long);
"""

SOURCE = r"""
#include <maildrop-spf/spf.h>
#include <maildrop-spf/cares.h>
"""

_SYSTEM_LIBDIRS = {"/lib", "/usr/lib", "/lib64", "/usr/lib64"}


def _pkg_config(*args):
    out = subprocess.run(["pkg-config", *args, "maildrop-spf-cares"],
                         check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return shlex.split(out)


def _locate():
    inc = os.environ.get("MDSPF_INCLUDE_DIR")
    lib = os.environ.get("MDSPF_LIBRARY_DIR")
    if inc and lib:
        return inc.split(os.pathsep), lib.split(os.pathsep)
    try:
        cflags = _pkg_config("--cflags")
        libs = _pkg_config("--libs-only-L")
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            "maildrop_spf: libmaildrop-spf not found: install it (with its "
            "pkg-config files, maildrop-spf-cares.pc) or set "
            "MDSPF_INCLUDE_DIR and MDSPF_LIBRARY_DIR (%s)" % exc)
    return ([f[2:] for f in cflags if f.startswith("-I")],
            [f[2:] for f in libs if f.startswith("-L")])


def _builder():
    include_dirs, library_dirs = _locate()
    rpath = [d for d in library_dirs
             if os.path.normpath(d) not in _SYSTEM_LIBDIRS
             and not os.path.normpath(d).startswith("/usr/lib/")]
    ffibuilder = FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source(
        "maildrop_spf._native", SOURCE,
        libraries=["maildrop-spf-cares", "maildrop-spf"],
        include_dirs=include_dirs, library_dirs=library_dirs,
        runtime_library_dirs=rpath)
    return ffibuilder


ffibuilder = _builder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

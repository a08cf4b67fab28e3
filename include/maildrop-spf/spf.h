/*
 * maildrop-spf/spf.h -- libmaildrop-spf public API
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libmaildrop-spf evaluates SPF (RFC 7208): "may this IP address send mail
 * for this domain?".  The header is the specification: every symbol below
 * states who owns what, how long pointers stay valid and whether a call
 * may complete inline.
 *
 * General rules
 * -------------
 * - No global mutable state.  Nothing needs initialising; the library
 *   creates no threads and installs no signal handlers.
 * - Every handle (mdspf_ctx, mdspf_check, mdspf_zone, ...) is used by one
 *   thread at a time; a context, its checks and lints and the resolver
 *   they use form one such unit.  A parsed mdspf_record is immutable and
 *   may be shared freely between threads once created (its reference
 *   count is atomic).
 * - Callbacks run only on the caller's thread, inside an mdspf_* call
 *   (mdspf_check_start, mdspf_dns_done, mdspf_zone_process, ...).
 * - Functions that report success or failure return an mdspf_status
 *   (0 = MDSPF_OK, errors negative) and write handles through an
 *   out-parameter; destructors accept NULL.  SPF results are an
 *   mdspf_result (1..7); the two never share a value but 0.  Enumerations
 *   travel as int where bindings read them; the enums are append-only.
 * - Every allocation goes through the allocator hook given at creation
 *   (NULL = libc), so out-of-memory handling can be tested.
 *
 * Contracts of a long-running host
 * --------------------------------
 * - Configuration is a snapshot.  A check or lint takes the context's
 *   configuration (resolver, limits, overrides, fallbacks, best guess,
 *   local policy, explanation, receiver, trace hook) when it starts and
 *   keeps it, unchanged, until it is freed.  The mdspf_ctx_set_* and
 *   _add_* calls build the configuration for checks started later; they
 *   may be called at any time, also while checks run and from inside any
 *   callback, and fail only for bad arguments or lack of memory.
 * - One callback discipline.  Every user callback (a check's completion,
 *   the trace hook, the timer, a lint's completion) runs inside one
 *   guard: callbacks never nest, and no callback runs inside another
 *   call that was made from a callback (a check started in a callback is
 *   evaluated after that callback returns).  From inside any callback
 *   every call is allowed except the blocking ones (mdspf_check_run,
 *   mdspf_lint_domain, mdspf_lint_record: MDSPF_E_RECURSIVE).  Cancels
 *   and frees -- of the check or lint calling back, of any other, of the
 *   context, of the resolver -- take effect at once for the caller (no
 *   further callback of what was cancelled or freed), while the memory is
 *   released once nothing of it is on the stack.
 * - One teardown rule.  Contexts, checks, lints and resolvers may be
 *   freed in any order, also with queries in flight: freeing a context
 *   cancels its checks and lints without callbacks but leaves their
 *   handles valid until they are freed; freeing a resolver completes its
 *   outstanding queries with a temporary failure (see mdspf_resolver).
 *   So finalizers of a garbage-collected language may run in any order.
 */
#ifndef MAILDROP_SPF_H
#define MAILDROP_SPF_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && !defined(MDSPF_STATIC)
#ifdef MDSPF_BUILDING_LIBRARY
#define MDSPF_API __declspec(dllexport)
#else
#define MDSPF_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define MDSPF_API __attribute__((visibility("default")))
#else
#define MDSPF_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Version, status codes, results
 * ==================================================================== */

/** Compile-time version: 0xMMmmpp (major, minor, patch). */
#define MDSPF_VERSION_NUM 0x000200
#define MDSPF_VERSION_STR "0.2.0"

/** Run-time version number in the MDSPF_VERSION_NUM format. */
MDSPF_API unsigned mdspf_version(void);
/** Run-time version string, static storage, never NULL. */
MDSPF_API const char *mdspf_version_str(void);

/**
 * API status: "did the call work?".  MDSPF_OK is 0 and every error is
 * negative, so a status can never be mistaken for an mdspf_result (1..7):
 * the two share only 0, which no finished check reports.  Values are
 * only ever appended (the next error is -16).
 */
typedef enum mdspf_status {
  MDSPF_OK = 0,
  MDSPF_E_NOMEM = -1,     /**< the allocator returned NULL */
  MDSPF_E_INVAL = -2,     /**< bad argument (NULL, malformed IP, ...) */
  MDSPF_E_SYNTAX = -3,    /**< malformed record, macro or zone text */
  MDSPF_E_LIMIT = -4,     /**< an RFC 7208 4.6.4 or size limit was hit */
  MDSPF_E_DNS = -5,       /**< DNS failure (timeout, SERVFAIL, garbage) */
  MDSPF_E_TIMEOUT = -6,   /**< the time budget ran out */
  MDSPF_E_CANCELLED = -7, /**< the operation was cancelled */
  MDSPF_E_STATE = -8,     /**< call not allowed in the object's state */
  MDSPF_E_RECURSIVE = -9, /**< call not allowed inside a callback */
  MDSPF_E_IO = -10,       /**< a file could not be read */
  MDSPF_E_NORECORD = -11, /**< include/redirect target has no SPF record */
  MDSPF_E_MULTIREC = -12, /**< more than one SPF record for a domain */
  MDSPF_E_NOTSUP = -13,   /**< not supported (e.g. resolver has no wait) */
  MDSPF_E_BUFFER = -14,   /**< the caller's buffer is too small */
  MDSPF_E_BUDGET = -15    /**< a memory budget was exceeded */
} mdspf_status;

/** Text for an mdspf_status value; static storage, never NULL. */
MDSPF_API const char *mdspf_strerror(int status);

/**
 * SPF result, RFC 7208 section 2.6, numbered as libspf2 and its
 * spfquery's exit status number them.  0 is not a result: it is what
 * mdspf_check_result() reports before the check has finished.
 */
typedef enum mdspf_result {
  /** Never returned: keeps the enum's type signed, so that storing a
   *  result in an int draws no -Wsign-conversion warning. */
  MDSPF_RESULT_SIGNED_ = -1,
  MDSPF_NO_RESULT = 0, /**< not finished yet */
  MDSPF_NEUTRAL = 1,
  MDSPF_PASS = 2,
  MDSPF_FAIL = 3,
  MDSPF_SOFTFAIL = 4,
  MDSPF_NONE = 5,
  MDSPF_TEMPERROR = 6,
  MDSPF_PERMERROR = 7
} mdspf_result;

/** "pass", "fail", ...; "no result" for MDSPF_NO_RESULT, "invalid" for
 *  unknown values; never NULL. */
MDSPF_API const char *mdspf_result_str(int result);

/**
 * Allocator hook, lua_Alloc shape.  nsize == 0: free ptr (osize is its
 * size) and return NULL.  Otherwise behave like realloc(ptr, nsize)
 * (ptr == NULL: osize is 0) and return NULL only when the request cannot
 * be met.  The library always passes the exact size it allocated as
 * osize.  NULL wherever an mdspf_alloc_fn is accepted means libc.
 */
typedef void *(*mdspf_alloc_fn)(void *ud, void *ptr, size_t osize,
                                size_t nsize);

/* ======================================================================
 * Records: text -> compact immutable compiled record
 * ==================================================================== */

typedef struct mdspf_record mdspf_record;

/** Detailed syntax error codes reported by the parsers. Append-only. */
typedef enum mdspf_syntax {
  MDSPF_SYN_OK = 0,
  MDSPF_SYN_VERSION = 1,        /**< does not start with "v=spf1" */
  MDSPF_SYN_TOO_LONG = 2,       /**< record longer than MDSPF_MAX_RECORD */
  MDSPF_SYN_BAD_CHAR = 3,       /**< control, non-ASCII or stray char */
  MDSPF_SYN_UNKNOWN_MECH = 4,   /**< not a mechanism nor a modifier */
  MDSPF_SYN_MISSING_ARG = 5,    /**< required ":value" absent or empty */
  MDSPF_SYN_UNEXPECTED_ARG = 6, /**< argument or CIDR where none allowed */
  MDSPF_SYN_BAD_DOMAIN = 7,     /**< domain-spec does not end well */
  MDSPF_SYN_BAD_MACRO = 8,      /**< malformed macro expression */
  MDSPF_SYN_MACRO_LETTER = 9,   /**< unknown letter, or c/r/t outside exp */
  MDSPF_SYN_BAD_CIDR = 10,      /**< CIDR length malformed or too large */
  MDSPF_SYN_BAD_IP4 = 11,       /**< malformed ip4 network */
  MDSPF_SYN_BAD_IP6 = 12,       /**< malformed ip6 network */
  MDSPF_SYN_DUP_MODIFIER = 13,  /**< redirect= or exp= given twice */
  MDSPF_SYN_BAD_MODIFIER = 14,  /**< modifier with an invalid name */
  MDSPF_SYN_TOO_MANY_TERMS = 15 /**< more than MDSPF_MAX_TERMS terms */
} mdspf_syntax;

/** Longest record text accepted (octets), and most terms per record. */
#define MDSPF_MAX_RECORD 65535
#define MDSPF_MAX_TERMS 4096

/** Message for an mdspf_syntax code; static storage, never NULL. */
MDSPF_API const char *mdspf_syntax_str(int code);

/**
 * Parse and validate an SPF record (RFC 7208 sections 4.5, 4.6, 12).
 * No DNS.  txt need not be NUL-terminated; len is its length.
 *
 * On success returns MDSPF_OK and *out owns the record (free with
 * mdspf_record_free).  On a syntax error returns MDSPF_E_SYNTAX, *out is
 * NULL, and -- for each non-NULL pointer -- *err_code gets the
 * mdspf_syntax code, *err_off the byte offset of the offending text in
 * txt and *err_len its length (at least 1 unless the error is at the end
 * of the text).  Other failures: MDSPF_E_NOMEM, MDSPF_E_INVAL (txt or out
 * NULL).  Every macro-string is validated here, so a parsed record never
 * yields a macro syntax error later.  Thread-safe (no shared state).
 */
MDSPF_API mdspf_status mdspf_record_parse(const char *txt, size_t len,
                                 mdspf_alloc_fn alloc, void *alloc_ud,
                                 mdspf_record **out, int *err_code,
                                 size_t *err_off, size_t *err_len);

/**
 * Records are reference-counted.  mdspf_record_parse() gives the caller
 * one reference; mdspf_record_ref() takes another (returns rec, NULL for
 * NULL) and mdspf_record_unref() drops one (NULL is fine): the record is
 * freed, with the allocator it was made with, when the last reference
 * goes.  Everything in the library that keeps a record (an override of a
 * context, a running check, a configuration snapshot) holds its own
 * reference, so the owner may drop its reference at any time.  The count
 * is atomic: references may be taken and dropped in any thread, so the
 * allocator of a record shared between threads must be usable from any
 * of them.
 */
MDSPF_API mdspf_record *mdspf_record_ref(const mdspf_record *rec);
MDSPF_API void mdspf_record_unref(const mdspf_record *rec);
/** The same as mdspf_record_unref (the name from before records were
 *  reference-counted). */
MDSPF_API void mdspf_record_free(mdspf_record *rec);

/**
 * 1 when txt starts with "v=spf1" (any case) followed by a space or the
 * end of the text -- the RFC 7208 4.5 record selection test -- else 0.
 */
MDSPF_API int mdspf_record_is_spf(const char *txt, size_t len);

/** The text the record was parsed from, NUL-terminated; *len if non-NULL. */
MDSPF_API const char *mdspf_record_text(const mdspf_record *rec,
                                        size_t *len);

/** Number of terms (mechanisms and modifiers, "v=spf1" excluded). */
MDSPF_API size_t mdspf_record_nterms(const mdspf_record *rec);

/**
 * Canonical text of the record ("v=spf1" + one space-separated term each,
 * lower-case names, no "+" qualifier, CIDR only when given).  Writes at
 * most bufsz bytes including the NUL; *needed (if non-NULL) gets the
 * length without NUL.  Returns MDSPF_E_BUFFER if buf was too small (it then
 * holds a truncated, NUL-terminated prefix when bufsz > 0).  Parsing the
 * output gives a record with identical terms.
 */
MDSPF_API mdspf_status mdspf_record_format(const mdspf_record *rec, char *buf,
                                  size_t bufsz, size_t *needed);

/** Term kinds. */
typedef enum mdspf_term_kind {
  MDSPF_TERM_ALL = 1,
  MDSPF_TERM_INCLUDE = 2,
  MDSPF_TERM_A = 3,
  MDSPF_TERM_MX = 4,
  MDSPF_TERM_PTR = 5,
  MDSPF_TERM_IP4 = 6,
  MDSPF_TERM_IP6 = 7,
  MDSPF_TERM_EXISTS = 8,
  MDSPF_TERM_REDIRECT = 9,
  MDSPF_TERM_EXP = 10,
  MDSPF_TERM_MODIFIER = 11 /**< unknown modifier name=value (ignored) */
} mdspf_term_kind;

/** "all", "include", ..., "redirect", "exp", "modifier"; never NULL. */
MDSPF_API const char *mdspf_term_kind_str(int kind);

/*
 * Term introspection.  i is 0-based; an out-of-range i gives 0 / NULL /
 * -1 as stated.  Returned strings live as long as the record.
 */
/** mdspf_term_kind of term i, 0 if out of range. */
MDSPF_API int mdspf_record_term_kind(const mdspf_record *rec, size_t i);
/** Result a match of mechanism i gives (MDSPF_PASS, MDSPF_FAIL,
 *  MDSPF_SOFTFAIL, MDSPF_NEUTRAL); -1 for modifiers or out of range. */
MDSPF_API int mdspf_record_term_qualifier(const mdspf_record *rec, size_t i);
/** The qualifier character as written ('+', '-', '~', '?'), 0 if none. */
MDSPF_API int mdspf_record_term_qualifier_char(const mdspf_record *rec,
                                               size_t i);
/** Mechanism or modifier name as written (e.g. "MX", "moo.cow"). */
MDSPF_API const char *mdspf_record_term_name(const mdspf_record *rec,
                                             size_t i);
/** Value text: domain-spec, macro-string, or the address of ip4/ip6 as
 *  written; NULL when the term has none (e.g. "a", "all"). */
MDSPF_API const char *mdspf_record_term_value(const mdspf_record *rec,
                                              size_t i);
/** CIDR prefix length written for family 4 or 6; -1 when not given (the
 *  default /32 or /128 applies) or not applicable. */
MDSPF_API int mdspf_record_term_cidr(const mdspf_record *rec, size_t i,
                                     int family);
/** Address of an ip4 (returns 4, writes 4 bytes) or ip6 (returns 6,
 *  writes 16 bytes) term into out; 0 for other terms. */
MDSPF_API int mdspf_record_term_addr(const mdspf_record *rec, size_t i,
                                     unsigned char out[16]);
/** Byte offset and length of term i in mdspf_record_text().  Returns
 *  MDSPF_E_INVAL when i is out of range. */
MDSPF_API mdspf_status mdspf_record_term_span(const mdspf_record *rec, size_t i,
                                     size_t *off, size_t *len);
/** 1 when the term's value contains macros (its target depends on the
 *  request), else 0. */
MDSPF_API int mdspf_record_term_has_macros(const mdspf_record *rec,
                                           size_t i);

/* ======================================================================
 * Resolver interface
 * ==================================================================== */

/** Query types used by SPF. */
enum {
  MDSPF_RR_A = 1,
  MDSPF_RR_CNAME = 5,
  MDSPF_RR_PTR = 12,
  MDSPF_RR_MX = 15,
  MDSPF_RR_TXT = 16,
  MDSPF_RR_AAAA = 28
};

/** Outcome of one DNS query, as a backend reports it. */
typedef enum mdspf_dns_status {
  MDSPF_DNS_OK = 0,       /**< NOERROR, at least one RR of the type */
  MDSPF_DNS_NODATA = 1,   /**< NOERROR, no RR of the asked type */
  MDSPF_DNS_NXDOMAIN = 2, /**< RCODE 3, the name does not exist */
  MDSPF_DNS_TEMPFAIL = 3, /**< SERVFAIL, REFUSED, timeout, network */
  MDSPF_DNS_ERROR = 4     /**< FORMERR, NOTIMP, garbled answer */
} mdspf_dns_status;

/** "ok", "nodata", "nxdomain", "tempfail", "error"; never NULL. */
MDSPF_API const char *mdspf_dns_status_str(int status);
/** "A", "AAAA", "MX", "TXT", "PTR" or "CNAME"; "?" for any other type;
 *  never NULL. */
MDSPF_API const char *mdspf_rr_type_str(int rrtype);

/** A pending DNS query; created and owned by the library. */
typedef struct mdspf_dns_query mdspf_dns_query;

#define MDSPF_RESOLVER_V1 1u
#define MDSPF_RESOLVER_V2 2u /**< adds ref and unref */

/**
 * A resolver backend: a vtable plus the backend's own pointer.  Whoever
 * stores one (mdspf_ctx_set_resolver, an overlay) copies the struct,
 * reading only the fields its version has.
 *
 * query(impl, q, name, rrtype, &token): name is a NUL-terminated domain
 *   without trailing dot, at most 253 octets, labels 1..63 octets; a
 *   label may contain any octet but NUL and '.' (macro expansion can
 *   produce spaces or '%'), so a backend must escape as its wire
 *   encoder requires.
 *   Return 0 and later call mdspf_dns_done(q, ...) exactly once --
 *   possibly before query() returns -- or return non-zero and never
 *   call it (the check then fails with temperror).  *token is passed
 *   back to cancel().
 * cancel(impl, token): the library no longer wants the answer.  After
 *   cancel() returns the backend must not touch q again.  Never called
 *   for a query that has completed.
 * wait(impl, timeout_ms): optional (may be NULL).  Drive I/O for at most
 *   timeout_ms, delivering answers; used by mdspf_check_run.  Return 0,
 *   or non-zero on a backend failure.
 * ref(impl), unref(impl) (MDSPF_RESOLVER_V2, both or neither may be
 *   NULL): every holder of the vtable -- each configuration snapshot of
 *   a context, an overlay -- holds a reference, so the backend's memory
 *   can stay until the last holder lets go, whatever order things are
 *   freed in.
 *
 * The teardown rule, kept by every resolver of this library (zone,
 * overlay, c-ares) and expected of others: freeing a resolver completes
 * every outstanding query with MDSPF_DNS_TEMPFAIL before the free
 * returns (their checks may call back inside it), and from then on it
 * refuses new queries (query() returns non-zero, wait() fails), so a
 * check still running ends in temperror.  With ref/unref nothing keeps a
 * pointer into freed memory: the backend frees its data at once and its
 * small handle with the last reference.  A V1 resolver has no references:
 * it must outlive every context and overlay that stores it.
 */
typedef struct mdspf_resolver {
  uint32_t version; /**< MDSPF_RESOLVER_V1 or _V2; later ones append */
  void *impl;       /**< backend pointer, passed back verbatim */
  int (*query)(void *impl, mdspf_dns_query *q, const char *name,
               int rrtype, void **token);
  void (*cancel)(void *impl, void *token);
  int (*wait)(void *impl, int timeout_ms);
  /* MDSPF_RESOLVER_V2: */
  void (*ref)(void *impl);
  void (*unref)(void *impl);
} mdspf_resolver;

/*
 * Answer builders, called by a backend between query() and
 * mdspf_dns_done(q).  The data is copied.  Oversized answers (more than
 * MDSPF_MAX_ANSWER_RRS records or MDSPF_MAX_ANSWER_BYTES of data) turn
 * the query into MDSPF_DNS_ERROR; a record of the wrong type for the
 * query, or a malformed one, is ignored.  Names may carry a trailing dot.
 */
#define MDSPF_MAX_ANSWER_RRS 4096
#define MDSPF_MAX_ANSWER_BYTES 65536
/** One whole TXT record: its character-strings already concatenated. */
MDSPF_API void mdspf_dns_add_txt(mdspf_dns_query *q, const char *txt,
                                 size_t len);
/** One A (family 4, 4 bytes) or AAAA (family 6, 16 bytes) record. */
MDSPF_API void mdspf_dns_add_addr(mdspf_dns_query *q, int family,
                                  const void *addr);
/** One MX (pref = preference) or PTR (pref ignored) target name. */
MDSPF_API void mdspf_dns_add_name(mdspf_dns_query *q, const char *name,
                                  unsigned pref);
/**
 * Complete the query: dns_status is an mdspf_dns_status, rcode the DNS
 * RCODE if known (else -1).  OK with no records becomes NODATA.  May run
 * the check's completion callback before returning (unless called from
 * inside query(), where the completion is queued instead).  q is invalid
 * after this call.
 */
MDSPF_API void mdspf_dns_done(mdspf_dns_query *q, int dns_status, int rcode);
/**
 * How long the answer may be kept by a cache, in seconds: optional, called
 * between query() and mdspf_dns_done(q), once or several times (the
 * smallest value counts, so a backend may call it once per record).
 *   - Positive answer: the smallest TTL of the records given and of the
 *     CNAME records that led to them.
 *   - NODATA, NXDOMAIN: the negative-caching TTL of RFC 2308 section 5,
 *     min(TTL of the SOA record in the authority section, the SOA's
 *     MINIMUM field).  A negative answer without a SOA gets no call.
 *   - TEMPFAIL, ERROR: not needed (ignored by the cache).
 * A value over 2^31 - 1 counts as 0 (RFC 2181 section 8); 0 means "do
 * not keep".  A backend that never calls it -- every V1 or V2 backend
 * written before this call existed -- leaves the TTL unknown: the answer
 * is used as always, and mdspf_cache does not keep it (see there).  The
 * zone, overlay and c-ares resolvers of this library call it.  Ignored
 * after mdspf_dns_done and for q NULL.
 */
MDSPF_API void mdspf_dns_set_ttl(mdspf_dns_query *q, uint32_t seconds);
/** The name and type a query asks for (for backends that keep q). */
MDSPF_API const char *mdspf_dns_query_name(const mdspf_dns_query *q);
MDSPF_API int mdspf_dns_query_type(const mdspf_dns_query *q);

/* ======================================================================
 * In-memory zone resolver (tests, demos, what-if checks, fuzzing)
 * ==================================================================== */

typedef struct mdspf_zone mdspf_zone;

/** Create an empty zone. */
MDSPF_API mdspf_status mdspf_zone_new(mdspf_alloc_fn alloc, void *alloc_ud,
                             mdspf_zone **out);
/** Free a zone.  Its deferred and hung queries complete with
 *  MDSPF_DNS_TEMPFAIL first (their checks may call back inside this
 *  call), its data goes, and from then on it refuses queries; the small
 *  handle stays while contexts or overlays still hold its resolver (see
 *  mdspf_resolver).  Allowed at any time, also with checks running and
 *  inside any callback; inside one of the zone's own deliveries the free
 *  happens when the delivering zone call returns.  NULL is fine. */
MDSPF_API void mdspf_zone_free(mdspf_zone *z);

/**
 * Add one record in master-file rdata syntax: A "192.0.2.1", AAAA
 * "2001:db8::1", MX "10 mx.example.com.", TXT "\"part one\" \"two\""
 * (or one unquoted word), PTR / CNAME "host.example.com.", or any of
 * them in the RFC 3597 generic form "\\# 4 c0000201".  Names in rdata
 * are absolute (a trailing dot is optional).  name is the owner,
 * absolute.  Returns MDSPF_E_SYNTAX for bad rdata, MDSPF_E_INVAL for a
 * bad name or unsupported type.
 */
MDSPF_API mdspf_status mdspf_zone_add(mdspf_zone *z, const char *name, int rrtype,
                             const char *rdata);
/** Add one TXT record made of n character-strings (binary-safe; each at
 *  most 255 octets unless MDSPF_ZONE_LAX is set; n may be 0, and then
 *  strings and lens may be NULL).  MDSPF_E_INVAL for an over-long string,
 *  more than 65536 strings or 65536 octets, or a bad name. */
MDSPF_API mdspf_status mdspf_zone_add_txt(mdspf_zone *z, const char *name,
                                 const char *const *strings,
                                 const size_t *lens, size_t n);

/** Injected failures for (name, rrtype); rrtype 0 means every type. */
enum {
  MDSPF_ZONE_NOFAULT = 0,
  MDSPF_ZONE_TIMEOUT = 1,  /**< answers MDSPF_DNS_TEMPFAIL, no rcode */
  MDSPF_ZONE_SERVFAIL = 2, /**< answers MDSPF_DNS_TEMPFAIL, rcode 2 */
  MDSPF_ZONE_HANG = 3      /**< never answers (until cancelled) */
};
MDSPF_API mdspf_status mdspf_zone_set_fault(mdspf_zone *z, const char *name,
                                   int rrtype, int fault);
/** 1 if the zone holds name with a record, a CNAME or a fault, else 0
 *  (names that exist only as parents of other names, or hold only
 *  records a zone file had of skipped types -- see mdspf_zone_load --
 *  give 0; a query for one answers NODATA).  Case-insensitive, like
 *  every name lookup in the zone. */
MDSPF_API int mdspf_zone_has_name(const mdspf_zone *z, const char *name);

/** Zone flags. */
enum {
  MDSPF_ZONE_LAX = 1 /**< accept TXT strings over 255 octets */
};
MDSPF_API void mdspf_zone_set_flags(mdspf_zone *z, unsigned flags);

/**
 * Load RFC 1035 master-file text, as authoritative servers read it:
 * $ORIGIN, $TTL, "@", relative names, blank owner = previous owner,
 * optional TTL and class (IN or CLASS1) in either order, parentheses
 * spanning lines, ";" comments, quoted strings with \X and \DDD
 * escapes, and $GENERATE (BIND's: "range lhs [ttl] [class] type rhs",
 * range "start-stop[/step]" within 0..2^31-1, "$", "$$" and
 * "${offset[,width[,base]]}" with base d, o, x, X, n or N; at most
 * 65536 generated records and 16 MiB of generated text per load).
 *
 * Types A, AAAA, MX, TXT, PTR and CNAME are loaded.  Every other type
 * (SOA, NS, SPF, SRV, CAA, DNSKEY, RRSIG, NSEC, TLSA, HTTPS, ..., and
 * TYPEnnn, RFC 3597) is skipped: its rdata is read and dropped, its
 * owner exists from then on (NODATA, not NXDOMAIN) and it is counted
 * (mdspf_zone_skipped).  So DNAME and wildcards are not expanded.  The
 * rdata of SOA, NS and SPF is checked; rdata in the generic form
 * "\\# length hex..." is checked for every type (length must match the
 * hex) and decoded for the loaded ones.  A word that is no type, and the
 * meta-types (OPT, TSIG, AXFR, ANY, TYPE0, ...), are errors.
 *
 * TTLs are kept and reported with every answer (mdspf_dns_set_ttl): a
 * record's TTL is the one written on it, else the last $TTL, else the
 * last TTL written on a record before it (RFC 1035 5.1), else none.  A
 * positive answer carries the smallest TTL of its records and of the
 * CNAMEs followed; an answer holding a record without TTL carries none.
 * A SOA record (otherwise skipped, see below) gives the names at and
 * under its owner the negative-caching TTL of RFC 2308, min(SOA TTL,
 * MINIMUM) (MINIMUM alone when the SOA has no TTL), which NODATA and
 * NXDOMAIN answers carry; without a SOA above the name they carry none.
 * Records added with mdspf_zone_add and mdspf_zone_add_txt have no TTL,
 * and answers for faults carry none.
 *
 * $INCLUDE needs a file (mdspf_zone_load_file): here it fails with
 * MDSPF_E_NOTSUP.  origin (may be NULL) is the initial $ORIGIN and
 * filename names the text in messages.  On error returns MDSPF_E_SYNTAX
 * (or MDSPF_E_NOMEM, MDSPF_E_LIMIT for the $GENERATE bounds,
 * MDSPF_E_NOTSUP; MDSPF_E_INVAL for a NULL zone or a bad origin) and
 * writes "filename:line: message" into err (errsz bytes, always
 * NUL-terminated when errsz > 0; non-printable octets as \DDD).  Records
 * loaded before the error stay in the zone.  One logical record may
 * hold 140000 octets.  The text need not be NUL-terminated; NUL bytes in
 * it are an error.
 */
MDSPF_API mdspf_status mdspf_zone_load(mdspf_zone *z, const char *text, size_t len,
                              const char *origin, const char *filename,
                              char *err, size_t errsz);
/**
 * mdspf_zone_load on a file's contents, with $INCLUDE: "$INCLUDE file
 * [origin]" reads file -- relative to the directory of the including
 * file, or absolute -- as if it stood there, with origin (relative to
 * the current one) as its initial $ORIGIN, else the current origin.
 * Afterwards the including file goes on with its own $ORIGIN, $TTL and
 * previous owner (an included file starts without one).  Included files
 * must be regular files (no directory, device or FIFO is opened);
 * nesting is limited to 8 levels below path, which also stops an
 * include loop, and to 4096 included files per load.  All files of one
 * load together may hold 16 MiB.
 *
 * MDSPF_E_IO if a file cannot be read, MDSPF_E_LIMIT if a bound is hit,
 * else as mdspf_zone_load.  Messages: "path: reason" when path itself
 * cannot be read; "file:line: message" for an error in any file, where
 * file is the path that was opened (the including file's directory
 * joined with the name written); after an error inside an included file
 * " (included from file:line, ...)" names each $INCLUDE, innermost
 * first.  path itself may be anything fopen reads (also a pipe).
 */
MDSPF_API mdspf_status mdspf_zone_load_file(mdspf_zone *z, const char *path,
                                   const char *origin, char *err,
                                   size_t errsz);
/**
 * What the zone files loaded into z held and z does not serve, by type:
 * returns the number of distinct types skipped so far (0 for a NULL
 * zone), in ascending order of type number.  For i below that number
 * *type gets the type's name -- its mnemonic in upper case ("RRSIG",
 * "HTTPS" also when written TYPE65), else "TYPEnnn" -- and *count how
 * many records of it were skipped, over every load into z (records
 * before a load error included); for any other i, NULL and 0.  type and
 * count may be NULL.  *type points into z: valid until mdspf_zone_free.
 */
MDSPF_API size_t mdspf_zone_skipped(const mdspf_zone *z, size_t i,
                                    const char **type, unsigned long *count);

/** Answer delivery: inline (inside query(); the default), or deferred
 *  until mdspf_zone_process / the resolver's wait() -- first-in-first-out
 *  or last-in-first-out, so tests see answers arrive out of order. */
enum {
  MDSPF_ZONE_INLINE = 0,
  MDSPF_ZONE_DEFERRED_FIFO = 1,
  MDSPF_ZONE_DEFERRED_LIFO = 2
};
MDSPF_API mdspf_status mdspf_zone_set_delivery(mdspf_zone *z, int mode);
/** Deliver up to max deferred answers (callbacks run inside); returns
 *  how many were delivered. */
MDSPF_API size_t mdspf_zone_process(mdspf_zone *z, size_t max);
/** Deferred answers waiting for delivery. */
MDSPF_API size_t mdspf_zone_pending(const mdspf_zone *z);
/** Queries the zone has received since creation. */
MDSPF_API unsigned long mdspf_zone_queries(const mdspf_zone *z);
/** The zone's resolver vtable (valid as long as the zone). */
MDSPF_API const mdspf_resolver *mdspf_zone_resolver(mdspf_zone *z);

/* ======================================================================
 * Context: configuration shared by checks
 * ==================================================================== */

typedef struct mdspf_ctx mdspf_ctx;
typedef struct mdspf_check mdspf_check;

/** Create a context.  It has no resolver until mdspf_ctx_set_resolver. */
MDSPF_API mdspf_status mdspf_ctx_new(mdspf_alloc_fn alloc, void *alloc_ud,
                            mdspf_ctx **out);
/**
 * Free the context (the user's handle).  Every running check and lint of
 * it is cancelled at once, with no further callback of any of them (also
 * not of a check that finished and whose callback was still due), and
 * the timer is disarmed (the timer callback hears -1 once).  The handles
 * of its checks and lints stay valid -- their outcome readable -- until
 * they are freed, in any order; they cannot be started again.  Allowed
 * anywhere, including inside any of its callbacks.  NULL is fine.
 */
MDSPF_API void mdspf_ctx_free(mdspf_ctx *ctx);
/** Use resolver r for checks started from now on (the vtable is copied;
 *  a V2 resolver is referenced, see mdspf_resolver).  Running checks keep
 *  the resolver they started with.  MDSPF_E_INVAL for an unusable vtable,
 *  MDSPF_E_NOMEM. */
MDSPF_API mdspf_status mdspf_ctx_set_resolver(mdspf_ctx *ctx, const mdspf_resolver *r);

/** Limits (RFC 7208 4.6.4 defaults in brackets). */
enum {
  MDSPF_LIMIT_DNS_TERMS = 1,    /**< DNS-querying terms per check [10] */
  MDSPF_LIMIT_VOID_LOOKUPS = 2, /**< void lookups per check [2] */
  MDSPF_LIMIT_MX_NAMES = 3,     /**< MX names per mx mechanism [10] */
  MDSPF_LIMIT_PTR_NAMES = 4,    /**< PTR names used per lookup [10] */
  MDSPF_LIMIT_TIMEOUT_MS = 5,   /**< time budget of every check [20000] */
  /** Memory one check may hold while it evaluates: records, answers,
   *  outcome [262144, 256 KiB].  Over it the check ends in temperror,
   *  reason MDSPF_E_BUDGET, problem "memory budget exceeded ...". */
  MDSPF_LIMIT_CHECK_MEMORY = 6,
  /** Memory all checks of the context may hold together [134217728,
   *  128 MiB]; applies at once, also to running checks.  To keep a
   *  hostile domain from starving the others, keep it above the check
   *  budget times the checks you run at once. */
  MDSPF_LIMIT_CONTEXT_MEMORY = 7,
  /** Lookahead: DNS queries a check may have started ahead of its
   *  evaluation [10]; 0 switches lookahead off.  When a record arrives,
   *  the first lookup of each of its next DNS-querying terms is started
   *  at once -- the TXT record of include and redirect targets, a, mx
   *  and exists, unless the target needs %{p} (ptr terms are not looked
   *  up ahead) -- at most this many and never more than the DNS-term
   *  budget left (MDSPF_LIMIT_DNS_TERMS minus the terms evaluated)
   *  outstanding; and when the evaluation asks for the address of one
   *  name of an MX set or of the client's PTR names, those of the next
   *  names it may ask for, at most this many, cancelled when the term is
   *  over.  Without lookahead these names are asked one at a time and
   *  none after the first match.  Answers are still applied
   *  strictly in record order, and the outcome is that of lookahead 0:
   *  result, reason, problem, explanation, matched term, domain, the
   *  counters and the trace.  A lookup made ahead counts for nothing
   *  (DNS terms, void lookups, mdspf_check_queries) and shows in no
   *  trace event until the evaluation reaches its term, and is then
   *  taken as if asked at that moment (one answered with a failure,
   *  MDSPF_DNS_TEMPFAIL or MDSPF_DNS_ERROR, is asked again then).  Its
   *  answer is held against MDSPF_LIMIT_CHECK_MEMORY (the pending query
   *  against MDSPF_LIMIT_CONTEXT_MEMORY) and given up whenever the
   *  evaluation needs that memory; from then on the check looks no
   *  further ahead.  What is outstanding is cancelled
   *  once the verdict is known and when the check is cancelled or freed
   *  (also through its context).  See mdspf_check_prefetched(). */
  MDSPF_LIMIT_LOOKAHEAD = 8
};
/** Set a limit for checks started from now on: DNS_TERMS 1..100,
 *  VOID_LOOKUPS 0..100, MX/PTR 1..100, TIMEOUT_MS 1..3600000,
 *  CHECK_MEMORY 4096..2147483647, CONTEXT_MEMORY 65536..2147483647,
 *  LOOKAHEAD 0..100; MDSPF_E_INVAL otherwise.  Like every setter below: allowed at any
 *  time (running checks keep the configuration they started with),
 *  MDSPF_E_NOMEM when the next configuration cannot be made. */
MDSPF_API mdspf_status mdspf_ctx_set_limit(mdspf_ctx *ctx, int which, long value);
/** Current value of a limit, -1 for an unknown one. */
MDSPF_API long mdspf_ctx_get_limit(const mdspf_ctx *ctx, int which);

/** Host name of this receiver, for %{r} (default "unknown").  Copied;
 *  NULL restores the default; "" or a name with spaces, control or
 *  non-ASCII octets, or longer than 253 octets: MDSPF_E_INVAL. */
MDSPF_API mdspf_status mdspf_ctx_set_receiver(mdspf_ctx *ctx, const char *name);
/**
 * Explanation used for "fail" when the record has no usable exp=: an
 * explain-string with macros (RFC 7208 6.2).  NULL restores the built-in
 * MDSPF_DEFAULT_EXPLANATION, a neutral sentence (the example of RFC 7208
 * 6.2; no web site to point at).  MDSPF_E_SYNTAX if it does not parse.
 */
#define MDSPF_DEFAULT_EXPLANATION                                            \
  "%{i} is not one of %{d}'s designated mail servers."
MDSPF_API mdspf_status mdspf_ctx_set_default_explanation(mdspf_ctx *ctx,
                                                const char *text);
/**
 * Local policy (libspf2 "-local"): mechanisms such as "a:relay.example.net
 * ip4:192.0.2.0/24", evaluated in the record of the checked domain (also
 * when reached by redirect, never in includes) just before an "all"
 * mechanism whose qualifier is not "+", or after the last mechanism when
 * no mechanism matched.  A local match ends the check with that
 * mechanism's result; mdspf_check_source() then says MDSPF_SRC_LOCAL.
 * NULL or "" clears it.  MDSPF_E_SYNTAX (with *err_off if non-NULL) if it
 * does not parse or contains modifiers.
 */
MDSPF_API mdspf_status mdspf_ctx_set_local_policy(mdspf_ctx *ctx, const char *mechs,
                                         size_t *err_off);
/**
 * Best guess (libspf2/pyspf "-guess"): a record evaluated as the checked
 * domain's own when that domain publishes none (the result would be
 * "none"); e.g. "v=spf1 a/24 mx/24 ptr".  A missing "v=spf1 " prefix is
 * added.  NULL clears it.  MDSPF_E_SYNTAX if it does not parse.
 */
MDSPF_API mdspf_status mdspf_ctx_set_best_guess(mdspf_ctx *ctx, const char *record);
/**
 * Override: use record as the SPF record of domain, at every level
 * (top, include, redirect), without looking at DNS.  Fallback: use it
 * only when DNS says the domain has no SPF record.  Later calls for the
 * same domain replace earlier ones; record NULL removes the entry.
 * MDSPF_E_SYNTAX for a bad record, MDSPF_E_INVAL for a bad domain.
 */
MDSPF_API mdspf_status mdspf_ctx_add_override(mdspf_ctx *ctx, const char *domain,
                                     const char *record);
MDSPF_API mdspf_status mdspf_ctx_add_fallback(mdspf_ctx *ctx, const char *domain,
                                     const char *record);
/**
 * Override with an already parsed record, which is NOT copied: rec must
 * stay valid until the context is freed or the entry is replaced.  Since
 * records are immutable, one record may serve any number of contexts in
 * any number of threads at once (compile once, share everywhere).  rec
 * NULL removes the entry.
 */
MDSPF_API mdspf_status mdspf_ctx_add_override_record(mdspf_ctx *ctx,
                                            const char *domain,
                                            const mdspf_record *rec);

/* ---- Time budget of asynchronous checks ------------------------------ */

/**
 * A timer request: call the matching process function after ms
 * milliseconds; ms < 0 disarms.  Each call replaces the previous request.
 */
typedef void (*mdspf_timer_fn)(void *loop_ud, long ms);
/**
 * Every started check has a time budget of MDSPF_LIMIT_TIMEOUT_MS (RFC
 * 7208 4.6.4 asks for one of at least 20 s); when it runs out the check
 * ends with temperror, reason MDSPF_E_TIMEOUT, whatever the resolver
 * does.  The core has no clock of its own driving it: the host either
 * installs a timer callback here -- told the time until the earliest
 * budget ends, whenever that changes -- or asks mdspf_ctx_timeout(), and
 * calls mdspf_ctx_process_timeouts() when the time has come.
 * mdspf_check_run() enforces the budget by itself.  fn NULL removes it.
 * Budgets belong to the snapshot a check started with, so checks may
 * have different ones; the earliest deadline is reported.  The timer
 * callback runs inside the callback guard (reports are made when the
 * engine is idle, never inside another callback);
 * mdspf_ctx_process_timeouts() always reports the timer again, and
 * mdspf_ctx_free() reports -1 (disarm) if a timer was armed.  Lints
 * have the same budgets.  Time is a 64-bit monotonic clock.
 */
MDSPF_API mdspf_status mdspf_ctx_set_timer(mdspf_ctx *ctx, mdspf_timer_fn fn,
                                  void *loop_ud);
/** Milliseconds until the earliest running check's budget ends (0 if it
 *  has already), -1 when no check is running. */
MDSPF_API long mdspf_ctx_timeout(const mdspf_ctx *ctx);
/** End every check whose budget has run out (temperror, reason
 *  MDSPF_E_TIMEOUT, or fail with the default explanation when only the
 *  explanation was missing) and every such lint; their callbacks run
 *  inside this call (after it, when it is called from a callback). */
MDSPF_API void mdspf_ctx_process_timeouts(mdspf_ctx *ctx);

/* ---- Evaluation trace ---------------------------------------------- */

typedef struct mdspf_event mdspf_event;
/** Called synchronously for each event while a check runs; ev is valid
 *  only during the call.  The hook may cancel or free the check (no
 *  further event or callback of it), free the context, or make any other
 *  call allowed in a callback (see "Contracts" above). */
typedef void (*mdspf_trace_fn)(void *ud, const mdspf_event *ev);
/** Install (fn != NULL) or remove a trace hook for checks started later
 *  (part of the configuration snapshot: each check keeps the hook it
 *  started with). */
MDSPF_API mdspf_status mdspf_ctx_set_trace(mdspf_ctx *ctx, mdspf_trace_fn fn,
                                  void *ud);
/** The check an event belongs to (to tell concurrent checks apart). */
MDSPF_API const mdspf_check *mdspf_event_check(const mdspf_event *ev);

enum {
  MDSPF_EV_RECORD = 1,   /**< record fetched (text) or missing for domain */
  MDSPF_EV_TERM = 2,     /**< term evaluated; result = match result or -1 */
  MDSPF_EV_QUERY = 3,    /**< DNS query sent (text = name, rrtype) */
  MDSPF_EV_ANSWER = 4,   /**< DNS answer (dns_status, count) */
  MDSPF_EV_INCLUDE = 5,  /**< entering an include (domain = target) */
  MDSPF_EV_RETURN = 6,   /**< leaving an include (result = its result) */
  MDSPF_EV_REDIRECT = 7, /**< following redirect= (domain = target) */
  MDSPF_EV_EXPAND = 8,   /**< macro expanded (text = expansion) */
  MDSPF_EV_LIMIT = 9,    /**< a limit was exceeded (text says which) */
  MDSPF_EV_RESULT = 10   /**< final verdict (result) */
};
MDSPF_API int mdspf_event_type(const mdspf_event *ev);
/** Include depth: 0 for the checked domain's record. */
MDSPF_API int mdspf_event_depth(const mdspf_event *ev);
/** Domain whose record is being evaluated (or the target, see above). */
MDSPF_API const char *mdspf_event_domain(const mdspf_event *ev);
/** Event text (record, term, query name, expansion, ...); never NULL. */
MDSPF_API const char *mdspf_event_text(const mdspf_event *ev);
/** SPF result attached to the event, -1 if none. */
MDSPF_API int mdspf_event_result(const mdspf_event *ev);
/** For QUERY/ANSWER: the rrtype, dns status and answer record count. */
MDSPF_API int mdspf_event_rrtype(const mdspf_event *ev);
MDSPF_API int mdspf_event_dns_status(const mdspf_event *ev);
MDSPF_API unsigned mdspf_event_count(const mdspf_event *ev);
/** DNS-term and void-lookup counters at the time of the event. */
MDSPF_API unsigned mdspf_event_dns_terms(const mdspf_event *ev);
MDSPF_API unsigned mdspf_event_void_lookups(const mdspf_event *ev);
/** One readable line for the event (no newline), like mdspf_record_format
 *  for buffer handling: *needed gets the length of the whole line, and a
 *  line cut to fit ends in "..." (when bufsz >= 4).  Printable ASCII;
 *  octets from outside are written as \xNN. */
MDSPF_API mdspf_status mdspf_event_format(const mdspf_event *ev, char *buf,
                                 size_t bufsz, size_t *needed);

/* ======================================================================
 * Checks: one check_host() evaluation
 * ==================================================================== */

/**
 * Completion callback: runs exactly once per started check (possibly
 * before mdspf_check_start returns, when called outside any callback)
 * unless the check is cancelled or freed, or its context freed, first.
 * The outcome getters work inside it and afterwards until
 * mdspf_check_free.  Inside it every call but the blocking ones is
 * allowed (see "Contracts"), mdspf_check_free(chk) included.
 */
typedef void (*mdspf_check_cb)(mdspf_check *chk, void *user);

/** Create a check bound to ctx.  The check holds a reference to the
 *  context: freeing the context cancels the check but its handle stays
 *  valid until mdspf_check_free.  MDSPF_E_STATE once the context was
 *  freed.  Not allowed: using the check from another thread than the
 *  context. */
MDSPF_API mdspf_status mdspf_check_new(mdspf_ctx *ctx, mdspf_check **out);
/** Client IP as text: IPv4 dotted quad or IPv6 (RFC 4291); IPv4-mapped
 *  IPv6 is treated as IPv4.  MDSPF_E_INVAL if malformed. */
MDSPF_API mdspf_status mdspf_check_set_ip(mdspf_check *chk, const char *ip);
/** Client IP in binary: family 4 (4 bytes) or 6 (16 bytes). */
MDSPF_API mdspf_status mdspf_check_set_ip_bin(mdspf_check *chk, int family,
                                     const void *addr);
/** MAIL FROM address (may be NULL or "" for the null reverse-path, which
 *  makes the check use the HELO identity).  MDSPF_E_INVAL if longer than
 *  1024 octets or containing control characters. */
MDSPF_API mdspf_status mdspf_check_set_sender(mdspf_check *chk, const char *mailfrom);
/** HELO/EHLO name.  MDSPF_E_INVAL if longer than 1024 octets or
 *  containing control characters. */
MDSPF_API mdspf_status mdspf_check_set_helo(mdspf_check *chk, const char *helo);
/** Which identity to check (RFC 7208 2.3/2.4). */
enum {
  MDSPF_ID_MAILFROM = 0, /**< MAIL FROM; HELO when the sender is empty */
  MDSPF_ID_HELO = 1      /**< the HELO identity */
};
MDSPF_API mdspf_status mdspf_check_set_identity(mdspf_check *chk, int identity);

/**
 * Start the check with the context's configuration as it is now (the
 * check keeps it: see "Contracts").  Requires an IP and (sender or
 * HELO).  Non-zero return: nothing started, no callback (MDSPF_E_INVAL:
 * inputs missing; MDSPF_E_STATE: already started, freed, or its context
 * freed; MDSPF_E_NOTSUP: no resolver).  Zero: cb(chk, user) runs exactly
 * once, possibly before this returns, unless cancelled or freed first.
 * Called from inside a callback, the check is evaluated after that
 * callback returns (so its callback never runs inside another).
 */
MDSPF_API mdspf_status mdspf_check_start(mdspf_check *chk, mdspf_check_cb cb,
                                void *user);
/** Stop a running check: its outstanding queries are cancelled and its
 *  callback will not run.  The outcome getters then report temperror
 *  with reason MDSPF_E_CANCELLED.  No-op when not running.  Allowed
 *  anywhere, in any callback (its own trace hook included). */
MDSPF_API void mdspf_check_cancel(mdspf_check *chk);
/** Cancel (if running) and free; a finished check's callback that was
 *  still due does not run.  Allowed anywhere, in any callback (its own
 *  completion and trace callbacks included), and after its context was
 *  freed.  NULL is fine. */
MDSPF_API void mdspf_check_free(mdspf_check *chk);
/**
 * Blocking wrapper over the same engine: start (if not started) and drive
 * the resolver's wait() until the check completes or timeout_ms passes
 * (timeout_ms <= 0: the ctx's MDSPF_LIMIT_TIMEOUT_MS).  On timeout the
 * check completes with temperror, reason MDSPF_E_TIMEOUT -- or, when
 * its result is already fail and only the explanation is missing, with
 * fail and the default explanation.  Returns MDSPF_OK when an outcome is
 * available, MDSPF_E_RECURSIVE when called inside any callback of this
 * context, MDSPF_E_CANCELLED when the check (or its context) was
 * cancelled or freed meanwhile by a callback, MDSPF_E_NOTSUP when the
 * resolver has no wait() and an answer is outstanding, or a start error.
 */
MDSPF_API mdspf_status mdspf_check_run(mdspf_check *chk, int timeout_ms);
/** 1 once the outcome is available, else 0. */
MDSPF_API int mdspf_check_done(const mdspf_check *chk);

/* ---- Outcome (valid once done, until mdspf_check_free) -------------
 *
 * Every string below is printable US-ASCII (octets 0x20..0x7e, no
 * control character, one line), whatever the records, DNS answers,
 * sender or HELO held, so it can be logged, printed or put into an SMTP
 * reply or a header field (quoted as that syntax needs) as it is.  Names
 * from outside are written as DNS presentation format writes them:
 * '\' as "\\", any other octet outside that range as "\DDD". */

/** mdspf_result; MDSPF_TEMPERROR if not done. */
MDSPF_API mdspf_result mdspf_check_result(const mdspf_check *chk);
/** Why: MDSPF_OK for a regular result, else the mdspf_status behind a
 *  none/permerror/temperror (E_SYNTAX, E_LIMIT, E_DNS, E_TIMEOUT,
 *  E_NORECORD, E_MULTIREC, E_CANCELLED, E_INVAL, E_NOMEM). */
MDSPF_API mdspf_status mdspf_check_reason(const mdspf_check *chk);
/** One-line human description of an error or notable condition
 *  (e.g. "unknown mechanism in record of t1.example.com"); NULL if none.
 *  At most 1,023 octets (a longer one is cut and ends in "..."). */
MDSPF_API const char *mdspf_check_problem(const mdspf_check *chk);
/** Explanation for a "fail" (from exp= or the default); else NULL.
 *  RFC 7208 6.2 limits it to US-ASCII: after macro expansion (which can
 *  bring in any octet: PTR names served by the sender's DNS, an 8-bit
 *  sender or HELO), every octet that is not printable ASCII is URL-escaped
 *  as "%XX" -- the text is kept, not replaced by the default. */
MDSPF_API const char *mdspf_check_explanation(const mdspf_check *chk);
/** The matched term as written (e.g. "ip4:192.0.2.0/24"), or for an
 *  include the top-level include term; NULL when no term matched. */
MDSPF_API const char *mdspf_check_mechanism(const mdspf_check *chk);
/** Domain whose record produced the result (after redirects; for a
 *  permerror the domain whose record was bad); NULL if none. */
MDSPF_API const char *mdspf_check_domain(const mdspf_check *chk);
/** Text of that domain's record, NULL if none; NUL-terminated, and *len
 *  (if len is non-NULL) gets its length.  A record that did not parse
 *  may have held any octet: each one that is not printable ASCII (NUL
 *  included) is shown as '?', one for one, so the positions of
 *  mdspf_check_syntax_error() still point into this text. */
MDSPF_API const char *mdspf_check_record(const mdspf_check *chk,
                                         size_t *len);
/** For a syntax permerror: the mdspf_syntax code, byte offset and length
 *  of the error in mdspf_check_record(); returns MDSPF_E_STATE when the
 *  outcome is not a syntax error. */
MDSPF_API mdspf_status mdspf_check_syntax_error(const mdspf_check *chk, int *code,
                                       size_t *off, size_t *len);
/** The client IP as used for %{c}: dotted quad, or RFC 5952 IPv6 text
 *  (an IPv4-mapped address shows as IPv4); NULL before start. */
MDSPF_API const char *mdspf_check_client_ip(const mdspf_check *chk);
/** The identity domain checked (after HELO fallback); NULL before start. */
MDSPF_API const char *mdspf_check_identity_domain(const mdspf_check *chk);
/** MDSPF_ID_MAILFROM or MDSPF_ID_HELO: the identity actually checked. */
MDSPF_API int mdspf_check_identity(const mdspf_check *chk);
/** Where the deciding record came from. */
enum {
  MDSPF_SRC_NONE = 0,     /**< no record decided (none, errors) */
  MDSPF_SRC_DNS = 1,      /**< a published record */
  MDSPF_SRC_OVERRIDE = 2, /**< mdspf_ctx_add_override */
  MDSPF_SRC_FALLBACK = 3, /**< mdspf_ctx_add_fallback */
  MDSPF_SRC_GUESS = 4,    /**< mdspf_ctx_set_best_guess */
  MDSPF_SRC_LOCAL = 5     /**< a local-policy mechanism matched */
};
MDSPF_API int mdspf_check_source(const mdspf_check *chk);
/** DNS-interactive terms evaluated (include, a, mx, ptr, exists,
 *  redirect), void lookups counted, and DNS queries the evaluation asked
 *  (those answered by a lookup made ahead included: the same whatever
 *  MDSPF_LIMIT_LOOKAHEAD).  0 for NULL. */
MDSPF_API unsigned mdspf_check_dns_terms(const mdspf_check *chk);
MDSPF_API unsigned mdspf_check_void_lookups(const mdspf_check *chk);
MDSPF_API unsigned mdspf_check_queries(const mdspf_check *chk);
/** Lookahead (MDSPF_LIMIT_LOOKAHEAD): queries the check started ahead of
 *  its evaluation, and how many of them the evaluation never used --
 *  their terms were not reached, the verdict came first, their memory
 *  was needed, or they were answered with a failure and asked again.
 *  The resolver was handed mdspf_check_queries() + mdspf_check_wasted()
 *  queries in all (fewer if a trace hook cancelled the check just before
 *  its last query went out).  Read them like the other counters, from
 *  the check's thread; 0 for NULL. */
MDSPF_API unsigned mdspf_check_prefetched(const mdspf_check *chk);
MDSPF_API unsigned mdspf_check_wasted(const mdspf_check *chk);
/** The most memory the check held at once while it evaluated (bytes,
 *  counted against MDSPF_LIMIT_CHECK_MEMORY). */
MDSPF_API size_t mdspf_check_memory_peak(const mdspf_check *chk);
/** Memory the context's checks hold now, and (*peak, if non-NULL) the
 *  most they held at once (bytes, counted against
 *  MDSPF_LIMIT_CONTEXT_MEMORY); 0 for NULL. */
MDSPF_API size_t mdspf_ctx_memory(const mdspf_ctx *ctx, size_t *peak);

/* ======================================================================
 * Headers for the verdict (RFC 7208 section 9.1, RFC 8601)
 * ==================================================================== */

/**
 * The Received-SPF header field of a finished check, one line without
 * CRLF: "Received-SPF: pass (mx.example.net: domain of user@example.com
 * designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;
 * envelope-from=\"user@example.com\"; helo=mail.example.com;
 * receiver=mx.example.net; mechanism=\"ip4:192.0.2.0/24\";
 * identity=mailfrom".  receiver names this host (NULL: the context's
 * receiver, else "unknown").  Values from outside (sender, HELO,
 * mechanism, problem) are written as quoted-strings or dot-atoms as RFC
 * 5322 allows; CR, LF, other controls and non-ASCII octets never reach
 * the output (they are replaced by '?'), so a hostile sender or HELO
 * cannot add a header line.  Buffer handling as mdspf_record_format;
 * MDSPF_E_STATE if the check has not finished.  The line is not folded:
 * with long senders it can exceed 998 octets, and every space the
 * library writes outside a quoted-string is a legal folding point.
 */
MDSPF_API mdspf_status mdspf_check_received_spf(const mdspf_check *chk,
                                       const char *receiver, char *buf,
                                       size_t bufsz, size_t *needed);
/**
 * The Authentication-Results header field (RFC 8601) of a finished check,
 * one line without CRLF: "Authentication-Results: mx.example.net;
 * spf=pass (reason) smtp.mailfrom=user@example.com" (smtp.helo=... for
 * the HELO identity).  authserv_id identifies this host (NULL: the
 * context's receiver, else "unknown").  Same escaping guarantees and
 * buffer handling as mdspf_check_received_spf.
 */
MDSPF_API mdspf_status mdspf_check_auth_results(const mdspf_check *chk,
                                       const char *authserv_id, char *buf,
                                       size_t bufsz, size_t *needed);

/* ======================================================================
 * Overlay resolver: answers for some names from a zone, the rest from
 * another resolver (what-if checks of unpublished records)
 * ==================================================================== */

typedef struct mdspf_overlay mdspf_overlay;

/**
 * A resolver that answers (name, type) from top when top holds records
 * of that type for name (or a fault for it), and passes every other
 * query to below.  Both must outlive the overlay.  Its wait() drives
 * both (it is NULL when below has none).  A name holding data in top
 * exists: NXDOMAIN from below for another type becomes NODATA, as a
 * server publishing the record would answer.  Publishing a record in top
 * and checking through the overlay gives exactly what the same record
 * gives once published for real.  MDSPF_E_INVAL for a bad resolver
 * version or missing query/cancel, MDSPF_E_NOMEM.
 */
MDSPF_API mdspf_status mdspf_overlay_new(mdspf_alloc_fn alloc, void *alloc_ud,
                                mdspf_zone *top, const mdspf_resolver *below,
                                mdspf_overlay **out);
/** The overlay's resolver vtable (valid as long as the overlay). */
MDSPF_API const mdspf_resolver *mdspf_overlay_resolver(mdspf_overlay *o);
/** Free the overlay: queries still in flight are withdrawn from their
 *  side and complete with MDSPF_DNS_TEMPFAIL first (their checks may call
 *  back inside this call), the references to top and below are dropped,
 *  and from then on it refuses queries; the small handle stays while
 *  contexts still hold its resolver.  Allowed at any time; inside one of
 *  its own deliveries the free happens when the delivering call returns.
 *  An overlay whose top zone was freed refuses queries.  NULL is fine. */
MDSPF_API void mdspf_overlay_free(mdspf_overlay *o);
/** 1 if the zone holds records of rrtype (0: any type) or a fault for
 *  (name, rrtype), or a CNAME at name (which answers every type), else
 *  0.  Case-insensitive; one trailing dot is ignored. */
MDSPF_API int mdspf_zone_has(const mdspf_zone *z, const char *name,
                             int rrtype);

/* ======================================================================
 * Cache resolver: answers kept for their TTL in front of another resolver
 * ==================================================================== */

/**
 * A resolver that keeps answers of another resolver ("below") for as long
 * as their TTL allows and answers repeated queries from memory.  Names
 * are compared without regard to ASCII case ("Example.COM" and
 * "example.com" share an entry); the records handed out are byte-exact
 * copies of what below answered.  The key is (name, type): an NXDOMAIN
 * is kept for the type it was asked for only.
 *
 * What is kept, and for how long (TTLs come from mdspf_dns_set_ttl):
 *   - OK: the smallest TTL of the answer, at most max_ttl.  Unknown TTL
 *     (a backend that does not report one) or 0: not kept.
 *   - NODATA, NXDOMAIN: the RFC 2308 TTL (min of SOA TTL and SOA
 *     MINIMUM), at most max_neg_ttl.  Without a SOA (TTL unknown):
 *     nosoa_ttl, by default 0 = not kept.
 *   - TEMPFAIL (SERVFAIL, timeouts): fail_ttl seconds, by default 0 =
 *     not kept, at most MDSPF_CACHE_MAX_FAIL_TTL: a transient failure
 *     must never become a long temperror.
 *   - ERROR, truncated or oversized answers (the MDSPF_MAX_ANSWER_*
 *     caps), answers whose entry would exceed a quarter of max_bytes, and
 *     answers that arrive incomplete for lack of memory: never kept.
 * A hit passes the remaining lifetime on (mdspf_dns_set_ttl), so caches
 * can be stacked.
 *
 * Memory is bounded: at most max_entries answers and max_bytes of
 * answer data plus bookkeeping; past either bound the least recently
 * used answers are dropped (an expired one counts as expired, any other
 * as evicted).  Expired answers are dropped when met.
 *
 * Identical queries in flight are coalesced: while below works on (name,
 * type), further queries for it wait for that one answer and each gets
 * its own copy.  Cancelling a waiter cancels nothing else.  When the last
 * waiter of an upstream query is cancelled, the upstream query goes on
 * and its answer is kept as any other (a lookup made ahead and given up
 * at the verdict is then not sent again by the next check), up to 256
 * such queries at once; past that, it is cancelled at below with its
 * last waiter.  Such queries count in inflight and keep below's wait()
 * busy (mdspf_cares_pending) until they end or the cache is freed.
 *
 * Answers from the cache are delivered inline, inside query(); the
 * others when below delivers them.  wait() is below's (NULL when below
 * has none).
 *
 * Threads: the cache, below and the contexts using them form one unit,
 * used by one thread at a time.  No global state: two caches share
 * nothing.
 */
typedef struct mdspf_cache mdspf_cache;

/** A clock for the cache: milliseconds from any origin, never going
 *  back.  Called from inside the cache's calls only. */
typedef int64_t (*mdspf_clock_fn)(void *ud);

/** Longest fail_ttl accepted, in seconds. */
#define MDSPF_CACHE_MAX_FAIL_TTL 10

/**
 * Options.  Fill with mdspf_cache_options_init() and change what you
 * need; the library reads only struct_size bytes, so fields are only
 * ever appended (a caller whose struct ends before a field gets its
 * default).
 */
typedef struct mdspf_cache_options {
  size_t struct_size;   /**< sizeof(mdspf_cache_options) */
  mdspf_alloc_fn alloc; /**< NULL: libc; fixed at creation */
  void *alloc_ud;
  size_t max_entries; /**< answers kept at most [10000], >= 1 */
  size_t max_bytes;   /**< their memory at most [8 MiB], >= 4096 */
  uint32_t max_ttl;     /**< cap of positive TTLs, s [3600] */
  uint32_t max_neg_ttl; /**< cap of negative TTLs, s [3600] */
  uint32_t nosoa_ttl;   /**< negative answer without SOA, s [0] */
  uint32_t fail_ttl;    /**< TEMPFAIL, s [0], <= MDSPF_CACHE_MAX_FAIL_TTL */
  /** The clock (NULL: the monotonic clock), e.g. a test's; fixed at
   *  creation. */
  mdspf_clock_fn now;
  void *now_ud;
} mdspf_cache_options;

/** Defaults: struct_size set, everything else as documented above. */
MDSPF_API void mdspf_cache_options_init(mdspf_cache_options *opt);

/**
 * Create a cache in front of below (the vtable is copied; a V2 resolver
 * is referenced, a V1 one must outlive the cache).  opt may be NULL (all
 * defaults).  MDSPF_E_INVAL for a bad resolver (unknown version, missing
 * query or cancel), out NULL, or a bad option (struct_size smaller than
 * the first published struct, max_entries 0, max_bytes below 4096,
 * fail_ttl over MDSPF_CACHE_MAX_FAIL_TTL); MDSPF_E_NOMEM.  If below is
 * freed first, its queries in flight complete with TEMPFAIL (as its
 * teardown rule says) and new misses fail; kept answers are still
 * served.
 */
MDSPF_API mdspf_status mdspf_cache_new(const mdspf_resolver *below,
                                       const mdspf_cache_options *opt,
                                       mdspf_cache **out);
/** The cache's resolver vtable (a V2 resolver; valid as long as the
 *  handle, see mdspf_cache_free). */
MDSPF_API const mdspf_resolver *mdspf_cache_resolver(mdspf_cache *c);
/**
 * Change the bounds and the TTL policy (every field but struct_size,
 * alloc, alloc_ud, now and now_ud, which are ignored), with the same
 * checks as mdspf_cache_new.  Allowed at any time, also with queries in
 * flight and inside any callback.  Smaller bounds drop least recently
 * used answers at once; the new TTL caps apply to answers kept from now
 * on.  MDSPF_E_INVAL (nothing changed), MDSPF_E_STATE once freed.
 */
MDSPF_API mdspf_status mdspf_cache_set_options(mdspf_cache *c,
                                               const mdspf_cache_options *opt);
/** Drop every kept answer (queries in flight go on; not counted as
 *  expired or evicted).  Allowed at any time, also inside any callback.
 *  NULL is fine. */
MDSPF_API void mdspf_cache_flush(mdspf_cache *c);

/** Counters since creation (the first five) and the current state. */
typedef struct mdspf_cache_counters {
  size_t struct_size; /**< set by the caller: sizeof(mdspf_cache_counters) */
  uint64_t hits;      /**< queries answered from a kept answer */
  uint64_t misses;    /**< queries sent to below (one upstream query each) */
  uint64_t coalesced; /**< queries that joined an upstream query in flight */
  uint64_t expired;   /**< kept answers dropped because their TTL ran out */
  uint64_t evicted;   /**< kept answers dropped to stay within the bounds */
  uint64_t stored;    /**< answers kept */
  uint64_t entries;   /**< answers kept now */
  uint64_t bytes;     /**< their memory now (data and bookkeeping) */
  uint64_t inflight;  /**< upstream queries in flight now */
} mdspf_cache_counters;

/**
 * Fill *out (its first out->struct_size bytes, which must cover at least
 * up to inflight) with the counters.  Every query the cache accepted is
 * exactly one of a hit, a miss or a coalesced query.  Allowed at any
 * time until mdspf_cache_free, also inside callbacks.  MDSPF_E_INVAL for
 * NULL or a struct_size too small.
 */
MDSPF_API mdspf_status mdspf_cache_stats(const mdspf_cache *c,
                                         mdspf_cache_counters *out);
/**
 * Free the cache.  Queries in flight are cancelled at below and every
 * waiter completes with MDSPF_DNS_TEMPFAIL first (their checks may call
 * back inside this call), the kept answers go, the reference to below is
 * dropped and from then on the cache refuses queries; the small handle
 * stays while contexts still hold its resolver.  Allowed at any time;
 * inside one of its own deliveries the free happens when the delivering
 * call returns.  NULL is fine.
 */
MDSPF_API void mdspf_cache_free(mdspf_cache *c);

/* ======================================================================
 * Lint: what a mail administrator needs to know about a record
 * ==================================================================== */

/**
 * One-line description of what term i of rec matches, e.g.
 * "192.0.2.0 - 192.0.2.255 (256 addresses)" or "the addresses of the
 * mail exchangers of example.com, IPv4 /24".  Plain ASCII.  Buffer
 * handling as mdspf_record_format; MDSPF_E_INVAL if i is out of range.
 */
MDSPF_API mdspf_status mdspf_record_term_describe(const mdspf_record *rec, size_t i,
                                         char *buf, size_t bufsz,
                                         size_t *needed);

typedef struct mdspf_lint mdspf_lint;

/** Severity of a diagnostic. */
enum { MDSPF_SEV_INFO = 0, MDSPF_SEV_WARNING = 1, MDSPF_SEV_ERROR = 2 };

/** Diagnostic codes (append-only). */
enum {
  MDSPF_LINT_SYNTAX = 1,            /**< E: syntax error (with position) */
  MDSPF_LINT_NO_RECORD = 2,         /**< E: the domain publishes no record */
  MDSPF_LINT_MULTIPLE_RECORDS = 3,  /**< E: more than one SPF record */
  MDSPF_LINT_DNS_ERROR = 4,         /**< E: a lookup failed (temperror) */
  MDSPF_LINT_TOO_MANY_LOOKUPS = 5,  /**< E: > 10 DNS-querying terms */
  MDSPF_LINT_VOID_LOOKUPS = 6,      /**< W/E: targets that do not exist */
  MDSPF_LINT_TOO_MANY_MX = 7,       /**< E: an MX set of more than 10 */
  MDSPF_LINT_TOO_MANY_PTR = 8,      /**< W: ptr with > 10 names is random */
  MDSPF_LINT_PASS_ALL = 9,          /**< E: +all lets everyone send */
  MDSPF_LINT_NEUTRAL_ALL = 10,      /**< W: ?all protects nothing */
  MDSPF_LINT_NO_ALL = 11,           /**< W: neither all nor redirect */
  MDSPF_LINT_AFTER_ALL = 12,        /**< W: terms after all never run */
  MDSPF_LINT_REDIRECT_IGNORED = 13, /**< W: redirect= with all present */
  MDSPF_LINT_PTR_DEPRECATED = 14,   /**< W: ptr (RFC 7208 5.5) */
  MDSPF_LINT_HOST_BITS = 15,        /**< W: ip4/ip6 host bits past prefix */
  MDSPF_LINT_OVERLAP = 16,          /**< I: a range inside another */
  MDSPF_LINT_DUPLICATE = 17,        /**< W: the same term twice */
  MDSPF_LINT_INCLUDE_NO_RECORD = 18, /**< E: include of a domain w/o SPF */
  MDSPF_LINT_LONG_STRING = 19,      /**< E: a TXT string over 255 octets */
  MDSPF_LINT_TOO_LARGE_UDP = 20,    /**< W: answer over 512 octets */
  MDSPF_LINT_EXP_NOWHERE = 21,      /**< W: exp= target has no usable TXT */
  MDSPF_LINT_MACRO_TARGET = 22,     /**< I: target depends on the sender */
  MDSPF_LINT_LOOP = 23              /**< E: include/redirect loop */
};
/** Short name of a lint code ("too-many-lookups"); never NULL. */
MDSPF_API const char *mdspf_lint_code_str(int code);

/**
 * Create a linter bound to ctx.  Each run takes the context's
 * configuration as it is when the run starts (resolver, limits) and
 * keeps it until the run ends, like a check.  A run lints either a
 * published domain or a record text as if published for domain (domain
 * may be NULL for a purely static look).  Both follow include and
 * redirect targets (without macros) recursively through DNS, count the
 * DNS-interactive lookups per subtree, look up the targets of a, mx
 * (and the addresses of the MX hosts) and exists (void lookups, MX set
 * sizes) and the exp= target, all within the time budget.  Which terms
 * count, which are void and which are never reached is decided by the
 * same table the evaluator uses.
 *
 * Like a check, a run is asynchronous (mdspf_lint_start_domain /
 * mdspf_lint_start_record: the callback runs exactly once, possibly
 * before the start call returns, unless the lint is cancelled or freed
 * first) or blocking (mdspf_lint_domain / mdspf_lint_record: drive the
 * resolver's wait() until done or timeout_ms, <= 0: the context's
 * MDSPF_LIMIT_TIMEOUT_MS).  Lookups that did not answer within the budget
 * are reported as MDSPF_LINT_DNS_ERROR diagnostics; the run itself then
 * still succeeds.  A new run discards the results of the previous one.
 *
 * mdspf_lint_new: MDSPF_E_INVAL, MDSPF_E_NOMEM, MDSPF_E_STATE (context
 * freed).  Start calls: MDSPF_E_INVAL (bad domain or arguments),
 * MDSPF_E_STATE (a run is going on), MDSPF_E_NOTSUP (a domain to look up
 * and no resolver), MDSPF_E_NOMEM.  The blocking calls additionally:
 * MDSPF_E_RECURSIVE inside any callback of the context, MDSPF_E_NOTSUP
 * when an answer is outstanding and the resolver has no wait(),
 * MDSPF_E_NOMEM when the run ran out of memory, MDSPF_E_CANCELLED when
 * the lint or its context was freed meanwhile.
 *
 * mdspf_lint_free: allowed anywhere, also inside any callback (the lint's
 * own included): a running lint is cancelled, without its callback.  The
 * handle stays valid after mdspf_ctx_free until it is freed.
 */
MDSPF_API mdspf_status mdspf_lint_new(mdspf_ctx *ctx, mdspf_lint **out);
MDSPF_API void mdspf_lint_free(mdspf_lint *l);
/** Completion of an asynchronous run; the results are readable in it
 *  and afterwards until the next run or mdspf_lint_free. */
typedef void (*mdspf_lint_cb)(mdspf_lint *l, void *user);
MDSPF_API mdspf_status mdspf_lint_start_domain(mdspf_lint *l,
                                               const char *domain,
                                               mdspf_lint_cb cb, void *user);
MDSPF_API mdspf_status mdspf_lint_start_record(mdspf_lint *l,
                                               const char *domain,
                                               const char *txt, size_t len,
                                               mdspf_lint_cb cb, void *user);
/** Stop a running lint: no callback, no results.  Allowed anywhere. */
MDSPF_API void mdspf_lint_cancel(mdspf_lint *l);
/** 1 once a run has finished (its callback may still be pending). */
MDSPF_API int mdspf_lint_done(const mdspf_lint *l);
/** How the last run ended: MDSPF_OK (results complete), MDSPF_E_NOMEM,
 *  MDSPF_E_NOTSUP, MDSPF_E_CANCELLED; MDSPF_E_STATE before the first run
 *  or while one is going on. */
MDSPF_API mdspf_status mdspf_lint_status(const mdspf_lint *l);
MDSPF_API mdspf_status mdspf_lint_domain(mdspf_lint *l, const char *domain,
                                         int timeout_ms);
MDSPF_API mdspf_status mdspf_lint_record(mdspf_lint *l, const char *domain,
                                         const char *txt, size_t len,
                                         int timeout_ms);
/**
 * Connecting client for the lints that follow (kept until changed): IPv4
 * or IPv6 text, IPv4-mapped IPv6 treated as IPv4; NULL clears it.  How
 * many PTR names a ptr mechanism or %{p} sees depends on the client:
 * with one, when a term that runs anywhere in the tree uses them, the
 * client's PTR names are looked up once (not in static mode) and more
 * than the context's MDSPF_LIMIT_PTR_NAMES are reported as
 * MDSPF_LINT_TOO_MANY_PTR on the first such term a receiver meets; a
 * failed PTR lookup is an MDSPF_LINT_DNS_ERROR there instead.
 * MDSPF_E_INVAL for a malformed address (the previous client stays),
 * MDSPF_E_STATE while a run is going on.
 */
MDSPF_API mdspf_status mdspf_lint_set_client(mdspf_lint *l, const char *ip);

/** Highest severity found, -1 when there are no diagnostics. */
MDSPF_API int mdspf_lint_worst(const mdspf_lint *l);
/** Total DNS-interactive lookups of the evaluated tree (the RFC counts
 *  include, a, mx, ptr, exists and redirect; limit 10). */
MDSPF_API unsigned mdspf_lint_lookups(const mdspf_lint *l);
/** Void lookups found among the targets that could be resolved. */
MDSPF_API unsigned mdspf_lint_void_lookups(const mdspf_lint *l);

/* Diagnostics, i = 0 .. mdspf_lint_ndiags - 1; strings live as long as
 * the linter. */
MDSPF_API size_t mdspf_lint_ndiags(const mdspf_lint *l);
MDSPF_API int mdspf_lint_diag_severity(const mdspf_lint *l, size_t i);
MDSPF_API int mdspf_lint_diag_code(const mdspf_lint *l, size_t i);
MDSPF_API const char *mdspf_lint_diag_message(const mdspf_lint *l, size_t i);
/** Node (see below) the diagnostic is about, and the byte span in that
 *  node's record text (off = len = 0 when it is about the whole node). */
MDSPF_API size_t mdspf_lint_diag_node(const mdspf_lint *l, size_t i);
MDSPF_API mdspf_status mdspf_lint_diag_span(const mdspf_lint *l, size_t i,
                                   size_t *off, size_t *len);

/* The include/redirect tree: node 0 is the linted record; each node has
 * a parent (node 0: itself), the domain, how it was reached (0 root,
 * MDSPF_TERM_INCLUDE or MDSPF_TERM_REDIRECT), its parsed record (NULL if
 * missing or broken), its raw text (NULL if none) and the lookups its
 * subtree costs (the node's own DNS terms plus its children's). */
MDSPF_API size_t mdspf_lint_nnodes(const mdspf_lint *l);
MDSPF_API size_t mdspf_lint_node_parent(const mdspf_lint *l, size_t n);
MDSPF_API int mdspf_lint_node_via(const mdspf_lint *l, size_t n);
/** Index of the include or redirect term in the parent's record that
 *  leads to node n (its span locates the diagnostics about fetching n);
 *  -1 for node 0 or an out-of-range n. */
MDSPF_API int mdspf_lint_node_term(const mdspf_lint *l, size_t n);
MDSPF_API const char *mdspf_lint_node_domain(const mdspf_lint *l, size_t n);
MDSPF_API const mdspf_record *mdspf_lint_node_record(const mdspf_lint *l,
                                                     size_t n);
/** The node's record text as fetched (or given), printable: each octet
 *  that is not printable ASCII is shown as '?', one for one, so the
 *  diagnostics' spans point into it. */
MDSPF_API const char *mdspf_lint_node_text(const mdspf_lint *l, size_t n);
MDSPF_API unsigned mdspf_lint_node_lookups(const mdspf_lint *l, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* MAILDROP_SPF_H */

/*
 * lib/internal.h -- private declarations shared by the library modules.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Nothing here is public API.  All functions use the mdspf__ prefix and
 * are hidden by -fvisibility=hidden; the static library exposes them to
 * the unit tests.
 */
#ifndef MDSPF_INTERNAL_H
#define MDSPF_INTERNAL_H

#include <maildrop-spf/spf.h>

#include <stddef.h>
#include <stdint.h>

/* ---- allocation ------------------------------------------------------ */

typedef struct mdspf__allocator {
  mdspf_alloc_fn fn; /* never NULL after mdspf__allocator_init */
  void *ud;
} mdspf__allocator;

/* fn == NULL selects the libc allocator. */
void mdspf__allocator_init(mdspf__allocator *a, mdspf_alloc_fn fn, void *ud);
/* Zeroed block of n bytes (n > 0); NULL on failure. */
void *mdspf__alloc(const mdspf__allocator *a, size_t n);
/* Zeroed array of n elements of size sz, overflow-checked. */
void *mdspf__alloc_array(const mdspf__allocator *a, size_t n, size_t sz);
/* Resize; the new tail is NOT zeroed.  On failure returns NULL and the
 * old block is untouched. */
void *mdspf__realloc(const mdspf__allocator *a, void *p, size_t osize,
                     size_t nsize);
/* Free a block of exactly size bytes; p may be NULL. */
void mdspf__free(const mdspf__allocator *a, void *p, size_t size);
/* Copy n bytes of s plus a NUL; free with mdspf__strfree. */
char *mdspf__strndup(const mdspf__allocator *a, const char *s, size_t n);
char *mdspf__strdup(const mdspf__allocator *a, const char *s);
/* Free a string from mdspf__strndup/strdup (size = strlen + 1). */
void mdspf__strfree(const mdspf__allocator *a, char *s);

/* ---- bounded string sink --------------------------------------------- */

/* Writes into a caller buffer of cap bytes (cap >= 1); always keeps it
 * NUL-terminated; sets overflow and drops bytes that do not fit. */
typedef struct mdspf__sbuf {
  char *buf;
  size_t cap;
  size_t len;
  int overflow;
} mdspf__sbuf;

void mdspf__sbuf_init(mdspf__sbuf *sb, char *buf, size_t cap);
void mdspf__sbuf_put(mdspf__sbuf *sb, const char *s, size_t n);
void mdspf__sbuf_puts(mdspf__sbuf *sb, const char *s);
void mdspf__sbuf_putc(mdspf__sbuf *sb, char c);
void mdspf__sbuf_putu(mdspf__sbuf *sb, unsigned long v);

/* ---- character classes (locale independent) -------------------------- */

static inline int mdspf__is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int mdspf__is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int mdspf__is_alnum(int c) {
  return mdspf__is_alpha(c) || mdspf__is_digit(c);
}
static inline int mdspf__lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}
/* Case-insensitive comparison of n bytes (ASCII only). */
int mdspf__casecmpn(const char *a, const char *b, size_t n);

/* ---- addresses (addr.c) ------------------------------------------------ */

/* Strict dotted quad (RFC 7208 ip4-network: no leading zeros). */
int mdspf__ip4_parse(const char *s, size_t n, uint8_t out[4]);
/* RFC 4291 section 2.2 text forms, including an embedded dotted quad. */
int mdspf__ip6_parse(const char *s, size_t n, uint8_t out[16]);
/* Either; writes family 4 or 6 and the address (4 or 16 bytes).  An
 * IPv4-mapped IPv6 address is returned as family 4 when unmap != 0. */
int mdspf__ip_parse(const char *s, size_t n, int unmap, int *family,
                    uint8_t out[16]);
/* Text forms: out needs 16 (IPv4) / 46 (IPv6, RFC 5952 lower case). */
void mdspf__ip4_format(const uint8_t a[4], char out[16]);
void mdspf__ip6_format(const uint8_t a[16], char out[46]);
/* 1 if the first bits bits of a and b agree. */
int mdspf__prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits);
/* Reverse-lookup name ("4.3.2.1.in-addr.arpa" / nibbles ".ip6.arpa",
 * lower case).  out needs 74 bytes. */
void mdspf__reverse_name(int family, const uint8_t *addr, char out[74]);
/* %{i}: dotted quad, or 32 dot-separated upper-case nibbles (the form the
 * reference implementation and the openspf suite use).  out: 64 bytes. */
void mdspf__ip_macro_i(int family, const uint8_t *addr, char out[64]);

/* ---- domain names (domain.c) ------------------------------------------- */

#define MDSPF__MAX_NAME 253 /* presentation length, no trailing dot */

/* The toplabel of RFC 7208 section 7.1. */
int mdspf__toplabel_ok(const char *s, size_t n);
/* A name that a DNS query can be composed from: 1..253 octets after
 * dropping one trailing dot, labels 1..63 octets, no NUL (any other
 * octet is legal in a DNS label). */
int mdspf__name_queryable(const char *s, size_t n);
/* RFC 7208 4.3 initial processing: queryable, at least two labels and a
 * valid toplabel (so "[1.2.3.4]", "localhost", "a..b" are refused). */
int mdspf__domain_fqdn_ok(const char *s, size_t n);
/* Case-insensitive equality ignoring one trailing dot on either side. */
int mdspf__domain_eq(const char *a, size_t an, const char *b, size_t bn);
/* 1 if name equals parent or is a subdomain of it (case-insensitive,
 * trailing dots ignored). */
int mdspf__domain_under(const char *name, size_t nn, const char *parent,
                        size_t pn);
/* Copy into out (outsz bytes) lower-cased without a trailing dot;
 * returns the length, or (size_t)-1 if it does not fit. */
size_t mdspf__domain_norm(char *out, size_t outsz, const char *s, size_t n);
/* RFC 7208 7.3: drop one trailing dot, then remove labels from the left
 * until at most 253 octets remain.  Works in place; returns new length
 * (0 if nothing usable remains). */
size_t mdspf__domain_truncate(char *s, size_t n);


/* ---- DNS query objects (dnsq.c) ---------------------------------------- */

enum {
  MDSPF__Q_NEW = 0,     /* created, not yet handed to a backend */
  MDSPF__Q_PENDING = 1, /* the backend owns the answer */
  MDSPF__Q_DONE = 2     /* mdspf_dns_done was called */
};

enum { MDSPF__RK_TXT = 1, MDSPF__RK_ADDR = 2, MDSPF__RK_NAME = 3 };

/* One answer record, as stored in a query (see mdspf__dnsq_next). */
typedef struct mdspf__rr {
  int kind;            /* MDSPF__RR_* */
  const uint8_t *data; /* TXT bytes, address (4/16), or name (no dot) */
  size_t len;
  int family;    /* ADDR: 4 or 6 */
  unsigned pref; /* NAME: MX preference */
} mdspf__rr;

typedef void (*mdspf__dnsq_cb)(mdspf_dns_query *q, void *ud);

struct mdspf_dns_query {
  mdspf__allocator alloc;
  mdspf__dnsq_cb on_done; /* called by mdspf_dns_done */
  void *ud;
  mdspf_dns_query *prev, *next; /* owner's list of live queries */
  mdspf_dns_query *qnext;       /* owner's completion queue */
  void *token;                  /* backend token for cancel() */
  int rrtype;
  int state;
  int status; /* mdspf_dns_status once done */
  int rcode;
  unsigned nrr;
  int too_big; /* answer exceeded the caps */
  int nomem;   /* an add_* failed to allocate */
  int queued;        /* in the context's completion queue */
  unsigned tag;      /* owner data */
  uint8_t *data;
  size_t len, cap;
  char name[MDSPF__MAX_NAME + 2];
};

/* Create a query for name (copied, normalised: no trailing dot) and type.
 * Returns NULL on allocation failure or if name is not queryable. */
mdspf_dns_query *mdspf__dnsq_new(const mdspf__allocator *a, const char *name,
                                 size_t namelen, int rrtype,
                                 mdspf__dnsq_cb on_done, void *ud);
void mdspf__dnsq_free(mdspf_dns_query *q);
/* Iterate records: *pos starts at 0; returns 1 and fills rr, or 0 at end. */
int mdspf__dnsq_next(const mdspf_dns_query *q, size_t *pos, mdspf__rr *rr);

/* ---- macros (macro.c) ----------------------------------------------------- */

enum {
  MDSPF__MS_DOMAIN = 0, /* domain-spec / modifier: no SP, no c/r/t */
  MDSPF__MS_EXPLAIN = 1 /* explain-string: SP and c/r/t allowed */
};
/* Bit for macro letter c ('a'..'z') in a letters mask. */
#define MDSPF__ML(c) (1u << ((unsigned)((c) - 'a')))

/* Validate a macro-string.  Returns an mdspf_syntax code; on error
 * err_off and err_len (relative to s) locate the offending text.  On success
 * *letters (if non-NULL) gets the mask of letters used and *ends_macro
 * (if non-NULL) whether the string ends with a macro-expand. */
int mdspf__macro_scan(const char *s, size_t n, int mode, unsigned *letters,
                      int *ends_macro, size_t *err_off, size_t *err_len);

/* Values of the macro letters for one expansion; NUL-terminated strings,
 * NULL = empty ("unknown" for p). */
typedef struct mdspf__macro_env {
  const char *s, *l, *o, *d, *i, *p, *v, *h, *c, *r, *t;
} mdspf__macro_env;

/* Expand an explain-string (or any macro-string) into out (head kept on
 * overflow).  Returns an mdspf_syntax code (validation included). */
int mdspf__macro_expand(const char *s, size_t n, int mode,
                        const mdspf__macro_env *env, mdspf__sbuf *out);
/* Expand a domain-spec into out[MDSPF__MAX_NAME + 1]: drops one trailing
 * dot and truncates from the left per RFC 7208 7.3.  Returns the length
 * (0 when nothing usable remains) or (size_t)-1 on a syntax error. */
size_t mdspf__macro_expand_domain(const char *s, size_t n,
                                  const mdspf__macro_env *env,
                                  char out[MDSPF__MAX_NAME + 1]);

/* ---- compiled records (record.c) ------------------------------------------ */

enum {
  MDSPF__TF_MACROS = 1, /* value contains macro-expands */
  MDSPF__TF_NEEDS_P = 2 /* value uses %{p} */
};

#define MDSPF__NO_STR UINT32_MAX

typedef struct mdspf__term {
  uint8_t kind;      /* mdspf_term_kind */
  uint8_t qual;      /* mdspf_result of a match (mechanisms) */
  uint8_t qual_char; /* as written, 0 if none */
  uint8_t flags;     /* MDSPF__TF_* */
  int16_t cidr4;     /* -1: not given */
  int16_t cidr6;
  uint32_t off, len; /* span in the record text */
  uint32_t name;     /* pool offset of the name as written */
  uint32_t value;    /* pool offset of the value, MDSPF__NO_STR if none */
  uint32_t value_len;
  uint8_t addr[16]; /* ip4 (first 4 bytes) / ip6 */
} mdspf__term;

struct mdspf_record {
  mdspf__allocator alloc;
  size_t size; /* bytes of the single allocation */
  uint32_t nterms;
  uint32_t text_len;
  int32_t redirect; /* term index or -1 */
  int32_t exp;      /* term index or -1 */
  mdspf__term *terms;
  char *pool; /* text copy (NUL-terminated) first, then term strings */
};

/* Value string (NUL-terminated) of a term, "" if none. */
static inline const char *mdspf__term_value(const mdspf_record *r,
                                            const mdspf__term *t) {
  return t->value == MDSPF__NO_STR ? "" : r->pool + t->value;
}

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

/* ---- context and checks (check.c, eval.c) ------------------------------------ */

#define MDSPF__NLIMITS 6

typedef struct mdspf__override {
  char *domain; /* normalised */
  const mdspf_record *rec;
  int owned; /* rec was parsed by the context (else borrowed) */
  int kind;  /* MDSPF_SRC_OVERRIDE or MDSPF_SRC_FALLBACK */
} mdspf__override;

struct mdspf_ctx {
  mdspf__allocator alloc;
  mdspf_resolver res;
  int has_res;
  long limits[MDSPF__NLIMITS];
  char *receiver;
  char *default_exp;
  mdspf_record *local; /* "v=spf1 " + local policy mechanisms */
  mdspf_record *guess;
  mdspf__override *ovr;
  size_t novr, ovr_cap;
  mdspf_trace_fn trace;
  void *trace_ud;
  /* engine */
  mdspf_dns_query *dq_head, *dq_tail; /* completions to process */
  int depth;                          /* engine nesting */
  int in_callback;
  int free_pending;
  mdspf_check *checks; /* every check of this context */
  /* running checks in start order: deadlines never decrease along the
   * list (the budget cannot change while checks run), so the head holds
   * the earliest one */
  mdspf_check *run_head, *run_tail;
  mdspf_timer_fn timer;
  void *timer_ud;
  long timer_armed; /* deadline last reported, -1 none */
};

enum {
  MDSPF__CS_NEW = 0,
  MDSPF__CS_RUNNING = 1,
  MDSPF__CS_DONE = 2,
  MDSPF__CS_CANCELLED = 3
};

/* One record being evaluated (the checked domain's, or an include's). */
typedef struct mdspf__frame {
  const mdspf_record *rec; /* NULL while its TXT lookup is pending */
  int own;           /* rec is owned by the frame */
  int source;        /* MDSPF_SRC_* */
  int top;           /* checked domain (or its redirect target) */
  int redirected;    /* reached through redirect= */
  uint32_t next;     /* next term to evaluate */
  int inc_state;     /* 0 idle, 1 child running, 2 child returned */
  int inc_result;
  mdspf_dns_query *fq; /* TXT lookup of this frame's record */
  char domain[MDSPF__MAX_NAME + 1];
} mdspf__frame;

/* State of the term being evaluated. */
typedef struct mdspf__op {
  int counted;  /* DNS term counted */
  int expanded; /* target computed */
  int invalid;  /* target is not a queryable name */
  char target[MDSPF__MAX_NAME + 1];
  size_t target_len;
  mdspf_dns_query *q; /* primary query */
  /* mx */
  int mx_started;
  unsigned mx_n, mx_next;
  char (*mx_names)[MDSPF__MAX_NAME + 1];
  mdspf_dns_query **mx_q;
} mdspf__op;

enum { MDSPF__V_UNKNOWN = 0, MDSPF__V_PENDING, MDSPF__V_VALID, MDSPF__V_INVALID };

/* The PTR names of the client and their validation, shared by "ptr"
 * mechanisms and %{p} within one check. */
typedef struct mdspf__ptrcache {
  int state; /* 0 none, 1 pending, 2 done */
  int failed;   /* DNS error: no names */
  int void_ans; /* NXDOMAIN / NODATA */
  mdspf_dns_query *q;
  unsigned n;
  char (*names)[MDSPF__MAX_NAME + 1];
  int *vstate;
  mdspf_dns_query **vq;
} mdspf__ptrcache;

enum {
  MDSPF__PH_FETCH = 1, /* waiting for the top frame's record */
  MDSPF__PH_TERMS = 2, /* evaluating terms */
  MDSPF__PH_EXP = 3    /* computing the explanation */
};

struct mdspf_check {
  mdspf_ctx *ctx;
  mdspf_check *prev, *next;
  /* inputs */
  int family;
  uint8_t ip[16];
  int have_ip;
  char *sender;
  char *helo;
  int identity;
  /* derived at start */
  int id_used;
  char *m_s, *m_l; /* %{s} and %{l} */
  char m_o[MDSPF__MAX_NAME + 1];
  char m_i[64], m_c[48], m_t[24];
  /* time budget */
  long deadline; /* monotonic ms */
  mdspf_check *rprev, *rnext;
  int on_run_list;
  /* trace hook, taken from the context at creation */
  mdspf_trace_fn trace;
  void *trace_ud;
  /* callback */
  mdspf_check_cb cb;
  void *user;
  int state;
  int in_cb, in_run, free_req, notified;
  /* engine */
  int ph;
  mdspf__frame *frames;
  size_t nframes, frames_cap;
  mdspf__op op;
  mdspf__ptrcache ptr;
  int local_done, local_active;
  uint32_t local_next;
  mdspf_dns_query *live; /* queries not yet released */
  /* exp */
  int exp_stage;
  mdspf_dns_query *exp_q;
  char *exp_text; /* explain-string to expand */
  /* counters */
  unsigned dns_terms, voids, queries;
  /* outcome */
  int result, reason, source;
  char *problem, *explanation, *mechanism, *out_domain;
  char *out_record; /* may hold NUL bytes: freed by out_record_len */
  size_t out_record_len;
  int syn_code;
  size_t syn_off, syn_len;
  int has_syn;
  int oom; /* an outcome string could not be allocated */
};

/* eval.c */
void mdspf__eval_start(mdspf_check *chk);
void mdspf__eval_run(mdspf_check *chk);
void mdspf__eval_finish(mdspf_check *chk, int result, int reason,
                        const char *problem);
void mdspf__eval_release_all(mdspf_check *chk);
void mdspf__eval_free_state(mdspf_check *chk);
/* check.c */
void mdspf__engine_enter(mdspf_ctx *ctx);
void mdspf__engine_leave(mdspf_ctx *ctx);
void mdspf__check_notify(mdspf_check *chk);
void mdspf__check_stopped(mdspf_check *chk);
long mdspf__now_ms(void);
/* trace.c */
void mdspf__emit(mdspf_check *chk, int type, int depth, const char *domain,
                 const char *text, int result, int rrtype, int dns_status,
                 unsigned count);

#endif /* MDSPF_INTERNAL_H */

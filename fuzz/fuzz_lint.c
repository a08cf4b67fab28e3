/*
 * fuzz/fuzz_lint.c -- the record linter over a fuzzed zone and record.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Input layout:
 *   byte 0  bit 0: lint the record of line 1 (else the published record
 *           of example.com); bit 1: as if published at example.com
 *           (else statically, no DNS); bit 2: a client address (line 2)
 *           for the PTR-name count; bits 3-4: deferred delivery, 0 none,
 *           1 FIFO, 2 LIFO, 3 both (compared with inline); bit 5: limits
 *           from byte 1; bit 6: one more run with an allocation failure
 *   byte 1  limit of DNS terms (1 + b % 20) and of void lookups (b % 3)
 *   byte 2  which allocation fails in the failure run
 *   then '\n'-separated lines: the record text, the client address; the
 *   rest is a master file (origin example.com.), in which "!hang NAME"
 *   and "!servfail NAME" lines are faults.
 *
 * Invariants: the run ends MDSPF_OK (MDSPF_E_NOMEM only when an
 * allocation failed); the lookup count equals node 0's subtree count,
 * and every node's count is at least the sum of its children's; node 0
 * is its own parent and every other node's parent comes before it (pre-
 * order); an include/redirect node names a term of its parent of that
 * kind; every diagnostic belongs to a node, has a known code and
 * severity, a printable one-line message, and a span inside its node's
 * record text; the worst severity is the maximum of the diagnostics';
 * deferred delivery (FIFO, LIFO) gives exactly the inline results; no
 * leak, every free with its exact size.
 */
#include "fuzz_common.h"

#include <maildrop-spf/spf.h>

#define ORIGIN "example.com."
#define TIMEOUT_MS 20 /* only hung lookups wait */

typedef struct spec {
  unsigned flags;
  long terms, voids;
  unsigned fail_at;
  char *record;
  size_t record_len;
  char *client;
  char *zone;
  size_t zone_len;
} spec;

/* One line of [*p, end): NUL-terminated copy (malloc), *p moves past. */
static char *take_line(const uint8_t **p, const uint8_t *end, size_t *len) {
  const uint8_t *s = *p, *nl = s;
  char *out;
  while (nl < end && *nl != '\n') {
    nl++;
  }
  *len = (size_t)(nl - s);
  out = malloc(*len + 1);
  FUZZ_CHECK(out != NULL);
  memcpy(out, s, *len);
  out[*len] = '\0';
  *p = nl < end ? nl + 1 : nl;
  return out;
}

static void spec_free(spec *sp) {
  free(sp->record);
  free(sp->client);
  free(sp->zone);
}

/* Apply "!hang NAME" / "!servfail NAME" lines and blank them. */
static void faults(mdspf_zone *z, char *text, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t e = i;
    while (e < len && text[e] != '\n') {
      e++;
    }
    if (text[i] == '!') {
      char line[300];
      size_t n = e - i < sizeof line - 1 ? e - i : sizeof line - 1;
      int fault = 0;
      const char *name = NULL;
      memcpy(line, text + i, n);
      line[n] = '\0';
      if (strncmp(line, "!hang ", 6) == 0) {
        fault = MDSPF_ZONE_HANG;
        name = line + 6;
      } else if (strncmp(line, "!servfail ", 10) == 0) {
        fault = MDSPF_ZONE_SERVFAIL;
        name = line + 10;
      }
      if (name) {
        (void)mdspf_zone_set_fault(z, name, 0, fault);
      }
      memset(text + i, ' ', e - i);
      text[i] = ';';
    }
    i = e + 1;
  }
}

typedef struct summary {
  int rc;
  unsigned lookups, voids;
  size_t ndiags, nnodes;
  int worst;
  unsigned long sig; /* a hash of codes, nodes and spans */
} summary;

static int printable(const char *s) {
  for (; *s; s++) {
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
      return 0;
    }
  }
  return 1;
}

/* The invariants of a finished lint, and its summary. */
static summary inspect(const mdspf_lint *l) {
  summary s;
  size_t i, n;
  int worst = -1;
  memset(&s, 0, sizeof s);
  s.lookups = mdspf_lint_lookups(l);
  s.voids = mdspf_lint_void_lookups(l);
  s.nnodes = mdspf_lint_nnodes(l);
  s.ndiags = mdspf_lint_ndiags(l);
  s.worst = mdspf_lint_worst(l);
  FUZZ_CHECK(s.nnodes >= 1);
  FUZZ_CHECK(mdspf_lint_node_parent(l, 0) == 0);
  FUZZ_CHECK(mdspf_lint_node_via(l, 0) == 0);
  FUZZ_CHECK(mdspf_lint_node_term(l, 0) == -1);
  FUZZ_CHECK(s.lookups == mdspf_lint_node_lookups(l, 0));
  for (n = 0; n < s.nnodes; n++) {
    unsigned children = 0;
    size_t c;
    const mdspf_record *rec = mdspf_lint_node_record(l, n);
    const char *text = mdspf_lint_node_text(l, n);
    if (rec) {
      FUZZ_CHECK(text != NULL);
    }
    for (c = n + 1; c < s.nnodes; c++) {
      if (mdspf_lint_node_parent(l, c) == n) {
        children += mdspf_lint_node_lookups(l, c);
      }
    }
    FUZZ_CHECK(mdspf_lint_node_lookups(l, n) >= children);
    if (n > 0) {
      size_t p = mdspf_lint_node_parent(l, n);
      int via = mdspf_lint_node_via(l, n), term = mdspf_lint_node_term(l, n);
      const mdspf_record *prec = mdspf_lint_node_record(l, p);
      FUZZ_CHECK(p < n);
      FUZZ_CHECK(via == MDSPF_TERM_INCLUDE || via == MDSPF_TERM_REDIRECT);
      FUZZ_CHECK(prec != NULL && term >= 0);
      FUZZ_CHECK(mdspf_record_term_kind(prec, (size_t)term) == via);
      FUZZ_CHECK(mdspf_lint_node_domain(l, n) != NULL);
    }
  }
  for (i = 0; i < s.ndiags; i++) {
    size_t node = mdspf_lint_diag_node(l, i), off = 0, len = 0;
    int sev = mdspf_lint_diag_severity(l, i), code = mdspf_lint_diag_code(l, i);
    const char *msg = mdspf_lint_diag_message(l, i);
    const char *text;
    FUZZ_CHECK(node < s.nnodes);
    FUZZ_CHECK(sev >= MDSPF_SEV_INFO && sev <= MDSPF_SEV_ERROR);
    FUZZ_CHECK(code >= MDSPF_LINT_SYNTAX && code <= MDSPF_LINT_LOOP);
    FUZZ_CHECK(strcmp(mdspf_lint_code_str(code), "unknown") != 0);
    FUZZ_CHECK(msg != NULL && printable(msg));
    FUZZ_CHECK(mdspf_lint_diag_span(l, i, &off, &len) == MDSPF_OK);
    text = mdspf_lint_node_text(l, node);
    if (len > 0) {
      FUZZ_CHECK(text != NULL);
    }
    if (text) {
      /* printable, so strlen is its length; a span may end at the end
       * (an error "at the end of the record") */
      size_t tl = strlen(text);
      FUZZ_CHECK(printable(text));
      FUZZ_CHECK(off <= tl && len <= tl - off);
    }
    if (sev > worst) {
      worst = sev;
    }
    s.sig = s.sig * 31u + (unsigned long)code * 7u + node * 131u + off;
  }
  /* diagnostics past the per-code cap are not listed but still count */
  FUZZ_CHECK(worst <= s.worst);
  FUZZ_CHECK(s.ndiags > 0 || s.worst == -1);
  return s;
}

/* One lint; fail_at 0: no allocation failure. */
static summary run(const spec *sp, int delivery, unsigned long fail_at,
                   int *failed) {
  fuzz_alloc fa;
  mdspf_zone *z = NULL;
  mdspf_ctx *ctx = NULL;
  mdspf_lint *l = NULL;
  summary s;
  char err[128];
  char *text;
  memset(&s, 0, sizeof s);
  *failed = 0;
  text = malloc(sp->zone_len + 1);
  FUZZ_CHECK(text != NULL);
  memcpy(text, sp->zone, sp->zone_len);
  text[sp->zone_len] = '\0';
  if (mdspf_zone_new(NULL, NULL, &z) != MDSPF_OK) {
    free(text);
    s.rc = -100;
    return s;
  }
  faults(z, text, sp->zone_len);
  (void)mdspf_zone_load(z, text, sp->zone_len, ORIGIN, "fuzz", err,
                        sizeof err);
  free(text);
  (void)mdspf_zone_set_delivery(z, delivery);
  fuzz_alloc_init(&fa, 0, 0);
  FUZZ_CHECK(mdspf_ctx_new(fuzz_alloc_fn, &fa, &ctx) == MDSPF_OK);
  FUZZ_CHECK(mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z)) == MDSPF_OK);
  if (sp->flags & 32) {
    FUZZ_CHECK(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_DNS_TERMS, sp->terms) ==
               MDSPF_OK);
    FUZZ_CHECK(mdspf_ctx_set_limit(ctx, MDSPF_LIMIT_VOID_LOOKUPS,
                                   sp->voids) == MDSPF_OK);
  }
  FUZZ_CHECK(mdspf_lint_new(ctx, &l) == MDSPF_OK);
  if (sp->flags & 4) {
    (void)mdspf_lint_set_client(l, sp->client);
  }
  if (fail_at) {
    fa.fail_at = fa.nallocs + fail_at;
  }
  if (sp->flags & 1) {
    s.rc = mdspf_lint_record(l, (sp->flags & 2) ? "example.com" : NULL,
                             sp->record, sp->record_len, TIMEOUT_MS);
  } else {
    s.rc = mdspf_lint_domain(l, "example.com", TIMEOUT_MS);
  }
  *failed = fa.nfailed > 0;
  if (s.rc == MDSPF_OK) {
    int rc = s.rc;
    s = inspect(l);
    s.rc = rc;
    FUZZ_CHECK(mdspf_lint_status(l) == MDSPF_OK);
  } else {
    /* an allocation failure, or arguments the API refuses (a record
     * over the size limit, NUL inside the text is fine) */
    FUZZ_CHECK(s.rc == MDSPF_E_NOMEM || s.rc == MDSPF_E_INVAL);
    FUZZ_CHECK(s.rc != MDSPF_E_NOMEM || fa.nfailed > 0);
  }
  mdspf_lint_free(l);
  mdspf_ctx_free(ctx);
  FUZZ_CHECK(fa.outstanding == 0);
  mdspf_zone_free(z);
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  spec sp;
  const uint8_t *p, *end = data + size;
  summary base, other;
  int failed, d;
  size_t n;
  if (size < 3 || size > 16384) {
    return 0;
  }
  memset(&sp, 0, sizeof sp);
  sp.flags = data[0];
  sp.terms = 1 + data[1] % 20;
  sp.voids = data[1] % 3;
  sp.fail_at = data[2];
  p = data + 3;
  sp.record = take_line(&p, end, &sp.record_len);
  sp.client = take_line(&p, end, &n);
  sp.zone_len = (size_t)(end - p);
  sp.zone = malloc(sp.zone_len + 1);
  FUZZ_CHECK(sp.zone != NULL);
  memcpy(sp.zone, p, sp.zone_len);

  base = run(&sp, MDSPF_ZONE_INLINE, 0, &failed);
  FUZZ_CHECK(base.rc == MDSPF_OK || base.rc == MDSPF_E_INVAL);
  for (d = 1; d <= 2; d++) {
    if (!((sp.flags >> 3) & (unsigned)d)) {
      continue;
    }
    other = run(&sp, d == 1 ? MDSPF_ZONE_DEFERRED_FIFO
                            : MDSPF_ZONE_DEFERRED_LIFO,
                0, &failed);
    FUZZ_CHECK(other.rc == base.rc);
    FUZZ_CHECK(other.lookups == base.lookups);
    FUZZ_CHECK(other.voids == base.voids);
    FUZZ_CHECK(other.nnodes == base.nnodes);
    FUZZ_CHECK(other.ndiags == base.ndiags);
    FUZZ_CHECK(other.worst == base.worst);
    FUZZ_CHECK(other.sig == base.sig);
  }
  if ((sp.flags & 64) && sp.fail_at) {
    (void)run(&sp, MDSPF_ZONE_DEFERRED_FIFO, sp.fail_at, &failed);
  }
  spec_free(&sp);
  return 0;
}

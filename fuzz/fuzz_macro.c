/*
 * fuzz/fuzz_macro.c -- RFC 7208 section 7 macro validation and expansion
 * (lib/core/macro.c, the libspf2 CVE area) with fuzzed request values.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Input layout:
 *   byte 0      flags: bit 0 explain mode (else domain mode), bit 1 IPv6,
 *               bits 2-4 size of the small output buffer (1 + 7 * k),
 *               bit 5 %{p} unset ("unknown"), bit 6 %{r} unset
 *   bytes 1-16  client address (4 or 16 bytes used)
 *   then NUL-separated fields: local part, sender domain (%{o}), current
 *   domain (%{d}), HELO (%{h}), validated PTR name (%{p}), receiver
 *   (%{r}); the rest of the input (NULs allowed) is the macro string.
 *
 * Invariants:
 *   - mdspf__macro_scan and mdspf__macro_expand agree on the syntax
 *     result, and on the error code when there is one, whatever the size
 *     of the output buffer ("validation included", internal.h);
 *   - the explain output is NUL-terminated within the buffer, its length
 *     is sb.len, and the small buffer holds a prefix of the large one;
 *   - mdspf__macro_expand_domain fails exactly when the string is not a
 *     valid domain-mode macro-string; otherwise its result is <= 253
 *     octets, NUL-terminated at the returned length, never ends with '.',
 *     and (when the untruncated expansion does not end in "..") equals
 *     the RFC 7208 7.3 truncation of that expansion computed here;
 *   - expansion is deterministic.
 */
#include "fuzz_common.h"

#include "core/macro.h"
#include "core/addr.h"
#include "util/strbuf.h"

#define BIG_CAP 16384u

typedef struct fields {
  char *l, *o, *d, *h, *p, *r, *s;
  char i[64], c[48], t[24];
} fields;

static char *take(fuzz_in *in) {
  size_t n;
  const uint8_t *f = fuzz_field(in, 0, &n);
  return fuzz_strndup(f, n);
}

/* Explain-mode (head-keeping) expansion into an exact-size heap buffer of
 * cap bytes; checks the sink's promises and returns the syntax code. */
static int expand_head(const char *s, size_t n, int mode,
                       const mdspf__macro_env *env, size_t cap, char **out,
                       size_t *outlen, int *overflow) {
  char *buf = malloc(cap);
  mdspf__sbuf sb;
  int rc;
  FUZZ_CHECK(buf != NULL);
  memset(buf, 0x5a, cap);
  mdspf__sbuf_init(&sb, buf, cap);
  rc = mdspf__macro_expand(s, n, mode, env, &sb);
  FUZZ_CHECK(rc >= MDSPF_SYN_OK && rc <= MDSPF_SYN_TOO_MANY_TERMS);
  FUZZ_CHECK(sb.buf == buf && sb.cap == cap);
  FUZZ_CHECK(sb.len < cap);
  FUZZ_CHECK(memchr(buf, '\0', cap) != NULL);
  FUZZ_CHECK(buf[sb.len] == '\0');
  FUZZ_CHECK(strlen(buf) == sb.len);
  *out = buf;
  *outlen = sb.len;
  *overflow = sb.overflow;
  return rc;
}

/* RFC 7208 7.3 on the untruncated expansion: drop one trailing dot, then
 * labels from the left until at most 253 octets remain. */
static size_t reference_truncate(const char *raw, size_t n, size_t *start) {
  size_t st = 0;
  if (n > 0 && raw[n - 1] == '.') {
    n--;
  }
  while (n - st > 253) {
    const char *dot = memchr(raw + st, '.', n - st);
    if (!dot) {
      *start = 0;
      return 0;
    }
    st = (size_t)(dot - raw) + 1;
  }
  *start = st;
  return n - st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size};
  unsigned flags = fuzz_byte(&in);
  int mode = (flags & 1u) ? MDSPF__MS_EXPLAIN : MDSPF__MS_DOMAIN;
  int family = (flags & 2u) ? 6 : 4;
  size_t small_cap = 1 + 7 * ((flags >> 2) & 7u);
  uint8_t ip[16];
  fields f;
  mdspf__macro_env env;
  const char *ms;
  size_t msn, i;
  unsigned letters = 0;
  int ends = -1, rc_scan, rc_dscan, rc_big, rc_small, ov_big, ov_small;
  size_t eo = (size_t)-1, el = (size_t)-1;
  char *big, *small, *again;
  size_t big_len, small_len, again_len;
  int ov_again;
  char dom[MDSPF__MAX_NAME + 1], dom2[MDSPF__MAX_NAME + 1];
  size_t dn, dn2;

  memset(ip, 0, sizeof ip);
  for (i = 0; i < 16; i++) {
    ip[i] = (uint8_t)fuzz_byte(&in);
  }
  memset(&f, 0, sizeof f);
  f.l = take(&in);
  f.o = take(&in);
  f.d = take(&in);
  f.h = take(&in);
  f.p = take(&in);
  f.r = take(&in);
  ms = (const char *)in.p;
  msn = in.n;
  {
    size_t ll = strlen(f.l), ol = strlen(f.o);
    f.s = malloc(ll + ol + 2);
    FUZZ_CHECK(f.s != NULL);
    memcpy(f.s, f.l, ll);
    f.s[ll] = '@';
    memcpy(f.s + ll + 1, f.o, ol + 1);
  }
  mdspf__ip_macro_i(family, ip, f.i);
  if (family == 4) {
    mdspf__ip4_format(ip, f.c);
  } else {
    mdspf__ip6_format(ip, f.c);
  }
  snprintf(f.t, sizeof f.t, "%lu", 1700000000ul + (unsigned long)ip[0]);
  env.s = f.s;
  env.l = f.l;
  env.o = f.o;
  env.d = f.d;
  env.i = f.i;
  env.p = (flags & 0x20u) ? NULL : f.p;
  env.v = family == 4 ? "in-addr" : "ip6";
  env.h = f.h;
  env.c = f.c;
  env.r = (flags & 0x40u) ? NULL : f.r;
  env.t = f.t;

  /* validation */
  rc_scan = mdspf__macro_scan(ms, msn, mode, &letters, &ends, &eo, &el);
  FUZZ_CHECK(rc_scan >= MDSPF_SYN_OK && rc_scan <= MDSPF_SYN_TOO_MANY_TERMS);
  if (rc_scan == MDSPF_SYN_OK) {
    FUZZ_CHECK(ends == 0 || ends == 1);
    FUZZ_CHECK((letters & ~0x3ffffffu) == 0);
    FUZZ_CHECK(mode == MDSPF__MS_EXPLAIN ||
               (letters & (MDSPF__ML('c') | MDSPF__ML('r') | MDSPF__ML('t'))) ==
                   0);
    FUZZ_CHECK(ends == 0 || (msn >= 2 && memchr(ms, '%', msn) != NULL));
  } else {
    FUZZ_CHECK(rc_scan == MDSPF_SYN_BAD_CHAR ||
               rc_scan == MDSPF_SYN_BAD_MACRO ||
               rc_scan == MDSPF_SYN_MACRO_LETTER);
    FUZZ_CHECK(eo < msn && el <= msn - eo);
    FUZZ_CHECK(el >= 1 || eo == msn);
  }
  /* NULL out-pointers give the same answer */
  FUZZ_CHECK(mdspf__macro_scan(ms, msn, mode, NULL, NULL, NULL, NULL) ==
             rc_scan);

  /* expansion into a large and a small buffer */
  rc_big = expand_head(ms, msn, mode, &env, BIG_CAP, &big, &big_len, &ov_big);
  rc_small = expand_head(ms, msn, mode, &env, small_cap, &small, &small_len,
                         &ov_small);
  FUZZ_CHECK(rc_big == rc_scan);
  FUZZ_CHECK(rc_small == rc_scan);
  (void)ov_small;
  if (rc_scan == MDSPF_SYN_OK) {
    FUZZ_CHECK(rc_big == MDSPF_SYN_OK && rc_small == MDSPF_SYN_OK);
    /* the head is kept: the small output is a prefix of the large one */
    FUZZ_CHECK(small_len <= big_len);
    FUZZ_CHECK(memcmp(small, big, small_len) == 0);
    if (!ov_big && !ov_small) {
      FUZZ_CHECK(small_len == big_len);
    }
    if (!ov_big) {
      /* deterministic */
      FUZZ_CHECK(expand_head(ms, msn, mode, &env, BIG_CAP, &again, &again_len,
                             &ov_again) == MDSPF_SYN_OK);
      FUZZ_CHECK(!ov_again && again_len == big_len &&
                 memcmp(again, big, big_len) == 0);
      free(again);
    }
  }
  free(small);

  /* domain expansion */
  rc_dscan =
      mdspf__macro_scan(ms, msn, MDSPF__MS_DOMAIN, NULL, NULL, NULL, NULL);
  memset(dom, 0x5a, sizeof dom);
  dn = mdspf__macro_expand_domain(ms, msn, &env, dom);
  if (rc_dscan != MDSPF_SYN_OK) {
    FUZZ_CHECK(dn == (size_t)-1);
    FUZZ_CHECK(dom[0] == '\0');
  } else {
    char *raw;
    size_t raw_len, st, ref;
    int ov_raw;
    FUZZ_CHECK(dn <= MDSPF__MAX_NAME);
    FUZZ_CHECK(dom[dn] == '\0' && strlen(dom) == dn);
    /* untruncated expansion through the head-keeping path */
    FUZZ_CHECK(expand_head(ms, msn, MDSPF__MS_DOMAIN, &env, BIG_CAP, &raw,
                           &raw_len, &ov_raw) == MDSPF_SYN_OK);
    FUZZ_CHECK(dn == 0 || dom[dn - 1] != '.');
    if (!ov_raw &&
        !(raw_len >= 2 && raw[raw_len - 1] == '.' && raw[raw_len - 2] == '.')) {
      ref = reference_truncate(raw, raw_len, &st);
      if (ref != dn || memcmp(raw + st, dom, dn) != 0) {
        fprintf(stderr,
                "domain expansion: got \"%s\" (%zu), want %zu "
                "octets of \"%s\"\n",
                dom, dn, ref, raw + st);
      }
      FUZZ_CHECK(ref == dn && memcmp(raw + st, dom, dn) == 0);
    }
    free(raw);
    dn2 = mdspf__macro_expand_domain(ms, msn, &env, dom2);
    FUZZ_CHECK(dn2 == dn && memcmp(dom, dom2, dn + 1) == 0);
  }
  free(big);

  free(f.l);
  free(f.o);
  free(f.d);
  free(f.h);
  free(f.p);
  free(f.r);
  free(f.s);
  return 0;
}

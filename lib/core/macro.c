/*
 * lib/core/macro.c -- RFC 7208 section 7 macro strings: validation and
 * expansion.
 *
 * This is where libspf2 had its CVEs (buffer arithmetic on computed
 * lengths).  Here nothing is ever written through a computed length:
 * all output goes through a sink that checks every byte against its
 * capacity, transformer digits saturate instead of overflowing, and the
 * splitting of a value into parts uses a fixed table bounded by the
 * value length limits the check enforces (values longer than
 * MAX_VALUE are cut, never overrun).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/macro.h"
#include "util/chars.h"
#include "util/strbuf.h"

#include <string.h>

#define MAX_DIGITS_VALUE 1000000u /* saturation point of %{d<digits>} */
#define MAX_VALUE 2048            /* longest macro value considered */

/* One parsed macro-expand. */
typedef struct macro_item {
  int kind;         /* 0 = literal run, 1 = %{...}, 2 = %%, 3 = %_, 4 = %- */
  size_t off, len;  /* span in the source */
  int letter;       /* lower-case letter */
  int upper;        /* URL-escape the expansion */
  unsigned digits;  /* 0 = all parts */
  int reverse;
  unsigned delims;  /* bit mask over DELIMS; 0 = '.' */
} macro_item;

static const char DELIMS[] = ".-+,/_=";

static int delim_index(int c) {
  const char *p;
  if (c == '\0') {
    return -1;
  }
  p = strchr(DELIMS, c);
  return p ? (int)(p - DELIMS) : -1;
}

static int letter_ok(int c, int mode) {
  switch (c) {
  case 's':
  case 'l':
  case 'o':
  case 'd':
  case 'i':
  case 'p':
  case 'h':
  case 'v':
    return 1;
  case 'c':
  case 'r':
  case 't':
    return mode == MDSPF__MS_EXPLAIN ? 1 : 2; /* 2: letter known, not here */
  default:
    return 0;
  }
}

/* Parse the item starting at s[*pos].  Returns an mdspf_syntax code and
 * advances *pos past the item. */
static int next_item(const char *s, size_t n, size_t *pos, int mode,
                     macro_item *it, size_t *err_off, size_t *err_len) {
  size_t i = *pos;
  memset(it, 0, sizeof *it);
  it->off = i;
  if (s[i] != '%') {
    /* literal run */
    while (i < n && s[i] != '%') {
      unsigned char c = (unsigned char)s[i];
      if (!(c >= 0x21 && c <= 0x7e) && !(c == ' ' && mode == MDSPF__MS_EXPLAIN)) {
        *err_off = i;
        *err_len = 1;
        return MDSPF_SYN_BAD_CHAR;
      }
      i++;
    }
    it->kind = 0;
    it->len = i - it->off;
    *pos = i;
    return MDSPF_SYN_OK;
  }
  if (i + 1 >= n) {
    *err_off = i;
    *err_len = 1;
    return MDSPF_SYN_BAD_MACRO; /* '%' at the end */
  }
  switch (s[i + 1]) {
  case '%':
    it->kind = 2;
    break;
  case '_':
    it->kind = 3;
    break;
  case '-':
    it->kind = 4;
    break;
  case '{': {
    size_t j = i + 2;
    int lc, ok;
    if (j >= n) {
      *err_off = i;
      *err_len = n - i;
      return MDSPF_SYN_BAD_MACRO;
    }
    lc = mdspf__lower((unsigned char)s[j]);
    ok = letter_ok(lc, mode);
    if (!ok) {
      *err_off = i;
      *err_len = j + 1 - i;
      return (mdspf__is_alpha(lc)) ? MDSPF_SYN_MACRO_LETTER
                                   : MDSPF_SYN_BAD_MACRO;
    }
    if (ok == 2) {
      *err_off = i;
      *err_len = j + 1 - i;
      return MDSPF_SYN_MACRO_LETTER;
    }
    it->kind = 1;
    it->letter = lc;
    it->upper = (s[j] >= 'A' && s[j] <= 'Z');
    j++;
    if (j < n && mdspf__is_digit((unsigned char)s[j])) {
      unsigned v = 0;
      while (j < n && mdspf__is_digit((unsigned char)s[j])) {
        if (v < MAX_DIGITS_VALUE) {
          v = v * 10 + (unsigned)(s[j] - '0');
        }
        j++;
      }
      if (v == 0) {
        *err_off = i;
        *err_len = j - i;
        return MDSPF_SYN_BAD_MACRO; /* "%{d0}": must be nonzero */
      }
      it->digits = v > MAX_DIGITS_VALUE ? MAX_DIGITS_VALUE : v;
    }
    if (j < n && (s[j] == 'r' || s[j] == 'R')) {
      it->reverse = 1;
      j++;
    }
    while (j < n && s[j] != '}') {
      int d = delim_index((unsigned char)s[j]);
      if (d < 0) {
        size_t k = j;
        while (k < n && s[k] != '}' && s[k] != ' ') {
          k++;
        }
        *err_off = i;
        *err_len = (k < n && s[k] == '}') ? k + 1 - i : k - i;
        return MDSPF_SYN_BAD_MACRO;
      }
      it->delims |= 1u << d;
      j++;
    }
    if (j >= n) {
      *err_off = i;
      *err_len = n - i;
      return MDSPF_SYN_BAD_MACRO; /* unterminated */
    }
    *pos = j + 1;
    it->len = *pos - i;
    return MDSPF_SYN_OK;
  }
  default:
    *err_off = i;
    *err_len = 2;
    return MDSPF_SYN_BAD_MACRO;
  }
  *pos = i + 2;
  it->len = 2;
  return MDSPF_SYN_OK;
}

int mdspf__macro_scan(const char *s, size_t n, int mode, unsigned *letters,
                      int *ends_macro, size_t *err_off, size_t *err_len) {
  size_t pos = 0, eo = 0, el = 0;
  unsigned mask = 0;
  int last_macro = 0;
  while (pos < n) {
    macro_item it;
    int rc = next_item(s, n, &pos, mode, &it, &eo, &el);
    if (rc != MDSPF_SYN_OK) {
      if (err_off) {
        *err_off = eo;
      }
      if (err_len) {
        *err_len = el;
      }
      return rc;
    }
    if (it.kind == 1) {
      mask |= MDSPF__ML(it.letter);
    }
    last_macro = it.kind != 0;
  }
  if (letters) {
    *letters = mask;
  }
  if (ends_macro) {
    *ends_macro = last_macro;
  }
  return MDSPF_SYN_OK;
}

/* ---- output sinks ---------------------------------------------------------- */

/* Either a head-keeping mdspf__sbuf (explanations) or a tail-keeping
 * buffer (domains: only the rightmost labels survive truncation). */
typedef struct sink {
  mdspf__sbuf *head; /* non-NULL: head mode */
  char *buf;         /* tail mode */
  size_t cap, len;
  int dropped;
} sink;

static void sink_put(sink *k, const char *s, size_t n) {
  if (k->head) {
    mdspf__sbuf_put(k->head, s, n);
    return;
  }
  if (n >= k->cap / 2) {
    /* keep only the last cap/2 bytes of this write */
    s += n - k->cap / 2;
    n = k->cap / 2;
    k->len = 0;
    k->dropped = 1;
  }
  if (k->len + n > k->cap) {
    size_t shift = k->len + n - k->cap;
    if (shift < k->cap / 2) {
      shift = k->cap / 2;
    }
    if (shift > k->len) {
      shift = k->len;
    }
    memmove(k->buf, k->buf + shift, k->len - shift);
    k->len -= shift;
    k->dropped = 1;
  }
  memcpy(k->buf + k->len, s, n);
  k->len += n;
}

static int sink_full(const sink *k) {
  return k->head && k->head->overflow;
}

static void put_escaped(sink *k, const char *s, size_t n, int url) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i, run = 0;
  if (!url) {
    sink_put(k, s, n);
    return;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    /* unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986) */
    if (mdspf__is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      run++;
      continue;
    }
    if (run) {
      sink_put(k, s + i - run, run);
      run = 0;
    }
    {
      char e[3];
      e[0] = '%';
      e[1] = hex[c >> 4];
      e[2] = hex[c & 0xf];
      sink_put(k, e, 3);
    }
  }
  if (run) {
    sink_put(k, s + n - run, run);
  }
}

static const char *env_value(const mdspf__macro_env *env, int letter) {
  const char *v = NULL;
  switch (letter) {
  case 's':
    v = env->s;
    break;
  case 'l':
    v = env->l;
    break;
  case 'o':
    v = env->o;
    break;
  case 'd':
    v = env->d;
    break;
  case 'i':
    v = env->i;
    break;
  case 'p':
    v = env->p ? env->p : "unknown";
    break;
  case 'v':
    v = env->v;
    break;
  case 'h':
    v = env->h;
    break;
  case 'c':
    v = env->c;
    break;
  case 'r':
    v = env->r ? env->r : "unknown";
    break;
  case 't':
    v = env->t;
    break;
  default:
    break;
  }
  return v ? v : "";
}

/* Expand one %{...}: split the value on the delimiters, optionally
 * reverse, keep the rightmost `digits` parts, join with '.'. */
static void expand_item(sink *k, const macro_item *it,
                        const mdspf__macro_env *env) {
  const char *v = env_value(env, it->letter);
  size_t vlen = strnlen(v, MAX_VALUE);
  uint16_t start[MAX_VALUE + 1], end[MAX_VALUE + 1];
  size_t nparts = 0, i, first, count;
  unsigned dm = it->delims ? it->delims : 1u; /* default: '.' */

  if (!it->digits && !it->reverse && dm == 1u) {
    put_escaped(k, v, vlen, it->upper); /* plain value */
    return;
  }
  start[0] = 0;
  for (i = 0; i < vlen; i++) {
    int d = delim_index((unsigned char)v[i]);
    if (d >= 0 && (dm & (1u << d))) {
      end[nparts] = (uint16_t)i;
      nparts++;
      start[nparts] = (uint16_t)(i + 1);
    }
  }
  end[nparts] = (uint16_t)vlen;
  nparts++;

  count = nparts;
  if (it->digits && it->digits < count) {
    count = it->digits;
  }
  /* Without reversal keep parts [nparts-count, nparts); with reversal the
   * reversed list's rightmost count parts are parts count-1 .. 0. */
  first = it->reverse ? count - 1 : nparts - count;
  for (i = 0; i < count && !sink_full(k); i++) {
    size_t p = it->reverse ? first - i : first + i;
    if (i) {
      sink_put(k, ".", 1);
    }
    put_escaped(k, v + start[p], (size_t)(end[p] - start[p]), it->upper);
  }
}

static int expand_into(const char *s, size_t n, int mode,
                       const mdspf__macro_env *env, sink *k) {
  size_t pos = 0, eo, el;
  while (pos < n) {
    macro_item it;
    int rc = next_item(s, n, &pos, mode, &it, &eo, &el);
    if (rc != MDSPF_SYN_OK) {
      return rc;
    }
    if (sink_full(k)) {
      continue; /* output is complete, but the rest must still be valid */
    }
    switch (it.kind) {
    case 0:
      sink_put(k, s + it.off, it.len);
      break;
    case 1:
      expand_item(k, &it, env);
      break;
    case 2:
      sink_put(k, "%", 1);
      break;
    case 3:
      sink_put(k, " ", 1);
      break;
    default:
      sink_put(k, "%20", 3);
      break;
    }
  }
  return MDSPF_SYN_OK;
}

int mdspf__macro_expand(const char *s, size_t n, int mode,
                        const mdspf__macro_env *env, mdspf__sbuf *out) {
  sink k;
  memset(&k, 0, sizeof k);
  k.head = out;
  return expand_into(s, n, mode, env, &k);
}

size_t mdspf__macro_expand_domain(const char *s, size_t n,
                                  const mdspf__macro_env *env,
                                  char out[MDSPF__MAX_NAME + 1]) {
  char buf[2048];
  sink k;
  size_t len;
  memset(&k, 0, sizeof k);
  k.buf = buf;
  k.cap = sizeof buf - 1;
  if (expand_into(s, n, MDSPF__MS_DOMAIN, env, &k) != MDSPF_SYN_OK) {
    out[0] = '\0';
    return (size_t)-1;
  }
  buf[k.len] = '\0';
  len = k.len;
  if (k.dropped) {
    /* the head was cut mid-label: that partial label must go */
    const char *dot = memchr(buf, '.', len);
    if (!dot) {
      out[0] = '\0';
      return 0;
    }
    len -= (size_t)(dot + 1 - buf);
    memmove(buf, dot + 1, len);
    buf[len] = '\0';
  }
  len = mdspf__domain_truncate(buf, len);
  if (len > 0 && buf[len - 1] == '.') {
    /* it ended in "..": an empty label, not a name (only one trailing
     * dot is "ignored", RFC 7208 7.3) */
    len = 0;
  }
  memcpy(out, buf, len);
  out[len] = '\0';
  return len;
}

/*
 * examples/spf-policyd/policy.c -- policy delegation protocol parser.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#define PD_INITIAL_BUF 4096

struct pd_parser {
  char *buf;
  size_t cap;   /* allocated, at most PD_MAX_REQUEST */
  size_t start; /* first octet not handed out yet */
  size_t len;   /* octets in buf */
  size_t scan;  /* octets from start already known to hold no end */
  int error;    /* sticky negative status, 0 if none */
};

pd_parser *pd_parser_new(void) {
  pd_parser *p = calloc(1, sizeof *p);
  return p;
}

void pd_parser_free(pd_parser *p) {
  if (p) {
    free(p->buf);
    free(p);
  }
}

char *pd_parser_space(pd_parser *p, size_t *room) {
  *room = 0;
  if (p->start > 0) { /* move the unfinished request to the front */
    memmove(p->buf, p->buf + p->start, p->len - p->start);
    p->len -= p->start;
    p->start = 0;
  }
  if (p->len == p->cap && p->cap < PD_MAX_REQUEST) {
    size_t cap = p->cap ? p->cap * 2 : PD_INITIAL_BUF;
    char *n;
    if (cap > PD_MAX_REQUEST) {
      cap = PD_MAX_REQUEST;
    }
    n = realloc(p->buf, cap);
    if (!n) {
      return NULL;
    }
    p->buf = n;
    p->cap = cap;
  }
  if (!p->buf) {
    return NULL;
  }
  *room = p->cap - p->len;
  return p->buf + p->len;
}

void pd_parser_commit(pd_parser *p, size_t n) {
  if (n <= p->cap - p->len) {
    p->len += n;
  }
}

size_t pd_parser_pending(const pd_parser *p) {
  return p->len - p->start;
}

/* The request text t[0..n) (lines, the final empty line excluded) into
 * one block: the attribute table, then the text with NULs. */
static int build(const char *t, size_t n, pd_request **out) {
  size_t lines = 0, i, k = 0;
  pd_request *r;
  char *text;
  for (i = 0; i < n; i++) {
    if (t[i] == '\n') {
      lines++;
    }
  }
  if (lines > PD_MAX_ATTRS) {
    return PD_ERR_TOO_MANY;
  }
  r = malloc(sizeof *r + lines * sizeof(pd_attr) + n + 1);
  if (!r) {
    return PD_ERR_NOMEM;
  }
  r->attrs = (pd_attr *)(void *)(r + 1);
  text = (char *)(r->attrs + lines);
  memcpy(text, t, n);
  text[n] = '\0';
  r->size = n;
  i = 0;
  while (i < n) {
    char *line = text + i, *nl = memchr(line, '\n', n - i), *eq, *end;
    size_t llen = (size_t)(nl - line);
    if (memchr(line, '\0', llen)) {
      free(r);
      return PD_ERR_SYNTAX;
    }
    end = nl;
    if (end > line && end[-1] == '\r') {
      end--;
    }
    *end = '\0';
    eq = memchr(line, '=', (size_t)(end - line));
    if (!eq || eq == line) {
      free(r);
      return PD_ERR_SYNTAX;
    }
    *eq = '\0';
    r->attrs[k].name = line;
    r->attrs[k].value = eq + 1;
    k++;
    i += llen + 1;
  }
  r->nattrs = k;
  *out = r;
  return PD_REQUEST;
}

int pd_parser_next(pd_parser *p, pd_request **out) {
  const char *b;
  size_t avail, i;
  *out = NULL;
  if (p->error) {
    return p->error;
  }
  if (!p->buf) {
    return PD_NEED_MORE; /* nothing read yet */
  }
  b = p->buf + p->start;
  avail = p->len - p->start;
  /* The request ends at an empty line: "\n" at its very start, or
   * "\n\n" / "\n\r\n" inside. */
  for (i = p->scan; i < avail; i++) {
    size_t end = 0;
    int found = 0;
    if (b[i] != '\n') {
      continue;
    }
    if (i == 0) {
      found = 1;
    } else if (b[i - 1] == '\n') {
      found = 1;
      end = i; /* text is b[0..i) (its last line ends at i - 1) */
    } else if (b[i - 1] == '\r' && (i == 1 || b[i - 2] == '\n')) {
      found = 1;
      end = i - 1;
    } else if (i == 1 && b[0] == '\r') {
      found = 1;
    }
    if (found) {
      int rc = build(b, end, out);
      if (rc < 0) {
        p->error = rc;
        return rc;
      }
      p->start += i + 1;
      p->scan = 0;
      return PD_REQUEST;
    }
  }
  /* No end yet: keep the scan position (less two octets, so an end split
   * across reads is seen), and fail once the bound is reached. */
  p->scan = avail > 2 ? avail - 2 : 0;
  if (avail >= PD_MAX_REQUEST) {
    p->error = PD_ERR_TOO_LARGE;
    return p->error;
  }
  return PD_NEED_MORE;
}

const char *pd_request_get(const pd_request *r, const char *name) {
  size_t i = r->nattrs;
  while (i-- > 0) {
    if (strcmp(r->attrs[i].name, name) == 0) {
      return r->attrs[i].value;
    }
  }
  return NULL;
}

void pd_request_free(pd_request *r) {
  free(r);
}

const char *pd_parser_strerror(int status) {
  switch (status) {
  case PD_ERR_TOO_LARGE:
    return "request larger than 65536 octets";
  case PD_ERR_TOO_MANY:
    return "request with more than 1000 attributes";
  case PD_ERR_SYNTAX:
    return "malformed request line (no name=value, or a NUL octet)";
  case PD_ERR_NOMEM:
    return "out of memory";
  default:
    return "no error";
  }
}

/*
 * examples/spf-policyd/policy.h -- the Postfix policy delegation protocol:
 * an incremental, bounded request parser (no I/O).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A request is "name=value" lines, each ended by LF (a CR before it is
 * dropped), and the request by an empty line (Postfix SMTPD_POLICY_README).
 * The parser owns one buffer that the caller fills (pd_parser_space +
 * pd_parser_commit) and hands out whole requests (pd_parser_next), each a
 * copy the caller owns, so the buffer can be refilled while a request is
 * being answered.  Bounds: PD_MAX_REQUEST octets per request (the
 * buffer never grows past it) and PD_MAX_ATTRS attributes; a request over
 * either, a line without '=', an empty name or a NUL byte is a protocol
 * error (the connection is to be closed without reply).
 *
 * Not thread-safe; one parser per connection.
 */
#ifndef SPF_POLICYD_POLICY_H
#define SPF_POLICYD_POLICY_H

#include <stddef.h>

#define PD_MAX_REQUEST 65536 /* octets per request, the empty line included */
#define PD_MAX_ATTRS 1000    /* attributes per request */

typedef struct pd_attr {
  const char *name;  /* NUL-terminated, inside the request's block */
  const char *value; /* NUL-terminated; may be "" */
} pd_attr;

/* One request: attributes in the order received (a repeated name appears
 * twice; pd_request_get returns the last).  One allocation; pd_request_free. */
typedef struct pd_request {
  size_t nattrs;
  size_t size; /* octets of the request text (for the statistics) */
  pd_attr *attrs;
} pd_request;

typedef struct pd_parser pd_parser;

/* Status of pd_parser_next. */
enum {
  PD_NEED_MORE = 0, /* no whole request buffered yet */
  PD_REQUEST = 1,   /* *out holds a request */
  PD_ERR_TOO_LARGE = -1, /* over PD_MAX_REQUEST octets */
  PD_ERR_TOO_MANY = -2,  /* over PD_MAX_ATTRS attributes */
  PD_ERR_SYNTAX = -3,    /* a line without '=', an empty name, a NUL */
  PD_ERR_NOMEM = -4
};

/* NULL when out of memory. */
pd_parser *pd_parser_new(void);
void pd_parser_free(pd_parser *p); /* NULL is fine */

/* Room to read into: *room gets the octets free (0 when the buffer holds
 * PD_MAX_REQUEST octets of unfinished request -- then pd_parser_next
 * reports PD_ERR_TOO_LARGE).  NULL when out of memory. */
char *pd_parser_space(pd_parser *p, size_t *room);
/* n octets were written at pd_parser_space()'s pointer. */
void pd_parser_commit(pd_parser *p, size_t n);
/* Octets buffered and not yet handed out as requests. */
size_t pd_parser_pending(const pd_parser *p);

/* Next whole request, or a status above.  After an error the parser stays
 * in error (every later call returns the same). */
int pd_parser_next(pd_parser *p, pd_request **out);

/* Value of the last attribute called name, NULL when absent. */
const char *pd_request_get(const pd_request *r, const char *name);
void pd_request_free(pd_request *r); /* NULL is fine */

/* Text for a negative pd_parser_next status. */
const char *pd_parser_strerror(int status);

#endif

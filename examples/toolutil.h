/*
 * examples/toolutil.h -- small helpers shared by the command-line tools
 * (spfquery, spf-lint): safe output of untrusted text, caret lines under
 * record errors, JSON strings, strict numbers, --server values.  Public
 * library API only.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MDSPF_TOOLUTIL_H
#define MDSPF_TOOLUTIL_H

#include <stddef.h>
#include <stdio.h>

#define ECHO_MAX 200   /* longest user text echoed in an error */
#define SPAN_WIDTH 120 /* widest record excerpt above a caret line */
#define SPAN_LEFT 40   /* context kept left of the error when cut */

/* One display column per byte: printable ASCII as is, anything else
 * (control characters, DEL, non-ASCII) as '?', so that no input can
 * split an output line, drive the terminal or misalign a caret. */
void put_safe_n(FILE *out, const char *s, size_t n);
void put_safe(FILE *out, const char *s); /* NULL prints nothing */
/* User input in an error message: sanitised and cut at ECHO_MAX. */
void put_echo(FILE *out, const char *s);

/*
 * text[0..tlen) with a caret line under [off, off+len), compiler style,
 * each line starting with indent:
 *
 *     v=spf1 a mx incldue:_spf.example.com ~all
 *                 ^~~~~~~~~~~~~~~~~~~~~~~~
 *
 * Long texts are cut to a window around the error, marked with "...".
 */
void show_span(FILE *out, const char *indent, const char *text, size_t tlen,
               size_t off, size_t len);

/* RFC 8259 string: '"' and '\\' escaped, control characters, DEL and
 * every non-ASCII byte as \u00XX (bytes are not assumed to be UTF-8), so
 * the output is always plain ASCII.  json_str prints null for NULL. */
void json_str_n(FILE *out, const char *s, size_t n);
void json_str(FILE *out, const char *s);

/* Strict decimal: digits only, no sign, no blanks, fits in a long;
 * 0 or -1. */
int parse_long(const char *s, long *out);

/* A --server value: comma-separated "192.0.2.53", "192.0.2.53:5353",
 * "2001:db8::53", "::1", "[2001:db8::53]" or "[2001:db8::53]:5353";
 * 1 if valid. */
int valid_server_list(const char *list);

/*
 * For an "unknown mechanism" syntax error (MDSPF_SYN_UNKNOWN_MECH) at
 * text[off, off+len): the term's name -- after a qualifier, up to ':',
 * '/', '=' or the end of the span -- compared, ASCII case ignored, with
 * the names of the mechanisms and modifiers (RFC 7208 5, 6).  The names
 * one edit away (Damerau-Levenshtein distance 1: a letter added,
 * dropped or changed, or two neighbours swapped) are written into buf as
 * "include", "ip4 or ip6" or "a, mx or ptr"; a modifier is written with
 * its '=' ("redirect="), and is also suggested for its own name written
 * like a mechanism ("redirect:example.com").  Names of one character
 * get no suggestion (every letter is one edit from "a").  Returns 1 when
 * buf holds a suggestion, else 0 (buf then holds "").
 */
int suggest_term(const char *text, size_t tlen, size_t off, size_t len,
                 char *buf, size_t bufsz);

#endif

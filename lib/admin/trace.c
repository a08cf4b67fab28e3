/*
 * lib/admin/trace.c -- evaluation trace events as lines for people
 * (mdspf_event_format).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "core/event.h"
#include "util/strbuf.h"

#include <string.h>

/* Printable copy: control and non-ASCII bytes as \xNN. */
static void put_safe(mdspf__sbuf *sb, const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      char e[4];
      e[0] = '\\';
      e[1] = 'x';
      e[2] = hex[c >> 4];
      e[3] = hex[c & 0xf];
      mdspf__sbuf_put(sb, e, 4);
    } else {
      mdspf__sbuf_putc(sb, (char)c);
    }
  }
}

mdspf_status mdspf_event_format(const mdspf_event *ev, char *buf, size_t bufsz,
                       size_t *needed) {
  mdspf__sbuf sb;
  if (!ev || (!buf && bufsz)) {
    return MDSPF_E_INVAL;
  }
  mdspf__sbuf_init(&sb, buf, bufsz);
  switch (ev->type) {
  case MDSPF_EV_RECORD:
    mdspf__sbuf_puts(&sb, "record ");
    put_safe(&sb, ev->domain);
    mdspf__sbuf_puts(&sb, ": ");
    put_safe(&sb, ev->text);
    break;
  case MDSPF_EV_TERM:
    mdspf__sbuf_puts(&sb, "term ");
    put_safe(&sb, ev->text);
    if (ev->result >= 0) {
      mdspf__sbuf_puts(&sb, " -> match, ");
      mdspf__sbuf_puts(&sb, mdspf_result_str(ev->result));
    } else {
      mdspf__sbuf_puts(&sb, " -> no match");
    }
    break;
  case MDSPF_EV_QUERY:
    mdspf__sbuf_puts(&sb, "query ");
    mdspf__sbuf_puts(&sb, mdspf_rr_type_str(ev->rrtype));
    mdspf__sbuf_putc(&sb, ' ');
    put_safe(&sb, ev->text);
    break;
  case MDSPF_EV_ANSWER:
    mdspf__sbuf_puts(&sb, "answer ");
    mdspf__sbuf_puts(&sb, mdspf_rr_type_str(ev->rrtype));
    mdspf__sbuf_putc(&sb, ' ');
    put_safe(&sb, ev->text);
    mdspf__sbuf_puts(&sb, ": ");
    mdspf__sbuf_puts(&sb, mdspf_dns_status_str(ev->dns_status));
    if (ev->dns_status == MDSPF_DNS_OK) {
      mdspf__sbuf_puts(&sb, ", ");
      mdspf__sbuf_putu(&sb, ev->count);
      mdspf__sbuf_puts(&sb, ev->count == 1 ? " record" : " records");
    }
    break;
  case MDSPF_EV_INCLUDE:
    mdspf__sbuf_puts(&sb, "include ");
    put_safe(&sb, ev->domain);
    break;
  case MDSPF_EV_RETURN:
    mdspf__sbuf_puts(&sb, "return from ");
    put_safe(&sb, ev->domain);
    mdspf__sbuf_puts(&sb, ": ");
    mdspf__sbuf_puts(&sb, mdspf_result_str(ev->result));
    break;
  case MDSPF_EV_REDIRECT:
    mdspf__sbuf_puts(&sb, "redirect to ");
    put_safe(&sb, ev->domain);
    break;
  case MDSPF_EV_EXPAND:
    mdspf__sbuf_puts(&sb, "expand ");
    put_safe(&sb, ev->text);
    break;
  case MDSPF_EV_LIMIT:
    mdspf__sbuf_puts(&sb, "limit: ");
    put_safe(&sb, ev->text);
    break;
  case MDSPF_EV_RESULT:
    mdspf__sbuf_puts(&sb, "result ");
    mdspf__sbuf_puts(&sb, mdspf_result_str(ev->result));
    if (ev->text[0]) {
      mdspf__sbuf_puts(&sb, " (");
      put_safe(&sb, ev->text);
      mdspf__sbuf_putc(&sb, ')');
    }
    break;
  default:
    mdspf__sbuf_puts(&sb, "event");
    break;
  }
  if (ev->type == MDSPF_EV_TERM || ev->type == MDSPF_EV_RESULT) {
    mdspf__sbuf_puts(&sb, " [dns terms ");
    mdspf__sbuf_putu(&sb, ev->dns_terms);
    mdspf__sbuf_puts(&sb, ", void ");
    mdspf__sbuf_putu(&sb, ev->void_lookups);
    mdspf__sbuf_putc(&sb, ']');
  }
  if (sb.overflow && sb.cap >= 4) {
    /* cut visibly; *needed still says how long the whole line is */
    memcpy(sb.buf + sb.len - 3, "...", 3);
  }
  return mdspf__sbuf_finish(&sb, needed);
}

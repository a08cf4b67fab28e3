/*
 * fuzz/fuzz_policy.c -- spf-policyd's request parser, configuration
 * reader and decision table (examples/spf-policyd).
 *
 * Input: byte 0 picks the mode.
 *   even: the rest is a byte stream from a Postfix client, fed to the
 *         parser in chunks whose sizes come from byte 0; every request is
 *         decided with results taken from its own bytes.  Invariants:
 *         the parser stays within PD_MAX_REQUEST / PD_MAX_ATTRS, every
 *         reply is one line of printable text (no CR/LF: a request
 *         cannot add a header line or a second reply).
 *   odd:  the rest is a policyd-spf.conf file; a configuration that is
 *         accepted must keep its values in range.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "fuzz_common.h"

#include "config.h"
#include "decide.h"
#include "policy.h"

static void quiet(void *ud, int is_error, const char *file, unsigned line,
                  const char *msg) {
  (void)ud;
  (void)is_error;
  (void)file;
  (void)line;
  (void)msg;
}

static void check_reply(const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  }
}

static void decide_all(const pd_config *cfg, const pd_request *r) {
  pd_txn *t = pd_txn_new(cfg, r);
  pd_check_spec spec;
  char reply[16384];
  size_t i = 0;
  int steps = 0;
  if (!t) {
    return;
  }
  while (pd_txn_step(t, &spec) == PD_STEP_CHECK) {
    /* a result from the request's size and the step: all seven occur */
    int res = (int)((r->size + i * 3) % 7) + 1;
    FUZZ_CHECK(++steps < 64);
    FUZZ_CHECK(spec.ip && spec.sender && spec.helo);
    pd_txn_feed(t, res, (i & 1) ? "exp\r\ntext" : NULL, "problem\n",
                (i & 2) ? "v=spf1 -all" : NULL);
    i++;
  }
  pd_format_action(cfg, pd_txn_kind(t), pd_txn_iserror(t), pd_txn_text(t),
                   reply, sizeof reply);
  check_reply(reply);
  check_reply(pd_txn_text(t));
  pd_txn_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) {
    return 0;
  }
  if (data[0] & 1) {
    pd_config *c = pd_config_parse((const char *)data + 1, size - 1, "fuzz",
                                   quiet, NULL);
    if (c) {
      FUZZ_CHECK(c->lookup_time >= 1 && c->lookup_time <= 3600);
      FUZZ_CHECK(c->void_limit >= 0 && c->void_limit <= 100);
      FUZZ_CHECK(c->helo_reject >= PD_REJ_FAIL &&
                  c->helo_reject <= PD_REJ_NO_CHECK);
      FUZZ_CHECK(c->authserv_id && c->reason_message);
      pd_config_free(c);
    }
    return 0;
  } else {
    pd_config *cfg = pd_config_defaults();
    pd_parser *p = pd_parser_new();
    size_t chunk = (size_t)(data[0] >> 1) + 1, off = 1;
    int rc = PD_NEED_MORE;
    FUZZ_CHECK(cfg && p);
    cfg->helo_reject = (data[0] >> 1) % 6;
    cfg->mail_from_reject = (data[0] >> 4) % 6;
    cfg->header_type = (data[0] >> 2) % 3;
    while (rc >= 0) {
      pd_request *r = NULL;
      rc = pd_parser_next(p, &r);
      if (rc == PD_REQUEST) {
        FUZZ_CHECK(r->nattrs <= PD_MAX_ATTRS);
        FUZZ_CHECK(r->size <= PD_MAX_REQUEST);
        decide_all(cfg, r);
        pd_request_free(r);
        continue;
      }
      if (rc == PD_NEED_MORE) {
        size_t room, n;
        char *dst;
        if (off >= size) {
          break;
        }
        dst = pd_parser_space(p, &room);
        FUZZ_CHECK(dst != NULL);
        FUZZ_CHECK(room > 0); /* else next() reported TOO_LARGE */
        n = size - off < chunk ? size - off : chunk;
        n = n < room ? n : room;
        memcpy(dst, data + off, n);
        pd_parser_commit(p, n);
        off += n;
      }
    }
    FUZZ_CHECK(pd_parser_pending(p) <= PD_MAX_REQUEST);
    pd_parser_free(p);
    pd_config_free(cfg);
  }
  return 0;
}

/*
 * examples/spf-example.c -- the README's example as a complete program:
 * parse a record, then evaluate check_host() against a zone file.
 * usage: spf-example ZONEFILE IP SENDER [RECORD]
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <maildrop-spf/spf.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  mdspf_zone *zone = NULL;
  mdspf_ctx *ctx = NULL;
  mdspf_check *chk = NULL;
  char err[256];
  int rc = 1;

  if (argc < 4) {
    fprintf(stderr, "usage: spf-example ZONEFILE IP SENDER [RECORD]\n");
    return 2;
  }
  if (argc > 4) {
    /* parse a record on its own: no DNS */
    const char *txt = argv[4];
    mdspf_record *rec = NULL;
    size_t off = 0, len = 0;
    int code = 0;
    if (mdspf_record_parse(txt, strlen(txt), NULL, NULL, &rec, &code, &off,
                           &len) == MDSPF_OK) {
      printf("record has %zu terms\n", mdspf_record_nterms(rec));
      mdspf_record_free(rec);
    } else {
      printf("%s at byte %zu\n", mdspf_syntax_str(code), off);
    }
  }

  /* evaluate check_host() over a resolver (here: a zone file) */
  if (mdspf_zone_new(NULL, NULL, &zone) != MDSPF_OK ||
      mdspf_zone_load_file(zone, argv[1], NULL, err, sizeof err) != MDSPF_OK) {
    fprintf(stderr, "%s\n", zone ? err : "out of memory");
    goto out;
  }
  if (mdspf_ctx_new(NULL, NULL, &ctx) != MDSPF_OK ||
      mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(zone)) != MDSPF_OK ||
      mdspf_check_new(ctx, &chk) != MDSPF_OK) {
    fprintf(stderr, "out of memory\n");
    goto out;
  }
  if (mdspf_check_set_ip(chk, argv[2]) != MDSPF_OK ||
      mdspf_check_set_sender(chk, argv[3]) != MDSPF_OK) {
    fprintf(stderr, "bad IP address or sender\n");
    goto out;
  }
  if (mdspf_check_run(chk, 0) != MDSPF_OK) { /* or mdspf_check_start */
    fprintf(stderr, "check failed to run\n");
    goto out;
  }
  printf("%s", mdspf_result_str(mdspf_check_result(chk)));
  if (mdspf_check_mechanism(chk)) {
    printf(" (matched %s in %s)", mdspf_check_mechanism(chk),
           mdspf_check_domain(chk));
  }
  printf("\n");
  rc = 0;
out:
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(zone);
  return rc;
}

/* opendmarc_spf.c -- evaluate SPF cases through libopendmarc's libspf2
 * entry point, for tests/compat/run.sh.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *   usage: opendmarc_spf < CASES
 *
 * Debian's libopendmarc (libopendmarc2, built with libspf2) reaches
 * libspf2 only through opendmarc_spf2_test(): it makes a libspf2 server
 * (SPF_DNS_CACHE) and request, reduces the MAIL FROM address to its
 * domain (or, without an "@", checks the HELO name instead), queries
 * and returns a DMARC_POLICY_SPF_OUTCOME_* code, with SPF_strresult() of
 * the result as the human-readable text.  Its record argument is not
 * used in that build.  (opendmarc_spf_test(), declared in dmarc.h, is
 * the built-in checker of builds without libspf2 and is not exported by
 * Debian's library; opendmarc_policy_store_spf() only stores a result.)
 *
 * CASES has one check per line, "ip sender helo" ("<>" for the null
 * sender, which opendmarc_spf2_test() treats as no address).  For each
 * line it prints one tab-separated line: the human-readable result, the
 * outcome (none, pass, fail, tmpfail or the number) with softfail and
 * neutral not accepted, the outcome with them accepted, and whether the
 * MAIL FROM domain was used (mfrom) or the HELO name (helo).
 *
 * Exit status: 0 when every line was read and evaluated, 1 otherwise.
 */
/* dmarc.h uses u_char and MAXPATHLEN without including their headers */
#define _DEFAULT_SOURCE
#include <sys/param.h>
#include <sys/types.h>

#include <opendmarc/dmarc.h>

#include <stdio.h>
#include <string.h>

static const char *outcome_name(int outcome, char *buf, size_t size)
{
    switch (outcome) {
    case DMARC_POLICY_SPF_OUTCOME_NONE:
        return "none";
    case DMARC_POLICY_SPF_OUTCOME_PASS:
        return "pass";
    case DMARC_POLICY_SPF_OUTCOME_FAIL:
        return "fail";
    case DMARC_POLICY_SPF_OUTCOME_TMPFAIL:
        return "tmpfail";
    default:
        snprintf(buf, size, "%d", outcome);
        return buf;
    }
}

int main(void)
{
    char line[2048];
    int status = 0;

    while (fgets(line, sizeof line, stdin) != NULL) {
        char ip[256], sender[1024], helo[512];
        char human[2][256], nbuf[2][16];
        int outcome[2], used_mfrom = 0;

        if (strchr(line, '\n') == NULL && !feof(stdin)) {
            fprintf(stderr, "opendmarc_spf: line too long\n");
            return 1;
        }
        if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
            continue;
        if (sscanf(line, "%255s %1023s %511s", ip, sender, helo) != 3) {
            fprintf(stderr, "opendmarc_spf: malformed line: %s", line);
            status = 1;
            continue;
        }
        for (int okay = 0; okay < 2; okay++) {
            human[okay][0] = '\0';
            /* the record argument is unused by the libspf2 build */
            outcome[okay] = opendmarc_spf2_test(ip, sender, helo, NULL, okay,
                                                human[okay],
                                                sizeof human[okay],
                                                &used_mfrom);
        }
        if (strcmp(human[0], human[1]) != 0) {
            fprintf(stderr, "opendmarc_spf: %s %s: two results: %s, %s\n", ip,
                    sender, human[0], human[1]);
            status = 1;
        }
        printf("%s\t%s\t%s\t%s\n", human[0][0] != '\0' ? human[0] : "\"\"",
               outcome_name(outcome[0], nbuf[0], sizeof nbuf[0]),
               outcome_name(outcome[1], nbuf[1], sizeof nbuf[1]),
               used_mfrom ? "mfrom" : "helo");
    }
    if (ferror(stdin)) {
        fprintf(stderr, "opendmarc_spf: read error\n");
        status = 1;
    }
    return status;
}

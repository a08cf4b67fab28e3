/*
 * tests/bench/workload.c -- the benchmark's checks and records.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "workload.h"

#define HELO "mail.client.example"

const bench_check bench_checks[] = {
    /* webmail provider: redirect + 3 includes */
    {"172.17.33.7", "alice@gmail.example", W_PASS, "gmail-like, 3rd netblock"},
    {"10.125.3.4", "bob@gmail.example", W_PASS, "gmail-like, 1st netblock"},
    {"2001:db8:1450:4000::1b", "carol@gmail.example", W_PASS,
     "gmail-like over IPv6, 2nd netblock"},
    {"192.0.2.200", "dave@gmail.example", W_SOFTFAIL,
     "gmail-like, no netblock"},
    /* hosted office suite: nested include */
    {"100.107.9.9", "erin@contoso.example", W_PASS,
     "office365-like, outer include"},
    {"100.69.80.5", "frank@contoso.example", W_PASS,
     "office365-like, nested include"},
    {"192.0.2.201", "grace@contoso.example", W_FAIL,
     "office365-like, no match"},
    /* self-hosted: mx, a, exists, ptr */
    {"192.0.2.11", "heidi@mixed.example", W_PASS, "mx"},
    {"192.0.2.20", "ivan@mixed.example", W_PASS, "a:"},
    {"192.0.2.30", "judy@mixed.example", W_PASS, "exists:%{i}"},
    {"192.0.2.40", "mallory@mixed.example", W_PASS, "ptr"},
    {"192.0.2.99", "niaj@mixed.example", W_FAIL, "mx/a/exists/ptr, no match"},
    /* plain address lists */
    {"198.51.100.9", "olivia@simple.example", W_PASS, "ip4"},
    {"203.0.113.6", "peggy@simple.example", W_FAIL, "ip4, no match"},
    {"203.0.113.81", "rupert@smallbiz.example", W_NEUTRAL, "a mx ?all"},
    /* several providers, the match in the last */
    {"198.18.17.3", "sybil@acme.example", W_PASS, "three providers, the ESP"},
    {"192.0.2.202", "trent@acme.example", W_FAIL, "three providers, no match"},
    /* no SPF */
    {"192.0.2.203", "victor@nospf.example", W_NONE, "TXT without SPF"},
    {"192.0.2.204", "walter@ghost.example", W_NONE, "domain does not exist"},
};
const size_t bench_nchecks = sizeof bench_checks / sizeof bench_checks[0];

const bench_check bench_gmail_check = {"172.17.33.7", "alice@gmail.example",
                                       W_PASS, "gmail-like, 3rd netblock"};

/* Shapes seen in published records: provider redirects and includes,
 * long netblock lists, nested includes, mx/a/ptr/exists with CIDR and
 * macros, exp=, unknown modifiers. */
const char *const bench_records[] = {
    "v=spf1 redirect=_spf.gmail.example",
    "v=spf1 include:_netblocks.gmail.example include:_netblocks2.gmail.example "
    "include:_netblocks3.gmail.example ~all",
    "v=spf1 ip4:10.190.247.0/24 ip4:10.233.160.0/19 ip4:10.102.0.0/20 "
    "ip4:10.249.80.0/20 ip4:10.14.192.0/18 ip4:10.125.0.0/16 "
    "ip4:10.177.8.0/21 ip4:10.194.0.0/16 ip4:10.85.128.0/17 "
    "ip4:10.58.192.0/19 ~all",
    "v=spf1 ip6:2001:db8:4860:4000::/52 ip6:2001:db8:6800:4000::/52 "
    "ip6:2001:db8:f8b0:4000::/52 ip6:2001:db8:3f0:4000::/52 "
    "ip6:2001:db8:1450:4000::/52 ~all",
    "v=spf1 include:spf.protection.outlook.example -all",
    "v=spf1 ip4:100.92.0.0/15 ip4:100.107.0.0/16 ip4:100.100.0.0/14 "
    "ip4:100.47.0.0/17 ip6:2001:db8:111:f400::/64 ip6:2001:db8:111:f403::/64 "
    "include:spfd.protection.outlook.example -all",
    "v=spf1 mx a:smtp.mixed.example exists:%{i}._ip.mixed.example "
    "ptr:mixed.example -all",
    "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.5 -all",
    "v=spf1 a mx ?all",
    "v=spf1 include:_spf.gmail.example include:spf.protection.outlook.example "
    "include:esp.example -all",
    "v=spf1 include:_spf.gmail.example include:sendgrid.example "
    "include:mailgun.example include:servers.mcsv.example "
    "include:amazonses.example ~all",
    "v=spf1 a mx ip4:192.0.2.0/24 ip6:2001:db8::/32 "
    "include:spf.hosting.example ~all",
    "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
    "v=spf1 a/24 mx/24 ip4:198.51.100.17 -all",
    "v=spf1 include:spf.example.net exp=explain._spf.%{d} -all",
    "v=spf1 a:mail.example.org a:mail2.example.org/28//64 mx:example.org -all",
    "v=spf1 +a +mx +ip4:198.51.100.1 ~all",
    "v=spf1 -all",
    "v=spf1 ip4:203.0.113.0/26 ip4:203.0.113.64/27 ip4:203.0.113.96/28 "
    "ip4:203.0.113.112/29 ip4:203.0.113.120/30 ip4:198.51.100.0/25 "
    "ip4:198.51.100.128/26 ip4:198.51.100.192/27 ip4:192.0.2.0/25 "
    "ip4:192.0.2.128/26 ip4:198.18.0.0/16 ip4:198.19.0.0/17 -all",
    "v=spf1 ip4:198.18.0.0/20 ip4:198.18.16.0/21 ~all",
    "v=spf1 mx include:spf.mail-provider.example ?all",
    "v=spf1 ptr ip6:2001:db8:aa::/48 include:relay.isp.example -all",
};
const size_t bench_nrecords = sizeof bench_records / sizeof bench_records[0];

const char *bench_result_name(int r) {
  static const char *const names[] = {"(none yet)", "neutral",  "pass",
                                      "fail",       "softfail", "none",
                                      "temperror",  "permerror"};
  return (r >= 0 && r <= 7) ? names[r] : "(unknown)";
}

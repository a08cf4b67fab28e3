#!/bin/sh
# Command-line behaviour of spf-lint: exit codes (0 clean, 1 warnings,
# 2 errors in the records, 3 when the lint could not do its job: usage
# errors, unreadable zones, a failed lookup of the domain's own record),
# the term table and tree for the demo domain bcoug.org, caret lines and
# suggestions under syntax errors, hints for addresses and URLs given as
# DOMAIN, --record (static and as if published), --ip (the PTR names of a
# client), --json validity, and usage errors.  Offline: --zone, and a
# closed port on 127.0.0.1 for a DNS failure.
# usage: test_spflint.sh SPF-LINT SRCDIR
# SPDX-License-Identifier: BSD-2-Clause
lint=$1
src=$2
demo=$src/examples/zones/demo.zone
zone=$src/tests/lint-zones/lint.zone
tmp=${TMPDIR:-/tmp}/spflint-test.$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
fails=0

bad() {
  echo "FAIL $1: $2"
  fails=$((fails + 1))
}

# expect NAME STATUS PATTERN -- args...: run spf-lint, compare the exit
# status and grep stdout+stderr for PATTERN (extended regex; "" = any).
expect() {
  name=$1 want=$2 pat=$3
  shift 4
  "$lint" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, want $want"
    sed 's/^/  | /' "$tmp/out" "$tmp/err"
    fails=$((fails + 1))
    return 1
  fi
  if [ -n "$pat" ] && ! cat "$tmp/out" "$tmp/err" | grep -Eq -- "$pat"; then
    echo "FAIL $name: output does not match /$pat/"
    sed 's/^/  | /' "$tmp/out" "$tmp/err"
    fails=$((fails + 1))
    return 1
  fi
  echo "ok $name"
  return 0
}

# ---- the demo domain: exact term table and tree --------------------------
expect demo-clean 0 'No problems found' -- --zone "$demo" bcoug.org
cat >"$tmp/want-table" <<'EOF'
SPF record of bcoug.org
  v=spf1 a mx include:_spf.google.com include:servers.mcsv.net ip4:204.244.186.184/32 ~all

  Prefix  Type     Value               Prefix meaning  Description
  +       a                            Pass            the addresses of the checked domain (A/AAAA)
  +       mx                           Pass            the addresses of the mail exchangers of the checked domain
  +       include  _spf.google.com     Pass            addresses the SPF record of _spf.google.com permits
  +       include  servers.mcsv.net    Pass            addresses the SPF record of servers.mcsv.net permits
  +       ip4      204.244.186.184/32  Pass            204.244.186.184 (1 address)
  ~       all                          SoftFail        every address
EOF
head -n 10 "$tmp/out" >"$tmp/got-table"
if cmp -s "$tmp/want-table" "$tmp/got-table"; then
  echo "ok demo-table"
else
  bad demo-table "the term table of bcoug.org differs:"
  diff "$tmp/want-table" "$tmp/got-table" | sed 's/^/  | /'
fi
cat >"$tmp/want-tree" <<'EOF'
  bcoug.org                                   7
  |-- include:_spf.google.com                 4
  |   |-- include:_netblocks.google.com       1
  |   |-- include:_netblocks2.google.com      1
  |   `-- include:_netblocks3.google.com      1
  `-- include:servers.mcsv.net                1
  total: 7/10 DNS lookups, 0/2 void lookups
EOF
sed -n '/^DNS lookups/,/total:/p' "$tmp/out" | sed '1,2d' >"$tmp/got-tree"
if cmp -s "$tmp/want-tree" "$tmp/got-tree"; then
  echo "ok demo-tree"
else
  bad demo-tree "the include tree of bcoug.org differs:"
  diff "$tmp/want-tree" "$tmp/got-tree" | sed 's/^/  | /'
fi
# each included record gets its own table under a heading
grep -q '^include:_netblocks2.google.com (in _spf.google.com)$' "$tmp/out" ||
  bad demo-headings "no heading for the included _netblocks2.google.com"
grep -Eq '^  \+       ip6   2001:db8:4860::/48  Pass +2001:db8:4860::/48 \(2\^80 addresses\)$' \
  "$tmp/out" || bad demo-ip6-row "no ip6 row for 2001:db8:4860::/48"
grep -Eq '^  \?       all +Neutral +every address$' "$tmp/out" ||
  bad demo-neutral-row "no ?all row for servers.mcsv.net"

# ---- exit codes -------------------------------------------------------------
expect clean 0 'No problems found' -- --zone "$zone" good.lint.test
expect info-only 0 '^info: include:%\{i\}' -- --zone "$zone" macro.lint.test
expect warning 1 '^warning: \?all: addresses not listed get neutral' -- \
  --zone "$zone" neutralall.lint.test
expect error-lookups 2 '^error: toomany\.lint\.test: 11 DNS lookups' -- \
  --zone "$zone" toomany.lint.test
grep -q 'total: 11/10 DNS lookups (too many)' "$tmp/out" ||
  bad error-lookups "no over-limit total line"
expect error-void 2 'void lookups' -- --zone "$zone" void3.lint.test
expect error-loop 2 'include:loop1\.lint\.test +1  \(loop\)' -- \
  --zone "$zone" loop1.lint.test
expect error-noinclude 2 'include:nx\.lint\.test +1  \(no SPF record\)' -- \
  --zone "$zone" includenx.lint.test
expect error-norecord 2 '^error: nx\.lint\.test: the domain does not exist' -- \
  --zone "$zone" nx.lint.test
expect error-twospf 2 '2 SPF records published' -- --zone "$zone" twospf.lint.test
# diagnostics come sorted: errors, then warnings, then information
expect sorted 2 '' -- --zone "$zone" incplus.lint.test
expect sorted-mixed 2 '' -- --record \
  'v=spf1 ptr ip4:192.0.2.0/24 ip4:192.0.2.7 +all'
grep -E '^(error|warning|info):' "$tmp/out" | cut -d: -f1 >"$tmp/sev"
printf 'error\nwarning\ninfo\n' >"$tmp/sev-want"
cmp -s "$tmp/sev" "$tmp/sev-want" ||
  bad sorted-mixed "severities not sorted: $(tr '\n' ' ' <"$tmp/sev")"

# ---- caret lines --------------------------------------------------------------
expect caret 2 'unknown mechanism' -- --zone "$demo" broken.bcoug.org
cat >"$tmp/want-caret" <<'EOF'
  v=spf1 a mx incldue:_spf.google.com ~all
              ^~~~~~~~~~~~~~~~~~~~~~~
EOF
sed -n '2,3p' "$tmp/out" >"$tmp/got-caret"
cmp -s "$tmp/want-caret" "$tmp/got-caret" || {
  bad caret "no caret line under the bad term"
  diff "$tmp/want-caret" "$tmp/got-caret" | sed 's/^/  | /'
}
# a mechanism one edit from a real one: a suggestion in the diagnostic
grep -Fxq "error: broken.bcoug.org: unknown mechanism: 'incldue:_spf.google.com'; receivers return permerror; did you mean include? [syntax]" \
  "$tmp/out" || bad caret-suggestion "no 'did you mean include?' in the diagnostic"
expect suggest-two 2 "unknown mechanism: 'ip5:192\\.0\\.2\\.1'; receivers return permerror; did you mean ip4 or ip6\\? \\[syntax\\]$" -- \
  --record 'v=spf1 ip5:192.0.2.1 -all'
expect suggest-swap 2 'did you mean include\? \[syntax\]$' -- --record 'v=spf1 inlcude:x.example -all'
expect suggest-case 2 'did you mean include\? \[syntax\]$' -- --record 'v=spf1 ~INCLDE:x.example -all'
expect suggest-modifier 2 'did you mean redirect=\? \[syntax\]$' -- --record 'v=spf1 redirect:x.example'
expect suggest-extra-letter 2 'did you mean all\? \[syntax\]$' -- --record 'v=spf1 -alll'
expect suggest-none 2 "unknown mechanism: 'frobnicate'; receivers return permerror \\[syntax\\]$" -- \
  --record 'v=spf1 frobnicate -all'
expect suggest-json 2 '"code": "syntax", "node": 0, "offset": 7, "length": 9, "message": "[^"]*", "suggestion": "include"\}' -- \
  --json --record 'v=spf1 incldue:x -all'
expect suggest-json-none 1 '"code": "neutral-all", .*"suggestion": null\}' -- \
  --json --record 'v=spf1 ?all'

expect caret-record 2 '' -- --record 'v=spf1 ip4:192.0.2.300 -all'
grep -Fxq '             ^~~~~~~~~~~' "$tmp/out" ||
  bad caret-record "no caret under ip4:192.0.2.300"

# ---- --record -------------------------------------------------------------------
expect record-static-clean 0 'static checks only' -- --record 'v=spf1 -all'
# static mode says next to its lookup count that includes were not followed
expect record-static-count 0 '' -- --record 'v=spf1 include:_spf.google.com a -all'
cat >"$tmp/want" <<'EOF'
  (record)                                    2
  total: 2/10 DNS lookups (includes not followed: the lookups of included
         and redirected records are not counted without --domain); void
         lookups not checked
EOF
sed -n '/^DNS lookups/,/lookups not checked/p' "$tmp/out" | sed '1,2d' >"$tmp/got"
if cmp -s "$tmp/want" "$tmp/got"; then
  echo "ok record-static-count-line"
else
  bad record-static-count-line "the lookup count does not say that includes were not followed"
  diff "$tmp/want" "$tmp/got" | sed 's/^/  | /'
fi
expect record-static-json 0 '"includes_followed": false,' -- --json --record 'v=spf1 include:x.example -all'
expect record-domain-json 0 '"includes_followed": true,' -- --zone "$demo" --json \
  --record 'v=spf1 mx -all' --domain bcoug.org
expect record-static-plus 2 '^error: \+all: every address passes' -- \
  --record 'v=spf1 +all'
expect record-as-published 2 'include:nospf\.lint\.test: the domain publishes no SPF record' -- \
  --zone "$zone" --record 'v=spf1 include:nospf.lint.test -all' \
  --domain good.lint.test
expect record-as-published-ok 0 'Record for bcoug\.org \(as if published\)' -- \
  --zone "$demo" --record 'v=spf1 mx ip4:203.0.113.0/24 -all' --domain bcoug.org
long=$(printf 'v=spf1 %0250d -all' 0 | tr 0 ' ')
expect record-long 2 'several strings of at most 255 octets' -- --record "$long"

# ---- --ip: the PTR names of a client --------------------------------------------
# lint.zone: 192.0.2.11 and 2001:db8::11 have 11 PTR names, 192.0.2.10 has 10
too_many='^warning: ptr:lint\.test: 192\.0\.2\.11 has 11 PTR names; only the first 10 are used, so the result depends on their order \[too-many-ptr\]$'
expect ip-too-many-ptr 1 "$too_many" -- --zone "$zone" --ip 192.0.2.11 ptr.lint.test
grep -Fxq '           ^~~~~~~~~~~~~' "$tmp/out" ||
  bad ip-too-many-ptr "no caret under ptr:lint.test"
grep -q 'not counted' "$tmp/out" &&
  bad ip-too-many-ptr "still says the PTR names were not counted"
expect ip-ten-names 1 'ptr-deprecated' -- --zone "$zone" --ip 192.0.2.10 ptr.lint.test
grep -q 'too-many-ptr' "$tmp/out" && bad ip-ten-names "10 names reported"
expect ip-none 1 '\(PTR names not counted without a client address\) \[ptr-deprecated\]$' -- \
  --zone "$zone" ptr.lint.test
grep -q 'too-many-ptr' "$tmp/out" && bad ip-none "reported without --ip"
expect ip-include 1 "$too_many" -- --zone "$zone" -ip=192.0.2.11 incptr.lint.test
expect ip-macro-p 1 '^warning: exists:%\{p\}\.ok\.lint\.test: 192\.0\.2\.11 has 11 PTR names' -- \
  --zone "$zone" --ip 192.0.2.11 pptr.lint.test
expect ip-mapped 1 "$too_many" -- --zone "$zone" --ip ::ffff:192.0.2.11 ptr.lint.test
expect ip-v6 1 '^warning: ptr:lint\.test: 2001:db8::11 has 11 PTR names' -- \
  --zone "$zone" --ip 2001:DB8::11 ptr.lint.test
expect ip-record 1 '^warning: ptr: 192\.0\.2\.11 has 11 PTR names' -- \
  --zone "$zone" --ip 192.0.2.11 --record 'v=spf1 ptr -all' --domain good.lint.test
expect ip-json 1 '"code": "too-many-ptr", "node": 1, "offset": 7, "length": 13' -- \
  --zone "$zone" --ip 192.0.2.11 --json incptr.lint.test

# ---- JSON -------------------------------------------------------------------------
expect json 0 '"domain": "bcoug.org"' -- --zone "$demo" --json bcoug.org
cp "$tmp/out" "$tmp/demo.json"
expect json-diags 2 '"code": "loop"' -- --zone "$zone" --json loop1.lint.test
cp "$tmp/out" "$tmp/loop.json"
expect json-escape 2 '' -- --json --record 'v=spf1 "quoted\back -all'
cp "$tmp/out" "$tmp/escape.json"
for f in demo loop escape; do
  if command -v python3 >/dev/null 2>&1; then
    if python3 -m json.tool "$tmp/$f.json" >/dev/null 2>"$tmp/jerr"; then
      echo "ok json-valid-$f (python3)"
    else
      bad "json-valid-$f" "python3 rejects it: $(cat "$tmp/jerr")"
    fi
  elif command -v jq >/dev/null 2>&1; then
    if jq . "$tmp/$f.json" >/dev/null 2>&1; then
      echo "ok json-valid-$f (jq)"
    else
      bad "json-valid-$f" "jq rejects it"
    fi
  else
    # structural check: balanced braces and brackets, starts with {
    o=$(tr -cd '{' <"$tmp/$f.json" | wc -c)
    c=$(tr -cd '}' <"$tmp/$f.json" | wc -c)
    if [ "$(head -c 1 "$tmp/$f.json")" = "{" ] && [ "$o" -eq "$c" ]; then
      echo "ok json-valid-$f (structure)"
    else
      bad "json-valid-$f" "unbalanced braces"
    fi
  fi
done
if command -v python3 >/dev/null 2>&1; then
  python3 - "$tmp/demo.json" <<'EOF' && echo "ok json-content" || bad json-content "unexpected content"
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["domain", "given_record", "lookups", "lookup_limit",
                   "void_lookups", "void_limit", "includes_followed",
                   "worst", "nodes", "diagnostics"], list(d)
assert d["includes_followed"] is True
assert d["lookups"] == 7 and d["lookup_limit"] == 10 and d["worst"] is None
assert len(d["nodes"]) == 6 and d["diagnostics"] == []
n0 = d["nodes"][0]
assert n0["domain"] == "bcoug.org" and n0["via"] == "root" and n0["term"] is None
t = n0["terms"][4]
assert t["type"] == "ip4" and t["value_cidr"] == "204.244.186.184/32", t
assert t["prefix"] == "+" and t["qualifier"] is None and t["result"] == "pass"
assert t["description"] == "204.244.186.184 (1 address)"
assert n0["terms"][5]["prefix_meaning"] == "SoftFail"
assert d["nodes"][1]["via"] == "include" and d["nodes"][1]["term"] == 2
assert d["nodes"][1]["lookups"] == 3
EOF
fi

# ---- usage errors: exit 3 and one line on stderr -----------------------------------
usage_error() {
  name=$1
  shift
  "$lint" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  lines=$(wc -l <"$tmp/err")
  if [ "$got" != 3 ] || [ "$lines" -ne 1 ] || [ -s "$tmp/out" ]; then
    bad "usage-$name" "exit $got, $lines stderr lines"
    sed 's/^/  | /' "$tmp/out" "$tmp/err"
    return
  fi
  if ! grep -q '^spf-lint: ' "$tmp/err"; then
    bad "usage-$name" "message does not start with 'spf-lint: '"
    return
  fi
  echo "ok usage-$name"
}
usage_error no-args
usage_error unknown-option --frobnicate
usage_error two-domains a.example b.example
usage_error domain-without-record --domain a.example
usage_error record-and-positional --record 'v=spf1 -all' a.example
usage_error missing-value --zone
usage_error bad-timeout --timeout 0 a.example
usage_error bad-timeout-text --timeout=soon a.example
usage_error bad-server --server 300.1.2.3 a.example
usage_error zone-and-server --zone "$zone" --server 127.0.0.1 a.example
usage_error json-with-value --json=yes a.example
usage_error invalid-domain --zone "$zone" 'not a domain'
usage_error missing-zone --zone "$tmp/no-such.zone" a.example
usage_error bad-ip --zone "$zone" --ip 192.0.2.300 ptr.lint.test
usage_error bad-ip-name --ip mail.example.com a.example
usage_error bad-ip-missing-zone --ip 192.0.2 --zone "$tmp/no-such.zone" a.example
usage_error ip-static --ip 192.0.2.11 --record 'v=spf1 ptr -all'
printf 'example.com. IN A 1.2.3\n' >"$tmp/bad.zone"
usage_error bad-zone --zone "$tmp/bad.zone" a.example
usage_error zone-directory --zone "$tmp" a.example

# ---- DOMAIN that is an address or a URL: a hint, exit 3 -------------------------------
# hint NAME HINT-LINE -- args...: exit 3, nothing on stdout, HINT-LINE on stderr
hint() {
  name=$1 want=$2
  shift 3
  "$lint" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  printf '%s\n' "$want" >"$tmp/want"
  if [ "$got" != 3 ] || [ -s "$tmp/out" ] || ! cmp -s "$tmp/want" "$tmp/err"; then
    bad "hint-$name" "exit $got, or not the one hint line"
    sed 's/^/  | /' "$tmp/out" "$tmp/err"
    return
  fi
  echo "ok hint-$name"
}
hint address "spf-lint: 'me@bcoug.org' is an e-mail address, not a domain name: did you mean bcoug.org?" -- \
  --zone "$demo" me@bcoug.org
hint address-angle "spf-lint: '<me@bcoug.org>' is an e-mail address, not a domain name: did you mean bcoug.org?" -- \
  '<me@bcoug.org>'
hint mailto "spf-lint: 'mailto:me@bcoug.org' is an e-mail address, not a domain name: did you mean bcoug.org?" -- \
  mailto:me@bcoug.org
hint url "spf-lint: 'https://bcoug.org/' is a URL, not a domain name: did you mean bcoug.org?" -- \
  https://bcoug.org/
hint url-full "spf-lint: 'http://user:pw@www.bcoug.org:8080/spf?x#y' is a URL, not a domain name: did you mean www.bcoug.org?" -- \
  'http://user:pw@www.bcoug.org:8080/spf?x#y'
hint path "spf-lint: 'bcoug.org/' is not a domain name: did you mean bcoug.org?" -- bcoug.org/
hint address-empty "spf-lint: 'me@' is an e-mail address, not a domain name" -- me@
hint url-ip6 "spf-lint: 'http://[2001:db8::1]/' is a URL, not a domain name" -- 'http://[2001:db8::1]/'
hint domain-option "spf-lint: --domain 'me@bcoug.org' is an e-mail address, not a domain name: did you mean bcoug.org?" -- \
  --record 'v=spf1 -all' --domain me@bcoug.org
hint record "spf-lint: DOMAIN 'v=spf1 -all' is an SPF record, not a domain name: lint it with --record" -- \
  'v=spf1 -all'

# ---- DNS failures: of the domain's own record, exit 3; of an include, 2 ----------------
# (nothing listens on 127.0.0.1 port 1: every query fails at once or
# within --timeout)
expect dns-top-failure 3 '^spf-lint: the lint is incomplete: the SPF record of .bcoug\.org. could not be looked up$' -- \
  --server 127.0.0.1:1 --timeout 500 bcoug.org
grep -q '\[dns-error\]$' "$tmp/out" || bad dns-top-failure "no dns-error diagnostic in the report"
expect dns-top-failure-json 3 '"code": "dns-error", "node": 0' -- \
  --server 127.0.0.1:1 --timeout 500 --json bcoug.org
expect dns-include-failure 2 'include:x\.example +1  \(lookup failed\)' -- \
  --server 127.0.0.1:1 --timeout 500 --record 'v=spf1 include:x.example -all' --domain a.example
[ -s "$tmp/err" ] && bad dns-include-failure "a message on stderr"

# a report that cannot be written: the run failed (exit 3)
write_error() {
  name=$1
  shift
  "$lint" "$@" >/dev/full 2>"$tmp/err"
  got=$?
  if [ "$got" = 3 ]; then
    echo "ok write-error-$name"
  else
    bad "write-error-$name" "exit $got, want 3"
  fi
}
if [ -w /dev/full ]; then
  write_error report --record 'v=spf1 -all'
  write_error json --json --record 'v=spf1 +all'
  write_error help --help
fi

expect help 0 '^Usage: spf-lint' -- --help
expect version 0 '^spf-lint \(libmaildrop-spf\) [0-9]+\.[0-9]+\.[0-9]+$' -- --version
expect option-forms 1 'neutral' -- -zone="$zone" neutralall.lint.test
expect timeout-option 0 '' -- --zone "$zone" --timeout 5000 good.lint.test

if [ "$fails" -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "all spf-lint tests passed"

#!/bin/sh
# Command-line behaviour of spfquery: results, exit codes (libspf2's),
# option forms, error handling.  usage: test_spfquery.sh SPFQUERY SRCDIR
q=$1
src=$2
zone=$src/examples/zones/demo.zone
tmp=${TMPDIR:-/tmp}/spfquery-test.$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0

# expect NAME STATUS PATTERN -- args...: run spfquery, compare the exit
# status and grep stdout+stderr for PATTERN (extended regex).
expect() {
  name=$1 want=$2 pat=$3
  shift 4
  "$q" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, want $want"
    sed 's/^/  | /' "$tmp/out" "$tmp/err"
    fails=$((fails + 1))
    return
  fi
  if [ -n "$pat" ] && ! cat "$tmp/out" "$tmp/err" | grep -Eq -- "$pat"; then
    echo "FAIL $name: output does not match /$pat/"
    sed 's/^/  | /' "$tmp/out" "$tmp/err"
    fails=$((fails + 1))
    return
  fi
  echo "ok $name"
}

expect pass 2 'matched ip4:204\.244\.186\.184/32' -- \
  --zone "$zone" -ip 204.244.186.184 -sender me@bcoug.org
lines=$(wc -l <"$tmp/out")
[ "$lines" -eq 3 ] || { echo "FAIL pass: $lines output lines, want 3"; fails=$((fails + 1)); }
[ "$(head -n1 "$tmp/out")" = pass ] || { echo "FAIL pass: first line"; fails=$((fails + 1)); }
expect softfail 4 'matched ~all' -- \
  --zone "$zone" -ip 203.0.113.7 -sender me@bcoug.org
expect form-eq 2 '^pass' -- --zone="$zone" -ip=204.244.186.184 -sender=me@bcoug.org
expect form-dashdash 2 '^pass' -- --zone "$zone" --ip 204.244.186.184 --sender me@bcoug.org
expect form-dashdash-eq 2 '^pass' -- --zone "$zone" --ip=204.244.186.184 --sender=me@bcoug.org
expect helo-only 2 '^pass' -- --zone "$zone" -ip 198.51.100.25 -helo mail.bcoug.org
expect ipv6-mapped 2 '^pass' -- --zone "$zone" -ip ::ffff:204.244.186.184 -sender me@bcoug.org
expect syntax-error 7 'incldue' -- --zone "$zone" -ip 192.0.2.1 -sender x@broken.bcoug.org
grep -q '\^~' "$tmp/err" || { echo "FAIL syntax-error: no caret line"; fails=$((fails + 1)); }
expect none 5 '^none' -- --zone "$zone" -ip 192.0.2.1 -sender x@nowhere.invalid
expect override 3 '\[override\]' -- --zone "$zone" -ip 204.244.186.184 \
  -sender me@bcoug.org -override 'bcoug.org=v=spf1 -all'
expect fallback 1 '\[fallback\]' -- --zone "$zone" -ip 192.0.2.1 \
  -sender x@nowhere.invalid -fallback 'nowhere.invalid=v=spf1 ?all'
expect guess 2 '\[best guess\]' -- --zone "$zone" -ip 192.0.2.1 \
  -sender x@nowhere.invalid -guess 'v=spf1 +all'
expect local 2 '\[local policy\]' -- --zone "$zone" -ip 192.0.2.77 \
  -sender me@bcoug.org -local 'ip4:192.0.2.0/24'
expect default-exp 3 '^no from 192\.0\.2\.1$' -- --zone "$zone" -ip 192.0.2.1 \
  -sender me@bcoug.org -override 'bcoug.org=v=spf1 -all' \
  -default-explanation 'no from %{i}'
expect max-lookup 7 'DNS-querying terms' -- --zone "$zone" -ip 192.0.2.1 \
  -sender me@bcoug.org -max-lookup 2
expect debug 4 'debug: .*record bcoug\.org' -- --zone "$zone" -ip 203.0.113.7 \
  -sender me@bcoug.org -debug
expect help 0 'Usage' -- --help
expect version 0 'libmaildrop-spf' -- --version
expect bad-ip 255 'invalid IP' -- --zone "$zone" -ip 1.2.3.999 -sender a@bcoug.org
expect bad-ip-garbage 255 'invalid IP' -- --zone "$zone" -ip 'x y' -sender a@bcoug.org
expect no-ip 255 '' -- --zone "$zone" -sender a@bcoug.org
expect no-identity 255 '' -- --zone "$zone" -ip 192.0.2.1
expect unknown-option 255 'help' -- -frobnicate
expect missing-value 255 '' -- --zone "$zone" -ip
expect stray-argument 255 '' -- --zone "$zone" -ip 192.0.2.1 -sender a@b.example extra
expect control-char-sender 255 '' -- --zone "$zone" -ip 192.0.2.1 -sender "$(printf 'a\001@bcoug.org')"
expect bad-local 255 '' -- --zone "$zone" -ip 192.0.2.1 -sender a@bcoug.org -local 'moo:x'
expect bad-override 255 '' -- --zone "$zone" -ip 192.0.2.1 -sender a@bcoug.org -override 'bcoug.org'
expect no-resolver 255 'zone' -- -ip 192.0.2.1 -sender a@bcoug.org
printf 'example.com. IN A 1.2.3\n' >"$tmp/bad.zone"
expect bad-zone 255 'bad\.zone:1:' -- --zone "$tmp/bad.zone" -ip 192.0.2.1 -sender a@bcoug.org
expect missing-zone 255 'nonexistent' -- --zone "$tmp/nonexistent.zone" -ip 192.0.2.1 -sender a@bcoug.org

if [ "$fails" -ne 0 ]; then
  echo "$fails spfquery test(s) failed"
  exit 1
fi
echo "all spfquery tests passed"

#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# test_evloop.sh SPF_EVLOOP DNSFAULT
#
# Runs the libevent example (examples/spf-evloop.c, through
# include/maildrop-spf/adapters/libevent.h and the c-ares backend) against
# the scripted DNS responder: 1,000 checks mixing answers that pass, fail
# to resolve, do not exist, arrive late or never arrive, once one at a
# time and once 100 at a time.  Every input line must be reported exactly
# once with the expected result, and the concurrent run must be much
# faster than the sequential one (the slow and dropped names overlap).
#
# Exit 0 pass, 1 fail, 77 skip (a program is missing).
set -u

EV=${1:?usage: test_evloop.sh SPF_EVLOOP DNSFAULT}
DF=${2:?usage: test_evloop.sh SPF_EVLOOP DNSFAULT}
for p in "$EV" "$DF"; do
  if [ ! -x "$p" ]; then
    echo "SKIP: $p not built"
    exit 77
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_evloop.XXXXXX") || exit 1
dfpid=
# shellcheck disable=SC2317 # called through the trap
cleanup() {
  if [ -n "$dfpid" ]; then
    kill "$dfpid" 2>/dev/null
    wait "$dfpid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  echo "FAIL: $*"
  exit 1
}

# ---- the DNS responder ---------------------------------------------------
# Its stdin stays open (a fifo held by this shell) in case it reads a
# script from there; it prints "port N" once it listens.
mkfifo "$tmp/df.in" || exit 1
"$DF" -p 0 -s <"$tmp/df.in" >"$tmp/df.out" 2>"$tmp/df.err" &
dfpid=$!
exec 3>"$tmp/df.in"
port=
i=0
while [ $i -lt 100 ]; do
  port=$(sed -n 's/^port \([0-9][0-9]*\).*/\1/p' "$tmp/df.out" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$dfpid" 2>/dev/null || break
  sleep 0.1
  i=$((i + 1))
done
[ -n "$port" ] || { cat "$tmp/df.err"; fail "dnsfault did not print its port"; }
server="127.0.0.1:$port"

# ---- input and expected output ---------------------------------------------
# 1,000 lines.  x@ok.test and x@slow-200.test publish
# "v=spf1 ip4:192.0.2.1 -all" (the slow one 200 ms late); servfail.* and
# nxdomain.* give temperror and none; drop.* is never answered, so with
# --timeout 300 the check's own budget ends it: temperror after 300 ms.
awk 'BEGIN {
  for (i = 1; i <= 1000; i++) {
    if (i % 100 == 7) {
      d = "drop.test"; r = "temperror"; m = "-"
    } else if (i % 50 == 3) {
      d = "slow-200.test"; r = "pass"; m = "ip4:192.0.2.1"
    } else if (i % 5 == 1) {
      d = "servfail.test"; r = "temperror"; m = "-"
    } else if (i % 5 == 2) {
      d = "nxdomain.test"; r = "none"; m = "-"
    } else {
      d = "ok.test"; r = "pass"; m = "ip4:192.0.2.1"
    }
    ip = "192.0.2.1"; s = "x@" d; h = ""
    if (i == 500) { s = "<>"; h = " ok.test" }     # null sender: HELO
    if (i == 600) { ip = "192.0.2.99"; r = "fail" } # -all matches
    if (i == 999) { ip = "192.0.2.300"; r = "error"; m = "-" }
    printf "%s %s%s\n", ip, s, h > "'"$tmp"'/in"
    if (r == "fail") m = "-all"
    printf "%d %s %s\n", i, r, m > "'"$tmp"'/expected"
  }
}' || fail "cannot write the input"

# ---- runs -----------------------------------------------------------------
run() { # run NAME CONCURRENCY
  "$EV" --server "$server" --concurrency "$2" --timeout 300 "$tmp/in" \
    >"$tmp/$1.out" 2>"$tmp/$1.err"
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/$1.err"; fail "$1: exit status $rc"; }
  sort -n "$tmp/$1.out" >"$tmp/$1.sorted"
  if ! cmp -s "$tmp/$1.sorted" "$tmp/expected"; then
    diff "$tmp/expected" "$tmp/$1.sorted" | head -n 20
    fail "$1: results differ from the expected ones (diff above)"
  fi
  n=$(wc -l <"$tmp/$1.out")
  [ "$n" -eq 1000 ] || fail "$1: $n lines reported, expected 1000"
  grep -q '^1000 checks in [0-9]* ms' "$tmp/$1.err" ||
    { cat "$tmp/$1.err"; fail "$1: no summary"; }
  sed -n 's/^1000 checks in \([0-9]*\) ms.*/\1/p' "$tmp/$1.err"
}

seq_ms=$(run sequential 1) || { echo "$seq_ms"; exit 1; }
conc_ms=$(run concurrent 100) || { echo "$conc_ms"; exit 1; }
echo "sequential: ${seq_ms} ms, concurrent: ${conc_ms} ms"
echo "  $(grep 'checks in' "$tmp/sequential.err")"
echo "  $(grep 'checks in' "$tmp/concurrent.err")"

# One at a time, the 20 slow names (200 ms) and 10 dropped ones (300 ms
# budget) alone take 7 s (less a little millisecond rounding); 100 at a
# time they overlap.
[ "$seq_ms" -ge 6900 ] ||
  fail "sequential run too fast (${seq_ms} ms): slow names not slow?"
[ $((conc_ms * 4)) -lt "$seq_ms" ] ||
  fail "concurrent run (${conc_ms} ms) not much faster" \
    "than the sequential one (${seq_ms} ms)"

# Completion order differs from input order when checks overlap.
if cmp -s "$tmp/concurrent.out" "$tmp/expected"; then
  fail "concurrent run reported in input order: were checks overlapping?"
fi

# ---- usage errors ---------------------------------------------------------
for args in "--concurrency 0" "--concurrency x" "--timeout 0" "--bogus" \
  "--server" "a b"; do
  # shellcheck disable=SC2086
  "$EV" $args </dev/null >/dev/null 2>&1
  rc=$?
  [ $rc -eq 2 ] || fail "spf-evloop $args: exit status $rc, expected 2"
done
printf '' | "$EV" --server "$server" >/dev/null 2>&1 ||
  fail "empty input: non-zero exit status"

echo "PASS"
exit 0

#!/usr/bin/env bash
# run-valgrind.sh -- run the test programs under valgrind memcheck.
#
# usage: run-valgrind.sh BUILD_BIN_DIR SRCDIR
#
# Runs, each under memcheck with --leak-check=full --show-leak-kinds=all
# --errors-for-leak-kinds=all --track-fds=yes --track-origins=yes:
#   - every unit test program BUILD_BIN_DIR/test_* (test_cares is given
#     the dnsfault responder as argv[1] and runs first, alone: its c-ares
#     timeouts are short; test_udp, whose retry timing is measured, runs
#     alone too; test_threads runs fewer rounds),
#   - spf-testsuite over the openspf RFC 7208 suite ($MDSPF_SUITE_DIR, else
#     SRCDIR/../shared/testsuite; skipped with a message when absent) and
#     over the project's own files, SRCDIR/tests/suite-data/*.yml,
#   - spfquery: single checks over --zone (pass, a syntax error with
#     -debug, overrides/local policy/guess) and a -file batch of the
#     integration cases over the integration zones, whose output must
#     equal a run without valgrind.
# A program passes when it exits as expected AND valgrind reports zero
# errors (any leak, of any kind, is an error) AND it leaves no file
# descriptor open that it did not inherit.  Children the programs start
# (dnsfault) run natively (--trace-children=no).  Prints one ok/FAIL line
# per program, valgrind's report for each failure, and a closing
# "N passed, M failed" line; exits non-zero when anything failed.
#
# Environment: VALGRIND (default valgrind), VG_JOBS (programs run in
# parallel, default: number of CPUs), VG_TIMEOUT (seconds per program,
# default 300), MDSPF_SUITE_DIR.
# SPDX-License-Identifier: BSD-2-Clause
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_BIN_DIR SRCDIR" >&2
  exit 2
fi
BIN=$(cd "$1" && pwd) || exit 2
SRC=$(cd "$2" && pwd) || exit 2
VALGRIND=${VALGRIND:-valgrind}
# Programs run several times slower under valgrind: timing-based tests
# (test_cares, test_udp) stretch their timeouts and bounds by this factor.
export MDSPF_TEST_TIME_SCALE=${MDSPF_TEST_TIME_SCALE:-4}
JOBS=${VG_JOBS:-$(nproc 2>/dev/null || echo 2)}
VG_TIMEOUT=${VG_TIMEOUT:-300} # seconds per program
SUITE_DIR=${MDSPF_SUITE_DIR:-$SRC/../shared/testsuite}

if ! command -v "$VALGRIND" >/dev/null 2>&1; then
  echo "run-valgrind.sh: $VALGRIND not found" >&2
  exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mdspf-valgrind.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP

VG_ARGS=(--tool=memcheck --leak-check=full --show-leak-kinds=all
  --errors-for-leak-kinds=all --error-exitcode=1 --track-fds=yes
  --trace-children=no --track-origins=yes --num-callers=30)
if [ -f "$SRC/tests/valgrind.supp" ]; then
  VG_ARGS+=("--suppressions=$SRC/tests/valgrind.supp")
fi

# ---- the job list -----------------------------------------------------------
# NAMES[i], WANT[i] (expected exit status), CMDS[i] (NUL-separated argv in
# $TMP/NAME.argv), optional COMPARE[i] (a file the output must equal).
NAMES=() WANT=() COMPARE=() SOLO=() STDIN=()

# job [--solo] [--stdin FILE] NAME WANT_STATUS COMPARE_FILE -- PROGRAM ARGS...
# --solo: run alone, before the others (a test with network timeouts
# that must not compete for the CPU with other programs under valgrind).
# --stdin: the program's standard input (default /dev/null).
job() {
  local solo=0 in=/dev/null
  if [ "$1" = --solo ]; then
    solo=1
    shift
  fi
  if [ "$1" = --stdin ]; then
    in=$2
    shift 2
  fi
  local name=$1 want=$2 cmp=$3
  shift 4
  NAMES+=("$name") WANT+=("$want") COMPARE+=("$cmp") SOLO+=("$solo")
  STDIN+=("$in")
  printf '%s\0' "$@" >"$TMP/$name.argv"
}

nunit=0
for t in "$BIN"/test_*; do
  if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
  n=$(basename "$t")
  case $n in
  test_cares) job --solo "$n" 0 "" -- "$t" "$BIN/dnsfault" ;;
  test_udp) job --solo "$n" 0 "" -- "$t" ;; # measures retry timing
  test_threads) job "$n" 0 "" -- "$t" 8 8 ;; # valgrind serialises threads
  *) job "$n" 0 "" -- "$t" ;;
  esac
  nunit=$((nunit + 1))
done
if [ "$nunit" -eq 0 ]; then
  echo "FAIL no test_* programs in $BIN"
  exit 1
fi

SKIPPED=()
SUITE_FILE=
for f in "$SUITE_DIR/rfc7208-tests.yml" \
  /usr/share/gocode/src/blitiri.com.ar/go/spf/testdata/rfc7208-tests.yml; do
  if [ -f "$f" ]; then
    SUITE_FILE=$f
    break
  fi
done
if [ -n "$SUITE_FILE" ]; then
  job rfc7208-suite 0 "" -- "$BIN/spf-testsuite" "$SUITE_FILE"
elif [ "${MDSPF_REQUIRE_SUITE:-0}" = 1 ] || [ "${CI:-}" = true ]; then
  echo "FAIL rfc7208-suite: the openspf suite is required and was not found"
  exit 1
else
  SKIPPED+=("rfc7208-suite: openspf suite not found (set MDSPF_SUITE_DIR)")
fi
job suite-fixtures 0 "" -- "$BIN/spf-testsuite" "$SRC"/tests/suite-data/*.yml

Q=$BIN/spfquery
DEMO=$SRC/examples/zones/demo.zone
job spfquery-pass 2 "" -- "$Q" --zone "$DEMO" \
  -ip 204.244.186.184 -sender me@bcoug.org
job spfquery-syntax-debug 7 "" -- "$Q" --zone "$DEMO" \
  -ip 203.0.113.7 -sender me@broken.bcoug.org -debug
job spfquery-policy 3 "" -- "$Q" --zone "$DEMO" \
  -ip 192.0.2.77 -sender me@bcoug.org -helo mail.example.net \
  -override bcoug.org='v=spf1 include:nothing.example -all' \
  -fallback nothing.example='v=spf1 ip4:192.0.2.1 -all' \
  -local 'ip4:198.51.100.0/24' -guess 'v=spf1 a/24 mx/24 ptr' \
  -default-explanation 'no %{i} for %{d} (%{r})' -max-lookup 20

# The integration cases as one batch ("ip sender helo" lines) over the
# integration zones; with many checks in flight, as JSON.
ZONES=()
for f in "$SRC"/tests/integration/zones/*.zone; do ZONES+=(--zone "$f"); done
awk '!/^[[:space:]]*(#|$)/ { print $1, $2, $3 }' \
  "$SRC/tests/integration/cases.txt" >"$TMP/cases.in"
batch=("$Q" "${ZONES[@]}" -file "$TMP/cases.in" --concurrency 32)
"${batch[@]}" 2>&1 | sed -E 's/,? *"elapsed_ms" *: *[-0-9.eE+]+//' >"$TMP/batch.native"
job spfquery-batch "${PIPESTATUS[0]}" "$TMP/batch.native" -- "${batch[@]}"
"${batch[@]}" --json 2>&1 |
  sed -E 's/,? *"elapsed_ms" *: *[-0-9.eE+]+//' >"$TMP/batch-json.native"
job spfquery-batch-json "${PIPESTATUS[0]}" "$TMP/batch-json.native" -- \
  "${batch[@]}" --json

# spf-policyd in spawn mode: requests over the integration zones, each
# decided (HELO and MAIL FROM checks, loopback skip, null sender, SASL),
# with the same replies as a run without valgrind.
if [ -x "$BIN/spf-policyd" ]; then
  awk '!/^[[:space:]]*(#|$)/ {
         n++
         printf "request=smtpd_access_policy\nclient_address=%s\n", $1
         printf "helo_name=%s\nsender=%s\n", $3, ($2 == "<>" ? "" : $2)
         printf "recipient=bob@example.net\ninstance=i%d\n\n", n
       }
       END { printf "client_address=127.0.0.1\nsender=a@b.example\n\n"
             printf "client_address=192.0.2.1\nsasl_username=u\n\n" }' \
    "$SRC/tests/integration/cases.txt" >"$TMP/policyd.in"
  pd=("$BIN/spf-policyd" --no-config --log syslog "${ZONES[@]}")
  "${pd[@]}" <"$TMP/policyd.in" >"$TMP/policyd.native" 2>&1
  job --stdin "$TMP/policyd.in" spf-policyd-spawn 0 "$TMP/policyd.native" -- \
    "${pd[@]}"
fi

# ---- running ------------------------------------------------------------------

# run_job I: run job I under valgrind; writes $TMP/NAME.{out,rc}; the
# valgrind logs are $TMP/NAME.vg.PID (one per process before exec).
run_job() {
  local name=${NAMES[$1]} argv=()
  mapfile -d '' -t argv <"$TMP/$name.argv"
  local start=$SECONDS
  timeout --kill-after=10 "$VG_TIMEOUT" \
    "$VALGRIND" "${VG_ARGS[@]}" "--log-file=$TMP/$name.vg.%p" "${argv[@]}" \
    >"$TMP/$name.out" 2>&1 <"${STDIN[$1]}"
  echo "$? $((SECONDS - start))" >"$TMP/$name.rc"
}

# Verdict of job I: prints "ok ..." or "FAIL ..." plus the report.
# Returns 0 when it passed.
judge() {
  local i=$1 name=${NAMES[$1]} rc secs why=() log errs leaked
  read -r rc secs <"$TMP/$name.rc"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    why+=("timed out after ${VG_TIMEOUT}s")
  elif [ "$rc" != "${WANT[$i]}" ]; then
    why+=("exit status $rc, want ${WANT[$i]}")
  fi
  errs=0 leaked=0
  for log in "$TMP/$name".vg.*; do
    [ -f "$log" ] || continue
    # "ERROR SUMMARY: N errors" (absent in a child that exec'd: fine)
    n=$(sed -n 's/.*ERROR SUMMARY: \([0-9][0-9]*\) error.*/\1/p' "$log" | tail -n 1)
    errs=$((errs + ${n:-0}))
    # --track-fds: every descriptor open at exit must be inherited
    n=$(awk '/== Open / { want = 1; next }
             want { if ($0 !~ /<inherited from parent>/) bad++; want = 0 }
             END { print bad + 0 }' "$log")
    leaked=$((leaked + n))
  done
  [ "$errs" -eq 0 ] || why+=("$errs valgrind error(s)")
  [ "$leaked" -eq 0 ] || why+=("$leaked file descriptor(s) left open")
  local out=$TMP/$name.out
  if [ -n "${COMPARE[$i]}" ]; then
    # elapsed_ms is the only member of a --json line that may differ
    sed -E 's/,? *"elapsed_ms" *: *[-0-9.eE+]+//' "$TMP/$name.out" >"$out.norm"
    out=$out.norm
    cmp -s "${COMPARE[$i]}" "$out" || why+=("output differs from the run without valgrind")
  fi
  if [ ${#why[@]} -eq 0 ]; then
    printf 'ok   %-24s %3ss\n' "$name" "$secs"
    return 0
  fi
  local reasons=${why[0]} k
  for ((k = 1; k < ${#why[@]}; k++)); do reasons+="; ${why[$k]}"; done
  printf 'FAIL %-24s %3ss  (%s)\n' "$name" "$secs" "$reasons"
  for log in "$TMP/$name".vg.*; do
    [ -f "$log" ] || continue
    # the report without valgrind's banner and the clean-run noise
    grep -v -E '^==[0-9]+== (Memcheck|Copyright|Using Valgrind|Command|Parent PID|$)|<inherited from parent>|^==[0-9]+== +$' \
      "$log" | grep -v -E '^==[0-9]+== Open file descriptor [0-9]+:( /dev/null| .*\.vg\.[0-9]+)?$' |
      head -n 200 | sed 's/^/    /'
  done
  echo "    --- program output (last 30 lines) ---"
  if [ -n "${COMPARE[$i]}" ]; then
    diff "${COMPARE[$i]}" "$out" | head -n 20 | sed 's/^/    diff: /'
  fi
  tail -n 30 "$TMP/$name.out" | sed 's/^/    | /'
  return 1
}

echo "valgrind memcheck: ${#NAMES[@]} programs, $JOBS at a time"
for s in "${SKIPPED[@]}"; do echo "skip $s"; done

FAILED_NAMES=()
passed=0 failed=0
count() {
  if judge "$1"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    FAILED_NAMES+=("${NAMES[$1]}")
  fi
}

# Solo jobs first, one at a time with nothing else running (test_cares:
# its c-ares per-try timeout is 200 ms, which a CPU shared by two
# programs under valgrind can miss).
for i in "${!NAMES[@]}"; do
  if [ "${SOLO[$i]}" = 1 ]; then
    run_job "$i"
    count "$i"
  fi
done

# Then a small job pool; verdicts are printed as jobs finish.
declare -A PID_OF=()
next=0 running=0
reap() {
  local i
  wait -n 2>/dev/null || true
  for i in "${!PID_OF[@]}"; do
    if [ -f "$TMP/${NAMES[$i]}.rc" ]; then # written last by run_job
      wait "${PID_OF[$i]}" 2>/dev/null
      unset "PID_OF[$i]"
      running=$((running - 1))
      count "$i"
    fi
  done
}
while [ "$next" -lt ${#NAMES[@]} ] || [ "$running" -gt 0 ]; do
  if [ "$next" -lt ${#NAMES[@]} ] && [ "${SOLO[$next]}" = 1 ]; then
    next=$((next + 1)) # already run
  elif [ "$next" -lt ${#NAMES[@]} ] && [ "$running" -lt "$JOBS" ]; then
    run_job "$next" &
    PID_OF[$next]=$!
    running=$((running + 1))
    next=$((next + 1))
  else
    reap
  fi
done

if [ "$failed" -gt 0 ]; then
  echo "valgrind found problems in: ${FAILED_NAMES[*]}"
fi
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

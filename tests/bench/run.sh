#!/usr/bin/env bash
# run.sh -- run spf-bench (libmaildrop-spf against libspf2), the Python
# binding against pyspf (python_bench.py), then the
# policy-service comparison (spf-policyd against Debian's policyd-spf,
# driven by spf-policyload from the same directory as SPF_BENCH), against
# NSD on loopback.  ./build.sh bench builds everything and calls this.
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: run.sh SPF_BENCH SPFQUERY [SRCDIR] [-- SPF-BENCH OPTIONS...]
#
# libspf2 resolves through the system resolver, which reads the server
# from /etc/resolv.conf and always uses port 53.  So, where it can, this
# script re-runs itself in a private network and mount namespace
# (unshare --net --mount, with --map-root-user when not root): there the
# loopback interface is the namespace's own, NSD listens on 127.0.0.1:53,
# the benchmark's delay proxy on 127.0.0.2:53, and /etc/resolv.conf is a
# file of this run bind-mounted over the real one, which the benchmark
# rewrites before each libspf2 measurement.  Nothing outside the
# namespace sees the servers or the file, and all traffic stays on the
# namespace's loopback.  Where unshare does not work, NSD runs on a free
# port of the ordinary loopback and libspf2's DNS rows say n/a.
#
# NSD serves tests/bench/zones/*.zone (plus a per-run probe zone) from a
# temporary directory and is stopped, and the directory removed, on every
# exit path (see tests/nsd-lib.sh, shared with the integration and
# compatibility tests, which also holds the namespace set-up).
#
# Exit status: 0 figures printed; 1 wrong results or a failure in
# any part (spf-policyd not built, an action that differs between the
# policy services, the binding's extension not built, ...), or NSD could
# not be started; 77 when nsd is not installed.
# Environment: NSD=/path/to/nsd; MDSPF_BENCH_NO_NS=1 skips the namespace
# (policyd-spf then cannot be measured); MDSPF_BENCH_POLICY=0 skips the
# policy services, MDSPF_BENCH_POLICY_ONLY=1 runs only them;
# MDSPF_POLICY_CONNS (100: Postfix's default_process_limit, one policy
# connection per smtpd process) and MDSPF_POLICY_SECONDS (8) size their
# load; MDSPF_POLICYD and MDSPF_POLICYD_SPF name other programs to
# compare; MDSPF_BENCH_PYTHON=0 skips the Python section,
# MDSPF_BENCH_PYTHON_ONLY=1 runs only it, MDSPF_BENCH_PY_SECONDS (4) sets
# its time per measurement (pyspf's is twice that).
# shellcheck disable=SC2317 # cleanup runs from traps
set -u

PROG=bench
say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  printf '%s: FAIL: %s\n' "$PROG" "$*" >&2
  exit 1
}

BENCH=${1:-}
SPFQUERY=${2:-}
if [ -z "$BENCH" ] || [ -z "$SPFQUERY" ]; then
  echo "usage: run.sh SPF_BENCH SPFQUERY [SRCDIR] [-- SPF-BENCH OPTIONS...]" >&2
  exit 2
fi
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ] && [ "$1" != -- ]; then
  HERE=$(cd "$1/tests/bench" && pwd) || exit 1
  shift
fi
[ $# -gt 0 ] && [ "$1" = -- ] && shift
BENCH_ARGS=("$@")

[ -x "$BENCH" ] || die "spf-bench '$BENCH' is not an executable file"
[ -x "$SPFQUERY" ] || die "spfquery '$SPFQUERY' is not an executable file"
BENCH=$(cd "$(dirname "$BENCH")" && pwd)/$(basename "$BENCH")
SPFQUERY=$(cd "$(dirname "$SPFQUERY")" && pwd)/$(basename "$SPFQUERY")

# shellcheck source=../nsd-lib.sh
. "$HERE/../nsd-lib.sh" || die "cannot read $HERE/../nsd-lib.sh"
nsd_note() { say "$@"; }
NSD_BIN=$(nsd_find)
if [ -z "$NSD_BIN" ]; then
  say "SKIPPED: nsd not found; install the Debian package 'nsd' (./build.sh bench does)"
  exit 77
fi

# ---------------------------------------------------------------------------
# The private namespace
# ---------------------------------------------------------------------------

if [ -z "${MDSPF_BENCH_INNER:-}" ]; then
  if [ "${MDSPF_BENCH_NO_NS:-0}" != 1 ]; then
    if nsd_netns_check; then
      export MDSPF_BENCH_INNER=ns
      exec unshare "${NSD_NETNS_ARGS[@]}" -- bash "$0" "$BENCH" "$SPFQUERY" \
        "$(cd "$HERE/../.." && pwd)" -- "${BENCH_ARGS[@]}"
    fi
    say "$NSD_NETNS_WHY; libspf2's DNS rows will be n/a"
  fi
  MDSPF_BENCH_INNER=plain
fi

# ---------------------------------------------------------------------------
# Temporary directory, cleanup on every exit path
# ---------------------------------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mdspf-bench.XXXXXX") || die "mktemp -d failed"
CHILD_PID=
DAEMON_PID=
cleanup() {
  local status=$? p
  trap - EXIT INT TERM HUP
  for p in "$CHILD_PID" "$DAEMON_PID"; do
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  nsd_stop
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

RESOLV_ARGS=()
if [ "$MDSPF_BENCH_INNER" = ns ]; then
  nsd_netns_setup "$TMP" || die "$NSD_NETNS_WHY"
  RESOLV_ARGS=(--resolv-conf "$TMP/resolv.conf")
fi

# ---------------------------------------------------------------------------
# NSD
# ---------------------------------------------------------------------------

mkdir -p "$TMP/zones" || die "cannot populate $TMP"
NSD_ZONES=()
for f in "$HERE"/zones/*.zone; do
  z=$(basename "$f" .zone)
  NSD_ZONES+=("$z")
  cp "$f" "$TMP/zones/" || die "cannot copy $f"
done
[ ${#NSD_ZONES[@]} -gt 0 ] || die "no zone files in $HERE/zones"

# A per-run probe zone: its record passes only this run's random address,
# so the readiness probe cannot be answered by another server.
h() { printf '%x' $(((RANDOM << 1 ^ RANDOM ^ $$) & 0xffff)); }
PROBE_IP="2001:db8:ffff:$(h):$(h):$(h):$(h):1"
cat >"$TMP/zones/probe.test.zone" <<EOF
\$ORIGIN probe.test.
\$TTL 60
@ SOA ns1.probe.test. hostmaster.probe.test. ( 1 3600 900 604800 60 )
  NS ns1.probe.test.
  TXT "v=spf1 ip6:$PROBE_IP -all"
EOF
NSD_ZONES+=(probe.test)

probe() {
  local out
  out=$("$SPFQUERY" --server "$1" --timeout 300 -ip "$PROBE_IP" \
    -sender probe@probe.test 2>/dev/null)
  [ $? = 2 ] && [ "${out%%$'\n'*}" = pass ]
}

start_nsd() { # PORT
  nsd_write_conf "$TMP/nsd.conf" "$TMP" "$1" "127.0.0.1@$1" ||
    die "nsd-checkconf rejects the configuration: $(cat "$TMP/checkconf.out")"
  nsd_launch "$TMP/nsd.conf" "$TMP" probe "127.0.0.1:$1"
}

t0=$(nsd_now_ms)
if [ "$MDSPF_BENCH_INNER" = ns ]; then
  PORT=53
  rc=0
  start_nsd "$PORT" || rc=$?
  [ $rc = 0 ] || die "nsd did not start on 127.0.0.1:53 in the namespace:"$'\n'"$NSD_LOG"
  PROXY=127.0.0.2:53
else
  for ((attempt = 1; attempt <= 10; attempt++)); do
    PORT=$(nsd_pick_port)
    rc=0
    start_nsd "$PORT" || rc=$?
    [ $rc = 0 ] && break
    case $NSD_LOG in
    *"Address already in use"*) say "port $PORT is taken; trying another" ;;
    *) die "nsd did not start:"$'\n'"$NSD_LOG" ;;
    esac
  done
  [ $rc = 0 ] || die "could not start nsd on a free port"
  PROXY=127.0.0.1:0
fi
if grep -i 'error' "$TMP/nsd.log" >"$TMP/nsd.errors" 2>/dev/null; then
  die "nsd logged errors:"$'\n'"$(cat "$TMP/nsd.errors")"
fi
say "nsd $("$NSD_BIN" -v 2>&1 | sed -n '1s/^NSD version //p') on 127.0.0.1:$PORT ($([ "$MDSPF_BENCH_INNER" = ns ] && echo "private network namespace" || echo "no namespace")), ready after $(($(nsd_now_ms) - t0)) ms"

# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------

rc=0
if [ "${MDSPF_BENCH_POLICY_ONLY:-0}" != 1 ] &&
  [ "${MDSPF_BENCH_PYTHON_ONLY:-0}" != 1 ]; then
  "$BENCH" --nsd "127.0.0.1:$PORT" --proxy "$PROXY" "${RESOLV_ARGS[@]}" \
    "${BENCH_ARGS[@]}" &
  CHILD_PID=$!
  wait "$CHILD_PID"
  rc=$?
  CHILD_PID=
fi

# ---------------------------------------------------------------------------
# Python: the binding (bindings/python) against pyspf
# ---------------------------------------------------------------------------
#
# python_bench.py measures maildrop_spf.check (one at a time) and
# maildrop_spf.check_async (256 in flight) next to pyspf's spf.check2 on
# spf-bench's workload (spf-bench --print-workload), straight to NSD and
# through the delay proxy (spf-bench --exec keeps it up meanwhile).  Both
# resolve through /etc/resolv.conf, so only in the namespace.  The
# extension is built against the build's libraries (the lib/ next to
# SPF_BENCH's bin/, or MDSPF_BENCH_LIBDIR).

python_bench() {
  local py='' cand lib libdir=${MDSPF_BENCH_LIBDIR:-$BIN/../lib} r=0
  local secs=${MDSPF_BENCH_PY_SECONDS:-4}
  echo
  echo "Python binding against pyspf"
  if [ "$MDSPF_BENCH_INNER" != ns ]; then
    echo "n/a: pyspf resolves through /etc/resolv.conf on port 53, so it needs the private network namespace, not used in this run"
    return 0
  fi
  for cand in /usr/bin/python3 python3; do
    if "$cand" -c 'import spf, cffi, setuptools' >/dev/null 2>&1; then
      py=$(command -v "$cand")
      break
    fi
  done
  if [ -z "$py" ]; then
    echo "n/a: no python3 with pyspf, cffi and setuptools (Debian: python3-spf python3-cffi python3-setuptools python3-dev, which ./build.sh bench installs)"
    return 0
  fi
  lib=$(bash "$HERE/../../bindings/python/build-ext.sh" "$py" "$HERE/../.." \
    "$libdir" "$TMP/python") || {
    say "FAIL: Python: building the binding's extension against $libdir failed"
    return 1
  }
  "$BENCH" --print-workload >"$TMP/workload.txt" || {
    say "FAIL: spf-bench --print-workload"
    return 1
  }
  # resolv.conf is rewritten per measurement; PORT is 53 in the namespace
  PYTHONPATH=$lib "$BENCH" --nsd "127.0.0.1:$PORT" --proxy 127.0.0.2:53 \
    --delay-ms 5 --exec "$py" "$HERE/python_bench.py" \
    --workload "$TMP/workload.txt" --resolv-conf "$TMP/resolv.conf" \
    --nsd 127.0.0.1 --proxy 127.0.0.2 --delay-ms 5 --seconds "$secs" &
  CHILD_PID=$!
  wait "$CHILD_PID" || r=$?
  CHILD_PID=
  printf 'nameserver 127.0.0.1\n' >"$TMP/resolv.conf"
  return $r
}

if [ "${MDSPF_BENCH_POLICY_ONLY:-0}" != 1 ] && [ "${MDSPF_BENCH_PYTHON:-1}" != 0 ]; then
  BIN=$(dirname "$BENCH")
  python_bench || rc=1
fi

# ---------------------------------------------------------------------------
# The policy services: spf-policyd against Debian's policyd-spf
# ---------------------------------------------------------------------------
#
# spf-policyload (policyload.c) drives both with the same requests: N
# persistent connections (100) to spf-policyd, a daemon on a Unix socket
# with its cache off so that it does the same DNS work, and N policyd-spf
# processes, one per connection on its standard input and output, as
# Postfix's spawn(8) runs it.  Both read the same policyd-spf.conf
# (spf-engine's defaults, spelled out below, logging off).  Three set-ups:
# through the delay proxy (every DNS query held 5 ms, as by a resolver a
# few milliseconds away: the realistic one), then straight to NSD (no
# delay: what the CPU allows), then spf-policyd as installed (its shared
# DNS cache on) through the proxy again, against policyd-spf's first
# figures.  policyd-spf resolves through
# /etc/resolv.conf, which in the namespace is this run's file, rewritten
# before each set-up; spf-policyd gets the same server with --server.

policy_bench() {
  local loadgen=$BIN/spf-policyload policyd=${MDSPF_POLICYD:-$BIN/spf-policyd}
  local conns=${MDSPF_POLICY_CONNS:-100} secs=${MDSPF_POLICY_SECONDS:-8}
  local delay=5 mode dns title ours_why= theirs_why= ver prc=0 r py logsize
  local px=() theirs=() theirs_desc= cache=()
  if [ ! -x "$loadgen" ]; then
    say "FAIL: policy services: $loadgen is not built"
    return 1
  fi
  if [ ! -x "$policyd" ]; then
    ours_why="not built: there is no $policyd"
  fi
  # policyd-spf: Debian's program (postfix-policyd-spf-python) where it
  # is installed, else the entry point it calls, from python3-spf-engine
  # (the same code without the postfix package), run by a Python that has
  # the module (Debian's, which a python3 earlier in PATH may not be)
  if [ -n "${MDSPF_POLICYD_SPF:-}" ]; then
    theirs=("$MDSPF_POLICYD_SPF")
    theirs_desc=$MDSPF_POLICYD_SPF
  elif command -v policyd-spf >/dev/null 2>&1; then
    theirs=("$(command -v policyd-spf)")
    theirs_desc=${theirs[0]}
  else
    for py in /usr/bin/python3 python3; do
      if "$py" -c 'import spf_engine.policyd_spf' >/dev/null 2>&1; then
        theirs=("$py" -c 'import sys; from spf_engine.policyd_spf import main; sys.argv[0] = "policyd-spf"; sys.exit(main())')
        theirs_desc="$py, spf_engine.policyd_spf.main (/usr/bin/policyd-spf's code)"
        break
      fi
    done
  fi
  if [ ${#theirs[@]} = 0 ]; then
    theirs_why="not installed (Debian: python3-spf-engine, which ./build.sh bench installs)"
  elif [ "$MDSPF_BENCH_INNER" != ns ]; then
    theirs_why="it resolves through /etc/resolv.conf on port 53, so it needs the benchmark's private network namespace, not used in this run"
  fi
  ver=$(dpkg-query -W -f='spf-engine ${Version}' python3-spf-engine 2>/dev/null)
  ver+=$(dpkg-query -W -f=', pyspf ${Version}' python3-spf 2>/dev/null)
  {
    echo "# spf-engine's defaults, spelled out, with logging off (thousands"
    echo "# of results would otherwise go to the system log)"
    echo "debugLevel = 0"
    echo "TestOnly = 1"
    echo "HELO_reject = Fail"
    echo "Mail_From_reject = Fail"
    echo "PermError_reject = False"
    echo "TempError_Defer = False"
    echo "skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1"
    echo "Lookup_Time = 20"
  } >"$TMP/policyd-spf.conf"
  echo
  echo "policy services: spf-policyd against Debian's policyd-spf (${ver:-spf-engine on pyspf})"
  [ -n "$theirs_desc" ] && echo "policyd-spf: $theirs_desc"
  echo "$conns connections, ${secs} s timed after a warm-up message on each;"
  echo "messages round-robin over the workload's checks (sender, client address), 1 to 3"
  echo "recipients each; spf-policyd with --no-cache (but in the last set-up), so that"
  echo "both make every DNS query of every check; policyd-spf: one process per"
  echo "connection, as Postfix spawns it"
  for mode in proxy direct cached; do
    px=()
    cache=(--no-cache)
    if [ "$mode" = cached ]; then
      # spf-policyd as installed: its DNS cache shared by all connections
      # (on by default), against policyd-spf's run through the proxy
      [ "$MDSPF_BENCH_INNER" = ns ] || continue
      dns=127.0.0.2
      px=(--nsd "127.0.0.1:$PORT" --proxy 127.0.0.2:53 --delay-ms "$delay")
      cache=()
      title="== through the delay proxy, spf-policyd with its shared DNS cache (its default)
the workload repeats its 19 checks, so after the first round the cache answers
nearly every lookup: an upper bound, real traffic repeats less; policyd-spf's
figures are those of the first set-up (it has no cache to turn on)"
    elif [ "$mode" = proxy ]; then
      # the proxy must be on port 53 for policyd-spf: namespace only
      [ "$MDSPF_BENCH_INNER" = ns ] || continue
      dns=127.0.0.2
      px=(--nsd "127.0.0.1:$PORT" --proxy 127.0.0.2:53 --delay-ms "$delay")
      title="== through the delay proxy, every DNS query held $delay ms (realistic)"
    else
      dns=127.0.0.1
      [ "$PORT" = 53 ] || dns=127.0.0.1:$PORT
      title="== straight to NSD on loopback, no delay (CPU-bound)"
    fi
    echo
    echo "$title"
    # spf-policyd
    if [ -n "$ours_why" ]; then
      "$loadgen" --not-run spf-policyd "$ours_why" \
        --out "$TMP/ours.$mode"
    else
      rm -f "$TMP/policyd.sock"
      : >>"$TMP/spf-policyd.log"
      "$policyd" --listen "unix:$TMP/policyd.sock" \
        --max-connections $((conns + 8)) --server "$dns" "${cache[@]}" \
        -c "$TMP/policyd-spf.conf" --log stderr 2>>"$TMP/spf-policyd.log" &
      DAEMON_PID=$!
      "$loadgen" --label spf-policyd --out "$TMP/ours.$mode" --conns "$conns" \
        --seconds "$secs" "${px[@]}" --connect "unix:$TMP/policyd.sock" \
        --pid "$DAEMON_PID" >/dev/null
      # its statistics (SIGUSR1), then stop it (SIGTERM): a status other
      # than 0 or SIGTERM's own (a crash, a sanitizer's report) fails
      logsize=$(wc -c <"$TMP/spf-policyd.log")
      if kill -USR1 "$DAEMON_PID" 2>/dev/null; then
        sleep 0.3
        echo "spf-policyd's statistics (SIGUSR1), from its log:"
        tail -c +$((logsize + 1)) "$TMP/spf-policyd.log" | head -n 20 |
          sed 's/^/  /'
      fi
      kill -TERM "$DAEMON_PID" 2>/dev/null
      r=0
      wait "$DAEMON_PID" || r=$?
      DAEMON_PID=
      if [ $r != 0 ] && [ $r != 143 ]; then
        say "spf-policyd ended with status $r; the end of its log:"
        tail -n 20 "$TMP/spf-policyd.log" >&2
        prc=1
      fi
    fi
    # policyd-spf, one process per connection
    if [ "$mode" = cached ]; then
      "$loadgen" --compare "$TMP/ours.$mode" "$TMP/theirs.proxy" || prc=1
      continue
    elif [ -n "$theirs_why" ]; then
      "$loadgen" --not-run policyd-spf "$theirs_why" --out "$TMP/theirs.$mode"
    else
      printf 'nameserver %s\n' "${dns%:*}" >"$TMP/resolv.conf"
      "$loadgen" --label policyd-spf --out "$TMP/theirs.$mode" \
        --conns "$conns" --seconds "$secs" "${px[@]}" --spawn \
        --child-log "$TMP/policyd-spf.log" -- "${theirs[@]}" \
        "$TMP/policyd-spf.conf" >/dev/null
      if [ -s "$TMP/policyd-spf.log" ]; then
        say "policyd-spf wrote on its standard error (the end of it):"
        tail -n 20 "$TMP/policyd-spf.log" >&2
        : >"$TMP/policyd-spf.log"
      fi
    fi
    "$loadgen" --compare "$TMP/ours.$mode" "$TMP/theirs.$mode" || prc=1
  done
  echo
  echo "ratio: how many times better spf-policyd's figure is (requests/s: higher; the"
  echo "rest: lower).  RSS: the sum of the peak resident sets of the processes serving"
  echo "the connections; PSS shares the pages they have in common out among them."
  echo "A connection waits for each reply (as smtpd does), so through the proxy no"
  echo "server can pass $conns / (its mean latency): the DNS round trips of a check"
  echo "set a floor under that latency, and with it a ceiling on requests/s."
  if [ -n "$ours_why" ]; then
    say "FAIL: spf-policyd: $ours_why"
    prc=1
  fi
  return $prc
}

if [ "${MDSPF_BENCH_POLICY:-1}" != 0 ] &&
  [ "${MDSPF_BENCH_PYTHON_ONLY:-0}" != 1 ]; then
  BIN=$(dirname "$BENCH")
  policy_bench || rc=1
fi
exit $rc

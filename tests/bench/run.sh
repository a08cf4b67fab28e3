#!/usr/bin/env bash
# run.sh -- run spf-bench (libmaildrop-spf against libspf2) against NSD on
# loopback.  ./build.sh bench builds everything and calls this.
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
# Exit status: spf-bench's (0 figures printed, 1 wrong results or a
# failure); 1 when NSD cannot be started; 77 when nsd is not installed.
# Environment: NSD=/path/to/nsd; MDSPF_BENCH_NO_NS=1 skips the namespace.
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
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [ -n "$CHILD_PID" ]; then
    kill -TERM "$CHILD_PID" 2>/dev/null
    wait "$CHILD_PID" 2>/dev/null
  fi
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

"$BENCH" --nsd "127.0.0.1:$PORT" --proxy "$PROXY" "${RESOLV_ARGS[@]}" \
  "${BENCH_ARGS[@]}" &
CHILD_PID=$!
wait "$CHILD_PID"
rc=$?
CHILD_PID=
exit $rc

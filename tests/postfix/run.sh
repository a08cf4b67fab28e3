#!/usr/bin/env bash
# run.sh -- SPF policy services in a real Postfix: this project's
# spf-policyd and, as the reference, Debian's policyd-spf
# (postfix-policyd-spf-python), each plugged into a private Postfix
# instance that relays what it accepts to smtp-sink, over the integration
# zones served by NSD.
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: run.sh SPF_POLICYD [SRCDIR]
#
#   SPF_POLICYD  this project's spf-policyd.  The reference runs in any
#                case; when SPF_POLICYD does not exist the test fails
#                after it.
#
# Everything runs in a private network and mount namespace (unshare; this
# script re-runs itself there, see tests/nsd-lib.sh): NSD serves
# tests/integration/zones on its 127.0.0.1:53 and a private resolv.conf
# points there (policyd-spf resolves through /etc/resolv.conf), so the
# fixed ports below can collide with nothing on the machine.  Started
# here, and stopped on every exit path:
#
#   - NSD (127.0.0.1:53) and unbound (127.0.0.1:5353, a caching resolver
#     with stub zones to NSD, in the foreground, with a configuration,
#     pidfile and control socket of its own);
#   - smtp-sink (127.0.0.1:2600, as nobody), dumping each message it
#     receives into a file of its own;
#   - Postfix: "postfix -c DIR start" with main.cf and master.cf written
#     from main.cf.in and master.cf.in into the temporary directory (its
#     own queue and data directory, log file, loopback only, no chroot),
#     relaying mail for sink.test to smtp-sink.  Its master.cf has one
#     smtpd (127.0.0.1:10025 and up) per policy service and configuration,
#     each with check_policy_service in its smtpd_recipient_restrictions,
#     and the spawn services running the programs as nobody (the programs
#     and configuration files are staged where nobody can read them).
#     The system's Postfix is never touched;
#   - spf-policyd daemons, one per configuration (conf/*.conf) on a unix
#     socket, resolving through the (private) resolv.conf; one for the
#     default configuration on inet:127.0.0.1:9998 with --server
#     127.0.0.1:53; one resolving through unbound (--server
#     127.0.0.1:5353 --no-cache); one for the SIGHUP test; and
#     spf-policyd in spawn mode (default configuration).  policyd-spf
#     runs in spawn mode, once per configuration.
#
# swaks sends the cases of cases.txt through every smtpd (XCLIENT gives
# each message its client address and HELO name); pftest.py check then
# compares the RCPT replies, the Received-SPF / Authentication-Results
# header of every message smtp-sink received (exactly one, whatever the
# number of recipients) and spf-policyd's decision log lines with
# cases.txt; policyd-spf must give the same decisions except where
# expected-differences.txt lists (and explains) another one.  Then:
#   - unbound: the cases sent again through the spf-policyd that resolves
#     through unbound are answered from unbound's cache (its statistics:
#     more cache hits, no new cache miss);
#   - SIGHUP under load: pftest.py reload (see there);
#   - SIGUSR1 makes a daemon log, and SIGTERM stops every daemon with
#     exit status 0; no sanitizer report in any log.
#
# Exit status: 0 all passed; 1 a failure (SPF_POLICYD missing included);
# 77 something needed is missing (root, Postfix, swaks, policyd-spf with
# dnspython, unbound, NSD, a working unshare): a skip, or a failure where
# MDSPF_REQUIRE_POSTFIX=1 (as ./build.sh test sets) or CI=true.
#
# Environment: NSD=/path/to/nsd; MDSPF_POSTFIX_KEEP=1 keeps the temporary
# directory; ASAN_OPTIONS/UBSAN_OPTIONS are handed to spawned spf-policyd.
# shellcheck disable=SC2317 # cleanup runs from traps
set -u

PROG=postfix
say() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
  printf '%s: FAIL: %s\n' "$PROG" "$*" >&2
  exit 1
}
required() { [ "${MDSPF_REQUIRE_POSTFIX:-0}" = 1 ] || [ "${CI:-}" = true ]; }
skip() {
  if required; then
    die "$* (required here: MDSPF_REQUIRE_POSTFIX=1 or CI=true)"
  fi
  printf '%s: SKIPPED: %s\n' "$PROG" "$*"
  exit 77
}

POLICYD=${1:-}
if [ -z "$POLICYD" ]; then
  echo "usage: run.sh SPF_POLICYD [SRCDIR]" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "${2:-}" ]; then
  HERE=$(cd "$2/tests/postfix" && pwd) || exit 1
fi
SRCDIR=$(cd "$HERE/../.." && pwd)
case $POLICYD in /*) ;; *) POLICYD=$(pwd)/$POLICYD ;; esac
ZONEDIR=$SRCDIR/tests/integration/zones
CONFIGS=(default notpass tempdefer permreject ar)

# shellcheck source=../nsd-lib.sh
. "$SRCDIR/tests/nsd-lib.sh" || die "cannot read $SRCDIR/tests/nsd-lib.sh"
nsd_note() { say "$@"; }
NSD_BIN=$(nsd_find)

# ---------------------------------------------------------------------------
# What is needed
# ---------------------------------------------------------------------------

[ -n "$NSD_BIN" ] || skip "nsd not found (Debian: nsd)"
[ "$(id -u)" = 0 ] ||
  skip "not root: Postfix's master runs as root and its daemons as the postfix user"
POSTCONF=$(command -v postconf 2>/dev/null || echo /usr/sbin/postconf)
[ -x "$POSTCONF" ] || skip "postconf not found (Debian: postfix)"
PF_CMD_DIR=$("$POSTCONF" -dh command_directory 2>/dev/null)
PF_DAEMON_DIR=$("$POSTCONF" -dh daemon_directory 2>/dev/null)
[ -x "$PF_CMD_DIR/postfix" ] && [ -x "$PF_DAEMON_DIR/master" ] ||
  skip "Postfix not found (Debian: postfix)"
SINK=$(command -v smtp-sink 2>/dev/null || echo "$PF_CMD_DIR/smtp-sink")
[ -x "$SINK" ] || skip "smtp-sink not found (Debian: postfix)"
SWAKS=$(command -v swaks 2>/dev/null) || skip "swaks not found (Debian: swaks)"
REF=$(command -v policyd-spf 2>/dev/null || echo /usr/bin/policyd-spf)
[ -x "$REF" ] || skip "policyd-spf not found (Debian: postfix-policyd-spf-python)"
UNBOUND=$(command -v unbound 2>/dev/null || echo /usr/sbin/unbound)
[ -x "$UNBOUND" ] && [ -x "$(dirname "$UNBOUND")/unbound-control" ] ||
  skip "unbound not found (Debian: unbound)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found (Debian: python3)"
# pyspf (python3-spf) takes dnspython when it can, else pydns, with which
# it reads a SERVFAIL answer over UDP as "no record" (result none, not
# temperror): the reference needs dnspython
"$(sed -n '1s/^#! *//p' "$REF" | cut -d' ' -f1)" -c 'import dns.resolver' 2>/dev/null ||
  skip "policyd-spf's python has no dnspython (Debian: python3-dnspython)"
getent passwd nobody >/dev/null || skip "no user nobody to run the spawned programs"
getent passwd "$("$POSTCONF" -dh mail_owner)" >/dev/null ||
  skip "no postfix user (Debian's postfix package creates it)"

# ---------------------------------------------------------------------------
# The private namespace: re-run inside it
# ---------------------------------------------------------------------------

if [ -z "${MDSPF_POSTFIX_INNER:-}" ]; then
  nsd_netns_check || skip "$NSD_NETNS_WHY: policyd-spf resolves through /etc/resolv.conf on port 53, which needs a private network namespace"
  export MDSPF_POSTFIX_INNER=1
  exec unshare "${NSD_NETNS_ARGS[@]}" -- bash "$0" "$POLICYD" "$SRCDIR"
fi

# ---------------------------------------------------------------------------
# Temporary directory, cleanup on every exit path
# ---------------------------------------------------------------------------

nsd_script_begin postfix MDSPF_POSTFIX_KEEP || die "mktemp -d failed"
# Postfix's daemons and the spawned programs (not root) read below here
chmod 755 "$TMP"
PF=$TMP/postfix
PF_STARTED=0
SINK_PID=
UNBOUND_PID=
declare -A DAEMON_PID=() DAEMON_DETACHED=()

stop_pid() { # PID NAME: SIGTERM, after 10 s SIGKILL, reap
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$2 (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}
postfix_stop() {
  [ "$PF_STARTED" = 1 ] || return 0
  PF_STARTED=0
  local pid i
  pid=$(sed -n '1{s/[^0-9]//g;p;}' "$PF/queue/pid/master.pid" 2>/dev/null)
  "$PF_CMD_DIR/postfix" -c "$PF/etc" stop >/dev/null 2>&1
  [ -n "$pid" ] || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "postfix master (pid $pid) still running after 10 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null
}
# the servers of this script (the library stops CHILD_PID before, NSD
# after them)
nsd_script_stop() {
  local n
  postfix_stop
  for n in "${!DAEMON_PID[@]}"; do
    stop_pid "${DAEMON_PID[$n]}" "spf-policyd $n"
  done
  [ -n "$SINK_PID" ] && stop_pid "$SINK_PID" smtp-sink
  [ -n "$UNBOUND_PID" ] && stop_pid "$UNBOUND_PID" unbound
  return 0
}

FAILS=0
fail() {
  printf 'FAIL %s\n' "$*"
  FAILS=$((FAILS + 1))
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds (0) or time is up (1)
wait_for() {
  local t=$(($1 * 10))
  shift
  while ! "$@"; do
    t=$((t - 1))
    [ $t -gt 0 ] || return 1
    sleep 0.1
  done
  return 0
}
show() { # FILE: its last lines, indented
  tail -n "${2:-15}" "$1" 2>/dev/null | sed 's/^/  | /'
}

T0=$(nsd_now_ms)
nsd_netns_setup "$TMP" || die "$NSD_NETNS_WHY"
mkdir -p "$TMP/zones" "$TMP/conf" "$TMP/run" "$TMP/log" "$TMP/swaks" \
  "$TMP/sink" "$TMP/unbound" "$TMP/stage/bin" "$TMP/stage/lib" "$TMP/asan" ||
  die "cannot populate $TMP"
# written by nobody: smtp-sink's dumps, the logs of the spawned programs
chown nobody "$TMP/sink"
chmod 1777 "$TMP/asan"

# ---------------------------------------------------------------------------
# NSD on 127.0.0.1:53, unbound on 127.0.0.1:5353
# ---------------------------------------------------------------------------

NSD_ZONES=()
for f in "$ZONEDIR"/*.zone; do
  [ -f "$f" ] || die "no zone files in $ZONEDIR"
  NSD_ZONES+=("$(basename "$f" .zone)")
  cp "$f" "$TMP/zones/" || die "cannot copy $f"
done
NSD_MISSING_ZONES=(servfail.test)
nsd_write_conf "$TMP/nsd.conf" "$TMP" 53 127.0.0.1@53 ||
  die "nsd-checkconf rejects the configuration: $(cat "$TMP/checkconf.out")"
rc=0
nsd_launch "$TMP/nsd.conf" "$TMP" python3 "$HERE/pftest.py" probe 127.0.0.1 53 \
  pass-all.spf.test || rc=$?
[ $rc = 0 ] || die "nsd did not start on 127.0.0.1:53:"$'\n'"$NSD_LOG"

UB=$TMP/unbound
{
  echo "server:"
  echo "  interface: 127.0.0.1"
  echo "  port: 5353"
  echo "  do-ip6: no"
  echo "  num-threads: 1"
  echo "  username: \"\""
  echo "  chroot: \"\""
  echo "  directory: \"$UB\""
  echo "  pidfile: \"$UB/unbound.pid\""
  echo "  use-syslog: no"
  echo "  logfile: \"\""
  echo "  verbosity: 1"
  echo "  access-control: 127.0.0.0/8 allow"
  # NSD is on this host's loopback; no DNSSEC (the zones are unsigned)
  echo "  do-not-query-localhost: no"
  echo "  module-config: \"iterator\""
  echo "  qname-minimisation: no"
  echo "  prefetch: no"
  for z in "${NSD_ZONES[@]}" "${NSD_MISSING_ZONES[@]}"; do
    # unbound answers test., invalid. and the documentation networks'
    # reverse zones itself unless told otherwise
    echo "  local-zone: \"$z.\" nodefault"
  done
  echo "  local-zone: \"test.\" nodefault"
  echo "remote-control:"
  echo "  control-enable: yes"
  echo "  control-interface: \"$UB/control.sock\""
  echo "  control-use-cert: no"
  for z in "${NSD_ZONES[@]}" "${NSD_MISSING_ZONES[@]}"; do
    echo "stub-zone:"
    echo "  name: \"$z.\""
    echo "  stub-addr: 127.0.0.1@53"
  done
} >"$UB/unbound.conf"
"$(dirname "$UNBOUND")/unbound-checkconf" "$UB/unbound.conf" >"$UB/checkconf.out" 2>&1 ||
  die "unbound-checkconf rejects the configuration:"$'\n'"$(cat "$UB/checkconf.out")"
"$UNBOUND" -d -c "$UB/unbound.conf" >"$UB/unbound.log" 2>&1 &
UNBOUND_PID=$!
ub_ready() {
  kill -0 "$UNBOUND_PID" 2>/dev/null || return 0
  python3 "$HERE/pftest.py" probe 127.0.0.1 5353 pass-all.spf.test
}
wait_for 10 ub_ready && kill -0 "$UNBOUND_PID" 2>/dev/null ||
  die "unbound did not start on 127.0.0.1:5353:"$'\n'"$(show "$UB/unbound.log")"
unbound_stat() { # NAME: a counter of unbound-control stats_noreset
  "$(dirname "$UNBOUND")/unbound-control" -c "$UB/unbound.conf" stats_noreset |
    sed -n "s/^$1=//p"
}

# ---------------------------------------------------------------------------
# smtp-sink on 127.0.0.1:2600
# ---------------------------------------------------------------------------

SINK_PORT=2600
"$SINK" -u nobody -d "$TMP/sink/msg." 127.0.0.1:$SINK_PORT 64 \
  >"$TMP/log/smtp-sink.log" 2>&1 &
SINK_PID=$!
sink_ready() { (: >"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null; }
wait_for 10 sink_ready || die "smtp-sink did not start:"$'\n'"$(show "$TMP/log/smtp-sink.log")"

# ---------------------------------------------------------------------------
# The policy services
# ---------------------------------------------------------------------------

for c in "${CONFIGS[@]}"; do
  cp "$HERE/conf/$c.conf" "$TMP/conf/" || die "no $HERE/conf/$c.conf"
done
chmod 644 "$TMP"/conf/*.conf

HAVE_OURS=0
[ -x "$POLICYD" ] && HAVE_OURS=1

# start_daemon NAME ARGS...: spf-policyd ARGS (a daemon: --listen) logging
# to TMP/log/NAME.log; waits for its socket TMP/run/NAME.sock (or, with
# inet, its port).  0 ready, 1 not (the reason said).
start_daemon() {
  local name=$1 port='' pid rc
  shift
  case " $* " in *" inet:127.0.0.1:"*) port=$(sed -n 's/.*inet:127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$*") ;; esac
  "$POLICYD" --pidfile "$TMP/run/$name.pid" --log stderr "$@" \
    >"$TMP/log/$name.out" 2>"$TMP/log/$name.log" &
  pid=$!
  DAEMON_PID[$name]=$pid
  d_ready() {
    if [ -n "$port" ]; then
      (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    else
      [ -S "$TMP/run/$name.sock" ]
    fi && [ -s "$TMP/run/$name.pid" ] && return 0
    # still starting, or gone to the background (then its pidfile says
    # which process it is now): wait on
    kill -0 "$pid" 2>/dev/null || [ -s "$TMP/run/$name.pid" ] || return 0
    return 1
  }
  wait_for 10 d_ready
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    rc=$?
    unset "DAEMON_PID[$name]"
    pid=$(sed -n '1{s/[^0-9]//g;p;}' "$TMP/run/$name.pid" 2>/dev/null)
    if [ "$rc" != 0 ] || [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
      fail "spf-policyd $name exited at start (status $rc):"
      show "$TMP/log/$name.log"
      return 1
    fi
    DAEMON_PID[$name]=$pid
    DAEMON_DETACHED[$name]=1
  fi
  if [ -n "$port" ]; then
    (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
      fail "spf-policyd $name: not listening on 127.0.0.1:$port after 10 s"
  elif [ ! -S "$TMP/run/$name.sock" ]; then
    fail "spf-policyd $name: no socket $TMP/run/$name.sock after 10 s"
    return 1
  else
    # Postfix's smtpd (the postfix user) connects: a deployment makes the
    # socket writable for it one way or another
    chmod 666 "$TMP/run/$name.sock"
  fi
  [ "$(sed -n '1{s/[^0-9]//g;p;}' "$TMP/run/$name.pid" 2>/dev/null)" = "$pid" ] ||
    fail "spf-policyd $name: --pidfile $TMP/run/$name.pid does not hold its pid $pid"
  return 0
}

if [ "$HAVE_OURS" = 1 ]; then
  for c in "${CONFIGS[@]}"; do
    start_daemon "ours-$c" --listen "unix:$TMP/run/ours-$c.sock" \
      -c "$TMP/conf/$c.conf"
  done
  start_daemon ours-inet --listen inet:127.0.0.1:9998 \
    -c "$TMP/conf/default.conf" --server 127.0.0.1:53
  start_daemon ours-unbound --listen "unix:$TMP/run/ours-unbound.sock" \
    -c "$TMP/conf/default.conf" --server 127.0.0.1:5353 --no-cache
  cp "$TMP/conf/default.conf" "$TMP/conf/reload.conf"
  start_daemon ours-reload --listen "unix:$TMP/run/ours-reload.sock" \
    -c "$TMP/conf/reload.conf"

  # spawn mode: the program and the libraries it loads from outside the
  # system's directories (the build tree), staged where nobody reads
  # them; a wrapper sets the library path, the sanitizers' options and
  # the log (a spawned program's standard error is the connection)
  cp "$POLICYD" "$TMP/stage/bin/spf-policyd"
  ldd "$POLICYD" 2>/dev/null | sed -n 's/.* => \(\/[^ ]*\) .*/\1/p' |
    while read -r lib; do
      case $lib in /lib/* | /lib64/* | /usr/lib/* | /usr/lib64/*) continue ;; esac
      cp "$lib" "$TMP/stage/lib/"
    done
  : >"$TMP/log/ours-spawn.log"
  chown nobody "$TMP/log/ours-spawn.log"
  cat >"$TMP/stage/ours-spawn.sh" <<EOF
#!/bin/sh
# spf-policyd in Postfix spawn mode: one connection on stdin/stdout
LD_LIBRARY_PATH=$TMP/stage/lib
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/asan/spawn
UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/asan/spawn
export LD_LIBRARY_PATH ASAN_OPTIONS UBSAN_OPTIONS
exec $TMP/stage/bin/spf-policyd -c $TMP/conf/default.conf --log stderr 2>>$TMP/log/ours-spawn.log
EOF
  chmod -R a+rX "$TMP/stage"
  chmod 755 "$TMP/stage/ours-spawn.sh" "$TMP/stage/bin/spf-policyd"
fi

# ---------------------------------------------------------------------------
# Postfix
# ---------------------------------------------------------------------------

# The runs: LABEL IMPL CONFIG POLICY LOG CASES, one smtpd each (labels
# ending in -2 share the smtpd of their -1)
RUNS=()
for c in "${CONFIGS[@]}"; do
  RUNS+=("ref-$c ref $c unix:private/ref-$c - *")
done
if [ "$HAVE_OURS" = 1 ]; then
  for c in "${CONFIGS[@]}"; do
    RUNS+=("ours-$c ours $c unix:$TMP/run/ours-$c.sock $TMP/log/ours-$c.log *")
  done
  RUNS+=("ours-inet ours default inet:127.0.0.1:9998 $TMP/log/ours-inet.log *")
  RUNS+=("ours-spawn ours default unix:private/ours-spawn $TMP/log/ours-spawn.log *")
  UB_CASES=pass,fail,softfail,none,helo-pass
  RUNS+=("ours-unbound-1 ours default unix:$TMP/run/ours-unbound.sock $TMP/log/ours-unbound.log $UB_CASES")
  RUNS+=("ours-unbound-2 ours default unix:$TMP/run/ours-unbound.sock $TMP/log/ours-unbound.log $UB_CASES")
fi

# (postfix start creates the queue's subdirectories; master takes its lock
# in the data directory as the postfix user)
mkdir -p "$PF/etc" "$PF/queue" "$PF/data" &&
  chown "$("$POSTCONF" -dh mail_owner)" "$PF/data" || die "cannot create $PF"
declare -A PORT=()
maps='' listeners='' port=10025
for r in "${RUNS[@]}"; do
  read -r label impl config policy _ <<<"$r"
  case $label in *-2) PORT[$label]=${PORT[${label%-2}-1]}; continue ;; esac
  PORT[$label]=$port
  maps+="policy_${label//-/_} = check_policy_service $policy, permit"$'\n'
  listeners+="127.0.0.1:$port inet n - n - - smtpd -o smtpd_recipient_restrictions=\$policy_${label//-/_}"$'\n'
  port=$((port + 1))
done
for c in "${CONFIGS[@]}"; do
  listeners+="ref-$c unix - n n - 0 spawn user=nobody argv=$REF $TMP/conf/$c.conf"$'\n'
done
[ "$HAVE_OURS" = 1 ] &&
  listeners+="ours-spawn unix - n n - 0 spawn user=nobody argv=$TMP/stage/ours-spawn.sh"$'\n'
export TMP SINK_PORT maps listeners
python3 - "$HERE/main.cf.in" "$PF/etc/main.cf" "$HERE/master.cf.in" "$PF/etc/master.cf" <<'EOF' ||
import os, sys
for src, dst in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    s = open(src).read()
    for k, v in (("@TMP@", os.environ["TMP"]), ("@SINK_PORT@", os.environ["SINK_PORT"]),
                 ("@POLICY_MAPS@", os.environ["maps"]), ("@LISTENERS@", os.environ["listeners"])):
        s = s.replace(k, v)
    open(dst, "w").write(s)
EOF
  die "cannot write main.cf and master.cf"

# (as root, "postfix -c" needs no alternate_config_directories in the
# default main.cf: that is for the set-gid postqueue and postdrop run by
# other users)
if ! "$PF_CMD_DIR/postfix" -c "$PF/etc" start >"$TMP/log/postfix-start.log" 2>&1; then
  fail "postfix -c $PF/etc start failed:"
  show "$TMP/log/postfix-start.log"
  show "$PF/maillog"
  exit 1
fi
PF_STARTED=1
pf_ready() { (: >/dev/tcp/127.0.0.1/10025) 2>/dev/null; }
wait_for 10 pf_ready || die "Postfix does not listen on 127.0.0.1:10025:"$'\n'"$(show "$PF/maillog")"
say "nsd, unbound, smtp-sink, $([ "$HAVE_OURS" = 1 ] && echo "spf-policyd, ")Postfix ready after $(($(nsd_now_ms) - T0)) ms"

# ---------------------------------------------------------------------------
# The mail
# ---------------------------------------------------------------------------

C_NAMES=()
declare -A C_IP=() C_HELO=() C_SENDER=() C_RCPTS=()
while IFS= read -r line || [ -n "$line" ]; do
  case $line in '' | '#'* | configs*) continue ;; esac
  read -r name ip helo sender rcpts _ <<<"$line"
  C_NAMES+=("$name")
  C_IP[$name]=$ip C_HELO[$name]=$helo C_SENDER[$name]=$sender C_RCPTS[$name]=$rcpts
done <"$HERE/cases.txt"

# send LABEL CASE: one swaks session, its transcript in swaks/LABEL/CASE.out
send() {
  local label=$1 name=$2 to='' i addr=${C_IP[$2]}
  case $addr in *:*) addr=IPV6:$addr ;; esac
  for ((i = 0; i < C_RCPTS[$name]; i++)); do
    to+=${to:+,}$(printf "\\x$(printf %x $((97 + i)))")@sink.test
  done
  mkdir -p "$TMP/swaks/$label"
  timeout 60 "$SWAKS" --server "127.0.0.1:${PORT[$label]}" \
    --ehlo "${C_HELO[$name]}" --xclient-addr "$addr" \
    --xclient-helo "${C_HELO[$name]}" --xclient-name unknown \
    --from "${C_SENDER[$name]}" --to "$to" --header "X-Test-Case: $label/$name" \
    --timeout 30 </dev/null >"$TMP/swaks/$label/$name.out" 2>&1
}
# send_runs LABEL...: every case of each run, 4 sessions at a time
send_runs() {
  local r label cases n pids=() live p
  for r in "${RUNS[@]}"; do
    read -r label _ _ _ _ cases <<<"$r"
    case " $* " in *" $label "*) ;; *) continue ;; esac
    for n in "${C_NAMES[@]}"; do
      [ "$cases" = "*" ] || case ",$cases," in *",$n,"*) ;; *) continue ;; esac
      while :; do
        live=()
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && live+=("$p"); done
        pids=("${live[@]}")
        [ ${#pids[@]} -lt 4 ] && break
        sleep 0.02
      done
      send "$label" "$n" &
      pids+=($!)
    done
  done
  # (only these: the servers are background jobs too)
  for p in "${pids[@]}"; do wait "$p"; done
}
# wait until Postfix has delivered everything it accepted
delivered() {
  local queued have
  queued=$(grep -l 'queued as' "$TMP"/swaks/*/*.out 2>/dev/null | wc -l)
  have=$(find "$TMP/sink" -type f | wc -l)
  [ "$have" -ge "$queued" ] &&
    [ -z "$("$PF_CMD_DIR/postqueue" -c "$PF/etc" -j 2>/dev/null)" ]
}

t=$(nsd_now_ms)
LABELS=()
for r in "${RUNS[@]}"; do
  read -r label _ <<<"$r"
  case $label in ours-unbound-*) ;; *) LABELS+=("$label") ;; esac
done
send_runs "${LABELS[@]}"
if [ "$HAVE_OURS" = 1 ]; then
  # through unbound twice: the second time from its cache
  hits0=$(unbound_stat total.num.cachehits) miss0=$(unbound_stat total.num.cachemiss)
  send_runs ours-unbound-1
  hits1=$(unbound_stat total.num.cachehits) miss1=$(unbound_stat total.num.cachemiss)
  send_runs ours-unbound-2
  hits2=$(unbound_stat total.num.cachehits) miss2=$(unbound_stat total.num.cachemiss)
fi
wait_for 30 delivered || fail "Postfix did not deliver everything it accepted to smtp-sink within 30 s"
say "$(find "$TMP/swaks" -name '*.out' | wc -l) SMTP sessions, $(find "$TMP/sink" -type f | wc -l) messages delivered, in $(($(nsd_now_ms) - t)) ms"

for r in "${RUNS[@]}"; do
  read -r label impl config _ log cases <<<"$r"
  printf '%s %s %s %s %s\n' "$label" "$impl" "$config" "$log" "$cases"
done >"$TMP/runs"
run_child python3 "$HERE/pftest.py" check --dir "$TMP" --cases "$HERE/cases.txt" \
  --expected "$HERE/expected-differences.txt" --runs "$TMP/runs"
if [ "$RC" != 0 ]; then
  FAILS=$((FAILS + 1))
  say "the end of Postfix's log:"
  grep -v ' postfix/smtpd\[[0-9]*\]: \(dis\)\?connect' "$PF/maillog" | tail -n 25 | sed 's/^/  | /'
fi

# ---------------------------------------------------------------------------
# spf-policyd: unbound's cache, SIGHUP under load, SIGUSR1, SIGTERM
# ---------------------------------------------------------------------------

if [ "$HAVE_OURS" = 1 ]; then
  if [ -z "${miss0:-}" ] || [ -z "${miss1:-}" ] || [ -z "${miss2:-}" ]; then
    fail "unbound-control stats_noreset gave no cache counters"
  elif [ "$miss1" = "$miss0" ] || [ "$miss2" != "$miss1" ] ||
    [ "$((hits2 - hits1))" -lt 5 ]; then
    fail "unbound: the second round was not answered from the cache (cache hits $hits0 -> $hits1 -> $hits2, misses $miss0 -> $miss1 -> $miss2)"
  else
    say "unbound: first round $((miss1 - miss0)) queries to NSD, second round $((hits2 - hits1)) answers from the cache and none to NSD"
  fi

  if [ -n "${DAEMON_PID[ours-reload]:-}" ]; then
    run_child python3 "$HERE/pftest.py" reload --socket "$TMP/run/ours-reload.sock" \
      --pid "${DAEMON_PID[ours-reload]}" --conf "$TMP/conf/reload.conf" \
      --new "$TMP/conf/notpass.conf"
    [ "$RC" = 0 ] || {
      FAILS=$((FAILS + 1))
      show "$TMP/log/ours-reload.log"
    }
  fi

  if [ -n "${DAEMON_PID[ours-default]:-}" ]; then
    n=$(wc -l <"$TMP/log/ours-default.log")
    kill -USR1 "${DAEMON_PID[ours-default]}"
    logged() { [ "$(wc -l <"$TMP/log/ours-default.log")" -gt "$n" ]; }
    wait_for 5 logged || fail "spf-policyd logged nothing on SIGUSR1"
  fi

  for n in "${!DAEMON_PID[@]}"; do
    pid=${DAEMON_PID[$n]}
    unset "DAEMON_PID[$n]"
    kill -TERM "$pid" 2>/dev/null
    gone() { ! kill -0 "$pid" 2>/dev/null; }
    if ! wait_for 10 gone; then
      fail "spf-policyd $n still running 10 s after SIGTERM"
      kill -KILL "$pid" 2>/dev/null
    fi
    # (the exit status of a daemon that detached itself is unknown here)
    [ -n "${DAEMON_DETACHED[$n]:-}" ] && continue
    wait "$pid"
    rc=$?
    [ "$rc" = 0 ] || fail "spf-policyd $n exited with status $rc after SIGTERM"
  done
  postfix_stop
  if grep -l -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' \
    "$TMP"/log/* "$TMP"/asan/* >"$TMP/sanitizer" 2>/dev/null; then
    while read -r f; do
      fail "a sanitizer report in $f:"
      show "$f" 30
    done <"$TMP/sanitizer"
  fi
else
  fail "spf-policyd not found: $POLICYD (is it built?); only the reference, policyd-spf, ran"
fi

say "done in $(($(nsd_now_ms) - T0)) ms"
[ "$FAILS" -eq 0 ] || {
  say "$FAILS failure(s)"
  exit 1
}
say "all passed"
exit 0

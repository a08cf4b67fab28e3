# nsd-lib.sh -- start and stop NSD for the scripts that need a real
# authoritative DNS server on loopback (tests/integration/run.sh, the
# benchmark's tests/bench/run.sh).  Sourced by bash, never run.
# SPDX-License-Identifier: BSD-2-Clause
#
#   nsd_find                   path of nsd ($NSD, PATH, /usr/sbin, ...) or ""
#   nsd_pick_port              a random local port that looks free
#   nsd_write_conf CONF DIR PORT ADDR...
#                              a configuration serving DIR/zones/NAME.zone for
#                              every NAME in NSD_ZONES on each ADDR (ip@port),
#                              state files in DIR; NSD_MISSING_ZONES are
#                              configured without a file (NSD answers
#                              SERVFAIL for them); returns nsd-checkconf's
#                              verdict (output in DIR/checkconf.out)
#   nsd_launch CONF DIR PROBE...  start "nsd -d -c CONF" (NSD_PID) and wait
#                              until the command PROBE... succeeds: 0 ready,
#                              1 nsd exited (its output in NSD_LOG), 2 no
#                              answer within 10 s (nsd left running)
#   nsd_stop                   stop the NSD_PID server (SIGTERM, after 10 s
#                              SIGKILL) and reap it; safe to call twice
#
# For programs that resolve through /etc/resolv.conf and port 53 (libspf2,
# the system resolver, Exim), a private network and mount namespace:
#
#   nsd_netns_check            0 when "unshare --net --mount" (with
#                              --map-root-user when not root) works here:
#                              NSD_NETNS_ARGS holds those options; else 1,
#                              the reason in NSD_NETNS_WHY
#   nsd_netns_setup DIR        inside the namespace: bring up its loopback
#                              and bind-mount DIR/resolv.conf ("nameserver
#                              127.0.0.1") over /etc/resolv.conf; 1 and
#                              NSD_NETNS_WHY on failure
#   nsd_netns_serve DIR ZONEDIR SPFQUERY
#                              then: serve every ZONEDIR/NAME.zone (copied
#                              to DIR/zones), the NSD_MISSING_ZONES and a
#                              per-run probe zone on 127.0.0.1@53, and wait
#                              until SPFQUERY (this project's spfquery) gets
#                              this run's answer from it; 1 and
#                              NSD_NETNS_WHY on failure
#
# A script re-runs itself with exec unshare "${NSD_NETNS_ARGS[@]}" -- bash
# "$0" ... (marking the inner run in its environment), then calls
# nsd_netns_setup and starts NSD on 127.0.0.1@53: nothing outside the
# namespace sees the server or the file, and all traffic stays on the
# namespace's own loopback.  unshare makes the new mount namespace's
# mounts private, so the bind mount never reaches the host.
#
# Callers stop the server from an EXIT trap, so that it goes on every exit
# path.  Nothing here prints on success; nsd_stop says when it has to kill,
# through nsd_note (redefine it after sourcing to prefix the message).
#
# The scripts' common frame, that trap included:
#
#   nsd_script_begin NAME KEEP TMP := a new ${TMPDIR:-/tmp}/mdspf-NAME.XXXXXX,
#                              and traps so that every exit (HUP, INT and
#                              TERM too) stops CHILD_PID, calls
#                              nsd_script_stop (redefine it after sourcing
#                              for servers of the script's own), stops NSD
#                              and removes TMP -- kept, and said, when the
#                              variable named KEEP is 1
#   run_child CMD...           run CMD in the background and wait for it, so
#                              that a signal to the script is handled at
#                              once (the trap then stops CMD too); RC := its
#                              exit status

nsd_note() { printf '%s\n' "$*"; }

NSD_PID=
NSD_LOG=
NSD_ZONES=()
NSD_MISSING_ZONES=()

nsd_find() {
  if [ -n "${NSD:-}" ]; then
    [ -x "$NSD" ] && printf '%s\n' "$NSD"
    return 0
  fi
  local p
  p=$(command -v nsd 2>/dev/null) && [ -x "$p" ] && {
    printf '%s\n' "$p"
    return 0
  }
  for p in /usr/sbin/nsd /usr/local/sbin/nsd /sbin/nsd; do
    [ -x "$p" ] && {
      printf '%s\n' "$p"
      return 0
    }
  done
  return 0
}

nsd_now_ms() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
  else
    echo $(($(date +%s%N) / 1000000))
  fi
}

# Local ports in use (TCP or UDP, any address), from /proc/net; empty if
# unreadable -- then a collision shows up as a bind failure and is retried.
nsd_ports_in_use() {
  cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null |
    awk 'NR > 0 && $2 ~ /:/ { split($2, a, ":"); print a[2] }' | sort -u
}

# A random port below the ephemeral range (where outgoing sockets, such as
# the resolver's own, take theirs), or 20000-60000 if that range is odd.
nsd_pick_port() {
  local lo=32768 span base p hex used
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  if [ "$lo" -gt 21024 ]; then
    base=20000 span=$((lo - 20000))
  else
    base=20000 span=40000
  fi
  used=$(nsd_ports_in_use)
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$((base + (RANDOM * 32768 + RANDOM) % span))
    hex=$(printf '%04X' "$p")
    case $'\n'"$used"$'\n' in
    *$'\n'"$hex"$'\n'*) continue ;;
    esac
    echo "$p"
    return
  done
  echo "$p"
}

nsd_write_conf() {
  local conf=$1 dir=$2 port=$3 a z ip6=no
  shift 3
  for a in "$@"; do
    case $a in *:*) ip6=yes ;; esac
  done
  {
    echo "server:"
    for a in "$@"; do echo "  ip-address: $a"; done
    echo "  port: $port"
    echo "  do-ip4: yes"
    echo "  do-ip6: $ip6"
    echo "  username: \"\""
    echo "  chroot: \"\""
    echo "  database: \"\""
    echo "  zonesdir: \"$dir/zones\""
    echo "  pidfile: \"$dir/nsd.pid\""
    echo "  logfile: \"$dir/nsd.log\""
    echo "  xfrdfile: \"$dir/xfrd.state\""
    echo "  xfrdir: \"$dir/xfr\""
    echo "  zonelistfile: \"$dir/zone.list\""
    echo "  server-count: 1"
    echo "  verbosity: 1"
    echo "  hide-version: yes"
    # Response rate limiting would drop or truncate batch runs.
    echo "  rrl-ratelimit: 0"
    echo "  rrl-whitelist-ratelimit: 0"
    echo "remote-control:"
    echo "  control-enable: no"
    for z in "${NSD_ZONES[@]}"; do
      echo "zone:"
      echo "  name: \"$z\""
      echo "  zonefile: \"$z.zone\""
    done
    for z in "${NSD_MISSING_ZONES[@]}"; do
      echo "zone:"
      echo "  name: \"$z\""
      echo "  zonefile: \"$z.zone\""
    done
  } >"$conf"
  mkdir -p "$dir/xfr"
  local checkconf
  checkconf=$(dirname "$NSD_BIN")/nsd-checkconf
  if [ -x "$checkconf" ]; then
    "$checkconf" "$conf" >"$dir/checkconf.out" 2>&1 || return 1
  fi
  return 0
}

nsd_launch() {
  local conf=$1 dir=$2 t0
  shift 2
  rm -f "$dir/nsd.log" "$dir/nsd.pid"
  NSD_LOG=
  "$NSD_BIN" -d -c "$conf" >"$dir/nsd.out" 2>&1 &
  NSD_PID=$!
  t0=$(nsd_now_ms)
  while :; do
    if ! kill -0 "$NSD_PID" 2>/dev/null; then
      wait "$NSD_PID" 2>/dev/null
      NSD_PID=
      NSD_LOG=$(cat "$dir/nsd.out" "$dir/nsd.log" 2>/dev/null)
      return 1
    fi
    if "$@"; then
      return 0
    fi
    if [ $(($(nsd_now_ms) - t0)) -gt 10000 ]; then
      NSD_LOG=$(cat "$dir/nsd.out" "$dir/nsd.log" 2>/dev/null)
      return 2
    fi
    sleep 0.1
  done
}

nsd_stop() {
  [ -n "$NSD_PID" ] || return 0
  local pid=$NSD_PID i
  NSD_PID=
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do # NSD takes a second or two to stop
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    nsd_note "nsd (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

NSD_NETNS_ARGS=()
NSD_NETNS_WHY=

nsd_netns_check() {
  NSD_NETNS_ARGS=()
  if ! command -v unshare >/dev/null 2>&1; then
    NSD_NETNS_WHY="no unshare command (Debian: util-linux)"
    return 1
  fi
  if [ ! -e /etc/resolv.conf ]; then
    NSD_NETNS_WHY="no /etc/resolv.conf to bind-mount over"
    return 1
  fi
  if ! command -v ip >/dev/null 2>&1; then
    NSD_NETNS_WHY="no ip command to bring up the namespace's loopback (Debian: iproute2)"
    return 1
  fi
  local args=(--net --mount) err
  [ "$(id -u)" -ne 0 ] && args+=(--map-root-user)
  if ! err=$(unshare "${args[@]}" true 2>&1); then
    # (in a chroot, unshare cannot make a root that is no mount point
    # private: "cannot change root filesystem propagation")
    NSD_NETNS_WHY="unshare ${args[*]} does not work here (${err:-it failed}): it needs root, or unprivileged user namespaces; in a chroot, the chroot's root must be a mount point (mount --bind DIR DIR)"
    return 1
  fi
  NSD_NETNS_ARGS=("${args[@]}")
  return 0
}

nsd_netns_setup() {
  local dir=$1
  if ! ip link set lo up 2>"$dir/netns.err"; then
    NSD_NETNS_WHY="cannot bring up the namespace's loopback: $(cat "$dir/netns.err")"
    return 1
  fi
  printf 'nameserver 127.0.0.1\n' >"$dir/resolv.conf"
  if ! mount --bind "$dir/resolv.conf" /etc/resolv.conf 2>"$dir/netns.err"; then
    NSD_NETNS_WHY="cannot bind-mount a private /etc/resolv.conf: $(cat "$dir/netns.err")"
    return 1
  fi
  return 0
}

nsd_netns_serve() {
  local dir=$1 zonedir=$2 spfquery=$3 f rc=0 probe_ip
  mkdir -p "$dir/zones" || {
    NSD_NETNS_WHY="cannot populate $dir"
    return 1
  }
  NSD_ZONES=()
  for f in "$zonedir"/*.zone; do
    [ -f "$f" ] || {
      NSD_NETNS_WHY="no zone files in $zonedir"
      return 1
    }
    NSD_ZONES+=("$(basename "$f" .zone)")
    cp "$f" "$dir/zones/" || {
      NSD_NETNS_WHY="cannot copy $f"
      return 1
    }
  done
  # the probe zone's record passes only this run's random address, so
  # the readiness probe cannot be answered by another server
  probe_ip=$(printf '2001:db8:ffff:%x:%x:%x:%x:1' \
    $(((RANDOM << 1 ^ RANDOM ^ $$) & 0xffff)) \
    $(((RANDOM << 1 ^ RANDOM ^ $$) & 0xffff)) \
    $(((RANDOM << 1 ^ RANDOM ^ $$) & 0xffff)) \
    $(((RANDOM << 1 ^ RANDOM ^ $$) & 0xffff)))
  cat >"$dir/zones/probe.test.zone" <<EOF
\$ORIGIN probe.test.
\$TTL 60
@ SOA ns1.probe.test. hostmaster.probe.test. ( 1 3600 900 604800 60 )
  NS ns1.probe.test.
  TXT "v=spf1 ip6:$probe_ip -all"
EOF
  NSD_ZONES+=(probe.test)
  nsd_write_conf "$dir/nsd.conf" "$dir" 53 127.0.0.1@53 || {
    NSD_NETNS_WHY="nsd-checkconf rejects the configuration: $(cat "$dir/checkconf.out")"
    return 1
  }
  # shellcheck disable=SC2317 # called by nsd_launch
  _nsd_netns_probe() {
    local out
    out=$("$spfquery" --server 127.0.0.1:53 --timeout 300 -ip "$probe_ip" \
      -sender probe@probe.test 2>/dev/null)
    [ $? = 2 ] && [ "${out%%$'\n'*}" = pass ]
  }
  nsd_launch "$dir/nsd.conf" "$dir" _nsd_netns_probe || rc=$?
  [ $rc = 0 ] && return 0
  NSD_NETNS_WHY="nsd did not start on 127.0.0.1:53 in the namespace:"$'\n'"$NSD_LOG"
  return 1
}

CHILD_PID=
NSD_SCRIPT_KEEP=
nsd_script_stop() { :; }

nsd_script_cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [ -n "$CHILD_PID" ]; then
    kill -TERM "$CHILD_PID" 2>/dev/null
    wait "$CHILD_PID" 2>/dev/null
  fi
  nsd_script_stop
  nsd_stop
  if [ -n "${TMP:-}" ]; then
    if [ "${!NSD_SCRIPT_KEEP:-0}" = 1 ]; then
      nsd_note "kept $TMP"
    else
      rm -rf "$TMP"
    fi
  fi
  exit "$status"
}

nsd_script_begin() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/mdspf-$1.XXXXXX") || return 1
  NSD_SCRIPT_KEEP=$2
  trap nsd_script_cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

run_child() {
  "$@" &
  CHILD_PID=$!
  wait "$CHILD_PID"
  RC=$?
  CHILD_PID=
}

#!/bin/sh
# test_policyd.sh -- spf-policyd end to end, offline (--zone): spawn mode
# and the unix-socket daemon; decisions, headers, one header per message,
# pipelining, many connections, SIGHUP reload with requests in flight,
# SIGUSR1 / --status statistics, SIGTERM graceful stop, bad input.
# usage: test_policyd.sh SPF-POLICYD SRCDIR
# SPDX-License-Identifier: BSD-2-Clause
set -u
BIN=$1
SRC=$2
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
CLIENT="python3 $SRC/tests/policyd_client.py"
ZONE=$SRC/tests/integration/zones/spf.test.zone
T=$(mktemp -d "${TMPDIR:-/tmp}/policyd.XXXXXX") || exit 1
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
n=0
ok() { n=$((n + 1)); echo "ok   $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL $1"; }
# expect NAME FILE PATTERN: FILE has a line matching PATTERN (grep -E)
expect() {
  if grep -qE -- "$3" "$2"; then ok "$1"; else
    fail "$1"; echo "  wanted /$3/ in:"; sed 's/^/    /' "$2"; fi
}
# count NAME FILE PATTERN N: exactly N lines match
count() {
  c=$(grep -cE -- "$3" "$2")
  if [ "$c" -eq "$4" ]; then ok "$1"; else
    fail "$1 ($c lines, want $4)"; sed 's/^/    /' "$2"; fi
}
req() { # ip helo sender instance [rcpt] [extra line]
  printf 'request=smtpd_access_policy\nprotocol_state=RCPT\n'
  printf 'client_address=%s\nhelo_name=%s\nsender=%s\ninstance=%s\n' \
    "$1" "$2" "$3" "$4"
  printf 'recipient=%s\n' "${5:-bob@example.net}"
  [ -n "${6:-}" ] && printf '%s\n' "$6"
  printf '\n'
}

# ---- spawn mode: stdin/stdout -------------------------------------------
{
  req 192.0.2.1 helo.example user@fail-all.spf.test m1
  req 192.0.2.1 helo.example user@pass-all.spf.test m2
  req 192.0.2.1 helo.example user@pass-all.spf.test m2 carol@example.org
  req 192.0.2.1 fail-all.spf.test '' m3
  req 192.0.2.1 pass-all.spf.test '' m4
  req 127.0.0.1 helo.example a@b.example m5
  req 192.0.2.1 helo.example user@softfail-all.spf.test m6
  req 192.0.2.1 helo.example user@nonexistent.spf.test m7
  req 192.0.2.1 helo.example user@pass-all.spf.test m8 x@y 'sasl_username=alice'
  printf 'helo_name=h\nsender=a@b\ninstance=m9\n\n'
} >"$T/spawn.in"
"$BIN" --no-config --zone "$ZONE" --log stderr <"$T/spawn.in" \
  >"$T/spawn.out" 2>"$T/spawn.log"
rc=$?
[ $rc -eq 0 ] && ok "spawn mode exits 0 at end of input" ||
  fail "spawn mode exit status $rc"
count "spawn: one reply per request" "$T/spawn.out" '^action=' 10
expect "fail is rejected with 5.7.23 and spf-engine's text" "$T/spawn.out" \
  '^action=550 5\.7\.23 Message rejected due to: SPF fail - not authorized\. Please see http://www\.openspf\.net/Why\?s=mfrom;id=user@fail-all\.spf\.test;ip=192\.0\.2\.1;r=example\.net$'
expect "pass prepends Received-SPF" "$T/spawn.out" \
  '^action=prepend Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=192\.0\.2\.1; helo=helo\.example; envelope-from=user@pass-all\.spf\.test; receiver=example\.net $'
expect "null sender: the HELO identity is rejected" "$T/spawn.out" \
  'Why\?s=helo;id=fail-all\.spf\.test;ip=192\.0\.2\.1;r=example\.net$'
expect "null sender: HELO pass header" "$T/spawn.out" \
  '^action=prepend Received-SPF: Pass \(sender SPF authorized\) identity=helo; client-ip=192\.0\.2\.1; helo=pass-all\.spf\.test; envelope-from=<>; receiver=example\.net $'
expect "loopback skipped with X-Comment" "$T/spawn.out" \
  '^action=prepend X-Comment: SPF check N/A for local connections - client-ip=127\.0\.0\.1; helo=helo\.example; envelope-from=a@b\.example; receiver=example\.net $'
expect "softfail prepended (Mail_From_reject=Fail)" "$T/spawn.out" \
  '^action=prepend Received-SPF: Softfail \(mailfrom\)'
expect "no record: none header" "$T/spawn.out" \
  '^action=prepend Received-SPF: None \(mailfrom\) identity=mailfrom'
count "second recipient of a message: dunno (one header per message)" \
  "$T/spawn.out" '^action=dunno$' 3
expect "decision log line" "$T/spawn.log" \
  '^spf-policyd\[[0-9]+\]: decision client=192\.0\.2\.1 helo=helo\.example sender=user@fail-all\.spf\.test identity=mailfrom result=fail action="550 5\.7\.23 [^"]*" ms=[0-9]+ instance=m1 queue_id=- conn=1 gen=1 cached=0$'
expect "remembered decision logged" "$T/spawn.log" \
  'identity=- result=remembered action="dunno" .* instance=m2 .*cached=1$'
expect "SASL client skipped" "$T/spawn.log" 'result=sasl action="dunno"'
expect "no client address: dunno" "$T/spawn.log" 'result=no-client action="dunno"'

# ---- configuration: spf-engine's file -----------------------------------
cat >"$T/strict.conf" <<'CONF'
# spf-engine format
debugLevel = 1
HELO_reject = SPF_Not_Pass
Mail_From_reject = Softfail
PermError_reject = True
TempError_Defer = True
Header_Type = AR
Authserv_Id = mx.example.net
Hide_Receiver = Yes
Whitelist = 192.0.2.200/30
CONF
{
  req 192.0.2.1 helo.example user@softfail-all.spf.test c1
  req 192.0.2.1 neutral-all.spf.test user@pass-all.spf.test c2
  req 192.0.2.1 helo.example user@pass-all.spf.test c3
  req 192.0.2.201 helo.example user@fail-all.spf.test c4
} >"$T/strict.in"
"$BIN" -c "$T/strict.conf" --zone "$ZONE" --log stderr <"$T/strict.in" \
  >"$T/strict.out" 2>"$T/strict.log"
expect "Mail_From_reject=Softfail rejects softfail" "$T/strict.out" \
  '^action=550 5\.7\.23 Message rejected due to: domain owner discourages use of this host\. .*r=<UNKNOWN>$'
expect "HELO_reject=SPF_Not_Pass rejects a HELO neutral" "$T/strict.out" \
  '^action=550 5\.7\.23 Message rejected due to: access neither permitted nor denied\. Please see http://www\.openspf\.net/Why\?s=helo;id=neutral-all\.spf\.test;'
expect "Header_Type=AR" "$T/strict.out" \
  '^action=prepend Authentication-Results: mx\.example\.net; spf=pass \(sender SPF authorized\) smtp\.mailfrom=pass-all\.spf\.test \(client-ip=192\.0\.2\.1; helo=helo\.example; envelope-from=user@pass-all\.spf\.test; receiver=<UNKNOWN>\)$'
expect "Whitelist network" "$T/strict.out" \
  '^action=prepend Authentication-Results: mx\.example\.net; none \(SPF skipped for whitelisted relay -  client-ip=192\.0\.2\.201;'
printf 'HELO_reject = Sometimes\n' >"$T/bad.conf"
if "$BIN" -c "$T/bad.conf" --check-config >"$T/bad.out" 2>&1; then
  fail "a bad value is an error at start"
else
  expect "a bad value is an error at start" "$T/bad.out" \
    'bad value for HELO_reject: "Sometimes"'
fi
printf 'Frobnicate = 1\nTestOnly = 1\n' >"$T/unk.conf"
if "$BIN" -c "$T/unk.conf" --check-config >"$T/unk.out" 2>&1; then
  expect "an unknown key is a warning" "$T/unk.out" 'warning: .*unknown name "Frobnicate"'
else
  fail "an unknown key is a warning"; cat "$T/unk.out"
fi

# ---- the daemon on a unix socket ----------------------------------------
cat >"$T/gen1.conf" <<'CONF'
Mail_From_reject = Fail
CONF
cp "$T/gen1.conf" "$T/live.conf"
"$BIN" -c "$T/live.conf" --zone "$ZONE" --zone-delay 1500 --log stderr \
  --listen "unix:$T/p.sock" --status "unix:$T/st.sock" \
  --pidfile "$T/pid" --idle-timeout 2 --stop-timeout 5000 \
  2>"$T/d.log" &
PID=$!
i=0
while [ ! -S "$T/p.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$T/p.sock" ] && ok "daemon listens" || fail "daemon listens"
[ "$(cat "$T/pid" 2>/dev/null)" = "$PID" ] && ok "pidfile" || fail "pidfile"

{
  req 192.0.2.1 helo.example user@fail-all.spf.test p1
  req 192.0.2.1 helo.example user@pass-all.spf.test p2
  req 192.0.2.1 helo.example user@pass-all.spf.test p2 carol@example.org
} >"$T/pipe.in"
$CLIENT send "$T/p.sock" "$T/pipe.in" >"$T/pipe.out" ||
  fail "pipelined requests answered"
count "pipelined: three replies in order" "$T/pipe.out" '^action=' 3
if sed -n 1p "$T/pipe.out" | grep -q '^action=550' &&
  sed -n 3p "$T/pipe.out" | grep -q '^action=prepend' &&
  sed -n 5p "$T/pipe.out" | grep -q '^action=dunno$'; then
  ok "pipelined replies come in request order"
else
  fail "pipelined replies come in request order"; cat "$T/pipe.out"
fi

# many connections at once, each with its own message of two recipients
{
  req 192.0.2.1 helo.example user@pass-all.spf.test 'many@INST@'
  req 192.0.2.1 helo.example user@pass-all.spf.test 'many@INST@' c@example.org
} >"$T/many.in"
$CLIENT many "$T/p.sock" 50 "$T/many.in" >"$T/many.out" ||
  fail "50 connections answered"
count "50 connections at once: one header per message" "$T/many.out" \
  '^action=prepend Received-SPF: Pass' 50
count "... and dunno for each second recipient" "$T/many.out" '^action=dunno$' 50
req 192.0.2.1 helo.example user@pass-all.spf.test one >"$T/one.in"

# requests the daemon has received so far (from the --status socket)
nreq() {
  python3 -c "
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
b=b''
while True:
    d=s.recv(4096)
    if not d: break
    b+=d
print(b.decode().split('requests=')[1].split()[0])" "$T/st.sock"
}
# wait until the daemon has received more than $1 requests
wait_req() {
  i=0
  while [ "$(nreq)" -le "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}

# SIGHUP with a request in flight: it ends with the old configuration
req 192.0.2.1 helo.example user@softfail-all.spf.test r1 >"$T/r1.in"
req 192.0.2.1 helo.example user@softfail-all.spf.test r2 >"$T/r2.in"
before=$(nreq)
$CLIENT send "$T/p.sock" "$T/r1.in" >"$T/r1.out" &
C1=$!
wait_req "$before"
printf 'Mail_From_reject = Softfail\n' >"$T/live.conf"
kill -HUP "$PID"
i=0
while ! grep -q 'reloaded ' "$T/d.log" && [ $i -lt 100 ]; do
  sleep 0.1; i=$((i + 1))
done
$CLIENT send "$T/p.sock" "$T/r2.in" >"$T/r2.out"
wait $C1
expect "in flight across SIGHUP: old configuration (prepend)" "$T/r1.out" \
  '^action=prepend Received-SPF: Softfail'
expect "after SIGHUP: new configuration (reject)" "$T/r2.out" \
  '^action=550 5\.7\.23 Message rejected due to: domain owner discourages'
expect "reload logged" "$T/d.log" 'reloaded .*generation 2'
expect "in-flight request decided by generation 1" "$T/d.log" 'instance=r1 .*gen=1 '
expect "new request decided by generation 2" "$T/d.log" 'instance=r2 .*gen=2 '
printf 'HELO_reject = Maybe\n' >"$T/live.conf"
kill -HUP "$PID"
sleep 0.3
expect "bad reload refused, old generation stays" "$T/d.log" \
  'reload refused: .* generation 2 stays'
cp "$T/gen1.conf" "$T/live.conf"

# bad input: the daemon closes that connection and stays up
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/big.in"
$CLIENT raw "$T/p.sock" "$T/big.in" >"$T/big.out"
[ -s "$T/big.out" ] && fail "oversized request: no reply" ||
  ok "oversized request: closed without reply"
printf '\001\002\377junk\n\n' >"$T/junk.in"
$CLIENT raw "$T/p.sock" "$T/junk.in" >"$T/junk.out"
[ -s "$T/junk.out" ] && fail "junk: no reply" || ok "junk: closed without reply"
i=0
{ while [ $i -lt 1001 ]; do printf 'a%d=b\n' $i; i=$((i + 1)); done; printf '\n'; } >"$T/many-attrs.in"
$CLIENT raw "$T/p.sock" "$T/many-attrs.in" >"$T/many-attrs.out"
[ -s "$T/many-attrs.out" ] && fail "1001 attributes: no reply" ||
  ok "1001 attributes: closed without reply"
$CLIENT half "$T/p.sock"
$CLIENT noread "$T/p.sock" 20000 >"$T/noread.out"
expect "oversized request logged" "$T/d.log" 'closing without reply: request larger than 65536'
expect "junk logged" "$T/d.log" 'closing without reply: malformed request line'
expect "too many attributes logged" "$T/d.log" 'closing without reply: request with more than 1000'
sleep 0.3
expect "half request logged" "$T/d.log" 'closed in the middle of a request'
$CLIENT send "$T/p.sock" "$T/one.in" >"$T/after.out" &&
  ok "daemon still answers after bad input" ||
  fail "daemon still answers after bad input"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
[ "${rss:-0}" -gt 0 ] && [ "$rss" -lt 65536 ] && ok "RSS bounded (${rss} kB)" ||
  fail "RSS bounded (${rss:-?} kB)"

# statistics: SIGUSR1 to the log, and the --status socket
kill -USR1 "$PID"
sleep 0.3
expect "SIGUSR1 statistics" "$T/d.log" 'stats latency_ms p50=[0-9]+ p90=[0-9]+ p99=[0-9]+ max=[0-9]+'
python3 -c "
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
b=b''
while True:
    d=s.recv(4096)
    if not d: break
    b+=d
sys.stdout.write(b.decode())" "$T/st.sock" >"$T/status.out"
expect "--status: requests" "$T/status.out" '^stats requests=[0-9]+ answered=[0-9]+'
expect "--status: results" "$T/status.out" '^stats results pass=[0-9]+ fail=[1-9]'
expect "--status: cache" "$T/status.out" '^stats dns_cache enabled=1 hits=[1-9][0-9]* misses=[0-9]+'
expect "--status: connections" "$T/status.out" '^stats connections now=[0-9]+ peak=[0-9]+'
expect "--status: memory" "$T/status.out" '^stats memory rss_kb=[0-9]+'

# SIGTERM with a request in flight: it is answered, then the daemon ends
before=$(nreq)
$CLIENT send "$T/p.sock" "$T/r1.in" >"$T/term.out" &
C1=$!
wait_req "$before"
kill -TERM "$PID"
wait $C1
expect "in flight at SIGTERM: answered" "$T/term.out" '^action='
wait "$PID"
rc=$?
PID=
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
[ ! -e "$T/p.sock" ] && ok "socket removed" || fail "socket removed"
[ ! -e "$T/pid" ] && ok "pidfile removed" || fail "pidfile removed"
expect "idle connection closed" "$T/d.log" 'stopped'

echo "$((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]

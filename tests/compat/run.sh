#!/usr/bin/env bash
# run.sh -- Debian's programs that use libspf2, run once against Debian's
# libspf2 (the control) and once against the libspf2-compatible library
# of this project, over the integration zones served by NSD.
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: run.sh SPFQUERY LIBDIR OPENDMARC_SPF [SRCDIR]
#
#   SPFQUERY       this project's spfquery (the reference: its --json result
#                  is what the library gives for each check)
#   LIBDIR         the directory holding the compatible libspf2.so.2; the
#                  programs use it through LD_LIBRARY_PATH.  Without a
#                  libspf2.so.2 there the test fails (after the control run)
#   OPENDMARC_SPF  tests/compat/opendmarc_spf built against libopendmarc,
#                  or "-" when it could not be built
#
# The programs (all four resolve through /etc/resolv.conf and port 53):
#   spfquery   Debian's spfquery.libspf2 (package spfquery), one run per case
#   exim       Debian's exim4 (exim4-daemon-heavy; ./build.sh test unpacks
#              the .deb into build/debs/ rather than installing the package,
#              which conflicts with Postfix) in -bh host-checking
#              mode with a configuration written here: an RCPT ACL branching
#              on "spf = ...", logging $spf_result, $spf_header_comment,
#              $spf_smtp_comment and $spf_received; one SMTP dialogue per case
#   opendmarc  tests/compat/opendmarc_spf: libopendmarc's opendmarc_spf2_test()
#   perl       tests/compat/spf_xs.pl: Mail::SPF_XS (libmail-spf-xs-perl)
#
# So this script re-runs itself in a private network and mount namespace
# (unshare --net --mount, --map-root-user when not root; tests/nsd-lib.sh):
# NSD serves tests/integration/zones on the namespace's 127.0.0.1:53 and a
# private resolv.conf is bind-mounted over /etc/resolv.conf.  Exim's spool
# and log directories are in the temporary directory (-bh delivers nothing).
# NSD is stopped and the directory removed on every exit path.
#
# The cases are tests/integration/cases.txt.  compare.py checks, per
# program and case, that the control gives the result this project's
# spfquery gives for the same inputs, or the libspf2 answer listed in
# expected-differences.txt; that the compatible library gives the
# reference result; and that everything else the program prints is
# identical under both libraries.  See expected-differences.txt.
#
# Exit status: 0 all passed; 1 a failure (LIBDIR without libspf2.so.2
# included); 77 something needed is missing (nsd, a program, a working
# unshare): a skip, or a failure where MDSPF_REQUIRE_COMPAT=1 (as
# ./build.sh test sets) or CI=true.
#
# Environment: NSD=/path/to/nsd; EXIM=/path/to/exim (else the one unpacked
# by ./build.sh test, else the installed one); SPFQUERY_LIBSPF2=/path;
# MDSPF_COMPAT_KEEP=1 keeps the temporary directory; MDSPF_COMPAT_PRELOAD=
# a library to preload into the programs for the compatible library only
# (the ASan runtime, when LIBDIR was built with AddressSanitizer).
# shellcheck disable=SC2317 # cleanup runs from traps
set -u

PROG=compat
say() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
  printf '%s: FAIL: %s\n' "$PROG" "$*" >&2
  exit 1
}
required() { [ "${MDSPF_REQUIRE_COMPAT:-0}" = 1 ] || [ "${CI:-}" = true ]; }
skip() {
  if required; then
    die "$* (required here: MDSPF_REQUIRE_COMPAT=1 or CI=true)"
  fi
  printf '%s: SKIPPED: %s\n' "$PROG" "$*"
  exit 77
}

SPFQUERY=${1:-}
LIBDIR=${2:-}
OPENDMARC_SPF=${3:-}
if [ -z "$SPFQUERY" ] || [ -z "$LIBDIR" ] || [ -z "$OPENDMARC_SPF" ]; then
  echo "usage: run.sh SPFQUERY LIBDIR OPENDMARC_SPF [SRCDIR]" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "${4:-}" ]; then
  HERE=$(cd "$4/tests/compat" && pwd) || exit 1
fi
SRCDIR=$(cd "$HERE/../.." && pwd)
CASES=$SRCDIR/tests/integration/cases.txt
ZONEDIR=$SRCDIR/tests/integration/zones
EXPECTED=$HERE/expected-differences.txt

abspath() { # PATH -> absolute path (the file need not exist)
  case $1 in
  /*) printf '%s\n' "$1" ;;
  *) printf '%s/%s\n' "$(pwd)" "$1" ;;
  esac
}
[ -x "$SPFQUERY" ] || die "spfquery '$SPFQUERY' is not an executable file"
SPFQUERY=$(abspath "$SPFQUERY")
LIBDIR=$(abspath "$LIBDIR")
[ "$OPENDMARC_SPF" = - ] || OPENDMARC_SPF=$(abspath "$OPENDMARC_SPF")
[ -f "$CASES" ] || die "no $CASES"
[ -f "$EXPECTED" ] || die "no $EXPECTED"

# shellcheck source=../nsd-lib.sh
. "$SRCDIR/tests/nsd-lib.sh" || die "cannot read $SRCDIR/tests/nsd-lib.sh"
nsd_note() { say "$@"; }
NSD_BIN=$(nsd_find)
[ -n "$NSD_BIN" ] || skip "nsd not found; install the Debian package 'nsd' (./build.sh test does)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found (Debian: python3)"
case $("$SPFQUERY" --help 2>&1) in
*--server*) ;;
*) skip "$SPFQUERY has no --server option (live DNS not built in)" ;;
esac

# ---------------------------------------------------------------------------
# The private namespace: re-run inside it
# ---------------------------------------------------------------------------

if [ -z "${MDSPF_COMPAT_INNER:-}" ]; then
  nsd_netns_check || skip "$NSD_NETNS_WHY: the programs resolve through /etc/resolv.conf on port 53, which needs a private network namespace"
  export MDSPF_COMPAT_INNER=1
  exec unshare "${NSD_NETNS_ARGS[@]}" -- bash "$0" "$SPFQUERY" "$LIBDIR" \
    "$OPENDMARC_SPF" "$SRCDIR"
fi

# ---------------------------------------------------------------------------
# Temporary directory, cleanup on every exit path
# ---------------------------------------------------------------------------

nsd_script_begin compat MDSPF_COMPAT_KEEP || die "mktemp -d failed"

nsd_netns_setup "$TMP" || die "$NSD_NETNS_WHY"

# ---------------------------------------------------------------------------
# NSD on the namespace's 127.0.0.1:53
# ---------------------------------------------------------------------------

# configured without a file: NSD answers SERVFAIL (see cases.txt)
NSD_MISSING_ZONES=(servfail.test)
t_start=$(nsd_now_ms)
nsd_netns_serve "$TMP" "$ZONEDIR" "$SPFQUERY" || die "$NSD_NETNS_WHY"
say "nsd on 127.0.0.1:53 in a private network namespace, ready after $(($(nsd_now_ms) - t_start)) ms"

# ---------------------------------------------------------------------------
# The cases and the programs
# ---------------------------------------------------------------------------

C_IP=() C_SENDER=() C_HELO=()
while IFS= read -r line || [ -n "$line" ]; do
  case $line in '' | '#'*) continue ;; esac
  read -r ip sender helo _ <<<"$line"
  [ -n "${helo:-}" ] || die "cases.txt: malformed line: $line"
  C_IP+=("$ip") C_SENDER+=("$sender") C_HELO+=("$helo")
done <"$CASES"
NCASES=${#C_IP[@]}
for ((i = 0; i < NCASES; i++)); do
  printf '%s %s %s\n' "${C_IP[$i]}" "${C_SENDER[$i]}" "${C_HELO[$i]}"
done >"$TMP/cases.key"

MISSING=()
find_prog() { # VAR NAME CANDIDATES...: first executable candidate
  local var=$1 name=$2 p
  shift 2
  for p in "$@"; do
    if [ -n "$p" ] && [ -x "$p" ]; then
      printf -v "$var" '%s' "$p"
      return 0
    fi
  done
  printf -v "$var" '%s' ""
  return 1
}
find_prog SPF2Q spfquery "${SPFQUERY_LIBSPF2:-}" \
  "$(command -v spfquery.libspf2 2>/dev/null)" /usr/bin/spfquery.libspf2 ||
  MISSING+=("spfquery.libspf2 (Debian: spfquery)")
find_prog EXIM_BIN exim "${EXIM:-}" \
  "$SRCDIR/build/debs/exim4-daemon-heavy/usr/sbin/exim4" \
  "$(command -v exim4 2>/dev/null)" /usr/sbin/exim4 /usr/sbin/exim ||
  MISSING+=("exim (Debian: exim4-daemon-heavy, or its .deb unpacked by ./build.sh test)")
# An Exim unpacked from its .deb looks up its compiled-in user (Debian's
# Debian-exim) as it starts, before it reads any configuration, and exits
# when the user does not exist (the package creates it).  Then this
# namespace gets a private /etc/passwd and /etc/group with that user
# (bind mounts, like resolv.conf's; the test's configuration runs Exim as
# the calling user anyway).
exim_user_fixup() {
  local out user uid=64990 d=$TMP/exim-passwd
  out=$("$EXIM_BIN" -bV 2>&1 </dev/null) && return 0
  user=$(sed -n 's/.*failed to find uid for user name "\([^"]*\)".*/\1/p' <<<"$out" |
    head -n 1)
  [ -n "$user" ] || return 0 # another problem: the -bV check below says it
  while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null; do
    uid=$((uid + 1))
  done
  mkdir -p "$d" && cp /etc/passwd "$d/passwd" && cp /etc/group "$d/group" &&
    printf '%s:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' "$user" "$uid" "$uid" \
      >>"$d/passwd" &&
    printf '%s:x:%s:\n' "$user" "$uid" >>"$d/group" &&
    mount --bind "$d/passwd" /etc/passwd &&
    mount --bind "$d/group" /etc/group ||
    die "cannot give $EXIM_BIN its user $user in the private namespace"
  say "exim: its user $user does not exist here: added in the namespace (uid $uid)"
}
[ -n "$EXIM_BIN" ] && exim_user_fixup
if [ -n "$EXIM_BIN" ]; then
  case $("$EXIM_BIN" -bV 2>/dev/null | grep -i '^Support for:') in
  *SPF*) ;;
  *)
    MISSING+=("an exim with SPF support (Debian: exim4-daemon-heavy; $EXIM_BIN has none)")
    EXIM_BIN=
    ;;
  esac
fi
[ "$OPENDMARC_SPF" != - ] && [ -x "$OPENDMARC_SPF" ] ||
  MISSING+=("tests/compat/opendmarc_spf (not built: Debian libopendmarc-dev)")
PERL_OK=0
if command -v perl >/dev/null 2>&1 && perl -MMail::SPF_XS -e 1 2>/dev/null; then
  PERL_OK=1
  SPF_XS_SO=$(perl -MConfig -e 'for (@INC) { my $f = "$_/auto/Mail/SPF_XS/SPF_XS.so"; if (-f $f) { print $f; last } }')
else
  MISSING+=("Mail::SPF_XS (Debian: libmail-spf-xs-perl)")
fi

HAVE_OURS=0
[ -f "$LIBDIR/libspf2.so.2" ] && HAVE_OURS=1

# The environments of the two runs.  Only the library search path differs
# (and, for a sanitized library, its runtime preloaded); leaks are the
# programs' own business, not this test's.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
CONTROL_ENV=(env -u LD_LIBRARY_PATH -u LD_PRELOAD)
OURS_ENV=(env -u LD_PRELOAD "LD_LIBRARY_PATH=$LIBDIR")
[ -n "${MDSPF_COMPAT_PRELOAD:-}" ] &&
  OURS_ENV=(env "LD_PRELOAD=$MDSPF_COMPAT_PRELOAD" "LD_LIBRARY_PATH=$LIBDIR")

FAILS=0
fail() {
  printf 'FAIL %s\n' "$*"
  FAILS=$((FAILS + 1))
}

# which_libspf2 ENV-ARRAY-NAME OBJECT: the libspf2.so.2 the dynamic
# loader picks for OBJECT in that environment (resolved path).
which_libspf2() {
  local -n envref=$1
  local p
  p=$("${envref[@]}" ldd "$2" 2>/dev/null |
    sed -n 's/^[[:space:]]*libspf2\.so\.2 => \([^ ]*\) .*/\1/p' | head -n 1)
  [ -n "$p" ] && readlink -f "$p"
}
# check_libs NAME OBJECT: the control uses a libspf2 outside LIBDIR, the
# other run LIBDIR's.
check_libs() {
  local name=$1 obj=$2 c o want
  c=$(which_libspf2 CONTROL_ENV "$obj")
  if [ -z "$c" ]; then
    fail "$name: $obj does not load a libspf2.so.2 (ldd)"
    return 1
  fi
  want=$(readlink -f "$LIBDIR/libspf2.so.2")
  if [ "$c" = "$want" ]; then
    fail "$name: the control run would load $c, the compatible library, not Debian's"
    return 1
  fi
  if [ "$HAVE_OURS" = 1 ]; then
    o=$(which_libspf2 OURS_ENV "$obj")
    if [ "$o" != "$want" ]; then
      fail "$name: with LD_LIBRARY_PATH=$LIBDIR, $obj loads '$o', not $want"
      return 1
    fi
  fi
  say "$name: control uses $c${o:+, the other run $o}"
  return 0
}

# timeout per program run: a hang is a failure, not a stuck test
T=20

# ---- spfquery.libspf2: one process per case ---------------------------------
run_spfquery() { # DIR ENV...
  local dir=$1 i s args
  shift
  mkdir -p "$dir"
  for ((i = 0; i < NCASES; i++)); do
    s=${C_SENDER[$i]}
    [ "$s" = "<>" ] && s= # libspf2 then checks postmaster@HELO
    args=(-ip "${C_IP[$i]}" -sender "$s" -helo "${C_HELO[$i]}")
    "$@" timeout "$T" "$SPF2Q" "${args[@]}" >"$dir/$i.out" 2>"$dir/$i.err"
    echo $? >"$dir/$i.rc"
  done
}

# ---- exim -bh: one SMTP dialogue per case ----------------------------------
write_exim_conf() {
  mkdir -p "$TMP/exim/spool" "$TMP/exim/log"
  cat >"$TMP/exim/exim.conf" <<EOF
# written by tests/compat/run.sh: SPF in the RCPT ACL, -bh mode only
primary_hostname = mx.compat.test
qualify_domain = compat.test
spool_directory = $TMP/exim/spool
log_file_path = $TMP/exim/log/%slog
exim_user = $(id -un)
exim_group = $(id -gn)
never_users =
host_lookup =
rfc1413_hosts =
# Exim's own check of DNS names would refuse the '%' of a %{L} expansion
# before the query is made; the test is about the SPF library
dns_check_names_pattern =
keep_environment =
acl_smtp_rcpt = acl_rcpt

begin acl

acl_rcpt:
  # any result: the condition sets the variables
  warn   spf = pass : fail : softfail : neutral : none : temperror : permerror : invalid
         logwrite = COMPAT-VARS\t\$spf_result\t\$spf_header_comment\t\$spf_smtp_comment\t\$spf_received
  accept spf = pass
         logwrite = COMPAT-ACL\taccept pass
  deny   spf = fail
         logwrite = COMPAT-ACL\tdeny fail
         message = SPF fail: \$spf_smtp_comment
  defer  spf = temperror
         logwrite = COMPAT-ACL\tdefer temperror
         message = SPF temperror: \$spf_smtp_comment
  deny   spf = permerror : invalid
         logwrite = COMPAT-ACL\tdeny permerror/invalid
         message = SPF permerror: \$spf_smtp_comment
  accept spf = softfail : neutral : none
         logwrite = COMPAT-ACL\taccept softfail/neutral/none
  # a result none of the lists above names
  deny   logwrite = COMPAT-ACL\tdeny unmatched
         message = SPF unmatched: \$spf_result

begin routers
begin transports
EOF
}
run_exim() { # DIR ENV...
  local dir=$1 i s
  shift
  mkdir -p "$dir"
  for ((i = 0; i < NCASES; i++)); do
    s=${C_SENDER[$i]}
    # an SMTP sender needs a domain; libspf2 reads "domain" as
    # postmaster@domain anyway
    case $s in '<>' | *@*) ;; *) s=postmaster@$s ;; esac
    [ "$s" = "<>" ] && s=
    printf 'HELO %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<postmaster@compat.test>\r\nQUIT\r\n' \
      "${C_HELO[$i]}" "$s" |
      "$@" timeout "$T" "$EXIM_BIN" -C "$TMP/exim/exim.conf" -bh "${C_IP[$i]}" \
        >"$dir/$i.out" 2>"$dir/$i.err"
    echo $? >"$dir/$i.rc"
  done
}
exim_ref_input() {
  local i s
  for ((i = 0; i < NCASES; i++)); do
    s=${C_SENDER[$i]}
    case $s in '<>' | *@*) ;; *) s=postmaster@$s ;; esac
    printf '%s %s %s\n' "${C_IP[$i]}" "$s" "${C_HELO[$i]}"
  done
}

# ---- libopendmarc and Mail::SPF_XS: one process for all cases --------------
run_batch() { # OUT ERR ENV... -- PROGRAM...
  local out=$1 err=$2
  shift 2
  # (the redirection inside the background job: bash gives a background
  # job /dev/null as its standard input otherwise)
  "$@" <"$TMP/cases.key" >"$out" 2>"$err" &
  CHILD_PID=$!
  wait "$CHILD_PID"
  echo $? >"$out.rc"
  CHILD_PID=
}
# opendmarc_spf2_test() gives libspf2 only the MAIL FROM domain, or with
# no "@" in the address only the HELO name
opendmarc_ref_input() {
  local i s
  for ((i = 0; i < NCASES; i++)); do
    s=${C_SENDER[$i]}
    case $s in
    *@*) printf '%s %s\n' "${C_IP[$i]}" "${s#*@}" ;;
    *) printf '%s <> %s\n' "${C_IP[$i]}" "${C_HELO[$i]}" ;;
    esac
  done
}
# spf_xs.pl gives the sender (the HELO name for <>), never a HELO name
perl_ref_input() {
  local i s
  for ((i = 0; i < NCASES; i++)); do
    s=${C_SENDER[$i]}
    [ "$s" = "<>" ] && s=${C_HELO[$i]}
    printf '%s %s\n' "${C_IP[$i]}" "$s"
  done
}

# reference NAME: this project's spfquery over NAME.ref.in, --json
reference() {
  run_child "$SPFQUERY" --server 127.0.0.1:53 --timeout 5000 --json \
    -file "$TMP/$1.ref.in" >"$TMP/$1.ref.json" 2>"$TMP/$1.ref.err"
  if [ "$RC" -ge 128 ] || [ "$(wc -l <"$TMP/$1.ref.json")" -ne "$NCASES" ]; then
    fail "$1: the reference run of $SPFQUERY failed (status $RC):"
    sed 's/^/  | /' "$TMP/$1.ref.err" | head -n 20
    return 1
  fi
  return 0
}

COMPARE=()
t0=$(nsd_now_ms)
if [ -n "$SPF2Q" ] && check_libs spfquery "$SPF2Q"; then
  cp "$TMP/cases.key" "$TMP/spfquery.ref.in"
  if reference spfquery; then
    run_spfquery "$TMP/spfquery.control" "${CONTROL_ENV[@]}"
    [ "$HAVE_OURS" = 1 ] && run_spfquery "$TMP/spfquery.ours" "${OURS_ENV[@]}"
    COMPARE+=(spfquery)
  fi
fi
if [ -n "$EXIM_BIN" ]; then
  write_exim_conf
  # Exim sets its groups at start-up, which an unprivileged user namespace
  # (--map-root-user) forbids: then it cannot run here at all
  if ! "${CONTROL_ENV[@]}" "$EXIM_BIN" -C "$TMP/exim/exim.conf" -bV \
    >"$TMP/exim/bV.out" 2>&1; then
    MISSING+=("a working exim ($EXIM_BIN -bV: $(grep -v '^$' "$TMP/exim/bV.out" | tail -n 1); run as root)")
    EXIM_BIN=
  fi
fi
if [ -n "$EXIM_BIN" ] && check_libs exim "$EXIM_BIN"; then
  exim_ref_input >"$TMP/exim.ref.in"
  if reference exim; then
    run_exim "$TMP/exim.control" "${CONTROL_ENV[@]}"
    [ "$HAVE_OURS" = 1 ] && run_exim "$TMP/exim.ours" "${OURS_ENV[@]}"
    COMPARE+=(exim)
    # -bh must leave no message or log behind, not even in its own spool
    if [ -n "$(find "$TMP/exim/spool" "$TMP/exim/log" -type f 2>/dev/null)" ]; then
      fail "exim -bh left files in its spool or log directory:"
      find "$TMP/exim/spool" "$TMP/exim/log" -type f | sed 's/^/  | /'
    fi
  fi
fi
if [ "$OPENDMARC_SPF" != - ] && [ -x "$OPENDMARC_SPF" ] &&
  check_libs opendmarc "$OPENDMARC_SPF"; then
  opendmarc_ref_input >"$TMP/opendmarc.ref.in"
  if reference opendmarc; then
    run_batch "$TMP/opendmarc.control" "$TMP/opendmarc.control.err" \
      "${CONTROL_ENV[@]}" timeout "$T" "$OPENDMARC_SPF"
    [ "$HAVE_OURS" = 1 ] &&
      run_batch "$TMP/opendmarc.ours" "$TMP/opendmarc.ours.err" \
        "${OURS_ENV[@]}" timeout "$T" "$OPENDMARC_SPF"
    COMPARE+=(opendmarc)
  fi
fi
if [ "$PERL_OK" = 1 ] && check_libs perl "$SPF_XS_SO"; then
  perl_ref_input >"$TMP/perl.ref.in"
  if reference perl; then
    run_batch "$TMP/perl.control" "$TMP/perl.control.err" \
      "${CONTROL_ENV[@]}" timeout "$T" perl "$HERE/spf_xs.pl"
    [ "$HAVE_OURS" = 1 ] &&
      run_batch "$TMP/perl.ours" "$TMP/perl.ours.err" \
        "${OURS_ENV[@]}" timeout "$T" perl "$HERE/spf_xs.pl"
    COMPARE+=(perl)
  fi
fi
# ---- the README's system-wide recipe: an ld.so.conf.d entry ----------------
# An entry for the library's directory, read before the system's, makes
# every program load it with no environment at all.  Done in this private
# mount namespace on a cache of its own (bind-mounted over
# /etc/ld.so.cache; ldconfig -X leaves every link as it is), so the
# machine's loader is untouched.  spfquery.libspf2 must then load the
# library and print what the LD_LIBRARY_PATH run printed.
recipe() {
  local d=$TMP/ldconf want got i n=0 bad=0
  mkdir -p "$d/ld.so.conf.d"
  cp /etc/ld.so.conf.d/*.conf "$d/ld.so.conf.d/" 2>/dev/null || true
  abspath "$LIBDIR" >"$d/ld.so.conf.d/00-maildrop-spf.conf"
  printf 'include %s/ld.so.conf.d/*.conf\n' "$d" >"$d/ld.so.conf"
  if ! ldconfig -X -f "$d/ld.so.conf" -C "$d/ld.so.cache" 2>"$d/err" ||
    ! mount --bind "$d/ld.so.cache" /etc/ld.so.cache 2>>"$d/err"; then
    fail "ld.so.conf.d recipe: ldconfig or the bind mount failed:"
    sed 's/^/  | /' "$d/err" | head -n 5
    return
  fi
  RECIPE_ENV=(env -u LD_LIBRARY_PATH -u LD_PRELOAD)
  [ -n "${MDSPF_COMPAT_PRELOAD:-}" ] &&
    RECIPE_ENV=(env -u LD_LIBRARY_PATH "LD_PRELOAD=$MDSPF_COMPAT_PRELOAD")
  want=$(readlink -f "$LIBDIR/libspf2.so.2")
  got=$(which_libspf2 RECIPE_ENV "$SPF2Q")
  if [ "$got" != "$want" ]; then
    fail "ld.so.conf.d recipe: $SPF2Q loads '$got', not $want"
  else
    run_spfquery "$d/out" "${RECIPE_ENV[@]}"
    for ((i = 0; i < NCASES; i++)); do
      n=$((n + 1))
      if ! cmp -s "$d/out/$i.out" "$TMP/spfquery.ours/$i.out"; then
        bad=$((bad + 1))
        [ $bad -le 3 ] && fail "ld.so.conf.d recipe: case $i prints other lines than with LD_LIBRARY_PATH"
      fi
    done
    [ $bad -eq 0 ] && say "ld.so.conf.d recipe: spfquery.libspf2 loads $got with no environment; $n cases as with LD_LIBRARY_PATH"
  fi
  umount /etc/ld.so.cache 2>/dev/null || true
}
if [ "$HAVE_OURS" = 1 ] && [ -n "$SPF2Q" ] && [ -d "$TMP/spfquery.ours" ]; then
  recipe
fi

say "$NCASES cases through ${#COMPARE[@]} programs ($([ "$HAVE_OURS" = 1 ] && echo "both libraries" || echo "the control only")) in $(($(nsd_now_ms) - t0)) ms"

# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

if [ ${#COMPARE[@]} -gt 0 ]; then
  run_child python3 "$HERE/compare.py" --dir "$TMP" --cases "$TMP/cases.key" \
    --expected "$EXPECTED" --ours "$HAVE_OURS" "${COMPARE[@]}"
  [ "$RC" = 0 ] || FAILS=$((FAILS + 1))
fi

if [ "$HAVE_OURS" = 0 ]; then
  fail "$LIBDIR has no libspf2.so.2: the compatible library was not built (CMake option MDSPF_ENABLE_LIBSPF2, needs c-ares); only the control ran"
fi
if grep -i 'error' "$TMP/nsd.log" | grep -v 'servfail\.test' >"$TMP/nsd.errors"; then
  fail "nsd logged errors:"
  sed 's/^/  | /' "$TMP/nsd.errors" | head -n 20
fi
[ "$FAILS" -eq 0 ] || {
  say "$FAILS failure(s)"
  exit 1
}
if [ ${#MISSING[@]} -gt 0 ]; then
  skip "not installed: ${MISSING[*]}"
fi
say "all passed"
exit 0

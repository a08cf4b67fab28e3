#!/usr/bin/env bash
# spf-engine.sh -- Debian's spf-engine (the code behind
# postfix-policyd-spf-python's policyd-spf) run unchanged on pyspf (the
# control) and on the Python binding's pyspf-compatible module, over the
# integration zones served by NSD (ctest "compat-spf-engine").
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: spf-engine.sh SPFQUERY LIBDIR [SRCDIR]
#
#   SPFQUERY  this project's spfquery (the probe that NSD is up)
#   LIBDIR    the build's lib/ (the libraries the binding's extension is
#             built against, bindings/python/build-ext.sh)
#
# spf-engine's module is not touched: the compatible side differs only in
# PYTHONPATH, which puts tests/compat/pyspf-shim (an spf.py that is
# maildrop_spf.compat.spf) and the built package first.  pyspf resolves
# through dnspython, /etc/resolv.conf and port 53, and so does the
# compatible module through the library's c-ares backend, so this script
# re-runs itself in a private network and mount namespace (as
# tests/compat/run.sh does, with tests/nsd-lib.sh): NSD serves
# tests/integration/zones on the namespace's 127.0.0.1:53 and a private
# resolv.conf is bind-mounted over /etc/resolv.conf.  spf_engine.py feeds
# both sides the same Postfix policy requests and compares the replies
# (see there, and spf-engine-differences.txt).
#
# Exit status: 0 passed; 1 a failure; 77 something needed is missing
# (nsd, Debian's python3-spf-engine / python3-spf / python3-cffi /
# python3-setuptools / python3-dev, a working unshare): a skip, or a
# failure where MDSPF_REQUIRE_COMPAT=1 (as ./build.sh test sets) or
# CI=true.  MDSPF_COMPAT_KEEP=1 keeps the temporary directory.
# shellcheck disable=SC2317 # cleanup runs from traps
set -u

PROG=spf-engine
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
if [ -z "$SPFQUERY" ] || [ -z "$LIBDIR" ]; then
  echo "usage: spf-engine.sh SPFQUERY LIBDIR [SRCDIR]" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "${3:-}" ]; then
  HERE=$(cd "$3/tests/compat" && pwd) || exit 1
fi
SRCDIR=$(cd "$HERE/../.." && pwd)
[ -x "$SPFQUERY" ] || die "spfquery '$SPFQUERY' is not an executable file"
SPFQUERY=$(cd "$(dirname "$SPFQUERY")" && pwd)/$(basename "$SPFQUERY")
LIBDIR=$(cd "$LIBDIR" && pwd) || die "no directory $2"

# shellcheck source=../nsd-lib.sh
. "$SRCDIR/tests/nsd-lib.sh" || die "cannot read $SRCDIR/tests/nsd-lib.sh"
nsd_note() { say "$@"; }
NSD_BIN=$(nsd_find)
[ -n "$NSD_BIN" ] || skip "nsd not found; install the Debian package 'nsd' (./build.sh test does)"
# Debian's interpreter first: a python3 earlier in PATH may lack its modules
PY=
for cand in /usr/bin/python3 python3; do
  if "$cand" -c 'import spf_engine.policyd_spf, spf, cffi, setuptools' \
    >/dev/null 2>&1; then
    PY=$(command -v "$cand")
    break
  fi
done
[ -n "$PY" ] || skip "no python3 with spf_engine, spf (pyspf), cffi and setuptools (Debian: python3-spf-engine python3-spf python3-cffi python3-setuptools python3-dev)"

if [ -z "${MDSPF_SPF_ENGINE_INNER:-}" ]; then
  nsd_netns_check || skip "$NSD_NETNS_WHY: spf-engine resolves through /etc/resolv.conf on port 53, which needs a private network namespace"
  export MDSPF_SPF_ENGINE_INNER=1
  exec unshare "${NSD_NETNS_ARGS[@]}" -- bash "$0" "$SPFQUERY" "$LIBDIR" \
    "$SRCDIR"
fi

nsd_script_begin spf-engine MDSPF_COMPAT_KEEP || die "mktemp -d failed"

nsd_netns_setup "$TMP" || die "$NSD_NETNS_WHY"
# configured without a file: NSD answers SERVFAIL (see cases.txt)
NSD_MISSING_ZONES=(servfail.test)
t0=$(nsd_now_ms)
nsd_netns_serve "$TMP" "$SRCDIR/tests/integration/zones" "$SPFQUERY" ||
  die "$NSD_NETNS_WHY"
say "nsd on 127.0.0.1:53 in a private network namespace, ready after $(($(nsd_now_ms) - t0)) ms"

EXT=$(bash "$SRCDIR/bindings/python/build-ext.sh" "$PY" "$SRCDIR" "$LIBDIR" \
  "$TMP/ext") || die "building the binding's extension failed"

run_child "$PY" "$HERE/spf_engine.py" --cases "$SRCDIR/tests/integration/cases.txt" \
  --expected "$HERE/spf-engine-differences.txt" --dir "$TMP" \
  --pythonpath "$HERE/pyspf-shim:$EXT" --python "$PY"
if grep -i 'error' "$TMP/nsd.log" | grep -v 'servfail\.test' >"$TMP/nsd.errors"; then
  say "FAIL nsd logged errors:"
  sed 's/^/  | /' "$TMP/nsd.errors" | head -n 20
  RC=1
fi
[ "$RC" = 0 ] || die "spf-engine on the compatible module differs from spf-engine on pyspf (above)"
say "all passed"
exit 0

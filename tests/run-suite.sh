#!/bin/sh
# Run the openspf RFC 7208 suite (or another file of it) with
# spf-testsuite, from every copy found:
#   $MDSPF_SUITE_DIR/FILE              when set
#   DEFAULT_DIR/FILE                   (../shared/testsuite next to the tree)
#   /usr/share/gocode/src/blitiri.com.ar/go/spf/testdata/FILE
#                                      (Debian golang-blitiri-go-spf-dev, a
#                                      variant of the suite the runner reads)
#   /usr/share/doc/python3-spf/FILE.gz (Debian python3-spf; minimal images
#                                      often drop /usr/share/doc)
# usage: run-suite.sh RUNNER DEFAULT_DIR FILE
# Exit: 0 every copy found passed; 1 a copy failed, or none was found
# while required (MDSPF_REQUIRE_SUITE=1, as ./build.sh test sets, or
# CI=true); 77 (reported as skipped by CTest) none found otherwise.
runner=$1
default_dir=$2
name=$3
tmp=
cleanup() { [ -n "$tmp" ] && rm -f "$tmp"; }
trap cleanup EXIT INT TERM

found=0
failed=0
run_one() {
  echo "== $1"
  if "$runner" "$1"; then :; else failed=1; fi
  found=$((found + 1))
}

if [ -n "${MDSPF_SUITE_DIR:-}" ]; then
  if [ -f "$MDSPF_SUITE_DIR/$name" ]; then
    run_one "$MDSPF_SUITE_DIR/$name"
  else
    echo "MDSPF_SUITE_DIR is set but $MDSPF_SUITE_DIR/$name is missing" >&2
    exit 1
  fi
fi
[ -f "$default_dir/$name" ] && run_one "$default_dir/$name"
blitiri=/usr/share/gocode/src/blitiri.com.ar/go/spf/testdata/$name
[ -f "$blitiri" ] && run_one "$blitiri"
pyspf=/usr/share/doc/python3-spf/$name.gz
if [ -f "$pyspf" ]; then
  tmp=$(mktemp "${TMPDIR:-/tmp}/mdspf-suite.XXXXXX") || exit 1
  if gzip -dc "$pyspf" >"$tmp"; then
    run_one "$tmp"
  else
    echo "cannot decompress $pyspf" >&2
    failed=1
  fi
fi

if [ "$found" -eq 0 ]; then
  echo "openspf suite $name not found: set MDSPF_SUITE_DIR, or install" \
    "Debian's golang-blitiri-go-spf-dev or python3-spf"
  if [ "${MDSPF_REQUIRE_SUITE:-0}" = 1 ] || [ "${CI:-}" = true ]; then
    echo "the suite is required here (MDSPF_REQUIRE_SUITE=1 or CI=true)"
    exit 1
  fi
  exit 77
fi
echo "$found cop$([ "$found" -eq 1 ] && echo y || echo ies) of $name run"
exit $failed

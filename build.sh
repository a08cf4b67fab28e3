#!/usr/bin/env bash
# build.sh -- build, demo and test libmaildrop-spf.
#
#   ./build.sh           configure and build into build/ (programs in build/bin)
#   ./build.sh demo      build, then show SPF checks against the bundled zone
#   ./build.sh test      build with -Werror and run every test, then again
#                        under AddressSanitizer + UndefinedBehaviorSanitizer
#   ./build.sh clean     remove the build trees
#
# Missing Debian packages are installed first (apt-get update only when
# something is missing).  Set JOBS to change build parallelism.
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$PWD
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=$ROOT/build
ASAN_BUILD=$ROOT/build-asan

PACKAGES=(cmake make gcc pkg-config libc-ares-dev libcmocka-dev libyaml-dev
  libevent-dev nsd)

say() { printf '\n== %s\n' "$*"; }

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "build.sh: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# configure_and_build DIR [cmake args...]
configure_and_build() {
  local dir=$1
  shift
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

cmd_build() {
  ensure_packages
  say "building into build/"
  configure_and_build "$BUILD"
  echo "programs: $(ls "$BUILD/bin" | tr '\n' ' ')"
}

cmd_demo() {
  ensure_packages
  configure_and_build "$BUILD" >/dev/null
  local q=$BUILD/bin/spfquery zone=$ROOT/examples/zones/demo.zone
  say "the record of bcoug.org (from examples/zones/demo.zone)"
  grep -E '^[^;]*"v=spf1 a mx include:_spf.google.com' "$zone" | sed 's/^/  /'
  say "spfquery -ip 204.244.186.184 -sender me@bcoug.org"
  local rc=0
  "$q" --zone "$zone" -ip 204.244.186.184 -sender me@bcoug.org || rc=$?
  echo "(exit status $rc: 2 = pass)"
  say "spfquery -ip 203.0.113.7 -sender me@bcoug.org   (an unrelated address)"
  rc=0
  "$q" --zone "$zone" -ip 203.0.113.7 -sender me@bcoug.org || rc=$?
  echo "(exit status $rc: 4 = softfail)"
  say "the same check with -debug: every term, query and include"
  "$q" --zone "$zone" -ip 203.0.113.7 -sender me@bcoug.org -debug 2>&1 \
    >/dev/null | sed 's/^debug: /  /' || true
  say "a record with a typo: permerror, with the position of the error"
  "$q" --zone "$zone" -ip 203.0.113.7 -sender me@broken.bcoug.org || true
}

run_ctest() {
  local dir=$1
  (cd "$dir" && ctest --output-on-failure -j "$JOBS" --timeout 300)
}

cmd_test() {
  ensure_packages
  say "build with -Werror"
  configure_and_build "$BUILD" -DMDSPF_WERROR=ON
  say "tests"
  run_ctest "$BUILD"
  say "build with AddressSanitizer + UndefinedBehaviorSanitizer"
  configure_and_build "$ASAN_BUILD" -DMDSPF_WERROR=ON -DMDSPF_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=Debug
  say "tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest "$ASAN_BUILD"
  say "all tests passed"
}

case "${1:-build}" in
build) cmd_build ;;
demo) cmd_demo ;;
test) cmd_test ;;
clean) rm -rf "$BUILD" "$ASAN_BUILD" ;;
-h | --help | help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
*)
  echo "usage: ./build.sh [build|demo|test|clean]" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# build.sh -- build, demo and test libmaildrop-spf.
#
#   ./build.sh           configure and build into build/ (programs in build/bin)
#   ./build.sh demo      build, then show SPF checks, the linter and a what-if
#                        check against the bundled zone
#   ./build.sh test      build with -Werror and run every test (DNS servers on
#                        loopback included), under valgrind, again under
#                        ASan + UBSan, the thread test under TSan, and the
#                        core's tests in a 32-bit build
#   ./build.sh fuzz [S]  libFuzzer targets (clang) in build-fuzz/, S seconds
#                        each (default 60)
#   ./build.sh bench [-- OPTS]  build build/bin/spf-bench and compare the
#                        library with libspf2 against NSD on loopback, the
#                        Python binding with pyspf, then spf-policyd with
#                        Debian's policyd-spf (about three minutes; OPTS
#                        go to spf-bench, e.g. --runs 9); never part of
#                        ./build.sh test
#   ./build.sh clean     remove the build trees
#
# Missing Debian packages are installed first where apt-get exists
# (apt-get update only when something is missing; no service is left
# running); elsewhere the script says what it needs.  Building (and the
# demo) needs only cmake, a C compiler, pkg-config and c-ares; the tests
# need more.  Set JOBS to change build parallelism.
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$PWD
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=$ROOT/build
ASAN_BUILD=$ROOT/build-asan

# What building needs (./build.sh, ./build.sh demo) ...
PACKAGES=(cmake make gcc libc6-dev pkg-config libc-ares-dev)
# ... and what the tests need besides: cmocka and libyaml (unit tests,
# suite runner), libevent (the event-loop example), NSD (integration),
# valgrind and TSan, clang (a -Werror build with it), the openspf suite
# as Debian ships it (golang-blitiri-go-spf-dev, python3-spf), groff
# (man pages), python3 (spfquery's JSON checks and the compatibility
# test); for the compatibility test (tests/compat), Debian's programs that
# use libspf2: spfquery, libopendmarc (a test program is built against it),
# Mail::SPF_XS, libspf2 itself (whose headers the compatible library's
# struct layouts are compared with), and ip(8) for the private namespace
# (Exim with SPF, the fourth program, is not installed: see prepare_exim);
# for the Postfix test (tests/postfix): Postfix itself (also smtp-sink),
# swaks (the SMTP client), Debian's SPF policy service
# postfix-policyd-spf-python (the reference) with dnspython (without it
# pyspf reads a DNS server failure as "no record") and unbound (a caching
# resolver between the policy service and NSD); for the Python binding
# (bindings/python): cffi, setuptools, the headers to compile its
# extension, pytest, PyYAML (pyspf's test driver), venv and wheel (a pip install
# into a venv) and spf-engine (run on the compatible module)
PACKAGES_TEST=(libcmocka-dev libyaml-dev libevent-dev nsd valgrind libtsan2
  clang golang-blitiri-go-spf-dev python3-spf groff-base python3
  spfquery libopendmarc-dev libmail-spf-xs-perl
  libspf2-dev iproute2 postfix swaks postfix-policyd-spf-python
  python3-dnspython unbound python3-cffi python3-setuptools python3-dev
  python3-pytest python3-yaml python3-venv python3-wheel python3-spf-engine)
# the 32-bit build of ./build.sh test (gcc -m32, without the c-ares backend)
PACKAGES_M32=(gcc-multilib libcmocka-dev:i386 libyaml-dev:i386)
# ./build.sh bench: the peer (libspf2), the DNS server (NSD), ip(8) to
# bring up the loopback of the benchmark's private network namespace, and
# the policy service spf-policyd is compared with: Debian's policyd-spf
# is spf-engine's entry point (/usr/bin/policyd-spf of
# postfix-policyd-spf-python is three lines that call it), so the
# benchmark runs that entry point from python3-spf-engine, which does
# not pull in postfix (postfix would replace the tests' Exim); for the
# Python binding against pyspf: cffi, setuptools and the headers to build
# its extension, and pyspf
PACKAGES_BENCH=(libspf2-dev nsd iproute2 python3-spf-engine python3-spf
  python3-cffi python3-setuptools python3-dev)

say() { printf '\n== %s\n' "$*"; }

# Install what is missing of the given packages, where apt-get exists;
# elsewhere say what is needed and go on with what is installed.
ensure_packages() {
  local missing=() p sudo=() need_i386=0 policy=
  if ! command -v dpkg-query >/dev/null 2>&1 ||
    ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get here: make sure these (Debian names) or their" \
      "equivalents are installed: $*"
    return 0
  fi
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "build.sh: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  for p in "${missing[@]}"; do
    case $p in *:i386) need_i386=1 ;; esac
  done
  if [ $need_i386 -eq 1 ] && ! dpkg --print-foreign-architectures | grep -qx i386; then
    "${sudo[@]}" dpkg --add-architecture i386
  fi
  # Packages like nsd start a system service when installed: the tests
  # start their own servers on loopback, so no service may start (a
  # policy-rc.d that refuses every start, only while installing).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    [ -n "$policy" ] && "${sudo[@]}" rm -f "$policy"
    exit 1
  fi
  [ -n "$policy" ] && "${sudo[@]}" rm -f "$policy"
  # installed here for the tests only: no server may start at the next boot
  for p in nsd postfix unbound; do
    case " ${missing[*]} " in
    *" $p "*) ;;
    *) continue ;;
    esac
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      "${sudo[@]}" systemctl disable --quiet "$p" >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1; then
      "${sudo[@]}" update-rc.d "$p" disable >/dev/null 2>&1 || true
    fi
  done
  # a service started anyway (no invoke-rc.d): stop it
  if command -v nsd-control >/dev/null 2>&1 && pgrep -x nsd >/dev/null 2>&1 &&
    [ -f /etc/nsd/nsd.conf ]; then
    "${sudo[@]}" sh -c 'service nsd stop >/dev/null 2>&1 ||
      pkill -x nsd' || true
  fi
}

# Exim with SPF for the compatibility test, from Debian's .deb but not
# installed: the package (exim4-daemon-heavy) and postfix, which the
# Postfix test needs, conflict (each is the system's MTA), and both tests
# run in ./build.sh test.  The .deb is downloaded once into build/debs/
# (apt-get download, no root needed) and unpacked into
# build/debs/exim4-daemon-heavy/, where tests/compat/run.sh finds
# usr/sbin/exim4 (EXIM is exported for it too); only the libraries it
# links against are installed (its Depends without exim4-base, the
# package's configuration and spool, and debconf).  Exim's compiled-in
# user, Debian-exim, may then not exist: run.sh deals with that.
EXIM_DEB_DIR=$BUILD/debs
EXIM_ROOT=$EXIM_DEB_DIR/exim4-daemon-heavy
prepare_exim() {
  local deb deps=() d
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 ||
    return 0
  mkdir -p "$EXIM_DEB_DIR"
  deb=$(ls "$EXIM_DEB_DIR"/exim4-daemon-heavy_*.deb 2>/dev/null | tail -n 1 || true)
  if [ -z "$deb" ]; then
    say "downloading exim4-daemon-heavy's .deb into build/debs/"
    # (apt's sandbox user may not write here: the warning is harmless;
    # without package lists, apt-get update first)
    local try sudo=()
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo=(sudo)
    for try in 1 2; do
      (cd "$EXIM_DEB_DIR" && apt-get download -q exim4-daemon-heavy 2>&1 |
        grep -v 'unsandboxed as root') || true
      deb=$(ls "$EXIM_DEB_DIR"/exim4-daemon-heavy_*.deb 2>/dev/null | tail -n 1 || true)
      [ -n "$deb" ] || [ $try = 2 ] && break
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    done
    if [ -z "$deb" ]; then
      echo "build.sh: apt-get download exim4-daemon-heavy failed" >&2
      exit 1
    fi
  fi
  if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ] || [ "$deb" -nt "$EXIM_ROOT/usr/sbin/exim4" ]; then
    rm -rf "$EXIM_ROOT"
    dpkg-deb -x "$deb" "$EXIM_ROOT"
    # (the package's exim4 is set-uid root: not this copy)
    chmod u-s,g-s "$EXIM_ROOT/usr/sbin/exim4"
    touch "$EXIM_ROOT/usr/sbin/exim4"
  fi
  # "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, ...": the first
  # alternative of each, without its version
  while IFS= read -r d; do
    d=${d%%|*}
    d=${d%%(*}
    d=${d//[[:space:]]/}
    case $d in '' | exim4-base | exim4-config | debconf) continue ;; esac
    deps+=("$d")
  done < <(dpkg-deb -f "$deb" Depends | tr ',' '\n')
  ensure_packages "${deps[@]}"
  export EXIM=$EXIM_ROOT/usr/sbin/exim4
}

# configure_and_build DIR [cmake args...]
configure_and_build() {
  local dir=$1
  shift
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

cmd_build() {
  ensure_packages "${PACKAGES[@]}"
  say "building into build/"
  configure_and_build "$BUILD"
  echo "programs: $(ls "$BUILD/bin" | tr '\n' ' ')"
}

cmd_demo() {
  ensure_packages "${PACKAGES[@]}"
  say "building into build/ (about a minute the first time)"
  configure_and_build "$BUILD" | grep -E '^\[ *[0-9]+%\] (Built target|Linking)' ||
    true
  [ -x "$BUILD/bin/spfquery" ] || {
    echo "build.sh: the build failed; run ./build.sh to see why" >&2
    exit 1
  }
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
  say "spf-lint bcoug.org: every term explained, the include tree, the lookups"
  rc=0
  "$BUILD/bin/spf-lint" --zone "$zone" bcoug.org || rc=$?
  echo "(exit status $rc: 0 = no warnings or errors)"
  say "what if: the same check under a record not yet published"
  echo "  spfquery --record 'v=spf1 mx ip4:203.0.113.0/24 -all' -ip 203.0.113.7"
  rc=0
  "$q" --zone "$zone" --record 'v=spf1 mx ip4:203.0.113.0/24 -all' \
    -ip 203.0.113.7 -sender me@bcoug.org || rc=$?
  echo "(exit status $rc: 2 = pass, where the published record gives softfail)"
}

run_ctest() {
  local dir=$1
  (cd "$dir" && ctest --output-on-failure -j "$JOBS" --timeout 300)
}

# ThreadSanitizer build (gcc -fsanitize=thread) of only what the thread
# test needs: the static library and test_threads, into build-tsan/.
TSAN_BUILD=$ROOT/build-tsan
build_tsan() {
  cmake -S "$ROOT" -B "$TSAN_BUILD" -DCMAKE_BUILD_TYPE=Debug \
    -DMDSPF_WERROR=ON -DMDSPF_ENABLE_TESTS=ON \
    "-DCMAKE_C_FLAGS=-fsanitize=thread -g -O1" \
    -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
  cmake --build "$TSAN_BUILD" -j "$JOBS" --target test_threads
  # (the libspf2-compatible library's thread test: c-ares is installed)
  cmake --build "$TSAN_BUILD" -j "$JOBS" --target test_libspf2_threads
}

CLANG_BUILD=$ROOT/build-clang

# 32-bit build (gcc -m32) of the core library and its tests into
# build-m32/: 64-bit time and sizes must not depend on the word size.
M32_BUILD=$ROOT/build-m32
build_m32() {
  PKG_CONFIG_LIBDIR=/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig \
    cmake -S "$ROOT" -B "$M32_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMDSPF_WERROR=ON -DMDSPF_ENABLE_TESTS=ON -DMDSPF_WITH_CARES=OFF \
    -DCMAKE_C_FLAGS=-m32 \
    -DCMAKE_EXE_LINKER_FLAGS=-m32 -DCMAKE_SHARED_LINKER_FLAGS=-m32 >/dev/null
  cmake --build "$M32_BUILD" -j "$JOBS"
}

cmd_test() {
  ensure_packages "${PACKAGES[@]}" "${PACKAGES_TEST[@]}" "${PACKAGES_M32[@]}"
  prepare_exim
  # a missing openspf suite, or a program of the compatibility or the
  # Postfix test, is a failure here, not a skip
  export MDSPF_REQUIRE_SUITE=1 MDSPF_REQUIRE_COMPAT=1 MDSPF_REQUIRE_POSTFIX=1
  say "build with -Werror"
  # (the benchmark, if ./build.sh bench enabled it in build/, is not
  # part of the tests)
  configure_and_build "$BUILD" -DMDSPF_WERROR=ON -DMDSPF_ENABLE_TESTS=ON \
    -DMDSPF_ENABLE_BENCH=OFF
  say "tests"
  run_ctest "$BUILD"
  say "tests under valgrind memcheck"
  bash "$ROOT/tests/run-valgrind.sh" "$BUILD/bin" "$ROOT"
  say "build with AddressSanitizer + UndefinedBehaviorSanitizer"
  configure_and_build "$ASAN_BUILD" -DMDSPF_WERROR=ON -DMDSPF_SANITIZE=ON \
    -DMDSPF_ENABLE_TESTS=ON -DCMAKE_BUILD_TYPE=Debug
  say "tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest "$ASAN_BUILD"
  say "build test_threads with ThreadSanitizer"
  build_tsan
  say "test_threads under ThreadSanitizer"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    "$TSAN_BUILD/bin/test_threads"
  say "test_libspf2_threads under ThreadSanitizer"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    "$TSAN_BUILD/bin/test_libspf2_threads"
  say "build with clang -Werror (library, tools and tests)"
  CC=clang cmake -S "$ROOT" -B "$CLANG_BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DMDSPF_WERROR=ON -DMDSPF_ENABLE_TESTS=ON >/dev/null
  cmake --build "$CLANG_BUILD" -j "$JOBS"
  say "32-bit build (gcc -m32) of the core and its tests"
  build_m32
  say "tests of the 32-bit build"
  run_ctest "$M32_BUILD"
  say "all tests passed"
}

# ./build.sh fuzz [SECONDS]: the libFuzzer targets (clang, ASan + UBSan,
# library instrumented) in build-fuzz/, each run for SECONDS (default 60)
# on its corpus and dictionary.  New inputs and crash artifacts go to a
# temporary work directory, never into fuzz/corpus.  Fails on any crash.
cmd_fuzz() {
  local secs=${1:-60} dir=$ROOT/build-fuzz work t dict log rc failed=0
  local flags="-fsanitize=fuzzer-no-link,address,undefined"
  flags+=" -fno-sanitize-recover=all -fno-omit-frame-pointer"
  case $secs in
  '' | *[!0-9]*)
    echo "build.sh fuzz: SECONDS must be a number" >&2
    exit 2
    ;;
  esac
  # libclang-rt-14-dev: the libFuzzer runtime
  ensure_packages "${PACKAGES[@]}" clang libclang-rt-14-dev
  say "building the fuzz targets into build-fuzz/ (clang, ASan + UBSan)"
  CC=clang configure_and_build "$dir" -DMDSPF_ENABLE_FUZZING=ON \
    -DMDSPF_ENABLE_TESTS=OFF -DCMAKE_C_FLAGS="$flags"
  work=$(mktemp -d "${TMPDIR:-/tmp}/mdspf-fuzz.XXXXXX")
  for t in fuzz_record fuzz_macro fuzz_zone fuzz_check fuzz_lint \
    fuzz_dns_answer fuzz_udp fuzz_libspf2 fuzz_policy; do
    case $t in
    fuzz_record | fuzz_macro | fuzz_libspf2) dict=spf ;;
    fuzz_zone) dict=zone ;;
    fuzz_check | fuzz_lint) dict=check ;;
    fuzz_policy) dict=policy ;;
    fuzz_udp) dict=udp ;;
    *) dict=dns ;;
    esac
    mkdir -p "$work/$t/new"
    log=$work/$t/log
    say "$t: ${secs}s"
    rc=0
    # new inputs go to new/; fuzz/corpus/$t is only read
    (cd "$work/$t" && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$dir/fuzz/$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 \
      -print_final_stats=1 -dict="$ROOT/fuzz/dict/$dict.dict" \
      -artifact_prefix="$work/$t/" new "$ROOT/fuzz/corpus/$t") \
      >"$log" 2>&1 || rc=$?
    printf '%-16s %s execs, %s, new corpus %s files%s\n' "$t" \
      "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" \
      "$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)" \
      "$(ls "$work/$t/new" | wc -l)" \
      "$([ $rc -eq 0 ] || echo ", CRASHED (rc $rc)")"
    if [ $rc -ne 0 ]; then
      failed=1
      grep -E 'ERROR|invariant failed|SUMMARY|Test unit written' "$log" |
        head -n 20 >&2 || true
    fi
  done
  echo "logs, new inputs and artifacts: $work"
  [ $failed -eq 0 ] || { echo "build.sh fuzz: a target crashed" >&2; exit 1; }
}

# ./build.sh bench [-- OPTIONS]: spf-bench against libspf2 (see
# tests/bench/bench.c for what it measures, tests/bench/run.sh for how
# NSD and the private network namespace are set up).  Prints a table of
# medians and ratios; exits non-zero when any result was wrong.
cmd_bench() {
  ensure_packages "${PACKAGES[@]}" "${PACKAGES_BENCH[@]}"
  say "building into build/ with the benchmark"
  configure_and_build "$BUILD" -DMDSPF_ENABLE_BENCH=ON |
    grep -E '^\[ *[0-9]+%\] (Built target|Linking)' || true
  [ -x "$BUILD/bin/spf-bench" ] && [ -x "$BUILD/bin/spfquery" ] &&
    [ -x "$BUILD/bin/spf-policyload" ] || {
    echo "build.sh: the build failed; run ./build.sh to see why" >&2
    exit 1
  }
  say "benchmark: libmaildrop-spf against libspf2, the Python binding against pyspf, spf-policyd against policyd-spf"
  bash "$ROOT/tests/bench/run.sh" "$BUILD/bin/spf-bench" \
    "$BUILD/bin/spfquery" "$ROOT" -- "$@"
}

case "${1:-build}" in
build) cmd_build ;;
demo) cmd_demo ;;
test) cmd_test ;;
fuzz) cmd_fuzz "${2:-60}" ;;
bench)
  shift
  [ "${1:-}" = -- ] && shift
  cmd_bench "$@"
  ;;
clean) rm -rf "$BUILD" "$ASAN_BUILD" "$TSAN_BUILD" "$M32_BUILD" "$CLANG_BUILD" \
  "$ROOT/build-fuzz" ;;
-h | --help | help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' ;;
*)
  echo "usage: ./build.sh [build|demo|test|fuzz [SECONDS]|bench [-- OPTIONS]|clean]" >&2
  exit 2
  ;;
esac

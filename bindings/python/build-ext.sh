#!/usr/bin/env bash
# build-ext.sh -- build the binding's cffi extension against a build tree,
# for the scripts that run it without installing it (run-tests.sh, the
# spf-engine comparison tests/compat/spf-engine.sh, the benchmark's
# Python section in tests/bench/run.sh).
# SPDX-License-Identifier: BSD-2-Clause
#
#   build-ext.sh PYTHON SOURCE_DIR LIBRARY_DIR WORK_DIR
#
# Copies bindings/python to WORK_DIR/pkg (building never writes into the
# source tree), builds the extension with SOURCE_DIR/include and the
# libraries of LIBRARY_DIR (a build's lib/; recorded as the extension's
# run path) into WORK_DIR/build, and prints the directory to put on
# PYTHONPATH (the one holding the maildrop_spf package).  On failure it
# prints the build's output on standard error and exits 1.  PYTHON must
# have cffi and setuptools (Debian: python3-cffi python3-setuptools, and
# python3-dev for Python.h).
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: build-ext.sh PYTHON SOURCE_DIR LIBRARY_DIR WORK_DIR" >&2
  exit 2
fi
py=$1
src=$(cd "$2" && pwd)
libdir=$(cd "$3" && pwd)
work=$4
mkdir -p "$work"
work=$(cd "$work" && pwd)
rm -rf "$work/pkg" "$work/build"
cp -r "$src/bindings/python" "$work/pkg"
rm -rf "$work/pkg/build" "$work/pkg/src/"*.egg-info
export MDSPF_INCLUDE_DIR=$src/include MDSPF_LIBRARY_DIR=$libdir
if ! (cd "$work/pkg" && "$py" setup.py -q build --build-base "$work/build") \
  >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "build-ext.sh: building the extension failed" >&2
  exit 1
fi
lib=$(echo "$work"/build/lib*)
if [ ! -d "$lib/maildrop_spf" ]; then
  echo "build-ext.sh: no maildrop_spf package under $work/build" >&2
  exit 1
fi
printf '%s\n' "$lib"

#!/usr/bin/env bash
# run-tests.sh -- build the Python binding against a build tree and run
# its tests (ctest "python-binding").
# SPDX-License-Identifier: BSD-2-Clause
#
#   run-tests.sh SOURCE_DIR LIBRARY_DIR [pytest args...]
#
# Builds the cffi extension (build-ext.sh) into a temporary directory with the headers
# of SOURCE_DIR/include and the libraries in LIBRARY_DIR (the build's
# lib/), runs pytest on bindings/python/tests, then installs the package
# with "pip install --no-build-isolation" into a temporary venv
# (--system-site-packages: Debian's cffi and setuptools, no package
# index) and runs the examples from there.  Needs Debian's python3-cffi,
# python3-pytest, python3-setuptools, python3-venv and python3-spf (the
# pyspf test driver); without them it exits 77 (skipped), or 1 when
# MDSPF_REQUIRE_COMPAT is set (./build.sh test installs them).
set -euo pipefail
src=$(cd "$1" && pwd)
libdir=$(cd "$2" && pwd)
shift 2

py=
# Debian's interpreter first: a python3 earlier in PATH may lack its modules
for cand in /usr/bin/python3 python3; do
  if "$cand" -c 'import cffi, pytest, setuptools, yaml, venv' >/dev/null 2>&1; then
    py=$cand
    break
  fi
done
if [ -z "$py" ]; then
  echo "python-binding: no python3 with cffi, pytest, setuptools, yaml and venv" \
    "(Debian: python3-cffi python3-pytest python3-setuptools python3-yaml python3-venv)"
  [ -n "${MDSPF_REQUIRE_COMPAT:-}" ] && exit 1
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mdspf-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
lib=$(bash "$src/bindings/python/build-ext.sh" "$py" "$src" "$libdir" "$tmp") || {
  echo "python-binding: building the extension failed"
  exit 1
}
# (the pip install below builds it again, from the same places)
export MDSPF_INCLUDE_DIR=$src/include MDSPF_LIBRARY_DIR=$libdir
echo "== pytest ($py, extension in $lib)"
(cd "$tmp" && PYTHONPATH=$lib MDSPF_README="$src/README.md" "$py" -m pytest -p no:cacheprovider -q \
  "$tmp/pkg/tests" "$@")

echo "== pip install --no-build-isolation into a venv"
"$py" -m venv --system-site-packages "$tmp/venv"
(cd "$tmp" && "$tmp/venv/bin/python" -m pip install -q --no-index \
  --no-build-isolation "$tmp/pkg") >"$tmp/pip.log" 2>&1 || {
  cat "$tmp/pip.log"
  echo "python-binding: pip install failed"
  exit 1
}
for ex in sync_check async_check; do
  (cd "$tmp" && "$tmp/venv/bin/python" "$tmp/pkg/examples/$ex.py") \
    >"$tmp/$ex.out"
  grep -q pass "$tmp/$ex.out" || {
    echo "python-binding: examples/$ex.py from the venv printed:"
    cat "$tmp/$ex.out"
    exit 1
  }
done
echo "ok: pip-installed package runs the examples"

#!/bin/sh
# The C programs of README.md, compiled against the build tree so that
# they cannot rot: every ```c block is a whole program; the ones that
# need no network (no c-ares) are run too, from the source directory, and
# must exit 0.
# usage: readme-snippets.sh SRCDIR BUILDDIR
set -eu
src=$1
build=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/mdspf-readme.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cc=${CC:-cc}

awk -v dir="$work" '
  /^```c[ \t]*$/ { n++; file = sprintf("%s/snippet%d.c", dir, n); inblk = 1; next }
  /^```/ && inblk { inblk = 0; close(file); next }
  inblk { print > file }
' "$src/README.md"

count=0
failed=0
libs="-L$build/lib -lmaildrop-spf"
for f in "$work"/snippet*.c; do
  [ -f "$f" ] || continue
  count=$((count + 1))
  name=$(sed -n '1s|^/\* \([^:]*\):.*|\1|p' "$f")
  extra=
  run=1
  if grep -q 'maildrop-spf/cares.h\|adapters/libevent.h' "$f"; then
    extra="-L$build/lib -lmaildrop-spf-cares $(pkg-config --libs libcares)"
    run=0
  fi
  if grep -q 'adapters/libevent.h' "$f"; then
    if ! pkg-config --exists libevent_core; then
      echo "FAIL $name: libevent_core's development files are needed"
      failed=1
      continue
    fi
    extra="$extra $(pkg-config --cflags --libs libevent_core)"
  fi
  # shellcheck disable=SC2086
  if ! $cc -std=c11 -Wall -Wextra -Werror -I"$src/include" -o "$f.bin" "$f" \
    $extra $libs -Wl,-rpath,"$build/lib" 2>"$f.err"; then
    echo "FAIL $name: does not compile"
    cat "$f.err"
    failed=1
    continue
  fi
  if [ $run -eq 1 ]; then
    if (cd "$src" && "$f.bin") >"$f.out" 2>&1; then
      echo "ok   $name: $(head -n 3 "$f.out" | tr '\n' '|')"
    else
      echo "FAIL $name: exit status $?"
      cat "$f.out"
      failed=1
    fi
  else
    echo "ok   $name: compiles"
  fi
done
if [ $count -lt 3 ]; then
  echo "FAIL only $count C blocks found in README.md"
  exit 1
fi
exit $failed

#!/bin/sh
# The shared library exports exactly the functions the public header
# declares with MDSPF_API: nothing internal leaks out, nothing declared
# is missing.  usage: check-symbols.sh LIBRARY.so HEADER...
lib=$1
shift
tmp=${TMPDIR:-/tmp}/mdspf-symbols.$$
trap 'rm -f "$tmp".*' EXIT INT TERM
cat "$@" | tr '\n' ' ' | grep -oE 'MDSPF_API[^;(]*\(' |
  grep -oE 'mdspf_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u >"$tmp.header"
nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
  sort -u >"$tmp.lib"
if ! diff -u "$tmp.header" "$tmp.lib"; then
  echo "exported symbols differ from the header (- header only, + library only)"
  exit 1
fi
echo "$(wc -l <"$tmp.lib") exported symbols match the header"

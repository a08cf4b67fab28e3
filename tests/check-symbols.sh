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
# GNU/LLVM nm on ELF: the dynamic symbol table; macOS nm: external
# defined symbols, with the leading underscore of Mach-O names dropped.
if nm -D --defined-only "$lib" >"$tmp.nm" 2>/dev/null; then
  awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' "$tmp.nm"
else
  nm -gU "$lib" | awk '$2 == "T" { sub(/^_/, "", $3); print $3 }'
fi | sort -u >"$tmp.lib"
if ! diff -u "$tmp.header" "$tmp.lib"; then
  echo "exported symbols differ from the header (- header only, + library only)"
  exit 1
fi
echo "$(wc -l <"$tmp.lib") exported symbols match the header"

#!/bin/sh
# check-libspf2-symbols.sh LIB LIST -- LIB (libspf2.so.2 of this project)
# has SONAME libspf2.so.2, defines every symbol of LIST (one a line, #
# comments) and exports nothing but SPF_* names.
# SPDX-License-Identifier: BSD-2-Clause
lib=$1 list=$2
command -v nm >/dev/null 2>&1 || { echo "no nm" >&2; exit 1; }
soname=$(objdump -p "$lib" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "libspf2.so.2" ]; then
  echo "SONAME is '$soname', not libspf2.so.2" >&2
  exit 1
fi
defined=$(nm -D --defined-only "$lib" | awk '{ print $3 }' | sort -u)
[ -n "$defined" ] || { echo "no symbols read from $lib" >&2; exit 1; }
rc=0
for s in $(grep -v '^#' "$list"); do
  if ! printf '%s\n' "$defined" | grep -qx "$s"; then
    echo "missing: $s" >&2
    rc=1
  fi
done
extra=$(printf '%s\n' "$defined" | grep -v '^SPF_')
if [ -n "$extra" ]; then
  echo "exported beyond SPF_*: $extra" >&2
  rc=1
fi
[ $rc -eq 0 ] && echo "$(grep -vc '^#' "$list") required symbols present; $(printf '%s\n' "$defined" | wc -l) exported, all SPF_*"
exit $rc

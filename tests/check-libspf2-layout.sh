#!/bin/sh
# check-libspf2-layout.sh OURS REF -- run the layout printer built against
# our spf2/ headers and the one built against libspf2's (REF empty: its
# headers were not found, exit 77 = skipped); they must print the same.
# SPDX-License-Identifier: BSD-2-Clause
ours=$1 ref=$2
if [ -z "$ref" ]; then
  echo "libspf2's headers (libspf2-dev) not found: cannot compare" >&2
  exit 77
fi
a=$("$ours") || exit 1
b=$("$ref") || exit 1
[ -n "$a" ] || exit 1
if [ "$a" != "$b" ]; then
  echo "layouts differ (ours, then libspf2's):" >&2
  printf '%s\n' "$a" > "${TMPDIR:-/tmp}/layout-ours.$$"
  printf '%s\n' "$b" | diff "${TMPDIR:-/tmp}/layout-ours.$$" - >&2
  rm -f "${TMPDIR:-/tmp}/layout-ours.$$"
  exit 1
fi
echo "$(printf '%s\n' "$a" | wc -l) sizes and offsets agree"

#!/bin/sh
# Every man page renders without a warning (groff -ww) and has the
# sections a reader expects.
# usage: check-man.sh MANDIR
set -u
dir=$1
failed=0
n=0
for page in "$dir"/*.[1-8]; do
  [ -f "$page" ] || continue
  n=$((n + 1))
  out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  if [ -n "$out" ]; then
    echo "FAIL $page: groff says:"
    echo "$out"
    failed=1
    continue
  fi
  for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
    if ! grep -q "^\.SH \"*$s" "$page"; then
      echo "FAIL $page: no $s section"
      failed=1
    fi
  done
  echo "ok   $page"
done
if [ $n -lt 3 ]; then
  echo "FAIL $n man pages in $dir (want spfquery.1, spf-lint.1, libmaildrop-spf.3)"
  exit 1
fi
exit $failed

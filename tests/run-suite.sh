#!/bin/sh
# Run one openspf YAML suite file with spf-testsuite.
# usage: run-suite.sh RUNNER DEFAULT_DIR FILE
# The directory is $MDSPF_SUITE_DIR when set, else DEFAULT_DIR.  A
# missing suite is reported and skipped (exit 77), never a failure: the
# project's own unit tests cover RFC 7208 without it.
runner=$1
dir=${MDSPF_SUITE_DIR:-$2}
file=$dir/$3
if [ ! -f "$file" ]; then
  echo "openspf suite not found at $file (set MDSPF_SUITE_DIR); skipped"
  exit 77
fi
exec "$runner" "$file"

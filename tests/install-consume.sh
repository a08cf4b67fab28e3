#!/bin/sh
# Install the build into a temporary prefix and use it the way a user
# would, outside the source tree:
#  - a program through pkg-config, linked shared and (pkg-config --static)
#    statically, run;
#  - the installed tools run from the prefix, and again after the prefix
#    was moved (RPATH $ORIGIN/../lib, relocatable .pc files);
#  - a CMake project through find_package(maildrop-spf), one program per
#    exported target, built and run;
#  - the man pages, the licence and the headers are where they belong.
# usage: install-consume.sh BUILDDIR
set -eu
build=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/mdspf-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cc=${CC:-cc}
fail() {
  echo "FAIL $*"
  exit 1
}

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  fail "cmake --install: $(tail -n 5 "$work/install.log")"
pc=$(find "$prefix" -name maildrop-spf.pc | head -n 1)
[ -n "$pc" ] || fail "no maildrop-spf.pc installed"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
for f in "$prefix/include/maildrop-spf/spf.h" \
  "$prefix/include/maildrop-spf/cares.h" \
  "$prefix/share/man/man3/libmaildrop-spf.3" \
  "$prefix/share/doc/maildrop-spf/LICENSE" \
  "$libdir/cmake/maildrop-spf/maildrop-spf-config.cmake"; do
  [ -f "$f" ] || fail "not installed: $f"
done
for p in spfquery spf-lint; do
  [ -f "$prefix/share/man/man1/$p.1" ] || fail "not installed: man1/$p.1"
done
echo "ok   installed into $prefix"

cat >"$work/prog.c" <<'PROG'
#include <maildrop-spf/cares.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  static const char zonetext[] = "example.com. TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n";
  mdspf_cares_options opt;
  mdspf_cares *dns = NULL;
  mdspf_zone *z;
  mdspf_ctx *ctx;
  mdspf_check *chk;
  char err[128];
  mdspf_cares_options_init(&opt);
  opt.servers = "127.0.0.1:9";
  if (mdspf_cares_new(&opt, &dns) != MDSPF_OK || mdspf_zone_new(NULL, NULL, &z) != MDSPF_OK ||
      mdspf_zone_load(z, zonetext, strlen(zonetext), NULL, "t", err, sizeof err) != MDSPF_OK ||
      mdspf_ctx_new(NULL, NULL, &ctx) != MDSPF_OK)
    return 1;
  mdspf_ctx_set_resolver(ctx, mdspf_zone_resolver(z));
  mdspf_check_new(ctx, &chk);
  mdspf_check_set_ip(chk, "192.0.2.1");
  mdspf_check_set_sender(chk, "a@example.com");
  mdspf_check_run(chk, 0);
  int pass = mdspf_check_result(chk) == MDSPF_PASS;
  printf("%s %s\n", mdspf_version_str(), mdspf_result_str(mdspf_check_result(chk)));
  mdspf_check_free(chk);
  mdspf_ctx_free(ctx);
  mdspf_zone_free(z);
  mdspf_cares_free(dns);
  return pass ? 0 : 1;
}
PROG

export PKG_CONFIG_PATH="$pcdir"
# shared
# shellcheck disable=SC2046
$cc -std=c11 -Wall -Werror -o "$work/prog-shared" "$work/prog.c" \
  $(pkg-config --cflags --libs maildrop-spf-cares) ||
  fail "pkg-config shared link"
out=$(LD_LIBRARY_PATH="$libdir" "$work/prog-shared") || fail "prog-shared: $out"
echo "ok   pkg-config, shared: $out"
# static: pkg-config --static lists what the archives need (c-ares)
libs=$(pkg-config --static --libs maildrop-spf-cares)
case $libs in *-lcares*) ;; *) fail "pkg-config --static lacks -lcares: $libs" ;; esac
slibs=$(echo "$libs" | sed 's/-lmaildrop-spf-cares -lmaildrop-spf/-Wl,-Bstatic -lmaildrop-spf-cares -lmaildrop-spf -Wl,-Bdynamic/')
# shellcheck disable=SC2046,SC2086
$cc -std=c11 -Wall -Werror -o "$work/prog-static" "$work/prog.c" \
  $(pkg-config --static --cflags maildrop-spf-cares) $slibs ||
  fail "pkg-config static link"
if readelf -d "$work/prog-static" | grep -q 'libmaildrop-spf'; then
  fail "the static program still needs a shared libmaildrop-spf"
fi
out=$("$work/prog-static") || fail "prog-static: $out"
echo "ok   pkg-config, static: $out"

# the installed tools, from the prefix and from a moved prefix
"$prefix/bin/spfquery" --version >/dev/null || fail "installed spfquery"
"$prefix/bin/spf-lint" --version >/dev/null || fail "installed spf-lint"
mv "$prefix" "$work/moved"
prefix=$work/moved
pcdir=$prefix${pcdir#$work/prefix}
libdir=$prefix${libdir#$work/prefix}
"$prefix/bin/spfquery" --version >/dev/null || fail "spfquery from a moved prefix"
export PKG_CONFIG_PATH="$pcdir"
case $(pkg-config --variable=libdir maildrop-spf) in
"$libdir" | "$pcdir/../"*) ;;
*) fail "the .pc file does not follow the moved prefix: $(pkg-config --variable=libdir maildrop-spf)" ;;
esac
# shellcheck disable=SC2046
$cc -std=c11 -o "$work/prog-moved" "$work/prog.c" \
  $(pkg-config --cflags --libs maildrop-spf-cares) || fail "link from a moved prefix"
LD_LIBRARY_PATH="$libdir" "$work/prog-moved" >/dev/null || fail "prog-moved"
echo "ok   tools and pkg-config from a moved prefix"

# CMake: one program per exported target
mkdir -p "$work/cmk"
cp "$work/prog.c" "$work/cmk/prog.c"
cat >"$work/cmk/CMakeLists.txt" <<'CMK'
cmake_minimum_required(VERSION 3.18)
project(consume C)
find_package(maildrop-spf 0.2 REQUIRED)
foreach(t maildrop-spf-cares maildrop-spf-cares-static)
  add_executable(prog-${t} prog.c)
  target_link_libraries(prog-${t} PRIVATE maildrop-spf::${t})
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/core.c
  "#include <maildrop-spf/spf.h>\nint main(void){return mdspf_version()==MDSPF_VERSION_NUM?0:1;}\n")
foreach(t maildrop-spf maildrop-spf-static)
  add_executable(prog-${t} ${CMAKE_BINARY_DIR}/core.c)
  target_link_libraries(prog-${t} PRIVATE maildrop-spf::${t})
endforeach()
CMK
cmake -S "$work/cmk" -B "$work/cmk/build" -DCMAKE_PREFIX_PATH="$prefix" \
  >"$work/cmk.log" 2>&1 || fail "find_package: $(tail -n 20 "$work/cmk.log")"
cmake --build "$work/cmk/build" >"$work/cmk.log" 2>&1 ||
  fail "CMake consumer build: $(tail -n 20 "$work/cmk.log")"
for t in maildrop-spf maildrop-spf-static maildrop-spf-cares maildrop-spf-cares-static; do
  "$work/cmk/build/prog-$t" >/dev/null || fail "CMake consumer prog-$t"
done
echo "ok   find_package(maildrop-spf): every exported target"

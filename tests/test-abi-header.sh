#!/bin/sh
# test-abi-header.sh SRCDIR — the public plugin ABI headers compile on their
# own, and every inline helper and macro compiles (tests/abi/abi-header.c),
# warnings as errors:
#   - as C99 with -pedantic, with gcc and clang, in strict ISO mode and with
#     _POSIX_C_SOURCE (where ophost_timestamp_now must exist);
#   - as C++11, C++14, C++17 and C++20 with -pedantic -Wold-style-cast, with
#     g++ and clang++ (plugin authors build with either).
# $CC and $CXX name the gcc-like compilers (default cc and c++); clang and
# clang++ must be installed too (the Makefile's PACKAGES has clang).
set -u

src=${1:?usage: test-abi-header.sh SRCDIR}
ccs="${CC:-cc} clang"
cxxs="${CXX:-c++} clang++"
inc="$src/include"
status=0
n=0

run() {
    n=$((n + 1))
    if ! out=$("$@" 2>&1); then
        echo "FAIL: $*"
        printf '%s\n' "$out"
        status=1
    fi
}

for c in $ccs $cxxs; do
    if ! command -v "$c" >/dev/null 2>&1; then
        echo "FAIL: no compiler '$c' (install clang: make deps)"
        exit 1
    fi
done

cflags="-std=c99 -pedantic -Werror -Wall -Wextra -fsyntax-only"
cxxflags="-pedantic -Werror -Wall -Wextra -Wold-style-cast -fsyntax-only"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

for cc in $ccs; do
    # Each header alone, as the first and only include.
    for h in "$inc"/ophost/*.h; do
        printf '#include <ophost/%s>\n' "$(basename "$h")" >"$tmp/only.c"
        run $cc $cflags -I"$inc" "$tmp/only.c"
    done
    run $cc $cflags -I"$inc" "$src/tests/abi/abi-header.c"
    run $cc $cflags -D_POSIX_C_SOURCE=200809L -DWANT_TIMESTAMP_NOW -I"$inc" \
        "$src/tests/abi/abi-header.c"
done
for cxx in $cxxs; do
    for std in c++11 c++14 c++17 c++20; do
        for h in "$inc"/ophost/*.h; do
            printf '#include <ophost/%s>\n' "$(basename "$h")" >"$tmp/only.cc"
            run $cxx -std=$std $cxxflags -I"$inc" "$tmp/only.cc"
        done
        run $cxx -x c++ -std=$std $cxxflags -I"$inc" "$src/tests/abi/abi-header.c"
    done
done

[ $status -eq 0 ] &&
    echo "ok: $n compilations: the ABI headers as C99 (gcc, clang) and C++11..C++20 (g++, clang++)"
exit $status

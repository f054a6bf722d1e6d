#!/bin/sh
# test-abi-header.sh SRCDIR — the public plugin ABI headers compile on their
# own as C99 with -pedantic and as C++11, warnings as errors, and every
# inline helper compiles in both languages (tests/abi/abi-header.c).
# $CC and $CXX override the compilers (default cc and c++).
set -u

src=${1:?usage: test-abi-header.sh SRCDIR}
cc=${CC:-cc}
cxx=${CXX:-c++}
inc="$src/include"
status=0

run() {
    echo "+ $*"
    "$@" || status=1
}

if ! command -v "${cxx%% *}" >/dev/null 2>&1; then
    echo "no C++ compiler ($cxx); skipped" >&2
    exit 77
fi

cflags="-std=c99 -pedantic -Werror -Wall -Wextra -fsyntax-only"
cxxflags="-std=c++11 -pedantic -Werror -Wall -Wextra -fsyntax-only"

# Each header alone, as the first and only include.
for h in "$inc"/ophost/*.h; do
    name=$(basename "$h")
    tmp=$(mktemp -d) || exit 99
    printf '#include <ophost/%s>\n' "$name" >"$tmp/only.c"
    run $cc $cflags -I"$inc" "$tmp/only.c"
    run $cxx -x c++ $cxxflags -I"$inc" "$tmp/only.c"
    rm -rf "$tmp"
done

# Every inline helper and a whole plugin descriptor, in both languages.
run $cc $cflags -I"$inc" "$src/tests/abi/abi-header.c"
run $cxx -x c++ $cxxflags -I"$inc" "$src/tests/abi/abi-header.c"

[ $status -eq 0 ] && echo "ok: the ABI headers compile as C99 and C++11"
exit $status

#!/usr/bin/env bash
# templates.sh OPHOSTD BUILDDIR SRCDIR — the templates of plugins/example/
# as a third party uses them, from a staged `meson install --destdir` of
# ophost (standing for an installed ophost: PKG_CONFIG_SYSROOT_DIR):
#   - each C template (example.c, ticker.c, tally.c) builds with the README's
#     cc line, and warns with neither gcc nor clang in -std=c99 -pedantic
#     -Wall -Wextra; comm_hash.cc with the README's c++ line, and with g++
#     and clang++ as C++14/17/20 with -Wold-style-cast; each has under 120
#     lines, exports only its entry and passes `ophostd --check-plugin
#     --strict` against the installed plugins without a word;
#   - the copied folder is a meson project: `meson setup`, `meson compile`
#     and, while ophostd runs on pkg-config's plugindir, `meson install`
#     into it: the daemon loads the four plugins without a restart, the
#     sessions waiting for them start, and
#       ticks: ticker {count 6} -> comm_hash, comm_upper -> tally, print
#     completes with 6 events: print shows each field (comm_hash is the
#     FNV-1a hash of comm), tally writes "TICK 3" and "TOCK 3" at stop;
#       trap: comm_hash {field: comm_upper} without a dependency on
#     comm_upper fails with the host's hint naming the fix.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage 3 "templates.sh OPHOSTD BUILDDIR SRCDIR" "$@"
ophostd=$1
builddir=$2
srcdir=$3
cc=${CC:-cc}
cxx=${CXX:-c++}

unset JOURNAL_STREAM OPHOST_PLUGIN_DIR PKG_CONFIG_SYSROOT_DIR
umask 022 # the loader refuses group-writable directories
make_tmp ophost-templates
log=$tmp/ophostd.log

# ---- ophost, installed into a staging root ----------------------------------------
dest=$tmp/dest
meson install -C "$builddir" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1 ||
    fail "meson install --destdir failed: $(cat "$tmp/install.log")"
pc=$(find "$dest" -name ophost.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "no ophost.pc under $dest"
export PKG_CONFIG_PATH=${pc%/ophost.pc}
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH # only ours, never an installed one
export PKG_CONFIG_SYSROOT_DIR=$dest       # $dest stands for /
plugindir=$(pkg-config --variable=plugindir ophost)
case $plugindir in
"$dest"/*) ;;
*) fail "pkg-config's plugindir $plugindir is not under the staging root $dest" ;;
esac
[ -f "$plugindir/print.so" ] || fail "$plugindir does not hold the installed plugins"
cflags=$(pkg-config --cflags ophost)

# ---- the templates, copied out of the source tree ----------------------------------
work=$tmp/home/my-operators
mkdir -p "$work"
cp "$srcdir"/plugins/example/* "$work/"
for f in example.c ticker.c tally.c comm_hash.cc meson.build; do
    [ -f "$work/$f" ] || fail "plugins/example/ has no $f"
done
for f in example.c ticker.c tally.c comm_hash.cc; do
    n=$(wc -l <"$work/$f")
    [ "$n" -lt 120 ] || fail "$f has $n lines, the templates promise under 120"
done

# The README's build lines, word for word (README, "Build").
(
    cd "$work"
    for f in example ticker tally; do
        # shellcheck disable=SC2046  # the README's line, word splitting intended
        $cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags ophost) -o $f.so $f.c
    done
    # shellcheck disable=SC2046
    $cxx -std=c++17 -shared -fPIC -fvisibility=hidden $(pkg-config --cflags ophost) -o comm_hash.so comm_hash.cc
) >"$tmp/cc.log" 2>&1 || fail "the README's build lines failed: $(cat "$tmp/cc.log")"
[ ! -s "$tmp/cc.log" ] || fail "the README's build lines warned: $(cat "$tmp/cc.log")"
$cc -M $cflags "$work/ticker.c" >"$tmp/deps" 2>&1 || fail "cc -M failed: $(cat "$tmp/deps")"
grep -q -F "$dest/" "$tmp/deps" || fail "ticker.c was not compiled against $dest: $(cat "$tmp/deps")"
for c in "$cc" clang; do
    for f in example ticker tally; do
        $c -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only $cflags "$work/$f.c" \
            >"$tmp/strict.log" 2>&1 || fail "$c: $f.c warns: $(cat "$tmp/strict.log")"
    done
done
for c in "$cxx" clang++; do
    for std in c++14 c++17 c++20; do
        $c -std=$std -pedantic -Wall -Wextra -Wold-style-cast -Werror -fsyntax-only $cflags \
            "$work/comm_hash.cc" >"$tmp/strict.log" 2>&1 ||
            fail "$c -std=$std: comm_hash.cc warns: $(cat "$tmp/strict.log")"
    done
done
"$srcdir/tests/check-exports.sh" "$work"/{example,ticker,tally,comm_hash}.so >"$tmp/exports.log" 2>&1 ||
    fail "exports: $(cat "$tmp/exports.log")"
ok "the README's cc and c++ lines build the 4 templates (< 120 lines each) without a warning, also strict (gcc, clang, C99; g++, clang++, C++14..20); each exports only its entry"

for f in example ticker tally comm_hash; do
    "$ophostd" --check-plugin --strict -p "$plugindir" "$work/$f.so" >"$tmp/check.out" 2>"$tmp/check.err" ||
        fail "--check-plugin --strict $f.so exited $?: $(cat "$tmp/check.out" "$tmp/check.err")"
    [ ! -s "$tmp/check.err" ] || fail "--check-plugin $f.so said: $(cat "$tmp/check.err")"
    grep -q -E "^$work/$f.so: plugin '$f' 1.0 \(ABI [0-9]+\.[0-9]+\), 1 operators: loadable$" "$tmp/check.out" ||
        fail "--check-plugin $f.so: $(cat "$tmp/check.out")"
done
grep -q -x -F "      count (uint, default '10', min 1): events to emit, then the session completes" \
    <("$ophostd" --check-plugin "$work/ticker.so") || fail "--check-plugin ticker.so lacks count's minimum"
ok "ophostd --check-plugin --strict -p PLUGINDIR: all 4 loadable, no warning (no name another plugin there provides)"

# ---- a running daemon on pkg-config's plugindir --------------------------------------
pipelines=$tmp/pipelines.d
mkdir "$pipelines"
printf "log-level: info\ncontrol-socket: %s\n" "$tmp/ophostd.sock" >"$tmp/ophostd.yaml"
cat >"$pipelines/templates.yaml" <<EOF
ticks:
  gadget: ticker
  operators:
    ticker: {count: 6, burst: 2, interval: 10ms}
    comm_upper: {}
    comm_hash: {}
    tally: {by: comm_upper, path: $tmp/tally.txt}
    print: {path: $tmp/ticks.log}
trap:
  gadget: ticker
  operators:
    ticker: {count: 2}
    comm_hash: {field: comm_upper}
    comm_upper: {}
EOF
common=(-c "$tmp/ophostd.yaml" -p "$plugindir" -d "$pipelines")
start_daemon "$log" "${common[@]}"
wait_for 10 log_has "info: ready: 2 sessions configured" || fail "the daemon did not get ready"
log_has "session 'ticks': unknown gadget 'ticker', waiting for a plugin that provides it" ||
    fail "ticks does not wait for ticker"
ok "the daemon runs on pkg-config's plugindir; both sessions wait for the templates"

# The README's meson lines, in the copied folder.
(
    cd "$work"
    meson setup build && meson compile -C build && meson install -C build
) >"$tmp/meson.log" 2>&1 || fail "meson setup/compile/install failed: $(cat "$tmp/meson.log")"
for f in example ticker tally comm_hash; do
    [ -f "$plugindir/$f.so" ] || fail "meson install put no $f.so into $plugindir: $(cat "$tmp/meson.log")"
    wait_for 10 log_has "info: $f.so: plugin '$f' 1.0 loaded, 1 operators" ||
        fail "the daemon did not load $f.so"
done
"$srcdir/tests/check-exports.sh" "$plugindir"/{example,ticker,tally,comm_hash}.so >"$tmp/exports.log" 2>&1 ||
    fail "meson-built exports: $(cat "$tmp/exports.log")"
ok "meson setup, compile, install into the plugindir: the running daemon loads the 4 plugins"

wait_for 10 log_has "info: session ticks: completed, 6 events" || fail "ticks did not complete with 6 events"
# FNV-1a 64 of "tick" and "tock", as comm_hash computes it.
fnv() {
    python3 -c 'import sys
h = 14695981039346656037
for b in sys.argv[1].encode(): h = ((h ^ b) * 1099511628211) % 2**64
print(h)' "$1"
}
tick=$(fnv tick)
tock=$(fnv tock)
[ "$(lines "$tmp/ticks.log")" -eq 6 ] || fail "ticks.log has $(lines "$tmp/ticks.log") lines: $(cat "$tmp/ticks.log")"
today=$(date -u +%Y-%m-%d)
for i in 1 2 3 4 5 6; do
    if [ $((i % 2)) -eq 1 ]; then c=tick C=TICK h=$tick; else c=tock C=TOCK h=$tock; fi
    # comm_hash runs first (the same priority, and its name sorts first).
    grep -q -x -E "seq=$i timestamp=${today}T[0-9:.]+Z comm=\"$c\" comm_hash=$h comm_upper=\"$C\"" "$tmp/ticks.log" ||
        fail "ticks.log has no line for seq=$i ($c, $C, $h): $(cat "$tmp/ticks.log")"
done
printf 'TICK 3\nTOCK 3\n' | diff -u - "$tmp/tally.txt" >"$tmp/diff" || fail "tally.txt: $(cat "$tmp/diff")"
ok "ticks: ticker -> comm_hash, comm_upper -> tally, print: completed with 6 events, each field right, tally wrote TICK 3, TOCK 3 at stop"

want="error: session trap: failed: operator 'comm_hash': instantiate failed: no field 'comm_upper'; field 'comm_upper' is added by 'comm_upper', which runs after 'comm_hash': add 'comm_upper' to comm_hash's dependencies"
wait_for 10 log_has "$want" || fail "trap did not fail with the order hint"
ok "trap: comm_hash {field: comm_upper} fails: '... add 'comm_upper' to comm_hash's dependencies'"

stop_daemon
ok "SIGTERM: the daemon exits 0"

echo "$n_ok passed, 0 failed"

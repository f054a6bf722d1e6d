#!/usr/bin/env bash
# example.sh OPHOSTD BUILDDIR SRCDIR — a third party's view: install ophost
# into a staging directory (meson install --destdir), build
# plugins/example/example.c out of tree with exactly the README's command
# (pkg-config --cflags ophost), drop it atomically into the plugin directory
# pkg-config names while ophostd runs on it, and check that a waiting pipeline
# starts and prints the field the plugin adds: comm_upper="COMM-1".
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage 3 "example.sh OPHOSTD BUILDDIR SRCDIR" "$@"
ophostd=$1
builddir=$2
srcdir=$3
cc=${CC:-cc}

unset JOURNAL_STREAM OPHOST_PLUGIN_DIR PKG_CONFIG_SYSROOT_DIR
# Directories meson creates must pass the loader's "not group-writable" check.
umask 022

make_tmp ophost-authoring
log=$tmp/ophostd.log

# ---- 1. meson install puts the header and ophost.pc in place ------------------
dest=$tmp/dest
meson install -C "$builddir" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1 ||
    fail "meson install --destdir failed: $(cat "$tmp/install.log")"
pc=$(find "$dest" -name ophost.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "meson install put no ophost.pc under $dest: $(cat "$tmp/install.log")"
[ "$(printf '%s\n' "$pc" | wc -l)" -eq 1 ] || fail "more than one ophost.pc: $pc"
export PKG_CONFIG_PATH=${pc%/ophost.pc}
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH # only ours, never an installed one
# The .pc names the final paths (/usr/local/...); the staging dir is a sysroot.
cflags=$(PKG_CONFIG_SYSROOT_DIR=$dest pkg-config --cflags ophost) ||
    fail "pkg-config --cflags ophost failed"
raw_plugindir=$(pkg-config --variable=plugindir ophost)
[ -n "$raw_plugindir" ] || fail "ophost.pc has no plugindir variable: $(cat "$pc")"
case $raw_plugindir in
/*) ;;
*) fail "plugindir '$raw_plugindir' is not an absolute path" ;;
esac
plugindir=$dest$raw_plugindir
[ -f "$plugindir/synthetic.so" ] && [ -f "$plugindir/print.so" ] ||
    fail "pkg-config's plugindir $raw_plugindir does not hold the installed plugins: $(ls -la "$plugindir" 2>&1)"
header=$(find "$dest" -path '*/ophost/ophost.h')
[ -n "$header" ] || fail "meson install put no ophost/ophost.h under $dest"
[ "$(pkg-config --libs ophost | tr -d ' ')" = "" ] || fail "ophost.pc has Libs: $(pkg-config --libs ophost)"
ok "meson install: $(basename "$pc") with Cflags '$cflags', plugindir $raw_plugindir (holds the plugins)"

# ---- 2. the README's build command, out of tree --------------------------------
work=$tmp/home/example
mkdir -p "$work"
cp "$srcdir/plugins/example/example.c" "$work/"
(
    cd "$work"
    # shellcheck disable=SC2046  # the README's line, word splitting intended
    $cc -shared -fPIC -fvisibility=hidden $(PKG_CONFIG_SYSROOT_DIR=$dest pkg-config --cflags ophost) -o example.so example.c
) >"$tmp/cc.log" 2>&1 || fail "the README build command failed: $(cat "$tmp/cc.log")"
[ ! -s "$tmp/cc.log" ] || fail "the README build command warned: $(cat "$tmp/cc.log")"
# The header came from the staging dir, not from some installed copy.
$cc -M $cflags "$work/example.c" >"$tmp/deps" 2>&1 || fail "cc -M failed: $(cat "$tmp/deps")"
grep -q -F "$dest/" "$tmp/deps" || fail "example.c was not compiled against $dest: $(cat "$tmp/deps")"
# Strict warnings: the example is what authors copy.
$cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only $cflags "$work/example.c" >"$tmp/strict.log" 2>&1 ||
    fail "example.c warns with -std=c99 -pedantic -Wall -Wextra: $(cat "$tmp/strict.log")"
"$srcdir/tests/check-exports.sh" "$work/example.so" >"$tmp/exports.log" 2>&1 ||
    fail "example.so exports: $(cat "$tmp/exports.log")"
lines=$(wc -l <"$srcdir/plugins/example/example.c")
[ "$lines" -lt 120 ] || fail "example.c has $lines lines, the README promises under 120"
# The README shows the whole file: the same bytes.
awk '/Here is the whole file, `example.c`:$/ { want = 1; next }
     want && /^```c$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$srcdir/README.md" >"$tmp/readme-example.c"
diff -u "$tmp/readme-example.c" "$srcdir/plugins/example/example.c" >"$tmp/diff" ||
    fail "README.md's copy of example.c differs: $(cat "$tmp/diff")"
ok "example.so builds with the README's command, no warnings (also -std=c99 -pedantic -Wall -Wextra), exports only the entry ($lines lines)"

# ---- 3. --check-plugin on the author's build --------------------------------------
"$ophostd" --check-plugin "$work/example.so" >"$tmp/check.out" 2>"$tmp/check.err" ||
    fail "--check-plugin example.so exited $?: $(cat "$tmp/check.out" "$tmp/check.err")"
abi=$(sed -n 's/^#define OPHOST_ABI_MAJOR \([0-9]*\)$/\1/p' "$header").$(sed -n 's/^#define OPHOST_ABI_MINOR \([0-9]*\)$/\1/p' "$header")
grep -q -x -F "$work/example.so: plugin 'example' 1.0 (ABI $abi), 1 operators: loadable" "$tmp/check.out" ||
    fail "--check-plugin output: $(cat "$tmp/check.out")"
grep -q -x -F "comm_upper — Adds comm_upper: the comm field in upper case" "$tmp/check.out" ||
    fail "--check-plugin does not show comm_upper: $(cat "$tmp/check.out")"
ok "ophostd --check-plugin example.so: loadable, provides comm_upper"

# ---- 4. a running daemon picks it up -----------------------------------------------
pipelines=$tmp/pipelines.d
mkdir "$pipelines"
printf "log-level: info\ncontrol-socket: %s\n" "$tmp/ophostd.sock" >"$tmp/ophostd.yaml"
cat >"$pipelines/upper.yaml" <<EOF
upper:
  gadget: synthetic
  operators:
    synthetic:
      rate: 50
      fields: "comm:string"
    comm_upper: {}
    print:
      path: $tmp/upper.log
EOF
common=(-c "$tmp/ophostd.yaml" -p "$plugindir" -d "$pipelines")
start_daemon "$log" "${common[@]}"
wait_for 10 log_has "info: ready: 1 sessions configured" || fail "the daemon did not get ready"
log_has "session 'upper': unknown operator 'comm_upper', waiting for a plugin that provides it" ||
    fail "the session does not wait for comm_upper"
[ ! -e "$tmp/upper.log" ] || fail "upper ran without comm_upper"
ok "the daemon runs on pkg-config's plugindir; 'upper' waits for comm_upper"

# The README's install line: a hidden temporary name, then an atomic rename.
install -m 0644 "$work/example.so" "$plugindir/.example.so.tmp"
mv "$plugindir/.example.so.tmp" "$plugindir/example.so"
wait_for 5 log_has "info: example.so: plugin 'example' 1.0 loaded, 1 operators" ||
    fail "the daemon did not log loading example.so"
wait_for 5 log_has "info: session upper: started" || fail "upper did not start"
wait_for 10 has_lines "$tmp/upper.log" 2 || fail "no events in upper.log"
first=$(sed -n 1p "$tmp/upper.log")
second=$(sed -n 2p "$tmp/upper.log")
[ "$first" = 'comm="comm-1" comm_upper="COMM-1"' ] || fail "upper.log line 1 is '$first'"
[ "$second" = 'comm="comm-2" comm_upper="COMM-2"' ] || fail "upper.log line 2 is '$second'"
ok "example.so moved in: 'plugin 'example' 1.0 loaded', upper prints comm=\"comm-1\" comm_upper=\"COMM-1\""

"$ophostd" "${common[@]}" --list-operators >"$tmp/list.out" 2>&1 || fail "--list-operators exited $?"
grep -q -x -F "comm_upper — Adds comm_upper: the comm field in upper case" "$tmp/list.out" ||
    fail "--list-operators lacks comm_upper: $(cat "$tmp/list.out")"
grep -q -F "    plugin example 1.0 ($plugindir/example.so), priority 0" "$tmp/list.out" ||
    fail "--list-operators lacks the plugin line of comm_upper: $(cat "$tmp/list.out")"
ok "ophostd --list-operators lists comm_upper from plugin example 1.0"

stop_daemon
ok "SIGTERM: the daemon exits 0"

echo "$n_ok passed, 0 failed"

#!/usr/bin/env bash
# check-plugin.sh OPHOSTD TEST_PLUGIN_DIR — `ophostd --check-plugin FILE`
# on every deliberately broken test plugin prints the loader's exact reason
# (naming the operator and the fix) and exits 1; on a good plugin it prints
# the operators with their params' defaults and limits and exits 0; --json
# says the same; options go before or after FILE. Only warnings, exit 0
# (exit 1 with --strict): a group-writable directory, an odd file name, a
# struct larger than the host's, symbols exported besides the entry, an
# operator name a plugin in --plugin-dir provides.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: check-plugin.sh OPHOSTD TEST_PLUGIN_DIR" >&2
    exit 2
fi
ophostd=$1
src=$2

unset JOURNAL_STREAM OPHOST_PLUGIN_DIR
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ophost-checkplugin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n_ok=0

fail() {
    echo "FAIL: $*"
    exit 1
}
ok() {
    n_ok=$((n_ok + 1))
    echo "ok $n_ok - $*"
}

# The loader refuses group/world-writable files and directories: copies.
dir=$tmp/plugins
install -m 0755 -d "$dir"
for f in "$src"/*.so; do
    install -m 0644 "$f" "$dir/"
done

# refused FILE REASON: --check-plugin exits 1, stdout is empty and stderr is
# exactly "refused: DIR/FILE: REASON".
refused() {
    local status=0 err
    "$ophostd" --check-plugin "$dir/$1" >"$tmp/out" 2>"$tmp/err" || status=$?
    [ "$status" -eq 1 ] || fail "--check-plugin $1 exited $status, expected 1"
    [ ! -s "$tmp/out" ] || fail "--check-plugin $1 printed on stdout: $(cat "$tmp/out")"
    err=$(cat "$tmp/err")
    [ "$err" = "refused: $dir/$1: $2" ] || fail "--check-plugin $1 said '$err', expected 'refused: $dir/$1: $2'"
}

abi_major=$(sed -n 's/^#define OPHOST_ABI_MAJOR \([0-9]*\)$/\1/p' "$(dirname "$0")/../../include/ophost/ophost.h")
abi_minor=$(sed -n 's/^#define OPHOST_ABI_MINOR \([0-9]*\)$/\1/p' "$(dirname "$0")/../../include/ophost/ophost.h")
[ -n "$abi_major" ] && [ -n "$abi_minor" ] || fail "cannot read the ABI version from ophost.h"

refused abimajor.so "abi: plugin ABI major 2, host supports $abi_major: rebuild it against this host's ophost.h"
refused abiminor.so "abi: plugin ABI $abi_major.$((abi_minor + 1)) is newer than the host's $abi_major.$abi_minor: rebuild it against this host's ophost.h, or update ophostd"
refused badname.so "operator #1: invalid name 'Bad Name' (use a-z, 0-9, '_' and '-')"
refused badparam.so "operator 'badparam-op': instance param 'interval': default '2x' is not a valid duration"
refused dupinside.so "operator 'dup-op': defined twice in the plugin"
refused emptyname.so "operator #0: invalid name '' (use a-z, 0-9, '_' and '-')"
refused needslib.so "dlopen: libophost-test-absent.so: cannot open shared object file: No such file or directory"
refused noentry.so "entry: no symbol 'ophost_plugin_entry' (define it with OPHOST_PLUGIN, or mark it OPHOST_EXPORT)"
refused noops.so "descriptor: provides no operators"
refused notelf.so "dlopen: invalid ELF header"
refused nullentry.so "entry: 'ophost_plugin_entry' returned NULL"
refused undefsym.so "dlopen: undefined symbol: ophost_test_no_such_function"
# refused_re FILE REGEX: like refused, for a reason with a size in it.
refused_re() {
    local status=0
    "$ophostd" --check-plugin "$dir/$1" >/dev/null 2>"$tmp/err" || status=$?
    [ "$status" -eq 1 ] || fail "--check-plugin $1 exited $status, expected 1"
    grep -q -x -E "refused: $dir/$1: $2" "$tmp/err" || fail "--check-plugin $1 said: $(cat "$tmp/err")"
}
refused_re smallop.so "operator 'small-op': struct_size 8 is smaller than the ABI 1.0 size [0-9]+: set \\.struct_size = sizeof\\(struct ophost_operator\\)"
refused_re smallstruct.so "descriptor: struct_size 8 is smaller than the ABI 1.0 size [0-9]+: set \\.struct_size = sizeof\\(struct ophost_plugin\\) \\(or define the descriptor with OPHOST_PLUGIN\\)"
ok "each of the 14 broken test plugins: exit 1 and 'refused: PATH: STEP: REASON' (the loader's line)"

# The file's own checks fail it: mode, symlink, missing.
install -m 0664 "$src/good.so" "$dir/gw.so"
refused gw.so "file: writable by group or others (mode 0664)"
ln -s good.so "$dir/link.so"
refused link.so "file: is a symbolic link, not a regular file"
refused missing.so "file: No such file or directory"
ok "a group-writable file, a symlink and a missing file are refused"

# A good plugin: its operators, with dependencies and params.
"$ophostd" --check-plugin "$dir/good.so" >"$tmp/out" 2>"$tmp/err" ||
    fail "--check-plugin good.so exited $?: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "--check-plugin good.so printed on stderr: $(cat "$tmp/err")"
cat >"$tmp/want" <<EOF
$dir/good.so: plugin 'good' 1.0 (ABI $abi_major.$abi_minor), 3 operators: loadable
good-a — First good operator
    plugin good 1.0 ($dir/good.so), priority 0
good-b — Needs good-a
    plugin good 1.0 ($dir/good.so), priority 1000, depends on: good-a
good-c — Has params
    plugin good 1.0 ($dir/good.so), priority 10000
    global params:
      interval (duration, default '1s', min 1ms): How often
      verbose (bool, default 'false'): Say more
      label (string, default 'none', one of: none, short, long): Label style
      level (int, default '-3', min -10, max 10): A signed level
      max (uint, default '100'): An upper bound
    instance params:
      path (string, mandatory): Where to write
      timeout (duration, default '250ms', max 1m): Give up after
EOF
diff -u "$tmp/want" "$tmp/out" >"$tmp/diff" || fail "--check-plugin good.so output differs: $(cat "$tmp/diff")"
ok "good.so: exit 0, the plugin line and its 3 operators with dependencies and params (defaults, limits)"

# Options in any order: the file is the one operand.
for args in "--json --check-plugin $dir/good.so" "--check-plugin --json $dir/good.so" \
    "$dir/good.so --check-plugin --json" "--check-plugin $dir/good.so --json"; do
    # shellcheck disable=SC2086  # the words of args, as typed
    "$ophostd" $args >"$tmp/any.json" 2>"$tmp/err" || fail "ophostd $args exited $?: $(cat "$tmp/err")"
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["loadable"] and d["path"] == sys.argv[2], d' \
        "$tmp/any.json" "$dir/good.so" || fail "ophostd $args: $(cat "$tmp/any.json")"
done
for args in "--check-plugin" "--check-plugin $dir/good.so $dir/second.so"; do
    status=0
    # shellcheck disable=SC2086
    "$ophostd" $args >/dev/null 2>"$tmp/err" || status=$?
    [ "$status" -eq 1 ] || fail "ophostd $args exited $status"
    grep -q -F -- "--check-plugin needs exactly one FILE" "$tmp/err" || fail "ophostd $args said: $(cat "$tmp/err")"
done
ok "--check-plugin with --json before or after FILE; no FILE or two: exit 1 and why"

# warned FILE REGEX [OPTIONS...]: exit 0, stdout says loadable, stderr is one
# line matching "warning: REGEX"; with --strict as well, exit 1.
warned() {
    local file=$1 want=$2 status=0
    shift 2
    "$ophostd" --check-plugin "$file" "$@" >"$tmp/out" 2>"$tmp/err" ||
        fail "--check-plugin $file $* exited $?: $(cat "$tmp/err")"
    grep -q -E "^$file: plugin .*: loadable$" "$tmp/out" || fail "--check-plugin $file: $(cat "$tmp/out")"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -x -E "warning: $want" "$tmp/err" ||
        fail "--check-plugin $file $* warned '$(cat "$tmp/err")', expected 'warning: $want'"
    "$ophostd" --check-plugin --strict "$file" "$@" >/dev/null 2>&1 || status=$?
    [ "$status" -eq 1 ] || fail "--check-plugin --strict $file $* exited $status, expected 1"
}
re() { printf '%s' "$1" | sed 's/[][\.*^$()+?{}|]/\\&/g'; } # a fixed string as a regex

warned "$dir/second.so" "$(re "$dir/second.so: operator 'second-x': struct_size ")[0-9]+$(re " is larger than this host's ")[0-9]+$(re " (built against a newer ophost.h?): ophostd ignores its members past ")[0-9]+ bytes"
ok "second.so (an operator struct larger than the host's): loadable with a warning; --strict: exit 1"

# 4, or 5 under AddressSanitizer (which exports __odr_asan.exports_counter).
warned "$dir/exports.so" "$(re "$dir/exports.so: exports ")[45]$(re " symbols besides 'ophost_plugin_entry' (")([^,()]+, ){3,4}[^,()]+$(re "): build it with -fvisibility=hidden (meson: gnu_symbol_visibility : 'hidden') so that only the entry function is exported")"
for s in exports_counter exports_helper_a exports_helper_b exports_helper_c; do
    grep -q -E "[(, ]$s[,)]" "$tmp/err" || fail "the exports warning does not name $s: $(cat "$tmp/err")"
done
# 104 besides the entry (105 under ASan): past the 64 names the scanner
# lists, the count is still right; 8 are named, then "...".
warned "$dir/manyexports.so" "$(re "$dir/manyexports.so: exports ")10[45]$(re " symbols besides 'ophost_plugin_entry' (")([^,()]+, ){8}$(re "...): build it with -fvisibility=hidden (meson: gnu_symbol_visibility : 'hidden') so that only the entry function is exported")"
# Its description has bytes that are not UTF-8 and an escape: the JSON
# parses as UTF-8, the text shows neither.
"$ophostd" --check-plugin --json "$dir/manyexports.so" >"$tmp/json" 2>/dev/null ||
    fail "--check-plugin --json manyexports.so exited $?"
python3 -c 'import json, sys; d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8")); sys.exit(0 if "many \ufffd\ufffd exports ?[31mred" in json.dumps(d, ensure_ascii=False) else 1)' "$tmp/json" ||
    fail "--check-plugin --json with a plugin's bad text: $(cat -v "$tmp/json" | head -c 600)"
"$ophostd" --check-plugin "$dir/manyexports.so" >"$tmp/out" 2>&1 || true
if LC_ALL=C grep -q $'\x1b\|\xff' "$tmp/out"; then fail "a plugin's raw bytes reached the terminal: $(cat -v "$tmp/out")"; fi
"$ophostd" --check-plugin --strict "$dir/good.so" >/dev/null 2>"$tmp/err" ||
    fail "--check-plugin --strict good.so exited $?: $(cat "$tmp/err")"
ok "exports.so (built without -fvisibility=hidden): its 4 extra symbols named in a warning; good.so is clean even with --strict"

# Operator names: against the plugins of --plugin-dir, as the daemon loads them.
pdir=$tmp/pdir
install -m 0755 -d "$pdir"
install -m 0644 "$src/good.so" "$src/second.so" "$pdir/"
warned "$dir/dupname.so" "$(re "$dir/dupname.so: operator 'good-a': also provided by plugin 'good' ($pdir/good.so); ophostd refuses whichever of the two it loads second: rename the operator or remove one plugin")" -p "$pdir"
# The same file name is the plugin it would replace: no conflict.
"$ophostd" --check-plugin --strict -p "$pdir" "$dir/good.so" >/dev/null 2>"$tmp/err" ||
    fail "--check-plugin --strict -p PDIR good.so exited $?: $(cat "$tmp/err")"
warned "$dir/good.so" "$(re "$tmp/none: directory: No such file or directory; operator names not compared with its plugins")" -p "$tmp/none"
ok "dupname.so -p DIR holding good.so: 'good-a' also provided by plugin 'good' (a warning); good.so itself replaces, no warning; a missing --plugin-dir is said"

# The directory and the name are warnings only: authors build in their home.
gwdir=$tmp/gwdir
install -m 0775 -d "$gwdir"
install -m 0644 "$src/good.so" "$gwdir/good.so.1"
"$ophostd" --check-plugin "$gwdir/good.so.1" >"$tmp/out" 2>"$tmp/err" ||
    fail "--check-plugin in a group-writable directory exited $?: $(cat "$tmp/err")"
cat >"$tmp/want" <<EOF
warning: $gwdir/good.so.1: file: ophostd loads only files named '*.so' that do not start with '.'; install it under such a name
warning: $gwdir: directory: writable by group or others (mode 0775); ophostd refuses every plugin in such a directory, install into one that passes
EOF
diff -u "$tmp/want" "$tmp/err" >"$tmp/diff" || fail "--check-plugin warnings differ: $(cat "$tmp/diff")"
grep -q -x -F "$gwdir/good.so.1: plugin 'good' 1.0 (ABI $abi_major.$abi_minor), 3 operators: loadable" "$tmp/out" ||
    fail "--check-plugin good.so.1: $(cat "$tmp/out")"
ok "a group-writable directory and a name not '*.so': two warnings, still exit 0"

# JSON, for CI of plugin repositories.
"$ophostd" --check-plugin "$dir/good.so" --json >"$tmp/good.json" || fail "--check-plugin --json good.so exited $?"
status=0
"$ophostd" --check-plugin "$dir/noentry.so" --json >"$tmp/noentry.json" 2>"$tmp/err" || status=$?
[ "$status" -eq 1 ] || fail "--check-plugin --json noentry.so exited $status"
[ ! -s "$tmp/err" ] || fail "--check-plugin --json noentry.so printed on stderr: $(cat "$tmp/err")"
"$ophostd" --check-plugin "$gwdir/good.so.1" --json >"$tmp/gw.json" || fail "--check-plugin --json good.so.1 exited $?"
python3 - "$tmp" "$dir" "$gwdir" "$abi_major.$abi_minor" <<'EOF' || fail "--check-plugin --json: unexpected output"
import json, sys
tmp, d, gw, abi = sys.argv[1:]
good = json.load(open(tmp + "/good.json"))
assert good["path"] == d + "/good.so", good
assert good["loadable"] is True and good["error"] is None and good["warnings"] == [], good
assert good["plugin"] == {"name": "good", "version": "1.0", "description": "A valid test plugin",
                          "abi": abi}, good["plugin"]
ops = {o["name"]: o for o in good["operators"]}
assert list(ops) == ["good-a", "good-b", "good-c"], list(ops)
assert ops["good-b"]["dependencies"] == ["good-a"], ops["good-b"]
assert ops["good-b"]["priority"] == 1000, ops["good-b"]
assert [p["key"] for p in ops["good-c"]["global_params"]] == ["interval", "verbose", "label", "level", "max"]
assert ops["good-c"]["instance_params"][0]["mandatory"] is True
bad = json.load(open(tmp + "/noentry.json"))
assert bad == {"path": d + "/noentry.so", "loadable": False,
               "error": d + "/noentry.so: entry: no symbol 'ophost_plugin_entry' (define it with "
                        "OPHOST_PLUGIN, or mark it OPHOST_EXPORT)",
               "warnings": [], "plugin": None, "operators": []}, bad
w = json.load(open(tmp + "/gw.json"))
assert w["loadable"] is True and len(w["warnings"]) == 2, w
assert w["warnings"][1].startswith(gw + ": directory: writable by group or others (mode 0775)"), w
EOF
ok "--json: loadable/error/warnings/plugin/operators for good.so, noentry.so (exit 1) and a warned one"

status=0
"$ophostd" --check-plugin "$dir/good.so" --list-operators >/dev/null 2>"$tmp/err" || status=$?
[ "$status" -eq 1 ] || fail "--check-plugin with --list-operators exited $status"
grep -q -F -- "--check, --list-operators and --check-plugin exclude each other" "$tmp/err" ||
    fail "--check-plugin with --list-operators said: $(cat "$tmp/err")"
ok "--check-plugin excludes --list-operators (exit 1)"

echo "$n_ok passed, 0 failed"

#!/usr/bin/env bash
# ctl-valgrind.sh OPHOSTD OPHOSTCTL PLUGIN_DIR — ophostctl itself under
# valgrind (no leak, no invalid access) through its code paths: run with
# each output mode, --fields, repeated --filter, --sort, --max-entries, a
# gadget in rounds, run GADGET --help, watch ended by SIGINT, lists, the
# error paths (unknown field, unknown gadget, no daemon). The meson setup
# 'valgrind' skips shell tests; this one brings valgrind to the client.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 3 "ctl-valgrind.sh OPHOSTD OPHOSTCTL PLUGIN_DIR" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
if ldd "$ctl_bin" 2>/dev/null | has 'libasan'; then
    echo "SKIP: $ctl_bin is built with AddressSanitizer, which valgrind cannot run (ASan checks it there)"
    exit 77
fi
make_tmp ophost-ctl-vg
ctl_daemon 'tab:
  gadget: synthetic
  operators:
    synthetic: {rate: 100, fields: "seq:u64,comm:string"}
    columns: {path: tab.log, fields: "comm,seq"}'

vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no)
# vgrun WANT ARGS...: ophostctl ARGS under valgrind exits WANT (99 = valgrind
# found something).
vgrun() {
    local want=$1 rc=0
    shift
    "${vg[@]}" "$ctl_bin" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = "$want" ] || fail "ophostctl $* under valgrind exited $rc (want $want): $(cat "$tmp/err")"
}
syn=(run synthetic -p rate=0 -p count=20 -p fields=seq:u64,uid:u32,proc.exe:string,ts:timestamp)
for mode in columns json jsonpretty yaml; do
    vgrun 0 "${syn[@]}" -o "$mode"
done
vgrun 0 "${syn[@]}" --operator uidgid --fields seq,user,proc.exe --filter 'user==bin|seq>10' \
    --filter 'seq<15' --sort -seq --max-entries 3
[ "$(wc -l <"$tmp/out")" = 4 ] || fail "the sorted run: $(cat "$tmp/out")"
vgrun 0 "${syn[@]}" --max-entries 2 --fields +ts,-uid
vgrun 0 run top_process -p interval=100ms -d 350ms --sort -cpu --max-entries 2
vgrun 0 run snapshot_process -o yaml --max-entries 1
vgrun 0 run trace_exec --help
vgrun 0 --json run top_process --help
vgrun 0 list gadgets
vgrun 0 list sessions -q
vgrun 0 describe tab
vgrun 0 --version
vgrun 2 "${syn[@]}" --fields nope
vgrun 2 "${syn[@]}" --filter 'nope==1'
vgrun 1 run trace_exe
vgrun 1 describe tba
vgrun 2 strat
vgrun 3 --socket "$tmp/none.sock" list sessions
rc=0
timeout --preserve-status -s INT 3 "${vg[@]}" "$ctl_bin" watch tab >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "watch under valgrind exited $rc: $(cat "$tmp/err")"
ok "ophostctl under valgrind: run (4 modes, fields, filters, sort, max-entries, rounds), help, lists, watch, errors"
echo "all $n_ok checks passed"

#!/usr/bin/env bash
# abi-1.0.sh OPHOSTD PLUGIN_DIR ABI10_SO — the ABI stability guard: abi10.so
# (tests/abi/plugin-1.0.c, built only against the frozen ophost-1.0.h) still
# loads in the current ophostd and runs a pipeline to the exact output it
# gave when ABI 1.0 was released: global and instance params (with an
# alias), schema, variables, timer, emit, batch_keep, done and the print
# sink's view of every field. A failure here means old plugins broke.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage 3 "abi-1.0.sh OPHOSTD PLUGIN_DIR ABI10_SO" "$@"
ophostd=$1
src_plugins=$2
abi10=$3

unset JOURNAL_STREAM OPHOST_PLUGIN_DIR
make_tmp ophost-abi10
log=$tmp/ophostd.log

plugins=$tmp/plugins
install -m 0755 -d "$plugins" "$tmp/pipelines.d"
install -m 0644 "$src_plugins/print.so" "$abi10" "$plugins/"
cat >"$tmp/ophostd.yaml" <<EOF
log-level: info
control-socket: $tmp/ophostd.sock
operators:
  abi10-gadget: {prefix: old}
EOF
cat >"$tmp/pipelines.d/abi.yaml" <<EOF
abi:
  gadget: abi10-gadget
  operators:
    abi10-gadget: {count: 5, interval: 5ms, offset: 100}
    abi10-enricher: {factor: 7, drop: 2, remark: v1}
    print: {path: $tmp/abi.log}
EOF
common=(-c "$tmp/ophostd.yaml" -p "$plugins" -d "$tmp/pipelines.d")

"$ophostd" --check-plugin "$plugins/abi10.so" >"$tmp/check.out" 2>&1 ||
    fail "--check-plugin abi10.so exited $?: $(cat "$tmp/check.out")"
grep -q -x -F "$plugins/abi10.so: plugin 'abi10' 1.0 (ABI 1.0), 2 operators: loadable" "$tmp/check.out" ||
    fail "--check-plugin abi10.so: $(cat "$tmp/check.out")"
out=$("$ophostd" "${common[@]}" --check 2>&1) || fail "--check exited $?: $out"
[ "$out" = "session abi (gadget abi10-gadget): abi10-gadget -> abi10-enricher -> print" ] ||
    fail "--check printed: $out"
ok "the ABI 1.0 plugin passes --check-plugin and --check (abi10-gadget -> abi10-enricher -> print)"

start_daemon "$log" "${common[@]}"
wait_for 10 log_has "info: session abi: completed, 5 events" || fail "session abi did not complete"
cat >"$tmp/want" <<'EOF'
seq=1 small=1 delta=99 odd=true name="old-1" seq_x=7 note="v1" session="abi"
seq=3 small=3 delta=97 odd=true name="old-3" seq_x=21 note="v1" session="abi"
seq=4 small=4 delta=96 odd=false name="old-4" seq_x=28 note="v1" session="abi"
seq=5 small=5 delta=95 odd=true name="old-5" seq_x=35 note="v1" session="abi"
EOF
diff -u "$tmp/want" "$tmp/abi.log" >"$tmp/diff" || fail "abi.log differs: $(cat "$tmp/diff")"
log_has "abi10-enricher: 8 fields, factor 7" || fail "the enricher's start did not log"
log_has "abi10-gadget: stopped after 5 events" || fail "the gadget's stop did not log"
ok "the session runs to completion: 4 exact lines (seq 2 dropped), 5 events, start/stop logged"

stop_daemon
ok "SIGTERM: the daemon exits 0"

echo "$n_ok passed, 0 failed"

#!/usr/bin/env bash
# ctl-help.sh OPHOSTD OPHOSTCTL PLUGIN_DIR ABI10_SO — gadgets that describe
# themselves: `ophostctl list gadgets` lists each gadget, and `run GADGET
# --help` of every one of them lists every param (from ListOperators) and
# every field (from the dry run), each shipped field with a description;
# nothing starts (no session appears); a plugin built against ABI 1.0, which
# has no field metadata, still lists its fields.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 4 "ctl-help.sh OPHOSTD OPHOSTCTL PLUGIN_DIR ABI10_SO" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
abi10=$4
command -v jq >/dev/null || { echo "SKIP: jq is not installed (apt-get install jq)"; exit 77; }
make_tmp ophost-ctl-help
install -m 0755 -d "$tmp/abi"
install -m 0644 "$abi10" "$tmp/abi/abi10.so"
ctl_daemon 'idle: {gadget: synthetic, autostart: false}' "$tmp/abi"

expect_rc 0 "$ctl_bin" list gadgets -q
cp "$tmp/out" "$tmp/gadgets"
for g in trace_exec top_process snapshot_process synthetic abi10-gadget; do
    grep -qx "$g" "$tmp/gadgets" || fail "list gadgets -q lacks $g: $(cat "$tmp/gadgets")"
done
grep -qx print "$tmp/gadgets" && fail "list gadgets lists the print sink"
expect_rc 0 "$ctl_bin" list gadgets
head -1 "$tmp/out" | grep -Eqx 'GADGET +PLUGIN +DESCRIPTION' || fail "list gadgets: $(head -1 "$tmp/out")"
grep -Eq '^trace_exec +trace_exec +.+' "$tmp/out" || fail "list gadgets row: $(cat "$tmp/out")"
ok "list gadgets: $(wc -l <"$tmp/gadgets") gadgets, no other operator"

"$ctl_bin" --json list operators >"$tmp/operators"
n=0
while read -r g; do
    expect_rc 0 "$ctl_bin" run "$g" --help
    cp "$tmp/out" "$tmp/help"
    grep -qx "Usage: ophostctl run $g \[OPTIONS\]" "$tmp/help" || fail "$g --help: $(head -3 "$tmp/help")"
    for key in $(jq -r --arg g "$g" '.operators[] | select(.name == $g) | .instance_params[].key' "$tmp/operators"); do
        grep -Eq "^  $key +" "$tmp/help" || fail "$g --help lacks param $key: $(cat "$tmp/help")"
    done
    expect_rc 0 "$ctl_bin" --json run "$g" --help
    nf=$(jq '.datasources[0].fields | length' "$tmp/out")
    [ "$nf" -gt 0 ] || fail "$g has no fields"
    for f in $(jq -r '.datasources[0].fields[].name' "$tmp/out"); do
        grep -Eq "^  $f\\*? +" "$tmp/help" || fail "$g --help lacks field $f: $(cat "$tmp/help")"
    done
    if [ "$g" != abi10-gadget ]; then
        missing=$(jq -r '.datasources[0].fields[] | select(.description == null) | .name' "$tmp/out")
        [ -z "$missing" ] || fail "$g: fields without a description: $missing"
    fi
    n=$((n + 1))
done <"$tmp/gadgets"
ok "run GADGET --help for all $n gadgets: every param and every field, shipped fields described"

expect_rc 0 "$ctl_bin" run top_process --help
grep -Eq '^  cpu +u32 +top_process +centipercent +CPU use' "$tmp/out" || fail "top_process cpu: $(cat "$tmp/out")"
grep -Eq '^  interval +duration +1s +' "$tmp/out" || fail "top_process interval: $(cat "$tmp/out")"
grep -q 'one round per interval' "$tmp/out" || fail "top_process rounds"
expect_rc 0 "$ctl_bin" run trace_exec --help
grep -Eq '^  mechanism +string +auto +.*\(one of: auto, ebpf, proc-connector\)' "$tmp/out" ||
    fail "trace_exec mechanism: $(cat "$tmp/out")"
grep -Eq '^  exec_id\* +u64 ' "$tmp/out" || fail "trace_exec hidden exec_id: $(cat "$tmp/out")"
expect_rc 0 "$ctl_bin" run abi10-gadget --help
grep -Eq '^  seq +u64 +abi10-gadget +- +-$' "$tmp/out" || fail "abi10 fields: $(cat "$tmp/out")"
ok "a param's type, default and allowed values; a field's unit, hidden mark; ABI 1.0 fields undescribed"

expect_rc 0 "$ctl_bin" --json list sessions
[ "$(jq '.sessions | length' "$tmp/out")" = 1 ] || fail "a --help started a session: $(cat "$tmp/out")"
expect_rc 0 "$ctl_bin" run --help
grep -q -- '--max-entries N' "$tmp/out" || fail "run --help"
ok "nothing ran; run --help without a gadget is the options' help"

echo "all $n_ok checks passed"

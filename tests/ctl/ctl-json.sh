#!/usr/bin/env bash
# ctl-json.sh OPHOSTD OPHOSTCTL PLUGIN_DIR — one JSON shape, read with jq:
# `ophostctl run -o json` and the json sink of the same session write the
# same bytes; dotted names are nested objects (jq .proc.exe works); a name
# that is also another field's prefix stays whole; timestamps are RFC 3339
# with nine digits that jq passes through unchanged (a number of nanoseconds
# would be rounded by jq 1.6); jsonpretty and yaml carry the same values.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 3 "ctl-json.sh OPHOSTD OPHOSTCTL PLUGIN_DIR" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
command -v jq >/dev/null || { echo "SKIP: jq is not installed (apt-get install jq)"; exit 77; }
make_tmp ophost-ctl-json
ctl_daemon 'idle: {gadget: synthetic, autostart: false}'

fields=seq:u64,proc.exe:string,timestamp:timestamp,proc.ppid:u32,a:u8,a.b:u8,big:u64
# A relative path: the sink writes into the logs directory.
expect_rc 0 "$ctl_bin" run synthetic -p rate=0 -p count=5 -p fields=$fields \
    --operator json:path=sink.json -o json
[ -f "$tmp/logs/sink.json" ] || fail "the json sink's relative path is not in the logs directory"
cmp -s "$tmp/out" "$tmp/logs/sink.json" ||
    fail "run -o json and the json sink differ: $(diff "$tmp/out" "$tmp/logs/sink.json")"
[ "$(wc -l <"$tmp/out")" = 5 ] || fail "5 events: $(cat "$tmp/out")"
ok "run -o json and the json sink (relative path, in the logs directory) write the same lines"

[ "$(jq -r .proc.exe "$tmp/out" | tr '\n' ' ')" = "proc.exe-1 proc.exe-2 proc.exe-3 proc.exe-4 proc.exe-5 " ] ||
    fail "jq .proc.exe: $(jq -r .proc.exe "$tmp/out")"
[ "$(jq -r .proc.ppid "$tmp/out" | sed -n 1p)" = 1 ] || fail "jq .proc.ppid"
[ "$(jq -r '.["a.b"]' "$tmp/out" | sed -n 1p)" = 1 ] || fail "a.b stays whole next to a"
[ "$(jq -r '.a' "$tmp/out" | sed -n 1p)" = 1 ] || fail "a is a value"
[ "$(jq -c 'keys_unsorted' "$tmp/out" | sed -n 1p)" = '["seq","proc","timestamp","a","a.b","big"]' ] ||
    fail "keys: $(jq -c keys_unsorted "$tmp/out" | sed -n 1p)"
ok "dotted names nest (jq .proc.exe); a.b next to a stays one key; keys in schema order"

# Nanoseconds survive jq: the string is the sink's, digit for digit.
raw=$(head -1 "$tmp/out" | grep -o '"timestamp":"[^"]*"' | cut -d'"' -f4)
[[ $raw =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$ ]] ||
    fail "timestamp format: $raw"
[ "$(jq -r .timestamp "$tmp/out" | sed -n 1p)" = "$raw" ] || fail "jq changed the timestamp"
jq -c . "$tmp/out" | cmp -s - "$tmp/out" || fail "jq -c does not reproduce the lines"
# Its value is the wall clock of the run, to the second (date parses it).
now=$(date +%s)
t=$(date -d "$raw" +%s)
[ $((now - t)) -ge 0 ] && [ $((now - t)) -lt 60 ] || fail "timestamp $raw is not now ($now)"
ok "timestamps: RFC 3339 with 9 digits, unchanged through jq ($raw)"

expect_rc 0 "$ctl_bin" run synthetic -p rate=0 -p count=2 -p fields=$fields -o jsonpretty
[ "$(jq -s -c 'map(.proc.exe)' "$tmp/out")" = '["proc.exe-1","proc.exe-2"]' ] ||
    fail "jsonpretty: $(cat "$tmp/out")"
expect_rc 0 "$ctl_bin" run synthetic -p rate=0 -p count=2 -p fields=seq:u64,proc.exe:string -o yaml
same "$tmp/out" '- seq: 1
  proc:
    exe: "proc.exe-1"
- seq: 2
  proc:
    exe: "proc.exe-2"'
ok "jsonpretty (jq -s) and yaml carry the same nested values"

echo "all $n_ok checks passed"

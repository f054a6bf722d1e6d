#!/usr/bin/env bash
# ctl-flags.sh OPHOSTD OPHOSTCTL PLUGIN_DIR — the flags of `ophostctl run`
# on known synthetic events (seq = uid = 1, 2, ...; Debian's uid 1 is
# daemon, 2 bin): --fields (a list, +x/-y), --sort and --max-entries on a
# stream and on a gadget in rounds, a total that ends the session, repeated
# --filter with an enriched field placed after the enricher while one on a
# gadget field runs before it, and the errors of bad flags.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 3 "ctl-flags.sh OPHOSTD OPHOSTCTL PLUGIN_DIR" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
make_tmp ophost-ctl-flags
ctl_daemon 'idle: {gadget: synthetic, autostart: false}
tab:
  gadget: synthetic
  operators:
    synthetic: {rate: 100, fields: "seq:u64,pid:u32,comm:string"}
    columns: {path: tab.log, fields: "comm,seq", max-width: 8}'

syn=(synthetic -p rate=0 -p count=10 -p fields=seq:u64,uid:u32,comm:string)

# --- --fields
expect_rc 0 "$ctl_bin" run "${syn[@]}" --fields comm,seq --max-entries 2
same "$tmp/out" 'COMM                      SEQ
comm-1                      1
comm-2                      2'
# procinfo's proc.gone is hidden by default (pid 1 exists: false).
expect_rc 0 "$ctl_bin" run synthetic -p rate=0 -p count=3 -p fields=seq:u64,pid:u32 \
    --operator procinfo --fields +proc.gone,-pid,-proc.exe,-proc.ppid -m 1
same "$tmp/out" '         SEQ PROC.GONE
           1 false'
expect_rc 0 "$ctl_bin" run synthetic -p rate=0 -p count=3 -p fields=seq:u64,pid:u32 \
    --operator procinfo -m 1
head -1 "$tmp/out" | grep -Eqx ' +SEQ +PID PROC.EXE +PROC.PPID' || fail "procinfo defaults: $(cat "$tmp/out")"
expect_rc 2 "$ctl_bin" run "${syn[@]}" --fields sqe
grep -q "no field 'sqe' (did you mean 'seq'?)" "$tmp/err" || fail "--fields typo: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" run "${syn[@]}" --fields seq,+uid
grep -q "not both" "$tmp/err" || fail "--fields mixed: $(cat "$tmp/err")"
ok "--fields: a list in that order, +x/-y against the defaults, a typo gets a hint"

# --- --sort and --max-entries on a stream
expect_rc 0 "$ctl_bin" run "${syn[@]}" --sort -seq --max-entries 3 -o json
same "$tmp/out" '{"seq":10,"uid":10,"comm":"comm-10"}
{"seq":9,"uid":9,"comm":"comm-9"}
{"seq":8,"uid":8,"comm":"comm-8"}'
expect_rc 0 "$ctl_bin" run "${syn[@]}" --sort comm -o json --fields seq
[ "$(jq -r .seq "$tmp/out" | tr '\n' ' ')" = "1 10 2 3 4 5 6 7 8 9 " ] || fail "--sort comm: $(cat "$tmp/out")"
# A total ends an endless stream: 4 events of batches of 256.
expect_rc 0 timeout 20 "$ctl_bin" run synthetic -p rate=0 -p fields=seq:u64 --max-entries 4
same "$tmp/out" '         SEQ
           1
           2
           3
           4'
grep -q 'session stopped, ' "$tmp/err" || fail "the total did not end the session: $(cat "$tmp/err")"
ok "a stream: --sort when it ends, --max-entries a total that ends the session"

# --- rounds: --sort and --max-entries per round
expect_rc 0 "$ctl_bin" run snapshot_process --sort -pid --max-entries 2 -o json --fields pid
[ "$(wc -l <"$tmp/out")" = 2 ] || fail "snapshot --max-entries 2: $(cat "$tmp/out")"
a=$(jq -r .pid "$tmp/out" | sed -n 1p)
b=$(jq -r .pid "$tmp/out" | tail -1)
[ "$a" -gt "$b" ] || fail "snapshot --sort -pid: $a then $b"
expect_rc 0 "$ctl_bin" run top_process -p interval=100ms -d 550ms --sort pid --max-entries 3 -o columns
rounds=$(grep -c '^ *PID ' "$tmp/out")
[ "$rounds" -ge 3 ] || fail "top_process: $rounds rounds in 550ms at 100ms: $(cat "$tmp/out")"
[ "$(grep -Ec '^ *[0-9]+ ' "$tmp/out")" = $((rounds * 3)) ] || fail "not 3 rows per round: $(cat "$tmp/out")"
[ "$(grep -c '^$' "$tmp/out")" = $((rounds - 1)) ] || fail "rounds not separated: $(cat "$tmp/out")"
ok "rounds: --sort and --max-entries per round ($rounds rounds of 3), a blank line between them"

# --- repeated --filter with an enriched field
expect_rc 0 "$ctl_bin" run "${syn[@]}" --operator uidgid --fields seq,user \
    --filter 'user==bin|user==root' --filter 'seq<=2' -o json
same "$tmp/out" '{"seq":2,"uid":2,"comm":"comm-2","user":"bin"}'
# Placement: the gadget-field filter runs before uidgid, the other after it.
"$ctl_bin" run synthetic -n flt -p rate=200 -p fields=seq:u64,uid:u32 --operator uidgid \
    --filter 'user==bin|user==daemon' --filter 'seq<=2' -o json >"$tmp/flt.out" 2>"$tmp/flt.err" &
run_pid=$!
filter_in() {
    "$ctl_bin" --json stats flt 2>/dev/null | jq -e '.sessions[0].operators[] | select(.name=="filter") | .events_in >= 20' >/dev/null 2>&1
}
wait_for 10 filter_in || fail "the ad-hoc session flt did not run: $(cat "$tmp/flt.err")"
"$ctl_bin" --json stats flt >"$tmp/stats"
order=$(jq -r '[.sessions[0].operators[].name] | join(" ")' "$tmp/stats")
[ "$order" = "synthetic filter uidgid filter-late" ] || fail "order: $order"
[ "$(jq '.sessions[0].operators[] | select(.name=="uidgid") | .events_in' "$tmp/stats")" = 2 ] ||
    fail "uidgid saw more than the 2 events filter kept: $(cat "$tmp/stats")"
kill -INT "$run_pid"
wait "$run_pid" || fail "run ended by SIGINT exited $?"
same "$tmp/flt.out" '{"seq":1,"uid":1,"user":"daemon"}
{"seq":2,"uid":2,"user":"bin"}'
ok "--filter twice: AND; seq<=2 before uidgid (it saw 2 events), user== after it"

# --- watch: the session's own columns settings, unless --fields
rc=0
timeout --preserve-status -s INT 1 "$ctl_bin" watch tab >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "watch tab exited $rc: $(cat "$tmp/err")"
head -1 "$tmp/out" | has -x 'COMM              SEQ' || fail "watch tab header: $(head -2 "$tmp/out")"
sed -n 2p "$tmp/out" | grep -Eqx 'comm-[0-9]+ +[0-9]+' || fail "watch tab row: $(head -2 "$tmp/out")"
head -1 "$tmp/logs/tab.log" | grep -Eqx 'COMM +SEQ' || fail "the session's own table: $(head -1 "$tmp/logs/tab.log")"
rc=0
timeout --preserve-status -s INT 1 "$ctl_bin" watch tab --fields pid,seq >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "watch tab --fields exited $rc: $(cat "$tmp/err")"
head -1 "$tmp/out" | grep -Eqx ' +PID +SEQ' || fail "watch --fields header: $(head -2 "$tmp/out")"
ok "watch uses the session's columns fields and max-width; --fields overrides them"

# --- errors
expect_rc 2 "$ctl_bin" run "${syn[@]}" --filter 'usr==root'
grep -q "no field 'usr'" "$tmp/err" || fail "filter typo: $(cat "$tmp/err")"
grep -q -- "--operator uidgid" "$tmp/err" || fail "filter hint: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" run "${syn[@]}" -d abc
grep -q "not a duration; e.g. 250ms, 10s" "$tmp/err" || fail "-d abc: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" run "${syn[@]}" -d 0
grep -q "leave -d out" "$tmp/err" || fail "-d 0: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" run "${syn[@]}" --max-entries 0
expect_rc 2 "$ctl_bin" run "${syn[@]}" -o print:path=x
grep -q -- "--operator OP" "$tmp/err" || fail "-o operator: $(cat "$tmp/err")"
expect_rc 1 "$ctl_bin" run trace_exe
grep -q "did you mean 'trace_exec'" "$tmp/err" || fail "gadget typo: $(cat "$tmp/err")"
expect_rc 1 "$ctl_bin" run null
grep -q "'null' is not a gadget" "$tmp/err" || fail "not a gadget: $(cat "$tmp/err")"
ok "bad flags: a hint for each (field, duration, -d 0, output mode, gadget name)"

echo "all $n_ok checks passed"

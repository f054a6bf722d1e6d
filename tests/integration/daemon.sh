#!/usr/bin/env bash
# daemon.sh OPHOSTD PLUGIN_DIR — runs the real ophostd on temporary plugin
# and pipeline directories and checks what a user sees: events reaching print
# sinks, --check (text and JSON), reload (rejected, changed, removed
# sessions), plugin hot-plug, a session that completes, restart with backoff
# and a clean stop on SIGTERM. Every poll is bounded; a run takes ~4 s.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage 2 "daemon.sh OPHOSTD PLUGIN_DIR" "$@"
ophostd=$1
src_plugins=$2
for so in synthetic null print; do
    if [ ! -f "$src_plugins/$so.so" ]; then
        echo "daemon.sh: $src_plugins/$so.so is missing" >&2
        exit 2
    fi
done

# Log lines go to our files, never to the journal.
unset JOURNAL_STREAM OPHOST_PLUGIN_DIR

make_tmp ophost-integ

# reloaded_or_dead PID PATTERN N: the log has more than N PATTERN lines, or
# the daemon is gone (so a crash fails at once, not after a timeout).
reloaded_or_dead() { is_dead "$1" || log_count_above "$2" "$cur_log" "$3"; }

# expect_log FIXED-STRING: the current daemon log has it (within 5 s).
expect_log() {
    wait_for 5 log_has "$1" "$cur_log" || fail "daemon log lacks: $1"
}

# assert_grows FILE WHAT: FILE gets new lines within 3 s.
assert_grows() {
    local n
    n=$(lines "$1")
    wait_for 3 has_lines "$1" $((n + 1)) || fail "$2: $1 stopped growing at $n lines"
}

# assert_stalled FILE WHAT: FILE gets no line for 0.8 s.
assert_stalled() {
    local n m
    n=$(lines "$1")
    sleep 0.8
    m=$(lines "$1")
    [ "$n" -eq "$m" ] || fail "$2: $1 still grows ($n -> $m lines)"
}

# assert_reload_rejected: alpha and beta keep printing and neither restarted
# (still one seq=1 each).
assert_reload_rejected() {
    local s
    for s in alpha beta; do
        assert_grows "$tmp/$s.log" "after a rejected reload"
        seq1_is "$tmp/$s.log" 1 || fail "$s restarted on a rejected reload ($(count_seq1 "$tmp/$s.log") x seq=1)"
    done
}

# hup PATTERN: sends SIGHUP and waits until the log has one more PATTERN line
# ("reloaded:" or "reload failed").
hup() {
    local before
    before=$(count "$1" "$cur_log")
    kill -HUP "$daemon_pid"
    wait_for 5 reloaded_or_dead "$daemon_pid" "$1" "$before" ||
        fail "no '$1' in the daemon log after SIGHUP"
    if is_dead "$daemon_pid"; then
        local status=0
        wait "$daemon_pid" || status=$?
        fail "the daemon died during the reload (exit status $status)"
    fi
}

# A private copy of the plugins: the loader refuses group/world-writable
# files and directories.
copy_plugins() {
    local dir=$1 so
    shift
    install -m 0755 -d "$dir"
    for so in "$@"; do
        install -m 0644 "$src_plugins/$so.so" "$dir/$so.so"
    done
}

# session_file FILE NAME RATE: a synthetic -> print session writing NAME.log.
session_file() {
    cat >"$1" <<EOF
$2:
  gadget: synthetic
  operators:
    synthetic:
      rate: $3
      fields: "seq:u64,comm:string"
    print:
      path: $tmp/$2.log
EOF
}

plugins=$tmp/plugins
pipelines=$tmp/pipelines.d
config=$tmp/ophostd.yaml
log=$tmp/ophostd.log
copy_plugins "$plugins" synthetic null print filter
install -m 0755 -d "$pipelines"
# A config of our own, so an installed /etc/ophost/ophostd.yaml plays no part.
printf 'log-level: info\ncontrol-socket: %s\n' "$tmp/ophostd.sock" >"$config"
session_file "$pipelines/alpha.yaml" alpha 50
session_file "$pipelines/beta.yaml" beta 50
cat >"$pipelines/other.yaml" <<EOF
counted:
  gadget: synthetic
  operators:
    synthetic:
      count: 5
      rate: 100
      fields: "seq:u64"
    print:
      path: $tmp/counted.log
flaky:
  gadget: synthetic
  restart: on-failure
  restart-delay: 1s
  operators:
    print:
      path: $tmp/no-such-dir/flaky.log
idle:
  gadget: synthetic
  autostart: false
  operators:
    print:
      path: $tmp/idle.log
timed:
  gadget: synthetic
  duration: 500ms
  operators:
    synthetic:
      rate: 100
      fields: "seq:u64"
    print:
      path: $tmp/timed.log
EOF
common=(-c "$config" -p "$plugins" -d "$pipelines")

# ---- 2. --check --------------------------------------------------------------
out=$("$ophostd" "${common[@]}" --check 2>"$tmp/check.err") ||
    fail "--check on a valid config exited $?: $(cat "$tmp/check.err")"
for s in alpha beta counted flaky idle timed; do
    grep -q -x -F "session $s (gadget synthetic): synthetic -> print" <<<"$out" ||
        fail "--check output lacks the line for $s: $out"
done
ok "--check exits 0 and prints 'session alpha (gadget synthetic): synthetic -> print'"

"$ophostd" "${common[@]}" --check --json >"$tmp/check.json" 2>"$tmp/check.err" ||
    fail "--check --json exited $?"
python3 - "$tmp/check.json" <<'EOF' || fail "--check --json: unexpected output: $(cat "$tmp/check.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
sessions = {s["name"]: s for s in doc["sessions"]}
assert sorted(sessions) == ["alpha", "beta", "counted", "flaky", "idle", "timed"], sessions
for s in sessions.values():
    assert s["gadget"] == "synthetic", s
    assert s["order"] == ["synthetic", "print"], s
assert doc["errors"] == [], doc["errors"]
EOF
ok "--check --json is valid JSON with the six sessions, their gadget and order"

bad=$tmp/bad.d
install -m 0755 -d "$bad"
cp "$pipelines"/*.yaml "$bad/"
cat >"$bad/beta.yaml" <<EOF
beta:
  gadget: synthetic
  operators:
    synthetic:
      rate: 50
      ratee: 3
EOF
status=0
"$ophostd" -c "$config" -p "$plugins" -d "$bad" --check >"$tmp/check.out" 2>"$tmp/check.err" ||
    status=$?
[ "$status" -eq 1 ] || fail "--check on a bad pipeline exited $status, expected 1"
grep -q -F "$bad/beta.yaml:6:7: session 'beta': operator 'synthetic': unknown param 'ratee' (did you mean 'rate'?)" \
    "$tmp/check.err" || fail "--check stderr lacks the error at beta.yaml:6:7: $(cat "$tmp/check.err")"
ok "--check on an unknown param exits 1 and names beta.yaml:6:7 on stderr"

cat >"$bad/beta.yaml" <<EOF
beta:
  gadgt: synthetic
EOF
status=0
"$ophostd" -c "$config" -p "$plugins" -d "$bad" --check >"$tmp/check.out" 2>"$tmp/check.err" ||
    status=$?
[ "$status" -eq 1 ] || fail "--check on an unknown key exited $status, expected 1"
grep -q -F "$bad/beta.yaml:2:3: unknown key 'gadgt' in session 'beta' (did you mean 'gadget'?)" \
    "$tmp/check.err" || fail "--check stderr lacks the error at beta.yaml:2:3: $(cat "$tmp/check.err")"
ok "--check on an unknown key exits 1 and names beta.yaml:2:3 on stderr"

# ---- 1. events reach the sinks ------------------------------------------------
start_daemon "$log" "${common[@]}"
expect_log "info: ready: 6 sessions configured"
for s in alpha beta; do
    wait_for 10 has_lines "$tmp/$s.log" 3 || fail "no events in $s.log after 10 s"
    first=$(head -n 1 "$tmp/$s.log")
    [ "$first" = 'seq=1 comm="comm-1"' ] || fail "$s.log starts with '$first'"
    second=$(sed -n 2p "$tmp/$s.log")
    [ "$second" = 'seq=2 comm="comm-2"' ] || fail "$s.log line 2 is '$second'"
done
ok "alpha and beta print 'seq=1 comm=\"comm-1\"', 'seq=2 comm=\"comm-2\"', ..."

# ---- 8. a session with a count completes, the daemon keeps running -------------
expect_log "info: session counted: completed, 5 events"
[ "$(lines "$tmp/counted.log")" -eq 5 ] || fail "counted.log has $(lines "$tmp/counted.log") lines, expected 5"
[ "$(tail -n 1 "$tmp/counted.log")" = "seq=5" ] || fail "counted.log ends with '$(tail -n 1 "$tmp/counted.log")'"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited after a session completed"
assert_grows "$tmp/alpha.log" "after counted completed"
ok "counted (count: 5) completes with 5 events, the daemon and alpha keep running"

# ---- a session with a duration completes; autostart: false stays idle ----------
expect_log "info: session timed: duration reached, stopping"
expect_log "info: session timed: completed, "
n=$(sed -n 's/^info: session timed: completed, \([0-9]*\) events$/\1/p' "$log")
if [ -z "$n" ] || [ "$n" -lt 20 ] || [ "$n" -gt 300 ]; then
    fail "timed (rate 100, duration 500ms) completed with '$n' events"
fi
[ "$(lines "$tmp/timed.log")" -eq "$n" ] || fail "timed.log has $(lines "$tmp/timed.log") lines, the log says $n events"
[ ! -e "$tmp/idle.log" ] || fail "idle (autostart: false) was started"
[ "$(count "session idle:" "$log")" -eq 0 ] || fail "the daemon logged about idle: $(grep -F "session idle:" "$log")"
ok "timed (duration: 500ms) completes with $n events, all printed; idle (autostart: false) never starts"

# ---- 9. restart on failure with a doubling delay -----------------------------
expect_log "cannot open '$tmp/no-such-dir/flaky.log'"
expect_log "notice: session flaky: restarting in 1000 ms"
expect_log "notice: session flaky: restarting in 2000 ms"
ok "flaky fails at pre_start (cannot open ...) and restarts in 1000 ms, then 2000 ms"

# ---- 3. a reload with broken files changes nothing ---------------------------
cp "$pipelines/beta.yaml" "$tmp/beta.yaml.good"
cat >"$pipelines/beta.yaml" <<EOF
beta:
  gadget: synthetic
  operators:
    synthetic:
      rate: 50
      ratee: 3
EOF
hup "reload failed"
expect_log "$pipelines/beta.yaml:6:7: session 'beta': operator 'synthetic': unknown param 'ratee'"
expect_log "error: reload failed (1 errors), keeping the running configuration"
assert_reload_rejected
ok "SIGHUP with an unknown param: error names beta.yaml:6:7, alpha and beta keep running unrestarted"

cat >"$pipelines/beta.yaml" <<EOF
beta:
  gadgt: synthetic
EOF
hup "reload failed"
expect_log "$pipelines/beta.yaml:2:3: unknown key 'gadgt' in session 'beta' (did you mean 'gadget'?)"
assert_reload_rejected
ok "SIGHUP with an unknown key: error names beta.yaml:2:3, alpha and beta keep running unrestarted"

# A schema error only instantiate can see (a filter on a field nobody
# provides) rejects the reload too: it is validated before the swap.
cat >"$pipelines/beta.yaml" <<EOF
beta:
  gadget: synthetic
  operators:
    synthetic: {rate: 50, fields: "seq:u64,comm:string"}
    filter: {expr: "sq==1"}
    print: {path: $tmp/beta.log}
EOF
hup "reload failed"
expect_log "$pipelines/beta.yaml:1:1: session 'beta': operator 'filter': instantiate failed: filter: unknown field 'sq' (did you mean 'seq'?)"
assert_reload_rejected
ok "SIGHUP with a filter on an unknown field: rejected before the swap (beta.yaml:1:1), nothing restarted"

# ---- 4. a reload restarts only the changed session ----------------------------
session_file "$pipelines/beta.yaml" beta 40
hup "info: reloaded: 6 sessions configured"
expect_log "info: session beta: changed, restarting"
wait_for 5 seq1_is "$tmp/beta.log" 2 || fail "beta did not restart: $(count_seq1 "$tmp/beta.log") x seq=1 in beta.log"
seq1_is "$tmp/alpha.log" 1 || fail "alpha restarted though unchanged ($(count_seq1 "$tmp/alpha.log") x seq=1)"
[ "$(count "session alpha: changed" "$log")" -eq 0 ] || fail "the daemon says alpha changed"
[ "$(lines "$tmp/counted.log")" -eq 5 ] || fail "counted ran again on reload"
[ "$(count "session timed: started" "$log")" -eq 1 ] || fail "timed ran again on reload"
[ ! -e "$tmp/idle.log" ] || fail "idle (autostart: false) was started by a reload"
assert_grows "$tmp/alpha.log" "after beta's restart"
assert_grows "$tmp/beta.log" "after beta's restart"
ok "changed beta restarts (second seq=1), unchanged alpha and completed counted do not"

# ---- 5. a reload stops a removed session -------------------------------------
rm "$pipelines/beta.yaml"
hup "info: reloaded: 5 sessions configured"
expect_log "info: session beta: removed, stopping"
expect_log "info: session beta: stopped"
assert_stalled "$tmp/beta.log" "beta removed"
assert_grows "$tmp/alpha.log" "after beta's removal"
seq1_is "$tmp/alpha.log" 1 || fail "alpha restarted when beta was removed"
ok "removed beta stops (beta.log stalls), alpha keeps going"

# ---- 6. reload requests during a reload are coalesced, never lost -------------
# Three SIGHUPs back to back, the last after a new session file: while the
# first reload runs the others wait in the signalfd (and merge); whatever
# the timing, the configuration reached is that of the last request.
before=$(count "info: reloaded:" "$log")
kill -HUP "$daemon_pid"
kill -HUP "$daemon_pid"
session_file "$pipelines/gamma.yaml" gamma 50
kill -HUP "$daemon_pid"
wait_for 5 has_lines "$tmp/gamma.log" 1 || fail "gamma did not start after three quick SIGHUPs"
expect_log "info: reloaded: 6 sessions configured"
after=$(count "info: reloaded:" "$log")
[ "$after" -gt "$before" ] && [ "$after" -le $((before + 3)) ] ||
    fail "three SIGHUPs gave $((after - before)) reloads (expected 1 to 3)"
is_dead "$daemon_pid" && fail "the daemon died during quick reloads"
seq1_is "$tmp/alpha.log" 1 || fail "alpha restarted on unchanged reloads"
ok "three quick SIGHUPs: $((after - before)) reload(s), the last file change (gamma) applied, alpha untouched"

# ---- 7. SIGTERM -------------------------------------------------------------
stop_daemon
log_has "info: received Terminated, stopping" "$log" || fail "no 'stopping' line in the log"
log_has "info: session alpha: stopped" "$log" || fail "alpha was not stopped at exit"
ok "SIGTERM: the daemon logs stopping, stops alpha and exits 0"

# ---- 6. plugin hot-plug -------------------------------------------------------
plugins2=$tmp/plugins2
pipelines2=$tmp/pipelines2.d
log2=$tmp/ophostd2.log
copy_plugins "$plugins2" synthetic null
install -m 0755 -d "$pipelines2"
session_file "$pipelines2/late.yaml" late 50
"$ophostd" -c "$config" -p "$plugins2" --list-operators >"$tmp/list.out" ||
    fail "--list-operators exited $?"
grep -q '^synthetic ' "$tmp/list.out" || fail "--list-operators lacks synthetic: $(cat "$tmp/list.out")"
if grep -q '^print ' "$tmp/list.out"; then
    fail "--list-operators lists print before print.so is there"
fi
start_daemon "$log2" -c "$config" -p "$plugins2" -d "$pipelines2"
expect_log "$pipelines2/late.yaml:7:5: session 'late': unknown operator 'print', waiting for a plugin that provides it"
expect_log "info: ready: 1 sessions configured"
[ "$(lines "$tmp/late.log")" -eq 0 ] || fail "late wrote events without a print plugin"
ok "late waits for a plugin that provides 'print'"

install -m 0644 "$src_plugins/print.so" "$plugins2/.print.so.tmp"
mv "$plugins2/.print.so.tmp" "$plugins2/print.so"
expect_log "info: print.so: plugin 'print' 1.0 loaded, 1 operators"
expect_log "info: session late: started"
wait_for 5 has_lines "$tmp/late.log" 3 || fail "no events in late.log after print.so arrived"
[ "$(head -n 1 "$tmp/late.log")" = 'seq=1 comm="comm-1"' ] || fail "late.log starts with '$(head -n 1 "$tmp/late.log")'"
"$ophostd" -c "$config" -p "$plugins2" --list-operators >"$tmp/list.out" ||
    fail "--list-operators exited $?"
grep -q '^print ' "$tmp/list.out" || fail "--list-operators lacks print: $(cat "$tmp/list.out")"
ok "print.so moved into the plugin dir: late starts and prints; --list-operators lists print"

stop_daemon
ok "SIGTERM: the second daemon exits 0"

echo "$n_ok passed, 0 failed"

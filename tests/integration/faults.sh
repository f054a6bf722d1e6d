#!/usr/bin/env bash
# faults.sh OPHOSTD OPHOSTCTL PLUGIN_DIR TEST_PLUGIN_DIR — plugins that
# crash, hang, exit, leak, or whose files are truncated or overwritten,
# against the real ophostd: the daemon stays up, an independent session keeps
# counting, each failure is logged and shown by `ophostctl list sessions`
# naming the operator, the callback and the reason, a plugin is quarantined
# after its third fault and usable again once lifted or replaced, stuck code
# is bounded by its deadline, and the supervisor's fds stay flat over 200
# plugin replacements.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage 4 "faults.sh OPHOSTD OPHOSTCTL PLUGIN_DIR TEST_PLUGIN_DIR" "$@"
ophostd=$1
ctl_bin=$2
src_plugins=$3
test_plugins=$4
unset JOURNAL_STREAM OPHOST_PLUGIN_DIR
# In a sanitizer build the crashes must stay crashes: AddressSanitizer would
# catch the SIGSEGV and turn it into a report and an abort() or exit(1).
export ASAN_OPTIONS="handle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

make_tmp ophost-faults
plugins=$tmp/plugins
pipelines=$tmp/pipelines.d
mkdir -p "$plugins" "$pipelines"
chmod 755 "$tmp" "$plugins"
for so in synthetic null print filter; do
    cp "$src_plugins/$so.so" "$plugins/"
done
cp "$test_plugins/hostile.so" "$plugins/"
export OPHOST_SOCKET=$tmp/sock
cat >"$tmp/ophostd.yaml" <<EOF
control-socket: $tmp/sock
operators:
  hostile-init: {fault: loop}
EOF
ctl() { "$ctl_bin" "$@"; }

# A session that must keep counting through everything below.
cat >"$pipelines/counter.yaml" <<EOF
counter:
  gadget: synthetic
  operators:
    synthetic: {rate: 200}
    print: {path: $tmp/counter.log}
EOF

# bad NAME FAULT IN: a session with hostile doing FAULT in IN.
bad() {
    cat >"$pipelines/$1.yaml" <<EOF
$1:
  gadget: synthetic
  autostart: false
  process-deadline: 1s
  callback-deadline: 2s
  operators:
    synthetic: {rate: 50}
    hostile: {fault: $2, in: $3}
EOF
}
bad segv segv process
bad abort abort process
bad exit exit process
bad stack stack process
bad inst segv instantiate
bad prestart segv pre_start
bad loop loop process
bad startloop loop start
bad stoploop loop stop
cat >"$pipelines/leak.yaml" <<EOF
leak:
  gadget: synthetic
  autostart: false
  memory-max: 64M
  operators:
    synthetic: {rate: 2000}
    hostile: {fault: leak, in: process}
EOF
cat >"$pipelines/initloop.yaml" <<EOF
initloop:
  gadget: synthetic
  autostart: false
  callback-deadline: 1s
  operators:
    hostile-init: {}
EOF
cat >"$pipelines/regex.yaml" <<EOF
regex:
  gadget: synthetic
  autostart: false
  memory-max: 64M
  operators:
    filter: {expr: "comm~((a{100}){100}){100}"}
EOF
cat >"$pipelines/again.yaml" <<EOF
again:
  gadget: synthetic
  autostart: false
  restart: on-failure
  restart-delay: 100ms
  operators:
    synthetic: {rate: 50}
    hostile: {fault: segv, in: process}
EOF
cat >"$pipelines/good.yaml" <<EOF
good:
  gadget: synthetic
  autostart: false
  operators:
    synthetic: {rate: 50}
    hostile: {fault: none}
    print: {path: $tmp/good.log}
EOF

start_daemon "$tmp/daemon.log" -c "$tmp/ophostd.yaml" -p "$plugins" -d "$pipelines"
wait_for 10 ctl list sessions >/dev/null 2>&1 || fail "the daemon does not answer"
pid=$daemon_pid

# counting: counter.log grows within 3 s and the daemon lives.
counting() {
    local n
    kill -0 "$pid" 2>/dev/null || fail "the daemon died ($1)"
    n=$(lines "$tmp/counter.log")
    wait_for 3 has_lines "$tmp/counter.log" $((n + 1)) || fail "counter stopped counting ($1)"
}

# state_is SESSION STATE: `ophostctl list sessions` says so.
state_is() { ctl list sessions | has -E "^$1 +[a-z_]+ +$2 "; }

# fails_with SESSION TEXT: start it; the session fails with TEXT, which the
# log and `ophostctl describe` show; the daemon and counter go on.
fails_with() {
    local name=$1 text=$2
    ctl start "$name" >"$tmp/out" 2>&1 || true
    wait_for 10 state_is "$name" failed || fail "$name did not fail: $(ctl list sessions)"
    log_has "session $name: failed: $text" || fail "the log lacks 'session $name: failed: $text'"
    ctl describe "$name" >"$tmp/out"
    grep -q -F "error:     $text" "$tmp/out" || fail "describe $name lacks '$text': $(cat "$tmp/out")"
    ctl list sessions >"$tmp/out"
    grep -q -F "$name failed: $text" "$tmp/out" || fail "list sessions lacks '$name failed: $text': $(cat "$tmp/out")"
    ctl --json list sessions >"$tmp/out"
    python3 - "$tmp/out" "$name" "$text" <<'EOF' || fail "list sessions --json lacks the error of $name"
import json, sys
sessions = json.load(open(sys.argv[1]))["sessions"]
s = [x for x in sessions if x["name"] == sys.argv[2]][0]
assert s["state"] == "failed" and sys.argv[3] in s["error"], s
EOF
    counting "after $name"
    # Faults add up toward quarantine: lift it for the next case.
    ctl unquarantine hostile.so >/dev/null 2>&1 || true
}

counting "at start"
ok "counter runs in its own worker ($(pgrep -c -P "$pid" -f 'ophostd --worker') workers)"

fails_with segv "operator 'hostile' (plugin hostile.so) crashed in process(): SIGSEGV"
fails_with abort "operator 'hostile' (plugin hostile.so) crashed in process(): SIGABRT"
fails_with exit "operator 'hostile' (plugin hostile.so) exited with status 3 in process()"
fails_with stack "operator 'hostile' (plugin hostile.so) crashed in process(): SIGSEGV"
fails_with inst "operator 'hostile' (plugin hostile.so) crashed in instantiate(): SIGSEGV"
fails_with prestart "operator 'hostile' (plugin hostile.so) crashed in pre_start(): SIGSEGV"
ok "SIGSEGV, abort(), exit(3), a stack overflow in process(), SIGSEGV in instantiate and pre_start: each fails its session, named; the daemon and counter go on"

fails_with loop "operator 'hostile' stuck in process() for 1s"
fails_with startloop "operator 'hostile' stuck in start() for 2s"
fails_with initloop "operator 'hostile-init' stuck in init() for 1s"
ok "endless loops in process(), start() and init() are killed past their deadline, named"

# init's fault is a global param: SIGSEGV from the next reload on.
sed -i 's/hostile-init: {fault: loop}/hostile-init: {fault: segv}/' "$tmp/ophostd.yaml"
ctl reload >/dev/null || fail "reload with a new global param failed"
fails_with initloop "operator 'hostile-init' (plugin hostile.so) crashed in init(): SIGSEGV"
ok "SIGSEGV in init() fails the session, named"

# A session stuck in stop(): ophostctl stop returns within the deadline + 1 s.
ctl start stoploop >/dev/null
t0=$(date +%s%N)
ctl stop stoploop >/dev/null || true
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$ms" -le 3000 ] || fail "ophostctl stop of a session stuck in stop() took $ms ms (deadline 2 s)"
log_has "session stoploop: failed: operator 'hostile' stuck in stop() for 2s" ||
    fail "the log lacks the stuck stop()"
counting "after stoploop"
ctl unquarantine hostile.so >/dev/null 2>&1 || true
ok "ophostctl stop of a session stuck in stop() returns in $ms ms (deadline 2 s)"

# (How the plugin dies of it differs under a sanitizer: the start of the
# reason is what matters.)
fails_with leak "memory limit 64M reached: operator 'hostile' (plugin hostile.so) "
fails_with regex "memory limit 64M reached: operator 'filter'"
ok "a 64 KiB leak per batch and a pathological regex fail their session with 'memory limit 64M reached'"

# Quarantine: again restarts after each crash; the third within 10 minutes
# quarantines hostile.so, and again stops restarting.
q=$(count "hostile.so: plugin quarantined" "$cur_log")
ctl start again >/dev/null 2>&1 || true
wait_for 10 log_count_above "hostile.so: plugin quarantined" "$cur_log" "$q" ||
    fail "hostile.so is not quarantined after three crashes"
ctl list plugins >"$tmp/out"
grep -Eq '^hostile +1 +quarantined ' "$tmp/out" || fail "list plugins: $(cat "$tmp/out")"
grep -q -F "$plugins/hostile.so quarantined: 3 faults within 10 minutes, the last: operator 'hostile' (plugin hostile.so) crashed in process(): SIGSEGV" "$tmp/out" ||
    fail "list plugins lacks the reason: $(cat "$tmp/out")"
n=$(count "session again: failed" "$cur_log")
sleep 1
[ "$(count "session again: failed" "$cur_log")" -eq "$n" ] || fail "again keeps restarting while quarantined"
state_is again failed || fail "again is not failed: $(ctl list sessions)"
ctl start good >"$tmp/out" 2>&1 && fail "good started with hostile.so quarantined"
grep -q -F "plugin hostile.so is quarantined" "$tmp/out" || fail "start good: $(cat "$tmp/out")"
ok "the third crash quarantines hostile.so: listed with the reason, again stops restarting, good refuses to start"

ctl unquarantine hostile.so >"$tmp/out" || fail "unquarantine: $(cat "$tmp/out")"
ctl stop again >/dev/null
ctl start good >/dev/null || fail "good does not start once the quarantine is lifted"
wait_for 3 has_lines "$tmp/good.log" 1 || fail "good prints nothing"
ctl stop good >/dev/null
counting "after the quarantine"
ok "ophostctl unquarantine makes hostile.so usable again"

# Quarantine again, then fix the file: a new file is a new plugin.
q=$(count "hostile.so: plugin quarantined" "$cur_log")
ctl start again >/dev/null 2>&1 || true
wait_for 10 log_count_above "hostile.so: plugin quarantined" "$cur_log" "$q" ||
    fail "not quarantined again"
ctl stop again >/dev/null
cp "$test_plugins/hostile.so" "$plugins/.hostile.so.tmp"
mv "$plugins/.hostile.so.tmp" "$plugins/hostile.so"
wait_for 5 eval 'ctl list plugins | has -E "^hostile +1 +loaded "' || fail "the replaced file is not loaded"
ctl start good >/dev/null || fail "good does not start with the fixed file"
ctl stop good >/dev/null
ok "replacing the file of a quarantined plugin makes it usable again"

# A scanner crash or hang refuses that file only.
cp "$test_plugins/crashentry.so" "$test_plugins/crashctor.so" "$test_plugins/hangentry.so" "$plugins/"
wait_for 10 log_has "$plugins/hangentry.so: entry function did not return within 5s" ||
    fail "hangentry.so not refused"
for want in "$plugins/crashentry.so: crashed in its entry function: SIGSEGV" \
    "$plugins/crashctor.so: crashed while loading: SIGSEGV"; do
    log_has "$want" || fail "the log lacks '$want'"
    ctl list plugins | has -F "refused: $want" || fail "list plugins lacks '$want'"
done
counting "after the scanner crashes"
rm "$plugins/crashentry.so" "$plugins/crashctor.so" "$plugins/hangentry.so"
ok "plugins crashing in their entry function or a constructor, or hanging in the entry, are refused alone"

# A truncated ELF (a half-finished copy) is refused; completing it loads it.
head -c 3000 "$src_plugins/null.so" >"$plugins/half.so"
chmod 644 "$plugins/half.so"
wait_for 10 eval "ctl list plugins | has -F '$plugins/half.so refused: '" ||
    fail "the truncated half.so is not refused: $(ctl list plugins)"
wait_for 5 log_has "warning: $plugins/half.so: " ||
    fail "the hot-plug refusal of half.so is not logged as a warning: $(grep half.so "$cur_log")"
counting "after a truncated ELF"
cp "$src_plugins/null.so" "$plugins/.half.so.tmp"
mv "$plugins/.half.so.tmp" "$plugins/half.so"
# half.so is null.so under another name: its operator name is taken.
wait_for 5 eval "ctl list plugins | has -F \"already provided by plugin 'null'\"" ||
    fail "the completed half.so was not probed again: $(ctl list plugins)"
rm "$plugins/half.so"
ok "a truncated ELF is refused with the reason (a warning in the log, a row in list plugins); the completed file is probed again"

# In-place overwrite and truncation of a plugin a running session uses: the
# session runs on its snapshot.
cat >"$pipelines/uses.yaml" <<EOF
uses:
  gadget: synthetic
  operators:
    synthetic: {rate: 200}
    hostile: {fault: none}
    print: {path: $tmp/uses.log}
EOF
ctl reload >/dev/null || fail "reload failed"
wait_for 5 state_is uses running || fail "uses does not run"
wait_for 3 has_lines "$tmp/uses.log" 1 || fail "uses prints nothing"
cat "$src_plugins/null.so" >"$plugins/hostile.so" # in place: same inode
n=$(lines "$tmp/uses.log")
wait_for 3 has_lines "$tmp/uses.log" $((n + 20)) || fail "uses stopped after an in-place overwrite"
truncate -s 100 "$plugins/hostile.so"
n=$(lines "$tmp/uses.log")
wait_for 3 has_lines "$tmp/uses.log" $((n + 20)) || fail "uses stopped after a truncation"
state_is uses running || fail "uses is not running"
counting "after overwrite and truncation"
ok "an in-place overwrite and a truncation of a loaded plugin leave its running session untouched"

# 200 replacements of a loaded plugin: the supervisor's fds stay flat.
cp "$test_plugins/hostile.so" "$plugins/.h.tmp" && mv "$plugins/.h.tmp" "$plugins/hostile.so"
wait_for 5 eval 'ctl list plugins | has -E "^hostile +1 +loaded "' || fail "hostile.so not back"
fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# loaded_version MTIME: within 5 s, hostile.so is loaded from the file of
# that mtime (no other plugin file has one so old).
loaded_version() {
    local tries=250
    while [ "$tries" -gt 0 ]; do
        ctl --json list plugins | tr -d ' \n' |
            grep -q -E "\"state\":\"loaded\",\"path\":\"[^\"]*/hostile.so\",\"inode\":[0-9]+,\"mtime_usec\":${1}000000}" &&
            return 0
        sleep 0.02
        tries=$((tries - 1))
    done
    return 1
}
before=$(fds)
for i in $(seq 200); do
    # A new file each time (a copy, then rename): a new identity to probe.
    cp "$test_plugins/hostile.so" "$plugins/.h.tmp"
    touch -d "@$((1700000000 + i))" "$plugins/.h.tmp"
    mv "$plugins/.h.tmp" "$plugins/hostile.so"
    loaded_version $((1700000000 + i)) || fail "replacement $i was not loaded"
done
after=$(fds)
[ "$after" -le "$before" ] || fail "the supervisor's fds grew from $before to $after over 200 replacements"
counting "after 200 replacements"
ok "200 replacements of a loaded plugin: supervisor fds $before -> $after"

# A SIGTERM that overtakes a worker's start: the supervisor is already
# stopping the session when the worker reports "running" with the schema,
# and the events still come. Held by SIGSTOP, the supervisor has the signal
# pending before the worker (one second in start()) reports; `run` must
# still get the schema and show the events.
ctl run synthetic -p rate=1000 --operator hostile:fault=slow,in=start \
    >"$tmp/run.out" 2>"$tmp/run.err" &
run_pid=$!
wait_for 10 grep -q "^ophostctl: running session" "$tmp/run.err" || fail "run did not start: $(cat "$tmp/run.err")"
kill -STOP "$pid"
kill -TERM "$pid"
sleep 1.5
kill -CONT "$pid"
wait_for 5 is_dead "$pid" || fail "the daemon did not exit within 5 s of SIGTERM"
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || fail "the daemon exited with status $status after SIGTERM"
rc=0
wait "$run_pid" || rc=$?
[ "$rc" = 0 ] || fail "run exited $rc: $(cat "$tmp/run.err")"
n=$(sed -n 's/^ophostctl: session stopped, \([0-9]*\) events$/\1/p' "$tmp/run.err")
[ "${n:-0}" -gt 0 ] && [ "$(lines "$tmp/run.out")" -gt 1 ] ||
    fail "run showed $(lines "$tmp/run.out") lines of ${n:-?} events: $(cat "$tmp/run.err")"
ok "SIGTERM stops every worker and the daemon exits 0; a run whose start it overtook shows its $n events"

#!/usr/bin/env bash
# ophostctl.sh OPHOSTD OPHOSTCTL PLUGIN_DIR — ophostctl end to end against the
# real daemon on a temporary control socket: list (table and --json),
# describe, stop/start, run with operators and a file sink, watch ended by
# SIGINT, stats, reload (accepted and rejected), the exit codes scripts rely
# on, a non-root user refused, and socket activation through
# systemd-socket-activate. Every wait is bounded.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: ophostctl.sh OPHOSTD OPHOSTCTL PLUGIN_DIR" >&2
    exit 2
fi
ophostd=$1
ctl=$2
plugins=$3
unset JOURNAL_STREAM OPHOST_PLUGIN_DIR LISTEN_FDS LISTEN_PID

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ophostctl-test.XXXXXX")
chmod 0755 "$tmp"
pids=()
n_ok=0
log=$tmp/daemon.log

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "---- daemon log ----"
    cat "$log" 2>/dev/null || true
    exit 1
}
ok() {
    n_ok=$((n_ok + 1))
    echo "ok $n_ok - $*"
}

# expect_rc WANT CMD...: runs CMD, output in $tmp/out and $tmp/err.
expect_rc() {
    local want=$1 rc=0
    shift
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "stdout:"; cat "$tmp/out"; echo "stderr:"; cat "$tmp/err"
        fail "'$*' exited $rc, expected $want"
    fi
}

mkdir -p "$tmp/pipelines.d"
export OPHOST_SOCKET=$tmp/run/ctl.sock
cat >"$tmp/ophostd.yaml" <<EOF
control-socket: $OPHOST_SOCKET
control-group: adm
EOF
cat >"$tmp/pipelines.d/demo.yaml" <<EOF
tick:
  gadget: synthetic
  operators:
    synthetic: {rate: 200, fields: "seq:u64,comm:string"}
    null: {}
idle:
  gadget: synthetic
  autostart: false
  operators:
    synthetic: {rate: 10}
EOF

"$ophostd" -c "$tmp/ophostd.yaml" -p "$plugins" -d "$tmp/pipelines.d" >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    "$ctl" list sessions >/dev/null 2>&1 && break
    sleep 0.05
done

# --- list
expect_rc 0 "$ctl" list sessions
head -1 "$tmp/out" | grep -qx 'SESSION  GADGET     STATE     UPTIME  EVENTS-IN  EVENTS-OUT  FILTERED  DROPPED  LOST' ||
    fail "list sessions header: $(head -1 "$tmp/out")"
grep -Eq '^idle +synthetic +inactive +- +0 +0 +0 +0 +0$' "$tmp/out" || fail "idle row: $(cat "$tmp/out")"
grep -Eq '^tick +synthetic +running +[0-9.]+s +[0-9]+ +[0-9]+ +0 +0 +0$' "$tmp/out" || fail "tick row"
ok "list sessions prints a table"

expect_rc 0 "$ctl" --json list sessions
grep -q '"name":"tick"' <(tr -d ' \n' <"$tmp/out") || fail "json list sessions: $(cat "$tmp/out")"
grep -q '"state":"running"' <(tr -d ' \n' <"$tmp/out") || fail "json state"
expect_rc 0 "$ctl" list sessions --json # the option after the command works too
grep -q '"sessions"' "$tmp/out" || fail "--json after the command"
ok "list sessions --json"

expect_rc 0 "$ctl" list operators
grep -Eq '^synthetic +gadget +synthetic +0 +count=0 rate=10 batch=256 fields=seq:u64,timestamp:timestamp,pid:u32,comm:string$' "$tmp/out" ||
    fail "operators row: $(grep synthetic "$tmp/out")"
expect_rc 0 "$ctl" list plugins
grep -Eq '^print +1\.0 +loaded +print +.*/print\.so$' "$tmp/out" || fail "plugins row"
ok "list operators and plugins"

# --- describe
expect_rc 0 "$ctl" describe tick
grep -qx 'state:     running' "$tmp/out" || fail "describe state"
grep -qx '  1. synthetic (plugin synthetic)' "$tmp/out" || fail "describe order 1"
grep -qx '       rate: 200' "$tmp/out" || fail "describe params"
grep -qx '  2. null (plugin null)' "$tmp/out" || fail "describe order 2"
grep -Eqx '  comm +string +synthetic' "$tmp/out" || fail "describe fields"
expect_rc 1 "$ctl" describe nosuch
grep -qx "ophostctl: no session named 'nosuch'" "$tmp/err" || fail "describe nosuch: $(cat "$tmp/err")"
ok "describe and its error"

# --- start / stop
expect_rc 0 "$ctl" start idle
grep -qx 'idle: running' "$tmp/out" || fail "start output: $(cat "$tmp/out")"
expect_rc 0 "$ctl" stop idle
grep -qx 'idle: inactive' "$tmp/out" || fail "stop output"
expect_rc 1 "$ctl" stop nosuch
ok "start and stop"

# --- run: an ad-hoc session with a file sink; events also reach us
expect_rc 0 "$ctl" run synthetic -p count=3 -p rate=0 --operator "synthetic:fields=seq:u64,comm:string" \
    --operator "print:path=$tmp/run.log"
printf '         SEQ COMM\n           1 comm-1\n           2 comm-2\n           3 comm-3\n' >"$tmp/want"
cmp -s "$tmp/want" "$tmp/out" || fail "run output: $(cat -A "$tmp/out")"
printf 'seq=1 comm="comm-1"\nseq=2 comm="comm-2"\nseq=3 comm="comm-3"\n' >"$tmp/want"
cmp -s "$tmp/want" "$tmp/run.log" || fail "print sink file: $(cat "$tmp/run.log")"
grep -q 'session stopped, 3 events' "$tmp/err" || fail "run end: $(cat "$tmp/err")"
expect_rc 0 "$ctl" --json run synthetic -p count=2 -p rate=0 -p fields=seq:u64
printf '{"seq":1}\n{"seq":2}\n' | cmp -s - "$tmp/out" || fail "run --json: $(cat "$tmp/out")"
expect_rc 0 "$ctl" run synthetic -p count=2 -p rate=0 -p fields=seq:u64 -o json
printf '{"seq":1}\n{"seq":2}\n' | cmp -s - "$tmp/out" || fail "run -o json: $(cat "$tmp/out")"
ok "run streams events as a table (piped: no colour, no redraw) and feeds operators"

if [ -f "$plugins/filter.so" ]; then
    expect_rc 0 "$ctl" run synthetic -p count=6 -p rate=0 -p fields=seq:u64 --filter 'seq >= 5' -o json
    printf '{"seq":5}\n{"seq":6}\n' | cmp -s - "$tmp/out" || fail "run --filter: $(cat "$tmp/out")"
    ok "run --filter"
fi

expect_rc 1 "$ctl" run synthetic --operator bogus
grep -q "unknown operator 'bogus'" "$tmp/err" || fail "run bogus: $(cat "$tmp/err")"
expect_rc 2 "$ctl" run synthetic -o bogus
grep -q "expected an output mode: columns, json, jsonpretty or yaml" "$tmp/err" || fail "run -o bogus: $(cat "$tmp/err")"
expect_rc 1 "$ctl" run synthetic -p fields=x:nope
grep -q "operator 'synthetic': instantiate failed" "$tmp/err" || fail "run failing: $(cat "$tmp/err")"
ok "run errors exit 1"

# --- watch until Ctrl-C (SIGINT): exit 0, consecutive seqs
rc=0
timeout --preserve-status -s INT 1 "$ctl" watch tick >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "watch ended by SIGINT exited $rc"
n=$(($(wc -l <"$tmp/out") - 1))
[ "$n" -ge 10 ] || fail "watch got only $n events"
head -1 "$tmp/out" | grep -Eqx ' +SEQ COMM' || fail "watch header: $(head -1 "$tmp/out")"
awk 'NR > 2 && $1 != prev + 1 { bad = 1 } NR > 1 { prev = $1 } END { exit bad }' "$tmp/out" ||
    fail "watch: gap in seq"
ok "watch prints consecutive events until SIGINT ($n events)"

# an ad-hoc run is gone once its client is interrupted
rc=0
timeout --preserve-status -s INT 0.5 "$ctl" run synthetic -n adhoc-x -p rate=50 >/dev/null 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "run ended by SIGINT exited $rc"
for _ in $(seq 100); do
    "$ctl" list sessions | grep adhoc-x >/dev/null || break
    sleep 0.05
done
"$ctl" list sessions | grep adhoc-x >/dev/null && fail "ad-hoc session outlived its client"
ok "Ctrl-C ends an ad-hoc run"

# --- stats
expect_rc 0 "$ctl" stats tick
grep -Eq '^tick \(running\): [0-9]+ events emitted, 0 lost' "$tmp/out" || fail "stats head: $(cat "$tmp/out")"
grep -Eq '^  null +[0-9]+ +[0-9]+ +0 +0 +[0-9]+ +[0-9.]+$' "$tmp/out" || fail "stats row: $(cat "$tmp/out")"
ok "stats"

# --- reload
expect_rc 0 "$ctl" reload
grep -qx reloaded "$tmp/out" || fail "reload output"
printf 'tick2:\n  gadget: synthetic\n  autostrat: yes\n' >"$tmp/pipelines.d/zz.yaml"
expect_rc 1 "$ctl" reload
grep -q "zz.yaml:3:3: .*'autostrat'" "$tmp/err" || fail "reload error: $(cat "$tmp/err")"
rm "$tmp/pipelines.d/zz.yaml"
expect_rc 0 "$ctl" reload
ok "reload accepted, rejected with the error lines, accepted"

# --- --json on the one-reply commands: the reply's parameters; an error
# reply is printed too, and explained on stderr
expect_rc 0 "$ctl" --json describe tick
grep -q '"name":"tick","gadget":"synthetic","state":"running"' <(tr -d ' \n' <"$tmp/out") ||
    fail "json describe: $(cat "$tmp/out")"
grep -q '"order":\[{"name":"synthetic","plugin":"synthetic"' <(tr -d ' \n' <"$tmp/out") ||
    fail "json describe order"
expect_rc 0 "$ctl" --json stats tick
grep -q '^{"sessions":\[{"name":"tick","state":"running"' <(tr -d ' \n' <"$tmp/out") ||
    fail "json stats: $(cat "$tmp/out")"
expect_rc 0 "$ctl" --json reload
[ "$(tr -d ' \n' <"$tmp/out")" = '{}' ] || fail "json reload: $(cat "$tmp/out")"
expect_rc 1 "$ctl" --json describe nosuch
grep -q '"error":"org.ophost.Manager.NoSuchSession"' <(tr -d ' \n' <"$tmp/out") ||
    fail "json error reply: $(cat "$tmp/out")"
grep -qx "ophostctl: no session named 'nosuch'" "$tmp/err" || fail "json error: $(cat "$tmp/err")"
ok "--json prints each reply"

# --- exit codes and help
expect_rc 2 "$ctl"
expect_rc 2 "$ctl" frobnicate
expect_rc 2 "$ctl" list things
expect_rc 2 "$ctl" run
expect_rc 3 "$ctl" --socket "$tmp/nowhere.sock" list sessions
grep -q "cannot connect to $tmp/nowhere.sock" "$tmp/err" || fail "connect error text"
for c in list describe start stop watch run stats reload; do
    expect_rc 0 "$ctl" "$c" --help
    grep -q "^Usage: ophostctl .*$c" "$tmp/out" || fail "$c --help"
done
ok "exit codes 2 (usage) and 3 (cannot connect); --help for every command"

# --- a non-root user: reads yes, changes no
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    [ "$(stat -c %a "$OPHOST_SOCKET")" = 666 ] || fail "socket mode $(stat -c %a "$OPHOST_SOCKET")"
    nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    # A copy nobody can run: the checkout may be in a directory only root
    # can enter (root's home, 0700).
    install -m 0755 "$ctl" "$tmp/ophostctl"
    expect_rc 0 "${nobody[@]}" "$tmp/ophostctl" list sessions
    expect_rc 1 "${nobody[@]}" "$tmp/ophostctl" stop tick
    grep -qx "ophostctl: permission denied: org.ophost.Manager.StopSession requires root or membership in group 'adm' (control-group in the daemon config)" "$tmp/err" ||
        fail "denied text: $(cat "$tmp/err")"
    adm=$(getent group adm | cut -d: -f3)
    expect_rc 0 setpriv --reuid=nobody --regid=nogroup --groups="$adm" "$tmp/ophostctl" start idle
    expect_rc 0 "$ctl" stop idle
    ok "nobody may read but not stop; a member of control-group may start"
else
    echo "ok - SKIP: not root or no setpriv, cannot test as another user"
fi

# --- the ends of a stream: a session that runs its course, a daemon that
# stops cleanly (0), a session that fails (1)
expect_rc 0 "$ctl" run synthetic -p count=3 -p rate=100
[ "$(wc -l <"$tmp/out")" = 4 ] || fail "run count=3 printed $(wc -l <"$tmp/out") lines"
grep -qx "ophostctl: session stopped, 3 events" "$tmp/err" || fail "run end: $(cat "$tmp/err")"
"$ctl" watch tick >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
"$ctl" run synthetic -p rate=20 >"$tmp/run.out" 2>"$tmp/run.err" &
run_pid=$!
for _ in $(seq 100); do
    grep -q running "$tmp/run.err" && grep -q watching "$tmp/watch.err" && break
    sleep 0.05
done
kill -TERM "${pids[0]}"
wait "${pids[0]}" || fail "daemon exited with $?"
rc=0
wait "$watch_pid" || rc=$?
[ "$rc" = 0 ] || fail "watch exited $rc when the daemon stopped: $(cat "$tmp/watch.err")"
grep -q "^ophostctl: session stopped, [0-9]* events$" "$tmp/watch.err" || fail "watch end: $(cat "$tmp/watch.err")"
rc=0
wait "$run_pid" || rc=$?
[ "$rc" = 0 ] || fail "run exited $rc when the daemon stopped: $(cat "$tmp/run.err")"
ok "run to its count, watch and run through a clean daemon stop: exit 0 with the end"
[ ! -e "$OPHOST_SOCKET" ] || fail "socket left behind after exit"
ok "daemon removes its socket on exit"

# --- socket activation
if command -v systemd-socket-activate >/dev/null; then
    act=$tmp/act.sock
    systemd-socket-activate -l "$act" "$ophostd" -c "$tmp/ophostd.yaml" -p "$plugins" \
        -d "$tmp/pipelines.d" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        [ -S "$act" ] && break
        sleep 0.05
    done
    expect_rc 0 "$ctl" --socket "$act" list sessions
    grep -q '^tick ' "$tmp/out" || fail "activated daemon answers"
    grep -q "control socket (from systemd) " "$log" || fail "did not use the passed socket"
    [ ! -e "$OPHOST_SOCKET" ] || fail "bound its own socket although one was passed"
    ok "socket activation"
else
    echo "ok - SKIP: systemd-socket-activate missing"
fi

echo "all $n_ok checks passed"

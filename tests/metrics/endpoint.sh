#!/usr/bin/env bash
# endpoint.sh OPHOSTD PLUGIN_DIR TEST_PLUGIN_DIR — the /metrics endpoint of
# the real ophostd: what it serves (the daemon's own metrics and each
# session's published metrics with a session label; the final values of a
# session that completed), HTTP details (404, 405, the content type), that
# `promtool check metrics` accepts it, that a scrape answers at once while
# a worker is stuck in plugin code and goes on serving after a worker
# crashed, that a text breaking the rules and a family with a conflicting
# type are left out and counted, reloads that move the endpoint or are
# rejected because the address is taken, and a daemon whose metrics-listen
# cannot be served exiting with 78 and the reason.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage 3 "endpoint.sh OPHOSTD PLUGIN_DIR TEST_PLUGIN_DIR" "$@"
ophostd=$1
src_plugins=$2
test_plugins=$3
unset JOURNAL_STREAM OPHOST_PLUGIN_DIR
export ASAN_OPTIONS="handle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
for tool in curl python3 ss; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
have_promtool=true
command -v promtool >/dev/null || have_promtool=false

make_tmp ophost-metrics
plugins=$tmp/plugins
pipelines=$tmp/pipelines.d
mkdir -p "$plugins" "$pipelines"
chmod 755 "$tmp" "$plugins"
for so in synthetic null metrics; do
    cp "$src_plugins/$so.so" "$plugins/"
done
cp "$test_plugins/hostile.so" "$test_plugins/publisher.so" "$plugins/"

port=$(free_port)

cat >"$tmp/ophostd.yaml" <<END_CONFIG
control-socket: $tmp/sock
plugin-dirs: [$plugins]
pipeline-dir: $pipelines
metrics-listen: 127.0.0.1:$port
END_CONFIG
cat >"$pipelines/sessions.yaml" <<'END_PIPELINES'
done:
  gadget: synthetic
  operators:
    synthetic: {count: 300, rate: 0, fields: 'seq:u64,comm:string'}
    metrics: {metrics: 'done_events_total = count(); done_seq_total = sum(seq)'}
crashy:
  gadget: synthetic
  duration: 1s
  operators:
    synthetic: {rate: 100}
    metrics: {metrics: 'crashy_events_total = count()', publish-interval: 100ms}
    hostile: {fault: segv, in: stop}
stuck:
  gadget: synthetic
  process-deadline: 4s
  operators:
    synthetic: {rate: 10}
    metrics: {metrics: 'stuck_events_total = count()'}
    hostile: {fault: loop, in: process}
bad:
  gadget: synthetic
  operators:
    synthetic: {rate: 1}
    publisher:
      text: |
        good_total 1
        bad_total{session="mine"} 1
typed:
  gadget: synthetic
  operators:
    synthetic: {rate: 1}
    publisher:
      text: |
        # TYPE done_events_total gauge
        done_events_total 5
        # HELP other_total From the conflict session.
        # TYPE other_total counter
        other_total{x="1"} 2
END_PIPELINES

scrape() {
    curl -sS --max-time 5 -o "$tmp/scrape" -D "$tmp/headers" "http://127.0.0.1:$1/metrics"
}
# value SERIES: the value on the line of the last scrape that starts with SERIES.
value() {
    awk -v s="$1" 'index($0, s " ") == 1 { print $NF; found = 1 } END { exit !found }' "$tmp/scrape"
}
has_value() { scrape "$port" && [ "$(value "$1")" = "$2" ]; }

start_daemon "$tmp/d1.log" --config "$tmp/ophostd.yaml"
wait_for 10 log_has "ready:" || fail "the daemon did not get ready"
wait_for 10 has_value 'done_seq_total{session="done"}' 45150 ||
    fail "done_seq_total{session=\"done\"} is not 45150 (1 + ... + 300): $(grep done_ "$tmp/scrape")"
[ "$(value 'done_events_total{session="done"}')" = 300 ] || fail "done_events_total is not 300"
[ "$(value 'ophost_session_events_emitted_total{session="done"}')" = 300 ] ||
    fail "ophost_session_events_emitted_total{session=\"done\"} is not 300"
[ "$(value 'ophost_session_state{session="done",state="inactive"}')" = 1 ] ||
    fail "the completed session is not inactive"
ok "a completed session's final values stay on /metrics: done_seq_total 45150, done_events_total 300, 300 events emitted"

grep -q -i -x -F $'content-type: text/plain; version=0.0.4; charset=utf-8\r' "$tmp/headers" ||
    fail "wrong content type: $(cat "$tmp/headers")"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")
[ "$code" = 404 ] || fail "GET /nope answered $code, not 404"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$port/metrics")
[ "$code" = 405 ] || fail "POST /metrics answered $code, not 405"
ok "content type text/plain; version=0.0.4; 404 for other paths, 405 for POST"

# The stuck session: its worker loops in process() until its 4 s deadline.
wait_for 10 log_has "session stuck: started" || fail "session stuck did not start"
sleep 1
start_ns=$(date +%s%N)
scrape "$port" || fail "no answer from /metrics while a worker is stuck"
ms=$((($(date +%s%N) - start_ns) / 1000000))
[ "$ms" -lt 1000 ] || fail "a scrape took $ms ms while a worker was stuck"
[ "$(value 'stuck_events_total{session="stuck"}')" = 0 ] ||
    fail "the stuck session's text (published at start) is not served: $(grep stuck_ "$tmp/scrape" || true)"
ok "a scrape answers in $ms ms while a worker is stuck in plugin code, with the text it published"
wait_for 10 log_has "session stuck: failed: operator 'hostile' stuck in process() for 4s" ||
    fail "the stuck worker was not ended by its deadline"

# The crashy session crashed in stop(), after publishing for a second.
wait_for 10 log_has "crashed in stop(): SIGSEGV" || fail "session crashy did not crash"
scrape "$port" || fail "no answer from /metrics after a worker crashed"
n=$(value 'crashy_events_total{session="crashy"}') || fail "crashy_events_total is gone after the crash"
[ "$n" -ge 50 ] || fail "crashy_events_total is $n after a second at 100 events/s"
[ "$(value 'ophost_session_state{session="crashy",state="failed"}')" = 1 ] ||
    fail "crashy is not failed"
[ "$(value 'done_seq_total{session="done"}')" = 45150 ] || fail "another session's values changed"
ok "after a worker crashed the endpoint serves its last published values ($n events) and state failed"

# Texts that break the rules, and families whose type conflicts.
wait_for 10 has_value 'ophost_session_metrics_errors{session="bad"}' 1 ||
    fail "the bad text is not counted in ophost_session_metrics_errors"
if grep -q '^good_total' "$tmp/scrape"; then
    fail "a refused text was served in part"
fi
log_has "session bad: metrics of plan step 1 refused: line 2: label 'session' is the daemon's (it adds the session's name), leaving them out of /metrics" ||
    fail "the refused text was not logged with its reason"
[ "$(value 'ophost_session_metrics_errors{session="typed"}')" = 1 ] ||
    fail "the conflicting family is not counted"
[ "$(value 'other_total{session="typed",x="1"}')" = 2 ] ||
    fail "the typed session's other family is not served"
[ "$(grep -c '^# TYPE done_events_total' "$tmp/scrape")" = 1 ] ||
    fail "a family has two TYPE lines"
log_has "session typed: 1 metric families left out of /metrics: another session has families of the same names with another type" ||
    fail "the conflict was not logged"
ok "a text that breaks the rules and a family of another type are left out, counted and logged"

if $have_promtool; then
    promtool check metrics <"$tmp/scrape" >"$tmp/promtool.out" 2>&1 ||
        fail "promtool check metrics: $(cat "$tmp/promtool.out")"
    ok "promtool check metrics accepts the exposition ($(grep -c -v '^#' "$tmp/scrape") samples)"
else
    echo "# promtool is not installed: exposition not checked by it"
fi

# Reloads: a new address moves the endpoint; a taken address is rejected.
scrape "$port" || fail "no scrape before the reload"
scrapes_before=$(value ophost_scrapes_total)
port2=$(free_port)
sed -i "s/^metrics-listen: .*/metrics-listen: 127.0.0.1:$port2/" "$tmp/ophostd.yaml"
kill -HUP "$daemon_pid"
wait_for 10 scrape "$port2" 2>/dev/null || fail "the endpoint did not move to port $port2"
old_port=$port
port=$port2
wait_for 10 has_value 'ophost_reloads_total{result="accepted"}' 1 || fail "the reload was not counted"
if curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$old_port/metrics" 2>/dev/null; then
    fail "the old port $old_port still answers after the reload"
fi
log_has "metrics: serving /metrics on 127.0.0.1:$port2" || fail "the move was not logged"
ok "a reload with another metrics-listen moves /metrics to it"
scrape "$port" || fail "no scrape after the reload"
[ "$(value ophost_scrapes_total)" -gt "$scrapes_before" ] ||
    fail "ophost_scrapes_total went from $scrapes_before to $(value ophost_scrapes_total) across the reload"
ok "ophost_scrapes_total keeps counting across a reload that moves /metrics"

# Four idle connections from one address are all it may hold; one more is
# refused, and once they are gone scrapes are answered again.
python3 -c 'import socket, sys, time
c = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(4)]
print("held", flush=True)
time.sleep(4)' "$port" >"$tmp/held" &
holder=$!
pids+=("$holder")
wait_for 5 grep -q held "$tmp/held" || fail "the connection holder did not start"
sleep 0.3
if curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$port/metrics" 2>/dev/null; then
    fail "a fifth connection from 127.0.0.1 was served"
fi
wait "$holder" 2>/dev/null || true
wait_for 5 scrape "$port" || fail "scrapes are not answered after the idle connections closed"
ok "at most 4 connections from one address; the others are served again when they close"

# The same port on another address is bound at the switch; when another
# process holds it by then, /metrics goes back to the old address.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.2", int(sys.argv[1]))); s.listen(1)
print("bound", flush=True); time.sleep(30)' "$port" >"$tmp/blocker2" &
blocker2=$!
pids+=("$blocker2")
wait_for 5 grep -q bound "$tmp/blocker2" || fail "the 127.0.0.2 blocker did not start"
sed -i "s/^metrics-listen: .*/metrics-listen: 0.0.0.0:$port/" "$tmp/ophostd.yaml"
kill -HUP "$daemon_pid"
wait_for 10 log_has "/metrics stays on 127.0.0.1:$port" ||
    fail "a failed rebind on the same port did not go back: $(tail -n 5 "$tmp/d1.log")"
scrape "$port" || fail "/metrics is off after a failed rebind"
kill "$blocker2" 2>/dev/null || true
sed -i "s/^metrics-listen: .*/metrics-listen: 127.0.0.1:$port/" "$tmp/ophostd.yaml"
ok "a rebind on the same port that fails keeps /metrics on the old address"

python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(60)' \
    >"$tmp/blocker.port" &
blocker=$!
pids+=("$blocker")
wait_for 5 test -s "$tmp/blocker.port" || fail "the port blocker did not start"
taken=$(cat "$tmp/blocker.port")
sed -i "s/^metrics-listen: .*/metrics-listen: 127.0.0.1:$taken/" "$tmp/ophostd.yaml"
kill -HUP "$daemon_pid"
wait_for 10 has_value 'ophost_reloads_total{result="rejected"}' 1 ||
    fail "a reload onto a taken port was not rejected"
log_has "metrics-listen: cannot listen on 127.0.0.1:$taken: Address already in use" ||
    fail "the rejected reload does not say why"
ok "a reload onto a taken address is rejected with the reason; /metrics stays on port $port2"

# A second daemon on the port the first one serves: exit 78 with the reason.
cat >"$tmp/second.yaml" <<END_CONFIG
control-socket: $tmp/sock2
plugin-dirs: [$plugins]
pipeline-dir: $pipelines
metrics-listen: 127.0.0.1:$port2
END_CONFIG
status=0
"$ophostd" --config "$tmp/second.yaml" 2>"$tmp/d2.log" >/dev/null || status=$?
[ "$status" = 78 ] || fail "a daemon whose metrics-listen is taken exited $status, not 78: $(cat "$tmp/d2.log")"
grep -q -F "metrics-listen: cannot listen on 127.0.0.1:$port2: Address already in use, exiting" "$tmp/d2.log" ||
    fail "no reason: $(cat "$tmp/d2.log")"
ok "a daemon that cannot serve metrics-listen exits 78: metrics-listen: cannot listen on ...: Address already in use"

kill "$blocker" 2>/dev/null || true
stop_daemon
ok "the daemon stops cleanly"
echo "$n_ok passed, 0 failed"

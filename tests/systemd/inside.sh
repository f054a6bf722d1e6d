#!/bin/bash
# inside.sh RESULTS — runs inside the container booted by nspawn.sh, as a
# oneshot unit after multi-user.target. Drives the installed ophostd.service
# with systemctl and checks what systemd and the journal show: the shipped
# pipelines start nothing, start only after READY=1 with the STATUS= text,
# reload (changed session restarted, unchanged not), a rejected reload
# failing `systemctl reload`, access for root, a control-group member and
# another user, the structured journal fields, every gadget in the sandbox,
# 1,000 sessions, a clean stop, `failed` when the control socket cannot be
# served, the watchdog restarting a hung main loop (test hook), /metrics
# refused without the metrics drop-in and served with it, and socket
# activation with the same access. Writes RESULTS/log, RESULTS/journal.txt and RESULTS/status
# ("pass" or the failure); the unit powers the container off afterwards.
#
# Environment (set by nspawn.sh): OPHOSTD, OPHOSTCTL, CONFDIR, PLUGINDIR,
# SOCKET_ACTIVATION (yes when ophostd calls sd_listen_fds). nspawn.sh binds
# tests/lib.sh beside it as in the tree; its fail is replaced below.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

results=${1:?usage: inside.sh RESULTS}
log=$results/log
: >"$log"
exec >>"$log" 2>&1
n_skip=0
logs=/var/log/ophost
pipelines=$CONFDIR/pipelines.d

finish() {
    journalctl -b --no-pager -o short-monotonic >"$results/journal.txt" 2>&1
    echo "$1" >"$results/status"
    exit 0
}

fail() {
    echo "FAIL: $*"
    echo "---- systemctl status ophostd ----"
    systemctl status --no-pager -n 30 ophostd 2>&1 | sed 's/^/    /'
    finish "$*"
}

skip_step() {
    n_skip=$((n_skip + 1))
    echo "ok - SKIP $*"
}

prop() { systemctl show -p "$1" --value ophostd; }
# journal of the unit since the cursor file $cursor was written.
ujournal() { journalctl -u ophostd --no-pager -o cat --after-cursor="$(cat "$cursor")" 2>/dev/null; }
ujournal_has() { ujournal | has -F -- "$1"; }
ujournal_count() { ujournal | grep -c -F -- "$1" || true; }
mark() { journalctl -n 0 --show-cursor --no-pager -q | sed -n 's/^-- cursor: //p' >"$cursor"; }
expect_journal() { wait_for 10 ujournal_has "$1" || fail "journal of ophostd lacks: $1"; }
grows() {
    local n
    n=$(lines "$1")
    wait_for 5 has_lines "$1" $((n + 1)) || fail "$2: $1 stopped growing at $n lines"
}

session_file() {
    cat >"$pipelines/$1.yaml" <<EOF
$1:
  gadget: synthetic
  operators:
    synthetic:
      rate: $2
      fields: "seq:u64,comm:string"
    print:
      path: $logs/$1.log
EOF
}

cursor=$(mktemp)
err=$(mktemp)
mark
echo "# ophostd at $OPHOSTD, ophostctl at $OPHOSTCTL, config $CONFDIR, plugins $PLUGINDIR"
systemctl --version | head -n 1
[ -x "$OPHOSTD" ] || fail "$OPHOSTD is not installed"
systemctl cat ophostd >/dev/null 2>&1 || fail "systemd does not know ophostd.service"

# ---- users: alice in control-group, bob not ----------------------------------
groupadd -r ophost-ctl || fail "groupadd"
useradd -M -s /bin/bash -G ophost-ctl alice || fail "useradd alice"
useradd -M -s /bin/bash bob || fail "useradd bob"
echo "control-group: ophost-ctl" >>"$CONFDIR/ophostd.yaml"

# as USER CMD...: runs ophostctl as USER (root for root).
as() {
    local u=$1
    shift
    if [ "$u" = root ]; then "$OPHOSTCTL" "$@"; else runuser -u "$u" -- "$OPHOSTCTL" "$@"; fi
}
# may USER CMD...: USER's ophostctl CMD succeeds.
may() {
    as "$@" >/dev/null 2>"$err" || fail "$SETUP: '$*' as $1 failed: $(cat "$err")"
}
# may_not USER CMD...: refused with the reason, exit status 1.
may_not() {
    local rc=0
    as "$@" >/dev/null 2>"$err" || rc=$?
    [ "$rc" = 1 ] || fail "$SETUP: '$*' as $1 exited $rc, expected a refusal: $(cat "$err")"
    grep -q -F "permission denied: " "$err" || fail "$SETUP: '$*' as $1: $(cat "$err")"
}
# access_checks: the one access model, whoever connects first.
access_checks() {
    local u n
    for u in root alice bob; do
        may "$u" list sessions
        may "$u" list plugins
        may "$u" describe alpha
        may "$u" stats alpha
        n=$(runuser -u "$u" -- timeout -s INT 2 "$OPHOSTCTL" watch alpha 2>/dev/null | wc -l)
        [ "$n" -ge 5 ] || fail "$SETUP: watch alpha as $u printed $n events"
    done
    for cmd in "stop beta" "start beta" "reload" "run synthetic -p count=1"; do
        # shellcheck disable=SC2086
        may_not bob $cmd
    done
    for u in alice root; do
        may "$u" stop beta
        may "$u" start beta
        may "$u" reload
        n=$(as "$u" run synthetic -p count=3 -p rate=100 -o json 2>/dev/null | wc -l)
        [ "$n" = 3 ] || fail "$SETUP: run as $u printed $n events"
    done
    ok "$SETUP: root, alice (control-group) and bob may list, describe, stats and watch; root and alice may stop, start, reload and run; bob is refused with the reason"
}

# ---- the shipped pipelines start nothing under the unit ------------------------
systemctl start ophostd || fail "systemctl start ophostd (shipped pipelines) exited $?"
[ "$(stat -c %a /run/ophost/ophostd.sock)" = 666 ] || fail "socket mode $(stat -c %a /run/ophost/ophostd.sock)"
"$OPHOSTCTL" list sessions >"$err" 2>&1 || fail "list sessions: $(cat "$err")"
grep -q '^demo ' "$err" || fail "the shipped demo session is not configured: $(cat "$err")"
if awk 'NR > 1 && $3 != "inactive"' "$err" | has .; then
    fail "a shipped session runs under the unit: $(cat "$err")"
fi
systemctl stop ophostd
ok "shipped pipelines: $(($(wc -l <"$err") - 1)) sessions configured, none started (demo writes to stdout = the journal)"
mark

# ---- the pipelines: two synthetic -> print sessions writing to /var/log/ophost
rm -f "$pipelines"/*.yaml
mkdir -p "$pipelines"
session_file alpha 50
session_file beta 50

# ---- start: active only after READY=1, STATUS= shown --------------------------
systemctl start ophostd || fail "systemctl start ophostd exited $?"
[ "$(prop ActiveState)/$(prop SubState)" = active/running ] ||
    fail "after start: $(prop ActiveState)/$(prop SubState)"
# systemctl start of a Type=notify unit returns at READY=1, which ophostd
# sends after both sessions started: their lines are already in the journal.
j=$(journalctl --no-pager -o cat --after-cursor="$(cat "$cursor")")
for want in "session alpha: started" "session beta: started" "ready: 2 sessions configured"; do
    grep -q -F "$want" <<<"$j" || fail "at READY the journal lacks '$want'"
done
started_at=$(grep -n -F "Started ophostd.service" <<<"$j" | head -n 1 | cut -d: -f1)
ready_at=$(grep -n -F "ready: 2 sessions configured" <<<"$j" | head -n 1 | cut -d: -f1)
[ -n "$started_at" ] && [ "$ready_at" -lt "$started_at" ] ||
    fail "systemd said Started (line ${started_at:-none}) before ophostd was ready (line $ready_at)"
status_text=$(prop StatusText)
[[ $status_text =~ ^[0-9]+\ plugins,\ 2\ sessions\ running,\ 0\ waiting,\ 0\ restarting,\ 0\ failed$ ]] ||
    fail "StatusText is '$status_text'"
systemctl status --no-pager ophostd | has -F "Status: \"$status_text\"" ||
    fail "systemctl status does not show the status text"
wait_for 10 has_lines "$logs/alpha.log" 3 || fail "no events in alpha.log"
[ "$(head -n 1 "$logs/alpha.log")" = 'seq=1 comm="comm-1"' ] || fail "alpha.log starts with $(head -n 1 "$logs/alpha.log")"
[ "$(stat -c %a "$logs/alpha.log")" = 640 ] || fail "alpha.log has mode $(stat -c %a "$logs/alpha.log") under UMask=0077, not 0640"
main_pid=$(prop MainPID)
ok "systemctl start: active (running) after READY=1 ('Started' follows 'ready'); status: \"$status_text\"; sink file mode 0640"

# ---- the structured journal fields ---------------------------------------------
n=$(journalctl --no-pager -o cat OPHOST_SESSION=alpha | grep -c -x -F "session alpha: started" || true)
[ "$n" -eq 1 ] || fail "journalctl OPHOST_SESSION=alpha finds $n 'started' entries"
v=$(journalctl --no-pager -o verbose OPHOST_SESSION=beta "MESSAGE=session beta: started")
for f in "PRIORITY=6" "OPHOST_SESSION=beta" "SYSLOG_IDENTIFIER=ophostd" "_SYSTEMD_UNIT=ophostd.service"; do
    grep -q -F "    $f" <<<"$v" || fail "the entry for beta's start lacks $f: $v"
done
if grep -q "OPHOST_OPERATOR=" <<<"$v"; then
    fail "an entry without an operator has an OPHOST_OPERATOR= field"
fi
ok "journalctl OPHOST_SESSION=alpha finds 'started'; PRIORITY=6, SYSLOG_IDENTIFIER=ophostd, no empty fields"

# ---- reload: the changed session restarts, the unchanged one does not ---------
mark
session_file beta 40
systemctl reload ophostd || fail "systemctl reload exited $?"
expect_journal "reloaded: 2 sessions configured"
expect_journal "session beta: changed, restarting"
wait_for 10 seq1_is "$logs/beta.log" 2 || fail "beta did not restart ($(count_seq1 "$logs/beta.log") x seq=1)"
seq1_is "$logs/alpha.log" 1 || fail "alpha restarted on reload ($(count_seq1 "$logs/alpha.log") x seq=1)"
wait_for 10 test "$(prop ActiveState)" = active || fail "after reload: $(prop ActiveState)/$(prop SubState)"
[ "$(prop MainPID)" = "$main_pid" ] || fail "the reload restarted the daemon"
if journalctl -u ophostd --no-pager -o cat | has -i "timed out"; then
    fail "a timeout in the journal: $(journalctl -u ophostd --no-pager -o cat | grep -i "timed out")"
fi
grows "$logs/alpha.log" "after reload"
grows "$logs/beta.log" "after reload"
ok "systemctl reload: beta (changed) restarted, alpha kept running, same main PID, no timeout"

# ---- a broken pipeline file: reload rejected, old sessions keep running -------
mark
cat >"$pipelines/beta.yaml" <<EOF
beta:
  gadget: synthetic
  operators:
    synthetic:
      rate: 50
      ratee: 3
EOF
if systemctl reload ophostd 2>"$err"; then
    fail "systemctl reload of a broken file succeeded"
fi
expect_journal "$pipelines/beta.yaml:6:7: session 'beta': operator 'synthetic': unknown param 'ratee' (did you mean 'rate'?)"
systemctl status --no-pager -n 20 ophostd >"$err" 2>&1
grep -q -F "beta.yaml:6:7: session 'beta'" "$err" || fail "systemctl status does not show the reload error: $(cat "$err")"
expect_journal "reload failed (1 errors), keeping the running configuration"
wait_for 10 test "$(prop ActiveState)" = active || fail "after a rejected reload: $(prop ActiveState)"
grows "$logs/alpha.log" "after a rejected reload"
grows "$logs/beta.log" "after a rejected reload"
seq1_is "$logs/alpha.log" 1 || fail "alpha restarted on a rejected reload"
seq1_is "$logs/beta.log" 2 || fail "beta restarted on a rejected reload"
status_text=$(prop StatusText)
[[ $status_text == *", last configuration rejected: 1 errors (see the log)" ]] ||
    fail "StatusText after a rejected reload: '$status_text'"
p=$(journalctl -u ophostd --no-pager -o verbose MESSAGE="reload failed (1 errors), keeping the running configuration" |
    grep -c -F "    PRIORITY=3" || true)
[ "$p" -ge 1 ] || fail "the reload error is not logged with PRIORITY=3"
ok "broken beta.yaml: systemctl reload fails, the error at beta.yaml:6:7 in systemctl status and journalctl -u ophostd (PRIORITY=3), sessions untouched, status says so"

# An operator error carries the operator and plugin fields.
mark
session_file beta 40
cat >"$pipelines/gamma.yaml" <<EOF
gamma:
  gadget: synthetic
  operators:
    print:
      path: /nonexistent/gamma.log
EOF
systemctl reload ophostd || fail "systemctl reload exited $?"
expect_journal "reloaded: 3 sessions configured"
v=$(journalctl --no-pager -o verbose OPHOST_SESSION=gamma OPHOST_OPERATOR=print PRIORITY=3)
grep -q -F "    OPHOST_PLUGIN=print.so" <<<"$v" || fail "no error entry for gamma/print with OPHOST_PLUGIN=print.so: $v"
grep -q -F "/nonexistent/gamma.log" <<<"$v" || fail "gamma's error does not name the path: $v"
status_text=$(prop StatusText)
[[ $status_text =~ ^[0-9]+\ plugins,\ 2\ sessions\ running,\ 0\ waiting,\ 0\ restarting,\ 1\ failed$ ]] ||
    fail "StatusText after a good reload (gamma failed): '$status_text'"
rm "$pipelines/gamma.yaml"
systemctl reload ophostd || fail "systemctl reload exited $?"
ok "gamma's failing print: journalctl OPHOST_SESSION=gamma OPHOST_OPERATOR=print PRIORITY=3 has OPHOST_PLUGIN=print.so"

SETUP="ophostd.service"
access_checks

# ---- 1,000 sessions: enough fds and tasks --------------------------------------
{
    for i in $(seq 1000); do
        printf 's%04d:\n  gadget: synthetic\n  operators:\n    synthetic: {rate: 1}\n    null: {}\n' "$i"
    done
} >"$pipelines/many.yaml"
systemctl reload ophostd || fail "systemctl reload (1,000 sessions) exited $?"
all_running() { [[ $(prop StatusText) == *" 1002 sessions running,"* ]]; }
wait_for 60 all_running || fail "1,000 sessions: StatusText '$(prop StatusText)'"
if ujournal | has -i "Too many open files\|Cannot allocate memory"; then
    fail "1,000 sessions: $(ujournal | grep -i -m 3 "Too many open files\|Cannot allocate memory")"
fi
ok "1,000 more sessions under the unit's limits: '$(prop StatusText)', $(ls /proc/"$(prop MainPID)"/fd | wc -l) fds in the supervisor"
rm "$pipelines/many.yaml"
systemctl reload ophostd || fail "systemctl reload (back to 2 sessions) exited $?"

# ---- the gadgets under the hardened unit ---------------------------------------
# Every kernel mechanism the gadgets use, through the unit's capability
# bounding set, system call filter, address families and mount namespace.
# nspawn.sh gave the container CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and the
# bpf, perf_event_open and fanotify calls.
mark
echo probe >/etc/ophost-probe
cat >"$pipelines/gadgets.yaml" <<EOF
execs:
  gadget: trace_exec
  operators:
    trace_exec: {mechanism: ebpf}
    uidgid: {}
    print: {path: $logs/execs.log}
execs-pc:
  gadget: trace_exec
  operators:
    trace_exec: {mechanism: proc-connector}
    print: {path: $logs/execs-pc.log}
opens-fs:
  gadget: trace_open
  operators:
    trace_open: {path: /etc, mark: filesystem, path-prefix: /etc/ophost-probe}
    print: {path: $logs/opens-fs.log}
opens-mount:
  gadget: trace_open
  operators:
    trace_open: {path: /etc, mark: mount, path-prefix: /etc/ophost-probe}
    print: {path: $logs/opens-mount.log}
snapshot:
  gadget: snapshot_process
  operators:
    procinfo: {}
    unit: {}
    print: {path: $logs/snapshot.log}
top:
  gadget: top_process
  operators:
    print: {path: $logs/top.log}
EOF
systemctl reload ophostd || fail "systemctl reload exited $?"
expect_journal "reloaded: 8 sessions configured"
# The proc connector reports pids of the initial pid namespace, which this
# container's /proc does not show: trace_exec refuses it here with a clear
# reason, failing only that session.
probe() {
    /bin/echo ophost-probe-exec >/dev/null
    cat /etc/ophost-probe >/dev/null
    grep -q -F 'args="/bin/echo ophost-probe-exec"' "$logs/execs.log" 2>/dev/null &&
        grep -q -F 'comm="cat" path="/etc/ophost-probe"' "$logs/opens-fs.log" 2>/dev/null
}
if ! wait_for 10 probe; then
    ujournal | grep -E "session (execs|execs-pc|opens-fs)" | sed 's/^/    /'
    for f in execs execs-pc opens-fs; do
        echo "    $f.log: $(lines "$logs/$f.log") lines, probe: $(grep -c -e ophost-probe "$logs/$f.log")"
    done
    fail "a gadget under ophostd.service missed the probe exec/open (see above)"
fi
e=$(grep -m 1 -F ophost-probe-exec "$logs/execs.log")
wait_for 5 has_lines "$logs/snapshot.log" 5 || fail "snapshot_process reported $(lines "$logs/snapshot.log") processes"
sd=$(grep -m 1 -F 'comm="ophostd"' "$logs/snapshot.log")
grep -q -F 'unit="ophostd.service"' <<<"$sd" || fail "snapshot + unit: ophostd's line lacks unit=\"ophostd.service\": $sd"
grep -q -F 'proc.exe="'"$OPHOSTD"'"' <<<"$sd" || fail "snapshot + procinfo: ophostd's line lacks proc.exe: $sd"
wait_for 5 has_lines "$logs/top.log" 5 || fail "top_process reported $(lines "$logs/top.log") lines"
expect_journal "the proc connector serves only processes in the initial user and PID namespaces"
if ujournal | grep -E "session (execs|opens-fs|opens-mount|snapshot|top)(,|:).*(failed|denied|not permitted)"; then
    fail "a gadget session failed under the unit's sandbox"
fi
if [ "$(lines "$logs/opens-mount.log")" -ne 0 ]; then
    opens_mount="sees opens from outside the unit too"
else
    opens_mount="sees no opens from outside the unit's mount namespace (use mark: filesystem)"
fi
ok "gadgets in the sandbox: trace_exec (ebpf; proc-connector refused in a pid namespace) + uidgid, trace_open mark=filesystem, snapshot_process + procinfo/unit, top_process; trace_open mark=mount $opens_mount"
echo "# execs.log: $e"
echo "# snapshot.log: $sd"
rm "$pipelines/gadgets.yaml"
systemctl reload ophostd || fail "systemctl reload exited $?"

# ---- stray signals: ignored without the test hooks ----------------------------
pid1=$(prop MainPID)
systemctl kill -s USR2 --kill-who=main ophostd
systemctl kill -s USR1 --kill-who=main ophostd
sleep 1
[ "$(prop MainPID)" = "$pid1" ] && [ "$(prop ActiveState)" = active ] ||
    fail "a stray SIGUSR1/SIGUSR2 killed the daemon: $(prop ActiveState), MainPID $pid1 -> $(prop MainPID)"
"$OPHOSTCTL" list sessions >/dev/null || fail "no answer after SIGUSR1/SIGUSR2"
ok "stray SIGUSR1 and SIGUSR2: ignored (same PID, still answering)"

# ---- stop: clean exit, not failed -------------------------------------------
mark
systemctl stop ophostd || fail "systemctl stop exited $?"
[ "$(prop ActiveState)" = inactive ] || fail "after stop: $(prop ActiveState) (Result=$(prop Result))"
[ "$(prop Result)" = success ] || fail "after stop: Result=$(prop Result)"
[ "$(prop ExecMainStatus)" = 0 ] || fail "ophostd exited with status $(prop ExecMainStatus)"
expect_journal "received Terminated, stopping"
expect_journal "session alpha: stopped"
ok "systemctl stop: inactive, Result=success, exit status 0, sessions stopped"

# ---- a control socket that cannot be served: failed, not headless ---------------
mark
rm -f /run/ophost/ophostd.sock
: >/run/ophost/ophostd.sock
if systemctl start ophostd 2>/dev/null; then
    fail "ophostd started although its control socket path is a regular file"
fi
[ "$(prop ActiveState)" = failed ] || fail "control socket unusable: $(prop ActiveState)/$(prop SubState)"
[ "$(prop ExecMainStatus)" = 78 ] || fail "control socket unusable: exit status $(prop ExecMainStatus)"
expect_journal "/run/ophost/ophostd.sock exists and is not a socket"
systemctl status --no-pager ophostd >"$err" 2>&1
grep -q "Active: failed" "$err" || fail "systemctl status: $(cat "$err")"
rm /run/ophost/ophostd.sock
systemctl reset-failed ophostd
ok "control socket path taken: systemctl start fails, 'Active: failed', status 78, the reason in the journal, no restart loop"

# ---- watchdog: a hung main loop gets the daemon restarted ----------------------
mkdir -p /run/systemd/system/ophostd.service.d
cat >/run/systemd/system/ophostd.service.d/test-watchdog.conf <<EOF
[Service]
Environment=OPHOST_TEST_HOOKS=1
WatchdogSec=3s
RestartSec=1s
EOF
systemctl daemon-reload
mark
systemctl start ophostd || fail "systemctl start (watchdog drop-in) exited $?"
[ "$(prop WatchdogUSec)" = 3s ] || fail "WatchdogUSec=$(prop WatchdogUSec)"
pid1=$(prop MainPID)
restarts=$(prop NRestarts)
# With pings at 1.5 s the daemon outlives three watchdog intervals.
sleep 9
[ "$(prop MainPID)" = "$pid1" ] && [ "$(prop NRestarts)" = "$restarts" ] ||
    fail "the watchdog killed a healthy daemon (MainPID $pid1 -> $(prop MainPID))"
ok "WatchdogSec=3s: the daemon pings (same PID after 9 s)"

systemctl kill -s USR2 --kill-who=main ophostd
expect_journal "test hook: SIGUSR2, stalling the main loop for 120 s"
restarted() { [ "$(prop NRestarts)" -gt "$restarts" ] && [ "$(prop ActiveState)" = active ]; }
wait_for 20 restarted || fail "no restart 20 s after the stall (NRestarts=$(prop NRestarts), $(prop ActiveState))"
[ "$(prop MainPID)" != "$pid1" ] || fail "same main PID after the watchdog restart"
journalctl -u ophostd --no-pager -o cat --after-cursor="$(cat "$cursor")" | has -F "Watchdog timeout" ||
    fail "no 'Watchdog timeout' in the journal"
wait_for 10 has_lines "$logs/alpha.log" 1 || fail "alpha did not come back after the restart"
ok "SIGUSR2 stall (OPHOST_TEST_HOOKS=1): 'Watchdog timeout', NRestarts $restarts -> $(prop NRestarts), new PID"
systemctl stop ophostd
rm -r /run/systemd/system/ophostd.service.d
systemctl daemon-reload
systemctl reset-failed ophostd 2>/dev/null || true

# ---- /metrics: the shipped unit has no Internet sockets; the drop-in adds them -
# http_get PORT PATH: an HTTP/1.0 GET on loopback, the whole reply.
http_get() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0],
                                      Proto => "tcp") or die "connect: $!\n";
        print $s "GET $ARGV[1] HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        local $/;
        my $r = <$s>;
        defined $r or die "no reply\n";
        print $r;' "$1" "$2"
}
metrics_port=$((20000 + RANDOM % 20000))
cp "$CONFDIR/ophostd.yaml" "$err.conf"
printf 'metrics-listen: 127.0.0.1:%s\n' "$metrics_port" >>"$CONFDIR/ophostd.yaml"
mark
if systemctl start ophostd 2>/dev/null; then
    fail "ophostd started with metrics-listen under the unit without Internet sockets"
fi
[ "$(prop ExecMainStatus)" = 78 ] || fail "exit status $(prop ExecMainStatus) with metrics-listen, not 78"
expect_journal "metrics-listen: cannot create an IPv4 socket for 127.0.0.1:$metrics_port: Address family not supported by protocol"
systemctl reset-failed ophostd
ok "metrics-listen under the shipped unit: exit 78, 'cannot create an IPv4 socket ... (allow AF_INET ...)' in the journal"
dropin=$(find /usr /opt -path '*/ophost/systemd/ophostd-metrics.conf' -type f 2>/dev/null | head -n 1)
[ -n "$dropin" ] || fail "the metrics drop-in ophostd-metrics.conf is not installed"
mkdir -p /etc/systemd/system/ophostd.service.d
cp "$dropin" /etc/systemd/system/ophostd.service.d/metrics.conf
systemctl daemon-reload
systemctl start ophostd || fail "systemctl start with the metrics drop-in exited $?"
alpha_running() {
    http_get "$metrics_port" /metrics >"$err.metrics" 2>&1 &&
        grep -q -x -F $'ophost_session_state{session="alpha",state="running"} 1' "$err.metrics"
}
wait_for 10 alpha_running || fail "no /metrics with alpha running: $(head -c 2000 "$err.metrics")"
grep -q '^ophost_build_info{version=' "$err.metrics" || fail "/metrics lacks ophost_build_info"
grep -q -F 'Content-Type: text/plain; version=0.0.4' "$err.metrics" || fail "/metrics: wrong content type"
ok "with $dropin as a drop-in: /metrics on 127.0.0.1:$metrics_port under the unit (alpha running)"
systemctl stop ophostd
rm /etc/systemd/system/ophostd.service.d/metrics.conf
rmdir /etc/systemd/system/ophostd.service.d
cp "$err.conf" "$CONFDIR/ophostd.yaml"
systemctl daemon-reload

# ---- socket activation -------------------------------------------------------
# varlink call CALL: sends {"method": CALL} on the control socket, prints the reply.
varlink() {
    perl -MIO::Socket::UNIX -e '
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => "/run/ophost/ophostd.sock")
            or die "connect: $!\n";
        print $s "{\"method\":\"$ARGV[0]\"}\0";
        local $/ = "\0";
        my $r = <$s>;
        defined $r or die "no reply\n";
        chop $r;
        print "$r\n";' "$1"
}
if [ "$SOCKET_ACTIVATION" != yes ]; then
    skip_step "socket activation: ophostd does not take sockets from systemd (no sd_listen_fds)"
else
    systemctl start ophostd.socket || fail "systemctl start ophostd.socket exited $?"
    [ "$(prop ActiveState)" = inactive ] || fail "ophostd started with its socket alone"
    [ -S /run/ophost/ophostd.sock ] || fail "no socket at /run/ophost/ophostd.sock"
    mode=$(stat -c %a /run/ophost/ophostd.sock)
    [ "$mode" = 666 ] || fail "the socket has mode $mode"
    reply=$(varlink org.ophost.Manager.ListSessions) || fail "ListSessions through the socket failed: $reply"
    grep -q '"alpha"' <<<"$reply" || fail "ListSessions reply lacks alpha: $reply"
    [ "$(prop ActiveState)" = active ] || fail "the connection did not start ophostd: $(prop ActiveState)"
    systemctl stop ophostd
    [ -S /run/ophost/ophostd.sock ] || fail "stopping ophostd removed the socket of ophostd.socket"
    reply=$(varlink org.ophost.Manager.ListSessions) || fail "ListSessions after a stop failed: $reply"
    grep -q '"beta"' <<<"$reply" || fail "ListSessions reply lacks beta: $reply"
    [ "$(prop ActiveState)" = active ] || fail "the second connection did not start ophostd"
    SETUP="ophostd.socket"
    access_checks
    systemctl stop ophostd.socket ophostd
    ok "ophostd.socket: socket 0666, the first ListSessions starts ophostd, again after a stop"
fi

echo "$n_ok passed, 0 failed, $n_skip skipped"
finish pass

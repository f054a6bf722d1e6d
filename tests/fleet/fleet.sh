#!/usr/bin/env bash
# fleet.sh BUILDDIR OPHOSTCTL — ophost on a fleet of three machines, as
# README "Metrics" (Scraping a fleet), "Events from many hosts: journald" and
# "One ophostctl for many nodes" tell it. Three Debian 12 nodes boot with
# systemd-nspawn (the root of tests/lib-nspawn.sh, one overlay each, this
# build installed) on the host's network, so each serves on loopback ports
# of its own: the installed ophostd.service (enabled, with the metrics
# drop-in and metrics-listen), sshd, and systemd-journal-upload. Each node
# runs session `fleet` (synthetic -> metrics + journal sink; 100, 200 and
# 300 events) and session `beat` (runs until stopped).
#
# On the host: one Prometheus scrapes the three nodes (file_sd_configs with
# a node label, as in README) and the exact per-node values are read back
# through its query API; one systemd-journal-remote receives the three
# uploads and the README's journalctl queries find every event of each node;
# the build's ophostctl reaches the nodes with -H ssh://root@127.0.0.1:PORT
# through sshd (NODE column, merged `run`, a node whose sshd is stopped).
#
# Skips (77, with the reason) when not root, without systemd-nspawn,
# prometheus, systemd-journal-remote or ssh, for a sanitizer build, or when
# the container root must be built and the Debian mirror cannot be reached.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=../lib-prometheus.sh
. "$(dirname "$0")/../lib-prometheus.sh"

usage 2 "fleet.sh BUILDDIR OPHOSTCTL" "$@"
builddir=$(cd "$1" && pwd)
host_ctl=$(realpath "$2")
unset JOURNAL_STREAM OPHOST_PLUGIN_DIR OPHOST_SOCKET
started=$(date +%s)
nodes=3
counts=(100 200 300) # events of session fleet on node 1, 2, 3

skip() {
    echo "SKIP: $*"
    exit 77
}
# shellcheck source-path=SCRIPTDIR source=../lib-nspawn.sh
. "$(dirname "$0")/../lib-nspawn.sh"

nspawn_check "$builddir"
for tool in prometheus curl python3 jq ssh ssh-keygen ss journalctl; do
    command -v "$tool" >/dev/null ||
        skip "$tool is not installed (Debian: prometheus, curl, python3, jq, openssh-client, iproute2, systemd)"
done
remote_bin=/lib/systemd/systemd-journal-remote
[ -x "$remote_bin" ] || skip "$remote_bin is missing (Debian: systemd-journal-remote)"
nspawn_root "$builddir"

make_tmp ophost-fleet
chmod 755 "$tmp"

# ---- node state, cleanup on every exit path ------------------------------------
names=()  # machine name = host name of node i
ids=()    # machine id
roots=()  # the overlay root
npids=()  # the systemd-nspawn process
mports=() # metrics-listen port
sports=() # sshd port
for i in $(seq 0 $((nodes - 1))); do
    names[i]=ophost-fleet-$$-$((i + 1))
    ids[i]=$(tr -d '-' </proc/sys/kernel/random/uuid)
    roots[i]=$tmp/node$((i + 1))/root
    npids[i]=
done

# $tmp/nodes: "PID ROOT CGROUP" per node (PID 0 until it boots), for
# nspawn_teardown here and for the watcher that tears down after a kill.
fleet_cleanup() {
    nspawn_teardown "$tmp/nodes"
    cleanup # lib.sh: Prometheus, journal-remote, $tmp
}
trap fleet_cleanup EXIT
: >"$tmp/nodes"
nspawn_reaper "$tmp/nodes" "$tmp"

# node_journal I: the last lines of node I's journal (its persistent
# journal, read on the host from the node's root), and its failed units.
node_journal() {
    local leader
    echo "---- journal of node $(($1 + 1)) (${names[$1]}), last 40 lines ----"
    journalctl --root="${roots[$1]}" --no-pager -n 40 -o short-monotonic 2>&1 || true
    leader=$(pgrep -P "${npids[$1]}" | head -n 1 || true)
    if [ -n "$leader" ]; then
        echo "---- failed units of node $(($1 + 1)) ----"
        nsenter -t "$leader" -m -u -i -p -- systemctl --failed --no-pager --plain 2>&1 || true
    else
        echo "---- node $(($1 + 1)) is not running; its console: ----"
        tail -n 30 "$tmp/node$(($1 + 1))/console.log" 2>/dev/null || true
    fi
    echo "---- end of node $(($1 + 1)) ----"
}
# node_fail I TEXT: fails with TEXT after node I's journal.
node_fail() {
    node_journal "$1"
    fail "${names[$1]}: $2"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, one per line.
free_ports() {
    python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
mapfile -t ports < <(free_ports $((2 * nodes + 2)))
for i in $(seq 0 $((nodes - 1))); do
    mports[i]=${ports[i]}
    sports[i]=${ports[nodes + i]}
done
prom_port=${ports[2 * nodes]}
remote_port=${ports[2 * nodes + 1]}

# ---- the receiver: one systemd-journal-remote on loopback ----------------------
# As journal-remote.sh: plain HTTP, --output a directory (trailing slash),
# one file per sending host address (all nodes send from 127.0.0.1).
central=$tmp/remote
mkdir -p "$central"
"$remote_bin" --listen-http="127.0.0.1:$remote_port" --output="$central/" --split-mode=host \
    >"$tmp/remote.log" 2>&1 &
remote_pid=$!
pids+=("$remote_pid")
listening() { ss -ltn | has -F "127.0.0.1:$1 "; }
wait_for 10 listening "$remote_port" || fail "systemd-journal-remote does not listen: $(cat "$tmp/remote.log")"

# ---- the nodes --------------------------------------------------------------
nspawn_stage "$builddir" "$tmp/stage"
ssh-keygen -q -t ed25519 -N '' -C ophost-fleet-test -f "$tmp/id_ed25519"
cat >"$tmp/ssh_config" <<END_SSH
Host *
    IdentityFile $tmp/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $tmp/known_hosts
    StrictHostKeyChecking accept-new
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
END_SSH
export OPHOST_SSH="ssh -F $tmp/ssh_config"

for i in $(seq 0 $((nodes - 1))); do
    d=$tmp/node$((i + 1))
    r=${roots[i]}
    mkdir -p "$d/upper" "$d/work" "$r"
    echo "0 $r ${names[i]}" >>"$tmp/nodes"
    mount -t overlay overlay -o "lowerdir=$nspawn_cache,upperdir=$d/upper,workdir=$d/work" "$r"
    nspawn_install "$tmp/stage" "$r"
    echo "${names[i]}" >"$r/etc/hostname"
    echo "${ids[i]}" >"$r/etc/machine-id"

    # ophostd: /metrics on a port of its own, allowed by the shipped drop-in;
    # the default control socket /run/ophost/ophostd.sock (each node has its
    # own /run), reached through sshd and `ophostctl bridge`.
    printf 'metrics-listen: 127.0.0.1:%s\n' "${mports[i]}" >>"$r$inst_confdir/ophostd.yaml"
    cat >"$r$inst_confdir/pipelines.d/fleet.yaml" <<END_PIPELINE
fleet:
  gadget: synthetic
  operators:
    synthetic: {count: ${counts[i]}, rate: 0, fields: 'seq:u64,comm:string,pid:u32'}
    metrics:
      metrics: >-
        fleet_events_total = count() help "Events of session fleet";
        fleet_seq_total = sum(seq)
    journal: {message: 'fleet event {seq} of {comm}'}
beat:
  gadget: synthetic
  operators:
    synthetic: {rate: 5}
    null: {}
END_PIPELINE
    mkdir -p "$r/etc/systemd/system/ophostd.service.d"
    cp "$r$inst_metrics_dropin" "$r/etc/systemd/system/ophostd.service.d/metrics.conf"

    # sshd: loopback, a port of its own, root by the test's key only, a host
    # key of its own.
    rm -f "$r"/etc/ssh/ssh_host_*
    ssh-keygen -q -t ed25519 -N '' -C "${names[i]}" -f "$r/etc/ssh/ssh_host_ed25519_key"
    cat >"$r/etc/ssh/sshd_config.d/fleet.conf" <<END_SSHD
Port ${sports[i]}
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
END_SSHD
    install -d -m 700 "$r/root/.ssh"
    install -m 600 "$tmp/id_ed25519.pub" "$r/root/.ssh/authorized_keys"

    # systemd-journal-upload: the whole journal to the receiver, followed.
    printf '[Upload]\nURL=http://127.0.0.1:%s\n' "$remote_port" >"$r/etc/systemd/journal-upload.conf"

    systemctl --root="$r" --quiet enable ophostd.service ssh.service systemd-journal-upload.service

    # A session of its own (setsid; not a group leader, so no fork): see
    # nspawn_reaper.
    (
        nspawn_cgroup_enter "${names[i]}"
        exec setsid systemd-nspawn -D "$r" --machine="${names[i]}" --register=no --keep-unit -b --console=pipe
    ) </dev/null >"$d/console.log" 2>&1 &
    npids[i]=$!
    echo "${npids[i]} $r ${names[i]}" >>"$tmp/nodes"
done
echo "# booted ${names[*]} (ophostd $inst_ophostd, config $inst_confdir; metrics ports ${mports[*]}, sshd ports ${sports[*]})"

# node_ssh I CMD...: runs CMD on node I as root through its sshd.
node_ssh() {
    local i=$1
    shift
    $OPHOST_SSH -p "${sports[i]}" root@127.0.0.1 "$@"
}
node_up() { kill -0 "${npids[$1]}" 2>/dev/null && node_ssh "$1" true 2>/dev/null; }
for i in $(seq 0 $((nodes - 1))); do
    wait_for 90 node_up "$i" ||
        node_fail "$i" "ssh -F ssh_config -p ${sports[i]} root@127.0.0.1 true: no answer 90 s after boot (expected sshd with the test key)"
done
ok "ssh -F ssh_config -p PORT root@127.0.0.1 true: all $nodes nodes answer (sshd ports ${sports[*]}, the test's key, host keys accepted)"

# units_active I: ophostd and the uploader are active on node I ($st: both states).
units_active() {
    st=$(node_ssh "$1" systemctl is-active ophostd.service systemd-journal-upload.service | tr '\n' ' ') || true
    [ "$st" = "active active " ]
}
for i in $(seq 0 $((nodes - 1))); do
    h=$(node_ssh "$i" hostname) || node_fail "$i" "hostname over ssh failed"
    [ "$h" = "${names[i]}" ] || node_fail "$i" "host name over ssh is '$h', expected ${names[i]} (does port ${sports[i]} reach another node?)"
    m=$(node_ssh "$i" cat /etc/machine-id)
    [ "$m" = "${ids[i]}" ] || node_fail "$i" "machine id is '$m', expected ${ids[i]}"
    wait_for 10 units_active "$i" ||
        node_fail "$i" "ophostd.service and systemd-journal-upload.service are '$st', expected 'active active'"
    sessions=$(node_ssh "$i" "$inst_ophostctl" list sessions) || node_fail "$i" "ophostctl list sessions on the node failed"
    grep -q '^beat .* running ' <<<"$sessions" || node_fail "$i" "session beat is not running: $sessions"
done
ok "each node: its own host name and machine id, ophostd.service and systemd-journal-upload.service active, session beat running"

# ---- Prometheus: one scrape config for the fleet --------------------------------
# README "Scraping a fleet": file_sd_configs, one target per node with a
# node label (its host name, as _HOSTNAME in the journal).
{
    for i in $(seq 0 $((nodes - 1))); do
        printf -- "- targets: ['127.0.0.1:%s']\n  labels: {node: %s}\n" "${mports[i]}" "${names[i]}"
    done
} >"$tmp/ophost-nodes.yml"
cat >"$tmp/prometheus.yml" <<END_PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ophost
    file_sd_configs:
      - files: ['$tmp/ophost-nodes.yml']
END_PROM
prom_start "$tmp/prometheus.yml" "$prom_port"

# per_node FORMAT VALUE...: the expected lines, FORMAT with %s for the node
# name and then its value (the i-th VALUE, or the only one for every node),
# sorted as query sorts them.
per_node() {
    local fmt=$1 i
    shift
    local vals=("$@")
    for i in $(seq 0 $((nodes - 1))); do
        # shellcheck disable=SC2059
        printf "$fmt\n" "${names[i]}" "${vals[i]:-${vals[0]}}"
    done | LC_ALL=C sort
}
want_up=$(per_node "__name__=up,node=%s %s" 1)
scraped() { [ "$(prom_query 'up{job="ophost"}')" = "$want_up" ]; }
wait_for 30 scraped || fail "Prometheus does not scrape the $nodes nodes: expected
$want_up
got
$(prom_query 'up')"
want_total=$(per_node "__name__=fleet_events_total,node=%s,session=fleet %s" "${counts[@]}")
complete() { [ "$(prom_query fleet_events_total)" = "$want_total" ]; }
wait_for 30 complete || true
ok "Prometheus scrapes 127.0.0.1:${mports[0]}, :${mports[1]}, :${mports[2]} from one file_sd target file (up 1 each)"

prom_expect 'fleet_events_total' "$want_total"
prom_expect 'fleet_seq_total' "$(per_node "__name__=fleet_seq_total,node=%s,session=fleet %s" 5050 20100 45150)"
prom_expect 'ophost_session_events_emitted_total{session="fleet"}' \
    "$(per_node "__name__=ophost_session_events_emitted_total,node=%s,session=fleet %s" "${counts[@]}")"
prom_expect 'ophost_operator_events_in_total{session="fleet",operator="journal"}' \
    "$(per_node "__name__=ophost_operator_events_in_total,node=%s,operator=journal,session=fleet %s" "${counts[@]}")"
prom_expect 'ophost_session_state{session="beat",state="running"}' \
    "$(per_node "__name__=ophost_session_state,node=%s,session=beat,state=running %s" 1)"
prom_expect 'count by (node) (ophost_build_info)' "$(per_node "node=%s %s" 1)"
prom_expect 'sum(fleet_events_total)' " 600"
prom_expect 'sum by (node) (fleet_events_total)' "$(per_node "node=%s %s" "${counts[@]}")"
ok "per node (label node): fleet_events_total 100/200/300, fleet_seq_total 5050/20100/45150, the daemon's emitted and journal-sink counters, beat running, build_info; fleet-wide sum 600"

# ---- the central journal ---------------------------------------------------
# README "Events from many hosts": the same journalctl commands, with
# -D $central for -D /var/log/journal/remote.
cj() { journalctl -D "$central" --no-pager "$@" 2>/dev/null; }
# events_per_node: README's "events per node" pipeline.
events_per_node() {
    cj OPHOST_SESSION=fleet -o json --output-fields=_HOSTNAME,OPHOST_SEQ |
        jq -r 'select(.OPHOST_SEQ) | ._HOSTNAME' | sort | uniq -c
}
want_per_node=$(for i in $(seq 0 $((nodes - 1))); do
    printf '%7d %s\n' "${counts[i]}" "${names[i]}"
done)
all_arrived() { [ "$(events_per_node)" = "$want_per_node" ]; }
if ! wait_for 60 all_arrived; then
    cat "$tmp/remote.log"
    for i in $(seq 0 $((nodes - 1))); do node_journal "$i"; done
    fail "events of session fleet per node in the central journal after 60 s: expected
$want_per_node
got
$(events_per_node)"
fi
ok "journalctl -D remote OPHOST_SESSION=fleet -o json ... | jq 'select(.OPHOST_SEQ)' per _HOSTNAME: 100, 200 and 300 events"

# The session on one node: its events and the daemon's two messages about
# it, nothing else.
for i in $(seq 0 $((nodes - 1))); do
    got=$(cj OPHOST_SESSION=fleet _HOSTNAME="${names[i]}" -o cat | LC_ALL=C sort)
    want=$({
        seq "${counts[i]}" | sed 's/.*/fleet event & of comm-&/'
        echo "session fleet: started"
        echo "session fleet: completed, ${counts[i]} events"
    } | LC_ALL=C sort)
    [ "$got" = "$want" ] || node_fail "$i" "journalctl -D remote OPHOST_SESSION=fleet _HOSTNAME=${names[i]}: $(wc -l <<<"$got") entries, expected the ${counts[i]} events, 'session fleet: started' and 'completed, ${counts[i]} events'; differences (< expected, > got):
$(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | head -n 10)"
    n=$(cj OPHOST_SESSION=fleet _MACHINE_ID="${ids[i]}" -o cat | wc -l)
    [ "$n" -eq $((counts[i] + 2)) ] ||
        node_fail "$i" "$n entries of session fleet with _MACHINE_ID=${ids[i]} centrally, expected $((counts[i] + 2))"
done
hosts=$(cj -F _HOSTNAME | LC_ALL=C sort | tr '\n' ' ')
want_hosts=$(printf '%s\n' "${names[@]}" | LC_ALL=C sort | tr '\n' ' ')
[ "$hosts" = "$want_hosts" ] || fail "journalctl -D remote -F _HOSTNAME: '$hosts', expected '$want_hosts'"
ok "journalctl -D remote OPHOST_SESSION=fleet _HOSTNAME=NODE: each node's events with the daemon's 'started' and 'completed, N events', as _MACHINE_ID=ID too; -F _HOSTNAME: the 3 nodes"

# Every event of each node, in order, with its fields (README's query for
# scripts).
cj OPHOST_SESSION=fleet -o json --output-fields=_HOSTNAME,OPHOST_SEQ,OPHOST_COMM,MESSAGE |
    jq -c 'select(.OPHOST_SEQ)' | python3 -c '
import json, sys
names = sys.argv[1].split()
counts = [int(c) for c in sys.argv[2].split()]
seen = {}
for line in sys.stdin:
    e = json.loads(line)
    seq = int(e["OPHOST_SEQ"])
    want = "fleet event %d of comm-%d" % (seq, seq)
    if e.get("MESSAGE") != want or e.get("OPHOST_COMM") != "comm-%d" % seq:
        sys.exit("%s seq %d: MESSAGE %r, OPHOST_COMM %r, expected %r, comm-%d"
                 % (e.get("_HOSTNAME"), seq, e.get("MESSAGE"), e.get("OPHOST_COMM"), want, seq))
    seen.setdefault(e["_HOSTNAME"], []).append(seq)
for name, n in zip(names, counts):
    if seen.get(name) != list(range(1, n + 1)):
        sys.exit("%s: seq %s, expected 1..%d in order" % (name, seen.get(name), n))
' "${names[*]}" "${counts[*]}" || fail "the events of session fleet across the nodes are not complete (see above)"
ok "journalctl -D remote OPHOST_SESSION=fleet -o json --output-fields=... | jq 'select(.OPHOST_SEQ)': seq 1..N of each node in order, MESSAGE and OPHOST_COMM as the sink wrote them"

# ---- one ophostctl for the fleet: -H ssh://root@127.0.0.1:PORT -----------------
# README "One ophostctl for many nodes": the build's ophostctl on the host,
# ssh (OPHOST_SSH, with the test's ssh_config) running the node's installed
# `ophostctl bridge`. NODE is the URL's user@host:port, as given.
hosts=()
urls=()
for i in $(seq 0 $((nodes - 1))); do
    urls[i]=ssh://root@127.0.0.1:${sports[i]}
    hosts+=(-H "${urls[i]}")
done
node_name() { echo "root@127.0.0.1:${sports[$1]}"; }
ctl_out=$tmp/ctl.out
ctl_err=$tmp/ctl.err
# ctl ARGS...: the build's ophostctl; its status in $rc, its output in
# $out and $ctl_out, its stderr in $ctl_err.
ctl() {
    rc=0
    "$host_ctl" "$@" >"$ctl_out" 2>"$ctl_err" || rc=$?
    out=$(cat "$ctl_out")
}
# rows OUTPUT I: the rows of node I in a table with a NODE column,
# without that column.
rows() { awk -v n="$(node_name "$2")" '$1 == n { $1 = ""; sub(/^ /, ""); print }' <<<"$1"; }

ctl "${hosts[@]}" list sessions
[ "$rc" = 0 ] || fail "ophostctl -H x3 list sessions exited $rc, expected 0: $(cat "$ctl_err")"
header=$(head -n 1 <<<"$out")
[ "$(awk '{print $1, $2, $3, $4}' <<<"$header")" = "NODE SESSION GADGET STATE" ] ||
    fail "ophostctl -H x3 list sessions: header '$header', expected 'NODE SESSION GADGET STATE ...'"
for i in $(seq 0 $((nodes - 1))); do
    want=$(node_ssh "$i" "$inst_ophostctl" list sessions -q | LC_ALL=C sort)
    got=$(rows "$out" "$i" | awk '{print $1}' | LC_ALL=C sort)
    [ "$got" = "$want" ] || fail "ophostctl -H x3 list sessions: the sessions of $(node_name "$i") are
$got
expected (its own ophostctl list sessions -q)
$want
in
$out"
    [ "$(rows "$out" "$i" | awk '$1 == "beat" {print $3}')" = running ] ||
        fail "ophostctl -H x3 list sessions: beat is not running on $(node_name "$i"): $out"
done
others=$(awk 'NR > 1 {print $1}' <<<"$out" | sort -u | tr '\n' ' ')
[ "$others" = "$(for i in $(seq 0 $((nodes - 1))); do node_name "$i"; done | sort -u | tr '\n' ' ')" ] ||
    fail "ophostctl -H x3 list sessions: NODE values '$others'"
ok "ophostctl -H x3 list sessions: NODE first, each node's rows are its own sessions (beat running), $(($(wc -l <<<"$out") - 1)) rows"

ctl "${hosts[@]}" stats beat
[ "$rc" = 0 ] || fail "ophostctl -H x3 stats beat exited $rc, expected 0: $(cat "$ctl_err")"
grep -q '^NODE  *OPERATOR ' <<<"$out" || fail "ophostctl -H x3 stats beat: no table with NODE first, then OPERATOR: $out"
for i in $(seq 0 $((nodes - 1))); do
    grep -q "^$(node_name "$i"): beat (running): [0-9]* events emitted" <<<"$out" ||
        fail "ophostctl -H x3 stats beat: no line '$(node_name "$i"): beat (running): N events emitted': $out"
    ops=$(rows "$out" "$i" | grep -c -w -e synthetic -e null || true)
    [ "$ops" = 2 ] || fail "ophostctl -H x3 stats beat: $ops rows of synthetic and null for $(node_name "$i"), expected 2: $out"
done
ok "ophostctl -H x3 stats beat: each node's 'NODE: beat (running)' line and its 2 operators in rows with NODE first"

# per_node_seqs FILE N: FILE (merged -o json events) has seq 1..N from
# each node named in $want_nodes, with its node field, and no other.
per_node_seqs() {
    python3 -c '
import json, sys
names, n = sys.argv[1].split(), int(sys.argv[2])
per = {}
for line in open(sys.argv[3]):
    e = json.loads(line)
    if "node" not in e:
        sys.exit("an event without a node field: %s" % line.strip())
    per.setdefault(e["node"], []).append(e["seq"])
if sorted(per) != sorted(names):
    sys.exit("events from nodes %s, expected %s" % (sorted(per), sorted(names)))
for name in names:
    if sorted(per[name]) != list(range(1, n + 1)):
        sys.exit("node %s: seq %s, expected 1..%d" % (name, per[name], n))
' "$want_nodes" "$2" "$1"
}
want_nodes=$(for i in $(seq 0 $((nodes - 1))); do node_name "$i"; done | tr '\n' ' ')
ctl "${hosts[@]}" run synthetic -p count=7 -p rate=0 -o json
[ "$rc" = 0 ] || fail "ophostctl -H x3 run synthetic -p count=7 exited $rc, expected 0: $(cat "$ctl_err")"
per_node_seqs "$ctl_out" 7 ||
    fail "ophostctl -H x3 run synthetic -p count=7 -o json: expected seq 1..7 from each node with its node field; got $(wc -l <"$ctl_out") lines: $(head -n 3 "$ctl_out")"
ok "ophostctl -H x3 run synthetic -p count=7 -o json: 21 events merged, seq 1..7 from each node with its node field"

# With several nodes --max-entries counts the merged stream: N in all.
{ echo "# the fleet test's nodes"; printf '%s\n' "${urls[@]}"; } >"$tmp/hosts"
ctl --hosts-file "$tmp/hosts" run synthetic -p rate=20 --max-entries 4 -o json
[ "$rc" = 0 ] || fail "ophostctl --hosts-file run synthetic --max-entries 4 exited $rc, expected 0: $(cat "$ctl_err")"
python3 -c '
import json, sys
names = sys.argv[1].split()
per = {}
lines = open(sys.argv[2]).read().splitlines()
if len(lines) != 4:
    sys.exit("%d events, expected 4 in all" % len(lines))
for line in lines:
    e = json.loads(line)
    if e.get("node") not in names:
        sys.exit("node %r is none of %s" % (e.get("node"), names))
    per.setdefault(e["node"], []).append(e["seq"])
for node, seqs in per.items():
    if seqs != list(range(1, len(seqs) + 1)):
        sys.exit("node %s: seq %s, expected 1..%d in order" % (node, seqs, len(seqs)))
' "$want_nodes" "$ctl_out" ||
    fail "ophostctl --hosts-file FILE run synthetic --max-entries 4 -o json: expected 4 events in all, each node's from seq 1 on; got: $out"
ok "ophostctl --hosts-file FILE (# comment + 3 URLs) run synthetic --max-entries 4 -o json: 4 events in all from the merged stream ($(jq -r .node "$ctl_out" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep = ", "}'))"

# One node's sshd stops: it is reported, the others still answer.
down=$((nodes - 1))
node_ssh "$down" systemctl stop ssh.service || true
gone() { ! node_ssh "$down" true 2>/dev/null; }
wait_for 10 gone || node_fail "$down" "sshd still answers after systemctl stop ssh.service"
want_err="ophostctl: $(node_name "$down"): cannot reach the daemon:"
ctl "${hosts[@]}" list sessions
[ "$rc" = 1 ] || fail "ophostctl -H x3 list sessions with $(node_name "$down")'s sshd stopped exited $rc, expected 1 (some node failed): $(cat "$ctl_err")"
grep -q -F "$want_err" "$ctl_err" ||
    fail "ophostctl -H x3 list sessions with $(node_name "$down")'s sshd stopped: stderr lacks '$want_err': $(cat "$ctl_err")"
[ -z "$(rows "$out" "$down")" ] || fail "rows of the stopped node: $out"
for i in $(seq 0 $((down - 1))); do
    [ "$(rows "$out" "$i" | awk '$1 == "beat" {print $3}')" = running ] ||
        fail "with $(node_name "$down") down, beat of $(node_name "$i") is not listed running: $out"
done
ok "$(node_name "$down")'s sshd stopped: list sessions exits 1, '$(head -n 1 "$ctl_err")', the other nodes listed"

ctl "${hosts[@]}" run synthetic -p count=5 -p rate=0 -o json
[ "$rc" = 1 ] || fail "ophostctl -H x3 run with a node down exited $rc, expected 1: $(cat "$ctl_err")"
grep -q -F "$want_err" "$ctl_err" || fail "ophostctl -H x3 run with a node down: stderr lacks '$want_err': $(cat "$ctl_err")"
want_nodes=$(for i in $(seq 0 $((down - 1))); do node_name "$i"; done | tr '\n' ' ')
per_node_seqs "$ctl_out" 5 ||
    fail "ophostctl -H x3 run with a node down: expected seq 1..5 from each other node; got $(head -n 3 "$ctl_out")"
ctl -H "${urls[down]}" list sessions
[ "$rc" = 3 ] || fail "ophostctl -H (only the stopped node) list sessions exited $rc, expected 3 (no node reached): $(cat "$ctl_err")"
ok "with $(node_name "$down") down: run merges the others' 5 events each and exits 1; -H of that node alone exits 3"

echo "# fleet test ran $(($(date +%s) - started)) s"
echo "$n_ok passed, 0 failed"

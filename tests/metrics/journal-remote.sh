#!/usr/bin/env bash
# journal-remote.sh OPHOSTD PLUGIN_DIR — central event collection with
# journald, as README "Events from many hosts" tells it: two nodes (each
# its own mount and UTS namespace with its own host name, machine id and
# systemd-journald; journal-node.sh) run ophostd with the journal sink, and
# systemd-journal-upload sends each node's journal over HTTP on loopback to
# one systemd-journal-remote (Debian's systemd-journal-remote package),
# which stores them. Then one session's events are queried across the
# nodes with journalctl on the central files: every event of each node,
# its OPHOST_* fields, MESSAGE, _HOSTNAME and _MACHINE_ID. Skips (77)
# without root, unshare or the journald programs.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage 2 "journal-remote.sh OPHOSTD PLUGIN_DIR" "$@"
ophostd=$(realpath "$1")
src_plugins=$2
here=$(cd "$(dirname "$0")" && pwd)
unset JOURNAL_STREAM OPHOST_PLUGIN_DIR
count=50

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (mount namespaces, journald)"; exit 77; }
for p in /lib/systemd/systemd-journald /lib/systemd/systemd-journal-remote \
    /lib/systemd/systemd-journal-upload; do
    [ -x "$p" ] || { echo "SKIP: $p is missing (Debian: systemd, systemd-journal-remote)"; exit 77; }
done
for tool in unshare journalctl python3 ss; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
if ! unshare --mount --uts true 2>/dev/null; then
    echo "SKIP: cannot create mount and UTS namespaces here"
    exit 77
fi

make_tmp ophost-journal
plugins=$tmp/plugins
mkdir -p "$plugins" "$tmp/remote"
chmod 755 "$tmp" "$plugins"
for so in synthetic journal; do
    cp "$src_plugins/$so.so" "$plugins/"
done

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/lib/systemd/systemd-journal-remote --listen-http="127.0.0.1:$port" --output="$tmp/remote/" \
    --split-mode=host >"$tmp/remote.log" 2>&1 &
remote=$!
pids+=("$remote")
listening() { ss -ltn | has -F "127.0.0.1:$port "; }
wait_for 10 listening || fail "systemd-journal-remote does not listen: $(cat "$tmp/remote.log")"
ok "systemd-journal-remote listens on http://127.0.0.1:$port, storing into $tmp/remote"

ids=(0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a01 0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02)
nodes=(node-a node-b)
for i in 0 1; do
    out=$(unshare --mount --uts --propagation private \
        bash "$here/journal-node.sh" "${nodes[$i]}" "${ids[$i]}" "$ophostd" "$plugins" "$tmp" \
        "http://127.0.0.1:$port" "$count" 2>&1) || fail "node ${nodes[$i]}: $out"
    ok "$out"
done
kill -TERM "$remote"
wait_for 10 is_dead "$remote" || fail "systemd-journal-remote did not stop"
ls "$tmp"/remote/*.journal >/dev/null 2>&1 || fail "no journal file in $tmp/remote: $(cat "$tmp/remote.log")"

# One session's events across the nodes: the central files hold them all.
q() { journalctl --directory="$tmp/remote" --no-pager "$@"; }
total=$(q OPHOST_SESSION=execs -o cat | wc -l)
[ "$total" -eq $((2 * count)) ] || fail "the central journal has $total events of session execs, not $((2 * count))"
for i in 0 1; do
    n=$(q OPHOST_SESSION=execs _HOSTNAME="${nodes[$i]}" -o cat | wc -l)
    [ "$n" -eq "$count" ] || fail "${nodes[$i]}: $n events centrally, not $count"
    n=$(q OPHOST_SESSION=execs _MACHINE_ID="${ids[$i]}" -o cat | wc -l)
    [ "$n" -eq "$count" ] || fail "${nodes[$i]}: $n events with _MACHINE_ID=${ids[$i]}, not $count"
done
hosts=$(q -F _HOSTNAME | sort | tr '\n' ' ')
[ "$hosts" = "node-a node-b " ] || fail "the hosts in the central journal are '$hosts'"
ok "journalctl -D remote OPHOST_SESSION=execs: $total events, $count from each of node-a and node-b"

# One event, every field: what the journal sink sent is what was stored.
q OPHOST_SESSION=execs _HOSTNAME=node-b OPHOST_SEQ=7 -o json | python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
if len(lines) != 1:
    sys.exit("expected one entry for node-b seq 7, got %d" % len(lines))
e = json.loads(lines[0])
want = {"OPHOST_SESSION": "execs", "OPHOST_SEQ": "7", "OPHOST_COMM": "comm-7", "OPHOST_PID": "7",
        "MESSAGE": "exec 7 of comm-7 on node-b", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "ophostd",
        "_HOSTNAME": "node-b", "_MACHINE_ID": sys.argv[1], "_TRANSPORT": "journal"}
bad = ["%s=%r (want %r)" % (k, e.get(k), v) for k, v in want.items() if e.get(k) != v]
if bad:
    sys.exit("entry fields: " + ", ".join(bad))
' "${ids[1]}" || fail "the stored entry of node-b, seq 7, is not what the sink sent"
ok "an entry keeps OPHOST_SESSION, OPHOST_SEQ, OPHOST_COMM, OPHOST_PID, MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, _HOSTNAME, _MACHINE_ID"

# The query of README: a session's events of every node, by host, in order.
q OPHOST_SESSION=execs -o json --output-fields=_HOSTNAME,OPHOST_SEQ | python3 -c '
import json, sys
seen = {}
for line in sys.stdin:
    e = json.loads(line)
    seen.setdefault(e["_HOSTNAME"], []).append(int(e["OPHOST_SEQ"]))
want = list(range(1, int(sys.argv[1]) + 1))
for host in ("node-a", "node-b"):
    if sorted(seen.get(host, [])) != want:
        sys.exit("%s: seq %s" % (host, seen.get(host)))
' "$count" || fail "the events of one session across nodes are not complete"
ok "journalctl -D remote OPHOST_SESSION=execs -o json --output-fields=_HOSTNAME,OPHOST_SEQ: seq 1..$count from each node"
echo "$n_ok passed, 0 failed"

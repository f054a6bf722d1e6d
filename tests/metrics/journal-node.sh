#!/usr/bin/env bash
# journal-node.sh NAME MACHINE_ID OPHOSTD PLUGIN_DIR DIR URL COUNT — one
# "node" of journal-remote.sh, run by it inside `unshare --mount --uts`: a
# host name and machine id of its own, a private /run with its own
# systemd-journald (the real one, started by hand) and /var/log/journal, the
# real ophostd running session `execs` (synthetic -> journal sink, COUNT
# events), then systemd-journal-upload sending this node's journal to URL,
# as `systemd-journal-upload.service` does on a real node. Writes DIR/NAME.*
# logs; exits non-zero with the reason on failure.
set -euo pipefail

name=$1
machine_id=$2
ophostd=$3
plugin_dir=$4
dir=$5
url=$6
count=$7
log=$dir/$name

hostname "$name"
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
if [ -d /var/log/journal ]; then
    mount -t tmpfs tmpfs /var/log/journal # never the host's journal
fi
printf '%s\n' "$machine_id" >"$dir/$name.machine-id"
mount --bind "$dir/$name.machine-id" /etc/machine-id

/lib/systemd/systemd-journald >"$log.journald.log" 2>&1 &
journald=$!
trap 'kill "$journald" 2>/dev/null || true; kill "${ophostd_pid:-}" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    [ -S /run/systemd/journal/socket ] && break
    sleep 0.05
done
[ -S /run/systemd/journal/socket ] || { echo "$name: journald did not start: $(cat "$log.journald.log")"; exit 1; }

mkdir -p "$dir/$name.pipelines"
cat >"$dir/$name.pipelines/execs.yaml" <<END_PIPELINE
execs:
  gadget: synthetic
  operators:
    synthetic: {count: $count, rate: 0, fields: 'seq:u64,comm:string,pid:u32'}
    journal: {message: 'exec {seq} of {comm} on $name'}
END_PIPELINE
cat >"$dir/$name.ophostd.yaml" <<END_CONFIG
control-socket: /run/ophost/ophostd.sock
plugin-dirs: [$plugin_dir]
pipeline-dir: $dir/$name.pipelines
END_CONFIG
"$ophostd" --config "$dir/$name.ophostd.yaml" >"$log.ophostd.out" 2>"$log.ophostd.log" &
ophostd_pid=$!
for _ in $(seq 200); do
    grep -q -F "session execs: completed, $count events" "$log.ophostd.log" && break
    sleep 0.05
done
grep -q -F "session execs: completed, $count events" "$log.ophostd.log" ||
    { echo "$name: session execs did not complete: $(cat "$log.ophostd.log")"; exit 1; }
kill "$ophostd_pid"
wait "$ophostd_pid" || true

# What the node's journal holds, then the upload of all of it.
for _ in $(seq 100); do
    n=$(journalctl --directory=/run/log/journal OPHOST_SESSION=execs -o cat 2>/dev/null | wc -l)
    [ "$n" -ge "$count" ] && break
    sleep 0.05
done
[ "$n" -eq "$count" ] || { echo "$name: the local journal has $n entries of session execs, not $count"; exit 1; }
/lib/systemd/systemd-journal-upload --url="$url" --directory=/run/log/journal --follow=no \
    --save-state="$dir/$name.upload-state" >"$log.upload.log" 2>&1 ||
    { echo "$name: systemd-journal-upload failed: $(cat "$log.upload.log")"; exit 1; }
echo "$name: $count events journaled and uploaded"

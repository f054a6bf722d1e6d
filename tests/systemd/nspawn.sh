#!/usr/bin/env bash
# nspawn.sh BUILDDIR INSIDE_SH — runs ophostd under a real systemd: boots a
# minimal Debian 12 root with systemd-nspawn, with this build installed into
# it, and lets INSIDE_SH drive `systemctl start|reload|stop`, the watchdog,
# socket activation and the journal from a unit inside the container.
#
# The root is built once with debootstrap (~300 MB, about a minute) and
# cached as BUILDDIR/nspawn-root (tests/lib-nspawn.sh, shared with the fleet
# test); each run boots a fresh copy of it, in a cgroup of its own. Skips
# (exit 77, with the reason) when not root, without debootstrap or
# systemd-nspawn, for a sanitizer build, or when the Debian mirror named in
# the apt sources cannot be reached and no cached root exists.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: nspawn.sh BUILDDIR INSIDE_SH" >&2
    exit 2
fi
builddir=$(cd "$1" && pwd)
inside=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
lib=$(cd "$(dirname "$inside")/.." && pwd)/lib.sh
run=$builddir/nspawn-run
stage=$builddir/nspawn-stage
results=$builddir/nspawn-results
boot_timeout=600
cgroup=ophost-nspawn-$$

skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*"
    exit 1
}

# shellcheck source-path=SCRIPTDIR source=../lib-nspawn.sh
. "$(dirname "$lib")/lib-nspawn.sh"
nspawn_check "$builddir"
nspawn_root "$builddir"

# This build, installed into a staging dir.
rm -rf "$run" "$results"
nspawn_stage "$builddir" "$stage"
ophostd=$inst_ophostd
ophostctl=$inst_ophostctl
confdir=$inst_confdir
plugindir=$inst_plugindir
activation=$inst_activation

# A fresh copy of the cached root with the build in it.
cp -a "$nspawn_cache" "$run"
nspawn_install "$stage" "$run"

mkdir -p "$results" "$run/ophost-test/systemd" "$run/ophost-results"
cat >"$run/etc/systemd/system/ophost-test.service" <<EOF
[Unit]
Description=ophost systemd integration test
After=multi-user.target

[Service]
Type=oneshot
Environment=OPHOSTD=$ophostd OPHOSTCTL=$ophostctl CONFDIR=$confdir PLUGINDIR=$plugindir SOCKET_ACTIVATION=$activation
ExecStart=/bin/bash /ophost-test/systemd/inside.sh /ophost-results
ExecStopPost=/bin/systemctl --no-block poweroff
StandardOutput=journal
EOF
mkdir -p "$run/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/ophost-test.service \
    "$run/etc/systemd/system/multi-user.target.wants/ophost-test.service"

nspawn_pid=
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$nspawn_pid" 2>/dev/null || true
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    nspawn_cgroup_remove "$cgroup"
}
trap cleanup EXIT

echo "# booting $run (ophostd at $ophostd, config in $confdir, socket activation: $activation)"
start=$(date +%s)
(
    nspawn_cgroup_enter "$cgroup"
    exec timeout -k 20 "$boot_timeout" systemd-nspawn -D "$run" --register=no --keep-unit -b \
        --console=pipe --capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN \
        --system-call-filter="bpf perf_event_open fanotify_init fanotify_mark" \
        --bind-ro="$inside:/ophost-test/systemd/inside.sh" --bind-ro="$lib:/ophost-test/lib.sh" \
        --bind="$results:/ophost-results"
) </dev/null >"$builddir/nspawn-console.log" 2>&1 &
nspawn_pid=$!
status=0
wait "$nspawn_pid" || status=$?
nspawn_pid=
echo "# container ran $(($(date +%s) - start)) s, systemd-nspawn exit status $status"

[ -f "$results/log" ] && cat "$results/log"
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    [ -f "$results/journal.txt" ] || true
    fail "the container did not power off within $boot_timeout s (console: $builddir/nspawn-console.log)"
fi
if [ ! -f "$results/status" ]; then
    tail -n 30 "$builddir/nspawn-console.log"
    fail "the test inside the container wrote no result (console: $builddir/nspawn-console.log)"
fi
result=$(cat "$results/status")
if [ "$result" != pass ]; then
    if [ -f "$results/journal.txt" ]; then
        echo "---- container journal (last 80 lines; all in $results/journal.txt) ----"
        tail -n 80 "$results/journal.txt"
    fi
    fail "inside the container: $result"
fi
rm -rf "$run" "$stage"

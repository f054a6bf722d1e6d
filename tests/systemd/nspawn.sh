#!/usr/bin/env bash
# nspawn.sh BUILDDIR INSIDE_SH — runs ophostd under a real systemd: boots a
# minimal Debian 12 root with systemd-nspawn, with this build installed into
# it, and lets INSIDE_SH drive `systemctl start|reload|stop`, the watchdog,
# socket activation and the journal from a unit inside the container.
#
# The root is built once with debootstrap (~250 MB, about a minute) and
# cached as BUILDDIR/nspawn-root; each run boots a fresh copy of it. Skips
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
cache=$builddir/nspawn-root
run=$builddir/nspawn-run
stage=$builddir/nspawn-stage
results=$builddir/nspawn-results
boot_timeout=600
packages=systemd,systemd-sysv,dbus,libyaml-0-2,libjson-c5,libbpf1,libelf1,libmicrohttpd12,procps

skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap and systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (Debian package systemd-container)"
command -v meson >/dev/null || skip "meson is not in PATH (needed for meson install)"
if readelf -d "$builddir/daemon/ophostd" 2>/dev/null | grep -q -E 'lib(a|ub|t)san'; then
    skip "sanitizer build: the container has no sanitizer runtime"
fi

# mirror: the first Debian URI of the apt sources that serves bookworm.
mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" && $0 ~ /bookworm/ && $0 !~ /security/ {
                 for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: one stanza per paragraph; keep URIs of stanzas with bookworm.
        awk 'BEGIN { RS = ""; FS = "\n" }
             /Suites:[^\n]*bookworm([ \n]|$)/ && !/security/ {
                 for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) {
                     split($i, w, /[ \t]+/); print w[2]; exit } }' "$f"
    done
}

reachable() {
    if command -v wget >/dev/null; then
        wget -q -T 15 -t 1 -O /dev/null "$1/dists/bookworm/Release"
    elif command -v curl >/dev/null; then
        curl -fsS -m 15 -o /dev/null "$1/dists/bookworm/Release"
    else
        return 1
    fi
}

if [ ! -x "$cache/usr/lib/systemd/systemd" ] || [ ! -f "$cache/.ophost-packages" ] ||
    [ "$(cat "$cache/.ophost-packages")" != "$packages" ]; then
    command -v debootstrap >/dev/null || skip "debootstrap is not installed"
    url=$(mirror | head -n 1)
    [ -n "$url" ] || skip "no Debian bookworm mirror in /etc/apt/sources.list{,.d}"
    reachable "$url" || skip "the Debian mirror $url cannot be reached"
    echo "# building the container root with debootstrap from $url (once per build dir)"
    rm -rf "$cache" "$cache.tmp"
    if ! debootstrap --variant=minbase --include="$packages" bookworm "$cache.tmp" "$url" \
        >"$builddir/nspawn-debootstrap.log" 2>&1; then
        tail -n 20 "$builddir/nspawn-debootstrap.log"
        fail "debootstrap failed (log: $builddir/nspawn-debootstrap.log)"
    fi
    echo "$packages" >"$cache.tmp/.ophost-packages"
    mv "$cache.tmp" "$cache"
fi

# This build, installed into a staging dir.
rm -rf "$stage" "$run" "$results"
DESTDIR=$stage meson install -C "$builddir" --no-rebuild --quiet >"$builddir/nspawn-install.log" 2>&1 ||
    fail "meson install failed: $(tail -n 20 "$builddir/nspawn-install.log")"
unit=$(find "$stage" -name ophostd.service -type f | head -n 1)
[ -n "$unit" ] || fail "meson install installed no ophostd.service"
ophostd=$(sed -n 's/^ExecStart=//p' "$unit")
ophostctl=$(sed -n 's/^ExecReload=\(.*\) reload$/\1/p' "$unit")
confdir=$(dirname "$(find "$stage" -name ophostd.yaml -type f | head -n 1)")
confdir=${confdir#"$stage"}
plugindir=$(dirname "$(find "$stage" -name print.so -type f | head -n 1)")
plugindir=${plugindir#"$stage"}
[ -x "$stage$ophostd" ] || fail "ExecStart=$ophostd is not installed"
[ -x "$stage$ophostctl" ] || fail "ExecReload=$ophostctl reload: $ophostctl is not installed"
activation=no
# Not "| grep -q": grep quitting early would fail nm with SIGPIPE under pipefail.
if nm -D --undefined-only "$stage$ophostd" 2>/dev/null | grep -w sd_listen_fds >/dev/null; then
    activation=yes
fi

# A fresh copy of the cached root with the build in it.
cp -a "$cache" "$run"
tar -C "$stage" -cf - . | tar -C "$run" -xf - --keep-directory-symlink --no-same-owner
missing=$(chroot "$run" ldd "$ophostd" | grep 'not found' || true)
[ -z "$missing" ] || fail "libraries missing in the container (add their packages to --include): $missing"

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
}
trap cleanup EXIT

echo "# booting $run (ophostd at $ophostd, config in $confdir, socket activation: $activation)"
start=$(date +%s)
timeout -k 20 "$boot_timeout" systemd-nspawn -D "$run" --register=no --keep-unit -b \
    --console=pipe --capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN \
    --system-call-filter="bpf perf_event_open fanotify_init fanotify_mark" --bind-ro="$inside:/ophost-test/systemd/inside.sh" --bind-ro="$lib:/ophost-test/lib.sh" \
    --bind="$results:/ophost-results" </dev/null >"$builddir/nspawn-console.log" 2>&1 &
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

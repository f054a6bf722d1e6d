#!/usr/bin/env bash
# units.sh SERVICE SOCKET OPHOSTD OPHOSTCTL METRICS_DROPIN — checks the generated units
# without a running systemd: `systemd-analyze verify` (ExecStart and
# ExecReload pointed at the built programs, since the installed paths need
# not exist here), the settings the
# daemon relies on, and the `systemd-analyze security --offline` exposure
# score, which must stay at or below 3.2 (systemd calls 2.0 to 4.9 "OK"; it
# was 2.9 before trace_dns's AF_PACKET socket and CAP_NET_RAW added 0.3).
# With the metrics drop-in (Internet sockets for /metrics, loopback only)
# the same checks run on the unit plus the drop-in, whose score must stay
# at or below 3.5 (the 0.3 of AF_INET/AF_INET6).
# Skips without systemd-analyze.
set -euo pipefail

if [ $# -ne 5 ]; then
    echo "usage: units.sh SERVICE SOCKET OPHOSTD OPHOSTCTL METRICS_DROPIN" >&2
    exit 2
fi
dropin=$5
max_exposure_metrics=3.5
service=$1
socket=$2
ophostd=$(realpath "$3")
ophostctl=$(realpath "$4")
max_exposure=3.2

if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: systemd-analyze is not installed"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ophost-units.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n_ok=0
ok() {
    n_ok=$((n_ok + 1))
    echo "ok $n_ok - $*"
}
fail() {
    echo "FAIL: $*"
    exit 1
}

# has KEY=VALUE: the service file has exactly this line.
has() {
    grep -q -x -F -- "$1" "$service" || fail "ophostd.service lacks the line '$1'"
}

exec_start=$(sed -n 's/^ExecStart=//p' "$service")
case "$exec_start" in
/*/ophostd) ;;
*) fail "ExecStart= is '$exec_start', expected an absolute path to ophostd" ;;
esac
grep -q '@[A-Z]*@' "$service" && fail "unsubstituted @VAR@ left in $service"
exec_reload=$(sed -n 's/^ExecReload=//p' "$service")
case "$exec_reload" in
/*/ophostctl\ reload) ;;
*) fail "ExecReload= is '$exec_reload', expected the absolute path of ophostctl, then reload" ;;
esac
for line in Type=notify WatchdogSec=30s Restart=on-failure RestartPreventExitStatus=78 \
    RuntimeDirectory=ophost RuntimeDirectoryPreserve=yes NoNewPrivileges=yes ProtectSystem=strict \
    ProtectHome=yes PrivateTmp=yes 'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_PACKET' \
    SystemCallArchitectures=native MemoryDenyWriteExecute=yes \
    'SystemCallFilter=bpf perf_event_open fanotify_init fanotify_mark'; do
    has "$line"
done
grep -q -x -F 'ListenStream=/run/ophost/ophostd.sock' "$socket" || fail "ophostd.socket: no ListenStream=/run/ophost/ophostd.sock"
grep -q -x -F 'SocketMode=0666' "$socket" || fail "ophostd.socket: no SocketMode=0666"
ok "ophostd.service: ExecStart=$exec_start, ExecReload=$exec_reload, Type=notify, watchdog, hardening lines present"

# verify: the same units with ExecStart= at the built binary.
sed -e "s|^ExecStart=.*|ExecStart=$ophostd|" -e "s|^ExecReload=.*|ExecReload=$ophostctl reload|" \
    "$service" >"$tmp/ophostd.service"
cp "$socket" "$tmp/ophostd.socket"
if ! systemd-analyze verify "$tmp/ophostd.service" "$tmp/ophostd.socket" >"$tmp/verify.out" 2>&1; then
    fail "systemd-analyze verify: $(cat "$tmp/verify.out")"
fi
if [ -s "$tmp/verify.out" ]; then
    fail "systemd-analyze verify printed warnings: $(cat "$tmp/verify.out")"
fi
ok "systemd-analyze verify ophostd.service ophostd.socket: no errors, no warnings"

if ! systemd-analyze security --offline=true --no-pager "$tmp/ophostd.service" >"$tmp/security.out" 2>&1; then
    # Exit status 1 only means "above the default threshold"; read the score.
    :
fi
score=$(sed -n 's/^.*Overall exposure level for ophostd.service: \([0-9.]*\).*$/\1/p' "$tmp/security.out")
[ -n "$score" ] || fail "no exposure score in: $(tail -n 5 "$tmp/security.out")"
grep -F '✗' "$tmp/security.out" | sed 's/  */ /g' || true
echo "exposure score: $score (systemd-analyze security --offline=true ophostd.service)"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' ||
    fail "exposure score $score is above $max_exposure"
ok "systemd-analyze security: exposure $score <= $max_exposure"

# The unit with the metrics drop-in: the drop-in's lines appended, as
# systemd merges a drop-in's [Service] section.
grep -q -x -F 'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_PACKET AF_INET AF_INET6' "$dropin" ||
    fail "the metrics drop-in does not allow AF_INET and AF_INET6"
grep -q -x -F 'IPAddressAllow=localhost' "$dropin" || fail "the metrics drop-in lacks IPAddressAllow=localhost"
mkdir -p "$tmp/m"
cat "$tmp/ophostd.service" "$dropin" >"$tmp/m/ophostd.service"
cp "$socket" "$tmp/m/ophostd.socket"
if ! systemd-analyze verify "$tmp/m/ophostd.service" "$tmp/m/ophostd.socket" >"$tmp/m/verify.out" 2>&1 ||
    [ -s "$tmp/m/verify.out" ]; then
    fail "systemd-analyze verify with the metrics drop-in: $(cat "$tmp/m/verify.out")"
fi
systemd-analyze security --offline=true --no-pager "$tmp/m/ophostd.service" >"$tmp/m/security.out" 2>&1 || :
mscore=$(sed -n 's/^.*Overall exposure level for ophostd.service: \([0-9.]*\).*$/\1/p' "$tmp/m/security.out")
[ -n "$mscore" ] || fail "no exposure score with the drop-in in: $(tail -n 5 "$tmp/m/security.out")"
grep -F 'AF_(INET|INET6)' "$tmp/m/security.out" | sed 's/  */ /g' || true
awk -v s="$mscore" -v m="$max_exposure_metrics" 'BEGIN { exit !(s <= m) }' ||
    fail "exposure score with the metrics drop-in $mscore is above $max_exposure_metrics"
ok "with the metrics drop-in: verify clean, exposure $mscore <= $max_exposure_metrics (without: $score)"

echo "$n_ok passed, 0 failed"

#!/usr/bin/env bash
# ctl-hostile.sh OPHOSTD OPHOSTCTL PLUGIN_DIR BAD_DAEMON SSH_LOCAL — ophostctl
# against replies a broken or hostile daemon (or -H node) could send, from
# bad-daemon.py: malformed JSON, members of the wrong type, a reply larger
# than the client takes, events without their fields, widths and field
# counts out of range, terminal escapes and wide characters in names, a
# connection that ends in the middle of a sorted stream. The client must
# neither crash, spin nor hang, print what it got, say what was wrong and
# exit with the documented status; one bad node must not hide the others.
# Also a few user mistakes that once went wrong (--filter '==0', a missing
# --socket PATH, --version without a daemon).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 5 "ctl-hostile.sh OPHOSTD OPHOSTCTL PLUGIN_DIR BAD_DAEMON SSH_LOCAL" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
bad_daemon=$4
ssh_local=$5
make_tmp ophost-ctl-hostile
unset OPHOST_SOCKET OPHOST_HOSTS
export LC_ALL=C.UTF-8

# bad NAME REPLIES-JSON: a bad daemon on $tmp/NAME.sock answering each call
# with REPLIES.
bad() {
    printf '%s' "$2" >"$tmp/$1.json"
    rm -f "$tmp/$1.sock"
    python3 "$bad_daemon" "$tmp/$1.sock" "$tmp/$1.json" &
    pids+=("$!")
    wait_for 10 test -S "$tmp/$1.sock" || fail "bad-daemon.py did not listen on $tmp/$1.sock"
}
# ctlb NAME ARGS...: the client against bad daemon NAME, bounded in time.
ctlb() {
    local name=$1
    shift
    timeout 20 "$ctl_bin" -s "$tmp/$name.sock" "$@"
}

# --- malformed and mistyped replies: an error, no crash
bad params5 '[{"parameters": 5}]'
expect_rc 1 ctlb params5 list sessions
grep -q "malformed reply" "$tmp/err" || fail "parameters 5: $(cat "$tmp/err")"
bad empty '[{"parameters": {}}]'
expect_rc 0 ctlb empty list sessions
expect_rc 0 ctlb empty list plugins
expect_rc 0 ctlb empty stats
bad noparams '[{"parameters": {"name": "x", "order": [{"name": "a"}, 7], "datasources": 3}}]'
expect_rc 0 ctlb noparams describe x
grep -q "1. a (plugin" "$tmp/out" || fail "describe without params: $(cat "$tmp/out")"
ok "replies with missing or mistyped members: no crash (malformed parameters exit 1)"

# --- a reply larger than the client takes: one error, no spinning
bad huge '[{"raw": 272629760}]'
start=$(date +%s)
expect_rc 1 ctlb huge run synthetic
[ $(($(date +%s) - start)) -lt 15 ] || fail "a huge reply took $(($(date +%s) - start)) s"
[ "$(grep -c "larger than" "$tmp/err")" = 1 ] || fail "huge reply: $(head -c 600 "$tmp/err")"
ok "a reply over 256 MiB: reported once, exit 1"

# --- streams: events before their fields, an event that is not an object
ds='{"parameters": {"datasources": [{"name": "events", "fields": [{"name": "a", "type": "u64"}, {"name": "s", "type": "string"}]}]}, "continues": true}'
ev() { printf '{"parameters": {"event": {"a": %s, "s": "%s"}}, "continues": true}' "$1" "$2"; }
bad noschema "[{\"parameters\": {\"session\": \"run-1\"}, \"continues\": true}, $(ev 1 x), $(ev 2 y), {\"ended\": true, \"state\": \"stopped\", \"events\": 2}]"
expect_rc 1 ctlb noschema run synthetic
grep -q "2 events came without the fields" "$tmp/err" || fail "no schema: $(cat "$tmp/err")"
bad ev5 "[$ds, {\"parameters\": {\"event\": 5}, \"continues\": true}]"
expect_rc 1 ctlb ev5 run synthetic -o yaml
grep -q "not an object" "$tmp/err" || fail "event 5: $(cat "$tmp/err")"
# The connection ends after three events of a sorted stream: they are shown.
bad cut "[$ds, $(ev 3 c), $(ev 1 a), $(ev 2 b)]"
expect_rc 3 ctlb cut run synthetic --sort a
[ "$(awk 'NR > 1 { print $1 }' "$tmp/out" | tr '\n' ' ')" = "1 2 3 " ] ||
    fail "sorted events of a cut stream: $(cat "$tmp/out")"
ok "events without fields, an event that is not an object: exit 1; a cut sorted stream is shown"

# --- widths, field counts, escapes, wide characters
bad width "[{\"parameters\": {\"datasources\": [{\"name\": \"e\", \"fields\": [{\"name\": \"s\", \"type\": \"string\", \"width\": 3000000000}, {\"name\": \"a\", \"type\": \"u64\"}]}]}, \"continues\": true}, $(ev 1 x)]"
expect_rc 3 ctlb width run synthetic
[ "$(wc -c <"$tmp/out")" -lt 200 ] || fail "width 3e9: $(wc -c <"$tmp/out") bytes of output"
many=$(python3 -c 'import json; print(json.dumps([{"parameters": {"datasources": [{"name": "e", "fields": [{"name": "f%d" % i, "type": "u64"} for i in range(20000)]}]}, "continues": True}, {"parameters": {"event": {"f0": 1}}, "continues": True}]))')
bad many "$many"
expect_rc 3 ctlb many run synthetic
grep -q "20000 fields: a table shows 256 at most" "$tmp/err" || fail "20000 fields: $(head -c 400 "$tmp/err")"
comb=$(python3 -c 'import json, sys; print(json.dumps({"parameters": {"event": {"a": 1, "s": "e" + "\u0301" * 5000}}, "continues": True}))')
bad comb "[$ds, $comb]"
expect_rc 3 ctlb comb run synthetic --fields s,a
[ "$(wc -c <"$tmp/out")" -lt 8192 ] || fail "5000 combining marks: $(wc -c <"$tmp/out") bytes"
esc='a\u001b]0;pwned\u0007\u001b[2J'
bad esc "[{\"parameters\": {\"sessions\": [{\"name\": \"$esc\", \"gadget\": \"g\u009b31m\", \"state\": \"running\"}]}}]"
expect_rc 0 ctlb esc list sessions
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' "$tmp/out"; then
    fail "control characters reached the terminal: $(cat -v "$tmp/out")"
fi
grep -q 'a?]0;pwned??\[2J' "$tmp/out" || fail "escapes: $(cat -v "$tmp/out")"
bad nosess '[{"error": "org.ophost.Manager.NoSuchSession", "parameters": {"name": "x\u001b[31m"}}]'
expect_rc 1 ctlb nosess stop x
if LC_ALL=C grep -q $'\x1b' "$tmp/err"; then fail "escape in an error: $(cat -v "$tmp/err")"; fi
bad wide '[{"parameters": {"sessions": [{"name": "日本語", "gadget": "g", "state": "running"}, {"name": "ab", "gadget": "g", "state": "stopped"}]}}]'
expect_rc 0 ctlb wide list sessions
python3 - "$tmp/out" <<'PY' || fail "wide characters: $(cat "$tmp/out")"
import sys, unicodedata
def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
cols = {width(l[: l.index(w)]) for l, w in zip(lines, ["GADGET", "g", "g"])}
sys.exit(0 if len(cols) == 1 else 1)
PY
ok "widths out of range, 20000 fields, 5000 combining marks in a cell, escapes in names and errors, wide characters aligned"

# --- -H: one bad node does not hide the others
printf 'bad %s\ngood %s\n' "$tmp/params5.sock" "$tmp/wide.sock" >"$tmp/nodes"
export OPHOST_TEST_NODES=$tmp/nodes OPHOST_SSH=$ssh_local OPHOST_REMOTE_CTL=$ctl_bin
expect_rc 1 timeout 20 "$ctl_bin" -H ssh://bad -H ssh://good -H ssh://gone list sessions
grep -q "bad: .*malformed reply" "$tmp/err" || fail "-H bad node: $(cat "$tmp/err")"
grep -q "gone: cannot reach the daemon" "$tmp/err" || fail "-H: the unreachable node after a bad one: $(cat "$tmp/err")"
grep -q "^good .*日本語" "$tmp/out" || fail "-H: the good node's table: $(cat "$tmp/out")"
unset OPHOST_TEST_NODES OPHOST_SSH OPHOST_REMOTE_CTL
ok "-H: a malformed node is reported and the nodes after it still are"

# --- user mistakes against a real daemon
ctl_daemon "$(printf 'tick:\n  gadget: synthetic\n  autostart: false\n')"
expect_rc 2 "$ctl_bin" run synthetic -p count=3 -p rate=0 --filter '==0'
grep -q "'==0' is not FIELD OP VALUE" "$tmp/err" || fail "--filter '==0': $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" list sessions --socket
grep -q "option '--socket' needs a PATH" "$tmp/err" || fail "--socket alone: $(cat "$tmp/err")"
expect_rc 3 "$ctl_bin" -s "$tmp/nothing.sock" --version
ok "--filter '==0' and --socket without PATH are usage errors; --version without a daemon exits 3"

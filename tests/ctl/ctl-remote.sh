#!/usr/bin/env bash
# ctl-remote.sh OPHOSTD OPHOSTCTL PLUGIN_DIR SSH_LOCAL — one ophostctl for
# many nodes (-H ssh://...) against two real daemons, alpha and beta, on
# their own sockets. There is no sshd here: OPHOST_SSH is ssh-local.sh,
# which takes ssh's options and runs the remote command (the real
# `ophostctl bridge`) on this machine with the node's socket; a host it does
# not know fails as ssh does ("Connection refused", exit 255). Checked: the
# NODE column of lists, stats and describe, NODE/NAME with -q and "node" in
# JSON; start/stop on every node; run and watch merged with a node field,
# rounds drawn as one table; --max-entries in all; an unreachable node, a
# node whose daemon is down and a daemon killed mid-stream reported with
# their reason while the others go on; exit statuses 0/1/3; SIGINT and
# SIGTERM end every remote session and every bridge; URL and hosts-file
# errors; what ssh is asked to run; the bridge's half-close; and, when
# valgrind is there, the client under valgrind.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 4 "ctl-remote.sh OPHOSTD OPHOSTCTL PLUGIN_DIR SSH_LOCAL" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
ssh_local=$4
make_tmp ophost-ctl-remote
chmod 0755 "$tmp"
unset OPHOST_SOCKET OPHOST_HOSTS

export OPHOST_SSH=$ssh_local OPHOST_REMOTE_CTL=$ctl_bin
export OPHOST_TEST_NODES=$tmp/nodes OPHOST_TEST_SSH_LOG=$tmp/ssh.log
: >"$OPHOST_TEST_NODES"
declare -A daemon_of

# node_daemon NAME PIPELINE-YAML: a daemon for node NAME, in the map.
node_daemon() {
    local name=$1 d=$tmp/$1
    mkdir -p "$d/pipelines.d" "$d/logs"
    printf '%s\n' "$2" >"$d/pipelines.d/test.yaml"
    printf 'control-socket: %s\nlogs-directory: %s\n' "$d/ctl.sock" "$d/logs" >"$d/ophostd.yaml"
    start_daemon "$d/daemon.log" -c "$d/ophostd.yaml" -p "$plugins" -d "$d/pipelines.d"
    daemon_of[$name]=$daemon_pid
    wait_for 10 "$ctl_bin" -s "$d/ctl.sock" list sessions >/dev/null 2>&1 || fail "daemon $name does not answer"
    echo "$name $d/ctl.sock" >>"$OPHOST_TEST_NODES"
}
node_daemon alpha 'tick:
  gadget: synthetic
  operators:
    synthetic: {rate: 50, fields: "seq:u64,comm:string"}
    null: {}
only-alpha: {gadget: synthetic, autostart: false}'
node_daemon beta 'tick:
  gadget: synthetic
  operators:
    synthetic: {rate: 50, fields: "seq:u64,comm:string"}
    null: {}'
echo "gamma $tmp/gamma.sock" >>"$OPHOST_TEST_NODES" # no daemon there
two=(-H ssh://alpha -H ssh://beta)

# adhoc_left NODE: the node's daemon lists an ad-hoc session.
adhoc_left() { "$ctl_bin" -s "$tmp/$1/ctl.sock" list sessions | has '(ad hoc)'; }
no_adhoc() { ! adhoc_left alpha && ! adhoc_left beta; }
# bridges: how many `ophostctl bridge` processes run now.
bridges() { ps -eo args | grep -c "^$ctl_bin bridge" || true; }
no_bridges() { [ "$(bridges)" = 0 ]; }

# --- lists, stats, describe: a NODE column
expect_rc 0 "$ctl_bin" "${two[@]}" list sessions
awk '{ print $1, $2, $4 }' "$tmp/out" >"$tmp/cols"
same "$tmp/cols" "NODE SESSION STATE
alpha only-alpha inactive
alpha tick running
beta tick running"
expect_rc 0 "$ctl_bin" "${two[@]}" list sessions -q
same "$tmp/out" "alpha/only-alpha
alpha/tick
beta/tick"
expect_rc 0 "$ctl_bin" "${two[@]}" --json list sessions
jq -r '.sessions[] | "\(.node) \(.name)"' "$tmp/out" >"$tmp/cols" || fail "--json list: $(cat "$tmp/out")"
same "$tmp/cols" "alpha only-alpha
alpha tick
beta tick"
[ "$(jq -r '.sessions[0] | keys_unsorted[0]' "$tmp/out")" = node ] || fail "node is not the first key: $(cat "$tmp/out")"
expect_rc 0 "$ctl_bin" "${two[@]}" list gadgets
grep -Eq '^NODE +GADGET +PLUGIN' "$tmp/out" || fail "list gadgets: $(head -2 "$tmp/out")"
[ "$(grep -c '^alpha  *synthetic ' "$tmp/out")" = 1 ] && [ "$(grep -c '^beta  *synthetic ' "$tmp/out")" = 1 ] ||
    fail "list gadgets rows: $(cat "$tmp/out")"
# One node is a node too: the shape does not depend on how many.
expect_rc 0 "$ctl_bin" -H ssh://beta list sessions
awk '{ print $1, $2 }' "$tmp/out" >"$tmp/cols"
same "$tmp/cols" "NODE SESSION
beta tick"
expect_rc 0 "$ctl_bin" "${two[@]}" stats tick
grep -Eq '^alpha: tick \(running\): [0-9]+ events emitted' "$tmp/out" || fail "stats: $(cat "$tmp/out")"
grep -Eq '^beta +null +[0-9]+' "$tmp/out" || fail "stats rows: $(cat "$tmp/out")"
grep -Eq '^NODE +  OPERATOR' "$tmp/out" || fail "stats head: $(cat "$tmp/out")"
expect_rc 0 "$ctl_bin" "${two[@]}" describe tick
[ "$(grep -c '^node: ' "$tmp/out")" = 2 ] && grep -q '^node:      beta$' "$tmp/out" || fail "describe: $(cat "$tmp/out")"
expect_rc 0 "$ctl_bin" "${two[@]}" --version
sed 1d "$tmp/out" | sed -E 's/ophostd [0-9][^ ]*$/ophostd V/' >"$tmp/cols"
same "$tmp/cols" "alpha: ophostd V
beta: ophostd V"
ok "list, stats and describe on two nodes: NODE column, NODE/NAME, \"node\" in JSON, --version per node"

# --- what ssh is asked to run
: >"$OPHOST_TEST_SSH_LOG"
expect_rc 3 "$ctl_bin" -H 'ssh://admin@[fd00::7]:2222' list sessions
same "$OPHOST_TEST_SSH_LOG" "-p 2222 -l admin -o BatchMode=yes -o ConnectTimeout=10 -T -e none -- fd00::7 $ctl_bin bridge"
grep -qx "ophostctl: admin@\[fd00::7\]:2222: cannot reach the daemon: ssh: connect to host fd00::7 port 2222: Connection refused" "$tmp/err" ||
    fail "IPv6 node: $(cat "$tmp/err")"
expect_rc 3 env OPHOST_SSH="$tmp/no-such-ssh -F x" "$ctl_bin" -H ssh://alpha list sessions
grep -qx "ophostctl: alpha: cannot reach the daemon: cannot run '$tmp/no-such-ssh': No such file or directory" "$tmp/err" ||
    fail "a missing ssh: $(cat "$tmp/err")"
ok "ssh gets -p, -l, BatchMode, no tty and 'ophostctl bridge'; an IPv6 URL; a missing ssh named"

# --- nodes that fail: reported, the others go on; exit statuses
expect_rc 1 "$ctl_bin" "${two[@]}" -H ssh://down -H ssh://gamma list sessions
awk '{ print $1, $2 }' "$tmp/out" >"$tmp/cols"
same "$tmp/cols" "NODE SESSION
alpha only-alpha
alpha tick
beta tick"
grep -qx "ophostctl: down: cannot reach the daemon: ssh: connect to host down port 22: Connection refused" "$tmp/err" ||
    fail "unreachable node: $(cat "$tmp/err")"
grep -qx "ophostctl: gamma: cannot reach the daemon: cannot connect to $tmp/gamma.sock: No such file or directory" "$tmp/err" ||
    fail "node without daemon: $(cat "$tmp/err")"
grep -q "^  Is ophostd running?" "$tmp/err" || fail "the remote explanation: $(cat "$tmp/err")"
expect_rc 3 "$ctl_bin" -H ssh://down -H ssh://gamma list sessions
[ ! -s "$tmp/out" ] || fail "output without any node: $(cat "$tmp/out")"
expect_rc 1 "$ctl_bin" "${two[@]}" describe only-alpha
grep -q '^node:      alpha$' "$tmp/out" || fail "describe on the node that has it: $(cat "$tmp/out")"
grep -qx "ophostctl: beta: no session named 'only-alpha'" "$tmp/err" || fail "describe elsewhere: $(cat "$tmp/err")"
ok "unreachable nodes and a node without daemon named with the reason; others shown; exit 1, or 3 when none"

# --- mutating calls on every node
expect_rc 0 "$ctl_bin" "${two[@]}" stop tick
same "$tmp/out" "alpha: tick: inactive
beta: tick: inactive"
expect_rc 1 "$ctl_bin" "${two[@]}" -H ssh://down start tick
same "$tmp/out" "alpha: tick: running
beta: tick: running"
grep -q "^ophostctl: down: cannot reach the daemon" "$tmp/err" || fail "start on down: $(cat "$tmp/err")"
expect_rc 1 "$ctl_bin" "${two[@]}" start only-alpha
same "$tmp/out" "alpha: only-alpha: running"
grep -qx "ophostctl: beta: no session named 'only-alpha'" "$tmp/err" || fail "start elsewhere: $(cat "$tmp/err")"
expect_rc 0 "$ctl_bin" --json "${two[@]}" reload
[ "$(jq -r '[.[].node] | join(" ")' "$tmp/out")" = "alpha beta" ] || fail "reload --json: $(cat "$tmp/out")"
ok "start, stop and reload on every node, a line each; a failing node makes it exit 1"

# --- run: the nodes' streams merged, each event with its node
expect_rc 0 "$ctl_bin" "${two[@]}" run synthetic -p rate=0 -p count=5 -o json
jq -r '"\(.node) \(.seq)"' "$tmp/out" | sort >"$tmp/cols"
same "$tmp/cols" "alpha 1
alpha 2
alpha 3
alpha 4
alpha 5
beta 1
beta 2
beta 3
beta 4
beta 5"
[ "$(jq -r 'keys_unsorted[0]' "$tmp/out" | sort -u)" = node ] || fail "node first: $(head -2 "$tmp/out")"
[ ! -s "$tmp/err" ] || fail "run -o json told: $(cat "$tmp/err")"
expect_rc 0 "$ctl_bin" "${two[@]}" run synthetic -p rate=0 -p count=2 --fields seq,comm
grep -qx "ophostctl: alpha: running session run-[0-9]*" "$tmp/err" && grep -qx "ophostctl: beta: session stopped, 2 events" "$tmp/err" ||
    fail "run messages: $(cat "$tmp/err")"
head -1 "$tmp/out" | grep -Eq '^NODE +SEQ COMM' || fail "run columns head: $(cat "$tmp/out")"
[ "$(grep -Ec '^(alpha|beta) +[12] comm-[12]$' "$tmp/out")" = 4 ] || fail "run columns: $(cat "$tmp/out")"
expect_rc 0 "$ctl_bin" "${two[@]}" run synthetic -p rate=0 -p count=4 --sort -seq --max-entries 3 -o json
jq -r .seq "$tmp/out" >"$tmp/cols"
same "$tmp/cols" "4
4
3"
expect_rc 0 "$ctl_bin" "${two[@]}" run synthetic -p rate=200 --max-entries 7 -o json
[ "$(wc -l <"$tmp/out")" = 7 ] || fail "--max-entries 7 in all: $(cat "$tmp/out")"
wait_for 5 no_adhoc || fail "ad-hoc sessions left after --max-entries"
expect_rc 0 "$ctl_bin" "${two[@]}" run synthetic -p rate=0 -p count=1 -o yaml
[ "$(grep -c '^- node: ' "$tmp/out")" = 2 ] || fail "yaml: $(cat "$tmp/out")"
expect_rc 1 "$ctl_bin" "${two[@]}" -H ssh://down run synthetic -p rate=0 -p count=3 -o json
[ "$(jq -r .node "$tmp/out" | sort | uniq -c | awk '{ print $2 $1 }' | tr '\n' ' ')" = "alpha3 beta3 " ] ||
    fail "run with a node down: $(cat "$tmp/out")"
grep -q "^ophostctl: down: cannot reach the daemon: ssh: connect to host down" "$tmp/err" || fail "run, down: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" "${two[@]}" run synthetic -p rate=0 -p count=3 --fields nope
grep -q "no field 'nope'" "$tmp/err" || fail "--fields nope: $(cat "$tmp/err")"
ok "run merges the nodes' events with node first (json, yaml, columns), sorts and limits across nodes"

# --- rounds: one table for both nodes a round
expect_rc 0 "$ctl_bin" "${two[@]}" run top_process -p interval=200ms -d 900ms --max-entries 2 --sort pid --fields pid,comm
grep -Eq '^NODE +PID COMM' "$tmp/out" || fail "rounds head: $(cat "$tmp/out")"
awk 'BEGIN { RS = ""; FS = "\n" } { print NF - 1 }' "$tmp/out" | sort -u >"$tmp/cols"
same "$tmp/cols" "4"
awk 'BEGIN { RS = ""; FS = "\n" } NR == 1 { for (i = 2; i <= NF; i++) { split($i, f, " "); printf "%s %s\n", f[1], f[2] } }' "$tmp/out" >"$tmp/cols"
[ "$(awk '{ print $1 }' "$tmp/cols" | sort | uniq -c | awk '{ print $2 $1 }' | tr '\n' ' ')" = "alpha2 beta2 " ] ||
    fail "a round has both nodes: $(cat "$tmp/out")"
sort -s -n -k2,2 "$tmp/cols" | diff - "$tmp/cols" >/dev/null || fail "a round sorted by pid across nodes: $(cat "$tmp/cols")"
ok "a gadget in rounds: each table holds both nodes' rounds, sorted together"

# --- Ctrl-C and SIGTERM end every remote session and bridge
for sig in INT TERM; do
    "$ctl_bin" "${two[@]}" run synthetic -p rate=20 -o json >"$tmp/run.out" 2>"$tmp/run.err" &
    cpid=$!
    wait_for 10 grep -q '"node":"beta"' "$tmp/run.out" || fail "run: no event from beta: $(cat "$tmp/run.err")"
    wait_for 10 grep -q '"node":"alpha"' "$tmp/run.out" || fail "run: no event from alpha: $(cat "$tmp/run.err")"
    adhoc_left alpha && adhoc_left beta || fail "no ad-hoc session while running"
    [ "$(bridges)" = 2 ] || fail "bridges while running: $(bridges)"
    kill -"$sig" "$cpid"
    rc=0
    wait "$cpid" || rc=$?
    [ "$rc" = 0 ] || fail "run after SIG$sig exited $rc: $(cat "$tmp/run.err")"
    # The bridges end when they see their input close: soon, not at once.
    wait_for 5 no_bridges || fail "bridges left after SIG$sig: $(ps -eo pid,args | grep "^ *[0-9]* $ctl_bin bridge")"
    wait_for 5 no_adhoc || fail "ad-hoc sessions left after SIG$sig"
done
timeout --preserve-status -s INT 2 "$ctl_bin" "${two[@]}" watch tick -o json >"$tmp/out" 2>"$tmp/err" || fail "watch: $(cat "$tmp/err")"
[ "$(jq -r .node "$tmp/out" | sort -u | tr '\n' ' ')" = "alpha beta " ] || fail "watch merged: $(cat "$tmp/out")"
wait_for 5 no_bridges || fail "bridges left after watch"
ok "SIGINT and SIGTERM end the run on every node (no ad-hoc session, no bridge left); watch merges"

# --- URLs, hosts files, $OPHOST_HOSTS
expect_rc 2 "$ctl_bin" -H http://alpha list sessions
grep -qx "ophostctl: -H 'http://alpha': only ssh:// URLs are supported" "$tmp/err" || fail "http: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" -H ssh://alpha:99999 list sessions
grep -q "the port is not a number from 1 to 65535" "$tmp/err" || fail "port: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" -H ssh://-oProxyCommand=x list sessions
grep -q "cannot start with '-'" "$tmp/err" || fail "dash host: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" -H ssh://alpha -H ssh://alpha list sessions
grep -q "node alpha is named twice" "$tmp/err" || fail "twice: $(cat "$tmp/err")"
printf '# the lab\n\nssh://alpha\n   ssh://beta   \n' >"$tmp/hosts"
expect_rc 0 "$ctl_bin" --hosts-file "$tmp/hosts" list sessions -q
same "$tmp/out" "alpha/only-alpha
alpha/tick
beta/tick"
printf 'ssh://alpha\nbeta\n' >"$tmp/hosts"
expect_rc 2 "$ctl_bin" --hosts-file "$tmp/hosts" list sessions
grep -qx "ophostctl: $tmp/hosts:2: 'beta': expected ssh://\[USER@\]HOST\[:PORT\]" "$tmp/err" || fail "hosts file error: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" --hosts-file "$tmp/none" list sessions
grep -q "$tmp/none: No such file or directory" "$tmp/err" || fail "no hosts file: $(cat "$tmp/err")"
expect_rc 0 env OPHOST_HOSTS="ssh://alpha, ssh://beta" "$ctl_bin" list sessions -q
same "$tmp/out" "alpha/only-alpha
alpha/tick
beta/tick"
ok "URL errors (scheme, port, '-', twice), a hosts file (comments, blanks, FILE:LINE errors), \$OPHOST_HOSTS"

# --- the bridge itself: half-close, and a socket that is not there
printf '{"method":"org.varlink.service.GetInfo","parameters":{}}\0' |
    OPHOST_SOCKET=$tmp/alpha/ctl.sock "$ctl_bin" bridge >"$tmp/out" 2>"$tmp/err" || fail "bridge: $(cat "$tmp/err")"
tr -d '\0' <"$tmp/out" | jq -e '.parameters.product' >/dev/null || fail "the reply after end of input: $(tr '\0' '\n' <"$tmp/out")"
expect_rc 3 env OPHOST_SOCKET="$tmp/none.sock" "$ctl_bin" bridge
grep -q "^ophostctl: cannot connect to $tmp/none.sock" "$tmp/err" || fail "bridge without daemon: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" -H ssh://alpha bridge
ok "bridge: the reply comes after end of input (half-close), exit 3 without a daemon"

# --- valgrind: the client's node code
# (grep reads all of ldd's output: with pipefail, grep -q could fail ldd.)
asan=$(ldd "$ctl_bin" 2>/dev/null | grep -c libasan || true)
if command -v valgrind >/dev/null && [ "$asan" = 0 ]; then
    vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no)
    expect_rc 1 "${vg[@]}" "$ctl_bin" -H ssh://alpha -H ssh://down list sessions
    expect_rc 0 "${vg[@]}" "$ctl_bin" "${two[@]}" stats
    expect_rc 0 "${vg[@]}" "$ctl_bin" "${two[@]}" run synthetic -p rate=0 -p count=20 --sort -seq --max-entries 3
    expect_rc 0 "${vg[@]}" "$ctl_bin" "${two[@]}" run top_process -p interval=100ms -d 500ms --max-entries 2
    expect_rc 2 "${vg[@]}" "$ctl_bin" --hosts-file "$tmp/hosts" list sessions
    expect_rc 3 env OPHOST_SOCKET="$tmp/none.sock" "${vg[@]}" "$ctl_bin" bridge
    ok "under valgrind: lists with a node down, stats, merged run and rounds, hosts file, bridge"
else
    echo "ok - SKIP: valgrind missing or an ASan build: the valgrind checks"
fi
# --- a node lost mid-stream: told, the other goes on
"$ctl_bin" "${two[@]}" watch tick -o json >"$tmp/run.out" 2>"$tmp/run.err" &
cpid=$!
wait_for 10 grep -q '"node":"beta"' "$tmp/run.out" || fail "watch: nothing from beta"
kill -KILL "${daemon_of[beta]}"
wait_for 10 grep -qx "ophostctl: beta: lost the connection to the daemon: the daemon closed the connection" "$tmp/run.err" ||
    fail "the lost node is not told: $(cat "$tmp/run.err")"
n=$(grep -c '"node":"alpha"' "$tmp/run.out")
wait_for 5 log_count_above '"node":"alpha"' "$tmp/run.out" "$n" || fail "alpha stopped with beta"
kill -INT "$cpid"
rc=0
wait "$cpid" || rc=$?
[ "$rc" = 1 ] || fail "watch with a lost node exited $rc (want 1)"
ok "a daemon killed mid-stream: its node is told, the other goes on, exit 1"

echo "all $n_ok checks passed"

# lib.sh — helpers of the shell tests that run the real ophostd. Sourced
# (bash, after `set -euo pipefail`) as
#     . "$(dirname "$0")/../lib.sh"
# Results are TAP-like lines: `ok N - WHAT`, or `FAIL: WHY` and exit 1 with
# the current daemon log. Every daemon started with start_daemon is killed
# and $tmp removed at exit.
# shellcheck shell=bash

n_ok=0
pids=()     # every daemon started, killed at exit
daemon_pid= # the last one
cur_log=    # its stderr, shown by fail
tmp=

# usage N TEXT "$@": exits 2 with "usage: TEXT" unless there are N arguments.
usage() {
    local n=$1 text=$2
    shift 2
    if [ $# -ne "$n" ]; then
        echo "usage: $text" >&2
        exit 2
    fi
}

cleanup() {
    local p
    for p in "${pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -KILL "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
}

# make_tmp NAME: sets $tmp to a new directory ${TMPDIR:-/tmp}/NAME.XXXXXX,
# removed at exit.
make_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap cleanup EXIT
}

fail() {
    echo "FAIL: $*"
    if [ -n "$cur_log" ] && [ -f "$cur_log" ]; then
        echo "---- daemon log $cur_log ----"
        cat "$cur_log"
        echo "---- end of daemon log ----"
    fi
    exit 1
}

ok() {
    n_ok=$((n_ok + 1))
    echo "ok $n_ok - $*"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on just now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# has GREP-ARGS...: true when grep finds a match on stdin, like grep -q, but
# it reads all of its input: grep -q quits at the first match, and the
# writer's SIGPIPE then fails the pipeline under pipefail (ldd, man,
# journalctl write in several pieces).
has() { grep "$@" >/dev/null; }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s; false on timeout.
wait_for() {
    local tries=$(($1 * 10))
    shift
    while [ "$tries" -gt 0 ]; do
        if "$@"; then
            return 0
        fi
        sleep 0.1
        tries=$((tries - 1))
    done
    "$@"
}

# lines FILE: the number of lines of FILE, 0 if it does not exist.
lines() {
    if [ -f "$1" ]; then
        wc -l <"$1" | tr -d ' '
    else
        echo 0
    fi
}

# count FIXED-STRING FILE: lines of FILE containing the string.
count() {
    local n
    n=$(grep -c -F -- "$1" "$2" 2>/dev/null) || true
    echo "${n:-0}"
}

# count_seq1 FILE: how many times a print sink started writing to FILE.
count_seq1() {
    local n
    n=$(grep -c '^seq=1 ' "$1" 2>/dev/null) || true
    echo "${n:-0}"
}
seq1_is() { [ "$(count_seq1 "$1")" -eq "$2" ]; }

has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
# log_count_above FIXED-STRING FILE N: FILE has more than N lines with it.
log_count_above() { [ "$(count "$1" "$2")" -gt "$3" ]; }
# log_has FIXED-STRING [FILE]: FILE (default: the current daemon log) has it.
log_has() { grep -q -F -- "$1" "${2:-$cur_log}" 2>/dev/null; }
is_dead() { ! kill -0 "$1" 2>/dev/null; }

# start_daemon LOG ARGS...: runs $ophostd (set by the test) with ARGS in the
# background, stderr to LOG; sets $daemon_pid and $cur_log.
# shellcheck disable=SC2154
start_daemon() {
    cur_log=$1
    shift
    "$ophostd" "$@" 2>"$cur_log" >/dev/null &
    daemon_pid=$!
    pids+=("$daemon_pid")
}

# stop_daemon: SIGTERM, then the daemon must exit 0 within 5 s.
stop_daemon() {
    local status=0
    kill -TERM "$daemon_pid"
    wait_for 5 is_dead "$daemon_pid" || fail "the daemon did not exit within 5 s of SIGTERM"
    wait "$daemon_pid" || status=$?
    [ "$status" -eq 0 ] || fail "the daemon exited with status $status after SIGTERM"
}

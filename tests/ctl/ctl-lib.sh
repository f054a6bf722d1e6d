# ctl-lib.sh — what the ophostctl tests share (sourced after ../lib.sh):
# a daemon on a temporary socket with the pipelines given, and `ctl` to run
# the client against it. Needs $ophostd, $ctl_bin and $plugins.
# shellcheck shell=bash

unset JOURNAL_STREAM OPHOST_PLUGIN_DIR LISTEN_FDS LISTEN_PID NO_COLOR

# ctl_daemon PIPELINE-YAML [PLUGIN-DIR...]: starts ophostd with that pipeline
# file and the plugin dirs ($plugins first); waits until it answers.
ctl_daemon() {
    local yaml=$1 dirs=() d
    shift
    mkdir -p "$tmp/pipelines.d" "$tmp/logs"
    chmod 0755 "$tmp"
    printf '%s\n' "$yaml" >"$tmp/pipelines.d/test.yaml"
    export OPHOST_SOCKET=$tmp/ctl.sock
    cat >"$tmp/ophostd.yaml" <<EOC
control-socket: $OPHOST_SOCKET
logs-directory: $tmp/logs
EOC
    for d in "$plugins" "$@"; do
        dirs+=(-p "$d")
    done
    start_daemon "$tmp/daemon.log" -c "$tmp/ophostd.yaml" "${dirs[@]}" -d "$tmp/pipelines.d"
    wait_for 10 "$ctl_bin" list sessions >/dev/null 2>&1 || fail "the daemon does not answer"
}

# expect_rc WANT CMD...: runs CMD, output in $tmp/out and $tmp/err.
expect_rc() {
    local want=$1 rc=0
    shift
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "stdout:"
        cat "$tmp/out"
        echo "stderr:"
        cat "$tmp/err"
        fail "'$*' exited $rc, expected $want"
    fi
}

# same FILE TEXT: FILE holds exactly TEXT (and a final newline).
same() {
    printf '%s\n' "$2" >"$tmp/want"
    diff -u "$tmp/want" "$1" >"$tmp/diff" || fail "$1 differs: $(cat "$tmp/diff")"
}

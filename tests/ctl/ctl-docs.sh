#!/usr/bin/env bash
# ctl-docs.sh OPHOSTD OPHOSTCTL PLUGIN_DIR MAN_DIR COMPLETION — the
# conventions around ophostctl: the four man pages render with `man -l`;
# the bash completion loads in bash and completes commands, session names
# and gadget names from the daemon; the socket comes from the daemon
# config's control-socket when neither --socket nor $OPHOST_SOCKET is given,
# and a connect error says how it was chosen and how to choose another;
# --version names the client's and the daemon's versions; mistyped
# commands, lists and sessions get a did-you-mean.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 5 "ctl-docs.sh OPHOSTD OPHOSTCTL PLUGIN_DIR MAN_DIR COMPLETION" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
man_dir=$4
completion=$5
make_tmp ophost-ctl-docs
ctl_daemon 'alpha: {gadget: synthetic, autostart: false}
beta: {gadget: synthetic, autostart: false}
demo: {gadget: synthetic, autostart: false}'

# --- man pages
if command -v man >/dev/null && [ -f "$man_dir/ophostctl.1" ]; then
    for page in ophostd.8 ophostctl.1 ophost.yaml.5 ophost-plugin.7; do
        MANWIDTH=80 man -l "$man_dir/$page" >"$tmp/man" 2>"$tmp/man.err" || fail "man -l $page: $(cat "$tmp/man.err")"
        name=${page%.*}
        grep -q "^NAME" "$tmp/man" || fail "$page has no NAME section"
        grep -q "^       $name - " "$tmp/man" || fail "$page NAME line: $(sed -n 1,5p "$tmp/man")"
        [ ! -s "$tmp/man.err" ] || fail "man -l $page warned: $(cat "$tmp/man.err")"
    done
    MANWIDTH=80 man -l "$man_dir/ophostctl.1" | has -- '--max-entries' || fail "ophostctl(1) lacks --max-entries"
    ok "man -l renders ophostd(8), ophostctl(1), ophost.yaml(5), ophost-plugin(7)"
else
    echo "ok - SKIP: man or the built pages ($man_dir) missing: man pages not checked"
fi

# --- bash completion
complete_words() {
    # complete_words WORD...: what completing the last word offers.
    PATH=$(dirname "$ctl_bin"):$PATH bash --norc --noprofile -c '
        . "$1"
        shift
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        _ophostctl
        printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
bash --norc --noprofile -c ". '$completion' && complete -p ophostctl" >"$tmp/out" 2>&1 ||
    fail "the completion script does not load: $(cat "$tmp/out")"
grep -q '_ophostctl ophostctl' "$tmp/out" || fail "complete -p: $(cat "$tmp/out")"
[ "$(complete_words ophostctl describe "" | tr '\n' ' ')" = "alpha beta demo " ] ||
    fail "describe completes: $(complete_words ophostctl describe "")"
[ "$(complete_words ophostctl watch a | tr '\n' ' ')" = "alpha " ] || fail "watch a: $(complete_words ophostctl watch a)"
[ "$(complete_words ophostctl st | tr '\n' ' ')" = "start stop stats " ] || fail "st: $(complete_words ophostctl st)"
complete_words ophostctl run trace_e | has -x trace_exec || fail "run trace_e: $(complete_words ophostctl run trace_e)"
[ "$(complete_words ophostctl --socket "$OPHOST_SOCKET" stop b | tr '\n' ' ')" = "beta " ] ||
    fail "with --socket: $(complete_words ophostctl --socket "$OPHOST_SOCKET" stop b)"
[ "$(complete_words ophostctl -H ssh://node1 st | tr '\n' ' ')" = "start stop stats " ] ||
    fail "after -H: $(complete_words ophostctl -H ssh://node1 st)"
[ "$(complete_words ophostctl --hos | tr '\n' ' ')" = "--host --hosts-file " ] || fail "--hos: $(complete_words ophostctl --hos)"
[ "$(complete_words ophostctl -H s | tr '\n' ' ')" = "ssh:// " ] || fail "-H s: $(complete_words ophostctl -H s)"
ok "bash completion loads and completes commands, sessions and gadgets from the daemon"

# --- the socket: --socket, $OPHOST_SOCKET, control-socket of the config
sock=$OPHOST_SOCKET
unset OPHOST_SOCKET
expect_rc 0 "$ctl_bin" --config "$tmp/ophostd.yaml" list sessions -q
[ "$(tr '\n' ' ' <"$tmp/out")" = "alpha beta demo " ] || fail "control-socket from --config: $(cat "$tmp/out")"
expect_rc 3 "$ctl_bin" --config "$tmp/nowhere.yaml" list sessions
grep -q "cannot connect to /run/ophost/ophostd.sock\|cannot connect to" "$tmp/err" || fail "connect error: $(cat "$tmp/err")"
grep -q "The socket is the default: no --socket, no \$OPHOST_SOCKET, and the daemon config $tmp/nowhere.yaml could not be read" "$tmp/err" ||
    fail "how the socket was chosen: $(cat "$tmp/err")"
grep -q "Choose another socket with --socket PATH or OPHOST_SOCKET=PATH" "$tmp/err" || fail "how to choose: $(cat "$tmp/err")"
printf 'control-socket: %s/other.sock\n' "$tmp" >"$tmp/other.yaml"
expect_rc 3 "$ctl_bin" -c "$tmp/other.yaml" list sessions
grep -q "cannot connect to $tmp/other.sock" "$tmp/err" || fail "config socket: $(cat "$tmp/err")"
grep -q "The socket is control-socket in $tmp/other.yaml" "$tmp/err" || fail "origin config: $(cat "$tmp/err")"
expect_rc 3 env OPHOST_SOCKET="$tmp/env.sock" "$ctl_bin" list sessions
grep -q "The socket is from \$OPHOST_SOCKET" "$tmp/err" || fail "origin env: $(cat "$tmp/err")"
expect_rc 3 "$ctl_bin" --socket "$tmp/opt.sock" list sessions
grep -q "The socket is from --socket" "$tmp/err" || fail "origin option: $(cat "$tmp/err")"
export OPHOST_SOCKET=$sock
ok "the socket from --socket, \$OPHOST_SOCKET or control-socket; connect errors say which and how to choose"

# --- version, hints
expect_rc 0 "$ctl_bin" --version
grep -Eqx 'ophostctl [0-9][^ ]*' <(head -1 "$tmp/out") || fail "--version: $(cat "$tmp/out")"
grep -Eqx "ophostd [0-9][^ ]* \\($OPHOST_SOCKET\\)" <(sed -n 2p "$tmp/out") || fail "--version daemon: $(cat "$tmp/out")"
expect_rc 2 "$ctl_bin" strat alpha
grep -qx "ophostctl: unknown command 'strat' (did you mean 'start'?)" "$tmp/err" || fail "strat: $(cat "$tmp/err")"
expect_rc 2 "$ctl_bin" list session
grep -q "unknown list 'session' (did you mean 'sessions'?)" "$tmp/err" || fail "list session: $(cat "$tmp/err")"
expect_rc 1 "$ctl_bin" describe dmeo
grep -q "Did you mean 'demo'?" "$tmp/err" || fail "describe dmeo: $(cat "$tmp/err")"
expect_rc 1 "$ctl_bin" watch alpah
grep -q "Did you mean 'alpha'?" "$tmp/err" || fail "watch alpah: $(cat "$tmp/err")"
ok "--version prints both versions; did-you-mean for commands, lists and sessions"

echo "all $n_ok checks passed"

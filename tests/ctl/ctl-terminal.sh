#!/usr/bin/env bash
# ctl-terminal.sh OPHOSTD OPHOSTCTL PLUGIN_DIR — `ophostctl run` in a real
# terminal (tmux, 100x24), asserting the screen: fixed-width columns whose
# header stays aligned over values longer than the column ('…'), the last
# text column using the rest of the line, a bold header only with colour
# allowed (not with NO_COLOR), a gadget in rounds (top_process) redrawn in
# place every round; the same commands piped print plain text.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"

usage 3 "ctl-terminal.sh OPHOSTD OPHOSTCTL PLUGIN_DIR" "$@"
ophostd=$1
ctl_bin=$2
plugins=$3
if ! command -v tmux >/dev/null; then
    echo "SKIP: tmux is not installed (apt-get install tmux): no terminal to test in"
    exit 77
fi
make_tmp ophost-ctl-term
ctl_daemon 'idle: {gadget: synthetic, autostart: false}'
tsock=$tmp/tmux.sock
tmux_cleanup() {
    tmux -S "$tsock" kill-server 2>/dev/null || true
    cleanup
}
trap tmux_cleanup EXIT

# in_tmux NAME ENV... -- CMD: runs CMD in a new 100x24 terminal.
in_tmux() {
    local name=$1
    shift
    TERM=xterm-256color tmux -S "$tsock" -f /dev/null new-session -d -s "$name" -x 100 -y 24 \
        "env OPHOST_SOCKET=$OPHOST_SOCKET $*; echo DONE; sleep 60"
}
screen_of() { tmux -S "$tsock" capture-pane -p -t "$1"; }
screen_has() { screen_of "$1" | has -- "$2"; }

syn="$ctl_bin run synthetic -p rate=0 -p count=12 -p fields=seq:u64,a_rather_long_name_x:string,n:u32,comm:string"

# --- a stream: alignment, truncation, the last column, colour
in_tmux t1 "$syn"
wait_for 10 screen_has t1 DONE || fail "run did not finish: $(screen_of t1)"
screen_of t1 >"$tmp/screen"
grep -v -e '^ophostctl: ' -e '^DONE' -e '^$' "$tmp/screen" >"$tmp/table"
cat >"$tmp/want" <<'EOT'
         SEQ A_RATHER_LONG_NAME_X          N COMM
           1 a_rather_long_name_…          1 comm-1
           2 a_rather_long_name_…          2 comm-2
           3 a_rather_long_name_…          3 comm-3
           4 a_rather_long_name_…          4 comm-4
           5 a_rather_long_name_…          5 comm-5
           6 a_rather_long_name_…          6 comm-6
           7 a_rather_long_name_…          7 comm-7
           8 a_rather_long_name_…          8 comm-8
           9 a_rather_long_name_…          9 comm-9
          10 a_rather_long_name_…         10 comm-10
          11 a_rather_long_name_…         11 comm-11
          12 a_rather_long_name_…         12 comm-12
EOT
diff -u "$tmp/want" "$tmp/table" >"$tmp/diff" || fail "the screen differs: $(cat "$tmp/diff")"
tmux -S "$tsock" capture-pane -e -p -t t1 | has $'\e\\[1m *SEQ' || fail "no bold header on a terminal"
ok "a terminal: header aligned over truncated values (…), numbers right-aligned, bold header"

in_tmux t2 "NO_COLOR=1 $syn"
wait_for 10 screen_has t2 DONE || fail "run did not finish: $(screen_of t2)"
tmux -S "$tsock" capture-pane -e -p -t t2 | has $'\e\\[' && fail "colour with NO_COLOR set"
screen_of t2 | has '^         SEQ A_RATHER_LONG_NAME_X' || fail "NO_COLOR table: $(screen_of t2)"
ok "NO_COLOR: the same table without escape sequences"

# Piped: no escape sequence, the same columns (the last one whole).
$syn >"$tmp/piped" 2>/dev/null
grep -q $'\e' "$tmp/piped" && fail "escape sequences in piped output"
sed -n 2p "$tmp/piped" | has -x '           1 a_rather_long_name_…          1 comm-1' ||
    fail "piped row: $(sed -n 2p "$tmp/piped")"
ok "piped: plain text, the same columns"

# --- a gadget in rounds: redrawn in place
in_tmux t3 "$ctl_bin run top_process -p interval=200ms --sort pid --max-entries 3 -d 3s"
sleep 1.5
screen_of t3 >"$tmp/screen3"
heads=$(grep -c '^ *PID COMM' "$tmp/screen3" || true)
[ "$heads" = 1 ] || fail "top_process on a terminal: $heads headers on the screen, not 1 (redraw): $(cat "$tmp/screen3")"
head -1 "$tmp/screen3" | has '^ *PID COMM  *CPU  *RSS THREADS' || fail "the header is not on the first line: $(cat "$tmp/screen3")"
[ "$(sed -n '2,4p' "$tmp/screen3" | grep -Ec '^ *[0-9]+ .*%')" = 3 ] || fail "3 rows with a CPU percent: $(cat "$tmp/screen3")"
sed -n 2,4p "$tmp/screen3" | grep -Eq '(B|KiB|MiB|GiB) +[0-9]+$' || fail "rss not in KiB/MiB: $(cat "$tmp/screen3")"
sleep 0.6
screen_of t3 >"$tmp/screen4"
[ "$(grep -c '^ *PID COMM' "$tmp/screen4" || true)" = 1 ] || fail "a later round: $(cat "$tmp/screen4")"
ok "top_process: one round on the screen, redrawn (header on line 1, 3 rows, % and MiB)"

$ctl_bin run top_process -p interval=100ms --sort pid --max-entries 2 -d 450ms >"$tmp/piped3" 2>/dev/null
grep -q $'\e' "$tmp/piped3" && fail "escape sequences in piped rounds"
[ "$(grep -c '^ *PID COMM' "$tmp/piped3")" -ge 3 ] || fail "piped rounds: $(cat "$tmp/piped3")"
ok "top_process piped: one table per round, plain"

echo "all $n_ok checks passed"

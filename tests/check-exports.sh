#!/bin/sh
# check-exports.sh PLUGIN.so... — each plugin's dynamic symbol table defines
# exactly one symbol, the entry function ophost_plugin_entry (a text symbol);
# anything else it exports is printed and fails the check. $NM overrides nm.
set -u

nm=${NM:-nm}
entry=ophost_plugin_entry
status=0

if [ $# -eq 0 ]; then
    echo "usage: check-exports.sh PLUGIN.so..." >&2
    exit 2
fi

for so in "$@"; do
    if ! out=$($nm -D --defined-only "$so" 2>&1); then
        echo "$so: $nm failed: $out"
        status=1
        continue
    fi
    # "ADDRESS TYPE NAME[@[@]VERSION]"; version nodes (type A) are not symbols.
    syms=$(printf '%s\n' "$out" | awk 'NF >= 2 && $(NF-1) != "A" { sub(/@.*/, "", $NF); print $(NF-1), $NF }')
    extra=$(printf '%s\n' "$syms" | awk -v e="$entry" 'NF && $2 != e { print $2 }')
    found=$(printf '%s\n' "$syms" | awk -v e="$entry" '$2 == e && ($1 == "T" || $1 == "t" || $1 == "i") { print $2 }')
    if [ -z "$found" ]; then
        echo "$so: does not export the function $entry"
        status=1
    fi
    if [ -n "$extra" ]; then
        echo "$so: exports more than $entry:" $extra
        status=1
    fi
    if [ -n "$found" ] && [ -z "$extra" ]; then
        echo "$so: ok"
    fi
done
exit $status

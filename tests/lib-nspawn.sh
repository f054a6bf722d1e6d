# lib-nspawn.sh — the Debian 12 container root and this build installed for
# it, shared by the tests that boot a real systemd with systemd-nspawn
# (tests/systemd/nspawn.sh, tests/fleet/fleet.sh). Sourced (bash, after
# `set -euo pipefail`) by a script that defines skip (prints the reason,
# exits 77) and fail (prints the reason, exits 1).
#
# The root is built once with debootstrap and cached as BUILDDIR/nspawn-root,
# with the package list in its .ophost-packages: a changed list rebuilds it.
# One list serves every test, so the tests share one cache.
# shellcheck shell=bash

# What the tests need inside: systemd and the libraries of ophostd (and
# procps, perl for inside.sh); sshd, systemd-journal-upload (package
# systemd-journal-remote) and the nodes of the fleet test.
nspawn_packages=systemd,systemd-sysv,dbus,libyaml-0-2,libjson-c5,libbpf1,libelf1,libmicrohttpd12,procps,openssh-server,systemd-journal-remote

# nspawn_check BUILDDIR: skips unless a container can be booted with this
# build: root, systemd-nspawn, meson (for meson install), no sanitizer.
nspawn_check() {
    [ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap and systemd-nspawn)"
    command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (Debian package systemd-container)"
    command -v meson >/dev/null || skip "meson is not in PATH (needed for meson install)"
    if readelf -d "$1/daemon/ophostd" 2>/dev/null | grep -E 'lib(a|ub|t)san' >/dev/null; then
        skip "sanitizer build: the container has no sanitizer runtime"
    fi
}

# nspawn_mirror: the first Debian URI of the apt sources that serves bookworm.
nspawn_mirror() {
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

# nspawn_reachable URL: the mirror serves bookworm's Release file.
nspawn_reachable() {
    if command -v wget >/dev/null; then
        wget -q -T 15 -t 1 -O /dev/null "$1/dists/bookworm/Release"
    elif command -v curl >/dev/null; then
        curl -fsS -m 15 -o /dev/null "$1/dists/bookworm/Release"
    else
        return 1
    fi
}

# nspawn_root BUILDDIR: makes sure BUILDDIR/nspawn-root is a root with
# $nspawn_packages, building it with debootstrap when it is missing or has
# another package list (about a minute, ~300 MB); sets $nspawn_cache. Skips
# without debootstrap or a reachable mirror when it has to build. Two tests
# building it at once wait for each other (flock on nspawn-root.lock).
nspawn_root() {
    local builddir=$1 url lockfd
    nspawn_cache=$builddir/nspawn-root
    exec {lockfd}>"$builddir/nspawn-root.lock"
    flock "$lockfd"
    if [ ! -x "$nspawn_cache/usr/lib/systemd/systemd" ] || [ ! -f "$nspawn_cache/.ophost-packages" ] ||
        [ "$(cat "$nspawn_cache/.ophost-packages")" != "$nspawn_packages" ]; then
        command -v debootstrap >/dev/null || skip "debootstrap is not installed"
        url=$(nspawn_mirror | head -n 1)
        [ -n "$url" ] || skip "no Debian bookworm mirror in /etc/apt/sources.list{,.d}"
        nspawn_reachable "$url" || skip "the Debian mirror $url cannot be reached"
        echo "# building the container root with debootstrap from $url (once per build dir)"
        rm -rf "$nspawn_cache" "$nspawn_cache.tmp"
        if ! debootstrap --variant=minbase --include="$nspawn_packages" bookworm "$nspawn_cache.tmp" "$url" \
            >"$builddir/nspawn-debootstrap.log" 2>&1; then
            tail -n 20 "$builddir/nspawn-debootstrap.log"
            fail "debootstrap failed (log: $builddir/nspawn-debootstrap.log)"
        fi
        # Containers share the host's network: nothing listens or sends unless
        # a test enables it (sshd on port 22, the journal uploader and receiver).
        systemctl --root="$nspawn_cache.tmp" --quiet disable ssh.service ssh.socket \
            systemd-journal-upload.service systemd-journal-remote.socket 2>/dev/null || true
        echo "$nspawn_packages" >"$nspawn_cache.tmp/.ophost-packages"
        mv "$nspawn_cache.tmp" "$nspawn_cache"
    fi
    exec {lockfd}>&-
}

# nspawn_stage BUILDDIR STAGE: installs this build into the new directory
# STAGE (meson install with DESTDIR) and sets the installed paths, as they
# are inside a root the stage is copied into: $inst_ophostd (the unit's
# ExecStart=), $inst_ophostctl (its ExecReload=), $inst_confdir (where
# ophostd.yaml is), $inst_plugindir, $inst_metrics_dropin
# (ophostd-metrics.conf), and $inst_activation (yes when ophostd takes
# sockets from systemd).
# shellcheck disable=SC2034 # the inst_* variables are for the sourcing script
nspawn_stage() {
    local builddir=$1 stage=$2 unit f
    rm -rf "$stage"
    DESTDIR=$stage meson install -C "$builddir" --no-rebuild --quiet >"$stage.log" 2>&1 ||
        fail "meson install failed: $(tail -n 20 "$stage.log")"
    unit=$(find "$stage" -name ophostd.service -type f | head -n 1)
    [ -n "$unit" ] || fail "meson install installed no ophostd.service"
    inst_ophostd=$(sed -n 's/^ExecStart=//p' "$unit")
    inst_ophostctl=$(sed -n 's/^ExecReload=\(.*\) reload$/\1/p' "$unit")
    inst_confdir=$(dirname "$(find "$stage" -name ophostd.yaml -type f | head -n 1)")
    inst_confdir=${inst_confdir#"$stage"}
    inst_plugindir=$(dirname "$(find "$stage" -name print.so -type f | head -n 1)")
    inst_plugindir=${inst_plugindir#"$stage"}
    f=$(find "$stage" -path '*/ophost/systemd/ophostd-metrics.conf' -type f | head -n 1)
    inst_metrics_dropin=${f#"$stage"}
    [ -x "$stage$inst_ophostd" ] || fail "ExecStart=$inst_ophostd is not installed"
    [ -x "$stage$inst_ophostctl" ] || fail "ExecReload=$inst_ophostctl reload: $inst_ophostctl is not installed"
    inst_activation=no
    # Not "| grep -q": grep quitting early would fail nm with SIGPIPE under pipefail.
    if nm -D --undefined-only "$stage$inst_ophostd" 2>/dev/null | grep -w sd_listen_fds >/dev/null; then
        inst_activation=yes
    fi
}

# nspawn_install STAGE ROOT: copies the staged build into the container root
# ROOT and fails when ophostd lacks a library there.
nspawn_install() {
    local stage=$1 root=$2 missing
    tar -C "$stage" -cf - . | tar -C "$root" -xf - --keep-directory-symlink --no-same-owner
    missing=$(chroot "$root" ldd "$inst_ophostd" | grep 'not found' || true)
    [ -z "$missing" ] || fail "libraries missing in the container (add their packages to nspawn_packages): $missing"
}

# nspawn_cgroup_enter NAME: moves the calling (sub)shell into a cgroup NAME
# of its own below the root of each mounted cgroup hierarchy that systemd
# uses (v1 name=systemd, the unified v2 one). systemd-nspawn --keep-unit
# puts its container in "payload" below its own cgroup: containers started
# from one cgroup would share it, and the systemd inside each would manage
# the others' units. Run it in the subshell that then execs systemd-nspawn.
nspawn_cgroup_enter() {
    local h
    for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
        [ -f "$h/cgroup.procs" ] || continue
        mkdir -p "$h/$1"
        echo "$BASHPID" >"$h/$1/cgroup.procs"
    done
}

# nspawn_cgroup_remove NAME: removes what nspawn_cgroup_enter NAME made,
# with the cgroups the container created below it, once they are empty.
nspawn_cgroup_remove() {
    local h
    for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
        [ -d "$h/$1" ] || continue
        find "$h/$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}

# nspawn_teardown STATE: for each line "PID ROOT CGROUP" of the file STATE
# (a systemd-nspawn process or 0, the root it boots, the cgroup of
# nspawn_cgroup_enter): SIGTERM to that systemd-nspawn (the container's
# systemd powers off), SIGKILL 10 s later, then ROOT unmounted when it is a
# mount point and CGROUP removed. Safe to run twice, and on lines whose
# container already ended.
nspawn_teardown() {
    local state=$1 pid root cg alive=()
    [ -f "$state" ] || return 0
    while read -r pid root cg; do
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-nspawn ]; then
            kill -TERM "$pid" 2>/dev/null || true
            alive+=("$pid")
        fi
    done <"$state"
    for pid in "${alive[@]}"; do
        for _ in $(seq 100); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    while read -r pid root cg; do
        for _ in $(seq 50); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
        if mountpoint -q "$root"; then
            umount "$root" 2>/dev/null || umount -l "$root"
        fi
        nspawn_cgroup_remove "$cg"
    done <"$state"
}

# nspawn_reaper STATE DIR: starts a watcher in a session of its own that,
# once this shell has exited, runs nspawn_teardown STATE and removes DIR
# (if STATE still exists: a normal exit tears down and removes DIR itself).
# meson kills a test that times out with SIGTERM and, 0.5 s later, SIGKILL
# to its whole process group: the shell's own cleanup may not finish, and
# containers outlive a killed systemd-nspawn. Start the containers with
# setsid too, so that the SIGKILL misses them and the watcher can have them
# power off.
nspawn_reaper() {
    # shellcheck disable=SC2016 # expanded by that bash
    setsid bash -c '
        . "$1"
        while kill -0 "$2" 2>/dev/null; do sleep 1; done
        if [ -f "$3" ]; then
            nspawn_teardown "$3"
            rm -rf "$4"
        fi' nspawn-reaper "${BASH_SOURCE[0]}" "$$" "$1" "$2" </dev/null >/dev/null 2>&1 &
}

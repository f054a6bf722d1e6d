/*
 * cgroup-container.h — finds the container a cgroup path belongs to. A pure
 * function (no I/O, no allocation), in a header so the unit plugin and its
 * test compile the same code.
 *
 * Recognised path components (the deepest match wins, so a container
 * nested in another reports the inner one):
 *
 *   docker-<64hex>.scope            docker (systemd cgroup driver)
 *   docker/<64hex>                  docker (cgroupfs driver)
 *   cri-containerd-<64hex>.scope    containerd (CRI, systemd driver)
 *   crio-<64hex>.scope              cri-o
 *   libpod-<64hex>[.scope]          podman (libpod-conmon-* is conmon, outside)
 *   <slice>:<rt>:<64hex>            kubelet's systemd-driver form with
 *                                   rt = cri-containerd, crio or docker
 *   <64hex> below kubepods          a CRI runtime with the cgroupfs driver:
 *                                   runtime "cri" (which one is not visible)
 *   machine-<name>.scope            a machine registered with systemd-machined:
 *                                   systemd-nspawn, or libvirt when the name
 *                                   starts with qemu- or lxc-; id = the name
 *   systemd-nspawn@<name>.service   systemd-nspawn; id = the name
 *
 * Machine names are unescaped from systemd's unit-name escaping ("\x2d").
 */
#ifndef OPHOST_PLUGINS_CGROUP_CONTAINER_H
#define OPHOST_PLUGINS_CGROUP_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

enum container_runtime {
    CONTAINER_NONE = 0,
    CONTAINER_DOCKER,
    CONTAINER_CONTAINERD,
    CONTAINER_CRIO,
    CONTAINER_PODMAN,
    CONTAINER_CRI,
    CONTAINER_NSPAWN,
    CONTAINER_LIBVIRT,
};

/* The container.runtime text of a runtime (NULL for CONTAINER_NONE). */
static inline const char *container_runtime_name(int rt) {
    static const char *const names[] = { NULL, "docker", "containerd", "cri-o", "podman",
                                         "cri", "systemd-nspawn", "libvirt" };
    return rt > 0 && (size_t) rt < sizeof(names) / sizeof(names[0]) ? names[rt] : NULL;
}

static inline bool cc_is_id(const char *s, size_t len) {
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static inline bool cc_starts(const char *s, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static inline bool cc_ends(const char *s, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* prefix<64hex>suffix (suffix optional when opt_suffix); the id in *ret. */
static inline bool cc_match_id(const char *c, size_t len, const char *prefix, const char *suffix,
                               bool opt_suffix, const char **ret) {
    size_t p = strlen(prefix), s = strlen(suffix);
    if (!cc_starts(c, len, prefix))
        return false;
    if (len == p + 64 + s && cc_ends(c, len, suffix) && cc_is_id(c + p, 64)) {
        *ret = c + p;
        return true;
    }
    if (opt_suffix && len == p + 64 && cc_is_id(c + p, 64)) {
        *ret = c + p;
        return true;
    }
    return false;
}

static inline int cc_hex(char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Copies a unit-name-escaped name to out (NUL-terminated), undoing "\xNN".
 * Returns the length, or 0 when it does not fit or is empty. */
static inline size_t cc_unescape(const char *s, size_t len, char *out, size_t size) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\\' && i + 3 < len && s[i + 1] == 'x' && cc_hex(s[i + 2]) >= 0 &&
            cc_hex(s[i + 3]) >= 0) {
            ch = (char) (cc_hex(s[i + 2]) * 16 + cc_hex(s[i + 3]));
            i += 3;
        }
        if (n + 1 >= size)
            return 0;
        out[n++] = ch;
    }
    if (n == 0)
        return 0;
    out[n] = '\0';
    return n;
}

/*
 * Parses the cgroup path path[0..len). Returns the runtime (CONTAINER_NONE
 * when the path is not a container's) and writes the container id,
 * NUL-terminated, to id (size bytes; at least 65 fit every hex id) with its
 * length in *ret_id_len. Nothing is written when CONTAINER_NONE is returned.
 */
static inline int cgroup_container_parse(const char *path, size_t len, char *id, size_t size,
                                         size_t *ret_id_len) {
    const char *end = path + len, *c = path, *prev = NULL;
    size_t prev_len = 0;
    bool kubepods = false;
    int found = CONTAINER_NONE;
    size_t found_len = 0;

    while (c < end) {
        const char *slash = memchr(c, '/', (size_t) (end - c));
        size_t n = (size_t) ((slash ? slash : end) - c);
        const char *hex = NULL, *colon;
        int rt = CONTAINER_NONE;
        size_t id_len = 64;

        if (n == 0)
            goto next;
        if (cc_starts(c, n, "kubepods"))
            kubepods = true;
        colon = memchr(c, ':', n);
        if (cc_match_id(c, n, "docker-", ".scope", false, &hex))
            rt = CONTAINER_DOCKER;
        else if (cc_match_id(c, n, "cri-containerd-", ".scope", false, &hex))
            rt = CONTAINER_CONTAINERD;
        else if (cc_match_id(c, n, "crio-", ".scope", true, &hex))
            rt = CONTAINER_CRIO;
        else if (cc_match_id(c, n, "libpod-", ".scope", true, &hex))
            rt = CONTAINER_PODMAN;
        else if (colon && n > 66 && colon < c + n - 65 && c[n - 65] == ':' && cc_is_id(c + n - 64, 64)) {
            /* <slice>:<runtime>:<id> */
            size_t rl = (size_t) (c + n - 65 - colon - 1);
            const char *r0 = colon;
            hex = c + n - 64;
            if (rl == strlen("cri-containerd") && memcmp(r0 + 1, "cri-containerd", rl) == 0)
                rt = CONTAINER_CONTAINERD;
            else if (rl == strlen("crio") && memcmp(r0 + 1, "crio", rl) == 0)
                rt = CONTAINER_CRIO;
            else if (rl == strlen("docker") && memcmp(r0 + 1, "docker", rl) == 0)
                rt = CONTAINER_DOCKER;
        } else if (cc_is_id(c, n)) {
            hex = c;
            if (prev && prev_len == strlen("docker") && memcmp(prev, "docker", prev_len) == 0)
                rt = CONTAINER_DOCKER;
            else if (kubepods)
                rt = CONTAINER_CRI;
        } else if (cc_starts(c, n, "machine-") && cc_ends(c, n, ".scope")) {
            char name[256];
            size_t m = cc_unescape(c + strlen("machine-"), n - strlen("machine-") - strlen(".scope"),
                                   name, sizeof(name));
            if (m > 0 && m < size) {
                rt = cc_starts(name, m, "qemu-") || cc_starts(name, m, "lxc-")
                         ? CONTAINER_LIBVIRT : CONTAINER_NSPAWN;
                memcpy(id, name, m + 1);
                found = rt;
                found_len = m;
            }
            rt = CONTAINER_NONE; /* already stored */
        } else if (cc_starts(c, n, "systemd-nspawn@") && cc_ends(c, n, ".service")) {
            char name[256];
            size_t m = cc_unescape(c + strlen("systemd-nspawn@"),
                                   n - strlen("systemd-nspawn@") - strlen(".service"), name,
                                   sizeof(name));
            if (m > 0 && m < size) {
                memcpy(id, name, m + 1);
                found = CONTAINER_NSPAWN;
                found_len = m;
            }
        }
        if (rt != CONTAINER_NONE && hex && id_len < size) {
            memcpy(id, hex, id_len);
            id[id_len] = '\0';
            found = rt;
            found_len = id_len;
        }
    next:
        prev = c;
        prev_len = n;
        if (!slash)
            break;
        c = slash + 1;
    }
    if (found != CONTAINER_NONE)
        *ret_id_len = found_len;
    return found;
}

#endif

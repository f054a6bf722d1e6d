/*
 * enrich-proc.h — small /proc readers and parsers shared by the enricher
 * plugins (procinfo, unit; everything is static, each plugin compiles its
 * own copy). Nothing here allocates: callers pass their preallocated buffers.
 */
#ifndef OPHOST_PLUGINS_ENRICH_PROC_H
#define OPHOST_PLUGINS_ENRICH_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ophost/ophost.h>

#define ENRICH_PF_KTHREAD 0x00200000u /* task flag of kernel threads (include/linux/sched.h) */

/* What the enrichers need from /proc/PID/stat. */
struct enrich_stat {
    char state;             /* field 3: R, S, D, Z, X, ... */
    uint32_t ppid;          /* field 4 */
    uint32_t flags;         /* field 9 */
    uint64_t starttime;     /* field 22: clock ticks after boot */
    uint64_t arg_start;     /* field 48: where argv lives (0 without ptrace access) */
    uint64_t arg_end;       /* field 49 */
};

/* Whether t is an integer field type a pid/uid/gid may have. */
static inline bool enrich_is_integer_type(uint32_t t) {
    return t >= OPHOST_FIELD_U8 && t <= OPHOST_FIELD_S64;
}

static inline const char *enrich_type_name(uint32_t t) {
    static const char *const names[] = { "?", "u8", "u16", "u32", "u64", "s32", "s64",
                                         "bool", "timestamp", "string", "bytes" };
    return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* An integer field's value, widened. *ret_negative tells a negative signed
 * value apart (its magnitude is then not meaningful as an id). */
static inline uint64_t enrich_get_integer(const struct ophost_event *e, ophost_field f,
                                          bool *ret_negative) {
    int64_t s;

    *ret_negative = false;
    switch (f.type) {
    case OPHOST_FIELD_U8: return ophost_event_get_u8(e, f);
    case OPHOST_FIELD_U16: return ophost_event_get_u16(e, f);
    case OPHOST_FIELD_U32: return ophost_event_get_u32(e, f);
    case OPHOST_FIELD_U64: return ophost_event_get_u64(e, f);
    case OPHOST_FIELD_S32: s = ophost_event_get_s32(e, f); break;
    case OPHOST_FIELD_S64: s = ophost_event_get_s64(e, f); break;
    default: return 0;
    }
    *ret_negative = s < 0;
    return (uint64_t) s;
}

/*
 * Parses the text of /proc/PID/stat. The command name (field 2) may contain
 * spaces and parentheses, so fields are counted from the last ')'. Fields
 * 48/49 are missing on old kernels and then read as 0. Returns whether the
 * fields up to 22 were found.
 */
static inline bool enrich_stat_parse(const char *buf, size_t len, struct enrich_stat *ret) {
    const char *p = NULL, *end = buf + len;
    uint64_t v[48] = { 0 }; /* v[k] = field k + 3 as a number */
    unsigned k = 0;

    for (const char *q = buf; q < end; q++)
        if (*q == ')')
            p = q;
    if (!p || p + 3 > end || p[1] != ' ')
        return false;
    ret->state = p[2];
    p += 3;
    /* Fields 4.. are integers (some, like tty_nr, may be negative). */
    while (p < end && k + 1 < sizeof(v) / sizeof(v[0])) {
        uint64_t x = 0;
        bool neg = false;
        while (p < end && *p == ' ')
            p++;
        if (p >= end || *p == '\n')
            break;
        if (*p == '-') {
            neg = true;
            p++;
        }
        if (p >= end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            x = x * 10 + (uint64_t) (*p++ - '0');
        v[++k] = neg ? (uint64_t) -(int64_t) x : x;
    }
    if (k < 22 - 3)
        return false;
    ret->ppid = (uint32_t) v[4 - 3];
    ret->flags = (uint32_t) v[9 - 3];
    ret->starttime = v[22 - 3];
    ret->arg_start = k >= 48 - 3 ? v[48 - 3] : 0;
    ret->arg_end = k >= 49 - 3 ? v[49 - 3] : 0;
    return true;
}

/* Reads up to size bytes of a file (fewer at its end) into buf. Returns the
 * number of bytes read or a negative errno (-ENOENT/-ESRCH: the process is
 * gone). */
static inline ssize_t enrich_read_file(const char *path, char *buf, size_t size) {
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0) {
            int err = errno;
            if (err == EINTR)
                continue;
            close(fd);
            return -err;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    return (ssize_t) got;
}

/* Reads and parses /proc/PID/stat with the caller's buffer. Returns 0,
 * -ENOENT when the process does not exist, or another negative errno. */
static inline int enrich_stat_read(uint32_t pid, char *buf, size_t size,
                                   struct enrich_stat *ret) {
    char path[32];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", pid);
    n = enrich_read_file(path, buf, size);
    if (n == -ESRCH)
        return -ENOENT;
    if (n < 0)
        return (int) n;
    return enrich_stat_parse(buf, (size_t) n, ret) ? 0 : -EBADMSG;
}

/*
 * Picks the cgroup path from the text of /proc/PID/cgroup: the cgroup v2
 * line "0::PATH" if there is one, else the systemd v1 hierarchy
 * "N:name=systemd:PATH". Returns whether a path was found; *ret points into
 * buf.
 */
static inline bool enrich_cgroup_pick(const char *buf, size_t len, const char **ret,
                                      size_t *ret_len) {
    const char *end = buf + len, *line = buf, *found = NULL;
    size_t found_len = 0;

    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t) (end - line));
        const char *eol = nl ? nl : end;
        const char *c1 = memchr(line, ':', (size_t) (eol - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (eol - c1 - 1)) : NULL;
        /* An unterminated last line was cut by the buffer: not trusted. */
        if (c2 && nl) {
            bool v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
            bool sd = (size_t) (c2 - c1 - 1) == strlen("name=systemd") &&
                      memcmp(c1 + 1, "name=systemd", strlen("name=systemd")) == 0;
            if (v2 || (sd && !found)) {
                found = c2 + 1;
                found_len = (size_t) (eol - found);
                if (v2)
                    break;
            }
        }
        line = eol + 1;
    }
    if (!found)
        return false;
    *ret = found;
    *ret_len = found_len;
    return true;
}

#endif

/*
 * procfs.h — small /proc readers and parsers shared by the plugins that look
 * at processes (snapshot_process, top_process, trace_open, procinfo, unit,
 * uidgid). Header-only: everything is static inline, each plugin compiles
 * its own copy and links against nothing. Nothing here allocates: callers
 * pass their preallocated buffers.
 */
#ifndef OPHOST_PLUGINS_PROCFS_H
#define OPHOST_PLUGINS_PROCFS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROCFS_PF_KTHREAD 0x00200000u /* task flag of kernel threads (include/linux/sched.h) */

/* Numbers of the /proc/PID/stat fields the plugins use (1-based, proc(5)). */
enum {
    PROCFS_STAT_PPID = 4,
    PROCFS_STAT_FLAGS = 9,
    PROCFS_STAT_UTIME = 14,
    PROCFS_STAT_STIME = 15,
    PROCFS_STAT_NUM_THREADS = 20,
    PROCFS_STAT_STARTTIME = 22, /* clock ticks after boot */
    PROCFS_STAT_RSS = 24,       /* pages */
    PROCFS_STAT_ARG_START = 48, /* where argv lives (0 without ptrace access) */
    PROCFS_STAT_ARG_END = 49,
    PROCFS_STAT_MAX = PROCFS_STAT_ARG_END,
};

/* What /proc/PID/stat says; comm points into the parsed text. */
struct procfs_stat {
    const char *comm;           /* field 2 without its parentheses */
    size_t comm_len;
    char state;                 /* field 3: R, S, D, Z, X, ... */
    unsigned last;              /* the last field parsed (fields after it read as 0) */
    uint64_t field[PROCFS_STAT_MAX + 1]; /* field[k] = field k, for 4 <= k <= last */
};

/*
 * Reads up to size bytes of the file at path (relative to dir_fd, an fd of
 * /proc, or AT_FDCWD for an absolute path) into buf; fewer at its end.
 * Returns the number of bytes read or a negative errno (-ENOENT/-ESRCH:
 * the process is gone).
 */
static inline ssize_t procfs_read(int dir_fd, const char *path, char *buf, size_t size) {
    size_t got = 0;
    int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

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

/* procfs_read of the file /proc/PID/name: proc_fd is an fd of /proc, or
 * AT_FDCWD to go by the absolute path. */
static inline ssize_t procfs_pid_read(int proc_fd, uint32_t pid, const char *name, char *buf,
                                      size_t size) {
    char path[64];

    if (proc_fd == AT_FDCWD)
        snprintf(path, sizeof(path), "/proc/%" PRIu32 "/%s", pid, name);
    else
        snprintf(path, sizeof(path), "%" PRIu32 "/%s", pid, name);
    return procfs_read(proc_fd, path, buf, size);
}

/* procfs_pid_read of at most size - 1 bytes, NUL-terminated when read. */
static inline ssize_t procfs_pid_read_str(int proc_fd, uint32_t pid, const char *name, char *buf,
                                          size_t size) {
    ssize_t n = procfs_pid_read(proc_fd, pid, name, buf, size - 1);

    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/*
 * Parses the text of /proc/PID/stat up to field max_field (at most
 * PROCFS_STAT_MAX). The command name (field 2) may contain spaces and
 * parentheses: it runs from the first '(' to the last ')', and the fields
 * are counted from that last ')'. Fields missing at the end of the line (old
 * kernels) are not an error: ret->last tells how far it went, callers check
 * it. Returns false when the text is not a stat line.
 */
static inline bool procfs_stat_parse(const char *buf, size_t len, unsigned max_field,
                                     struct procfs_stat *ret) {
    const char *open = memchr(buf, '(', len), *p = NULL, *end = buf + len;
    unsigned k = 3;

    for (const char *q = buf; q < end; q++)
        if (*q == ')')
            p = q;
    memset(ret, 0, sizeof(*ret));
    if (!open || !p || p < open || p + 3 > end || p[1] != ' ')
        return false;
    ret->comm = open + 1;
    ret->comm_len = (size_t) (p - open - 1);
    ret->state = p[2];
    p += 3;
    if (max_field > PROCFS_STAT_MAX)
        max_field = PROCFS_STAT_MAX;
    /* Fields 4.. are integers (some, like tty_nr, may be negative). */
    while (p < end && k < max_field) {
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
        ret->field[++k] = neg ? (uint64_t) -(int64_t) x : x;
    }
    ret->last = k;
    return true;
}

/* Reads and parses /proc/PID/stat (see procfs_pid_read for proc_fd) with
 * the caller's buffer. Returns 0, -ENOENT when the process does not exist,
 * -EBADMSG when the text is not a stat line or ends before field
 * min_field, or another negative errno. */
static inline int procfs_stat_read(int proc_fd, uint32_t pid, char *buf, size_t size,
                                   unsigned min_field, unsigned max_field,
                                   struct procfs_stat *ret) {
    ssize_t n = procfs_pid_read(proc_fd, pid, "stat", buf, size);

    if (n == -ESRCH)
        return -ENOENT;
    if (n < 0)
        return (int) n;
    if (!procfs_stat_parse(buf, (size_t) n, max_field, ret) || ret->last < min_field)
        return -EBADMSG;
    return 0;
}

/* The pid a /proc entry name stands for; false for other entries. */
static inline bool procfs_parse_pid(const char *name, uint32_t *ret) {
    uint64_t v = 0;

    if (!*name)
        return false;
    for (; *name; name++) {
        if (*name < '0' || *name > '9')
            return false;
        v = v * 10 + (uint64_t) (*name - '0');
        if (v > UINT32_MAX)
            return false;
    }
    if (v == 0)
        return false;
    *ret = (uint32_t) v;
    return true;
}

/* Walks the pids in /proc with getdents64 into the caller's buffer:
 *
 *     if ((r = procfs_pids_start(&it, proc_fd, buf, sizeof(buf))) < 0) ...
 *     while ((r = procfs_pids_next(&it, &pid)) > 0) ...
 *     if (r < 0) ...
 */
struct procfs_pids {
    int proc_fd;
    char *buf;
    size_t size, len, off;
};

/* Rewinds proc_fd (an fd of /proc) to its first entry: 0 or -errno. */
static inline int procfs_pids_start(struct procfs_pids *it, int proc_fd, char *buf, size_t size) {
    *it = (struct procfs_pids){ .proc_fd = proc_fd, .buf = buf, .size = size };
    return lseek(proc_fd, 0, SEEK_SET) < 0 ? -errno : 0;
}

/* The next pid: 1 and *ret_pid, 0 at the end, or -errno. */
static inline int procfs_pids_next(struct procfs_pids *it, uint32_t *ret_pid) {
    for (;;) {
        ssize_t n;

        while (it->off < it->len) {
            struct dirent64 *d = (struct dirent64 *) (void *) (it->buf + it->off);
            it->off += d->d_reclen;
            if (procfs_parse_pid(d->d_name, ret_pid))
                return 1;
        }
        n = getdents64(it->proc_fd, it->buf, it->size);
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        it->len = (size_t) n;
        it->off = 0;
    }
}

/* Opens /proc for the *at readers: an fd, or -1 with errno set. */
static inline int procfs_open(void) {
    return open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Clock ticks per second (the unit of the stat times); 100 if unknown. */
static inline uint64_t procfs_tick_hz(void) {
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (uint64_t) hz : 100;
}

/* Bytes per page (the unit of rss); 4096 if unknown. */
static inline uint64_t procfs_page_size(void) {
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (uint64_t) page : 4096;
}

static inline uint64_t procfs_clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The boot time on the realtime clock, to the nanosecond: the kernel counts
 * start times in ticks on CLOCK_BOOTTIME (btime in /proc/stat is whole
 * seconds, so start times would disagree by up to a second). */
static inline uint64_t procfs_boot_realtime_ns(void) {
    uint64_t rt = procfs_clock_ns(CLOCK_REALTIME);
    return rt - procfs_clock_ns(CLOCK_BOOTTIME);
}

/* Clock ticks as nanoseconds, without overflow or rounding drift. */
static inline uint64_t procfs_ticks_to_ns(uint64_t ticks, uint64_t tick_hz) {
    return ticks / tick_hz * 1000000000u + ticks % tick_hz * 1000000000u / tick_hz;
}

#endif

/*
 * trace_open — a gadget that reports file opens with fanotify.
 *
 * One fanotify group (FAN_CLASS_NOTIF, non-blocking) marks FAN_OPEN and
 * FAN_OPEN_EXEC on the mount (or the whole filesystem) that contains the
 * param 'path'. The group's fd sits on the session loop; when it is
 * readable the events are read until EAGAIN, each event's fd is turned into
 * a path through /proc/self/fd and closed, and the events go out in batches.
 * Opens made by the daemon itself are skipped (they would feed back into
 * the queue). A queue overflow is counted as one lost event.
 *
 * fanotify needs CAP_SYS_ADMIN; without it the session fails at pre_start
 * with the reason and other sessions are untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <time.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "procfs.h"
#include "schema.h"

/* How many read(2)s one wake-up does at most before it lets the loop run
 * other sources (a stop request, timers); epoll is level-triggered, so the
 * rest is read on the next iteration. */
#define MAX_READS_PER_WAKEUP 16

static const struct ophost_host *host;

struct trace_open {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field f_timestamp, f_pid, f_comm, f_path, f_flags, f_exec;
    const char *path;
    const char *prefix;
    size_t prefix_len;
    bool filesystem;
    pid_t self;
    int fan_fd;
    int proc_fd;
    struct ophost_source *io;
    uint64_t overflows;
    /* The read buffer, aligned for struct fanotify_event_metadata. */
    union {
        struct fanotify_event_metadata meta;
        char bytes[16384];
    } buf;
    char link[32];
    char target[PATH_MAX];
};

/* Reads params and declares the schema; acquires nothing (ophostd --check
 * runs this as a dry run). */
static int trace_open_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct trace_open *t = calloc(1, sizeof(*t));
    const char *mark;
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when it happened (wall clock)", NULL, NULL, false },
        { "pid", OPHOST_FIELD_U32, &t->f_pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },
        { "comm", OPHOST_FIELD_STRING, &t->f_comm, "command name (at most 15 bytes)", NULL, "16", false },
        { "path", OPHOST_FIELD_STRING, &t->f_path, "the opened file", NULL, "40", false },
        { "flags", OPHOST_FIELD_U32, &t->f_flags, "open flags (O_*)", NULL, NULL, true },
        { "exec", OPHOST_FIELD_BOOL, &t->f_exec, "opened for execution (FAN_OPEN_EXEC)", NULL, NULL, false },
        { 0 }
    };

    t->ctx = ctx;
    t->fan_fd = -1;
    t->proc_fd = -1;
    if ((r = host->param_string(ctx, "path", &t->path)) < 0 ||
        (r = host->param_string(ctx, "mark", &mark)) < 0 ||
        (r = host->param_string(ctx, "path-prefix", &t->prefix)) < 0)
        goto fail;
    if (t->path[0] != '/') {
        r = host->error(ctx, -EINVAL, "param 'path': '%s' is not an absolute path", t->path);
        goto fail;
    }
    t->filesystem = strcmp(mark, "filesystem") == 0;
    t->prefix_len = strlen(t->prefix);
    if ((r = schema_add_datasource(host, ctx, "opens", 0, &t->ds)) < 0 ||
        (r = schema_add_fields(host, ctx, t->ds, fields)) < 0)
        goto fail;
    *ret = t;
    return 0;
fail:
    free(t);
    return r;
}

static int trace_open_pre_start(struct ophost_ctx *ctx, void *data) {
    struct trace_open *t = data;
    unsigned int how = FAN_MARK_ADD | (t->filesystem ? FAN_MARK_FILESYSTEM : FAN_MARK_MOUNT);
    const char *what = t->filesystem ? "filesystem" : "mount";
    int e;

    t->self = getpid();
    t->proc_fd = procfs_open();
    if (t->proc_fd < 0)
        return host->error(ctx, -errno, "cannot open /proc: %s", strerror(errno));

    t->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
    if (t->fan_fd < 0) {
        e = errno;
        if (e == EPERM)
            return host->error(ctx, -EPERM,
                               "fanotify_init: %s: trace_open needs CAP_SYS_ADMIN (run ophostd as root)",
                               strerror(e));
        if (e == ENOSYS)
            return host->error(ctx, -ENOSYS,
                               "fanotify_init: %s: the kernel has no fanotify (CONFIG_FANOTIFY)",
                               strerror(e));
        return host->error(ctx, -e, "fanotify_init: %s", strerror(e));
    }
    if (fanotify_mark(t->fan_fd, how, FAN_OPEN | FAN_OPEN_EXEC, AT_FDCWD, t->path) < 0) {
        e = errno;
        if (e == EPERM)
            return host->error(ctx, -e,
                               "cannot mark the %s of '%s' (param 'path'): %s: trace_open needs "
                               "CAP_SYS_ADMIN (run ophostd as root)",
                               what, t->path, strerror(e));
        if (e == ENOENT || e == ENOTDIR || e == EACCES)
            return host->error(ctx, -e, "param 'path': cannot mark '%s': %s", t->path, strerror(e));
        if (e == EINVAL)
            return host->error(ctx, -e,
                               "cannot mark the %s of '%s' (param 'path'): %s: the kernel lacks "
                               "FAN_OPEN_EXEC (5.0) or filesystem marks (4.20)",
                               what, t->path, strerror(e));
        return host->error(ctx, -e, "cannot mark the %s of '%s' (param 'path'): %s", what, t->path,
                           strerror(e));
    }
    return 0;
}

/* The command name of pid into buf (at most 15 characters, no newline);
 * false if the process is gone. */
static bool read_comm(struct trace_open *t, uint32_t pid, char *buf, size_t size, size_t *ret_len) {
    ssize_t n = procfs_pid_read(t->proc_fd, pid, "comm", buf, size);

    if (n <= 0)
        return false;
    if (buf[n - 1] == '\n')
        n--;
    *ret_len = (size_t) n;
    return true;
}

static bool under_prefix(const struct trace_open *t, const char *path, size_t len) {
    return len >= t->prefix_len && memcmp(path, t->prefix, t->prefix_len) == 0;
}

/* Appends one event to b (emitting b first when it is full). Returns what
 * emit returned when it failed (the session is failing), else 0. */
static int add_event(struct trace_open *t, struct ophost_batch *b,
                     const struct fanotify_event_metadata *m, const char *path, size_t path_len,
                     uint64_t now) {
    struct ophost_event *e;
    char comm[64];
    size_t comm_len;
    int flags, r;

    if ((r = schema_batch_append(host, t->ctx, b, &e)) < 0)
        return r;
    ophost_event_set_u64(e, t->f_timestamp, now);
    ophost_event_set_u32(e, t->f_pid, (uint32_t) m->pid);
    if (read_comm(t, (uint32_t) m->pid, comm, sizeof(comm), &comm_len))
        (void) ophost_event_set_bytes(b, e, t->f_comm, comm, comm_len);
    (void) ophost_event_set_bytes(b, e, t->f_path, path, path_len);
    flags = fcntl(m->fd, F_GETFL);
    ophost_event_set_u32(e, t->f_flags, flags < 0 ? 0 : (uint32_t) flags);
    ophost_event_set_bool(e, t->f_exec, (m->mask & FAN_OPEN_EXEC) != 0);
    return 0;
}

/* Handles the events of one read(2): every event fd is closed, whatever
 * happens. Returns a negative errno once emitting fails. */
static int handle_buffer(struct trace_open *t, struct ophost_batch *b, ssize_t len, bool failing) {
    const struct fanotify_event_metadata *m = &t->buf.meta;
    struct timespec ts;
    uint64_t now;
    int r = failing ? -ESHUTDOWN : 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
    for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
        ssize_t n;

        if (m->vers != FANOTIFY_METADATA_VERSION) {
            /* A newer kernel ABI: the rest of the buffer cannot be parsed,
             * so its fds cannot be found to close them. Fail loudly. */
            return host->error(t->ctx, -EPROTO, "fanotify metadata version %u, expected %u",
                               m->vers, FANOTIFY_METADATA_VERSION);
        }
        if (m->mask & FAN_Q_OVERFLOW) {
            t->overflows++;
            host->lost(t->ctx, 1);
            host->log(t->ctx, OPHOST_LOG_WARNING,
                      "fanotify queue overflowed, opens were lost (counted as 1 lost event), "
                      "continuing");
        }
        if (m->fd < 0)
            continue;
        if (r < 0 || m->pid == t->self) {
            close(m->fd);
            continue;
        }
        snprintf(t->link, sizeof(t->link), "/proc/self/fd/%d", m->fd);
        n = readlink(t->link, t->target, sizeof(t->target));
        if (n > 0 && (t->prefix_len == 0 || under_prefix(t, t->target, (size_t) n)))
            r = add_event(t, b, m, t->target, (size_t) n, now);
        close(m->fd);
    }
    return r;
}

static int on_readable(struct ophost_ctx *ctx, int fd, uint32_t revents, void *userdata) {
    struct trace_open *t = userdata;
    struct ophost_batch *b = host->batch(ctx, t->ds);
    int r = 0;

    if (!b)
        return host->error(ctx, -EINVAL, "no batch for data source 'opens'");
    for (int i = 0; i < MAX_READS_PER_WAKEUP; i++) {
        ssize_t len = read(t->fan_fd, t->buf.bytes, sizeof(t->buf.bytes));
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return host->error(ctx, -errno, "cannot read the fanotify queue: %s", strerror(errno));
        }
        if (len == 0)
            break;
        r = handle_buffer(t, b, len, r < 0);
        if (r == -EPROTO)
            return r;
    }
    if (r == 0)
        (void) schema_batch_flush(host, ctx, b); /* on failure the session says why and stops */
    return 0;
}

static int trace_open_start(struct ophost_ctx *ctx, void *data) {
    struct trace_open *t = data;
    int r = host->io_add(ctx, t->fan_fd, POLLIN, on_readable, t, &t->io);
    if (r < 0)
        return host->error(ctx, r, "cannot watch the fanotify fd: %s", strerror(-r));
    return 0;
}

static int trace_open_stop(struct ophost_ctx *ctx, void *data) {
    struct trace_open *t = data;
    host->source_free(t->io);
    t->io = NULL;
    if (t->overflows)
        host->log(ctx, OPHOST_LOG_INFO, "the fanotify queue overflowed %llu times",
                  (unsigned long long) t->overflows);
    return 0;
}

static int trace_open_post_stop(struct ophost_ctx *ctx, void *data) {
    struct trace_open *t = data;
    if (t->fan_fd >= 0)
        close(t->fan_fd);
    if (t->proc_fd >= 0)
        close(t->proc_fd);
    t->fan_fd = t->proc_fd = -1;
    return 0;
}

static int trace_open_destroy(struct ophost_ctx *ctx, void *data) {
    struct trace_open *t = data;
    /* pre_start may have failed half-way: its undo (post_stop) then does
     * not run, so release what it acquired here. */
    trace_open_post_stop(ctx, t);
    free(t);
    return 0;
}

static const char *const mark_values[] = { "mount", "filesystem", NULL };

static const struct ophost_param params[] = {
    { .key = "path", .type = OPHOST_PARAM_STRING, .default_value = "/",
      .description = "an absolute path; opens on the mount (or filesystem, see 'mark') "
                     "containing it are reported" },
    { .key = "mark", .type = OPHOST_PARAM_STRING, .default_value = "mount",
      .allowed = mark_values,
      .description = "what to watch: 'mount' = the mount containing 'path', "
                     "'filesystem' = its whole filesystem (every mount of it)" },
    { .key = "path-prefix", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "report only opened paths starting with this text (plain string prefix; "
                     "end it with '/' to mean a directory); empty = all" },
    { 0 }
};

static const struct ophost_operator trace_open = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "trace_open",
    .description = "Reports file opens (fanotify FAN_OPEN/FAN_OPEN_EXEC; needs CAP_SYS_ADMIN)",
    .flags = OPHOST_OPERATOR_GADGET,
    .instance_params = params,
    .instantiate = trace_open_instantiate,
    .pre_start = trace_open_pre_start,
    .start = trace_open_start,
    .stop = trace_open_stop,
    .post_stop = trace_open_post_stop,
    .destroy = trace_open_destroy,
};

static const struct ophost_operator *const operators[] = { &trace_open, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "trace_open",
    .version = "1.0",
    .description = "File opens through fanotify",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

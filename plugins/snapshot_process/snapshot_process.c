/*
 * snapshot_process — a gadget that reports every process once, read from
 * /proc, and then completes its session on its own (like `ps -e`).
 *
 * The scan runs from a one-shot timer armed at start, so the session is
 * fully up before the first batch leaves. /proc is read with getdents64
 * into a buffer allocated once; per process it reads /proc/PID/stat and
 * /proc/PID/status. A process that exits during the scan is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "procfs.h"
#include "schema.h"

/* Processes per batch: a whole round on any ordinary machine. */
#define PROCESSES_PER_BATCH 65536

static const struct ophost_host *host;

struct snapshot {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field f_pid, f_ppid, f_uid, f_comm, f_state, f_threads, f_rss, f_start_time;
    bool kernel_threads;
    int proc_fd;
    struct ophost_source *timer;
    uint64_t boot_nsec; /* boot time on the realtime clock */
    uint64_t tick_hz;
    uint64_t page_size;
    uint64_t emitted;
    char dents[32768];
    char stat[1024];
    char status[4096];
};

/* What one process's /proc/PID/stat and status say. */
struct proc_info {
    struct procfs_stat stat;
    uint32_t uid;
};

static int snapshot_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct snapshot *s = calloc(1, sizeof(*s));
    int r;

    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    s->proc_fd = -1;
    const struct schema_field fields[] = {
        { "pid", OPHOST_FIELD_U32, &s->f_pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },
        { "ppid", OPHOST_FIELD_U32, &s->f_ppid, "parent process id", NULL, "7", false },
        { "uid", OPHOST_FIELD_U32, &s->f_uid, "effective user id", NULL, "6", false },
        { "comm", OPHOST_FIELD_STRING, &s->f_comm, "command name (at most 15 bytes)", NULL, "16", false },
        { "state", OPHOST_FIELD_STRING, &s->f_state, "R running, S sleeping, D disk sleep, T stopped, Z zombie, I idle, ...", NULL, "5", false },
        { "threads", OPHOST_FIELD_U32, &s->f_threads, "number of threads", NULL, "7", false },
        { "rss", OPHOST_FIELD_U64, &s->f_rss, "resident memory", "bytes", "8", false },
        { "start_time", OPHOST_FIELD_TIMESTAMP, &s->f_start_time, "when the process started", NULL, NULL, true },
        { 0 }
    };

    /* One round is one batch, so sort and limiter see all of it (a
     * "top 10" over every process, not per 256). More processes than this
     * arrive in several batches. */
    if ((r = host->param_bool(ctx, "kernel-threads", &s->kernel_threads)) < 0 ||
        (r = schema_add_datasource(host, ctx, "processes", PROCESSES_PER_BATCH, &s->ds)) < 0 ||
        (r = schema_add_fields(host, ctx, s->ds, fields)) < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    free(s);
    return r;
}

static int snapshot_pre_start(struct ophost_ctx *ctx, void *data) {
    struct snapshot *s = data;

    s->tick_hz = procfs_tick_hz();
    s->page_size = procfs_page_size();
    s->proc_fd = procfs_open();
    if (s->proc_fd < 0)
        return host->error(ctx, -errno, "cannot open /proc: %s (is procfs mounted?)",
                           strerror(errno));
    /* The same way the procinfo enricher computes it. */
    s->boot_nsec = procfs_boot_realtime_ns();
    return 0;
}

/* The effective uid from /proc/PID/status ("Uid: real effective saved fs"). */
static bool parse_uid(const char *text, uint32_t *ret) {
    const char *line = strstr(text, "\nUid:");
    unsigned real, eff;

    if (!line || sscanf(line + 5, "%u %u", &real, &eff) != 2)
        return false;
    *ret = eff;
    return true;
}

/* Reads one process; false if it is gone (or unreadable) and is skipped. */
static bool read_process(struct snapshot *s, uint32_t pid, struct proc_info *p) {
    ssize_t n;

    if (procfs_stat_read(s->proc_fd, pid, s->stat, sizeof(s->stat), PROCFS_STAT_RSS,
                         PROCFS_STAT_RSS, &p->stat) < 0)
        return false;
    n = procfs_pid_read_str(s->proc_fd, pid, "status", s->status, sizeof(s->status));
    return n > 0 && parse_uid(s->status, &p->uid);
}

/* Appends the process to b, emitting b first when it is full. */
static int add_event(struct snapshot *s, struct ophost_batch *b, uint32_t pid,
                     const struct proc_info *p) {
    const struct procfs_stat *st = &p->stat;
    struct ophost_event *e;
    int r;

    if ((r = schema_batch_append(host, s->ctx, b, &e)) < 0)
        return r;
    ophost_event_set_u32(e, s->f_pid, pid);
    ophost_event_set_u32(e, s->f_ppid, (uint32_t) st->field[PROCFS_STAT_PPID]);
    ophost_event_set_u32(e, s->f_uid, p->uid);
    (void) ophost_event_set_bytes(b, e, s->f_comm, st->comm, st->comm_len);
    (void) ophost_event_set_bytes(b, e, s->f_state, &st->state, 1);
    ophost_event_set_u32(e, s->f_threads, (uint32_t) st->field[PROCFS_STAT_NUM_THREADS]);
    ophost_event_set_u64(e, s->f_rss, st->field[PROCFS_STAT_RSS] * s->page_size);
    ophost_event_set_u64(e, s->f_start_time,
                         s->boot_nsec +
                             procfs_ticks_to_ns(st->field[PROCFS_STAT_STARTTIME], s->tick_hz));
    s->emitted++;
    return 0;
}

static int scan(struct snapshot *s) {
    struct ophost_batch *b = host->batch(s->ctx, s->ds);
    struct procfs_pids it;
    struct proc_info p;
    uint32_t pid = 0;
    int r;

    if (!b)
        return host->error(s->ctx, -EINVAL, "no batch for data source 'processes'");
    if ((r = procfs_pids_start(&it, s->proc_fd, s->dents, sizeof(s->dents))) < 0)
        return host->error(s->ctx, r, "cannot rewind /proc: %s", strerror(-r));
    while ((r = procfs_pids_next(&it, &pid)) > 0) {
        if (!read_process(s, pid, &p))
            continue;
        if (!s->kernel_threads && (p.stat.field[PROCFS_STAT_FLAGS] & PROCFS_PF_KTHREAD))
            continue;
        if (add_event(s, b, pid, &p) < 0)
            return 1; /* the session is failing and says why */
    }
    if (r < 0)
        return host->error(s->ctx, r, "cannot list /proc: %s", strerror(-r));
    if (schema_batch_flush(host, s->ctx, b) < 0)
        return 1;
    return 0;
}

static int on_timer(struct ophost_ctx *ctx, void *userdata) {
    struct snapshot *s = userdata;
    int r;

    s->timer = NULL; /* one-shot: the host frees it when the instance stops */
    r = scan(s);
    if (r < 0)
        return r;
    if (r == 0)
        host->done(ctx, 0);
    return 0;
}

static int snapshot_start(struct ophost_ctx *ctx, void *data) {
    struct snapshot *s = data;
    int r = host->timer_add(ctx, 0, 0, on_timer, s, &s->timer);
    if (r < 0)
        return host->error(ctx, r, "cannot add a timer: %s", strerror(-r));
    return 0;
}

static int snapshot_stop(struct ophost_ctx *ctx, void *data) {
    struct snapshot *s = data;
    host->source_free(s->timer);
    s->timer = NULL;
    host->log(ctx, OPHOST_LOG_DEBUG, "reported %llu processes", (unsigned long long) s->emitted);
    return 0;
}

static int snapshot_post_stop(struct ophost_ctx *ctx, void *data) {
    struct snapshot *s = data;
    if (s->proc_fd >= 0)
        close(s->proc_fd);
    s->proc_fd = -1;
    return 0;
}

static int snapshot_destroy(struct ophost_ctx *ctx, void *data) {
    /* pre_start may have failed after opening /proc (post_stop then does
     * not run). */
    snapshot_post_stop(ctx, data);
    free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "kernel-threads", .type = OPHOST_PARAM_BOOL, .default_value = "true",
      .description = "include kernel threads (kthreadd and its children)" },
    { 0 }
};

static const struct ophost_operator snapshot_process = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "snapshot_process",
    .description = "Reports every process once from /proc, then completes",
    .flags = OPHOST_OPERATOR_GADGET,
    .instance_params = params,
    .instantiate = snapshot_instantiate,
    .pre_start = snapshot_pre_start,
    .start = snapshot_start,
    .stop = snapshot_stop,
    .post_stop = snapshot_post_stop,
    .destroy = snapshot_destroy,
};

static const struct ophost_operator *const operators[] = { &snapshot_process, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "snapshot_process",
    .version = "1.0",
    .description = "A one-shot process listing from /proc",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

/*
 * snapshot_process — a gadget that reports every process once, read from
 * /proc, and then completes its session on its own (like `ps -e`).
 *
 * The scan runs from a one-shot timer armed at start, so the session is
 * fully up before the first batch leaves. /proc is read with getdents64
 * into a buffer allocated once; per process it reads /proc/PID/stat and
 * /proc/PID/status. A process that exits during the scan is skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ophost/ophost.h>

#define PF_KTHREAD 0x00200000u /* linux/sched.h: "I am a kernel thread" */

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
    const char *comm;
    size_t comm_len;
    char state;
    uint32_t ppid;
    uint32_t flags;
    uint32_t threads;
    uint64_t start_ticks;
    uint64_t rss_pages;
    uint32_t uid;
};

static int add_field(struct snapshot *s, const char *name, uint32_t type, ophost_field *ret) {
    int r = host->field_add(s->ctx, s->ds, name, type, ret);
    if (r < 0)
        return host->error(s->ctx, r, "cannot add field '%s': %s", name, strerror(-r));
    return 0;
}

static int snapshot_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct snapshot *s = calloc(1, sizeof(*s));
    int r;

    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    s->proc_fd = -1;
    if ((r = host->param_bool(ctx, "kernel-threads", &s->kernel_threads)) < 0)
        goto fail;
    if ((r = host->datasource_add(ctx, "processes", &s->ds)) < 0) {
        r = host->error(ctx, r, "cannot add data source 'processes': %s", strerror(-r));
        goto fail;
    }
    /* One round is one batch, so sort and limiter see all of it (a
     * "top 10" over every process, not per 256). More processes than this
     * arrive in several batches. */
    if ((r = host->datasource_set_capacity(ctx, s->ds, PROCESSES_PER_BATCH)) < 0) {
        r = host->error(ctx, r, "cannot size the batch: %s", strerror(-r));
        goto fail;
    }
    if ((r = add_field(s, "pid", OPHOST_FIELD_U32, &s->f_pid)) < 0 ||
        (r = add_field(s, "ppid", OPHOST_FIELD_U32, &s->f_ppid)) < 0 ||
        (r = add_field(s, "uid", OPHOST_FIELD_U32, &s->f_uid)) < 0 ||
        (r = add_field(s, "comm", OPHOST_FIELD_STRING, &s->f_comm)) < 0 ||
        (r = add_field(s, "state", OPHOST_FIELD_STRING, &s->f_state)) < 0 ||
        (r = add_field(s, "threads", OPHOST_FIELD_U32, &s->f_threads)) < 0 ||
        (r = add_field(s, "rss", OPHOST_FIELD_U64, &s->f_rss)) < 0 ||
        (r = add_field(s, "start_time", OPHOST_FIELD_TIMESTAMP, &s->f_start_time)) < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    free(s);
    return r;
}

/* Reads a whole small file under /proc into buf (NUL-terminated); the
 * length, or a negative errno (-ENOENT/-ESRCH: the process is gone). */
static ssize_t read_proc_file(int proc_fd, const char *name, char *buf, size_t size) {
    ssize_t n;
    int fd = openat(proc_fd, name, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    n = read(fd, buf, size - 1);
    if (n < 0)
        n = -errno;
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static int snapshot_pre_start(struct ophost_ctx *ctx, void *data) {
    struct snapshot *s = data;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);

    s->tick_hz = hz > 0 ? (uint64_t) hz : 100;
    s->page_size = page > 0 ? (uint64_t) page : 4096;
    s->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->proc_fd < 0)
        return host->error(ctx, -errno, "cannot open /proc: %s (is procfs mounted?)",
                           strerror(errno));
    /* The boot time on the realtime clock, to the nanosecond, the same way
     * the procinfo enricher computes it (btime in /proc/stat is whole
     * seconds, so start times would disagree by up to a second). */
    {
        struct timespec rt, bt;
        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_BOOTTIME, &bt);
        s->boot_nsec = ((uint64_t) rt.tv_sec * 1000000000u + (uint64_t) rt.tv_nsec) -
                       ((uint64_t) bt.tv_sec * 1000000000u + (uint64_t) bt.tv_nsec);
    }
    return 0;
}

/* Parses /proc/PID/stat text. The comm may contain spaces and ')', so it
 * runs from the first '(' to the last ')'. */
static bool parse_stat(char *text, size_t len, struct proc_info *p) {
    char *open = memchr(text, '(', len), *close = NULL, *cur;
    uint64_t v[25] = { 0 };

    for (char *c = text + len; c > text; c--)
        if (c[-1] == ')') {
            close = c - 1;
            break;
        }
    if (!open || !close || close < open || close + 4 > text + len)
        return false;
    p->comm = open + 1;
    p->comm_len = (size_t) (close - open - 1);
    p->state = close[2];
    cur = close + 3;
    /* Fields 4..24 (1-based as in proc(5)); negative ones are not used. */
    for (int i = 4; i <= 24; i++) {
        char *end;
        v[i] = strtoull(cur, &end, 10);
        if (end == cur)
            return false;
        cur = end;
    }
    p->ppid = (uint32_t) v[4];
    p->flags = (uint32_t) v[9];
    p->threads = (uint32_t) v[20];
    p->start_ticks = v[22];
    p->rss_pages = v[24];
    return true;
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
    char name[64];
    ssize_t n;

    snprintf(name, sizeof(name), "%u/stat", pid);
    n = read_proc_file(s->proc_fd, name, s->stat, sizeof(s->stat));
    if (n <= 0 || !parse_stat(s->stat, (size_t) n, p))
        return false;
    snprintf(name, sizeof(name), "%u/status", pid);
    n = read_proc_file(s->proc_fd, name, s->status, sizeof(s->status));
    return n > 0 && parse_uid(s->status, &p->uid);
}

/* The pid a /proc entry name stands for; false for other entries. */
static bool parse_pid(const char *name, uint32_t *ret) {
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

/* Appends the process to b, emitting b first when it is full. */
static int add_event(struct snapshot *s, struct ophost_batch *b, uint32_t pid,
                     const struct proc_info *p) {
    struct ophost_event *e = ophost_batch_append(b);

    if (!e) {
        int r = host->emit(s->ctx, b);
        if (r < 0)
            return r;
        e = ophost_batch_append(b);
        if (!e)
            return -ENOBUFS;
    }
    ophost_event_set_u32(e, s->f_pid, pid);
    ophost_event_set_u32(e, s->f_ppid, p->ppid);
    ophost_event_set_u32(e, s->f_uid, p->uid);
    (void) ophost_event_set_bytes(b, e, s->f_comm, p->comm, p->comm_len);
    (void) ophost_event_set_bytes(b, e, s->f_state, &p->state, 1);
    ophost_event_set_u32(e, s->f_threads, p->threads);
    ophost_event_set_u64(e, s->f_rss, p->rss_pages * s->page_size);
    ophost_event_set_u64(e, s->f_start_time,
                         s->boot_nsec + p->start_ticks / s->tick_hz * 1000000000u +
                             p->start_ticks % s->tick_hz * 1000000000u / s->tick_hz);
    s->emitted++;
    return 0;
}

static int scan(struct snapshot *s) {
    struct ophost_batch *b = host->batch(s->ctx, s->ds);

    if (!b)
        return host->error(s->ctx, -EINVAL, "no batch for data source 'processes'");
    if (lseek(s->proc_fd, 0, SEEK_SET) < 0)
        return host->error(s->ctx, -errno, "cannot rewind /proc: %s", strerror(errno));
    for (;;) {
        ssize_t n = getdents64(s->proc_fd, s->dents, sizeof(s->dents));
        if (n < 0)
            return host->error(s->ctx, -errno, "cannot list /proc: %s", strerror(errno));
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *) (void *) (s->dents + off);
            struct proc_info p;
            uint32_t pid;
            off += d->d_reclen;
            if (!parse_pid(d->d_name, &pid) || !read_process(s, pid, &p))
                continue;
            if (!s->kernel_threads && (p.flags & PF_KTHREAD))
                continue;
            if (add_event(s, b, pid, &p) < 0)
                return 1; /* the session is failing and says why */
        }
    }
    if (b->n > 0 && host->emit(s->ctx, b) < 0)
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

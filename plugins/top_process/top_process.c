/*
 * top_process — a gadget that reports, every 'interval', each process with
 * the CPU it used over that interval (like top), for sort and limiter
 * operators to pick the busiest.
 *
 * cpu is in hundredths of a percent of one CPU: 10000 = one CPU fully busy
 * for the whole interval; a process with several busy threads can exceed
 * 10000 (as in top). It is computed from utime+stime of /proc/PID/stat
 * (clock ticks) against the time since the previous round. A baseline
 * round at start reports nothing, so every process that existed then has a
 * previous sample; a process first seen in a round started during the
 * interval, and its cpu is its whole CPU time over the time since it
 * started (its start time is compared too, so a reused pid counts as new).
 *
 * Per-pid samples live in two open-addressing hash tables: the round reads
 * the previous table and fills the current one, then they swap. A process
 * that exited is simply not carried over, so the tables hold exactly the
 * live processes (they only grow, to the peak process count); nothing is
 * allocated per process on the steady path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "procfs.h"
#include "schema.h"

#define MIN_TABLE 64

/* Processes per batch: a whole round on any ordinary machine. */
#define PROCESSES_PER_BATCH 65536

static const struct ophost_host *host;

struct sample {
    uint32_t pid; /* 0 = empty slot */
    uint64_t start_ticks;
    uint64_t cpu_ticks;
};

struct table {
    struct sample *slots;
    uint32_t cap; /* a power of two */
    uint32_t n;
};

struct top {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field f_pid, f_comm, f_cpu, f_rss, f_threads;
    uint64_t interval_nsec;
    int proc_fd;
    struct ophost_source *timer;
    uint64_t tick_hz;
    uint64_t page_size;
    struct table tables[2];
    unsigned cur;          /* tables[cur] is filled by the running round */
    uint64_t prev_nsec;    /* CLOCK_BOOTTIME of the previous round */
    uint64_t rounds;
    char dents[32768];
    char stat[1024];
};

static int top_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct top *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    t->ctx = ctx;
    t->proc_fd = -1;
    const struct schema_field fields[] = {
        { "pid", OPHOST_FIELD_U32, &t->f_pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },
        { "comm", OPHOST_FIELD_STRING, &t->f_comm, "command name (at most 15 bytes)", NULL, "16", false },
        { "cpu", OPHOST_FIELD_U32, &t->f_cpu, "CPU use over the round (100% = one CPU busy)", "centipercent", "7", false },
        { "rss", OPHOST_FIELD_U64, &t->f_rss, "resident memory", "bytes", "8", false },
        { "threads", OPHOST_FIELD_U32, &t->f_threads, "number of threads", NULL, "7", false },
        { 0 }
    };

    /* One round is one batch, so sort and limiter see all of it (a
     * "top 10" over every process, not per 256). More processes than this
     * arrive in several batches. */
    if ((r = host->param_duration(ctx, "interval", &t->interval_nsec)) < 0 ||
        (r = schema_add_datasource(host, ctx, "processes", PROCESSES_PER_BATCH, &t->ds)) < 0 ||
        (r = schema_add_fields(host, ctx, t->ds, fields)) < 0)
        goto fail;
    *ret = t;
    return 0;
fail:
    free(t);
    return r;
}

/* ---------------------------------------------------------- the tables */

static uint32_t slot_of(const struct table *tb, uint32_t pid) {
    return (pid * 2654435761u) & (tb->cap - 1);
}

static const struct sample *table_find(const struct table *tb, uint32_t pid) {
    for (uint32_t i = slot_of(tb, pid);; i = (i + 1) & (tb->cap - 1)) {
        if (tb->slots[i].pid == pid)
            return &tb->slots[i];
        if (tb->slots[i].pid == 0)
            return NULL;
    }
}

/* Inserts a pid that is not in tb yet (each pid appears once per round). */
static void table_put(struct table *tb, const struct sample *s) {
    uint32_t i = slot_of(tb, s->pid);
    while (tb->slots[i].pid != 0)
        i = (i + 1) & (tb->cap - 1);
    tb->slots[i] = *s;
    tb->n++;
}

/* Empties tb, giving it at least cap slots. 0 or -ENOMEM. */
static int table_reset(struct table *tb, uint32_t cap) {
    if (tb->cap < cap) {
        struct sample *slots = calloc(cap, sizeof(*slots));
        if (!slots)
            return -ENOMEM;
        free(tb->slots);
        tb->slots = slots;
        tb->cap = cap;
    } else {
        memset(tb->slots, 0, tb->cap * sizeof(*tb->slots));
    }
    tb->n = 0;
    return 0;
}

/* Keeps tb at most half full; doubles it (rehashing) when needed. */
static int table_make_room(struct table *tb) {
    struct table bigger = { 0 };

    if ((tb->n + 1) * 2 <= tb->cap)
        return 0;
    if (tb->cap > UINT32_MAX / 4)
        return -E2BIG;
    if (table_reset(&bigger, tb->cap * 2) < 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < tb->cap; i++)
        if (tb->slots[i].pid)
            table_put(&bigger, &tb->slots[i]);
    free(tb->slots);
    *tb = bigger;
    return 0;
}

/* ------------------------------------------------------------- /proc */

static int top_pre_start(struct ophost_ctx *ctx, void *data) {
    struct top *t = data;

    t->tick_hz = procfs_tick_hz();
    t->page_size = procfs_page_size();
    t->proc_fd = procfs_open();
    if (t->proc_fd < 0)
        return host->error(ctx, -errno, "cannot open /proc: %s (is procfs mounted?)",
                           strerror(errno));
    if (table_reset(&t->tables[0], MIN_TABLE) < 0 || table_reset(&t->tables[1], MIN_TABLE) < 0)
        return -ENOMEM;
    return 0;
}

/* CPU over the interval in hundredths of a percent of one CPU. */
static uint32_t cpu_of(const struct top *t, const struct sample *prev, const struct sample *now,
                       uint64_t now_nsec) {
    uint64_t since = t->prev_nsec, ticks = now->cpu_ticks;
    double v;

    if (prev && prev->start_ticks == now->start_ticks) {
        ticks = now->cpu_ticks >= prev->cpu_ticks ? now->cpu_ticks - prev->cpu_ticks : 0;
    } else {
        /* New since the previous round: all its CPU time is in this one. */
        uint64_t started = procfs_ticks_to_ns(now->start_ticks, t->tick_hz);
        if (started > since)
            since = started;
    }
    if (ticks == 0)
        return 0;
    if (now_nsec <= since)
        since = now_nsec - 1;
    v = (double) ticks * 1e9 * 10000.0 / ((double) t->tick_hz * (double) (now_nsec - since));
    return v >= (double) UINT32_MAX ? UINT32_MAX : (uint32_t) (v + 0.5);
}

/* Appends one process to b, emitting b first when it is full. */
static int add_event(struct top *t, struct ophost_batch *b, uint32_t pid,
                     const struct procfs_stat *p, uint32_t cpu) {
    struct ophost_event *e;
    int r;

    if ((r = schema_batch_append(host, t->ctx, b, &e)) < 0)
        return r;
    ophost_event_set_u32(e, t->f_pid, pid);
    (void) ophost_event_set_bytes(b, e, t->f_comm, p->comm, p->comm_len);
    ophost_event_set_u32(e, t->f_cpu, cpu);
    ophost_event_set_u64(e, t->f_rss, p->field[PROCFS_STAT_RSS] * t->page_size);
    ophost_event_set_u32(e, t->f_threads, (uint32_t) p->field[PROCFS_STAT_NUM_THREADS]);
    return 0;
}

/* One round: samples every process into the current table and, unless this
 * is the baseline (b == NULL), reports it. Returns 0, 1 when emitting failed
 * (the session is failing and says why), or a negative errno. */
static int round_run(struct top *t, struct ophost_batch *b) {
    const struct table *prev = &t->tables[t->cur ^ 1];
    struct table *cur = &t->tables[t->cur];
    uint64_t now = procfs_clock_ns(CLOCK_BOOTTIME);
    struct procfs_pids it;
    struct procfs_stat p;
    struct sample s;
    int r, more;

    if ((r = table_reset(cur, prev->cap)) < 0)
        return host->error(t->ctx, r, "cannot allocate the process table: %s", strerror(-r));
    if ((r = procfs_pids_start(&it, t->proc_fd, t->dents, sizeof(t->dents))) < 0)
        return host->error(t->ctx, r, "cannot rewind /proc: %s", strerror(-r));
    while ((more = procfs_pids_next(&it, &s.pid)) > 0) {
        if (procfs_stat_read(t->proc_fd, s.pid, t->stat, sizeof(t->stat), PROCFS_STAT_RSS,
                             PROCFS_STAT_RSS, &p) < 0)
            continue; /* gone */
        s.start_ticks = p.field[PROCFS_STAT_STARTTIME];
        s.cpu_ticks = p.field[PROCFS_STAT_UTIME] + p.field[PROCFS_STAT_STIME];
        if ((r = table_make_room(cur)) < 0)
            return host->error(t->ctx, r, "cannot grow the process table: %s", strerror(-r));
        table_put(cur, &s);
        if (b && add_event(t, b, s.pid, &p, cpu_of(t, table_find(prev, s.pid), &s, now)) < 0)
            return 1;
    }
    if (more < 0)
        return host->error(t->ctx, more, "cannot list /proc: %s", strerror(-more));
    if (b && schema_batch_flush(host, t->ctx, b) < 0)
        return 1;
    t->cur ^= 1;
    t->prev_nsec = now;
    return 0;
}

static int on_timer(struct ophost_ctx *ctx, void *userdata) {
    struct top *t = userdata;
    struct ophost_batch *b = host->batch(ctx, t->ds);
    int r;

    if (!b)
        return host->error(ctx, -EINVAL, "no batch for data source 'processes'");
    r = round_run(t, b);
    if (r < 0)
        return r;
    t->rounds++;
    return 0;
}

static int top_start(struct ophost_ctx *ctx, void *data) {
    struct top *t = data;
    uint64_t usec = t->interval_nsec / 1000u;
    int r = round_run(t, NULL); /* the baseline */

    if (r < 0)
        return r;
    r = host->timer_add(ctx, usec, usec, on_timer, t, &t->timer);
    if (r < 0)
        return host->error(ctx, r, "cannot add a timer: %s", strerror(-r));
    return 0;
}

static int top_stop(struct ophost_ctx *ctx, void *data) {
    struct top *t = data;
    host->source_free(t->timer);
    t->timer = NULL;
    host->log(ctx, OPHOST_LOG_DEBUG, "%llu rounds, %u processes tracked",
              (unsigned long long) t->rounds, t->tables[t->cur ^ 1].n);
    return 0;
}

static int top_post_stop(struct ophost_ctx *ctx, void *data) {
    struct top *t = data;
    if (t->proc_fd >= 0)
        close(t->proc_fd);
    t->proc_fd = -1;
    for (int i = 0; i < 2; i++) {
        free(t->tables[i].slots);
        t->tables[i] = (struct table){ 0 };
    }
    return 0;
}

static int top_destroy(struct ophost_ctx *ctx, void *data) {
    /* pre_start may have failed half-way (post_stop then does not run). */
    top_post_stop(ctx, data);
    free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "interval", .type = OPHOST_PARAM_DURATION, .default_value = "1s",
      .flags = OPHOST_PARAM_HAS_MIN, .min = 100000000,
      .description = "time between two reports (at least 100ms); cpu is measured over it" },
    { 0 }
};

static const struct ophost_operator top_process = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "top_process",
    .description = "Reports every process with its CPU use every interval (like top)",
    .flags = OPHOST_OPERATOR_GADGET,
    .instance_params = params,
    .instantiate = top_instantiate,
    .pre_start = top_pre_start,
    .start = top_start,
    .stop = top_stop,
    .post_stop = top_post_stop,
    .destroy = top_destroy,
};

static const struct ophost_operator *const operators[] = { &top_process, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "top_process",
    .version = "1.0",
    .description = "Per-process CPU use at an interval, from /proc",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

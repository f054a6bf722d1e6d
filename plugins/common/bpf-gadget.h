/*
 * bpf-gadget.h — the user-space half shared by the eBPF gadgets (the kernel
 * half is gadget.bpf.h). Header-only, everything static; a gadget includes
 * it after its skeleton and gets:
 *
 *   - libbpf's log routed to the session whose thread calls libbpf, its last
 *     warning kept for error messages (bpfg_libbpf_init/close as the
 *     operator's init/close);
 *   - the checks before loading (kernel BTF, capabilities), each failure
 *     with its reason;
 *   - the lifecycle of a gadget whose skeleton it loads: pre_start, start,
 *     stop, post_stop and destroy callbacks driven by a struct bpfg_desc,
 *     with the session's own struct starting with a struct bpfg;
 *   - the ring buffer reader with a bounded wakeup, or an interval timer
 *     for gadgets that aggregate in maps (top_*, profile_cpu);
 *   - lost-record reporting (host->lost and a rate-limited warning).
 *
 * The bounded wakeup. Records are submitted without waking the reader
 * (gadget.bpf.h) unless the program's last wakeup is max-delay old or a
 * quarter of the ring buffer is pending. Here, every wakeup and every read
 * that found records (re)arms a one-shot timer max-delay later; a timer
 * read that finds none, max-delay after the last such activity, disarms
 * it. So an idle session has no timer, and a record never waits much
 * longer than max-delay: while the timer is disarmed the last activity,
 * and with it the program's last wakeup, is more than max-delay old, so the
 * next record wakes the reader. (A wakeup counts even when its read finds
 * nothing: a record still being written on another CPU stops a read, and
 * the records behind it were submitted without a wakeup.)
 */
#ifndef OPHOST_PLUGINS_BPF_GADGET_H
#define OPHOST_PLUGINS_BPF_GADGET_H

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include <ophost/ophost.h>

#include "gadget-state.h"
#include "procfs.h"
#include "schema.h"

#define BPFG_CAP_SYS_ADMIN 21
#define BPFG_CAP_PERFMON 38
#define BPFG_CAP_BPF 39

/* Records handled per read before yielding to the loop (it is level
 * triggered: the rest is read on the next iteration). */
#define BPFG_MAX_PER_READ 4096
/* Records counted at stop at the most (the programs still run then). */
#define BPFG_MAX_UNREAD (1u << 20)
/* Lost-record warnings are logged at most this often. */
#define BPFG_LOST_WARN_NS (10ull * 1000000000ull)
#define BPFG_COMM_LEN 16

/* --------------------------------------------------------- libbpf's log */

static const struct ophost_host *bpfg_host;
static __thread struct ophost_ctx *bpfg_log_ctx;
static __thread char bpfg_log_last[256];
static libbpf_print_fn_t bpfg_old_print;

/* libbpf has one process-wide log callback. Ours serves the threads inside
 * one of our libbpf calls and hands the rest to the callback that was
 * installed before it (another gadget plugin's, or libbpf's own). */
static inline int bpfg_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
    char line[1024];
    size_t len;

    if (!bpfg_log_ctx)
        return bpfg_old_print ? bpfg_old_print(level, fmt, ap) : 0;
    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    while (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    if (level == LIBBPF_WARN && len > 0)
        snprintf(bpfg_log_last, sizeof(bpfg_log_last), "%s", line);
    if (level != LIBBPF_DEBUG)
        bpfg_host->log(bpfg_log_ctx, OPHOST_LOG_DEBUG, "%s", line);
    return 0;
}

/* The operator's init: installs the log callback. Returns 0. */
static inline int bpfg_libbpf_init(void) {
    bpfg_old_print = libbpf_set_print(bpfg_print);
    return 0;
}

/* The operator's close: puts the previous callback back. When another
 * plugin installed its own on top of ours since, its chain still reaches
 * bpfg_print: this plugin then stays mapped (RTLD_NODELETE) so that the
 * chain never calls into unloaded code. */
static inline int bpfg_libbpf_close(void) {
    libbpf_print_fn_t cur = libbpf_set_print(bpfg_old_print);
    Dl_info info;

    if (cur == bpfg_print)
        return 0;
    libbpf_set_print(cur);
    if (dladdr((void *) bpfg_print, &info) && info.dli_fname) {
        void *self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
        if (self)
            dlclose(self);
    }
    return 0;
}

/* " (libbpf: last warning)" for error messages, or "". */
static inline const char *bpfg_libbpf_why(char *buf, size_t size) {
    if (!bpfg_log_last[0])
        return "";
    snprintf(buf, size, "; libbpf: %s", bpfg_log_last);
    return buf;
}

/* ------------------------------------------------------------- checks */

/* Whether the effective capability set has bit cap (from /proc/self/status,
 * so no libcap is needed). Unknown counts as present: the kernel decides. */
static inline bool bpfg_have_cap(unsigned cap) {
    char line[256];
    unsigned long long eff = ~0ull;
    FILE *f = fopen("/proc/self/status", "re");

    if (!f)
        return true;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "CapEff: %llx", &eff) == 1)
            break;
    fclose(f);
    return (eff >> cap) & 1;
}

/* Whether tracing programs can be loaded here; fills why when not. */
static inline int bpfg_check(char *why, size_t size) {
    struct stat st;

    if (stat("/sys/kernel/btf/vmlinux", &st) < 0) {
        snprintf(why, size, "the kernel has no BTF (/sys/kernel/btf/vmlinux: %s; needs "
                 "CONFIG_DEBUG_INFO_BTF)", strerror(errno));
        return -EOPNOTSUPP;
    }
    if (!bpfg_have_cap(BPFG_CAP_SYS_ADMIN) &&
        !(bpfg_have_cap(BPFG_CAP_BPF) && bpfg_have_cap(BPFG_CAP_PERFMON))) {
        snprintf(why, size, "missing privileges: loading a tracing program needs CAP_BPF "
                 "and CAP_PERFMON, or CAP_SYS_ADMIN");
        return -EPERM;
    }
    return 0;
}

/* -------------------------------------------------------------- params */

/* The params of every eBPF gadget with a ring buffer. */
#define BPFG_RING_PARAMS                                                                   \
    { .key = "ring-buffer-size", .type = OPHOST_PARAM_UINT, .default_value = "4194304",    \
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 4096, .max = 1 << 30,   \
      .description = "eBPF ring buffer size in bytes (a power of 2)" },                    \
    { .key = "max-delay", .type = OPHOST_PARAM_DURATION, .default_value = "20ms",          \
      .flags = OPHOST_PARAM_HAS_MAX, .max = 1000000000,                                   \
      .description = "longest an event waits in the ring buffer before the session "       \
                     "reads it (0 = wake the reader for every event; at most 1s)" }

/* The params of the gadgets that report what their maps gathered at
 * intervals (top_*, profile_cpu). */
#define BPFG_INTERVAL_PARAMS(what, default_entries)                                        \
    { .key = "interval", .type = OPHOST_PARAM_DURATION, .default_value = "1s",             \
      .flags = OPHOST_PARAM_HAS_MIN, .min = 100000000,                                     \
      .description = "time between two reports (at least 100ms)" },                       \
    { .key = "max-entries", .type = OPHOST_PARAM_UINT, .default_value = default_entries,   \
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 16, .max = 1 << 20,     \
      .description = what " kept per interval; more are counted as lost" }

/* Filters applied in the kernel to the task each gadget documents. */
#define BPFG_TASK_FILTER_PARAMS                                                            \
    { .key = "pid", .type = OPHOST_PARAM_UINT, .default_value = "0",                       \
      .flags = OPHOST_PARAM_HAS_MAX, .max = INT32_MAX,                                     \
      .description = "only this process (thread group id; 0 = any)" },                    \
    { .key = "uid", .type = OPHOST_PARAM_UINT,                                             \
      .flags = OPHOST_PARAM_HAS_MAX, .max = UINT32_MAX - 1,                                \
      .description = "only processes with this real user id (default: any)" },            \
    { .key = "comm", .type = OPHOST_PARAM_STRING, .default_value = "",                     \
      .description = "only processes with this command name (at most 15 bytes; "           \
                     "empty = any)" }

struct bpfg_filter {
    uint32_t pid, uid; /* uid (uint32_t) -1 = any */
    char comm[BPFG_COMM_LEN];
};

/* Copies the filters into a skeleton's rodata (before load). */
#define BPFG_SET_FILTER(rodata, f)                                                          \
    do {                                                                                    \
        (rodata)->filter_pid = (f)->pid;                                                    \
        (rodata)->filter_uid = (f)->uid;                                                    \
        memcpy((char *) (rodata)->filter_comm, (f)->comm, BPFG_COMM_LEN);                   \
    } while (0)

/* Reads BPFG_TASK_FILTER_PARAMS. Returns 0 or what host->error returned. */
static inline int bpfg_read_filter(struct ophost_ctx *ctx, struct bpfg_filter *ret) {
    const struct ophost_host *h = bpfg_host;
    uint64_t pid, uid;
    const char *comm;
    int r;

    if ((r = h->param_uint(ctx, "pid", &pid)) < 0 || (r = h->param_string(ctx, "comm", &comm)) < 0)
        return r;
    r = h->param_uint(ctx, "uid", &uid);
    if (r == -ENODATA)
        uid = UINT32_MAX;
    else if (r < 0)
        return r;
    if (strlen(comm) >= BPFG_COMM_LEN)
        return h->error(ctx, -EINVAL, "param 'comm': '%s' is longer than the kernel's "
                           "15-byte command names, so it would never match", comm);
    memset(ret, 0, sizeof(*ret));
    ret->pid = (uint32_t) pid;
    ret->uid = (uint32_t) uid;
    memcpy(ret->comm, comm, strlen(comm));
    return 0;
}

/* ------------------------------------------------------------ the gadget */

struct bpfg;

/* What differs between the eBPF gadgets; the rest is here. */
struct bpfg_desc {
    const char *what;      /* events, in messages: "exec" -> "5 exec events lost" */
    const char *mechanism; /* logged at start: "eBPF (tp_btf/signal_generate)" */
    /* Opens the skeleton and sets its rodata (before load): sets g->skel,
     * g->skeleton (the skeleton's ->skeleton) and g->events (the ring
     * buffer map, NULL for none). 0, or a negative errno with why filled. */
    int (*open)(struct bpfg *g, char *why, size_t size);
    /* Optional: attaches what the skeleton cannot attach itself (perf
     * events, sockets), after load; else the skeleton's attach. Same
     * returns as open. */
    int (*attach)(struct bpfg *g, char *why, size_t size);
    /* Optional: undoes attach (before the skeleton is destroyed). */
    void (*detach)(struct bpfg *g);
    /* Optional: frees what open acquired besides the skeleton, after it is
     * destroyed (also after a failed setup; may run more than once). */
    void (*release)(struct bpfg *g);
    /* One ring buffer record (with a ring buffer): append with
     * bpfg_append. Returns 0, or < 0 to stop reading for now. */
    int (*on_record)(struct bpfg *g, const void *data, size_t size);
    /* Gadgets that sum in a hash map: every interval, the map g->map
     * (set by open; its size is max-entries) is taken into g->keys and
     * g->values (key_size and value_size bytes per entry) and on_interval
     * is called with the number of entries, on the session thread, with
     * g->batch ready. Returns 0 or a negative errno (fails the session;
     * explain it with host->error). */
    int (*on_interval)(struct bpfg *g, uint32_t n);
    size_t key_size, value_size;
    /* Optional, in start after the reader: more loop sources (e.g. a
     * socket). Returns 0 or what host->error returned. */
    int (*start)(struct bpfg *g);
};

/* The first member of every eBPF gadget's instance data. */
struct bpfg {
    const struct bpfg_desc *desc;
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    uint64_t rb_size, delay_ns, interval_ns;
    uint64_t max_entries;       /* with on_interval: the map's size */
    struct bpf_map *map;        /* with on_interval: the map taken every interval */
    void *keys, *values;        /* max_entries of each */

    void *skel;                           /* the gadget's skeleton struct */
    struct bpf_object_skeleton *skeleton; /* its ->skeleton */
    struct bpf_map *events;
    struct gadget_state *state;           /* the program's, mapped */
    struct ring_buffer *rb;
    struct ophost_source *io, *drain, *interval;
    uint64_t last_activity_ns; /* CLOCK_MONOTONIC of the last wakeup or read with records */

    struct ophost_batch *batch; /* while reading */
    bool failing;               /* emit said the session is failing */
    uint64_t boot_realtime_ns;  /* realtime - boottime, per read (event times) */
    uint64_t start_realtime_ns; /* the same, once per session (process start times) */
    unsigned n_this_read;
    uint64_t n_lost, n_lost_warned, last_warn_ns;
    bool stopping;     /* in stop: records are counted, not read */
    uint64_t n_unread; /* records counted in stop */
};

/* The common part of instantiate, on a zeroed g: reads BPFG_RING_PARAMS
 * (when the gadget has a ring buffer) and adds the data source. Returns 0
 * or what host->error returned. */
static inline int bpfg_instantiate(struct ophost_ctx *ctx, struct bpfg *g,
                                   const struct bpfg_desc *desc, const char *ds_name,
                                   uint32_t capacity) {
    const struct ophost_host *h = bpfg_host;
    int r;

    g->desc = desc;
    g->ctx = ctx;
    if (desc->on_record) {
        if ((r = h->param_uint(ctx, "ring-buffer-size", &g->rb_size)) < 0 ||
            (r = h->param_duration(ctx, "max-delay", &g->delay_ns)) < 0)
            return r;
        if (g->rb_size & (g->rb_size - 1))
            return h->error(ctx, -EINVAL, "param 'ring-buffer-size': %" PRIu64 " is not a "
                            "power of 2", g->rb_size);
    }
    if (desc->on_interval) {
        if ((r = h->param_duration(ctx, "interval", &g->interval_ns)) < 0 ||
            (r = h->param_uint(ctx, "max-entries", &g->max_entries)) < 0)
            return r;
        /* One round is one batch, so sort and limiter see all of it. */
        capacity = (uint32_t) g->max_entries;
    }
    return schema_add_datasource(h, ctx, ds_name, capacity, &g->ds);
}

/* Opens the skeleton struct name (name##__open) into g: the skeleton, or
 * NULL with why filled. */
#define BPFG_OPEN(g, name, why, size)                                                       \
    ({                                                                                      \
        struct name *s_ = name##__open();                                                   \
        if (s_) {                                                                           \
            (g)->skel = s_;                                                                 \
            (g)->skeleton = s_->skeleton;                                                   \
            (g)->events = s_->maps.events;                                                  \
        } else {                                                                            \
            snprintf(why, size, "cannot open the eBPF object: %s", strerror(errno));        \
        }                                                                                   \
        s_;                                                                                 \
    })

/* Sets the wakeup knobs of gadget.bpf.h in a skeleton's rodata. */
#define BPFG_SET_WAKEUP(rodata, g)                                                          \
    do {                                                                                    \
        (rodata)->wakeup_delay_ns = (g)->delay_ns;                                          \
        (rodata)->wakeup_bytes = (g)->rb_size / 4;                                          \
    } while (0)

/* An empty event in the batch being filled, emitting it when full; NULL
 * when the session is failing (stop reading then). */
static inline struct ophost_event *bpfg_append(struct bpfg *g) {
    struct ophost_event *e;

    if (g->failing || schema_batch_append(bpfg_host, g->ctx, g->batch, &e) < 0) {
        g->failing = true;
        return NULL;
    }
    return e;
}

/* The start of an on_record for records that begin with their
 * bpf_ktime_get_boot_ns() (a __u64): skips a record shorter than min,
 * appends an event and sets its timestamp field ts. Returns 1 and *ret, 0
 * (skip it) or -ESHUTDOWN (the session is failing: stop reading). */
static inline int bpfg_record_event(struct bpfg *g, const void *data, size_t size, size_t min,
                                    ophost_field ts, struct ophost_event **ret) {
    uint64_t boot_ns;

    if (size < min || size < sizeof(boot_ns))
        return 0;
    if (!(*ret = bpfg_append(g)))
        return -ESHUTDOWN;
    memcpy(&boot_ns, data, sizeof(boot_ns));
    ophost_event_set_u64(*ret, ts, boot_ns + g->boot_realtime_ns);
    return 1;
}

/* A bpf_ktime_get_boot_ns() value on the realtime clock. */
static inline uint64_t bpfg_realtime(const struct bpfg *g, uint64_t boot_ns) {
    return boot_ns + g->boot_realtime_ns;
}

/* A task's start (CLOCK_BOOTTIME ns) on the realtime clock: the same value
 * for every event of the process in the session. */
static inline uint64_t bpfg_start_time(const struct bpfg *g, uint64_t start_boot_ns) {
    return start_boot_ns + g->start_realtime_ns;
}

/* Sets a string field from a fixed-size kernel buffer (comm, ...). */
static inline void bpfg_set_str(struct bpfg *g, struct ophost_event *e, ophost_field f,
                                const char *s, size_t max) {
    (void) ophost_event_set_bytes(g->batch, e, f, s, strnlen(s, max));
}

/* The fields of the process of an event (struct gadget_task). */
struct bpfg_task_fields {
    ophost_field pid, tid, uid, gid, comm, start_time, exec_id;
};

/* Their schema entries (inside a { ... , { 0 } } list); start_time and
 * exec_id identify the process image for procinfo's cache. */
#define BPFG_TASK_FIELDS(tf)                                                               \
    { "pid", OPHOST_FIELD_U32, &(tf)->pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },                                               \
    { "tid", OPHOST_FIELD_U32, &(tf)->tid, "thread id", NULL, "7", true },                                               \
    { "uid", OPHOST_FIELD_U32, &(tf)->uid, "user id", NULL, "6", false },                                               \
    { "gid", OPHOST_FIELD_U32, &(tf)->gid, "group id", NULL, "6", true },                                               \
    { "comm", OPHOST_FIELD_STRING, &(tf)->comm, "command name (at most 15 bytes)", NULL, "16", false },                                          \
    { "start_time", OPHOST_FIELD_TIMESTAMP, &(tf)->start_time, "when the process started", NULL, NULL, true },                           \
    { "exec_id", OPHOST_FIELD_U64, &(tf)->exec_id, "the kernel's exec counter of the task (process identity)", NULL, NULL, true }

/* Sets them; a record without a process (pid 0) leaves them 0 and unset. */
static inline void bpfg_set_task(struct bpfg *g, struct ophost_event *e,
                                 const struct bpfg_task_fields *tf, const struct gadget_task *t) {
    if (t->pid == 0 && t->tid == 0)
        return;
    ophost_event_set_u32(e, tf->pid, t->pid);
    ophost_event_set_u32(e, tf->tid, t->tid);
    ophost_event_set_u32(e, tf->uid, t->uid);
    ophost_event_set_u32(e, tf->gid, t->gid);
    bpfg_set_str(g, e, tf->comm, t->comm, sizeof(t->comm));
    ophost_event_set_u64(e, tf->start_time, bpfg_start_time(g, t->start_ns));
    ophost_event_set_u64(e, tf->exec_id, t->exec_id);
}

static inline void bpfg_report_lost(struct bpfg *g) {
    uint64_t total, now;

    if (!g->state)
        return;
    total = __atomic_load_n(&g->state->lost, __ATOMIC_RELAXED);
    if (total <= g->n_lost)
        return;
    bpfg_host->lost(g->ctx, total - g->n_lost);
    g->n_lost = total;
    now = procfs_clock_ns(CLOCK_MONOTONIC);
    if (g->n_lost_warned == 0 || now - g->last_warn_ns >= BPFG_LOST_WARN_NS) {
        bpfg_host->log(g->ctx, OPHOST_LOG_WARNING, "%" PRIu64 " %s events lost so far (ring "
                       "buffer full; raise ring-buffer-size)", total, g->desc->what);
        g->n_lost_warned = total;
        g->last_warn_ns = now;
    }
}

static inline int bpfg_ring_record(void *userdata, void *data, size_t size) {
    struct bpfg *g = userdata;
    int r;

    if (g->stopping) /* the program still runs: bounded like a read */
        return ++g->n_unread >= BPFG_MAX_UNREAD ? -EAGAIN : 0;
    r = g->desc->on_record(g, data, size);
    if (r < 0)
        return r;
    /* Stop after a while so that a flood cannot starve the session loop. */
    return ++g->n_this_read >= BPFG_MAX_PER_READ ? -EAGAIN : 0;
}

/* Reads and deletes every entry of the hash map fd into keys and values
 * (room for cap entries of key_size and value_size bytes each): the
 * gadgets that aggregate in maps call it every interval. Entries the
 * program adds meanwhile wait for the next round. Returns the number of
 * entries or a negative errno. */
static inline int bpfg_map_take(int fd, void *keys, void *values, uint32_t cap, size_t key_size,
                                size_t value_size) {
    uint64_t in[8] = { 0 }, out[8] = { 0 }; /* batch tokens: room for any key */
    uint32_t n = 0;
    bool first = true;

    while (n < cap) {
        uint32_t count = cap - n;
        int r = bpf_map_lookup_and_delete_batch(fd, first ? NULL : in, out,
                                                (char *) keys + n * key_size,
                                                (char *) values + n * value_size, &count, NULL);
        if (r < 0 && errno != ENOENT)
            return -errno;
        n += count;
        if (r < 0)
            break; /* ENOENT: that was the last bucket */
        memcpy(in, out, sizeof(in));
        first = false;
    }
    return (int) n;
}

/* Gets the batch to fill and the clock offset of this read. */
static inline int bpfg_read_begin(struct bpfg *g) {
    g->batch = bpfg_host->batch(g->ctx, g->ds);
    if (!g->batch)
        return bpfg_host->error(g->ctx, -EINVAL, "no batch for data source '%s'",
                                bpfg_host->datasource_name(g->ctx, g->ds));
    g->boot_realtime_ns = procfs_boot_realtime_ns();
    return 0;
}

static inline void bpfg_read_end(struct bpfg *g) {
    if (!g->failing && schema_batch_flush(bpfg_host, g->ctx, g->batch) < 0)
        g->failing = true;
}

static inline int bpfg_on_timer(struct ophost_ctx *ctx, void *userdata);

/* Reads the ring buffer; returns the records read or what host->error
 * returned. */
static inline int bpfg_drain(struct bpfg *g) {
    int r;

    if ((r = bpfg_read_begin(g)) < 0)
        return r;
    g->n_this_read = 0;
    r = ring_buffer__consume(g->rb);
    bpfg_read_end(g);
    if (r < 0 && r != -EAGAIN && !g->failing)
        return bpfg_host->error(g->ctx, r, "reading the ring buffer failed: %s", strerror(-r));
    bpfg_report_lost(g);
    return (int) g->n_this_read;
}

static inline void bpfg_disarm(struct bpfg *g) {
    bpfg_host->source_free(g->drain);
    g->drain = NULL;
}

/* Arms the drain timer usec from now (one-shot; a source per arming: the
 * host has no way to re-arm one, and this happens per read, not per
 * event). */
static inline int bpfg_arm(struct bpfg *g, uint64_t usec) {
    int r;

    bpfg_disarm(g);
    r = bpfg_host->timer_add(g->ctx, usec ? usec : 1, 0, bpfg_on_timer, g, &g->drain);
    if (r < 0)
        return bpfg_host->error(g->ctx, r, "cannot add a timer: %s", strerror(-r));
    return 0;
}

/* After a read: keeps the drain timer armed while records come. */
static inline int bpfg_after_read(struct bpfg *g, int n, bool from_timer) {
    uint64_t now = procfs_clock_ns(CLOCK_MONOTONIC);

    if (n < 0)
        return n;
    if (g->delay_ns == 0)
        return 0;
    if (n > 0 || !from_timer) {
        g->last_activity_ns = now;
        if (from_timer || !g->drain)
            return bpfg_arm(g, g->delay_ns / 1000);
        return 0;
    }
    if (now - g->last_activity_ns < g->delay_ns)
        return bpfg_arm(g, (g->last_activity_ns + g->delay_ns - now) / 1000 + 1);
    bpfg_disarm(g);
    return 0;
}

static inline int bpfg_on_ring(struct ophost_ctx *ctx, int fd, uint32_t revents, void *userdata) {
    struct bpfg *g = userdata;
    return bpfg_after_read(g, bpfg_drain(g), false);
}

static inline int bpfg_on_interval(struct ophost_ctx *ctx, void *userdata) {
    struct bpfg *g = userdata;
    int n = bpfg_map_take(bpf_map__fd(g->map), g->keys, g->values, (uint32_t) g->max_entries,
                          g->desc->key_size, g->desc->value_size), r;

    if (n < 0)
        return bpfg_host->error(ctx, n, "cannot read the map '%s': %s", bpf_map__name(g->map),
                                strerror(-n));
    if ((r = bpfg_read_begin(g)) < 0)
        return r;
    r = g->desc->on_interval(g, (uint32_t) n);
    bpfg_read_end(g);
    if (r == 0)
        bpfg_report_lost(g);
    return r;
}

static inline int bpfg_on_timer(struct ophost_ctx *ctx, void *userdata) {
    return bpfg_after_read(userdata, bpfg_drain(userdata), true);
}

/* ------------------------------------------------------- the callbacks */

static inline void bpfg_free_interval(struct bpfg *g) {
    free(g->keys);
    free(g->values);
    g->keys = g->values = NULL;
}

static inline void bpfg_destroy_skeleton(struct bpfg *g) {
    if (g->skeleton)
        bpf_object__destroy_skeleton(g->skeleton);
    free(g->skel);
    g->skeleton = NULL;
    g->skel = NULL;
}

/* Opens, loads and attaches; fills why on failure. */
static inline int bpfg_setup(struct bpfg *g, char *why, size_t size) {
    char lb[300];
    struct bpf_map *state;
    size_t state_size = 0;
    const void *mapped;
    int r;

    if ((r = bpfg_check(why, size)) < 0)
        return r;
    bpfg_log_ctx = g->ctx;
    bpfg_log_last[0] = '\0';
    if ((r = g->desc->open(g, why, size)) < 0)
        goto out;
    /* A gadget that reads maps at intervals leaves its ring buffer unused. */
    if (!g->desc->on_record)
        g->rb_size = 4096;
    if (g->desc->on_interval) {
        g->keys = calloc(g->max_entries, g->desc->key_size);
        g->values = calloc(g->max_entries, g->desc->value_size);
        if (!g->keys || !g->values) {
            r = -ENOMEM;
            snprintf(why, size, "cannot allocate room for %" PRIu64 " map entries",
                     g->max_entries);
            goto out;
        }
        if ((r = bpf_map__set_max_entries(g->map, (uint32_t) g->max_entries)) < 0) {
            snprintf(why, size, "cannot size the map '%s' to %" PRIu64 " entries: %s",
                     bpf_map__name(g->map), g->max_entries, strerror(-r));
            goto out;
        }
    }
    if (g->events && (r = bpf_map__set_max_entries(g->events, (uint32_t) g->rb_size)) < 0) {
        snprintf(why, size, "cannot size the ring buffer to %" PRIu64 " bytes: %s", g->rb_size,
                 strerror(-r));
        goto out;
    }
    if ((r = bpf_object__load_skeleton(g->skeleton)) < 0) {
        snprintf(why, size, "cannot load the eBPF program: %s%s%s", strerror(-r),
                 r == -EPERM || r == -EACCES ? " (needs CAP_BPF and CAP_PERFMON, or "
                                               "CAP_SYS_ADMIN)" : "",
                 bpfg_libbpf_why(lb, sizeof(lb)));
        goto out;
    }
    state = bpf_object__find_map_by_name(*g->skeleton->obj, ".data.gadget");
    mapped = state ? bpf_map__initial_value(state, &state_size) : NULL;
    if (mapped && state_size >= sizeof(*g->state))
        g->state = (struct gadget_state *) (uintptr_t) mapped; /* writable: BPF_F_MMAPABLE */
    if (g->desc->attach)
        r = g->desc->attach(g, why, size);
    else if ((r = bpf_object__attach_skeleton(g->skeleton)) < 0)
        snprintf(why, size, "cannot attach: %s%s", strerror(-r), bpfg_libbpf_why(lb, sizeof(lb)));
    if (r < 0)
        goto out;
    if (g->desc->on_record) {
        g->rb = ring_buffer__new(bpf_map__fd(g->events), bpfg_ring_record, g, NULL);
        if (!g->rb) {
            r = -errno;
            snprintf(why, size, "cannot set up the ring buffer reader: %s", strerror(-r));
            if (g->desc->detach)
                g->desc->detach(g);
            goto out;
        }
    }
    r = 0;
out:
    bpfg_log_ctx = NULL;
    if (r < 0) {
        bpfg_destroy_skeleton(g);
        g->state = NULL;
        bpfg_free_interval(g);
        if (g->desc->release)
            g->desc->release(g);
    }
    return r;
}

static inline void bpfg_teardown(struct bpfg *g) {
    bpfg_free_interval(g);
    if (g->desc->release)
        g->desc->release(g);
    if (!g->skeleton)
        return;
    ring_buffer__free(g->rb);
    g->rb = NULL;
    if (g->desc->detach)
        g->desc->detach(g);
    bpfg_log_ctx = g->ctx;
    bpfg_destroy_skeleton(g);
    bpfg_log_ctx = NULL;
    g->state = NULL;
    if (g->n_lost > 0)
        bpfg_host->log(g->ctx, OPHOST_LOG_WARNING, "%" PRIu64 " %s events were lost in total",
                       g->n_lost, g->desc->what);
}

/* pre_start of a gadget whose instance data starts with a struct bpfg. */
static inline int bpfg_op_pre_start(struct ophost_ctx *ctx, void *data) {
    struct bpfg *g = data;
    char why[768] = "";
    int r = bpfg_setup(g, why, sizeof(why));

    if (r < 0)
        return bpfg_host->error(ctx, r, "%s: %s", g->desc->mechanism, why);
    g->start_realtime_ns = procfs_boot_realtime_ns();
    bpfg_host->log(ctx, OPHOST_LOG_INFO, "using %s", g->desc->mechanism);
    return 0;
}

static inline int bpfg_op_start(struct ophost_ctx *ctx, void *data) {
    struct bpfg *g = data;
    int r;

    if (g->rb) {
        r = bpfg_host->io_add(ctx, ring_buffer__epoll_fd(g->rb), POLLIN, bpfg_on_ring, g, &g->io);
        if (r < 0)
            return bpfg_host->error(ctx, r, "cannot watch the ring buffer: %s", strerror(-r));
    }
    if (g->interval_ns && g->desc->on_interval) {
        uint64_t usec = g->interval_ns / 1000;
        r = bpfg_host->timer_add(ctx, usec, usec, bpfg_on_interval, g, &g->interval);
        if (r < 0)
            return bpfg_host->error(ctx, r, "cannot add a timer: %s", strerror(-r));
    }
    return g->desc->start ? g->desc->start(g) : 0;
}

static inline int bpfg_op_stop(struct ophost_ctx *ctx, void *data) {
    struct bpfg *g = data;

    /* Records the kernel wrote since the last read (at most max-delay
     * worth) can no longer go through the session: the operators after
     * the gadget have stopped. They are counted as lost, not dropped
     * silently. */
    if (g->rb) {
        g->stopping = true;
        (void) ring_buffer__consume(g->rb);
        if (g->n_unread > 0) {
            bpfg_host->lost(ctx, g->n_unread);
            bpfg_host->log(ctx, OPHOST_LOG_INFO, "%" PRIu64 " %s events were still in the ring "
                           "buffer at stop: counted as lost", g->n_unread, g->desc->what);
        }
    }
    bpfg_host->source_free(g->io);
    bpfg_host->source_free(g->interval);
    g->io = g->interval = NULL;
    bpfg_disarm(g);
    return 0;
}

static inline int bpfg_op_post_stop(struct ophost_ctx *ctx, void *data) {
    bpfg_teardown(data);
    return 0;
}

/* destroy of a gadget whose instance data was allocated with malloc. */
static inline int bpfg_op_destroy(struct ophost_ctx *ctx, void *data) {
    bpfg_teardown(data); /* pre_start may have failed after setup */
    free(data);
    return 0;
}

static inline int bpfg_op_init(struct ophost_ctx *ctx, void **ret_op_data) {
    return bpfg_libbpf_init();
}

static inline int bpfg_op_close(struct ophost_ctx *ctx, void *op_data) {
    return bpfg_libbpf_close();
}

/* The operator fields every eBPF gadget shares. */
#define BPFG_OPERATOR_CALLBACKS                                                            \
    .flags = OPHOST_OPERATOR_GADGET, .init = bpfg_op_init, .close = bpfg_op_close,         \
    .pre_start = bpfg_op_pre_start, .start = bpfg_op_start, .stop = bpfg_op_stop,          \
    .post_stop = bpfg_op_post_stop, .destroy = bpfg_op_destroy

/* A plugin with one eBPF gadget operator: the operator named name (also
 * the plugin's name) and its entry function. */
#define BPFG_GADGET(op_name, instantiate_fn, op_params, op_description, plugin_description) \
    static const struct ophost_operator bpfg_operator = {                                  \
        .struct_size = sizeof(struct ophost_operator), .name = op_name,                    \
        .description = op_description, .instance_params = op_params,                       \
        .instantiate = instantiate_fn, BPFG_OPERATOR_CALLBACKS,                            \
    };                                                                                     \
    BPFG_PLUGIN(bpfg_operator, op_name, plugin_description)

/* The entry function of a plugin with one eBPF gadget operator op. */
#define BPFG_PLUGIN(op, plugin_name, plugin_description)                                   \
    static const struct ophost_operator *const bpfg_operators[] = { &(op), NULL };         \
    static const struct ophost_plugin bpfg_plugin = {                                      \
        .abi_major = OPHOST_ABI_MAJOR, .abi_minor = OPHOST_ABI_MINOR,                      \
        .struct_size = sizeof(struct ophost_plugin), .name = plugin_name,                  \
        .version = "1.0", .description = plugin_description,                               \
        .operators = bpfg_operators,                                                       \
    };                                                                                     \
    OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(                         \
        const struct ophost_host *h) {                                                     \
        host = h;                                                                          \
        bpfg_host = h;                                                                     \
        return &bpfg_plugin;                                                               \
    }

#endif

/*
 * procinfo — an enricher that adds what /proc knows about the process of an
 * event's pid field: proc.exe, proc.cmdline, proc.ppid, proc.start_time,
 * proc.cgroup and proc.gone.
 *
 * Events of gadgets that know the process (the eBPF gadgets: fields
 * start_time and exec_id, see the start-time-field and exec-id-field
 * params) carry the cache key themselves: (pid, exec id, start time)
 * names one program image of one process, so a cache hit reads nothing
 * from /proc and reports what was cached for that image, even if the
 * process has exited since. Other events cost one read of /proc/PID/stat:
 * it proves the process still exists and yields the cache key (pid, start
 * time) — a reused pid has another start time — and the address of the
 * argument area, which moves on every execve (stack randomisation), so a
 * process that exec'd since it was cached is read again. The rest (exe
 * link, cmdline, cgroup) comes from a bounded CLOCK cache whose memory is
 * allocated once at instantiate. Consecutive events of the same process in
 * one batch share the one lookup.
 *
 * A process that has exited (no /proc entry, or a zombie) is reported with
 * proc.gone = true and its strings unset; the values are those of /proc at
 * processing time, not at the time of the event.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "enrich-cache.h"
#include "enrich-proc.h"
#include "procfs.h"
#include "schema.h"

/* Per cache entry, exe and cgroup share this many bytes; longer ones are
 * served uncached (read again for every event of that process). */
#define STR_ROOM 768
#define CGROUP_BUF 16384

static const struct ophost_host *host;

enum {
    HAS_EXE = 1 << 0,
    HAS_CMDLINE = 1 << 1,
    HAS_CGROUP = 1 << 2,
};

/* What an event gets; the strings point into a cache entry or the scratch
 * buffers. */
struct info {
    bool gone;
    bool mid_exec;              /* caught inside execve: not cached */
    uint8_t has;
    uint32_t ppid;
    uint64_t start_ticks;
    const char *exe, *cmdline, *cgroup;
    size_t exe_len, cmdline_len, cgroup_len;
};

struct entry {
    uint64_t arg_start, arg_end;  /* exec signature */
    uint64_t start_ticks;
    uint32_t ppid;
    uint16_t exe_len, cmdline_len, cgroup_len;
    uint8_t has;
};

/* The cache key an event carries: pid and exec id in k1, the process's
 * start (ns, realtime) in k2; valid when both are set. */
struct event_key {
    uint64_t k1, k2, start_ns;
    bool valid;
};

struct procinfo {
    struct enrich_pid ep;
    ophost_field exe, cmdline, ppid, start_time, cgroup, gone;
    ophost_field ev_start, ev_exec_id; /* the event's own, when has_key */
    bool has_key;
    size_t max_cmdline;
    uint64_t boot_ns, ns_per_tick;

    struct entry *entries;
    char *arena;                  /* entries' strings: stride bytes each */
    size_t stride;

    char exe_buf[PATH_MAX];
    char *cmdline_buf;            /* max_cmdline + 1 */
    char *cgroup_buf;             /* CGROUP_BUF */
};

static int procinfo_destroy(struct ophost_ctx *ctx, void *data) {
    struct procinfo *p = data;

    enrich_cache_fini(&p->ep.cache);
    free(p->entries);
    free(p->arena);
    free(p->cmdline_buf);
    free(p->cgroup_buf);
    free(p);
    return 0;
}

/* Once per daemon: the boot time on the realtime clock, so that every
 * session reports the same start time for a process (reading the two clocks
 * again per session would move it by a few nanoseconds). */
struct procinfo_global {
    uint64_t boot_ns;
};

static int procinfo_init(struct ophost_ctx *ctx, void **ret_op_data) {
    struct procinfo_global *g = malloc(sizeof(*g));

    if (!g)
        return -ENOMEM;
    /* The kernel counts start times in ticks on CLOCK_BOOTTIME. */
    g->boot_ns = procfs_boot_realtime_ns();
    *ret_op_data = g;
    return 0;
}

static int procinfo_close(struct ophost_ctx *ctx, void *op_data) {
    free(op_data);
    return 0;
}

static int procinfo_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    const struct procinfo_global *g = op_data;
    struct procinfo *p = calloc(1, sizeof(*p));
    uint64_t max_cmdline;
    const char *start_name, *exec_name;
    long tck;
    int r;

    if (!p)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "proc.exe", OPHOST_FIELD_STRING, &p->exe, "target of /proc/PID/exe (unset when gone or unreadable)", NULL, "24", false },
        { "proc.cmdline", OPHOST_FIELD_STRING, &p->cmdline, "command line (argv joined by spaces)", NULL, "40", true },
        { "proc.ppid", OPHOST_FIELD_U32, &p->ppid, "parent process id", NULL, "7", false },
        { "proc.start_time", OPHOST_FIELD_TIMESTAMP, &p->start_time, "process start", NULL, NULL, true },
        { "proc.cgroup", OPHOST_FIELD_STRING, &p->cgroup, "cgroup v2 path", NULL, "30", true },
        { "proc.gone", OPHOST_FIELD_BOOL, &p->gone, "the process had exited when the event was enriched", NULL, NULL, true },
        { 0 }
    };

    if ((r = host->param_uint(ctx, "max-cmdline", &max_cmdline)) < 0 ||
        (r = host->param_string(ctx, "start-time-field", &start_name)) < 0 ||
        (r = host->param_string(ctx, "exec-id-field", &exec_name)) < 0 ||
        (r = enrich_pid_setup(host, ctx, &p->ep, fields)) < 0)
        goto fail;
    /* Both present (and numbers): the events carry their cache key. */
    p->has_key = start_name[0] && exec_name[0] &&
                 host->field_find(ctx, p->ep.ds, start_name, &p->ev_start) == 0 &&
                 host->field_find(ctx, p->ep.ds, exec_name, &p->ev_exec_id) == 0 &&
                 (p->ev_start.type == OPHOST_FIELD_TIMESTAMP ||
                  p->ev_start.type == OPHOST_FIELD_U64) &&
                 p->ev_exec_id.type == OPHOST_FIELD_U64;

    p->max_cmdline = (size_t) max_cmdline;
    p->stride = STR_ROOM + p->max_cmdline;
    r = -ENOMEM;
    p->cmdline_buf = malloc(p->max_cmdline + 1);
    p->cgroup_buf = malloc(CGROUP_BUF);
    p->entries = enrich_pid_slots(&p->ep, sizeof(*p->entries));
    p->arena = enrich_pid_slots(&p->ep, p->stride);
    if (!p->cmdline_buf || !p->cgroup_buf || !p->entries || !p->arena)
        goto fail;

    tck = sysconf(_SC_CLK_TCK);
    p->ns_per_tick = tck > 0 ? 1000000000u / (uint64_t) tck : 10000000u;
    p->boot_ns = g->boot_ns;
    *ret = p;
    return 0;
fail:
    procinfo_destroy(ctx, p);
    return r;
}

/* argv with its NULs turned into spaces, at most max bytes, cut back to a
 * whole UTF-8 character when the limit split one. */
static size_t cmdline_tidy(char *s, size_t n, bool truncated) {
    while (n > 0 && s[n - 1] == '\0')
        n--;
    if (truncated) {
        size_t i = n, cont = 0;
        while (i > 0 && ((unsigned char) s[i - 1] & 0xc0) == 0x80 && cont < 3) {
            i--;
            cont++;
        }
        if (i > 0 && (unsigned char) s[i - 1] >= 0xc0) {
            unsigned char lead = (unsigned char) s[i - 1];
            size_t need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
            if (cont < need)
                n = i - 1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0')
            s[i] = ' ';
    return n;
}

/* Reads what the cache holds of a live process into scratch buffers.
 * Returns 0, or -ENOENT when the process vanished meanwhile. */
static int read_process(struct procinfo *p, uint32_t pid, const struct procfs_stat *st,
                        struct info *in) {
    char path[48];
    const char *cg;
    size_t cg_len;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%" PRIu32 "/exe", pid);
    n = readlink(path, p->exe_buf, sizeof(p->exe_buf));
    if (n >= 0 && (size_t) n < sizeof(p->exe_buf)) {
        in->has |= HAS_EXE;
        in->exe = p->exe_buf;
        in->exe_len = (size_t) n;
    } else if (n < 0 && (errno == ENOENT || errno == ESRCH) &&
               !(st->field[PROCFS_STAT_FLAGS] & PROCFS_PF_KTHREAD)) {
        /* Only kernel threads lack an exe while alive. */
        return -ENOENT;
    }

    /* Readable exe means the stat fields about argv are visible too; none
     * in a user process means it is in the middle of an execve (new image,
     * argv not yet set up): the command line is then unknown. */
    if ((in->has & HAS_EXE) && !(st->field[PROCFS_STAT_FLAGS] & PROCFS_PF_KTHREAD) &&
        st->field[PROCFS_STAT_ARG_END] == 0)
        n = -EAGAIN;
    else
        n = procfs_pid_read(AT_FDCWD, pid, "cmdline", p->cmdline_buf, p->max_cmdline + 1);
    if (n == -ENOENT || n == -ESRCH)
        return -ENOENT;
    if (n == -EAGAIN)
        in->mid_exec = true;
    if (n >= 0) {
        bool truncated = (size_t) n > p->max_cmdline;
        in->has |= HAS_CMDLINE;
        in->cmdline = p->cmdline_buf;
        in->cmdline_len = cmdline_tidy(p->cmdline_buf, truncated ? p->max_cmdline : (size_t) n,
                                       truncated);
    }

    n = procfs_pid_read(AT_FDCWD, pid, "cgroup", p->cgroup_buf, CGROUP_BUF);
    if (n == -ENOENT || n == -ESRCH)
        return -ENOENT;
    if (n >= 0 && enrich_cgroup_pick(p->cgroup_buf, (size_t) n, &cg, &cg_len)) {
        in->has |= HAS_CGROUP;
        in->cgroup = cg;
        in->cgroup_len = cg_len;
    }
    return 0;
}

static void entry_store(struct procinfo *p, uint32_t slot, const struct procfs_stat *st,
                        const struct info *in) {
    struct entry *en = &p->entries[slot];
    char *s = p->arena + (size_t) slot * p->stride;

    *en = (struct entry){ .arg_start = st->field[PROCFS_STAT_ARG_START],
                          .arg_end = st->field[PROCFS_STAT_ARG_END],
                          .start_ticks = st->field[PROCFS_STAT_STARTTIME],
                          .ppid = (uint32_t) st->field[PROCFS_STAT_PPID], .has = in->has,
                          .exe_len = (uint16_t) in->exe_len,
                          .cgroup_len = (uint16_t) in->cgroup_len,
                          .cmdline_len = (uint16_t) in->cmdline_len };
    memcpy(s, in->exe, in->exe_len);
    memcpy(s + in->exe_len, in->cgroup, in->cgroup_len);
    memcpy(s + in->exe_len + in->cgroup_len, in->cmdline, in->cmdline_len);
}

static void entry_load(const struct procinfo *p, uint32_t slot, struct info *in) {
    const struct entry *en = &p->entries[slot];
    const char *s = p->arena + (size_t) slot * p->stride;

    in->has = en->has;
    in->exe = s;
    in->exe_len = en->exe_len;
    in->cgroup = s + en->exe_len;
    in->cgroup_len = en->cgroup_len;
    in->cmdline = s + en->exe_len + en->cgroup_len;
    in->cmdline_len = en->cmdline_len;
}

/* Whether start_ticks of /proc/PID/stat is the start the event carries
 * (within a tick and the jitter of the two boot-time readings). */
static bool same_start(const struct procinfo *p, uint64_t start_ns, uint64_t start_ticks) {
    uint64_t proc_ns = p->boot_ns + start_ticks * p->ns_per_tick;
    uint64_t diff = proc_ns > start_ns ? proc_ns - start_ns : start_ns - proc_ns;

    return diff <= p->ns_per_tick + 50000000u;
}

static void lookup(struct procinfo *p, uint64_t pid, bool negative, const struct event_key *ek,
                   struct info *in) {
    struct procfs_stat st = { 0 };
    uint64_t start;
    uint32_t slot = ENRICH_CACHE_NONE;
    int r;

    *in = (struct info){ .gone = true };
    if (ek->valid) {
        slot = enrich_cache_find(&p->ep.cache, ek->k1, ek->k2);
        if (slot != ENRICH_CACHE_NONE) {
            /* That very program image: no /proc read at all. */
            in->gone = false;
            in->ppid = p->entries[slot].ppid;
            in->start_ticks = p->entries[slot].start_ticks;
            entry_load(p, slot, in);
            return;
        }
    }
    r = enrich_pid_stat(host, &p->ep, pid, negative, &st);
    if (r == -ENOENT)
        return; /* gone, or no process can have this pid */
    if (r < 0) {
        /* Not known to be gone (EMFILE, ...): nothing is claimed. */
        in->gone = false;
        return;
    }
    start = st.field[PROCFS_STAT_STARTTIME];
    in->ppid = (uint32_t) st.field[PROCFS_STAT_PPID];
    in->start_ticks = start;
    if (ek->valid && !same_start(p, ek->start_ns, start)) {
        *in = (struct info){ .gone = true }; /* the pid is another process's now */
        return;
    }
    if (enrich_stat_exited(&st))
        return; /* exited, not yet reaped: gone, but its ppid and start are known */

    if (!ek->valid)
        slot = enrich_cache_find(&p->ep.cache, pid, start);
    if (slot != ENRICH_CACHE_NONE &&
        p->entries[slot].arg_start == st.field[PROCFS_STAT_ARG_START] &&
        p->entries[slot].arg_end == st.field[PROCFS_STAT_ARG_END]) {
        in->gone = false;
        in->ppid = p->entries[slot].ppid;
        entry_load(p, slot, in);
        return;
    }
    if (read_process(p, (uint32_t) pid, &st, in) < 0) {
        in->has = 0;
        return;
    }
    in->gone = false;
    if (in->mid_exec || in->exe_len + in->cgroup_len > STR_ROOM) {
        p->ep.uncacheable++;
        return;
    }
    if (slot == ENRICH_CACHE_NONE)
        slot = ek->valid ? enrich_cache_insert(&p->ep.cache, ek->k1, ek->k2)
                         : enrich_cache_insert(&p->ep.cache, pid, start);
    if (slot != ENRICH_CACHE_NONE) {
        entry_store(p, slot, &st, in);
        entry_load(p, slot, in);
    }
}

static int procinfo_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct procinfo *p = data;
    struct enrich_last last = { 0 };
    struct event_key ek = { 0 }, last_ek = { 0 };
    struct info in = { 0 };

    if (b->ds != p->ep.ds)
        return 0;
    for (uint32_t i = 0; i < b->n; i++) {
        struct ophost_event *e = ophost_batch_event(b, i);
        bool changed = enrich_next_pid(&p->ep, e, &last);
        int r = 0;

        if (p->has_key) {
            uint64_t exec_id = ophost_event_get_u64(e, p->ev_exec_id);
            ek.start_ns = ophost_event_get_u64(e, p->ev_start);
            ek.valid = ek.start_ns && exec_id && !last.negative && last.pid <= UINT32_MAX;
            ek.k1 = last.pid | exec_id << 32;
            ek.k2 = ek.start_ns;
            changed |= ek.valid != last_ek.valid || ek.k1 != last_ek.k1 || ek.k2 != last_ek.k2;
            last_ek = ek;
        }
        if (changed)
            lookup(p, last.pid, last.negative, &ek, &in);

        ophost_event_set_bool(e, p->gone, in.gone);
        ophost_event_set_u32(e, p->ppid, in.ppid);
        ophost_event_set_u64(e, p->start_time,
                             in.start_ticks ? p->boot_ns + in.start_ticks * p->ns_per_tick : 0);
        if (in.gone)
            continue;
        if (in.has & HAS_EXE)
            r = ophost_event_set_bytes(b, e, p->exe, in.exe, in.exe_len);
        if (r == 0 && (in.has & HAS_CMDLINE))
            r = ophost_event_set_bytes(b, e, p->cmdline, in.cmdline, in.cmdline_len);
        if (r == 0 && (in.has & HAS_CGROUP))
            r = ophost_event_set_bytes(b, e, p->cgroup, in.cgroup, in.cgroup_len);
        if (r < 0)
            return host->error(ctx, r, "out of memory for the strings of a batch");
    }
    return 0;
}

static int procinfo_stop(struct ophost_ctx *ctx, void *data) {
    struct procinfo *p = data;

    enrich_log_cache(host, ctx, &p->ep.cache, p->ep.uncacheable, p->ep.read_errors);
    return 0;
}

static const struct ophost_param params[] = {
    ENRICH_PID_PARAMS,
    { .key = "start-time-field", .type = OPHOST_PARAM_STRING, .default_value = "start_time",
      .description = "timestamp field with the process's start; with exec-id-field it keys "
                     "the cache without reading /proc (empty = always read /proc/PID/stat)" },
    { .key = "exec-id-field", .type = OPHOST_PARAM_STRING, .default_value = "exec_id",
      .description = "u64 field with the process's exec counter (as the eBPF gadgets give)" },
    { .key = "max-cmdline", .type = OPHOST_PARAM_UINT, .default_value = "256",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 1, .max = 32768,
      .description = "bytes of proc.cmdline kept (longer command lines are cut)" },
    { 0 }
};

static const struct ophost_operator procinfo_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "procinfo",
    .description = "Adds proc.exe, proc.cmdline, proc.ppid, proc.start_time, proc.cgroup and "
                   "proc.gone from /proc for the event's pid",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .instance_params = params,
    .init = procinfo_init,
    .close = procinfo_close,
    .instantiate = procinfo_instantiate,
    .stop = procinfo_stop,
    .process = procinfo_process,
    .destroy = procinfo_destroy,
};

static const struct ophost_operator *const operators[] = { &procinfo_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "procinfo",
    .version = "1.0",
    .description = "Process information from /proc",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

/*
 * profile_cpu — a gadget that samples what every CPU runs at a given
 * frequency and reports, every interval, each distinct stack with its
 * number of samples: per process, user and kernel frames by function name,
 * and a `folded` line ("comm;outer;...;inner COUNT") that flame-graph tools
 * read (flamegraph.pl, speedscope, inferno).
 *
 * Mechanism: one software cpu-clock perf event per online CPU
 * (perf_event_open, sample_freq = frequency) with the eBPF program of
 * profile_cpu.bpf.c attached; stacks are walked by the kernel (frame
 * pointers for user code: code built without them shows its innermost
 * function and few callers). Kernel frames are named from /proc/kallsyms,
 * user frames from the ELF symbol tables of the mapped files (usyms.h) —
 * while the process lives: a process gone by the end of the interval shows
 * "[unknown]" frames.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "ksyms.h"
#include "profile_cpu.h"
#include "profile_cpu.skel.h"
#include "schema.h"
#include "usyms.h"

static const struct ophost_host *host;

#define FOLDED_MAX 16384
#define FRAME_MAX 160

struct prof {
    struct bpfg g; /* first */
    ophost_field f_pid, f_comm, f_samples, f_stack, f_folded;
    struct bpfg_filter filter;
    uint64_t frequency;
    bool user, kernel, idle;
    int n_cpus;
    int *perf_fds;
    struct bpf_link **links;
    struct ksyms ksyms;
    struct usyms usyms;
    __u64 ips[PROF_MAX_DEPTH];
    char stack[FOLDED_MAX], folded[FOLDED_MAX + 64], frame[FRAME_MAX];
};

/* Appends the frames of stack id (outermost first) to t->stack at *len. */
static void append_stack(struct prof *t, int id, uint32_t pid, bool kernel, size_t *len) {
    int fd = bpf_map__fd(((struct profile_cpu_bpf *) t->g.skel)->maps.stacks);
    int depth = 0;

    if (id < 0 || bpf_map_lookup_elem(fd, &id, t->ips) < 0)
        return;
    while (depth < PROF_MAX_DEPTH && t->ips[depth])
        depth++;
    for (int i = depth - 1; i >= 0; i--) {
        const char *name;
        uint64_t off;
        if (kernel) {
            name = ksyms_find(&t->ksyms, t->ips[i], &off);
            if (!name)
                name = "[kernel]";
        } else {
            name = usyms_name(&t->usyms, pid, t->ips[i], t->frame, sizeof(t->frame));
        }
        if (*len + strlen(name) + 2 >= sizeof(t->stack))
            return;
        *len += (size_t) snprintf(t->stack + *len, sizeof(t->stack) - *len, "%s%s",
                                  *len ? ";" : "", name);
    }
}

static int prof_interval(struct bpfg *g, uint32_t n) {
    struct prof *t = (struct prof *) g;
    const struct prof_key *keys = g->keys;
    const __u64 *counts = g->values;
    int fd = bpf_map__fd(((struct profile_cpu_bpf *) g->skel)->maps.stacks);

    t->usyms.pid = 0; /* maps may have changed since the last round */
    for (uint32_t i = 0; i < n; i++) {
        const struct prof_key *k = &keys[i];
        struct ophost_event *e;
        size_t len = 0, clen = strnlen(k->comm, sizeof(k->comm));
        int flen;

        t->stack[0] = '\0';
        append_stack(t, k->user_stack, k->pid, false, &len);
        append_stack(t, k->kernel_stack, k->pid, true, &len);
        if (!(e = bpfg_append(g)))
            return 0;
        ophost_event_set_u32(e, t->f_pid, k->pid);
        bpfg_set_str(g, e, t->f_comm, k->comm, sizeof(k->comm));
        ophost_event_set_u64(e, t->f_samples, counts[i]);
        (void) ophost_event_set_bytes(g->batch, e, t->f_stack, t->stack, len);
        flen = snprintf(t->folded, sizeof(t->folded), "%.*s%s%s %llu", (int) clen, k->comm,
                        len ? ";" : "", t->stack, (unsigned long long) counts[i]);
        (void) ophost_event_set_bytes(g->batch, e, t->f_folded, t->folded,
                                      flen < (int) sizeof(t->folded) ? (size_t) flen
                                                                     : sizeof(t->folded) - 1);
    }
    /* The stacks of this round are not needed any more (an id a sample
     * takes between the map taking and here is lost: "[unknown]"). */
    for (uint32_t i = 0; i < n; i++) {
        if (keys[i].user_stack >= 0)
            (void) bpf_map_delete_elem(fd, &keys[i].user_stack);
        if (keys[i].kernel_stack >= 0)
            (void) bpf_map_delete_elem(fd, &keys[i].kernel_stack);
    }
    return 0;
}

static int prof_open(struct bpfg *g, char *why, size_t size) {
    struct prof *t = (struct prof *) g;
    struct profile_cpu_bpf *skel;
    int r;

    if (t->kernel && (r = ksyms_load(&t->ksyms)) < 0)
        host->log(g->ctx, OPHOST_LOG_NOTICE, "no kernel symbols (/proc/kallsyms: %s): kernel "
                  "frames show as [kernel]", strerror(-r));
    skel = BPFG_OPEN(g, profile_cpu_bpf, why, size);
    if (!skel)
        return -ENOMEM;
    BPFG_SET_FILTER(skel->rodata, &t->filter);
    skel->rodata->user_stacks = t->user;
    skel->rodata->kernel_stacks = t->kernel;
    skel->rodata->include_idle = t->idle;
    g->map = skel->maps.samples;
    /* Each counted sample holds up to two stacks. */
    if ((r = bpf_map__set_max_entries(skel->maps.stacks, (uint32_t) g->max_entries * 2)) < 0) {
        snprintf(why, size, "cannot size the stack map: %s", strerror(-r));
        return r;
    }
    return 0;
}

static void prof_detach(struct bpfg *g) {
    struct prof *t = (struct prof *) g;

    for (int i = 0; i < t->n_cpus; i++) {
        bpf_link__destroy(t->links ? t->links[i] : NULL);
        if (t->perf_fds && t->perf_fds[i] >= 0)
            close(t->perf_fds[i]);
    }
    free(t->links);
    free(t->perf_fds);
    t->links = NULL;
    t->perf_fds = NULL;
    t->n_cpus = 0;
}

static int prof_attach(struct bpfg *g, char *why, size_t size) {
    struct prof *t = (struct prof *) g;
    struct bpf_program *prog = ((struct profile_cpu_bpf *) g->skel)->progs.do_sample;
    int n = libbpf_num_possible_cpus(), attached = 0;

    if (n <= 0) {
        snprintf(why, size, "cannot count the CPUs: %s", strerror(-n));
        return n < 0 ? n : -EINVAL;
    }
    t->perf_fds = malloc((size_t) n * sizeof(*t->perf_fds));
    t->links = calloc((size_t) n, sizeof(*t->links));
    if (!t->perf_fds || !t->links) {
        prof_detach(g);
        return -ENOMEM;
    }
    t->n_cpus = n;
    for (int cpu = 0; cpu < n; cpu++) {
        struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(attr),
                                        .config = PERF_COUNT_SW_CPU_CLOCK,
                                        .sample_freq = t->frequency, .freq = 1 };
        t->perf_fds[cpu] = (int) syscall(SYS_perf_event_open, &attr, -1, cpu, -1,
                                         PERF_FLAG_FD_CLOEXEC);
        if (t->perf_fds[cpu] < 0) {
            if (errno == ENODEV)
                continue; /* a possible CPU that is not online */
            snprintf(why, size, "perf_event_open (cpu-clock, CPU %d): %s%s", cpu, strerror(errno),
                     errno == EACCES || errno == EPERM ? " (needs CAP_PERFMON or "
                                                         "CAP_SYS_ADMIN)" : "");
            int r = -errno;
            prof_detach(g);
            return r;
        }
        t->links[cpu] = bpf_program__attach_perf_event(prog, t->perf_fds[cpu]);
        if (!t->links[cpu]) {
            int r = -errno;
            snprintf(why, size, "cannot attach to the perf event of CPU %d: %s", cpu,
                     strerror(-r));
            prof_detach(g);
            return r;
        }
        attached++;
    }
    if (!attached) {
        snprintf(why, size, "no CPU has a cpu-clock perf event");
        prof_detach(g);
        return -ENODEV;
    }
    return 0;
}

static void prof_release(struct bpfg *g) {
    struct prof *t = (struct prof *) g;

    ksyms_free(&t->ksyms);
    usyms_free(&t->usyms);
}

static const struct bpfg_desc prof_desc = {
    .what = "stack",
    .mechanism = "eBPF on software cpu-clock perf events",
    .open = prof_open,
    .attach = prof_attach,
    .detach = prof_detach,
    .release = prof_release,
    .on_interval = prof_interval,
    .key_size = sizeof(struct prof_key),
    .value_size = sizeof(__u64),
};

static int prof_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct prof *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "pid", OPHOST_FIELD_U32, &t->f_pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },
        { "comm", OPHOST_FIELD_STRING, &t->f_comm, "command name (at most 15 bytes)", NULL, "16", false },
        { "samples", OPHOST_FIELD_U64, &t->f_samples, "samples of this stack in the round", NULL, "7", false },
        { "stack", OPHOST_FIELD_STRING, &t->f_stack, "the stack, innermost frame first", NULL, "60", false },
        { "folded", OPHOST_FIELD_STRING, &t->f_folded, "the stack as one folded line (for flame graphs)", NULL, "60", true },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &prof_desc, "stacks", 0)) < 0 ||
        (r = bpfg_read_filter(ctx, &t->filter)) < 0 ||
        (r = host->param_uint(ctx, "frequency", &t->frequency)) < 0 ||
        (r = host->param_bool(ctx, "user-stacks", &t->user)) < 0 ||
        (r = host->param_bool(ctx, "kernel-stacks", &t->kernel)) < 0 ||
        (r = host->param_bool(ctx, "include-idle", &t->idle)) < 0 ||
        (r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0) {
        free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "frequency", .type = OPHOST_PARAM_UINT, .default_value = "49",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 1, .max = 10000,
      .description = "samples per second and CPU" },
    BPFG_INTERVAL_PARAMS("distinct (process, stack) pairs", "8192"),
    BPFG_TASK_FILTER_PARAMS,
    { .key = "user-stacks", .type = OPHOST_PARAM_BOOL, .default_value = "true",
      .description = "walk the user stack" },
    { .key = "kernel-stacks", .type = OPHOST_PARAM_BOOL, .default_value = "true",
      .description = "walk the kernel stack" },
    { .key = "include-idle", .type = OPHOST_PARAM_BOOL, .default_value = "false",
      .description = "also count samples of idle CPUs (pid 0)" },
    { 0 }
};

BPFG_GADGET("profile_cpu", prof_instantiate, params,
            "Sampled CPU stacks per process, every interval, with folded lines for flame " "graphs (eBPF on perf events)",
            "A sampling CPU profiler")

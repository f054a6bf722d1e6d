/*
 * bench-procinfo — what procinfo costs per event on the host's real data
 * path: on a cache hit, when the events carry start_time and exec_id (the
 * eBPF gadgets), and when they carry only a pid (one /proc/PID/stat read per
 * lookup).
 *
 * Each session is synthetic -> procevent -> [procinfo] -> null, in this
 * process. procevent (an operator made here) gives every event the pid, and
 * with "keyed" the start time and exec id, of one of two live processes
 * (this one and its parent), alternating, so that every event is a lookup
 * (consecutive events of one process would share one). procinfo's cost is
 * the difference to the same session without it; each figure is the
 * minimum of interleaved runs (other work on the machine only ever adds).
 *
 * Usage: bench-procinfo [PLUGIN_DIR] [EVENTS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "ctx.h"
#include "loader.h"
#include "plugin.h"

#ifndef BENCH_PLUGIN_DIR
#define BENCH_PLUGIN_DIR "build/plugins/dir"
#endif

#define RUNS 7
#define CLOCK CLOCK_MONOTONIC

static const struct ophost_host *host;

/* The two processes: pid and start time (ns since the epoch, as the eBPF
 * gadgets report it). */
static uint64_t proc_pid[2], proc_start[2];

struct procevent {
    ophost_field seq, pid, start, exec_id;
    bool keyed;
};

static int procevent_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct procevent *p = calloc(1, sizeof(*p));
    struct ophost_datasource *ds;
    int r;

    if (!p)
        return -ENOMEM;
    if ((r = host->param_bool(ctx, "keyed", &p->keyed)) < 0 ||
        (r = host->datasource_find(ctx, NULL, &ds)) < 0 ||
        (r = host->field_find(ctx, ds, "seq", &p->seq)) < 0 ||
        (r = host->field_add(ctx, ds, "pid", OPHOST_FIELD_U32, &p->pid)) < 0 ||
        (p->keyed &&
         ((r = host->field_add(ctx, ds, "start_time", OPHOST_FIELD_TIMESTAMP, &p->start)) < 0 ||
          (r = host->field_add(ctx, ds, "exec_id", OPHOST_FIELD_U64, &p->exec_id)) < 0))) {
        free(p);
        return r;
    }
    *ret = p;
    return 0;
}

static int procevent_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    const struct procevent *p = data;

    for (uint32_t i = 0; i < b->n; i++) {
        struct ophost_event *e = ophost_batch_event(b, i);
        unsigned k = (unsigned) (ophost_event_get_u64(e, p->seq) & 1);
        ophost_event_set_u32(e, p->pid, (uint32_t) proc_pid[k]);
        if (p->keyed) {
            ophost_event_set_u64(e, p->start, proc_start[k]);
            ophost_event_set_u64(e, p->exec_id, 1);
        }
    }
    return 0;
}

static int procevent_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static const struct ophost_param procevent_params[] = {
    { .key = "keyed", .type = OPHOST_PARAM_BOOL, .default_value = "false",
      .description = "add start_time and exec_id" },
    { 0 },
};

static const struct ophost_operator procevent_op = {
    .struct_size = sizeof(struct ophost_operator), .name = "procevent",
    .description = "pid (and start_time, exec_id) of two live processes, alternating",
    .instance_params = procevent_params, .instantiate = procevent_instantiate,
    .process = procevent_process, .destroy = procevent_destroy,
};

static struct plugin *bench_plugin(void) {
    static const struct ophost_operator *const ops[] = { &procevent_op, NULL };
    static const struct ophost_plugin desc = {
        .abi_major = OPHOST_ABI_MAJOR, .abi_minor = OPHOST_ABI_MINOR,
        .struct_size = sizeof(struct ophost_plugin), .name = "bench", .version = "1",
        .operators = ops,
    };
    struct plugin *p = NULL;
    char *err = NULL;

    if (loader_load_static("(bench)", &desc, &p, &err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return p;
}

/* The start time of pid in ns since the epoch, from /proc/PID/stat (field
 * 22, clock ticks since boot), as procinfo and the gadgets compute it. */
static uint64_t start_ns(uint64_t pid) {
    char path[64], buf[4096], *p;
    unsigned long long ticks = 0;
    struct timespec rt, bt;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long) pid);
    f = fopen(path, "re");
    n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* comm may hold spaces */
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", &ticks) != 1) {
        fprintf(stderr, "cannot read the start time of pid %llu\n", (unsigned long long) pid);
        exit(1);
    }
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    return (uint64_t) (rt.tv_sec - bt.tv_sec) * 1000000000u + (uint64_t) rt.tv_nsec -
           (uint64_t) bt.tv_nsec + ticks * (1000000000u / (uint64_t) sysconf(_SC_CLK_TCK));
}

/* synthetic -> procevent -> [procinfo] -> null; seconds. */
static double run(struct registry *reg, bool keyed, bool procinfo, unsigned long long count) {
    struct config_param kp = { .key = "keyed", .value = keyed ? "true" : "false" };
    struct config_operator ops[3] = { { .name = "procevent", .params = &kp, .n_params = 1 } };
    size_t n = 1;

    if (procinfo)
        ops[n++] = (struct config_operator){ .name = "procinfo" };
    ops[n++] = (struct config_operator){ .name = "null" };
    return bench_run(reg, "seq:u64", ops, n, count, CLOCK);
}

int main(int argc, char **argv) {
    struct registry *reg = bench_registry(argc > 1 ? argv[1] : BENCH_PLUGIN_DIR);
    unsigned long long count = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000ULL;
    double base_k[RUNS], hit[RUNS], base_p[RUNS], stat_only[RUNS], b_k, b_p;
    struct plugin *bp;
    char *err = NULL;

    host = host_table();
    bp = bench_plugin();
    if (registry_add_plugin(reg, bp, &err) < 0)
        return fprintf(stderr, "%s\n", err), 1;
    plugin_unref(bp);
    proc_pid[0] = (uint64_t) getpid();
    proc_pid[1] = (uint64_t) getppid();
    proc_start[0] = start_ns(proc_pid[0]);
    proc_start[1] = start_ns(proc_pid[1]);

    for (int k = 0; k < RUNS; k++) {
        base_k[k] = run(reg, true, false, count);
        hit[k] = run(reg, true, true, count);
        base_p[k] = run(reg, false, false, count / 20);
        stat_only[k] = run(reg, false, true, count / 20);
    }
    b_k = bench_min(base_k, RUNS) / (double) count * 1e9;
    b_p = bench_min(base_p, RUNS) / (double) (count / 20) * 1e9;
    printf("bench-procinfo: events alternating between 2 live processes, synthetic -> "
           "procevent -> [procinfo] -> null, minimum of %d interleaved runs\n", RUNS);
    printf("baseline, events with start_time+exec_id (%llu): %8.1f ns/event\n", count, b_k);
    printf("procinfo on them (cache hit, no /proc read):   %8.1f ns/event (+%.1f ns)\n",
           bench_min(hit, RUNS) / (double) count * 1e9,
           bench_min(hit, RUNS) / (double) count * 1e9 - b_k);
    printf("baseline, events with a pid only (%llu):        %8.1f ns/event\n", count / 20, b_p);
    printf("procinfo on them (/proc/PID/stat per event):   %8.1f ns/event (+%.1f ns)\n",
           bench_min(stat_only, RUNS) / (double) (count / 20) * 1e9,
           bench_min(stat_only, RUNS) / (double) (count / 20) * 1e9 - b_p);
    registry_free(reg);
    return 0;
}

/*
 * ophost-bench — what an operator hop costs on the host's real data path.
 *
 * Host: the synthetic gadget (the real plugin) emits COUNT events in batches
 * through N pass-through operators (each writes one u64 field) into the null
 * sink, on a real session thread. The cost per event per operator is
 * (T(N) - T(0)) / (COUNT * N), where T(0) is the same pipeline without
 * pass-through operators, so the gadget and sink costs cancel out. Each T is
 * the minimum of RUNS runs, T(0) and T(N) interleaved: noise on a busy
 * machine only ever adds time, so minimums converge on the real cost, where
 * the difference of two medians of separate runs could come out negative.
 *
 * Baseline: a hand-written loop that calls the same process functions
 * through function pointers on the same batch layout, COUNT events.
 *
 * Usage: ophost-bench [PLUGIN_DIR] [COUNT]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "benchutil.h"
#include "ctx.h"
#include "loader.h"
#include "schema.h"

#ifndef BENCH_PLUGIN_DIR
#define BENCH_PLUGIN_DIR "build/plugins/dir"
#endif

#define MAX_OPS 16

static const struct ophost_host *host;

struct pass {
    ophost_field in, out;
    uint64_t add;
};

static int pass_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct pass *p = calloc(1, sizeof(*p));
    struct ophost_datasource *ds;
    char name[16];
    int r;

    if (!p)
        return -ENOMEM;
    p->add = (uint64_t) (uintptr_t) op_data;
    snprintf(name, sizeof(name), "p%llu", (unsigned long long) p->add);
    if ((r = host->datasource_find(ctx, NULL, &ds)) < 0 ||
        (r = host->field_find(ctx, ds, "seq", &p->in)) < 0 ||
        (r = host->field_add(ctx, ds, name, OPHOST_FIELD_U64, &p->out)) < 0) {
        free(p);
        return r;
    }
    *ret = p;
    return 0;
}

static int pass_init(struct ophost_ctx *ctx, void **ret) {
    /* The operator's number, from its name "pass-N". */
    *ret = (void *) (uintptr_t) strtoul(ctx->entry->op->name + 5, NULL, 10);
    return 0;
}

static int pass_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    const struct pass *p = data;
    for (uint32_t i = 0; i < b->n; i++) {
        struct ophost_event *e = ophost_batch_event(b, i);
        ophost_event_set_u64(e, p->out, ophost_event_get_u64(e, p->in) + p->add);
    }
    return 0;
}

static int pass_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static char names[MAX_OPS][16];
static struct ophost_operator pass_ops[MAX_OPS];

/* A plugin made in this process, registered like a loaded one. */
static struct plugin *bench_plugin(void) {
    static const struct ophost_operator *ptrs[MAX_OPS + 1];
    static struct ophost_plugin desc = {
        .abi_major = OPHOST_ABI_MAJOR, .abi_minor = OPHOST_ABI_MINOR,
        .struct_size = sizeof(struct ophost_plugin), .name = "bench", .version = "1",
    };
    struct plugin *p = NULL;
    char *err = NULL;

    for (int i = 0; i < MAX_OPS; i++) {
        snprintf(names[i], sizeof(names[i]), "pass-%d", i + 1);
        pass_ops[i] = (struct ophost_operator){
            .struct_size = sizeof(struct ophost_operator), .name = names[i],
            .init = pass_init, .instantiate = pass_instantiate, .process = pass_process,
            .destroy = pass_destroy,
        };
        ptrs[i] = &pass_ops[i];
    }
    desc.operators = ptrs;
    if (loader_load_static("(bench)", &desc, &p, &err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return p;
}

#define CLOCK CLOCK_MONOTONIC

/* Runs synthetic -> pass-1..pass-n -> null for count events; seconds. */
static double run_host(struct registry *reg, int n, unsigned long long count) {
    struct config_operator ops[MAX_OPS + 1];

    memset(ops, 0, sizeof(ops));
    for (int i = 0; i < n; i++)
        ops[i] = (struct config_operator){ .name = names[i] };
    ops[n] = (struct config_operator){ .name = "null" };
    return bench_run(reg, "seq:u64,pid:u32", ops, (size_t) n + 1, count, CLOCK);
}

/* The same process functions through function pointers, no host. */
static double run_hand(int n, unsigned long long count) {
    struct ophost_datasource *ds = datasource_new("events", "bench");
    int (*fn[MAX_OPS])(struct ophost_ctx *, void *, struct ophost_batch *);
    struct pass data[MAX_OPS];
    ophost_field seq, pid;
    double t0, t1;

    datasource_add_field(ds, "seq", OPHOST_FIELD_U64, "bench", &seq);
    datasource_add_field(ds, "pid", OPHOST_FIELD_U32, "bench", &pid);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i + 1);
        datasource_add_field(ds, name, OPHOST_FIELD_U64, "bench", &data[i].out);
        data[i].in = seq;
        data[i].add = (uint64_t) i + 1;
        fn[i] = pass_ops[i].process;
    }
    datasource_freeze(ds, SCHEMA_BATCH_CAPACITY);
    while (ophost_batch_append(&ds->batch))
        ;
    t0 = bench_sec(CLOCK);
    for (unsigned long long done = 0; done < count; done += SCHEMA_BATCH_CAPACITY) {
        ds->batch.n = SCHEMA_BATCH_CAPACITY;
        for (int i = 0; i < n; i++)
            fn[i](NULL, &data[i], &ds->batch);
    }
    t1 = bench_sec(CLOCK);
    datasource_free(ds);
    return t1 - t0;
}

#define RUNS 7

int main(int argc, char **argv) {
    unsigned long long count = argc > 2 ? strtoull(argv[2], NULL, 10) : 8000000ULL;
    struct registry *reg = bench_registry(argc > 1 ? argv[1] : BENCH_PLUGIN_DIR);
    struct plugin *bp;
    char *err = NULL;
    double base[RUNS], base_t;
    const int ns[] = { 1, 4, 16 };

    host = host_table();
    bp = bench_plugin();
    if (registry_add_plugin(reg, bp, &err) < 0)
        return fprintf(stderr, "%s\n", err), 1;
    plugin_unref(bp);

    printf("ophost-bench: %llu events per run, batches of %d, minimum of %d interleaved runs\n",
           count, SCHEMA_BATCH_CAPACITY, RUNS);
    for (int k = 0; k < RUNS; k++)
        base[k] = run_host(reg, 0, count);
    base_t = bench_min(base, RUNS);
    printf("host, 0 operators (gadget + null sink): %.2f ns/event\n",
           base_t / (double) count * 1e9);

    for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        int n = ns[t];
        double h[RUNS], b[RUNS], l[RUNS], host_ns, hand_ns;
        for (int k = 0; k < RUNS; k++) {
            b[k] = run_host(reg, 0, count);
            h[k] = run_host(reg, n, count);
            l[k] = run_hand(n, count);
        }
        if (bench_min(b, RUNS) < base_t)
            base_t = bench_min(b, RUNS);
        host_ns = (bench_min(h, RUNS) - base_t) / ((double) count * n) * 1e9;
        hand_ns = bench_min(l, RUNS) / ((double) count * n) * 1e9;
        printf("N=%-2d host %.3f ns/event/operator, hand-written loop %.3f ns/event/operator, "
               "ratio %.2f\n", n, host_ns, hand_ns, host_ns / hand_ns);
    }
    registry_free(reg);
    return 0;
}

/*
 * pass.c — pass-through operators for the benchmarks: pass-1 .. pass-16,
 * each adding a u64 field "pN" = seq + N to every event. A real plugin, so
 * that the same operators run in-process and in a worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <ophost/ophost.h>

#define N_PASS 16

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
    p->add = (uint64_t) (uintptr_t) op_data; /* N of pass-N, from its init */
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

#define PASS_INIT(k)                                                       \
    static int pass_init_##k(struct ophost_ctx *ctx, void **ret) {         \
        *ret = (void *) (uintptr_t) (k);                                   \
        return 0;                                                          \
    }
PASS_INIT(1) PASS_INIT(2) PASS_INIT(3) PASS_INIT(4) PASS_INIT(5) PASS_INIT(6) PASS_INIT(7)
PASS_INIT(8) PASS_INIT(9) PASS_INIT(10) PASS_INIT(11) PASS_INIT(12) PASS_INIT(13) PASS_INIT(14)
PASS_INIT(15) PASS_INIT(16)

#define PASS_OP(k)                                                          \
    {                                                                       \
        .struct_size = sizeof(struct ophost_operator), .name = "pass-" #k,  \
        .description = "adds p" #k " = seq + " #k, .init = pass_init_##k,    \
        .instantiate = pass_instantiate, .process = pass_process,           \
        .destroy = pass_destroy,                                            \
    }

static const struct ophost_operator ops[N_PASS] = {
    PASS_OP(1),  PASS_OP(2),  PASS_OP(3),  PASS_OP(4),  PASS_OP(5),  PASS_OP(6),
    PASS_OP(7),  PASS_OP(8),  PASS_OP(9),  PASS_OP(10), PASS_OP(11), PASS_OP(12),
    PASS_OP(13), PASS_OP(14), PASS_OP(15), PASS_OP(16),
};

static const struct ophost_operator *const operators[] = {
    &ops[0], &ops[1], &ops[2],  &ops[3],  &ops[4],  &ops[5],  &ops[6],  &ops[7],
    &ops[8], &ops[9], &ops[10], &ops[11], &ops[12], &ops[13], &ops[14], &ops[15], NULL,
};

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "pass",
    .version = "1",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

/*
 * limiter — keeps the first `max` live events of each batch and drops the
 * rest (for snapshot and top gadgets: "the top N"). Its priority is
 * OPHOST_PRIORITY_TRANSFORM + 100, so it runs after sort (priority
 * OPHOST_PRIORITY_TRANSFORM) when both are in a session, without forcing
 * sort into every session that limits. The keep[] mask is the same for
 * every batch, so it is built once at start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

static const struct ophost_host *host;

struct limiter {
    struct ophost_datasource *ds;
    uint64_t max;
    bool *keep; /* keep[i] = i < max, for i < cap */
    uint32_t cap;
};

static int limiter_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct limiter *l = calloc(1, sizeof(*l));
    int r;

    if (!l)
        return -ENOMEM;
    r = host->param_uint(ctx, "max", &l->max);
    if (r < 0)
        r = host->error(ctx, r, "limiter: param 'max': %s", strerror(-r));
    else if ((r = host->datasource_find(ctx, NULL, &l->ds)) < 0)
        r = host->error(ctx, r, "limiter: the session has no data source");
    if (r < 0) {
        free(l);
        return r;
    }
    *ret = l;
    return 0;
}

static int grow(struct limiter *l, uint32_t cap) {
    bool *keep = realloc(l->keep, cap * sizeof(bool));
    if (!keep)
        return -ENOMEM;
    for (uint32_t i = 0; i < cap; i++)
        keep[i] = i < l->max;
    l->keep = keep;
    l->cap = cap;
    return 0;
}

static int limiter_start(struct ophost_ctx *ctx, void *data) {
    struct limiter *l = data;
    struct ophost_batch *b = host->batch(ctx, l->ds);
    return grow(l, b && b->capacity ? b->capacity : 256);
}

static int limiter_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct limiter *l = data;

    if (b->ds != l->ds || b->n <= l->max)
        return 0;
    if (b->n > l->cap) {
        /* Not with the host's fixed batch capacity; kept for safety. */
        int r = grow(l, b->capacity > b->n ? b->capacity : b->n);
        if (r < 0)
            return host->error(ctx, r, "limiter: out of memory");
    }
    ophost_batch_keep(b, l->keep);
    return 0;
}

static int limiter_destroy(struct ophost_ctx *ctx, void *data) {
    struct limiter *l = data;
    free(l->keep);
    free(l);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "max", .type = OPHOST_PARAM_UINT, .default_value = "10",
      .flags = OPHOST_PARAM_HAS_MIN, .min = 1,
      .description = "events of each batch to keep (the first ones, after sort)" },
    { 0 }
};

static const struct ophost_operator limiter_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "limiter",
    .description = "Keeps the first N events of each batch (runs after sort)",
    .priority = OPHOST_PRIORITY_TRANSFORM + 100,
    .instance_params = params,
    .instantiate = limiter_instantiate,
    .start = limiter_start,
    .process = limiter_process,
    .destroy = limiter_destroy,
};

static const struct ophost_operator *const operators[] = { &limiter_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "limiter",
    .version = "1.0",
    .description = "Limits the events of a batch",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

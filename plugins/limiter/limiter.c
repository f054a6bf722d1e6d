/*
 * limiter — keeps the first `max` live events and drops the rest, either of
 * each batch (`per: batch`, the default: for snapshot and top gadgets, whose
 * batch is one round, "the top N" of each round) or of the whole session
 * (`per: session`: a total across batches, for stream gadgets; once `max`
 * events passed, the session completes). Its priority is
 * OPHOST_PRIORITY_TRANSFORM + 100, so it runs after sort (priority
 * OPHOST_PRIORITY_TRANSFORM) when both are in a session, without forcing
 * sort into every session that limits. The keep[] mask of a full batch is
 * the same for every batch, so it is built once at start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

static const struct ophost_host *host;

struct limiter {
    struct ophost_datasource *ds;
    uint64_t max;
    bool per_session;
    uint64_t passed;  /* per session: events let through so far */
    bool *keep; /* keep[i] = i < max, for i < cap */
    uint32_t cap;
};

static int limiter_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct limiter *l = calloc(1, sizeof(*l));
    int r;

    if (!l)
        return -ENOMEM;
    const char *per = NULL;

    r = host->param_uint(ctx, "max", &l->max);
    if (r < 0)
        r = host->error(ctx, r, "limiter: param 'max': %s", strerror(-r));
    else if ((r = host->param_string(ctx, "per", &per)) < 0)
        r = host->error(ctx, r, "limiter: param 'per': %s", strerror(-r));
    else if ((r = host->datasource_find(ctx, NULL, &l->ds)) < 0)
        r = host->error(ctx, r, "limiter: the session has no data source");
    if (r < 0) {
        free(l);
        return r;
    }
    l->per_session = strcmp(per, "session") == 0;
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

/* Per session: keeps what is left of the total and, once it is reached,
 * ends the session (the events of this batch still go on). */
static void limit_session(struct ophost_ctx *ctx, struct limiter *l, struct ophost_batch *b) {
    uint64_t left = l->max - l->passed;

    if (b->n > left)
        b->n = (uint32_t) left; /* the first `left` of sel[] stay, in order */
    l->passed += b->n;
    if (l->passed >= l->max)
        host->done(ctx, 0);
}

static int limiter_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct limiter *l = data;

    if (b->ds != l->ds)
        return 0;
    if (l->per_session) {
        limit_session(ctx, l, b);
        return 0;
    }
    if (b->n <= l->max)
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
      .description = "events to keep (the first ones, after sort): of each batch, or in all "
                     "(per: session)" },
    { .key = "per", .type = OPHOST_PARAM_STRING, .default_value = "batch",
      .allowed = (const char *const[]){ "batch", "session", NULL },
      .description = "batch: max of each batch (a round of a snapshot or top gadget); session: "
                     "max in all, then the session completes (for streams)" },
    { 0 }
};

static const struct ophost_operator limiter_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "limiter",
    .description = "Keeps the first N events of each batch, or of the session (runs after sort)",
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

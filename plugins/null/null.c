/*
 * null — a sink that discards every event and counts them; the count is
 * logged when the session stops. The end of a pipeline in benchmarks.
 */
#include <errno.h>
#include <stdlib.h>

#include <ophost/ophost.h>

static const struct ophost_host *host;

struct null_sink {
    uint64_t events;
};

static int null_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct null_sink *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    *ret = n;
    return 0;
}

static int null_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct null_sink *n = data;
    n->events += b->n;
    return 0;
}

static int null_stop(struct ophost_ctx *ctx, void *data) {
    struct null_sink *n = data;
    host->log(ctx, OPHOST_LOG_INFO, "%llu events", (unsigned long long) n->events);
    return 0;
}

static int null_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static const struct ophost_operator null_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "null",
    .description = "Discards events, counting them",
    .priority = OPHOST_PRIORITY_SINK,
    .instantiate = null_instantiate,
    .process = null_process,
    .stop = null_stop,
    .destroy = null_destroy,
};

static const struct ophost_operator *const operators[] = { &null_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "null",
    .version = "1.0",
    .description = "A sink that discards events",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

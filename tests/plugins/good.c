/*
 * good.c — a valid test plugin with three operators: good-a, good-b (which
 * depends on good-a) and good-c (global and instance params of every type).
 * init and close of each operator write "init NAME" / "close NAME" to the
 * trace file; good-c's init also records the global param values it read.
 */

#include <inttypes.h>

#include "test-plugin.h"

static const struct ophost_host *host;

static int a_init(struct ophost_ctx *ctx, void **ret_op_data) {
    trace("init good-a");
    return 0;
}

static int a_close(struct ophost_ctx *ctx, void *op_data) {
    trace("close good-a");
    return 0;
}

static int b_init(struct ophost_ctx *ctx, void **ret_op_data) {
    trace("init good-b");
    return 0;
}

static int b_close(struct ophost_ctx *ctx, void *op_data) {
    trace("close good-b");
    return 0;
}

static int c_init(struct ophost_ctx *ctx, void **ret_op_data) {
    uint64_t interval, max;
    int64_t level;
    const char *label;
    bool verbose;
    int r;

    if ((r = host->param_duration(ctx, "interval", &interval)) < 0)
        return host->error(ctx, r, "cannot read param 'interval'");
    if ((r = host->param_bool(ctx, "verbose", &verbose)) < 0)
        return host->error(ctx, r, "cannot read param 'verbose'");
    if ((r = host->param_string(ctx, "label", &label)) < 0)
        return host->error(ctx, r, "cannot read param 'label'");
    if ((r = host->param_int(ctx, "level", &level)) < 0)
        return host->error(ctx, r, "cannot read param 'level'");
    if ((r = host->param_uint(ctx, "max", &max)) < 0)
        return host->error(ctx, r, "cannot read param 'max'");
    trace("init good-c interval=%" PRIu64 " verbose=%d label=%s level=%" PRId64 " max=%" PRIu64,
          interval, verbose, label, level, max);
    return 0;
}

static int c_close(struct ophost_ctx *ctx, void *op_data) {
    trace("close good-c");
    return 0;
}

static int c_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *batch) {
    return 0;
}

static const char *const b_deps[] = { "good-a", NULL };
static const char *const labels[] = { "none", "short", "long", NULL };
static const char *const max_aliases[] = { "maximum", NULL };

static const struct ophost_param c_globals[] = {
    { .key = "interval", .description = "How often", .type = OPHOST_PARAM_DURATION,
      .flags = OPHOST_PARAM_HAS_MIN, .default_value = "1s", .min = 1000000 },
    { .key = "verbose", .description = "Say more", .type = OPHOST_PARAM_BOOL,
      .default_value = "false" },
    { .key = "label", .description = "Label style", .type = OPHOST_PARAM_STRING,
      .default_value = "none", .allowed = labels },
    { .key = "level", .description = "A signed level", .type = OPHOST_PARAM_INT,
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .default_value = "-3",
      .min = -10, .max = 10 },
    { .key = "max", .description = "An upper bound", .type = OPHOST_PARAM_UINT,
      .default_value = "100", .aliases = max_aliases },
    { .key = NULL },
};

static const struct ophost_param c_instance[] = {
    { .key = "path", .description = "Where to write", .type = OPHOST_PARAM_STRING,
      .flags = OPHOST_PARAM_MANDATORY },
    { .key = "timeout", .description = "Give up after", .type = OPHOST_PARAM_DURATION,
      .flags = OPHOST_PARAM_HAS_MAX, .default_value = "250ms", .max = 60000000000 },
    { .key = NULL },
};

static const struct ophost_operator good_a = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "good-a",
    .description = "First good operator",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .init = a_init,
    .close = a_close,
};

static const struct ophost_operator good_b = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "good-b",
    .description = "Needs good-a",
    .priority = OPHOST_PRIORITY_TRANSFORM,
    .dependencies = b_deps,
    .init = b_init,
    .close = b_close,
};

static const struct ophost_operator good_c = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "good-c",
    .description = "Has params",
    .priority = OPHOST_PRIORITY_SINK,
    .global_params = c_globals,
    .instance_params = c_instance,
    .init = c_init,
    .close = c_close,
    .process = c_process,
};

static const struct ophost_operator *const operators[] = { &good_a, &good_b, &good_c, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "good",
    .version = "1.0",
    .description = "A valid test plugin",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

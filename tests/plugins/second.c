/*
 * second.c — another valid test plugin, built as a plugin of a later 1.x
 * would be: its operator struct is larger than the host's (a field appended
 * after process), which the host must accept and ignore.
 */
#include "test-plugin.h"

struct operator_later {
    struct ophost_operator base;
    void (*appended_later)(void);
};

static int x_init(struct ophost_ctx *ctx, void **ret_op_data) {
    trace("init second-x");
    return 0;
}

static int x_close(struct ophost_ctx *ctx, void *op_data) {
    trace("close second-x");
    return 0;
}

static const struct operator_later second_x = {
    .base = {
        .struct_size = sizeof(struct operator_later),
        .name = "second-x",
        .description = "A gadget from the second plugin",
        .flags = OPHOST_OPERATOR_GADGET,
        .priority = OPHOST_PRIORITY_EARLY_FILTER,
        .init = x_init,
        .close = x_close,
    },
    .appended_later = NULL,
};

static const struct ophost_operator *const operators[] = { &second_x.base, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "second",
    .version = "2.1",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

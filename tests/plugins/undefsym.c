/*
 * undefsym.c — calls a function nothing provides (as a plugin that tries to
 * link against daemon internals would); dlopen(RTLD_NOW) refuses it.
 */
#include "test-plugin.h"

void ophost_test_no_such_function(void);

static int x_init(struct ophost_ctx *ctx, void **ret_op_data) {
    ophost_test_no_such_function();
    return 0;
}

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "undefsym-op",
    .init = x_init,
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "undefsym",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

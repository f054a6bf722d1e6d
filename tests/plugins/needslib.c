/* needslib.c — needs libophost-test-absent.so, which is not beside it. */
#include "test-plugin.h"

int ophost_test_absent(void);

static int x_init(struct ophost_ctx *ctx, void **ret_op_data) {
    return ophost_test_absent();
}

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "needslib-op",
    .init = x_init,
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "needslib",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

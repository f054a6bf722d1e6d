/* initfail.c — valid, but its operator's init fails with -EIO and a reason;
 * init and close are traced so the tests see init runs once and close never. */
#include <errno.h>

#include "test-plugin.h"

static const struct ophost_host *host;

static int fail_init(struct ophost_ctx *ctx, void **ret_op_data) {
    trace("init initfail-op");
    return host->error(ctx, -EIO, "cannot open /dev/nothing");
}

static int fail_close(struct ophost_ctx *ctx, void *op_data) {
    trace("close initfail-op");
    return 0;
}

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "initfail-op",
    .init = fail_init,
    .close = fail_close,
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "initfail",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

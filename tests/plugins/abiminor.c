/* abiminor.c — declares an ABI minor newer than the host's; refused at the abi step. */
#include "test-plugin.h"

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "abiminor-op",
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR + 1,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "abiminor",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

/* abimajor.c — declares ABI major 2; refused at the abi step. */
#include "test-plugin.h"

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "abimajor-op",
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = 2,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "abimajor",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

/*
 * resident.c — a valid plugin linked with -z nodelete, so it stays mapped
 * after dlclose(), as C++ plugins with unique symbols do. The loader must
 * not mistake a file loaded later for it.
 */
#include "test-plugin.h"

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "resident-op",
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "resident",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

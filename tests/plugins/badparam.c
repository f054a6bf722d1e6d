/* badparam.c — an instance param whose default is not a valid duration. */
#include "test-plugin.h"

static const struct ophost_param instance_params[] = {
    { .key = "level", .type = OPHOST_PARAM_INT, .default_value = "3" },
    { .key = "interval", .type = OPHOST_PARAM_DURATION, .default_value = "2x" },
    { .key = NULL },
};

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "badparam-op",
    .instance_params = instance_params,
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "badparam",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

/* dupinside.c — defines operator dup-op twice. */
#include "test-plugin.h"

static const struct ophost_operator dup = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "dup-op",
};

static const struct ophost_operator other = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "other-op",
};

static const struct ophost_operator *const operators[] = { &dup, &other, &dup, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "dupinside",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

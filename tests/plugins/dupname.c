/* dupname.c — valid by itself, but its second operator, good-a, is provided by
 * the good plugin too: the registry refuses the whole plugin (all or none). */
#include "test-plugin.h"

static const struct ophost_operator first = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "dup-first",
};

static const struct ophost_operator again = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "good-a",
};

static const struct ophost_operator *const operators[] = { &first, &again, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "dupname",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

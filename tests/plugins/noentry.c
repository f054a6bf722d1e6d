/* noentry.c — exports a misspelt entry symbol and not ophost_plugin_entry. */
#include "test-plugin.h"

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "noentry-op",
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "noentry",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entri(const struct ophost_host *h);
OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entri(const struct ophost_host *h) {
    return &plugin;
}

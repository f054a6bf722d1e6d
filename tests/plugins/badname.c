/* badname.c — its second operator is named "Bad Name" (upper case, a space). */
#include "test-plugin.h"

static const struct ophost_operator fine = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "fine-op",
};

static const struct ophost_operator bad = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "Bad Name",
};

static const struct ophost_operator *const operators[] = { &fine, &bad, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "badname",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return &plugin;
}

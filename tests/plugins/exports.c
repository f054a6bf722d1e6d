/* exports.c — valid, but built without -fvisibility=hidden and with three
 * functions and a variable that are not static: it exports them besides its
 * entry (a --check-plugin warning, not a refusal). */
#include "test-plugin.h"

int exports_counter;
int exports_helper_a(void);
int exports_helper_b(void);
int exports_helper_c(void);

int exports_helper_a(void) {
    return ++exports_counter;
}

int exports_helper_b(void) {
    return exports_helper_a() + 1;
}

int exports_helper_c(void) {
    return exports_helper_b() + 1;
}

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "exports-op",
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "exports",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    (void) h;
    return &plugin;
}

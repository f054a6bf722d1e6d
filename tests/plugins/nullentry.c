/* nullentry.c — its entry function returns NULL instead of a descriptor. */
#include "test-plugin.h"

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    return NULL;
}

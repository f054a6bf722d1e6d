/* crashctor.c — a plugin with a constructor that crashes (SIGSEGV) while
 * it is being loaded, before its entry function can run. */
#include "test-plugin.h"

static int *volatile nowhere;

__attribute__((constructor)) static void crash_at_load(void) {
    *nowhere = 1;
}

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    (void) h;
    return NULL;
}

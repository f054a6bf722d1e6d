/* crashentry.c — a plugin whose entry function crashes (SIGSEGV), or with
 * CRASHENTRY_HANG defined, never returns: the scanner must refuse it and
 * nothing else. */
#include <unistd.h>

#include "test-plugin.h"

static int *volatile nowhere;

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
#ifdef CRASHENTRY_HANG
    for (;;)
        pause();
#else
    *nowhere = 1;
#endif
    (void) h;
    return NULL;
}

/*
 * test-plugin.h — shared by the test plugins: a trace helper through which
 * the tests observe which callbacks ran, in which order.
 */
#ifndef OPHOST_TEST_PLUGIN_H
#define OPHOST_TEST_PLUGIN_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <ophost/ophost.h>

/* Appends one line to the file named by $OPHOST_TEST_TRACE; does nothing
 * when it is unset, so the plugins also load outside the tests. */
static inline void trace(const char *fmt, ...) OPHOST_PRINTF(1, 2);
static inline void trace(const char *fmt, ...) {
    const char *path = getenv("OPHOST_TEST_TRACE");
    va_list ap;
    FILE *f;

    if (!path || !*path)
        return;
    f = fopen(path, "ae");
    if (!f)
        return;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

#endif

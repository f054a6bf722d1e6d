/*
 * errors.h — a list of human-readable error lines. Parsers and validators
 * (config, plan) collect every problem they find instead of stopping at the
 * first, so one `ophostd --check` run shows them all.
 */
#ifndef OPHOST_DAEMON_ERRORS_H
#define OPHOST_DAEMON_ERRORS_H

#include <stddef.h>

#include "util.h"

struct errors {
    char **lines; /* NULL-terminated, owned */
    size_t n;
};

/* Appends one formatted line. Returns -ENOMEM if it could not be stored
 * (then n still counts it, so a failure is never mistaken for success). */
int errors_add(struct errors *e, const char *fmt, ...) _printf_(2, 3);
/* Moves every line of from to the end of to. */
void errors_move(struct errors *to, struct errors *from);
void errors_clear(struct errors *e);

#endif

/* errors.c — the error line list of errors.h. */
#include "errors.h"

#include <errno.h>

int errors_add(struct errors *e, const char *fmt, ...) {
    va_list ap;
    char *s;
    e->n++;
    va_start(ap, fmt);
    s = vstrprintf(fmt, ap);
    va_end(ap);
    return strv_consume(&e->lines, s);
}

void errors_move(struct errors *to, struct errors *from) {
    for (size_t i = 0; from->lines && from->lines[i]; i++)
        (void) strv_consume(&to->lines, from->lines[i]);
    to->n += from->n;
    free(from->lines);
    from->lines = NULL;
    from->n = 0;
}

void errors_clear(struct errors *e) {
    e->lines = strv_free(e->lines);
    e->n = 0;
}

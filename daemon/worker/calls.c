/* calls.c — the status page calls are published to (see calls.h). */
#include "calls.h"

static struct status_page private_page = { .magic = STATUS_MAGIC };

struct status_page *calls_page = &private_page;

void calls_set_page(struct status_page *page) {
    calls_page = page ? page : &private_page;
}

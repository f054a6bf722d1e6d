/* fuzz-config.c — libFuzzer target for the pipeline file parser: any input
 * must be parsed or refused with error lines, without crashing, leaking or
 * taking long. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct config_pipelines *p = calloc(1, sizeof(*p));
    struct errors errs = {0};
    int r;

    if (!p)
        return 0;
    r = config_parse_pipelines("fuzz.yaml", (const char *) data, size, p, &errs);
    /* Failure and error lines go together: no error goes unreported. */
    if ((r == 0 && errs.n > 0) || (r < 0 && r != -ENOMEM && errs.n == 0))
        abort();
    /* What was parsed must be consistent: sorted, and findable. */
    for (size_t i = 0; i < p->n_sessions; i++) {
        if (config_pipelines_find(p, p->sessions[i].name) != &p->sessions[i])
            abort();
        if (!config_session_equal(&p->sessions[i], &p->sessions[i]))
            abort();
    }
    errors_clear(&errs);
    config_pipelines_free(p);
    return 0;
}

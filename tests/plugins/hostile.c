/*
 * hostile.c — an operator that misbehaves on purpose, for the fault
 * isolation tests: in the callback its "in" param names, it does what its
 * "fault" param says:
 *
 *   segv    writes through a NULL pointer (SIGSEGV)
 *   abort   calls abort() (SIGABRT)
 *   exit    calls exit(3)
 *   stack   recurses until the stack overflows (SIGSEGV)
 *   loop    never returns
 *   slow    sleeps for a second, then behaves
 *   leak    (process only) leaks 64 KiB per batch, touching every page
 *   none    behaves
 *
 * A second operator, hostile-init, does its global param "fault" in init.
 * It is valid C that a compiler could see through, so the faults go through
 * volatile data and the stack recursion through a volatile function pointer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test-plugin.h"

static const struct ophost_host *host;

enum fault { F_NONE, F_SEGV, F_ABORT, F_EXIT, F_STACK, F_LOOP, F_LEAK, F_SLOW };

struct hostile {
    enum fault fault;
    char in[32];
};

static int *volatile nowhere;
/* The leaked blocks, chained, so that no compiler can drop them. */
static void *volatile leaked;

static unsigned recurse(unsigned depth);
static unsigned (*volatile recurse_ptr)(unsigned) = recurse;

static unsigned recurse(unsigned depth) {
    volatile char frame[4096];
    frame[0] = (char) depth;
    return recurse_ptr(depth + 1) + (unsigned) frame[0];
}

static void do_fault(enum fault f) {
    switch (f) {
    case F_SEGV:
        *nowhere = 1;
        break;
    case F_ABORT:
        abort();
    case F_EXIT:
        exit(3);
    case F_STACK:
        (void) recurse_ptr(0);
        break;
    case F_LOOP:
        for (;;)
            pause();
    case F_SLOW:
        (void) usleep(1000 * 1000);
        break;
    case F_LEAK:
    case F_NONE:
        break;
    }
}

static int parse_fault(struct ophost_ctx *ctx, const char *s, enum fault *ret) {
    static const char *const names[] = { "none", "segv", "abort", "exit", "stack", "loop",
                                         "leak", "slow" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0) {
            *ret = (enum fault) i;
            return 0;
        }
    return host->error(ctx, -EINVAL, "unknown fault '%s'", s);
}

static void maybe(struct hostile *h, const char *callback) {
    if (strcmp(h->in, callback) == 0)
        do_fault(h->fault);
}

static int h_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct hostile *h = calloc(1, sizeof(*h));
    const char *fault, *in;
    int r;

    if (!h)
        return -ENOMEM;
    if ((r = host->param_string(ctx, "fault", &fault)) < 0 ||
        (r = host->param_string(ctx, "in", &in)) < 0 || (r = parse_fault(ctx, fault, &h->fault)) < 0) {
        free(h);
        return r;
    }
    snprintf(h->in, sizeof(h->in), "%s", in);
    *ret = h;
    maybe(h, "instantiate");
    return 0;
}

static int h_pre_start(struct ophost_ctx *ctx, void *data) {
    maybe(data, "pre_start");
    return 0;
}

static int h_start(struct ophost_ctx *ctx, void *data) {
    maybe(data, "start");
    return 0;
}

static int h_stop(struct ophost_ctx *ctx, void *data) {
    maybe(data, "stop");
    return 0;
}

static int h_post_stop(struct ophost_ctx *ctx, void *data) {
    maybe(data, "post_stop");
    return 0;
}

static int h_destroy(struct ophost_ctx *ctx, void *data) {
    maybe(data, "destroy");
    free(data);
    return 0;
}

static int h_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct hostile *h = data;
    if (strcmp(h->in, "process") != 0)
        return 0;
    if (h->fault == F_LEAK) {
        char *p = malloc(64 * 1024);
        if (!p)
            *nowhere = 1; /* what code that does not check malloc() does */
        memset(p, 0x5a, 64 * 1024); /* touched: resident, not just reserved */
        memcpy(p, (const void *) &leaked, sizeof(void *));
        leaked = p;
        return 0;
    }
    do_fault(h->fault);
    return 0;
}

static int h_init(struct ophost_ctx *ctx, void **ret_op_data) {
    const char *fault;
    enum fault f;
    int r = host->param_string(ctx, "fault", &fault);
    if (r < 0 || (r = parse_fault(ctx, fault, &f)) < 0)
        return r;
    do_fault(f);
    return 0;
}

static const char *const faults[] = { "none", "segv", "abort", "exit", "stack", "loop", "leak",
                                      "slow", NULL };
static const char *const callbacks[] = { "instantiate", "pre_start", "start", "process",
                                         "stop", "post_stop", "destroy", NULL };

static const struct ophost_param instance_params[] = {
    { .key = "fault", .type = OPHOST_PARAM_STRING, .default_value = "none", .allowed = faults,
      .description = "what to do wrong" },
    { .key = "in", .type = OPHOST_PARAM_STRING, .default_value = "process", .allowed = callbacks,
      .description = "in which callback" },
    { 0 },
};

static const struct ophost_param global_params[] = {
    { .key = "fault", .type = OPHOST_PARAM_STRING, .default_value = "none", .allowed = faults,
      .description = "what init does wrong" },
    { 0 },
};

static const struct ophost_operator hostile = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "hostile",
    .description = "Misbehaves on purpose in the callback it is told",
    .instance_params = instance_params,
    .instantiate = h_instantiate,
    .pre_start = h_pre_start,
    .start = h_start,
    .stop = h_stop,
    .post_stop = h_post_stop,
    .destroy = h_destroy,
    .process = h_process,
};

static const struct ophost_operator hostile_init = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "hostile-init",
    .description = "Misbehaves on purpose in init",
    .global_params = global_params,
    .init = h_init,
};

static const struct ophost_operator *const operators[] = { &hostile, &hostile_init, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "hostile",
    .version = "1",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

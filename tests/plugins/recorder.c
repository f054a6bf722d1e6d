/*
 * recorder.c — a test plugin whose operators write down every per-session
 * callback the host makes, so test-session can assert the exact lifecycle
 * and data path of a session.
 *
 * Operators, in the order a session runs them:
 *   rec-gadget  gadget; data source "events" with seq (u64) and name
 *               (string, "ev-SEQ"); at start a 0-delay timer emits `count`
 *               events (seq 1..count) in batches of `per-batch`, then calls
 *               done(done-error). count=0: emits nothing and never ends.
 *   rec-a       adds a (u64) = seq * 10
 *   rec-b       adds b (string) = "b-SEQ"; drop-odd drops events of odd seq
 *               (depends on rec-a)
 *   rec-c       reads seq, name, a, b and writes one line per event
 *               (depends on rec-b)
 *
 * Every callback appends "OPNAME PHASE" (process: "OPNAME process n=N",
 * N the live events handed in) to the file named by the mandatory instance
 * param `trace`, one write() per line on an O_APPEND descriptor. The
 * gadget, whose process() the host never calls, writes "rec-gadget process"
 * when its emitting timer fires (count > 0), "rec-gadget emit n=N" before
 * each emit, "rec-gadget emit failed" when emit refuses, and "rec-gadget
 * done" when it ends the session. rec-c writes "rec-c event seq=S name=NAME
 * a=A b=B" per event (a field that does not exist is "-", an unset string
 * "(unset)") and "rec-c batch n=N".
 *
 * Param `fail` = PHASE makes that phase fail after writing its line:
 * host->error(ctx, -EIO, "recorder: PHASE failed on purpose"); for the
 * gadget, fail=process fails its emitting timer callback. Param `opt-out`
 * makes instantiate return OPHOST_OPT_OUT (after writing its line).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ophost/ophost.h>

static const struct ophost_host *host;

enum kind { KIND_GADGET, KIND_A, KIND_B, KIND_C };

static const char *const kind_names[] = { "rec-gadget", "rec-a", "rec-b", "rec-c" };

struct rec {
    enum kind kind;
    const char *name;
    const char *trace; /* owned by the host (instance params) */
    const char *fail;
    struct ophost_datasource *ds;
    ophost_field seq, ev_name, a, b;
    bool has_a, has_b, drop_odd;
    uint64_t count, per_batch, emitted, done_error;
    struct ophost_source *timer;
};

static void trace(const char *path, const char *fmt, ...) OPHOST_PRINTF(2, 3);
static void trace(const char *path, const char *fmt, ...) {
    char line[512];
    va_list ap;
    int n, fd;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n > sizeof(line) - 2)
        n = (int) sizeof(line) - 2;
    line[n++] = '\n';
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t) n) != n) {
        /* Nothing better to do: the test will see the line missing. */
    }
    close(fd);
}

/* Writes the phase line; returns the failure if this phase must fail. */
static int phase(struct ophost_ctx *ctx, const struct rec *r, const char *name) {
    trace(r->trace, "%s %s", r->name, name);
    if (strcmp(r->fail, name) == 0)
        return host->error(ctx, -EIO, "recorder: %s failed on purpose", name);
    return 0;
}

static int setup_schema(struct ophost_ctx *ctx, struct rec *r) {
    int k;

    if (r->kind == KIND_GADGET) {
        if ((k = host->datasource_add(ctx, "events", &r->ds)) < 0 ||
            (k = host->field_add(ctx, r->ds, "seq", OPHOST_FIELD_U64, &r->seq)) < 0 ||
            (k = host->field_add(ctx, r->ds, "name", OPHOST_FIELD_STRING, &r->ev_name)) < 0)
            return host->error(ctx, k, "recorder: cannot declare data source 'events'");
        return 0;
    }
    if ((k = host->datasource_find(ctx, NULL, &r->ds)) < 0 ||
        (k = host->field_find(ctx, r->ds, "seq", &r->seq)) < 0)
        return host->error(ctx, k, "recorder: no field 'seq'");
    switch (r->kind) {
    case KIND_A:
        if ((k = host->field_add(ctx, r->ds, "a", OPHOST_FIELD_U64, &r->a)) < 0)
            return host->error(ctx, k, "recorder: cannot add field 'a'");
        break;
    case KIND_B:
        if ((k = host->field_add(ctx, r->ds, "b", OPHOST_FIELD_STRING, &r->b)) < 0)
            return host->error(ctx, k, "recorder: cannot add field 'b'");
        break;
    case KIND_C:
        if ((k = host->field_find(ctx, r->ds, "name", &r->ev_name)) < 0)
            return host->error(ctx, k, "recorder: no field 'name'");
        /* a and b are missing when rec-a or rec-b opted out. */
        r->has_a = host->field_find(ctx, r->ds, "a", &r->a) == 0;
        r->has_b = host->field_find(ctx, r->ds, "b", &r->b) == 0;
        break;
    default:
        break;
    }
    return 0;
}

static int instantiate(struct ophost_ctx *ctx, enum kind kind, void **ret) {
    struct rec *r = calloc(1, sizeof(*r));
    bool opt_out = false;
    int k;

    if (!r)
        return -ENOMEM;
    r->kind = kind;
    r->name = kind_names[kind];
    if ((k = host->param_string(ctx, "trace", &r->trace)) < 0 ||
        (k = host->param_string(ctx, "fail", &r->fail)) < 0 ||
        (k = host->param_bool(ctx, "opt-out", &opt_out)) < 0) {
        free(r);
        return host->error(ctx, k, "recorder: cannot read params");
    }
    if (kind == KIND_GADGET &&
        ((k = host->param_uint(ctx, "count", &r->count)) < 0 ||
         (k = host->param_uint(ctx, "per-batch", &r->per_batch)) < 0 ||
         (k = host->param_uint(ctx, "done-error", &r->done_error)) < 0)) {
        free(r);
        return host->error(ctx, k, "recorder: cannot read gadget params");
    }
    if (kind == KIND_B && (k = host->param_bool(ctx, "drop-odd", &r->drop_odd)) < 0) {
        free(r);
        return host->error(ctx, k, "recorder: cannot read param 'drop-odd'");
    }
    k = phase(ctx, r, "instantiate");
    if (k == 0 && opt_out)
        k = OPHOST_OPT_OUT;
    if (k == 0)
        k = setup_schema(ctx, r);
    if (k != 0) {
        free(r);
        return k;
    }
    *ret = r;
    return 0;
}

static int gadget_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    (void) op_data;
    return instantiate(ctx, KIND_GADGET, ret);
}

static int a_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    (void) op_data;
    return instantiate(ctx, KIND_A, ret);
}

static int b_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    (void) op_data;
    return instantiate(ctx, KIND_B, ret);
}

static int c_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    (void) op_data;
    return instantiate(ctx, KIND_C, ret);
}

static int rec_pre_start(struct ophost_ctx *ctx, void *data) {
    return phase(ctx, data, "pre_start");
}

/* The gadget's timer: all events, then done. */
static int gadget_tick(struct ophost_ctx *ctx, void *userdata) {
    struct rec *r = userdata;
    struct ophost_batch *b;
    int k;

    if (r->count == 0)
        return 0; /* runs until stopped */
    if ((k = phase(ctx, r, "process")) < 0)
        return k;
    b = host->batch(ctx, r->ds);
    if (!b)
        return host->error(ctx, -EINVAL, "recorder: no batch");
    while (r->emitted < r->count) {
        struct ophost_event *e;
        char text[32];

        while (r->emitted < r->count && b->n < r->per_batch && (e = ophost_batch_append(b))) {
            r->emitted++;
            ophost_event_set_u64(e, r->seq, r->emitted);
            snprintf(text, sizeof(text), "ev-%" PRIu64, r->emitted);
            if ((k = ophost_event_set_string(b, e, r->ev_name, text)) < 0)
                return host->error(ctx, k, "recorder: cannot set 'name'");
        }
        trace(r->trace, "%s emit n=%u", r->name, b->n);
        if (host->emit(ctx, b) < 0) {
            trace(r->trace, "%s emit failed", r->name);
            return 0; /* the session is failing and says why */
        }
    }
    trace(r->trace, "%s done", r->name);
    host->done(ctx, -(int) r->done_error);
    return 0;
}

static int rec_start(struct ophost_ctx *ctx, void *data) {
    struct rec *r = data;
    int k;

    /* The gadget's timer first: when its start fails on purpose, the host
     * must free the source it leaves behind (ophost.h: "the host frees what
     * is left when the instance stops"). */
    if (r->kind == KIND_GADGET &&
        (k = host->timer_add(ctx, 0, 0, gadget_tick, r, &r->timer)) < 0)
        return host->error(ctx, k, "recorder: cannot add a timer");
    return phase(ctx, r, "start");
}

static int rec_stop(struct ophost_ctx *ctx, void *data) {
    struct rec *r = data;

    host->source_free(r->timer);
    r->timer = NULL;
    return phase(ctx, r, "stop");
}

static int rec_post_stop(struct ophost_ctx *ctx, void *data) {
    return phase(ctx, data, "post_stop");
}

static int rec_destroy(struct ophost_ctx *ctx, void *data) {
    struct rec *r = data;
    int k = phase(ctx, r, "destroy");

    free(r);
    return k;
}

static int rec_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct rec *r = data;
    char text[32];
    int k;

    trace(r->trace, "%s process n=%u", r->name, b->n);
    if (strcmp(r->fail, "process") == 0)
        return host->error(ctx, -EIO, "recorder: process failed on purpose");

    switch (r->kind) {
    case KIND_A:
        for (uint32_t i = 0; i < b->n; i++) {
            struct ophost_event *e = ophost_batch_event(b, i);
            ophost_event_set_u64(e, r->a, ophost_event_get_u64(e, r->seq) * 10);
        }
        break;
    case KIND_B: {
        bool keep[b->n > 0 ? b->n : 1];
        for (uint32_t i = 0; i < b->n; i++) {
            struct ophost_event *e = ophost_batch_event(b, i);
            uint64_t seq = ophost_event_get_u64(e, r->seq);
            snprintf(text, sizeof(text), "b-%" PRIu64, seq);
            if ((k = ophost_event_set_string(b, e, r->b, text)) < 0)
                return host->error(ctx, k, "recorder: cannot set 'b'");
            keep[i] = !r->drop_odd || seq % 2 == 0;
        }
        ophost_batch_keep(b, keep);
        break;
    }
    case KIND_C:
        for (uint32_t i = 0; i < b->n; i++) {
            struct ophost_event *e = ophost_batch_event(b, i);
            const char *name = ophost_event_get_string(b, e, r->ev_name, NULL);
            const char *bs = r->has_b ? ophost_event_get_string(b, e, r->b, NULL) : "-";
            char a[32] = "-";
            if (r->has_a)
                snprintf(a, sizeof(a), "%" PRIu64, ophost_event_get_u64(e, r->a));
            trace(r->trace, "%s event seq=%" PRIu64 " name=%s a=%s b=%s", r->name,
                  ophost_event_get_u64(e, r->seq), name ? name : "(unset)", a,
                  bs ? bs : "(unset)");
        }
        trace(r->trace, "%s batch n=%u", r->name, b->n);
        break;
    default:
        break;
    }
    return 0;
}

static const char *const fail_values[] = {
    "none", "instantiate", "pre_start", "start", "stop", "post_stop", "destroy", "process", NULL
};

#define COMMON_PARAMS                                                                       \
    { .key = "trace", .description = "File the callbacks are written to",                  \
      .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_MANDATORY },                       \
    { .key = "fail", .description = "The phase that fails on purpose",                     \
      .type = OPHOST_PARAM_STRING, .default_value = "none", .allowed = fail_values },      \
    { .key = "opt-out", .description = "Opt out of the session at instantiate",            \
      .type = OPHOST_PARAM_BOOL, .default_value = "false" }

static const struct ophost_param gadget_params[] = {
    COMMON_PARAMS,
    { .key = "count", .description = "Events to emit; 0 = none, run until stopped",
      .type = OPHOST_PARAM_UINT, .default_value = "3" },
    { .key = "per-batch", .description = "Events per batch",
      .type = OPHOST_PARAM_UINT, .default_value = "2",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 1, .max = 256 },
    { .key = "done-error", .description = "errno the gadget ends the session with",
      .type = OPHOST_PARAM_UINT, .default_value = "0",
      .flags = OPHOST_PARAM_HAS_MAX, .max = 4095 },
    { 0 }
};

static const struct ophost_param op_params[] = { COMMON_PARAMS, { 0 } };

static const struct ophost_param b_params[] = {
    COMMON_PARAMS,
    { .key = "drop-odd", .description = "Drop the events whose seq is odd",
      .type = OPHOST_PARAM_BOOL, .default_value = "false" },
    { 0 }
};

#define CALLBACKS                                                                          \
    .pre_start = rec_pre_start, .start = rec_start, .stop = rec_stop,                     \
    .post_stop = rec_post_stop, .destroy = rec_destroy, .process = rec_process

static const char *const b_deps[] = { "rec-a", NULL };
static const char *const c_deps[] = { "rec-b", NULL };

static const struct ophost_operator rec_gadget = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "rec-gadget",
    .description = "Emits numbered events and records its callbacks",
    .flags = OPHOST_OPERATOR_GADGET,
    .instance_params = gadget_params,
    .instantiate = gadget_instantiate,
    CALLBACKS,
};

static const struct ophost_operator rec_a = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "rec-a",
    .description = "Adds a = seq * 10 and records its callbacks",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .instance_params = op_params,
    .instantiate = a_instantiate,
    CALLBACKS,
};

static const struct ophost_operator rec_b = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "rec-b",
    .description = "Adds b = \"b-SEQ\", may drop odd events, records its callbacks",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .dependencies = b_deps,
    .instance_params = b_params,
    .instantiate = b_instantiate,
    CALLBACKS,
};

static const struct ophost_operator rec_c = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "rec-c",
    .description = "Records every event it sees",
    .priority = OPHOST_PRIORITY_SINK,
    .dependencies = c_deps,
    .instance_params = op_params,
    .instantiate = c_instantiate,
    CALLBACKS,
};

static const struct ophost_operator *const operators[] = { &rec_gadget, &rec_a, &rec_b, &rec_c,
                                                           NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "recorder",
    .version = "1.0",
    .description = "Test operators that record every callback",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

/*
 * plugin-1.0.c — a plugin as a third party wrote it against the ABI 1.0
 * header as first released (ophost-1.0.h, a frozen copy: never edit it). It
 * is built against that copy only, and tests/abi/abi-1.0.sh checks that the
 * current ophostd still loads it and runs it to the expected output. When
 * this test fails, the daemon broke plugins already in the field: keep the
 * old behaviour (append, never change) instead of editing this file.
 *
 * abi10-gadget: one event per timer tick (fields seq u64, small u32, delta
 * s64 = offset - seq, odd bool, name string = "PREFIX-SEQ"); ends the
 * session with done(0) after `count` events. PREFIX is a global param read
 * in init; count, interval and offset are instance params.
 * abi10-enricher: adds seq_x u64 = seq * factor, note string and session
 * string, and drops the event whose seq is `drop` (ophost_batch_keep).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ophost-1.0.h"

static const struct ophost_host *host;

/* --------------------------------------------------------------- gadget */

struct gadget_global {
    const char *prefix;
};

struct gadget {
    const struct gadget_global *global;
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field seq, small, delta, odd, name;
    uint64_t count, interval_nsec, n;
    int64_t offset;
    struct ophost_source *timer;
};

static int gadget_init(struct ophost_ctx *ctx, void **ret_op_data) {
    struct gadget_global *g = calloc(1, sizeof(*g));
    int r;

    if (!g)
        return -ENOMEM;
    r = host->param_string(ctx, "prefix", &g->prefix);
    if (r < 0) {
        free(g);
        return host->error(ctx, r, "cannot read global param 'prefix'");
    }
    *ret_op_data = g;
    return 0;
}

static int gadget_close(struct ophost_ctx *ctx, void *op_data) {
    free(op_data);
    return 0;
}

static int gadget_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret_data) {
    struct gadget *g = calloc(1, sizeof(*g));
    int r;

    if (!g)
        return -ENOMEM;
    g->global = op_data;
    g->ctx = ctx;
    if ((r = host->param_uint(ctx, "count", &g->count)) < 0 ||
        (r = host->param_duration(ctx, "interval", &g->interval_nsec)) < 0 ||
        (r = host->param_int(ctx, "offset", &g->offset)) < 0) {
        free(g);
        return host->error(ctx, r, "cannot read the instance params");
    }
    if ((r = host->datasource_add(ctx, "ticks", &g->ds)) < 0 ||
        (r = host->field_add(ctx, g->ds, "seq", OPHOST_FIELD_U64, &g->seq)) < 0 ||
        (r = host->field_add(ctx, g->ds, "small", OPHOST_FIELD_U32, &g->small)) < 0 ||
        (r = host->field_add(ctx, g->ds, "delta", OPHOST_FIELD_S64, &g->delta)) < 0 ||
        (r = host->field_add(ctx, g->ds, "odd", OPHOST_FIELD_BOOL, &g->odd)) < 0 ||
        (r = host->field_add(ctx, g->ds, "name", OPHOST_FIELD_STRING, &g->name)) < 0) {
        free(g);
        return host->error(ctx, r, "cannot declare the schema");
    }
    *ret_data = g;
    return 0;
}

static int gadget_pre_start(struct ophost_ctx *ctx, void *data) {
    /* The enricher checks that it sees this. */
    return host->var_set(ctx, "abi10.gadget", data);
}

static int on_tick(struct ophost_ctx *ctx, void *userdata) {
    struct gadget *g = userdata;
    struct ophost_batch *b = host->batch(ctx, g->ds);
    struct ophost_event *e;
    char text[64];

    if (!b)
        return host->error(ctx, -EINVAL, "no batch for data source 'ticks'");
    e = ophost_batch_append(b);
    if (!e)
        return host->error(ctx, -ENOBUFS, "the batch is full");
    g->n++;
    ophost_event_set_u64(e, g->seq, g->n);
    ophost_event_set_u32(e, g->small, (uint32_t) g->n);
    ophost_event_set_s64(e, g->delta, g->offset - (int64_t) g->n);
    ophost_event_set_bool(e, g->odd, g->n & 1);
    snprintf(text, sizeof(text), "%s-%llu", g->global->prefix, (unsigned long long) g->n);
    if (ophost_event_set_string(b, e, g->name, text) < 0)
        return host->error(ctx, -ENOMEM, "no room for field 'name'");
    if (host->emit(ctx, b) < 0)
        return 0; /* the session is failing and says why */
    if (g->n >= g->count)
        host->done(ctx, 0);
    return 0;
}

static int gadget_start(struct ophost_ctx *ctx, void *data) {
    struct gadget *g = data;
    uint64_t usec = g->interval_nsec / 1000;
    int r = host->timer_add(ctx, usec, usec, on_tick, g, &g->timer);

    if (r < 0)
        return host->error(ctx, r, "cannot add the timer");
    return 0;
}

static int gadget_stop(struct ophost_ctx *ctx, void *data) {
    struct gadget *g = data;
    host->source_free(g->timer);
    g->timer = NULL;
    host->log(ctx, OPHOST_LOG_INFO, "abi10-gadget: stopped after %llu events",
              (unsigned long long) g->n);
    return 0;
}

static int gadget_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

/* ------------------------------------------------------------- enricher */

struct enricher {
    struct ophost_datasource *ds;
    ophost_field seq, seq_x, note_f, session_f;
    uint64_t factor, drop;
    const char *note, *session;
    bool *keep;
    uint32_t keep_cap;
};

static int enricher_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret_data) {
    struct enricher *x = calloc(1, sizeof(*x));
    const char *gadget = host->gadget_name(ctx);
    int r;

    if (!x)
        return -ENOMEM;
    x->session = host->session_name(ctx);
    if (!gadget || strcmp(gadget, "abi10-gadget") != 0 || !x->session) {
        free(x);
        return host->error(ctx, -EINVAL, "works only on abi10-gadget sessions");
    }
    if ((r = host->param_uint(ctx, "factor", &x->factor)) < 0 ||
        (r = host->param_uint(ctx, "drop", &x->drop)) < 0 ||
        (r = host->param_string(ctx, "note", &x->note)) < 0) {
        free(x);
        return host->error(ctx, r, "cannot read the instance params");
    }
    if ((r = host->datasource_find(ctx, NULL, &x->ds)) < 0 ||
        (r = host->field_find(ctx, x->ds, "seq", &x->seq)) < 0 ||
        (r = host->field_add(ctx, x->ds, "seq_x", OPHOST_FIELD_U64, &x->seq_x)) < 0 ||
        (r = host->field_add(ctx, x->ds, "note", OPHOST_FIELD_STRING, &x->note_f)) < 0 ||
        (r = host->field_add(ctx, x->ds, "session", OPHOST_FIELD_STRING, &x->session_f)) < 0) {
        free(x);
        return host->error(ctx, r, "cannot resolve or add fields");
    }
    *ret_data = x;
    return 0;
}

static int enricher_start(struct ophost_ctx *ctx, void *data) {
    struct enricher *x = data;
    const char *name = NULL;
    ophost_field f;
    size_t n = host->field_count(ctx, x->ds);

    if (!host->var_get(ctx, "abi10.gadget"))
        return host->error(ctx, -ENOENT, "variable 'abi10.gadget' is not set");
    if (!host->datasource_name(ctx, x->ds) || strcmp(host->datasource_name(ctx, x->ds), "ticks"))
        return host->error(ctx, -EINVAL, "the data source is not 'ticks'");
    if (n < 8 || host->field_at(ctx, x->ds, x->session_f.index, &name, &f) < 0 ||
        strcmp(name, "session") || f.offset != x->session_f.offset ||
        f.type != OPHOST_FIELD_STRING || host->field_at(ctx, x->ds, n, &name, &f) != -ERANGE)
        return host->error(ctx, -EINVAL, "unexpected schema: %zu fields", n);
    host->log(ctx, OPHOST_LOG_INFO, "abi10-enricher: %zu fields, factor %llu", n,
              (unsigned long long) x->factor);
    return 0;
}

static int enricher_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct enricher *x = data;

    if (b->ds != x->ds)
        return 0;
    if (b->n > x->keep_cap) { /* once: the batch capacity is fixed */
        free(x->keep);
        x->keep = calloc(b->capacity, sizeof(bool));
        if (!x->keep)
            return -ENOMEM;
        x->keep_cap = b->capacity;
    }
    for (uint32_t i = 0; i < b->n; i++) {
        struct ophost_event *e = ophost_batch_event(b, i);
        uint64_t seq = ophost_event_get_u64(e, x->seq);
        x->keep[i] = seq != x->drop;
        ophost_event_set_u64(e, x->seq_x, seq * x->factor);
        if (ophost_event_set_string(b, e, x->note_f, x->note) < 0 ||
            ophost_event_set_string(b, e, x->session_f, x->session) < 0)
            return host->error(ctx, -ENOMEM, "no room for strings");
    }
    ophost_batch_keep(b, x->keep);
    return 0;
}

static int enricher_destroy(struct ophost_ctx *ctx, void *data) {
    struct enricher *x = data;
    free(x->keep);
    free(x);
    return 0;
}

/* ------------------------------------------------------------- plugin */

static const struct ophost_param gadget_globals[] = {
    { .key = "prefix", .description = "Text before the number in 'name'",
      .type = OPHOST_PARAM_STRING, .default_value = "tick" },
    { 0 }
};

static const struct ophost_param gadget_params[] = {
    { .key = "count", .description = "Events before the session completes",
      .type = OPHOST_PARAM_UINT, .flags = OPHOST_PARAM_HAS_MIN, .default_value = "3", .min = 1 },
    { .key = "interval", .description = "Time between events", .type = OPHOST_PARAM_DURATION,
      .default_value = "10ms" },
    { .key = "offset", .description = "delta = offset - seq", .type = OPHOST_PARAM_INT,
      .default_value = "0" },
    { 0 }
};

static const char *const note_aliases[] = { "remark", NULL };

static const struct ophost_param enricher_params[] = {
    { .key = "factor", .description = "seq_x = seq * factor", .type = OPHOST_PARAM_UINT,
      .default_value = "10" },
    { .key = "drop", .description = "Drop the event with this seq (0 = none)",
      .type = OPHOST_PARAM_UINT, .default_value = "0" },
    { .key = "note", .description = "Text of the note field", .type = OPHOST_PARAM_STRING,
      .flags = OPHOST_PARAM_MANDATORY, .aliases = note_aliases },
    { 0 }
};

static const struct ophost_operator gadget_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "abi10-gadget",
    .description = "ABI 1.0 gadget: one event per tick",
    .flags = OPHOST_OPERATOR_GADGET,
    .global_params = gadget_globals,
    .instance_params = gadget_params,
    .init = gadget_init,
    .close = gadget_close,
    .instantiate = gadget_instantiate,
    .pre_start = gadget_pre_start,
    .start = gadget_start,
    .stop = gadget_stop,
    .destroy = gadget_destroy,
};

static const struct ophost_operator enricher_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "abi10-enricher",
    .description = "ABI 1.0 enricher: seq_x, note, session; drops one seq",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .instance_params = enricher_params,
    .instantiate = enricher_instantiate,
    .start = enricher_start,
    .process = enricher_process,
    .destroy = enricher_destroy,
};

static const struct ophost_operator *const operators[] = { &gadget_op, &enricher_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "abi10",
    .version = "1.0",
    .description = "A plugin built against the ABI 1.0 header as released",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

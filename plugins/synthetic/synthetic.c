/*
 * synthetic — a gadget that makes up events, like GStreamer's fakesrc: for
 * tests, benchmarks and demos. Fields are chosen by the "fields" param;
 * values derive from a sequence number so a consumer can check them:
 * integers = seq (truncated to the type), bool = seq is odd, timestamp =
 * wall-clock time of the batch, string = "NAME-SEQ", bytes = seq as 8 bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ophost/ophost.h>

#include "schema.h"

#define MAX_FIELDS 32

static const struct ophost_host *host;

struct synthetic {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field fields[MAX_FIELDS];
    char names[MAX_FIELDS][65];
    size_t n_fields;
    uint64_t count, rate, batch_size, seq;
    uint64_t start_usec;
    struct ophost_source *timer;
};

static const struct {
    const char *name;
    uint32_t type;
} types[] = {
    { "u8", OPHOST_FIELD_U8 },       { "u16", OPHOST_FIELD_U16 },
    { "u32", OPHOST_FIELD_U32 },     { "u64", OPHOST_FIELD_U64 },
    { "s32", OPHOST_FIELD_S32 },     { "s64", OPHOST_FIELD_S64 },
    { "bool", OPHOST_FIELD_BOOL },   { "timestamp", OPHOST_FIELD_TIMESTAMP },
    { "string", OPHOST_FIELD_STRING }, { "bytes", OPHOST_FIELD_BYTES },
};

static uint64_t now_usec(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Parses "name:type,name:type" and adds the fields. */
static int add_fields(struct synthetic *s, const char *spec) {
    char buf[1024], *save = NULL;

    if (strlen(spec) >= sizeof(buf))
        return host->error(s->ctx, -EINVAL, "param 'fields': too long");
    strcpy(buf, spec);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        uint32_t type = 0;
        int r;
        if (!colon)
            return host->error(s->ctx, -EINVAL, "param 'fields': '%s' is not NAME:TYPE", item);
        *colon = '\0';
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcmp(types[i].name, colon + 1) == 0)
                type = types[i].type;
        if (!type)
            return host->error(s->ctx, -EINVAL, "param 'fields': unknown type '%s' of field '%s'",
                               colon + 1, item);
        if (s->n_fields == MAX_FIELDS)
            return host->error(s->ctx, -E2BIG, "param 'fields': more than %d fields", MAX_FIELDS);
        r = host->field_add(s->ctx, s->ds, item, type, &s->fields[s->n_fields]);
        if (r < 0)
            return host->error(s->ctx, r, "cannot add field '%s': %s", item, strerror(-r));
        r = schema_describe_field(host, s->ctx, s->ds, item, s->fields[s->n_fields],
                                  type == OPHOST_FIELD_BOOL        ? "made up: whether seq is odd"
                                  : type == OPHOST_FIELD_TIMESTAMP ? "made up: the time of the event"
                                  : type == OPHOST_FIELD_STRING    ? "made up: NAME-SEQ"
                                  : type == OPHOST_FIELD_BYTES     ? "made up: seq as 8 bytes"
                                                                   : "made up: the sequence number",
                                  NULL, NULL, false);
        if (r < 0)
            return r;
        snprintf(s->names[s->n_fields], sizeof(s->names[0]), "%s", item);
        s->n_fields++;
    }
    return 0;
}

static int synthetic_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct synthetic *s = calloc(1, sizeof(*s));
    const char *fields;
    int r;

    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    if ((r = host->param_uint(ctx, "count", &s->count)) < 0 ||
        (r = host->param_uint(ctx, "rate", &s->rate)) < 0 ||
        (r = host->param_uint(ctx, "batch", &s->batch_size)) < 0 ||
        (r = host->param_string(ctx, "fields", &fields)) < 0)
        goto fail;
    r = host->datasource_add(ctx, "events", &s->ds);
    if (r < 0)
        goto fail;
    r = add_fields(s, fields);
    if (r < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    free(s);
    return r;
}

static void fill(struct synthetic *s, struct ophost_batch *b, struct ophost_event *e, uint64_t ts) {
    uint64_t seq = s->seq;
    for (size_t i = 0; i < s->n_fields; i++) {
        ophost_field f = s->fields[i];
        char text[96];
        switch (f.type) {
        case OPHOST_FIELD_U8: ophost_event_set_u8(e, f, (uint8_t) seq); break;
        case OPHOST_FIELD_U16: ophost_event_set_u16(e, f, (uint16_t) seq); break;
        case OPHOST_FIELD_U32: ophost_event_set_u32(e, f, (uint32_t) seq); break;
        case OPHOST_FIELD_U64: ophost_event_set_u64(e, f, seq); break;
        case OPHOST_FIELD_S32: ophost_event_set_s32(e, f, (int32_t) seq); break;
        case OPHOST_FIELD_S64: ophost_event_set_s64(e, f, (int64_t) seq); break;
        case OPHOST_FIELD_BOOL: ophost_event_set_bool(e, f, seq & 1); break;
        case OPHOST_FIELD_TIMESTAMP: ophost_event_set_u64(e, f, ts); break;
        case OPHOST_FIELD_STRING:
            snprintf(text, sizeof(text), "%s-%llu", s->names[i], (unsigned long long) seq);
            (void) ophost_event_set_string(b, e, f, text);
            break;
        case OPHOST_FIELD_BYTES:
            (void) ophost_event_set_bytes(b, e, f, &seq, sizeof(seq));
            break;
        }
    }
}

/* Emits events up to target (never past count) in batches. */
static int emit_until(struct synthetic *s, uint64_t target) {
    struct ophost_batch *b = host->batch(s->ctx, s->ds);
    uint64_t ts = now_usec(CLOCK_REALTIME) * 1000u;

    if (!b)
        return host->error(s->ctx, -EINVAL, "no batch for data source 'events'");
    while (s->seq < target) {
        struct ophost_event *e;
        int r;
        while (s->seq < target && b->n < s->batch_size && (e = ophost_batch_append(b))) {
            s->seq++;
            fill(s, b, e, ts);
        }
        r = host->emit(s->ctx, b);
        if (r < 0)
            return 0; /* the session is failing and says why; stop emitting */
    }
    if (s->count && s->seq >= s->count)
        host->done(s->ctx, 0);
    return 0;
}

static int on_tick(struct ophost_ctx *ctx, void *userdata) {
    struct synthetic *s = userdata;
    uint64_t target;

    if (s->rate == 0)
        /* Flat out, but yield to the loop every 64 batches. */
        target = s->seq + 64 * s->batch_size;
    else
        target = (now_usec(CLOCK_MONOTONIC) - s->start_usec) * s->rate / 1000000u + 1;
    if (s->count && target > s->count)
        target = s->count;
    return emit_until(s, target);
}

static int synthetic_start(struct ophost_ctx *ctx, void *data) {
    struct synthetic *s = data;
    uint64_t period = 1;

    /* One tick per event at low rates, so an idle session wakes no more
     * than its events need; at most 1000 ticks per second above that. */
    if (s->rate > 0) {
        period = 1000000u / s->rate;
        if (period < 1000)
            period = 1000;
    }
    s->start_usec = now_usec(CLOCK_MONOTONIC);
    return host->timer_add(ctx, 0, period, on_tick, s, &s->timer);
}

static int synthetic_stop(struct ophost_ctx *ctx, void *data) {
    struct synthetic *s = data;
    host->source_free(s->timer);
    s->timer = NULL;
    host->log(ctx, OPHOST_LOG_DEBUG, "emitted %llu events", (unsigned long long) s->seq);
    return 0;
}

static int synthetic_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "count", .type = OPHOST_PARAM_UINT, .default_value = "0",
      .description = "events to emit, then the session completes (0 = no limit)" },
    { .key = "rate", .type = OPHOST_PARAM_UINT, .default_value = "10",
      .description = "events per second (0 = as fast as possible)" },
    { .key = "batch", .type = OPHOST_PARAM_UINT, .default_value = "256",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 1, .max = 256,
      .description = "events per batch at most" },
    { .key = "fields", .type = OPHOST_PARAM_STRING,
      .default_value = "seq:u64,timestamp:timestamp,pid:u32,comm:string",
      .description = "NAME:TYPE,... with TYPE one of u8 u16 u32 u64 s32 s64 bool timestamp string bytes" },
    { 0 }
};

static const struct ophost_operator synthetic = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "synthetic",
    .description = "Emits made-up events at a given rate (for tests, benchmarks and demos)",
    .flags = OPHOST_OPERATOR_GADGET,
    .instance_params = params,
    .instantiate = synthetic_instantiate,
    .start = synthetic_start,
    .stop = synthetic_stop,
    .destroy = synthetic_destroy,
};

static const struct ophost_operator *const operators[] = { &synthetic, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "synthetic",
    .version = "1.0",
    .description = "A synthetic event source",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

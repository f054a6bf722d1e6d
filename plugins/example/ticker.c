/* ticker — a gadget template, built out of tree like example.c: a timer
 * emits `burst` events every `interval` until `count` events are out, then
 * ends the session (done). Events: seq (1, 2, ...), timestamp (now) and comm
 * ("tick" for odd seq, "tock" for even). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, for ophost_timestamp_now */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ophost/ophost.h>

static const struct ophost_host *host;

struct ticker {
    struct ophost_datasource *ds;
    ophost_field seq, timestamp, comm;
    uint64_t count, burst, interval_nsec, n;
    struct ophost_source *timer;
};

/* Session thread, before start: the params and the schema. Dry runs call it
 * too (ophostd --check): nothing here may touch the system. */
static int ticker_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret_data) {
    struct ticker *t = calloc(1, sizeof(*t));
    int r;

    (void) op_data;
    if (!t)
        return -ENOMEM;
    if ((r = host->param_uint(ctx, "count", &t->count)) < 0 ||
        (r = host->param_uint(ctx, "burst", &t->burst)) < 0 ||
        (r = host->param_duration(ctx, "interval", &t->interval_nsec)) < 0 ||
        (r = host->datasource_add(ctx, "events", &t->ds)) < 0 ||
        (r = host->field_add(ctx, t->ds, "seq", OPHOST_FIELD_U64, &t->seq)) < 0 ||
        (r = host->field_add(ctx, t->ds, "timestamp", OPHOST_FIELD_TIMESTAMP, &t->timestamp)) < 0 ||
        (r = host->field_add(ctx, t->ds, "comm", OPHOST_FIELD_STRING, &t->comm)) < 0)
        r = host->error(ctx, r, "cannot set up data source 'events': %s", strerror(-r));
    if (r < 0)
        free(t);
    else
        *ret_data = t;
    return r;
}

static int ticker_destroy(struct ophost_ctx *ctx, void *data) {
    (void) ctx;
    free(data);
    return 0;
}

/* Loop callback: one burst. A full batch is emitted and refilled; emit
 * runs every later operator's process() before it returns. */
static int on_tick(struct ophost_ctx *ctx, void *userdata) {
    struct ticker *t = userdata;
    struct ophost_batch *b = host->batch(ctx, t->ds);
    uint64_t now = ophost_timestamp_now();

    if (!b)
        return host->error(ctx, -EINVAL, "no batch for data source 'events'");
    for (uint64_t i = 0; i < t->burst && t->n < t->count; i++) {
        struct ophost_event *e = ophost_batch_append(b);
        if (!e) {
            if (host->emit(ctx, b) < 0)
                return 0; /* the session is failing or stopping: it says why */
            e = ophost_batch_append(b);
        }
        t->n++;
        ophost_event_set_u64(e, t->seq, t->n);
        ophost_event_set_u64(e, t->timestamp, now);
        if (ophost_event_set_string(b, e, t->comm, t->n % 2 ? "tick" : "tock") < 0)
            return host->error(ctx, -ENOMEM, "no room for field 'comm'");
    }
    if (b->n > 0 && host->emit(ctx, b) < 0)
        return 0;
    if (t->n >= t->count)
        host->done(ctx, 0); /* completed: stop, post_stop, destroy follow */
    return 0;
}

/* The first tick at once (after every operator's start), then every
 * interval: durations are nanoseconds, timers microseconds. */
static int ticker_start(struct ophost_ctx *ctx, void *data) {
    struct ticker *t = data;
    return host->timer_add(ctx, 0, ophost_usec_from_nsec(t->interval_nsec), on_tick, t,
                           &t->timer);
}

static int ticker_stop(struct ophost_ctx *ctx, void *data) {
    (void) ctx;
    host->source_free(((struct ticker *) data)->timer);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "count", .description = "events to emit, then the session completes",
      .type = OPHOST_PARAM_UINT, .flags = OPHOST_PARAM_HAS_MIN, .default_value = "10", .min = 1 },
    { .key = "burst", .description = "events per tick", .type = OPHOST_PARAM_UINT,
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .default_value = "1",
      .min = 1, .max = 100000 },
    { .key = "interval", .description = "time between ticks", .type = OPHOST_PARAM_DURATION,
      .flags = OPHOST_PARAM_HAS_MIN, .default_value = "100ms", .min = 1000000 /* ns: 1ms */ },
    { 0 }
};

static const struct ophost_operator ticker = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "ticker", .description = "Emits count events, burst per interval, then completes",
    .flags = OPHOST_OPERATOR_GADGET, .instance_params = params,
    .instantiate = ticker_instantiate, .start = ticker_start, .stop = ticker_stop,
    .destroy = ticker_destroy,
};

OPHOST_PLUGIN(host, "ticker", "1.0", "A timer-driven gadget", &ticker);

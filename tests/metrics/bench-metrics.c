/*
 * bench-metrics — what the metrics operator costs per event and metric at
 * 10 label combinations (the budget: at most 30 ns), against the loop one
 * would write by hand for the same count: hash the label, probe a small
 * open-addressing table, compare the bytes, add one.
 *
 * metrics.so is dlopen'ed and driven through a minimal host table as the
 * daemon drives it: instantiate and start once, then process() on a full
 * batch of 256 events, over and over; the batch holds 10 combinations of
 * comm (10 strings) and pid (10 numbers, one per comm). Each case runs 9
 * interleaved times with its hand-written loop; the fastest of each counts.
 * Also measured: rendering and publishing the text of 10,000 series.
 *
 * Usage: bench-metrics [PATH/TO/metrics.so] [ROUNDS]
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ophost/ophost.h>

#include "bench-host.h"

#ifndef BENCH_PLUGIN_DIR
#define BENCH_PLUGIN_DIR "build/plugins/dir"
#endif

#define CAP 256
#define BUDGET_NS 30.0

struct ophost_ctx {
    int unused;
};

static struct ophost_ctx the_ctx;
static const char *spec;
static uint64_t max_series = 10000;
static struct ophost_batch batch;
static uint64_t published_bytes;

static const struct bench_field fields[] = {
    { "pid", { 0, OPHOST_FIELD_U32, 0 } },
    { "size", { 8, OPHOST_FIELD_U64, 1 } },
    { "lat", { 16, OPHOST_FIELD_U64, 2 } },
    { "comm", { 24, OPHOST_FIELD_STRING, 3 } },
};

static void h_log(struct ophost_ctx *ctx, int prio, const char *fmt, ...) {
}

static int h_param_string(struct ophost_ctx *ctx, const char *key, const char **ret) {
    if (strcmp(key, "metrics") == 0)
        *ret = spec;
    else if (strcmp(key, "datasource") == 0)
        *ret = "";
    else
        return -ENOENT;
    return 0;
}

static int h_param_uint(struct ophost_ctx *ctx, const char *key, uint64_t *ret) {
    if (strcmp(key, "max-series") != 0)
        return -ENOENT;
    *ret = max_series;
    return 0;
}

static int h_param_duration(struct ophost_ctx *ctx, const char *key, uint64_t *ret) {
    if (strcmp(key, "publish-interval") != 0)
        return -ENOENT;
    *ret = 1000000000ULL;
    return 0;
}

static const char *h_field_closest(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                   const char *name) {
    return NULL;
}

static const char *h_datasource_name(struct ophost_ctx *ctx, struct ophost_datasource *ds) {
    return "events";
}

static int h_timer_add(struct ophost_ctx *ctx, uint64_t first, uint64_t interval, ophost_timer_fn cb,
                       void *userdata, struct ophost_source **ret) {
    if (ret)
        *ret = NULL; /* never fires here: publishing is measured on its own */
    return 0;
}

static void h_source_free(struct ophost_source *s) {
}

static int h_metrics_publish(struct ophost_ctx *ctx, const char *text, size_t len) {
    published_bytes += len;
    return 0;
}

static const struct ophost_host host = {
    .struct_size = sizeof(struct ophost_host),
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .log = h_log,
    .error = bench_error,
    .param_string = h_param_string,
    .param_uint = h_param_uint,
    .param_duration = h_param_duration,
    .datasource_find = bench_datasource_find,
    .field_find = bench_field_find,
    .field_count = bench_field_count,
    .field_at = bench_field_at,
    .field_closest = h_field_closest,
    .datasource_name = h_datasource_name,
    .timer_add = h_timer_add,
    .source_free = h_source_free,
    .metrics_publish = h_metrics_publish,
};

static int no_reserve(struct ophost_batch *b, size_t need) {
    return -ENOMEM;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The hand-written count() by (comm): FNV-1a over the bytes, linear
 * probing in 16 slots, memcmp, add one. */
struct slot {
    const char *s;
    uint32_t len;
    uint64_t hash, count;
    char copy[16];
};
static struct slot table[16];
static uint64_t sink;

static void hand_count_by_comm(struct ophost_batch *b) {
    for (uint32_t i = 0; i < b->n; i++) {
        size_t len = 0;
        const char *s = ophost_event_get_string(b, ophost_batch_event(b, i), fields[3].f, &len);
        uint64_t h = 0xcbf29ce484222325ULL;
        size_t k;
        for (size_t c = 0; c < len; c++)
            h = (h ^ (unsigned char) s[c]) * 0x100000001b3ULL;
        for (k = h & 15; table[k].s; k = (k + 1) & 15)
            if (table[k].hash == h && table[k].len == len && memcmp(table[k].s, s, len) == 0)
                break;
        if (!table[k].s) {
            memcpy(table[k].copy, s, len);
            table[k].s = table[k].copy;
            table[k].len = (uint32_t) len;
            table[k].hash = h;
        }
        table[k].count++;
    }
}

static double run_op(const struct ophost_operator *op, void *data, unsigned rounds) {
    uint64_t t0 = now_ns();
    for (unsigned r = 0; r < rounds; r++)
        if (op->process(&the_ctx, data, &batch) < 0)
            abort();
    return (double) (now_ns() - t0) / ((double) rounds * CAP);
}

static double run_hand(unsigned rounds) {
    uint64_t t0 = now_ns();
    for (unsigned r = 0; r < rounds; r++)
        hand_count_by_comm(&batch);
    for (size_t k = 0; k < 16; k++)
        sink += table[k].count;
    return (double) (now_ns() - t0) / ((double) rounds * CAP);
}

/* Rendering 10,000 series: one metric fed 10,000 combinations, then the
 * text made and handed over (what happens at most every publish-interval,
 * on the session thread). */
static void bench_publish(const struct ophost_operator *op) {
    static uint8_t records[CAP * 32];
    static uint32_t sel[CAP];
    static char strings[CAP * 32];
    struct ophost_batch b = { .struct_size = sizeof(b), .sel = sel, .records = records,
                              .record_size = 32, .capacity = CAP, .strings = strings,
                              .strings_cap = sizeof(strings), .strings_len = 1, .ds = BENCH_DS,
                              .reserve_strings = no_reserve };
    void *data = NULL;
    double best = 1e9;
    uint64_t before;

    spec = "exec_events_total = count() by (comm, pid)";
    if (op->instantiate(&the_ctx, NULL, &data) != 0 || op->start(&the_ctx, data) != 0)
        abort();
    for (uint32_t k = 0; k < 10000; k += CAP) {
        b.n = b.n_records = 0;
        b.strings_len = 1;
        for (uint32_t i = 0; i < CAP && k + i < 10000; i++) {
            struct ophost_event *e = ophost_batch_append(&b);
            char comm[16];
            snprintf(comm, sizeof(comm), "comm-%u", (k + i) % 100);
            ophost_event_set_u32(e, fields[0].f, k + i);
            ophost_event_set_string(&b, e, fields[3].f, comm);
        }
        if (op->process(&the_ctx, data, &b) < 0)
            abort();
    }
    for (int rep = 0; rep < 20; rep++) {
        uint64_t t0;
        double ms;
        /* stop publishes (the final text); start again for the next round */
        before = published_bytes;
        t0 = now_ns();
        if (op->stop(&the_ctx, data) != 0)
            abort();
        ms = (double) (now_ns() - t0) / 1e6;
        best = ms < best ? ms : best;
        if (op->start(&the_ctx, data) != 0)
            abort();
    }
    printf("publish: 10,000 series (count() by (comm, pid)) rendered and handed over in %.2f ms "
           "(%llu bytes), on the session thread, at most once per publish-interval (1 s)\n",
           best, (unsigned long long) (published_bytes - before));
    op->stop(&the_ctx, data);
    op->destroy(&the_ctx, data);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : BENCH_PLUGIN_DIR "/metrics.so";
    unsigned rounds = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 20000;
    static const struct {
        const char *label, *spec;
        unsigned metrics;
        bool hand;
    } cases[] = {
        { "count(), no label          ", "a_total = count()", 1, false },
        { "count() by (comm)          ", "a_total = count() by (comm)", 1, true },
        { "count() by (pid)           ", "a_total = count() by (pid)", 1, false },
        { "sum(size) by (comm, pid)   ", "a_total = sum(size) by (comm, pid)", 1, false },
        { "histogram(lat) 4 buckets   ", "a = histogram(lat) buckets(10, 100, 1000, 10000) by (comm)",
          1, false },
        { "the 4 above in one operator",
          "a_total = count() by (comm); b_total = count() by (pid); c_total = sum(size) by (comm, "
          "pid); d = histogram(lat) buckets(10, 100, 1000, 10000) by (comm)",
          4, false },
    };
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ophost_plugin_entry_fn entry;
    const struct ophost_operator *op;
    static uint8_t records[CAP * 32];
    static uint32_t sel[CAP];
    static char strings[CAP * 32];
    bool within = true;

    bench_fields = fields;
    bench_n_fields = sizeof(fields) / sizeof(fields[0]);
    if (!dl) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return 1;
    }
    entry = (ophost_plugin_entry_fn) dlsym(dl, OPHOST_PLUGIN_ENTRY_SYMBOL);
    op = entry(&host)->operators[0];

    /* A full batch of 10 label combinations. */
    batch = (struct ophost_batch){ .struct_size = sizeof(batch), .sel = sel, .records = records,
                                   .record_size = 32, .capacity = CAP, .strings = strings,
                                   .strings_cap = sizeof(strings), .strings_len = 1,
                                   .ds = BENCH_DS, .reserve_strings = no_reserve };
    for (uint32_t i = 0; i < CAP; i++) {
        struct ophost_event *e = ophost_batch_append(&batch);
        static const char *const comms[] = { "bash", "sshd", "systemd", "cron", "python3",
                                             "containerd", "nginx", "postgres", "kworker/0:1",
                                             "ophostd" };
        uint32_t c = (i * 7) % 10;
        ophost_event_set_u32(e, fields[0].f, 1000 + c);
        ophost_event_set_u64(e, fields[1].f, 512 + i);
        ophost_event_set_u64(e, fields[2].f, (uint64_t) i * 97 % 20000);
        ophost_event_set_string(&batch, e, fields[3].f, comms[c]);
    }

    printf("metrics operator, batches of %d events, 10 label combinations (budget %.0f ns per "
           "event per metric)\n", CAP, BUDGET_NS);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        void *data = NULL;
        double to = 1e9, th = 1e9, per;
        spec = cases[c].spec;
        if (op->instantiate(&the_ctx, NULL, &data) != 0 || op->start(&the_ctx, data) != 0)
            return 1;
        for (int rep = 0; rep < 9; rep++) {
            double t = run_op(op, data, rounds);
            to = t < to ? t : to;
            if (cases[c].hand) {
                t = run_hand(rounds);
                th = t < th ? t : th;
            }
        }
        per = to / cases[c].metrics;
        within = within && per <= BUDGET_NS;
        if (cases[c].hand)
            printf("%s: %.2f ns/event/metric (%.0f M events/s); hand-written loop %.2f ns/event "
                   "(ratio %.2f)\n", cases[c].label, per, 1000.0 / to, th, to / th);
        else
            printf("%s: %.2f ns/event/metric (%.0f M events/s)\n", cases[c].label, per,
                   1000.0 / to);
        op->stop(&the_ctx, data);
        op->destroy(&the_ctx, data);
    }
    printf("budget %.0f ns/event/metric: %s\n", BUDGET_NS, within ? "met" : "NOT met");
    bench_publish(op);
    fprintf(stderr, "(%llu)\n", (unsigned long long) sink);
    dlclose(dl);
    return 0;
}

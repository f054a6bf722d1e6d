/*
 * bench-json — throughput of the json sink against json-c.
 *
 * Sink: real sessions on the host's data path, the synthetic gadget making
 * COUNT events of 10 fields (u64, timestamp, 4 x u32, s32, bool, 2 strings)
 * in batches of 256, into either the null sink (T0) or the json sink
 * writing to /dev/null (T1). The sink's own cost is T1 - T0 (the gadget's
 * cost cancels out); end to end is COUNT / T1.
 *
 * Baseline: json-c building the same objects (json_object_new_object and
 * one json_object_object_add per field), json_object_to_json_string_ext
 * (plain), the lines gathered in a 256 KiB buffer and written to /dev/null.
 *
 * Before/after: the difference of two sessions moves by 10-20% from one
 * invocation to the next on a busy VM (the gadget costs more than the
 * sink), too much to see what a change to the sink costs. So json.so is
 * also driven directly, without a session: dlopen'ed, given a minimal host
 * table, instantiated with path /dev/null, and process() called on one full
 * batch of the same 10-field events over and over (its whole per-batch
 * path: formatting, the write, the deleted-file check). With BASELINE_DIR
 * (the third argument, or $OPHOST_BENCH_JSON_BASELINE) the json.so of
 * another build (e.g. of the previous commit) runs the same way, in slices
 * that alternate with this one's; the ratio of the fastest slices is
 * printed (other work on the machine only ever adds time to a slice).
 *
 * The sink asks the kernel at most every 10 ms (and when its buffer is
 * full) whether its file was deleted (fstat, st_nlink); that call is also
 * timed alone, to show what it would cost with every write.
 *
 * Times are CPU time of the process (see CLOCK).
 *
 * Usage: bench-json [PLUGIN_DIR] [COUNT] [BASELINE_DIR]
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bench-host.h"
#include "benchutil.h"

#ifndef BENCH_PLUGIN_DIR
#define BENCH_PLUGIN_DIR "build/plugins/dir"
#endif

#define RUNS 5
#define FIELDS "seq:u64,timestamp:timestamp,pid:u32,ppid:u32,uid:u32,gid:u32,ret:s32,ok:bool," \
               "comm:string,file:string"

/* CPU time of the process: the session thread does the work while the main
 * thread waits in join, so this is the cost on one core, and it holds up on
 * a busy machine better than wall time. */
#define CLOCK CLOCK_PROCESS_CPUTIME_ID

/* Runs synthetic -> sink for count events; seconds. */
static double run_host(struct registry *reg, const char *sink, unsigned long long count) {
    struct config_param sparams[1] = { { .key = "path", .value = "/dev/null" } };
    struct config_operator op = { .name = (char *) sink };

    if (strcmp(sink, "json") == 0) {
        op.params = sparams;
        op.n_params = 1;
    }
    return bench_run(reg, FIELDS, &op, 1, count, CLOCK);
}

/* json-c making the same 10-field objects; seconds. */
static double run_json_c(unsigned long long count) {
    static char buf[256 * 1024];
    char comm[256][32], file[256][32];
    size_t len = 0;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    uint64_t ts = (uint64_t) time(NULL) * 1000000000u;
    double t0, t1;

    for (int i = 0; i < 256; i++) {
        snprintf(comm[i], sizeof(comm[i]), "comm-%d", i);
        snprintf(file[i], sizeof(file[i]), "file-%d", i);
    }
    t0 = bench_sec(CLOCK);
    for (unsigned long long seq = 1; seq <= count; seq++) {
        struct json_object *o = json_object_new_object();
        const char *s;
        size_t n;
        json_object_object_add(o, "seq", json_object_new_uint64(seq));
        json_object_object_add(o, "timestamp", json_object_new_uint64(ts));
        json_object_object_add(o, "pid", json_object_new_int64((uint32_t) seq));
        json_object_object_add(o, "ppid", json_object_new_int64((uint32_t) seq));
        json_object_object_add(o, "uid", json_object_new_int64((uint32_t) seq));
        json_object_object_add(o, "gid", json_object_new_int64((uint32_t) seq));
        json_object_object_add(o, "ret", json_object_new_int((int32_t) seq));
        json_object_object_add(o, "ok", json_object_new_boolean(seq & 1));
        json_object_object_add(o, "comm", json_object_new_string(comm[seq % 256]));
        json_object_object_add(o, "file", json_object_new_string(file[seq % 256]));
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        n = strlen(s);
        if (len + n + 1 > sizeof(buf)) {
            if (write(fd, buf, len) < 0)
                exit(1);
            len = 0;
        }
        memcpy(buf + len, s, n);
        buf[len + n] = '\n';
        len += n + 1;
        json_object_put(o);
    }
    if (len && write(fd, buf, len) < 0)
        exit(1);
    t1 = bench_sec(CLOCK);
    close(fd);
    return t1 - t0;
}

/* ------------------------------------------------ json.so driven directly */

#define BATCH 256
#define SLICE_BATCHES 200
#define SLICES 40

/* The 10 fields of FIELDS in one record: offsets as the host lays them out. */
static const struct bench_field direct_fields[] = {
    { "seq", { 0, OPHOST_FIELD_U64, 0 } },        { "timestamp", { 8, OPHOST_FIELD_TIMESTAMP, 1 } },
    { "pid", { 16, OPHOST_FIELD_U32, 2 } },       { "ppid", { 20, OPHOST_FIELD_U32, 3 } },
    { "uid", { 24, OPHOST_FIELD_U32, 4 } },       { "gid", { 28, OPHOST_FIELD_U32, 5 } },
    { "ret", { 32, OPHOST_FIELD_S32, 6 } },       { "ok", { 36, OPHOST_FIELD_BOOL, 7 } },
    { "comm", { 40, OPHOST_FIELD_STRING, 8 } },   { "file", { 48, OPHOST_FIELD_STRING, 9 } },
};
#define RECORD_SIZE 56

/* Opaque to the plugin: any address serves as its context. */
static char direct_ctx;
#define CTX ((struct ophost_ctx *) (void *) &direct_ctx)

static uint64_t direct_dropped;

static void d_log(struct ophost_ctx *ctx, int prio, const char *fmt, ...) {
    va_list ap;
    if (prio > OPHOST_LOG_WARNING)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int d_param_string(struct ophost_ctx *ctx, const char *key, const char **ret) {
    if (strcmp(key, "path") != 0)
        return -ENOENT;
    *ret = "/dev/null";
    return 0;
}

static const char *d_session_name(struct ophost_ctx *ctx) {
    return "bench";
}

static void d_dropped(struct ophost_ctx *ctx, uint64_t n) {
    direct_dropped += n;
}

static const struct ophost_host direct_host = {
    .struct_size = sizeof(struct ophost_host),
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .log = d_log,
    .error = bench_error,
    .param_string = d_param_string,
    .session_name = d_session_name,
    .datasource_find = bench_datasource_find,
    .field_count = bench_field_count,
    .field_at = bench_field_at,
    .dropped = d_dropped,
};

struct direct {
    void *dl;
    const struct ophost_operator *op;
    void *data;
};

/* dlopens dir/json.so and runs its instance up to start. */
static void direct_open(struct direct *d, const char *dir) {
    char path[4096];
    ophost_plugin_entry_fn entry;
    const struct ophost_plugin *plugin;

    snprintf(path, sizeof(path), "%s/json.so", dir);
    d->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!d->dl) {
        fprintf(stderr, "%s\n", dlerror());
        exit(1);
    }
    entry = (ophost_plugin_entry_fn) dlsym(d->dl, OPHOST_PLUGIN_ENTRY_SYMBOL);
    plugin = entry ? entry(&direct_host) : NULL;
    d->op = plugin ? plugin->operators[0] : NULL;
    if (!d->op || d->op->instantiate(CTX, NULL, &d->data) < 0 || d->op->pre_start(CTX, d->data) < 0 ||
        d->op->start(CTX, d->data) < 0) {
        fprintf(stderr, "%s: cannot start its json operator\n", path);
        exit(1);
    }
}

static void direct_close(struct direct *d) {
    if ((d->op->stop && d->op->stop(CTX, d->data) < 0) || d->op->post_stop(CTX, d->data) < 0 ||
        d->op->destroy(CTX, d->data) < 0) {
        fprintf(stderr, "the json operator failed to stop\n");
        exit(1);
    }
    dlclose(d->dl);
}

static int no_reserve(struct ophost_batch *b, size_t need) {
    return -ENOMEM;
}

/* One full batch of events like the synthetic gadget's. */
static void direct_batch(struct ophost_batch *b) {
    static uint8_t records[BATCH * RECORD_SIZE];
    static uint32_t sel[BATCH];
    static char strings[BATCH * 32];
    uint32_t len = 1;
    uint64_t ts = (uint64_t) time(NULL) * 1000000000u;

    *b = (struct ophost_batch){
        .struct_size = sizeof(*b), .n = BATCH, .sel = sel, .records = records,
        .record_size = RECORD_SIZE, .n_records = BATCH, .capacity = BATCH, .strings = strings,
        .strings_cap = sizeof(strings), .ds = BENCH_DS, .reserve_strings = no_reserve,
    };
    b->strings_len = len;
    for (uint32_t i = 0; i < BATCH; i++) {
        struct ophost_event *e = (struct ophost_event *) (void *) (records + i * RECORD_SIZE);
        char s[16];
        sel[i] = i;
        ophost_event_set_u64(e, direct_fields[0].f, i + 1);
        ophost_event_set_u64(e, direct_fields[1].f, ts);
        for (int k = 2; k < 6; k++)
            ophost_event_set_u32(e, direct_fields[k].f, i + 1);
        ophost_event_set_s32(e, direct_fields[6].f, (int32_t) i + 1);
        ophost_event_set_bool(e, direct_fields[7].f, i & 1);
        snprintf(s, sizeof(s), "comm-%u", i + 1);
        ophost_event_set_string(b, e, direct_fields[8].f, s);
        snprintf(s, sizeof(s), "file-%u", i + 1);
        ophost_event_set_string(b, e, direct_fields[9].f, s);
    }
}

/* SLICE_BATCHES process() calls on b; seconds per event. */
static double direct_slice(struct direct *d, struct ophost_batch *b) {
    double t0 = bench_sec(CLOCK), t1;

    for (int i = 0; i < SLICE_BATCHES; i++)
        if (d->op->process(CTX, d->data, b) < 0)
            exit(1);
    t1 = bench_sec(CLOCK);
    return (t1 - t0) / (SLICE_BATCHES * BATCH);
}

/* This json.so (from dir) and, if base_dir, the baseline's, alternating
 * slices; the fastest slice of each in *ret_now and *ret_base. */
static void run_direct(const char *dir, const char *base_dir, double *ret_now, double *ret_base) {
    struct direct now, base;
    struct ophost_batch b;
    double best_now = 1e9, best_base = 1e9;

    bench_fields = direct_fields;
    bench_n_fields = sizeof(direct_fields) / sizeof(direct_fields[0]);
    direct_batch(&b);
    direct_open(&now, dir);
    if (base_dir)
        direct_open(&base, base_dir);
    for (int k = 0; k < SLICES; k++) {
        double t;
        if (base_dir && k % 2 && (t = direct_slice(&base, &b)) < best_base)
            best_base = t;
        if ((t = direct_slice(&now, &b)) < best_now)
            best_now = t;
        if (base_dir && k % 2 == 0 && (t = direct_slice(&base, &b)) < best_base)
            best_base = t;
    }
    direct_close(&now);
    if (base_dir)
        direct_close(&base);
    if (direct_dropped) {
        fprintf(stderr, "the json sink dropped %llu events writing to /dev/null\n",
                (unsigned long long) direct_dropped);
        exit(1);
    }
    *ret_now = best_now;
    *ret_base = best_base;
}

/* fstat of /dev/null, as the sink makes after each write; seconds per call. */
static double run_fstat(unsigned long long calls) {
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct stat st;
    double t0, t1;

    if (fd < 0)
        exit(1);
    t0 = bench_sec(CLOCK);
    for (unsigned long long i = 0; i < calls; i++)
        if (fstat(fd, &st) < 0 || st.st_nlink == 0)
            exit(1);
    t1 = bench_sec(CLOCK);
    close(fd);
    return (t1 - t0) / (double) calls;
}

int main(int argc, char **argv) {
    unsigned long long count = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000ULL;
    const char *baseline = argc > 3 ? argv[3] : getenv("OPHOST_BENCH_JSON_BASELINE");
    struct registry *reg = bench_registry(argc > 1 ? argv[1] : BENCH_PLUGIN_DIR);
    double sink[RUNS], e2e[RUNS], jc[RUNS], sink_t, e2e_t, jc_t, sink_rate, jc_rate;
    double direct_now, direct_base, fstat_t;

    printf("bench-json: %llu events of 10 fields per run, median of %d runs\n", count, RUNS);
    for (int k = 0; k < RUNS; k++) {
        /* Pair each json run with a fresh null run: the machine's speed
         * drifts, and the difference of neighbours is what we want. */
        double t_null = run_host(reg, "null", count);
        double t_json = run_host(reg, "json", count);
        sink[k] = t_json - t_null;
        e2e[k] = t_json;
        jc[k] = run_json_c(count);
    }
    if (baseline && !baseline[0])
        baseline = NULL;
    run_direct(argc > 1 ? argv[1] : BENCH_PLUGIN_DIR, baseline, &direct_now, &direct_base);
    fstat_t = run_fstat(1000000);
    sink_t = bench_median(sink, RUNS);
    e2e_t = bench_median(e2e, RUNS);
    jc_t = bench_median(jc, RUNS);
    sink_rate = (double) count / sink_t;
    jc_rate = (double) count / jc_t;
    printf("json sink alone: %.1f ns/event, %.2f M events/s (json session %.1f ns/event minus "
           "null session)\n",
           sink_t / (double) count * 1e9, sink_rate / 1e6, e2e_t / (double) count * 1e9);
    printf("end to end (synthetic gadget -> json -> /dev/null): %.2f M events/s\n",
           (double) count / e2e_t / 1e6);
    printf("json-c objects + json_object_to_json_string_ext: %.1f ns/event, %.2f M events/s\n",
           jc_t / (double) count * 1e9, jc_rate / 1e6);
    printf("ratio json sink / json-c: %.1fx\n", sink_rate / jc_rate);
    printf("fstat alone (the deleted-file check, made at most every 10 ms): %.0f ns; with every "
           "256-event write it would cost %.2f ns/event\n", fstat_t * 1e9, fstat_t * 1e9 / 256);
    printf("json sink driven directly (process() on a 256-event batch, fastest of %d slices "
           "of %d batches): %.1f ns/event\n", SLICES, SLICE_BATCHES, direct_now * 1e9);
    if (baseline)
        printf("baseline json.so (%s), same way, alternating slices: %.1f ns/event; "
               "this one / baseline: %.3f\n", baseline, direct_base * 1e9, direct_now / direct_base);
    registry_free(reg);
    return 0;
}

/*
 * bench-filter — what the filter operator costs per event against the
 * comparison loop one would write by hand in C for the same expression.
 *
 * The filter plugin is dlopen'ed and driven through a minimal host table
 * (params, schema lookups, the batch) exactly as the daemon calls it:
 * instantiate once, start once, then process() on a full batch, over and
 * over. The batch's sel[]/n are restored before every call in both loops,
 * so both pay the same for that. Prints ns per event and events per second
 * for each expression, and the ratio filter / hand-written. The hand-written
 * loops for `~` call regexec; the filter matches a literal pattern (like
 * ^ba) with memcmp and only a real regex with regexec.
 *
 * Usage: bench-filter [PATH/TO/filter.so] [ROUNDS]
 */
#include <dlfcn.h>
#include <errno.h>
#include <regex.h>
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

struct ophost_ctx {
    int unused;
};

static struct ophost_ctx the_ctx;
static const char *expr;
static struct ophost_batch batch;

static const struct bench_field fields[] = {
    { "pid", { 0, OPHOST_FIELD_U32, 0 } },
    { "uid", { 4, OPHOST_FIELD_U32, 1 } },
    { "comm", { 8, OPHOST_FIELD_STRING, 2 } },
};

static void h_log(struct ophost_ctx *ctx, int prio, const char *fmt, ...) {
}

static int h_param_string(struct ophost_ctx *ctx, const char *key, const char **ret) {
    if (strcmp(key, "expr") != 0)
        return -ENOENT;
    *ret = expr;
    return 0;
}

static struct ophost_batch *h_batch(struct ophost_ctx *ctx, struct ophost_datasource *ds) {
    return &batch;
}

static const struct ophost_host host = {
    .struct_size = sizeof(struct ophost_host),
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .log = h_log,
    .error = bench_error,
    .param_string = h_param_string,
    .datasource_find = bench_datasource_find,
    .field_find = bench_field_find,
    .field_count = bench_field_count,
    .field_at = bench_field_at,
    .batch = h_batch,
};

static int no_reserve(struct ophost_batch *b, size_t need) {
    return -ENOMEM;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static uint32_t orig_sel[CAP];
static uint64_t kept_total;

static void reset(void) {
    memcpy(batch.sel, orig_sel, sizeof(orig_sel));
    batch.n = CAP;
}

/* The hand-written loops, one per expression. */
static void hand_and(struct ophost_batch *b, bool *keep) {
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        keep[i] = ophost_event_get_u32(e, fields[0].f) < 5000 &&
                  ophost_event_get_u32(e, fields[1].f) == 0;
    }
}

static void hand_or(struct ophost_batch *b, bool *keep) {
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        uint32_t pid = ophost_event_get_u32(e, fields[0].f);
        keep[i] = (pid < 1000 && ophost_event_get_u32(e, fields[1].f) == 0) || pid >= 9000;
    }
}

/* The same, written with the batch hoisted into locals (what the filter's
 * own loops do): the fastest one can reasonably write. */
static void hand_and_hoisted(struct ophost_batch *b, bool *keep) {
    const uint32_t *sel = b->sel, n = b->n, size = b->record_size;
    const uint8_t *rec = b->records;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pid, uid;
        memcpy(&pid, rec + (size_t) sel[i] * size + fields[0].f.offset, 4);
        memcpy(&uid, rec + (size_t) sel[i] * size + fields[1].f.offset, 4);
        keep[i] = pid < 5000 && uid == 0;
    }
}

static void hand_or_hoisted(struct ophost_batch *b, bool *keep) {
    const uint32_t *sel = b->sel, n = b->n, size = b->record_size;
    const uint8_t *rec = b->records;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pid, uid;
        memcpy(&pid, rec + (size_t) sel[i] * size + fields[0].f.offset, 4);
        memcpy(&uid, rec + (size_t) sel[i] * size + fields[1].f.offset, 4);
        keep[i] = (pid < 1000 && uid == 0) || pid >= 9000;
    }
}

static regex_t re;
static void hand_regex(struct ophost_batch *b, bool *keep) {
    for (uint32_t i = 0; i < b->n; i++) {
        const char *s = ophost_event_get_string(b, ophost_batch_event(b, i), fields[2].f, NULL);
        keep[i] = regexec(&re, s ? s : "", 0, NULL, 0) == 0;
    }
}

static regex_t re2;
static void hand_regex2(struct ophost_batch *b, bool *keep) {
    for (uint32_t i = 0; i < b->n; i++) {
        const char *s = ophost_event_get_string(b, ophost_batch_event(b, i), fields[2].f, NULL);
        keep[i] = regexec(&re2, s ? s : "", 0, NULL, 0) == 0;
    }
}

static double run_filter(const struct ophost_operator *op, void *data, unsigned rounds) {
    uint64_t t0 = now_ns();
    for (unsigned r = 0; r < rounds; r++) {
        reset();
        if (op->process(&the_ctx, data, &batch) < 0)
            abort();
        kept_total += batch.n;
    }
    return (double) (now_ns() - t0) / ((double) rounds * CAP);
}

static double run_hand(void (*fn)(struct ophost_batch *, bool *), unsigned rounds) {
    static bool keep[CAP];
    uint64_t t0 = now_ns();
    for (unsigned r = 0; r < rounds; r++) {
        reset();
        fn(&batch, keep);
        ophost_batch_keep(&batch, keep);
        kept_total += batch.n;
    }
    return (double) (now_ns() - t0) / ((double) rounds * CAP);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : BENCH_PLUGIN_DIR "/filter.so";
    unsigned rounds = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 100000;
    static const struct {
        const char *label, *expr;
        void (*hand)(struct ophost_batch *, bool *);
        void (*hoisted)(struct ophost_batch *, bool *);
        unsigned divide; /* regexes are slow: fewer rounds */
    } cases[] = {
        { "2 clauses (and)", "pid<5000,uid==0", hand_and, hand_and_hoisted, 1 },
        { "or-groups      ", "pid<1000,uid==0|pid>=9000", hand_or, hand_or_hoisted, 1 },
        { "literal pattern", "comm~^ba", hand_regex, hand_regex, 20 },
        { "regex          ", "comm~^b.sh$", hand_regex2, hand_regex2, 20 },
    };
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ophost_plugin_entry_fn entry;
    const struct ophost_operator *op;
    static uint8_t records[CAP * 16];
    static uint32_t sel[CAP];
    static char strings[CAP * 16];
    uint32_t seed = 12345;

    bench_fields = fields;
    bench_n_fields = sizeof(fields) / sizeof(fields[0]);
    if (!dl) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return 1;
    }
    entry = (ophost_plugin_entry_fn) dlsym(dl, OPHOST_PLUGIN_ENTRY_SYMBOL);
    op = entry(&host)->operators[0];

    /* A full batch: pid uniform in 0..9999, uid 0 half of the time, comm
     * "bash" or "sshd". */
    batch = (struct ophost_batch){ .struct_size = sizeof(batch), .sel = sel, .records = records,
                                   .record_size = 16, .capacity = CAP, .strings = strings,
                                   .strings_cap = sizeof(strings), .strings_len = 1,
                                   .ds = BENCH_DS,
                                   .reserve_strings = no_reserve };
    for (uint32_t i = 0; i < CAP; i++) {
        struct ophost_event *e = ophost_batch_append(&batch);
        seed = seed * 1103515245u + 12345u;
        ophost_event_set_u32(e, fields[0].f, (seed >> 8) % 10000);
        ophost_event_set_u32(e, fields[1].f, (seed >> 20) & 1 ? 1000 : 0);
        ophost_event_set_string(&batch, e, fields[2].f, (seed >> 21) & 1 ? "bash" : "sshd");
    }
    memcpy(orig_sel, sel, sizeof(sel));
    regcomp(&re, "^ba", REG_EXTENDED | REG_NOSUB);
    regcomp(&re2, "^b.sh$", REG_EXTENDED | REG_NOSUB);

    printf("filter vs hand-written C, batches of %d events\n", CAP);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        void *data = NULL;
        unsigned n = rounds / cases[c].divide;
        double tf = 1e9, th = 1e9, to = 1e9;
        expr = cases[c].expr;
        if (op->instantiate(&the_ctx, NULL, &data) != 0 || op->start(&the_ctx, data) != 0)
            return 1;
        /* interleaved repetitions; the best of each (least disturbed) counts */
        for (int rep = 0; rep < 5; rep++) {
            double t = run_filter(op, data, n);
            tf = t < tf ? t : tf;
            t = run_hand(cases[c].hand, n);
            th = t < th ? t : th;
            t = run_hand(cases[c].hoisted, n);
            to = t < to ? t : to;
        }
        printf("%s '%s': filter %.2f ns/event (%.0f M/s); hand-written %.2f ns/event "
               "(ratio %.2f); hand-written, hoisted %.2f ns/event (ratio %.2f)\n",
               cases[c].label, cases[c].expr, tf, 1000.0 / tf, th, tf / th, to, tf / to);
        op->destroy(&the_ctx, data);
    }
    regfree(&re);
    regfree(&re2);
    fprintf(stderr, "(kept %llu)\n", (unsigned long long) kept_total);
    dlclose(dl);
    return 0;
}

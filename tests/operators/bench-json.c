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
 * Times are CPU time of the process (see CLOCK).
 *
 * Usage: bench-json [PLUGIN_DIR] [COUNT]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

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

int main(int argc, char **argv) {
    unsigned long long count = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000ULL;
    struct registry *reg = bench_registry(argc > 1 ? argv[1] : BENCH_PLUGIN_DIR);
    double sink[RUNS], e2e[RUNS], jc[RUNS], sink_t, e2e_t, jc_t, sink_rate, jc_rate;

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
    registry_free(reg);
    return 0;
}

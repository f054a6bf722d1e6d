/*
 * bench-procinfo — what procinfo costs per event on a cache hit, when the
 * events carry start_time and exec_id (the eBPF gadgets) and when they carry
 * only a pid (one /proc/PID/stat read per lookup), against the same
 * pipeline without procinfo in the same run. The events alternate between
 * two live processes (this one and its parent), so that every event is a
 * lookup (consecutive events of one process would share it). The pipelines
 * run in-process through the test harness (feed gadget -> ... -> a late
 * filter that drops every event, so the capture sink formats none); the
 * difference to the baseline is procinfo's. It runs as a Check
 * test only because the harness reports its errors through Check.
 *
 * Usage: bench-procinfo [EVENTS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { BENCH_PLUGIN_DIR "/procinfo.so",
                                       BENCH_PLUGIN_DIR "/filter.so", NULL };

struct feed {
    unsigned long long n;
    uint64_t pid[2], start[2];
    bool keyed;
};

static void feed(struct harness_feed *f, void *userdata) {
    const struct feed *d = userdata;

    for (unsigned long long i = 0; i < d->n; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "pid", d->pid[i & 1]);
        if (d->keyed) {
            harness_set_u64(f, e, "start_time", d->start[i & 1]);
            harness_set_u64(f, e, "exec_id", 1);
        }
    }
}

static double run(struct harness *h, const char *yaml, struct feed *d) {
    uint64_t t0 = tu_nsec(CLOCK_MONOTONIC);
    char *err = NULL;

    ck_assert_msg(harness_run(h, yaml, feed, d, &err) == 0, "%s", err);
    return (double) (tu_nsec(CLOCK_MONOTONIC) - t0) / (double) d->n;
}

#define YAML(fields, ops)                                                  \
    "t:\n  gadget: feed\n  operators:\n    feed: {fields: '" fields "'}\n"    \
    "    filter-late: {expr: 'pid==0'}\n" ops

static unsigned long long n_events = 200000;

START_TEST(bench) {
    struct harness *h = harness_new(plugins);
    struct feed d = { .n = n_events, .pid = { (uint64_t) getpid(), (uint64_t) getppid() } };
    double base, keyed, stat_only;
    const char *v;

    /* The start times procinfo itself computes, as a gadget reports them. */
    {
        struct feed one = { .n = 2, .pid = { d.pid[0], d.pid[1] } };
        run(h, "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'pid:u32'}\n"
               "    procinfo: {}\n", &one);
        v = harness_values(h, "proc.start_time");
        ck_assert_msg(sscanf(v, "%llu %llu", (unsigned long long *) &d.start[0],
                             (unsigned long long *) &d.start[1]) == 2, "no start times: %s", v);
    }
    d.keyed = true;
    base = run(h, YAML("pid:u32,start_time:timestamp,exec_id:u64", ""), &d);
    keyed = run(h, YAML("pid:u32,start_time:timestamp,exec_id:u64", "    procinfo: {}\n"), &d);
    d.keyed = false;
    stat_only = run(h, YAML("pid:u32", "    procinfo: {}\n"), &d);
    printf("%llu events alternating between 2 processes, in-process pipeline feed -> "
           "[procinfo] -> filter-late (drops all) -> capture\n", d.n);
    printf("baseline (no procinfo):                   %8.1f ns/event\n", base);
    printf("procinfo, events with start_time+exec_id: %8.1f ns/event (+%.1f ns: cache hit, no "
           "/proc read)\n", keyed, keyed - base);
    printf("procinfo, events with a pid only:         %8.1f ns/event (+%.1f ns: /proc/PID/stat "
           "per event)\n", stat_only, stat_only - base);
    fflush(stdout);
    harness_free(h);
}
END_TEST

int main(int argc, char **argv) {
    if (argc > 1)
        n_events = strtoull(argv[1], NULL, 10);
    return tu_run_tests("bench-procinfo", 600, (const TTest *const[]){ bench, NULL });
}

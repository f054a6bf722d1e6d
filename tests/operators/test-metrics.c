/* test-metrics.c — the metrics operator through real sessions: the exact
 * text it publishes for counters, sums, gauges and histograms with labels
 * of every field type (escapes, invalid UTF-8, unset strings), what it
 * publishes before any event, the series limit and its overflow series,
 * and every error of the `metrics` param, which name the metric and the
 * rule. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/metrics.so", NULL };

#define FIELDS "comm:string,pid:u32,delta:s32,ok:bool,raw:bytes,size:u64,lat:u64"

struct ev {
    const char *comm;
    uint32_t pid;
    int32_t delta;
    bool ok;
    const char *raw;
    size_t raw_len;
    uint64_t size, lat;
};

static void feed_events(struct harness_feed *f, void *userdata) {
    for (const struct ev *v = userdata; v->comm; v++) {
        struct ophost_event *e = harness_append(f);
        harness_set_string(f, e, "comm", v->comm);
        harness_set_u64(f, e, "pid", v->pid);
        harness_set_s64(f, e, "delta", v->delta);
        harness_set_bool(f, e, "ok", v->ok);
        if (v->raw)
            harness_set_bytes(f, e, "raw", v->raw, v->raw_len);
        harness_set_u64(f, e, "size", v->size);
        harness_set_u64(f, e, "lat", v->lat);
    }
}

static const struct ev three[] = {
    { "bash", 10, -5, true, "\x01\xff", 2, 100, 5 },
    { "bash", 11, 3, false, "\x01\xff", 2, 50, 50 },
    { "x\"y\\z\n\xff", 12, -1, true, NULL, 0, 7, 500 },
    { NULL },
};

#define SERIES_HEAD                                                                          \
    "# HELP ophost_metrics_series Series (label combinations) of each metric of the metrics "  \
    "operator, its overflow series not counted.\n"                                             \
    "# TYPE ophost_metrics_series gauge\n"

START_TEST(test_values) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;
    int r;

    r = harness_run_feed(h, FIELDS,
                         "    metrics:\n"
                         "      metrics: >-\n"
                         "        events_total = count() by (comm, ok);\n"
                         "        bytes_total = sum(size) by (raw);\n"
                         "        half_bytes_total = sum(size * 0.5);\n"
                         "        last_delta = last(delta) by (pid);\n"
                         "        lat_seconds = histogram(lat * 0.001) buckets(0.01, 0.1)\n"
                         "          help \"a \\\"quoted\\\" \\\\ help\";\n"
                         "        delta_hist = histogram(delta) buckets(-2, 0, 2) by (ok as good);\n",
                         feed_events, (void *) three, &err);
    ck_assert_msg(r == 0, "%s", err ? err : "");
    ck_assert_str_eq(harness_metrics(h, "metrics"),
        "# HELP events_total count() by (comm, ok)\n"
        "# TYPE events_total counter\n"
        "events_total{comm=\"bash\",ok=\"true\"} 1\n"
        "events_total{comm=\"bash\",ok=\"false\"} 1\n"
        "events_total{comm=\"x\\\"y\\\\z\\n\xef\xbf\xbd\",ok=\"true\"} 1\n"
        "# HELP bytes_total sum(size) by (raw)\n"
        "# TYPE bytes_total counter\n"
        "bytes_total{raw=\"01ff\"} 150\n"
        "bytes_total{raw=\"\"} 7\n"
        "# HELP half_bytes_total sum(size * 0.5)\n"
        "# TYPE half_bytes_total counter\n"
        "half_bytes_total 78.5\n"
        "# HELP last_delta last(delta) by (pid)\n"
        "# TYPE last_delta gauge\n"
        "last_delta{pid=\"10\"} -5\n"
        "last_delta{pid=\"11\"} 3\n"
        "last_delta{pid=\"12\"} -1\n"
        "# HELP lat_seconds a \"quoted\" \\\\ help\n"
        "# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{le=\"0.01\"} 1\n"
        "lat_seconds_bucket{le=\"0.1\"} 2\n"
        "lat_seconds_bucket{le=\"+Inf\"} 3\n"
        "lat_seconds_sum 0.555\n"
        "lat_seconds_count 3\n"
        "# HELP delta_hist histogram(delta) buckets(-2, 0, 2) by (ok as good)\n"
        "# TYPE delta_hist histogram\n"
        "delta_hist_bucket{good=\"true\",le=\"-2\"} 1\n"
        "delta_hist_bucket{good=\"true\",le=\"0\"} 2\n"
        "delta_hist_bucket{good=\"true\",le=\"2\"} 2\n"
        "delta_hist_bucket{good=\"true\",le=\"+Inf\"} 2\n"
        "delta_hist_sum{good=\"true\"} -6\n"
        "delta_hist_count{good=\"true\"} 2\n"
        "delta_hist_bucket{good=\"false\",le=\"-2\"} 0\n"
        "delta_hist_bucket{good=\"false\",le=\"0\"} 0\n"
        "delta_hist_bucket{good=\"false\",le=\"2\"} 0\n"
        "delta_hist_bucket{good=\"false\",le=\"+Inf\"} 1\n"
        "delta_hist_sum{good=\"false\"} 3\n"
        "delta_hist_count{good=\"false\"} 1\n"
        SERIES_HEAD
        "ophost_metrics_series{metric=\"events_total\"} 3\n"
        "ophost_metrics_series{metric=\"bytes_total\"} 2\n"
        "ophost_metrics_series{metric=\"half_bytes_total\"} 1\n"
        "ophost_metrics_series{metric=\"last_delta\"} 3\n"
        "ophost_metrics_series{metric=\"lat_seconds\"} 1\n"
        "ophost_metrics_series{metric=\"delta_hist\"} 2\n"
        "# HELP ophost_metrics_overflow_events_total Events counted in a metric's overflow "
        "series {ophost_overflow=\"true\"} because it had max-series series.\n"
        "# TYPE ophost_metrics_overflow_events_total counter\n"
        "ophost_metrics_overflow_events_total{metric=\"events_total\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"bytes_total\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"half_bytes_total\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"last_delta\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"lat_seconds\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"delta_hist\"} 0\n");
    /* At start (zeros) and at stop (the final values) at least. */
    ck_assert_uint_ge(harness_metrics_publishes(h, "metrics"), 2);
    ck_assert_int_eq(harness_events_out(h, "metrics"), 3);
    harness_free(h);
}
END_TEST

/* Before any event: label-less counters and histograms at 0, a gauge
 * without a value is left out, labelled metrics have no series yet. */
START_TEST(test_nothing_yet) {
    static const struct ev none[] = { { NULL } };
    struct harness *h = harness_new(plugins);
    char *err = NULL;

    ck_assert_int_eq(harness_run_feed(h, FIELDS,
                                      "    metrics: {metrics: 'a_total = count(); b = last(pid); "
                                      "c = histogram(pid) buckets(1); d_total = count() by "
                                      "(comm)'}\n",
                                      feed_events, (void *) none, &err), 0);
    ck_assert_str_eq(harness_metrics(h, "metrics"),
        "# HELP a_total count()\n# TYPE a_total counter\na_total 0\n"
        "# HELP b last(pid)\n# TYPE b gauge\n"
        "# HELP c histogram(pid) buckets(1)\n# TYPE c histogram\n"
        "c_bucket{le=\"1\"} 0\nc_bucket{le=\"+Inf\"} 0\nc_sum 0\nc_count 0\n"
        "# HELP d_total count() by (comm)\n# TYPE d_total counter\n"
        SERIES_HEAD
        "ophost_metrics_series{metric=\"a_total\"} 1\n"
        "ophost_metrics_series{metric=\"b\"} 1\n"
        "ophost_metrics_series{metric=\"c\"} 1\n"
        "ophost_metrics_series{metric=\"d_total\"} 0\n"
        "# HELP ophost_metrics_overflow_events_total Events counted in a metric's overflow "
        "series {ophost_overflow=\"true\"} because it had max-series series.\n"
        "# TYPE ophost_metrics_overflow_events_total counter\n"
        "ophost_metrics_overflow_events_total{metric=\"a_total\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"b\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"c\"} 0\n"
        "ophost_metrics_overflow_events_total{metric=\"d_total\"} 0\n");
    harness_free(h);
}
END_TEST

static void feed_comms(struct harness_feed *f, void *userdata) {
    for (const char *const *c = userdata; *c; c++) {
        struct ophost_event *e = harness_append(f);
        harness_set_string(f, e, "comm", *c);
        harness_set_u64(f, e, "pid", strlen(*c));
    }
}

/* max-series 2: the third and fourth combinations go to the overflow
 * series, known ones keep counting. */
START_TEST(test_overflow) {
    static const char *const comms[] = { "a", "bb", "ccc", "dddd", "a", "ccc", "bb", NULL };
    struct harness *h = harness_new(plugins);
    char *err = NULL;

    ck_assert_int_eq(harness_run_feed(h, "comm:string,pid:u32",
                                      "    metrics: {max-series: 2, metrics: 'n_total = count() "
                                      "by (comm); h = histogram(pid) buckets(2) by (comm)'}\n",
                                      feed_comms, (void *) comms, &err), 0);
    ck_assert_str_eq(harness_metrics(h, "metrics"),
        "# HELP n_total count() by (comm)\n# TYPE n_total counter\n"
        "n_total{comm=\"a\"} 2\n"
        "n_total{comm=\"bb\"} 2\n"
        "n_total{ophost_overflow=\"true\"} 3\n"
        "# HELP h histogram(pid) buckets(2) by (comm)\n# TYPE h histogram\n"
        "h_bucket{comm=\"a\",le=\"2\"} 2\nh_bucket{comm=\"a\",le=\"+Inf\"} 2\n"
        "h_sum{comm=\"a\"} 2\nh_count{comm=\"a\"} 2\n"
        "h_bucket{comm=\"bb\",le=\"2\"} 2\nh_bucket{comm=\"bb\",le=\"+Inf\"} 2\n"
        "h_sum{comm=\"bb\"} 4\nh_count{comm=\"bb\"} 2\n"
        "h_bucket{ophost_overflow=\"true\",le=\"2\"} 0\n"
        "h_bucket{ophost_overflow=\"true\",le=\"+Inf\"} 3\n"
        "h_sum{ophost_overflow=\"true\"} 10\nh_count{ophost_overflow=\"true\"} 3\n"
        SERIES_HEAD
        "ophost_metrics_series{metric=\"n_total\"} 2\n"
        "ophost_metrics_series{metric=\"h\"} 2\n"
        "# HELP ophost_metrics_overflow_events_total Events counted in a metric's overflow "
        "series {ophost_overflow=\"true\"} because it had max-series series.\n"
        "# TYPE ophost_metrics_overflow_events_total counter\n"
        "ophost_metrics_overflow_events_total{metric=\"n_total\"} 3\n"
        "ophost_metrics_overflow_events_total{metric=\"h\"} 3\n");
    harness_free(h);
}
END_TEST

/* Many series: the table grows and every combination keeps its count. */
static void feed_many(struct harness_feed *f, void *userdata) {
    for (uint64_t round = 0; round < 3; round++)
        for (uint64_t i = 0; i < 5000; i++) {
            struct ophost_event *e = harness_append(f);
            char comm[32];
            snprintf(comm, sizeof(comm), "c%llu", (unsigned long long) (i % 2500));
            harness_set_string(f, e, "comm", comm);
            harness_set_u64(f, e, "pid", i);
        }
}

START_TEST(test_many_series) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;
    const char *text;

    ck_assert_int_eq(harness_run_feed(h, "comm:string,pid:u32",
                                      "    metrics: {metrics: 'n_total = count() by (comm); "
                                      "m_total = count() by (pid, comm)'}\n",
                                      feed_many, NULL, &err), 0);
    text = harness_metrics(h, "metrics");
    ck_assert_ptr_nonnull(strstr(text, "\nn_total{comm=\"c0\"} 6\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nn_total{comm=\"c2499\"} 6\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nm_total{pid=\"4999\",comm=\"c2499\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "ophost_metrics_series{metric=\"n_total\"} 2500\n"));
    ck_assert_ptr_nonnull(strstr(text, "ophost_metrics_series{metric=\"m_total\"} 5000\n"));
    ck_assert_ptr_nonnull(strstr(text, "ophost_metrics_overflow_events_total{metric=\"m_total\"} 0\n"));
    harness_free(h);
}
END_TEST

struct bad {
    const char *ops;
    const char *part;
};

START_TEST(test_errors) {
    static const struct bad cases[] = {
        { "'x = count()'", "param 'metrics': metric 1 ('x'): a counter's name ends in '_total' "
                           "(Prometheus convention, checked by promtool): e.g. 'x_total'" },
        { "'g_total = last(pid)'", "metric 1 ('g_total'): only counters (count, sum) have names "
                                   "ending in '_total'; this is a gauge" },
        { "'Bad_total = count()'", "capitals in a metric name: Prometheus names are snake_case" },
        { "'a:b_total = count()'", "':' in a metric name is for Prometheus recording rules; use '_'" },
        { "'ophost_x_total = count()'", "names starting with 'ophost_' are ophost's own metrics" },
        { "'__x_total = count()'", "names starting with '__' are Prometheus' own" },
        { "'9a_total = count()'", "invalid metric name: use a-z, 0-9 and '_', not starting with a "
                                  "digit (Prometheus' rule)" },
        { "'h_count = histogram(pid) buckets(1)'", "a histogram's name must not end in _bucket, "
                                                   "_sum or _count" },
        { "'a_total = count() by (le)'", "label 'le' (field 'le') is reserved" },
        { "'a_total = count() by (comm as session)'", "label 'session' (field 'comm') is reserved" },
        { "'a_total = count() by (pid as __x)'", "label '__x': names starting with '__' are "
                                                 "Prometheus' own" },
        { "'a_total = count() by (pid as a-b)'", "label 'a-b': use a-z, A-Z, 0-9 and '_'" },
        { "'a_total = count() by (pid, pid)'", "label 'pid' twice (fields 'pid' and 'pid')" },
        { "'a_total = count() by (pidd)'", "metric 'a_total': no field 'pidd' (did you mean 'pid'?)" },
        { "'a_total = count() by (zzzzzzzzzz)'", "metric 'a_total': no field 'zzzzzzzzzz' in data "
                                                 "source 'events' (it has: comm, pid, delta, ok, "
                                                 "raw, size, lat)" },
        { "'a_total = sum(delta)'", "metric 'a_total': sum() needs an unsigned integer or bool "
                                    "field (a counter never goes down); 'delta' is s32" },
        { "'l = last(comm)'", "metric 'l': last() needs a number, bool or timestamp field; 'comm' "
                              "is string" },
        { "'h = histogram(comm) buckets(1)'", "metric 'h': histogram() needs an integer field; "
                                              "'comm' is string" },
        { "'h = histogram(pid)'", "metric 1 ('h'): histogram() needs buckets(...)" },
        { "'h = histogram(pid) buckets(2, 1)'", "metric 1 ('h'): buckets must increase: 1 after 2" },
        { "'h = histogram(pid) buckets(1, x)'", "expected a number for a bucket, found 'x)'" },
        { "'h = histogram(pid) buckets(1e999)'", "a bucket: '1e999' is not a finite decimal number" },
        { "'h = histogram(pid * 0) buckets(1)'", "the scale after '*' must be above 0" },
        { "'a_total = sum(size) buckets(1)'", "'buckets' is for histogram() only" },
        { "'a_total = count(); a_total = count()'", "metric 2 ('a_total'): a second metric of that "
                                                    "name (metric 1)" },
        { "'h = histogram(pid) buckets(1); h_sum = last(pid)'", "metric 2 ('h_sum'): collides "
                                                                "with the _sum samples of "
                                                                "histogram 'h'" },
        { "'a_total = count() frobnicate'", "metric 1 ('a_total'): expected 'by', 'buckets', "
                                            "'help', ';' or the end, found 'frobnicate'" },
        { "'a_total = count() by (pid) by (comm)'", "'by' twice" },
        { "'a_total = avg(pid)'", "metric 1 ('a_total'): 'avg' is not count, sum, last or "
                                  "histogram" },
        { "'a_total = count(pid)'", "expected ')' after 'count(' (count() takes no field), found "
                                    "'pid)'" },
        { "'a_total count()'", "metric 1 ('a_total'): expected '=' after the metric name, found "
                               "'count()'" },
        { "'a_total = count() help \"x'", "the help text has no closing '\"'" },
        { "'a_total = count() a_total'", "expected 'by', 'buckets', 'help', ';' or the end" },
        { "' ; '", "metric 1: expected a metric name, found ';'" },
        { "''", "param 'metrics': no metric given (e.g. 'events_total = count()')" },
        { "'a_total = count()', max-series: 0", "'max-series'" },
        { "'a_total = count()', publish-interval: 10ms", "'publish-interval'" },
        { "'a_total = count()', datasource: nope", "param 'datasource': no data source 'nope'" },
    };
    struct harness *h = harness_new(plugins);
    static const struct ev none[] = { { NULL } };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char ops[512], *yaml;
        snprintf(ops, sizeof(ops), "    metrics: {metrics: %s}\n", cases[i].ops);
        yaml = harness_feed_yaml(FIELDS, ops);
        harness_assert_fails_with(h, yaml, feed_events, (void *) none, 0, cases[i].part);
        free(yaml);
    }
    harness_free(h);
}
END_TEST

/* Label values that differ only in bytes that are not UTF-8 are shown
 * alike (U+FFFD): they are one series, or the text would repeat a series
 * and the daemon would refuse all of it. */
START_TEST(test_invalid_utf8_one_series) {
    static const char *const comms[] = { "x\xff", "x\xfe", "x\xff", "ok", NULL };
    struct harness *h = harness_new(plugins);
    const char *text;
    char *err = NULL;

    ck_assert_int_eq(harness_run_feed(h, "comm:string,pid:u32",
                                      "    metrics: {metrics: 'n_total = count() by (comm)'}\n",
                                      feed_comms, (void *) comms, &err), 0);
    text = harness_metrics(h, "metrics");
    ck_assert_ptr_nonnull(strstr(text, "\nn_total{comm=\"x\xef\xbf\xbd\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nn_total{comm=\"ok\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "ophost_metrics_series{metric=\"n_total\"} 2\n"));
    harness_free(h);
}
END_TEST

/* A long metric name: every line of the operator's own families whole. */
START_TEST(test_long_name) {
    static const char *const comms[] = { "a", NULL };
    struct harness *h = harness_new(plugins);
    char name[160], ops[256], want[512];
    const char *text;
    char *err = NULL;

    memset(name, 'n', 140);
    strcpy(name + 140, "_total");
    snprintf(ops, sizeof(ops), "    metrics: {metrics: '%s = count()'}\n", name);
    ck_assert_int_eq(harness_run_feed(h, "comm:string,pid:u32", ops, feed_comms,
                                      (void *) comms, &err), 0);
    text = harness_metrics(h, "metrics");
    snprintf(want, sizeof(want), "\n# TYPE %s counter\n%s 1\n", name, name);
    ck_assert_ptr_nonnull(strstr(text, want));
    snprintf(want, sizeof(want), "\nophost_metrics_series{metric=\"%s\"} 1\n", name);
    ck_assert_ptr_nonnull(strstr(text, want));
    snprintf(want, sizeof(want), "\nophost_metrics_overflow_events_total{metric=\"%s\"} 0\n",
             name);
    ck_assert_ptr_nonnull(strstr(text, want));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("metrics", 0, (const TTest *const[]){
        test_invalid_utf8_one_series,
        test_long_name,
        test_values,
        test_nothing_yet,
        test_overflow,
        test_many_series,
        test_errors,
        NULL,
    });
}

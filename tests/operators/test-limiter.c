/* test-limiter.c — the limiter operator through real sessions: the default,
 * per-batch limits across batch boundaries, limits above the batch size,
 * after a filter, after sort in one pipeline, and a bad max. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/limiter.so", TEST_PLUGIN_DIR "/sort.so",
                                       TEST_PLUGIN_DIR "/filter.so", NULL };

static void feed_n(struct harness_feed *f, void *userdata) {
    uint64_t n = *(const uint64_t *) userdata;
    for (uint64_t i = 1; i <= n; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "seq", i);
        harness_set_u64(f, e, "key", (i * 37) % 11);
    }
}

#define FIELDS "seq:u64,key:u32"

static int run(struct harness *h, const char *ops, uint64_t n, char **ret_error) {
    return harness_run_feed(h, FIELDS, ops, feed_n, &n, ret_error);
}

START_TEST(test_default_max) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run(h, "    limiter: {}\n", 15, &err), 0);
    ck_assert_str_eq(harness_values(h, "seq"), "1 2 3 4 5 6 7 8 9 10");
    ck_assert_int_eq(harness_events_in(h, "limiter"), 15);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 10);
    ck_assert_str_eq(harness_output(h),
                     "seq=1 key=4\nseq=2 key=8\nseq=3 key=1\nseq=4 key=5\nseq=5 key=9\n"
                     "seq=6 key=2\nseq=7 key=6\nseq=8 key=10\nseq=9 key=3\nseq=10 key=7\n");
    harness_free(h);
}
END_TEST

/* Each batch is limited on its own: 600 events = batches of 256, 256, 88. */
START_TEST(test_per_batch) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run(h, "    limiter: {max: 3}\n", 600, &err), 0);
    ck_assert_str_eq(harness_values(h, "seq"), "1 2 3 257 258 259 513 514 515");
    ck_assert_int_eq(harness_events_in(h, "limiter"), 600);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 9);
    ck_assert_int_eq(run(h, "    limiter: {max: 1}\n", 1, &err), 0);
    ck_assert_str_eq(harness_values(h, "seq"), "1");
    harness_free(h);
}
END_TEST

/* per: session counts across batches: 5 of 600 events (batches of 256,
 * 256, 88) are 1..5, 300 are the first batch and 44 of the second; the
 * session then completes. */
START_TEST(test_per_session) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run(h, "    limiter: {max: 5, per: session}\n", 1000, &err), 0);
    ck_assert_str_eq(harness_values(h, "seq"), "1 2 3 4 5");
    ck_assert_int_eq(harness_events_out(h, "limiter"), 5);
    ck_assert_int_eq(run(h, "    limiter: {max: 300, per: session}\n", 600, &err), 0);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 300);
    ck_assert_int_eq(run(h, "    limiter: {max: 700, per: session}\n", 600, &err), 0);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 600);
    ck_assert_int_eq(run(h, "    limiter: {max: 2, per: round}\n", 6, &err), -EINVAL);
    ck_assert_msg(strstr(err, "'round'"), "%s", err);
    free(err);
    harness_free(h);
}
END_TEST

/* A max at or above the batch size keeps everything. */
START_TEST(test_large_max) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run(h, "    limiter: {max: 256}\n", 300, &err), 0);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 300);
    ck_assert_int_eq(run(h, "    limiter: {max: 18446744073709551615}\n", 300, &err), 0);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 300);
    ck_assert_int_eq(run(h, "    limiter: {max: 255}\n", 256, &err), 0);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 255);
    ck_assert_int_eq(run(h, "    limiter: {max: 4}\n", 0, &err), 0);
    ck_assert_str_eq(harness_output(h), "");
    ck_assert_int_eq(harness_events_in(h, "limiter"), 0);
    harness_free(h);
}
END_TEST

/* The first N of what is left after a filter; the top N after a sort. */
START_TEST(test_after_filter_and_sort) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run(h, "    limiter: {max: 4}\n    filter: {expr: 'key>=5'}\n", 20, &err), 0);
    ck_assert_str_eq(harness_values(h, "seq"), "2 4 5 7");
    ck_assert_int_eq(harness_events_in(h, "limiter"), 11);
    /* keys of seq 1..20: 4 8 1 5 9 2 6 10 3 7 0 4 8 1 5 9 2 6 10 3 */
    ck_assert_int_eq(run(h, "    limiter: {max: 5}\n    sort: {by: '-key'}\n", 20, &err), 0);
    ck_assert_str_eq(harness_values(h, "seq"), "8 19 5 16 2");
    ck_assert_int_eq(run(h, "    limiter: {max: 5}\n    sort: {by: 'key,-seq'}\n", 20, &err), 0);
    ck_assert_str_eq(harness_values(h, "seq"), "11 14 3 17 6");
    harness_free(h);
}
END_TEST

START_TEST(test_bad_max) {
    static const char *const ops[] = { "    limiter: {max: 0}\n", "    limiter: {max: -1}\n",
                                       "    limiter: {max: ten}\n" };
    struct harness *h = harness_new(plugins);
    uint64_t n = 3;

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        char *yaml = harness_feed_yaml(FIELDS, ops[i]);
        harness_assert_fails_with(h, yaml, feed_n, &n, -EINVAL, "'max'");
        free(yaml);
    }
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("limiter", 0, (const TTest *const[]){
        test_default_max,
        test_per_batch,
        test_per_session,
        test_large_max,
        test_after_filter_and_sort,
        test_bad_max,
        NULL,
    });
}

/* test-sort.c — the sort operator through real sessions: each type, both
 * directions, stability with equal keys in both directions (a descending
 * sort must keep equal events in their order: the order is strict), several
 * keys, full batches checked against an independent stable sort, per-batch
 * sorting, the errors of param 'by', and limiter after sort. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/sort.so", TEST_PLUGIN_DIR "/limiter.so",
                                       NULL };

#define FIELDS "id:u32,cpu:u64,pid:u32,prio:s32,flag:bool,comm:string,raw:bytes"

/* id is the input position; the other values repeat so keys tie. */
static void feed_eight(struct harness_feed *f, void *userdata) {
    static const struct {
        uint64_t cpu, pid;
        int64_t prio;
        bool flag;
        const char *comm;
        const char *raw; /* NULL = unset */
        size_t raw_len;
    } ev[] = {
        { 5, 300, -1, true, "b", "\x02", 1 },
        { 7, 200, 5, false, NULL, NULL, 0 },
        { 5, 100, -20, true, "a", "\x01\x00", 2 },
        { 0, 400, 0, false, "", "", 0 },
        { 7, 50, 5, true, "bb", "\x01", 1 },
        { UINT64_MAX, 60, INT32_MIN, false, "a", "\x02", 1 },
        { 5, 70, INT32_MAX, true, "ab", NULL, 0 },
        { 0, 80, -1, false, "b", "\xff", 1 },
    };
    for (size_t i = 0; i < 8; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "id", i + 1);
        harness_set_u64(f, e, "cpu", ev[i].cpu);
        harness_set_u64(f, e, "pid", ev[i].pid);
        harness_set_s64(f, e, "prio", ev[i].prio);
        harness_set_bool(f, e, "flag", ev[i].flag);
        if (ev[i].comm)
            harness_set_string(f, e, "comm", ev[i].comm);
        if (ev[i].raw)
            harness_set_bytes(f, e, "raw", ev[i].raw, ev[i].raw_len);
    }
}

static int run_by(struct harness *h, const char *ops, char **ret_error) {
    return harness_run_feed(h, FIELDS, ops, feed_eight, NULL, ret_error);
}

static const struct {
    const char *by;
    const char *ids;
} cases[] = {
    /* equal keys keep their input order, ascending and descending */
    { "cpu", "4 8 1 3 7 2 5 6" },
    { "-cpu", "6 2 5 1 3 7 4 8" },
    { "+cpu", "4 8 1 3 7 2 5 6" },
    { "pid", "5 6 7 8 3 2 1 4" },
    { "-pid", "4 1 2 3 8 7 6 5" },
    /* signed */
    { "prio", "6 3 1 8 4 2 5 7" },
    { "-prio", "7 2 5 4 1 8 3 6" },
    /* bool: false first */
    { "flag", "2 4 6 8 1 3 5 7" },
    { "-flag", "1 3 5 7 2 4 6 8" },
    /* strings: unset as empty, bytewise, a prefix first */
    { "comm", "2 4 3 6 7 1 8 5" },
    { "-comm", "5 1 8 7 3 6 2 4" },
    /* bytes */
    { "raw", "2 4 7 5 3 1 6 8" },
    { "-raw", "8 1 6 3 5 2 4 7" },
    /* several keys */
    { "-cpu,pid", "6 5 2 7 3 1 8 4" },
    { "cpu,-pid", "4 8 1 3 7 2 5 6" },
    { "cpu, -prio", "4 8 7 1 3 2 5 6" },
    { "flag,-cpu,comm", "6 2 4 8 5 3 7 1" },
    { "-flag,-prio,id", "7 5 1 3 2 4 8 6" },
    { "id", "1 2 3 4 5 6 7 8" },
    { "-id", "8 7 6 5 4 3 2 1" },
};

START_TEST(test_cases) {
    struct harness *h = harness_new(plugins);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char ops[256], *err;
        int r;
        snprintf(ops, sizeof(ops), "    sort: {by: '%s'}\n", cases[i].by);
        r = run_by(h, ops, &err);
        ck_assert_msg(r == 0, "%s: %s", cases[i].by, err ? err : "?");
        ck_assert_msg(strcmp(harness_values(h, "id"), cases[i].ids) == 0,
                      "by %s: got '%s', expected '%s'", cases[i].by, harness_values(h, "id"),
                      cases[i].ids);
        ck_assert_int_eq(harness_events_in(h, "sort"), 8);
        ck_assert_int_eq(harness_events_out(h, "sort"), 8);
        free(err);
    }
    harness_free(h);
}
END_TEST

/* Records are not moved: every field of an event stays with it. */
START_TEST(test_exact_output) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run_by(h, "    sort: {by: '-cpu,pid'}\n    limiter: {max: 3}\n", &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "id=6 cpu=18446744073709551615 pid=60 prio=-2147483648 flag=false "
                     "comm=\"a\" raw=02\n"
                     "id=5 cpu=7 pid=50 prio=5 flag=true comm=\"bb\" raw=01\n"
                     "id=2 cpu=7 pid=200 prio=5 flag=false comm=- raw=-\n");
    harness_free(h);
}
END_TEST

/* limiter after sort, whatever order the pipeline lists them in. */
START_TEST(test_limiter_after_sort) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run_by(h, "    limiter: {max: 3}\n    sort: {by: 'pid'}\n", &err), 0);
    ck_assert_str_eq(harness_values(h, "id"), "5 6 7");
    ck_assert_int_eq(harness_events_in(h, "sort"), 8);
    ck_assert_int_eq(harness_events_in(h, "limiter"), 8);
    ck_assert_int_eq(harness_events_out(h, "limiter"), 3);
    ck_assert_int_eq(run_by(h, "    limiter: {}\n    sort: {by: '-prio'}\n", &err), 0);
    ck_assert_str_eq(harness_values(h, "id"), "7 2 5 4 1 8 3 6"); /* default max 10 keeps all 8 */
    harness_free(h);
}
END_TEST

/* Full batches (256 events: merge passes over insertion-sorted runs) and a
 * partial one, checked against a stable counting sort done here. Each
 * batch is sorted on its own. */
static void feed_300(struct harness_feed *f, void *userdata) {
    for (uint64_t i = 1; i <= 300; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "id", i);
        harness_set_u64(f, e, "cpu", (i * 7919) % 13);
    }
}

static void expect_sorted(struct harness *h, bool desc) {
    char want[4096];
    size_t n = 0;
    static const uint64_t bounds[][2] = { { 1, 256 }, { 257, 300 } };

    for (size_t b = 0; b < 2; b++)
        for (int k = 0; k < 13; k++) {
            uint64_t key = desc ? (uint64_t) (12 - k) : (uint64_t) k;
            for (uint64_t i = bounds[b][0]; i <= bounds[b][1]; i++)
                if ((i * 7919) % 13 == key)
                    n += (size_t) snprintf(want + n, sizeof(want) - n, "%s%llu", n ? " " : "",
                                           (unsigned long long) i);
        }
    ck_assert_str_eq(harness_values(h, "id"), want);
}

START_TEST(test_full_batches) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;

    ck_assert_int_eq(harness_run_feed(h, "id:u32,cpu:u64", "    sort: {by: cpu}\n", feed_300, NULL,
                                      &err),
                     0);
    expect_sorted(h, false);
    ck_assert_int_eq(harness_run_feed(h, "id:u32,cpu:u64", "    sort: {by: -cpu}\n", feed_300, NULL,
                                      &err),
                     0);
    expect_sorted(h, true);
    ck_assert_int_eq(harness_events_in(h, "sort"), 300);
    harness_free(h);
}
END_TEST

static void feed_one(struct harness_feed *f, void *userdata) {
    harness_set_u64(f, harness_append(f), "id", 1);
}

START_TEST(test_single_and_empty) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;
    const char *yaml = "t:\n  gadget: feed\n  operators:\n"
                       "    feed: {fields: 'id:u32'}\n    sort: {by: -id}\n";

    ck_assert_int_eq(harness_run(h, yaml, feed_one, NULL, &err), 0);
    ck_assert_str_eq(harness_output(h), "id=1\n");
    ck_assert_int_eq(harness_run(h, yaml, NULL, NULL, &err), 0);
    ck_assert_str_eq(harness_output(h), "");
    ck_assert_int_eq(harness_events_in(h, "sort"), 0);
    harness_free(h);
}
END_TEST

static const struct {
    const char *ops, *error;
    int r;
} errors[] = {
    { "    sort: {by: 'cpuu'}\n",
      "operator 'sort': instantiate failed: sort: param 'by': unknown field 'cpuu' (did you mean 'cpu'?)",
      -ENOENT },
    { "    sort: {by: '-cpu, -fag'}\n",
      "operator 'sort': instantiate failed: sort: param 'by': unknown field 'fag' (did you mean 'flag'?)",
      -ENOENT },
    { "    sort: {by: 'memory'}\n",
      "operator 'sort': instantiate failed: sort: param 'by': unknown field 'memory'", -ENOENT },
    { "    sort: {by: 'cpu,,pid'}\n",
      "operator 'sort': instantiate failed: sort: param 'by': empty field name in 'cpu,,pid'",
      -EINVAL },
    { "    sort: {by: '-'}\n",
      "operator 'sort': instantiate failed: sort: param 'by': empty field name in '-'", -EINVAL },
    { "    sort: {by: ''}\n",
      "operator 'sort': instantiate failed: sort: param 'by': empty field name in ''", -EINVAL },
    { "    sort: {by: 'cpu,-cpu'}\n",
      "operator 'sort': instantiate failed: sort: param 'by': field 'cpu' is named twice", -EINVAL },
    { "    limiter: {max: 0}\n", NULL, -EINVAL },
};

START_TEST(test_errors) {
    struct harness *h = harness_new(plugins);

    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        char *yaml = harness_feed_yaml(FIELDS, errors[i].ops);
        if (errors[i].error)
            harness_assert_fails(h, yaml, feed_eight, NULL, errors[i].r, errors[i].error);
        else
            harness_assert_fails_with(h, yaml, feed_eight, NULL, errors[i].r, "'max'");
        free(yaml);
    }
    harness_free(h);
}
END_TEST

START_TEST(test_missing_by) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_lt(run_by(h, "    sort: {}\n", &err), 0);
    ck_assert_ptr_nonnull(strstr(err, "missing mandatory param 'by'"));
    free(err);
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("sort", 0, (const TTest *const[]){
        test_cases,
        test_exact_output,
        test_limiter_after_sort,
        test_full_batches,
        test_single_and_empty,
        test_errors,
        test_missing_by,
        NULL,
    });
}

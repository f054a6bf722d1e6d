/* test-formatters.c — the formatters operator through real sessions: the
 * exact text of every format for known values (the epoch, a far future
 * time, the largest values, unknown signal and errno numbers), precisions,
 * the default, opting out, and the errors of its params. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/formatters.so", NULL };

struct values {
    size_t n;
    const char *field;
    bool sign;
    uint64_t u[16];
    int64_t s[16];
};

static void feed_values(struct harness_feed *f, void *userdata) {
    const struct values *v = userdata;
    for (size_t i = 0; i < v->n; i++) {
        struct ophost_event *e = harness_append(f);
        if (v->sign)
            harness_set_s64(f, e, v->field, v->s[i]);
        else
            harness_set_u64(f, e, v->field, v->u[i]);
    }
}

/* feed(fields) -> `formatters: {PARAMS}`; caller frees. */
static char *yaml_of(const char *fields, const char *params) {
    char ops[1024];
    snprintf(ops, sizeof(ops), "    formatters: {%s}\n", params);
    return harness_feed_yaml(fields, ops);
}

static int run(struct harness *h, const char *fields, const char *params, struct values *v,
               char **ret_error) {
    char *yaml = yaml_of(fields, params);
    int r;

    *ret_error = NULL;
    r = harness_run(h, yaml, feed_values, v, ret_error);
    free(yaml);
    return r;
}

START_TEST(test_timestamps) {
    struct harness *h = harness_new(plugins);
    struct values v = { 5, "ts", false,
                        { 0, 1, 1714564800123456789ull, 951782400000000000ull, UINT64_MAX } };
    char *err;

    ck_assert_int_eq(run(h, "ts:timestamp", "timestamps: ts", &v, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "ts=0 ts_str=\"1970-01-01T00:00:00.000000000Z\"\n"
                     "ts=1 ts_str=\"1970-01-01T00:00:00.000000001Z\"\n"
                     "ts=1714564800123456789 ts_str=\"2024-05-01T12:00:00.123456789Z\"\n"
                     "ts=951782400000000000 ts_str=\"2000-02-29T00:00:00.000000000Z\"\n"
                     "ts=18446744073709551615 ts_str=\"2554-07-21T23:34:33.709551615Z\"\n");
    ck_assert_int_eq(run(h, "ts:timestamp", "timestamps: ts, timestamp_precision: us", &v, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "ts=0 ts_str=\"1970-01-01T00:00:00.000000Z\"\n"
                     "ts=1 ts_str=\"1970-01-01T00:00:00.000000Z\"\n"
                     "ts=1714564800123456789 ts_str=\"2024-05-01T12:00:00.123456Z\"\n"
                     "ts=951782400000000000 ts_str=\"2000-02-29T00:00:00.000000Z\"\n"
                     "ts=18446744073709551615 ts_str=\"2554-07-21T23:34:33.709551Z\"\n");
    ck_assert_int_eq(run(h, "ts:timestamp", "timestamps: ts, timestamp_precision: ms", &v, &err), 0);
    ck_assert_ptr_nonnull(strstr(harness_output(h), "ts_str=\"2024-05-01T12:00:00.123Z\"\n"));
    ck_assert_int_eq(run(h, "ts:timestamp", "timestamps: ts, timestamp_precision: s", &v, &err), 0);
    ck_assert_ptr_nonnull(strstr(harness_output(h), "ts_str=\"2024-05-01T12:00:00Z\"\n"));
    ck_assert_ptr_nonnull(strstr(harness_output(h), "ts_str=\"2554-07-21T23:34:33Z\"\n"));
    /* a u64 field of nanoseconds formats the same */
    ck_assert_int_eq(run(h, "ts:u64", "timestamps: ts", &v, &err), 0);
    ck_assert_ptr_nonnull(strstr(harness_output(h), "ts=1 ts_str=\"1970-01-01T00:00:00.000000001Z\"\n"));
    harness_free(h);
}
END_TEST

/* Without any list, every timestamp field is formatted, in schema order. */
START_TEST(test_default) {
    struct harness *h = harness_new(plugins);
    struct values v = { 1, "ts", false, { 86400000000000ull } };
    char *err;

    ck_assert_int_eq(run(h, "seq:u64,ts:timestamp,other:timestamp", "", &v, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "seq=0 ts=86400000000000 other=0 ts_str=\"1970-01-02T00:00:00.000000000Z\" "
                     "other_str=\"1970-01-01T00:00:00.000000000Z\"\n");
    /* nothing to format: opts out, events pass untouched */
    ck_assert_int_eq(run(h, "seq:u64,ts:timestamp", "timestamps: ''", &v, &err), 0);
    ck_assert_str_eq(harness_output(h), "seq=0 ts=86400000000000\n");
    v.field = "seq";
    ck_assert_int_eq(run(h, "seq:u64", "", &v, &err), 0);
    ck_assert_str_eq(harness_output(h), "seq=86400000000000\n");
    ck_assert_int_eq(harness_events_in(h, "formatters"), 0); /* opted out: never called */
    harness_free(h);
}
END_TEST

START_TEST(test_durations) {
    struct harness *h = harness_new(plugins);
    struct values v = { 13, "lat", false,
                        { 0, 1, 999, 1000, 1500, 999999, 1500000, 1000000000, 1500000000,
                          59999999999ull, 60000000000ull, 3723500000000ull, UINT64_MAX } };
    struct values s = { 4, "d", true, { 0 }, { -1, -1500000000, INT64_MIN, INT64_MAX } };
    char *err;

    ck_assert_int_eq(run(h, "lat:u64", "durations: lat", &v, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "lat=0 lat_str=\"0s\"\n"
                     "lat=1 lat_str=\"1ns\"\n"
                     "lat=999 lat_str=\"999ns\"\n"
                     "lat=1000 lat_str=\"1us\"\n"
                     "lat=1500 lat_str=\"1.5us\"\n"
                     "lat=999999 lat_str=\"999.999us\"\n"
                     "lat=1500000 lat_str=\"1.5ms\"\n"
                     "lat=1000000000 lat_str=\"1s\"\n"
                     "lat=1500000000 lat_str=\"1.5s\"\n"
                     "lat=59999999999 lat_str=\"59.999999999s\"\n"
                     "lat=60000000000 lat_str=\"1m0s\"\n"
                     "lat=3723500000000 lat_str=\"1h2m3.5s\"\n"
                     "lat=18446744073709551615 lat_str=\"5124095h34m33.709551615s\"\n");
    ck_assert_int_eq(run(h, "d:s64", "durations: d", &s, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "d=-1 d_str=\"-1ns\"\n"
                     "d=-1500000000 d_str=\"-1.5s\"\n"
                     "d=-9223372036854775808 d_str=\"-2562047h47m16.854775808s\"\n"
                     "d=9223372036854775807 d_str=\"2562047h47m16.854775807s\"\n");
    harness_free(h);
}
END_TEST

START_TEST(test_signals) {
    struct harness *h = harness_new(plugins);
    struct values v = { 9, "sig", false, { 9, 15, 1, 31, 32, 34, 64, 0, 99 } };
    struct values s = { 3, "sig", true, { 0 }, { 2, -1, 65 } };
    char *err;

    ck_assert_int_eq(run(h, "sig:u32", "signals: sig", &v, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "sig=9 sig_str=\"SIGKILL\"\n"
                     "sig=15 sig_str=\"SIGTERM\"\n"
                     "sig=1 sig_str=\"SIGHUP\"\n"
                     "sig=31 sig_str=\"SIGSYS\"\n"
                     "sig=32 sig_str=\"SIGRT_0\"\n"
                     "sig=34 sig_str=\"SIGRT_2\"\n"
                     "sig=64 sig_str=\"SIGRT_32\"\n"
                     "sig=0 sig_str=\"signal 0\"\n"
                     "sig=99 sig_str=\"signal 99\"\n");
    ck_assert_int_eq(run(h, "sig:s32", "signals: sig", &s, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "sig=2 sig_str=\"SIGINT\"\n"
                     "sig=-1 sig_str=\"signal -1\"\n"
                     "sig=65 sig_str=\"signal 65\"\n");
    harness_free(h);
}
END_TEST

START_TEST(test_errnos) {
    struct harness *h = harness_new(plugins);
    struct values v = { 5, "err", false, { 2, 0, 1, 13, 999 } };
    struct values s = { 6, "ret", true, { 0 }, { -2, 3, 0, -13, -999, INT64_MIN } };
    char *err;

    ck_assert_int_eq(run(h, "err:u16", "errnos: err", &v, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "err=2 err_str=\"ENOENT\"\n"
                     "err=0 err_str=\"0\"\n"
                     "err=1 err_str=\"EPERM\"\n"
                     "err=13 err_str=\"EACCES\"\n"
                     "err=999 err_str=\"errno 999\"\n");
    ck_assert_int_eq(run(h, "ret:s64", "errnos: ret", &s, &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "ret=-2 ret_str=\"ENOENT\"\n"
                     "ret=3 ret_str=\"3\"\n"
                     "ret=0 ret_str=\"0\"\n"
                     "ret=-13 ret_str=\"EACCES\"\n"
                     "ret=-999 ret_str=\"errno 999\"\n"
                     "ret=-9223372036854775808 ret_str=\"errno 9223372036854775808\"\n");
    harness_free(h);
}
END_TEST

static void feed_mixed(struct harness_feed *f, void *userdata) {
    for (uint64_t i = 0; i < 300; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "ts", i * 1000000000u);
        harness_set_u64(f, e, "sig", i % 3 ? 9 : 15);
        harness_set_s64(f, e, "ret", i % 2 ? -2 : 0);
        harness_set_u64(f, e, "lat", i * 1000u);
    }
}

/* Several lists at once, over more than one batch (string areas grow). */
START_TEST(test_all_at_once) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;

    ck_assert_int_eq(harness_run_feed(h, "ts:timestamp,sig:u8,ret:s32,lat:u32",
                                      "    formatters: {errnos: ret, signals: sig, durations: ' lat ',"
                                      " timestamps: ts, timestamp_precision: s}\n",
                                      feed_mixed, NULL, &err),
                     0);
    ck_assert_ptr_nonnull(strstr(harness_output(h),
                                 "ts=0 sig=15 ret=0 lat=0 ts_str=\"1970-01-01T00:00:00Z\" "
                                 "lat_str=\"0s\" sig_str=\"SIGTERM\" ret_str=\"0\"\n"
                                 "ts=1000000000 sig=9 ret=-2 lat=1000 "
                                 "ts_str=\"1970-01-01T00:00:01Z\" lat_str=\"1us\" "
                                 "sig_str=\"SIGKILL\" ret_str=\"ENOENT\"\n"));
    ck_assert_ptr_nonnull(strstr(harness_output(h),
                                 "ts=299000000000 sig=9 ret=-2 lat=299000 "
                                 "ts_str=\"1970-01-01T00:04:59Z\" lat_str=\"299us\" "
                                 "sig_str=\"SIGKILL\" ret_str=\"ENOENT\"\n"));
    ck_assert_int_eq(harness_events_in(h, "formatters"), 300);
    harness_free(h);
}
END_TEST

static const struct {
    const char *fields, *params, *error;
    int r;
} errors[] = {
    { "sig:u32", "signals: sgi",
      /* The host adds the suggestion formatters does not make. */
      "operator 'formatters': instantiate failed: formatters: param 'signals': unknown field "
      "'sgi'; no operator of session 't' adds field 'sgi' (did you mean 'sig'?)",
      -ENOENT },
    { "ts:timestamp", "timestamps: 'ts,when'",
      "operator 'formatters': instantiate failed: formatters: param 'timestamps': unknown field 'when'",
      -ENOENT },
    { "comm:string", "signals: comm",
      "operator 'formatters': instantiate failed: formatters: param 'signals': field 'comm' is "
      "string, not an integer", -EINVAL },
    { "ok:bool", "errnos: ok",
      "operator 'formatters': instantiate failed: formatters: param 'errnos': field 'ok' is "
      "bool, not an integer", -EINVAL },
    { "ts:u32", "timestamps: ts",
      "operator 'formatters': instantiate failed: formatters: param 'timestamps': field 'ts' is "
      "u32, not a timestamp or u64", -EINVAL },
    { "sig:u32,sig_str:string", "signals: sig",
      "operator 'formatters': instantiate failed: formatters: param 'signals': cannot add field "
      "'sig_str': the data source has it already", -EEXIST },
    { "x:u64", "durations: x, errnos: x",
      "operator 'formatters': instantiate failed: formatters: param 'errnos': cannot add field "
      "'x_str': the data source has it already", -EEXIST },
};

START_TEST(test_errors) {
    struct harness *h = harness_new(plugins);
    struct values v = { 0 };
    char *yaml;

    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        yaml = yaml_of(errors[i].fields, errors[i].params);
        harness_assert_fails(h, yaml, feed_values, &v, errors[i].r, errors[i].error);
        free(yaml);
    }
    /* a precision that is not allowed is refused by the host's param check */
    yaml = yaml_of("ts:timestamp", "timestamp_precision: ps");
    harness_assert_fails_with(h, yaml, feed_values, &v, -EINVAL, "timestamp_precision");
    free(yaml);
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("formatters", 0, (const TTest *const[]){
        test_timestamps,
        test_default,
        test_durations,
        test_signals,
        test_errnos,
        test_all_at_once,
        test_errors,
        NULL,
    });
}

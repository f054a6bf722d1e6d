/* test-harness.c — the harness itself: feed -> capture round trip of every
 * field type, batch boundaries, and plan errors surfacing as errors. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "testutil.h"

static void feed_three(struct harness_feed *f, void *userdata) {
    for (uint64_t i = 1; i <= 3; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "seq", i);
        harness_set_s64(f, e, "delta", -(int64_t) i);
        harness_set_bool(f, e, "odd", i & 1);
        if (i != 2)
            harness_set_string(f, e, "name", i == 1 ? "one" : "");
        harness_set_bytes(f, e, "raw", "\x01\xff", 2);
    }
}

START_TEST(test_roundtrip) {
    struct harness *h = harness_new(NULL);
    char *err = NULL;

    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'seq:u64,delta:s64,odd:bool,name:string,raw:bytes'}\n",
                                 feed_three, NULL, &err),
                     0);
    ck_assert_str_eq(harness_output(h),
                     "seq=1 delta=-1 odd=true name=\"one\" raw=01ff\n"
                     "seq=2 delta=-2 odd=false name=- raw=01ff\n"
                     "seq=3 delta=-3 odd=true name=\"\" raw=01ff\n");
    ck_assert_int_eq(harness_events_in(h, "capture"), 3);
    ck_assert_int_eq(harness_events_in(h, "nothing"), -1);
    harness_free(h);
}
END_TEST

static void feed_many(struct harness_feed *f, void *userdata) {
    for (uint64_t i = 1; i <= 600; i++)
        harness_set_u64(f, harness_append(f), "seq", i);
}

START_TEST(test_batches) {
    struct harness *h = harness_new(NULL);
    const char *out;
    size_t lines = 0;

    ck_assert_int_eq(harness_run(h, "t: {gadget: feed}\n", feed_many, NULL, NULL), 0);
    out = harness_output(h);
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_uint_eq(lines, 600);
    ck_assert_ptr_nonnull(strstr(out, "seq=256\nseq=257\n"));
    ck_assert_ptr_nonnull(strstr(out, "seq=600\n"));
    harness_free(h);
}
END_TEST

START_TEST(test_plan_error) {
    struct harness *h = harness_new(NULL);
    char *err = NULL;

    ck_assert_int_eq(harness_run(h, "t:\n  gadget: fed\n", NULL, NULL, &err), -ENOENT);
    ck_assert_str_eq(err, "test.yaml:2:11: session 't': unknown gadget 'fed' (did you mean 'feed'?)");
    free(err);
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("harness", 0, (const TTest *const[]){
        test_roundtrip,
        test_batches,
        test_plan_error,
        NULL,
    });
}

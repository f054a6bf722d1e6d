/* test-uidgid.c — the uidgid enricher: names of known ids (root, nobody,
 * nogroup), unknown ids shown as numbers, only the fields that exist,
 * repeated ids through tiny caches, and the instantiate errors. */
#include <check.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

#define PLUGIN TEST_PLUGIN_DIR "/uidgid.so"
#define UNKNOWN 4000000u

static const char *const plugins[] = { PLUGIN, NULL };

struct ids {
    const char *uid_field, *gid_field; /* NULL: not in the feed */
    const int64_t *uids, *gids;
    size_t n;
};

static void feed_ids(struct harness_feed *f, void *userdata) {
    const struct ids *s = userdata;
    for (size_t i = 0; i < s->n; i++) {
        struct ophost_event *e = harness_append(f);
        if (s->uid_field)
            harness_set_u64(f, e, s->uid_field, (uint64_t) s->uids[i]);
        if (s->gid_field)
            harness_set_u64(f, e, s->gid_field, (uint64_t) s->gids[i]);
    }
}

/* The system must have these for the expected names below. */
static void require_names(void) {
    ck_assert_ptr_nonnull(getpwuid(0));
    ck_assert_str_eq(getpwuid(0)->pw_name, "root");
    ck_assert_ptr_nonnull(getgrgid(0));
    ck_assert_str_eq(getgrgid(0)->gr_name, "root");
    ck_assert_ptr_nonnull(getpwuid(65534));
    ck_assert_str_eq(getpwuid(65534)->pw_name, "nobody");
    ck_assert_ptr_nonnull(getgrgid(65534));
    ck_assert_str_eq(getgrgid(65534)->gr_name, "nogroup");
    ck_assert_ptr_null(getpwuid(UNKNOWN));
    ck_assert_ptr_null(getgrgid(UNKNOWN));
}

static const int64_t uids[] = { 0, 65534, UNKNOWN, 0, 0, UNKNOWN, 65534, 4294967295 };
static const int64_t gids[] = { 0, 65534, UNKNOWN, 65534, 0, 0, UNKNOWN, 0 };
#define N (sizeof(uids) / sizeof(uids[0]))

static const char both_expected[] =
    "uid=0 gid=0 user=\"root\" group=\"root\"\n"
    "uid=65534 gid=65534 user=\"nobody\" group=\"nogroup\"\n"
    "uid=4000000 gid=4000000 user=\"4000000\" group=\"4000000\"\n"
    "uid=0 gid=65534 user=\"root\" group=\"nogroup\"\n"
    "uid=0 gid=0 user=\"root\" group=\"root\"\n"
    "uid=4000000 gid=0 user=\"4000000\" group=\"root\"\n"
    "uid=65534 gid=4000000 user=\"nobody\" group=\"4000000\"\n"
    "uid=4294967295 gid=0 user=\"4294967295\" group=\"root\"\n";

START_TEST(test_names) {
    static const char *const caches[] = { "", "cache-size: 1", "cache-size: 0",
                                          "cache-ttl: 0", "cache-size: 2, cache-ttl: 1ms" };
    struct harness *h = harness_new(plugins);
    struct ids s = { "uid", "gid", uids, gids, N };

    require_names();
    for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
        char yaml[256];
        snprintf(yaml, sizeof(yaml),
                 "t:\n"
                 "  gadget: feed\n"
                 "  operators:\n"
                 "    feed: {fields: 'uid:u32,gid:u32'}\n"
                 "    uidgid: {%s}\n",
                 caches[i]);
        ck_assert_int_eq(harness_run(h, yaml, feed_ids, &s, NULL), 0);
        ck_assert_str_eq(harness_output(h), both_expected);
        ck_assert_int_eq(harness_events_out(h, "uidgid"), (int64_t) N);
    }
    harness_free(h);
}
END_TEST

START_TEST(test_only_uid) {
    struct harness *h = harness_new(plugins);
    struct ids s = { "uid", NULL, uids, NULL, 3 };

    require_names();
    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'uid:u64'}\n"
                                 "    uidgid: {}\n",
                                 feed_ids, &s, NULL), 0);
    ck_assert_str_eq(harness_output(h),
                     "uid=0 user=\"root\"\n"
                     "uid=65534 user=\"nobody\"\n"
                     "uid=4000000 user=\"4000000\"\n");
    harness_free(h);
}
END_TEST

START_TEST(test_renamed_gid_only) {
    struct harness *h = harness_new(plugins);
    struct ids s = { NULL, "egid", NULL, gids, 3 };

    require_names();
    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'egid:u16'}\n"
                                 "    uidgid: {gid-field: egid}\n",
                                 feed_ids, &s, NULL), 0);
    /* u16: 4000000 arrives truncated to 2304, which has no group either. */
    ck_assert_ptr_null(getgrgid(2304));
    ck_assert_str_eq(harness_output(h),
                     "egid=0 group=\"root\"\n"
                     "egid=65534 group=\"nogroup\"\n"
                     "egid=2304 group=\"2304\"\n");
    harness_free(h);
}
END_TEST

static void feed_signed(struct harness_feed *f, void *userdata) {
    struct ophost_event *e = harness_append(f);
    harness_set_s64(f, e, "uid", -1);
    e = harness_append(f);
    harness_set_s64(f, e, "uid", 0);
}

START_TEST(test_signed) {
    struct harness *h = harness_new(plugins);

    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'uid:s32'}\n"
                                 "    uidgid: {}\n",
                                 feed_signed, NULL, NULL), 0);
    ck_assert_str_eq(harness_output(h), "uid=-1 user=\"-1\"\nuid=0 user=\"root\"\n");
    harness_free(h);
}
END_TEST

START_TEST(test_errors) {
    static const struct harness_error_case cases[] = {
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'seq:u64'}\n    uidgid: {}\n",
          "operator 'uidgid': instantiate failed: data source 'events' has neither field 'uid' (param 'uid-field') nor field 'gid' (param 'gid-field')" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'uid:string'}\n    uidgid: {}\n",
          "operator 'uidgid': instantiate failed: param 'uid-field': field 'uid' is of type string, not an integer type" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'uid:u32,gid:bool'}\n    uidgid: {}\n",
          "operator 'uidgid': instantiate failed: param 'gid-field': field 'gid' is of type bool, not an integer type" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'uid:u32,user:string'}\n    uidgid: {}\n",
          "operator 'uidgid': instantiate failed: field 'user' already exists in data source 'events'" },
    };

    harness_assert_errors(plugins, feed_ids, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

int main(void) {
    return tu_run_tests("uidgid", 0, (const TTest *const[]){
        test_names,
        test_only_uid,
        test_renamed_gid_only,
        test_signed,
        test_errors,
        NULL,
    });
}

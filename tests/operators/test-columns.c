/* test-columns.c — the columns sink: the exact table for a small batch,
 * widths from the first batch, widening, cutting with "…", field selection, header
 * repetition, bad params. Timestamps in UTC (TZ is set). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/columns.so", NULL };

static char *dir, *out_path;

static void setup(void) {
    dir = tu_make_dir("columns");
    out_path = tu_path_in(dir, "table");
}

static void teardown(void) {
    tu_remove_tree(dir);
    free(out_path);
    free(dir);
}

/* Runs feed(fields) -> columns(params, path=out_path); returns the table. */
static char *run_table(const char *fields, const char *params, harness_feed_fn fn) {
    struct harness *h = harness_new(plugins);
    char ops[512], *err = NULL;
    int r;

    snprintf(ops, sizeof(ops), "    columns: {path: '%s'%s%s}\n", out_path,
             params[0] ? ", " : "", params);
    r = harness_run_feed(h, fields, ops, fn, NULL, &err);
    ck_assert_msg(r == 0, "session failed: %s", err ? err : "?");
    harness_free(h);
    return tu_read_existing_file(out_path);
}

static void feed_small(struct harness_feed *f, void *userdata) {
    struct ophost_event *e = harness_append(f);
    harness_set_u64(f, e, "pid", 1);
    harness_set_string(f, e, "comm", "init");
    harness_set_u64(f, e, "ts", 1700000000123456789ull); /* 2023-11-14 22:13:20.123 UTC */
    harness_set_bool(f, e, "ok", true);
    harness_set_s64(f, e, "delta", -5);
    harness_set_bytes(f, e, "raw", "\x01\xff", 2);
    e = harness_append(f);
    harness_set_u64(f, e, "pid", 12345);
    harness_set_string(f, e, "comm", "bash");
    harness_set_u64(f, e, "ts", 1700000001500000000ull);
    harness_set_bool(f, e, "ok", false);
    harness_set_s64(f, e, "delta", 100);
}

START_TEST(test_small_table) {
    char *out = run_table("pid:u32,comm:string,ts:timestamp,ok:bool,delta:s64,raw:bytes", "",
                          feed_small);
    ck_assert_str_eq(out,
                     "  PID COMM TS           OK    DELTA RAW\n"
                     "    1 init 22:13:20.123 true     -5 01ff\n"
                     "12345 bash 22:13:21.500 false   100 -\n");
    free(out);
}
END_TEST

static void feed_cut(struct harness_feed *f, void *userdata) {
    static const struct {
        uint64_t pid;
        const char *comm;
    } rows[] = {
        { 7, "abc" }, { 7, "a\tb" }, { 0, NULL }, /* first batch */
        { 7, "abcdef" },
        { 1234567, "abcdefghij" },
        { 8, "h\xc3\xa9llo w\xc3\xb6rld" },
        { 8, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct ophost_event *e;
        if (!rows[i].comm) {
            harness_flush(f);
            continue;
        }
        e = harness_append(f);
        harness_set_u64(f, e, "pid", rows[i].pid);
        harness_set_string(f, e, "comm", rows[i].comm);
    }
}

START_TEST(test_widen_cut_and_select) {
    char *out = run_table("pid:u32,comm:string,other:u64", "fields: 'comm, pid', max-width: 8",
                          feed_cut);
    ck_assert_str_eq(out,
                     /* widths from the header and the first batch */
                     "COMM PID\n"
                     "abc    7\n"
                     "a?b    7\n"
                     /* a wider string widens its column: the header
                      * again, over the new widths */
                     "COMM   PID\n"
                     "abcdef   7\n"
                     /* up to max-width, then it is cut; numbers are not */
                     "COMM         PID\n"
                     "abcdefg\xe2\x80\xa6 1234567\n"
                     "h\xc3\xa9llo w\xe2\x80\xa6       8\n"
                     /* eight characters fit exactly */
                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9       8\n");
    free(out);
}
END_TEST

static void feed_long_name(struct harness_feed *f, void *userdata) {
    struct ophost_event *e = harness_append(f);
    harness_set_string(f, e, "description", "x");
    harness_set_u64(f, e, "n", 3);
}

START_TEST(test_header_cut) {
    char *out = run_table("description:string,n:u8", "max-width: 5", feed_long_name);
    ck_assert_str_eq(out,
                     "DESC\xe2\x80\xa6 N\n"
                     "x     3\n");
    free(out);
}
END_TEST

static void feed_five(struct harness_feed *f, void *userdata) {
    for (uint64_t i = 1; i <= 5; i++) {
        harness_set_u64(f, harness_append(f), "seq", i * 10);
        if (i == 3)
            harness_flush(f);
    }
}

START_TEST(test_header_every) {
    char *out = run_table("seq:u64", "header-every: 2", feed_five);
    ck_assert_str_eq(out,
                     "SEQ\n"
                     " 10\n"
                     " 20\n"
                     "SEQ\n"
                     " 30\n"
                     " 40\n"
                     "SEQ\n"
                     " 50\n");
    free(out);
    /* 0: once. */
    ck_assert_int_eq(unlink(out_path), 0);
    out = run_table("seq:u64", "", feed_five);
    ck_assert_str_eq(out, "SEQ\n 10\n 20\n 30\n 40\n 50\n");
    free(out);
}
END_TEST

START_TEST(test_no_events) {
    char *out = run_table("seq:u64", "", NULL);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(test_unknown_field) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails_with(h,
                              "t:\n"
                              "  gadget: feed\n"
                              "  operators:\n"
                              "    feed: {fields: 'pid:u32,comm:string'}\n"
                              "    columns: {fields: 'pid,cmd'}\n",
                              feed_five, NULL, -EINVAL,
                              "param 'fields': no field 'cmd' in data source 'events' (it has: "
                              "pid, comm)");
    harness_assert_fails_with(h,
                              "t:\n  gadget: feed\n  operators:\n    columns: {fields: 'seq,,x'}\n",
                              feed_five, NULL, -EINVAL,
                              "param 'fields': empty field name in 'seq,,x'");
    harness_assert_fails_with(h,
                              "t:\n  gadget: feed\n  operators:\n    columns: {max-width: 1}\n",
                              feed_five, NULL, 0, "max-width");
    harness_free(h);
}
END_TEST

int main(void) {
    setenv("TZ", "UTC", 1);
    tzset();
    return tu_run_suite("columns", 0, setup, teardown, (const TTest *const[]){
        test_small_table,
        test_widen_cut_and_select,
        test_header_cut,
        test_header_every,
        test_no_events,
        test_unknown_field,
        NULL,
    });
}

/* test-filter.c — the filter and filter-late operators through real
 * sessions: every operator of the grammar on every field type, regexes,
 * or-groups, quoting, errors at instantiate (unknown field with a hint, bad
 * values for the type, syntax), batches crossing the capacity, and where
 * the two operators sit around an enricher. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

#define FIELDS "pid:u32,uid:u32,delta:s32,big:s64,u:u64,small:u8,flag:bool,comm:string," \
               "ts:timestamp,raw:bytes"

/* Five events covering the edges of every type. */
static void feed_five(struct harness_feed *f, void *userdata) {
    static const struct {
        uint64_t uid;
        int64_t delta, big;
        uint64_t u, small;
        bool flag;
        const char *comm; /* NULL = unset */
        uint64_t ts;
        const char *raw;
        size_t raw_len; /* raw == NULL: unset */
    } ev[] = {
        { 0, -5, INT64_MIN, UINT64_MAX, 255, true, "bash", 0, "\x01\xff", 2 },
        { 1000, -1, -1, 1ull << 63, 0, false, "zsh", 1700000000000000000ull, NULL, 0 },
        { 0, 0, 0, 0, 7, true, NULL, 1714564800000000000ull, "\x00", 1 },
        { 65534, 1, 1, 1, 128, false, "", 1714564800000000001ull, "\x01\x00", 2 },
        { 0, 100, INT64_MAX, 100, 1, true, "bashful", UINT64_MAX, "\x01", 1 },
    };
    for (size_t i = 0; i < 5; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "pid", i + 1);
        harness_set_u64(f, e, "uid", ev[i].uid);
        harness_set_s64(f, e, "delta", ev[i].delta);
        harness_set_s64(f, e, "big", ev[i].big);
        harness_set_u64(f, e, "u", ev[i].u);
        harness_set_u64(f, e, "small", ev[i].small);
        harness_set_bool(f, e, "flag", ev[i].flag);
        if (ev[i].comm)
            harness_set_string(f, e, "comm", ev[i].comm);
        harness_set_u64(f, e, "ts", ev[i].ts);
        if (ev[i].raw)
            harness_set_bytes(f, e, "raw", ev[i].raw, ev[i].raw_len);
    }
}

/* The pipeline feed(FIELDS) -> `op: {expr: EXPR}`; caller frees. */
static char *expr_yaml(const char *op, const char *expr) {
    char ops[1024], *quoted = NULL, *yaml;
    size_t len = 0;
    FILE *f = open_memstream(&quoted, &len);

    /* YAML single-quoted: '' is a quote */
    for (const char *p = expr; *p; p++)
        fputs(*p == '\'' ? "''" : (char[2]){ *p, 0 }, f);
    fclose(f);
    snprintf(ops, sizeof(ops), "    %s: {expr: '%s'}\n", op, quoted);
    free(quoted);
    yaml = harness_feed_yaml(FIELDS, ops);
    return yaml;
}

/* Runs the five events through `op: {expr: EXPR}`; returns the session's
 * result, the error text (or NULL) in *ret_error. */
static int run_expr(struct harness *h, const char *op, const char *expr, char **ret_error) {
    char *yaml = expr_yaml(op, expr);
    int r;

    *ret_error = NULL;
    r = harness_run(h, yaml, feed_five, NULL, ret_error);
    free(yaml);
    return r;
}

static const char *const plugins[] = { TEST_PLUGIN_DIR "/filter.so", NULL };

static const struct {
    const char *expr;
    const char *pids;
} cases[] = {
    /* every comparison operator, u32 */
    { "pid==3", "3" },
    { "pid!=3", "1 2 4 5" },
    { "pid<3", "1 2" },
    { "pid<=3", "1 2 3" },
    { "pid>3", "4 5" },
    { "pid>=3", "3 4 5" },
    { "uid==0", "1 3 5" },
    { "uid==0x3e8", "2" },
    /* signed */
    { "delta<0", "1 2" },
    { "delta>=-1", "2 3 4 5" },
    { "delta>-5", "2 3 4 5" },
    { "delta==+1", "4" },
    { "big<0", "1 2" },
    { "big==-9223372036854775808", "1" },
    { "big>=9223372036854775807", "5" },
    /* unsigned beyond the signed range, and u8 */
    { "u>9223372036854775807", "1 2" },
    { "u==18446744073709551615", "1" },
    { "u<=1", "3 4" },
    { "small>127", "1 4" },
    { "small==0", "2" },
    /* bool */
    { "flag==true", "1 3 5" },
    { "flag!=true", "2 4" },
    { "flag==false", "2 4" },
    { "flag!=false", "1 3 5" },
    /* strings: bytewise, a prefix first, unset reads as empty */
    { "comm==bash", "1" },
    { "comm!=bash", "2 3 4 5" },
    { "comm<bash", "3 4" },
    { "comm<=bash", "1 3 4" },
    { "comm>bash", "2 5" },
    { "comm>=bashful", "2 5" },
    { "comm==\"\"", "3 4" },
    { "comm==", "3 4" },
    { "comm==\"bash\"", "1" },
    /* regexes (POSIX extended) */
    { "comm~^ba", "1 5" },
    { "comm!~^ba", "2 3 4" },
    { "comm~sh$", "1 2" },
    { "comm~\"^(bash|zsh)$\"", "1 2" },
    { "comm~^$", "3 4" },
    { "comm~.", "1 2 5" },
    { "comm~^b[a-z]{3}$", "1" },
    /* literal patterns (matched without regexec) */
    { "comm~bas", "1 5" },
    { "comm~^bash$", "1" },
    { "comm!~sh$", "3 4 5" },
    { "comm~^", "1 2 3 4 5" },
    { "comm!~h", "3 4" },
    { "comm~\"\"", "1 2 3 4 5" },
    { "comm~a\\$", "" },
    /* timestamps: nanoseconds or RFC 3339 */
    { "ts==0", "1" },
    { "ts>=2024-05-01T12:00:00Z", "3 4 5" },
    { "ts>2024-05-01T12:00:00Z", "4 5" },
    { "ts<2024-05-01T14:00:00+02:00", "1 2" },
    { "ts==2024-05-01T12:00:00.000000001Z", "4" },
    { "ts>=1970-01-01T00:00:00Z", "1 2 3 4 5" },
    { "ts>=18446744073709551615", "5" },
    /* bytes, as hex digits; unset reads as empty */
    { "raw==01ff", "1" },
    { "raw==01FF", "1" },
    { "raw==", "2" },
    { "raw<01", "2 3" },
    { "raw>=01", "1 4 5" },
    /* and, or, blanks, quoting */
    { "comm~^ba,uid==0|pid==4", "1 4 5" },
    { "pid==1|pid==3|pid==5", "1 3 5" },
    { "pid<3,pid>1", "2" },
    { "pid>1,pid<5,uid==0", "3" },
    { "uid==0,comm~^ba|uid==0,flag==false|pid==2", "1 2 5" },
    { " pid >= 4 , uid == 65534 ", "4" },
    { "comm==\"a,b|c\"|pid==2", "2" },
    { "comm==\"zs\\\"h\"|comm==\"b\\\\\"|pid==4", "4" },
    { "comm~\"^(ba|zs)\"|comm~\"sh,x\"", "1 2 5" },
    /* later groups see only what earlier ones left: kept out of order,
     * everything kept before the last group, a first group keeping none */
    { "pid>=4,flag==false|pid==2|uid==0,pid>=3|pid==1,pid==5", "2 3 4 5" },
    { "pid>=1|pid==2|comm~^ba", "1 2 3 4 5" },
    { "pid>5|pid>3|uid==0,pid>1", "3 4 5" },
    /* nothing matches: everything dropped */
    { "pid<1|pid>5", "" },
    { "pid>=1", "1 2 3 4 5" },
};

START_TEST(test_cases) {
    struct harness *h = harness_new(plugins);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int late = 0; late < 2; late++) {
            char *err;
            int r = run_expr(h, late ? "filter-late" : "filter", cases[i].expr, &err);
            ck_assert_msg(r == 0, "%s: %s", cases[i].expr, err ? err : "?");
            ck_assert_msg(strcmp(harness_values(h, "pid"), cases[i].pids) == 0,
                          "%s: got '%s', expected '%s'", cases[i].expr, harness_values(h, "pid"),
                          cases[i].pids);
            ck_assert_int_eq(harness_events_in(h, late ? "filter-late" : "filter"), 5);
            free(err);
        }
    }
    harness_free(h);
}
END_TEST

/* Kept events reach the sink untouched, in their order. */
START_TEST(test_exact_output) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run_expr(h, "filter", "comm~^ba|raw==00", &err), 0);
    ck_assert_str_eq(harness_output(h),
                     "pid=1 uid=0 delta=-5 big=-9223372036854775808 u=18446744073709551615 "
                     "small=255 flag=true comm=\"bash\" ts=0 raw=01ff\n"
                     "pid=3 uid=0 delta=0 big=0 u=0 small=7 flag=true comm=- "
                     "ts=1714564800000000000 raw=00\n"
                     "pid=5 uid=0 delta=100 big=9223372036854775807 u=100 small=1 flag=true "
                     "comm=\"bashful\" ts=18446744073709551615 raw=01\n");
    ck_assert_int_eq(harness_events_in(h, "filter"), 5);
    ck_assert_int_eq(harness_events_out(h, "filter"), 3);
    ck_assert_int_eq(harness_events_in(h, "capture"), 3);
    harness_free(h);
}
END_TEST

/* All dropped: the sink is not even called. */
START_TEST(test_all_dropped) {
    struct harness *h = harness_new(plugins);
    char *err;

    ck_assert_int_eq(run_expr(h, "filter", "uid==4242", &err), 0);
    ck_assert_str_eq(harness_output(h), "");
    ck_assert_int_eq(harness_events_in(h, "filter"), 5);
    ck_assert_int_eq(harness_events_out(h, "filter"), 0);
    ck_assert_int_eq(harness_events_in(h, "capture"), 0);
    harness_free(h);
}
END_TEST

/* A feed that makes no events at all: nothing is processed, nothing fails. */
START_TEST(test_empty) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;

    ck_assert_int_eq(harness_run_feed(h, "pid:u32", "    filter: {expr: 'pid==1'}\n", NULL, NULL,
                                      &err),
                     0);
    ck_assert_str_eq(harness_output(h), "");
    ck_assert_int_eq(harness_events_in(h, "filter"), 0);
    harness_free(h);
}
END_TEST

static const char *const error_prefix =
    "operator '%s': instantiate failed: ";

static const struct {
    const char *op, *expr, *error;
} errors[] = {
    { "filter", "usr==0", "filter: unknown field 'usr' (did you mean 'uid'?)" },
    { "filter-late", "comm~^ba,pdi<3", "filter-late: unknown field 'pdi' (did you mean 'pid'?)" },
    { "filter", "user_name==root",
      "filter: unknown field 'user_name' (it sees the gadget's fields: pid, uid, delta, big, u, "
      "small, flag, comm, ts, raw; use filter-late for fields added by enrichers)" },
    { "filter-late", "user_name==root",
      "filter-late: unknown field 'user_name' (fields: pid, uid, delta, big, u, small, flag, "
      "comm, ts, raw)" },
    { "filter", "uid==abc", "filter: value 'abc' for field 'uid' (u32) is not an unsigned integer" },
    { "filter", "uid==-1", "filter: value '-1' for field 'uid' (u32) is not an unsigned integer" },
    { "filter", "uid==1.5", "filter: value '1.5' for field 'uid' (u32) is not an unsigned integer" },
    { "filter", "uid==0x", "filter: value '0x' for field 'uid' (u32) is not an unsigned integer" },
    { "filter", "uid==4294967296", "filter: value '4294967296' for field 'uid' (u32) is out of range" },
    { "filter", "small<=256", "filter: value '256' for field 'small' (u8) is out of range" },
    { "filter", "u==18446744073709551616",
      "filter: value '18446744073709551616' for field 'u' (u64) is out of range" },
    { "filter", "delta>2147483648", "filter: value '2147483648' for field 'delta' (s32) is out of range" },
    { "filter", "delta>-2147483649", "filter: value '-2147483649' for field 'delta' (s32) is out of range" },
    { "filter", "big==9223372036854775808",
      "filter: value '9223372036854775808' for field 'big' (s64) is out of range" },
    { "filter", "big==ten", "filter: value 'ten' for field 'big' (s64) is not an integer" },
    { "filter", "flag==yes", "filter: value 'yes' for field 'flag' (bool) is not true or false" },
    { "filter", "flag<true", "filter: field 'flag' is bool; only == and != apply" },
    { "filter", "uid~0", "filter: operator '~' needs a string field; 'uid' is u32" },
    { "filter", "raw!~01", "filter: operator '!~' needs a string field; 'raw' is bytes" },
    { "filter", "comm~(", "filter: bad regular expression '(' for field 'comm': Unmatched ( or \\(" },
    { "filter", "ts<18446744073709551616",
      "filter: value '18446744073709551616' for field 'ts' (timestamp) is out of range" },
    { "filter", "ts>yesterday",
      "filter: value 'yesterday' for field 'ts' (timestamp) is neither nanoseconds since the epoch "
      "nor an RFC 3339 time" },
    { "filter", "ts>2024-13-01T00:00:00Z",
      "filter: value '2024-13-01T00:00:00Z' for field 'ts' (timestamp) is neither nanoseconds "
      "since the epoch nor an RFC 3339 time" },
    { "filter", "ts>2024-05-01T00:00:00",
      "filter: value '2024-05-01T00:00:00' for field 'ts' (timestamp) is neither nanoseconds "
      "since the epoch nor an RFC 3339 time" },
    { "filter", "raw==0g", "filter: value '0g' for field 'raw' (bytes) is not hex digits" },
    { "filter", "raw==1", "filter: value '1' for field 'raw' (bytes) is not an even number of hex digits" },
    { "filter", "uid=0", "filter: '=' after 'uid' is not an operator (did you mean '=='?)" },
    { "filter", "uid!0", "filter: '!' after 'uid' is not an operator" },
    { "filter", "uid", "filter: clause 'uid' has no operator (==, !=, <, <=, >, >=, ~, !~)" },
    { "filter", "pid==1,,uid==0", "filter: empty clause in 'pid==1,,uid==0'" },
    { "filter", "pid==1|", "filter: empty clause in 'pid==1|'" },
    { "filter", "==1", "filter: no field name before '=='" },
    { "filter", "comm==\"abc", "filter: unterminated quoted value for field 'comm'" },
    { "filter", "comm==\"a\"b", "filter: unexpected 'b' after the quoted value for field 'comm'" },
    { "filter", "  ", "filter: param 'expr' is empty" },
};

START_TEST(test_errors) {
    struct harness *h = harness_new(plugins);

    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        char want[1024], *yaml = expr_yaml(errors[i].op, errors[i].expr);
        snprintf(want, sizeof(want), error_prefix, errors[i].op);
        strncat(want, errors[i].error, sizeof(want) - strlen(want) - 1);
        harness_assert_fails(h, yaml, feed_five, NULL,
                             strstr(errors[i].error, "unknown field") ? -ENOENT : -EINVAL, want);
        ck_assert_str_eq(harness_output(h), "");
        free(yaml);
    }
    harness_free(h);
}
END_TEST

START_TEST(test_missing_expr) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;

    ck_assert_int_lt(harness_run(h,
                                 "t:\n  gadget: feed\n  operators:\n    filter: {}\n",
                                 NULL, NULL, &err),
                     0);
    ck_assert_ptr_nonnull(strstr(err, "missing mandatory param 'expr'"));
    free(err);
    harness_free(h);
}
END_TEST

/* 600 events = three batches (256 + 256 + 88). */
START_TEST(test_batches) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;

    ck_assert_int_eq(harness_run(h,
                                 "t:\n  gadget: feed\n  operators:\n"
                                 "    filter: {expr: 'seq>=254,seq<=258|seq==512|seq>599'}\n",
                                 harness_feed_seq, &(uint64_t){ 600 }, &err),
                     0);
    ck_assert_str_eq(harness_output(h),
                     "seq=254\nseq=255\nseq=256\nseq=257\nseq=258\nseq=512\nseq=600\n");
    ck_assert_int_eq(harness_events_in(h, "filter"), 600);
    ck_assert_int_eq(harness_events_out(h, "filter"), 7);
    harness_free(h);
}
END_TEST

/*
 * Order around an enricher: the test plugin's rec-a (priority
 * OPHOST_PRIORITY_ENRICHER) adds a = seq * 10. filter runs before it, so
 * rec-a only sees (and enriches) what filter kept; filter-late runs after
 * it and can filter on a. filter cannot name a: it is not there yet.
 */
START_TEST(test_order_around_enricher) {
    static const char *const with_rec[] = {
        TEST_PLUGIN_DIR "/filter.so", TEST_PLUGIN_DIR "/../../tests/plugins/recorder.so", NULL
    };
    struct harness *h;
    char yaml[1024], *err = NULL, *dir, *trace, *text;
    uint64_t six = 6;

    if (access(with_rec[1], R_OK) != 0) {
        fprintf(stderr, "recorder test plugin missing at %s\n", with_rec[1]);
        ck_abort();
    }
    h = harness_new(with_rec);
    dir = tu_make_dir("filter");
    trace = tu_path_in(dir, "trace");
    /* listed out of order on purpose: the plan orders them */
    snprintf(yaml, sizeof(yaml),
             "t:\n  gadget: feed\n  operators:\n"
             "    filter-late: {expr: 'a>=20'}\n"
             "    rec-a: {trace: '%s'}\n"
             "    filter: {expr: 'seq<=3'}\n", trace);
    ck_assert_int_eq(harness_run(h, yaml, harness_feed_seq, &six, &err), 0);
    /* the field order is the order of addition: seq (feed), then a (rec-a) */
    ck_assert_str_eq(harness_output(h), "seq=2 a=20\nseq=3 a=30\n");
    ck_assert_int_eq(harness_events_in(h, "filter"), 6);
    ck_assert_int_eq(harness_events_in(h, "rec-a"), 3);
    ck_assert_int_eq(harness_events_in(h, "filter-late"), 3);
    ck_assert_int_eq(harness_events_out(h, "filter-late"), 2);
    text = tu_read_existing_file(trace);
    ck_assert_ptr_nonnull(strstr(text, "rec-a process n=3\n"));
    free(text);

    snprintf(yaml, sizeof(yaml),
             "t:\n  gadget: feed\n  operators:\n"
             "    rec-a: {trace: '%s'}\n"
             "    filter: {expr: 'a>=20'}\n", trace);
    ck_assert_int_eq(harness_run(h, yaml, harness_feed_seq, &six, &err), -ENOENT);
    ck_assert_str_eq(err, "operator 'filter': instantiate failed: "
                          "filter: unknown field 'a' (it sees the gadget's fields: seq; use "
                          "filter-late for fields added by enrichers)");
    free(err);
    tu_remove_tree(dir);
    free(trace);
    free(dir);
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("filter", 0, (const TTest *const[]){
        test_cases,
        test_exact_output,
        test_all_dropped,
        test_empty,
        test_errors,
        test_missing_expr,
        test_batches,
        test_order_around_enricher,
        NULL,
    });
}

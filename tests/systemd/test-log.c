/*
 * test-log.c — tests for daemon/log.c: stderr line format and rate limiting
 * (10 lines per group and interval, the "suppressed N messages" report,
 * groups by format string and context, exemption for bounded lists, level
 * filtering before counting, and exact counts under concurrent threads).
 * Time is a fake clock, so nothing depends on timing.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SEC 1000000ULL

static uint64_t fake_now;
static uint64_t fake_clock(void) {
    return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static int saved_stderr = -1;
static FILE *capture;

/* Sends stderr to a temporary file until captured() reads it back. */
static void capture_start(void) {
    unsetenv("JOURNAL_STREAM");
    log_open();
    log_set_max_level(LOG_INFO);
    log_set_ratelimit(10, 10 * SEC, fake_clock);
    fake_now = 1000 * SEC;
    fflush(stderr);
    capture = tmpfile();
    ck_assert_ptr_nonnull(capture);
    saved_stderr = dup(STDERR_FILENO);
    ck_assert_int_ge(saved_stderr, 0);
    ck_assert_int_eq(dup2(fileno(capture), STDERR_FILENO), STDERR_FILENO);
}

/* Everything logged since capture_start(); caller frees. Restores stderr. */
static char *captured(void) {
    long n;
    char *buf;

    fflush(stderr);
    ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(saved_stderr);
    n = ftell(capture);
    ck_assert_int_ge(n, 0);
    buf = calloc(1, (size_t) n + 1);
    ck_assert_ptr_nonnull(buf);
    rewind(capture);
    ck_assert_uint_eq(fread(buf, 1, (size_t) n, capture), (size_t) n);
    fclose(capture);
    log_set_ratelimit(10, 10 * SEC, NULL);
    return buf;
}

static unsigned count_lines(const char *s) {
    unsigned n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static unsigned count_substr(const char *s, const char *needle) {
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

START_TEST(test_line_format) {
    char *out;
    capture_start();
    log_full(LOG_ERR, 0, NULL, "plain %d", 1);
    log_full(LOG_WARNING, 0, &(struct log_context){ .session = "s1", .operator_name = "op" },
             "with context");
    log_full(LOG_INFO, 0, &(struct log_context){ .plugin = "x.so" }, "plugin line");
    log_full(LOG_DEBUG, 0, NULL, "not shown at info");
    ck_assert_int_eq(log_full(LOG_NOTICE, -2, NULL, "errno %m"), -2);
    out = captured();
    ck_assert_str_eq(out, "error: plain 1\n"
                          "warning: session s1, operator op: with context\n"
                          "info: x.so: plugin line\n"
                          "notice: errno No such file or directory\n");
    free(out);
}
END_TEST

START_TEST(test_burst_then_report) {
    char *out, *tail;
    capture_start();
    for (int i = 1; i <= 25; i++)
        log_full(LOG_WARNING, 0, NULL, "tick %d", i);
    fake_now += 9 * SEC; /* still inside the window */
    log_full(LOG_WARNING, 0, NULL, "tick %d", 26);
    fake_now += 1 * SEC; /* 10 s after the first line: a new window */
    log_full(LOG_WARNING, 0, NULL, "tick %d", 27);
    out = captured();
    ck_assert_uint_eq(count_lines(out), 12);
    ck_assert_ptr_nonnull(strstr(out, "warning: tick 1\nwarning: tick 2\n"));
    ck_assert_ptr_nonnull(strstr(out, "warning: tick 10\n"));
    ck_assert_ptr_null(strstr(out, "tick 11\n"));
    ck_assert_ptr_null(strstr(out, "tick 26\n"));
    tail = strstr(out, "warning: tick 10\n") + strlen("warning: tick 10\n");
    ck_assert_str_eq(tail, "warning: suppressed 16 messages like \"tick %d\"\n"
                           "warning: tick 27\n");
    free(out);
}
END_TEST

START_TEST(test_no_report_without_drops) {
    char *out;
    capture_start();
    for (int i = 0; i < 10; i++)
        log_full(LOG_INFO, 0, NULL, "exactly the burst");
    fake_now += 11 * SEC;
    log_full(LOG_INFO, 0, NULL, "exactly the burst");
    out = captured();
    ck_assert_uint_eq(count_lines(out), 11);
    ck_assert_uint_eq(count_substr(out, "suppressed"), 0);
    free(out);
}
END_TEST

START_TEST(test_groups_by_context_and_format) {
    static const char *const sessions[] = { "a", "b", "c", "d", "e" };
    char *out;
    capture_start();
    /* The same format in five sessions: five groups of 12 lines each. */
    for (int i = 0; i < 12; i++)
        for (size_t k = 0; k < ELEMENTSOF(sessions); k++)
            log_full(LOG_INFO, 0, &(struct log_context){ .session = sessions[k] }, "started");
    /* Two formats without context: independent groups. */
    for (int i = 0; i < 15; i++) {
        log_full(LOG_INFO, 0, NULL, "format one %d", i);
        log_full(LOG_INFO, 0, NULL, "format two %d", i);
    }
    out = captured();
    for (size_t k = 0; k < ELEMENTSOF(sessions); k++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "info: session %s: started\n", sessions[k]);
        ck_assert_uint_eq(count_substr(out, needle), 10);
    }
    ck_assert_uint_eq(count_substr(out, "format one"), 10);
    ck_assert_uint_eq(count_substr(out, "format two"), 10);
    ck_assert_uint_eq(count_lines(out), 5 * 10 + 2 * 10);
    free(out);
}
END_TEST

START_TEST(test_unlimited_and_off) {
    char *out;
    capture_start();
    for (int i = 0; i < 40; i++)
        log_full(LOG_ERR, 0, &(struct log_context){ .unlimited = true }, "%s", "config error");
    log_set_ratelimit(0, 10 * SEC, fake_clock);
    for (int i = 0; i < 30; i++)
        log_full(LOG_ERR, 0, NULL, "limiting off");
    out = captured();
    ck_assert_uint_eq(count_substr(out, "error: config error\n"), 40);
    ck_assert_uint_eq(count_substr(out, "error: limiting off\n"), 30);
    ck_assert_uint_eq(count_lines(out), 70);
    free(out);
}
END_TEST

START_TEST(test_filtered_levels_do_not_count) {
    char *out;
    capture_start();
    for (int i = 0; i < 50; i++)
        log_full(LOG_DEBUG, 0, NULL, "shared format");
    for (int i = 0; i < 10; i++)
        log_full(LOG_INFO, 0, NULL, "shared format");
    fake_now += 20 * SEC;
    log_full(LOG_INFO, 0, NULL, "shared format");
    out = captured();
    ck_assert_uint_eq(count_substr(out, "info: shared format\n"), 11);
    ck_assert_uint_eq(count_substr(out, "suppressed"), 0);
    free(out);
}
END_TEST

#define THREADS 8
#define PER_THREAD 200

static void *flood(void *arg) {
    const char *session = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        log_full(LOG_WARNING, 0, NULL, "flood %d", i);
        log_full(LOG_WARNING, 0, &(struct log_context){ .session = session }, "per session");
    }
    return NULL;
}

START_TEST(test_threads_exact_counts) {
    static const char *const names[THREADS] = { "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7" };
    pthread_t th[THREADS];
    char *out, expect[128];
    capture_start();
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, flood, (void *) names[i]), 0);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    fake_now += 10 * SEC;
    log_full(LOG_WARNING, 0, NULL, "flood %d", -1);
    out = captured();
    ck_assert_uint_eq(count_substr(out, "warning: flood "), 11);
    snprintf(expect, sizeof(expect), "warning: suppressed %d messages like \"flood %%d\"\n",
             THREADS * PER_THREAD - 10);
    ck_assert_uint_eq(count_substr(out, expect), 1);
    for (int i = 0; i < THREADS; i++) {
        snprintf(expect, sizeof(expect), "warning: session %s: per session\n", names[i]);
        ck_assert_uint_eq(count_substr(out, expect), 10);
    }
    /* Whole lines only: 11 flood lines, 1 report, 8 x 10 session lines. */
    ck_assert_uint_eq(count_lines(out), 11 + 1 + THREADS * 10);
    free(out);
}
END_TEST

static Suite *log_suite(void) {
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_line_format);
    tcase_add_test(tc, test_burst_then_report);
    tcase_add_test(tc, test_no_report_without_drops);
    tcase_add_test(tc, test_groups_by_context_and_format);
    tcase_add_test(tc, test_unlimited_and_off);
    tcase_add_test(tc, test_filtered_levels_do_not_count);
    tcase_add_test(tc, test_threads_exact_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(log_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

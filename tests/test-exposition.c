/* test-exposition.c — tests for daemon/supervisor/exposition.c: how the
 * supervisor checks the metrics texts workers publish (every rule, with
 * the exact reason and line), takes them from sealed memory files only,
 * and merges the texts of several sessions into one exposition. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exposition.h"
#include "testutil.h"

static struct exposition *text(const char *s) {
    struct exposition *e = exposition_from_text(s, strlen(s));
    ck_assert_ptr_nonnull(e);
    return e;
}

static void assert_refused(const char *s, const char *why) {
    struct exposition *e = text(s);
    const char *err = NULL;

    ck_assert_int_eq(exposition_parse(e, &err), -EBADMSG);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err, why);
    /* The result is kept: the second call answers the same. */
    err = NULL;
    ck_assert_int_eq(exposition_parse(e, &err), -EBADMSG);
    ck_assert_str_eq(err, why);
    exposition_unref(e);
}

START_TEST(test_valid) {
    struct exposition *e = text("# a comment\n"
                                "\n"
                                "# HELP a_total Events.\n"
                                "# TYPE a_total counter\n"
                                "a_total{comm=\"x\\\"y\\\\z\\n\xc3\xa9\",ok=\"true\"} 3\n"
                                "a_total{comm=\"b\",} 1e3\n"
                                "# TYPE h histogram\n"
                                "h_bucket{le=\"0.5\"} 1\n"
                                "h_bucket{le=\"+Inf\"} 2\n"
                                "h_sum 1.5\n"
                                "h_count 2\n"
                                "g{} -Inf\n"
                                "g2\t+Inf\n"
                                "g3 NaN\n"
                                "ophost_metrics_series{metric=\"a_total\"} 2\n"
                                "# TYPE s summary\n"
                                "s{quantile=\"0.5\"} .5\n"
                                "s_sum 1\n"
                                "s_count 2\n");
    const char *err = NULL;

    ck_assert_int_eq(exposition_parse(e, &err), 0);
    ck_assert_uint_eq(exposition_families(e), 7);
    ck_assert_uint_eq(exposition_samples(e), 13);
    exposition_unref(e);
    e = text("");
    ck_assert_int_eq(exposition_parse(e, &err), 0);
    ck_assert_uint_eq(exposition_families(e), 0);
    exposition_unref(e);
}
END_TEST

START_TEST(test_refused) {
    assert_refused("a 1", "line 1: the text does not end with a newline");
    assert_refused("a 1\nb 2", "line 2: the text does not end with a newline");
    assert_refused("a-b 1\n", "line 1: expected a blank and the value after 'a'");
    assert_refused("{a=\"b\"} 1\n", "line 1: expected a sample (NAME{LABELS} VALUE), a HELP/TYPE "
                                   "line or a comment");
    assert_refused("# HELP 9a x\n", "line 1: invalid metric name '9a'");
    assert_refused("# HELP a x\\y\n", "line 1: a HELP text may only escape \\\\ and \\n");
    assert_refused("# HELP a \xff\n", "line 1: the HELP text is not valid UTF-8");
    assert_refused("# HELP a x\n# HELP a y\n", "line 2: a second HELP line for 'a'");
    assert_refused("# TYPE a gauge\n# TYPE a gauge\n", "line 2: a second TYPE line for 'a'");
    assert_refused("# TYPE a meter\n", "line 1: TYPE 'meter' of 'a' is not counter, gauge, "
                                       "histogram, summary or untyped");
    assert_refused("a 1\nb 1\na{x=\"1\"} 2\n", "line 3: family 'a' shows up again after another "
                                                "family (a family's lines must be together)");
    assert_refused("a 1\n# TYPE a gauge\n", "line 2: a HELP or TYPE line of 'a' after its samples");
    assert_refused("a{session=\"x\"} 1\n", "line 1: label 'session' is the daemon's (it adds the "
                                           "session's name)");
    assert_refused("a{__name__=\"x\"} 1\n", "line 1: label '__name__': names starting with '__' "
                                            "are Prometheus' own");
    assert_refused("a{x=\"1\",x=\"2\"} 1\n", "line 1: label 'x' twice in one sample");
    assert_refused("a{9=\"1\"} 1\n", "line 1: invalid label name at column 3");
    assert_refused("a{x=1} 1\n", "line 1: label 'x': expected =\"VALUE\"");
    assert_refused("a{x=\"\\t\"} 1\n", "line 1: label 'x': a value may only escape \\\\, \\\" "
                                       "and \\n");
    assert_refused("a{x=\"1} 1\n", "line 1: label 'x': unterminated value");
    assert_refused("a{x=\"\xc0\xaf\"} 1\n", "line 1: label 'x': the value is not valid UTF-8");
    assert_refused("a{x=\"1\" y=\"2\"} 1\n", "line 1: expected ',' or '}' at column 8");
    assert_refused("a{x=\"1\"\n", "line 1: unterminated label set");
    assert_refused("a 1.2.3\n", "line 1: '1.2.3' is not a sample value (a decimal number, +Inf, "
                                "-Inf or NaN)");
    assert_refused("a 0x10\n", "line 1: '0x10' is not a sample value (a decimal number, +Inf, "
                               "-Inf or NaN)");
    assert_refused("a inf\n", "line 1: 'inf' is not a sample value (a decimal number, +Inf, -Inf "
                              "or NaN)");
    assert_refused("a 1e\n", "line 1: '1e' is not a sample value (a decimal number, +Inf, -Inf "
                             "or NaN)");
    assert_refused("a 1 1700000000000\n", "line 1: samples with timestamps are not supported");
    assert_refused("# TYPE h histogram\nh_bucket 1\n", "line 2: histogram bucket 'h_bucket' "
                                                       "without an 'le' label");
    assert_refused("a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 2\n",
                   "line 3: series 'a{x=\"1\"}' twice");
    assert_refused("a 1\na{} 2\n", "line 2: series 'a' twice");
    assert_refused("ophost_sessions 1\n", "line 1: family 'ophost_sessions': names starting with "
                                          "'ophost_' are the daemon's own (but 'ophost_metrics_')");
}
END_TEST

/* Two sessions: families merged by name in name order, the session label
 * first in each sample, HELP from the first session that has one, a type
 * conflict skipped and counted. */
START_TEST(test_merge) {
    struct exposition *a = text("# HELP x_total X.\n# TYPE x_total counter\n"
                                "x_total{comm=\"a\"} 1\n"
                                "# TYPE g gauge\ng 5\n"
                                "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n"
                                "u{} 7\n");
    struct exposition *b = text("# TYPE x_total counter\nx_total{comm=\"b\",} 2\nx_total 3\n"
                                "# HELP g Not a gauge here.\n# TYPE g counter\ng 9\n"
                                "# HELP b_first B.\n# TYPE b_first gauge\nb_first 0\n");
    struct expo_source src[] = { { .session = "alpha", .text = a }, { .session = "b.2", .text = b } };
    struct expo_buf out = { 0 };

    ck_assert_int_eq(exposition_parse(a, NULL), 0);
    ck_assert_int_eq(exposition_parse(b, NULL), 0);
    ck_assert_int_eq(exposition_merge(&out, src, 2), 0);
    expo_buf_put(&out, "", 1);
    ck_assert_str_eq(out.data,
                     "# HELP b_first B.\n# TYPE b_first gauge\nb_first{session=\"b.2\"} 0\n"
                     "# TYPE g gauge\ng{session=\"alpha\"} 5\n"
                     "# TYPE h histogram\n"
                     "h_bucket{session=\"alpha\",le=\"+Inf\"} 1\n"
                     "h_sum{session=\"alpha\"} 2\nh_count{session=\"alpha\"} 1\n"
                     "u{session=\"alpha\"} 7\n"
                     "# HELP x_total X.\n# TYPE x_total counter\n"
                     "x_total{session=\"alpha\",comm=\"a\"} 1\n"
                     "x_total{session=\"b.2\",comm=\"b\",} 2\n"
                     "x_total{session=\"b.2\"} 3\n");
    ck_assert_uint_eq(src[0].skipped, 0);
    ck_assert_uint_eq(src[1].skipped, 1); /* g: a counter where alpha has a gauge */
    ck_assert(exposition_first_report(a));
    ck_assert(!exposition_first_report(a));
    expo_buf_free(&out);
    ck_assert_int_eq(exposition_merge(&out, src, 0), 0);
    ck_assert_uint_eq(out.len, 0);
    exposition_unref(a);
    exposition_unref(b);
}
END_TEST

static int memfd_with(const char *s, unsigned seals) {
    int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t) strlen(s));
    if (seals)
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
    return fd;
}

/* Only a memfd sealed against writing, shrinking and growing is taken: a
 * text must not change while a scrape reads it. */
START_TEST(test_from_fd) {
    const unsigned all = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
    struct exposition *e = NULL;
    char *err = NULL;
    int fd;

    fd = memfd_with("a 1\n", 0);
    ck_assert_int_eq(exposition_from_fd(fd, &e, &err), -EBADMSG);
    ck_assert_str_eq(err, "a metrics text that is not a sealed memory file");
    free(err);
    err = NULL;
    close(fd);
    fd = memfd_with("a 1\n", F_SEAL_SHRINK | F_SEAL_GROW);
    ck_assert_int_eq(exposition_from_fd(fd, &e, &err), -EBADMSG);
    free(err);
    err = NULL;
    close(fd);
    fd = memfd_with("a 1\n", all);
    ck_assert_int_eq(exposition_from_fd(fd, &e, &err), 0);
    close(fd);
    ck_assert_int_eq(exposition_parse(e, NULL), 0);
    ck_assert_uint_eq(exposition_samples(e), 1);
    ck_assert_ptr_eq(exposition_ref(e), e);
    exposition_unref(e);
    exposition_unref(e);
    fd = memfd_with("", all);
    ck_assert_int_eq(exposition_from_fd(fd, &e, &err), 0);
    close(fd);
    ck_assert_int_eq(exposition_parse(e, NULL), 0);
    exposition_unref(e);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(exposition_from_fd(fd, &e, &err), -EBADMSG);
    free(err);
    close(fd);
}
END_TEST

int main(void) {
    return tu_run_tests("exposition", 0, (const TTest *const[]){
        test_valid,
        test_refused,
        test_merge,
        test_from_fd,
        NULL,
    });
}

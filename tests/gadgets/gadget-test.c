/* gadget-test.c — see gadget-test.h. */
#include "gadget-test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

const char *const *gt_plugins;
static const char *probe_yaml;

void gt_start(struct harness *h, const char *yaml) {
    char *err = NULL;
    int r = harness_start(h, yaml, &err);

    ck_assert_msg(r == 0, "start: %s", err ? err : strerror(-r));
}

void gt_stop(struct harness *h) {
    char *err = NULL;
    int r = harness_stop(h, &err);

    ck_assert_msg(r == 0, "session failed: %s", err ? err : strerror(-r));
    free(err);
}

/* The first line of out at or after from containing every needle, or NULL;
 * *ret_end is its end. */
static const char *find_line(const char *out, const char *const *needles, const char **ret_end) {
    for (const char *line = out; *line;) {
        const char *end = strchr(line, '\n');
        bool all = true;
        if (!end)
            end = line + strlen(line);
        for (size_t i = 0; all && needles[i]; i++) {
            const char *hit = strstr(line, needles[i]);
            all = hit && hit + strlen(needles[i]) <= end;
        }
        if (all) {
            *ret_end = end;
            return line;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

bool gt_wait_line(struct harness *h, const char *const *needles, unsigned timeout_ms, char *line,
                  size_t size) {
    for (unsigned waited = 0;; waited += 10) {
        const char *end, *hit;
        /* harness_wait_for locks the output while it looks: wait for the
         * first needle, then look at a stable copy. */
        if (harness_wait_for(h, needles[0], 0)) {
            char *copy = strdup(harness_output(h));
            ck_assert_ptr_nonnull(copy);
            hit = find_line(copy, needles, &end);
            if (hit) {
                ck_assert_uint_lt((size_t) (end - hit), size);
                memcpy(line, hit, (size_t) (end - hit));
                line[end - hit] = '\0';
                free(copy);
                return true;
            }
            free(copy);
        }
        if (waited >= timeout_ms)
            return false;
        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
}

unsigned gt_count_lines(struct harness *h, const char *const *needles) {
    char *copy = strdup(harness_output(h));
    const char *p, *end;
    unsigned n = 0;

    ck_assert_ptr_nonnull(copy);
    for (p = copy; (p = find_line(p, needles, &end)); p = *end ? end + 1 : end)
        n++;
    free(copy);
    return n;
}

bool gt_wait_count(struct harness *h, const char *const *needles, unsigned n,
                   unsigned timeout_ms) {
    for (unsigned waited = 0;; waited += 10) {
        if (gt_count_lines(h, needles) >= n)
            return true;
        if (waited >= timeout_ms)
            return false;
        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
}

uint64_t gt_sum(struct harness *h, const char *const *needles, const char *field) {
    char *copy = strdup(harness_output(h)), line[4096];
    const char *p, *end;
    uint64_t sum = 0;

    ck_assert_ptr_nonnull(copy);
    for (p = copy; (p = find_line(p, needles, &end)); p = *end ? end + 1 : end) {
        ck_assert_uint_lt((size_t) (end - p), sizeof(line));
        memcpy(line, p, (size_t) (end - p));
        line[end - p] = '\0';
        sum += gt_field_u64(line, field);
    }
    free(copy);
    return sum;
}

uint64_t gt_wait_sum(struct harness *h, const char *const *needles, const char *field,
                     uint64_t want, unsigned timeout_ms) {
    for (unsigned waited = 0;; waited += 10) {
        uint64_t sum = gt_sum(h, needles, field);
        if (sum >= want || waited >= timeout_ms)
            return sum;
        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
}

const char *gt_field(const char *line, const char *name, char *buf, size_t size) {
    char key[80];
    const char *p, *end;

    snprintf(key, sizeof(key), " %s=", name);
    p = strstr(line, key);
    if (!p && strncmp(line, key + 1, strlen(key + 1)) == 0)
        p = line - 1;
    ck_assert_msg(p, "no field '%s' in '%s'", name, line);
    p += strlen(key);
    if (*p == '"') {
        p++;
        end = strchr(p, '"');
    } else {
        end = strchr(p, ' ');
    }
    if (!end)
        end = p + strlen(p);
    ck_assert_uint_lt((size_t) (end - p), size);
    memcpy(buf, p, (size_t) (end - p));
    buf[end - p] = '\0';
    return buf;
}

uint64_t gt_field_u64(const char *line, const char *name) {
    char buf[64], *end;
    uint64_t v;

    gt_field(line, name, buf, sizeof(buf));
    v = strtoull(buf, &end, 10);
    ck_assert_msg(*buf && !*end, "field '%s' is '%s', not a number", name, buf);
    return v;
}

void gt_loopback(int family, int port, struct sockaddr_storage *ss, unsigned *ret_len) {
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t) port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *ret_len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t) port);
        in6->sin6_addr = in6addr_loopback;
        *ret_len = sizeof(*in6);
    }
}

int gt_port_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &ss, &len), 0);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                         : ((struct sockaddr_in6 *) &ss)->sin6_port);
}

int gt_tcp_bound(int family, int backlog) {
    struct sockaddr_storage ss;
    unsigned len;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    gt_loopback(family, 0, &ss, &len);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &ss, len), 0);
    if (backlog >= 0)
        ck_assert_int_eq(listen(fd, backlog), 0);
    return fd;
}

int gt_tcp_connect(int family, int port) {
    struct sockaddr_storage ss;
    unsigned len;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    gt_loopback(family, port, &ss, &len);
    ck_assert_msg(connect(fd, (struct sockaddr *) &ss, len) == 0, "connect: %s", strerror(errno));
    return fd;
}

START_TEST(test_probe) {
    struct harness *h = harness_new(gt_plugins);

    gt_start(h, probe_yaml);
    gt_stop(h);
    harness_free(h);
}
END_TEST

/* Runs the probe; returns whether it passed, with Check's message in why. */
static bool probe(char *why, size_t size) {
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("probe");
    SRunner *sr;
    TestResult **results;
    bool ok;

    tcase_add_test(tc, test_probe);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_SILENT);
    results = srunner_results(sr);
    ok = srunner_ntests_run(sr) == 1 && tr_rtype(results[0]) == CK_PASS;
    snprintf(why, size, "%s", srunner_ntests_run(sr) == 1 ? tr_msg(results[0]) : "did not run");
    free(results);
    srunner_free(sr);
    return ok;
}

int gt_main(const char *name, const char *const *plugins, const char *yaml, const char *missing,
            const TTest *const *always, const TTest *const *mechanism) {
    char why[1024];
    Suite *s = suite_create(name);
    TCase *tc_always = tcase_create("params"), *tc_mech = tcase_create("mechanism");
    SRunner *sr;
    bool works;
    int failed;

    gt_plugins = plugins;
    probe_yaml = yaml;
    works = probe(why, sizeof(why));
    if (works && missing) {
        works = false;
        snprintf(why, sizeof(why), "%s", missing);
    }
    if (!works)
        printf("SKIP: %s: %s\n", name, why);
    for (size_t i = 0; always && always[i]; i++)
        tcase_add_test(tc_always, always[i]);
    suite_add_tcase(s, tc_always);
    if (works) {
        for (size_t i = 0; mechanism[i]; i++)
            tcase_add_test(tc_mech, mechanism[i]);
        tcase_set_timeout(tc_mech, 120);
        suite_add_tcase(s, tc_mech);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        return EXIT_FAILURE;
    return works ? EXIT_SUCCESS : 77;
}

/*
 * test-top-tcp.c — the top_tcp gadget through the harness: the test sends
 * 100,000 bytes over a loopback connection to itself and 5,000 back; summed
 * over the 200 ms rounds, the client's row has sent 100,000 and received
 * 5,000 and the server's the reverse, both with the test's pid, uid and
 * comm. A child named ttop-child with its own traffic is what the comm
 * filter keeps.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: top_tcp\n  operators:\n    top_tcp: {" params "}\n"
#define UP 100000
#define DOWN 5000

static const char *const plugins[] = { TEST_PLUGIN_DIR "/top_tcp.so", NULL };

static void send_all(int fd, size_t n) {
    char buf[8192];
    memset(buf, 'x', sizeof(buf));
    while (n > 0) {
        ssize_t w = write(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
        ck_assert_int_gt(w, 0);
        n -= (size_t) w;
    }
}

static void recv_all(int fd, size_t n) {
    char buf[8192];
    while (n > 0) {
        ssize_t r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
        ck_assert_int_gt(r, 0);
        n -= (size_t) r;
    }
}

START_TEST(test_bytes) {
    struct harness *h = harness_new(plugins);
    int lfd = gt_tcp_bound(AF_INET, 4), lport = gt_port_of(lfd), c, a, cport;
    char yaml[256], client[128], server[128], task[128], comm[17] = "";
    const char *cn[] = { client, task, NULL }, *sn[] = { server, task, NULL };

    snprintf(yaml, sizeof(yaml), YAML("interval: 200ms, port: %d"), lport);
    gt_start(h, yaml);
    c = gt_tcp_connect(AF_INET, lport);
    a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(a, 0);
    cport = gt_port_of(c);
    send_all(c, UP);
    recv_all(a, UP);
    send_all(a, DOWN);
    recv_all(c, DOWN);
    ck_assert_int_eq(prctl(PR_GET_NAME, comm), 0);
    snprintf(task, sizeof(task), "pid=%d uid=%u comm=\"%s\" family=\"ipv4\" ", (int) getpid(),
             (unsigned) getuid(), comm);
    snprintf(client, sizeof(client), "saddr=\"127.0.0.1\" sport=%d daddr=\"127.0.0.1\" dport=%d ",
             cport, lport);
    snprintf(server, sizeof(server), "saddr=\"127.0.0.1\" sport=%d daddr=\"127.0.0.1\" dport=%d ",
             lport, cport);
    ck_assert_uint_eq(gt_wait_sum(h, cn, "sent", UP, GT_WAIT_MS), UP);
    ck_assert_uint_eq(gt_wait_sum(h, cn, "received", DOWN, GT_WAIT_MS), DOWN);
    ck_assert_uint_eq(gt_wait_sum(h, sn, "received", UP, GT_WAIT_MS), UP);
    ck_assert_uint_eq(gt_wait_sum(h, sn, "sent", DOWN, GT_WAIT_MS), DOWN);
    usleep(300000); /* one more round: nothing else comes */
    gt_stop(h);
    ck_assert_uint_eq(gt_sum(h, cn, "sent"), UP);
    ck_assert_uint_eq(gt_sum(h, cn, "received"), DOWN);
    ck_assert_uint_eq(gt_sum(h, sn, "received"), UP);
    ck_assert_uint_eq(gt_sum(h, sn, "sent"), DOWN);
    close(c);
    close(a);
    close(lfd);
    harness_free(h);
}
END_TEST

/* The comm filter: only the child's bytes. */
START_TEST(test_comm_filter) {
    struct harness *h = harness_new(plugins);
    int lfd = gt_tcp_bound(AF_INET, 4), lport = gt_port_of(lfd), c, a;
    char yaml[256], needle[64];
    const char *child_rows[] = { needle, NULL }, *all[] = { "pid=", NULL };
    pid_t child;

    snprintf(yaml, sizeof(yaml), YAML("interval: 200ms, port: %d, comm: ttop-child"), lport);
    gt_start(h, yaml);
    c = gt_tcp_connect(AF_INET, lport);
    a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(a, 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        prctl(PR_SET_NAME, "ttop-child");
        send_all(c, 1234);
        raise(SIGKILL); /* not _exit: valgrind would leak-check the child */
    }
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    recv_all(a, 1234); /* the test's own receive is not counted */
    snprintf(needle, sizeof(needle), "pid=%d ", (int) child);
    ck_assert_uint_eq(gt_wait_sum(h, child_rows, "sent", 1234, GT_WAIT_MS), 1234);
    usleep(300000);
    gt_stop(h);
    ck_assert_uint_eq(gt_sum(h, all, "sent") + gt_sum(h, all, "received"), 1234);
    close(c);
    close(a);
    close(lfd);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    const struct harness_error_case cases[] = {
        { YAML("interval: 10ms"),
          "test.yaml:4:15: session 't': operator 'top_tcp': param 'interval': '10ms' is below "
          "the minimum 100ms" },
        { YAML("max-entries: 1"),
          "test.yaml:4:15: session 't': operator 'top_tcp': param 'max-entries': '1' is below "
          "the minimum 16" },
    };

    harness_assert_errors(plugins, NULL, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_bytes, test_comm_filter, NULL };

    return gt_main("top_tcp", plugins, YAML("port: 1"), NULL, always, mech);
}

/*
 * test-trace-tcpdrop.c — the trace_tcpdrop gadget through the harness: a
 * connect to a loopback port that is bound but not listening makes the
 * kernel answer with a reset and drop the SYN with reason NO_SOCKET, in
 * tcp_v4_rcv / tcp_v6_rcv. The event has the SYN's exact tuple and flags,
 * the reason by name and number, and the kernel function.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: trace_tcpdrop\n  operators:\n    trace_tcpdrop: {" params "}\n"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_tcpdrop.so", NULL };

static void run(int family) {
    struct harness *h = harness_new(plugins);
    struct sockaddr_storage ss;
    unsigned len;
    char yaml[256], want[512], line[2048], needle[64], loc[128];
    const char *needles[] = { needle, "tcpflags=\"SYN\"", NULL };
    const char *addr = family == AF_INET ? "127.0.0.1" : "::1";
    int lfd = gt_tcp_bound(family, -1), port = gt_port_of(lfd), fd, cport;

    snprintf(yaml, sizeof(yaml), YAML("port: %d"), port);
    gt_start(h, yaml);
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gt_loopback(family, port, &ss, &len);
    ck_assert_int_eq(connect(fd, (struct sockaddr *) &ss, len), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    cport = gt_port_of(fd);
    snprintf(needle, sizeof(needle), " sport=%d ", cport);
    ck_assert_msg(gt_wait_line(h, needles, GT_WAIT_MS, line, sizeof(line)), "no drop: %s",
                  harness_output(h));
    snprintf(want, sizeof(want),
             "family=\"%s\" saddr=\"%s\" sport=%d daddr=\"%s\" dport=%d netns=%llu "
             "tcpflags=\"SYN\" state=- reason=\"NO_SOCKET\" reason_code=%llu location=",
             family == AF_INET ? "ipv4" : "ipv6", addr, cport, addr, port,
             (unsigned long long) gt_field_u64(line, "netns"),
             (unsigned long long) gt_field_u64(line, "reason_code"));
    ck_assert_msg(strncmp(strstr(line, "family="), want, strlen(want)) == 0, "got %s\nwant %s",
                  line, want);
    gt_field(line, "location", loc, sizeof(loc));
    ck_assert_msg(strncmp(loc, family == AF_INET ? "tcp_v4_rcv+0x" : "tcp_v6_rcv+0x", 13) == 0,
                  "location %s", loc);
    gt_stop(h);
    /* One drop of the SYN (the reset the client gets is not dropped). */
    ck_assert_uint_eq(gt_count_lines(h, needles), 1);
    close(fd);
    close(lfd);
    harness_free(h);
}

START_TEST(test_no_socket_ipv4) {
    run(AF_INET);
}
END_TEST

START_TEST(test_no_socket_ipv6) {
    run(AF_INET6);
}
END_TEST

START_TEST(test_bad_params) {
    const struct harness_error_case cases[] = {
        { YAML("port: -1"),
          "test.yaml:4:21: session 't': operator 'trace_tcpdrop': param 'port': '-1' is not a "
          "valid unsigned integer" },
    };

    harness_assert_errors(plugins, NULL, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_no_socket_ipv4, test_no_socket_ipv6, NULL };

    return gt_main("trace_tcpdrop", plugins, YAML("port: 1"), NULL, always, mech);
}

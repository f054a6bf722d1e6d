/*
 * test-trace-tcpretrans.c — the trace_tcpretrans gadget through the
 * harness: the test fills the accept queue of its own listener (backlog 0,
 * one connection never accepted), so the listener drops the next SYN and
 * the client retransmits it after the initial RTO (1 s). That retransmit
 * comes out with the exact tuple, state syn-sent and the owner's uid.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: trace_tcpretrans\n  operators:\n    trace_tcpretrans: {" params "}\n"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_tcpretrans.so", NULL };

START_TEST(test_syn_retransmit) {
    struct harness *h = harness_new(plugins);
    struct sockaddr_storage ss;
    unsigned len;
    char yaml[256], want[512], line[2048], needle[64];
    const char *needles[] = { needle, NULL };
    int lfd = gt_tcp_bound(AF_INET, 0), lport = gt_port_of(lfd), first, fd, cport;

    snprintf(yaml, sizeof(yaml), YAML("port: %d"), lport);
    gt_start(h, yaml);
    first = gt_tcp_connect(AF_INET, lport); /* fills the queue (never accepted) */
    usleep(50000);                           /* its handshake is complete */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    gt_loopback(AF_INET, lport, &ss, &len);
    ck_assert_int_eq(connect(fd, (struct sockaddr *) &ss, len), -1);
    ck_assert_int_eq(errno, EINPROGRESS);
    cport = gt_port_of(fd);
    snprintf(needle, sizeof(needle), " sport=%d ", cport);
    ck_assert_msg(gt_wait_line(h, needles, 5000, line, sizeof(line)), "no retransmit: %s",
                  harness_output(h));
    snprintf(want, sizeof(want),
             "family=\"ipv4\" saddr=\"127.0.0.1\" sport=%d daddr=\"127.0.0.1\" dport=%d "
             "netns=%llu state=\"syn-sent\" uid=%u retransmits=%llu error=0",
             cport, lport, (unsigned long long) gt_field_u64(line, "netns"), (unsigned) getuid(),
             (unsigned long long) gt_field_u64(line, "retransmits"));
    ck_assert_str_eq(strstr(line, "family="), want);
    ck_assert_uint_le(gt_field_u64(line, "retransmits"), 1);
    gt_stop(h);
    close(fd);
    close(first);
    close(lfd);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    const struct harness_error_case cases[] = {
        { YAML("family: inet"),
          "test.yaml:4:24: session 't': operator 'trace_tcpretrans': param 'family': 'inet' is "
          "not one of: any, ipv4, ipv6" },
        { YAML("ring-buffer-size: 5000"),
          "operator 'trace_tcpretrans': instantiate failed: param 'ring-buffer-size': 5000 is "
          "not a power of 2" },
    };

    harness_assert_errors(plugins, NULL, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_syn_retransmit, NULL };

    return gt_main("trace_tcpretrans", plugins, YAML("port: 1"), NULL, always, mech);
}

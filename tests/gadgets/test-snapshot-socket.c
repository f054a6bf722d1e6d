/*
 * test-snapshot-socket.c — the snapshot_socket gadget through the harness:
 * the test's own TCP listener, an established loopback pair (both ends),
 * a bound UDP socket and an IPv6 listener appear with the exact tuple,
 * state, uid, inode (fstat of the fd) and the test as owning process; the
 * protocol and family params narrow the listing; the session completes on
 * its own.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: snapshot_socket\n  operators:\n    snapshot_socket: {" params "}\n"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/snapshot_socket.so", NULL };

/* The line of the socket of fd: every field. */
static void expect(struct harness *h, int fd, const char *proto, const char *family,
                   const char *saddr, int sport, const char *daddr, int dport, const char *state) {
    char needle[64], line[2048], want[1024], comm[17] = "";
    const char *needles[] = { needle, NULL };
    struct stat st;

    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(prctl(PR_GET_NAME, comm), 0);
    snprintf(needle, sizeof(needle), " inode=%llu ", (unsigned long long) st.st_ino);
    ck_assert_msg(gt_wait_line(h, needles, 0, line, sizeof(line)), "no socket %s in:\n%s", needle,
                  harness_output(h));
    snprintf(want, sizeof(want),
             "protocol=\"%s\" family=\"%s\" saddr=\"%s\" sport=%d daddr=\"%s\" dport=%d "
             "state=\"%s\" uid=%u inode=%llu pid=%d comm=\"%s\" netns=%llu",
             proto, family, saddr, sport, daddr, dport, state, (unsigned) getuid(),
             (unsigned long long) st.st_ino, (int) getpid(), comm,
             (unsigned long long) gt_field_u64(line, "netns"));
    ck_assert_str_eq(line, want);
    ck_assert_uint_eq(gt_count_lines(h, needles), 1);
}

START_TEST(test_listing) {
    struct harness *h = harness_new(plugins);
    int lfd = gt_tcp_bound(AF_INET, 4), lport = gt_port_of(lfd);
    int l6 = gt_tcp_bound(AF_INET6, 4), l6port = gt_port_of(l6);
    int c = gt_tcp_connect(AF_INET, lport), a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), uport;
    struct sockaddr_storage ss;
    unsigned len;
    char *err = NULL;
    struct stat st;

    ck_assert_int_ge(a, 0);
    gt_loopback(AF_INET, 0, &ss, &len);
    ck_assert_int_eq(bind(u, (struct sockaddr *) &ss, len), 0);
    uport = gt_port_of(u);
    ck_assert_msg(harness_run(h, YAML(""), NULL, NULL, &err) == 0, "%s", err);
    expect(h, lfd, "tcp", "ipv4", "127.0.0.1", lport, "0.0.0.0", 0, "listen");
    expect(h, l6, "tcp", "ipv6", "::1", l6port, "::", 0, "listen");
    expect(h, c, "tcp", "ipv4", "127.0.0.1", gt_port_of(c), "127.0.0.1", lport, "established");
    expect(h, a, "tcp", "ipv4", "127.0.0.1", lport, "127.0.0.1", gt_port_of(c), "established");
    expect(h, u, "udp", "ipv4", "127.0.0.1", uport, "0.0.0.0", 0, "close");

    /* protocol: udp, family: ipv4 — only IPv4 UDP sockets. */
    ck_assert_msg(harness_run(h, YAML("protocol: udp, family: ipv4"), NULL, NULL, &err) == 0, "%s",
                  err);
    {
        const char *tcp[] = { "protocol=\"tcp\"", NULL }, *v6[] = { "family=\"ipv6\"", NULL };
        ck_assert_uint_eq(gt_count_lines(h, tcp), 0);
        ck_assert_uint_eq(gt_count_lines(h, v6), 0);
    }
    expect(h, u, "udp", "ipv4", "127.0.0.1", uport, "0.0.0.0", 0, "close");

    /* processes: false leaves pid and comm unset. */
    ck_assert_msg(harness_run(h, YAML("processes: false, protocol: udp"), NULL, NULL, &err) == 0,
                  "%s", err);
    {
        char needle[64];
        const char *n[] = { needle, " pid=0 comm=- ", NULL };
        ck_assert_int_eq(fstat(u, &st), 0);
        snprintf(needle, sizeof(needle), " inode=%llu ", (unsigned long long) st.st_ino);
        ck_assert_uint_eq(gt_count_lines(h, n), 1);
    }
    close(u);
    close(a);
    close(c);
    close(l6);
    close(lfd);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails_with(h, YAML("protocol: sctp"), NULL, NULL, 0,
                              "param 'protocol': 'sctp' is not one of: all, tcp, udp");
    harness_free(h);
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_listing, NULL };

    return gt_main("snapshot_socket", plugins, YAML("protocol: tcp"), NULL, always, mech);
}

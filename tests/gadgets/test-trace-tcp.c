/*
 * test-trace-tcp.c — the trace_tcp gadget through the harness: the test
 * connects to its own listener on loopback (IPv4 and IPv6), accepts and
 * closes both ends; the connect, accept and both closes come out with the
 * exact tuple, states and process (none for the accept, which completes in
 * softirq context). The port filter keeps each test to its own listener;
 * the comm filter keeps a child's connection only; all-states adds the
 * other transitions.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: trace_tcp\n  operators:\n    trace_tcp: {" params "}\n"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_tcp.so", NULL };

/* The session on port with more params (a static buffer). */
static char *yaml(int port, const char *more) {
    static char buf[512];
    snprintf(buf, sizeof(buf), YAML("port: %d%s"), port, more);
    return buf;
}

struct conn {
    int family;
    const char *addr;
    int lfd, cfd, afd;
    int lport, cport;
};

static void listen_on(struct conn *c, int family) {
    c->family = family;
    c->addr = family == AF_INET ? "127.0.0.1" : "::1";
    c->lfd = gt_tcp_bound(family, 8);
    c->lport = gt_port_of(c->lfd);
}

static void connect_accept(struct conn *c) {
    c->cfd = gt_tcp_connect(c->family, c->lport);
    c->cport = gt_port_of(c->cfd);
    c->afd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(c->afd, 0);
}

/* The line of an event of type from sport to dport, without its timestamp
 * and start_time/exec_id (checked here: set with a process, else 0). */
static void expect(struct harness *h, const char *type, const struct conn *c, int sport,
                   int dport, const char *oldstate, const char *newstate, pid_t pid,
                   const char *comm) {
    char needle[128], kind[64], line[2048], want[1024], task[256];
    const char *needles[] = { needle, kind, NULL };
    uint64_t start, id;

    snprintf(needle, sizeof(needle), "sport=%d daddr=\"%s\" dport=%d netns=", sport, c->addr,
             dport);
    snprintf(kind, sizeof(kind), "type=\"%s\"", type);
    ck_assert_msg(gt_wait_line(h, needles, GT_WAIT_MS, line, sizeof(line)),
                  "no %s event '%s' in:\n%s", type, needle, harness_output(h));
    start = gt_field_u64(line, "start_time");
    id = gt_field_u64(line, "exec_id");
    if (pid) {
        char mycomm[17] = "";
        ck_assert_int_eq(prctl(PR_GET_NAME, mycomm), 0);
        ck_assert_uint_gt(start, 0);
        ck_assert_uint_gt(id, 0);
        snprintf(task, sizeof(task), "pid=%d tid=%d uid=%u gid=%u comm=\"%s\" start_time=%llu "
                 "exec_id=%llu", (int) pid, (int) pid, (unsigned) getuid(), (unsigned) getgid(),
                 comm ? comm : mycomm, (unsigned long long) start, (unsigned long long) id);
    } else {
        snprintf(task, sizeof(task), "pid=0 tid=0 uid=0 gid=0 comm=- start_time=0 exec_id=0");
    }
    snprintf(want, sizeof(want),
             "type=\"%s\" %s family=\"%s\" saddr=\"%s\" sport=%d daddr=\"%s\" dport=%d "
             "netns=%llu oldstate=\"%s\" newstate=\"%s\"",
             type, task, c->family == AF_INET ? "ipv4" : "ipv6", c->addr, sport, c->addr, dport,
             (unsigned long long) gt_field_u64(line, "netns"), oldstate, newstate);
    ck_assert_str_eq(strstr(line, "type="), want);
}

static void run_family(int family) {
    struct harness *h = harness_new(plugins);
    struct conn c;
    char netns[64], want_ns[128];

    listen_on(&c, family);
    gt_start(h, yaml(c.lport, ""));
    connect_accept(&c);
    expect(h, "connect", &c, c.cport, c.lport, "syn-sent", "established", getpid(), NULL);
    expect(h, "accept", &c, c.lport, c.cport, "syn-recv", "established", 0, NULL);
    close(c.cfd); /* active close: FIN_WAIT1 */
    expect(h, "close", &c, c.cport, c.lport, "established", "fin-wait-1", getpid(), NULL);
    {
        char b;
        ck_assert_int_eq(read(c.afd, &b, 1), 0); /* the FIN arrived: CLOSE_WAIT */
    }
    close(c.afd); /* passive close: LAST_ACK */
    expect(h, "close", &c, c.lport, c.cport, "close-wait", "last-ack", getpid(), NULL);
    gt_stop(h);
    /* Four events and nothing else on this port; all in our netns. */
    ck_assert_str_eq(harness_values(h, "type"),
                     "\"connect\" \"accept\" \"close\" \"close\"");
    snprintf(netns, sizeof(netns), "%s", harness_values(h, "netns"));
    {
        struct stat st;
        ck_assert_int_eq(stat("/proc/self/ns/net", &st), 0);
        snprintf(want_ns, sizeof(want_ns), "%llu %llu %llu %llu", (unsigned long long) st.st_ino,
                 (unsigned long long) st.st_ino, (unsigned long long) st.st_ino,
                 (unsigned long long) st.st_ino);
    }
    ck_assert_str_eq(netns, want_ns);
    close(c.lfd);
    harness_free(h);
}

START_TEST(test_ipv4) {
    run_family(AF_INET);
}
END_TEST

START_TEST(test_ipv6) {
    run_family(AF_INET6);
}
END_TEST

/* comm filter: a child named tcp-client connects and closes; the test's
 * own connection on the same port and the (process-less) accepts are not
 * reported. family: ipv6 drops an IPv4 connection. */
START_TEST(test_filters) {
    struct harness *h = harness_new(plugins);
    struct conn c, own;
    pid_t child;
    int fds[2];

    listen_on(&c, AF_INET);
    gt_start(h, yaml(c.lport, ", comm: tcp-client"));
    ck_assert_int_eq(pipe(fds), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        prctl(PR_SET_NAME, "tcp-client");
        connect_accept(&c);
        close(c.cfd);
        (void) !write(fds[1], &c.cport, sizeof(c.cport));
        raise(SIGKILL); /* not _exit: valgrind would leak-check the child */
    }
    ck_assert_int_eq(read(fds[0], &c.cport, sizeof(c.cport)), sizeof(c.cport));
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    own = c;
    connect_accept(&own);
    close(own.cfd);
    expect(h, "close", &c, c.cport, c.lport, "established", "fin-wait-1", child, "tcp-client");
    expect(h, "connect", &c, c.cport, c.lport, "syn-sent", "established", child, "tcp-client");
    {
        const char *closes[] = { "type=\"close\"", NULL };
        ck_assert(gt_wait_count(h, closes, 2, GT_WAIT_MS));
    }
    gt_stop(h);
    /* Its connect, its close, and the close of the end it accepted, at its
     * exit (in its context too). */
    ck_assert_msg(strcmp(harness_values(h, "type"), "\"connect\" \"close\" \"close\"") == 0, "%s",
                  harness_output(h));

    gt_start(h, yaml(c.lport, ", family: ipv6"));
    connect_accept(&own);
    close(own.cfd);
    close(own.afd);
    gt_stop(h);
    ck_assert_str_eq(harness_output(h), "");
    close(c.lfd);
    harness_free(h);
}
END_TEST

/* all-states adds the other transitions: the listener's listen ->
 * syn-recv, the server's established -> close-wait, the client's
 * fin-wait-1 -> fin-wait-2, ... (without a process: softirq context). */
START_TEST(test_all_states) {
    struct harness *h = harness_new(plugins);
    struct conn c;
    char line[2048];
    const char *fin2[] = { "type=\"other\" pid=0 ", "oldstate=\"fin-wait-1\" newstate=\"fin-wait-2\"",
                           NULL };
    const char *synrecv[] = { "type=\"other\" pid=0 ", "oldstate=\"listen\" newstate=\"syn-recv\"",
                              NULL };
    const char *closewait[] = { "type=\"other\" pid=0 ",
                                "oldstate=\"established\" newstate=\"close-wait\"", NULL };
    const char *conn[] = { "type=\"connect\"", NULL };

    listen_on(&c, AF_INET);
    gt_start(h, yaml(c.lport, ", all-states: true"));
    connect_accept(&c);
    close(c.cfd);
    close(c.afd);
    ck_assert_msg(gt_wait_line(h, fin2, GT_WAIT_MS, line, sizeof(line)), "%s", harness_output(h));
    gt_stop(h);
    ck_assert_uint_eq(gt_count_lines(h, fin2), 1);
    ck_assert_uint_eq(gt_count_lines(h, synrecv), 1);
    ck_assert_uint_eq(gt_count_lines(h, closewait), 1);
    ck_assert_uint_eq(gt_count_lines(h, conn), 1);
    close(c.lfd);
    harness_free(h);
}
END_TEST

/* A refused connect: syn-sent -> close, still with the connecting process. */
START_TEST(test_refused) {
    struct harness *h = harness_new(plugins);
    struct conn c = { .family = AF_INET, .addr = "127.0.0.1" };
    struct sockaddr_storage ss;
    unsigned len;
    int fd;

    /* A port that is bound but not listening: connecting is refused. */
    c.lfd = gt_tcp_bound(AF_INET, -1);
    c.lport = gt_port_of(c.lfd);
    gt_start(h, yaml(c.lport, ""));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gt_loopback(AF_INET, c.lport, &ss, &len);
    ck_assert_int_eq(connect(fd, (struct sockaddr *) &ss, len), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    c.cport = gt_port_of(fd);
    expect(h, "connect", &c, c.cport, c.lport, "syn-sent", "close", getpid(), NULL);
    gt_stop(h);
    ck_assert_str_eq(harness_values(h, "type"), "\"connect\"");
    close(fd);
    close(c.lfd);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    const struct harness_error_case cases[] = {
        { YAML("family: ipx"),
          "test.yaml:4:17: session 't': operator 'trace_tcp': param 'family': 'ipx' is not one "
          "of: any, ipv4, ipv6" },
        { YAML("port: 70000"),
          "test.yaml:4:17: session 't': operator 'trace_tcp': param 'port': '70000' is above "
          "the maximum 65535" },
    };

    harness_assert_errors(plugins, NULL, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_ipv4, test_ipv6, test_filters, test_all_states,
                                  test_refused, NULL };

    return gt_main("trace_tcp", plugins, YAML("port: 1"), NULL, always, mech);
}

/*
 * test-trace-signal.c — the trace_signal gadget through the harness: the
 * test signals its own children (one blocks SIGUSR1, ignores SIGUSR2) with
 * kill, tgkill and sigqueue, and from a child with another uid and comm;
 * each event is checked field by field (sender, target, signal, code,
 * result, group), and the filters (sender pid/uid/comm, signal, target,
 * failed-only) keep exactly the signals they name.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_signal.so", NULL };

#define YAML(params) "t:\n  gadget: trace_signal\n  operators:\n    trace_signal: {" params "}\n"

#define SI_QUEUE_CODE (-1) /* SI_QUEUE */
#define SI_TKILL_CODE (-6) /* SI_TKILL */

/* A child named comm that blocks SIGUSR1, SIGALRM and SIGHUP, ignores
 * SIGUSR2 and waits to be killed. */
static pid_t target(const char *comm) {
    int fds[2];
    char byte;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGALRM);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGUSR2, SIG_IGN);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, comm);
        (void) !write(fds[1], "x", 1);
        for (;;)
            pause();
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &byte, 1), 1);
    close(fds[0]);
    return pid;
}

/* The session with params given at run time (a static buffer). */
static char *yaml(const char *params) {
    static char buf[512];
    snprintf(buf, sizeof(buf), YAML("%s"), params);
    return buf;
}

static void my_comm(char *buf) {
    ck_assert_int_eq(prctl(PR_GET_NAME, buf), 0);
}

/* The event of a signal sig from this thread to tpid: every field. */
static void expect(struct harness *h, pid_t tpid, const char *tcomm, int sig, const char *name,
                   int code, const char *result, bool group, uint64_t t0) {
    char want[512], needle[64], line[2048], comm[17] = "", start[64];
    uint64_t start_ns, now = tu_nsec(CLOCK_REALTIME);
    const char *needles[] = { needle, NULL };
    const char *rest;

    my_comm(comm);
    snprintf(needle, sizeof(needle), " tpid=%d ttid=%d tcomm=\"%s\" signal=%d signal_name=",
             (int) tpid, (int) tpid, tcomm, sig);
    ck_assert_msg(gt_wait_line(h, needles, GT_WAIT_MS, line, sizeof(line)), "no event '%s' in:\n%s",
                  needle, harness_output(h));
    ck_assert_uint_ge(gt_field_u64(line, "timestamp") + 1000000, t0);
    ck_assert_uint_le(gt_field_u64(line, "timestamp"), now + 1000000);
    start_ns = gt_field_u64(line, "start_time");
    ck_assert_uint_le(start_ns, t0);
    ck_assert_uint_gt(gt_field_u64(line, "exec_id"), 0);
    rest = strstr(line, " pid=");
    ck_assert_ptr_nonnull(rest);
    snprintf(start, sizeof(start), " start_time=%llu", (unsigned long long) start_ns);
    snprintf(want, sizeof(want),
             " pid=%d tid=%d uid=%u gid=%u comm=\"%s\"%s exec_id=%llu tpid=%d ttid=%d "
             "tcomm=\"%s\" signal=%d signal_name=\"%s\" code=%d result=\"%s\" group=%s",
             (int) getpid(), (int) syscall(SYS_gettid), (unsigned) getuid(), (unsigned) getgid(),
             comm, start, (unsigned long long) gt_field_u64(line, "exec_id"), (int) tpid,
             (int) tpid, tcomm, sig, name, code, result, group ? "true" : "false");
    ck_assert_str_eq(rest, want);
}

/* kill, a second kill while the first is pending, an ignored signal,
 * tgkill and sigqueue: their codes, results and group flags. */
START_TEST(test_kinds) {
    struct harness *h = harness_new(plugins);
    char params[64];
    uint64_t t0 = tu_nsec(CLOCK_REALTIME);
    pid_t c = target("sig-target");

    snprintf(params, sizeof(params), "pid: %d", (int) getpid());
    gt_start(h, yaml(params));
    ck_assert_int_eq(kill(c, SIGUSR1), 0);
    expect(h, c, "sig-target", SIGUSR1, "SIGUSR1", 0, "delivered", true, t0);
    ck_assert_int_eq(kill(c, SIGUSR1), 0); /* blocked and pending: a standard signal is not queued twice */
    ck_assert_int_eq(kill(c, SIGUSR2), 0); /* ignored */
    ck_assert_int_eq(syscall(SYS_tgkill, c, c, SIGALRM), 0);
    ck_assert_int_eq(sigqueue(c, SIGHUP, (union sigval){ .sival_int = 7 }), 0);
    expect(h, c, "sig-target", SIGUSR2, "SIGUSR2", 0, "ignored", true, t0);
    expect(h, c, "sig-target", SIGALRM, "SIGALRM", SI_TKILL_CODE, "delivered", false, t0);
    expect(h, c, "sig-target", SIGHUP, "SIGHUP", SI_QUEUE_CODE, "delivered", true, t0);
    {
        const char *n1[] = { "signal=10 ", "result=\"already_pending\"", NULL };
        char line[2048];
        ck_assert_msg(gt_wait_line(h, n1, GT_WAIT_MS, line, sizeof(line)), "%s",
                      harness_output(h));
    }
    gt_stop(h);
    /* Exactly the signals sent (the filter keeps this process's only). */
    ck_assert_str_eq(harness_values(h, "signal"), "10 10 12 14 1");
    tu_reap(c);
    harness_free(h);
}
END_TEST

/* signal, target-pid and failed-only filters. */
START_TEST(test_signal_target_failed_filters) {
    struct harness *h = harness_new(plugins);
    char params[128];
    pid_t a = target("sig-a"), b = target("sig-b");

    snprintf(params, sizeof(params), "pid: %d, signal: SIGUSR2, target-pid: %d", (int) getpid(),
             (int) b);
    gt_start(h, yaml(params));
    kill(a, SIGUSR2);
    kill(b, SIGUSR1);
    kill(b, SIGUSR2);
    kill(a, SIGUSR1);
    kill(b, SIGWINCH);
    kill(b, SIGUSR2);
    {
        const char *n[] = { "tcomm=\"sig-b\" signal=12", NULL };
        ck_assert(gt_wait_count(h, n, 2, GT_WAIT_MS));
    }
    gt_stop(h);
    snprintf(params, sizeof(params), "%d %d", (int) b, (int) b);
    ck_assert_str_eq(harness_values(h, "tpid"), params);
    ck_assert_str_eq(harness_values(h, "signal_name"), "\"SIGUSR2\" \"SIGUSR2\"");

    /* failed-only: both SIGUSR1 (one is pending since the part above) and
     * the ignored SIGUSR2, not the delivered SIGALRM. */
    snprintf(params, sizeof(params), "pid: %d, failed-only: true", (int) getpid());
    gt_start(h, yaml(params));
    kill(a, SIGUSR1);
    kill(a, SIGUSR1);
    kill(a, SIGALRM);
    kill(a, SIGUSR2);
    ck_assert(harness_wait_for(h, "result=\"ignored\"", GT_WAIT_MS));
    gt_stop(h);
    ck_assert_str_eq(harness_values(h, "result"), "\"already_pending\" \"already_pending\" \"ignored\"");
    tu_reap(a);
    tu_reap(b);
    harness_free(h);
}
END_TEST

/* uid and comm filters on the sender: a child with uid 65534 named
 * sig-sender signals itself; the test's own signals do not match. */
START_TEST(test_uid_comm_filters) {
    struct harness *h = harness_new(plugins);
    pid_t c = target("sig-other"), s;
    char want[128];

    if (getuid() != 0) {
        tu_reap(c);
        harness_free(h);
        return; /* needs root to change uid; the pid filter is tested above */
    }
    gt_start(h, YAML("uid: 65534, comm: sig-sender"));
    kill(c, SIGUSR2);
    s = fork();
    ck_assert_int_ge(s, 0);
    if (s == 0) {
        prctl(PR_SET_NAME, "sig-sender");
        signal(SIGUSR2, SIG_IGN);
        if (setgid(65534) == 0 && setuid(65534) == 0)
            kill(getpid(), SIGUSR2);
        raise(SIGKILL); /* not _exit: valgrind would leak-check the child */
    }
    ck_assert_int_eq(waitpid(s, NULL, 0), s);
    snprintf(want, sizeof(want), " pid=%d tid=%d uid=65534 gid=65534 comm=\"sig-sender\"",
             (int) s, (int) s);
    ck_assert_msg(harness_wait_for(h, want, GT_WAIT_MS), "%s", harness_output(h));
    ck_assert_msg(harness_wait_for(h, "signal_name=\"SIGCHLD\"", GT_WAIT_MS), "%s",
                  harness_output(h));
    gt_stop(h);
    /* Its own signals and nothing else: SIGUSR2, the SIGKILL it raises and
     * the SIGCHLD its exit sends to the test. */
    ck_assert_str_eq(harness_values(h, "signal_name"), "\"SIGUSR2\" \"SIGKILL\" \"SIGCHLD\"");
    tu_reap(c);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    const struct harness_error_case cases[] = {
        { YAML("signal: SIGFOO"),
          "operator 'trace_signal': instantiate failed: param 'signal': 'SIGFOO' is not a signal "
          "(a number from 1 to 64, or a name such as USR1 or SIGUSR1)" },
        { YAML("comm: a-very-long-command-name"),
          "operator 'trace_signal': instantiate failed: param 'comm': "
          "'a-very-long-command-name' is longer than the kernel's 15-byte command names, so it "
          "would never match" },
    };

    harness_assert_errors(plugins, NULL, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_kinds, test_signal_target_failed_filters,
                                  test_uid_comm_filters, NULL };

    return gt_main("trace_signal", plugins, YAML("signal: 64"), NULL, always, mech);
}

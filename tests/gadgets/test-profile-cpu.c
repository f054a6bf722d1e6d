/*
 * test-profile-cpu.c — the profile_cpu gadget through the harness: the test
 * runs a copy of itself (exec'd, so that it runs natively even when the
 * test runs under valgrind) that spins in ophost_test_busy_loop for a
 * second and stays alive until the session stopped; at 99 Hz with 200 ms rounds the profile of that process (the pid
 * filter) finds the function by name in most of its samples, with the
 * process's comm and pid and folded lines flame-graph tools read.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: profile_cpu\n  operators:\n    profile_cpu: {" params "}\n"
#define BUSY_MODE "--busy"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/profile_cpu.so", NULL };

/* Spins until the process has used end ns of CPU (so that the number of
 * samples does not depend on how busy the machine is); not inlined, so it
 * is a frame. */
__attribute__((noinline)) void ophost_test_busy_loop(uint64_t end);
__attribute__((noinline)) void ophost_test_busy_loop(uint64_t end) {
    volatile uint64_t x = 0;
    while (tu_nsec(CLOCK_PROCESS_CPUTIME_ID) < end)
        for (int i = 0; i < 100000; i++)
            x += (uint64_t) i;
}

START_TEST(test_busy_function) {
    struct harness *h = harness_new(plugins);
    char yaml[256], self[4096], needle[64], line[8192], comm[32];
    const char *mine[] = { needle, NULL }, *busy[] = { needle, ";ophost_test_busy_loop", NULL };
    int fds[2], done[2];
    char byte;
    ssize_t n;
    pid_t child;
    uint64_t total, in_busy;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        dup2(fds[0], 0);
        dup2(done[1], 1);
        execl(self, self, BUSY_MODE, (char *) NULL);
        raise(SIGKILL);
    }
    close(fds[0]);
    snprintf(yaml, sizeof(yaml), YAML("frequency: 99, interval: 200ms, pid: %d"), (int) child);
    gt_start(h, yaml);
    ck_assert_int_eq(write(fds[1], "g", 1), 1); /* start spinning */
    snprintf(needle, sizeof(needle), "pid=%d ", (int) child);
    /* About 99 samples in the second it spins. */
    /* The copy spins for one second of CPU time, says so, then waits for
     * the pipe to close: it is alive for the last rounds (frames are named
     * from its maps). */
    ck_assert_int_eq(read(done[0], &byte, 1), 1);
    (void) gt_wait_sum(h, busy, "samples", 60, 2000);
    usleep(400000);
    gt_stop(h);
    close(fds[1]);
    close(done[0]);
    close(done[1]);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    in_busy = gt_sum(h, busy, "samples");
    total = gt_sum(h, mine, "samples");
    ck_assert_msg(in_busy >= 60 && in_busy * 10 >= total * 8,
                  "%llu of %llu samples in ophost_test_busy_loop:\n%s",
                  (unsigned long long) in_busy, (unsigned long long) total, harness_output(h));
    ck_assert(gt_wait_line(h, busy, 0, line, sizeof(line)));
    /* The comm of the exec'd copy: this binary's name, cut to 15 bytes. */
    snprintf(comm, sizeof(comm), "%.15s", strrchr(self, '/') + 1);
    ck_assert_str_eq(gt_field(line, "comm", needle, sizeof(needle)), comm);
    {
        char folded[8192], want[256];
        unsigned long long samples = gt_field_u64(line, "samples");
        gt_field(line, "folded", folded, sizeof(folded));
        snprintf(want, sizeof(want), "%s;", comm);
        ck_assert_msg(strncmp(folded, want, strlen(want)) == 0, "folded %s", folded);
        snprintf(want, sizeof(want), " %llu", samples);
        ck_assert_str_eq(folded + strlen(folded) - strlen(want), want);
        /* main calls it: the caller is in the stack too (frame pointers). */
        ck_assert_msg(strstr(folded, ";main;ophost_test_busy_loop"), "folded %s", folded);
    }
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails_with(h, YAML("frequency: 0"), NULL, NULL, 0,
                              "param 'frequency': '0' is below the minimum 1");
    harness_free(h);
}
END_TEST

int main(int argc, char **argv) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_busy_function, NULL };

    if (argc > 1 && strcmp(argv[1], BUSY_MODE) == 0) {
        char go;
        if (read(0, &go, 1) == 1)
            ophost_test_busy_loop(tu_nsec(CLOCK_PROCESS_CPUTIME_ID) + 1000000000u);
        if (write(1, "d", 1) != 1)
            return 1;
        while (read(0, &go, 1) > 0)
            ;
        return 0;
    }
    return gt_main("profile_cpu", plugins, YAML("frequency: 1"), NULL, always, mech);
}

/* test-snapshot-process.c — the snapshot_process gadget through the
 * harness: children in known states (sleeping with threads, stopped,
 * zombie, another uid) appear exactly once with the right fields, a
 * snapshot larger than one batch is complete, kernel threads can be left
 * out, and the session completes on its own. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/snapshot_process.so", NULL };

enum kind { SLEEPER, THREADED, STOPPED, ZOMBIE, OTHER_UID };

struct child {
    pid_t pid;
    enum kind kind;
    char comm[16];
};

static void *park(void *unused) {
    for (;;)
        pause();
    return NULL;
}

/* Forks a child named comm in the given state; returns once it is there. */
static void spawn(struct child *c, enum kind kind, const char *comm) {
    int fds[2];
    char byte = 0;

    ck_assert_int_eq(pipe(fds), 0);
    c->kind = kind;
    snprintf(c->comm, sizeof(c->comm), "%s", comm);
    c->pid = fork();
    ck_assert_int_ge(c->pid, 0);
    if (c->pid == 0) {
        pthread_t th;
        close(fds[0]);
        prctl(PR_SET_NAME, comm);
        if (kind == THREADED)
            for (int i = 0; i < 2; i++)
                if (pthread_create(&th, NULL, park, NULL) != 0)
                    _exit(1);
        if (kind == OTHER_UID && setresuid(65534, 65534, 65534) < 0)
            _exit(1);
        /* Never outlive a failed test (set after setresuid, which clears it). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        if (kind == ZOMBIE)
            raise(SIGKILL); /* not _exit: valgrind would leak-check the child */
        for (;;)
            pause();
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &byte, 1), 1);
    close(fds[0]);
    if (kind == STOPPED) {
        int status;
        ck_assert_int_eq(kill(c->pid, SIGSTOP), 0);
        ck_assert_int_eq(waitpid(c->pid, &status, WUNTRACED), c->pid);
        ck_assert(WIFSTOPPED(status));
    } else if (kind == ZOMBIE) {
        siginfo_t si;
        /* Waits for the exit without reaping: the child stays a zombie. */
        ck_assert_int_eq(waitid(P_PID, (id_t) c->pid, &si, WEXITED | WNOWAIT), 0);
    }
}

/* The one line of out that starts with "pid=PID "; fails on 0 or 2+. */
static char *line_of(const char *out, pid_t pid) {
    char needle[32];
    const char *found = NULL;
    size_t n = 0;

    snprintf(needle, sizeof(needle), "pid=%d ", (int) pid);
    for (const char *p = out; p && *p;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, needle, strlen(needle)) == 0) {
            found = p;
            n++;
        }
        p = eol ? eol + 1 : NULL;
    }
    ck_assert_msg(n == 1, "pid %d appears %zu times in:\n%s", (int) pid, n, out);
    return strndup(found, (size_t) (strchr(found, '\n') - found));
}

START_TEST(test_children) {
    struct harness *h = harness_new(plugins);
    struct child c[5];
    enum kind kinds[] = { SLEEPER, THREADED, STOPPED, ZOMBIE, OTHER_UID };
    size_t n = getuid() == 0 ? 5 : 4; /* only root can make a child of another uid */
    uint64_t t0 = tu_nsec(CLOCK_REALTIME), t1;
    char *err = NULL;

    for (size_t i = 0; i < n; i++) {
        char comm[16];
        snprintf(comm, sizeof(comm), "ophsnap-%zu", i);
        spawn(&c[i], kinds[i], comm);
    }
    t1 = tu_nsec(CLOCK_REALTIME);
    ck_assert_int_eq(harness_run(h, "snap: {gadget: snapshot_process}\n", NULL, NULL, &err), 0);
    for (size_t i = 0; i < n; i++) {
        static const char *const states[] = { "S", "S", "T", "Z", "S" };
        static const unsigned threads[] = { 1, 3, 1, 1, 1 };
        char expect[160], *line = line_of(harness_output(h), c[i].pid), *rest;
        unsigned long long rss, start;

        snprintf(expect, sizeof(expect), "pid=%d ppid=%d uid=%u comm=\"%s\" state=\"%s\" threads=%u rss=",
                 (int) c[i].pid, (int) getpid(), c[i].kind == OTHER_UID ? 65534 : (unsigned) geteuid(),
                 c[i].comm, states[i], threads[i]);
        ck_assert_msg(strncmp(line, expect, strlen(expect)) == 0, "got '%s', want '%s...'", line,
                      expect);
        rest = line + strlen(expect);
        ck_assert_int_eq(sscanf(rest, "%llu start_time=%llu", &rss, &start), 2);
        if (c[i].kind == ZOMBIE)
            ck_assert_uint_eq(rss, 0);
        else
            ck_assert_uint_gt(rss, 0);
        /* btime has a resolution of one second, the start ticks of 1/HZ. */
        ck_assert_uint_ge(start, t0 - 1000000000u);
        ck_assert_uint_le(start, t1 + 1000000000u);
        free(line);
    }
    /* Every event reached the sink; the session completed on its own. */
    ck_assert_int_gt(harness_events_in(h, "capture"), (int64_t) n);
    for (size_t i = 0; i < n; i++)
        tu_reap(c[i].pid);
    harness_free(h);
}
END_TEST

/* More processes than one batch holds (256): every child is there once. */
START_TEST(test_many) {
    enum { N = 300 };
    struct harness *h = harness_new(plugins);
    struct child *c = calloc(N, sizeof(*c));
    const char *out;
    size_t lines = 0;

    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; i < N; i++) {
        char comm[16];
        snprintf(comm, sizeof(comm), "ophmany-%zu", i);
        spawn(&c[i], SLEEPER, comm);
    }
    ck_assert_int_eq(harness_run(h, "snap: {gadget: snapshot_process}\n", NULL, NULL, NULL), 0);
    out = harness_output(h);
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(harness_events_in(h, "capture"), (int64_t) lines);
    ck_assert_uint_gt(lines, N);
    for (size_t i = 0; i < N; i++) {
        char want[48], *line = line_of(out, c[i].pid);
        snprintf(want, sizeof(want), " comm=\"%s\" state=\"S\" ", c[i].comm);
        ck_assert_msg(strstr(line, want), "got '%s', want '%s'", line, want);
        free(line);
        tu_reap(c[i].pid);
    }
    free(c);
    harness_free(h);
}
END_TEST

static bool kthreadd_visible(void) {
    char buf[64] = "";
    FILE *f = fopen("/proc/2/stat", "re");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
    }
    return strncmp(buf, "2 (kthreadd) ", 13) == 0;
}

START_TEST(test_kernel_threads) {
    struct harness *h = harness_new(plugins);
    struct child c;
    char *line;

    spawn(&c, SLEEPER, "ophsnap-k");
    if (kthreadd_visible()) {
        ck_assert_int_eq(harness_run(h, "snap: {gadget: snapshot_process}\n", NULL, NULL, NULL), 0);
        line = line_of(harness_output(h), 2);
        ck_assert_msg(strncmp(line, "pid=2 ppid=0 uid=0 comm=\"kthreadd\" ", 35) == 0, "%s", line);
        free(line);
    } else {
        printf("kthreadd is not visible in this pid namespace: only checking the filter\n");
    }
    ck_assert_int_eq(harness_run(h,
                                 "snap:\n"
                                 "  gadget: snapshot_process\n"
                                 "  operators:\n"
                                 "    snapshot_process: {kernel-threads: false}\n",
                                 NULL, NULL, NULL),
                     0);
    ck_assert_ptr_null(strstr(harness_output(h), "pid=2 "));
    ck_assert_ptr_null(strstr(harness_output(h), " ppid=2 "));
    free(line_of(harness_output(h), c.pid));
    tu_reap(c.pid);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_param) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails(h,
                         "snap:\n"
                         "  gadget: snapshot_process\n"
                         "  operators:\n"
                         "    snapshot_process: {kernel-threads: maybe}\n",
                         NULL, NULL, -EINVAL,
                         "test.yaml:4:24: session 'snap': operator 'snapshot_process': param "
                         "'kernel-threads': 'maybe' is not a valid bool (true/false, yes/no, "
                         "on/off, 1/0)");
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("snapshot-process", 120, (const TTest *const[]){
        test_children,
        test_many,
        test_kernel_threads,
        test_bad_param,
        NULL,
    });
}

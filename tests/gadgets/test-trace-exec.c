/*
 * test-trace-exec.c — the trace_exec gadget, run through the harness with
 * each mechanism while the test itself execs known programs: this binary
 * in a "child" mode (it waits on a pipe until the test has seen its event,
 * so /proc can still be read) and /bin/true. Every exec carries a unique
 * argument; the captured lines are picked out by the children's pids and
 * compared in full (all fields but the timestamp, which is range-checked).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

#define CHILD_MODE "--te-child"
#define WAIT_MS 20000
#define BUF (PATH_MAX + 4096) /* room for a path and then some */

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_exec.so", NULL };

static char self_path[PATH_MAX]; /* a copy of this binary that uid 65534 can exec */
static char self_dir[PATH_MAX - 64]; /* the directory of the copy */
static char true_path[PATH_MAX]; /* /bin/true, resolved (what /proc/PID/exe says) */
static char token[64];           /* unique to this run */
static unsigned long long self_mntns;
static bool have_ebpf, have_proc;
static bool cur_ebpf;                /* the running session uses eBPF */
static unsigned long long exec_id;   /* what eBPF says of our children (0: not seen yet) */
static char ebpf_why[1024], proc_why[1024];

struct child {
    pid_t pid;
    int hold_fd; /* write end of the child's stdin; closing it lets it exit */
    char args[512];
    uid_t uid;
    gid_t gid;
};

/* Starts argv[0] with argv as a child whose stdin is a pipe we hold; with
 * drop, as uid/gid 65534 (when root). */
static void spawn(struct child *c, char *const argv[], bool drop) {
    int p[2];
    size_t len = 0;

    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    c->uid = getuid();
    c->gid = getgid();
    if (drop && geteuid() == 0)
        c->uid = c->gid = 65534;
    c->args[0] = '\0';
    for (size_t i = 0; argv[i]; i++)
        len += (size_t) snprintf(c->args + len, sizeof(c->args) - len, "%s%s", i ? " " : "",
                                 argv[i]);
    c->pid = fork();
    ck_assert_int_ge(c->pid, 0);
    if (c->pid == 0) {
        if (dup2(p[0], 0) < 0)
            _exit(126);
        if (c->uid != getuid() && (setgid(c->gid) < 0 || setuid(c->uid) < 0))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[0]);
    c->hold_fd = p[1];
}

static void spawn_self(struct child *c, const char *arg, bool drop) {
    char *argv[] = { self_path, (char *) CHILD_MODE, (char *) arg, NULL };
    spawn(c, argv, drop);
}

static void spawn_true(struct child *c, const char *arg) {
    char *argv[] = { (char *) "/bin/true", (char *) arg, NULL };
    spawn(c, argv, false);
}

static void reap(struct child *c) {
    int status;
    if (c->hold_fd >= 0)
        close(c->hold_fd);
    c->hold_fd = -1;
    ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed: status %d",
                  (int) c->pid, status);
}

/* The one captured line of pid (copied to line); fails on none or several. */
static void line_of(struct harness *h, pid_t pid, char *line, size_t size) {
    char needle[64];
    const char *out = harness_output(h), *hit, *start, *end;

    snprintf(needle, sizeof(needle), " pid=%d ppid=", (int) pid);
    hit = strstr(out, needle);
    ck_assert_msg(hit, "no event of pid %d", (int) pid);
    ck_assert_msg(!strstr(hit + 1, needle), "several events of pid %d", (int) pid);
    for (start = hit; start > out && start[-1] != '\n'; start--)
        ;
    end = strchr(hit, '\n');
    ck_assert_ptr_nonnull(end);
    ck_assert_uint_lt((size_t) (end - start), size);
    memcpy(line, start, (size_t) (end - start));
    line[end - start] = '\0';
}

/* Waits for pid's event, then checks the whole line: the timestamp and the
 * process start lie in [t0, t1] and the rest is exactly what the child was.
 * exec_id is the same for every child of this process (forked from it, one
 * exec each), and unknown (0) with the proc connector. */
static void expect(struct harness *h, const struct child *c, const char *comm,
                   const char *filename, const char *args, uint64_t t0, uint64_t t1) {
    char needle[64], line[BUF], want[BUF];
    unsigned long long ts, start, id;
    int consumed = 0;
    char *tail;

    snprintf(needle, sizeof(needle), " pid=%d ppid=", (int) c->pid);
    ck_assert_msg(harness_wait_for(h, needle, WAIT_MS), "no event of pid %d (%s)",
                  (int) c->pid, args);
    line_of(h, c->pid, line, sizeof(line));
    ck_assert_msg(sscanf(line, "timestamp=%llu%n", &ts, &consumed) == 1, "bad line '%s'", line);
    ck_assert_msg(ts + 5000000000ull >= t0 && ts <= t1 + 5000000000ull,
                  "timestamp %llu not within [%" PRIu64 ", %" PRIu64 "]", ts, t0, t1);
    snprintf(want, sizeof(want),
             " pid=%d ppid=%d uid=%u gid=%u comm=\"%s\" filename=\"%s\" args=\"%s\" mntns=%llu",
             (int) c->pid, (int) getpid(), (unsigned) c->uid, (unsigned) c->gid, comm, filename,
             args, self_mntns);
    tail = strstr(line, " start_time=");
    ck_assert_msg(tail && sscanf(tail, " start_time=%llu exec_id=%llu", &start, &id) == 2,
                  "bad line '%s'", line);
    /* The proc connector reads the start from /proc: clock ticks (10 ms). */
    ck_assert_msg(start + 20000000ull >= t0 && start <= t1 + 20000000ull,
                  "start_time %llu not within [%" PRIu64 ", %" PRIu64 "]", start, t0, t1);
    if (cur_ebpf && exec_id == 0)
        exec_id = id;
    ck_assert_msg(cur_ebpf ? id == exec_id && id > 0 : id == 0, "exec_id %llu, want %llu", id,
                  cur_ebpf ? exec_id : 0);
    *tail = '\0';
    ck_assert_str_eq(line + consumed, want);
}

static char *session_yaml(const char *mechanism, unsigned max_args) {
    static char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "t:\n"
             "  gadget: trace_exec\n"
             "  operators:\n"
             "    trace_exec: {mechanism: %s, max-args-bytes: %u}\n",
             mechanism, max_args);
    return yaml;
}

/* harness_start returns before the gadget is set up: exec markers until
 * one is seen, so that later execs are certainly traced. */
static bool wait_running(struct harness *h) {
    for (int k = 0; k < 200; k++) {
        struct child c;
        char arg[96], needle[64];
        snprintf(arg, sizeof(arg), "ophost-test-%s-ready-%d", token, k);
        spawn_true(&c, arg);
        reap(&c);
        snprintf(needle, sizeof(needle), " pid=%d ppid=", (int) c.pid);
        if (harness_wait_for(h, needle, 100))
            return true;
    }
    return false;
}

static void start_session(struct harness *h, const char *mechanism, unsigned max_args) {
    char *err = NULL;
    int r;

    cur_ebpf = strcmp(mechanism, "ebpf") == 0;
    r = harness_start(h, session_yaml(mechanism, max_args), &err);
    ck_assert_msg(r == 0, "start: %s", err ? err : strerror(-r));
    if (!wait_running(h)) {
        r = harness_stop(h, &err);
        ck_abort_msg("the session saw no exec: %s", r < 0 && err ? err : "running");
    }
}

static void stop_session(struct harness *h) {
    char *err = NULL;
    int r = harness_stop(h, &err);
    ck_assert_msg(r == 0, "session failed: %s", err ? err : strerror(-r));
    free(err);
}

/* ----------------------------------------------------------------- tests */

/* Children of this binary, one of them with other ids: every field exact. */
static void run_children(const char *mechanism) {
    struct harness *h = harness_new(plugins);
    struct child c[6];
    char arg[6][96];
    uint64_t t0, t1;

    start_session(h, mechanism, 256);
    t0 = tu_nsec(CLOCK_REALTIME);
    for (int i = 0; i < 6; i++) {
        snprintf(arg[i], sizeof(arg[i]), "ophost-test-%s-%s-%d", token, mechanism, i);
        spawn_self(&c[i], arg[i], i == 3);
    }
    for (int i = 0; i < 6; i++) {
        char args[BUF];
        snprintf(args, sizeof(args), "%s " CHILD_MODE " %s", self_path, arg[i]);
        t1 = tu_nsec(CLOCK_REALTIME);
        expect(h, &c[i], "test-trace-exec", self_path, args, t0, t1);
    }
    for (int i = 0; i < 6; i++)
        reap(&c[i]);
    stop_session(h);
    harness_free(h);
}

START_TEST(test_ebpf_children) {
    run_children("ebpf");
}
END_TEST

START_TEST(test_proc_children) {
    run_children("proc-connector");
}
END_TEST

/* Short-lived /bin/true children, reaped as soon as they exit: eBPF sees
 * everything in the kernel, so every field is exact. */
START_TEST(test_ebpf_true) {
    struct harness *h = harness_new(plugins);
    enum { N = 50 };
    struct child c[N];
    char arg[N][96];
    uint64_t t0, t1;

    start_session(h, "ebpf", 256);
    t0 = tu_nsec(CLOCK_REALTIME);
    for (int i = 0; i < N; i++) {
        snprintf(arg[i], sizeof(arg[i]), "ophost-test-%s-true-%d", token, i);
        spawn_true(&c[i], arg[i]);
        reap(&c[i]);
    }
    t1 = tu_nsec(CLOCK_REALTIME);
    for (int i = 0; i < N; i++) {
        char args[BUF];
        snprintf(args, sizeof(args), "/bin/true %s", arg[i]);
        expect(h, &c[i], "true", "/bin/true", args, t0, t1);
    }
    stop_session(h);
    harness_free(h);
}
END_TEST

/* The proc connector reads /proc after the fact: a /bin/true may be alive,
 * a zombie or gone by then. Each exec still gives exactly one event with
 * its pid, and every field that is set has the right value. */
START_TEST(test_proc_true) {
    struct harness *h = harness_new(plugins);
    enum { N = 20 };
    struct child c[N];
    char arg[N][96];

    start_session(h, "proc-connector", 256);
    for (int i = 0; i < N; i++) {
        snprintf(arg[i], sizeof(arg[i]), "ophost-test-%s-ptrue-%d", token, i);
        spawn_true(&c[i], arg[i]);
    }
    for (int i = 0; i < N; i++) {
        char needle[64], line[BUF], f_comm[64], f_file[PATH_MAX + 8], want[BUF];
        unsigned long long ts, mntns;
        unsigned pid, ppid, uid, gid;

        snprintf(needle, sizeof(needle), " pid=%d ppid=", (int) c[i].pid);
        ck_assert_msg(harness_wait_for(h, needle, WAIT_MS), "no event of pid %d",
                      (int) c[i].pid);
        line_of(h, c[i].pid, line, sizeof(line));
        /* Unset strings print as '-', set ones quoted; none here holds a space or '"'. */
        ck_assert_msg(sscanf(line,
                             "timestamp=%llu pid=%u ppid=%u uid=%u gid=%u comm=%63s filename=%4100s",
                             &ts, &pid, &ppid, &uid, &gid, f_comm, f_file) == 7,
                      "bad line '%s'", line);
        ck_assert_uint_eq(pid, (unsigned) c[i].pid);
        ck_assert_msg(ppid == 0 || ppid == (unsigned) getpid(), "ppid %u", ppid);
        ck_assert_msg(uid == 0 || uid == (unsigned) getuid(), "uid %u", uid);
        ck_assert_msg(gid == 0 || gid == (unsigned) getgid(), "gid %u", gid);
        ck_assert_msg(strcmp(f_comm, "-") == 0 || strcmp(f_comm, "\"true\"") == 0, "comm %s",
                      f_comm);
        snprintf(want, sizeof(want), "\"%s\"", true_path);
        ck_assert_msg(strcmp(f_file, "-") == 0 || strcmp(f_file, want) == 0, "filename %s",
                      f_file);
        {
            char whole[BUF];
            const char *a = strstr(line, " args=");
            snprintf(whole, sizeof(whole), " args=\"/bin/true %s\" mntns=", arg[i]);
            ck_assert_ptr_nonnull(a);
            ck_assert_msg(strncmp(a, " args=- mntns=", 14) == 0 ||
                              strncmp(a, " args=\"\" mntns=", 15) == 0 ||
                              strncmp(a, whole, strlen(whole)) == 0,
                          "args in '%s'", line);
            ck_assert_int_eq(sscanf(strstr(a, " mntns="), " mntns=%llu", &mntns), 1);
            ck_assert_msg(mntns == 0 || mntns == self_mntns, "mntns %llu", mntns);
        }
    }
    for (int i = 0; i < N; i++)
        reap(&c[i]);
    stop_session(h);
    harness_free(h);
}
END_TEST

/* max-args-bytes = the length of one child's command line: that one is
 * whole; one byte more is cut to max-args-bytes and marked "..."; a much
 * longer one too. */
static void run_truncation(const char *mechanism) {
    struct harness *h = harness_new(plugins);
    struct child c[4];
    char arg[4][300], joined[4][BUF], want[BUF];
    size_t max;
    uint64_t t0, t1;

    snprintf(arg[0], sizeof(arg[0]), "ophost-test-%s-cut-a", token);
    snprintf(arg[1], sizeof(arg[1]), "ophost-test-%s-cut-ab", token);
    snprintf(arg[2], sizeof(arg[2]), "ophost-test-%s-cut-%0200d", token, 7);
    snprintf(arg[3], sizeof(arg[3]), "ophost-test-%s-cut-", token);
    for (int i = 0; i < 4; i++)
        snprintf(joined[i], sizeof(joined[i]), "%s " CHILD_MODE " %s", self_path, arg[i]);
    max = strlen(joined[0]);

    start_session(h, mechanism, (unsigned) max);
    t0 = tu_nsec(CLOCK_REALTIME);
    for (int i = 0; i < 4; i++)
        spawn_self(&c[i], arg[i], false);
    t1 = tu_nsec(CLOCK_REALTIME);
    expect(h, &c[0], "test-trace-exec", self_path, joined[0], t0, t1);
    snprintf(want, sizeof(want), "%.*s...", (int) max, joined[1]);
    expect(h, &c[1], "test-trace-exec", self_path, want, t0, t1);
    snprintf(want, sizeof(want), "%.*s...", (int) max, joined[2]);
    expect(h, &c[2], "test-trace-exec", self_path, want, t0, t1);
    expect(h, &c[3], "test-trace-exec", self_path, joined[3], t0, t1);
    for (int i = 0; i < 4; i++)
        reap(&c[i]);
    stop_session(h);
    harness_free(h);
}

START_TEST(test_ebpf_truncation) {
    run_truncation("ebpf");
}
END_TEST

START_TEST(test_proc_truncation) {
    run_truncation("proc-connector");
}
END_TEST

/* Execs still in the ring buffer when the session stops (max-delay has not
 * come yet) cannot reach the operators after the gadget any more: they are
 * counted as lost, not dropped silently. Each of ours is either in the
 * output or counted. Which were read before the stop depends on the other
 * execs on the machine too (one of them may wake the reader, or make the
 * session's first read a timer read): an attempt where all of ours were
 * read checks nothing, and is made again. */
START_TEST(test_ebpf_unread_at_stop) {
    enum { N = 20, ATTEMPTS = 5 };
    int unread = 0;

    for (int attempt = 0; attempt < ATTEMPTS && unread == 0; attempt++) {
        struct harness *h = harness_new(plugins);
        pid_t pids[N];
        int n = 0;
        uint64_t t0;
        char *err = NULL;
        int r;

        cur_ebpf = true;
        r = harness_start(h,
                          "t:\n"
                          "  gadget: trace_exec\n"
                          "  operators:\n"
                          "    trace_exec: {mechanism: ebpf, max-delay: 1s}\n",
                          &err);
        ck_assert_msg(r == 0, "start: %s", err ? err : strerror(-r));
        /* The record that wakes the reader arms its timer 1 s later; execs
         * within the next 400 ms wait in the ring buffer until then. */
        ck_assert_msg(wait_running(h), "the session saw no exec");
        t0 = tu_nsec(CLOCK_MONOTONIC);
        while (n < N && tu_nsec(CLOCK_MONOTONIC) - t0 < 400000000ull) {
            struct child c;
            char arg[96];
            snprintf(arg, sizeof(arg), "ophost-test-%s-unread-%d-%d", token, attempt, n);
            spawn_true(&c, arg);
            reap(&c);
            pids[n++] = c.pid;
        }
        ck_assert_uint_eq(harness_lost(h), 0);
        stop_session(h);
        for (int i = 0; i < n; i++) {
            char needle[64];
            snprintf(needle, sizeof(needle), " pid=%d ppid=", (int) pids[i]);
            if (!strstr(harness_output(h), needle))
                unread++;
        }
        ck_assert_msg(harness_lost(h) >= (uint64_t) unread,
                      "%d of our execs were not delivered, %" PRIu64 " counted as lost", unread,
                      harness_lost(h));
        harness_free(h);
    }
    ck_assert_msg(unread > 0, "in %d attempts, every exec was read before the stop", ATTEMPTS);
}
END_TEST

/* A small max-args-bytes keeps only the start of argv[0]. */
START_TEST(test_ebpf_tiny_max) {
    struct harness *h = harness_new(plugins);
    struct child c;
    char want[64];
    uint64_t t0 = tu_nsec(CLOCK_REALTIME);

    start_session(h, "ebpf", 1);
    spawn_true(&c, token);
    reap(&c);
    snprintf(want, sizeof(want), "/...");
    expect(h, &c, "true", "/bin/true", want, t0, tu_nsec(CLOCK_REALTIME));
    stop_session(h);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_mechanism) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails(h, session_yaml("kprobe", 256), NULL, NULL, 0,
                         "test.yaml:4:18: session 't': operator 'trace_exec': param "
                         "'mechanism': 'kprobe' is not one of: auto, ebpf, proc-connector");
    harness_free(h);
}
END_TEST

START_TEST(test_bad_max_args) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails(h, session_yaml("auto", 0), NULL, NULL, 0,
                         "test.yaml:4:35: session 't': operator 'trace_exec': param "
                         "'max-args-bytes': '0' is below the minimum 1");
    harness_free(h);
}
END_TEST

START_TEST(test_bad_ring_size) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails(h,
                         "t:\n"
                         "  gadget: trace_exec\n"
                         "  operators:\n"
                         "    trace_exec: {ring-buffer-size: 12288}\n",
                         NULL, NULL, -EINVAL,
                         "operator 'trace_exec': instantiate failed: param 'ring-buffer-size': "
                         "12288 is not a power of 2");
    harness_free(h);
}
END_TEST

/* ------------------------------------------------------------------ main */

/* Whether a mechanism works here: start it, exec one child, look for it.
 * A test of its own (Check's asserts work only inside tests): it fails with
 * the reason when the mechanism does not work. */
static void run_probe(const char *mechanism) {
    struct harness *h = harness_new(plugins);
    char *err = NULL;
    bool seen;
    int r;

    r = harness_start(h, session_yaml(mechanism, 256), &err);
    ck_assert_msg(r == 0, "%s", err ? err : strerror(-r));
    seen = wait_running(h);
    r = harness_stop(h, &err);
    ck_assert_msg(r == 0, "%s", err ? err : strerror(-r));
    ck_assert_msg(seen, "the session ran but saw no exec");
    harness_free(h);
}

START_TEST(test_probe_ebpf) {
    run_probe("ebpf");
}
END_TEST

START_TEST(test_probe_proc) {
    run_probe("proc-connector");
}
END_TEST

/* Runs the probes; fills have_* and *_why. */
static void probe(void) {
    Suite *s = suite_create("probe");
    TCase *tc_ebpf = tcase_create("ebpf"), *tc_proc = tcase_create("proc-connector");
    SRunner *sr;
    TestResult **results;

    tcase_add_test(tc_ebpf, test_probe_ebpf);
    tcase_add_test(tc_proc, test_probe_proc);
    suite_add_tcase(s, tc_ebpf);
    suite_add_tcase(s, tc_proc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_SILENT);
    results = srunner_results(sr);
    for (int i = 0; i < srunner_ntests_run(sr); i++) {
        bool ok = tr_rtype(results[i]) == CK_PASS;
        if (strcmp(tr_tcname(results[i]), "ebpf") == 0) {
            have_ebpf = ok;
            snprintf(ebpf_why, sizeof(ebpf_why), "%s", tr_msg(results[i]));
        } else {
            have_proc = ok;
            snprintf(proc_why, sizeof(proc_why), "%s", tr_msg(results[i]));
        }
    }
    free(results);
    srunner_free(sr);
}

/* The children run a copy of this binary in a fresh directory under
 * $TMPDIR or /tmp, mode 0755: the checkout may live where uid 65534 cannot
 * reach it (root's home directory, mode 0700). */
static int copy_self(void) {
    const char *tmp = getenv("TMPDIR");
    char buf[65536];
    ssize_t n;
    int in, out, r = 0;

    snprintf(self_dir, sizeof(self_dir), "%s/ophost-trace-exec.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(self_dir) || chmod(self_dir, 0755) < 0)
        return -1;
    snprintf(self_path, sizeof(self_path), "%s/test-trace-exec", self_dir);
    in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    out = open(self_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (in < 0 || out < 0)
        r = -1;
    while (r == 0 && (n = read(in, buf, sizeof(buf))) != 0)
        if (n < 0 || write(out, buf, (size_t) n) != n)
            r = -1;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0)
        r = -1;
    return r;
}

int main(int argc, char **argv) {
    Suite *s;
    TCase *tc_common, *tc_ebpf, *tc_proc;
    SRunner *sr;
    struct stat st;
    int failed;

    if (argc >= 2 && strcmp(argv[1], CHILD_MODE) == 0) {
        /* Child mode: live until the test closes our stdin. */
        char buf[64];
        while (read(0, buf, sizeof(buf)) > 0)
            ;
        return 0;
    }

    if (!realpath("/bin/true", true_path) || stat("/proc/self/ns/mnt", &st) < 0 ||
        copy_self() < 0) {
        perror("test-trace-exec: setup");
        return EXIT_FAILURE;
    }
    self_mntns = (unsigned long long) st.st_ino;
    snprintf(token, sizeof(token), "%d-%llx", (int) getpid(),
             (unsigned long long) (tu_nsec(CLOCK_REALTIME) & 0xffffffffffull));

    probe();
    if (!have_ebpf)
        printf("SKIP: eBPF tests: %s\n", ebpf_why);
    if (!have_proc)
        printf("SKIP: proc connector tests: %s\n", proc_why);

    s = suite_create("trace_exec");
    tc_common = tcase_create("params");
    tcase_add_test(tc_common, test_bad_mechanism);
    tcase_add_test(tc_common, test_bad_max_args);
    tcase_add_test(tc_common, test_bad_ring_size);
    suite_add_tcase(s, tc_common);
    if (have_ebpf) {
        tc_ebpf = tcase_create("ebpf");
        tcase_add_test(tc_ebpf, test_ebpf_children);
        tcase_add_test(tc_ebpf, test_ebpf_true);
        tcase_add_test(tc_ebpf, test_ebpf_truncation);
        tcase_add_test(tc_ebpf, test_ebpf_tiny_max);
        tcase_add_test(tc_ebpf, test_ebpf_unread_at_stop);
        suite_add_tcase(s, tc_ebpf);
    }
    if (have_proc) {
        tc_proc = tcase_create("proc-connector");
        tcase_add_test(tc_proc, test_proc_children);
        tcase_add_test(tc_proc, test_proc_true);
        tcase_add_test(tc_proc, test_proc_truncation);
        suite_add_tcase(s, tc_proc);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    unlink(self_path);
    rmdir(self_dir);
    if (failed)
        return EXIT_FAILURE;
    /* Neither mechanism works here: the tests that matter did not run. */
    return have_ebpf || have_proc ? EXIT_SUCCESS : 77;
}

/*
 * test-trace-oomkill.c — the trace_oomkill gadget through the harness: the
 * test puts a child of its own (a fresh exec of itself, so that it runs
 * natively with a small memory image even when the test runs under
 * valgrind) into a new memory cgroup limited to 32 MiB and lets it
 * allocate until the OOM killer kills it. The event names the
 * child as victim and as trigger (its own allocation ran out), with its
 * comm, uid and an anonymous RSS close to the limit. Skipped when no memory
 * cgroup can be made (v1 memory controller or v2 memory.max).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: trace_oomkill\n  operators:\n    trace_oomkill: {" params "}\n"
#define LIMIT (32u << 20)
#define OOM_MODE "--oom-victim"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_oomkill.so", NULL };

/* The memory cgroup: v1 (memory.limit_in_bytes) or v2 (memory.max). */
static const char *cg_root, *cg_limit_file;
static char cg_dir[256];

static bool write_file(const char *dir, const char *name, const char *value) {
    char path[512];
    int fd;
    bool ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ok = write(fd, value, strlen(value)) == (ssize_t) strlen(value);
    close(fd);
    return ok;
}

/* Makes the test's cgroup; NULL, or why it cannot be made. */
static const char *cgroup_make(void) {
    static char why[768];
    char limit[32];
    struct stat st;

    if (stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0) {
        cg_root = "/sys/fs/cgroup/memory";
        cg_limit_file = "memory.limit_in_bytes";
    } else if (stat("/sys/fs/cgroup/memory.max", &st) == 0 ||
               stat("/sys/fs/cgroup/cgroup.subtree_control", &st) == 0) {
        cg_root = "/sys/fs/cgroup";
        cg_limit_file = "memory.max";
    } else {
        return "no memory cgroup controller (neither /sys/fs/cgroup/memory nor cgroup v2)";
    }
    snprintf(cg_dir, sizeof(cg_dir), "%s/ophost-test-oom-%d", cg_root, (int) getpid());
    if (mkdir(cg_dir, 0755) < 0) {
        snprintf(why, sizeof(why), "cannot make a memory cgroup %s: %s", cg_dir, strerror(errno));
        return why;
    }
    snprintf(limit, sizeof(limit), "%u", LIMIT);
    if (!write_file(cg_dir, cg_limit_file, limit)) {
        snprintf(why, sizeof(why), "cannot limit %s/%s: %s", cg_dir, cg_limit_file,
                 strerror(errno));
        rmdir(cg_dir);
        return why;
    }
    /* No swap to escape to. */
    (void) write_file(cg_dir, "memory.memsw.limit_in_bytes", limit);
    (void) write_file(cg_dir, "memory.swap.max", "0");
    return NULL;
}

START_TEST(test_oom_kill) {
    struct harness *h = harness_new(plugins);
    char params[256], want[512], line[2048], needle[64], self[4096];
    ssize_t n;
    const char *needles[] = { needle, NULL };
    int fds[2], status;
    pid_t child;
    uint64_t anon;

    /* This binary (valgrind answers readlink with it; exec'ing
     * /proc/self/exe would start valgrind's own). */
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        dup2(fds[0], 0);
        execl(self, self, OOM_MODE, (char *) NULL);
        raise(SIGKILL);
    }
    snprintf(needle, sizeof(needle), "%d", (int) child);
    ck_assert(write_file(cg_dir, "cgroup.procs", needle));
    snprintf(params, sizeof(params), YAML("pid: %d"), (int) child);
    gt_start(h, params);
    ck_assert_int_eq(write(fds[1], "g", 1), 1);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
    snprintf(needle, sizeof(needle), " tpid=%d ", (int) child);
    ck_assert_msg(gt_wait_line(h, needles, GT_WAIT_MS, line, sizeof(line)), "no OOM kill: %s",
                  harness_output(h));
    gt_stop(h);
    ck_assert_int_eq(rmdir(cg_dir), 0);
    cg_dir[0] = '\0';

    /* The child's own allocation triggered it: it is trigger and victim. */
    snprintf(want, sizeof(want),
             " pid=%d tid=%d uid=%u gid=%u comm=\"oom-victim\" start_time=%llu exec_id=%llu "
             "tpid=%d tcomm=\"oom-victim\" tuid=%u tstart_time=%llu ",
             (int) child, (int) child, (unsigned) getuid(), (unsigned) getgid(),
             (unsigned long long) gt_field_u64(line, "start_time"),
             (unsigned long long) gt_field_u64(line, "exec_id"), (int) child, (unsigned) getuid(),
             (unsigned long long) gt_field_u64(line, "start_time"));
    ck_assert_msg(strstr(line, want), "got %s\nwant %s", line, want);
    anon = gt_field_u64(line, "anon_rss");
    ck_assert_msg(anon >= LIMIT / 2 && anon <= LIMIT + (4u << 20), "anon_rss %llu",
                  (unsigned long long) anon);
    ck_assert_uint_ge(gt_field_u64(line, "total_vm"), anon);
    ck_assert_uint_eq(gt_count_lines(h, needles), 1);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    const struct harness_error_case cases[] = {
        { YAML("uid: -5"),
          "test.yaml:4:21: session 't': operator 'trace_oomkill': param 'uid': '-5' is not a "
          "valid unsigned integer" },
    };

    harness_assert_errors(plugins, NULL, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

/* The victim: waits until the test has moved it into the cgroup, then
 * allocates until the OOM killer kills it. */
static int victim(void) {
    char go;

    prctl(PR_SET_NAME, "oom-victim");
    if (read(0, &go, 1) != 1)
        return 1;
    for (size_t total = 0; total < 8 * (size_t) LIMIT; total += 1 << 20) {
        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break;
        memset(p, 1, 1 << 20);
    }
    return 1; /* not reached: the OOM killer comes first */
}

int main(int argc, char **argv) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_oom_kill, NULL };
    const char *missing;

    if (argc > 1 && strcmp(argv[1], OOM_MODE) == 0)
        return victim();
    missing = cgroup_make();
    int r = gt_main("trace_oomkill", plugins, YAML("pid: 1"), missing, always, mech);

    if (!missing && cg_dir[0])
        rmdir(cg_dir); /* a failed test left it */
    return r;
}

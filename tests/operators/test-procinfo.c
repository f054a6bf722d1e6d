/* test-procinfo.c — the procinfo enricher: the test's own process, a child
 * with a known exe and command line, a zombie, a pid that does not exist, a
 * kernel thread, command-line truncation (on a UTF-8 boundary), a process
 * that exec'd after it was cached, eviction with a tiny cache, events that
 * carry their own cache key (start_time, exec_id), and the instantiate
 * errors. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

#define PLUGIN TEST_PLUGIN_DIR "/procinfo.so"
#define NO_SUCH_PID 2147483646u /* above PID_MAX_LIMIT (4M) */
#define ARGV0 "ophost-test-\xc3\xa9" /* ends in a two-byte UTF-8 character */

static const char *const plugins[] = { PLUGIN, NULL };

static char *read_text(const char *path, size_t *ret_len) {
    static char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    *ret_len = (size_t) n;
    return buf;
}

/* The test process's own values, as the plugin should report them. */
static char *self_exe(void) {
    static char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    return buf;
}

static char *self_cmdline(size_t max) {
    static char out[512];
    size_t len;
    char *s = read_text("/proc/self/cmdline", &len);

    while (len > 0 && s[len - 1] == '\0')
        len--;
    if (len > max)
        len = max; /* the test binary's arguments are ASCII */
    for (size_t i = 0; i < len; i++)
        out[i] = s[i] ? s[i] : ' ';
    out[len] = '\0';
    return out;
}

static char *self_cgroup(void) {
    static char out[4096];
    size_t len;
    char *s = read_text("/proc/self/cgroup", &len), *line = strstr(s, "0::");

    if (line != s && line && line[-1] != '\n')
        line = NULL;
    if (!line) {
        line = strstr(s, ":name=systemd:");
        ck_assert_ptr_nonnull(line);
        line += strlen(":name=systemd:");
    } else {
        line += 3;
    }
    snprintf(out, sizeof(out), "%.*s", (int) strcspn(line, "\n"), line);
    return out;
}

static char sleep_exe[PATH_MAX];

/* Waits until pid runs /bin/sleep with a command line starting with
 * argv0 (execve done, argv in place). */
static void wait_exec(pid_t pid, const char *argv0) {
    char path[64], buf[PATH_MAX];

    ck_assert_ptr_nonnull(realpath("/bin/sleep", sleep_exe));
    for (int i = 0;; i++) {
        ssize_t n;
        size_t len;
        snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        n = readlink(path, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
            if (strcmp(buf, sleep_exe) == 0 && strcmp(read_text(path, &len), argv0) == 0)
                return;
        }
        ck_assert_msg(i < 2000, "child %d did not exec /bin/sleep", (int) pid);
        usleep(5000);
    }
}

/* A child running /bin/sleep with argv ARGV0 "30"; waits until it exec'd. */
static pid_t spawn_sleep(void) {
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sleep", ARGV0, "30", (char *) NULL);
        _exit(127);
    }
    wait_exec(pid, ARGV0);
    return pid;
}

/* Replaces every "proc.start_time=N" of out with "proc.start_time=T" and
 * returns the values in ret[]; returns the masked copy (caller frees). */
static char *mask_start(const char *out, uint64_t *ret, size_t max, size_t *ret_n) {
    static const char key[] = "proc.start_time=";
    char *copy = malloc(strlen(out) + 1), *w = copy;
    size_t n = 0;

    ck_assert_ptr_nonnull(copy);
    while (*out) {
        if (strncmp(out, key, strlen(key)) == 0) {
            char *end;
            memcpy(w, key, strlen(key));
            w += strlen(key);
            out += strlen(key);
            ck_assert_uint_lt(n, max);
            ret[n++] = strtoull(out, &end, 10);
            out = end;
            *w++ = 'T';
        } else {
            *w++ = *out++;
        }
    }
    *w = '\0';
    *ret_n = n;
    return copy;
}

static void feed_pids(struct harness_feed *f, void *userdata) {
    const uint64_t *pids = userdata;
    for (size_t i = 0; pids[i] != UINT64_MAX; i++)
        harness_set_u64(f, harness_append(f), "pid", pids[i]);
}

#define YAML(params)                                                      \
    "t:\n"                                                                \
    "  gadget: feed\n"                                                    \
    "  operators:\n"                                                      \
    "    feed: {fields: 'pid:u32'}\n"                                     \
    "    procinfo: {" params "}\n"

START_TEST(test_live) {
    struct harness *h = harness_new(plugins);
    uint64_t before = tu_nsec(CLOCK_REALTIME), after, starts[8];
    pid_t child = spawn_sleep(), zombie;
    uint64_t pids[8];
    size_t n_starts;
    char *masked, *expected;
    char path[64];

    after = tu_nsec(CLOCK_REALTIME);
    /* A zombie: exited, not reaped. */
    zombie = fork();
    ck_assert_int_ge(zombie, 0);
    if (zombie == 0)
        _exit(0);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int) zombie);
    for (int i = 0;; i++) {
        size_t len;
        char *st = read_text(path, &len);
        if (strstr(st, ") Z "))
            break;
        ck_assert_int_lt(i, 2000);
        usleep(5000);
    }

    pids[0] = (uint64_t) getpid();
    pids[1] = (uint64_t) child;
    pids[2] = (uint64_t) child; /* the same again: from the cache */
    pids[3] = (uint64_t) zombie;
    pids[4] = NO_SUCH_PID;
    pids[5] = 0;
    pids[6] = (uint64_t) getpid();
    pids[7] = UINT64_MAX;
    ck_assert_int_eq(harness_run(h, YAML(""), feed_pids, pids, NULL), 0);

    masked = mask_start(harness_output(h), starts, 8, &n_starts);
    ck_assert_int_ne(asprintf(&expected,
        "pid=%d proc.exe=\"%s\" proc.cmdline=\"%s\" proc.ppid=%d proc.start_time=T proc.cgroup=\"%s\" proc.gone=false\n"
        "pid=%d proc.exe=\"%s\" proc.cmdline=\"" ARGV0 " 30\" proc.ppid=%d proc.start_time=T proc.cgroup=\"%s\" proc.gone=false\n"
        "pid=%d proc.exe=\"%s\" proc.cmdline=\"" ARGV0 " 30\" proc.ppid=%d proc.start_time=T proc.cgroup=\"%s\" proc.gone=false\n"
        "pid=%d proc.exe=- proc.cmdline=- proc.ppid=%d proc.start_time=T proc.cgroup=- proc.gone=true\n"
        "pid=%u proc.exe=- proc.cmdline=- proc.ppid=0 proc.start_time=T proc.cgroup=- proc.gone=true\n"
        "pid=0 proc.exe=- proc.cmdline=- proc.ppid=0 proc.start_time=T proc.cgroup=- proc.gone=true\n"
        "pid=%d proc.exe=\"%s\" proc.cmdline=\"%s\" proc.ppid=%d proc.start_time=T proc.cgroup=\"%s\" proc.gone=false\n",
        (int) getpid(), self_exe(), self_cmdline(256), (int) getppid(), self_cgroup(),
        (int) child, sleep_exe, (int) getpid(), self_cgroup(),
        (int) child, sleep_exe, (int) getpid(), self_cgroup(),
        (int) zombie, (int) getpid(),
        NO_SUCH_PID,
        (int) getpid(), self_exe(), self_cmdline(256), (int) getppid(), self_cgroup()), -1);
    ck_assert_str_eq(masked, expected);
    ck_assert_uint_eq(n_starts, 7);
    /* Start times: ours before the test began; the child's between the
     * clock readings around its fork (ticks are 10 ms; the realtime boot
     * offset is read at instantiate). */
    ck_assert_uint_gt(starts[0], 0);
    ck_assert_uint_le(starts[0], before);
    ck_assert_uint_eq(starts[6], starts[0]);
    ck_assert_uint_ge(starts[1], before - 20000000u);
    ck_assert_uint_le(starts[1], after + 20000000u);
    ck_assert_uint_eq(starts[2], starts[1]);
    ck_assert_uint_ge(starts[3], after - 20000000u);
    ck_assert_uint_le(starts[3], tu_nsec(CLOCK_REALTIME));
    ck_assert_uint_eq(starts[4], 0);
    ck_assert_uint_eq(starts[5], 0);
    free(masked);
    free(expected);
    tu_reap(child);
    ck_assert_int_eq(waitpid(zombie, NULL, 0), zombie);
    harness_free(h);
}
END_TEST

START_TEST(test_cmdline_truncation) {
    static const struct {
        const char *max;
        const char *cmdline;
    } cases[] = {
        { "4", "opho" },
        { "12", "ophost-test-" },
        { "13", "ophost-test-" },            /* would split the é: cut before it */
        { "14", "ophost-test-\xc3\xa9" },
        { "15", "ophost-test-\xc3\xa9" },    /* the NUL between the arguments, trimmed */
        { "16", ARGV0 " 3" },
        { "17", ARGV0 " 30" },
        { "256", ARGV0 " 30" },
    };
    struct harness *h = harness_new(plugins);
    pid_t child = spawn_sleep();
    uint64_t pids[] = { (uint64_t) child, UINT64_MAX };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[256], want[128];
        const char *out, *p;
        snprintf(yaml, sizeof(yaml), YAML("max-cmdline: %s"), cases[i].max);
        ck_assert_int_eq(harness_run(h, yaml, feed_pids, pids, NULL), 0);
        out = harness_output(h);
        snprintf(want, sizeof(want), " proc.cmdline=\"%s\" ", cases[i].cmdline);
        p = strstr(out, want);
        ck_assert_msg(p != NULL, "max-cmdline %s: want %s in %s", cases[i].max, want, out);
    }
    tu_reap(child);
    harness_free(h);
}
END_TEST

/* The child is cached before it execs; after the exec the same pid (and
 * start time) must show the new program. */
struct exec_state {
    pid_t child;
    int go_fd;
    char exe_before[PATH_MAX];
    char cmdline_before[512];
};

static void feed_exec(struct harness_feed *f, void *userdata) {
    struct exec_state *s = userdata;

    harness_set_u64(f, harness_append(f), "pid", (uint64_t) s->child);
    harness_flush(f);
    ck_assert_int_eq(write(s->go_fd, "x", 1), 1);
    wait_exec(s->child, "sleep");
    harness_set_u64(f, harness_append(f), "pid", (uint64_t) s->child);
    harness_flush(f);
}

START_TEST(test_exec_refreshes) {
    struct harness *h = harness_new(plugins);
    struct exec_state s;
    uint64_t starts[2];
    size_t n_starts;
    int fds[2];
    char *want, *masked;

    ck_assert_int_eq(pipe(fds), 0);
    s.child = fork();
    ck_assert_int_ge(s.child, 0);
    if (s.child == 0) {
        char c;
        close(fds[1]);
        if (read(fds[0], &c, 1) == 1)
            execl("/bin/sleep", "sleep", "30", (char *) NULL);
        _exit(127);
    }
    close(fds[0]);
    s.go_fd = fds[1];
    /* Before the exec the child is a copy of this process; read what /proc
     * shows for it (under valgrind that differs from /proc/self). */
    {
        char path[64], cmd[512];
        size_t len;
        ssize_t n;
        char *text;
        snprintf(path, sizeof(path), "/proc/%d/exe", (int) s.child);
        n = readlink(path, s.exe_before, sizeof(s.exe_before) - 1);
        ck_assert_int_gt(n, 0);
        s.exe_before[n] = '\0';
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) s.child);
        text = read_text(path, &len);
        while (len > 0 && text[len - 1] == '\0')
            len--;
        if (len > 256)
            len = 256;
        for (size_t i = 0; i < len; i++)
            cmd[i] = text[i] ? text[i] : ' ';
        cmd[len] = '\0';
        snprintf(s.cmdline_before, sizeof(s.cmdline_before), "%s", cmd);
    }
    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'pid:u32'}\n"
                                 "    procinfo: {}\n",
                                 feed_exec, &s, NULL), 0);
    masked = mask_start(harness_output(h), starts, 2, &n_starts);
    ck_assert_int_ne(asprintf(&want,
        "pid=%d proc.exe=\"%s\" proc.cmdline=\"%s\" proc.ppid=%d proc.start_time=T proc.cgroup=\"%s\" proc.gone=false\n"
        "pid=%d proc.exe=\"%s\" proc.cmdline=\"sleep 30\" proc.ppid=%d proc.start_time=T proc.cgroup=\"%s\" proc.gone=false\n",
        (int) s.child, s.exe_before, s.cmdline_before, (int) getpid(), self_cgroup(),
        (int) s.child, sleep_exe, (int) getpid(), self_cgroup()), -1);
    ck_assert_str_eq(masked, want);
    ck_assert_uint_eq(n_starts, 2);
    ck_assert_uint_eq(starts[0], starts[1]);
    free(masked);
    free(want);
    close(fds[1]);
    tu_reap(s.child);
    harness_free(h);
}
END_TEST

/* Kernel threads have no exe and an empty command line, and are alive. */
START_TEST(test_kernel_thread) {
    struct harness *h;
    uint64_t pids[] = { 2, UINT64_MAX }, starts[1];
    size_t len, n_starts;
    char *masked;

    if (!strstr(read_text("/proc/2/stat", &len), "(kthreadd)")) {
        printf("note: pid 2 is not kthreadd here (a pid namespace), skipping this case\n");
        return;
    }
    h = harness_new(plugins);
    ck_assert_int_eq(harness_run(h, YAML(""), feed_pids, pids, NULL), 0);
    masked = mask_start(harness_output(h), starts, 1, &n_starts);
    ck_assert_str_eq(masked, "pid=2 proc.exe=- proc.cmdline=\"\" proc.ppid=0 proc.start_time=T "
                             "proc.cgroup=\"/\" proc.gone=false\n");
    free(masked);
    harness_free(h);
}
END_TEST

/* A tiny cache (1 entry) and none at all give the same answers as the
 * default one, whatever the eviction order. */
START_TEST(test_small_caches) {
    static const char *const params[] = { "", "cache-size: 1", "cache-size: 2", "cache-size: 0" };
    struct harness *h = harness_new(plugins);
    pid_t a = spawn_sleep(), b = spawn_sleep();
    uint64_t pids[] = { (uint64_t) a, (uint64_t) b, (uint64_t) getpid(), (uint64_t) a,
                        (uint64_t) getpid(), (uint64_t) b, (uint64_t) b, (uint64_t) a,
                        UINT64_MAX };
    char *first = NULL;

    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        char yaml[256];
        snprintf(yaml, sizeof(yaml), YAML("%s"), params[i]);
        ck_assert_int_eq(harness_run(h, yaml, feed_pids, pids, NULL), 0);
        if (!first) {
            char want[PATH_MAX + 128];
            first = strdup(harness_output(h));
            snprintf(want, sizeof(want), "pid=%d proc.exe=\"%s\" proc.cmdline=\"" ARGV0 " 30\" ",
                     (int) b, sleep_exe);
            ck_assert_ptr_nonnull(strstr(first, want));
        } else {
            ck_assert_str_eq(harness_output(h), first);
        }
    }
    free(first);
    tu_reap(a);
    tu_reap(b);
    harness_free(h);
}
END_TEST

/* Signed pid fields: a negative pid is no process. */
static void feed_signed(struct harness_feed *f, void *userdata) {
    harness_set_s64(f, harness_append(f), "pid", -1);
    harness_set_s64(f, harness_append(f), "pid", (int64_t) getpid());
}

START_TEST(test_signed_pid) {
    struct harness *h = harness_new(plugins);
    uint64_t starts[2];
    size_t n_starts;
    char *masked, *want;

    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'pid:s64'}\n"
                                 "    procinfo: {cache-size: 0}\n",
                                 feed_signed, NULL, NULL), 0);
    masked = mask_start(harness_output(h), starts, 2, &n_starts);
    ck_assert_int_ne(asprintf(&want,
        "pid=-1 proc.exe=- proc.cmdline=- proc.ppid=0 proc.start_time=T proc.cgroup=- proc.gone=true\n"
        "pid=%d proc.exe=\"%s\" proc.cmdline=\"%s\" proc.ppid=%d proc.start_time=T proc.cgroup=\"%s\" proc.gone=false\n",
        (int) getpid(), self_exe(), self_cmdline(256), (int) getppid(), self_cgroup()), -1);
    ck_assert_str_eq(masked, want);
    ck_assert_uint_eq(starts[0], 0);
    free(masked);
    free(want);
    harness_free(h);
}
END_TEST

START_TEST(test_errors) {
    static const struct harness_error_case cases[] = {
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'seq:u64'}\n    procinfo: {}\n",
          "operator 'procinfo': instantiate failed: param 'pid-field': data source 'events' has no field 'pid'" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'tid:u32'}\n    procinfo: {pid-field: task}\n",
          "operator 'procinfo': instantiate failed: param 'pid-field': data source 'events' has no field 'task'" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'pid:string'}\n    procinfo: {}\n",
          "operator 'procinfo': instantiate failed: param 'pid-field': field 'pid' is of type string, not an integer type" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'pid:u32,proc.exe:string'}\n    procinfo: {}\n",
          "operator 'procinfo': instantiate failed: field 'proc.exe' already exists in data source 'events'" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'pid:u32'}\n    procinfo: {datasource: other}\n",
          "operator 'procinfo': instantiate failed: param 'datasource': no data source 'other'" },
    };

    harness_assert_errors(plugins, feed_pids, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

/* Events keyed by (pid, start_time, exec_id), as the eBPF gadgets give. */
struct keyed {
    pid_t child;
    uint64_t start;
};

static void feed_keyed(struct harness_feed *f, void *userdata) {
    struct keyed *k = userdata;
    struct ophost_event *e = harness_append(f);

    harness_set_u64(f, e, "pid", (uint64_t) k->child);
    harness_set_u64(f, e, "start_time", k->start);
    harness_set_u64(f, e, "exec_id", 7);
    harness_flush(f); /* read from /proc and cached */
    tu_reap(k->child);
    e = harness_append(f); /* the same image: from the cache, /proc is not read */
    harness_set_u64(f, e, "pid", (uint64_t) k->child);
    harness_set_u64(f, e, "start_time", k->start);
    harness_set_u64(f, e, "exec_id", 7);
    e = harness_append(f); /* another exec of it: not cached, and it is gone */
    harness_set_u64(f, e, "pid", (uint64_t) k->child);
    harness_set_u64(f, e, "start_time", k->start);
    harness_set_u64(f, e, "exec_id", 8);
    e = harness_append(f); /* our pid with another start: a reused pid */
    harness_set_u64(f, e, "pid", (uint64_t) getpid());
    harness_set_u64(f, e, "start_time", k->start + 5000000000u);
    harness_set_u64(f, e, "exec_id", 7);
}

START_TEST(test_event_key) {
    struct harness *h = harness_new(plugins);
    struct keyed k = { .child = spawn_sleep() };
    uint64_t pids[2] = { (uint64_t) k.child, UINT64_MAX };
    char want[PATH_MAX * 2 + 16];
    const char *v;

    /* The start procinfo itself computes, as a gadget would report it. */
    ck_assert_int_eq(harness_run(h, YAML(""), feed_pids, pids, NULL), 0);
    k.start = strtoull(harness_values(h, "proc.start_time"), NULL, 10);
    ck_assert_uint_gt(k.start, 0);
    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'pid:u32,start_time:timestamp,exec_id:u64'}\n"
                                 "    procinfo: {}\n",
                                 feed_keyed, &k, NULL), 0);
    ck_assert_str_eq(harness_values(h, "proc.gone"), "false false true true");
    snprintf(want, sizeof(want), "\"%s\" \"%s\" - -", sleep_exe, sleep_exe);
    ck_assert_str_eq(harness_values(h, "proc.exe"), want);
    v = harness_values(h, "proc.start_time");
    snprintf(want, sizeof(want), "%llu %llu 0 0", (unsigned long long) k.start,
             (unsigned long long) k.start);
    ck_assert_str_eq(v, want);
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("procinfo", 0, (const TTest *const[]){
        test_live,
        test_cmdline_truncation,
        test_exec_refreshes,
        test_kernel_thread,
        test_small_caches,
        test_signed_pid,
        test_event_key,
        test_errors,
        NULL,
    });
}

/* test-top-process.c — the top_process gadget through the harness: a
 * busy child shows a high cpu in some round while a sleeping one shows 0
 * in every round; a child that exited is no longer reported; more
 * processes than a batch (and than the initial table) are all reported;
 * the interval has a minimum. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/top_process.so", NULL };

/* The state letter of pid from /proc/PID/stat, '?' if unreadable. */
static char state_of(pid_t pid) {
    char path[64], buf[512], *close;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
    f = fopen(path, "re");
    if (!f)
        return '?';
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    close = strrchr(buf, ')');
    return close && close[1] == ' ' ? close[2] : '?';
}

/* Set when the busy child runs at nice -20 (needs CAP_SYS_NICE): then it
 * gets most of a CPU even when the machine is loaded with nice-0 work. */
static bool busy_favoured;

/* Runs the calling process at nice -20. With autogroup scheduling, nice
 * only weighs within a session's group, so it becomes a session (and a
 * group) of its own first and raises that group too. */
static bool favour(void) {
    FILE *f;
    bool ok;

    if (setsid() < 0 || setpriority(PRIO_PROCESS, 0, -20) < 0)
        return false;
    f = fopen("/proc/self/autogroup", "we");
    if (!f)
        return errno == ENOENT; /* no autogroup scheduling: nice is enough */
    ok = fputs("-20", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Forks a child called comm that sleeps until killed; returns once it is
 * named and asleep. With busy_ms, the child first waits for a byte on
 * *ret_go, then busy-loops for busy_ms and exits. */
static pid_t spawn(const char *comm, unsigned busy_ms, int *ret_go) {
    int fds[2], go[2] = { -1, -1 };
    char byte;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    if (busy_ms)
        ck_assert_int_eq(pipe(go), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        volatile uint64_t spin = 0;
        uint64_t end;
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        prctl(PR_SET_NAME, comm);
        byte = busy_ms && favour() ? 'f' : 'x';
        if (write(fds[1], &byte, 1) != 1)
            _exit(1);
        if (busy_ms && read(go[0], &byte, 1) != 1)
            _exit(1);
        end = tu_nsec(CLOCK_MONOTONIC) + (uint64_t) busy_ms * 1000000u;
        while (busy_ms && tu_nsec(CLOCK_MONOTONIC) < end)
            spin++;
        if (busy_ms)
            raise(SIGKILL); /* not _exit: valgrind would leak-check the child */
        for (;;)
            pause();
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &byte, 1), 1);
    close(fds[0]);
    if (busy_ms) {
        busy_favoured = byte == 'f';
        close(go[0]);
        *ret_go = go[1];
    } else {
        /* Asleep in pause() before any round samples it (bounded wait). */
        for (int i = 0; i < 1000 && state_of(pid) != 'S'; i++)
            nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        ck_assert_int_eq(state_of(pid), 'S');
    }
    return pid;
}

/* Calls fn for every line of out that starts with "pid=PID "; returns the
 * offset of the first one (or -1) through ret_first. */
static size_t each_line(const char *out, pid_t pid, void (*fn)(const char *line, void *u), void *u,
                        long *ret_first) {
    char needle[32];
    size_t n = 0;

    snprintf(needle, sizeof(needle), "pid=%d ", (int) pid);
    if (ret_first)
        *ret_first = -1;
    for (const char *p = out; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        if (strncmp(p, needle, strlen(needle)) == 0) {
            char *line = strndup(p, len);
            if (ret_first && n == 0)
                *ret_first = p - out;
            n++;
            if (fn)
                fn(line, u);
            free(line);
        }
        p += len + (eol != NULL);
    }
    return n;
}

struct expect {
    const char *prefix; /* "pid=P comm=\"...\" cpu=" */
    unsigned max_cpu;
    unsigned threads;
    bool may_be_zombie; /* between its exit and the reap: rss=0 */
};

static void check_line(const char *line, void *u) {
    struct expect *e = u;
    unsigned cpu, threads;
    unsigned long long rss;

    ck_assert_msg(strncmp(line, e->prefix, strlen(e->prefix)) == 0, "got '%s', want '%s...'",
                  line, e->prefix);
    ck_assert_msg(sscanf(line + strlen(e->prefix), "%u rss=%llu threads=%u", &cpu, &rss,
                         &threads) == 3,
                  "bad line '%s'", line);
    if (!e->may_be_zombie)
        ck_assert_uint_gt(rss, 0);
    ck_assert_uint_eq(threads, e->threads);
    if (cpu > e->max_cpu)
        e->max_cpu = cpu;
}

START_TEST(test_busy_and_idle) {
    struct harness *h = harness_new(plugins);
    struct expect busy_e = { .threads = 1, .may_be_zombie = true }, idle_e = { .threads = 1 };
    char busy_prefix[64], idle_prefix[64], needle[64];
    pid_t idle, busy, mark;
    long first_mark;
    const char *out;
    size_t n_idle;
    int go;

    idle = spawn("ophtop-idle", 0, NULL);
    busy = spawn("ophtop-busy", 1500, &go);
    ck_assert_int_eq(harness_start(h,
                                   "t:\n"
                                   "  gadget: top_process\n"
                                   "  operators:\n"
                                   "    top_process: {interval: 200ms}\n",
                                   NULL),
                     0);
    /* Spin only once the rounds run (the baseline is taken at start). */
    snprintf(needle, sizeof(needle), "pid=%d comm=\"ophtop-busy\" cpu=0 ", (int) busy);
    ck_assert(harness_wait_for(h, needle, 10000));
    ck_assert_int_eq(write(go, "x", 1), 1);
    close(go);
    /* The busy child exits after 1.5 s of spinning; reaped, it is gone
     * from /proc. Every round that reports the child spawned after that
     * reads /proc after the reap, so no busy line may follow its first. */
    ck_assert_int_eq(waitpid(busy, NULL, 0), busy);
    mark = spawn("ophtop-mark", 0, NULL);
    snprintf(needle, sizeof(needle), "pid=%d comm=\"ophtop-mark\"", (int) mark);
    ck_assert(harness_wait_for(h, needle, 10000));
    ck_assert_int_eq(harness_stop(h, NULL), 0);
    out = harness_output(h);

    snprintf(busy_prefix, sizeof(busy_prefix), "pid=%d comm=\"ophtop-busy\" cpu=", (int) busy);
    busy_e.prefix = busy_prefix;
    ck_assert_uint_ge(each_line(out, busy, check_line, &busy_e, NULL), 1);
    /* 1.5 s of spinning at nice -20 over 200 ms rounds: at least 30% of a
     * CPU in one of them even on a two-CPU machine loaded with a dozen
     * nice-0 compilers. Unprivileged, only "some" CPU can be promised. */
    if (busy_favoured)
        ck_assert_msg(busy_e.max_cpu >= 3000, "busy child peaked at cpu=%u", busy_e.max_cpu);
    else
        ck_assert_msg(busy_e.max_cpu > 0, "busy child peaked at cpu=%u", busy_e.max_cpu);

    snprintf(idle_prefix, sizeof(idle_prefix), "pid=%d comm=\"ophtop-idle\" cpu=", (int) idle);
    idle_e.prefix = idle_prefix;
    n_idle = each_line(out, idle, check_line, &idle_e, NULL);
    ck_assert_uint_ge(n_idle, 2);
    ck_assert_uint_eq(idle_e.max_cpu, 0);

    ck_assert_uint_ge(each_line(out, mark, NULL, NULL, &first_mark), 1);
    ck_assert_uint_eq(each_line(out + first_mark, busy, NULL, NULL, NULL), 0);
    tu_reap(idle);
    tu_reap(mark);
    harness_free(h);
}
END_TEST

/* More processes than a batch (256) and than the initial pid table (64):
 * a round reports each once. */
START_TEST(test_many) {
    enum { N = 300 };
    struct harness *h = harness_new(plugins);
    pid_t *pids = calloc(N, sizeof(*pids));
    char needle[64];

    ck_assert_ptr_nonnull(pids);
    ck_assert_int_eq(harness_start(h,
                                   "t:\n"
                                   "  gadget: top_process\n"
                                   "  operators:\n"
                                   "    top_process: {interval: 100ms}\n",
                                   NULL),
                     0);
    for (size_t i = 0; i < N; i++) {
        char comm[16];
        snprintf(comm, sizeof(comm), "ophtop-%zu", i);
        pids[i] = spawn(comm, 0, NULL);
    }
    for (size_t i = 0; i < N; i++) {
        snprintf(needle, sizeof(needle), "pid=%d comm=\"ophtop-%zu\" cpu=0 ", (int) pids[i], i);
        ck_assert_msg(harness_wait_for(h, needle, 10000), "no line for child %zu", i);
    }
    ck_assert_int_eq(harness_stop(h, NULL), 0);
    for (size_t i = 0; i < N; i++)
        tu_reap(pids[i]);
    free(pids);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_interval) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails(h,
                         "t:\n"
                         "  gadget: top_process\n"
                         "  operators:\n"
                         "    top_process: {interval: 5ms}\n",
                         NULL, NULL, -EINVAL,
                         "test.yaml:4:19: session 't': operator 'top_process': param 'interval': "
                         "'5ms' is below the minimum 100ms");
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_tests("top-process", 120, (const TTest *const[]){
        test_busy_and_idle,
        test_many,
        test_bad_interval,
        NULL,
    });
}

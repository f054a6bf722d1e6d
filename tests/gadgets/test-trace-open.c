/* test-trace-open.c — the trace_open gadget through the harness, on real
 * fanotify: a child opens files with unique names in a temp dir and exactly
 * those opens come out (path, pid, comm, flags, exec=false); an exec of a
 * copied binary comes out with exec=true; the process's own opens (the
 * daemon's, here the test's) are skipped; mount and filesystem marks;
 * errors for a bad path, a bad mark and a missing CAP_SYS_ADMIN. Skipped
 * when fanotify is not available to the test. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

enum { N_FILES = 20 };

#define TMP_FS "/tmp" /* where tu_make_dir makes its directories */

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_open.so", NULL };
static bool filesystem_marks;
static char *dir; /* a new one for each test, under TMP_FS */
static unsigned event_flags; /* what F_GETFL says of an fd fanotify opens O_RDONLY */

static void touch(const char *name) {
    char path[128];
    int fd;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* Forks a child that opens dir/name once and exits; returns its pid. */
static pid_t child_open(const char *name) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char path[128];
        int fd;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_RDONLY);
        (void) fd;
        raise(SIGKILL); /* not _exit: valgrind would leak-check the child */
    }
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    return pid;
}

/* Forks a child called comm that opens dir/<names[i]> for each i, then
 * stays alive (so the gadget can read its comm) until release(). Children
 * end by SIGKILL, not exit: under valgrind an exiting child would be
 * leak-checked and see the session thread's memory as lost. */
static pid_t start_opener(const char *comm, const char *const *names) {
    int done[2];
    char byte;
    pid_t pid;

    ck_assert_int_eq(pipe(done), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        prctl(PR_SET_NAME, comm);
        for (size_t i = 0; names[i]; i++) {
            char path[128];
            int fd;
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            fd = open(path, O_RDONLY);
            if (fd < 0)
                _exit(1);
            close(fd);
        }
        if (write(done[1], "x", 1) == 1)
            for (;;)
                pause(); /* until release() kills it */
        _exit(1);
    }
    close(done[1]);
    ck_assert_int_eq(read(done[0], &byte, 1), 1);
    close(done[0]);
    return pid;
}

static void release(pid_t pid) {
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

/* harness_start returns before the gadget's start ran: open dir/ready from
 * children until one of those opens is reported. */
static void wait_ready(struct harness *h) {
    char needle[96];
    snprintf(needle, sizeof(needle), "path=\"%s/ready\"", dir);
    touch("ready");
    for (int i = 0; i < 100; i++) {
        child_open("ready");
        if (harness_wait_for(h, needle, 100))
            return;
    }
    ck_abort_msg("trace_open never reported an open of %s/ready", dir);
}

static char *yaml_for(const char *mark) {
    static char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "t:\n"
             "  gadget: trace_open\n"
             "  operators:\n"
             "    trace_open: {path: '%s', mark: %s, path-prefix: '%s/'}\n",
             dir, mark, dir);
    return yaml;
}

/* The lines of out that contain needle: their count, and the first one. */
static size_t lines_with(const char *out, const char *needle, char **ret_first) {
    size_t n = 0;
    *ret_first = NULL;
    for (const char *p = out; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        char *line = strndup(p, len);
        if (strstr(line, needle) && n++ == 0)
            *ret_first = line;
        else
            free(line);
        p += len + (eol != NULL);
    }
    return n;
}

/* Asserts that line is "timestamp=T<rest>" with t0 <= T <= t1. */
static void assert_line(const char *line, const char *rest, uint64_t t0, uint64_t t1) {
    unsigned long long ts;
    int used = 0;
    ck_assert_msg(sscanf(line, "timestamp=%llu%n", &ts, &used) == 1, "bad line '%s'", line);
    ck_assert_msg(strcmp(line + used, rest) == 0, "got '%s', want '...%s'", line, rest);
    ck_assert_uint_ge(ts, t0);
    ck_assert_uint_le(ts, t1);
}

START_TEST(test_opens) {
    struct harness *h = harness_new(plugins);
    char names[N_FILES][16], needle[96], rest[256], *line;
    const char *list[N_FILES + 1] = { NULL };
    uint64_t t0, t1;
    pid_t pid;
    int fd;

    for (int i = 0; i < N_FILES; i++) {
        snprintf(names[i], sizeof(names[i]), "file-%d", i);
        touch(names[i]);
        list[i] = names[i];
    }
    touch("self");
    ck_assert_int_eq(harness_start(h, yaml_for("mount"), NULL), 0);
    wait_ready(h);

    /* The test process is the "daemon" here: its own open is skipped. */
    snprintf(needle, sizeof(needle), "%s/self", dir);
    fd = open(needle, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    close(fd);

    t0 = tu_nsec(CLOCK_REALTIME);
    pid = start_opener("ophopen-child", list);
    snprintf(needle, sizeof(needle), "path=\"%s/file-%d\"", dir, N_FILES - 1);
    ck_assert(harness_wait_for(h, needle, 10000));
    release(pid);
    ck_assert_int_eq(harness_stop(h, NULL), 0);
    t1 = tu_nsec(CLOCK_REALTIME);

    snprintf(needle, sizeof(needle), "path=\"%s/file-", dir);
    ck_assert_uint_eq(lines_with(harness_output(h), needle, &line), N_FILES);
    free(line);
    for (int i = 0; i < N_FILES; i++) {
        snprintf(needle, sizeof(needle), "path=\"%s/file-%d\"", dir, i);
        ck_assert_uint_eq(lines_with(harness_output(h), needle, &line), 1);
        snprintf(rest, sizeof(rest),
                 " pid=%d comm=\"ophopen-child\" path=\"%s/file-%d\" flags=%u exec=false",
                 (int) pid, dir, i, event_flags);
        assert_line(line, rest, t0, t1);
        free(line);
    }
    snprintf(needle, sizeof(needle), "path=\"%s/self\"", dir);
    ck_assert_uint_eq(lines_with(harness_output(h), needle, &line), 0);
    harness_free(h);
}
END_TEST

/* Copies /bin/true to dir/name, executable. */
static void copy_true(const char *name) {
    char *path = tu_path_in(dir, name);

    tu_copy_file("/bin/true", path);
    ck_assert_int_eq(chmod(path, 0755), 0);
    free(path);
}

START_TEST(test_exec) {
    struct harness *h = harness_new(plugins);
    char path[128], needle[160], rest[256], *line, *comm_end;
    uint64_t t0, t1;
    pid_t pid;
    int status;

    copy_true("exec-true");
    snprintf(path, sizeof(path), "%s/exec-true", dir);
    ck_assert_int_eq(harness_start(h, yaml_for("mount"), NULL), 0);
    wait_ready(h);
    t0 = tu_nsec(CLOCK_REALTIME);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(path, "exec-true", (char *) NULL);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(needle, sizeof(needle), "path=\"%s\" flags=%u exec=true", path, event_flags);
    ck_assert(harness_wait_for(h, needle, 10000));
    ck_assert_int_eq(harness_stop(h, NULL), 0);
    t1 = tu_nsec(CLOCK_REALTIME);

    /* One exec event (the exec open carries FAN_OPEN too, in the same
     * event). Under valgrind the child first reads the file as data, which
     * is one more event of the same pid with exec=false. The comm is
     * whatever the process was called when the gadget looked, or unset
     * once it is gone, so the line is checked around it. */
    snprintf(needle, sizeof(needle), " path=\"%s\" flags=%u exec=true", path, event_flags);
    ck_assert_uint_eq(lines_with(harness_output(h), needle, &line), 1);
    comm_end = strstr(line, " path=");
    ck_assert_ptr_nonnull(comm_end);
    ck_assert_str_eq(comm_end, needle);
    snprintf(rest, sizeof(rest), " pid=%d comm=", (int) pid);
    ck_assert_msg(strstr(line, rest), "got '%s'", line);
    *strstr(line, " comm=") = '\0';
    snprintf(rest, sizeof(rest), " pid=%d", (int) pid);
    assert_line(line, rest, t0, t1);
    free(line);
    /* Every line of the child is of this path, every line of this path is
     * the child's, and only one is the exec. */
    snprintf(needle, sizeof(needle), " path=\"%s\" ", path);
    snprintf(rest, sizeof(rest), " pid=%d comm=", (int) pid);
    ck_assert_uint_eq(lines_with(harness_output(h), needle, &line),
                      lines_with(harness_output(h), rest, &comm_end));
    free(line);
    free(comm_end);
    harness_free(h);
}
END_TEST

START_TEST(test_filesystem_mark) {
    static const char *const list[] = { "fs-file", NULL };
    struct harness *h = harness_new(plugins);
    char needle[96], rest[256], *line;
    uint64_t t0, t1;
    pid_t pid;

    if (!filesystem_marks) {
        printf("filesystem marks are refused on %s: not testing them\n", dir);
        harness_free(h);
        return;
    }
    touch("fs-file");
    ck_assert_int_eq(harness_start(h, yaml_for("filesystem"), NULL), 0);
    wait_ready(h);
    t0 = tu_nsec(CLOCK_REALTIME);
    pid = start_opener("ophopen-fs", list);
    snprintf(needle, sizeof(needle), "path=\"%s/fs-file\"", dir);
    ck_assert(harness_wait_for(h, needle, 10000));
    release(pid);
    ck_assert_int_eq(harness_stop(h, NULL), 0);
    t1 = tu_nsec(CLOCK_REALTIME);
    ck_assert_uint_eq(lines_with(harness_output(h), needle, &line), 1);
    snprintf(rest, sizeof(rest), " pid=%d comm=\"ophopen-fs\" path=\"%s/fs-file\" flags=%u exec=false",
             (int) pid, dir, event_flags);
    assert_line(line, rest, t0, t1);
    free(line);
    harness_free(h);
}
END_TEST

START_TEST(test_errors) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails(h,
                         "t:\n"
                         "  gadget: trace_open\n"
                         "  operators:\n"
                         "    trace_open: {path: /nonexistent-ophost/x}\n",
                         NULL, NULL, -ENOENT,
                         "operator 'trace_open': pre_start failed: param 'path': cannot mark "
                         "'/nonexistent-ophost/x': No such file or directory");
    harness_assert_fails(h,
                         "t:\n"
                         "  gadget: trace_open\n"
                         "  operators:\n"
                         "    trace_open: {path: tmp}\n",
                         NULL, NULL, -EINVAL,
                         "operator 'trace_open': instantiate failed: param 'path': 'tmp' is not an "
                         "absolute path");
    harness_assert_fails(h,
                         "t:\n"
                         "  gadget: trace_open\n"
                         "  operators:\n"
                         "    trace_open: {mark: inode}\n",
                         NULL, NULL, -EINVAL,
                         "test.yaml:4:18: session 't': operator 'trace_open': param 'mark': "
                         "'inode' is not one of: mount, filesystem");
    harness_free(h);
}
END_TEST

/* Without CAP_SYS_ADMIN the session fails at pre_start and says why. The
 * capability is dropped in a child, so the tests that follow keep it. */
START_TEST(test_no_capability) {
    char err[512] = "";
    int fds[2], status, r = 0, used = 0;
    ssize_t n;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2];
        struct harness *h;
        char *msg = NULL;

        if (syscall(SYS_capget, &hdr, data) < 0)
            _exit(2);
        data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
        data[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
        if (syscall(SYS_capset, &hdr, data) < 0)
            _exit(3);
        h = harness_new(plugins);
        r = harness_run(h, yaml_for("mount"), NULL, NULL, &msg);
        dprintf(fds[1], "%d %s", r, msg ? msg : "(no message)");
        free(msg);
        harness_free(h);
        raise(SIGKILL); /* not _exit: valgrind would leak-check the child */
    }
    close(fds[1]);
    n = read(fds[0], err, sizeof(err) - 1);
    close(fds[0]);
    ck_assert_int_ge(n, 0);
    err[n] = '\0';
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(sscanf(err, "%d %n", &r, &used), 1);
    ck_assert_int_eq(r, -EPERM);
    memmove(err, err + used, strlen(err + used) + 1);
    ck_assert_str_eq(err, "operator 'trace_open': pre_start failed: fanotify_init: Operation not "
                          "permitted: trace_open needs CAP_SYS_ADMIN (run ophostd as root)");
}
END_TEST

/* Whether this process may use fanotify on TMP_FS (needs CAP_SYS_ADMIN). */
static int probe(void) {
    int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
    int ev;

    if (fd < 0) {
        printf("SKIP: fanotify_init: %s (trace_open needs CAP_SYS_ADMIN)\n", strerror(errno));
        return -1;
    }
    if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN | FAN_OPEN_EXEC, AT_FDCWD,
                      TMP_FS) < 0) {
        printf("SKIP: fanotify_mark(FAN_MARK_MOUNT, %s): %s\n", TMP_FS, strerror(errno));
        close(fd);
        return -1;
    }
    filesystem_marks = fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
                                     FAN_OPEN | FAN_OPEN_EXEC, AT_FDCWD, TMP_FS) == 0;
    close(fd);
    ev = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (ev < 0)
        return -1;
    event_flags = (unsigned) fcntl(ev, F_GETFL) & ~(unsigned) O_CLOEXEC;
    close(ev);
    return 0;
}

static void setup(void) {
    dir = tu_make_dir("trace-open");
}

static void teardown(void) {
    tu_remove_tree(dir);
    free(dir);
}

int main(void) {
    if (probe() < 0)
        return 77;
    return tu_run_suite("trace-open", 120, setup, teardown, (const TTest *const[]){
        test_opens,
        test_exec,
        test_filesystem_mark,
        test_errors,
        test_no_capability,
        NULL,
    });
}

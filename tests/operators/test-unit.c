/* test-unit.c — the unit enricher: the cgroup-path container parser on a
 * table of real-looking paths (called directly), the test's own process
 * compared with sd_pid_get_unit/sd_pid_get_slice, a process moved into a
 * docker-like cgroup (when the cgroup v2 tree is writable), gone
 * processes, and the instantiate errors. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "harness.h"
#include "testutil.h"
#include "../../plugins/unit/cgroup-container.h"

#define PLUGIN TEST_PLUGIN_DIR "/unit.so"
#define ID "3f4e8a1c9b2d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *const plugins[] = { PLUGIN, NULL };

START_TEST(test_parser) {
    static const struct {
        const char *path;
        const char *runtime; /* NULL: not a container */
        const char *id;
    } cases[] = {
        { "/system.slice/docker-" ID ".scope", "docker", ID },
        { "/docker/" ID, "docker", ID },
        { "/docker/" ID "/docker/" ID2, "docker", ID2 },          /* docker in docker: inner */
        { "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1c2a9e_7b3d_4c2e_9f1a_0e8d7c6b5a49.slice/cri-containerd-" ID ".scope",
          "containerd", ID },
        { "/kubepods/besteffort/pod5f1c2a9e-7b3d-4c2e-9f1a-0e8d7c6b5a49/" ID, "cri", ID },
        { "/system.slice/containerd.service/kubepods-besteffort-pod5f1c2a9e_7b3d.slice:cri-containerd:" ID,
          "containerd", ID },
        { "/kubepods.slice/kubepods-pod1.slice/crio-" ID ".scope", "cri-o", ID },
        { "/kubepods.slice/kubepods-pod1.slice/crio-conmon-" ID ".scope", NULL, NULL },
        { "/machine.slice/libpod-" ID ".scope", "podman", ID },
        { "/machine.slice/libpod-" ID ".scope/container", "podman", ID },
        { "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
          "podman", ID },
        { "/libpod_parent/libpod-" ID, "podman", ID },
        { "/machine.slice/libpod-conmon-" ID ".scope", NULL, NULL },
        { "/machine.slice/machine-debian.scope/payload", "systemd-nspawn", "debian" },
        { "/machine.slice/machine-my\\x2dbox.scope", "systemd-nspawn", "my-box" },
        { "/machine.slice/systemd-nspawn@web\\x2d1.service/payload/system.slice/cron.service",
          "systemd-nspawn", "web-1" },
        { "/machine.slice/machine-qemu\\x2d1\\x2dwin11.scope/libvirt/emulator", "libvirt",
          "qemu-1-win11" },
        { "/user.slice/user-1000.slice/session-2.scope", NULL, NULL },
        { "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope",
          NULL, NULL },
        { "/system.slice/ssh.service", NULL, NULL },
        { "/system.slice/docker.service", NULL, NULL },
        { "/", NULL, NULL },
        { "", NULL, NULL },
        { "/system.slice/docker-" ID ".scopeX", NULL, NULL },
        { "/system.slice/docker-3f4e8a1c9b2d.scope", NULL, NULL },      /* short id */
        { "/docker/" ID "0", NULL, NULL },                                /* 65 hex */
        { "/docker/3F4E8A1C9B2D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F", NULL, NULL },
        { "/other/" ID, NULL, NULL },                                     /* hex, no runtime */
        { "/machine.slice/machine-.scope", NULL, NULL },
        { "///:::docker-:", NULL, NULL },
        { "garbage\\xzz/machine-a\\x.scope", "systemd-nspawn", "a\\x" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[80] = "untouched";
        size_t len = 12345;
        int rt = cgroup_container_parse(cases[i].path, strlen(cases[i].path), id, sizeof(id),
                                        &len);
        if (!cases[i].runtime) {
            ck_assert_msg(rt == CONTAINER_NONE, "%s: runtime %s", cases[i].path,
                          container_runtime_name(rt));
            ck_assert_str_eq(id, "untouched");
            ck_assert_uint_eq(len, 12345);
            continue;
        }
        ck_assert_msg(rt != CONTAINER_NONE, "%s: no container", cases[i].path);
        ck_assert_str_eq(container_runtime_name(rt), cases[i].runtime);
        ck_assert_str_eq(id, cases[i].id);
        ck_assert_uint_eq(len, strlen(cases[i].id));
    }
    /* An id that does not fit the caller's buffer is not reported. */
    {
        char small[8];
        size_t len = 0;
        const char *p = "/machine.slice/machine-debian.scope";
        ck_assert_int_eq(cgroup_container_parse(p, strlen(p), small, 4, &len), CONTAINER_NONE);
        p = "/docker/" ID;
        ck_assert_int_eq(cgroup_container_parse(p, strlen(p), small, sizeof(small), &len),
                         CONTAINER_NONE);
    }
}
END_TEST

static void feed_pids(struct harness_feed *f, void *userdata) {
    const uint64_t *pids = userdata;
    for (size_t i = 0; pids[i] != UINT64_MAX; i++)
        harness_set_u64(f, harness_append(f), "pid", pids[i]);
}

static char *quoted(const char *s) {
    char *q;
    if (!s)
        return strdup("-");
    ck_assert_int_ne(asprintf(&q, "\"%s\"", s), -1);
    return q;
}

/* The test's own pid: unit and slice as sd-login reports them (unset when
 * it reports none), twice (the second from the cache). */
START_TEST(test_self) {
    struct harness *h = harness_new(plugins);
    uint64_t pids[] = { (uint64_t) getpid(), (uint64_t) getpid(), UINT64_MAX };
    char *unit = NULL, *slice = NULL, *qu, *qs, *line, *want;
    int ru = sd_pid_get_unit(0, &unit), rs = sd_pid_get_slice(0, &slice);

    if (ru < 0)
        printf("note: sd_pid_get_unit: %s; this checks that unit stays unset\n", strerror(-ru));
    if (rs < 0)
        printf("note: sd_pid_get_slice: %s; this checks that slice stays unset\n", strerror(-rs));
    qu = quoted(ru >= 0 ? unit : NULL);
    qs = quoted(rs >= 0 ? slice : NULL);
    ck_assert_int_ne(asprintf(&line, "pid=%d unit=%s slice=%s container.id=- container.runtime=-\n",
                              (int) getpid(), qu, qs), -1);
    ck_assert_int_ne(asprintf(&want, "%s%s", line, line), -1);
    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'pid:u32'}\n"
                                 "    unit: {}\n",
                                 feed_pids, pids, NULL), 0);
    ck_assert_str_eq(harness_output(h), want);
    free(unit);
    free(slice);
    free(qu);
    free(qs);
    free(line);
    free(want);
    harness_free(h);
}
END_TEST

/* Whether this process's cgroup v2 path is the root of a writable cgroup2
 * mount, so a test cgroup can be made beside it. Returns the mount. */
static const char *cgroup2_root(void) {
    static const char *const mounts[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
    char buf[4096];
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    if (!strstr(buf, "0::/\n"))
        return NULL;
    for (size_t i = 0; i < 2; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/cgroup.procs", mounts[i]);
        if (access(p, W_OK) == 0)
            return mounts[i];
    }
    return NULL;
}

/* A child moved into <cgroup2>/ophost-test-<pid>/docker-ID.scope is
 * reported as docker container ID. */
START_TEST(test_live_container) {
    const char *root = cgroup2_root();
    struct harness *h;
    char dir[256], scope[512], procs[600], want[512];
    uint64_t pids[3];
    pid_t child;
    int fd;

    if (!root || geteuid() != 0) {
        printf("note: no writable cgroup2 tree at our own cgroup '/' (or not root), "
               "skipping the live container case\n");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/ophost-test-%d", root, (int) getpid());
    snprintf(scope, sizeof(scope), "%s/docker-" ID ".scope", dir);
    if (mkdir(dir, 0755) < 0 || mkdir(scope, 0755) < 0) {
        printf("note: cannot make %s: %s, skipping the live container case\n", scope,
               strerror(errno));
        rmdir(dir);
        return;
    }
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", scope);
    fd = open(procs, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_gt(dprintf(fd, "%d\n", (int) child), 0);
    close(fd);

    h = harness_new(plugins);
    pids[0] = (uint64_t) child;
    pids[1] = (uint64_t) child;
    pids[2] = UINT64_MAX;
    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'pid:u32'}\n"
                                 "    unit: {cache-size: 1}\n",
                                 feed_pids, pids, NULL), 0);
    snprintf(want, sizeof(want), " container.id=\"" ID "\" container.runtime=\"docker\"\n");
    {
        const char *out = harness_output(h), *first = strstr(out, want);
        ck_assert_msg(first != NULL, "got %s", out);
        ck_assert_ptr_nonnull(strstr(first + 1, want));
    }
    tu_reap(child);
    ck_assert_int_eq(rmdir(scope), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    harness_free(h);
}
END_TEST

START_TEST(test_gone) {
    struct harness *h = harness_new(plugins);
    uint64_t pids[] = { 2147483646u, 0, UINT64_MAX };

    ck_assert_int_eq(harness_run(h,
                                 "t:\n"
                                 "  gadget: feed\n"
                                 "  operators:\n"
                                 "    feed: {fields: 'pid:u64'}\n"
                                 "    unit: {}\n",
                                 feed_pids, pids, NULL), 0);
    ck_assert_str_eq(harness_output(h),
                     "pid=2147483646 unit=- slice=- container.id=- container.runtime=-\n"
                     "pid=0 unit=- slice=- container.id=- container.runtime=-\n");
    harness_free(h);
}
END_TEST

START_TEST(test_errors) {
    static const struct harness_error_case cases[] = {
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'seq:u64'}\n    unit: {}\n",
          "operator 'unit': instantiate failed: param 'pid-field': data source 'events' has no field 'pid'" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'pid:timestamp'}\n    unit: {}\n",
          "operator 'unit': instantiate failed: param 'pid-field': field 'pid' is of type timestamp, not an integer type" },
        { "t:\n  gadget: feed\n  operators:\n    feed: {fields: 'pid:u32,slice:string'}\n    unit: {}\n",
          "operator 'unit': instantiate failed: field 'slice' already exists in data source 'events'" },
    };

    harness_assert_errors(plugins, feed_pids, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

int main(void) {
    return tu_run_tests("unit", 0, (const TTest *const[]){
        test_parser,
        test_self,
        test_live_container,
        test_gone,
        test_errors,
        NULL,
    });
}

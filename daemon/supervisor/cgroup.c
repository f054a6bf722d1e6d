/* cgroup.c — per-child cgroups below a delegated cgroup (see cgroup.h). */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "log.h"
#include "util.h"

static char *workers_dir; /* U/workers when enabled */
static unsigned next_id;

bool cgroup_enabled(void) {
    return workers_dir != NULL;
}

static int write_file(const char *dir, const char *name, const char *value) {
    _cleanup_free_ char *path = strprintf("%s/%s", dir, name);
    _cleanup_close_ int fd = -1;
    size_t len = strlen(value);

    if (!path)
        return -ENOMEM;
    fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (write(fd, value, len) != (ssize_t) len)
        return errno ? -errno : -EIO;
    return 0;
}

/* The first line of dir/name, NUL-terminated, into buf. */
static int read_line(const char *dir, const char *name, char *buf, size_t n) {
    _cleanup_free_ char *path = strprintf("%s/%s", dir, name);
    _cleanup_fclose_ FILE *f = NULL;

    if (!path)
        return -ENOMEM;
    f = fopen(path, "re");
    if (!f)
        return -errno;
    if (!fgets(buf, (int) n, f))
        return -ENODATA;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* Our cgroup v2 path ("/system.slice/ophostd.service"), from /proc. */
static char *own_cgroup(void) {
    _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
    char line[4096];

    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            return strdup(line + 3);
        }
    return NULL;
}

static bool has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return true;
    return false;
}

static bool delegated(const char *dir) {
    char v[8];
    for (size_t i = 0; i < 2; i++) {
        const char *attr = i == 0 ? "trusted.delegate" : "user.delegate";
        ssize_t n = getxattr(dir, attr, v, sizeof(v) - 1);
        if (n > 0) {
            v[n] = '\0';
            if (v[0] == '1')
                return true;
        }
    }
    return false;
}

int cgroup_setup(const char *root, char **ret_what) {
    _cleanup_free_ char *own = own_cgroup(), *unit = NULL, *sup = NULL, *workers = NULL;
    char controllers[512] = "", enable[64] = "", pid[32];
    static const char *const wanted[] = { "memory", "pids", "cpu" };
    int r;

    if (!own || streq(own, "/")) {
        *ret_what = strdup("no cgroup v2 of our own");
        return 0;
    }
    /* Already set up (a restart of the loop in the same process). */
    if (endswith(own, "/supervisor")) {
        own[strlen(own) - strlen("/supervisor")] = '\0';
    }
    unit = strprintf("%s%s", root, own);
    if (!unit)
        return -ENOMEM;
    if (!delegated(unit)) {
        *ret_what = strprintf("%s is not delegated to ophostd (Delegate=yes)", unit);
        return 0;
    }
    if (read_line(unit, "cgroup.controllers", controllers, sizeof(controllers)) < 0) {
        *ret_what = strprintf("%s has no cgroup.controllers", unit);
        return 0;
    }
    for (size_t i = 0; i < ELEMENTSOF(wanted); i++)
        if (has_word(controllers, wanted[i])) {
            size_t l = strlen(enable);
            snprintf(enable + l, sizeof(enable) - l, "%s+%s", l ? " " : "", wanted[i]);
        }
    if (!has_word(controllers, "memory")) {
        *ret_what = strprintf("%s offers no memory controller (controllers: '%s')", unit,
                              controllers);
        return 0;
    }
    sup = strprintf("%s/supervisor", unit);
    workers = strprintf("%s/workers", unit);
    if (!sup || !workers)
        return -ENOMEM;
    if ((mkdir(sup, 0755) < 0 && errno != EEXIST) || (mkdir(workers, 0755) < 0 && errno != EEXIST))
        return -errno;
    snprintf(pid, sizeof(pid), "%d", (int) getpid());
    r = write_file(sup, "cgroup.procs", pid);
    if (r < 0)
        return r;
    r = write_file(unit, "cgroup.subtree_control", enable);
    if (r >= 0)
        r = write_file(workers, "cgroup.subtree_control", enable);
    if (r < 0)
        return r;
    *ret_what = strprintf("%s (controllers %s)", workers, enable);
    workers_dir = TAKE_PTR(workers);
    return 1;
}

int cgroup_create(const char *name, const struct config_limits *l, char **ret_path) {
    _cleanup_free_ char *path = NULL;
    char v[32];
    int r;

    if (!workers_dir)
        return -EOPNOTSUPP;
    path = strprintf("%s/%s.%u", workers_dir, name, ++next_id);
    if (!path)
        return -ENOMEM;
    if (mkdir(path, 0755) < 0)
        return -errno;
    if (l->memory_max > 0) {
        snprintf(v, sizeof(v), "%" PRIu64, l->memory_max);
        r = write_file(path, "memory.max", v);
        if (r < 0)
            goto fail;
        (void) write_file(path, "memory.swap.max", "0");
        (void) write_file(path, "memory.oom.group", "1");
    }
    if (l->tasks_max > 0) {
        snprintf(v, sizeof(v), "%" PRIu64, l->tasks_max);
        (void) write_file(path, "pids.max", v);
    }
    snprintf(v, sizeof(v), "%" PRIu64, l->cpu_weight);
    (void) write_file(path, "cpu.weight", v);
    *ret_path = TAKE_PTR(path);
    return 0;
fail:
    (void) rmdir(path);
    return r;
}

int cgroup_attach(const char *path, pid_t pid) {
    char v[32];
    snprintf(v, sizeof(v), "%d", (int) pid);
    return write_file(path, "cgroup.procs", v);
}

bool cgroup_oom_killed(const char *path) {
    _cleanup_free_ char *file = strprintf("%s/memory.events", path);
    _cleanup_fclose_ FILE *f = file ? fopen(file, "re") : NULL;
    char line[128];
    unsigned long long n;

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "oom_kill %llu", &n) == 1)
            return n > 0;
    return false;
}

void cgroup_remove(const char *path) {
    if (rmdir(path) < 0 && errno != ENOENT)
        log_warning("cannot remove cgroup %s: %m, ignoring", path);
}

/*
 * child.c — spawning and watching processes that run plugin code (see
 * child.h).
 *
 * A child is started with posix_spawn() (vfork semantics: cheap even for
 * a large supervisor) of ophostd --worker, its socket dup2()ed to fd 3, an
 * empty signal mask and default dispositions, and an environment without
 * systemd's notification and activation variables. The program is the one
 * the supervisor runs, held open since the first spawn (/proc/self/fd/N),
 * so a package upgrade that replaces the file cannot mix versions. Its end
 * is an sd-event child source (a pidfd where the kernel has them); before
 * on_end runs, every message still queued on its socket is delivered, so a
 * final state is never lost to a race with the exit.
 *
 * The watchdog: one timer for all children, armed while any runs. Each tick
 * reads (call, seq) from every child's status page; a call that is still the
 * same call (same seq) after its deadline gets the child killed.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "log.h"
#include "util.h"

extern char **environ;

#define WATCHDOG_TICK_MAX_USEC (1000 * 1000)
#define WATCHDOG_TICK_MIN_USEC (50 * 1000)

struct child {
    struct child *prev, *next;   /* the list of children the watchdog samples */
    sd_event *loop;
    char *what;
    pid_t pid;
    int sock;
    sd_event_source *sock_es, *pid_es;
    struct status_page *page;
    size_t page_size;
    int page_fd;                 /* until the first message took it */
    struct child_deadlines deadlines;
    char *cgroup;                /* its cgroup's path, when cgroups apply */
    child_message_fn on_message;
    child_end_fn on_end;
    void *userdata;
    bool running;
    bool orphan;                 /* freed by its owner while running */
    /* the watchdog's last sample */
    uint32_t seen_call, seen_seq;
    uint64_t seen_since;
    struct child_exit exit;
};

static const char *executable;  /* NULL: this program */
static int exe_fd = -1;          /* this program, held open */
static struct child *children;
static sd_event_source *watchdog_es;

void child_set_executable(const char *path) {
    executable = path;
}

const char *signal_name(int signo, char buf[32]) {
    const char *abbrev = sigabbrev_np(signo);
    if (abbrev)
        snprintf(buf, 32, "SIG%s", abbrev);
    else
        snprintf(buf, 32, "signal %d", signo);
    return buf;
}

const char *format_usec(uint64_t usec, char buf[32]) {
    if (usec % 1000000 == 0)
        snprintf(buf, 32, "%llus", (unsigned long long) (usec / 1000000));
    else if (usec % 1000 == 0)
        snprintf(buf, 32, "%llums", (unsigned long long) (usec / 1000));
    else
        snprintf(buf, 32, "%lluus", (unsigned long long) usec);
    return buf;
}

/* --------------------------------------------------------------- watchdog */

static uint64_t deadline_of(const struct child *c, uint32_t call) {
    enum call_kind k = CALL_KIND(call);
    if (k == CALL_DLOPEN || k == CALL_ENTRY)
        return c->deadlines.load_usec;
    return call_kind_is_data_path(k) ? c->deadlines.data_usec : c->deadlines.callback_usec;
}

static uint64_t watchdog_tick(void) {
    uint64_t tick = WATCHDOG_TICK_MAX_USEC;
    for (struct child *c = children; c; c = c->next) {
        const uint64_t d[] = { c->deadlines.load_usec, c->deadlines.data_usec,
                               c->deadlines.callback_usec };
        for (size_t i = 0; i < ELEMENTSOF(d); i++)
            if (d[i] > 0 && d[i] / 4 < tick)
                tick = d[i] / 4;
    }
    return tick < WATCHDOG_TICK_MIN_USEC ? WATCHDOG_TICK_MIN_USEC : tick;
}

static void child_kill_stuck(struct child *c, uint32_t call, uint64_t deadline) {
    c->exit.how = CHILD_STUCK;
    c->exit.call = call;
    c->exit.stuck_usec = deadline;
    (void) kill(c->pid, SIGKILL);
}

static int on_watchdog(sd_event_source *es, uint64_t usec, void *userdata) {
    uint64_t now = monotonic_usec();

    for (struct child *c = children; c; c = c->next) {
        uint32_t call, seq;
        if (!c->running || c->exit.how == CHILD_STUCK || c->exit.how == CHILD_KILLED)
            continue;
        call = atomic_load_explicit(&c->page->call, memory_order_relaxed);
        seq = atomic_load_explicit(&c->page->seq, memory_order_relaxed);
        if (call == CALL_NONE || call != c->seen_call || seq != c->seen_seq) {
            c->seen_call = call;
            c->seen_seq = seq;
            c->seen_since = now;
            continue;
        }
        if (deadline_of(c, call) > 0 && now - c->seen_since >= deadline_of(c, call))
            child_kill_stuck(c, call, deadline_of(c, call));
    }
    (void) sd_event_source_set_time_relative(es, watchdog_tick());
    (void) sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
    return 0;
}

/* The watchdog exists while a child does: no wake-up when there is none. */
static void watchdog_arm(sd_event *loop) {
    int r;
    if (watchdog_es) {
        (void) sd_event_source_set_time_relative(watchdog_es, watchdog_tick());
        return;
    }
    r = sd_event_add_time_relative(loop, &watchdog_es, CLOCK_MONOTONIC, watchdog_tick(),
                                   10 * 1000, on_watchdog, NULL);
    if (r < 0)
        log_full(LOG_WARNING, r, NULL,
                 "cannot start the deadline watchdog: %m, plugin calls are not timed");
}

/* ------------------------------------------------------------ messages */

static void list_remove(struct child *c) {
    if (c->prev)
        c->prev->next = c->next;
    else if (children == c)
        children = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (!children)
        watchdog_es = sd_event_source_disable_unref(watchdog_es);
}

static void child_destroy(struct child *c) {
    list_remove(c);
    sd_event_source_disable_unref(c->sock_es);
    sd_event_source_disable_unref(c->pid_es);
    if (c->sock >= 0)
        close(c->sock);
    if (c->page_fd >= 0)
        close(c->page_fd);
    if (c->page)
        munmap(c->page, c->page_size);
    if (c->cgroup) {
        cgroup_remove(c->cgroup);
        free(c->cgroup);
    }
    free(c->exit.kill_reason);
    free(c->what);
    free(c);
}

/* Delivers every message queued on the socket. Returns false when the
 * socket ended or broke (no more messages will come). */
static bool drain(struct child *c) {
    static char buf[PROTO_MESSAGE_MAX + sizeof(struct proto_header)];

    while (c->sock >= 0) {
        struct proto_msg m;
        int r = proto_recv(c->sock, &m, buf, sizeof(buf));
        if (r == -EAGAIN)
            return true;
        if (r <= 0) {
            if (r == -EBADMSG && c->running)
                child_kill(c, "sent a malformed message");
            c->sock_es = sd_event_source_disable_unref(c->sock_es);
            close(c->sock);
            c->sock = -1;
            return false;
        }
        if (!c->orphan && c->on_message)
            c->on_message(c, &m, c->userdata);
        proto_msg_close_fds(&m);
    }
    return false;
}

static int on_sock(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    (void) drain(userdata);
    return 0;
}

/* The child ended; sd-event reaps it after we return. */
static int on_exit_of(sd_event_source *es, const siginfo_t *si, void *userdata) {
    struct child *c = userdata;
    struct rusage ru = { 0 };
    siginfo_t peek;

    /* Its peak memory, before it is reaped: the raw waitid() has the
     * rusage argument glibc's wrapper lacks. */
    (void) syscall(SYS_waitid, P_PID, c->pid, &peek, WEXITED | WNOHANG | WNOWAIT, &ru);
    c->running = false;
    c->pid_es = sd_event_source_disable_unref(c->pid_es);
    (void) drain(c);
    c->exit.max_rss = (uint64_t) ru.ru_maxrss * 1024;
    if (c->exit.how == CHILD_EXITED) { /* not already STUCK or KILLED */
        if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) {
            c->exit.how = CHILD_SIGNALED;
            c->exit.code = si->si_status;
            c->exit.core_dumped = si->si_code == CLD_DUMPED;
        } else
            c->exit.code = si->si_status;
        c->exit.call = atomic_load_explicit(&c->page->call, memory_order_relaxed);
    }
    if (c->cgroup)
        c->exit.oom = cgroup_oom_killed(c->cgroup);
    list_remove(c);
    if (c->orphan)
        child_destroy(c);
    else if (c->on_end)
        c->on_end(c, c->userdata);
    return 0;
}

/* ----------------------------------------------------------------- spawn */

/* The environment of a child: ours, without what systemd meant for the
 * supervisor alone (notifications, the watchdog, socket activation). */
static char **child_environ(void) {
    static const char *const drop[] = { "NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
                                        "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=" };
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    env = calloc(n + 1, sizeof(char *));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        bool keep = true;
        for (size_t d = 0; d < ELEMENTSOF(drop) && keep; d++)
            keep = strncmp(environ[i], drop[d], strlen(drop[d])) != 0;
        if (keep)
            env[k++] = environ[i];
    }
    return env;
}

/* The nice value whose CFS weight is closest to a cgroup cpu.weight (100 is
 * nice 0): what cpu-weight means without a cgroup. */
static int nice_of_weight(uint64_t weight) {
    /* The kernel's sched_prio_to_weight[] (nice -20..19), scaled so that
     * nice 0 (1024) is weight 100, as cgroup v2 does. */
    static const uint32_t w[40] = { 88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705,
                                    14949, 11916, 9548,  7620,  6100,  4904,  3906,  3121,
                                    2501,  1991,  1586,  1277,  1024,  820,   655,   526,
                                    423,   335,   272,   215,   172,   137,   110,   87,
                                    70,    56,    45,    36,    29,    23,    18,    15 };
    uint64_t want = weight * 1024 / 100;
    int best = 20;
    for (int i = 0; i < 40; i++) {
        uint64_t d = w[i] > want ? w[i] - want : want - w[i];
        uint64_t bd = w[best] > want ? w[best] - want : want - w[best];
        if (d < bd)
            best = i;
    }
    return best - 20;
}

int child_spawn(sd_event *loop, const struct child_spec *spec, struct child **ret,
                char **ret_error) {
    _cleanup_free_ char **env = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    struct child *c;
    sigset_t none, all, chld;
    char exe[64];
    int sv[2] = { -1, -1 }, r;

    /* sd-event watches children through SIGCHLD where it has no pidfd:
     * blocked, as it requires (children get an empty mask). */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, NULL);
    if (!executable && exe_fd < 0) {
        exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
        if (exe_fd < 0) {
            r = -errno;
            *ret_error = strprintf("cannot open this program to run workers: %s", strerror(-r));
            return r;
        }
    }
    snprintf(exe, sizeof(exe), "/proc/self/fd/%d", exe_fd);

    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->sock = c->page_fd = -1;
    c->loop = loop;
    c->deadlines = spec->deadlines;
    c->on_message = spec->on_message;
    c->on_end = spec->on_end;
    c->userdata = spec->userdata;
    c->what = strdup(spec->what);
    env = child_environ();
    if (!c->what || !env) {
        r = -ENOMEM;
        goto fail;
    }

    /* The status page. */
    c->page_size = status_page_size(spec->n_counters);
    c->page_fd = memfd_create("ophost-status", MFD_CLOEXEC);
    if (c->page_fd < 0 || ftruncate(c->page_fd, (off_t) c->page_size) < 0) {
        r = -errno;
        *ret_error = strprintf("cannot create the status page: %s", strerror(-r));
        goto fail;
    }
    c->page = mmap(NULL, c->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->page_fd, 0);
    if (c->page == MAP_FAILED) {
        r = -errno;
        c->page = NULL;
        *ret_error = strprintf("cannot map the status page: %s", strerror(-r));
        goto fail;
    }
    c->page->magic = STATUS_MAGIC;
    c->page->n_counters = (uint32_t) spec->n_counters;

    r = proto_socketpair(sv);
    if (r < 0) {
        *ret_error = strprintf("cannot create a socket pair: %s", strerror(-r));
        goto fail;
    }
    /* dup2() onto the same number would keep close-on-exec: never 3. */
    if (sv[1] == PROTO_CHILD_FD) {
        int f = fcntl(sv[1], F_DUPFD_CLOEXEC, PROTO_CHILD_FD + 1);
        if (f < 0) {
            r = -errno;
            goto fail;
        }
        close(sv[1]);
        sv[1] = f;
    }
    if (spec->limits && spec->cgroup_name && cgroup_enabled()) {
        r = cgroup_create(spec->cgroup_name, spec->limits, &c->cgroup);
        if (r < 0)
            log_warning("cannot create a cgroup for %s: %s, its limits do not apply", spec->what,
                        strerror(-r));
    }

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, sv[1], PROTO_CHILD_FD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    /* A session of its own: a terminal's Ctrl-C, or a signal to the
     * supervisor's process group, reaches the supervisor only, which then
     * stops its workers properly. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSID);
    {
        char *argv[] = { (char *) "ophostd", (char *) "--worker", c->what, NULL };
        r = -posix_spawn(&c->pid, executable ? executable : exe, &fa, &attr, argv, env);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    sv[1] = -1;
    c->sock = sv[0];
    sv[0] = -1;
    if (r < 0) {
        *ret_error = strprintf("cannot start %s (%s): %s", spec->what,
                               executable ? executable : "ophostd", strerror(-r));
        goto fail;
    }
    c->running = true;
    if (c->cgroup) {
        r = cgroup_attach(c->cgroup, c->pid);
        if (r < 0)
            log_warning("cannot move %s into its cgroup: %s, its limits do not apply", spec->what,
                        strerror(-r));
    } else if (spec->limits && spec->limits->cpu_weight != CONFIG_CPU_WEIGHT_DEFAULT) {
        (void) setpriority(PRIO_PROCESS, (id_t) c->pid, nice_of_weight(spec->limits->cpu_weight));
    }

    (void) fcntl(c->sock, F_SETFL, fcntl(c->sock, F_GETFL) | O_NONBLOCK);
    r = sd_event_add_io(loop, &c->sock_es, c->sock, EPOLLIN, on_sock, c);
    if (r >= 0)
        r = sd_event_add_child(loop, &c->pid_es, c->pid, WEXITED, on_exit_of, c);
    if (r < 0) {
        *ret_error = strprintf("cannot watch %s: %s", spec->what, strerror(-r));
        goto fail;
    }
    c->seen_since = monotonic_usec();
    c->next = children;
    if (children)
        children->prev = c;
    children = c;
    watchdog_arm(loop);
    *ret = c;
    return 0;

fail:
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (c->running) {
        (void) kill(c->pid, SIGKILL);
        (void) waitpid(c->pid, NULL, 0);
        c->running = false;
    }
    if (r == -ENOMEM && !*ret_error)
        *ret_error = strdup("out of memory");
    child_destroy(c);
    return r;
}

int child_send_first(struct child *c, uint32_t type, json_object *o, const int *fds,
                     size_t n_fds) {
    int all[PROTO_FDS_MAX];
    int r;

    if (n_fds + 1 > PROTO_FDS_MAX)
        return -EMSGSIZE;
    if (c->sock < 0 || c->page_fd < 0)
        return -ENOTCONN;
    memcpy(all, fds, n_fds * sizeof(int));
    all[n_fds] = c->page_fd;
    r = proto_send_json(c->sock, type, o, all, n_fds + 1);
    if (r >= 0) {
        close(c->page_fd);
        c->page_fd = -1;
    }
    return r;
}

int child_send(struct child *c, uint32_t type, json_object *o) {
    if (c->sock < 0)
        return -ENOTCONN;
    return proto_send_json(c->sock, type, o, NULL, 0);
}

void child_kill(struct child *c, const char *reason) {
    if (!c->running || c->exit.how != CHILD_EXITED)
        return;
    c->exit.how = CHILD_KILLED;
    c->exit.kill_reason = strdup(reason);
    c->exit.call = atomic_load_explicit(&c->page->call, memory_order_relaxed);
    (void) kill(c->pid, SIGKILL);
}

struct child *child_free(struct child *c) {
    if (!c)
        return NULL;
    if (c->running) {
        /* Reaped by on_exit_of, which then frees it. */
        c->orphan = true;
        (void) kill(c->pid, SIGKILL);
        return NULL;
    }
    child_destroy(c);
    return NULL;
}

void child_reap_orphans(void) {
    struct child *c = children, *next;

    for (; c; c = next) {
        next = c->next;
        if (!c->orphan)
            continue;
        /* Killed when it was freed: gone at once. */
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->running = false;
        child_destroy(c);
    }
}

pid_t child_pid(const struct child *c) {
    return c->pid;
}

bool child_running(const struct child *c) {
    return c->running;
}

struct status_page *child_status(const struct child *c) {
    return c->page;
}

const struct child_exit *child_exit_info(const struct child *c) {
    return &c->exit;
}

/* ----------------------------------------------------------- messages */

bool signal_is_crash(int signo) {
    switch (signo) {
    case SIGSEGV: case SIGBUS: case SIGABRT: case SIGILL: case SIGFPE: case SIGSYS: case SIGTRAP:
        return true;
    default:
        return false;
    }
}


char *child_describe_end(const struct child_exit *e, const char *operator_name,
                         const char *plugin, const struct config_limits *limits) {
    enum call_kind kind = CALL_KIND(e->call);
    const char *cb = call_kind_name(kind);
    _cleanup_free_ char *who = NULL, *what = NULL;
    char sig[32], t[32], mem[32];
    bool loading = kind == CALL_DLOPEN || kind == CALL_ENTRY;

    if (operator_name && !loading)
        who = plugin ? strprintf("operator '%s' (plugin %s)", operator_name, plugin)
                     : strprintf("operator '%s'", operator_name);
    else if (plugin)
        who = strprintf("plugin %s", plugin);
    else
        who = strdup("the worker");
    if (!who)
        return NULL;

    switch (e->how) {
    case CHILD_STUCK:
        if (operator_name && !loading)
            return strprintf("operator '%s' stuck in %s%s for %s", operator_name, cb,
                             kind == CALL_IO || kind == CALL_TIMER ? "" : "()",
                             format_usec(e->stuck_usec, t));
        return strprintf("%s: %s did not return within %s", who, cb ? cb : "a call",
                         format_usec(e->stuck_usec, t));
    case CHILD_KILLED:
        return strprintf("%s killed: %s", who, e->kill_reason ? e->kill_reason : "by the supervisor");
    case CHILD_SIGNALED:
        signal_name(e->code, sig);
        if (!signal_is_crash(e->code)) {
            if (cb)
                what = strprintf("%s was killed by %s in %s%s", who, sig, cb,
                                 kind == CALL_IO || kind == CALL_TIMER ? "" : "()");
            else
                what = strprintf("the worker was killed by %s", sig);
        } else if (kind == CALL_DLOPEN)
            what = strprintf("%s crashed while loading: %s", who, sig);
        else if (kind == CALL_ENTRY)
            what = strprintf("%s crashed in its entry function: %s", who, sig);
        else if (cb)
            what = strprintf("%s crashed in %s%s: %s", who, cb,
                             kind == CALL_IO || kind == CALL_TIMER ? "" : "()", sig);
        else
            what = strprintf("the worker crashed outside plugin callbacks (in a plugin's own "
                             "thread?): %s", sig);
        break;
    case CHILD_EXITED:
        if (cb)
            what = strprintf("%s exited with status %d in %s%s", who, e->code, cb,
                             kind == CALL_IO || kind == CALL_TIMER ? "" : "()");
        else
            what = strprintf("the worker exited with status %d without reporting the session's "
                             "end (a plugin called exit()?)", e->code);
        break;
    }
    if (!what)
        return NULL;
    /* Out of memory shows as a kill by the cgroup's OOM killer, or, under
     * RLIMIT_DATA, as a crash or exit of code that met a failed malloc(). */
    if (limits && limits->memory_max > 0 &&
        (e->oom || ((e->how == CHILD_SIGNALED || e->how == CHILD_EXITED) &&
                    e->max_rss >= limits->memory_max / 10 * 8)))
        return strprintf("memory limit %s reached: %s", format_size(limits->memory_max, mem),
                         what);
    return TAKE_PTR(what);
}

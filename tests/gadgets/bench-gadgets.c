/*
 * bench-gadgets — what the eBPF gadgets capture and cost, against peers on
 * the same kernel events in the same run: a bpftrace one-liner on the same
 * tracepoint and, where Debian ships it, the libbpf-tools program.
 *
 * Each case runs a workload the bench makes itself (execs, signals,
 * loopback TCP connections, O_DIRECT writes, a CPU-bound loop) while one
 * tracer runs: ophostd with a one-session pipeline (the gadget -> null), or
 * the peer command with its output in a file. It prints per tracer:
 *   events    what the tracer reported: ophostd's null sink count, the
 *             peer's output lines (all processes: other activity on the
 *             machine counts too), against what the workload offered;
 *   lost      ophostd's lost count (ring buffer full);
 *   CPU/1k    on-CPU time of the tracer's process per 1,000 offered events;
 *   kernel    in-kernel ns per program run, from kernel.bpf_stats_enabled
 *             (run_time_ns / run_cnt of the programs the tracer loaded):
 *             what every traced event costs the process that causes it.
 *
 * Usage: bench-gadgets OPHOSTD PLUGIN_DIR [SCALE [CASE]]   (root; SCALE
 * multiplies the workloads, default 1; CASE runs only the cases of that
 * name, e.g. exec). Peers that are not installed are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemonbench.h"

#define MAX_PROGS 4096

static char tmpdir[] = "/tmp/bench-gadgets-XXXXXX";
static const char *ophostd, *plugin_dir;
static unsigned scale = 1;

/* ------------------------------------------------------------ workloads */

struct wl {
    int port;     /* a loopback TCP listener's */
    int lfd;
    pid_t target; /* a child that ignores SIGUSR1 */
    char file[256];
};

static void wl_exec(struct wl *w, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            execl("/bin/true", "true", (char *) NULL);
            _exit(127);
        }
        waitpid(c, NULL, 0);
    }
}

static void wl_signal(struct wl *w, unsigned n) {
    for (unsigned i = 0; i < n; i++)
        kill(w->target, SIGUSR1);
}

static void wl_tcp(struct wl *w, unsigned n) {
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) w->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (unsigned i = 0; i < n; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;
        char b;
        if (connect(c, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
            perror("connect");
            exit(1);
        }
        a = accept(w->lfd, NULL, NULL);
        close(c);
        if (read(a, &b, 1) < 0)
            perror("read");
        close(a);
    }
}

static void wl_blockio(struct wl *w, unsigned n) {
    void *buf;
    int fd = open(w->file, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);

    if (fd < 0 || posix_memalign(&buf, 4096, 4096) != 0) {
        perror(w->file);
        return;
    }
    memset(buf, 'x', 4096);
    for (unsigned i = 0; i < n; i++)
        if (pwrite(fd, buf, 4096, (off_t) (i % 256) * 4096) != 4096)
            break;
    close(fd);
    free(buf);
}

/* n ms of CPU in this process. */
static void wl_cpu(struct wl *w, unsigned n) {
    volatile uint64_t x = 0;
    uint64_t end = now_ns() + (uint64_t) n * 1000000u;
    while (now_ns() < end)
        for (int i = 0; i < 10000; i++)
            x += (uint64_t) i;
}

struct bcase {
    const char *name;
    const char *gadget, *params;     /* params: $1 is the bench's pid or port */
    const char *bpftrace;            /* $1 likewise (bpftrace's first argument); NULL = none */
    const char *const *tool;         /* libbpf-tools argv; NULL = none */
    void (*run)(struct wl *, unsigned);
    unsigned n;                      /* workload units */
    unsigned per_unit;               /* events a unit makes; 0 = not counted (aggregates) */
    bool port;                       /* $1 is the TCP port, else the bench's pid */
};

static const char *const execsnoop[] = { "/usr/sbin/execsnoop", NULL };

static const struct bcase cases[] = {
    { "exec", "trace_exec", "max-delay: 0",
      "tracepoint:sched:sched_process_exec { printf(\"%d %s\\n\", pid, comm); }", execsnoop,
      wl_exec, 3000, 1, false },
    { "exec", "trace_exec", "max-delay: 20ms", "tracepoint:sched:sched_process_exec { @ = count(); }",
      NULL, wl_exec, 3000, 1, false },
    { "signal", "trace_signal", "pid: $1",
      "tracepoint:signal:signal_generate /pid == $1/ { printf(\"%d %d\\n\", args->pid, args->sig); }",
      NULL, wl_signal, 50000, 1, false },
    { "tcp", "trace_tcp", "port: $1",
      "tracepoint:sock:inet_sock_set_state /args->protocol == 6 && (args->sport == $1 || "
      "args->dport == $1) && ((args->oldstate == 2 && args->newstate == 1) || (args->oldstate "
      "== 3 && args->newstate == 1) || ((args->oldstate == 1 || args->oldstate == 8) && "
      "(args->newstate == 4 || args->newstate == 9)))/ { printf(\"%d %d %d\\n\", args->sport, "
      "args->dport, args->newstate); }",
      NULL, wl_tcp, 3000, 4, true },
    { "blockio", "top_blockio", "pid: $1",
      "tracepoint:block:block_rq_issue /pid == $1/ { @s[args->dev, args->sector] = nsecs; } "
      "tracepoint:block:block_rq_complete /@s[args->dev, args->sector]/ { @us = hist((nsecs - "
      "@s[args->dev, args->sector]) / 1000); delete(@s[args->dev, args->sector]); }",
      NULL, wl_blockio, 3000, 0, false },
    { "profile", "profile_cpu", "pid: $1, frequency: 99",
      "profile:hz:99 /pid == $1/ { @[ustack, kstack] = count(); }", NULL, wl_cpu, 3000, 0,
      false },
};

/* ------------------------------------------------------------- running */

struct result {
    bool ok;
    unsigned long long events, lost;
    uint64_t cpu, runs, run_ns;
};

static int arg_of(const struct bcase *c, const struct wl *w) {
    return c->port ? w->port : (int) getpid();
}

/* tmpl with every "$1" replaced by v, into buf. */
static char *subst(char *buf, size_t size, const char *tmpl, int v) {
    size_t n = 0;

    for (const char *p = tmpl; *p && n + 16 < size; p++) {
        if (p[0] == '$' && p[1] == '1') {
            n += (size_t) snprintf(buf + n, size - n, "%d", v);
            p++;
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* The pid of a started tracer: ophostd (session started) or a peer (its
 * programs loaded). */
static pid_t spawn(char *const argv[], const char *out, const char *err) {
    pid_t p = fork();

    if (p == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    return p;
}

static unsigned long long count_lines(const char *path, const char *skip) {
    char line[4096];
    unsigned long long n = 0;
    FILE *f = fopen(path, "re");

    while (f && fgets(line, sizeof(line), f))
        if (!skip || !strstr(line, skip))
            n++;
    if (f)
        fclose(f);
    return n;
}

/* What the log says after "needle" as a number (the last one), or 0. */
static unsigned long long log_number(const char *path, const char *needle, bool before) {
    char line[4096];
    unsigned long long v = 0;
    FILE *f = fopen(path, "re");

    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, needle);
        if (!p)
            continue;
        if (before) {
            while (p > line && p[-1] == ' ')
                p--;
            while (p > line && p[-1] >= '0' && p[-1] <= '9')
                p--;
            sscanf(p, "%llu", &v);
        } else {
            sscanf(p + strlen(needle), "%llu", &v);
        }
    }
    if (f)
        fclose(f);
    return v;
}

static void measure(const struct bcase *c, struct wl *w, char *const argv[], bool daemon,
                    const char *out, const char *err, struct result *r) {
    static uint32_t before[MAX_PROGS];
    unsigned n_before = bpf_prog_ids(before, MAX_PROGS);
    uint64_t c0, r0, t0;
    pid_t p;

    memset(r, 0, sizeof(*r));
    p = spawn(argv, out, err);
    /* Up: the session started, or the peer's programs appeared. */
    for (int i = 0;; i++) {
        if (waitpid(p, NULL, WNOHANG) != 0 || i > 3000) {
            fprintf(stderr, "%s: %s did not start, see %s\n", c->name, argv[0], err);
            kill(p, SIGKILL);
            waitpid(p, NULL, 0);
            return;
        }
        if (daemon ? file_contains(err, "session bench: started")
                   : bpf_prog_stats(before, n_before, &r0, &t0) > 0)
            break;
        sleep_ms(10);
    }
    sleep_ms(daemon ? 100 : 1000); /* a peer attaches its probes one by one */
    bpf_prog_stats(before, n_before, &r0, &t0);
    c0 = cpu_ns(p);
    c->run(w, c->n * scale);
    sleep_ms(1500); /* drain: a round of the interval gadgets, the peers' buffers */
    r->cpu = cpu_ns(p) - c0;
    bpf_prog_stats(before, n_before, &r->runs, &r->run_ns);
    r->runs -= r0;
    r->run_ns -= t0;
    kill(p, daemon ? SIGTERM : SIGINT);
    waitpid(p, NULL, 0);
    if (daemon) {
        r->events = log_number(err, "operator null: ", false);
        r->lost = log_number(err, "events were lost in total", true);
    } else {
        r->events = count_lines(out, "Attaching");
    }
    r->ok = true;
}

static void print_row(const struct bcase *c, const char *tracer, const struct result *r) {
    unsigned long long offered = (unsigned long long) c->n * scale * c->per_unit;
    char events[64];

    if (!r->ok)
        return;
    if (c->per_unit)
        snprintf(events, sizeof(events), "%llu / %llu", r->events, offered);
    else
        snprintf(events, sizeof(events), "(aggregates)");
    printf("%-8s %-44s %18s %6llu %10.2f ms %10.0f ns\n", c->name, tracer, events, r->lost,
           r->cpu / 1e6 / ((double) c->n * scale * (c->per_unit ? c->per_unit : 1) / 1000.0),
           r->runs ? (double) r->run_ns / (double) r->runs : 0.0);
    fflush(stdout);
}

static void run_case(const struct bcase *c, struct wl *w) {
    char yaml[512], pipedir[300], out[300], err[300], params[256], script[1024], config[300];
    struct result r;
    FILE *f;

    subst(params, sizeof(params), c->params, arg_of(c, w));
    snprintf(pipedir, sizeof(pipedir), "%s/pipelines", tmpdir);
    mkdir(pipedir, 0755);
    snprintf(yaml, sizeof(yaml), "%s/bench.yaml", pipedir);
    f = fopen(yaml, "we");
    fprintf(f, "bench:\n  gadget: %s\n  operators:\n    %s: {%s}\n    null: {}\n", c->gadget,
            c->gadget, params);
    fclose(f);
    snprintf(config, sizeof(config), "%s/ophostd.yaml", tmpdir);
    fclose(fopen(config, "we"));
    snprintf(out, sizeof(out), "%s/out.txt", tmpdir);
    snprintf(err, sizeof(err), "%s/err.txt", tmpdir);
    {
        char *argv[] = { (char *) ophostd, (char *) "--config", config, (char *) "-p",
                         (char *) plugin_dir, (char *) "-d", pipedir, NULL };
        char label[400];
        measure(c, w, argv, true, out, err, &r);
        snprintf(label, sizeof(label), "ophost %s {%s}", c->gadget, params);
        print_row(c, label, &r);
    }
    if (c->bpftrace && access("/usr/bin/bpftrace", X_OK) == 0) {
        char arg[32];
        char *argv[] = { (char *) "/usr/bin/bpftrace", (char *) "-e", script, arg, NULL };
        snprintf(script, sizeof(script), "%s", c->bpftrace);
        snprintf(arg, sizeof(arg), "%d", arg_of(c, w));
        measure(c, w, argv, false, out, err, &r);
        print_row(c, strstr(script, "count()") || strstr(script, "hist(")
                         ? "bpftrace (aggregating in the kernel)"
                         : "bpftrace printf one-liner", &r);
    }
    if (c->tool && access(c->tool[0], X_OK) == 0) {
        char label[128];
        measure(c, w, (char *const *) c->tool, false, out, err, &r);
        snprintf(label, sizeof(label), "libbpf-tools %s", strrchr(c->tool[0], '/') + 1);
        print_row(c, label, &r);
    }
}

int main(int argc, char **argv) {
    struct wl w = { 0 };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);

    if (argc < 3) {
        fprintf(stderr, "usage: %s OPHOSTD PLUGIN_DIR [SCALE]\n", argv[0]);
        return 2;
    }
    ophostd = argv[1];
    plugin_dir = argv[2];
    if (argc > 3)
        scale = (unsigned) strtoul(argv[3], NULL, 10);
    if (!scale || !mkdtemp(tmpdir)) {
        fprintf(stderr, "bad scale or no temporary directory\n");
        return 2;
    }
    if (!bpf_stats_enable(true))
        fprintf(stderr, "cannot enable kernel.bpf_stats_enabled: in-kernel times are 0\n");
    if (access("/sys/kernel/tracing/events", F_OK) != 0)
        (void) !system("mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null");
    w.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(w.lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(w.lfd, 64) < 0 ||
        getsockname(w.lfd, (struct sockaddr *) &sa, &len) < 0) {
        perror("listen");
        return 1;
    }
    w.port = ntohs(sa.sin_port);
    w.target = fork();
    if (w.target == 0) {
        signal(SIGUSR1, SIG_IGN);
        for (;;)
            pause();
    }
    snprintf(w.file, sizeof(w.file), "/var/tmp/bench-gadgets-%d", (int) getpid());
    printf("workloads x%u; files in %s; CPU per 1,000 offered events (aggregating gadgets: per "
           "1,000 units: writes, ms of CPU)\n", scale, tmpdir);
    printf("%-8s %-44s %18s %6s %13s %13s\n", "case", "tracer", "events/offered", "lost",
           "CPU/1k", "kernel/run");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (argc <= 4 || strcmp(argv[4], cases[i].name) == 0)
            run_case(&cases[i], &w);
    kill(w.target, SIGKILL);
    waitpid(w.target, NULL, 0);
    unlink(w.file);
    bpf_stats_enable(false);
    return 0;
}

/*
 * bench-trace-exec — how many execs the trace_exec gadget sees, and what it
 * costs, with the real ophostd in its own process.
 *
 * For each mechanism, two daemon runs on a one-session pipeline:
 *   print  trace_exec -> print (to a file): the captured events are the
 *          lines whose pid is one of the execs made here (other processes
 *          exec too); lost events are what the daemon's warnings report.
 *   null   trace_exec -> null: the daemon's CPU time (sum of the on-CPU
 *          time of all its threads, /proc/PID/task/TID/schedstat) per 1,000
 *          events, i.e. the gadget's cost plus the host's per-batch work.
 * The load is COUNT fork+execve of /bin/true with a unique argument, by
 * WORKERS processes in tight loops (each waits for its child).
 *
 * Usage: bench-trace-exec OPHOSTD PLUGIN_DIR [COUNT [WORKERS [MECHANISM...]]]
 *   e.g. bench-trace-exec build/daemon/ophostd build/plugins/dir 10000 1 ebpf proc-connector
 * BENCH_TE_PARAMS="key: value, ..." adds params of trace_exec (e.g. a small
 * ring-buffer-size to see lost events counted).
 * Needs root (the daemon loads eBPF / joins the proc connector).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemonbench.h"

#define PID_LIMIT (1u << 22)

static char tmpdir[] = "/tmp/bench-trace-exec-XXXXXX";

/* The execs: workers processes, count in all; the pids go to pids[]
 * (shared memory). */
static void load(unsigned count, unsigned workers, const char *token, pid_t *pids) {
    for (unsigned w = 0; w < workers; w++) {
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            exit(1);
        }
        if (p == 0) {
            for (unsigned i = w; i < count; i += workers) {
                char arg[96];
                char *argv[] = { (char *) "/bin/true", arg, NULL };
                int status;
                pid_t c;
                snprintf(arg, sizeof(arg), "ophost-bench-%s-%u", token, i);
                c = fork();
                if (c == 0) {
                    execv(argv[0], argv);
                    _exit(127);
                }
                pids[i] = c;
                if (c > 0)
                    waitpid(c, &status, 0);
            }
            _exit(0);
        }
    }
    for (unsigned w = 0; w < workers; w++)
        wait(NULL);
}

struct result {
    unsigned long long captured; /* print: our execs seen; null: all events */
    unsigned long long lost;     /* from the daemon's warnings */
    uint64_t cpu_ns;
    uint64_t load_ns;
    bool ok;
};

static void run(const char *ophostd, const char *plugin_dir, const char *mechanism,
                const char *sink, unsigned count, unsigned workers, struct result *res) {
    char pipedir[256], yaml[300], out[256], err[256], config[256], token[64];
    pid_t *pids, daemon;
    FILE *f;
    uint64_t c0, c1, t0;
    off_t last = -1;

    memset(res, 0, sizeof(*res));
    snprintf(token, sizeof(token), "%d-%llx", (int) getpid(), (unsigned long long) now_ns());
    snprintf(pipedir, sizeof(pipedir), "%s/pipelines-%s-%s", tmpdir, mechanism, sink);
    snprintf(yaml, sizeof(yaml), "%s/bench.yaml", pipedir);
    snprintf(out, sizeof(out), "%s/out-%s-%s.txt", tmpdir, mechanism, sink);
    snprintf(err, sizeof(err), "%s/err-%s-%s.txt", tmpdir, mechanism, sink);
    if (mkdir(pipedir, 0755) < 0 && errno != EEXIST) {
        perror(pipedir);
        return;
    }
    f = fopen(yaml, "we");
    if (!f) {
        perror(yaml);
        return;
    }
    fprintf(f, "bench:\n  gadget: trace_exec\n  operators:\n    trace_exec: {mechanism: %s%s%s}\n",
            mechanism, getenv("BENCH_TE_PARAMS") ? ", " : "",
            getenv("BENCH_TE_PARAMS") ? getenv("BENCH_TE_PARAMS") : "");
    if (strcmp(sink, "print") == 0)
        fprintf(f, "    print: {path: %s}\n", out);
    else
        fprintf(f, "    null: {}\n");
    fclose(f);
    unlink(out);
    /* An empty daemon config: every key has its default. */
    snprintf(config, sizeof(config), "%s/ophostd.yaml", tmpdir);
    f = fopen(config, "we");
    if (f)
        fclose(f);

    daemon = fork();
    if (daemon == 0) {
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execl(ophostd, ophostd, "--config", config, "-p", plugin_dir, "-d", pipedir,
              (char *) NULL);
        _exit(127);
    }
    /* "started" comes after pre_start and start: the mechanism is set up. */
    for (int i = 0; i < 1000 && !file_contains(err, "session bench: started"); i++) {
        if (file_contains(err, "session bench: failed") || waitpid(daemon, NULL, WNOHANG) != 0) {
            fprintf(stderr, "%s/%s: the session did not start, see %s\n", mechanism, sink, err);
            kill(daemon, SIGTERM);
            waitpid(daemon, NULL, 0);
            return;
        }
        sleep_ms(10);
    }

    pids = mmap(NULL, count * sizeof(pid_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                -1, 0);
    if (pids == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    c0 = cpu_ns(daemon);
    t0 = now_ns();
    load(count, workers, token, pids);
    res->load_ns = now_ns() - t0;
    /* Drain: wait until the output stops growing (print) or a fixed second. */
    if (strcmp(sink, "print") == 0) {
        for (int i = 0; i < 100; i++) {
            off_t n = file_size(out);
            if (n == last)
                break;
            last = n;
            sleep_ms(200);
        }
    } else {
        sleep_ms(1000);
    }
    c1 = cpu_ns(daemon);
    res->cpu_ns = c1 - c0;
    kill(daemon, SIGTERM);
    waitpid(daemon, NULL, 0);

    if (strcmp(sink, "print") == 0) {
        static uint8_t ours[PID_LIMIT / 8];
        char line[65536];
        memset(ours, 0, sizeof(ours));
        for (unsigned i = 0; i < count; i++)
            if (pids[i] > 0 && (unsigned) pids[i] < PID_LIMIT)
                ours[pids[i] / 8] |= (uint8_t) (1u << (pids[i] % 8));
        f = fopen(out, "re");
        while (f && fgets(line, sizeof(line), f)) {
            char *p = strstr(line, " pid=");
            unsigned pid;
            if (p && sscanf(p, " pid=%u", &pid) == 1 && pid < PID_LIMIT &&
                (ours[pid / 8] & (1u << (pid % 8)))) {
                res->captured++;
                ours[pid / 8] &= (uint8_t) ~(1u << (pid % 8)); /* count each once */
            }
        }
        if (f)
            fclose(f);
    } else {
        /* null logs "N events" when the session stops. */
        char line[1024];
        f = fopen(err, "re");
        while (f && fgets(line, sizeof(line), f)) {
            char *p = strstr(line, "operator null: ");
            if (p)
                sscanf(p, "operator null: %llu events", &res->captured);
        }
        if (f)
            fclose(f);
    }
    {
        char line[1024];
        f = fopen(err, "re");
        while (f && fgets(line, sizeof(line), f)) {
            char *p = strstr(line, "exec events were lost in total");
            unsigned long long n;
            if (p) {
                while (p > line && p[-1] != ' ')
                    p--;
                while (p > line && p[-1] == ' ')
                    p--;
                while (p > line && p[-1] >= '0' && p[-1] <= '9')
                    p--;
                if (sscanf(p, "%llu", &n) == 1)
                    res->lost = n;
            }
        }
        if (f)
            fclose(f);
    }
    munmap(pids, count * sizeof(pid_t));
    res->ok = true;
}

int main(int argc, char **argv) {
    static const char *const default_mechs[] = { "ebpf", "proc-connector" };
    const char *const *mechs = default_mechs;
    size_t n_mechs = 2;
    unsigned count = 10000, workers = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: %s OPHOSTD PLUGIN_DIR [COUNT [WORKERS [MECHANISM...]]]\n",
                argv[0]);
        return 2;
    }
    if (argc > 3)
        count = (unsigned) strtoul(argv[3], NULL, 10);
    if (argc > 4)
        workers = (unsigned) strtoul(argv[4], NULL, 10);
    if (argc > 5) {
        mechs = (const char *const *) argv + 5;
        n_mechs = (size_t) argc - 5;
    }
    if (count == 0 || workers == 0 || !mkdtemp(tmpdir)) {
        fprintf(stderr, "bad arguments or no temporary directory\n");
        return 2;
    }
    printf("%u execs of /bin/true by %u worker(s); files in %s\n", count, workers, tmpdir);
    printf("%-15s %-6s %10s %8s %10s %12s %14s\n", "mechanism", "sink", "captured", "lost",
           "execs/s", "daemon CPU", "CPU/1000 ev");
    for (size_t m = 0; m < n_mechs; m++)
        for (int s = 0; s < 2; s++) {
            const char *sink = s == 0 ? "print" : "null";
            struct result r;
            run(argv[1], argv[2], mechs[m], sink, count, workers, &r);
            if (!r.ok)
                continue;
            printf("%-15s %-6s %10llu %8llu %10.0f %9.1f ms %11.2f ms\n", mechs[m], sink,
                   r.captured, r.lost, count / (r.load_ns / 1e9), r.cpu_ns / 1e6,
                   r.captured ? r.cpu_ns / 1e6 / (r.captured / 1000.0) : 0.0);
            fflush(stdout);
        }
    return 0;
}

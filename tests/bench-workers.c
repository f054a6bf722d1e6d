/*
 * bench-workers — what running each session in a worker process costs,
 * measured against the same sessions in this process, in the same run.
 * Programs that print numbers (`make bench`), never timed tests.
 *
 *   hops     synthetic -> N x pass -> null (N = 0, 1, 4, 16), COUNT events:
 *            once in this process (the session engine on a thread, as
 *            ophostd ran sessions before workers), once in a worker (the
 *            daemon's way: scanner, plan, `ophostd --worker`), interleaved;
 *            the cost per event per operator is (T(N) - T(0)) / (COUNT * N)
 *            with T the minimum of RUNS runs (noise only adds time, so the
 *            minimum is the robust estimate and a difference of minimums
 *            cannot go below zero by chance the way medians of separate
 *            runs did); a hand-written function-pointer loop is the floor.
 *   start    worker_start -> running, synthetic -> null: median and p90.
 *   many     SESSIONS idle sessions (synthetic at 1 event/s -> null): time
 *            until all run, the supervisor's RSS, PSS per worker, and the
 *            wake-ups per second of the supervisor and of one worker.
 *   watch    events per second reaching the supervisor from a worker whose
 *            session is watched (what a watcher gets before its socket).
 *
 * Usage: bench-workers OPHOSTD PLUGIN_DIR TEST_PLUGIN_DIR [COUNT] [SESSIONS]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>

#include "benchutil.h"
#include "child.h"
#include "config.h"
#include "ctx.h"
#include "loader.h"
#include "log.h"
#include "operators.h"
#include "plan.h"
#include "plugins.h"
#include "probe.h"
#include "registry.h"
#include "schema.h"
#include "session.h"
#include "worker.h"

#define RUNS 5
#define STARTS 50

static sd_event *loop;
static struct registry *meta;    /* the supervisor's view: what the scanner described */
static struct registry *here;    /* plugins loaded in this process */
static struct worker_env env;

static void die(const char *what) {
    fprintf(stderr, "bench-workers: %s\n", what);
    exit(1);
}

static double now(void) {
    return bench_sec(CLOCK_MONOTONIC);
}

/* A plugin directory the supervisor trusts, with copies of what we need. */
static char *make_plugin_dir(const char *plugins, const char *test_plugins) {
    static const char *const from_plugins[] = { "synthetic.so", "null.so" };
    const char *tmp = getenv("TMPDIR");
    char *dir = strprintf("%s/ophost-bench-workers.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!dir || !mkdtemp(dir))
        die("mkdtemp");
    chmod(dir, 0755);
    for (size_t i = 0; i < 3; i++) {
        const char *name = i < 2 ? from_plugins[i] : "pass.so";
        char *src = strprintf("%s/%s", i < 2 ? plugins : test_plugins, name);
        char *dst = strprintf("%s/%s", dir, name);
        char *cmd = strprintf("install -m 0644 '%s' '%s'", src, dst);
        if (!cmd || system(cmd) != 0)
            die("cannot copy the plugins");
        free(src);
        free(dst);
        free(cmd);
    }
    return dir;
}

static void load_registries(const char *dir) {
    char *dirs[] = { (char *) dir, NULL };
    struct plugin_dirs *pd = plugin_dirs_new(geteuid());
    struct errors refused = { 0 };
    DIR *d;
    struct dirent *de;
    unsigned n = 0;

    meta = registry_new();
    here = registry_new();
    if (!meta || !here || !pd ||
        probe_scan_dirs(loop, meta, pd, dirs, LOG_WARNING, &refused) < 0 || refused.n > 0)
        die(refused.n ? refused.lines[0] : "cannot scan the plugins");
    plugin_dirs_free(pd);
    d = opendir(dir);
    while (d && (de = readdir(d))) {
        struct plugin *p = NULL;
        char *path, *err = NULL;
        if (!endswith(de->d_name, ".so"))
            continue;
        path = strprintf("%s/%s", dir, de->d_name);
        if (!path || loader_load_path(path, n++, host_table(), &p, &err) < 0 ||
            registry_add_plugin(here, p, &err) < 0)
            die(err ? err : "cannot load the plugins here");
        plugin_unref(p);
        free(path);
    }
    if (d)
        closedir(d);
}

/* ------------------------------------------------------------ sessions */

/* synthetic (count events; rate 0 = as fast as it can) -> pass-1..n -> null. */
struct def {
    struct config_session cs;
    struct config_operator ops[20];
    struct config_param params[4];
    char count[32], rate[32], name[64];
};

static void def_init(struct def *d, const char *name, int n, unsigned long long count,
                     unsigned rate, const char *fields) {
    memset(d, 0, sizeof(*d));
    snprintf(d->count, sizeof(d->count), "%llu", count);
    snprintf(d->rate, sizeof(d->rate), "%u", rate);
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->params[0] = (struct config_param){ .key = "count", .value = d->count };
    d->params[1] = (struct config_param){ .key = "rate", .value = d->rate };
    d->params[2] = (struct config_param){ .key = "fields", .value = (char *) fields };
    d->params[3] = (struct config_param){ .key = "batch", .value = "256" };
    d->ops[0] = (struct config_operator){ .name = "synthetic", .params = d->params, .n_params = 4 };
    for (int i = 0; i < n; i++) {
        static char names[16][16];
        snprintf(names[i], sizeof(names[i]), "pass-%d", i + 1);
        d->ops[1 + i] = (struct config_operator){ .name = names[i] };
    }
    d->ops[1 + n] = (struct config_operator){ .name = "null" };
    d->cs = (struct config_session){ .name = d->name, .gadget = "synthetic",
                                     .operators = d->ops, .n_operators = (size_t) n + 2,
                                     .limits = config_limits_default() };
}

static struct plan *plan_of(struct registry *r, const struct config_session *cs,
                            const struct plan_hooks *hooks) {
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    if (plan_build(r, cs, hooks, &plan, &errs) < 0)
        die(errs.n ? errs.lines[0] : "plan failed");
    return plan;
}

/* In this process: seconds the session ran. */
static double run_here(struct def *d) {
    struct plan_hooks hooks = operators_plan_hooks(here);
    struct session *s = session_new(plan_of(here, &d->cs, &hooks), NULL);
    double t0, t1;

    t0 = now();
    if (!s || session_start(s) < 0 || session_join(s) < 0)
        die("in-process session failed");
    t1 = now();
    session_free(s);
    return t1 - t0;
}

/* A worker and what the benchmark saw of it. */
struct tracked {
    struct worker *w;
    double started, running, ended;
    uint64_t events;   /* received for watchers */
    uint64_t dropped;
};

static unsigned n_running, n_ended;

static void on_state(struct worker *w, void *userdata) {
    struct tracked *t = userdata;
    if (worker_get_state(w) == WORKER_RUNNING && t->running == 0) {
        t->running = now();
        n_running++;
    }
    if (worker_ended(w) && t->ended == 0) {
        if (worker_get_state(w) == WORKER_FAILED) {
            fprintf(stderr, "bench-workers: %s failed: %s\n", worker_name(w), worker_error(w));
            exit(1);
        }
        t->ended = now();
        n_ended++;
    }
}

static void on_events(struct worker *w, const char *data, size_t len, uint64_t dropped,
                      void *userdata) {
    struct tracked *t = userdata;
    for (const char *p = data; (p = memchr(p, '\0', (size_t) (data + len - p))); p++)
        t->events++;
    t->dropped += dropped;
}

static const struct worker_ops ops = { .state_changed = on_state, .events = on_events };

static void start_worker(struct def *d, struct tracked *t, unsigned watchers) {
    char *err = NULL;
    memset(t, 0, sizeof(*t));
    t->started = now();
    if (worker_start(loop, plan_of(meta, &d->cs, NULL), &d->cs, &env, watchers, &ops, t, &t->w,
                     &err) < 0)
        die(err ? err : "worker_start failed");
}

static void run_until(unsigned *counter, unsigned target) {
    while (*counter < target)
        if (sd_event_run(loop, UINT64_MAX) < 0)
            die("loop failed");
}

/* In a worker: seconds from running to its end. */
static double run_worker(struct def *d) {
    struct tracked t;
    unsigned ended = n_ended;
    double s;
    start_worker(d, &t, 0);
    run_until(&n_ended, ended + 1);
    s = t.ended - t.running;
    worker_free(t.w);
    return s;
}

/* The same process functions through function pointers, no host: the
 * floor, as in ophost-bench. Uses pass-N's process of the loaded plugin. */
static double run_hand(int n, unsigned long long count) {
    struct ophost_datasource *ds = datasource_new("events", "bench");
    struct { ophost_field in, out; uint64_t add; } data[16];
    int (*fn)(struct ophost_ctx *, void *, struct ophost_batch *) =
        registry_find(here, "pass-1")->op->process;
    ophost_field seq, pid;
    double t0, t1;

    datasource_add_field(ds, "seq", OPHOST_FIELD_U64, "bench", &seq);
    datasource_add_field(ds, "pid", OPHOST_FIELD_U32, "bench", &pid);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i + 1);
        datasource_add_field(ds, name, OPHOST_FIELD_U64, "bench", &data[i].out);
        data[i].in = seq;
        data[i].add = (uint64_t) i + 1;
    }
    datasource_freeze(ds, SCHEMA_BATCH_CAPACITY);
    while (ophost_batch_append(&ds->batch))
        ;
    t0 = now();
    for (unsigned long long done = 0; done < count; done += SCHEMA_BATCH_CAPACITY) {
        ds->batch.n = SCHEMA_BATCH_CAPACITY;
        for (int i = 0; i < n; i++)
            fn(NULL, &data[i], &ds->batch);
    }
    t1 = now();
    datasource_free(ds);
    return t1 - t0;
}

static void bench_hops(unsigned long long count) {
    static const int ns[] = { 0, 1, 4, 16 };
    double here_t[4][RUNS], work_t[4][RUNS], hand_t[4][RUNS];

    printf("hops: synthetic -> N x pass -> null, %llu events, min of %d interleaved runs\n",
           count, RUNS);
    for (int k = 0; k < RUNS; k++)
        for (size_t i = 0; i < 4; i++) {
            struct def d;
            def_init(&d, "hops", ns[i], count, 0, "seq:u64,pid:u32");
            here_t[i][k] = run_here(&d);
            work_t[i][k] = run_worker(&d);
            hand_t[i][k] = ns[i] ? run_hand(ns[i], count) : 0;
        }
    printf("  N=0: in-process %.2f ns/event, worker %.2f ns/event (gadget + null sink)\n",
           bench_min(here_t[0], RUNS) / (double) count * 1e9,
           bench_min(work_t[0], RUNS) / (double) count * 1e9);
    for (size_t i = 1; i < 4; i++) {
        double per = (double) count * ns[i] / 1e9;
        double h = (bench_min(here_t[i], RUNS) - bench_min(here_t[0], RUNS)) / per;
        double w = (bench_min(work_t[i], RUNS) - bench_min(work_t[0], RUNS)) / per;
        double l = bench_min(hand_t[i], RUNS) / per;
        printf("  N=%-2d per hop: in-process %.3f ns, worker %.3f ns, hand-written loop %.3f ns; "
               "worker/in-process %.2f, in-process/hand %.2f\n",
               ns[i], h, w, l, w / h, h / l);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void bench_start(void) {
    double lat[STARTS];
    struct def d;

    def_init(&d, "start", 0, 0, 1, "seq:u64");
    for (int i = 0; i < STARTS; i++) {
        struct tracked t;
        unsigned ended = n_ended, running = n_running;
        start_worker(&d, &t, 0);
        run_until(&n_running, running + 1);
        lat[i] = (t.running - t.started) * 1e3;
        worker_stop(t.w);
        run_until(&n_ended, ended + 1);
        worker_free(t.w);
    }
    qsort(lat, STARTS, sizeof(double), cmp_double);
    printf("start: synthetic -> null, start to running: median %.2f ms, p90 %.2f ms, "
           "max %.2f ms (%d starts)\n",
           lat[STARTS / 2], lat[STARTS * 9 / 10], lat[STARTS - 1], STARTS);
}

/* A number from /proc/PID/FILE after "FIELD:", in the file's unit. */
static unsigned long long proc_field(pid_t pid, const char *file, const char *field) {
    char path[64], line[256];
    unsigned long long v = 0;
    size_t n = strlen(field);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
    f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtoull(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static unsigned long long switches(pid_t pid) {
    /* Every thread's: a worker's session thread does its work. */
    char dir[64];
    unsigned long long total = 0;
    DIR *d;
    struct dirent *de;

    snprintf(dir, sizeof(dir), "/proc/%d/task", (int) pid);
    d = opendir(dir);
    while (d && (de = readdir(d))) {
        char file[300];
        if (de->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "task/%s/status", de->d_name);
        total += proc_field(pid, file, "voluntary_ctxt_switches") +
                 proc_field(pid, file, "nonvoluntary_ctxt_switches");
    }
    if (d)
        closedir(d);
    return total;
}

/* Runs the loop for sec seconds. */
static void idle(double sec) {
    double end = now() + sec;
    while (now() < end)
        if (sd_event_run(loop, (uint64_t) ((end - now()) * 1e6) + 1) < 0)
            die("loop failed");
}

static void bench_many(unsigned n) {
    struct tracked *t = calloc(n, sizeof(*t));
    struct def *d = calloc(n, sizeof(*d));
    unsigned long long pss = 0, sup0, sup1, w0, w1;
    unsigned running = n_running, ended = n_ended;
    double t0, t1, t2;
    pid_t one;

    if (!t || !d)
        die("out of memory");
    sup0 = switches(getpid());
    idle(2.0);
    sup1 = switches(getpid());
    printf("many: supervisor with no session: RSS %llu KiB, wake-ups %.1f/s\n",
           proc_field(getpid(), "status", "VmRSS"), (double) (sup1 - sup0) / 2.0);
    t0 = now();
    for (unsigned i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "idle-%u", i);
        def_init(&d[i], name, 0, 0, 1, "seq:u64");
        start_worker(&d[i], &t[i], 0);
    }
    t1 = now();
    run_until(&n_running, running + n);
    t2 = now();
    printf("many: %u sessions (synthetic 1 event/s -> null): spawned in %.0f ms, all running "
           "after %.0f ms\n", n, (t1 - t0) * 1e3, (t2 - t0) * 1e3);
    idle(1.0);
    for (unsigned i = 0; i < n; i++)
        pss += proc_field(worker_pid(t[i].w), "smaps_rollup", "Pss");
    one = worker_pid(t[n / 2].w);
    sup0 = switches(getpid());
    w0 = switches(one);
    idle(5.0);
    sup1 = switches(getpid());
    w1 = switches(one);
    printf("many: PSS per worker %.2f MiB; supervisor RSS %llu KiB; wake-ups per second: "
           "supervisor %.1f, one worker %.1f (its gadget ticks once per second)\n",
           (double) pss / n / 1024.0, proc_field(getpid(), "status", "VmRSS"),
           (double) (sup1 - sup0) / 5.0, (double) (w1 - w0) / 5.0);
    t0 = now();
    for (unsigned i = 0; i < n; i++)
        worker_stop(t[i].w);
    run_until(&n_ended, ended + n);
    printf("many: all %u stopped in %.0f ms\n", n, (now() - t0) * 1e3);
    for (unsigned i = 0; i < n; i++)
        worker_free(t[i].w);
    free(t);
    free(d);
}

static void bench_watch(unsigned long long count) {
    struct tracked t;
    struct def d;
    unsigned ended = n_ended;

    def_init(&d, "watched", 0, count, 0, "seq:u64,pid:u32,comm:string");
    start_worker(&d, &t, 1);
    run_until(&n_ended, ended + 1);
    printf("watch: %llu events of 3 fields, %llu reached the supervisor, %llu dropped by the "
           "worker: %.2f M events/s\n",
           count, (unsigned long long) t.events, (unsigned long long) t.dropped,
           (double) t.events / (t.ended - t.running) / 1e6);
    worker_free(t.w);
}

int main(int argc, char **argv) {
    unsigned long long count = argc > 4 ? strtoull(argv[4], NULL, 10) : 8000000ULL;
    unsigned sessions = argc > 5 ? (unsigned) strtoul(argv[5], NULL, 10) : 1000;
    struct daemon_config *cfg = NULL;
    struct errors errs = { 0 };
    struct rlimit rl;
    char *dir;

    if (argc < 4)
        die("usage: bench-workers OPHOSTD PLUGIN_DIR TEST_PLUGIN_DIR [COUNT] [SESSIONS]");
    log_set_max_level(LOG_WARNING);
    child_set_executable(argv[1]);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        env.nofile = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (sd_event_new(&loop) < 0 ||
        config_load_daemon("/nonexistent/ophostd.yaml", false, &cfg, &errs) < 0)
        die("setup failed");
    env.cfg = cfg;
    dir = make_plugin_dir(argv[2], argv[3]);
    load_registries(dir);

    bench_hops(count);
    bench_start();
    bench_watch(count / 4);
    bench_many(sessions);

    operators_close(here);
    registry_free(here);
    registry_free(meta);
    daemon_config_free(cfg);
    sd_event_unref(loop);
    {
        char *cmd = strprintf("rm -rf '%s'", dir);
        if (cmd && system(cmd) != 0)
            fprintf(stderr, "bench-workers: cannot remove %s\n", dir);
        free(cmd);
    }
    free(dir);
    return 0;
}

/* benchutil.c — see benchutil.h. */
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>

#include "ctx.h"
#include "loader.h"
#include "operators.h"
#include "log.h"
#include "plan.h"
#include "session.h"

struct registry *bench_registry(const char *dir) {
    struct registry *reg = registry_new();
    struct dirent *de;
    DIR *d = opendir(dir);
    unsigned n = 0;

    log_set_max_level(LOG_WARNING);
    if (!d || !reg) {
        fprintf(stderr, "cannot read %s\n", dir);
        exit(1);
    }
    /* In this process, as a worker loads them. */
    while ((de = readdir(d))) {
        struct plugin *p = NULL;
        char *path, *err = NULL;
        if (de->d_name[0] == '.' || !endswith(de->d_name, ".so"))
            continue;
        path = strprintf("%s/%s", dir, de->d_name);
        if (!path || loader_load_path(path, n++, host_table(), &p, &err) < 0 ||
            registry_add_plugin(reg, p, &err) < 0) {
            fprintf(stderr, "%s\n", err ? err : "out of memory");
            exit(1);
        }
        plugin_unref(p);
        free(path);
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "no plugins in %s\n", dir);
        exit(1);
    }
    return reg;
}

double bench_sec(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

double bench_run(struct registry *reg, const char *fields, const struct config_operator *ops,
                 size_t n, unsigned long long count, clockid_t clock) {
    struct config_param gparams[4] = {
        { .key = "count" }, { .key = "rate", .value = "0" },
        { .key = "fields", .value = (char *) fields }, { .key = "batch", .value = "256" },
    };
    struct config_operator *all = calloc(n + 1, sizeof(*all));
    struct config_session cs = { .name = "bench", .file = "(bench)", .gadget = "synthetic" };
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    struct session *s;
    char countbuf[32];
    double t0, t1;

    if (!all) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    snprintf(countbuf, sizeof(countbuf), "%llu", count);
    gparams[0].value = countbuf;
    all[0] = (struct config_operator){ .name = "synthetic", .params = gparams, .n_params = 4 };
    memcpy(all + 1, ops, n * sizeof(*ops));
    cs.operators = all;
    cs.n_operators = n + 1;
    struct plan_hooks hooks = operators_plan_hooks(reg);
    if (plan_build(reg, &cs, &hooks, &plan, &errs) < 0) {
        for (size_t i = 0; errs.lines && errs.lines[i]; i++)
            fprintf(stderr, "%s\n", errs.lines[i]);
        exit(1);
    }
    s = session_new(plan, NULL);
    t0 = bench_sec(clock);
    if (!s || session_start(s) < 0 || session_join(s) < 0) {
        fprintf(stderr, "session failed: %s\n", s ? session_error(s) : "out of memory");
        exit(1);
    }
    t1 = bench_sec(clock);
    if (session_events_emitted(s) != count) {
        fprintf(stderr, "emitted %llu events, expected %llu\n",
                (unsigned long long) session_events_emitted(s), count);
        exit(1);
    }
    session_free(s);
    free(all);
    return t1 - t0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n) {
    qsort(v, n, sizeof(double), cmp_double);
    return v[n / 2];
}

double bench_min(const double *v, size_t n) {
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

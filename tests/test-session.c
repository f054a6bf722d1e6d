/*
 * test-session.c — tests daemon/session.c (with plan.c and host.c) on real
 * session threads: the recorder test plugin is copied from TEST_PLUGIN_DIR
 * to a temporary directory, loaded by the real loader with the real host
 * table and registered; sessions are built from in-memory pipeline
 * definitions with plan_build and run to their end. The recorder writes
 * every callback to a trace file, so each test asserts the exact sequence of
 * callbacks, the session's error text and its counters.
 *
 * A few plan tests need operators the recorder does not have (a second
 * gadget, a dependency cycle, a missing dependency); they come from a plugin
 * made in this process ("mem") and registered like a loaded one.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctx.h"
#include "loader.h"
#include "operators.h"
#include "log.h"
#include "plan.h"
#include "registry.h"
#include "schema.h"
#include "session.h"
#include "testutil.h"

#ifndef TEST_PLUGIN_DIR
#error "define TEST_PLUGIN_DIR as the directory of the built test plugins"
#endif

#define YAML "pipelines.d/test.yaml"

/* ------------------------------------------------ the in-memory plugin */

static const char *const dep_cyc_x[] = { "cyc-y", NULL };
static const char *const dep_cyc_y[] = { "cyc-x", NULL };
static const char *const dep_absent[] = { "absent-op", NULL };
static const char *const dep_base[] = { "mem-base", NULL };

#define MEM_OP(n, ...) { .struct_size = sizeof(struct ophost_operator), .name = n, __VA_ARGS__ }

/* The order trap: trap-gadget declares events {pid, comm}; uidgid adds
 * 'user', grp-after (which needs cmdhash) adds 'grp'. cmdhash looks for the
 * field named by its param 'field' in the phase named by 'phase' and fails
 * without it, with a message naming it and field_closest's suggestion
 * (message: none fails without a message; optional: true goes on; opt-out:
 * true then opts out).
 * cmdhash runs before uidgid (same priority, its name sorts first) unless
 * it is cmdhash-fixed, which depends on uidgid. trap-gadget looks for its
 * param 'find' in pre_start. trap_live counts live instances. */
static int trap_live;

static int trap_add(struct ophost_ctx *ctx, const char *name) {
    const struct ophost_host *h = host_table();
    struct ophost_datasource *ds;
    ophost_field f;
    int r;

    if ((r = h->datasource_find(ctx, NULL, &ds)) < 0 ||
        (r = h->field_add(ctx, ds, name, OPHOST_FIELD_STRING, &f)) < 0)
        return h->error(ctx, r, "cannot add field '%s'", name);
    trap_live++;
    return 0;
}

static int trap_destroy(struct ophost_ctx *ctx, void *data) {
    trap_live--;
    return 0;
}

static int trap_gadget_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    const struct ophost_host *h = host_table();
    struct ophost_datasource *ds;
    ophost_field f;
    int r;

    const char *early;

    if ((r = h->datasource_add(ctx, "events", &ds)) < 0 ||
        (r = h->field_add(ctx, ds, "pid", OPHOST_FIELD_U32, &f)) < 0 ||
        (r = h->param_string(ctx, "find-early", &early)) < 0)
        return r;
    /* A gadget sees only its own fields: this one always fails. */
    if (*early && h->field_find(ctx, ds, early, &f) < 0)
        return h->error(ctx, -ENOENT, "trap-gadget: no field '%s'", early);
    return trap_add(ctx, "comm");
}

/* dep-fail fails its instantiate; needs-dep depends on it and adds "user":
 * its instantiate must never run without dep-fail's, not even to explain
 * a missing field. */
static int needs_dep_calls;
static int dep_fail_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    return host_table()->error(ctx, -EIO, "dep-fail: cannot open its device");
}
static int needs_dep_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    needs_dep_calls++;
    return trap_add(ctx, "user");
}

/* Looks for a field as a plugin would: fails naming it, with the host's
 * suggestion, unless told otherwise. */
static int trap_find(struct ophost_ctx *ctx, const char *who, const char *field, bool optional,
                     bool message) {
    const struct ophost_host *h = host_table();
    struct ophost_datasource *ds;
    const char *closest;
    ophost_field f;
    int r;

    if ((r = h->datasource_find(ctx, NULL, &ds)) < 0)
        return r;
    r = h->field_find(ctx, ds, field, &f);
    if (r >= 0 || optional)
        return 0;
    if (!message)
        return r;
    closest = h->field_closest(ctx, ds, field);
    return h->error(ctx, r, "%s: no field '%s'%s%s%s", who, field,
                    closest ? " (did you mean '" : "", closest ? closest : "", closest ? "'?)" : "");
}

static int trap_gadget_pre_start(struct ophost_ctx *ctx, void *data) {
    const char *find;
    int r = host_table()->param_string(ctx, "find", &find);
    return r < 0 ? r : *find ? trap_find(ctx, "trap-gadget", find, false, true) : 0;
}

static int cmdhash_phase(struct ophost_ctx *ctx, const char *phase) {
    const struct ophost_host *h = host_table();
    const char *want, *field, *message;
    bool optional;
    int r;

    if ((r = h->param_string(ctx, "phase", &want)) < 0 ||
        (r = h->param_string(ctx, "field", &field)) < 0 ||
        (r = h->param_string(ctx, "message", &message)) < 0 ||
        (r = h->param_bool(ctx, "optional", &optional)) < 0)
        return r;
    return streq(want, phase) ? trap_find(ctx, "cmdhash", field, optional, streq(message, "yes"))
                              : 0;
}

static int cmdhash_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    bool opt_out;
    int r = cmdhash_phase(ctx, "instantiate");
    if (r >= 0 && (r = host_table()->param_bool(ctx, "opt-out", &opt_out)) >= 0 && opt_out)
        return OPHOST_OPT_OUT;
    if (r >= 0)
        trap_live++;
    return r;
}

static int cmdhash_pre_start(struct ophost_ctx *ctx, void *data) {
    return cmdhash_phase(ctx, "pre_start");
}

static int uidgid_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    return trap_add(ctx, "user");
}

static int grp_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    return trap_add(ctx, "grp");
}

static const struct ophost_param trap_gadget_params[] = {
    { .key = "find", .type = OPHOST_PARAM_STRING, .default_value = "" },
    { .key = "find-early", .type = OPHOST_PARAM_STRING, .default_value = "" },
    { 0 }
};
static const char *const phases[] = { "instantiate", "pre_start", NULL };
static const struct ophost_param cmdhash_params[] = {
    { .key = "phase", .type = OPHOST_PARAM_STRING, .default_value = "instantiate",
      .allowed = phases },
    { .key = "field", .type = OPHOST_PARAM_STRING, .default_value = "user" },
    { .key = "message", .type = OPHOST_PARAM_STRING, .default_value = "yes" },
    { .key = "optional", .type = OPHOST_PARAM_BOOL, .default_value = "false" },
    { .key = "opt-out", .type = OPHOST_PARAM_BOOL, .default_value = "false" },
    { 0 }
};
static const char *const dep_uidgid[] = { "uidgid", NULL };
static const char *const dep_cmdhash[] = { "cmdhash", NULL };
static const char *const dep_dep_fail[] = { "dep-fail", NULL };

static const struct ophost_operator mem_ops[] = {
    MEM_OP("mem-gadget", .flags = OPHOST_OPERATOR_GADGET),
    MEM_OP("cyc-x", .dependencies = dep_cyc_x),
    MEM_OP("cyc-y", .dependencies = dep_cyc_y),
    MEM_OP("mem-needs", .dependencies = dep_absent),
    MEM_OP("mem-base"),
    MEM_OP("mem-dep", .dependencies = dep_base),
    MEM_OP("mem-early", .priority = OPHOST_PRIORITY_EARLY_FILTER),
    MEM_OP("mem-late", .priority = OPHOST_PRIORITY_SINK),
    MEM_OP("trap-gadget", .flags = OPHOST_OPERATOR_GADGET, .instance_params = trap_gadget_params,
           .instantiate = trap_gadget_instantiate, .pre_start = trap_gadget_pre_start,
           .destroy = trap_destroy),
    MEM_OP("cmdhash", .instance_params = cmdhash_params, .instantiate = cmdhash_instantiate,
           .pre_start = cmdhash_pre_start, .destroy = trap_destroy),
    MEM_OP("cmdhash-fixed", .dependencies = dep_uidgid, .instance_params = cmdhash_params,
           .instantiate = cmdhash_instantiate, .pre_start = cmdhash_pre_start,
           .destroy = trap_destroy),
    MEM_OP("uidgid", .instantiate = uidgid_instantiate, .destroy = trap_destroy),
    MEM_OP("grp-after", .dependencies = dep_cmdhash, .instantiate = grp_instantiate,
           .destroy = trap_destroy),
    MEM_OP("dep-fail", .instantiate = dep_fail_instantiate),
    MEM_OP("needs-dep", .dependencies = dep_dep_fail, .instantiate = needs_dep_instantiate,
           .destroy = trap_destroy),
};

static struct plugin *mem_plugin(void) {
    static const struct ophost_operator *const ptrs[] = {
        &mem_ops[0], &mem_ops[1], &mem_ops[2], &mem_ops[3],
        &mem_ops[4], &mem_ops[5], &mem_ops[6], &mem_ops[7], &mem_ops[8],
        &mem_ops[9], &mem_ops[10], &mem_ops[11], &mem_ops[12], &mem_ops[13], &mem_ops[14],
        NULL,
    };
    static const struct ophost_plugin desc = {
        .abi_major = OPHOST_ABI_MAJOR, .abi_minor = OPHOST_ABI_MINOR,
        .struct_size = sizeof(struct ophost_plugin), .name = "mem", .version = "1",
        .operators = ptrs,
    };
    struct plugin *p = NULL;
    char *err = NULL;

    ck_assert_msg(loader_load_static("(memory)", &desc, &p, &err) == 0, "%s", err);
    return p;
}

/* ------------------------------------------------------------- fixture */

static char *dir;            /* temporary directory: the plugin and the traces */
static char *trace1, *trace2;
static struct registry *reg;

static void add_plugin(struct plugin *p) {
    char *err = NULL;
    int r = registry_add_plugin(reg, p, &err);
    ck_assert_msg(r == 0, "adding %s: %d %s", p->path, r, err ? err : "");
    plugin_unref(p);
}

static void setup(void) {
    char *from, *to, *err = NULL;
    struct plugin *p = NULL;
    int r;

    dir = tu_make_dir("session");
    trace1 = tu_path_in(dir, "trace-1");
    trace2 = tu_path_in(dir, "trace-2");

    from = tu_path_in(TEST_PLUGIN_DIR, "recorder.so");
    to = tu_path_in(dir, "recorder.so");
    tu_copy_file(from, to);
    r = loader_load_path(to, 0, host_table(), &p, &err);
    ck_assert_msg(r == 0, "loading %s: %d %s", to, r, err ? err : "");
    ck_assert_str_eq(p->desc->name, "recorder");
    free(from);
    free(to);

    reg = registry_new();
    ck_assert_ptr_nonnull(reg);
    add_plugin(p);
    add_plugin(mem_plugin());
}

static void teardown(void) {
    operators_close(reg);
    reg = registry_free(reg);
    tu_remove_tree(dir);
    free(dir);
    free(trace1);
    free(trace2);
}

/* ----------------------------------------------- pipelines in memory */

#define MAX_OPS 8
#define MAX_PARAMS 8

/* A pipeline definition as config.c would produce it. Positions are made
 * up but fixed: the session name at 1:1, the gadget at 2:11, operator i at
 * line 10*(i+1) column 5, its param j at line 10*(i+1)+1+j column 7. */
struct def {
    struct config_session cs;
    struct config_operator ops[MAX_OPS];
    struct config_param params[MAX_OPS][MAX_PARAMS];
};

static void def_init(struct def *d, const char *name, const char *gadget) {
    memset(d, 0, sizeof(*d));
    d->cs.name = (char *) name;
    d->cs.file = (char *) YAML;
    d->cs.pos = (struct config_pos){ YAML, 1, 1 };
    d->cs.gadget = (char *) gadget;
    d->cs.gadget_pos = (struct config_pos){ YAML, 2, 11 };
    d->cs.operators = d->ops;
    d->cs.autostart = true;
}

static struct config_operator *def_find(struct def *d, const char *op) {
    for (size_t i = 0; i < d->cs.n_operators; i++)
        if (streq(d->ops[i].name, op))
            return &d->ops[i];
    return NULL;
}

static void def_param(struct def *d, const char *op, const char *key, const char *value) {
    struct config_operator *co = def_find(d, op);
    size_t i, j;

    ck_assert_msg(co != NULL, "operator %s not in the definition", op);
    i = (size_t) (co - d->ops);
    j = co->n_params++;
    ck_assert_uint_lt(j, MAX_PARAMS);
    d->params[i][j] = (struct config_param){
        .key = (char *) key, .value = (char *) value,
        .pos = { YAML, 10 * ((unsigned) i + 1) + 1 + (unsigned) j, 7 },
    };
}

/* Adds operator op; with its trace param when trace is not NULL. */
static void def_op(struct def *d, const char *op, const char *trace) {
    size_t i = d->cs.n_operators++;

    ck_assert_uint_lt(i, MAX_OPS);
    d->ops[i] = (struct config_operator){
        .name = (char *) op, .pos = { YAML, 10 * ((unsigned) i + 1), 5 },
        .params = d->params[i],
    };
    if (trace)
        def_param(d, op, "trace", trace);
}

/* rec-gadget, rec-a, rec-b, rec-c, all tracing to trace. */
static void def_std(struct def *d, const char *name, const char *trace) {
    def_init(d, name, "rec-gadget");
    def_op(d, "rec-gadget", trace);
    def_op(d, "rec-a", trace);
    def_op(d, "rec-b", trace);
    def_op(d, "rec-c", trace);
}

/* One param to set: op's key to value. A list of them ends at op NULL. */
struct set {
    const char *op, *key, *value;
};

#define MAX_SETS 3

static void def_sets(struct def *d, const struct set *sets) {
    for (size_t i = 0; i < MAX_SETS && sets[i].op; i++)
        def_param(d, sets[i].op, sets[i].key, sets[i].value);
}

static struct plan *build_ok(struct def *d) {
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    struct plan_hooks hooks = operators_plan_hooks(reg);
    int r = plan_build(reg, &d->cs, &hooks, &plan, &errs);

    ck_assert_msg(r == 0, "plan_build: %d, first error: %s", r,
                  errs.n > 0 && errs.lines ? errs.lines[0] : "(none)");
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_ptr_nonnull(plan);
    return plan;
}

/* plan_build must fail with want; returns its error lines joined by "\n". */
static char *build_fails(struct def *d, int want) {
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    char *all = NULL;
    size_t size = 0;
    FILE *m;
    struct plan_hooks hooks = operators_plan_hooks(reg);
    int r = plan_build(reg, &d->cs, &hooks, &plan, &errs);

    ck_assert_int_eq(r, want);
    ck_assert_ptr_null(plan);
    m = open_memstream(&all, &size);
    ck_assert_ptr_nonnull(m);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(m, "%s%s", i ? "\n" : "", errs.lines[i]);
    fclose(m);
    errors_clear(&errs);
    return all;
}

#define assert_plan_error(d, want_r, want)  \
    do {                                    \
        char *_e = build_fails(d, want_r);  \
        ck_assert_str_eq(_e, want);         \
        free(_e);                           \
    } while (0)

static struct session *start(struct def *d) {
    struct session *s = session_new(build_ok(d), NULL);

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(session_get_state(s), SESSION_CREATED);
    ck_assert_int_eq(session_start(s), 0);
    return s;
}

/* Runs d to its end; the session must end with want (0: stopped). */
static struct session *run(struct def *d, int want) {
    struct session *s = start(d);

    ck_assert_int_eq(session_join(s), want);
    ck_assert_int_eq(session_join(s), want); /* safe to call again */
    ck_assert_int_eq(session_get_state(s), want == 0 ? SESSION_STOPPED : SESSION_FAILED);
    if (want == 0)
        ck_assert_ptr_null(session_error(s));
    return s;
}

/* ---------------------------------------------------------- the traces */

#define assert_trace(path, want) tu_assert_file_eq(path, want)

/* The lines of the trace that start with prefix, in order. */
static char *trace_grep(const char *path, const char *prefix) {
    char *all = tu_read_file(path), *out = NULL, *save = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&out, &size);

    ck_assert_ptr_nonnull(m);
    for (char *l = strtok_r(all, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strncmp(l, prefix, strlen(prefix)) == 0)
            fprintf(m, "%s\n", l);
    fclose(m);
    free(all);
    return out;
}

#define assert_grep(path, prefix, want)          \
    do {                                         \
        char *_t = trace_grep(path, prefix);     \
        ck_assert_str_eq(_t, want);              \
        free(_t);                                \
    } while (0)

#define ALL4(phase) \
    "rec-gadget " phase "\nrec-a " phase "\nrec-b " phase "\nrec-c " phase "\n"
#define REV4(phase) \
    "rec-c " phase "\nrec-b " phase "\nrec-a " phase "\nrec-gadget " phase "\n"
#define UP ALL4("instantiate") ALL4("pre_start") ALL4("start")
#define DOWN REV4("stop") REV4("post_stop") REV4("destroy")

/* count=3, per-batch=2: batches of 2 and 1 through every operator. */
#define EVENTS_3                                              \
    "rec-gadget process\n"                                    \
    "rec-gadget emit n=2\n"                                   \
    "rec-a process n=2\n"                                     \
    "rec-b process n=2\n"                                     \
    "rec-c process n=2\n"                                     \
    "rec-c event seq=1 name=ev-1 a=10 b=b-1\n"                \
    "rec-c event seq=2 name=ev-2 a=20 b=b-2\n"                \
    "rec-c batch n=2\n"                                       \
    "rec-gadget emit n=1\n"                                   \
    "rec-a process n=1\n"                                     \
    "rec-b process n=1\n"                                     \
    "rec-c process n=1\n"                                     \
    "rec-c event seq=3 name=ev-3 a=30 b=b-3\n"                \
    "rec-c batch n=1\n"                                       \
    "rec-gadget done\n"

static const char *const op_names[] = { "rec-gadget", "rec-a", "rec-b", "rec-c" };
static const char *const do_names[] = { "instantiate", "pre_start", "start" };
static const char *const undo_names[] = { "destroy", "post_stop", "stop" };

/* What the lifecycle contract says for a session of the four recorder
 * operators whose operator fail_op fails its do fail_phase: every do in
 * order up to the failing one, then the undo of each do that succeeded,
 * in reverse. */
static char *expected_failure(size_t fail_op, size_t fail_phase) {
    bool done[4][3] = { { false } };
    char *out = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&out, &size);

    ck_assert_ptr_nonnull(m);
    for (size_t p = 0; p < 3; p++)
        for (size_t i = 0; i < 4; i++) {
            fprintf(m, "%s %s\n", op_names[i], do_names[p]);
            if (i == fail_op && p == fail_phase)
                goto undo;
            done[i][p] = true;
        }
undo:
    for (size_t p = 3; p-- > 0;)
        for (size_t i = 4; i-- > 0;)
            if (done[i][p])
                fprintf(m, "%s %s\n", op_names[i], undo_names[p]);
    fclose(m);
    return out;
}

static void assert_stats(struct session *s, size_t i, const char *name, uint64_t in,
                         uint64_t out, uint64_t batches, bool opted_out) {
    struct instance_stats st[MAX_OPS];
    size_t n = session_instance_stats(s, st, MAX_OPS);

    ck_assert_uint_gt(n, i);
    ck_assert_str_eq(st[i].operator_name, name);
    ck_assert_msg(st[i].events_in == in && st[i].events_out == out && st[i].batches == batches &&
                      st[i].opted_out == opted_out,
                  "%s: in %llu out %llu batches %llu opted_out %d, expected %llu %llu %llu %d",
                  name, (unsigned long long) st[i].events_in,
                  (unsigned long long) st[i].events_out, (unsigned long long) st[i].batches,
                  st[i].opted_out, (unsigned long long) in, (unsigned long long) out,
                  (unsigned long long) batches, opted_out);
}

/* --------------------------------------------------------- lifecycle */

/* Sessions of the four recorder operators with some params set, each run
 * to its end: the exact trace, the error, the events emitted and, where
 * given, the counters of every operator. */
struct op_stats {
    uint64_t in, out, batches;
    bool opted_out;
};

static const struct run_case {
    const char *name;
    struct set sets[MAX_SETS];
    int want;              /* what session_join returns */
    const char *trace;
    const char *error;     /* session_error: NULL when want is 0 */
    uint64_t emitted;
    bool has_stats;
    struct op_stats stats[4]; /* rec-gadget, rec-a, rec-b, rec-c */
} run_cases[] = {
    /* Every callback in order, then the undos in reverse. */
    { "ok", { { NULL } }, 0, UP EVENTS_3 DOWN, NULL, 3,
      true, { { 0, 0, 0, false }, { 3, 3, 2, false }, { 3, 3, 2, false }, { 3, 3, 2, false } } },
    /* The same as one case of test_do_fails, spelt out. */
    { "bad", { { "rec-b", "fail", "start" } }, -EIO,
      ALL4("instantiate") ALL4("pre_start")
      "rec-gadget start\n"
      "rec-a start\n"
      "rec-b start\n"
      "rec-a stop\n"
      "rec-gadget stop\n"
      REV4("post_stop") REV4("destroy"),
      "operator 'rec-b': start failed: recorder: start failed on purpose", 0, false, { { 0 } } },
    /* The first batch stops at rec-b; the gadget is told and emits no more. */
    { "proc", { { "rec-gadget", "count", "6" }, { "rec-b", "fail", "process" } }, -EIO,
      UP
      "rec-gadget process\n"
      "rec-gadget emit n=2\n"
      "rec-a process n=2\n"
      "rec-b process n=2\n"
      "rec-gadget emit failed\n"
      DOWN,
      "operator 'rec-b': process failed: recorder: process failed on purpose", 2,
      true, { { 0, 0, 0, false }, { 2, 2, 1, false }, { 2, 0, 1, false }, { 0, 0, 0, false } } },
    { "tick", { { "rec-gadget", "fail", "process" } }, -EIO, UP "rec-gadget process\n" DOWN,
      "operator 'rec-gadget': timer callback failed: recorder: process failed on purpose", 0,
      false, { { 0 } } },
    { "epipe", { { "rec-gadget", "done-error", "32" /* EPIPE */ } }, -EPIPE, UP EVENTS_3 DOWN,
      "operator 'rec-gadget': gadget ended with an error: Broken pipe", 3, false, { { 0 } } },
    /* rec-b only instantiates; rec-c finds no field b. */
    { "optout", { { "rec-b", "opt-out", "yes" } }, 0,
      ALL4("instantiate")
      "rec-gadget pre_start\nrec-a pre_start\nrec-c pre_start\n"
      "rec-gadget start\nrec-a start\nrec-c start\n"
      "rec-gadget process\n"
      "rec-gadget emit n=2\n"
      "rec-a process n=2\n"
      "rec-c process n=2\n"
      "rec-c event seq=1 name=ev-1 a=10 b=-\n"
      "rec-c event seq=2 name=ev-2 a=20 b=-\n"
      "rec-c batch n=2\n"
      "rec-gadget emit n=1\n"
      "rec-a process n=1\n"
      "rec-c process n=1\n"
      "rec-c event seq=3 name=ev-3 a=30 b=-\n"
      "rec-c batch n=1\n"
      "rec-gadget done\n"
      "rec-c stop\nrec-a stop\nrec-gadget stop\n"
      "rec-c post_stop\nrec-a post_stop\nrec-gadget post_stop\n"
      "rec-c destroy\nrec-a destroy\nrec-gadget destroy\n",
      NULL, 3,
      true, { { 0, 0, 0, false }, { 3, 3, 2, false }, { 0, 0, 0, true }, { 3, 3, 2, false } } },
    { "optout", { { "rec-gadget", "opt-out", "true" } }, -EINVAL, "rec-gadget instantiate\n",
      "operator 'rec-gadget': gadget opted out of the session", 0, false, { { 0 } } },
    /* The last batch (seq 5) is emptied by rec-b: rec-c never sees it. */
    { "drop", { { "rec-gadget", "count", "5" }, { "rec-b", "drop-odd", "on" } }, 0,
      UP
      "rec-gadget process\n"
      "rec-gadget emit n=2\n"
      "rec-a process n=2\n"
      "rec-b process n=2\n"
      "rec-c process n=1\n"
      "rec-c event seq=2 name=ev-2 a=20 b=b-2\n"
      "rec-c batch n=1\n"
      "rec-gadget emit n=2\n"
      "rec-a process n=2\n"
      "rec-b process n=2\n"
      "rec-c process n=1\n"
      "rec-c event seq=4 name=ev-4 a=40 b=b-4\n"
      "rec-c batch n=1\n"
      "rec-gadget emit n=1\n"
      "rec-a process n=1\n"
      "rec-b process n=1\n"
      "rec-gadget done\n"
      DOWN,
      NULL, 5,
      true, { { 0, 0, 0, false }, { 5, 5, 3, false }, { 5, 2, 3, false }, { 2, 2, 2, false } } },
};

START_TEST(test_run) {
    const struct run_case *c = &run_cases[_i];
    struct session *s;
    struct def d;

    def_std(&d, c->name, trace1);
    def_sets(&d, c->sets);
    s = run(&d, c->want);
    assert_trace(trace1, c->trace);
    ck_assert_pstr_eq(session_error(s), c->error);
    ck_assert_str_eq(session_name(s), c->name);
    ck_assert_uint_eq(session_events_emitted(s), c->emitted);
    ck_assert_uint_eq(session_events_lost(s), 0);
    if (c->has_stats) {
        ck_assert_uint_eq(session_instance_stats(s, (struct instance_stats[MAX_OPS]){ 0 }, MAX_OPS), 4);
        for (size_t i = 0; i < 4; i++)
            assert_stats(s, i, op_names[i], c->stats[i].in, c->stats[i].out, c->stats[i].batches,
                         c->stats[i].opted_out);
    }
    session_free(s);
}
END_TEST

START_TEST(test_plan_order) {
    /* Listed in reverse and with unrelated operators in between: the plan
     * is the gadget, then dependencies first, then priority, then name. */
    static const char *const want[] = { "rec-gadget", "mem-early", "rec-a", "rec-b",
                                        "mem-late", "rec-c" };
    struct plan *plan;
    struct def d;

    def_init(&d, "order", "rec-gadget");
    def_op(&d, "rec-c", trace1);
    def_op(&d, "mem-late", NULL);
    def_op(&d, "rec-b", trace1);
    def_op(&d, "rec-a", trace1);
    def_op(&d, "mem-early", NULL);
    def_op(&d, "rec-gadget", trace1);
    plan = build_ok(&d);
    ck_assert_str_eq(plan->name, "order");
    ck_assert_str_eq(plan->gadget, "rec-gadget");
    ck_assert_uint_eq(plan->n_steps, ELEMENTSOF(want));
    for (size_t i = 0; i < ELEMENTSOF(want); i++)
        ck_assert_str_eq(plan->steps[i].entry->op->name, want[i]);
    plan_free(plan);
}
END_TEST

START_TEST(test_dependency_pulled_in) {
    /* mem-dep pulls in mem-base; neither has a callback, which is fine. */
    struct session *s;
    struct def d;

    def_init(&d, "pull", "rec-gadget");
    def_op(&d, "rec-gadget", trace1);
    def_op(&d, "mem-dep", NULL);
    s = run(&d, 0);
    ck_assert_uint_eq(session_plan(s)->n_steps, 3);
    ck_assert_str_eq(session_plan(s)->steps[1].entry->op->name, "mem-base");
    ck_assert_str_eq(session_plan(s)->steps[2].entry->op->name, "mem-dep");
    assert_trace(trace1, "rec-gadget instantiate\n"
                         "rec-gadget pre_start\n"
                         "rec-gadget start\n"
                         "rec-gadget process\n"
                         "rec-gadget emit n=2\n"
                         "rec-gadget emit n=1\n"
                         "rec-gadget done\n"
                         "rec-gadget stop\n"
                         "rec-gadget post_stop\n"
                         "rec-gadget destroy\n");
    assert_stats(s, 1, "mem-base", 0, 0, 0, false);
    assert_stats(s, 2, "mem-dep", 0, 0, 0, false);
    session_free(s);
}
END_TEST

/* Loop over (operator, phase): the gadget, the first operator after it and
 * the last operator, each failing instantiate, pre_start and start. */
static const size_t do_fail_ops[] = { 0, 1, 3 };

START_TEST(test_do_fails) {
    size_t op = do_fail_ops[_i / 3], p = (size_t) _i % 3;
    char *want, *err;
    struct session *s;
    struct def d;

    def_std(&d, "bad", trace1);
    def_param(&d, op_names[op], "fail", do_names[p]);
    s = run(&d, -EIO);
    want = expected_failure(op, p);
    assert_trace(trace1, want);
    err = strprintf("operator '%s': %s failed: recorder: %s failed on purpose", op_names[op],
                    do_names[p], do_names[p]);
    ck_assert_str_eq(session_error(s), err);
    ck_assert_uint_eq(session_events_emitted(s), 0);
    free(want);
    free(err);
    session_free(s);
}
END_TEST

START_TEST(test_expected_failure_helper) {
    /* The helper that test_do_fails relies on, checked against two cases
     * written out by hand. */
    char *t = expected_failure(0, 0);
    ck_assert_str_eq(t, "rec-gadget instantiate\n");
    free(t);
    t = expected_failure(3, 1);
    ck_assert_str_eq(t, ALL4("instantiate") ALL4("pre_start")
                        "rec-b post_stop\nrec-a post_stop\nrec-gadget post_stop\n"
                        REV4("destroy"));
    free(t);
    t = expected_failure(1, 2);
    ck_assert_str_eq(t, ALL4("instantiate") ALL4("pre_start")
                        "rec-gadget start\nrec-a start\nrec-gadget stop\n"
                        REV4("post_stop") REV4("destroy"));
    free(t);
}
END_TEST

/* An undo that fails: the remaining undos still run; the session still
 * completes (undo errors are logged as warnings, they do not fail it). */
static const char *const undo_fail_ops[] = { "rec-b", "rec-gadget" };

START_TEST(test_undo_fails) {
    const char *op = undo_fail_ops[_i / 3], *phase = undo_names[_i % 3];
    char *log, *want;
    struct session *s;
    struct def d;
    int saved, fd, level = log_get_max_level();

    def_std(&d, "undo", trace1);
    def_param(&d, op, "fail", phase);

    /* Capture the log (stderr) to check the failure is reported. */
    log_set_max_level(LOG_WARNING);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    fd = open(trace2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    s = run(&d, 0);
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    log_set_max_level(level);

    assert_trace(trace1, UP EVENTS_3 DOWN);
    ck_assert_int_eq(session_get_state(s), SESSION_STOPPED);
    ck_assert_ptr_null(session_error(s));
    log = tu_read_file(trace2);
    want = strprintf("warning: session undo, operator %s: %s failed: recorder: %s failed on "
                     "purpose, continuing\n", op, phase, phase);
    ck_assert_str_eq(log, want);
    free(log);
    free(want);
    session_free(s);
}
END_TEST

/* Starts a session of the four recorder operators whose gadget emits
 * nothing and never ends it (count=0), and waits until it runs. */
static struct session *start_forever(struct def *d, const char *name, const char *trace) {
    struct session *s;

    def_std(d, name, trace);
    def_param(d, "rec-gadget", "count", "0");
    s = start(d);
    ck_assert_int_eq(session_wait_started(s), 0);
    return s;
}

START_TEST(test_stop_request) {
    struct def d;
    struct session *s = start_forever(&d, "forever", trace1);

    ck_assert_int_eq(session_get_state(s), SESSION_RUNNING);
    assert_trace(trace1, UP);
    session_request_stop(s);
    session_request_stop(s); /* twice is harmless */
    ck_assert_int_eq(session_join(s), 0);
    ck_assert_int_eq(session_get_state(s), SESSION_STOPPED);
    ck_assert_ptr_null(session_error(s));
    assert_trace(trace1, UP DOWN);
    ck_assert_uint_eq(session_events_emitted(s), 0);
    session_free(s);
}
END_TEST

START_TEST(test_free_running) {
    /* session_free on a running session stops it with the full undo. */
    struct def d;

    session_free(start_forever(&d, "forever", trace1));
    assert_trace(trace1, UP DOWN);
}
END_TEST

START_TEST(test_wait_started_failure) {
    struct session *s;
    struct def d;

    def_std(&d, "bad", trace1);
    def_param(&d, "rec-a", "fail", "pre_start");
    s = start(&d);
    ck_assert_int_eq(session_wait_started(s), -EIO);
    ck_assert_int_eq(session_join(s), -EIO);
    ck_assert_str_eq(session_error(s), "operator 'rec-a': pre_start failed: recorder: pre_start failed on purpose");
    session_free(s);
}
END_TEST

START_TEST(test_two_sessions) {
    /* One runs until stopped while the other fails; then the first is
     * stopped and completes. Each has its own trace. */
    struct session *s1, *s2;
    struct def d1, d2;
    char *want;

    s1 = start_forever(&d1, "one", trace1);
    def_std(&d2, "two", trace2);
    def_param(&d2, "rec-c", "fail", "start");
    s2 = start(&d2);
    ck_assert_int_eq(session_join(s2), -EIO);
    ck_assert_int_eq(session_get_state(s2), SESSION_FAILED);
    ck_assert_str_eq(session_error(s2), "operator 'rec-c': start failed: recorder: start failed on purpose");
    ck_assert_int_eq(session_get_state(s1), SESSION_RUNNING);
    ck_assert_ptr_null(session_error(s1));
    session_request_stop(s1);
    ck_assert_int_eq(session_join(s1), 0);
    ck_assert_int_eq(session_get_state(s1), SESSION_STOPPED);
    assert_trace(trace1, UP DOWN);
    want = expected_failure(3, 2);
    assert_trace(trace2, want);
    free(want);
    session_free(s1);
    session_free(s2);
}
END_TEST

START_TEST(test_two_sessions_data) {
    /* Both emit at the same time; one fails in process, the other completes. */
    struct session *s1, *s2;
    struct def d1, d2;

    def_std(&d1, "one", trace1);
    def_std(&d2, "two", trace2);
    def_param(&d2, "rec-a", "fail", "process");
    s1 = start(&d1);
    s2 = start(&d2);
    ck_assert_int_eq(session_join(s2), -EIO);
    ck_assert_int_eq(session_join(s1), 0);
    ck_assert_str_eq(session_error(s2), "operator 'rec-a': process failed: recorder: process failed on purpose");
    assert_trace(trace1, UP EVENTS_3 DOWN);
    assert_trace(trace2, UP
                         "rec-gadget process\n"
                         "rec-gadget emit n=2\n"
                         "rec-a process n=2\n"
                         "rec-gadget emit failed\n"
                         DOWN);
    session_free(s1);
    session_free(s2);
}
END_TEST

/* ---------------------------------------------------------- data path */

START_TEST(test_batches) {
    struct session *s;
    struct def d;

    def_std(&d, "batches", trace1);
    def_param(&d, "rec-gadget", "count", "5");
    s = run(&d, 0);
    assert_grep(trace1, "rec-gadget emit", "rec-gadget emit n=2\nrec-gadget emit n=2\nrec-gadget emit n=1\n");
    assert_grep(trace1, "rec-c ", "rec-c instantiate\n"
                                  "rec-c pre_start\n"
                                  "rec-c start\n"
                                  "rec-c process n=2\n"
                                  "rec-c event seq=1 name=ev-1 a=10 b=b-1\n"
                                  "rec-c event seq=2 name=ev-2 a=20 b=b-2\n"
                                  "rec-c batch n=2\n"
                                  "rec-c process n=2\n"
                                  "rec-c event seq=3 name=ev-3 a=30 b=b-3\n"
                                  "rec-c event seq=4 name=ev-4 a=40 b=b-4\n"
                                  "rec-c batch n=2\n"
                                  "rec-c process n=1\n"
                                  "rec-c event seq=5 name=ev-5 a=50 b=b-5\n"
                                  "rec-c batch n=1\n"
                                  "rec-c stop\n"
                                  "rec-c post_stop\n"
                                  "rec-c destroy\n");
    ck_assert_uint_eq(session_events_emitted(s), 5);
    assert_stats(s, 1, "rec-a", 5, 5, 3, false);
    assert_stats(s, 2, "rec-b", 5, 5, 3, false);
    assert_stats(s, 3, "rec-c", 5, 5, 3, false);
    session_free(s);
}
END_TEST

START_TEST(test_full_batches) {
    /* 600 events in batches of at most 256 (the host's batch capacity):
     * the gadget fills each batch until append returns NULL. */
    struct session *s;
    char *events, *want;
    size_t size = 0;
    struct def d;
    FILE *m;

    def_std(&d, "full", trace1);
    def_param(&d, "rec-gadget", "count", "600");
    def_param(&d, "rec-gadget", "per-batch", "256");
    def_param(&d, "rec-b", "drop-odd", "1");
    s = run(&d, 0);
    assert_grep(trace1, "rec-gadget emit", "rec-gadget emit n=256\nrec-gadget emit n=256\nrec-gadget emit n=88\n");
    assert_grep(trace1, "rec-c batch", "rec-c batch n=128\nrec-c batch n=128\nrec-c batch n=44\n");
    m = open_memstream(&want, &size);
    ck_assert_ptr_nonnull(m);
    for (unsigned seq = 2; seq <= 600; seq += 2)
        fprintf(m, "rec-c event seq=%u name=ev-%u a=%u b=b-%u\n", seq, seq, seq * 10, seq);
    fclose(m);
    events = trace_grep(trace1, "rec-c event");
    ck_assert_str_eq(events, want);
    free(events);
    free(want);
    assert_stats(s, 2, "rec-b", 600, 300, 3, false);
    assert_stats(s, 3, "rec-c", 300, 300, 3, false);
    session_free(s);
}
END_TEST


/* ----------------------------------------------- around the data path */

/* What the tap saw: "n=N: SEQ SEQ ...\n" per batch. Written on the session
 * thread, read after session_join (which orders the two). */
static char tap_log[4096];

static void tap(struct session *s, const struct ophost_batch *b, void *userdata) {
    size_t at = strlen(tap_log);
    ophost_field seq;

    ck_assert_ptr_eq(userdata, tap_log);
    ck_assert_int_eq(datasource_find_field(b->ds, "seq", &seq), 0);
    at += (size_t) snprintf(tap_log + at, sizeof(tap_log) - at, "n=%u:", b->n);
    for (uint32_t i = 0; i < b->n && at < sizeof(tap_log); i++)
        at += (size_t) snprintf(tap_log + at, sizeof(tap_log) - at, " %llu",
                                (unsigned long long) ophost_event_get_u64(ophost_batch_event(b, i), seq));
    if (at < sizeof(tap_log))
        snprintf(tap_log + at, sizeof(tap_log) - at, "\n");
}

/* Runs d with the tap to its end, which must be want; the tap saw tapped. */
static void run_tapped(struct def *d, int want, const char *tapped) {
    struct session *s = session_new(build_ok(d), NULL);

    tap_log[0] = '\0';
    ck_assert_ptr_nonnull(s);
    session_set_tap(s, tap, tap_log);
    ck_assert_int_eq(session_start(s), 0);
    ck_assert_int_eq(session_join(s), want);
    ck_assert_str_eq(tap_log, tapped);
    session_free(s);
}

START_TEST(test_tap) {
    /* The tap sees what left the last operator; an emptied batch is not
     * handed to it. */
    struct def d;

    def_std(&d, "tap", trace1);
    def_param(&d, "rec-gadget", "count", "5");
    def_param(&d, "rec-b", "drop-odd", "yes");
    run_tapped(&d, 0, "n=1: 2\nn=1: 4\n");
}
END_TEST

START_TEST(test_tap_not_after_failure) {
    struct def d;

    def_std(&d, "tap", trace1);
    def_param(&d, "rec-c", "fail", "process");
    run_tapped(&d, -EIO, "");
}
END_TEST

START_TEST(test_schema_of_session) {
    /* Each operator's fields land in the one data source, in plan order,
     * owned by the operator that added them. */
    static const char *const names[] = { "seq", "name", "a", "b" };
    static const char *const owners[] = { "rec-gadget", "rec-gadget", "rec-a", "rec-b" };
    struct ophost_datasource *const *dss;
    struct session *s;
    struct def d;
    size_t n;

    def_std(&d, "schema", trace1);
    s = run(&d, 0);
    dss = session_datasources(s, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(dss[0]->name, "events");
    ck_assert_str_eq(dss[0]->owner, "rec-gadget");
    ck_assert(dss[0]->frozen);
    ck_assert_uint_eq(dss[0]->n_fields, ELEMENTSOF(names));
    for (size_t i = 0; i < ELEMENTSOF(names); i++) {
        ck_assert_str_eq(dss[0]->fields[i].name, names[i]);
        ck_assert_str_eq(dss[0]->fields[i].owner, owners[i]);
    }
    ck_assert_uint_eq(dss[0]->fields[0].type, OPHOST_FIELD_U64);
    ck_assert_uint_eq(dss[0]->fields[1].type, OPHOST_FIELD_STRING);
    ck_assert_uint_eq(dss[0]->fields[2].type, OPHOST_FIELD_U64);
    ck_assert_uint_eq(dss[0]->fields[3].type, OPHOST_FIELD_STRING);
    session_free(s);
}
END_TEST

START_TEST(test_notify_fd) {
    struct pollfd p = { .events = POLLIN };
    struct session *s;
    struct def d;
    uint64_t v = 0;

    def_std(&d, "notify", trace1);
    s = session_new(build_ok(&d), NULL);
    ck_assert_ptr_nonnull(s);
    p.fd = session_notify_fd(s);
    ck_assert_int_ge(p.fd, 0);
    ck_assert_int_eq(poll(&p, 1, 0), 0); /* nothing happened yet */
    ck_assert_int_eq(session_start(s), 0);
    ck_assert_int_eq(session_join(s), 0);
    /* starting, running, stopping, stopped: four changes. */
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    ck_assert_int_eq(read(p.fd, &v, sizeof(v)), (ssize_t) sizeof(v));
    ck_assert_uint_eq(v, 4);
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    ck_assert_int_eq(session_start(s), -EALREADY);
    session_free(s);
}
END_TEST

START_TEST(test_state_names) {
    ck_assert_str_eq(session_state_name(SESSION_CREATED), "created");
    ck_assert_str_eq(session_state_name(SESSION_STARTING), "starting");
    ck_assert_str_eq(session_state_name(SESSION_RUNNING), "running");
    ck_assert_str_eq(session_state_name(SESSION_STOPPING), "stopping");
    ck_assert_str_eq(session_state_name(SESSION_STOPPED), "stopped");
    ck_assert_str_eq(session_state_name(SESSION_FAILED), "failed");
}
END_TEST

/* ------------------------------------------------- session_check_plan */

/* session_check_plan on the four recorder operators with some params set:
 * its result and error, the exact trace; the plan stays the caller's. */
static const struct check_case {
    struct set sets[MAX_SETS];
    int want;
    const char *error;
    const char *trace;
} check_cases[] = {
    { { { NULL } }, 0, NULL, ALL4("instantiate") REV4("destroy") },
    { { { "rec-b", "fail", "instantiate" } }, -EIO,
      "operator 'rec-b': instantiate failed: recorder: instantiate failed on purpose",
      "rec-gadget instantiate\nrec-a instantiate\nrec-b instantiate\n"
      "rec-a destroy\nrec-gadget destroy\n" },
    { { { "rec-a", "opt-out", "yes" } }, 0, NULL,
      ALL4("instantiate") "rec-c destroy\nrec-b destroy\nrec-gadget destroy\n" },
    /* Nothing to undo: the gadget that opted out is not destroyed. */
    { { { "rec-gadget", "opt-out", "true" } }, -EINVAL,
      "operator 'rec-gadget': gadget opted out of the session", "rec-gadget instantiate\n" },
};

START_TEST(test_check_plan) {
    const struct check_case *c = &check_cases[_i];
    struct plan *plan;
    struct def d;
    char *err = NULL;

    def_std(&d, "check", trace1);
    def_sets(&d, c->sets);
    plan = build_ok(&d);
    ck_assert_int_eq(session_check_plan(plan, &err), c->want);
    ck_assert_pstr_eq(err, c->error);
    assert_trace(trace1, c->trace);
    /* The plan stays the caller's and can still run. */
    ck_assert_str_eq(plan->name, "check");
    free(err);
    plan_free(plan);
}
END_TEST

/* ------------------------------------------------------- the order trap */

/* trap-gadget and ops, with sets: the session ends with want and error
 * (both for the session and, where instantiate fails, for the dry run), or
 * runs (want 0) and logs exactly warning; no instance is left. */
static const struct trap_case {
    const char *ops[3];
    struct set sets[MAX_SETS];
    int want;
    const char *error;
    const char *warning;
} trap_cases[] = {
#define USER_LATER "field 'user' is added by 'uidgid', which runs after 'cmdhash': add 'uidgid' " \
                   "to cmdhash's dependencies"
    { { "cmdhash", "uidgid" }, { { NULL } }, -ENOENT,
      "operator 'cmdhash': instantiate failed: cmdhash: no field 'user'; " USER_LATER, NULL },
    { { "cmdhash", "uidgid" }, { { "cmdhash", "phase", "pre_start" } }, -ENOENT,
      "operator 'cmdhash': pre_start failed: cmdhash: no field 'user'; " USER_LATER, NULL },
    { { "cmdhash", "uidgid" }, { { "cmdhash", "message", "none" } }, -ENOENT,
      "operator 'cmdhash': instantiate failed: " USER_LATER, NULL },
    { { "cmdhash", "uidgid" }, { { "cmdhash", "field", "usr" } }, -ENOENT,
      "operator 'cmdhash': instantiate failed: cmdhash: no field 'usr'; no operator of session "
      "'s' adds field 'usr' (did you mean 'user'?)", NULL },
    { { "cmdhash", "uidgid" }, { { "cmdhash", "field", "usr" }, { "cmdhash", "phase", "pre_start" } },
      -ENOENT, "operator 'cmdhash': pre_start failed: cmdhash: no field 'usr'; no operator of "
      "session 's' adds field 'usr' (did you mean 'user'?)", NULL },
    /* The plugin's own suggestion (of a field it can find) is not repeated. */
    { { "cmdhash", "uidgid" }, { { "cmdhash", "field", "pd" } }, -ENOENT,
      "operator 'cmdhash': instantiate failed: cmdhash: no field 'pd' (did you mean 'pid'?)", NULL },
    /* Without the plugin's text, the host's stands alone. */
    { { "cmdhash", "uidgid" }, { { "cmdhash", "field", "usr" }, { "cmdhash", "message", "none" } },
      -ENOENT, "operator 'cmdhash': instantiate failed: no operator of session 's' adds field "
      "'usr' (did you mean 'user'?)", NULL },
    { { "cmdhash", "uidgid" }, { { "cmdhash", "field", "xyz" }, { "cmdhash", "message", "none" } },
      -ENOENT, "operator 'cmdhash': instantiate failed: no operator of session 's' adds field "
      "'xyz'", NULL },
    { { "cmdhash", "grp-after" }, { { "cmdhash", "field", "grp" }, { "cmdhash", "message", "none" } },
      -ENOENT, "operator 'cmdhash': instantiate failed: no operator of session 's' adds field "
      "'grp' (operators that need 'cmdhash' were not asked)", NULL },
    /* A field of an operator that needs the caller: no dependency helps. */
    { { "cmdhash", "grp-after" }, { { "cmdhash", "field", "grp" }, { "cmdhash", "phase", "pre_start" } },
      -ENOENT, "operator 'cmdhash': pre_start failed: cmdhash: no field 'grp'; field 'grp' is "
      "added by 'grp-after', which runs after 'cmdhash' because it depends on it: 'cmdhash' "
      "cannot use its fields", NULL },
    { { "cmdhash", "grp-after" }, { { "cmdhash", "field", "grp" } }, -ENOENT,
      "operator 'cmdhash': instantiate failed: cmdhash: no field 'grp'", NULL },
    { { "uidgid" }, { { "trap-gadget", "find", "user" } }, -ENOENT,
      "operator 'trap-gadget': pre_start failed: trap-gadget: no field 'user'; field 'user' is "
      "added by 'uidgid', which runs after the gadget: a gadget sees only the fields it adds "
      "itself", NULL },
    /* The fix: a dependency. */
    { { "cmdhash-fixed", "uidgid" }, { { NULL } }, 0, NULL, "" },
    { { "cmdhash-fixed", "uidgid" }, { { "cmdhash-fixed", "phase", "pre_start" } }, 0, NULL, "" },
    /* An operator that goes on without the field is warned. */
    { { "cmdhash", "uidgid" }, { { "cmdhash", "optional", "true" } }, 0, NULL,
      "warning: session s, operator cmdhash: " USER_LATER " ('cmdhash' goes on without the field)\n" },
    { { "cmdhash", "uidgid" }, { { "cmdhash", "optional", "true" }, { "cmdhash", "phase", "pre_start" } },
      0, NULL,
      "warning: session s, operator cmdhash: " USER_LATER " ('cmdhash' goes on without the field)\n" },
    /* An operator that opts out does not go on at all. */
    { { "cmdhash", "uidgid" }, { { "cmdhash", "optional", "true" }, { "cmdhash", "opt-out", "true" } },
      0, NULL, "" },
    /* A field nobody adds, looked for optionally, is no news. */
    { { "cmdhash", "uidgid" }, { { "cmdhash", "optional", "true" }, { "cmdhash", "field", "usr" } },
      0, NULL, "" },
    /* The adder of the field depends on an operator that fails: it is not
     * instantiated to explain the miss. */
    { { "cmdhash", "dep-fail", "needs-dep" }, { { NULL } }, -ENOENT,
      "operator 'cmdhash': instantiate failed: cmdhash: no field 'user'", NULL },
    /* The gadget runs first: a field of a later operator is never its. */
    { { "uidgid" }, { { "trap-gadget", "find-early", "user" } }, -ENOENT,
      "operator 'trap-gadget': instantiate failed: trap-gadget: no field 'user'", NULL },
#undef USER_LATER
};

START_TEST(test_order_trap) {
    const struct trap_case *c = &trap_cases[_i];
    struct plan *plan;
    struct session *s;
    struct def d;
    char *err = NULL;

    def_init(&d, "s", "trap-gadget");
    def_op(&d, "trap-gadget", NULL);
    for (size_t i = 0; i < ELEMENTSOF(c->ops) && c->ops[i]; i++)
        def_op(&d, c->ops[i], NULL);
    def_sets(&d, c->sets);
    trap_live = 0;
    needs_dep_calls = 0;

    /* The dry run: instantiate fails the same way. */
    plan = build_ok(&d);
    if (c->error && strstr(c->error, "instantiate failed")) {
        ck_assert_int_eq(session_check_plan(plan, &err), c->want);
        ck_assert_str_eq(err, c->error);
        free(err);
    } else
        ck_assert_int_eq(session_check_plan(plan, &err), 0);
    ck_assert_int_eq(trap_live, 0);
    ck_assert_int_eq(needs_dep_calls, 0);
    plan_free(plan);

    if (c->want < 0) {
        s = run(&d, c->want);
        ck_assert_str_eq(session_error(s), c->error);
    } else {
        int saved, fd, level = log_get_max_level();
        char *log;

        log_set_max_level(LOG_WARNING);
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        ck_assert_int_ge(saved, 0);
        fd = open(trace2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        close(fd);
        s = start(&d);
        ck_assert_int_eq(session_wait_started(s), 0);
        session_request_stop(s);
        ck_assert_int_eq(session_join(s), 0);
        fflush(stderr);
        ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        log_set_max_level(level);
        log = tu_read_file(trace2);
        ck_assert_str_eq(log, c->warning);
        free(log);
    }
    ck_assert_int_eq(trap_live, 0);
    ck_assert_int_eq(needs_dep_calls, 0);
    session_free(s);
}
END_TEST

/* ---------------------------------------------------------- plan errors */

/* The four recorder operators, one more operator and some params: plan_build
 * fails with want and exactly these error lines. */
static const struct plan_case {
    const char *op; /* added after the four, or NULL */
    struct set sets[MAX_SETS];
    int want;
    const char *error;
} plan_cases[] = {
    { "rec-cc", { { NULL } }, -ENOENT,
      YAML ":50:5: session 's': unknown operator 'rec-cc' (did you mean 'rec-c'?)" },
    { "zzzzzzzz", { { NULL } }, -ENOENT, YAML ":50:5: session 's': unknown operator 'zzzzzzzz'" },
    { "mem-gadget", { { NULL } }, -EINVAL,
      YAML ":50:5: session 's': operator 'mem-gadget' is a gadget; a session has one gadget ('rec-gadget')" },
    { "cyc-x", { { NULL } }, -EINVAL, YAML ":1:1: session 's': dependency cycle: cyc-x -> cyc-y -> cyc-x" },
    { "mem-needs", { { NULL } }, -ENOENT,
      YAML ":1:1: session 's': operator 'mem-needs' depends on 'absent-op', which is not available" },
    /* Every operator with bad params is reported, in plan order. */
    { NULL,
      { { "rec-a", "fail", "sometimes" }, { "rec-c", "trac", "x" }, { "rec-gadget", "per-batch", "0" } },
      -EINVAL,
      YAML ":12:7: session 's': operator 'rec-gadget': param 'per-batch': '0' is below the minimum 1\n"
      YAML ":22:7: session 's': operator 'rec-a': param 'fail': 'sometimes' is not one of: "
      "none, instantiate, pre_start, start, stop, post_stop, destroy, process\n"
      YAML ":42:7: session 's': operator 'rec-c': unknown param 'trac' (did you mean 'trace'?)" },
    { NULL, { { "rec-a", "fail", "sometimes" } }, -EINVAL,
      YAML ":22:7: session 's': operator 'rec-a': param 'fail': 'sometimes' is not one of: "
      "none, instantiate, pre_start, start, stop, post_stop, destroy, process" },
    { NULL, { { "rec-c", "trac", "x" } }, -EINVAL,
      YAML ":42:7: session 's': operator 'rec-c': unknown param 'trac' (did you mean 'trace'?)" },
};

START_TEST(test_plan_error) {
    const struct plan_case *c = &plan_cases[_i];
    struct def d;

    def_std(&d, "s", trace1);
    if (c->op)
        def_op(&d, c->op, NULL);
    def_sets(&d, c->sets);
    assert_plan_error(&d, c->want, c->error);
}
END_TEST

START_TEST(test_plan_unknown_gadget) {
    struct def d;

    def_init(&d, "s", "rec-gadgte");
    def_op(&d, "rec-a", trace1);
    assert_plan_error(&d, -ENOENT,
                      YAML ":2:11: session 's': unknown gadget 'rec-gadgte' (did you mean 'rec-gadget'?)");
}
END_TEST

START_TEST(test_plan_not_a_gadget) {
    struct def d;

    def_init(&d, "s", "rec-a");
    def_op(&d, "rec-a", trace1);
    def_op(&d, "rec-b", trace1);
    assert_plan_error(&d, -EINVAL, YAML ":2:11: session 's': operator 'rec-a' is not a gadget");
}
END_TEST

START_TEST(test_plan_missing_mandatory) {
    struct def d;

    /* rec-b listed without params; the gadget not listed at all. */
    def_init(&d, "s", "rec-gadget");
    def_op(&d, "rec-a", trace1);
    def_op(&d, "rec-b", NULL);
    def_op(&d, "rec-c", trace1);
    assert_plan_error(&d, -EINVAL,
                      YAML ":2:11: session 's': operator 'rec-gadget': missing mandatory param 'trace'\n"
                      YAML ":20:5: session 's': operator 'rec-b': missing mandatory param 'trace'");
    def_init(&d, "s", "rec-gadget");
    def_op(&d, "rec-gadget", trace1);
    def_op(&d, "rec-a", trace1);
    def_op(&d, "rec-b", NULL);
    def_op(&d, "rec-c", trace1);
    assert_plan_error(&d, -EINVAL,
                      YAML ":30:5: session 's': operator 'rec-b': missing mandatory param 'trace'");
}
END_TEST

static Suite *session_suite(void) {
    Suite *s = suite_create("session");
    TCase *tc;

    tc = tcase_create("lifecycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_run, 0, (int) ELEMENTSOF(run_cases));
    tcase_add_test(tc, test_plan_order);
    tcase_add_test(tc, test_dependency_pulled_in);
    tcase_add_test(tc, test_expected_failure_helper);
    tcase_add_loop_test(tc, test_do_fails, 0, (int) (ELEMENTSOF(do_fail_ops) * 3));
    tcase_add_loop_test(tc, test_undo_fails, 0, (int) (ELEMENTSOF(undo_fail_ops) * 3));
    tcase_add_test(tc, test_stop_request);
    tcase_add_test(tc, test_free_running);
    tcase_add_test(tc, test_wait_started_failure);
    tcase_add_test(tc, test_two_sessions);
    tcase_add_test(tc, test_two_sessions_data);
    suite_add_tcase(s, tc);

    tc = tcase_create("data");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_batches);
    tcase_add_test(tc, test_full_batches);
    tcase_add_test(tc, test_tap);
    tcase_add_test(tc, test_tap_not_after_failure);
    tcase_add_test(tc, test_schema_of_session);
    tcase_add_test(tc, test_notify_fd);
    tcase_add_test(tc, test_state_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_check_plan, 0, (int) ELEMENTSOF(check_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("order");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_order_trap, 0, (int) ELEMENTSOF(trap_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_plan_error, 0, (int) ELEMENTSOF(plan_cases));
    tcase_add_test(tc, test_plan_unknown_gadget);
    tcase_add_test(tc, test_plan_not_a_gadget);
    tcase_add_test(tc, test_plan_missing_mandatory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(session_suite());
    int failed;

    /* Failing sessions log errors by design; keep the test output for
     * the test results (test_undo_fails captures the log itself). */
    log_set_max_level(getenv("OPHOST_TEST_LOG") ? LOG_DEBUG : LOG_CRIT);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

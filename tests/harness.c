/*
 * harness.c — in-process pipelines for tests (see harness.h). The feed and
 * capture operators are registered as an in-process plugin next to the
 * plugins loaded from files, so everything else is the daemon's own code.
 */
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctx.h"
#include "loader.h"
#include "operators.h"
#include "plan.h"
#include "registry.h"
#include "session.h"

static const struct ophost_host *host;

struct harness {
    struct registry *reg;
    struct session *session;
    pthread_mutex_t lock; /* output */
    char *output;
    size_t len, cap;
    char *values; /* harness_values */
    char *snapshot; /* harness_output while a session runs */
    harness_feed_fn fn;
    void *userdata;
    struct instance_stats stats[64];
    size_t n_stats;
    uint64_t lost; /* of the last session */
    /* host->metrics_publish of the last session, per plan step (lock) */
    char *metrics_op[64];
    char *metrics[64];
    unsigned publishes[64];
    char *metrics_copy; /* harness_metrics */
};

/* The harness of the running session: one at a time per process. */
static struct harness *current;

struct harness_feed {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    struct ophost_batch *batch;
};

/* ---------------------------------------------------------------- feed */

static int feed_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct harness_feed *f = calloc(1, sizeof(*f));
    const char *spec;
    char buf[1024], *save = NULL;
    int r;

    if (!f)
        return -ENOMEM;
    f->ctx = ctx;
    if ((r = host->param_string(ctx, "fields", &spec)) < 0 ||
        (r = host->datasource_add(ctx, "events", &f->ds)) < 0) {
        free(f);
        return r;
    }
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        static const char *const types[] = { NULL, "u8", "u16", "u32", "u64", "s32", "s64",
                                             "bool", "timestamp", "string", "bytes" };
        char *colon = strchr(item, ':');
        uint32_t type = 0;
        ophost_field unused;
        if (!colon) {
            free(f);
            return host->error(ctx, -EINVAL, "feed: '%s' is not NAME:TYPE", item);
        }
        *colon = '\0';
        for (uint32_t t = 1; t < sizeof(types) / sizeof(types[0]); t++)
            if (strcmp(types[t], colon + 1) == 0)
                type = t;
        r = host->field_add(ctx, f->ds, item, type, &unused);
        if (r < 0) {
            free(f);
            return host->error(ctx, r, "feed: cannot add field '%s'", item);
        }
    }
    *ret = f;
    return 0;
}

static int feed_tick(struct ophost_ctx *ctx, void *userdata) {
    struct harness_feed *f = userdata;
    f->batch = host->batch(ctx, f->ds);
    if (current->fn)
        current->fn(f, current->userdata);
    harness_flush(f);
    host->done(ctx, 0);
    return 0;
}

static int feed_start(struct ophost_ctx *ctx, void *data) {
    return host->timer_add(ctx, 0, 0, feed_tick, data, NULL);
}

static int feed_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static ophost_field field(struct harness_feed *f, const char *name) {
    ophost_field fd;
    int r = host->field_find(f->ctx, f->ds, name, &fd);
    ck_assert_msg(r == 0, "feed: no field '%s'", name);
    return fd;
}

struct ophost_event *harness_append(struct harness_feed *f) {
    struct ophost_event *e = ophost_batch_append(f->batch);
    if (!e) {
        harness_flush(f);
        e = ophost_batch_append(f->batch);
    }
    ck_assert_ptr_nonnull(e);
    return e;
}

void harness_set_u64(struct harness_feed *f, struct ophost_event *e, const char *name, uint64_t v) {
    ophost_field fd = field(f, name);
    switch (fd.type) {
    case OPHOST_FIELD_U8: ophost_event_set_u8(e, fd, (uint8_t) v); break;
    case OPHOST_FIELD_U16: ophost_event_set_u16(e, fd, (uint16_t) v); break;
    case OPHOST_FIELD_U32: ophost_event_set_u32(e, fd, (uint32_t) v); break;
    case OPHOST_FIELD_U64: case OPHOST_FIELD_TIMESTAMP: ophost_event_set_u64(e, fd, v); break;
    default: ck_abort_msg("feed: field '%s' is not unsigned", name);
    }
}

void harness_set_s64(struct harness_feed *f, struct ophost_event *e, const char *name, int64_t v) {
    ophost_field fd = field(f, name);
    if (fd.type == OPHOST_FIELD_S32)
        ophost_event_set_s32(e, fd, (int32_t) v);
    else if (fd.type == OPHOST_FIELD_S64)
        ophost_event_set_s64(e, fd, v);
    else
        ck_abort_msg("feed: field '%s' is not signed", name);
}

void harness_set_bool(struct harness_feed *f, struct ophost_event *e, const char *name, bool v) {
    ophost_event_set_bool(e, field(f, name), v);
}

void harness_set_string(struct harness_feed *f, struct ophost_event *e, const char *name,
                        const char *v) {
    ck_assert_int_eq(ophost_event_set_string(f->batch, e, field(f, name), v), 0);
}

void harness_set_bytes(struct harness_feed *f, struct ophost_event *e, const char *name,
                       const void *v, size_t len) {
    ck_assert_int_eq(ophost_event_set_bytes(f->batch, e, field(f, name), v, len), 0);
}

void harness_flush(struct harness_feed *f) {
    if (f->batch->n_records > 0)
        (void) host->emit(f->ctx, f->batch);
}

/* ------------------------------------------------------------- capture */

struct capture {
    struct ophost_datasource *ds;
    size_t n;
    const char *names[128];
    ophost_field fields[128];
};

static int capture_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct capture *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    *ret = c;
    return 0;
}

static int capture_start(struct ophost_ctx *ctx, void *data) {
    struct capture *c = data;
    int r = host->datasource_find(ctx, NULL, &c->ds);
    if (r < 0)
        return r;
    c->n = host->field_count(ctx, c->ds);
    ck_assert_uint_le(c->n, 128);
    for (size_t i = 0; i < c->n; i++)
        ck_assert_int_eq(host->field_at(ctx, c->ds, i, &c->names[i], &c->fields[i]), 0);
    return 0;
}

static void out_append(struct harness *h, const char *s, size_t n) {
    if (h->len + n + 1 > h->cap) {
        h->cap = (h->len + n + 1) * 2;
        h->output = realloc(h->output, h->cap);
        ck_assert_ptr_nonnull(h->output);
    }
    memcpy(h->output + h->len, s, n);
    h->len += n;
    h->output[h->len] = '\0';
}

static void format_value(FILE *f, const struct ophost_batch *b, const struct ophost_event *e,
                         ophost_field fd) {
    const char *s;
    size_t len = 0;
    switch (fd.type) {
    case OPHOST_FIELD_U8: fprintf(f, "%u", ophost_event_get_u8(e, fd)); break;
    case OPHOST_FIELD_U16: fprintf(f, "%u", ophost_event_get_u16(e, fd)); break;
    case OPHOST_FIELD_U32: fprintf(f, "%" PRIu32, ophost_event_get_u32(e, fd)); break;
    case OPHOST_FIELD_U64: case OPHOST_FIELD_TIMESTAMP:
        fprintf(f, "%" PRIu64, ophost_event_get_u64(e, fd));
        break;
    case OPHOST_FIELD_S32: fprintf(f, "%" PRId32, ophost_event_get_s32(e, fd)); break;
    case OPHOST_FIELD_S64: fprintf(f, "%" PRId64, ophost_event_get_s64(e, fd)); break;
    case OPHOST_FIELD_BOOL: fputs(ophost_event_get_bool(e, fd) ? "true" : "false", f); break;
    case OPHOST_FIELD_STRING:
        s = ophost_event_get_string(b, e, fd, &len);
        if (s)
            fprintf(f, "\"%.*s\"", (int) len, s);
        else
            fputs("-", f);
        break;
    case OPHOST_FIELD_BYTES:
        s = ophost_event_get_string(b, e, fd, &len);
        if (!s)
            fputs("-", f);
        for (size_t i = 0; s && i < len; i++)
            fprintf(f, "%02x", (unsigned char) s[i]);
        break;
    }
}

static int capture_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct capture *c = data;
    char *line = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&line, &size);

    ck_assert_ptr_nonnull(f);
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        for (size_t k = 0; k < c->n; k++) {
            fprintf(f, "%s%s=", k ? " " : "", c->names[k]);
            format_value(f, b, e, c->fields[k]);
        }
        fputc('\n', f);
    }
    fclose(f);
    pthread_mutex_lock(&current->lock);
    out_append(current, line, size);
    pthread_mutex_unlock(&current->lock);
    free(line);
    return 0;
}

static int capture_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

/* ------------------------------------------------------------- harness */

static const struct ophost_param feed_params[] = {
    { .key = "fields", .type = OPHOST_PARAM_STRING, .default_value = "seq:u64" },
    { 0 }
};

static const struct ophost_operator harness_ops[] = {
    { .struct_size = sizeof(struct ophost_operator), .name = "feed",
      .flags = OPHOST_OPERATOR_GADGET, .instance_params = feed_params,
      .instantiate = feed_instantiate, .start = feed_start, .destroy = feed_destroy },
    { .struct_size = sizeof(struct ophost_operator), .name = "capture",
      .priority = INT32_MAX, .instantiate = capture_instantiate, .start = capture_start,
      .process = capture_process, .destroy = capture_destroy },
};

static struct plugin *harness_plugin(void) {
    static const struct ophost_operator *const ptrs[] = { &harness_ops[0], &harness_ops[1], NULL };
    static const struct ophost_plugin desc = {
        .abi_major = OPHOST_ABI_MAJOR, .abi_minor = OPHOST_ABI_MINOR,
        .struct_size = sizeof(struct ophost_plugin), .name = "harness", .version = "1",
        .operators = ptrs,
    };
    struct plugin *p = NULL;
    char *err = NULL;

    ck_assert_msg(loader_load_static("(harness)", &desc, &p, &err) == 0, "%s", err);
    return p;
}

struct harness *harness_new(const char *const *plugin_paths) {
    struct harness *h = calloc(1, sizeof(*h));
    struct plugin *p;
    char *err = NULL;

    ck_assert_ptr_nonnull(h);
    host = host_table();
    pthread_mutex_init(&h->lock, NULL);
    h->reg = registry_new();
    ck_assert_ptr_nonnull(h->reg);
    for (size_t i = 0; plugin_paths && plugin_paths[i]; i++) {
        int r = loader_load_path(plugin_paths[i], (unsigned) i, host, &p, &err);
        ck_assert_msg(r == 0, "cannot load %s: %s", plugin_paths[i], err ? err : "?");
        ck_assert_int_eq(registry_add_plugin(h->reg, p, &err), 0);
        plugin_unref(p);
    }
    p = harness_plugin();
    ck_assert_int_eq(registry_add_plugin(h->reg, p, &err), 0);
    plugin_unref(p);
    return h;
}

static void assert_fails(struct harness *h, const char *yaml, harness_feed_fn fn, void *userdata,
                         int r, const char *text, bool exact) {
    char *err = NULL;
    int got = harness_run(h, yaml, fn, userdata, &err);

    if (r)
        ck_assert_msg(got == r, "%s: result %d, expected %d (%s)", yaml, got, r,
                      err ? err : "(null)");
    else
        ck_assert_msg(got < 0, "%s: accepted", yaml);
    ck_assert_msg(err != NULL, "%s: no error message", yaml);
    if (exact)
        ck_assert_msg(strcmp(err, text) == 0, "%s:\n got  %s\n want %s", yaml, err, text);
    else
        ck_assert_msg(strstr(err, text) != NULL, "%s:\n error: %s\n expected in it: %s", yaml,
                      err, text);
    free(err);
}

void harness_assert_fails(struct harness *h, const char *yaml, harness_feed_fn fn, void *userdata,
                          int r, const char *error) {
    assert_fails(h, yaml, fn, userdata, r, error, true);
}

void harness_assert_fails_with(struct harness *h, const char *yaml, harness_feed_fn fn,
                               void *userdata, int r, const char *part) {
    assert_fails(h, yaml, fn, userdata, r, part, false);
}

void harness_assert_errors(const char *const *plugin_paths, harness_feed_fn fn,
                           const struct harness_error_case *cases, size_t n) {
    struct harness *h = harness_new(plugin_paths);

    for (size_t i = 0; i < n; i++)
        harness_assert_fails(h, cases[i].yaml, fn, NULL, 0, cases[i].error);
    harness_free(h);
}

char *harness_feed_yaml(const char *fields, const char *ops) {
    char *y = NULL;
    ck_assert_int_ge(asprintf(&y, "t:\n  gadget: feed\n  operators:\n    feed: {fields: '%s'}\n%s",
                              fields, ops),
                     0);
    return y;
}

int harness_run_feed(struct harness *h, const char *fields, const char *ops, harness_feed_fn fn,
                     void *userdata, char **ret_error) {
    char *y = harness_feed_yaml(fields, ops);
    int r;

    *ret_error = NULL;
    r = harness_run(h, y, fn, userdata, ret_error);
    free(y);
    return r;
}

void harness_feed_seq(struct harness_feed *f, void *userdata) {
    uint64_t n = *(const uint64_t *) userdata;
    for (uint64_t i = 1; i <= n; i++)
        harness_set_u64(f, harness_append(f), "seq", i);
}

const char *harness_values(struct harness *h, const char *field) {
    const char *line = harness_output(h);
    size_t flen = strlen(field);
    FILE *m;
    size_t size = 0;
    bool first = true;

    free(h->values);
    h->values = NULL;
    m = open_memstream(&h->values, &size);
    ck_assert_ptr_nonnull(m);
    while (*line) {
        const char *end = strchrnul(line, '\n');
        /* "name=value" items, separated by single spaces */
        for (const char *p = line; p < end; p++) {
            if ((p == line || p[-1] == ' ') && (size_t) (end - p) > flen &&
                strncmp(p, field, flen) == 0 && p[flen] == '=') {
                size_t n = strcspn(p + flen + 1, " \n");
                fprintf(m, "%s%.*s", first ? "" : " ", (int) n, p + flen + 1);
                first = false;
                break;
            }
        }
        line = *end ? end + 1 : end;
    }
    fclose(m);
    return h->values;
}

static void metrics_clear(struct harness *h);
static int capture_metrics(struct session *s, size_t step, const char *text, size_t len,
                           void *userdata);

void harness_free(struct harness *h) {
    if (!h)
        return;
    if (h->session)
        harness_stop(h, NULL);
    operators_close(h->reg);
    registry_free(h->reg);
    metrics_clear(h);
    free(h->metrics_copy);
    pthread_mutex_destroy(&h->lock);
    free(h->output);
    free(h->values);
    free(h->snapshot);
    free(h);
}

/* Plans the one session of yaml with capture appended and starts it. */
static int start(struct harness *h, const char *yaml, char **ret_error) {
    struct config_pipelines *p = calloc(1, sizeof(*p));
    struct config_session *cs;
    struct config_operator *ops;
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    int r;

    ck_assert_ptr_null(h->session);
    current = h;
    h->len = 0;
    free(h->output);
    h->output = strdup("");
    h->cap = 1;
    h->n_stats = 0;
    h->lost = 0;

    ck_assert_ptr_nonnull(p);
    r = config_parse_pipelines("test.yaml", yaml, strlen(yaml), p, &errs);
    if (r >= 0 && p->n_sessions != 1)
        r = -EINVAL;
    if (r >= 0) {
        cs = &p->sessions[0];
        /* Append the capture sink to the operators of the session. */
        ops = realloc(cs->operators, (cs->n_operators + 1) * sizeof(*ops));
        ck_assert_ptr_nonnull(ops);
        cs->operators = ops;
        ops[cs->n_operators++] = (struct config_operator){ .name = strdup("capture"),
                                                           .pos = cs->pos };
        struct plan_hooks hooks = operators_plan_hooks(h->reg);
        r = plan_build(h->reg, cs, &hooks, &plan, &errs);
    }
    if (r < 0) {
        if (ret_error) {
            char *msg = strdup("");
            for (size_t i = 0; errs.lines && errs.lines[i]; i++) {
                char *m = strprintf("%s%s%s", msg, i ? "\n" : "", errs.lines[i]);
                free(msg);
                msg = m;
            }
            *ret_error = msg;
        }
        errors_clear(&errs);
        config_pipelines_free(p);
        return r;
    }
    config_pipelines_free(p);
    metrics_clear(h);
    for (size_t i = 0; i < plan->n_steps && i < 64; i++)
        h->metrics_op[i] = strdup(plan->steps[i].entry->op->name);
    h->session = session_new(plan, NULL);
    ck_assert_ptr_nonnull(h->session);
    session_set_metrics(h->session, capture_metrics, h);
    return session_start(h->session);
}

static void metrics_clear(struct harness *h) {
    for (size_t i = 0; i < 64; i++) {
        free(h->metrics_op[i]);
        free(h->metrics[i]);
        h->metrics_op[i] = h->metrics[i] = NULL;
        h->publishes[i] = 0;
    }
}

/* The session's metrics hook: keeps the newest text of each step. */
static int capture_metrics(struct session *s, size_t step, const char *text, size_t len,
                           void *userdata) {
    struct harness *h = userdata;
    char *copy = strndup(text, len);

    if (!copy || step >= 64) {
        free(copy);
        return -ENOMEM;
    }
    pthread_mutex_lock(&h->lock);
    free(h->metrics[step]);
    h->metrics[step] = copy;
    h->publishes[step]++;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

static int finish(struct harness *h, char **ret_error) {
    int r = session_join(h->session);
    if (r < 0 && ret_error)
        *ret_error = strdup(session_error(h->session) ? session_error(h->session) : "failed");
    h->n_stats = session_instance_stats(h->session, h->stats, 64);
    h->lost = session_events_lost(h->session);
    h->session = session_free(h->session);
    return r;
}

int harness_run(struct harness *h, const char *yaml, harness_feed_fn fn, void *userdata,
                char **ret_error) {
    int r;
    h->fn = fn;
    h->userdata = userdata;
    r = start(h, yaml, ret_error);
    if (r < 0)
        return r;
    return finish(h, ret_error);
}

int harness_start(struct harness *h, const char *yaml, char **ret_error) {
    int r;
    h->fn = NULL;
    r = start(h, yaml, ret_error);
    if (r < 0)
        return r;
    /* Return once the gadget runs, so activity the test makes next is seen. */
    r = harness_wait_running(h, ret_error);
    if (r < 0)
        (void) finish(h, NULL); /* ended already: join and free it */
    return r;
}

int harness_stop(struct harness *h, char **ret_error) {
    session_request_stop(h->session);
    return finish(h, ret_error);
}

int harness_wait_running(struct harness *h, char **ret_error) {
    int r = session_wait_started(h->session);
    if (r < 0 && ret_error)
        *ret_error = strdup(session_error(h->session) ? session_error(h->session) : "failed");
    return r;
}

bool harness_wait_for(struct harness *h, const char *needle, unsigned timeout_ms) {
    for (unsigned waited = 0;; waited += 10) {
        bool found;
        pthread_mutex_lock(&h->lock);
        found = h->output && strstr(h->output, needle);
        pthread_mutex_unlock(&h->lock);
        if (found)
            return true;
        if (waited >= timeout_ms)
            return false;
        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
}

const char *harness_output(struct harness *h) {
    if (!h->session)
        return h->output ? h->output : "";
    /* The session's thread appends (and reallocates) meanwhile: a copy. */
    pthread_mutex_lock(&h->lock);
    free(h->snapshot);
    h->snapshot = strdup(h->output ? h->output : "");
    pthread_mutex_unlock(&h->lock);
    ck_assert_ptr_nonnull(h->snapshot);
    return h->snapshot;
}

uint64_t harness_lost(struct harness *h) {
    return h->session ? session_events_lost(h->session) : h->lost;
}

static int64_t stat_of(struct harness *h, const char *name, bool in) {
    for (size_t i = 0; i < h->n_stats; i++)
        if (strcmp(h->stats[i].operator_name, name) == 0)
            return (int64_t) (in ? h->stats[i].events_in : h->stats[i].events_out);
    return -1;
}

int64_t harness_events_in(struct harness *h, const char *operator_name) {
    return stat_of(h, operator_name, true);
}

int64_t harness_events_out(struct harness *h, const char *operator_name) {
    return stat_of(h, operator_name, false);
}

int64_t harness_dropped(struct harness *h, const char *operator_name) {
    struct instance_stats live[64];
    const struct instance_stats *st = h->stats;
    size_t n = h->n_stats;

    if (h->session) {
        n = session_instance_stats(h->session, live, 64);
        st = live;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].operator_name, operator_name) == 0)
            return (int64_t) st[i].dropped;
    return -1;
}

static int metrics_step(struct harness *h, const char *operator_name) {
    for (int i = 0; i < 64; i++)
        if (h->metrics_op[i] && strcmp(h->metrics_op[i], operator_name) == 0)
            return i;
    return -1;
}

const char *harness_metrics(struct harness *h, const char *operator_name) {
    int i = metrics_step(h, operator_name);

    free(h->metrics_copy);
    h->metrics_copy = NULL;
    if (i < 0)
        return NULL;
    pthread_mutex_lock(&h->lock);
    h->metrics_copy = h->metrics[i] ? strdup(h->metrics[i]) : NULL;
    pthread_mutex_unlock(&h->lock);
    return h->metrics_copy;
}

unsigned harness_metrics_publishes(struct harness *h, const char *operator_name) {
    int i = metrics_step(h, operator_name);
    unsigned n;

    if (i < 0)
        return 0;
    pthread_mutex_lock(&h->lock);
    n = h->publishes[i];
    pthread_mutex_unlock(&h->lock);
    return n;
}

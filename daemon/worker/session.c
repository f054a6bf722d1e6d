/*
 * session.c — the session engine: its thread and loop, the lifecycle with
 * exact rollback, the schema of its data sources, and the synchronous event
 * path from the gadget's emit() through every operator's process().
 */
#include "session.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <systemd/sd-event.h>

#include "calls.h"
#include "ctx.h"
#include "hint.h"
#include "log.h"
#include "proto.h"
#include "schema.h"
#include "session-host.h"

enum phase {
    PHASE_INSTANTIATE,
    PHASE_PRE_START,
    PHASE_START,
    _PHASE_MAX,
};

static const char *const do_name[_PHASE_MAX] = { "instantiate", "pre_start", "start" };
static const char *const undo_name[_PHASE_MAX] = { "destroy", "post_stop", "stop" };

struct ophost_source {
    sd_event_source *es;
    struct instance *inst;
    ophost_io_fn io_cb;
    ophost_timer_fn timer_cb;
    void *userdata;
    uint64_t interval_usec;
    struct ophost_source *prev, *next;
};

/* A field an instance looked for in its current do callback and did not
 * get (field_find returned -ENOENT): kept to explain a failure of that
 * callback, or to warn when the field turns out to be added by an operator
 * that runs after it. At most MISSES_MAX per callback. */
#define MISSES_MAX 8

struct miss {
    const struct ophost_datasource *ds;
    char *name;
};

struct instance {
    struct session *session;
    struct operator_entry *entry; /* borrowed from the plan */
    struct ophost_ctx ctx;
    void *data;
    bool opted_out;
    bool done[_PHASE_MAX];
    struct ophost_source *sources;
    struct status_counters *c; /* in the session's status page */
    struct miss *misses; /* room for MISSES_MAX, allocated at the first miss */
    size_t n_misses;
};

/* One batch in TIMING_SAMPLE is timed; the time is scaled up. Timing every
 * batch would cost two clock reads per operator per batch. */
#define TIMING_SAMPLE 8

struct var {
    char *name;
    void *value;
};

struct session {
    struct plan *plan;
    struct instance *instances;
    size_t n_instances;
    struct ophost_datasource **ds;
    size_t n_ds;
    struct var *vars;
    size_t n_vars;
    struct status_page *status; /* counters; the worker's shared page or own */
    bool own_status;

    pthread_t thread;
    bool thread_started;
    bool joined;
    sd_event *loop;
    int stop_fd;   /* main -> session: stop */
    int notify_fd; /* session -> main: state changed */

    pthread_mutex_t lock; /* state, result, error */
    pthread_cond_t cond;
    enum session_state state;
    int result;
    char *error;

    bool schema_open; /* during instantiate and pre_start */
    bool in_do_phase; /* during instantiate, pre_start, start: misses are recorded */
    bool diagnosis_skipped; /* diagnose_instantiate left out operators */
    bool started;     /* it reached running (under lock): the schema is final */
    bool running;     /* from the start phase to stop: loop sources allowed */
    bool emitting;    /* every start succeeded, until stop: emit allowed */
    bool done_requested;
    int done_error;
    uint64_t n_batches;
    session_tap_fn tap;
    void *tap_userdata;
    session_metrics_fn metrics;
    void *metrics_userdata;
    bool metrics_open; /* from the start phase to the end of the stop phase */
};

static const char *const state_names[] = {
    [SESSION_CREATED] = "created", [SESSION_STARTING] = "starting",
    [SESSION_RUNNING] = "running", [SESSION_STOPPING] = "stopping",
    [SESSION_STOPPED] = "stopped", [SESSION_FAILED] = "failed",
};

const char *session_state_name(enum session_state state) {
    return state_names[state];
}

/* A session for plan, which stays the caller's on failure. */
static struct session *session_alloc(struct plan *plan, struct status_page *status) {
    struct session *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->stop_fd = s->notify_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (!status || status->n_counters < plan->n_steps) {
        status = calloc(1, status_page_size(plan->n_steps));
        if (status)
            status->n_counters = (uint32_t) plan->n_steps;
        s->own_status = true;
    }
    s->status = status;
    s->instances = calloc(plan->n_steps, sizeof(struct instance));
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!s->status || !s->instances || s->stop_fd < 0 || s->notify_fd < 0) {
        session_free(s);
        return NULL;
    }
    s->plan = plan;
    s->n_instances = plan->n_steps;
    for (size_t i = 0; i < plan->n_steps; i++) {
        struct instance *in = &s->instances[i];
        in->session = s;
        in->entry = plan->steps[i].entry;
        in->ctx.kind = CTX_INSTANCE;
        in->ctx.entry = in->entry;
        in->ctx.params = plan->steps[i].params;
        in->ctx.session = s;
        in->ctx.instance = in;
        in->c = &s->status->counters[i];
    }
    return s;
}

struct session *session_new(struct plan *plan, struct status_page *status) {
    struct session *s = session_alloc(plan, status);
    if (!s)
        plan_free(plan);
    return s;
}

static void set_state(struct session *s, enum session_state state) {
    uint64_t one = 1;
    pthread_mutex_lock(&s->lock);
    s->state = state;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (write(s->notify_fd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow in practice; nothing to do. */
    }
}

/* Records the session's failure (the first one wins; later ones are logged
 * only) and makes the loop exit. */
static void fail(struct session *s, struct instance *in, int err, const char *fmt, ...)
    _printf_(4, 5);
static void fail(struct session *s, struct instance *in, int err, const char *fmt, ...) {
    struct log_context lc = { .session = s->plan->name };
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = vstrprintf(fmt, ap);
    va_end(ap);
    if (in)
        ctx_log_context(&in->ctx, &lc);
    log_full(LOG_ERR, err, &lc, "%s", msg ? msg : "failed");

    pthread_mutex_lock(&s->lock);
    if (s->result == 0) {
        s->result = err < 0 ? err : -EIO;
        s->error = in ? strprintf("operator '%s': %s", in->entry->op->name, msg ? msg : "failed")
                      : TAKE_PTR(msg);
    }
    pthread_mutex_unlock(&s->lock);
    if (s->loop)
        (void) sd_event_exit(s->loop, err < 0 ? err : -EIO);
}

static void instance_drop_sources(struct instance *in) {
    while (in->sources)
        session_host_source_free(in->sources);
}

static uint32_t index_of(const struct instance *in) {
    return (uint32_t) (in - in->session->instances);
}

static void instance_clear_misses(struct instance *in) {
    for (size_t i = 0; i < in->n_misses; i++)
        free(in->misses[i].name);
    in->n_misses = 0;
}

/* Forgets what the previous callback of in left behind: its error text and
 * the fields it did not find. */
static void instance_begin_call(struct instance *in) {
    free(in->ctx.error);
    in->ctx.error = NULL;
    instance_clear_misses(in);
}

/* The position of operator name in the session's order; n_instances if it
 * is not part of the session. */
static size_t position_of(const struct session *s, const char *name) {
    for (size_t i = 0; i < s->n_instances; i++)
        if (s->instances[i].entry->op->name == name || streq(s->instances[i].entry->op->name, name))
            return i;
    return s->n_instances;
}

static bool needs_from(const struct session *s, size_t a, size_t b, bool *seen) {
    const char *const *deps = s->instances[a].entry->op->dependencies;
    seen[a] = true;
    for (size_t i = 0; deps && deps[i]; i++) {
        size_t j = position_of(s, deps[i]);
        if (j == b)
            return true;
        if (j < s->n_instances && !seen[j] && needs_from(s, j, b, seen))
            return true;
    }
    return false;
}

/* Whether the operator at position a needs the one at position b, directly
 * or through other operators' dependencies (every operator needs the
 * gadget, at 0). Depth-first, O(operators + dependencies). */
static bool needs(const struct session *s, size_t a, size_t b) {
    _cleanup_free_ bool *seen = NULL;
    if (b == 0)
        return a != 0;
    seen = calloc(s->n_instances, sizeof(bool));
    return seen && needs_from(s, a, b, seen);
}

/* The field name of ds, or NULL. */
static const struct field_def *field_def_of(const struct ophost_datasource *ds, const char *name) {
    ophost_field f;
    return datasource_find_field(ds, name, &f) == 0 ? &ds->fields[f.index] : NULL;
}

/* The position of the operator that added f. */
static size_t field_owner(const struct session *s, const struct field_def *f) {
    size_t i = position_of(s, f->owner);
    return i < s->n_instances ? i : 0;
}

static int call_do(struct instance *in, enum phase p) {
    static const enum call_kind kinds[_PHASE_MAX] = { CALL_INSTANTIATE, CALL_PRE_START, CALL_START };
    const struct ophost_operator *op = in->entry->op;
    uint32_t prev = call_enter(kinds[p], index_of(in));
    int r;

    switch (p) {
    case PHASE_INSTANTIATE:
        r = op->instantiate ? op->instantiate(&in->ctx, in->entry->op_data, &in->data) : 0;
        break;
    case PHASE_PRE_START:
        r = op->pre_start ? op->pre_start(&in->ctx, in->data) : 0;
        break;
    case PHASE_START:
        r = op->start ? op->start(&in->ctx, in->data) : 0;
        break;
    default:
        assert(false);
        r = -EINVAL;
    }
    call_leave(prev);
    return r;
}

static int call_undo(struct instance *in, enum phase p) {
    static const enum call_kind kinds[_PHASE_MAX] = { CALL_DESTROY, CALL_POST_STOP, CALL_STOP };
    const struct ophost_operator *op = in->entry->op;
    uint32_t prev = call_enter(kinds[p], index_of(in));
    int r;

    switch (p) {
    case PHASE_INSTANTIATE:
        r = op->destroy ? op->destroy(&in->ctx, in->data) : 0;
        break;
    case PHASE_PRE_START:
        r = op->post_stop ? op->post_stop(&in->ctx, in->data) : 0;
        break;
    case PHASE_START:
        r = op->stop ? op->stop(&in->ctx, in->data) : 0;
        break;
    default:
        assert(false);
        r = -EINVAL;
    }
    call_leave(prev);
    return r;
}

static int freeze_schema(struct session *s) {
    for (size_t i = 0; i < s->n_ds; i++) {
        int r = datasource_freeze(s->ds[i], s->ds[i]->capacity);
        if (r < 0) {
            fail(s, NULL, r, "cannot allocate batches of data source '%s'", s->ds[i]->name);
            return r;
        }
    }
    return 0;
}

/* If the field of miss m exists but is added by an operator that runs after
 * in: why in cannot have it and what to do, malloc'd. NULL otherwise. */
static char *order_hint(const struct session *s, const struct instance *in, const struct miss *m) {
    const struct field_def *f = field_def_of(m->ds, m->name);
    size_t k = index_of(in), j;
    const char *me = in->entry->op->name, *adder;

    if (!f || (j = field_owner(s, f)) <= k)
        return NULL;
    adder = s->instances[j].entry->op->name;
    if (k == 0)
        return strprintf("field '%s' is added by '%s', which runs after the gadget: a gadget "
                         "sees only the fields it adds itself", m->name, adder);
    if (needs(s, j, k))
        return strprintf("field '%s' is added by '%s', which runs after '%s' because it "
                         "depends on it: '%s' cannot use its fields", m->name, adder, me, me);
    return strprintf("field '%s' is added by '%s', which runs after '%s': add '%s' to %s's "
                     "dependencies", m->name, adder, me, adder, me);
}

/* That no operator of s adds the field of miss m (after diagnose_instantiate
 * or in a later phase, every operator that could have has run), with the
 * closest field name. When the plugin explained the failure (msg), only a
 * suggestion is news, and only if msg names the field and suggests
 * nothing itself: NULL otherwise. Malloc'd. */
static char *unknown_hint(const struct session *s, const struct instance *in,
                          const struct miss *m, const char *msg) {
    _cleanup_free_ const char **names = NULL;
    _cleanup_free_ char *asked = NULL, *mean = NULL;
    const char *closest = NULL;

    if (msg && (!strstr(msg, m->name) || strstr(msg, "did you mean")))
        return NULL;
    names = calloc(m->ds->n_fields + 1, sizeof(char *));
    for (size_t f = 0; names && f < m->ds->n_fields; f++)
        names[f] = m->ds->fields[f].name;
    if (names)
        closest = hint_closest(m->name, names);
    if (msg && !closest)
        return NULL;
    if (closest)
        mean = strprintf(" (did you mean '%s'?)", closest);
    if (s->diagnosis_skipped)
        asked = strprintf(" (operators that need '%s' were not asked)", in->entry->op->name);
    return strprintf("no operator of session '%s' adds field '%s'%s%s", s->plan->name, m->name,
                     asked ? asked : "", mean ? mean : "");
}

/* Records that in did not get field name of ds (once per name). */
static void record_miss(struct instance *in, const struct ophost_datasource *ds, const char *name) {
    if (!in->session->in_do_phase || in->n_misses >= MISSES_MAX)
        return;
    if (!in->misses && !(in->misses = calloc(MISSES_MAX, sizeof(struct miss))))
        return;
    for (size_t i = 0; i < in->n_misses; i++)
        if (in->misses[i].ds == ds && streq(in->misses[i].name, name))
            return;
    in->misses[in->n_misses].name = strdup(name);
    if (in->misses[in->n_misses].name)
        in->misses[in->n_misses++].ds = ds;
}

/*
 * The failure text of a do callback of in that failed after looking for
 * fields it did not get: msg (the plugin's text; NULL if it gave none)
 * followed by, for each such field, the operator that adds it and runs
 * later (always: that is a bug in in's dependencies), or that no operator
 * of the session adds it, with a did-you-mean (see unknown_hint). NULL when
 * there is nothing to add. Malloc'd.
 */
static char *explain_misses(const struct session *s, const struct instance *in, const char *msg) {
    _cleanup_free_ char *text = msg ? strdup(msg) : NULL;

    if (msg && !text)
        return NULL;
    for (size_t i = 0; i < in->n_misses; i++) {
        const struct miss *m = &in->misses[i];
        _cleanup_free_ char *hint = order_hint(s, in, m);
        char *joined;

        if (!hint && field_def_of(m->ds, m->name))
            continue; /* there now (added later in the same callback) */
        if (!hint)
            hint = unknown_hint(s, in, m, msg);
        if (!hint || (text && strstr(text, hint)))
            continue;
        joined = text ? strprintf("%s; %s", text, hint) : TAKE_PTR(hint);
        if (!joined)
            return NULL;
        free(text);
        text = joined;
    }
    return TAKE_PTR(text);
}

/* Whether every dependency of the operator at j has been instantiated
 * (in plan order, so an operator whose dependency was skipped is too). */
static bool deps_instantiated(const struct session *s, size_t j) {
    const char *const *deps = s->instances[j].entry->op->dependencies;
    for (size_t i = 0; deps && deps[i]; i++) {
        size_t d = position_of(s, deps[i]);
        if (d < s->n_instances && !s->instances[d].done[PHASE_INSTANTIATE])
            return false;
    }
    return true;
}

/* After in failed in instantiate with -ENOENT having looked for fields it
 * did not get: instantiates the operators after it, so that the failure
 * can name the one that adds such a field (their failures are ignored;
 * those that succeed are destroyed by the undos that follow). Only
 * operators whose dependencies all instantiated are called, never one that
 * needs in or an operator that failed or opted out here: an instantiate is
 * only ever called after its dependencies'. Safe because instantiate has no
 * effects outside its instance data (dry runs rely on that too). */
static void diagnose_instantiate(struct session *s, struct instance *failed) {
    size_t k = index_of(failed);
    struct log_context lc;

    if (k == 0) {
        s->diagnosis_skipped = true; /* every operator needs the gadget */
        return;
    }
    ctx_log_context(&failed->ctx, &lc);
    log_full(LOG_DEBUG, 0, &lc, "instantiating the operators after it to explain a missing field");
    for (size_t j = k + 1; j < s->n_instances; j++) {
        struct instance *in = &s->instances[j];
        int r;
        if (in->opted_out)
            continue;
        if (!deps_instantiated(s, j)) {
            s->diagnosis_skipped = true;
            continue;
        }
        instance_begin_call(in);
        r = call_do(in, PHASE_INSTANTIATE);
        if (r >= 0 && r != OPHOST_OPT_OUT)
            in->done[PHASE_INSTANTIATE] = true;
        instance_begin_call(in);
    }
}

/* After a phase succeeded: a field an operator looked for and did not get
 * because the operator adding it runs later leaves that operator without
 * it (or with it always unset): warn, naming the fix. */
static void warn_order_traps(struct session *s) {
    for (size_t i = 0; i < s->n_instances; i++) {
        struct instance *in = &s->instances[i];
        for (size_t k = 0; !in->opted_out && k < in->n_misses; k++) {
            _cleanup_free_ char *hint = order_hint(s, in, &in->misses[k]);
            struct log_context lc;
            if (!hint)
                continue;
            ctx_log_context(&in->ctx, &lc);
            log_full(LOG_WARNING, 0, &lc, "%s ('%s' goes on without the field)", hint,
                     in->entry->op->name);
        }
        instance_clear_misses(in);
    }
}

/* Runs phase p of every operator that has not opted out, in plan order, and
 * stops at the first failure: returns it, with the failing instance in
 * *ret_in and the reason (malloc'd; NULL on ENOMEM) in *ret_msg. What was
 * done is recorded in instance->done[]. Logs nothing but order warnings:
 * run_forward reports through fail(), session_check_plan to its caller. */
static int run_phase(struct session *s, enum phase p, struct instance **ret_in, char **ret_msg) {
    s->in_do_phase = true;
    for (size_t i = 0; i < s->n_instances; i++) {
        struct instance *in = &s->instances[i];
        int r;
        if (in->opted_out)
            continue;
        instance_begin_call(in);
        r = call_do(in, p);
        if (r == OPHOST_OPT_OUT && p == PHASE_INSTANTIATE) {
            if (i == 0) {
                s->in_do_phase = false;
                *ret_in = in;
                *ret_msg = strdup("gadget opted out of the session");
                return -EINVAL;
            }
            in->opted_out = true;
            atomic_store_explicit(&in->c->opted_out, 1, memory_order_relaxed);
            continue;
        }
        if (r < 0) {
            bool own_text = in->ctx.error != NULL;
            _cleanup_free_ char *msg = ctx_take_error(&in->ctx, r), *full = NULL;
            if (p == PHASE_INSTANTIATE && r == -ENOENT && in->n_misses > 0)
                diagnose_instantiate(s, in);
            s->in_do_phase = false;
            full = explain_misses(s, in, own_text ? msg : NULL);
            *ret_in = in;
            *ret_msg = strprintf("%s failed: %s", do_name[p],
                                 full ? full : msg ? msg : strerror(-r));
            return r;
        }
        in->done[p] = true;
    }
    s->in_do_phase = false;
    warn_order_traps(s);
    if (p == PHASE_INSTANTIATE && s->n_ds == 0) {
        *ret_in = &s->instances[0];
        *ret_msg = strdup("gadget declared no data source");
        return -EINVAL;
    }
    return 0;
}

/* instantiate, pre_start, start: every operator, in plan order. Stops at the
 * first failure; what was done is recorded in instance->done[]. */
static int run_forward(struct session *s) {
    for (enum phase p = 0; p < _PHASE_MAX; p++) {
        _cleanup_free_ char *msg = NULL;
        struct instance *in = NULL;
        int r;
        s->schema_open = p <= PHASE_PRE_START;
        if (p == PHASE_START) {
            r = freeze_schema(s);
            if (r < 0)
                return r;
            s->running = true;
            s->metrics_open = true;
        }
        r = run_phase(s, p, &in, &msg);
        if (r < 0) {
            s->schema_open = false;
            fail(s, in, r, "%s", msg ? msg : strerror(-r));
            return r;
        }
    }
    s->schema_open = false;
    s->emitting = true;
    return 0;
}

/* stop, post_stop, destroy: each undo whose do succeeded, in reverse. Undo
 * errors are logged and never stop the remaining undos. */
static void run_reverse(struct session *s) {
    s->emitting = false;
    s->running = false;
    for (int p = _PHASE_MAX - 1; p >= 0; p--) {
        /* Instances may publish their metrics one last time in stop. */
        s->metrics_open = p == PHASE_START && s->metrics_open;
        for (size_t i = s->n_instances; i-- > 0;) {
            struct instance *in = &s->instances[i];
            int r;
            if (!in->done[p])
                continue;
            in->done[p] = false;
            free(in->ctx.error);
            in->ctx.error = NULL;
            r = call_undo(in, (enum phase) p);
            /* Loop sources belong to the running instance: none outlive its
             * first undo, so no callback sees freed data. */
            instance_drop_sources(in);
            if (r < 0) {
                struct log_context lc;
                _cleanup_free_ char *msg = ctx_take_error(&in->ctx, r);
                ctx_log_context(&in->ctx, &lc);
                log_full(LOG_WARNING, r, &lc, "%s failed: %s, continuing", undo_name[p],
                         msg ? msg : strerror(-r));
            }
        }
    }
    s->metrics_open = false;
}

static int on_stop_request(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct session *s = userdata;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: already drained. */
    }
    return sd_event_exit(s->loop, 0);
}

static int on_duration(sd_event_source *es, uint64_t usec, void *userdata) {
    struct session *s = userdata;
    log_full(LOG_INFO, 0, &(struct log_context){ .session = s->plan->name },
             "duration reached, stopping");
    return sd_event_exit(s->loop, 0);
}

static void *session_thread(void *userdata) {
    struct session *s = userdata;
    enum session_state final;
    int r;

    r = sd_event_new(&s->loop);
    if (r >= 0)
        r = sd_event_add_io(s->loop, NULL, s->stop_fd, EPOLLIN, on_stop_request, s);
    if (r >= 0 && s->plan->duration_nsec > 0)
        r = sd_event_add_time_relative(s->loop, NULL, CLOCK_MONOTONIC,
                                       s->plan->duration_nsec / 1000, 1000, on_duration, s);
    if (r < 0)
        fail(s, NULL, r, "cannot set up the session loop: %s", strerror(-r));
    else
        r = run_forward(s);

    if (r >= 0 && !s->done_requested) {
        pthread_mutex_lock(&s->lock);
        s->started = true;
        pthread_mutex_unlock(&s->lock);
        set_state(s, SESSION_RUNNING);
        r = sd_event_loop(s->loop);
    }
    if (r >= 0 && s->done_requested && s->done_error < 0)
        fail(s, &s->instances[0], s->done_error, "gadget ended with an error: %s",
             strerror(-s->done_error));
    set_state(s, SESSION_STOPPING);
    run_reverse(s);

    pthread_mutex_lock(&s->lock);
    final = s->result < 0 ? SESSION_FAILED : SESSION_STOPPED;
    pthread_mutex_unlock(&s->lock);
    s->loop = sd_event_unref(s->loop);
    set_state(s, final);
    return NULL;
}

bool session_started(struct session *s) {
    bool started;
    pthread_mutex_lock(&s->lock);
    started = s->started;
    pthread_mutex_unlock(&s->lock);
    return started;
}

void session_set_tap(struct session *s, session_tap_fn fn, void *userdata) {
    assert(!s->thread_started);
    s->tap = fn;
    s->tap_userdata = userdata;
}

void session_set_metrics(struct session *s, session_metrics_fn fn, void *userdata) {
    assert(!s->thread_started);
    s->metrics = fn;
    s->metrics_userdata = userdata;
}

struct ophost_datasource *const *session_datasources(const struct session *s, size_t *ret_n) {
    *ret_n = s->n_ds;
    return s->ds;
}

int session_check_plan(struct plan *plan, char **ret_error) {
    return session_check_plan_inspect(plan, NULL, NULL, ret_error);
}

int session_check_plan_inspect(struct plan *plan, void (*inspect)(struct session *s, void *u),
                               void *userdata, char **ret_error) {
    struct session *s = session_alloc(plan, NULL);
    _cleanup_free_ char *msg = NULL;
    struct instance *in = NULL;
    int r;

    if (!s)
        return -ENOMEM;
    s->schema_open = true;
    r = run_phase(s, PHASE_INSTANTIATE, &in, &msg);
    if (r < 0)
        *ret_error = strprintf("operator '%s': %s", in->entry->op->name, msg ? msg : strerror(-r));
    s->schema_open = false;
    if (r >= 0 && inspect)
        inspect(s, userdata);
    run_reverse(s);
    s->plan = NULL; /* the caller's */
    session_free(s);
    return r;
}

int session_start(struct session *s) {
    int r;
    if (s->thread_started)
        return -EALREADY;
    set_state(s, SESSION_STARTING);
    r = -pthread_create(&s->thread, NULL, session_thread, s);
    if (r < 0) {
        pthread_mutex_lock(&s->lock);
        s->result = r;
        s->error = strprintf("cannot create the session thread: %s", strerror(-r));
        pthread_mutex_unlock(&s->lock);
        set_state(s, SESSION_FAILED);
        return r;
    }
    s->thread_started = true;
    return 0;
}

int session_wait_started(struct session *s) {
    int r;
    pthread_mutex_lock(&s->lock);
    while (s->state == SESSION_STARTING)
        pthread_cond_wait(&s->cond, &s->lock);
    r = s->result;
    pthread_mutex_unlock(&s->lock);
    return r;
}

void session_request_stop(struct session *s) {
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof(one)) < 0) {
        /* Only fails if the counter is saturated: a stop is pending anyway. */
    }
}

int session_join(struct session *s) {
    int r;
    if (s->thread_started && !s->joined) {
        pthread_join(s->thread, NULL);
        s->joined = true;
    }
    pthread_mutex_lock(&s->lock);
    r = s->result;
    pthread_mutex_unlock(&s->lock);
    return r;
}

struct session *session_free(struct session *s) {
    if (!s)
        return NULL;
    if (s->thread_started && !s->joined) {
        session_request_stop(s);
        session_join(s);
    }
    for (size_t i = 0; s->instances && i < s->n_instances; i++) {
        free(s->instances[i].ctx.error);
        instance_clear_misses(&s->instances[i]);
        free(s->instances[i].misses);
    }
    free(s->instances);
    for (size_t i = 0; i < s->n_ds; i++)
        datasource_free(s->ds[i]);
    free(s->ds);
    for (size_t i = 0; i < s->n_vars; i++)
        free(s->vars[i].name);
    free(s->vars);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    free(s->error);
    if (s->own_status)
        free(s->status);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    plan_free(s->plan);
    free(s);
    return NULL;
}

enum session_state session_get_state(struct session *s) {
    enum session_state st;
    pthread_mutex_lock(&s->lock);
    st = s->state;
    pthread_mutex_unlock(&s->lock);
    return st;
}

const char *session_name(const struct session *s) {
    return s->plan->name;
}

const struct plan *session_plan(const struct session *s) {
    return s->plan;
}

const char *session_error(struct session *s) {
    const char *e;
    pthread_mutex_lock(&s->lock);
    e = s->error;
    pthread_mutex_unlock(&s->lock);
    return e;
}

int session_notify_fd(const struct session *s) {
    return s->notify_fd;
}

uint64_t session_events_emitted(const struct session *s) {
    return atomic_load_explicit(&s->status->emitted, memory_order_relaxed);
}

uint64_t session_events_lost(const struct session *s) {
    return atomic_load_explicit(&s->status->lost, memory_order_relaxed);
}

size_t session_instance_stats(const struct session *s, struct instance_stats *out, size_t n) {
    size_t i;
    for (i = 0; i < n && i < s->n_instances; i++) {
        const struct instance *in = &s->instances[i];
        const struct status_counters *c = in->c;
        out[i] = (struct instance_stats){
            .operator_name = in->entry->op->name,
            .events_in = atomic_load_explicit(&c->events_in, memory_order_relaxed),
            .events_out = atomic_load_explicit(&c->events_out, memory_order_relaxed),
            .batches = atomic_load_explicit(&c->batches, memory_order_relaxed),
            .ns_spent = atomic_load_explicit(&c->ns_spent, memory_order_relaxed),
            .dropped = atomic_load_explicit(&c->dropped, memory_order_relaxed),
            .opted_out = atomic_load_explicit(&c->opted_out, memory_order_relaxed) != 0,
        };
    }
    return i;
}

/* ------------------------------------------------- host functions (session) */

static struct instance *instance_of(struct ophost_ctx *ctx) {
    return ctx && ctx->kind == CTX_INSTANCE ? ctx->instance : NULL;
}

int session_host_var_set(struct ophost_ctx *ctx, const char *name, void *value) {
    struct instance *in = instance_of(ctx);
    struct session *s;
    struct var *m;

    if (!in || !name)
        return -EINVAL;
    s = in->session;
    for (size_t i = 0; i < s->n_vars; i++)
        if (streq(s->vars[i].name, name)) {
            s->vars[i].value = value;
            return 0;
        }
    m = realloc(s->vars, (s->n_vars + 1) * sizeof(*m));
    if (!m)
        return -ENOMEM;
    s->vars = m;
    m[s->n_vars].name = strdup(name);
    if (!m[s->n_vars].name)
        return -ENOMEM;
    m[s->n_vars++].value = value;
    return 0;
}

void *session_host_var_get(struct ophost_ctx *ctx, const char *name) {
    struct instance *in = instance_of(ctx);
    if (!in || !name)
        return NULL;
    for (size_t i = 0; i < in->session->n_vars; i++)
        if (streq(in->session->vars[i].name, name))
            return in->session->vars[i].value;
    return NULL;
}

int session_host_datasource_add(struct ophost_ctx *ctx, const char *name,
                                struct ophost_datasource **ret) {
    struct instance *in = instance_of(ctx);
    struct ophost_datasource *ds, **m;
    struct session *s;

    if (!in || !ret || !field_name_is_valid(name))
        return -EINVAL;
    s = in->session;
    if (!s->schema_open)
        return -EBUSY;
    for (size_t i = 0; i < s->n_ds; i++)
        if (streq(s->ds[i]->name, name))
            return -EEXIST;
    m = realloc(s->ds, (s->n_ds + 1) * sizeof(*m));
    if (!m)
        return -ENOMEM;
    s->ds = m;
    ds = datasource_new(name, in->entry->op->name);
    if (!ds)
        return -ENOMEM;
    s->ds[s->n_ds++] = ds;
    *ret = ds;
    return 0;
}

int session_host_datasource_find(struct ophost_ctx *ctx, const char *name,
                                 struct ophost_datasource **ret) {
    struct instance *in = instance_of(ctx);
    struct session *s;

    if (!in || !ret)
        return -EINVAL;
    s = in->session;
    for (size_t i = 0; i < s->n_ds; i++)
        if (!name || streq(s->ds[i]->name, name)) {
            *ret = s->ds[i];
            return 0;
        }
    return -ENOENT;
}

static bool ds_of_session(const struct session *s, const struct ophost_datasource *ds) {
    for (size_t i = 0; i < s->n_ds; i++)
        if (s->ds[i] == ds)
            return true;
    return false;
}

int session_host_field_add(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                           const char *name, uint32_t type, ophost_field *ret) {
    struct instance *in = instance_of(ctx);
    if (!in || !ret || !name || !ds_of_session(in->session, ds))
        return -EINVAL;
    if (!in->session->schema_open)
        return -EBUSY;
    return datasource_add_field(ds, name, type, in->entry->op->name, ret);
}

int session_host_field_find(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                            const char *name, ophost_field *ret) {
    struct instance *in = instance_of(ctx);
    const struct field_def *f;

    if (!in || !ret || !name || !ds_of_session(in->session, ds))
        return -EINVAL;
    f = field_def_of(ds, name);
    /* A field of an operator that runs later is unset whenever this one
     * sees an event: refused, and explained if the caller fails. */
    if (!f || field_owner(in->session, f) > index_of(in)) {
        record_miss(in, ds, name);
        return -ENOENT;
    }
    ret->offset = f->offset;
    ret->type = (uint16_t) f->type;
    ret->index = (uint16_t) (f - ds->fields);
    return 0;
}

int session_host_datasource_set_capacity(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                         uint32_t capacity) {
    struct instance *in = instance_of(ctx);
    if (!in || !ds_of_session(in->session, ds))
        return -EINVAL;
    if (!in->session->schema_open)
        return -EBUSY;
    if (capacity == 0 || capacity > SCHEMA_BATCH_CAPACITY_MAX)
        return -ERANGE;
    ds->capacity = capacity;
    ds->rounds = true; /* the ABI's contract: such a batch is a unit */
    return 0;
}

int session_host_field_set_meta(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                ophost_field field, const char *key, const char *value) {
    struct instance *in = instance_of(ctx);
    const struct field_def *fd;

    if (!in || !key || !value || !ds_of_session(in->session, ds) || field.index >= ds->n_fields)
        return -EINVAL;
    fd = &ds->fields[field.index];
    if (fd->offset != field.offset || fd->type != field.type)
        return -EINVAL; /* a handle of another data source */
    if (!in->session->schema_open)
        return -EBUSY;
    return datasource_set_field_meta(ds, field.index, key, value);
}

const char *session_host_field_closest(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                       const char *name) {
    struct instance *in = instance_of(ctx);
    _cleanup_free_ const char **names = NULL;
    const char *best;

    if (!in || !name || !ds_of_session(in->session, ds) || field_def_of(ds, name))
        return NULL; /* no typo: the field exists, added by an operator that runs later */
    names = calloc(ds->n_fields + 1, sizeof(char *));
    if (!names)
        return NULL;
    /* Only fields the caller can find. */
    for (size_t i = 0, n = 0; i < ds->n_fields; i++)
        if (field_owner(in->session, &ds->fields[i]) <= index_of(in))
            names[n++] = ds->fields[i].name;
    best = hint_closest(name, names);
    return best; /* points to the field's own name, valid for the session */
}

size_t session_host_field_count(struct ophost_ctx *ctx, struct ophost_datasource *ds) {
    struct instance *in = instance_of(ctx);
    if (!in || !ds_of_session(in->session, ds))
        return 0;
    return ds->n_fields;
}

int session_host_field_at(struct ophost_ctx *ctx, struct ophost_datasource *ds, size_t index,
                          const char **ret_name, ophost_field *ret) {
    struct instance *in = instance_of(ctx);
    const struct field_def *f;
    if (!in || !ret || !ds_of_session(in->session, ds))
        return -EINVAL;
    if (index >= ds->n_fields)
        return -ERANGE;
    f = &ds->fields[index];
    ret->offset = f->offset;
    ret->type = (uint16_t) f->type;
    ret->index = (uint16_t) index;
    if (ret_name)
        *ret_name = f->name;
    return 0;
}

const char *session_host_datasource_name(struct ophost_ctx *ctx, struct ophost_datasource *ds) {
    struct instance *in = instance_of(ctx);
    if (!in || !ds_of_session(in->session, ds))
        return NULL;
    return ds->name;
}

static void source_link(struct instance *in, struct ophost_source *src) {
    src->inst = in;
    src->next = in->sources;
    if (in->sources)
        in->sources->prev = src;
    in->sources = src;
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct ophost_source *src = userdata;
    struct instance *in = src->inst;
    uint32_t prev;
    int r;

    free(in->ctx.error);
    in->ctx.error = NULL;
    /* src may be freed by the callback: do not touch it afterwards. */
    prev = call_enter(CALL_IO, index_of(in));
    r = src->io_cb(&in->ctx, fd, revents, src->userdata);
    call_leave(prev);
    if (r < 0) {
        _cleanup_free_ char *msg = ctx_take_error(&in->ctx, r);
        fail(in->session, in, r, "fd callback failed: %s", msg ? msg : strerror(-r));
    }
    return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
    struct ophost_source *src = userdata;
    struct instance *in = src->inst;
    uint32_t prev;
    int r;

    if (src->interval_usec > 0) {
        /* Re-arm from the planned time, not from now, so periods don't drift. */
        (void) sd_event_source_set_time(es, usec + src->interval_usec);
        (void) sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
    }
    free(in->ctx.error);
    in->ctx.error = NULL;
    prev = call_enter(CALL_TIMER, index_of(in));
    r = src->timer_cb(&in->ctx, src->userdata);
    call_leave(prev);
    if (r < 0) {
        _cleanup_free_ char *msg = ctx_take_error(&in->ctx, r);
        fail(in->session, in, r, "timer callback failed: %s", msg ? msg : strerror(-r));
    }
    return 0;
}

int session_host_io_add(struct ophost_ctx *ctx, int fd, uint32_t events, ophost_io_fn cb,
                        void *userdata, struct ophost_source **ret) {
    struct instance *in = instance_of(ctx);
    struct ophost_source *src;
    int r;

    if (!in || fd < 0 || !cb || !in->session->loop)
        return -EINVAL;
    if (!in->session->running)
        return -EBUSY; /* from start on only: before, no undo would free it */
    src = calloc(1, sizeof(*src));
    if (!src)
        return -ENOMEM;
    src->io_cb = cb;
    src->userdata = userdata;
    r = sd_event_add_io(in->session->loop, &src->es, fd, events, on_io, src);
    if (r < 0) {
        free(src);
        return r;
    }
    source_link(in, src);
    if (ret)
        *ret = src;
    return 0;
}

int session_host_timer_add(struct ophost_ctx *ctx, uint64_t first_usec, uint64_t interval_usec,
                           ophost_timer_fn cb, void *userdata, struct ophost_source **ret) {
    struct instance *in = instance_of(ctx);
    struct ophost_source *src;
    int r;

    if (!in || !cb || !in->session->loop)
        return -EINVAL;
    if (!in->session->running)
        return -EBUSY; /* from start on only: before, no undo would free it */
    src = calloc(1, sizeof(*src));
    if (!src)
        return -ENOMEM;
    src->timer_cb = cb;
    src->userdata = userdata;
    src->interval_usec = interval_usec;
    r = sd_event_add_time_relative(in->session->loop, &src->es, CLOCK_MONOTONIC, first_usec, 1,
                                   on_timer, src);
    if (r < 0) {
        free(src);
        return r;
    }
    source_link(in, src);
    if (ret)
        *ret = src;
    return 0;
}

void session_host_source_free(struct ophost_source *src) {
    struct instance *in;
    if (!src)
        return;
    in = src->inst;
    if (src->prev)
        src->prev->next = src->next;
    else
        in->sources = src->next;
    if (src->next)
        src->next->prev = src->prev;
    sd_event_source_disable_unref(src->es);
    free(src);
}

struct ophost_batch *session_host_batch(struct ophost_ctx *ctx, struct ophost_datasource *ds) {
    struct instance *in = instance_of(ctx);
    if (!in || !ds_of_session(in->session, ds) || !ds->frozen)
        return NULL;
    return &ds->batch;
}

/* Adds n to a counter that only the session thread writes (other threads
 * only read it): a relaxed load and store, no locked read-modify-write per
 * operator per batch. */
static void counter_add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

int session_host_emit(struct ophost_ctx *ctx, struct ophost_batch *b) {
    struct instance *src = instance_of(ctx);
    struct session *s;
    bool timed;
    int r = 0;

    if (!src || !b || !b->ds || b != &b->ds->batch || !ds_of_session(src->session, b->ds))
        return -EINVAL;
    s = src->session;
    if (src != &s->instances[0])
        return -EPERM; /* only the gadget is a source */
    if (!s->emitting) {
        /* Before every start succeeded, or after a failure: nobody listens. */
        batch_reset(b);
        return -ESHUTDOWN;
    }
    counter_add(&s->status->emitted, b->n);
    timed = s->n_batches++ % TIMING_SAMPLE == 0;
    for (size_t i = 1; i < s->n_instances && b->n > 0; i++) {
        struct instance *in = &s->instances[i];
        uint32_t n_in = b->n, prev;
        uint64_t t0 = 0;
        if (in->opted_out || !in->entry->op->process)
            continue;
        if (timed)
            t0 = monotonic_nsec();
        prev = call_enter(CALL_PROCESS, (uint32_t) i);
        r = in->entry->op->process(&in->ctx, in->data, b);
        call_leave(prev);
        if (timed)
            counter_add(&in->c->ns_spent, (monotonic_nsec() - t0) * TIMING_SAMPLE);
        counter_add(&in->c->events_in, n_in);
        counter_add(&in->c->batches, 1);
        if (r < 0) {
            _cleanup_free_ char *msg = ctx_take_error(&in->ctx, r);
            fail(s, in, r, "process failed: %s", msg ? msg : strerror(-r));
            s->emitting = false;
            r = -ECANCELED;
            break;
        }
        if (b->n > n_in) {
            fail(s, in, -EPROTO, "process grew the batch from %u to %u events", n_in, b->n);
            s->emitting = false;
            r = -ECANCELED;
            break;
        }
        counter_add(&in->c->events_out, b->n);
    }
    if (r >= 0 && s->tap && b->n > 0)
        s->tap(s, b, s->tap_userdata);
    batch_reset(b);
    return r;
}

void session_host_lost(struct ophost_ctx *ctx, uint64_t n) {
    struct instance *in = instance_of(ctx);
    if (in)
        atomic_fetch_add_explicit(&in->session->status->lost, n, memory_order_relaxed);
}

void session_host_dropped(struct ophost_ctx *ctx, uint64_t n) {
    struct instance *in = instance_of(ctx);
    if (in)
        counter_add(&in->c->dropped, n);
}

void session_host_done(struct ophost_ctx *ctx, int error) {
    struct instance *in = instance_of(ctx);
    struct session *s;
    if (!in)
        return;
    s = in->session;
    if (s->done_requested)
        return;
    s->done_requested = true;
    s->done_error = error > 0 ? -error : error;
    if (s->loop)
        (void) sd_event_exit(s->loop, 0);
}

int session_host_metrics_publish(struct ophost_ctx *ctx, const char *text, size_t len) {
    struct instance *in = instance_of(ctx);
    struct session *s;

    if (!in || (!text && len > 0))
        return -EINVAL;
    s = in->session;
    if (!s->metrics_open)
        return -EBUSY;
    if (len > PROTO_METRICS_MAX)
        return -E2BIG;
    if (!s->metrics)
        return 0; /* nothing collects metrics here */
    return s->metrics(s, index_of(in), text ? text : "", len, s->metrics_userdata);
}

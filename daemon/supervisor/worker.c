/* worker.c (supervisor) — a session's worker process (see worker.h). */
#include "worker.h"

#include <errno.h>

#include "cgroup.h"
#include "exposition.h"
#include "log.h"
#include "proto.h"
#include "util.h"

struct worker {
    sd_event *loop;
    struct child *child;
    struct plan *plan;
    char *name;
    struct config_limits limits;
    enum worker_state state;
    char *error;
    struct plugin *culprit;          /* a reference */
    json_object *datasources;
    uint64_t started_usec;
    const struct worker_ops *ops;
    void *userdata;
    bool final_state;                /* the worker reported its end */
};

static const char *const state_names[] = {
    [WORKER_STARTING] = "starting", [WORKER_RUNNING] = "running",
    [WORKER_STOPPING] = "stopping", [WORKER_STOPPED] = "stopped",
    [WORKER_FAILED] = "failed",
};

const char *worker_state_name(enum worker_state st) {
    return state_names[st];
}

/* ------------------------------------------------------------- helpers */

struct child_deadlines worker_deadlines(const struct config_limits *l) {
    return (struct child_deadlines){
        .load_usec = l->callback_deadline_nsec / 1000,
        .data_usec = l->process_deadline_nsec / 1000,
        .callback_usec = l->callback_deadline_nsec / 1000,
    };
}

/* The distinct plugins of plan, in the order of its steps: PLAN.plugins. */
static size_t plan_plugins(const struct plan *plan, struct plugin **out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < plan->n_steps; i++) {
        struct plugin *p = plan->steps[i].entry->plugin;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = out[k] == p;
        if (!seen) {
            if (n == max)
                return max + 1;
            out[n++] = p;
        }
    }
    return n;
}

struct plugin *plan_call_plugin(const struct plan *plan, uint32_t call) {
    struct plugin *plugins[PROTO_FDS_MAX];
    enum call_kind k = CALL_KIND(call);
    uint32_t i = CALL_INDEX(call);
    size_t n;

    if (k == CALL_NONE || k >= _CALL_MAX)
        return NULL;
    if (k == CALL_DLOPEN || k == CALL_ENTRY) {
        n = plan_plugins(plan, plugins, ELEMENTSOF(plugins));
        return i < n && n <= ELEMENTSOF(plugins) ? plugins[i] : NULL;
    }
    return i < plan->n_steps ? plan->steps[i].entry->plugin : NULL;
}

char *worker_describe_end(const struct plan *plan, const struct child_exit *e,
                          const struct config_limits *limits) {
    enum call_kind k = CALL_KIND(e->call);
    uint32_t i = CALL_INDEX(e->call);
    struct plugin *p = plan_call_plugin(plan, e->call);
    const char *op = NULL;

    if (k != CALL_DLOPEN && k != CALL_ENTRY && k != CALL_NONE && i < plan->n_steps)
        op = plan->steps[i].entry->op->name;
    return child_describe_end(e, op, p ? p->file_name : NULL, limits);
}

int worker_plan_message(const struct plan *plan, const struct config_session *cs,
                        const struct worker_env *env, unsigned watchers, json_object **ret,
                        int *fds, size_t *n_fds) {
    struct plugin *plugins[PROTO_FDS_MAX - 1];
    json_object *o, *order, *paths, *globals;
    size_t n = plan_plugins(plan, plugins, ELEMENTSOF(plugins));

    if (n > ELEMENTSOF(plugins))
        return -E2BIG;
    o = json_object_new_object();
    order = json_object_new_array();
    paths = json_object_new_array();
    globals = json_object_new_array();
    if (!o || !order || !paths || !globals) {
        json_object_put(o);
        json_object_put(order);
        json_object_put(paths);
        json_object_put(globals);
        return -ENOMEM;
    }
    json_object_object_add(o, "session", proto_session_to_json(cs));
    for (size_t i = 0; i < plan->n_steps; i++)
        json_object_array_add(order, json_object_new_string(plan->steps[i].entry->op->name));
    json_object_object_add(o, "order", order);
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(paths, json_object_new_string(plugins[i]->path));
        fds[i] = plugins[i]->fd;
    }
    *n_fds = n;
    json_object_object_add(o, "plugins", paths);
    if (env->cfg->file)
        json_object_object_add(o, "globals_file", json_object_new_string(env->cfg->file));
    for (size_t i = 0; i < env->cfg->n_operators; i++)
        for (size_t k = 0; k < plan->n_steps; k++)
            if (streq(env->cfg->operators[i].name, plan->steps[k].entry->op->name)) {
                json_object_array_add(globals, proto_operator_to_json(&env->cfg->operators[i]));
                break;
            }
    json_object_object_add(o, "globals", globals);
    json_object_object_add(o, "log_level", json_object_new_int(log_get_max_level()));
    json_object_object_add(o, "nofile", json_object_new_uint64(env->nofile));
    if (env->cfg->logs_directory)
        json_object_object_add(o, "logs_directory",
                               json_object_new_string(env->cfg->logs_directory));
    /* Without a cgroup, the worker applies memory-max itself. */
    json_object_object_add(o, "memory_rlimit",
                           json_object_new_uint64(cgroup_enabled() ? 0 : cs->limits.memory_max));
    json_object_object_add(o, "watchers", json_object_new_uint64(watchers));
    *ret = o;
    return 0;
}

/* ------------------------------------------------------------- events */

static void set_state(struct worker *w, enum worker_state st) {
    if (w->state == st)
        return;
    w->state = st;
    if (w->ops->state_changed)
        w->ops->state_changed(w, w->userdata);
}

static void fail(struct worker *w, const char *error) {
    if (!w->error)
        w->error = strdup(error ? error : "failed");
}

/* A metrics text (proto.h): a sealed file for a step of the plan. Anything
 * else breaks the protocol: it is host code that sends it. */
static void on_metrics(struct worker *w, struct child *c, struct proto_msg *m) {
    _cleanup_free_ char *err = NULL;
    struct exposition *e = NULL;
    json_object *o = proto_parse_json(m);
    uint64_t step;
    int r;

    if (!o || !proto_json_uint(o, "step", &step) || step >= w->plan->n_steps || m->n_fds != 1) {
        json_object_put(o);
        child_kill(c, "sent a malformed metrics message");
        return;
    }
    json_object_put(o);
    r = exposition_from_fd(m->fds[0], &e, &err);
    if (r == -EBADMSG) {
        _cleanup_free_ char *why = strprintf("sent %s", err ? err : "a bad metrics text");
        child_kill(c, why ? why : "sent a bad metrics text");
        return;
    }
    if (r < 0) {
        log_full(LOG_WARNING, r, &(struct log_context){ .session = w->name },
                 "%s, keeping the previous metrics of step %llu", err ? err : strerror(-r),
                 (unsigned long long) step);
        return;
    }
    if (w->ops->metrics)
        w->ops->metrics(w, (size_t) step, e, w->userdata);
    exposition_unref(e);
}

static void on_message(struct child *c, struct proto_msg *m, void *userdata) {
    struct worker *w = userdata;
    const char *state;
    json_object *o;

    if (m->type == PROTO_EVENTS) {
        struct proto_events head;
        if (m->len < sizeof(head)) {
            child_kill(c, "sent a malformed message");
            return;
        }
        memcpy(&head, m->data, sizeof(head));
        if (w->ops->events)
            w->ops->events(w, m->data + sizeof(head), m->len - sizeof(head),
                           head.dropped_before, w->userdata);
        return;
    }
    if (m->type == PROTO_METRICS) {
        on_metrics(w, c, m);
        return;
    }
    o = m->type == PROTO_STATE ? proto_parse_json(m) : NULL;
    state = o ? proto_json_string(o, "state") : NULL;
    if (!state) {
        json_object_put(o);
        child_kill(c, "sent an unexpected message");
        return;
    }
    if (streq(state, "running") && !w->started_usec) {
        /* Also when a stop overtook it (stopping before it ran): its events
         * still come, and a watcher needs their schema to show them. */
        json_object *ds;
        if (json_object_object_get_ex(o, "datasources", &ds) &&
            json_object_is_type(ds, json_type_array))
            w->datasources = json_object_get(ds);
        w->started_usec = monotonic_usec();
        if (w->state == WORKER_STARTING)
            set_state(w, WORKER_RUNNING);
        else if (!worker_ended(w) && w->ops->state_changed)
            w->ops->state_changed(w, w->userdata);
    } else if (streq(state, "stopped") || streq(state, "failed")) {
        w->final_state = true;
        if (streq(state, "failed"))
            fail(w, proto_json_string(o, "error"));
    }
    json_object_put(o);
}

static void on_end(struct child *c, void *userdata) {
    struct worker *w = userdata;
    const struct child_exit *e = child_exit_info(c);

    if (!w->final_state || e->how != CHILD_EXITED || e->code != 0) {
        if (w->final_state) {
            /* It reported its end, then died in close() or a destructor:
             * the session's result stands, the fault is the plugin's. */
            _cleanup_free_ char *text = worker_describe_end(w->plan, e, &w->limits);
            log_full(LOG_WARNING, 0, &(struct log_context){ .session = w->name },
                     "after the session ended: %s", text ? text : "the worker failed");
        } else {
            _cleanup_free_ char *text = worker_describe_end(w->plan, e, &w->limits);
            free(w->error);
            w->error = TAKE_PTR(text);
            if (!w->error)
                w->error = strdup("the worker ended abnormally");
        }
        if (e->how != CHILD_KILLED)
            w->culprit = plugin_ref(plan_call_plugin(w->plan, e->call));
    }
    set_state(w, w->error ? WORKER_FAILED : WORKER_STOPPED);
}

static const struct worker_ops no_ops;

int worker_start(sd_event *loop, struct plan *plan, const struct config_session *cs,
                 const struct worker_env *env, unsigned watchers, const struct worker_ops *ops,
                 void *userdata, struct worker **ret, char **ret_error) {
    _cleanup_free_ char *what = NULL;
    struct worker *w = calloc(1, sizeof(*w));
    json_object *msg = NULL;
    int fds[PROTO_FDS_MAX];
    size_t n_fds = 0;
    int r;

    if (!w) {
        plan_free(plan);
        return -ENOMEM;
    }
    w->loop = loop;
    w->plan = plan;
    w->name = strdup(cs->name);
    w->limits = cs->limits;
    w->ops = ops ? ops : &no_ops;
    w->userdata = userdata;
    w->state = WORKER_STARTING;
    what = strprintf("session %s", cs->name);
    r = what && w->name ? worker_plan_message(plan, cs, env, watchers, &msg, fds, &n_fds) : -ENOMEM;
    if (r == -E2BIG)
        *ret_error = strprintf("the plan needs more than %d plugins", PROTO_FDS_MAX - 1);
    if (r >= 0) {
        struct child_spec spec = {
            .what = what,
            .n_counters = plan->n_steps,
            .deadlines = worker_deadlines(&cs->limits),
            .limits = &w->limits,
            .cgroup_name = cs->name,
            .on_message = on_message,
            .on_end = on_end,
            .userdata = w,
        };
        r = child_spawn(loop, &spec, &w->child, ret_error);
    }
    if (r >= 0) {
        r = child_send_first(w->child, PROTO_RUN, msg, fds, n_fds);
        if (r == -EMSGSIZE)
            *ret_error = strprintf("the session's plan is larger than a message (%d bytes)",
                                   PROTO_MESSAGE_MAX);
        else if (r < 0)
            *ret_error = strprintf("cannot send the plan to the worker: %s", strerror(-r));
    }
    json_object_put(msg);
    if (r < 0) {
        worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}

void worker_stop(struct worker *w) {
    json_object *o;
    if (worker_ended(w) || w->state == WORKER_STOPPING)
        return;
    o = json_object_new_object();
    /* A worker that cannot take the message now is stuck in plugin code:
     * the deadline watchdog ends it. */
    (void) child_send(w->child, PROTO_STOP, o);
    json_object_put(o);
    set_state(w, WORKER_STOPPING);
}

struct worker *worker_free(struct worker *w) {
    if (!w)
        return NULL;
    child_free(w->child);
    plan_free(w->plan);
    plugin_unref(w->culprit);
    json_object_put(w->datasources);
    free(w->error);
    free(w->name);
    free(w);
    return NULL;
}

void worker_set_watchers(struct worker *w, unsigned n) {
    json_object *o;
    if (worker_ended(w))
        return;
    o = json_object_new_object();
    json_object_object_add(o, "watchers", json_object_new_uint64(n));
    (void) child_send(w->child, PROTO_WATCH, o);
    json_object_put(o);
}

enum worker_state worker_get_state(const struct worker *w) {
    return w->state;
}

bool worker_ended(const struct worker *w) {
    return w->state == WORKER_STOPPED || w->state == WORKER_FAILED;
}

const char *worker_error(const struct worker *w) {
    return w->error;
}

struct plugin *worker_culprit(const struct worker *w) {
    return w->culprit;
}

const struct plan *worker_plan(const struct worker *w) {
    return w->plan;
}

const char *worker_name(const struct worker *w) {
    return w->name;
}

json_object *worker_datasources(const struct worker *w) {
    return w->datasources;
}

pid_t worker_pid(const struct worker *w) {
    return child_pid(w->child);
}

uint64_t worker_started_usec(const struct worker *w) {
    return w->started_usec;
}

uint64_t worker_events_emitted(const struct worker *w) {
    return atomic_load_explicit(&child_status(w->child)->emitted, memory_order_relaxed);
}

uint64_t worker_events_lost(const struct worker *w) {
    return atomic_load_explicit(&child_status(w->child)->lost, memory_order_relaxed);
}

size_t worker_counters(const struct worker *w, struct instance_counters *out, size_t n) {
    const struct status_page *page = child_status(w->child);
    size_t i;

    for (i = 0; i < n && i < w->plan->n_steps && i < page->n_counters; i++) {
        const struct status_counters *c = &page->counters[i];
        out[i] = (struct instance_counters){
            .operator_name = w->plan->steps[i].entry->op->name,
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

int worker_totals_get(const struct worker *w, struct worker_totals *ret) {
    struct worker_totals t = {
        .emitted = worker_events_emitted(w),
        .lost = worker_events_lost(w),
    };

    t.ops = calloc(w->plan->n_steps + 1, sizeof(*t.ops));
    if (!t.ops)
        return -ENOMEM;
    t.n_ops = worker_counters(w, t.ops, w->plan->n_steps);
    for (size_t i = 0; i < t.n_ops; i++) {
        t.ops[i].operator_name = strdup(t.ops[i].operator_name);
        if (!t.ops[i].operator_name) {
            t.n_ops = i;
            worker_totals_clear(&t);
            return -ENOMEM;
        }
    }
    *ret = t;
    return 0;
}

void worker_totals_clear(struct worker_totals *t) {
    for (size_t i = 0; i < t->n_ops; i++)
        free((char *) t->ops[i].operator_name);
    free(t->ops);
    *t = (struct worker_totals){ 0 };
}

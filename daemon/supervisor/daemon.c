/*
 * daemon.c — the running ophostd's supervisor. The main thread owns the
 * configuration, the registry (metadata of the plugins the scanner
 * described) and the configured sessions, and runs one sd-event loop for
 * signals (TERM/INT: stop, HUP: reload), the workers' states, restarts with
 * backoff, quarantine and the plugin directory watch. It runs no plugin
 * code: plugins are probed by scanner children, sessions run in worker
 * children, reload dry runs in children too (probe.h, worker.h).
 *
 * Startup: the plugin directories are scanned (a scanner probes every
 * snapshot), the pipelines read, the autostart sessions started, and once
 * each of them runs or failed, READY=1.
 *
 * Reload is prepare-then-swap: the new daemon config and pipelines are read,
 * every new or changed session planned and dry-run in children first; any
 * error leaves everything as it was. Then unchanged sessions keep running,
 * changed ones restart, removed ones stop and new ones start. A reload asked
 * for while one is being prepared runs after it (several coalesce).
 */
#include "daemon.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "child.h"
#include "config.h"
#include "control.h"
#include "exporter.h"
#include "exposition.h"
#include "inspect.h"
#include "log.h"
#include "metrics.h"
#include "params.h"
#include "plan.h"
#include "plugins.h"
#include "probe.h"
#include "registry.h"
#include "worker.h"

#define RESTART_DELAY_MAX_NSEC (300ULL * 1000000000ULL)
#define PLUGIN_RESCAN_DELAY_USEC (100 * 1000)

enum managed_state {
    MANAGED_IDLE,     /* not started (autostart off, or ended) */
    MANAGED_WAITING,  /* needs an operator no plugin provides yet */
    MANAGED_RUNNING,  /* a worker exists */
    MANAGED_BACKOFF,  /* failed; restart scheduled */
    MANAGED_DEFERRED, /* starts when the worker of its old definition is gone */
};

struct daemon;

/* A caller waiting for the outcome of a start or stop. */
struct waiter {
    daemon_done_fn done;
    void *userdata;
    struct waiter *next;
};

/* One configured session and what runs it. */
struct managed {
    struct daemon *d;
    char *name;
    const struct config_session *cfg; /* in d->pipelines */
    enum managed_state state;
    struct worker *worker;
    sd_event_source *restart_es;
    uint64_t backoff_nsec;
    unsigned restarts;
    uint64_t next_retry_usec;
    char *last_error;
    bool failed;               /* the last run (or start) failed */
    bool blocked;              /* by a quarantined plugin: (re)starts when it ends */
    bool autostart_pending;    /* READY=1 waits for it */
    bool retired;              /* removed or changed by a reload; its worker stops */
    bool replaced;             /* retired for a changed definition */
    struct plan *deferred;     /* MANAGED_DEFERRED: what to start */
    struct waiter *start_waiters, *stop_waiters;
    /* For /metrics: the metrics texts of its current (or last) worker's
     * operator instances, per plan step, and the counters its last worker
     * ended with; both go when a new worker starts. */
    struct exposition **texts;
    size_t n_texts;
    struct worker_totals totals;
    bool has_totals;
};

struct reload_request {
    daemon_done_fn done;
    void *userdata;
    struct reload_request *next;
};

/* A reload between its plans and its swap: the dry runs run. */
struct reload {
    struct daemon_config *config;
    struct config_pipelines *pipelines;
    struct plan **plans;        /* per new session; NULL if unchanged or waiting */
    int *plan_rc;
    struct probe *probe;
    struct reload_request *requests;
    bool metrics_change;           /* metrics-listen differs: swap the server */
    struct metrics_server *metrics; /* the new server, bound while preparing */
    bool metrics_rebind;           /* or bind it at the swap (the port is ours now) */
};

struct daemon {
    struct daemon_options opt;
    sd_event *loop;
    struct daemon_config *config;
    struct registry *registry;
    struct plugin_dirs *dirs;
    struct worker_env env;
    struct config_pipelines *pipelines;
    struct managed **managed; /* sorted by name, like pipelines */
    size_t n_managed;
    struct managed **retired; /* a reload removed or changed them: stopping */
    size_t n_retired;
    int inotify_fd;
    sd_event_source *rescan_es;
    struct probe *scan;            /* a plugin scan under way */
    bool rescan_again;
    bool started;                  /* the initial scan is done */
    bool ready;                    /* READY=1 sent */
    struct reload *reload;         /* a reload under way */
    struct reload_request *reload_queue; /* asked for meanwhile */
    bool stopping;
    struct control *control;       /* NULL without a control socket */
    struct metrics_server *metrics; /* NULL without metrics-listen */
    uint64_t reloads_accepted, reloads_rejected;
    uint64_t scrapes_before; /* of the metrics servers a reload replaced */
    const struct daemon_observer *obs;
    void *obs_userdata;
    size_t config_errors; /* of the last reload (or startup) that failed; 0 after a good one */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct daemon_config *, daemon_config_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct config_pipelines *, config_pipelines_free)

static void managed_start(struct managed *m);

static struct managed *find_managed(struct daemon *d, const char *name) {
    for (size_t i = 0; i < d->n_managed; i++)
        if (streq(d->managed[i]->name, name))
            return d->managed[i];
    return NULL;
}
static void notify_status(struct daemon *d);
static void maybe_ready(struct daemon *d);
static void maybe_exit(struct daemon *d);

/* ------------------------------------------------------------- loading */

static int load_config(const struct daemon_options *opt, struct daemon_config **ret,
                       struct errors *errs) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
    int r;

    r = config_load_daemon(opt->config_path ? opt->config_path : OPHOST_DEFAULT_CONFIG_FILE,
                           opt->config_must_exist, &c, errs);
    if (r < 0)
        return r;
    if (opt->plugin_dirs) {
        char **dirs = NULL;
        for (size_t i = 0; opt->plugin_dirs[i]; i++)
            if (strv_extend(&dirs, opt->plugin_dirs[i]) < 0) {
                strv_free(dirs);
                return -ENOMEM;
            }
        strv_free(c->plugin_dirs);
        c->plugin_dirs = dirs;
    }
    if (opt->pipeline_dir) {
        char *p = strdup(opt->pipeline_dir);
        if (!p)
            return -ENOMEM;
        free(c->pipeline_dir);
        c->pipeline_dir = p;
    }
    if (opt->log_level >= 0)
        c->log_level = opt->log_level;
    *ret = TAKE_PTR(c);
    return 0;
}

static void log_lines(int priority, const struct errors *e, const char *suffix) {
    /* A list of errors is bounded and every line matters: not rate limited. */
    for (size_t i = 0; e->lines && e->lines[i]; i++)
        log_full(priority, 0, &(struct log_context){ .unlimited = true }, "%s%s", e->lines[i],
                 suffix);
}

/* The soft RLIMIT_NOFILE workers get (the one we started with), after
 * raising ours to the hard limit: the supervisor holds a socket and a pidfd
 * per worker, and never uses select(). */
static uint64_t raise_nofile(void) {
    struct rlimit rl;
    uint64_t soft;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    soft = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    return soft;
}

/* Plan hooks of the supervisor: the operator's global params must be
 * valid and its plugin not quarantined. No plugin code runs. */
static int hook_prepare(void *userdata, struct operator_entry *e, char **ret_error) {
    struct registry *reg = userdata;
    struct params *p = NULL;
    int r;

    if (e->plugin->faults.quarantined) {
        *ret_error = strprintf("plugin %s is quarantined: %s (replace the file, or run "
                               "'ophostctl unquarantine %s')",
                               e->plugin->file_name, e->plugin->faults.reason,
                               e->plugin->file_name);
        return -EPERM;
    }
    r = registry_global_params(reg, e, &p, ret_error);
    params_free(p);
    return r;
}

static struct plan_hooks supervisor_hooks(struct registry *reg) {
    return (struct plan_hooks){ .prepare = hook_prepare, .userdata = reg };
}

/* ------------------------------------------------- the command line tools */

int daemon_list_operators(const struct daemon_options *opt, bool json) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
    struct errors errs = { 0 }, refused = { 0 };
    struct plugin_dirs *pd = NULL;
    struct registry *reg = NULL;
    sd_event *loop = NULL;
    int r;

    r = load_config(opt, &c, &errs);
    if (r < 0) {
        log_lines(LOG_ERR, &errs, "");
        errors_clear(&errs);
        return 1;
    }
    reg = registry_new();
    pd = plugin_dirs_new(geteuid());
    r = reg && pd ? sd_event_new(&loop) : -ENOMEM;
    if (r >= 0)
        r = probe_scan_dirs(loop, reg, pd, c->plugin_dirs, c->log_level, &refused);
    if (r >= 0)
        r = inspect_list_operators(stdout, reg, &refused, json);
    registry_free(reg);
    plugin_dirs_free(pd);
    sd_event_unref(loop);
    errors_clear(&refused);
    return r < 0 ? 1 : 0;
}

int daemon_check_plugin(const struct daemon_options *opt, const char *path, bool json,
                        bool strict) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
    struct inspect_check_plugin_options o = {
        .path = path,
        .json = json,
        .plugin_dirs = opt->plugin_dirs,
        .dirs_explicit = opt->plugin_dirs != NULL,
        .log_level = log_get_max_level(),
    };
    struct errors errs = { 0 };
    int r;

    r = load_config(opt, &c, &errs);
    if (r >= 0)
        o.plugin_dirs = c->plugin_dirs;
    else {
        log_lines(LOG_WARNING, &errs, ": operator names are compared only with --plugin-dir");
        errors_clear(&errs);
    }
    r = inspect_check_plugin(stdout, stderr, &o);
    return r < 0 || (strict && r > 0) ? 1 : 0;
}

int daemon_check(const struct daemon_options *opt, bool json) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
    _cleanup_(config_pipelines_freep) struct config_pipelines *p = NULL;
    _cleanup_free_ struct plan **plans = NULL, **checked = NULL;
    _cleanup_free_ const struct config_session **sessions = NULL;
    struct errors errs = { 0 };
    struct registry *reg = NULL;
    struct plugin_dirs *pd = NULL;
    struct probe *probe = NULL;
    struct worker_env env;
    sd_event *loop = NULL;
    size_t n_checked = 0;
    int r, status = 1;

    r = load_config(opt, &c, &errs);
    if (r < 0)
        goto out;
    reg = registry_new();
    pd = plugin_dirs_new(geteuid());
    if (!reg || !pd || sd_event_new(&loop) < 0)
        goto out;
    registry_set_globals(reg, c->operators, c->n_operators);
    if (probe_scan_dirs(loop, reg, pd, c->plugin_dirs, c->log_level, &errs) < 0)
        goto out;
    (void) registry_check_globals(reg, &errs);
    if (config_load_pipelines(c->pipeline_dir, false, &p, &errs) < 0)
        goto out;
    plans = calloc(p->n_sessions + 1, sizeof(struct plan *));
    checked = calloc(p->n_sessions + 1, sizeof(struct plan *));
    sessions = calloc(p->n_sessions + 1, sizeof(*sessions));
    if (!plans || !checked || !sessions)
        goto out;
    for (size_t i = 0; i < p->n_sessions; i++) {
        struct plan_hooks hooks = supervisor_hooks(reg);
        if (plan_build(reg, &p->sessions[i], &hooks, &plans[i], &errs) >= 0) {
            checked[n_checked] = plans[i];
            sessions[n_checked++] = &p->sessions[i];
        }
    }
    /* The dry runs: init, can_operate_on, instantiate and destroy of every
     * session, each in a child. */
    env = (struct worker_env){ .cfg = c, .nofile = 0 };
    if (probe_check(loop, checked, sessions, n_checked, &env, NULL, NULL, &probe) < 0 ||
        probe_wait(loop, probe) < 0)
        goto out;
    for (size_t i = 0, k = 0; i < p->n_sessions; i++) {
        if (!plans[i])
            continue;
        if (probe_errors(probe, k)->n > 0) {
            struct errors copy = { 0 };
            for (size_t l = 0; l < probe_errors(probe, k)->n; l++)
                (void) errors_add(&copy, "%s", probe_errors(probe, k)->lines[l]);
            errors_move(&errs, &copy);
            plans[i] = plan_free(plans[i]);
        }
        k++;
    }
    status = errs.n > 0 ? 1 : 0;

out:
    (void) inspect_check(stdout, stderr, plans, p ? p->n_sessions : 0, &errs, json);
    probe_free(probe);
    for (size_t i = 0; plans && p && i < p->n_sessions; i++)
        plan_free(plans[i]);
    registry_free(reg);
    plugin_dirs_free(pd);
    sd_event_unref(loop);
    errors_clear(&errs);
    return status;
}

/* ------------------------------------------------------------ sessions */

static void notify_status(struct daemon *d) {
    size_t running = 0, waiting = 0, restarting = 0, failed = 0, n_plugins;
    char rejected[96] = "", adhoc[48] = "";
    size_t n_adhoc = control_adhoc_sessions(d->control);

    (void) registry_plugins(d->registry, &n_plugins);
    for (size_t i = 0; i < d->n_managed; i++) {
        struct managed *m = d->managed[i];
        running += m->state == MANAGED_RUNNING;
        waiting += m->state == MANAGED_WAITING;
        restarting += m->state == MANAGED_BACKOFF;
        failed += m->state == MANAGED_IDLE && m->failed;
    }
    if (d->config_errors)
        snprintf(rejected, sizeof(rejected),
                 ", last configuration rejected: %zu errors (see the log)", d->config_errors);
    if (n_adhoc > 0)
        snprintf(adhoc, sizeof(adhoc), " (and %zu ad hoc)", n_adhoc);
    sd_notifyf(0, "STATUS=%zu plugins, %zu sessions running%s, %zu waiting, %zu restarting, "
                  "%zu failed%s",
               n_plugins, running, adhoc, waiting, restarting, failed, rejected);
}

static void waiters_call(struct waiter **list, int r, const char *error) {
    struct waiter *w = *list;
    *list = NULL;
    while (w) {
        struct waiter *next = w->next;
        w->done(r, error, NULL, w->userdata);
        free(w);
        w = next;
    }
}

static void waiters_drop(struct waiter **list) {
    while (*list) {
        struct waiter *next = (*list)->next;
        free(*list);
        *list = next;
    }
}

static int waiter_add(struct waiter **list, daemon_done_fn done, void *userdata) {
    struct waiter *w;
    if (!done)
        return 0;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->done = done;
    w->userdata = userdata;
    w->next = *list;
    *list = w;
    return 0;
}

static void set_error(struct managed *m, const char *error) {
    free(m->last_error);
    m->last_error = error ? strdup(error) : NULL;
    m->failed = error != NULL;
}

/* Frees m's worker (it has ended, or is killed now); watchers are told
 * first. */
static void managed_drop_worker(struct managed *m) {
    if (!m->worker)
        return;
    worker_totals_clear(&m->totals);
    m->has_totals = worker_totals_get(m->worker, &m->totals) >= 0;
    if (m->d->obs && m->d->obs->worker_ended)
        m->d->obs->worker_ended(m->worker, m->d->obs_userdata);
    m->worker = worker_free(m->worker);
}

/* Forgets the metrics of m's previous worker (a new one starts, or m goes). */
static void managed_clear_metrics(struct managed *m) {
    for (size_t i = 0; i < m->n_texts; i++)
        exposition_unref(m->texts[i]);
    free(m->texts);
    m->texts = NULL;
    m->n_texts = 0;
    worker_totals_clear(&m->totals);
    m->has_totals = false;
}

static struct managed *managed_free(struct managed *m, bool call_waiters) {
    if (!m)
        return NULL;
    m->restart_es = sd_event_source_disable_unref(m->restart_es);
    managed_drop_worker(m);
    managed_clear_metrics(m);
    plan_free(m->deferred);
    if (call_waiters) {
        waiters_call(&m->start_waiters, -ECANCELED, "the session was removed");
        waiters_call(&m->stop_waiters, 0, NULL);
    } else {
        waiters_drop(&m->start_waiters);
        waiters_drop(&m->stop_waiters);
    }
    free(m->last_error);
    free(m->name);
    free(m);
    return NULL;
}

static int on_restart_timer(sd_event_source *es, uint64_t usec, void *userdata) {
    struct managed *m = userdata;
    m->restart_es = sd_event_source_disable_unref(m->restart_es);
    m->next_retry_usec = 0;
    m->restarts++;
    managed_start(m);
    notify_status(m->d);
    return 0;
}

static void schedule_restart(struct managed *m) {
    struct log_context lc = { .session = m->name };
    uint64_t delay = m->backoff_nsec ? m->backoff_nsec : m->cfg->restart_delay_nsec;
    int r;

    m->backoff_nsec = delay * 2 > RESTART_DELAY_MAX_NSEC ? RESTART_DELAY_MAX_NSEC : delay * 2;
    r = sd_event_add_time_relative(m->d->loop, &m->restart_es, CLOCK_MONOTONIC, delay / 1000,
                                   1000, on_restart_timer, m);
    if (r < 0) {
        log_full(LOG_ERR, r, &lc, "cannot schedule a restart: %m, leaving the session stopped");
        m->state = MANAGED_IDLE;
        return;
    }
    m->state = MANAGED_BACKOFF;
    m->next_retry_usec = monotonic_usec() + delay / 1000;
    log_full(LOG_NOTICE, 0, &lc, "restarting in %llu ms", (unsigned long long) (delay / 1000000));
}

/* Whether a plugin an operator of cs needs is quarantined. */
static bool uses_quarantined(struct daemon *d, const struct config_session *cs) {
    struct operator_entry *e = registry_find(d->registry, cs->gadget);
    if (e && e->plugin->faults.quarantined)
        return true;
    for (size_t i = 0; i < cs->n_operators; i++) {
        e = registry_find(d->registry, cs->operators[i].name);
        if (e && e->plugin->faults.quarantined)
            return true;
    }
    return false;
}

static void managed_settled(struct managed *m) {
    if (m->autostart_pending) {
        m->autostart_pending = false;
        maybe_ready(m->d);
    }
}

static void managed_run(struct managed *m, struct plan *plan);

/* The worker of a session's old definition ended: the new one may start. */
static void retired_ended(struct managed *m) {
    struct daemon *d = m->d;
    struct managed *next = find_managed(d, m->name);

    if (worker_get_state(m->worker) == WORKER_FAILED)
        log_full(LOG_ERR, 0, &(struct log_context){ .session = m->name }, "failed: %s",
                 worker_error(m->worker));
    else
        log_full(LOG_INFO, 0, &(struct log_context){ .session = m->name }, "%s",
                 m->replaced ? "stopped its old definition" : "stopped");
    if (worker_get_state(m->worker) == WORKER_FAILED)
        daemon_record_fault(d, m->worker);
    for (size_t i = 0; i < d->n_retired; i++)
        if (d->retired[i] == m) {
            d->retired[i] = d->retired[--d->n_retired];
            break;
        }
    managed_free(m, true);
    if (next && next->state == MANAGED_DEFERRED && !d->stopping)
        managed_run(next, TAKE_PTR(next->deferred));
    else if (next && next->state == MANAGED_DEFERRED)
        next->state = MANAGED_IDLE;
}

static void on_worker_state(struct worker *w, void *userdata) {
    struct managed *m = userdata;
    struct daemon *d = m->d;
    struct log_context lc = { .session = m->name };
    enum worker_state st = worker_get_state(w);

    if (m->retired) {
        if (worker_ended(w)) {
            retired_ended(m);
            maybe_exit(d);
        }
        return;
    }
    if (st == WORKER_RUNNING) {
        log_full(LOG_INFO, 0, &lc, "started");
        waiters_call(&m->start_waiters, 0, NULL);
        managed_settled(m);
        return;
    }
    if (!worker_ended(w))
        return;

    if (st == WORKER_FAILED) {
        log_full(LOG_ERR, 0, &lc, "failed: %s", worker_error(w));
        set_error(m, worker_error(w));
        daemon_record_fault(d, w);
    } else {
        log_full(LOG_INFO, 0, &lc, "%s, %llu events",
                 m->stop_waiters || d->stopping ? "stopped" : "completed",
                 (unsigned long long) worker_events_emitted(w));
        set_error(m, NULL);
        m->backoff_nsec = 0;
    }
    managed_drop_worker(m);
    m->state = MANAGED_IDLE;
    if (st == WORKER_FAILED && m->cfg->restart == CONFIG_RESTART_ON_FAILURE && !d->stopping &&
        !uses_quarantined(d, m->cfg))
        schedule_restart(m);
    else if (st == WORKER_FAILED && m->cfg->restart == CONFIG_RESTART_ON_FAILURE &&
             uses_quarantined(d, m->cfg))
        m->blocked = true; /* restarts once the quarantine ends */
    /* Callers learn the outcome once the state they may look at is final. */
    waiters_call(&m->start_waiters, st == WORKER_FAILED ? -EIO : 0,
                 st == WORKER_FAILED ? m->last_error : NULL);
    waiters_call(&m->stop_waiters, 0, NULL);
    managed_settled(m);
    notify_status(d);
    maybe_exit(d);
}

static void on_worker_events(struct worker *w, const char *data, size_t len, uint64_t dropped,
                             void *userdata) {
    struct managed *m = userdata;
    if (m->d->obs && m->d->obs->worker_events)
        m->d->obs->worker_events(w, data, len, dropped, m->d->obs_userdata);
}

static void on_worker_metrics(struct worker *w, size_t step, struct exposition *text,
                              void *userdata) {
    struct managed *m = userdata;

    if (step >= m->n_texts) {
        size_t n = worker_plan(w)->n_steps;
        struct exposition **t = step < n ? realloc(m->texts, n * sizeof(*t)) : NULL;
        if (!t) {
            log_full(LOG_WARNING, -ENOMEM, &(struct log_context){ .session = m->name },
                     "cannot keep a metrics text: %m, ignoring");
            return;
        }
        for (size_t i = m->n_texts; i < n; i++)
            t[i] = NULL;
        m->texts = t;
        m->n_texts = n;
    }
    exposition_unref(m->texts[step]);
    m->texts[step] = exposition_ref(text);
}

static const struct worker_ops managed_worker_ops = {
    .state_changed = on_worker_state,
    .events = on_worker_events,
    .metrics = on_worker_metrics,
};

static struct managed *find_retired(struct daemon *d, const char *name) {
    for (size_t i = 0; i < d->n_retired; i++)
        if (streq(d->retired[i]->name, name))
            return d->retired[i];
    return NULL;
}

/* Starts m's session from plan (taken), once the worker of its previous
 * definition (if any) is gone: two never run side by side. */
static void managed_run(struct managed *m, struct plan *plan) {
    struct log_context lc = { .session = m->name };
    _cleanup_free_ char *err = NULL;
    int r;

    if (find_retired(m->d, m->name)) {
        plan_free(m->deferred);
        m->deferred = plan;
        m->state = MANAGED_DEFERRED;
        return;
    }
    managed_clear_metrics(m);
    r = worker_start(m->d->loop, plan, m->cfg, &m->d->env, 0, &managed_worker_ops, m,
                     &m->worker, &err);
    if (r < 0) {
        _cleanup_free_ char *msg = strprintf("cannot start the session: %s",
                                             err ? err : strerror(-r));
        log_full(LOG_ERR, r, &lc, "%s", msg ? msg : "cannot start the session");
        set_error(m, msg);
        m->state = MANAGED_IDLE;
        waiters_call(&m->start_waiters, r, msg);
        managed_settled(m);
        return;
    }
    m->state = MANAGED_RUNNING;
    m->blocked = false;
    if (m->d->obs && m->d->obs->worker_started)
        m->d->obs->worker_started(m->worker, m->d->obs_userdata);
}

/* Plans m's session now and starts it; a missing operator leaves m waiting
 * for a plugin. */
static void managed_start(struct managed *m) {
    struct plan_hooks hooks = supervisor_hooks(m->d->registry);
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    int r;

    r = plan_build(m->d->registry, m->cfg, &hooks, &plan, &errs);
    if (r < 0) {
        bool waiting = r == -ENOENT;
        log_lines(waiting ? LOG_WARNING : LOG_ERR, &errs,
                  waiting ? ", waiting for a plugin that provides it" : "");
        m->state = waiting ? MANAGED_WAITING : MANAGED_IDLE;
        set_error(m, errs.n > 0 && errs.lines ? errs.lines[0] : strerror(-r));
        m->blocked = !waiting && uses_quarantined(m->d, m->cfg);
        waiters_call(&m->start_waiters, r, m->last_error);
        managed_settled(m);
        errors_clear(&errs);
        return;
    }
    managed_run(m, plan);
}

static struct managed *managed_new(struct daemon *d, const struct config_session *cfg) {
    struct managed *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->name = strdup(cfg->name);
    if (!m->name) {
        free(m);
        return NULL;
    }
    m->d = d;
    m->cfg = cfg;
    return m;
}


/* Starts every session waiting for a plugin or blocked by a quarantine
 * that may be over. */
static void retry_waiting(struct daemon *d) {
    for (size_t i = 0; i < d->n_managed; i++) {
        struct managed *m = d->managed[i];
        if (m->state == MANAGED_WAITING ||
            (m->state == MANAGED_IDLE && m->blocked && !uses_quarantined(d, m->cfg)))
            managed_start(m);
    }
}

static void maybe_ready(struct daemon *d) {
    if (d->ready || !d->started || d->stopping)
        return;
    for (size_t i = 0; i < d->n_managed; i++)
        if (d->managed[i]->autostart_pending)
            return;
    d->ready = true;
    control_start(d->control);
    log_info("ready: %zu sessions configured", d->n_managed);
    sd_notify(0, "READY=1");
    notify_status(d);
}

/* ----------------------------------------------------------- quarantine */

void daemon_record_fault(struct daemon *d, struct worker *w) {
    struct plugin *p = worker_culprit(w);
    struct plugin_faults *f;
    uint64_t now = monotonic_usec();
    unsigned recent = 0;

    if (!p || p->faults.quarantined)
        return;
    f = &p->faults;
    if (f->n == PLUGIN_FAULTS_QUARANTINE) {
        memmove(f->at_usec, f->at_usec + 1, (f->n - 1) * sizeof(f->at_usec[0]));
        f->n--;
    }
    f->at_usec[f->n++] = now;
    free(f->last);
    f->last = worker_error(w) ? strdup(worker_error(w)) : NULL;
    for (unsigned i = 0; i < f->n; i++)
        recent += now - f->at_usec[i] <= PLUGIN_FAULTS_WINDOW_USEC;
    if (recent < PLUGIN_FAULTS_QUARANTINE)
        return;
    f->quarantined = true;
    f->reason = strprintf("%u faults within %llu minutes, the last: %s", recent,
                          PLUGIN_FAULTS_WINDOW_USEC / 60000000ULL,
                          f->last ? f->last : "unknown");
    log_full(LOG_ERR, 0, &(struct log_context){ .plugin = p->file_name, .unlimited = true },
             "plugin quarantined: %s; sessions using it stop restarting until the file "
             "changes or 'ophostctl unquarantine %s'",
             f->reason ? f->reason : "", p->file_name);
    (void) d;
}

int daemon_unquarantine(struct daemon *d, const char *name) {
    size_t n;
    struct plugin *const *plugins = registry_plugins(d->registry, &n);

    for (size_t i = 0; i < n; i++) {
        struct plugin *p = plugins[i];
        if (!p->faults.quarantined ||
            (!streq(p->file_name, name) && !streq(p->desc->name, name) && !streq(p->path, name)))
            continue;
        free(p->faults.reason);
        free(p->faults.last);
        p->faults = (struct plugin_faults){ 0 };
        log_full(LOG_NOTICE, 0, &(struct log_context){ .plugin = p->file_name },
                 "quarantine lifted");
        retry_waiting(d);
        notify_status(d);
        return 0;
    }
    return -ENOENT;
}

static void ensure_logs_directory(const struct daemon_config *cfg);

/* -------------------------------------------------------------- reload */

static struct reload *reload_free(struct reload *rl) {
    if (!rl)
        return NULL;
    probe_free(rl->probe);
    metrics_server_free(rl->metrics);
    for (size_t i = 0; rl->plans && rl->pipelines && i < rl->pipelines->n_sessions; i++)
        plan_free(rl->plans[i]);
    free(rl->plans);
    free(rl->plan_rc);
    config_pipelines_free(rl->pipelines);
    daemon_config_free(rl->config);
    free(rl);
    return NULL;
}

static void requests_done(struct reload_request **list, int r, const struct errors *errs) {
    struct reload_request *q = *list;
    *list = NULL;
    while (q) {
        struct reload_request *next = q->next;
        if (q->done)
            q->done(r, errs && errs->n > 0 && errs->lines ? errs->lines[0] : NULL, errs,
                    q->userdata);
        free(q);
        q = next;
    }
}

static void reload_start(struct daemon *d);

/* A reload ended (swapped or rejected): report and run a queued one. */
static void reload_finish(struct daemon *d, int r, struct errors *errs) {
    struct reload_request *requests = d->reload ? d->reload->requests : NULL;

    if (d->reload)
        d->reload->requests = NULL;
    d->reload = reload_free(d->reload);
    if (r < 0)
        d->reloads_rejected++;
    else
        d->reloads_accepted++;
    if (r < 0) {
        log_lines(LOG_ERR, errs, "");
        log_error("reload failed (%zu errors), keeping the running configuration", errs->n);
        d->config_errors = errs->n > 0 ? errs->n : 1;
    }
    sd_notify(0, "READY=1");
    notify_status(d);
    requests_done(&requests, r, errs);
    if (d->reload_queue && !d->stopping)
        reload_start(d);
}

static void metrics_collect(struct expo_buf *out, void *userdata);

/* The reload changed metrics-listen: the server bound while preparing (or,
 * on the port the old one held, bound now) replaces the old one. A rebind
 * that fails (another process took the new address meanwhile) goes back to
 * the old address. */
static void metrics_swap(struct daemon *d, struct reload *rl) {
    _cleanup_free_ char *err = NULL, *old = NULL;
    int r;

    if (d->metrics) {
        old = strdup(metrics_server_listen(d->metrics));
        d->scrapes_before += metrics_server_scrapes(d->metrics);
    }
    d->metrics = metrics_server_free(d->metrics);
    d->metrics = TAKE_PTR(rl->metrics);
    if (!d->metrics && rl->metrics_rebind) {
        r = metrics_server_new(d->loop, d->config->metrics_listen, metrics_collect, d,
                               &d->metrics, &err);
        if (r < 0 && old) {
            _cleanup_free_ char *err2 = NULL;
            log_error("metrics-listen: %s; /metrics stays on %s", err ? err : strerror(-r), old);
            r = metrics_server_new(d->loop, old, metrics_collect, d, &d->metrics, &err2);
            if (r < 0)
                log_error("metrics-listen: %s; /metrics is off until a reload or restart",
                          err2 ? err2 : strerror(-r));
        }
    }
    if (d->metrics)
        log_info("metrics: serving /metrics on %s", metrics_server_listen(d->metrics));
    else if (!d->config->metrics_listen)
        log_info("metrics: /metrics is off (no metrics-listen)");
}

/* Whether two metrics-listen values name the same port. */
static bool same_port(const char *a, const char *b) {
    struct sockaddr_storage x, y;
    unsigned lx, ly;

    if (!a || !b || config_parse_listen(a, &x, &lx) < 0 || config_parse_listen(b, &y, &ly) < 0)
        return false;
    return (x.ss_family == AF_INET ? ((struct sockaddr_in *) &x)->sin_port
                                   : ((struct sockaddr_in6 *) &x)->sin6_port) ==
           (y.ss_family == AF_INET ? ((struct sockaddr_in *) &y)->sin_port
                                   : ((struct sockaddr_in6 *) &y)->sin6_port);
}

/* Prepares a change of metrics-listen: binds the new address now, so that
 * one that cannot be served rejects the reload. 0, or -errno with a line in
 * errs. */
static int metrics_prepare(struct daemon *d, struct reload *rl, struct errors *errs) {
    const char *want = rl->config->metrics_listen;
    _cleanup_free_ char *err = NULL;
    int r;

    if (streq_ptr(want, d->metrics ? metrics_server_listen(d->metrics) : NULL))
        return 0;
    rl->metrics_change = true;
    if (!want)
        return 0;
    r = metrics_server_new(d->loop, want, metrics_collect, d, &rl->metrics, &err);
    if (r == -EADDRINUSE && d->metrics && same_port(want, metrics_server_listen(d->metrics))) {
        rl->metrics_rebind = true; /* the old server holds the port until the swap */
        return 0;
    }
    if (r < 0)
        errors_add(errs, "%s%smetrics-listen: %s", rl->config->file ? rl->config->file : "",
                   rl->config->file ? ": " : "", err ? err : strerror(-r));
    return r;
}

static void reload_swap(struct daemon *d) {
    struct reload *rl = d->reload;
    struct config_pipelines *p = rl->pipelines;
    struct managed **next;
    size_t n_next = 0, n_kept = 0;

    next = calloc(p->n_sessions + 1, sizeof(*next));
    if (!next) {
        struct errors errs = { 0 };
        errors_add(&errs, "reload failed: %s", strerror(ENOMEM));
        registry_set_globals(d->registry, d->config->operators, d->config->n_operators);
        reload_finish(d, -ENOMEM, &errs);
        errors_clear(&errs);
        return;
    }
    /* Stop removed and changed sessions first, newest configuration last;
     * d->managed keeps the unchanged ones only. */
    for (size_t i = d->n_managed; i-- > 0;) {
        struct managed *m = d->managed[i];
        const struct config_session *cs = config_pipelines_find(p, m->name);
        struct managed **r;
        if (cs && config_session_equal(m->cfg, cs))
            continue;
        log_full(LOG_INFO, 0, &(struct log_context){ .session = m->name },
                 cs ? "changed, restarting" : "removed, stopping");
        d->managed[i] = NULL;
        m->restart_es = sd_event_source_disable_unref(m->restart_es);
        r = m->worker ? realloc(d->retired, (d->n_retired + 1) * sizeof(*r)) : NULL;
        if (!r) {
            managed_free(m, true); /* no worker, or no memory: it goes at once */
            continue;
        }
        /* Its worker stops (its undos run) while the rest goes on. */
        d->retired = r;
        d->retired[d->n_retired++] = m;
        m->retired = true;
        m->replaced = cs != NULL;
        m->cfg = NULL;
        waiters_call(&m->start_waiters, -ECANCELED, "the session was changed by a reload");
        worker_stop(m->worker);
    }
    for (size_t i = 0; i < d->n_managed; i++)
        if (d->managed[i])
            d->managed[n_kept++] = d->managed[i];
    d->n_managed = n_kept;
    for (size_t i = 0; i < p->n_sessions; i++) {
        const struct config_session *cs = &p->sessions[i];
        struct managed *m = find_managed(d, cs->name);
        if (m) {
            m->cfg = cs; /* unchanged: keeps running */
            next[n_next++] = m;
            continue;
        }
        m = managed_new(d, cs);
        if (!m) {
            log_error("cannot track session '%s': out of memory", cs->name);
            continue;
        }
        next[n_next++] = m;
        if (!cs->autostart)
            continue;
        if (rl->plan_rc[i] == -ENOENT)
            m->state = MANAGED_WAITING;
        else
            managed_run(m, TAKE_PTR(rl->plans[i]));
    }
    free(d->managed);
    d->managed = next;
    d->n_managed = n_next;
    config_pipelines_free(d->pipelines);
    d->pipelines = TAKE_PTR(rl->pipelines);
    daemon_config_free(d->config);
    d->config = TAKE_PTR(rl->config);
    d->env.cfg = d->config;
    ensure_logs_directory(d->config);
    registry_set_globals(d->registry, d->config->operators, d->config->n_operators);
    log_set_max_level(d->config->log_level);
    if (rl->metrics_change)
        metrics_swap(d, rl);
    log_info("reloaded: %zu sessions configured", d->n_managed);
    d->config_errors = 0;
    reload_finish(d, 0, NULL);
}

static void on_dry_runs(struct probe *probe, void *userdata) {
    struct daemon *d = userdata;
    struct reload *rl = d->reload;
    struct errors errs = { 0 };
    size_t k = 0;

    for (size_t i = 0; i < rl->pipelines->n_sessions; i++) {
        const struct errors *e;
        if (!rl->plans[i])
            continue;
        e = probe_errors(probe, k++);
        for (size_t l = 0; l < e->n; l++)
            (void) errors_add(&errs, "%s", e->lines[l]);
    }
    if (errs.n > 0) {
        registry_set_globals(d->registry, d->config->operators, d->config->n_operators);
        reload_finish(d, -EINVAL, &errs);
    } else
        reload_swap(d);
    errors_clear(&errs);
}

/* Reads the configuration again, plans what changed and starts the dry
 * runs; the swap (or the rejection) follows when they are done. */
static void reload_start(struct daemon *d) {
    _cleanup_free_ struct plan **checked = NULL;
    _cleanup_free_ const struct config_session **sessions = NULL;
    struct errors errs = { 0 };
    struct reload *rl;
    size_t n_checked = 0;
    bool bad = false;
    int r;

    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long) monotonic_usec());
    log_info("reloading");
    rl = calloc(1, sizeof(*rl));
    if (!rl) {
        errors_add(&errs, "reload failed: %s", strerror(ENOMEM));
        goto reject;
    }
    rl->requests = TAKE_PTR(d->reload_queue);
    d->reload = rl;

    r = load_config(&d->opt, &rl->config, &errs);
    if (r < 0)
        goto reject;
    if (!streq(rl->config->control_socket, d->config->control_socket))
        log_warning("control-socket changed to %s: takes effect at the next start, ignoring",
                    rl->config->control_socket);
    if (metrics_prepare(d, rl, &errs) < 0)
        goto reject;
    registry_set_globals(d->registry, rl->config->operators, rl->config->n_operators);
    (void) registry_check_globals(d->registry, &errs);
    r = config_load_pipelines(rl->config->pipeline_dir, false, &rl->pipelines, &errs);
    if (r < 0 || errs.n > 0)
        goto reject_globals;

    rl->plans = calloc(rl->pipelines->n_sessions + 1, sizeof(*rl->plans));
    rl->plan_rc = calloc(rl->pipelines->n_sessions + 1, sizeof(int));
    checked = calloc(rl->pipelines->n_sessions + 1, sizeof(*checked));
    sessions = calloc(rl->pipelines->n_sessions + 1, sizeof(*sessions));
    if (!rl->plans || !rl->plan_rc || !checked || !sessions) {
        errors_add(&errs, "reload failed: %s", strerror(ENOMEM));
        goto reject_globals;
    }
    for (size_t i = 0; i < rl->pipelines->n_sessions; i++) {
        const struct config_session *cs = &rl->pipelines->sessions[i];
        struct managed *old = find_managed(d, cs->name);
        struct plan_hooks hooks = supervisor_hooks(d->registry);
        struct errors missing = { 0 };
        if (old && config_session_equal(old->cfg, cs))
            continue;
        rl->plan_rc[i] = plan_build(d->registry, cs, &hooks, &rl->plans[i], &missing);
        if (rl->plan_rc[i] == -ENOENT) {
            /* Not an error of the files: the session waits for its plugin. */
            log_lines(LOG_WARNING, &missing, ", waiting for a plugin that provides it");
            errors_clear(&missing);
        } else if (rl->plan_rc[i] < 0) {
            errors_move(&errs, &missing);
            bad = true;
        } else {
            checked[n_checked] = rl->plans[i];
            sessions[n_checked++] = cs;
        }
    }
    if (bad)
        goto reject_globals;
    r = probe_check(d->loop, checked, sessions, n_checked, &d->env, on_dry_runs, d, &rl->probe);
    if (r < 0) {
        errors_add(&errs, "reload failed: cannot start the dry runs: %s", strerror(-r));
        goto reject_globals;
    }
    return;

reject_globals:
    registry_set_globals(d->registry, d->config->operators, d->config->n_operators);
reject:
    reload_finish(d, -EINVAL, &errs);
    errors_clear(&errs);
}

int daemon_reload(struct daemon *d, daemon_done_fn done, void *userdata) {
    struct reload_request *q = calloc(1, sizeof(*q)), **tail;

    if (!q)
        return -ENOMEM;
    q->done = done;
    q->userdata = userdata;
    for (tail = &d->reload_queue; *tail; tail = &(*tail)->next)
        ;
    *tail = q;
    if (!d->reload && d->started && !d->stopping)
        reload_start(d);
    return 0;
}

/* ------------------------------------------------------------- hot-plug */

static void rescan_plugins(struct daemon *d);

static void on_scan_done(struct probe *p, void *userdata) {
    struct daemon *d = userdata;
    struct errors refused = { 0 };
    size_t added;

    added = probe_apply_scan(p, d->registry, d->dirs, &refused, true);
    log_lines(LOG_WARNING, &refused, ", ignoring");
    errors_clear(&refused);
    d->scan = probe_free(d->scan);
    if (!d->started) {
        d->started = true;
        return; /* daemon_run continues the startup */
    }
    if (added > 0)
        retry_waiting(d);
    notify_status(d);
    if (d->rescan_again) {
        d->rescan_again = false;
        rescan_plugins(d);
    }
}

/* Brings the registry in line with the plugin directories: new files are
 * probed and load, changed files replace their plugin, removed files
 * unload. Running sessions keep the snapshot they run. */
static void rescan_plugins(struct daemon *d) {
    struct errors refused = { 0 };
    struct plugin_scan scan;
    int r;

    if (d->scan) {
        d->rescan_again = true;
        return;
    }
    r = plugin_dirs_scan(d->dirs, d->config->plugin_dirs, d->registry, &scan, &refused);
    if (r < 0) {
        log_error_errno(r, "plugin rescan failed: %m, ignoring");
        return;
    }
    log_lines(LOG_WARNING, &refused, ", ignoring");
    errors_clear(&refused);
    for (size_t i = 0; i < scan.n_gone; i++) {
        log_full(LOG_INFO, 0, &(struct log_context){ .plugin = scan.gone[i]->file_name },
                 "plugin removed or replaced, its operators leave the registry");
        registry_remove_plugin(d->registry, scan.gone[i]);
    }
    r = probe_scan(d->loop, scan.fresh, scan.n_fresh, d->config->log_level, on_scan_done, d,
                   &d->scan);
    if (r < 0)
        log_error_errno(r, "cannot start the plugin scanner: %m, new plugins are not loaded");
    plugin_scan_clear(&scan);
    notify_status(d);
}

static int on_rescan_timer(sd_event_source *es, uint64_t usec, void *userdata) {
    rescan_plugins(userdata);
    return 0;
}

static int on_inotify(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct daemon *d = userdata;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool relevant = false;
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *) (void *) p;
            if (ev->len > 0 && plugin_is_file_name(ev->name))
                relevant = true;
            if (ev->mask & IN_Q_OVERFLOW)
                relevant = true;
            p += sizeof(*ev) + ev->len;
        }
    if (!relevant)
        return 0;
    /* Debounce: one copy shows up as several events. */
    if (d->rescan_es) {
        if (sd_event_source_set_time_relative(d->rescan_es, PLUGIN_RESCAN_DELAY_USEC) >= 0)
            (void) sd_event_source_set_enabled(d->rescan_es, SD_EVENT_ONESHOT);
        return 0;
    }
    if (sd_event_add_time_relative(d->loop, &d->rescan_es, CLOCK_MONOTONIC,
                                   PLUGIN_RESCAN_DELAY_USEC, 1000, on_rescan_timer, d) < 0)
        log_warning("cannot schedule a plugin rescan: %m, ignoring");
    return 0;
}

static int watch_plugin_dirs(struct daemon *d) {
    d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (d->inotify_fd < 0)
        return -errno;
    for (size_t i = 0; d->config->plugin_dirs[i]; i++)
        if (inotify_add_watch(d->inotify_fd, d->config->plugin_dirs[i],
                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                  IN_ATTRIB | IN_ONLYDIR) < 0)
            log_warning("cannot watch plugin directory %s: %m, new plugins there need a restart",
                        d->config->plugin_dirs[i]);
    return sd_event_add_io(d->loop, NULL, d->inotify_fd, EPOLLIN, on_inotify, d);
}

/* ---------------------------------------------------------------- run */

static int on_sighup(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
    (void) daemon_reload(userdata, NULL, NULL);
    return 0;
}

/* Exits the loop once shutting down and no worker is left. */
static void maybe_exit(struct daemon *d) {
    if (!d->stopping)
        return;
    for (size_t i = 0; i < d->n_managed; i++)
        if (d->managed[i]->worker)
            return;
    if (d->n_retired > 0 || control_has_workers(d->control))
        return;
    (void) sd_event_exit(d->loop, 0);
}

static int on_sigterm(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
    struct daemon *d = userdata;

    if (d->stopping)
        return 0;
    log_info("received %s, stopping", strsignal((int) si->ssi_signo));
    sd_notify(0, "STOPPING=1");
    d->stopping = true;
    d->scan = probe_free(d->scan);
    if (d->reload) {
        struct errors errs = { 0 };
        errors_add(&errs, "the daemon is stopping");
        d->reload->probe = probe_free(d->reload->probe);
        registry_set_globals(d->registry, d->config->operators, d->config->n_operators);
        reload_finish(d, -ECANCELED, &errs);
        errors_clear(&errs);
    }
    /* Stop sessions in reverse order: the last started stops first. Each
     * worker's deadlines bound how long its undos may take. */
    for (size_t i = d->n_managed; i-- > 0;) {
        struct managed *m = d->managed[i];
        m->restart_es = sd_event_source_disable_unref(m->restart_es);
        if (m->state == MANAGED_BACKOFF || m->state == MANAGED_WAITING ||
            m->state == MANAGED_DEFERRED)
            m->state = MANAGED_IDLE;
        m->deferred = plan_free(m->deferred);
        if (m->worker)
            worker_stop(m->worker);
    }
    control_stop_workers(d->control);
    maybe_exit(d);
    return 0;
}

/* TEST ONLY, enabled by OPHOST_TEST_HOOKS=1 in the environment: SIGUSR2
 * hangs the main loop for 120 s, so a test can check that the systemd
 * watchdog kills and restarts a daemon whose main loop stopped answering.
 * Never set OPHOST_TEST_HOOKS in production. */
static int on_test_stall(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
    struct timespec left = { .tv_sec = 120 };
    log_warning("test hook: SIGUSR2, stalling the main loop for 120 s");
    while (nanosleep(&left, &left) < 0 && errno == EINTR)
        ;
    return 0;
}

static void daemon_free(struct daemon *d) {
    /* The control socket first: its pending calls must not be answered by
     * what is freed below. */
    d->control = control_free(d->control);
    d->metrics = metrics_server_free(d->metrics);
    for (size_t i = d->n_managed; i-- > 0;)
        managed_free(d->managed[i], false);
    free(d->managed);
    for (size_t i = 0; i < d->n_retired; i++)
        managed_free(d->retired[i], false);
    free(d->retired);
    d->reload = reload_free(d->reload);
    requests_done(&d->reload_queue, -ECANCELED, NULL);
    d->scan = probe_free(d->scan);
    sd_event_source_disable_unref(d->rescan_es);
    registry_free(d->registry);
    plugin_dirs_free(d->dirs);
    config_pipelines_free(d->pipelines);
    daemon_config_free(d->config);
    if (d->inotify_fd >= 0)
        close(d->inotify_fd);
    child_reap_orphans();
    sd_event_unref(d->loop);
}

/* Creates the logs directory (and its parents, 0755) when it is missing:
 * workers run there, so sinks' relative paths land in it. A failure is
 * logged; sessions writing relative paths then fail with the reason. */
static void ensure_logs_directory(const struct daemon_config *cfg) {
    const char *dir = cfg->logs_directory;
    char *p;

    if (!dir || access(dir, F_OK) == 0)
        return;
    p = strdup(dir);
    for (char *s = p ? p + 1 : NULL; s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            break;
        *s = '/';
    }
    if (!p || (mkdir(dir, 0755) < 0 && errno != EEXIST))
        log_warning("cannot create the logs directory %s (logs-directory): %m; sessions that "
                    "write to relative paths will fail", dir);
    else
        log_info("created the logs directory %s", dir);
    free(p);
}

/* After the first scan: the pipelines, the autostart sessions, READY=1
 * once they run (or failed). */
static int start_sessions(struct daemon *d) {
    struct errors errs = { 0 };
    int r;

    (void) registry_check_globals(d->registry, &errs);
    log_lines(LOG_ERR, &errs, "");
    errors_clear(&errs);
    ensure_logs_directory(d->config);

    /* Pipelines are all or nothing, as on reload: with an error in the
     * files the daemon runs no session until a reload brings valid ones.
     * A session whose plan fails (a missing or failing operator) is
     * reported and does not keep the others from starting. */
    r = config_load_pipelines(d->config->pipeline_dir, true, &d->pipelines, &errs);
    if (r < 0) {
        log_lines(LOG_ERR, &errs, "");
        log_error("no sessions started: fix the pipeline files and reload");
        d->config_errors = errs.n > 0 ? errs.n : 1;
        errors_clear(&errs);
        d->pipelines = calloc(1, sizeof(*d->pipelines));
        if (!d->pipelines)
            return -ENOMEM;
    } else if (access(d->config->pipeline_dir, F_OK) < 0 && errno == ENOENT) {
        /* At startup a missing directory is an empty one (a reload is
         * refused: a deleted directory must not stop every session). */
        log_warning("pipeline directory %s does not exist: no sessions configured",
                    d->config->pipeline_dir);
    }
    d->managed = calloc(d->pipelines->n_sessions + 1, sizeof(*d->managed));
    if (!d->managed)
        return -ENOMEM;
    for (size_t i = 0; i < d->pipelines->n_sessions; i++) {
        struct managed *m = managed_new(d, &d->pipelines->sessions[i]);
        if (!m)
            return -ENOMEM;
        d->managed[d->n_managed++] = m;
        m->autostart_pending = m->cfg->autostart || strv_contains(d->opt.start, m->cfg->name);
    }
    for (size_t i = 0; d->opt.start && d->opt.start[i]; i++)
        if (!find_managed(d, d->opt.start[i]))
            log_error("--start %s: no session of that name in %s", d->opt.start[i],
                      d->config->pipeline_dir);
    for (size_t i = 0; i < d->n_managed; i++)
        if (d->managed[i]->autostart_pending)
            managed_start(d->managed[i]);
    maybe_ready(d);
    return 0;
}

int daemon_run(const struct daemon_options *opt) {
    struct daemon d = { .opt = *opt, .inotify_fd = -1 };
    _cleanup_free_ char *cg = NULL;
    struct errors errs = { 0 };
    bool test_hooks = streq_ptr(getenv("OPHOST_TEST_HOOKS"), "1"); /* see on_test_stall */
    sigset_t mask;
    int r, status = 1;

    /* The signals go to the loop's signalfd. SIGCHLD stays at its default:
     * workers are reaped through their pidfds. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGPIPE);
    if (test_hooks)
        sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    (void) signal(SIGCHLD, SIG_DFL);
    /* Signals that mean nothing here must not kill the daemon (a stray
     * `kill -USR2`); a file size limit makes writes fail, not the process. */
    (void) signal(SIGUSR1, SIG_IGN);
    if (!test_hooks)
        (void) signal(SIGUSR2, SIG_IGN);
    (void) signal(SIGXFSZ, SIG_IGN);

    r = load_config(opt, &d.config, &errs);
    if (r < 0) {
        log_lines(LOG_ERR, &errs, "");
        log_error_errno(r, "cannot read the daemon configuration, exiting");
        status = DAEMON_EXIT_CONFIG;
        goto out;
    }
    log_set_max_level(d.config->log_level);
    d.env = (struct worker_env){ .cfg = d.config, .nofile = raise_nofile() };

    r = sd_event_new(&d.loop);
    if (r >= 0)
        r = sd_event_add_signal(d.loop, NULL, SIGTERM, on_sigterm, &d);
    if (r >= 0)
        r = sd_event_add_signal(d.loop, NULL, SIGINT, on_sigterm, &d);
    if (r >= 0)
        r = sd_event_add_signal(d.loop, NULL, SIGHUP, on_sighup, &d);
    if (r >= 0 && test_hooks)
        r = sd_event_add_signal(d.loop, NULL, SIGUSR2, on_test_stall, &d);
    if (r >= 0)
        r = sd_event_set_watchdog(d.loop, true);
    if (r < 0) {
        log_error_errno(r, "cannot set up the main loop: %m");
        goto out;
    }

    r = cgroup_setup("/sys/fs/cgroup", &cg);
    if (r > 0)
        log_info("limits: each session's worker runs in its own cgroup below %s",
                 cg ? cg : "the unit's");
    else
        log_info("limits: no delegated cgroup (%s%s): memory-max applies as RLIMIT_DATA, "
                 "cpu-weight as a nice value, tasks-max does not apply",
                 cg ? cg : "", r < 0 ? ", setting it up failed" : "");

    d.registry = registry_new();
    d.dirs = plugin_dirs_new(geteuid());
    if (!d.registry || !d.dirs)
        goto out;
    registry_set_globals(d.registry, d.config->operators, d.config->n_operators);
    /* Before any session: a daemon nobody can reach, or a second one on a
     * socket another daemon serves, must not run (it would duplicate every
     * session); systemd then shows the failure. */
    if (control_new(&d, d.loop, d.config, &d.control) < 0) {
        log_error("cannot serve the control socket %s, exiting", d.config->control_socket);
        status = DAEMON_EXIT_CONFIG;
        goto out;
    }
    if (d.config->metrics_listen) {
        _cleanup_free_ char *err = NULL;
        r = metrics_server_new(d.loop, d.config->metrics_listen, metrics_collect, &d, &d.metrics,
                               &err);
        if (r < 0) {
            log_error("metrics-listen: %s, exiting", err ? err : strerror(-r));
            status = DAEMON_EXIT_CONFIG;
            goto out;
        }
        log_info("metrics: serving /metrics on %s", d.config->metrics_listen);
    }
    r = watch_plugin_dirs(&d);
    if (r < 0)
        log_warning("cannot watch the plugin directories: %s, hot-plug disabled", strerror(-r));

    /* The first scan: the loop runs until the scanner answered. */
    rescan_plugins(&d);
    while (!d.started && !d.stopping) {
        if (!d.scan) { /* the scanner could not even start */
            d.started = true;
            break;
        }
        r = sd_event_run(d.loop, UINT64_MAX);
        if (r < 0) {
            log_error_errno(r, "main loop failed: %m");
            goto out;
        }
    }
    if (!d.stopping && start_sessions(&d) < 0) {
        log_error("out of memory");
        goto out;
    }
    if (d.stopping)
        maybe_exit(&d);
    r = sd_event_loop(d.loop);
    status = r < 0 ? 1 : 0;
out:
    errors_clear(&errs);
    daemon_free(&d);
    return status;
}

/* ------------------------------------------------ for the control socket */

void daemon_set_observer(struct daemon *d, const struct daemon_observer *obs, void *userdata) {
    d->obs = obs;
    d->obs_userdata = userdata;
}

struct registry *daemon_registry(struct daemon *d) {
    return d->registry;
}

struct plugin_dirs *daemon_plugin_dirs(struct daemon *d) {
    return d->dirs;
}

const struct daemon_config *daemon_get_config(struct daemon *d) {
    return d->config;
}

const struct worker_env *daemon_worker_env(struct daemon *d) {
    return &d->env;
}

sd_event *daemon_loop(struct daemon *d) {
    return d->loop;
}

void daemon_adhoc_changed(struct daemon *d) {
    notify_status(d);
    maybe_exit(d);
}

struct plan_hooks daemon_plan_hooks(struct daemon *d) {
    return supervisor_hooks(d->registry);
}

bool daemon_stopping(struct daemon *d) {
    return d->stopping;
}

static void session_info(struct managed *m, struct daemon_session_info *ret) {
    const char *state;

    if (m->worker)
        state = worker_state_name(worker_get_state(m->worker));
    else if (m->state == MANAGED_DEFERRED)
        state = "starting";
    else if (m->state == MANAGED_WAITING)
        state = "waiting";
    else if (m->state == MANAGED_BACKOFF)
        state = "restarting";
    else
        state = m->failed ? "failed" : "inactive";
    *ret = (struct daemon_session_info){
        .name = m->name,
        .cfg = m->cfg,
        .state = state,
        .worker = m->worker,
        .error = m->last_error,
        .restarts = m->restarts,
        .next_retry_usec = m->next_retry_usec,
    };
}

int daemon_session_at(struct daemon *d, size_t i, struct daemon_session_info *ret) {
    if (i >= d->n_managed)
        return -ERANGE;
    session_info(d->managed[i], ret);
    return 0;
}

int daemon_session_find(struct daemon *d, const char *name, struct daemon_session_info *ret) {
    struct managed *m = find_managed(d, name);
    if (!m)
        return -ENOENT;
    session_info(m, ret);
    return 0;
}

int daemon_start_session(struct daemon *d, const char *name, daemon_done_fn done,
                         void *userdata) {
    struct managed *m = find_managed(d, name);

    if (!m)
        return -ENOENT;
    if (d->stopping) {
        if (done)
            done(-ESHUTDOWN, "the daemon is stopping", NULL, userdata);
        return 0;
    }
    if (m->worker && worker_get_state(m->worker) == WORKER_RUNNING) {
        if (done)
            done(0, NULL, NULL, userdata);
        return 0;
    }
    if (waiter_add(&m->start_waiters, done, userdata) < 0)
        return -ENOMEM;
    if (m->worker || m->state == MANAGED_DEFERRED)
        return 0; /* starting, or stopping: the outcome of this run decides */
    m->restart_es = sd_event_source_disable_unref(m->restart_es);
    m->next_retry_usec = 0;
    m->backoff_nsec = 0;
    m->restarts = 0;
    managed_start(m);
    m->blocked = false; /* refused by hand: the caller was told, no retry later */
    notify_status(d);
    return 0;
}

int daemon_stop_session(struct daemon *d, const char *name, daemon_done_fn done,
                        void *userdata) {
    struct managed *m = find_managed(d, name);

    if (!m)
        return -ENOENT;
    m->restart_es = sd_event_source_disable_unref(m->restart_es);
    m->next_retry_usec = 0;
    m->deferred = plan_free(m->deferred);
    m->blocked = false; /* stopped by hand: not retried when a quarantine ends */
    if (m->state != MANAGED_RUNNING)
        m->state = MANAGED_IDLE;
    if (!m->worker) {
        notify_status(d);
        if (done)
            done(0, NULL, NULL, userdata);
        return 0;
    }
    if (waiter_add(&m->stop_waiters, done, userdata) < 0)
        return -ENOMEM;
    log_full(LOG_INFO, 0, &(struct log_context){ .session = m->name }, "stopping");
    worker_stop(m->worker);
    notify_status(d);
    return 0;
}

/* ------------------------------------------------------------ /metrics */

/* One scrape: the daemon's state as it is now (exporter.h). */
static void metrics_collect(struct expo_buf *out, void *userdata) {
    struct daemon *d = userdata;
    _cleanup_free_ struct exporter_session *sessions = calloc(d->n_managed + 1,
                                                              sizeof(*sessions));
    struct plugin *const *plugins;
    const struct refusal *refusals;
    struct control_counts cc = control_connection_counts(d->control);
    struct exporter_state st = {
        .n_sessions = d->n_managed,
        .reloads_accepted = d->reloads_accepted,
        .reloads_rejected = d->reloads_rejected,
        .control_open = cc.open,
        .control_accepted = cc.accepted,
        .control_refused = cc.refused,
        .scrapes = d->scrapes_before + metrics_server_scrapes(d->metrics),
    };
    size_t n;

    if (!sessions) {
        out->oom = true;
        return;
    }
    for (size_t i = 0; i < d->n_managed; i++) {
        struct managed *m = d->managed[i];
        struct daemon_session_info info;
        session_info(m, &info);
        sessions[i] = (struct exporter_session){
            .name = m->name,
            .state = info.state,
            .worker = m->worker,
            .totals = m->has_totals ? &m->totals : NULL,
            .restarts = m->restarts,
            .texts = m->texts,
            .n_texts = m->n_texts,
        };
    }
    st.sessions = sessions;
    plugins = registry_plugins(d->registry, &n);
    st.plugins_loaded = n;
    for (size_t i = 0; i < n; i++)
        st.plugins_quarantined += plugins[i]->faults.quarantined;
    refusals = plugin_dirs_refusals(d->dirs, &st.plugins_refused);
    (void) refusals;
    exporter_render(out, &st);
}

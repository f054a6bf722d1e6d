/*
 * daemon.c — the running ophostd. The main thread owns the configuration,
 * the registry and the list of configured sessions, and runs one sd-event
 * loop for signals (TERM/INT: stop, HUP: reload), session state changes,
 * restarts with backoff and the plugin directory watch. Sessions run on
 * their own threads (session.c).
 *
 * Reload is prepare-then-swap: the new daemon config and pipelines are read
 * and every session planned first; any error leaves everything as it was.
 * Then unchanged sessions keep running, changed ones restart, removed ones
 * stop and new ones start. Signals that arrive during a reload wait in the
 * signalfd and are handled after it (several HUPs coalesce into one).
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <sys/inotify.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "ctx.h"
#include "inspect.h"
#include "loader.h"
#include "log.h"
#include "plan.h"
#include "registry.h"
#include "session.h"

#define RESTART_DELAY_MAX_NSEC (300ULL * 1000000000ULL)
#define PLUGIN_RESCAN_DELAY_USEC (100 * 1000)

enum managed_state {
    MANAGED_IDLE,     /* not started (autostart off, or ended) */
    MANAGED_WAITING,  /* needs an operator no plugin provides yet */
    MANAGED_RUNNING,  /* a session exists */
    MANAGED_BACKOFF,  /* failed; restart scheduled */
};

struct daemon;

/* One configured session and what runs it. */
struct managed {
    struct daemon *d;
    char *name;
    const struct config_session *cfg; /* in d->pipelines */
    enum managed_state state;
    struct session *session;
    sd_event_source *notify_es;
    sd_event_source *restart_es;
    uint64_t backoff_nsec;
};

struct daemon {
    struct daemon_options opt;
    sd_event *loop;
    struct daemon_config *config;
    struct registry *registry;
    struct config_pipelines *pipelines;
    struct managed **managed; /* sorted by name, like pipelines */
    size_t n_managed;
    int inotify_fd;
    sd_event_source *rescan_es;
    struct control *control; /* NULL without a control socket */
    size_t config_errors; /* of the last reload (or startup) that failed; 0 after a good one */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct daemon_config *, daemon_config_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct config_pipelines *, config_pipelines_free)

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

/* Adds each plugin of found (NULL-terminated) that the registry does not
 * hold yet from the same path; the registry's refusals are appended to
 * refused. The running daemon logs each plugin it loads (log_loaded);
 * --check and --list don't. Returns how many were added. */
static size_t add_plugins(struct registry *reg, struct plugin *const *found,
                          struct errors *refused, bool log_loaded) {
    size_t n = 0;

    for (size_t i = 0; found && found[i]; i++) {
        struct plugin *p = found[i];
        char *err = NULL;
        if (registry_plugin_by_path(reg, p->path))
            continue; /* same file as before */
        if (registry_add_plugin(reg, p, &err) < 0) {
            errors_add(refused, "%s", err ? err : p->path);
            free(err);
            continue;
        }
        if (log_loaded)
            log_full(LOG_INFO, 0, &(struct log_context){ .plugin = p->file_name },
                     "plugin '%s' %s loaded, %zu operators", p->desc->name,
                     p->desc->version ? p->desc->version : "", p->n_operators);
        n++;
    }
    return n;
}

static void plugins_unref(struct plugin **plugins) {
    for (size_t i = 0; plugins && plugins[i]; i++)
        plugin_unref(plugins[i]);
    free(plugins);
}

/* Loads every plugin of the configured dirs into the registry. Refusals are
 * appended to refused. */
static int load_plugins(struct registry *reg, char *const *dirs, struct errors *refused,
                        bool log_loaded) {
    struct plugin **plugins = NULL;
    int r = loader_scan(dirs, host_table(), geteuid(), &plugins, refused);

    (void) add_plugins(reg, plugins, refused, log_loaded);
    plugins_unref(plugins);
    return r < 0 ? r : 0;
}

static void log_lines(int priority, const struct errors *e, const char *suffix) {
    /* A list of errors is bounded and every line matters: not rate limited. */
    for (size_t i = 0; e->lines && e->lines[i]; i++)
        log_full(priority, 0, &(struct log_context){ .unlimited = true }, "%s%s", e->lines[i],
                 suffix);
}

/* plan_build, then one dry instantiate (session_check_plan), for --check
 * and reload: a schema error (a field nobody provides) shows now, not when
 * the session starts. Problems are appended to errs. Returns 0 and
 * the plan in *ret, or plan_build's error, or -EINVAL if the dry run
 * failed. */
static int plan_checked(struct registry *reg, const struct config_session *cs, struct plan **ret,
                        struct errors *errs) {
    _cleanup_free_ char *err = NULL;
    struct plan *plan;
    int r;

    r = plan_build(reg, cs, &plan, errs);
    if (r < 0)
        return r;
    r = session_check_plan(plan, &err);
    if (r < 0) {
        char at[CONFIG_POS_PREFIX_MAX];
        errors_add(errs, "%ssession '%s': %s", config_pos_prefix(cs->pos, at), cs->name,
                   err ? err : strerror(-r));
        plan_free(plan);
        return -EINVAL;
    }
    *ret = plan;
    return 0;
}

/* ----------------------------------------------------- --check, --list */

int daemon_list_operators(const struct daemon_options *opt, bool json) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
    struct errors errs = { 0 }, refused = { 0 };
    struct registry *reg;
    int r;

    r = load_config(opt, &c, &errs);
    if (r < 0) {
        log_lines(LOG_ERR, &errs, "");
        errors_clear(&errs);
        return 1;
    }
    reg = registry_new();
    if (!reg)
        return 1;
    r = load_plugins(reg, c->plugin_dirs, &refused, false);
    if (r >= 0)
        r = inspect_list_operators(stdout, reg, &refused, json);
    registry_free(reg);
    errors_clear(&refused);
    return r < 0 ? 1 : 0;
}

int daemon_check(const struct daemon_options *opt, bool json) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
    _cleanup_(config_pipelines_freep) struct config_pipelines *p = NULL;
    _cleanup_free_ struct plan **plans = NULL;
    struct errors errs = { 0 };
    struct registry *reg = NULL;
    int r, status = 1;

    r = load_config(opt, &c, &errs);
    if (r < 0)
        goto out;
    reg = registry_new();
    if (!reg)
        goto out;
    registry_set_globals(reg, c->operators, c->n_operators);
    if (load_plugins(reg, c->plugin_dirs, &errs, false) < 0)
        goto out;
    (void) registry_check_globals(reg, &errs);
    if (config_load_pipelines(c->pipeline_dir, &p, &errs) < 0)
        goto out;
    plans = calloc(p->n_sessions + 1, sizeof(struct plan *));
    if (!plans)
        goto out;
    for (size_t i = 0; i < p->n_sessions; i++)
        (void) plan_checked(reg, &p->sessions[i], &plans[i], &errs);
    status = errs.n > 0 ? 1 : 0;

out:
    (void) inspect_check(stdout, stderr, plans, p ? p->n_sessions : 0, &errs, json);
    for (size_t i = 0; plans && p && i < p->n_sessions; i++)
        plan_free(plans[i]);
    registry_free(reg);
    errors_clear(&errs);
    return status;
}

/* ------------------------------------------------------------ sessions */

static void notify_status(struct daemon *d) {
    size_t running = 0, waiting = 0, failed = 0, n_plugins;
    (void) registry_plugins(d->registry, &n_plugins);
    for (size_t i = 0; i < d->n_managed; i++) {
        running += d->managed[i]->state == MANAGED_RUNNING;
        waiting += d->managed[i]->state == MANAGED_WAITING;
        failed += d->managed[i]->state == MANAGED_BACKOFF;
    }
    char rejected[80] = "";
    if (d->config_errors)
        snprintf(rejected, sizeof(rejected), ", last configuration rejected: %zu errors (see the log)",
                 d->config_errors);
    sd_notifyf(0, "STATUS=%zu plugins, %zu sessions running, %zu waiting, %zu restarting%s",
               n_plugins, running, waiting, failed, rejected);
}

/* Frees m's session once its thread has ended; watchers are told first. */
static struct session *managed_session_free(struct managed *m) {
    session_request_stop(m->session);
    (void) session_join(m->session);
    control_session_detach(m->d->control, m->session);
    return session_free(m->session);
}

static void managed_stop(struct managed *m) {
    m->notify_es = sd_event_source_disable_unref(m->notify_es);
    m->restart_es = sd_event_source_disable_unref(m->restart_es);
    if (m->session) {
        m->session = managed_session_free(m);
        log_full(LOG_INFO, 0, &(struct log_context){ .session = m->name }, "stopped");
    }
    m->state = MANAGED_IDLE;
}

static struct managed *managed_free(struct managed *m) {
    if (!m)
        return NULL;
    managed_stop(m);
    free(m->name);
    free(m);
    return NULL;
}

static int managed_start(struct managed *m, struct plan *plan);

static int on_restart_timer(sd_event_source *es, uint64_t usec, void *userdata) {
    struct managed *m = userdata;
    m->restart_es = sd_event_source_disable_unref(m->restart_es);
    (void) managed_start(m, NULL);
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
    log_full(LOG_NOTICE, 0, &lc, "restarting in %llu ms", (unsigned long long) (delay / 1000000));
}

static int on_session_notify(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct managed *m = userdata;
    struct log_context lc = { .session = m->name };
    enum session_state st;
    uint64_t v;
    int r;

    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return 0;
    if (!m->session)
        return 0;
    st = session_get_state(m->session);
    if (st != SESSION_STOPPED && st != SESSION_FAILED)
        return 0;

    r = session_join(m->session);
    if (st == SESSION_FAILED) {
        log_full(LOG_ERR, r, &lc, "failed: %s", session_error(m->session) ? session_error(m->session)
                                                                          : strerror(-r));
    } else {
        log_full(LOG_INFO, 0, &lc, "completed, %llu events",
                 (unsigned long long) session_events_emitted(m->session));
        m->backoff_nsec = 0;
    }
    m->notify_es = sd_event_source_disable_unref(m->notify_es);
    m->session = managed_session_free(m);
    m->state = MANAGED_IDLE;
    if (st == SESSION_FAILED && m->cfg->restart == CONFIG_RESTART_ON_FAILURE)
        schedule_restart(m);
    notify_status(m->d);
    return 0;
}

/* Starts m's session from plan (taken), or plans it now if plan is NULL.
 * A missing operator leaves m waiting for a plugin. */
static int managed_start(struct managed *m, struct plan *plan) {
    struct log_context lc = { .session = m->name };
    struct errors errs = { 0 };
    int r;

    if (!plan) {
        r = plan_build(m->d->registry, m->cfg, &plan, &errs);
        if (r < 0) {
            m->state = r == -ENOENT ? MANAGED_WAITING : MANAGED_IDLE;
            log_lines(r == -ENOENT ? LOG_WARNING : LOG_ERR, &errs,
                      r == -ENOENT ? ", waiting for a plugin that provides it" : "");
            errors_clear(&errs);
            return r;
        }
    }
    m->session = session_new(plan);
    if (!m->session)
        return log_full(LOG_ERR, -ENOMEM, &lc, "cannot create the session: %m");
    control_session_attach(m->d->control, m->session);
    r = sd_event_add_io(m->d->loop, &m->notify_es, session_notify_fd(m->session), EPOLLIN,
                        on_session_notify, m);
    if (r >= 0)
        r = session_start(m->session);
    if (r < 0) {
        m->notify_es = sd_event_source_disable_unref(m->notify_es);
        m->session = managed_session_free(m);
        m->state = MANAGED_IDLE;
        return log_full(LOG_ERR, r, &lc, "cannot start the session: %m");
    }
    m->state = MANAGED_RUNNING;
    /* Wait for the forward phases so READY=1 and reloads mean "running". A
     * failure is reported through the notify fd like any other end. */
    if (session_wait_started(m->session) >= 0)
        log_full(LOG_INFO, 0, &lc, "started");
    return 0;
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

static struct managed *find_managed(struct daemon *d, const char *name) {
    for (size_t i = 0; i < d->n_managed; i++)
        if (streq(d->managed[i]->name, name))
            return d->managed[i];
    return NULL;
}

/* Starts every waiting session whose operators may now exist. */
static void retry_waiting(struct daemon *d) {
    for (size_t i = 0; i < d->n_managed; i++)
        if (d->managed[i]->state == MANAGED_WAITING)
            (void) managed_start(d->managed[i], NULL);
}

/* -------------------------------------------------------------- reload */

static int reload(struct daemon *d, struct errors *ret_errors) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
    _cleanup_(config_pipelines_freep) struct config_pipelines *p = NULL;
    _cleanup_free_ struct plan **plans = NULL;
    _cleanup_free_ int *plan_rc = NULL;
    struct managed **next = NULL;
    struct errors errs = { 0 };
    size_t n_next = 0, n_kept = 0;
    bool bad = false;
    int r;

    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long) monotonic_usec());
    log_info("reloading");

    r = load_config(&d->opt, &c, &errs);
    if (r >= 0)
        r = config_load_pipelines(c->pipeline_dir, &p, &errs);
    if (r < 0)
        goto reject;

    /* The new globals apply to operators initialized from now on. */
    registry_set_globals(d->registry, c->operators, c->n_operators);
    if (registry_check_globals(d->registry, &errs) < 0)
        goto reject_globals;

    /* Plan every new or changed autostart session before touching anything. */
    plans = calloc(p->n_sessions + 1, sizeof(*plans));
    plan_rc = calloc(p->n_sessions + 1, sizeof(*plan_rc));
    if (!plans || !plan_rc) {
        r = -ENOMEM;
        goto reject_globals;
    }
    for (size_t i = 0; i < p->n_sessions; i++) {
        const struct config_session *cs = &p->sessions[i];
        struct managed *old = find_managed(d, cs->name);
        struct errors missing = { 0 };
        if (old && config_session_equal(old->cfg, cs))
            continue;
        plan_rc[i] = plan_checked(d->registry, cs, &plans[i], &missing);
        if (plan_rc[i] == -ENOENT) {
            /* Not an error of the files: the session waits for its plugin. */
            log_lines(LOG_WARNING, &missing, ", waiting for a plugin that provides it");
            errors_clear(&missing);
        } else if (plan_rc[i] < 0) {
            errors_move(&errs, &missing);
            bad = true;
        }
    }
    if (bad) {
        r = -EINVAL;
        goto reject_globals;
    }

    /* Swap. */
    next = calloc(p->n_sessions + 1, sizeof(*next));
    if (!next) {
        r = -ENOMEM;
        goto reject_globals;
    }
    /* Stop removed and changed sessions first, newest configuration last;
     * d->managed keeps the unchanged ones only. */
    for (size_t i = d->n_managed; i-- > 0;) {
        struct managed *m = d->managed[i];
        const struct config_session *cs = config_pipelines_find(p, m->name);
        if (!cs || !config_session_equal(m->cfg, cs)) {
            log_full(LOG_INFO, 0, &(struct log_context){ .session = m->name },
                     cs ? "changed, restarting" : "removed, stopping");
            d->managed[i] = managed_free(m);
        }
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
            plan_free(plans[i]);
            plans[i] = NULL;
            log_error("cannot track session '%s': out of memory", cs->name);
            continue;
        }
        next[n_next++] = m;
        if (!cs->autostart) {
            plans[i] = plan_free(plans[i]);
            continue;
        }
        if (plan_rc[i] == -ENOENT)
            m->state = MANAGED_WAITING;
        else
            (void) managed_start(m, TAKE_PTR(plans[i]));
    }
    free(d->managed);
    d->managed = next;
    d->n_managed = n_next;
    config_pipelines_free(d->pipelines);
    d->pipelines = TAKE_PTR(p);
    daemon_config_free(d->config);
    d->config = TAKE_PTR(c);
    log_set_max_level(d->config->log_level);
    log_info("reloaded: %zu sessions configured", d->n_managed);
    d->config_errors = 0;
    sd_notify(0, "READY=1");
    notify_status(d);
    return 0;

reject_globals:
    registry_set_globals(d->registry, d->config->operators, d->config->n_operators);
reject:
    for (size_t i = 0; plans && p && i < p->n_sessions; i++)
        plan_free(plans[i]);
    log_lines(LOG_ERR, &errs, "");
    log_error("reload failed (%zu errors), keeping the running configuration", errs.n);
    d->config_errors = errs.n > 0 ? errs.n : 1;
    if (ret_errors)
        errors_move(ret_errors, &errs);
    errors_clear(&errs);
    sd_notify(0, "READY=1");
    notify_status(d);
    return r;
}

/* ------------------------------------------------------------- hot-plug */

/* Brings the registry in line with the plugin directories: new files load,
 * replaced files (new inode) replace their plugin, removed files unload. */
static void rescan_plugins(struct daemon *d) {
    struct plugin **found = NULL;
    struct errors refused = { 0 }, conflicts = { 0 };
    size_t n_plugins;
    bool changed = false;
    int r;

    r = loader_scan(d->config->plugin_dirs, host_table(), geteuid(), &found, &refused);
    if (r < 0) {
        log_error_errno(r, "plugin rescan failed: %m, ignoring");
        goto out;
    }
    /* Unload plugins whose file went away or was replaced. */
    for (;;) {
        struct plugin *const *loaded = registry_plugins(d->registry, &n_plugins);
        struct plugin *gone = NULL;
        for (size_t i = 0; i < n_plugins && !gone; i++) {
            bool present = false;
            for (size_t k = 0; found && found[k]; k++)
                if (streq(found[k]->path, loaded[i]->path) && found[k]->dev == loaded[i]->dev &&
                    found[k]->ino == loaded[i]->ino)
                    present = true;
            if (!present)
                gone = loaded[i];
        }
        if (!gone)
            break;
        log_full(LOG_INFO, 0, &(struct log_context){ .plugin = gone->file_name },
                 "plugin removed or replaced, its operators leave the registry");
        registry_remove_plugin(d->registry, gone);
        changed = true;
    }
    if (add_plugins(d->registry, found, &conflicts, true) > 0)
        changed = true;
    log_lines(LOG_WARNING, &conflicts, ", ignoring");
    for (size_t i = 0; refused.lines && refused.lines[i]; i++)
        log_debug("%s", refused.lines[i]);
    if (changed)
        retry_waiting(d);
out:
    plugins_unref(found);
    errors_clear(&refused);
    errors_clear(&conflicts);
    notify_status(d);
}

static int on_rescan_timer(sd_event_source *es, uint64_t usec, void *userdata) {
    struct daemon *d = userdata;
    rescan_plugins(d);
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
            if (ev->len > 0 && loader_is_plugin_name(ev->name))
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
    (void) reload(userdata, NULL);
    return 0;
}

static int on_sigterm(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
    struct daemon *d = userdata;
    log_info("received %s, stopping", strsignal((int) si->ssi_signo));
    sd_notify(0, "STOPPING=1");
    return sd_event_exit(d->loop, 0);
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
    /* Stop sessions in reverse order: the last started stops first. */
    for (size_t i = d->n_managed; i-- > 0;)
        managed_free(d->managed[i]);
    free(d->managed);
    d->control = control_free(d->control); /* after the sessions it watches */
    sd_event_source_disable_unref(d->rescan_es);
    registry_free(d->registry);
    config_pipelines_free(d->pipelines);
    daemon_config_free(d->config);
    if (d->inotify_fd >= 0)
        close(d->inotify_fd);
    sd_event_unref(d->loop);
}

int daemon_run(const struct daemon_options *opt) {
    struct daemon d = { .opt = *opt, .inotify_fd = -1 };
    struct errors errs = { 0 };
    bool test_hooks = streq_ptr(getenv("OPHOST_TEST_HOOKS"), "1"); /* see on_test_stall */
    sigset_t mask;
    int r, status = 1;

    /* Block the signals before any session thread exists, so only the
     * main loop's signalfd receives them. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGPIPE);
    if (test_hooks)
        sigaddset(&mask, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    r = load_config(opt, &d.config, &errs);
    if (r < 0) {
        log_lines(LOG_ERR, &errs, "");
        log_error_errno(r, "cannot read the daemon configuration, exiting");
        goto out;
    }
    log_set_max_level(d.config->log_level);

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

    d.registry = registry_new();
    if (!d.registry)
        goto out;
    registry_set_globals(d.registry, d.config->operators, d.config->n_operators);
    r = load_plugins(d.registry, d.config->plugin_dirs, &errs, true);
    if (r < 0)
        goto out;
    log_lines(LOG_WARNING, &errs, ", ignoring");
    errors_clear(&errs);
    (void) registry_check_globals(d.registry, &errs);
    log_lines(LOG_ERR, &errs, "");
    errors_clear(&errs);
    if (control_new(&d, d.loop, d.config, &d.control) < 0)
        log_error("running without a control socket: ophostctl cannot reach this daemon");
    r = watch_plugin_dirs(&d);
    if (r < 0)
        log_warning("cannot watch the plugin directories: %s, hot-plug disabled", strerror(-r));

    /* Pipelines are all or nothing, as on reload: with an error in the
     * files the daemon runs no session until a reload brings valid ones.
     * A session whose plan fails (a missing or failing operator) is
     * reported and does not keep the others from starting. */
    r = config_load_pipelines(d.config->pipeline_dir, &d.pipelines, &errs);
    if (r < 0) {
        log_lines(LOG_ERR, &errs, "");
        log_error("no sessions started: fix the pipeline files and reload");
        d.config_errors = errs.n > 0 ? errs.n : 1;
        errors_clear(&errs);
        d.pipelines = calloc(1, sizeof(*d.pipelines));
        if (!d.pipelines)
            goto out;
    }
    d.managed = calloc(d.pipelines->n_sessions + 1, sizeof(*d.managed));
    if (!d.managed)
        goto out;
    for (size_t i = 0; i < d.pipelines->n_sessions; i++) {
        struct managed *m = managed_new(&d, &d.pipelines->sessions[i]);
        if (!m)
            goto out;
        d.managed[d.n_managed++] = m;
        if (m->cfg->autostart)
            (void) managed_start(m, NULL);
    }

    log_info("ready: %zu sessions configured", d.n_managed);
    sd_notify(0, "READY=1");
    notify_status(&d);
    r = sd_event_loop(d.loop);
    status = r < 0 ? 1 : 0;
out:
    errors_clear(&errs);
    daemon_free(&d);
    return status;
}

/* ------------------------------------------------ for the control socket */

struct registry *daemon_registry(struct daemon *d) {
    return d->registry;
}

const struct daemon_config *daemon_get_config(struct daemon *d) {
    return d->config;
}

size_t daemon_n_sessions(struct daemon *d) {
    return d->n_managed;
}

static void session_info(struct managed *m, struct daemon_session_info *ret) {
    static const char *const names[] = {
        [MANAGED_IDLE] = "inactive", [MANAGED_WAITING] = "waiting",
        [MANAGED_RUNNING] = "running", [MANAGED_BACKOFF] = "restarting",
    };
    *ret = (struct daemon_session_info){
        .name = m->name,
        .cfg = m->cfg,
        .state = m->session ? session_state_name(session_get_state(m->session)) : names[m->state],
        .session = m->session,
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

int daemon_start_session(struct daemon *d, const char *name, char **ret_error) {
    struct managed *m = find_managed(d, name);
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    int r;

    if (!m)
        return -ENOENT;
    if (m->session)
        return 0;
    m->restart_es = sd_event_source_disable_unref(m->restart_es);
    m->backoff_nsec = 0;
    r = plan_build(d->registry, m->cfg, &plan, &errs);
    if (r < 0) {
        if (ret_error)
            *ret_error = errs.n > 0 && errs.lines ? strdup(errs.lines[0]) : NULL;
        errors_clear(&errs);
        m->state = r == -ENOENT ? MANAGED_WAITING : MANAGED_IDLE;
        notify_status(d);
        return r;
    }
    r = managed_start(m, plan);
    if (r >= 0 && m->session && session_get_state(m->session) == SESSION_FAILED) {
        r = session_join(m->session);
        if (ret_error && session_error(m->session))
            *ret_error = strdup(session_error(m->session));
        if (r >= 0)
            r = -EIO;
    } else if (r < 0 && ret_error) {
        *ret_error = strprintf("cannot start the session: %s", strerror(-r));
    }
    notify_status(d);
    return r;
}

int daemon_stop_session(struct daemon *d, const char *name) {
    struct managed *m = find_managed(d, name);
    if (!m)
        return -ENOENT;
    managed_stop(m);
    notify_status(d);
    return 0;
}

int daemon_reload(struct daemon *d, struct errors *ret_errors) {
    return reload(d, ret_errors);
}

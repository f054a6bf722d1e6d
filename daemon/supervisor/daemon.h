/*
 * daemon.h — ophostd's supervisor as a whole: configuration, the plugin
 * directories and registry (metadata), the configured sessions and their
 * workers, restarts, quarantine, reload and the main sd-event loop.
 *
 * Nothing here waits for plugin code: scans, dry runs, starts and stops are
 * jobs of children whose outcome arrives on the loop, and callers that need
 * the outcome (ophostctl start/stop/reload, READY=1) get a callback.
 */
#ifndef OPHOST_DAEMON_DAEMON_H
#define OPHOST_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "plan.h"

struct daemon_options {
    const char *config_path;   /* NULL = the default path */
    bool config_must_exist;    /* true when given with --config */
    char **plugin_dirs;        /* overrides the config; NULL = use it */
    const char *pipeline_dir;  /* overrides the config; NULL = use it */
    int log_level;             /* overrides the config; -1 = use it */
    char **start;              /* sessions started at startup whatever their autostart */
};

struct daemon;
struct worker;
struct plugin;
struct registry;
struct plugin_dirs;
struct config_session;
struct daemon_config;
struct worker_env;

/* Each returns the process exit status. */
/* The exit status of a daemon that cannot run as configured (unreadable
 * configuration, control socket it cannot serve): restarting would not
 * help, so the unit lists it in RestartPreventExitStatus= (EX_CONFIG). */
#define DAEMON_EXIT_CONFIG 78

/* Runs the daemon until SIGTERM: 0 after a clean stop, DAEMON_EXIT_CONFIG,
 * or 1. */
int daemon_run(const struct daemon_options *opt);
int daemon_check(const struct daemon_options *opt, bool json);
int daemon_list_operators(const struct daemon_options *opt, bool json);
/* --check-plugin FILE: inspect_check_plugin against the plugin directories
 * the daemon would use (opt->plugin_dirs, else the config's). Returns the
 * exit status: 0 loadable, 1 refused, or loadable with warnings when
 * strict. */
int daemon_check_plugin(const struct daemon_options *opt, const char *path, bool json,
                        bool strict);

/* ---- The running daemon, for the control socket (main thread only). ---- */

/* What the control socket sees of a configured session; valid until the next
 * change of the daemon's state. */
struct daemon_session_info {
    const char *name;
    const struct config_session *cfg;
    /* "inactive", "waiting", "restarting", "starting", "running",
     * "stopping", "stopped", "failed" */
    const char *state;
    struct worker *worker;       /* NULL unless a worker exists */
    const char *error;           /* why it failed last, or NULL */
    unsigned restarts;           /* restarts since it was last started by hand */
    uint64_t next_retry_usec;    /* CLOCK_MONOTONIC of the next restart, 0 = none */
};

/* Notified of the workers of configured sessions (the control socket's
 * watchers). */
struct daemon_observer {
    void (*worker_started)(struct worker *w, void *userdata);
    /* Events of a worker for its watchers (see worker_ops.events). */
    void (*worker_events)(struct worker *w, const char *data, size_t len, uint64_t dropped,
                          void *userdata);
    /* The worker ended and is about to be freed. */
    void (*worker_ended)(struct worker *w, void *userdata);
};

void daemon_set_observer(struct daemon *d, const struct daemon_observer *obs, void *userdata);

struct registry *daemon_registry(struct daemon *d);
struct plugin_dirs *daemon_plugin_dirs(struct daemon *d);
const struct daemon_config *daemon_get_config(struct daemon *d);
const struct worker_env *daemon_worker_env(struct daemon *d);
struct sd_event *daemon_loop(struct daemon *d);

/* The i-th configured session (by name); -ERANGE past the last. */
int daemon_session_at(struct daemon *d, size_t i, struct daemon_session_info *ret);
/* -ENOENT if no session of that name is configured. */
int daemon_session_find(struct daemon *d, const char *name, struct daemon_session_info *ret);

/*
 * Called once the outcome of a start, stop or reload is known: r = 0 and
 * error NULL on success, else a negative errno and the reason (for reload:
 * every error line in errs). Not called if the daemon exits first.
 */
typedef void (*daemon_done_fn)(int r, const char *error, const struct errors *errs,
                               void *userdata);

/*
 * Starts a configured session (also one without autostart, waiting, or
 * failed). done reports when it runs (or completed) or failed. -ENOENT:
 * unknown name (done is not called).
 */
int daemon_start_session(struct daemon *d, const char *name, daemon_done_fn done,
                         void *userdata);
/* Stops a configured session; done reports when its worker is gone. -ENOENT
 * unknown (done is not called). */
int daemon_stop_session(struct daemon *d, const char *name, daemon_done_fn done,
                        void *userdata);
/* Reloads like SIGHUP; done reports the outcome. */
int daemon_reload(struct daemon *d, daemon_done_fn done, void *userdata);

/* Counts a crash, hang or unexpected exit of w against the plugin to
 * blame, quarantining it on the third within 10 minutes. Ad-hoc sessions
 * report theirs too. */
void daemon_record_fault(struct daemon *d, struct worker *w);
/* Lifts the quarantine of the plugin named name (plugin or file name);
 * -ENOENT if no such plugin is quarantined. */
int daemon_unquarantine(struct daemon *d, const char *name);

/* The plan hooks of the supervisor (global params valid, plugin not
 * quarantined), for plans of ad-hoc sessions. */
struct plan_hooks daemon_plan_hooks(struct daemon *d);

/* An ad-hoc session came or went: the status text changes, and a shutdown
 * may have waited for its worker. */
void daemon_adhoc_changed(struct daemon *d);

/* Whether the daemon is shutting down (no new sessions). */
bool daemon_stopping(struct daemon *d);

#endif

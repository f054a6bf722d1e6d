/*
 * daemon.h — ophostd as a whole: configuration, plugins, the configured
 * sessions and the main sd-event loop (signals, session supervision, plugin
 * hot-plug, reload).
 */
#ifndef OPHOST_DAEMON_DAEMON_H
#define OPHOST_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct daemon_options {
    const char *config_path;   /* NULL = the default path */
    bool config_must_exist;    /* true when given with --config */
    char **plugin_dirs;        /* overrides the config; NULL = use it */
    const char *pipeline_dir;  /* overrides the config; NULL = use it */
    int log_level;             /* overrides the config; -1 = use it */
};

struct daemon;
struct errors;

/* Each returns the process exit status. */
int daemon_run(const struct daemon_options *opt);
int daemon_check(const struct daemon_options *opt, bool json);
int daemon_list_operators(const struct daemon_options *opt, bool json);

/* ---- The running daemon, for the control socket (main thread only). ---- */

/* What the control socket sees of a configured session; valid until the next
 * change of the daemon's state (start, stop, reload). */
struct daemon_session_info {
    const char *name;
    const struct config_session *cfg;
    const char *state;       /* "inactive", "waiting", "restarting", or the session's state */
    struct session *session; /* NULL unless it runs */
};

struct registry *daemon_registry(struct daemon *d);
const struct daemon_config *daemon_get_config(struct daemon *d);
size_t daemon_n_sessions(struct daemon *d);
/* The i-th configured session (by name); -ERANGE past the last. */
int daemon_session_at(struct daemon *d, size_t i, struct daemon_session_info *ret);
/* -ENOENT if no session of that name is configured. */
int daemon_session_find(struct daemon *d, const char *name, struct daemon_session_info *ret);
/*
 * Starts a configured session now (also one without autostart, or waiting
 * for a restart). 0 if it runs (or already ran); -ENOENT unknown name; other
 * negative errno with a malloc'd reason in *ret_error (may stay NULL).
 */
int daemon_start_session(struct daemon *d, const char *name, char **ret_error);
/* Stops a configured session (and any pending restart); -ENOENT unknown. */
int daemon_stop_session(struct daemon *d, const char *name);
/* Reloads like SIGHUP; on failure the error lines are appended to
 * ret_errors (may be NULL). */
int daemon_reload(struct daemon *d, struct errors *ret_errors);

#endif

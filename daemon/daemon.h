/*
 * daemon.h — ophostd as a whole: configuration, plugins, the configured
 * sessions and the main sd-event loop (signals, session supervision, plugin
 * hot-plug, reload).
 */
#ifndef OPHOST_DAEMON_DAEMON_H
#define OPHOST_DAEMON_DAEMON_H

#include <stdbool.h>

struct daemon_options {
    const char *config_path;   /* NULL = the default path */
    bool config_must_exist;    /* true when given with --config */
    char **plugin_dirs;        /* overrides the config; NULL = use it */
    const char *pipeline_dir;  /* overrides the config; NULL = use it */
    int log_level;             /* overrides the config; -1 = use it */
};

/* Each returns the process exit status. */
int daemon_run(const struct daemon_options *opt);
int daemon_check(const struct daemon_options *opt, bool json);
int daemon_list_operators(const struct daemon_options *opt, bool json);

#endif

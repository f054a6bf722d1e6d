/*
 * inspect.h — the read-only commands of ophostd: --list-operators,
 * --check and --check-plugin, as text for people or JSON for scripts (json-c).
 */
#ifndef OPHOST_DAEMON_INSPECT_H
#define OPHOST_DAEMON_INSPECT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "errors.h"
#include "plan.h"
#include "registry.h"

/* An operator as --list-operators --json and the control socket's
 * ListOperators show it: name, kind, plugin, priority, dependencies and
 * params with their defaults and limits. The caller owns the object. */
json_object *inspect_operator_json(const struct ophost_operator *op, const struct plugin *p);

/* Prints every operator with its plugin, version, priority, dependencies and
 * params (with defaults), then every refused plugin with its reason. */
int inspect_list_operators(FILE *out, const struct registry *r, const struct errors *refused,
                           bool json);

/* Prints each session's resolved order (plans[i] may be NULL for an invalid
 * session) and, in JSON, the errors; in text the errors go to err. */
int inspect_check(FILE *out, FILE *err, struct plan *const *plans, size_t n_plans,
                  const struct errors *errors, bool json);

/* What --check-plugin checks and against what. */
struct inspect_check_plugin_options {
    const char *path;            /* the plugin file */
    bool json;
    /* The directories the daemon would load plugins from: an operator name
     * a plugin there provides (other than one of the same file name, which
     * installing path would replace) is a warning. NULL: none. */
    char *const *plugin_dirs;
    bool dirs_explicit;          /* given by the user: unusable ones are warned about */
    int log_level;               /* the scanners' */
};

/*
 * --check-plugin: loads the file with every check of the daemon's loader
 * (file owner/mode/symlink, dlopen, entry, ABI, descriptor, names, params)
 * as the current user would, in a scanner child (the plugin's entry
 * function runs there, never here), and prints what it provides or why it
 * is refused. Warnings (stderr "warning: ...", or the JSON "warnings") for
 * what loads but is likely wrong: the directory or the file name, structs
 * larger than this host's, symbols exported besides the entry, operator
 * names another plugin in plugin_dirs provides. Returns the number of
 * warnings (>= 0) if the plugin is loadable, else the loader's negative
 * errno.
 */
int inspect_check_plugin(FILE *out, FILE *err, const struct inspect_check_plugin_options *o);

#endif

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

/*
 * --check-plugin: loads the file at path with every check of the daemon's
 * loader (file owner/mode/symlink, dlopen, entry, ABI, descriptor, names,
 * params) as the current user would, and prints what it provides or why it
 * is refused. The directory check and the file name are only warnings. Runs
 * the plugin's entry function (the plugin's code). Returns 0 if loadable,
 * else the loader's negative errno.
 */
int inspect_check_plugin(FILE *out, FILE *err, const char *path, bool json);

#endif

/*
 * inspect.h — the read-only commands of ophostd: --list-operators and
 * --check, as text for people or JSON for scripts (json-c).
 */
#ifndef OPHOST_DAEMON_INSPECT_H
#define OPHOST_DAEMON_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

#include "errors.h"
#include "plan.h"
#include "registry.h"

/* Prints every operator with its plugin, version, priority, dependencies and
 * params (with defaults), then every refused plugin with its reason. */
int inspect_list_operators(FILE *out, const struct registry *r, const struct errors *refused,
                           bool json);

/* Prints each session's resolved order (plans[i] may be NULL for an invalid
 * session) and, in JSON, the errors; in text the errors go to err. */
int inspect_check(FILE *out, FILE *err, struct plan *const *plans, size_t n_plans,
                  const struct errors *errors, bool json);

#endif

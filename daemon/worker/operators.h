/*
 * operators.h — the global lifecycle of operators in a process that runs
 * plugin code: init (once per process, on first use, with the operator's
 * global params), can_operate_on, and close (in reverse init order, when the
 * process is done with its session). A failed init is remembered and
 * reported on every later use in the process.
 */
#ifndef OPHOST_DAEMON_OPERATORS_H
#define OPHOST_DAEMON_OPERATORS_H

#include "plan.h"
#include "registry.h"

/*
 * Makes e usable: on the first call validates its global params and runs
 * init (published as CALL_INIT of e->call_index); later calls return the
 * remembered result. Returns 0, or the init failure (negative errno) with a
 * malloc'd message in *ret_error such as "operator 'x': init failed: reason".
 */
int operator_init(struct registry *r, struct operator_entry *e, char **ret_error);

/* Whether e (initialized) operates on sessions of gadget: its
 * can_operate_on, or true without one. */
bool operator_accepts(struct operator_entry *e, const char *gadget);

/* Closes every initialized operator of r, in reverse init order; failures
 * are logged and the others still close. */
void operators_close(struct registry *r);

/* Plan hooks that init every operator a plan needs and ask can_operate_on
 * (plan_build in a worker), for operators of r. */
struct plan_hooks operators_plan_hooks(struct registry *r);

#endif

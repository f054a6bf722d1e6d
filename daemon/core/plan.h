/*
 * plan.h — a session plan: the gadget, the operators a pipeline names and
 * everything they depend on (transitively), each with validated instance
 * params, in the order the sorter gives. The gadget always comes first: every
 * other operator implicitly depends on it.
 */
#ifndef OPHOST_DAEMON_PLAN_H
#define OPHOST_DAEMON_PLAN_H

#include "config.h"
#include "errors.h"
#include "registry.h"

struct plan_step {
    struct operator_entry *entry; /* a reference */
    struct params *params;        /* instance params, validated */
};

struct plan {
    char *name;
    char *gadget;
    struct plan_step *steps; /* steps[0] is the gadget */
    size_t n_steps;
    uint64_t duration_nsec;
};

/*
 * Builds the plan of cs against r. Operators needed by the plan are
 * initialized (registry_init_operator) because can_operate_on needs them.
 * Every problem is appended to errs as "FILE:LINE:COL: session 'x': ...".
 * Returns 0 and the plan in *ret; -ENOENT when the only problems are
 * operators that are not available (the session can wait for a plugin);
 * -EINVAL for any other problem; -ENOMEM.
 */
int plan_build(struct registry *r, const struct config_session *cs, struct plan **ret,
               struct errors *errs);
struct plan *plan_free(struct plan *p);

#endif

/*
 * plan.h — a session plan: the gadget, the operators a pipeline names and
 * everything they depend on (transitively), each with validated instance
 * params, in the order the sorter gives. The gadget always comes first: every
 * other operator implicitly depends on it.
 *
 * The supervisor plans on metadata; a worker plans the same session again on
 * the plugins it loaded, and its hooks run init and can_operate_on.
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

/* What a planner checks of each operator the plan needs, once it is known
 * that every one exists. Both may be NULL. */
struct plan_hooks {
    /* Makes e usable (a worker runs init; the supervisor checks the global
     * params and quarantine). 0, or a negative errno with a malloc'd reason
     * such as "operator 'x': init failed: ..." in *ret_error. */
    int (*prepare)(void *userdata, struct operator_entry *e, char **ret_error);
    /* Whether e (never the gadget) works on sessions of gadget. */
    bool (*accepts)(void *userdata, struct operator_entry *e, const char *gadget);
    void *userdata;
};

/*
 * Builds the plan of cs against r. Every problem is appended to errs as
 * "FILE:LINE:COL: session 'x': ...". Returns 0 and the plan in *ret;
 * -ENOENT when the only problems are operators that are not available (the
 * session can wait for a plugin); -EINVAL for any other problem; -ENOMEM.
 */
int plan_build(struct registry *r, const struct config_session *cs,
               const struct plan_hooks *hooks, struct plan **ret, struct errors *errs);
struct plan *plan_free(struct plan *p);

#endif

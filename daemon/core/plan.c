/* plan.c — from a pipeline's session definition to an ordered, validated
 * list of operators (see plan.h). */
#include "plan.h"

#include <errno.h>

#include "hint.h"
#include "params.h"
#include "sort.h"

struct plan *plan_free(struct plan *p) {
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n_steps; i++) {
        params_free(p->steps[i].params);
        operator_entry_unref(p->steps[i].entry);
    }
    free(p->steps);
    free(p->name);
    free(p->gadget);
    free(p);
    return NULL;
}

/* A growing list of entries during closure computation. */
struct work {
    struct operator_entry **items;
    size_t n;
};

static bool work_has(const struct work *w, const struct operator_entry *e) {
    for (size_t i = 0; i < w->n; i++)
        if (w->items[i] == e)
            return true;
    return false;
}

static int work_add(struct work *w, struct operator_entry *e) {
    struct operator_entry **m = realloc(w->items, (w->n + 1) * sizeof(*m));
    if (!m)
        return -ENOMEM;
    m[w->n++] = e;
    w->items = m;
    return 0;
}

/* The "FILE:LINE:COL: " prefix of pos (empty for sessions from no file), in
 * a buffer that lives until the end of the enclosing statement's block. */
#define AT(pos) config_pos_prefix((pos), (char[CONFIG_POS_PREFIX_MAX]){ 0 })

static void add_unknown(struct errors *errs, const struct config_session *cs,
                        struct config_pos pos, const char *what, const char *name,
                        const char **names) {
    const char *hint = hint_closest(name, names);
    errors_add(errs, "%ssession '%s': unknown %s '%s'%s%s%s", AT(pos), cs->name, what,
               name, hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
}

static int build_params(const struct config_session *cs, struct operator_entry *e,
                        const struct config_operator *co, struct params **ret,
                        struct errors *errs) {
    struct params *p = params_new(e->op->instance_params);
    /* An operator the pipeline does not name was pulled in as a dependency:
     * its missing params are the session's problem. */
    struct config_pos pos = co ? co->pos : e->op->flags & OPHOST_OPERATOR_GADGET ? cs->gadget_pos
                                                                              : cs->pos;
    char *err = NULL;
    bool bad = false;

    if (!p)
        return -ENOMEM;
    for (size_t i = 0; co && i < co->n_params; i++) {
        const struct config_param *cp = &co->params[i];
        if (params_set(p, cp->key, cp->value, &err) < 0) {
            errors_add(errs, "%ssession '%s': operator '%s': %s", AT(cp->pos), cs->name,
                       e->op->name, err ? err : "out of memory");
            free(err);
            err = NULL;
            bad = true;
        }
    }
    if (!bad && params_check(p, &err) < 0) {
        errors_add(errs, "%ssession '%s': operator '%s': %s", AT(pos), cs->name,
                   e->op->name, err ? err : "out of memory");
        free(err);
        bad = true;
    }
    if (bad) {
        params_free(p);
        return -EINVAL;
    }
    *ret = p;
    return 0;
}

/* Orders w->items (gadget at 0) and fills the plan's steps. */
static int order_steps(const struct config_session *cs, struct work *w, struct plan *plan,
                       struct errors *errs) {
    _cleanup_free_ struct sort_node *nodes = calloc(w->n, sizeof(struct sort_node));
    _cleanup_free_ const char **deps = NULL;
    _cleanup_free_ size_t *order = NULL;
    _cleanup_free_ char *err = NULL;
    size_t n_deps = 0, at = 0;
    bool bad = false;
    int r;

    if (!nodes)
        return -ENOMEM;
    /* Each non-gadget node: its own dependencies plus the gadget. */
    for (size_t i = 1; i < w->n; i++)
        for (const char *const *d = w->items[i]->op->dependencies; d && *d; d++)
            n_deps++;
    deps = calloc(n_deps + 2 * w->n, sizeof(char *));
    if (!deps)
        return -ENOMEM;
    for (size_t i = 0; i < w->n; i++) {
        const struct ophost_operator *op = w->items[i]->op;
        nodes[i].name = op->name;
        nodes[i].priority = op->priority;
        nodes[i].deps = &deps[at];
        if (i == 0) {
            /* The gadget's own dependencies would have to run before it,
             * which cannot be: the sorter reports them as a cycle. */
            for (const char *const *d = op->dependencies; d && *d; d++)
                deps[at++] = *d;
        } else {
            for (const char *const *d = op->dependencies; d && *d; d++)
                deps[at++] = *d;
            deps[at++] = w->items[0]->op->name;
        }
        deps[at++] = NULL;
    }
    r = sort_nodes(nodes, w->n, &order, &err);
    if (r < 0) {
        if (r != -ENOMEM)
            errors_add(errs, "%ssession '%s': %s", AT(cs->pos), cs->name,
                       err ? err : strerror(-r));
        return r == -ENOENT ? -ENOENT : r == -ENOMEM ? r : -EINVAL;
    }
    plan->steps = calloc(w->n, sizeof(struct plan_step));
    if (!plan->steps)
        return -ENOMEM;
    /* Check every operator's params, so one run reports every problem. */
    for (size_t i = 0; i < w->n; i++) {
        struct operator_entry *e = w->items[order[i]];
        plan->steps[i].entry = operator_entry_ref(e);
        plan->n_steps++;
        r = build_params(cs, e, config_session_operator(cs, e->op->name), &plan->steps[i].params, errs);
        if (r == -ENOMEM)
            return r;
        if (r < 0)
            bad = true;
    }
    return bad ? -EINVAL : 0;
}

int plan_build(struct registry *r, const struct config_session *cs,
               const struct plan_hooks *hooks, struct plan **ret, struct errors *errs) {
    _cleanup_free_ const char **names = registry_names(r);
    struct work w = { 0 };
    struct plan *plan = NULL;
    struct operator_entry *g;
    bool missing = false, invalid = false;
    int k;

    if (!names)
        return -ENOMEM;

    g = registry_find(r, cs->gadget);
    if (!g) {
        add_unknown(errs, cs, cs->gadget_pos, "gadget", cs->gadget, names);
        missing = true;
    } else if (!(g->op->flags & OPHOST_OPERATOR_GADGET)) {
        errors_add(errs, "%ssession '%s': operator '%s' is not a gadget", AT(cs->gadget_pos),
                   cs->name, cs->gadget);
        invalid = true;
    } else if (work_add(&w, g) < 0)
        goto nomem;

    for (size_t i = 0; i < cs->n_operators; i++) {
        const struct config_operator *co = &cs->operators[i];
        struct operator_entry *e = registry_find(r, co->name);
        if (!e) {
            add_unknown(errs, cs, co->pos, "operator", co->name, names);
            missing = true;
        } else if (streq(co->name, cs->gadget)) {
            continue; /* the gadget's params */
        } else if (e->op->flags & OPHOST_OPERATOR_GADGET) {
            errors_add(errs, "%ssession '%s': operator '%s' is a gadget; a session has one gadget ('%s')",
                       AT(co->pos), cs->name, co->name, cs->gadget);
            invalid = true;
        } else if (!work_has(&w, e) && work_add(&w, e) < 0)
            goto nomem;
    }

    /* Pull in dependencies, breadth first; w grows while we walk it. */
    for (size_t i = 0; i < w.n && !missing && !invalid; i++) {
        const struct ophost_operator *op = w.items[i]->op;
        for (const char *const *d = op->dependencies; d && *d; d++) {
            struct operator_entry *e = registry_find(r, *d);
            if (!e) {
                errors_add(errs, "%ssession '%s': operator '%s' depends on '%s', which is not available",
                           AT(cs->pos), cs->name, op->name, *d);
                missing = true;
            } else if (!work_has(&w, e) && work_add(&w, e) < 0)
                goto nomem;
        }
    }

    /* Every operator must be usable and accept this gadget. */
    for (size_t i = 0; hooks && i < w.n && !missing && !invalid; i++) {
        struct operator_entry *e = w.items[i];
        char *err = NULL;
        k = hooks->prepare ? hooks->prepare(hooks->userdata, e, &err) : 0;
        if (k == -ENOMEM && !err)
            goto nomem;
        if (k < 0) {
            errors_add(errs, "%ssession '%s': %s", AT(cs->pos), cs->name,
                       err ? err : strerror(-k));
            free(err);
            invalid = true;
            continue;
        }
        if (i > 0 && hooks->accepts && !hooks->accepts(hooks->userdata, e, cs->gadget)) {
            const struct config_operator *co = config_session_operator(cs, e->op->name);
            errors_add(errs, "%ssession '%s': operator '%s' cannot operate on gadget '%s'",
                       AT(co ? co->pos : cs->pos), cs->name, e->op->name, cs->gadget);
            invalid = true;
        }
    }
    if (missing || invalid)
        goto fail;

    plan = calloc(1, sizeof(*plan));
    if (!plan || !(plan->name = strdup(cs->name)) || !(plan->gadget = strdup(cs->gadget)))
        goto nomem;
    plan->duration_nsec = cs->duration_nsec;
    k = order_steps(cs, &w, plan, errs);
    if (k == -ENOMEM)
        goto nomem;
    if (k < 0) {
        missing = k == -ENOENT;
        invalid = !missing;
        goto fail;
    }
    free(w.items);
    *ret = plan;
    return 0;

nomem:
    free(w.items);
    plan_free(plan);
    return -ENOMEM;
fail:
    free(w.items);
    plan_free(plan);
    return invalid ? -EINVAL : -ENOENT;
}

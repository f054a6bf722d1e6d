/*
 * registry.c — operators by name (a sorted array: registration is rare,
 * lookup is a binary search) and their global params.
 */
#include "registry.h"

#include <errno.h>

#include "hint.h"
#include "log.h"
#include "params.h"

struct registry {
    struct operator_entry **entries; /* sorted by name */
    size_t n_entries;
    struct plugin **plugins;         /* registration order */
    size_t n_plugins;
    const struct config_operator *globals;
    size_t n_globals;
};

struct registry *registry_new(void) {
    return calloc(1, sizeof(struct registry));
}

static void operator_entry_free(struct operator_entry *e) {
    params_free(e->global_params);
    free(e->init_message);
    free(e->ctx.error);
    plugin_unref(e->plugin);
    free(e);
}

struct operator_entry *operator_entry_ref(struct operator_entry *e) {
    if (e)
        e->n_ref++;
    return e;
}

struct operator_entry *operator_entry_unref(struct operator_entry *e) {
    if (e && --e->n_ref == 0)
        operator_entry_free(e);
    return NULL;
}

struct registry *registry_free(struct registry *r) {
    if (!r)
        return NULL;
    for (size_t i = 0; i < r->n_entries; i++) {
        r->entries[i]->in_registry = false;
        operator_entry_unref(r->entries[i]);
    }
    free(r->entries);
    for (size_t i = 0; i < r->n_plugins; i++)
        plugin_unref(r->plugins[i]);
    free(r->plugins);
    free(r);
    return NULL;
}

void registry_set_globals(struct registry *r, const struct config_operator *globals,
                          size_t n_globals) {
    r->globals = globals;
    r->n_globals = n_globals;
}

/* Index of name in entries, or -(insertion point) - 1. */
static ssize_t find_index(const struct registry *r, const char *name) {
    size_t lo = 0, hi = r->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, r->entries[mid]->op->name);
        if (c == 0)
            return (ssize_t) mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -(ssize_t) lo - 1;
}

struct operator_entry *registry_find(const struct registry *r, const char *name) {
    ssize_t i = find_index(r, name);
    return i >= 0 ? r->entries[i] : NULL;
}

int registry_add_plugin(struct registry *r, struct plugin *p, char **ret_error) {
    struct operator_entry **m;
    struct plugin **pm;

    for (size_t i = 0; i < p->n_operators; i++) {
        struct operator_entry *other = registry_find(r, p->operators[i].name);
        if (other) {
            *ret_error = strprintf("%s: operator '%s': already provided by plugin '%s' (%s)",
                                   p->path, p->operators[i].name, other->plugin->desc->name,
                                   other->plugin->path);
            return -EEXIST;
        }
    }
    m = realloc(r->entries, (r->n_entries + p->n_operators) * sizeof(*m));
    if (!m)
        return -ENOMEM;
    r->entries = m;
    pm = realloc(r->plugins, (r->n_plugins + 1) * sizeof(*pm));
    if (!pm)
        return -ENOMEM;
    r->plugins = pm;

    for (size_t i = 0; i < p->n_operators; i++) {
        struct operator_entry *e = calloc(1, sizeof(*e));
        ssize_t at;
        if (!e) {
            /* Undo the operators added so far: all or none. */
            registry_remove_plugin(r, p);
            return -ENOMEM;
        }
        e->n_ref = 1;
        e->op = &p->operators[i];
        e->plugin = plugin_ref(p);
        e->in_registry = true;
        e->ctx.kind = CTX_OPERATOR;
        e->ctx.entry = e;
        at = -find_index(r, e->op->name) - 1;
        memmove(&r->entries[at + 1], &r->entries[at], (r->n_entries - (size_t) at) * sizeof(*m));
        r->entries[at] = e;
        r->n_entries++;
    }
    r->plugins[r->n_plugins++] = plugin_ref(p);
    return 0;
}

void registry_remove_plugin(struct registry *r, struct plugin *p) {
    struct operator_entry *gone[p->n_operators ? p->n_operators : 1];
    size_t out = 0, n_gone = 0;

    for (size_t i = 0; i < r->n_entries; i++) {
        struct operator_entry *e = r->entries[i];
        if (e->plugin == p && n_gone < p->n_operators)
            gone[n_gone++] = e;
        else
            r->entries[out++] = e;
    }
    r->n_entries = out;
    for (size_t i = 0; i < n_gone; i++) {
        gone[i]->in_registry = false;
        operator_entry_unref(gone[i]);
    }
    out = 0;
    for (size_t i = 0; i < r->n_plugins; i++)
        if (r->plugins[i] == p)
            plugin_unref(p);
        else
            r->plugins[out++] = r->plugins[i];
    r->n_plugins = out;
}

struct operator_entry *const *registry_entries(const struct registry *r, size_t *ret_n) {
    *ret_n = r->n_entries;
    return r->entries;
}

struct plugin *const *registry_plugins(const struct registry *r, size_t *ret_n) {
    *ret_n = r->n_plugins;
    return r->plugins;
}

struct plugin *registry_plugin_by_path(const struct registry *r, const char *path) {
    for (size_t i = 0; i < r->n_plugins; i++)
        if (streq(r->plugins[i]->path, path))
            return r->plugins[i];
    return NULL;
}

const char **registry_names(const struct registry *r) {
    const char **names = calloc(r->n_entries + 1, sizeof(char *));
    if (!names)
        return NULL;
    for (size_t i = 0; i < r->n_entries; i++)
        names[i] = r->entries[i]->op->name;
    return names;
}

const struct config_operator *registry_globals_of(const struct registry *r, const char *name) {
    for (size_t i = 0; i < r->n_globals; i++)
        if (streq(r->globals[i].name, name))
            return &r->globals[i];
    return NULL;
}

/* Builds validated params from a config operator (may be NULL). On error
 * *ret_error names the first bad param with its file position. */
static int build_params(const struct ophost_param *descs, const struct config_operator *co,
                        struct params **ret, char **ret_error) {
    struct params *p = params_new(descs);
    char *err = NULL;
    int r = 0;

    if (!p)
        return -ENOMEM;
    for (size_t i = 0; co && i < co->n_params && r >= 0; i++) {
        const struct config_param *cp = &co->params[i];
        r = params_set(p, cp->key, cp->value, &err);
        if (r < 0) {
            *ret_error = strprintf("%s:%u:%u: operator '%s': %s", cp->pos.file, cp->pos.line,
                                   cp->pos.column, co->name, err ? err : strerror(-r));
            free(err);
        }
    }
    if (r >= 0) {
        r = params_check(p, &err);
        if (r < 0) {
            if (co)
                *ret_error = strprintf("%s:%u:%u: operator '%s': %s", co->pos.file, co->pos.line,
                                       co->pos.column, co->name, err ? err : strerror(-r));
            else
                *ret_error = TAKE_PTR(err);
            free(err);
        }
    }
    if (r < 0) {
        params_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

int registry_global_params(const struct registry *r, const struct operator_entry *e,
                           struct params **ret, char **ret_error) {
    _cleanup_free_ char *err = NULL;
    int k = build_params(e->op->global_params, registry_globals_of(r, e->op->name), ret, &err);

    if (k < 0)
        /* err names the file position and the operator when it has one. */
        *ret_error = err ? TAKE_PTR(err)
                         : strprintf("operator '%s': global params: %s", e->op->name, strerror(-k));
    return k;
}

int registry_check_globals(const struct registry *r, struct errors *errs) {
    _cleanup_free_ const char **names = registry_names(r);
    size_t before = errs->n;

    if (!names)
        return -ENOMEM;
    for (size_t i = 0; i < r->n_globals; i++) {
        const struct config_operator *co = &r->globals[i];
        struct operator_entry *e = registry_find(r, co->name);
        struct params *p = NULL;
        char *err = NULL;

        if (!e) {
            const char *hint = hint_closest(co->name, names);
            errors_add(errs, "%s:%u:%u: unknown operator '%s'%s%s%s", co->pos.file, co->pos.line,
                       co->pos.column, co->name, hint ? " (did you mean '" : "",
                       hint ? hint : "", hint ? "'?)" : "");
            continue;
        }
        if (build_params(e->op->global_params, co, &p, &err) < 0) {
            errors_add(errs, "%s", err ? err : "out of memory");
            free(err);
        }
        params_free(p);
    }
    return errs->n > before ? -EINVAL : 0;
}

/*
 * registry.h — the operators a process knows, by name. Each operator comes
 * from one plugin; a name is never provided twice (the first plugin wins and
 * the second is refused, naming both). Operators of a removed plugin leave
 * the registry at once but stay alive while plans still use them.
 *
 * The supervisor's registry holds metadata (plugins the scanner described);
 * a worker's holds the plugins it loaded, and runs init and close on its
 * entries (worker/operators.h). Nothing here calls a plugin.
 */
#ifndef OPHOST_DAEMON_REGISTRY_H
#define OPHOST_DAEMON_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "ctx.h"
#include "errors.h"
#include "plugin.h"

/* Worker only: where an operator stands in this process. */
enum operator_state {
    OPERATOR_NEW,         /* init not tried yet */
    OPERATOR_READY,       /* init succeeded (or none): usable */
    OPERATOR_FAILED,      /* init failed: init_error/init_message say why */
    OPERATOR_CLOSED,
};

struct operator_entry {
    unsigned n_ref;
    const struct ophost_operator *op;   /* in plugin->operators */
    struct plugin *plugin;              /* a reference */
    bool in_registry;
    /* Worker only (worker/operators.c): */
    enum operator_state state;
    int init_error;
    char *init_message;
    void *op_data;
    struct params *global_params;
    struct ophost_ctx ctx;              /* the operator's global context */
    unsigned init_seq;                  /* order of init, for closing in reverse */
    unsigned call_index;                /* what the status page calls it (plan step) */
};

struct registry;

/* A new empty registry; NULL on ENOMEM. */
struct registry *registry_new(void);
/* Drops every reference the registry holds (a worker closes its operators
 * first: operators_close). Returns NULL. */
struct registry *registry_free(struct registry *r);

/* Global params per operator (from the daemon config); not copied, must
 * outlive the registry or be replaced. */
void registry_set_globals(struct registry *r, const struct config_operator *globals,
                          size_t n_globals);

/*
 * Registers every operator of plugin p, all or none. A name already taken
 * refuses the whole plugin: -EEXIST and "PATH: operator 'x': already
 * provided by plugin 'NAME' (OTHERPATH)". Takes its own reference on p.
 */
int registry_add_plugin(struct registry *r, struct plugin *p, char **ret_error);

/* Removes the operators of p: they stay usable by plans that hold
 * references. */
void registry_remove_plugin(struct registry *r, struct plugin *p);

/* The entry named name, or NULL. The pointer is valid until the plugin is
 * removed; take a reference (operator_entry_ref) to keep it longer. */
struct operator_entry *registry_find(const struct registry *r, const char *name);

/* All entries, sorted by name; *ret_n gets the count. */
struct operator_entry *const *registry_entries(const struct registry *r, size_t *ret_n);
/* The registered plugins, in registration order. */
struct plugin *const *registry_plugins(const struct registry *r, size_t *ret_n);
/* The plugin loaded from path, or NULL. */
struct plugin *registry_plugin_by_path(const struct registry *r, const char *path);

/* All operator names, NULL-terminated (for hints); caller frees the array
 * only (strv pointers belong to the plugins). */
const char **registry_names(const struct registry *r);

/* Builds e's global params from the daemon config's (registry_set_globals),
 * validated. Returns 0 and new params in *ret, or -EINVAL/-ENOMEM with a
 * malloc'd message naming the file position and the param in *ret_error. */
int registry_global_params(const struct registry *r, const struct operator_entry *e,
                           struct params **ret, char **ret_error);

/* The global params of the daemon config for operator name, or NULL. */
const struct config_operator *registry_globals_of(const struct registry *r, const char *name);

/* Validates the global params of the daemon config against the registered
 * operators: unknown operators (with hints) and bad params go to errs. */
int registry_check_globals(const struct registry *r, struct errors *errs);

struct operator_entry *operator_entry_ref(struct operator_entry *e);
struct operator_entry *operator_entry_unref(struct operator_entry *e);

#endif

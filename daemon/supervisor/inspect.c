/* inspect.c — output of --list-operators, --check and --check-plugin (see inspect.h). */
#include "inspect.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>

#include "log.h"
#include "params.h"
#include "plugins.h"
#include "probe.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

static json_object *json_strv(const char *const *l) {
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && l && l[i]; i++)
        json_object_array_add(a, json_object_new_string(l[i]));
    return a;
}

static void format_limit(const struct ophost_param *p, int64_t v, char *buf, size_t n) {
    if (p->type == OPHOST_PARAM_INT)
        snprintf(buf, n, "%" PRId64, v);
    else
        snprintf(buf, n, "%" PRIu64, (uint64_t) v);
}

/* A limit as people write it: a duration (nanoseconds) in the largest unit
 * that divides it ("250ms", "1m"), the others as numbers. */
static void format_limit_text(const struct ophost_param *p, int64_t v, char *buf, size_t n) {
    static const struct {
        const char *unit;
        uint64_t nsec;
    } units[] = { { "h", 3600000000000ULL }, { "m", 60000000000ULL }, { "s", 1000000000ULL },
                  { "ms", 1000000ULL },      { "us", 1000ULL },       { "ns", 1 } };
    uint64_t ns = (uint64_t) v;

    if (p->type != OPHOST_PARAM_DURATION || v < 0) {
        format_limit(p, v, buf, n);
        return;
    }
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (ns == 0 || ns % units[i].nsec == 0) {
            snprintf(buf, n, "%" PRIu64 "%s", ns / units[i].nsec, ns ? units[i].unit : "s");
            return;
        }
}

static json_object *json_params(const struct ophost_param *params) {
    json_object *a = json_object_new_array();
    for (const struct ophost_param *p = params; a && p && p->key; p++) {
        json_object *o = json_object_new_object();
        char buf[32];
        json_object_object_add(o, "key", json_object_new_string(p->key));
        json_object_object_add(o, "type", json_object_new_string(param_type_name(p->type)));
        json_object_object_add(o, "description",
                               json_object_new_string(p->description ? p->description : ""));
        json_object_object_add(o, "default",
                               p->default_value ? json_object_new_string(p->default_value) : NULL);
        json_object_object_add(o, "mandatory",
                               json_object_new_boolean(p->flags & OPHOST_PARAM_MANDATORY));
        if (p->allowed)
            json_object_object_add(o, "allowed", json_strv(p->allowed));
        if (p->aliases)
            json_object_object_add(o, "aliases", json_strv(p->aliases));
        if (p->flags & OPHOST_PARAM_HAS_MIN) {
            format_limit(p, p->min, buf, sizeof(buf));
            json_object_object_add(o, "min", json_object_new_string(buf));
        }
        if (p->flags & OPHOST_PARAM_HAS_MAX) {
            format_limit(p, p->max, buf, sizeof(buf));
            json_object_object_add(o, "max", json_object_new_string(buf));
        }
        json_object_array_add(a, o);
    }
    return a;
}

static void print_params(FILE *out, const char *title, const struct ophost_param *params) {
    if (!params || !params->key)
        return;
    fprintf(out, "    %s params:\n", title);
    for (const struct ophost_param *p = params; p->key; p++) {
        char buf[32];
        fprintf(out, "      %s (%s", p->key, param_type_name(p->type));
        if (p->flags & OPHOST_PARAM_MANDATORY)
            fprintf(out, ", mandatory");
        else if (p->default_value)
            fprintf(out, ", default '%s'", p->default_value);
        if (p->allowed) {
            fprintf(out, ", one of:");
            for (size_t i = 0; p->allowed[i]; i++)
                fprintf(out, "%s %s", i ? "," : "", p->allowed[i]);
        }
        if (p->flags & OPHOST_PARAM_HAS_MIN) {
            format_limit_text(p, p->min, buf, sizeof(buf));
            fprintf(out, ", min %s", buf);
        }
        if (p->flags & OPHOST_PARAM_HAS_MAX) {
            format_limit_text(p, p->max, buf, sizeof(buf));
            fprintf(out, ", max %s", buf);
        }
        fprintf(out, ")%s%s\n", p->description ? ": " : "", p->description ? p->description : "");
    }
}

json_object *inspect_operator_json(const struct ophost_operator *op, const struct plugin *p) {
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "name", json_object_new_string(op->name));
    json_object_object_add(o, "description",
                           json_object_new_string(op->description ? op->description : ""));
    json_object_object_add(o, "gadget", json_object_new_boolean(op->flags & OPHOST_OPERATOR_GADGET));
    json_object_object_add(o, "plugin", json_object_new_string(p->desc->name));
    json_object_object_add(o, "version",
                           json_object_new_string(p->desc->version ? p->desc->version : ""));
    json_object_object_add(o, "path", json_object_new_string(p->path));
    json_object_object_add(o, "priority", json_object_new_int(op->priority));
    json_object_object_add(o, "dependencies", json_strv(op->dependencies));
    json_object_object_add(o, "global_params", json_params(op->global_params));
    json_object_object_add(o, "instance_params", json_params(op->instance_params));
    return o;
}

static void print_operator(FILE *out, const struct ophost_operator *op, const struct plugin *p) {
    fprintf(out, "%s%s — %s\n", op->name, op->flags & OPHOST_OPERATOR_GADGET ? " (gadget)" : "",
            op->description ? op->description : "");
    fprintf(out, "    plugin %s %s (%s), priority %d", p->desc->name,
            p->desc->version ? p->desc->version : "", p->path, op->priority);
    if (op->dependencies && op->dependencies[0]) {
        fprintf(out, ", depends on:");
        for (size_t k = 0; op->dependencies[k]; k++)
            fprintf(out, "%s %s", k ? "," : "", op->dependencies[k]);
    }
    fputc('\n', out);
    print_params(out, "global", op->global_params);
    print_params(out, "instance", op->instance_params);
}

int inspect_list_operators(FILE *out, const struct registry *r, const struct errors *refused,
                           bool json) {
    size_t n;
    struct operator_entry *const *entries = registry_entries(r, &n);

    if (json) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *ops = json_object_new_array(), *ref = json_object_new_array();
        if (!root || !ops || !ref)
            return -ENOMEM;
        json_object_object_add(root, "operators", ops);
        json_object_object_add(root, "refused", ref);
        for (size_t i = 0; i < n; i++)
            json_object_array_add(ops, inspect_operator_json(entries[i]->op, entries[i]->plugin));
        for (size_t i = 0; refused && refused->lines && refused->lines[i]; i++)
            json_object_array_add(ref, json_object_new_string(refused->lines[i]));
        fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
    }

    for (size_t i = 0; i < n; i++)
        print_operator(out, entries[i]->op, entries[i]->plugin);
    if (n == 0)
        fprintf(out, "no operators\n");
    if (refused && refused->n > 0) {
        fprintf(out, "\nrefused plugins:\n");
        for (size_t i = 0; refused->lines && refused->lines[i]; i++)
            fprintf(out, "  %s\n", refused->lines[i]);
    }
    return 0;
}

int inspect_check(FILE *out, FILE *err, struct plan *const *plans, size_t n_plans,
                  const struct errors *errors, bool json) {
    if (json) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *sessions = json_object_new_array(), *errs = json_object_new_array();
        if (!root || !sessions || !errs)
            return -ENOMEM;
        json_object_object_add(root, "sessions", sessions);
        json_object_object_add(root, "errors", errs);
        for (size_t i = 0; i < n_plans; i++) {
            json_object *o, *order;
            if (!plans[i])
                continue;
            o = json_object_new_object();
            order = json_object_new_array();
            json_object_object_add(o, "name", json_object_new_string(plans[i]->name));
            json_object_object_add(o, "gadget", json_object_new_string(plans[i]->gadget));
            for (size_t k = 0; k < plans[i]->n_steps; k++)
                json_object_array_add(order,
                                      json_object_new_string(plans[i]->steps[k].entry->op->name));
            json_object_object_add(o, "order", order);
            json_object_array_add(sessions, o);
        }
        for (size_t i = 0; errors && errors->lines && errors->lines[i]; i++)
            json_object_array_add(errs, json_object_new_string(errors->lines[i]));
        fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        for (size_t i = 0; i < n_plans; i++) {
            if (!plans[i])
                continue;
            fprintf(out, "session %s (gadget %s): ", plans[i]->name, plans[i]->gadget);
            for (size_t k = 0; k < plans[i]->n_steps; k++)
                fprintf(out, "%s%s", k ? " -> " : "", plans[i]->steps[k].entry->op->name);
            fputc('\n', out);
        }
    }
    for (size_t i = 0; errors && errors->lines && errors->lines[i]; i++)
        fprintf(err, "%s\n", errors->lines[i]);
    return 0;
}

/* The directory and name checks of a plugin file, as warnings: an author
 * builds in a directory of their own, so only the file's own checks fail
 * --check-plugin. */
static void check_plugin_location(const char *path, struct errors *warnings) {
    _cleanup_free_ char *copy = strdup(path), *err = NULL;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dir;

    if (!plugin_is_file_name(base))
        (void) errors_add(warnings, "%s: file: ophostd loads only files named '*.so' that do not "
                                    "start with '.'; install it under such a name", path);
    if (!copy)
        return;
    dir = dirname(copy);
    if (plugin_check_dir(dir, geteuid(), &err) < 0)
        (void) errors_add(warnings, "%s; ophostd refuses every plugin in such a directory, "
                                    "install into one that passes", err ? err : dir);
}

/* The file checks, the snapshot, and the scanner's probe (in a child: the
 * plugin's code never runs in this process), with the scanner's INSPECT.
 * 0 and the described plugin, or the refusal. */
static int probe_file(const char *path, int log_level, struct plugin **ret,
                      json_object **ret_inspect, char **ret_refusal) {
    struct plugin *snap = NULL, *p;
    struct probe *probe = NULL;
    sd_event *loop = NULL;
    int r;

    r = plugin_snapshot(path, geteuid(), &snap, ret_refusal);
    if (r < 0)
        return r;
    r = sd_event_new(&loop);
    if (r >= 0)
        r = probe_scan_inspect(loop, &snap, 1, log_level, true, NULL, NULL, &probe);
    if (r >= 0)
        r = probe_wait(loop, probe);
    if (r >= 0) {
        p = probe_plugin(probe, 0);
        if (p) {
            *ret = plugin_ref(p);
            *ret_inspect = probe_inspect(probe, 0) ? json_object_get(probe_inspect(probe, 0))
                                                   : NULL;
        } else {
            *ret_refusal = strdup(probe_error(probe, 0) ? probe_error(probe, 0) : "refused");
            r = -EINVAL;
        }
    }
    probe_free(probe);
    plugin_unref(snap);
    sd_event_unref(loop);
    return r;
}

/* A member of the scanner's INSPECT that is a non-negative integer. */
static bool inspect_uint(json_object *o, const char *key, uint64_t *ret) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0)
        return false;
    *ret = (uint64_t) json_object_get_int64(v);
    return true;
}

/* What the scanner saw of the plugin's own structs and file that loads but
 * deserves a word: structs larger than this host's (built against a newer
 * header?), symbols exported besides the entry. */
static void inspect_warnings(const char *path, const struct plugin *p, json_object *insp,
                             struct errors *warnings) {
    json_object *sizes, *exports;
    uint64_t v, n_exports;

    if (!insp)
        return;
    if (inspect_uint(insp, "struct_size", &v) && v > sizeof(struct ophost_plugin))
        (void) errors_add(warnings, "%s: descriptor: struct_size %" PRIu64 " is larger than this "
                          "host's %zu (built against a newer ophost.h?): ophostd reads only the "
                          "first %zu bytes", path, v, sizeof(struct ophost_plugin),
                          sizeof(struct ophost_plugin));
    if (json_object_object_get_ex(insp, "operator_struct_sizes", &sizes) &&
        json_object_is_type(sizes, json_type_array))
        for (size_t i = 0; i < p->n_operators && i < json_object_array_length(sizes); i++) {
            json_object *e = json_object_array_get_idx(sizes, i);
            int64_t size = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : 0;
            if (size > (int64_t) sizeof(struct ophost_operator))
                (void) errors_add(warnings, "%s: operator '%s': struct_size %" PRId64 " is larger "
                                  "than this host's %zu (built against a newer ophost.h?): "
                                  "ophostd ignores its members past %zu bytes", path,
                                  p->operators[i].name, size, sizeof(struct ophost_operator),
                                  sizeof(struct ophost_operator));
        }
    if (json_object_object_get_ex(insp, "exports_error", &exports))
        (void) errors_add(warnings, "%s: cannot read its dynamic symbol table: %s", path,
                          json_object_get_string(exports));
    else if (inspect_uint(insp, "n_exports", &n_exports) &&
             json_object_object_get_ex(insp, "exports", &exports) &&
             json_object_is_type(exports, json_type_array)) {
        _cleanup_free_ char *list = NULL;
        size_t shown = 0, len = 0;
        uint64_t extra = n_exports;
        FILE *f = open_memstream(&list, &len);

        for (size_t i = 0; i < json_object_array_length(exports); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(exports, i));
            if (!name)
                continue;
            if (f && shown < 8)
                fprintf(f, "%s%s", shown ? ", " : "", name);
            shown++;
        }
        if (f && extra > (uint64_t) (shown < 8 ? shown : 8))
            fprintf(f, ", ...");
        if (f)
            fclose(f);
        if (extra > 0)
            (void) errors_add(warnings, "%s: exports %" PRIu64 " symbol%s besides '%s' (%s): build "
                              "it with -fvisibility=hidden (meson: gnu_symbol_visibility : "
                              "'hidden') so that only the entry function is exported", path,
                              extra, extra == 1 ? "" : "s", OPHOST_PLUGIN_ENTRY_SYMBOL,
                              list ? list : "?");
    }
}

/* Operator names of p that a plugin in dirs already provides (the scanner
 * loads those plugins). A file of the same name as path is the plugin that
 * installing path would replace: not compared. */
static void check_names_taken(const char *path, const struct plugin *p, char *const *dirs,
                              bool dirs_explicit, int log_level, struct errors *warnings) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    _cleanup_free_ struct plugin **others = NULL;
    struct plugin_scan scan = { 0 };
    struct errors refused = { 0 };
    struct plugin_dirs *pd = NULL;
    struct registry *reg = NULL;
    struct probe *probe = NULL;
    sd_event *loop = NULL;
    size_t n = 0;
    int r;

    if (!dirs || !dirs[0])
        return;
    for (size_t i = 0; dirs_explicit && dirs[i]; i++) {
        _cleanup_free_ char *why = NULL;
        if (plugin_check_dir(dirs[i], geteuid(), &why) < 0)
            (void) errors_add(warnings, "%s; operator names not compared with its plugins",
                              why ? why : dirs[i]);
    }
    reg = registry_new(); /* stays empty: every file is fresh */
    pd = plugin_dirs_new(geteuid());
    r = reg && pd ? plugin_dirs_scan(pd, dirs, reg, &scan, &refused) : -ENOMEM;
    if (r >= 0) {
        others = calloc(scan.n_fresh + 1, sizeof(*others));
        r = others ? sd_event_new(&loop) : -ENOMEM;
    }
    for (size_t i = 0; r >= 0 && i < scan.n_fresh; i++)
        if (!streq(scan.fresh[i]->file_name, base))
            others[n++] = scan.fresh[i];
    if (r >= 0)
        r = probe_scan(loop, others, n, log_level, NULL, NULL, &probe);
    if (r >= 0)
        r = probe_wait(loop, probe);
    if (r < 0)
        (void) errors_add(warnings, "cannot scan the plugin directories: %s; operator names not "
                          "compared", strerror(-r));
    for (size_t i = 0; r >= 0 && i < n; i++) {
        const struct plugin *other = probe_plugin(probe, i);
        for (size_t k = 0; other && k < p->n_operators; k++)
            if (plugin_find_operator(other, p->operators[k].name))
                (void) errors_add(warnings, "%s: operator '%s': also provided by plugin '%s' "
                                  "(%s); ophostd refuses whichever of the two it loads second: "
                                  "rename the operator or remove one plugin", path,
                                  p->operators[k].name, other->desc->name, other->path);
    }
    probe_free(probe);
    plugin_scan_clear(&scan);
    registry_free(reg);
    plugin_dirs_free(pd);
    sd_event_unref(loop);
    errors_clear(&refused);
}

int inspect_check_plugin(FILE *out, FILE *err, const struct inspect_check_plugin_options *o) {
    _cleanup_(json_object_putp) json_object *insp = NULL;
    struct errors warnings = { 0 };
    _cleanup_free_ char *refusal = NULL;
    const char *path = o->path;
    struct plugin *p = NULL;
    int r;

    check_plugin_location(path, &warnings);
    r = probe_file(path, o->log_level, &p, &insp, &refusal);
    if (r < 0 && !refusal)
        refusal = strprintf("%s: %s", path, strerror(-r));
    if (p) {
        inspect_warnings(path, p, insp, &warnings);
        check_names_taken(path, p, o->plugin_dirs, o->dirs_explicit, o->log_level, &warnings);
    }

    if (o->json) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *ops = json_object_new_array(), *warns = json_object_new_array();
        if (!root || !ops || !warns) {
            json_object_put(ops);
            json_object_put(warns);
            r = -ENOMEM;
            goto out;
        }
        json_object_object_add(root, "path", json_object_new_string(path));
        json_object_object_add(root, "loadable", json_object_new_boolean(r >= 0));
        json_object_object_add(root, "error", refusal ? json_object_new_string(refusal) : NULL);
        json_object_object_add(root, "warnings", warns);
        for (size_t i = 0; warnings.lines && warnings.lines[i]; i++)
            json_object_array_add(warns, json_object_new_string(warnings.lines[i]));
        if (p) {
            json_object *pl = json_object_new_object();
            char abi[32];
            snprintf(abi, sizeof(abi), "%u.%u", p->desc->abi_major, p->desc->abi_minor);
            json_object_object_add(pl, "name", json_object_new_string(p->desc->name));
            json_object_object_add(pl, "version",
                                   json_object_new_string(p->desc->version ? p->desc->version : ""));
            json_object_object_add(pl, "description", json_object_new_string(
                                       p->desc->description ? p->desc->description : ""));
            json_object_object_add(pl, "abi", json_object_new_string(abi));
            json_object_object_add(root, "plugin", pl);
            for (size_t i = 0; i < p->n_operators; i++)
                json_object_array_add(ops, inspect_operator_json(&p->operators[i], p));
        } else
            json_object_object_add(root, "plugin", NULL);
        json_object_object_add(root, "operators", ops);
        fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        for (size_t i = 0; warnings.lines && warnings.lines[i]; i++)
            fprintf(err, "warning: %s\n", warnings.lines[i]);
        if (p) {
            fprintf(out, "%s: plugin '%s' %s (ABI %u.%u), %zu operators: loadable\n", path,
                    p->desc->name, p->desc->version ? p->desc->version : "", p->desc->abi_major,
                    p->desc->abi_minor, p->n_operators);
            for (size_t i = 0; i < p->n_operators; i++)
                print_operator(out, &p->operators[i], p);
        } else
            fprintf(err, "refused: %s\n", refusal ? refusal : path);
    }
    if (r >= 0)
        r = (int) (warnings.n < INT32_MAX ? warnings.n : INT32_MAX);
out:
    plugin_unref(p);
    errors_clear(&warnings);
    return r;
}

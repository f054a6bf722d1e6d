/* descriptor.c — descriptor checks and the DESCRIPTOR JSON form (see
 * descriptor.h). */
#include "descriptor.h"

#include <errno.h>

#include "params.h"
#include "utf8.h"
#include "util.h"

/* ------------------------------------------------------------- checks */

int descriptor_check_abi(const char *path, unsigned major, unsigned minor, char **ret_error) {
    if (major != OPHOST_ABI_MAJOR) {
        *ret_error = strprintf("%s: abi: plugin ABI major %u, host supports %u: rebuild it "
                               "against this host's ophost.h", path, major, OPHOST_ABI_MAJOR);
        return -EPROTO;
    }
    if (minor > OPHOST_ABI_MINOR) {
        *ret_error = strprintf("%s: abi: plugin ABI %u.%u is newer than the host's %u.%u: "
                               "rebuild it against this host's ophost.h, or update ophostd",
                               path, major, minor, OPHOST_ABI_MAJOR, OPHOST_ABI_MINOR);
        return -EPROTO;
    }
    return 0;
}

static int check_operator(const char *path, const struct ophost_operator *op, size_t index,
                          char **ret_error) {
    _cleanup_free_ char *perr = NULL;
    int r;

    if (!op->name || !name_is_valid(op->name)) {
        *ret_error = strprintf("%s: operator #%zu: invalid name '%s' (use a-z, 0-9, '_' and '-')",
                               path, index, op->name ? op->name : "(null)");
        return -EINVAL;
    }
    for (size_t i = 0; op->dependencies && op->dependencies[i]; i++)
        if (!name_is_valid(op->dependencies[i])) {
            *ret_error = strprintf("%s: operator '%s': invalid dependency name '%s'", path,
                                   op->name, op->dependencies[i]);
            return -EINVAL;
        }
    r = params_check_descriptors(op->global_params, &perr);
    if (r < 0) {
        *ret_error = strprintf("%s: operator '%s': global %s", path, op->name, perr);
        return r;
    }
    r = params_check_descriptors(op->instance_params, &perr);
    if (r < 0) {
        *ret_error = strprintf("%s: operator '%s': instance %s", path, op->name, perr);
        return r;
    }
    return 0;
}

int descriptor_check(const struct plugin *p, char **ret_error) {
    const struct ophost_plugin *d = p->desc;

    if (!d->name || !name_is_valid(d->name)) {
        *ret_error = strprintf("%s: descriptor: invalid plugin name '%s' (use a-z, 0-9, '_' and '-')",
                               p->path, d->name ? d->name : "(null)");
        return -EINVAL;
    }
    if (p->n_operators == 0) {
        *ret_error = strprintf("%s: descriptor: provides no operators", p->path);
        return -EINVAL;
    }
    for (size_t i = 0; i < p->n_operators; i++) {
        int r = check_operator(p->path, &p->operators[i], i, ret_error);
        if (r < 0)
            return r;
        for (size_t j = 0; j < i; j++)
            if (streq(p->operators[j].name, p->operators[i].name)) {
                *ret_error = strprintf("%s: operator '%s': defined twice in the plugin", p->path,
                                       p->operators[i].name);
                return -EEXIST;
            }
    }
    return 0;
}

/* ----------------------------------------------------------- to JSON */

/* A plugin's text as it may be shown (utf8_printable_dup), or NULL. */
static json_object *json_str_or_null(const char *s) {
    _cleanup_free_ char *text = s ? utf8_printable_dup(s) : NULL;
    return text ? json_object_new_string(text) : NULL;
}

static json_object *json_list(const char *const *l) {
    json_object *a;
    if (!l)
        return NULL;
    a = json_object_new_array();
    for (size_t i = 0; a && l[i]; i++)
        json_object_array_add(a, json_str_or_null(l[i]));
    return a;
}

static json_object *params_to_json(const struct ophost_param *params) {
    json_object *a = json_object_new_array();
    for (const struct ophost_param *p = params; a && p && p->key; p++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "key", json_object_new_string(p->key));
        json_object_object_add(o, "description", json_str_or_null(p->description));
        json_object_object_add(o, "type", json_object_new_int64(p->type));
        json_object_object_add(o, "flags", json_object_new_int64(p->flags));
        json_object_object_add(o, "default", json_str_or_null(p->default_value));
        json_object_object_add(o, "allowed", json_list(p->allowed));
        json_object_object_add(o, "aliases", json_list(p->aliases));
        json_object_object_add(o, "min", json_object_new_int64(p->min));
        json_object_object_add(o, "max", json_object_new_int64(p->max));
        json_object_array_add(a, o);
    }
    return a;
}

json_object *descriptor_to_json(const struct plugin *p) {
    json_object *o = json_object_new_object(), *ops = json_object_new_array();

    if (!o || !ops) {
        json_object_put(o);
        json_object_put(ops);
        return NULL;
    }
    json_object_object_add(o, "name", json_object_new_string(p->desc->name));
    json_object_object_add(o, "version", json_str_or_null(p->desc->version));
    json_object_object_add(o, "description", json_str_or_null(p->desc->description));
    json_object_object_add(o, "abi_major", json_object_new_int64(p->desc->abi_major));
    json_object_object_add(o, "abi_minor", json_object_new_int64(p->desc->abi_minor));
    for (size_t i = 0; i < p->n_operators; i++) {
        const struct ophost_operator *op = &p->operators[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "name", json_object_new_string(op->name));
        json_object_object_add(j, "description", json_str_or_null(op->description));
        json_object_object_add(j, "flags", json_object_new_int64(op->flags));
        json_object_object_add(j, "priority", json_object_new_int64(op->priority));
        json_object_object_add(j, "dependencies", json_list(op->dependencies));
        json_object_object_add(j, "global_params", params_to_json(op->global_params));
        json_object_object_add(j, "instance_params", params_to_json(op->instance_params));
        json_object_array_add(ops, j);
    }
    json_object_object_add(o, "operators", ops);
    return o;
}

/* --------------------------------------------------------- from JSON */

/* Every allocation the deserialized descriptor of one plugin made. */
struct owned {
    void **ptrs;
    size_t n, cap;
};

static void *own(struct owned *m, void *p) {
    if (!p)
        return NULL;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        void **v = realloc(m->ptrs, cap * sizeof(*v));
        if (!v) {
            free(p);
            return NULL;
        }
        m->ptrs = v;
        m->cap = cap;
    }
    m->ptrs[m->n++] = p;
    return p;
}

static void release_owned(struct plugin *p) {
    struct owned *m = p->release_data;
    for (size_t i = 0; m && i < m->n; i++)
        free(m->ptrs[i]);
    if (m)
        free(m->ptrs);
    free(m);
    p->release_data = NULL;
    p->desc = NULL;
}

/* Why the JSON is malformed; the parse stops at the first problem. */
struct parse {
    struct owned *m;
    const char *what;
    bool oom;
};

static bool bad(struct parse *ps, const char *what) {
    if (!ps->what)
        ps->what = what;
    return false;
}

/* A string member: *ret is an owned copy, or NULL when null/absent and
 * optional. */
static bool get_str(struct parse *ps, json_object *o, const char *key, bool optional,
                    const char **ret) {
    json_object *v;
    *ret = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return optional || bad(ps, key);
    if (!json_object_is_type(v, json_type_string))
        return bad(ps, key);
    *ret = own(ps->m, strdup(json_object_get_string(v)));
    if (!*ret)
        ps->oom = true;
    return *ret != NULL;
}

static bool get_int(struct parse *ps, json_object *o, const char *key, int64_t lo, int64_t hi,
                    int64_t *ret) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return bad(ps, key);
    *ret = json_object_get_int64(v);
    return (*ret >= lo && *ret <= hi) || bad(ps, key);
}

/* A NULL-terminated list of strings (NULL when null/absent). */
static bool get_list(struct parse *ps, json_object *o, const char *key,
                     const char *const **ret) {
    json_object *v;
    const char **l;
    size_t n;

    *ret = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return true;
    if (!json_object_is_type(v, json_type_array) ||
        (n = json_object_array_length(v)) > DESCRIPTOR_LIST_MAX)
        return bad(ps, key);
    l = own(ps->m, calloc(n + 1, sizeof(char *)));
    if (!l) {
        ps->oom = true;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        if (!json_object_is_type(s, json_type_string))
            return bad(ps, key);
        l[i] = own(ps->m, strdup(json_object_get_string(s)));
        if (!l[i]) {
            ps->oom = true;
            return false;
        }
    }
    *ret = l;
    return true;
}

static bool get_params(struct parse *ps, json_object *o, const char *key,
                       const struct ophost_param **ret) {
    struct ophost_param *params;
    json_object *v;
    size_t n;

    *ret = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array) ||
        (n = json_object_array_length(v)) > DESCRIPTOR_PARAMS_MAX)
        return bad(ps, key);
    params = own(ps->m, calloc(n + 1, sizeof(*params)));
    if (!params) {
        ps->oom = true;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *j = json_object_array_get_idx(v, i);
        struct ophost_param *p = &params[i];
        int64_t type, flags;
        if (!json_object_is_type(j, json_type_object) || !get_str(ps, j, "key", false, &p->key) ||
            !get_str(ps, j, "description", true, &p->description) ||
            !get_int(ps, j, "type", 0, UINT32_MAX, &type) ||
            !get_int(ps, j, "flags", 0, UINT32_MAX, &flags) ||
            !get_str(ps, j, "default", true, &p->default_value) ||
            !get_list(ps, j, "allowed", &p->allowed) || !get_list(ps, j, "aliases", &p->aliases) ||
            !get_int(ps, j, "min", INT64_MIN, INT64_MAX, &p->min) ||
            !get_int(ps, j, "max", INT64_MIN, INT64_MAX, &p->max))
            return bad(ps, key);
        p->type = (uint32_t) type;
        p->flags = (uint32_t) flags;
    }
    *ret = params;
    return true;
}

static bool get_operator(struct parse *ps, json_object *j, struct ophost_operator *op) {
    int64_t flags, priority;

    if (!json_object_is_type(j, json_type_object))
        return bad(ps, "operators");
    op->struct_size = sizeof(*op);
    if (!get_str(ps, j, "name", false, &op->name) ||
        !get_str(ps, j, "description", true, &op->description) ||
        !get_int(ps, j, "flags", 0, UINT32_MAX, &flags) ||
        !get_int(ps, j, "priority", INT32_MIN, INT32_MAX, &priority) ||
        !get_list(ps, j, "dependencies", &op->dependencies) ||
        !get_params(ps, j, "global_params", &op->global_params) ||
        !get_params(ps, j, "instance_params", &op->instance_params))
        return false;
    op->flags = (uint32_t) flags;
    op->priority = (int32_t) priority;
    return true;
}

int descriptor_from_json(json_object *o, struct plugin *p, char **ret_error) {
    struct parse ps = { .m = calloc(1, sizeof(struct owned)) };
    struct ophost_plugin *d;
    json_object *ops;
    int64_t major, minor;
    size_t n = 0;
    int r;

    if (!ps.m)
        return -ENOMEM;
    p->release = release_owned;
    p->release_data = ps.m;
    d = own(ps.m, calloc(1, sizeof(*d)));
    if (!d)
        return -ENOMEM;
    p->desc = d;
    if (!json_object_is_type(o, json_type_object) || !get_str(&ps, o, "name", false, &d->name) ||
        !get_str(&ps, o, "version", true, &d->version) ||
        !get_str(&ps, o, "description", true, &d->description) ||
        !get_int(&ps, o, "abi_major", 0, UINT16_MAX, &major) ||
        !get_int(&ps, o, "abi_minor", 0, UINT16_MAX, &minor) ||
        !json_object_object_get_ex(o, "operators", &ops) ||
        !json_object_is_type(ops, json_type_array) ||
        (n = json_object_array_length(ops)) > DESCRIPTOR_OPERATORS_MAX)
        goto malformed;
    d->abi_major = (uint16_t) major;
    d->abi_minor = (uint16_t) minor;
    d->struct_size = sizeof(*d);
    r = descriptor_check_abi(p->path, d->abi_major, d->abi_minor, ret_error);
    if (r < 0)
        return r;
    p->operators = calloc(n ? n : 1, sizeof(struct ophost_operator));
    if (!p->operators)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!get_operator(&ps, json_object_array_get_idx(ops, i), &p->operators[i]))
            goto malformed;
        p->n_operators++;
    }
    return descriptor_check(p, ret_error);

malformed:
    if (ps.oom)
        return -ENOMEM;
    *ret_error = strprintf("%s: descriptor: malformed answer of the scanner (member '%s')",
                           p->path, ps.what ? ps.what : "?");
    return -EBADMSG;
}

/* run-request.c — the session an ad-hoc Run call describes (see
 * run-request.h). */
#include "run-request.h"

#include <errno.h>

#include "params.h"
#include "util.h"

/* Whether v is a string without a NUL inside ("sa\u0000x" would be
 * taken for "sa" by everything that reads C strings). */
static bool whole_string(json_object *v) {
    return json_object_is_type(v, json_type_string) &&
           strlen(json_object_get_string(v)) == (size_t) json_object_get_string_len(v);
}

/* Whether v is a string that can name an operator. */
static bool operator_name(json_object *v) {
    return whole_string(v) && name_is_valid(json_object_get_string(v));
}

/* A param value from JSON: strings as they are, numbers and booleans as
 * their text. NULL for anything else. */
static char *param_value_text(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_string:
        return whole_string(v) ? strdup(json_object_get_string(v)) : NULL;
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    default:
        return NULL;
    }
}

/* Appends an operator with params (a JSON object or NULL) to cs; on a bad
 * value writes the offending parameter path into bad. */
static int cs_add_operator(struct config_session *cs, const char *name, json_object *params,
                           char *bad, size_t bad_len, const char *where) {
    struct config_operator *ops, *co;
    size_t n;

    if (params && !json_object_is_type(params, json_type_object)) {
        snprintf(bad, bad_len, "%s.params", where);
        return -EINVAL;
    }
    /* Named twice (e.g. the gadget in "params" and in "operators"): one
     * operator with the params of both. */
    co = (struct config_operator *) config_session_operator(cs, name);
    if (!co) {
        ops = realloc(cs->operators, (cs->n_operators + 1) * sizeof(*ops));
        if (!ops)
            return -ENOMEM;
        cs->operators = ops;
        co = &ops[cs->n_operators++];
        *co = (struct config_operator){ 0 }; /* no position: not from a file */
        co->name = strdup(name);
        if (!co->name)
            return -ENOMEM;
    }
    n = params ? json_object_object_length(params) : 0;
    {
        struct config_param *cp = realloc(co->params, (co->n_params + n + 1) * sizeof(*cp));
        if (!cp)
            return -ENOMEM;
        co->params = cp;
        memset(cp + co->n_params, 0, (n + 1) * sizeof(*cp));
    }
    if (!params)
        return 0;
    json_object_object_foreach(params, key, val) {
        struct config_param *cp = &co->params[co->n_params];
        cp->value = param_value_text(val);
        if (!cp->value) {
            snprintf(bad, bad_len, "%s.params.%s", where, key);
            return -EINVAL;
        }
        cp->key = strdup(key);
        cp->pos = co->pos;
        co->n_params++;
        if (!cp->key)
            return -ENOMEM;
    }
    return 0;
}

int run_request_parse(json_object *params, unsigned *next_run, struct config_session *cs,
                      char *bad, size_t bad_len) {
    json_object *gadget, *v, *ops;
    const char *name = NULL;
    int r;

    if (!json_object_object_get_ex(params, "gadget", &gadget) || !operator_name(gadget)) {
        snprintf(bad, bad_len, "gadget");
        return -EINVAL;
    }
    if (json_object_object_get_ex(params, "name", &v) && v) {
        if (!whole_string(v) || !json_object_get_string_len(v)) {
            snprintf(bad, bad_len, "name");
            return -EINVAL;
        }
        name = json_object_get_string(v);
        if (!config_session_name_is_valid(name)) {
            snprintf(bad, bad_len, "name");
            return -EINVAL;
        }
    }
    cs->name = name ? strdup(name) : strprintf("run-%u", ++*next_run);
    cs->gadget = strdup(json_object_get_string(gadget));
    if (!cs->name || !cs->gadget)
        return -ENOMEM;
    /* cs->file and the positions stay empty: error lines then carry no
     * "FILE:LINE:COL: " prefix (config_pos_prefix). */
    cs->autostart = true;
    cs->limits = config_limits_default();
    if (json_object_object_get_ex(params, "duration", &v) && v) {
        if (!json_object_is_type(v, json_type_string) ||
            parse_duration(json_object_get_string(v), &cs->duration_nsec) < 0) {
            snprintf(bad, bad_len, "duration");
            return -EINVAL;
        }
    }
    if (json_object_object_get_ex(params, "params", &v) && v &&
        (!json_object_is_type(v, json_type_object) || json_object_object_length(v) > 0)) {
        r = cs_add_operator(cs, cs->gadget, v, bad, bad_len, "");
        if (r < 0) {
            if (r == -EINVAL && bad[0] == '.')
                memmove(bad, bad + 1, strlen(bad));
            return r;
        }
    }
    if (json_object_object_get_ex(params, "operators", &ops) && ops) {
        if (!json_object_is_type(ops, json_type_array)) {
            snprintf(bad, bad_len, "operators");
            return -EINVAL;
        }
        for (size_t i = 0; i < json_object_array_length(ops); i++) {
            json_object *o = json_object_array_get_idx(ops, i), *n = NULL, *pp = NULL;
            char where[32];
            snprintf(where, sizeof(where), "operators[%zu]", i);
            if (json_object_is_type(o, json_type_string)) {
                n = o;
            } else if (json_object_is_type(o, json_type_object)) {
                (void) json_object_object_get_ex(o, "name", &n);
                (void) json_object_object_get_ex(o, "params", &pp);
            }
            if (!n || !operator_name(n)) {
                snprintf(bad, bad_len, "%s.name", where);
                return -EINVAL;
            }
            r = cs_add_operator(cs, json_object_get_string(n), pp, bad, bad_len, where);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

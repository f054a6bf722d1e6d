/*
 * params.c — typed operator params. Descriptors come from plugins and are
 * checked once (params_check_descriptors); values arrive as text from the
 * config and are parsed and range-checked when they are set, so the typed
 * getters never parse and never fail for a valid key of the right type.
 * Unlike Inspektor Gadget's params, a bad value is always an error with a
 * message naming the key, never a silent zero.
 */
#include "params.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "hint.h"
#include "util.h"

#define NSEC_PER_USEC UINT64_C(1000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC UINT64_C(1000000000)
#define NSEC_PER_MIN (UINT64_C(60) * NSEC_PER_SEC)
#define NSEC_PER_HOUR (UINT64_C(60) * NSEC_PER_MIN)
#define NSEC_PER_DAY (UINT64_C(24) * NSEC_PER_HOUR)

#define PARAM_FLAGS_KNOWN (OPHOST_PARAM_MANDATORY | OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX)

union value {
    const char *s;
    bool b;
    int64_t i;
    uint64_t u; /* uint and duration (nanoseconds) */
};

struct slot {
    bool set;
    bool has_default;
    union value value;   /* valid when set; value.s == str when a string */
    union value def;     /* valid when has_default; def.s points into the descriptor */
    char *str;           /* owned copy of a string value */
};

struct params {
    const struct ophost_param *descs;
    size_t n;
    struct slot *slots;
};

/* Why a text is not a valid value for a descriptor. */
enum value_error {
    VALUE_OK = 0,
    VALUE_SYNTAX,
    VALUE_RANGE,     /* does not fit the type (overflow) */
    VALUE_BELOW_MIN,
    VALUE_ABOVE_MAX,
    VALUE_NOT_ALLOWED,
};

/* ------------------------------------------------------------- parsers */

int parse_bool(const char *s, bool *ret) {
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };

    assert(s);
    for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Parses one or more decimal digits at *p, advancing *p. Returns -EINVAL when
 * there is no digit, -ERANGE (after consuming every digit) on overflow. */
static int parse_digits(const char **p, uint64_t *ret) {
    const char *s = *p;
    uint64_t v = 0;
    bool overflow = false;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t) (*s - '0'), &v))
            overflow = true;
    }
    *p = s;
    if (overflow)
        return -ERANGE;
    *ret = v;
    return 0;
}

int parse_uint(const char *s, uint64_t *ret) {
    uint64_t v;
    int r;

    assert(s);
    r = parse_digits(&s, &v);
    if (r == -EINVAL || *s != '\0')
        return -EINVAL;
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

int parse_int(const char *s, int64_t *ret) {
    bool negative = false;
    uint64_t v;
    int r;

    assert(s);
    if (*s == '+' || *s == '-')
        negative = *s++ == '-';
    r = parse_digits(&s, &v);
    if (r == -EINVAL || *s != '\0')
        return -EINVAL;
    if (r < 0)
        return r;
    if (negative) {
        if (v > (uint64_t) INT64_MAX + 1)
            return -ERANGE;
        *ret = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v;
    } else {
        if (v > (uint64_t) INT64_MAX)
            return -ERANGE;
        *ret = (int64_t) v;
    }
    return 0;
}

static const struct {
    const char *suffix;
    uint64_t nsec;
} duration_units[] = {
    /* Longest suffixes that share a prefix first ("ms" before "m"). */
    { "ns", 1 },
    { "us", NSEC_PER_USEC },
    { "ms", NSEC_PER_MSEC },
    { "s", NSEC_PER_SEC },
    { "m", NSEC_PER_MIN },
    { "h", NSEC_PER_HOUR },
    { "d", NSEC_PER_DAY },
};

/*
 * A sequence of <number><unit> ("1m30s"); a number is digits with an optional
 * fraction ("1.5s"). A string that is only a number means seconds. Fractions
 * finer than a nanosecond are truncated. Overflow is reported only when the
 * whole text is otherwise well-formed, so garbage is always -EINVAL.
 */
int parse_duration(const char *s, uint64_t *ret_nsec) {
    uint64_t total = 0;
    bool overflow = false;
    const char *p = s;

    assert(s);
    if (*p == '\0')
        return -EINVAL;
    while (*p) {
        uint64_t whole = 0, frac = 0, frac_div = 1, unit = 0, part;
        const char *start = p;
        int r;

        r = parse_digits(&p, &whole);
        if (r == -EINVAL)
            return -EINVAL;
        if (r == -ERANGE)
            overflow = true;
        if (*p == '.') {
            p++;
            if (*p < '0' || *p > '9')
                return -EINVAL;
            /* 18 digits keep frac * unit within 128 bits; more cannot
             * change the result by a nanosecond. */
            for (; *p >= '0' && *p <= '9'; p++)
                if (frac_div < UINT64_C(1000000000000000000)) {
                    frac = frac * 10 + (uint64_t) (*p - '0');
                    frac_div *= 10;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
            size_t l = strlen(duration_units[i].suffix);
            if (strncmp(p, duration_units[i].suffix, l) == 0) {
                unit = duration_units[i].nsec;
                p += l;
                break;
            }
        }
        if (unit == 0) {
            /* A bare number is seconds, but only as the whole text. */
            if (*p != '\0' || start != s)
                return -EINVAL;
            unit = NSEC_PER_SEC;
        }
        if (overflow)
            continue;
        if (__builtin_mul_overflow(whole, unit, &part) ||
            __builtin_add_overflow(part, (uint64_t) ((unsigned __int128) frac * unit / frac_div), &part) ||
            __builtin_add_overflow(total, part, &total))
            overflow = true;
    }
    if (overflow)
        return -ERANGE;
    *ret_nsec = total;
    return 0;
}

int parse_size(const char *s, uint64_t *ret) {
    static const struct {
        char suffix;
        unsigned shift;
    } units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
    uint64_t v;
    unsigned shift = 0;
    int r;

    assert(s);
    r = parse_digits(&s, &v);
    if (r == -EINVAL)
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(units) && *s; i++)
        if (*s == units[i].suffix) {
            shift = units[i].shift;
            s++;
        }
    if (*s != '\0')
        return -EINVAL;
    if (r == -ERANGE || (shift && v > (UINT64_MAX >> shift)))
        return -ERANGE;
    *ret = v << shift;
    return 0;
}

const char *param_type_name(uint32_t type) {
    switch (type) {
    case OPHOST_PARAM_STRING:
        return "string";
    case OPHOST_PARAM_BOOL:
        return "bool";
    case OPHOST_PARAM_INT:
        return "int";
    case OPHOST_PARAM_UINT:
        return "uint";
    case OPHOST_PARAM_DURATION:
        return "duration";
    default:
        return "unknown";
    }
}

/* -------------------------------------------------------------- helpers */

/* Formats nanoseconds in the largest unit that is exact: "10s", "500ms". */
static void format_duration(uint64_t nsec, char *buf, size_t size) {
    if (nsec == 0) {
        snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = ELEMENTSOF(duration_units); i-- > 0;)
        if (nsec % duration_units[i].nsec == 0) {
            snprintf(buf, size, "%" PRIu64 "%s", nsec / duration_units[i].nsec,
                     duration_units[i].suffix);
            return;
        }
    assert(false); /* "ns" divides everything */
}

/* Formats a min/max of a descriptor in its type's terms. */
static void format_limit(uint32_t type, int64_t limit, char *buf, size_t size) {
    if (type == OPHOST_PARAM_INT)
        snprintf(buf, size, "%" PRId64, limit);
    else if (type == OPHOST_PARAM_UINT)
        snprintf(buf, size, "%" PRIu64, (uint64_t) limit);
    else
        format_duration((uint64_t) limit, buf, size);
}

/* "a, b, c"; NULL on ENOMEM. */
static char *join_allowed(const char *const *allowed) {
    size_t len = 1;
    char *s, *q;

    for (size_t i = 0; allowed[i]; i++)
        len += strlen(allowed[i]) + 2;
    s = q = malloc(len);
    if (!s)
        return NULL;
    *q = '\0';
    for (size_t i = 0; allowed[i]; i++)
        q += sprintf(q, "%s%s", i > 0 ? ", " : "", allowed[i]);
    return s;
}

/* Stores a formatted message in *ret_error (if ret_error) and returns err,
 * or -ENOMEM if the message could not be allocated. */
_printf_(3, 4) static int fail(char **ret_error, int err, const char *fmt, ...) {
    va_list ap;
    char *m;

    if (!ret_error)
        return err;
    va_start(ap, fmt);
    m = vstrprintf(fmt, ap);
    va_end(ap);
    *ret_error = m;
    return m ? err : -ENOMEM;
}

static bool has_limits(const struct ophost_param *d) {
    return d->flags & (OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX);
}

/* Compares a parsed numeric value with a limit of d: <0, 0, >0. */
static int compare_limit(const struct ophost_param *d, const union value *v, int64_t limit) {
    if (d->type == OPHOST_PARAM_INT)
        return v->i < limit ? -1 : v->i > limit;
    return v->u < (uint64_t) limit ? -1 : v->u > (uint64_t) limit;
}

/* Parses text as a value of d (type, min/max, allowed values). For strings
 * ret->s points to text. */
static enum value_error value_parse(const struct ophost_param *d, const char *text,
                                    union value *ret) {
    union value v;
    int r;

    switch (d->type) {
    case OPHOST_PARAM_STRING:
        if (d->allowed) {
            size_t i;
            for (i = 0; d->allowed[i]; i++)
                if (streq(d->allowed[i], text))
                    break;
            if (!d->allowed[i])
                return VALUE_NOT_ALLOWED;
        }
        v.s = text;
        r = 0;
        break;
    case OPHOST_PARAM_BOOL:
        r = parse_bool(text, &v.b);
        break;
    case OPHOST_PARAM_INT:
        r = parse_int(text, &v.i);
        break;
    case OPHOST_PARAM_UINT:
        r = parse_uint(text, &v.u);
        break;
    case OPHOST_PARAM_DURATION:
        r = parse_duration(text, &v.u);
        break;
    default:
        assert(false); /* descriptors are checked before values are parsed */
        return VALUE_SYNTAX;
    }
    if (r == -ERANGE)
        return VALUE_RANGE;
    if (r < 0)
        return VALUE_SYNTAX;
    if ((d->flags & OPHOST_PARAM_HAS_MIN) && compare_limit(d, &v, d->min) < 0)
        return VALUE_BELOW_MIN;
    if ((d->flags & OPHOST_PARAM_HAS_MAX) && compare_limit(d, &v, d->max) > 0)
        return VALUE_ABOVE_MAX;
    *ret = v;
    return VALUE_OK;
}

/*
 * Fills *ret_error with why text is not a value of d and returns -EINVAL.
 * Messages about a value the user gave end in an example of what is
 * accepted; messages about a plugin's default don't (the plugin author is
 * the reader there, and the type is named).
 */
static int value_fail(const struct ophost_param *d, const char *text, bool is_default,
                      enum value_error e, char **ret_error) {
    const char *what = is_default ? "default " : "";
    const char *noun = "", *example = "";
    _cleanup_free_ char *list = NULL;
    char limit[32];

    switch (e) {
    case VALUE_SYNTAX:
    case VALUE_RANGE:
        switch (d->type) {
        case OPHOST_PARAM_BOOL:
            noun = "bool";
            example = " (true/false, yes/no, on/off, 1/0)";
            break;
        case OPHOST_PARAM_INT:
            noun = e == VALUE_RANGE ? "a 64-bit integer" : "integer";
            break;
        case OPHOST_PARAM_UINT:
            noun = e == VALUE_RANGE ? "a 64-bit unsigned integer" : "unsigned integer";
            break;
        case OPHOST_PARAM_DURATION:
            noun = e == VALUE_RANGE ? "a duration" : "duration";
            example = " (e.g. 500ms, 2s, 1m30s)";
            break;
        }
        if (e == VALUE_RANGE)
            return fail(ret_error, -EINVAL, "param '%s': %s'%s' is out of range for %s", d->key,
                        what, text, noun);
        return fail(ret_error, -EINVAL, "param '%s': %s'%s' is not a valid %s%s", d->key, what,
                    text, noun, is_default ? "" : example);
    case VALUE_BELOW_MIN:
        format_limit(d->type, d->min, limit, sizeof(limit));
        return fail(ret_error, -EINVAL, "param '%s': %s'%s' is below the minimum %s", d->key,
                    what, text, limit);
    case VALUE_ABOVE_MAX:
        format_limit(d->type, d->max, limit, sizeof(limit));
        return fail(ret_error, -EINVAL, "param '%s': %s'%s' is above the maximum %s", d->key,
                    what, text, limit);
    case VALUE_NOT_ALLOWED:
        list = join_allowed(d->allowed);
        if (!list)
            return -ENOMEM;
        return fail(ret_error, -EINVAL, "param '%s': %s'%s' is not one of: %s", d->key, what,
                    text, list);
    case VALUE_OK:
        break;
    }
    assert(false);
    return -EINVAL;
}

static size_t descs_count(const struct ophost_param *descs) {
    size_t n = 0;
    while (descs && descs[n].key)
        n++;
    return n;
}

static bool desc_has_name(const struct ophost_param *d, const char *name) {
    if (streq(d->key, name))
        return true;
    for (size_t i = 0; d->aliases && d->aliases[i]; i++)
        if (streq(d->aliases[i], name))
            return true;
    return false;
}

/* Whether name is used by descs[0..n), or (with own) is the key of descs[n]
 * or one of its first n_aliases aliases: each name is compared only with the
 * names before it. */
static bool name_taken(const struct ophost_param *descs, size_t n, bool own, size_t n_aliases,
                       const char *name) {
    for (size_t i = 0; i < n; i++)
        if (desc_has_name(&descs[i], name))
            return true;
    if (!own)
        return false;
    if (streq(descs[n].key, name))
        return true;
    for (size_t i = 0; i < n_aliases; i++)
        if (streq(descs[n].aliases[i], name))
            return true;
    return false;
}

/* --------------------------------------------------------- descriptors */

static int check_one(const struct ophost_param *descs, size_t n, char **ret_error) {
    const struct ophost_param *d = &descs[n];
    union value v;
    enum value_error e;

    if (!name_is_valid(d->key))
        return fail(ret_error, -EINVAL, "param '%s': invalid name (use a-z, 0-9, '_' and '-')",
                    d->key);
    if (name_taken(descs, n, false, 0, d->key))
        return fail(ret_error, -EINVAL, "duplicate param '%s'", d->key);
    for (size_t i = 0; d->aliases && d->aliases[i]; i++) {
        if (!name_is_valid(d->aliases[i]))
            return fail(ret_error, -EINVAL,
                        "param '%s': invalid alias '%s' (use a-z, 0-9, '_' and '-')", d->key,
                        d->aliases[i]);
        if (name_taken(descs, n, true, i, d->aliases[i]))
            return fail(ret_error, -EINVAL, "duplicate param '%s'", d->aliases[i]);
    }

    if (d->type < OPHOST_PARAM_STRING || d->type > OPHOST_PARAM_DURATION)
        return fail(ret_error, -EINVAL, "param '%s': unknown type %" PRIu32, d->key, d->type);
    if (d->flags & ~PARAM_FLAGS_KNOWN)
        return fail(ret_error, -EINVAL, "param '%s': unknown flags 0x%" PRIx32, d->key,
                    d->flags & ~PARAM_FLAGS_KNOWN);

    if (d->allowed) {
        if (d->type != OPHOST_PARAM_STRING)
            return fail(ret_error, -EINVAL, "param '%s': allowed values are only for string params",
                        d->key);
        if (!d->allowed[0])
            return fail(ret_error, -EINVAL, "param '%s': the list of allowed values is empty",
                        d->key);
    }

    if (has_limits(d)) {
        if (d->type != OPHOST_PARAM_INT && d->type != OPHOST_PARAM_UINT &&
            d->type != OPHOST_PARAM_DURATION)
            return fail(ret_error, -EINVAL,
                        "param '%s': min/max are only for int, uint and duration params", d->key);
        if ((d->flags & OPHOST_PARAM_HAS_MIN) && (d->flags & OPHOST_PARAM_HAS_MAX)) {
            union value max = { .i = d->max };
            if (d->type != OPHOST_PARAM_INT)
                max.u = (uint64_t) d->max;
            if (compare_limit(d, &max, d->min) < 0) {
                char lo[32], hi[32];
                format_limit(d->type, d->min, lo, sizeof(lo));
                format_limit(d->type, d->max, hi, sizeof(hi));
                return fail(ret_error, -EINVAL, "param '%s': min %s is greater than max %s",
                            d->key, lo, hi);
            }
        }
    }

    /* Checked also for mandatory params, where it is ignored: a default
     * that could never be valid is a bug in the plugin either way. */
    if (d->default_value) {
        e = value_parse(d, d->default_value, &v);
        if (e != VALUE_OK)
            return value_fail(d, d->default_value, true, e, ret_error);
    }
    return 0;
}

int params_check_descriptors(const struct ophost_param *descs, char **ret_error) {
    size_t n = descs_count(descs);

    for (size_t i = 0; i < n; i++) {
        int r = check_one(descs, i, ret_error);
        if (r < 0)
            return r;
    }
    return 0;
}

/* -------------------------------------------------------------- values */

struct params *params_new(const struct ophost_param *descs) {
    struct params *p;

    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->descs = descs;
    p->n = descs_count(descs);
    p->slots = calloc(p->n ? p->n : 1, sizeof(struct slot));
    if (!p->slots) {
        free(p);
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct ophost_param *d = &descs[i];
        /* A mandatory param's default is ignored (see ophost.h). */
        if (d->default_value && !(d->flags & OPHOST_PARAM_MANDATORY)) {
            enum value_error e = value_parse(d, d->default_value, &p->slots[i].def);
            assert(e == VALUE_OK); /* params_check_descriptors passed */
            p->slots[i].has_default = e == VALUE_OK;
        }
    }
    return p;
}

struct params *params_free(struct params *p) {
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        free(p->slots[i].str);
    free(p->slots);
    free(p);
    return NULL;
}

/* Index of the param named key or having key as an alias, or -1. */
static ssize_t params_find(const struct params *p, const char *key) {
    for (size_t i = 0; i < p->n; i++)
        if (desc_has_name(&p->descs[i], key))
            return (ssize_t) i;
    return -1;
}

static int unknown_param(const struct params *p, const char *key, char **ret_error) {
    _cleanup_free_ const char **names = NULL;
    size_t count = 0, k = 0;
    const char *hint;

    /* Keys and aliases alike: a typo is closest to what the user meant. */
    for (size_t i = 0; i < p->n; i++) {
        count++;
        for (size_t j = 0; p->descs[i].aliases && p->descs[i].aliases[j]; j++)
            count++;
    }
    names = calloc(count + 1, sizeof(*names));
    if (!names)
        return -ENOMEM;
    k = 0;
    for (size_t i = 0; i < p->n; i++) {
        names[k++] = p->descs[i].key;
        for (size_t j = 0; p->descs[i].aliases && p->descs[i].aliases[j]; j++)
            names[k++] = p->descs[i].aliases[j];
    }
    hint = hint_closest(key, names);
    if (hint)
        return fail(ret_error, -ENOENT, "unknown param '%s' (did you mean '%s'?)", key, hint);
    return fail(ret_error, -ENOENT, "unknown param '%s'", key);
}

int params_set(struct params *p, const char *key, const char *value, char **ret_error) {
    const struct ophost_param *d;
    struct slot *s;
    enum value_error e;
    union value v;
    ssize_t i;

    assert(p);
    assert(key);
    assert(value);

    i = params_find(p, key);
    if (i < 0)
        return unknown_param(p, key, ret_error);
    d = &p->descs[i];
    s = &p->slots[i];
    if (s->set)
        return fail(ret_error, -EEXIST, "param '%s' given twice", d->key);

    e = value_parse(d, value, &v);
    if (e != VALUE_OK)
        return value_fail(d, value, false, e, ret_error);
    if (d->type == OPHOST_PARAM_STRING) {
        s->str = strdup(value);
        if (!s->str)
            return -ENOMEM;
        v.s = s->str;
    }
    s->value = v;
    s->set = true;
    return 0;
}

int params_check(const struct params *p, char **ret_error) {
    assert(p);
    for (size_t i = 0; i < p->n; i++)
        if ((p->descs[i].flags & OPHOST_PARAM_MANDATORY) && !p->slots[i].set)
            return fail(ret_error, -EINVAL, "missing mandatory param '%s'", p->descs[i].key);
    return 0;
}

/* The value of key if it is a param of the given type: 0, -ENOENT, -EINVAL
 * or -ENODATA. */
static int params_get(const struct params *p, const char *key, uint32_t type,
                      const union value **ret) {
    const struct slot *s;
    ssize_t i;

    assert(p);
    assert(key);
    i = params_find(p, key);
    if (i < 0)
        return -ENOENT;
    if (p->descs[i].type != type)
        return -EINVAL;
    s = &p->slots[i];
    if (s->set)
        *ret = &s->value;
    else if (s->has_default)
        *ret = &s->def;
    else
        return -ENODATA;
    return 0;
}

int params_get_string(const struct params *p, const char *key, const char **ret) {
    const union value *v;
    int r = params_get(p, key, OPHOST_PARAM_STRING, &v);
    if (r < 0)
        return r;
    *ret = v->s;
    return 0;
}

int params_get_bool(const struct params *p, const char *key, bool *ret) {
    const union value *v;
    int r = params_get(p, key, OPHOST_PARAM_BOOL, &v);
    if (r < 0)
        return r;
    *ret = v->b;
    return 0;
}

int params_get_int(const struct params *p, const char *key, int64_t *ret) {
    const union value *v;
    int r = params_get(p, key, OPHOST_PARAM_INT, &v);
    if (r < 0)
        return r;
    *ret = v->i;
    return 0;
}

int params_get_uint(const struct params *p, const char *key, uint64_t *ret) {
    const union value *v;
    int r = params_get(p, key, OPHOST_PARAM_UINT, &v);
    if (r < 0)
        return r;
    *ret = v->u;
    return 0;
}

int params_get_duration(const struct params *p, const char *key, uint64_t *ret_nsec) {
    const union value *v;
    int r = params_get(p, key, OPHOST_PARAM_DURATION, &v);
    if (r < 0)
        return r;
    *ret_nsec = v->u;
    return 0;
}

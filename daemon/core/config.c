/*
 * config.c — reads ophostd.yaml and the pipeline files with libyaml's
 * document API, so anchors and aliases resolve to shared nodes; merge keys
 * ("<<: *a", "<<: [*a, *b]") are resolved here. Every problem becomes one
 * "FILE:LINE:COL: message" line and parsing goes on, so a single run shows
 * them all; only a YAML syntax error or a runaway expansion ends a file.
 *
 * Expansion is bounded: every map entry and list item visited (again) through
 * an alias or merge key costs budget, so a "billion laughs" document is
 * refused instead of taking the daemon down.
 */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <yaml.h>

#include <ophost/ophost.h>

#include "hint.h"
#include "params.h"
#include "util.h"

#define CONFIG_MAX_FILE_SIZE (4u * 1024u * 1024u)
/* Node visits allowed on top of the document's own node count. */
#define CONFIG_MAX_EXPANSION 100000u
/* Merge keys nested deeper than this are a recursive alias or an attack. */
#define CONFIG_MAX_MERGE_DEPTH 64u
/* libyaml's scanner and composer take quadratic time in flow nesting depth
 * and in anchors times aliases; real configs stay far below these. */
#define CONFIG_MAX_DEPTH 64
#define CONFIG_MAX_ANCHORS 1000
#define CONFIG_MAX_ALIASES 10000

/* More errors than this in one file are noise; the rest is not checked. */
#define CONFIG_MAX_ERRORS 100

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define DEFAULT_RESTART_DELAY_NSEC 1000000000ull

static void yaml_parser_deletep(yaml_parser_t **p) {
    if (*p)
        yaml_parser_delete(*p);
}

static void yaml_document_deletep(yaml_document_t **d) {
    if (*d)
        yaml_document_delete(*d);
}

/* An error line waiting to be sorted into file order. */
struct pending {
    unsigned line, column;
    size_t seq;
    char *text;
};

/* One parse of one file. */
struct ctx {
    const char *file; /* for messages and positions */
    yaml_document_t *doc;
    struct errors *errs;
    struct pending *pending; /* flushed to errs in file order by ctx_done */
    size_t n_pending;
    uint8_t *seen;    /* per node: structural errors of this map already reported */
    size_t budget;    /* node visits left */
    bool stop;        /* the file is given up (budget, depth, error count) */
    bool too_many;    /* an error was dropped */
    bool oom;
};

static unsigned mark_line(const yaml_mark_t *m) {
    return (unsigned) m->line + 1;
}

static unsigned mark_col(const yaml_mark_t *m) {
    return (unsigned) m->column + 1;
}

/* Records an error at n. The checks run in the order of the structure, not
 * of the text (merged keys, duplicates found first), so lines are collected
 * here and sorted by position when the file is done. */
_printf_(3, 4) static void ctx_error(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) {
    _cleanup_free_ char *msg = NULL;
    struct pending *v;
    char *text;
    va_list ap;

    if (c->n_pending >= CONFIG_MAX_ERRORS) {
        c->too_many = c->stop = true;
        return;
    }
    va_start(ap, fmt);
    msg = vstrprintf(fmt, ap);
    va_end(ap);
    text = msg ? strprintf("%s:%u:%u: %s", c->file, mark_line(&n->start_mark),
                           mark_col(&n->start_mark), msg)
               : NULL;
    v = text ? reallocarray(c->pending, c->n_pending + 1, sizeof(*v)) : NULL;
    if (!v) {
        free(text);
        c->oom = true;
        return;
    }
    c->pending = v;
    c->pending[c->n_pending] = (struct pending) {
        .line = mark_line(&n->start_mark),
        .column = mark_col(&n->start_mark),
        .seq = c->n_pending,
        .text = text,
    };
    c->n_pending++;
}

static int pending_cmp(const void *a, const void *b) {
    const struct pending *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->column != y->column)
        return x->column < y->column ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Moves the collected errors to errs in file order and frees the context. */
static void ctx_done(struct ctx *c) {
    if (c->n_pending > 0)
        qsort(c->pending, c->n_pending, sizeof(*c->pending), pending_cmp);
    for (size_t i = 0; i < c->n_pending; i++) {
        if (errors_add(c->errs, "%s", c->pending[i].text) < 0)
            c->oom = true;
        free(c->pending[i].text);
    }
    if (c->too_many &&
        errors_add(c->errs, "%s: too many errors (more than %d), giving up", c->file,
                   CONFIG_MAX_ERRORS) < 0)
        c->oom = true;
    free(c->pending);
    c->pending = NULL;
    c->n_pending = 0;
    free(c->seen);
    c->seen = NULL;
}

/* Counts one node visit; false (with one error) once the budget is spent. */
static bool ctx_visit(struct ctx *c, const yaml_node_t *n) {
    if (c->stop || c->oom)
        return false;
    if (c->budget == 0) {
        ctx_error(c, n, "too many nodes after expanding aliases and merge keys, giving up");
        c->stop = true;
        return false;
    }
    c->budget--;
    return true;
}

static bool ctx_failed(const struct ctx *c) {
    return c->stop || c->oom;
}

static yaml_node_t *ctx_node(struct ctx *c, yaml_node_item_t id) {
    return yaml_document_get_node(c->doc, id);
}

static bool is_scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE;
}

static const char *scalar_text(const yaml_node_t *n) {
    return (const char *) n->data.scalar.value;
}

/* A plain "", "~" or "null": YAML's null, which we read as "nothing here". */
static bool is_null(const yaml_node_t *n) {
    const char *s;
    if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    s = scalar_text(n);
    return streq(s, "") || streq(s, "~") || streq(s, "null") || streq(s, "Null") ||
           streq(s, "NULL");
}

static bool is_merge_key(const yaml_node_t *n) {
    return is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           streq(scalar_text(n), "<<");
}

static struct config_pos node_pos(const char *file, const yaml_node_t *n) {
    return (struct config_pos) {
        .file = file,
        .line = mark_line(&n->start_mark),
        .column = mark_col(&n->start_mark),
    };
}

/* ---- maps with merge keys resolved ---------------------------------------- */

struct entry {
    yaml_node_t *key;
    yaml_node_t *value;
    const char *name; /* the key's text */
};

struct entries {
    struct entry *v;
    size_t n, cap;
};

static void entries_done(struct entries *e) {
    free(e->v);
    *e = (struct entries) {0};
}

static int entries_push(struct entries *e, const struct entry *x) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        struct entry *v = reallocarray(e->v, cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = *x;
    return 0;
}

/* A set of key strings (open addressing), remembering each key's node, so
 * duplicate checks stay linear even for huge maps. */
struct keyset {
    const yaml_node_t **slots;
    size_t cap, n; /* cap is a power of two */
};

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ull;
    return h;
}

static const yaml_node_t **keyset_slot(const struct keyset *ks, const char *name) {
    size_t i = hash_str(name) & (ks->cap - 1);
    while (ks->slots[i] && !streq(scalar_text(ks->slots[i]), name))
        i = (i + 1) & (ks->cap - 1);
    return &ks->slots[i];
}

/* Adds key; returns the node already there (key not added), or NULL when
 * added. -ENOMEM is reported through *ret_oom. */
static const yaml_node_t *keyset_add(struct keyset *ks, const yaml_node_t *key, bool *ret_oom) {
    const yaml_node_t **slot;

    if ((ks->n + 1) * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 16;
        struct keyset bigger = {.cap = cap, .n = ks->n};
        bigger.slots = calloc(cap, sizeof(*bigger.slots));
        if (!bigger.slots) {
            *ret_oom = true;
            return NULL;
        }
        for (size_t i = 0; i < ks->cap; i++)
            if (ks->slots[i])
                *keyset_slot(&bigger, scalar_text(ks->slots[i])) = ks->slots[i];
        free(ks->slots);
        *ks = bigger;
    }
    slot = keyset_slot(ks, scalar_text(key));
    if (*slot)
        return *slot;
    *slot = key;
    ks->n++;
    return NULL;
}

enum dup_style {
    DUP_KEY,     /* "duplicate key 'x'" */
    DUP_SESSION, /* "session 'x' is already defined in FILE:LINE" */
};

/*
 * Appends the entries of map to out with merge keys resolved: explicit keys
 * win over merged ones and keep their place; merged entries take the place
 * of their "<<" entry; of several merged maps the earlier wins. Structural
 * errors of a map node are reported the first time it is flattened only, so
 * an aliased map with a problem yields one error, not one per use.
 */
static void flatten(struct ctx *c, yaml_node_t *map, enum dup_style dup, unsigned depth,
                    struct entries *out) {
    yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    size_t n = (size_t) (map->data.mapping.pairs.top - pairs);
    struct keyset ks = {0};
    _cleanup_free_ bool *skip = NULL;
    bool report;

    assert(map->type == YAML_MAPPING_NODE);
    if (!ctx_visit(c, map))
        return;
    if (depth > CONFIG_MAX_MERGE_DEPTH) {
        ctx_error(c, map, "merge keys nested too deeply (a recursive alias?), giving up");
        c->stop = true;
        return;
    }
    report = !c->seen[map - c->doc->nodes.start];
    c->seen[map - c->doc->nodes.start] = 1;

    skip = calloc(n ? n : 1, sizeof(bool));
    if (!skip) {
        c->oom = true;
        return;
    }

    /* Explicit keys first: they override whatever is merged, wherever the
     * "<<" stands. */
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *key = ctx_node(c, pairs[i].key), *value = ctx_node(c, pairs[i].value);
        const yaml_node_t *prev;

        if (!key || !value) {
            skip[i] = true;
            continue;
        }
        if (!ctx_visit(c, key) || !ctx_visit(c, value))
            goto out;
        if (is_merge_key(key))
            continue;
        if (!is_scalar(key)) {
            if (report)
                ctx_error(c, key, "expected a scalar key");
            skip[i] = true;
            continue;
        }
        prev = keyset_add(&ks, key, &c->oom);
        if (c->oom)
            goto out;
        if (prev) {
            if (report && dup == DUP_SESSION)
                ctx_error(c, key, "session '%s' is already defined in %s:%u", scalar_text(key),
                          c->file, mark_line(&prev->start_mark));
            else if (report)
                ctx_error(c, key, "duplicate key '%s'", scalar_text(key));
            skip[i] = true;
        }
    }

    for (size_t i = 0; i < n; i++) {
        yaml_node_t *key = ctx_node(c, pairs[i].key), *value = ctx_node(c, pairs[i].value);
        struct entries merged = {0};

        if (skip[i])
            continue;
        if (!is_merge_key(key)) {
            if (entries_push(out, &(struct entry) {key, value, scalar_text(key)}) < 0) {
                c->oom = true;
                goto out;
            }
            continue;
        }

        if (value->type == YAML_MAPPING_NODE)
            flatten(c, value, dup, depth + 1, &merged);
        else if (value->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = value->data.sequence.items.start;
                 it < value->data.sequence.items.top && !ctx_failed(c); it++) {
                yaml_node_t *src = ctx_node(c, *it);
                if (!src || !ctx_visit(c, src))
                    continue;
                if (src->type == YAML_MAPPING_NODE)
                    flatten(c, src, dup, depth + 1, &merged);
                else if (report)
                    ctx_error(c, src, "merge key '<<' expects a map or a list of maps");
            }
        } else if (report)
            ctx_error(c, value, "merge key '<<' expects a map or a list of maps");

        for (size_t j = 0; j < merged.n && !ctx_failed(c); j++) {
            if (keyset_add(&ks, merged.v[j].key, &c->oom) || c->oom)
                continue;
            if (entries_push(out, &merged.v[j]) < 0)
                c->oom = true;
        }
        entries_done(&merged);
        if (ctx_failed(c))
            goto out;
    }
out:
    free(ks.slots);
}

/* Flattens node if it is a map; false otherwise. */
static bool map_entries(struct ctx *c, yaml_node_t *node, enum dup_style dup,
                        struct entries *out) {
    if (!node || node->type != YAML_MAPPING_NODE)
        return false;
    flatten(c, node, dup, 0, out);
    return true;
}

/* Formats " (did you mean 'x'?)" after a message, or nothing without a hint. */
#define HINT_FMT "%s%s%s"
#define HINT_ARGS(h) (h) ? " (did you mean '" : "", (h) ? (h) : "", (h) ? "'?)" : ""

/* ---- operators and params ------------------------------------------------- */

void config_operator_clear(struct config_operator *o) {
    free(o->name);
    for (size_t i = 0; i < o->n_params; i++) {
        free(o->params[i].key);
        free(o->params[i].value);
    }
    free(o->params);
    *o = (struct config_operator){ 0 };
}

static void operators_free(struct config_operator *ops, size_t n) {
    for (size_t i = 0; i < n; i++)
        config_operator_clear(&ops[i]);
    free(ops);
}

/* The text of a param value: a scalar as is, a list of scalars joined with
 * ","; NULL for anything else. Sets c->oom on ENOMEM. */
static char *param_value(struct ctx *c, yaml_node_t *v) {
    char *s;
    size_t len = 0, pos = 0;
    yaml_node_item_t *start, *top;

    if (is_scalar(v)) {
        s = strdup(scalar_text(v));
        if (!s)
            c->oom = true;
        return s;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return NULL;
    start = v->data.sequence.items.start;
    top = v->data.sequence.items.top;
    for (yaml_node_item_t *it = start; it < top; it++) {
        yaml_node_t *item = ctx_node(c, *it);
        if (!item || !ctx_visit(c, item) || !is_scalar(item))
            return NULL;
        len += item->data.scalar.length + 1;
    }
    s = malloc(len + 1);
    if (!s) {
        c->oom = true;
        return NULL;
    }
    for (yaml_node_item_t *it = start; it < top; it++) {
        yaml_node_t *item = ctx_node(c, *it);
        if (it != start)
            s[pos++] = ',';
        memcpy(s + pos, scalar_text(item), item->data.scalar.length);
        pos += item->data.scalar.length;
    }
    s[pos] = 0;
    return s;
}

/*
 * Reads "operators:" — a map of operator name to a map of params (or null).
 * prefix ("session 'x': " or "") starts every message; positions point to
 * file. Returns true if everything was fine; *ret_ops gets what could be read
 * either way (free with operators_free).
 */
static bool parse_operators(struct ctx *c, const char *prefix, const char *file,
                            yaml_node_t *node, struct config_operator **ret_ops,
                            size_t *ret_n) {
    struct entries ops = {0};
    struct config_operator *v = NULL;
    size_t nv = 0;
    bool ok = true;

    *ret_ops = NULL;
    *ret_n = 0;
    if (is_null(node))
        return true;
    if (!map_entries(c, node, DUP_KEY, &ops)) {
        ctx_error(c, node, "%skey 'operators': expected a map of operator name to params", prefix);
        return false;
    }
    if (ctx_failed(c))
        goto fail;

    v = calloc(ops.n ? ops.n : 1, sizeof(*v));
    if (!v) {
        c->oom = true;
        goto fail;
    }
    for (size_t i = 0; i < ops.n; i++) {
        struct entry *e = &ops.v[i];
        struct config_operator *o = &v[nv];
        struct entries params = {0};

        if (streq(e->name, "")) {
            ctx_error(c, e->key, "%sempty operator name", prefix);
            ok = false;
            continue;
        }
        o->name = strdup(e->name);
        if (!o->name) {
            c->oom = true;
            goto fail;
        }
        o->pos = node_pos(file, e->key);
        nv++;
        if (is_null(e->value))
            continue;
        if (!map_entries(c, e->value, DUP_KEY, &params)) {
            ctx_error(c, e->value, "%soperator '%s': params must be a map", prefix, e->name);
            ok = false;
            continue;
        }
        o->params = calloc(params.n ? params.n : 1, sizeof(*o->params));
        if (!o->params) {
            entries_done(&params);
            c->oom = true;
            goto fail;
        }
        for (size_t j = 0; j < params.n && !ctx_failed(c); j++) {
            struct entry *pe = &params.v[j];
            struct config_param *p = &o->params[o->n_params];

            if (streq(pe->name, "")) {
                ctx_error(c, pe->key, "%soperator '%s': empty param name", prefix, e->name);
                ok = false;
                continue;
            }
            p->value = param_value(c, pe->value);
            if (!p->value) {
                if (!ctx_failed(c))
                    ctx_error(c, pe->value,
                              "%soperator '%s': param '%s': expected a scalar or a list of scalars",
                              prefix, e->name, pe->name);
                ok = false;
                continue;
            }
            p->key = strdup(pe->name);
            if (!p->key) {
                free(p->value);
                p->value = NULL;
                c->oom = true;
                break;
            }
            p->pos = node_pos(file, pe->key);
            o->n_params++;
        }
        entries_done(&params);
        if (ctx_failed(c))
            goto fail;
    }
    entries_done(&ops);
    *ret_ops = v;
    *ret_n = nv;
    return ok;

fail:
    entries_done(&ops);
    operators_free(v, nv);
    return false;
}

/* ---- pipeline files ------------------------------------------------------- */

static const char *const session_keys[] = {
    "gadget", "autostart", "duration", "restart", "restart-delay", "operators",
    "memory-max", "tasks-max", "cpu-weight", "process-deadline", "callback-deadline", NULL,
};

void config_session_clear(struct config_session *s) {
    free(s->name);
    free(s->file);
    free(s->gadget);
    operators_free(s->operators, s->n_operators);
    *s = (struct config_session) {0};
}

const struct config_operator *config_session_operator(const struct config_session *cs,
                                                      const char *name) {
    for (size_t i = 0; i < cs->n_operators; i++)
        if (streq(cs->operators[i].name, name))
            return &cs->operators[i];
    return NULL;
}

const char *config_pos_prefix(struct config_pos pos, char buf[CONFIG_POS_PREFIX_MAX]) {
    if (!pos.file)
        buf[0] = '\0';
    else
        snprintf(buf, CONFIG_POS_PREFIX_MAX, "%.4096s:%u:%u: ", pos.file, pos.line, pos.column);
    return buf;
}

bool config_session_name_is_valid(const char *s) {
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return false;
    return true;
}

struct config_limits config_limits_default(void) {
    return (struct config_limits){
        .memory_max = CONFIG_MEMORY_MAX_DEFAULT,
        .tasks_max = CONFIG_TASKS_MAX_DEFAULT,
        .cpu_weight = CONFIG_CPU_WEIGHT_DEFAULT,
        .process_deadline_nsec = CONFIG_PROCESS_DEADLINE_DEFAULT,
        .callback_deadline_nsec = CONFIG_CALLBACK_DEADLINE_DEFAULT,
    };
}

/* Reads a limit key (memory-max, tasks-max, cpu-weight, *-deadline) into
 * s->limits; false with an error otherwise. "infinity" lifts the memory and
 * task limits. */
static bool session_limit(struct ctx *c, struct config_session *s, const char *key,
                          yaml_node_t *v) {
    struct config_limits *l = &s->limits;
    const char *t;
    uint64_t x;

    if (!is_scalar(v)) {
        ctx_error(c, v, "session '%s': key '%s': expected a scalar", s->name, key);
        return false;
    }
    t = scalar_text(v);
    if (streq(key, "memory-max") || streq(key, "tasks-max")) {
        uint64_t *dst = streq(key, "memory-max") ? &l->memory_max : &l->tasks_max;
        int r;
        if (streq(t, "infinity")) {
            *dst = 0;
            return true;
        }
        r = streq(key, "memory-max") ? parse_size(t, &x) : parse_uint(t, &x);
        if (r < 0 || x == 0) {
            ctx_error(c, v, "session '%s': key '%s': '%s' is not %s or 'infinity'", s->name, key,
                      t, streq(key, "memory-max") ? "a size (e.g. 64M, 1G)" : "a positive number");
            return false;
        }
        if (streq(key, "memory-max") && x < (1ULL << 20)) {
            ctx_error(c, v, "session '%s': key 'memory-max': '%s' is below the minimum 1M",
                      s->name, t);
            return false;
        }
        *dst = x;
        return true;
    }
    if (streq(key, "cpu-weight")) {
        if (parse_uint(t, &x) < 0 || x < 1 || x > 10000) {
            ctx_error(c, v, "session '%s': key 'cpu-weight': '%s' is not a number from 1 to 10000",
                      s->name, t);
            return false;
        }
        l->cpu_weight = x;
        return true;
    }
    if (parse_duration(t, &x) < 0 || x < 1000000ULL) {
        ctx_error(c, v, "session '%s': key '%s': '%s' is not a duration of at least 1ms", s->name,
                  key, t);
        return false;
    }
    if (streq(key, "process-deadline"))
        l->process_deadline_nsec = x;
    else
        l->callback_deadline_nsec = x;
    return true;
}

/* Reads a duration key's scalar; false with an error otherwise. */
static bool session_duration(struct ctx *c, const char *session, const char *key,
                             yaml_node_t *v, uint64_t *ret) {
    if (!is_scalar(v)) {
        ctx_error(c, v, "session '%s': key '%s': expected a scalar", session, key);
        return false;
    }
    if (parse_duration(scalar_text(v), ret) < 0) {
        ctx_error(c, v, "session '%s': key '%s': '%s' is not a duration", session, key,
                  scalar_text(v));
        return false;
    }
    return true;
}

/*
 * Reads one session. Returns true with *s filled (owning everything) if it is
 * valid; false after reporting its problems (s then owns nothing).
 */
static bool parse_session(struct ctx *c, const char *file, yaml_node_t *key, yaml_node_t *value,
                          struct config_session *s) {
    const char *name = scalar_text(key);
    struct entries keys = {0};
    bool ok = true, have_gadget = false;

    *s = (struct config_session) {
        .autostart = true,
        .restart = CONFIG_RESTART_NO,
        .restart_delay_nsec = DEFAULT_RESTART_DELAY_NSEC,
        .limits = config_limits_default(),
    };

    if (!config_session_name_is_valid(name)) {
        ctx_error(c, key, "invalid session name '%s' (use A-Z, a-z, 0-9, '_', '.' and '-')", name);
        ok = false;
    }
    if (!map_entries(c, value, DUP_KEY, &keys)) {
        ctx_error(c, value, "session '%s': expected a map", name);
        return false;
    }

    s->name = strdup(name);
    s->file = strdup(file);
    if (!s->name || !s->file) {
        c->oom = true;
        goto fail;
    }
    s->pos = node_pos(s->file, key);

    for (size_t i = 0; i < keys.n && !ctx_failed(c); i++) {
        struct entry *e = &keys.v[i];
        yaml_node_t *v = e->value;

        if (streq(e->name, "gadget")) {
            have_gadget = true;
            if (!is_scalar(v) || streq(scalar_text(v), "")) {
                ctx_error(c, v, "session '%s': key 'gadget': expected a non-empty scalar", name);
                ok = false;
                continue;
            }
            s->gadget = strdup(scalar_text(v));
            if (!s->gadget)
                c->oom = true;
            s->gadget_pos = node_pos(s->file, v);
        } else if (streq(e->name, "autostart")) {
            if (!is_scalar(v)) {
                ctx_error(c, v, "session '%s': key 'autostart': expected a scalar", name);
                ok = false;
            } else if (parse_bool(scalar_text(v), &s->autostart) < 0) {
                ctx_error(c, v, "session '%s': key 'autostart': '%s' is not a bool", name,
                          scalar_text(v));
                ok = false;
            }
        } else if (streq(e->name, "duration")) {
            ok = session_duration(c, name, e->name, v, &s->duration_nsec) && ok;
        } else if (streq(e->name, "restart-delay")) {
            if (!session_duration(c, name, e->name, v, &s->restart_delay_nsec))
                ok = false;
            else if (s->restart_delay_nsec == 0) {
                ctx_error(c, v, "session '%s': key 'restart-delay': must be greater than 0", name);
                ok = false;
            }
        } else if (streq(e->name, "restart")) {
            if (is_scalar(v) && streq(scalar_text(v), "no"))
                s->restart = CONFIG_RESTART_NO;
            else if (is_scalar(v) && streq(scalar_text(v), "on-failure"))
                s->restart = CONFIG_RESTART_ON_FAILURE;
            else if (!is_scalar(v)) {
                ctx_error(c, v, "session '%s': key 'restart': expected a scalar", name);
                ok = false;
            } else {
                ctx_error(c, v, "session '%s': key 'restart': '%s' is not one of: no, on-failure",
                          name, scalar_text(v));
                ok = false;
            }
        } else if (streq(e->name, "memory-max") || streq(e->name, "tasks-max") ||
                   streq(e->name, "cpu-weight") || streq(e->name, "process-deadline") ||
                   streq(e->name, "callback-deadline")) {
            ok = session_limit(c, s, e->name, v) && ok;
        } else if (streq(e->name, "operators")) {
            _cleanup_free_ char *prefix = strprintf("session '%s': ", name);
            if (!prefix) {
                c->oom = true;
                break;
            }
            operators_free(s->operators, s->n_operators); /* only reachable once */
            ok = parse_operators(c, prefix, s->file, v, &s->operators, &s->n_operators) && ok;
        } else {
            const char *h = hint_closest(e->name, session_keys);
            ctx_error(c, e->key, "unknown key '%s' in session '%s'" HINT_FMT, e->name, name,
                      HINT_ARGS(h));
            ok = false;
        }
    }
    if (ctx_failed(c))
        goto fail;
    if (!have_gadget) {
        ctx_error(c, key, "session '%s': missing key 'gadget'", name);
        ok = false;
    }
    entries_done(&keys);
    if (!ok)
        config_session_clear(s);
    return ok;

fail:
    entries_done(&keys);
    config_session_clear(s);
    return false;
}

static int session_cmp(const void *a, const void *b) {
    return strcmp(((const struct config_session *) a)->name,
                  ((const struct config_session *) b)->name);
}

static const struct config_session *find_in(const struct config_session *v, size_t n,
                                            const char *name) {
    struct config_session key = {.name = (char *) name};
    if (n == 0)
        return NULL;
    return bsearch(&key, v, n, sizeof(*v), session_cmp);
}

/* Reports a libyaml failure; -ENOMEM or -EINVAL. */
static int report_yaml_error(const char *file, const char *text, size_t len,
                             const yaml_parser_t *parser, struct errors *errs) {
    unsigned line, col;

    if (parser->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    if (parser->error == YAML_READER_ERROR) {
        /* The reader only knows the byte offset. */
        size_t off = parser->problem_offset < len ? parser->problem_offset : len;
        line = 1;
        col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else
                col++;
        }
    } else {
        line = mark_line(&parser->problem_mark);
        col = mark_col(&parser->problem_mark);
    }
    if (errors_add(errs, "%s:%u:%u: YAML syntax error: %s", file, line, col,
                   parser->problem ? parser->problem : "unknown problem") < 0)
        return -ENOMEM;
    return -EINVAL;
}

static void yaml_event_deletep(yaml_event_t **e) {
    if (*e)
        yaml_event_delete(*e);
}

/* Adds "FILE:LINE:COL: message" at mark; -EINVAL, or -ENOMEM. */
static int error_at(struct errors *errs, const char *file, const yaml_mark_t *m,
                    const char *msg) {
    if (errors_add(errs, "%s:%u:%u: %s", file, mark_line(m), mark_col(m), msg) < 0)
        return -ENOMEM;
    return -EINVAL;
}

/*
 * A first pass over the events, before libyaml builds the document: syntax
 * errors, a second document, and the shapes libyaml handles in quadratic
 * time (deep flow nesting, many anchors and aliases) are refused here.
 */
static int check_events(const char *file, const char *text, size_t len, struct errors *errs) {
    yaml_parser_t parser;
    _cleanup_(yaml_parser_deletep) yaml_parser_t *pp = NULL;
    unsigned depth = 0, documents = 0, anchors = 0, aliases = 0;

    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    pp = &parser;
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);

    for (;;) {
        yaml_event_t event;
        _cleanup_(yaml_event_deletep) yaml_event_t *ep = NULL;
        const unsigned char *anchor = NULL;

        if (!yaml_parser_parse(&parser, &event))
            return report_yaml_error(file, text, len, &parser, errs);
        ep = &event;

        switch (event.type) {
        case YAML_STREAM_END_EVENT:
            return 0;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                return error_at(errs, file, &event.start_mark,
                                "only one YAML document per file is supported");
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > CONFIG_MAX_DEPTH)
                return error_at(errs, file, &event.start_mark,
                                "nested too deeply (more than " STRINGIFY(CONFIG_MAX_DEPTH)
                                " levels)");
            anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor
                                                             : event.data.mapping_start.anchor;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            anchor = event.data.scalar.anchor;
            /* "\0" escapes would cut names and values short unnoticed. */
            if (strlen((const char *) event.data.scalar.value) != event.data.scalar.length)
                return error_at(errs, file, &event.start_mark, "NUL bytes are not allowed");
            break;
        case YAML_ALIAS_EVENT:
            if (++aliases > CONFIG_MAX_ALIASES)
                return error_at(errs, file, &event.start_mark,
                                "too many aliases (more than " STRINGIFY(CONFIG_MAX_ALIASES) ")");
            break;
        default:
            break;
        }
        if (anchor && ++anchors > CONFIG_MAX_ANCHORS)
            return error_at(errs, file, &event.start_mark,
                            "too many anchors (more than " STRINGIFY(CONFIG_MAX_ANCHORS) ")");
    }
}

/*
 * Loads the single YAML document of text into *doc (which the caller must
 * delete with yaml_document_delete when 0 is returned). -EINVAL with an error
 * line for anything check_events refuses, -EFBIG for a text over 4 MiB.
 */
static int load_document(const char *file, const char *text, size_t len, yaml_document_t *doc,
                         struct errors *errs) {
    yaml_parser_t parser;
    _cleanup_(yaml_parser_deletep) yaml_parser_t *pp = NULL;
    int r;

    if (len > CONFIG_MAX_FILE_SIZE) {
        if (errors_add(errs, "%s: file is too large (more than 4 MiB)", file) < 0)
            return -ENOMEM;
        return -EFBIG;
    }
    r = check_events(file, text, len, errs);
    if (r < 0)
        return r;

    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    pp = &parser;
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    if (!yaml_parser_load(&parser, doc))
        return report_yaml_error(file, text, len, &parser, errs);
    return 0;
}

static int ctx_init(struct ctx *c, const char *file, yaml_document_t *doc, struct errors *errs) {
    size_t nodes = (size_t) (doc->nodes.top - doc->nodes.start);

    *c = (struct ctx) {
        .file = file,
        .doc = doc,
        .errs = errs,
        .budget = nodes + CONFIG_MAX_EXPANSION,
    };
    c->seen = calloc(nodes ? nodes : 1, 1);
    return c->seen ? 0 : -ENOMEM;
}

static int grow_sessions(struct config_pipelines *p, size_t extra) {
    struct config_session *v = reallocarray(p->sessions, p->n_sessions + extra, sizeof(*v));
    if (!v)
        return -ENOMEM;
    p->sessions = v;
    return 0;
}

int config_parse_pipelines(const char *file, const char *text, size_t len,
                           struct config_pipelines *into, struct errors *errs) {
    yaml_document_t doc;
    _cleanup_(yaml_document_deletep) yaml_document_t *dp = NULL;
    struct ctx c;
    struct entries top = {0};
    yaml_node_t *root;
    size_t n_before = errs->n, n_old = into->n_sessions;
    int r;

    r = load_document(file, text, len, &doc, errs);
    if (r < 0)
        return r;
    dp = &doc;

    root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root))
        return 0; /* empty, or only comments */

    r = ctx_init(&c, file, &doc, errs);
    if (r < 0)
        return r;
    if (!map_entries(&c, root, DUP_SESSION, &top))
        ctx_error(&c, root, "expected a map of session names at the top level");
    else if (!ctx_failed(&c) && top.n > 0 && grow_sessions(into, top.n) < 0)
        c.oom = true;

    for (size_t i = 0; i < top.n && !ctx_failed(&c); i++) {
        struct config_session s;
        const struct config_session *prev;

        if (!parse_session(&c, file, top.v[i].key, top.v[i].value, &s))
            continue;
        prev = find_in(into->sessions, n_old, s.name);
        if (prev) {
            ctx_error(&c, top.v[i].key, "session '%s' is already defined in %s:%u", s.name,
                      prev->file, prev->pos.line);
            config_session_clear(&s);
            continue;
        }
        into->sessions[into->n_sessions++] = s;
    }
    entries_done(&top);
    ctx_done(&c);

    if (c.stop)
        /* A file given up on contributes nothing. */
        while (into->n_sessions > n_old)
            config_session_clear(&into->sessions[--into->n_sessions]);
    if (into->n_sessions > 0)
        qsort(into->sessions, into->n_sessions, sizeof(*into->sessions), session_cmp);

    if (c.oom)
        return -ENOMEM;
    return errs->n > n_before ? -EINVAL : 0;
}

/* ---- reading files -------------------------------------------------------- */

/*
 * Reads a whole file of at most CONFIG_MAX_FILE_SIZE bytes into a malloc'd,
 * NUL-terminated buffer. Every failure but a missing file with missing_ok
 * adds an error line. Returns 0, -ENOENT, -EFBIG, -ENOMEM or another errno.
 */
static int read_file(const char *path, bool missing_ok, char **ret, size_t *ret_len,
                     struct errors *errs) {
    _cleanup_close_ int fd = -EBADF;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0, cap = 0;
    struct stat st;
    int r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        r = -errno;
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        r = -EISDIR;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        if (errors_add(errs, "%s: cannot read: not a regular file", path) < 0)
            return -ENOMEM;
        return -EBADF;
    }
    if (st.st_size > (off_t) CONFIG_MAX_FILE_SIZE) {
        if (errors_add(errs, "%s: file is too large (more than 4 MiB)", path) < 0)
            return -ENOMEM;
        return -EFBIG;
    }

    for (;;) {
        ssize_t k;

        if (len == cap) {
            char *b;
            if (cap > CONFIG_MAX_FILE_SIZE) {
                if (errors_add(errs, "%s: file is too large (more than 4 MiB)", path) < 0)
                    return -ENOMEM;
                return -EFBIG;
            }
            cap = cap ? cap * 2 : 16384;
            if (cap > CONFIG_MAX_FILE_SIZE + 1)
                cap = CONFIG_MAX_FILE_SIZE + 1;
            b = realloc(buf, cap + 1);
            if (!b)
                return -ENOMEM;
            buf = b;
        }
        k = read(fd, buf + len, cap - len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto fail;
        }
        if (k == 0)
            break;
        len += (size_t) k;
    }
    if (len > CONFIG_MAX_FILE_SIZE) {
        if (errors_add(errs, "%s: file is too large (more than 4 MiB)", path) < 0)
            return -ENOMEM;
        return -EFBIG;
    }
    if (!buf) {
        buf = strdup("");
        if (!buf)
            return -ENOMEM;
    }
    buf[len] = 0;
    *ret = TAKE_PTR(buf);
    *ret_len = len;
    return 0;

fail:
    if (r == -ENOENT && missing_ok)
        return r;
    if (errors_add(errs, "%s: cannot read: %s", path, strerror(-r)) < 0)
        return -ENOMEM;
    return r;
}

static bool is_pipeline_file(const char *name) {
    return name[0] != '.' && (endswith(name, ".yaml") || endswith(name, ".yml"));
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void closedirp(DIR **d) {
    if (*d)
        closedir(*d);
}

int config_load_pipelines(const char *dir, bool missing_ok, struct config_pipelines **ret,
                          struct errors *errs) {
    _cleanup_(closedirp) DIR *d = NULL;
    _cleanup_(strv_freep) char **names = NULL;
    struct config_pipelines *p;
    size_t n_before = errs->n;
    struct dirent *de;
    int r = 0;

    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;

    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT && missing_ok) {
            *ret = p;
            return 0;
        }
        r = -errno;
        config_pipelines_free(p);
        if (errors_add(errs, "%s: cannot read: %s", dir, strerror(-r)) < 0)
            return -ENOMEM;
        return r;
    }
    errno = 0;
    while ((de = readdir(d))) {
        if (is_pipeline_file(de->d_name) && strv_extend(&names, de->d_name) < 0) {
            config_pipelines_free(p);
            return -ENOMEM;
        }
        errno = 0;
    }
    if (errno != 0) {
        r = -errno;
        config_pipelines_free(p);
        if (errors_add(errs, "%s: cannot read: %s", dir, strerror(-r)) < 0)
            return -ENOMEM;
        return r;
    }
    if (names)
        qsort(names, strv_length(names), sizeof(char *), name_cmp);

    for (size_t i = 0; names && names[i]; i++) {
        _cleanup_free_ char *path = strprintf("%s/%s", dir, names[i]), *text = NULL;
        size_t len;
        int k;

        if (!path) {
            r = -ENOMEM;
            break;
        }
        k = read_file(path, false, &text, &len, errs);
        if (k >= 0)
            k = config_parse_pipelines(path, text, len, p, errs);
        /* Keep going to show every file's problems; keep the worst errno. */
        if (k == -ENOMEM) {
            r = k;
            break;
        }
        if (k < 0 && (r == 0 || r == -EINVAL))
            r = k;
    }

    if (r == 0 && errs->n > n_before)
        r = -EINVAL;
    if (r < 0) {
        config_pipelines_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

struct config_pipelines *config_pipelines_free(struct config_pipelines *p) {
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n_sessions; i++)
        config_session_clear(&p->sessions[i]);
    free(p->sessions);
    free(p);
    return NULL;
}

const struct config_session *config_pipelines_find(const struct config_pipelines *p,
                                                   const char *name) {
    if (!p || !name)
        return NULL;
    return find_in(p->sessions, p->n_sessions, name);
}

static bool operators_equal(const struct config_operator *a, size_t na,
                            const struct config_operator *b, size_t nb) {
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (!streq(a[i].name, b[i].name) || a[i].n_params != b[i].n_params)
            return false;
        for (size_t j = 0; j < a[i].n_params; j++)
            if (!streq(a[i].params[j].key, b[i].params[j].key) ||
                !streq(a[i].params[j].value, b[i].params[j].value))
                return false;
    }
    return true;
}

bool config_session_equal(const struct config_session *a, const struct config_session *b) {
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    return streq_ptr(a->name, b->name) && streq_ptr(a->gadget, b->gadget) &&
           a->autostart == b->autostart && a->duration_nsec == b->duration_nsec &&
           a->restart == b->restart && a->restart_delay_nsec == b->restart_delay_nsec &&
           memcmp(&a->limits, &b->limits, sizeof(a->limits)) == 0 &&
           operators_equal(a->operators, a->n_operators, b->operators, b->n_operators);
}

/* ---- the daemon config ---------------------------------------------------- */

int config_parse_listen(const char *s, struct sockaddr_storage *ret, unsigned *ret_len) {
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *port;
    uint64_t p;
    size_t n;

    if (!s)
        return -EINVAL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        n = (size_t) (close - s - 1);
        port = close + 2;
        if (n == 0 || n >= sizeof(host))
            return -EINVAL;
        memcpy(host, s + 1, n);
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return -EINVAL;
        n = (size_t) (colon - s);
        port = colon + 1;
        if (n == 0 || n >= sizeof(host))
            return -EINVAL;
        memcpy(host, s, n);
    }
    host[n] = '\0';
    if (port[0] < '0' || port[0] > '9' || parse_uint(port, &p) < 0 || p < 1 || p > 65535)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    if (s[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *) ret;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return -EINVAL;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t) p);
        *ret_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *) ret;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -EINVAL;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t) p);
        *ret_len = sizeof(*a);
    }
    return 0;
}

static const char *const daemon_keys[] = {
    "plugin-dirs", "pipeline-dir", "control-socket", "control-group", "control-max-connections",
    "control-idle-timeout", "metrics-listen", "log-level", "logs-directory", "operators",
    NULL,
};

static const struct {
    const char *name;
    int level;
} log_levels[] = {
    {"err", OPHOST_LOG_ERR},
    {"warning", OPHOST_LOG_WARNING},
    {"notice", OPHOST_LOG_NOTICE},
    {"info", OPHOST_LOG_INFO},
    {"debug", OPHOST_LOG_DEBUG},
};

struct daemon_config *daemon_config_free(struct daemon_config *c) {
    if (!c)
        return NULL;
    free(c->file);
    strv_free(c->plugin_dirs);
    free(c->pipeline_dir);
    free(c->control_socket);
    free(c->logs_directory);
    free(c->control_group);
    free(c->metrics_listen);
    operators_free(c->operators, c->n_operators);
    free(c);
    return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct daemon_config *, daemon_config_free)

static struct daemon_config *daemon_config_new_default(void) {
    _cleanup_(daemon_config_freep) struct daemon_config *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->log_level = OPHOST_LOG_INFO;
    c->control_max_connections = CONFIG_CONTROL_MAX_CONNECTIONS_DEFAULT;
    c->control_idle_timeout_nsec = CONFIG_CONTROL_IDLE_TIMEOUT_DEFAULT;
    c->pipeline_dir = strdup(OPHOST_DEFAULT_PIPELINE_DIR);
    c->control_socket = strdup(OPHOST_DEFAULT_CONTROL_SOCKET);
    {
        /* systemd's LogsDirectory= sets $LOGS_DIRECTORY (paths joined by ':'). */
        const char *env = getenv("LOGS_DIRECTORY");
        if (env && env[0] == '/')
            c->logs_directory = strndup(env, strcspn(env, ":"));
        else
            c->logs_directory = strdup(OPHOST_DEFAULT_LOGS_DIRECTORY);
    }
    if (!c->pipeline_dir || !c->control_socket || !c->logs_directory ||
        strv_extend(&c->plugin_dirs, OPHOST_DEFAULT_PLUGIN_DIR) < 0)
        return NULL;
    return TAKE_PTR(c);
}

/* Reads an absolute path for key into *ret (replacing it); false with an
 * error otherwise. */
static bool daemon_path(struct ctx *c, const char *key, yaml_node_t *v, char **ret) {
    char *s;

    if (!is_scalar(v)) {
        ctx_error(c, v, "key '%s': expected an absolute path", key);
        return false;
    }
    if (scalar_text(v)[0] != '/') {
        ctx_error(c, v, "key '%s': '%s' is not an absolute path", key, scalar_text(v));
        return false;
    }
    s = strdup(scalar_text(v));
    if (!s) {
        c->oom = true;
        return false;
    }
    free(*ret);
    *ret = s;
    return true;
}

static bool daemon_plugin_dirs(struct ctx *c, yaml_node_t *v, char ***ret) {
    _cleanup_(strv_freep) char **dirs = NULL;
    bool ok = true;

    if (is_scalar(v)) {
        char *s = NULL;
        if (!daemon_path(c, "plugin-dirs", v, &s))
            return false;
        if (strv_consume(&dirs, s) < 0) {
            c->oom = true;
            return false;
        }
    } else if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top && !ctx_failed(c); it++) {
            yaml_node_t *item = ctx_node(c, *it);
            char *s = NULL;

            if (!item || !ctx_visit(c, item))
                continue;
            if (!daemon_path(c, "plugin-dirs", item, &s)) {
                ok = false;
                continue;
            }
            if (strv_consume(&dirs, s) < 0) {
                c->oom = true;
                return false;
            }
        }
        if (ok && !dirs && !ctx_failed(c)) {
            ctx_error(c, v, "key 'plugin-dirs': expected at least one directory");
            return false;
        }
    } else {
        ctx_error(c, v, "key 'plugin-dirs': expected an absolute path or a list of them");
        return false;
    }
    if (!ok || ctx_failed(c))
        return false;
    strv_free(*ret);
    *ret = TAKE_PTR(dirs);
    return true;
}

static void parse_daemon(struct ctx *c, yaml_node_t *root, struct daemon_config *cfg) {
    struct entries keys = {0};

    if (!map_entries(c, root, DUP_KEY, &keys)) {
        ctx_error(c, root, "expected a map of daemon settings at the top level");
        return;
    }
    for (size_t i = 0; i < keys.n && !ctx_failed(c); i++) {
        struct entry *e = &keys.v[i];
        yaml_node_t *v = e->value;

        if (streq(e->name, "plugin-dirs"))
            daemon_plugin_dirs(c, v, &cfg->plugin_dirs);
        else if (streq(e->name, "pipeline-dir"))
            daemon_path(c, e->name, v, &cfg->pipeline_dir);
        else if (streq(e->name, "logs-directory"))
            daemon_path(c, e->name, v, &cfg->logs_directory);
        else if (streq(e->name, "control-socket")) {
            struct sockaddr_un sa;
            if (is_scalar(v) && v->data.scalar.length >= sizeof(sa.sun_path))
                ctx_error(c, v, "key 'control-socket': path is too long for a socket (at most %zu bytes)",
                          sizeof(sa.sun_path) - 1);
            else
                daemon_path(c, e->name, v, &cfg->control_socket);
        } else if (streq(e->name, "control-group")) {
            if (is_null(v)) {
                free(cfg->control_group);
                cfg->control_group = NULL;
            } else if (!is_scalar(v) || streq(scalar_text(v), ""))
                ctx_error(c, v, "key 'control-group': expected a group name");
            else {
                char *s = strdup(scalar_text(v));
                if (!s)
                    c->oom = true;
                free(cfg->control_group);
                cfg->control_group = s;
            }
        } else if (streq(e->name, "control-max-connections")) {
            uint64_t n;
            if (!is_scalar(v) || parse_uint(scalar_text(v), &n) < 0 || n < 1 || n > 1000000)
                ctx_error(c, v, "key 'control-max-connections': expected a number from 1 to 1000000");
            else
                cfg->control_max_connections = (unsigned) n;
        } else if (streq(e->name, "control-idle-timeout")) {
            uint64_t t;
            if (!is_scalar(v) || parse_duration(scalar_text(v), &t) < 0 || t < 1000000000ULL)
                ctx_error(c, v, "key 'control-idle-timeout': expected a duration of at least 1s");
            else
                cfg->control_idle_timeout_nsec = t;
        } else if (streq(e->name, "metrics-listen")) {
            struct sockaddr_storage sa;
            unsigned len;
            if (is_null(v) || (is_scalar(v) && streq(scalar_text(v), ""))) {
                free(cfg->metrics_listen);
                cfg->metrics_listen = NULL;
            } else if (!is_scalar(v) || config_parse_listen(scalar_text(v), &sa, &len) < 0)
                ctx_error(c, v, "key 'metrics-listen': '%s' is not ADDRESS:PORT with a numeric "
                                "IPv4 address or an IPv6 address in brackets and a port from 1 "
                                "to 65535 (e.g. 127.0.0.1:9469 or [::1]:9469)",
                          is_scalar(v) ? scalar_text(v) : "(not a scalar)");
            else {
                char *t = strdup(scalar_text(v));
                if (!t)
                    c->oom = true;
                free(cfg->metrics_listen);
                cfg->metrics_listen = t;
            }
        } else if (streq(e->name, "log-level")) {
            bool found = false;
            for (size_t j = 0; is_scalar(v) && j < ELEMENTSOF(log_levels); j++)
                if (streq(scalar_text(v), log_levels[j].name)) {
                    cfg->log_level = log_levels[j].level;
                    found = true;
                }
            if (!is_scalar(v))
                ctx_error(c, v, "key 'log-level': expected a scalar");
            else if (!found)
                ctx_error(c, v,
                          "key 'log-level': '%s' is not one of: err, warning, notice, info, debug",
                          scalar_text(v));
        } else if (streq(e->name, "operators")) {
            operators_free(cfg->operators, cfg->n_operators);
            parse_operators(c, "", cfg->file, v, &cfg->operators, &cfg->n_operators);
        } else {
            const char *h = hint_closest(e->name, daemon_keys);
            ctx_error(c, e->key, "unknown key '%s' in daemon config" HINT_FMT, e->name,
                      HINT_ARGS(h));
        }
    }
    entries_done(&keys);
}

int config_load_daemon(const char *path, bool must_exist, struct daemon_config **ret,
                       struct errors *errs) {
    _cleanup_(daemon_config_freep) struct daemon_config *cfg = NULL;
    _cleanup_free_ char *text = NULL;
    _cleanup_(yaml_document_deletep) yaml_document_t *dp = NULL;
    yaml_document_t doc;
    yaml_node_t *root;
    size_t len, n_before = errs->n;
    struct ctx c;
    int r;

    cfg = daemon_config_new_default();
    if (!cfg)
        return -ENOMEM;

    r = read_file(path, !must_exist, &text, &len, errs);
    if (r == -ENOENT && !must_exist) {
        *ret = TAKE_PTR(cfg);
        return 0;
    }
    if (r < 0)
        return r;

    cfg->file = strdup(path);
    if (!cfg->file)
        return -ENOMEM;
    r = load_document(cfg->file, text, len, &doc, errs);
    if (r < 0)
        return r;
    dp = &doc;

    root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root)) {
        r = ctx_init(&c, cfg->file, &doc, errs);
        if (r < 0)
            return r;
        parse_daemon(&c, root, cfg);
        ctx_done(&c);
        if (c.oom)
            return -ENOMEM;
    }
    if (errs->n > n_before)
        return -EINVAL;
    *ret = TAKE_PTR(cfg);
    return 0;
}

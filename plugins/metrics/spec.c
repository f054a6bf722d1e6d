/*
 * spec.c — parsing and checking the metrics operator's `metrics` param
 * (grammar in spec.h). A hand-written recursive-descent parser over the
 * text; every error names the metric (its position and name) and what was
 * expected where.
 *
 * Names follow Prometheus' rules and the conventions `promtool check
 * metrics` enforces, so that what the operator publishes is accepted as
 * is: metric names [a-z_][a-z0-9_]* (the ':' of the rule is for recording
 * rules, capitals are refused as camelCase), counters end in _total and
 * nothing else does, a histogram's name does not end in _bucket, _sum or
 * _count; label names [a-zA-Z_][a-zA-Z0-9_]*, none starting with "__", and
 * not le, quantile, session or ophost_overflow, which the operator and the
 * daemon add themselves.
 */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *s;         /* the whole text */
    const char *p;         /* where we are */
    unsigned index;        /* 1-based number of the metric being parsed */
    const char *name;      /* its name, once known */
    char *err;
    size_t err_size;
    bool oom;
};

const char *spec_kind_type(enum metric_kind kind) {
    return kind == METRIC_LAST ? "gauge" : kind == METRIC_HISTOGRAM ? "histogram" : "counter";
}

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...) {
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ps->name)
        snprintf(ps->err, ps->err_size, "metric %u ('%s'): %s", ps->index, ps->name, msg);
    else
        snprintf(ps->err, ps->err_size, "metric %u: %s", ps->index, msg);
    return -EINVAL;
}

static void skip_blanks(struct parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

/* What is at the current position, for messages: "'xyz'" or "the end". */
static const char *found(struct parser *ps, char buf[32]) {
    size_t n = 0;

    skip_blanks(ps);
    if (!*ps->p || *ps->p == ';')
        return *ps->p ? "';'" : "the end";
    buf[n++] = '\'';
    while (ps->p[n - 1] && n < 20 && ps->p[n - 1] != ' ' && ps->p[n - 1] != ';')
        buf[n] = ps->p[n - 1], n++;
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

static bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == ':';
}

/* A word: [A-Za-z0-9_.:-]+, copied; NULL (with *ok false on ENOMEM) if none. */
static char *word(struct parser *ps) {
    const char *start;
    char *w;

    skip_blanks(ps);
    start = ps->p;
    while (is_word_char(*ps->p))
        ps->p++;
    if (ps->p == start)
        return NULL;
    w = strndup(start, (size_t) (ps->p - start));
    if (!w)
        ps->oom = true;
    return w;
}

static bool accept(struct parser *ps, char c) {
    skip_blanks(ps);
    if (*ps->p != c)
        return false;
    ps->p++;
    return true;
}

static int expect(struct parser *ps, char c, const char *after) {
    char buf[32];
    if (accept(ps, c))
        return 0;
    return fail(ps, "expected '%c' %s, found %s", c, after, found(ps, buf));
}

/* Whether the next word is kw (consumed if so). */
static bool keyword(struct parser *ps, const char *kw) {
    size_t n = strlen(kw);
    skip_blanks(ps);
    if (strncmp(ps->p, kw, n) != 0 || is_word_char(ps->p[n]))
        return false;
    ps->p += n;
    return true;
}

/* A finite decimal number. */
static int number(struct parser *ps, const char *what, double *ret) {
    const char *start;
    char buf[32], *end;
    double v;

    skip_blanks(ps);
    start = ps->p;
    while ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.' || *ps->p == 'e' ||
           *ps->p == 'E' || *ps->p == '+' || *ps->p == '-')
        ps->p++;
    if (ps->p == start) {
        ps->p = start;
        return fail(ps, "expected a number for %s, found %s", what, found(ps, buf));
    }
    errno = 0;
    v = strtod(start, &end);
    if (end != ps->p || errno != 0 || !isfinite(v)) {
        ps->p = start;
        return fail(ps, "%s: '%.*s' is not a finite decimal number", what,
                    (int) (end > start ? end - start : 1), start);
    }
    *ret = v;
    return 0;
}

/* A quoted string with \" and \\ escapes. */
static int quoted(struct parser *ps, char **ret) {
    char buf[32], *out;
    size_t n = 0;

    skip_blanks(ps);
    if (*ps->p != '"')
        return fail(ps, "expected a quoted help text after 'help', found %s", found(ps, buf));
    ps->p++;
    out = malloc(strlen(ps->p) + 1);
    if (!out) {
        ps->oom = true;
        return -ENOMEM;
    }
    for (; *ps->p && *ps->p != '"'; ps->p++) {
        if (*ps->p == '\\' && (ps->p[1] == '"' || ps->p[1] == '\\'))
            ps->p++;
        out[n++] = *ps->p;
    }
    if (*ps->p != '"') {
        free(out);
        return fail(ps, "the help text has no closing '\"'");
    }
    ps->p++;
    out[n] = '\0';
    *ret = out;
    return 0;
}

static bool field_name_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_word_char(s[i]) || s[i] == ':')
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int check_metric_name(struct parser *ps, const struct spec_metric *m) {
    const char *n = m->name;

    for (size_t i = 0; n[i]; i++) {
        char c = n[i];
        if (c == ':')
            return fail(ps, "':' in a metric name is for Prometheus recording rules; use '_'");
        if (c >= 'A' && c <= 'Z')
            return fail(ps, "capitals in a metric name: Prometheus names are snake_case "
                            "(a-z, 0-9, '_')");
        if (!((c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9' && i > 0)))
            return fail(ps, "invalid metric name: use a-z, 0-9 and '_', not starting with a "
                            "digit (Prometheus' rule)");
    }
    if (strncmp(n, "__", 2) == 0)
        return fail(ps, "names starting with '__' are Prometheus' own");
    if (strncmp(n, "ophost_", 7) == 0)
        return fail(ps, "names starting with 'ophost_' are ophost's own metrics");
    if ((m->kind == METRIC_COUNT || m->kind == METRIC_SUM) && !ends_with(n, "_total"))
        return fail(ps, "a counter's name ends in '_total' (Prometheus convention, checked by "
                        "promtool): e.g. '%s_total'", n);
    if (m->kind != METRIC_COUNT && m->kind != METRIC_SUM && ends_with(n, "_total"))
        return fail(ps, "only counters (count, sum) have names ending in '_total'; this is a %s",
                    spec_kind_type(m->kind));
    if (m->kind == METRIC_HISTOGRAM &&
        (ends_with(n, "_bucket") || ends_with(n, "_sum") || ends_with(n, "_count")))
        return fail(ps, "a histogram's name must not end in _bucket, _sum or _count (its "
                        "samples add those)");
    return 0;
}

/* The label name of a field: lower case, every other character '_'. */
static char *label_from_field(const char *field) {
    size_t n = strlen(field);
    char *s = malloc(n + 2), *o = s;

    if (!s)
        return NULL;
    if (field[0] >= '0' && field[0] <= '9')
        *o++ = '_';
    for (size_t i = 0; i < n; i++) {
        char c = field[i];
        if (c >= 'A' && c <= 'Z')
            c = (char) (c - 'A' + 'a');
        *o++ = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '_';
    }
    *o = '\0';
    return s;
}

static int check_label(struct parser *ps, const struct spec_metric *m, size_t k) {
    static const char *const reserved[] = { "le", "quantile", "session", "ophost_overflow" };
    const char *l = m->labels[k].name;

    if (!((l[0] >= 'a' && l[0] <= 'z') || (l[0] >= 'A' && l[0] <= 'Z') || l[0] == '_'))
        return fail(ps, "label '%s' (field '%s'): a label name starts with a letter or '_'", l,
                    m->labels[k].field);
    for (size_t i = 1; l[i]; i++)
        if (!((l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') || l[i] == '_' ||
              (l[i] >= '0' && l[i] <= '9')))
            return fail(ps, "label '%s': use a-z, A-Z, 0-9 and '_' (Prometheus' rule)", l);
    if (strncmp(l, "__", 2) == 0)
        return fail(ps, "label '%s': names starting with '__' are Prometheus' own", l);
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(l, reserved[i]) == 0)
            return fail(ps, "label '%s' (field '%s') is reserved (le, quantile: Prometheus; "
                            "session, ophost_overflow: ophost); rename it with 'as'",
                        l, m->labels[k].field);
    for (size_t i = 0; i < k; i++)
        if (strcmp(m->labels[i].name, l) == 0)
            return fail(ps, "label '%s' twice (fields '%s' and '%s')", l, m->labels[i].field,
                        m->labels[k].field);
    return 0;
}

static int parse_by(struct parser *ps, struct spec_metric *m) {
    char buf[32];
    int r;

    if ((r = expect(ps, '(', "after 'by'")) < 0)
        return r;
    do {
        struct spec_label *l;
        if (m->n_labels == SPEC_LABELS_MAX)
            return fail(ps, "more than %d labels", SPEC_LABELS_MAX);
        l = &m->labels[m->n_labels];
        l->field = word(ps);
        if (!l->field)
            return ps->oom ? -ENOMEM : fail(ps, "expected a field name in 'by (...)', found %s",
                                            found(ps, buf));
        m->n_labels++;
        if (!field_name_valid(l->field))
            return fail(ps, "'%s' is not a field name", l->field);
        if (keyword(ps, "as")) {
            l->name = word(ps);
            if (!l->name)
                return ps->oom ? -ENOMEM
                               : fail(ps, "expected a label name after 'as', found %s",
                                      found(ps, buf));
        } else if (!(l->name = label_from_field(l->field))) {
            ps->oom = true;
            return -ENOMEM;
        }
        if ((r = check_label(ps, m, m->n_labels - 1)) < 0)
            return r;
    } while (accept(ps, ','));
    return expect(ps, ')', "after the labels");
}

static int parse_buckets(struct parser *ps, struct spec_metric *m) {
    int r;

    if (m->kind != METRIC_HISTOGRAM)
        return fail(ps, "'buckets' is for histogram() only");
    if ((r = expect(ps, '(', "after 'buckets'")) < 0)
        return r;
    do {
        double v;
        if (m->n_buckets == SPEC_BUCKETS_MAX)
            return fail(ps, "more than %d buckets", SPEC_BUCKETS_MAX);
        if ((r = number(ps, "a bucket", &v)) < 0)
            return r;
        if (m->n_buckets > 0 && v <= m->buckets[m->n_buckets - 1])
            return fail(ps, "buckets must increase: %g after %g", v, m->buckets[m->n_buckets - 1]);
        m->buckets[m->n_buckets++] = v;
    } while (accept(ps, ','));
    return expect(ps, ')', "after the buckets");
}

/* The metric's own text after '=', blanks collapsed: its default help. */
static char *own_text(const char *start, const char *end) {
    char *s = malloc((size_t) (end - start) + 1);
    size_t n = 0;

    if (!s)
        return NULL;
    for (const char *p = start; p < end; p++) {
        bool blank = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
        if (blank && (n == 0 || s[n - 1] == ' '))
            continue;
        s[n++] = blank ? ' ' : *p;
    }
    while (n > 0 && s[n - 1] == ' ')
        n--;
    s[n] = '\0';
    return s;
}

static int parse_metric(struct parser *ps, struct spec_metric *m) {
    static const char *const kinds[] = { "count", "sum", "last", "histogram" };
    const char *body;
    char buf[32], *kind;
    bool by = false, help = false;
    int r;

    m->scale = 1;
    m->name = word(ps);
    if (!m->name)
        return ps->oom ? -ENOMEM : fail(ps, "expected a metric name, found %s", found(ps, buf));
    ps->name = m->name;
    if ((r = expect(ps, '=', "after the metric name")) < 0)
        return r;
    skip_blanks(ps);
    body = ps->p;
    kind = word(ps);
    if (!kind)
        return ps->oom ? -ENOMEM
                       : fail(ps, "expected count, sum, last or histogram, found %s",
                              found(ps, buf));
    for (r = 0; r < 4 && strcmp(kind, kinds[r]) != 0; r++)
        ;
    if (r == 4) {
        fail(ps, "'%s' is not count, sum, last or histogram", kind);
        free(kind);
        return -EINVAL;
    }
    free(kind);
    m->kind = (enum metric_kind) r;
    if ((r = check_metric_name(ps, m)) < 0)
        return r;
    if ((r = expect(ps, '(', "after the kind")) < 0)
        return r;
    if (m->kind != METRIC_COUNT) {
        m->field = word(ps);
        if (!m->field)
            return ps->oom ? -ENOMEM
                           : fail(ps, "%s() needs a field, found %s", kinds[m->kind],
                                  found(ps, buf));
        if (!field_name_valid(m->field))
            return fail(ps, "'%s' is not a field name", m->field);
        if (accept(ps, '*')) {
            if ((r = number(ps, "the scale after '*'", &m->scale)) < 0)
                return r;
            if (m->scale <= 0)
                return fail(ps, "the scale after '*' must be above 0");
        }
    }
    if ((r = expect(ps, ')', m->kind == METRIC_COUNT ? "after 'count(' (count() takes no field)"
                                                     : "after the field")) < 0)
        return r;
    for (;;) {
        skip_blanks(ps);
        if (!*ps->p || *ps->p == ';')
            break;
        if (keyword(ps, "by")) {
            if (by)
                return fail(ps, "'by' twice");
            by = true;
            r = parse_by(ps, m);
        } else if (keyword(ps, "buckets")) {
            if (m->n_buckets > 0)
                return fail(ps, "'buckets' twice");
            r = parse_buckets(ps, m);
        } else if (keyword(ps, "help")) {
            if (help)
                return fail(ps, "'help' twice");
            help = true;
            r = quoted(ps, &m->help);
        } else
            return fail(ps, "expected 'by', 'buckets', 'help', ';' or the end, found %s",
                        found(ps, buf));
        if (r < 0)
            return r;
    }
    if (m->kind == METRIC_HISTOGRAM && m->n_buckets == 0)
        return fail(ps, "histogram() needs buckets(...), e.g. buckets(0.001, 0.01, 0.1, 1)");
    if (!m->help && !(m->help = own_text(body, ps->p))) {
        ps->oom = true;
        return -ENOMEM;
    }
    return 0;
}

void spec_free(struct spec_metric *m, size_t n) {
    for (size_t i = 0; m && i < n; i++) {
        free(m[i].name);
        free(m[i].field);
        free(m[i].help);
        for (size_t k = 0; k < m[i].n_labels; k++) {
            free(m[i].labels[k].field);
            free(m[i].labels[k].name);
        }
    }
    free(m);
}

/* Names that would make two families, or samples, collide. */
static int check_names(struct parser *ps, const struct spec_metric *m, size_t n) {
    static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++) {
            if (i != k && i < k && strcmp(m[i].name, m[k].name) == 0) {
                ps->index = (unsigned) k + 1;
                ps->name = m[k].name;
                return fail(ps, "a second metric of that name (metric %zu)", i + 1);
            }
            if (m[i].kind != METRIC_HISTOGRAM || i == k)
                continue;
            for (size_t s = 0; s < 3; s++) {
                size_t len = strlen(m[i].name);
                if (strncmp(m[k].name, m[i].name, len) == 0 &&
                    strcmp(m[k].name + len, suffixes[s]) == 0) {
                    ps->index = (unsigned) k + 1;
                    ps->name = m[k].name;
                    return fail(ps, "collides with the %s samples of histogram '%s'",
                                suffixes[s], m[i].name);
                }
            }
        }
    return 0;
}

int spec_parse(const char *text, struct spec_metric **ret, char *err, size_t err_size) {
    struct parser ps = { .s = text, .p = text, .err = err, .err_size = err_size };
    struct spec_metric *m = NULL;
    size_t n = 0, cap = 0;
    int r = 0;

    err[0] = '\0';
    for (;;) {
        skip_blanks(&ps);
        if (!*ps.p)
            break;
        if (n == cap) {
            struct spec_metric *grown = realloc(m, (cap ? cap * 2 : 4) * sizeof(*m));
            if (!grown) {
                r = -ENOMEM;
                break;
            }
            m = grown;
            cap = cap ? cap * 2 : 4;
        }
        memset(&m[n], 0, sizeof(m[n]));
        ps.index = (unsigned) n + 1;
        ps.name = NULL;
        r = parse_metric(&ps, &m[n++]);
        if (r < 0)
            break;
        skip_blanks(&ps);
        if (*ps.p == ';')
            ps.p++;
        else if (*ps.p) {
            char buf[32];
            r = fail(&ps, "expected ';' between metrics, found %s", found(&ps, buf));
            break;
        }
    }
    if (r >= 0 && n == 0) {
        snprintf(err, err_size, "no metric given (e.g. 'events_total = count()')");
        r = -EINVAL;
    }
    if (r >= 0)
        r = check_names(&ps, m, n);
    if (ps.oom && r >= 0)
        r = -ENOMEM;
    if (r < 0) {
        if (r == -ENOMEM)
            snprintf(err, err_size, "out of memory");
        spec_free(m, n);
        return r;
    }
    *ret = m;
    return (int) n;
}

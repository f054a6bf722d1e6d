/*
 * exposition.c — checking, indexing and merging the metrics texts of
 * operator instances (see exposition.h).
 *
 * The check is one pass over the lines (O(length)): HELP and TYPE lines
 * open a family, samples join the open family when their name fits its
 * type (NAME; NAME_bucket/_sum/_count of a histogram; NAME_sum/_count of a
 * summary) or else open an untyped family of their own name. Two hash sets
 * catch a family that shows up again after another one and a series
 * written twice. The index keeps, per sample, where its line is, how long
 * its name is and where its value part starts, so that serving it with the
 * session label is three copies.
 */
#include "exposition.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "utf8.h"
#include "util.h"

struct expo_family {
    const char *name;
    uint32_t name_len;
    const char *help;           /* as written (escaped), when has_help */
    uint32_t help_len;
    bool has_help, has_type;
    enum expo_type type;
    uint32_t first, n;          /* its samples: samples[first..first+n) */
};

struct expo_sample {
    uint32_t off, len;          /* the line, without its '\n' */
    uint32_t name_len;
    uint32_t tail;              /* where what follows the label set starts */
    bool labels;                /* a non-empty label set */
};

struct exposition {
    unsigned ref;
    const char *text;
    size_t size;
    void *map;                  /* the memfd's mapping, or NULL */
    char *copy;                 /* or a copy (exposition_from_text) */
    int parsed;                 /* 0 not yet, 1 valid, < 0 the error */
    bool reported;
    char *error;
    struct expo_family *families;
    size_t n_families, cap_families;
    struct expo_sample *samples;
    size_t n_samples, cap_samples;
};

static const char *const type_names[] = {
    [EXPO_UNTYPED] = "untyped", [EXPO_COUNTER] = "counter", [EXPO_GAUGE] = "gauge",
    [EXPO_HISTOGRAM] = "histogram", [EXPO_SUMMARY] = "summary",
};

/* ------------------------------------------------------------- buffer */

static bool buf_grow(struct expo_buf *b, size_t n) {
    size_t cap;
    char *p;

    if (b->oom)
        return false;
    if (b->len + n <= b->cap)
        return true;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void expo_buf_put(struct expo_buf *b, const char *s, size_t n) {
    if (n == 0 || !buf_grow(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void expo_buf_puts(struct expo_buf *b, const char *s) {
    expo_buf_put(b, s, strlen(s));
}

void expo_buf_printf(struct expo_buf *b, const char *fmt, ...) {
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_grow(b, (size_t) n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void expo_buf_free(struct expo_buf *b) {
    free(b->data);
    *b = (struct expo_buf){ 0 };
}

/* ------------------------------------------------------------ objects */

int exposition_from_fd(int fd, struct exposition **ret, char **ret_error) {
    const int need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
    struct exposition *e;
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals < 0 || (seals & need) != need) {
        *ret_error = strdup("a metrics text that is not a sealed memory file");
        return -EBADMSG;
    }
    if (fstat(fd, &st) < 0) {
        int r = -errno;
        *ret_error = strprintf("cannot read a metrics text: %s", strerror(-r));
        return r;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t) st.st_size > PROTO_METRICS_MAX) {
        *ret_error = strprintf("a metrics text of %lld bytes (at most %u)",
                               (long long) st.st_size, PROTO_METRICS_MAX);
        return -EBADMSG;
    }
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->ref = 1;
    e->size = (size_t) st.st_size;
    if (e->size > 0) {
        e->map = mmap(NULL, e->size, PROT_READ, MAP_SHARED, fd, 0);
        if (e->map == MAP_FAILED) {
            int r = -errno;
            free(e);
            *ret_error = strprintf("cannot map a metrics text: %s", strerror(-r));
            return r;
        }
        e->text = e->map;
    } else
        e->text = "";
    *ret = e;
    return 0;
}

struct exposition *exposition_from_text(const char *text, size_t len) {
    struct exposition *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->ref = 1;
    e->copy = malloc(len + 1);
    if (!e->copy) {
        free(e);
        return NULL;
    }
    memcpy(e->copy, text, len);
    e->copy[len] = '\0';
    e->text = e->copy;
    e->size = len;
    return e;
}

struct exposition *exposition_ref(struct exposition *e) {
    if (e)
        e->ref++;
    return e;
}

struct exposition *exposition_unref(struct exposition *e) {
    if (!e || --e->ref > 0)
        return NULL;
    if (e->map)
        munmap(e->map, e->size);
    free(e->copy);
    free(e->error);
    free(e->families);
    free(e->samples);
    free(e);
    return NULL;
}

bool exposition_first_report(struct exposition *e) {
    bool first = !e->reported;
    e->reported = true;
    return first;
}

size_t exposition_families(const struct exposition *e) {
    return e->n_families;
}

size_t exposition_samples(const struct exposition *e) {
    return e->n_samples;
}

/* ---------------------------------------------------------- the rules */

static bool is_alpha_(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool expo_metric_name_valid(const char *name, size_t len) {
    if (len == 0 || !(is_alpha_(name[0]) || name[0] == ':'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alpha_(name[i]) && !is_digit(name[i]) && name[i] != ':')
            return false;
    return true;
}

bool expo_label_name_valid(const char *name, size_t len) {
    if (len == 0 || !is_alpha_(name[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alpha_(name[i]) && !is_digit(name[i]))
            return false;
    return true;
}

/* A sample value: a decimal float, +Inf, -Inf or NaN. */
static bool value_valid(const char *s, size_t n) {
    size_t i = 0, digits = 0;

    if ((n == 3 && memcmp(s, "NaN", 3) == 0) || (n == 4 && memcmp(s, "+Inf", 4) == 0) ||
        (n == 4 && memcmp(s, "-Inf", 4) == 0))
        return true;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && is_digit(s[i]); i++)
            digits++;
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < n && is_digit(s[i]); i++)
            exp++;
        if (exp == 0)
            return false;
    }
    return i == n;
}

/* HELP text: UTF-8 with the escapes \\ and \n only. */
static const char *help_problem(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\\') {
            if (i + 1 == n || (s[i + 1] != '\\' && s[i + 1] != 'n'))
                return "a HELP text may only escape \\\\ and \\n";
            i++;
        }
    return utf8_valid(s, n) ? NULL : "the HELP text is not valid UTF-8";
}

/* ------------------------------------------------------------- hash set */

/* A per-process random seed: the texts come from plugins, and keys made to
 * share the low bits of an unseeded hash would turn the checks quadratic. */
static uint64_t hash_seed(void) {
    static uint64_t seed;
    static bool have;
    if (!have) {
        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t) sizeof(seed))
            seed = (uint64_t) monotonic_usec() * 0x9e3779b97f4a7c15ULL ^ (uint64_t) getpid();
        have = true;
    }
    return seed;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = hash_seed() ^ 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, s + i, n - i);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

/* A set of byte strings of the text (offsets, no copies). */
struct span_set {
    struct span {
        uint64_t hash;
        const char *s;
        uint32_t len;
    } *slots;
    size_t cap, n;
};

static void span_set_free(struct span_set *set) {
    free(set->slots);
    *set = (struct span_set){ 0 };
}

/* 1 if added, 0 if it was there, -ENOMEM. */
static int span_set_add(struct span_set *set, const char *s, size_t len) {
    uint64_t h = hash_bytes(s, len);
    size_t i;

    if ((set->n + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        struct span *slots = calloc(cap, sizeof(*slots));
        if (!slots)
            return -ENOMEM;
        for (size_t k = 0; k < set->cap; k++)
            if (set->slots[k].s) {
                for (i = set->slots[k].hash & (cap - 1); slots[i].s; i = (i + 1) & (cap - 1))
                    ;
                slots[i] = set->slots[k];
            }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    for (i = h & (set->cap - 1); set->slots[i].s; i = (i + 1) & (set->cap - 1))
        if (set->slots[i].hash == h && set->slots[i].len == len &&
            memcmp(set->slots[i].s, s, len) == 0)
            return 0;
    set->slots[i] = (struct span){ h, s, (uint32_t) len };
    set->n++;
    return 1;
}

/* ---------------------------------------------------------------- parse */

struct parser {
    struct exposition *e;
    struct span_set names, series;
    unsigned line;
    struct expo_family *cur;
    char *error;
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...) {
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = vstrprintf(fmt, ap);
    va_end(ap);
    free(p->error);
    p->error = strprintf("line %u: %s", p->line, msg ? msg : "invalid");
    return p->error ? -EBADMSG : -ENOMEM;
}

/* Names of ophost_* families are the daemon's own, but for the metrics
 * operator's ophost_metrics_*. */
static bool name_reserved(const char *name, size_t len) {
    return len >= 7 && memcmp(name, "ophost_", 7) == 0 &&
           !(len >= 15 && memcmp(name, "ophost_metrics_", 15) == 0);
}

static int family_new(struct parser *p, const char *name, size_t len, struct expo_family **ret) {
    struct exposition *e = p->e;
    int r;

    if (name_reserved(name, len))
        return perr(p, "family '%.*s': names starting with 'ophost_' are the daemon's own "
                       "(but 'ophost_metrics_')", (int) len, name);
    r = span_set_add(&p->names, name, len);
    if (r < 0)
        return r;
    if (r == 0)
        return perr(p, "family '%.*s' shows up again after another family (a family's lines "
                       "must be together)", (int) len, name);
    if (e->n_families == e->cap_families) {
        size_t cap = e->cap_families ? e->cap_families * 2 : 16;
        struct expo_family *f = realloc(e->families, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        e->families = f;
        e->cap_families = cap;
        p->cur = NULL; /* moved */
    }
    e->families[e->n_families] = (struct expo_family){
        .name = name, .name_len = (uint32_t) len, .first = (uint32_t) e->n_samples,
    };
    p->cur = *ret = &e->families[e->n_families++];
    return 0;
}

/* The family a HELP or TYPE line of name is about: the open one when it
 * has that name and no sample yet, else a new one. */
static int meta_family(struct parser *p, const char *name, size_t len, struct expo_family **ret) {
    if (!expo_metric_name_valid(name, len))
        return perr(p, "invalid metric name '%.*s'", (int) len, name);
    if (p->cur && p->cur->name_len == len && memcmp(p->cur->name, name, len) == 0) {
        if (p->cur->n > 0)
            return perr(p, "a HELP or TYPE line of '%.*s' after its samples", (int) len, name);
        *ret = p->cur;
        return 0;
    }
    return family_new(p, name, len, ret);
}

static int parse_comment(struct parser *p, const char *l, size_t n) {
    struct expo_family *f;
    const char *name, *rest;
    size_t name_len, rest_len;
    bool help;
    int r;

    if (n >= 7 && memcmp(l, "# HELP ", 7) == 0)
        help = true;
    else if (n >= 7 && memcmp(l, "# TYPE ", 7) == 0)
        help = false;
    else
        return 0; /* a comment */
    name = l + 7;
    rest = memchr(name, ' ', n - 7);
    name_len = rest ? (size_t) (rest - name) : n - 7;
    rest = rest ? rest + 1 : l + n;
    rest_len = (size_t) (l + n - rest);
    r = meta_family(p, name, name_len, &f);
    if (r < 0)
        return r;
    if (help) {
        const char *why = help_problem(rest, rest_len);
        if (f->has_help)
            return perr(p, "a second HELP line for '%.*s'", (int) name_len, name);
        if (why)
            return perr(p, "%s", why);
        f->has_help = true;
        f->help = rest;
        f->help_len = (uint32_t) rest_len;
        return 0;
    }
    if (f->has_type)
        return perr(p, "a second TYPE line for '%.*s'", (int) name_len, name);
    for (size_t t = 0; t < ELEMENTSOF(type_names); t++)
        if (strlen(type_names[t]) == rest_len && memcmp(type_names[t], rest, rest_len) == 0) {
            f->type = (enum expo_type) t;
            f->has_type = true;
            return 0;
        }
    return perr(p, "TYPE '%.*s' of '%.*s' is not counter, gauge, histogram, summary or untyped",
                (int) rest_len, rest, (int) name_len, name);
}

static bool has_suffix(const char *name, size_t len, const struct expo_family *f,
                       const char *suffix) {
    size_t sl = strlen(suffix);
    return len == f->name_len + sl && memcmp(name, f->name, f->name_len) == 0 &&
           memcmp(name + f->name_len, suffix, sl) == 0;
}

/* Whether a sample called name belongs to family f. */
static bool belongs(const struct expo_family *f, const char *name, size_t len) {
    bool same = len == f->name_len && memcmp(name, f->name, len) == 0;
    switch (f->type) {
    case EXPO_HISTOGRAM:
        return has_suffix(name, len, f, "_bucket") || has_suffix(name, len, f, "_sum") ||
               has_suffix(name, len, f, "_count");
    case EXPO_SUMMARY:
        return same || has_suffix(name, len, f, "_sum") || has_suffix(name, len, f, "_count");
    default:
        return same;
    }
}

#define LABELS_MAX 64

/* Parses the label set at l[*i] ('{'); sets *i past '}'. */
static int parse_labels(struct parser *p, const char *l, size_t n, size_t *i, bool *ret_any,
                        bool *ret_le) {
    struct {
        const char *s;
        size_t len;
    } seen[LABELS_MAX];
    size_t n_seen = 0, k = *i + 1;

    *ret_any = *ret_le = false;
    while (k < n && l[k] != '}') {
        const char *name = l + k, *value;
        size_t name_len;

        while (k < n && (is_alpha_(l[k]) || is_digit(l[k])))
            k++;
        name_len = (size_t) (l + k - name);
        if (!expo_label_name_valid(name, name_len))
            return perr(p, "invalid label name at column %zu", (size_t) (name - l) + 1);
        if (name_len >= 2 && name[0] == '_' && name[1] == '_')
            return perr(p, "label '%.*s': names starting with '__' are Prometheus' own",
                        (int) name_len, name);
        if (name_len == 7 && memcmp(name, "session", 7) == 0)
            return perr(p, "label 'session' is the daemon's (it adds the session's name)");
        for (size_t s = 0; s < n_seen; s++)
            if (seen[s].len == name_len && memcmp(seen[s].s, name, name_len) == 0)
                return perr(p, "label '%.*s' twice in one sample", (int) name_len, name);
        if (n_seen == LABELS_MAX)
            return perr(p, "more than %d labels in one sample", LABELS_MAX);
        seen[n_seen].s = name;
        seen[n_seen++].len = name_len;
        if (name_len == 2 && memcmp(name, "le", 2) == 0)
            *ret_le = true;
        if (k + 1 >= n || l[k] != '=' || l[k + 1] != '"')
            return perr(p, "label '%.*s': expected =\"VALUE\"", (int) name_len, name);
        k += 2;
        value = l + k;
        for (; k < n && l[k] != '"'; k++)
            if (l[k] == '\\') {
                if (k + 1 >= n || (l[k + 1] != '\\' && l[k + 1] != '"' && l[k + 1] != 'n'))
                    return perr(p, "label '%.*s': a value may only escape \\\\, \\\" and \\n",
                                (int) name_len, name);
                k++;
            }
        if (k >= n)
            return perr(p, "label '%.*s': unterminated value", (int) name_len, name);
        if (!utf8_valid(value, (size_t) (l + k - value)))
            return perr(p, "label '%.*s': the value is not valid UTF-8", (int) name_len, name);
        k++; /* the closing quote */
        if (k < n && l[k] == ',')
            k++;
        else if (k < n && l[k] != '}')
            return perr(p, "expected ',' or '}' at column %zu", k + 1);
    }
    if (k >= n)
        return perr(p, "unterminated label set");
    *ret_any = n_seen > 0;
    *i = k + 1;
    return 0;
}

static int parse_sample(struct parser *p, const char *l, size_t n, uint32_t off) {
    struct exposition *e = p->e;
    struct expo_family *f = p->cur;
    size_t i = 0, name_len, key_len, tail, v;
    bool labels = false, le = false;
    int r;

    while (i < n && (is_alpha_(l[i]) || is_digit(l[i]) || l[i] == ':'))
        i++;
    name_len = i;
    if (!expo_metric_name_valid(l, name_len))
        return perr(p, "expected a sample (NAME{LABELS} VALUE), a HELP/TYPE line or a comment");
    if (i < n && l[i] == '{') {
        r = parse_labels(p, l, n, &i, &labels, &le);
        if (r < 0)
            return r;
    }
    key_len = labels ? i : name_len;
    tail = i;
    if (i >= n || (l[i] != ' ' && l[i] != '\t'))
        return perr(p, "expected a blank and the value after '%.*s'", (int) name_len, l);
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    for (v = i; i < n && l[i] != ' ' && l[i] != '\t'; i++)
        ;
    if (!value_valid(l + v, i - v))
        return perr(p, "'%.*s' is not a sample value (a decimal number, +Inf, -Inf or NaN)",
                    (int) (i - v), l + v);
    if (i < n)
        return perr(p, "samples with timestamps are not supported");

    if (!f || !belongs(f, l, name_len)) {
        r = family_new(p, l, name_len, &f);
        if (r < 0)
            return r;
    }
    if (f->type == EXPO_HISTOGRAM && has_suffix(l, name_len, f, "_bucket") && !le)
        return perr(p, "histogram bucket '%.*s' without an 'le' label", (int) name_len, l);
    r = span_set_add(&p->series, l, key_len);
    if (r < 0)
        return r;
    if (r == 0)
        return perr(p, "series '%.*s' twice", (int) key_len, l);
    if (e->n_samples == e->cap_samples) {
        size_t cap = e->cap_samples ? e->cap_samples * 2 : 64;
        struct expo_sample *s = realloc(e->samples, cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        e->samples = s;
        e->cap_samples = cap;
    }
    e->samples[e->n_samples++] = (struct expo_sample){
        .off = off, .len = (uint32_t) n, .name_len = (uint32_t) name_len,
        .tail = (uint32_t) tail, .labels = labels,
    };
    f->n++;
    return 0;
}

int exposition_parse(struct exposition *e, const char **ret_error) {
    struct parser p = { .e = e };
    size_t pos = 0;
    int r = 0;

    if (e->parsed != 0) {
        if (e->parsed < 0 && ret_error)
            *ret_error = e->error;
        return e->parsed < 0 ? e->parsed : 0;
    }
    if (e->size > 0 && e->text[e->size - 1] != '\n') {
        p.line = 1;
        for (size_t k = 0; k < e->size; k++)
            p.line += e->text[k] == '\n';
        r = perr(&p, "the text does not end with a newline");
    }
    while (r >= 0 && pos < e->size) {
        const char *l = e->text + pos, *nl = memchr(l, '\n', e->size - pos);
        size_t n = (size_t) (nl - l);

        p.line++;
        if (n > 0 && l[0] == '#')
            r = parse_comment(&p, l, n);
        else if (n > 0)
            r = parse_sample(&p, l, n, (uint32_t) pos);
        pos += n + 1;
    }
    span_set_free(&p.names);
    span_set_free(&p.series);
    if (r == -ENOMEM) {
        free(p.error);
        return r;
    }
    if (r < 0) {
        e->error = p.error;
        e->parsed = r;
        free(e->families);
        free(e->samples);
        e->families = NULL;
        e->samples = NULL;
        e->n_families = e->n_samples = 0;
        if (ret_error)
            *ret_error = e->error;
        return r;
    }
    e->parsed = 1;
    return 0;
}

/* ---------------------------------------------------------------- merge */

struct family_ref {
    const struct expo_family *f;
    size_t source;
};

static int ref_compare(const void *a, const void *b) {
    const struct family_ref *x = a, *y = b;
    size_t n = x->f->name_len < y->f->name_len ? x->f->name_len : y->f->name_len;
    int c = memcmp(x->f->name, y->f->name, n);

    if (c != 0)
        return c;
    if (x->f->name_len != y->f->name_len)
        return x->f->name_len < y->f->name_len ? -1 : 1;
    return x->source < y->source ? -1 : x->source > y->source;
}

static void write_samples(struct expo_buf *out, const struct expo_source *src,
                          const struct expo_family *f) {
    const struct exposition *e = src->text;
    size_t session_len = strlen(src->session);

    for (uint32_t k = 0; k < f->n; k++) {
        const struct expo_sample *s = &e->samples[f->first + k];
        const char *l = e->text + s->off;

        expo_buf_put(out, l, s->name_len);
        expo_buf_put(out, "{session=\"", 10);
        expo_buf_put(out, src->session, session_len);
        if (s->labels) {
            expo_buf_put(out, "\",", 2);
            expo_buf_put(out, l + s->name_len + 1, s->len - s->name_len - 1);
        } else {
            expo_buf_put(out, "\"}", 2);
            expo_buf_put(out, l + s->tail, s->len - s->tail);
        }
        expo_buf_put(out, "\n", 1);
    }
}

int exposition_merge(struct expo_buf *out, struct expo_source *src, size_t n) {
    _cleanup_free_ struct family_ref *refs = NULL;
    size_t n_refs = 0;

    for (size_t i = 0; i < n; i++) {
        src[i].skipped = 0;
        n_refs += src[i].text->n_families;
    }
    if (n_refs == 0)
        return 0;
    refs = calloc(n_refs, sizeof(*refs));
    if (!refs)
        return -ENOMEM;
    n_refs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < src[i].text->n_families; k++)
            refs[n_refs++] = (struct family_ref){ &src[i].text->families[k], i };
    qsort(refs, n_refs, sizeof(*refs), ref_compare);

    for (size_t g = 0; g < n_refs;) {
        const struct expo_family *first = refs[g].f, *help = NULL;
        size_t end = g;

        while (end < n_refs && refs[end].f->name_len == first->name_len &&
               memcmp(refs[end].f->name, first->name, first->name_len) == 0)
            end++;
        for (size_t k = g; k < end && !help; k++)
            if (refs[k].f->has_help && refs[k].f->type == first->type)
                help = refs[k].f;
        if (help) {
            expo_buf_put(out, "# HELP ", 7);
            expo_buf_put(out, first->name, first->name_len);
            expo_buf_put(out, " ", 1);
            expo_buf_put(out, help->help, help->help_len);
            expo_buf_put(out, "\n", 1);
        }
        if (first->type != EXPO_UNTYPED) {
            expo_buf_put(out, "# TYPE ", 7);
            expo_buf_put(out, first->name, first->name_len);
            expo_buf_printf(out, " %s\n", type_names[first->type]);
        }
        for (size_t k = g; k < end; k++) {
            if (refs[k].f->type != first->type) {
                src[refs[k].source].skipped++;
                continue;
            }
            write_samples(out, &src[refs[k].source], refs[k].f);
        }
        g = end;
    }
    return out->oom ? -ENOMEM : 0;
}

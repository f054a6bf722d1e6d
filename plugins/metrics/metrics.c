/*
 * metrics — turns a session's events into Prometheus metrics: counters
 * (events, or the sum of an unsigned field), gauges (the latest value of a
 * field) and histograms (a numeric field in explicit buckets), labelled
 * with fields of the event. The metrics are declared in the `metrics`
 * param (spec.h) and checked when the session is planned (instantiate):
 * names against Prometheus' rules, fields against the data source.
 *
 * The hot path, per metric and event: the label fields' values are hashed
 * (integers as they are, strings by their bytes) and looked up in an
 * open-addressing table of the metric's series, compared field by field
 * with the stored values (no key is built, nothing is copied); the value is
 * added. A new label combination allocates its series once; past
 * `max-series` series, a combination not seen yet is counted in the
 * metric's one overflow series {ophost_overflow="true"}, a warning is
 * logged once and ophost_metrics_overflow_events_total{metric} counts those
 * events, so a label with unbounded values cannot eat the worker's memory.
 *
 * Every `publish-interval` (when anything changed), at start and at stop,
 * the series are rendered in the Prometheus text format and handed to the
 * daemon (host->metrics_publish), which serves them on /metrics with a
 * session label. The label part of each series is rendered once, when the
 * series is made.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "schema.h"
#include "spec.h"

static const struct ophost_host *host;

/* A label value of one event: an integer, or a string's bytes. */
struct keyval {
    uint64_t num;
    const char *str;     /* NULL for an integer field */
    uint32_t len;
};

struct series {
    uint64_t hash;
    uint64_t u;          /* count(), sum() unscaled, histogram count, last() raw */
    double d;            /* sum() scaled, histogram sum */
    bool set;            /* last(): a value arrived */
    uint64_t *buckets;   /* histogram: n_buckets + 1 counts, not cumulative */
    struct keyval *keys; /* its label values (strings copied into the block) */
    char *text;          /* the label part: a="x",b="1" */
    uint32_t text_len;
};

struct metric {
    const struct spec_metric *spec;
    ophost_field field;                   /* sum, last, histogram */
    ophost_field labels[SPEC_LABELS_MAX];
    size_t n_labels;
    struct series **table;                /* open addressing, cap a power of 2 */
    size_t cap;
    struct series **order;                /* in the order they appeared */
    size_t n_series, cap_order;
    struct series *overflow;
    uint64_t overflow_events;
    struct keyval kv[SPEC_LABELS_MAX];    /* the current event's label values */
};

struct metrics_op {
    struct ophost_datasource *ds;
    struct spec_metric *spec;
    size_t n;
    struct metric *m;
    uint64_t max_series;
    uint64_t interval_nsec;
    struct ophost_source *timer;
    bool dirty;
    char *out;
    size_t out_len, out_cap;
    bool out_oom;
};

/* ------------------------------------------------------------- values */

static bool type_is_integer(uint32_t t) {
    return t >= OPHOST_FIELD_U8 && t <= OPHOST_FIELD_S64;
}

static bool type_is_signed(uint32_t t) {
    return t == OPHOST_FIELD_S32 || t == OPHOST_FIELD_S64;
}

static bool type_is_string(uint32_t t) {
    return t == OPHOST_FIELD_STRING || t == OPHOST_FIELD_BYTES;
}

/* A numeric field's value as 64 bits (signed ones sign-extended). */
static inline uint64_t read_raw(const struct ophost_event *e, ophost_field f) {
    switch (f.type) {
    case OPHOST_FIELD_U8:
        return ophost_event_get_u8(e, f);
    case OPHOST_FIELD_U16:
        return ophost_event_get_u16(e, f);
    case OPHOST_FIELD_U32:
        return ophost_event_get_u32(e, f);
    case OPHOST_FIELD_S32:
        return (uint64_t) (int64_t) ophost_event_get_s32(e, f);
    case OPHOST_FIELD_BOOL:
        return ophost_event_get_bool(e, f);
    default: /* u64, s64, timestamp */
        return ophost_event_get_u64(e, f);
    }
}

static inline double raw_double(uint64_t raw, uint32_t type) {
    return type_is_signed(type) ? (double) (int64_t) raw : (double) raw;
}

/* ------------------------------------------------------------ hashing */

static inline uint64_t mix(uint64_t h, uint64_t v) {
    h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

static inline uint64_t hash_bytes(const char *s, uint32_t n) {
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    uint32_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = mix(h, w);
    }
    if (i < n) {
        /* Byte by byte: a memcpy of a variable length is a call. */
        uint64_t w = 0;
        for (unsigned shift = 0; i < n; i++, shift += 8)
            w |= (uint64_t) (unsigned char) s[i] << shift;
        h = mix(h, w);
    }
    return h;
}

/* Reads the label values of e into m->kv and returns their hash. */
static inline uint64_t event_key(struct metric *m, const struct ophost_batch *b,
                                 const struct ophost_event *e) {
    uint64_t h = 0x84222325cbf29ce4ULL;

    for (size_t k = 0; k < m->n_labels; k++) {
        struct keyval *kv = &m->kv[k];
        if (type_is_string(m->labels[k].type)) {
            size_t len = 0;
            const char *s = ophost_event_get_string(b, e, m->labels[k], &len);
            kv->str = s ? s : "";
            kv->len = s ? (uint32_t) len : 0;
            h = mix(h, hash_bytes(kv->str, kv->len));
        } else {
            kv->num = read_raw(e, m->labels[k]);
            kv->str = NULL;
            h = mix(h, kv->num);
        }
    }
    return h;
}

static inline bool keys_equal(const struct metric *m, const struct series *s) {
    for (size_t k = 0; k < m->n_labels; k++) {
        const struct keyval *a = &m->kv[k], *b = &s->keys[k];
        if (a->str ? (a->len != b->len || memcmp(a->str, b->str, a->len) != 0)
                   : a->num != b->num)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------- rendering */

/* Appends to the output buffer; a failed allocation is remembered. */
static void out_put(struct metrics_op *op, const char *s, size_t n) {
    if (op->out_oom)
        return;
    if (op->out_len + n > op->out_cap) {
        size_t cap = op->out_cap ? op->out_cap : 16384;
        char *p;
        while (cap < op->out_len + n)
            cap *= 2;
        p = realloc(op->out, cap);
        if (!p) {
            op->out_oom = true;
            return;
        }
        op->out = p;
        op->out_cap = cap;
    }
    memcpy(op->out + op->out_len, s, n);
    op->out_len += n;
}

static void out_str(struct metrics_op *op, const char *s) {
    out_put(op, s, strlen(s));
}

/* A double the way Prometheus reads it back to the same value: the
 * shortest of %.15g and %.17g that round-trips; +Inf, -Inf, NaN. */
static int format_double(char buf[40], double v) {
    if (isnan(v))
        return snprintf(buf, 40, "NaN");
    if (isinf(v))
        return snprintf(buf, 40, v > 0 ? "+Inf" : "-Inf");
    snprintf(buf, 40, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, 40, "%.17g", v);
    return (int) strlen(buf);
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Writes s as a label value's inside: \\, \" and \n escaped, bytes that
 * are not UTF-8 replaced by U+FFFD. Returns the length (at most 3 * n). */
static size_t escape_value(char *out, const char *s, size_t n) {
    size_t o = 0;

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char) s[i];
        size_t l;
        if (c == '\\' || c == '"') {
            out[o++] = '\\';
            out[o++] = (char) c;
            i++;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
            i++;
        } else if ((l = utf8_len((const unsigned char *) s + i, n - i)) > 0) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

/* The label part of a series with the values in m->kv: name="value",... */
static size_t render_labels(const struct metric *m, char *out) {
    size_t o = 0;

    for (size_t k = 0; k < m->n_labels; k++) {
        const struct keyval *kv = &m->kv[k];
        const char *name = m->spec->labels[k].name;
        size_t nl = strlen(name);

        if (k > 0)
            out[o++] = ',';
        memcpy(out + o, name, nl);
        o += nl;
        out[o++] = '=';
        out[o++] = '"';
        switch (m->labels[k].type) {
        case OPHOST_FIELD_STRING:
            o += escape_value(out + o, kv->str, kv->len);
            break;
        case OPHOST_FIELD_BYTES:
            for (uint32_t i = 0; i < kv->len; i++)
                o += (size_t) sprintf(out + o, "%02x", (unsigned char) kv->str[i]);
            break;
        case OPHOST_FIELD_BOOL:
            o += (size_t) sprintf(out + o, "%s", kv->num ? "true" : "false");
            break;
        case OPHOST_FIELD_S32:
        case OPHOST_FIELD_S64:
            o += (size_t) sprintf(out + o, "%" PRId64, (int64_t) kv->num);
            break;
        default:
            o += (size_t) sprintf(out + o, "%" PRIu64, kv->num);
        }
        out[o++] = '"';
    }
    return o;
}

/* ------------------------------------------------------------- series */

/* A new series for the label values in m->kv: one allocation holding the
 * values (strings copied), the bucket counts and the rendered labels. */
static struct series *series_new(const struct metric *m, uint64_t hash) {
    size_t nb = m->spec->kind == METRIC_HISTOGRAM ? m->spec->n_buckets + 1 : 0;
    size_t size = sizeof(struct series) + nb * sizeof(uint64_t) +
                  m->n_labels * sizeof(struct keyval), strings = 0, text = 1;
    struct series *s;
    char *p;

    for (size_t k = 0; k < m->n_labels; k++) {
        size_t len = m->kv[k].str ? m->kv[k].len : 0;
        strings += len + 1;
        text += strlen(m->spec->labels[k].name) + 4 + 3 * len + 2 * len + 24;
    }
    s = calloc(1, size + strings + text);
    if (!s)
        return NULL;
    s->hash = hash;
    s->buckets = nb ? (uint64_t *) (void *) (s + 1) : NULL;
    s->keys = (struct keyval *) (void *) ((char *) (s + 1) + nb * sizeof(uint64_t));
    p = (char *) (s->keys + m->n_labels);
    for (size_t k = 0; k < m->n_labels; k++) {
        s->keys[k] = m->kv[k];
        if (m->kv[k].str) {
            memcpy(p, m->kv[k].str, m->kv[k].len);
            p[m->kv[k].len] = '\0';
            s->keys[k].str = p;
            p += m->kv[k].len + 1;
        }
    }
    s->text = p;
    s->text_len = (uint32_t) render_labels(m, s->text);
    s->text[s->text_len] = '\0';
    return s;
}

static int order_add(struct metric *m, struct series *s) {
    if (m->n_series == m->cap_order) {
        size_t cap = m->cap_order ? m->cap_order * 2 : 16;
        struct series **o = realloc(m->order, cap * sizeof(*o));
        if (!o)
            return -ENOMEM;
        m->order = o;
        m->cap_order = cap;
    }
    m->order[m->n_series++] = s;
    return 0;
}

static int table_grow(struct metric *m) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct series **t = calloc(cap, sizeof(*t));

    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->table[i]) {
            size_t k = m->table[i]->hash & (cap - 1);
            while (t[k])
                k = (k + 1) & (cap - 1);
            t[k] = m->table[i];
        }
    free(m->table);
    m->table = t;
    m->cap = cap;
    return 0;
}

/* Whether s[0..n) is all UTF-8. */
static bool utf8_valid(const char *s, size_t n) {
    for (size_t i = 0, l; i < n; i += l)
        if (!(l = utf8_len((const unsigned char *) s + i, n - i)))
            return false;
    return true;
}

/* Whether label k is shown as its text (a string; bytes are shown in hex). */
static bool shown_as_text(const struct metric *m, size_t k) {
    return m->labels[k].type == OPHOST_FIELD_STRING;
}

/*
 * Label values are shown with U+FFFD for bytes that are not UTF-8, so two
 * values that differ only there are one series: the key of such a value
 * is the value as shown. m->kv's strings that are not UTF-8 are replaced
 * by cleaned copies in *ret_copies (freed by the caller); returns the new
 * hash, or the old one when every string was UTF-8. Events with such values
 * take the slow path each time (rare: a file name or comm of random bytes).
 */
static uint64_t key_as_shown(struct metric *m, uint64_t hash, char **ret_copies) {
    uint64_t h = 0x84222325cbf29ce4ULL;
    size_t size = 0;
    char *p;

    *ret_copies = NULL;
    for (size_t k = 0; k < m->n_labels; k++)
        if (shown_as_text(m, k) && !utf8_valid(m->kv[k].str, m->kv[k].len))
            size += 3 * (size_t) m->kv[k].len;
    if (size == 0 || !(p = *ret_copies = malloc(size)))
        return hash;
    for (size_t k = 0; k < m->n_labels; k++) {
        struct keyval *kv = &m->kv[k];
        if (shown_as_text(m, k) && !utf8_valid(kv->str, kv->len)) {
            size_t o = 0;
            for (size_t i = 0, l; i < kv->len; i += l ? l : 1) {
                if ((l = utf8_len((const unsigned char *) kv->str + i, kv->len - i)) > 0) {
                    memcpy(p + o, kv->str + i, l);
                    o += l;
                } else {
                    memcpy(p + o, "\xef\xbf\xbd", 3);
                    o += 3;
                }
            }
            kv->str = p;
            kv->len = (uint32_t) o;
            p += o;
        }
        h = mix(h, kv->str ? hash_bytes(kv->str, kv->len) : kv->num);
    }
    return h;
}

/* A series for the values in m->kv, not in the table (slot is free):
 * made, or the overflow series; NULL on ENOMEM. Logs the first overflow. */
static struct series *series_add(struct ophost_ctx *ctx, struct metric *m, uint64_t max,
                                 uint64_t hash, size_t slot) {
    struct series *s;

    if (m->n_series >= max) {
        if (!m->overflow) {
            size_t len = strlen("ophost_overflow=\"true\"");
            m->overflow = calloc(1, sizeof(*m->overflow) + len + 1 +
                                        (m->spec->n_buckets + 1) * sizeof(uint64_t));
            if (!m->overflow)
                return NULL;
            m->overflow->buckets = (uint64_t *) (void *) (m->overflow + 1);
            m->overflow->text = (char *) (m->overflow->buckets + m->spec->n_buckets + 1);
            memcpy(m->overflow->text, "ophost_overflow=\"true\"", len + 1);
            m->overflow->text_len = (uint32_t) len;
            host->log(ctx, OPHOST_LOG_WARNING,
                      "metric '%s': %" PRIu64 " series (label combinations) reached "
                      "(max-series); events of further combinations are counted in its series "
                      "{ophost_overflow=\"true\"} and in "
                      "ophost_metrics_overflow_events_total, continuing",
                      m->spec->name, max);
        }
        m->overflow_events++;
        return m->overflow;
    }
    s = series_new(m, hash);
    if (!s || order_add(m, s) < 0) {
        free(s);
        return NULL;
    }
    m->table[slot] = s;
    if ((m->n_series + 1) * 2 > m->cap && table_grow(m) < 0)
        return NULL; /* s stays reachable through order and the old table */
    return s;
}

/* The series of the values in m->kv, which the table did not have under
 * their bytes (slot is where the search ended): the series of the values
 * as shown, or a new one. NULL on ENOMEM. */
static struct series *series_slow(struct ophost_ctx *ctx, struct metric *m, uint64_t max,
                                  uint64_t hash, size_t slot) {
    char *copies;
    uint64_t shown = key_as_shown(m, hash, &copies);
    struct series *s = NULL;

    if (shown != hash) {
        hash = shown;
        for (slot = hash & (m->cap - 1); (s = m->table[slot]); slot = (slot + 1) & (m->cap - 1))
            if (s->hash == hash && keys_equal(m, s))
                break;
    }
    if (!s)
        s = series_add(ctx, m, max, hash, slot);
    free(copies);
    return s;
}

/* The series of event e (see series_slow). The table is never full: it is
 * grown at half load. */
static inline struct series *series_of(struct ophost_ctx *ctx, struct metric *m, uint64_t max,
                                       const struct ophost_batch *b,
                                       const struct ophost_event *e) {
    uint64_t h = event_key(m, b, e);
    size_t i = h & (m->cap - 1);

    for (struct series *s; (s = m->table[i]); i = (i + 1) & (m->cap - 1))
        if (s->hash == h && keys_equal(m, s))
            return s;
    return series_slow(ctx, m, max, h, i);
}

static inline size_t bucket_of(const struct spec_metric *sp, double v) {
    size_t i = 0;
    while (i < sp->n_buckets && v > sp->buckets[i])
        i++;
    return i; /* n_buckets: +Inf */
}

/* ------------------------------------------------------------ process */

static int metrics_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct metrics_op *op = data;

    if (b->ds != op->ds)
        return 0;
    for (size_t k = 0; k < op->n; k++) {
        struct metric *m = &op->m[k];
        const struct spec_metric *sp = m->spec;
        for (uint32_t i = 0; i < b->n; i++) {
            const struct ophost_event *e = ophost_batch_event(b, i);
            struct series *s = m->n_labels ? series_of(ctx, m, op->max_series, b, e)
                                           : m->order[0];
            uint64_t raw;
            double v;

            if (!s)
                return host->error(ctx, -ENOMEM, "metric '%s': out of memory for a new series",
                                   sp->name);
            switch (sp->kind) {
            case METRIC_COUNT:
                s->u++;
                break;
            case METRIC_SUM:
                raw = read_raw(e, m->field);
                if (sp->scale == 1)
                    s->u += raw;
                else
                    s->d += (double) raw * sp->scale;
                break;
            case METRIC_LAST:
                s->u = read_raw(e, m->field);
                s->set = true;
                break;
            case METRIC_HISTOGRAM:
                v = raw_double(read_raw(e, m->field), m->field.type) * sp->scale;
                s->buckets[bucket_of(sp, v)]++;
                s->d += v;
                s->u++;
                break;
            }
        }
    }
    op->dirty = true;
    return 0;
}

/* ------------------------------------------------------------ publish */

static void render_value(struct metrics_op *op, const struct metric *m, const struct series *s) {
    const struct spec_metric *sp = m->spec;
    char buf[40];
    int n;

    if (sp->kind == METRIC_COUNT || (sp->kind == METRIC_SUM && sp->scale == 1))
        n = snprintf(buf, sizeof(buf), "%" PRIu64, s->u);
    else if (sp->kind == METRIC_SUM)
        n = format_double(buf, s->d);
    else if (sp->scale == 1 && type_is_signed(m->field.type))
        n = snprintf(buf, sizeof(buf), "%" PRId64, (int64_t) s->u);
    else if (sp->scale == 1)
        n = snprintf(buf, sizeof(buf), "%" PRIu64, s->u);
    else
        n = format_double(buf, raw_double(s->u, m->field.type) * sp->scale);
    out_put(op, buf, (size_t) n);
}

/* name{labels} or name{labels,le="x"}: the start of a sample line. */
static void sample_head(struct metrics_op *op, const char *name, const char *suffix,
                        const struct series *s, const char *le) {
    out_str(op, name);
    out_str(op, suffix);
    if (s->text_len == 0 && !le) {
        out_put(op, " ", 1);
        return;
    }
    out_put(op, "{", 1);
    out_put(op, s->text, s->text_len);
    if (le) {
        if (s->text_len > 0)
            out_put(op, ",", 1);
        out_str(op, "le=\"");
        out_str(op, le);
        out_put(op, "\"", 1);
    }
    out_put(op, "} ", 2);
}

static void render_series(struct metrics_op *op, const struct metric *m, const struct series *s) {
    const struct spec_metric *sp = m->spec;
    char buf[40];
    uint64_t cum = 0;

    if (sp->kind == METRIC_LAST && !s->set)
        return;
    if (sp->kind != METRIC_HISTOGRAM) {
        sample_head(op, sp->name, "", s, NULL);
        render_value(op, m, s);
        out_put(op, "\n", 1);
        return;
    }
    for (size_t i = 0; i <= sp->n_buckets; i++) {
        char le[40];
        int n;
        if (i < sp->n_buckets)
            format_double(le, sp->buckets[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        cum += s->buckets[i];
        sample_head(op, sp->name, "_bucket", s, le);
        n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", cum);
        out_put(op, buf, (size_t) n);
    }
    sample_head(op, sp->name, "_sum", s, NULL);
    out_put(op, buf, (size_t) format_double(buf, s->d));
    out_put(op, "\n", 1);
    sample_head(op, sp->name, "_count", s, NULL);
    out_put(op, buf, (size_t) snprintf(buf, sizeof(buf), "%" PRIu64 "\n", s->u));
}

/* A HELP text: \ and newlines escaped. */
static void render_help(struct metrics_op *op, const char *name, const char *help) {
    out_str(op, "# HELP ");
    out_str(op, name);
    out_put(op, " ", 1);
    for (const char *p = help; *p; p++)
        if (*p == '\\')
            out_put(op, "\\\\", 2);
        else if (*p == '\n')
            out_put(op, "\\n", 2);
        else
            out_put(op, p, 1);
    out_put(op, "\n", 1);
}

/* One sample of the operator's own families: NAME{metric="METRIC"} V. */
static void render_own(struct metrics_op *op, const char *name, const char *metric, uint64_t v) {
    char num[24];
    out_str(op, name);
    out_str(op, "{metric=\"");
    out_str(op, metric);
    out_put(op, num, (size_t) snprintf(num, sizeof(num), "\"} %" PRIu64 "\n", v));
}

static void render(struct metrics_op *op) {

    op->out_len = 0;
    op->out_oom = false;
    for (size_t k = 0; k < op->n; k++) {
        const struct metric *m = &op->m[k];
        render_help(op, m->spec->name, m->spec->help);
        out_str(op, "# TYPE ");
        out_str(op, m->spec->name);
        out_put(op, " ", 1);
        out_str(op, spec_kind_type(m->spec->kind));
        out_put(op, "\n", 1);
        for (size_t i = 0; i < m->n_series; i++)
            render_series(op, m, m->order[i]);
        if (m->overflow)
            render_series(op, m, m->overflow);
    }
    out_str(op, "# HELP ophost_metrics_series Series (label combinations) of each metric of the "
                "metrics operator, its overflow series not counted.\n"
                "# TYPE ophost_metrics_series gauge\n");
    for (size_t k = 0; k < op->n; k++)
        render_own(op, "ophost_metrics_series", op->m[k].spec->name,
                   op->m[k].n_labels ? op->m[k].n_series : 1);
    out_str(op, "# HELP ophost_metrics_overflow_events_total Events counted in a metric's "
                "overflow series {ophost_overflow=\"true\"} because it had max-series series.\n"
                "# TYPE ophost_metrics_overflow_events_total counter\n");
    for (size_t k = 0; k < op->n; k++)
        render_own(op, "ophost_metrics_overflow_events_total", op->m[k].spec->name,
                   op->m[k].overflow_events);
}

/* Renders and hands the text to the daemon. A failure is logged (the
 * daemon keeps the previous text) and tried again at the next interval. */
static void publish(struct ophost_ctx *ctx, struct metrics_op *op) {
    int r;

    render(op);
    if (op->out_oom) {
        host->log(ctx, OPHOST_LOG_WARNING, "out of memory rendering the metrics, trying again "
                                           "at the next interval");
        return;
    }
    r = host->metrics_publish(ctx, op->out, op->out_len);
    if (r < 0) {
        host->log(ctx, OPHOST_LOG_WARNING, "cannot publish the metrics: %s, trying again at the "
                                           "next interval", strerror(-r));
        return;
    }
    op->dirty = false;
}

static int on_timer(struct ophost_ctx *ctx, void *userdata) {
    struct metrics_op *op = userdata;
    if (op->dirty)
        publish(ctx, op);
    return 0;
}

/* -------------------------------------------------------------- lifecycle */

static void op_free(struct metrics_op *op) {
    for (size_t k = 0; op->m && k < op->n; k++) {
        struct metric *m = &op->m[k];
        for (size_t i = 0; i < m->n_series; i++)
            free(m->order[i]);
        free(m->order);
        free(m->table);
        free(m->overflow);
    }
    free(op->m);
    spec_free(op->spec, op->n);
    free(op->out);
    free(op);
}

/* Resolves a field of the metric; an error names it and what it needs. */
static int find_field(struct ophost_ctx *ctx, struct metrics_op *op, const struct spec_metric *sp,
                      const char *name, ophost_field *ret) {
    int r = host->field_find(ctx, op->ds, name, ret);

    if (r == -ENOENT) {
        const char *hint = host->field_closest(ctx, op->ds, name);
        char fields[512];
        if (hint)
            return host->error(ctx, -EINVAL, "metric '%s': no field '%s' (did you mean '%s'?)",
                               sp->name, name, hint);
        schema_list_fields(host, ctx, op->ds, fields, sizeof(fields));
        return host->error(ctx, -EINVAL, "metric '%s': no field '%s' in data source '%s' (it "
                                         "has: %s)",
                           sp->name, name, host->datasource_name(ctx, op->ds), fields);
    }
    if (r < 0)
        return host->error(ctx, r, "metric '%s': field '%s': %s", sp->name, name, strerror(-r));
    return 0;
}

static int setup_metric(struct ophost_ctx *ctx, struct metrics_op *op, struct metric *m) {
    const struct spec_metric *sp = m->spec;
    int r;

    if (sp->field) {
        uint32_t t;
        if ((r = find_field(ctx, op, sp, sp->field, &m->field)) < 0)
            return r;
        t = m->field.type;
        if (sp->kind == METRIC_SUM && !(type_is_integer(t) && !type_is_signed(t)) &&
            t != OPHOST_FIELD_BOOL)
            return host->error(ctx, -EINVAL, "metric '%s': sum() needs an unsigned integer or "
                                             "bool field (a counter never goes down); '%s' is %s",
                               sp->name, sp->field, schema_type_name(t));
        if (sp->kind == METRIC_LAST && !type_is_integer(t) && t != OPHOST_FIELD_BOOL &&
            t != OPHOST_FIELD_TIMESTAMP)
            return host->error(ctx, -EINVAL, "metric '%s': last() needs a number, bool or "
                                             "timestamp field; '%s' is %s",
                               sp->name, sp->field, schema_type_name(t));
        if (sp->kind == METRIC_HISTOGRAM && !type_is_integer(t))
            return host->error(ctx, -EINVAL, "metric '%s': histogram() needs an integer field; "
                                             "'%s' is %s",
                               sp->name, sp->field, schema_type_name(t));
    }
    m->n_labels = sp->n_labels;
    for (size_t k = 0; k < sp->n_labels; k++)
        if ((r = find_field(ctx, op, sp, sp->labels[k].field, &m->labels[k])) < 0)
            return r;
    if (m->n_labels == 0) {
        /* One series, there from the start (a gauge shows once set). */
        struct series *s = series_new(m, 0);
        if (!s || order_add(m, s) < 0) {
            free(s);
            return host->error(ctx, -ENOMEM, "out of memory");
        }
    } else if (table_grow(m) < 0)
        return host->error(ctx, -ENOMEM, "out of memory");
    return 0;
}

static int metrics_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct metrics_op *op = calloc(1, sizeof(*op));
    const char *text, *dsname;
    char err[512];
    int r, n;

    if (!op)
        return -ENOMEM;
    if ((r = host->param_string(ctx, "metrics", &text)) < 0 ||
        (r = host->param_uint(ctx, "max-series", &op->max_series)) < 0 ||
        (r = host->param_duration(ctx, "publish-interval", &op->interval_nsec)) < 0 ||
        (r = host->param_string(ctx, "datasource", &dsname)) < 0) {
        op_free(op);
        return host->error(ctx, r, "cannot read the params: %s", strerror(-r));
    }
    r = host->datasource_find(ctx, dsname[0] ? dsname : NULL, &op->ds);
    if (r < 0) {
        op_free(op);
        return host->error(ctx, r, "param 'datasource': no data source '%s'", dsname);
    }
    n = spec_parse(text, &op->spec, err, sizeof(err));
    if (n < 0) {
        op_free(op);
        return host->error(ctx, n, "param 'metrics': %s", err);
    }
    op->n = (size_t) n;
    op->m = calloc(op->n, sizeof(*op->m));
    if (!op->m) {
        op_free(op);
        return -ENOMEM;
    }
    for (size_t k = 0; k < op->n; k++) {
        op->m[k].spec = &op->spec[k];
        if ((r = setup_metric(ctx, op, &op->m[k])) < 0) {
            op_free(op);
            return r;
        }
    }
    *ret = op;
    return 0;
}

static int metrics_start(struct ophost_ctx *ctx, void *data) {
    struct metrics_op *op = data;
    uint64_t usec = op->interval_nsec / 1000;
    int r = host->timer_add(ctx, usec, usec, on_timer, op, &op->timer);

    if (r < 0)
        return host->error(ctx, r, "cannot add the publish timer: %s", strerror(-r));
    publish(ctx, op); /* the metrics exist from the start, at 0 */
    return 0;
}

static int metrics_stop(struct ophost_ctx *ctx, void *data) {
    struct metrics_op *op = data;

    host->source_free(op->timer);
    op->timer = NULL;
    publish(ctx, op); /* the final values: the daemon keeps them */
    for (size_t k = 0; k < op->n; k++)
        if (op->m[k].overflow_events > 0)
            host->log(ctx, OPHOST_LOG_WARNING,
                      "metric '%s': %" PRIu64 " events were counted in its overflow series "
                      "(more than %" PRIu64 " label combinations)",
                      op->m[k].spec->name, op->m[k].overflow_events, op->max_series);
    return 0;
}

static int metrics_destroy(struct ophost_ctx *ctx, void *data) {
    op_free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "metrics", .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_MANDATORY,
      .description = "the metrics: 'NAME = count()|sum(F)|last(F)|histogram(F) [by (F, ...)] "
                     "[buckets(N, ...)] [help \"TEXT\"]; ...' (see README)" },
    { .key = "max-series", .type = OPHOST_PARAM_UINT, .default_value = "10000",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 1, .max = 1000000,
      .description = "series (label combinations) per metric; events of further combinations "
                     "go to one overflow series" },
    { .key = "publish-interval", .type = OPHOST_PARAM_DURATION, .default_value = "1s",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 100000000LL,
      .max = 3600000000000LL,
      .description = "how often changed values are handed to the daemon's /metrics" },
    { .key = "datasource", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "data source to count (empty: the session's first)" },
    { 0 }
};

static const struct ophost_operator metrics_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "metrics",
    .description = "Turns events into Prometheus counters, gauges and histograms on /metrics",
    .priority = OPHOST_PRIORITY_SINK,
    .instance_params = params,
    .instantiate = metrics_instantiate,
    .start = metrics_start,
    .process = metrics_process,
    .stop = metrics_stop,
    .destroy = metrics_destroy,
};

static const struct ophost_operator *const operators[] = { &metrics_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "metrics",
    .version = "1.0",
    .description = "Prometheus metrics from events",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    if (h->abi_minor < 2)
        return NULL; /* needs host->metrics_publish */
    host = h;
    return &plugin;
}

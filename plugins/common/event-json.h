/*
 * event-json.h — the one JSON shape of an event, shared by the json sink
 * (plugins/json) and the events a worker streams to `ophostctl run/watch`
 * (daemon/worker/tap.c), so that both write the same object.
 * Header-only (static inline), plain C and libc: no host function is used.
 *
 * The shape (README, "One JSON shape"):
 *   - Dotted field names become nested objects: proc.exe and proc.ppid are
 *     {"proc":{"exe":...,"ppid":...}}, so `jq .proc.exe` works.
 *   - One rule keeps that unambiguous: a name stays one key, whole, at the
 *     top level when it has an empty part (".a", "a.", "a..b") or when one
 *     of its leading parts is itself a field's name (with fields "a" and
 *     "a.b", the second is the key "a.b": "a" holds a value, not an object).
 *   - Keys come in schema order; a nested object stands where its first
 *     field would, and holds its fields in schema order.
 *   - Timestamps are RFC 3339 strings in UTC with nine fractional digits
 *     ("2024-05-01T12:00:00.123456789Z"): full precision in any JSON
 *     reader (jq's numbers are doubles and would round nanoseconds).
 *
 * Values are written by the evjson_put_* functions below, into room the
 * caller reserved (each says how much). Field names are [A-Za-z0-9_.-]
 * (the host checks them), so keys need no escaping. The layout is computed once per schema; writing an event is
 * then a copy of a precomputed prefix before each value.
 */
#ifndef OPHOST_PLUGINS_EVENT_JSON_H
#define OPHOST_PLUGINS_EVENT_JSON_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The bytes of a quoted RFC 3339 timestamp with nanoseconds. */
#define EVJSON_TIMESTAMP_LEN 32

/* Where each field goes: write text[prefix_off[k] .. +prefix_len[k]), then
 * the value of field order[k], for k = 0..n-1, then the tail. */
struct evjson_layout {
    size_t n;
    uint32_t *order;      /* schema index of the k-th value written */
    uint32_t *prefix_off; /* into text */
    uint32_t *prefix_len;
    uint32_t tail_off, tail_len;
    char *text;
};

/* A node of the key tree while the layout is built. */
struct evjson_node {
    const char *key;
    size_t key_len;
    long field;        /* schema index of a value, -1 for an object */
    long first, last;  /* children (objects) */
    long next;         /* sibling */
};

/* Whether name stays one whole key (see the rule above). */
static inline bool evjson_flat(const char *const *names, size_t n, size_t i) {
    const char *name = names[i];
    size_t len = strlen(name);

    if (len == 0 || name[0] == '.' || name[len - 1] == '.' || strstr(name, ".."))
        return true;
    for (size_t at = 0; at < len; at++) {
        if (name[at] != '.')
            continue;
        for (size_t k = 0; k < n; k++)
            if (k != i && strlen(names[k]) == at && memcmp(names[k], name, at) == 0)
                return true;
    }
    return false;
}

static inline long evjson_child(struct evjson_node *t, long parent, const char *key,
                                size_t key_len) {
    for (long c = t[parent].first; c >= 0; c = t[c].next)
        if (t[c].field < 0 && t[c].key_len == key_len && memcmp(t[c].key, key, key_len) == 0)
            return c;
    return -1;
}

static inline long evjson_add(struct evjson_node *t, size_t *used, long parent,
                              const char *key, size_t key_len, long field) {
    long c = (long) (*used)++;
    t[c] = (struct evjson_node){ key, key_len, field, -1, -1, -1 };
    if (t[parent].last >= 0)
        t[t[parent].last].next = c;
    else
        t[parent].first = c;
    t[parent].last = c;
    return c;
}

static inline void evjson_put(struct evjson_layout *l, size_t *len, const char *s, size_t n) {
    memcpy(l->text + *len, s, n);
    *len += n;
}

/* Writes the children of node: each value's prefix ends at its key. */
static inline void evjson_walk(struct evjson_layout *l, const struct evjson_node *t, long node,
                               size_t *len, size_t *pending, size_t *k) {
    bool first = true;
    for (long c = t[node].first; c >= 0; c = t[c].next) {
        if (!first)
            evjson_put(l, len, ",", 1);
        first = false;
        evjson_put(l, len, "\"", 1);
        evjson_put(l, len, t[c].key, t[c].key_len);
        evjson_put(l, len, "\":", 2);
        if (t[c].field >= 0) {
            l->order[*k] = (uint32_t) t[c].field;
            l->prefix_off[*k] = (uint32_t) *pending;
            l->prefix_len[*k] = (uint32_t) (*len - *pending);
            (*k)++;
            *pending = *len;
            continue;
        }
        evjson_put(l, len, "{", 1);
        evjson_walk(l, t, c, len, pending, k);
        evjson_put(l, len, "}", 1);
    }
}

/* Frees what evjson_layout_build allocated; l may be zeroed. */
static inline void evjson_layout_free(struct evjson_layout *l) {
    free(l->order);
    free(l->prefix_off);
    free(l->prefix_len);
    free(l->text);
    memset(l, 0, sizeof(*l));
}

/* Computes the layout of n fields named names[] (in schema order) into *l.
 * Returns 0 or -ENOMEM. */
static inline int evjson_layout_build(const char *const *names, size_t n,
                                      struct evjson_layout *l) {
    size_t cap = 16, used = 1, len = 0, pending = 0, k = 0;
    struct evjson_node *t;

    memset(l, 0, sizeof(*l));
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(names[i]) + 16;
    t = calloc(2 * n + 1, sizeof(*t));
    l->order = calloc(n + 1, sizeof(uint32_t));
    l->prefix_off = calloc(n + 1, sizeof(uint32_t));
    l->prefix_len = calloc(n + 1, sizeof(uint32_t));
    l->text = malloc(cap);
    if (!t || !l->order || !l->prefix_off || !l->prefix_len || !l->text) {
        free(t);
        evjson_layout_free(l);
        return -ENOMEM;
    }
    t[0] = (struct evjson_node){ "", 0, -1, -1, -1, -1 };
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i], *dot;
        long node = 0;
        if (evjson_flat(names, n, i)) {
            (void) evjson_add(t, &used, 0, name, strlen(name), (long) i);
            continue;
        }
        while ((dot = strchr(name, '.'))) {
            long c = evjson_child(t, node, name, (size_t) (dot - name));
            node = c >= 0 ? c : evjson_add(t, &used, node, name, (size_t) (dot - name), -1);
            name = dot + 1;
        }
        (void) evjson_add(t, &used, node, name, strlen(name), (long) i);
    }
    evjson_put(l, &len, "{", 1);
    evjson_walk(l, t, 0, &len, &pending, &k);
    evjson_put(l, &len, "}", 1);
    l->n = n;
    l->tail_off = (uint32_t) pending;
    l->tail_len = (uint32_t) (len - pending);
    free(t);
    return 0;
}

/* The civil date of a day count since 1970-01-01 (H. Hinnant's algorithm;
 * proleptic Gregorian, valid far beyond the u64 nanosecond range). */
static inline void evjson_civil(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

static inline void evjson_digits(char *p, uint64_t v, unsigned n) {
    while (n-- > 0) {
        p[n] = (char) ('0' + v % 10);
        v /= 10;
    }
}

/* ------------------------------------------------------------ values */

/* 0: copied as is; 1: escaped; 2: the lead byte of a UTF-8 sequence (or an
 * invalid byte). */
static const uint8_t evjson_char_class[256] = {
    [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1, [0x80 ... 0xff] = 2,
};

static const char evjson_hex[] = "0123456789abcdef";

static const char evjson_digits2[] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* Writes v in decimal (at most 20 bytes); evjson_put_s64 at most 20. */
static inline char *evjson_put_u64(char *p, uint64_t v) {
    char tmp[20], *q = tmp + sizeof(tmp);
    size_t n;

    while (v >= 100) {
        unsigned i = (unsigned) (v % 100) * 2;
        v /= 100;
        q -= 2;
        memcpy(q, evjson_digits2 + i, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, evjson_digits2 + v * 2, 2);
    } else {
        *--q = (char) ('0' + v);
    }
    n = (size_t) (tmp + sizeof(tmp) - q);
    memcpy(p, q, n);
    return p + n;
}

static inline char *evjson_put_s64(char *p, int64_t v) {
    if (v < 0) {
        *p++ = '-';
        return evjson_put_u64(p, (uint64_t) 0 - (uint64_t) v);
    }
    return evjson_put_u64(p, (uint64_t) v);
}

/* The length of the well-formed UTF-8 sequence at s (2..4), or 0 when the
 * byte at s does not begin one (Unicode 15, table 3-7). */
static inline size_t evjson_utf8_sequence(const uint8_t *s, size_t avail) {
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
        return avail >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
        return avail >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/* Writes s[0..len) as a JSON string with quotes; needs 2 + 6 * len bytes. */
static inline char *evjson_put_string(char *p, const uint8_t *s, size_t len) {
    size_t i = 0;

    *p++ = '"';
    while (i < len) {
        size_t run = i;
        while (run < len && evjson_char_class[s[run]] == 0)
            run++;
        memcpy(p, s + i, run - i);
        p += run - i;
        i = run;
        if (i == len)
            break;
        if (evjson_char_class[s[i]] == 2) {
            size_t n = evjson_utf8_sequence(s + i, len - i);
            if (n) {
                memcpy(p, s + i, n);
                p += n;
                i += n;
            } else {
                memcpy(p, "\xef\xbf\xbd", 3);
                p += 3;
                i++;
            }
            continue;
        }
        *p++ = '\\';
        switch (s[i]) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            memcpy(p, "u00", 3);
            p[3] = evjson_hex[s[i] >> 4];
            p[4] = evjson_hex[s[i] & 15];
            p += 5;
            break;
        }
        i++;
    }
    *p++ = '"';
    return p;
}

/* Writes bytes as a quoted string of lower-case hex digits: 2 + 2 * len. */
static inline char *evjson_put_hex(char *p, const uint8_t *s, size_t len) {
    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        *p++ = evjson_hex[s[i] >> 4];
        *p++ = evjson_hex[s[i] & 15];
    }
    *p++ = '"';
    return p;
}

/* The last second formatted, so that events of one second share the date. */
struct evjson_clock {
    uint64_t sec;
    bool valid;
    char date[20]; /* YYYY-MM-DDTHH:MM:SS */
};

/* Writes ns (since the epoch) as a quoted RFC 3339 UTC timestamp with nine
 * fractional digits: EVJSON_TIMESTAMP_LEN bytes. c may be NULL. */
static inline char *evjson_put_timestamp(char *p, uint64_t ns, struct evjson_clock *c) {
    struct evjson_clock local = { 0 };
    uint64_t sec = ns / 1000000000u;

    if (!c)
        c = &local;
    if (!c->valid || c->sec != sec) {
        int64_t y;
        unsigned mo, d, s = (unsigned) (sec % 86400);
        evjson_civil((int64_t) (sec / 86400), &y, &mo, &d);
        evjson_digits(c->date, (uint64_t) y, 4);
        c->date[4] = '-';
        evjson_digits(c->date + 5, mo, 2);
        c->date[7] = '-';
        evjson_digits(c->date + 8, d, 2);
        c->date[10] = 'T';
        evjson_digits(c->date + 11, s / 3600, 2);
        c->date[13] = ':';
        evjson_digits(c->date + 14, s / 60 % 60, 2);
        c->date[16] = ':';
        evjson_digits(c->date + 17, s % 60, 2);
        c->sec = sec;
        c->valid = true;
    }
    *p++ = '"';
    memcpy(p, c->date, 19);
    p += 19;
    *p++ = '.';
    evjson_digits(p, ns % 1000000000u, 9);
    p += 9;
    *p++ = 'Z';
    *p++ = '"';
    return p;
}

#endif

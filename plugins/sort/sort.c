/*
 * sort — orders the events of each batch by one or more fields, for the
 * batches of snapshot and top gadgets (one batch = one snapshot, up to the
 * batch capacity). `by: -cpu,pid` sorts by cpu descending, then pid
 * ascending. The order is strict and stable: keys compare three-way (a
 * descending key compares b against a, never "not a < b"), and events with
 * equal keys keep their order. Only the batch's sel[] indices move, never
 * the records, with a merge sort whose buffer is allocated once at start.
 *
 * Values order as: integers and timestamps numerically (signed ones as
 * signed), false before true, strings and bytes bytewise with a prefix
 * first; an unset string or bytes value sorts as the empty one.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#define MAX_KEYS 16
/* Runs this short are sorted by insertion before merging. */
#define RUN 8

static const struct ophost_host *host;

typedef int (*cmp_fn)(const struct ophost_batch *b, const struct ophost_event *x,
                      const struct ophost_event *y, ophost_field f);

struct key {
    ophost_field field;
    bool desc;
    cmp_fn cmp;
};

struct sort {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    struct key keys[MAX_KEYS];
    size_t n_keys;
    uint32_t *tmp;
    uint32_t cap;
};

#define CMP_INT(suffix)                                                                  \
    static int cmp_##suffix(const struct ophost_batch *b, const struct ophost_event *x,  \
                            const struct ophost_event *y, ophost_field f) {              \
        __typeof__(ophost_event_get_##suffix(x, f)) vx = ophost_event_get_##suffix(x, f), \
                                                    vy = ophost_event_get_##suffix(y, f); \
        return (vx > vy) - (vx < vy);                                                    \
    }
CMP_INT(u8)
CMP_INT(u16)
CMP_INT(u32)
CMP_INT(u64)
CMP_INT(s32)
CMP_INT(s64)
CMP_INT(bool)

static int cmp_data(const struct ophost_batch *b, const struct ophost_event *x,
                    const struct ophost_event *y, ophost_field f) {
    size_t lx = 0, ly = 0;
    const char *sx = ophost_event_get_string(b, x, f, &lx), *sy = ophost_event_get_string(b, y, f, &ly);
    int d;

    if (!sx)
        sx = "", lx = 0;
    if (!sy)
        sy = "", ly = 0;
    d = memcmp(sx, sy, lx < ly ? lx : ly);
    if (d)
        return d < 0 ? -1 : 1;
    return (lx > ly) - (lx < ly);
}

static const struct ophost_event *record(const struct ophost_batch *b, uint32_t r) {
    return (const struct ophost_event *) (const void *) (b->records + (size_t) r * b->record_size);
}

/* Three-way comparison of records ra and rb by all keys; a descending key
 * compares rb against ra, which keeps the order strict. */
static int compare(const struct sort *s, const struct ophost_batch *b, uint32_t ra, uint32_t rb) {
    const struct ophost_event *x = record(b, ra), *y = record(b, rb);
    for (size_t k = 0; k < s->n_keys; k++) {
        const struct key *key = &s->keys[k];
        int d = key->desc ? key->cmp(b, y, x, key->field) : key->cmp(b, x, y, key->field);
        if (d)
            return d;
    }
    return 0;
}

/* Stable: an element moves left only past strictly greater ones. */
static void insertion_sort(const struct sort *s, const struct ophost_batch *b, uint32_t *v,
                           uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = v[i], j = i;
        while (j > 0 && compare(s, b, v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Bottom-up merge sort of v[0..n) with tmp[0..n); stable because a tie
 * takes the left run's element. */
static void merge_sort(const struct sort *s, const struct ophost_batch *b, uint32_t *v,
                       uint32_t *tmp, uint32_t n) {
    uint32_t *src = v, *dst = tmp;

    for (uint32_t i = 0; i < n; i += RUN)
        insertion_sort(s, b, v + i, n - i < RUN ? n - i : RUN);
    for (uint32_t width = RUN; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = lo + width < n ? lo + width : n;
            uint32_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            uint32_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                dst[o++] = compare(s, b, src[j], src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[o++] = src[i++];
            while (j < hi)
                dst[o++] = src[j++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

/* ------------------------------------------------------------- params */

static int unknown_field(struct sort *s, const char *name) {
    const char *hint = host->field_closest(s->ctx, s->ds, name);

    if (hint)
        return host->error(s->ctx, -ENOENT, "sort: param 'by': unknown field '%s' (did you mean '%s'?)",
                           name, hint);
    return host->error(s->ctx, -ENOENT, "sort: param 'by': unknown field '%s'", name);
}

static int parse_keys(struct sort *s, const char *by) {
    char buf[1024], *save = NULL;
    size_t len = strlen(by);

    if (len >= sizeof(buf))
        return host->error(s->ctx, -EINVAL, "sort: param 'by' is too long");
    memcpy(buf, by, len + 1);
    /* strtok_r would skip empty items; walk by hand to reject them */
    for (char *item = buf;; item = save) {
        char *end = strchr(item, ',');
        struct key *key;
        ophost_field fd;
        int r;

        save = end ? end + 1 : NULL;
        if (end)
            *end = '\0';
        while (isspace((unsigned char) *item))
            item++;
        for (char *e = item + strlen(item); e > item && isspace((unsigned char) e[-1]);)
            *--e = '\0';
        if (s->n_keys == MAX_KEYS)
            return host->error(s->ctx, -E2BIG, "sort: param 'by': more than %d fields", MAX_KEYS);
        key = &s->keys[s->n_keys];
        if (*item == '-' || *item == '+')
            key->desc = *item++ == '-';
        if (!*item)
            return host->error(s->ctx, -EINVAL, "sort: param 'by': empty field name in '%s'", by);
        r = host->field_find(s->ctx, s->ds, item, &fd);
        if (r == -ENOENT)
            return unknown_field(s, item);
        if (r < 0)
            return host->error(s->ctx, r, "sort: cannot look up field '%s': %s", item, strerror(-r));
        for (size_t k = 0; k < s->n_keys; k++)
            if (s->keys[k].field.index == fd.index)
                return host->error(s->ctx, -EINVAL, "sort: param 'by': field '%s' is named twice",
                                   item);
        key->field = fd;
        switch (fd.type) {
        case OPHOST_FIELD_U8: key->cmp = cmp_u8; break;
        case OPHOST_FIELD_U16: key->cmp = cmp_u16; break;
        case OPHOST_FIELD_U32: key->cmp = cmp_u32; break;
        case OPHOST_FIELD_U64: case OPHOST_FIELD_TIMESTAMP: key->cmp = cmp_u64; break;
        case OPHOST_FIELD_S32: key->cmp = cmp_s32; break;
        case OPHOST_FIELD_S64: key->cmp = cmp_s64; break;
        case OPHOST_FIELD_BOOL: key->cmp = cmp_bool; break;
        case OPHOST_FIELD_STRING: case OPHOST_FIELD_BYTES: key->cmp = cmp_data; break;
        default:
            return host->error(s->ctx, -EINVAL, "sort: field '%s' has an unknown type %u", item,
                               fd.type);
        }
        s->n_keys++;
        if (!save)
            return 0;
    }
}

/* ------------------------------------------------------------ lifecycle */

static int sort_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct sort *s = calloc(1, sizeof(*s));
    const char *by;
    int r;

    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    r = host->param_string(ctx, "by", &by);
    if (r < 0)
        r = host->error(ctx, r, "sort: param 'by': %s", strerror(-r));
    else if ((r = host->datasource_find(ctx, NULL, &s->ds)) < 0)
        r = host->error(ctx, r, "sort: the session has no data source");
    else
        r = parse_keys(s, by);
    if (r < 0) {
        free(s);
        return r;
    }
    *ret = s;
    return 0;
}

static int grow(struct sort *s, uint32_t cap) {
    uint32_t *tmp = realloc(s->tmp, cap * sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;
    s->tmp = tmp;
    s->cap = cap;
    return 0;
}

/* The merge buffer is sized for the batch capacity here, once. */
static int sort_start(struct ophost_ctx *ctx, void *data) {
    struct sort *s = data;
    struct ophost_batch *b = host->batch(ctx, s->ds);
    return grow(s, b && b->capacity ? b->capacity : 256);
}

static int sort_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct sort *s = data;

    if (b->ds != s->ds || b->n < 2)
        return 0;
    if (b->n > s->cap) {
        /* Not with the host's fixed batch capacity; kept for safety. */
        int r = grow(s, b->capacity > b->n ? b->capacity : b->n);
        if (r < 0)
            return host->error(ctx, r, "sort: out of memory");
    }
    merge_sort(s, b, b->sel, s->tmp, b->n);
    return 0;
}

static int sort_destroy(struct ophost_ctx *ctx, void *data) {
    struct sort *s = data;
    free(s->tmp);
    free(s);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "by", .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_MANDATORY,
      .description = "fields to sort by, most significant first, comma-separated; "
                     "a '-' prefix sorts that field descending (e.g. -cpu,pid)" },
    { 0 }
};

static const struct ophost_operator sort_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "sort",
    .description = "Orders the events of each batch by fields (stable; for snapshot and top gadgets)",
    .priority = OPHOST_PRIORITY_TRANSFORM,
    .instance_params = params,
    .instantiate = sort_instantiate,
    .start = sort_start,
    .process = sort_process,
    .destroy = sort_destroy,
};

static const struct ophost_operator *const operators[] = { &sort_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "sort",
    .version = "1.0",
    .description = "Sorts the events of a batch",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

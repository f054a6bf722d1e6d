/*
 * columns — a sink that prints events as a table for people, to standard
 * output or appended to a file.
 *
 * The columns are the fields named by the `fields` param (default: every
 * field, in schema order), headed by their names in upper case. Widths start
 * from the header and the first batch (the widest value seen) and grow when
 * a wider value comes, up to `max-width` characters; strings (and bytes)
 * wider than that are cut and end in "…"; numbers, bools and timestamps are
 * never cut (a number wider than max-width widens its own row only). A
 * header longer than max-width is cut too. Numbers are right-aligned, everything else
 * left-aligned; columns are separated by one space and lines carry no
 * trailing blanks. Timestamps are local time HH:MM:SS.mmm, bools true/false,
 * bytes hex, unset strings "-"; control characters in strings print as '?',
 * so one event is always one line.
 *
 * The header is printed before the first row, again every `header-every`
 * rows (0 = only then), and again whenever a column widens, so that it
 * always stands over the rows below it; it goes out in one piece with the
 * row after it.
 * Output is sink-output.h's: whole lines, every event that cannot be
 * written counted with host->dropped, not fatal; files created with mode
 * 0640 and followed through rotation and deletion; a standard output that
 * is the journal refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "schema.h"
#include "sink-output.h"
#include "timefmt.h"

static const struct ophost_host *host;

static const char hex[] = "0123456789abcdef";

/* Room for any rendered value: max-width (<= 1024) hex digits and more. */
#define VALUE_BUF 1100

struct column {
    ophost_field f;
    char *header; /* the name in upper case */
    size_t width;
    bool right;   /* numbers */
};

struct columns {
    struct ophost_ctx *ctx;
    const char *fields_param;
    uint64_t max_width;
    uint64_t header_every;
    struct sink_output out;

    struct ophost_datasource *ds;
    struct column *cols;
    size_t n_cols;
    bool sized;
    uint64_t rows_since_header;

    struct timefmt hms;
};

/* ----------------------------------------------------------- formatting */

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t display_width(const char *s, size_t len) {
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        w += ((unsigned char) s[i] & 0xc0) != 0x80;
    return w;
}

static bool is_number(uint16_t type) {
    return type != OPHOST_FIELD_BOOL && type != OPHOST_FIELD_TIMESTAMP &&
           type != OPHOST_FIELD_STRING && type != OPHOST_FIELD_BYTES;
}

static const char *format_time(struct columns *c, uint64_t ns, char *buf, size_t size) {
    size_t len;
    const char *hms = timefmt_seconds(&c->hms, ns, &len);

    snprintf(buf, size, "%s.%03u", hms, (unsigned) (ns % 1000000000u / 1000000u));
    return buf;
}

/* The text of a value: either in buf or (strings, bytes) pointing into the
 * batch; *ret_len is its length in bytes. Bytes are rendered as hex into buf
 * up to its size. */
static const char *format_value(struct columns *c, const struct ophost_batch *b,
                                const struct ophost_event *e, ophost_field f, char *buf,
                                size_t size, size_t *ret_len) {
    const char *s;
    size_t len = 0;

    switch (f.type) {
    case OPHOST_FIELD_U8: snprintf(buf, size, "%u", ophost_event_get_u8(e, f)); break;
    case OPHOST_FIELD_U16: snprintf(buf, size, "%u", ophost_event_get_u16(e, f)); break;
    case OPHOST_FIELD_U32: snprintf(buf, size, "%" PRIu32, ophost_event_get_u32(e, f)); break;
    case OPHOST_FIELD_U64: snprintf(buf, size, "%" PRIu64, ophost_event_get_u64(e, f)); break;
    case OPHOST_FIELD_S32: snprintf(buf, size, "%" PRId32, ophost_event_get_s32(e, f)); break;
    case OPHOST_FIELD_S64: snprintf(buf, size, "%" PRId64, ophost_event_get_s64(e, f)); break;
    case OPHOST_FIELD_BOOL: snprintf(buf, size, "%s", ophost_event_get_bool(e, f) ? "true" : "false"); break;
    case OPHOST_FIELD_TIMESTAMP: format_time(c, ophost_event_get_u64(e, f), buf, size); break;
    case OPHOST_FIELD_STRING:
        s = ophost_event_get_string(b, e, f, &len);
        if (!s) {
            *ret_len = 1;
            return "-";
        }
        *ret_len = len;
        return s;
    case OPHOST_FIELD_BYTES:
        s = ophost_event_get_string(b, e, f, &len);
        if (!s) {
            *ret_len = 1;
            return "-";
        }
        /* Only what can show in a column is rendered, and one more digit,
         * so that a cut still shows. */
        for (size_t i = 0; i < len && i <= c->max_width / 2 && 2 * i + 2 < size; i++) {
            buf[2 * i] = hex[(unsigned char) s[i] >> 4];
            buf[2 * i + 1] = hex[(unsigned char) s[i] & 15];
            buf[2 * i + 2] = '\0';
        }
        if (len == 0)
            buf[0] = '\0';
        break;
    default: buf[0] = '\0'; break;
    }
    *ret_len = strlen(buf);
    return buf;
}

static void put_spaces(struct sink_output *out, size_t n) {
    while (n--)
        sink_output_putc(out, ' ');
}

/* Prints s in a column of the given width; cut with "…" when cut is set. */
static void put_cell(struct sink_output *out, const char *s, size_t len, size_t width, bool right,
                     bool cut, bool last) {
    size_t w = display_width(s, len);

    if (w > width && cut) {
        size_t shown = 0, i = 0;
        /* width - 1 characters, then the ellipsis. */
        while (i < len) {
            size_t n = 1;
            while (i + n < len && ((unsigned char) s[i + n] & 0xc0) == 0x80)
                n++;
            if (shown + 1 > width - 1)
                break;
            for (size_t k = 0; k < n; k++) {
                unsigned char ch = (unsigned char) s[i + k];
                sink_output_putc(out, (char) (ch < 0x20 || ch == 0x7f ? '?' : ch));
            }
            shown++;
            i += n;
        }
        sink_output_put(out, "\xe2\x80\xa6", 3);
        return;
    }
    if (right && w < width)
        put_spaces(out, width - w);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) s[i];
        sink_output_putc(out, (char) (ch < 0x20 || ch == 0x7f ? '?' : ch));
    }
    if (!right && !last && w < width)
        put_spaces(out, width - w);
}

static void put_header(struct columns *c) {
    for (size_t k = 0; k < c->n_cols; k++) {
        const struct column *col = &c->cols[k];
        if (k)
            sink_output_putc(&c->out, ' ');
        put_cell(&c->out, col->header, strlen(col->header), col->width, col->right, true,
                 k + 1 == c->n_cols);
    }
    sink_output_putc(&c->out, '\n');
}

/* Widths from the header and the first batch, capped at max-width. */
static void size_columns(struct columns *c, const struct ophost_batch *b) {
    char buf[VALUE_BUF];

    for (size_t k = 0; k < c->n_cols; k++) {
        struct column *col = &c->cols[k];
        size_t w = display_width(col->header, strlen(col->header));
        for (uint32_t i = 0; i < b->n; i++) {
            size_t len;
            const char *s = format_value(c, b, ophost_batch_event(b, i), col->f, buf,
                                         sizeof(buf), &len);
            size_t vw = display_width(s, len);
            if (vw > w)
                w = vw;
        }
        if (w > c->max_width)
            w = c->max_width;
        col->width = w;
    }
    c->sized = true;
}

/* ------------------------------------------------------------ callbacks */

static int columns_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct columns *c = calloc(1, sizeof(*c));
    const char *path;
    int r;

    if (!c)
        return -ENOMEM;
    c->ctx = ctx;
    c->hms = (struct timefmt) TIMEFMT_INIT(TIMEFMT_LOCAL_TIME);
    if ((r = host->param_string(ctx, "path", &path)) < 0 ||
        (r = host->param_string(ctx, "fields", &c->fields_param)) < 0 ||
        (r = host->param_uint(ctx, "max-width", &c->max_width)) < 0 ||
        (r = host->param_uint(ctx, "header-every", &c->header_every)) < 0) {
        free(c);
        return r;
    }
    sink_output_init(&c->out, host, ctx, path);
    *ret = c;
    return 0;
}

static int columns_pre_start(struct ophost_ctx *ctx, void *data) {
    struct columns *c = data;
    return sink_output_open(&c->out, ".log");
}

static int add_column(struct columns *c, const char *name, ophost_field f) {
    struct column *col = &c->cols[c->n_cols];
    size_t n = strlen(name);

    col->header = malloc(n + 1);
    if (!col->header)
        return -ENOMEM;
    for (size_t i = 0; i <= n; i++)
        col->header[i] = (char) (name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
    col->f = f;
    col->right = is_number(f.type);
    c->n_cols++;
    return 0;
}

static int columns_start(struct ophost_ctx *ctx, void *data) {
    struct columns *c = data;
    size_t n;
    int r = host->datasource_find(ctx, NULL, &c->ds);

    if (r < 0)
        return host->error(ctx, r, "the session has no data source");
    n = host->field_count(ctx, c->ds);
    if (c->fields_param[0]) {
        /* At most one column per comma plus one. */
        size_t items = 1;
        for (const char *p = c->fields_param; *p; p++)
            items += *p == ',';
        n = items;
    }
    c->cols = calloc(n ? n : 1, sizeof(*c->cols));
    if (!c->cols)
        return -ENOMEM;
    if (!c->fields_param[0]) {
        for (size_t i = 0; i < n; i++) {
            const char *name;
            ophost_field f;
            if ((r = host->field_at(ctx, c->ds, i, &name, &f)) < 0 ||
                (r = add_column(c, name, f)) < 0)
                return r;
        }
        return 0;
    }
    for (const char *p = c->fields_param;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        char name[256], have[512];
        ophost_field f;

        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0)
            return host->error(ctx, -EINVAL, "param 'fields': empty field name in '%s'",
                               c->fields_param);
        if (len >= sizeof(name))
            return host->error(ctx, -EINVAL, "param 'fields': field name '%.32s...' is too long",
                               p);
        memcpy(name, p, len);
        name[len] = '\0';
        r = host->field_find(ctx, c->ds, name, &f);
        if (r < 0) {
            schema_list_fields(host, ctx, c->ds, have, sizeof(have));
            return host->error(ctx, -EINVAL,
                               "param 'fields': no field '%s' in data source '%s' (it has: %s)",
                               name, host->datasource_name(ctx, c->ds), have);
        }
        if ((r = add_column(c, name, f)) < 0)
            return r;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static int columns_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct columns *c = data;
    char buf[VALUE_BUF];

    if (b->ds != c->ds || b->n == 0)
        return 0;
    if (!c->sized) {
        size_columns(c, b);
        put_header(c);
    }
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        bool wider = false;
        /* A wider value widens its column for good, up to max-width; the
         * header then goes out again, so that it stays over its column. */
        for (size_t k = 0; k < c->n_cols; k++) {
            struct column *col = &c->cols[k];
            size_t len, w;
            const char *s = format_value(c, b, e, col->f, buf, sizeof(buf), &len);
            w = display_width(s, len);
            if (w > col->width && col->width < c->max_width) {
                col->width = w < c->max_width ? w : c->max_width;
                wider = true;
            }
        }
        if (wider || (c->header_every && c->rows_since_header == c->header_every)) {
            put_header(c);
            c->rows_since_header = 0;
        }
        for (size_t k = 0; k < c->n_cols; k++) {
            struct column *col = &c->cols[k];
            size_t len;
            const char *s = format_value(c, b, e, col->f, buf, sizeof(buf), &len);
            bool cut = col->f.type == OPHOST_FIELD_STRING || col->f.type == OPHOST_FIELD_BYTES;
            if (k)
                sink_output_putc(&c->out, ' ');
            put_cell(&c->out, s, len, col->width, col->right, cut, k + 1 == c->n_cols);
        }
        sink_output_putc(&c->out, '\n');
        if (sink_output_nomem(&c->out))
            return -ENOMEM;
        /* A header goes out with the row after it: one unit, one event. */
        sink_output_unit_end(&c->out);
        c->rows_since_header++;
    }
    /* A write error (disk full, closed pipe) is counted, not fatal. */
    sink_output_flush(&c->out);
    return 0;
}

static int columns_post_stop(struct ophost_ctx *ctx, void *data) {
    struct columns *c = data;
    return sink_output_close(&c->out);
}

static int columns_destroy(struct ophost_ctx *ctx, void *data) {
    struct columns *c = data;

    sink_output_free(&c->out);
    for (size_t k = 0; k < c->n_cols; k++)
        free(c->cols[k].header);
    free(c->cols);
    free(c);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "path", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "file to append the table to, created with mode 0640 and reopened when "
                     "moved away or deleted (empty = standard output)" },
    { .key = "fields", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "comma-separated fields to show, in this order (empty = all fields)" },
    { .key = "max-width", .type = OPHOST_PARAM_UINT, .default_value = "40",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 2, .max = 1024,
      .description = "widest a column gets; longer strings are cut and end in '…'" },
    { .key = "header-every", .type = OPHOST_PARAM_UINT, .default_value = "0",
      .description = "repeat the header after this many rows (0 = print it once)" },
    { 0 }
};

static const struct ophost_operator columns_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "columns",
    .description = "Prints events as a table with a header (for people)",
    .priority = OPHOST_PRIORITY_SINK,
    .instance_params = params,
    .instantiate = columns_instantiate,
    .pre_start = columns_pre_start,
    .start = columns_start,
    .process = columns_process,
    .post_stop = columns_post_stop,
    .destroy = columns_destroy,
};

static const struct ophost_operator *const operators[] = { &columns_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "columns",
    .version = "1.0",
    .description = "A sink that prints events as a table",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

/*
 * print — a sink that writes one line per event, "name=value" for every
 * field of the data source, to stdout or to a file (appended). Strings are
 * quoted with C-style escapes so a line is always one line. Meant for
 * people and for tests; the JSON sink is for machines.
 *
 * Lines are formatted into the buffer of sink-output.h, which writes them
 * whole, counts every event it cannot write with host->dropped, follows
 * log rotation and deleted files, creates files with mode 0640 and refuses
 * a standard output that is the journal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "sink-output.h"
#include "timefmt.h"

#define MAX_FIELDS 256

static const struct ophost_host *host;

struct print {
    struct sink_output out;
    struct ophost_datasource *ds;
    size_t n_fields;
    const char *names[MAX_FIELDS];
    ophost_field fields[MAX_FIELDS];
    struct timefmt seconds;
};

static int print_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct print *p = calloc(1, sizeof(*p));
    const char *path;
    int r;

    if (!p)
        return -ENOMEM;
    p->seconds = (struct timefmt) TIMEFMT_INIT(TIMEFMT_UTC_DATETIME);
    r = host->param_string(ctx, "path", &path);
    if (r < 0) {
        free(p);
        return r;
    }
    sink_output_init(&p->out, host, ctx, path);
    *ret = p;
    return 0;
}

static int print_pre_start(struct ophost_ctx *ctx, void *data) {
    struct print *p = data;
    return sink_output_open(&p->out, ".log");
}

static int print_start(struct ophost_ctx *ctx, void *data) {
    struct print *p = data;
    int r = host->datasource_find(ctx, NULL, &p->ds);

    if (r < 0)
        return host->error(ctx, r, "the session has no data source");
    p->n_fields = host->field_count(ctx, p->ds);
    if (p->n_fields > MAX_FIELDS)
        p->n_fields = MAX_FIELDS;
    for (size_t i = 0; i < p->n_fields; i++) {
        r = host->field_at(ctx, p->ds, i, &p->names[i], &p->fields[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static void put_quoted(struct sink_output *o, const char *s, size_t len) {
    sink_output_putc(o, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\')
            sink_output_printf(o, "\\%c", c);
        else if (c == '\n')
            sink_output_put(o, "\\n", 2);
        else if (c == '\t')
            sink_output_put(o, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            sink_output_printf(o, "\\x%02x", c);
        else
            sink_output_putc(o, (char) c);
    }
    sink_output_putc(o, '"');
}

static void put_field(struct sink_output *o, struct timefmt *tf, const struct ophost_batch *b,
                      const struct ophost_event *e, ophost_field fd) {
    const char *s;
    size_t len = 0;

    switch (fd.type) {
    case OPHOST_FIELD_U8: sink_output_printf(o, "%u", ophost_event_get_u8(e, fd)); break;
    case OPHOST_FIELD_U16: sink_output_printf(o, "%u", ophost_event_get_u16(e, fd)); break;
    case OPHOST_FIELD_U32: sink_output_printf(o, "%" PRIu32, ophost_event_get_u32(e, fd)); break;
    case OPHOST_FIELD_U64: sink_output_printf(o, "%" PRIu64, ophost_event_get_u64(e, fd)); break;
    case OPHOST_FIELD_S32: sink_output_printf(o, "%" PRId32, ophost_event_get_s32(e, fd)); break;
    case OPHOST_FIELD_S64: sink_output_printf(o, "%" PRId64, ophost_event_get_s64(e, fd)); break;
    case OPHOST_FIELD_BOOL:
        sink_output_printf(o, "%s", ophost_event_get_bool(e, fd) ? "true" : "false");
        break;
    case OPHOST_FIELD_TIMESTAMP: {
        uint64_t ns = ophost_event_get_u64(e, fd);
        size_t n;
        sink_output_printf(o, "%s.%06" PRIu64 "Z", timefmt_seconds(tf, ns, &n),
                           (ns % 1000000000u) / 1000u);
        break;
    }
    case OPHOST_FIELD_STRING:
        s = ophost_event_get_string(b, e, fd, &len);
        if (s)
            put_quoted(o, s, len);
        else
            sink_output_putc(o, '-');
        break;
    case OPHOST_FIELD_BYTES:
        s = ophost_event_get_string(b, e, fd, &len);
        if (!s)
            sink_output_putc(o, '-');
        for (size_t i = 0; s && i < len; i++)
            sink_output_printf(o, "%02x", (unsigned char) s[i]);
        break;
    }
}

static int print_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct print *p = data;
    struct sink_output *o = &p->out;

    if (b->ds != p->ds)
        return 0;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        for (size_t k = 0; k < p->n_fields; k++) {
            sink_output_printf(o, "%s%s=", k ? " " : "", p->names[k]);
            put_field(o, &p->seconds, b, e, p->fields[k]);
        }
        sink_output_putc(o, '\n');
        if (sink_output_nomem(o))
            return -ENOMEM;
        sink_output_unit_end(o);
    }
    /* A write error (disk full, closed pipe) is counted, not fatal. */
    sink_output_flush(o);
    return 0;
}

static int print_post_stop(struct ophost_ctx *ctx, void *data) {
    struct print *p = data;
    return sink_output_close(&p->out);
}

static int print_destroy(struct ophost_ctx *ctx, void *data) {
    struct print *p = data;

    sink_output_free(&p->out);
    free(p);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "path", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "file to append to, created with mode 0640 and reopened when moved away "
                     "or deleted (empty = standard output)" },
    { 0 }
};

static const struct ophost_operator print_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "print",
    .description = "Writes each event as a line of name=value pairs",
    .priority = OPHOST_PRIORITY_SINK,
    .instance_params = params,
    .instantiate = print_instantiate,
    .pre_start = print_pre_start,
    .start = print_start,
    .process = print_process,
    .post_stop = print_post_stop,
    .destroy = print_destroy,
};

static const struct ophost_operator *const operators[] = { &print_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "print",
    .version = "1.0",
    .description = "A sink that prints events as text lines",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

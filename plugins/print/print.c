/*
 * print — a sink that writes one line per event, "name=value" for every
 * field of the data source, to stdout or to a file (appended). Strings are
 * quoted with C-style escapes so a line is always one line. Meant for
 * people and for tests; the JSON sink is for machines.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "timefmt.h"

#define MAX_FIELDS 256

static const struct ophost_host *host;

struct print {
    struct ophost_ctx *ctx;
    const char *path;
    FILE *out;
    bool own_file;
    struct ophost_datasource *ds;
    size_t n_fields;
    const char *names[MAX_FIELDS];
    ophost_field fields[MAX_FIELDS];
    struct timefmt seconds;
    uint64_t write_errors;
};

static int print_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct print *p = calloc(1, sizeof(*p));
    int r;

    if (!p)
        return -ENOMEM;
    p->ctx = ctx;
    p->seconds = (struct timefmt) TIMEFMT_INIT(TIMEFMT_UTC_DATETIME);
    r = host->param_string(ctx, "path", &p->path);
    if (r < 0) {
        free(p);
        return r;
    }
    *ret = p;
    return 0;
}

static int print_pre_start(struct ophost_ctx *ctx, void *data) {
    struct print *p = data;
    int fd;

    if (!p->path[0]) {
        p->out = stdout;
        return 0;
    }
    fd = open(p->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return host->error(ctx, -errno, "cannot open '%s': %s", p->path, strerror(errno));
    p->out = fdopen(fd, "a");
    if (!p->out) {
        close(fd);
        return -ENOMEM;
    }
    p->own_file = true;
    return 0;
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

static void put_quoted(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_field(FILE *f, struct timefmt *tf, const struct ophost_batch *b,
                      const struct ophost_event *e, ophost_field fd) {
    const char *s;
    size_t len = 0;

    switch (fd.type) {
    case OPHOST_FIELD_U8: fprintf(f, "%u", ophost_event_get_u8(e, fd)); break;
    case OPHOST_FIELD_U16: fprintf(f, "%u", ophost_event_get_u16(e, fd)); break;
    case OPHOST_FIELD_U32: fprintf(f, "%" PRIu32, ophost_event_get_u32(e, fd)); break;
    case OPHOST_FIELD_U64: fprintf(f, "%" PRIu64, ophost_event_get_u64(e, fd)); break;
    case OPHOST_FIELD_S32: fprintf(f, "%" PRId32, ophost_event_get_s32(e, fd)); break;
    case OPHOST_FIELD_S64: fprintf(f, "%" PRId64, ophost_event_get_s64(e, fd)); break;
    case OPHOST_FIELD_BOOL: fputs(ophost_event_get_bool(e, fd) ? "true" : "false", f); break;
    case OPHOST_FIELD_TIMESTAMP: {
        uint64_t ns = ophost_event_get_u64(e, fd);
        size_t n;
        fprintf(f, "%s.%06" PRIu64 "Z", timefmt_seconds(tf, ns, &n), (ns % 1000000000u) / 1000u);
        break;
    }
    case OPHOST_FIELD_STRING:
        s = ophost_event_get_string(b, e, fd, &len);
        if (s)
            put_quoted(f, s, len);
        else
            fputs("-", f);
        break;
    case OPHOST_FIELD_BYTES:
        s = ophost_event_get_string(b, e, fd, &len);
        if (!s)
            fputs("-", f);
        for (size_t i = 0; s && i < len; i++)
            fprintf(f, "%02x", (unsigned char) s[i]);
        break;
    }
}

static int print_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct print *p = data;

    if (b->ds != p->ds)
        return 0;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        for (size_t k = 0; k < p->n_fields; k++) {
            fprintf(p->out, "%s%s=", k ? " " : "", p->names[k]);
            put_field(p->out, &p->seconds, b, e, p->fields[k]);
        }
        fputc('\n', p->out);
    }
    /* A write error (disk full, closed pipe) is counted, not fatal: the
     * session keeps running and the count is reported at stop. */
    if (fflush(p->out) != 0) {
        if (p->write_errors++ == 0)
            host->log(ctx, OPHOST_LOG_WARNING, "write to %s failed: %s, counting further errors",
                      p->path[0] ? p->path : "stdout", strerror(errno));
        clearerr(p->out);
    }
    return 0;
}

static int print_post_stop(struct ophost_ctx *ctx, void *data) {
    struct print *p = data;
    int r = 0;

    if (p->write_errors)
        host->log(ctx, OPHOST_LOG_WARNING, "%llu batches could not be written",
                  (unsigned long long) p->write_errors);
    if (p->own_file && fclose(p->out) != 0)
        r = host->error(ctx, -errno, "closing '%s' failed: %s", p->path, strerror(errno));
    p->out = NULL;
    return r;
}

static int print_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "path", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "file to append to (empty = standard output)" },
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

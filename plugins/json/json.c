/*
 * json — a sink that writes one JSON object per event (JSON lines) to
 * standard output or appends it to a file.
 *
 * The shape is event-json.h's, the same as `ophostctl run/watch --json`:
 * dotted names as nested objects, keys in schema order; values are typed:
 * integers as JSON numbers, timestamps as RFC 3339 strings with nanoseconds,
 * bools as true/false, strings as JSON strings (null when unset), bytes as a
 * string of lower-case hex digits (null when unset). Every line is valid JSON whatever
 * the input: '"' and '\' are escaped, control characters and DEL become
 * \b \f \n \r \t or \u00XX, and each byte that is not part of a well-formed
 * UTF-8 sequence (stray continuation bytes, overlong forms, surrogates,
 * code points above U+10FFFF, truncated sequences) is replaced by U+FFFD.
 *
 * The writer is schema-driven: the keys and object braces before every
 * value are laid out once at start (evjson_layout), events are formatted straight into the
 * buffer of sink-output.h, which writes whole lines out when it is full and
 * at the end of each batch. Nothing is allocated per event.
 *
 * Files, log rotation, deleted files and failed writes (whole lines only,
 * every event that cannot be written counted with host->dropped) are
 * sink-output.h's; so is the refusal of a standard output that is the
 * journal. The session stays up when writes fail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "event-json.h"
#include "sink-output.h"

/* Worst case of a non-string value: a quoted timestamp (32 bytes), more
 * than 20 digits of a u64, a sign and 19 digits of an s64, or "false". */
#define MAX_SCALAR EVJSON_TIMESTAMP_LEN

static const struct ophost_host *host;

struct json_field {
    uint32_t offset;
    uint16_t type;
    uint16_t prefix_len;
    uint32_t prefix_off; /* into json->prefixes */
};

struct json {
    struct sink_output out;

    struct ophost_datasource *ds;
    size_t n_fields;
    struct json_field *fields; /* in the order they are written */
    struct evjson_layout layout;
    const char *tail;          /* the closing braces */
    size_t tail_len;
    struct evjson_clock clock;
    size_t fixed_bound; /* bytes of an event without string/bytes contents */
};

/* ------------------------------------------------------------- callbacks */

static int json_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct json *j = calloc(1, sizeof(*j));
    const char *path;
    int r;

    if (!j)
        return -ENOMEM;
    r = host->param_string(ctx, "path", &path);
    if (r < 0) {
        free(j);
        return r;
    }
    sink_output_init(&j->out, host, ctx, path);
    *ret = j;
    return 0;
}

static int json_pre_start(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;
    return sink_output_open(&j->out, ".json");
}

static int json_start(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;
    const char **names;
    ophost_field *handles;
    int r = host->datasource_find(ctx, NULL, &j->ds);

    if (r < 0)
        return host->error(ctx, r, "the session has no data source");
    j->n_fields = host->field_count(ctx, j->ds);
    j->fields = calloc(j->n_fields ? j->n_fields : 1, sizeof(*j->fields));
    names = calloc(j->n_fields ? j->n_fields : 1, sizeof(*names));
    handles = calloc(j->n_fields ? j->n_fields : 1, sizeof(*handles));
    if (!j->fields || !names || !handles) {
        free(names);
        free(handles);
        return -ENOMEM;
    }
    for (size_t i = 0; i < j->n_fields; i++) {
        r = host->field_at(ctx, j->ds, i, &names[i], &handles[i]);
        if (r < 0) {
            free(names);
            free(handles);
            return host->error(ctx, r, "cannot read field #%zu of the schema", i);
        }
    }
    r = evjson_layout_build(names, j->n_fields, &j->layout);
    free(names);
    if (r < 0) {
        free(handles);
        return host->error(ctx, r, "cannot lay out the JSON object: %s", strerror(-r));
    }
    for (size_t k = 0; k < j->n_fields; k++) {
        ophost_field f = handles[j->layout.order[k]];
        if (j->layout.prefix_len[k] > UINT16_MAX) {
            free(handles);
            return host->error(ctx, -E2BIG, "the keys before field #%zu are too long", k);
        }
        j->fields[k] = (struct json_field){
            .offset = f.offset, .type = f.type, .prefix_off = j->layout.prefix_off[k],
            .prefix_len = (uint16_t) j->layout.prefix_len[k],
        };
        j->fixed_bound += j->fields[k].prefix_len + MAX_SCALAR + 2;
    }
    free(handles);
    j->tail = j->layout.text + j->layout.tail_off;
    j->tail_len = j->layout.tail_len;
    j->fixed_bound += j->tail_len + 1; /* the closing braces and "\n" */
    /* Room for two events without strings (the buffer is empty yet). */
    return sink_output_room(&j->out, 2 * j->fixed_bound);
}

static int json_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct json *j = data;
    struct sink_output *o = &j->out;
    const struct json_field *fields = j->fields;
    const char *prefixes = j->layout.text;
    int r;

    if (b->ds != j->ds || b->n == 0)
        return 0;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        const uint8_t *rec = (const uint8_t *) e;
        char *p;

        if (o->cap - o->len < j->fixed_bound && (r = sink_output_room(o, j->fixed_bound)) < 0)
            return r;
        p = o->buf + o->len;
        for (size_t k = 0; k < j->n_fields; k++) {
            const struct json_field *f = &fields[k];
            const uint8_t *v = rec + f->offset;
            memcpy(p, prefixes + f->prefix_off, f->prefix_len);
            p += f->prefix_len;
            switch (f->type) {
            case OPHOST_FIELD_U8: p = evjson_put_u64(p, *v); break;
            case OPHOST_FIELD_U16: {
                uint16_t x;
                memcpy(&x, v, sizeof(x));
                p = evjson_put_u64(p, x);
                break;
            }
            case OPHOST_FIELD_U32: {
                uint32_t x;
                memcpy(&x, v, sizeof(x));
                p = evjson_put_u64(p, x);
                break;
            }
            case OPHOST_FIELD_U64: {
                uint64_t x;
                memcpy(&x, v, sizeof(x));
                p = evjson_put_u64(p, x);
                break;
            }
            case OPHOST_FIELD_TIMESTAMP: {
                uint64_t x;
                memcpy(&x, v, sizeof(x));
                p = evjson_put_timestamp(p, x, &j->clock);
                break;
            }
            case OPHOST_FIELD_S32: {
                int32_t x;
                memcpy(&x, v, sizeof(x));
                p = evjson_put_s64(p, x);
                break;
            }
            case OPHOST_FIELD_S64: {
                int64_t x;
                memcpy(&x, v, sizeof(x));
                p = evjson_put_s64(p, x);
                break;
            }
            case OPHOST_FIELD_BOOL:
                if (*v) {
                    memcpy(p, "true", 4);
                    p += 4;
                } else {
                    memcpy(p, "false", 5);
                    p += 5;
                }
                break;
            case OPHOST_FIELD_STRING:
            case OPHOST_FIELD_BYTES: {
                struct ophost_strref ref;
                size_t need;
                memcpy(&ref, v, sizeof(ref));
                if (ref.off == 0) {
                    memcpy(p, "null", 4);
                    p += 4;
                    break;
                }
                /* The fixed bound covers the quotes; room for the contents
                 * and the rest of the event. */
                need = (f->type == OPHOST_FIELD_STRING ? 6 * (size_t) ref.len : 2 * (size_t) ref.len) +
                       j->fixed_bound;
                if ((size_t) (o->buf + o->cap - p) < need) {
                    o->len = (size_t) (p - o->buf);
                    if ((r = sink_output_room(o, need)) < 0)
                        return r;
                    p = o->buf + o->len;
                }
                if (f->type == OPHOST_FIELD_STRING)
                    p = evjson_put_string(p, (const uint8_t *) b->strings + ref.off, ref.len);
                else
                    p = evjson_put_hex(p, (const uint8_t *) b->strings + ref.off, ref.len);
                break;
            }
            default:
                memcpy(p, "null", 4);
                p += 4;
                break;
            }
        }
        memcpy(p, j->tail, j->tail_len);
        p += j->tail_len;
        *p++ = '\n';
        o->len = (size_t) (p - o->buf);
        sink_output_unit_end(o);
    }
    sink_output_flush(o);
    return 0;
}

static int json_post_stop(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;
    return sink_output_close(&j->out);
}

static int json_destroy(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;

    sink_output_free(&j->out);
    free(j->fields);
    evjson_layout_free(&j->layout);
    free(j);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "path", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "file to append JSON lines to, created with mode 0640 and reopened when "
                     "moved away or deleted (empty = standard output)" },
    { 0 }
};

static const struct ophost_operator json_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "json",
    .description = "Writes each event as one JSON object per line (JSON lines)",
    .priority = OPHOST_PRIORITY_SINK,
    .instance_params = params,
    .instantiate = json_instantiate,
    .pre_start = json_pre_start,
    .start = json_start,
    .process = json_process,
    .post_stop = json_post_stop,
    .destroy = json_destroy,
};

static const struct ophost_operator *const operators[] = { &json_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "json",
    .version = "1.0",
    .description = "A sink that writes events as JSON lines",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

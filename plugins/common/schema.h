/*
 * schema.h — declaring a plugin's data source and fields in instantiate,
 * with the same error messages in every plugin, naming types and fields in
 * those messages, and filling its batches.
 * Header-only (static inline); the plugin passes its host table.
 *
 *     const struct schema_field fields[] = {
 *         { "pid", OPHOST_FIELD_U32, &t->f_pid },
 *         { "comm", OPHOST_FIELD_STRING, &t->f_comm },
 *         { 0 }
 *     };
 *     if ((r = schema_add_fields(host, ctx, t->ds, fields)) < 0) ...
 */
#ifndef OPHOST_PLUGINS_SCHEMA_H
#define OPHOST_PLUGINS_SCHEMA_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ophost/ophost.h>

struct schema_field {
    const char *name;           /* NULL ends a list */
    uint32_t type;              /* OPHOST_FIELD_* */
    ophost_field *ret;
    /* For people (host->field_set_meta; NULL/0 = none): one line saying
     * what the field holds, how to show its number ("bytes", "ns", "us",
     * "ms", "s", "percent", "centipercent"), the columns a table gives it,
     * and whether tables leave it out unless asked for it. */
    const char *description;
    const char *unit;
    const char *width;
    bool hidden;
};

/* Whether the host has field_set_meta (ABI 1.2). */
static inline bool schema_has_field_meta(const struct ophost_host *host) {
    return host->abi_minor >= 2;
}

/* Describes field f of ds (see struct schema_field). A host without
 * field_set_meta shows the field without it: not an error. Returns 0 or
 * what host->error returned. */
static inline int schema_describe_field(const struct ophost_host *host, struct ophost_ctx *ctx,
                                        struct ophost_datasource *ds, const char *name,
                                        ophost_field f, const char *description,
                                        const char *unit, const char *width, bool hidden) {
    const char *keys[] = { "description", "unit", "width", "hidden" };
    const char *values[] = { description, unit, width, hidden ? "true" : NULL };

    if (!schema_has_field_meta(host))
        return 0;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        int r;
        if (!values[k])
            continue;
        r = host->field_set_meta(ctx, ds, f, keys[k], values[k]);
        if (r < 0 && r != -EOPNOTSUPP)
            return host->error(ctx, r, "cannot describe field '%s' (%s '%s'): %s", name,
                               keys[k], values[k], strerror(-r));
    }
    return 0;
}

/* A gadget's data source, and how many events a batch of it holds (0: the
 * host's default). Returns 0 or what host->error returned. */
static inline int schema_add_datasource(const struct ophost_host *host, struct ophost_ctx *ctx,
                                        const char *name, uint32_t capacity,
                                        struct ophost_datasource **ret) {
    int r = host->datasource_add(ctx, name, ret);

    if (r < 0)
        return host->error(ctx, r, "cannot add data source '%s': %s", name, strerror(-r));
    if (capacity > 0 && (r = host->datasource_set_capacity(ctx, *ret, capacity)) < 0)
        return host->error(ctx, r, "cannot size the batch: %s", strerror(-r));
    return 0;
}

/* Adds the fields of a list ended by { 0 } to ds, in order. Returns 0 or
 * what host->error returned for the first that failed. */
static inline int schema_add_fields(const struct ophost_host *host, struct ophost_ctx *ctx,
                                    struct ophost_datasource *ds,
                                    const struct schema_field *fields) {
    for (const struct schema_field *f = fields; f->name; f++) {
        int r = host->field_add(ctx, ds, f->name, f->type, f->ret);
        if (r == -EEXIST)
            return host->error(ctx, r, "field '%s' already exists in data source '%s'", f->name,
                               host->datasource_name(ctx, ds));
        if (r < 0)
            return host->error(ctx, r, "cannot add field '%s': %s", f->name, strerror(-r));
        r = schema_describe_field(host, ctx, ds, f->name, *f->ret, f->description, f->unit,
                                  f->width, f->hidden);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The name of a field type (OPHOST_FIELD_*) for messages: "u32", "string";
 * "?" for a value that is not one. */
static inline const char *schema_type_name(uint32_t type) {
    static const char *const names[] = { "?", "u8", "u16", "u32", "u64", "s32", "s64",
                                         "bool", "timestamp", "string", "bytes" };
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/* The field names of ds as "a, b, c" into buf (cut to size), for messages
 * that say what a data source has. */
static inline void schema_list_fields(const struct ophost_host *host, struct ophost_ctx *ctx,
                                      struct ophost_datasource *ds, char *buf, size_t size) {
    size_t n = host->field_count(ctx, ds), used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        const char *name;
        ophost_field f;
        if (host->field_at(ctx, ds, i, &name, &f) < 0)
            break;
        used += (size_t) snprintf(buf + used, size - used, "%s%s", i ? ", " : "", name);
    }
}

/* Appends an event to b, emitting b first when it is full. Returns 0 and
 * *ret, what emit returned when it failed (the session is failing and says
 * why), or -ENOBUFS. */
static inline int schema_batch_append(const struct ophost_host *host, struct ophost_ctx *ctx,
                                      struct ophost_batch *b, struct ophost_event **ret) {
    struct ophost_event *e = ophost_batch_append(b);

    if (!e) {
        int r = host->emit(ctx, b);
        if (r < 0)
            return r;
        e = ophost_batch_append(b);
        if (!e)
            return -ENOBUFS;
    }
    *ret = e;
    return 0;
}

/* Emits b when it holds events (the end of a gadget's wake-up). Returns 0
 * or what emit returned (the session is failing and says why). */
static inline int schema_batch_flush(const struct ophost_host *host, struct ophost_ctx *ctx,
                                     struct ophost_batch *b) {
    return b->n > 0 ? host->emit(ctx, b) : 0;
}

#endif

/*
 * schema.h — declaring a plugin's data source and fields in instantiate,
 * with the same error messages in every plugin, and filling its batches.
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
#include <stdint.h>
#include <string.h>

#include <ophost/ophost.h>

struct schema_field {
    const char *name;           /* NULL ends a list */
    uint32_t type;              /* OPHOST_FIELD_* */
    ophost_field *ret;
};

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
    }
    return 0;
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

#endif

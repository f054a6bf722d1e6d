/* tally — a sink template, built out of tree like example.c: counts events per
 * value of string field `by`; at stop writes "VALUE COUNT" lines to `path`. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ophost/ophost.h>

static const struct ophost_host *host;

struct key { char *value; uint64_t n; };

struct tally {
    struct ophost_datasource *ds;
    ophost_field by;
    const char *path;
    FILE *out;
    struct key *keys; /* n_keys, in the order first seen; room for cap */
    size_t n_keys, cap;
};

static int tally_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret_data) {
    struct tally *t = calloc(1, sizeof(*t));
    const char *by;
    int r;

    (void) op_data;
    if (!t)
        return -ENOMEM;
    if ((r = host->param_string(ctx, "by", &by)) < 0 ||
        (r = host->param_string(ctx, "path", &t->path)) < 0 ||
        (r = host->datasource_find(ctx, NULL, &t->ds)) < 0 ||
        (r = ophost_field_require(host, ctx, t->ds, by, OPHOST_FIELD_STRING, &t->by)) < 0)
        free(t);
    else
        *ret_data = t;
    return r;
}

/* Resources in pre_start (never in instantiate), released in post_stop. */
static int tally_pre_start(struct ophost_ctx *ctx, void *data) {
    struct tally *t = data;
    t->out = fopen(t->path, "we");
    return t->out ? 0 : host->error(ctx, -errno, "cannot open '%s'", t->path);
}

/* The count of value v. State grows per new value, the array doubling when
 * full (amortised), never per event. For many values use a hash table. */
static struct key *key_of(struct tally *t, const char *v) {
    for (size_t k = 0; k < t->n_keys; k++)
        if (strcmp(t->keys[k].value, v) == 0)
            return &t->keys[k];
    if (t->n_keys == t->cap) {
        struct key *keys = realloc(t->keys, (t->cap ? 2 * t->cap : 16) * sizeof(*keys));
        if (!keys)
            return NULL;
        t->keys = keys;
        t->cap = t->cap ? 2 * t->cap : 16;
    }
    if (!(t->keys[t->n_keys].value = strdup(v)))
        return NULL;
    t->keys[t->n_keys].n = 0;
    return &t->keys[t->n_keys++];
}

static int tally_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct tally *t = data;
    for (uint32_t i = 0; i < b->n && b->ds == t->ds; i++) {
        const char *v = ophost_event_get_string(b, ophost_batch_event(b, i), t->by, NULL);
        struct key *k = key_of(t, v ? v : "-"); /* "-": the field is unset */
        if (!k)
            return host->error(ctx, -ENOMEM, "out of memory");
        k->n++;
    }
    return 0;
}

/* No event arrives after stop: the place to write what was aggregated. */
static int tally_stop(struct ophost_ctx *ctx, void *data) {
    struct tally *t = data;
    for (size_t i = 0; i < t->n_keys; i++)
        fprintf(t->out, "%s %llu\n", t->keys[i].value, (unsigned long long) t->keys[i].n);
    return fflush(t->out) == 0 ? 0 : host->error(ctx, -errno, "cannot write '%s'", t->path);
}

static int tally_post_stop(struct ophost_ctx *ctx, void *data) {
    struct tally *t = data;
    return fclose(t->out) == 0 ? 0 : host->error(ctx, -errno, "cannot close '%s'", t->path);
}

static int tally_destroy(struct ophost_ctx *ctx, void *data) {
    struct tally *t = data;
    (void) ctx;
    while (t->n_keys > 0)
        free(t->keys[--t->n_keys].value);
    free(t->keys);
    free(t);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "by", .description = "the string field to count by",
      .type = OPHOST_PARAM_STRING, .default_value = "comm" },
    { .key = "path", .description = "the file to write the counts to at stop",
      .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_MANDATORY },
    { 0 }
};

static const struct ophost_operator tally = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "tally", .description = "Counts events per value of a field, writes them at stop",
    .priority = OPHOST_PRIORITY_SINK, .instance_params = params,
    .instantiate = tally_instantiate, .pre_start = tally_pre_start, .stop = tally_stop,
    .post_stop = tally_post_stop, .destroy = tally_destroy, .process = tally_process,
};

OPHOST_PLUGIN(host, "tally", "1.0", "An aggregating sink", &tally);

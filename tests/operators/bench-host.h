/*
 * bench-host.h — what the benchmarks that drive one dlopen'ed plugin
 * through a minimal host table (bench-filter, bench-json) share: one data
 * source whose fields come from the benchmark's table, and errors printed
 * to stderr. Header-only; set bench_fields and bench_n_fields before the
 * plugin's instantiate.
 */
#ifndef OPHOST_TESTS_BENCH_HOST_H
#define OPHOST_TESTS_BENCH_HOST_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <ophost/ophost.h>

struct bench_field {
    const char *name;
    ophost_field f;
};

static const struct bench_field *bench_fields;
static size_t bench_n_fields;

/* The one data source: any address serves, the plugin never looks inside. */
static char bench_ds_storage;
#define BENCH_DS ((struct ophost_datasource *) (void *) &bench_ds_storage)

static inline int bench_error(struct ophost_ctx *ctx, int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return err < 0 ? err : -EIO;
}

static inline int bench_datasource_find(struct ophost_ctx *ctx, const char *name,
                                        struct ophost_datasource **ret) {
    *ret = BENCH_DS;
    return 0;
}

static inline int bench_field_find(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                   const char *name, ophost_field *ret) {
    for (size_t i = 0; i < bench_n_fields; i++)
        if (strcmp(bench_fields[i].name, name) == 0) {
            *ret = bench_fields[i].f;
            return 0;
        }
    return -ENOENT;
}

static inline size_t bench_field_count(struct ophost_ctx *ctx, struct ophost_datasource *ds) {
    return bench_n_fields;
}

static inline int bench_field_at(struct ophost_ctx *ctx, struct ophost_datasource *ds, size_t i,
                                 const char **ret_name, ophost_field *ret) {
    if (i >= bench_n_fields)
        return -ERANGE;
    *ret_name = bench_fields[i].name;
    *ret = bench_fields[i].f;
    return 0;
}

#endif

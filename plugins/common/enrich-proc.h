/*
 * enrich-proc.h — helpers shared by the enricher plugins (procinfo, uidgid,
 * unit; everything is static, each plugin compiles its own copy): the
 * enriched data source and its id field, the common part of the enrichers
 * keyed by an event's pid (procinfo, unit: their params, cache and the
 * per-event /proc/PID/stat read) and the cgroup path of a process. The
 * /proc readers themselves are in procfs.h. Only the instantiate helpers
 * allocate; the rest works in the callers' preallocated buffers.
 */
#ifndef OPHOST_PLUGINS_ENRICH_PROC_H
#define OPHOST_PLUGINS_ENRICH_PROC_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "enrich-cache.h"
#include "procfs.h"
#include "schema.h"

/* Whether t is an integer field type a pid/uid/gid may have. */
static inline bool enrich_is_integer_type(uint32_t t) {
    return t >= OPHOST_FIELD_U8 && t <= OPHOST_FIELD_S64;
}

/* An integer field's value, widened. *ret_negative tells a negative signed
 * value apart (its magnitude is then not meaningful as an id). */
static inline uint64_t enrich_get_integer(const struct ophost_event *e, ophost_field f,
                                          bool *ret_negative) {
    int64_t s;

    *ret_negative = false;
    switch (f.type) {
    case OPHOST_FIELD_U8: return ophost_event_get_u8(e, f);
    case OPHOST_FIELD_U16: return ophost_event_get_u16(e, f);
    case OPHOST_FIELD_U32: return ophost_event_get_u32(e, f);
    case OPHOST_FIELD_U64: return ophost_event_get_u64(e, f);
    case OPHOST_FIELD_S32: s = ophost_event_get_s32(e, f); break;
    case OPHOST_FIELD_S64: s = ophost_event_get_s64(e, f); break;
    default: return 0;
    }
    *ret_negative = s < 0;
    return (uint64_t) s;
}

/* The data source to enrich: the one named by param 'datasource', or the
 * session's first when ds_name is empty. Returns 0 or what host->error
 * returned. */
static inline int enrich_find_datasource(const struct ophost_host *host, struct ophost_ctx *ctx,
                                         const char *ds_name, struct ophost_datasource **ret) {
    int r = host->datasource_find(ctx, ds_name[0] ? ds_name : NULL, ret);

    if (r < 0)
        return ds_name[0] ? host->error(ctx, r, "param 'datasource': no data source '%s'", ds_name)
                          : host->error(ctx, r, "the session has no data source");
    return 0;
}

/* The integer field name of ds that param (e.g. "pid-field") names.
 * Returns 0 or what host->error returned. */
static inline int enrich_find_id_field(const struct ophost_host *host, struct ophost_ctx *ctx,
                                       struct ophost_datasource *ds, const char *param,
                                       const char *name, ophost_field *ret) {
    if (host->field_find(ctx, ds, name, ret) < 0)
        return host->error(ctx, -ENOENT, "param '%s': data source '%s' has no field '%s'", param,
                           host->datasource_name(ctx, ds), name);
    if (!enrich_is_integer_type(ret->type))
        return host->error(ctx, -EINVAL,
                           "param '%s': field '%s' is of type %s, not an integer type", param,
                           name, schema_type_name(ret->type));
    return 0;
}

/* Reads /proc/PID/stat (up to arg_end) with the caller's buffer. Returns 0,
 * -ENOENT when the process is gone, or another negative errno: that one is
 * counted in *errors and logged the first time (the event's fields are then
 * left unset). */
static inline int enrich_stat_read(const struct ophost_host *host, struct ophost_ctx *ctx,
                                   uint64_t pid, char *buf, size_t size, struct procfs_stat *ret,
                                   uint64_t *errors) {
    int r = procfs_stat_read(AT_FDCWD, (uint32_t) pid, buf, size, PROCFS_STAT_STARTTIME,
                             PROCFS_STAT_ARG_END, ret);

    if (r < 0 && r != -ENOENT && (*errors)++ == 0)
        host->log(ctx, OPHOST_LOG_WARNING,
                  "cannot read /proc/%" PRIu64 "/stat: %s, leaving the fields unset "
                  "(further errors are counted)", pid, strerror(-r));
    return r;
}

/* The stop-time debug line of an enricher with one cache. */
static inline void enrich_log_cache(const struct ophost_host *host, struct ophost_ctx *ctx,
                                    const struct enrich_cache *cache, uint64_t uncacheable,
                                    uint64_t read_errors) {
    host->log(ctx, OPHOST_LOG_DEBUG,
              "cache: %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64 " evictions, %" PRIu64
              " uncacheable, %" PRIu64 " read errors",
              cache->hits, cache->misses, cache->evictions, uncacheable, read_errors);
}

/* ------------------------------------------- enrichers keyed by a pid */

/* The instance params every pid enricher declares first, read by
 * enrich_pid_setup. */
#define ENRICH_PID_PARAMS                                                                  \
    { .key = "pid-field", .type = OPHOST_PARAM_STRING, .default_value = "pid",             \
      .description = "integer field holding the pid of the event's process" },             \
    { .key = "datasource", .type = OPHOST_PARAM_STRING, .default_value = "",               \
      .description = "data source to enrich (empty = the session's first)" },              \
    { .key = "cache-size", .type = OPHOST_PARAM_UINT, .default_value = "4096",             \
      .flags = OPHOST_PARAM_HAS_MAX, .max = 1 << 20,                                       \
      .description = "processes kept in the cache (0 = no cache)" }

/* What every pid enricher instance holds: the data source it enriches, its
 * pid field, the cache of processes keyed by (pid, start time), the buffer
 * for /proc/PID/stat and the counters of its stop-time debug line. */
struct enrich_pid {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field pid;
    struct enrich_cache cache;
    char stat_buf[1024];
    uint64_t uncacheable, read_errors;
};

/* The common part of instantiate, on a zeroed ep: reads ENRICH_PID_PARAMS,
 * finds the data source and its pid field, adds fields (a list ended by
 * { 0 }) to it and sets up the cache. Returns 0, what host->error returned,
 * or -ENOMEM; either way enrich_cache_fini(&ep->cache) frees what it set up. */
static inline int enrich_pid_setup(const struct ophost_host *host, struct ophost_ctx *ctx,
                                   struct enrich_pid *ep, const struct schema_field *fields) {
    const char *pid_name, *ds_name;
    uint64_t cache_size;
    int r;

    ep->ctx = ctx;
    if ((r = host->param_string(ctx, "pid-field", &pid_name)) < 0 ||
        (r = host->param_string(ctx, "datasource", &ds_name)) < 0 ||
        (r = host->param_uint(ctx, "cache-size", &cache_size)) < 0 ||
        (r = enrich_find_datasource(host, ctx, ds_name, &ep->ds)) < 0 ||
        (r = enrich_find_id_field(host, ctx, ep->ds, "pid-field", pid_name, &ep->pid)) < 0 ||
        (r = schema_add_fields(host, ctx, ep->ds, fields)) < 0)
        return r;
    if (enrich_cache_init(&ep->cache, (uint32_t) cache_size) < 0)
        return -ENOMEM;
    return 0;
}

/* A zeroed array of one element of size bytes per cache slot (at least
 * one), or NULL. calloc: pages of entries never used are never touched. */
static inline void *enrich_pid_slots(const struct enrich_pid *ep, size_t size) {
    return calloc(ep->cache.size ? ep->cache.size : 1, size);
}

/* Consecutive events of one pid share one lookup: the pid of the event
 * before in the batch. */
struct enrich_last {
    uint64_t pid;
    bool negative, valid;
};

/* Reads the pid of e into *last; returns whether it needs a lookup (it is
 * not the pid of the event before). */
static inline bool enrich_next_pid(const struct enrich_pid *ep, const struct ophost_event *e,
                                   struct enrich_last *last) {
    bool negative;
    uint64_t pid = enrich_get_integer(e, ep->pid, &negative);
    bool changed = !last->valid || pid != last->pid || negative != last->negative;

    *last = (struct enrich_last){ .pid = pid, .negative = negative, .valid = true };
    return changed;
}

/* The first step of a lookup: /proc/PID/stat of pid into *ret, through
 * enrich_stat_read. Returns 0; -ENOENT when the process is gone or no
 * process can have this pid (negative, 0, beyond the pid range); another
 * negative errno when it could not be read. */
static inline int enrich_pid_stat(const struct ophost_host *host, struct enrich_pid *ep,
                                  uint64_t pid, bool negative, struct procfs_stat *ret) {
    if (negative || pid == 0 || pid > INT32_MAX)
        return -ENOENT;
    return enrich_stat_read(host, ep->ctx, pid, ep->stat_buf, sizeof(ep->stat_buf), ret,
                            &ep->read_errors);
}

/* Whether the process of st has exited and is not yet reaped. */
static inline bool enrich_stat_exited(const struct procfs_stat *st) {
    return st->state == 'Z' || st->state == 'X';
}

/*
 * Picks the cgroup path from the text of /proc/PID/cgroup: the cgroup v2
 * line "0::PATH" if there is one, else the systemd v1 hierarchy
 * "N:name=systemd:PATH". Returns whether a path was found; *ret points into
 * buf.
 */
static inline bool enrich_cgroup_pick(const char *buf, size_t len, const char **ret,
                                      size_t *ret_len) {
    const char *end = buf + len, *line = buf, *found = NULL;
    size_t found_len = 0;

    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t) (end - line));
        const char *eol = nl ? nl : end;
        const char *c1 = memchr(line, ':', (size_t) (eol - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (eol - c1 - 1)) : NULL;
        /* An unterminated last line was cut by the buffer: not trusted. */
        if (c2 && nl) {
            bool v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
            bool sd = (size_t) (c2 - c1 - 1) == strlen("name=systemd") &&
                      memcmp(c1 + 1, "name=systemd", strlen("name=systemd")) == 0;
            if (v2 || (sd && !found)) {
                found = c2 + 1;
                found_len = (size_t) (eol - found);
                if (v2)
                    break;
            }
        }
        line = eol + 1;
    }
    if (!found)
        return false;
    *ret = found;
    *ret_len = found_len;
    return true;
}

#endif

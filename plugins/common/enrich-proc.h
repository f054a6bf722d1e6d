/*
 * enrich-proc.h — helpers shared by the enricher plugins (procinfo, uidgid,
 * unit; everything is static, each plugin compiles its own copy): the
 * enriched data source and its id field, and the cgroup path of a process.
 * The /proc readers themselves are in procfs.h. Nothing here allocates:
 * callers pass their preallocated buffers.
 */
#ifndef OPHOST_PLUGINS_ENRICH_PROC_H
#define OPHOST_PLUGINS_ENRICH_PROC_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <ophost/ophost.h>

#include "enrich-cache.h"
#include "procfs.h"

/* Whether t is an integer field type a pid/uid/gid may have. */
static inline bool enrich_is_integer_type(uint32_t t) {
    return t >= OPHOST_FIELD_U8 && t <= OPHOST_FIELD_S64;
}

static inline const char *enrich_type_name(uint32_t t) {
    static const char *const names[] = { "?", "u8", "u16", "u32", "u64", "s32", "s64",
                                         "bool", "timestamp", "string", "bytes" };
    return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
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
                           name, enrich_type_name(ret->type));
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

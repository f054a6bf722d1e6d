/*
 * unit — an enricher that adds the systemd unit and slice of the event's
 * process (sd_pid_get_unit, sd_pid_get_slice) and, from its cgroup path,
 * the container it runs in (container.id, container.runtime; see
 * cgroup-container.h for the layouts recognised).
 *
 * Each event costs one read of /proc/PID/stat for the cache key (pid, start
 * time), so a reused pid is not mistaken for the old process; the rest is
 * kept in a bounded CLOCK cache allocated at instantiate. A process is
 * assumed to stay in its cgroup (true unless something moves it, as
 * pam_systemd does with a session's first process). Processes that are gone
 * get every field unset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-login.h>

#include <ophost/ophost.h>

#include "cgroup-container.h"
#include "enrich-cache.h"
#include "enrich-proc.h"
#include "procfs.h"
#include "schema.h"

#define STR_ROOM 512            /* unit + slice + id per cache entry */
#define CGROUP_BUF 16384
#define ID_MAX 256

static const struct ophost_host *host;

struct info {
    const char *unit, *slice, *id;
    size_t unit_len, slice_len, id_len;
    uint8_t runtime;            /* enum container_runtime */
    bool has_unit, has_slice;
};

struct entry {
    uint16_t unit_len, slice_len, id_len;
    uint8_t runtime;
    bool has_unit, has_slice;
};

struct unit {
    struct enrich_pid ep;
    ophost_field unit, slice, id, runtime;

    struct entry *entries;
    char *arena;                /* STR_ROOM bytes per entry */

    char *cgroup_buf;
    char id_buf[ID_MAX];
    char *sd_unit, *sd_slice;   /* of the last miss, freed at the next */
};

static void free_sd(struct unit *u) {
    free(u->sd_unit);
    free(u->sd_slice);
    u->sd_unit = u->sd_slice = NULL;
}

static int unit_destroy(struct ophost_ctx *ctx, void *data) {
    struct unit *u = data;

    free_sd(u);
    enrich_cache_fini(&u->ep.cache);
    free(u->entries);
    free(u->arena);
    free(u->cgroup_buf);
    free(u);
    return 0;
}

static int unit_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct unit *u = calloc(1, sizeof(*u));
    int r;

    if (!u)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "unit", OPHOST_FIELD_STRING, &u->unit, "systemd unit of the process", NULL, "20", false },
        { "slice", OPHOST_FIELD_STRING, &u->slice, "systemd slice of the process", NULL, "16", true },
        { "container.id", OPHOST_FIELD_STRING, &u->id, "container id (unset outside containers)", NULL, "12", true },
        { "container.runtime", OPHOST_FIELD_STRING, &u->runtime, "container runtime (docker, podman, ...)", NULL, "10", true },
        { 0 }
    };

    if ((r = enrich_pid_setup(host, ctx, &u->ep, fields)) < 0)
        goto fail;
    r = -ENOMEM;
    u->entries = enrich_pid_slots(&u->ep, sizeof(*u->entries));
    u->arena = enrich_pid_slots(&u->ep, STR_ROOM);
    u->cgroup_buf = malloc(CGROUP_BUF);
    if (!u->entries || !u->arena || !u->cgroup_buf)
        goto fail;
    *ret = u;
    return 0;
fail:
    unit_destroy(ctx, u);
    return r;
}

static void read_process(struct unit *u, uint32_t pid, struct info *in) {
    const char *cg;
    size_t cg_len;
    ssize_t n;

    free_sd(u);
    if (sd_pid_get_unit((pid_t) pid, &u->sd_unit) >= 0) {
        in->has_unit = true;
        in->unit = u->sd_unit;
        in->unit_len = strlen(u->sd_unit);
    }
    if (sd_pid_get_slice((pid_t) pid, &u->sd_slice) >= 0) {
        in->has_slice = true;
        in->slice = u->sd_slice;
        in->slice_len = strlen(u->sd_slice);
    }
    n = procfs_pid_read(AT_FDCWD, pid, "cgroup", u->cgroup_buf, CGROUP_BUF);
    if (n > 0 && enrich_cgroup_pick(u->cgroup_buf, (size_t) n, &cg, &cg_len)) {
        int rt = cgroup_container_parse(cg, cg_len, u->id_buf, sizeof(u->id_buf), &in->id_len);
        if (rt != CONTAINER_NONE) {
            in->runtime = (uint8_t) rt;
            in->id = u->id_buf;
        }
    }
}

static void entry_store(struct unit *u, uint32_t slot, const struct info *in) {
    char *s = u->arena + (size_t) slot * STR_ROOM;

    u->entries[slot] = (struct entry){ .unit_len = (uint16_t) in->unit_len,
                                       .slice_len = (uint16_t) in->slice_len,
                                       .id_len = (uint16_t) in->id_len, .runtime = in->runtime,
                                       .has_unit = in->has_unit, .has_slice = in->has_slice };
    memcpy(s, in->unit, in->unit_len);
    memcpy(s + in->unit_len, in->slice, in->slice_len);
    memcpy(s + in->unit_len + in->slice_len, in->id, in->id_len);
}

static void entry_load(const struct unit *u, uint32_t slot, struct info *in) {
    const struct entry *en = &u->entries[slot];
    const char *s = u->arena + (size_t) slot * STR_ROOM;

    *in = (struct info){ .unit = s, .unit_len = en->unit_len,
                         .slice = s + en->unit_len, .slice_len = en->slice_len,
                         .id = s + en->unit_len + en->slice_len, .id_len = en->id_len,
                         .runtime = en->runtime, .has_unit = en->has_unit,
                         .has_slice = en->has_slice };
}

/* Fills *in for pid; false when the process is gone (or unreadable). */
static bool lookup(struct unit *u, uint64_t pid, bool negative, struct info *in) {
    struct procfs_stat st = { 0 };
    uint32_t slot;

    *in = (struct info){ 0 };
    if (enrich_pid_stat(host, &u->ep, pid, negative, &st) < 0 || enrich_stat_exited(&st))
        return false;
    slot = enrich_cache_find(&u->ep.cache, pid, st.field[PROCFS_STAT_STARTTIME]);
    if (slot != ENRICH_CACHE_NONE) {
        entry_load(u, slot, in);
        return true;
    }
    read_process(u, (uint32_t) pid, in);
    if (in->unit_len + in->slice_len + in->id_len > STR_ROOM) {
        u->ep.uncacheable++;
        return true;
    }
    slot = enrich_cache_insert(&u->ep.cache, pid, st.field[PROCFS_STAT_STARTTIME]);
    if (slot != ENRICH_CACHE_NONE) {
        entry_store(u, slot, in);
        entry_load(u, slot, in);
    }
    return true;
}

static int unit_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct unit *u = data;
    struct enrich_last last = { 0 };
    struct info in = { 0 };
    bool alive = false;

    if (b->ds != u->ep.ds)
        return 0;
    for (uint32_t i = 0; i < b->n; i++) {
        struct ophost_event *e = ophost_batch_event(b, i);
        int r = 0;

        if (enrich_next_pid(&u->ep, e, &last))
            alive = lookup(u, last.pid, last.negative, &in);
        if (!alive)
            continue;
        if (in.has_unit)
            r = ophost_event_set_bytes(b, e, u->unit, in.unit, in.unit_len);
        if (r == 0 && in.has_slice)
            r = ophost_event_set_bytes(b, e, u->slice, in.slice, in.slice_len);
        if (r == 0 && in.runtime != CONTAINER_NONE) {
            r = ophost_event_set_bytes(b, e, u->id, in.id, in.id_len);
            if (r == 0)
                r = ophost_event_set_string(b, e, u->runtime,
                                            container_runtime_name(in.runtime));
        }
        if (r < 0)
            return host->error(ctx, r, "out of memory for the strings of a batch");
    }
    return 0;
}

static int unit_stop(struct ophost_ctx *ctx, void *data) {
    struct unit *u = data;

    enrich_log_cache(host, ctx, &u->ep.cache, u->ep.uncacheable, u->ep.read_errors);
    return 0;
}

static const struct ophost_param params[] = {
    ENRICH_PID_PARAMS,
    { 0 }
};

static const struct ophost_operator unit_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "unit",
    .description = "Adds the systemd unit and slice and the container id and runtime of the "
                   "event's pid",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .instance_params = params,
    .instantiate = unit_instantiate,
    .stop = unit_stop,
    .process = unit_process,
    .destroy = unit_destroy,
};

static const struct ophost_operator *const operators[] = { &unit_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "unit",
    .version = "1.0",
    .description = "systemd unit, slice and container of processes",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

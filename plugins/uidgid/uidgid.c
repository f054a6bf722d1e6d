/*
 * uidgid — an enricher that turns the uid and gid fields of events into
 * user and group names through NSS (getpwuid_r, getgrgid_r), so LDAP/sssd
 * users resolve as well as /etc/passwd ones.
 *
 * Lookups are cached per session in two bounded CLOCK caches (users, groups)
 * allocated at instantiate; ids with no name are cached too, and their name
 * field holds the number as text ("1234"). Entries expire after cache-ttl so
 * users added or renamed later are seen. NSS may block (a network
 * directory): only on a cache miss.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ophost/ophost.h>

#include "enrich-cache.h"
#include "enrich-proc.h"

#define NAME_ROOM 64            /* longer names are served uncached */
#define NSS_BUF_MIN 4096
#define NSS_BUF_MAX (1u << 20)

static const struct ophost_host *host;

struct name {
    uint64_t expires_ns;        /* CLOCK_MONOTONIC; 0 = never */
    uint8_t len;
    char text[NAME_ROOM];
};

struct table {
    bool on;
    bool group;                 /* getgrgid_r instead of getpwuid_r */
    ophost_field id, name;
    struct enrich_cache cache;
    struct name *names;
};

struct uidgid {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    struct table users, groups;
    uint64_t ttl_ns;
    char *nss_buf;
    size_t nss_size;
    char text[32];              /* a number as text */
    uint64_t nss_errors;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int uidgid_destroy(struct ophost_ctx *ctx, void *data) {
    struct uidgid *u = data;

    enrich_cache_fini(&u->users.cache);
    enrich_cache_fini(&u->groups.cache);
    free(u->users.names);
    free(u->groups.names);
    free(u->nss_buf);
    free(u);
    return 0;
}

/* Sets up one table when its id field exists; an absent field leaves the
 * table off. */
static int table_init(struct uidgid *u, struct table *t, const char *param, const char *id_name,
                      const char *name_name, uint64_t size) {
    const struct schema_field fields[] = {
        { name_name, OPHOST_FIELD_STRING, &t->name,
          strcmp(name_name, "user") == 0 ? "user name of the uid field (NSS)"
                                         : "group name of the gid field (NSS)",
          NULL, "10", false },
        { 0 }
    };
    int r = host->field_find(u->ctx, u->ds, id_name, &t->id);

    if (r < 0) {
        host->log(u->ctx, OPHOST_LOG_DEBUG, "data source '%s' has no field '%s' (param '%s'), "
                  "not adding '%s'", host->datasource_name(u->ctx, u->ds), id_name, param,
                  name_name);
        return 0;
    }
    if (!enrich_is_integer_type(t->id.type))
        return host->error(u->ctx, -EINVAL,
                           "param '%s': field '%s' is of type %s, not an integer type", param,
                           id_name, schema_type_name(t->id.type));
    if ((r = schema_add_fields(host, u->ctx, u->ds, fields)) < 0)
        return r;
    if (enrich_cache_init(&t->cache, (uint32_t) size) < 0)
        return -ENOMEM;
    t->names = calloc(size ? size : 1, sizeof(*t->names));
    if (!t->names)
        return -ENOMEM;
    t->on = true;
    return 0;
}

static int uidgid_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct uidgid *u = calloc(1, sizeof(*u));
    const char *uid_name, *gid_name, *ds_name;
    uint64_t cache_size;
    long sz;
    int r;

    if (!u)
        return -ENOMEM;
    u->ctx = ctx;
    u->groups.group = true;
    if ((r = host->param_string(ctx, "uid-field", &uid_name)) < 0 ||
        (r = host->param_string(ctx, "gid-field", &gid_name)) < 0 ||
        (r = host->param_string(ctx, "datasource", &ds_name)) < 0 ||
        (r = host->param_uint(ctx, "cache-size", &cache_size)) < 0 ||
        (r = host->param_duration(ctx, "cache-ttl", &u->ttl_ns)) < 0 ||
        (r = enrich_find_datasource(host, ctx, ds_name, &u->ds)) < 0)
        goto fail;
    if ((r = table_init(u, &u->users, "uid-field", uid_name, "user", cache_size)) < 0 ||
        (r = table_init(u, &u->groups, "gid-field", gid_name, "group", cache_size)) < 0)
        goto fail;
    if (!u->users.on && !u->groups.on) {
        r = host->error(ctx, -ENOENT,
                        "data source '%s' has neither field '%s' (param 'uid-field') nor "
                        "field '%s' (param 'gid-field')",
                        host->datasource_name(ctx, u->ds), uid_name, gid_name);
        goto fail;
    }
    sz = sysconf(_SC_GETPW_R_SIZE_MAX);
    u->nss_size = sz > NSS_BUF_MIN ? (size_t) sz : NSS_BUF_MIN;
    u->nss_buf = malloc(u->nss_size);
    if (!u->nss_buf) {
        r = -ENOMEM;
        goto fail;
    }
    *ret = u;
    return 0;
fail:
    uidgid_destroy(ctx, u);
    return r;
}

/* Asks NSS for the name of id. Returns 1 and sets *ret_name (pointing into
 * nss_buf) when found, 0 when the id has no name, a negative errno when the
 * lookup failed (then nothing should be cached). */
static int nss_name(struct uidgid *u, bool group, uint32_t id, const char **ret_name) {
    for (;;) {
        struct passwd pw, *pwp = NULL;
        struct group gr, *grp = NULL;
        int r;

        if (group)
            r = getgrgid_r((gid_t) id, &gr, u->nss_buf, u->nss_size, &grp);
        else
            r = getpwuid_r((uid_t) id, &pw, u->nss_buf, u->nss_size, &pwp);
        if (r == ERANGE && u->nss_size < NSS_BUF_MAX) {
            char *bigger = realloc(u->nss_buf, u->nss_size * 2);
            if (!bigger)
                return -ENOMEM;
            u->nss_buf = bigger;
            u->nss_size *= 2;
            continue;
        }
        /* getpwuid_r(3): these also mean "not found". */
        if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM) {
            const char *name = group ? (grp ? grp->gr_name : NULL) : (pwp ? pwp->pw_name : NULL);
            if (!name || !name[0])
                return 0;
            *ret_name = name;
            return 1;
        }
        return -r;
    }
}

/* The name of id: from the cache or NSS, else the number as text. */
static const char *resolve(struct uidgid *u, struct table *t, uint64_t id, bool negative,
                           uint64_t now, size_t *ret_len) {
    const char *name = NULL;
    uint32_t slot;
    int r;

    if (negative || id > UINT32_MAX) {
        /* Not an id NSS can know; show the value as it is. */
        if (negative)
            snprintf(u->text, sizeof(u->text), "%" PRId64, (int64_t) id);
        else
            snprintf(u->text, sizeof(u->text), "%" PRIu64, id);
        *ret_len = strlen(u->text);
        return u->text;
    }
    slot = enrich_cache_find(&t->cache, id, 0);
    if (slot != ENRICH_CACHE_NONE &&
        (t->names[slot].expires_ns == 0 || now < t->names[slot].expires_ns)) {
        *ret_len = t->names[slot].len;
        return t->names[slot].text;
    }
    r = nss_name(u, t->group, (uint32_t) id, &name);
    if (r < 0 && u->nss_errors++ == 0)
        host->log(u->ctx, OPHOST_LOG_WARNING,
                  "looking up %s %" PRIu64 " failed: %s, showing the number (further errors "
                  "are counted)", t->group ? "gid" : "uid", id, strerror(-r));
    if (r <= 0) {
        name = u->text;
        snprintf(u->text, sizeof(u->text), "%" PRIu64, id);
    }
    *ret_len = strlen(name);
    if (r < 0 || *ret_len >= NAME_ROOM)
        return name;
    if (slot == ENRICH_CACHE_NONE)
        slot = enrich_cache_insert(&t->cache, id, 0);
    if (slot == ENRICH_CACHE_NONE)
        return name;
    memcpy(t->names[slot].text, name, *ret_len + 1);
    t->names[slot].len = (uint8_t) *ret_len;
    t->names[slot].expires_ns = u->ttl_ns ? now + u->ttl_ns : 0;
    return t->names[slot].text;
}

static int enrich(struct uidgid *u, struct table *t, struct ophost_batch *b, uint64_t now) {
    const char *name = NULL;
    uint64_t last = 0;
    bool last_neg = false;
    size_t len = 0;

    for (uint32_t i = 0; i < b->n; i++) {
        struct ophost_event *e = ophost_batch_event(b, i);
        bool neg;
        uint64_t id = enrich_get_integer(e, t->id, &neg);
        int r;

        /* Runs of the same id (common) resolve once; name stays valid
         * until the next resolve. */
        if (!name || id != last || neg != last_neg)
            name = resolve(u, t, id, neg, now, &len);
        last = id;
        last_neg = neg;
        r = ophost_event_set_bytes(b, e, t->name, name, len);
        if (r < 0)
            return host->error(u->ctx, r, "out of memory for the strings of a batch");
    }
    return 0;
}

static int uidgid_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct uidgid *u = data;
    uint64_t now;
    int r = 0;

    if (b->ds != u->ds || b->n == 0)
        return 0;
    now = u->ttl_ns ? now_ns() : 0;
    if (u->users.on)
        r = enrich(u, &u->users, b, now);
    if (r == 0 && u->groups.on)
        r = enrich(u, &u->groups, b, now);
    return r;
}

static int uidgid_stop(struct ophost_ctx *ctx, void *data) {
    struct uidgid *u = data;

    host->log(ctx, OPHOST_LOG_DEBUG,
              "users: %" PRIu64 " hits, %" PRIu64 " misses; groups: %" PRIu64 " hits, %" PRIu64
              " misses; %" PRIu64 " lookup errors",
              u->users.cache.hits, u->users.cache.misses, u->groups.cache.hits,
              u->groups.cache.misses, u->nss_errors);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "uid-field", .type = OPHOST_PARAM_STRING, .default_value = "uid",
      .description = "integer field with a user id; 'user' is added when it exists" },
    { .key = "gid-field", .type = OPHOST_PARAM_STRING, .default_value = "gid",
      .description = "integer field with a group id; 'group' is added when it exists" },
    { .key = "datasource", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "data source to enrich (empty = the session's first)" },
    { .key = "cache-size", .type = OPHOST_PARAM_UINT, .default_value = "1024",
      .flags = OPHOST_PARAM_HAS_MAX, .max = 1 << 20,
      .description = "ids kept per cache (users, groups), found or not (0 = no cache)" },
    { .key = "cache-ttl", .type = OPHOST_PARAM_DURATION, .default_value = "60s",
      .description = "how long a cached name is trusted (0 = for the whole session)" },
    { 0 }
};

static const struct ophost_operator uidgid_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "uidgid",
    .description = "Adds user and group names for the event's uid and gid fields",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .instance_params = params,
    .instantiate = uidgid_instantiate,
    .stop = uidgid_stop,
    .process = uidgid_process,
    .destroy = uidgid_destroy,
};

static const struct ophost_operator *const operators[] = { &uidgid_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "uidgid",
    .version = "1.0",
    .description = "User and group names through NSS",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

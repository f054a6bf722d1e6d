/*
 * schema.h — data sources: the typed fields of a session's events, their
 * fixed record layout, and the batch each data source emits through.
 * Fields are laid out as they are added (each at its natural alignment), so
 * a handle is final the moment it is returned; the schema is frozen before
 * start, when the batch memory is allocated once for the whole session.
 */
#ifndef OPHOST_DAEMON_SCHEMA_H
#define OPHOST_DAEMON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <ophost/ophost.h>

struct field_def {
    char *name;
    uint32_t type;
    uint32_t offset;
    const char *owner; /* operator that added it; static plugin string */
    /* Display metadata (host->field_set_meta), owned; NULL/0 = none. */
    char *description;
    char *unit;
    uint32_t width;
    bool hidden;
};

struct ophost_datasource {
    char *name;
    const char *owner;
    struct field_def *fields;
    size_t n_fields;
    uint32_t record_size;
    bool frozen;
    uint32_t capacity; /* events per batch */
    bool rounds;       /* the gadget sized its batches: each is one round */
    struct ophost_batch batch;
};

/* Records per batch by default: large enough to amortise per-batch costs,
 * small enough that a batch stays in L2. */
#define SCHEMA_BATCH_CAPACITY 256
#define SCHEMA_BATCH_CAPACITY_MAX (1u << 20)

struct ophost_datasource *datasource_new(const char *name, const char *owner);
struct ophost_datasource *datasource_free(struct ophost_datasource *ds);

/* Adds a field; -EINVAL bad name/type, -EEXIST name taken, -EBUSY frozen. */
int datasource_add_field(struct ophost_datasource *ds, const char *name, uint32_t type,
                         const char *owner, ophost_field *ret);
/* -ENOENT if absent. */
int datasource_find_field(const struct ophost_datasource *ds, const char *name,
                          ophost_field *ret);
/* Sets one metadata key of field index i (see ophost_host.field_set_meta):
 * 0, -EINVAL (bad value), -EOPNOTSUPP (unknown key) or -ENOMEM. */
int datasource_set_field_meta(struct ophost_datasource *ds, size_t i, const char *key,
                              const char *value);
/* Whether unit is one of the units field_set_meta accepts. */
bool field_unit_is_valid(const char *unit);

/* Allocates the batch (capacity records); 0 or -ENOMEM. */
int datasource_freeze(struct ophost_datasource *ds, uint32_t capacity);

/* Empties a batch, keeping its memory. */
void batch_reset(struct ophost_batch *b);

/* Field names: [A-Za-z0-9_.-]+, at most 64 bytes. */
bool field_name_is_valid(const char *name);
/* Storage size of a field type, 0 for an unknown type. */
size_t field_type_size(uint32_t type);
/* "u8", ..., "string", "bytes"; NULL for an unknown type. */
const char *field_type_name(uint32_t type);

#endif

/* schema.c — data source layout and batch memory (see schema.h). */
#include "schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define STRINGS_INITIAL 4096

static const struct {
    const char *name;
    size_t size;
} types[] = {
    [OPHOST_FIELD_U8] = { "u8", 1 },
    [OPHOST_FIELD_U16] = { "u16", 2 },
    [OPHOST_FIELD_U32] = { "u32", 4 },
    [OPHOST_FIELD_U64] = { "u64", 8 },
    [OPHOST_FIELD_S32] = { "s32", 4 },
    [OPHOST_FIELD_S64] = { "s64", 8 },
    [OPHOST_FIELD_BOOL] = { "bool", 1 },
    [OPHOST_FIELD_TIMESTAMP] = { "timestamp", 8 },
    [OPHOST_FIELD_STRING] = { "string", sizeof(struct ophost_strref) },
    [OPHOST_FIELD_BYTES] = { "bytes", sizeof(struct ophost_strref) },
};

size_t field_type_size(uint32_t type) {
    return type < ELEMENTSOF(types) ? types[type].size : 0;
}

const char *field_type_name(uint32_t type) {
    return type < ELEMENTSOF(types) ? types[type].name : NULL;
}

bool field_name_is_valid(const char *name) {
    size_t n = 0;
    if (!name || !*name)
        return false;
    for (; name[n]; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n <= 64;
}

struct ophost_datasource *datasource_new(const char *name, const char *owner) {
    struct ophost_datasource *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return NULL;
    ds->name = strdup(name);
    if (!ds->name) {
        free(ds);
        return NULL;
    }
    ds->owner = owner;
    ds->capacity = SCHEMA_BATCH_CAPACITY;
    return ds;
}

struct ophost_datasource *datasource_free(struct ophost_datasource *ds) {
    if (!ds)
        return NULL;
    for (size_t i = 0; i < ds->n_fields; i++) {
        free(ds->fields[i].name);
        free(ds->fields[i].description);
        free(ds->fields[i].unit);
    }
    free(ds->fields);
    free(ds->batch.records);
    free(ds->batch.sel);
    free(ds->batch.strings);
    free(ds->name);
    free(ds);
    return NULL;
}

int datasource_find_field(const struct ophost_datasource *ds, const char *name,
                          ophost_field *ret) {
    for (size_t i = 0; i < ds->n_fields; i++)
        if (streq(ds->fields[i].name, name)) {
            ret->offset = ds->fields[i].offset;
            ret->type = (uint16_t) ds->fields[i].type;
            ret->index = (uint16_t) i;
            return 0;
        }
    return -ENOENT;
}

int datasource_add_field(struct ophost_datasource *ds, const char *name, uint32_t type,
                         const char *owner, ophost_field *ret) {
    size_t size = field_type_size(type), align;
    struct field_def *m;
    ophost_field unused;
    uint32_t offset;

    if (!field_name_is_valid(name) || size == 0)
        return -EINVAL;
    if (ds->frozen)
        return -EBUSY;
    if (datasource_find_field(ds, name, &unused) == 0)
        return -EEXIST;
    if (ds->n_fields >= UINT16_MAX)
        return -E2BIG;
    /* A string is two u32s: 4-byte alignment is natural for it. */
    align = type == OPHOST_FIELD_STRING || type == OPHOST_FIELD_BYTES ? 4 : size;
    offset = (uint32_t) ((ds->record_size + align - 1) & ~(align - 1));

    m = realloc(ds->fields, (ds->n_fields + 1) * sizeof(*m));
    if (!m)
        return -ENOMEM;
    ds->fields = m;
    m[ds->n_fields].name = strdup(name);
    if (!m[ds->n_fields].name)
        return -ENOMEM;
    m[ds->n_fields].type = type;
    m[ds->n_fields].offset = offset;
    m[ds->n_fields].owner = owner;
    m[ds->n_fields].description = m[ds->n_fields].unit = NULL;
    m[ds->n_fields].width = 0;
    m[ds->n_fields].hidden = false;
    ret->offset = offset;
    ret->type = (uint16_t) type;
    ret->index = (uint16_t) ds->n_fields;
    ds->n_fields++;
    ds->record_size = offset + (uint32_t) size;
    return 0;
}

static int reserve_strings(struct ophost_batch *b, size_t need) {
    size_t cap = b->strings_cap;
    char *m;

    while (cap - b->strings_len < need) {
        if (cap > UINT32_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    m = realloc(b->strings, cap);
    if (!m)
        return -ENOMEM;
    b->strings = m;
    b->strings_cap = (uint32_t) cap;
    return 0;
}

void batch_reset(struct ophost_batch *b) {
    b->n = 0;
    b->n_records = 0;
    b->strings_len = 1; /* offset 0 means "not set" */
}

int datasource_freeze(struct ophost_datasource *ds, uint32_t capacity) {
    struct ophost_batch *b = &ds->batch;

    /* Records start 8-byte aligned so u64 fields are naturally aligned. */
    ds->record_size = (ds->record_size + 7) & ~7u;
    if (ds->record_size == 0)
        ds->record_size = 8;
    b->struct_size = sizeof(*b);
    b->record_size = ds->record_size;
    b->capacity = capacity;
    b->records = calloc(capacity, ds->record_size);
    b->sel = calloc(capacity, sizeof(uint32_t));
    b->strings = malloc(STRINGS_INITIAL);
    if (!b->records || !b->sel || !b->strings)
        return -ENOMEM;
    b->strings[0] = '\0';
    b->strings_cap = STRINGS_INITIAL;
    b->ds = ds;
    b->reserve_strings = reserve_strings;
    batch_reset(b);
    ds->frozen = true;
    return 0;
}

bool field_unit_is_valid(const char *unit) {
    static const char *const units[] = { "bytes", "ns", "us", "ms", "s", "percent",
                                         "centipercent" };
    for (size_t i = 0; unit && i < ELEMENTSOF(units); i++)
        if (streq(unit, units[i]))
            return true;
    return false;
}

/* Whether s is printable UTF-8 text of one line, at most max bytes. */
static bool meta_text_is_valid(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int datasource_set_field_meta(struct ophost_datasource *ds, size_t i, const char *key,
                              const char *value) {
    struct field_def *fd;
    char **slot = NULL;

    if (i >= ds->n_fields || !key || !value)
        return -EINVAL;
    fd = &ds->fields[i];
    if (streq(key, "description")) {
        if (!meta_text_is_valid(value, 1024))
            return -EINVAL;
        slot = &fd->description;
    } else if (streq(key, "unit")) {
        if (!field_unit_is_valid(value))
            return -EINVAL;
        slot = &fd->unit;
    } else if (streq(key, "width")) {
        char *end;
        unsigned long w;
        errno = 0;
        w = strtoul(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-' || value[0] == '+' || w < 1 ||
            w > 1024)
            return -EINVAL;
        fd->width = (uint32_t) w;
        return 0;
    } else if (streq(key, "hidden")) {
        if (!streq(value, "true") && !streq(value, "false"))
            return -EINVAL;
        fd->hidden = streq(value, "true");
        return 0;
    } else
        return -EOPNOTSUPP;
    {
        char *copy = strdup(value);
        if (!copy)
            return -ENOMEM;
        free(*slot);
        *slot = copy;
    }
    return 0;
}

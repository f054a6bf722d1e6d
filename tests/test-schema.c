/*
 * test-schema.c — tests daemon/schema.c: the record layout of a data
 * source's fields, the checks on adding fields, and the batch memory as
 * plugins use it through the inline helpers of ophost.h (append, typed
 * accessors, strings and their growing area, reset, filtering).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "util.h"

static struct ophost_datasource *ds;

static void setup(void) {
    ds = datasource_new("events", "test");
    ck_assert_ptr_nonnull(ds);
    ck_assert_str_eq(ds->name, "events");
    ck_assert_str_eq(ds->owner, "test");
    ck_assert_uint_eq(ds->n_fields, 0);
    ck_assert(!ds->frozen);
}

static void teardown(void) {
    ds = datasource_free(ds);
}

static ophost_field add(const char *name, uint32_t type) {
    ophost_field f;
    int r = datasource_add_field(ds, name, type, "test", &f);
    ck_assert_msg(r == 0, "adding %s: %d", name, r);
    return f;
}

static void freeze(uint32_t capacity) {
    ck_assert_int_eq(datasource_freeze(ds, capacity), 0);
    ck_assert(ds->frozen);
}

/* ------------------------------------------------------------- layout */

START_TEST(test_layout) {
    static const struct {
        const char *name;
        uint32_t type;
        uint32_t offset;
    } want[] = {
        { "u8", OPHOST_FIELD_U8, 0 },     /* 0..1 */
        { "u64", OPHOST_FIELD_U64, 8 },   /* padded to 8 */
        { "u16", OPHOST_FIELD_U16, 16 },  /* 16..18 */
        { "str", OPHOST_FIELD_STRING, 20 }, /* strref: two u32s, 4-aligned */
        { "u32", OPHOST_FIELD_U32, 28 },
        { "bool", OPHOST_FIELD_BOOL, 32 },
        { "s64", OPHOST_FIELD_S64, 40 },
        { "ts", OPHOST_FIELD_TIMESTAMP, 48 },
        { "s32", OPHOST_FIELD_S32, 56 },
        { "bytes", OPHOST_FIELD_BYTES, 60 },
        { "last", OPHOST_FIELD_U8, 68 },
    };

    for (size_t i = 0; i < ELEMENTSOF(want); i++) {
        ophost_field f = add(want[i].name, want[i].type), g;
        size_t size = field_type_size(want[i].type);

        ck_assert_msg(f.offset == want[i].offset, "%s at %u, expected %u", want[i].name,
                      f.offset, want[i].offset);
        ck_assert_uint_eq(f.offset % (size < 4 ? size : 4), 0); /* natural alignment */
        if (size == 8 && want[i].type != OPHOST_FIELD_STRING && want[i].type != OPHOST_FIELD_BYTES)
            ck_assert_uint_eq(f.offset % 8, 0);
        ck_assert_uint_eq(f.type, want[i].type);
        ck_assert_uint_eq(f.index, i);
        ck_assert_uint_eq(ds->n_fields, i + 1);
        ck_assert_uint_eq(ds->record_size, want[i].offset + size);
        ck_assert_str_eq(ds->fields[i].name, want[i].name);
        ck_assert_str_eq(ds->fields[i].owner, "test");

        /* A handle is final the moment it is returned. */
        ck_assert_int_eq(datasource_find_field(ds, want[i].name, &g), 0);
        ck_assert_uint_eq(g.offset, f.offset);
        ck_assert_uint_eq(g.type, f.type);
        ck_assert_uint_eq(g.index, f.index);
    }
    ck_assert_uint_eq(ds->record_size, 69);
    freeze(4);
    /* Records are a multiple of 8 so every record's u64s stay aligned. */
    ck_assert_uint_eq(ds->record_size, 72);
    ck_assert_uint_eq(ds->batch.record_size, 72);
    ck_assert_uint_eq(ds->batch.struct_size, sizeof(struct ophost_batch));
    ck_assert_uint_eq((uintptr_t) ds->batch.records % 8, 0);
    ck_assert_ptr_eq(ds->batch.ds, ds);
}
END_TEST

START_TEST(test_layout_record_rounding) {
    /* One u32: 4 bytes, rounded to 8; no field: still 8. */
    add("x", OPHOST_FIELD_U32);
    freeze(1);
    ck_assert_uint_eq(ds->record_size, 8);
    ds = datasource_free(ds);

    ds = datasource_new("empty", "test");
    ck_assert_ptr_nonnull(ds);
    freeze(1);
    ck_assert_uint_eq(ds->record_size, 8);

    /* Exactly 16: not rounded further. */
    ds = datasource_free(ds);
    ds = datasource_new("sixteen", "test");
    ck_assert_ptr_nonnull(ds);
    add("a", OPHOST_FIELD_U64);
    add("b", OPHOST_FIELD_S64);
    freeze(1);
    ck_assert_uint_eq(ds->record_size, 16);
}
END_TEST

START_TEST(test_types) {
    static const struct {
        uint32_t type;
        const char *name;
        size_t size;
    } want[] = {
        { OPHOST_FIELD_U8, "u8", 1 },         { OPHOST_FIELD_U16, "u16", 2 },
        { OPHOST_FIELD_U32, "u32", 4 },       { OPHOST_FIELD_U64, "u64", 8 },
        { OPHOST_FIELD_S32, "s32", 4 },       { OPHOST_FIELD_S64, "s64", 8 },
        { OPHOST_FIELD_BOOL, "bool", 1 },     { OPHOST_FIELD_TIMESTAMP, "timestamp", 8 },
        { OPHOST_FIELD_STRING, "string", 8 }, { OPHOST_FIELD_BYTES, "bytes", 8 },
    };

    for (size_t i = 0; i < ELEMENTSOF(want); i++) {
        ck_assert_str_eq(field_type_name(want[i].type), want[i].name);
        ck_assert_uint_eq(field_type_size(want[i].type), want[i].size);
    }
    ck_assert_ptr_null(field_type_name(0));
    ck_assert_ptr_null(field_type_name(11));
    ck_assert_ptr_null(field_type_name(UINT32_MAX));
    ck_assert_uint_eq(field_type_size(0), 0);
    ck_assert_uint_eq(field_type_size(11), 0);
    ck_assert_uint_eq(field_type_size(UINT32_MAX), 0);
}
END_TEST

START_TEST(test_field_names) {
    char name[80];

    ck_assert(field_name_is_valid("a"));
    ck_assert(field_name_is_valid("proc.comm"));
    ck_assert(field_name_is_valid("Upper_case-9"));
    ck_assert(!field_name_is_valid(NULL));
    ck_assert(!field_name_is_valid(""));
    ck_assert(!field_name_is_valid("a b"));
    ck_assert(!field_name_is_valid("a/b"));
    ck_assert(!field_name_is_valid("a:b"));
    ck_assert(!field_name_is_valid("caf\xc3\xa9"));
    memset(name, 'x', 64);
    name[64] = '\0';
    ck_assert(field_name_is_valid(name));
    name[64] = 'x';
    name[65] = '\0';
    ck_assert(!field_name_is_valid(name));
}
END_TEST

START_TEST(test_add_errors) {
    ophost_field f = { 7, 7, 7 }, g;
    char long_name[80];

    add("seq", OPHOST_FIELD_U64);
    ck_assert_int_eq(datasource_add_field(ds, "seq", OPHOST_FIELD_U64, "x", &f), -EEXIST);
    ck_assert_int_eq(datasource_add_field(ds, "seq", OPHOST_FIELD_STRING, "x", &f), -EEXIST);
    ck_assert_int_eq(datasource_add_field(ds, "", OPHOST_FIELD_U8, "x", &f), -EINVAL);
    ck_assert_int_eq(datasource_add_field(ds, "a b", OPHOST_FIELD_U8, "x", &f), -EINVAL);
    ck_assert_int_eq(datasource_add_field(ds, NULL, OPHOST_FIELD_U8, "x", &f), -EINVAL);
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    ck_assert_int_eq(datasource_add_field(ds, long_name, OPHOST_FIELD_U8, "x", &f), -EINVAL);
    ck_assert_int_eq(datasource_add_field(ds, "t0", 0, "x", &f), -EINVAL);
    ck_assert_int_eq(datasource_add_field(ds, "t11", 11, "x", &f), -EINVAL);
    ck_assert_int_eq(datasource_add_field(ds, "tmax", UINT32_MAX, "x", &f), -EINVAL);
    /* Nothing changed, *ret untouched. */
    ck_assert_uint_eq(ds->n_fields, 1);
    ck_assert_uint_eq(ds->record_size, 8);
    ck_assert_uint_eq(f.offset, 7);
    ck_assert_uint_eq(f.type, 7);
    ck_assert_uint_eq(f.index, 7);

    ck_assert_int_eq(datasource_find_field(ds, "nope", &g), -ENOENT);
    ck_assert_int_eq(datasource_find_field(ds, "SEQ", &g), -ENOENT);
    ck_assert_int_eq(datasource_find_field(ds, "se", &g), -ENOENT);

    freeze(2);
    ck_assert_int_eq(datasource_add_field(ds, "late", OPHOST_FIELD_U8, "x", &f), -EBUSY);
    ck_assert_int_eq(datasource_add_field(ds, "seq", OPHOST_FIELD_U8, "x", &f), -EBUSY);
    ck_assert_uint_eq(ds->n_fields, 1);
    /* find still works after freezing */
    ck_assert_int_eq(datasource_find_field(ds, "seq", &g), 0);
    ck_assert_uint_eq(g.offset, 0);
    ck_assert_uint_eq(g.index, 0);
}
END_TEST

/* ------------------------------------------------------------ batches */

START_TEST(test_append_capacity) {
    struct ophost_batch *b = &ds->batch;
    struct ophost_event *e[5];

    add("v", OPHOST_FIELD_U64);
    freeze(4);
    ck_assert_uint_eq(b->capacity, 4);
    ck_assert_uint_eq(b->n, 0);
    ck_assert_uint_eq(b->n_records, 0);
    ck_assert_uint_eq(b->strings_len, 1);
    for (uint32_t i = 0; i < 4; i++) {
        e[i] = ophost_batch_append(b);
        ck_assert_ptr_nonnull(e[i]);
        ck_assert_ptr_eq((void *) e[i], b->records + (size_t) i * b->record_size);
        ck_assert_uint_eq(b->n, i + 1);
        ck_assert_uint_eq(b->n_records, i + 1);
        ck_assert_uint_eq(b->sel[i], i);
        ck_assert_ptr_eq(ophost_batch_event(b, i), e[i]);
    }
    ck_assert_ptr_null(ophost_batch_append(b));
    ck_assert_ptr_null(ophost_batch_append(b));
    ck_assert_uint_eq(b->n, 4);
    ck_assert_uint_eq(b->n_records, 4);
}
END_TEST

START_TEST(test_append_zeroes) {
    struct ophost_batch *b = &ds->batch;
    ophost_field v, s;
    struct ophost_event *e;

    v = add("v", OPHOST_FIELD_U64);
    s = add("s", OPHOST_FIELD_STRING);
    freeze(2);
    e = ophost_batch_append(b);
    ophost_event_set_u64(e, v, UINT64_MAX);
    ck_assert_int_eq(ophost_event_set_string(b, e, s, "x"), 0);
    batch_reset(b);
    e = ophost_batch_append(b);
    ck_assert_uint_eq(ophost_event_get_u64(e, v), 0);
    ck_assert_ptr_null(ophost_event_get_string(b, e, s, NULL));
}
END_TEST

START_TEST(test_every_type) {
    struct ophost_batch *b = &ds->batch;
    ophost_field u8, u16, u32, u64, s32, s64, bo, ts, st, by;
    struct ophost_event *e0, *e1;
    const uint8_t raw[5] = { 0, 1, 2, 0, 255 };
    const char *p;
    size_t len;

    u8 = add("u8", OPHOST_FIELD_U8);
    bo = add("bool", OPHOST_FIELD_BOOL);
    u16 = add("u16", OPHOST_FIELD_U16);
    s32 = add("s32", OPHOST_FIELD_S32);
    u64 = add("u64", OPHOST_FIELD_U64);
    u32 = add("u32", OPHOST_FIELD_U32);
    st = add("str", OPHOST_FIELD_STRING);
    s64 = add("s64", OPHOST_FIELD_S64);
    ts = add("ts", OPHOST_FIELD_TIMESTAMP);
    by = add("bytes", OPHOST_FIELD_BYTES);
    freeze(2);

    /* Two neighbouring records with extreme values: no field spills into
     * another, no record into the next. */
    e0 = ophost_batch_append(b);
    e1 = ophost_batch_append(b);
    ophost_event_set_u8(e0, u8, UINT8_MAX);
    ophost_event_set_bool(e0, bo, true);
    ophost_event_set_u16(e0, u16, UINT16_MAX);
    ophost_event_set_s32(e0, s32, INT32_MIN);
    ophost_event_set_u64(e0, u64, UINT64_MAX);
    ophost_event_set_u32(e0, u32, UINT32_MAX);
    ck_assert_int_eq(ophost_event_set_string(b, e0, st, "hello"), 0);
    ophost_event_set_s64(e0, s64, INT64_MIN);
    ophost_event_set_u64(e0, ts, 1700000000123456789ULL);
    ck_assert_int_eq(ophost_event_set_bytes(b, e0, by, raw, sizeof(raw)), 0);

    ophost_event_set_u8(e1, u8, 1);
    ophost_event_set_bool(e1, bo, false);
    ophost_event_set_u16(e1, u16, 2);
    ophost_event_set_s32(e1, s32, INT32_MAX);
    ophost_event_set_u64(e1, u64, 3);
    ophost_event_set_u32(e1, u32, 4);
    ck_assert_int_eq(ophost_event_set_string(b, e1, st, "world!"), 0);
    ophost_event_set_s64(e1, s64, INT64_MAX);
    ophost_event_set_u64(e1, ts, 5);

    ck_assert_uint_eq(ophost_event_get_u8(e0, u8), UINT8_MAX);
    ck_assert(ophost_event_get_bool(e0, bo));
    ck_assert_uint_eq(((const uint8_t *) e0)[bo.offset], 1); /* stored as 1 */
    ck_assert_uint_eq(ophost_event_get_u16(e0, u16), UINT16_MAX);
    ck_assert_int_eq(ophost_event_get_s32(e0, s32), INT32_MIN);
    ck_assert_uint_eq(ophost_event_get_u64(e0, u64), UINT64_MAX);
    ck_assert_uint_eq(ophost_event_get_u32(e0, u32), UINT32_MAX);
    ck_assert_str_eq(ophost_event_get_string(b, e0, st, &len), "hello");
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(ophost_event_get_s64(e0, s64), INT64_MIN);
    ck_assert_uint_eq(ophost_event_get_u64(e0, ts), 1700000000123456789ULL);
    p = ophost_event_get_string(b, e0, by, &len);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, sizeof(raw));
    ck_assert_mem_eq(p, raw, sizeof(raw));
    ck_assert_int_eq(p[sizeof(raw)], '\0'); /* followed by a NUL */

    ck_assert_uint_eq(ophost_event_get_u8(e1, u8), 1);
    ck_assert(!ophost_event_get_bool(e1, bo));
    ck_assert_uint_eq(ophost_event_get_u16(e1, u16), 2);
    ck_assert_int_eq(ophost_event_get_s32(e1, s32), INT32_MAX);
    ck_assert_uint_eq(ophost_event_get_u64(e1, u64), 3);
    ck_assert_uint_eq(ophost_event_get_u32(e1, u32), 4);
    ck_assert_str_eq(ophost_event_get_string(b, e1, st, NULL), "world!");
    ck_assert_int_eq(ophost_event_get_s64(e1, s64), INT64_MAX);
    ck_assert_uint_eq(ophost_event_get_u64(e1, ts), 5);
    ck_assert_ptr_null(ophost_event_get_string(b, e1, by, NULL));

    /* A bool set from any non-zero value reads back as true, stored as 1. */
    ophost_event_set_bool(e1, bo, (bool) 42);
    ck_assert_uint_eq(((const uint8_t *) e1)[bo.offset], 1);
    ophost_event_set_bool(e1, bo, false);
    ck_assert_uint_eq(((const uint8_t *) e1)[bo.offset], 0);
}
END_TEST

START_TEST(test_strings_unset_and_empty) {
    struct ophost_batch *b = &ds->batch;
    ophost_field s, t;
    struct ophost_event *e;
    struct ophost_strref r;
    size_t len = 99;
    const char *p;

    s = add("s", OPHOST_FIELD_STRING);
    t = add("t", OPHOST_FIELD_STRING);
    freeze(1);
    e = ophost_batch_append(b);

    /* Unset: NULL, len untouched. */
    ck_assert_ptr_null(ophost_event_get_string(b, e, s, &len));
    ck_assert_uint_eq(len, 99);

    /* Set to "": a string of length 0, not NULL; stored at off > 0. */
    ck_assert_int_eq(ophost_event_set_string(b, e, s, ""), 0);
    p = ophost_event_get_string(b, e, s, &len);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p, "");
    ck_assert_uint_eq(len, 0);
    memcpy(&r, (const uint8_t *) e + s.offset, sizeof(r));
    ck_assert_uint_gt(r.off, 0);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_uint_eq(b->strings_len, 2); /* byte 0 unused + the NUL */
    ck_assert_ptr_null(ophost_event_get_string(b, e, t, NULL));

    /* Zero-length bytes from a NULL pointer are allowed too. */
    ck_assert_int_eq(ophost_event_set_bytes(b, e, t, NULL, 0), 0);
    ck_assert_str_eq(ophost_event_get_string(b, e, t, &len), "");
    ck_assert_uint_eq(len, 0);

    /* Setting again replaces the value (the old bytes stay in the area). */
    ck_assert_int_eq(ophost_event_set_string(b, e, s, "again"), 0);
    ck_assert_str_eq(ophost_event_get_string(b, e, s, NULL), "again");
    ck_assert_str_eq(ophost_event_get_string(b, e, t, NULL), "");
}
END_TEST

START_TEST(test_strings_grow) {
    struct ophost_batch *b = &ds->batch;
    enum { N = 8, LONG = 10000 };
    ophost_field s, n;
    uint32_t cap0;
    char *big;

    s = add("s", OPHOST_FIELD_STRING);
    n = add("n", OPHOST_FIELD_U32);
    freeze(N);
    cap0 = b->strings_cap;
    ck_assert_uint_gt(cap0, 0);
    big = malloc(LONG + 1);
    ck_assert_ptr_nonnull(big);

    /* Each event gets a string longer than the initial area; every earlier
     * string must still read back after each growth (offsets, not
     * pointers, are stored). */
    for (uint32_t i = 0; i < N; i++) {
        struct ophost_event *e = ophost_batch_append(b);
        ck_assert_ptr_nonnull(e);
        memset(big, 'a' + (int) i, LONG);
        big[LONG] = '\0';
        ophost_event_set_u32(e, n, i);
        ck_assert_int_eq(ophost_event_set_string(b, e, s, big), 0);
        for (uint32_t j = 0; j <= i; j++) {
            struct ophost_event *f = ophost_batch_event(b, j);
            size_t len = 0;
            const char *p = ophost_event_get_string(b, f, s, &len);
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq(len, LONG);
            ck_assert_int_eq(p[0], 'a' + (int) j);
            ck_assert_int_eq(p[LONG - 1], 'a' + (int) j);
            ck_assert_int_eq(p[LONG], '\0');
            ck_assert_uint_eq(ophost_event_get_u32(f, n), j);
        }
    }
    ck_assert_uint_eq(b->strings_len, 1 + N * (LONG + 1));
    ck_assert_uint_ge(b->strings_cap, b->strings_len);
    ck_assert_uint_gt(b->strings_cap, cap0);

    /* reset keeps the memory (grown area and records) and empties it. */
    {
        char *strings = b->strings;
        uint8_t *records = b->records;
        uint32_t *sel = b->sel;
        uint32_t cap = b->strings_cap;
        batch_reset(b);
        ck_assert_uint_eq(b->n, 0);
        ck_assert_uint_eq(b->n_records, 0);
        ck_assert_uint_eq(b->strings_len, 1);
        ck_assert_ptr_eq(b->strings, strings);
        ck_assert_ptr_eq(b->records, records);
        ck_assert_ptr_eq(b->sel, sel);
        ck_assert_uint_eq(b->strings_cap, cap);
        ck_assert_uint_eq(b->capacity, N);
    }
    /* And the batch is usable again from the start. */
    {
        struct ophost_event *e = ophost_batch_append(b);
        ck_assert_int_eq(ophost_event_set_string(b, e, s, "short"), 0);
        ck_assert_str_eq(ophost_event_get_string(b, e, s, NULL), "short");
        ck_assert_uint_eq(b->strings_len, 1 + 6);
    }
    free(big);
}
END_TEST

START_TEST(test_strings_too_long) {
    struct ophost_batch *b = &ds->batch;
    struct ophost_event *e;
    uint32_t len0;
    ophost_field s;

    s = add("s", OPHOST_FIELD_BYTES);
    freeze(1);
    e = ophost_batch_append(b);
    ck_assert_int_eq(ophost_event_set_string(b, e, s, "x"), 0);
    len0 = b->strings_len;
    /* Lengths that cannot fit a u32 offset fail before touching the data
     * (b->strings stands for a buffer that is never read), and leave the
     * field as it was. */
    ck_assert_int_eq(ophost_event_set_bytes(b, e, s, b->strings, UINT32_MAX), -ENOMEM);
    ck_assert_int_eq(ophost_event_set_bytes(b, e, s, b->strings, (size_t) UINT32_MAX - len0), -ENOMEM);
    ck_assert_str_eq(ophost_event_get_string(b, e, s, NULL), "x");
    ck_assert_uint_eq(b->strings_len, len0);
    /* The area refuses to grow past what a u32 offset can address. */
    ck_assert_int_eq(b->reserve_strings(b, (size_t) UINT32_MAX), -ENOMEM);
    ck_assert_uint_eq(b->strings_len, len0);
}
END_TEST

START_TEST(test_keep) {
    struct ophost_batch *b = &ds->batch;
    bool keep[10];
    ophost_field v;
    const uint32_t want1[] = { 1, 2, 3, 5, 7 };

    v = add("v", OPHOST_FIELD_U64);
    freeze(10);
    for (uint64_t i = 0; i < 10; i++)
        ophost_event_set_u64(ophost_batch_append(b), v, i * 100);

    /* Keep the primes: order preserved, records not moved. */
    for (uint32_t i = 0; i < 10; i++)
        keep[i] = i == 2 || i == 3 || i == 5 || i == 7;
    keep[1] = true;
    ophost_batch_keep(b, keep);
    ck_assert_uint_eq(b->n, ELEMENTSOF(want1));
    ck_assert_uint_eq(b->n_records, 10);
    for (uint32_t i = 0; i < b->n; i++) {
        ck_assert_uint_eq(b->sel[i], want1[i]);
        ck_assert_ptr_eq((void *) ophost_batch_event(b, i),
                         b->records + (size_t) want1[i] * b->record_size);
        ck_assert_uint_eq(ophost_event_get_u64(ophost_batch_event(b, i), v), want1[i] * 100);
    }

    /* A second filter works on the live events: drop the 1st and 4th. */
    keep[0] = false, keep[1] = true, keep[2] = true, keep[3] = false, keep[4] = true;
    ophost_batch_keep(b, keep);
    ck_assert_uint_eq(b->n, 3);
    ck_assert_uint_eq(b->sel[0], 2);
    ck_assert_uint_eq(b->sel[1], 3);
    ck_assert_uint_eq(b->sel[2], 7);

    /* Keep everything: unchanged. */
    for (uint32_t i = 0; i < 3; i++)
        keep[i] = true;
    ophost_batch_keep(b, keep);
    ck_assert_uint_eq(b->n, 3);
    ck_assert_uint_eq(b->sel[2], 7);

    /* Keep nothing: empty. */
    for (uint32_t i = 0; i < 3; i++)
        keep[i] = false;
    ophost_batch_keep(b, keep);
    ck_assert_uint_eq(b->n, 0);

    /* Full after a filter: append counts records, not live events. */
    ck_assert_ptr_null(ophost_batch_append(b));
    batch_reset(b);
    ck_assert_ptr_nonnull(ophost_batch_append(b));
    ck_assert_uint_eq(b->sel[0], 0);
}
END_TEST

/* Field metadata (host->field_set_meta): the four keys, their checks, the
 * unknown key a newer plugin may send, and replacing a value. */
START_TEST(test_field_meta) {
    ophost_field f;

    ck_assert_int_eq(datasource_add_field(ds, "rss", OPHOST_FIELD_U64, "t", &f), 0);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "description", "resident memory"), 0);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "unit", "bytes"), 0);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "width", "8"), 0);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "hidden", "true"), 0);
    ck_assert_str_eq(ds->fields[0].description, "resident memory");
    ck_assert_str_eq(ds->fields[0].unit, "bytes");
    ck_assert_uint_eq(ds->fields[0].width, 8);
    ck_assert(ds->fields[0].hidden);

    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "description", "RSS"), 0);
    ck_assert_str_eq(ds->fields[0].description, "RSS");
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "hidden", "false"), 0);
    ck_assert(!ds->fields[0].hidden);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "unit", "centipercent"), 0);

    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "colour", "red"), -EOPNOTSUPP);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "unit", "furlongs"), -EINVAL);
    ck_assert_str_eq(ds->fields[0].unit, "centipercent"); /* unchanged */
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "width", "0"), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "width", "1025"), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "width", "-3"), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "width", "8x"), -EINVAL);
    ck_assert_uint_eq(ds->fields[0].width, 8);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "hidden", "yes"), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "description", ""), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "description", "two\nlines"), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 1, "unit", "bytes"), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, NULL, "x"), -EINVAL);
    ck_assert_int_eq(datasource_set_field_meta(ds, 0, "unit", NULL), -EINVAL);
}
END_TEST

static Suite *schema_suite(void) {
    Suite *s = suite_create("schema");
    TCase *tc;

    tc = tcase_create("layout");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_layout_record_rounding);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_field_names);
    tcase_add_test(tc, test_add_errors);
    tcase_add_test(tc, test_field_meta);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_append_capacity);
    tcase_add_test(tc, test_append_zeroes);
    tcase_add_test(tc, test_every_type);
    tcase_add_test(tc, test_strings_unset_and_empty);
    tcase_add_test(tc, test_strings_grow);
    tcase_add_test(tc, test_strings_too_long);
    tcase_add_test(tc, test_keep);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(schema_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

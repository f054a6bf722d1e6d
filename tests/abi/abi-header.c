/*
 * abi-header.c — compiled by test-abi-header.sh as C99 and as C++11 to
 * C++20 (gcc and clang), with warnings as errors, -Wold-style-cast in C++:
 * <ophost/ophost.h> must stand alone (it is the first and only include) and
 * every inline helper and macro must compile in both languages. Plain code
 * only (no designated initializers, no casts), so one file serves both.
 * With -DWANT_TIMESTAMP_NOW the time helper must be there (POSIX mode and
 * C++); without it, it may be missing (strict ISO C).
 */
#include <ophost/ophost.h>
#include <ophost/ophost.h> /* the include guard works */

#include <inttypes.h>

#if OPHOST_ABI_MAJOR != 1
#error "this test knows ABI 1.x"
#endif
#if (defined(WANT_TIMESTAMP_NOW) || defined(__cplusplus)) && !defined(OPHOST_HAVE_TIMESTAMP_NOW)
#error "ophost_timestamp_now is missing"
#endif

int ophost_abi_use_all(struct ophost_batch *b, ophost_field f, const struct ophost_host *host,
                       struct ophost_ctx *ctx, struct ophost_datasource *ds);

static const struct ophost_host *host_table;

static const char *const deps[] = { "other", NULL };
static const struct ophost_param params[] = {
    { "interval", "How often", OPHOST_PARAM_DURATION, OPHOST_PARAM_HAS_MIN, "1s", NULL, NULL,
      1000, 0 },
    { NULL, NULL, 0, 0, NULL, NULL, NULL, 0, 0 },
};
static const struct ophost_operator op = {
    sizeof(struct ophost_operator), "abi-test", "An operator", OPHOST_OPERATOR_GADGET,
    OPHOST_PRIORITY_SINK, deps, params, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};
static const struct ophost_operator op2 = {
    sizeof(struct ophost_operator), "abi-test-2", NULL, 0, OPHOST_PRIORITY_ENRICHER, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* The descriptor and the entry function; the semicolon after it is fine
 * in every language mode. */
OPHOST_PLUGIN(host_table, "abi-test", "1.0", "ABI test", &op, &op2);

int ophost_abi_use_all(struct ophost_batch *b, ophost_field f, const struct ophost_host *host,
                       struct ophost_ctx *ctx, struct ophost_datasource *ds) {
    ophost_plugin_entry_fn fn = ophost_plugin_entry;
    bool keep[2] = { true, false };
    struct ophost_event *e = ophost_batch_append(b);
    const struct ophost_plugin *desc = fn(host);
    ophost_field g;
    const char *s;
    size_t len = 0;
    uint64_t sum = 0, now = 0;
    int64_t ssum = 0;
    int r;

    if (!e || !desc || host_table != host)
        return -1;
    ophost_event_set_u8(e, f, 1);
    ophost_event_set_u16(e, f, 2);
    ophost_event_set_u32(e, f, 3);
    ophost_event_set_u64(e, f, 4);
    ophost_event_set_s32(e, f, -5);
    ophost_event_set_s64(e, f, -6);
    ophost_event_set_bool(e, f, true);
    sum += ophost_event_get_u8(e, f) + ophost_event_get_u16(e, f) + ophost_event_get_u32(e, f);
    sum += ophost_event_get_u64(e, f) + ophost_event_get_bool(e, f);
    ssum += ophost_event_get_s32(e, f);
    ssum += ophost_event_get_s64(e, f);
    if (ophost_event_set_string(b, e, f, "text") < 0)
        return -1;
    if (ophost_event_set_bytes(b, e, f, "\0\1", 2) < 0)
        return -1;
    s = ophost_event_get_string(b, e, f, &len);
    ophost_batch_keep(b, keep);
    e = ophost_batch_event(b, 0);
    r = ophost_field_require(host, ctx, ds, "pid", OPHOST_FIELD_U32, &g);
    r += ophost_field_require(host, ctx, ds, "any", 0, &g);
    sum += ophost_usec_from_nsec(1500);
#ifdef OPHOST_HAVE_TIMESTAMP_NOW
    now = ophost_timestamp_now();
#endif
    host->log(ctx, OPHOST_LOG_INFO, "%s %zu %d %s %s", s ? s : "", len, OPHOST_OPT_OUT,
              ophost_field_type_name(g.type), desc->operators[1]->name);
    return host->error(ctx, -22, "sum %" PRIu64 " %" PRId64 " %" PRIu64 " of %s", sum, ssum,
                       now, OPHOST_PLUGIN_ENTRY_SYMBOL) + r + (e != NULL);
}

/*
 * abi-header.c — compiled by test-abi-header.sh, as C99 and as C++11, with
 * warnings as errors: <ophost/ophost.h> must stand alone (it is the first
 * and only include) and every inline helper must compile in both languages.
 * Plain code only (no designated initializers), so one file serves both.
 */
#include <ophost/ophost.h>
#include <ophost/ophost.h> /* the include guard works */

#if OPHOST_ABI_MAJOR != 1
#error "this test knows ABI 1.x"
#endif

int ophost_abi_use_all(struct ophost_batch *b, ophost_field f, const struct ophost_host *host,
                       struct ophost_ctx *ctx);
OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *host);

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
static const struct ophost_operator *const operators[] = { &op, NULL };
static const struct ophost_plugin plugin = {
    OPHOST_ABI_MAJOR, OPHOST_ABI_MINOR, sizeof(struct ophost_plugin), "abi-test", "1.0",
    "ABI test", operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *host) {
    ophost_plugin_entry_fn fn = ophost_plugin_entry;
    (void) fn;
    (void) host;
    return &plugin;
}

int ophost_abi_use_all(struct ophost_batch *b, ophost_field f, const struct ophost_host *host,
                       struct ophost_ctx *ctx) {
    bool keep[2] = { true, false };
    struct ophost_event *e = ophost_batch_append(b);
    const char *s;
    size_t len = 0;
    uint64_t sum = 0;

    if (!e)
        return -1;
    ophost_event_set_u8(e, f, 1);
    ophost_event_set_u16(e, f, 2);
    ophost_event_set_u32(e, f, 3);
    ophost_event_set_u64(e, f, 4);
    ophost_event_set_s32(e, f, -5);
    ophost_event_set_s64(e, f, -6);
    ophost_event_set_bool(e, f, true);
    sum += ophost_event_get_u8(e, f) + ophost_event_get_u16(e, f) + ophost_event_get_u32(e, f);
    sum += ophost_event_get_u64(e, f) + (uint64_t) ophost_event_get_s32(e, f);
    sum += (uint64_t) ophost_event_get_s64(e, f) + ophost_event_get_bool(e, f);
    if (ophost_event_set_string(b, e, f, "text") < 0)
        return -1;
    if (ophost_event_set_bytes(b, e, f, "\0\1", 2) < 0)
        return -1;
    s = ophost_event_get_string(b, e, f, &len);
    ophost_batch_keep(b, keep);
    e = ophost_batch_event(b, 0);
    host->log(ctx, OPHOST_LOG_INFO, "%s %zu %d", s ? s : "", len, OPHOST_OPT_OUT);
    return host->error(ctx, -22, "sum %llu of %s", (unsigned long long) sum,
                       OPHOST_PLUGIN_ENTRY_SYMBOL) + (e != NULL);
}

/*
 * formatters — adds human forms of raw fields as new string fields named
 * `<field>_str`, leaving the raw fields as they are:
 *
 *   timestamps  ns since the epoch -> RFC 3339 in UTC, "2024-05-01T12:00:00.123456789Z"
 *               (digits after the second per param timestamp_precision)
 *   durations   ns -> "1.5s", "250ms", "1h2m3.5s" (Go's time.Duration form, "us" for µs)
 *   signals     9 -> "SIGKILL"; 32..64 -> "SIGRT_n" (n = signo - 32, as strace);
 *               other numbers -> "signal 99"
 *   errnos      2 -> "ENOENT"; on a signed field a negative value is a
 *               syscall's -errno (-2 -> "ENOENT") and a value >= 0 a success
 *               kept as the number ("3"); 0 -> "0"; unknown -> "errno 999"
 *
 * Each param is a comma-separated list of fields. With none of the four
 * params given, every timestamp field of the data source is formatted. A
 * named field that does not exist or has a type the format cannot read is
 * an error at instantiate. With nothing to format the operator opts out.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "schema.h"
#include "timefmt.h"

#define MAX_ITEMS 64

static const struct ophost_host *host;

enum format { FMT_TIMESTAMP, FMT_DURATION, FMT_SIGNAL, FMT_ERRNO, _FMT_MAX };

static const char *const format_param[_FMT_MAX] = { "timestamps", "durations", "signals",
                                                    "errnos" };

struct item {
    enum format format;
    ophost_field in, out;
};

struct formatters {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    struct item items[MAX_ITEMS];
    size_t n_items;
    unsigned digits; /* of the timestamps' fraction of a second: 0, 3, 6 or 9 */
    struct timefmt seconds;
};

/* ------------------------------------------------------------ formatting */

static bool is_signed(ophost_field f) {
    return f.type == OPHOST_FIELD_S32 || f.type == OPHOST_FIELD_S64;
}

/* An integer field as int64 (signed) or uint64 reinterpreted (unsigned). */
static uint64_t get_raw(const struct ophost_event *e, ophost_field f) {
    switch (f.type) {
    case OPHOST_FIELD_U8: return ophost_event_get_u8(e, f);
    case OPHOST_FIELD_U16: return ophost_event_get_u16(e, f);
    case OPHOST_FIELD_U32: return ophost_event_get_u32(e, f);
    case OPHOST_FIELD_S32: return (uint64_t) (int64_t) ophost_event_get_s32(e, f);
    default: return ophost_event_get_u64(e, f); /* u64, s64, timestamp */
    }
}

static size_t format_timestamp(struct timefmt *tf, char *buf, size_t size, uint64_t ns,
                               unsigned digits) {
    uint64_t frac = ns % 1000000000u;
    size_t n;
    const char *s = timefmt_seconds(tf, ns, &n);

    memcpy(buf, s, n);
    for (unsigned d = digits; d < 9; d++)
        frac /= 10;
    if (digits)
        n += (size_t) snprintf(buf + n, size - n, ".%0*" PRIu64, (int) digits, frac);
    n += (size_t) snprintf(buf + n, size - n, "Z");
    return n;
}

/* "<whole>[.<frac without trailing zeros>]<unit>", frac of `digits` digits. */
static size_t put_decimal(char *buf, size_t size, uint64_t whole, uint64_t frac, int digits,
                          const char *unit) {
    size_t n = (size_t) snprintf(buf, size, "%" PRIu64, whole);
    if (frac) {
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        n += (size_t) snprintf(buf + n, size - n, ".%0*" PRIu64, digits, frac);
    }
    return n + (size_t) snprintf(buf + n, size - n, "%s", unit);
}

static size_t format_duration(char *buf, size_t size, uint64_t raw, bool sign) {
    uint64_t ns = raw;
    size_t n = 0;

    if (sign && (int64_t) raw < 0) {
        ns = 0 - raw;
        buf[n++] = '-';
    }
    if (ns == 0)
        return (size_t) snprintf(buf, size, "0s");
    if (ns < 1000u)
        return n + (size_t) snprintf(buf + n, size - n, "%" PRIu64 "ns", ns);
    if (ns < 1000000u)
        return n + put_decimal(buf + n, size - n, ns / 1000u, ns % 1000u, 3, "us");
    if (ns < 1000000000u)
        return n + put_decimal(buf + n, size - n, ns / 1000000u, ns % 1000000u, 6, "ms");
    if (ns >= 60 * 1000000000ull) {
        uint64_t min = ns / (60 * 1000000000ull);
        if (min >= 60)
            n += (size_t) snprintf(buf + n, size - n, "%" PRIu64 "h", min / 60);
        n += (size_t) snprintf(buf + n, size - n, "%" PRIu64 "m", min % 60);
        ns %= 60 * 1000000000ull;
    }
    return n + put_decimal(buf + n, size - n, ns / 1000000000u, ns % 1000000000u, 9, "s");
}

static size_t format_signal(char *buf, size_t size, uint64_t raw, bool sign) {
    int64_t v = sign ? (int64_t) raw : raw > INT64_MAX ? -1 : (int64_t) raw;
    const char *abbrev = v > 0 && v < 32 ? sigabbrev_np((int) v) : NULL;

    if (abbrev)
        return (size_t) snprintf(buf, size, "SIG%s", abbrev);
    if (v >= 32 && v <= 64)
        return (size_t) snprintf(buf, size, "SIGRT_%d", (int) (v - 32));
    if (sign)
        return (size_t) snprintf(buf, size, "signal %" PRId64, (int64_t) raw);
    return (size_t) snprintf(buf, size, "signal %" PRIu64, raw);
}

static size_t format_errno(char *buf, size_t size, uint64_t raw, bool sign) {
    uint64_t err = raw;
    const char *name;

    if (sign) {
        if ((int64_t) raw >= 0)
            return (size_t) snprintf(buf, size, "%" PRId64, (int64_t) raw);
        err = 0 - raw;
    }
    if (err == 0)
        return (size_t) snprintf(buf, size, "0");
    name = err < 4096 ? strerrorname_np((int) err) : NULL;
    if (name)
        return (size_t) snprintf(buf, size, "%s", name);
    return (size_t) snprintf(buf, size, "errno %" PRIu64, err);
}

static int formatters_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct formatters *fm = data;

    if (b->ds != fm->ds)
        return 0;
    for (size_t k = 0; k < fm->n_items; k++) {
        const struct item *it = &fm->items[k];
        bool sign = is_signed(it->in);
        for (uint32_t i = 0; i < b->n; i++) {
            struct ophost_event *e = ophost_batch_event(b, i);
            uint64_t raw = get_raw(e, it->in);
            char buf[64];
            size_t len = 0;
            int r;
            switch (it->format) {
            case FMT_TIMESTAMP:
                len = format_timestamp(&fm->seconds, buf, sizeof(buf), raw, fm->digits);
                break;
            case FMT_DURATION: len = format_duration(buf, sizeof(buf), raw, sign); break;
            case FMT_SIGNAL: len = format_signal(buf, sizeof(buf), raw, sign); break;
            case FMT_ERRNO: len = format_errno(buf, sizeof(buf), raw, sign); break;
            default: break;
            }
            r = ophost_event_set_bytes(b, e, it->out, buf, len < sizeof(buf) ? len : sizeof(buf) - 1);
            if (r < 0)
                return host->error(ctx, r, "formatters: no room for the string of a batch");
        }
    }
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

static bool type_fits(enum format fmt, uint32_t type) {
    if (fmt == FMT_TIMESTAMP)
        return type == OPHOST_FIELD_TIMESTAMP || type == OPHOST_FIELD_U64;
    return type == OPHOST_FIELD_U8 || type == OPHOST_FIELD_U16 || type == OPHOST_FIELD_U32 ||
           type == OPHOST_FIELD_U64 || type == OPHOST_FIELD_S32 || type == OPHOST_FIELD_S64;
}

static int add_item(struct formatters *fm, enum format fmt, const char *name, ophost_field in) {
    char out[256];
    struct item *it;
    int r;

    if (!type_fits(fmt, in.type))
        return host->error(fm->ctx, -EINVAL,
                           "formatters: param '%s': field '%s' is %s, not %s", format_param[fmt],
                           name, schema_type_name(in.type),
                           fmt == FMT_TIMESTAMP ? "a timestamp or u64" : "an integer");
    if (fm->n_items == MAX_ITEMS)
        return host->error(fm->ctx, -E2BIG, "formatters: more than %d fields to format", MAX_ITEMS);
    if ((size_t) snprintf(out, sizeof(out), "%s_str", name) >= sizeof(out))
        return host->error(fm->ctx, -EINVAL, "formatters: field name '%s' is too long", name);
    it = &fm->items[fm->n_items];
    r = host->field_add(fm->ctx, fm->ds, out, OPHOST_FIELD_STRING, &it->out);
    if (r == -EEXIST)
        return host->error(fm->ctx, r,
                           "formatters: param '%s': cannot add field '%s': the data source has it "
                           "already", format_param[fmt], out);
    if (r < 0)
        return host->error(fm->ctx, r, "formatters: cannot add field '%s': %s", out, strerror(-r));
    {
        char desc[128];
        snprintf(desc, sizeof(desc), "field '%s' in words (param '%s')", name, format_param[fmt]);
        r = schema_describe_field(host, fm->ctx, fm->ds, out, it->out, desc, NULL, NULL, false);
        if (r < 0)
            return r;
    }
    it->format = fmt;
    it->in = in;
    fm->n_items++;
    return 0;
}

static int parse_list(struct formatters *fm, enum format fmt, const char *list) {
    char buf[1024], *save = NULL;

    if (strlen(list) >= sizeof(buf))
        return host->error(fm->ctx, -EINVAL, "formatters: param '%s' is too long", format_param[fmt]);
    strcpy(buf, list);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        ophost_field in;
        int r;
        while (isspace((unsigned char) *item))
            item++;
        for (char *e = item + strlen(item); e > item && isspace((unsigned char) e[-1]);)
            *--e = '\0';
        if (!*item)
            continue;
        r = host->field_find(fm->ctx, fm->ds, item, &in);
        if (r == -ENOENT)
            return host->error(fm->ctx, r, "formatters: param '%s': unknown field '%s'",
                               format_param[fmt], item);
        if (r < 0)
            return host->error(fm->ctx, r, "formatters: cannot look up field '%s': %s", item,
                               strerror(-r));
        r = add_item(fm, fmt, item, in);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Without a timestamps param: every timestamp field the source has now. */
static int all_timestamps(struct formatters *fm) {
    size_t n = host->field_count(fm->ctx, fm->ds);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        ophost_field f;
        int r = host->field_at(fm->ctx, fm->ds, i, &name, &f);
        if (r < 0)
            return r;
        if (f.type == OPHOST_FIELD_TIMESTAMP && (r = add_item(fm, FMT_TIMESTAMP, name, f)) < 0)
            return r;
    }
    return 0;
}

static int setup(struct formatters *fm) {
    const char *precision;
    bool given = false;
    int r = host->datasource_find(fm->ctx, NULL, &fm->ds);

    if (r < 0)
        return host->error(fm->ctx, r, "formatters: the session has no data source");
    r = host->param_string(fm->ctx, "timestamp_precision", &precision);
    if (r < 0)
        return host->error(fm->ctx, r, "formatters: param 'timestamp_precision': %s",
                           strerror(-r));
    fm->digits = strcmp(precision, "s") == 0 ? 0 : strcmp(precision, "ms") == 0 ? 3
                 : strcmp(precision, "us") == 0 ? 6 : 9;
    for (int fmt = 0; fmt < _FMT_MAX; fmt++) {
        const char *list;
        r = host->param_string(fm->ctx, format_param[fmt], &list);
        if (r == -ENODATA)
            continue;
        if (r < 0)
            return host->error(fm->ctx, r, "formatters: param '%s': %s", format_param[fmt],
                               strerror(-r));
        r = parse_list(fm, (enum format) fmt, list);
        if (r < 0)
            return r;
        given = true;
    }
    return given ? 0 : all_timestamps(fm);
}

static int formatters_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct formatters *fm = calloc(1, sizeof(*fm));
    int r;

    if (!fm)
        return -ENOMEM;
    fm->ctx = ctx;
    fm->seconds = (struct timefmt) TIMEFMT_INIT(TIMEFMT_UTC_DATETIME);
    r = setup(fm);
    if (r < 0) {
        free(fm);
        return r;
    }
    if (fm->n_items == 0) {
        host->log(ctx, OPHOST_LOG_DEBUG, "nothing to format, opting out");
        free(fm);
        return OPHOST_OPT_OUT;
    }
    *ret = fm;
    return 0;
}

static int formatters_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static const char *const precisions[] = { "s", "ms", "us", "ns", NULL };

static const struct ophost_param params[] = {
    { .key = "timestamps", .type = OPHOST_PARAM_STRING,
      .description = "fields (ns since the epoch) to format as RFC 3339 UTC; "
                     "with none of the four lists given: every timestamp field" },
    { .key = "durations", .type = OPHOST_PARAM_STRING,
      .description = "integer fields of nanoseconds to format like 1.5s" },
    { .key = "signals", .type = OPHOST_PARAM_STRING,
      .description = "integer fields of signal numbers to format like SIGKILL" },
    { .key = "errnos", .type = OPHOST_PARAM_STRING,
      .description = "integer fields of errno values (or -errno returns) to format like ENOENT" },
    { .key = "timestamp_precision", .type = OPHOST_PARAM_STRING, .default_value = "ns",
      .allowed = precisions, .description = "fraction of a second in timestamps: s, ms, us or ns" },
    { 0 }
};

static const struct ophost_operator formatters_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "formatters",
    .description = "Adds <field>_str with readable timestamps, durations, signal and errno names",
    .priority = OPHOST_PRIORITY_TRANSFORM,
    .instance_params = params,
    .instantiate = formatters_instantiate,
    .process = formatters_process,
    .destroy = formatters_destroy,
};

static const struct ophost_operator *const operators[] = { &formatters_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "formatters",
    .version = "1.0",
    .description = "Readable forms of raw fields",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

/*
 * journal — a sink that sends each event to the systemd journal as one entry
 * (sd_journal_sendv) with every field of the event as a journal field.
 *
 * A field's journal name is the `prefix` param followed by the field name in
 * upper case with every character outside [A-Z0-9_] replaced by '_' ("pid"
 * -> OPHOST_PID). Values: integers and timestamps (nanoseconds since the
 * epoch) in decimal, bools true/false, strings as they are (binary safe),
 * bytes as lower-case hex; unset strings and bytes are left out. Each entry
 * also carries MESSAGE= (the `message` template with {field} replaced by the
 * field's value; "{{" and "}}" are literal braces; empty = "event from
 * session NAME"), PRIORITY= (the `priority` param) and OPHOST_SESSION=;
 * libsystemd adds SYSLOG_IDENTIFIER= (the daemon's program name).
 *
 * Names are checked at start: a name that is not a valid journal field name
 * (more than 64 characters, or beginning with a digit or '_'), two fields
 * with the same journal name, or a field that would overwrite MESSAGE,
 * PRIORITY or OPHOST_SESSION fail the session with the reason.
 *
 * A failed send is not fatal: the event is counted as dropped at once
 * (host->dropped: `ophostctl stats` and `list` show it while the session
 * runs), the first failure is logged with its reason and the count at stop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* CODE_FILE= and friends would name this file, not the event's origin. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include <ophost/ophost.h>

#define JOURNAL_NAME_MAX 64
/* Worst case of a formatted non-string value. */
#define MAX_SCALAR 21

static const struct ophost_host *host;

struct jfield {
    ophost_field f;
    char *key; /* "PREFIX_NAME=" */
    size_t key_len;
};

/* A piece of the message template: literal text or a field's value. */
struct segment {
    const char *text; /* into the template; NULL for a field */
    size_t len;
    size_t field;     /* index into fields */
};

struct journal {
    struct ophost_ctx *ctx;
    const char *prefix;
    const char *message;
    int priority;
    const char *session;

    struct ophost_datasource *ds;
    struct jfield *fields;
    size_t n_fields;
    struct segment *segments;
    size_t n_segments;
    char *default_message; /* "MESSAGE=event from session NAME" */

    struct iovec *iov; /* MESSAGE=, PRIORITY=, OPHOST_SESSION=, then the fields */
    char *scratch;
    size_t scratch_cap;
    char priority_field[16];
    char *session_field;

    uint64_t send_errors;
};

static const char *const priority_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", NULL,
};

static const char *const priority_allowed[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    "0", "1", "2", "3", "4", "5", "6", "7", NULL,
};

/* ----------------------------------------------------------- formatting */

/* The formatted value of a non-string field into buf (>= MAX_SCALAR bytes);
 * returns its length. */
static size_t format_scalar(const struct ophost_event *e, ophost_field f, char *buf) {
    int n;

    switch (f.type) {
    case OPHOST_FIELD_U8: n = snprintf(buf, MAX_SCALAR, "%u", ophost_event_get_u8(e, f)); break;
    case OPHOST_FIELD_U16: n = snprintf(buf, MAX_SCALAR, "%u", ophost_event_get_u16(e, f)); break;
    case OPHOST_FIELD_U32:
        n = snprintf(buf, MAX_SCALAR, "%" PRIu32, ophost_event_get_u32(e, f));
        break;
    case OPHOST_FIELD_U64:
    case OPHOST_FIELD_TIMESTAMP:
        n = snprintf(buf, MAX_SCALAR, "%" PRIu64, ophost_event_get_u64(e, f));
        break;
    case OPHOST_FIELD_S32:
        n = snprintf(buf, MAX_SCALAR, "%" PRId32, ophost_event_get_s32(e, f));
        break;
    case OPHOST_FIELD_S64:
        n = snprintf(buf, MAX_SCALAR, "%" PRId64, ophost_event_get_s64(e, f));
        break;
    case OPHOST_FIELD_BOOL:
        n = snprintf(buf, MAX_SCALAR, "%s", ophost_event_get_bool(e, f) ? "true" : "false");
        break;
    default: n = 0; break;
    }
    return n > 0 ? (size_t) n : 0;
}

static bool is_text(uint16_t type) {
    return type == OPHOST_FIELD_STRING || type == OPHOST_FIELD_BYTES;
}

/* The bytes a field's value takes at most; 0 for an unset string. */
static size_t value_bound(const struct ophost_batch *b, const struct ophost_event *e,
                          ophost_field f) {
    size_t len;

    if (!is_text(f.type))
        return MAX_SCALAR;
    if (!ophost_event_get_string(b, e, f, &len))
        return 0;
    return f.type == OPHOST_FIELD_BYTES ? 2 * len : len;
}

/* Writes a field's value at p; returns the end. Unset strings are "-". */
static char *put_value(char *p, const struct ophost_batch *b, const struct ophost_event *e,
                       ophost_field f) {
    static const char hex[] = "0123456789abcdef";
    const char *s;
    size_t len;

    if (!is_text(f.type))
        return p + format_scalar(e, f, p);
    s = ophost_event_get_string(b, e, f, &len);
    if (!s) {
        *p++ = '-';
        return p;
    }
    if (f.type == OPHOST_FIELD_STRING) {
        memcpy(p, s, len);
        return p + len;
    }
    for (size_t i = 0; i < len; i++) {
        *p++ = hex[(unsigned char) s[i] >> 4];
        *p++ = hex[(unsigned char) s[i] & 15];
    }
    return p;
}

/* ------------------------------------------------------------ set-up */

static bool valid_prefix(const char *p) {
    if (p[0] == '_' || (p[0] >= '0' && p[0] <= '9'))
        return false;
    for (; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static int journal_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct journal *j = calloc(1, sizeof(*j));
    const char *prio;
    int r;

    if (!j)
        return -ENOMEM;
    j->ctx = ctx;
    if ((r = host->param_string(ctx, "prefix", &j->prefix)) < 0 ||
        (r = host->param_string(ctx, "message", &j->message)) < 0 ||
        (r = host->param_string(ctx, "priority", &prio)) < 0)
        goto fail;
    if (strlen(j->prefix) > JOURNAL_NAME_MAX - 1 || !valid_prefix(j->prefix)) {
        r = host->error(ctx, -EINVAL,
                        "param 'prefix': '%s' is not a journal field name prefix (use A-Z, 0-9 "
                        "and '_', not first a digit or '_', at most %d characters)",
                        j->prefix, JOURNAL_NAME_MAX - 1);
        goto fail;
    }
    j->priority = -1;
    for (int i = 0; priority_names[i]; i++)
        if (strcmp(prio, priority_names[i]) == 0)
            j->priority = i;
    if (j->priority < 0 && prio[0] >= '0' && prio[0] <= '7' && !prio[1])
        j->priority = prio[0] - '0';
    if (j->priority < 0) {
        r = host->error(ctx, -EINVAL, "param 'priority': '%s' is not a syslog priority", prio);
        goto fail;
    }
    j->session = host->session_name(ctx);
    if (!j->session)
        j->session = "";
    *ret = j;
    return 0;
fail:
    free(j);
    return r;
}

static int find_field(struct journal *j, const char *name, size_t len, size_t *ret) {
    for (size_t i = 0; i < j->n_fields; i++) {
        const char *fname;
        ophost_field f;
        if (host->field_at(j->ctx, j->ds, i, &fname, &f) == 0 && strlen(fname) == len &&
            memcmp(fname, name, len) == 0) {
            *ret = i;
            return 0;
        }
    }
    return -ENOENT;
}

/* Splits the message template into segments. */
static int parse_template(struct journal *j) {
    const char *t = j->message;
    size_t n = 0;

    /* At most one literal and one field per brace, plus one. */
    for (const char *p = t; *p; p++)
        n += *p == '{' || *p == '}';
    j->segments = calloc(2 * n + 1, sizeof(*j->segments));
    if (!j->segments)
        return -ENOMEM;
    for (const char *p = t; *p;) {
        struct segment *s = &j->segments[j->n_segments];
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            *s = (struct segment){ .text = p, .len = 1 };
            j->n_segments++;
            p += 2;
        } else if (p[0] == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return host->error(j->ctx, -EINVAL,
                                   "param 'message': '{' at offset %zu is not closed by '}'",
                                   (size_t) (p - t));
            if (find_field(j, p + 1, (size_t) (end - p - 1), &s->field) < 0)
                return host->error(j->ctx, -EINVAL,
                                   "param 'message': no field '%.*s' in data source '%s'",
                                   (int) (end - p - 1), p + 1,
                                   host->datasource_name(j->ctx, j->ds));
            j->n_segments++;
            p = end + 1;
        } else if (p[0] == '}') {
            return host->error(j->ctx, -EINVAL,
                               "param 'message': '}' at offset %zu has no '{' (write '}}')",
                               (size_t) (p - t));
        } else {
            size_t len = strcspn(p, "{}");
            *s = (struct segment){ .text = p, .len = len };
            j->n_segments++;
            p += len;
        }
    }
    return 0;
}

static int journal_start(struct ophost_ctx *ctx, void *data) {
    struct journal *j = data;
    size_t plen = strlen(j->prefix);
    int r = host->datasource_find(ctx, NULL, &j->ds);

    if (r < 0)
        return host->error(ctx, r, "the session has no data source");
    j->n_fields = host->field_count(ctx, j->ds);
    j->fields = calloc(j->n_fields ? j->n_fields : 1, sizeof(*j->fields));
    j->iov = calloc(j->n_fields + 3, sizeof(*j->iov));
    if (!j->fields || !j->iov)
        return -ENOMEM;
    for (size_t i = 0; i < j->n_fields; i++) {
        struct jfield *jf = &j->fields[i];
        const char *name;
        size_t n;

        if ((r = host->field_at(ctx, j->ds, i, &name, &jf->f)) < 0)
            return host->error(ctx, r, "cannot read field #%zu of the schema", i);
        n = strlen(name);
        jf->key = malloc(plen + n + 2);
        if (!jf->key)
            return -ENOMEM;
        memcpy(jf->key, j->prefix, plen);
        for (size_t k = 0; k < n; k++) {
            char c = name[k];
            if (c >= 'a' && c <= 'z')
                c = (char) (c - 'a' + 'A');
            else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                c = '_';
            jf->key[plen + k] = c;
        }
        jf->key[plen + n] = '\0';
        if (plen + n > JOURNAL_NAME_MAX || jf->key[0] == '_' ||
            (jf->key[0] >= '0' && jf->key[0] <= '9') || plen + n == 0)
            return host->error(ctx, -EINVAL,
                               "field '%s': journal field name '%s' is invalid (at most %d "
                               "characters, not first a digit or '_'); set param 'prefix'",
                               name, jf->key, JOURNAL_NAME_MAX);
        if (strcmp(jf->key, "MESSAGE") == 0 || strcmp(jf->key, "PRIORITY") == 0 ||
            strcmp(jf->key, "OPHOST_SESSION") == 0)
            return host->error(ctx, -EINVAL,
                               "field '%s': journal field name '%s' is set by the sink itself; "
                               "set another param 'prefix'",
                               name, jf->key);
        for (size_t k = 0; k < i; k++)
            if (j->fields[k].key_len == plen + n + 1 &&
                memcmp(j->fields[k].key, jf->key, plen + n) == 0) {
                const char *other;
                ophost_field unused;
                host->field_at(ctx, j->ds, k, &other, &unused);
                return host->error(ctx, -EINVAL,
                                   "fields '%s' and '%s' both become journal field '%s'", other,
                                   name, jf->key);
            }
        jf->key[plen + n] = '=';
        jf->key[plen + n + 1] = '\0';
        jf->key_len = plen + n + 1;
    }
    if (j->message[0]) {
        if ((r = parse_template(j)) < 0)
            return r;
    } else {
        size_t n = strlen(j->session) + 64;
        j->default_message = malloc(n);
        if (!j->default_message)
            return -ENOMEM;
        snprintf(j->default_message, n, "MESSAGE=event from session %s", j->session);
    }
    snprintf(j->priority_field, sizeof(j->priority_field), "PRIORITY=%d", j->priority);
    j->session_field = malloc(strlen(j->session) + sizeof("OPHOST_SESSION="));
    if (!j->session_field)
        return -ENOMEM;
    strcpy(j->session_field, "OPHOST_SESSION=");
    strcat(j->session_field, j->session);
    j->scratch_cap = 4096;
    j->scratch = malloc(j->scratch_cap);
    if (!j->scratch)
        return -ENOMEM;
    /* The entries' fixed fields, set once; a template's message is iov[0]
     * of each event. */
    if (j->default_message)
        j->iov[0] = (struct iovec){ j->default_message, strlen(j->default_message) };
    j->iov[1] = (struct iovec){ j->priority_field, strlen(j->priority_field) };
    j->iov[2] = (struct iovec){ j->session_field, strlen(j->session_field) };
    return 0;
}

/* --------------------------------------------------------------- events */

static int send_event(struct journal *j, const struct ophost_batch *b,
                      const struct ophost_event *e) {
    size_t need = sizeof("MESSAGE="), n_iov = 3;
    char *p, *msg_start;

    /* The scratch area holds every "KEY=value" and the message; it only
     * grows when an event is larger than every one before. */
    for (size_t i = 0; i < j->n_fields; i++)
        need += j->fields[i].key_len + value_bound(b, e, j->fields[i].f);
    for (size_t i = 0; i < j->n_segments; i++) {
        const struct segment *s = &j->segments[i];
        need += s->text ? s->len : value_bound(b, e, j->fields[s->field].f) + 1;
    }
    if (need > j->scratch_cap) {
        size_t cap = j->scratch_cap;
        char *ns;
        while (cap < need)
            cap *= 2;
        ns = realloc(j->scratch, cap);
        if (!ns)
            return host->error(j->ctx, -ENOMEM, "cannot grow the entry buffer to %zu bytes", cap);
        j->scratch = ns;
        j->scratch_cap = cap;
    }
    p = j->scratch;
    if (j->n_segments) {
        msg_start = p;
        memcpy(p, "MESSAGE=", 8);
        p += 8;
        for (size_t i = 0; i < j->n_segments; i++) {
            const struct segment *s = &j->segments[i];
            if (s->text) {
                memcpy(p, s->text, s->len);
                p += s->len;
            } else {
                p = put_value(p, b, e, j->fields[s->field].f);
            }
        }
        j->iov[0] = (struct iovec){ msg_start, (size_t) (p - msg_start) };
    }
    for (size_t i = 0; i < j->n_fields; i++) {
        const struct jfield *jf = &j->fields[i];
        char *start = p;
        if (is_text(jf->f.type) && !ophost_event_get_string(b, e, jf->f, NULL))
            continue;
        memcpy(p, jf->key, jf->key_len);
        p += jf->key_len;
        p = put_value(p, b, e, jf->f);
        j->iov[n_iov++] = (struct iovec){ start, (size_t) (p - start) };
    }
    return sd_journal_sendv(j->iov, (int) n_iov);
}

static int journal_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct journal *j = data;

    if (b->ds != j->ds)
        return 0;
    for (uint32_t i = 0; i < b->n; i++) {
        int r = send_event(j, b, ophost_batch_event(b, i));
        if (r == -ENOMEM)
            return r;
        if (r < 0) {
            /* Counted live: `ophostctl stats` and `list` show it as dropped. */
            host->dropped(ctx, 1);
            if (j->send_errors++ == 0)
                host->log(ctx, OPHOST_LOG_WARNING,
                          "sending an event to the journal failed: %s, counting further "
                          "failures as dropped",
                          strerror(-r));
        }
    }
    return 0;
}

static int journal_stop(struct ophost_ctx *ctx, void *data) {
    struct journal *j = data;

    if (j->send_errors)
        host->log(ctx, OPHOST_LOG_WARNING, "%llu events could not be sent to the journal",
                  (unsigned long long) j->send_errors);
    return 0;
}

static int journal_destroy(struct ophost_ctx *ctx, void *data) {
    struct journal *j = data;

    for (size_t i = 0; j->fields && i < j->n_fields; i++)
        free(j->fields[i].key);
    free(j->fields);
    free(j->segments);
    free(j->default_message);
    free(j->iov);
    free(j->scratch);
    free(j->session_field);
    free(j);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "prefix", .type = OPHOST_PARAM_STRING, .default_value = "OPHOST_",
      .description = "prepended to every field's journal name (A-Z, 0-9, '_')" },
    { .key = "message", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "MESSAGE= template, {field} is replaced by the field's value "
                     "(empty = \"event from session NAME\")" },
    { .key = "priority", .type = OPHOST_PARAM_STRING, .default_value = "info",
      .allowed = priority_allowed,
      .description = "PRIORITY= of the entries: a syslog level name or 0..7" },
    { 0 }
};

static const struct ophost_operator journal_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "journal",
    .description = "Sends each event to the systemd journal, every field as a journal field",
    .priority = OPHOST_PRIORITY_SINK,
    .instance_params = params,
    .instantiate = journal_instantiate,
    .start = journal_start,
    .process = journal_process,
    .stop = journal_stop,
    .destroy = journal_destroy,
};

static const struct ophost_operator *const operators[] = { &journal_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "journal",
    .version = "1.0",
    .description = "A sink that writes events to the systemd journal",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

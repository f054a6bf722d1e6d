/*
 * json — a sink that writes one JSON object per event (JSON lines) to
 * standard output or appends it to a file.
 *
 * Keys are the field names in schema order; values are typed: integers and
 * timestamps (nanoseconds since the epoch) as JSON numbers, bools as
 * true/false, strings as JSON strings (null when unset), bytes as a string of
 * lower-case hex digits (null when unset). Every line is valid JSON whatever
 * the input: '"' and '\' are escaped, control characters and DEL become
 * \b \f \n \r \t or \u00XX, and each byte that is not part of a well-formed
 * UTF-8 sequence (stray continuation bytes, overlong forms, surrogates,
 * code points above U+10FFFF, truncated sequences) is replaced by U+FFFD.
 *
 * The writer is schema-driven: the key of every field is escaped once at
 * start into a prefix `,"name":`, events are formatted straight into one
 * large buffer of the instance, and the buffer goes out with write(2) when
 * it is full (whole lines only) and at the end of each batch. Nothing is
 * allocated per event.
 *
 * Log rotation: plugins see no signals, so at most once per second (checked
 * from process() with a coarse monotonic clock) the sink compares the inode
 * at `path` with the open file's and reopens the path when they differ or
 * the path is gone; logrotate's move-and-create works without a signal.
 *
 * A failed write drops the lines of that write: the first failure is logged
 * with its reason, the rest are counted and the count is logged at stop. The
 * session stays up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ophost/ophost.h>

#define BUFFER_SIZE (256u * 1024u)
#define REOPEN_CHECK_NSEC 1000000000ull
/* Worst case of a non-string value: 20 digits of a u64, or a sign and 19
 * digits of an s64, or "false". */
#define MAX_SCALAR 20

static const struct ophost_host *host;

struct json_field {
    uint32_t offset;
    uint16_t type;
    uint16_t prefix_len;
    uint32_t prefix_off; /* into json->prefixes */
};

struct json {
    struct ophost_ctx *ctx;
    const char *path;
    int fd;
    bool own_fd;
    dev_t dev;
    ino_t ino;
    uint64_t next_check;

    struct ophost_datasource *ds;
    size_t n_fields;
    struct json_field *fields;
    char *prefixes;
    size_t fixed_bound; /* bytes of an event without string/bytes contents */

    char *buf;
    size_t len, cap;
    size_t line_start; /* where the event being written begins */
    uint32_t lines;    /* complete lines in buf */

    uint64_t write_errors, lost_lines, reopen_errors;
};

/* ------------------------------------------------------------ formatting */

/* 0: copied as is; 1: escaped; 2: the lead byte of a UTF-8 sequence (or an
 * invalid byte). */
static const uint8_t char_class[256] = {
    [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1, [0x80 ... 0xff] = 2,
};

static const char hex[] = "0123456789abcdef";

static const char digits2[] = "00010203040506070809101112131415161718192021222324"
                              "25262728293031323334353637383940414243444546474849"
                              "50515253545556575859606162636465666768697071727374"
                              "75767778798081828384858687888990919293949596979899";

static char *put_u64(char *p, uint64_t v) {
    char tmp[20], *q = tmp + sizeof(tmp);
    size_t n;

    while (v >= 100) {
        unsigned i = (unsigned) (v % 100) * 2;
        v /= 100;
        q -= 2;
        memcpy(q, digits2 + i, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, digits2 + v * 2, 2);
    } else {
        *--q = (char) ('0' + v);
    }
    n = (size_t) (tmp + sizeof(tmp) - q);
    memcpy(p, q, n);
    return p + n;
}

static char *put_s64(char *p, int64_t v) {
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t) 0 - (uint64_t) v);
    }
    return put_u64(p, (uint64_t) v);
}

/* The length of the well-formed UTF-8 sequence at s (2..4), or 0 when the
 * byte at s does not begin one (Unicode 15, table 3-7). */
static size_t utf8_sequence(const uint8_t *s, size_t avail) {
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
        return avail >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
        return avail >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/* Writes s[0..len) as a JSON string with quotes; needs 2 + 6 * len bytes. */
static char *put_string(char *p, const uint8_t *s, size_t len) {
    size_t i = 0;

    *p++ = '"';
    while (i < len) {
        size_t run = i;
        while (run < len && char_class[s[run]] == 0)
            run++;
        memcpy(p, s + i, run - i);
        p += run - i;
        i = run;
        if (i == len)
            break;
        if (char_class[s[i]] == 2) {
            size_t n = utf8_sequence(s + i, len - i);
            if (n) {
                memcpy(p, s + i, n);
                p += n;
                i += n;
            } else {
                memcpy(p, "\xef\xbf\xbd", 3);
                p += 3;
                i++;
            }
            continue;
        }
        *p++ = '\\';
        switch (s[i]) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            memcpy(p, "u00", 3);
            p[3] = hex[s[i] >> 4];
            p[4] = hex[s[i] & 15];
            p += 5;
            break;
        }
        i++;
    }
    *p++ = '"';
    return p;
}

static char *put_hex(char *p, const uint8_t *s, size_t len) {
    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        *p++ = hex[s[i] >> 4];
        *p++ = hex[s[i] & 15];
    }
    *p++ = '"';
    return p;
}

/* ---------------------------------------------------------------- output */

static void write_failed(struct json *j, int err, uint32_t lines) {
    if (j->write_errors++ == 0)
        host->log(j->ctx, OPHOST_LOG_WARNING,
                  "writing to %s failed: %s; dropping the lines of failed writes and counting them",
                  j->own_fd ? j->path : "standard output", strerror(err));
    j->lost_lines += lines;
}

/* Writes buf[0..n), holding `lines` complete lines; on failure they are
 * counted as lost. */
static void write_out(struct json *j, size_t n, uint32_t lines) {
    size_t done = 0;

    while (done < n) {
        ssize_t w = write(j->fd, j->buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            write_failed(j, w < 0 ? errno : EIO, lines);
            return;
        }
        done += (size_t) w;
    }
}

/* Flushes the complete lines of the buffer and keeps the event being
 * written; then makes sure `need` more bytes fit, growing the buffer if one
 * event is larger than it. */
static int make_room(struct json *j, size_t need) {
    size_t partial = j->len - j->line_start;

    if (j->line_start > 0) {
        write_out(j, j->line_start, j->lines);
        memmove(j->buf, j->buf + j->line_start, partial);
        j->len = partial;
        j->line_start = 0;
        j->lines = 0;
    }
    if (j->cap - j->len < need) {
        size_t cap = j->cap;
        char *nb;
        while (cap - j->len < need)
            cap *= 2;
        nb = realloc(j->buf, cap);
        if (!nb)
            return host->error(j->ctx, -ENOMEM, "cannot grow the output buffer to %zu bytes", cap);
        j->buf = nb;
        j->cap = cap;
    }
    return 0;
}

static void flush(struct json *j) {
    if (j->len > 0)
        write_out(j, j->len, j->lines);
    j->len = j->line_start = 0;
    j->lines = 0;
}

static int open_path(struct json *j, int *ret_fd, struct stat *ret_st) {
    int fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

    if (fd < 0)
        return -errno;
    if (fstat(fd, ret_st) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

static uint64_t coarse_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Reopens the path when the file there is not the one we write to (moved
 * away by log rotation, or deleted). */
static void check_reopen(struct json *j) {
    struct stat st;
    int fd, r;

    if (stat(j->path, &st) == 0 && st.st_dev == j->dev && st.st_ino == j->ino)
        return;
    r = open_path(j, &fd, &st);
    if (r < 0) {
        if (j->reopen_errors++ == 0)
            host->log(j->ctx, OPHOST_LOG_WARNING,
                      "cannot reopen '%s' after it was moved or replaced: %s, "
                      "writing to the old file and retrying every second",
                      j->path, strerror(-r));
        return;
    }
    if (j->reopen_errors) {
        host->log(j->ctx, OPHOST_LOG_NOTICE, "reopened '%s' after %llu failed attempts", j->path,
                  (unsigned long long) j->reopen_errors);
        j->reopen_errors = 0;
    }
    close(j->fd);
    j->fd = fd;
    j->dev = st.st_dev;
    j->ino = st.st_ino;
}

/* ------------------------------------------------------------- callbacks */

static int json_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct json *j = calloc(1, sizeof(*j));
    int r;

    if (!j)
        return -ENOMEM;
    j->ctx = ctx;
    j->fd = -1;
    r = host->param_string(ctx, "path", &j->path);
    if (r < 0) {
        free(j);
        return r;
    }
    *ret = j;
    return 0;
}

static int json_pre_start(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;
    struct stat st;
    int r;

    if (!j->path[0]) {
        j->fd = STDOUT_FILENO;
        return 0;
    }
    r = open_path(j, &j->fd, &st);
    if (r < 0)
        return host->error(ctx, r, "param 'path': cannot open '%s': %s", j->path, strerror(-r));
    j->own_fd = true;
    j->dev = st.st_dev;
    j->ino = st.st_ino;
    j->next_check = coarse_now() + REOPEN_CHECK_NSEC;
    return 0;
}

static int json_start(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;
    size_t prefixes_len = 0, off = 0;
    int r = host->datasource_find(ctx, NULL, &j->ds);

    if (r < 0)
        return host->error(ctx, r, "the session has no data source");
    j->n_fields = host->field_count(ctx, j->ds);
    j->fields = calloc(j->n_fields ? j->n_fields : 1, sizeof(*j->fields));
    if (!j->fields)
        return -ENOMEM;
    /* Each prefix is `{` or `,`, the quoted key and `:`. */
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < j->n_fields; i++) {
            const char *name;
            ophost_field f;
            char *p;
            size_t n;
            r = host->field_at(ctx, j->ds, i, &name, &f);
            if (r < 0)
                return host->error(ctx, r, "cannot read field #%zu of the schema", i);
            n = strlen(name);
            if (pass == 0) {
                prefixes_len += 4 + 6 * n;
                continue;
            }
            p = j->prefixes + off;
            *p++ = i ? ',' : '{';
            p = put_string(p, (const uint8_t *) name, n);
            *p++ = ':';
            if ((size_t) (p - (j->prefixes + off)) > UINT16_MAX)
                return host->error(ctx, -E2BIG, "field name '%.32s...' is too long", name);
            j->fields[i] = (struct json_field){
                .offset = f.offset, .type = f.type, .prefix_off = (uint32_t) off,
                .prefix_len = (uint16_t) (p - (j->prefixes + off)),
            };
            j->fixed_bound += j->fields[i].prefix_len + MAX_SCALAR + 2;
            off = (size_t) (p - j->prefixes);
        }
        if (pass == 0) {
            j->prefixes = malloc(prefixes_len + 1);
            if (!j->prefixes)
                return -ENOMEM;
        }
    }
    j->fixed_bound += 3; /* "{}" of an empty schema, or "}", and "\n" */
    j->cap = BUFFER_SIZE;
    while (j->cap < 2 * j->fixed_bound)
        j->cap *= 2;
    j->buf = malloc(j->cap);
    if (!j->buf)
        return -ENOMEM;
    return 0;
}

static inline int ensure(struct json *j, size_t need) {
    if (j->cap - j->len >= need)
        return 0;
    return make_room(j, need);
}

static int json_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct json *j = data;
    const struct json_field *fields = j->fields;
    const char *prefixes = j->prefixes;
    int r;

    if (b->ds != j->ds || b->n == 0)
        return 0;
    if (j->own_fd) {
        uint64_t now = coarse_now();
        if (now >= j->next_check) {
            j->next_check = now + REOPEN_CHECK_NSEC;
            check_reopen(j);
        }
    }
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        const uint8_t *rec = (const uint8_t *) e;
        char *p;

        if ((r = ensure(j, j->fixed_bound)) < 0)
            return r;
        j->line_start = j->len;
        p = j->buf + j->len;
        if (j->n_fields == 0)
            *p++ = '{';
        for (size_t k = 0; k < j->n_fields; k++) {
            const struct json_field *f = &fields[k];
            const uint8_t *v = rec + f->offset;
            memcpy(p, prefixes + f->prefix_off, f->prefix_len);
            p += f->prefix_len;
            switch (f->type) {
            case OPHOST_FIELD_U8: p = put_u64(p, *v); break;
            case OPHOST_FIELD_U16: {
                uint16_t x;
                memcpy(&x, v, sizeof(x));
                p = put_u64(p, x);
                break;
            }
            case OPHOST_FIELD_U32: {
                uint32_t x;
                memcpy(&x, v, sizeof(x));
                p = put_u64(p, x);
                break;
            }
            case OPHOST_FIELD_U64:
            case OPHOST_FIELD_TIMESTAMP: {
                uint64_t x;
                memcpy(&x, v, sizeof(x));
                p = put_u64(p, x);
                break;
            }
            case OPHOST_FIELD_S32: {
                int32_t x;
                memcpy(&x, v, sizeof(x));
                p = put_s64(p, x);
                break;
            }
            case OPHOST_FIELD_S64: {
                int64_t x;
                memcpy(&x, v, sizeof(x));
                p = put_s64(p, x);
                break;
            }
            case OPHOST_FIELD_BOOL:
                if (*v) {
                    memcpy(p, "true", 4);
                    p += 4;
                } else {
                    memcpy(p, "false", 5);
                    p += 5;
                }
                break;
            case OPHOST_FIELD_STRING:
            case OPHOST_FIELD_BYTES: {
                struct ophost_strref ref;
                size_t need;
                memcpy(&ref, v, sizeof(ref));
                if (ref.off == 0) {
                    memcpy(p, "null", 4);
                    p += 4;
                    break;
                }
                /* The fixed bound covers the quotes; room for the contents
                 * and the rest of the event. */
                need = (f->type == OPHOST_FIELD_STRING ? 6 * (size_t) ref.len : 2 * (size_t) ref.len) +
                       j->fixed_bound;
                if ((size_t) (j->buf + j->cap - p) < need) {
                    j->len = (size_t) (p - j->buf);
                    if ((r = make_room(j, need)) < 0)
                        return r;
                    p = j->buf + j->len;
                }
                if (f->type == OPHOST_FIELD_STRING)
                    p = put_string(p, (const uint8_t *) b->strings + ref.off, ref.len);
                else
                    p = put_hex(p, (const uint8_t *) b->strings + ref.off, ref.len);
                break;
            }
            default:
                memcpy(p, "null", 4);
                p += 4;
                break;
            }
        }
        *p++ = '}';
        *p++ = '\n';
        j->len = (size_t) (p - j->buf);
        j->line_start = j->len;
        j->lines++;
    }
    flush(j);
    return 0;
}

static int json_post_stop(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;
    int r = 0;

    if (j->write_errors)
        host->log(ctx, OPHOST_LOG_WARNING, "%llu events could not be written (%llu failed writes)",
                  (unsigned long long) j->lost_lines, (unsigned long long) j->write_errors);
    if (j->own_fd && close(j->fd) < 0)
        r = host->error(ctx, -errno, "closing '%s' failed: %s", j->path, strerror(errno));
    j->fd = -1;
    j->own_fd = false;
    return r;
}

static int json_destroy(struct ophost_ctx *ctx, void *data) {
    struct json *j = data;

    if (j->own_fd)
        close(j->fd);
    free(j->fields);
    free(j->prefixes);
    free(j->buf);
    free(j);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "path", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "file to append JSON lines to, created with mode 0640 and reopened when "
                     "moved away (empty = standard output)" },
    { 0 }
};

static const struct ophost_operator json_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "json",
    .description = "Writes each event as one JSON object per line (JSON lines)",
    .priority = OPHOST_PRIORITY_SINK,
    .instance_params = params,
    .instantiate = json_instantiate,
    .pre_start = json_pre_start,
    .start = json_start,
    .process = json_process,
    .post_stop = json_post_stop,
    .destroy = json_destroy,
};

static const struct ophost_operator *const operators[] = { &json_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "json",
    .version = "1.0",
    .description = "A sink that writes events as JSON lines",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

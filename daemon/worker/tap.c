/*
 * tap.c — serialising a session's events for watchers and handing them to
 * the main thread (see tap.h).
 *
 * Two buffers: the session thread appends to `in` under the lock; the main
 * thread swaps `in` with its empty `out` and sends `out` without holding
 * the lock, so the session thread never waits on the socket. Their sizes
 * together stay within TAP_OUTBOX_MAX.
 */
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/event-json.h" /* the json sink writes the same shape */
#include "log.h"
#include "proto.h"
#include "schema.h"
#include "session.h"
#include "util.h"

struct buf {
    char *p;
    size_t len, cap;
};

struct tap {
    atomic_bool watching;
    int wake_fd;

    /* Session thread only: the serialised batch, the JSON layout of each
     * data source (built at its first batch; the schema is frozen then). */
    struct buf scratch;
    bool oom_logged;
    struct tap_layout {
        const struct ophost_datasource *ds;
        struct evjson_layout layout;
    } *layouts;
    size_t n_layouts;
    struct evjson_clock clock;

    pthread_mutex_t lock; /* in, dropped, out_len */
    struct buf in;
    uint64_t dropped;     /* events not appended since the last send */
    size_t out_len;       /* what the main thread still has to send */

    /* Main thread only. */
    struct buf out;
    size_t out_sent;
    uint64_t out_dropped; /* sent with the first message of out */
};

static bool buf_reserve(struct buf *b, size_t more) {
    size_t cap;
    char *p;
    if (b->len + more <= b->cap)
        return true;
    cap = b->cap ? b->cap : 16384;
    while (cap < b->len + more)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

static void buf_put(struct buf *b, const char *s, size_t n) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define BUF_PUTS(b, lit) buf_put((b), (lit), sizeof(lit) - 1)
#define SWAP_BUF(a, b)          \
    do {                        \
        struct buf _t_ = (a);   \
        (a) = (b);              \
        (b) = _t_;              \
    } while (0)

struct tap *tap_new(void) {
    struct tap *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->wake_fd < 0) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

struct tap *tap_free(struct tap *t) {
    if (!t)
        return NULL;
    close(t->wake_fd);
    pthread_mutex_destroy(&t->lock);
    for (size_t i = 0; i < t->n_layouts; i++)
        evjson_layout_free(&t->layouts[i].layout);
    free(t->layouts);
    free(t->scratch.p);
    free(t->in.p);
    free(t->out.p);
    free(t);
    return NULL;
}

void tap_set_watching(struct tap *t, bool on) {
    atomic_store_explicit(&t->watching, on, memory_order_release);
}

int tap_wake_fd(const struct tap *t) {
    return t->wake_fd;
}

/* ----------------------------------------------------- serialisation */

/* A JSON string (invalid UTF-8 becomes U+FFFD, so the output always
 * parses) or bytes as hex, as the json sink writes them (event-json.h). */
static bool put_string_value(struct buf *b, const struct field_def *fd, const char *s,
                             size_t n) {
    bool str = fd->type == OPHOST_FIELD_STRING;
    if (!buf_reserve(b, (str ? 6 : 2) * n + 2))
        return false;
    b->len = (size_t) ((str ? evjson_put_string : evjson_put_hex)(b->p + b->len,
                                                                  (const uint8_t *) s, n) -
                       b->p);
    return true;
}

/* Room for any other value written in place: the longest is a quoted
 * timestamp (32 bytes). */
#define SCALAR_MAX 40

static bool put_field(struct buf *b, struct evjson_clock *clock,
                      const struct ophost_batch *batch, const struct ophost_event *e,
                      const struct field_def *fd) {
    ophost_field f = { .offset = fd->offset, .type = (uint16_t) fd->type };
    const char *s;
    size_t len = 0;
    const char *word;
    char *p, *end;

    if (fd->type == OPHOST_FIELD_STRING || fd->type == OPHOST_FIELD_BYTES) {
        s = ophost_event_get_string(batch, e, f, &len);
        if (s)
            return put_string_value(b, fd, s, len);
    }
    if (!buf_reserve(b, SCALAR_MAX))
        return false;
    p = b->p + b->len;
    switch (fd->type) {
    case OPHOST_FIELD_U8: end = evjson_put_u64(p, ophost_event_get_u8(e, f)); break;
    case OPHOST_FIELD_U16: end = evjson_put_u64(p, ophost_event_get_u16(e, f)); break;
    case OPHOST_FIELD_U32: end = evjson_put_u64(p, ophost_event_get_u32(e, f)); break;
    case OPHOST_FIELD_U64: end = evjson_put_u64(p, ophost_event_get_u64(e, f)); break;
    case OPHOST_FIELD_S32: end = evjson_put_s64(p, ophost_event_get_s32(e, f)); break;
    case OPHOST_FIELD_S64: end = evjson_put_s64(p, ophost_event_get_s64(e, f)); break;
    case OPHOST_FIELD_TIMESTAMP:
        end = evjson_put_timestamp(p, ophost_event_get_u64(e, f), clock);
        break;
    default:
        /* a bool; null for an unset string or bytes or an unknown type */
        word = fd->type != OPHOST_FIELD_BOOL ? "null" : ophost_event_get_bool(e, f) ? "true"
                                                                                  : "false";
        end = p + strlen(word);
        memcpy(p, word, (size_t) (end - p));
        break;
    }
    b->len = (size_t) (end - b->p);
    return true;
}

/* The JSON layout of ds (event-json.h), NULL on ENOMEM. */
static const struct evjson_layout *layout_of(struct tap *t, const struct ophost_datasource *ds) {
    struct tap_layout *l;
    const char **names;
    int r;

    for (size_t i = 0; i < t->n_layouts; i++)
        if (t->layouts[i].ds == ds)
            return &t->layouts[i].layout;
    l = realloc(t->layouts, (t->n_layouts + 1) * sizeof(*l));
    if (!l)
        return NULL;
    t->layouts = l;
    names = calloc(ds->n_fields + 1, sizeof(*names));
    if (!names)
        return NULL;
    for (size_t i = 0; i < ds->n_fields; i++)
        names[i] = ds->fields[i].name;
    l = &t->layouts[t->n_layouts];
    l->ds = ds;
    r = evjson_layout_build(names, ds->n_fields, &l->layout);
    free(names);
    if (r < 0)
        return NULL;
    t->n_layouts++;
    return &l->layout;
}

/* Serialises the live events of batch into b as complete replies, each
 * ending in a NUL, in the shape of event-json.h; false on ENOMEM. */
static bool serialise_batch(struct tap *t, struct buf *b, const struct ophost_batch *batch) {
    const struct ophost_datasource *ds = batch->ds;
    const struct evjson_layout *l = layout_of(t, ds);
    static const char head[] = "{\"parameters\":{\"event\":";
    static const char tail[] = "},\"continues\":true}";

    b->len = 0;
    if (!l)
        return false;
    for (uint32_t i = 0; i < batch->n; i++) {
        const struct ophost_event *e = ophost_batch_event(batch, i);
        if (!buf_reserve(b, sizeof(head) + sizeof(tail) + 1))
            return false;
        BUF_PUTS(b, head);
        for (size_t k = 0; k < l->n; k++) {
            const struct field_def *fd = &ds->fields[l->order[k]];
            if (!buf_reserve(b, l->prefix_len[k]))
                return false;
            buf_put(b, l->text + l->prefix_off[k], l->prefix_len[k]);
            if (!put_field(b, &t->clock, batch, e, fd))
                return false;
        }
        if (!buf_reserve(b, l->tail_len + sizeof(tail)))
            return false;
        buf_put(b, l->text + l->tail_off, l->tail_len);
        buf_put(b, tail, sizeof(tail)); /* with its NUL: the message terminator */
    }
    if (ds->rounds) {
        /* A batch of this data source is one round: say where it ends. */
        static const char end[] = "{\"parameters\":{\"round_end\":true},\"continues\":true}";
        if (!buf_reserve(b, sizeof(end)))
            return false;
        buf_put(b, end, sizeof(end));
    }
    return true;
}

void tap_batch(struct session *s, const struct ophost_batch *b, void *userdata) {
    struct tap *t = userdata;
    bool appended = false, was_empty = false;
    uint64_t one = 1;

    if (!atomic_load_explicit(&t->watching, memory_order_acquire))
        return;
    if (!serialise_batch(t, &t->scratch, b)) {
        if (!t->oom_logged)
            log_full(LOG_WARNING, -ENOMEM, &(struct log_context){ .session = session_name(s) },
                     "cannot serialise events for watchers: %m, dropping them");
        t->oom_logged = true;
        pthread_mutex_lock(&t->lock);
        t->dropped += b->n;
        pthread_mutex_unlock(&t->lock);
        return;
    }
    pthread_mutex_lock(&t->lock);
    was_empty = t->in.len == 0;
    if (t->in.len + t->out_len + t->scratch.len <= TAP_OUTBOX_MAX &&
        buf_reserve(&t->in, t->scratch.len)) {
        buf_put(&t->in, t->scratch.p, t->scratch.len);
        appended = true;
    } else
        t->dropped += b->n;
    pthread_mutex_unlock(&t->lock);
    /* One wake per burst: the main thread takes everything appended since. */
    if (appended && was_empty && write(t->wake_fd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow in practice. */
    }
}

/* ----------------------------------------------------------- sending */

bool tap_pending(struct tap *t) {
    bool pending;
    if (t->out_sent < t->out.len)
        return true;
    pthread_mutex_lock(&t->lock);
    pending = t->in.len > 0 || t->dropped > 0;
    pthread_mutex_unlock(&t->lock);
    return pending;
}

/* The end of the last complete message within the next chunk of out. */
static size_t chunk_end(const struct tap *t) {
    const char *start = t->out.p + t->out_sent;
    size_t left = t->out.len - t->out_sent, max = left < PROTO_EVENTS_CHUNK ? left : PROTO_EVENTS_CHUNK;
    const char *nul = memrchr(start, '\0', max);
    /* A single event larger than a chunk: send it alone (within
     * PROTO_MESSAGE_MAX, which the outbox bound keeps it under). */
    if (!nul)
        nul = memchr(start, '\0', left);
    return nul ? (size_t) (nul - start) + 1 : left;
}

int tap_flush(struct tap *t, int sock) {
    uint64_t v;

    if (read(t->wake_fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: nothing new was signalled. */
    }
    for (;;) {
        struct proto_events head;
        struct proto_header h = { .type = PROTO_EVENTS };
        struct iovec iov[3];
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
        size_t len;

        if (t->out_sent == t->out.len) {
            /* Take what the session thread appended since. */
            pthread_mutex_lock(&t->lock);
            t->out.len = t->out_sent = 0;
            SWAP_BUF(t->in, t->out);
            t->out_dropped += t->dropped;
            t->dropped = 0;
            t->out_len = t->out.len;
            pthread_mutex_unlock(&t->lock);
            if (t->out.len == 0 && t->out_dropped == 0)
                return 0;
        }
        len = chunk_end(t);
        head.dropped_before = t->out_dropped;
        iov[0] = (struct iovec){ &h, sizeof(h) };
        iov[1] = (struct iovec){ &head, sizeof(head) };
        iov[2] = (struct iovec){ t->out.p + t->out_sent, len };
        if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        t->out_dropped = 0;
        t->out_sent += len;
        pthread_mutex_lock(&t->lock);
        t->out_len = t->out.len - t->out_sent;
        pthread_mutex_unlock(&t->lock);
    }
}

/*
 * varlink.c — the varlink wire protocol for the control socket (see
 * varlink.h): listening, accepting, reassembling NUL-terminated requests from
 * partial reads, checking their envelope, dispatching one call at a time per
 * connection, and writing replies with non-blocking writes, all on the loop.
 *
 * A connection with a call open (a watcher, a caller waiting for a start) is
 * busy; the others are idle, kept in least-recently-active order: the tail
 * is the one idle the longest, which one timer closes when its idle time is
 * up and which a new connection replaces when the limit is reached. Moving
 * bytes either way is activity, so a client slowly reading a long reply is
 * not idle; one that reads nothing is, and is closed with what it left
 * unread.
 */
#include "varlink.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "utf8.h"
#include "util.h"

#define READ_CHUNK (64 * 1024)
/* An emptied output buffer larger than this is released. */
#define OUT_KEEP_MAX (64 * 1024)
/* Connections accepted per wake-up of the listening socket: a flood of
 * clients shares the loop with everything else. */
#define ACCEPT_BURST 64

struct varlink_conn {
    struct varlink_server *srv;
    struct varlink_conn *prev, *next; /* in srv->idle or srv->busy */
    uint64_t active_usec;             /* CLOCK_MONOTONIC of the last activity */
    int fd;
    sd_event_source *io;
    sd_event_source *defer;           /* dispatches requests held back */
    struct ucred peer;
    gid_t *groups;
    size_t n_groups;
    void *userdata;

    char *in;            /* received, not yet dispatched */
    size_t in_len, in_cap;
    size_t in_scanned;   /* leading bytes of in known to hold no NUL */
    bool read_eof;       /* the peer shut down its side */
    bool closing;        /* flush what is queued, then close */
    bool dead;           /* close now */
    bool in_call;        /* a call awaits its final reply */
    bool call_more, call_oneway;

    char *out;
    size_t out_start, out_end, out_cap;
    bool streaming;       /* stream appends are accepted */
    uint64_t dropped_pending;
};

struct conn_list {
    struct varlink_conn *head, *tail;
};

struct varlink_server {
    sd_event *loop;
    int fd;
    bool activated;
    char *path;           /* bound here: unlinked at the end */
    dev_t path_dev;       /* the socket file we created, so we never unlink */
    ino_t path_ino;       /* one another daemon bound there after us */
    sd_event_source *listen_es;
    bool accepting;              /* varlink_server_accept() was called */
    sd_event_source *idle_es;
    bool idle_armed;
    struct varlink_limits limits;
    struct conn_list idle;       /* most recently active first */
    struct conn_list busy;       /* in no order */
    size_t n_conns;
    uint64_t n_accepted;         /* connections accepted since the start */
    uint64_t n_refused;          /* refused at the limit */
    varlink_method_fn method;
    varlink_disconnect_fn disconnect;
    void *userdata;
};

/* ------------------------------------------------------------ output */

/* Makes room for len more bytes at out_end. Lock held. */
static int out_reserve(struct varlink_conn *c, size_t len) {
    size_t used = c->out_end - c->out_start, cap;
    char *p;

    if (c->out_end + len <= c->out_cap)
        return 0;
    if (c->out_start > 0) {
        memmove(c->out, c->out + c->out_start, used);
        c->out_start = 0;
        c->out_end = used;
        if (used + len <= c->out_cap)
            return 0;
    }
    cap = c->out_cap ? c->out_cap : 4096;
    while (cap < used + len)
        cap *= 2;
    p = realloc(c->out, cap);
    if (!p)
        return -ENOMEM;
    c->out = p;
    c->out_cap = cap;
    return 0;
}

static int out_append(struct varlink_conn *c, const char *data, size_t len) {
    int r = out_reserve(c, len);
    if (r < 0)
        return r;
    memcpy(c->out + c->out_end, data, len);
    c->out_end += len;
    return 0;
}

static int out_append_notice(struct varlink_conn *c) {
    char buf[96];
    int n = snprintf(buf, sizeof(buf), "{\"parameters\":{\"dropped\":%llu},\"continues\":true}",
                     (unsigned long long) c->dropped_pending);
    int r = out_append(c, buf, (size_t) n + 1);
    if (r >= 0)
        c->dropped_pending = 0;
    return r;
}

static bool out_pending(const struct varlink_conn *c) {
    return c->out_end > c->out_start;
}

static size_t out_queued(const struct varlink_conn *c) {
    return c->out_end - c->out_start;
}

static void conn_touch(struct varlink_conn *c);

/* Writes what can be written without blocking. Marks c dead on errors. */
static void conn_flush(struct varlink_conn *c) {
    while (!c->dead) {
        ssize_t n;
        if (c->out_end == c->out_start) {
            /* Caught up: a slow reader learns what it missed, then the
             * stream resumes. */
            if (c->dropped_pending > 0 && c->streaming && out_append_notice(c) >= 0)
                continue;
            c->out_start = c->out_end = 0;
            if (c->out_cap > OUT_KEEP_MAX) {
                free(c->out);
                c->out = NULL;
                c->out_cap = 0;
            }
            break;
        }
        n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                c->dead = true;
            break;
        }
        c->out_start += (size_t) n;
        conn_touch(c);
    }
}

/* ------------------------------------------------------------ replies */

static int send_message(struct varlink_conn *c, json_object *msg) {
    size_t len;
    const char *s;
    int r;

    if (!msg)
        return -ENOMEM;
    s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s) {
        json_object_put(msg);
        return -ENOMEM;
    }
    if (utf8_valid(s, len)) {
        r = out_append(c, s, len + 1); /* with the NUL */
    } else {
        /* A file name or a plugin's text with bytes that are not UTF-8:
         * JSON must be, or clients cannot parse the reply. */
        r = out_reserve(c, len * 3 + 1);
        if (r >= 0) {
            c->out_end += utf8_sanitize(s, len, c->out + c->out_end);
            c->out[c->out_end++] = '\0';
        }
    }
    json_object_put(msg);
    return r;
}

static void conn_update_events(struct varlink_conn *c);
static void conn_set_busy(struct varlink_conn *c, bool busy);

/* Whether in may hold a complete request: bytes not yet searched for its
 * terminating NUL. */
static bool conn_has_request(const struct varlink_conn *c) {
    return c->in_len > c->in_scanned;
}

/* Dispatches the requests c received during its call, from the loop: the
 * reply that ended the call may be written from inside another call. */
static void conn_dispatch_later(struct varlink_conn *c) {
    (void) sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
}

static void call_end(struct varlink_conn *c) {
    c->streaming = false;
    c->dropped_pending = 0;
    conn_set_busy(c, false);
    if (conn_has_request(c))
        conn_dispatch_later(c);
}

int varlink_reply(struct varlink_conn *c, json_object *parameters, bool continues) {
    json_object *msg;
    int r = 0;

    if (!c->in_call) {
        json_object_put(parameters);
        return -EBADMSG;
    }
    continues = continues && c->call_more;
    if (c->call_oneway) {
        json_object_put(parameters);
    } else {
        msg = json_object_new_object();
        if (msg) {
            json_object_object_add(msg, "parameters",
                                   parameters ? parameters : json_object_new_object());
            if (continues)
                json_object_object_add(msg, "continues", json_object_new_boolean(true));
        } else {
            json_object_put(parameters);
        }
        if (!continues) {
            /* Events dropped since the reader last caught up come before the end. */
            c->streaming = false;
            if (c->dropped_pending > 0)
                (void) out_append_notice(c);
        }
        r = send_message(c, msg);
        if (continues)
            c->streaming = true;
    }
    if (!continues)
        call_end(c);
    conn_update_events(c);
    return r;
}

int varlink_error(struct varlink_conn *c, const char *error, json_object *parameters) {
    json_object *msg;
    int r = 0;

    if (!c->in_call) {
        json_object_put(parameters);
        return -EBADMSG;
    }
    if (c->call_oneway) {
        json_object_put(parameters);
    } else {
        msg = json_object_new_object();
        if (msg) {
            json_object_object_add(msg, "error", json_object_new_string(error));
            json_object_object_add(msg, "parameters",
                                   parameters ? parameters : json_object_new_object());
        } else {
            json_object_put(parameters);
        }
        c->streaming = false;
        r = send_message(c, msg);
    }
    call_end(c);
    conn_update_events(c);
    return r;
}

int varlink_error_invalid_parameter(struct varlink_conn *c, const char *name, const char *reason) {
    json_object *p = json_object_new_object();
    if (p) {
        json_object_object_add(p, "parameter", json_object_new_string(name));
        if (reason)
            json_object_object_add(p, "reason", json_object_new_string(reason));
    }
    return varlink_error(c, "org.varlink.service.InvalidParameter", p);
}

/* An error outside any call (bad envelope): sent as if a call were open. */
static void protocol_error(struct varlink_conn *c, const char *error, const char *reason) {
    json_object *p = json_object_new_object();
    if (p)
        json_object_object_add(p, "reason", json_object_new_string(reason));
    conn_set_busy(c, true);
    c->call_more = c->call_oneway = false;
    (void) varlink_error(c, error, p);
}

size_t varlink_conn_stream_append(struct varlink_conn *c, const char *data, const uint32_t *ends,
                                  size_t n) {
    size_t dropped = 0;
    uint32_t start = 0;

    for (size_t i = 0; i < n; start = ends[i], i++) {
        size_t len = ends[i] - start;
        /* After a drop, drop until the reader has caught up and been told,
         * so the notice marks exactly where the gap is. */
        if (!c->streaming || c->dropped_pending > 0 ||
            c->out_end - c->out_start + len > VARLINK_STREAM_BUFFER_MAX ||
            out_append(c, data + start, len) < 0) {
            if (c->streaming)
                c->dropped_pending++;
            dropped++;
        }
    }
    conn_update_events(c); /* written when the socket takes it */
    return dropped;
}

void varlink_conn_stream_note_dropped(struct varlink_conn *c, uint64_t n) {
    if (c->streaming)
        c->dropped_pending += n;
}

/* ------------------------------------------------------ connections */

const struct ucred *varlink_conn_peer(const struct varlink_conn *c) {
    return &c->peer;
}

bool varlink_conn_peer_in_group(const struct varlink_conn *c, gid_t gid) {
    if (c->peer.gid == gid)
        return true;
    for (size_t i = 0; i < c->n_groups; i++)
        if (c->groups[i] == gid)
            return true;
    return false;
}

void varlink_conn_set_userdata(struct varlink_conn *c, void *userdata) {
    c->userdata = userdata;
}

void *varlink_conn_get_userdata(const struct varlink_conn *c) {
    return c->userdata;
}

/* Reads the "Groups:" line of /proc/PID/status (when SO_PEERGROUPS is
 * missing). */
static void groups_from_proc(struct varlink_conn *c) {
    char path[64], *line = NULL;
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int) c->peer.pid);
    f = fopen(path, "re");
    if (!f)
        return;
    while (getline(&line, &n, f) > 0) {
        char *p = line + 7, *end;
        if (strncmp(line, "Groups:", 7) != 0)
            continue;
        for (;;) {
            unsigned long g = strtoul(p, &end, 10);
            gid_t *ng;
            if (end == p)
                break;
            ng = realloc(c->groups, (c->n_groups + 1) * sizeof(gid_t));
            if (!ng)
                break;
            c->groups = ng;
            c->groups[c->n_groups++] = (gid_t) g;
            p = end;
        }
        break;
    }
    free(line);
    fclose(f);
}

static void read_peer_groups(struct varlink_conn *c) {
    socklen_t len = 64 * sizeof(gid_t);

    for (int attempt = 0; attempt < 2; attempt++) {
        gid_t *g = malloc(len ? len : sizeof(gid_t));
        if (!g)
            return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) >= 0) {
            c->groups = g;
            c->n_groups = len / sizeof(gid_t);
            return;
        }
        free(g);
        if (errno != ERANGE)
            break;
    }
    groups_from_proc(c);
}

/* ------------------------------------------------- activity and idleness */

static void list_unlink(struct conn_list *l, struct varlink_conn *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static void list_push_front(struct conn_list *l, struct varlink_conn *c) {
    c->next = l->head;
    if (l->head)
        l->head->prev = c;
    l->head = c;
    if (!l->tail)
        l->tail = c;
}

static struct conn_list *list_of(struct varlink_conn *c) {
    return c->in_call ? &c->srv->busy : &c->srv->idle;
}

/* Sets the idle timer to when the connection idle the longest is due. A
 * timer set for a connection that was active since fires early and is set
 * again, so activity itself never touches the timer. */
static void idle_arm(struct varlink_server *s) {
    struct varlink_conn *c = s->idle.tail;

    if (!s->idle_es)
        return;
    s->idle_armed = c != NULL;
    if (c)
        (void) sd_event_source_set_time(s->idle_es,
                                        c->active_usec + s->limits.idle_timeout_usec);
    (void) sd_event_source_set_enabled(s->idle_es, c ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
}

/* c did something: if idle, it becomes the most recently active. */
static void conn_touch(struct varlink_conn *c) {
    struct varlink_server *s = c->srv;

    c->active_usec = monotonic_usec();
    if (c->in_call)
        return;
    if (s->idle.head != c) {
        list_unlink(&s->idle, c);
        list_push_front(&s->idle, c);
    }
    if (!s->idle_armed)
        idle_arm(s);
}

/* A call begins (busy) or ends (idle from now on). */
static void conn_set_busy(struct varlink_conn *c, bool busy) {
    if (c->in_call == busy)
        return;
    list_unlink(list_of(c), c);
    c->in_call = busy;
    list_push_front(list_of(c), c);
    conn_touch(c);
}

static void conn_free(struct varlink_conn *c) {
    struct varlink_server *s = c->srv;

    if (s->disconnect)
        s->disconnect(c, s->userdata);
    list_unlink(list_of(c), c);
    s->n_conns--;
    sd_event_source_disable_unref(c->io);
    sd_event_source_disable_unref(c->defer);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c->groups);
    free(c);
    /* An fd is free again: accept, if running out of fds stopped it. */
    if (s->accepting)
        (void) sd_event_source_set_enabled(s->listen_es, SD_EVENT_ON);
}

static void conn_update_events(struct varlink_conn *c) {
    uint32_t ev = 0;

    /* No further request while replies pile up unread. */
    if (!c->in_call && !c->closing && !c->read_eof && !c->dead &&
        out_queued(c) < VARLINK_REPLY_BACKLOG_MAX)
        ev |= EPOLLIN;
    if (out_pending(c))
        ev |= EPOLLOUT;
    (void) sd_event_source_set_io_events(c->io, ev);
}

/* Whether c is finished and can be closed. */
static bool conn_done(struct varlink_conn *c) {
    if (c->dead)
        return true;
    if ((c->closing || (c->read_eof && !c->in_call && c->in_len == 0)) && !out_pending(c))
        return true;
    return false;
}

static const char *const envelope_flags[] = { "more", "oneway", "upgrade" };

/* Checks the envelope of one message and dispatches it. */
static void dispatch_message(struct varlink_conn *c, const char *msg, size_t len) {
    struct json_tokener *tok;
    json_object *o, *v, *params = NULL;
    struct varlink_call call = { 0 };
    enum json_tokener_error jerr;

    tok = json_tokener_new();
    if (!tok) {
        protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, "out of memory");
        return;
    }
    /* Text that is not UTF-8 would come back in replies and errors. */
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, msg, (int) len);
    jerr = json_tokener_get_error(tok);
    if (!o || jerr != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
        char reason[160];
        if (o && jerr == json_tokener_success)
            snprintf(reason, sizeof(reason), "trailing data after the JSON object at offset %zu",
                     json_tokener_get_parse_end(tok));
        else
            snprintf(reason, sizeof(reason), "not valid JSON: %s",
                     jerr == json_tokener_continue ? "unexpected end of input"
                                                   : json_tokener_error_desc(jerr));
        json_object_put(o);
        json_tokener_free(tok);
        protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, reason);
        return;
    }
    json_tokener_free(tok);

    if (!json_object_is_type(o, json_type_object)) {
        protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, "the request is not a JSON object");
        goto out;
    }
    if (!json_object_object_get_ex(o, "method", &v) || !json_object_is_type(v, json_type_string)) {
        protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, "'method' is missing or not a string");
        goto out;
    }
    call.method = json_object_get_string(v);
    if (json_object_object_get_ex(o, "parameters", &v) && v) {
        if (!json_object_is_type(v, json_type_object)) {
            protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, "'parameters' is not an object");
            goto out;
        }
        params = json_object_get(v);
    } else {
        params = json_object_new_object();
        if (!params) {
            protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < ELEMENTSOF(envelope_flags); i++) {
        bool *dst = i == 0 ? &call.more : i == 1 ? &call.oneway : NULL;
        if (!json_object_object_get_ex(o, envelope_flags[i], &v) || !v)
            continue;
        if (!json_object_is_type(v, json_type_boolean)) {
            char reason[64];
            snprintf(reason, sizeof(reason), "'%s' is not a boolean", envelope_flags[i]);
            protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, reason);
            goto out;
        }
        if (dst)
            *dst = json_object_get_boolean(v);
        else if (json_object_get_boolean(v)) {
            protocol_error(c, VARLINK_ERROR_INVALID_REQUEST, "'upgrade' is not supported");
            goto out;
        }
    }
    call.parameters = params;
    conn_set_busy(c, true);
    c->call_more = call.more && !call.oneway;
    c->call_oneway = call.oneway;
    c->srv->method(c, &call, c->srv->userdata);
out:
    json_object_put(params);
    json_object_put(o);
}

/* Dispatches complete requests from the input buffer while no call is open. */
static void conn_dispatch(struct varlink_conn *c) {
    size_t pos = 0;

    while (!c->in_call && !c->closing && !c->dead && pos + c->in_scanned < c->in_len &&
           out_queued(c) < VARLINK_REPLY_BACKLOG_MAX) {
        /* Only what arrived since the last search is searched again. */
        char *nul = memchr(c->in + pos + c->in_scanned, '\0', c->in_len - pos - c->in_scanned);
        size_t len;
        if (!nul) {
            c->in_scanned = c->in_len - pos;
            break;
        }
        c->in_scanned = 0;
        len = (size_t) (nul - (c->in + pos));
        conn_touch(c);
        dispatch_message(c, c->in + pos, len);
        pos += len + 1;
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (!c->in_call && c->in_len > VARLINK_REQUEST_MAX) {
        char reason[96];
        snprintf(reason, sizeof(reason), "request larger than %d bytes without a terminating NUL",
                 VARLINK_REQUEST_MAX);
        c->in_len = c->in_scanned = 0;
        protocol_error(c, VARLINK_ERROR_TOO_LARGE, reason);
        c->closing = true;
    }
}

static void conn_read(struct varlink_conn *c) {
    /* Bounded work per wakeup, so one busy client cannot starve the others;
     * level-triggered epoll brings us back. */
    for (int round = 0; round < 16 && !c->in_call && !c->closing && !c->dead && !c->read_eof;
         round++) {
        ssize_t n;
        if (c->in_cap - c->in_len < READ_CHUNK) {
            size_t cap = c->in_len + READ_CHUNK;
            char *p = realloc(c->in, cap);
            if (!p) {
                c->dead = true;
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                c->dead = true;
            return;
        }
        if (n == 0) {
            c->read_eof = true;
            if (c->in_len > 0 && !memchr(c->in, '\0', c->in_len))
                c->in_len = c->in_scanned = 0; /* a truncated request nobody can finish */
            break;
        }
        c->in_len += (size_t) n;
        conn_touch(c);
        conn_dispatch(c);
    }
}

static void conn_settle(struct varlink_conn *c) {
    if (!c->dead && out_pending(c))
        conn_flush(c);
    /* Requests held back while replies piled up go on once they are read. */
    if (!c->in_call && conn_has_request(c) && out_queued(c) < VARLINK_REPLY_BACKLOG_MAX)
        conn_dispatch(c);
    if (conn_done(c)) {
        conn_free(c);
        return;
    }
    conn_update_events(c);
}

static int on_conn_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct varlink_conn *c = userdata;

    if (revents & EPOLLIN)
        conn_read(c);
    if (revents & EPOLLOUT)
        conn_flush(c);
    if (revents & (EPOLLHUP | EPOLLERR)) {
        /* Requests the peer sent before closing are still served (oneway). */
        if (!(revents & EPOLLIN) || c->read_eof || c->in_call)
            c->dead = true;
    }
    conn_settle(c);
    return 0;
}

static int on_conn_defer(sd_event_source *es, void *userdata) {
    struct varlink_conn *c = userdata;

    conn_dispatch(c);
    conn_settle(c);
    return 0;
}

static int on_idle(sd_event_source *es, uint64_t usec, void *userdata) {
    struct varlink_server *s = userdata;
    uint64_t now = monotonic_usec();

    while (s->idle.tail && now - s->idle.tail->active_usec >= s->limits.idle_timeout_usec)
        conn_free(s->idle.tail);
    idle_arm(s);
    return 0;
}

/* Makes room for a new connection: closes the one idle the longest.
 * False when every connection has a call open. */
static bool evict_idle(struct varlink_server *s) {
    if (!s->idle.tail)
        return false;
    conn_free(s->idle.tail);
    return true;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct varlink_server *s = userdata;

    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct varlink_conn *c;
        socklen_t len;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of fds: make room by closing the oldest idle client,
                 * then come back (level-triggered). */
                log_full(LOG_WARNING, -errno, NULL,
                         "control socket: cannot accept a connection: %m, "
                         "closing the one idle the longest");
                if (!evict_idle(s))
                    (void) sd_event_source_set_enabled(es, SD_EVENT_OFF);
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_full(LOG_WARNING, -errno, NULL, "control socket: accept failed: %m, ignoring");
            return 0;
        }
        if (s->n_conns >= s->limits.max_connections && !evict_idle(s)) {
            log_warning("control socket: %u connections open, all of them in a call; "
                        "refusing another", s->limits.max_connections);
            s->n_refused++;
            close(cfd);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(cfd);
            continue;
        }
        c->srv = s;
        c->fd = cfd;
        len = sizeof(c->peer);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0) {
            /* Without credentials the peer is nobody in particular. */
            c->peer = (struct ucred){ .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        } else {
            read_peer_groups(c);
        }
        if (sd_event_add_io(s->loop, &c->io, cfd, EPOLLIN, on_conn_io, c) < 0 ||
            sd_event_add_defer(s->loop, &c->defer, on_conn_defer, c) < 0 ||
            sd_event_source_set_enabled(c->defer, SD_EVENT_OFF) < 0) {
            sd_event_source_disable_unref(c->io);
            sd_event_source_disable_unref(c->defer);
            free(c->groups);
            free(c);
            close(cfd);
            continue;
        }
        list_push_front(&s->idle, c);
        s->n_conns++;
        s->n_accepted++;
        conn_touch(c);
    }
    return 0;
}

/* ------------------------------------------------------------- server */

static int mkdir_parents(const char *path) {
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *slash = '/';
    }
    return 0;
}

static int bind_socket(const char *path, char **ret_error) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    _cleanup_close_ int fd = -1;
    struct stat st;
    int r;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        *ret_error = strprintf("control socket path '%s' is too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    r = mkdir_parents(path);
    if (r < 0) {
        *ret_error = strprintf("cannot create the directory of %s: %s", path, strerror(-r));
        return r;
    }
    if (lstat(path, &st) >= 0) {
        _cleanup_close_ int probe = -1;
        if (!S_ISSOCK(st.st_mode)) {
            *ret_error = strprintf("%s exists and is not a socket", path);
            return -EEXIST;
        }
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *) &sa, sizeof(sa)) >= 0) {
            *ret_error = strprintf("%s is in use by another process (another ophostd?)", path);
            return -EADDRINUSE;
        }
        (void) unlink(path); /* stale */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        r = -errno;
        *ret_error = strprintf("cannot bind %s: %s", path, strerror(errno));
        return r;
    }
    /* Anyone may connect, as to systemd's own varlink services: every call
     * is authorized with the peer's credentials (the daemon's umask must
     * not decide who can read the sessions). */
    if (chmod(sa.sun_path, 0666) < 0) {
        r = -errno;
        *ret_error = strprintf("cannot set the mode of %s: %s", sa.sun_path, strerror(-r));
        (void) unlink(sa.sun_path);
        return r;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        r = -errno;
        *ret_error = strprintf("cannot listen on %s: %s", path, strerror(errno));
        (void) unlink(path);
        return r;
    }
    return TAKE_FD(fd);
}

int varlink_server_new(sd_event *loop, const char *path, const struct varlink_limits *limits,
                       varlink_method_fn method, varlink_disconnect_fn disconnect,
                       void *userdata, struct varlink_server **ret, char **ret_error) {
    struct varlink_server *s = calloc(1, sizeof(*s));
    int n, r;

    if (!s)
        return -ENOMEM;
    s->fd = -1;
    s->limits = *limits;
    if (s->limits.max_connections == 0)
        s->limits.max_connections = 1;
    s->loop = sd_event_ref(loop);
    s->method = method;
    s->disconnect = disconnect;
    s->userdata = userdata;

    n = sd_listen_fds(1);
    if (n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
        s->fd = SD_LISTEN_FDS_START;
        s->activated = true;
        (void) fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
        (void) fcntl(s->fd, F_SETFD, FD_CLOEXEC);
    } else {
        if (n > 0)
            log_warning("systemd passed %d sockets, expected one listening Unix stream socket; "
                        "binding %s instead", n, path);
        r = bind_socket(path, ret_error);
        if (r < 0)
            goto fail;
        s->fd = r;
        s->path = strdup(path);
        if (!s->path) {
            r = -ENOMEM;
            goto fail;
        }
        {
            struct stat st;
            if (lstat(path, &st) >= 0) {
                s->path_dev = st.st_dev;
                s->path_ino = st.st_ino;
            }
        }
    }
    r = sd_event_add_io(loop, &s->listen_es, s->fd, EPOLLIN, on_accept, s);
    if (r >= 0) /* varlink_server_accept() opens the door */
        r = sd_event_source_set_enabled(s->listen_es, SD_EVENT_OFF);
    if (r >= 0 && s->limits.idle_timeout_usec > 0) {
        r = sd_event_add_time(loop, &s->idle_es, CLOCK_MONOTONIC, 0, 1000 * 1000, on_idle, s);
        if (r >= 0)
            r = sd_event_source_set_enabled(s->idle_es, SD_EVENT_OFF);
    }
    if (r < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    if (!*ret_error)
        *ret_error = strprintf("cannot set up the control socket %s: %s", path, strerror(-r));
    varlink_server_free(s);
    return r;
}

struct varlink_server *varlink_server_free(struct varlink_server *s) {
    if (!s)
        return NULL;
    /* The last replies (a watcher's end at shutdown) go out if the socket
     * takes them now; nobody waits for a client that does not read. */
    while (s->idle.head) {
        conn_flush(s->idle.head);
        conn_free(s->idle.head);
    }
    while (s->busy.head) {
        conn_flush(s->busy.head);
        conn_free(s->busy.head);
    }
    sd_event_source_disable_unref(s->listen_es);
    sd_event_source_disable_unref(s->idle_es);
    if (s->path) {
        /* Before closing: a daemon starting now must not take our socket for
         * stale and have its fresh one unlinked by us. */
        struct stat st;
        if (lstat(s->path, &st) >= 0 && st.st_dev == s->path_dev && st.st_ino == s->path_ino)
            (void) unlink(s->path);
    }
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    sd_event_unref(s->loop);
    free(s);
    return NULL;
}

void varlink_server_accept(struct varlink_server *s) {
    s->accepting = true;
    (void) sd_event_source_set_enabled(s->listen_es, SD_EVENT_ON);
}

bool varlink_server_activated(const struct varlink_server *s) {
    return s->activated;
}

size_t varlink_server_connections(const struct varlink_server *s) {
    return s->n_conns;
}

uint64_t varlink_server_accepted(const struct varlink_server *s) {
    return s->n_accepted;
}

uint64_t varlink_server_refused(const struct varlink_server *s) {
    return s->n_refused;
}

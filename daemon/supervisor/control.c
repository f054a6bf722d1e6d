/*
 * control.c — the org.ophost.Manager varlink interface of ophostd.
 *
 * Calls run on the main loop. Read-only methods (List*, DescribeSession,
 * Stats, Watch) are open to anyone who can connect to the socket; the
 * mutating ones (StartSession, StopSession, Run, Reload) need uid 0, the
 * daemon's own uid, or membership in the configured control group.
 *
 * Event streaming: every session gets a hub as its tap. The tap runs on the
 * session thread; with no watcher it costs one atomic load. With watchers it
 * serialises the batch once into the hub's scratch buffer (JSON text driven
 * by the data source's schema) and appends it to each watcher's bounded
 * buffer (varlink.c), which drops and counts what does not fit, then wakes
 * the main loop to write. The watcher list is guarded by the hub's mutex,
 * which the main thread also takes before a watcher goes away.
 *
 * Run: an ad-hoc session built from the request (never written to disk),
 * owned by the calling connection; it ends when the gadget completes or the
 * connection closes.
 */
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "inspect.h"
#include "log.h"
#include "params.h"
#include "plan.h"
#include "registry.h"
#include "schema.h"
#include "session.h"
#include "varlink.h"

#define IFACE "org.ophost.Manager"
#define ERR_NO_SUCH_SESSION IFACE ".NoSuchSession"
#define ERR_NOT_RUNNING IFACE ".SessionNotRunning"
#define ERR_PERMISSION IFACE ".PermissionDenied"
#define ERR_INVALID_PIPELINE IFACE ".InvalidPipeline"
#define ERR_SESSION_FAILED IFACE ".SessionFailed"
#define ERR_RELOAD_FAILED IFACE ".ReloadFailed"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

struct hub;
struct adhoc;

/* What a connection is doing beyond single calls. */
struct client {
    struct hub *watching;  /* a Watch or Run call streams this hub */
    struct adhoc *run;     /* the ad-hoc session this connection owns */
};

/* The tap of one session and its watchers. */
struct hub {
    struct control *ctl;
    struct hub *next;
    struct session *session;
    uint64_t started_usec;   /* CLOCK_MONOTONIC */

    pthread_mutex_t lock;    /* watchers */
    struct varlink_conn **watchers;
    size_t n_watchers, watchers_cap;
    atomic_uint n_watching;  /* = n_watchers, readable without the lock */
    _Atomic uint64_t watch_dropped;

    /* Session thread only: the serialised batch. */
    char *buf;
    size_t len, cap;
    uint32_t *ends;
    size_t ends_cap;
    bool oom_logged;
};

struct adhoc {
    struct control *ctl;
    struct adhoc *next;
    struct config_session cs; /* owned: what the request asked for */
    struct session *session;
    sd_event_source *notify_es;
    struct varlink_conn *owner;
};

struct control {
    struct daemon *d;
    sd_event *loop;
    struct varlink_server *srv;
    struct hub *hubs;
    struct adhoc *adhocs;
    unsigned next_run;
};

/* ------------------------------------------------- event serialisation */

static bool buf_reserve(struct hub *h, size_t more) {
    size_t cap;
    char *p;
    if (h->len + more <= h->cap)
        return true;
    cap = h->cap ? h->cap : 16384;
    while (cap < h->len + more)
        cap *= 2;
    p = realloc(h->buf, cap);
    if (!p)
        return false;
    h->buf = p;
    h->cap = cap;
    return true;
}

static void buf_put(struct hub *h, const char *s, size_t n) {
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

#define BUF_PUTS(h, lit) buf_put((h), (lit), sizeof(lit) - 1)

static const char hex[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A JSON string; invalid UTF-8 becomes U+FFFD so the output always parses. */
static bool put_json_string(struct hub *h, const char *s, size_t n) {
    /* Worst case: every byte becomes \u00XX (6) or U+FFFD (3). */
    if (!buf_reserve(h, n * 6 + 2))
        return false;
    h->buf[h->len++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char) s[i];
        size_t l;
        if (c == '"' || c == '\\') {
            h->buf[h->len++] = '\\';
            h->buf[h->len++] = (char) c;
            i++;
        } else if (c == '\n') {
            BUF_PUTS(h, "\\n");
            i++;
        } else if (c == '\t') {
            BUF_PUTS(h, "\\t");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            buf_put(h, e, 6);
            i++;
        } else if ((l = utf8_len((const unsigned char *) s + i, n - i)) > 0) {
            buf_put(h, s + i, l);
            i += l;
        } else {
            BUF_PUTS(h, "\xef\xbf\xbd");
            i++;
        }
    }
    h->buf[h->len++] = '"';
    return true;
}

/* Bytes as a string of lower-case hex digits. */
static bool put_hex(struct hub *h, const char *s, size_t n) {
    if (!buf_reserve(h, n * 2 + 2))
        return false;
    h->buf[h->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        h->buf[h->len++] = hex[(unsigned char) s[i] >> 4];
        h->buf[h->len++] = hex[(unsigned char) s[i] & 15];
    }
    h->buf[h->len++] = '"';
    return true;
}

/* Room for any other value printed in place: the longest is a quoted
 * timestamp (32 bytes), and snprintf's NUL. */
#define SCALAR_MAX 40

static bool put_field(struct hub *h, const struct ophost_batch *b, const struct ophost_event *e,
                      const struct field_def *fd) {
    ophost_field f = { .offset = fd->offset, .type = (uint16_t) fd->type };
    const char *s;
    size_t len = 0;
    char *p;
    int n;

    if (fd->type == OPHOST_FIELD_STRING || fd->type == OPHOST_FIELD_BYTES) {
        s = ophost_event_get_string(b, e, f, &len);
        if (s)
            return fd->type == OPHOST_FIELD_STRING ? put_json_string(h, s, len)
                                                   : put_hex(h, s, len);
    }
    if (!buf_reserve(h, SCALAR_MAX))
        return false;
    p = h->buf + h->len;
    switch (fd->type) {
    case OPHOST_FIELD_U8: n = snprintf(p, SCALAR_MAX, "%u", ophost_event_get_u8(e, f)); break;
    case OPHOST_FIELD_U16: n = snprintf(p, SCALAR_MAX, "%u", ophost_event_get_u16(e, f)); break;
    case OPHOST_FIELD_U32:
        n = snprintf(p, SCALAR_MAX, "%" PRIu32, ophost_event_get_u32(e, f));
        break;
    case OPHOST_FIELD_U64:
        n = snprintf(p, SCALAR_MAX, "%" PRIu64, ophost_event_get_u64(e, f));
        break;
    case OPHOST_FIELD_S32:
        n = snprintf(p, SCALAR_MAX, "%" PRId32, ophost_event_get_s32(e, f));
        break;
    case OPHOST_FIELD_S64:
        n = snprintf(p, SCALAR_MAX, "%" PRId64, ophost_event_get_s64(e, f));
        break;
    case OPHOST_FIELD_BOOL:
        n = snprintf(p, SCALAR_MAX, "%s", ophost_event_get_bool(e, f) ? "true" : "false");
        break;
    case OPHOST_FIELD_TIMESTAMP: {
        uint64_t ns = ophost_event_get_u64(e, f);
        time_t sec = (time_t) (ns / 1000000000u);
        struct tm tm;
        char date[32];
        gmtime_r(&sec, &tm);
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        n = snprintf(p, SCALAR_MAX, "\"%s.%09" PRIu64 "Z\"", date, ns % 1000000000u);
        break;
    }
    default: /* an unset string or bytes, an unknown type */
        n = snprintf(p, SCALAR_MAX, "null");
        break;
    }
    h->len += (size_t) n;
    return true;
}

/* Serialises the live events of b as complete replies; false on ENOMEM. */
static bool serialise_batch(struct hub *h, const struct ophost_batch *b) {
    const struct ophost_datasource *ds = b->ds;
    static const char head[] = "{\"parameters\":{\"event\":{";
    static const char tail[] = "}},\"continues\":true}";

    h->len = 0;
    if (h->ends_cap < b->n) {
        uint32_t *e = realloc(h->ends, b->n * sizeof(uint32_t));
        if (!e)
            return false;
        h->ends = e;
        h->ends_cap = b->n;
    }
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ophost_event *e = ophost_batch_event(b, i);
        if (!buf_reserve(h, sizeof(head) + sizeof(tail) + 1))
            return false;
        BUF_PUTS(h, head);
        for (size_t k = 0; k < ds->n_fields; k++) {
            const struct field_def *fd = &ds->fields[k];
            size_t nl = strlen(fd->name);
            /* Field names are [A-Za-z0-9_.-]: no escaping needed. */
            if (!buf_reserve(h, nl + 4))
                return false;
            if (k)
                h->buf[h->len++] = ',';
            h->buf[h->len++] = '"';
            buf_put(h, fd->name, nl);
            BUF_PUTS(h, "\":");
            if (!put_field(h, b, e, fd))
                return false;
        }
        if (!buf_reserve(h, sizeof(tail) + 1) || h->len + sizeof(tail) >= UINT32_MAX)
            return false;
        buf_put(h, tail, sizeof(tail)); /* with its NUL: the message terminator */
        h->ends[i] = (uint32_t) h->len;
    }
    return true;
}

static void hub_tap(struct session *s, const struct ophost_batch *b, void *userdata) {
    struct hub *h = userdata;
    size_t dropped = 0, offered;

    if (atomic_load_explicit(&h->n_watching, memory_order_acquire) == 0)
        return;
    if (!serialise_batch(h, b)) {
        if (!h->oom_logged)
            log_full(LOG_WARNING, -ENOMEM, &(struct log_context){ .session = session_name(s) },
                     "cannot serialise events for watchers: %m, dropping them");
        h->oom_logged = true;
        return;
    }
    pthread_mutex_lock(&h->lock);
    offered = h->n_watchers * b->n;
    for (size_t i = 0; i < h->n_watchers; i++)
        dropped += varlink_conn_stream_append(h->watchers[i], h->buf, h->ends, b->n);
    pthread_mutex_unlock(&h->lock);
    if (dropped)
        atomic_fetch_add_explicit(&h->watch_dropped, dropped, memory_order_relaxed);
    /* Only slow readers with full buffers: the loop already waits to write
     * to them, a wake would only make it try in vain. */
    if (dropped < offered)
        varlink_server_wake(h->ctl->srv);
}

/* ---------------------------------------------------------------- hubs */

static struct hub *hub_of(struct control *ctl, const struct session *s) {
    for (struct hub *h = ctl ? ctl->hubs : NULL; h; h = h->next)
        if (h->session == s)
            return h;
    return NULL;
}

void control_session_attach(struct control *ctl, struct session *s) {
    struct hub *h;

    if (!ctl)
        return;
    h = calloc(1, sizeof(*h));
    if (!h) {
        log_full(LOG_WARNING, -ENOMEM, &(struct log_context){ .session = session_name(s) },
                 "cannot watch the session: %m, ophostctl watch will not see it");
        return;
    }
    h->ctl = ctl;
    h->session = s;
    h->started_usec = monotonic_usec();
    pthread_mutex_init(&h->lock, NULL);
    h->next = ctl->hubs;
    ctl->hubs = h;
    session_set_tap(s, hub_tap, h);
}

static int hub_add_watcher(struct hub *h, struct varlink_conn *c) {
    int r = 0;
    pthread_mutex_lock(&h->lock);
    if (h->n_watchers == h->watchers_cap) {
        size_t cap = h->watchers_cap ? h->watchers_cap * 2 : 4;
        struct varlink_conn **w = realloc(h->watchers, cap * sizeof(*w));
        if (!w)
            r = -ENOMEM;
        else {
            h->watchers = w;
            h->watchers_cap = cap;
        }
    }
    if (r >= 0) {
        h->watchers[h->n_watchers++] = c;
        atomic_store_explicit(&h->n_watching, (unsigned) h->n_watchers, memory_order_release);
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}

static void hub_remove_watcher(struct hub *h, struct varlink_conn *c) {
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n_watchers; i++)
        if (h->watchers[i] == c) {
            h->watchers[i] = h->watchers[--h->n_watchers];
            break;
        }
    atomic_store_explicit(&h->n_watching, (unsigned) h->n_watchers, memory_order_release);
    pthread_mutex_unlock(&h->lock);
}

static struct client *client_of(struct varlink_conn *c) {
    struct client *cl = varlink_conn_get_userdata(c);
    if (!cl) {
        cl = calloc(1, sizeof(*cl));
        if (cl)
            varlink_conn_set_userdata(c, cl);
    }
    return cl;
}

/* The end of a watched session: each watcher gets its final reply. */
static void hub_end(struct hub *h) {
    enum session_state st = session_get_state(h->session);
    struct varlink_conn **w;
    size_t n;

    pthread_mutex_lock(&h->lock);
    w = TAKE_PTR(h->watchers);
    n = h->n_watchers;
    h->n_watchers = h->watchers_cap = 0;
    atomic_store(&h->n_watching, 0);
    pthread_mutex_unlock(&h->lock);
    for (size_t i = 0; i < n; i++) {
        struct client *cl = varlink_conn_get_userdata(w[i]);
        json_object *p = json_object_new_object();
        if (cl)
            cl->watching = NULL;
        if (st == SESSION_FAILED) {
            const char *e = session_error(h->session);
            json_object_object_add(p, "name", json_object_new_string(session_name(h->session)));
            json_object_object_add(p, "error", json_object_new_string(e ? e : "failed"));
            (void) varlink_error(w[i], ERR_SESSION_FAILED, p);
        } else {
            json_object_object_add(p, "ended", json_object_new_boolean(true));
            json_object_object_add(p, "state", json_object_new_string(session_state_name(st)));
            json_object_object_add(p, "events",
                                   json_object_new_uint64(session_events_emitted(h->session)));
            (void) varlink_reply(w[i], p, false);
        }
    }
    free(w);
}

void control_session_detach(struct control *ctl, struct session *s) {
    struct hub *h = hub_of(ctl, s), **pp;

    if (!h)
        return;
    hub_end(h);
    for (pp = &ctl->hubs; *pp != h; pp = &(*pp)->next)
        ;
    *pp = h->next;
    pthread_mutex_destroy(&h->lock);
    free(h->buf);
    free(h->ends);
    free(h);
}

/* -------------------------------------------------------------- ad hoc */

static struct adhoc *adhoc_free(struct adhoc *a) {
    struct adhoc **pp;

    if (!a)
        return NULL;
    for (pp = &a->ctl->adhocs; *pp && *pp != a; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = a->next;
    a->notify_es = sd_event_source_disable_unref(a->notify_es);
    if (a->owner) {
        struct client *cl = varlink_conn_get_userdata(a->owner);
        if (cl)
            cl->run = NULL;
    }
    if (a->session) {
        session_request_stop(a->session);
        (void) session_join(a->session);
        log_full(LOG_INFO, 0, &(struct log_context){ .session = a->cs.name },
                 "ad-hoc session ended, %llu events",
                 (unsigned long long) session_events_emitted(a->session));
        control_session_detach(a->ctl, a->session);
        a->session = session_free(a->session);
    }
    config_session_clear(&a->cs);
    free(a);
    return NULL;
}

static int on_adhoc_notify(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct adhoc *a = userdata;
    enum session_state st;
    uint64_t v;

    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return 0;
    st = session_get_state(a->session);
    if (st == SESSION_STOPPED || st == SESSION_FAILED)
        adhoc_free(a);
    return 0;
}

static struct adhoc *find_adhoc(struct control *ctl, const char *name) {
    for (struct adhoc *a = ctl->adhocs; a; a = a->next)
        if (streq(a->cs.name, name))
            return a;
    return NULL;
}

/* ------------------------------------------------------------- helpers */

static json_object *json_strv(const char *const *l) {
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && l && l[i]; i++)
        json_object_array_add(a, json_object_new_string(l[i]));
    return a;
}

static json_object *json_str_or_empty(const char *s) {
    return json_object_new_string(s ? s : "");
}

static json_object *error_lines(const struct errors *errs) {
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && errs->lines && errs->lines[i]; i++)
        json_object_array_add(a, json_object_new_string(errs->lines[i]));
    return a;
}

/* A required string parameter; replies InvalidParameter and returns NULL. */
static const char *param_string(struct varlink_conn *c, json_object *params, const char *key,
                                bool required, bool *ret_replied) {
    json_object *v;
    *ret_replied = false;
    if (!json_object_object_get_ex(params, key, &v) || !v) {
        if (required) {
            (void) varlink_error_invalid_parameter(c, key);
            *ret_replied = true;
        }
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
        (void) varlink_error_invalid_parameter(c, key);
        *ret_replied = true;
        return NULL;
    }
    return json_object_get_string(v);
}

static void reply_no_such_session(struct varlink_conn *c, const char *name) {
    json_object *p = json_object_new_object();
    json_object_object_add(p, "name", json_object_new_string(name));
    (void) varlink_error(c, ERR_NO_SUCH_SESSION, p);
}

/* A session by name: configured (info->session may be NULL) or ad hoc. */
struct found {
    struct daemon_session_info info;
    struct adhoc *adhoc;
};

static bool find_session(struct control *ctl, const char *name, struct found *ret) {
    *ret = (struct found){ 0 };
    if (daemon_session_find(ctl->d, name, &ret->info) >= 0)
        return true;
    ret->adhoc = find_adhoc(ctl, name);
    if (!ret->adhoc)
        return false;
    ret->info = (struct daemon_session_info){
        .name = ret->adhoc->cs.name,
        .cfg = &ret->adhoc->cs,
        .state = session_state_name(session_get_state(ret->adhoc->session)),
        .session = ret->adhoc->session,
    };
    return true;
}

static bool authorized(struct control *ctl, struct varlink_conn *c, const char *method) {
    const struct ucred *u = varlink_conn_peer(c);
    const char *group = daemon_get_config(ctl->d)->control_group;
    json_object *p;

    if (u->uid == 0 || u->uid == geteuid())
        return true;
    if (group) {
        struct group gr, *res = NULL;
        char buf[4096];
        if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) == 0 && res &&
            varlink_conn_peer_in_group(c, res->gr_gid))
            return true;
    }
    p = json_object_new_object();
    json_object_object_add(p, "method", json_object_new_string(method));
    if (group) {
        char reason[256];
        snprintf(reason, sizeof(reason), "%s requires root or membership in group '%s'", method,
                 group);
        json_object_object_add(p, "reason", json_object_new_string(reason));
    } else {
        json_object_object_add(p, "reason",
                               json_object_new_string("this method requires root "
                                                      "(no control-group is configured)"));
    }
    (void) varlink_error(c, ERR_PERMISSION, p);
    return false;
}

/* ----------------------------------------------------------- interfaces */

static const char service_idl[] =
    "# The Varlink Service Interface is provided by every varlink service. It\n"
    "# describes the service and the interfaces it implements.\n"
    "interface org.varlink.service\n"
    "\n"
    "# Get a list of all the interfaces a service provides and information\n"
    "# about the implementation.\n"
    "method GetInfo() -> (\n"
    "  vendor: string,\n"
    "  product: string,\n"
    "  version: string,\n"
    "  url: string,\n"
    "  interfaces: []string\n"
    ")\n"
    "\n"
    "# Get the description of an interface that is implemented by this service.\n"
    "method GetInterfaceDescription(interface: string) -> (description: string)\n"
    "\n"
    "# The requested interface was not found.\n"
    "error InterfaceNotFound (interface: string)\n"
    "\n"
    "# The requested method was not found\n"
    "error MethodNotFound (method: string)\n"
    "\n"
    "# The interface defines the requested method, but the service does not\n"
    "# implement it.\n"
    "error MethodNotImplemented (method: string)\n"
    "\n"
    "# One of the passed parameters is invalid.\n"
    "error InvalidParameter (parameter: string)\n"
    "\n"
    "# Client is denied access\n"
    "error PermissionDenied ()\n"
    "\n"
    "# Method is expected to be called with 'more' set to true, but wasn't\n"
    "error ExpectedMore ()\n";

static const char manager_idl[] =
    "# ophostd, the operator host: its plugins and operators, the configured\n"
    "# and ad-hoc sessions (pipelines), their events and counters.\n"
    "# Read-only methods are open to anyone who can connect; StartSession,\n"
    "# StopSession, Run and Reload need root or the daemon's control-group.\n"
    "interface org.ophost.Manager\n"
    "\n"
    "type Param (\n"
    "  key: string,\n"
    "  type: string,\n"
    "  description: string,\n"
    "  default: ?string,\n"
    "  mandatory: bool,\n"
    "  allowed: ?[]string,\n"
    "  aliases: ?[]string,\n"
    "  min: ?string,\n"
    "  max: ?string\n"
    ")\n"
    "\n"
    "type Plugin (\n"
    "  name: string,\n"
    "  version: string,\n"
    "  description: string,\n"
    "  path: string,\n"
    "  operators: []string\n"
    ")\n"
    "\n"
    "type Operator (\n"
    "  name: string,\n"
    "  description: string,\n"
    "  gadget: bool,\n"
    "  plugin: string,\n"
    "  version: string,\n"
    "  path: string,\n"
    "  priority: int,\n"
    "  dependencies: []string,\n"
    "  global_params: []Param,\n"
    "  instance_params: []Param\n"
    ")\n"
    "\n"
    "# events_in: emitted by the gadget; events_filtered: removed by operators\n"
    "# on purpose (sum of their in - out); events_out: reached the end of the\n"
    "# pipeline; events_dropped: accepted by an operator but not delivered (a\n"
    "# sink's failed write); events_lost: the gadget could not deliver them\n"
    "# (kernel buffers full).\n"
    "type Session (\n"
    "  name: string,\n"
    "  gadget: string,\n"
    "  state: string,\n"
    "  adhoc: bool,\n"
    "  autostart: bool,\n"
    "  uptime_usec: int,\n"
    "  events_in: int,\n"
    "  events_out: int,\n"
    "  events_filtered: int,\n"
    "  events_dropped: int,\n"
    "  events_lost: int,\n"
    "  watchers: int\n"
    ")\n"
    "\n"
    "type Field (name: string, type: string, owner: string)\n"
    "\n"
    "type DataSource (name: string, fields: []Field)\n"
    "\n"
    "type Step (name: string, plugin: string, params: [string]string)\n"
    "\n"
    "type OperatorStats (\n"
    "  name: string,\n"
    "  events_in: int,\n"
    "  events_out: int,\n"
    "  filtered: int,\n"
    "  dropped: int,\n"
    "  batches: int,\n"
    "  ns_spent: int,\n"
    "  opted_out: bool\n"
    ")\n"
    "\n"
    "type SessionStats (\n"
    "  name: string,\n"
    "  state: string,\n"
    "  events_emitted: int,\n"
    "  events_lost: int,\n"
    "  watchers: int,\n"
    "  watch_dropped: int,\n"
    "  operators: []OperatorStats\n"
    ")\n"
    "\n"
    "type RunOperator (name: string, params: ?[string]string)\n"
    "\n"
    "method ListPlugins() -> (plugins: []Plugin)\n"
    "\n"
    "method ListOperators() -> (operators: []Operator)\n"
    "\n"
    "method ListSessions() -> (sessions: []Session)\n"
    "\n"
    "# The resolved operator order with each operator's params (given or\n"
    "# default) and, while it runs, the schema of its data sources.\n"
    "method DescribeSession(name: string) -> (\n"
    "  name: string,\n"
    "  gadget: string,\n"
    "  state: string,\n"
    "  adhoc: bool,\n"
    "  file: ?string,\n"
    "  autostart: bool,\n"
    "  order: []Step,\n"
    "  datasources: []DataSource,\n"
    "  problems: ?[]string\n"
    ")\n"
    "\n"
    "method StartSession(name: string) -> (name: string, state: string)\n"
    "\n"
    "method StopSession(name: string) -> (name: string, state: string)\n"
    "\n"
    "# Runs an ad-hoc session (needs \"more\": true). The first reply names it\n"
    "# and its order; then one reply per event; a reply with only 'dropped'\n"
    "# when this client read too slowly and missed that many events; the last\n"
    "# reply has ended, state and events (or the error SessionFailed). The\n"
    "# session ends when the gadget completes or the connection closes.\n"
    "method Run(\n"
    "  gadget: string,\n"
    "  params: ?[string]string,\n"
    "  operators: ?[]RunOperator,\n"
    "  duration: ?string,\n"
    "  name: ?string\n"
    ") -> (\n"
    "  session: ?string,\n"
    "  order: ?[]string,\n"
    "  event: ?object,\n"
    "  dropped: ?int,\n"
    "  ended: ?bool,\n"
    "  state: ?string,\n"
    "  events: ?int\n"
    ")\n"
    "\n"
    "# Streams the events of a running session (needs \"more\": true), replies\n"
    "# as for Run; the first reply carries the data sources.\n"
    "method Watch(name: string) -> (\n"
    "  session: ?string,\n"
    "  datasources: ?[]DataSource,\n"
    "  event: ?object,\n"
    "  dropped: ?int,\n"
    "  ended: ?bool,\n"
    "  state: ?string,\n"
    "  events: ?int\n"
    ")\n"
    "\n"
    "# Counters of every running session, or of the one named.\n"
    "method Stats(name: ?string) -> (sessions: []SessionStats)\n"
    "\n"
    "# Re-reads the daemon config and the pipeline files (like SIGHUP).\n"
    "method Reload() -> ()\n"
    "\n"
    "error NoSuchSession (name: string)\n"
    "\n"
    "error SessionNotRunning (name: string, state: string)\n"
    "\n"
    "error SessionFailed (name: string, error: string)\n"
    "\n"
    "error InvalidPipeline (errors: []string)\n"
    "\n"
    "error ReloadFailed (errors: []string)\n"
    "\n"
    "error PermissionDenied (method: string, reason: string)\n"
    "\n"
    "error InvalidRequest (reason: string)\n"
    "\n"
    "error RequestTooLarge (reason: string)\n";

/* -------------------------------------------------------------- methods */

static void m_get_info(struct control *ctl, struct varlink_conn *c, json_object *params) {
    const char *const ifaces[] = { "org.varlink.service", IFACE, NULL };
    json_object *p = json_object_new_object();
    json_object_object_add(p, "vendor", json_object_new_string("ophost"));
    json_object_object_add(p, "product", json_object_new_string("ophostd"));
    json_object_object_add(p, "version", json_object_new_string(OPHOST_VERSION));
    json_object_object_add(p, "url", json_object_new_string(""));
    json_object_object_add(p, "interfaces", json_strv(ifaces));
    (void) varlink_reply(c, p, false);
}

static void m_get_interface_description(struct control *ctl, struct varlink_conn *c,
                                        json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "interface", true, &replied);
    json_object *p;

    if (!name)
        return;
    p = json_object_new_object();
    if (streq(name, IFACE) || streq(name, "org.varlink.service")) {
        json_object_object_add(p, "description",
                               json_object_new_string(streq(name, IFACE) ? manager_idl
                                                                         : service_idl));
        (void) varlink_reply(c, p, false);
    } else {
        json_object_object_add(p, "interface", json_object_new_string(name));
        (void) varlink_error(c, "org.varlink.service.InterfaceNotFound", p);
    }
}

static void m_list_plugins(struct control *ctl, struct varlink_conn *c, json_object *params) {
    size_t n;
    struct plugin *const *plugins = registry_plugins(daemon_registry(ctl->d), &n);
    json_object *p = json_object_new_object(), *a = json_object_new_array();

    for (size_t i = 0; i < n; i++) {
        const struct plugin *pl = plugins[i];
        json_object *o = json_object_new_object(), *ops = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(pl->desc->name));
        json_object_object_add(o, "version", json_str_or_empty(pl->desc->version));
        json_object_object_add(o, "description", json_str_or_empty(pl->desc->description));
        json_object_object_add(o, "path", json_object_new_string(pl->path));
        for (size_t k = 0; k < pl->n_operators; k++)
            json_object_array_add(ops, json_object_new_string(pl->operators[k].name));
        json_object_object_add(o, "operators", ops);
        json_object_array_add(a, o);
    }
    json_object_object_add(p, "plugins", a);
    (void) varlink_reply(c, p, false);
}

static void m_list_operators(struct control *ctl, struct varlink_conn *c, json_object *params) {
    size_t n;
    struct operator_entry *const *entries = registry_entries(daemon_registry(ctl->d), &n);
    json_object *p = json_object_new_object(), *a = json_object_new_array();

    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, inspect_operator_json(entries[i]->op, entries[i]->plugin));
    json_object_object_add(p, "operators", a);
    (void) varlink_reply(c, p, false);
}

/* Events in (emitted), filtered out by operators, out (reached the end),
 * and dropped (accepted by an operator, not delivered: host->dropped). */
static void session_counts(struct session *s, uint64_t *ret_in, uint64_t *ret_filtered,
                           uint64_t *ret_out, uint64_t *ret_dropped) {
    struct instance_stats st[64];
    size_t n = session_instance_stats(s, st, ELEMENTSOF(st));
    uint64_t in = session_events_emitted(s), filtered = 0, dropped = 0;

    for (size_t i = 0; i < n; i++) {
        if (st[i].events_in > st[i].events_out)
            filtered += st[i].events_in - st[i].events_out;
        dropped += st[i].dropped;
    }
    *ret_in = in;
    *ret_filtered = filtered;
    *ret_out = in > filtered ? in - filtered : 0;
    *ret_dropped = dropped;
}

static json_object *session_summary(struct control *ctl, const struct daemon_session_info *info,
                                    bool adhoc) {
    json_object *o = json_object_new_object();
    uint64_t in = 0, filtered = 0, out = 0, dropped = 0, lost = 0, uptime = 0;
    struct hub *h = info->session ? hub_of(ctl, info->session) : NULL;

    if (info->session) {
        session_counts(info->session, &in, &filtered, &out, &dropped);
        lost = session_events_lost(info->session);
    }
    if (h)
        uptime = monotonic_usec() - h->started_usec;
    json_object_object_add(o, "name", json_object_new_string(info->name));
    json_object_object_add(o, "gadget", json_object_new_string(info->cfg->gadget));
    json_object_object_add(o, "state", json_object_new_string(info->state));
    json_object_object_add(o, "adhoc", json_object_new_boolean(adhoc));
    json_object_object_add(o, "autostart", json_object_new_boolean(info->cfg->autostart));
    json_object_object_add(o, "uptime_usec", json_object_new_uint64(uptime));
    json_object_object_add(o, "events_in", json_object_new_uint64(in));
    json_object_object_add(o, "events_out", json_object_new_uint64(out));
    json_object_object_add(o, "events_filtered", json_object_new_uint64(filtered));
    json_object_object_add(o, "events_dropped", json_object_new_uint64(dropped));
    json_object_object_add(o, "events_lost", json_object_new_uint64(lost));
    json_object_object_add(o, "watchers",
                           json_object_new_int(h ? (int) atomic_load(&h->n_watching) : 0));
    return o;
}

static void m_list_sessions(struct control *ctl, struct varlink_conn *c, json_object *params) {
    json_object *p = json_object_new_object(), *a = json_object_new_array();
    struct daemon_session_info info;

    for (size_t i = 0; daemon_session_at(ctl->d, i, &info) >= 0; i++)
        json_object_array_add(a, session_summary(ctl, &info, false));
    for (struct adhoc *ad = ctl->adhocs; ad; ad = ad->next) {
        struct found f;
        if (find_session(ctl, ad->cs.name, &f) && f.adhoc)
            json_object_array_add(a, session_summary(ctl, &f.info, true));
    }
    json_object_object_add(p, "sessions", a);
    (void) varlink_reply(c, p, false);
}

/* The instance params of step as text: given values, else defaults. */
static json_object *step_params(const struct config_session *cs, const struct operator_entry *e) {
    const struct config_operator *co = config_session_operator(cs, e->op->name);
    json_object *o = json_object_new_object();

    for (const struct ophost_param *d = e->op->instance_params; d && d->key; d++) {
        const char *v = d->default_value;
        for (size_t k = 0; co && k < co->n_params; k++) {
            bool match = streq(co->params[k].key, d->key);
            for (size_t a = 0; !match && d->aliases && d->aliases[a]; a++)
                match = streq(co->params[k].key, d->aliases[a]);
            if (match)
                v = co->params[k].value;
        }
        if (v)
            json_object_object_add(o, d->key, json_object_new_string(v));
    }
    return o;
}

static json_object *json_datasources(struct session *s) {
    json_object *a = json_object_new_array();
    size_t n = 0;
    struct ophost_datasource *const *ds = s ? session_datasources(s, &n) : NULL;

    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object(), *fields = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(ds[i]->name));
        for (size_t k = 0; k < ds[i]->n_fields; k++) {
            json_object *f = json_object_new_object();
            const char *t = field_type_name(ds[i]->fields[k].type);
            json_object_object_add(f, "name", json_object_new_string(ds[i]->fields[k].name));
            json_object_object_add(f, "type", json_object_new_string(t ? t : "unknown"));
            json_object_object_add(f, "owner", json_str_or_empty(ds[i]->fields[k].owner));
            json_object_array_add(fields, f);
        }
        json_object_object_add(o, "fields", fields);
        json_object_array_add(a, o);
    }
    return a;
}

static bool session_has_schema(struct session *s) {
    enum session_state st;
    if (!s)
        return false;
    st = session_get_state(s);
    return st == SESSION_RUNNING || st == SESSION_STOPPING;
}

static void m_describe_session(struct control *ctl, struct varlink_conn *c, json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "name", true, &replied);
    struct plan *own_plan = NULL;
    const struct plan *plan;
    struct errors errs = { 0 };
    json_object *p, *order;
    struct found f;

    if (!name)
        return;
    if (!find_session(ctl, name, &f)) {
        reply_no_such_session(c, name);
        return;
    }
    p = json_object_new_object();
    json_object_object_add(p, "name", json_object_new_string(f.info.name));
    json_object_object_add(p, "gadget", json_object_new_string(f.info.cfg->gadget));
    json_object_object_add(p, "state", json_object_new_string(f.info.state));
    json_object_object_add(p, "adhoc", json_object_new_boolean(f.adhoc != NULL));
    if (!f.adhoc)
        if (f.info.cfg->file) /* ad-hoc sessions come from no file */
            json_object_object_add(p, "file", json_object_new_string(f.info.cfg->file));
    json_object_object_add(p, "autostart", json_object_new_boolean(f.info.cfg->autostart));
    if (f.info.session) {
        plan = session_plan(f.info.session);
    } else {
        /* Not running: plan it now to show what it would run. */
        if (plan_build(daemon_registry(ctl->d), f.info.cfg, &own_plan, &errs) < 0)
            own_plan = plan_free(own_plan);
        plan = own_plan;
    }
    order = json_object_new_array();
    for (size_t i = 0; plan && i < plan->n_steps; i++) {
        const struct operator_entry *e = plan->steps[i].entry;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(e->op->name));
        json_object_object_add(o, "plugin", json_object_new_string(e->plugin->desc->name));
        json_object_object_add(o, "params", step_params(f.info.cfg, e));
        json_object_array_add(order, o);
    }
    json_object_object_add(p, "order", order);
    json_object_object_add(p, "datasources", json_datasources(session_has_schema(f.info.session)
                                                                  ? f.info.session
                                                                  : NULL));
    if (errs.n > 0)
        json_object_object_add(p, "problems", error_lines(&errs));
    plan_free(own_plan);
    errors_clear(&errs);
    (void) varlink_reply(c, p, false);
}

static void reply_session_state(struct control *ctl, struct varlink_conn *c, const char *name) {
    struct found f;
    json_object *p = json_object_new_object();
    json_object_object_add(p, "name", json_object_new_string(name));
    json_object_object_add(p, "state", json_object_new_string(find_session(ctl, name, &f)
                                                                  ? f.info.state
                                                                  : "inactive"));
    (void) varlink_reply(c, p, false);
}

static void m_start_session(struct control *ctl, struct varlink_conn *c, json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "name", true, &replied);
    _cleanup_free_ char *err = NULL;
    struct daemon_session_info info;
    int r;

    if (!name)
        return;
    if (daemon_session_find(ctl->d, name, &info) < 0) {
        reply_no_such_session(c, name);
        return;
    }
    r = daemon_start_session(ctl->d, name, &err);
    if (r < 0) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(name));
        json_object_object_add(p, "error", json_object_new_string(err ? err : strerror(-r)));
        (void) varlink_error(c, ERR_SESSION_FAILED, p);
        return;
    }
    reply_session_state(ctl, c, name);
}

static void m_stop_session(struct control *ctl, struct varlink_conn *c, json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "name", true, &replied);
    struct adhoc *a;

    if (!name)
        return;
    if ((a = find_adhoc(ctl, name))) {
        adhoc_free(a);
        reply_session_state(ctl, c, name);
        return;
    }
    if (daemon_stop_session(ctl->d, name) < 0) {
        reply_no_such_session(c, name);
        return;
    }
    reply_session_state(ctl, c, name);
}

static bool require_more(struct varlink_conn *c, const struct varlink_call *call) {
    if (call->more)
        return true;
    (void) varlink_error(c, "org.varlink.service.ExpectedMore", NULL);
    return false;
}

static void m_watch(struct control *ctl, struct varlink_conn *c, const struct varlink_call *call) {
    bool replied;
    const char *name = param_string(c, call->parameters, "name", true, &replied);
    struct client *cl;
    struct found f;
    struct hub *h;
    json_object *p;

    if (!name || !require_more(c, call))
        return;
    if (!find_session(ctl, name, &f)) {
        reply_no_such_session(c, name);
        return;
    }
    h = f.info.session ? hub_of(ctl, f.info.session) : NULL;
    if (!h || !session_has_schema(f.info.session)) {
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(name));
        json_object_object_add(p, "state", json_object_new_string(f.info.state));
        (void) varlink_error(c, ERR_NOT_RUNNING, p);
        return;
    }
    cl = client_of(c);
    if (!cl) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    p = json_object_new_object();
    json_object_object_add(p, "session", json_object_new_string(name));
    json_object_object_add(p, "datasources", json_datasources(f.info.session));
    (void) varlink_reply(c, p, true);
    if (hub_add_watcher(h, c) < 0) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    cl->watching = h;
}

/* A param value from JSON: strings as they are, numbers and booleans as
 * their text. NULL for anything else. */
static char *param_value_text(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_string:
        return strdup(json_object_get_string(v));
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    default:
        return NULL;
    }
}

/* Appends an operator with params (a JSON object or NULL) to cs; on a bad
 * value writes the offending parameter path into bad. */
static int cs_add_operator(struct config_session *cs, const char *name, json_object *params,
                           char *bad, size_t bad_len, const char *where) {
    struct config_operator *ops, *co;
    size_t n;

    if (params && !json_object_is_type(params, json_type_object)) {
        snprintf(bad, bad_len, "%s.params", where);
        return -EINVAL;
    }
    /* Named twice (e.g. the gadget in "params" and in "operators"): one
     * operator with the params of both. */
    co = (struct config_operator *) config_session_operator(cs, name);
    if (!co) {
        ops = realloc(cs->operators, (cs->n_operators + 1) * sizeof(*ops));
        if (!ops)
            return -ENOMEM;
        cs->operators = ops;
        co = &ops[cs->n_operators++];
        *co = (struct config_operator){ 0 }; /* no position: not from a file */
        co->name = strdup(name);
        if (!co->name)
            return -ENOMEM;
    }
    n = params ? json_object_object_length(params) : 0;
    {
        struct config_param *cp = realloc(co->params, (co->n_params + n + 1) * sizeof(*cp));
        if (!cp)
            return -ENOMEM;
        co->params = cp;
        memset(cp + co->n_params, 0, (n + 1) * sizeof(*cp));
    }
    if (!params)
        return 0;
    json_object_object_foreach(params, key, val) {
        struct config_param *cp = &co->params[co->n_params];
        cp->value = param_value_text(val);
        if (!cp->value) {
            snprintf(bad, bad_len, "%s.params.%s", where, key);
            return -EINVAL;
        }
        cp->key = strdup(key);
        cp->pos = co->pos;
        co->n_params++;
        if (!cp->key)
            return -ENOMEM;
    }
    return 0;
}

/* Builds the session the Run request describes. -EINVAL with the bad
 * parameter's name in bad. */
static int build_run_session(struct control *ctl, json_object *params, struct config_session *cs,
                             char *bad, size_t bad_len) {
    json_object *gadget, *v, *ops;
    const char *name = NULL;
    int r;

    if (!json_object_object_get_ex(params, "gadget", &gadget) ||
        !json_object_is_type(gadget, json_type_string) || !json_object_get_string_len(gadget)) {
        snprintf(bad, bad_len, "gadget");
        return -EINVAL;
    }
    if (json_object_object_get_ex(params, "name", &v) && v) {
        if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v)) {
            snprintf(bad, bad_len, "name");
            return -EINVAL;
        }
        name = json_object_get_string(v);
        if (!config_session_name_is_valid(name)) {
            snprintf(bad, bad_len, "name");
            return -EINVAL;
        }
    }
    cs->name = name ? strdup(name) : strprintf("run-%u", ++ctl->next_run);
    cs->gadget = strdup(json_object_get_string(gadget));
    if (!cs->name || !cs->gadget)
        return -ENOMEM;
    /* cs->file and the positions stay empty: error lines then carry no
     * "FILE:LINE:COL: " prefix (config_pos_prefix). */
    cs->autostart = true;
    if (json_object_object_get_ex(params, "duration", &v) && v) {
        if (!json_object_is_type(v, json_type_string) ||
            parse_duration(json_object_get_string(v), &cs->duration_nsec) < 0) {
            snprintf(bad, bad_len, "duration");
            return -EINVAL;
        }
    }
    if (json_object_object_get_ex(params, "params", &v) && v &&
        (!json_object_is_type(v, json_type_object) || json_object_object_length(v) > 0)) {
        r = cs_add_operator(cs, cs->gadget, v, bad, bad_len, "");
        if (r < 0) {
            if (r == -EINVAL && bad[0] == '.')
                memmove(bad, bad + 1, strlen(bad));
            return r;
        }
    }
    if (json_object_object_get_ex(params, "operators", &ops) && ops) {
        if (!json_object_is_type(ops, json_type_array)) {
            snprintf(bad, bad_len, "operators");
            return -EINVAL;
        }
        for (size_t i = 0; i < json_object_array_length(ops); i++) {
            json_object *o = json_object_array_get_idx(ops, i), *n = NULL, *pp = NULL;
            char where[32];
            snprintf(where, sizeof(where), "operators[%zu]", i);
            if (json_object_is_type(o, json_type_string)) {
                n = o;
            } else if (json_object_is_type(o, json_type_object)) {
                (void) json_object_object_get_ex(o, "name", &n);
                (void) json_object_object_get_ex(o, "params", &pp);
            }
            if (!n || !json_object_is_type(n, json_type_string) ||
                !json_object_get_string_len(n)) {
                snprintf(bad, bad_len, "%s.name", where);
                return -EINVAL;
            }
            r = cs_add_operator(cs, json_object_get_string(n), pp, bad, bad_len, where);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static void m_run(struct control *ctl, struct varlink_conn *c, const struct varlink_call *call) {
    struct config_session cs = { 0 };
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    struct adhoc *a = NULL;
    struct client *cl;
    struct hub *h;
    json_object *p, *order;
    char bad[128] = "";
    struct daemon_session_info info;
    int r;

    if (!require_more(c, call))
        return;
    cl = client_of(c);
    if (!cl || cl->run) {
        /* One call at a time per connection: cannot happen, but be safe. */
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    r = build_run_session(ctl, call->parameters, &cs, bad, sizeof(bad));
    if (r == -EINVAL) {
        (void) varlink_error_invalid_parameter(c, bad);
        goto out;
    }
    if (r < 0) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        goto out;
    }
    if (daemon_session_find(ctl->d, cs.name, &info) >= 0 || find_adhoc(ctl, cs.name)) {
        p = json_object_new_object();
        json_object *e = json_object_new_array();
        char line[256];
        snprintf(line, sizeof(line), "a session named '%s' exists already", cs.name);
        json_object_array_add(e, json_object_new_string(line));
        json_object_object_add(p, "errors", e);
        (void) varlink_error(c, ERR_INVALID_PIPELINE, p);
        goto out;
    }
    r = plan_build(daemon_registry(ctl->d), &cs, &plan, &errs);
    if (r < 0) {
        p = json_object_new_object();
        json_object_object_add(p, "errors", error_lines(&errs));
        (void) varlink_error(c, ERR_INVALID_PIPELINE, p);
        goto out;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        plan_free(plan);
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        goto out;
    }
    a->ctl = ctl;
    a->cs = cs;
    cs = (struct config_session){ 0 };
    order = json_object_new_array();
    for (size_t i = 0; i < plan->n_steps; i++)
        json_object_array_add(order, json_object_new_string(plan->steps[i].entry->op->name));
    a->session = session_new(plan);
    if (!a->session) {
        json_object_put(order);
        adhoc_free(a);
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        goto out;
    }
    a->next = ctl->adhocs;
    ctl->adhocs = a;
    control_session_attach(ctl, a->session);
    h = hub_of(ctl, a->session);
    a->owner = c;
    cl->run = a;

    p = json_object_new_object();
    json_object_object_add(p, "session", json_object_new_string(a->cs.name));
    json_object_object_add(p, "order", order);
    (void) varlink_reply(c, p, true);
    if (h && hub_add_watcher(h, c) >= 0)
        cl->watching = h;

    r = sd_event_add_io(ctl->loop, &a->notify_es, session_notify_fd(a->session), EPOLLIN,
                        on_adhoc_notify, a);
    if (r >= 0)
        r = session_start(a->session);
    if (r < 0) {
        log_full(LOG_ERR, r, &(struct log_context){ .session = a->cs.name },
                 "cannot start the ad-hoc session: %m");
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(a->cs.name));
        json_object_object_add(p, "error", json_object_new_string(strerror(-r)));
        if (cl->watching)
            hub_remove_watcher(cl->watching, c);
        cl->watching = NULL;
        adhoc_free(a);
        (void) varlink_error(c, ERR_SESSION_FAILED, p);
        goto out;
    }
    log_full(LOG_INFO, 0, &(struct log_context){ .session = a->cs.name },
             "ad-hoc session started for uid %u", (unsigned) varlink_conn_peer(c)->uid);
out:
    config_session_clear(&cs);
    errors_clear(&errs);
}

static void m_stats(struct control *ctl, struct varlink_conn *c, json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "name", false, &replied);
    struct daemon_session_info info;
    struct found f;
    json_object *p, *a;

    if (replied)
        return;
    if (name && !find_session(ctl, name, &f)) {
        reply_no_such_session(c, name);
        return;
    }
    p = json_object_new_object();
    a = json_object_new_array();
    for (struct hub *h = ctl->hubs; h; h = h->next) {
        struct instance_stats st[64];
        size_t n = session_instance_stats(h->session, st, ELEMENTSOF(st));
        json_object *o, *ops;
        if (name && !streq(name, session_name(h->session)))
            continue;
        /* Only sessions that still exist for the daemon or as ad hoc. */
        if (daemon_session_find(ctl->d, session_name(h->session), &info) < 0 &&
            !find_adhoc(ctl, session_name(h->session)))
            continue;
        o = json_object_new_object();
        ops = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(session_name(h->session)));
        json_object_object_add(o, "state", json_object_new_string(session_state_name(
                                               session_get_state(h->session))));
        json_object_object_add(o, "events_emitted",
                               json_object_new_uint64(session_events_emitted(h->session)));
        json_object_object_add(o, "events_lost",
                               json_object_new_uint64(session_events_lost(h->session)));
        json_object_object_add(o, "watchers", json_object_new_int((int) atomic_load(&h->n_watching)));
        json_object_object_add(o, "watch_dropped",
                               json_object_new_uint64(atomic_load(&h->watch_dropped)));
        /* The gadget processes nothing: its output is what it emitted. */
        if (n > 0)
            st[0].events_out = session_events_emitted(h->session);
        for (size_t i = 0; i < n; i++) {
            json_object *op = json_object_new_object();
            json_object_object_add(op, "name", json_object_new_string(st[i].operator_name));
            json_object_object_add(op, "events_in", json_object_new_uint64(st[i].events_in));
            json_object_object_add(op, "events_out", json_object_new_uint64(st[i].events_out));
            json_object_object_add(op, "filtered",
                                   json_object_new_uint64(st[i].events_in > st[i].events_out
                                                              ? st[i].events_in - st[i].events_out
                                                              : 0));
            json_object_object_add(op, "dropped", json_object_new_uint64(st[i].dropped));
            json_object_object_add(op, "batches", json_object_new_uint64(st[i].batches));
            json_object_object_add(op, "ns_spent", json_object_new_uint64(st[i].ns_spent));
            json_object_object_add(op, "opted_out", json_object_new_boolean(st[i].opted_out));
            json_object_array_add(ops, op);
        }
        json_object_object_add(o, "operators", ops);
        json_object_array_add(a, o);
    }
    json_object_object_add(p, "sessions", a);
    (void) varlink_reply(c, p, false);
}

static void m_reload(struct control *ctl, struct varlink_conn *c, json_object *params) {
    struct errors errs = { 0 };
    int r = daemon_reload(ctl->d, &errs);
    json_object *p;

    if (r >= 0) {
        (void) varlink_reply(c, NULL, false);
    } else {
        p = json_object_new_object();
        if (errs.n == 0)
            errors_add(&errs, "reload failed: %s", strerror(-r));
        json_object_object_add(p, "errors", error_lines(&errs));
        (void) varlink_error(c, ERR_RELOAD_FAILED, p);
    }
    errors_clear(&errs);
}

/* ------------------------------------------------------------ dispatch */

enum {
    M_MUTATING = 1 << 0,
};

typedef void (*simple_fn)(struct control *ctl, struct varlink_conn *c, json_object *params);
typedef void (*call_fn)(struct control *ctl, struct varlink_conn *c,
                        const struct varlink_call *call);

static const struct method {
    const char *name;
    simple_fn simple;
    call_fn call;
    unsigned flags;
} methods[] = {
    { "org.varlink.service.GetInfo", m_get_info, NULL, 0 },
    { "org.varlink.service.GetInterfaceDescription", m_get_interface_description, NULL, 0 },
    { IFACE ".ListPlugins", m_list_plugins, NULL, 0 },
    { IFACE ".ListOperators", m_list_operators, NULL, 0 },
    { IFACE ".ListSessions", m_list_sessions, NULL, 0 },
    { IFACE ".DescribeSession", m_describe_session, NULL, 0 },
    { IFACE ".StartSession", m_start_session, NULL, M_MUTATING },
    { IFACE ".StopSession", m_stop_session, NULL, M_MUTATING },
    { IFACE ".Run", NULL, m_run, M_MUTATING },
    { IFACE ".Watch", NULL, m_watch, 0 },
    { IFACE ".Stats", m_stats, NULL, 0 },
    { IFACE ".Reload", m_reload, NULL, M_MUTATING },
};

static void on_call(struct varlink_conn *c, const struct varlink_call *call, void *userdata) {
    struct control *ctl = userdata;
    const char *dot = strrchr(call->method, '.');
    char iface[256];
    json_object *p;

    for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
        const struct method *m = &methods[i];
        if (!streq(m->name, call->method))
            continue;
        if ((m->flags & M_MUTATING) && !authorized(ctl, c, call->method))
            return;
        if (m->simple)
            m->simple(ctl, c, call->parameters);
        else
            m->call(ctl, c, call);
        return;
    }
    /* An unknown method of one of our interfaces, or an unknown interface. */
    snprintf(iface, sizeof(iface), "%.*s", dot ? (int) (dot - call->method) : 0, call->method);
    p = json_object_new_object();
    if (streq(iface, IFACE) || streq(iface, "org.varlink.service")) {
        json_object_object_add(p, "method", json_object_new_string(call->method));
        (void) varlink_error(c, "org.varlink.service.MethodNotFound", p);
    } else {
        json_object_object_add(p, "interface", json_object_new_string(iface));
        (void) varlink_error(c, "org.varlink.service.InterfaceNotFound", p);
    }
}

static void on_disconnect(struct varlink_conn *c, void *userdata) {
    struct client *cl = varlink_conn_get_userdata(c);

    if (!cl)
        return;
    if (cl->watching)
        hub_remove_watcher(cl->watching, c);
    cl->watching = NULL;
    if (cl->run) {
        cl->run->owner = NULL;
        adhoc_free(cl->run);
    }
    varlink_conn_set_userdata(c, NULL);
    free(cl);
}

/* ------------------------------------------------------------ lifetime */

int control_new(struct daemon *d, sd_event *loop, const struct daemon_config *cfg,
                struct control **ret) {
    struct control *ctl = calloc(1, sizeof(*ctl));
    _cleanup_free_ char *err = NULL;
    gid_t gid = (gid_t) -1;
    int r;

    if (!ctl)
        return log_error_errno(-ENOMEM, "cannot set up the control socket: %m");
    ctl->d = d;
    ctl->loop = loop;
    if (cfg->control_group) {
        struct group gr, *res = NULL;
        char buf[4096];
        if (getgrnam_r(cfg->control_group, &gr, buf, sizeof(buf), &res) == 0 && res)
            gid = res->gr_gid;
        else
            log_warning("control-group '%s' does not exist, the control socket stays root-only",
                        cfg->control_group);
    }
    r = varlink_server_new(loop, cfg->control_socket, gid, on_call, on_disconnect, ctl, &ctl->srv,
                           &err);
    if (r < 0) {
        free(ctl);
        return log_error_errno(r, "%s", err ? err : "cannot set up the control socket");
    }
    log_info("control socket %s%s", varlink_server_activated(ctl->srv) ? "(from systemd) " : "",
             cfg->control_socket);
    *ret = ctl;
    return 0;
}

struct control *control_free(struct control *ctl) {
    if (!ctl)
        return NULL;
    while (ctl->adhocs)
        adhoc_free(ctl->adhocs);
    ctl->srv = varlink_server_free(ctl->srv);
    while (ctl->hubs) /* sessions the daemon forgot to detach: none expected */
        control_session_detach(ctl, ctl->hubs->session);
    free(ctl);
    return NULL;
}

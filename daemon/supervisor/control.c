/*
 * control.c — the org.ophost.Manager varlink interface of ophostd (the
 * interface text is in idl.c).
 *
 * Calls run on the main loop. Read-only methods (List*, DescribeSession,
 * Stats, Watch) are open to anyone who can connect to the socket; the
 * mutating ones (StartSession, StopSession, Run, Reload, Unquarantine) need
 * uid 0, the daemon's own uid, or membership in the configured control group.
 *
 * Session calls whose outcome takes time (start, stop, reload) are answered
 * when the daemon reports it; a client that goes away before is simply not
 * answered.
 *
 * Event streaming: every session's worker gets a hub. Its workers serialise
 * events only while the hub has watchers (worker_set_watchers); each
 * message the worker sends is appended to every watcher's bounded buffer
 * (varlink.c), which drops and counts what does not fit; events the worker
 * itself could not send are told to every watcher as dropped too.
 *
 * Run: an ad-hoc session built from the request (never written to disk),
 * owned by the calling connection; it ends when the gadget completes or the
 * connection closes.
 */
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>

#include "config.h"
#include "daemon.h"
#include "inspect.h"
#include "log.h"
#include "plan.h"
#include "plugins.h"
#include "probe.h"
#include "registry.h"
#include "run-request.h"
#include "varlink.h"
#include "worker.h"

#define IFACE "org.ophost.Manager"
#define ERR_NO_SUCH_SESSION IFACE ".NoSuchSession"
#define ERR_NO_SUCH_PLUGIN IFACE ".NoSuchPlugin"
#define ERR_NOT_RUNNING IFACE ".SessionNotRunning"
#define ERR_PERMISSION IFACE ".PermissionDenied"
#define ERR_INVALID_PIPELINE IFACE ".InvalidPipeline"
#define ERR_SESSION_FAILED IFACE ".SessionFailed"
#define ERR_RELOAD_FAILED IFACE ".ReloadFailed"
/* DescribeGadget dry runs (one worker each) at once, for all clients. */
#define DRY_RUNS_MAX 8

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

struct hub;
struct adhoc;
struct dry;

/* What a connection is doing beyond single calls. */
struct client {
    struct hub *watching;  /* a Watch or Run call streams this hub */
    struct adhoc *run;     /* the ad-hoc session this connection owns */
};

/* The watchers of one worker. */
struct hub {
    struct control *ctl;
    struct hub *next;
    struct worker *worker;
    struct varlink_conn **watchers;
    size_t n_watchers, watchers_cap;
    uint64_t watch_dropped;  /* events watchers missed */
    uint32_t *ends;          /* scratch: message ends of one events message */
    size_t ends_cap;
};

struct adhoc {
    struct control *ctl;
    struct adhoc *next;
    struct config_session cs; /* owned: what the request asked for */
    struct worker *worker;
    struct varlink_conn *owner;
    bool schema_sent;         /* the owner got the data sources */
};

/* A call answered when the daemon reports the outcome. */
enum pending_kind { PENDING_START, PENDING_STOP, PENDING_RELOAD };

struct pending {
    struct control *ctl;
    struct pending *prev, *next;
    struct varlink_conn *conn;  /* NULL once the client went away */
    enum pending_kind kind;
    char *name;
};

struct control {
    struct daemon *d;
    sd_event *loop;
    struct varlink_server *srv;
    struct hub *hubs;
    struct adhoc *adhocs;
    struct pending *pendings;
    struct dry *dries;
    unsigned next_run;
};

/* A DescribeGadget call: the dry run of its plan, answered when it ends. */
struct dry {
    struct control *ctl;
    struct dry *next;
    struct varlink_conn *conn;  /* NULL once the client went away */
    struct config_session cs;
    struct plan *plan;
    struct probe *probe;
    json_object *gadget;        /* the gadget's operator (inspect_operator_json) */
    json_object *order;
};

/* ---------------------------------------------------------------- hubs */

static struct hub *hub_of(struct control *ctl, const struct worker *w) {
    for (struct hub *h = ctl ? ctl->hubs : NULL; h; h = h->next)
        if (h->worker == w)
            return h;
    return NULL;
}

static struct hub *hub_new(struct control *ctl, struct worker *w) {
    struct hub *h = calloc(1, sizeof(*h));
    if (!h) {
        log_full(LOG_WARNING, -ENOMEM, &(struct log_context){ .session = worker_name(w) },
                 "cannot watch the session: %m, ophostctl watch will not see it");
        return NULL;
    }
    h->ctl = ctl;
    h->worker = w;
    h->next = ctl->hubs;
    ctl->hubs = h;
    return h;
}

static int hub_add_watcher(struct hub *h, struct varlink_conn *c) {
    if (h->n_watchers == h->watchers_cap) {
        size_t cap = h->watchers_cap ? h->watchers_cap * 2 : 4;
        struct varlink_conn **w = realloc(h->watchers, cap * sizeof(*w));
        if (!w)
            return -ENOMEM;
        h->watchers = w;
        h->watchers_cap = cap;
    }
    h->watchers[h->n_watchers++] = c;
    if (h->n_watchers == 1)
        worker_set_watchers(h->worker, 1);
    return 0;
}

static void hub_remove_watcher(struct hub *h, struct varlink_conn *c) {
    for (size_t i = 0; i < h->n_watchers; i++)
        if (h->watchers[i] == c) {
            h->watchers[i] = h->watchers[--h->n_watchers];
            break;
        }
    if (h->n_watchers == 0)
        worker_set_watchers(h->worker, 0);
}

/* Events from the worker: to every watcher. */
static void hub_events(struct hub *h, const char *data, size_t len, uint64_t dropped) {
    size_t n = 0, missed = 0;

    for (size_t off = 0; off < len;) {
        const char *nul = memchr(data + off, '\0', len - off);
        if (!nul)
            break; /* a worker sends complete messages only */
        if (n == h->ends_cap) {
            size_t cap = h->ends_cap ? h->ends_cap * 2 : 256;
            uint32_t *e = realloc(h->ends, cap * sizeof(*e));
            if (!e)
                return;
            h->ends = e;
            h->ends_cap = cap;
        }
        off = (size_t) (nul - data) + 1;
        h->ends[n++] = (uint32_t) off;
    }
    for (size_t i = 0; i < h->n_watchers; i++) {
        if (dropped > 0)
            varlink_conn_stream_note_dropped(h->watchers[i], dropped);
        missed += varlink_conn_stream_append(h->watchers[i], data, h->ends, n) + dropped;
    }
    h->watch_dropped += missed;
}

/* The end of a watched session: each watcher gets its final reply. */
static void hub_end(struct hub *h) {
    struct worker *w = h->worker;
    enum worker_state st = worker_get_state(w);

    for (size_t i = 0; i < h->n_watchers; i++) {
        struct client *cl = varlink_conn_get_userdata(h->watchers[i]);
        json_object *p = json_object_new_object();
        if (cl)
            cl->watching = NULL;
        if (st == WORKER_FAILED) {
            json_object_object_add(p, "name", json_object_new_string(worker_name(w)));
            json_object_object_add(p, "error", json_object_new_string(
                                                   worker_error(w) ? worker_error(w) : "failed"));
            (void) varlink_error(h->watchers[i], ERR_SESSION_FAILED, p);
        } else {
            json_object_object_add(p, "ended", json_object_new_boolean(true));
            json_object_object_add(p, "state", json_object_new_string(worker_state_name(st)));
            json_object_object_add(p, "events", json_object_new_uint64(worker_events_emitted(w)));
            (void) varlink_reply(h->watchers[i], p, false);
        }
    }
    h->n_watchers = 0;
}

static void hub_free(struct control *ctl, struct hub *h) {
    struct hub **pp;
    if (!h)
        return;
    hub_end(h);
    for (pp = &ctl->hubs; *pp != h; pp = &(*pp)->next)
        ;
    *pp = h->next;
    free(h->watchers);
    free(h->ends);
    free(h);
}

/* The daemon's workers (configured sessions). */
static void obs_started(struct worker *w, void *userdata) {
    (void) hub_new(userdata, w);
}

static void obs_events(struct worker *w, const char *data, size_t len, uint64_t dropped,
                       void *userdata) {
    struct hub *h = hub_of(userdata, w);
    if (h)
        hub_events(h, data, len, dropped);
}

static void obs_ended(struct worker *w, void *userdata) {
    struct control *ctl = userdata;
    hub_free(ctl, hub_of(ctl, w));
}

static const struct daemon_observer observer = {
    .worker_started = obs_started,
    .worker_events = obs_events,
    .worker_ended = obs_ended,
};

/* ------------------------------------------------------------ pending */

static struct pending *pending_new(struct control *ctl, struct varlink_conn *c,
                                   enum pending_kind kind, const char *name) {
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->name = name ? strdup(name) : NULL;
    if (name && !p->name) {
        free(p);
        return NULL;
    }
    p->ctl = ctl;
    p->conn = c;
    p->kind = kind;
    p->next = ctl->pendings;
    if (ctl->pendings)
        ctl->pendings->prev = p;
    ctl->pendings = p;
    return p;
}

static void pending_free(struct pending *p) {
    if (p->prev)
        p->prev->next = p->next;
    else
        p->ctl->pendings = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p->name);
    free(p);
}

/* ----------------------------------------------------------------- dry */

static void dry_free(struct dry *d) {
    struct dry **pp;
    if (!d)
        return;
    for (pp = &d->ctl->dries; *pp && *pp != d; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = d->next;
    probe_free(d->probe);
    plan_free(d->plan);
    config_session_clear(&d->cs);
    json_object_put(d->gadget);
    json_object_put(d->order);
    free(d);
}

static void dry_done(struct probe *p, void *userdata) {
    struct dry *d = userdata;
    const struct errors *errs = probe_errors(p, 0);
    json_object *o = json_object_new_object(), *ds = probe_datasources(p, 0);

    if (!d->conn) {
        json_object_put(o);
    } else if (errs->n > 0 || !ds) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; errs->lines && errs->lines[i]; i++)
            json_object_array_add(a, json_object_new_string(errs->lines[i]));
        if (json_object_array_length(a) == 0)
            json_object_array_add(a, json_object_new_string("the dry run reported no schema"));
        json_object_object_add(o, "errors", a);
        (void) varlink_error(d->conn, ERR_INVALID_PIPELINE, o);
    } else {
        json_object_object_add(o, "gadget", json_object_get(d->gadget));
        json_object_object_add(o, "order", json_object_get(d->order));
        json_object_object_add(o, "datasources", json_object_get(ds));
        (void) varlink_reply(d->conn, o, false);
    }
    dry_free(d);
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
    if (a->owner) {
        struct client *cl = varlink_conn_get_userdata(a->owner);
        if (cl)
            cl->run = NULL;
    }
    if (a->worker) {
        hub_free(a->ctl, hub_of(a->ctl, a->worker));
        a->worker = worker_free(a->worker);
    }
    config_session_clear(&a->cs);
    free(a);
    return NULL;
}

static void adhoc_state(struct worker *w, void *userdata) {
    struct adhoc *a = userdata;
    struct control *ctl = a->ctl;

    if (!a->schema_sent && a->owner && worker_datasources(w)) {
        /* Before its first event: the worker sends "running" first. */
        struct client *cl = varlink_conn_get_userdata(a->owner);
        if (cl && cl->watching) {
            json_object *p = json_object_new_object();
            json_object_object_add(p, "datasources", json_object_get(worker_datasources(w)));
            (void) varlink_reply(a->owner, p, true);
        }
        a->schema_sent = true;
    }
    if (!worker_ended(w))
        return;
    if (worker_get_state(w) == WORKER_FAILED) {
        log_full(LOG_ERR, 0, &(struct log_context){ .session = a->cs.name }, "failed: %s",
                 worker_error(w));
        daemon_record_fault(ctl->d, w);
    } else
        log_full(LOG_INFO, 0, &(struct log_context){ .session = a->cs.name },
                 "ad-hoc session ended, %llu events",
                 (unsigned long long) worker_events_emitted(w));
    /* Stop calls waiting for it. */
    for (struct pending *p = ctl->pendings, *next; p; p = next) {
        next = p->next;
        if (p->kind != PENDING_STOP || !streq_ptr(p->name, a->cs.name))
            continue;
        if (p->conn) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(a->cs.name));
            json_object_object_add(o, "state", json_object_new_string("stopped"));
            (void) varlink_reply(p->conn, o, false);
        }
        pending_free(p);
    }
    adhoc_free(a);
    daemon_adhoc_changed(ctl->d);
}

static void adhoc_events(struct worker *w, const char *data, size_t len, uint64_t dropped,
                         void *userdata) {
    struct adhoc *a = userdata;
    struct hub *h = hub_of(a->ctl, w);
    if (h)
        hub_events(h, data, len, dropped);
}

static const struct worker_ops adhoc_ops = {
    .state_changed = adhoc_state,
    .events = adhoc_events,
};

static struct adhoc *find_adhoc(struct control *ctl, const char *name) {
    for (struct adhoc *a = ctl->adhocs; a; a = a->next)
        if (streq(a->cs.name, name))
            return a;
    return NULL;
}

void control_start(struct control *ctl) {
    if (ctl)
        varlink_server_accept(ctl->srv);
}

struct control_counts control_connection_counts(struct control *c) {
    if (!c || !c->srv)
        return (struct control_counts){ 0 };
    return (struct control_counts){
        .open = varlink_server_connections(c->srv),
        .accepted = varlink_server_accepted(c->srv),
        .refused = varlink_server_refused(c->srv),
    };
}

size_t control_adhoc_sessions(struct control *ctl) {
    size_t n = 0;
    for (struct adhoc *a = ctl ? ctl->adhocs : NULL; a; a = a->next)
        n++;
    return n;
}

bool control_has_workers(struct control *ctl) {
    return ctl && ctl->adhocs;
}

void control_stop_workers(struct control *ctl) {
    for (struct adhoc *a = ctl ? ctl->adhocs : NULL; a; a = a->next)
        worker_stop(a->worker);
}

/* ------------------------------------------------------------- helpers */

static struct client *client_of(struct varlink_conn *c) {
    struct client *cl = varlink_conn_get_userdata(c);
    if (!cl) {
        cl = calloc(1, sizeof(*cl));
        if (cl)
            varlink_conn_set_userdata(c, cl);
    }
    return cl;
}

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

/* Why a name from a request (a session, a plugin) cannot be one, or NULL:
 * "sa\u0000x" is not "sa", and control characters would forge log lines. */
static const char *name_text_problem(const char *s, size_t len) {
    if (len == 0)
        return "is empty";
    if (len > 256)
        return "is longer than 256 bytes";
    if (strlen(s) != len)
        return "contains a NUL character";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return "contains a control character";
    return NULL;
}

/* A string parameter; replies InvalidParameter and returns NULL when it is
 * required and missing, or not a valid name. */
static const char *param_string(struct varlink_conn *c, json_object *params, const char *key,
                                bool required, bool *ret_replied) {
    const char *problem;
    json_object *v;

    *ret_replied = false;
    if (!json_object_object_get_ex(params, key, &v) || !v) {
        if (required) {
            (void) varlink_error_invalid_parameter(c, key, "is required");
            *ret_replied = true;
        }
        return NULL;
    }
    problem = !json_object_is_type(v, json_type_string)
                      ? "is not a string"
                      : name_text_problem(json_object_get_string(v),
                                          (size_t) json_object_get_string_len(v));
    if (problem) {
        (void) varlink_error_invalid_parameter(c, key, problem);
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

/* A session by name: configured (info->worker may be NULL) or ad hoc. */
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
        .state = worker_state_name(worker_get_state(ret->adhoc->worker)),
        .worker = ret->adhoc->worker,
        .error = worker_error(ret->adhoc->worker),
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
        snprintf(reason, sizeof(reason),
                 "%s requires root or membership in group '%s' (control-group in the daemon "
                 "config)", method, group);
        json_object_object_add(p, "reason", json_object_new_string(reason));
    } else {
        json_object_object_add(p, "reason",
                               json_object_new_string("this method requires root; set "
                                                      "control-group in the daemon config to "
                                                      "let a group's members call it too"));
    }
    (void) varlink_error(c, ERR_PERMISSION, p);
    return false;
}

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
                               json_object_new_string(streq(name, IFACE) ? control_manager_idl
                                                                         : control_service_idl));
        (void) varlink_reply(c, p, false);
    } else {
        json_object_object_add(p, "interface", json_object_new_string(name));
        (void) varlink_error(c, "org.varlink.service.InterfaceNotFound", p);
    }
}

/* Which version of the file it is: its inode and modification time. */
static void add_identity(json_object *o, const struct file_identity *id) {
    json_object_object_add(o, "inode", json_object_new_uint64((uint64_t) id->ino));
    json_object_object_add(o, "mtime_usec", json_object_new_int64(id->mtime_nsec / 1000));
}

static json_object *plugin_json(const struct plugin *pl, const char *state, const char *reason) {
    json_object *o = json_object_new_object(), *ops = json_object_new_array();
    json_object_object_add(o, "name", json_str_or_empty(pl && pl->desc ? pl->desc->name : NULL));
    json_object_object_add(o, "version",
                           json_str_or_empty(pl && pl->desc ? pl->desc->version : NULL));
    json_object_object_add(o, "description",
                           json_str_or_empty(pl && pl->desc ? pl->desc->description : NULL));
    for (size_t k = 0; pl && k < pl->n_operators; k++)
        json_object_array_add(ops, json_object_new_string(pl->operators[k].name));
    json_object_object_add(o, "operators", ops);
    json_object_object_add(o, "state", json_object_new_string(state));
    if (reason)
        json_object_object_add(o, "reason", json_object_new_string(reason));
    return o;
}

static void m_list_plugins(struct control *ctl, struct varlink_conn *c, json_object *params) {
    size_t n, n_refused;
    struct plugin *const *plugins = registry_plugins(daemon_registry(ctl->d), &n);
    const struct refusal *refused = plugin_dirs_refusals(daemon_plugin_dirs(ctl->d), &n_refused);
    json_object *p = json_object_new_object(), *a = json_object_new_array();

    for (size_t i = 0; i < n; i++) {
        const struct plugin *pl = plugins[i];
        json_object *o = plugin_json(pl, pl->faults.quarantined ? "quarantined" : "loaded",
                                     pl->faults.quarantined ? pl->faults.reason : NULL);
        json_object_object_add(o, "path", json_object_new_string(pl->path));
        add_identity(o, &pl->id);
        json_object_array_add(a, o);
    }
    for (size_t i = 0; i < n_refused; i++) {
        json_object *o = plugin_json(NULL, "refused", refused[i].reason);
        json_object_object_add(o, "path", json_object_new_string(refused[i].path));
        add_identity(o, &refused[i].id);
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
static void session_counts(const struct worker *w, uint64_t *ret_in, uint64_t *ret_filtered,
                           uint64_t *ret_out, uint64_t *ret_dropped) {
    struct instance_counters st[64];
    size_t n = worker_counters(w, st, ELEMENTSOF(st));
    uint64_t in = worker_events_emitted(w), filtered = 0, dropped = 0;

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

static void add_failure(json_object *o, const struct daemon_session_info *info) {
    if (info->error)
        json_object_object_add(o, "error", json_object_new_string(info->error));
    json_object_object_add(o, "restarts", json_object_new_int64(info->restarts));
    if (info->next_retry_usec) {
        uint64_t now = monotonic_usec();
        json_object_object_add(o, "next_retry_usec",
                               json_object_new_uint64(info->next_retry_usec > now
                                                          ? info->next_retry_usec - now
                                                          : 0));
    }
}

static json_object *session_summary(struct control *ctl, const struct daemon_session_info *info,
                                    bool adhoc) {
    json_object *o = json_object_new_object();
    uint64_t in = 0, filtered = 0, out = 0, dropped = 0, lost = 0, uptime = 0;
    struct hub *h = info->worker ? hub_of(ctl, info->worker) : NULL;

    if (info->worker) {
        session_counts(info->worker, &in, &filtered, &out, &dropped);
        lost = worker_events_lost(info->worker);
        if (worker_started_usec(info->worker))
            uptime = monotonic_usec() - worker_started_usec(info->worker);
    }
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
    json_object_object_add(o, "watchers", json_object_new_int(h ? (int) h->n_watchers : 0));
    add_failure(o, info);
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

static json_object *limits_json(const struct config_limits *l) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "memory_max", json_object_new_uint64(l->memory_max));
    json_object_object_add(o, "tasks_max", json_object_new_uint64(l->tasks_max));
    json_object_object_add(o, "cpu_weight", json_object_new_uint64(l->cpu_weight));
    json_object_object_add(o, "process_deadline_usec",
                           json_object_new_uint64(l->process_deadline_nsec / 1000));
    json_object_object_add(o, "callback_deadline_usec",
                           json_object_new_uint64(l->callback_deadline_nsec / 1000));
    return o;
}

static bool has_schema(const struct worker *w) {
    return w && worker_datasources(w) &&
           (worker_get_state(w) == WORKER_RUNNING || worker_get_state(w) == WORKER_STOPPING);
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
    if (!f.adhoc && f.info.cfg->file) /* ad-hoc sessions come from no file */
        json_object_object_add(p, "file", json_object_new_string(f.info.cfg->file));
    json_object_object_add(p, "autostart", json_object_new_boolean(f.info.cfg->autostart));
    if (f.info.worker) {
        plan = worker_plan(f.info.worker);
    } else {
        /* Not running: plan it now to show what it would run. */
        if (plan_build(daemon_registry(ctl->d), f.info.cfg, NULL, &own_plan, &errs) < 0)
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
    json_object_object_add(p, "datasources",
                           has_schema(f.info.worker)
                               ? json_object_get(worker_datasources(f.info.worker))
                               : json_object_new_array());
    if (errs.n > 0)
        json_object_object_add(p, "problems", error_lines(&errs));
    add_failure(p, &f.info);
    json_object_object_add(p, "limits", limits_json(&f.info.cfg->limits));
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

/* The outcome of a start, stop or reload. */
static void on_done(int r, const char *error, const struct errors *errs, void *userdata) {
    struct pending *pd = userdata;
    struct control *ctl = pd->ctl;
    json_object *p;

    if (pd->conn) {
        if (r >= 0 && pd->kind == PENDING_RELOAD)
            (void) varlink_reply(pd->conn, NULL, false);
        else if (r >= 0)
            reply_session_state(ctl, pd->conn, pd->name);
        else if (pd->kind == PENDING_RELOAD) {
            struct errors none = { 0 };
            p = json_object_new_object();
            if (!errs || errs->n == 0)
                errors_add(&none, "reload failed: %s", error ? error : strerror(-r));
            json_object_object_add(p, "errors", error_lines(errs && errs->n > 0 ? errs : &none));
            errors_clear(&none);
            (void) varlink_error(pd->conn, ERR_RELOAD_FAILED, p);
        } else {
            p = json_object_new_object();
            json_object_object_add(p, "name", json_object_new_string(pd->name));
            json_object_object_add(p, "error", json_object_new_string(error ? error
                                                                             : strerror(-r)));
            (void) varlink_error(pd->conn, ERR_SESSION_FAILED, p);
        }
    }
    pending_free(pd);
}

static void m_start_session(struct control *ctl, struct varlink_conn *c, json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "name", true, &replied);
    struct pending *pd;

    if (!name)
        return;
    if (find_adhoc(ctl, name)) {
        reply_session_state(ctl, c, name); /* an ad-hoc session runs already */
        return;
    }
    pd = pending_new(ctl, c, PENDING_START, name);
    if (!pd) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    if (daemon_start_session(ctl->d, name, on_done, pd) < 0) {
        pending_free(pd);
        reply_no_such_session(c, name);
    }
}

static void m_stop_session(struct control *ctl, struct varlink_conn *c, json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "name", true, &replied);
    struct pending *pd;
    struct adhoc *a;

    if (!name)
        return;
    pd = pending_new(ctl, c, PENDING_STOP, name);
    if (!pd) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    if ((a = find_adhoc(ctl, name))) {
        worker_stop(a->worker); /* answered in adhoc_state */
        return;
    }
    if (daemon_stop_session(ctl->d, name, on_done, pd) < 0) {
        pending_free(pd);
        reply_no_such_session(c, name);
    }
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
    h = f.info.worker ? hub_of(ctl, f.info.worker) : NULL;
    if (!h || !has_schema(f.info.worker)) {
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
    json_object_object_add(p, "datasources", json_object_get(worker_datasources(f.info.worker)));
    (void) varlink_reply(c, p, true);
    if (hub_add_watcher(h, c) < 0) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    cl->watching = h;
}

static void m_run(struct control *ctl, struct varlink_conn *c, const struct varlink_call *call) {
    struct config_session cs = { 0 };
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    struct adhoc *a = NULL;
    struct daemon_session_info info;
    struct plan_hooks hooks = daemon_plan_hooks(ctl->d);
    _cleanup_free_ char *err = NULL;
    struct client *cl;
    struct hub *h;
    json_object *p, *order;
    char bad[128] = "";
    int r;

    if (!require_more(c, call))
        return;
    cl = client_of(c);
    if (!cl || cl->run) {
        /* One call at a time per connection: cannot happen, but be safe. */
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    if (daemon_stopping(ctl->d)) {
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string("run"));
        json_object_object_add(p, "error", json_object_new_string("the daemon is stopping"));
        (void) varlink_error(c, ERR_SESSION_FAILED, p);
        return;
    }
    r = run_request_parse(call->parameters, &ctl->next_run, &cs, bad, sizeof(bad));
    if (r == -EINVAL) {
        (void) varlink_error_invalid_parameter(c, bad, NULL);
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
    r = plan_build(daemon_registry(ctl->d), &cs, &hooks, &plan, &errs);
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
    r = worker_start(ctl->loop, plan, &a->cs, daemon_worker_env(ctl->d), 1, &adhoc_ops, a,
                     &a->worker, &err);
    if (r < 0) {
        log_full(LOG_ERR, r, &(struct log_context){ .session = a->cs.name },
                 "cannot start the ad-hoc session: %s", err ? err : strerror(-r));
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(a->cs.name));
        json_object_object_add(p, "error", json_object_new_string(err ? err : strerror(-r)));
        json_object_put(order);
        adhoc_free(a);
        (void) varlink_error(c, ERR_SESSION_FAILED, p);
        goto out;
    }
    a->next = ctl->adhocs;
    ctl->adhocs = a;
    a->owner = c;
    cl->run = a;
    h = hub_new(ctl, a->worker);
    p = json_object_new_object();
    json_object_object_add(p, "session", json_object_new_string(a->cs.name));
    json_object_object_add(p, "order", order);
    (void) varlink_reply(c, p, true);
    if (h && hub_add_watcher(h, c) >= 0)
        cl->watching = h;
    log_full(LOG_INFO, 0, &(struct log_context){ .session = a->cs.name },
             "ad-hoc session started for uid %u", (unsigned) varlink_conn_peer(c)->uid);
    daemon_adhoc_changed(ctl->d);
out:
    config_session_clear(&cs);
    errors_clear(&errs);
}

static void m_describe_gadget(struct control *ctl, struct varlink_conn *c,
                              json_object *params) {
    struct plan_hooks hooks = daemon_plan_hooks(ctl->d);
    struct errors errs = { 0 };
    struct operator_entry *e;
    struct dry *d;
    json_object *p;
    unsigned unused = 0;
    char bad[128] = "";
    int r;

    /* Anyone may ask: bound the processes that costs. */
    for (struct dry *o = ctl->dries; o; o = o->next)
        unused++;
    if (unused >= DRY_RUNS_MAX) {
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string("DescribeGadget"));
        json_object_object_add(p, "error", json_object_new_string(
                                               "too many gadget descriptions at once, try again"));
        (void) varlink_error(c, ERR_SESSION_FAILED, p);
        return;
    }
    unused = 0;
    d = calloc(1, sizeof(*d));
    if (!d) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        return;
    }
    d->ctl = ctl;
    d->next = ctl->dries;
    ctl->dries = d;
    /* The session is never run: its name only labels the dry run's errors. */
    r = run_request_parse(params, &unused, &d->cs, bad, sizeof(bad));
    if (r == -EINVAL) {
        (void) varlink_error_invalid_parameter(c, bad, NULL);
        goto fail;
    }
    if (r < 0) {
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
        goto fail;
    }
    free(d->cs.name);
    d->cs.name = strprintf("%s (dry run)", d->cs.gadget);
    e = registry_find(daemon_registry(ctl->d), d->cs.gadget);
    if (e && !(e->op->flags & OPHOST_OPERATOR_GADGET)) {
        (void) errors_add(&errs, "operator '%s' is not a gadget (ophostctl list gadgets)",
                          d->cs.gadget);
        r = -EINVAL;
    } else
        r = d->cs.name ? plan_build(daemon_registry(ctl->d), &d->cs, &hooks, &d->plan, &errs)
                       : -ENOMEM;
    if (r < 0) {
        p = json_object_new_object();
        json_object_object_add(p, "errors", error_lines(&errs));
        (void) varlink_error(c, ERR_INVALID_PIPELINE, p);
        goto fail;
    }
    d->gadget = inspect_operator_json(d->plan->steps[0].entry->op, d->plan->steps[0].entry->plugin);
    d->order = json_object_new_array();
    for (size_t i = 0; i < d->plan->n_steps; i++)
        json_object_array_add(d->order,
                              json_object_new_string(d->plan->steps[i].entry->op->name));
    d->conn = c;
    r = probe_check(ctl->loop, &d->plan, (const struct config_session *const[]){ &d->cs }, 1,
                    daemon_worker_env(ctl->d), dry_done, d, &d->probe);
    if (r < 0) {
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(d->cs.gadget));
        json_object_object_add(p, "error", json_object_new_string(strerror(-r)));
        (void) varlink_error(c, ERR_SESSION_FAILED, p);
        goto fail;
    }
    errors_clear(&errs);
    return;
fail:
    errors_clear(&errs);
    dry_free(d);
}

static json_object *session_stats(struct control *ctl, const char *name, struct worker *w) {
    struct instance_counters st[64];
    size_t n = worker_counters(w, st, ELEMENTSOF(st));
    struct hub *h = hub_of(ctl, w);
    json_object *o = json_object_new_object(), *ops = json_object_new_array();

    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "state",
                           json_object_new_string(worker_state_name(worker_get_state(w))));
    json_object_object_add(o, "events_emitted", json_object_new_uint64(worker_events_emitted(w)));
    json_object_object_add(o, "events_lost", json_object_new_uint64(worker_events_lost(w)));
    json_object_object_add(o, "watchers", json_object_new_int(h ? (int) h->n_watchers : 0));
    json_object_object_add(o, "watch_dropped", json_object_new_uint64(h ? h->watch_dropped : 0));
    /* The gadget processes nothing: its output is what it emitted. */
    if (n > 0)
        st[0].events_out = worker_events_emitted(w);
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
    return o;
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
    for (size_t i = 0; daemon_session_at(ctl->d, i, &info) >= 0; i++)
        if (info.worker && (!name || streq(name, info.name)))
            json_object_array_add(a, session_stats(ctl, info.name, info.worker));
    for (struct adhoc *ad = ctl->adhocs; ad; ad = ad->next)
        if (!name || streq(name, ad->cs.name))
            json_object_array_add(a, session_stats(ctl, ad->cs.name, ad->worker));
    json_object_object_add(p, "sessions", a);
    (void) varlink_reply(c, p, false);
}

static void m_reload(struct control *ctl, struct varlink_conn *c, json_object *params) {
    struct pending *pd = pending_new(ctl, c, PENDING_RELOAD, NULL);

    if (!pd || daemon_reload(ctl->d, on_done, pd) < 0) {
        if (pd)
            pending_free(pd);
        (void) varlink_error(c, VARLINK_ERROR_INVALID_REQUEST, NULL);
    }
}

static void m_unquarantine(struct control *ctl, struct varlink_conn *c, json_object *params) {
    bool replied;
    const char *name = param_string(c, params, "plugin", true, &replied);
    json_object *p;

    if (!name)
        return;
    if (daemon_unquarantine(ctl->d, name) < 0) {
        p = json_object_new_object();
        json_object_object_add(p, "plugin", json_object_new_string(name));
        (void) varlink_error(c, ERR_NO_SUCH_PLUGIN, p);
        return;
    }
    (void) varlink_reply(c, NULL, false);
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
    { IFACE ".DescribeGadget", m_describe_gadget, NULL, 0 },
    { IFACE ".Run", NULL, m_run, M_MUTATING },
    { IFACE ".Watch", NULL, m_watch, 0 },
    { IFACE ".Stats", m_stats, NULL, 0 },
    { IFACE ".Reload", m_reload, NULL, M_MUTATING },
    { IFACE ".Unquarantine", m_unquarantine, NULL, M_MUTATING },
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
    struct control *ctl = userdata;
    struct client *cl = varlink_conn_get_userdata(c);

    for (struct pending *p = ctl->pendings; p; p = p->next)
        if (p->conn == c)
            p->conn = NULL; /* the outcome has nobody to go to */
    for (struct dry *d = ctl->dries; d; d = d->next)
        if (d->conn == c)
            d->conn = NULL;
    if (!cl)
        return;
    if (cl->watching)
        hub_remove_watcher(cl->watching, c);
    cl->watching = NULL;
    if (cl->run) {
        /* Its session ends: stop it, and free it once its worker is gone. */
        cl->run->owner = NULL;
        worker_stop(cl->run->worker);
    }
    varlink_conn_set_userdata(c, NULL);
    free(cl);
}

/* ------------------------------------------------------------ lifetime */

int control_new(struct daemon *d, sd_event *loop, const struct daemon_config *cfg,
                struct control **ret) {
    struct varlink_limits limits = { .max_connections = cfg->control_max_connections,
                                     .idle_timeout_usec = cfg->control_idle_timeout_nsec / 1000 };
    struct control *ctl = calloc(1, sizeof(*ctl));
    _cleanup_free_ char *err = NULL;
    int r;

    if (!ctl)
        return log_error_errno(-ENOMEM, "cannot set up the control socket: %m");
    ctl->d = d;
    ctl->loop = loop;
    if (cfg->control_group) {
        struct group gr, *res = NULL;
        char buf[4096];
        if (getgrnam_r(cfg->control_group, &gr, buf, sizeof(buf), &res) != 0 || !res)
            log_warning("control-group '%s' does not exist: only root may start, stop, run "
                        "and reload", cfg->control_group);
    }
    r = varlink_server_new(loop, cfg->control_socket, &limits, on_call, on_disconnect, ctl,
                           &ctl->srv, &err);
    if (r < 0) {
        free(ctl);
        return log_error_errno(r, "%s", err ? err : "cannot set up the control socket");
    }
    log_info("control socket %s%s", varlink_server_activated(ctl->srv) ? "(from systemd) " : "",
             cfg->control_socket);
    daemon_set_observer(d, &observer, ctl);
    *ret = ctl;
    return 0;
}

struct control *control_free(struct control *ctl) {
    if (!ctl)
        return NULL;
    daemon_set_observer(ctl->d, NULL, NULL);
    while (ctl->adhocs)
        adhoc_free(ctl->adhocs);
    while (ctl->pendings)
        pending_free(ctl->pendings);
    while (ctl->dries)
        dry_free(ctl->dries);
    ctl->srv = varlink_server_free(ctl->srv);
    while (ctl->hubs) /* the daemon's workers: it frees them after us */
        hub_free(ctl, ctl->hubs);
    free(ctl);
    return NULL;
}

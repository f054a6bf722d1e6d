/*
 * run.c — the session job of a worker (PROTO_RUN) and the dry run
 * (PROTO_CHECK): load the plan's plugin snapshots, plan the session again
 * on them (init and can_operate_on run here), then run it with today's
 * session engine, or instantiate and destroy it once. See proto.h for the
 * messages.
 *
 * The main thread serves the supervisor's socket (stop, watchers), forwards
 * the session's state changes and sends the events the tap collected and
 * the metrics texts the operators published (publish.h); the session runs
 * on its own thread as in-process sessions always did.
 */
#include <errno.h>
#include <poll.h>
#include <sys/resource.h>
#include <systemd/sd-event.h>

#include "calls.h"
#include "ctx.h"
#include "errors.h"
#include "loader.h"
#include "log.h"
#include "operators.h"
#include "plan.h"
#include "publish.h"
#include "registry.h"
#include "schema.h"
#include "session.h"
#include "tap.h"
#include "jobs.h"

/* How long the end of a session waits for the supervisor to take the
 * events still queued for watchers. */
#define FINAL_FLUSH_USEC (2 * 1000000)

struct job {
    int sock;
    uint32_t type;
    struct config_session cs;
    char *globals_file;
    struct config_operator *globals;
    size_t n_globals;
    char **order;          /* the supervisor's order, NULL-terminated */
    struct registry *reg;
    struct status_page *page;
    uint64_t nofile, memory_rlimit, watchers;
};

static void job_clear(struct job *j) {
    config_session_clear(&j->cs);
    for (size_t i = 0; i < j->n_globals; i++)
        config_operator_clear(&j->globals[i]);
    free(j->globals);
    free(j->globals_file);
    strv_free(j->order);
    if (j->reg) {
        operators_close(j->reg);
        j->reg = registry_free(j->reg);
    }
}

/* Reads PLAN (proto.h) into j; -EBADMSG if malformed. */
static int parse_plan(struct job *j, json_object *req) {
    json_object *session, *order, *globals;
    const char *gf = proto_json_string(req, "globals_file");
    int r;

    if (!json_object_object_get_ex(req, "session", &session) ||
        !json_object_object_get_ex(req, "order", &order) ||
        !json_object_is_type(order, json_type_array) ||
        !json_object_object_get_ex(req, "globals", &globals) ||
        !json_object_is_type(globals, json_type_array) ||
        !proto_json_uint(req, "nofile", &j->nofile) ||
        !proto_json_uint(req, "memory_rlimit", &j->memory_rlimit))
        return -EBADMSG;
    (void) proto_json_uint(req, "watchers", &j->watchers);
    {
        /* Sinks' relative paths (json: {path: x.json}) land in the logs
         * directory. The supervisor created it; if it cannot be entered the
         * worker stays where it was started, and says so. */
        const char *logs = proto_json_string(req, "logs_directory");
        if (logs && chdir(logs) < 0)
            log_warning("cannot enter the logs directory %s (logs-directory): %m; relative "
                        "paths in params resolve against the daemon's working directory", logs);
    }
    r = proto_session_from_json(session, &j->cs);
    if (r < 0)
        return r;
    for (size_t i = 0; i < json_object_array_length(order); i++) {
        json_object *o = json_object_array_get_idx(order, i);
        if (!json_object_is_type(o, json_type_string))
            return -EBADMSG;
        if (strv_extend(&j->order, json_object_get_string(o)) < 0)
            return -ENOMEM;
    }
    j->globals_file = gf ? strdup(gf) : NULL;
    if (gf && !j->globals_file)
        return -ENOMEM;
    j->globals = calloc(json_object_array_length(globals) + 1, sizeof(*j->globals));
    if (!j->globals)
        return -ENOMEM;
    for (size_t i = 0; i < json_object_array_length(globals); i++) {
        r = proto_operator_from_json(json_object_array_get_idx(globals, i), j->globals_file,
                                     &j->globals[i]);
        j->n_globals++;
        if (r < 0)
            return r;
    }
    return 0;
}

/* A size field of /proc/self/status ("VmData", "VmHWM"), in bytes (0 if
 * unknown). */
static uint64_t vm_status(const char *field) {
    _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
    size_t n = strlen(field);
    char line[256];
    unsigned long long kib;

    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':' &&
            sscanf(line + n + 1, "%llu kB", &kib) == 1)
            return (uint64_t) kib * 1024;
    return 0;
}

/* error, prefixed with "memory limit 64M reached: " when the worker used
 * most of the memory-max it applies itself (RLIMIT_DATA: an allocation
 * failed, and the plugin reported that). Caller frees. */
static char *with_memory_note(const struct job *j, const char *error) {
    char size[32];
    if (j->memory_rlimit > 0 && vm_status("VmHWM") >= j->memory_rlimit / 10 * 8)
        return strprintf("memory limit %s reached: %s", format_size(j->memory_rlimit, size),
                         error);
    return strdup(error);
}

/* Loads the snapshots, registers their operators, applies the limits.
 * 0, or a failure already reported to the supervisor (exit status 0). */
static int load_plugins(struct job *j, json_object *req, struct proto_msg *m) {
    json_object *plugins;
    size_t n;

    if (!json_object_object_get_ex(req, "plugins", &plugins) ||
        !json_object_is_type(plugins, json_type_array) ||
        (n = json_object_array_length(plugins)) + 1 != m->n_fds)
        return -EBADMSG;
    j->reg = registry_new();
    if (!j->reg)
        return -ENOMEM;
    registry_set_globals(j->reg, j->globals, j->n_globals);
    for (size_t i = 0; i < n; i++) {
        json_object *path = json_object_array_get_idx(plugins, i);
        _cleanup_free_ char *err = NULL;
        struct plugin *p = NULL;
        int fd = m->fds[i], r;

        m->fds[i] = -1;
        if (!json_object_is_type(path, json_type_string)) {
            close(fd);
            return -EBADMSG;
        }
        r = loader_load_fd(fd, json_object_get_string(path), (unsigned) i, host_table(), &p, &err);
        if (r >= 0) {
            r = registry_add_plugin(j->reg, p, &err);
            plugin_unref(p);
        }
        if (r < 0) {
            job_fail(j->sock, err ? err : strerror(-r), NULL);
            return -ECANCELED;
        }
    }
    /* What the status page calls each operator: its step in the
     * supervisor's order. */
    for (size_t k = 0; j->order && j->order[k]; k++) {
        struct operator_entry *e = registry_find(j->reg, j->order[k]);
        if (e)
            e->call_index = (unsigned) k;
    }
    if (j->nofile > 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && j->nofile <= rl.rlim_max) {
            rl.rlim_cur = j->nofile;
            (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (j->memory_rlimit > 0) {
        /* No cgroup applies memory-max: the data segment may grow by that
         * much beyond what the worker uses with its plugins loaded. */
        struct rlimit rl = { .rlim_cur = vm_status("VmData") + j->memory_rlimit };
        rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_DATA, &rl) < 0)
            log_warning("cannot apply memory-max as RLIMIT_DATA: %m, running without it");
    }
    return 0;
}

/* Plans the session on the loaded plugins (init, can_operate_on) and
 * checks that the order is the supervisor's. 0 with *ret, or the failure
 * already reported. */
static int plan_session(struct job *j, struct plan **ret) {
    struct plan_hooks hooks = operators_plan_hooks(j->reg);
    struct errors errs = { 0 };
    struct plan *plan = NULL;
    bool same;
    int r;

    r = plan_build(j->reg, &j->cs, &hooks, &plan, &errs);
    if (r < 0) {
        job_fail(j->sock, errs.n > 0 && errs.lines ? errs.lines[0] : strerror(-r), &errs);
        errors_clear(&errs);
        return -ECANCELED;
    }
    same = strv_length(j->order) == plan->n_steps;
    for (size_t i = 0; same && i < plan->n_steps; i++)
        same = streq(j->order[i], plan->steps[i].entry->op->name);
    if (!same) {
        plan_free(plan);
        job_fail(j->sock, "the plugins' descriptors differ from what the scanner saw "
                             "(a plugin that answers differently each time it loads)", NULL);
        return -ECANCELED;
    }
    *ret = plan;
    return 0;
}

static int send_state(int sock, const char *state, const char *error) {
    json_object *o = json_object_new_object();
    int r;
    json_object_object_add(o, "state", json_object_new_string(state));
    if (error)
        json_object_object_add(o, "error", json_object_new_string(error));
    r = proto_send_json(sock, PROTO_STATE, o, NULL, 0);
    json_object_put(o);
    return r;
}

/* ------------------------------------------------------------- dry run */

static json_object *datasources_json(struct session *s);

static void keep_schema(struct session *s, void *userdata) {
    json_object **ret = userdata;
    *ret = datasources_json(s);
}

/* The dry run's final state carries the schema it built ("datasources",
 * as in "running"): what `ophostctl run GADGET --help` shows. */
static int check_job(struct job *j) {
    _cleanup_free_ char *err = NULL;
    struct plan *plan = NULL;
    json_object *schema = NULL, *o;
    int r;

    if (plan_session(j, &plan) < 0)
        return 0;
    r = session_check_plan_inspect(plan, keep_schema, &schema, &err);
    plan_free(plan);
    if (r < 0) {
        _cleanup_free_ char *msg = with_memory_note(j, err ? err : strerror(-r));
        json_object_put(schema);
        return job_fail(j->sock, msg ? msg : strerror(-r), NULL);
    }
    o = json_object_new_object();
    json_object_object_add(o, "state", json_object_new_string("stopped"));
    if (schema)
        json_object_object_add(o, "datasources", schema);
    (void) proto_send_json(j->sock, PROTO_STATE, o, NULL, 0);
    json_object_put(o);
    return 0;
}

/* ---------------------------------------------------------- a session */

struct runner {
    struct job *job;
    sd_event *loop;
    struct session *session;
    struct tap *tap;
    struct publish *publish;
    sd_event_source *sock_es;
    bool running_sent;
    bool supervisor_gone;
};

static json_object *datasources_json(struct session *s) {
    json_object *a = json_object_new_array();
    size_t n = 0;
    struct ophost_datasource *const *ds = session_datasources(s, &n);

    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object(), *fields = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(ds[i]->name));
        for (size_t k = 0; k < ds[i]->n_fields; k++) {
            const struct field_def *fd = &ds[i]->fields[k];
            json_object *f = json_object_new_object();
            const char *t = field_type_name(fd->type);
            json_object_object_add(f, "name", json_object_new_string(fd->name));
            json_object_object_add(f, "type", json_object_new_string(t ? t : "unknown"));
            json_object_object_add(f, "owner", json_object_new_string(fd->owner ? fd->owner : ""));
            if (fd->description)
                json_object_object_add(f, "description", json_object_new_string(fd->description));
            if (fd->unit)
                json_object_object_add(f, "unit", json_object_new_string(fd->unit));
            if (fd->width)
                json_object_object_add(f, "width", json_object_new_int((int) fd->width));
            if (fd->hidden)
                json_object_object_add(f, "hidden", json_object_new_boolean(true));
            json_object_array_add(fields, f);
        }
        json_object_object_add(o, "fields", fields);
        if (ds[i]->rounds)
            json_object_object_add(o, "rounds", json_object_new_boolean(true));
        json_object_array_add(a, o);
    }
    return a;
}

/* "running" with the schema, once, before any event: the supervisor and
 * its watchers see the data sources first. */
static void send_running(struct runner *rn) {
    json_object *o;
    if (rn->running_sent || rn->supervisor_gone || !session_started(rn->session))
        return;
    o = json_object_new_object();
    json_object_object_add(o, "state", json_object_new_string("running"));
    json_object_object_add(o, "datasources", datasources_json(rn->session));
    (void) proto_send_json(rn->job->sock, PROTO_STATE, o, NULL, 0);
    json_object_put(o);
    rn->running_sent = true;
}

static void update_sock_events(struct runner *rn) {
    bool pending = tap_pending(rn->tap) || publish_pending(rn->publish);
    (void) sd_event_source_set_io_events(rn->sock_es, EPOLLIN | (pending ? EPOLLOUT : 0));
}

/* Sends what the tap and the metrics slots hold, as far as the socket
 * takes it. */
static void flush_events(struct runner *rn) {
    int r;
    send_running(rn);
    r = publish_flush(rn->publish, rn->job->sock);
    if (r >= 0 || r == -EAGAIN) {
        int t = tap_flush(rn->tap, rn->job->sock);
        r = r < 0 ? r : t;
    }
    if (r < 0 && r != -EAGAIN && !rn->supervisor_gone) {
        rn->supervisor_gone = true;
        session_request_stop(rn->session);
    }
    update_sock_events(rn);
}

static int on_sock(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    static char buf[PROTO_MESSAGE_MAX + sizeof(struct proto_header)];
    struct runner *rn = userdata;
    struct proto_msg m;
    json_object *o;
    uint64_t n;
    int r;

    if (revents & EPOLLOUT)
        flush_events(rn);
    if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return 0;
    r = proto_recv(fd, &m, buf, sizeof(buf));
    if (r == -EAGAIN)
        return 0;
    if (r <= 0) {
        /* The supervisor is gone (or broke the protocol): end quietly. */
        rn->supervisor_gone = true;
        rn->sock_es = sd_event_source_disable_unref(rn->sock_es);
        session_request_stop(rn->session);
        return 0;
    }
    proto_msg_close_fds(&m);
    switch (m.type) {
    case PROTO_STOP:
        session_request_stop(rn->session);
        break;
    case PROTO_WATCH:
        o = proto_parse_json(&m);
        if (o && proto_json_uint(o, "watchers", &n))
            tap_set_watching(rn->tap, n > 0);
        json_object_put(o);
        break;
    default:
        log_warning("worker: unexpected message %u from the supervisor, ignoring", m.type);
    }
    return 0;
}

static int on_outbox_wake(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct runner *rn = userdata;
    uint64_t v;

    if (!rn->supervisor_gone)
        flush_events(rn);
    else if (read(fd, &v, sizeof(v)) < 0) {
        /* Nobody to send to: clear the wake-up so the loop does not spin. */
    }
    return 0;
}

/* Waits (bounded) until the last metrics texts and the events of the
 * ended session went out. */
static void final_flush(struct runner *rn) {
    uint64_t deadline = monotonic_usec() + FINAL_FLUSH_USEC;

    while (!rn->supervisor_gone && (publish_pending(rn->publish) || tap_pending(rn->tap))) {
        struct pollfd p = { .fd = rn->job->sock, .events = POLLOUT };
        uint64_t now = monotonic_usec();
        int r = publish_flush(rn->publish, rn->job->sock);
        if (r >= 0)
            r = tap_flush(rn->tap, rn->job->sock);
        if (r >= 0 && !tap_pending(rn->tap) && !publish_pending(rn->publish))
            return;
        if ((r < 0 && r != -EAGAIN) || now >= deadline)
            return;
        (void) poll(&p, 1, (int) ((deadline - now) / 1000) + 1);
    }
}

static int on_session_notify(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct runner *rn = userdata;
    enum session_state st;
    uint64_t v;
    int r;

    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return 0;
    st = session_get_state(rn->session);
    send_running(rn);
    if (st != SESSION_STOPPED && st != SESSION_FAILED)
        return 0;
    r = session_join(rn->session);
    if (!rn->supervisor_gone) {
        _cleanup_free_ char *msg = NULL;
        final_flush(rn);
        if (r < 0)
            msg = with_memory_note(rn->job, session_error(rn->session)
                                                ? session_error(rn->session)
                                                : strerror(-r));
        (void) send_state(rn->job->sock, r < 0 ? "failed" : "stopped",
                          r < 0 ? (msg ? msg : strerror(-r)) : NULL);
    }
    return sd_event_exit(rn->loop, 0);
}

static int session_job(struct job *j) {
    struct runner rn = { .job = j };
    struct plan *plan = NULL;
    int r;

    if (plan_session(j, &plan) < 0)
        return 0;
    rn.publish = publish_new(plan->n_steps);
    rn.session = session_new(plan, j->page);
    rn.tap = tap_new();
    r = rn.session && rn.tap && rn.publish ? sd_event_new(&rn.loop) : -ENOMEM;
    if (r >= 0)
        r = sd_event_add_io(rn.loop, &rn.sock_es, j->sock, EPOLLIN, on_sock, &rn);
    if (r >= 0)
        r = sd_event_add_io(rn.loop, NULL, session_notify_fd(rn.session), EPOLLIN,
                            on_session_notify, &rn);
    if (r >= 0)
        r = sd_event_add_io(rn.loop, NULL, tap_wake_fd(rn.tap), EPOLLIN, on_outbox_wake, &rn);
    if (r >= 0)
        r = sd_event_add_io(rn.loop, NULL, publish_wake_fd(rn.publish), EPOLLIN, on_outbox_wake,
                            &rn);
    if (r >= 0) {
        tap_set_watching(rn.tap, j->watchers > 0);
        session_set_tap(rn.session, tap_batch, rn.tap);
        session_set_metrics(rn.session, publish_text, rn.publish);
        r = session_start(rn.session);
    }
    if (r >= 0)
        r = sd_event_loop(rn.loop);
    if (r < 0)
        job_fail(j->sock, strerror(-r), NULL);
    rn.session = session_free(rn.session);
    rn.tap = tap_free(rn.tap);
    rn.publish = publish_free(rn.publish);
    sd_event_source_disable_unref(rn.sock_es);
    sd_event_unref(rn.loop);
    return 0;
}

int run_job(int sock, uint32_t type, json_object *req, struct proto_msg *m) {
    struct job j = { .sock = sock, .type = type };
    int r;

    if (m->n_fds == 0) {
        log_error("worker: no status page");
        return 1;
    }
    j.page = job_map_status(m->fds[m->n_fds - 1]);
    m->fds[m->n_fds - 1] = -1;
    if (!j.page) {
        log_error("worker: no status page");
        return 1;
    }
    calls_set_page(j.page);
    r = parse_plan(&j, req);
    if (r >= 0)
        r = load_plugins(&j, req, m);
    if (r == -EBADMSG || r == -ENOMEM) {
        log_error_errno(r, "worker: malformed plan: %m");
        job_clear(&j);
        return 1;
    }
    if (r >= 0)
        r = type == PROTO_CHECK ? check_job(&j) : session_job(&j);
    job_clear(&j);
    return 0;
}

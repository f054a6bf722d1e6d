/* probe.c — scans and dry runs in children (see probe.h). */
#include "probe.h"

#include <errno.h>

#include "child.h"
#include "plugins.h"
#include "registry.h"
#include "descriptor.h"
#include "log.h"
#include "proto.h"
#include "util.h"
#include "worker.h"

enum probe_kind { PROBE_SCAN, PROBE_CHECK };

struct item {
    /* scan */
    struct plugin *plugin;          /* a reference; described when ok */
    char *error;
    int err;                        /* negative errno with error */
    json_object *inspect;           /* the scanner's INSPECT, when asked for */
    /* check */
    struct plan *plan;
    const struct config_session *cs;
    struct errors errors;
    json_object *datasources;       /* the schema the dry run built, when it passed */
    bool answered;
};

/* One child and the items it was given. */
struct job {
    struct probe *probe;
    struct child *child;
    size_t *items;
    size_t n_items;
};

struct probe {
    enum probe_kind kind;
    sd_event *loop;
    int log_level;
    bool inspect;                   /* scan: ask for INSPECT */
    const struct worker_env *env;
    struct item *items;
    size_t n_items;
    size_t *queue;                  /* items waiting for a child of their own */
    size_t n_queue;
    struct job **jobs;              /* running */
    size_t n_jobs;
    size_t n_answered;
    sd_event_source *settle_es;
    probe_done_fn done;
    void *userdata;
    bool finished;
};

static void job_free(struct job *j) {
    if (!j)
        return;
    child_free(j->child);
    free(j->items);
    free(j);
}

static void job_remove(struct probe *p, struct job *j) {
    for (size_t i = 0; i < p->n_jobs; i++)
        if (p->jobs[i] == j) {
            p->jobs[i] = p->jobs[--p->n_jobs];
            break;
        }
    job_free(j);
}

static int start_jobs(struct probe *p);

static void finish_if_done(struct probe *p) {
    if (p->finished || p->n_answered < p->n_items || p->n_jobs > 0)
        return;
    p->finished = true;
    if (p->done)
        p->done(p, p->userdata);
}

/* ---------------------------------------------------------------- scan */

static void scan_answer(struct job *j, json_object *o) {
    struct probe *p = j->probe;
    uint64_t idx;
    json_object *desc, *insp;
    const char *err = proto_json_string(o, "error");
    struct item *it;

    if (!proto_json_uint(o, "index", &idx) || idx >= j->n_items) {
        child_kill(j->child, "answered for a file it was not given");
        return;
    }
    it = &p->items[j->items[idx]];
    if (it->answered)
        return;
    it->answered = true;
    p->n_answered++;
    if (err) {
        uint64_t e = 0;
        it->error = strdup(err);
        it->err = proto_json_uint(o, "errno", &e) && e > 0 && e < 4096 ? -(int) e : -EINVAL;
        return;
    }
    if (!json_object_object_get_ex(o, "plugin", &desc)) {
        it->error = strprintf("%s: the scanner answered neither a descriptor nor an error",
                              it->plugin->path);
        return;
    }
    if (p->inspect && json_object_object_get_ex(o, "inspect", &insp) &&
        json_object_is_type(insp, json_type_object))
        it->inspect = json_object_get(insp);
    it->err = descriptor_from_json(desc, it->plugin, &it->error);
    if (it->err < 0 && !it->error)
        it->error = strprintf("%s: %s", it->plugin->path, strerror(-it->err));
}

/* Why a scanner that died while probing item it refuses it. */
static char *scan_end_text(const struct child_exit *e, const struct item *it) {
    enum call_kind k = CALL_KIND(e->call);
    const char *step = k == CALL_DLOPEN ? "while loading"
                       : k == CALL_ENTRY ? "in its entry function"
                                         : "while the scanner probed it";
    char sig[32], t[32];

    switch (e->how) {
    case CHILD_SIGNALED:
        return strprintf("%s: crashed %s: %s", it->plugin->path, step,
                         signal_name(e->code, sig));
    case CHILD_EXITED:
        return strprintf("%s: exited with status %d %s", it->plugin->path, e->code, step);
    case CHILD_STUCK:
        if (k == CALL_ENTRY)
            return strprintf("%s: entry function did not return within %s", it->plugin->path,
                             format_usec(e->stuck_usec, t));
        return strprintf("%s: loading (its constructors) did not finish within %s",
                         it->plugin->path, format_usec(e->stuck_usec, t));
    case CHILD_KILLED:
        break;
    }
    return strprintf("%s: the scanner was stopped: %s", it->plugin->path,
                     e->kill_reason ? e->kill_reason : "killed");
}

/* ---------------------------------------------------------------- check */

static void check_answer(struct job *j, json_object *o) {
    struct probe *p = j->probe;
    struct item *it = &p->items[j->items[0]];
    const char *state = proto_json_string(o, "state"), *err = proto_json_string(o, "error");
    json_object *lines;
    char at[CONFIG_POS_PREFIX_MAX];

    if (it->answered || !state)
        return;
    it->answered = true;
    p->n_answered++;
    if (streq(state, "stopped")) {
        json_object *ds;
        if (json_object_object_get_ex(o, "datasources", &ds) &&
            json_object_is_type(ds, json_type_array))
            it->datasources = json_object_get(ds);
        return;
    }
    if (json_object_object_get_ex(o, "errors", &lines) &&
        json_object_is_type(lines, json_type_array)) {
        /* The worker's plan: already "FILE:LINE:COL: session 'x': ..." */
        for (size_t i = 0; i < json_object_array_length(lines); i++) {
            json_object *l = json_object_array_get_idx(lines, i);
            if (json_object_is_type(l, json_type_string))
                (void) errors_add(&it->errors, "%s", json_object_get_string(l));
        }
        if (it->errors.n > 0)
            return;
    }
    (void) errors_add(&it->errors, "%ssession '%s': %s", config_pos_prefix(it->cs->pos, at),
                      it->cs->name, err ? err : "the dry run failed");
}

static void check_end(struct job *j, const struct child_exit *e) {
    struct probe *p = j->probe;
    struct item *it = &p->items[j->items[0]];
    _cleanup_free_ char *text = NULL;
    char at[CONFIG_POS_PREFIX_MAX];

    if (it->answered)
        return;
    text = worker_describe_end(it->plan, e, &it->cs->limits);
    it->answered = true;
    p->n_answered++;
    (void) errors_add(&it->errors, "%ssession '%s': %s", config_pos_prefix(it->cs->pos, at),
                      it->cs->name, text ? text : "the dry run ended abnormally");
}

/* ------------------------------------------------------------- children */

static void on_message(struct child *c, struct proto_msg *m, void *userdata) {
    struct job *j = userdata;
    json_object *o;

    if (m->type == PROTO_DONE)
        return;
    o = proto_parse_json(m);
    if (!o || (j->probe->kind == PROBE_SCAN && m->type != PROTO_PLUGIN) ||
        (j->probe->kind == PROBE_CHECK && m->type != PROTO_STATE))
        child_kill(c, "sent an unexpected message");
    else if (j->probe->kind == PROBE_SCAN)
        scan_answer(j, o);
    else
        check_answer(j, o);
    json_object_put(o);
}

static void on_end(struct child *c, void *userdata) {
    struct job *j = userdata;
    struct probe *p = j->probe;
    const struct child_exit *e = child_exit_info(c);
    size_t unanswered = 0, culprit = 0;

    for (size_t i = 0; i < j->n_items; i++)
        if (!p->items[j->items[i]].answered) {
            unanswered++;
            if (unanswered == 1)
                culprit = j->items[i];
        }
    if (p->kind == PROBE_CHECK) {
        check_end(j, e);
    } else if (unanswered == 1 && j->n_items == 1) {
        /* Alone in its scanner: this file is the culprit. */
        struct item *it = &p->items[culprit];
        it->error = scan_end_text(e, it);
        it->err = -EIO;
        it->answered = true;
        p->n_answered++;
    } else if (unanswered > 0) {
        /* Which file did it? Probe each unanswered file on its own. */
        for (size_t i = 0; i < j->n_items; i++)
            if (!p->items[j->items[i]].answered)
                p->queue[p->n_queue++] = j->items[i];
    }
    job_remove(p, j);
    if (start_jobs(p) < 0)
        log_error("cannot start a scanner or dry run: out of memory");
    finish_if_done(p);
}

static int job_start(struct probe *p, const size_t *items, size_t n) {
    _cleanup_free_ char *err = NULL;
    struct child_spec spec = {
        .on_message = on_message,
        .on_end = on_end,
    };
    struct job *j = calloc(1, sizeof(*j)), **m;
    json_object *o = NULL;
    int fds[PROTO_FDS_MAX];
    size_t n_fds = 0;
    char what[300];
    int r;

    if (!j || !(j->items = malloc(n * sizeof(size_t)))) {
        free(j);
        return -ENOMEM;
    }
    m = realloc(p->jobs, (p->n_jobs + 1) * sizeof(*m));
    if (!m) {
        job_free(j);
        return -ENOMEM;
    }
    p->jobs = m;
    memcpy(j->items, items, n * sizeof(size_t));
    j->n_items = n;
    j->probe = p;
    spec.userdata = j;

    if (p->kind == PROBE_SCAN) {
        json_object *files = json_object_new_array();
        spec.what = "scanner";
        spec.deadlines = (struct child_deadlines){ .load_usec = PROBE_LOAD_DEADLINE_USEC };
        o = json_object_new_object();
        for (size_t i = 0; i < n; i++) {
            json_object_array_add(files, json_object_new_string(p->items[items[i]].plugin->path));
            fds[n_fds++] = p->items[items[i]].plugin->fd;
        }
        json_object_object_add(o, "files", files);
        json_object_object_add(o, "log_level", json_object_new_int(p->log_level));
        if (p->inspect)
            json_object_object_add(o, "inspect", json_object_new_boolean(true));
    } else {
        struct item *it = &p->items[items[0]];
        snprintf(what, sizeof(what), "dry run %s", it->cs->name);
        spec.what = what;
        spec.n_counters = it->plan->n_steps;
        spec.limits = &it->cs->limits;
        spec.cgroup_name = "check";
        spec.deadlines = worker_deadlines(&it->cs->limits);
        r = worker_plan_message(it->plan, it->cs, p->env, 0, &o, fds, &n_fds);
        if (r < 0)
            goto fail;
    }
    r = child_spawn(p->loop, &spec, &j->child, &err);
    if (r >= 0)
        r = child_send_first(j->child, p->kind == PROBE_SCAN ? PROTO_SCAN : PROTO_CHECK, o, fds,
                             n_fds);
    if (r < 0)
        goto fail;
    json_object_put(o);
    p->jobs[p->n_jobs++] = j;
    return 0;

fail:
    json_object_put(o);
    /* The items cannot be probed: each is refused with the reason. */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &p->items[items[i]];
        if (it->answered)
            continue;
        it->answered = true;
        p->n_answered++;
        if (p->kind == PROBE_SCAN) {
            it->error = strprintf("%s: cannot start the scanner: %s", it->plugin->path,
                                  err ? err : strerror(-r));
            it->err = r;
        }
        else
            (void) errors_add(&it->errors, "session '%s': cannot start the dry run: %s",
                              it->cs->name, err ? err : strerror(-r));
    }
    job_free(j);
    return 0;
}

static int start_jobs(struct probe *p) {
    while (p->n_queue > 0 && p->n_jobs < PROBE_PARALLEL) {
        size_t item = p->queue[--p->n_queue];
        int r = job_start(p, &item, 1);
        if (r < 0)
            return r;
    }
    return 0;
}

static struct probe *probe_alloc(sd_event *loop, enum probe_kind kind, size_t n,
                                 probe_done_fn done, void *userdata) {
    struct probe *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->items = calloc(n ? n : 1, sizeof(struct item));
    p->queue = calloc(n ? n : 1, sizeof(size_t));
    if (!p->items || !p->queue) {
        free(p->items);
        free(p->queue);
        free(p);
        return NULL;
    }
    p->kind = kind;
    p->loop = loop;
    p->n_items = n;
    p->done = done;
    p->userdata = userdata;
    return p;
}

/* Finishes a probe whose items all have their result without a child (no
 * item, or no child could start), from the loop: callers expect done to
 * come later, never from inside probe_scan/probe_check. */
static int on_settled(sd_event_source *es, void *userdata) {
    finish_if_done(userdata);
    return 0;
}

static int settle_later(struct probe *p) {
    if (p->n_answered < p->n_items || p->n_jobs > 0 || p->settle_es)
        return 0;
    return sd_event_add_defer(p->loop, &p->settle_es, on_settled, p);
}

int probe_scan(sd_event *loop, struct plugin *const *snapshots, size_t n, int log_level,
               probe_done_fn done, void *userdata, struct probe **ret) {
    return probe_scan_inspect(loop, snapshots, n, log_level, false, done, userdata, ret);
}

int probe_scan_inspect(sd_event *loop, struct plugin *const *snapshots, size_t n,
                       int log_level, bool inspect, probe_done_fn done, void *userdata,
                       struct probe **ret) {
    struct probe *p = probe_alloc(loop, PROBE_SCAN, n, done, userdata);
    size_t *all;
    int r;

    if (!p)
        return -ENOMEM;
    p->log_level = log_level;
    p->inspect = inspect;
    all = calloc(n ? n : 1, sizeof(size_t));
    if (!all) {
        probe_free(p);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        p->items[i].plugin = plugin_ref(snapshots[i]);
        all[i] = i;
    }
    /* One scanner for all (at most PROTO_FDS_MAX - 1 files each). */
    r = 0;
    for (size_t at = 0; r >= 0 && at < n;) {
        size_t k = n - at < PROTO_FDS_MAX - 1 ? n - at : PROTO_FDS_MAX - 1;
        r = job_start(p, all + at, k);
        at += k;
    }
    free(all);
    if (r >= 0)
        r = settle_later(p);
    if (r < 0) {
        probe_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

int probe_check(sd_event *loop, struct plan *const *plans,
                const struct config_session *const *sessions, size_t n,
                const struct worker_env *env, probe_done_fn done, void *userdata,
                struct probe **ret) {
    struct probe *p = probe_alloc(loop, PROBE_CHECK, n, done, userdata);
    int r;

    if (!p)
        return -ENOMEM;
    p->env = env;
    for (size_t i = 0; i < n; i++) {
        p->items[i].plan = plans[i];
        p->items[i].cs = sessions[i];
        p->queue[p->n_queue++] = n - 1 - i; /* start in order: the queue pops from the end */
    }
    r = start_jobs(p);
    if (r >= 0)
        r = settle_later(p);
    if (r < 0) {
        probe_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

size_t probe_size(const struct probe *p) {
    return p->n_items;
}

struct plugin *probe_plugin(const struct probe *p, size_t i) {
    return i < p->n_items && !p->items[i].error && p->items[i].plugin &&
                   p->items[i].plugin->desc
               ? p->items[i].plugin
               : NULL;
}

struct plugin *probe_snapshot(const struct probe *p, size_t i) {
    return p->items[i].plugin;
}

int probe_errno(const struct probe *p, size_t i) {
    return i < p->n_items ? p->items[i].err : -ERANGE;
}

const char *probe_error(const struct probe *p, size_t i) {
    return i < p->n_items ? p->items[i].error : NULL;
}

json_object *probe_inspect(const struct probe *p, size_t i) {
    return i < p->n_items ? p->items[i].inspect : NULL;
}

const struct errors *probe_errors(const struct probe *p, size_t i) {
    return &p->items[i].errors;
}

json_object *probe_datasources(const struct probe *p, size_t i) {
    return i < p->n_items ? p->items[i].datasources : NULL;
}

struct probe *probe_free(struct probe *p) {
    if (!p)
        return NULL;
    sd_event_source_disable_unref(p->settle_es);
    while (p->n_jobs > 0)
        job_remove(p, p->jobs[p->n_jobs - 1]);
    for (size_t i = 0; i < p->n_items; i++) {
        plugin_unref(p->items[i].plugin);
        free(p->items[i].error);
        json_object_put(p->items[i].inspect);
        errors_clear(&p->items[i].errors);
        json_object_put(p->items[i].datasources);
    }
    free(p->items);
    free(p->queue);
    free(p->jobs);
    free(p);
    return NULL;
}

int probe_wait(sd_event *loop, struct probe *p) {
    while (!p->finished) {
        int r = sd_event_run(loop, UINT64_MAX);
        if (r < 0)
            return r;
    }
    return 0;
}

size_t probe_apply_scan(struct probe *p, struct registry *reg, struct plugin_dirs *pd,
                        struct errors *refused, bool log_loaded) {
    size_t added = 0;

    for (size_t i = 0; i < probe_size(p); i++) {
        struct plugin *pl = probe_plugin(p, i);
        _cleanup_free_ char *err = NULL;
        if (!pl) {
            const char *why = probe_error(p, i);
            /* On record until the file changes: not probed again. */
            (void) plugin_dirs_refuse(pd, probe_snapshot(p, i), why ? why : "refused");
            (void) errors_add(refused, "%s", why ? why : "refused");
            continue;
        }
        if (registry_add_plugin(reg, pl, &err) < 0) {
            (void) plugin_dirs_refuse(pd, pl, err ? err : pl->path);
            (void) errors_add(refused, "%s", err ? err : pl->path);
            continue;
        }
        plugin_dirs_accepted(pd, pl->path);
        if (log_loaded)
            log_full(LOG_INFO, 0, &(struct log_context){ .plugin = pl->file_name },
                     "plugin '%s' %s loaded, %zu operators", pl->desc->name,
                     pl->desc->version ? pl->desc->version : "", pl->n_operators);
        added++;
    }
    return added;
}

int probe_scan_dirs(sd_event *loop, struct registry *reg, struct plugin_dirs *pd,
                    char *const *dirs, int log_level, struct errors *refused) {
    struct plugin_scan scan;
    struct probe *p = NULL;
    int r;

    r = plugin_dirs_scan(pd, dirs, reg, &scan, refused);
    if (r < 0)
        return r;
    r = probe_scan(loop, scan.fresh, scan.n_fresh, log_level, NULL, NULL, &p);
    if (r >= 0)
        r = probe_wait(loop, p);
    if (r >= 0)
        (void) probe_apply_scan(p, reg, pd, refused, false);
    probe_free(p);
    plugin_scan_clear(&scan);
    return r;
}

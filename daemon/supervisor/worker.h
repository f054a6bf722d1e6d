/*
 * worker.h — a session's worker process as the supervisor sees it: started
 * from a plan, its state (starting, running, stopping, stopped, failed) and
 * why it failed, its schema and counters (read from its status page, no
 * message needed), the events it sends while someone watches, and its end.
 *
 * A worker that dies by a signal, exits, breaks the protocol or overruns a
 * deadline fails its session with a reason that names the operator and the
 * callback that was running (worker_error), and the plugin that is to blame
 * (worker_culprit) for quarantine.
 */
#ifndef OPHOST_DAEMON_SUPERVISOR_WORKER_H
#define OPHOST_DAEMON_SUPERVISOR_WORKER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "child.h"
#include "config.h"
#include "plan.h"

/* What every worker's PLAN carries besides its session. */
struct worker_env {
    const struct daemon_config *cfg;   /* global params, log level */
    uint64_t nofile;                   /* the soft RLIMIT_NOFILE workers run with */
};

enum worker_state {
    WORKER_STARTING,
    WORKER_RUNNING,
    WORKER_STOPPING,
    WORKER_STOPPED,   /* completed, or stopped on request */
    WORKER_FAILED,
};

struct worker;
struct exposition;

struct worker_ops {
    /* The state changed: running, or ended (stopped or failed). */
    void (*state_changed)(struct worker *w, void *userdata);
    /* Events for watchers: complete varlink replies (each ending in a NUL)
     * in data[0..len); dropped events the worker could not send before them. */
    void (*events)(struct worker *w, const char *data, size_t len, uint64_t dropped,
                   void *userdata);
    /* The operator instance at plan step published a new metrics text
     * (not checked yet: exposition_parse); take a reference to keep it. */
    void (*metrics)(struct worker *w, size_t step, struct exposition *text, void *userdata);
};

/*
 * Starts the worker of session cs (read now; its name and limits are
 * copied) from plan (taken, also on failure). watchers > 0 serialises events from the first batch
 * on. Returns 0 and the worker in *ret, or a negative errno with a malloc'd
 * reason in *ret_error.
 */
int worker_start(sd_event *loop, struct plan *plan, const struct config_session *cs,
                 const struct worker_env *env, unsigned watchers, const struct worker_ops *ops,
                 void *userdata, struct worker **ret, char **ret_error);
/* Asks the session to stop; its deadlines bound how long that takes. */
void worker_stop(struct worker *w);
/* Kills a worker that still runs and frees it. Returns NULL. */
struct worker *worker_free(struct worker *w);

enum worker_state worker_get_state(const struct worker *w);
const char *worker_state_name(enum worker_state st);
bool worker_ended(const struct worker *w);
/* Why it failed, or NULL. */
const char *worker_error(const struct worker *w);
/* The plugin whose code crashed, hung or exited, or NULL. */
struct plugin *worker_culprit(const struct worker *w);
const struct plan *worker_plan(const struct worker *w);
/* The session's name. */
const char *worker_name(const struct worker *w);
/* The data sources the worker reported when it started running (the
 * DataSource type of the varlink IDL), or NULL. */
json_object *worker_datasources(const struct worker *w);
uint64_t worker_started_usec(const struct worker *w);
/* The worker's process. */
pid_t worker_pid(const struct worker *w);

/* Tells the worker how many watch it (0 stops the serialisation). */
void worker_set_watchers(struct worker *w, unsigned n);

/* Counters, from the status page (valid after the end too). */
uint64_t worker_events_emitted(const struct worker *w);
uint64_t worker_events_lost(const struct worker *w);
/* Copies up to n operator counters (plan order). */
struct instance_counters {
    const char *operator_name;
    uint64_t events_in, events_out, batches, ns_spent, dropped;
    bool opted_out;
};
size_t worker_counters(const struct worker *w, struct instance_counters *out, size_t n);

/* Every counter of a worker at one moment, copied: what a session that
 * ended still shows on /metrics. */
struct worker_totals {
    uint64_t emitted, lost;
    struct instance_counters *ops;   /* plan order; operator_name owned here */
    size_t n_ops;
};
/* 0 or -ENOMEM (ret untouched then). */
int worker_totals_get(const struct worker *w, struct worker_totals *ret);
void worker_totals_clear(struct worker_totals *t);

/* ------------------------------------------------------------ helpers */

/* The deadlines of a session's children. */
struct child_deadlines worker_deadlines(const struct config_limits *l);

/*
 * The PLAN message (proto.h) for plan of cs, and the snapshot fds to send
 * with it (borrowed from the plan's plugins; fds has room for
 * PROTO_FDS_MAX). 0, -ENOMEM, or -E2BIG with more plugins than fit.
 */
int worker_plan_message(const struct plan *plan, const struct config_session *cs,
                        const struct worker_env *env, unsigned watchers, json_object **ret,
                        int *fds, size_t *n_fds);

/* How a child running plan ended, as a sentence (child_describe_end with the
 * names of the operator and plugin its status page pointed at). */
char *worker_describe_end(const struct plan *plan, const struct child_exit *e,
                          const struct config_limits *limits);

/* The plugin the status page's call names, or NULL. */
struct plugin *plan_call_plugin(const struct plan *plan, uint32_t call);

#endif

/*
 * session.h — one running pipeline. A session owns a thread with its own
 * sd-event loop; every per-session operator callback runs on that thread,
 * in plan order forward (instantiate, pre_start, start) and in reverse for
 * the undos (stop, post_stop, destroy), each undo if and only if its do
 * succeeded. Events flow synchronously: the gadget's emit() hands a batch
 * through every operator's process() in order.
 *
 * The main thread creates, starts, stops and frees sessions; the session
 * thread reports state changes through an eventfd (session_notify_fd).
 */
#ifndef OPHOST_DAEMON_SESSION_H
#define OPHOST_DAEMON_SESSION_H

#include <stdint.h>

#include "plan.h"
#include "status.h"

enum session_state {
    SESSION_CREATED,
    SESSION_STARTING,
    SESSION_RUNNING,
    SESSION_STOPPING,
    SESSION_STOPPED,   /* completed, or stopped on request */
    SESSION_FAILED,
};

struct session;

/* Per-instance counters, readable from any thread (monotonic). */
struct instance_stats {
    const char *operator_name;
    uint64_t events_in;
    uint64_t events_out;
    uint64_t batches;
    uint64_t ns_spent;     /* in process(), estimated from every 8th batch */
    uint64_t dropped;      /* accepted but not delivered (host->dropped) */
    bool opted_out;
};

/* Called on the session thread with every batch after the last operator
 * (the events that reached the end of the pipeline), e.g. to stream them to
 * watchers. Must not block. */
typedef void (*session_tap_fn)(struct session *s, const struct ophost_batch *batch,
                               void *userdata);

/* Called on the session thread when an operator instance publishes its
 * metrics (host->metrics_publish): step is the instance's index in the
 * plan, text[0..len) the exposition, valid during the call only. Must not
 * block. Returns 0 or a negative errno, which the plugin gets. */
typedef int (*session_metrics_fn)(struct session *s, size_t step, const char *text, size_t len,
                                  void *userdata);

/* A new session running plan (ownership of plan moves to it, also on
 * failure). Its counters live in status (at least plan->n_steps of them:
 * a worker's shared status page), or in a page of its own when status is
 * NULL. NULL on ENOMEM. */
struct session *session_new(struct plan *plan, struct status_page *status);
/* Stops (if running), waits for the thread and frees. Returns NULL. */
struct session *session_free(struct session *s);

/* Sets the tap; only before session_start. */
void session_set_tap(struct session *s, session_tap_fn fn, void *userdata);

/* Sets where published metrics go; only before session_start. Without
 * it, host->metrics_publish succeeds and the text goes nowhere. */
void session_set_metrics(struct session *s, session_metrics_fn fn, void *userdata);

/* The data sources (with their fields) of a session, valid from the moment
 * it is running until it is freed; *ret_n gets the count. */
struct ophost_datasource *const *session_datasources(const struct session *s, size_t *ret_n);

/*
 * Dry run for --check: instantiates every operator of plan on the calling
 * thread (so schema errors such as a field no operator provides show up),
 * then destroys them again in reverse. Nothing else runs: operators acquire
 * resources in pre_start, not in instantiate. Returns 0, or the failure
 * with a malloc'd "operator 'x': instantiate failed: reason" in *ret_error.
 * plan stays the caller's.
 */
/* Whether the session reached running (every operator started, the schema
 * is final, events may follow), also after it ended. Any thread. */
bool session_started(struct session *s);

int session_check_plan(struct plan *plan, char **ret_error);
/* The same; with inspect, it is called once every operator instantiated,
 * before the destroys, with the session (its schema complete as of
 * instantiate). */
int session_check_plan_inspect(struct plan *plan, void (*inspect)(struct session *s, void *u),
                               void *userdata, char **ret_error);

/* Starts the session thread; 0 or a negative errno. Does not wait. */
int session_start(struct session *s);
/* Waits until the session is running or has ended; returns 0 if it runs or
 * completed, or the failure (negative errno; see session_error). */
int session_wait_started(struct session *s);
/* Asks the session to stop; returns at once. Any thread. */
void session_request_stop(struct session *s);
/* Waits for the session thread to end; returns 0 (stopped or completed) or
 * the failure. Safe to call more than once. */
int session_join(struct session *s);

enum session_state session_get_state(struct session *s);
const char *session_state_name(enum session_state state);
const char *session_name(const struct session *s);
const struct plan *session_plan(const struct session *s);
/* Why the session failed (NULL if it did not); valid until freed. */
const char *session_error(struct session *s);
/* An fd that becomes readable when the state changes; read 8 bytes to clear. */
int session_notify_fd(const struct session *s);

/* Counters: events the gadget emitted, events lost by the gadget. */
uint64_t session_events_emitted(const struct session *s);
uint64_t session_events_lost(const struct session *s);
/* Copies up to n instance counters (plan order) into out; returns the count. */
size_t session_instance_stats(const struct session *s, struct instance_stats *out, size_t n);

#endif

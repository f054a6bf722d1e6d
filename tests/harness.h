/*
 * harness.h — runs real pipelines inside a test process, through the real
 * loader, registry, plan and session code, with two operators of its own:
 *
 *   feed     a gadget whose schema is its "fields" param ("name:type,...")
 *            and whose events a test function makes (hand-built batches);
 *            the session completes after the function returns.
 *   capture  a sink (last in every pipeline) that records each event that
 *            reaches it as one text line "name=value name=value ...": the
 *            same format as the print plugin (strings quoted, timestamps raw
 *            nanoseconds, unset strings "-").
 *
 * Pipelines are given as pipeline-file YAML text, so tests read like the
 * files users write.
 */
#ifndef OPHOST_TESTS_HARNESS_H
#define OPHOST_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ophost/ophost.h>

struct harness;
struct harness_feed;

/* Makes the events of a feed session: append, set fields by name, flush. */
typedef void (*harness_feed_fn)(struct harness_feed *f, void *userdata);

/* A harness with the plugins at the given paths (NULL-terminated; may be
 * NULL) loaded by the real loader. Aborts the test on failure. */
struct harness *harness_new(const char *const *plugin_paths);
void harness_free(struct harness *h);

/*
 * Runs the single session of yaml to completion. With gadget "feed", fn
 * makes its events; with another gadget, the session runs until the gadget
 * completes. Returns 0, or the session's failure (plan errors included) with
 * the message in *ret_error (caller frees; may be NULL). The captured lines
 * are in harness_output().
 */
int harness_run(struct harness *h, const char *yaml, harness_feed_fn fn, void *userdata,
                char **ret_error);

/* The YAML of a session "t" whose feed gadget has the given fields
 * ("name:type,..."), followed by ops (operator lines, each indented four
 * spaces and ending in a newline; may be ""). Caller frees. */
char *harness_feed_yaml(const char *fields, const char *ops);
/* harness_run of harness_feed_yaml(fields, ops); *ret_error is set to NULL
 * first. */
int harness_run_feed(struct harness *h, const char *fields, const char *ops, harness_feed_fn fn,
                     void *userdata, char **ret_error);

/* A feed function: *(const uint64_t *) userdata events with "seq" = 1, 2, ... */
void harness_feed_seq(struct harness_feed *f, void *userdata);

/* For gadgets that run until stopped: start (returns once every start
 * succeeded, or with the failure), then stop. harness_stop returns like
 * harness_run. */
int harness_start(struct harness *h, const char *yaml, char **ret_error);
int harness_stop(struct harness *h, char **ret_error);
/* Waits until the started session runs (every start succeeded) or ended;
 * returns 0, or its failure with the message in *ret_error (may be NULL). */
int harness_wait_running(struct harness *h, char **ret_error);
/* Waits until the captured output contains needle or timeout_ms passed;
 * returns whether it was found. */
bool harness_wait_for(struct harness *h, const char *needle, unsigned timeout_ms);

/* Everything captured since the last run/start, one line per event. Valid
 * until the next run/start or harness_free; while a started session runs,
 * a copy taken now, valid until the next call. */
const char *harness_output(struct harness *h);
/* The values of field in the captured lines that have it, in order,
 * separated by single spaces ("1 3 5"). Valid until the next call, run/start
 * or harness_free. */
const char *harness_values(struct harness *h, const char *field);
/* The instance counters of the last session, by operator name; -1 if the
 * operator was not in it. */
int64_t harness_events_in(struct harness *h, const char *operator_name);
int64_t harness_events_out(struct harness *h, const char *operator_name);
/* The events operator_name counted with host->dropped: live while a session
 * runs (also from inside a feed function), else those of the last session;
 * -1 if the operator was not in it. */
int64_t harness_dropped(struct harness *h, const char *operator_name);
/* The events the gadget counted with host->lost: live while a session runs,
 * else those of the last session. */
uint64_t harness_lost(struct harness *h);

/* The newest text operator_name published (host->metrics_publish) in the
 * last or the running session, NULL if none (valid until the next call,
 * run/start or harness_free), and how many times it published. */
const char *harness_metrics(struct harness *h, const char *operator_name);
unsigned harness_metrics_publishes(struct harness *h, const char *operator_name);

/* A pipeline that must fail (harness_run < 0) with exactly this message. */
struct harness_error_case {
    const char *yaml;
    const char *error;
};

/* Runs yaml (with fn and userdata, as harness_run) and asserts that it fails
 * with result r (0: any failure) and a message that is exactly error
 * (harness_assert_fails) or contains part (harness_assert_fails_with). */
void harness_assert_fails(struct harness *h, const char *yaml, harness_feed_fn fn, void *userdata,
                          int r, const char *error);
void harness_assert_fails_with(struct harness *h, const char *yaml, harness_feed_fn fn,
                               void *userdata, int r, const char *part);

/* Runs each of the n cases through one harness with plugins (as for
 * harness_new) and feed function fn; asserts each fails with its message. */
void harness_assert_errors(const char *const *plugin_paths, harness_feed_fn fn,
                           const struct harness_error_case *cases, size_t n);

/* Inside a feed function. Appending past a batch's capacity flushes it. */
struct ophost_event *harness_append(struct harness_feed *f);
void harness_set_u64(struct harness_feed *f, struct ophost_event *e, const char *field, uint64_t v);
void harness_set_s64(struct harness_feed *f, struct ophost_event *e, const char *field, int64_t v);
void harness_set_bool(struct harness_feed *f, struct ophost_event *e, const char *field, bool v);
void harness_set_string(struct harness_feed *f, struct ophost_event *e, const char *field,
                        const char *v);
void harness_set_bytes(struct harness_feed *f, struct ophost_event *e, const char *field,
                       const void *v, size_t len);
/* Emits the events appended so far as one batch. */
void harness_flush(struct harness_feed *f);

#endif

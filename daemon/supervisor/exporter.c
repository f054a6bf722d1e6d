/* exporter.c — the daemon's own metrics and the sessions' published ones,
 * for one scrape (see exporter.h). */
#include "exporter.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

#include "log.h"
#include "util.h"
#include "worker.h"

const char *const exporter_session_states[] = {
    "inactive", "waiting", "restarting", "starting", "running", "stopping", "stopped", "failed",
    NULL,
};

static size_t plan_steps(const struct worker *w) {
    return worker_plan(w)->n_steps;
}

static void family(struct expo_buf *out, const char *name, const char *type, const char *help) {
    expo_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The counters of a session: from its worker's status page, or those its
 * last run ended with. */
struct counters {
    bool have;
    uint64_t emitted, lost, dropped;
    struct instance_counters *ops;
    size_t n_ops;
    struct instance_counters *live; /* ops, allocated here */
};

/* 0 or -ENOMEM. */
static int session_counters(const struct exporter_session *s, struct counters *c) {
    *c = (struct counters){ 0 };
    if (s->worker) {
        size_t n = plan_steps(s->worker);
        c->live = calloc(n + 1, sizeof(*c->live));
        if (!c->live)
            return -ENOMEM;
        c->have = true;
        c->emitted = worker_events_emitted(s->worker);
        c->lost = worker_events_lost(s->worker);
        c->n_ops = worker_counters(s->worker, c->live, n);
        c->ops = c->live;
    } else if (s->totals) {
        c->have = true;
        c->emitted = s->totals->emitted;
        c->lost = s->totals->lost;
        c->n_ops = s->totals->n_ops;
        c->ops = s->totals->ops;
    }
    for (size_t i = 0; i < c->n_ops; i++)
        c->dropped += c->ops[i].dropped;
    return 0;
}

/* The event counters of every session, one family each. */
static const struct {
    const char *name, *help;
    size_t offset; /* of the uint64_t in struct counters */
} event_counters[] = {
    { "ophost_session_events_emitted_total",
      "Events the session's gadget emitted, since the session last started.",
      offsetof(struct counters, emitted) },
    { "ophost_session_events_lost_total",
      "Events the session's gadget could not deliver (a full ring buffer, ENOBUFS).",
      offsetof(struct counters, lost) },
    { "ophost_session_events_dropped_total",
      "Events the session's operators accepted but could not deliver (a failed write).",
      offsetof(struct counters, dropped) },
};

static void render_sessions(struct expo_buf *out, const struct exporter_state *st,
                            struct counters *cs) {
    family(out, "ophost_sessions", "gauge", "Configured sessions by state.");
    for (size_t k = 0; exporter_session_states[k]; k++) {
        size_t n = 0;
        for (size_t i = 0; i < st->n_sessions; i++)
            n += streq(st->sessions[i].state, exporter_session_states[k]);
        expo_buf_printf(out, "ophost_sessions{state=\"%s\"} %zu\n", exporter_session_states[k], n);
    }
    family(out, "ophost_session_state", "gauge",
           "1 for the state each configured session is in.");
    for (size_t i = 0; i < st->n_sessions; i++)
        expo_buf_printf(out, "ophost_session_state{session=\"%s\",state=\"%s\"} 1\n",
                        st->sessions[i].name, st->sessions[i].state);
    family(out, "ophost_session_restarts", "gauge",
           "Restarts after failures since the session was last started by hand.");
    for (size_t i = 0; i < st->n_sessions; i++)
        expo_buf_printf(out, "ophost_session_restarts{session=\"%s\"} %u\n",
                        st->sessions[i].name, st->sessions[i].restarts);

    for (size_t k = 0; k < sizeof(event_counters) / sizeof(event_counters[0]); k++) {
        family(out, event_counters[k].name, "counter", event_counters[k].help);
        for (size_t i = 0; i < st->n_sessions; i++) {
            const uint64_t *v = (const uint64_t *) ((const char *) &cs[i] +
                                                    event_counters[k].offset);
            if (cs[i].have)
                expo_buf_printf(out, "%s{session=\"%s\"} %" PRIu64 "\n", event_counters[k].name,
                                st->sessions[i].name, *v);
        }
    }
}

/* One family with a sample per operator instance of every session. */
#define FOR_EACH_OP(st, cs, i, k)                                                                \
    for (size_t i = 0; i < (st)->n_sessions; i++)                                             \
        for (size_t k = 0; k < (cs)[i].n_ops; k++)

static void render_operators(struct expo_buf *out, const struct exporter_state *st,
                             struct counters *cs) {
    static const struct {
        const char *name, *help;
        size_t offset;
    } totals[] = {
        { "ophost_operator_events_in_total", "Events handed to the operator instance's process().",
          offsetof(struct instance_counters, events_in) },
        { "ophost_operator_events_out_total", "Events the operator instance passed on.",
          offsetof(struct instance_counters, events_out) },
        { "ophost_operator_events_dropped_total",
          "Events the operator instance accepted but could not deliver.",
          offsetof(struct instance_counters, dropped) },
        { "ophost_operator_batches_total", "Batches handed to the operator instance's process().",
          offsetof(struct instance_counters, batches) },
    };

    for (size_t t = 0; t < ELEMENTSOF(totals); t++) {
        family(out, totals[t].name, "counter", totals[t].help);
        FOR_EACH_OP(st, cs, i, k) {
            uint64_t v;
            memcpy(&v, (const char *) &cs[i].ops[k] + totals[t].offset, sizeof(v));
            expo_buf_printf(out, "%s{session=\"%s\",operator=\"%s\"} %" PRIu64 "\n", totals[t].name,
                            st->sessions[i].name, cs[i].ops[k].operator_name, v);
        }
    }
    family(out, "ophost_operator_process_seconds_total", "counter",
           "Time in the operator instance's process(), estimated from every 8th batch.");
    FOR_EACH_OP(st, cs, i, k)
        expo_buf_printf(out,
                        "ophost_operator_process_seconds_total{session=\"%s\",operator=\"%s\"} "
                        "%" PRIu64 ".%09" PRIu64 "\n",
                        st->sessions[i].name, cs[i].ops[k].operator_name,
                        cs[i].ops[k].ns_spent / 1000000000, cs[i].ops[k].ns_spent % 1000000000);
    family(out, "ophost_operator_process_seconds_per_event", "gauge",
           "Seconds per event in the operator instance's process() since the session last "
           "started (ophostctl stats shows it in nanoseconds).");
    FOR_EACH_OP(st, cs, i, k)
        if (cs[i].ops[k].events_in > 0)
            expo_buf_printf(out,
                            "ophost_operator_process_seconds_per_event{session=\"%s\",operator=\"%s\"} "
                            "%.4g\n",
                            st->sessions[i].name, cs[i].ops[k].operator_name,
                            (double) cs[i].ops[k].ns_spent / (double) cs[i].ops[k].events_in / 1e9);
}

static void render_daemon(struct expo_buf *out, const struct exporter_state *st) {
    family(out, "ophost_build_info", "gauge", "The version of ophostd that runs (always 1).");
    expo_buf_printf(out, "ophost_build_info{version=\"%s\"} 1\n", OPHOST_VERSION);
    family(out, "ophost_plugins", "gauge",
           "Plugins loaded (quarantined ones included), refused, and quarantined.");
    expo_buf_printf(out, "ophost_plugins{state=\"loaded\"} %zu\n", st->plugins_loaded);
    expo_buf_printf(out, "ophost_plugins{state=\"refused\"} %zu\n", st->plugins_refused);
    expo_buf_printf(out, "ophost_plugins{state=\"quarantined\"} %zu\n", st->plugins_quarantined);
    family(out, "ophost_reloads_total", "counter",
           "Reloads of the configuration, accepted or rejected, since the daemon started.");
    expo_buf_printf(out, "ophost_reloads_total{result=\"accepted\"} %" PRIu64 "\n",
                    st->reloads_accepted);
    expo_buf_printf(out, "ophost_reloads_total{result=\"rejected\"} %" PRIu64 "\n",
                    st->reloads_rejected);
    family(out, "ophost_control_connections", "gauge", "Control socket connections open now.");
    expo_buf_printf(out, "ophost_control_connections %zu\n", st->control_open);
    family(out, "ophost_control_connections_total", "counter",
           "Control socket connections accepted, or refused at control-max-connections.");
    expo_buf_printf(out, "ophost_control_connections_total{result=\"accepted\"} %" PRIu64 "\n",
                    st->control_accepted);
    expo_buf_printf(out, "ophost_control_connections_total{result=\"refused\"} %" PRIu64 "\n",
                    st->control_refused);
    family(out, "ophost_scrapes_total", "counter", "Scrapes of /metrics answered.");
    expo_buf_printf(out, "ophost_scrapes_total %" PRIu64 "\n", st->scrapes);
}

static void render(struct expo_buf *out, const struct exporter_state *st, struct counters *cs);

void exporter_render(struct expo_buf *out, const struct exporter_state *st) {
    _cleanup_free_ struct counters *cs = calloc(st->n_sessions + 1, sizeof(*cs));

    if (!cs) {
        out->oom = true;
        return;
    }
    render(out, st, cs);
    for (size_t i = 0; i < st->n_sessions; i++)
        free(cs[i].live);
}

static void render(struct expo_buf *out, const struct exporter_state *st, struct counters *cs) {
    _cleanup_free_ struct expo_source *src = NULL;
    _cleanup_free_ size_t *src_session = NULL;
    _cleanup_free_ unsigned *errors = calloc(st->n_sessions + 1, sizeof(unsigned));
    struct expo_buf merged = { 0 };
    size_t n_texts = 0, n_src = 0;

    if (!errors) {
        out->oom = true;
        return;
    }
    for (size_t i = 0; i < st->n_sessions; i++) {
        if (session_counters(&st->sessions[i], &cs[i]) < 0) {
            out->oom = true;
            return;
        }
        n_texts += st->sessions[i].n_texts;
    }
    src = calloc(n_texts + 1, sizeof(*src));
    src_session = calloc(n_texts + 1, sizeof(size_t));
    if (!src || !src_session) {
        out->oom = true;
        return;
    }
    /* Check each text (once per text) and gather the valid ones. */
    for (size_t i = 0; i < st->n_sessions; i++)
        for (size_t k = 0; k < st->sessions[i].n_texts; k++) {
            struct exposition *e = st->sessions[i].texts[k];
            const char *why = NULL;
            int r;
            if (!e)
                continue;
            r = exposition_parse(e, &why);
            if (r == -ENOMEM) {
                out->oom = true;
                return;
            }
            if (r < 0) {
                errors[i]++;
                if (exposition_first_report(e))
                    log_full(LOG_WARNING, 0, &(struct log_context){ .session = st->sessions[i].name },
                             "metrics of plan step %zu refused: %s, leaving them out of /metrics",
                             k, why ? why : "invalid");
                continue;
            }
            src[n_src] = (struct expo_source){ .session = st->sessions[i].name, .text = e };
            src_session[n_src++] = i;
        }
    if (exposition_merge(&merged, src, n_src) < 0) {
        expo_buf_free(&merged);
        out->oom = true;
        return;
    }
    for (size_t s = 0; s < n_src; s++) {
        if (src[s].skipped == 0)
            continue;
        errors[src_session[s]] += src[s].skipped;
        if (exposition_first_report(src[s].text))
            log_full(LOG_WARNING, 0, &(struct log_context){ .session = src[s].session },
                     "%u metric families left out of /metrics: another session has families "
                     "of the same names with another type", src[s].skipped);
    }

    render_daemon(out, st);
    render_sessions(out, st, cs);
    render_operators(out, st, cs);
    family(out, "ophost_session_metrics_errors", "gauge",
           "Metrics texts or families of the session's operators that /metrics leaves out "
           "(see the log for why).");
    for (size_t i = 0; i < st->n_sessions; i++)
        expo_buf_printf(out, "ophost_session_metrics_errors{session=\"%s\"} %u\n",
                        st->sessions[i].name, errors[i]);
    expo_buf_put(out, merged.data, merged.len);
    if (merged.oom)
        out->oom = true;
    expo_buf_free(&merged);
}

/*
 * exporter.h — what a scrape of /metrics shows: the daemon's own metrics
 * (sessions by state; per session the events emitted, lost and dropped;
 * per operator instance events, batches and time; plugins loaded, refused
 * and quarantined; reloads; control connections) followed by the metrics
 * texts the sessions' operators published, each sample labelled with its
 * session. The daemon fills a struct exporter_state for one scrape from
 * what it holds anyway (status pages, counters), so rendering reads no
 * worker and waits for nothing.
 */
#ifndef OPHOST_DAEMON_EXPORTER_H
#define OPHOST_DAEMON_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "exposition.h"

struct worker;
struct worker_totals;

/* One configured session. */
struct exporter_session {
    const char *name;
    const char *state;              /* as daemon_session_info.state */
    struct worker *worker;          /* its worker, or NULL */
    const struct worker_totals *totals; /* without a worker: its last run's counters, or NULL */
    unsigned restarts;
    struct exposition *const *texts; /* per plan step, NULL where none; may be NULL */
    size_t n_texts;
};

struct exporter_state {
    const struct exporter_session *sessions;
    size_t n_sessions;
    size_t plugins_loaded, plugins_refused, plugins_quarantined;
    uint64_t reloads_accepted, reloads_rejected;
    size_t control_open;
    uint64_t control_accepted, control_refused;
    uint64_t scrapes;
};

/* The session states counted by ophost_sessions{state=...}, NULL-terminated. */
extern const char *const exporter_session_states[];

/*
 * Writes the whole exposition into out. Texts are checked here on their
 * first scrape (exposition_parse); one that is refused is left out and
 * logged once with the session and the reason. Never fails: out->oom tells
 * of an allocation failure.
 */
void exporter_render(struct expo_buf *out, const struct exporter_state *st);

#endif

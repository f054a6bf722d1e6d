/*
 * control.h — the control socket of ophostd: the org.ophost.Manager varlink
 * interface (list, describe, start, stop, run, watch, stats, reload,
 * unquarantine) on the daemon's main loop, its authorization (read-only for
 * anyone who can connect; mutating calls for root and the control group),
 * the watchers of each session's events, and the ad-hoc sessions of Run.
 */
#ifndef OPHOST_DAEMON_CONTROL_H
#define OPHOST_DAEMON_CONTROL_H

#include <stdbool.h>
#include <systemd/sd-event.h>

struct control;
struct daemon;
struct daemon_config;

/*
 * Opens the control socket (socket-activated, or bound at
 * cfg->control_socket) and serves it on loop; registers as the daemon's
 * observer of its workers. Returns 0 and the control in *ret, or a negative
 * errno after logging why. d must outlive it.
 */
int control_new(struct daemon *d, sd_event *loop, const struct daemon_config *cfg,
                struct control **ret);
/* Ends every client call and ad-hoc session (killing their workers) and
 * closes the socket. Returns NULL; accepts NULL. */
struct control *control_free(struct control *c);

/* Starts serving clients (once the daemon is ready; they wait until then).
 * Accepts NULL. */
void control_start(struct control *c);

/* How many ad-hoc sessions run (for the status text). Accepts NULL. */
size_t control_adhoc_sessions(struct control *c);

/* Control connections open now, accepted and refused since the start (for
 * the daemon's metrics). Accepts NULL (all 0). */
struct control_counts {
    size_t open;
    uint64_t accepted, refused;
};
struct control_counts control_connection_counts(struct control *c);
/* Whether ad-hoc sessions still have workers; asks each to stop (shutdown).
 * Both accept NULL. */
bool control_has_workers(struct control *c);
void control_stop_workers(struct control *c);

/* The interface descriptions (idl.c). */
extern const char control_service_idl[];
extern const char control_manager_idl[];

#endif

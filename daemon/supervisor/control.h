/*
 * control.h — the control socket of ophostd: the org.ophost.Manager varlink
 * interface (list, describe, start, stop, run, watch, stats, reload) on the
 * daemon's main loop, its authorization (read-only for anyone who can
 * connect; mutating calls for root and the control group), and the taps that
 * stream a session's events to watching clients.
 */
#ifndef OPHOST_DAEMON_CONTROL_H
#define OPHOST_DAEMON_CONTROL_H

#include <systemd/sd-event.h>

struct control;
struct daemon;
struct daemon_config;
struct session;

/*
 * Opens the control socket (socket-activated, or bound at
 * cfg->control_socket) and serves it on loop. Returns 0 and the control in
 * *ret, or a negative errno after logging why. d must outlive it.
 */
int control_new(struct daemon *d, sd_event *loop, const struct daemon_config *cfg,
                struct control **ret);
/* Ends every client call and ad-hoc session and closes the socket. Call after
 * every managed session is gone. Returns NULL; accepts NULL. */
struct control *control_free(struct control *c);

/* Gives a new session (not started yet) the tap that streams its events to
 * watchers. c may be NULL (no control socket): then nothing happens. */
void control_session_attach(struct control *c, struct session *s);
/* The session's thread has ended (joined) and it is about to be freed: its
 * watchers get their final reply. c may be NULL. */
void control_session_detach(struct control *c, struct session *s);

#endif

/*
 * publish.h — the metrics texts of a session's operator instances on their
 * way from the session thread to the supervisor, in a worker.
 *
 * host->metrics_publish runs on the session thread: the text is copied
 * into a new memfd, sealed against writing, shrinking and growing, and put
 * in the slot of its instance (plan step), replacing a text not sent yet,
 * so the supervisor only ever gets the newest text of each instance and a
 * slow supervisor costs one file per instance. The worker's main thread,
 * woken through publish_wake_fd, sends each slot's file as PROTO_METRICS
 * (proto.h). The session thread never waits for the supervisor.
 */
#ifndef OPHOST_DAEMON_PUBLISH_H
#define OPHOST_DAEMON_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

struct publish;
struct session;

/* Slots for n_steps instances; NULL on ENOMEM. */
struct publish *publish_new(size_t n_steps);
/* Closes unsent files. Returns NULL; accepts NULL. */
struct publish *publish_free(struct publish *p);

/* The session's metrics hook (session_set_metrics(s, publish_text, p)):
 * makes the sealed file and fills the slot. Session thread. Returns 0,
 * -EINVAL for a step out of range, or the errno of memfd_create, write or
 * the seals. */
int publish_text(struct session *s, size_t step, const char *text, size_t len, void *userdata);

/* Readable when a slot is filled (an eventfd; publish_flush clears it). */
int publish_wake_fd(const struct publish *p);

/*
 * Main thread: sends every filled slot to sock (non-blocking SEQPACKET) as
 * PROTO_METRICS. Returns 0 when all went out, -EAGAIN when sock is full
 * (call again once it is writable), or another negative errno (the
 * supervisor is gone).
 */
int publish_flush(struct publish *p, int sock);
/* Whether a slot waits to be sent. Main thread. */
bool publish_pending(struct publish *p);

#endif

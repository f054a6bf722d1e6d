/*
 * tap.h — a session's events for its watchers, in a worker.
 *
 * The tap runs on the session thread after the last operator, with every
 * batch. While the supervisor says someone watches (tap_set_watching), it
 * serialises the live events as varlink replies
 * ({"parameters":{"event":{...}},"continues":true} and a NUL) into an
 * outbox bounded by TAP_OUTBOX_MAX; a batch that does not fit is dropped
 * whole and counted. The worker's main thread sends the outbox to the
 * supervisor (PROTO_EVENTS, at most PROTO_EVENTS_CHUNK per message, each
 * carrying the count dropped before it) when woken through tap_wake_fd.
 * With nobody watching the tap costs one atomic load per batch.
 */
#ifndef OPHOST_DAEMON_TAP_H
#define OPHOST_DAEMON_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ophost/ophost.h>

#define TAP_OUTBOX_MAX (4 * 1024 * 1024)

struct tap;
struct session;

/* A new tap; NULL on ENOMEM. */
struct tap *tap_new(void);
struct tap *tap_free(struct tap *t);

/* Main thread: whether to serialise events (watchers > 0). */
void tap_set_watching(struct tap *t, bool on);

/* The session tap (session_set_tap(s, tap_batch, t)). Session thread. */
void tap_batch(struct session *s, const struct ophost_batch *b, void *userdata);

/* Readable when the outbox has data to send (an eventfd; read 8 bytes to
 * clear). */
int tap_wake_fd(const struct tap *t);

/*
 * Main thread: sends what the outbox holds to sock (non-blocking SEQPACKET)
 * as PROTO_EVENTS messages. Returns 0 when everything went out, -EAGAIN
 * when sock is full (call again once it is writable), or another negative
 * errno (the supervisor is gone).
 */
int tap_flush(struct tap *t, int sock);
/* Whether tap_flush has something left to send. */
bool tap_pending(struct tap *t);

#endif

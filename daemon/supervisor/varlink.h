/*
 * varlink.h — a small varlink server on an sd-event loop: a listening Unix
 * stream socket (socket-activated or bound here, mode 0666: every call is
 * authorized by the caller with the peer's credentials), connections that
 * speak NUL-terminated JSON messages, one call at a time per connection
 * (requests that arrive during a call wait), replies, errors and streamed
 * replies ("continues": true). Everything runs on the loop's thread.
 *
 * What a client can make the daemon hold is bounded: at most
 * max_connections connections (when full, the one idle the longest is
 * closed for a new one; with none idle the new one is refused), a
 * connection idle (no call open) for idle_timeout is closed, a request may
 * be VARLINK_REQUEST_MAX bytes, and no further request of a connection is
 * read while VARLINK_REPLY_BACKLOG_MAX bytes of its replies are unread.
 * Streamed replies beyond VARLINK_STREAM_BUFFER_MAX are dropped, counted and
 * told to the client ({"parameters":{"dropped":N},"continues":true}) once it
 * catches up. Requests must be valid UTF-8 JSON; replies always are.
 */
#ifndef OPHOST_DAEMON_VARLINK_H
#define OPHOST_DAEMON_VARLINK_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* Largest request accepted; a longer one is answered with
 * VARLINK_ERROR_TOO_LARGE and the connection is closed. */
#define VARLINK_REQUEST_MAX (1024 * 1024)
/* Replies a connection has not read before its next request waits. */
#define VARLINK_REPLY_BACKLOG_MAX (1024 * 1024)
/* Streamed data buffered per connection before events are dropped. */
#define VARLINK_STREAM_BUFFER_MAX (1024 * 1024)

/* Errors of the protocol layer (the IDL of org.ophost.Manager declares them). */
#define VARLINK_ERROR_INVALID_REQUEST "org.ophost.Manager.InvalidRequest"
#define VARLINK_ERROR_TOO_LARGE "org.ophost.Manager.RequestTooLarge"

struct varlink_server;
struct varlink_conn;

/* A call: method name, parameters (an object, never NULL) and flags. */
struct varlink_call {
    const char *method;
    json_object *parameters;
    bool more;
    bool oneway;
};

struct varlink_limits {
    unsigned max_connections;
    uint64_t idle_timeout_usec;
};

/*
 * Handles one call. It answers with varlink_reply() / varlink_error() now,
 * or later for a streaming or waiting call; until the final reply the
 * connection dispatches nothing else.
 */
typedef void (*varlink_method_fn)(struct varlink_conn *c, const struct varlink_call *call,
                                  void *userdata);
/* The connection is going away (peer closed, error, protocol violation,
 * idle, evicted): drop every reference to it. */
typedef void (*varlink_disconnect_fn)(struct varlink_conn *c, void *userdata);

/*
 * Listens on the socket systemd passed (one fd, a Unix stream socket), or
 * else binds path (mode 0666): creates its parent directory (0755) if
 * missing, replaces a stale socket, and refuses with -EADDRINUSE if
 * something answers on it. Accepts nobody until varlink_server_accept().
 * Returns 0 and the server in *ret, or a negative errno with a malloc'd
 * reason in *ret_error.
 */
int varlink_server_new(sd_event *loop, const char *path, const struct varlink_limits *limits,
                       varlink_method_fn method, varlink_disconnect_fn disconnect,
                       void *userdata, struct varlink_server **ret, char **ret_error);
/* Closes every connection (calling disconnect), the listening socket, and
 * unlinks the socket path if it was bound here. Returns NULL. */
struct varlink_server *varlink_server_free(struct varlink_server *s);
/* Starts accepting connections. Until then clients wait in the listen
 * backlog: the socket exists (and a second daemon sees it taken) while the
 * daemon starts. */
void varlink_server_accept(struct varlink_server *s);
/* Whether the listening socket came from systemd. */
bool varlink_server_activated(const struct varlink_server *s);
/* Connections open now. */
size_t varlink_server_connections(const struct varlink_server *s);
/* Connections accepted, and refused at the limit, since the start. */
uint64_t varlink_server_accepted(const struct varlink_server *s);
uint64_t varlink_server_refused(const struct varlink_server *s);

/* The peer's credentials (SO_PEERCRED) and supplementary groups
 * (SO_PEERGROUPS, or /proc/PID/status); valid while c lives. */
const struct ucred *varlink_conn_peer(const struct varlink_conn *c);
bool varlink_conn_peer_in_group(const struct varlink_conn *c, gid_t gid);

void varlink_conn_set_userdata(struct varlink_conn *c, void *userdata);
void *varlink_conn_get_userdata(const struct varlink_conn *c);

/*
 * Replies to the current call. parameters (may be NULL = {}) is taken.
 * continues: more replies follow (only for calls with "more": true; for
 * others it is ignored and this is the final reply). Returns 0 or -ENOMEM.
 * The final reply ends the call and lets the next request be dispatched.
 */
int varlink_reply(struct varlink_conn *c, json_object *parameters, bool continues);
/* Replies with error (a qualified name); parameters taken, may be NULL. */
int varlink_error(struct varlink_conn *c, const char *error, json_object *parameters);
/* Convenience: InvalidParameter with {"parameter": name, "reason": reason};
 * reason may be NULL. */
int varlink_error_invalid_parameter(struct varlink_conn *c, const char *name, const char *reason);

/*
 * Appends n complete streamed replies of the current call (each ends with
 * its NUL; message i is data[ends[i-1]..ends[i]), valid UTF-8) to c's
 * output, each only if it fits within VARLINK_STREAM_BUFFER_MAX; the others
 * are counted as dropped. Returns the number dropped.
 */
size_t varlink_conn_stream_append(struct varlink_conn *c, const char *data, const uint32_t *ends,
                                  size_t n);
/* Counts n events c missed before what is appended next (they never reached
 * the daemon); told to the client like its own drops. */
void varlink_conn_stream_note_dropped(struct varlink_conn *c, uint64_t n);

#endif

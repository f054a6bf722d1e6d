/*
 * proto.h — the protocol between the supervisor and the processes that run
 * plugin code (the scanner, dry runs, session workers).
 *
 * Transport: one AF_UNIX SOCK_SEQPACKET socket pair per child; the child's
 * end is its fd 3. Every datagram is one message: a struct proto_header and
 * a payload, at most PROTO_MESSAGE_MAX bytes in all; file descriptors travel
 * with a message as SCM_RIGHTS (at most PROTO_FDS_MAX). Payloads are JSON
 * objects (json-c), except PROTO_EVENTS. Nothing in a child's messages is
 * trusted: the supervisor parses them strictly, bounds every length and
 * index, and a child that breaks the protocol is killed and its job failed.
 *
 * Supervisor -> child. The first message says what the child is for:
 *
 *   PROTO_SCAN   {"files": [PATH, ...], "log_level": N, "inspect": BOOL}
 *                fds: the sealed snapshot of each file, then the status page.
 *                The scanner dlopens each snapshot, calls its entry
 *                function, validates the descriptor and answers each file
 *                with PROTO_PLUGIN, then PROTO_DONE, and exits. "inspect"
 *                (optional, --check-plugin) adds an INSPECT to each answer.
 *   PROTO_CHECK  PLAN, fds: one snapshot per PLAN.plugins entry, then the
 *                status page. A dry run: loads the plugins, inits the
 *                operators, instantiates every one and destroys them again,
 *                closes them; answers one final PROTO_STATE, which on
 *                success ("stopped") carries the "datasources" it built.
 *   PROTO_RUN    PLAN, fds as for PROTO_CHECK. Runs the session: PROTO_STATE
 *                "running" once every start succeeded, PROTO_EVENTS while
 *                someone watches, and a final PROTO_STATE when it ended.
 *
 * and later, to a session worker:
 *
 *   PROTO_STOP   {}                   end the session (the undos run)
 *   PROTO_WATCH  {"watchers": N}      N > 0: serialise events and send them
 *
 * Child -> supervisor:
 *
 *   PROTO_PLUGIN {"index": I, "plugin": DESCRIPTOR}  file I loads (descriptor.h)
 *                {..., "inspect": INSPECT}  when asked: {"struct_size": N,
 *                  "operator_struct_sizes": [N, ...] (the plugin's own
 *                  structs, before the loader copied them), "exports": [NAME,
 *                  ...] (of the first 64 symbols the file exports, those
 *                  besides the entry function), "n_exports": N (how many it
 *                  exports besides the entry) or "exports_error": TEXT}
 *                {"index": I, "error": "PATH: STEP: REASON", "errno": E}  it is
 *                refused (E > 0, the loader's error)
 *   PROTO_DONE   {}   the scanner answered every file
 *   PROTO_STATE  {"state": "running", "datasources": [{"name": N, "fields":
 *                  [{"name": N, "type": T, "owner": OP, and when set by
 *                  field_set_meta "description", "unit", "width",
 *                  "hidden"}, ...], "rounds": true when the gadget sized
 *                  its batches (each is one round)}, ...]}
 *                {"state": "stopped"} or {"state": "failed", "error": TEXT}:
 *                  the last message; the child then closes its operators and
 *                  exits 0. Any other end (a signal, another exit status, no
 *                  final state) is a crash, explained from the status page.
 *   PROTO_EVENTS struct proto_events, then complete varlink reply messages
 *                (each a JSON object ending in a NUL byte) for watchers.
 *   PROTO_METRICS {"step": I}, fds: one memfd sealed against writing,
 *                shrinking and growing (F_SEAL_WRITE|SHRINK|GROW), at most
 *                PROTO_METRICS_MAX bytes: the latest metrics text that the
 *                operator instance at step I of the plan published
 *                (host->metrics_publish), replacing its previous one. The
 *                worker sends only the newest text of each instance (one it
 *                could not send yet is replaced), and the last one before
 *                its final PROTO_STATE. The supervisor maps it read-only and
 *                checks the text only when a scrape serves it: the file
 *                cannot change under the reader, and neither a worker that
 *                hangs nor one that dies can touch what was sent.
 *
 * PLAN (JSON):
 *   {"session": CONFIG_SESSION,   the pipeline definition, with positions
 *    "order": [OPERATOR, ...],    the supervisor's plan; the worker plans
 *                                 again from CONFIG_SESSION and fails when
 *                                 its order differs (a plugin that changed)
 *    "plugins": [PATH, ...],      the snapshot fd of each, in message order
 *    "globals_file": PATH,        the daemon config's global params of the
 *    "globals": [CONFIG_OPERATOR, ...],  operators in the plan
 *    "log_level": N, "nofile": N,  the supervisor's log level; the soft
 *                                 RLIMIT_NOFILE the worker runs with
 *    "logs_directory": PATH,      the worker's working directory (relative
 *                                 paths in params resolve there)
 *    "memory_rlimit": BYTES}      0, or the memory-max to apply as
 *                                 RLIMIT_DATA above the worker's baseline
 *                                 (when no cgroup applies it)
 *   CONFIG_SESSION = {"name", "file", "line", "column", "gadget",
 *     "gadget_line", "gadget_column", "duration_nsec", "operators":
 *     [CONFIG_OPERATOR]}; CONFIG_OPERATOR = {"name", "line", "column",
 *     "params": [{"key", "value", "line", "column"}, ...]} (positions are
 *     in the session's file, or in globals_file; "file" is absent for a
 *     session from no file: an ad-hoc run)
 */
#ifndef OPHOST_DAEMON_PROTO_H
#define OPHOST_DAEMON_PROTO_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The child's end of the socket pair. */
#define PROTO_CHILD_FD 3

#define PROTO_MESSAGE_MAX (1024 * 1024)
#define PROTO_FDS_MAX 250
/* The largest metrics text of one operator instance (PROTO_METRICS). */
#define PROTO_METRICS_MAX (64u * 1024 * 1024)
/* What a worker puts into one PROTO_EVENTS message, at most. */
#define PROTO_EVENTS_CHUNK (64 * 1024)

enum proto_type {
    PROTO_SCAN = 1,
    PROTO_CHECK,
    PROTO_RUN,
    PROTO_STOP,
    PROTO_WATCH,
    PROTO_PLUGIN,
    PROTO_DONE,
    PROTO_STATE,
    PROTO_EVENTS,
    PROTO_METRICS,
};

struct proto_header {
    uint32_t type;       /* enum proto_type */
    uint32_t reserved;   /* 0 */
};

/* The head of a PROTO_EVENTS payload. */
struct proto_events {
    uint64_t dropped_before; /* events the worker could not send before these */
};

struct proto_msg {
    uint32_t type;
    const char *data;    /* the payload (in the caller's buffer) */
    size_t len;
    int fds[PROTO_FDS_MAX];
    size_t n_fds;        /* received descriptors, owned by the caller */
};

/* A SOCK_SEQPACKET pair, close-on-exec, with send buffers raised so that a
 * PROTO_MESSAGE_MAX message fits. 0 or a negative errno. */
int proto_socketpair(int ret[2]);

/* Sends one message; never blocks if fd is non-blocking (-EAGAIN then).
 * Returns 0 or a negative errno (-EMSGSIZE: too large). */
int proto_send(int fd, uint32_t type, const void *payload, size_t len, const int *fds,
               size_t n_fds);
/* The same with o serialised (o stays the caller's). */
int proto_send_json(int fd, uint32_t type, json_object *o, const int *fds, size_t n_fds);

/*
 * Receives one message into buf (cap bytes, at least PROTO_MESSAGE_MAX +
 * sizeof(struct proto_header) for the largest). Returns 1 and fills m (its
 * data points into buf), 0 at end of file, -EAGAIN, -EBADMSG for a
 * truncated or malformed message (its fds are closed), or another negative
 * errno. Received fds are close-on-exec.
 */
int proto_recv(int fd, struct proto_msg *m, void *buf, size_t cap);
/* Closes the fds of m that the caller did not take (set to -1). */
void proto_msg_close_fds(struct proto_msg *m);

/* The payload as a JSON object; NULL if it is not one. */
json_object *proto_parse_json(const struct proto_msg *m);

/* CONFIG_SESSION / CONFIG_OPERATOR as above. */
json_object *proto_session_to_json(const struct config_session *cs);
json_object *proto_operator_to_json(const struct config_operator *co);
/* Builds cs from JSON (positions point into cs->file; every string is
 * owned by cs). 0 or -EBADMSG / -ENOMEM. */
int proto_session_from_json(json_object *o, struct config_session *cs);
/* Builds *co from JSON, its positions in file (which must outlive co);
 * 0 or -EBADMSG / -ENOMEM. */
int proto_operator_from_json(json_object *o, const char *file, struct config_operator *co);

/* Small accessors for strict parsing: the member's value if it has the
 * type, else NULL / false. */
const char *proto_json_string(json_object *o, const char *key);
bool proto_json_uint(json_object *o, const char *key, uint64_t *ret);

#endif

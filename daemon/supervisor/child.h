/*
 * child.h — a process that runs plugin code, seen from the supervisor: the
 * scanner, a dry run, or a session's worker (worker/worker.h). A child is
 * ophostd itself re-executed with --worker, with one end of a socket pair
 * on its fd 3 (core/proto.h) and a status page (core/status.h) shared with
 * the supervisor.
 *
 * The supervisor never waits for a child: its messages and its end arrive
 * on the main loop. A deadline watchdog samples every child's status page
 * once per tick: a call into plugin code that has not returned within its
 * deadline gets the child killed (SIGKILL), and the end says so. Children
 * are placed in their own cgroup with the session's limits when the
 * supervisor runs with a delegated cgroup (cgroup.h), else the worker
 * applies memory-max as RLIMIT_DATA and the supervisor cpu-weight as a
 * nice value.
 */
#ifndef OPHOST_DAEMON_CHILD_H
#define OPHOST_DAEMON_CHILD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "proto.h"
#include "status.h"

struct child;

/* How long one call into plugin code may take, by kind (microseconds). */
struct child_deadlines {
    uint64_t load_usec;      /* CALL_DLOPEN, CALL_ENTRY */
    uint64_t data_usec;      /* process() and loop callbacks */
    uint64_t callback_usec;  /* every other callback */
};

/* How a child ended. */
enum child_end {
    CHILD_EXITED,        /* code = exit status */
    CHILD_SIGNALED,      /* code = signal */
    CHILD_STUCK,         /* killed by the watchdog: call overran stuck_usec */
    CHILD_KILLED,        /* killed by the supervisor: kill_reason */
};

struct child_exit {
    enum child_end how;
    int code;
    bool core_dumped;
    uint32_t call;         /* the call published when it ended (status.h) */
    uint64_t stuck_usec;   /* CHILD_STUCK: the deadline it overran */
    uint64_t max_rss;      /* peak resident memory, bytes */
    bool oom;              /* its cgroup's memory limit was hit */
    char *kill_reason;     /* CHILD_KILLED */
};

/* A message from the child (its payload valid during the call; fds it
 * sent are closed after the call unless taken: set to -1). */
typedef void (*child_message_fn)(struct child *c, struct proto_msg *m, void *userdata);
/* The child's process ended and every message it sent was delivered.
 * child_exit_info() tells how. The owner frees c (child_free) when done. */
typedef void (*child_end_fn)(struct child *c, void *userdata);

struct child_spec {
    const char *what;                 /* for argv and logs: "session demo", "scanner" */
    size_t n_counters;                /* instance counters in the status page */
    struct child_deadlines deadlines;
    const struct config_limits *limits; /* NULL: none */
    const char *cgroup_name;          /* leaf name when cgroups apply */
    child_message_fn on_message;
    child_end_fn on_end;
    void *userdata;
};

/* The program children run: /proc/self/exe by default (ophostd); tests set
 * the built ophostd. */
void child_set_executable(const char *path);

/*
 * Starts a child; then send it its first message (child_send_first). Returns
 * 0 and the child in *ret, or a negative errno with a malloc'd reason in
 * *ret_error.
 */
int child_spawn(sd_event *loop, const struct child_spec *spec, struct child **ret,
                char **ret_error);

/* Sends the first message: o, with fds (not taken) and the status page
 * appended. Also sends later messages (without the page). 0 or a negative
 * errno (-EMSGSIZE: o is too large). */
int child_send_first(struct child *c, uint32_t type, json_object *o, const int *fds,
                     size_t n_fds);
int child_send(struct child *c, uint32_t type, json_object *o);

/* Kills a running child (SIGKILL); its end is CHILD_KILLED with reason. */
void child_kill(struct child *c, const char *reason);

/* Frees c. A child still running is killed first and reaped later, without
 * callbacks. Returns NULL. */
struct child *child_free(struct child *c);
/* Waits for the children child_free killed (they end at once) and frees
 * what is left of them: before the loop goes away. */
void child_reap_orphans(void);

pid_t child_pid(const struct child *c);
bool child_running(const struct child *c);
struct status_page *child_status(const struct child *c);
/* Valid once on_end ran. */
const struct child_exit *child_exit_info(const struct child *c);

/* The signal's name: "SIGSEGV", or "signal 42". Returns buf. */
const char *signal_name(int signo, char buf[32]);

/* Whether signo is what a fault of the process's own code raises (SIGSEGV,
 * SIGBUS, SIGABRT, ...), rather than a kill from outside. */
bool signal_is_crash(int signo);

/* "10s", "250ms": a deadline for messages. Returns buf. */
const char *format_usec(uint64_t usec, char buf[32]);

/*
 * The end of a session's worker (or a dry run) as a sentence, given the
 * operator and plugin that call named (NULL when no plugin code ran, or
 * for a plugin's loading steps: then plugin only):
 *   "operator 'x' (plugin x.so) crashed in process(): SIGSEGV"
 *   "operator 'x' stuck in process() for 10s"
 *   "plugin x.so crashed while loading: SIGBUS"
 *   "memory limit 64M reached: operator 'x' (plugin x.so) crashed in ..."
 * Caller frees; NULL on ENOMEM.
 */
char *child_describe_end(const struct child_exit *e, const char *operator_name,
                         const char *plugin, const struct config_limits *limits);

#endif

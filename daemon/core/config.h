/*
 * config.h — the daemon configuration (ophostd.yaml) and the pipeline files
 * (pipelines.d/NAME.yaml), parsed with libyaml into plain structures. This
 * module checks YAML structure, keys and the types of its own keys; operator
 * names and param values are checked later against the registry (plan.c),
 * using the positions recorded here.
 */
#ifndef OPHOST_DAEMON_CONFIG_H
#define OPHOST_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* Where something was written: for error messages "file:line:column". */
struct config_pos {
    const char *file; /* points to the owning structure's file name */
    unsigned line;    /* 1-based */
    unsigned column;  /* 1-based */
};

/* One "key: value" param. A YAML sequence of scalars is joined with ",". */
struct config_param {
    char *key;
    char *value;
    struct config_pos pos; /* of the key */
};

/* An operator named in a config with its params. */
struct config_operator {
    char *name;
    struct config_pos pos; /* of the name */
    struct config_param *params;
    size_t n_params;
};

enum config_restart {
    CONFIG_RESTART_NO,
    CONFIG_RESTART_ON_FAILURE,
};

/* What a session's worker may use, and how long its plugin code may take
 * per call (enforced by the supervisor; see README "Limits"). */
struct config_limits {
    uint64_t memory_max;              /* bytes; 0 = no limit */
    uint64_t tasks_max;               /* processes and threads; 0 = no limit */
    uint64_t cpu_weight;              /* 1..10000, as cgroup cpu.weight */
    uint64_t process_deadline_nsec;   /* process() and loop callbacks */
    uint64_t callback_deadline_nsec;  /* every other callback */
};

#define CONFIG_MEMORY_MAX_DEFAULT (512ULL << 20)
#define CONFIG_TASKS_MAX_DEFAULT 256
#define CONFIG_CPU_WEIGHT_DEFAULT 100
#define CONFIG_PROCESS_DEADLINE_DEFAULT (10ULL * 1000000000ULL)
#define CONFIG_CALLBACK_DEADLINE_DEFAULT (30ULL * 1000000000ULL)

/* The limits of a session that sets none. */
struct config_limits config_limits_default(void);

struct config_session {
    char *name;                 /* [A-Za-z0-9_.-]+ */
    char *file;                 /* the pipeline file it came from */
    struct config_pos pos;      /* of the session name */
    char *gadget;               /* mandatory */
    struct config_pos gadget_pos;
    struct config_operator *operators; /* in file order; may include the gadget's params */
    size_t n_operators;
    bool autostart;             /* default true */
    uint64_t duration_nsec;     /* 0 = run until stopped */
    enum config_restart restart;   /* default no */
    uint64_t restart_delay_nsec;   /* first backoff, doubles up to 5 min; default 1 s */
    struct config_limits limits;
};

struct config_pipelines {
    struct config_session *sessions; /* sorted by name */
    size_t n_sessions;
};

struct daemon_config {
    char *file;                  /* NULL when running on compiled-in defaults */
    char **plugin_dirs;          /* NULL-terminated, at least one */
    char *pipeline_dir;
    char *control_socket;
    char *logs_directory;        /* workers run here: relative paths in params resolve here */
    char *control_group;         /* NULL = root only for mutating requests */
    unsigned control_max_connections;   /* the oldest idle one goes for a new one */
    uint64_t control_idle_timeout_nsec; /* connections without a call are closed */
    char *metrics_listen;        /* "ADDRESS:PORT" of /metrics; NULL = off (the default) */
    int log_level;               /* OPHOST_LOG_* (syslog priority), default info */
    struct config_operator *operators; /* global params per operator */
    size_t n_operators;
};

#define CONFIG_CONTROL_MAX_CONNECTIONS_DEFAULT 1024
#define CONFIG_CONTROL_IDLE_TIMEOUT_DEFAULT (60ULL * 1000000000ULL)

/*
 * Parses a metrics-listen value: "IPV4:PORT" or "[IPV6]:PORT", numeric
 * (no name lookups), port 1..65535. Returns 0 with the address in *ret
 * (and its length in *ret_len), or -EINVAL.
 */
struct sockaddr_storage;
int config_parse_listen(const char *s, struct sockaddr_storage *ret, unsigned *ret_len);

/* Compiled-in defaults (overridable at build time). */
#ifndef OPHOST_DEFAULT_PLUGIN_DIR
#define OPHOST_DEFAULT_PLUGIN_DIR "/usr/lib/ophost/plugins"
#endif
#ifndef OPHOST_DEFAULT_CONFIG_FILE
#define OPHOST_DEFAULT_CONFIG_FILE "/etc/ophost/ophostd.yaml"
#endif
#ifndef OPHOST_DEFAULT_PIPELINE_DIR
#define OPHOST_DEFAULT_PIPELINE_DIR "/etc/ophost/pipelines.d"
#endif
#ifndef OPHOST_DEFAULT_CONTROL_SOCKET
#define OPHOST_DEFAULT_CONTROL_SOCKET "/run/ophost/ophostd.sock"
#endif
/* The logs directory without logs-directory: $LOGS_DIRECTORY (what systemd
 * sets for LogsDirectory=; its first path) or this. */
#ifndef OPHOST_DEFAULT_LOGS_DIRECTORY
#define OPHOST_DEFAULT_LOGS_DIRECTORY "/var/log/ophost"
#endif

/*
 * Reads the daemon config from path. A missing file is not an error when
 * must_exist is false: the defaults are used. Problems are appended to errs,
 * one line each, "FILE:LINE:COL: key 'x': reason (did you mean 'y'?)".
 * Returns 0 and stores a new config in *ret (free with daemon_config_free),
 * -EINVAL if errs got any line, or another negative errno (I/O, ENOMEM).
 */
int config_load_daemon(const char *path, bool must_exist, struct daemon_config **ret,
                       struct errors *errs);
struct daemon_config *daemon_config_free(struct daemon_config *c);

/*
 * Reads every "*.yaml" and "*.yml" file of dir in name order. A missing dir
 * holds no sessions if missing_ok, else is an error (-ENOENT). A session
 * defined twice is an error naming both files. Returns 0 and stores the
 * result in *ret (free with config_pipelines_free), -EINVAL with lines in
 * errs, or another negative errno (with a line in errs).
 */
int config_load_pipelines(const char *dir, bool missing_ok, struct config_pipelines **ret,
                          struct errors *errs);
/* The same for one file's text (used by the loader above and by the fuzzer). */
int config_parse_pipelines(const char *file, const char *text, size_t len,
                           struct config_pipelines *into, struct errors *errs);
struct config_pipelines *config_pipelines_free(struct config_pipelines *p);

/* Frees what a session holds and zeroes it (for sessions built in memory,
 * e.g. the control socket's ad-hoc runs). */
void config_session_clear(struct config_session *s);
/* The same for one operator. */
void config_operator_clear(struct config_operator *o);

/* Whether s is a valid session name: [A-Za-z0-9_.-]+. */
bool config_session_name_is_valid(const char *s);

/* The operator named name in a session's operators, NULL if not listed. */
const struct config_operator *config_session_operator(const struct config_session *cs,
                                                      const char *name);

/* An error line's position prefix: "FILE:LINE:COL: " for a position in a
 * file, "" for none (file NULL: sessions that come from no file). Returns
 * buf. */
#define CONFIG_POS_PREFIX_MAX 4160
const char *config_pos_prefix(struct config_pos pos, char buf[CONFIG_POS_PREFIX_MAX]);

/* Whether two sessions are defined identically (everything but file/pos), so
 * a reload can leave it running. */
bool config_session_equal(const struct config_session *a, const struct config_session *b);

/* Finds a session by name, NULL if absent. */
const struct config_session *config_pipelines_find(const struct config_pipelines *p,
                                                   const char *name);

#endif

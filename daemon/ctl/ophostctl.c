/*
 * ophostctl — the command-line client of ophostd's control socket
 * (org.ophost.Manager over varlink: NUL-terminated JSON messages). Tables
 * for people by default, --json for scripts. Exit status: 0 success, 1 the
 * daemon answered with an error (or a session failed), 2 usage error, 3 the
 * daemon cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef OPHOST_DEFAULT_CONTROL_SOCKET
#define OPHOST_DEFAULT_CONTROL_SOCKET "/run/ophost/ophostd.sock"
#endif
#ifndef OPHOST_VERSION
#define OPHOST_VERSION "unknown"
#endif

#define IFACE "org.ophost.Manager."
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3
#define REPLY_MAX (256u * 1024 * 1024)

static const char *arg_socket;
static bool arg_json;
static volatile sig_atomic_t interrupted;

struct conn {
    int fd;
    char *buf;
    size_t len, cap, start;
};

/* ---------------------------------------------------------------- help */

static const struct help {
    const char *cmd;
    const char *text;
} helps[] = {
    { "list",
      "Usage: ophostctl [--json] list plugins|operators|sessions\n"
      "\n"
      "  plugins    every plugin file: loaded, quarantined (its code crashed or hung\n"
      "             3 times within 10 minutes) or refused, with the reason\n"
      "  operators  every operator with its kind, plugin, priority and params (defaults)\n"
      "  sessions   configured and ad-hoc sessions: state, uptime, events in/out,\n"
      "             filtered (removed by operators on purpose), dropped (accepted but not\n"
      "             written, e.g. a full disk) and lost (the gadget could not deliver them)\n" },
    { "describe",
      "Usage: ophostctl [--json] describe SESSION\n"
      "\n"
      "Shows a session's gadget, state, resolved operator order with each operator's\n"
      "params, and (while it runs) the fields of its data sources.\n" },
    { "start",
      "Usage: ophostctl start SESSION\n"
      "\n"
      "Starts a configured session now (needs root or the daemon's control-group).\n" },
    { "stop",
      "Usage: ophostctl stop SESSION\n"
      "\n"
      "Stops a configured or ad-hoc session (needs root or the daemon's control-group).\n" },
    { "watch",
      "Usage: ophostctl [--json] watch SESSION\n"
      "\n"
      "Prints the events of a running session as they happen, one line each\n"
      "(name=value pairs, or a JSON object per line with --json), until the session\n"
      "ends or Ctrl-C. A reader too slow for the session misses events; it is told\n"
      "how many on standard error.\n" },
    { "run",
      "Usage: ophostctl [--json] run GADGET [OPTIONS]\n"
      "\n"
      "Runs an ad-hoc session (not written to disk) and prints its events until the\n"
      "gadget completes or Ctrl-C, which ends the session. Needs root or the daemon's\n"
      "control-group.\n"
      "\n"
      "  -p, --param KEY=VALUE          a param of the gadget (repeatable)\n"
      "  -o, --operator OP[:KEY=VALUE,...]\n"
      "                                 add operator OP with params (repeatable); a\n"
      "                                 value may contain commas: 'fields=a:u64,b:string'\n"
      "  -f, --filter EXPR              add the filter operator with expr EXPR\n"
      "  -d, --duration DURATION        end the session after DURATION (e.g. 10s)\n"
      "  -n, --name NAME                name of the session (default run-N)\n"
      "\n"
      "Example: ophostctl run synthetic -p rate=5 -p count=3 -o print:path=/tmp/ev.log\n" },
    { "stats",
      "Usage: ophostctl [--json] stats [SESSION]\n"
      "\n"
      "Per running session and operator: events in, out, filtered, dropped, batches\n"
      "and the time spent in the operator.\n" },
    { "reload",
      "Usage: ophostctl reload\n"
      "\n"
      "Re-reads the daemon config and pipeline files (like systemctl reload ophostd).\n"
      "Prints the errors and exits 1 if the new configuration is rejected; the running\n"
      "one is then kept.\n" },
    { "unquarantine",
      "Usage: ophostctl unquarantine PLUGIN\n"
      "\n"
      "Lets sessions use a quarantined plugin again (its name, file name or path;\n"
      "replacing the file does the same). Needs root or the daemon's control-group.\n" },
};

static void usage(FILE *f) {
    fprintf(f,
            "Usage: ophostctl [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Inspect and drive ophostd through its control socket.\n"
            "\n"
            "Commands:\n"
            "  list plugins|operators|sessions   what the daemon has loaded and runs\n"
            "  describe SESSION                  order, params and fields of a session\n"
            "  start SESSION | stop SESSION      start or stop a configured session\n"
            "  watch SESSION                     stream a running session's events\n"
            "  run GADGET [-o OP[:K=V,...]]... [--filter EXPR]\n"
            "                                    run an ad-hoc session, stream its events\n"
            "  stats [SESSION]                   per-operator counters\n"
            "  reload                            re-read the configuration\n"
            "  unquarantine PLUGIN               let sessions use a quarantined plugin again\n"
            "\n"
            "Options:\n"
            "  -s, --socket PATH  control socket (default $OPHOST_SOCKET or %s)\n"
            "  -j, --json         print JSON for scripts\n"
            "  -h, --help         this help; COMMAND --help for a command's help\n"
            "      --version      print the version\n"
            "\n"
            "Exit status: 0 ok, 1 error reply or failed session, 2 usage, 3 cannot connect.\n",
            OPHOST_DEFAULT_CONTROL_SOCKET);
}

static int command_help(const char *cmd, FILE *f) {
    for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
        if (strcmp(helps[i].cmd, cmd) == 0) {
            fputs(helps[i].text, f);
            return 0;
        }
    usage(f);
    return 0;
}

__attribute__((format(printf, 2, 3)))
static int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "ophostctl: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fprintf(stderr, "Try 'ophostctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

/* ----------------------------------------------------------- protocol */

static int conn_open(struct conn *c) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    *c = (struct conn){ .fd = -1 };
    if (strlen(arg_socket) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "ophostctl: socket path '%s' is too long\n", arg_socket);
        return -EXIT_USAGE;
    }
    strcpy(sa.sun_path, arg_socket);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        fprintf(stderr, "ophostctl: cannot connect to %s: %s%s\n", arg_socket, strerror(errno),
                errno == ENOENT || errno == ECONNREFUSED ? " (is ophostd running?)" : "");
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return -EXIT_CONNECT;
    }
    return 0;
}

static void conn_close(struct conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    *c = (struct conn){ .fd = -1 };
}

static int conn_send(struct conn *c, const char *method, json_object *params, bool more) {
    json_object *msg = json_object_new_object();
    const char *s;
    size_t len, off = 0;

    json_object_object_add(msg, "method", json_object_new_string(method));
    json_object_object_add(msg, "parameters", params ? params : json_object_new_object());
    if (more)
        json_object_object_add(msg, "more", json_object_new_boolean(true));
    s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
    while (off <= len) { /* the NUL too */
        ssize_t n = send(c->fd, s + off, len + 1 - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR && !interrupted)
                continue;
            fprintf(stderr, "ophostctl: cannot send to %s: %s\n", arg_socket, strerror(errno));
            json_object_put(msg);
            return -EXIT_CONNECT;
        }
        off += (size_t) n;
    }
    json_object_put(msg);
    return 0;
}

/* Reads the next reply into *ret. 0, or -1 on interruption (Ctrl-C), or
 * -EXIT_* after printing why. */
static int conn_recv(struct conn *c, json_object **ret) {
    for (;;) {
        char *nul = c->len > c->start ? memchr(c->buf + c->start, '\0', c->len - c->start) : NULL;
        ssize_t n;
        if (nul) {
            json_object *o = json_tokener_parse(c->buf + c->start);
            c->start = (size_t) (nul - c->buf) + 1;
            if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                fprintf(stderr, "ophostctl: the daemon sent a malformed reply\n");
                return -EXIT_ERROR;
            }
            *ret = o;
            return 0;
        }
        if (c->start > 0) {
            memmove(c->buf, c->buf + c->start, c->len - c->start);
            c->len -= c->start;
            c->start = 0;
        }
        if (c->cap - c->len < 65536) {
            size_t cap = c->cap ? c->cap * 2 : 131072;
            char *p;
            if (cap > REPLY_MAX) {
                fprintf(stderr, "ophostctl: reply larger than %u bytes\n", REPLY_MAX);
                return -EXIT_ERROR;
            }
            p = realloc(c->buf, cap);
            if (!p) {
                fprintf(stderr, "ophostctl: out of memory\n");
                return -EXIT_ERROR;
            }
            c->buf = p;
            c->cap = cap;
        }
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR) {
            if (interrupted)
                return -1;
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "ophostctl: the daemon closed the connection%s%s\n",
                    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            return -EXIT_CONNECT;
        }
        c->len += (size_t) n;
    }
}

/* A member as text, "" when absent (never NULL). */
static const char *jstr(json_object *o, const char *key) {
    json_object *v;
    const char *s;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return "";
    s = json_object_get_string(v);
    return s ? s : "";
}

static json_object *jget(json_object *o, const char *key) {
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static uint64_t ju64(json_object *o, const char *key) {
    json_object *v = jget(o, key);
    return v ? json_object_get_uint64(v) : 0;
}

static void print_json(json_object *o) {
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Prints an error reply for a person; returns EXIT_ERROR. */
static int print_error(json_object *reply) {
    const char *err = jget(reply, "error") ? jstr(reply, "error") : NULL;
    json_object *p = jget(reply, "parameters"), *lines;
    const char *name = jstr(p, "name");
    const char *short_name = err && strrchr(err, '.') ? strrchr(err, '.') + 1 : err;

    if (arg_json)
        print_json(reply);
    if (!err)
        err = "unknown error";
    if (strcmp(err, IFACE "NoSuchSession") == 0)
        fprintf(stderr, "ophostctl: no session named '%s'\n", name);
    else if (strcmp(err, IFACE "SessionNotRunning") == 0)
        fprintf(stderr, "ophostctl: session '%s' is not running (%s)\n", name, jstr(p, "state"));
    else if (strcmp(err, IFACE "SessionFailed") == 0)
        fprintf(stderr, "ophostctl: session '%s' failed: %s\n", name, jstr(p, "error"));
    else if (strcmp(err, IFACE "PermissionDenied") == 0)
        fprintf(stderr, "ophostctl: permission denied: %s\n", jstr(p, "reason"));
    else if ((lines = jget(p, "errors")) && json_object_is_type(lines, json_type_array)) {
        fprintf(stderr, "ophostctl: %s:\n",
                strcmp(err, IFACE "InvalidPipeline") == 0 ? "invalid pipeline"
                : strcmp(err, IFACE "ReloadFailed") == 0
                    ? "reload failed, the running configuration is kept"
                    : short_name);
        for (size_t i = 0; i < json_object_array_length(lines); i++)
            fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(lines, i)));
    } else if (strcmp(err, "org.varlink.service.InvalidParameter") == 0) {
        if (jget(p, "reason"))
            fprintf(stderr, "ophostctl: invalid parameter '%s': %s\n", jstr(p, "parameter"),
                    jstr(p, "reason"));
        else
            fprintf(stderr, "ophostctl: invalid parameter '%s'\n", jstr(p, "parameter"));
    } else
        fprintf(stderr, "ophostctl: %s %s\n", err,
                p ? json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN) : "");
    return EXIT_ERROR;
}

/* One call with one reply: prints its parameters as JSON with --json, else
 * with show(). Takes params. Returns 0 or an exit status. */
static int call(const char *method, json_object *params, void (*show)(json_object *p)) {
    struct conn c;
    json_object *reply = NULL, *p;
    int r;

    r = conn_open(&c);
    if (r < 0) {
        json_object_put(params);
        return -r;
    }
    r = conn_send(&c, method, params, false);
    if (r >= 0)
        r = conn_recv(&c, &reply);
    conn_close(&c);
    if (r < 0)
        return r == -1 ? EXIT_ERROR : -r;
    if (jget(reply, "error")) {
        r = print_error(reply);
        json_object_put(reply);
        return r;
    }
    p = json_object_get(jget(reply, "parameters"));
    json_object_put(reply);
    if (!p)
        p = json_object_new_object();
    if (arg_json)
        print_json(p);
    else
        show(p);
    json_object_put(p);
    return 0;
}

/* -------------------------------------------------------------- tables */

#define MAX_COLS 10

struct table {
    size_t n_cols;
    const char *head[MAX_COLS];
    char **cells; /* row-major */
    size_t n_rows;
};

static void table_add(struct table *t, ...) {
    va_list ap;
    char **cells = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(char *));
    if (!cells)
        return;
    t->cells = cells;
    va_start(ap, t);
    for (size_t i = 0; i < t->n_cols; i++) {
        const char *s = va_arg(ap, const char *);
        cells[t->n_rows * t->n_cols + i] = strdup(s ? s : "-");
    }
    va_end(ap);
    t->n_rows++;
}

static void table_print(struct table *t) {
    size_t w[MAX_COLS];
    for (size_t i = 0; i < t->n_cols; i++) {
        w[i] = strlen(t->head[i]);
        for (size_t r = 0; r < t->n_rows; r++) {
            const char *s = t->cells[r * t->n_cols + i];
            size_t l = s ? strlen(s) : 0;
            if (l > w[i])
                w[i] = l;
        }
    }
    for (size_t r = 0; r <= t->n_rows; r++)
        for (size_t i = 0; i < t->n_cols; i++) {
            const char *s = r == 0 ? t->head[i] : t->cells[(r - 1) * t->n_cols + i];
            if (i + 1 == t->n_cols)
                printf("%s\n", s ? s : "");
            else
                printf("%-*s  ", (int) w[i], s ? s : "");
        }
    for (size_t k = 0; k < t->n_rows * t->n_cols; k++)
        free(t->cells[k]);
    free(t->cells);
}

static const char *fmt_u64(char *buf, size_t n, uint64_t v) {
    snprintf(buf, n, "%" PRIu64, v);
    return buf;
}

static const char *fmt_duration(char *buf, size_t n, uint64_t usec) {
    uint64_t s = usec / 1000000u;
    if (s < 60)
        snprintf(buf, n, "%" PRIu64 ".%01" PRIu64 "s", s, usec / 100000u % 10);
    else if (s < 3600)
        snprintf(buf, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
    else
        snprintf(buf, n, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
    return buf;
}

/* ------------------------------------------------------------ commands */

static void show_plugins(json_object *p) {
    struct table t = { 5, { "PLUGIN", "VERSION", "STATE", "OPERATORS", "PATH" } };
    json_object *a = jget(p, "plugins");

    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i), *ops = jget(o, "operators");
        char names[1024] = "";
        for (size_t k = 0; k < json_object_array_length(ops); k++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof(names) - l, "%s%s", k ? "," : "",
                     json_object_get_string(json_object_array_get_idx(ops, k)));
        }
        table_add(&t, jstr(o, "name")[0] ? jstr(o, "name") : "-",
                  jstr(o, "version")[0] ? jstr(o, "version") : "-", jstr(o, "state"),
                  names[0] ? names : "-", jstr(o, "path"));
    }
    table_print(&t);
    /* Why each plugin that is not loaded is not. */
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i);
        if (jget(o, "reason"))
            printf("%s %s: %s\n", jstr(o, "path"), jstr(o, "state"), jstr(o, "reason"));
    }
}

static void show_operators(json_object *p) {
    struct table t = { 5, { "OPERATOR", "KIND", "PLUGIN", "PRIORITY", "PARAMS" } };
    json_object *a = jget(p, "operators");

    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i), *ps = jget(o, "instance_params");
        char params[2048] = "", prio[16];
        for (size_t k = 0; k < json_object_array_length(ps); k++) {
            json_object *q = json_object_array_get_idx(ps, k);
            size_t l = strlen(params);
            const char *def = jget(q, "default") ? jstr(q, "default") : NULL;
            json_object *mand = jget(q, "mandatory");
            snprintf(params + l, sizeof(params) - l, "%s%s=%s%s%s", k ? " " : "",
                     jstr(q, "key"), mand && json_object_get_boolean(mand) ? "(mandatory)" : "",
                     def && strchr(def, ' ') ? "'" : "", def ? def : "");
            if (def && strchr(def, ' ')) {
                l = strlen(params);
                snprintf(params + l, sizeof(params) - l, "'");
            }
        }
        snprintf(prio, sizeof(prio), "%d", json_object_get_int(jget(o, "priority")));
        table_add(&t, jstr(o, "name"),
                  json_object_get_boolean(jget(o, "gadget")) ? "gadget" : "operator",
                  jstr(o, "plugin"), prio, params[0] ? params : "-");
    }
    table_print(&t);
}

static void show_sessions(json_object *p) {
    struct table t = { 9, { "SESSION", "GADGET", "STATE", "UPTIME", "EVENTS-IN", "EVENTS-OUT",
                            "FILTERED", "DROPPED", "LOST" } };
    json_object *a = jget(p, "sessions");

    if (json_object_array_length(a) == 0) {
        printf("no sessions configured\n");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i);
        char up[32], in[32], out[32], fi[32], dr[32], lo[32], name[300];
        bool running = ju64(o, "uptime_usec") > 0;
        snprintf(name, sizeof(name), "%s%s", jstr(o, "name"),
                 json_object_get_boolean(jget(o, "adhoc")) ? " (ad hoc)" : "");
        table_add(&t, name, jstr(o, "gadget"), jstr(o, "state"),
                  running ? fmt_duration(up, sizeof(up), ju64(o, "uptime_usec")) : "-",
                  fmt_u64(in, sizeof(in), ju64(o, "events_in")),
                  fmt_u64(out, sizeof(out), ju64(o, "events_out")),
                  fmt_u64(fi, sizeof(fi), ju64(o, "events_filtered")),
                  fmt_u64(dr, sizeof(dr), ju64(o, "events_dropped")),
                  fmt_u64(lo, sizeof(lo), ju64(o, "events_lost")));
    }
    table_print(&t);
    /* Why each failed or restarting session failed. */
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i);
        char when[48] = "", d[32];
        if (!jget(o, "error"))
            continue;
        if (jget(o, "next_retry_usec"))
            snprintf(when, sizeof(when), ", next in %s",
                     fmt_duration(d, sizeof(d), ju64(o, "next_retry_usec")));
        printf("%s %s", jstr(o, "name"), jstr(o, "state"));
        if (ju64(o, "restarts") || when[0])
            printf(" (%" PRIu64 " restarts%s)", ju64(o, "restarts"), when);
        printf(": %s\n", jstr(o, "error"));
    }
}

static int cmd_list(int argc, char **argv) {
    static const struct {
        const char *what, *method;
        void (*show)(json_object *p);
    } lists[] = {
        { "plugins", IFACE "ListPlugins", show_plugins },
        { "operators", IFACE "ListOperators", show_operators },
        { "sessions", IFACE "ListSessions", show_sessions },
    };

    if (argc != 2)
        return usage_error("list", "%s", argc < 2 ? "list what? plugins, operators or sessions"
                                                  : "too many arguments");
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (strcmp(argv[1], lists[i].what) == 0)
            return call(lists[i].method, NULL, lists[i].show);
    return usage_error("list", "unknown list '%s': expected plugins, operators or sessions",
                       argv[1]);
}

static json_object *name_param(const char *name) {
    json_object *p = json_object_new_object();
    json_object_object_add(p, "name", json_object_new_string(name));
    return p;
}

static void show_session(json_object *p) {
    json_object *a;

    printf("session:   %s%s\n", jstr(p, "name"),
           json_object_get_boolean(jget(p, "adhoc")) ? " (ad hoc)" : "");
    if (jget(p, "file"))
        printf("file:      %s\n", jstr(p, "file"));
    printf("gadget:    %s\n", jstr(p, "gadget"));
    printf("state:     %s\n", jstr(p, "state"));
    printf("autostart: %s\n", json_object_get_boolean(jget(p, "autostart")) ? "yes" : "no");
    printf("order:\n");
    a = jget(p, "order");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i);
        printf("  %zu. %s (plugin %s)\n", i + 1, jstr(o, "name"), jstr(o, "plugin"));
        json_object_object_foreach(jget(o, "params"), key, val)
            printf("       %s: %s\n", key, json_object_get_string(val));
    }
    a = jget(p, "datasources");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *ds = json_object_array_get_idx(a, i), *fields = jget(ds, "fields");
        struct table t = { 3, { "  FIELD", "TYPE", "ADDED BY" } };
        printf("data source %s:\n", jstr(ds, "name"));
        for (size_t k = 0; k < json_object_array_length(fields); k++) {
            json_object *f = json_object_array_get_idx(fields, k);
            char fname[200];
            snprintf(fname, sizeof(fname), "  %s", jstr(f, "name"));
            table_add(&t, fname, jstr(f, "type"), jstr(f, "owner"));
        }
        table_print(&t);
    }
    if (json_object_array_length(a) == 0)
        printf("data sources: known while the session runs\n");
    if ((a = jget(p, "problems")))
        for (size_t i = 0; i < json_object_array_length(a); i++)
            printf("problem: %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
    if (jget(p, "error"))
        printf("error:     %s\n", jstr(p, "error"));
    if (ju64(p, "restarts") > 0 || jget(p, "next_retry_usec")) {
        printf("restarts:  %" PRIu64, ju64(p, "restarts"));
        if (jget(p, "next_retry_usec")) {
            char d[32];
            printf(", next in %s", fmt_duration(d, sizeof(d), ju64(p, "next_retry_usec")));
        }
        printf("\n");
    }
    if ((a = jget(p, "limits"))) {
        char m[32], pd[32], cd[32];
        if (ju64(a, "memory_max"))
            snprintf(m, sizeof(m), "%" PRIu64 "M", ju64(a, "memory_max") >> 20);
        else
            snprintf(m, sizeof(m), "infinity");
        printf("limits:    memory-max %s, tasks-max %" PRIu64 ", cpu-weight %" PRIu64
               ", process-deadline %s, callback-deadline %s\n",
               m, ju64(a, "tasks_max"), ju64(a, "cpu_weight"),
               fmt_duration(pd, sizeof(pd), ju64(a, "process_deadline_usec")),
               fmt_duration(cd, sizeof(cd), ju64(a, "callback_deadline_usec")));
    }
}

static int cmd_describe(int argc, char **argv) {
    if (argc != 2)
        return usage_error("describe", "%s", argc < 2 ? "which session?" : "too many arguments");
    return call(IFACE "DescribeSession", name_param(argv[1]), show_session);
}

static void show_state(json_object *p) {
    printf("%s: %s\n", jstr(p, "name"), jstr(p, "state"));
}

static int cmd_start_stop(int argc, char **argv) {
    bool start = strcmp(argv[0], "start") == 0;

    if (argc != 2)
        return usage_error(argv[0], "%s", argc < 2 ? "which session?" : "too many arguments");
    return call(start ? IFACE "StartSession" : IFACE "StopSession", name_param(argv[1]),
                show_state);
}

static void print_event(json_object *ev) {
    bool first = true;
    if (arg_json) {
        printf("%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
        return;
    }
    json_object_object_foreach(ev, key, val) {
        printf("%s%s=", first ? "" : " ", key);
        first = false;
        if (!val)
            fputs("-", stdout);
        else if (json_object_is_type(val, json_type_string))
            fputs(json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE),
                  stdout);
        else
            fputs(json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN), stdout);
    }
    putchar('\n');
}

/* Streams a Watch or Run call's replies until its end. */
static int stream(const char *method, json_object *params) {
    struct conn c;
    int r, status = 0;

    r = conn_open(&c);
    if (r < 0) {
        json_object_put(params);
        return -r;
    }
    r = conn_send(&c, method, params, true);
    if (r < 0) {
        conn_close(&c);
        return -r;
    }
    for (;;) {
        json_object *reply = NULL, *p, *ev, *cont;
        r = conn_recv(&c, &reply);
        if (r == -1) { /* Ctrl-C: closing the connection ends the stream */
            status = 0;
            break;
        }
        if (r < 0) {
            status = -r;
            break;
        }
        if (jget(reply, "error")) {
            status = print_error(reply);
            json_object_put(reply);
            break;
        }
        p = jget(reply, "parameters");
        cont = jget(reply, "continues");
        if ((ev = jget(p, "event")))
            print_event(ev);
        else if (jget(p, "dropped"))
            fprintf(stderr, "ophostctl: missed %" PRIu64 " events (reading too slowly)\n",
                    ju64(p, "dropped"));
        else if (jget(p, "session") && !arg_json)
            fprintf(stderr, "ophostctl: %s session %s\n", strstr(method, "Run") ? "running"
                                                                               : "watching",
                    jstr(p, "session"));
        else if (jget(p, "ended") && !arg_json)
            fprintf(stderr, "ophostctl: session %s, %" PRIu64 " events\n", jstr(p, "state"),
                    ju64(p, "events"));
        if (fflush(stdout) != 0) {
            json_object_put(reply);
            status = EXIT_ERROR;
            break;
        }
        if (!cont || !json_object_get_boolean(cont)) {
            json_object_put(reply);
            break;
        }
        json_object_put(reply);
    }
    conn_close(&c);
    return status;
}

static int cmd_watch(int argc, char **argv) {
    if (argc != 2)
        return usage_error("watch", "%s", argc < 2 ? "which session?" : "too many arguments");
    return stream(IFACE "Watch", name_param(argv[1]));
}

/* Adds "k=v,k=v" to params; a piece without '=' continues the previous
 * value (so values may contain commas). */
static int parse_kv_list(const char *text, json_object *params, const char *what) {
    char *copy = strdup(text), *save = NULL, *last_key = NULL;
    int r = 0;

    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            const char *prev;
            char *joined;
            if (!last_key) {
                r = usage_error("run", "%s: expected KEY=VALUE", what);
                break;
            }
            prev = json_object_get_string(jget(params, last_key));
            joined = malloc(strlen(prev) + strlen(item) + 2);
            sprintf(joined, "%s,%s", prev, item);
            json_object_object_add(params, last_key, json_object_new_string(joined));
            free(joined);
            continue;
        }
        *eq = '\0';
        if (!item[0]) {
            r = usage_error("run", "%s: empty param name", what);
            break;
        }
        json_object_object_add(params, item, json_object_new_string(eq + 1));
        free(last_key);
        last_key = strdup(item);
    }
    free(last_key);
    free(copy);
    return r;
}

static int cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        { "param", required_argument, NULL, 'p' },
        { "operator", required_argument, NULL, 'o' },
        { "filter", required_argument, NULL, 'f' },
        { "duration", required_argument, NULL, 'd' },
        { "name", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "socket", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        {},
    };
    json_object *req = json_object_new_object(), *ops = json_object_new_array(),
                *gparams = json_object_new_object();
    int c, r;

    optind = 0; /* glibc: a full re-initialisation of getopt */
    while ((c = getopt_long(argc, argv, "p:o:f:d:n:js:h", opts, NULL)) >= 0) {
        switch (c) {
        case 'p':
            r = parse_kv_list(optarg, gparams, optarg);
            if (r)
                goto fail;
            break;
        case 'o': {
            json_object *op = json_object_new_object(), *ps = json_object_new_object();
            char *colon = strchr(optarg, ':');
            char name[128];
            snprintf(name, sizeof(name), "%.*s", colon ? (int) (colon - optarg) : (int) strlen(optarg),
                     optarg);
            if (!name[0]) {
                json_object_put(op);
                json_object_put(ps);
                r = usage_error("run", "-o '%s': missing operator name", optarg);
                goto fail;
            }
            if (colon && (r = parse_kv_list(colon + 1, ps, optarg))) {
                json_object_put(op);
                json_object_put(ps);
                goto fail;
            }
            json_object_object_add(op, "name", json_object_new_string(name));
            json_object_object_add(op, "params", ps);
            json_object_array_add(ops, op);
            break;
        }
        case 'f': {
            json_object *op = json_object_new_object(), *ps = json_object_new_object();
            json_object_object_add(ps, "expr", json_object_new_string(optarg));
            json_object_object_add(op, "name", json_object_new_string("filter"));
            json_object_object_add(op, "params", ps);
            json_object_array_add(ops, op);
            break;
        }
        case 'd':
            json_object_object_add(req, "duration", json_object_new_string(optarg));
            break;
        case 'n':
            json_object_object_add(req, "name", json_object_new_string(optarg));
            break;
        case 'j':
            arg_json = true;
            break;
        case 's':
            arg_socket = optarg;
            break;
        case 'h':
            command_help("run", stdout);
            r = 0;
            goto fail;
        default:
            r = usage_error("run", "%s", "invalid option");
            goto fail;
        }
    }
    if (argc - optind != 1) {
        r = usage_error("run", "%s", argc - optind < 1 ? "which gadget?" : "too many arguments");
        goto fail;
    }
    json_object_object_add(req, "gadget", json_object_new_string(argv[optind]));
    json_object_object_add(req, "params", gparams);
    json_object_object_add(req, "operators", ops);
    return stream(IFACE "Run", req);
fail:
    json_object_put(req);
    json_object_put(ops);
    json_object_put(gparams);
    return r;
}

static void show_stats(json_object *p) {
    json_object *a = jget(p, "sessions");

    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *s = json_object_array_get_idx(a, i), *ops = jget(s, "operators");
        struct table t = { 7, { "  OPERATOR", "EVENTS-IN", "EVENTS-OUT", "FILTERED", "DROPPED",
                                "BATCHES", "NS/EVENT" } };
        printf("%s%s (%s): %" PRIu64 " events emitted, %" PRIu64 " lost, %" PRIu64
               " watchers, %" PRIu64 " events dropped for slow watchers\n",
               i ? "\n" : "", jstr(s, "name"), jstr(s, "state"), ju64(s, "events_emitted"),
               ju64(s, "events_lost"), ju64(s, "watchers"), ju64(s, "watch_dropped"));
        for (size_t k = 0; k < json_object_array_length(ops); k++) {
            json_object *o = json_object_array_get_idx(ops, k);
            char name[200], in[32], out[32], fi[32], dr[32], ba[32], ns[32];
            uint64_t ein = ju64(o, "events_in");
            snprintf(name, sizeof(name), "  %s%s", jstr(o, "name"),
                     json_object_get_boolean(jget(o, "opted_out")) ? " (opted out)" : "");
            if (ein)
                snprintf(ns, sizeof(ns), "%.1f", (double) ju64(o, "ns_spent") / (double) ein);
            else
                snprintf(ns, sizeof(ns), "-");
            table_add(&t, name, fmt_u64(in, sizeof(in), ein),
                      fmt_u64(out, sizeof(out), ju64(o, "events_out")),
                      fmt_u64(fi, sizeof(fi), ju64(o, "filtered")),
                      fmt_u64(dr, sizeof(dr), ju64(o, "dropped")),
                      fmt_u64(ba, sizeof(ba), ju64(o, "batches")), ns);
        }
        table_print(&t);
    }
    if (json_object_array_length(a) == 0)
        printf("no running sessions\n");
}

static int cmd_stats(int argc, char **argv) {
    if (argc > 2)
        return usage_error("stats", "%s", "too many arguments");
    return call(IFACE "Stats", argc == 2 ? name_param(argv[1]) : NULL, show_stats);
}

static void show_reloaded(json_object *p) {
    printf("reloaded\n");
}

static int cmd_reload(int argc, char **argv) {
    if (argc != 1)
        return usage_error("reload", "%s", "too many arguments");
    return call(IFACE "Reload", NULL, show_reloaded);
}

static void show_unquarantined(json_object *p) {
    printf("quarantine lifted\n");
}

static int cmd_unquarantine(int argc, char **argv) {
    json_object *p;
    if (argc != 2)
        return usage_error("unquarantine", "%s", argc < 2 ? "which plugin?" : "too many arguments");
    p = json_object_new_object();
    json_object_object_add(p, "plugin", json_object_new_string(argv[1]));
    return call(IFACE "Unquarantine", p, show_unquarantined);
}

/* ---------------------------------------------------------------- main */

static void on_signal(int sig) {
    interrupted = 1;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    { "list", cmd_list },   { "describe", cmd_describe }, { "start", cmd_start_stop },
    { "stop", cmd_start_stop }, { "watch", cmd_watch },   { "run", cmd_run },
    { "stats", cmd_stats }, { "reload", cmd_reload }, { "unquarantine", cmd_unquarantine },
};

int main(int argc, char **argv) {
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {},
    };
    struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: reads see EINTR */
    int c;

    arg_socket = getenv("OPHOST_SOCKET");
    if (!arg_socket || !arg_socket[0])
        arg_socket = OPHOST_DEFAULT_CONTROL_SOCKET;
    /* Global options come before the command ("+": stop at the first word). */
    while ((c = getopt_long(argc, argv, "+s:jh", opts, NULL)) >= 0) {
        switch (c) {
        case 's':
            arg_socket = optarg;
            break;
        case 'j':
            arg_json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("ophostctl %s\n", OPHOST_VERSION);
            return 0;
        default:
            fprintf(stderr, "Try 'ophostctl --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char **args = argv + optind;
        int n = argc - optind, k = 0;
        if (strcmp(args[0], commands[i].name) != 0)
            continue;
        if (commands[i].fn == cmd_run)
            return cmd_run(n, args);
        /* The other commands take --help, --json and --socket anywhere. */
        for (int j = 0; j < n; j++) {
            if (strcmp(args[j], "--help") == 0 || strcmp(args[j], "-h") == 0)
                return command_help(args[0], stdout);
            if (strcmp(args[j], "--json") == 0 || strcmp(args[j], "-j") == 0)
                arg_json = true;
            else if ((strcmp(args[j], "--socket") == 0 || strcmp(args[j], "-s") == 0) &&
                     j + 1 < n)
                arg_socket = args[++j];
            else if (strncmp(args[j], "--socket=", 9) == 0)
                arg_socket = args[j] + 9;
            else if (args[j][0] == '-' && args[j][1])
                return usage_error(args[0], "unknown option '%s'", args[j]);
            else
                args[k++] = args[j];
        }
        return commands[i].fn(k, args);
    }
    return usage_error(NULL, "unknown command '%s'", argv[optind]);
}

/*
 * commands.c — ophostctl's commands with one reply: list, describe, start,
 * stop, stats, reload, unquarantine; tables for people, the reply's
 * parameters as JSON with --json.
 *
 * With -H the call goes to every node (nodes.c). Lists and stats become one
 * table with a leading NODE column (one JSON object whose entries each carry
 * "node"); describe and the commands that change something show each node's
 * answer in turn, marked with its node (a JSON array of the answers, each
 * with "node"). Nodes that fail are told on standard error.
 */
#include "commands.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "ctl.h"
#include "hint.h"
#include "nodes.h"
#include "text.h"

/* With -H: the call on every node, shown as merge says (see the top).
 * Takes params; returns nodes_status(). */
static int call_nodes(const char *method, json_object *params, void (*show)(json_object *p),
                      bool merge) {
    json_object *answers = NULL, *all = merge ? json_object_new_object() : json_object_new_array();
    int r = nodes_call(method, params, &answers);
    size_t n = jlen(answers);

    for (size_t i = 0; i < n; i++) {
        json_object *a = jidx(answers, i);
        const char *node = jstr(a, "node");
        json_object *p = jget(a, "parameters");
        if (!merge) {
            json_object *tagged = nodes_tag(json_object_get(p), node);
            if (ctl.json)
                json_object_array_add(all, tagged);
            else {
                show(tagged);
                json_object_put(tagged);
            }
            continue;
        }
        /* The entries of each array member, from every node, in one array. */
        json_object_object_foreach(p, key, val) {
            json_object *dst;
            if (!json_object_is_type(val, json_type_array))
                continue;
            if (!(dst = jget(all, key))) {
                dst = json_object_new_array();
                json_object_object_add(all, key, dst);
            }
            for (size_t k = 0; k < jlen(val); k++) {
                json_object *e = jidx(val, k);
                json_object_array_add(dst, json_object_is_type(e, json_type_object)
                                               ? nodes_tag(json_object_get(e), node)
                                               : json_object_get(e));
            }
        }
    }
    if (n > 0 && ctl.json)
        print_json(all);
    else if (n > 0 && merge)
        show(all);
    json_object_put(all);
    json_object_put(answers);
    return r < 0 ? EXIT_ERROR : r;
}

/* One call with one reply: its parameters as JSON with --json, else
 * show(). Takes params. Returns 0 or an exit status. A NoSuchSession error
 * gets a did-you-mean. */
static int call(const char *method, json_object *params, void (*show)(json_object *p), bool merge) {
    json_object *p = NULL, *err = NULL;
    int r;

    if (nodes_active())
        return call_nodes(method, params, show, merge);
    r = conn_call(method, params, &p, &err);
    if (err) {
        r = conn_print_error(err);
        if (strcmp(jstr(err, "error"), IFACE "NoSuchSession") == 0)
            commands_hint_session(jstr(jget(err, "parameters"), "name"));
        json_object_put(err);
        return r;
    }
    if (r)
        return r;
    if (ctl.json)
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
    /* A leading NODE column (with -H): the next row's node is node_of's
     * "node" member. */
    bool with_node;
    json_object *node_of;
};

static size_t table_width(const struct table *t) {
    return t->n_cols + (t->with_node ? 1 : 0);
}

static void table_add(struct table *t, ...) {
    size_t w = table_width(t), k = t->n_rows * w;
    va_list ap;
    char **cells = realloc(t->cells, (t->n_rows + 1) * w * sizeof(char *));
    if (!cells)
        return;
    t->cells = cells;
    if (t->with_node)
        cells[k++] = strdup(jstr(t->node_of, "node"));
    va_start(ap, t);
    for (size_t i = 0; i < t->n_cols; i++) {
        const char *s = va_arg(ap, const char *);
        cells[k++] = strdup(s ? s : "-");
    }
    va_end(ap);
    t->n_rows++;
}

static void table_print(struct table *t) {
    size_t w[MAX_COLS + 1], n = table_width(t);
    const char *head[MAX_COLS + 1];

    for (size_t i = 0; i < n; i++)
        head[i] = t->with_node ? (i == 0 ? "NODE" : t->head[i - 1]) : t->head[i];
    for (size_t i = 0; i < n; i++) {
        w[i] = strlen(head[i]);
        for (size_t r = 0; r < t->n_rows; r++) {
            const char *s = t->cells[r * n + i];
            size_t l = s ? text_width(s) : 0;
            if (l > w[i])
                w[i] = l;
        }
    }
    for (size_t r = 0; r <= t->n_rows; r++)
        for (size_t i = 0; i < n; i++) {
            const char *s = r == 0 ? head[i] : t->cells[(r - 1) * n + i];
            if (!s)
                s = "";
            if (i + 1 == n)
                printf("%s\n", s);
            else /* padded by columns on the screen, not bytes */
                printf("%s%*s  ", s, (int) (w[i] - text_width(s)), "");
        }
    for (size_t k = 0; k < t->n_rows * n; k++)
        free(t->cells[k]);
    free(t->cells);
}

/* "NODE: " before a line about o, with -H. */
static void node_prefix(json_object *o) {
    if (jget(o, "node"))
        printf("%s: ", jstr(o, "node"));
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
    struct table t = { 5, { "PLUGIN", "VERSION", "STATE", "OPERATORS", "PATH" },
                       .with_node = nodes_active() };
    json_object *a = jget(p, "plugins");

    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i), *ops = jget(o, "operators");
        char names[1024] = "";
        for (size_t k = 0; k < jlen(ops); k++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof(names) - l, "%s%s", k ? "," : "",
                     json_object_get_string(jidx(ops, k)));
        }
        t.node_of = o;
        table_add(&t, jstr(o, "name")[0] ? jstr(o, "name") : "-",
                  jstr(o, "version")[0] ? jstr(o, "version") : "-", jstr(o, "state"),
                  names[0] ? names : "-", jstr(o, "path"));
    }
    table_print(&t);
    /* Why each plugin that is not loaded is not. */
    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i);
        if (jget(o, "reason") && (node_prefix(o), true))
            printf("%s %s: %s\n", jstr(o, "path"), jstr(o, "state"), jstr(o, "reason"));
    }
}

static void show_operators(json_object *p) {
    struct table t = { 5, { "OPERATOR", "KIND", "PLUGIN", "PRIORITY", "PARAMS" },
                       .with_node = nodes_active() };
    json_object *a = jget(p, "operators");

    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i), *ps = jget(o, "instance_params");
        char params[2048] = "", prio[16];
        for (size_t k = 0; k < jlen(ps); k++) {
            json_object *q = jidx(ps, k);
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
        t.node_of = o;
        table_add(&t, jstr(o, "name"),
                  json_object_get_boolean(jget(o, "gadget")) ? "gadget" : "operator",
                  jstr(o, "plugin"), prio, params[0] ? params : "-");
    }
    table_print(&t);
}

static void show_sessions(json_object *p) {
    struct table t = { 9, { "SESSION", "GADGET", "STATE", "UPTIME", "EVENTS-IN", "EVENTS-OUT",
                            "FILTERED", "DROPPED", "LOST" },
                       .with_node = nodes_active() };
    json_object *a = jget(p, "sessions");

    if (jlen(a) == 0) {
        printf("no sessions configured\n");
        return;
    }
    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i);
        char up[32], in[32], out[32], fi[32], dr[32], lo[32], name[300];
        bool running = ju64(o, "uptime_usec") > 0;
        snprintf(name, sizeof(name), "%s%s", jstr(o, "name"),
                 json_object_get_boolean(jget(o, "adhoc")) ? " (ad hoc)" : "");
        t.node_of = o;
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
    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i);
        char when[48] = "", d[32];
        if (!jget(o, "error"))
            continue;
        if (jget(o, "next_retry_usec"))
            snprintf(when, sizeof(when), ", next in %s",
                     fmt_duration(d, sizeof(d), ju64(o, "next_retry_usec")));
        node_prefix(o);
        printf("%s %s", jstr(o, "name"), jstr(o, "state"));
        if (ju64(o, "restarts") || when[0])
            printf(" (%" PRIu64 " restarts%s)", ju64(o, "restarts"), when);
        printf(": %s\n", jstr(o, "error"));
    }
}

/* Names only (list ... -q), one per line: for scripts and completion;
 * NODE/NAME with -H. */
static bool names_only;

static void show_names(json_object *p, const char *member, bool gadgets) {
    json_object *a = jget(p, member);
    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i);
        if (gadgets && !jbool(o, "gadget"))
            continue;
        if (jget(o, "node"))
            printf("%s/", jstr(o, "node"));
        printf("%s\n", jstr(o, "name"));
    }
}

static void show_gadgets(json_object *p) {
    struct table t = { 3, { "GADGET", "PLUGIN", "DESCRIPTION" }, .with_node = nodes_active() };
    json_object *a = jget(p, "operators");

    if (names_only) {
        show_names(p, "operators", true);
        return;
    }
    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i);
        t.node_of = o;
        if (jbool(o, "gadget"))
            table_add(&t, jstr(o, "name"), jstr(o, "plugin"),
                      jstr(o, "description")[0] ? jstr(o, "description") : "-");
    }
    table_print(&t);
    printf("\nParams and fields of one: ophostctl run GADGET --help\n");
}

static void show_plugins_or_names(json_object *p) {
    if (names_only)
        show_names(p, "plugins", false);
    else
        show_plugins(p);
}

static void show_operators_or_names(json_object *p) {
    if (names_only)
        show_names(p, "operators", false);
    else
        show_operators(p);
}

static void show_sessions_or_names(json_object *p) {
    if (names_only)
        show_names(p, "sessions", false);
    else
        show_sessions(p);
}

int cmd_list(int argc, char **argv) {
    static const struct {
        const char *what, *method;
        void (*show)(json_object *p);
    } lists[] = {
        { "plugins", IFACE "ListPlugins", show_plugins_or_names },
        { "operators", IFACE "ListOperators", show_operators_or_names },
        { "gadgets", IFACE "ListOperators", show_gadgets },
        { "sessions", IFACE "ListSessions", show_sessions_or_names },
    };
    const char *names[] = { "plugins", "operators", "gadgets", "sessions", NULL }, *hint;
    int k = 0;

    /* -q: names only. */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            names_only = true;
        else
            argv[k++] = argv[i];
    }
    argc = k;
    if (argc != 2)
        return ctl_usage_error("list", "%s", argc < 2 ? "list what? plugins, operators, gadgets or sessions"
                                                      : "too many arguments");
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (strcmp(argv[1], lists[i].what) == 0)
            return call(lists[i].method, NULL, lists[i].show, true);
    hint = hint_closest(argv[1], names);
    if (!hint && argv[1][0]) {
        /* "session" for "sessions": a prefix is as good a hint as a typo. */
        for (size_t i = 0; names[i] && !hint; i++)
            if (strncmp(names[i], argv[1], strlen(argv[1])) == 0)
                hint = names[i];
    }
    return ctl_usage_error("list", "unknown list '%s'%s%s%s: expected plugins, operators, gadgets or sessions",
                           argv[1], hint ? " (did you mean '" : "", hint ? hint : "",
                           hint ? "'?)" : "");
}

void commands_hint_session(const char *name) {
    json_object *p = NULL;
    json_object *a;
    const char **names;
    const char *hint;
    size_t n;

    if (conn_call(IFACE "ListSessions", NULL, &p, NULL) != 0)
        return;
    a = jget(p, "sessions");
    n = jlen(a);
    names = calloc(n + 1, sizeof(*names));
    for (size_t i = 0; names && i < n; i++)
        names[i] = jstr(jidx(a, i), "name");
    hint = names ? hint_closest(name, names) : NULL;
    if (hint)
        fprintf(stderr, "  Did you mean '%s'? (ophostctl list sessions shows them all)\n", hint);
    else
        fprintf(stderr, "  ophostctl list sessions shows the sessions there are.\n");
    free(names);
    json_object_put(p);
}

static json_object *name_param(const char *name) {
    json_object *p = json_object_new_object();
    json_object_object_add(p, "name", json_object_new_string(name));
    return p;
}

static void show_session(json_object *p) {
    static unsigned shown;
    json_object *a;

    if (jget(p, "node"))
        printf("%snode:      %s\n", shown++ ? "\n" : "", jstr(p, "node"));
    printf("session:   %s%s\n", jstr(p, "name"),
           json_object_get_boolean(jget(p, "adhoc")) ? " (ad hoc)" : "");
    if (jget(p, "file"))
        printf("file:      %s\n", jstr(p, "file"));
    printf("gadget:    %s\n", jstr(p, "gadget"));
    printf("state:     %s\n", jstr(p, "state"));
    printf("autostart: %s\n", json_object_get_boolean(jget(p, "autostart")) ? "yes" : "no");
    printf("order:\n");
    a = jget(p, "order");
    for (size_t i = 0; i < jlen(a); i++) {
        json_object *o = jidx(a, i);
        printf("  %zu. %s (plugin %s)\n", i + 1, jstr(o, "name"), jstr(o, "plugin"));
        json_object *params = jobject(o, "params");
        if (!params)
            continue;
        json_object_object_foreach(params, key, val)
            printf("       %s: %s\n", key, json_object_get_string(val));
    }
    a = jget(p, "datasources");
    for (size_t i = 0; i < jlen(a); i++) {
        json_object *ds = jidx(a, i), *fields = jget(ds, "fields");
        struct table t = { 3, { "  FIELD", "TYPE", "ADDED BY" } };
        printf("data source %s:\n", jstr(ds, "name"));
        for (size_t k = 0; k < jlen(fields); k++) {
            json_object *f = jidx(fields, k);
            char fname[200];
            snprintf(fname, sizeof(fname), "  %s", jstr(f, "name"));
            table_add(&t, fname, jstr(f, "type"), jstr(f, "owner"));
        }
        table_print(&t);
    }
    if (jlen(a) == 0)
        printf("data sources: known while the session runs\n");
    if ((a = jget(p, "problems")))
        for (size_t i = 0; i < jlen(a); i++)
            printf("problem: %s\n", json_object_get_string(jidx(a, i)));
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

int cmd_describe(int argc, char **argv) {
    if (argc != 2)
        return ctl_usage_error("describe", "%s", argc < 2 ? "which session?" : "too many arguments");
    return call(IFACE "DescribeSession", name_param(argv[1]), show_session, false);
}

static void show_state(json_object *p) {
    node_prefix(p);
    printf("%s: %s\n", jstr(p, "name"), jstr(p, "state"));
}

int cmd_start_stop(int argc, char **argv) {
    bool start = strcmp(argv[0], "start") == 0;

    if (argc != 2)
        return ctl_usage_error(argv[0], "%s", argc < 2 ? "which session?" : "too many arguments");
    return call(start ? IFACE "StartSession" : IFACE "StopSession", name_param(argv[1]),
                show_state, false);
}

static void show_stats(json_object *p) {
    json_object *a = jget(p, "sessions");

    for (size_t i = 0; i < jlen(a); i++) {
        json_object *s = jidx(a, i), *ops = jget(s, "operators");
        struct table t = { 7, { "  OPERATOR", "EVENTS-IN", "EVENTS-OUT", "FILTERED", "DROPPED",
                                "BATCHES", "NS/EVENT" },
                           .with_node = nodes_active(), .node_of = s };
        if (i)
            putchar('\n');
        node_prefix(s);
        printf("%s (%s): %" PRIu64 " events emitted, %" PRIu64 " lost, %" PRIu64
               " watchers, %" PRIu64 " events dropped for slow watchers\n",
               jstr(s, "name"), jstr(s, "state"), ju64(s, "events_emitted"),
               ju64(s, "events_lost"), ju64(s, "watchers"), ju64(s, "watch_dropped"));
        for (size_t k = 0; k < jlen(ops); k++) {
            json_object *o = jidx(ops, k);
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
    if (jlen(a) == 0)
        printf("no running sessions\n");
}

int cmd_stats(int argc, char **argv) {
    if (argc > 2)
        return ctl_usage_error("stats", "%s", "too many arguments");
    return call(IFACE "Stats", argc == 2 ? name_param(argv[1]) : NULL, show_stats, true);
}

static void show_reloaded(json_object *p) {
    node_prefix(p);
    printf("reloaded\n");
}

int cmd_reload(int argc, char **argv) {
    if (argc != 1)
        return ctl_usage_error("reload", "%s", "too many arguments");
    return call(IFACE "Reload", NULL, show_reloaded, false);
}

static void show_unquarantined(json_object *p) {
    node_prefix(p);
    printf("quarantine lifted\n");
}

int cmd_unquarantine(int argc, char **argv) {
    json_object *p;
    if (argc != 2)
        return ctl_usage_error("unquarantine", "%s", argc < 2 ? "which plugin?" : "too many arguments");
    p = json_object_new_object();
    json_object_object_add(p, "plugin", json_object_new_string(argv[1]));
    return call(IFACE "Unquarantine", p, show_unquarantined, false);
}


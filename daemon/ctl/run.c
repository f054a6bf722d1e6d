/*
 * run.c — `ophostctl run` and `ophostctl watch`: the flags, what they ask of
 * the daemon, and the stream of events handed to render.c.
 *
 * run first asks the daemon to describe the gadget with the operators given
 * (DescribeGadget: a dry run in a worker, nothing starts), so that the
 * flags can be checked and placed before anything runs:
 *
 *   --filter EXPR    repeatable, all must match (AND). An expression on the
 *                    gadget's own fields goes to `filter` (before the
 *                    enrichers, so dropped events are never enriched); one
 *                    that names a field an enricher adds goes to
 *                    `filter-late`. Several expressions of one kind are
 *                    combined: (a|b) AND (c) is a,c|b,c.
 *   --sort KEYS      a gadget in rounds: the `sort` operator sorts each
 *                    round; a stream: events are sorted here and shown when
 *                    the session ends (-d, the gadget's end or Ctrl-C), as
 *                    sort(1) would.
 *   --max-entries N  a gadget in rounds: N per round (`limiter`, per batch);
 *                    a stream: N in all (`limiter`, per session), then the
 *                    session ends; a sorted stream: the first N in sort
 *                    order when it ends (sort | head).
 *   --fields         which columns (render.c), checked against the schema.
 */
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "conn.h"
#include "ctl.h"
#include "hint.h"
#include "nodes.h"
#include "params.h"
#include "render.h"
#include "util.h"

#define MAX_ALTERNATIVES 4096
/* Events held until the data sources' fields come (a daemon sends them
 * first; this bounds what a broken one can make us hold). */
#define EARLY_MAX 4096

/* ------------------------------------------------------------- helpers */

/* Adds "k=v,k=v" to params; a piece without '=' continues the previous
 * value (so values may contain commas). 0 or EXIT_USAGE. */
static int parse_kv_list(const char *text, json_object *params, const char *what) {
    char *copy = strdup(text), *save = NULL, *last_key = NULL;
    int r = 0;

    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            const char *prev;
            char *joined;
            if (!last_key) {
                r = ctl_usage_error("run", "%s: expected KEY=VALUE", what);
                break;
            }
            prev = json_object_get_string(jget(params, last_key));
            joined = strprintf("%s,%s", prev, item);
            json_object_object_add(params, last_key, json_object_new_string(joined ? joined : ""));
            free(joined);
            continue;
        }
        *eq = '\0';
        if (!item[0]) {
            r = ctl_usage_error("run", "%s: empty param name", what);
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

static void add_operator(json_object *ops, const char *name, json_object *params) {
    json_object *op = json_object_new_object();
    json_object_object_add(op, "name", json_object_new_string(name));
    json_object_object_add(op, "params", params ? params : json_object_new_object());
    json_object_array_add(ops, op);
}

static json_object *field_of(json_object *ds, const char *name) {
    json_object *fields = jget(ds, "fields");
    for (size_t i = 0; i < jlen(fields); i++) {
        json_object *f = jidx(fields, i);
        if (strcmp(jstr(f, "name"), name) == 0)
            return f;
    }
    return NULL;
}

/* ------------------------------------------------------------- filters */

/* Splits text at sep outside double quotes (\" and \\ escape inside). */
static char **split_unquoted(const char *text, char sep) {
    char **parts = NULL;
    bool quoted = false;
    size_t start = 0, i;

    for (i = 0;; i++) {
        char c = text[i];
        if (c == '\0' || (c == sep && !quoted)) {
            char *part = strndup(text + start, i - start);
            if (!part || strv_extend(&parts, part) < 0) {
                free(part);
                return strv_free(parts);
            }
            free(part);
            if (c == '\0')
                break;
            start = i + 1;
        } else if (c == '"')
            quoted = !quoted;
        else if (c == '\\' && quoted && text[i + 1])
            i++;
    }
    return parts;
}

/* The field a clause (FIELD OP VALUE) names, trimmed, into buf. */
static const char *clause_field(const char *clause, char *buf, size_t size) {
    size_t a = strspn(clause, " \t"), b = a;
    while (clause[b] && !strchr("=!<>~ \t", clause[b]))
        b++;
    snprintf(buf, size, "%.*s", (int) (b - a), clause + a);
    return buf;
}

/* One expression's groups (alternatives) and whether every field it names
 * is the gadget's own. 0, or EXIT_USAGE after printing why. */
static int parse_filter(const char *expr, json_object *ds, const char *gadget, char ***ret_groups,
                        bool *ret_early) {
    char **groups = split_unquoted(expr, '|');
    bool early = true;

    if (!groups)
        return EXIT_ERROR;
    for (size_t g = 0; groups[g]; g++) {
        char **clauses = split_unquoted(groups[g], ',');
        for (size_t k = 0; clauses && clauses[k]; k++) {
            char name[128];
            json_object *f;
            clause_field(clauses[k], name, sizeof(name));
            if (!name[0]) {
                int r = ctl_usage_error("run", "--filter '%s': '%s' is not FIELD OP VALUE "
                                        "(e.g. uid==0, comm~^ba)", expr, clauses[k]);
                strv_free(clauses);
                strv_free(groups);
                return r;
            }
            f = field_of(ds, name);
            if (!f) {
                char what[256];
                snprintf(what, sizeof(what), "--filter '%s'", expr);
                strv_free(clauses);
                strv_free(groups);
                return render_unknown_field(ds, what, name);
            }
            if (strcmp(jstr(f, "owner"), gadget) != 0)
                early = false;
        }
        strv_free(clauses);
    }
    *ret_groups = groups;
    *ret_early = early;
    return 0;
}

/* acc := acc AND groups (every pair joined by ','). 0 or EXIT_USAGE. */
static int and_groups(char ***acc, char **groups) {
    char **out = NULL;

    if (!*acc) {
        for (size_t i = 0; groups[i]; i++)
            if (strv_extend(&out, groups[i]) < 0)
                goto oom;
        *acc = out;
        return 0;
    }
    if (strv_length(*acc) * strv_length(groups) > MAX_ALTERNATIVES) {
        ctl_error("--filter: the expressions together have more than %d alternatives ('|')",
                  MAX_ALTERNATIVES);
        return EXIT_USAGE;
    }
    for (size_t i = 0; (*acc)[i]; i++)
        for (size_t k = 0; groups[k]; k++) {
            char *s = strprintf("%s,%s", (*acc)[i], groups[k]);
            int r = s ? strv_extend(&out, s) : -ENOMEM;
            free(s);
            if (r < 0)
                goto oom;
        }
    strv_free(*acc);
    *acc = out;
    return 0;
oom:
    strv_free(out);
    ctl_error("out of memory");
    return EXIT_ERROR;
}

static char *join(char **l, const char *sep) {
    size_t n = 1;
    char *s;
    for (size_t i = 0; l && l[i]; i++)
        n += strlen(l[i]) + strlen(sep);
    s = calloc(1, n);
    for (size_t i = 0; s && l && l[i]; i++) {
        if (i)
            strcat(s, sep);
        strcat(s, l[i]);
    }
    return s;
}

/* conn_call; with -H the call on every node, and the first node's answer
 * (the others' failures are told, and those nodes take no further part). */
static int call_first(const char *method, json_object *params, json_object **ret,
                      json_object **ret_error) {
    json_object *answers = NULL;
    int r;

    if (!nodes_active())
        return conn_call(method, params, ret, ret_error);
    r = nodes_call(method, params, &answers);
    if (jlen(answers) == 0) {
        json_object_put(answers);
        return r > 0 ? r : EXIT_ERROR;
    }
    *ret = json_object_get(jget(jidx(answers, 0), "parameters"));
    json_object_put(answers);
    return 0;
}

/* The widest node name, for the NODE column; 0 without -H. */
static unsigned node_width(void) {
    size_t w = 0;
    for (size_t i = 0; i < n_nodes; i++)
        if (strlen(nodes[i].name) > w)
            w = strlen(nodes[i].name);
    return (unsigned) w;
}

/* ---------------------------------------------------------------- help */

static void print_params_help(json_object *gadget) {
    json_object *ps = jget(gadget, "instance_params");
    size_t n = jlen(ps), wk = 5, wt = 4, wd = 7;

    printf("\nParams (-p KEY=VALUE):\n");
    if (n == 0) {
        printf("  none\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *q = jidx(ps, i);
        const char *def = jbool(q, "mandatory") ? "(mandatory)" : jget(q, "default") ? jstr(q, "default") : "-";
        wk = strlen(jstr(q, "key")) > wk ? strlen(jstr(q, "key")) : wk;
        wt = strlen(jstr(q, "type")) > wt ? strlen(jstr(q, "type")) : wt;
        wd = strlen(def) > wd ? strlen(def) : wd;
    }
    if (wd > 24)
        wd = 24;
    printf("  %-*s  %-*s  %-*s  %s\n", (int) wk, "PARAM", (int) wt, "TYPE", (int) wd, "DEFAULT",
           "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        json_object *q = jidx(ps, i), *allowed = jget(q, "allowed");
        const char *def = jbool(q, "mandatory") ? "(mandatory)" : jget(q, "default") ? jstr(q, "default") : "-";
        printf("  %-*s  %-*s  %-*s  %s", (int) wk, jstr(q, "key"), (int) wt, jstr(q, "type"),
               (int) wd, def[0] ? def : "''",
               jstr(q, "description")[0] ? jstr(q, "description") : "-");
        if (allowed && jlen(allowed) > 0) {
            printf(" (one of:");
            for (size_t k = 0; k < jlen(allowed); k++)
                printf("%s %s", k ? "," : "",
                       json_object_get_string(jidx(allowed, k)));
            printf(")");
        }
        putchar('\n');
    }
}

static void print_fields_help(json_object *datasources) {
    for (size_t d = 0; d < jlen(datasources); d++) {
        json_object *ds = jidx(datasources, d), *fields = jget(ds, "fields");
        size_t wn = 5, wt = 4, wo = 8;
        bool any_hidden = false;
        printf("\nFields (data source %s%s):\n", jstr(ds, "name"),
               jbool(ds, "rounds") ? ", one round per interval" : ", a stream");
        for (size_t i = 0; i < jlen(fields); i++) {
            json_object *f = jidx(fields, i);
            size_t l = strlen(jstr(f, "name")) + (jbool(f, "hidden") ? 1 : 0);
            wn = l > wn ? l : wn;
            wt = strlen(jstr(f, "type")) > wt ? strlen(jstr(f, "type")) : wt;
            wo = strlen(jstr(f, "owner")) > wo ? strlen(jstr(f, "owner")) : wo;
        }
        printf("  %-*s  %-*s  %-*s  %-12s  %s\n", (int) wn, "FIELD", (int) wt, "TYPE", (int) wo,
               "ADDED BY", "UNIT", "DESCRIPTION");
        for (size_t i = 0; i < jlen(fields); i++) {
            json_object *f = jidx(fields, i);
            char name[256];
            snprintf(name, sizeof(name), "%s%s", jstr(f, "name"), jbool(f, "hidden") ? "*" : "");
            any_hidden |= jbool(f, "hidden");
            printf("  %-*s  %-*s  %-*s  %-12s  %s\n", (int) wn, name, (int) wt, jstr(f, "type"),
                   (int) wo, jstr(f, "owner"), jget(f, "unit") ? jstr(f, "unit") : "-",
                   jget(f, "description") ? jstr(f, "description") : "-");
        }
        if (any_hidden)
            printf("  * not shown by default: --fields +NAME adds it\n");
    }
}

/* ------------------------------------------------------------- stream */

/* One stream of replies: the local daemon's, or a node's (-H). */
struct source {
    struct conn *c;
    struct node *node;   /* NULL: the local daemon; its events as they come */
    bool done;
    json_object **early; /* events before the schema (not expected) */
    size_t n_early;
    json_object **round; /* merged rounds: this round's events so far, */
    size_t n_round;
    json_object **last;  /* and the last whole round, */
    size_t n_last;
    bool fresh;          /* not drawn yet */
};

struct stream {
    const char *method;
    struct render *rd;
    struct source *src;
    size_t n_src, n_live;
    bool schema, finished, stop;
    /* Several nodes in rounds, as a table: each node's last whole round,
     * drawn together (on a terminal at every node's round, else when every
     * live node has a new one). */
    bool merge_rounds;
    uint64_t max_total, n_shown; /* several nodes: --max-entries in all */
    int status;
};

/* Appends o (taken) to v; out of memory, o is dropped. */
static void push(json_object ***v, size_t *n, json_object *o) {
    json_object **p = realloc(*v, (*n + 1) * sizeof(*p));
    if (!p) {
        json_object_put(o);
        return;
    }
    *v = p;
    p[(*n)++] = o;
}

static void put_all(json_object ***v, size_t *n) {
    for (size_t i = 0; i < *n; i++)
        json_object_put((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

/* Merged rounds: draws the nodes' last whole rounds as one round, on a
 * terminal every time (the screen shows each node's latest), else when
 * every live node has a new one, or at the end (end) what is new. */
static void rounds_draw(struct stream *s, bool end) {
    bool tty = ctl_stdout_tty(), all = true, any = false;

    for (size_t i = 0; i < s->n_src; i++) {
        all &= s->src[i].done || s->src[i].fresh;
        any |= s->src[i].fresh;
    }
    if (!any || (!all && !tty && !end))
        return;
    for (size_t i = 0; i < s->n_src; i++) {
        struct source *src = &s->src[i];
        for (size_t k = 0; (tty || src->fresh) && k < src->n_last; k++)
            render_event(s->rd, src->last[k]);
        src->fresh = false;
    }
    render_round_end(s->rd);
}

/* A source's round ended: it becomes its last whole one. */
static void round_done(struct stream *s, struct source *src) {
    put_all(&src->last, &src->n_last);
    src->last = src->round;
    src->n_last = src->n_round;
    src->round = NULL;
    src->n_round = 0;
    src->fresh = true;
    rounds_draw(s, false);
}

static void deliver(struct stream *s, struct source *src, json_object *ev) {
    if (s->merge_rounds) {
        push(&src->round, &src->n_round, json_object_get(ev));
        return;
    }
    render_event(s->rd, ev);
    if (s->max_total && ++s->n_shown >= s->max_total)
        s->stop = true; /* closing the connections ends the sessions */
}

static void finish(struct stream *s) {
    if (s->finished)
        return;
    s->finished = true;
    if (s->merge_rounds)
        rounds_draw(s, true);
    render_finish(s->rd);
}

/* A source ended (its last reply, an error, its connection gone). */
static void source_end(struct stream *s, struct source *src, int status) {
    if (src->done)
        return;
    src->done = true;
    s->n_live--;
    if (status && src->node) {
        if (!src->node->status)
            src->node->status = status;
    } else if (status)
        s->status = status;
    if (s->merge_rounds && src->n_round > 0)
        round_done(s, src); /* a last round cut short */
    else if (s->merge_rounds)
        rounds_draw(s, false);
}

/* One reply of src's stream. */
static void handle(struct stream *s, struct source *src, json_object *reply) {
    json_object *p = jget(reply, "parameters"), *v;
    const char *node = src->node ? src->node->name : NULL;
    bool cont = jbool(reply, "continues");

    ctl_node = node;
    if (jget(reply, "error")) {
        if (s->n_live == 1)
            finish(s);
        source_end(s, src, conn_print_error(reply));
        ctl_node = NULL;
        return;
    }
    if ((v = jget(p, "datasources")) && !s->schema) {
        s->schema = true;
        s->status = render_schema(s->rd, v);
        s->merge_rounds = nodes_active() && render_draws_rounds(s->rd);
        for (size_t i = 0; i < s->n_src; i++) {
            struct source *o = &s->src[i];
            for (size_t k = 0; !s->status && k < o->n_early; k++)
                deliver(s, o, o->early[k]);
            put_all(&o->early, &o->n_early);
        }
        if (s->status) {
            s->stop = true;
            ctl_node = NULL;
            return;
        }
    }
    if ((v = jget(p, "event")) &&
        (!json_object_is_type(v, json_type_object) || (!s->schema && src->n_early >= EARLY_MAX))) {
        ctl_error("the daemon sent %s", !json_object_is_type(v, json_type_object)
                                            ? "an event that is not an object"
                                            : "too many events before their fields");
        source_end(s, src, EXIT_ERROR);
        ctl_node = NULL;
        return;
    } else if (v) {
        json_object *ev = node ? nodes_tag(json_object_get(v), node) : json_object_get(v);
        if (s->schema)
            deliver(s, src, ev);
        else
            push(&src->early, &src->n_early, json_object_get(ev));
        json_object_put(ev);
    } else if (jbool(p, "round_end")) {
        if (s->merge_rounds)
            round_done(s, src);
        else
            render_round_end(s->rd);
    } else if (jget(p, "dropped"))
        ctl_error("missed %" PRIu64 " events (reading too slowly)", ju64(p, "dropped"));
    else if (jget(p, "session") && !ctl.json)
        fprintf(stderr, "ophostctl: %s%s%s session %s\n", node ? node : "", node ? ": " : "",
                strstr(s->method, "Run") ? "running" : "watching", jstr(p, "session"));
    else if (jget(p, "ended")) {
        if (s->n_live == 1)
            finish(s);
        if (!ctl.json)
            fprintf(stderr, "ophostctl: %s%ssession %s, %" PRIu64 " events\n", node ? node : "",
                    node ? ": " : "", jstr(p, "state"), ju64(p, "events"));
    }
    ctl_node = NULL;
    if (fflush(stdout) != 0) {
        s->status = EXIT_ERROR;
        s->stop = true;
    } else if (!cont)
        source_end(s, src, 0);
}

/*
 * Streams a Watch or Run call's replies until its end, rendering them: on
 * the local daemon, or with -H on every live node at once, their events
 * merged as they come, each with its node. A node that fails is told and the
 * others go on. Ends when every stream has, at Ctrl-C (closing the
 * connections ends ad-hoc sessions; nodes_free does it for nodes), or with
 * max_total events shown (several nodes). Takes params.
 */
static int stream(const char *method, json_object *params, struct render *rd, uint64_t max_total) {
    struct stream s = { .method = method, .rd = rd };
    struct conn local;
    int r;

    if (nodes_active()) {
        s.src = calloc(n_nodes, sizeof(*s.src));
        for (size_t i = 0; s.src && i < n_nodes; i++) {
            struct node *n = &nodes[i];
            if (!n->live || n->status)
                continue;
            if (conn_send(&n->conn, method, json_object_get(params), true) == 0)
                s.src[s.n_src++] = (struct source){ .c = &n->conn, .node = n };
        }
        json_object_put(params);
        s.max_total = max_total;
    } else {
        r = conn_open(&local);
        if (r < 0) {
            json_object_put(params);
            return -r;
        }
        r = conn_send(&local, method, params, true);
        if (r < 0) {
            conn_close(&local);
            return -r;
        }
        s.src = calloc(1, sizeof(*s.src));
        if (s.src)
            s.src[s.n_src++] = (struct source){ .c = &local };
    }
    s.n_live = s.n_src;
    while (s.n_live > 0 && !s.stop) {
        struct pollfd p[s.n_src + 1];
        size_t np = 0;

        if (ctl_interrupted)
            break;
        /* What is in already, then wait for more. */
        for (size_t i = 0; i < s.n_src && !s.stop; i++) {
            struct source *src = &s.src[i];
            json_object *reply = NULL;
            while (!src->done && !s.stop && (r = conn_take(src->c, &reply)) != 0) {
                if (r < 0) {
                    source_end(&s, src, -r);
                    break;
                }
                handle(&s, src, reply);
                json_object_put(reply);
            }
        }
        if (s.stop || s.n_live == 0)
            break;
        for (size_t i = 0; i < s.n_src; i++)
            p[np++] = (struct pollfd){ .fd = s.src[i].done ? -1 : s.src[i].c->fd, .events = POLLIN };
        p[np] = (struct pollfd){ .fd = ctl_signal_fd, .events = POLLIN };
        if (poll(p, np + 1, -1) < 0 && errno != EINTR) {
            ctl_error("cannot wait for the daemon: %s", strerror(errno));
            s.status = EXIT_ERROR;
            break;
        }
        if (ctl_interrupted)
            continue;
        for (size_t i = 0; i < s.n_src; i++) {
            if (s.src[i].done || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = conn_fill(s.src[i].c);
            if (r < 0 && r != CONN_INTERRUPTED)
                source_end(&s, &s.src[i], -r);
        }
    }
    /* However the streams ended (Ctrl-C, --max-entries in all, the daemon
     * or a node gone, a failure): what was held back (sorted events,
     * rounds) still goes out, unless the schema itself was refused. */
    if (!(s.stop && s.status))
        finish(&s);
    for (size_t i = 0; !s.schema && i < s.n_src; i++)
        if (s.src[i].n_early > 0) {
            ctl_node = s.src[i].node ? s.src[i].node->name : NULL;
            ctl_error("%zu events came without the fields of their data source: not shown",
                      s.src[i].n_early);
            ctl_node = NULL;
            source_end(&s, &s.src[i], EXIT_ERROR);
            if (!s.status)
                s.status = EXIT_ERROR;
        }
    for (size_t i = 0; i < s.n_src; i++) {
        put_all(&s.src[i].early, &s.src[i].n_early);
        put_all(&s.src[i].round, &s.src[i].n_round);
        put_all(&s.src[i].last, &s.src[i].n_last);
    }
    free(s.src);
    if (!nodes_active()) {
        conn_close(&local);
        return s.status;
    }
    return s.status ? s.status : nodes_status();
}

/* ------------------------------------------------------------------ run */

static const char run_help[] =
    "Usage: ophostctl run GADGET [OPTIONS]\n"
    "\n"
    "Runs an ad-hoc session (not written to disk) and shows its events until the\n"
    "gadget completes, -d runs out, --max-entries is reached on a stream, or\n"
    "Ctrl-C, which ends the session. Needs root or the daemon's control-group.\n"
    "`ophostctl run GADGET --help` lists the gadget's params and fields.\n"
    "\n"
    "  -o, --output MODE         columns (the default), json, jsonpretty or yaml\n"
    "  -F, --fields LIST         columns to show: a,b,c, or +x,-y to change the\n"
    "                            defaults (the fields not marked hidden)\n"
    "  -f, --filter EXPR         keep events matching EXPR (repeatable: all must\n"
    "                            match); fields of enrichers are filtered after them\n"
    "      --sort KEYS           e.g. -cpu,pid (- = descending). Rounds are sorted\n"
    "                            each; a stream is shown sorted when the session ends\n"
    "  -m, --max-entries N       at most N events per round; N in all for a stream\n"
    "                            (then the session ends), or with --sort the first\n"
    "                            N in sort order\n"
    "  -p, --param KEY=VALUE     a param of the gadget (repeatable)\n"
    "      --operator OP[:KEY=VALUE,...]\n"
    "                            add operator OP with params (repeatable), e.g.\n"
    "                            --operator uidgid for user and group names; a\n"
    "                            value may contain commas: 'fields=a:u64,b:string'\n"
    "  -d, --duration DURATION   end the session after DURATION (250ms, 10s, 1m30s,\n"
    "                            2h); without -d it runs until it ends or Ctrl-C\n"
    "  -n, --name NAME           name of the session (default run-N)\n"
    "  -j, --json                the same as -o json\n"
    "\n"
    "Examples:\n"
    "  ophostctl run trace_exec --fields pid,comm,args --filter uid==0\n"
    "  ophostctl run trace_exec --operator uidgid --filter user==root --filter comm~^ba\n"
    "  ophostctl run top_process --sort -cpu --max-entries 10\n"
    "  ophostctl run synthetic -p count=3 -p rate=0 -o json | jq .seq\n";

static int gadget_help(const char *gadget, json_object *gparams, json_object *ops) {
    json_object *req = json_object_new_object(), *p = NULL, *err = NULL, *g;
    int r;

    json_object_object_add(req, "gadget", json_object_new_string(gadget));
    json_object_object_add(req, "params", json_object_get(gparams));
    json_object_object_add(req, "operators", json_object_get(ops));
    r = call_first(IFACE "DescribeGadget", req, &p, &err);
    if (err) {
        r = conn_print_error(err);
        json_object_put(err);
        return r;
    }
    if (r)
        return r;
    if (ctl.json) {
        print_json(p);
        json_object_put(p);
        return 0;
    }
    g = jget(p, "gadget");
    printf("Usage: ophostctl run %s [OPTIONS]\n\n", gadget);
    printf("%s — %s\n", jstr(g, "name"), jstr(g, "description")[0] ? jstr(g, "description") : "-");
    printf("plugin %s %s (%s)\n", jstr(g, "plugin"), jstr(g, "version"), jstr(g, "path"));
    print_params_help(g);
    print_fields_help(jget(p, "datasources"));
    printf("\nOptions: ophostctl run --help\n");
    json_object_put(p);
    return 0;
}

/* Explains a DescribeGadget error; for a gadget that does not exist, the
 * closest name. */
static int describe_failed(const char *gadget, json_object *err) {
    json_object *p = NULL;
    int r = conn_print_error(err);

    if (conn_call(IFACE "ListOperators", NULL, &p, NULL) == 0) {
        json_object *a = jget(p, "operators");
        size_t n = jlen(a), k = 0;
        const char **names = calloc(n + 1, sizeof(*names));
        bool found = false;
        for (size_t i = 0; names && i < n; i++) {
            json_object *o = jidx(a, i);
            if (!jbool(o, "gadget"))
                continue;
            names[k++] = jstr(o, "name");
            found |= strcmp(jstr(o, "name"), gadget) == 0;
        }
        if (!found && names) {
            /* The daemon's hint may name any operator: this one a gadget. */
            const char *hint = hint_closest(gadget, names);
            fprintf(stderr, "  No gadget is named '%s'%s%s%s; ophostctl list gadgets shows them.\n",
                    gadget, hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
        }
        free(names);
        json_object_put(p);
    }
    return r;
}

int cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        { "param", required_argument, NULL, 'p' },
        { "operator", required_argument, NULL, 'O' },
        { "output", required_argument, NULL, 'o' },
        { "fields", required_argument, NULL, 'F' },
        { "filter", required_argument, NULL, 'f' },
        { "sort", required_argument, NULL, 'S' },
        { "max-entries", required_argument, NULL, 'm' },
        { "duration", required_argument, NULL, 'd' },
        { "name", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "socket", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        {},
    };
    json_object *req = json_object_new_object(), *ops = json_object_new_array(),
                *gparams = json_object_new_object(), *desc = NULL, *err = NULL, *ds;
    struct render_options ro = { .mode = OUT_COLUMNS };
    char **filters = NULL, **early = NULL, **late = NULL;
    const char *gadget, *sort = NULL;
    uint64_t max_entries = 0;
    struct render *rd = NULL;
    bool help = false, rounds;
    int c, r = 0;

    if (ctl.json)
        ro.mode = OUT_JSON; /* ophostctl --json run ... */
    optind = 0; /* glibc: a full re-initialisation of getopt */
    while ((c = getopt_long(argc, argv, "p:o:F:f:m:d:n:js:h", opts, NULL)) >= 0) {
        switch (c) {
        case 'p':
            r = parse_kv_list(optarg, gparams, optarg);
            break;
        case 'O': {
            json_object *ps = json_object_new_object();
            char *colon = strchr(optarg, ':');
            char *name = strndup(optarg, colon ? (size_t) (colon - optarg) : strlen(optarg));
            if (!name || !name[0])
                r = ctl_usage_error("run", "--operator '%s': missing operator name", optarg);
            else if (colon)
                r = parse_kv_list(colon + 1, ps, optarg);
            if (r == 0)
                add_operator(ops, name, json_object_get(ps));
            json_object_put(ps);
            free(name);
            break;
        }
        case 'o':
            if (output_mode_parse(optarg, &ro.mode) < 0)
                r = ctl_usage_error("run", "-o '%s': expected an output mode: columns, json, "
                                    "jsonpretty or yaml%s",
                                    optarg, strchr(optarg, ':') || strchr(optarg, '=')
                                                ? " (operators are added with --operator OP[:K=V,...])"
                                                : "");
            break;
        case 'F':
            ro.fields = optarg;
            break;
        case 'f':
            if (strv_extend(&filters, optarg) < 0)
                r = EXIT_ERROR;
            break;
        case 'S':
            sort = optarg;
            break;
        case 'm': {
            char *end;
            errno = 0;
            max_entries = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || max_entries == 0)
                r = ctl_usage_error("run", "--max-entries '%s': expected a number of events, "
                                    "at least 1", optarg);
            break;
        }
        case 'd': {
            uint64_t ns;
            if (parse_duration(optarg, &ns) < 0)
                r = ctl_usage_error("run", "-d '%s': not a duration; e.g. 250ms, 10s, 1m30s, 2h "
                                    "(a bare number is seconds)", optarg);
            else if (ns == 0)
                r = ctl_usage_error("run", "-d %s: a duration must be more than 0; to run until "
                                    "the gadget ends or Ctrl-C, leave -d out", optarg);
            else
                json_object_object_add(req, "duration", json_object_new_string(optarg));
            break;
        }
        case 'n':
            json_object_object_add(req, "name", json_object_new_string(optarg));
            break;
        case 'j':
            ro.mode = OUT_JSON;
            ctl.json = true;
            break;
        case 's':
            ctl.socket = optarg;
            ctl.socket_origin = "from --socket";
            break;
        case 'h':
            help = true;
            break;
        default:
            r = ctl_usage_error("run", "%s", "invalid option");
        }
        if (r)
            goto out;
    }
    if (ro.mode == OUT_JSON)
        ctl.json = true;
    if (argc - optind < 1) {
        if (help) {
            fputs(run_help, stdout);
            goto out;
        }
        r = ctl_usage_error("run", "%s", "which gadget? (ophostctl list gadgets)");
        goto out;
    }
    if (argc - optind > 1) {
        r = ctl_usage_error("run", "too many arguments: '%s'", argv[optind + 1]);
        goto out;
    }
    gadget = argv[optind];
    conn_choose_socket();
    if (help) {
        r = gadget_help(gadget, gparams, ops);
        goto out;
    }

    /* What the gadget and operators make: fields, owners, rounds. */
    {
        json_object *dreq = json_object_new_object();
        json_object_object_add(dreq, "gadget", json_object_new_string(gadget));
        json_object_object_add(dreq, "params", json_object_get(gparams));
        json_object_object_add(dreq, "operators", json_object_get(ops));
        r = call_first(IFACE "DescribeGadget", dreq, &desc, &err);
        if (err) {
            r = describe_failed(gadget, err);
            goto out;
        }
        if (r)
            goto out;
    }
    ds = jidx(jget(desc, "datasources"), 0);
    rounds = jbool(ds, "rounds");
    if (ro.fields) {
        char **sel = NULL;
        r = render_select_fields(ds, ro.fields, NULL, &sel);
        strv_free(sel);
        if (r)
            goto out;
    }
    if (sort && (r = render_check_sort(ds, sort)))
        goto out;
    for (size_t i = 0; filters && filters[i]; i++) {
        char **groups = NULL;
        bool is_early = false;
        r = parse_filter(filters[i], ds, gadget, &groups, &is_early);
        if (!r)
            r = and_groups(is_early ? &early : &late, groups);
        strv_free(groups);
        if (r)
            goto out;
    }
    if (early) {
        json_object *ps = json_object_new_object();
        char *e = join(early, "|");
        json_object_object_add(ps, "expr", json_object_new_string(e ? e : ""));
        free(e);
        add_operator(ops, "filter", ps);
    }
    if (late) {
        json_object *ps = json_object_new_object();
        char *e = join(late, "|");
        json_object_object_add(ps, "expr", json_object_new_string(e ? e : ""));
        free(e);
        add_operator(ops, "filter-late", ps);
    }
    if (sort && rounds) {
        json_object *ps = json_object_new_object();
        json_object_object_add(ps, "by", json_object_new_string(sort));
        add_operator(ops, "sort", ps);
    } else if (sort)
        ro.sort = sort; /* a stream: sorted here, when it ends */
    if (max_entries && ro.sort)
        ro.max_entries = max_entries; /* a sorted stream: the first N in sort order */
    else if (max_entries) {
        json_object *ps = json_object_new_object();
        char n[32];
        snprintf(n, sizeof(n), "%" PRIu64, max_entries);
        json_object_object_add(ps, "max", json_object_new_string(n));
        json_object_object_add(ps, "per", json_object_new_string(rounds ? "batch" : "session"));
        add_operator(ops, "limiter", ps);
    }
    if (sort && rounds && nodes_active())
        ro.sort = sort; /* the nodes' rounds, each sorted, sorted together */
    if (ro.sort && !rounds && ctl_stdout_tty())
        fprintf(stderr, "ophostctl: sorting a stream: the events are shown when the session "
                        "ends (-d, the gadget's end or Ctrl-C)\n");
    json_object_object_add(req, "gadget", json_object_new_string(gadget));
    json_object_object_add(req, "params", json_object_get(gparams));
    json_object_object_add(req, "operators", json_object_get(ops));
    ro.node_width = node_width();
    rd = render_new(&ro);
    if (!rd) {
        r = EXIT_ERROR;
        goto out;
    }
    /* Several nodes: the limiter ends each node's session at N, and N in
     * all ends them all. */
    r = stream(IFACE "Run", json_object_get(req), rd,
               max_entries && !rounds && !ro.sort ? max_entries : 0);
out:
    render_free(rd);
    json_object_put(err);
    json_object_put(desc);
    json_object_put(req);
    json_object_put(ops);
    json_object_put(gparams);
    strv_free(filters);
    strv_free(early);
    strv_free(late);
    return r;
}

/* ---------------------------------------------------------------- watch */

static const char watch_help[] =
    "Usage: ophostctl watch SESSION [OPTIONS]\n"
    "\n"
    "Shows the events of a running session as they happen, until the session\n"
    "ends or Ctrl-C. As a table with the session's own columns settings (its\n"
    "columns operator's fields and max-width) unless --fields says otherwise;\n"
    "a session in rounds is redrawn every round on a terminal. A reader too slow\n"
    "for the session misses events; it is told how many on standard error.\n"
    "\n"
    "  -o, --output MODE    columns (the default), json, jsonpretty or yaml\n"
    "  -F, --fields LIST    columns: a,b,c, or +x,-y to change the defaults\n"
    "  -j, --json           the same as -o json\n";

int cmd_watch(int argc, char **argv) {
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "fields", required_argument, NULL, 'F' },
        { "json", no_argument, NULL, 'j' },
        { "socket", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        {},
    };
    struct render_options ro = { .mode = OUT_COLUMNS };
    json_object *sess = NULL, *err = NULL, *params;
    char **defaults = NULL;
    struct render *rd;
    int c, r;

    optind = 0;
    while ((c = getopt_long(argc, argv, "o:F:js:h", opts, NULL)) >= 0) {
        switch (c) {
        case 'o':
            if (output_mode_parse(optarg, &ro.mode) < 0)
                return ctl_usage_error("watch", "-o '%s': expected an output mode: columns, "
                                       "json, jsonpretty or yaml", optarg);
            break;
        case 'F':
            ro.fields = optarg;
            break;
        case 'j':
            ro.mode = OUT_JSON;
            break;
        case 's':
            ctl.socket = optarg;
            ctl.socket_origin = "from --socket";
            break;
        case 'h':
            fputs(watch_help, stdout);
            return 0;
        default:
            return ctl_usage_error("watch", "%s", "invalid option");
        }
    }
    if (ro.mode == OUT_JSON || ctl.json) {
        ro.mode = ro.mode == OUT_COLUMNS ? OUT_JSON : ro.mode;
        ctl.json = ro.mode == OUT_JSON;
    }
    if (argc - optind != 1)
        return ctl_usage_error("watch", "%s", argc - optind < 1 ? "which session?"
                                                                 : "too many arguments");
    conn_choose_socket();
    /* The session's own columns settings. */
    params = json_object_new_object();
    json_object_object_add(params, "name", json_object_new_string(argv[optind]));
    r = call_first(IFACE "DescribeSession", params, &sess, &err);
    if (err) {
        r = conn_print_error(err);
        if (strcmp(jstr(err, "error"), IFACE "NoSuchSession") == 0)
            commands_hint_session(argv[optind]);
        json_object_put(err);
        return r;
    }
    if (r)
        return r;
    for (size_t i = 0; i < jlen(jget(sess, "order")); i++) {
        json_object *step = jidx(jget(sess, "order"), i);
        json_object *ps = jget(step, "params");
        if (strcmp(jstr(step, "name"), "columns") != 0)
            continue;
        if (jstr(ps, "fields")[0]) {
            char *copy = strdup(jstr(ps, "fields")), *save = NULL;
            for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
                 t = strtok_r(NULL, ",", &save))
                (void) strv_extend(&defaults, t);
            free(copy);
        }
        if (jget(ps, "max-width"))
            ro.max_width = (unsigned) strtoul(jstr(ps, "max-width"), NULL, 10);
    }
    json_object_put(sess);
    ro.default_fields = defaults;
    ro.node_width = node_width();
    rd = render_new(&ro);
    params = json_object_new_object();
    json_object_object_add(params, "name", json_object_new_string(argv[optind]));
    r = rd ? stream(IFACE "Watch", params, rd, 0) : EXIT_ERROR;
    if (!rd)
        json_object_put(params);
    render_free(rd);
    strv_free(defaults);
    return r;
}

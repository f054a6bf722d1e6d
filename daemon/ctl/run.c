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
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "conn.h"
#include "ctl.h"
#include "hint.h"
#include "params.h"
#include "render.h"
#include "util.h"

#define MAX_ALTERNATIVES 4096

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
    for (size_t i = 0; i < json_object_array_length(fields); i++) {
        json_object *f = json_object_array_get_idx(fields, i);
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
                strv_free(clauses);
                strv_free(groups);
                return ctl_usage_error("run", "--filter '%s': '%s' is not FIELD OP VALUE "
                                       "(e.g. uid==0, comm~^ba)", expr, clauses[k]);
            }
            f = field_of(ds, name);
            if (!f) {
                json_object *fields = jget(ds, "fields");
                size_t n = json_object_array_length(fields);
                const char **names = calloc(n + 1, sizeof(*names));
                const char *hint;
                for (size_t i = 0; names && i < n; i++)
                    names[i] = jstr(json_object_array_get_idx(fields, i), "name");
                hint = names ? hint_closest(name, names) : NULL;
                ctl_error("--filter '%s': no field '%s'%s%s%s", expr, name,
                          hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
                fprintf(stderr, "  Fields of this run:");
                for (size_t i = 0; names && i < n; i++)
                    fprintf(stderr, "%s %s", i ? "," : "", names[i]);
                fprintf(stderr, "\n  A field an enricher adds needs it: --operator uidgid "
                                "(user, group), procinfo (proc.*), unit (unit, ...).\n");
                free(names);
                strv_free(clauses);
                strv_free(groups);
                return EXIT_USAGE;
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

/* ---------------------------------------------------------------- help */

static void print_params_help(json_object *gadget) {
    json_object *ps = jget(gadget, "instance_params");
    size_t n = json_object_array_length(ps), wk = 5, wt = 4, wd = 7;

    printf("\nParams (-p KEY=VALUE):\n");
    if (n == 0) {
        printf("  none\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *q = json_object_array_get_idx(ps, i);
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
        json_object *q = json_object_array_get_idx(ps, i), *allowed = jget(q, "allowed");
        const char *def = jbool(q, "mandatory") ? "(mandatory)" : jget(q, "default") ? jstr(q, "default") : "-";
        printf("  %-*s  %-*s  %-*s  %s", (int) wk, jstr(q, "key"), (int) wt, jstr(q, "type"),
               (int) wd, def[0] ? def : "''",
               jstr(q, "description")[0] ? jstr(q, "description") : "-");
        if (allowed && json_object_array_length(allowed) > 0) {
            printf(" (one of:");
            for (size_t k = 0; k < json_object_array_length(allowed); k++)
                printf("%s %s", k ? "," : "",
                       json_object_get_string(json_object_array_get_idx(allowed, k)));
            printf(")");
        }
        putchar('\n');
    }
}

static void print_fields_help(json_object *datasources) {
    for (size_t d = 0; d < json_object_array_length(datasources); d++) {
        json_object *ds = json_object_array_get_idx(datasources, d), *fields = jget(ds, "fields");
        size_t wn = 5, wt = 4, wo = 8;
        bool any_hidden = false;
        printf("\nFields (data source %s%s):\n", jstr(ds, "name"),
               jbool(ds, "rounds") ? ", one round per interval" : ", a stream");
        for (size_t i = 0; i < json_object_array_length(fields); i++) {
            json_object *f = json_object_array_get_idx(fields, i);
            size_t l = strlen(jstr(f, "name")) + (jbool(f, "hidden") ? 1 : 0);
            wn = l > wn ? l : wn;
            wt = strlen(jstr(f, "type")) > wt ? strlen(jstr(f, "type")) : wt;
            wo = strlen(jstr(f, "owner")) > wo ? strlen(jstr(f, "owner")) : wo;
        }
        printf("  %-*s  %-*s  %-*s  %-12s  %s\n", (int) wn, "FIELD", (int) wt, "TYPE", (int) wo,
               "ADDED BY", "UNIT", "DESCRIPTION");
        for (size_t i = 0; i < json_object_array_length(fields); i++) {
            json_object *f = json_object_array_get_idx(fields, i);
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

/* Streams a Watch or Run call's replies until its end, rendering them. */
static int stream(const char *method, json_object *params, struct render *rd) {
    json_object **early = NULL; /* events before the schema (not expected) */
    size_t n_early = 0;
    bool schema = false;
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
        json_object *reply = NULL, *p, *v, *cont;
        r = conn_recv(&c, &reply);
        if (r == -1) /* Ctrl-C: closing the connection ends the stream */
            break;
        if (r < 0) {
            status = -r;
            break;
        }
        if (jget(reply, "error")) {
            render_finish(rd);
            status = conn_print_error(reply);
            json_object_put(reply);
            break;
        }
        p = jget(reply, "parameters");
        cont = jget(reply, "continues");
        if ((v = jget(p, "datasources")) && !schema) {
            schema = true;
            status = render_schema(rd, v);
            for (size_t i = 0; i < n_early; i++) {
                if (!status)
                    render_event(rd, early[i]);
                json_object_put(early[i]);
            }
            n_early = 0;
            if (status) {
                json_object_put(reply);
                break;
            }
        }
        if ((v = jget(p, "event"))) {
            if (schema)
                render_event(rd, v);
            else {
                json_object **e = realloc(early, (n_early + 1) * sizeof(*e));
                if (e) {
                    early = e;
                    early[n_early++] = json_object_get(v);
                }
            }
        } else if (jbool(p, "round_end"))
            render_round_end(rd);
        else if (jget(p, "dropped"))
            ctl_error("missed %" PRIu64 " events (reading too slowly)", ju64(p, "dropped"));
        else if (jget(p, "session") && !ctl.json)
            fprintf(stderr, "ophostctl: %s session %s\n",
                    strstr(method, "Run") ? "running" : "watching", jstr(p, "session"));
        else if (jget(p, "ended")) {
            render_finish(rd);
            if (!ctl.json)
                fprintf(stderr, "ophostctl: session %s, %" PRIu64 " events\n", jstr(p, "state"),
                        ju64(p, "events"));
        }
        if (fflush(stdout) != 0) {
            json_object_put(reply);
            status = EXIT_ERROR;
            break;
        }
        if (!cont || !json_object_get_boolean(cont)) {
            json_object_put(reply);
            r = 1; /* ended */
            break;
        }
        json_object_put(reply);
    }
    if (r == -1)
        render_finish(rd); /* Ctrl-C: what was held back still goes out */
    for (size_t i = 0; i < n_early; i++)
        json_object_put(early[i]);
    free(early);
    conn_close(&c);
    return status;
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
    r = conn_call(IFACE "DescribeGadget", req, &p, &err);
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
        size_t n = json_object_array_length(a), k = 0;
        const char **names = calloc(n + 1, sizeof(*names));
        bool found = false;
        for (size_t i = 0; names && i < n; i++) {
            json_object *o = json_object_array_get_idx(a, i);
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
        r = conn_call(IFACE "DescribeGadget", dreq, &desc, &err);
        if (err) {
            r = describe_failed(gadget, err);
            goto out;
        }
        if (r)
            goto out;
    }
    ds = json_object_array_get_idx(jget(desc, "datasources"), 0);
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
    if (ro.sort && ctl_stdout_tty())
        fprintf(stderr, "ophostctl: sorting a stream: the events are shown when the session "
                        "ends (-d, the gadget's end or Ctrl-C)\n");
    json_object_object_add(req, "gadget", json_object_new_string(gadget));
    json_object_object_add(req, "params", json_object_get(gparams));
    json_object_object_add(req, "operators", json_object_get(ops));
    rd = render_new(&ro);
    if (!rd) {
        r = EXIT_ERROR;
        goto out;
    }
    r = stream(IFACE "Run", json_object_get(req), rd);
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
    r = conn_call(IFACE "DescribeSession", params, &sess, &err);
    if (err) {
        r = conn_print_error(err);
        if (strcmp(jstr(err, "error"), IFACE "NoSuchSession") == 0)
            commands_hint_session(argv[optind]);
        json_object_put(err);
        return r;
    }
    if (r)
        return r;
    for (size_t i = 0; i < json_object_array_length(jget(sess, "order")); i++) {
        json_object *step = json_object_array_get_idx(jget(sess, "order"), i);
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
    rd = render_new(&ro);
    params = json_object_new_object();
    json_object_object_add(params, "name", json_object_new_string(argv[optind]));
    r = rd ? stream(IFACE "Watch", params, rd) : EXIT_ERROR;
    if (!rd)
        json_object_put(params);
    render_free(rd);
    strv_free(defaults);
    return r;
}

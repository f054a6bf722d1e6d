/* render.c — events as columns, JSON or YAML (see render.h). */
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "hint.h"
#include "text.h"
#include "utf8.h"
#include "util.h"

/* A field's width as field_set_meta allows it; more is the daemon's error. */
#define WIDTH_MAX 1024
/* Columns of a table at most (each row's cells are on the stack). */
#define COLUMNS_MAX 256

/* One column of the table. */
struct column {
    char *name;
    char head[96];
    const char *type;  /* "u32", "string", ... */
    const char *unit;  /* NULL or a unit of field_set_meta */
    unsigned width;
    bool right;        /* numbers */
};

struct render {
    struct render_options o;
    bool tty, colour;
    bool rounds;             /* the data source comes in rounds */
    bool have_schema;
    json_object *schema;     /* the first data source */
    struct column *cols;
    size_t n_cols;
    bool header_done;
    unsigned rounds_seen;
    json_object **held;      /* a round (columns) or everything (sort) */
    size_t n_held, held_cap;
    struct sort_key {
        char *name;
        bool desc;
    } keys[16];
    size_t n_keys;
};

int output_mode_parse(const char *s, enum output_mode *ret) {
    static const char *const names[] = { "columns", "json", "jsonpretty", "yaml" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0) {
            *ret = (enum output_mode) i;
            return 0;
        }
    return -EINVAL;
}

struct render *render_new(const struct render_options *o) {
    struct render *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->o = *o;
    r->tty = ctl_stdout_tty();
    r->colour = ctl_colour(stdout);
    return r;
}

static void drop_held(struct render *r) {
    for (size_t i = 0; i < r->n_held; i++)
        json_object_put(r->held[i]);
    r->n_held = 0;
}

struct render *render_free(struct render *r) {
    if (!r)
        return NULL;
    drop_held(r);
    free(r->held);
    for (size_t i = 0; i < r->n_cols; i++)
        free(r->cols[i].name);
    free(r->cols);
    for (size_t i = 0; i < r->n_keys; i++)
        free(r->keys[i].name);
    json_object_put(r->schema);
    free(r);
    return NULL;
}

/* ------------------------------------------------------------- fields */

json_object *render_lookup(json_object *ev, const char *name) {
    json_object *v = NULL;
    const char *dot;
    char part[128];

    if (json_object_object_get_ex(ev, name, &v))
        return v;
    while ((dot = strchr(name, '.'))) {
        size_t n = (size_t) (dot - name);
        if (n == 0 || n >= sizeof(part))
            return NULL;
        memcpy(part, name, n);
        part[n] = '\0';
        if (!json_object_object_get_ex(ev, part, &ev) || !json_object_is_type(ev, json_type_object))
            return NULL;
        name = dot + 1;
    }
    return json_object_object_get_ex(ev, name, &v) ? v : NULL;
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

int render_unknown_field(json_object *ds, const char *what, const char *name) {
    json_object *fields = jget(ds, "fields");
    size_t n = jlen(fields);
    const char **names = calloc(n + 1, sizeof(*names));
    const char *hint;

    for (size_t i = 0; names && i < n; i++)
        names[i] = jstr(jidx(fields, i), "name");
    hint = names ? hint_closest(name, names) : NULL;
    ctl_error("%s: no field '%s'%s%s%s in data source '%s'", what, name,
              hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "",
              jstr(ds, "name"));
    fprintf(stderr, "  It has:");
    for (size_t i = 0; names && i < n; i++)
        fprintf(stderr, "%s %s", i ? "," : "", names[i]);
    fprintf(stderr, "\n  A field an enricher adds needs it: --operator uidgid (user, group), "
                    "procinfo (proc.*), unit (unit, ...).\n");
    free(names);
    return EXIT_USAGE;
}

int render_select_fields(json_object *ds, const char *spec, char **defaults, char ***ret) {
    json_object *fields = jget(ds, "fields");
    char **list = NULL, *copy = NULL, *save = NULL;
    bool relative = false, absolute = false;
    int r = 0;

    if (spec) {
        copy = strdup(spec);
        if (!copy)
            return EXIT_ERROR;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (t[0] == '+' || t[0] == '-')
                relative = true;
            else
                absolute = true;
        }
        free(copy);
        copy = NULL;
        if (relative && absolute) {
            ctl_error("--fields '%s': either a list (a,b,c) or changes to the defaults "
                      "(+x,-y), not both", spec);
            return EXIT_USAGE;
        }
    }
    if (!spec || relative) {
        /* The defaults: the session's own columns, else every field not
         * marked hidden. */
        if (defaults) {
            for (size_t i = 0; defaults[i]; i++)
                if (strv_extend(&list, defaults[i]) < 0)
                    goto oom;
        } else {
            for (size_t i = 0; i < jlen(fields); i++) {
                json_object *f = jidx(fields, i);
                if (!jbool(f, "hidden") && strv_extend(&list, jstr(f, "name")) < 0)
                    goto oom;
            }
        }
    }
    if (spec) {
        copy = strdup(spec);
        if (!copy)
            goto oom;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            const char *name = relative ? t + 1 : t;
            size_t n = strv_length(list);
            if (!field_of(ds, name)) {
                r = render_unknown_field(ds, "--fields", name);
                goto out;
            }
            if (relative && t[0] == '-') {
                size_t k = 0;
                for (size_t i = 0; i < n; i++) {
                    if (strcmp(list[i], name) == 0)
                        free(list[i]);
                    else
                        list[k++] = list[i];
                }
                if (list)
                    list[k] = NULL;
                continue;
            }
            if (strv_contains(list, name))
                continue;
            if (strv_extend(&list, name) < 0)
                goto oom;
        }
    }
    if (!list && strv_extend(&list, "") == 0) {
        /* Nothing to show is a choice too: an empty list. */
        free(list[0]);
        list[0] = NULL;
    }
    *ret = list;
    list = NULL;
out:
    free(copy);
    strv_free(list);
    return r;
oom:
    ctl_error("out of memory");
    r = EXIT_ERROR;
    goto out;
}

int render_check_sort(json_object *ds, const char *spec) {
    char *copy = strdup(spec), *save = NULL;
    int r = 0;

    if (!copy)
        return EXIT_ERROR;
    for (char *t = strtok_r(copy, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save)) {
        const char *name = t[0] == '-' || t[0] == '+' ? t + 1 : t;
        if (!field_of(ds, name))
            r = render_unknown_field(ds, "--sort", name);
    }
    free(copy);
    return r;
}

/* ------------------------------------------------------------ columns */

static bool type_is_number(const char *t) {
    return t[0] == 'u' || t[0] == 's' ? strcmp(t, "string") != 0 : false;
}

/* Columns a type needs when the field gives no width. */
static unsigned type_width(const char *type, const char *unit) {
    if (unit)
        return strcmp(unit, "bytes") == 0 ? 8 : 7;
    if (strcmp(type, "u8") == 0)
        return 3;
    if (strcmp(type, "u16") == 0)
        return 5;
    if (strcmp(type, "u32") == 0 || strcmp(type, "s32") == 0)
        return 10;
    if (strcmp(type, "u64") == 0 || strcmp(type, "s64") == 0)
        return 12;
    if (strcmp(type, "bool") == 0)
        return 5;
    if (strcmp(type, "timestamp") == 0)
        return 12;
    return 16;
}

bool render_draws_rounds(const struct render *r) {
    return r->rounds && r->o.mode == OUT_COLUMNS;
}

int render_schema(struct render *r, json_object *datasources) {
    json_object *ds = jidx(datasources, 0);
    char **names = NULL;
    unsigned cols, rows, used = 0;
    int ret;

    if (!ds) {
        ctl_error("the session has no data source");
        return EXIT_ERROR;
    }
    r->schema = json_object_get(ds);
    r->rounds = jbool(ds, "rounds");
    r->have_schema = true;
    if (r->o.sort) {
        char *copy = strdup(r->o.sort), *save = NULL;
        ret = copy ? render_check_sort(ds, r->o.sort) : EXIT_ERROR;
        for (char *t = copy && ret == 0 ? strtok_r(copy, ",", &save) : NULL;
             t && r->n_keys < sizeof(r->keys) / sizeof(r->keys[0]); t = strtok_r(NULL, ",", &save)) {
            r->keys[r->n_keys].desc = t[0] == '-';
            r->keys[r->n_keys++].name = strdup(t[0] == '-' || t[0] == '+' ? t + 1 : t);
        }
        free(copy);
        if (ret)
            return ret;
    }
    if (r->o.mode != OUT_COLUMNS)
        return 0;
    ret = render_select_fields(ds, r->o.fields, r->o.default_fields, &names);
    if (ret)
        return ret;
    if (strv_length(names) > COLUMNS_MAX) {
        ctl_error("%zu fields: a table shows %d at most (choose them with --fields)",
                  strv_length(names), COLUMNS_MAX);
        for (size_t i = COLUMNS_MAX; names[i]; i++) {
            free(names[i]);
            names[i] = NULL;
        }
    }
    r->n_cols = strv_length(names) + (r->o.node_width ? 1 : 0);
    r->cols = calloc(r->n_cols ? r->n_cols : 1, sizeof(*r->cols));
    if (!r->cols) {
        strv_free(names);
        return EXIT_ERROR;
    }
    ctl_terminal_size(&cols, &rows);
    for (size_t i = 0, first = 0; i < r->n_cols; i++) {
        struct column *c = &r->cols[i];
        json_object *f;
        size_t k;
        if (i == 0 && r->o.node_width) {
            /* -H: the node an event comes from, first. */
            c->name = strdup("node");
            snprintf(c->head, sizeof(c->head), "NODE");
            c->type = "string";
            c->width = r->o.node_width > 4 ? r->o.node_width : 4;
            used += c->width;
            first = 1;
            continue;
        }
        f = field_of(ds, names[i - first]);
        c->name = names[i - first];
        names[i - first] = NULL;
        c->type = jstr(f, "type");
        c->unit = jget(f, "unit") ? jstr(f, "unit") : NULL;
        c->right = type_is_number(c->type);
        c->width = ju64(f, "width") >= 1 && ju64(f, "width") <= WIDTH_MAX
                       ? (unsigned) ju64(f, "width")
                       : type_width(c->type, c->unit);
        if (!c->right && r->o.max_width && c->width > r->o.max_width)
            c->width = r->o.max_width;
        for (k = 0; c->name[k] && k + 1 < sizeof(c->head); k++)
            c->head[k] = (char) (c->name[k] >= 'a' && c->name[k] <= 'z' ? c->name[k] - 32 : c->name[k]);
        c->head[k] = '\0';
        utf8_mask_controls(c->head);
        if (c->width < strlen(c->head))
            c->width = (unsigned) strlen(c->head);
        used += c->width + (i ? 1 : 0);
    }
    /* On a terminal the last text column takes what is left of the line. */
    if (r->tty && r->n_cols > 0 && !r->cols[r->n_cols - 1].right && used < cols)
        r->cols[r->n_cols - 1].width += cols - used;
    free(names);
    return 0;
}

/* Copies s into out (size > 4 * width), cut to width columns with '…'. */
static void fit(char *out, size_t size, const char *s, unsigned width) {
    size_t cols, n;
    if (text_width(s) <= width) {
        snprintf(out, size, "%s", s);
        return;
    }
    n = text_prefix(s, width ? width - 1 : 0, &cols);
    if (n + 4 > size) { /* more bytes than out holds (zero-width characters) */
        n = size - 4;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    memcpy(out + n, "\xe2\x80\xa6", 4); /* …, and the NUL */
}

static void human_bytes(char *out, size_t size, double v) {
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%.0f%s", v, units[u]);
    else
        snprintf(out, size, "%.1f%s", v, units[u]);
}

static void human_duration(char *out, size_t size, double ns) {
    if (ns < 1000)
        snprintf(out, size, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(out, size, "%.1fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(out, size, "%.1fms", ns / 1e6);
    else
        snprintf(out, size, "%.2fs", ns / 1e9);
}

/* The text of one cell. */
static void cell_text(const struct column *c, json_object *v, char *out, size_t size) {
    const char *s;
    if (!v) {
        snprintf(out, size, "-");
        return;
    }
    if (c->unit && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))) {
        double d = json_object_get_double(v);
        if (strcmp(c->unit, "bytes") == 0)
            human_bytes(out, size, d);
        else if (strcmp(c->unit, "ns") == 0)
            human_duration(out, size, d);
        else if (strcmp(c->unit, "us") == 0)
            human_duration(out, size, d * 1e3);
        else if (strcmp(c->unit, "ms") == 0)
            human_duration(out, size, d * 1e6);
        else if (strcmp(c->unit, "s") == 0)
            human_duration(out, size, d * 1e9);
        else if (strcmp(c->unit, "percent") == 0)
            snprintf(out, size, "%.1f%%", d);
        else if (strcmp(c->unit, "centipercent") == 0)
            snprintf(out, size, "%.1f%%", d / 100);
        else
            snprintf(out, size, "%s", json_object_get_string(v));
        return;
    }
    s = json_object_get_string(v);
    if (strcmp(c->type, "timestamp") == 0 && s && strlen(s) >= 23 && s[10] == 'T') {
        /* RFC 3339 UTC with nanoseconds: local time to the millisecond.
         * Events come in bursts within a second: the local time of the
         * last second is kept. */
        static char last_utc[20], last_local[16];
        struct tm tm = { 0 }, lt;
        time_t t;
        if (!(s[20] >= '0' && s[20] <= '9' && s[21] >= '0' && s[21] <= '9' && s[22] >= '0' &&
              s[22] <= '9')) {
            snprintf(out, size, "%.19s", s);
            utf8_mask_controls(out);
            return;
        }
        if (memcmp(s, last_utc, 19) == 0) {
            snprintf(out, size, "%s.%.3s", last_local, s + 20);
            return;
        }
        if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec) == 6) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            t = timegm(&tm);
            localtime_r(&t, &lt);
            snprintf(last_local, sizeof(last_local), "%02d:%02d:%02d", lt.tm_hour, lt.tm_min,
                     lt.tm_sec);
            memcpy(last_utc, s, 19);
            snprintf(out, size, "%s.%.3s", last_local, s + 20);
            return;
        }
    }
    snprintf(out, size, "%s", s ? s : "-");
    /* One event, one line, nothing for the terminal to obey. */
    utf8_mask_controls(out);
}

static void print_cells(const struct render *r, char *const *cells, bool head) {
    for (size_t i = 0; i < r->n_cols; i++) {
        const struct column *c = &r->cols[i];
        char buf[4096];
        bool last = i + 1 == r->n_cols;
        size_t w;
        if (last && !r->tty && !head)
            snprintf(buf, sizeof(buf), "%s", cells[i]); /* nothing to align after it */
        else
            fit(buf, sizeof(buf), cells[i], c->width);
        w = text_width(buf);
        if (i)
            fputc(' ', stdout);
        if (c->right)
            printf("%*s%s", (int) (c->width > w ? c->width - w : 0), "", buf);
        else if (last)
            fputs(buf, stdout); /* no trailing blanks */
        else
            printf("%s%*s", buf, (int) (c->width > w ? c->width - w : 0), "");
    }
    fputc('\n', stdout);
}

static void print_header(struct render *r) {
    char *heads[r->n_cols ? r->n_cols : 1];
    for (size_t i = 0; i < r->n_cols; i++)
        heads[i] = r->cols[i].head;
    if (r->colour)
        fputs("\033[1m", stdout);
    print_cells(r, heads, true);
    if (r->colour)
        fputs("\033[0m", stdout);
}

static void print_row(struct render *r, json_object *ev) {
    char texts[r->n_cols ? r->n_cols : 1][1024];
    char *cells[r->n_cols ? r->n_cols : 1];
    for (size_t i = 0; i < r->n_cols; i++) {
        cell_text(&r->cols[i], render_lookup(ev, r->cols[i].name), texts[i], sizeof(texts[i]));
        cells[i] = texts[i];
    }
    print_cells(r, cells, false);
}

/* --------------------------------------------------------------- yaml */

static void yaml_scalar(json_object *v) {
    if (!v)
        fputs("null", stdout);
    else if (json_object_is_type(v, json_type_string))
        /* A JSON string is a valid YAML double-quoted scalar. */
        fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE),
              stdout);
    else
        fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), stdout);
}

static void yaml_map(json_object *o, unsigned indent, bool item) {
    bool first = true;
    json_object_object_foreach(o, key, val) {
        if (item && first)
            printf("%*s- ", (int) indent - 2, "");
        else
            printf("%*s", (int) indent, "");
        first = false;
        if (val && json_object_is_type(val, json_type_object)) {
            printf("%s:\n", key);
            yaml_map(val, indent + 2, false);
        } else {
            printf("%s: ", key);
            yaml_scalar(val);
            fputc('\n', stdout);
        }
    }
    if (first && item)
        printf("%*s- {}\n", (int) indent - 2, "");
}

/* ------------------------------------------------------------ events */

static void emit(struct render *r, json_object *ev) {
    switch (r->o.mode) {
    case OUT_JSON:
        puts(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        break;
    case OUT_JSONPRETTY:
        puts(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PRETTY |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        break;
    case OUT_YAML:
        yaml_map(ev, 2, true);
        break;
    case OUT_COLUMNS:
        if (!r->header_done) {
            print_header(r);
            r->header_done = true;
        }
        print_row(r, ev);
        break;
    }
}

static void hold(struct render *r, json_object *ev) {
    if (r->n_held == r->held_cap) {
        size_t cap = r->held_cap ? r->held_cap * 2 : 256;
        json_object **h = realloc(r->held, cap * sizeof(*h));
        if (!h) {
            emit(r, ev); /* out of memory: shown unsorted rather than lost */
            return;
        }
        r->held = h;
        r->held_cap = cap;
    }
    r->held[r->n_held++] = json_object_get(ev);
}

static struct render *sorting; /* qsort has no context argument */

struct held_event {
    json_object *ev;
    size_t arrival;
};

/* Three-way comparison of two values of one field: absent first, numbers
 * numerically (signed when negative), bools false first, then text
 * bytewise (RFC 3339 timestamps of one format sort by time). */
static int compare_values(json_object *a, json_object *b) {
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int)) {
        int64_t x = json_object_get_int64(a), y = json_object_get_int64(b);
        uint64_t ux, uy;
        if (x < 0 || y < 0)
            return (x > y) - (x < y);
        ux = json_object_get_uint64(a);
        uy = json_object_get_uint64(b);
        return (ux > uy) - (ux < uy);
    }
    if (json_object_is_type(a, json_type_boolean) && json_object_is_type(b, json_type_boolean))
        return json_object_get_boolean(a) - json_object_get_boolean(b);
    {
        int c = strcmp(json_object_get_string(a), json_object_get_string(b));
        return (c > 0) - (c < 0);
    }
}

/* By the sort keys; equal keys keep their arrival order (stable). */
static int compare_events(const void *x, const void *y) {
    const struct held_event *a = x, *b = y;
    for (size_t i = 0; i < sorting->n_keys; i++) {
        int c = compare_values(render_lookup(a->ev, sorting->keys[i].name),
                               render_lookup(b->ev, sorting->keys[i].name));
        if (c)
            return sorting->keys[i].desc ? -c : c;
    }
    return (a->arrival > b->arrival) - (a->arrival < b->arrival);
}

static void sort_held(struct render *r) {
    struct held_event *v;
    if (r->n_keys == 0 || r->n_held < 2)
        return;
    v = malloc(r->n_held * sizeof(*v));
    if (!v)
        return; /* out of memory: shown in arrival order */
    for (size_t i = 0; i < r->n_held; i++)
        v[i] = (struct held_event){ r->held[i], i };
    sorting = r;
    qsort(v, r->n_held, sizeof(*v), compare_events);
    for (size_t i = 0; i < r->n_held; i++)
        r->held[i] = v[i].ev;
    free(v);
}

/* Writes the held events: sorted, at most max_entries. */
static void flush_held(struct render *r) {
    size_t n = r->n_held;
    sort_held(r);
    if (r->o.max_entries && n > r->o.max_entries)
        n = (size_t) r->o.max_entries;
    for (size_t i = 0; i < n; i++)
        emit(r, r->held[i]);
    drop_held(r);
}

void render_event(struct render *r, json_object *ev) {
    /* Held back: every event when sorting a stream, a round when it is
     * drawn as a whole. */
    if ((r->n_keys > 0 && !r->rounds) || (r->rounds && r->o.mode == OUT_COLUMNS))
        hold(r, ev);
    else
        emit(r, ev);
}

void render_round_end(struct render *r) {
    unsigned cols, rows;

    r->rounds_seen++;
    if (r->o.mode == OUT_YAML) {
        fputs("---\n", stdout); /* the next round is the next document */
        return;
    }
    if (r->o.mode != OUT_COLUMNS)
        return;
    if (r->tty) {
        /* Redraw: the screen holds this round, as many rows as fit. */
        ctl_terminal_size(&cols, &rows);
        fputs("\033[H\033[2J", stdout);
        print_header(r);
        sort_held(r);
        for (size_t i = 0; i < r->n_held && i + 2 < rows; i++)
            print_row(r, r->held[i]);
        drop_held(r);
    } else {
        /* A table per round, a blank line between them. */
        if (r->rounds_seen > 1)
            fputc('\n', stdout);
        print_header(r);
        r->header_done = true;
        sort_held(r);
        for (size_t i = 0; i < r->n_held; i++)
            print_row(r, r->held[i]);
        drop_held(r);
    }
    fflush(stdout);
}

void render_finish(struct render *r) {
    if (r->rounds && r->o.mode == OUT_COLUMNS && r->n_held > 0)
        render_round_end(r); /* a last round cut short */
    else
        flush_held(r);
    if (r->o.mode == OUT_COLUMNS && !r->header_done && !r->rounds && r->have_schema && r->tty)
        print_header(r); /* no event: at least the columns */
    fflush(stdout);
}

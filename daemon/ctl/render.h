/*
 * render.h — events of `ophostctl run` and `watch` for people and scripts.
 * The daemon streams typed events (one JSON shape, event-json.h); this
 * module chooses the fields, formats them and writes them out:
 *
 *   columns     a table: fixed widths from the fields' metadata (or their
 *               type), '…' where a text is longer, numbers right-aligned,
 *               units made readable (KiB, MiB, %, ms), local times. A data
 *               source in rounds (snapshot and top gadgets) is redrawn
 *               every round on a terminal, and printed round after round,
 *               each with its header, otherwise.
 *   json        one JSON object per line, as received (the json sink's shape)
 *   jsonpretty  the same, indented
 *   yaml        a YAML sequence of events (a document per round for rounds)
 */
#ifndef OPHOST_CTL_RENDER_H
#define OPHOST_CTL_RENDER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

enum output_mode { OUT_COLUMNS, OUT_JSON, OUT_JSONPRETTY, OUT_YAML };

/* "columns", "json", "jsonpretty", "yaml": 0, or -EINVAL. */
int output_mode_parse(const char *s, enum output_mode *ret);

struct render_options {
    enum output_mode mode;
    const char *fields;       /* --fields: "a,b" or "+x,-y"; NULL = the defaults */
    char **default_fields;    /* NULL-terminated (a session's columns fields), or NULL:
                                 the fields not marked hidden */
    unsigned max_width;       /* widest a text column gets; 0 = its own width */
    const char *sort;         /* sort here, when the session ends: "-cpu,pid"; NULL = no */
    uint64_t max_entries;     /* with sort: print at most this many; 0 = all */
    unsigned node_width;      /* > 0: a leading NODE column this wide, from the
                                 events' "node" member (-H) */
};

struct render;

struct render *render_new(const struct render_options *o);
struct render *render_free(struct render *r);

/*
 * The fields a --fields spec selects from data source ds (as in a
 * DataSource reply), in order: "a,b,c" those; "+x,-y" the defaults (see
 * render_options.default_fields) plus x, without y. Returns 0 with a
 * NULL-terminated list (free with strv_free), or EXIT_USAGE after printing
 * which field is unknown (with a did-you-mean and the fields it has).
 */
int render_select_fields(json_object *ds, const char *spec, char **defaults, char ***ret);
/* Prints "WHAT: no field 'x' (did you mean 'y'?) in data source 'd'", the
 * fields ds has and which enrichers add more; returns EXIT_USAGE. */
int render_unknown_field(json_object *ds, const char *what, const char *name);

/* Checks a sort spec ("-cpu,pid") against ds: 0 or EXIT_USAGE after
 * printing why. */
int render_check_sort(json_object *ds, const char *spec);

/* The data sources of the stream (its first reply): 0, or EXIT_USAGE after
 * printing why (an unknown field). */
int render_schema(struct render *r, json_object *datasources);
/* Whether, with the schema known, events come in rounds drawn as tables. */
bool render_draws_rounds(const struct render *r);
/* One event; the end of a round. */
void render_event(struct render *r, json_object *ev);
void render_round_end(struct render *r);
/* The stream ended: what was held back (sorted events) goes out. */
void render_finish(struct render *r);

/* The value of field name in an event of the nested shape (dotted names in
 * objects, or whole where event-json.h's rule keeps them so); NULL if
 * absent or null. */
json_object *render_lookup(json_object *ev, const char *name);

#endif

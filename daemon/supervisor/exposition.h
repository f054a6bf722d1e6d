/*
 * exposition.h — the metrics texts that operator instances publish
 * (host->metrics_publish), as the supervisor keeps, checks and serves them.
 *
 * A text arrives from a worker as a sealed memfd (proto.h, PROTO_METRICS):
 * it is mapped read-only and kept, reference-counted, by the session it
 * belongs to, until a newer text of the same instance replaces it. Nothing
 * in it is trusted: the first scrape that serves it checks it in full
 * (exposition_parse: the Prometheus text format 0.0.4 and the rules of
 * ophost.h) and indexes its families and samples; a text that breaks a rule
 * is not served, and the reason names the line. Serving (exposition_merge)
 * writes the families of every session, the families of the same name
 * merged under one HELP/TYPE header, each sample with the label
 * session="NAME" added: the work of a scrape is a copy of the lines.
 */
#ifndef OPHOST_DAEMON_EXPOSITION_H
#define OPHOST_DAEMON_EXPOSITION_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable output buffer; a failed allocation sets oom and drops the
 * rest. Zero-initialise; free data when done. */
struct expo_buf {
    char *data;
    size_t len, cap;
    bool oom;
};
void expo_buf_put(struct expo_buf *b, const char *s, size_t n);
void expo_buf_puts(struct expo_buf *b, const char *s);
void expo_buf_printf(struct expo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void expo_buf_free(struct expo_buf *b);

enum expo_type {
    EXPO_UNTYPED,
    EXPO_COUNTER,
    EXPO_GAUGE,
    EXPO_HISTOGRAM,
    EXPO_SUMMARY,
};

struct exposition;

/*
 * Takes a text from a worker: fd must be a memfd sealed with F_SEAL_WRITE,
 * F_SEAL_SHRINK and F_SEAL_GROW, at most PROTO_METRICS_MAX bytes. It is
 * mapped read-only; fd stays the caller's. Returns 0 and a new reference in
 * *ret, or a negative errno with a malloc'd reason in *ret_error (a file
 * that is not sealed or too large breaks the protocol).
 */
int exposition_from_fd(int fd, struct exposition **ret, char **ret_error);
/* The same from memory (copied), for tests and benchmarks. NULL on ENOMEM. */
struct exposition *exposition_from_text(const char *text, size_t len);

struct exposition *exposition_ref(struct exposition *e);
/* Drops a reference; returns NULL. Accepts NULL. */
struct exposition *exposition_unref(struct exposition *e);

/*
 * Checks and indexes the text, once (later calls return the first result).
 * Returns 0, or -EBADMSG with "line N: REASON" in *ret_error (valid as long
 * as e), or -ENOMEM.
 */
int exposition_parse(struct exposition *e, const char **ret_error);
/* Returns true the first time it is called for e, false later: so that a
 * text that is refused is logged once, not at every scrape. */
bool exposition_first_report(struct exposition *e);
/* After a successful parse: families and samples in the text. */
size_t exposition_families(const struct exposition *e);
size_t exposition_samples(const struct exposition *e);

/* One session's texts for a scrape. */
struct expo_source {
    const char *session;        /* [A-Za-z0-9_.-]+: safe in a label value */
    struct exposition *text;    /* parsed successfully */
    unsigned skipped;           /* out: families not served (a type conflict) */
};

/*
 * Appends every family of the n sources to out, in family-name order,
 * sources in the given order within a family: one "# HELP" (the first
 * source's that has one) and one "# TYPE" line per name, then every
 * source's samples with session="NAME" as their first label. A family
 * whose type differs from the first source's of that name is skipped and
 * counted in that source's skipped. Allocates an index of n families
 * (-ENOMEM); 0 otherwise.
 */
int exposition_merge(struct expo_buf *out, struct expo_source *src, size_t n);

/* Whether name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
bool expo_metric_name_valid(const char *name, size_t len);
/* Whether name is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*). */
bool expo_label_name_valid(const char *name, size_t len);

#endif

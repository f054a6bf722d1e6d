/*
 * spec.h — the `metrics` param of the metrics operator: which metrics to
 * make from a session's events, parsed and checked against Prometheus'
 * naming rules before any event flows (instantiate, so `ophostd --check`
 * and every reload's dry run report the errors).
 *
 *     metrics  := metric { ';' metric } [ ';' ]
 *     metric   := NAME '=' KIND '(' [ FIELD [ '*' NUMBER ] ] ')' { clause }
 *     KIND     := count | sum | last | histogram
 *     clause   := 'by' '(' FIELD [ 'as' LABEL ] { ',' FIELD [ 'as' LABEL ] } ')'
 *               | 'buckets' '(' NUMBER { ',' NUMBER } ')'
 *               | 'help' '"' TEXT '"'          (\" and \\ escape)
 *
 *     execs_total = count() by (comm, user) help "Execs seen";
 *     exec_args_bytes_total = sum(args_len) by (comm);
 *     last_pid = last(pid);
 *     dns_latency_seconds = histogram(latency_ns * 1e-9) buckets(0.001, 0.01, 0.1, 1) by (qtype)
 *
 * count() and sum() are counters (events; the sum of an unsigned field),
 * last() a gauge (the field's latest value), histogram() counts a numeric
 * field in cumulative buckets (`le`) with _sum and _count. Label names are
 * the field names with every character outside [a-z0-9_] made '_'
 * (`container.id` -> container_id), or the name after `as`.
 */
#ifndef OPHOST_PLUGINS_METRICS_SPEC_H
#define OPHOST_PLUGINS_METRICS_SPEC_H

#include <stdbool.h>
#include <stddef.h>

enum metric_kind {
    METRIC_COUNT,
    METRIC_SUM,
    METRIC_LAST,
    METRIC_HISTOGRAM,
};

#define SPEC_LABELS_MAX 16
#define SPEC_BUCKETS_MAX 64

struct spec_label {
    char *field;
    char *name;            /* the label's name */
};

struct spec_metric {
    char *name;
    enum metric_kind kind;
    char *field;           /* NULL for count() */
    double scale;          /* 1 unless '* NUMBER' */
    struct spec_label labels[SPEC_LABELS_MAX];
    size_t n_labels;
    double buckets[SPEC_BUCKETS_MAX]; /* strictly increasing, finite */
    size_t n_buckets;
    char *help;            /* as given, or the metric's own text */
};

/* "counter", "gauge", "histogram": the Prometheus type of a kind. */
const char *spec_kind_type(enum metric_kind kind);

/*
 * Parses text. Returns the number of metrics (at least 1) with the array in
 * *ret (free with spec_free), -EINVAL with the reason in err ("metric 2
 * ('x'): ..."), or -ENOMEM.
 */
int spec_parse(const char *text, struct spec_metric **ret, char *err, size_t err_size);
void spec_free(struct spec_metric *m, size_t n);

#endif

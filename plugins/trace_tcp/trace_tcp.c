/*
 * trace_tcp — a gadget with one event per TCP connect, accept and close
 * (and, with all-states, every other state change): the connection's
 * tuple, its network namespace and, where the kernel context has one, the
 * process. eBPF on sock:inet_sock_set_state (trace_tcp.bpf.c says which
 * transitions are which and when there is a process).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "bpf-net.h"
#include "gadget-net.h"
#include "schema.h"
#include "trace_tcp.h"
#include "trace_tcp.skel.h"

static const struct ophost_host *host;

struct ttcp {
    struct bpfg g; /* first */
    struct bpfg_task_fields tf;
    struct bpfg_net_fields nf;
    ophost_field f_timestamp, f_type, f_oldstate, f_newstate;
    struct bpfg_filter filter;
    struct bpfg_net_filter net;
    bool all_states;
};

static const char *const types[] = { "?", "connect", "accept", "close", "other" };

static int ttcp_record(struct bpfg *g, const void *data, size_t size) {
    struct ttcp *t = (struct ttcp *) g;
    const struct ttcp_event *r = data;
    struct ophost_event *e;

    int n = bpfg_record_event(g, data, size, sizeof(*r), t->f_timestamp, &e);

    if (n <= 0)
        return n;
    (void) ophost_event_set_string(g->batch, e, t->f_type, types[r->type <= TTCP_OTHER ? r->type : 0]);
    bpfg_set_task(g, e, &t->tf, &r->task);
    bpfg_set_tuple(g->batch, e, &t->nf, &r->tuple);
    (void) ophost_event_set_string(g->batch, e, t->f_oldstate, net_tcp_state(r->oldstate));
    (void) ophost_event_set_string(g->batch, e, t->f_newstate, net_tcp_state(r->newstate));
    return 0;
}

static int ttcp_open(struct bpfg *g, char *why, size_t size) {
    struct ttcp *t = (struct ttcp *) g;
    struct trace_tcp_bpf *skel = BPFG_OPEN(g, trace_tcp_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    BPFG_SET_WAKEUP(skel->rodata, g);
    BPFG_SET_FILTER(skel->rodata, &t->filter);
    BPFG_SET_NET_FILTER(skel->rodata, &t->net);
    skel->rodata->all_states = t->all_states;
    return 0;
}

static const struct bpfg_desc ttcp_desc = {
    .what = "tcp",
    .mechanism = "eBPF (tp_btf/inet_sock_set_state)",
    .open = ttcp_open,
    .on_record = ttcp_record,
};

static int ttcp_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct ttcp *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when it happened (wall clock)", NULL, NULL, false },
        { "type", OPHOST_FIELD_STRING, &t->f_type, "connect, accept or close", NULL, "7", false },
        BPFG_TASK_FIELDS(&t->tf),
        BPFG_NET_FIELDS(&t->nf),
        { "oldstate", OPHOST_FIELD_STRING, &t->f_oldstate, "TCP state before", NULL, "11", true },
        { "newstate", OPHOST_FIELD_STRING, &t->f_newstate, "TCP state after", NULL, "11", false },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &ttcp_desc, "tcp", 0)) < 0 ||
        (r = bpfg_read_filter(ctx, &t->filter)) < 0 ||
        (r = bpfg_read_net_filter(ctx, &t->net)) < 0 ||
        (r = host->param_bool(ctx, "all-states", &t->all_states)) < 0 ||
        (r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0) {
        free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static const struct ophost_param params[] = {
    BPFG_TASK_FILTER_PARAMS,
    BPFG_NET_FILTER_PARAMS,
    { .key = "all-states", .type = OPHOST_PARAM_BOOL, .default_value = "false",
      .description = "also every other state change (type 'other')" },
    BPFG_RING_PARAMS,
    { 0 }
};

BPFG_GADGET("trace_tcp", ttcp_instantiate, params,
            "One event per TCP connect, accept and close (eBPF)",
            "Traces TCP connections")

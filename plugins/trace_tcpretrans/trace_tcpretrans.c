/*
 * trace_tcpretrans — a gadget with one event per retransmitted TCP segment
 * (SYNs included): the connection's tuple, its state, the socket owner's
 * uid and the connection's retransmit count. eBPF on tcp:tcp_retransmit_skb
 * (trace_tcpretrans.bpf.c). There is no process: retransmissions run from
 * the kernel's timers.
 */
#include <errno.h>
#include <stdlib.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "bpf-net.h"
#include "gadget-net.h"
#include "schema.h"
#include "trace_tcpretrans.h"
#include "trace_tcpretrans.skel.h"

static const struct ophost_host *host;

struct tretr {
    struct bpfg g; /* first */
    struct bpfg_net_fields nf;
    ophost_field f_timestamp, f_state, f_uid, f_retrans, f_err;
    struct bpfg_net_filter net;
};

static int tretr_record(struct bpfg *g, const void *data, size_t size) {
    struct tretr *t = (struct tretr *) g;
    const struct tretr_event *r = data;
    struct ophost_event *e;

    int n = bpfg_record_event(g, data, size, sizeof(*r), t->f_timestamp, &e);

    if (n <= 0)
        return n;
    bpfg_set_tuple(g->batch, e, &t->nf, &r->tuple);
    (void) ophost_event_set_string(g->batch, e, t->f_state, net_tcp_state(r->state));
    ophost_event_set_u32(e, t->f_uid, r->uid);
    ophost_event_set_u32(e, t->f_retrans, r->total_retrans);
    ophost_event_set_s32(e, t->f_err, r->err);
    return 0;
}

static int tretr_open(struct bpfg *g, char *why, size_t size) {
    struct tretr *t = (struct tretr *) g;
    struct trace_tcpretrans_bpf *skel = BPFG_OPEN(g, trace_tcpretrans_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    BPFG_SET_WAKEUP(skel->rodata, g);
    BPFG_SET_NET_FILTER(skel->rodata, &t->net);
    return 0;
}

static const struct bpfg_desc tretr_desc = {
    .what = "retransmit",
    .mechanism = "eBPF (tp_btf/tcp_retransmit_skb)",
    .open = tretr_open,
    .on_record = tretr_record,
};

static int tretr_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct tretr *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when it happened (wall clock)", NULL, NULL, false },
        BPFG_NET_FIELDS(&t->nf),
        { "state", OPHOST_FIELD_STRING, &t->f_state, "TCP state of the socket", NULL, "11", false },
        { "uid", OPHOST_FIELD_U32, &t->f_uid, "user id of the socket's owner", NULL, "6", false },
        { "retransmits", OPHOST_FIELD_U32, &t->f_retrans, "retransmissions of the segment so far", NULL, "6", false },
        { "error", OPHOST_FIELD_S32, &t->f_err, "error of the retransmission (0 = none, else -errno)", NULL, "6", false },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &tretr_desc, "retransmits", 0)) < 0 ||
        (r = bpfg_read_net_filter(ctx, &t->net)) < 0 ||
        (r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0) {
        free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static const struct ophost_param params[] = {
    BPFG_NET_FILTER_PARAMS,
    BPFG_RING_PARAMS,
    { 0 }
};

BPFG_GADGET("trace_tcpretrans", tretr_instantiate, params,
            "One event per retransmitted TCP segment (eBPF)",
            "Traces TCP retransmissions")

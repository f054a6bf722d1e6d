/*
 * top_tcp — a gadget that reports, every interval, the bytes each process
 * sent and received on each TCP connection during it (like tcptop), one
 * batch per interval for sort and limiter. eBPF on sock:sock_send_length
 * and sock:sock_recv_length, summed in a kernel hash map that is read and
 * emptied every interval (top_tcp.bpf.c); connections beyond max-entries in
 * one interval are counted as lost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "bpf-net.h"
#include "gadget-net.h"
#include "schema.h"
#include "top_tcp.h"
#include "top_tcp.skel.h"

static const struct ophost_host *host;

struct ttop {
    struct bpfg g; /* first */
    struct bpfg_net_fields nf;
    ophost_field f_pid, f_uid, f_comm, f_sent, f_received;
    struct bpfg_filter filter;
    struct bpfg_net_filter net;
};

static int ttop_interval(struct bpfg *g, uint32_t n) {
    struct ttop *t = (struct ttop *) g;
    const struct ttop_key *keys = g->keys;
    const struct ttop_value *values = g->values;

    for (uint32_t i = 0; i < n; i++) {
        struct ophost_event *e = bpfg_append(g);
        if (!e)
            return 0;
        ophost_event_set_u32(e, t->f_pid, keys[i].pid);
        ophost_event_set_u32(e, t->f_uid, values[i].uid);
        bpfg_set_str(g, e, t->f_comm, values[i].comm, sizeof(values[i].comm));
        bpfg_set_tuple(g->batch, e, &t->nf, &keys[i].tuple);
        ophost_event_set_u64(e, t->f_sent, values[i].sent);
        ophost_event_set_u64(e, t->f_received, values[i].received);
    }
    return 0;
}

static int ttop_open(struct bpfg *g, char *why, size_t size) {
    struct ttop *t = (struct ttop *) g;
    struct top_tcp_bpf *skel = BPFG_OPEN(g, top_tcp_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    BPFG_SET_FILTER(skel->rodata, &t->filter);
    BPFG_SET_NET_FILTER(skel->rodata, &t->net);
    g->map = skel->maps.traffic;
    return 0;
}

static const struct bpfg_desc ttop_desc = {
    .what = "connection",
    .mechanism = "eBPF (tp_btf/sock_send_length, tp_btf/sock_recv_length)",
    .open = ttop_open,
    .on_interval = ttop_interval,
    .key_size = sizeof(struct ttop_key),
    .value_size = sizeof(struct ttop_value),
};

static int ttop_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct ttop *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "pid", OPHOST_FIELD_U32, &t->f_pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },
        { "uid", OPHOST_FIELD_U32, &t->f_uid, "user id", NULL, "6", true },
        { "comm", OPHOST_FIELD_STRING, &t->f_comm, "command name (at most 15 bytes)", NULL, "16", false },
        BPFG_NET_FIELDS(&t->nf),
        { "sent", OPHOST_FIELD_U64, &t->f_sent, "bytes sent over the round", "bytes", "8", false },
        { "received", OPHOST_FIELD_U64, &t->f_received, "bytes received over the round", "bytes", "8", false },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &ttop_desc, "connections", 0)) < 0 ||
        (r = bpfg_read_filter(ctx, &t->filter)) < 0 ||
        (r = bpfg_read_net_filter(ctx, &t->net)) < 0 ||
        (r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0) {
        free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static const struct ophost_param params[] = {
    BPFG_INTERVAL_PARAMS("connections", "8192"),
    BPFG_TASK_FILTER_PARAMS,
    BPFG_NET_FILTER_PARAMS,
    { 0 }
};

BPFG_GADGET("top_tcp", ttop_instantiate, params,
            "Bytes sent and received per process and TCP connection, every interval (eBPF)",
            "TCP traffic per process and connection")

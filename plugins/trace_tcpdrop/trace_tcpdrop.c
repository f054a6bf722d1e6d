/*
 * trace_tcpdrop — a gadget with one event per TCP packet the kernel drops:
 * the packet's tuple and TCP flags, the drop reason (the kernel's enum
 * skb_drop_reason, named from the kernel's BTF, so new reasons get their
 * names without a rebuild), where in the kernel it was dropped
 * (/proc/kallsyms) and the socket's state when there was one. eBPF on
 * skb:kfree_skb (trace_tcpdrop.bpf.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "bpf-net.h"
#include "gadget-net.h"
#include "ksyms.h"
#include "schema.h"
#include "trace_tcpdrop.h"
#include "trace_tcpdrop.skel.h"

static const struct ophost_host *host;

#define REASON_PREFIX "SKB_DROP_REASON_"

struct tdrop {
    struct bpfg g; /* first */
    struct bpfg_net_fields nf;
    ophost_field f_timestamp, f_flags, f_state, f_reason, f_reason_code, f_location;
    struct bpfg_net_filter net;
    struct btf *btf;            /* the kernel's, for reason names */
    const struct btf_type *reasons;
    struct ksyms ksyms;         /* empty when /proc/kallsyms hides addresses */
};

/* The name of a drop reason without its SKB_DROP_REASON_ prefix. */
static const char *reason_name(const struct tdrop *t, uint32_t reason) {
    const struct btf_enum *v;

    if (!t->reasons)
        return NULL;
    v = btf_enum(t->reasons);
    for (unsigned i = 0; i < btf_vlen(t->reasons); i++, v++)
        if ((uint32_t) v->val == reason) {
            const char *name = btf__name_by_offset(t->btf, v->name_off);
            if (name && strncmp(name, REASON_PREFIX, strlen(REASON_PREFIX)) == 0)
                name += strlen(REASON_PREFIX);
            return name;
        }
    return NULL;
}

static int tdrop_record(struct bpfg *g, const void *data, size_t size) {
    struct tdrop *t = (struct tdrop *) g;
    const struct tdrop_event *r = data;
    struct ophost_event *e;
    const char *name, *sym;
    char text[160];
    uint64_t off;

    int n = bpfg_record_event(g, data, size, sizeof(*r), t->f_timestamp, &e);

    if (n <= 0)
        return n;
    bpfg_set_tuple(g->batch, e, &t->nf, &r->tuple);
    (void) ophost_event_set_bytes(g->batch, e, t->f_flags, text,
                                  bpfg_tcp_flags(r->tuple.tcpflags, text, sizeof(text)));
    if (r->state)
        (void) ophost_event_set_string(g->batch, e, t->f_state, net_tcp_state(r->state));
    if ((name = reason_name(t, r->reason)))
        (void) ophost_event_set_string(g->batch, e, t->f_reason, name);
    ophost_event_set_u32(e, t->f_reason_code, r->reason);
    if ((sym = ksyms_find(&t->ksyms, r->location, &off)))
        (void) ophost_event_set_bytes(g->batch, e, t->f_location, text,
                                      (size_t) snprintf(text, sizeof(text), "%s+0x%" PRIx64,
                                                        sym, off));
    return 0;
}

static int tdrop_open(struct bpfg *g, char *why, size_t size) {
    struct tdrop *t = (struct tdrop *) g;
    struct trace_tcpdrop_bpf *skel;
    int id, r;

    t->btf = btf__load_vmlinux_btf();
    if (!t->btf) {
        snprintf(why, size, "cannot read the kernel's BTF: %s", strerror(errno));
        return -errno;
    }
    id = btf__find_by_name_kind(t->btf, "skb_drop_reason", BTF_KIND_ENUM);
    t->reasons = id > 0 ? btf__type_by_id(t->btf, (uint32_t) id) : NULL;
    r = ksyms_load(&t->ksyms);
    if (r < 0)
        bpfg_host->log(g->ctx, OPHOST_LOG_NOTICE, "no kernel symbols (/proc/kallsyms: %s): "
                       "'location' stays unset", strerror(-r));
    skel = BPFG_OPEN(g, trace_tcpdrop_bpf, why, size);
    if (!skel)
        return -ENOMEM;
    BPFG_SET_WAKEUP(skel->rodata, g);
    BPFG_SET_NET_FILTER(skel->rodata, &t->net);
    return 0;
}

static void tdrop_release(struct bpfg *g) {
    struct tdrop *t = (struct tdrop *) g;

    btf__free(t->btf);
    t->btf = NULL;
    t->reasons = NULL;
    ksyms_free(&t->ksyms);
}

static const struct bpfg_desc tdrop_desc = {
    .what = "drop",
    .mechanism = "eBPF (tp_btf/kfree_skb)",
    .open = tdrop_open,
    .on_record = tdrop_record,
    .release = tdrop_release,
};

static int tdrop_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct tdrop *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when it happened (wall clock)", NULL, NULL, false },
        BPFG_NET_FIELDS(&t->nf),
        { "tcpflags", OPHOST_FIELD_STRING, &t->f_flags, "TCP flags of the dropped packet", NULL, "12", false },
        { "state", OPHOST_FIELD_STRING, &t->f_state, "TCP state of the socket", NULL, "11", false },
        { "reason", OPHOST_FIELD_STRING, &t->f_reason, "why the kernel dropped it (SKB_DROP_REASON_*)", NULL, "20", false },
        { "reason_code", OPHOST_FIELD_U32, &t->f_reason_code, "the drop reason as a number", NULL, NULL, true },
        { "location", OPHOST_FIELD_STRING, &t->f_location, "kernel function that dropped it", NULL, "24", false },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &tdrop_desc, "drops", 0)) < 0 ||
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

BPFG_GADGET("trace_tcpdrop", tdrop_instantiate, params,
            "One event per TCP packet the kernel drops, with the reason (eBPF)",
            "Traces TCP packet drops")

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trace_tcpdrop.bpf.c — the eBPF half of trace_tcpdrop: one record per TCP
 * packet the kernel drops (skb:kfree_skb, as tp_btf, with its drop reason;
 * packets freed normally go through consume_skb and are not seen). Every
 * protocol's drops pass through here, so the first check is cheap: only
 * IPv4/IPv6 TCP packets go on. Drops happen in softirq context mostly:
 * there is no process, only the socket's state when the packet had one.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "gadget-net.bpf.h"
#include "trace_tcpdrop.h"

SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
             struct sock *rx_sk)
{
    struct tdrop_event *e;
    struct gadget_tuple t;
    struct sock *sk;

    if (!gadget_skb_tuple(skb, &t) || t.proto != GADGET_IPPROTO_TCP || !gadget_tuple_passes(&t))
        return 0;
    e = gadget_reserve(sizeof(*e));
    if (!e)
        return 0;
    e->boot_ns = bpf_ktime_get_boot_ns();
    e->location = (__u64) location;
    e->tuple = t;
    e->reason = reason;
    sk = rx_sk ? rx_sk : BPF_CORE_READ(skb, sk);
    e->state = sk ? BPF_CORE_READ(sk, __sk_common.skc_state) : 0;
    gadget_submit(e);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

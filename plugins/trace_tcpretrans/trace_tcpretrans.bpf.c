// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trace_tcpretrans.bpf.c — the eBPF half of trace_tcpretrans: one record per
 * TCP segment retransmitted (tcp:tcp_retransmit_skb, as tp_btf), SYNs
 * included. Retransmissions run from timers and softirqs, so there is no
 * process: the record carries the socket's owner uid instead.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "gadget-net.bpf.h"
#include "trace_tcpretrans.h"

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
    struct tretr_event *e;
    struct gadget_tuple t;

    gadget_sock_tuple(sk, &t);
    if (!gadget_tuple_passes(&t))
        return 0;
    e = gadget_reserve(sizeof(*e));
    if (!e)
        return 0;
    e->boot_ns = bpf_ktime_get_boot_ns();
    e->tuple = t;
    e->uid = BPF_CORE_READ(sk, sk_uid.val);
    e->total_retrans = BPF_CORE_READ((struct tcp_sock *) sk, total_retrans);
    e->err = err;
    e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
    gadget_submit(e);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

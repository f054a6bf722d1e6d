// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trace_tcp.bpf.c — the eBPF half of trace_tcp: TCP connects, accepts and
 * closes from the sock:inet_sock_set_state tracepoint (tp_btf).
 *
 *   connect  SYN_SENT -> ESTABLISHED (connected) or -> CLOSE (refused, timed
 *            out): the handshake ends in softirq context, so the process
 *            is the one current at CLOSE -> SYN_SENT, inside connect(),
 *            kept in a map by socket until then (the source port is not
 *            chosen yet at that point);
 *   accept   SYN_RECV -> ESTABLISHED on the listener's side: the handshake
 *            completes in softirq context, not in accept(), so no process
 *            is known (pid 0);
 *   close    ESTABLISHED or CLOSE_WAIT -> FIN_WAIT1 or LAST_ACK: the local
 *            close()/shutdown(), in its process; -> CLOSE directly (a reset
 *            received, an abort) has no process;
 *   other    any other change, with all-states.
 *
 * The pid/uid/comm filters apply to events with a process; events without
 * one pass only when no such filter is set.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "gadget-net.bpf.h"
#include "trace_tcp.h"

const volatile bool all_states = false;

/* Connecting sockets -> the process that called connect(). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct gadget_task);
} connecting SEC(".maps");

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
    struct gadget_task *connector = NULL;
    __u64 key = (__u64) sk;
    struct ttcp_event *e;
    bool task = false;
    __u8 type;

    if (BPF_CORE_READ(sk, sk_protocol) != GADGET_IPPROTO_TCP)
        return 0;
    if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
        struct gadget_task t;
        if (gadget_current_passes()) {
            gadget_current_task(&t);
            bpf_map_update_elem(&connecting, &key, &t, BPF_ANY);
        }
        if (!all_states)
            return 0;
        type = TTCP_OTHER;
    } else if (oldstate == TCP_SYN_SENT &&
               (newstate == TCP_ESTABLISHED || newstate == TCP_CLOSE)) {
        type = TTCP_CONNECT;
        connector = bpf_map_lookup_elem(&connecting, &key);
    } else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
        type = TTCP_ACCEPT;
    } else if ((oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) &&
               (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK || newstate == TCP_CLOSE)) {
        type = TTCP_CLOSE;
        task = newstate != TCP_CLOSE;
    } else if (all_states) {
        type = TTCP_OTHER;
    } else {
        return 0;
    }
    if (task ? !gadget_current_passes()
             : !connector && (filter_pid || filter_uid != (__u32) -1 || filter_comm[0]))
        goto out;
    e = gadget_reserve(sizeof(*e));
    if (!e)
        goto out;
    gadget_sock_tuple(sk, &e->tuple);
    if (!gadget_tuple_passes(&e->tuple)) {
        bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
        goto out;
    }
    e->boot_ns = bpf_ktime_get_boot_ns();
    e->type = type;
    e->oldstate = oldstate;
    e->newstate = newstate;
    if (task)
        gadget_current_task(&e->task);
    else if (connector)
        e->task = *connector;
    else
        gadget_no_task(&e->task);
    gadget_submit(e);
out:
    if (type == TTCP_CONNECT)
        bpf_map_delete_elem(&connecting, &key);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

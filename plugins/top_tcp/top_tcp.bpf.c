// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * top_tcp.bpf.c — the eBPF half of top_tcp: bytes each process sends and
 * receives on each TCP connection, summed in a hash map that user space
 * takes (reads and empties) every interval. sock:sock_send_length and
 * sock:sock_recv_length (tp_btf) fire in sendmsg/recvmsg with the byte
 * count, in the calling process (which the pid/uid/comm filters apply to).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "gadget-net.bpf.h"
#include "top_tcp.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192); /* max-entries, set by user space */
    __type(key, struct ttop_key);
    __type(value, struct ttop_value);
} traffic SEC(".maps");

static __always_inline void count(struct sock *sk, int ret, bool sent)
{
    struct ttop_key key = {};
    struct ttop_value *v;

    if (ret <= 0 || BPF_CORE_READ(sk, sk_protocol) != GADGET_IPPROTO_TCP ||
        !gadget_current_passes())
        return;
    gadget_sock_tuple(sk, &key.tuple);
    if (!gadget_tuple_passes(&key.tuple))
        return;
    key.pid = bpf_get_current_pid_tgid() >> 32;
    v = bpf_map_lookup_elem(&traffic, &key);
    if (!v) {
        struct ttop_value zero = { .uid = (__u32) bpf_get_current_uid_gid() };
        bpf_get_current_comm(zero.comm, sizeof(zero.comm));
        v = gadget_map_value(&traffic, &key, &zero);
        if (!v)
            return;
    }
    __sync_fetch_and_add(sent ? &v->sent : &v->received, (__u64) ret);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(handle_send, struct sock *sk, int ret, int flags)
{
    count(sk, ret, true);
    return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(handle_recv, struct sock *sk, int ret, int flags)
{
    count(sk, ret, false);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

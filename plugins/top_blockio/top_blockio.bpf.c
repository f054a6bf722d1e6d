// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * top_blockio.bpf.c — the eBPF half of top_blockio: I/O requests, bytes and
 * device latency (issue to completion) per process, device and operation,
 * summed in a hash map user space takes every interval.
 *
 * The process is the one current at block:block_io_start, where a request
 * is made from a bio in the submitter's context; requests that skip it
 * (flushes the kernel makes, passthrough) get the one current at
 * block:block_rq_issue, which may be a kernel worker. The latency runs from
 * block_rq_issue (handed to the driver) to block_rq_complete. The
 * pid/uid/comm filters apply to that process.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "top_blockio.h"

#define REQ_OP_MASK 0xff

struct start {
    struct btop_key key;   /* all but dev and op, filled at completion */
    __u64 issue_ns;
    __u8 skip;             /* filtered out */
};

/* Requests in flight -> who made them and when they were issued. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct start);
} starts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096); /* max-entries, set by user space */
    __type(key, struct btop_key);
    __type(value, struct btop_value);
} io SEC(".maps");

static __always_inline void start_of_current(struct start *s)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();

    __builtin_memset(s, 0, sizeof(*s));
    s->skip = !gadget_current_passes();
    s->key.pid = pid_tgid >> 32;
    s->key.uid = (__u32) bpf_get_current_uid_gid();
    bpf_get_current_comm(s->key.comm, sizeof(s->key.comm));
}

SEC("tp_btf/block_io_start")
int BPF_PROG(handle_io_start, struct request *rq)
{
    __u64 key = (__u64) rq;
    struct start s;

    start_of_current(&s);
    bpf_map_update_elem(&starts, &key, &s, BPF_ANY);
    return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(handle_issue, struct request *rq)
{
    __u64 key = (__u64) rq;
    struct start *s = bpf_map_lookup_elem(&starts, &key);

    if (!s) {
        struct start fresh;
        start_of_current(&fresh);
        if (bpf_map_update_elem(&starts, &key, &fresh, BPF_NOEXIST) < 0)
            return 0;
        s = bpf_map_lookup_elem(&starts, &key);
        if (!s)
            return 0;
    }
    s->issue_ns = bpf_ktime_get_ns();
    return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(handle_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
    __u64 key = (__u64) rq, lat;
    struct btop_value *v, zero = {};
    struct block_device *part;
    struct start *s = bpf_map_lookup_elem(&starts, &key);

    if (!s)
        return 0;
    if (s->skip || !s->issue_ns) {
        bpf_map_delete_elem(&starts, &key);
        return 0;
    }
    lat = bpf_ktime_get_ns() - s->issue_ns;
    part = BPF_CORE_READ(rq, part);
    if (part) {
        s->key.dev = BPF_CORE_READ(part, bd_dev);
    } else {
        struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
        s->key.dev = disk ? ((__u32) BPF_CORE_READ(disk, major) << 20) |
                                BPF_CORE_READ(disk, first_minor)
                          : 0;
    }
    s->key.op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
    v = gadget_map_value(&io, &s->key, &zero);
    if (v) {
        __sync_fetch_and_add(&v->ios, 1);
        __sync_fetch_and_add(&v->bytes, nr_bytes);
        __sync_fetch_and_add(&v->latency_total_ns, lat);
        if (lat > v->latency_max_ns)
            v->latency_max_ns = lat;
    }
    bpf_map_delete_elem(&starts, &key);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

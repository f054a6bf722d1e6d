// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * profile_cpu.bpf.c — the eBPF half of profile_cpu: on every sample of a
 * software cpu-clock perf event (one per CPU, at the asked frequency) the
 * current task's user and kernel stacks go to a stack map and the sample is
 * counted per (process, user stack, kernel stack) in a hash map that user
 * space takes every interval. The pid/uid/comm filters apply to the task
 * that was running; samples of the idle task are left out unless asked.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "profile_cpu.h"

const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool include_idle = false;

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 16384); /* set by user space */
    __uint(key_size, sizeof(__u32));
    __uint(value_size, PROF_MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192); /* max-entries, set by user space */
    __type(key, struct prof_key);
    __type(value, __u64);
} samples SEC(".maps");

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid(), zero = 0, *count;
    struct prof_key key = {};

    if (!include_idle && (__u32) pid_tgid == 0)
        return 0;
    if (!gadget_current_passes())
        return 0;
    key.pid = pid_tgid >> 32;
    key.user_stack = user_stacks && key.pid ? bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) : -1;
    key.kernel_stack = kernel_stacks ? bpf_get_stackid(ctx, &stacks, 0) : -1;
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    count = gadget_map_value(&samples, &key, &zero);
    if (count)
        __sync_fetch_and_add(count, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trace_oomkill.bpf.c — the eBPF half of trace_oomkill: one record per
 * process the OOM killer picks (oom:mark_victim, as tp_btf), system-wide or
 * in a memory cgroup. The current task is the one whose allocation ran out
 * of memory (the trigger); the pid/uid/comm filters apply to the victim.
 * Memory counters are the mm's global counts (what the tracepoint itself
 * reports: per-CPU deltas not yet folded in are left out).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "trace_oomkill.h"

/* enum { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES } */
#define MM_FILEPAGES 0
#define MM_ANONPAGES 1
#define MM_SHMEMPAGES 3

SEC("tp_btf/mark_victim")
int BPF_PROG(handle_victim, struct task_struct *task, uid_t uid)
{
    struct mm_struct *mm = BPF_CORE_READ(task, mm);
    struct toom_event *e;
    char comm[GADGET_COMM_LEN];

    BPF_CORE_READ_STR_INTO(&comm, task, comm);
    if (!gadget_task_passes(BPF_CORE_READ(task, tgid), uid, comm))
        return 0;
    e = gadget_reserve(sizeof(*e));
    if (!e)
        return 0;
    e->boot_ns = bpf_ktime_get_boot_ns();
    gadget_current_task(&e->trigger);
    gadget_task_of(task, &e->victim);
    e->total_vm = mm ? BPF_CORE_READ(mm, total_vm) : 0;
    e->anon_rss = mm ? BPF_CORE_READ(mm, rss_stat[MM_ANONPAGES].count) : 0;
    e->file_rss = mm ? BPF_CORE_READ(mm, rss_stat[MM_FILEPAGES].count) : 0;
    e->shmem_rss = mm ? BPF_CORE_READ(mm, rss_stat[MM_SHMEMPAGES].count) : 0;
    e->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
    e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
    gadget_submit(e);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

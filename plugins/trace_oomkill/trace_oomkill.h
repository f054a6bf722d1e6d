/* trace_oomkill.h — the record of trace_oomkill's eBPF program. */
#ifndef OPHOST_TRACE_OOMKILL_H
#define OPHOST_TRACE_OOMKILL_H

struct toom_event {
    __u64 boot_ns;
    struct gadget_task trigger;  /* the task whose allocation ran the OOM killer */
    struct gadget_task victim;
    __u64 total_vm;              /* pages */
    __s64 anon_rss, file_rss, shmem_rss;  /* pages */
    __u64 cgroup_id;             /* the victim's cgroup (v2 id; 0 on v1) */
    __s32 oom_score_adj;
    __u32 pad;
};

#endif

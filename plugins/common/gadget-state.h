/*
 * gadget-state.h — what an eBPF gadget's program shares with user space:
 * its state, in a data section of its own (".data.gadget", so user space
 * finds it at offset 0 whatever else the program keeps in .bss), and the
 * process part of records. Included by gadget.bpf.h and bpf-gadget.h; the
 * includer provides __u32/__u64 (vmlinux.h in BPF, <linux/types.h> in user
 * space).
 */
#ifndef OPHOST_PLUGINS_GADGET_STATE_H
#define OPHOST_PLUGINS_GADGET_STATE_H

struct gadget_state {
    __u64 lost;           /* records the ring buffer had no room for */
    __u64 last_wakeup_ns; /* bpf_ktime_get_ns() of the last wakeup asked for */
};

/* The process an event is about (all 0 when there is none). */
struct gadget_task {
    __u64 start_ns;  /* process start, CLOCK_BOOTTIME (the group leader's) */
    __u64 exec_id;   /* task->self_exec_id: every execve raises it */
    __u32 pid, tid;  /* thread group id, thread id */
    __u32 uid, gid;  /* real ids */
    char comm[16];
};

#endif

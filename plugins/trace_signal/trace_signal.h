/*
 * trace_signal.h — the record of the trace_signal gadget's eBPF program,
 * shared by trace_signal.bpf.c and trace_signal.c (the includer provides
 * __u32/__u64/__s32).
 */
#ifndef OPHOST_TRACE_SIGNAL_H
#define OPHOST_TRACE_SIGNAL_H

struct tsig_event {
    __u64 boot_ns;     /* bpf_ktime_get_boot_ns() */
    __u64 start_ns;    /* sender's process start, CLOCK_BOOTTIME */
    __u64 exec_id;     /* sender's exec counter */
    __u32 pid, tid, uid, gid;  /* sender (the current task) */
    __u32 tpid, ttid;  /* target */
    __s32 sig, code, result, group;
    char comm[16];
    char tcomm[16];
};

#endif

/*
 * trace_signal.h — the record of the trace_signal gadget's eBPF program,
 * shared by trace_signal.bpf.c and trace_signal.c (the includer provides
 * __u32/__u64/__s32).
 */
#ifndef OPHOST_TRACE_SIGNAL_H
#define OPHOST_TRACE_SIGNAL_H

struct tsig_event {
    __u64 boot_ns;            /* bpf_ktime_get_boot_ns() */
    struct gadget_task task;  /* the sender (the current task) */
    __u32 tpid, ttid;         /* target */
    __s32 sig, code, result, group;
    char tcomm[16];
};

#endif

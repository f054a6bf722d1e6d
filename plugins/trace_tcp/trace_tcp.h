/*
 * trace_tcp.h — the record of trace_tcp's eBPF program (trace_tcp.bpf.c,
 * trace_tcp.c; the includer provides the __u* types and gadget-net.h).
 */
#ifndef OPHOST_TRACE_TCP_H
#define OPHOST_TRACE_TCP_H

enum ttcp_type { TTCP_CONNECT = 1, TTCP_ACCEPT = 2, TTCP_CLOSE = 3, TTCP_OTHER = 4 };

struct ttcp_event {
    __u64 boot_ns;
    struct gadget_task task;   /* all 0: the kernel context has no process */
    struct gadget_tuple tuple;
    __u8 type;                 /* enum ttcp_type */
    __u8 oldstate, newstate;
};

#endif

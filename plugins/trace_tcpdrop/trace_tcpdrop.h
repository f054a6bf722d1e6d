/* trace_tcpdrop.h — the record of trace_tcpdrop's eBPF program. */
#ifndef OPHOST_TRACE_TCPDROP_H
#define OPHOST_TRACE_TCPDROP_H

struct tdrop_event {
    __u64 boot_ns;
    __u64 location;        /* kernel address of the drop */
    struct gadget_tuple tuple;  /* of the packet: source first */
    __u32 reason;          /* enum skb_drop_reason */
    __u8 state;            /* of the socket it belonged to; 0 = none */
    __u8 pad[3];
};

#endif

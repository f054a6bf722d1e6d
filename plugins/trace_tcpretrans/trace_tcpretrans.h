/* trace_tcpretrans.h — the record of trace_tcpretrans's eBPF program. */
#ifndef OPHOST_TRACE_TCPRETRANS_H
#define OPHOST_TRACE_TCPRETRANS_H

struct tretr_event {
    __u64 boot_ns;
    struct gadget_tuple tuple;
    __u32 uid;            /* the socket's owner (sk_uid) */
    __u32 total_retrans;  /* the connection's retransmits so far */
    __s32 err;            /* what the retransmission returned (0 = sent) */
    __u8 state;
};

#endif

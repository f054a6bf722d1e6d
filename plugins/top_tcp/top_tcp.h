/* top_tcp.h — the map entries of top_tcp's eBPF program. */
#ifndef OPHOST_TOP_TCP_H
#define OPHOST_TOP_TCP_H

struct ttop_key {
    struct gadget_tuple tuple;
    __u32 pid;
    __u32 pad;
};

struct ttop_value {
    __u64 sent, received;   /* bytes */
    __u32 uid;
    __u32 pad;
    char comm[16];
};

#endif

/* top_blockio.h — the map entries of top_blockio's eBPF program. */
#ifndef OPHOST_TOP_BLOCKIO_H
#define OPHOST_TOP_BLOCKIO_H

struct btop_key {
    __u32 pid;       /* the submitter; 0 = not known */
    __u32 dev;       /* the kernel's dev_t: major << 20 | minor */
    __u32 uid;
    __u8 op;         /* REQ_OP_*: 0 read, 1 write, 2 flush, 3 discard, ... */
    __u8 pad[3];
    char comm[16];
};

struct btop_value {
    __u64 ios;
    __u64 bytes;
    __u64 latency_total_ns;  /* issue to completion, summed */
    __u64 latency_max_ns;
};

#endif

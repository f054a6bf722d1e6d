/*
 * gadget-state.h — the state an eBPF gadget's program shares with user
 * space, in a data section of its own (".data.gadget", so user space finds
 * it at offset 0 whatever else the program keeps in .bss). Included by
 * gadget.bpf.h and bpf-gadget.h; the includer provides __u64 (vmlinux.h in
 * BPF, <linux/types.h> in user space).
 */
#ifndef OPHOST_PLUGINS_GADGET_STATE_H
#define OPHOST_PLUGINS_GADGET_STATE_H

struct gadget_state {
    __u64 lost;           /* records the ring buffer had no room for */
    __u64 last_wakeup_ns; /* bpf_ktime_get_ns() of the last wakeup asked for */
};

#endif

/*
 * gadget-net.h — the connection tuple the network gadgets' eBPF programs
 * put in their records (kernel half gadget-net.bpf.h fills it, user half
 * bpf-net.h turns it into fields). The includer provides __u8/__u16/__u32.
 */
#ifndef OPHOST_PLUGINS_GADGET_NET_H
#define OPHOST_PLUGINS_GADGET_NET_H

#define GADGET_AF_INET 2
#define GADGET_AF_INET6 10

struct gadget_tuple {
    __u8 saddr[16];  /* IPv4: the first 4 bytes; network order */
    __u8 daddr[16];
    __u16 sport;     /* host order */
    __u16 dport;
    __u16 family;    /* GADGET_AF_INET or GADGET_AF_INET6; 0 = unknown */
    __u8 proto;      /* IPPROTO_TCP, IPPROTO_UDP, ... */
    __u8 tcpflags;   /* of a packet's TCP header (FIN 0x01, SYN 0x02, RST 0x04, ...) */
    __u32 netns;     /* network namespace inode */
};

#endif

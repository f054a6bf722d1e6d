/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gadget-net.bpf.h — the kernel half of the network gadgets' tuple
 * (gadget-net.h): from a socket, or from the headers of a packet; and the
 * port and family filters they share. Include after gadget.bpf.h.
 */
#ifndef OPHOST_GADGET_NET_BPF_H
#define OPHOST_GADGET_NET_BPF_H

#include <bpf/bpf_endian.h>

#include "gadget-net.h"

#define GADGET_ETH_P_IP 0x0800
#define GADGET_ETH_P_IPV6 0x86DD
#define GADGET_IPPROTO_TCP 6
#define GADGET_IPPROTO_UDP 17

/* Set by user space: only connections with this port on either side (0 =
 * any), only this family (0 = any). */
const volatile __u16 filter_port = 0;
const volatile __u16 filter_family = 0;

static __always_inline bool gadget_tuple_passes(const struct gadget_tuple *t)
{
    if (filter_family && t->family != filter_family)
        return false;
    return !filter_port || t->sport == filter_port || t->dport == filter_port;
}

/* The tuple of a socket: local address and port first. */
static __always_inline void gadget_sock_tuple(const struct sock *sk, struct gadget_tuple *t)
{
    __builtin_memset(t, 0, sizeof(*t));
    t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
    /* inet_sport outlives skc_num, which the kernel clears when it
     * releases the port (a refused connect, a closing socket). */
    t->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *) sk, inet_sport));
    if (!t->sport)
        t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
    t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    t->proto = BPF_CORE_READ(sk, sk_protocol);
    t->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
    if (t->family == GADGET_AF_INET) {
        bpf_core_read(t->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
        bpf_core_read(t->daddr, 4, &sk->__sk_common.skc_daddr);
    } else if (t->family == GADGET_AF_INET6) {
        bpf_core_read(t->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
        bpf_core_read(t->daddr, 16, &sk->__sk_common.skc_v6_daddr);
    }
}

/* The tuple of a packet from its IP and transport headers (source first);
 * false when it is neither IPv4 nor IPv6 or its headers cannot be read. */
static __always_inline bool gadget_skb_tuple(const struct sk_buff *skb, struct gadget_tuple *t)
{
    unsigned char *head = BPF_CORE_READ(skb, head);
    __u16 nh = BPF_CORE_READ(skb, network_header), th = BPF_CORE_READ(skb, transport_header);
    __u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
    __u16 ports[2];

    __builtin_memset(t, 0, sizeof(*t));
    t->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
    if (proto == GADGET_ETH_P_IP) {
        struct iphdr ip;
        if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) < 0)
            return false;
        t->family = GADGET_AF_INET;
        t->proto = ip.protocol;
        __builtin_memcpy(t->saddr, &ip.saddr, 4);
        __builtin_memcpy(t->daddr, &ip.daddr, 4);
        /* Before the transport layer has set its header: right after IP. */
        if (th == (__u16) ~0U || th <= nh)
            th = nh + ip.ihl * 4;
    } else if (proto == GADGET_ETH_P_IPV6) {
        struct ipv6hdr ip6;
        if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) < 0)
            return false;
        t->family = GADGET_AF_INET6;
        t->proto = ip6.nexthdr;
        __builtin_memcpy(t->saddr, &ip6.saddr, 16);
        __builtin_memcpy(t->daddr, &ip6.daddr, 16);
        if (th == (__u16) ~0U || th <= nh)
            th = nh + sizeof(ip6);
    } else {
        return false;
    }
    if ((t->proto == GADGET_IPPROTO_TCP || t->proto == GADGET_IPPROTO_UDP) &&
        bpf_probe_read_kernel(ports, sizeof(ports), head + th) == 0) {
        t->sport = bpf_ntohs(ports[0]);
        t->dport = bpf_ntohs(ports[1]);
        if (t->proto == GADGET_IPPROTO_TCP)
            bpf_probe_read_kernel(&t->tcpflags, 1, head + th + 13);
    }
    return true;
}

#endif

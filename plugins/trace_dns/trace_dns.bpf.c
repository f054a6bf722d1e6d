// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trace_dns.bpf.c — the eBPF half of trace_dns: a socket filter on the
 * gadget's AF_PACKET socket (SOCK_DGRAM: packets start at the IP header)
 * that lets through only UDP packets from or to the DNS port, so the
 * kernel copies nothing else to user space. IPv4 fragments after the first
 * and IPv6 packets with extension headers are not looked at.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "gadget.bpf.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_UDP 17
#define SNAPLEN 1500

const volatile __u16 dns_port = 53;

SEC("socket")
int dns_filter(struct __sk_buff *skb)
{
    __u32 l4;
    __u16 ports[2], frag;
    __u8 b;

    if (skb->protocol == bpf_htons(ETH_P_IP)) {
        if (bpf_skb_load_bytes(skb, 9, &b, 1) < 0 || b != IPPROTO_UDP)
            return 0;
        if (bpf_skb_load_bytes(skb, 6, &frag, 2) < 0 || (bpf_ntohs(frag) & 0x1fff))
            return 0;
        if (bpf_skb_load_bytes(skb, 0, &b, 1) < 0)
            return 0;
        l4 = (b & 0x0f) * 4;
    } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
        if (bpf_skb_load_bytes(skb, 6, &b, 1) < 0 || b != IPPROTO_UDP)
            return 0;
        l4 = 40;
    } else {
        return 0;
    }
    if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)) < 0)
        return 0;
    if (ports[0] != bpf_htons(dns_port) && ports[1] != bpf_htons(dns_port))
        return 0;
    return skb->len < SNAPLEN ? skb->len : SNAPLEN;
}

char LICENSE[] SEC("license") = "GPL";

/*
 * bpf-net.h — the user half of the network gadgets' tuple (gadget-net.h):
 * its fields, their values, the TCP state names, and the port and family
 * params. Header-only, static; include after bpf-gadget.h.
 */
#ifndef OPHOST_PLUGINS_BPF_NET_H
#define OPHOST_PLUGINS_BPF_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "gadget-net.h"
#include "net-names.h"
#include "schema.h"

struct bpfg_net_fields {
    ophost_field family, saddr, sport, daddr, dport, netns;
};

/* The schema entries of the tuple (inside a { ... , { 0 } } list). */
#define BPFG_NET_FIELDS(nf)                                                                \
    { "family", OPHOST_FIELD_STRING, &(nf)->family, "address family: ipv4 or ipv6", NULL, "4", true },                                      \
    { "saddr", OPHOST_FIELD_STRING, &(nf)->saddr, "source address", NULL, "16", false },                                        \
    { "sport", OPHOST_FIELD_U16, &(nf)->sport, "source port", NULL, "5", false },                                           \
    { "daddr", OPHOST_FIELD_STRING, &(nf)->daddr, "destination address", NULL, "16", false },                                        \
    { "dport", OPHOST_FIELD_U16, &(nf)->dport, "destination port", NULL, "5", false },                                           \
    { "netns", OPHOST_FIELD_U32, &(nf)->netns, "inode of the network namespace", NULL, NULL, true }

static inline const char *bpfg_family_name(unsigned family) {
    return family == GADGET_AF_INET ? "ipv4" : family == GADGET_AF_INET6 ? "ipv6" : NULL;
}

/* Sets an address field from 4 or 16 bytes (by family); unset if unknown. */
static inline void bpfg_set_addr(struct ophost_batch *b, struct ophost_event *e, ophost_field f,
                                 unsigned family, const __u8 *addr) {
    char text[INET6_ADDRSTRLEN];
    int af = family == GADGET_AF_INET ? AF_INET : family == GADGET_AF_INET6 ? AF_INET6 : -1;

    if (af >= 0 && inet_ntop(af, addr, text, sizeof(text)))
        (void) ophost_event_set_string(b, e, f, text);
}

static inline void bpfg_set_tuple(struct ophost_batch *b, struct ophost_event *e,
                                  const struct bpfg_net_fields *nf,
                                  const struct gadget_tuple *t) {
    const char *fam = bpfg_family_name(t->family);

    if (fam)
        (void) ophost_event_set_string(b, e, nf->family, fam);
    bpfg_set_addr(b, e, nf->saddr, t->family, t->saddr);
    bpfg_set_addr(b, e, nf->daddr, t->family, t->daddr);
    ophost_event_set_u16(e, nf->sport, t->sport);
    ophost_event_set_u16(e, nf->dport, t->dport);
    ophost_event_set_u32(e, nf->netns, t->netns);
}

/* TCP header flags as "SYN|ACK" into buf (size >= 40); "" for none. */
static inline size_t bpfg_tcp_flags(unsigned flags, char *buf, size_t size) {
    static const char *const names[] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR" };
    size_t n = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < 8; i++)
        if (flags & (1u << i))
            n += (size_t) snprintf(buf + n, size - n, "%s%s", n ? "|" : "", names[i]);
    return n;
}


/* The port and family params of the network tracers. */
#define BPFG_NET_FILTER_PARAMS                                                             \
    { .key = "port", .type = OPHOST_PARAM_UINT, .default_value = "0",                      \
      .flags = OPHOST_PARAM_HAS_MAX, .max = 65535,                                         \
      .description = "only connections with this port on either side (0 = any)" },        \
    { .key = "family", .type = OPHOST_PARAM_STRING, .default_value = "any",                \
      .allowed = net_families, .description = "only ipv4 or ipv6 (any = both)" }

struct bpfg_net_filter {
    uint16_t port, family;
};

/* Reads BPFG_NET_FILTER_PARAMS. Returns 0 or a negative errno. */
static inline int bpfg_read_net_filter(struct ophost_ctx *ctx, struct bpfg_net_filter *ret) {
    uint64_t port;
    const char *fam;
    int r;

    if ((r = bpfg_host->param_uint(ctx, "port", &port)) < 0 ||
        (r = bpfg_host->param_string(ctx, "family", &fam)) < 0)
        return r;
    ret->port = (uint16_t) port;
    ret->family = strcmp(fam, "ipv4") == 0   ? GADGET_AF_INET
                  : strcmp(fam, "ipv6") == 0 ? GADGET_AF_INET6
                                             : 0;
    return 0;
}

#define BPFG_SET_NET_FILTER(rodata, nf)                                                    \
    do {                                                                                   \
        (rodata)->filter_port = (nf)->port;                                                \
        (rodata)->filter_family = (nf)->family;                                            \
    } while (0)

#endif

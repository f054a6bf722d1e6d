/*
 * net-names.h — names the network gadgets show and accept: TCP states
 * (as ss(8) spells them in its filters) and the family param's values.
 * Header-only, static; user space only.
 */
#ifndef OPHOST_PLUGINS_NET_NAMES_H
#define OPHOST_PLUGINS_NET_NAMES_H

/* TCP states (include/net/tcp_states.h); UDP sockets use established
 * (connected) and close (not connected). */
static inline const char *net_tcp_state(unsigned state) {
    static const char *const names[] = { "unknown", "established", "syn-sent", "syn-recv",
                                         "fin-wait-1", "fin-wait-2", "time-wait", "close",
                                         "close-wait", "last-ack", "listen", "closing",
                                         "new-syn-recv", "bound-inactive" };
    return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

static const char *const net_families[] = { "any", "ipv4", "ipv6", NULL };

#endif

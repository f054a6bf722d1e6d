/*
 * trace_dns — a gadget with one event per DNS query and response seen on
 * the host's network interfaces: name, type, id, response code, number of
 * answers and, for a response, the latency since its query.
 *
 * Mechanism: an AF_PACKET socket (SOCK_DGRAM, every interface of the
 * daemon's network namespace) with an eBPF socket filter
 * (trace_dns.bpf.c) that passes only UDP packets of the DNS port; the
 * socket's fd sits in the session loop and packets are read in batches with
 * recvmmsg, with their kernel receive time (SO_TIMESTAMPNS). A response is
 * matched to its query by id, client address and port; pending queries live
 * in a fixed table (a query older than 10 s or pushed out by newer ones
 * gives a response without latency). Packets carry no process: there is
 * no pid. On loopback each packet passes twice (out and in): only the
 * incoming copy is used. Packets the socket had no room for are counted as
 * lost (PACKET_STATISTICS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "bpf-net.h"
#include "gadget-net.h"
#include "schema.h"
#include "trace_dns.skel.h"

static const struct ophost_host *host;

#define BATCH 32
#define SNAPLEN 1500
#define PENDING 4096          /* a power of 2 */
#define PENDING_PROBES 8
#define PENDING_MAX_AGE_NS (10ull * 1000000000ull)

struct pending {
    uint64_t ts;              /* 0 = free */
    uint8_t client[16];
    uint16_t port, id, family;
};

struct tdns {
    struct bpfg g; /* first */
    struct bpfg_net_fields nf;
    ophost_field f_timestamp, f_type, f_id, f_name, f_qtype, f_rcode, f_answers, f_latency,
        f_ifname;
    uint64_t port;
    int fd, lo_ifindex;
    uint32_t netns;     /* the daemon's: the packet socket's */
    struct ophost_source *io;
    uint64_t drops_seen;
    struct pending pending[PENDING];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_ll from[BATCH];
    char ctl[BATCH][64];
    uint8_t pkt[BATCH][SNAPLEN];
    char name[256];
};

static const char *qtype_name(unsigned t, char *buf, size_t size) {
    switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    default: snprintf(buf, size, "TYPE%u", t); return buf;
    }
}

static const char *rcode_name(unsigned rc, char *buf, size_t size) {
    static const char *const names[] = { "NoError", "FormErr", "ServFail", "NXDomain",
                                         "NotImp", "Refused" };
    if (rc < sizeof(names) / sizeof(names[0]))
        return names[rc];
    snprintf(buf, size, "RCODE%u", rc);
    return buf;
}

/* The question's name ("www.example.com", "." for the root) into t->name;
 * its end offset in *ret_end; false when the packet is malformed. Pointers
 * are not expected in a question (it is the first name), but followed once. */
static bool read_name(struct tdns *t, const uint8_t *dns, size_t len, size_t off, size_t *ret_end) {
    size_t n = 0;

    while (off < len) {
        uint8_t l = dns[off];
        if (l == 0) {
            *ret_end = off + 1;
            if (n == 0)
                t->name[n++] = '.';
            t->name[n] = '\0';
            return true;
        }
        if (l >= 0xc0 || off + 1 + l > len || n + l + 2 > sizeof(t->name))
            return false;
        if (n)
            t->name[n++] = '.';
        memcpy(t->name + n, dns + off + 1, l);
        n += l;
        off += 1 + (size_t) l;
    }
    return false;
}

static uint32_t pending_hash(const uint8_t *client, uint16_t port, uint16_t id) {
    uint64_t h = id * 0x9e3779b97f4a7c15u ^ port;
    for (int i = 0; i < 16; i++)
        h = (h ^ client[i]) * 0x100000001b3u;
    return (uint32_t) (h >> 20);
}

static void pending_add(struct tdns *t, const struct gadget_tuple *tu, uint16_t id, uint64_t ts) {
    uint32_t h = pending_hash(tu->saddr, tu->sport, id), victim = h & (PENDING - 1);

    for (uint32_t k = 0; k < PENDING_PROBES; k++) {
        struct pending *p = &t->pending[(h + k) & (PENDING - 1)];
        if (!p->ts || ts - p->ts > PENDING_MAX_AGE_NS) {
            victim = (h + k) & (PENDING - 1);
            break;
        }
        if (p->ts < t->pending[victim].ts)
            victim = (h + k) & (PENDING - 1);
    }
    t->pending[victim] = (struct pending){ .ts = ts, .port = tu->sport, .id = id,
                                           .family = tu->family };
    memcpy(t->pending[victim].client, tu->saddr, 16);
}

/* The time of the query this response answers (and forgets it), or 0. */
static uint64_t pending_take(struct tdns *t, const struct gadget_tuple *tu, uint16_t id) {
    uint32_t h = pending_hash(tu->daddr, tu->dport, id);

    for (uint32_t k = 0; k < PENDING_PROBES; k++) {
        struct pending *p = &t->pending[(h + k) & (PENDING - 1)];
        if (p->ts && p->id == id && p->port == tu->dport && p->family == tu->family &&
            memcmp(p->client, tu->daddr, 16) == 0) {
            uint64_t ts = p->ts;
            p->ts = 0;
            return ts;
        }
    }
    return 0;
}

/* Parses one packet (from the IP header on) into an event. */
static int on_packet(struct tdns *t, const uint8_t *p, size_t len, uint64_t ts, int ifindex) {
    struct gadget_tuple tu = { 0 };
    const uint8_t *dns;
    size_t l4, dlen, end;
    uint16_t id, flags, qd, an, qtype = 0;
    struct ophost_event *e;
    char buf[16], ifname[IF_NAMESIZE];
    uint64_t qts;

    if (len >= 20 && (p[0] >> 4) == 4) {
        tu.family = GADGET_AF_INET;
        memcpy(tu.saddr, p + 12, 4);
        memcpy(tu.daddr, p + 16, 4);
        l4 = (size_t) (p[0] & 0x0f) * 4;
    } else if (len >= 40 && (p[0] >> 4) == 6) {
        tu.family = GADGET_AF_INET6;
        memcpy(tu.saddr, p + 8, 16);
        memcpy(tu.daddr, p + 24, 16);
        l4 = 40;
    } else {
        return 0;
    }
    if (len < l4 + 8 + 12)
        return 0;
    tu.sport = (uint16_t) (p[l4] << 8 | p[l4 + 1]);
    tu.dport = (uint16_t) (p[l4 + 2] << 8 | p[l4 + 3]);
    tu.netns = t->netns;
    dns = p + l4 + 8;
    dlen = len - l4 - 8;
    id = (uint16_t) (dns[0] << 8 | dns[1]);
    flags = (uint16_t) (dns[2] << 8 | dns[3]);
    qd = (uint16_t) (dns[4] << 8 | dns[5]);
    an = (uint16_t) (dns[6] << 8 | dns[7]);
    t->name[0] = '\0';
    if (qd >= 1 && read_name(t, dns, dlen, 12, &end) && end + 4 <= dlen)
        qtype = (uint16_t) (dns[end] << 8 | dns[end + 1]);
    if (!(e = bpfg_append(&t->g)))
        return -ESHUTDOWN;
    ophost_event_set_u64(e, t->f_timestamp, ts);
    bpfg_set_tuple(t->g.batch, e, &t->nf, &tu);
    ophost_event_set_u16(e, t->f_id, id);
    if (t->name[0])
        (void) ophost_event_set_string(t->g.batch, e, t->f_name, t->name);
    if (qtype)
        (void) ophost_event_set_string(t->g.batch, e, t->f_qtype,
                                       qtype_name(qtype, buf, sizeof(buf)));
    if (if_indextoname((unsigned) ifindex, ifname))
        (void) ophost_event_set_string(t->g.batch, e, t->f_ifname, ifname);
    if (!(flags & 0x8000)) {
        (void) ophost_event_set_string(t->g.batch, e, t->f_type, "query");
        pending_add(t, &tu, id, ts);
        return 0;
    }
    (void) ophost_event_set_string(t->g.batch, e, t->f_type, "response");
    (void) ophost_event_set_string(t->g.batch, e, t->f_rcode,
                                   rcode_name(flags & 0x0f, buf, sizeof(buf)));
    ophost_event_set_u16(e, t->f_answers, an);
    qts = pending_take(t, &tu, id);
    if (qts && ts >= qts)
        ophost_event_set_u64(e, t->f_latency, ts - qts);
    return 0;
}

static void report_drops(struct tdns *t) {
    struct tpacket_stats st;
    socklen_t len = sizeof(st);

    /* Reading the statistics resets them. */
    if (getsockopt(t->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0 && st.tp_drops) {
        host->lost(t->g.ctx, st.tp_drops);
        t->drops_seen += st.tp_drops;
    }
}

static int on_socket(struct ophost_ctx *ctx, int fd, uint32_t revents, void *userdata) {
    struct tdns *t = userdata;
    int n, r;

    if ((r = bpfg_read_begin(&t->g)) < 0)
        return r;
    for (int i = 0; i < BATCH; i++) {
        t->iov[i] = (struct iovec){ .iov_base = t->pkt[i], .iov_len = SNAPLEN };
        t->msgs[i] = (struct mmsghdr){ .msg_hdr = {
            .msg_name = &t->from[i], .msg_namelen = sizeof(t->from[i]),
            .msg_iov = &t->iov[i], .msg_iovlen = 1,
            .msg_control = t->ctl[i], .msg_controllen = sizeof(t->ctl[i]) } };
    }
    n = recvmmsg(fd, t->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        return host->error(ctx, -errno, "reading the packet socket failed: %s", strerror(errno));
    for (int i = 0; i < n && !t->g.failing; i++) {
        struct msghdr *m = &t->msgs[i].msg_hdr;
        uint64_t ts = 0;
        if (t->from[i].sll_pkttype == PACKET_OUTGOING && t->from[i].sll_ifindex == t->lo_ifindex)
            continue; /* loopback: the incoming copy follows */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                struct timespec tsp;
                memcpy(&tsp, CMSG_DATA(c), sizeof(tsp));
                ts = (uint64_t) tsp.tv_sec * 1000000000u + (uint64_t) tsp.tv_nsec;
            }
        if (!ts)
            ts = procfs_clock_ns(CLOCK_REALTIME);
        if (on_packet(t, t->pkt[i], t->msgs[i].msg_len, ts, t->from[i].sll_ifindex) < 0)
            break;
    }
    bpfg_read_end(&t->g);
    report_drops(t);
    return 0;
}

static int tdns_open(struct bpfg *g, char *why, size_t size) {
    struct tdns *t = (struct tdns *) g;
    struct trace_dns_bpf *skel = BPFG_OPEN(g, trace_dns_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    skel->rodata->dns_port = (uint16_t) t->port;
    return 0;
}

static int tdns_attach(struct bpfg *g, char *why, size_t size) {
    struct tdns *t = (struct tdns *) g;
    int prog = bpf_program__fd(((struct trace_dns_bpf *) g->skel)->progs.dns_filter), on = 1;
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };

    t->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (t->fd < 0) {
        int r = -errno;
        snprintf(why, size, "cannot open a packet socket: %s%s", strerror(-r),
                 r == -EPERM ? " (needs CAP_NET_RAW)"
                 : r == -EAFNOSUPPORT ? " (AF_PACKET must be allowed: RestrictAddressFamilies=)"
                                      : "");
        return r;
    }
    /* The filter first, then bind: no packet of other ports is ever queued. */
    if (setsockopt(t->fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0 ||
        setsockopt(t->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0 ||
        bind(t->fd, (struct sockaddr *) &sll, sizeof(sll)) < 0) {
        int r = -errno;
        snprintf(why, size, "cannot set up the packet socket: %s", strerror(-r));
        close(t->fd);
        t->fd = -1;
        return r;
    }
    t->lo_ifindex = (int) if_nametoindex("lo");
    {
        struct stat st;
        if (stat("/proc/self/ns/net", &st) == 0)
            t->netns = (uint32_t) st.st_ino;
    }
    report_drops(t); /* whatever came before the filter was attached */
    t->drops_seen = 0;
    return 0;
}

static void tdns_detach(struct bpfg *g) {
    struct tdns *t = (struct tdns *) g;

    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static int tdns_start(struct bpfg *g) {
    struct tdns *t = (struct tdns *) g;
    int r = host->io_add(g->ctx, t->fd, POLLIN, on_socket, t, &g->io);

    if (r < 0)
        return host->error(g->ctx, r, "cannot watch the packet socket: %s", strerror(-r));
    return 0;
}

static const struct bpfg_desc tdns_desc = {
    .what = "dns",
    .mechanism = "an eBPF socket filter on an AF_PACKET socket",
    .open = tdns_open,
    .attach = tdns_attach,
    .detach = tdns_detach,
    .start = tdns_start,
};

static int tdns_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct tdns *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    t->fd = -1;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when it happened (wall clock)", NULL, NULL, false },
        { "type", OPHOST_FIELD_STRING, &t->f_type, "query or response", NULL, "8", false },
        { "id", OPHOST_FIELD_U16, &t->f_id, "DNS message id", NULL, "5", false },
        { "name", OPHOST_FIELD_STRING, &t->f_name, "the queried name", NULL, "30", false },
        { "qtype", OPHOST_FIELD_STRING, &t->f_qtype, "query type (A, AAAA, ...)", NULL, "5", false },
        { "rcode", OPHOST_FIELD_STRING, &t->f_rcode, "response code (NoError, NXDomain, ...)", NULL, "8", false },
        { "answers", OPHOST_FIELD_U16, &t->f_answers, "answers in the response", NULL, "3", false },
        { "latency_ns", OPHOST_FIELD_U64, &t->f_latency, "time from query to response", "ns", "8", false },
        BPFG_NET_FIELDS(&t->nf),
        { "ifname", OPHOST_FIELD_STRING, &t->f_ifname, "network interface", NULL, "8", true },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &tdns_desc, "dns", 0)) < 0 ||
        (r = host->param_uint(ctx, "port", &t->port)) < 0 ||
        (r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0) {
        free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "port", .type = OPHOST_PARAM_UINT, .default_value = "53",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 1, .max = 65535,
      .description = "the DNS server port (UDP)" },
    { 0 }
};

BPFG_GADGET("trace_dns", tdns_instantiate, params,
            "One event per DNS query and response, with latency (eBPF socket filter)",
            "Traces DNS queries and responses")

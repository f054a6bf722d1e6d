/*
 * snapshot_socket — a gadget that lists the TCP and UDP sockets of the
 * daemon's network namespace once (like `ss -tuanp`) and then completes its
 * session: tuple, state, owner uid, inode and the process holding it.
 *
 * The sockets come from the kernel's sock_diag netlink interface
 * (NETLINK_SOCK_DIAG, inet_diag requests per protocol and family); the
 * process from one scan of /proc/PID/fd (the socket:[INODE] links; the
 * first process found holding a socket is reported). Everything is read
 * with buffers allocated in pre_start; the table inode -> pid grows with
 * the number of sockets.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/types.h>

#include <ophost/ophost.h>

#include "net-names.h"
#include "procfs.h"
#include "schema.h"

static const struct ophost_host *host;

#define SOCKETS_PER_BATCH 65536
#define RECV_BUF 65536

struct owner {
    uint64_t inode; /* 0 = free slot */
    uint32_t pid;
};

struct snap {
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field f_proto, f_family, f_saddr, f_sport, f_daddr, f_dport, f_state, f_uid, f_inode,
        f_pid, f_comm, f_netns;
    bool tcp, udp, ipv4, ipv6, processes;
    int nl_fd, proc_fd;
    uint32_t netns;
    struct ophost_source *timer;
    struct owner *owners;   /* open addressing, a power of 2 */
    uint32_t owners_cap, n_owners;
    char *buf;              /* RECV_BUF */
    char dents[32768];
    char comm[64];
};

static const char *const protocols[] = { "all", "tcp", "udp", NULL };

/* ---------------------------------------------------- inode -> process */

static uint32_t owner_slot(const struct snap *s, uint64_t inode) {
    return (uint32_t) ((inode * 0x9e3779b97f4a7c15u) >> 32) & (s->owners_cap - 1);
}

static int owner_put(struct snap *s, uint64_t inode, uint32_t pid) {
    uint32_t i;

    if ((s->n_owners + 1) * 2 > s->owners_cap) {
        struct owner *old = s->owners;
        uint32_t old_cap = s->owners_cap;
        s->owners_cap = old_cap ? old_cap * 2 : 1024;
        s->owners = calloc(s->owners_cap, sizeof(*s->owners));
        if (!s->owners) {
            s->owners = old;
            s->owners_cap = old_cap;
            return -ENOMEM;
        }
        s->n_owners = 0;
        for (uint32_t k = 0; k < old_cap; k++)
            if (old[k].inode)
                (void) owner_put(s, old[k].inode, old[k].pid);
        free(old);
    }
    for (i = owner_slot(s, inode); s->owners[i].inode; i = (i + 1) & (s->owners_cap - 1))
        if (s->owners[i].inode == inode)
            return 0; /* the first process found keeps it */
    s->owners[i] = (struct owner){ .inode = inode, .pid = pid };
    s->n_owners++;
    return 0;
}

static uint32_t owner_of(const struct snap *s, uint64_t inode) {
    if (!s->owners_cap)
        return 0;
    for (uint32_t i = owner_slot(s, inode); s->owners[i].inode; i = (i + 1) & (s->owners_cap - 1))
        if (s->owners[i].inode == inode)
            return s->owners[i].pid;
    return 0;
}

/* Every socket fd of every process: /proc/PID/fd/N -> "socket:[INODE]". */
static int scan_owners(struct snap *s) {
    struct procfs_pids it;
    uint32_t pid = 0;
    int r, more;

    s->n_owners = 0;
    if (s->owners)
        memset(s->owners, 0, s->owners_cap * sizeof(*s->owners));
    if ((r = procfs_pids_start(&it, s->proc_fd, s->dents, sizeof(s->dents))) < 0)
        return r;
    while ((more = procfs_pids_next(&it, &pid)) > 0) {
        char path[64], link[64];
        struct dirent *de;
        DIR *d;
        snprintf(path, sizeof(path), "%" PRIu32 "/fd", pid);
        int fd = openat(s->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
            if (fd >= 0)
                close(fd);
            continue; /* gone, or not ours to read */
        }
        while ((de = readdir(d))) {
            ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
            unsigned long long inode;
            if (n <= 0)
                continue;
            link[n] = '\0';
            if (sscanf(link, "socket:[%llu]", &inode) == 1 && owner_put(s, inode, pid) < 0) {
                closedir(d);
                return -ENOMEM;
            }
        }
        closedir(d);
    }
    return more < 0 ? more : 0;
}

/* ------------------------------------------------------------ sock_diag */

static void set_addr(struct ophost_batch *b, struct ophost_event *e, ophost_field f, int family,
                     const __be32 *addr) {
    char text[INET6_ADDRSTRLEN];

    if (inet_ntop(family, addr, text, sizeof(text)))
        (void) ophost_event_set_string(b, e, f, text);
}

static int add_socket(struct snap *s, struct ophost_batch *b, uint8_t proto,
                      const struct inet_diag_msg *m) {
    struct ophost_event *e;
    uint32_t pid = s->processes ? owner_of(s, m->idiag_inode) : 0;
    int r;

    if ((r = schema_batch_append(host, s->ctx, b, &e)) < 0)
        return r;
    (void) ophost_event_set_string(b, e, s->f_proto, proto == IPPROTO_TCP ? "tcp" : "udp");
    (void) ophost_event_set_string(b, e, s->f_family, m->idiag_family == AF_INET ? "ipv4" : "ipv6");
    set_addr(b, e, s->f_saddr, m->idiag_family, m->id.idiag_src);
    set_addr(b, e, s->f_daddr, m->idiag_family, m->id.idiag_dst);
    ophost_event_set_u16(e, s->f_sport, ntohs(m->id.idiag_sport));
    ophost_event_set_u16(e, s->f_dport, ntohs(m->id.idiag_dport));
    (void) ophost_event_set_string(b, e, s->f_state, net_tcp_state(m->idiag_state));
    ophost_event_set_u32(e, s->f_uid, m->idiag_uid);
    ophost_event_set_u64(e, s->f_inode, m->idiag_inode);
    ophost_event_set_u32(e, s->f_netns, s->netns);
    if (pid) {
        ssize_t n = procfs_pid_read(s->proc_fd, pid, "comm", s->comm, sizeof(s->comm));
        ophost_event_set_u32(e, s->f_pid, pid);
        if (n > 0)
            (void) ophost_event_set_bytes(b, e, s->f_comm, s->comm,
                                          (size_t) (s->comm[n - 1] == '\n' ? n - 1 : n));
    }
    return 0;
}

/* Dumps the sockets of one protocol and family into b. Returns 0, 1 when
 * emitting failed (the session says why), or what host->error returned. */
static int dump(struct snap *s, struct ophost_batch *b, uint8_t proto, uint8_t family) {
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 req;
    } msg = {
        .nh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = proto * 256u + family },
        .req = { .sdiag_family = family, .sdiag_protocol = proto, .idiag_states = ~0u },
    };

    if (send(s->nl_fd, &msg, sizeof(msg), 0) < 0)
        return host->error(s->ctx, -errno, "sock_diag request: %s", strerror(errno));
    for (;;) {
        ssize_t n = recv(s->nl_fd, s->buf, RECV_BUF, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return host->error(s->ctx, -errno, "sock_diag answer: %s", strerror(errno));
        }
        for (struct nlmsghdr *nh = (struct nlmsghdr *) s->buf; NLMSG_OK(nh, (size_t) n);
             nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_type == NLMSG_DONE)
                return 0;
            if (nh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *err = NLMSG_DATA(nh);
                /* A protocol without a diag module (udp_diag not loaded)
                 * answers ENOENT: it has nothing to list. */
                if (err->error == -ENOENT)
                    return 0;
                return host->error(s->ctx, err->error, "sock_diag (protocol %u, family %u): %s",
                                   proto, family, strerror(-err->error));
            }
            if (nh->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
                nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg)) &&
                add_socket(s, b, proto, NLMSG_DATA(nh)) < 0)
                return 1;
        }
    }
}

static int on_timer(struct ophost_ctx *ctx, void *userdata) {
    struct snap *s = userdata;
    struct ophost_batch *b = host->batch(ctx, s->ds);
    const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP }, fams[] = { AF_INET, AF_INET6 };
    int r;

    host->source_free(s->timer);
    s->timer = NULL;
    if (!b)
        return host->error(ctx, -EINVAL, "no batch for data source 'sockets'");
    if (s->processes && (r = scan_owners(s)) < 0)
        return host->error(ctx, r, "cannot list the processes' sockets in /proc: %s",
                           strerror(-r));
    for (int p = 0; p < 2; p++)
        for (int f = 0; f < 2; f++) {
            if (!(p == 0 ? s->tcp : s->udp) || !(f == 0 ? s->ipv4 : s->ipv6))
                continue;
            r = dump(s, b, protos[p], fams[f]);
            if (r < 0)
                return r;
            if (r > 0)
                return 0;
        }
    if (schema_batch_flush(host, ctx, b) == 0)
        host->done(ctx, 0);
    return 0;
}

/* ----------------------------------------------------------- lifecycle */

static int snap_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct snap *s = calloc(1, sizeof(*s));
    const char *proto, *fam;
    int r;

    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    s->nl_fd = s->proc_fd = -1;
    const struct schema_field fields[] = {
        { "protocol", OPHOST_FIELD_STRING, &s->f_proto, "tcp or udp", NULL, "4", false },
        { "family", OPHOST_FIELD_STRING, &s->f_family, "address family: ipv4 or ipv6", NULL, "4", true },
        { "saddr", OPHOST_FIELD_STRING, &s->f_saddr, "source address", NULL, "16", false },
        { "sport", OPHOST_FIELD_U16, &s->f_sport, "source port", NULL, "5", false },
        { "daddr", OPHOST_FIELD_STRING, &s->f_daddr, "destination address", NULL, "16", false },
        { "dport", OPHOST_FIELD_U16, &s->f_dport, "destination port", NULL, "5", false },
        { "state", OPHOST_FIELD_STRING, &s->f_state, "socket state", NULL, "11", false },
        { "uid", OPHOST_FIELD_U32, &s->f_uid, "user id of the socket's owner", NULL, "6", true },
        { "inode", OPHOST_FIELD_U64, &s->f_inode, "socket inode", NULL, NULL, true },
        { "pid", OPHOST_FIELD_U32, &s->f_pid, "a process holding the socket", NULL, "7", false },
        { "comm", OPHOST_FIELD_STRING, &s->f_comm, "its command name", NULL, "16", false },
        { "netns", OPHOST_FIELD_U32, &s->f_netns, "inode of the network namespace", NULL, NULL, true },
        { 0 }
    };

    if ((r = host->param_string(ctx, "protocol", &proto)) < 0 ||
        (r = host->param_string(ctx, "family", &fam)) < 0 ||
        (r = host->param_bool(ctx, "processes", &s->processes)) < 0 ||
        (r = schema_add_datasource(host, ctx, "sockets", SOCKETS_PER_BATCH, &s->ds)) < 0 ||
        (r = schema_add_fields(host, ctx, s->ds, fields)) < 0) {
        free(s);
        return r;
    }
    s->tcp = strcmp(proto, "udp") != 0;
    s->udp = strcmp(proto, "tcp") != 0;
    s->ipv4 = strcmp(fam, "ipv6") != 0;
    s->ipv6 = strcmp(fam, "ipv4") != 0;
    *ret = s;
    return 0;
}

static int snap_post_stop(struct ophost_ctx *ctx, void *data) {
    struct snap *s = data;

    if (s->nl_fd >= 0)
        close(s->nl_fd);
    if (s->proc_fd >= 0)
        close(s->proc_fd);
    s->nl_fd = s->proc_fd = -1;
    free(s->owners);
    free(s->buf);
    s->owners = NULL;
    s->buf = NULL;
    s->owners_cap = s->n_owners = 0;
    return 0;
}

static int snap_pre_start(struct ophost_ctx *ctx, void *data) {
    struct snap *s = data;
    struct stat st;

    s->buf = malloc(RECV_BUF);
    if (!s->buf)
        return -ENOMEM;
    s->proc_fd = procfs_open();
    if (s->proc_fd < 0)
        return host->error(ctx, -errno, "cannot open /proc: %s", strerror(errno));
    s->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (s->nl_fd < 0)
        return host->error(ctx, -errno, "netlink sock_diag: cannot open the socket: %s%s",
                           strerror(errno),
                           errno == EAFNOSUPPORT || errno == EPERM
                               ? " (AF_NETLINK must be allowed: RestrictAddressFamilies=)"
                               : "");
    if (stat("/proc/self/ns/net", &st) == 0)
        s->netns = (uint32_t) st.st_ino;
    host->log(ctx, OPHOST_LOG_INFO, "using netlink sock_diag%s",
              s->processes ? " and /proc/PID/fd" : "");
    return 0;
}

static int snap_start(struct ophost_ctx *ctx, void *data) {
    struct snap *s = data;
    int r = host->timer_add(ctx, 0, 0, on_timer, s, &s->timer);

    if (r < 0)
        return host->error(ctx, r, "cannot add a timer: %s", strerror(-r));
    return 0;
}

static int snap_stop(struct ophost_ctx *ctx, void *data) {
    struct snap *s = data;

    host->source_free(s->timer);
    s->timer = NULL;
    return 0;
}

static int snap_destroy(struct ophost_ctx *ctx, void *data) {
    snap_post_stop(ctx, data); /* pre_start may have failed half-way */
    free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "protocol", .type = OPHOST_PARAM_STRING, .default_value = "all",
      .allowed = protocols, .description = "tcp, udp or all" },
    { .key = "family", .type = OPHOST_PARAM_STRING, .default_value = "any",
      .allowed = net_families, .description = "ipv4, ipv6 or any" },
    { .key = "processes", .type = OPHOST_PARAM_BOOL, .default_value = "true",
      .description = "find the process holding each socket (one scan of /proc/PID/fd)" },
    { 0 }
};

static const struct ophost_operator snapshot_socket = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "snapshot_socket",
    .description = "Lists TCP and UDP sockets with state and owning process once (sock_diag)",
    .flags = OPHOST_OPERATOR_GADGET,
    .instance_params = params,
    .instantiate = snap_instantiate,
    .pre_start = snap_pre_start,
    .start = snap_start,
    .stop = snap_stop,
    .post_stop = snap_post_stop,
    .destroy = snap_destroy,
};

static const struct ophost_operator *const operators[] = { &snapshot_socket, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "snapshot_socket",
    .version = "1.0",
    .description = "A listing of TCP and UDP sockets",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

/*
 * trace_exec — a gadget with one event per successful exec: timestamp, pid
 * (tgid), ppid, uid, gid (real ids), comm, filename, args (argv joined with
 * spaces, cut at max-args-bytes and then marked with "...") and the mount
 * namespace inode.
 *
 * Two mechanisms, chosen by the "mechanism" param (auto = the first that
 * works):
 *
 *   ebpf            a tp_btf/sched_process_exec program (trace_exec.bpf.c,
 *                   embedded through its libbpf skeleton) fills a ring
 *                   buffer; its epoll fd sits in the session loop. Records
 *                   the ring buffer had no room for are counted in the
 *                   program and reported with host->lost().
 *   proc-connector  the netlink process connector gives the pid of each
 *                   exec; the rest is read from /proc/PID right away, so a
 *                   process that is already gone yields an event with only
 *                   what is known (pid, timestamp; strings unset). ENOBUFS
 *                   means the kernel dropped an unknown number of messages:
 *                   counted as one lost event each time.
 *
 * Nothing is acquired in instantiate (ophostd --check runs it as a dry run):
 * the mechanism is set up in pre_start and joins the loop in start.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <linux/types.h>

#include <ophost/ophost.h>

#include "procfs.h"
#include "schema.h"
#include "trace_exec.h"

#ifndef HAVE_BPF
#define HAVE_BPF 0
#endif

static const struct ophost_host *host;

#if HAVE_BPF
#include "bpf-gadget.h"

#include "trace_exec.skel.h"
#endif

/* Records handled per loop wakeup before yielding back to the loop (the
 * loop is level-triggered, so the rest is read on the next iteration). */
#define MAX_PER_WAKEUP 4096
/* Netlink messages received per recvmmsg() call. */
#define NL_BATCH 64
#define NL_MSG_SIZE 256
/* Lost-event warnings are logged at most this often. */
#define LOST_WARN_INTERVAL_NS (10ull * 1000000000ull)

enum mechanism { MECH_AUTO, MECH_EBPF, MECH_PROC };

static const char *const mechanisms[] = { "auto", "ebpf", "proc-connector", NULL };

struct trace_exec {
#if HAVE_BPF
    struct bpfg g; /* first: the shared eBPF gadget code gets a trace_exec as a bpfg */
#endif
    struct ophost_ctx *ctx;
    struct ophost_datasource *ds;
    ophost_field f_timestamp, f_pid, f_ppid, f_uid, f_gid, f_comm, f_filename, f_args, f_mntns,
        f_start_time, f_exec_id;
    enum mechanism want, used;
    uint64_t max_args, pc_buffer;
    uint64_t boot_ns, tick_hz; /* for start_time from /proc */

    struct ophost_source *src;
    struct ophost_batch *batch; /* while emitting */
    bool failing;               /* emit said the session is failing */
    int64_t clock_offset_ns;    /* realtime - (boottime or monotonic), per wakeup */
    uint64_t n_lost;            /* reported so far */
    uint64_t n_lost_warned;
    uint64_t last_warn_ns;

    int nl_fd;
    bool nl_listening;
    uint32_t nl_cookie; /* cn_msg.ack of our requests; the kernel answers with + 1 */
    struct mmsghdr nl_msgs[NL_BATCH];
    struct iovec nl_iov[NL_BATCH];
    char nl_buf[NL_BATCH][NL_MSG_SIZE] __attribute__((aligned(8)));

    /* Scratch buffers, so that no event allocates. */
    char args[TE_ARGS_MAX + 8];
    char raw[TE_ARGS_MAX + 8];
    char text[4096];
    char exe[4096];
};

/* ------------------------------------------------------------ helpers */

/* Reads up to size - 1 bytes of dirfd/name into buf, NUL-terminates it and
 * returns the length, or a negative errno. */
static ssize_t read_file_at(int dirfd, const char *name, char *buf, size_t size) {
    ssize_t n = procfs_read(dirfd, name, buf, size - 1);

    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* Sets args from the raw argument area raw[0..len), of which total bytes
 * exist in the process (the final NUL included): NULs become spaces, the
 * final NUL goes, and a cut command line (more than max_args bytes) keeps
 * max_args bytes followed by "...". */
static void set_args(struct trace_exec *t, struct ophost_event *e, const char *raw, size_t len,
                     uint64_t total) {
    bool cut = total > (uint64_t) t->max_args + 1;
    size_t n = len;

    if (cut && n > t->max_args)
        n = t->max_args;
    else if (!cut && n > 0 && raw[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; i++)
        t->args[i] = raw[i] ? raw[i] : ' ';
    if (cut) {
        memcpy(t->args + n, "...", 3);
        n += 3;
    }
    (void) ophost_event_set_bytes(t->batch, e, t->f_args, t->args, n);
}

/* An empty event in the current batch, emitting the batch when it is full.
 * NULL when the session is failing. */
static struct ophost_event *append(struct trace_exec *t) {
    struct ophost_event *e;

    if (schema_batch_append(host, t->ctx, t->batch, &e) < 0) {
        t->failing = true;
        return NULL;
    }
    return e;
}

static void flush(struct trace_exec *t) {
    if (!t->failing && schema_batch_flush(host, t->ctx, t->batch) < 0)
        t->failing = true;
}

static void report_lost(struct trace_exec *t, uint64_t total, const char *why) {
    uint64_t now;

    if (total <= t->n_lost)
        return;
    host->lost(t->ctx, total - t->n_lost);
    t->n_lost = total;
    now = procfs_clock_ns(CLOCK_MONOTONIC);
    if (t->n_lost_warned == 0 || now - t->last_warn_ns >= LOST_WARN_INTERVAL_NS) {
        host->log(t->ctx, OPHOST_LOG_WARNING, "%" PRIu64 " exec events lost so far (%s)",
                  total, why);
        t->n_lost_warned = total;
        t->last_warn_ns = now;
    }
}

/* --------------------------------------------------------------- eBPF */

#if HAVE_BPF
static int te_record(struct bpfg *g, const void *data, size_t size) {
    struct trace_exec *t = (struct trace_exec *) g;
    const struct te_event *r = data;
    struct ophost_event *e;
    size_t fn_size, args_len;

    if (size < TE_EVENT_HEADER_SIZE)
        return 0;
    fn_size = r->filename_size;
    args_len = r->args_len;
    if (TE_EVENT_HEADER_SIZE + fn_size + args_len > size)
        return 0; /* cannot happen: the program writes what it says */
    e = bpfg_append(g);
    if (!e)
        return -ESHUTDOWN;
    t->batch = g->batch;
    ophost_event_set_u64(e, t->f_timestamp, bpfg_realtime(g, r->boot_ns));
    ophost_event_set_u32(e, t->f_pid, r->pid);
    ophost_event_set_u32(e, t->f_ppid, r->ppid);
    ophost_event_set_u32(e, t->f_uid, r->uid);
    ophost_event_set_u32(e, t->f_gid, r->gid);
    ophost_event_set_u64(e, t->f_mntns, r->mntns);
    ophost_event_set_u64(e, t->f_start_time, bpfg_start_time(g, r->start_ns));
    ophost_event_set_u64(e, t->f_exec_id, r->exec_id);
    bpfg_set_str(g, e, t->f_comm, r->comm, TE_COMM_LEN);
    if (fn_size > 0)
        bpfg_set_str(g, e, t->f_filename, r->data, fn_size);
    if (r->args_total > 0 && args_len > 0)
        set_args(t, e, r->data + fn_size, args_len, r->args_total);
    else if (r->args_total == 0)
        (void) ophost_event_set_bytes(g->batch, e, t->f_args, "", 0);
    return 0;
}

static int te_open(struct bpfg *g, char *why, size_t size) {
    struct trace_exec *t = (struct trace_exec *) g;
    struct trace_exec_bpf *skel = BPFG_OPEN(g, trace_exec_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    skel->rodata->max_args = (__u32) t->max_args;
    BPFG_SET_WAKEUP(skel->rodata, g);
    return 0;
}

static const struct bpfg_desc te_desc = {
    .what = "exec",
    .mechanism = "eBPF (tp_btf/sched_process_exec)",
    .open = te_open,
    .on_record = te_record,
};

static int ebpf_setup(struct trace_exec *t, char *why, size_t why_size) {
    return bpfg_setup(&t->g, why, why_size);
}

static void ebpf_teardown(struct trace_exec *t) {
    bpfg_teardown(&t->g);
}
#else
static int ebpf_setup(struct trace_exec *t, char *why, size_t why_size) {
    snprintf(why, why_size, "this build of the plugin has no eBPF support (libbpf, clang, "
             "bpftool or the kernel BTF were missing when it was built)");
    return -EOPNOTSUPP;
}

static void ebpf_teardown(struct trace_exec *t) {
}
#endif

/* ---------------------------------------------------- proc connector */

/* Fills in what /proc/PID still says about the process. */
static void fill_from_proc(struct trace_exec *t, struct ophost_event *e, uint32_t pid) {
    char path[32];
    ssize_t n;
    struct stat st;
    struct procfs_stat ps;
    int dirfd;

    snprintf(path, sizeof(path), "/proc/%" PRIu32, pid);
    dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return; /* gone already */

    n = procfs_read(dirfd, "stat", t->text, sizeof(t->text));
    if (n > 0 && procfs_stat_parse(t->text, (size_t) n, PROCFS_STAT_STARTTIME, &ps)) {
        (void) ophost_event_set_bytes(t->batch, e, t->f_comm, ps.comm, ps.comm_len);
        if (ps.last >= PROCFS_STAT_PPID)
            ophost_event_set_u32(e, t->f_ppid, (uint32_t) ps.field[PROCFS_STAT_PPID]);
        if (ps.last >= PROCFS_STAT_STARTTIME)
            ophost_event_set_u64(e, t->f_start_time,
                                 t->boot_ns + procfs_ticks_to_ns(ps.field[PROCFS_STAT_STARTTIME],
                                                                 t->tick_hz));
    }
    n = read_file_at(dirfd, "status", t->text, sizeof(t->text));
    if (n > 0) {
        char *uid = strstr(t->text, "\nUid:"), *gid = strstr(t->text, "\nGid:");
        unsigned v;
        if (uid && sscanf(uid + 5, "%u", &v) == 1)
            ophost_event_set_u32(e, t->f_uid, v);
        if (gid && sscanf(gid + 5, "%u", &v) == 1)
            ophost_event_set_u32(e, t->f_gid, v);
    }
    n = readlinkat(dirfd, "exe", t->exe, sizeof(t->exe));
    if (n >= 0 && (size_t) n < sizeof(t->exe))
        (void) ophost_event_set_bytes(t->batch, e, t->f_filename, t->exe, (size_t) n);
    if (fstatat(dirfd, "ns/mnt", &st, 0) == 0)
        ophost_event_set_u64(e, t->f_mntns, st.st_ino);
    /* One byte more than max_args tells a cut command line from one of
     * exactly max_args bytes. */
    n = read_file_at(dirfd, "cmdline", t->raw, t->max_args + 3);
    if (n >= 0) {
        /* read_file_at reads at most max_args + 2 bytes. */
        uint64_t total = (uint64_t) n > t->max_args + 1 ? (uint64_t) n + 1 : (uint64_t) n;
        if (n == 0)
            (void) ophost_event_set_bytes(t->batch, e, t->f_args, "", 0);
        else
            set_args(t, e, t->raw, (size_t) n, total);
    }
    close(dirfd);
}

/* data: a proc_event at an offset that is not 8-byte aligned. */
static void on_proc_event(struct trace_exec *t, const void *data) {
    struct proc_event ev;
    struct ophost_event *e;
    uint32_t pid;

    memcpy(&ev, data, offsetof(struct proc_event, event_data) + sizeof(struct exec_proc_event));
    if (ev.what != PROC_EVENT_EXEC)
        return;
    pid = (uint32_t) ev.event_data.exec.process_tgid;
    e = append(t);
    if (!e)
        return;
    ophost_event_set_u64(e, t->f_timestamp, ev.timestamp_ns + (uint64_t) t->clock_offset_ns);
    ophost_event_set_u32(e, t->f_pid, pid);
    fill_from_proc(t, e, pid);
}

static int on_netlink(struct ophost_ctx *ctx, int fd, uint32_t revents, void *userdata) {
    struct trace_exec *t = userdata;
    unsigned handled = 0;

    t->batch = host->batch(ctx, t->ds);
    if (!t->batch)
        return host->error(ctx, -EINVAL, "no batch for data source 'exec'");
    t->clock_offset_ns =
        (int64_t) (procfs_clock_ns(CLOCK_REALTIME) - procfs_clock_ns(CLOCK_MONOTONIC));
    while (handled < MAX_PER_WAKEUP && !t->failing) {
        int n;
        for (unsigned i = 0; i < NL_BATCH; i++) {
            t->nl_iov[i] = (struct iovec){ .iov_base = t->nl_buf[i], .iov_len = NL_MSG_SIZE };
            t->nl_msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &t->nl_iov[i],
                                                           .msg_iovlen = 1 } };
        }
        n = recvmmsg(fd, t->nl_msgs, NL_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            if (errno == ENOBUFS) {
                /* The kernel dropped messages; how many is unknown. */
                report_lost(t, t->n_lost + 1, "the proc connector's socket buffer overflowed, "
                            "the number of lost events is unknown; raise "
                            "proc-connector-buffer");
                continue;
            }
            flush(t);
            return host->error(ctx, -errno, "reading the proc connector failed: %s",
                               strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            const struct nlmsghdr *nh = (const void *) t->nl_buf[i];
            size_t len = t->nl_msgs[i].msg_len;
            const struct cn_msg *cn;
            if (len < NLMSG_LENGTH(sizeof(*cn)) || nh->nlmsg_type != NLMSG_DONE)
                continue;
            cn = NLMSG_DATA(nh);
            if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
                NLMSG_LENGTH(sizeof(*cn)) + cn->len > len ||
                cn->len < offsetof(struct proc_event, event_data) +
                              sizeof(struct exec_proc_event))
                continue;
            if (cn->ack == t->nl_cookie + 1) {
                /* The answer to our subscription (kernels before 6.6 send
                 * it; later ones filter it out): a non-zero err refused it. */
                uint32_t err;
                memcpy(&err, cn->data + offsetof(struct proc_event, event_data), sizeof(err));
                if (err != 0) {
                    flush(t);
                    return host->error(ctx, -(int) err, "the kernel refused the proc connector "
                                       "subscription: %s (before Linux 6.6 it needs "
                                       "CAP_NET_ADMIN)", strerror((int) err));
                }
                continue;
            }
            on_proc_event(t, cn->data);
            handled++;
        }
        if (n < NL_BATCH)
            break;
    }
    flush(t);
    return 0;
}

/* The proc connector's filtered subscription (Linux 6.6 and later): only
 * the events in event_type reach the socket. Older kernels ignore a message
 * of this size, so they get the plain 4-byte subscription. */
struct te_proc_input {
    uint32_t mcast_op;
    uint32_t event_type;
};

static bool kernel_at_least(unsigned major, unsigned minor) {
    struct utsname u;
    unsigned ma = 0, mi = 0;

    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

static int nl_send_op(struct trace_exec *t, uint32_t op) {
    struct {
        struct nlmsghdr nh;
        struct cn_msg cn;
        struct te_proc_input in;
    } __attribute__((packed)) msg;
    size_t data_len = kernel_at_least(6, 6) ? sizeof(struct te_proc_input) : sizeof(uint32_t);
    size_t len = NLMSG_LENGTH(sizeof(struct cn_msg) + data_len);

    memset(&msg, 0, sizeof(msg));
    msg.nh.nlmsg_len = (uint32_t) len;
    msg.nh.nlmsg_type = NLMSG_DONE;
    msg.nh.nlmsg_pid = 0;
    msg.cn.id.idx = CN_IDX_PROC;
    msg.cn.id.val = CN_VAL_PROC;
    msg.cn.len = (uint16_t) data_len;
    msg.cn.ack = t->nl_cookie;
    msg.in.mcast_op = op;
    msg.in.event_type = PROC_EVENT_EXEC;
    if (send(t->nl_fd, &msg, len, MSG_NOSIGNAL) < 0)
        return -errno;
    return 0;
}

/* The inode numbers of the initial user and PID namespaces (fixed by the
 * kernel: PROC_USER_INIT_INO, PROC_PID_INIT_INO). */
#define INIT_USER_NS_INO 0xEFFFFFFDu
#define INIT_PID_NS_INO 0xEFFFFFFCu

/* Whether /proc/self/ns/name is not the initial namespace (false when
 * unknown). */
static bool in_other_ns(const char *name, unsigned long ino) {
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
    return stat(path, &st) == 0 && st.st_ino != ino;
}

static int proc_setup(struct trace_exec *t, char *why, size_t why_size) {
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
    int size = t->pc_buffer > INT32_MAX ? INT32_MAX : (int) t->pc_buffer;
    int r;

    /* The kernel silently ignores subscriptions from other namespaces. */
    if (in_other_ns("user", INIT_USER_NS_INO) || in_other_ns("pid", INIT_PID_NS_INO)) {
        snprintf(why, why_size, "the proc connector serves only processes in the initial user "
                 "and PID namespaces, and this one is in another");
        return -EOPNOTSUPP;
    }

    t->nl_cookie = (uint32_t) getpid() ^ (uint32_t) (uintptr_t) t ^
                   (uint32_t) procfs_clock_ns(CLOCK_MONOTONIC);
    if (t->nl_cookie == UINT32_MAX)
        t->nl_cookie = 1;
    t->nl_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (t->nl_fd < 0) {
        r = -errno;
        if (r == -EPROTONOSUPPORT)
            snprintf(why, why_size, "the proc connector is not available: it works only in the "
                     "initial network namespace (and needs CONFIG_PROC_EVENTS)");
        else
            snprintf(why, why_size, "cannot open the proc connector socket: %s", strerror(-r));
        return r;
    }
    /* SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by rmem_max. */
    if (setsockopt(t->nl_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
        setsockopt(t->nl_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
        host->log(t->ctx, OPHOST_LOG_WARNING, "cannot size the receive buffer to %d bytes: %s, "
                  "continuing with the default", size, strerror(errno));
    sa.nl_pid = 0;
    if (bind(t->nl_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        r = -errno;
        snprintf(why, why_size, "cannot join the proc connector group: %s", strerror(-r));
        goto fail;
    }
    r = nl_send_op(t, PROC_CN_MCAST_LISTEN);
    if (r < 0) {
        snprintf(why, why_size, "cannot subscribe to process events: %s", strerror(-r));
        goto fail;
    }
    t->nl_listening = true;
    return 0;
fail:
    close(t->nl_fd);
    t->nl_fd = -1;
    return r;
}

static void proc_teardown(struct trace_exec *t) {
    if (t->nl_fd < 0)
        return;
    if (t->nl_listening)
        (void) nl_send_op(t, PROC_CN_MCAST_IGNORE);
    t->nl_listening = false;
    close(t->nl_fd);
    t->nl_fd = -1;
}

/* ---------------------------------------------------------- lifecycle */

static int trace_exec_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct trace_exec *t = calloc(1, sizeof(*t));
    const char *mech;
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when the exec happened (wall clock)", NULL, NULL, false },
        { "pid", OPHOST_FIELD_U32, &t->f_pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },
        { "ppid", OPHOST_FIELD_U32, &t->f_ppid, "parent process id", NULL, "7", false },
        { "uid", OPHOST_FIELD_U32, &t->f_uid, "real user id after the exec", NULL, "6", false },
        { "gid", OPHOST_FIELD_U32, &t->f_gid, "real group id after the exec", NULL, "6", true },
        { "comm", OPHOST_FIELD_STRING, &t->f_comm, "the new command name (at most 15 bytes)", NULL, "16", false },
        { "filename", OPHOST_FIELD_STRING, &t->f_filename, "the executed file", NULL, "24", true },
        { "args", OPHOST_FIELD_STRING, &t->f_args, "argv joined with spaces, cut at max-args-bytes", NULL, "40", false },
        { "mntns", OPHOST_FIELD_U64, &t->f_mntns, "inode of the process's mount namespace", NULL, NULL, true },
        { "start_time", OPHOST_FIELD_TIMESTAMP, &t->f_start_time, "process start", NULL, NULL, true },
        { "exec_id", OPHOST_FIELD_U64, &t->f_exec_id, "the kernel's exec counter of the task (process identity)", NULL, NULL, true },
        { 0 }
    };

    t->ctx = ctx;
    t->nl_fd = -1;
    if ((r = host->param_string(ctx, "mechanism", &mech)) < 0 ||
        (r = host->param_uint(ctx, "max-args-bytes", &t->max_args)) < 0 ||
        (r = host->param_uint(ctx, "proc-connector-buffer", &t->pc_buffer)) < 0)
        goto fail;
    t->want = strcmp(mech, "ebpf") == 0             ? MECH_EBPF
              : strcmp(mech, "proc-connector") == 0 ? MECH_PROC
                                                    : MECH_AUTO;
#if HAVE_BPF
    if ((r = bpfg_instantiate(ctx, &t->g, &te_desc, "exec", 0)) < 0)
        goto fail;
    t->ds = t->g.ds;
#else
    if ((r = schema_add_datasource(host, ctx, "exec", 0, &t->ds)) < 0)
        goto fail;
#endif
    if ((r = schema_add_fields(host, ctx, t->ds, fields)) < 0)
        goto fail;
    *ret = t;
    return 0;
fail:
    free(t);
    return r;
}

static int trace_exec_pre_start(struct ophost_ctx *ctx, void *data) {
    struct trace_exec *t = data;
    char why_ebpf[512] = "", why_proc[512] = "";
    int r;

    if (t->want != MECH_PROC) {
        r = ebpf_setup(t, why_ebpf, sizeof(why_ebpf));
        if (r >= 0) {
            t->used = MECH_EBPF;
#if HAVE_BPF
            t->g.start_realtime_ns = procfs_boot_realtime_ns();
#endif
            host->log(ctx, OPHOST_LOG_INFO, "using eBPF (tp_btf/sched_process_exec)");
            return 0;
        }
        if (t->want == MECH_EBPF)
            return host->error(ctx, r, "mechanism 'ebpf': %s", why_ebpf);
        host->log(ctx, OPHOST_LOG_NOTICE, "eBPF unavailable: %s; trying the proc connector",
                  why_ebpf);
    }
    r = proc_setup(t, why_proc, sizeof(why_proc));
    if (r >= 0) {
        t->boot_ns = procfs_boot_realtime_ns();
        t->tick_hz = procfs_tick_hz();
        t->used = MECH_PROC;
        host->log(ctx, OPHOST_LOG_INFO, "using the netlink proc connector");
        return 0;
    }
    if (t->want == MECH_PROC)
        return host->error(ctx, r, "mechanism 'proc-connector': %s", why_proc);
    return host->error(ctx, r, "no mechanism works: ebpf: %s; proc-connector: %s", why_ebpf,
                       why_proc);
}

static int trace_exec_start(struct ophost_ctx *ctx, void *data) {
    struct trace_exec *t = data;
    int r;

#if HAVE_BPF
    if (t->used == MECH_EBPF)
        return bpfg_op_start(ctx, &t->g);
#endif
    r = host->io_add(ctx, t->nl_fd, POLLIN, on_netlink, t, &t->src);
    if (r < 0)
        return host->error(ctx, r, "cannot watch the proc connector socket: %s", strerror(-r));
    return 0;
}

static int trace_exec_stop(struct ophost_ctx *ctx, void *data) {
    struct trace_exec *t = data;

#if HAVE_BPF
    bpfg_op_stop(ctx, &t->g);
#endif
    host->source_free(t->src);
    t->src = NULL;
    return 0;
}

static int trace_exec_post_stop(struct ophost_ctx *ctx, void *data) {
    struct trace_exec *t = data;

    if (t->used == MECH_EBPF)
        ebpf_teardown(t);
    else
        proc_teardown(t);
    if (t->used == MECH_PROC && t->n_lost > 0)
        host->log(ctx, OPHOST_LOG_WARNING, "%" PRIu64 " exec events were lost in total",
                  t->n_lost);
    return 0;
}

static int trace_exec_destroy(struct ophost_ctx *ctx, void *data) {
    free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "mechanism", .type = OPHOST_PARAM_STRING, .default_value = "auto",
      .allowed = mechanisms,
      .description = "how execs are seen: auto (eBPF, else the proc connector), ebpf, "
                     "proc-connector" },
    { .key = "max-args-bytes", .type = OPHOST_PARAM_UINT, .default_value = "256",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 1, .max = TE_ARGS_MAX,
      .description = "bytes of the command line kept in 'args'; a longer one is cut and "
                     "ends with \"...\"" },
    BPFG_RING_PARAMS,
    { .key = "proc-connector-buffer", .type = OPHOST_PARAM_UINT, .default_value = "4194304",
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 4096, .max = 1 << 30,
      .description = "receive buffer of the proc connector socket in bytes" },
    { 0 }
};

static const struct ophost_operator trace_exec = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "trace_exec",
    .description = "One event per successful exec (eBPF, or the netlink proc connector)",
    .flags = OPHOST_OPERATOR_GADGET,
    .instance_params = params,
#if HAVE_BPF
    .init = bpfg_op_init,
    .close = bpfg_op_close,
#endif
    .instantiate = trace_exec_instantiate,
    .pre_start = trace_exec_pre_start,
    .start = trace_exec_start,
    .stop = trace_exec_stop,
    .post_stop = trace_exec_post_stop,
    .destroy = trace_exec_destroy,
};

static const struct ophost_operator *const operators[] = { &trace_exec, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "trace_exec",
    .version = "1.0",
    .description = "Traces process execs",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
#if HAVE_BPF
    bpfg_host = h;
#endif
    return &plugin;
}

/*
 * top_blockio — a gadget that reports, every interval, the block I/O of
 * each process per device and operation during it (like biotop): requests,
 * bytes, and the average and longest device latency. eBPF on
 * block:block_io_start, block_rq_issue and block_rq_complete, summed in a
 * kernel hash map that is read and emptied every interval
 * (top_blockio.bpf.c says which process a request is charged to).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "procfs.h"
#include "schema.h"
#include "top_blockio.h"
#include "top_blockio.skel.h"

static const struct ophost_host *host;

#define DEV_CACHE 64

struct btop {
    struct bpfg g; /* first */
    ophost_field f_pid, f_uid, f_comm, f_device, f_major, f_minor, f_op, f_ios, f_bytes,
        f_lat_avg, f_lat_max;
    struct bpfg_filter filter;
    struct {
        uint32_t dev;
        char name[32];
    } devs[DEV_CACHE];          /* device names, by dev_t; dev 0 = free */
    unsigned n_devs;
};

/* REQ_OP_* (include/linux/blk_types.h). */
static const char *op_name(unsigned op) {
    switch (op) {
    case 0: return "read";
    case 1: return "write";
    case 2: return "flush";
    case 3: return "discard";
    case 5: return "secure-erase";
    case 7: return "zone-append";
    case 9: return "write-zeroes";
    default: return "other";
    }
}

/* The kernel's name of a block device ("vda", "nvme0n1p2"), from
 * /sys/dev/block/MAJ:MIN/uevent, remembered; NULL when unknown. */
static const char *dev_name(struct btop *t, uint32_t dev) {
    char path[64], text[512], *p;
    unsigned slot;
    ssize_t n;

    for (unsigned i = 0; i < t->n_devs; i++)
        if (t->devs[i].dev == dev)
            return t->devs[i].name[0] ? t->devs[i].name : NULL;
    slot = t->n_devs < DEV_CACHE ? t->n_devs++ : dev % DEV_CACHE;
    t->devs[slot].dev = dev;
    t->devs[slot].name[0] = '\0';
    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", dev >> 20, dev & 0xfffff);
    n = procfs_read(AT_FDCWD, path, text, sizeof(text) - 1);
    if (n > 0) {
        text[n] = '\0';
        if ((p = strstr(text, "DEVNAME=")))
            sscanf(p + 8, "%31[^\n]", t->devs[slot].name);
    }
    return t->devs[slot].name[0] ? t->devs[slot].name : NULL;
}

static int btop_interval(struct bpfg *g, uint32_t n) {
    struct btop *t = (struct btop *) g;

    for (uint32_t i = 0; i < n; i++) {
        const struct btop_key *k = (const struct btop_key *) g->keys + i;
        const struct btop_value *v = (const struct btop_value *) g->values + i;
        struct ophost_event *e = bpfg_append(g);
        const char *name = dev_name(t, k->dev);
        if (!e)
            return 0;
        ophost_event_set_u32(e, t->f_pid, k->pid);
        ophost_event_set_u32(e, t->f_uid, k->uid);
        bpfg_set_str(g, e, t->f_comm, k->comm, sizeof(k->comm));
        if (name)
            (void) ophost_event_set_string(g->batch, e, t->f_device, name);
        ophost_event_set_u32(e, t->f_major, k->dev >> 20);
        ophost_event_set_u32(e, t->f_minor, k->dev & 0xfffff);
        (void) ophost_event_set_string(g->batch, e, t->f_op, op_name(k->op));
        ophost_event_set_u64(e, t->f_ios, v->ios);
        ophost_event_set_u64(e, t->f_bytes, v->bytes);
        ophost_event_set_u64(e, t->f_lat_avg, v->ios ? v->latency_total_ns / v->ios / 1000 : 0);
        ophost_event_set_u64(e, t->f_lat_max, v->latency_max_ns / 1000);
    }
    return 0;
}

static int btop_open(struct bpfg *g, char *why, size_t size) {
    struct btop *t = (struct btop *) g;
    struct top_blockio_bpf *skel = BPFG_OPEN(g, top_blockio_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    BPFG_SET_FILTER(skel->rodata, &t->filter);
    g->map = skel->maps.io;
    return 0;
}

static const struct bpfg_desc btop_desc = {
    .what = "block I/O",
    .mechanism = "eBPF (tp_btf/block_io_start, tp_btf/block_rq_issue, tp_btf/block_rq_complete)",
    .open = btop_open,
    .on_interval = btop_interval,
    .key_size = sizeof(struct btop_key),
    .value_size = sizeof(struct btop_value),
};

static int btop_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct btop *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "pid", OPHOST_FIELD_U32, &t->f_pid, "process id (thread group id, initial PID namespace)", NULL, "7", false },
        { "uid", OPHOST_FIELD_U32, &t->f_uid, "user id", NULL, "6", true },
        { "comm", OPHOST_FIELD_STRING, &t->f_comm, "command name (at most 15 bytes)", NULL, "16", false },
        { "device", OPHOST_FIELD_STRING, &t->f_device, "block device (sda, nvme0n1, ...)", NULL, "8", false },
        { "major", OPHOST_FIELD_U32, &t->f_major, "device major number", NULL, NULL, true },
        { "minor", OPHOST_FIELD_U32, &t->f_minor, "device minor number", NULL, NULL, true },
        { "op", OPHOST_FIELD_STRING, &t->f_op, "read or write", NULL, "5", false },
        { "ios", OPHOST_FIELD_U64, &t->f_ios, "I/Os completed in the round", NULL, "6", false },
        { "bytes", OPHOST_FIELD_U64, &t->f_bytes, "bytes moved in the round", "bytes", "8", false },
        { "latency_avg_us", OPHOST_FIELD_U64, &t->f_lat_avg, "average latency", "us", "8", false },
        { "latency_max_us", OPHOST_FIELD_U64, &t->f_lat_max, "highest latency", "us", "8", false },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &btop_desc, "blockio", 0)) < 0 ||
        (r = bpfg_read_filter(ctx, &t->filter)) < 0 ||
        (r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0) {
        free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static const struct ophost_param params[] = {
    BPFG_INTERVAL_PARAMS("(process, device, operation) rows", "4096"),
    BPFG_TASK_FILTER_PARAMS,
    { 0 }
};

BPFG_GADGET("top_blockio", btop_instantiate, params,
            "Block I/O per process, device and operation, every interval (eBPF)",
            "Block I/O per process at an interval")

/*
 * trace_oomkill — a gadget with one event per process the kernel's OOM
 * killer kills: the victim (pid, comm, uid, memory), the task whose
 * allocation triggered it, and the victim's cgroup. eBPF on oom:mark_victim
 * (trace_oomkill.bpf.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "procfs.h"
#include "schema.h"
#include "trace_oomkill.h"
#include "trace_oomkill.skel.h"

static const struct ophost_host *host;

struct toom {
    struct bpfg g; /* first */
    struct bpfg_task_fields tf; /* the trigger */
    ophost_field f_timestamp, f_tpid, f_tcomm, f_tuid, f_tstart, f_total_vm, f_anon, f_file,
        f_shmem, f_cgroup_id, f_score_adj;
    struct bpfg_filter filter;
    uint64_t page_size;
};

static uint64_t pages(int64_t n, uint64_t page_size) {
    return n > 0 ? (uint64_t) n * page_size : 0;
}

static int toom_record(struct bpfg *g, const void *data, size_t size) {
    struct toom *t = (struct toom *) g;
    const struct toom_event *r = data;
    struct ophost_event *e;

    int n = bpfg_record_event(g, data, size, sizeof(*r), t->f_timestamp, &e);

    if (n <= 0)
        return n;
    bpfg_set_task(g, e, &t->tf, &r->trigger);
    ophost_event_set_u32(e, t->f_tpid, r->victim.pid);
    bpfg_set_str(g, e, t->f_tcomm, r->victim.comm, sizeof(r->victim.comm));
    ophost_event_set_u32(e, t->f_tuid, r->victim.uid);
    ophost_event_set_u64(e, t->f_tstart, bpfg_start_time(g, r->victim.start_ns));
    ophost_event_set_u64(e, t->f_total_vm, pages((int64_t) r->total_vm, t->page_size));
    ophost_event_set_u64(e, t->f_anon, pages(r->anon_rss, t->page_size));
    ophost_event_set_u64(e, t->f_file, pages(r->file_rss, t->page_size));
    ophost_event_set_u64(e, t->f_shmem, pages(r->shmem_rss, t->page_size));
    ophost_event_set_u64(e, t->f_cgroup_id, r->cgroup_id);
    ophost_event_set_s32(e, t->f_score_adj, r->oom_score_adj);
    return 0;
}

static int toom_open(struct bpfg *g, char *why, size_t size) {
    struct toom *t = (struct toom *) g;
    struct trace_oomkill_bpf *skel = BPFG_OPEN(g, trace_oomkill_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    BPFG_SET_WAKEUP(skel->rodata, g);
    BPFG_SET_FILTER(skel->rodata, &t->filter);
    return 0;
}

static const struct bpfg_desc toom_desc = {
    .what = "oomkill",
    .mechanism = "eBPF (tp_btf/mark_victim)",
    .open = toom_open,
    .on_record = toom_record,
};

static int toom_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct toom *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when it happened (wall clock)", NULL, NULL, false },
        BPFG_TASK_FIELDS(&t->tf),
        { "tpid", OPHOST_FIELD_U32, &t->f_tpid, "killed process id", NULL, "7", false },
        { "tcomm", OPHOST_FIELD_STRING, &t->f_tcomm, "killed command name", NULL, "16", false },
        { "tuid", OPHOST_FIELD_U32, &t->f_tuid, "user id of the killed process", NULL, "6", false },
        { "tstart_time", OPHOST_FIELD_TIMESTAMP, &t->f_tstart, "when the killed process started", NULL, NULL, true },
        { "total_vm", OPHOST_FIELD_U64, &t->f_total_vm, "virtual memory of the killed process", "bytes", "8", false },
        { "anon_rss", OPHOST_FIELD_U64, &t->f_anon, "its anonymous resident memory", "bytes", "8", false },
        { "file_rss", OPHOST_FIELD_U64, &t->f_file, "its file-backed resident memory", "bytes", "8", true },
        { "shmem_rss", OPHOST_FIELD_U64, &t->f_shmem, "its shared memory", "bytes", "8", true },
        { "cgroup_id", OPHOST_FIELD_U64, &t->f_cgroup_id, "id of the cgroup it was in", NULL, NULL, true },
        { "oom_score_adj", OPHOST_FIELD_S32, &t->f_score_adj, "its oom_score_adj", NULL, "5", false },
        { 0 }
    };

    t->page_size = procfs_page_size();
    if ((r = bpfg_instantiate(ctx, &t->g, &toom_desc, "oomkills", 0)) < 0 ||
        (r = bpfg_read_filter(ctx, &t->filter)) < 0 ||
        (r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0) {
        free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static const struct ophost_param params[] = {
    BPFG_TASK_FILTER_PARAMS,
    BPFG_RING_PARAMS,
    { 0 }
};

BPFG_GADGET("trace_oomkill", toom_instantiate, params,
            "One event per process the OOM killer kills (eBPF)",
            "Traces OOM kills")

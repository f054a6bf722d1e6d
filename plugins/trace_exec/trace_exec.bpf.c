// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trace_exec.bpf.c — the eBPF half of the trace_exec gadget: one record per
 * successful exec, from the sched_process_exec tracepoint (tp_btf, so no
 * tracefs is needed). It runs in the context of the new program, so
 * current->mm is the new image and its argument area is already filled in.
 * Records go to the ring buffer of gadget.bpf.h (lost ones are counted, the
 * reader's wakeup is bounded, not per record).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "trace_exec.h"

/* Set by user space before load (max-args-bytes). */
const volatile __u32 max_args = 256;

/* A record is built here, then copied to the ring buffer with its real size. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct te_event);
} scratch SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    __u32 zero = 0, off, len = 0;
    unsigned long arg_start, arg_end;
    struct te_event *e;
    const char *filename;
    long n;

    e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        return 0;
    /* The arguments are BTF pointers: fields are loaded directly (CO-RE
     * relocated through vmlinux.h's preserve_access_index), with no helper
     * call per field as BPF_CORE_READ would make. */
    e->boot_ns = bpf_ktime_get_boot_ns();
    e->pid = p->tgid;
    e->ppid = p->real_parent->tgid;
    e->uid = p->real_cred->uid.val;
    e->gid = p->real_cred->gid.val;
    e->mntns = p->nsproxy->mnt_ns->ns.inum;
    e->start_ns = p->group_leader->start_boottime;
    e->exec_id = p->self_exec_id;
    __builtin_memcpy(e->comm, p->comm, sizeof(e->comm));

    filename = bprm->filename;
    n = bpf_probe_read_kernel_str(e->data, TE_FILENAME_MAX, filename);
    if (n < 0)
        n = 0;
    off = (__u32) n;
    if (off > TE_FILENAME_MAX)
        off = TE_FILENAME_MAX;
    e->filename_size = off;

    arg_start = p->mm->arg_start;
    arg_end = p->mm->arg_end;
    e->args_total = arg_end > arg_start ? arg_end - arg_start : 0;
    /* One byte more than max_args, so that a command line of exactly
     * max_args bytes still comes with its final NUL and is not cut. */
    len = e->args_total > max_args + 1 ? max_args + 1 : (__u32) e->args_total;
    if (len > TE_ARGS_MAX + 1)
        len = TE_ARGS_MAX + 1;
    if (len > 0 && bpf_probe_read_user(e->data + off, len, (const void *) arg_start) < 0)
        len = 0;
    e->args_len = len;

    gadget_output(e, TE_EVENT_HEADER_SIZE + off + len);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

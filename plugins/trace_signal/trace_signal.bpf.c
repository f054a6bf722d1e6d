// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trace_signal.bpf.c — the eBPF half of trace_signal: one record per signal
 * generated (signal:signal_generate, as tp_btf). The current task is the
 * sender (for a signal the kernel generates, e.g. SIGSEGV or a timer, the
 * task that was running); the pid/uid/comm filters apply to it.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gadget.bpf.h"
#include "trace_signal.h"

const volatile __s32 filter_signal = 0;   /* 0 = any */
const volatile __u32 filter_target = 0;   /* target tgid, 0 = any */
const volatile bool failed_only = false;  /* result != delivered */

#define SI_USER 0
#define SI_KERNEL 0x80

SEC("tp_btf/signal_generate")
int BPF_PROG(handle_signal, int sig, struct kernel_siginfo *info, struct task_struct *task,
             int group, int result)
{
    struct tsig_event *e;

    if ((filter_signal && sig != filter_signal) || (failed_only && result == 0))
        return 0;
    if (filter_target && BPF_CORE_READ(task, tgid) != filter_target)
        return 0;
    if (!gadget_current_passes())
        return 0;
    e = gadget_reserve(sizeof(*e));
    if (!e)
        return 0;
    e->boot_ns = bpf_ktime_get_boot_ns();
    gadget_current_task(&e->task);
    e->tpid = BPF_CORE_READ(task, tgid);
    e->ttid = BPF_CORE_READ(task, pid);
    BPF_CORE_READ_STR_INTO(&e->tcomm, task, comm);
    e->sig = sig;
    /* As the tracepoint itself: SEND_SIG_NOINFO (0) and SEND_SIG_PRIV (1)
     * stand for no siginfo. */
    if ((unsigned long) info <= 1)
        e->code = info ? SI_KERNEL : SI_USER;
    else
        e->code = BPF_CORE_READ(info, si_code);
    e->result = result;
    e->group = group;
    gadget_submit(e);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";

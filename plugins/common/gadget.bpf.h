/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gadget.bpf.h — the kernel half shared by the eBPF gadgets (included once by
 * each <name>.bpf.c, after vmlinux.h and the libbpf headers): the ring buffer
 * `events`, the `lost` counter, the bounded wakeup of the reader and the
 * pid/uid/comm filters. User space (bpf-gadget.h) sets the const volatile
 * knobs before load.
 *
 * Wakeups. Waking the reader for every record costs more than the rest of a
 * program (an irq_work, then a cross-CPU wakeup: on a VM an IPI and a VM
 * exit). With wakeup_delay_ns set, a record is submitted with
 * BPF_RB_NO_WAKEUP unless the last wakeup is wakeup_delay_ns old or
 * wakeup_bytes are pending; user space drains the rest from a one-shot timer
 * it re-arms while records keep coming (see bpf-gadget.h for why no record
 * waits longer than about the delay). wakeup_delay_ns = 0 wakes the reader
 * for every record.
 */
#ifndef OPHOST_GADGET_BPF_H
#define OPHOST_GADGET_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "gadget-state.h"

#define GADGET_COMM_LEN 16

const volatile __u64 wakeup_delay_ns = 0;
const volatile __u64 wakeup_bytes = 1 << 20;
/* Filters on the task the gadget documents (0 / -1 / "" = any). */
const volatile __u32 filter_pid = 0;
const volatile __u32 filter_uid = (__u32) -1;
const volatile char filter_comm[GADGET_COMM_LEN] = {};

struct gadget_state gadget_state SEC(".data.gadget") = {};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20); /* resized by user space before load */
} events SEC(".maps");

/* The flags for submitting a record: wake the reader, or not yet. */
static __always_inline __u64 gadget_wakeup_flags(void)
{
    __u64 now;

    if (!wakeup_delay_ns)
        return 0;
    now = bpf_ktime_get_ns();
    if (now - gadget_state.last_wakeup_ns < wakeup_delay_ns &&
        bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < wakeup_bytes)
        return BPF_RB_NO_WAKEUP;
    gadget_state.last_wakeup_ns = now;
    return BPF_RB_FORCE_WAKEUP;
}

/* A record of size bytes in the ring buffer, or NULL (counted as lost). */
static __always_inline void *gadget_reserve(__u64 size)
{
    void *r = bpf_ringbuf_reserve(&events, size, 0);

    if (!r)
        __sync_fetch_and_add(&gadget_state.lost, 1);
    return r;
}

static __always_inline void gadget_submit(void *r)
{
    bpf_ringbuf_submit(r, gadget_wakeup_flags());
}

/* Copies size bytes of data into the ring buffer (for variable-sized
 * records built in a scratch map). */
static __always_inline void gadget_output(void *data, __u64 size)
{
    if (bpf_ringbuf_output(&events, data, size, gadget_wakeup_flags()) < 0)
        __sync_fetch_and_add(&gadget_state.lost, 1);
}

#define GADGET_E2BIG 7

/* The value of key in a hash map, added as a copy of *init when missing;
 * NULL when the map is full (counted as lost: user space empties the map
 * every interval, so this is what did not fit in one). */
static __always_inline void *gadget_map_value(void *map, const void *key, const void *init)
{
    void *v = bpf_map_lookup_elem(map, key);

    if (v)
        return v;
    if (bpf_map_update_elem(map, key, init, BPF_NOEXIST) == -GADGET_E2BIG) {
        __sync_fetch_and_add(&gadget_state.lost, 1);
        return NULL;
    }
    return bpf_map_lookup_elem(map, key);
}

static __always_inline bool gadget_comm_matches(const char *comm)
{
    if (!filter_comm[0])
        return true;
    for (int i = 0; i < GADGET_COMM_LEN; i++) {
        if (comm[i] != filter_comm[i])
            return false;
        if (!comm[i])
            break;
    }
    return true;
}

/* Whether a task with this tgid, uid and comm passes the filters; comm may
 * be NULL when it is not known yet (then only pid and uid are checked). */
static __always_inline bool gadget_task_passes(__u32 tgid, __u32 uid, const char *comm)
{
    if (filter_pid && tgid != filter_pid)
        return false;
    if (filter_uid != (__u32) -1 && uid != filter_uid)
        return false;
    return !comm || gadget_comm_matches(comm);
}

/* Whether the current task passes the pid and uid filters (cheap: no comm). */
static __always_inline bool gadget_current_passes_ids(void)
{
    return gadget_task_passes((__u32) (bpf_get_current_pid_tgid() >> 32),
                              (__u32) bpf_get_current_uid_gid(), NULL);
}

/* Whether the current task passes all filters. */
static __always_inline bool gadget_current_passes(void)
{
    char comm[GADGET_COMM_LEN];

    if (!gadget_current_passes_ids())
        return false;
    if (!filter_comm[0])
        return true;
    bpf_get_current_comm(comm, sizeof(comm));
    return gadget_comm_matches(comm);
}

/* The process part of a record for the current task. */
static __always_inline void gadget_current_task(struct gadget_task *t)
{
    struct task_struct *cur = bpf_get_current_task_btf();
    __u64 pid_tgid = bpf_get_current_pid_tgid(), uid_gid = bpf_get_current_uid_gid();

    t->pid = pid_tgid >> 32;
    t->tid = (__u32) pid_tgid;
    t->uid = (__u32) uid_gid;
    t->gid = uid_gid >> 32;
    /* The identity user space (procinfo) keys its cache with: the
     * process's start and its exec counter. */
    t->start_ns = BPF_CORE_READ(cur, group_leader, start_boottime);
    t->exec_id = BPF_CORE_READ(cur, self_exec_id);
    bpf_get_current_comm(t->comm, sizeof(t->comm));
}

/* The process part of a record for task t (not the current one). */
static __always_inline void gadget_task_of(struct task_struct *task, struct gadget_task *t)
{
    t->pid = BPF_CORE_READ(task, tgid);
    t->tid = BPF_CORE_READ(task, pid);
    t->uid = BPF_CORE_READ(task, real_cred, uid.val);
    t->gid = BPF_CORE_READ(task, real_cred, gid.val);
    t->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
    t->exec_id = BPF_CORE_READ(task, self_exec_id);
    BPF_CORE_READ_STR_INTO(&t->comm, task, comm);
}

static __always_inline void gadget_no_task(struct gadget_task *t)
{
    __builtin_memset(t, 0, sizeof(*t));
}

#endif

/*
 * trace_exec.h — the record the eBPF program of the trace_exec gadget writes
 * to its ring buffer, shared by trace_exec.bpf.c and trace_exec.c. The
 * includer provides __u32/__u64 (vmlinux.h in BPF, <linux/types.h> in user
 * space). A record is variable-sized: the fixed part, then data[] holding the
 * filename (with its NUL) followed by the raw argument bytes.
 */
#ifndef OPHOST_TRACE_EXEC_H
#define OPHOST_TRACE_EXEC_H

#define TE_COMM_LEN 16
#define TE_FILENAME_MAX 512   /* bytes of bprm->filename kept, NUL included */
#define TE_ARGS_MAX 8192      /* the largest max-args-bytes */

struct te_event {
    __u64 boot_ns;        /* bpf_ktime_get_boot_ns() at the exec */
    __u64 mntns;          /* mount namespace inode */
    __u64 start_ns;       /* process start, CLOCK_BOOTTIME */
    __u64 exec_id;        /* task->self_exec_id: raised by every exec */
    __u32 pid;            /* tgid */
    __u32 ppid;           /* tgid of the real parent */
    __u32 uid;            /* real uid */
    __u32 gid;            /* real gid */
    __u32 filename_size;  /* bytes of the filename in data[], its NUL included; 0 = unknown */
    __u32 args_len;       /* raw argument bytes after the filename */
    __u64 args_total;     /* arg_end - arg_start: the whole argument area */
    char comm[TE_COMM_LEN];
    char data[TE_FILENAME_MAX + TE_ARGS_MAX + 1]; /* + 1: see the BPF program */
};

#define TE_EVENT_HEADER_SIZE ((unsigned long) &((struct te_event *) 0)->data)

#endif

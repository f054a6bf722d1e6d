/* profile_cpu.h — the map entries of profile_cpu's eBPF program. */
#ifndef OPHOST_PROFILE_CPU_H
#define OPHOST_PROFILE_CPU_H

#define PROF_MAX_DEPTH 127   /* PERF_MAX_STACK_DEPTH */

struct prof_key {
    __u32 pid;
    __s32 user_stack;        /* stack map id; < 0: none (kernel thread, error) */
    __s32 kernel_stack;
    char comm[16];
};

#endif

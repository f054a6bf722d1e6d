/*
 * daemonbench.h — what the gadget benchmarks share: clocks, the on-CPU
 * time of a process (all its threads, from schedstat), small file checks,
 * and the in-kernel cost of eBPF programs (kernel.bpf_stats_enabled,
 * run_time_ns and run_cnt of every program loaded since a snapshot).
 */
#ifndef OPHOST_TESTS_DAEMONBENCH_H
#define OPHOST_TESTS_DAEMONBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

uint64_t now_ns(void);
void sleep_ms(unsigned ms);
/* Sum of the on-CPU nanoseconds of every thread of pid. */
uint64_t cpu_ns(pid_t pid);
bool file_contains(const char *path, const char *needle);
off_t file_size(const char *path);

/* The ids of the BPF programs loaded now (up to max); their number. */
unsigned bpf_prog_ids(uint32_t *ids, unsigned max);
/* Runs and run time of the programs loaded now that are not in
 * old[0..n_old); returns how many there are. */
unsigned bpf_prog_stats(const uint32_t *old, unsigned n_old, uint64_t *ret_cnt,
                        uint64_t *ret_ns);
/* Sets kernel.bpf_stats_enabled; returns whether it took. */
bool bpf_stats_enable(bool on);

#endif

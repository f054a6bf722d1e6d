/*
 * cgroup.h — one cgroup per child, with the session's limits, when the
 * supervisor runs in a cgroup v2 subtree that systemd delegated to it
 * (Delegate=yes in the unit: the cgroup carries the trusted.delegate or
 * user.delegate attribute and offers the memory, pids and cpu controllers).
 *
 * Layout below the unit's cgroup U:
 *   U/supervisor/         ophostd itself (a cgroup with children may hold
 *                         no processes)
 *   U/workers/NAME.N/     one per child: memory.max, memory.swap.max = 0,
 *                         memory.oom.group = 1, pids.max, cpu.weight
 * Without delegation nothing is created; child.c then applies the limits
 * it can without cgroups (RLIMIT_DATA, nice) and says so at startup.
 */
#ifndef OPHOST_DAEMON_CGROUP_H
#define OPHOST_DAEMON_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/*
 * Looks for a delegated cgroup (root is the cgroup2 mount, normally
 * /sys/fs/cgroup; tests pass a directory of their own). On success moves
 * this process into U/supervisor, enables the controllers for U/workers,
 * and returns 1; 0 when there is no usable delegation (nothing changed);
 * a negative errno when setting up a delegated cgroup failed (nothing is
 * used then either). *ret_what describes the outcome for the log.
 */
int cgroup_setup(const char *root, char **ret_what);
/* Whether cgroup_setup found and set up a delegated cgroup. */
bool cgroup_enabled(void);

/* Creates the cgroup of a child named name with limits; *ret_path is its
 * directory (caller frees). 0 or a negative errno. */
int cgroup_create(const char *name, const struct config_limits *limits, char **ret_path);
/* Moves pid into the cgroup at path. */
int cgroup_attach(const char *path, pid_t pid);
/* Whether the cgroup's memory limit made the kernel kill a process in it
 * (memory.events: oom_kill > 0). */
bool cgroup_oom_killed(const char *path);
/* Removes the (empty) cgroup; failures are logged. */
void cgroup_remove(const char *path);

#endif

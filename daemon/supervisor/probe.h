/*
 * probe.h — jobs that run plugin code once and report, in short-lived
 * children: scanning plugin snapshots (dlopen, entry function, descriptor)
 * and dry runs of session plans (init, can_operate_on, instantiate,
 * destroy, close). The supervisor never runs either itself.
 *
 * A scan sends all files to one scanner. When a scanner dies or hangs
 * before it answered every file, the files it had not answered are probed
 * again one per scanner, so that only the culprit is refused, with the
 * reason: "PATH: crashed while loading: SIGBUS", "PATH: entry function did
 * not return within 5s". Dry runs run one per child, a few at a time.
 * Either way the probe calls done once every item has its result.
 */
#ifndef OPHOST_DAEMON_PROBE_H
#define OPHOST_DAEMON_PROBE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "errors.h"
#include "plan.h"
#include "plugin.h"

/* How long a plugin's constructors and entry function may take. */
#define PROBE_LOAD_DEADLINE_USEC (5 * 1000000ULL)
/* Children of one probe running at once. */
#define PROBE_PARALLEL 8

struct probe;
struct worker_env;

typedef void (*probe_done_fn)(struct probe *p, void *userdata);

/*
 * Scans snapshots (plugins without a descriptor; the probe takes a
 * reference on each). When done, item i has its descriptor filled in
 * (probe_plugin) or is refused (probe_error). log_level is the scanner's.
 */
int probe_scan(sd_event *loop, struct plugin *const *snapshots, size_t n, int log_level,
               probe_done_fn done, void *userdata, struct probe **ret);
/* The same; with inspect, the scanner also describes what --check-plugin
 * warns about (probe_inspect). */
int probe_scan_inspect(sd_event *loop, struct plugin *const *snapshots, size_t n,
                       int log_level, bool inspect, probe_done_fn done, void *userdata,
                       struct probe **ret);

/*
 * Dry-runs each plan (plans[i] of sessions[i]; both must outlive the
 * probe) in its own child, with env. When done, probe_errors(p, i) has the
 * problems of item i ("FILE:LINE:COL: session 'x': ..."), none if it passed.
 */
int probe_check(sd_event *loop, struct plan *const *plans,
                const struct config_session *const *sessions, size_t n,
                const struct worker_env *env, probe_done_fn done, void *userdata,
                struct probe **ret);

size_t probe_size(const struct probe *p);
/* Scan: the plugin of item i, described, or NULL if refused. */
struct plugin *probe_plugin(const struct probe *p, size_t i);
/* Scan: the snapshot of item i (described or not). */
struct plugin *probe_snapshot(const struct probe *p, size_t i);
/* Scan: why item i is refused ("PATH: STEP: REASON"), or NULL; and the
 * error (the loader's negative errno; -EIO when the scanner crashed or
 * hung), 0 when it loads. */
const char *probe_error(const struct probe *p, size_t i);
int probe_errno(const struct probe *p, size_t i);
/* Scan with inspect: the INSPECT of item i (proto.h) as the scanner sent it
 * (unchecked: read it as untrusted), or NULL. Owned by the probe. */
json_object *probe_inspect(const struct probe *p, size_t i);
/* Check: the problems of item i (empty if it passed). */
const struct errors *probe_errors(const struct probe *p, size_t i);
/* Check: the data sources item i built (the "datasources" of proto.h), or
 * NULL if it failed; owned by the probe. */
json_object *probe_datasources(const struct probe *p, size_t i);

/* Kills what still runs (no done call then). Returns NULL. */
struct probe *probe_free(struct probe *p);

/* Runs loop until p is done (for the command line tools). 0 or a negative
 * errno of the loop. */
int probe_wait(sd_event *loop, struct probe *p);

struct registry;
struct plugin_dirs;

/* Adds what a finished scan described to reg: the plugins, with every
 * refusal recorded in pd (until its file changes) and appended to refused
 * (a name taken by another plugin is a refusal too). The running daemon
 * logs each plugin it loads (log_loaded). Returns how many were added. */
size_t probe_apply_scan(struct probe *p, struct registry *reg, struct plugin_dirs *pd,
                        struct errors *refused, bool log_loaded);

/* Scans dirs into reg, waiting on loop (the command line tools and tests):
 * plugin_dirs_scan, the scanner, probe_apply_scan. 0 or a negative errno. */
int probe_scan_dirs(sd_event *loop, struct registry *reg, struct plugin_dirs *pd,
                    char *const *dirs, int log_level, struct errors *refused);

#endif

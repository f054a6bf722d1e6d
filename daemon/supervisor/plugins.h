/*
 * plugins.h — the plugin directories as the supervisor sees them: which
 * files are plugins, whether they may be trusted, and sealed snapshots of
 * their bytes.
 *
 * A file is refused, with one line "PATH: STEP: REASON", unless it is a
 * regular file (not a symlink) owned by root or the daemon's user and not
 * writable by group or others, in a directory that passes the same test.
 * An accepted file is opened once (O_NOFOLLOW), checked with fstat() and
 * copied into a memfd sealed against writes, shrinking and growing: from
 * then on only the snapshot is used (by the scanner and by every worker),
 * so overwriting, truncating or deleting the file cannot touch loaded code.
 *
 * A rescan compares each file's identity (device, inode, size, mtime,
 * ctime) with what is known: an unchanged file is neither read nor probed
 * again, accepted or refused; a new or changed one is snapshotted; one that
 * is gone or changed is reported so that its plugin leaves the registry.
 * The snapshot fd is the plugin's own: it is closed with the last reference,
 * so fds stay flat over any number of rescans and replacements.
 */
#ifndef OPHOST_DAEMON_PLUGINS_H
#define OPHOST_DAEMON_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "errors.h"
#include "plugin.h"
#include "registry.h"

/* The largest plugin file accepted. */
#define PLUGIN_FILE_MAX (256ULL << 20)

/* A file that is refused, until it changes. */
struct refusal {
    char *path;
    struct file_identity id;
    char *reason;            /* "PATH: STEP: REASON" */
};

struct plugin_dirs;

struct plugin_dirs *plugin_dirs_new(uid_t trusted_uid);
struct plugin_dirs *plugin_dirs_free(struct plugin_dirs *pd);

/* What a rescan found. */
struct plugin_scan {
    struct plugin **fresh;   /* snapshots to probe (no descriptor yet), references */
    size_t n_fresh;
    struct plugin **gone;    /* registered plugins whose file went or changed (borrowed) */
    size_t n_gone;
};
void plugin_scan_clear(struct plugin_scan *s);

/*
 * Looks at dirs in order, each in strcmp order of file names, against the
 * plugins of reg and the refusals on record. Files refused by the checks
 * are recorded, and their lines appended to refused_now. 0 or -ENOMEM.
 */
int plugin_dirs_scan(struct plugin_dirs *pd, char *const *dirs, const struct registry *reg,
                     struct plugin_scan *ret, struct errors *refused_now);

/* Records that the file p was taken from is refused for reason (the
 * scanner's answer, a crash while probing it, a name conflict). */
int plugin_dirs_refuse(struct plugin_dirs *pd, const struct plugin *p, const char *reason);

/* Forgets a refusal of path (its file was accepted since). */
void plugin_dirs_accepted(struct plugin_dirs *pd, const char *path);

/* The refusals on record. */
const struct refusal *plugin_dirs_refusals(const struct plugin_dirs *pd, size_t *ret_n);

/*
 * Checks the file at path (owner and mode against trusted_uid, a regular
 * file, not a symlink, at most PLUGIN_FILE_MAX) and snapshots it. Returns 0
 * and a new plugin (path, id and the sealed fd; no descriptor) in *ret, or a
 * negative errno with "PATH: file: REASON" in *ret_error.
 */
int plugin_snapshot(const char *path, uid_t trusted_uid, struct plugin **ret, char **ret_error);

/* Checks that dir may hold plugins (owner, mode, a directory; a symlinked
 * directory is followed once). 0 or a negative errno with "DIR: directory:
 * REASON" in *ret_error. */
int plugin_check_dir(const char *dir, uid_t trusted_uid, char **ret_error);

/* Whether name looks like a plugin file: "*.so", not hidden. Files being
 * written under a temporary name (".x.so.tmp", "x.so~") are ignored. */
bool plugin_is_file_name(const char *name);

#endif

/*
 * loader.h — finding, checking and dlopen()ing operator plugins.
 *
 * A plugin is refused, with one line naming the file, the step and the
 * reason, unless: it is a regular file (not a symlink) owned by root or the
 * daemon's user and not writable by group or others, in a directory that
 * passes the same ownership/permission test; dlopen(RTLD_NOW|RTLD_LOCAL)
 * succeeds; it exports OPHOST_PLUGIN_ENTRY_SYMBOL; its ABI major equals the
 * host's and its minor is not newer; its structs are large enough for that
 * minor; and every name and param descriptor is valid.
 */
#ifndef OPHOST_DAEMON_LOADER_H
#define OPHOST_DAEMON_LOADER_H

#include <stdbool.h>
#include <sys/types.h>

#include <ophost/ophost.h>

#include "errors.h"

/* A loaded plugin. Reference counted: the registry holds one reference,
 * each session using one of its operators another; dlclose happens when the
 * last reference goes. */
struct plugin {
    unsigned n_ref;
    char *path;                          /* as found: DIR/NAME.so */
    const char *file_name;               /* points into path */
    void *dl;
    const struct ophost_plugin *desc;
    /* The operators, copied into host-sized structs (zero-filled past the
     * plugin's struct_size), n_operators of them. */
    struct ophost_operator *operators;
    size_t n_operators;
    dev_t dev;                           /* identity of the file loaded */
    ino_t ino;
    int fd;                              /* the file, open while dl is loaded */
};

struct plugin *plugin_ref(struct plugin *p);
/* Drops a reference; dlclose()s and frees on the last. Returns NULL. */
struct plugin *plugin_unref(struct plugin *p);

/*
 * Loads one plugin file. host is handed to the plugin's entry function;
 * trusted_uid is the daemon's user (root is always trusted).
 * Returns 0 and a new reference in *ret, or a negative errno and a malloc'd
 * "PATH: STEP: REASON" line in *ret_error.
 */
int loader_load_file(const char *path, const struct ophost_host *host, uid_t trusted_uid,
                     struct plugin **ret, char **ret_error);

/* Checks that dir may hold plugins (owner, mode, a directory, no symlink).
 * 0 or a negative errno with "DIR: directory: REASON" in *ret_error. */
int loader_check_dir(const char *dir, uid_t trusted_uid, char **ret_error);

/* Whether name looks like a plugin file: "*.so", not hidden. Files being
 * written under a temporary name (".x.so.tmp", "x.so~") are ignored. */
bool loader_is_plugin_name(const char *name);

/*
 * Scans dirs in order, each in strcmp order of file names, loading every
 * plugin file. Loaded plugins are appended to *plugins (a NULL-terminated
 * array it reallocs); each refusal is one line in refusals. A missing
 * directory is a refusal line too, not a failure. Returns the number of
 * plugins loaded or -ENOMEM.
 */
int loader_scan(char *const *dirs, const struct ophost_host *host, uid_t trusted_uid,
                struct plugin ***plugins, struct errors *refusals);

#endif

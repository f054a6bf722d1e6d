/*
 * loader.h — dlopen()ing a plugin in a process that runs plugin code (the
 * scanner, a worker): the object, its entry function, the ABI check and
 * host-sized copies of its operators, then the checks of descriptor.h.
 *
 * The bytes come from a file descriptor: in a worker, the sealed snapshot
 * the supervisor took of the plugin file (supervisor/plugins.h made every
 * check of the file itself), so an overwrite, truncation or deletion of the
 * file cannot reach loaded code.
 */
#ifndef OPHOST_DAEMON_LOADER_H
#define OPHOST_DAEMON_LOADER_H

#include <ophost/ophost.h>

#include "plugin.h"

/*
 * Loads the object in fd; path names it in messages and in p->path, index
 * is what the status page calls it (CALL_DLOPEN, CALL_ENTRY). host is
 * handed to the entry function. fd is taken in every case (the plugin keeps
 * it open while the object is loaded). Returns 0 and a new plugin in *ret,
 * or a negative errno with a malloc'd "PATH: STEP: REASON" line in
 * *ret_error (README, "Plugins", lists them).
 */
int loader_load_fd(int fd, const char *path, unsigned index, const struct ophost_host *host,
                   struct plugin **ret, char **ret_error);

/* Opens path read-only and loads it (tests and in-process tools; no owner
 * or mode checks: those belong to the supervisor). */
int loader_load_path(const char *path, unsigned index, const struct ophost_host *host,
                     struct plugin **ret, char **ret_error);

/* A plugin made in this process from desc (which must outlive it), checked
 * like a loaded one; named path in messages. For tests and the harness. */
int loader_load_static(const char *path, const struct ophost_plugin *desc, struct plugin **ret,
                       char **ret_error);

#endif

/*
 * plugin.h — one plugin file as both processes know it.
 *
 * In the supervisor a plugin is metadata: the descriptor the scanner sent
 * back (deserialized; every callback pointer is NULL), the sealed memfd
 * snapshot of the file's bytes that workers load, the identity of the file
 * it was taken from, and its fault record. In a worker (and the scanner) it
 * is a loaded object: dl, the descriptor the entry function returned, and
 * host-sized copies of its operators. The registry and plans work on either.
 */
#ifndef OPHOST_DAEMON_PLUGIN_H
#define OPHOST_DAEMON_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ophost/ophost.h>

/* What identifies the bytes of a file without reading them: a file whose
 * identity changed is snapshotted again (in-place overwrites keep the inode
 * but change size, mtime or ctime). */
struct file_identity {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_nsec;
    int64_t ctime_nsec;
};

/* Crashes and hangs attributed to a plugin's code, for quarantine
 * (supervisor). */
#define PLUGIN_FAULTS_QUARANTINE 3
#define PLUGIN_FAULTS_WINDOW_USEC (10ULL * 60 * 1000000)

struct plugin_faults {
    uint64_t at_usec[PLUGIN_FAULTS_QUARANTINE]; /* CLOCK_MONOTONIC, newest last */
    unsigned n;
    bool quarantined;
    char *reason;        /* why it is quarantined; NULL otherwise */
    char *last;          /* the latest fault, for the reason text */
};

struct plugin {
    unsigned n_ref;
    char *path;                          /* as found: DIR/NAME.so */
    const char *file_name;               /* points into path */
    const struct ophost_plugin *desc;
    /* The operators, in host-sized structs (zero-filled past the plugin's
     * struct_size), n_operators of them. */
    struct ophost_operator *operators;
    size_t n_operators;

    /* Worker: the object dlopen()ed from fd, which stays open while it is
     * loaded. Supervisor: fd is the sealed snapshot, dl is NULL. */
    void *dl;
    int fd;
    struct file_identity id;             /* the file fd was read from */

    /* Frees what the producer of desc/operators allocated (the loader's
     * dlclose, or the deserialized metadata); called by the last unref. */
    void (*release)(struct plugin *p);
    void *release_data;

    struct plugin_faults faults;         /* supervisor only */
};

/* A new plugin with one reference, path copied, fd -1. NULL on ENOMEM. */
struct plugin *plugin_new(const char *path);
struct plugin *plugin_ref(struct plugin *p);
/* Drops a reference; on the last, calls release, closes fd and frees.
 * Returns NULL. */
struct plugin *plugin_unref(struct plugin *p);

/* The operator named name of p, or NULL. */
const struct ophost_operator *plugin_find_operator(const struct plugin *p, const char *name);

bool file_identity_equal(const struct file_identity *a, const struct file_identity *b);

#endif

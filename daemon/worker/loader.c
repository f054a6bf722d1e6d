/*
 * loader.c — dlopen() of a plugin from a file descriptor (see loader.h).
 *
 * The object is mapped through /proc/self/fd/N. glibc recognises an already
 * loaded object by its name before anything else, so the fd stays open as
 * long as the object is loaded (no two loaded plugins share a
 * /proc/self/fd/N name), and after dlopen() the entry point is checked to
 * lie in a mapping of our file: an object that dlclose() could not unload
 * (e.g. one with STB_GNU_UNIQUE symbols) is never mistaken for a new plugin
 * that later got the same fd number.
 */
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "calls.h"
#include "descriptor.h"
#include "util.h"

/* Sizes of the ABI 1.0 structs: the least a 1.x plugin may declare. Later
 * minors append fields; their sizes go in a table indexed by minor. */
#define PLUGIN_SIZE_1_0 (offsetof(struct ophost_plugin, operators) + sizeof(void *))
#define OPERATOR_SIZE_1_0 (offsetof(struct ophost_operator, process) + sizeof(void *))

static void release_dl(struct plugin *p) {
    char fdpath[64];
    void *h;

    if (!p->dl)
        return;
    dlclose(p->dl);
    p->dl = NULL;
    /* An object dlclose() could not unload (RTLD_NODELETE, C++ unique
     * symbols) is still known to glibc as /proc/self/fd/N: keep N open for
     * good, so that a plugin loaded later never gets that name. */
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", p->fd);
    h = dlopen(fdpath, RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
        dlclose(h);
        p->fd = -1;
    }
}

/* Checks the ABI and the sizes, and copies the operators into host-sized
 * structs, reading only what the plugin's structs have; then the checks
 * of names and params (descriptor_check). */
static int check_descriptor(struct plugin *p, char **ret_error) {
    const struct ophost_plugin *d = p->desc;
    size_t n = 0;
    int r;

    r = descriptor_check_abi(p->path, d->abi_major, d->abi_minor, ret_error);
    if (r < 0)
        return r;
    if (d->struct_size < PLUGIN_SIZE_1_0) {
        *ret_error = strprintf("%s: descriptor: struct_size %u is smaller than the ABI 1.0 size "
                               "%zu: set .struct_size = sizeof(struct ophost_plugin) (or define "
                               "the descriptor with OPHOST_PLUGIN)",
                               p->path, d->struct_size, (size_t) PLUGIN_SIZE_1_0);
        return -EINVAL;
    }
    if (!d->operators || !d->operators[0]) {
        *ret_error = strprintf("%s: descriptor: provides no operators", p->path);
        return -EINVAL;
    }
    while (d->operators[n])
        n++;
    p->operators = calloc(n, sizeof(struct ophost_operator));
    if (!p->operators)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct ophost_operator *op = d->operators[i];
        /* The size first: no field is read that the plugin's struct lacks
         * (but its name, to say which operator: a plugin that declares its
         * operators as struct ophost_operator has it at that place). */
        if (op->struct_size < OPERATOR_SIZE_1_0) {
            const char *name = op->name && strnlen(op->name, 65) <= 64 && name_is_valid(op->name)
                                   ? op->name : NULL;
            char which[32];
            snprintf(which, sizeof(which), "#%zu", i);
            *ret_error = strprintf("%s: operator %s%s%s: struct_size %u is smaller than the ABI "
                                   "1.0 size %zu: set .struct_size = sizeof(struct "
                                   "ophost_operator)", p->path, name ? "'" : "",
                                   name ? name : which, name ? "'" : "", op->struct_size,
                                   (size_t) OPERATOR_SIZE_1_0);
            return -EINVAL;
        }
        memcpy(&p->operators[i], op,
               op->struct_size < sizeof(struct ophost_operator) ? op->struct_size
                                                                 : sizeof(struct ophost_operator));
        p->operators[i].struct_size = sizeof(struct ophost_operator);
        p->n_operators++;
    }
    return descriptor_check(p, ret_error);
}

/* Whether addr lies in a mapping of the file (dev, ino), per /proc/self/maps. */
static bool address_in_file(const void *addr, dev_t dev, ino_t ino) {
    _cleanup_fclose_ FILE *f = fopen("/proc/self/maps", "re");
    char line[512];

    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi, inode;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &min, &inode) != 5)
            continue;
        if ((uintptr_t) addr >= lo && (uintptr_t) addr < hi)
            return inode == (unsigned long) ino && makedev(maj, min) == dev;
    }
    return false;
}

int loader_load_fd(int fd, const char *path, unsigned index, const struct ophost_host *host,
                   struct plugin **ret, char **ret_error) {
    ophost_plugin_entry_fn entry;
    struct plugin *p;
    char fdpath[64];
    struct stat st;
    uint32_t prev;
    int r;

    p = plugin_new(path);
    if (!p) {
        close(fd);
        return -ENOMEM;
    }
    p->fd = fd;
    p->release = release_dl;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        *ret_error = strprintf("%s: file: %s", path, strerror(-r));
        goto fail;
    }
    p->id = (struct file_identity){ .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size };

    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    prev = call_enter(CALL_DLOPEN, index);
    p->dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
    call_leave(prev);
    if (!p->dl) {
        const char *e = dlerror();
        size_t n = strlen(fdpath);
        /* dlerror() starts with "/proc/self/fd/N: " when the file itself is
         * at fault; drop that, but keep the name of a missing dependency. */
        if (e && strncmp(e, fdpath, n) == 0 && strncmp(e + n, ": ", 2) == 0)
            e += n + 2;
        *ret_error = strprintf("%s: dlopen: %s", path, e ? e : "unknown error");
        r = -ENOEXEC;
        goto fail;
    }
    entry = (ophost_plugin_entry_fn) (uintptr_t) dlsym(p->dl, OPHOST_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        *ret_error = strprintf("%s: entry: no symbol '%s' (define it with OPHOST_PLUGIN, or "
                               "mark it OPHOST_EXPORT)", path, OPHOST_PLUGIN_ENTRY_SYMBOL);
        r = -ENOENT;
        goto fail;
    }
    if (!address_in_file((const void *) (uintptr_t) entry, st.st_dev, st.st_ino)) {
        *ret_error = strprintf("%s: dlopen: the loader returned another object (an earlier plugin "
                               "that could not be unloaded?)", path);
        r = -ENOTUNIQ;
        goto fail;
    }
    prev = call_enter(CALL_ENTRY, index);
    p->desc = entry(host);
    call_leave(prev);
    if (!p->desc) {
        *ret_error = strprintf("%s: entry: '%s' returned NULL", path, OPHOST_PLUGIN_ENTRY_SYMBOL);
        r = -EINVAL;
        goto fail;
    }
    r = check_descriptor(p, ret_error);
    if (r < 0)
        goto fail;
    *ret = p;
    return 0;

fail:
    if (r == -ENOMEM && !*ret_error)
        *ret_error = strprintf("%s: %s", path, strerror(ENOMEM));
    plugin_unref(p);
    return r;
}

int loader_load_path(const char *path, unsigned index, const struct ophost_host *host,
                     struct plugin **ret, char **ret_error) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        *ret_error = strprintf("%s: file: %s", path, strerror(e));
        return -e;
    }
    return loader_load_fd(fd, path, index, host, ret, ret_error);
}

int loader_load_static(const char *path, const struct ophost_plugin *desc, struct plugin **ret,
                       char **ret_error) {
    struct plugin *p = plugin_new(path);
    int r;

    if (!p)
        return -ENOMEM;
    p->desc = desc;
    r = check_descriptor(p, ret_error);
    if (r < 0) {
        plugin_unref(p);
        return r;
    }
    *ret = p;
    return 0;
}

/*
 * loader.c — plugin file checks and dlopen(). The file is opened once with
 * O_NOFOLLOW and checked with fstat(); dlopen() then maps that very file
 * through /proc/self/fd/N, so it cannot be swapped between check and load.
 *
 * glibc recognises an already loaded object by its name before anything
 * else, so the fd stays open as long as the object is loaded (no two loaded
 * plugins share a /proc/self/fd/N name), and after dlopen() the entry point
 * is checked to lie in a mapping of our file: an object that dlclose() could
 * not unload (e.g. one with STB_GNU_UNIQUE symbols) is never mistaken for a
 * new plugin that later got the same fd number.
 */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "params.h"

/* Sizes of the ABI 1.0 structs: the least a 1.x plugin may declare. Later
 * minors append fields; their sizes go in a table indexed by minor. */
#define PLUGIN_SIZE_1_0 (offsetof(struct ophost_plugin, operators) + sizeof(void *))
#define OPERATOR_SIZE_1_0 (offsetof(struct ophost_operator, process) + sizeof(void *))

struct plugin *plugin_ref(struct plugin *p) {
    if (p)
        p->n_ref++;
    return p;
}

static void plugin_free(struct plugin *p) {
    if (p->dl) {
        char fdpath[64];
        void *h;
        dlclose(p->dl);
        /* An object dlclose() could not unload (RTLD_NODELETE, C++ unique
         * symbols) is still known to glibc as /proc/self/fd/N: keep N open
         * for good, so that a plugin loaded later never gets that name. */
        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", p->fd);
        h = dlopen(fdpath, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            dlclose(h);
            p->fd = -1;
        }
    }
    if (p->fd >= 0)
        close(p->fd);
    free(p->operators);
    free(p->path);
    free(p);
}

struct plugin *plugin_unref(struct plugin *p) {
    if (p && --p->n_ref == 0)
        plugin_free(p);
    return NULL;
}

bool loader_is_plugin_name(const char *name) {
    return name[0] != '.' && endswith(name, ".so") && strlen(name) > 3;
}

static int check_owner_mode(const struct stat *st, uid_t trusted_uid, const char *what,
                            const char *path, char **ret_error) {
    if (st->st_uid != 0 && st->st_uid != trusted_uid) {
        *ret_error = strprintf("%s: %s: owned by uid %u, must be root or the daemon's user (uid %u)",
                               path, what, (unsigned) st->st_uid, (unsigned) trusted_uid);
        return -EPERM;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        *ret_error = strprintf("%s: %s: writable by group or others (mode %04o)", path, what,
                               (unsigned) (st->st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

int loader_check_dir(const char *dir, uid_t trusted_uid, char **ret_error) {
    struct stat st;

    if (lstat(dir, &st) < 0) {
        int e = errno;
        *ret_error = strprintf("%s: directory: %s", dir, strerror(e));
        return -e;
    }
    if (S_ISLNK(st.st_mode)) {
        /* A symlinked plugin directory is how /usr/lib64 style layouts work;
         * follow it once and check the target instead. */
        if (stat(dir, &st) < 0) {
            int e = errno;
            *ret_error = strprintf("%s: directory: %s", dir, strerror(e));
            return -e;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        *ret_error = strprintf("%s: directory: not a directory", dir);
        return -ENOTDIR;
    }
    return check_owner_mode(&st, trusted_uid, "directory", dir, ret_error);
}

static int check_operator(const char *path, const struct ophost_operator *op, size_t index,
                          char **ret_error) {
    _cleanup_free_ char *perr = NULL;
    int r;

    /* The size first: no field is read that the plugin's struct lacks. */
    if (op->struct_size < OPERATOR_SIZE_1_0) {
        *ret_error = strprintf("%s: operator #%zu: struct_size %u is smaller than the ABI 1.0 size %zu",
                               path, index, op->struct_size, (size_t) OPERATOR_SIZE_1_0);
        return -EINVAL;
    }
    if (!op->name || !name_is_valid(op->name)) {
        *ret_error = strprintf("%s: operator #%zu: invalid name '%s' (use a-z, 0-9, '_' and '-')",
                               path, index, op->name ? op->name : "(null)");
        return -EINVAL;
    }
    for (size_t i = 0; op->dependencies && op->dependencies[i]; i++)
        if (!name_is_valid(op->dependencies[i])) {
            *ret_error = strprintf("%s: operator '%s': invalid dependency name '%s'", path,
                                   op->name, op->dependencies[i]);
            return -EINVAL;
        }
    r = params_check_descriptors(op->global_params, &perr);
    if (r < 0) {
        *ret_error = strprintf("%s: operator '%s': global %s", path, op->name, perr);
        return r;
    }
    r = params_check_descriptors(op->instance_params, &perr);
    if (r < 0) {
        *ret_error = strprintf("%s: operator '%s': instance %s", path, op->name, perr);
        return r;
    }
    return 0;
}

/* Validates the descriptor and copies the operators into host-sized structs. */
static int check_descriptor(struct plugin *p, char **ret_error) {
    const struct ophost_plugin *d = p->desc;
    const char *path = p->path;
    size_t n = 0;

    if (d->abi_major != OPHOST_ABI_MAJOR) {
        *ret_error = strprintf("%s: abi: plugin ABI major %u, host supports %u", path,
                               d->abi_major, OPHOST_ABI_MAJOR);
        return -EPROTO;
    }
    if (d->abi_minor > OPHOST_ABI_MINOR) {
        *ret_error = strprintf("%s: abi: plugin ABI %u.%u is newer than the host's %u.%u", path,
                               d->abi_major, d->abi_minor, OPHOST_ABI_MAJOR, OPHOST_ABI_MINOR);
        return -EPROTO;
    }
    if (d->struct_size < PLUGIN_SIZE_1_0) {
        *ret_error = strprintf("%s: descriptor: struct_size %u is smaller than the ABI 1.0 size %zu",
                               path, d->struct_size, (size_t) PLUGIN_SIZE_1_0);
        return -EINVAL;
    }
    if (!d->name || !name_is_valid(d->name)) {
        *ret_error = strprintf("%s: descriptor: invalid plugin name '%s' (use a-z, 0-9, '_' and '-')",
                               path, d->name ? d->name : "(null)");
        return -EINVAL;
    }
    if (!d->operators || !d->operators[0]) {
        *ret_error = strprintf("%s: descriptor: provides no operators", path);
        return -EINVAL;
    }
    while (d->operators[n])
        n++;

    p->operators = calloc(n, sizeof(struct ophost_operator));
    if (!p->operators)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct ophost_operator *op = d->operators[i];
        int r = check_operator(path, op, i, ret_error);
        if (r < 0)
            return r;
        for (size_t j = 0; j < i; j++)
            if (streq(p->operators[j].name, op->name)) {
                *ret_error = strprintf("%s: operator '%s': defined twice in the plugin", path,
                                       op->name);
                return -EEXIST;
            }
        /* Read only what the plugin's struct has; the rest stays zero. */
        memcpy(&p->operators[i], op,
               op->struct_size < sizeof(struct ophost_operator) ? op->struct_size
                                                                 : sizeof(struct ophost_operator));
        p->operators[i].struct_size = sizeof(struct ophost_operator);
    }
    p->n_operators = n;
    return 0;
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

int loader_load_file(const char *path, const struct ophost_host *host, uid_t trusted_uid,
                     struct plugin **ret, char **ret_error) {
    _cleanup_close_ int fd = -1;
    struct plugin *p;
    ophost_plugin_entry_fn entry;
    char fdpath[64];
    struct stat st;
    int r;

    if (lstat(path, &st) < 0) {
        int e = errno;
        *ret_error = strprintf("%s: file: %s", path, strerror(e));
        return -e;
    }
    if (S_ISLNK(st.st_mode)) {
        *ret_error = strprintf("%s: file: is a symbolic link, not a regular file", path);
        return -ELOOP;
    }
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        *ret_error = strprintf("%s: file: %s", path, strerror(e));
        return -e;
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        *ret_error = strprintf("%s: file: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        *ret_error = strprintf("%s: file: not a regular file", path);
        return -EINVAL;
    }
    r = check_owner_mode(&st, trusted_uid, "file", path, ret_error);
    if (r < 0)
        return r;

    p = calloc(1, sizeof(*p));
    if (!p || !(p->path = strdup(path))) {
        free(p);
        return -ENOMEM;
    }
    p->n_ref = 1;
    p->fd = TAKE_FD(fd);
    p->file_name = strrchr(p->path, '/') ? strrchr(p->path, '/') + 1 : p->path;
    p->dev = st.st_dev;
    p->ino = st.st_ino;

    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", p->fd);
    p->dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
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
        *ret_error = strprintf("%s: entry: no symbol '%s'", path, OPHOST_PLUGIN_ENTRY_SYMBOL);
        r = -ENOENT;
        goto fail;
    }
    if (!address_in_file((const void *) (uintptr_t) entry, p->dev, p->ino)) {
        *ret_error = strprintf("%s: dlopen: the loader returned another object (an earlier plugin "
                               "that could not be unloaded?)", path);
        r = -ENOTUNIQ;
        goto fail;
    }
    p->desc = entry(host);
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
    plugin_free(p);
    return r;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int scan_dir(const char *dir, const struct ophost_host *host, uid_t trusted_uid,
                    struct plugin ***plugins, size_t *n_plugins, struct errors *refusals) {
    _cleanup_(strv_freep) char **names = NULL;
    DIR *d;
    struct dirent *de;
    char *err = NULL;
    int loaded = 0, r;

    r = loader_check_dir(dir, trusted_uid, &err);
    if (r < 0) {
        (void) errors_add(refusals, "%s", err ? err : dir);
        free(err);
        return 0;
    }
    d = opendir(dir);
    if (!d) {
        (void) errors_add(refusals, "%s: directory: %s", dir, strerror(errno));
        return 0;
    }
    while ((de = readdir(d)))
        if (loader_is_plugin_name(de->d_name) && strv_extend(&names, de->d_name) < 0) {
            closedir(d);
            return -ENOMEM;
        }
    closedir(d);
    if (!names)
        return 0;
    qsort(names, strv_length(names), sizeof(char *), compare_names);

    for (size_t i = 0; names[i]; i++) {
        _cleanup_free_ char *path = strprintf("%s/%s", dir, names[i]);
        struct plugin *p = NULL, **m;
        if (!path)
            return -ENOMEM;
        err = NULL;
        r = loader_load_file(path, host, trusted_uid, &p, &err);
        if (r < 0) {
            (void) errors_add(refusals, "%s", err ? err : path);
            free(err);
            continue;
        }
        m = realloc(*plugins, (*n_plugins + 2) * sizeof(*m));
        if (!m) {
            plugin_unref(p);
            return -ENOMEM;
        }
        m[(*n_plugins)++] = p;
        m[*n_plugins] = NULL;
        *plugins = m;
        loaded++;
    }
    return loaded;
}

int loader_scan(char *const *dirs, const struct ophost_host *host, uid_t trusted_uid,
                struct plugin ***plugins, struct errors *refusals) {
    size_t n = 0;
    int total = 0;

    while (*plugins && (*plugins)[n])
        n++;
    for (size_t i = 0; dirs && dirs[i]; i++) {
        int r = scan_dir(dirs[i], host, trusted_uid, plugins, &n, refusals);
        if (r < 0)
            return r;
        total += r;
    }
    return total;
}

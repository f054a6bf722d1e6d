/* plugins.c — plugin files: trust checks, sealed snapshots and rescans
 * (see plugins.h). */
#include "plugins.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable memfd, explicitly */
#endif

struct plugin_dirs {
    uid_t trusted_uid;
    struct refusal *refusals;
    size_t n_refusals;
};

struct plugin_dirs *plugin_dirs_new(uid_t trusted_uid) {
    struct plugin_dirs *pd = calloc(1, sizeof(*pd));
    if (pd)
        pd->trusted_uid = trusted_uid;
    return pd;
}

static void refusal_clear(struct refusal *r) {
    free(r->path);
    free(r->reason);
}

struct plugin_dirs *plugin_dirs_free(struct plugin_dirs *pd) {
    if (!pd)
        return NULL;
    for (size_t i = 0; i < pd->n_refusals; i++)
        refusal_clear(&pd->refusals[i]);
    free(pd->refusals);
    free(pd);
    return NULL;
}

void plugin_scan_clear(struct plugin_scan *s) {
    for (size_t i = 0; i < s->n_fresh; i++)
        plugin_unref(s->fresh[i]);
    free(s->fresh);
    free(s->gone);
    *s = (struct plugin_scan){ 0 };
}

bool plugin_is_file_name(const char *name) {
    return name[0] != '.' && endswith(name, ".so") && strlen(name) > 3;
}

static struct file_identity identity_of(const struct stat *st) {
    return (struct file_identity){
        .dev = st->st_dev,
        .ino = st->st_ino,
        .size = st->st_size,
        .mtime_nsec = (int64_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
        .ctime_nsec = (int64_t) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
    };
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

int plugin_check_dir(const char *dir, uid_t trusted_uid, char **ret_error) {
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

/* Opens path without following a symlink and checks it; the fd and its
 * identity on success. */
static int open_checked(const char *path, uid_t trusted_uid, int *ret_fd,
                        struct file_identity *ret_id, char **ret_error) {
    _cleanup_close_ int fd = -1;
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
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        *ret_error = strprintf("%s: file: %s", path,
                               e == ELOOP ? "is a symbolic link, not a regular file" : strerror(e));
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
    if ((unsigned long long) st.st_size > PLUGIN_FILE_MAX) {
        *ret_error = strprintf("%s: file: %lld bytes, more than the %llu MiB a plugin may have",
                               path, (long long) st.st_size, PLUGIN_FILE_MAX >> 20);
        return -EFBIG;
    }
    *ret_id = identity_of(&st);
    *ret_fd = TAKE_FD(fd);
    return 0;
}

/* Copies fd's bytes into a new sealed memfd named after the file. */
static int copy_sealed(int fd, const char *name, int *ret_memfd, char **ret_error,
                       const char *path) {
    _cleanup_close_ int m = -1;
    char buf[65536];
    ssize_t n;

    m = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (m < 0 && errno == EINVAL) /* before Linux 6.3 */
        m = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0) {
        int e = errno;
        *ret_error = strprintf("%s: snapshot: memfd_create: %s", path, strerror(e));
        return -e;
    }
    for (off_t off = 0;; off += n) {
        n = pread(fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR) {
            n = 0;
            continue;
        }
        if (n < 0) {
            int e = errno;
            *ret_error = strprintf("%s: snapshot: read: %s", path, strerror(e));
            return -e;
        }
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(m, buf + done, (size_t) (n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int e = errno;
                *ret_error = strprintf("%s: snapshot: %s", path, strerror(e));
                return -e;
            }
            done += w;
        }
    }
    if (fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        int e = errno;
        *ret_error = strprintf("%s: snapshot: sealing: %s", path, strerror(e));
        return -e;
    }
    *ret_memfd = TAKE_FD(m);
    return 0;
}

/* The snapshot of the checked file fd (identity id). */
static int snapshot_fd(int fd, const char *path, const struct file_identity *id,
                       struct plugin **ret, char **ret_error) {
    struct file_identity after;
    struct plugin *p;
    struct stat st;
    int memfd = -1, r;

    p = plugin_new(path);
    if (!p)
        return -ENOMEM;
    r = copy_sealed(fd, p->file_name, &memfd, ret_error, path);
    if (r < 0) {
        plugin_unref(p);
        return r;
    }
    p->fd = memfd;
    /* A file written while we copied is taken again at the next rescan
     * (its writer's close or rename triggers one). */
    if (fstat(fd, &st) >= 0) {
        after = identity_of(&st);
        if (!file_identity_equal(id, &after)) {
            *ret_error = strprintf("%s: file: changed while it was read", path);
            plugin_unref(p);
            return -EAGAIN;
        }
    }
    p->id = *id;
    *ret = p;
    return 0;
}

int plugin_snapshot(const char *path, uid_t trusted_uid, struct plugin **ret, char **ret_error) {
    _cleanup_close_ int fd = -1;
    struct file_identity id;
    int r;

    r = open_checked(path, trusted_uid, &fd, &id, ret_error);
    if (r < 0)
        return r;
    return snapshot_fd(fd, path, &id, ret, ret_error);
}

/* --------------------------------------------------------------- rescans */

static struct refusal *find_refusal(struct plugin_dirs *pd, const char *path) {
    for (size_t i = 0; i < pd->n_refusals; i++)
        if (streq(pd->refusals[i].path, path))
            return &pd->refusals[i];
    return NULL;
}

static int record_refusal(struct plugin_dirs *pd, const char *path,
                          const struct file_identity *id, const char *reason) {
    struct refusal *r = find_refusal(pd, path), *m;

    if (!r) {
        m = realloc(pd->refusals, (pd->n_refusals + 1) * sizeof(*m));
        if (!m)
            return -ENOMEM;
        pd->refusals = m;
        r = &m[pd->n_refusals];
        *r = (struct refusal){ .path = strdup(path) };
        if (!r->path)
            return -ENOMEM;
        pd->n_refusals++;
    }
    free(r->reason);
    r->reason = strdup(reason);
    r->id = id ? *id : (struct file_identity){ 0 };
    return r->reason ? 0 : -ENOMEM;
}

int plugin_dirs_refuse(struct plugin_dirs *pd, const struct plugin *p, const char *reason) {
    return record_refusal(pd, p->path, &p->id, reason);
}

void plugin_dirs_accepted(struct plugin_dirs *pd, const char *path) {
    struct refusal *r = find_refusal(pd, path);
    if (!r)
        return;
    refusal_clear(r);
    *r = pd->refusals[--pd->n_refusals];
}

const struct refusal *plugin_dirs_refusals(const struct plugin_dirs *pd, size_t *ret_n) {
    *ret_n = pd->n_refusals;
    return pd->refusals;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int push(void *vec, size_t *n, void *item) {
    void ***v = vec;
    void **m = realloc(*v, (*n + 1) * sizeof(void *));
    if (!m)
        return -ENOMEM;
    m[(*n)++] = item;
    *v = m;
    return 0;
}

/* Looks at one file: unchanged (nothing to do), refused, or a fresh
 * snapshot appended to ret. */
static int scan_file(struct plugin_dirs *pd, const char *path, const struct registry *reg,
                     struct plugin_scan *ret, struct errors *refused_now) {
    _cleanup_free_ char *err = NULL;
    _cleanup_close_ int fd = -1;
    struct file_identity id = { 0 };
    const struct plugin *known = registry_plugin_by_path(reg, path);
    struct refusal *refused = find_refusal(pd, path);
    struct plugin *p = NULL;
    int r;

    r = open_checked(path, pd->trusted_uid, &fd, &id, &err);
    if (r >= 0 && known && file_identity_equal(&known->id, &id))
        return 0; /* loaded, unchanged */
    if (r >= 0 && refused && file_identity_equal(&refused->id, &id) && id.ino != 0)
        return 0; /* refused, unchanged */
    if (r >= 0) {
        r = snapshot_fd(fd, path, &id, &p, &err);
        if (r == -EAGAIN)
            return 0; /* being written: the next rescan takes it */
    }
    if (r < 0) {
        /* Refused again only if something changed, so it is logged once. */
        if (!refused || !streq_ptr(refused->reason, err)) {
            if (record_refusal(pd, path, &id, err ? err : path) < 0)
                return -ENOMEM;
            (void) errors_add(refused_now, "%s", err ? err : path);
        }
        return 0;
    }
    if (push(&ret->fresh, &ret->n_fresh, p) < 0) {
        plugin_unref(p);
        return -ENOMEM;
    }
    return 0;
}

static int scan_dir(struct plugin_dirs *pd, const char *dir, const struct registry *reg,
                    struct plugin_scan *ret, char ***seen, struct errors *refused_now) {
    _cleanup_(strv_freep) char **names = NULL;
    _cleanup_free_ char *err = NULL;
    DIR *d;
    struct dirent *de;
    int r;

    r = plugin_check_dir(dir, pd->trusted_uid, &err);
    if (r < 0) {
        struct refusal *old = find_refusal(pd, dir);
        if (!old || !streq_ptr(old->reason, err)) {
            if (record_refusal(pd, dir, NULL, err ? err : dir) < 0)
                return -ENOMEM;
            (void) errors_add(refused_now, "%s", err ? err : dir);
        }
        return strv_extend(seen, dir);
    }
    d = opendir(dir);
    if (!d) {
        (void) errors_add(refused_now, "%s: directory: %s", dir, strerror(errno));
        return 0;
    }
    while ((de = readdir(d)))
        if (plugin_is_file_name(de->d_name) && strv_extend(&names, de->d_name) < 0) {
            closedir(d);
            return -ENOMEM;
        }
    closedir(d);
    if (!names)
        return 0;
    qsort(names, strv_length(names), sizeof(char *), compare_names);
    for (size_t i = 0; names[i]; i++) {
        char *path = strprintf("%s/%s", dir, names[i]);
        if (!path || strv_consume(seen, path) < 0)
            return -ENOMEM;
        r = scan_file(pd, path, reg, ret, refused_now);
        if (r < 0)
            return r;
    }
    return 0;
}

int plugin_dirs_scan(struct plugin_dirs *pd, char *const *dirs, const struct registry *reg,
                     struct plugin_scan *ret, struct errors *refused_now) {
    _cleanup_(strv_freep) char **seen = NULL;
    struct plugin *const *loaded;
    size_t n_loaded, out = 0;
    int r;

    *ret = (struct plugin_scan){ 0 };
    for (size_t i = 0; dirs && dirs[i]; i++) {
        r = scan_dir(pd, dirs[i], reg, ret, &seen, refused_now);
        if (r < 0)
            goto fail;
    }
    /* Registered plugins whose file is gone, or is being replaced by a
     * fresh snapshot. */
    loaded = registry_plugins(reg, &n_loaded);
    for (size_t i = 0; i < n_loaded; i++) {
        bool present = false, replaced = false;
        for (size_t k = 0; seen && seen[k] && !present; k++)
            present = streq(seen[k], loaded[i]->path);
        for (size_t k = 0; k < ret->n_fresh && !replaced; k++)
            replaced = streq(ret->fresh[k]->path, loaded[i]->path);
        if ((!present || replaced) && push(&ret->gone, &ret->n_gone, loaded[i]) < 0) {
            r = -ENOMEM;
            goto fail;
        }
    }
    /* Refusals of files that are gone are forgotten. */
    for (size_t i = 0; i < pd->n_refusals; i++) {
        bool present = false;
        for (size_t k = 0; seen && seen[k] && !present; k++)
            present = streq(seen[k], pd->refusals[i].path);
        if (present)
            pd->refusals[out++] = pd->refusals[i];
        else
            refusal_clear(&pd->refusals[i]);
    }
    pd->n_refusals = out;
    return 0;
fail:
    plugin_scan_clear(ret);
    return r;
}

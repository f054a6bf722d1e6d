/* plugin.c — reference counting of plugins (see plugin.h). */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct plugin *plugin_new(const char *path) {
    struct plugin *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->path = strdup(path);
    if (!p->path) {
        free(p);
        return NULL;
    }
    p->n_ref = 1;
    p->fd = -1;
    p->file_name = strrchr(p->path, '/') ? strrchr(p->path, '/') + 1 : p->path;
    return p;
}

struct plugin *plugin_ref(struct plugin *p) {
    if (p)
        p->n_ref++;
    return p;
}

struct plugin *plugin_unref(struct plugin *p) {
    if (!p || --p->n_ref > 0)
        return NULL;
    if (p->release)
        p->release(p);
    if (p->fd >= 0)
        close(p->fd);
    free(p->operators);
    free(p->faults.reason);
    free(p->faults.last);
    free(p->path);
    free(p);
    return NULL;
}

const struct ophost_operator *plugin_find_operator(const struct plugin *p, const char *name) {
    for (size_t i = 0; i < p->n_operators; i++)
        if (streq(p->operators[i].name, name))
            return &p->operators[i];
    return NULL;
}

bool file_identity_equal(const struct file_identity *a, const struct file_identity *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_nsec == b->mtime_nsec && a->ctime_nsec == b->ctime_nsec;
}

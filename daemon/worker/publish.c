/* publish.c — metrics texts from the session thread to the supervisor
 * (see publish.h). */
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "proto.h"
#include "util.h"

struct publish {
    pthread_mutex_t lock; /* fds */
    int *fds;             /* per step: the newest sealed file not sent yet, or -1 */
    size_t n;
    int wake_fd;
};

struct publish *publish_new(size_t n_steps) {
    struct publish *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->n = n_steps;
    p->fds = calloc(n_steps + 1, sizeof(int));
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!p->fds || p->wake_fd < 0) {
        if (p->wake_fd < 0)
            p->n = 0;
        return publish_free(p);
    }
    for (size_t i = 0; i < n_steps; i++)
        p->fds[i] = -1;
    return p;
}

struct publish *publish_free(struct publish *p) {
    if (!p)
        return NULL;
    for (size_t i = 0; p->fds && i < p->n; i++)
        if (p->fds[i] >= 0)
            close(p->fds[i]);
    free(p->fds);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
}

int publish_wake_fd(const struct publish *p) {
    return p->wake_fd;
}

/* A memfd holding text[0..len), sealed; or a negative errno. */
static int sealed_file(const char *text, size_t len) {
    int fd = memfd_create("ophost-metrics", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;

    if (fd < 0)
        return -errno;
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            close(fd);
            return r;
        }
        done += (size_t) n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int publish_text(struct session *s, size_t step, const char *text, size_t len, void *userdata) {
    struct publish *p = userdata;
    uint64_t one = 1;
    int fd, old;

    if (step >= p->n)
        return -EINVAL;
    fd = sealed_file(text, len);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&p->lock);
    old = p->fds[step];
    p->fds[step] = fd;
    pthread_mutex_unlock(&p->lock);
    if (old >= 0)
        close(old); /* never sent: the newer text replaces it */
    if (write(p->wake_fd, &one, sizeof(one)) < 0) {
        /* Only fails when the counter is saturated: a wake-up is pending. */
    }
    return 0;
}

int publish_flush(struct publish *p, int sock) {
    uint64_t v;

    if (read(p->wake_fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: nothing new since the last flush; the slots still count. */
    }
    for (size_t i = 0; i < p->n; i++) {
        char payload[48];
        int fd, r;

        pthread_mutex_lock(&p->lock);
        fd = p->fds[i];
        p->fds[i] = -1;
        pthread_mutex_unlock(&p->lock);
        if (fd < 0)
            continue;
        snprintf(payload, sizeof(payload), "{\"step\":%zu}", i);
        r = proto_send(sock, PROTO_METRICS, payload, strlen(payload), &fd, 1);
        if (r < 0) {
            /* Back into its slot, unless the session filled it again. */
            pthread_mutex_lock(&p->lock);
            if (p->fds[i] < 0) {
                p->fds[i] = fd;
                fd = -1;
            }
            pthread_mutex_unlock(&p->lock);
            if (fd >= 0)
                close(fd);
            return r;
        }
        close(fd);
    }
    return 0;
}

bool publish_pending(struct publish *p) {
    bool any = false;

    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n && !any; i++)
        any = p->fds[i] >= 0;
    pthread_mutex_unlock(&p->lock);
    return any;
}

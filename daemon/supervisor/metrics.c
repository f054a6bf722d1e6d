/* metrics.c — the /metrics HTTP endpoint on the main loop (see metrics.h). */
#include "metrics.h"

#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Scrapes within this long of the last rendering get the same response:
 * a flood of clients costs one rendering per period and one copy of the
 * text in all, not one per client. */
#define CACHE_USEC (250 * 1000)
/* Connections from one address at once (Prometheus keeps one). */
#define PER_IP_MAX 4

/* libmicrohttpd, loaded when the first server starts (see meson.build:
 * the workers, the same binary, never load it). */
static struct {
    void *handle;
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_run) *run;
    __typeof__(MHD_get_timeout) *get_timeout;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
} mhd;

/* 0, or -ELIBACC with the reason in *ret_error. */
static int mhd_load(char **ret_error) {
    static const char *const names[] = {
        "MHD_start_daemon", "MHD_stop_daemon", "MHD_run", "MHD_get_timeout",
        "MHD_get_daemon_info", "MHD_create_response_from_buffer", "MHD_add_response_header",
        "MHD_queue_response", "MHD_destroy_response",
    };
    void **slots[] = {
        (void **) &mhd.start_daemon, (void **) &mhd.stop_daemon, (void **) &mhd.run,
        (void **) &mhd.get_timeout, (void **) &mhd.get_daemon_info,
        (void **) &mhd.create_response_from_buffer, (void **) &mhd.add_response_header,
        (void **) &mhd.queue_response, (void **) &mhd.destroy_response,
    };
    void *h;

    if (mhd.handle)
        return 0;
    h = dlopen(OPHOST_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        *ret_error = strprintf("cannot load %s (Debian package libmicrohttpd12): %s",
                               OPHOST_MHD_SONAME, dlerror());
        return -ELIBACC;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!(*slots[i] = dlsym(h, names[i]))) {
            *ret_error = strprintf("%s has no %s", OPHOST_MHD_SONAME, names[i]);
            dlclose(h);
            return -ELIBACC;
        }
    mhd.handle = h; /* kept: a server may be started again at a reload */
    return 0;
}

struct metrics_server {
    sd_event *loop;
    char *listen;
    struct MHD_Daemon *mhd;
    sd_event_source *io_es, *timer_es;
    metrics_collect_fn collect;
    void *userdata;
    uint64_t scrapes;
    struct MHD_Response *cached; /* the last /metrics response (MHD counts its users) */
    uint64_t cached_at;          /* CLOCK_MONOTONIC, µs */
};

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    _cleanup_free_ char *msg = vstrprintf(fmt, ap);
    size_t n = msg ? strlen(msg) : 0;

    (void) cls;
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    /* Client errors (a reset, a bad request) are the client's business. */
    log_debug("metrics endpoint: %s", msg ? msg : fmt);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text) {
    struct MHD_Response *resp = mhd.create_response_from_buffer(strlen(text), (void *) text,
                                                                MHD_RESPMEM_PERSISTENT);
    enum MHD_Result r;

    if (!resp)
        return MHD_NO;
    (void) mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        (void) mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    r = mhd.queue_response(conn, status, resp);
    mhd.destroy_response(resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    struct metrics_server *s = cls;
    struct MHD_Response *resp;
    struct expo_buf out = { 0 };

    if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (streq(url, "/"))
        return reply(conn, MHD_HTTP_OK, "ophostd: the metrics are at /metrics\n");
    if (!streq(url, "/metrics"))
        return reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");

    s->scrapes++;
    if (!s->cached || monotonic_usec() - s->cached_at >= CACHE_USEC) {
        s->collect(&out, s->userdata);
        if (out.oom) {
            expo_buf_free(&out);
            return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        }
        /* MHD frees the buffer with free() when its last user is done. */
        resp = mhd.create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
            expo_buf_free(&out);
            return MHD_NO;
        }
        (void) mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
        if (s->cached)
            mhd.destroy_response(s->cached); /* freed once no connection sends it */
        s->cached = resp;
        s->cached_at = monotonic_usec();
    }
    return mhd.queue_response(conn, MHD_HTTP_OK, s->cached);
}

/* After every run: when libmicrohttpd wants to run again without an event
 * (a connection timeout, data it already holds). */
static void rearm(struct metrics_server *s) {
    MHD_UNSIGNED_LONG_LONG ms = 0;

    if (mhd.get_timeout(s->mhd, &ms) != MHD_YES) {
        (void) sd_event_source_set_enabled(s->timer_es, SD_EVENT_OFF);
        return;
    }
    (void) sd_event_source_set_time_relative(s->timer_es, (uint64_t) ms * 1000);
    (void) sd_event_source_set_enabled(s->timer_es, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    struct metrics_server *s = userdata;
    (void) mhd.run(s->mhd);
    rearm(s);
    return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
    struct metrics_server *s = userdata;
    (void) mhd.run(s->mhd);
    rearm(s);
    return 0;
}

/* A listening socket on addr; or a negative errno with the reason. */
static int listen_on(const char *address, int *ret_fd, char **ret_error) {
    struct sockaddr_storage sa;
    unsigned len;
    int fd, one = 1, r;

    if (config_parse_listen(address, &sa, &len) < 0) {
        *ret_error = strprintf("'%s' is not ADDRESS:PORT", address);
        return -EINVAL;
    }
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        if (r == -EAFNOSUPPORT || r == -EPERM || r == -EACCES)
            *ret_error = strprintf("cannot create an %s socket for %s: %s (under the shipped "
                                   "ophostd.service, allow AF_INET and AF_INET6 with the drop-in "
                                   "of README \"Metrics\")",
                                   sa.ss_family == AF_INET6 ? "IPv6" : "IPv4", address,
                                   strerror(-r));
        else
            *ret_error = strprintf("cannot create a socket for %s: %s", address, strerror(-r));
        return r;
    }
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *) &sa, len) < 0 || listen(fd, 64) < 0) {
        r = -errno;
        close(fd);
        *ret_error = strprintf("cannot listen on %s: %s", address, strerror(-r));
        return r;
    }
    *ret_fd = fd;
    return 0;
}

int metrics_server_new(sd_event *loop, const char *address, metrics_collect_fn collect,
                       void *userdata, struct metrics_server **ret, char **ret_error) {
    struct metrics_server *s = calloc(1, sizeof(*s));
    const union MHD_DaemonInfo *info;
    int fd = -1, r;

    if (!s)
        return -ENOMEM;
    r = mhd_load(ret_error);
    if (r < 0) {
        free(s);
        return r;
    }
    s->loop = sd_event_ref(loop);
    s->collect = collect;
    s->userdata = userdata;
    s->listen = strdup(address);
    if (!s->listen) {
        metrics_server_free(s);
        return -ENOMEM;
    }
    r = listen_on(address, &fd, ret_error);
    if (r < 0) {
        metrics_server_free(s);
        return r;
    }
    s->mhd = mhd.start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_CONNECTIONS_MAX,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) PER_IP_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) METRICS_TIMEOUT_SEC,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                              MHD_OPTION_END);
    if (!s->mhd) {
        close(fd);
        *ret_error = strprintf("cannot start the HTTP server on %s", address);
        metrics_server_free(s);
        return -EIO;
    }
    info = mhd.get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    r = info ? sd_event_add_io(loop, &s->io_es, info->epoll_fd, EPOLLIN, on_io, s) : -EIO;
    if (r >= 0)
        r = sd_event_add_time_relative(loop, &s->timer_es, CLOCK_MONOTONIC, 0, 1000, on_timer,
                                       s);
    if (r < 0) {
        *ret_error = strprintf("cannot watch the HTTP server on %s: %s", address, strerror(-r));
        metrics_server_free(s);
        return r;
    }
    (void) sd_event_source_set_description(s->io_es, "metrics-http");
    rearm(s);
    *ret = s;
    return 0;
}

struct metrics_server *metrics_server_free(struct metrics_server *s) {
    if (!s)
        return NULL;
    /* Before MHD closes its epoll fd. */
    s->io_es = sd_event_source_disable_unref(s->io_es);
    s->timer_es = sd_event_source_disable_unref(s->timer_es);
    if (s->mhd)
        mhd.stop_daemon(s->mhd); /* closes the connections and the listening socket */
    if (s->cached)
        mhd.destroy_response(s->cached);
    sd_event_unref(s->loop);
    free(s->listen);
    free(s);
    return NULL;
}

const char *metrics_server_listen(const struct metrics_server *s) {
    return s->listen;
}

uint64_t metrics_server_scrapes(const struct metrics_server *s) {
    return s ? s->scrapes : 0;
}

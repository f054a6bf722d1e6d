/* conn.c — the socket, connecting, varlink calls (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "errors.h"
#include "text.h"

#define REPLY_MAX (256u * 1024 * 1024)

/* Why the daemon config gave no socket, for the connect error. */
static char *config_note;

void conn_choose_socket(void) {
    static char origin[512];
    struct daemon_config *cfg = NULL;
    struct errors errs = { 0 };
    const char *path = ctl.config ? ctl.config : OPHOST_DEFAULT_CONFIG_FILE;
    int r;

    if (ctl.socket)
        return;
    r = config_load_daemon(path, ctl.config != NULL, &cfg, &errs);
    if (r >= 0 && cfg->file && cfg->control_socket) {
        static char *socket;
        free(socket);
        socket = strdup(cfg->control_socket);
        ctl.socket = socket;
        snprintf(origin, sizeof(origin), "control-socket in %s", path);
    } else {
        ctl.socket = OPHOST_DEFAULT_CONTROL_SOCKET;
        if (r >= 0)
            snprintf(origin, sizeof(origin),
                     "the default: no --socket, no $OPHOST_SOCKET, no daemon config at %s", path);
        else {
            free(config_note);
            config_note = strdup(errs.n > 0 && errs.lines ? errs.lines[0] : strerror(-r));
            snprintf(origin, sizeof(origin),
                     "the default: no --socket, no $OPHOST_SOCKET, and the daemon config %s "
                     "could not be read",
                     path);
        }
    }
    ctl.socket_origin = origin;
    daemon_config_free(cfg);
    errors_clear(&errs);
}

int conn_open(struct conn *c) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int err;

    *c = (struct conn){ .fd = -1 };
    if (strlen(ctl.socket) >= sizeof(sa.sun_path)) {
        ctl_error("socket path '%s' is too long (%s)", ctl.socket, ctl.socket_origin);
        return -EXIT_USAGE;
    }
    strcpy(sa.sun_path, ctl.socket);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd >= 0 && connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
        return 0;
    err = errno;
    ctl_error("cannot connect to %s: %s", ctl.socket, strerror(err));
    fprintf(stderr, "  The socket is %s.\n", ctl.socket_origin);
    if (config_note)
        fprintf(stderr, "  Reading the daemon config: %s\n", config_note);
    if (err == ENOENT || err == ECONNREFUSED)
        fprintf(stderr, "  Is ophostd running? ");
    else if (err == EACCES)
        fprintf(stderr, "  The socket or its directory is not accessible to you. ");
    else
        fprintf(stderr, "  ");
    fprintf(stderr, "Choose another socket with --socket PATH or OPHOST_SOCKET=PATH\n"
                    "  (`make run` uses build/run/ophostd.sock), or --config FILE to read "
                    "control-socket from.\n");
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    return -EXIT_CONNECT;
}

void conn_close(struct conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    *c = (struct conn){ .fd = -1 };
}

/* "ophostctl: [NODE: ]message" on stderr. */
static void conn_error(const struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_error(const struct conn *c, const char *fmt, ...) {
    const char *saved = ctl_node;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctl_node = c->name;
    ctl_error("%s", msg);
    ctl_node = saved;
}

int conn_send(struct conn *c, const char *method, json_object *params, bool more) {
    json_object *msg = json_object_new_object();
    const char *s;
    size_t len, off = 0;

    json_object_object_add(msg, "method", json_object_new_string(method));
    json_object_object_add(msg, "parameters", params ? params : json_object_new_object());
    if (more)
        json_object_object_add(msg, "more", json_object_new_boolean(true));
    s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
    while (off <= len) { /* the NUL too */
        ssize_t n = send(c->fd, s + off, len + 1 - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR && !ctl_interrupted)
                continue;
            if (c->lost)
                c->lost(c, errno, c->userdata);
            else
                ctl_error("cannot send to %s: %s", ctl.socket, strerror(errno));
            json_object_put(msg);
            return -EXIT_CONNECT;
        }
        off += (size_t) n;
    }
    json_object_put(msg);
    c->in_call = true;
    return 0;
}

int conn_take(struct conn *c, json_object **ret) {
    size_t from = c->scanned > c->start ? c->scanned : c->start;
    char *nul = c->len > from ? memchr(c->buf + from, '\0', c->len - from) : NULL;
    json_object *o;

    if (!nul) {
        c->scanned = c->len; /* a long reply is scanned once, not once per read */
        return 0;
    }
    o = json_tokener_parse(c->buf + c->start);
    c->start = c->scanned = (size_t) (nul - c->buf) + 1;
    /* Text the daemon sends is printed on a terminal: control characters
     * become '?'. An event is left as it is (JSON output keeps its exact
     * values; tables clean each cell). */
    if (!o || !json_object_is_type(o, json_type_object) ||
        (jget(o, "parameters") && !jobject(o, "parameters")) ||
        text_sanitize_json(o, "event") < 0) {
        json_object_put(o);
        conn_error(c, "the daemon sent a malformed reply");
        return -EXIT_ERROR;
    }
    c->n_replies++;
    c->in_call = jbool(o, "continues");
    *ret = o;
    return 1;
}

int conn_fill(struct conn *c) {
    ssize_t n;

    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->len - c->start);
        c->len -= c->start;
        c->scanned = c->scanned > c->start ? c->scanned - c->start : 0;
        c->start = 0;
    }
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        char *p;
        if (cap > REPLY_MAX) {
            conn_error(c, "reply larger than %u bytes", REPLY_MAX);
            return -EXIT_ERROR;
        }
        p = realloc(c->buf, cap);
        if (!p) {
            conn_error(c, "out of memory");
            return -EXIT_ERROR;
        }
        c->buf = p;
        c->cap = cap;
    }
    for (;;) {
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            if (ctl_interrupted)
                return CONN_INTERRUPTED;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return 0;
        break;
    }
    if (n <= 0) {
        int err = n < 0 ? errno : 0;
        if (c->lost)
            c->lost(c, err, c->userdata);
        else
            ctl_error("the daemon closed the connection%s%s", err ? ": " : "",
                      err ? strerror(err) : "");
        return -EXIT_CONNECT;
    }
    c->len += (size_t) n;
    return 0;
}

int conn_recv(struct conn *c, json_object **ret) {
    for (;;) {
        int r;
        /* A signal that came while we were not in recv() counts too. */
        if (ctl_interrupted)
            return CONN_INTERRUPTED;
        r = conn_take(c, ret);
        if (r != 0)
            return r > 0 ? 0 : r;
        {
            /* Wait for the daemon or a signal (its handler writes to
             * ctl_signal_fd), so that Ctrl-C is never missed between the
             * check above and the read. */
            struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN },
                                   { .fd = ctl_signal_fd, .events = POLLIN } };
            if (poll(p, ctl_signal_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) {
                ctl_error("cannot wait for the daemon: %s", strerror(errno));
                return -EXIT_ERROR;
            }
            if (ctl_interrupted)
                return CONN_INTERRUPTED;
            if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
        }
        r = conn_fill(c);
        if (r < 0)
            return r;
    }
}

int conn_print_error(json_object *reply) {
    const char *err = jget(reply, "error") ? jstr(reply, "error") : NULL;
    json_object *p = jget(reply, "parameters"), *lines;
    const char *name = jstr(p, "name");
    const char *short_name = err && strrchr(err, '.') ? strrchr(err, '.') + 1 : err;

    /* With several nodes the JSON on standard output is the answers'; the
     * errors are told on standard error, each with its node. */
    if (ctl.json && !ctl_node)
        print_json(reply);
    if (!err)
        err = "unknown error";
    if (strcmp(err, IFACE "NoSuchSession") == 0)
        ctl_error("no session named '%s'", name);
    else if (strcmp(err, IFACE "SessionNotRunning") == 0)
        ctl_error("session '%s' is not running (%s)", name, jstr(p, "state"));
    else if (strcmp(err, IFACE "SessionFailed") == 0)
        ctl_error("session '%s' failed: %s", name, jstr(p, "error"));
    else if (strcmp(err, IFACE "PermissionDenied") == 0)
        ctl_error("permission denied: %s", jstr(p, "reason"));
    else if (strcmp(err, IFACE "NoSuchPlugin") == 0)
        ctl_error("no quarantined plugin named '%s'", jstr(p, "plugin"));
    else if ((lines = jget(p, "errors")) && json_object_is_type(lines, json_type_array)) {
        ctl_error("%s:", strcmp(err, IFACE "InvalidPipeline") == 0 ? "invalid pipeline"
                         : strcmp(err, IFACE "ReloadFailed") == 0
                             ? "reload failed, the running configuration is kept"
                             : short_name);
        for (size_t i = 0; i < jlen(lines); i++)
            fprintf(stderr, "  %s\n", json_object_get_string(jidx(lines, i)));
    } else if (strcmp(err, "org.varlink.service.InvalidParameter") == 0) {
        if (jget(p, "reason"))
            ctl_error("invalid parameter '%s': %s", jstr(p, "parameter"), jstr(p, "reason"));
        else
            ctl_error("invalid parameter '%s'", jstr(p, "parameter"));
    } else if (strcmp(err, "org.varlink.service.MethodNotFound") == 0)
        ctl_error("the daemon does not know %s (an older ophostd?)", jstr(p, "method"));
    else
        ctl_error("%s %s", err, p ? json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN) : "");
    return EXIT_ERROR;
}

int conn_call(const char *method, json_object *params, json_object **ret,
              json_object **ret_error) {
    struct conn c;
    json_object *reply = NULL, *p;
    int r;

    r = conn_open(&c);
    if (r < 0) {
        json_object_put(params);
        return -r;
    }
    r = conn_send(&c, method, params, false);
    if (r >= 0)
        r = conn_recv(&c, &reply);
    conn_close(&c);
    if (r < 0)
        return r == CONN_INTERRUPTED ? EXIT_ERROR : -r;
    if (jget(reply, "error")) {
        if (ret_error) {
            *ret_error = reply;
            return EXIT_ERROR;
        }
        r = conn_print_error(reply);
        json_object_put(reply);
        return r;
    }
    p = json_object_get(jget(reply, "parameters"));
    json_object_put(reply);
    *ret = p ? p : json_object_new_object();
    return 0;
}

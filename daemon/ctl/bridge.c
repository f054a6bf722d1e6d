/*
 * bridge.c — `ophostctl bridge`: connects to the local control socket
 * (chosen as for every command: --socket, $OPHOST_SOCKET, control-socket of
 * the daemon config, the default) and relays bytes both ways between it and
 * standard input and output, for `ophostctl -H ssh://node` on another
 * machine: ssh runs it on the node (OpenSSH 9.2 cannot forward to a remote
 * unix socket with -W). It connects as the ssh user, so the daemon's own
 * access checks (root or control-group) apply as they would locally.
 *
 * End of standard input shuts down the socket's sending side and the relay
 * goes on until the daemon closes (its replies to what was sent still come
 * back); the daemon closing ends the bridge with 0. Standard output gone
 * (the client and its ssh are) ends it too: closing the socket ends what the
 * client had running, as Ctrl-C does locally. A socket that cannot be
 * reached is explained on standard error, exit status 3.
 */
#include "bridge.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "ctl.h"
#include "nodes.h"

#define CHUNK 65536

/* Writes all of buf to fd (a socket or not), waiting when it is full.
 * 0, or -errno. */
static int write_all(int fd, const char *buf, size_t len, bool sock) {
    while (len > 0) {
        ssize_t n = sock ? send(fd, buf, len, MSG_NOSIGNAL) : write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR && !ctl_interrupted)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                (void) poll(&p, 1, -1);
                continue;
            }
            return -errno;
        }
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

int cmd_bridge(int argc, char **argv) {
    static char buf[CHUNK];
    bool in_open = true;
    struct conn c;
    int r;

    (void) argv;
    if (argc != 1)
        return ctl_usage_error("bridge", "%s", "too many arguments");
    if (nodes_active())
        return ctl_usage_error("bridge", "%s", "bridge relays this machine's daemon: no -H");
    r = conn_open(&c);
    if (r < 0)
        return -r;
    for (;;) {
        struct pollfd p[3] = {
            { .fd = c.fd, .events = POLLIN },
            { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
            { .fd = STDOUT_FILENO, .events = 0 }, /* only its errors: the reader gone */
        };
        ssize_t n;

        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR && !ctl_interrupted)
                continue;
            break;
        }
        if (ctl_interrupted || (p[2].revents & (POLLERR | POLLHUP | POLLNVAL)))
            break; /* nobody reads what the daemon says any more */
        if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
            n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n > 0 && write_all(c.fd, buf, (size_t) n, true) < 0) {
                ctl_error("cannot send to %s: %s", ctl.socket, strerror(errno));
                r = EXIT_CONNECT;
                break;
            }
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                /* No more requests: the daemon answers those it has, then
                 * closes. */
                in_open = false;
                shutdown(c.fd, SHUT_WR);
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0) {
                ctl_error("cannot read from %s: %s", ctl.socket, strerror(errno));
                r = EXIT_CONNECT;
                break;
            }
            if (n == 0)
                break; /* the daemon closed: done */
            if (write_all(STDOUT_FILENO, buf, (size_t) n, false) < 0)
                break; /* the reader is gone */
        }
    }
    conn_close(&c);
    return r < 0 ? 0 : r;
}

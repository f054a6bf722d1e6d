/*
 * conn.h — ophostctl's connection to ophostd: which socket (--socket, then
 * $OPHOST_SOCKET, then control-socket in the daemon config, then the
 * built-in default), connecting with an explanation when it fails, varlink
 * messages (NUL-terminated JSON) and error replies for people.
 */
#ifndef OPHOST_CTL_CONN_H
#define OPHOST_CTL_CONN_H

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct conn {
    int fd;
    char *buf;
    size_t len, cap, start;
    size_t scanned;       /* buf[start..scanned) holds no NUL: memchr goes on from there */
    const char *name;     /* a node's name in messages; NULL: the local socket */
    bool in_call;         /* a call went out and its last reply is not in */
    unsigned long n_replies;
    /* NULL, or what reports that the peer went away (err: an errno, or 0
     * for end of file) instead of "the daemon closed the connection": a
     * node's ssh has more to say. */
    void (*lost)(struct conn *c, int err, void *userdata);
    void *userdata;
};

/* Chooses ctl.socket when neither --socket nor $OPHOST_SOCKET gave one: the
 * daemon config's control-socket (ctl.config, default
 * OPHOST_DEFAULT_CONFIG_FILE), else the default. Sets ctl.socket_origin. */
void conn_choose_socket(void);

/* Connects to ctl.socket. 0, or -EXIT_CONNECT / -EXIT_USAGE after printing
 * why (how the socket was chosen and how to choose another). */
int conn_open(struct conn *c);
void conn_close(struct conn *c);
/* Sends a call; takes params (NULL = {}). 0 or -EXIT_CONNECT. */
int conn_send(struct conn *c, const char *method, json_object *params, bool more);
/* What conn_recv and conn_fill return when Ctrl-C (SIGINT, SIGTERM) came:
 * not an -EXIT_* (EXIT_ERROR is 1). */
#define CONN_INTERRUPTED (-EINTR)

/* The next reply into *ret: 0, CONN_INTERRUPTED, or -EXIT_* after printing
 * why. Blocks until it comes. */
int conn_recv(struct conn *c, json_object **ret);
/* A reply already read, without blocking: 1 with it in *ret, 0 when no
 * whole one is in yet, -EXIT_ERROR after printing that it is malformed. */
int conn_take(struct conn *c, json_object **ret);
/* Reads what is there (once; for when poll() says the fd is readable):
 * 0, CONN_INTERRUPTED, or -EXIT_* after reporting the peer gone or a reply
 * too large. */
int conn_fill(struct conn *c);

/* One call and its reply: 0 with the reply's parameters in *ret (caller
 * puts), EXIT_ERROR after printing an error reply (or with it in
 * *ret_error when that is non-NULL: the caller explains it), or another
 * exit status. Takes params. */
int conn_call(const char *method, json_object *params, json_object **ret,
              json_object **ret_error);

/* Prints an error reply for a person (and as JSON with --json); returns
 * EXIT_ERROR. */
int conn_print_error(json_object *reply);

#endif

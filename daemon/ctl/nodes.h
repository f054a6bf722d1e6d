/*
 * nodes.h — one ophostctl for many nodes (-H ssh://[user@]host[:port]):
 * the node list (options, a hosts file, $OPHOST_HOSTS), one OpenSSH
 * process per node running `ophostctl bridge` there with a socketpair as
 * its standard input and output, and the same call made on every node.
 *
 * Each node keeps one connection for the whole command (ssh's handshake is
 * the slow part): a command's calls all go over it, one after the other,
 * as varlink allows. A node that cannot be reached, or whose connection is
 * lost, is reported once ("ophostctl: NODE: cannot reach the daemon: WHY",
 * WHY being ssh's or the remote ophostctl's own last word) and the others
 * go on. Nothing here blocks without a bound except waiting for replies,
 * which Ctrl-C ends.
 */
#ifndef OPHOST_CTL_NODES_H
#define OPHOST_CTL_NODES_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conn.h"

struct node {
    char *url;   /* as given */
    char *name;  /* the NODE column: the URL's [user@]host[:port], as given */
    char *user;  /* NULL: ssh's default */
    char *host;  /* without the brackets of an IPv6 address */
    char *port;  /* NULL: ssh's default */
    struct conn conn;
    pid_t ssh;        /* the ssh process, 0 when none */
    int ssh_stderr;   /* a memfd holding ssh's standard error, or -1 */
    bool live;        /* conn can carry calls */
    int status;       /* 0, EXIT_ERROR (an error reply, a lost stream) or
                         EXIT_CONNECT (never reached); sticky */
};

extern struct node *nodes;
extern size_t n_nodes;

/* Whether -H (or a hosts file, or $OPHOST_HOSTS) named nodes. */
static inline bool nodes_active(void) {
    return n_nodes > 0;
}

/* Adds the node of url; where ("-H", "FILE:LINE", "$OPHOST_HOSTS") names
 * the source in errors. 0, or EXIT_USAGE after printing why. */
int nodes_add(const char *url, const char *where);
/* Adds the nodes of a hosts file: one URL a line; blank lines and lines
 * starting with '#' are ignored. 0 or EXIT_USAGE after printing why. */
int nodes_add_file(const char *path);
/* Adds the nodes of $OPHOST_HOSTS (URLs separated by commas or blanks),
 * if it is set. 0 or EXIT_USAGE. */
int nodes_add_env(void);

/* Starts ssh for every node that has none yet, all at once. Never fails
 * as a whole: a node whose ssh cannot start is reported and not live. */
void nodes_connect(void);

/*
 * Makes one call on every live node: all the calls go out, then the replies
 * are read. Takes params. Returns the answers in *ret (caller puts) as an
 * array of {"node": NAME, "parameters": {...}} in node order, only the
 * nodes that answered without an error; error replies and unreachable
 * nodes are printed with the node's name. Returns nodes_status(), or -1 on
 * Ctrl-C (with *ret set all the same).
 */
int nodes_call(const char *method, json_object *params, json_object **ret);

/* The exit status of the command so far: EXIT_CONNECT when no node was
 * reached, EXIT_ERROR when some node failed, else 0. */
int nodes_status(void);

/* A new object: "node": name first, then o's members (shared). Takes o. */
json_object *nodes_tag(json_object *o, const char *name);

/* Ends every node's connection and ssh: an idle one is closed and given 2 s
 * to end by itself (the remote bridge sees end of input, the daemon closes,
 * ssh exits); one with a call open (a stream) is ended at once with
 * SIGTERM to its ssh, which ends the remote bridge and with it the remote
 * session. Every ssh is reaped (SIGKILL after 3 s). Frees the list. */
void nodes_free(void);

#endif

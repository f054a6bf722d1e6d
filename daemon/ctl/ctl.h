/*
 * ctl.h — what the modules of ophostctl share: exit statuses, the global
 * options, small json-c accessors and the terminal (colour only on a TTY
 * and never with NO_COLOR).
 *
 * The modules: main.c (options, commands, help, did-you-mean), conn.c (which
 * socket, connecting, varlink calls and error replies), commands.c (list,
 * describe, start, stop, stats, reload, unquarantine), run.c (run and watch:
 * flags, the plan sent to the daemon, gadget help), render.c (events as
 * columns, JSON or YAML), nodes.c (-H: many nodes through ssh), bridge.c
 * (what ssh runs on a node: the local socket relayed to standard I/O),
 * text.c (the daemon's text on a terminal: widths, cutting, no control
 * characters).
 */
#ifndef OPHOST_CTL_CTL_H
#define OPHOST_CTL_CTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifndef OPHOST_VERSION
#define OPHOST_VERSION "unknown"
#endif

#define IFACE "org.ophost.Manager."
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

/* The options every command shares. */
struct ctl_options {
    const char *socket;        /* the control socket */
    const char *socket_origin; /* how it was chosen, for error messages */
    const char *config;        /* the daemon config read for control-socket */
    bool json;                 /* --json: replies as JSON */
};

extern struct ctl_options ctl;
/* The node (-H) what is printed now is about, or NULL: ctl_error's
 * messages then read "ophostctl: NODE: ...". */
extern const char *ctl_node;
/* Set by SIGINT/SIGTERM: streams end, the client exits 0. The handler
 * also writes a byte to ctl_signal_fd (the read end of a pipe, -1 if
 * none), so a poll() for the daemon wakes up. */
extern volatile int ctl_interrupted;
extern int ctl_signal_fd;

/* A member as text, "" when absent (never NULL). */
const char *jstr(json_object *o, const char *key);
/* A member, or NULL. */
json_object *jget(json_object *o, const char *key);
/* A member that is an object, or NULL (a daemon's reply is read as it
 * comes: a member of another type is as good as none). */
json_object *jobject(json_object *o, const char *key);
/* The length of a, 0 when a is NULL or not an array; its element i, NULL
 * when there is none. */
size_t jlen(json_object *a);
json_object *jidx(json_object *a, size_t i);
uint64_t ju64(json_object *o, const char *key);
bool jbool(json_object *o, const char *key);
/* Prints o as pretty JSON with a newline. */
void print_json(json_object *o);

/* Whether standard output is a terminal; whether colour may be used on
 * stream f (a terminal, and NO_COLOR unset or empty). */
bool ctl_stdout_tty(void);
bool ctl_colour(FILE *f);
/* The terminal's width and height (80x24 when unknown). */
void ctl_terminal_size(unsigned *ret_cols, unsigned *ret_rows);

/* "ophostctl: " (and "NODE: " while ctl_node is set) + the message on
 * stderr (red prefix with colour). */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message and "Try 'ophostctl CMD --help'."; returns
 * EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* nodes.c — many nodes through OpenSSH (see nodes.h). */
#include "nodes.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "util.h"

#define SSH_STDERR_MAX 65536
#define GRACE_MSEC 2000
#define TERM_MSEC 1000

struct node *nodes;
size_t n_nodes;

/* ------------------------------------------------------------ the list */

/* Parses ssh://[user@]host[:port] (host may be [IPv6]) into n. 0, or
 * -EINVAL with *ret_why pointing at a static reason. */
static int parse_url(const char *url, struct node *n, const char **ret_why) {
    const char *auth, *at, *host, *host_end, *port = NULL;
    size_t len;

    if (strncmp(url, "ssh://", 6) != 0) {
        *ret_why = strstr(url, "://") ? "only ssh:// URLs are supported"
                                      : "expected ssh://[USER@]HOST[:PORT]";
        return -EINVAL;
    }
    auth = url + 6;
    len = strlen(auth);
    if (len > 0 && auth[len - 1] == '/')
        len--; /* ssh://host/ */
    if (len == 0) {
        *ret_why = "no host";
        return -EINVAL;
    }
    if (memchr(auth, '/', len) || memchr(auth, '?', len) || memchr(auth, '#', len)) {
        *ret_why = "a path, query or fragment is not supported: the node's daemon is the one "
                   "its own config names";
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char) auth[i]) || iscntrl((unsigned char) auth[i])) {
            *ret_why = "blanks or control characters in the URL";
            return -EINVAL;
        }
    at = memchr(auth, '@', len);
    if (at && memchr(at + 1, '@', len - (size_t) (at + 1 - auth))) {
        *ret_why = "more than one '@'";
        return -EINVAL;
    }
    host = at ? at + 1 : auth;
    if (at && (at == auth || auth[0] == '-' || memchr(auth, ':', (size_t) (at - auth)))) {
        *ret_why = at == auth ? "an empty user name" : "not a user name before '@'";
        return -EINVAL;
    }
    if (host[0] == '[') {
        host_end = memchr(host, ']', len - (size_t) (host - auth));
        if (!host_end || host_end == host + 1) {
            *ret_why = "an IPv6 address needs its closing ']'";
            return -EINVAL;
        }
        if (host_end + 1 < auth + len && host_end[1] != ':') {
            *ret_why = "only :PORT may follow ']'";
            return -EINVAL;
        }
        port = host_end + 1 < auth + len ? host_end + 2 : NULL;
        host++;
    } else {
        host_end = memchr(host, ':', len - (size_t) (host - auth));
        if (host_end)
            port = host_end + 1;
        else
            host_end = auth + len;
    }
    if (host_end == host) {
        *ret_why = "no host";
        return -EINVAL;
    }
    if (host[0] == '-') {
        *ret_why = "a host name cannot start with '-'";
        return -EINVAL;
    }
    if (port) {
        size_t plen = (size_t) (auth + len - port);
        unsigned long v = 0;
        if (plen == 0 || plen > 5) {
            *ret_why = plen ? "the port is not a number from 1 to 65535" : "an empty port";
            return -EINVAL;
        }
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char) port[i])) {
                *ret_why = "the port is not a number from 1 to 65535";
                return -EINVAL;
            }
            v = v * 10 + (unsigned long) (port[i] - '0');
        }
        if (v < 1 || v > 65535) {
            *ret_why = "the port is not a number from 1 to 65535";
            return -EINVAL;
        }
        n->port = strndup(port, plen);
    }
    n->url = strdup(url);
    n->name = strndup(auth, len);
    n->user = at ? strndup(auth, (size_t) (at - auth)) : NULL;
    n->host = strndup(host, (size_t) (host_end - host));
    return 0;
}

static void node_clear(struct node *n) {
    free(n->url);
    free(n->name);
    free(n->user);
    free(n->host);
    free(n->port);
}

int nodes_add(const char *url, const char *where) {
    struct node n = { .ssh_stderr = -1, .conn = { .fd = -1 } }, *v;
    const char *why = NULL;

    if (parse_url(url, &n, &why) < 0) {
        node_clear(&n);
        ctl_error("%s '%s': %s", where, url, why);
        fprintf(stderr, "  A node is ssh://[USER@]HOST[:PORT], e.g. ssh://admin@node1 or "
                        "ssh://[fd00::1]:2222.\n");
        return EXIT_USAGE;
    }
    if (!n.url || !n.name || !n.host) {
        node_clear(&n);
        ctl_error("out of memory");
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < n_nodes; i++)
        if (strcmp(nodes[i].name, n.name) == 0) {
            ctl_error("%s '%s': node %s is named twice", where, url, n.name);
            node_clear(&n);
            return EXIT_USAGE;
        }
    v = realloc(nodes, (n_nodes + 1) * sizeof(*nodes));
    if (!v) {
        node_clear(&n);
        ctl_error("out of memory");
        return EXIT_ERROR;
    }
    nodes = v;
    nodes[n_nodes++] = n;
    return 0;
}

int nodes_add_file(const char *path) {
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int r = 0;

    if (!f) {
        ctl_error("--hosts-file %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    while (r == 0 && getline(&line, &cap, f) >= 0) {
        char *s = line, *e, where[PATH_MAX + 32];
        lineno++;
        while (isspace((unsigned char) *s))
            s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
            *--e = '\0';
        if (!s[0] || s[0] == '#')
            continue;
        snprintf(where, sizeof(where), "%s:%u:", path, lineno);
        r = nodes_add(s, where);
    }
    if (r == 0 && ferror(f)) {
        ctl_error("--hosts-file %s: %s", path, strerror(errno));
        r = EXIT_USAGE;
    }
    free(line);
    fclose(f);
    return r;
}

int nodes_add_env(void) {
    const char *env = getenv("OPHOST_HOSTS");
    char *copy, *save = NULL;
    int r = 0;

    if (!env || !env[0])
        return 0;
    copy = strdup(env);
    if (!copy)
        return EXIT_ERROR;
    for (char *t = strtok_r(copy, ", \t\n", &save); t && r == 0; t = strtok_r(NULL, ", \t\n", &save))
        r = nodes_add(t, "$OPHOST_HOSTS");
    free(copy);
    return r;
}

/* ---------------------------------------------------------------- ssh */

static void sleep_msec(unsigned ms) {
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Reaps n's ssh if it ended within msec: true when it is gone. */
static bool reap(struct node *n, unsigned msec, int *ret_wstatus) {
    for (unsigned waited = 0;; waited += 10) {
        int ws;
        pid_t p = waitpid(n->ssh, &ws, WNOHANG);
        if (p == n->ssh || (p < 0 && errno == ECHILD)) {
            if (ret_wstatus)
                *ret_wstatus = p == n->ssh ? ws : -1;
            n->ssh = 0;
            return true;
        }
        if (waited >= msec)
            return false;
        sleep_msec(10);
    }
}

/* What ssh wrote on standard error (at most SSH_STDERR_MAX), malloc'ed. */
static char *ssh_stderr_text(const struct node *n) {
    off_t size = n->ssh_stderr >= 0 ? lseek(n->ssh_stderr, 0, SEEK_END) : -1;
    off_t from = size > SSH_STDERR_MAX ? size - SSH_STDERR_MAX : 0;
    char *text;
    ssize_t got;

    if (size < 0)
        return NULL;
    text = malloc((size_t) (size - from) + 1);
    if (!text)
        return NULL;
    got = pread(n->ssh_stderr, text, (size_t) (size - from), from);
    text[got > 0 ? got : 0] = '\0';
    return text;
}

/* Prints why the node went away: the remote ophostctl's own error (the
 * bridge's "ophostctl: cannot connect to ..." and its explanation), else
 * ssh's last line, else how ssh ended. */
static void report_lost(struct node *n, int err, int wstatus) {
    char *text = ssh_stderr_text(n), **lines = NULL, *save = NULL, why[160];
    const char *what = n->conn.n_replies ? "lost the connection to the daemon"
                                         : "cannot reach the daemon";
    size_t own = SIZE_MAX, last = SIZE_MAX, k = 0;

    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(l);
        while (len > 0 && (l[len - 1] == '\r' || l[len - 1] == ' '))
            l[--len] = '\0';
        if (len > 0 && strv_extend(&lines, l) < 0)
            break;
    }
    for (k = 0; lines && lines[k]; k++) {
        if (own == SIZE_MAX && strncmp(lines[k], "ophostctl: ", 11) == 0)
            own = k;
        last = k;
    }
    if (wstatus >= 0 && WIFSIGNALED(wstatus))
        snprintf(why, sizeof(why), "ssh was killed by signal %d", WTERMSIG(wstatus));
    else if (wstatus >= 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        snprintf(why, sizeof(why), "the daemon closed the connection");
    else if (wstatus >= 0 && WIFEXITED(wstatus))
        snprintf(why, sizeof(why), "ssh exited with status %d", WEXITSTATUS(wstatus));
    else
        snprintf(why, sizeof(why), "%s", err ? strerror(err) : "the connection closed");
    ctl_node = n->name;
    if (own != SIZE_MAX) {
        ctl_error("%s: %s", what, lines[own] + 11);
        /* The explanation under it, as the remote ophostctl printed it. */
        for (k = own + 1; lines[k] && lines[k][0] == ' '; k++)
            fprintf(stderr, "%s\n", lines[k]);
    } else
        ctl_error("%s: %s", what, last != SIZE_MAX ? lines[last] : why);
    ctl_node = NULL;
    strv_free(lines);
    free(text);
}

/* The conn's lost callback: reaps ssh (it is ending: it closed its end)
 * and reports the node with the reason. */
static void node_lost(struct conn *c, int err, void *userdata) {
    struct node *n = userdata;
    int wstatus = -1;

    (void) c;
    if (!n->live)
        return;
    n->live = false;
    n->status = n->conn.n_replies ? EXIT_ERROR : EXIT_CONNECT;
    if (n->ssh > 0 && !reap(n, GRACE_MSEC, &wstatus)) {
        kill(n->ssh, SIGTERM);
        if (!reap(n, TERM_MSEC, &wstatus)) {
            kill(n->ssh, SIGKILL);
            reap(n, UINT_MAX, &wstatus);
        }
    }
    report_lost(n, err, wstatus);
}

/* The words of $OPHOST_SSH (split at blanks, like GIT_SSH_COMMAND without
 * quoting), else "ssh"; then the options, the host and the remote command. */
static char **ssh_argv(const struct node *n) {
    const char *env = getenv("OPHOST_SSH"), *remote = getenv("OPHOST_REMOTE_CTL");
    char **argv = NULL, *copy = strdup(env && env[0] ? env : "ssh"), *save = NULL;
    char *cmd;
    bool any = false;

    if (!copy)
        return NULL;
    for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
        any = true;
        if (strv_extend(&argv, t) < 0)
            goto fail;
    }
    if (!any && strv_extend(&argv, "ssh") < 0)
        goto fail;
    if (n->port && (strv_extend(&argv, "-p") < 0 || strv_extend(&argv, n->port) < 0))
        goto fail;
    if (n->user && (strv_extend(&argv, "-l") < 0 || strv_extend(&argv, n->user) < 0))
        goto fail;
    /* No password prompt nor tty: a node that wants one is unreachable. An
     * -o in $OPHOST_SSH comes first and so wins (ssh takes the first). */
    cmd = strprintf("%s bridge", remote && remote[0] ? remote : "ophostctl");
    if (!cmd || strv_extend(&argv, "-o") < 0 || strv_extend(&argv, "BatchMode=yes") < 0 ||
        strv_extend(&argv, "-o") < 0 || strv_extend(&argv, "ConnectTimeout=10") < 0 ||
        strv_extend(&argv, "-T") < 0 || strv_extend(&argv, "-e") < 0 ||
        strv_extend(&argv, "none") < 0 || strv_extend(&argv, "--") < 0 ||
        strv_extend(&argv, n->host) < 0 || strv_consume(&argv, cmd) < 0)
        goto fail;
    free(copy);
    return argv;
fail:
    free(copy);
    return strv_free(argv);
}

/* Starts n's ssh with one end of a socketpair as its standard input and
 * output and a memfd as its standard error, in a process group of its own
 * (Ctrl-C is ophostctl's to handle: it ends the remote sessions first). */
static int node_spawn(struct node *n) {
    char **argv = ssh_argv(n);
    int sv[2] = { -1, -1 }, err_fd;
    pid_t pid;

    if (!argv)
        return -ENOMEM;
    err_fd = memfd_create("ophostctl-ssh-stderr", MFD_CLOEXEC);
    if (err_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = errno;
        if (err_fd >= 0)
            close(err_fd);
        strv_free(argv);
        return -e;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        close(err_fd);
        strv_free(argv);
        return -e;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        setpgid(0, 0);
        if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0 ||
            dup2(err_fd, STDERR_FILENO) < 0)
            _exit(127);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    strv_free(argv);
    n->ssh = pid;
    n->ssh_stderr = err_fd;
    n->conn = (struct conn){ .fd = sv[0], .name = n->name, .lost = node_lost, .userdata = n };
    n->live = true;
    return 0;
}

void nodes_connect(void) {
    for (size_t i = 0; i < n_nodes; i++) {
        struct node *n = &nodes[i];
        int r;
        if (n->ssh > 0 || n->live || n->status)
            continue;
        r = node_spawn(n);
        if (r < 0) {
            n->status = EXIT_CONNECT;
            ctl_node = n->name;
            ctl_error("cannot reach the daemon: cannot start ssh: %s", strerror(-r));
            ctl_node = NULL;
        }
    }
}

/* -------------------------------------------------------------- calls */

json_object *nodes_tag(json_object *o, const char *name) {
    json_object *t = json_object_new_object();
    json_object_object_add(t, "node", json_object_new_string(name));
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return t;
    }
    json_object_object_foreach(o, key, val) {
        if (strcmp(key, "node") != 0)
            json_object_object_add(t, key, json_object_get(val));
    }
    json_object_put(o);
    return t;
}

int nodes_call(const char *method, json_object *params, json_object **ret) {
    json_object *out = json_object_new_array();
    bool sent[n_nodes ? n_nodes : 1];
    int r = 0;

    nodes_connect();
    for (size_t i = 0; i < n_nodes; i++) {
        struct node *n = &nodes[i];
        sent[i] = n->live && conn_send(&n->conn, method, json_object_get(params), false) == 0;
    }
    json_object_put(params);
    for (size_t i = 0; i < n_nodes && r == 0; i++) {
        struct node *n = &nodes[i];
        json_object *reply = NULL, *entry, *p;
        if (!sent[i] || !n->live)
            continue;
        r = conn_recv(&n->conn, &reply);
        if (r == CONN_INTERRUPTED)
            break;
        if (r < 0) {
            /* Reported; a reply that could not be read leaves the
             * connection out of step: the node is done, the others go on. */
            n->live = false;
            if (n->status == 0)
                n->status = r == -EXIT_CONNECT && !n->conn.n_replies ? EXIT_CONNECT : EXIT_ERROR;
            r = 0;
            continue;
        }
        if (jget(reply, "error")) {
            ctl_node = n->name;
            conn_print_error(reply);
            ctl_node = NULL;
            n->status = EXIT_ERROR;
            json_object_put(reply);
            continue;
        }
        entry = json_object_new_object();
        json_object_object_add(entry, "node", json_object_new_string(n->name));
        p = json_object_get(jget(reply, "parameters"));
        json_object_object_add(entry, "parameters", p ? p : json_object_new_object());
        json_object_array_add(out, entry);
        json_object_put(reply);
    }
    *ret = out;
    return r == CONN_INTERRUPTED ? -1 : nodes_status();
}

int nodes_status(void) {
    bool any_failed = false, any_reached = false;

    for (size_t i = 0; i < n_nodes; i++) {
        if (nodes[i].status != EXIT_CONNECT)
            any_reached = true;
        if (nodes[i].status)
            any_failed = true;
    }
    if (n_nodes && !any_reached)
        return EXIT_CONNECT;
    return any_failed ? EXIT_ERROR : 0;
}

/* ---------------------------------------------------------- the end */

/* Reaps the ssh processes that end within msec; true when none is left. */
static bool reap_all(unsigned msec) {
    for (unsigned waited = 0;; waited += 10) {
        bool left = false;
        for (size_t i = 0; i < n_nodes; i++)
            if (nodes[i].ssh > 0 && !reap(&nodes[i], 0, NULL))
                left = true;
        if (!left)
            return true;
        if (waited >= msec)
            return false;
        sleep_msec(10);
    }
}

/* Sends sig to every ssh still running. */
static void signal_all(int sig) {
    for (size_t i = 0; i < n_nodes; i++)
        if (nodes[i].ssh > 0)
            kill(nodes[i].ssh, sig);
}

void nodes_free(void) {
    /* Every node hears the end at once, then they are waited for together. */
    for (size_t i = 0; i < n_nodes; i++) {
        struct node *n = &nodes[i];
        bool streaming = n->live && n->conn.in_call;
        if (n->conn.fd >= 0) {
            n->live = false;
            conn_close(&n->conn);
        }
        if (n->ssh > 0 && streaming)
            kill(n->ssh, SIGTERM);
    }
    if (!reap_all(GRACE_MSEC)) {
        signal_all(SIGTERM);
        if (!reap_all(TERM_MSEC)) {
            signal_all(SIGKILL);
            reap_all(UINT_MAX);
        }
    }
    for (size_t i = 0; i < n_nodes; i++) {
        if (nodes[i].ssh_stderr >= 0)
            close(nodes[i].ssh_stderr);
        node_clear(&nodes[i]);
    }
    free(nodes);
    nodes = NULL;
    n_nodes = 0;
}

/*
 * main.c — ophostctl, the command-line client of ophostd's control socket
 * (org.ophost.Manager over varlink): global options, the commands and their
 * help, "did you mean" for a mistyped command, --version (the client's and
 * the daemon's), and the helpers of ctl.h. Exit status: 0 success, 1 the
 * daemon answered with an error (or a session failed), 2 usage error, 3
 * the daemon cannot be reached. With -H (many nodes): 0 every node
 * answered, 3 none could be reached, 1 any other failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bridge.h"
#include "commands.h"
#include "config.h"
#include "conn.h"
#include "ctl.h"
#include "hint.h"
#include "nodes.h"
#include "run.h"
#include "utf8.h"

struct ctl_options ctl;
const char *ctl_node;
volatile int ctl_interrupted;
int ctl_signal_fd = -1;
static int signal_write_fd = -1;

/* ------------------------------------------------------------- helpers */

const char *jstr(json_object *o, const char *key) {
    json_object *v;
    const char *s;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return "";
    s = json_object_get_string(v);
    return s ? s : "";
}

json_object *jget(json_object *o, const char *key) {
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

json_object *jobject(json_object *o, const char *key) {
    json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

size_t jlen(json_object *a) {
    return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

json_object *jidx(json_object *a, size_t i) {
    return i < jlen(a) ? json_object_array_get_idx(a, i) : NULL;
}

uint64_t ju64(json_object *o, const char *key) {
    json_object *v = jget(o, key);
    return v ? json_object_get_uint64(v) : 0;
}

bool jbool(json_object *o, const char *key) {
    json_object *v = jget(o, key);
    return v && json_object_get_boolean(v);
}

void print_json(json_object *o) {
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
}

bool ctl_stdout_tty(void) {
    return isatty(STDOUT_FILENO);
}

bool ctl_colour(FILE *f) {
    const char *no = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    return isatty(fileno(f)) && !(no && no[0]) && !(term && strcmp(term, "dumb") == 0);
}

void ctl_terminal_size(unsigned *ret_cols, unsigned *ret_rows) {
    struct winsize ws;
    *ret_cols = 80;
    *ret_rows = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *ret_cols = ws.ws_col;
        *ret_rows = ws.ws_row;
    }
}

/* "ophostctl: " (red with colour), "NODE: " when about a node, the text. */
/* The text may quote the daemon or a node: its control characters are
 * made harmless. */
__attribute__((format(printf, 2, 0)))
static void error_line(const char *node, const char *fmt, va_list ap) {
    bool colour = ctl_colour(stderr);
    char *msg = NULL;
    fprintf(stderr, "%sophostctl:%s ", colour ? "\033[1;31m" : "", colour ? "\033[0m" : "");
    if (node)
        fprintf(stderr, "%s: ", node);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    if (msg)
        utf8_mask_controls(msg);
    fprintf(stderr, "%s\n", msg ? msg : fmt);
    free(msg);
}

void ctl_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_line(ctl_node, fmt, ap);
    va_end(ap);
}

int ctl_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_line(NULL, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'ophostctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

/* ---------------------------------------------------------------- help */

static const struct help {
    const char *cmd;
    const char *text;
} helps[] = {
    { "list",
      "Usage: ophostctl [--json] list plugins|operators|gadgets|sessions [-q]\n"
      "\n"
      "  plugins    every plugin file: loaded, quarantined (its code crashed or hung\n"
      "             3 times within 10 minutes) or refused, with the reason\n"
      "  operators  every operator with its kind, plugin, priority and params (defaults)\n"
      "  gadgets    the operators that are sources of events, with what they do\n"
      "             (ophostctl run GADGET --help: its params and fields)\n"
      "  sessions   configured and ad-hoc sessions: state, uptime, events in/out,\n"
      "             filtered (removed by operators on purpose), dropped (accepted but not\n"
      "             written, e.g. a full disk) and lost (the gadget could not deliver them)\n"
      "\n"
      "  -q, --quiet  names only, one per line\n" },
    { "describe",
      "Usage: ophostctl [--json] describe SESSION\n"
      "\n"
      "Shows a session's gadget, state, resolved operator order with each operator's\n"
      "params, and (while it runs) the fields of its data sources.\n" },
    { "start",
      "Usage: ophostctl start SESSION\n"
      "\n"
      "Starts a configured session now (needs root or the daemon's control-group).\n" },
    { "stop",
      "Usage: ophostctl stop SESSION\n"
      "\n"
      "Stops a configured or ad-hoc session (needs root or the daemon's control-group).\n" },
    { "stats",
      "Usage: ophostctl [--json] stats [SESSION]\n"
      "\n"
      "Per running session and operator: events in, out, filtered, dropped, batches\n"
      "and the time spent in the operator.\n" },
    { "reload",
      "Usage: ophostctl reload\n"
      "\n"
      "Re-reads the daemon config and pipeline files (like systemctl reload ophostd).\n"
      "Prints the errors and exits 1 if the new configuration is rejected; the running\n"
      "one is then kept.\n" },
    { "unquarantine",
      "Usage: ophostctl unquarantine PLUGIN\n"
      "\n"
      "Lets sessions use a quarantined plugin again (its name, file name or path;\n"
      "replacing the file does the same). Needs root or the daemon's control-group.\n" },
    { "bridge",
      "Usage: ophostctl bridge\n"
      "\n"
      "Relays the control socket (--socket, $OPHOST_SOCKET, the daemon config's\n"
      "control-socket) to standard input and output. It is what ssh runs on a node\n"
      "for `ophostctl -H ssh://NODE ...`; it connects as the ssh user, so the\n"
      "daemon's access rules apply as for a local ophostctl.\n" },
};

static void usage(FILE *f) {
    fprintf(f,
            "Usage: ophostctl [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Inspect and drive ophostd through its control socket.\n"
            "\n"
            "Commands:\n"
            "  list plugins|operators|gadgets|sessions\n"
            "                                    what the daemon has loaded and runs\n"
            "  describe SESSION                  order, params and fields of a session\n"
            "  start SESSION | stop SESSION      start or stop a configured session\n"
            "  watch SESSION                     show a running session's events\n"
            "  run GADGET [--fields ...] [--filter EXPR]... [--sort KEYS] [--max-entries N]\n"
            "                                    run an ad-hoc session, show its events\n"
            "  run GADGET --help                 a gadget's params and fields\n"
            "  stats [SESSION]                   per-operator counters\n"
            "  reload                            re-read the configuration\n"
            "  unquarantine PLUGIN               let sessions use a quarantined plugin again\n"
            "  bridge                            relay the local socket to stdin/stdout\n"
            "                                    (what ssh runs on a node for -H)\n"
            "\n"
            "Options:\n"
            "  -s, --socket PATH  control socket (default: $OPHOST_SOCKET, else control-socket\n"
            "                     of the daemon config, else %s)\n"
            "  -c, --config FILE  the daemon config to read control-socket from\n"
            "                     (default %s)\n"
            "  -H, --host URL     a node's daemon through ssh: ssh://[USER@]HOST[:PORT]\n"
            "                     (repeatable; tables get a NODE column, events a node field)\n"
            "      --hosts-file FILE  nodes, one URL a line (# comments)\n"
            "  -j, --json         print JSON for scripts\n"
            "  -h, --help         this help; COMMAND --help for a command's help\n"
            "      --version      print the client's and the daemon's versions\n"
            "\n"
            "Exit status: 0 ok, 1 error reply or failed session, 2 usage, 3 cannot connect.\n"
            "With -H: 0 every node answered, 1 some failed, 3 none could be reached.\n"
            "See ophostctl(1).\n",
            OPHOST_DEFAULT_CONTROL_SOCKET, OPHOST_DEFAULT_CONFIG_FILE);
}

static int command_help(const char *cmd, FILE *f) {
    for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
        if (strcmp(helps[i].cmd, cmd) == 0) {
            fputs(helps[i].text, f);
            return 0;
        }
    usage(f);
    return 0;
}

/* The client's version, then the daemon's (GetInfo) if it answers; with
 * -H each node's. */
static int print_version(void) {
    json_object *p = NULL;
    int r;
    printf("ophostctl %s\n", OPHOST_VERSION);
    fflush(stdout);
    if (nodes_active()) {
        r = nodes_call("org.varlink.service.GetInfo", NULL, &p);
        for (size_t i = 0; i < jlen(p); i++) {
            json_object *e = jidx(p, i);
            printf("%s: ophostd %s\n", jstr(e, "node"), jstr(jget(e, "parameters"), "version"));
        }
        json_object_put(p);
        return r < 0 ? EXIT_ERROR : r;
    }
    conn_choose_socket();
    r = conn_call("org.varlink.service.GetInfo", NULL, &p, NULL);
    if (r == 0)
        printf("ophostd %s (%s)\n", jstr(p, "version"), ctl.socket);
    else
        printf("ophostd: unknown, not reachable (see above)\n");
    json_object_put(p);
    return r;
}

/* ---------------------------------------------------------------- main */

static void on_signal(int sig) {
    int saved = errno;
    ctl_interrupted = 1;
    if (signal_write_fd >= 0 && write(signal_write_fd, "", 1) < 0) {
        /* The pipe is full: a wake-up is pending anyway. */
    }
    errno = saved;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    bool own_options; /* parses its options itself (getopt) */
} commands[] = {
    { "list", cmd_list, false },       { "describe", cmd_describe, false },
    { "start", cmd_start_stop, false }, { "stop", cmd_start_stop, false },
    { "watch", cmd_watch, true },      { "run", cmd_run, true },
    { "stats", cmd_stats, false },      { "reload", cmd_reload, false },
    { "unquarantine", cmd_unquarantine, false }, { "bridge", cmd_bridge, false },
};

/* The nodes of --hosts-file, else $OPHOST_HOSTS (with env) when no -H
 * named any. */
static int add_nodes(const char *hosts_file, bool env) {
    int r = 0;
    if (hosts_file)
        r = nodes_add_file(hosts_file);
    if (r == 0 && !nodes_active() && !hosts_file && env)
        r = nodes_add_env();
    if (r == 0 && hosts_file && !nodes_active()) {
        ctl_error("--hosts-file %s names no node", hosts_file);
        r = EXIT_USAGE;
    }
    return r;
}

static int run_command(int argc, char **argv);

int main(int argc, char **argv) {
    int r = run_command(argc, argv);
    nodes_free();
    return r;
}

static int run_command(int argc, char **argv) {
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "config", required_argument, NULL, 'c' },
        { "host", required_argument, NULL, 'H' },
        { "hosts-file", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {},
    };
    struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: reads see EINTR */
    /* Only the character type: text widths follow the terminal's encoding,
     * numbers and messages stay as they are. */
    setlocale(LC_CTYPE, "");
    const char *names[sizeof(commands) / sizeof(commands[0]) + 1] = { 0 }, *hint;
    const char *hosts_file = NULL;
    bool version = false;
    int c, r;

    ctl.socket = getenv("OPHOST_SOCKET");
    if (ctl.socket && ctl.socket[0])
        ctl.socket_origin = "from $OPHOST_SOCKET";
    else
        ctl.socket = NULL;
    /* Global options come before the command ("+": stop at the first word). */
    while ((c = getopt_long(argc, argv, "+s:c:H:jh", opts, NULL)) >= 0) {
        switch (c) {
        case 'H':
            r = nodes_add(optarg, "-H");
            if (r)
                return r;
            break;
        case 'f':
            if (hosts_file)
                return ctl_usage_error(NULL, "%s", "--hosts-file is given twice");
            hosts_file = optarg;
            break;
        case 's':
            ctl.socket = optarg;
            ctl.socket_origin = "from --socket";
            break;
        case 'c':
            ctl.config = optarg;
            break;
        case 'j':
            ctl.json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            version = true;
            break;
        default:
            fprintf(stderr, "Try 'ophostctl --help'.\n");
            return EXIT_USAGE;
        }
    }
    {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
            ctl_signal_fd = p[0];
            signal_write_fd = p[1];
        }
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The bridge runs on a node: $OPHOST_HOSTS there is for other uses. */
    r = add_nodes(hosts_file, !(optind < argc && strcmp(argv[optind], "bridge") == 0));
    if (r)
        return r;
    if (version)
        return print_version();
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char **args = argv + optind;
        int n = argc - optind, k = 0;
        names[i] = commands[i].name;
        if (strcmp(args[0], commands[i].name) != 0)
            continue;
        if (commands[i].own_options)
            return commands[i].fn(n, args);
        /* The other commands take --help, --json and --socket anywhere. */
        for (int j = 0; j < n; j++) {
            if (strcmp(args[j], "--help") == 0 || strcmp(args[j], "-h") == 0)
                return command_help(args[0], stdout);
            if (strcmp(args[j], "--json") == 0 || strcmp(args[j], "-j") == 0)
                ctl.json = true;
            else if ((strcmp(args[j], "--socket") == 0 || strcmp(args[j], "-s") == 0) &&
                     j + 1 < n) {
                ctl.socket = args[++j];
                ctl.socket_origin = "from --socket";
            } else if (strcmp(args[j], "--socket") == 0 || strcmp(args[j], "-s") == 0) {
                return ctl_usage_error(args[0], "option '%s' needs a PATH", args[j]);
            } else if (strncmp(args[j], "--socket=", 9) == 0) {
                ctl.socket = args[j] + 9;
                ctl.socket_origin = "from --socket";
            } else if (args[j][0] == '-' && args[j][1] &&
                       !(strcmp(args[0], "list") == 0 &&
                         (strcmp(args[j], "-q") == 0 || strcmp(args[j], "--quiet") == 0)))
                return ctl_usage_error(args[0], "unknown option '%s'", args[j]);
            else
                args[k++] = args[j];
        }
        conn_choose_socket();
        return commands[i].fn(k, args);
    }
    hint = hint_closest(argv[optind], names);
    if (hint)
        return ctl_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", argv[optind],
                               hint);
    return ctl_usage_error(NULL, "unknown command '%s'", argv[optind]);
}

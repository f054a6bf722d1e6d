/*
 * main.c — ophostd's command line: run the daemon (default), --check the
 * configuration, --list-operators, or --check-plugin FILE. The supervisor
 * re-executes this binary as `ophostd --worker ...` for every process that
 * runs plugin code (worker/jobs.h); that is not for people to call.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <ophost/ophost.h>

#include "config.h"
#include "daemon.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

static void help(void) {
    printf("Usage: ophostd [OPTIONS]\n"
           "\n"
           "Hosts operator plugins and runs observability pipelines.\n"
           "\n"
           "  -c, --config FILE       daemon configuration (default %s)\n"
           "  -p, --plugin-dir DIR    plugin directory, repeatable (default from the config,\n"
           "                          then $OPHOST_PLUGIN_DIR, then %s)\n"
           "  -d, --pipeline-dir DIR  pipeline directory (default from the config)\n"
           "  -l, --log-level LEVEL   err, warning, notice, info or debug\n"
           "      --start SESSION     start this session at startup even if its autostart\n"
           "                          is false, repeatable (what `make run` does with demo)\n"
           "      --check             validate config and plugins, print each session's\n"
           "                          operator order, exit 0 if valid and 1 if not\n"
           "      --list-operators    list the operators of the plugins and refused plugins\n"
           "      --check-plugin FILE check one plugin file as ophostd running as this user\n"
           "                          would (owner and mode, no symlink, dlopen, entry\n"
           "                          symbol, ABI, descriptor, names, params), print its\n"
           "                          operators or why it is refused; exit 0 if loadable,\n"
           "                          1 if not. Warns (without failing) about a bad\n"
           "                          directory or file name, structs larger than this\n"
           "                          host's, symbols exported besides the entry, operator\n"
           "                          names a plugin in the plugin directories provides.\n"
           "                          Runs the plugin's entry function in a child\n"
           "      --strict            with --check-plugin: warnings fail too (exit 1)\n"
           "      --json              JSON output for --check, --list-operators and\n"
           "                          --check-plugin\n"
           "  -h, --help              this help\n"
           "      --version           the version\n",
           OPHOST_DEFAULT_CONFIG_FILE, OPHOST_DEFAULT_PLUGIN_DIR);
}

static int parse_level(const char *s) {
    for (int l = LOG_ERR; l <= LOG_DEBUG; l++)
        if (streq(s, log_level_name(l)))
            return l;
    return -1;
}

int main(int argc, char **argv) {
    enum {
        ARG_CHECK = 0x100,
        ARG_LIST,
        ARG_CHECK_PLUGIN,
        ARG_STRICT,
        ARG_JSON,
        ARG_VERSION,
        ARG_START
    };
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "plugin-dir", required_argument, NULL, 'p' },
        { "pipeline-dir", required_argument, NULL, 'd' },
        { "log-level", required_argument, NULL, 'l' },
        { "start", required_argument, NULL, ARG_START },
        { "check", no_argument, NULL, ARG_CHECK },
        { "list-operators", no_argument, NULL, ARG_LIST },
        /* The file is the one operand, so options go before or after it. */
        { "check-plugin", no_argument, NULL, ARG_CHECK_PLUGIN },
        { "strict", no_argument, NULL, ARG_STRICT },
        { "json", no_argument, NULL, ARG_JSON },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        {}
    };
    _cleanup_(strv_freep) char **plugin_dirs = NULL, **start = NULL;
    struct daemon_options opt = { .log_level = -1 };
    bool check = false, list = false, json = false, check_plugin = false, strict = false;
    const char *env;
    int c;

    if (argc >= 2 && streq(argv[1], "--worker"))
        return worker_main(argc, argv);
    log_open();
    while ((c = getopt_long(argc, argv, "c:p:d:l:h", options, NULL)) >= 0)
        switch (c) {
        case 'c':
            opt.config_path = optarg;
            opt.config_must_exist = true;
            break;
        case 'p':
            if (strv_extend(&plugin_dirs, optarg) < 0)
                return log_error("out of memory"), 1;
            break;
        case 'd':
            opt.pipeline_dir = optarg;
            break;
        case 'l':
            opt.log_level = parse_level(optarg);
            if (opt.log_level < 0) {
                log_error("--log-level: '%s' is not one of: err, warning, notice, info, debug",
                          optarg);
                return 1;
            }
            break;
        case ARG_START:
            if (strv_extend(&start, optarg) < 0)
                return log_error("out of memory"), 1;
            break;
        case ARG_CHECK:
            check = true;
            break;
        case ARG_LIST:
            list = true;
            break;
        case ARG_CHECK_PLUGIN:
            check_plugin = true;
            break;
        case ARG_STRICT:
            strict = true;
            break;
        case ARG_JSON:
            json = true;
            break;
        case 'h':
            help();
            return 0;
        case ARG_VERSION:
            printf("ophostd %s (plugin ABI %d.%d)\n", OPHOST_VERSION, OPHOST_ABI_MAJOR,
                   OPHOST_ABI_MINOR);
            return 0;
        default:
            return 1;
        }
    if (check + list + check_plugin > 1) {
        log_error("--check, --list-operators and --check-plugin exclude each other");
        return 1;
    }
    if (check_plugin && argc - optind != 1) {
        log_error("--check-plugin needs exactly one FILE, got %d (see --help)", argc - optind);
        return 1;
    }
    if (!check_plugin && optind < argc) {
        log_error("unexpected argument '%s' (see --help)", argv[optind]);
        return 1;
    }
    if (strict && !check_plugin) {
        log_error("--strict applies to --check-plugin only");
        return 1;
    }

    /* $OPHOST_PLUGIN_DIR (colon-separated) lets a build tree run uninstalled. */
    env = getenv("OPHOST_PLUGIN_DIR");
    if (!plugin_dirs && env && *env) {
        _cleanup_free_ char *copy = strdup(env);
        char *save = NULL;
        if (!copy)
            return 1;
        for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save))
            if (strv_extend(&plugin_dirs, t) < 0)
                return 1;
    }
    opt.plugin_dirs = plugin_dirs;
    opt.start = start;
    if (opt.log_level >= 0)
        log_set_max_level(opt.log_level);

    if (check_plugin)
        return daemon_check_plugin(&opt, argv[optind], json, strict);
    if (list)
        return daemon_list_operators(&opt, json);
    if (check)
        return daemon_check(&opt, json);
    return daemon_run(&opt);
}

/*
 * log.c — journal or stderr output for log.h. The journal is used when
 * $JOURNAL_STREAM names our stderr (systemd's documented way to tell that
 * stderr goes to the journal), so `ophostd` run by hand writes plain lines.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

static int max_level = LOG_INFO;
static bool use_journal;

void log_set_max_level(int level) {
    max_level = level;
}

int log_get_max_level(void) {
    return max_level;
}

void log_open(void) {
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long dev, ino;
    struct stat st;

    use_journal = false;
    if (!e || sscanf(e, "%lu:%lu", &dev, &ino) != 2)
        return;
    if (fstat(STDERR_FILENO, &st) < 0)
        return;
    use_journal = st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

const char *log_level_name(int level) {
    static const char *const names[] = {
        [LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
    };
    if (level < 0 || level >= (int) ELEMENTSOF(names))
        return NULL;
    return names[level];
}

static const char *level_prefix(int level) {
    switch (level) {
    case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_NOTICE:
        return "notice";
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

int log_fullv(int priority, int error, const struct log_context *ctx, const char *fmt,
              va_list ap) {
    char msg[2048];
    int saved = errno;

    if (error < 0)
        error = -error;
    if (priority > max_level)
        return -error;
    errno = error; /* so %m works */
    vsnprintf(msg, sizeof(msg), fmt, ap);

    if (use_journal) {
        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority,
                        "OPHOST_SESSION=%s", ctx && ctx->session ? ctx->session : "",
                        "OPHOST_OPERATOR=%s", ctx && ctx->operator_name ? ctx->operator_name : "",
                        "OPHOST_PLUGIN=%s", ctx && ctx->plugin ? ctx->plugin : "",
                        error ? "ERRNO=%d" : NULL, error, NULL);
    } else {
        char where[256] = "";
        if (ctx && (ctx->session || ctx->operator_name || ctx->plugin))
            snprintf(where, sizeof(where), "%s%s%s%s%s%s: ",
                     ctx->session ? "session " : "", ctx->session ? ctx->session : "",
                     ctx->session && ctx->operator_name ? ", " : "",
                     ctx->operator_name ? "operator " : "",
                     ctx->operator_name ? ctx->operator_name : "",
                     !ctx->session && !ctx->operator_name && ctx->plugin ? ctx->plugin : "");
        /* One write per line so lines of different threads never interleave. */
        fprintf(stderr, "%s: %s%s\n", level_prefix(priority), where, msg);
    }
    errno = saved;
    return -error;
}

int log_full(int priority, int error, const struct log_context *ctx, const char *fmt, ...) {
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = log_fullv(priority, error, ctx, fmt, ap);
    va_end(ap);
    return r;
}

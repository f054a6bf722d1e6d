/*
 * log.h — the daemon's logging. Under systemd (stderr connected to the
 * journal) each line becomes a structured journal entry with
 * OPHOST_SESSION=, OPHOST_OPERATOR= and OPHOST_PLUGIN= fields; otherwise a
 * plain stderr line "LEVEL: context: message". Thread-safe.
 */
#ifndef OPHOST_DAEMON_LOG_H
#define OPHOST_DAEMON_LOG_H

#include <stdarg.h>
#include <syslog.h>

#include "util.h"

struct log_context {
    const char *session;
    const char *operator_name;
    const char *plugin;
};

void log_set_max_level(int level);
int log_get_max_level(void);
/* Decides between journal and stderr; call once at startup. */
void log_open(void);

/* Logs one line at priority (LOG_ERR..LOG_DEBUG) with the context fields
 * that are set (ctx may be NULL). Returns -abs(error) if error != 0, else 0,
 * so callers can `return log_errorv(...)`. */
int log_fullv(int priority, int error, const struct log_context *ctx, const char *fmt,
              va_list ap) _printf_(4, 0);
int log_full(int priority, int error, const struct log_context *ctx, const char *fmt, ...)
    _printf_(4, 5);

#define log_error(...) log_full(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_error_errno(e, ...) log_full(LOG_ERR, (e), NULL, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, 0, NULL, __VA_ARGS__)

/* "err", "warning", ...; NULL for an unknown priority. */
const char *log_level_name(int level);

#endif

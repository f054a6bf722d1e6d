/*
 * log.h — the daemon's logging. Under systemd (stderr connected to the
 * journal) each line becomes a structured journal entry with
 * OPHOST_SESSION=, OPHOST_OPERATOR= and OPHOST_PLUGIN= fields; otherwise a
 * plain stderr line "LEVEL: context: message". Repeated messages are rate
 * limited (log_set_ratelimit). Thread-safe.
 */
#ifndef OPHOST_DAEMON_LOG_H
#define OPHOST_DAEMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "util.h"

struct log_context {
    const char *session;
    const char *operator_name;
    const char *plugin;
    bool unlimited; /* exempt from rate limiting: bounded lists such as config errors */
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

/* Rate limiting, so a message repeated in a loop cannot flood the journal.
 * Messages are grouped by format string and context (session, operator,
 * plugin): each group logs at most `burst` lines per `interval_usec`; later
 * lines are dropped and counted, and the group's first line after the
 * interval is preceded by "suppressed N messages like \"FORMAT\"". The
 * default is 10 lines per 10 s. burst 0 turns limiting off. clock returns
 * microseconds (NULL: CLOCK_MONOTONIC; tests pass a fake one). Resets every
 * count. Not thread-safe against concurrent logging: call it at startup. */
void log_set_ratelimit(unsigned burst, uint64_t interval_usec, uint64_t (*clock)(void));

/* "err", "warning", ...; NULL for an unknown priority. */
const char *log_level_name(int level);

#endif

/*
 * log.c — journal or stderr output for log.h. The journal is used when
 * $JOURNAL_STREAM names our stderr (systemd's documented way to tell that
 * stderr goes to the journal), so `ophostd` run by hand writes plain lines.
 *
 * Rate limiting keeps a small table of message groups (format string
 * pointer + context strings, hashed), guarded by one mutex. When more groups
 * are active than the table holds, the group idle the longest gives up its
 * slot; what it had suppressed is reported first, so no drop goes uncounted.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#define RATELIMIT_SLOTS 128
#define RATELIMIT_FMT_MAX 96

static int max_level = LOG_INFO;
static bool use_journal;

struct ratelimit_slot {
    uint64_t key; /* 0: empty */
    uint64_t window_start;
    uint64_t last;       /* the group's latest line, for eviction */
    unsigned n;          /* lines logged in this window */
    unsigned suppressed; /* lines dropped since the last report */
    /* A copy: the plugin owning the format string may be unloaded by the
     * time the suppressed lines are reported. */
    char fmt[RATELIMIT_FMT_MAX];
};

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ratelimit_slot rl_slots[RATELIMIT_SLOTS];
static unsigned rl_burst = 10;
static uint64_t rl_interval_usec = 10ULL * 1000000ULL;
static uint64_t (*rl_clock)(void) = monotonic_usec;

void log_set_ratelimit(unsigned burst, uint64_t interval_usec, uint64_t (*clock)(void)) {
    pthread_mutex_lock(&rl_lock);
    rl_burst = burst;
    rl_interval_usec = interval_usec;
    rl_clock = clock ? clock : monotonic_usec;
    memset(rl_slots, 0, sizeof(rl_slots));
    pthread_mutex_unlock(&rl_lock);
}

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

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t group_key(const struct log_context *ctx, const char *fmt) {
    const char *parts[3] = { ctx ? ctx->session : NULL, ctx ? ctx->operator_name : NULL,
                             ctx ? ctx->plugin : NULL };
    uint64_t h = fnv1a(14695981039346656037ULL, &fmt, sizeof(fmt));
    for (size_t i = 0; i < ELEMENTSOF(parts); i++)
        /* The terminating NUL separates the parts; NULL and "" differ. */
        h = parts[i] ? fnv1a(h, parts[i], strlen(parts[i]) + 1) : fnv1a(h, "\xff", 1);
    return h ? h : 1;
}

/* Decides whether a line of fmt/ctx may go out now. On true, if lines were
 * suppressed before, *ret_suppressed/ret_fmt say how many and of which
 * format, and *ret_same whether they were of this group (else of the group
 * evicted from the slot). */
static bool ratelimit_pass(const struct log_context *ctx, const char *fmt,
                           unsigned *ret_suppressed, char ret_fmt[RATELIMIT_FMT_MAX],
                           bool *ret_same) {
    uint64_t key, now;
    struct ratelimit_slot *slot;
    bool pass = true;

    *ret_suppressed = 0;
    if (ctx && ctx->unlimited)
        return true;
    key = group_key(ctx, fmt);
    pthread_mutex_lock(&rl_lock);
    if (rl_burst == 0)
        goto out;
    now = rl_clock();
    /* The group's slot, else an empty one, else the one idle the longest. */
    slot = NULL;
    for (size_t i = 0; i < RATELIMIT_SLOTS; i++) {
        struct ratelimit_slot *t = &rl_slots[i];
        if (t->key == key) {
            slot = t;
            break;
        }
        if (!slot || (slot->key != 0 && (t->key == 0 || t->last < slot->last)))
            slot = t;
    }
    slot->last = now;
    if (slot->key != key || now - slot->window_start >= rl_interval_usec) {
        if (slot->key != 0 && slot->suppressed > 0) {
            *ret_suppressed = slot->suppressed;
            *ret_same = slot->key == key;
            memcpy(ret_fmt, slot->fmt, RATELIMIT_FMT_MAX);
        }
        if (slot->key != key)
            snprintf(slot->fmt, sizeof(slot->fmt), "%s", fmt);
        slot->key = key;
        slot->window_start = now;
        slot->n = 0;
        slot->suppressed = 0;
    }
    if (slot->n < rl_burst)
        slot->n++;
    else {
        slot->suppressed++;
        pass = false;
    }
out:
    pthread_mutex_unlock(&rl_lock);
    return pass;
}

static void emit_journal(int priority, int error, const struct log_context *ctx,
                         const char *where, const char *msg) {
    char prio[32], err[32], session[256], op[256], plugin[256];
    char line[sizeof("MESSAGE=") + 256 + 2048];
    struct iovec iov[8];
    size_t n = 0;

    snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
    iov[n++] = (struct iovec){ prio, strlen(prio) };
    iov[n++] = (struct iovec){ (void *) "SYSLOG_IDENTIFIER=ophostd",
                               sizeof("SYSLOG_IDENTIFIER=ophostd") - 1 };
    if (error) {
        snprintf(err, sizeof(err), "ERRNO=%d", error);
        iov[n++] = (struct iovec){ err, strlen(err) };
    }
    /* Only the fields that are set, so `journalctl OPHOST_SESSION=x` and
     * `journalctl -F OPHOST_SESSION` see real values only. */
    if (ctx && ctx->session && ctx->session[0]) {
        snprintf(session, sizeof(session), "OPHOST_SESSION=%s", ctx->session);
        iov[n++] = (struct iovec){ session, strlen(session) };
    }
    if (ctx && ctx->operator_name && ctx->operator_name[0]) {
        snprintf(op, sizeof(op), "OPHOST_OPERATOR=%s", ctx->operator_name);
        iov[n++] = (struct iovec){ op, strlen(op) };
    }
    if (ctx && ctx->plugin && ctx->plugin[0]) {
        snprintf(plugin, sizeof(plugin), "OPHOST_PLUGIN=%s", ctx->plugin);
        iov[n++] = (struct iovec){ plugin, strlen(plugin) };
    }
    /* The context stays in the text too: `journalctl -u ophostd` shows only
     * MESSAGE=. */
    snprintf(line, sizeof(line), "MESSAGE=%s%s", where, msg);
    iov[n++] = (struct iovec){ line, strlen(line) };
    (void) sd_journal_sendv(iov, (int) n);
}

static void emit(int priority, int error, const struct log_context *ctx, const char *msg) {
    char where[256] = "";
    if (ctx && (ctx->session || ctx->operator_name || ctx->plugin))
        snprintf(where, sizeof(where), "%s%s%s%s%s%s: ",
                 ctx->session ? "session " : "", ctx->session ? ctx->session : "",
                 ctx->session && ctx->operator_name ? ", " : "",
                 ctx->operator_name ? "operator " : "",
                 ctx->operator_name ? ctx->operator_name : "",
                 !ctx->session && !ctx->operator_name && ctx->plugin ? ctx->plugin : "");
    if (use_journal)
        emit_journal(priority, error, ctx, where, msg);
    else
        /* One write per line so lines of different threads never interleave. */
        fprintf(stderr, "%s: %s%s\n", level_prefix(priority), where, msg);
}

int log_fullv(int priority, int error, const struct log_context *ctx, const char *fmt,
              va_list ap) {
    char msg[2048], fmt_copy[RATELIMIT_FMT_MAX];
    unsigned suppressed;
    bool same = false;
    int saved = errno;

    if (error < 0)
        error = -error;
    if (priority > max_level)
        return -error;
    if (!ratelimit_pass(ctx, fmt, &suppressed, fmt_copy, &same)) {
        errno = saved;
        return -error;
    }
    if (suppressed > 0) {
        snprintf(msg, sizeof(msg), "suppressed %u messages like \"%s\"", suppressed, fmt_copy);
        emit(priority, 0, same ? ctx : NULL, msg);
    }
    errno = error; /* so %m works */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    emit(priority, error, ctx, msg);
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

/*
 * sink-output.h — where the sinks that write text (json, print, columns) put
 * their events: a buffer of whole units (one event's line, or a table's
 * header and the row after it) written to a file or to standard output, so
 * that an event is either written whole or counted with host->dropped, live,
 * and a cut line is never followed by another event. Header-only (static
 * inline): each plugin compiles its own copy.
 *
 *     sink_output_init(&o, host, ctx, path);      instantiate
 *     sink_output_open(&o, ".json");              pre_start
 *     ... format into o.buf[o.len..], sink_output_room() first,
 *     sink_output_unit_end(&o);                   after each event
 *     sink_output_flush(&o);                      at the end of each batch
 *     sink_output_close(&o);                      post_stop
 *     sink_output_free(&o);                       destroy
 *
 * What happens when a write fails (full disk, EFBIG, EIO, a closed pipe):
 * the units written whole count as written; a unit cut by a short write is
 * kept and its unwritten end goes out first with the next write (so the line
 * is finished, never glued to another); every other unit of that write is
 * dropped and counted at once. A unit still cut when the sink stops is
 * counted as dropped and cut off the end of the file again (ftruncate, when
 * nothing was appended after it). Each failure is logged with its reason
 * (the host rate-limits repeated messages), and the first success after it.
 *
 * Files: created with mode 0640 whatever the umask (an existing file keeps
 * its mode). Once per second the path is compared with the open file, so
 * logrotate's move-and-create works without a signal. Deleted files: the
 * bytes of written units stay in the buffer until fstat says the file still
 * has a name (st_nlink > 0); that is asked after the first write that
 * follows 10 ms without asking, when the buffer is full, and at stop: one
 * fstat per batch for a quiet sink, at most 100 a second for a busy one. A
 * deleted file is created again and the units written since the last
 * answer go whole into it, so none is lost. If it cannot be created again
 * (the directory is gone), events are dropped and counted, the reason is
 * logged once, and the path is tried again every second.
 *
 * Standard output: refused when it is the systemd journal ($JOURNAL_STREAM
 * names it, as for ophostd's own stderr): a table of events there would
 * crowd out the daemon's own messages.
 */
#ifndef OPHOST_PLUGINS_SINK_OUTPUT_H
#define OPHOST_PLUGINS_SINK_OUTPUT_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ophost/ophost.h>

#define SINK_OUTPUT_MODE 0640
#define SINK_OUTPUT_BUFFER (256u * 1024u)
/* Units in the buffer before it is written out, whatever their size. */
#define SINK_OUTPUT_UNITS 4096u
/* How often the path is compared with the open file (rotation). */
#define SINK_OUTPUT_CHECK_NSEC 1000000000ull
/* How long written units may wait for the deleted-file check. */
#define SINK_OUTPUT_CONFIRM_NSEC 10000000ull
/* Times a file deleted again right after it was created is created again. */
#define SINK_OUTPUT_RECREATE_MAX 3

struct sink_output {
    const struct ophost_host *host;
    struct ophost_ctx *ctx;
    const char *path; /* "" = standard output */
    int fd;           /* -1: no file (it could not be created again yet) */
    bool own_fd;
    dev_t dev;
    ino_t ino;
    uint64_t next_check;   /* coarse monotonic ns of the next look at path */
    uint64_t next_confirm; /* ... of the next deleted-file check */

    char *buf;
    size_t len, cap;
    size_t *ends;       /* ends[0..n): where each complete unit of buf ends */
    uint32_t n;
    uint32_t n_written; /* units [0, n_written) written, not yet confirmed */
    size_t done;        /* bytes of unit n_written already written: a cut unit */
    off_t cut_end;      /* the file offset right after the cut unit's written part */
    bool nomem;         /* an append could not grow the buffer */

    int write_error;    /* errno of the last failed write; 0 once a write works */
    int open_error;     /* errno of the last failed open while fd < 0 */
    int reopen_error;   /* errno of the last failed reopen after a rotation */
    uint64_t written, dropped;
    uint64_t dropped_at_failure; /* dropped when writes began to fail */
    uint64_t dropped_at_loss;    /* dropped when the file was lost */
    uint64_t missing_since;      /* coarse ns when the file was lost */
};

/* The three printf arguments of "%s%s%s" naming the output in messages:
 * 'PATH' or standard output. */
#define SINK_OUTPUT_WHERE(o)                                                               \
    (o)->path[0] ? "'" : "", (o)->path[0] ? (o)->path : "standard output", (o)->path[0] ? "'" : ""

/* Sets o up for path ("" = standard output); nothing is opened yet. */
static inline void sink_output_init(struct sink_output *o, const struct ophost_host *host,
                                    struct ophost_ctx *ctx, const char *path) {
    *o = (struct sink_output){ .host = host, .ctx = ctx, .path = path, .fd = -1 };
}

static inline uint64_t sink_output_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Whether standard output is the stream $JOURNAL_STREAM names ("DEV:INO"). */
static inline bool sink_output_stdout_is_journal(void) {
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDOUT_FILENO, &st) < 0)
        return false;
    return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

/* Opens o->path for appending, creating it with SINK_OUTPUT_MODE (whatever
 * the umask) when it does not exist; an existing file keeps its mode.
 * Returns the fd, with its stat in *ret_st, or a negative errno. */
static inline int sink_output_open_path(struct sink_output *o, struct stat *ret_st) {
    const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;

    for (int attempt = 0; attempt < 8; attempt++) {
        bool created = false;
        int fd = open(o->path, flags);
        if (fd < 0 && errno == ENOENT) {
            fd = open(o->path, flags | O_CREAT | O_EXCL, SINK_OUTPUT_MODE);
            if (fd < 0 && errno == EEXIST)
                continue; /* created meanwhile by someone else: open that one */
            created = fd >= 0;
        }
        if (fd < 0)
            return -errno;
        /* The umask (the unit's UMask=0077) took bits off the mode. */
        if (created && fchmod(fd, SINK_OUTPUT_MODE) < 0)
            o->host->log(o->ctx, OPHOST_LOG_WARNING,
                         "cannot give '%s' mode %04o: %s, keeping the mode it was created with",
                         o->path, SINK_OUTPUT_MODE, strerror(errno));
        if (fstat(fd, ret_st) < 0) {
            int r = -errno;
            close(fd);
            return r;
        }
        return fd;
    }
    return -EEXIST;
}

/*
 * pre_start: opens path, or checks standard output. suffix is the file name
 * suffix suggested when standard output is the journal (".json"). Returns 0
 * or what host->error returned (the session fails with that message).
 */
static inline int sink_output_open(struct sink_output *o, const char *suffix) {
    struct stat st;
    int fd;

    o->cap = SINK_OUTPUT_BUFFER;
    o->buf = malloc(o->cap);
    o->ends = calloc(SINK_OUTPUT_UNITS, sizeof(*o->ends));
    if (!o->buf || !o->ends)
        return o->host->error(o->ctx, -ENOMEM, "cannot allocate the output buffer");
    if (!o->path[0]) {
        if (sink_output_stdout_is_journal()) {
            const char *session = o->host->session_name(o->ctx);
            return o->host->error(
                o->ctx, -EINVAL,
                "standard output is the systemd journal ($JOURNAL_STREAM): events written there "
                "would flood it and crowd out ophostd's own messages; give param 'path' a file "
                "(e.g. path: /var/log/ophost/%s%s) or use the journal sink",
                session ? session : "events", suffix);
        }
        o->fd = STDOUT_FILENO;
        return 0;
    }
    fd = sink_output_open_path(o, &st);
    if (fd < 0)
        return o->host->error(o->ctx, fd, "param 'path': cannot open '%s': %s", o->path,
                              strerror(-fd));
    o->fd = fd;
    o->own_fd = true;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    o->next_check = sink_output_now() + SINK_OUTPUT_CHECK_NSEC;
    return 0;
}

/* ------------------------------------------------------------- writing */

static inline size_t sink_output_unit_start(const struct sink_output *o, uint32_t i) {
    return i ? o->ends[i - 1] : 0;
}

/* Takes units [a, b) out of the buffer with their bytes; what follows them
 * (later units, the unit being formatted) moves down. */
static inline void sink_output_remove(struct sink_output *o, uint32_t a, uint32_t b) {
    size_t from = sink_output_unit_start(o, a), to = sink_output_unit_start(o, b), gap = to - from;

    if (b <= a)
        return;
    if (to < o->len)
        memmove(o->buf + from, o->buf + to, o->len - to);
    o->len -= gap;
    for (uint32_t i = b; i < o->n; i++)
        o->ends[i - (b - a)] = o->ends[i] - gap;
    o->n -= b - a;
}

static inline void sink_output_count_dropped(struct sink_output *o, uint64_t n) {
    if (n == 0)
        return;
    o->dropped += n;
    o->host->dropped(o->ctx, n);
}

/* Drops every complete unit, written or not (the one being formatted
 * stays). */
static inline void sink_output_drop_all(struct sink_output *o) {
    sink_output_count_dropped(o, o->n);
    sink_output_remove(o, 0, o->n);
    o->n_written = 0;
    o->done = 0;
}

/* The written units are in the file for good: they leave the buffer. */
static inline void sink_output_settle(struct sink_output *o) {
    o->written += o->n_written;
    sink_output_remove(o, 0, o->n_written);
    o->n_written = 0;
}

/* Whether the open file has lost its last name (deleted). */
static inline bool sink_output_deleted(const struct sink_output *o) {
    struct stat st;
    return fstat(o->fd, &st) == 0 && st.st_nlink == 0;
}

/* Before the file it was written to is left: a cut unit at its end is cut
 * off again, so the file ends with a whole line. Only when the file still
 * has a name and nothing was appended after the cut. */
static inline void sink_output_uncut(struct sink_output *o) {
    struct stat st;

    if (o->done == 0)
        return;
    if (o->own_fd && fstat(o->fd, &st) == 0 && st.st_nlink > 0 && S_ISREG(st.st_mode)) {
        if (st.st_size == o->cut_end && ftruncate(o->fd, o->cut_end - (off_t) o->done) == 0)
            o->host->log(o->ctx, OPHOST_LOG_NOTICE,
                         "removed the cut line at the end of '%s' (%zu bytes)", o->path, o->done);
        else
            o->host->log(o->ctx, OPHOST_LOG_WARNING,
                         "'%s' ends in a cut line (%zu bytes): it could not be removed", o->path,
                         o->done);
    }
    o->done = 0;
}

/* Opens path again and makes it the file written to; every unit of the
 * buffer is then written to it from its start. Returns 0 or a negative
 * errno (the old file, if any, stays). */
static inline int sink_output_switch(struct sink_output *o) {
    struct stat st;
    int fd = sink_output_open_path(o, &st);

    if (fd < 0)
        return fd;
    if (o->fd >= 0) {
        sink_output_uncut(o);
        close(o->fd);
    }
    o->fd = fd;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    o->done = 0;
    o->n_written = 0;
    return 0;
}

/* The file was deleted and path cannot be opened again (err): close it,
 * drop what was written to it and everything from now on, say so once. */
static inline void sink_output_lose_file(struct sink_output *o, int err) {
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    o->open_error = err;
    o->missing_since = sink_output_now();
    o->dropped_at_loss = o->dropped;
    sink_output_drop_all(o);
    o->host->log(o->ctx, OPHOST_LOG_WARNING,
                 "'%s' was deleted and cannot be created again: %s%s; dropping events (counted "
                 "as dropped) and trying again every second",
                 o->path, strerror(err), err == ENOENT ? " (its directory is gone)" : "");
}

/* The file was found deleted with `again` units written to it since the
 * last check: recreate it (they go into the new file with the next write),
 * or lose it. Returns whether there is a file. */
static inline bool sink_output_recreate(struct sink_output *o, uint32_t again) {
    int r = sink_output_switch(o);

    if (r < 0) {
        sink_output_lose_file(o, -r);
        return false;
    }
    o->host->log(o->ctx, OPHOST_LOG_NOTICE,
                 "'%s' was deleted; created it again and writing the %" PRIu32
                 " events written since the last check to it again", o->path, again);
    o->reopen_error = 0;
    return true;
}

/* A write failed with err: the units it wrote whole are written, a cut one
 * stays, the unwritten rest is dropped. */
static inline void sink_output_failed(struct sink_output *o, int err) {
    uint32_t keep = o->n_written + (o->done > 0), lost = o->n - keep;

    if (o->done > 0)
        o->cut_end = lseek(o->fd, 0, SEEK_CUR);
    sink_output_remove(o, keep, o->n);
    if (!o->write_error)
        o->dropped_at_failure = o->dropped;
    o->write_error = err;
    sink_output_count_dropped(o, lost);
    o->host->log(o->ctx, OPHOST_LOG_WARNING,
                 "writing to %s%s%s failed: %s; dropped %" PRIu32 " events (%" PRIu64 " so far)%s",
                 SINK_OUTPUT_WHERE(o), strerror(err), lost, o->dropped,
                 o->done > 0 ? ", keeping the rest of a cut line to finish it first"
                             : ", trying again with the next events");
}

/* Writes the complete units not written yet (the rest of a cut one first). */
static inline void sink_output_write_pending(struct sink_output *o) {
    size_t pos = sink_output_unit_start(o, o->n_written) + o->done, end;
    int err = 0;

    if (o->n_written == o->n)
        return;
    end = o->ends[o->n - 1];
    while (pos < end) {
        ssize_t w = write(o->fd, o->buf + pos, end - pos);
        if (w > 0) {
            pos += (size_t) w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        err = w < 0 ? errno : EIO;
        break;
    }
    while (o->n_written < o->n && o->ends[o->n_written] <= pos)
        o->n_written++;
    o->done = pos - sink_output_unit_start(o, o->n_written);
    if (err) {
        sink_output_failed(o, err);
    } else if (o->write_error) {
        o->host->log(o->ctx, OPHOST_LOG_NOTICE,
                     "writing to %s%s%s works again; %" PRIu64
                     " events were dropped while it failed (%s)",
                     SINK_OUTPUT_WHERE(o), o->dropped - o->dropped_at_failure,
                     strerror(o->write_error));
        o->write_error = 0;
    }
}

/* The deleted-file check: the units written since the last one leave the
 * buffer if the file still has a name; if it was deleted, it is created
 * again and they are written into the new file (and checked again), or
 * dropped when there can be none. Afterwards no written unit is left. */
static inline void sink_output_confirm(struct sink_output *o) {
    o->next_confirm = sink_output_now() + SINK_OUTPUT_CONFIRM_NSEC;
    for (int attempt = 0; o->n_written > 0 || o->done > 0; attempt++) {
        if (!o->own_fd || o->fd < 0 || !sink_output_deleted(o)) {
            sink_output_settle(o);
            return;
        }
        if (attempt == SINK_OUTPUT_RECREATE_MAX) {
            o->host->log(o->ctx, OPHOST_LOG_WARNING,
                         "'%s' was deleted %d times right after it was created; dropping %" PRIu32
                         " events", o->path, attempt, o->n);
            sink_output_drop_all(o);
            return;
        }
        if (!sink_output_recreate(o, o->n_written + (o->done > 0)))
            return;
        sink_output_write_pending(o);
    }
}

/* Once per second: reopens path when it names another file than the one
 * written to (log rotation, deleted) or when there is none. */
static inline void sink_output_watch(struct sink_output *o, uint64_t now) {
    struct stat st;
    bool deleted;
    int r;

    if (now < o->next_check)
        return;
    o->next_check = now + SINK_OUTPUT_CHECK_NSEC;
    if (o->fd >= 0 && stat(o->path, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino)
        return;
    deleted = o->fd >= 0 && sink_output_deleted(o);
    if (deleted) {
        sink_output_recreate(o, o->n_written + (o->done > 0));
        return;
    }
    /* Moved away: what was written to it is there for good. */
    if (o->fd >= 0)
        sink_output_settle(o);
    r = sink_output_switch(o);
    if (r == 0) {
        if (o->open_error)
            o->host->log(o->ctx, OPHOST_LOG_NOTICE,
                         "created '%s' again after %" PRIu64 " s; %" PRIu64
                         " events were dropped while it was missing",
                         o->path, (now - o->missing_since) / 1000000000u,
                         o->dropped - o->dropped_at_loss);
        else if (o->reopen_error)
            o->host->log(o->ctx, OPHOST_LOG_NOTICE,
                         "reopened '%s' after it was moved or replaced", o->path);
        o->open_error = o->reopen_error = 0;
    } else if (o->fd < 0 && -r != o->open_error) {
        o->open_error = -r;
        o->host->log(o->ctx, OPHOST_LOG_WARNING,
                     "still cannot create '%s': %s%s; dropping events and trying again every "
                     "second", o->path, strerror(-r), r == -ENOENT ? " (its directory is gone)" : "");
    } else if (o->fd >= 0 && -r != o->reopen_error) {
        o->reopen_error = -r;
        o->host->log(o->ctx, OPHOST_LOG_WARNING,
                     "cannot reopen '%s' after it was moved or replaced: %s, writing to the old "
                     "file and trying again every second", o->path, strerror(-r));
    }
}

/*
 * Writes the complete units of the buffer (the unit being formatted stays).
 * Never fails: what cannot be written is dropped and counted (see the top).
 * Session thread; one write(2), and for a file the checks described at the
 * top (an fstat at most every 10 ms, a stat of the path once a second).
 */
static inline void sink_output_flush(struct sink_output *o) {
    uint64_t now;

    if (o->n == 0)
        return;
    if (!o->own_fd) {
        sink_output_write_pending(o);
        sink_output_settle(o); /* nothing to check on standard output */
        return;
    }
    now = sink_output_now();
    sink_output_watch(o, now);
    if (o->fd < 0) {
        sink_output_drop_all(o);
        return;
    }
    sink_output_write_pending(o);
    if (now >= o->next_confirm)
        sink_output_confirm(o);
}

/* Makes sure need more bytes fit after o->len: writes out the complete units
 * first, then grows the buffer (only for an event larger than it). Returns
 * 0 or what host->error returned (-ENOMEM). */
static inline int sink_output_room(struct sink_output *o, size_t need) {
    size_t cap;
    char *nb;

    if (o->cap - o->len >= need)
        return 0;
    sink_output_flush(o);
    if (o->cap - o->len < need)
        sink_output_confirm(o); /* frees what is written */
    if (o->cap - o->len >= need)
        return 0;
    for (cap = o->cap; cap - o->len < need; cap *= 2)
        ;
    nb = realloc(o->buf, cap);
    if (!nb)
        return o->host->error(o->ctx, -ENOMEM, "cannot grow the output buffer to %zu bytes", cap);
    o->buf = nb;
    o->cap = cap;
    return 0;
}

/* Ends the unit (event) formatted since the last call. */
static inline void sink_output_unit_end(struct sink_output *o) {
    o->ends[o->n++] = o->len;
    if (o->n == SINK_OUTPUT_UNITS) {
        sink_output_flush(o);
        sink_output_confirm(o); /* at most a cut unit is left */
    }
}

/* Appends s[0..n). When the buffer cannot grow, it and the other
 * appending functions do nothing from then on and sink_output_nomem() is
 * true (host->error has the message): fail the callback with -ENOMEM. */
static inline void sink_output_put(struct sink_output *o, const void *s, size_t n) {
    if (o->cap - o->len < n && (o->nomem || sink_output_room(o, n) < 0)) {
        o->nomem = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void sink_output_putc(struct sink_output *o, char c) {
    sink_output_put(o, &c, 1);
}

/* Appends printf text (see sink_output_put). */
static inline void sink_output_printf(struct sink_output *o, const char *fmt, ...) OPHOST_PRINTF(2, 3);
static inline void sink_output_printf(struct sink_output *o, const char *fmt, ...) {
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n >= o->cap - o->len) {
        if (o->nomem || sink_output_room(o, (size_t) n + 1) < 0) {
            o->nomem = true;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
    }
    o->len += (size_t) n;
}

/* Whether an append failed for want of memory. */
static inline bool sink_output_nomem(const struct sink_output *o) {
    return o->nomem;
}

/*
 * post_stop: writes what is left, counts a unit still cut as dropped (and
 * cuts it off the file), logs how many events were dropped in all, closes
 * the file. Returns 0 or what host->error returned for a failed close.
 */
static inline int sink_output_close(struct sink_output *o) {
    int r = 0;

    sink_output_flush(o);
    sink_output_confirm(o);
    if (o->done > 0) {
        sink_output_uncut(o);
        sink_output_drop_all(o);
    }
    if (o->dropped)
        o->host->log(o->ctx, OPHOST_LOG_WARNING,
                     "%" PRIu64 " of %" PRIu64 " events could not be written to %s%s%s and were "
                     "dropped (see the messages before)",
                     o->dropped, o->dropped + o->written, SINK_OUTPUT_WHERE(o));
    if (o->own_fd && o->fd >= 0 && close(o->fd) < 0)
        r = o->host->error(o->ctx, -errno, "closing '%s' failed: %s", o->path, strerror(errno));
    o->fd = -1;
    o->own_fd = false;
    return r;
}

/* destroy: frees what open allocated, closes a file close did not. */
static inline void sink_output_free(struct sink_output *o) {
    if (o->own_fd && o->fd >= 0)
        close(o->fd);
    free(o->buf);
    free(o->ends);
    *o = (struct sink_output){ .fd = -1 };
}

#endif

/* test-sink-output.c — what the text sinks (json, print, columns) share
 * through plugins/common/sink-output.h, each case run for each of them:
 * a full disk (a 1 MiB tmpfs): every line whole and valid, written + counted
 * drops = emitted, exactly, and the drops counted while the session runs;
 * short writes (the last free page of that tmpfs): a cut line finished when
 * there is room again, or cut off the file at stop, or off the old file when
 * it is rotated, never glued to another event; a deleted file
 * and a deleted directory; log rotation; mode 0640 under umask 077; refusing
 * a standard output that is the journal. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "testutil.h"

/* ------------------------------------------------------------- the sinks */

#define FIELDS "seq:u64,s:string"

/* The string of event seq: its length varies, so lines are cut anywhere. */
static const char *payload(uint64_t seq, char *buf, size_t size) {
    int n = snprintf(buf, size, "event-%llu-", (unsigned long long) seq);
    size_t fill = 8 + seq % 29;
    ck_assert(n > 0 && (size_t) n + fill < size);
    memset(buf + n, 'x', fill);
    buf[(size_t) n + fill] = '\0';
    return buf;
}

/* Parsers of one line (without its newline): the seq of the event written
 * on it, 0 for a table header, -1 when it is not a whole, valid line. */
typedef int64_t (*parse_fn)(const char *line, size_t len);

static int64_t parse_json(const char *line, size_t len) {
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj, *seq, *s;
    char want[96];
    int64_t r = -1;

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, line, (int) len);
    if (obj && json_tokener_get_error(tok) == json_tokener_success &&
        json_tokener_get_parse_end(tok) == len && json_object_object_length(obj) == 2 &&
        json_object_object_get_ex(obj, "seq", &seq) && json_object_is_type(seq, json_type_int) &&
        json_object_object_get_ex(obj, "s", &s) && json_object_is_type(s, json_type_string) &&
        json_object_get_int64(seq) > 0 &&
        strcmp(json_object_get_string(s),
               payload((uint64_t) json_object_get_int64(seq), want, sizeof(want))) == 0)
        r = json_object_get_int64(seq);
    json_object_put(obj);
    json_tokener_free(tok);
    return r;
}

static int64_t parse_print(const char *line, size_t len) {
    char want[160], buf[96];
    unsigned long long seq;

    if (sscanf(line, "seq=%llu ", &seq) != 1 || seq == 0)
        return -1;
    snprintf(want, sizeof(want), "seq=%llu s=\"%s\"", seq, payload(seq, buf, sizeof(buf)));
    return strlen(want) == len && memcmp(want, line, len) == 0 ? (int64_t) seq : -1;
}

/* "  SEQ S" or "   12 event-12-xxx": right-aligned number, one or more
 * blanks, the string (the last column has no padding). */
static int64_t parse_columns(const char *line, size_t len) {
    const char *p = line, *end = line + len;
    char buf[96];
    unsigned long long seq = 0;
    const char *s;

    while (p < end && *p == ' ')
        p++;
    if (end - p >= 3 && memcmp(p, "SEQ", 3) == 0) {
        for (p += 3; p < end && *p == ' '; p++)
            ;
        return p + 1 == end && *p == 'S' && p[-1] == ' ' ? 0 : -1;
    }
    if (p == end || *p < '1' || *p > '9')
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        seq = seq * 10 + (unsigned) (*p - '0');
    if (p == end || *p != ' ')
        return -1;
    while (p < end && *p == ' ')
        p++;
    s = payload(seq, buf, sizeof(buf));
    return strlen(s) == (size_t) (end - p) && memcmp(s, p, (size_t) (end - p)) == 0
               ? (int64_t) seq
               : -1;
}

static const struct sink {
    const char *name;
    const char *plugin[2];
    const char *params; /* after path */
    const char *suffix; /* of the file name the journal refusal suggests */
    parse_fn parse;
} sinks[] = {
    { "json", { TEST_PLUGIN_DIR "/json.so", NULL }, "", ".json", parse_json },
    { "print", { TEST_PLUGIN_DIR "/print.so", NULL }, "", ".log", parse_print },
    { "columns", { TEST_PLUGIN_DIR "/columns.so", NULL }, ", max-width: 100", ".log",
      parse_columns },
};

#define N_SINKS (sizeof(sinks) / sizeof(sinks[0]))

/* ---------------------------------------------------------------- helpers */

static char *dir;

static void setup(void) {
    dir = tu_make_dir("sink-output");
}

static void teardown(void) {
    tu_remove_tree(dir);
    free(dir);
}

/* The pipeline feed -> sink(path) as YAML; "" = no path (standard output). */
static char *sink_yaml(const struct sink *k, const char *path) {
    char ops[512];

    if (path[0])
        snprintf(ops, sizeof(ops), "    %s: {path: '%s'%s}\n", k->name, path, k->params);
    else
        snprintf(ops, sizeof(ops), "    %s: {}\n", k->name);
    return harness_feed_yaml(FIELDS, ops);
}

/* Appends events first..last (seq and their payload) and emits them as
 * batches (the batch holds 256). */
static void feed_range(struct harness_feed *f, uint64_t first, uint64_t last) {
    char buf[96];
    for (uint64_t seq = first; seq <= last; seq++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "seq", seq);
        harness_set_string(f, e, "s", payload(seq, buf, sizeof(buf)));
    }
    harness_flush(f);
}

/* Checks that every line of the file at path is a whole, valid line of
 * sink k, the events in increasing order, the header (columns) first and
 * where a column widened;
 * returns the seqs as ranges ("1-20 31-40"; "" for none; caller frees) and
 * their number in *ret_events. */
static char *file_events(const struct sink *k, const char *path, uint64_t *ret_events) {
    char *content = tu_read_existing_file(path), *ranges = NULL;
    size_t size = 0, nlines = 0;
    FILE *m = open_memstream(&ranges, &size);
    int64_t first = 0, last = 0;
    uint64_t events = 0;

    ck_assert_ptr_nonnull(m);
    ck_assert_msg(!content[0] || content[strlen(content) - 1] == '\n',
                  "%s: %s does not end with a newline", k->name, path);
    for (const char *line = content; *line; nlines++) {
        const char *nl = strchr(line, '\n');
        int64_t seq = k->parse(line, (size_t) (nl - line));
        /* The columns header comes first, and again when a column widens. */
        ck_assert_msg(seq > 0 || (seq == 0 && (nlines == 0 || k->parse == parse_columns)),
                      "%s: bad line %zu of %s: '%.*s'",
                      k->name, nlines + 1, path, (int) (nl - line), line);
        if (seq > 0) {
            ck_assert_msg(seq > last, "%s: event %lld after %lld in %s", k->name,
                          (long long) seq, (long long) last, path);
            if (seq != last + 1 || !first) {
                if (first)
                    fprintf(m, first == last ? "%lld " : "%lld-%lld ", (long long) first,
                            (long long) last);
                first = seq;
            }
            last = seq;
            events++;
        }
        line = nl + 1;
    }
    if (first)
        fprintf(m, first == last ? "%lld" : "%lld-%lld", (long long) first, (long long) last);
    fclose(m);
    free(content);
    *ret_events = events;
    return ranges;
}

static void assert_file_events(const struct sink *k, const char *path, const char *want) {
    uint64_t n;
    char *got = file_events(k, path, &n);
    ck_assert_msg(strcmp(got, want) == 0, "%s: %s holds events %s, expected %s", k->name, path,
                  got, want);
    free(got);
}

/* How many times needle is in s. */
static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void assert_log_has(const struct sink *k, const char *log, const char *needle, int times) {
    ck_assert_msg(count_of(log, needle) == times, "%s: '%s' %d times in the log, expected %d:\n%s",
                  k->name, needle, count_of(log, needle), times, log);
}

/* One session of sink k writing to path, its stderr (the log) captured. */
struct run {
    const struct sink *k;
    struct harness *h;
    const char *path;
    char *log;
    /* for the feed functions */
    uint64_t n;
    int64_t dropped_live[4];
    off_t size_seen;
    bool cut_seen;
    char *seen; /* events in the file at some point (file_events) */
};

static void run_sink(struct run *r, harness_feed_fn fn) {
    char *y = sink_yaml(r->k, r->path), *err = NULL, *log_path = tu_path_in(dir, "log");
    int saved = tu_redirect_fd(STDERR_FILENO, log_path);
    int rc;

    r->h = harness_new(r->k->plugin);
    rc = harness_run(r->h, y, fn, r, &err);
    tu_restore_fd(STDERR_FILENO, saved);
    r->log = tu_read_existing_file(log_path);
    ck_assert_msg(rc == 0, "%s: session failed: %s\n%s", r->k->name, err ? err : "?", r->log);
    /* The sink passes every event on, whatever it could write. */
    ck_assert_int_eq(harness_events_in(r->h, "capture"), harness_events_in(r->h, r->k->name));
    ck_assert_int_eq(unlink(log_path), 0);
    free(log_path);
    free(y);
}

static void run_free(struct run *r) {
    harness_free(r->h);
    free(r->log);
    r->h = NULL;
    r->log = NULL;
}

static off_t file_size(const char *path) {
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

static char last_byte(const char *path) {
    char c = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &c, 1, file_size(path) - 1), 1);
    close(fd);
    return c;
}

/* ----------------------------------------------------------- full disk */

#define TMPFS_EVENTS 40000

static void feed_flood(struct harness_feed *f, void *userdata) {
    struct run *r = userdata;
    feed_range(f, 1, r->n);
    r->dropped_live[0] = harness_dropped(r->h, r->k->name);
}

/* A 1 MiB tmpfs in a mount namespace of our own (gone with the process,
 * even if the test dies), at dir/tmpfs. false when that is not possible. */
static bool mount_small_tmpfs(char **ret_mnt) {
    char *mnt = tu_path_in(dir, "tmpfs");

    if (geteuid() != 0) {
        printf("SKIP full-disk test: needs root to mount a 1 MiB tmpfs\n");
        free(mnt);
        return false;
    }
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
    ck_assert_int_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
    ck_assert_msg(mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0755") == 0, "mount tmpfs: %s",
                  strerror(errno));
    *ret_mnt = mnt;
    return true;
}

START_TEST(test_full_disk) {
    char *mnt;

    if (!mount_small_tmpfs(&mnt))
        return;
    for (size_t i = 0; i < N_SINKS; i++) {
        char *path = tu_path_in(mnt, sinks[i].name);
        struct run r = { .k = &sinks[i], .path = path, .n = TMPFS_EVENTS };
        uint64_t written;
        int64_t dropped;

        run_sink(&r, feed_flood);
        free(file_events(r.k, path, &written));
        dropped = harness_dropped(r.h, r.k->name);
        /* Far more than fits: some written, many dropped. */
        ck_assert_msg(written > 1000 && dropped > 1000, "%s: %llu written, %lld dropped",
                      r.k->name, (unsigned long long) written, (long long) dropped);
        /* Every event is in the file or counted, exactly. */
        ck_assert_msg(written + (uint64_t) dropped == TMPFS_EVENTS,
                      "%s: %llu written + %lld dropped != %d emitted", r.k->name,
                      (unsigned long long) written, (long long) dropped, TMPFS_EVENTS);
        /* Counted while the session ran: at stop at most the one cut line. */
        ck_assert_msg(r.dropped_live[0] >= dropped - 1, "%s: %lld dropped live, %lld in all",
                      r.k->name, (long long) r.dropped_live[0], (long long) dropped);
        ck_assert_ptr_nonnull(strstr(r.log, "No space left on device; dropped "));
        ck_assert_ptr_nonnull(strstr(r.log, " events could not be written to '"));
        ck_assert_int_eq(unlink(path), 0);
        run_free(&r);
        free(path);
    }
    ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
    free(mnt);
}
END_TEST

/* ---------------------------------------------------------- short writes */

/* The tmpfs at mnt filled up to its last page by mnt/filler: the next
 * write there stops after one page, inside a line. Removing the filler
 * makes room again. false when the page is not 4 KiB (the 200 events of
 * one batch would not fill it). */
static bool leave_one_page(const char *mnt, char **ret_filler) {
    static char chunk[65536];
    char *filler = tu_path_in(mnt, "filler");
    int fd = open(filler, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    off_t size = 0;
    ssize_t w;

    if (sysconf(_SC_PAGESIZE) != 4096) {
        printf("SKIP short-write test: pages are not 4 KiB\n");
        close(fd);
        free(filler);
        return false;
    }
    ck_assert_int_ge(fd, 0);
    memset(chunk, 'f', sizeof(chunk));
    while ((w = write(fd, chunk, sizeof(chunk))) > 0)
        size += w;
    ck_assert_msg(w < 0 && errno == ENOSPC, "filling the tmpfs: %s", strerror(errno));
    ck_assert_int_eq(size % 4096, 0);
    ck_assert_int_eq(ftruncate(fd, size - 4096), 0);
    close(fd);
    *ret_filler = filler;
    return true;
}

/* A run whose feed function also needs these (userdata is the run, first). */
struct cut_run {
    struct run r;
    char *filler;  /* fills the tmpfs but for one page */
    char *rotated; /* PATH.1 */
};

/* For each sink: a session on the last free page of a 1 MiB tmpfs with
 * feed, then check; the files are removed after. */
static void run_on_last_page(harness_feed_fn feed, void (*check)(struct cut_run *c)) {
    char *mnt;

    if (!mount_small_tmpfs(&mnt))
        return;
    for (size_t i = 0; i < N_SINKS; i++) {
        char *path = tu_path_in(mnt, sinks[i].name);
        struct cut_run c = { .r = { .k = &sinks[i], .path = path } };

        if (!leave_one_page(mnt, &c.filler)) {
            free(path);
            break;
        }
        ck_assert_int_ge(asprintf(&c.rotated, "%s.1", path), 0);
        run_sink(&c.r, feed);
        check(&c);
        unlink(path);
        unlink(c.rotated);
        unlink(c.filler);
        free(c.rotated);
        free(c.filler);
        run_free(&c.r);
        free(path);
    }
    ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
    free(mnt);
}

/* 200 events (one batch, one write) into the last free page: the write is
 * cut inside a line; then the filler goes and 10 more events follow. */
static void feed_cut_then_room(struct harness_feed *f, void *userdata) {
    struct cut_run *c = userdata;
    struct run *r = &c->r;

    feed_range(f, 1, 200);
    r->size_seen = file_size(r->path);
    r->cut_seen = last_byte(r->path) != '\n';
    r->dropped_live[0] = harness_dropped(r->h, r->k->name);
    ck_assert_int_eq(unlink(c->filler), 0);
    feed_range(f, 201, 210);
    r->dropped_live[1] = harness_dropped(r->h, r->k->name);
}

static void check_cut_then_room(struct cut_run *c) {
    struct run *r = &c->r;
    char want[64], *ranges;
    uint64_t m;

    /* The first write stopped at the end of the page, inside a line. */
    ck_assert_int_eq(r->size_seen, 4096);
    ck_assert_msg(r->cut_seen, "%s: the page ended on a line end", r->k->name);
    /* Events 1..m went out (the m-th cut, then finished), m+1..200 were
     * dropped and counted at once, 201..210 followed the finished line. */
    ranges = file_events(r->k, r->path, &m);
    m -= 10;
    snprintf(want, sizeof(want), "1-%llu 201-210", (unsigned long long) m);
    ck_assert_str_eq(ranges, want);
    ck_assert_int_eq(r->dropped_live[0], 200 - (int64_t) m);
    ck_assert_int_eq(r->dropped_live[1], 200 - (int64_t) m);
    ck_assert_int_eq(harness_dropped(r->h, r->k->name), 200 - (int64_t) m);
    assert_log_has(r->k, r->log, "failed: No space left on device; dropped ", 1);
    assert_log_has(r->k, r->log, "keeping the rest of a cut line to finish it first", 1);
    assert_log_has(r->k, r->log, "' works again; ", 1);
    free(ranges);
}

START_TEST(test_short_write_finished) {
    run_on_last_page(feed_cut_then_room, check_cut_then_room);
}
END_TEST

static void feed_cut(struct harness_feed *f, void *userdata) {
    struct run *r = userdata;
    feed_range(f, 1, 200);
    r->size_seen = file_size(r->path);
    r->cut_seen = last_byte(r->path) != '\n';
    feed_range(f, 201, 210);
    r->dropped_live[0] = harness_dropped(r->h, r->k->name);
}

static void check_cut(struct cut_run *c) {
    struct run *r = &c->r;
    uint64_t written;

    ck_assert_int_eq(r->size_seen, 4096);
    ck_assert(r->cut_seen);
    /* At stop the cut line is cut off the file again and counted: the file
     * holds whole lines only, every other event is counted. */
    free(file_events(r->k, r->path, &written));
    ck_assert_int_lt(file_size(r->path), 4096);
    ck_assert_int_eq(written + (uint64_t) harness_dropped(r->h, r->k->name), 210);
    /* Live: all but the cut line (counted at stop) before the end. */
    ck_assert_int_eq(r->dropped_live[0], 210 - (int64_t) written - 1);
    assert_log_has(r->k, r->log, "removed the cut line at the end of '", 1);
}

START_TEST(test_short_write_never_finished) {
    run_on_last_page(feed_cut, check_cut);
}
END_TEST

/* Log rotation while a line is cut: the cut goes from the old file, the
 * event goes whole into the new one. */
static void feed_cut_then_rotate(struct harness_feed *f, void *userdata) {
    struct cut_run *c = userdata;
    struct run *r = &c->r;
    int fd;

    feed_range(f, 1, 200);
    ck_assert_int_eq(unlink(c->filler), 0);
    ck_assert_int_eq(rename(r->path, c->rotated), 0);
    fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    ck_assert_int_ge(fd, 0);
    close(fd);
    /* The sink looks at the path once a second. */
    nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 100 * 1000 * 1000 }, NULL);
    feed_range(f, 201, 210);
}

static void check_cut_then_rotate(struct cut_run *c) {
    struct run *r = &c->r;
    char *old, *cur, want[64];
    uint64_t n_old, n_cur;

    old = file_events(r->k, c->rotated, &n_old);
    cur = file_events(r->k, r->path, &n_cur);
    /* old: 1..m-1 whole; new: m (whole), then 201..210. */
    snprintf(want, sizeof(want), "1-%llu", (unsigned long long) n_old);
    ck_assert_str_eq(old, want);
    snprintf(want, sizeof(want), "%llu 201-210", (unsigned long long) n_old + 1);
    ck_assert_str_eq(cur, want);
    ck_assert_int_eq(harness_dropped(r->h, r->k->name), 200 - (int64_t) n_old - 1);
    assert_log_has(r->k, r->log, "removed the cut line at the end of '", 1);
    free(old);
    free(cur);
}

START_TEST(test_short_write_rotated) {
    run_on_last_page(feed_cut_then_rotate, check_cut_then_rotate);
}
END_TEST

/* ------------------------------------------------- deleted file and dir */

static void feed_delete_file(struct harness_feed *f, void *userdata) {
    struct run *r = userdata;
    uint64_t n;

    feed_range(f, 1, 10);
    ck_assert_int_eq(unlink(r->path), 0);
    /* The sink asks whether its file was deleted at most every 10 ms: a
     * quiet sink with the first write after the deletion. */
    nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
    feed_range(f, 11, 20);
    r->seen = file_events(r->k, r->path, &n);
    /* Deleted again at once: noticed by the next check, here at stop. */
    ck_assert_int_eq(unlink(r->path), 0);
    feed_range(f, 21, 30);
    r->dropped_live[0] = harness_dropped(r->h, r->k->name);
}

START_TEST(test_deleted_file) {
    mode_t old_umask = umask(077);

    for (size_t i = 0; i < N_SINKS; i++) {
        char *path = tu_path_in(dir, sinks[i].name), want[256];
        struct run r = { .k = &sinks[i], .path = path };
        struct stat st;

        run_sink(&r, feed_delete_file);
        /* The events written to a deleted file went whole into a new file,
         * mode 0640 again; none lost. */
        ck_assert_str_eq(r.seen, "11-20");
        assert_file_events(r.k, path, "21-30");
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        ck_assert_int_eq(r.dropped_live[0], 0);
        ck_assert_int_eq(harness_dropped(r.h, r.k->name), 0);
        snprintf(want, sizeof(want),
                 "'%s' was deleted; created it again and writing the 10 events written since "
                 "the last check to it again", path);
        assert_log_has(r.k, r.log, want, 2);
        ck_assert_int_eq(unlink(path), 0);
        free(r.seen);
        run_free(&r);
        free(path);
    }
    umask(old_umask);
}
END_TEST

static void feed_delete_dir(struct harness_feed *f, void *userdata) {
    struct run *r = userdata;
    char *sub = strdup(r->path);

    *strrchr(sub, '/') = '\0';
    feed_range(f, 1, 10);
    ck_assert_int_eq(unlink(r->path), 0);
    ck_assert_int_eq(rmdir(sub), 0);
    /* The sink asks whether its file was deleted at most every 10 ms. */
    nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
    feed_range(f, 11, 20); /* into the deleted file: dropped */
    r->dropped_live[0] = harness_dropped(r->h, r->k->name);
    feed_range(f, 21, 30); /* no file: dropped */
    r->dropped_live[1] = harness_dropped(r->h, r->k->name);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    /* The sink tries the path again once a second. */
    nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 100 * 1000 * 1000 }, NULL);
    feed_range(f, 31, 40);
    r->dropped_live[2] = harness_dropped(r->h, r->k->name);
    free(sub);
}

START_TEST(test_deleted_directory) {
    for (size_t i = 0; i < N_SINKS; i++) {
        char *sub = tu_path_in(dir, "sub"), *path = tu_path_in(sub, sinks[i].name), want[512];
        struct run r = { .k = &sinks[i], .path = path };

        ck_assert_int_eq(mkdir(sub, 0755), 0);
        run_sink(&r, feed_delete_dir);
        assert_file_events(r.k, path, "31-40");
        /* Counted as they were dropped, not at stop. */
        ck_assert_int_eq(r.dropped_live[0], 10);
        ck_assert_int_eq(r.dropped_live[1], 20);
        ck_assert_int_eq(r.dropped_live[2], 20);
        ck_assert_int_eq(harness_dropped(r.h, r.k->name), 20);
        /* Said once, clearly; and when it works again. */
        snprintf(want, sizeof(want),
                 "'%s' was deleted and cannot be created again: No such file or directory (its "
                 "directory is gone); dropping events (counted as dropped) and trying again "
                 "every second",
                 path);
        assert_log_has(r.k, r.log, want, 1);
        assert_log_has(r.k, r.log, "still cannot create", 0);
        snprintf(want, sizeof(want), "created '%s' again after ", path);
        assert_log_has(r.k, r.log, want, 1);
        assert_log_has(r.k, r.log, " s; 20 events were dropped while it was missing", 1);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rmdir(sub), 0);
        run_free(&r);
        free(path);
        free(sub);
    }
}
END_TEST

/* ------------------------------------------------------------- rotation */

static void feed_rotate(struct harness_feed *f, void *userdata) {
    struct run *r = userdata;
    char *rotated = NULL;
    int fd;

    feed_range(f, 1, 10);
    ck_assert_int_ge(asprintf(&rotated, "%s.1", r->path), 0);
    ck_assert_int_eq(rename(r->path, rotated), 0);
    fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    ck_assert_int_ge(fd, 0);
    close(fd);
    free(rotated);
    nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 100 * 1000 * 1000 }, NULL);
    feed_range(f, 11, 20);
}

START_TEST(test_rotation) {
    for (size_t i = 0; i < N_SINKS; i++) {
        char *path = tu_path_in(dir, sinks[i].name), *rotated = NULL;
        struct run r = { .k = &sinks[i], .path = path };

        ck_assert_int_ge(asprintf(&rotated, "%s.1", path), 0);
        run_sink(&r, feed_rotate);
        assert_file_events(r.k, rotated, "1-10");
        assert_file_events(r.k, path, "11-20");
        ck_assert_int_eq(harness_dropped(r.h, r.k->name), 0);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(unlink(rotated), 0);
        free(rotated);
        run_free(&r);
        free(path);
    }
}
END_TEST

/* ------------------------------------------------------------------ mode */

static void feed_ten(struct harness_feed *f, void *userdata) {
    feed_range(f, 1, 10);
}

START_TEST(test_mode_under_umask_077) {
    mode_t old_umask = umask(077); /* the unit's UMask= */

    for (size_t i = 0; i < N_SINKS; i++) {
        char *path = tu_path_in(dir, sinks[i].name);
        struct run r = { .k = &sinks[i], .path = path };
        struct stat st;

        /* Created: 0640, as documented, whatever the umask. */
        run_sink(&r, feed_ten);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        assert_file_events(r.k, path, "1-10");
        run_free(&r);
        /* An existing file keeps its mode. */
        ck_assert_int_eq(chmod(path, 0600), 0);
        run_sink(&r, feed_ten);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(unlink(path), 0);
        run_free(&r);
        free(path);
    }
    umask(old_umask);
}
END_TEST

/* ----------------------------------------------------- journal on stdout */

static void set_journal_stream(dev_t dev, ino_t ino) {
    char v[64];
    snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long) dev, (unsigned long long) ino);
    ck_assert_int_eq(setenv("JOURNAL_STREAM", v, 1), 0);
}

START_TEST(test_stdout_journal_refused) {
    char *out_path = tu_path_in(dir, "stdout");

    for (size_t i = 0; i < N_SINKS; i++) {
        const struct sink *k = &sinks[i];
        struct harness *h = harness_new(k->plugin);
        char *y = sink_yaml(k, ""), want[512];
        int saved = tu_redirect_fd(STDOUT_FILENO, out_path);
        struct stat st;
        uint64_t n;

        ck_assert_int_eq(fstat(STDOUT_FILENO, &st), 0);
        /* $JOURNAL_STREAM names our standard output: the session fails with
         * the reason and what to do instead; nothing is written. */
        set_journal_stream(st.st_dev, st.st_ino);
        snprintf(want, sizeof(want),
                 "operator '%s': pre_start failed: standard output is the systemd journal "
                 "($JOURNAL_STREAM): events written there would flood it and crowd out ophostd's "
                 "own messages; give param 'path' a file (e.g. path: /var/log/ophost/t%s) or use "
                 "the journal sink",
                 k->name, k->suffix);
        harness_assert_fails(h, y, feed_ten, NULL, -EINVAL, want);
        /* It names another stream (stderr goes to the journal, stdout not). */
        set_journal_stream(st.st_dev, st.st_ino + 1);
        ck_assert_int_eq(harness_run(h, y, feed_ten, NULL, NULL), 0);
        unsetenv("JOURNAL_STREAM");
        tu_restore_fd(STDOUT_FILENO, saved);
        free(file_events(k, out_path, &n));
        ck_assert_uint_eq(n, 10);
        ck_assert_int_eq(unlink(out_path), 0);
        free(y);
        harness_free(h);
    }
    free(out_path);
}
END_TEST

int main(void) {
    return tu_run_suite("sink-output", 0, setup, teardown, (const TTest *const[]){
        test_full_disk,
        test_short_write_finished,
        test_short_write_never_finished,
        test_short_write_rotated,
        test_deleted_file,
        test_deleted_directory,
        test_rotation,
        test_mode_under_umask_077,
        test_stdout_journal_refused,
        NULL,
    });
}

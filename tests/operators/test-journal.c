/* test-journal.c — the journal sink: the fields of the entries it sends,
 * the MESSAGE template, PRIORITY, names and bad params.
 *
 * Entries are read back from the real journal with sd-journal when journald
 * runs (matching OPHOST_SESSION= on a session name unique to this run).
 * Without journald, as root, the test stands in for it: in a private mount
 * namespace it mounts a tmpfs on /run and binds its own datagram socket at
 * /run/systemd/journal/socket, where sd_journal_sendv sends, and parses the
 * journal's native protocol. Otherwise it is skipped with the reason. */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "harness.h"
#include "testutil.h"

#define SOCKET_PATH "/run/systemd/journal/socket"
#define MAX_ITEMS 64

static const char *const plugins[] = { TEST_PLUGIN_DIR "/journal.so", NULL };

static int fake_fd = -1; /* our stand-in journal socket, or -1 with journald */
static char run_id[32];

struct entry {
    size_t n;
    char *key[MAX_ITEMS];
    char *value[MAX_ITEMS];
    size_t len[MAX_ITEMS];
};

static void entry_add(struct entry *e, const char *key, size_t key_len, const void *value,
                      size_t len) {
    ck_assert_uint_lt(e->n, MAX_ITEMS);
    e->key[e->n] = strndup(key, key_len);
    e->value[e->n] = malloc(len + 1);
    memcpy(e->value[e->n], value, len);
    e->value[e->n][len] = '\0';
    e->len[e->n] = len;
    e->n++;
}

static void entry_clear(struct entry *e) {
    for (size_t i = 0; i < e->n; i++) {
        free(e->key[i]);
        free(e->value[i]);
    }
    e->n = 0;
}

/* The value of key, or NULL; trusted fields (leading '_') are not kept. */
static const char *entry_get(const struct entry *e, const char *key) {
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->key[i], key) == 0)
            return e->value[i];
    return NULL;
}

/* Parses one datagram of the native protocol: "KEY=value\n" or
 * "KEY\n" + 64-bit little-endian length + value + "\n". */
static void parse_native(const char *p, size_t n, struct entry *e) {
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eq = memchr(p, '=', nl ? (size_t) (nl - p) : (size_t) (end - p));
        ck_assert_ptr_nonnull(nl);
        if (eq) {
            entry_add(e, p, (size_t) (eq - p), eq + 1, (size_t) (nl - eq - 1));
            p = nl + 1;
        } else {
            uint64_t len = 0;
            ck_assert_int_ge(end - nl, 9);
            for (int i = 0; i < 8; i++)
                len |= (uint64_t) (unsigned char) nl[1 + i] << (8 * i);
            ck_assert_uint_le(len, (uint64_t) (end - nl - 9));
            entry_add(e, p, (size_t) (nl - p), nl + 9, (size_t) len);
            ck_assert_int_eq(nl[9 + len], '\n');
            p = nl + 10 + len;
        }
    }
}

/* Collects the entries of session `name` into entries[0..want] (want + 1
 * slots, so that one too many shows); returns how many there were. */
static size_t collect(const char *name, struct entry *entries, size_t want) {
    size_t got = 0;

    if (fake_fd >= 0) {
        static char buf[256 * 1024];
        ssize_t n;
        /* The sink sends synchronously: everything is queued already. */
        while (got <= want && (n = recv(fake_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            const char *session;
            parse_native(buf, (size_t) n, &entries[got]);
            session = entry_get(&entries[got], "OPHOST_SESSION");
            if (!session || strcmp(session, name) != 0) {
                entry_clear(&entries[got]);
                continue;
            }
            got++;
        }
        return got;
    }

    sd_journal *j = NULL;
    char *match = NULL;
    ck_assert_int_eq(sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY), 0);
    ck_assert_int_ge(asprintf(&match, "OPHOST_SESSION=%s", name), 0);
    ck_assert_int_eq(sd_journal_add_match(j, match, 0), 0);
    /* journald stores asynchronously: wait up to 10 s. */
    for (int tries = 0; tries < 100; tries++) {
        size_t count = 0;
        sd_journal_seek_head(j);
        while (sd_journal_next(j) > 0)
            count++;
        if (count >= want)
            break;
        sd_journal_wait(j, 100 * 1000);
    }
    sd_journal_seek_head(j);
    while (got <= want && sd_journal_next(j) > 0) {
        const void *data;
        size_t len;
        SD_JOURNAL_FOREACH_DATA(j, data, len) {
            const char *eq = memchr(data, '=', len);
            if (!eq || ((const char *) data)[0] == '_')
                continue;
            entry_add(&entries[got], data, (size_t) (eq - (const char *) data), eq + 1,
                      len - (size_t) (eq + 1 - (const char *) data));
        }
        got++;
    }
    sd_journal_close(j);
    free(match);
    return got;
}

static void session_name(char *buf, size_t size, const char *what) {
    snprintf(buf, size, "%s-%s", what, run_id);
}

static int run(const char *name, const char *fields, const char *params, harness_feed_fn fn,
               char **ret_error) {
    struct harness *h = harness_new(plugins);
    char *y = NULL;
    int r;

    ck_assert_int_ge(asprintf(&y,
                              "%s:\n"
                              "  gadget: feed\n"
                              "  operators:\n"
                              "    feed: {fields: '%s'}\n"
                              "    journal: {%s}\n",
                              name, fields, params),
                     0);
    r = harness_run(h, y, fn, NULL, ret_error);
    free(y);
    harness_free(h);
    return r;
}

/* ------------------------------------------------------------- tests */

#define FIELDS "pid:u32,comm:string,ts:timestamp,ok:bool,delta:s64,raw:bytes,my-field.x:u8," \
               "unset:string"

static void feed_two(struct harness_feed *f, void *userdata) {
    struct ophost_event *e = harness_append(f);
    harness_set_u64(f, e, "pid", 42);
    harness_set_string(f, e, "comm", "bash");
    harness_set_u64(f, e, "ts", 1700000000123456789ull);
    harness_set_bool(f, e, "ok", true);
    harness_set_s64(f, e, "delta", -7);
    harness_set_bytes(f, e, "raw", "\x01\xff", 2);
    harness_set_u64(f, e, "my-field.x", 9);
    e = harness_append(f);
    harness_set_u64(f, e, "pid", 43);
    harness_set_string(f, e, "comm", "two\nlines");
}

START_TEST(test_fields) {
    struct entry e[3] = { { 0 } };
    char name[64], *err = NULL;

    session_name(name, sizeof(name), "fields");
    ck_assert_int_eq(run(name, FIELDS,
                         "message: '{comm}[{pid}] {{literal}} {unset} {raw}', priority: warning",
                         feed_two, &err),
                     0);
    ck_assert_uint_eq(collect(name, e, 2), 2);

    ck_assert_str_eq(entry_get(&e[0], "MESSAGE"), "bash[42] {literal} - 01ff");
    ck_assert_str_eq(entry_get(&e[0], "PRIORITY"), "4");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_SESSION"), name);
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_PID"), "42");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_COMM"), "bash");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_TS"), "1700000000123456789");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_OK"), "true");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_DELTA"), "-7");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_RAW"), "01ff");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_MY_FIELD_X"), "9");
    ck_assert_ptr_null(entry_get(&e[0], "OPHOST_UNSET"));
    /* libsystemd adds the program's name. */
    ck_assert_str_eq(entry_get(&e[0], "SYSLOG_IDENTIFIER"), program_invocation_short_name);
    ck_assert_uint_eq(e[0].n, 11);

    /* A value with a newline is sent binary-safe and arrives whole. */
    ck_assert_str_eq(entry_get(&e[1], "MESSAGE"), "two\nlines[43] {literal} - -");
    ck_assert_str_eq(entry_get(&e[1], "OPHOST_COMM"), "two\nlines");
    ck_assert_str_eq(entry_get(&e[1], "OPHOST_OK"), "false");
    ck_assert_ptr_null(entry_get(&e[1], "OPHOST_RAW"));
    ck_assert_uint_eq(e[1].n, 10);
    entry_clear(&e[0]);
    entry_clear(&e[1]);
}
END_TEST

static void feed_seq(struct harness_feed *f, void *userdata) {
    harness_set_u64(f, harness_append(f), "seq", 5);
}

/* Runs session "<what>-<run id>" (its name into name): feed_seq through
 * journal(params); its one entry into e[0] (e has two slots). */
static void run_seq(const char *what, const char *params, char name[64], struct entry *e) {
    session_name(name, 64, what);
    ck_assert_int_eq(run(name, "seq:u64", params, feed_seq, NULL), 0);
    ck_assert_uint_eq(collect(name, e, 1), 1);
}

START_TEST(test_defaults_and_prefix) {
    struct entry e[2] = { { 0 } };
    char name[64], expected[128];

    run_seq("defaults", "", name, e);
    snprintf(expected, sizeof(expected), "event from session %s", name);
    ck_assert_str_eq(entry_get(&e[0], "MESSAGE"), expected);
    ck_assert_str_eq(entry_get(&e[0], "PRIORITY"), "6");
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_SEQ"), "5");
    ck_assert_uint_eq(e[0].n, 5);
    entry_clear(&e[0]);

    run_seq("prefix", "prefix: 'EV_', priority: '2'", name, e);
    ck_assert_str_eq(entry_get(&e[0], "EV_SEQ"), "5");
    ck_assert_str_eq(entry_get(&e[0], "PRIORITY"), "2");
    ck_assert_ptr_null(entry_get(&e[0], "OPHOST_SEQ"));
    entry_clear(&e[0]);

    /* An empty prefix: the field names alone. */
    run_seq("noprefix", "prefix: ''", name, e);
    ck_assert_str_eq(entry_get(&e[0], "SEQ"), "5");
    entry_clear(&e[0]);
}
END_TEST

static void expect_error(const char *fields, const char *params, int err, const char *text) {
    char name[64], *msg = NULL;

    session_name(name, sizeof(name), "bad");
    ck_assert_int_eq(run(name, fields, params, NULL, &msg), err);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, text) != NULL, "error: %s\nexpected: %s", msg, text);
    free(msg);
}

START_TEST(test_bad_params) {
    struct entry e[2] = { { 0 } };
    char name[64];

    expect_error("seq:u64", "prefix: 'bad-prefix'", -EINVAL,
                 "param 'prefix': 'bad-prefix' is not a journal field name prefix");
    expect_error("seq:u64", "prefix: '_X'", -EINVAL,
                 "param 'prefix': '_X' is not a journal field name prefix");
    expect_error("seq:u64", "message: 'x {nope} y'", -EINVAL,
                 "param 'message': no field 'nope' in data source 'events'");
    expect_error("seq:u64", "message: 'x {seq'", -EINVAL,
                 "param 'message': '{' at offset 2 is not closed by '}'");
    expect_error("seq:u64", "message: 'x } y'", -EINVAL,
                 "param 'message': '}' at offset 2 has no '{' (write '}}')");
    expect_error("message:string", "prefix: ''", -EINVAL,
                 "field 'message': journal field name 'MESSAGE' is set by the sink itself");
    expect_error("session:string", "", -EINVAL,
                 "field 'session': journal field name 'OPHOST_SESSION' is set by the sink itself");
    expect_error("a-b:u8,a_b:u8", "", -EINVAL,
                 "fields 'a-b' and 'a_b' both become journal field 'OPHOST_A_B'");
    expect_error("_x:u8", "prefix: ''", -EINVAL,
                 "field '_x': journal field name '_X' is invalid");
    expect_error("seq:u64", "priority: loud", -EINVAL, "priority");
    /* None of them sent anything: after one good run under the same name
     * (sent after them), its entry is the only one. */
    run_seq("bad", "", name, e);
    ck_assert_str_eq(entry_get(&e[0], "OPHOST_SEQ"), "5");
    entry_clear(&e[0]);
}
END_TEST

/* Sends that fail (journald gone) are counted as dropped, per event. */
START_TEST(test_send_failures) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = SOCKET_PATH };
    struct harness *h;
    char name[64], *y = NULL, *err = NULL;

    if (fake_fd < 0) {
        printf("SKIP send failures: journald runs here, only our own socket can be taken away\n");
        return;
    }
    session_name(name, sizeof(name), "nosocket");
    /* A socket file nobody reads: sends fail (ECONNREFUSED). A missing file
     * would not do: sd_journal_sendv() then drops silently. (Closing ours
     * would not do either: check's parent process holds it too.) */
    {
        int stale = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(unlink(SOCKET_PATH), 0);
        ck_assert_int_eq(bind(stale, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(stale);
    }
    ck_assert_int_ge(asprintf(&y,
                              "%s:\n  gadget: feed\n  operators:\n    feed: {fields: '" FIELDS "'}\n"
                              "    journal: {}\n",
                              name),
                     0);
    h = harness_new(plugins);
    ck_assert_int_eq(harness_run(h, y, feed_two, NULL, &err), 0);
    ck_assert_int_eq(harness_dropped(h, "journal"), 2);
    ck_assert_int_eq(harness_events_in(h, "journal"), 2);
    harness_free(h);
    free(y);
    /* A socket back, for any test after this one. */
    ck_assert_int_eq(unlink(SOCKET_PATH), 0);
    close(fake_fd);
    fake_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fake_fd, 0);
    ck_assert_int_eq(bind(fake_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
}
END_TEST

/* Stands in for journald in a private mount namespace; false with the
 * reason when that is not possible. */
static bool fake_journal(char *reason, size_t size) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = SOCKET_PATH };
    int bufsize = 4 * 1024 * 1024;

    if (unshare(CLONE_NEWNS) < 0) {
        snprintf(reason, size, "journald is not running (no %s) and unshare(CLONE_NEWNS) "
                 "failed: %s", SOCKET_PATH, strerror(errno));
        return false;
    }
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
        mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0) {
        snprintf(reason, size, "journald is not running and a private /run failed: %s",
                 strerror(errno));
        return false;
    }
    fake_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fake_fd < 0 || bind(fake_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        snprintf(reason, size, "cannot bind %s: %s", SOCKET_PATH, strerror(errno));
        return false;
    }
    (void) setsockopt(fake_fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize));
    return true;
}

int main(void) {
    struct stat st;
    char reason[256];
    int r;

    snprintf(run_id, sizeof(run_id), "%ld-%ld", (long) getpid(), (long) time(NULL));
    if (stat(SOCKET_PATH, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        if (!fake_journal(reason, sizeof(reason))) {
            printf("SKIP: %s\n", reason);
            return 77;
        }
        printf("journald is not running: reading the entries at our own %s in a private "
               "mount namespace\n", SOCKET_PATH);
    }
    r = tu_run_tests("journal", 0, (const TTest *const[]){
        test_fields,
        test_defaults_and_prefix,
        test_bad_params,
        test_send_failures,
        NULL,
    });
    if (fake_fd >= 0)
        close(fake_fd);
    return r;
}

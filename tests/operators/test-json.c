/* test-json.c — the json sink: exact lines for every field type, the
 * escaping table, 10,000 random strings parsed back strictly by json-c,
 * buffer boundaries, reopening after log rotation, write errors. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "testutil.h"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/json.so", NULL };

static char *dir, *out_path;

static void setup(void) {
    dir = tu_make_dir("json");
    out_path = tu_path_in(dir, "out.json");
}

static void teardown(void) {
    tu_remove_tree(dir);
    free(out_path);
    free(dir);
}

static char *yaml_with_path(const char *fields, const char *path) {
    char ops[256];
    snprintf(ops, sizeof(ops), "    json: {path: '%s'}\n", path);
    return harness_feed_yaml(fields, ops);
}

/* Runs feed -> json(path=out_path) and returns the file's content. */
static char *run_to_file(const char *fields, harness_feed_fn fn, void *userdata) {
    struct harness *h = harness_new(plugins);
    char *y = yaml_with_path(fields, out_path), *err = NULL;
    int r = harness_run(h, y, fn, userdata, &err);

    ck_assert_msg(r == 0, "session failed: %s", err ? err : "?");
    free(y);
    harness_free(h);
    return tu_read_existing_file(out_path);
}

/* ------------------------------------------------------------- types */

#define ALL_TYPES "a:u8,b:u16,c:u32,d:u64,e:s32,f:s64,g:bool,ts:timestamp,s:string,raw:bytes"

static void feed_types(struct harness_feed *f, void *userdata) {
    struct ophost_event *e = harness_append(f);
    harness_set_u64(f, e, "a", 255);
    harness_set_u64(f, e, "b", 65535);
    harness_set_u64(f, e, "c", 4294967295u);
    harness_set_u64(f, e, "d", UINT64_MAX);
    harness_set_s64(f, e, "e", INT32_MIN);
    harness_set_s64(f, e, "f", INT64_MIN);
    harness_set_bool(f, e, "g", true);
    harness_set_u64(f, e, "ts", 1700000000123456789ull);
    harness_set_string(f, e, "s", "hello");
    harness_set_bytes(f, e, "raw", "\x00\x01\xab\xff", 4);

    e = harness_append(f); /* everything zero, strings unset */

    e = harness_append(f);
    harness_set_u64(f, e, "a", 7);
    harness_set_u64(f, e, "ts", UINT64_MAX);
    harness_set_s64(f, e, "e", INT32_MAX);
    harness_set_s64(f, e, "f", INT64_MAX);
    harness_set_string(f, e, "s", "");
    harness_set_bytes(f, e, "raw", "", 0);
}

START_TEST(test_types) {
    char *out = run_to_file(ALL_TYPES, feed_types, NULL);
    ck_assert_str_eq(out,
                     "{\"a\":255,\"b\":65535,\"c\":4294967295,\"d\":18446744073709551615,"
                     "\"e\":-2147483648,\"f\":-9223372036854775808,\"g\":true,"
                     "\"ts\":\"2023-11-14T22:13:20.123456789Z\",\"s\":\"hello\",\"raw\":\"0001abff\"}\n"
                     "{\"a\":0,\"b\":0,\"c\":0,\"d\":0,\"e\":0,\"f\":0,\"g\":false,"
                     "\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"s\":null,\"raw\":null}\n"
                     "{\"a\":7,\"b\":0,\"c\":0,\"d\":0,\"e\":2147483647,\"f\":9223372036854775807,"
                     "\"g\":false,"
                     "\"ts\":\"2554-07-21T23:34:33.709551615Z\",\"s\":\"\",\"raw\":\"\"}\n");
    free(out);
}
END_TEST

/* Dotted names nest (in the order of their first field); a name whose
 * leading part is another field's name, or with an empty part, stays one
 * key: the rule of event-json.h, the same as ophostctl's --json. */
static void feed_nested(struct harness_feed *f, void *userdata) {
    struct ophost_event *e = harness_append(f);
    harness_set_u64(f, e, "pid", 1);
    harness_set_string(f, e, "proc.exe", "/bin/sh");
    harness_set_u64(f, e, "a", 2);
    harness_set_u64(f, e, "proc.ppid", 3);
    harness_set_u64(f, e, "a.b", 4);
    harness_set_u64(f, e, "x.y.z", 5);
    harness_set_u64(f, e, "x.w", 6);
    harness_set_u64(f, e, "x.", 7);
}

START_TEST(test_nested) {
    char *out = run_to_file("pid:u32,proc.exe:string,a:u8,proc.ppid:u32,a.b:u8,x.y.z:u8,x.w:u8,x.:u8",
                            feed_nested, NULL);
    ck_assert_str_eq(out, "{\"pid\":1,\"proc\":{\"exe\":\"/bin/sh\",\"ppid\":3},\"a\":2,"
                          "\"a.b\":4,\"x\":{\"y\":{\"z\":5},\"w\":6},\"x.\":7}\n");
    free(out);
}
END_TEST

static void feed_numbers(struct harness_feed *f, void *userdata) {
    /* Every digit count of the integer formatter. */
    uint64_t v = 1;
    for (int i = 0; i < 20; i++, v *= 10) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "u", v - 1);
        harness_set_s64(f, e, "s", -(int64_t) (v / 10) - (int64_t) (i % 2));
    }
}

START_TEST(test_numbers) {
    char *out = run_to_file("u:u64,s:s64", feed_numbers, NULL), *expected = strdup(""), *line;
    uint64_t v = 1;

    for (int i = 0; i < 20; i++, v *= 10) {
        char *n;
        ck_assert_int_ge(asprintf(&n, "%s{\"u\":%llu,\"s\":%lld}\n", expected,
                                  (unsigned long long) (v - 1),
                                  (long long) (-(int64_t) (v / 10) - (int64_t) (i % 2))),
                         0);
        free(expected);
        expected = n;
    }
    ck_assert_str_eq(out, expected);
    line = strstr(out, "\"u\":9999999999999999999,");
    ck_assert_ptr_nonnull(line);
    free(out);
    free(expected);
}
END_TEST

/* --------------------------------------------------------- escaping */

static const struct {
    const char *in;
    size_t len;
    const char *out; /* the JSON string without quotes */
} escapes[] = {
#define E(in, out) { in, sizeof(in) - 1, out }
    E("plain text", "plain text"),
    E("a\"b", "a\\\"b"),
    E("a\\b", "a\\\\b"),
    E("/", "/"),
    E("\n", "\\n"),
    E("\t", "\\t"),
    E("\r", "\\r"),
    E("\b", "\\b"),
    E("\f", "\\f"),
    E("\x01", "\\u0001"),
    E("\x1f", "\\u001f"),
    E("\x7f", "\\u007f"),
    E("a\0b", "a\\u0000b"),
    E(" ~", " ~"),
    /* valid UTF-8 passes through */
    E("\xc3\xa9", "\xc3\xa9"),                 /* U+00E9 */
    E("\xc2\x80", "\xc2\x80"),                 /* U+0080, smallest 2-byte */
    E("\xe2\x82\xac", "\xe2\x82\xac"),         /* U+20AC */
    E("\xe0\xa0\x80", "\xe0\xa0\x80"),         /* U+0800, smallest 3-byte */
    E("\xed\x9f\xbf", "\xed\x9f\xbf"),         /* U+D7FF, below the surrogates */
    E("\xee\x80\x80", "\xee\x80\x80"),         /* U+E000, above the surrogates */
    E("\xef\xbf\xbf", "\xef\xbf\xbf"),         /* U+FFFF */
    E("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"), /* U+1F600 */
    E("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"), /* U+10FFFF */
    E("\xe2\x80\xa8", "\xe2\x80\xa8"),         /* U+2028 is valid JSON */
    /* each invalid byte becomes U+FFFD */
    E("\xff", "\xef\xbf\xbd"),
    E("\xfe", "\xef\xbf\xbd"),
    E("\x80", "\xef\xbf\xbd"),
    E("\xbf", "\xef\xbf\xbd"),
    E("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"),                 /* overlong '/' */
    E("\xc1\xbf", "\xef\xbf\xbd\xef\xbf\xbd"),                 /* overlong */
    E("\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* overlong */
    E("\xe0\x9f\xbf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* overlong */
    E("\xf0\x8f\xbf\xbf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* overlong */
    E("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* U+D800 */
    E("\xed\xbf\xbf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* U+DFFF */
    E("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* > U+10FFFF */
    E("\xf5\x80\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
    E("\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"),                 /* truncated at the end */
    E("\xe2\x82" "A", "\xef\xbf\xbd\xef\xbf\xbd" "A"),        /* truncated, then ASCII */
    E("\xf0\x9f\x98", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
    E("\xc3" "\xc3\xa9", "\xef\xbf\xbd\xc3\xa9"),               /* lead byte, then valid */
    E("x\xe9y\"", "x\xef\xbf\xbdy\\\""),                        /* Latin-1 */
#undef E
};

#define N_ESCAPES (sizeof(escapes) / sizeof(escapes[0]))

static void feed_escapes(struct harness_feed *f, void *userdata) {
    for (size_t i = 0; i < N_ESCAPES; i++)
        harness_set_bytes(f, harness_append(f), "s", escapes[i].in, escapes[i].len);
}

START_TEST(test_escaping) {
    char *out = run_to_file("s:string", feed_escapes, NULL), *p = out;

    for (size_t i = 0; i < N_ESCAPES; i++) {
        char *nl = strchr(p, '\n'), *expected;
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        ck_assert_int_ge(asprintf(&expected, "{\"s\":\"%s\"}", escapes[i].out), 0);
        ck_assert_msg(strcmp(p, expected) == 0, "escape #%zu: got %s, expected %s", i, p,
                      expected);
        free(expected);
        p = nl + 1;
    }
    ck_assert_str_eq(p, "");
    free(out);
}
END_TEST

/* ------------------------------------------------------------- fuzz */

#define N_FUZZ 10000

static uint64_t rng_state;

static uint64_t rng(void) {
    /* xorshift64*: fixed seed, same strings on every run. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Random bytes weighted towards what breaks writers: control characters,
 * quotes, backslashes, UTF-8 lead and continuation bytes. */
static size_t random_string(unsigned char *buf, size_t max) {
    static const unsigned char special[] = { '"', '\\', '\n', 0, 0x7f, 0x1f, 0x80, 0xbf,
                                             0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
                                             0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f };
    size_t len = rng() % max;
    for (size_t i = 0; i < len; i++) {
        uint64_t x = rng();
        switch (x % 4) {
        case 0: buf[i] = (unsigned char) (x >> 8); break;
        case 1: buf[i] = special[(x >> 8) % sizeof(special)]; break;
        case 2: buf[i] = (unsigned char) (0x80 + (x >> 8) % 64); break;
        default: buf[i] = (unsigned char) (0x20 + (x >> 8) % 95); break;
        }
    }
    return len;
}

/* The reference transformation, written independently of the sink: decode
 * a code point, keep it if it is encoded minimally, is no surrogate and is
 * at most U+10FFFF; otherwise one U+FFFD for the first byte. */
static size_t expected_string(const unsigned char *in, size_t len, unsigned char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = in[i];
        size_t n = c < 0x80 ? 1 : c >> 5 == 6 ? 2 : c >> 4 == 14 ? 3 : c >> 3 == 30 ? 4 : 0;
        uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
        bool ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++) {
            ok = (in[i + k] & 0xc0) == 0x80;
            cp = cp << 6 | (in[i + k] & 0x3f);
        }
        if (ok && n > 1) {
            static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
            ok = cp >= min[n] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        }
        if (ok) {
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

static void feed_fuzz(struct harness_feed *f, void *userdata) {
    unsigned char buf[80];
    rng_state = 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < N_FUZZ; i++) {
        struct ophost_event *e = harness_append(f);
        size_t len = random_string(buf, sizeof(buf));
        harness_set_u64(f, e, "n", i);
        harness_set_bytes(f, e, "s", buf, len);
    }
}

START_TEST(test_fuzz_roundtrip) {
    char *out = run_to_file("n:u64,s:string", feed_fuzz, NULL), *p = out;
    struct json_tokener *tok = json_tokener_new();
    unsigned char in[80], expected[80 * 3];
    size_t lines = 0, invalid_inputs = 0;

    ck_assert_ptr_nonnull(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    rng_state = 0x9e3779b97f4a7c15ull;
    for (; *p; lines++) {
        char *nl = strchr(p, '\n');
        size_t line_len, in_len, exp_len;
        struct json_object *obj, *n, *s;

        ck_assert_ptr_nonnull(nl);
        line_len = (size_t) (nl - p);
        json_tokener_reset(tok);
        obj = json_tokener_parse_ex(tok, p, (int) line_len);
        ck_assert_msg(obj != NULL && json_tokener_get_error(tok) == json_tokener_success,
                      "line %zu does not parse: %s: %.*s", lines,
                      json_tokener_error_desc(json_tokener_get_error(tok)), (int) line_len, p);
        ck_assert_uint_eq(json_tokener_get_parse_end(tok), line_len);
        ck_assert_int_eq(json_object_object_length(obj), 2);
        ck_assert(json_object_object_get_ex(obj, "n", &n));
        ck_assert(json_object_object_get_ex(obj, "s", &s));
        ck_assert_uint_eq((uint64_t) json_object_get_int64(n), lines);
        ck_assert(json_object_is_type(s, json_type_string));

        in_len = random_string(in, sizeof(in));
        exp_len = expected_string(in, in_len, expected);
        invalid_inputs += exp_len != in_len || memcmp(in, expected, in_len) != 0;
        ck_assert_uint_eq((size_t) json_object_get_string_len(s), exp_len);
        ck_assert_msg(memcmp(json_object_get_string(s), expected, exp_len) == 0,
                      "line %zu: string differs", lines);
        json_object_put(obj);
        p = nl + 1;
    }
    ck_assert_uint_eq(lines, N_FUZZ);
    /* The fuzz exercised the replacement path a lot, not just clean text. */
    ck_assert_uint_gt(invalid_inputs, N_FUZZ / 2);
    json_tokener_free(tok);
    free(out);
}
END_TEST

/* -------------------------------------------------- buffer boundaries */

#define BIG (1024 * 1024 + 3)

static void feed_big(struct harness_feed *f, void *userdata) {
    char *s = malloc(BIG + 1);
    /* One event larger than the sink's buffer: all quotes, 2 bytes each. */
    memset(s, '"', BIG);
    harness_set_bytes(f, harness_append(f), "s", s, BIG);
    harness_flush(f);
    /* Many events that overflow the buffer within one batch. */
    memset(s, 'x', 3000);
    for (int i = 0; i < 250; i++) {
        struct ophost_event *e = harness_append(f);
        harness_set_u64(f, e, "n", (uint64_t) i);
        harness_set_bytes(f, e, "s", s, 1000 + (size_t) i * 8);
    }
    free(s);
}

START_TEST(test_big_events) {
    char *out, *p;

    free(run_to_file("n:u64,s:string", feed_big, NULL));
    out = tu_read_existing_file(out_path);
    p = out;
    ck_assert(strncmp(p, "{\"n\":0,\"s\":\"\\\"\\\"", 16) == 0);
    p = strchr(p, '\n');
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((size_t) (p - out), strlen("{\"n\":0,\"s\":\"\"}") + 2 * (size_t) BIG);
    p++;
    for (int i = 0; i < 250; i++) {
        char head[32];
        char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        snprintf(head, sizeof(head), "{\"n\":%d,\"s\":\"", i);
        ck_assert(strncmp(p, head, strlen(head)) == 0);
        ck_assert_uint_eq((size_t) (nl - p), strlen(head) + 1000 + (size_t) i * 8 + 2);
        ck_assert(strncmp(nl - 3, "x\"}", 3) == 0);
        p = nl + 1;
    }
    ck_assert_str_eq(p, "");
    free(out);
}
END_TEST

/* ----------------------------------------------------------- stdout */

static uint64_t two = 2;

START_TEST(test_stdout) {
    struct harness *h = harness_new(plugins);
    char *path = tu_path_in(dir, "stdout"), *out;
    int saved = tu_redirect_fd(STDOUT_FILENO, path);

    ck_assert_int_eq(harness_run(h, "t:\n  gadget: feed\n  operators:\n    json: {}\n",
                                 harness_feed_seq, &two, NULL),
                     0);
    tu_restore_fd(STDOUT_FILENO, saved);
    out = tu_read_existing_file(path);
    ck_assert_str_eq(out, "{\"seq\":1}\n{\"seq\":2}\n");
    /* The sink passes the events on. */
    ck_assert_str_eq(harness_output(h), "seq=1\nseq=2\n");
    ck_assert_int_eq(harness_events_in(h, "json"), 2);
    free(out);
    free(path);
    harness_free(h);
}
END_TEST

START_TEST(test_append) {
    FILE *f = fopen(out_path, "we");
    char *out;
    struct stat st;

    fputs("old line\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(out_path, 0600), 0);
    out = run_to_file("seq:u64", harness_feed_seq, &two);
    ck_assert_str_eq(out, "old line\n{\"seq\":1}\n{\"seq\":2}\n");
    free(out);
    /* A new file is created 0640 (before the umask). */
    ck_assert_int_eq(unlink(out_path), 0);
    umask(022);
    free(run_to_file("seq:u64", harness_feed_seq, &two));
    ck_assert_int_eq(stat(out_path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0640);
}
END_TEST

/* ------------------------------------------------------------ reopen */

struct rotate {
    char rotated[160];
    uint64_t emitted;
    bool switched;
};

static bool file_has_content(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static void feed_rotate(struct harness_feed *f, void *userdata) {
    struct rotate *rot = userdata;
    int fd;

    harness_set_u64(f, harness_append(f), "seq", ++rot->emitted);
    harness_flush(f);
    /* logrotate's move-and-create, without any signal. */
    ck_assert_int_eq(rename(out_path, rot->rotated), 0);
    fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    ck_assert_int_ge(fd, 0);
    close(fd);
    /* The sink checks at most once a second; wait up to 5 s for it. */
    for (int i = 0; i < 100 && !rot->switched; i++) {
        nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
        harness_set_u64(f, harness_append(f), "seq", ++rot->emitted);
        harness_flush(f);
        rot->switched = file_has_content(out_path);
    }
    harness_set_u64(f, harness_append(f), "seq", ++rot->emitted);
}

START_TEST(test_reopen_after_rotation) {
    struct rotate rot = { .emitted = 0 };
    char *old, *cur, *all = strdup(""), *both;

    snprintf(rot.rotated, sizeof(rot.rotated), "%s.1", out_path);
    cur = run_to_file("seq:u64", feed_rotate, &rot);
    ck_assert(rot.switched);
    old = tu_read_existing_file(rot.rotated);
    /* Every event exactly once, in order, across the two files; the first
     * one in the old file, the last two in the new one. */
    for (uint64_t i = 1; i <= rot.emitted; i++) {
        char *n;
        ck_assert_int_ge(asprintf(&n, "%s{\"seq\":%llu}\n", all, (unsigned long long) i), 0);
        free(all);
        all = n;
    }
    ck_assert_int_ge(asprintf(&both, "%s%s", old, cur), 0);
    ck_assert_str_eq(both, all);
    ck_assert(strncmp(old, "{\"seq\":1}\n", 10) == 0);
    ck_assert_uint_ge(rot.emitted, 3);
    ck_assert_ptr_nonnull(strstr(cur, "}\n{\"seq\":"));
    free(old);
    free(cur);
    free(all);
    free(both);
}
END_TEST

/* ------------------------------------------------------- write errors */

struct live_drops {
    struct harness *h;
    int64_t seen[3]; /* json's dropped counter after each batch, read live */
};

static void feed_batches(struct harness_feed *f, void *userdata) {
    struct live_drops *d = userdata;
    for (uint64_t i = 1; i <= 6; i++) {
        harness_set_u64(f, harness_append(f), "seq", i);
        if (i % 2 == 0) {
            harness_flush(f);
            d->seen[i / 2 - 1] = harness_dropped(d->h, "json");
        }
    }
}

START_TEST(test_write_error) {
    struct harness *h = harness_new(plugins);
    char *path = tu_path_in(dir, "stderr"), *log, *y = yaml_with_path("seq:u64", "/dev/full");
    char *err = NULL;
    int saved = tu_redirect_fd(STDERR_FILENO, path);
    struct live_drops d = { .h = h };
    const char *p = NULL;

    ck_assert_int_eq(harness_run(h, y, feed_batches, &d, &err), 0);
    tu_restore_fd(STDERR_FILENO, saved);
    log = tu_read_existing_file(path);
    /* The session stayed up: every event went on to the end. */
    ck_assert_int_eq(harness_events_in(h, "json"), 6);
    ck_assert_int_eq(harness_events_in(h, "capture"), 6);
    /* Each failed write drops its events and counts them at once, not at
     * stop: the stats show them while the session runs. */
    ck_assert_int_eq(d.seen[0], 2);
    ck_assert_int_eq(d.seen[1], 4);
    ck_assert_int_eq(d.seen[2], 6);
    ck_assert_int_eq(harness_dropped(h, "json"), 6);
    ck_assert_int_eq(harness_dropped(h, "capture"), 0);
    /* Every failure with its reason and what happens next; the total at stop. */
    for (int i = 1; i <= 3; i++) {
        char want[256];
        snprintf(want, sizeof(want),
                 "writing to '/dev/full' failed: No space left on device; dropped 2 events "
                 "(%d so far), trying again with the next events\n", 2 * i);
        p = strstr(p ? p : log, want);
        ck_assert_msg(p != NULL, "no '%s' in log: %s", want, log);
    }
    ck_assert_msg(strstr(log, "6 of 6 events could not be written to '/dev/full' and were "
                              "dropped (see the messages before)") != NULL,
                  "log: %s", log);
    free(log);
    free(y);
    free(path);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_path) {
    struct harness *h = harness_new(plugins);
    char *y = yaml_with_path("seq:u64", "/nonexistent/dir/x.json"), *err = NULL;

    ck_assert_int_eq(harness_run(h, y, harness_feed_seq, &two, &err), -ENOENT);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "param 'path': cannot open '/nonexistent/dir/x.json': No such file "
                              "or directory") != NULL,
                  "error: %s", err);
    free(err);
    free(y);
    harness_free(h);
}
END_TEST

int main(void) {
    return tu_run_suite("json", 0, setup, teardown, (const TTest *const[]){
        test_types,
        test_nested,
        test_numbers,
        test_escaping,
        test_fuzz_roundtrip,
        test_big_events,
        test_stdout,
        test_append,
        test_reopen_after_rotation,
        test_write_error,
        test_bad_path,
        NULL,
    });
}

/* test-config.c — tests for daemon/config.c: the YAML features we promise,
 * the exact error lines for broken input, and the limits on hostile input. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ophost/ophost.h>

#include "config.h"
#include "testutil.h"

#ifndef TEST_CONFIG_DIR
#define TEST_CONFIG_DIR "tests/config"
#endif

#define SEC 1000000000ull
#define ERRS(...) ((const char *const[]) {__VA_ARGS__, NULL})

static void assert_errors(const struct errors *e, const char *const *want) {
    size_t n = 0;

    while (want[n])
        n++;
    if (e->n != n) {
        for (size_t i = 0; e->lines && e->lines[i]; i++)
            fprintf(stderr, "got: %s\n", e->lines[i]);
        ck_abort_msg("expected %zu error lines, got %zu", n, e->n);
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(e->lines[i], want[i]);
}

/* Parses text as "t.yaml" into a new set; the result must be freed. */
static struct config_pipelines *parse(const char *text, int want_r, const char *const *want) {
    struct config_pipelines *p = calloc(1, sizeof(*p));
    struct errors e = {0};
    int r;

    ck_assert_ptr_nonnull(p);
    r = config_parse_pipelines("t.yaml", text, strlen(text), p, &e);
    assert_errors(&e, want);
    ck_assert_int_eq(r, want_r);
    errors_clear(&e);
    return p;
}

static struct config_pipelines *parse_ok(const char *text) {
    return parse(text, 0, ERRS(NULL));
}

static void parse_invalid(const char *text, const char *const *want) {
    config_pipelines_free(parse(text, -EINVAL, want));
}

static const struct config_session *session(const struct config_pipelines *p, const char *name) {
    const struct config_session *s = config_pipelines_find(p, name);
    ck_assert_msg(s, "session '%s' not found", name);
    return s;
}

static void assert_pos(const struct config_pos *pos, const char *file, unsigned line,
                       unsigned column) {
    ck_assert_str_eq(pos->file, file);
    ck_assert_uint_eq(pos->line, line);
    ck_assert_uint_eq(pos->column, column);
}

static void assert_param(const struct config_operator *o, size_t i, const char *key,
                         const char *value) {
    ck_assert_uint_gt(o->n_params, i);
    ck_assert_str_eq(o->params[i].key, key);
    ck_assert_str_eq(o->params[i].value, value);
}

/* A scratch directory for files the tests write. */
static char *tmpdir;

static void tmp_setup(void) {
    tmpdir = tu_make_dir("config");
}

static void tmp_teardown(void) {
    tu_remove_tree(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
}

static char *tmp_write(const char *name, const char *text, size_t len) {
    char *path = tu_path_in(tmpdir, name);
    FILE *f;

    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* ---- valid input ---------------------------------------------------------- */

START_TEST(test_every_yaml_feature) {
    static const char text[] =
        "# A comment at the top\n"                                                   /* 1 */
        "base: &base            # a session that is also a template\n"              /* 2 */
        "  gadget: trace_exec\n"                                                     /* 3 */
        "  autostart: false\n"                                                       /* 4 */
        "  restart: on-failure\n"                                                    /* 5 */
        "  restart-delay: 500ms\n"                                                   /* 6 */
        "  operators: &ops\n"                                                        /* 7 */
        "    uidgid: {}\n"                                                           /* 8 */
        "    json: {path: \"/tmp/x y.json\"}\n"                                      /* 9 */
        "\n"                                                                         /* 10 */
        "flowy: {gadget: 'trace_open', duration: 10m, operators: {filter: {expr: \"comm==bash\"}, "
        "sort: {by: [pid, comm, \"x y\"]}}}\n"                                       /* 11 */
        "\n"                                                                         /* 12 */
        "derived:\n"                                                                 /* 13 */
        "  <<: *base\n"                                                              /* 14 */
        "  autostart: yes       # overrides the merged value\n"                      /* 15 */
        "  duration: 1m30s\n"                                                        /* 16 */
        "\n"                                                                         /* 17 */
        "multi:\n"                                                                   /* 18 */
        "  <<: [*base, {gadget: other, duration: 5s, autostart: off}]\n"             /* 19 */
        "  autostart: true\n"                                                        /* 20 */
        "  operators: *ops\n"                                                        /* 21 */
        "\n"                                                                         /* 22 */
        "nulls:\n"                                                                   /* 23 */
        "  gadget: snapshot_process\n"                                               /* 24 */
        "  operators:\n"                                                             /* 25 */
        "    uidgid:\n"                                                              /* 26 */
        "    print: ~\n"                                                             /* 27 */
        "    json: {path: '', level: 3}\n"                                           /* 28 */
        "    folded:\n"                                                              /* 29 */
        "      text: >-\n"                                                           /* 30 */
        "        a b\n"                                                              /* 31 */
        "        c\n"                                                                /* 32 */
        "      lit: |\n"                                                             /* 33 */
        "        x\n"                                                                /* 34 */
        "        y\n"                                                                /* 35 */
        "    json-merge:\n"                                                          /* 36 */
        "      <<: {path: /a, format: pretty}\n"                                     /* 37 */
        "      path: /b\n";                                                          /* 38 */
    struct config_pipelines *p = parse_ok(text);
    const struct config_session *s;
    const struct config_operator *o;

    ck_assert_uint_eq(p->n_sessions, 5);
    /* Sorted by name. */
    ck_assert_str_eq(p->sessions[0].name, "base");
    ck_assert_str_eq(p->sessions[1].name, "derived");
    ck_assert_str_eq(p->sessions[2].name, "flowy");
    ck_assert_str_eq(p->sessions[3].name, "multi");
    ck_assert_str_eq(p->sessions[4].name, "nulls");

    s = session(p, "base");
    ck_assert_str_eq(s->file, "t.yaml");
    assert_pos(&s->pos, "t.yaml", 2, 1);
    ck_assert_ptr_eq(s->pos.file, s->file);
    ck_assert_str_eq(s->gadget, "trace_exec");
    assert_pos(&s->gadget_pos, "t.yaml", 3, 11);
    ck_assert(!s->autostart);
    ck_assert_uint_eq(s->duration_nsec, 0);
    ck_assert_int_eq(s->restart, CONFIG_RESTART_ON_FAILURE);
    ck_assert_uint_eq(s->restart_delay_nsec, SEC / 2);
    ck_assert_uint_eq(s->n_operators, 2);
    ck_assert_str_eq(s->operators[0].name, "uidgid");
    assert_pos(&s->operators[0].pos, "t.yaml", 8, 5);
    ck_assert_uint_eq(s->operators[0].n_params, 0);
    ck_assert_str_eq(s->operators[1].name, "json");
    ck_assert_uint_eq(s->operators[1].n_params, 1);
    assert_param(&s->operators[1], 0, "path", "/tmp/x y.json");
    assert_pos(&s->operators[1].params[0].pos, "t.yaml", 9, 12);
    ck_assert_ptr_eq(s->operators[1].params[0].pos.file, s->file);

    /* Merged, with explicit keys overriding. */
    s = session(p, "derived");
    assert_pos(&s->pos, "t.yaml", 13, 1);
    ck_assert_str_eq(s->gadget, "trace_exec");
    assert_pos(&s->gadget_pos, "t.yaml", 3, 11); /* where it was written */
    ck_assert(s->autostart);
    ck_assert_uint_eq(s->duration_nsec, 90 * SEC);
    ck_assert_int_eq(s->restart, CONFIG_RESTART_ON_FAILURE);
    ck_assert_uint_eq(s->restart_delay_nsec, SEC / 2);
    ck_assert(!config_session_equal(s, session(p, "base")));
    ck_assert_uint_eq(s->n_operators, 2);
    ck_assert_str_eq(s->operators[0].name, "uidgid");
    ck_assert_str_eq(s->operators[1].name, "json");
    assert_param(&s->operators[1], 0, "path", "/tmp/x y.json");

    /* Flow style, quoted scalars, a list joined with ",". */
    s = session(p, "flowy");
    ck_assert_str_eq(s->gadget, "trace_open");
    assert_pos(&s->gadget_pos, "t.yaml", 11, 17);
    ck_assert(s->autostart);
    ck_assert_uint_eq(s->duration_nsec, 600 * SEC);
    ck_assert_int_eq(s->restart, CONFIG_RESTART_NO);
    ck_assert_uint_eq(s->restart_delay_nsec, SEC);
    ck_assert_uint_eq(s->n_operators, 2);
    o = &s->operators[0];
    ck_assert_str_eq(o->name, "filter");
    assert_pos(&o->pos, "t.yaml", 11, 58);
    ck_assert_uint_eq(o->n_params, 1);
    assert_param(o, 0, "expr", "comm==bash");
    o = &s->operators[1];
    ck_assert_str_eq(o->name, "sort");
    ck_assert_uint_eq(o->n_params, 1);
    assert_param(o, 0, "by", "pid,comm,x y");

    /* A merge list: the earlier map wins, explicit keys win over both. */
    s = session(p, "multi");
    ck_assert_str_eq(s->gadget, "trace_exec");
    ck_assert(s->autostart);
    ck_assert_uint_eq(s->duration_nsec, 5 * SEC);
    ck_assert_int_eq(s->restart, CONFIG_RESTART_ON_FAILURE);
    ck_assert_uint_eq(s->n_operators, 2);
    ck_assert_str_eq(s->operators[1].name, "json");

    /* Null params, block scalars, merge keys inside params. */
    s = session(p, "nulls");
    ck_assert_uint_eq(s->n_operators, 5);
    ck_assert_str_eq(s->operators[0].name, "uidgid");
    ck_assert_uint_eq(s->operators[0].n_params, 0);
    ck_assert_str_eq(s->operators[1].name, "print");
    ck_assert_uint_eq(s->operators[1].n_params, 0);
    o = &s->operators[2];
    ck_assert_str_eq(o->name, "json");
    ck_assert_uint_eq(o->n_params, 2);
    assert_param(o, 0, "path", "");
    assert_param(o, 1, "level", "3");
    assert_pos(&o->params[1].pos, "t.yaml", 28, 22);
    o = &s->operators[3];
    ck_assert_str_eq(o->name, "folded");
    ck_assert_uint_eq(o->n_params, 2);
    assert_param(o, 0, "text", "a b c");
    assert_param(o, 1, "lit", "x\ny\n");
    o = &s->operators[4];
    ck_assert_str_eq(o->name, "json-merge");
    ck_assert_uint_eq(o->n_params, 2);
    assert_param(o, 0, "format", "pretty");
    assert_param(o, 1, "path", "/b");

    config_pipelines_free(p);
}
END_TEST

START_TEST(test_quoted_and_escaped) {
    struct config_pipelines *p = parse_ok(
        "\"quoted.name-1\": {gadget: \"trace\\x5fexec\", operators: {filter: {expr: 'it''s'}}}\n"
        "'_x': {gadget: \"\\u00e9t\\u00e9\", autostart: \"FALSE\", restart: 'no'}\n");
    const struct config_session *s;

    ck_assert_uint_eq(p->n_sessions, 2);
    s = session(p, "quoted.name-1");
    ck_assert_str_eq(s->gadget, "trace_exec");
    assert_param(&s->operators[0], 0, "expr", "it's");
    s = session(p, "_x");
    ck_assert_str_eq(s->gadget, "\xc3\xa9t\xc3\xa9");
    ck_assert(!s->autostart);
    ck_assert_int_eq(s->restart, CONFIG_RESTART_NO);
    config_pipelines_free(p);
}
END_TEST

START_TEST(test_empty_files) {
    static const char *const texts[] = {
        "", "\n", "# only a comment\n# and another\n", "---\n", "~\n", "--- # c\n...\n",
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct config_pipelines *p = parse_ok(texts[i]);
        ck_assert_uint_eq(p->n_sessions, 0);
        ck_assert_ptr_null(config_pipelines_find(p, "x"));
        config_pipelines_free(p);
    }
}
END_TEST

START_TEST(test_session_equal) {
    struct config_pipelines *a = parse_ok(
        "s:\n"
        "  gadget: g\n"
        "  duration: 1m\n"
        "  operators:\n"
        "    a: {x: 1, y: [2, 3]}\n"
        "    b:\n");
    struct config_pipelines *b = parse_ok(
        "# same, in flow style, somewhere else\n"
        "\n"
        "s: {operators: {a: {x: '1', y: '2,3'}, b: {}}, duration: 60s, gadget: g, autostart: on}\n"
        "t: {gadget: g, duration: 1m, operators: {b: {}, a: {x: 1, y: '2,3'}}}\n"
        "u: {gadget: g, duration: 1m, operators: {a: {y: '2,3', x: 1}, b: {}}}\n"
        "v: {gadget: g, duration: 1m, operators: {a: {x: 1, y: '2,3'}, b: {}}, restart: on-failure}\n"
        "w: {gadget: g, duration: 1m, operators: {a: {x: 1, y: '2,3'}, b: {}}, autostart: false}\n"
        "x: {gadget: h, duration: 1m, operators: {a: {x: 1, y: '2,3'}, b: {}}}\n"
        "y: {gadget: g, duration: 1m, operators: {a: {x: 1, y: '2,4'}, b: {}}}\n"
        "z: {gadget: g, duration: 1m, operators: {a: {x: 1, y: '2,3'}, b: {}}, restart-delay: 2s}\n");
    struct config_session tmp;
    const struct config_session *s = session(a, "s");

    ck_assert(config_session_equal(s, session(b, "s")));
    ck_assert(config_session_equal(s, s));
    ck_assert_uint_ne(s->pos.line, session(b, "s")->pos.line);
    /* Everything else compared under the same name. */
    static const char *const others[] = {"t", "u", "v", "w", "x", "y", "z"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        tmp = *session(b, others[i]);
        tmp.name = (char *) "s";
        ck_assert_msg(!config_session_equal(s, &tmp), "%s compares equal", others[i]);
    }
    /* The name itself counts. */
    tmp = *session(b, "s");
    tmp.name = (char *) "other";
    ck_assert(!config_session_equal(s, &tmp));
    ck_assert(!config_session_equal(s, NULL));

    config_pipelines_free(a);
    config_pipelines_free(b);
}
END_TEST

START_TEST(test_find_and_free) {
    struct config_pipelines *p = parse_ok("c: {gadget: g}\na: {gadget: g}\nb: {gadget: g}\n");
    ck_assert_str_eq(session(p, "a")->name, "a");
    ck_assert_str_eq(session(p, "b")->name, "b");
    ck_assert_str_eq(session(p, "c")->name, "c");
    ck_assert_ptr_null(config_pipelines_find(p, "d"));
    ck_assert_ptr_null(config_pipelines_find(p, ""));
    ck_assert_ptr_null(config_pipelines_find(NULL, "a"));
    ck_assert_ptr_null(config_pipelines_free(p));
    ck_assert_ptr_null(config_pipelines_free(NULL));
    ck_assert_ptr_null(daemon_config_free(NULL));
}
END_TEST

START_TEST(test_load_dir) {
    struct config_pipelines *p = NULL;
    struct errors e = {0};
    const struct config_session *s;
    const char *f10 = TEST_CONFIG_DIR "/pipelines/10-exec.yaml";
    const char *f20 = TEST_CONFIG_DIR "/pipelines/20-open.yml";

    ck_assert_int_eq(config_load_pipelines(TEST_CONFIG_DIR "/pipelines", false, &p, &e), 0);
    assert_errors(&e, ERRS(NULL));
    /* .hidden.yaml, README and old.yaml.bak are not read. */
    ck_assert_uint_eq(p->n_sessions, 2);
    ck_assert_str_eq(p->sessions[0].name, "exec-audit");
    ck_assert_str_eq(p->sessions[1].name, "open-watch");

    s = session(p, "exec-audit");
    ck_assert_str_eq(s->file, f10);
    assert_pos(&s->pos, f10, 2, 1);
    ck_assert_str_eq(s->gadget, "trace_exec");
    assert_pos(&s->gadget_pos, f10, 3, 11);
    ck_assert(s->autostart);
    ck_assert_uint_eq(s->duration_nsec, 600 * SEC);
    ck_assert_int_eq(s->restart, CONFIG_RESTART_ON_FAILURE);
    ck_assert_uint_eq(s->restart_delay_nsec, 2 * SEC);
    ck_assert_uint_eq(s->n_operators, 3);
    ck_assert_str_eq(s->operators[0].name, "uidgid");
    ck_assert_uint_eq(s->operators[0].n_params, 0);
    ck_assert_str_eq(s->operators[1].name, "json");
    assert_pos(&s->operators[1].pos, f10, 10, 5);
    assert_param(&s->operators[1], 0, "path", "/tmp/x.json");
    ck_assert_str_eq(s->operators[2].name, "filter");
    assert_param(&s->operators[2], 0, "expr", "comm==bash");
    assert_pos(&s->operators[2].params[0].pos, f10, 11, 14);

    s = session(p, "open-watch");
    ck_assert_str_eq(s->file, f20);
    ck_assert_str_eq(s->gadget, "trace_open");
    ck_assert(!s->autostart);
    ck_assert_uint_eq(s->n_operators, 1);
    ck_assert_str_eq(s->operators[0].name, "print");
    ck_assert_uint_eq(s->operators[0].n_params, 0);

    config_pipelines_free(p);
}
END_TEST

START_TEST(test_load_missing_dir) {
    struct config_pipelines *p = NULL;
    struct errors e = {0};

    ck_assert_int_eq(config_load_pipelines(TEST_CONFIG_DIR "/no-such-dir", true, &p, &e), 0);
    assert_errors(&e, ERRS(NULL));
    ck_assert_uint_eq(p->n_sessions, 0);
    config_pipelines_free(p);
    p = NULL;
    ck_assert_int_eq(config_load_pipelines(TEST_CONFIG_DIR "/no-such-dir", false, &p, &e), -ENOENT);
    assert_errors(&e, ERRS(TEST_CONFIG_DIR "/no-such-dir: cannot read: No such file or directory"));
    ck_assert_ptr_null(p);
    errors_clear(&e);
}
END_TEST

START_TEST(test_load_dup_across_files) {
    struct config_pipelines *p = (struct config_pipelines *) 0x1;
    struct errors e = {0};

    ck_assert_int_eq(config_load_pipelines(TEST_CONFIG_DIR "/dup", false, &p, &e), -EINVAL);
    assert_errors(&e, ERRS(TEST_CONFIG_DIR "/dup/b.yaml:3:1: session 'shared' is already defined "
                                           "in " TEST_CONFIG_DIR "/dup/a.yaml:2"));
    ck_assert_ptr_eq(p, (struct config_pipelines *) 0x1); /* untouched on failure */
    errors_clear(&e);
}
END_TEST

START_TEST(test_load_errors_of_every_file) {
    struct config_pipelines *p = NULL;
    struct errors e = {0};

    ck_assert_int_eq(config_load_pipelines(TEST_CONFIG_DIR "/bad", false, &p, &e), -EINVAL);
    assert_errors(&e, ERRS(TEST_CONFIG_DIR "/bad/1.yaml:1:27: session 'x': key 'autostart': "
                                           "'maybe' is not a bool",
                           TEST_CONFIG_DIR "/bad/2.yaml:2:1: YAML syntax error: did not find "
                                           "expected ',' or ']'"));
    ck_assert_ptr_null(p);
    errors_clear(&e);
}
END_TEST

START_TEST(test_load_unreadable) {
    struct config_pipelines *p = NULL;
    struct errors e = {0};
    _cleanup_free_ char *f = NULL, *want = NULL, *dir = NULL;

    tmp_setup();
    f = tmp_write("a.yaml", "a: {gadget: g}\n", 15);
    dir = strprintf("%s/dir.yaml", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(config_load_pipelines(tmpdir, false, &p, &e), -EISDIR);
    want = strprintf("%s/dir.yaml: cannot read: Is a directory", tmpdir);
    assert_errors(&e, ERRS(want));
    ck_assert_ptr_null(p);
    errors_clear(&e);
    tmp_teardown();
}
END_TEST

/* ---- invalid input -------------------------------------------------------- */

START_TEST(test_invalid_unknown_key_hint) {
    parse_invalid("x:\n  gadgte: trace_exec\n",
                  ERRS("t.yaml:1:1: session 'x': missing key 'gadget'",
                       "t.yaml:2:3: unknown key 'gadgte' in session 'x' (did you mean 'gadget'?)"));
    parse_invalid("x: {gadget: a, restart-dealy: 1s}\n",
                  ERRS("t.yaml:1:16: unknown key 'restart-dealy' in session 'x' (did you mean "
                       "'restart-delay'?)"));
}
END_TEST

START_TEST(test_invalid_unknown_key_no_hint) {
    parse_invalid("x: {gadget: a, colour: red}\n",
                  ERRS("t.yaml:1:16: unknown key 'colour' in session 'x'"));
}
END_TEST

START_TEST(test_invalid_missing_gadget) {
    parse_invalid("\n  x: {autostart: true}\n", ERRS("t.yaml:2:3: session 'x': missing key 'gadget'"));
}
END_TEST

START_TEST(test_invalid_bool) {
    parse_invalid("x: {gadget: a, autostart: maybe}\n",
                  ERRS("t.yaml:1:27: session 'x': key 'autostart': 'maybe' is not a bool"));
    parse_invalid("x: {gadget: a, autostart: [yes]}\n",
                  ERRS("t.yaml:1:27: session 'x': key 'autostart': expected a scalar"));
}
END_TEST

START_TEST(test_invalid_duration_restart) {
    parse_invalid("x:\n"
                  "  gadget: a\n"
                  "  duration: 5 minutes\n"
                  "  restart: always\n"
                  "  restart-delay: 0\n",
                  ERRS("t.yaml:3:13: session 'x': key 'duration': '5 minutes' is not a duration",
                       "t.yaml:4:12: session 'x': key 'restart': 'always' is not one of: no, "
                       "on-failure",
                       "t.yaml:5:18: session 'x': key 'restart-delay': must be greater than 0"));
    parse_invalid("x: {gadget: a, restart-delay: soon}\n",
                  ERRS("t.yaml:1:31: session 'x': key 'restart-delay': 'soon' is not a duration"));
}
END_TEST

START_TEST(test_invalid_operators) {
    parse_invalid("x:\n"
                  "  gadget: a\n"
                  "  operators: [a, b]\n"
                  "y:\n"
                  "  gadget: b\n"
                  "  operators:\n"
                  "    json: [a]\n"
                  "    sort: {by: [a, [b]]}\n"
                  "    filter: {expr: {a: 1}}\n"
                  "    \"\": {}\n"
                  "    z: {\"\": 1}\n"
                  "    text: plain\n",
                  ERRS("t.yaml:3:14: session 'x': key 'operators': expected a map of operator "
                       "name to params",
                       "t.yaml:7:11: session 'y': operator 'json': params must be a map",
                       "t.yaml:8:16: session 'y': operator 'sort': param 'by': expected a scalar "
                       "or a list of scalars",
                       "t.yaml:9:20: session 'y': operator 'filter': param 'expr': expected a "
                       "scalar or a list of scalars",
                       "t.yaml:10:5: session 'y': empty operator name",
                       "t.yaml:11:9: session 'y': operator 'z': empty param name",
                       "t.yaml:12:11: session 'y': operator 'text': params must be a map"));
}
END_TEST

START_TEST(test_invalid_session_names) {
    parse_invalid("a b: {gadget: a}\n"
                  "\"\": {gadget: a}\n"
                  "\"x/y\": {gadget: a}\n"
                  "ok.name_1-2: {gadget: a}\n",
                  ERRS("t.yaml:1:1: invalid session name 'a b' (use A-Z, a-z, 0-9, '_', '.' and "
                       "'-')",
                       "t.yaml:2:1: invalid session name '' (use A-Z, a-z, 0-9, '_', '.' and '-')",
                       "t.yaml:3:1: invalid session name 'x/y' (use A-Z, a-z, 0-9, '_', '.' and "
                       "'-')"));
}
END_TEST

START_TEST(test_invalid_duplicates) {
    parse_invalid("x: {gadget: a}\n"
                  "y: {gadget: a, gadget: b}\n"
                  "\n"
                  "x: {gadget: b}\n"
                  "z:\n"
                  "  gadget: c\n"
                  "  operators:\n"
                  "    json: {path: /a, path: /b}\n"
                  "    json: {}\n",
                  ERRS("t.yaml:2:16: duplicate key 'gadget'",
                       "t.yaml:4:1: session 'x' is already defined in t.yaml:1",
                       "t.yaml:8:22: duplicate key 'path'",
                       "t.yaml:9:5: duplicate key 'json'"));
}
END_TEST

START_TEST(test_invalid_top_level) {
    parse_invalid("- a\n- b\n", ERRS("t.yaml:1:1: expected a map of session names at the top level"));
    parse_invalid("# comment\nhello\n",
                  ERRS("t.yaml:2:1: expected a map of session names at the top level"));
}
END_TEST

START_TEST(test_invalid_session_not_a_map) {
    parse_invalid("x: 5\ny:\nz: [gadget, a]\n",
                  ERRS("t.yaml:1:4: session 'x': expected a map",
                       "t.yaml:2:3: session 'y': expected a map",
                       "t.yaml:3:4: session 'z': expected a map"));
}
END_TEST

START_TEST(test_invalid_gadget) {
    parse_invalid("z: {gadget: [a]}\nw: {gadget: \"\"}\nv: {gadget: {a: 1}}\n",
                  ERRS("t.yaml:1:13: session 'z': key 'gadget': expected a non-empty scalar",
                       "t.yaml:2:13: session 'w': key 'gadget': expected a non-empty scalar",
                       "t.yaml:3:13: session 'v': key 'gadget': expected a non-empty scalar"));
}
END_TEST

START_TEST(test_invalid_complex_key) {
    parse_invalid("v: {[a]: 1, gadget: a}\n? {a: 1}\n: {gadget: a}\n",
                  ERRS("t.yaml:1:5: expected a scalar key", "t.yaml:2:3: expected a scalar key"));
}
END_TEST

START_TEST(test_invalid_merge_value) {
    parse_invalid("u: {<<: 5, gadget: a}\nt: {<<: [{gadget: a}, 5]}\n",
                  ERRS("t.yaml:1:9: merge key '<<' expects a map or a list of maps",
                       "t.yaml:2:23: merge key '<<' expects a map or a list of maps"));
}
END_TEST

START_TEST(test_invalid_syntax) {
    parse_invalid("x: {gadget: a\n",
                  ERRS("t.yaml:2:1: YAML syntax error: did not find expected ',' or '}'"));
    parse_invalid("x:\n  gadget: a\n gadget: b\n",
                  ERRS("t.yaml:3:2: YAML syntax error: did not find expected key"));
    parse_invalid("x: {gadget: a}\ny: \"unterminated\n",
                  ERRS("t.yaml:3:1: YAML syntax error: found unexpected end of stream"));
    parse_invalid("x:\n\tgadget: a\n",
                  ERRS("t.yaml:2:1: YAML syntax error: found character that cannot start any "
                       "token"));
}
END_TEST

START_TEST(test_invalid_alias) {
    parse_invalid("x: {gadget: a}\ny: *nope\n",
                  ERRS("t.yaml:2:4: YAML syntax error: found undefined alias"));
}
END_TEST

START_TEST(test_invalid_utf8) {
    parse_invalid("x: {gadget: a}\ny: {gadget: \xff}\n",
                  ERRS("t.yaml:2:13: YAML syntax error: invalid leading UTF-8 octet"));
}
END_TEST

START_TEST(test_invalid_two_documents) {
    parse_invalid("x: {gadget: a}\n---\ny: {gadget: b}\n",
                  ERRS("t.yaml:2:1: only one YAML document per file is supported"));
}
END_TEST

START_TEST(test_invalid_nul_byte) {
    parse_invalid("x: {gadget: \"a\\0b\"}\n", ERRS("t.yaml:1:13: NUL bytes are not allowed"));
}
END_TEST

START_TEST(test_invalid_many_in_one_file) {
    /* Every problem of a file is reported, in file order, and the valid
     * sessions still parse. */
    static const char text[] = "good: {gadget: g}\n"
                               "bad1: {gadget: g, duration: forever}\n"
                               "bad2: {operators: {json: 1}}\n"
                               "bad 3: {gadget: g, autostrat: no}\n";
    struct config_pipelines *p =
        parse(text, -EINVAL,
              ERRS("t.yaml:2:29: session 'bad1': key 'duration': 'forever' is not a duration",
                   "t.yaml:3:1: session 'bad2': missing key 'gadget'",
                   "t.yaml:3:26: session 'bad2': operator 'json': params must be a map",
                   "t.yaml:4:1: invalid session name 'bad 3' (use A-Z, a-z, 0-9, '_', '.' and '-')",
                   "t.yaml:4:20: unknown key 'autostrat' in session 'bad 3' (did you mean "
                   "'autostart'?)"));
    ck_assert_uint_eq(p->n_sessions, 1);
    ck_assert_str_eq(p->sessions[0].name, "good");
    config_pipelines_free(p);
}
END_TEST

START_TEST(test_invalid_error_flood_capped) {
    char *text = malloc(200 * 16 + 64), *q = text;

    ck_assert_ptr_nonnull(text);
    q += sprintf(q, "x:\n  gadget: g\n");
    for (int i = 0; i < 200; i++)
        q += sprintf(q, "  k%d: 1\n", i);
    struct config_pipelines *p = calloc(1, sizeof(*p));
    struct errors e = {0};
    ck_assert_int_eq(config_parse_pipelines("t.yaml", text, strlen(text), p, &e), -EINVAL);
    ck_assert_uint_eq(e.n, 101);
    ck_assert_str_eq(e.lines[0], "t.yaml:3:3: unknown key 'k0' in session 'x'");
    ck_assert_str_eq(e.lines[99], "t.yaml:102:3: unknown key 'k99' in session 'x'");
    ck_assert_str_eq(e.lines[100], "t.yaml: too many errors (more than 100), giving up");
    ck_assert_uint_eq(p->n_sessions, 0);
    errors_clear(&e);
    config_pipelines_free(p);
    free(text);
}
END_TEST

/* ---- hostile input -------------------------------------------------------- */

START_TEST(test_billion_laughs) {
    static const char text[] =
        "a: &a {gadget: x}\n"
        "b: &b {<<: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]}\n"
        "c: &c {<<: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]}\n"
        "d: &d {<<: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}\n"
        "e: &e {<<: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n"
        "f: &f {<<: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}\n"
        "g: &g {<<: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]}\n"
        "h: &h {<<: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]}\n"
        "i: &i {<<: [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]}\n";
    struct config_pipelines *p = parse(
        text, -EINVAL,
        ERRS("t.yaml:1:4: too many nodes after expanding aliases and merge keys, giving up"));
    /* A file given up on contributes nothing, not even its good sessions. */
    ck_assert_uint_eq(p->n_sessions, 0);
    config_pipelines_free(p);

    /* The same through aliased operators and params instead of merge keys:
     * 300 operators sharing one map of 300 params, in 100 sessions. */
    char *big = malloc(1 << 20), *q = big;
    ck_assert_ptr_nonnull(big);
    q += sprintf(q, "s0: &s {gadget: g, operators: {o0: &p {k0: v");
    for (int i = 1; i < 300; i++)
        q += sprintf(q, ", k%d: v", i);
    q += sprintf(q, "}");
    for (int i = 1; i < 300; i++)
        q += sprintf(q, ", o%d: *p", i);
    q += sprintf(q, "}}\n");
    for (int i = 1; i < 100; i++)
        q += sprintf(q, "s%d: *s\n", i);
    p = parse(big, -EINVAL,
              ERRS("t.yaml:1:1880: too many nodes after expanding aliases and merge keys, giving up"));
    ck_assert_uint_eq(p->n_sessions, 0);
    config_pipelines_free(p);
    free(big);
}
END_TEST

START_TEST(test_recursive_merge) {
    parse_invalid("a: &a {gadget: x, <<: *a}\n",
                  ERRS("t.yaml:1:4: merge keys nested too deeply (a recursive alias?), giving up"));
}
END_TEST

START_TEST(test_deep_nesting) {
    size_t n = 100000;
    char *text = malloc(2 * n + 64);
    ck_assert_ptr_nonnull(text);
    strcpy(text, "x: {gadget: a, operators: {o: {p: ");
    size_t l = strlen(text);
    memset(text + l, '[', n);
    memset(text + l + n, ']', n);
    strcpy(text + l + 2 * n, "}}}\n");
    parse_invalid(text, ERRS("t.yaml:1:95: nested too deeply (more than 64 levels)"));
    free(text);
}
END_TEST

START_TEST(test_too_many_anchors) {
    char *text = malloc(20 * 1100), *q = text;
    ck_assert_ptr_nonnull(text);
    q += sprintf(q, "x: [");
    for (int i = 0; i < 1001; i++)
        q += sprintf(q, "%s&a%d v", i ? ", " : "", i);
    sprintf(q, "]\n");
    parse_invalid(text, ERRS("t.yaml:1:8895: too many anchors (more than 1000)"));
    free(text);
}
END_TEST

START_TEST(test_too_large) {
    size_t n = 5 * 1024 * 1024;
    char *text = malloc(n + 1);
    struct config_pipelines *p = calloc(1, sizeof(*p)), *lp = NULL;
    struct errors e = {0};
    _cleanup_free_ char *f = NULL, *want = NULL;

    ck_assert_ptr_nonnull(text);
    /* Valid YAML all through: only the size is wrong. */
    memset(text, '#', n);
    text[n] = 0;
    ck_assert_int_eq(config_parse_pipelines("t.yaml", text, n, p, &e), -EFBIG);
    assert_errors(&e, ERRS("t.yaml: file is too large (more than 4 MiB)"));
    errors_clear(&e);
    config_pipelines_free(p);

    tmp_setup();
    f = tmp_write("big.yaml", text, n);
    want = strprintf("%s: file is too large (more than 4 MiB)", f);
    ck_assert_int_eq(config_load_pipelines(tmpdir, false, &lp, &e), -EFBIG);
    assert_errors(&e, ERRS(want));
    ck_assert_ptr_null(lp);
    errors_clear(&e);
    tmp_teardown();
    free(text);
}
END_TEST

/* ---- the daemon config ---------------------------------------------------- */

START_TEST(test_daemon_defaults) {
    struct daemon_config *c = NULL;
    struct errors e = {0};

    ck_assert_int_eq(config_load_daemon(TEST_CONFIG_DIR "/no-such-file.yaml", false, &c, &e), 0);
    assert_errors(&e, ERRS(NULL));
    ck_assert_ptr_null(c->file);
    ck_assert_uint_eq(strv_length(c->plugin_dirs), 1);
    ck_assert_str_eq(c->plugin_dirs[0], OPHOST_DEFAULT_PLUGIN_DIR);
    ck_assert_str_eq(c->pipeline_dir, OPHOST_DEFAULT_PIPELINE_DIR);
    ck_assert_str_eq(c->control_socket, OPHOST_DEFAULT_CONTROL_SOCKET);
    ck_assert_ptr_null(c->control_group);
    ck_assert_ptr_null(c->metrics_listen); /* /metrics is off by default */
    ck_assert_int_eq(c->log_level, OPHOST_LOG_INFO);
    ck_assert_uint_eq(c->n_operators, 0);
    ck_assert_ptr_null(daemon_config_free(c));
}
END_TEST

START_TEST(test_daemon_must_exist) {
    struct daemon_config *c = NULL;
    struct errors e = {0};

    ck_assert_int_eq(config_load_daemon(TEST_CONFIG_DIR "/no-such-file.yaml", true, &c, &e),
                     -ENOENT);
    assert_errors(&e, ERRS(TEST_CONFIG_DIR "/no-such-file.yaml: cannot read: No such file or "
                                           "directory"));
    ck_assert_ptr_null(c);
    errors_clear(&e);

    ck_assert_int_eq(config_load_daemon(TEST_CONFIG_DIR, false, &c, &e), -EISDIR);
    assert_errors(&e, ERRS(TEST_CONFIG_DIR ": cannot read: Is a directory"));
    ck_assert_ptr_null(c);
    errors_clear(&e);
}
END_TEST

START_TEST(test_daemon_full) {
    const char *f = TEST_CONFIG_DIR "/ophostd-full.yaml";
    struct daemon_config *c = NULL;
    struct errors e = {0};

    ck_assert_int_eq(config_load_daemon(f, true, &c, &e), 0);
    assert_errors(&e, ERRS(NULL));
    ck_assert_str_eq(c->file, f);
    ck_assert_uint_eq(strv_length(c->plugin_dirs), 2);
    ck_assert_str_eq(c->plugin_dirs[0], "/opt/ophost/plugins");
    ck_assert_str_eq(c->plugin_dirs[1], "/usr/local/lib/ophost/plugins");
    ck_assert_str_eq(c->pipeline_dir, "/srv/ophost/pipelines.d");
    ck_assert_str_eq(c->control_socket, "/run/ophost-test/ctl.sock");
    ck_assert_str_eq(c->control_group, "ophost-admin");
    ck_assert_int_eq(c->log_level, OPHOST_LOG_DEBUG);
    ck_assert_uint_eq(c->n_operators, 2);
    ck_assert_str_eq(c->operators[0].name, "json");
    assert_pos(&c->operators[0].pos, f, 10, 3);
    ck_assert_ptr_eq(c->operators[0].pos.file, c->file);
    ck_assert_uint_eq(c->operators[0].n_params, 2);
    assert_param(&c->operators[0], 0, "path", "/var/log/ophost.json");
    assert_param(&c->operators[0], 1, "rotate", "daily,compress");
    assert_pos(&c->operators[0].params[1].pos, f, 10, 38);
    ck_assert_str_eq(c->operators[1].name, "uidgid");
    ck_assert_uint_eq(c->operators[1].n_params, 0);
    daemon_config_free(c);
}
END_TEST

START_TEST(test_daemon_bad) {
    const char *f = TEST_CONFIG_DIR "/ophostd-bad.yaml";
    struct daemon_config *c = NULL;
    struct errors e = {0};

    ck_assert_int_eq(config_load_daemon(f, true, &c, &e), -EINVAL);
    assert_errors(
        &e, ERRS(TEST_CONFIG_DIR "/ophostd-bad.yaml:1:20: key 'plugin-dirs': 'relative/x' is not "
                                 "an absolute path",
                 TEST_CONFIG_DIR "/ophostd-bad.yaml:2:15: key 'pipeline-dir': 'pipelines' is not "
                                 "an absolute path",
                 TEST_CONFIG_DIR "/ophostd-bad.yaml:4:1: unknown key 'log-levle' in daemon config "
                                 "(did you mean 'log-level'?)",
                 TEST_CONFIG_DIR "/ophostd-bad.yaml:5:12: key 'log-level': 'loud' is not one of: "
                                 "err, warning, notice, info, debug",
                 TEST_CONFIG_DIR "/ophostd-bad.yaml:7:9: operator 'json': params must be a map",
                 TEST_CONFIG_DIR "/ophostd-bad.yaml:8:20: operator 'print': param 'columns': "
                                 "expected a scalar or a list of scalars"));
    ck_assert_ptr_null(c);
    errors_clear(&e);
}
END_TEST

static void daemon_text(const char *text, int want_r, const char *const *want_fmt,
                        struct daemon_config **ret) {
    struct errors e = {0};
    _cleanup_free_ char *f = NULL;
    char *want[8] = {0};
    size_t i;

    f = tmp_write("ophostd.yaml", text, strlen(text));
    for (i = 0; want_fmt[i]; i++)
        want[i] = strprintf("%s%s", f, want_fmt[i]);
    ck_assert_int_eq(config_load_daemon(f, true, ret, &e), want_r);
    assert_errors(&e, (const char *const *) want);
    for (i = 0; want[i]; i++)
        free(want[i]);
    errors_clear(&e);
}

START_TEST(test_daemon_inline) {
    struct daemon_config *c = NULL;

    tmp_setup();
    /* Empty: defaults, but the file is named. */
    daemon_text("# nothing\n", 0, ERRS(NULL), &c);
    ck_assert_ptr_nonnull(c->file);
    ck_assert_str_eq(c->plugin_dirs[0], OPHOST_DEFAULT_PLUGIN_DIR);
    ck_assert_int_eq(c->log_level, OPHOST_LOG_INFO);
    c = daemon_config_free(c);

    /* A single scalar plugin dir; anchors; the last log level. */
    daemon_text("plugin-dirs: &d /one\npipeline-dir: *d\nlog-level: err\ncontrol-group: ~\n", 0,
                ERRS(NULL), &c);
    ck_assert_uint_eq(strv_length(c->plugin_dirs), 1);
    ck_assert_str_eq(c->plugin_dirs[0], "/one");
    ck_assert_str_eq(c->pipeline_dir, "/one");
    ck_assert_int_eq(c->log_level, OPHOST_LOG_ERR);
    ck_assert_ptr_null(c->control_group);
    c = daemon_config_free(c);

    daemon_text("plugin-dirs: []\n", -EINVAL,
                ERRS(":1:14: key 'plugin-dirs': expected at least one directory"), &c);
    daemon_text("plugin-dirs: {a: 1}\ncontrol-group: [a]\nlog-level: {}\n", -EINVAL,
                ERRS(":1:14: key 'plugin-dirs': expected an absolute path or a list of them",
                     ":2:16: key 'control-group': expected a group name",
                     ":3:12: key 'log-level': expected a scalar"),
                &c);
    daemon_text("control-socket: /run/"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\n",
                -EINVAL,
                ERRS(":1:17: key 'control-socket': path is too long for a socket (at most 107 "
                     "bytes)"),
                &c);
    daemon_text("- a\n", -EINVAL, ERRS(":1:1: expected a map of daemon settings at the top level"),
                &c);
    daemon_text("operators: [json]\nplugins: /x\n", -EINVAL,
                ERRS(":1:12: key 'operators': expected a map of operator name to params",
                     ":2:1: unknown key 'plugins' in daemon config"),
                &c);
    daemon_text("log-level: info\nlog-level: debug\n", -EINVAL,
                ERRS(":2:1: duplicate key 'log-level'"), &c);
    daemon_text("log-level: [\n", -EINVAL,
                ERRS(":2:1: YAML syntax error: did not find expected node content"), &c);
    ck_assert_ptr_null(c);
    tmp_teardown();
}
END_TEST

/* metrics-listen: numeric IPv4 or bracketed IPv6 with a port; off when
 * empty or null; every other value is an error naming the key. */
START_TEST(test_daemon_metrics_listen) {
    static const char *const good[][2] = {
        { "127.0.0.1:9469", "127.0.0.1:9469" }, { "0.0.0.0:1", "0.0.0.0:1" },
        { "'[::1]:9469'", "[::1]:9469" }, { "'[::]:65535'", "[::]:65535" },
    };
    static const char *const bad[] = {
        "localhost:9469", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x",
        "'::1:9469'", "'[::1]9469'", "'[::1'", "1.2.3:80", "127.0.0.1:+80", "':9469'",
        "'[127.0.0.1]:80'",
    };
    struct daemon_config *c = NULL;
    struct sockaddr_storage sa;
    unsigned len;
    char text[128], want[512];

    tmp_setup();
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), "metrics-listen: %s\n", good[i][0]);
        daemon_text(text, 0, ERRS(NULL), &c);
        ck_assert_str_eq(c->metrics_listen, good[i][1]);
        ck_assert_int_eq(config_parse_listen(c->metrics_listen, &sa, &len), 0);
        c = daemon_config_free(c);
    }
    ck_assert_int_eq(config_parse_listen("[::1]:9469", &sa, &len), 0);
    ck_assert_int_eq(sa.ss_family, AF_INET6);
    ck_assert_int_eq(config_parse_listen("10.1.2.3:80", &sa, &len), 0);
    ck_assert_int_eq(sa.ss_family, AF_INET);
    daemon_text("metrics-listen: ''\n", 0, ERRS(NULL), &c);
    ck_assert_ptr_null(c->metrics_listen);
    c = daemon_config_free(c);
    daemon_text("metrics-listen: 127.0.0.1:1\nmetrics-listen: ~\n", -EINVAL,
                ERRS(":2:1: duplicate key 'metrics-listen'"), &c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *v = bad[i][0] == '\'' ? bad[i] + 1 : bad[i];
        int vlen = (int) strlen(v) - (bad[i][0] == '\'' ? 1 : 0);
        snprintf(text, sizeof(text), "metrics-listen: %s\n", bad[i]);
        snprintf(want, sizeof(want),
                 ":1:17: key 'metrics-listen': '%.*s' is not ADDRESS:PORT with a numeric IPv4 "
                 "address or an IPv6 address in brackets and a port from 1 to 65535 (e.g. "
                 "127.0.0.1:9469 or [::1]:9469)", vlen, v);
        daemon_text(text, -EINVAL, ERRS(want), &c);
        ck_assert_ptr_null(c);
    }
    daemon_text("metrics-lsten: 127.0.0.1:1\n", -EINVAL,
                ERRS(":1:1: unknown key 'metrics-lsten' in daemon config (did you mean "
                     "'metrics-listen'?)"), &c);
    tmp_teardown();
}
END_TEST

static Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("valid");
    tcase_add_test(tc, test_every_yaml_feature);
    tcase_add_test(tc, test_quoted_and_escaped);
    tcase_add_test(tc, test_empty_files);
    tcase_add_test(tc, test_session_equal);
    tcase_add_test(tc, test_find_and_free);
    tcase_add_test(tc, test_load_dir);
    tcase_add_test(tc, test_load_missing_dir);
    tcase_add_test(tc, test_load_dup_across_files);
    tcase_add_test(tc, test_load_errors_of_every_file);
    tcase_add_test(tc, test_load_unreadable);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_test(tc, test_invalid_unknown_key_hint);
    tcase_add_test(tc, test_invalid_unknown_key_no_hint);
    tcase_add_test(tc, test_invalid_missing_gadget);
    tcase_add_test(tc, test_invalid_bool);
    tcase_add_test(tc, test_invalid_duration_restart);
    tcase_add_test(tc, test_invalid_operators);
    tcase_add_test(tc, test_invalid_session_names);
    tcase_add_test(tc, test_invalid_duplicates);
    tcase_add_test(tc, test_invalid_top_level);
    tcase_add_test(tc, test_invalid_session_not_a_map);
    tcase_add_test(tc, test_invalid_gadget);
    tcase_add_test(tc, test_invalid_complex_key);
    tcase_add_test(tc, test_invalid_merge_value);
    tcase_add_test(tc, test_invalid_syntax);
    tcase_add_test(tc, test_invalid_alias);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_invalid_two_documents);
    tcase_add_test(tc, test_invalid_nul_byte);
    tcase_add_test(tc, test_invalid_many_in_one_file);
    tcase_add_test(tc, test_invalid_error_flood_capped);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_test(tc, test_billion_laughs);
    tcase_add_test(tc, test_recursive_merge);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_too_many_anchors);
    tcase_add_test(tc, test_too_large);
    suite_add_tcase(s, tc);

    tc = tcase_create("daemon");
    tcase_add_test(tc, test_daemon_defaults);
    tcase_add_test(tc, test_daemon_must_exist);
    tcase_add_test(tc, test_daemon_full);
    tcase_add_test(tc, test_daemon_bad);
    tcase_add_test(tc, test_daemon_inline);
    tcase_add_test(tc, test_daemon_metrics_listen);
    suite_add_tcase(s, tc);

    return s;
}

int main(void) {
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

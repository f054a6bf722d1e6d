/*
 * test-registry.c — tests daemon/registry.c with real plugins: the test
 * plugins of TEST_PLUGIN_DIR are copied to a temporary directory and loaded
 * by the real loader. The plugins append "init NAME" / "close NAME" to the
 * file named by $OPHOST_TEST_TRACE, so the tests assert the exact sequence of
 * callbacks: init once, close once in reverse init order, no close after a
 * failed init, no close while an operator is still referenced.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "operators.h"
#include "params.h"
#include "registry.h"
#include "testutil.h"

#ifndef TEST_PLUGIN_DIR
#error "define TEST_PLUGIN_DIR as the directory of the built test plugins"
#endif

/* ------------------------------------------------ a minimal host table */

/* What the registry's callers get from host.c, reduced to what init and
 * close of the test plugins use: error texts and global params. */
static void t_log(struct ophost_ctx *ctx, int priority, const char *fmt, ...) {
}

static int t_error(struct ophost_ctx *ctx, int err, const char *fmt, ...) {
    va_list ap;

    free(ctx->error);
    va_start(ap, fmt);
    ctx->error = vstrprintf(fmt, ap);
    va_end(ap);
    return err;
}

static int t_param_string(struct ophost_ctx *ctx, const char *key, const char **ret) {
    return params_get_string(ctx->params, key, ret);
}

static int t_param_bool(struct ophost_ctx *ctx, const char *key, bool *ret) {
    return params_get_bool(ctx->params, key, ret);
}

static int t_param_int(struct ophost_ctx *ctx, const char *key, int64_t *ret) {
    return params_get_int(ctx->params, key, ret);
}

static int t_param_uint(struct ophost_ctx *ctx, const char *key, uint64_t *ret) {
    return params_get_uint(ctx->params, key, ret);
}

static int t_param_duration(struct ophost_ctx *ctx, const char *key, uint64_t *ret) {
    return params_get_duration(ctx->params, key, ret);
}

static const struct ophost_host host = {
    .struct_size = sizeof(struct ophost_host),
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .log = t_log,
    .error = t_error,
    .param_string = t_param_string,
    .param_bool = t_param_bool,
    .param_int = t_param_int,
    .param_uint = t_param_uint,
    .param_duration = t_param_duration,
};

/* ------------------------------------------------------------- fixture */

static char *dir;        /* temporary plugin directory */
static char *trace_path; /* $OPHOST_TEST_TRACE */
static struct registry *reg;
/* The test's own references, from the loader; NULL once dropped. */
static struct plugin *good, *second, *dupname, *initfail;

static struct plugin *load(const char *name) {
    char *from = tu_path_in(TEST_PLUGIN_DIR, name), *to = tu_path_in(dir, name), *err = NULL;
    struct plugin *p = NULL;
    int r;

    tu_copy_file(from, to);
    r = loader_load_path(to, 0, &host, &p, &err);
    ck_assert_msg(r == 0, "loading %s: %d %s", to, r, err ? err : "");
    free(from);
    free(to);
    return p;
}

static void setup(void) {
    dir = tu_make_dir("registry");
    trace_path = tu_path_in(dir, "trace");
    ck_assert_int_eq(setenv("OPHOST_TEST_TRACE", trace_path, 1), 0);
    good = load("good.so");
    second = load("second.so");
    dupname = load("dupname.so");
    initfail = load("initfail.so");
    ck_assert_str_eq(good->desc->name, "good");
    ck_assert_str_eq(second->desc->name, "second");
    ck_assert_str_eq(dupname->desc->name, "dupname");
    ck_assert_str_eq(initfail->desc->name, "initfail");
    reg = registry_new();
    ck_assert_ptr_nonnull(reg);
}

/* What a worker does at its end: close what it initialized, in reverse
 * init order, then drop the registry. */
static struct registry *close_and_free(struct registry *r) {
    if (r)
        operators_close(r);
    return registry_free(r);
}

static void teardown(void) {
    reg = close_and_free(reg);
    good = plugin_unref(good);
    second = plugin_unref(second);
    dupname = plugin_unref(dupname);
    initfail = plugin_unref(initfail);
    unsetenv("OPHOST_TEST_TRACE");
    tu_remove_tree(dir);
    free(dir);
    free(trace_path);
}

/* The trace so far ("" when nothing was traced) is exactly want. */
#define assert_trace(want) tu_assert_file_eq(trace_path, want)

static void add_ok(struct plugin *p) {
    char *err = NULL;
    int r = registry_add_plugin(reg, p, &err);
    ck_assert_msg(r == 0, "adding %s: %d %s", p->path, r, err ? err : "");
    ck_assert_ptr_null(err);
}

static struct operator_entry *find(const char *name) {
    struct operator_entry *e = registry_find(reg, name);
    ck_assert_msg(e != NULL, "operator '%s' not found", name);
    return e;
}

static void init_ok(const char *name) {
    char *err = NULL;
    int r = operator_init(reg, find(name), &err);
    ck_assert_msg(r == 0, "init %s: %d %s", name, r, err ? err : "");
    ck_assert_ptr_null(err);
}

/* --------------------------------------------------------------- tests */

START_TEST(test_add_and_find) {
    static const char *const names[] = { "good-a", "good-b", "good-c", "second-x" };
    struct operator_entry *const *entries;
    struct plugin *const *plugins;
    const char **all;
    size_t n;

    /* Registration order second, good; entries come out sorted by name. */
    add_ok(second);
    add_ok(good);
    entries = registry_entries(reg, &n);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        struct plugin *p = i < 3 ? good : second;
        ck_assert_str_eq(entries[i]->op->name, names[i]);
        ck_assert_ptr_eq(entries[i]->plugin, p);
        ck_assert_ptr_eq(entries[i]->op, &p->operators[i < 3 ? i : 0]);
        ck_assert_int_eq(entries[i]->state, OPERATOR_NEW);
        ck_assert_uint_eq(entries[i]->n_ref, 1);
        ck_assert(entries[i]->in_registry);
        ck_assert_ptr_eq(registry_find(reg, names[i]), entries[i]);
    }
    ck_assert_ptr_null(registry_find(reg, "good"));
    ck_assert_ptr_null(registry_find(reg, ""));
    ck_assert_ptr_null(registry_find(reg, "a"));
    ck_assert_ptr_null(registry_find(reg, "good-d"));
    ck_assert_ptr_null(registry_find(reg, "good-b "));
    ck_assert_ptr_null(registry_find(reg, "zzz"));

    plugins = registry_plugins(reg, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_eq(plugins[0], second);
    ck_assert_ptr_eq(plugins[1], good);
    ck_assert_ptr_eq(registry_plugin_by_path(reg, good->path), good);
    ck_assert_ptr_eq(registry_plugin_by_path(reg, second->path), second);
    ck_assert_ptr_null(registry_plugin_by_path(reg, dupname->path));

    all = registry_names(reg);
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(all[i], names[i]);
    ck_assert_ptr_null(all[4]);
    free(all);

    /* The registry holds its own references. */
    ck_assert_uint_gt(good->n_ref, 1);
    registry_remove_plugin(reg, good);
    ck_assert_uint_eq(good->n_ref, 1);
    entries = registry_entries(reg, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(entries[0]->op->name, "second-x");
    ck_assert_ptr_null(registry_find(reg, "good-a"));
    plugins = registry_plugins(reg, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_eq(plugins[0], second);
    assert_trace(""); /* nothing was initialized, nothing closed */
}
END_TEST

START_TEST(test_empty) {
    size_t n = 99;
    const char **all;

    ck_assert_ptr_null(registry_find(reg, "good-a"));
    registry_entries(reg, &n);
    ck_assert_uint_eq(n, 0);
    registry_plugins(reg, &n);
    ck_assert_uint_eq(n, 0);
    all = registry_names(reg);
    ck_assert_ptr_nonnull(all);
    ck_assert_ptr_null(all[0]);
    free(all);
    ck_assert_ptr_null(registry_free(NULL));
    operators_close(reg); /* nothing initialized: nothing to do */
}
END_TEST

START_TEST(test_duplicate_across_plugins) {
    char *err = NULL, *want;
    size_t n;

    add_ok(good);
    ck_assert_int_eq(registry_add_plugin(reg, dupname, &err), -EEXIST);
    want = strprintf("%s: operator 'good-a': already provided by plugin 'good' (%s)",
                     dupname->path, good->path);
    ck_assert_str_eq(err, want);
    free(err);
    free(want);

    /* All or none: dupname's other operator did not get in, the first
     * plugin keeps good-a, and no reference on dupname was kept. */
    ck_assert_ptr_null(registry_find(reg, "dup-first"));
    ck_assert_ptr_eq(find("good-a")->plugin, good);
    registry_entries(reg, &n);
    ck_assert_uint_eq(n, 3);
    registry_plugins(reg, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(dupname->n_ref, 1);

    /* The same plugin twice is a duplicate of itself. */
    err = NULL;
    ck_assert_int_eq(registry_add_plugin(reg, good, &err), -EEXIST);
    want = strprintf("%s: operator 'good-a': already provided by plugin 'good' (%s)", good->path,
                     good->path);
    ck_assert_str_eq(err, want);
    free(err);
    free(want);
}
END_TEST

START_TEST(test_duplicate_first_wins) {
    /* The other way round: dupname came first, so good is refused. */
    char *err = NULL, *want;
    size_t n;

    add_ok(dupname);
    add_ok(second);
    ck_assert_int_eq(registry_add_plugin(reg, good, &err), -EEXIST);
    want = strprintf("%s: operator 'good-a': already provided by plugin 'dupname' (%s)",
                     good->path, dupname->path);
    ck_assert_str_eq(err, want);
    free(err);
    free(want);
    ck_assert_ptr_eq(find("good-a")->plugin, dupname);
    ck_assert_ptr_null(registry_find(reg, "good-b"));
    ck_assert_ptr_null(registry_find(reg, "good-c"));
    registry_entries(reg, &n);
    ck_assert_uint_eq(n, 3); /* dup-first, good-a, second-x */
    ck_assert_str_eq(registry_entries(reg, &n)[0]->op->name, "dup-first");
    ck_assert_uint_eq(good->n_ref, 1);
}
END_TEST

START_TEST(test_remove_with_reference) {
    struct operator_entry *e;
    char *path = strdup(good->path);

    add_ok(good);
    add_ok(second);
    good = plugin_unref(good); /* the registry's references are the only ones */
    init_ok("good-a");
    init_ok("second-x");
    e = operator_entry_ref(find("good-a"));
    ck_assert_uint_eq(e->n_ref, 2);

    /* Removed (the supervisor's registry on hot-unplug): gone from the
     * registry at once, alive while a plan holds the entry, and no plugin
     * code runs: removing never closes. */
    registry_remove_plugin(reg, e->plugin);
    ck_assert_ptr_null(registry_find(reg, "good-a"));
    ck_assert_ptr_null(registry_find(reg, "good-b"));
    ck_assert_ptr_null(registry_plugin_by_path(reg, path));
    ck_assert(!e->in_registry);
    ck_assert_uint_eq(e->n_ref, 1);
    ck_assert_int_eq(e->state, OPERATOR_READY);
    ck_assert_str_eq(e->op->name, "good-a");
    ck_assert_str_eq(e->plugin->desc->name, "good");
    ck_assert_ptr_eq(find("second-x")->plugin, second);
    ck_assert_ptr_null(operator_entry_unref(e));
    assert_trace("init good-a\ninit second-x\n");

    /* A name freed by unloading can be provided again. */
    add_ok(dupname);
    ck_assert_ptr_eq(find("good-a")->plugin, dupname);
    free(path);
}
END_TEST

START_TEST(test_init_once_close_reverse) {
    struct operator_entry *e;
    char *err = NULL;
    int r;

    add_ok(good);
    add_ok(second);
    add_ok(initfail);
    init_ok("good-b");
    init_ok("good-a");
    init_ok("second-x");
    init_ok("good-c");
    init_ok("good-a"); /* again: no second init */
    init_ok("good-b");
    ck_assert_int_eq(find("good-a")->state, OPERATOR_READY);

    /* A failed init is remembered: same error, same text, init not rerun. */
    e = find("initfail-op");
    r = operator_init(reg, e, &err);
    ck_assert_int_eq(r, -EIO);
    ck_assert_str_eq(err, "operator 'initfail-op': init failed: cannot open /dev/nothing");
    free(err);
    ck_assert_int_eq(e->state, OPERATOR_FAILED);
    err = NULL;
    r = operator_init(reg, e, &err);
    ck_assert_int_eq(r, -EIO);
    ck_assert_str_eq(err, "operator 'initfail-op': init failed: cannot open /dev/nothing");
    free(err);

    assert_trace("init good-b\n"
                 "init good-a\n"
                 "init second-x\n"
                 "init good-c interval=1000000000 verbose=0 label=none level=-3 max=100\n"
                 "init initfail-op\n");

    /* Close once each, in reverse init order; never after a failed init. */
    reg = close_and_free(reg);
    assert_trace("init good-b\n"
                 "init good-a\n"
                 "init second-x\n"
                 "init good-c interval=1000000000 verbose=0 label=none level=-3 max=100\n"
                 "init initfail-op\n"
                 "close good-c\n"
                 "close second-x\n"
                 "close good-a\n"
                 "close good-b\n");
}
END_TEST

START_TEST(test_init_after_close) {
    struct operator_entry *e;
    char *err = NULL;

    add_ok(good);
    init_ok("good-a");
    e = operator_entry_ref(find("good-a"));
    operators_close(reg);
    assert_trace("init good-a\nclose good-a\n");
    ck_assert_int_eq(e->state, OPERATOR_CLOSED);
    /* Closed is final in a process: no init again. */
    ck_assert_int_eq(operator_init(reg, e, &err), -ESHUTDOWN);
    ck_assert_str_eq(err, "operator 'good-a': closed");
    free(err);
    operators_close(reg);
    reg = registry_free(reg);
    ck_assert(!e->in_registry);
    operator_entry_unref(e);
    assert_trace("init good-a\nclose good-a\n"); /* not closed twice */
}
END_TEST

static struct config_param c_params[] = {
    { .key = "interval", .value = "5s", .pos = { "ophostd.yaml", 4, 5 } },
    { .key = "verbose", .value = "yes", .pos = { "ophostd.yaml", 5, 5 } },
    { .key = "label", .value = "long", .pos = { "ophostd.yaml", 6, 5 } },
    { .key = "level", .value = "7", .pos = { "ophostd.yaml", 7, 5 } },
    { .key = "maximum", .value = "42", .pos = { "ophostd.yaml", 8, 5 } },
};

START_TEST(test_globals_reach_init) {
    struct config_operator globals[] = {
        { .name = "good-c", .pos = { "ophostd.yaml", 3, 3 }, .params = c_params,
          .n_params = sizeof(c_params) / sizeof(c_params[0]) },
    };

    add_ok(good);
    registry_set_globals(reg, globals, 1);
    init_ok("good-a"); /* no globals of its own: fine */
    init_ok("good-c");
    assert_trace("init good-a\n"
                 "init good-c interval=5000000000 verbose=1 label=long level=7 max=42\n");
    reg = close_and_free(reg);
}
END_TEST

static const struct {
    const char *key, *value;
    int error;
    const char *reason;
} bad_globals[] = {
    { "interval", "abc", -EINVAL,
      "param 'interval': 'abc' is not a valid duration (e.g. 500ms, 2s, 1m30s)" },
    { "interval", "0", -EINVAL, "param 'interval': '0' is below the minimum 1ms" },
    { "level", "11", -EINVAL, "param 'level': '11' is above the maximum 10" },
    { "label", "medium", -EINVAL, "param 'label': 'medium' is not one of: none, short, long" },
    { "intervall", "1s", -ENOENT, "unknown param 'intervall' (did you mean 'interval'?)" },
};

START_TEST(test_bad_global) {
    struct config_param p = {
        .key = (char *) bad_globals[_i].key, .value = (char *) bad_globals[_i].value,
        .pos = { "/etc/ophost/ophostd.yaml", 12, 7 },
    };
    struct config_operator globals[] = {
        { .name = "good-c", .pos = { "/etc/ophost/ophostd.yaml", 11, 3 }, .params = &p,
          .n_params = 1 },
    };
    struct operator_entry *e;
    char *err = NULL, *want;

    add_ok(good);
    registry_set_globals(reg, globals, 1);
    e = find("good-c");
    want = strprintf("/etc/ophost/ophostd.yaml:12:7: operator 'good-c': %s",
                     bad_globals[_i].reason);
    ck_assert_int_eq(operator_init(reg, e, &err), bad_globals[_i].error);
    ck_assert_str_eq(err, want);
    free(err);
    err = NULL;
    ck_assert_int_eq(operator_init(reg, e, &err), bad_globals[_i].error);
    ck_assert_str_eq(err, want);
    free(err);
    free(want);
    ck_assert_int_eq(e->state, OPERATOR_FAILED);
    init_ok("good-a"); /* the others are unaffected */
    reg = close_and_free(reg);
    assert_trace("init good-a\nclose good-a\n"); /* good-c: neither init nor close */
}
END_TEST

START_TEST(test_check_globals) {
    struct config_param bad = { .key = "interval", .value = "abc", .pos = { "d.yaml", 9, 5 } };
    struct config_param unknown = { .key = "foo", .value = "1", .pos = { "d.yaml", 22, 3 } };
    struct config_operator globals[] = {
        { .name = "good-aa", .pos = { "d.yaml", 3, 1 } },
        { .name = "good-c", .pos = { "d.yaml", 8, 1 }, .params = &bad, .n_params = 1 },
        { .name = "zzz", .pos = { "d.yaml", 15, 1 } },
        { .name = "good-a", .pos = { "d.yaml", 20, 1 } },
        { .name = "second-x", .pos = { "d.yaml", 21, 1 }, .params = &unknown, .n_params = 1 },
        { .name = "good-c", .pos = { "d.yaml", 30, 1 }, .params = c_params,
          .n_params = sizeof(c_params) / sizeof(c_params[0]) },
    };
    struct errors errs = {};

    add_ok(good);
    add_ok(second);
    registry_set_globals(reg, globals, sizeof(globals) / sizeof(globals[0]));
    ck_assert_int_eq(registry_check_globals(reg, &errs), -EINVAL);
    ck_assert_uint_eq(errs.n, 4);
    ck_assert_str_eq(errs.lines[0], "d.yaml:3:1: unknown operator 'good-aa' (did you mean 'good-a'?)");
    ck_assert_str_eq(errs.lines[1], "d.yaml:9:5: operator 'good-c': param 'interval': 'abc' is not "
                                    "a valid duration (e.g. 500ms, 2s, 1m30s)");
    ck_assert_str_eq(errs.lines[2], "d.yaml:15:1: unknown operator 'zzz'");
    ck_assert_str_eq(errs.lines[3], "d.yaml:22:3: operator 'second-x': unknown param 'foo'");
    ck_assert_ptr_null(errs.lines[4]);
    errors_clear(&errs);
    assert_trace(""); /* checking runs no init */

    /* Only the valid ones: no error, nothing added. */
    registry_set_globals(reg, &globals[3], 1);
    ck_assert_int_eq(registry_check_globals(reg, &errs), 0);
    registry_set_globals(reg, &globals[5], 1);
    ck_assert_int_eq(registry_check_globals(reg, &errs), 0);
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_ptr_null(errs.lines);
}
END_TEST

static Suite *registry_suite(void) {
    Suite *s = suite_create("registry");
    TCase *tc;

    tc = tcase_create("names");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_add_and_find);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_duplicate_across_plugins);
    tcase_add_test(tc, test_duplicate_first_wins);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_remove_with_reference);
    tcase_add_test(tc, test_init_once_close_reverse);
    tcase_add_test(tc, test_init_after_close);
    suite_add_tcase(s, tc);

    tc = tcase_create("globals");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_globals_reach_init);
    tcase_add_loop_test(tc, test_bad_global, 0, (int) (sizeof(bad_globals) / sizeof(bad_globals[0])));
    tcase_add_test(tc, test_check_globals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(registry_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

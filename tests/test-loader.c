/*
 * test-loader.c — tests how plugin files are loaded, on real plugin files:
 * the supervisor's side (supervisor/plugins.c: file checks, snapshots,
 * rescans; probe.c: the scanner child, which is the real ophostd --worker)
 * and the loader that runs in workers (worker/loader.c, in this process).
 * The test plugins built in TEST_PLUGIN_DIR (tests/plugins/) are copied into
 * fresh temporary directories, where modes and owners can be changed. Every
 * refusal is asserted as its exact "PATH: STEP: REASON" line, and scans are
 * checked for what they load, in which order, around the refusals. Loading
 * through the supervisor's side never maps a plugin into this process.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "child.h"
#include "loader.h"
#include "log.h"
#include "plugins.h"
#include "probe.h"
#include "registry.h"
#include "testutil.h"

#ifndef TEST_PLUGIN_DIR
#error "define TEST_PLUGIN_DIR as the directory of the built test plugins"
#endif
#ifndef OPHOSTD_PATH
#error "define OPHOSTD_PATH as the built ophostd (it runs the scanner)"
#endif

/* The sizes of the ABI 1.0 structs on this platform. Hard-coded on purpose:
 * they may never change, whatever is appended to the structs later. */
#define PLUGIN_SIZE_1_0 (sizeof(void *) == 8 ? 40u : 20u)
#define OPERATOR_SIZE_1_0 (sizeof(void *) == 8 ? 136u : 76u)

/* The loader only hands the host table to entry functions; none of the test
 * plugins calls it while loading. */
static const struct ophost_host host = {
    .struct_size = sizeof(struct ophost_host),
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
};

static uid_t me;          /* the trusted (daemon) uid in these tests */
static char *dirs_made[8]; /* temporary directories of the current test */
static size_t n_dirs_made;

/* A new empty directory, mode 0755, removed at teardown. */
static char *make_dir(void) {
    char *d = tu_make_dir("loader");

    ck_assert_uint_lt(n_dirs_made, sizeof(dirs_made) / sizeof(dirs_made[0]));
    dirs_made[n_dirs_made++] = d;
    return d;
}

static sd_event *loop;

static void setup(void) {
    me = geteuid();
    n_dirs_made = 0;
    child_set_executable(OPHOSTD_PATH);
    ck_assert_int_ge(sd_event_new(&loop), 0);
}

static void teardown(void) {
    loop = sd_event_unref(loop);
    for (size_t i = 0; i < n_dirs_made; i++) {
        tu_remove_tree(dirs_made[i]);
        free(dirs_made[i]);
    }
    n_dirs_made = 0;
}

/* Copies the built test plugin src to DIR/dst, mode 0644; returns the path. */
static char *copy_plugin(const char *dir, const char *src, const char *dst) {
    char *from = tu_path_in(TEST_PLUGIN_DIR, src), *to = tu_path_in(dir, dst);

    tu_copy_file(from, to);
    free(from);
    return to;
}

/* Whether path is mapped into this process (so: dlopen()ed, not dlclose()d). */
static bool is_mapped(const char *path) {
    FILE *f = fopen("/proc/self/maps", "re");
    size_t len = strlen(path);
    char line[4096];
    bool found = false;

    ck_assert_ptr_nonnull(f);
    while (!found && fgets(line, sizeof(line), f)) {
        size_t l = strlen(line);
        if (l > 0 && line[l - 1] == '\n')
            line[--l] = '\0';
        found = l >= len && streq(line + l - len, path) && (l == len || line[l - len - 1] == ' ');
    }
    fclose(f);
    return found;
}

/* Loads path as ophostd does: the file checks and the snapshot here, the
 * dlopen and the descriptor in the scanner. The loader's refusals keep
 * their text and errno across the process boundary. */
static int load_file(const char *path, uid_t trusted, struct plugin **ret, char **ret_error) {
    struct plugin *snap = NULL;
    struct probe *pr = NULL;
    int r;

    r = plugin_snapshot(path, trusted, &snap, ret_error);
    if (r < 0)
        return r;
    ck_assert_int_ge(probe_scan(loop, &snap, 1, LOG_ERR, NULL, NULL, &pr), 0);
    ck_assert_int_ge(probe_wait(loop, pr), 0);
    r = probe_errno(pr, 0);
    if (r >= 0)
        *ret = plugin_ref(probe_plugin(pr, 0));
    else
        *ret_error = strdup(probe_error(pr, 0));
    probe_free(pr);
    plugin_unref(snap);
    return r;
}

/* Scans dirs as ophostd does (the file checks and snapshots here, the
 * scanner in a child), without registering anything: the plugins that load
 * (references, in scan order) are appended to *plugins (a NULL-terminated
 * array; left NULL when none), each refusal is a line of errs. Returns how
 * many loaded. */
static int scan(char *const *dirs, uid_t trusted, struct plugin ***plugins, struct errors *errs) {
    struct registry *reg = registry_new();
    struct plugin_dirs *pd = plugin_dirs_new(trusted);
    struct plugin_scan found;
    struct probe *pr = NULL;
    size_t n = 0;
    int loaded = 0;

    ck_assert_ptr_nonnull(reg);
    ck_assert_ptr_nonnull(pd);
    ck_assert_int_ge(plugin_dirs_scan(pd, dirs, reg, &found, errs), 0);
    ck_assert_int_ge(probe_scan(loop, found.fresh, found.n_fresh, LOG_ERR, NULL, NULL, &pr), 0);
    ck_assert_int_ge(probe_wait(loop, pr), 0);
    while (*plugins && (*plugins)[n])
        n++;
    for (size_t i = 0; i < probe_size(pr); i++) {
        struct plugin *p = probe_plugin(pr, i);
        if (!p) {
            ck_assert_int_ge(errors_add(errs, "%s", probe_error(pr, i)), 0);
            continue;
        }
        *plugins = realloc(*plugins, (n + 2) * sizeof(struct plugin *));
        ck_assert_ptr_nonnull(*plugins);
        (*plugins)[n++] = plugin_ref(p);
        (*plugins)[n] = NULL;
        loaded++;
    }
    probe_free(pr);
    plugin_scan_clear(&found);
    registry_free(reg);
    plugin_dirs_free(pd);
    return loaded;
}

/* Loads path and asserts that it is refused with err and "PATH: reason". */
static void assert_refused(const char *path, int err, const char *reason) {
    struct plugin sentinel, *p = &sentinel;
    char *msg = NULL, *want = strprintf("%s: %s", path, reason);
    int r;

    r = load_file(path, me, &p, &msg);
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(msg, want);
    ck_assert_int_eq(r, err);
    ck_assert_ptr_eq(p, &sentinel); /* *ret is written only on success */
    ck_assert_msg(!is_mapped(path), "%s still mapped after refusal", path);
    free(msg);
    free(want);
}

static struct plugin *load_ok(const char *path, uid_t trusted) {
    struct plugin *p = NULL;
    char *msg = NULL;
    int r;

    r = load_file(path, trusted, &p, &msg);
    ck_assert_msg(r == 0, "loading %s: %d %s", path, r, msg ? msg : "(no message)");
    ck_assert_ptr_null(msg);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->n_ref, 1);
    ck_assert_ptr_null(p->dl);
    ck_assert_msg(!is_mapped(path), "the supervisor's side mapped %s", path);
    return p;
}

/* Loads path in this process, as a worker does. */
static struct plugin *load_here(const char *path) {
    struct plugin *p = NULL;
    char *msg = NULL;
    int r;

    r = loader_load_path(path, 0, &host, &p, &msg);
    ck_assert_msg(r == 0, "loading %s: %d %s", path, r, msg ? msg : "(no message)");
    ck_assert_ptr_null(msg);
    ck_assert_ptr_nonnull(p->dl);
    return p;
}

static void free_plugins(struct plugin **plugins) {
    for (size_t i = 0; plugins && plugins[i]; i++)
        plugin_unref(plugins[i]);
    free(plugins);
}

/* ------------------------------------------------------------ good ones */

/* The operators of good.so, whoever described them. */
static void assert_good_operators(const struct plugin *p) {
    const struct ophost_operator *ops = p->operators;

    ck_assert_str_eq(p->desc->name, "good");
    ck_assert_str_eq(p->desc->version, "1.0");
    ck_assert_uint_eq(p->n_operators, 3);
    ck_assert_str_eq(ops[0].name, "good-a");
    ck_assert_str_eq(ops[1].name, "good-b");
    ck_assert_str_eq(ops[2].name, "good-c");
    for (size_t i = 0; i < 3; i++)
        ck_assert_uint_eq(ops[i].struct_size, sizeof(struct ophost_operator));
    ck_assert_ptr_null(ops[0].dependencies);
    ck_assert_ptr_nonnull(ops[1].dependencies);
    ck_assert_str_eq(ops[1].dependencies[0], "good-a");
    ck_assert_ptr_null(ops[1].dependencies[1]);
    ck_assert_int_eq(ops[0].priority, OPHOST_PRIORITY_ENRICHER);
    ck_assert_int_eq(ops[1].priority, OPHOST_PRIORITY_TRANSFORM);
    ck_assert_int_eq(ops[2].priority, OPHOST_PRIORITY_SINK);
    ck_assert_str_eq(ops[2].global_params[0].key, "interval");
    ck_assert_str_eq(ops[2].global_params[4].key, "max");
    ck_assert_ptr_null(ops[2].global_params[5].key);
    ck_assert_str_eq(ops[2].instance_params[0].key, "path");
}

START_TEST(test_good) {
    /* The supervisor's view: the scanner's description, with no code. */
    char *path = copy_plugin(make_dir(), "good.so", "good.so");
    struct plugin *p = load_ok(path, me);
    struct stat st;

    ck_assert_str_eq(p->path, path);
    ck_assert_str_eq(p->file_name, "good.so");
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(p->id.dev == st.st_dev && p->id.ino == st.st_ino);
    ck_assert_int_eq(p->id.size, st.st_size);
    assert_good_operators(p);
    for (size_t i = 0; i < 3; i++) {
        const struct ophost_operator *op = &p->operators[i];
        /* Metadata only: not one pointer into plugin code. */
        ck_assert(!op->init && !op->close && !op->can_operate_on && !op->instantiate &&
                  !op->pre_start && !op->start && !op->stop && !op->post_stop &&
                  !op->destroy && !op->process);
    }
    /* The snapshot: a sealed memfd with the file's bytes. */
    ck_assert_int_ge(p->fd, 0);
    ck_assert_int_eq(fstat(p->fd, &st), 0);
    ck_assert_int_eq(p->id.size, st.st_size);
    ck_assert_int_eq(fcntl(p->fd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW),
                     F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW);
    ck_assert_int_lt(write(p->fd, "x", 1), 0);
    ck_assert(!is_mapped(path));
    plugin_unref(p);
    free(path);
}
END_TEST

START_TEST(test_good_here) {
    /* A worker's view: the object loaded, its operators copied. */
    char *path = copy_plugin(make_dir(), "good.so", "good.so");
    struct plugin *p = load_here(path);
    const struct ophost_operator *ops = p->operators;

    assert_good_operators(p);
    for (size_t i = 0; i < 3; i++) {
        /* Copies in host-owned memory, identical to what the plugin has. */
        ck_assert_ptr_ne(&ops[i], p->desc->operators[i]);
        ck_assert_int_eq(memcmp(&ops[i], p->desc->operators[i], sizeof(ops[i])), 0);
        ck_assert_ptr_nonnull(ops[i].init);
        ck_assert_ptr_nonnull(ops[i].close);
    }
    ck_assert_ptr_nonnull(ops[2].process);
    ck_assert_ptr_null(ops[0].process);

    /* dlclose()d with the last reference, not before. */
    ck_assert(is_mapped(path));
    ck_assert_ptr_eq(plugin_ref(p), p);
    ck_assert_uint_eq(p->n_ref, 2);
    ck_assert_ptr_null(plugin_unref(p));
    ck_assert(is_mapped(path));
    ck_assert_ptr_null(plugin_unref(p));
    ck_assert(!is_mapped(path));
    free(path);
}
END_TEST

START_TEST(test_larger_operator_struct) {
    /* second-x declares a struct larger than the host's (a later 1.x): the
     * host copies the part it knows and records its own size. */
    char *path = copy_plugin(make_dir(), "second.so", "second.so");
    struct plugin *p = load_here(path);
    const struct ophost_operator *orig;

    ck_assert_str_eq(p->desc->name, "second");
    ck_assert_uint_eq(p->n_operators, 1);
    orig = p->desc->operators[0];
    ck_assert_uint_gt(orig->struct_size, sizeof(struct ophost_operator));
    ck_assert_uint_eq(p->operators[0].struct_size, sizeof(struct ophost_operator));
    ck_assert_str_eq(p->operators[0].name, "second-x");
    ck_assert_uint_eq(p->operators[0].flags, OPHOST_OPERATOR_GADGET);
    ck_assert_int_eq(p->operators[0].priority, OPHOST_PRIORITY_EARLY_FILTER);
    ck_assert_int_eq(memcmp((const char *) &p->operators[0] + sizeof(uint32_t),
                            (const char *) orig + sizeof(uint32_t),
                            sizeof(struct ophost_operator) - sizeof(uint32_t)), 0);
    plugin_unref(p);
    free(path);
}
END_TEST

START_TEST(test_loaded_side_by_side) {
    /* Two different files loaded while both are kept: each must be itself.
     * (The loader dlopen()s "/proc/self/fd/N"; glibc matches an already
     * loaded object by that name before opening anything, so a reused N
     * would hand back the first plugin again.) */
    const char *dir = make_dir();
    char *pa = copy_plugin(dir, "good.so", "a.so"), *pb = copy_plugin(dir, "second.so", "b.so");
    char *pc = copy_plugin(dir, "good.so", "c.so");
    struct plugin *a = load_here(pa), *b = load_here(pb), *c = load_here(pc);

    ck_assert_str_eq(a->desc->name, "good");
    ck_assert_str_eq(b->desc->name, "second");
    ck_assert_str_eq(c->desc->name, "good");
    ck_assert_ptr_ne(a->dl, b->dl);
    /* A copy is another file: its own mapping, its own descriptor. */
    ck_assert_ptr_ne(a->dl, c->dl);
    ck_assert_ptr_ne(a->desc, c->desc);
    ck_assert(is_mapped(pa) && is_mapped(pb) && is_mapped(pc));
    plugin_unref(b);
    ck_assert(!is_mapped(pb));
    ck_assert(is_mapped(pa) && is_mapped(pc));
    plugin_unref(a);
    plugin_unref(c);
    free(pa);
    free(pb);
    free(pc);
}
END_TEST

START_TEST(test_after_resident) {
    /* resident.so stays mapped after its last unref (-z nodelete); a plugin
     * loaded afterwards must still be the file that was asked for. */
    const char *dir = make_dir();
    char *pr = copy_plugin(dir, "resident.so", "resident.so");
    char *pg = copy_plugin(dir, "good.so", "good.so");
    struct plugin *p = load_here(pr);

    ck_assert_str_eq(p->desc->name, "resident");
    plugin_unref(p);
    ck_assert(is_mapped(pr));
    p = load_here(pg);
    ck_assert_str_eq(p->desc->name, "good");
    ck_assert_uint_eq(p->n_operators, 3);
    plugin_unref(p);
    free(pr);
    free(pg);
}
END_TEST

START_TEST(test_plugin_names) {
    ck_assert(plugin_is_file_name("a.so"));
    ck_assert(plugin_is_file_name("good.so"));
    ck_assert(plugin_is_file_name("Z.so"));
    ck_assert(!plugin_is_file_name(".so"));
    ck_assert(!plugin_is_file_name("so"));
    ck_assert(!plugin_is_file_name(""));
    ck_assert(!plugin_is_file_name(".hidden.so"));
    ck_assert(!plugin_is_file_name(".x.so.tmp"));
    ck_assert(!plugin_is_file_name("x.so~"));
    ck_assert(!plugin_is_file_name("x.so.1"));
    ck_assert(!plugin_is_file_name("x.SO"));
    ck_assert(!plugin_is_file_name("README"));
}
END_TEST

/* --------------------------------------------------------- broken ones */

struct refusal_case {
    const char *file;
    int error;
    char reason[160]; /* what follows "PATH: " */
};

/* In file name order, as a scan of all test plugins meets them. The ABI
 * texts are filled in by init_refusals(). */
static struct refusal_case refusals[] = {
    { "abimajor.so", -EPROTO, "" },
    { "abiminor.so", -EPROTO, "" },
    { "badname.so", -EINVAL, "operator #1: invalid name 'Bad Name' (use a-z, 0-9, '_' and '-')" },
    { "badparam.so", -EINVAL,
      "operator 'badparam-op': instance param 'interval': default '2x' is not a valid duration" },
    { "dupinside.so", -EEXIST, "operator 'dup-op': defined twice in the plugin" },
    { "emptyname.so", -EINVAL, "operator #0: invalid name '' (use a-z, 0-9, '_' and '-')" },
    /* The missing library is named, not just "cannot open shared object file". */
    { "needslib.so", -ENOEXEC,
      "dlopen: libophost-test-absent.so: cannot open shared object file: No such file or directory" },
    { "noentry.so", -ENOENT,
      "entry: no symbol 'ophost_plugin_entry' (define it with OPHOST_PLUGIN, or mark it "
      "OPHOST_EXPORT)" },
    { "noops.so", -EINVAL, "descriptor: provides no operators" },
    { "notelf.so", -ENOEXEC, "dlopen: invalid ELF header" },
    { "nullentry.so", -EINVAL, "entry: 'ophost_plugin_entry' returned NULL" },
    { "smallop.so", -EINVAL, "" },
    { "smallstruct.so", -EINVAL, "" },
    { "undefsym.so", -ENOEXEC, "dlopen: undefined symbol: ophost_test_no_such_function" },
};
#define N_REFUSALS (sizeof(refusals) / sizeof(refusals[0]))

static char *reason_of(const char *file) {
    for (size_t i = 0; i < N_REFUSALS; i++)
        if (streq(refusals[i].file, file))
            return refusals[i].reason;
    abort();
}

static void init_refusals(void) {
    snprintf(reason_of("abimajor.so"), sizeof(refusals[0].reason),
             "abi: plugin ABI major 2, host supports %d: rebuild it against this host's ophost.h",
             OPHOST_ABI_MAJOR);
    snprintf(reason_of("abiminor.so"), sizeof(refusals[0].reason),
             "abi: plugin ABI %d.%d is newer than the host's %d.%d: rebuild it against this "
             "host's ophost.h, or update ophostd", OPHOST_ABI_MAJOR,
             OPHOST_ABI_MINOR + 1, OPHOST_ABI_MAJOR, OPHOST_ABI_MINOR);
    snprintf(reason_of("smallop.so"), sizeof(refusals[0].reason),
             "operator 'small-op': struct_size 8 is smaller than the ABI 1.0 size %u: set "
             ".struct_size = sizeof(struct ophost_operator)", OPERATOR_SIZE_1_0);
    snprintf(reason_of("smallstruct.so"), sizeof(refusals[0].reason),
             "descriptor: struct_size 8 is smaller than the ABI 1.0 size %u: set .struct_size = "
             "sizeof(struct ophost_plugin) (or define the descriptor with OPHOST_PLUGIN)",
             PLUGIN_SIZE_1_0);
}

START_TEST(test_refused) {
    const struct refusal_case *f = &refusals[_i];
    char *path = copy_plugin(make_dir(), f->file, f->file);

    assert_refused(path, f->error, f->reason);
    free(path);
}
END_TEST

START_TEST(test_dupname_loads) {
    /* Duplicates across plugins are the registry's business, not the loader's. */
    char *path = copy_plugin(make_dir(), "dupname.so", "dupname.so");
    struct plugin *p = load_ok(path, me);

    ck_assert_uint_eq(p->n_operators, 2);
    ck_assert_str_eq(p->operators[0].name, "dup-first");
    ck_assert_str_eq(p->operators[1].name, "good-a");
    plugin_unref(p);
    free(path);
}
END_TEST

START_TEST(test_missing_file) {
    char *path = tu_path_in(make_dir(), "nothing.so");

    assert_refused(path, -ENOENT, "file: No such file or directory");
    free(path);
}
END_TEST

/* ------------------------------------------------- owners and modes */

START_TEST(test_file_writable) {
    static const struct {
        mode_t mode;
        const char *reason;
    } cases[] = {
        { 0666, "file: writable by group or others (mode 0666)" },
        { 0664, "file: writable by group or others (mode 0664)" },
        { 0646, "file: writable by group or others (mode 0646)" },
        { 04620, "file: writable by group or others (mode 4620)" },
    };
    const char *dir = make_dir();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[32], *path;
        snprintf(name, sizeof(name), "good%zu.so", i);
        path = copy_plugin(dir, "good.so", name);
        ck_assert_int_eq(chmod(path, cases[i].mode), 0);
        assert_refused(path, -EPERM, cases[i].reason);
        free(path);
    }
}
END_TEST

START_TEST(test_file_modes_accepted) {
    static const mode_t modes[] = { 0400, 0444, 0555, 0600, 0644, 0700, 0755 };
    const char *dir = make_dir();

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char name[32], *path;
        snprintf(name, sizeof(name), "good%zu.so", i);
        path = copy_plugin(dir, "good.so", name);
        ck_assert_int_eq(chmod(path, modes[i]), 0);
        plugin_unref(load_ok(path, me));
        free(path);
    }
}
END_TEST

START_TEST(test_file_owner) {
    const char *dir = make_dir();
    char *path = copy_plugin(dir, "good.so", "good.so"), *want;

    if (me != 0) {
        fprintf(stderr, "test_file_owner: not root, cannot chown; skipped\n");
        free(path);
        return;
    }
    ck_assert_int_eq(chown(path, 1234, 1234), 0);
    want = strprintf("file: owned by uid 1234, must be root or the daemon's user (uid %u)",
                     (unsigned) me);
    assert_refused(path, -EPERM, want);
    free(want);
    /* The daemon's own user is trusted as well as root. */
    plugin_unref(load_ok(path, 1234));
    /* A file of another group is fine when not group-writable. */
    ck_assert_int_eq(chown(path, 0, 1234), 0);
    plugin_unref(load_ok(path, me));
    free(path);
}
END_TEST

START_TEST(test_symlink_refused) {
    const char *dir = make_dir();
    char *target = copy_plugin(dir, "good.so", "good.so"), *link = tu_path_in(dir, "link.so");
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { (char *) dir, NULL }, *want;

    ck_assert_int_eq(symlink(target, link), 0);
    assert_refused(link, -ELOOP, "file: is a symbolic link, not a regular file");

    /* In a scan: refused, and the target itself still loads. */
    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 1);
    ck_assert_str_eq(plugins[0]->file_name, "good.so");
    ck_assert_ptr_null(plugins[1]);
    ck_assert_uint_eq(errs.n, 1);
    want = strprintf("%s: file: is a symbolic link, not a regular file", link);
    ck_assert_str_eq(errs.lines[0], want);
    free(want);
    free_plugins(plugins);
    errors_clear(&errs);
    free(target);
    free(link);
}
END_TEST

START_TEST(test_not_regular) {
    /* A FIFO must not block the loader; a directory is not a plugin. */
    const char *dir = make_dir();
    char *fifo = tu_path_in(dir, "fifo.so"), *sub = tu_path_in(dir, "sub.so");
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { (char *) dir, NULL }, *want;

    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    free(copy_plugin(dir, "second.so", "second.so"));
    assert_refused(fifo, -EINVAL, "file: not a regular file");
    assert_refused(sub, -EINVAL, "file: not a regular file");

    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 1);
    ck_assert_str_eq(plugins[0]->desc->name, "second");
    ck_assert_uint_eq(errs.n, 2);
    want = strprintf("%s: file: not a regular file", fifo);
    ck_assert_str_eq(errs.lines[0], want);
    free(want);
    want = strprintf("%s: file: not a regular file", sub);
    ck_assert_str_eq(errs.lines[1], want);
    free(want);
    free_plugins(plugins);
    errors_clear(&errs);
    free(fifo);
    free(sub);
}
END_TEST

START_TEST(test_dir_writable) {
    const char *dir = make_dir();
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { (char *) dir, NULL }, *msg = NULL, *want;

    free(copy_plugin(dir, "good.so", "good.so"));
    ck_assert_int_eq(chmod(dir, 0775), 0);
    want = strprintf("%s: directory: writable by group or others (mode 0775)", dir);
    ck_assert_int_eq(plugin_check_dir(dir, me, &msg), -EPERM);
    ck_assert_str_eq(msg, want);
    free(msg);

    /* The scan refuses the directory with that one line and loads nothing. */
    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 0);
    ck_assert_ptr_null(plugins);
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_str_eq(errs.lines[0], want);
    errors_clear(&errs);
    free(want);

    /* /tmp style: world-writable with the sticky bit is still refused. */
    ck_assert_int_eq(chmod(dir, 01777), 0);
    msg = NULL;
    ck_assert_int_eq(plugin_check_dir(dir, me, &msg), -EPERM);
    want = strprintf("%s: directory: writable by group or others (mode 1777)", dir);
    ck_assert_str_eq(msg, want);
    free(msg);
    free(want);

    ck_assert_int_eq(chmod(dir, 0755), 0);
    msg = NULL;
    ck_assert_int_eq(plugin_check_dir(dir, me, &msg), 0);
    ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(test_dir_owner) {
    const char *dir = make_dir();
    char *msg = NULL, *want;

    if (me != 0) {
        fprintf(stderr, "test_dir_owner: not root, cannot chown; skipped\n");
        return;
    }
    ck_assert_int_eq(chown(dir, 1234, 0), 0);
    ck_assert_int_eq(plugin_check_dir(dir, me, &msg), -EPERM);
    want = strprintf("%s: directory: owned by uid 1234, must be root or the daemon's user (uid 0)",
                     dir);
    ck_assert_str_eq(msg, want);
    free(msg);
    free(want);
    msg = NULL;
    ck_assert_int_eq(plugin_check_dir(dir, 1234, &msg), 0);
    ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(test_dir_not_dir_and_symlink) {
    const char *dir = make_dir(), *other = make_dir();
    char *file = copy_plugin(dir, "good.so", "good.so"), *link = tu_path_in(other, "plugins");
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { link, NULL }, *msg = NULL, *want;

    ck_assert_int_eq(plugin_check_dir(file, me, &msg), -ENOTDIR);
    want = strprintf("%s: directory: not a directory", file);
    ck_assert_str_eq(msg, want);
    free(msg);
    free(want);

    /* A symlinked plugin directory is followed and its target checked. */
    ck_assert_int_eq(symlink(dir, link), 0);
    msg = NULL;
    ck_assert_int_eq(plugin_check_dir(link, me, &msg), 0);
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 1);
    ck_assert_uint_eq(errs.n, 0);
    want = tu_path_in(link, "good.so");
    ck_assert_str_eq(plugins[0]->path, want);
    free(want);
    free_plugins(plugins);
    plugins = NULL;

    /* ... and the target's mode still counts. */
    ck_assert_int_eq(chmod(dir, 0757), 0);
    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 0);
    ck_assert_uint_eq(errs.n, 1);
    want = strprintf("%s: directory: writable by group or others (mode 0757)", link);
    ck_assert_str_eq(errs.lines[0], want);
    free(want);
    errors_clear(&errs);
    free(file);
    free(link);
}
END_TEST

START_TEST(test_missing_dir) {
    const char *dir = make_dir();
    char *missing = tu_path_in(dir, "no-such-dir"), *want;
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { missing, (char *) dir, NULL };

    free(copy_plugin(dir, "good.so", "good.so"));
    /* Not a failure: a refusal line, then the next directory. */
    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 1);
    ck_assert_str_eq(plugins[0]->desc->name, "good");
    ck_assert_ptr_null(plugins[1]);
    ck_assert_uint_eq(errs.n, 1);
    want = strprintf("%s: directory: No such file or directory", missing);
    ck_assert_str_eq(errs.lines[0], want);
    free(want);
    free_plugins(plugins);
    errors_clear(&errs);
    free(missing);
}
END_TEST

/* ---------------------------------------------------------------- scans */

START_TEST(test_scan_all) {
    /* Every test plugin in one directory: the good ones load, in file name
     * order, and each broken one is one refusal line, in the same order. */
    static const char *const all[] = {
        "abimajor.so", "abiminor.so", "badname.so", "badparam.so", "dupinside.so",
        "dupname.so", "emptyname.so", "good.so", "initfail.so", "needslib.so", "noentry.so",
        "noops.so", "notelf.so", "nullentry.so", "second.so", "smallop.so", "smallstruct.so",
        "undefsym.so",
    };
    static const char *const loaded[] = { "dupname", "good", "initfail", "second" };
    const char *dir = make_dir();
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { (char *) dir, NULL };

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(copy_plugin(dir, all[i], all[i]));

    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 4);
    for (size_t i = 0; i < 4; i++) {
        char *want = strprintf("%s/%s.so", dir, loaded[i]);
        ck_assert_str_eq(plugins[i]->desc->name, loaded[i]);
        ck_assert_str_eq(plugins[i]->path, want);
        ck_assert_uint_eq(plugins[i]->n_ref, 1);
        free(want);
    }
    ck_assert_ptr_null(plugins[4]);

    ck_assert_uint_eq(errs.n, N_REFUSALS);
    for (size_t i = 0; i < N_REFUSALS; i++) {
        char *want = strprintf("%s/%s: %s", dir, refusals[i].file, refusals[i].reason);
        ck_assert_str_eq(errs.lines[i], want);
        free(want);
    }
    ck_assert_ptr_null(errs.lines[N_REFUSALS]);
    free_plugins(plugins);
    errors_clear(&errs);
}
END_TEST

START_TEST(test_scan_order_in_dir) {
    /* strcmp order, not the locale's and not readdir's: "Z" < "a" < "b". */
    const char *dir = make_dir();
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { (char *) dir, NULL };

    free(copy_plugin(dir, "good.so", "b.so"));
    free(copy_plugin(dir, "second.so", "a.so"));
    free(copy_plugin(dir, "good.so", "Z.so"));
    free(copy_plugin(dir, "second.so", "a0.so"));
    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 4);
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_str_eq(plugins[0]->file_name, "Z.so");
    ck_assert_str_eq(plugins[1]->file_name, "a.so");
    ck_assert_str_eq(plugins[2]->file_name, "a0.so");
    ck_assert_str_eq(plugins[3]->file_name, "b.so");
    ck_assert_ptr_null(plugins[4]);
    ck_assert_str_eq(plugins[0]->desc->name, "good");
    ck_assert_str_eq(plugins[1]->desc->name, "second");
    /* Two copies of one plugin are two plugins for the loader. */
    ck_assert_ptr_ne(plugins[1]->desc, plugins[2]->desc);
    free_plugins(plugins);
}
END_TEST

START_TEST(test_scan_order_across_dirs) {
    /* Directory order first, then names within each directory; a second
     * scan appends to the array it is given. */
    const char *d1 = make_dir(), *d2 = make_dir();
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *forward[] = { (char *) d1, (char *) d2, NULL };
    char *backward[] = { (char *) d2, (char *) d1, NULL };
    char *only_d2[] = { (char *) d2, NULL };

    free(copy_plugin(d1, "good.so", "z.so"));
    free(copy_plugin(d2, "second.so", "a.so"));
    free(copy_plugin(d2, "notelf.so", "b.so"));

    ck_assert_int_eq(scan(forward, me, &plugins, &errs), 2);
    ck_assert_str_eq(plugins[0]->desc->name, "good");
    ck_assert_str_eq(plugins[1]->desc->name, "second");
    ck_assert_ptr_null(plugins[2]);
    ck_assert_uint_eq(errs.n, 1);
    free_plugins(plugins);
    plugins = NULL;
    errors_clear(&errs);

    ck_assert_int_eq(scan(backward, me, &plugins, &errs), 2);
    ck_assert_str_eq(plugins[0]->desc->name, "second");
    ck_assert_str_eq(plugins[1]->desc->name, "good");
    ck_assert_ptr_null(plugins[2]);
    ck_assert_uint_eq(errs.n, 1);

    /* Appends; the count returned is of this scan only. */
    ck_assert_int_eq(scan(only_d2, me, &plugins, &errs), 1);
    ck_assert_str_eq(plugins[0]->desc->name, "second");
    ck_assert_str_eq(plugins[1]->desc->name, "good");
    ck_assert_str_eq(plugins[2]->desc->name, "second");
    ck_assert_ptr_null(plugins[3]);
    ck_assert_uint_eq(errs.n, 2);
    free_plugins(plugins);
    errors_clear(&errs);
}
END_TEST

START_TEST(test_scan_ignores) {
    /* Hidden files, editor backups, temporary names and non-.so files are
     * not even opened: they are copies of a broken plugin, so any attempt
     * would show as a refusal. */
    static const char *const ignored[] = {
        "README", ".hidden.so", "x.so~", ".x.so.tmp", "x.so.1", "libx.so.2", "x.SO", ".so", "so",
    };
    const char *dir = make_dir();
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { (char *) dir, NULL };

    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        free(copy_plugin(dir, "abimajor.so", ignored[i]));
    free(copy_plugin(dir, "good.so", "good.so"));

    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 1);
    ck_assert_str_eq(plugins[0]->file_name, "good.so");
    ck_assert_ptr_null(plugins[1]);
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_ptr_null(errs.lines);
    free_plugins(plugins);
}
END_TEST

START_TEST(test_scan_empty) {
    const char *dir = make_dir();
    struct plugin **plugins = NULL;
    struct errors errs = {};
    char *dirs[] = { (char *) dir, NULL };

    ck_assert_int_eq(scan(dirs, me, &plugins, &errs), 0);
    ck_assert_ptr_null(plugins);
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_int_eq(scan(NULL, me, &plugins, &errs), 0);
    ck_assert_ptr_null(plugins);
}
END_TEST

static Suite *loader_suite(void) {
    Suite *s = suite_create("loader");
    TCase *tc;

    tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_good_here);
    tcase_add_test(tc, test_larger_operator_struct);
    tcase_add_test(tc, test_loaded_side_by_side);
    tcase_add_test(tc, test_after_resident);
    tcase_add_test(tc, test_plugin_names);
    tcase_add_loop_test(tc, test_refused, 0, (int) N_REFUSALS);
    tcase_add_test(tc, test_dupname_loads);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("security");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_writable);
    tcase_add_test(tc, test_file_modes_accepted);
    tcase_add_test(tc, test_file_owner);
    tcase_add_test(tc, test_symlink_refused);
    tcase_add_test(tc, test_not_regular);
    tcase_add_test(tc, test_dir_writable);
    tcase_add_test(tc, test_dir_owner);
    tcase_add_test(tc, test_dir_not_dir_and_symlink);
    tcase_add_test(tc, test_missing_dir);
    suite_add_tcase(s, tc);

    tc = tcase_create("scan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_scan_all);
    tcase_add_test(tc, test_scan_order_in_dir);
    tcase_add_test(tc, test_scan_order_across_dirs);
    tcase_add_test(tc, test_scan_ignores);
    tcase_add_test(tc, test_scan_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(loader_suite());
    int failed;

    init_refusals();
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_path_in(const char *dir, const char *name) {
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

char *tu_make_dir(const char *name) {
    char *d = NULL;

    ck_assert_int_ge(asprintf(&d, "/tmp/ophost-test-%s-XXXXXX", name), 0);
    ck_assert_ptr_nonnull(mkdtemp(d));
    ck_assert_int_eq(chmod(d, 0755), 0);
    return d;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

void tu_remove_tree(const char *dir) {
    ck_assert_int_eq(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

void tu_copy_file(const char *from, const char *to) {
    char buf[65536];
    ssize_t n;
    int in, out;

    in = open(from, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(in >= 0, "cannot open %s: %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ck_assert_msg(out >= 0, "cannot create %s: %s", to, strerror(errno));
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t) n), n);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(fchmod(out, 0644), 0);
    close(in);
    close(out);
}

static char *read_stream(FILE *f) {
    char *s = NULL, buf[65536];
    size_t size = 0, n;
    FILE *m;

    m = open_memstream(&s, &size);
    ck_assert_ptr_nonnull(m);
    while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, m);
    if (f)
        fclose(f);
    fclose(m);
    return s;
}

char *tu_read_file(const char *path) {
    return read_stream(fopen(path, "re"));
}

char *tu_read_existing_file(const char *path) {
    FILE *f = fopen(path, "re");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    return read_stream(f);
}

int tu_redirect_fd(int fd, const char *path) {
    int saved = dup(fd), file;

    ck_assert_int_ge(saved, 0);
    file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(file, 0);
    fflush(stdout);
    ck_assert_int_ge(dup2(file, fd), 0);
    close(file);
    return saved;
}

void tu_restore_fd(int fd, int saved) {
    ck_assert_int_ge(dup2(saved, fd), 0);
    close(saved);
}

uint64_t tu_nsec(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void tu_reap(pid_t pid) {
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

int tu_run_tests(const char *name, double timeout, const TTest *const *tests) {
    return tu_run_suite(name, timeout, NULL, NULL, tests);
}

int tu_run_suite(const char *name, double timeout, SFun setup, SFun teardown,
                 const TTest *const *tests) {
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    SRunner *sr;
    int failed;

    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    if (setup || teardown)
        tcase_add_checked_fixture(tc, setup, teardown);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

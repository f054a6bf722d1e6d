/*
 * testutil.h — small helpers shared by the Check tests: temporary
 * directories with copies of built plugins, whole-file reads, child
 * processes and a one-case suite runner. Every helper aborts the current
 * test (ck_assert) on failure.
 */
#ifndef OPHOST_TESTS_TESTUTIL_H
#define OPHOST_TESTS_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>

/* "dir/name"; caller frees. */
char *tu_path_in(const char *dir, const char *name);

/* A new empty directory /tmp/ophost-test-NAME-XXXXXX, mode 0755; caller
 * removes it with tu_remove_tree and frees it. */
char *tu_make_dir(const char *name);

/* Removes dir and everything below it. */
void tu_remove_tree(const char *dir);

/* Copies the file from to the new file to (which must not exist), mode 0644:
 * the loader refuses group/world-writable plugins. */
void tu_copy_file(const char *from, const char *to);

/* The whole content of path, "" when it does not exist; caller frees. */
char *tu_read_file(const char *path);

/* The whole content of path, which must exist; caller frees. */
char *tu_read_existing_file(const char *path);

/* The file at path holds exactly want. */
#define tu_assert_file_eq(path, want)        \
    do {                                     \
        char *_t = tu_read_file(path);       \
        ck_assert_str_eq(_t, want);          \
        free(_t);                            \
    } while (0)

/* Sends fd (e.g. STDOUT_FILENO) to path, created or truncated, mode 0600,
 * stdout flushed first; returns a copy of the old fd for tu_restore_fd. */
int tu_redirect_fd(int fd, const char *path);
/* Points fd back where it pointed before tu_redirect_fd; closes saved. */
void tu_restore_fd(int fd, int saved);

/* The clock in nanoseconds. */
uint64_t tu_nsec(clockid_t clock);

/* Kills pid with SIGKILL and reaps it. */
void tu_reap(pid_t pid);

/* Runs the NULL-terminated tests as one suite and one test case, both
 * called name, with the given timeout in seconds (0: Check's default);
 * returns the exit status for main. */
int tu_run_tests(const char *name, double timeout, const TTest *const *tests);

/* The same with a checked fixture: setup and teardown (either may be NULL)
 * run around each test, in its process. */
int tu_run_suite(const char *name, double timeout, SFun setup, SFun teardown,
                 const TTest *const *tests);

#endif

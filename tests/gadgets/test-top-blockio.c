/*
 * test-top-blockio.c — the top_blockio gadget through the harness: a child
 * of the test named blkio-child overwrites 16 aligned 64 KiB blocks of a
 * file with O_DIRECT and reads them back; summed over the 200 ms rounds,
 * its rows for the file's device say exactly 16 writes and 16 reads of
 * 1 MiB each, with its pid, uid and comm (the session's pid filter keeps
 * the rest of the machine out). Skipped when the temporary directory is
 * not on a block device or does not support O_DIRECT.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: top_blockio\n  operators:\n    top_blockio: {" params "}\n"
#define BLOCK (64u << 10)
#define BLOCKS 16

static const char *const plugins[] = { TEST_PLUGIN_DIR "/top_blockio.so", NULL };
static char path[] = "/var/tmp/ophost-test-blockio-XXXXXX";
static struct stat file_st;

/* Makes the file (written and synced, so the child's writes overwrite
 * allocated blocks); NULL, or why the test cannot run here. */
static const char *file_make(void) {
    static char why[256];
    static char buf[BLOCK];
    int fd = mkstemp(path);

    if (fd < 0) {
        snprintf(why, sizeof(why), "cannot make a file in /var/tmp: %s", strerror(errno));
        return why;
    }
    memset(buf, 'b', sizeof(buf));
    for (int i = 0; i < BLOCKS; i++)
        if (write(fd, buf, sizeof(buf)) != (ssize_t) sizeof(buf)) {
            snprintf(why, sizeof(why), "cannot write %s: %s", path, strerror(errno));
            close(fd);
            return why;
        }
    fsync(fd);
    fstat(fd, &file_st);
    close(fd);
    if (major(file_st.st_dev) == 0)
        return "/var/tmp is not on a block device";
    fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0)
        return "/var/tmp does not support O_DIRECT";
    close(fd);
    return NULL;
}

START_TEST(test_direct_io) {
    struct harness *h = harness_new(plugins);
    char yaml[256], task[256], dev[64];
    const char *writes[] = { task, dev, "op=\"write\"", NULL };
    const char *reads[] = { task, dev, "op=\"read\"", NULL };
    const char *all[] = { "pid=", NULL };
    int fds[2];
    pid_t child;

    ck_assert_int_eq(pipe(fds), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        char go, *buf = NULL;
        int fd;
        prctl(PR_SET_NAME, "blkio-child");
        if (read(fds[0], &go, 1) != 1 || posix_memalign((void **) &buf, 4096, BLOCK) != 0)
            raise(SIGKILL);
        memset(buf, 'c', BLOCK);
        fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
        for (int i = 0; fd >= 0 && i < BLOCKS; i++)
            if (pwrite(fd, buf, BLOCK, (off_t) i * BLOCK) != BLOCK)
                raise(SIGKILL);
        for (int i = 0; fd >= 0 && i < BLOCKS; i++)
            if (pread(fd, buf, BLOCK, (off_t) i * BLOCK) != BLOCK)
                raise(SIGKILL);
        if (fd >= 0 && write(fds[1], "d", 1) == 1)
            pause(); /* killed by the test: not exit, valgrind would leak-check */
        raise(SIGKILL);
    }
    snprintf(yaml, sizeof(yaml), YAML("interval: 200ms, pid: %d"), (int) child);
    gt_start(h, yaml);
    ck_assert_int_eq(write(fds[1], "g", 1), 1);
    snprintf(task, sizeof(task), "pid=%d uid=%u comm=\"blkio-child\" ", (int) child,
             (unsigned) getuid());
    snprintf(dev, sizeof(dev), " major=%u minor=%u ", major(file_st.st_dev),
             minor(file_st.st_dev));
    ck_assert_uint_eq(gt_wait_sum(h, reads, "ios", BLOCKS, GT_WAIT_MS), BLOCKS);
    usleep(300000); /* one more round: nothing else comes */
    gt_stop(h);
    ck_assert_uint_eq(gt_sum(h, writes, "ios"), BLOCKS);
    ck_assert_uint_eq(gt_sum(h, writes, "bytes"), BLOCKS * BLOCK);
    ck_assert_uint_eq(gt_sum(h, reads, "ios"), BLOCKS);
    ck_assert_uint_eq(gt_sum(h, reads, "bytes"), BLOCKS * BLOCK);
    /* Nothing of anyone else; the child did nothing else on any device. */
    ck_assert_uint_eq(gt_sum(h, all, "ios"), 2 * BLOCKS);
    ck_assert_uint_ge(gt_sum(h, writes, "latency_max_us"), 1);
    tu_reap(child);
    harness_free(h);
}
END_TEST

START_TEST(test_bad_params) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails_with(h, YAML("interval: 1ms"), NULL, NULL, 0,
                              "param 'interval': '1ms' is below the minimum 100ms");
    harness_free(h);
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_direct_io, NULL };
    const char *missing = file_make();
    int r = gt_main("top_blockio", plugins, YAML("pid: 1"), missing, always, mech);

    unlink(path);
    return r;
}

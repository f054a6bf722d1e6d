/* daemonbench.c — see daemonbench.h. */
#include "daemonbench.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void sleep_ms(unsigned ms) {
    nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

uint64_t cpu_ns(pid_t pid) {
    char path[64];
    struct dirent *de;
    uint64_t total = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
    d = opendir(path);
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        char p[320];
        unsigned long long run;
        FILE *f;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", (int) pid, de->d_name);
        f = fopen(p, "re");
        if (f && fscanf(f, "%llu", &run) == 1)
            total += run;
        if (f)
            fclose(f);
    }
    closedir(d);
    return total;
}

bool file_contains(const char *path, const char *needle) {
    char buf[65536];
    FILE *f = fopen(path, "re");
    bool found = false;

    if (!f)
        return false;
    while (!found && fgets(buf, sizeof(buf), f))
        found = strstr(buf, needle) != NULL;
    fclose(f);
    return found;
}

off_t file_size(const char *path) {
    FILE *f = fopen(path, "re");
    off_t n;
    if (!f)
        return 0;
    fseeko(f, 0, SEEK_END);
    n = ftello(f);
    fclose(f);
    return n;
}

unsigned bpf_prog_ids(uint32_t *ids, unsigned max) {
    uint32_t id = 0;
    unsigned n = 0;

    while (n < max && bpf_prog_get_next_id(id, &id) == 0)
        ids[n++] = id;
    return n;
}

unsigned bpf_prog_stats(const uint32_t *old, unsigned n_old, uint64_t *ret_cnt,
                        uint64_t *ret_ns) {
    uint32_t id = 0;
    unsigned n = 0;

    *ret_cnt = *ret_ns = 0;
    while (bpf_prog_get_next_id(id, &id) == 0) {
        struct bpf_prog_info info;
        uint32_t len = sizeof(info);
        bool seen = false;
        int fd;
        for (unsigned i = 0; i < n_old && !seen; i++)
            seen = old[i] == id;
        if (seen || (fd = bpf_prog_get_fd_by_id(id)) < 0)
            continue;
        n++;
        memset(&info, 0, sizeof(info));
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
            *ret_cnt += info.run_cnt;
            *ret_ns += info.run_time_ns;
        }
        close(fd);
    }
    return n;
}

bool bpf_stats_enable(bool on) {
    FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "we");
    bool ok;

    if (!f)
        return false;
    ok = fputs(on ? "1\n" : "0\n", f) >= 0;
    return fclose(f) == 0 && ok;
}

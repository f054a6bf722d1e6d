/*
 * util.h — small helpers shared by the daemon modules: scope-bound cleanup
 * (the systemd idiom), ownership transfer, string helpers and the clock.
 */
#ifndef OPHOST_DAEMON_UTIL_H
#define OPHOST_DAEMON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_ _cleanup_(closep)
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Returns the pointer and clears the variable, so cleanup no longer frees it. */
#define TAKE_PTR(p)                        \
    ({                                     \
        __typeof__(p) _p_ = (p);           \
        (p) = NULL;                        \
        _p_;                               \
    })

/* The same for file descriptors: returns fd and sets the variable to -1. */
#define TAKE_FD(fd)                        \
    ({                                     \
        int _fd_ = (fd);                   \
        (fd) = -1;                         \
        _fd_;                              \
    })

static inline void freep(void *p) {
    free(*(void **) p);
}

static inline void fclosep(FILE **f) {
    if (*f)
        fclose(*f);
}

static inline void closep(int *fd) {
    if (*fd >= 0)
        close(*fd);
}

/* Defines name##p(T **p) that calls name(*p) if not NULL, for _cleanup_. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
    static inline void func##p(type *p) {       \
        if (*p)                                 \
            func(*p);                           \
    }

static inline bool streq(const char *a, const char *b) {
    return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static inline bool endswith(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

/* CLOCK_MONOTONIC now, in nanoseconds / microseconds. */
static inline uint64_t monotonic_nsec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static inline uint64_t monotonic_usec(void) {
    return monotonic_nsec() / 1000;
}

/* malloc'd printf; NULL on ENOMEM. */
char *strprintf(const char *fmt, ...) _printf_(1, 2);
char *vstrprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* NULL-terminated string vectors. */
size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
/* Appends a copy of s; 0 or -ENOMEM. */
int strv_extend(char ***l, const char *s);
/* Appends s itself (takes ownership, also on failure); 0 or -ENOMEM. */
int strv_consume(char ***l, char *s);

/* A size the way config files write it: "64M", "1G", "4096". Returns buf. */
const char *format_size(uint64_t bytes, char buf[32]);

/* Whether s is a valid operator or param name: [a-z0-9_-]+, at most 64 bytes. */
bool name_is_valid(const char *s);

#endif

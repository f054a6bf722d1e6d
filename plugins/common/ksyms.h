/*
 * ksyms.h — kernel addresses to "function+0xoff" from /proc/kallsyms, for
 * the gadgets that report where in the kernel something happened
 * (trace_tcpdrop's location, profile_cpu's kernel frames). Header-only,
 * static. Loaded once (pre_start: it allocates, about 120,000 text symbols);
 * lookups are a binary search and never allocate.
 */
#ifndef OPHOST_PLUGINS_KSYMS_H
#define OPHOST_PLUGINS_KSYMS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ksym {
    uint64_t addr;
    uint32_t name; /* offset in names */
};

struct ksyms {
    struct ksym *syms;
    size_t n;
    char *names;
};

static inline int ksyms_cmp(const void *a, const void *b) {
    const struct ksym *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static inline void ksyms_free(struct ksyms *k) {
    free(k->syms);
    free(k->names);
    *k = (struct ksyms){ 0 };
}

/* Reads the text symbols of /proc/kallsyms. Returns 0, -EPERM when the
 * addresses are hidden (kptr_restrict, or no CAP_SYSLOG), or another
 * negative errno. */
static inline int ksyms_load(struct ksyms *k) {
    size_t cap = 0, names_cap = 0, names_len = 0;
    char line[512], name[256], type;
    unsigned long long addr;
    bool any_addr = false;
    FILE *f = fopen("/proc/kallsyms", "re");
    int r = 0;

    *k = (struct ksyms){ 0 };
    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        size_t len;
        if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
            continue;
        any_addr |= addr != 0;
        if (type != 'T' && type != 't' && type != 'W' && type != 'w')
            continue;
        len = strlen(name) + 1;
        if (k->n == cap) {
            struct ksym *s = realloc(k->syms, (cap = cap ? cap * 2 : 65536) * sizeof(*s));
            if (!s) {
                r = -ENOMEM;
                break;
            }
            k->syms = s;
        }
        if (names_len + len > names_cap) {
            char *s = realloc(k->names, names_cap = names_cap ? names_cap * 2 : 1 << 21);
            if (!s) {
                r = -ENOMEM;
                break;
            }
            k->names = s;
        }
        memcpy(k->names + names_len, name, len);
        k->syms[k->n++] = (struct ksym){ .addr = addr, .name = (uint32_t) names_len };
        names_len += len;
    }
    fclose(f);
    if (r == 0 && (!any_addr || k->n == 0))
        r = -EPERM;
    if (r < 0) {
        ksyms_free(k);
        return r;
    }
    qsort(k->syms, k->n, sizeof(*k->syms), ksyms_cmp);
    return 0;
}

/* The symbol at or before addr, and addr's offset from it; NULL when addr
 * is below every symbol. */
static inline const char *ksyms_find(const struct ksyms *k, uint64_t addr, uint64_t *ret_off) {
    size_t lo = 0, hi = k->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->syms[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    *ret_off = addr - k->syms[lo - 1].addr;
    return k->names + k->syms[lo - 1].name;
}

#endif

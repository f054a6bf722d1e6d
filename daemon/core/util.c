/* util.c — implementations of the helpers declared in util.h. */
#include "util.h"

#include <errno.h>

char *vstrprintf(const char *fmt, va_list ap) {
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

char *strprintf(const char *fmt, ...) {
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = vstrprintf(fmt, ap);
    va_end(ap);
    return s;
}

size_t strv_length(char *const *l) {
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

bool strv_contains(char *const *l, const char *s) {
    for (size_t i = 0; l && l[i]; i++)
        if (streq(l[i], s))
            return true;
    return false;
}

char **strv_free(char **l) {
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
    return NULL;
}

int strv_consume(char ***l, char *s) {
    size_t n = strv_length(*l);
    char **m;
    if (!s)
        return -ENOMEM;
    m = realloc(*l, (n + 2) * sizeof(char *));
    if (!m) {
        free(s);
        return -ENOMEM;
    }
    m[n] = s;
    m[n + 1] = NULL;
    *l = m;
    return 0;
}

int strv_extend(char ***l, const char *s) {
    return strv_consume(l, strdup(s));
}

bool name_is_valid(const char *s) {
    size_t n = 0;
    if (!s || !*s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n <= 64;
}

const char *format_size(uint64_t bytes, char buf[32]) {
    static const char units[] = "KMGT";
    int u = -1;
    while (bytes >= 1024 && bytes % 1024 == 0 && u < 3) {
        bytes /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, 32, "%llu", (unsigned long long) bytes);
    else
        snprintf(buf, 32, "%llu%c", (unsigned long long) bytes, units[u]);
    return buf;
}

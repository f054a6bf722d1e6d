/* utf8.c — see utf8.h. */
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *) s;
    for (size_t i = 0; i < n;) {
        size_t l;
        if (p[i] < 0x80) { /* the common case, without the call */
            i++;
            continue;
        }
        l = utf8_len(p + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

size_t utf8_sanitize(const char *s, size_t n, char *out) {
    const unsigned char *p = (const unsigned char *) s;
    size_t o = 0;

    for (size_t i = 0; i < n;) {
        size_t l = p[i] < 0x80 ? 1 : utf8_len(p + i, n - i);
        if (l == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(out + o, s + i, l);
        o += l;
        i += l;
    }
    return o;
}

/* A C0 control or DEL at p, or C1 (U+0080..U+009F, 0xc2 0x80..0x9f). */
static size_t control_at(const unsigned char *p) {
    if (*p < 0x20 || *p == 0x7f)
        return 1;
    return *p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f ? 2 : 0;
}

bool utf8_has_control(const char *s) {
    for (const unsigned char *p = (const unsigned char *) s; *p; p++)
        if (control_at(p))
            return true;
    return false;
}

void utf8_mask_controls(char *s) {
    for (unsigned char *p = (unsigned char *) s; *p;) {
        size_t k = control_at(p);
        if (k)
            memset(p, '?', k);
        p += k ? k : 1;
    }
}

char *utf8_printable_dup(const char *s) {
    size_t n = strlen(s), len;
    char *out = malloc(3 * n + 1);

    if (!out)
        return NULL;
    len = utf8_sanitize(s, n, out);
    out[len] = '\0';
    utf8_mask_controls(out);
    return out;
}

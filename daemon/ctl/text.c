/* text.c — text from the daemon on a terminal (see text.h). */
#include "text.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* The next character of s[0..len): its length in bytes and its width. */
static size_t next_char(const char *s, size_t len, mbstate_t *st, size_t *ret_cols) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, len, st);
    int w;

    if (k == (size_t) -1 || k == (size_t) -2 || k == 0) {
        /* Not decodable here: a UTF-8 lead byte is one column, a
         * continuation byte none. */
        memset(st, 0, sizeof(*st));
        *ret_cols = ((unsigned char) *s & 0xc0) != 0x80;
        return 1;
    }
    w = wcwidth(wc);
    *ret_cols = w < 0 ? 1 : (size_t) w;
    return k;
}

size_t text_prefix(const char *s, size_t max_cols, size_t *ret_cols) {
    mbstate_t st;
    size_t len = strlen(s), o = 0, cols = 0;

    memset(&st, 0, sizeof(st));
    while (o < len) {
        size_t w, k = next_char(s + o, len - o, &st, &w);
        if (cols + w > max_cols)
            break;
        cols += w;
        o += k;
    }
    *ret_cols = cols;
    return o;
}

size_t text_width(const char *s) {
    size_t cols;
    (void) text_prefix(s, (size_t) -1, &cols);
    return cols;
}

static bool has_control(const char *s) {
    for (const unsigned char *p = (const unsigned char *) s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return true;
    return false;
}

void text_sanitize(char *s) {
    for (unsigned char *p = (unsigned char *) s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 in UTF-8 */
            p[0] = p[1] = '?';
    }
}

int text_sanitize_json(json_object *o, const char *skip) {
    switch (json_object_get_type(o)) {
    case json_type_string: {
        const char *s = json_object_get_string(o);
        char *copy;
        if (!has_control(s) || !(copy = strdup(s)))
            return 0;
        text_sanitize(copy);
        json_object_set_string(o, copy);
        free(copy);
        return 0;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (text_sanitize_json(json_object_array_get_idx(o, i), skip) < 0)
                return -1;
        return 0;
    case json_type_object: {
        json_object_object_foreach(o, key, val) {
            if (has_control(key))
                return -1;
            if ((!skip || strcmp(key, skip) != 0) && text_sanitize_json(val, skip) < 0)
                return -1;
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* text.c — text from the daemon on a terminal (see text.h). */
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "utf8.h"

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

int text_sanitize_json(json_object *o, const char *skip) {
    switch (json_object_get_type(o)) {
    case json_type_string: {
        const char *s = json_object_get_string(o);
        char *copy;
        if (!utf8_has_control(s) || !(copy = strdup(s)))
            return 0;
        utf8_mask_controls(copy);
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
            if (utf8_has_control(key))
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

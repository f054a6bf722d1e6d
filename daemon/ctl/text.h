/*
 * text.h — text from the daemon on a terminal: its width in columns (wide
 * and combining characters counted as the terminal draws them, in the
 * locale's encoding; one column per UTF-8 character where the locale
 * cannot decode it), cutting it to a width, and making it harmless: the
 * C0 and C1 control characters and DEL, which could move the cursor,
 * retitle the window or reset the terminal, become '?'.
 */
#ifndef OPHOST_CTL_TEXT_H
#define OPHOST_CTL_TEXT_H

#include <json-c/json.h>
#include <stddef.h>

/* Columns s takes. */
size_t text_width(const char *s);
/* The length in bytes of the longest start of s that takes at most
 * max_cols columns; its width in *ret_cols. */
size_t text_prefix(const char *s, size_t max_cols, size_t *ret_cols);
/* Control characters (utf8_mask_controls, utf8.h) become '?' in every
 * string value in o, recursively, except the members
 * named skip (NULL: none) of any object; keys are not changed. Returns -1
 * if a key of o holds a control character, else 0. */
int text_sanitize_json(json_object *o, const char *skip);

#endif

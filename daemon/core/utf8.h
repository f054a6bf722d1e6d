/*
 * utf8.h — UTF-8 checks for text that leaves the daemon as JSON: a reply
 * must always parse, whatever bytes a plugin, a file name or a request
 * carried.
 */
#ifndef OPHOST_DAEMON_UTF8_H
#define OPHOST_DAEMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 if it
 * is not one (overlong forms, surrogates and code points above U+10FFFF
 * are not). */
size_t utf8_len(const unsigned char *s, size_t n);

/* Whether s[0..n) is valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Copies s[0..n) into out, which has room for 3 * n bytes, with each byte
 * that starts no valid sequence replaced by U+FFFD; returns the length. */
size_t utf8_sanitize(const char *s, size_t n, char *out);

/* Whether s holds a control character: C0, DEL, or C1 (U+0080..U+009F),
 * any of which could move a terminal's cursor, retitle its window or reset
 * it. */
bool utf8_has_control(const char *s);
/* Replaces each control character of s with '?' (a C1 character's two
 * bytes with two), in place. */
void utf8_mask_controls(char *s);

/* A malloc'd copy of a plugin's one-line text (a description, a version,
 * a symbol name) fit for JSON and a terminal: utf8_sanitize'd, and control
 * characters (C0, DEL, C1) replaced by '?'. NULL on ENOMEM. */
char *utf8_printable_dup(const char *s);

#endif

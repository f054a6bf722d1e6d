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

/* A malloc'd copy of a plugin's one-line text (a description, a version,
 * a symbol name) fit for JSON and a terminal: utf8_sanitize'd, and control
 * characters (C0, DEL, C1) replaced by '?'. NULL on ENOMEM. */
char *utf8_printable_dup(const char *s);

#endif

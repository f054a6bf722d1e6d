/*
 * hint.h — "did you mean ...?" suggestions for misspelt keys and names.
 */
#ifndef OPHOST_DAEMON_HINT_H
#define OPHOST_DAEMON_HINT_H

#include <stddef.h>

/* Returns the candidate closest to word by edit distance, or NULL when none
 * is close enough to be a plausible typo (distance at most a third of the
 * word's length, at least 1, at most 3). candidates is NULL-terminated; the
 * result points into it. */
const char *hint_closest(const char *word, const char *const *candidates);

#endif

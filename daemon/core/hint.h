/*
 * hint.h — "did you mean ...?" suggestions for misspelt keys and names.
 */
#ifndef OPHOST_DAEMON_HINT_H
#define OPHOST_DAEMON_HINT_H

#include <stddef.h>

/* Returns the candidate closest to word by edit distance, or NULL when none
 * is close enough to be a plausible typo: at most a third of the word's
 * length, but at least 2 and at most 3 edits, and always fewer edits than the
 * word has letters. candidates is NULL-terminated; the result points into
 * it; on a tie the first candidate wins. */
const char *hint_closest(const char *word, const char *const *candidates);

#endif

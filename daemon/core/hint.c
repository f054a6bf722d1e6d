/* hint.c — edit-distance suggestions (Damerau-Levenshtein, optimal string
 * alignment variant: a transposition of two neighbours costs 1). */
#include "hint.h"

#include <string.h>

#define HINT_MAX_LEN 64

static size_t min3(size_t a, size_t b, size_t c) {
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

static size_t distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    size_t d[HINT_MAX_LEN + 1][HINT_MAX_LEN + 1];

    if (la > HINT_MAX_LEN || lb > HINT_MAX_LEN)
        return (size_t) -1;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[la][lb];
}

const char *hint_closest(const char *word, const char *const *candidates) {
    const char *best = NULL;
    size_t len = strlen(word), best_d = (size_t) -1, limit = len / 3;

    /* Two edits even for short words ("usr" -> "uid"), but fewer edits
     * than the word has letters: replacing all of it is no typo. */
    if (limit < 2)
        limit = 2;
    if (limit > 3)
        limit = 3;
    if (limit >= len)
        limit = len > 0 ? len - 1 : 0;
    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t d = distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

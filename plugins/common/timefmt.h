/*
 * timefmt.h — the whole-second part of a timestamp field (nanoseconds since
 * the epoch) as text, for the plugins that show timestamps (print, columns,
 * formatters). Events of a batch mostly fall in the same second, so the
 * text is kept and gmtime_r/localtime_r and strftime run only when the
 * second changes. Header-only (static inline); nothing allocates.
 *
 *     struct timefmt tf = TIMEFMT_INIT(TIMEFMT_UTC_DATETIME);
 *     const char *s = timefmt_seconds(&tf, ns, &len);  // then the fraction
 */
#ifndef OPHOST_PLUGINS_TIMEFMT_H
#define OPHOST_PLUGINS_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

enum timefmt_style {
    TIMEFMT_UTC_DATETIME, /* "2024-05-01T12:00:00", UTC */
    TIMEFMT_LOCAL_TIME,   /* "14:00:00", local time */
};

struct timefmt {
    enum timefmt_style style;
    bool valid; /* text holds the second sec */
    time_t sec;
    size_t len;
    char text[48];
};

#define TIMEFMT_INIT(s) { .style = (s) }

/* The seconds of ns in tf's style, NUL-terminated, and its length in
 * *ret_len; valid until the next call with tf. (Any u64 of nanoseconds is
 * a year gmtime_r can break down; should it fail, the fields read as 0.) */
static inline const char *timefmt_seconds(struct timefmt *tf, uint64_t ns, size_t *ret_len) {
    time_t sec = (time_t) (ns / 1000000000u);

    if (!tf->valid || sec != tf->sec) {
        struct tm tm;
        bool local = tf->style == TIMEFMT_LOCAL_TIME;
        if (!(local ? localtime_r(&sec, &tm) : gmtime_r(&sec, &tm)))
            memset(&tm, 0, sizeof(tm));
        tf->len = local ? strftime(tf->text, sizeof(tf->text), "%H:%M:%S", &tm)
                        : strftime(tf->text, sizeof(tf->text), "%Y-%m-%dT%H:%M:%S", &tm);
        tf->sec = sec;
        tf->valid = true;
    }
    *ret_len = tf->len;
    return tf->text;
}

#endif

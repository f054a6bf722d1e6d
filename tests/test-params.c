/* test-params.c — tests of daemon/params.c: the parsers, descriptor checking,
 * setting values from text with exact error messages, and the typed getters. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

#define SEC UINT64_C(1000000000)

/* ------------------------------------------------------------- helpers */

/* Runs params_set and checks the result and the message (NULL = success). */
#define SET_FAILS(p, key, value, err, msg)                                  \
    do {                                                                    \
        char *_e = NULL;                                                    \
        ck_assert_int_eq(params_set((p), (key), (value), &_e), (err));      \
        ck_assert_ptr_nonnull(_e);                                          \
        ck_assert_str_eq(_e, (msg));                                        \
        free(_e);                                                           \
    } while (0)

#define SET_OK(p, key, value)                                               \
    do {                                                                    \
        char *_e = NULL;                                                    \
        ck_assert_int_eq(params_set((p), (key), (value), &_e), 0);          \
        ck_assert_ptr_null(_e);                                             \
    } while (0)

#define DESCS_FAIL(descs, msg)                                              \
    do {                                                                    \
        char *_e = NULL;                                                    \
        ck_assert_int_eq(params_check_descriptors((descs), &_e), -EINVAL);  \
        ck_assert_ptr_nonnull(_e);                                          \
        ck_assert_str_eq(_e, (msg));                                        \
        free(_e);                                                           \
    } while (0)

#define DESCS_OK(descs)                                                     \
    do {                                                                    \
        char *_e = NULL;                                                    \
        ck_assert_int_eq(params_check_descriptors((descs), &_e), 0);        \
        ck_assert_ptr_null(_e);                                             \
    } while (0)

static struct params *new_checked(const struct ophost_param *descs) {
    struct params *p;
    char *e = NULL;

    ck_assert_int_eq(params_check_descriptors(descs, &e), 0);
    ck_assert_ptr_null(e);
    p = params_new(descs);
    ck_assert_ptr_nonnull(p);
    return p;
}

static const char *const mode_allowed[] = { "slow", "normal", NULL };
static const char *const interval_aliases[] = { "every", "period", NULL };

/* One param of each type, with and without defaults. */
static const struct ophost_param all_types[] = {
    { .key = "name", .type = OPHOST_PARAM_STRING },
    { .key = "label", .type = OPHOST_PARAM_STRING, .default_value = "none" },
    { .key = "verbose", .type = OPHOST_PARAM_BOOL },
    { .key = "color", .type = OPHOST_PARAM_BOOL, .default_value = "yes" },
    { .key = "offset", .type = OPHOST_PARAM_INT },
    { .key = "delta", .type = OPHOST_PARAM_INT, .default_value = "-5" },
    { .key = "count", .type = OPHOST_PARAM_UINT },
    { .key = "limit", .type = OPHOST_PARAM_UINT, .default_value = "1000" },
    { .key = "timeout", .type = OPHOST_PARAM_DURATION },
    { .key = "interval", .type = OPHOST_PARAM_DURATION, .default_value = "1m30s",
      .aliases = interval_aliases },
    { .key = "mode", .type = OPHOST_PARAM_STRING, .default_value = "normal",
      .allowed = mode_allowed },
    { .key = "path", .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_MANDATORY },
    { .key = "level", .type = OPHOST_PARAM_INT, .default_value = "3",
      .flags = OPHOST_PARAM_MANDATORY },
    { NULL },
};

/* Limits of each numeric type. */
static const struct ophost_param limited[] = {
    { .key = "temp", .type = OPHOST_PARAM_INT, .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX,
      .min = -10, .max = 40 },
    { .key = "count", .type = OPHOST_PARAM_UINT, .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX,
      .min = 1, .max = 100 },
    { .key = "big", .type = OPHOST_PARAM_UINT, .flags = OPHOST_PARAM_HAS_MIN,
      .min = (int64_t) UINT64_C(10000000000000000000) },
    { .key = "floor", .type = OPHOST_PARAM_INT, .flags = OPHOST_PARAM_HAS_MIN, .min = 0 },
    { .key = "interval", .type = OPHOST_PARAM_DURATION,
      .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX,
      .min = 500 * 1000 * 1000, .max = 90 * 1000000000LL },
    { .key = "wait", .type = OPHOST_PARAM_DURATION, .flags = OPHOST_PARAM_HAS_MAX,
      .max = 1500 },
    { NULL },
};

/* ------------------------------------------------------------- parsers */

START_TEST(test_parse_bool) {
    static const struct {
        const char *s;
        bool v;
    } good[] = {
        { "true", true },  { "TRUE", true },   { "True", true }, { "yes", true },
        { "YeS", true },   { "on", true },     { "ON", true },   { "1", true },
        { "false", false }, { "FALSE", false }, { "no", false }, { "No", false },
        { "off", false },  { "OFF", false },   { "0", false },
    };
    static const char *const bad[] = { "", "maybe", "tru", "yes ", " no", "2", "10", "01",
                                       "y", "n", "truefalse" };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        bool v = !good[i].v;
        ck_assert_msg(parse_bool(good[i].s, &v) == 0, "'%s'", good[i].s);
        ck_assert_msg(v == good[i].v, "'%s'", good[i].s);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool v = true;
        ck_assert_msg(parse_bool(bad[i], &v) == -EINVAL, "'%s'", bad[i]);
        ck_assert(v == true);
        v = false;
        ck_assert(parse_bool(bad[i], &v) == -EINVAL);
        ck_assert(v == false);
    }
}
END_TEST

START_TEST(test_parse_int) {
    static const struct {
        const char *s;
        int r;
        int64_t v;
    } t[] = {
        { "0", 0, 0 },
        { "42", 0, 42 },
        { "-42", 0, -42 },
        { "+7", 0, 7 },
        { "-0", 0, 0 },
        { "007", 0, 7 },
        { "9223372036854775807", 0, INT64_MAX },
        { "-9223372036854775808", 0, INT64_MIN },
        { "9223372036854775808", -ERANGE, 0 },
        { "-9223372036854775809", -ERANGE, 0 },
        { "99999999999999999999", -ERANGE, 0 },
        { "", -EINVAL, 0 },
        { "-", -EINVAL, 0 },
        { "+", -EINVAL, 0 },
        { "1x", -EINVAL, 0 },
        { " 1", -EINVAL, 0 },
        { "1 ", -EINVAL, 0 },
        { "0x10", -EINVAL, 0 },
        { "1.5", -EINVAL, 0 },
        { "--1", -EINVAL, 0 },
        { "+-1", -EINVAL, 0 },
        { "1e3", -EINVAL, 0 },
        { "99999999999999999999x", -EINVAL, 0 },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int64_t v = 12345;
        ck_assert_msg(parse_int(t[i].s, &v) == t[i].r, "'%s'", t[i].s);
        ck_assert_msg(v == (t[i].r == 0 ? t[i].v : 12345), "'%s': %" PRId64, t[i].s, v);
    }
}
END_TEST

START_TEST(test_parse_uint) {
    static const struct {
        const char *s;
        int r;
        uint64_t v;
    } t[] = {
        { "0", 0, 0 },
        { "42", 0, 42 },
        { "0042", 0, 42 },
        { "18446744073709551615", 0, UINT64_MAX },
        { "18446744073709551616", -ERANGE, 0 },
        { "99999999999999999999999", -ERANGE, 0 },
        { "-1", -EINVAL, 0 },
        { "-0", -EINVAL, 0 },
        { "+1", -EINVAL, 0 },
        { "", -EINVAL, 0 },
        { "1a", -EINVAL, 0 },
        { " 1", -EINVAL, 0 },
        { "1.0", -EINVAL, 0 },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint64_t v = 12345;
        ck_assert_msg(parse_uint(t[i].s, &v) == t[i].r, "'%s'", t[i].s);
        ck_assert_msg(v == (t[i].r == 0 ? t[i].v : 12345), "'%s': %" PRIu64, t[i].s, v);
    }
}
END_TEST

START_TEST(test_parse_duration) {
    static const struct {
        const char *s;
        int r;
        uint64_t v;
    } t[] = {
        { "1ns", 0, 1 },
        { "1us", 0, 1000 },
        { "250ms", 0, 250 * 1000 * 1000 },
        { "2s", 0, 2 * SEC },
        { "1m", 0, 60 * SEC },
        { "1h", 0, 3600 * SEC },
        { "1d", 0, 86400 * SEC },
        { "0s", 0, 0 },
        { "0", 0, 0 },
        { "5", 0, 5 * SEC },
        { "1.5", 0, 1500 * 1000 * 1000 },
        { "1m30s", 0, 90 * SEC },
        { "2d12h", 0, 60 * 3600 * SEC },
        { "1h2m3s4ms5us6ns", 0, 3723 * SEC + 4005006 },
        { "1s1s", 0, 2 * SEC },
        { "1.5s", 0, 1500 * 1000 * 1000 },
        { "0.5ms", 0, 500 * 1000 },
        { "1.5h", 0, 5400 * SEC },
        { "0.25m", 0, 15 * SEC },
        { "1.999999999999999999999s", 0, 1999999999 },
        { "1.5ns", 0, 1 },
        { "0.0000000001s", 0, 0 },
        { "18446744073709551615ns", 0, UINT64_MAX },
        { "213503d", 0, UINT64_C(213503) * 86400 * SEC },
        { "18446744073709551616ns", -ERANGE, 0 },
        { "18446744073709551615ns1ns", -ERANGE, 0 },
        { "213504d", -ERANGE, 0 },
        { "99999999999999999999999s", -ERANGE, 0 },
        { "18446744073.709551616s", -ERANGE, 0 },
        { "", -EINVAL, 0 },
        { "s", -EINVAL, 0 },
        { "ms", -EINVAL, 0 },
        { "1x", -EINVAL, 0 },
        { "1S", -EINVAL, 0 },
        { "1 s", -EINVAL, 0 },
        { " 1s", -EINVAL, 0 },
        { "1s ", -EINVAL, 0 },
        { "-1s", -EINVAL, 0 },
        { "+1s", -EINVAL, 0 },
        { "-1", -EINVAL, 0 },
        { "1m30", -EINVAL, 0 },
        { "1.s", -EINVAL, 0 },
        { ".5s", -EINVAL, 0 },
        { "1..5s", -EINVAL, 0 },
        { "1.5.5s", -EINVAL, 0 },
        { "1sm", -EINVAL, 0 },
        { "abc", -EINVAL, 0 },
        { "1min", -EINVAL, 0 },
        { "99999999999999999999999x", -EINVAL, 0 },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint64_t v = 12345;
        ck_assert_msg(parse_duration(t[i].s, &v) == t[i].r, "'%s': got %d", t[i].s,
                      parse_duration(t[i].s, &v));
        ck_assert_msg(v == (t[i].r == 0 ? t[i].v : 12345), "'%s': %" PRIu64, t[i].s, v);
    }
}
END_TEST

START_TEST(test_type_name) {
    ck_assert_str_eq(param_type_name(OPHOST_PARAM_STRING), "string");
    ck_assert_str_eq(param_type_name(OPHOST_PARAM_BOOL), "bool");
    ck_assert_str_eq(param_type_name(OPHOST_PARAM_INT), "int");
    ck_assert_str_eq(param_type_name(OPHOST_PARAM_UINT), "uint");
    ck_assert_str_eq(param_type_name(OPHOST_PARAM_DURATION), "duration");
    ck_assert_str_eq(param_type_name(0), "unknown");
    ck_assert_str_eq(param_type_name(6), "unknown");
}
END_TEST

/* --------------------------------------------------------- descriptors */

START_TEST(test_descs_valid) {
    static const struct ophost_param empty[] = { { NULL } };

    DESCS_OK(NULL);
    DESCS_OK(empty);
    DESCS_OK(all_types);
    DESCS_OK(limited);
    ck_assert_int_eq(params_check_descriptors(all_types, NULL), 0);
}
END_TEST

START_TEST(test_descs_names) {
    static const char *const bad_alias[] = { "ok", "No", NULL };
    static const char *const alias_is_key[] = { "y", NULL };
    static const char *const alias_twice[] = { "z", "z", NULL };
    static const char *const alias_self[] = { "x", NULL };
    static const char *const alias_a[] = { "shared", NULL };
    static const char *const alias_b[] = { "shared", NULL };
    const struct ophost_param bad_key[] = {
        { .key = "Bad Key", .type = OPHOST_PARAM_STRING }, { NULL } };
    const struct ophost_param empty_key[] = {
        { .key = "", .type = OPHOST_PARAM_STRING }, { NULL } };
    const struct ophost_param dup_key[] = {
        { .key = "x", .type = OPHOST_PARAM_STRING },
        { .key = "y", .type = OPHOST_PARAM_BOOL },
        { .key = "x", .type = OPHOST_PARAM_INT }, { NULL } };
    const struct ophost_param dup_alias_key[] = {
        { .key = "x", .type = OPHOST_PARAM_STRING, .aliases = alias_is_key },
        { .key = "y", .type = OPHOST_PARAM_BOOL }, { NULL } };
    const struct ophost_param dup_key_alias[] = {
        { .key = "y", .type = OPHOST_PARAM_BOOL },
        { .key = "x", .type = OPHOST_PARAM_STRING, .aliases = alias_is_key }, { NULL } };
    const struct ophost_param dup_alias_alias[] = {
        { .key = "a", .type = OPHOST_PARAM_BOOL, .aliases = alias_a },
        { .key = "b", .type = OPHOST_PARAM_STRING, .aliases = alias_b }, { NULL } };
    const struct ophost_param dup_alias_same[] = {
        { .key = "a", .type = OPHOST_PARAM_BOOL, .aliases = alias_twice }, { NULL } };
    const struct ophost_param dup_alias_self[] = {
        { .key = "x", .type = OPHOST_PARAM_BOOL, .aliases = alias_self }, { NULL } };
    const struct ophost_param invalid_alias[] = {
        { .key = "k", .type = OPHOST_PARAM_BOOL, .aliases = bad_alias }, { NULL } };

    DESCS_FAIL(bad_key, "param 'Bad Key': invalid name (use a-z, 0-9, '_' and '-')");
    DESCS_FAIL(empty_key, "param '': invalid name (use a-z, 0-9, '_' and '-')");
    DESCS_FAIL(dup_key, "duplicate param 'x'");
    DESCS_FAIL(dup_alias_key, "duplicate param 'y'");
    DESCS_FAIL(dup_key_alias, "duplicate param 'y'");
    DESCS_FAIL(dup_alias_alias, "duplicate param 'shared'");
    DESCS_FAIL(dup_alias_same, "duplicate param 'z'");
    DESCS_FAIL(dup_alias_self, "duplicate param 'x'");
    DESCS_FAIL(invalid_alias, "param 'k': invalid alias 'No' (use a-z, 0-9, '_' and '-')");
    ck_assert_int_eq(params_check_descriptors(dup_key, NULL), -EINVAL);
}
END_TEST

START_TEST(test_descs_types_flags) {
    static const char *const ab[] = { "a", "b", NULL };
    static const char *const none[] = { NULL };
    const struct ophost_param type7[] = { { .key = "k", .type = 7 }, { NULL } };
    const struct ophost_param type0[] = { { .key = "k" }, { NULL } };
    const struct ophost_param flags[] = {
        { .key = "k", .type = OPHOST_PARAM_INT, .flags = (1u << 3) | OPHOST_PARAM_MANDATORY },
        { NULL } };
    const struct ophost_param allowed_int[] = {
        { .key = "k", .type = OPHOST_PARAM_INT, .allowed = ab }, { NULL } };
    const struct ophost_param allowed_empty[] = {
        { .key = "k", .type = OPHOST_PARAM_STRING, .allowed = none }, { NULL } };
    const struct ophost_param minmax_string[] = {
        { .key = "k", .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_HAS_MAX, .max = 3 },
        { NULL } };
    const struct ophost_param minmax_bool[] = {
        { .key = "k", .type = OPHOST_PARAM_BOOL, .flags = OPHOST_PARAM_HAS_MIN }, { NULL } };

    DESCS_FAIL(type7, "param 'k': unknown type 7");
    DESCS_FAIL(type0, "param 'k': unknown type 0");
    DESCS_FAIL(flags, "param 'k': unknown flags 0x8");
    DESCS_FAIL(allowed_int, "param 'k': allowed values are only for string params");
    DESCS_FAIL(allowed_empty, "param 'k': the list of allowed values is empty");
    DESCS_FAIL(minmax_string, "param 'k': min/max are only for int, uint and duration params");
    DESCS_FAIL(minmax_bool, "param 'k': min/max are only for int, uint and duration params");
}
END_TEST

START_TEST(test_descs_limits) {
    const struct ophost_param int_minmax[] = {
        { .key = "k", .type = OPHOST_PARAM_INT,
          .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 5, .max = 1 }, { NULL } };
    const struct ophost_param int_neg[] = {
        { .key = "k", .type = OPHOST_PARAM_INT,
          .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = -1, .max = -5 }, { NULL } };
    /* -1 as int is below 0, but as uint it is UINT64_MAX: compared unsigned. */
    const struct ophost_param uint_cast[] = {
        { .key = "k", .type = OPHOST_PARAM_UINT,
          .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = -1, .max = 5 }, { NULL } };
    const struct ophost_param uint_cast_ok[] = {
        { .key = "k", .type = OPHOST_PARAM_UINT,
          .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 5, .max = -1 }, { NULL } };
    const struct ophost_param dur_minmax[] = {
        { .key = "k", .type = OPHOST_PARAM_DURATION,
          .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX,
          .min = 10 * 1000000000LL, .max = 1500 * 1000000LL }, { NULL } };
    const struct ophost_param equal[] = {
        { .key = "k", .type = OPHOST_PARAM_INT,
          .flags = OPHOST_PARAM_HAS_MIN | OPHOST_PARAM_HAS_MAX, .min = 3, .max = 3,
          .default_value = "3" }, { NULL } };
    /* Only min, or only max: nothing to compare. */
    const struct ophost_param only_min[] = {
        { .key = "k", .type = OPHOST_PARAM_INT, .flags = OPHOST_PARAM_HAS_MIN, .min = 5, .max = 1 },
        { NULL } };

    DESCS_FAIL(int_minmax, "param 'k': min 5 is greater than max 1");
    DESCS_FAIL(int_neg, "param 'k': min -1 is greater than max -5");
    DESCS_FAIL(uint_cast, "param 'k': min 18446744073709551615 is greater than max 5");
    DESCS_OK(uint_cast_ok);
    DESCS_FAIL(dur_minmax, "param 'k': min 10s is greater than max 1500ms");
    DESCS_OK(equal);
    DESCS_OK(only_min);
}
END_TEST

START_TEST(test_descs_defaults) {
    static const char *const ab[] = { "a", "b", NULL };
    const struct ophost_param dur[] = {
        { .key = "interval", .type = OPHOST_PARAM_DURATION, .default_value = "2x" }, { NULL } };
    const struct ophost_param boolean[] = {
        { .key = "v", .type = OPHOST_PARAM_BOOL, .default_value = "maybe" }, { NULL } };
    const struct ophost_param integer[] = {
        { .key = "n", .type = OPHOST_PARAM_INT, .default_value = "x" }, { NULL } };
    const struct ophost_param uinteger[] = {
        { .key = "n", .type = OPHOST_PARAM_UINT, .default_value = "-1" }, { NULL } };
    const struct ophost_param int_range[] = {
        { .key = "n", .type = OPHOST_PARAM_INT, .default_value = "9223372036854775808" },
        { NULL } };
    const struct ophost_param above[] = {
        { .key = "k", .type = OPHOST_PARAM_INT, .flags = OPHOST_PARAM_HAS_MAX, .max = 5,
          .default_value = "9" }, { NULL } };
    const struct ophost_param below[] = {
        { .key = "k", .type = OPHOST_PARAM_UINT, .flags = OPHOST_PARAM_HAS_MIN, .min = 2,
          .default_value = "1" }, { NULL } };
    const struct ophost_param dur_above[] = {
        { .key = "k", .type = OPHOST_PARAM_DURATION, .flags = OPHOST_PARAM_HAS_MAX,
          .max = 500 * 1000000LL, .default_value = "1s" }, { NULL } };
    const struct ophost_param not_allowed[] = {
        { .key = "mode", .type = OPHOST_PARAM_STRING, .allowed = ab, .default_value = "x" },
        { NULL } };
    const struct ophost_param mandatory_bad_default[] = {
        { .key = "k", .type = OPHOST_PARAM_BOOL, .flags = OPHOST_PARAM_MANDATORY,
          .default_value = "nope" }, { NULL } };
    /* The first bad descriptor is reported. */
    const struct ophost_param second_bad[] = {
        { .key = "good", .type = OPHOST_PARAM_INT, .default_value = "1" },
        { .key = "bad", .type = OPHOST_PARAM_INT, .default_value = "one" },
        { .key = "Worse", .type = OPHOST_PARAM_INT }, { NULL } };

    DESCS_FAIL(dur, "param 'interval': default '2x' is not a valid duration");
    DESCS_FAIL(boolean, "param 'v': default 'maybe' is not a valid bool");
    DESCS_FAIL(integer, "param 'n': default 'x' is not a valid integer");
    DESCS_FAIL(uinteger, "param 'n': default '-1' is not a valid unsigned integer");
    DESCS_FAIL(int_range,
               "param 'n': default '9223372036854775808' is out of range for a 64-bit integer");
    DESCS_FAIL(above, "param 'k': default '9' is above the maximum 5");
    DESCS_FAIL(below, "param 'k': default '1' is below the minimum 2");
    DESCS_FAIL(dur_above, "param 'k': default '1s' is above the maximum 500ms");
    DESCS_FAIL(not_allowed, "param 'mode': default 'x' is not one of: a, b");
    DESCS_FAIL(mandatory_bad_default, "param 'k': default 'nope' is not a valid bool");
    DESCS_FAIL(second_bad, "param 'bad': default 'one' is not a valid integer");
}
END_TEST

/* -------------------------------------------------------------- values */

START_TEST(test_set_get_each_type) {
    struct params *p = new_checked(all_types);
    const char *s = NULL;
    bool b = false;
    int64_t i = 0;
    uint64_t u = 0;

    SET_OK(p, "name", "hello world");
    SET_OK(p, "verbose", "On");
    SET_OK(p, "offset", "-9223372036854775808");
    SET_OK(p, "count", "18446744073709551615");
    SET_OK(p, "timeout", "1h2m3.5s");
    SET_OK(p, "mode", "slow");

    ck_assert_int_eq(params_get_string(p, "name", &s), 0);
    ck_assert_str_eq(s, "hello world");
    ck_assert_int_eq(params_get_bool(p, "verbose", &b), 0);
    ck_assert(b == true);
    ck_assert_int_eq(params_get_int(p, "offset", &i), 0);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(params_get_uint(p, "count", &u), 0);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(params_get_duration(p, "timeout", &u), 0);
    ck_assert(u == 3723 * SEC + SEC / 2);
    ck_assert_int_eq(params_get_string(p, "mode", &s), 0);
    ck_assert_str_eq(s, "slow");
    params_free(p);
}
END_TEST

START_TEST(test_string_is_copied) {
    struct params *p = new_checked(all_types);
    char buf[] = "original";
    const char *s = NULL;

    SET_OK(p, "name", buf);
    strcpy(buf, "changed!");
    ck_assert_int_eq(params_get_string(p, "name", &s), 0);
    ck_assert_str_eq(s, "original");
    ck_assert_ptr_ne(s, buf);
    /* An empty string is a value like any other. */
    SET_OK(p, "label", "");
    ck_assert_int_eq(params_get_string(p, "label", &s), 0);
    ck_assert_str_eq(s, "");
    params_free(p);
}
END_TEST

START_TEST(test_defaults) {
    struct params *p = new_checked(all_types);
    const char *s = NULL;
    bool b = false;
    int64_t i = 0;
    uint64_t u = 0;

    ck_assert_int_eq(params_get_string(p, "label", &s), 0);
    ck_assert_str_eq(s, "none");
    ck_assert_int_eq(params_get_bool(p, "color", &b), 0);
    ck_assert(b == true);
    ck_assert_int_eq(params_get_int(p, "delta", &i), 0);
    ck_assert(i == -5);
    ck_assert_int_eq(params_get_uint(p, "limit", &u), 0);
    ck_assert(u == 1000);
    ck_assert_int_eq(params_get_duration(p, "interval", &u), 0);
    ck_assert(u == 90 * SEC);
    ck_assert_int_eq(params_get_string(p, "mode", &s), 0);
    ck_assert_str_eq(s, "normal");

    /* A given value wins over the default. */
    SET_OK(p, "color", "off");
    SET_OK(p, "delta", "+12");
    SET_OK(p, "interval", "250ms");
    ck_assert_int_eq(params_get_bool(p, "color", &b), 0);
    ck_assert(b == false);
    ck_assert_int_eq(params_get_int(p, "delta", &i), 0);
    ck_assert(i == 12);
    ck_assert_int_eq(params_get_duration(p, "interval", &u), 0);
    ck_assert(u == 250 * 1000 * 1000);
    params_free(p);
}
END_TEST

START_TEST(test_mandatory) {
    struct params *p = new_checked(all_types);
    char *e = NULL;
    int64_t i = 77;
    const char *s = NULL;

    /* Missing: the first mandatory param in descriptor order is named. */
    ck_assert_int_eq(params_check(p, &e), -EINVAL);
    ck_assert_str_eq(e, "missing mandatory param 'path'");
    free(e);
    e = NULL;

    SET_OK(p, "path", "/var/log");
    /* 'level' has a default, but it is mandatory all the same. */
    ck_assert_int_eq(params_check(p, &e), -EINVAL);
    ck_assert_str_eq(e, "missing mandatory param 'level'");
    free(e);
    e = NULL;
    /* ... and its default is ignored by the getter too. */
    ck_assert_int_eq(params_get_int(p, "level", &i), -ENODATA);
    ck_assert(i == 77);

    SET_OK(p, "level", "4");
    ck_assert_int_eq(params_check(p, &e), 0);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(params_get_int(p, "level", &i), 0);
    ck_assert(i == 4);
    ck_assert_int_eq(params_get_string(p, "path", &s), 0);
    ck_assert_str_eq(s, "/var/log");
    params_free(p);
}
END_TEST

START_TEST(test_no_params) {
    static const struct ophost_param empty[] = { { NULL } };
    struct params *p = new_checked(NULL), *q = new_checked(empty);
    char *e = NULL;
    bool b = false;

    ck_assert_int_eq(params_check(p, &e), 0);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(params_get_bool(p, "x", &b), -ENOENT);
    SET_FAILS(p, "x", "1", -ENOENT, "unknown param 'x'");
    SET_FAILS(q, "x", "1", -ENOENT, "unknown param 'x'");
    ck_assert_int_eq(params_check(q, NULL), 0);
    ck_assert_ptr_null(params_free(p));
    ck_assert_ptr_null(params_free(q));
    ck_assert_ptr_null(params_free(NULL));
}
END_TEST

START_TEST(test_allowed) {
    struct params *p = new_checked(all_types);
    const char *s = NULL;

    SET_FAILS(p, "mode", "fast", -EINVAL, "param 'mode': 'fast' is not one of: slow, normal");
    SET_FAILS(p, "mode", "Slow", -EINVAL, "param 'mode': 'Slow' is not one of: slow, normal");
    SET_FAILS(p, "mode", "", -EINVAL, "param 'mode': '' is not one of: slow, normal");
    /* The failed attempts did not count as given. */
    ck_assert_int_eq(params_get_string(p, "mode", &s), 0);
    ck_assert_str_eq(s, "normal");
    SET_OK(p, "mode", "normal");
    SET_FAILS(p, "mode", "slow", -EEXIST, "param 'mode' given twice");
    params_free(p);
}
END_TEST

START_TEST(test_aliases) {
    struct params *p = new_checked(all_types);
    uint64_t u = 0;

    SET_OK(p, "period", "2s");
    ck_assert_int_eq(params_get_duration(p, "interval", &u), 0);
    ck_assert(u == 2 * SEC);
    /* Getters accept aliases too. */
    u = 0;
    ck_assert_int_eq(params_get_duration(p, "every", &u), 0);
    ck_assert(u == 2 * SEC);
    /* The canonical key is named, whichever spelling came twice. */
    SET_FAILS(p, "interval", "3s", -EEXIST, "param 'interval' given twice");
    SET_FAILS(p, "every", "3s", -EEXIST, "param 'interval' given twice");
    SET_FAILS(p, "period", "3s", -EEXIST, "param 'interval' given twice");
    ck_assert_int_eq(params_get_duration(p, "interval", &u), 0);
    ck_assert(u == 2 * SEC);
    params_free(p);

    p = new_checked(all_types);
    SET_OK(p, "interval", "1s");
    SET_FAILS(p, "every", "3s", -EEXIST, "param 'interval' given twice");
    /* A bad value through an alias names the canonical key. */
    params_free(p);
    p = new_checked(all_types);
    SET_FAILS(p, "every", "abc", -EINVAL,
              "param 'interval': 'abc' is not a valid duration (e.g. 500ms, 2s, 1m30s)");
    params_free(p);
}
END_TEST

START_TEST(test_given_twice) {
    struct params *p = new_checked(all_types);
    int64_t i = 0;

    SET_OK(p, "offset", "1");
    SET_FAILS(p, "offset", "2", -EEXIST, "param 'offset' given twice");
    /* Even an invalid second value is reported as given twice. */
    SET_FAILS(p, "offset", "x", -EEXIST, "param 'offset' given twice");
    ck_assert_int_eq(params_get_int(p, "offset", &i), 0);
    ck_assert(i == 1);
    params_free(p);
}
END_TEST

START_TEST(test_bad_values) {
    struct params *p = new_checked(all_types);

    SET_FAILS(p, "timeout", "abc", -EINVAL,
              "param 'timeout': 'abc' is not a valid duration (e.g. 500ms, 2s, 1m30s)");
    SET_FAILS(p, "timeout", "", -EINVAL,
              "param 'timeout': '' is not a valid duration (e.g. 500ms, 2s, 1m30s)");
    SET_FAILS(p, "timeout", "-1s", -EINVAL,
              "param 'timeout': '-1s' is not a valid duration (e.g. 500ms, 2s, 1m30s)");
    SET_FAILS(p, "timeout", "213504d", -EINVAL,
              "param 'timeout': '213504d' is out of range for a duration");
    SET_FAILS(p, "verbose", "maybe", -EINVAL,
              "param 'verbose': 'maybe' is not a valid bool (true/false, yes/no, on/off, 1/0)");
    SET_FAILS(p, "offset", "x", -EINVAL, "param 'offset': 'x' is not a valid integer");
    SET_FAILS(p, "offset", "", -EINVAL, "param 'offset': '' is not a valid integer");
    SET_FAILS(p, "offset", "1.5", -EINVAL, "param 'offset': '1.5' is not a valid integer");
    SET_FAILS(p, "offset", "9223372036854775808", -EINVAL,
              "param 'offset': '9223372036854775808' is out of range for a 64-bit integer");
    SET_FAILS(p, "count", "x", -EINVAL, "param 'count': 'x' is not a valid unsigned integer");
    SET_FAILS(p, "count", "-1", -EINVAL, "param 'count': '-1' is not a valid unsigned integer");
    SET_FAILS(p, "count", "18446744073709551616", -EINVAL,
              "param 'count': '18446744073709551616' is out of range for a 64-bit unsigned integer");
    /* Nothing above was stored. */
    for (const char *const *k = (const char *const[]){ "timeout", "verbose", "offset", "count", NULL };
         *k; k++) {
        int64_t i = 5;
        uint64_t u = 5;
        bool b = true;
        int r = strcmp(*k, "verbose") == 0 ? params_get_bool(p, *k, &b)
              : strcmp(*k, "offset") == 0  ? params_get_int(p, *k, &i)
              : strcmp(*k, "count") == 0   ? params_get_uint(p, *k, &u)
                                         : params_get_duration(p, *k, &u);
        ck_assert_int_eq(r, -ENODATA);
        ck_assert(i == 5 && u == 5 && b == true);
    }
    /* A NULL ret_error only drops the message. */
    ck_assert_int_eq(params_set(p, "count", "x", NULL), -EINVAL);
    ck_assert_int_eq(params_set(p, "nope", "x", NULL), -ENOENT);
    params_free(p);
}
END_TEST

START_TEST(test_limits) {
    struct params *p = new_checked(limited);
    int64_t i = 0;
    uint64_t u = 0;

    SET_FAILS(p, "temp", "41", -EINVAL, "param 'temp': '41' is above the maximum 40");
    SET_FAILS(p, "temp", "-11", -EINVAL, "param 'temp': '-11' is below the minimum -10");
    SET_OK(p, "temp", "-10");
    ck_assert_int_eq(params_get_int(p, "temp", &i), 0);
    ck_assert(i == -10);

    SET_FAILS(p, "count", "300", -EINVAL, "param 'count': '300' is above the maximum 100");
    SET_FAILS(p, "count", "0", -EINVAL, "param 'count': '0' is below the minimum 1");
    SET_OK(p, "count", "100");
    ck_assert_int_eq(params_get_uint(p, "count", &u), 0);
    ck_assert(u == 100);

    /* uint limits above INT64_MAX (stored cast in the int64 field). */
    SET_FAILS(p, "big", "9999999999999999999", -EINVAL,
              "param 'big': '9999999999999999999' is below the minimum 10000000000000000000");
    SET_OK(p, "big", "10000000000000000000");
    ck_assert_int_eq(params_get_uint(p, "big", &u), 0);
    ck_assert(u == UINT64_C(10000000000000000000));

    SET_FAILS(p, "floor", "-1", -EINVAL, "param 'floor': '-1' is below the minimum 0");
    SET_OK(p, "floor", "0");

    /* Durations: the value as given, the limit in its largest exact unit. */
    SET_FAILS(p, "interval", "100ms", -EINVAL,
              "param 'interval': '100ms' is below the minimum 500ms");
    SET_FAILS(p, "interval", "0.4s", -EINVAL,
              "param 'interval': '0.4s' is below the minimum 500ms");
    SET_FAILS(p, "interval", "1m31s", -EINVAL,
              "param 'interval': '1m31s' is above the maximum 90s");
    SET_FAILS(p, "interval", "1d", -EINVAL, "param 'interval': '1d' is above the maximum 90s");
    SET_OK(p, "interval", "1.5m");
    ck_assert_int_eq(params_get_duration(p, "interval", &u), 0);
    ck_assert(u == 90 * SEC);

    SET_FAILS(p, "wait", "2us", -EINVAL, "param 'wait': '2us' is above the maximum 1500ns");
    SET_OK(p, "wait", "1.5us");
    ck_assert_int_eq(params_get_duration(p, "wait", &u), 0);
    ck_assert(u == 1500);
    params_free(p);
}
END_TEST

START_TEST(test_duration_limit_format) {
    static const struct {
        int64_t max;
        const char *msg;
    } t[] = {
        { 0, "param 'd': '1ns' is above the maximum 0s" },
        { 1, "param 'd': '1s' is above the maximum 1ns" },
        { 2000, "param 'd': '1s' is above the maximum 2us" },
        { 1000000, "param 'd': '1s' is above the maximum 1ms" },
        { 60 * 1000000000LL, "param 'd': '1h' is above the maximum 1m" },
        { 7200 * 1000000000LL, "param 'd': '1d' is above the maximum 2h" },
        { 2 * 86400 * 1000000000LL, "param 'd': '3d' is above the maximum 2d" },
        { 25 * 3600 * 1000000000LL, "param 'd': '3d' is above the maximum 25h" },
    };

    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        const struct ophost_param d[] = {
            { .key = "d", .type = OPHOST_PARAM_DURATION, .flags = OPHOST_PARAM_HAS_MAX,
              .max = t[k].max }, { NULL } };
        struct params *p = new_checked(d);
        const char *v = strstr(t[k].msg, ": '") + 3;
        char value[16] = { 0 };

        memcpy(value, v, strcspn(v, "'"));
        SET_FAILS(p, "d", value, -EINVAL, t[k].msg);
        params_free(p);
    }
}
END_TEST

START_TEST(test_hint) {
    struct params *p = new_checked(all_types);

    SET_FAILS(p, "intervall", "1s", -ENOENT, "unknown param 'intervall' (did you mean 'interval'?)");
    SET_FAILS(p, "verbsoe", "1", -ENOENT, "unknown param 'verbsoe' (did you mean 'verbose'?)");
    /* Aliases are candidates as well. */
    SET_FAILS(p, "perod", "1s", -ENOENT, "unknown param 'perod' (did you mean 'period'?)");
    SET_FAILS(p, "x", "1", -ENOENT, "unknown param 'x'");
    SET_FAILS(p, "completely-different", "1", -ENOENT, "unknown param 'completely-different'");
    /* Keys are case-sensitive. */
    SET_FAILS(p, "Name", "n", -ENOENT, "unknown param 'Name' (did you mean 'name'?)");
    params_free(p);
}
END_TEST

START_TEST(test_getter_errors) {
    struct params *p = new_checked(all_types);
    const char *s = "untouched";
    bool b = true;
    int64_t i = 42;
    uint64_t u = 43;

    /* Unknown key. */
    ck_assert_int_eq(params_get_string(p, "nope", &s), -ENOENT);
    ck_assert_int_eq(params_get_bool(p, "nope", &b), -ENOENT);
    ck_assert_int_eq(params_get_int(p, "nope", &i), -ENOENT);
    ck_assert_int_eq(params_get_uint(p, "nope", &u), -ENOENT);
    ck_assert_int_eq(params_get_duration(p, "nope", &u), -ENOENT);

    /* Another type, whether or not a value or default exists. */
    ck_assert_int_eq(params_get_uint(p, "delta", &u), -EINVAL);   /* int with default */
    ck_assert_int_eq(params_get_int(p, "limit", &i), -EINVAL);    /* uint with default */
    ck_assert_int_eq(params_get_duration(p, "limit", &u), -EINVAL);
    ck_assert_int_eq(params_get_uint(p, "interval", &u), -EINVAL);
    ck_assert_int_eq(params_get_string(p, "color", &s), -EINVAL);
    ck_assert_int_eq(params_get_bool(p, "label", &b), -EINVAL);
    ck_assert_int_eq(params_get_int(p, "mode", &i), -EINVAL);

    /* No value and no default. */
    ck_assert_int_eq(params_get_string(p, "name", &s), -ENODATA);
    ck_assert_int_eq(params_get_bool(p, "verbose", &b), -ENODATA);
    ck_assert_int_eq(params_get_int(p, "offset", &i), -ENODATA);
    ck_assert_int_eq(params_get_uint(p, "count", &u), -ENODATA);
    ck_assert_int_eq(params_get_duration(p, "timeout", &u), -ENODATA);

    ck_assert_str_eq(s, "untouched");
    ck_assert(b == true);
    ck_assert(i == 42);
    ck_assert(u == 43);

    /* A value set does not change the type check. */
    SET_OK(p, "offset", "7");
    ck_assert_int_eq(params_get_uint(p, "offset", &u), -EINVAL);
    ck_assert(u == 43);
    params_free(p);
}
END_TEST

static Suite *params_suite(void) {
    Suite *s = suite_create("params");
    TCase *tc;

    tc = tcase_create("parsers");
    tcase_add_test(tc, test_parse_bool);
    tcase_add_test(tc, test_parse_int);
    tcase_add_test(tc, test_parse_uint);
    tcase_add_test(tc, test_parse_duration);
    tcase_add_test(tc, test_type_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("descriptors");
    tcase_add_test(tc, test_descs_valid);
    tcase_add_test(tc, test_descs_names);
    tcase_add_test(tc, test_descs_types_flags);
    tcase_add_test(tc, test_descs_limits);
    tcase_add_test(tc, test_descs_defaults);
    suite_add_tcase(s, tc);

    tc = tcase_create("values");
    tcase_add_test(tc, test_set_get_each_type);
    tcase_add_test(tc, test_string_is_copied);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_mandatory);
    tcase_add_test(tc, test_no_params);
    tcase_add_test(tc, test_allowed);
    tcase_add_test(tc, test_aliases);
    tcase_add_test(tc, test_given_twice);
    tcase_add_test(tc, test_bad_values);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_duration_limit_format);
    tcase_add_test(tc, test_hint);
    tcase_add_test(tc, test_getter_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(params_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

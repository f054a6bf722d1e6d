/*
 * params.h — typed operator parameters: checking descriptors that come from
 * plugins, validating textual values against them, and typed getters that
 * never fail silently.
 */
#ifndef OPHOST_DAEMON_PARAMS_H
#define OPHOST_DAEMON_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include <ophost/ophost.h>

/* The values of one operator's params (global or instance). */
struct params;

/*
 * Checks a descriptor array from a plugin (key == NULL terminated; NULL is an
 * empty array): keys valid names and unique (aliases included), types known,
 * flags known, defaults and allowed values valid for the type, min <= max,
 * default within min/max and among the allowed values. Returns 0, or -EINVAL
 * with a malloc'd message in *ret_error naming the key, e.g.
 * "param 'interval': default '2x' is not a valid duration".
 */
int params_check_descriptors(const struct ophost_param *descs, char **ret_error);

/* Returns a new empty value set for descs (which must outlive it and have
 * passed params_check_descriptors), or NULL on ENOMEM. */
struct params *params_new(const struct ophost_param *descs);
struct params *params_free(struct params *p);

/*
 * Sets the param named key (or one of its aliases) from text. Errors, with a
 * malloc'd message in *ret_error:
 *   -ENOENT "unknown param 'intervall' (did you mean 'interval'?)"
 *   -EEXIST "param 'interval' given twice"
 *   -EINVAL "param 'interval': 'abc' is not a valid duration (e.g. 500ms, 2s, 1m30s)"
 *           and likewise for bool, int, uint, out of range, not allowed
 *           ("param 'mode': 'fast' is not one of: slow, normal").
 */
int params_set(struct params *p, const char *key, const char *value, char **ret_error);

/* After all params_set calls: -EINVAL "missing mandatory param 'path'" for
 * the first mandatory param without a value. */
int params_check(const struct params *p, char **ret_error);

/* Typed getters: the value given, else the default. -ENOENT unknown key;
 * -EINVAL the param has another type; -ENODATA no value and no default.
 * *ret is written only on success. Strings live as long as p. */
int params_get_string(const struct params *p, const char *key, const char **ret);
int params_get_bool(const struct params *p, const char *key, bool *ret);
int params_get_int(const struct params *p, const char *key, int64_t *ret);
int params_get_uint(const struct params *p, const char *key, uint64_t *ret);
int params_get_duration(const struct params *p, const char *key, uint64_t *ret_nsec);

/* Parsers used by the above and by the config: 0 or -EINVAL/-ERANGE. */
int parse_bool(const char *s, bool *ret);
int parse_int(const char *s, int64_t *ret);
int parse_uint(const char *s, uint64_t *ret);
int parse_duration(const char *s, uint64_t *ret_nsec);
/* Bytes: "4096", or with a suffix K, M, G, T (powers of 1024): "64M". */
int parse_size(const char *s, uint64_t *ret);

/* "string", "bool", "int", "uint", "duration", or "unknown". */
const char *param_type_name(uint32_t type);

#endif

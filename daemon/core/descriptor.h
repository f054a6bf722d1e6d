/*
 * descriptor.h — a plugin's descriptor as data: what the scanner sends the
 * supervisor about a plugin it loaded, and the checks of names and params
 * that both sides apply (the scanner on the plugin's own structs, the
 * supervisor again on what it received, which it does not trust).
 *
 * DESCRIPTOR (JSON):
 *   {"name": N, "version": V, "description": D, "abi_major": N, "abi_minor": N,
 *    "operators": [{"name": N, "description": D, "flags": N, "priority": N,
 *                   "dependencies": [N, ...],
 *                   "global_params": [PARAM, ...], "instance_params": [PARAM, ...]}]}
 *   PARAM = {"key": K, "description": D|null, "type": N, "flags": N,
 *            "default": TEXT|null, "allowed": [TEXT, ...]|null,
 *            "aliases": [K, ...]|null, "min": N, "max": N}
 * Strings missing in the plugin (NULL) are null or absent; every member
 * is in the ABI's units (enum values, flags, nanoseconds for durations).
 */
#ifndef OPHOST_DAEMON_DESCRIPTOR_H
#define OPHOST_DAEMON_DESCRIPTOR_H

#include <json-c/json.h>

#include "plugin.h"

/* At most this many operators per plugin, params per operator, entries in
 * a list (dependencies, allowed values, aliases): a plugin with more is
 * refused, so a lying scanner cannot make the supervisor allocate without
 * bound. */
#define DESCRIPTOR_OPERATORS_MAX 1024
#define DESCRIPTOR_PARAMS_MAX 256
#define DESCRIPTOR_LIST_MAX 1024

/*
 * Checks what the loader copied from a plugin (p->desc, p->operators) beyond
 * sizes: the plugin name, each operator's name, dependencies and param
 * descriptors, and that no operator name repeats. Returns 0, or a negative
 * errno with a malloc'd "PATH: WHAT: REASON" line in *ret_error, the texts of
 * the loader's refusals (README, "Plugins").
 */
int descriptor_check(const struct plugin *p, char **ret_error);

/* The DESCRIPTOR of a loaded plugin; NULL on ENOMEM. The caller owns it. */
json_object *descriptor_to_json(const struct plugin *p);

/*
 * Makes p's desc and operators from o (p is a fresh plugin_new() whose path
 * names the file): every string and array is owned by p and freed by its
 * release; every callback pointer is NULL. Then applies the loader's ABI
 * check and descriptor_check, so p is exactly as valid as a loaded plugin.
 * Returns 0, -EBADMSG with "PATH: descriptor: malformed (...)" for data
 * that is not a DESCRIPTOR, or the check's error, with *ret_error set.
 */
int descriptor_from_json(json_object *o, struct plugin *p, char **ret_error);

/* The ABI check of a descriptor: major equal, minor not newer. 0, or
 * -EPROTO with "PATH: abi: ..." in *ret_error. */
int descriptor_check_abi(const char *path, unsigned major, unsigned minor, char **ret_error);

#endif

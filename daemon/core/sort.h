/*
 * sort.h — the operator sorter: orders a set of named nodes so that every
 * node comes after its dependencies; among nodes free to go, lower priority
 * first, then name (strcmp), so the result never depends on input order.
 */
#ifndef OPHOST_DAEMON_SORT_H
#define OPHOST_DAEMON_SORT_H

#include <stddef.h>
#include <stdint.h>

struct sort_node {
    const char *name;
    int32_t priority;
    const char *const *deps; /* NULL-terminated names; NULL = none */
};

/*
 * Sorts nodes[0..n) in O((V + E) log V). On success returns 0 and stores a
 * malloc'd array of n indices into nodes in *ret_order (caller frees).
 * On failure returns a negative errno and, if ret_error is not NULL, stores a
 * malloc'd message (caller frees):
 *   -EEXIST  "duplicate operator name 'a'"
 *   -ENOENT  "operator 'a' depends on 'x', which is not available"
 *   -ELOOP   "dependency cycle: a -> b -> c -> a"
 *   -ENOMEM  (no message)
 * A repeated dependency entry counts once. Neither output is written on
 * failure except *ret_error.
 */
int sort_nodes(const struct sort_node *nodes, size_t n, size_t **ret_order, char **ret_error);

#endif

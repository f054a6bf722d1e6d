/*
 * sort.c — the operator sorter. Kahn's algorithm over the dependency graph,
 * with the set of nodes that are free to go kept in a binary min-heap keyed
 * by (priority, name), so the order is fully determined by the nodes and
 * never by their input order. Names are resolved through an open-addressing
 * hash table, so the whole thing is O((V + E) log V) with no quadratic step.
 * Errors come back as a negative errno plus a message a person can act on.
 */
#include "sort.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NO_INDEX SIZE_MAX

/* 64-bit FNV-1a: cheap, and good enough for short operator names. */
static uint64_t name_hash(const char *s) {
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* Name → node index, linear probing; slots hold index + 1 so 0 means empty. */
struct name_table {
    size_t *slots;
    size_t mask;
};

static void name_table_done(struct name_table *t) {
    free(t->slots);
    t->slots = NULL;
}

static int name_table_init(struct name_table *t, size_t n) {
    size_t cap = 8;

    if (n > SIZE_MAX / 4)
        return -ENOMEM;
    /* Keep the load factor at or below 1/2. */
    while (cap < n * 2)
        cap *= 2;
    t->slots = calloc(cap, sizeof(size_t));
    if (!t->slots)
        return -ENOMEM;
    t->mask = cap - 1;
    return 0;
}

/* Returns the index of the node called name, or NO_INDEX. */
static size_t name_table_find(const struct name_table *t, const struct sort_node *nodes,
                              const char *name) {
    for (size_t s = name_hash(name) & t->mask;; s = (s + 1) & t->mask) {
        size_t v = t->slots[s];
        if (v == 0)
            return NO_INDEX;
        if (streq(nodes[v - 1].name, name))
            return v - 1;
    }
}

/* Inserts node i; returns the index of an earlier node with the same name, or NO_INDEX. */
static size_t name_table_add(struct name_table *t, const struct sort_node *nodes, size_t i) {
    for (size_t s = name_hash(nodes[i].name) & t->mask;; s = (s + 1) & t->mask) {
        size_t v = t->slots[s];
        if (v == 0) {
            t->slots[s] = i + 1;
            return NO_INDEX;
        }
        if (streq(nodes[v - 1].name, nodes[i].name))
            return v - 1;
    }
}

/* The order among nodes free to go: lower priority first, then name. */
static bool node_before(const struct sort_node *nodes, size_t a, size_t b) {
    if (nodes[a].priority != nodes[b].priority)
        return nodes[a].priority < nodes[b].priority;
    return strcmp(nodes[a].name, nodes[b].name) < 0;
}

struct heap {
    size_t *v;
    size_t len;
};

static void heap_push(struct heap *h, const struct sort_node *nodes, size_t x) {
    size_t i = h->len++;

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!node_before(nodes, x, h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = x;
}

static size_t heap_pop(struct heap *h, const struct sort_node *nodes) {
    size_t top, x, i = 0;

    assert(h->len > 0);
    top = h->v[0];
    x = h->v[--h->len];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && node_before(nodes, h->v[c + 1], h->v[c]))
            c++;
        if (!node_before(nodes, h->v[c], x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->len > 0)
        h->v[i] = x;
    return top;
}

/*
 * Called after Kahn's algorithm stopped with nodes left (done[i] false).
 * Every node left has at least one dependency that is also left, so walking
 * "first dependency still left" from any of them must run into a node it
 * has seen: that closes a cycle. We start from the remaining node with the
 * smallest name and print only the cycle part, from the node where it
 * closes, following dependencies. Returns the malloc'd message or NULL.
 */
static char *format_cycle(const struct sort_node *nodes, size_t n, const bool *done,
                          const size_t *dep_start, const size_t *dep_list) {
    _cleanup_free_ size_t *step = NULL; /* position of each node on the walk, or NO_INDEX */
    _cleanup_free_ size_t *path = NULL;
    static const char prefix[] = "dependency cycle: ", arrow[] = " -> ";
    size_t start = NO_INDEX, cur, len = 0, first, sz;
    char *msg, *p;

    for (size_t i = 0; i < n; i++)
        if (!done[i] && (start == NO_INDEX || strcmp(nodes[i].name, nodes[start].name) < 0))
            start = i;
    assert(start != NO_INDEX);

    step = malloc(n * sizeof(size_t));
    path = malloc(n * sizeof(size_t));
    if (!step || !path)
        return NULL;
    for (size_t i = 0; i < n; i++)
        step[i] = NO_INDEX;

    cur = start;
    while (step[cur] == NO_INDEX) {
        size_t next = NO_INDEX;

        step[cur] = len;
        path[len++] = cur;
        for (size_t k = dep_start[cur]; k < dep_start[cur + 1]; k++)
            if (!done[dep_list[k]]) {
                next = dep_list[k];
                break;
            }
        assert(next != NO_INDEX);
        cur = next;
    }

    /* cur closes the cycle: it is path[step[cur]], and path[step[cur]..len) is the cycle. */
    first = step[cur];
    sz = sizeof(prefix) + strlen(nodes[cur].name);
    for (size_t k = first; k < len; k++)
        sz += strlen(nodes[path[k]].name) + strlen(arrow);

    msg = malloc(sz);
    if (!msg)
        return NULL;
    p = stpcpy(msg, prefix);
    for (size_t k = first; k < len; k++) {
        p = stpcpy(p, nodes[path[k]].name);
        p = stpcpy(p, arrow);
    }
    stpcpy(p, nodes[cur].name);
    return msg;
}

int sort_nodes(const struct sort_node *nodes, size_t n, size_t **ret_order, char **ret_error) {
    _cleanup_free_ size_t *dep_start = NULL, *dep_list = NULL, *indeg = NULL, *rdep_start = NULL,
                          *rdep_list = NULL, *mark = NULL, *order = NULL, *heap_v = NULL;
    _cleanup_free_ bool *done = NULL;
    _cleanup_(name_table_done) struct name_table table = {};
    struct heap heap;
    size_t n_edges = 0, n_raw = 0, n_done = 0;
    char *msg;
    int r;

    assert(nodes || n == 0);
    assert(ret_order);

    if (n == 0) {
        order = malloc(1);
        if (!order)
            return -ENOMEM;
        *ret_order = TAKE_PTR(order);
        return 0;
    }

    /* Pass 1: index names, refusing duplicates. */
    r = name_table_init(&table, n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        assert(nodes[i].name);
        if (name_table_add(&table, nodes, i) != NO_INDEX) {
            if (ret_error) {
                msg = strprintf("duplicate operator name '%s'", nodes[i].name);
                if (!msg)
                    return -ENOMEM;
                *ret_error = msg;
            }
            return -EEXIST;
        }
        for (const char *const *d = nodes[i].deps; d && *d; d++)
            n_raw++;
    }

    /*
     * Pass 2: resolve dependencies into a compact list per node (CSR),
     * dropping repeated entries, so each edge is counted exactly once.
     * mark[j] == i + 1 means node i already lists j.
     */
    dep_start = malloc((n + 1) * sizeof(size_t));
    dep_list = malloc((n_raw ? n_raw : 1) * sizeof(size_t));
    mark = calloc(n, sizeof(size_t));
    indeg = malloc(n * sizeof(size_t));
    if (!dep_start || !dep_list || !mark || !indeg)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        dep_start[i] = n_edges;
        for (const char *const *d = nodes[i].deps; d && *d; d++) {
            size_t j = name_table_find(&table, nodes, *d);
            if (j == NO_INDEX) {
                if (ret_error) {
                    msg = strprintf("operator '%s' depends on '%s', which is not available",
                                    nodes[i].name, *d);
                    if (!msg)
                        return -ENOMEM;
                    *ret_error = msg;
                }
                return -ENOENT;
            }
            if (mark[j] == i + 1)
                continue;
            mark[j] = i + 1;
            dep_list[n_edges++] = j;
        }
        indeg[i] = n_edges - dep_start[i];
    }
    dep_start[n] = n_edges;
    name_table_done(&table);

    /* Reverse edges: for each node, the nodes that depend on it, in CSR form. */
    rdep_start = calloc(n + 1, sizeof(size_t));
    rdep_list = malloc((n_edges ? n_edges : 1) * sizeof(size_t));
    if (!rdep_start || !rdep_list)
        return -ENOMEM;
    for (size_t k = 0; k < n_edges; k++)
        rdep_start[dep_list[k] + 1]++;
    for (size_t j = 0; j < n; j++)
        rdep_start[j + 1] += rdep_start[j];
    /* mark[] is reused as the fill cursor. */
    memcpy(mark, rdep_start, n * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        for (size_t k = dep_start[i]; k < dep_start[i + 1]; k++)
            rdep_list[mark[dep_list[k]]++] = i;

    /* Kahn's algorithm with a (priority, name) min-heap as the ready set. */
    heap_v = malloc(n * sizeof(size_t));
    order = malloc(n * sizeof(size_t));
    done = calloc(n, sizeof(bool));
    if (!heap_v || !order || !done)
        return -ENOMEM;
    heap = (struct heap) { .v = heap_v, .len = 0 };
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            heap_push(&heap, nodes, i);
    while (heap.len > 0) {
        size_t j = heap_pop(&heap, nodes);

        done[j] = true;
        order[n_done++] = j;
        for (size_t k = rdep_start[j]; k < rdep_start[j + 1]; k++)
            if (--indeg[rdep_list[k]] == 0)
                heap_push(&heap, nodes, rdep_list[k]);
    }

    if (n_done < n) {
        if (ret_error) {
            msg = format_cycle(nodes, n, done, dep_start, dep_list);
            if (!msg)
                return -ENOMEM;
            *ret_error = msg;
        }
        return -ELOOP;
    }

    *ret_order = TAKE_PTR(order);
    return 0;
}

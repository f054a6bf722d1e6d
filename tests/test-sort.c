/*
 * test-sort.c — tests for daemon/sort.c: the cases of Inspektor Gadget's
 * pkg/operators/operators_test.go (v0.28.1, Test_SortOperators*) rewritten
 * against our stricter contract, plus tie-breaking, input-order
 * independence, exact error texts and a large input.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sort.h"
#include "util.h"

#define DEPS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NODE(n, p, d) { .name = (n), .priority = (p), .deps = (d) }

/* Sentinels: outputs that must not be written keep these values. */
static size_t order_sentinel[1];
static char error_sentinel[] = "untouched";

/* The names of nodes in the given order, separated by spaces; caller frees. */
static char *order_names(const struct sort_node *nodes, size_t n, const size_t *order) {
    size_t sz = 1;
    char *s, *p;

    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(order[i], n);
        sz += strlen(nodes[order[i]].name) + 1;
    }
    s = malloc(sz);
    ck_assert_ptr_nonnull(s);
    p = s;
    *p = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ' ';
        p = stpcpy(p, nodes[order[i]].name);
    }
    return s;
}

/* Sorting must succeed with exactly this order (names separated by spaces). */
static void assert_order(const struct sort_node *nodes, size_t n, const char *expected) {
    size_t *order = order_sentinel;
    char *error = error_sentinel;
    _cleanup_free_ char *got = NULL;
    int r;

    r = sort_nodes(nodes, n, &order, &error);
    ck_assert_int_eq(r, 0);
    ck_assert_ptr_eq(error, error_sentinel);
    ck_assert_ptr_ne(order, order_sentinel);
    ck_assert_ptr_nonnull(order);
    got = order_names(nodes, n, order);
    ck_assert_str_eq(got, expected);
    free(order);
}

/* Sorting must fail with exactly this errno and message; *ret_order untouched. */
static void assert_error(const struct sort_node *nodes, size_t n, int expected_r,
                         const char *expected_msg) {
    size_t *order = order_sentinel;
    char *error = NULL;
    int r;

    r = sort_nodes(nodes, n, &order, &error);
    ck_assert_int_eq(r, expected_r);
    ck_assert_ptr_eq(order, order_sentinel);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, expected_msg);
    free(error);

    /* Without a place for the message, the same errno and nothing leaks. */
    r = sort_nodes(nodes, n, &order, NULL);
    ck_assert_int_eq(r, expected_r);
    ck_assert_ptr_eq(order, order_sentinel);
}

/* xorshift64: a small deterministic generator for shuffles and random graphs. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static size_t rng_below(uint64_t *s, size_t bound) {
    return (size_t) (rng_next(s) % bound);
}

static void shuffle(size_t *v, size_t n, uint64_t *s) {
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(s, i), t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* ---- The seed's cases (operators_test.go, Test_SortOperators*) ---- */

START_TEST(test_seed_simple) {
    const struct sort_node nodes[] = {
        NODE("b", 0, DEPS("a")),
        NODE("a", 0, NULL),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "a b");
}
END_TEST

START_TEST(test_seed_two_incoming_deps) {
    const struct sort_node nodes[] = {
        NODE("b", 0, DEPS("a")),
        NODE("c", 0, DEPS("a")),
        NODE("a", 0, NULL),
    };
    /* The seed returns "a c b" (it follows input order, reversed); b and c
     * are free at the same time and tie on priority, so we go by name. */
    assert_order(nodes, ELEMENTSOF(nodes), "a b c");
}
END_TEST

START_TEST(test_seed_two_outgoing_deps) {
    const struct sort_node nodes[] = {
        NODE("b", 0, DEPS("a")),
        NODE("c", 0, DEPS("a", "b")),
        NODE("a", 0, NULL),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "a b c");
}
END_TEST

START_TEST(test_seed_two_outgoing_deps_reversed) {
    const struct sort_node nodes[] = {
        NODE("c", 0, DEPS("a", "b")),
        NODE("b", 0, DEPS("a")),
        NODE("a", 0, NULL),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "a b c");
}
END_TEST

START_TEST(test_seed_large_graph) {
    const struct sort_node nodes[] = {
        NODE("a", 0, NULL),
        NODE("b", 0, DEPS("a")),
        NODE("c", 0, DEPS("a", "h")),
        NODE("d", 0, DEPS("a")),
        NODE("e", 0, DEPS("d", "b")),
        NODE("f", 0, DEPS("h")),
        NODE("g", 0, DEPS("e")),
        NODE("h", 0, DEPS("d")),
        NODE("i", 0, DEPS("g", "f")),
    };
    /* The seed returns "a d b h e f g i c"; ours is Kahn with the smallest
     * name first among the free nodes: a; {b,d}; {d}; {e,h}; {g,h}; {h};
     * {c,f}; {f}; {i}. */
    assert_order(nodes, ELEMENTSOF(nodes), "a b d e g h c f i");
}
END_TEST

START_TEST(test_seed_missing_dep) {
    const struct sort_node nodes[] = {
        NODE("a", 0, DEPS("b")),
    };
    /* The seed: `dependency "b" is not available in operators` (no culprit). */
    assert_error(nodes, ELEMENTSOF(nodes), -ENOENT,
                 "operator 'a' depends on 'b', which is not available");
}
END_TEST

START_TEST(test_seed_cyclic_dep) {
    const struct sort_node nodes[] = {
        NODE("a", 0, DEPS("b")),
        NODE("b", 0, DEPS("a")),
        NODE("c", 0, DEPS("a")),
    };
    /* The seed only says "dependency cycle detected"; c is outside the cycle. */
    assert_error(nodes, ELEMENTSOF(nodes), -ELOOP, "dependency cycle: a -> b -> a");
}
END_TEST

START_TEST(test_seed_large_cyclic_dep) {
    const struct sort_node nodes[] = {
        NODE("a", 0, DEPS("b")),
        NODE("b", 0, DEPS("c")),
        NODE("c", 0, DEPS("d")),
        NODE("d", 0, DEPS("e")),
        NODE("e", 0, DEPS("f")),
        NODE("f", 0, DEPS("a")),
    };
    assert_error(nodes, ELEMENTSOF(nodes), -ELOOP,
                 "dependency cycle: a -> b -> c -> d -> e -> f -> a");
}
END_TEST

/* ---- Edge cases ---- */

START_TEST(test_empty) {
    size_t *order = order_sentinel;
    char *error = error_sentinel;

    ck_assert_int_eq(sort_nodes(NULL, 0, &order, &error), 0);
    ck_assert_ptr_ne(order, order_sentinel);
    ck_assert_ptr_nonnull(order);
    ck_assert_ptr_eq(error, error_sentinel);
    free(order);
}
END_TEST

START_TEST(test_single) {
    const struct sort_node nodes[] = {
        NODE("only", 7, NULL),
    };
    const struct sort_node empty_deps[] = {
        NODE("only", 7, ((const char *const[]) { NULL })),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "only");
    assert_order(empty_deps, ELEMENTSOF(empty_deps), "only");
}
END_TEST

START_TEST(test_self_dependency) {
    const struct sort_node alone[] = {
        NODE("a", 0, DEPS("a")),
    };
    const struct sort_node after_others[] = {
        NODE("z", 0, DEPS("b", "z")),
        NODE("b", 0, NULL),
    };
    assert_error(alone, ELEMENTSOF(alone), -ELOOP, "dependency cycle: a -> a");
    assert_error(after_others, ELEMENTSOF(after_others), -ELOOP, "dependency cycle: z -> z");
}
END_TEST

START_TEST(test_duplicate_dependency_entries) {
    /* c lists a twice. Counting a's entries twice on one side only would
     * either free c too early (before b, which has the higher priority, so
     * "a c b") or never (a false cycle). */
    const struct sort_node nodes[] = {
        NODE("c", 0, DEPS("a", "a", "b", "a")),
        NODE("b", 10, DEPS("a")),
        NODE("a", 0, NULL),
    };
    const struct sort_node repeated_only[] = {
        NODE("y", 0, DEPS("x", "x", "x")),
        NODE("x", 0, NULL),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "a b c");
    assert_order(repeated_only, ELEMENTSOF(repeated_only), "x y");
}
END_TEST

START_TEST(test_duplicate_names) {
    const struct sort_node twice[] = {
        NODE("a", 0, NULL),
        NODE("b", 0, NULL),
        NODE("a", 1, NULL),
    };
    /* Checked before dependencies: the missing 'x' and the cycle are not reported. */
    const struct sort_node before_other_errors[] = {
        NODE("p", 0, DEPS("x")),
        NODE("q", 0, DEPS("q")),
        NODE("q", 0, NULL),
        NODE("p", 0, NULL),
    };
    assert_error(twice, ELEMENTSOF(twice), -EEXIST, "duplicate operator name 'a'");
    assert_error(before_other_errors, ELEMENTSOF(before_other_errors), -EEXIST,
                 "duplicate operator name 'q'");
}
END_TEST

START_TEST(test_priority_tiebreak) {
    const struct sort_node nodes[] = {
        NODE("a", 3, NULL),
        NODE("b", -5, NULL),
        NODE("c", 0, NULL),
        NODE("max", INT32_MAX, NULL),
        NODE("min", INT32_MIN, NULL),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "min b c a max");
}
END_TEST

START_TEST(test_name_tiebreak) {
    /* strcmp order: uppercase before lowercase, a prefix before its extensions. */
    const struct sort_node nodes[] = {
        NODE("beta", 1, NULL),
        NODE("alpha-2", 1, NULL),
        NODE("alpha", 1, NULL),
        NODE("Zeta", 1, NULL),
        NODE("first", 0, NULL),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "first Zeta alpha alpha-2 beta");
}
END_TEST

START_TEST(test_priority_never_beats_dependencies) {
    /* late has the lowest priority but waits for its dependency; when it
     * becomes free it goes before everything else that is free. */
    const struct sort_node nodes[] = {
        NODE("late", -100, DEPS("slow")),
        NODE("slow", 50, NULL),
        NODE("mid", 10, NULL),
        NODE("tail", 60, NULL),
    };
    assert_order(nodes, ELEMENTSOF(nodes), "mid slow late tail");
}
END_TEST

START_TEST(test_permutation_invariance) {
    const struct sort_node base[] = {
        NODE("net", 0, NULL),
        NODE("proc", 0, NULL),
        NODE("kube", 10, DEPS("net")),
        NODE("user", 5, DEPS("proc")),
        NODE("filter", 20, DEPS("user", "kube")),
        NODE("sort", 20, DEPS("filter")),
        NODE("json", 100, DEPS("sort")),
        NODE("prom", 100, DEPS("filter", "filter")),
    };
    const char *expected = "net proc user kube filter sort json prom";
    const size_t n = ELEMENTSOF(base);

    for (unsigned k = 0; k < 10; k++) {
        struct sort_node nodes[ELEMENTSOF(base)];
        size_t perm[ELEMENTSOF(base)];
        uint64_t seed = 0x9E3779B97F4A7C15ull * (k + 1);

        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        if (k == 1) /* reversed */
            for (size_t i = 0; i < n; i++)
                perm[i] = n - 1 - i;
        else if (k == 2) /* rotated */
            for (size_t i = 0; i < n; i++)
                perm[i] = (i + 3) % n;
        else if (k > 2)
            shuffle(perm, n, &seed);
        for (size_t i = 0; i < n; i++)
            nodes[i] = base[perm[i]];

        assert_order(nodes, n, expected);
    }
}
END_TEST

/* ---- Exact error texts ---- */

START_TEST(test_missing_dependency_first_reported) {
    /* Node index order first (c before b in the array), then the order of
     * c's dependencies: zz before yy. */
    const struct sort_node nodes[] = {
        NODE("a", 0, DEPS("b")),
        NODE("c", 0, DEPS("a", "zz", "yy")),
        NODE("b", 0, DEPS("qq")),
    };
    assert_error(nodes, ELEMENTSOF(nodes), -ENOENT,
                 "operator 'c' depends on 'zz', which is not available");
}
END_TEST

START_TEST(test_cycle_three_nodes) {
    /* base is sorted away; a's first dependency still left is b. z depends
     * on the cycle but is not on it. */
    const struct sort_node nodes[] = {
        NODE("z", 0, DEPS("a")),
        NODE("c", 0, DEPS("a")),
        NODE("b", 0, DEPS("c")),
        NODE("a", 0, DEPS("base", "b")),
        NODE("base", 0, NULL),
    };
    assert_error(nodes, ELEMENTSOF(nodes), -ELOOP, "dependency cycle: a -> b -> c -> a");
}
END_TEST

START_TEST(test_cycle_reachable_from_non_cycle_node) {
    /* The walk starts at a (smallest name left), which is not on the cycle;
     * only the cycle m -> n -> o -> m is printed. */
    const struct sort_node nodes[] = {
        NODE("o", 0, DEPS("m")),
        NODE("n", 0, DEPS("o")),
        NODE("m", 0, DEPS("n")),
        NODE("a", 0, DEPS("b")),
        NODE("b", 0, DEPS("m")),
    };
    assert_error(nodes, ELEMENTSOF(nodes), -ELOOP, "dependency cycle: m -> n -> o -> m");
}
END_TEST

START_TEST(test_cycle_choice_is_deterministic) {
    /* Two disjoint cycles; whatever the input order, the one printed is the
     * one reached from the smallest name left (b). */
    const struct sort_node base[] = {
        NODE("q", 0, DEPS("r")),
        NODE("r", 0, DEPS("q")),
        NODE("d", 0, DEPS("b")),
        NODE("c", 0, DEPS("d")),
        NODE("b", 0, DEPS("c")),
        NODE("free", 0, NULL),
    };
    const size_t n = ELEMENTSOF(base);

    for (unsigned k = 0; k < 6; k++) {
        struct sort_node nodes[ELEMENTSOF(base)];
        size_t perm[ELEMENTSOF(base)];
        uint64_t seed = 0xD1B54A32D192ED03ull * (k + 1);

        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        if (k > 0)
            shuffle(perm, n, &seed);
        for (size_t i = 0; i < n; i++)
            nodes[i] = base[perm[i]];
        assert_error(nodes, n, -ELOOP, "dependency cycle: b -> c -> d -> b");
    }
}
END_TEST

/* ---- Large inputs ---- */

struct graph {
    struct sort_node *nodes;
    char **names;
    const char ***deps;  /* each NULL-terminated */
    size_t *from, *to;   /* edge e: node from[e] depends on node to[e] */
    size_t n, n_edges;
};

static void graph_free(struct graph *g) {
    for (size_t i = 0; i < g->n; i++) {
        free(g->names[i]);
        free((void *) g->deps[i]);
    }
    free(g->names);
    free(g->deps);
    free(g->nodes);
    free(g->from);
    free(g->to);
}

/*
 * A random DAG over n nodes: by_rank[k] is the node at a random topological
 * position k; with chain set, the node at position k depends on the one at
 * k - 1; plus up to n_extra edges from a later to an earlier position
 * (repeats possible). Names are a random relabelling "op-%05zu";
 * priorities are in [-prio_span, prio_span].
 */
static void graph_random(struct graph *g, size_t n, size_t n_extra, bool chain, int prio_span,
                         uint64_t seed, size_t *by_rank) {
    size_t *count, *label;

    *g = (struct graph) { .n = n };
    g->nodes = calloc(n, sizeof(*g->nodes));
    g->names = calloc(n, sizeof(*g->names));
    g->deps = calloc(n, sizeof(*g->deps));
    g->from = malloc((n + n_extra) * sizeof(size_t));
    g->to = malloc((n + n_extra) * sizeof(size_t));
    count = calloc(n, sizeof(size_t));
    label = malloc(n * sizeof(size_t));
    ck_assert(g->nodes && g->names && g->deps && g->from && g->to && count && label);

    for (size_t i = 0; i < n; i++)
        by_rank[i] = label[i] = i;
    shuffle(by_rank, n, &seed);
    shuffle(label, n, &seed);

    if (chain)
        for (size_t k = 1; k < n; k++) {
            g->from[g->n_edges] = by_rank[k];
            g->to[g->n_edges++] = by_rank[k - 1];
        }
    for (size_t e = 0; e < n_extra; e++) {
        size_t a = rng_below(&seed, n), b = rng_below(&seed, n);
        if (a == b)
            continue;
        if (a < b) {
            size_t t = a;
            a = b;
            b = t;
        }
        g->from[g->n_edges] = by_rank[a];
        g->to[g->n_edges++] = by_rank[b];
    }
    for (size_t e = 0; e < g->n_edges; e++)
        count[g->from[e]]++;

    for (size_t i = 0; i < n; i++) {
        g->names[i] = strprintf("op-%05zu", label[i]);
        g->deps[i] = calloc(count[i] + 1, sizeof(char *));
        ck_assert(g->names[i] && g->deps[i]);
        g->nodes[i].name = g->names[i];
        g->nodes[i].priority =
            prio_span ? (int32_t) rng_below(&seed, 2 * (size_t) prio_span + 1) - prio_span : 0;
        g->nodes[i].deps = g->deps[i];
        count[i] = 0;
    }
    for (size_t e = 0; e < g->n_edges; e++)
        g->deps[g->from[e]][count[g->from[e]]++] = g->names[g->to[e]];

    free(count);
    free(label);
}

/* order is a permutation of the nodes and every edge has its dependency first. */
static void assert_respects_edges(const struct graph *g, const size_t *order) {
    size_t *pos = malloc(g->n * sizeof(size_t));

    ck_assert_ptr_nonnull(pos);
    for (size_t i = 0; i < g->n; i++)
        pos[i] = SIZE_MAX;
    for (size_t k = 0; k < g->n; k++) {
        ck_assert_uint_lt(order[k], g->n);
        ck_assert_uint_eq(pos[order[k]], SIZE_MAX);
        pos[order[k]] = k;
    }
    for (size_t e = 0; e < g->n_edges; e++)
        ck_assert_uint_lt(pos[g->to[e]], pos[g->from[e]]);
    free(pos);
}

START_TEST(test_large_chain_with_random_edges) {
    const size_t n = 10000;
    struct graph g;
    size_t *by_rank = malloc(n * sizeof(size_t)), *order = NULL;
    char *error = NULL;

    ck_assert_ptr_nonnull(by_rank);
    graph_random(&g, n, 40000, true, 1000, 0x5EED5EED12345678ull, by_rank);
    ck_assert_uint_gt(g.n_edges, n - 1 + 39000);

    ck_assert_int_eq(sort_nodes(g.nodes, n, &order, &error), 0);
    ck_assert_ptr_null(error);
    assert_respects_edges(&g, order);
    /* The chain fixes the whole order, whatever the priorities and names. */
    for (size_t k = 0; k < n; k++)
        ck_assert_uint_eq(order[k], by_rank[k]);

    free(order);
    free(by_rank);
    graph_free(&g);
}
END_TEST

/* The obvious quadratic Kahn: repeatedly take the smallest free node. */
static void reference_sort(const struct graph *g, size_t *order) {
    bool *done = calloc(g->n, sizeof(bool));

    ck_assert_ptr_nonnull(done);
    for (size_t k = 0; k < g->n; k++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < g->n; i++) {
            bool free_to_go = !done[i];
            for (size_t e = 0; free_to_go && e < g->n_edges; e++)
                if (g->from[e] == i && !done[g->to[e]])
                    free_to_go = false;
            if (!free_to_go)
                continue;
            if (best == SIZE_MAX || g->nodes[i].priority < g->nodes[best].priority ||
                (g->nodes[i].priority == g->nodes[best].priority &&
                 strcmp(g->nodes[i].name, g->nodes[best].name) < 0))
                best = i;
        }
        ck_assert_uint_ne(best, SIZE_MAX);
        done[best] = true;
        order[k] = best;
    }
    free(done);
}

START_TEST(test_random_dags_match_reference) {
    /* No chain, few distinct priorities: many ties broken by name, and
     * random repeated edges. */
    for (unsigned k = 0; k < 4; k++) {
        const size_t n = 120;
        struct graph g;
        size_t by_rank[120], expected[120], *order = NULL;
        char *error = NULL;

        graph_random(&g, n, 300, false, 2, 0xABCDEF0123456789ull + k, by_rank);
        reference_sort(&g, expected);
        ck_assert_int_eq(sort_nodes(g.nodes, n, &order, &error), 0);
        ck_assert_ptr_null(error);
        assert_respects_edges(&g, order);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(order[i], expected[i]);
        free(order);
        graph_free(&g);
    }
}
END_TEST

static Suite *sort_suite(void) {
    Suite *s = suite_create("sort");
    TCase *tc;

    tc = tcase_create("seed");
    tcase_add_test(tc, test_seed_simple);
    tcase_add_test(tc, test_seed_two_incoming_deps);
    tcase_add_test(tc, test_seed_two_outgoing_deps);
    tcase_add_test(tc, test_seed_two_outgoing_deps_reversed);
    tcase_add_test(tc, test_seed_large_graph);
    tcase_add_test(tc, test_seed_missing_dep);
    tcase_add_test(tc, test_seed_cyclic_dep);
    tcase_add_test(tc, test_seed_large_cyclic_dep);
    suite_add_tcase(s, tc);

    tc = tcase_create("order");
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_single);
    tcase_add_test(tc, test_duplicate_dependency_entries);
    tcase_add_test(tc, test_priority_tiebreak);
    tcase_add_test(tc, test_name_tiebreak);
    tcase_add_test(tc, test_priority_never_beats_dependencies);
    tcase_add_test(tc, test_permutation_invariance);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_duplicate_names);
    tcase_add_test(tc, test_self_dependency);
    tcase_add_test(tc, test_missing_dependency_first_reported);
    tcase_add_test(tc, test_cycle_three_nodes);
    tcase_add_test(tc, test_cycle_reachable_from_non_cycle_node);
    tcase_add_test(tc, test_cycle_choice_is_deterministic);
    suite_add_tcase(s, tc);

    tc = tcase_create("large");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_large_chain_with_random_edges);
    tcase_add_test(tc, test_random_dags_match_reference);
    suite_add_tcase(s, tc);

    return s;
}

int main(void) {
    SRunner *sr = srunner_create(sort_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

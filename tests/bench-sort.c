/*
 * bench-sort.c — measures sort_nodes() on 10,000 nodes with 50,000 random
 * dependency edges (a DAG: edges only go from a higher to a lower index),
 * and, as a baseline in the same run, a plain qsort() of the same nodes by
 * (priority, name). Prints median and minimum over several runs. A program,
 * not a test: timings are never asserted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sort.h"
#include "util.h"

#define N_NODES 10000
#define N_EDGES 50000
#define N_RUNS 20

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng_next(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static int cmp_node(const void *a, const void *b) {
    const struct sort_node *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void) {
    static struct sort_node nodes[N_NODES], copy[N_NODES];
    static char names[N_NODES][16];
    static size_t from[N_EDGES], to[N_EDGES], count[N_NODES], label[N_NODES];
    static const char **deps[N_NODES];
    double t_sort[N_RUNS], t_qsort[N_RUNS], min_sort, min_qsort, med_sort, med_qsort;

    /* Names are a random relabelling of the indices, so index order tells
     * the sorter nothing. */
    for (size_t i = 0; i < N_NODES; i++)
        label[i] = i;
    for (size_t i = N_NODES; i > 1; i--) {
        size_t j = rng_next() % i, t = label[i - 1];
        label[i - 1] = label[j];
        label[j] = t;
    }
    for (size_t e = 0; e < N_EDGES; e++) {
        size_t a = 1 + rng_next() % (N_NODES - 1);
        from[e] = a;
        to[e] = rng_next() % a;
        count[a]++;
    }
    for (size_t i = 0; i < N_NODES; i++) {
        snprintf(names[i], sizeof(names[i]), "op-%05zu", label[i]);
        deps[i] = calloc(count[i] + 1, sizeof(char *));
        if (!deps[i])
            return 1;
        nodes[i] = (struct sort_node) {
            .name = names[i],
            .priority = (int32_t) (rng_next() % 201) - 100,
            .deps = deps[i],
        };
        count[i] = 0;
    }
    for (size_t e = 0; e < N_EDGES; e++)
        deps[from[e]][count[from[e]]++] = names[to[e]];

    for (int run = 0; run < N_RUNS; run++) {
        size_t *order = NULL;
        char *error = NULL;
        double t0;
        int r;

        t0 = now_ms();
        r = sort_nodes(nodes, N_NODES, &order, &error);
        t_sort[run] = now_ms() - t0;
        if (r < 0) {
            fprintf(stderr, "sort_nodes failed: %s (%s)\n", strerror(-r), error ? error : "");
            free(error);
            return 1;
        }
        free(order);

        memcpy(copy, nodes, sizeof(nodes));
        t0 = now_ms();
        qsort(copy, N_NODES, sizeof(copy[0]), cmp_node);
        t_qsort[run] = now_ms() - t0;
    }

    min_sort = t_sort[0];
    min_qsort = t_qsort[0];
    for (int run = 1; run < N_RUNS; run++) {
        if (t_sort[run] < min_sort)
            min_sort = t_sort[run];
        if (t_qsort[run] < min_qsort)
            min_qsort = t_qsort[run];
    }
    med_sort = median(t_sort, N_RUNS);
    med_qsort = median(t_qsort, N_RUNS);

    printf("sort %d nodes %d edges: median %.2f ms (min %.2f ms); qsort baseline %.2f ms "
           "(min %.2f ms); ratio %.1f\n",
           N_NODES, N_EDGES, med_sort, min_sort, med_qsort, min_qsort, med_sort / med_qsort);

    for (size_t i = 0; i < N_NODES; i++)
        free(deps[i]);
    return 0;
}

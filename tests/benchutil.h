/*
 * benchutil.h — what the benchmarks share: the built plugins in a registry,
 * and timed sessions of the synthetic gadget on the host's real data path.
 * Every function prints the reason and exits with status 1 on failure.
 */
#ifndef OPHOST_TESTS_BENCHUTIL_H
#define OPHOST_TESTS_BENCHUTIL_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "registry.h"

/* Log warnings and worse only, and a new registry with the plugins in dir. */
struct registry *bench_registry(const char *dir);

/* The clock in seconds. */
double bench_sec(clockid_t clock);

/* Runs one session: the synthetic gadget making count events of fields
 * (rate 0, batches of 256) through the n operators ops; checks that it
 * emitted them all and returns the seconds it ran, by clock. */
double bench_run(struct registry *reg, const char *fields, const struct config_operator *ops,
                 size_t n, unsigned long long count, clockid_t clock);

/* Sorts the n values and returns the middle one. */
double bench_median(double *v, size_t n);
/* The smallest of the n values. */
double bench_min(const double *v, size_t n);

#endif

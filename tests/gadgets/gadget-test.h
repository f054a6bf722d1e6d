/*
 * gadget-test.h — what the tests of the eBPF and netlink gadgets share:
 * a probe that tells whether the gadget's mechanism works here (a Check
 * test of its own, so its asserts work; the suite is skipped with its
 * message when it does not), starting and stopping a session that must
 * work, and picking events and field values out of the captured lines.
 */
#ifndef OPHOST_TESTS_GADGET_TEST_H
#define OPHOST_TESTS_GADGET_TEST_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define GT_WAIT_MS 10000

/* Starts the session of yaml on h; fails the test with the reason when it
 * does not start. */
void gt_start(struct harness *h, const char *yaml);
/* Stops it; fails the test when the session had failed. */
void gt_stop(struct harness *h);

/* Waits until a captured line contains every one of the NULL-terminated
 * needles, and copies the first such line (without its newline) into line.
 * Returns whether one came within timeout_ms. */
bool gt_wait_line(struct harness *h, const char *const *needles, unsigned timeout_ms, char *line,
                  size_t size);
/* The number of captured lines containing every needle. */
unsigned gt_count_lines(struct harness *h, const char *const *needles);
/* Waits until at least n lines contain every needle; returns whether they
 * came within timeout_ms. */
bool gt_wait_count(struct harness *h, const char *const *needles, unsigned n,
                   unsigned timeout_ms);

/* The sum of the number field over the captured lines containing every
 * needle (for gadgets that report per interval). */
uint64_t gt_sum(struct harness *h, const char *const *needles, const char *field);
/* Waits until that sum reaches want; returns the sum. */
uint64_t gt_wait_sum(struct harness *h, const char *const *needles, const char *field,
                     uint64_t want, unsigned timeout_ms);

/* The value of field name in a captured line (a quoted string without its
 * quotes), copied into buf; fails the test when the line has no such
 * field. */
const char *gt_field(const char *line, const char *name, char *buf, size_t size);
uint64_t gt_field_u64(const char *line, const char *name);

/* Loopback sockets: the loopback address of family (AF_INET, AF_INET6) and
 * port; the local port of a socket; a TCP socket bound to an ephemeral
 * loopback port, listening with backlog unless backlog < 0. */
struct sockaddr_storage;
void gt_loopback(int family, int port, struct sockaddr_storage *ss, unsigned *ret_len);
int gt_port_of(int fd);
int gt_tcp_bound(int family, int backlog);
/* A TCP connect to the loopback port; returns the socket (blocking). */
int gt_tcp_connect(int family, int port);

/* The main of a gadget test: runs the probe (a session of probe_yaml that
 * must start and stop cleanly); when it fails, or when missing names
 * something else the tests need that this machine lacks, prints "SKIP:
 * name: reason" and runs only the always tests (param errors need no
 * mechanism). Returns the exit status: 77 when the mechanism tests could
 * not run. */
int gt_main(const char *name, const char *const *plugins, const char *probe_yaml,
            const char *missing, const TTest *const *always, const TTest *const *mechanism);

/* The plugins of the running test (set by gt_main). */
extern const char *const *gt_plugins;

#endif

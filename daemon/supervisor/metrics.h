/*
 * metrics.h — the /metrics endpoint of the supervisor: an HTTP server
 * (libmicrohttpd) on the address of metrics-listen, driven by the main
 * sd-event loop, that answers GET /metrics with the Prometheus text format.
 *
 * The server runs on the main thread in libmicrohttpd's external epoll
 * mode: its epoll fd is one io source of the loop and its timeout one timer
 * source, so a scrape is handled between the loop's other events, reads
 * the daemon's state without locks, and never needs a thread. What a
 * scrape writes comes from the collect callback (the daemon: its own
 * counters, the status pages of the workers, the metrics texts the workers
 * published); nothing in it asks a worker anything, so a stuck or crashed
 * worker cannot delay or break a scrape. The response is built in memory
 * and sent as the client reads it (non-blocking); scrapes within 250 ms of
 * the last rendering share its response, so many clients cost one
 * rendering and one copy of the text; at most METRICS_CONNECTIONS_MAX
 * clients are served at once, 4 from one address, and a client idle for
 * METRICS_TIMEOUT_SEC is closed.
 */
#ifndef OPHOST_DAEMON_METRICS_H
#define OPHOST_DAEMON_METRICS_H

#include <stdint.h>
#include <systemd/sd-event.h>

#include "exposition.h"

#define METRICS_CONNECTIONS_MAX 32
#define METRICS_TIMEOUT_SEC 10

struct metrics_server;

/* Writes the whole exposition of one scrape into out. */
typedef void (*metrics_collect_fn)(struct expo_buf *out, void *userdata);

/*
 * Binds a listening TCP socket to listen (config_parse_listen) and serves
 * it on loop. Returns 0 and the server in *ret, or a negative errno with a
 * malloc'd reason in *ret_error ("cannot listen on 127.0.0.1:9469: Address
 * already in use").
 */
int metrics_server_new(sd_event *loop, const char *listen, metrics_collect_fn collect,
                       void *userdata, struct metrics_server **ret, char **ret_error);
/* Closes every connection and the socket. Returns NULL; accepts NULL. */
struct metrics_server *metrics_server_free(struct metrics_server *s);

/* The address it serves, as configured. */
const char *metrics_server_listen(const struct metrics_server *s);
/* Scrapes of /metrics answered since it started. Accepts NULL (0). */
uint64_t metrics_server_scrapes(const struct metrics_server *s);

#endif

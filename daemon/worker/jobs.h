/*
 * jobs.h — the processes that run plugin code, as ophostd re-executed
 * with --worker by the supervisor (supervisor/child.h). Each one reads its
 * first message from PROTO_CHILD_FD (core/proto.h) and does that one job:
 * a scan of plugin snapshots (scan.c), a dry run or a session (run.c).
 */
#ifndef OPHOST_DAEMON_JOBS_H
#define OPHOST_DAEMON_JOBS_H

#include <json-c/json.h>

#include "proto.h"
#include "status.h"

/* main() of `ophostd --worker`: returns the exit status. */
int worker_main(int argc, char **argv);

/* The jobs. m's fds: the snapshots, then the status page, which the job
 * has mapped and published to already. Each returns the exit status. */
int scan_job(int sock, json_object *req, struct proto_msg *m);
int run_job(int sock, uint32_t type, json_object *req, struct proto_msg *m);

/* Maps the status page in fd (closing fd); NULL if it is not one. */
struct status_page *job_map_status(int fd);

/* Sends {"state": "failed", "error": msg} (and the lines of errs, if any,
 * as "errors") and returns the exit status of a job that ends so. */
struct errors;
int job_fail(int sock, const char *msg, const struct errors *errs);

#endif

/*
 * run-request.h — the session an org.ophost.Manager.Run call describes:
 * {gadget, params, operators: [name | {name, params}], duration, name}, as
 * a config_session that comes from no file (its error lines carry no
 * position) with the default limits.
 */
#ifndef OPHOST_DAEMON_RUN_REQUEST_H
#define OPHOST_DAEMON_RUN_REQUEST_H

#include <json-c/json.h>

#include "config.h"

/*
 * Fills cs (zeroed by the caller; owned by it afterwards, also on failure)
 * from the call's parameters. A session without a name gets "run-N" with
 * N = ++*next_run. Returns 0, -EINVAL with the path of the bad parameter
 * ("operators[1].params.count") in bad, or -ENOMEM.
 */
int run_request_parse(json_object *params, unsigned *next_run, struct config_session *cs,
                      char *bad, size_t bad_len);

#endif

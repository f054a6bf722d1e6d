/*
 * ctx.h — what stands behind the opaque struct ophost_ctx of the ABI: an
 * operator's global context (init/close) or one operator instance in one
 * session. Every host function receives one; host.c implements the table.
 */
#ifndef OPHOST_DAEMON_CTX_H
#define OPHOST_DAEMON_CTX_H

#include <ophost/ophost.h>

struct operator_entry;
struct params;
struct session;
struct instance;

enum ctx_kind {
    CTX_OPERATOR,
    CTX_INSTANCE,
};

struct ophost_ctx {
    enum ctx_kind kind;
    struct operator_entry *entry;
    const struct params *params;  /* global params, or the instance's */
    struct session *session;      /* CTX_INSTANCE only */
    struct instance *instance;    /* CTX_INSTANCE only */
    char *error;                  /* set by host->error during the current callback */
};

/* The host function table handed to every plugin. */
const struct ophost_host *host_table(void);

struct log_context;

/* Fills lc with ctx's session, operator and plugin, for log.h; the strings
 * are ctx's. A NULL ctx gives an empty context. */
void ctx_log_context(const struct ophost_ctx *ctx, struct log_context *lc);

/* Returns the message host->error recorded on ctx (caller frees), or a
 * generic one built from err when the plugin gave none. NULL on ENOMEM. */
char *ctx_take_error(struct ophost_ctx *ctx, int err);

#endif

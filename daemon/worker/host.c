/*
 * host.c — the host function table (struct ophost_host) every plugin gets:
 * argument checking at the boundary, logging with the caller's context,
 * error text capture and param access; session services are delegated to
 * session.c.
 */
#include <errno.h>

#include "ctx.h"
#include "log.h"
#include "params.h"
#include "session-host.h"
#include "session.h"

static void host_log(struct ophost_ctx *ctx, int priority, const char *fmt, ...) {
    struct log_context lc;
    va_list ap;

    if (!fmt)
        return;
    if (priority < LOG_ERR)
        priority = LOG_ERR; /* plugins cannot page anyone */
    if (priority > LOG_DEBUG)
        priority = LOG_DEBUG;
    ctx_log_context(ctx, &lc);
    va_start(ap, fmt);
    log_fullv(priority, 0, &lc, fmt, ap);
    va_end(ap);
}

static int host_error(struct ophost_ctx *ctx, int err, const char *fmt, ...) {
    va_list ap;

    if (err > 0)
        err = -err;
    if (err == 0)
        err = -EIO;
    if (!ctx || !fmt)
        return err;
    free(ctx->error);
    va_start(ap, fmt);
    ctx->error = vstrprintf(fmt, ap);
    va_end(ap);
    return err;
}

static int host_param_string(struct ophost_ctx *ctx, const char *key, const char **ret) {
    if (!ctx || !ctx->params || !key || !ret)
        return -EINVAL;
    return params_get_string(ctx->params, key, ret);
}

static int host_param_bool(struct ophost_ctx *ctx, const char *key, bool *ret) {
    if (!ctx || !ctx->params || !key || !ret)
        return -EINVAL;
    return params_get_bool(ctx->params, key, ret);
}

static int host_param_int(struct ophost_ctx *ctx, const char *key, int64_t *ret) {
    if (!ctx || !ctx->params || !key || !ret)
        return -EINVAL;
    return params_get_int(ctx->params, key, ret);
}

static int host_param_uint(struct ophost_ctx *ctx, const char *key, uint64_t *ret) {
    if (!ctx || !ctx->params || !key || !ret)
        return -EINVAL;
    return params_get_uint(ctx->params, key, ret);
}

static int host_param_duration(struct ophost_ctx *ctx, const char *key, uint64_t *ret) {
    if (!ctx || !ctx->params || !key || !ret)
        return -EINVAL;
    return params_get_duration(ctx->params, key, ret);
}

static const char *host_session_name(struct ophost_ctx *ctx) {
    return ctx && ctx->kind == CTX_INSTANCE ? session_name(ctx->session) : NULL;
}

static const char *host_gadget_name(struct ophost_ctx *ctx) {
    return ctx && ctx->kind == CTX_INSTANCE ? session_plan(ctx->session)->gadget : NULL;
}

static const struct ophost_host table = {
    .struct_size = sizeof(struct ophost_host),
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .log = host_log,
    .error = host_error,
    .param_string = host_param_string,
    .param_bool = host_param_bool,
    .param_int = host_param_int,
    .param_uint = host_param_uint,
    .param_duration = host_param_duration,
    .session_name = host_session_name,
    .gadget_name = host_gadget_name,
    .var_set = session_host_var_set,
    .var_get = session_host_var_get,
    .datasource_add = session_host_datasource_add,
    .datasource_find = session_host_datasource_find,
    .field_add = session_host_field_add,
    .field_find = session_host_field_find,
    .field_count = session_host_field_count,
    .field_at = session_host_field_at,
    .datasource_name = session_host_datasource_name,
    .io_add = session_host_io_add,
    .timer_add = session_host_timer_add,
    .source_free = session_host_source_free,
    .batch = session_host_batch,
    .emit = session_host_emit,
    .lost = session_host_lost,
    .done = session_host_done,
    .datasource_set_capacity = session_host_datasource_set_capacity,
    .field_closest = session_host_field_closest,
    .dropped = session_host_dropped,
    .field_set_meta = session_host_field_set_meta,
    .metrics_publish = session_host_metrics_publish,
};

const struct ophost_host *host_table(void) {
    return &table;
}

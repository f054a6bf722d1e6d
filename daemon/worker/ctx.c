/* ctx.c — log context and error text of operator contexts (see ctx.h). */
#include "ctx.h"

#include <errno.h>

#include "log.h"
#include "registry.h"
#include "session.h"
#include "util.h"

void ctx_log_context(const struct ophost_ctx *ctx, struct log_context *lc) {
    *lc = (struct log_context){ 0 };
    if (!ctx || !ctx->entry)
        return;
    lc->operator_name = ctx->entry->op->name;
    lc->plugin = ctx->entry->plugin->file_name;
    if (ctx->kind == CTX_INSTANCE)
        lc->session = session_name(ctx->session);
}

char *ctx_take_error(struct ophost_ctx *ctx, int err) {
    char *msg = ctx->error;
    ctx->error = NULL;
    if (msg)
        return msg;
    return strdup(strerror(err < 0 ? -err : err));
}

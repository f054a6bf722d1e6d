/* ctx.c — error text handling of operator contexts (see ctx.h). */
#include "ctx.h"

#include <errno.h>

#include "util.h"

char *ctx_take_error(struct ophost_ctx *ctx, int err) {
    char *msg = ctx->error;
    ctx->error = NULL;
    if (msg)
        return msg;
    return strdup(strerror(err < 0 ? -err : err));
}

/* operators.c — init, can_operate_on and close of operators (see
 * operators.h). */
#include "operators.h"

#include <errno.h>

#include "calls.h"
#include "log.h"
#include "params.h"

int operator_init(struct registry *r, struct operator_entry *e, char **ret_error) {
    struct log_context lc = { .operator_name = e->op->name, .plugin = e->plugin->file_name };
    static unsigned next_init_seq;
    uint32_t prev;
    int k;

    switch (e->state) {
    case OPERATOR_READY:
        return 0;
    case OPERATOR_FAILED:
        *ret_error = strdup(e->init_message ? e->init_message : "init failed");
        return e->init_error;
    case OPERATOR_CLOSED:
        *ret_error = strprintf("operator '%s': closed", e->op->name);
        return -ESHUTDOWN;
    case OPERATOR_NEW:
        break;
    }

    k = registry_global_params(r, e, &e->global_params, &e->init_message);
    if (k < 0) {
        e->state = OPERATOR_FAILED;
        e->init_error = k;
        *ret_error = e->init_message ? strdup(e->init_message) : NULL;
        return k;
    }
    e->ctx.kind = CTX_OPERATOR;
    e->ctx.entry = e;
    e->ctx.params = e->global_params;
    if (e->op->init) {
        free(e->ctx.error);
        e->ctx.error = NULL;
        prev = call_enter(CALL_INIT, e->call_index);
        k = e->op->init(&e->ctx, &e->op_data);
        call_leave(prev);
        if (k < 0) {
            _cleanup_free_ char *msg = ctx_take_error(&e->ctx, k);
            e->state = OPERATOR_FAILED;
            e->init_error = k;
            e->init_message = strprintf("operator '%s': init failed: %s", e->op->name,
                                        msg ? msg : strerror(-k));
            log_full(LOG_ERR, k, &lc, "init failed: %s", msg ? msg : strerror(-k));
            *ret_error = e->init_message ? strdup(e->init_message) : NULL;
            return k;
        }
    }
    e->state = OPERATOR_READY;
    e->init_seq = ++next_init_seq;
    return 0;
}

bool operator_accepts(struct operator_entry *e, const char *gadget) {
    uint32_t prev;
    bool ok;

    if (!e->op->can_operate_on)
        return true;
    prev = call_enter(CALL_CAN_OPERATE_ON, e->call_index);
    ok = e->op->can_operate_on(&e->ctx, e->op_data, gadget);
    call_leave(prev);
    return ok;
}

static void operator_close(struct operator_entry *e) {
    struct log_context lc = { .operator_name = e->op->name, .plugin = e->plugin->file_name };
    uint32_t prev;
    int r;

    if (e->state != OPERATOR_READY)
        return;
    e->state = OPERATOR_CLOSED;
    if (!e->op->close)
        return;
    free(e->ctx.error);
    e->ctx.error = NULL;
    prev = call_enter(CALL_CLOSE, e->call_index);
    r = e->op->close(&e->ctx, e->op_data);
    call_leave(prev);
    if (r < 0) {
        _cleanup_free_ char *msg = ctx_take_error(&e->ctx, r);
        log_full(LOG_WARNING, r, &lc, "close failed: %s, ignoring", msg ? msg : strerror(-r));
    }
}

static int compare_seq_desc(const void *a, const void *b) {
    const struct operator_entry *x = *(struct operator_entry *const *) a;
    const struct operator_entry *y = *(struct operator_entry *const *) b;
    return x->init_seq < y->init_seq ? 1 : x->init_seq > y->init_seq ? -1 : 0;
}

void operators_close(struct registry *r) {
    size_t n;
    struct operator_entry *const *entries = registry_entries(r, &n);
    _cleanup_free_ struct operator_entry **order = NULL;

    if (n == 0)
        return;
    order = malloc(n * sizeof(*order));
    if (!order) {
        /* Out of memory: close in name order rather than not at all. */
        for (size_t i = 0; i < n; i++)
            operator_close(entries[i]);
        return;
    }
    memcpy(order, entries, n * sizeof(*order));
    qsort(order, n, sizeof(*order), compare_seq_desc);
    for (size_t i = 0; i < n; i++)
        operator_close(order[i]);
}

static int hook_prepare(void *userdata, struct operator_entry *e, char **ret_error) {
    return operator_init(userdata, e, ret_error);
}

static bool hook_accepts(void *userdata, struct operator_entry *e, const char *gadget) {
    return operator_accepts(e, gadget);
}

struct plan_hooks operators_plan_hooks(struct registry *r) {
    return (struct plan_hooks){ .prepare = hook_prepare, .accepts = hook_accepts, .userdata = r };
}

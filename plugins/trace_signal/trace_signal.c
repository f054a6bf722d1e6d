/*
 * trace_signal — a gadget with one event per signal the kernel generates
 * (kill, tgkill, sigqueue, a fault, a timer, ...): sender, target, signal,
 * code and what became of it. eBPF on the signal:signal_generate tracepoint
 * (trace_signal.bpf.c); the shared lifecycle is in bpf-gadget.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ophost/ophost.h>

#include "bpf-gadget.h"
#include "schema.h"
#include "trace_signal.h"
#include "trace_signal.skel.h"

static const struct ophost_host *host;

struct tsig {
    struct bpfg g; /* first */
    struct bpfg_task_fields tf;
    ophost_field f_timestamp, f_tpid, f_ttid, f_tcomm, f_signal, f_signal_name, f_code, f_result,
        f_group;
    struct bpfg_filter filter;
    int32_t signal;
    uint32_t target;
    bool failed_only;
};

/* TRACE_SIGNAL_* of the kernel (include/trace/events/signal.h). */
static const char *const results[] = { "delivered", "ignored", "already_pending",
                                       "overflow_fail", "lose_info" };

/* "SIGUSR1" for 10, "SIGRTMIN+3", or the number. */
static size_t signal_name(int sig, char *buf, size_t size) {
    const char *abbrev = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

    if (abbrev)
        return (size_t) snprintf(buf, size, "SIG%s", abbrev);
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        return (size_t) snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
    return (size_t) snprintf(buf, size, "%d", sig);
}

/* A signal param: a number, "USR1" or "SIGUSR1". 0 or -EINVAL. */
static int parse_signal(const char *s, int32_t *ret) {
    char *end;
    long n;

    if (!*s) {
        *ret = 0;
        return 0;
    }
    n = strtol(s, &end, 10);
    if (!*end && n > 0 && n <= SIGRTMAX) {
        *ret = (int32_t) n;
        return 0;
    }
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *abbrev = sigabbrev_np(sig);
        if (abbrev && strcmp(abbrev, s) == 0) {
            *ret = sig;
            return 0;
        }
    }
    return -EINVAL;
}

static int tsig_record(struct bpfg *g, const void *data, size_t size) {
    struct tsig *t = (struct tsig *) g;
    const struct tsig_event *r = data;
    struct ophost_event *e;
    char name[32];

    int n = bpfg_record_event(g, data, size, sizeof(*r), t->f_timestamp, &e);

    if (n <= 0)
        return n;
    bpfg_set_task(g, e, &t->tf, &r->task);
    ophost_event_set_u32(e, t->f_tpid, r->tpid);
    ophost_event_set_u32(e, t->f_ttid, r->ttid);
    bpfg_set_str(g, e, t->f_tcomm, r->tcomm, sizeof(r->tcomm));
    ophost_event_set_u32(e, t->f_signal, (uint32_t) r->sig);
    (void) ophost_event_set_bytes(g->batch, e, t->f_signal_name, name,
                                  signal_name(r->sig, name, sizeof(name)));
    ophost_event_set_s32(e, t->f_code, r->code);
    if (r->result >= 0 && (size_t) r->result < sizeof(results) / sizeof(results[0]))
        (void) ophost_event_set_string(g->batch, e, t->f_result, results[r->result]);
    else
        (void) ophost_event_set_bytes(g->batch, e, t->f_result, name,
                                      (size_t) snprintf(name, sizeof(name), "%d", r->result));
    ophost_event_set_bool(e, t->f_group, r->group != 0);
    return 0;
}

static int tsig_open(struct bpfg *g, char *why, size_t size) {
    struct tsig *t = (struct tsig *) g;
    struct trace_signal_bpf *skel = BPFG_OPEN(g, trace_signal_bpf, why, size);

    if (!skel)
        return -ENOMEM;
    BPFG_SET_WAKEUP(skel->rodata, g);
    BPFG_SET_FILTER(skel->rodata, &t->filter);
    skel->rodata->filter_signal = t->signal;
    skel->rodata->filter_target = t->target;
    skel->rodata->failed_only = t->failed_only;
    return 0;
}

static const struct bpfg_desc tsig_desc = {
    .what = "signal",
    .mechanism = "eBPF (tp_btf/signal_generate)",
    .open = tsig_open,
    .on_record = tsig_record,
};

static int tsig_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    struct tsig *t = calloc(1, sizeof(*t));
    const char *sig;
    uint64_t target;
    int r;

    if (!t)
        return -ENOMEM;
    const struct schema_field fields[] = {
        { "timestamp", OPHOST_FIELD_TIMESTAMP, &t->f_timestamp, "when it happened (wall clock)", NULL, NULL, false },
        BPFG_TASK_FIELDS(&t->tf),
        { "tpid", OPHOST_FIELD_U32, &t->f_tpid, "target process id", NULL, "7", false },
        { "ttid", OPHOST_FIELD_U32, &t->f_ttid, "target thread id", NULL, "7", true },
        { "tcomm", OPHOST_FIELD_STRING, &t->f_tcomm, "target command name", NULL, "16", false },
        { "signal", OPHOST_FIELD_U32, &t->f_signal, "signal number", NULL, "3", true },
        { "signal_name", OPHOST_FIELD_STRING, &t->f_signal_name, "signal name (SIGTERM, ...)", NULL, "9", false },
        { "code", OPHOST_FIELD_S32, &t->f_code, "si_code of the signal", NULL, "5", false },
        { "result", OPHOST_FIELD_STRING, &t->f_result, "delivered, ignored, already pending, ...", NULL, "12", false },
        { "group", OPHOST_FIELD_BOOL, &t->f_group, "sent to the whole thread group", NULL, NULL, true },
        { 0 }
    };

    if ((r = bpfg_instantiate(ctx, &t->g, &tsig_desc, "signals", 0)) < 0 ||
        (r = bpfg_read_filter(ctx, &t->filter)) < 0 ||
        (r = host->param_string(ctx, "signal", &sig)) < 0 ||
        (r = host->param_uint(ctx, "target-pid", &target)) < 0 ||
        (r = host->param_bool(ctx, "failed-only", &t->failed_only)) < 0)
        goto fail;
    if (parse_signal(sig, &t->signal) < 0) {
        r = host->error(ctx, -EINVAL, "param 'signal': '%s' is not a signal (a number from 1 "
                        "to %d, or a name such as USR1 or SIGUSR1)", sig, SIGRTMAX);
        goto fail;
    }
    t->target = (uint32_t) target;
    if ((r = schema_add_fields(host, ctx, t->g.ds, fields)) < 0)
        goto fail;
    *ret = t;
    return 0;
fail:
    free(t);
    return r;
}

static const struct ophost_param params[] = {
    BPFG_TASK_FILTER_PARAMS,
    { .key = "signal", .type = OPHOST_PARAM_STRING, .default_value = "",
      .description = "only this signal: a number or a name (USR1, SIGUSR1); empty = any" },
    { .key = "target-pid", .type = OPHOST_PARAM_UINT, .default_value = "0",
      .flags = OPHOST_PARAM_HAS_MAX, .max = INT32_MAX,
      .description = "only signals to this process (thread group id; 0 = any)" },
    { .key = "failed-only", .type = OPHOST_PARAM_BOOL, .default_value = "false",
      .description = "only signals that were not delivered (ignored, already pending, ...)" },
    BPFG_RING_PARAMS,
    { 0 }
};

BPFG_GADGET("trace_signal", tsig_instantiate, params,
            "One event per signal generated, with sender, target and result (eBPF)",
            "Traces signals")

/*
 * status.h — the status page: a small shared memory area (a memfd the
 * supervisor creates, maps, and hands to each child) through which a
 * process running plugin code publishes, without a message or a wake-up:
 *
 *   - which plugin code runs right now (call): the kind of call and the
 *     index of the plugin (dlopen, entry) or of the plan step (every other
 *     callback), written before and after each call; seq changes on every
 *     call, so the supervisor tells a call that lasts from a new one;
 *   - the session's counters (events emitted and lost, and per operator
 *     instance: in, out, batches, time, dropped, opted out).
 *
 * The supervisor reads it at any time: to name the operator and callback a
 * dead worker was in, to find a call that overran its deadline (it samples
 * call and seq once per tick), and for `ophostctl stats` / `list`. Each
 * word is written by one thread of the child at a time and read with
 * relaxed atomics: values are independent counters, no snapshot of several
 * of them is promised. The child is untrusted: the supervisor bounds-checks
 * every index it reads here.
 */
#ifndef OPHOST_DAEMON_STATUS_H
#define OPHOST_DAEMON_STATUS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_MAGIC 0x6f707331u /* "ops1" */

enum call_kind {
    CALL_NONE = 0,    /* host code, or idle */
    CALL_DLOPEN,      /* dlopen of plugin #index: its constructors run */
    CALL_ENTRY,       /* the entry function of plugin #index */
    CALL_INIT,        /* step #index's operator */
    CALL_CLOSE,
    CALL_CAN_OPERATE_ON,
    CALL_INSTANTIATE,
    CALL_PRE_START,
    CALL_START,
    CALL_STOP,
    CALL_POST_STOP,
    CALL_DESTROY,
    CALL_PROCESS,
    CALL_IO,          /* an fd callback the instance added */
    CALL_TIMER,       /* a timer callback the instance added */
    _CALL_MAX,
};

#define CALL_PACK(kind, index) (((uint32_t) (kind) << 24) | ((uint32_t) (index) & 0xffffffu))
#define CALL_KIND(call) ((enum call_kind) ((call) >> 24))
#define CALL_INDEX(call) ((call) & 0xffffffu)

/* Counters of one operator instance (one plan step). */
struct status_counters {
    _Atomic uint64_t events_in;
    _Atomic uint64_t events_out;
    _Atomic uint64_t batches;
    _Atomic uint64_t ns_spent;   /* in process(), estimated from sampled batches */
    _Atomic uint64_t dropped;    /* host->dropped */
    _Atomic uint32_t opted_out;
    uint32_t reserved;
};

struct status_page {
    uint32_t magic;              /* STATUS_MAGIC, written by the supervisor */
    uint32_t n_counters;         /* elements of counters[], written by the supervisor */
    _Atomic uint32_t call;       /* CALL_PACK(kind, index), CALL_NONE outside plugin code */
    _Atomic uint32_t seq;        /* bumped whenever call is set */
    _Atomic uint64_t emitted;    /* events the gadget emitted */
    _Atomic uint64_t lost;       /* host->lost */
    struct status_counters counters[];
};

/* Bytes of a page with n counters. */
static inline size_t status_page_size(size_t n) {
    return sizeof(struct status_page) + n * sizeof(struct status_counters);
}

/* "process", "init", ... (as in the plugin ABI's callback names); "entry
 * function" and "dlopen" for the loading steps; NULL for CALL_NONE or an
 * unknown kind. */
const char *call_kind_name(enum call_kind kind);

/* Whether calls of this kind are on the data path (process and loop
 * callbacks): they get the process deadline, the others the callback one. */
static inline int call_kind_is_data_path(enum call_kind kind) {
    return kind == CALL_PROCESS || kind == CALL_IO || kind == CALL_TIMER;
}

#endif

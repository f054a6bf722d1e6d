/*
 * calls.h — publishing which plugin code runs (see core/status.h). Every
 * call into a plugin is bracketed:
 *
 *     uint32_t prev = call_enter(CALL_PROCESS, step);
 *     r = op->process(...);
 *     call_leave(prev);
 *
 * so a process that dies or hangs can be explained by the supervisor:
 * "operator 'x' (plugin x.so) crashed in process(): SIGSEGV". Calls nest (a
 * gadget's timer callback emits, which calls process() of the others); the
 * previous call is restored on the way out. Two relaxed stores per call:
 * cheap enough for process(), which is called once per batch.
 */
#ifndef OPHOST_DAEMON_CALLS_H
#define OPHOST_DAEMON_CALLS_H

#include "status.h"

/* The page this process publishes to: a worker's shared status page, or a
 * private one in a process that is not a worker (tests). Never NULL. */
extern struct status_page *calls_page;

/* Makes page the one calls are published to (a worker, at start). */
void calls_set_page(struct status_page *page);

static inline uint32_t call_enter(enum call_kind kind, uint32_t index) {
    struct status_page *p = calls_page;
    uint32_t prev = atomic_load_explicit(&p->call, memory_order_relaxed);
    atomic_store_explicit(&p->call, CALL_PACK(kind, index), memory_order_relaxed);
    atomic_store_explicit(&p->seq, atomic_load_explicit(&p->seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return prev;
}

static inline void call_leave(uint32_t prev) {
    atomic_store_explicit(&calls_page->call, prev, memory_order_relaxed);
}

#endif

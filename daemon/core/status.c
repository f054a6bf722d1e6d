/* status.c — names of the calls published on the status page (see status.h). */
#include "status.h"

#include "util.h"

const char *call_kind_name(enum call_kind kind) {
    static const char *const names[_CALL_MAX] = {
        [CALL_DLOPEN] = "dlopen",
        [CALL_ENTRY] = "entry function",
        [CALL_INIT] = "init",
        [CALL_CLOSE] = "close",
        [CALL_CAN_OPERATE_ON] = "can_operate_on",
        [CALL_INSTANTIATE] = "instantiate",
        [CALL_PRE_START] = "pre_start",
        [CALL_START] = "start",
        [CALL_STOP] = "stop",
        [CALL_POST_STOP] = "post_stop",
        [CALL_DESTROY] = "destroy",
        [CALL_PROCESS] = "process",
        [CALL_IO] = "an fd callback",
        [CALL_TIMER] = "a timer callback",
    };
    if ((unsigned) kind >= ELEMENTSOF(names))
        return NULL;
    return names[kind];
}

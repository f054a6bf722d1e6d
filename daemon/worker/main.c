/*
 * main.c (worker) — process setup of `ophostd --worker` and the dispatch of
 * its one job (see worker.h).
 *
 * The supervisor spawned us with the socket on fd 3, an empty signal mask
 * and default dispositions. We die with the supervisor (PR_SET_PDEATHSIG),
 * close every other inherited fd, and leave SIGSEGV, SIGBUS and SIGABRT at
 * their defaults, so a plugin's crash ends this process the ordinary way:
 * the supervisor reads the signal from the exit status and systemd-coredump
 * still gets the core.
 */
#include "jobs.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "errors.h"
#include "log.h"
#include "util.h"

struct status_page *job_map_status(int fd) {
    struct status_page *p;
    struct stat st;

    if (fstat(fd, &st) < 0 || (size_t) st.st_size < sizeof(struct status_page)) {
        close(fd);
        return NULL;
    }
    p = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    if (p->magic != STATUS_MAGIC || status_page_size(p->n_counters) > (size_t) st.st_size) {
        munmap(p, (size_t) st.st_size);
        return NULL;
    }
    return p;
}

int job_fail(int sock, const char *msg, const struct errors *errs) {
    json_object *o = json_object_new_object();

    json_object_object_add(o, "state", json_object_new_string("failed"));
    json_object_object_add(o, "error", json_object_new_string(msg ? msg : "failed"));
    if (errs && errs->n > 0) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; errs->lines && errs->lines[i]; i++)
            json_object_array_add(a, json_object_new_string(errs->lines[i]));
        json_object_object_add(o, "errors", a);
    }
    (void) proto_send_json(sock, PROTO_STATE, o, NULL, 0);
    json_object_put(o);
    return 0;
}

int worker_main(int argc, char **argv) {
    static char buf[PROTO_MESSAGE_MAX + sizeof(struct proto_header)];
    json_object *req;
    struct proto_msg m;
    uint64_t level;
    int r;

    /* The supervisor may already be gone: then the first read sees EOF. */
    (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
    (void) signal(SIGPIPE, SIG_IGN);
    (void) signal(SIGXFSZ, SIG_IGN); /* a sink past a file size limit gets EFBIG */
    if (close_range(PROTO_CHILD_FD + 1, ~0U, 0) < 0) {
        /* Inherited fds would stay open: harmless, they are close-on-exec
         * in the supervisor. */
    }
    log_open();

    r = proto_recv(PROTO_CHILD_FD, &m, buf, sizeof(buf));
    if (r <= 0) {
        if (r < 0)
            log_error_errno(r, "worker: cannot read the first message: %m");
        return 1;
    }
    req = proto_parse_json(&m);
    if (!req) {
        log_error("worker: the first message is not a JSON object");
        proto_msg_close_fds(&m);
        return 1;
    }
    if (proto_json_uint(req, "log_level", &level) && level <= LOG_DEBUG)
        log_set_max_level((int) level);
    switch (m.type) {
    case PROTO_SCAN:
        (void) prctl(PR_SET_NAME, "ophost-scanner");
        r = scan_job(PROTO_CHILD_FD, req, &m);
        break;
    case PROTO_CHECK:
    case PROTO_RUN:
        (void) prctl(PR_SET_NAME, m.type == PROTO_RUN ? "ophost-worker" : "ophost-check");
        r = run_job(PROTO_CHILD_FD, m.type, req, &m);
        break;
    default:
        log_error("worker: unexpected first message %u", m.type);
        r = 1;
    }
    proto_msg_close_fds(&m);
    json_object_put(req);
    return r;
}

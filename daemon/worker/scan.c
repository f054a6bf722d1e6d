/*
 * scan.c — the scanner job: dlopen each plugin snapshot, call its entry
 * function, check the descriptor, and answer each file with its descriptor
 * or the reason it is refused (see proto.h, PROTO_SCAN). The supervisor
 * never loads a plugin; whatever a plugin does while loading (crash, hang,
 * exit) happens here, and the supervisor names the file it was loading from
 * the status page. Plugins stay loaded until the process ends with
 * _exit(): their destructors never run here.
 */
#include <errno.h>

#include "calls.h"
#include "ctx.h"
#include "descriptor.h"
#include "exports.h"
#include "loader.h"
#include "log.h"
#include "utf8.h"
#include "util.h"
#include "jobs.h"

/* Exported names listed in an INSPECT at most. */
#define INSPECT_EXPORTS_MAX 64

/* The INSPECT (proto.h) of a loaded plugin: what its own structs declare
 * and what its file exports, for --check-plugin's warnings. */
static json_object *inspect_json(const struct plugin *p) {
    _cleanup_(strv_freep) char **names = NULL;
    json_object *o = json_object_new_object(), *sizes = json_object_new_array();
    int n = exports_read(p->fd, INSPECT_EXPORTS_MAX, &names);

    if (!o || !sizes) {
        json_object_put(o);
        json_object_put(sizes);
        return NULL;
    }
    json_object_object_add(o, "struct_size", json_object_new_int64(p->desc->struct_size));
    for (size_t i = 0; p->desc->operators[i]; i++)
        json_object_array_add(sizes, json_object_new_int64(p->desc->operators[i]->struct_size));
    json_object_object_add(o, "operator_struct_sizes", sizes);
    if (n >= 0) {
        /* The entry function is exported (the plugin loaded through it):
         * what is listed and counted is the rest. */
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && names && names[i]; i++)
            if (!streq(names[i], OPHOST_PLUGIN_ENTRY_SYMBOL)) {
                _cleanup_free_ char *name = utf8_printable_dup(names[i]);
                if (name)
                    json_object_array_add(a, json_object_new_string(name));
            }
        json_object_object_add(o, "exports", a);
        json_object_object_add(o, "n_exports", json_object_new_int(n > 0 ? n - 1 : 0));
    } else
        json_object_object_add(o, "exports_error", json_object_new_string(strerror(-n)));
    return o;
}

int scan_job(int sock, json_object *req, struct proto_msg *m) {
    struct status_page *page;
    json_object *files, *v;
    bool inspect;
    size_t n;

    if (!json_object_object_get_ex(req, "files", &files) ||
        !json_object_is_type(files, json_type_array) ||
        (n = json_object_array_length(files)) + 1 != m->n_fds) {
        log_error("scanner: malformed request");
        return 1;
    }
    inspect = json_object_object_get_ex(req, "inspect", &v) && json_object_get_boolean(v);
    page = job_map_status(m->fds[n]);
    m->fds[n] = -1;
    if (!page) {
        log_error("scanner: no status page");
        return 1;
    }
    calls_set_page(page);

    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(files, i), *answer;
        _cleanup_free_ char *err = NULL;
        struct plugin *p = NULL;
        int fd = m->fds[i], r;

        m->fds[i] = -1;
        if (!json_object_is_type(f, json_type_string)) {
            close(fd);
            log_error("scanner: malformed request");
            return 1;
        }
        r = loader_load_fd(fd, json_object_get_string(f), (unsigned) i, host_table(), &p, &err);
        answer = json_object_new_object();
        json_object_object_add(answer, "index", json_object_new_int64((int64_t) i));
        if (r < 0) {
            json_object_object_add(answer, "error",
                                   json_object_new_string(err ? err : strerror(-r)));
            json_object_object_add(answer, "errno", json_object_new_int(-r));
        }
        else {
            json_object_object_add(answer, "plugin", descriptor_to_json(p));
            if (inspect)
                json_object_object_add(answer, "inspect", inspect_json(p));
        }
        r = proto_send_json(sock, PROTO_PLUGIN, answer, NULL, 0);
        json_object_put(answer);
        if (r < 0) {
            log_error_errno(r, "scanner: cannot answer the supervisor: %m");
            _exit(1);
        }
        /* p stays loaded: dlclose() would run the plugin's destructors. */
    }
    (void) proto_send(sock, PROTO_DONE, "{}", 2, NULL, 0);
    _exit(0);
}

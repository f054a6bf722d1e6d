/* proto.c — framing and the JSON forms of the supervisor <-> child
 * protocol (see proto.h). */
#include "proto.h"

#include <errno.h>
#include <sys/socket.h>

#include "util.h"

int proto_socketpair(int ret[2]) {
    int sv[2], size = 4 * PROTO_MESSAGE_MAX;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        /* SO_SNDBUFFORCE needs CAP_NET_ADMIN; SO_SNDBUF is capped by
         * net.core.wmem_max. Either may fail: a message that does not fit
         * then fails with EMSGSIZE, which the sender reports. */
        if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
            (void) setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        if (setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
            (void) setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    ret[0] = sv[0];
    ret[1] = sv[1];
    return 0;
}

int proto_send(int fd, uint32_t type, const void *payload, size_t len, const int *fds,
               size_t n_fds) {
    struct proto_header h = { .type = type };
    struct iovec iov[2] = { { &h, sizeof(h) }, { (void *) payload, len } };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * PROTO_FDS_MAX)];
    } control;
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

    if (len > PROTO_MESSAGE_MAX || n_fds > PROTO_FDS_MAX)
        return -EMSGSIZE;
    if (n_fds > 0) {
        struct cmsghdr *c;
        memset(&control, 0, sizeof(control));
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
    }
    for (;;) {
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int proto_send_json(int fd, uint32_t type, json_object *o, const int *fds, size_t n_fds) {
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    if (!s)
        return -ENOMEM;
    return proto_send(fd, type, s, len, fds, n_fds);
}

void proto_msg_close_fds(struct proto_msg *m) {
    for (size_t i = 0; i < m->n_fds; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    m->n_fds = 0;
}

int proto_recv(int fd, struct proto_msg *m, void *buf, size_t cap) {
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * PROTO_FDS_MAX)];
    } control;
    struct iovec iov = { buf, cap };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf) };
    struct proto_header h;
    ssize_t n;

    *m = (struct proto_msg){ 0 };
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (m->n_fds < PROTO_FDS_MAX)
                    m->fds[m->n_fds++] = f;
                else
                    close(f);
            }
        }
    if (n == 0 && m->n_fds == 0)
        return 0; /* end of file: SEQPACKET has no empty messages of ours */
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t) n < sizeof(h)) {
        proto_msg_close_fds(m);
        return -EBADMSG;
    }
    memcpy(&h, buf, sizeof(h));
    m->type = h.type;
    m->data = (const char *) buf + sizeof(h);
    m->len = (size_t) n - sizeof(h);
    return 1;
}

json_object *proto_parse_json(const struct proto_msg *m) {
    json_tokener *tok;
    json_object *o;

    if (m->len == 0 || m->len > PROTO_MESSAGE_MAX)
        return NULL;
    tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    o = json_tokener_parse_ex(tok, m->data, (int) m->len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != m->len || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* ------------------------------------------------------- JSON accessors */

const char *proto_json_string(json_object *o, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

bool proto_json_uint(json_object *o, const char *key, uint64_t *ret) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    errno = 0;
    *ret = json_object_get_uint64(v);
    /* json-c stores negative numbers as int64: refuse them. */
    return json_object_get_int64(v) >= 0 || *ret > INT64_MAX;
}

static unsigned json_pos(json_object *o, const char *key) {
    uint64_t v = 0;
    if (!proto_json_uint(o, key, &v) || v > UINT32_MAX)
        return 0;
    return (unsigned) v;
}

/* ----------------------------------------------- sessions and operators */

static void add_pos(json_object *o, const char *prefix, struct config_pos pos) {
    char key[32];
    snprintf(key, sizeof(key), "%sline", prefix);
    json_object_object_add(o, key, json_object_new_int64(pos.line));
    snprintf(key, sizeof(key), "%scolumn", prefix);
    json_object_object_add(o, key, json_object_new_int64(pos.column));
}

json_object *proto_operator_to_json(const struct config_operator *co) {
    json_object *o = json_object_new_object(), *params = json_object_new_array();

    json_object_object_add(o, "name", json_object_new_string(co->name));
    add_pos(o, "", co->pos);
    for (size_t i = 0; i < co->n_params; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "key", json_object_new_string(co->params[i].key));
        json_object_object_add(p, "value", json_object_new_string(co->params[i].value));
        add_pos(p, "", co->params[i].pos);
        json_object_array_add(params, p);
    }
    json_object_object_add(o, "params", params);
    return o;
}

json_object *proto_session_to_json(const struct config_session *cs) {
    json_object *o = json_object_new_object(), *ops = json_object_new_array();

    json_object_object_add(o, "name", json_object_new_string(cs->name));
    if (cs->file)
        json_object_object_add(o, "file", json_object_new_string(cs->file));
    add_pos(o, "", cs->pos);
    json_object_object_add(o, "gadget", json_object_new_string(cs->gadget));
    add_pos(o, "gadget_", cs->gadget_pos);
    json_object_object_add(o, "duration_nsec", json_object_new_uint64(cs->duration_nsec));
    for (size_t i = 0; i < cs->n_operators; i++)
        json_object_array_add(ops, proto_operator_to_json(&cs->operators[i]));
    json_object_object_add(o, "operators", ops);
    return o;
}

int proto_operator_from_json(json_object *o, const char *file, struct config_operator *co) {
    const char *name = proto_json_string(o, "name");
    json_object *params;
    size_t n;

    *co = (struct config_operator){ 0 };
    if (!name || !json_object_object_get_ex(o, "params", &params) ||
        !json_object_is_type(params, json_type_array))
        return -EBADMSG;
    co->name = strdup(name);
    if (!co->name)
        return -ENOMEM;
    co->pos = (struct config_pos){ file, json_pos(o, "line"), json_pos(o, "column") };
    n = json_object_array_length(params);
    co->params = calloc(n + 1, sizeof(*co->params));
    if (!co->params)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(params, i);
        const char *k = proto_json_string(p, "key"), *v = proto_json_string(p, "value");
        struct config_param *cp = &co->params[co->n_params];
        if (!k || !v)
            return -EBADMSG;
        cp->key = strdup(k);
        cp->value = strdup(v);
        co->n_params++;
        if (!cp->key || !cp->value)
            return -ENOMEM;
        cp->pos = (struct config_pos){ file, json_pos(p, "line"), json_pos(p, "column") };
    }
    return 0;
}

int proto_session_from_json(json_object *o, struct config_session *cs) {
    const char *name = proto_json_string(o, "name"), *file = proto_json_string(o, "file");
    const char *gadget = proto_json_string(o, "gadget");
    json_object *ops;
    size_t n;
    int r;

    *cs = (struct config_session){ .autostart = true };
    if (!name || !gadget || !json_object_object_get_ex(o, "operators", &ops) ||
        !json_object_is_type(ops, json_type_array) ||
        !proto_json_uint(o, "duration_nsec", &cs->duration_nsec))
        return -EBADMSG;
    cs->name = strdup(name);
    cs->gadget = strdup(gadget);
    cs->file = file ? strdup(file) : NULL;
    if (!cs->name || !cs->gadget || (file && !cs->file))
        goto nomem;
    cs->pos = (struct config_pos){ cs->file, json_pos(o, "line"), json_pos(o, "column") };
    cs->gadget_pos = (struct config_pos){ cs->file, json_pos(o, "gadget_line"),
                                          json_pos(o, "gadget_column") };
    n = json_object_array_length(ops);
    cs->operators = calloc(n + 1, sizeof(*cs->operators));
    if (!cs->operators)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        r = proto_operator_from_json(json_object_array_get_idx(ops, i), cs->file,
                                     &cs->operators[i]);
        cs->n_operators++;
        if (r < 0) {
            config_session_clear(cs);
            return r;
        }
    }
    return 0;
nomem:
    config_session_clear(cs);
    return -ENOMEM;
}

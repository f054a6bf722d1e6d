/*
 * session-host.h — the host functions that act on a session (schema, loop,
 * data, variables), implemented in session.c and put in the host function
 * table by host.c. Each takes an instance context; with an operator context
 * they return -EINVAL (or NULL).
 */
#ifndef OPHOST_DAEMON_SESSION_HOST_H
#define OPHOST_DAEMON_SESSION_HOST_H

#include <ophost/ophost.h>

int session_host_var_set(struct ophost_ctx *ctx, const char *name, void *value);
void *session_host_var_get(struct ophost_ctx *ctx, const char *name);
int session_host_datasource_add(struct ophost_ctx *ctx, const char *name,
                                struct ophost_datasource **ret);
int session_host_datasource_find(struct ophost_ctx *ctx, const char *name,
                                 struct ophost_datasource **ret);
int session_host_field_add(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                           const char *name, uint32_t type, ophost_field *ret);
int session_host_field_find(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                            const char *name, ophost_field *ret);
int session_host_datasource_set_capacity(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                         uint32_t capacity);
const char *session_host_field_closest(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                       const char *name);
size_t session_host_field_count(struct ophost_ctx *ctx, struct ophost_datasource *ds);
int session_host_field_at(struct ophost_ctx *ctx, struct ophost_datasource *ds, size_t index,
                          const char **ret_name, ophost_field *ret);
const char *session_host_datasource_name(struct ophost_ctx *ctx, struct ophost_datasource *ds);
int session_host_io_add(struct ophost_ctx *ctx, int fd, uint32_t events, ophost_io_fn cb,
                        void *userdata, struct ophost_source **ret);
int session_host_timer_add(struct ophost_ctx *ctx, uint64_t first_usec, uint64_t interval_usec,
                           ophost_timer_fn cb, void *userdata, struct ophost_source **ret);
void session_host_source_free(struct ophost_source *source);
struct ophost_batch *session_host_batch(struct ophost_ctx *ctx, struct ophost_datasource *ds);
int session_host_emit(struct ophost_ctx *ctx, struct ophost_batch *batch);
void session_host_lost(struct ophost_ctx *ctx, uint64_t n);
void session_host_done(struct ophost_ctx *ctx, int error);
int session_host_field_set_meta(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                ophost_field field, const char *key, const char *value);
void session_host_dropped(struct ophost_ctx *ctx, uint64_t n);
int session_host_metrics_publish(struct ophost_ctx *ctx, const char *text, size_t len);

#endif

/* example — an operator built out of tree from the installed <ophost/ophost.h>
 * alone (see README.md). comm_upper adds comm_upper = comm in upper case. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <ophost/ophost.h>

static const struct ophost_host *host;

struct upper { struct ophost_datasource *ds; ophost_field comm, comm_upper; };

/* Session thread, before start: resolve comm once and declare comm_upper. */
static int upper_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret_data) {
    struct upper *u = calloc(1, sizeof(*u));
    int r;

    (void) op_data;
    if (!u)
        return -ENOMEM;
    if ((r = host->datasource_find(ctx, NULL, &u->ds)) < 0)
        r = host->error(ctx, r, "the session has no data source");
    else if ((r = ophost_field_require(host, ctx, u->ds, "comm", OPHOST_FIELD_STRING,
                                       &u->comm)) == 0)
        r = host->field_add(ctx, u->ds, "comm_upper", OPHOST_FIELD_STRING, &u->comm_upper);
    if (r < 0)
        free(u);
    else
        *ret_data = u;
    return r;
}

static int upper_destroy(struct ophost_ctx *ctx, void *data) {
    (void) ctx;
    free(data);
    return 0;
}

/* Every batch, on the session thread: no allocation, fields by offset. */
static int upper_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct upper *u = data;
    char buf[256];

    for (uint32_t i = 0; i < b->n && b->ds == u->ds; i++) {
        struct ophost_event *e = ophost_batch_event(b, i);
        size_t len, k;
        const char *comm = ophost_event_get_string(b, e, u->comm, &len);
        if (!comm)
            continue; /* comm unset: comm_upper stays unset */
        for (k = 0; k < len && k < sizeof(buf); k++)
            buf[k] = (char) toupper((unsigned char) comm[k]);
        /* From buf, not comm: setting a string may move the string area. */
        if (ophost_event_set_bytes(b, e, u->comm_upper, buf, k) < 0)
            return host->error(ctx, -ENOMEM, "no room for field 'comm_upper'");
    }
    return 0;
}

/* Members in the order of the struct (C++20 requires it; C does not care). */
static const struct ophost_operator comm_upper = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "comm_upper", .description = "Adds comm_upper: the comm field in upper case",
    .priority = OPHOST_PRIORITY_ENRICHER,
    .instantiate = upper_instantiate, .destroy = upper_destroy, .process = upper_process,
};

/* The descriptor and the exported entry function, which keeps host. */
OPHOST_PLUGIN(host, "example", "1.0", "An enricher built out of tree", &comm_upper);

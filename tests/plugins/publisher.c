/*
 * publisher.c — an operator that publishes the metrics text its "text"
 * param holds, as it is (host->metrics_publish), at start: for the tests
 * of what the daemon does with texts that break the rules, and with
 * families of the same name in several sessions.
 */
#include <errno.h>
#include <string.h>

#include "test-plugin.h"

static const struct ophost_host *host;

static int publisher_start(struct ophost_ctx *ctx, void *data) {
    const char *text;
    int r = host->param_string(ctx, "text", &text);

    if (r < 0)
        return host->error(ctx, r, "publisher: param 'text': %s", strerror(-r));
    r = host->metrics_publish(ctx, text, strlen(text));
    if (r < 0)
        return host->error(ctx, r, "publisher: metrics_publish: %s", strerror(-r));
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "text", .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_MANDATORY,
      .description = "the metrics text to publish" },
    { 0 }
};

static const struct ophost_operator publisher = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "publisher",
    .description = "Publishes its param 'text' as its metrics",
    .priority = OPHOST_PRIORITY_SINK,
    .instance_params = params,
    .start = publisher_start,
};

static const struct ophost_operator *const operators[] = { &publisher, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "publisher",
    .version = "1.0",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}

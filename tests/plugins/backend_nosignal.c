/* Test plugin: a backend whose ops table lacks the required op signal. */
#include "broken_backend.h"

static const execd_backend_ops nosignal_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .start = broken_start,
};

static const execd_plugin nosignal_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "nosignal",
    .version = "0",
    .description = "test: a backend without signal",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &nosignal_ops,
};

EXECD_PLUGIN_DEFINE(nosignal_plugin)

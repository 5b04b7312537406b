/* Test plugin: a backend that sets signal but declares an ops table too
 * short to hold it: what lies beyond struct_size does not count. */
#include "broken_backend.h"

static const execd_backend_ops shortops_ops = {
    .struct_size = offsetof(execd_backend_ops, signal),
    .start = broken_start,
    .signal = broken_signal,
};

static const execd_plugin shortops_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "shortops",
    .version = "0",
    .description = "test: a backend whose ops table ends before signal",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &shortops_ops,
};

EXECD_PLUGIN_DEFINE(shortops_plugin)

/* Test plugin: installed under a backend's file name but claiming to be a
 * storage plugin.  The loader must refuse it. */
#include "broken_backend.h"

static const execd_plugin wrongkind_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_STORAGE,
    .name = "wrongkind",
    .version = "0",
    .description = "test: a backend file whose descriptor says storage",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &broken_backend_ops,
};

EXECD_PLUGIN_DEFINE(wrongkind_plugin)

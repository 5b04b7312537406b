/* Test plugin: built against a future ABI major.  The loader must refuse
 * it, naming the file, the plugin's ABI and the core's. */
#include "broken_backend.h"

static const execd_plugin abimajor_plugin = {
    .abi_major = EXECD_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = sizeof(execd_plugin),
    .kind = EXECD_KIND_BACKEND,
    .name = "abimajor",
    .version = "0",
    .description = "test: ABI major one above the core's",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &broken_backend_ops,
};

EXECD_PLUGIN_DEFINE(abimajor_plugin)

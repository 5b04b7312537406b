/* Test plugin: built against a newer ABI minor than the core's, so it may
 * use host members the core lacks.  The loader must refuse it. */
#include "broken_backend.h"

static const execd_plugin abiminor_plugin = {
    .abi_major = EXECD_ABI_MAJOR,
    .abi_minor = EXECD_ABI_MINOR + 1,
    .struct_size = sizeof(execd_plugin),
    .kind = EXECD_KIND_BACKEND,
    .name = "abiminor",
    .version = "0",
    .description = "test: ABI minor one above the core's",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &broken_backend_ops,
};

EXECD_PLUGIN_DEFINE(abiminor_plugin)

/* Test plugin: built against ABI 1.2, before check_config was appended to
 * the descriptor.  Its struct_size ends before that field, so execd must
 * neither read nor call what follows in memory (here a function that
 * aborts, as garbage would crash). */
#include <stdlib.h>

#include "broken_backend.h"

static int must_not_be_called(const json_t *config, char *err, size_t errlen) {
  (void)config, (void)err, (void)errlen;
  abort();
}

static const execd_plugin oldminor_plugin = {
    .abi_major = EXECD_ABI_MAJOR,
    .abi_minor = 2,
    .struct_size = offsetof(execd_plugin, check_config),
    .kind = EXECD_KIND_BACKEND,
    .name = "oldminor",
    .version = "0",
    .description = "test: ABI 1.2, without check_config",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &broken_backend_ops,
    .check_config = must_not_be_called,
};

EXECD_PLUGIN_DEFINE(oldminor_plugin)

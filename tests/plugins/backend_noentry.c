/* Test plugin: a complete descriptor, but exported under the wrong name,
 * so the module has no execd_plugin_entry.  The loader must refuse it. */
#include "broken_backend.h"

static const execd_plugin noentry_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "noentry",
    .version = "0",
    .description = "test: no entry symbol",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &broken_backend_ops,
};

EXECD_EXPORT const execd_plugin *execd_plugin_main(const execd_host *host);
EXECD_EXPORT const execd_plugin *execd_plugin_main(const execd_host *host) {
  (void)host;
  return &noentry_plugin;
}

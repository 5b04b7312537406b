/* Test plugin: looks at the host's ABI and declines to load (returns NULL
 * from the entry), as a plugin that needs a newer daemon would. */
#include "broken_backend.h"

static const execd_plugin declines_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "declines",
    .version = "0",
    .description = "test: declines every host",
    .create = broken_create,
    .destroy = broken_destroy,
    .ops = &broken_backend_ops,
};

EXECD_EXPORT const execd_plugin *execd_plugin_entry(const execd_host *host);
EXECD_EXPORT const execd_plugin *execd_plugin_entry(const execd_host *host) {
  /* A real plugin would test host->abi_minor or EXECD_HOST_HAS() here. */
  if (host->abi_major < 1000)
    return NULL;
  return &declines_plugin;
}

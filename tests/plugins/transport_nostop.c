/* Test plugin: a transport that would start serving but has no stop() to
 * close what it opened.  Never gets past the loader. */
#include <execd/plugin.h>

static int never_create(const execd_host *host, execd_instance *inst,
                        const json_t *config, void **self) {
  (void)config;
  *self = NULL;
  host->set_error(inst, "this test plugin must never be created");
  return EXECD_ENOTSUP;
}

static int never_start(void *self) {
  (void)self;
  return EXECD_ENOTSUP;
}

static void never_destroy(void *self) { (void)self; }

static const execd_transport_ops nostop_ops = {
    .struct_size = sizeof(execd_transport_ops),
};

static const execd_plugin nostop_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_TRANSPORT,
    .name = "nostop",
    .version = "0",
    .description = "test: a transport without stop",
    .create = never_create,
    .start = never_start,
    .destroy = never_destroy,
    .ops = &nostop_ops,
};

EXECD_PLUGIN_DEFINE(nostop_plugin)

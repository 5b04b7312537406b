/* Test plugin: a storage whose ops table lacks the required op update.
 * Never gets past the loader. */
#include <execd/plugin.h>

static int never_create(const execd_host *host, execd_instance *inst,
                        const json_t *config, void **self) {
  (void)config;
  *self = NULL;
  host->set_error(inst, "this test plugin must never be created");
  return EXECD_ENOTSUP;
}

static void never_destroy(void *self) { (void)self; }

static int no_insert(void *self, const json_t *record, execd_store_cb cb, void *arg) {
  (void)self, (void)record, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static int no_get(void *self, const char *id, execd_store_cb cb, void *arg) {
  (void)self, (void)id, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static int no_list(void *self, const execd_list_query *query, execd_list_cb cb,
                   void *arg) {
  (void)self, (void)query, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static int no_log_append(void *self, const char *id, const char *data, size_t len) {
  (void)self, (void)id, (void)data, (void)len;
  return EXECD_ENOTSUP;
}

static int no_log_read(void *self, const char *id, uint64_t offset, size_t max,
                       execd_log_cb cb, void *arg) {
  (void)self, (void)id, (void)offset, (void)max, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static const execd_storage_ops noupdate_ops = {
    .struct_size = sizeof(execd_storage_ops),
    .insert = no_insert,
    .get = no_get,
    .list = no_list,
    .remove = no_get,
    .log_append = no_log_append,
    .log_read = no_log_read,
};

static const execd_plugin noupdate_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_STORAGE,
    .name = "noupdate",
    .version = "0",
    .description = "test: a storage without update",
    .create = never_create,
    .destroy = never_destroy,
    .ops = &noupdate_ops,
};

EXECD_PLUGIN_DEFINE(noupdate_plugin)

/* Test plugin: the smallest valid backend.  It loads, accepts its config
 * keys and refuses every job, so tests can start a daemon (or a duplicate
 * instance) without running anything. */
#include <stdio.h>
#include <stdlib.h>

#include <execd/plugin.h>

typedef struct good_backend {
  const execd_host *host;
  execd_instance *inst;
} good_backend;

static const execd_config_key good_config_keys[] = {
    {"commands_allowed", EXECD_CFG_LIST, "[]", "ignored: this backend runs nothing"},
    {NULL, 0, NULL, NULL},
};

/* The validation create() and check_config share: every commands_allowed
 * entry is an absolute path. */
static int good_validate(const json_t *config, char *err, size_t errlen) {
  size_t i;
  const json_t *v;
  json_array_foreach(json_object_get(config, "commands_allowed"), i, v) {
    const char *s = json_string_value(v);
    if (!s || s[0] != '/') {
      snprintf(err, errlen, "commands_allowed[%zu] \"%s\" is not an absolute path", i,
               s ? s : "");
      return EXECD_ECONFIG;
    }
  }
  return 0;
}

static int good_create(const execd_host *host, execd_instance *inst,
                       const json_t *config, void **self) {
  char err[256];
  if (good_validate(config, err, sizeof err) != 0) {
    host->set_error(inst, "%s", err);
    return EXECD_ECONFIG;
  }
  good_backend *b = calloc(1, sizeof *b);
  if (!b) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  b->host = host;
  b->inst = inst;
  *self = b;
  return 0;
}

static void good_destroy(void *self) { free(self); }

static int good_check(void *self, const execd_job_spec *spec) {
  good_backend *b = self;
  (void)spec;
  b->host->set_error(b->inst, "the test backend 'good' runs nothing");
  return EXECD_EPERM;
}

static int good_start(void *self, const execd_job_spec *spec, execd_job *job,
                      void **handle) {
  good_backend *b = self;
  (void)spec, (void)job, (void)handle;
  b->host->set_error(b->inst, "the test backend 'good' runs nothing");
  return EXECD_EUNAVAIL;
}

static int good_signal(void *self, void *handle, int signum) {
  (void)self, (void)handle, (void)signum;
  return EXECD_ENOENT; /* no job was ever started */
}

static const execd_backend_ops good_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .check = good_check,
    .start = good_start,
    .signal = good_signal,
};

static const execd_plugin good_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "good",
    .version = "0",
    .description = "test: a valid backend that refuses every job",
    .config_keys = good_config_keys,
    .create = good_create,
    .destroy = good_destroy,
    .ops = &good_ops,
    .check_config = good_validate,
};

EXECD_PLUGIN_DEFINE(good_plugin)

/* Test plugin: a storage whose updates all fail asynchronously, each with
 * a detail of its own that names the record.  Failures come as a batch:
 * one zero timer first finds the error of every queued update, then calls
 * their callbacks, as a group commit that failed does.  The detail goes
 * through host->op_error, or, with config {"set_error": true} or under a
 * host older than ABI 1.2, through set_error, as plugins did before.
 * Only update is usable; the other ops refuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/plugin.h>

#define MAX_QUEUED 16

typedef struct queued_update {
  char id[64];
  execd_store_cb cb;
  void *arg;
} queued_update;

typedef struct fail_storage {
  const execd_host *host;
  execd_instance *inst;
  int use_set_error;
  uv_timer_t batch;
  queued_update queued[MAX_QUEUED];
  size_t n_queued;
} fail_storage;

static int fail_create(const execd_host *host, execd_instance *inst, const json_t *config,
                       void **self) {
  fail_storage *s = calloc(1, sizeof *s);
  if (!s) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  s->host = host;
  s->inst = inst;
  s->use_set_error = json_is_true(json_object_get(config, "set_error")) ||
                     !EXECD_HOST_HAS(host, op_error) || !host->op_error;
  uv_timer_init(host->loop(inst), &s->batch);
  s->batch.data = s;
  *self = s;
  return 0;
}

static void fail_stop(void *self) {
  fail_storage *s = self;
  uv_close((uv_handle_t *)&s->batch, NULL);
}

static void fail_destroy(void *self) { free(self); }

static void fail_batch(uv_timer_t *t) {
  fail_storage *s = t->data;
  size_t n = s->n_queued;
  s->n_queued = 0;
  /* First every update's error, then the callbacks. */
  for (size_t i = 0; i < n; i++) {
    queued_update *q = &s->queued[i];
    if (s->use_set_error)
      s->host->set_error(s->inst, "writing %s failed", q->id);
    else
      s->host->op_error(s->inst, q->arg, "writing %s failed", q->id);
  }
  for (size_t i = 0; i < n; i++)
    s->queued[i].cb(s->queued[i].arg, EXECD_EIO, NULL);
}

static int fail_update(void *self, const json_t *record, const char *expected_state,
                       execd_store_cb cb, void *arg) {
  fail_storage *s = self;
  (void)expected_state;
  if (s->n_queued == MAX_QUEUED) {
    s->host->set_error(s->inst, "too many updates queued");
    return EXECD_EBUSY;
  }
  queued_update *q = &s->queued[s->n_queued++];
  snprintf(q->id, sizeof q->id, "%s", json_string_value(json_object_get(record, "id")));
  q->cb = cb;
  q->arg = arg;
  uv_timer_start(&s->batch, fail_batch, 0, 0);
  return 0;
}

static int refuse(fail_storage *s) {
  s->host->set_error(s->inst, "the test storage 'faildetail' only fails updates");
  return EXECD_EUNAVAIL;
}

static int fail_insert(void *self, const json_t *record, execd_store_cb cb, void *arg) {
  (void)record, (void)cb, (void)arg;
  return refuse(self);
}

static int fail_get(void *self, const char *id, execd_store_cb cb, void *arg) {
  (void)id, (void)cb, (void)arg;
  return refuse(self);
}

static int fail_list(void *self, const execd_list_query *query, execd_list_cb cb, void *arg) {
  (void)query, (void)cb, (void)arg;
  return refuse(self);
}

static int fail_log_append(void *self, const char *id, const char *data, size_t len) {
  (void)id, (void)data, (void)len;
  return refuse(self);
}

static int fail_log_read(void *self, const char *id, uint64_t offset, size_t max,
                         execd_log_cb cb, void *arg) {
  (void)id, (void)offset, (void)max, (void)cb, (void)arg;
  return refuse(self);
}

static const execd_storage_ops fail_ops = {
    .struct_size = sizeof(execd_storage_ops),
    .insert = fail_insert,
    .update = fail_update,
    .get = fail_get,
    .list = fail_list,
    .remove = fail_get,
    .log_append = fail_log_append,
    .log_read = fail_log_read,
};

static const execd_plugin fail_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_STORAGE,
    .name = "faildetail",
    .version = "0",
    .description = "test: updates fail in batches, each with its own detail",
    .create = fail_create,
    .stop = fail_stop,
    .destroy = fail_destroy,
    .ops = &fail_ops,
};

EXECD_PLUGIN_DEFINE(fail_plugin)

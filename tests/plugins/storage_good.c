/* Test plugin: the smallest valid storage.  It holds no executions: list
 * answers an empty page (so the daemon's recovery finishes and it becomes
 * ready) and every write is refused as unavailable.  Lets tests start the
 * real daemon without the file storage. */
#include <stddef.h>
#include <stdlib.h>

#include <execd/plugin.h>

typedef struct good_storage {
  const execd_host *host;
  execd_instance *inst;
} good_storage;

/* One list answer in flight: callbacks must come later, never from inside
 * the call, so each goes through a zero timer. */
typedef struct pending_list {
  uv_timer_t timer;
  execd_list_cb cb;
  void *arg;
} pending_list;

static int good_create(const execd_host *host, execd_instance *inst,
                       const json_t *config, void **self) {
  (void)config;
  good_storage *s = calloc(1, sizeof *s);
  if (!s) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  s->host = host;
  s->inst = inst;
  *self = s;
  return 0;
}

static void good_destroy(void *self) { free(self); }

static int refuse(good_storage *s) {
  s->host->set_error(s->inst, "the test storage 'good' keeps nothing");
  return EXECD_EUNAVAIL;
}

static int good_insert(void *self, const json_t *record, execd_store_cb cb, void *arg) {
  (void)record, (void)cb, (void)arg;
  return refuse(self);
}

static int good_update(void *self, const json_t *record, const char *expected_state,
                       execd_store_cb cb, void *arg) {
  (void)record, (void)expected_state, (void)cb, (void)arg;
  return refuse(self);
}

static int good_get(void *self, const char *id, execd_store_cb cb, void *arg) {
  (void)id, (void)cb, (void)arg;
  return refuse(self);
}

static void list_closed(uv_handle_t *h) { free(h->data); }

static void list_answer(uv_timer_t *t) {
  pending_list *p = t->data;
  json_t *empty = json_array();
  p->cb(p->arg, 0, empty, NULL);
  json_decref(empty);
  uv_close((uv_handle_t *)t, list_closed);
}

static int good_list(void *self, const execd_list_query *query, execd_list_cb cb,
                     void *arg) {
  good_storage *s = self;
  (void)query;
  pending_list *p = calloc(1, sizeof *p);
  if (!p)
    return EXECD_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  p->timer.data = p;
  uv_timer_init(s->host->loop(s->inst), &p->timer);
  uv_timer_start(&p->timer, list_answer, 0, 0);
  return 0;
}

static int good_remove(void *self, const char *id, execd_store_cb cb, void *arg) {
  (void)id, (void)cb, (void)arg;
  return refuse(self);
}

static int good_log_append(void *self, const char *id, const char *data, size_t len) {
  (void)id, (void)data, (void)len;
  return refuse(self);
}

static int good_log_read(void *self, const char *id, uint64_t offset, size_t max,
                         execd_log_cb cb, void *arg) {
  (void)id, (void)offset, (void)max, (void)cb, (void)arg;
  return refuse(self);
}

static int must_not_be_called(void *self, const char *id, uint64_t from, uint64_t to,
                              execd_log_marks_cb cb, void *arg) {
  (void)self, (void)id, (void)from, (void)to, (void)cb, (void)arg;
  abort();
}

/* An ops table as a storage built against ABI 1.3 declares it: its
 * struct_size ends before log_marks, so execd must neither read nor call
 * what follows in memory (here a function that aborts). */
static const execd_storage_ops good_ops = {
    .struct_size = offsetof(execd_storage_ops, log_marks),
    .insert = good_insert,
    .update = good_update,
    .get = good_get,
    .list = good_list,
    .remove = good_remove,
    .log_append = good_log_append,
    .log_read = good_log_read,
    .log_marks = must_not_be_called,
};

static const execd_plugin good_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_STORAGE,
    .name = "good",
    .version = "0",
    .description = "test: a valid storage that keeps nothing",
    .create = good_create,
    .destroy = good_destroy,
    .ops = &good_ops,
};

EXECD_PLUGIN_DEFINE(good_plugin)

/* The storage ops of the file storage (see <execd/storage.h>).  Writes
 * update the index at once, so later ops (and the compare-and-set of
 * update) see them even while they are still being committed; their
 * callbacks run once the group commit made them durable. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file_internal.h"

#define IDEMPOTENCY_WINDOW_MS (24ll * 3600 * 1000)
#define DEFAULT_LIMIT 100
#define MAX_LIMIT 10000

static int refuse_if_broken(file_store *st) {
  if (!st->broken)
    return 0;
  st->host->set_error(st->inst, "storage writes stopped after an error: %s",
                      st->broken);
  return EXECD_EUNAVAIL;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A new write of type for e, its record encoded from payload (a PUT, with
 * its indexed members f, or a tombstone).  Returns 0,
 * or EXECD_ENOMEM / EXECD_ETOOBIG with the error set. */
static int write_new(file_store *st, int type, index_entry *e,
                     const json_t *payload, const record_fields *f,
                     json_t *record, execd_store_cb cb, void *arg,
                     pending_write **out) {
  *out = NULL;
  pending_write *w = calloc(1, sizeof *w);
  size_t len = 0;
  char *text = f ? record_payload(payload, f, &len)
                 : json_dumps(payload, JSON_COMPACT);
  if (text && !f)
    len = strlen(text);
  if (!w || !text || journal_encode(type, text, len, &w->rec) != 0) {
    free(w);
    free(text);
    if (text && len > JOURNAL_MAX_PAYLOAD) {
      st->host->set_error(st->inst, "the record is %zu bytes; the file "
                          "storage keeps records up to %u bytes", len,
                          JOURNAL_MAX_PAYLOAD);
      return EXECD_ETOOBIG;
    }
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  free(text);
  w->type = type;
  w->entry = e;
  index_entry_ref(e);
  w->record = record ? json_incref(record) : NULL;
  w->cb = cb;
  w->arg = arg;
  *out = w;
  return 0;
}

static int fields_of(file_store *st, const json_t *record, record_fields *f) {
  char err[256];
  int rc = record_fields_get(record, f, err, sizeof err);
  if (rc != 0)
    st->host->set_error(st->inst, "%s", err);
  return rc;
}

static int file_insert(void *self, const json_t *record, execd_store_cb cb,
                       void *arg) {
  file_store *st = self;
  record_fields f;
  int rc;
  if ((rc = refuse_if_broken(st)) || (rc = fields_of(st, record, &f)))
    return rc;
  if (index_find(&st->index, f.id)) {
    st->host->set_error(st->inst, "an execution with id %s is stored already",
                        f.id);
    return EXECD_ECONFLICT;
  }
  if (f.idem_key) {
    index_entry *prior = index_find_idem(&st->index, f.tenant, f.idem_key);
    if (prior && (!prior->has_created ||
                  now_ms() - prior->created_ms < IDEMPOTENCY_WINDOW_MS)) {
      reads_one(st, EXECD_EEXIST, prior, cb, arg);
      return 0;
    }
  }
  json_t *copy = json_deep_copy(record);
  index_entry *e = index_entry_new();
  pending_write *w = NULL;
  if (!copy || !e || index_entry_set(e, &f) != 0) {
    st->host->set_error(st->inst, "out of memory");
    rc = EXECD_ENOMEM;
  } else {
    rc = write_new(st, JOURNAL_PUT, e, record, &f, copy, cb, arg, &w);
  }
  if (rc != 0) {
    json_decref(copy);
    index_entry_unref(e);
    return rc;
  }
  e->pending = copy; /* the entry's reference */
  e->pending_writes = 1;
  e->log_size_known = true; /* a new execution has no log yet */
  index_link(&st->index, e);
  index_entry_unref(e);
  commit_enqueue(st, w);
  return 0;
}

static int file_update(void *self, const json_t *record,
                       const char *expected_state, execd_store_cb cb,
                       void *arg) {
  file_store *st = self;
  record_fields f;
  int rc;
  if ((rc = refuse_if_broken(st)) || (rc = fields_of(st, record, &f)))
    return rc;
  index_entry *e = index_find(&st->index, f.id);
  if (!e) {
    reads_one(st, EXECD_ENOENT, NULL, cb, arg);
    return 0;
  }
  /* e->state is the newest state, including writes not yet committed. */
  if (expected_state && strcmp(e->state, expected_state) != 0) {
    reads_one(st, EXECD_ECONFLICT, e, cb, arg);
    return 0;
  }
  json_t *copy = json_deep_copy(record);
  pending_write *w = NULL;
  rc = copy ? write_new(st, JOURNAL_PUT, e, record, &f, copy, cb, arg, &w)
            : EXECD_ENOMEM;
  if (rc != 0) {
    if (!copy)
      st->host->set_error(st->inst, "out of memory");
    json_decref(copy);
    return rc;
  }
  /* Re-key the entry: the trees are ordered by the members that change. */
  index_entry_ref(e);
  index_unlink(&st->index, e);
  rc = index_entry_set(e, &f);
  index_link(&st->index, e);
  index_entry_unref(e);
  if (rc != 0) {
    pending_write_free(w);
    json_decref(copy);
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  json_decref(e->pending);
  e->pending = copy;
  e->pending_writes++;
  commit_enqueue(st, w);
  return 0;
}

static int file_get(void *self, const char *id, execd_store_cb cb, void *arg) {
  file_store *st = self;
  if (!id || !cb) {
    st->host->set_error(st->inst, "get needs an id and a callback");
    return EXECD_EINVAL;
  }
  index_entry *e = index_find(&st->index, id);
  reads_one(st, e ? 0 : EXECD_ENOENT, e, cb, arg);
  return 0;
}

/* Copies the members of q that its struct_size says it has. */
static void read_query(const execd_list_query *q, execd_list_query *out) {
  memset(out, 0, sizeof *out);
  if (!q)
    return;
  size_t n = q->struct_size && q->struct_size < sizeof *out ? q->struct_size
                                                            : sizeof *out;
  memcpy(out, q, n);
}

static int file_list(void *self, const execd_list_query *query,
                     execd_list_cb cb, void *arg) {
  file_store *st = self;
  execd_list_query q;
  read_query(query, &q);
  if (!cb) {
    st->host->set_error(st->inst, "list needs a callback");
    return EXECD_EINVAL;
  }
  index_filter f = {.tenant = q.tenant, .state = q.state, .agent = q.agent,
                    .label_key = q.label_key, .label_value = q.label_value};
  if (q.created_after) {
    if (record_parse_time(q.created_after, &f.after_ms) != 0) {
      st->host->set_error(st->inst, "created_after \"%.64s\" is not an RFC "
                          "3339 time", q.created_after);
      return EXECD_EINVAL;
    }
    f.has_after = true;
  }
  if (q.created_before) {
    if (record_parse_time(q.created_before, &f.before_ms) != 0) {
      st->host->set_error(st->inst, "created_before \"%.64s\" is not an RFC "
                          "3339 time", q.created_before);
      return EXECD_EINVAL;
    }
    f.has_before = true;
  }
  /* The cursor is the last id of the previous page. */
  if (q.cursor && !record_id_valid(q.cursor)) {
    st->host->set_error(st->inst, "cursor \"%.64s\" is not one this storage "
                        "returned", q.cursor);
    return EXECD_EINVAL;
  }
  size_t limit = q.limit ? q.limit : DEFAULT_LIMIT;
  if (limit > MAX_LIMIT)
    limit = MAX_LIMIT;
  index_entry **found = malloc(limit * sizeof *found);
  if (!found) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  bool more;
  size_t n = index_select(&st->index, &f, q.cursor, limit, found, &more);
  reads_list(st, found, n, more && n ? found[n - 1]->id : NULL, cb, arg);
  free(found);
  return 0;
}

int store_remove_entry(file_store *st, index_entry *e, execd_store_cb cb,
                       void *arg) {
  int rc = refuse_if_broken(st);
  if (rc)
    return rc;
  json_t *tombstone = json_pack("{s:s}", "id", e->id);
  pending_write *w = NULL;
  rc = tombstone ? write_new(st, JOURNAL_DELETE, e, tombstone, NULL, NULL, cb,
                             arg, &w)
                 : EXECD_ENOMEM;
  json_decref(tombstone);
  if (rc != 0)
    return rc;
  st->live_bytes -= e->length;
  logs_forget(st, e->id);
  index_unlink(&st->index, e);
  commit_enqueue(st, w);
  return 0;
}

static int file_remove(void *self, const char *id, execd_store_cb cb,
                       void *arg) {
  file_store *st = self;
  int rc = refuse_if_broken(st);
  if (rc)
    return rc;
  index_entry *e = id ? index_find(&st->index, id) : NULL;
  if (!e) {
    reads_one(st, EXECD_ENOENT, NULL, cb, arg);
    return 0;
  }
  return store_remove_entry(st, e, cb, arg);
}

static int file_log_append(void *self, const char *id, const char *data,
                           size_t len) {
  file_store *st = self;
  int rc = refuse_if_broken(st);
  if (rc)
    return rc;
  if (!id || !index_find(&st->index, id)) {
    st->host->set_error(st->inst, "no execution %.64s to append a log to",
                        id ? id : "(null)");
    return EXECD_ENOENT;
  }
  rc = logs_append(st, id, data, len);
  commit_kick(st);
  return rc;
}

static int file_log_read(void *self, const char *id, uint64_t offset,
                         size_t max, execd_log_cb cb, void *arg) {
  file_store *st = self;
  if (!id || !cb) {
    st->host->set_error(st->inst, "log_read needs an id and a callback");
    return EXECD_EINVAL;
  }
  if (!index_find(&st->index, id)) {
    reads_log_missing(st, offset, cb, arg);
    return 0;
  }
  logs_read(st, id, offset, max, cb, arg);
  return 0;
}

static int file_health(void *self) {
  file_store *st = self;
  return refuse_if_broken(st);
}

const execd_storage_ops file_storage_ops = {
    .struct_size = sizeof(execd_storage_ops),
    .insert = file_insert,
    .update = file_update,
    .get = file_get,
    .list = file_list,
    .remove = file_remove,
    .log_append = file_log_append,
    .log_read = file_log_read,
    .health = file_health,
};

/* The storage ops of the postgres storage (<execd/storage.h>).
 *
 * Order: every query about one execution goes to one connection (its
 * lane, from a hash of the id), so the ops of an execution run in the
 * order they were called and each sees the writes before it.  Write
 * callbacks are held until every earlier write has called back, so they
 * run in call order across executions too.  A write is durable (committed)
 * before its callback runs. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_internal.h"

#define PARK_RETRY_MS 500
#define LIST_DEFAULT_LIMIT 100
#define LIST_MAX_LIMIT 10000

long pg_lane(const char *id) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)id; *p; p++)
    h = (h ^ *p) * 16777619u;
  return (long)(h & 0x7fffffff);
}

void pg_op_error(pg_store *st, void *cb_arg, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (EXECD_HOST_HAS(st->host, op_error) && st->host->op_error)
    st->host->op_error(st->inst, cb_arg, "%s", text);
  else
    st->host->set_error(st->inst, "%s", text);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A failed query: no answer (connection) is "unavailable", an error of
 * the statement an I/O failure of the storage. */
static int query_status(PGresult *res) { return res ? EXECD_EIO : EXECD_EUNAVAIL; }

static int refuse_if_stopping(pg_store *st) {
  if (!st->stopping)
    return 0;
  st->host->set_error(st->inst, "the storage is stopping");
  return EXECD_EUNAVAIL;
}

static void on_quarantined(void *arg, PGresult *res, const char *error) {
  (void)res;
  pg_store *st = arg;
  if (error)
    st->host->log(st->inst, EXECD_LOG_ERR, "setting a record aside failed: %s", error);
}

void pg_quarantine(pg_store *st, const char *id, const char *why) {
  st->host->log(st->inst, EXECD_LOG_WARNING,
                "execution %s cannot be read back (%s): set aside in table "
                "execd_quarantine with its log; it is gone from lists and gets",
                id, why);
  uvpq_query_spec q = {.stmt = "execd_quarantine", .nparams = 2,
                       .values = (const char *[]){id, why}, .lane = pg_lane(id)};
  uvpq_query(st->pool, &q, on_quarantined, st);
}

/* Decodes a stored doc; a row that does not decode is set aside. */
static json_t *decode_or_quarantine(pg_store *st, const char *id, PGresult *res,
                                    int row, int col) {
  char why[512];
  json_t *rec = row_decode(id, PQgetvalue(res, row, col),
                           (size_t)PQgetlength(res, row, col), why, sizeof why);
  if (!rec)
    pg_quarantine(st, id, why);
  return rec;
}

/* --- writes, called back in call order -------------------------------------- */

static pg_write *write_new(pg_store *st, const char *what, const char *id,
                           execd_store_cb cb, void *arg) {
  pg_write *w = calloc(1, sizeof *w);
  if (!w) {
    st->host->set_error(st->inst, "out of memory");
    return NULL;
  }
  w->st = st;
  w->cb = cb;
  w->arg = arg;
  snprintf(w->what, sizeof w->what, "%s", what);
  snprintf(w->id, sizeof w->id, "%s", id);
  TAILQ_INSERT_TAIL(&st->writes, w, link);
  st->writes_n++;
  return w;
}

static void write_free(pg_write *w) {
  json_decref(w->copy);
  json_decref(w->record);
  free(w->expected);
  free(w->lease_node);
  free(w);
}

static void write_unqueue(pg_store *st, pg_write *w) {
  TAILQ_REMOVE(&st->writes, w, link);
  st->writes_n--;
  write_free(w);
}

static void write_call_back(pg_store *st, pg_write *w) {
  if (w->cb) {
    if (w->status != 0 && w->error[0])
      pg_op_error(st, w->arg, "%s", w->error);
    w->cb(w->arg, w->status, w->record);
  } else if (w->status != 0) {
    st->host->log(st->inst, EXECD_LOG_ERR, "%s of execution %s failed: %s",
                  w->what, w->id, w->error[0] ? w->error : "unknown error");
  }
}

static void writes_drain(pg_store *st) {
  pg_write *w;
  while ((w = TAILQ_FIRST(&st->writes)) != NULL && w->done) {
    TAILQ_REMOVE(&st->writes, w, link);
    st->writes_n--;
    write_call_back(st, w);
    write_free(w);
  }
}

static void write_done(pg_write *w, int status, json_t *record, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void write_done(pg_write *w, int status, json_t *record, const char *fmt, ...) {
  w->done = true;
  w->status = status;
  w->record = record;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
  }
  if (w->parked) { /* out of the call order since it was parked */
    TAILQ_REMOVE(&w->st->parked, w, link);
    write_call_back(w->st, w);
    write_free(w);
    return;
  }
  writes_drain(w->st);
}

static int send_update(pg_store *st, pg_write *w);

static void on_park_timer(uv_timer_t *t) {
  pg_store *st = t->data;
  /* Sent again in the order they were parked; each comes back here if
   * PostgreSQL is still unreachable. */
  struct pg_writes again = TAILQ_HEAD_INITIALIZER(again);
  TAILQ_CONCAT(&again, &st->parked, link);
  pg_write *w;
  while ((w = TAILQ_FIRST(&again)) != NULL) {
    TAILQ_REMOVE(&again, w, link);
    TAILQ_INSERT_TAIL(&st->parked, w, link);
    if (send_update(st, w) != 0) {
      TAILQ_REMOVE(&st->parked, w, link);
      w->status = EXECD_EUNAVAIL;
      snprintf(w->error, sizeof w->error, "update of %s: the storage is closing", w->id);
      write_call_back(st, w);
      write_free(w);
    }
  }
}

/* An update whose connection failed waits for PostgreSQL instead of
 * failing: the core writes an execution's result once, and it must land.
 * It leaves the call order, so that the writes after it (a submit's insert
 * answering 503) are not held behind it. */
static void park(pg_store *st, pg_write *w, const char *error) {
  if (!w->parked) {
    st->host->log(st->inst, EXECD_LOG_WARNING,
                  "update of execution %s waits for PostgreSQL: %s", w->id, error);
    TAILQ_REMOVE(&st->writes, w, link);
    st->writes_n--;
    w->parked = true;
  } else {
    TAILQ_REMOVE(&st->parked, w, link);
  }
  TAILQ_INSERT_TAIL(&st->parked, w, link);
  if (st->park_timer_open && !uv_is_active((uv_handle_t *)&st->park_timer))
    uv_timer_start(&st->park_timer, on_park_timer, PARK_RETRY_MS, 0);
  writes_drain(st);
}

/* The answer of execd_insert or execd_update: (status, doc). */
static void on_put(void *arg, PGresult *res, const char *error) {
  pg_write *w = arg;
  pg_store *st = w->st;
  if (error && !res && !st->stopping && strcmp(w->what, "update") == 0) {
    park(st, w, error); /* no answer: the connection, not the statement */
    return;
  }
  if (error) {
    write_done(w, query_status(res), NULL, "%s of %s: PostgreSQL: %s", w->what,
               w->id, error);
    return;
  }
  if (PQntuples(res) != 1) {
    write_done(w, EXECD_EIO, NULL, "%s of %s: unexpected answer", w->what, w->id);
    return;
  }
  int code = atoi(PQgetvalue(res, 0, 0));
  bool insert = strcmp(w->what, "insert") == 0;
  json_t *stored = NULL;
  if (code != 0 && !PQgetisnull(res, 0, 1)) {
    /* The insert's duplicate has another id: its own doc says which. */
    const char *doc = PQgetvalue(res, 0, 1);
    json_t *probe = json_loadb(doc, (size_t)PQgetlength(res, 0, 1), 0, NULL);
    const char *sid = json_string_value(json_object_get(probe, "id"));
    char row_id[RECORD_ID_MAX + 1];
    snprintf(row_id, sizeof row_id, "%s", sid && record_id_valid(sid) ? sid : w->id);
    json_decref(probe);
    stored = decode_or_quarantine(st, row_id, res, 0, 1);
  }
  if (code == 0 && w->lease_node && PQnfields(res) >= 4 && !PQgetisnull(res, 0, 2)) {
    /* Inserted and claimed in one transaction: the record with its lease. */
    json_t *copy = w->copy;
    w->copy = NULL;
    json_object_set_new(copy, "lease",
                        json_pack("{s:s, s:I, s:I}", "node", w->lease_node, "token",
                                  (json_int_t)strtoll(PQgetvalue(res, 0, 2), NULL, 10),
                                  "expires",
                                  (json_int_t)strtoll(PQgetvalue(res, 0, 3), NULL, 10)));
    write_done(w, 0, copy, NULL);
  } else if (code == 0) {
    json_t *copy = w->copy;
    w->copy = NULL;
    write_done(w, 0, copy, NULL);
  } else if (insert && code == 1) {
    write_done(w, EXECD_EEXIST, stored, NULL);
  } else if (insert) {
    write_done(w, EXECD_ECONFLICT, stored, "an execution with id %s is stored already",
               w->id);
  } else if (code == 1 && w->parked && stored && json_equal(stored, w->copy)) {
    /* Sent again after a lost answer: the first try had committed. */
    json_t *copy = w->copy;
    w->copy = NULL;
    json_decref(stored);
    write_done(w, 0, copy, NULL);
  } else if (code == 1) {
    write_done(w, EXECD_ECONFLICT, stored, NULL);
  } else {
    json_decref(stored);
    write_done(w, EXECD_ENOENT, NULL, NULL);
  }
}

static int fields_of(pg_store *st, const json_t *record, row_fields *f) {
  char err[256];
  int rc = row_fields_get(record, f, err, sizeof err);
  if (rc != 0)
    st->host->set_error(st->inst, "%s", err);
  return rc;
}

/* The record's compact JSON, within ROW_DOC_MAX. */
static char *doc_of(pg_store *st, const json_t *record, int *rc) {
  char *doc = json_dumps(record, JSON_COMPACT);
  if (!doc) {
    st->host->set_error(st->inst, "out of memory");
    *rc = EXECD_ENOMEM;
    return NULL;
  }
  size_t n = strlen(doc);
  if (n > ROW_DOC_MAX) {
    st->host->set_error(st->inst, "the record is %zu bytes, over the %u the storage keeps",
                        n, ROW_DOC_MAX);
    free(doc);
    *rc = EXECD_ETOOBIG;
    return NULL;
  }
  *rc = 0;
  return doc;
}

/* An update's fence (the lease token the record carries) and the due time
 * of a retry, as text parameters. */
static void fence_params(const row_fields *f, char token[24], char due[24]) {
  snprintf(token, 24, "%lld", (long long)f->lease_token);
  snprintf(due, 24, "%lld", (long long)f->retry_at_ms);
}

static bool node_ok(pg_store *st, const char *node);

/* insert, update, or (claim not NULL) an insert that claims the record for
 * claim->node in the same statement. */
static int put(pg_store *st, const char *what, const json_t *record,
               const char *expected_state, const execd_claim_query *claim,
               execd_store_cb cb, void *arg) {
  row_fields f;
  int rc;
  if ((rc = refuse_if_stopping(st)) || (rc = fields_of(st, record, &f)))
    return rc;
  bool insert = strcmp(what, "insert") == 0;
  if (claim && !node_ok(st, claim->node))
    return EXECD_EINVAL;
  /* An idempotency key needs the insert function's lock and lookup: such
   * a record is inserted as by insert() and claimed by whichever node. */
  if (claim && (f.idem_key || strcmp(f.state, "QUEUED") != 0))
    claim = NULL;
  if (!insert && expected_state && (strlen(expected_state) > ROW_KEY_MAX)) {
    st->host->set_error(st->inst, "expected_state is over %d bytes", ROW_KEY_MAX);
    return EXECD_EINVAL;
  }
  char *doc = doc_of(st, record, &rc);
  if (!doc)
    return rc;
  char *labels = row_labels_json(&f);
  json_t *copy = json_deep_copy(record);
  pg_write *w = labels && copy ? write_new(st, what, f.id, cb, arg) : NULL;
  if (!w) {
    st->host->set_error(st->inst, "out of memory");
    free(doc);
    free(labels);
    json_decref(copy);
    return EXECD_ENOMEM;
  }
  w->copy = copy;
  uvpq_query_spec q = {.lane = pg_lane(f.id)};
  if (claim) {
    char created[32], priority[16], lease[24];
    snprintf(created, sizeof created, "%lld",
             (long long)(f.has_created ? f.created_ms : now_ms()));
    snprintf(priority, sizeof priority, "%d", f.priority);
    snprintf(lease, sizeof lease, "%llu", (unsigned long long)claim->lease_ms);
    w->lease_node = strdup(claim->node);
    q.stmt = "execd_insert_claim";
    q.nparams = 10;
    q.values = (const char *[]){f.id, f.tenant, f.agent, labels, created, doc, f.backend,
                                priority, claim->node, lease};
    rc = w->lease_node ? uvpq_query(st->pool, &q, on_put, w) : -1;
  } else if (insert) {
    char created[32];
    snprintf(created, sizeof created, "%lld",
             (long long)(f.has_created ? f.created_ms : now_ms()));
    char priority[16];
    snprintf(priority, sizeof priority, "%d", f.priority);
    q.stmt = "execd_insert";
    q.nparams = 10;
    q.values = (const char *[]){f.id, f.tenant, f.state, f.agent, f.idem_key,
                                labels, created, doc, f.backend, priority};
    rc = uvpq_query(st->pool, &q, on_put, w);
  } else {
    /* Log bytes are durable no later than the next update completes. */
    logs_flush_id(st, f.id);
    if (expected_state && !(w->expected = strdup(expected_state))) {
      rc = -1;
    } else {
      char token[24], due[24];
      fence_params(&f, token, due);
      q.stmt = "execd_update";
      q.nparams = 8;
      q.values = (const char *[]){f.id, expected_state, f.state, f.agent, labels, doc,
                                  f.has_token ? token : NULL,
                                  f.has_retry_at ? due : NULL};
      rc = uvpq_query(st->pool, &q, on_put, w);
    }
  }
  free(doc);
  free(labels);
  if (rc != 0) {
    write_unqueue(st, w);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

/* Sends a parked update again, from its stored copy. */
static int send_update(pg_store *st, pg_write *w) {
  row_fields f;
  char err[256];
  if (row_fields_get(w->copy, &f, err, sizeof err) != 0)
    return -1;
  int rc;
  char *doc = doc_of(st, w->copy, &rc);
  char *labels = row_labels_json(&f);
  rc = -1;
  if (doc && labels) {
    logs_flush_id(st, f.id); /* bytes sent back during the outage go first */
    char token[24], due[24];
    fence_params(&f, token, due);
    uvpq_query_spec q = {.stmt = "execd_update", .nparams = 8, .lane = pg_lane(f.id),
                         .values = (const char *[]){f.id, w->expected, f.state, f.agent,
                                                    labels, doc,
                                                    f.has_token ? token : NULL,
                                                    f.has_retry_at ? due : NULL}};
    rc = uvpq_query(st->pool, &q, on_put, w);
  }
  free(doc);
  free(labels);
  return rc;
}

void writes_init(pg_store *st) {
  TAILQ_INIT(&st->writes);
  TAILQ_INIT(&st->parked);
}

static void on_park_timer_closed(uv_handle_t *h) { (void)h; }

void writes_stop(pg_store *st) {
  if (st->park_timer_open) {
    uv_timer_stop(&st->park_timer);
    uv_close((uv_handle_t *)&st->park_timer, on_park_timer_closed);
    st->park_timer_open = false;
  }
  pg_write *w;
  while ((w = TAILQ_FIRST(&st->parked)) != NULL) {
    TAILQ_REMOVE(&st->parked, w, link);
    w->status = EXECD_EUNAVAIL;
    snprintf(w->error, sizeof w->error, "update of %s not written: PostgreSQL was "
             "unreachable until execd stopped (recovery concludes it at the next "
             "start)", w->id);
    st->host->log(st->inst, EXECD_LOG_ERR, "%s", w->error);
    write_call_back(st, w);
    write_free(w);
  }
}

void writes_free(pg_store *st) {
  pg_write *w;
  while ((w = TAILQ_FIRST(&st->writes)) != NULL) {
    TAILQ_REMOVE(&st->writes, w, link);
    write_free(w);
  }
  while ((w = TAILQ_FIRST(&st->parked)) != NULL) {
    TAILQ_REMOVE(&st->parked, w, link);
    write_free(w);
  }
}

static int pg_insert(void *self, const json_t *record, execd_store_cb cb, void *arg) {
  return put(self, "insert", record, NULL, NULL, cb, arg);
}

static int pg_insert_claim(void *self, const json_t *record, const execd_claim_query *query,
                           execd_store_cb cb, void *arg) {
  return put(self, "insert", record, NULL, query, cb, arg);
}

static int pg_update(void *self, const json_t *record, const char *expected_state,
                     execd_store_cb cb, void *arg) {
  return put(self, "update", record, expected_state, NULL, cb, arg);
}

static int id_check(pg_store *st, const char *id) {
  if (!id || !record_id_valid(id)) {
    st->host->set_error(st->inst, "\"%.80s\" is not an execution id", id ? id : "(null)");
    return EXECD_EINVAL;
  }
  return 0;
}

static void on_removed(void *arg, PGresult *res, const char *error) {
  pg_write *w = arg;
  if (error) {
    write_done(w, query_status(res), NULL, "remove of %s: PostgreSQL: %s", w->id, error);
    return;
  }
  bool gone = PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) > 0;
  write_done(w, gone ? 0 : EXECD_ENOENT, NULL, NULL);
}

static int pg_remove(void *self, const char *id, execd_store_cb cb, void *arg) {
  pg_store *st = self;
  int rc;
  if ((rc = refuse_if_stopping(st)) || (rc = id_check(st, id)))
    return rc;
  pg_write *w = write_new(st, "remove", id, cb, arg);
  if (!w)
    return EXECD_ENOMEM;
  logs_forget(st, id);
  uvpq_query_spec q = {.stmt = "execd_remove", .nparams = 1,
                       .values = (const char *[]){id}, .lane = pg_lane(id)};
  if (uvpq_query(st->pool, &q, on_removed, w) != 0) {
    write_unqueue(st, w);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

/* --- reads ------------------------------------------------------------------- */

typedef struct pg_read {
  pg_store *st;
  char id[RECORD_ID_MAX + 1];
  unsigned limit;
  execd_store_cb cb;
  execd_list_cb list_cb;
  void *arg;
} pg_read;

static void on_get(void *arg, PGresult *res, const char *error) {
  pg_read *r = arg;
  pg_store *st = r->st;
  if (error) {
    pg_op_error(st, r->arg, "get of %s: PostgreSQL: %s", r->id, error);
    r->cb(r->arg, query_status(res), NULL);
  } else if (PQntuples(res) == 0) {
    r->cb(r->arg, EXECD_ENOENT, NULL);
  } else {
    json_t *rec = decode_or_quarantine(st, r->id, res, 0, 0);
    r->cb(r->arg, rec ? 0 : EXECD_ENOENT, rec);
    json_decref(rec);
  }
  free(r);
}

static int pg_get(void *self, const char *id, execd_store_cb cb, void *arg) {
  pg_store *st = self;
  int rc;
  if ((rc = refuse_if_stopping(st)) || (rc = id_check(st, id)))
    return rc;
  pg_read *r = calloc(1, sizeof *r);
  if (!r) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  r->st = st;
  snprintf(r->id, sizeof r->id, "%s", id);
  r->cb = cb;
  r->arg = arg;
  uvpq_query_spec q = {.stmt = "execd_get", .nparams = 1,
                       .values = (const char *[]){id}, .lane = pg_lane(id)};
  if (uvpq_query(st->pool, &q, on_get, r) != 0) {
    free(r);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

static void on_list(void *arg, PGresult *res, const char *error) {
  pg_read *r = arg;
  pg_store *st = r->st;
  if (error) {
    pg_op_error(st, r->arg, "list: PostgreSQL: %s", error);
    r->list_cb(r->arg, query_status(res), NULL, NULL);
    free(r);
    return;
  }
  int rows = PQntuples(res);
  int take = rows > (int)r->limit ? (int)r->limit : rows;
  json_t *out = json_array();
  for (int i = 0; out && i < take; i++) {
    json_t *rec = decode_or_quarantine(st, PQgetvalue(res, i, 0), res, i, 1);
    if (rec)
      json_array_append_new(out, rec);
  }
  /* More rows than the page: the page's last id is where the next starts. */
  const char *cursor = rows > (int)r->limit ? PQgetvalue(res, take - 1, 0) : NULL;
  if (!out) {
    pg_op_error(st, r->arg, "out of memory");
    r->list_cb(r->arg, EXECD_ENOMEM, NULL, NULL);
  } else {
    r->list_cb(r->arg, 0, out, cursor);
  }
  json_decref(out);
  free(r);
}

/* A filter value: a column's string (no longer than the column takes). */
static int filter_ok(pg_store *st, const char *name, const char *v) {
  if (v && strlen(v) > ROW_KEY_MAX) {
    st->host->set_error(st->inst, "list filter %s is over %d bytes", name, ROW_KEY_MAX);
    return EXECD_EINVAL;
  }
  return 0;
}

static int pg_list(void *self, const execd_list_query *query, execd_list_cb cb,
                   void *arg) {
  pg_store *st = self;
  int rc;
  if ((rc = refuse_if_stopping(st)))
    return rc;
  execd_list_query qq = {0};
  memcpy(&qq, query, query->struct_size < sizeof qq ? query->struct_size : sizeof qq);
  if ((rc = filter_ok(st, "tenant", qq.tenant)) || (rc = filter_ok(st, "state", qq.state)) ||
      (rc = filter_ok(st, "agent", qq.agent)))
    return rc;
  if (qq.cursor && !record_id_valid(qq.cursor)) {
    st->host->set_error(st->inst, "cursor \"%.40s\" is not one this storage gave", qq.cursor);
    return EXECD_EINVAL;
  }
  int64_t after_ms = 0, before_ms = 0;
  if (qq.created_after && record_parse_time(qq.created_after, &after_ms) != 0) {
    st->host->set_error(st->inst, "created_after \"%.40s\" is not an RFC 3339 time",
                        qq.created_after);
    return EXECD_EINVAL;
  }
  if (qq.created_before && record_parse_time(qq.created_before, &before_ms) != 0) {
    st->host->set_error(st->inst, "created_before \"%.40s\" is not an RFC 3339 time",
                        qq.created_before);
    return EXECD_EINVAL;
  }
  unsigned limit = qq.limit ? qq.limit : LIST_DEFAULT_LIMIT;
  if (limit > LIST_MAX_LIMIT)
    limit = LIST_MAX_LIMIT;

  /* The statement is made of fixed fragments, one per filter present;
   * every value is a parameter. */
  char sql[1024], after[32], before[32], lim[16];
  const char *values[9];
  int n = 0;
  size_t len = (size_t)snprintf(sql, sizeof sql,
                                "SELECT id, doc FROM execd_executions WHERE true");
#define FILTER(fragment, value)                                                 \
  do {                                                                          \
    values[n++] = (value);                                                      \
    len += (size_t)snprintf(sql + len, sizeof sql - len, fragment, n);          \
  } while (0)
  if (qq.tenant)
    FILTER(" AND tenant = $%d", qq.tenant);
  if (qq.state)
    FILTER(" AND state = $%d", qq.state);
  if (qq.agent)
    FILTER(" AND agent = $%d", qq.agent);
  if (qq.label_key && qq.label_value) {
    values[n++] = qq.label_key;
    values[n++] = qq.label_value;
    len += (size_t)snprintf(sql + len, sizeof sql - len,
                            " AND labels @> jsonb_build_object($%d::text, $%d::text)",
                            n - 1, n);
  } else if (qq.label_key) {
    FILTER(" AND labels ? $%d", qq.label_key);
  }
  if (qq.created_after) {
    snprintf(after, sizeof after, "%lld", (long long)after_ms);
    FILTER(" AND created_ms >= $%d::bigint", after);
  }
  if (qq.created_before) {
    snprintf(before, sizeof before, "%lld", (long long)before_ms);
    FILTER(" AND created_ms < $%d::bigint", before);
  }
  if (qq.cursor)
    FILTER(" AND id < $%d", qq.cursor);
  snprintf(lim, sizeof lim, "%u", limit + 1);
  FILTER(" ORDER BY id DESC LIMIT $%d::int", lim);
#undef FILTER

  pg_read *r = calloc(1, sizeof *r);
  if (!r) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  r->st = st;
  r->limit = limit;
  r->list_cb = cb;
  r->arg = arg;
  uvpq_query_spec q = {.sql = sql, .nparams = n, .values = values, .lane = -1};
  if (uvpq_query(st->pool, &q, on_list, r) != 0) {
    free(r);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

/* --- logs, health ------------------------------------------------------------ */

static int pg_log_append(void *self, const char *id, const char *data, size_t len) {
  pg_store *st = self;
  int rc;
  if ((rc = refuse_if_stopping(st)) || (rc = id_check(st, id)))
    return rc;
  return logs_append(st, id, data, len);
}

static int pg_log_read(void *self, const char *id, uint64_t offset, size_t max,
                       execd_log_cb cb, void *arg) {
  pg_store *st = self;
  int rc;
  if ((rc = refuse_if_stopping(st)) || (rc = id_check(st, id)))
    return rc;
  return logs_read(st, id, offset, max, cb, arg);
}

static int pg_log_marks(void *self, const char *id, uint64_t from, uint64_t to,
                        execd_log_marks_cb cb, void *arg) {
  pg_store *st = self;
  int rc;
  if ((rc = refuse_if_stopping(st)) || (rc = id_check(st, id)))
    return rc;
  return logs_marks(st, id, from, to, cb, arg);
}

static int pg_health(void *self) {
  pg_store *st = self;
  if (st->pool && uvpq_pool_usable(st->pool) > 0)
    return 0;
  const char *why = st->pool ? uvpq_pool_last_error(st->pool) : "";
  st->host->set_error(st->inst, "PostgreSQL is unreachable%s%s", why[0] ? ": " : "",
                      why);
  return EXECD_EUNAVAIL;
}

/* --- several nodes: claim, rescue, renew (claims.c) ------------------------- */

static bool node_ok(pg_store *st, const char *node) {
  if (node && node[0] && strlen(node) <= ROW_KEY_MAX)
    return true;
  st->host->set_error(st->inst, "a node name of 1 to %d bytes is needed", ROW_KEY_MAX);
  return false;
}

/* The rows of execd_claim or execd_rescue: each record with its lease. */
static void on_leased(void *arg, PGresult *res, const char *error) {
  pg_read *r = arg;
  pg_store *st = r->st;
  if (error) {
    pg_op_error(st, r->arg, "%s: PostgreSQL: %s", r->id, error);
    r->list_cb(r->arg, query_status(res), NULL, NULL);
    free(r);
    return;
  }
  json_t *out = json_array();
  for (int i = 0; out && i < PQntuples(res); i++) {
    json_t *rec = decode_or_quarantine(st, PQgetvalue(res, i, 0), res, i, 1);
    if (!rec)
      continue;
    json_object_set_new(rec, "lease",
                        json_pack("{s:s, s:I, s:I}", "node", PQgetvalue(res, i, 3),
                                  "token", (json_int_t)strtoll(PQgetvalue(res, i, 2), NULL, 10),
                                  "expires",
                                  (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10)));
    json_array_append_new(out, rec);
  }
  if (!out) {
    pg_op_error(st, r->arg, "out of memory");
    r->list_cb(r->arg, EXECD_ENOMEM, NULL, NULL);
  } else {
    r->list_cb(r->arg, 0, out, NULL);
  }
  json_decref(out);
  free(r);
}

static int leased_query(pg_store *st, const char *what, const char *stmt,
                        const execd_claim_query *query, const char *backends,
                        execd_list_cb cb, void *arg) {
  int rc;
  if ((rc = refuse_if_stopping(st)))
    return rc;
  if (!node_ok(st, query->node))
    return EXECD_EINVAL;
  pg_read *r = calloc(1, sizeof *r);
  if (!r) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  r->st = st;
  snprintf(r->id, sizeof r->id, "%s", what);
  r->list_cb = cb;
  r->arg = arg;
  char lease[24], max[16];
  snprintf(lease, sizeof lease, "%llu", (unsigned long long)query->lease_ms);
  snprintf(max, sizeof max, "%u", query->max > 10000 ? 10000 : query->max);
  uvpq_query_spec q = {.stmt = stmt, .nparams = backends ? 4 : 3,
                       .values = (const char *[]){query->node, lease, max, backends},
                       .lane = -1};
  if (uvpq_query(st->lease_pool, &q, on_leased, r) != 0) {
    free(r);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

static int pg_claim(void *self, const execd_claim_query *query, execd_list_cb cb,
                    void *arg) {
  pg_store *st = self;
  json_t *names = json_array();
  for (size_t i = 0; names && i < query->n_backends; i++)
    json_array_append_new(names, json_string(query->backends[i]));
  char *backends = names ? json_dumps(names, JSON_COMPACT) : NULL;
  json_decref(names);
  if (!backends) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  int rc = leased_query(st, "claim", "execd_claim", query, backends, cb, arg);
  free(backends);
  return rc;
}

static int pg_rescue(void *self, const execd_claim_query *query, execd_list_cb cb,
                     void *arg) {
  return leased_query(self, "rescue", "execd_rescue", query, NULL, cb, arg);
}

static void on_renewed(void *arg, PGresult *res, const char *error) {
  pg_read *r = arg;
  pg_store *st = r->st;
  if (error) {
    pg_op_error(st, r->arg, "renew: PostgreSQL: %s", error);
    r->list_cb(r->arg, query_status(res), NULL, NULL);
    free(r);
    return;
  }
  json_t *ids = json_array();
  for (int i = 0; ids && i < PQntuples(res); i++)
    json_array_append_new(ids, json_string(PQgetvalue(res, i, 0)));
  r->list_cb(r->arg, ids ? 0 : EXECD_ENOMEM, ids, NULL);
  json_decref(ids);
  free(r);
}

static int pg_renew(void *self, const char *node, uint64_t lease_ms, const json_t *leases,
                    execd_list_cb cb, void *arg) {
  pg_store *st = self;
  int rc;
  if ((rc = refuse_if_stopping(st)))
    return rc;
  if (!node_ok(st, node))
    return EXECD_EINVAL;
  if (!json_is_array(leases)) {
    st->host->set_error(st->inst, "renew: leases must be an array");
    return EXECD_EINVAL;
  }
  char *text = json_dumps(leases, JSON_COMPACT);
  pg_read *r = text ? calloc(1, sizeof *r) : NULL;
  if (!r) {
    free(text);
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  r->st = st;
  r->list_cb = cb;
  r->arg = arg;
  char lease[24];
  snprintf(lease, sizeof lease, "%llu", (unsigned long long)lease_ms);
  uvpq_query_spec q = {.stmt = "execd_renew", .nparams = 3,
                       .values = (const char *[]){node, lease, text}, .lane = -1};
  rc = uvpq_query(st->lease_pool, &q, on_renewed, r);
  free(text);
  if (rc != 0) {
    free(r);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

static int pg_watch_work(void *self, void (*wake)(void *arg), void *arg) {
  return listen_watch(self, wake, arg);
}

const execd_storage_ops pg_storage_ops = {
    .struct_size = sizeof(execd_storage_ops),
    .insert = pg_insert,
    .update = pg_update,
    .get = pg_get,
    .list = pg_list,
    .remove = pg_remove,
    .log_append = pg_log_append,
    .log_read = pg_log_read,
    .health = pg_health,
    .log_marks = pg_log_marks,
    .claim = pg_claim,
    .rescue = pg_rescue,
    .renew = pg_renew,
    .watch_work = pg_watch_work,
    .insert_claim = pg_insert_claim,
};

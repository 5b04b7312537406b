/* Logs of the postgres storage: bytes from log_append are buffered per
 * execution and sent as one chunk (a row of execd_log_chunks, with the
 * time its first byte arrived: the chunk's time mark) when the buffer
 * reaches FLUSH_BYTES, after FLUSH_MS, or before the next update, read or
 * marks query of the execution (on its lane, so they see the bytes).  The
 * cap is applied by execd_log_append in the database, which ends a cut log
 * with the same marker as the file storage. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_internal.h"

#define FLUSH_BYTES (64u << 10)
#define FLUSH_MS 100
#define READ_MAX (16u << 20)
/* Executions remembered as capped (their bytes are dropped here); past
 * this many the memory is cleared and the database drops them instead. */
#define CAPPED_MAX 10000

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned bucket_of(const char *id) { return (unsigned)pg_lane(id) % LOG_BUCKETS; }

static log_buffer *find(pg_store *st, const char *id, bool create) {
  log_buffer **head = &st->logs[bucket_of(id)];
  for (log_buffer *b = *head; b; b = b->next)
    if (strcmp(b->id, id) == 0)
      return b;
  if (!create)
    return NULL;
  log_buffer *b = calloc(1, sizeof *b);
  if (!b)
    return NULL;
  snprintf(b->id, sizeof b->id, "%s", id);
  b->next = *head;
  *head = b;
  return b;
}

static void unlink_free(pg_store *st, log_buffer *b) {
  log_buffer **p = &st->logs[bucket_of(b->id)];
  while (*p && *p != b)
    p = &(*p)->next;
  if (*p)
    *p = b->next;
  if (b->capped && st->logs_capped)
    st->logs_capped--;
  free(b->data);
  free(b);
}

static void on_flush_timer(uv_timer_t *t) { logs_flush_all(t->data); }
static void on_flush_timer_requeued(uv_timer_t *t) { logs_flush_all(t->data); }

typedef struct flush_ctx {
  pg_store *st;
  char id[RECORD_ID_MAX + 1];
  size_t len;
  char *data;          /* the bytes, kept to be sent again */
  bool dropped;
  int64_t received_us;
} flush_ctx;

/* The connection was lost before an answer: the bytes go back in front of
 * what was buffered since, to be sent with the next flush of the id (the
 * chunk is not written twice: its offset is the log's size, and a chunk
 * that had committed moved the size on, so at worst a resend repeats
 * bytes after a commit whose answer was lost). */
static bool requeue(pg_store *st, flush_ctx *f) {
  log_buffer *b = find(st, f->id, true);
  if (!b || b->capped)
    return b != NULL;
  size_t total = f->len + b->len;
  if (total > st->log_max)
    return false;
  char *data = malloc(total ? total : 1);
  if (!data)
    return false;
  if (f->len)
    memcpy(data, f->data, f->len);
  if (b->len)
    memcpy(data + f->len, b->data, b->len);
  bool was_clean = !b->len && !b->dropped;
  free(b->data);
  b->data = data;
  b->len = b->cap = total;
  b->dropped = b->dropped || f->dropped;
  b->received_us = f->received_us;
  if (was_clean)
    st->logs_dirty++;
  if (st->log_timer_open && !uv_is_active((uv_handle_t *)&st->log_timer))
    uv_timer_start(&st->log_timer, on_flush_timer_requeued, 500, 0);
  return true;
}

static void on_flushed(void *arg, PGresult *res, const char *error) {
  flush_ctx *f = arg;
  pg_store *st = f->st;
  if (error && !res && !st->stopping && requeue(st, f)) {
    free(f->data);
    free(f);
    return;
  }
  if (error) {
    st->host->log(st->inst, EXECD_LOG_ERR, "%zu log bytes of execution %s were "
                  "not stored: %s", f->len, f->id, error);
  } else if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't') {
    if (st->logs_capped >= CAPPED_MAX) {
      for (size_t i = 0; i < LOG_BUCKETS; i++) {
        log_buffer **p = &st->logs[i];
        while (*p) {
          log_buffer *b = *p;
          if (b->capped && !b->len) {
            *p = b->next;
            free(b->data);
            free(b);
          } else {
            p = &b->next;
          }
        }
      }
      st->logs_capped = 0;
    }
    log_buffer *b = find(st, f->id, true);
    if (b && !b->capped) {
      b->capped = true;
      st->logs_capped++;
      free(b->data); /* the database would drop them */
      b->data = NULL;
      b->len = b->cap = 0;
      b->dropped = false;
    }
  }
  free(f->data);
  free(f);
}

static void flush_buffer(pg_store *st, log_buffer *b) {
  if (!b->len && !b->dropped)
    return;
  flush_ctx *f = calloc(1, sizeof *f);
  if (f) {
    f->st = st;
    snprintf(f->id, sizeof f->id, "%s", b->id);
    f->len = b->len;
    f->dropped = b->dropped;
    f->received_us = b->received_us;
    f->data = b->data; /* taken: the buffer lets go of it below */
    b->data = NULL;
    b->cap = 0;
    char at[32], cap[32];
    snprintf(at, sizeof at, "%lld", (long long)b->received_us);
    snprintf(cap, sizeof cap, "%llu", (unsigned long long)st->log_max);
    uvpq_query_spec q = {
        .stmt = "execd_log_append", .nparams = 5,
        .values = (const char *[]){b->id, f->data ? f->data : "", at, cap,
                                   b->dropped ? "true" : "false"},
        .lengths = (const int[]){0, (int)b->len, 0, 0, 0},
        .formats = (const int[]){0, 1, 0, 0, 0},
        .lane = pg_lane(b->id)};
    if (uvpq_query(st->pool, &q, on_flushed, f) != 0) {
      free(f->data);
      free(f);
    }
  } else {
    st->host->log(st->inst, EXECD_LOG_ERR, "out of memory: %zu log bytes of "
                  "execution %s were not stored", b->len, b->id);
  }
  if (st->logs_dirty)
    st->logs_dirty--;
  if (b->capped) { /* keep the mark that drops later bytes */
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->dropped = false;
  } else {
    unlink_free(st, b);
  }
}


int logs_append(pg_store *st, const char *id, const char *data, size_t len) {
  log_buffer *b = find(st, id, true);
  if (!b) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  if (b->capped)
    return EXECD_ETOOBIG;
  bool was_clean = !b->len && !b->dropped;
  /* A buffer never holds more than the log may. */
  size_t room = st->log_max > b->len ? (size_t)(st->log_max - b->len) : 0;
  size_t take = len < room ? len : room;
  if (take) {
    if (b->len + take > b->cap) {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + take)
        cap *= 2;
      char *grown = realloc(b->data, cap);
      if (!grown) {
        st->host->set_error(st->inst, "out of memory");
        return EXECD_ENOMEM;
      }
      b->data = grown;
      b->cap = cap;
    }
    if (!b->len)
      b->received_us = now_us();
    memcpy(b->data + b->len, data, take);
    b->len += take;
  }
  if (take < len) {
    b->dropped = true;
    if (!b->received_us)
      b->received_us = now_us();
  }
  if (was_clean && (b->len || b->dropped))
    st->logs_dirty++;
  if (b->len >= FLUSH_BYTES || b->dropped)
    flush_buffer(st, b);
  else if (st->log_timer_open && !uv_is_active((uv_handle_t *)&st->log_timer))
    uv_timer_start(&st->log_timer, on_flush_timer, FLUSH_MS, 0);
  return take < len ? EXECD_ETOOBIG : 0;
}

void logs_flush_id(pg_store *st, const char *id) {
  log_buffer *b = find(st, id, false);
  if (b)
    flush_buffer(st, b);
}

void logs_flush_all(pg_store *st) {
  for (size_t i = 0; i < LOG_BUCKETS && st->logs_dirty; i++) {
    log_buffer *b = st->logs[i];
    while (b) {
      log_buffer *next = b->next;
      flush_buffer(st, b);
      b = next;
    }
  }
}

void logs_forget(pg_store *st, const char *id) {
  log_buffer *b = find(st, id, false);
  if (b) {
    if ((b->len || b->dropped) && st->logs_dirty)
      st->logs_dirty--;
    unlink_free(st, b);
  }
}

void logs_free_all(pg_store *st) {
  for (size_t i = 0; i < LOG_BUCKETS; i++) {
    while (st->logs[i])
      unlink_free(st, st->logs[i]);
  }
  st->logs_dirty = 0;
}

/* --- reads ------------------------------------------------------------------ */

typedef struct log_req {
  pg_store *st;
  char id[RECORD_ID_MAX + 1];
  uint64_t offset;
  execd_log_cb cb;
  execd_log_marks_cb marks_cb;
  void *arg;
} log_req;

static log_req *req_new(pg_store *st, const char *id, void *arg) {
  log_req *r = calloc(1, sizeof *r);
  if (!r) {
    st->host->set_error(st->inst, "out of memory");
    return NULL;
  }
  r->st = st;
  snprintf(r->id, sizeof r->id, "%s", id);
  r->arg = arg;
  return r;
}

static void on_log_read(void *arg, PGresult *res, const char *error) {
  log_req *r = arg;
  if (error) {
    pg_op_error(r->st, r->arg, "log of %s: PostgreSQL: %s", r->id, error);
    r->cb(r->arg, res ? EXECD_EIO : EXECD_EUNAVAIL, NULL, 0, r->offset);
  } else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
    r->cb(r->arg, EXECD_ENOENT, NULL, 0, r->offset);
  } else {
    size_t len = (size_t)PQgetlength(res, 0, 0); /* binary: the raw bytes */
    r->cb(r->arg, 0, PQgetvalue(res, 0, 0), len, r->offset + len);
  }
  free(r);
}

int logs_read(pg_store *st, const char *id, uint64_t offset, size_t max,
              execd_log_cb cb, void *arg) {
  if (offset > (uint64_t)INT64_MAX / 2) {
    st->host->set_error(st->inst, "log offset %llu is out of range",
                        (unsigned long long)offset);
    return EXECD_EINVAL;
  }
  log_req *r = req_new(st, id, arg);
  if (!r)
    return EXECD_ENOMEM;
  r->offset = offset;
  r->cb = cb;
  logs_flush_id(st, id);
  char off[32], mx[32];
  snprintf(off, sizeof off, "%llu", (unsigned long long)offset);
  snprintf(mx, sizeof mx, "%zu", max < READ_MAX ? max : READ_MAX);
  uvpq_query_spec q = {.stmt = "execd_log_read", .nparams = 3,
                       .values = (const char *[]){id, off, mx},
                       .result_binary = true, .lane = pg_lane(id)};
  if (uvpq_query(st->pool, &q, on_log_read, r) != 0) {
    free(r);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

static void on_log_marks(void *arg, PGresult *res, const char *error) {
  log_req *r = arg;
  if (error) {
    pg_op_error(r->st, r->arg, "log marks of %s: PostgreSQL: %s", r->id, error);
    r->marks_cb(r->arg, res ? EXECD_EIO : EXECD_EUNAVAIL, NULL, 0);
    free(r);
    return;
  }
  int rows = PQntuples(res);
  /* The first row (offset -1) says the execution exists. */
  if (rows == 0 || strcmp(PQgetvalue(res, 0, 0), "-1") != 0) {
    r->marks_cb(r->arg, EXECD_ENOENT, NULL, 0);
    free(r);
    return;
  }
  size_t n = (size_t)rows - 1;
  execd_log_mark *marks = calloc(n ? n : 1, sizeof *marks);
  if (!marks) {
    pg_op_error(r->st, r->arg, "out of memory");
    r->marks_cb(r->arg, EXECD_ENOMEM, NULL, 0);
    free(r);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    marks[i].offset = strtoull(PQgetvalue(res, (int)i + 1, 0), NULL, 10);
    marks[i].time_us = strtoll(PQgetvalue(res, (int)i + 1, 1), NULL, 10);
  }
  r->marks_cb(r->arg, 0, marks, n);
  free(marks);
  free(r);
}

int logs_marks(pg_store *st, const char *id, uint64_t from, uint64_t to,
               execd_log_marks_cb cb, void *arg) {
  if (from > (uint64_t)INT64_MAX / 2 || to > (uint64_t)INT64_MAX / 2) {
    st->host->set_error(st->inst, "log range is out of range");
    return EXECD_EINVAL;
  }
  log_req *r = req_new(st, id, arg);
  if (!r)
    return EXECD_ENOMEM;
  r->marks_cb = cb;
  logs_flush_id(st, id);
  char f[32], t[32];
  snprintf(f, sizeof f, "%llu", (unsigned long long)from);
  snprintf(t, sizeof t, "%llu", (unsigned long long)to);
  uvpq_query_spec q = {.stmt = "execd_log_marks", .nparams = 3,
                       .values = (const char *[]){id, f, t}, .lane = pg_lane(id)};
  if (uvpq_query(st->pool, &q, on_log_marks, r) != 0) {
    free(r);
    st->host->set_error(st->inst, "the storage is closing");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

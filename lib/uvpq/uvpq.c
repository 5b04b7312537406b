/* See uvpq.h.  One connection is a small state machine:
 *
 *   CONNECTING  PQconnectPoll steps, the socket watched for what it asks
 *   SETUP       statement_timeout, then each statement prepared, one by one
 *   READY       queries from its queue, one at a time
 *   BACKOFF     lost: its queries failed, a timer before connecting again
 *   CLOSED      finished by uvpq_pool_close
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvpq.h"

#define DEFAULT_BACKOFF_MIN_MS 100
#define DEFAULT_BACKOFF_MAX_MS 5000
#define ERROR_MAX 512

typedef struct uvpq_req {
  struct uvpq_req *next;
  char *stmt;      /* owned copies, in the block of the request */
  char *sql;
  int nparams;
  char **values;
  int *lengths;
  int *formats;
  bool binary;
  bool simple;
  uvpq_result_cb cb;
  void *arg;
  char error[ERROR_MAX]; /* why it failed, when it waits to be told so */
} uvpq_req;

typedef struct req_queue {
  uvpq_req *head, *tail;
  size_t n;
} req_queue;

enum conn_state { C_NEW, C_CONNECTING, C_SETUP, C_READY, C_BACKOFF, C_CLOSED };

typedef struct uvpq_conn {
  uvpq_pool *pool;
  unsigned index;
  enum conn_state state;
  PGconn *pg;
  uv_poll_t *poll; /* heap: it outlives the connection until its close cb */
  int poll_events;
  uv_timer_t timer; /* the backoff before reconnecting */
  unsigned backoff_ms;
  bool down;        /* lost (or never reached) since it was last READY */
  size_t setup_step; /* SETUP: 0 statement_timeout, then 1 + statement index */
  bool setup_running;
  req_queue queue;
  uvpq_req *running; /* the user query sent, or NULL */
  PGresult *result;  /* the newest result of what is running */
} uvpq_conn;

struct uvpq_pool {
  uv_loop_t *loop;
  char *conninfo;
  unsigned n;
  uvpq_conn *conns;
  unsigned statement_timeout_ms;
  unsigned backoff_min_ms, backoff_max_ms;
  const uvpq_statement *statements;
  size_t n_statements;
  void (*log)(void *arg, int level, const char *msg);
  void *log_arg;

  uv_timer_t defer; /* delivers failures from the loop, never inline */
  req_queue failed;
  unsigned handles; /* open handles: timers and polls */
  bool started, closing, freed;
  void (*done)(void *arg);
  void *done_arg;
  char last_error[ERROR_MAX];
};

static void conn_connect(uvpq_conn *c);
static void conn_next(uvpq_conn *c);
static void pool_check_closed(uvpq_pool *p);

static void plog(uvpq_pool *p, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void plog(uvpq_pool *p, int level, const char *fmt, ...) {
  if (!p->log)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  p->log(p->log_arg, level, msg);
}

/* libpq's messages span lines ("FATAL: ...\nserver closed ...\n\tThis
 * probably means..."): one line, for logs and error details. */
static void copy_error(char *dst, size_t size, const char *msg) {
  snprintf(dst, size, "%s", msg && *msg ? msg : "unknown error");
  size_t n = strlen(dst);
  while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
    dst[--n] = '\0';
  for (char *p = dst; *p; p++)
    if (*p == '\n' || *p == '\t')
      *p = ' ';
}

/* --- queues ------------------------------------------------------------ */

static void q_push(req_queue *q, uvpq_req *r) {
  r->next = NULL;
  if (q->tail)
    q->tail->next = r;
  else
    q->head = r;
  q->tail = r;
  q->n++;
}

static uvpq_req *q_pop(req_queue *q) {
  uvpq_req *r = q->head;
  if (r) {
    q->head = r->next;
    if (!q->head)
      q->tail = NULL;
    q->n--;
  }
  return r;
}

static uvpq_req *req_new(const uvpq_query_spec *s, uvpq_result_cb cb, void *arg) {
  size_t n = (size_t)s->nparams;
  size_t size = sizeof(uvpq_req) + n * (sizeof(char *) + 2 * sizeof(int));
  size_t text_at = size;
  size += (s->stmt ? strlen(s->stmt) + 1 : 0) + (s->sql ? strlen(s->sql) + 1 : 0);
  size_t *lens = n ? calloc(n, sizeof *lens) : NULL;
  if (n && !lens)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (!s->values[i])
      continue;
    bool bin = s->formats && s->formats[i];
    lens[i] = bin ? (size_t)s->lengths[i] : strlen(s->values[i]) + 1;
    size += lens[i];
  }
  char *block = calloc(1, size);
  if (!block) {
    free(lens);
    return NULL;
  }
  uvpq_req *r = (uvpq_req *)block;
  r->nparams = s->nparams;
  r->values = (char **)(block + sizeof(uvpq_req));
  r->lengths = (int *)(block + sizeof(uvpq_req) + n * sizeof(char *));
  r->formats = r->lengths + n;
  char *at = block + text_at;
  if (s->stmt) {
    r->stmt = at;
    strcpy(at, s->stmt);
    at += strlen(s->stmt) + 1;
  }
  if (s->sql) {
    r->sql = at;
    strcpy(at, s->sql);
    at += strlen(s->sql) + 1;
  }
  for (size_t i = 0; i < n; i++) {
    r->formats[i] = s->formats ? s->formats[i] : 0;
    if (!s->values[i])
      continue;
    memcpy(at, s->values[i], lens[i]);
    r->values[i] = at;
    r->lengths[i] = r->formats[i] ? (int)lens[i] : 0;
    at += lens[i];
  }
  free(lens);
  r->binary = s->result_binary;
  r->simple = s->simple && s->sql && !s->nparams;
  r->cb = cb;
  r->arg = arg;
  return r;
}

/* --- failures, delivered from the loop -------------------------------------- */

static void on_defer(uv_timer_t *t) {
  uvpq_pool *p = t->data;
  /* Failures queued while these run wait for the next turn. */
  req_queue batch = p->failed;
  p->failed = (req_queue){0};
  uvpq_req *r;
  while ((r = q_pop(&batch)) != NULL) {
    r->cb(r->arg, NULL, r->error);
    free(r);
  }
  pool_check_closed(p);
}

static void fail_later(uvpq_pool *p, uvpq_req *r, const char *why) {
  copy_error(r->error, sizeof r->error, why);
  q_push(&p->failed, r);
  uv_timer_start(&p->defer, on_defer, 0, 0);
}

static void fail_queue(uvpq_conn *c, const char *why) {
  uvpq_req *r;
  while ((r = q_pop(&c->queue)) != NULL)
    fail_later(c->pool, r, why);
}

/* --- the socket -------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  uvpq_pool *p = h->data;
  if (h->type == UV_POLL)
    free(h);
  p->handles--;
  pool_check_closed(p);
}

static void unwatch(uvpq_conn *c) {
  if (!c->poll)
    return;
  uv_poll_stop(c->poll); /* removes the fd from epoll before libpq closes it */
  c->poll->data = c->pool;
  uv_close((uv_handle_t *)c->poll, on_handle_closed);
  c->poll = NULL;
  c->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches c's socket for events; a new handle when fresh is set (the
 * socket may be another one between connection steps). */
static int watch(uvpq_conn *c, int events, bool fresh) {
  if (fresh)
    unwatch(c);
  if (!c->poll) {
    int fd = PQsocket(c->pg);
    if (fd < 0)
      return -1;
    c->poll = malloc(sizeof *c->poll);
    if (!c->poll)
      return -1;
    if (uv_poll_init(c->pool->loop, c->poll, fd) != 0) {
      free(c->poll);
      c->poll = NULL;
      return -1;
    }
    c->poll->data = c;
    c->pool->handles++;
  }
  if (events != c->poll_events) {
    if (uv_poll_start(c->poll, events, on_poll) != 0)
      return -1;
    c->poll_events = events;
  }
  return 0;
}

/* --- losing and making connections ------------------------------------ */

static void on_backoff(uv_timer_t *t) {
  uvpq_conn *c = t->data;
  if (c->state == C_BACKOFF)
    conn_connect(c);
}

static void conn_finish(uvpq_conn *c) {
  unwatch(c);
  if (c->pg) {
    PQfinish(c->pg);
    c->pg = NULL;
  }
  if (c->result) {
    PQclear(c->result);
    c->result = NULL;
  }
}

static void conn_broken(uvpq_conn *c, const char *why) {
  uvpq_pool *p = c->pool;
  char msg[ERROR_MAX];
  copy_error(msg, sizeof msg, why);
  snprintf(p->last_error, sizeof p->last_error, "%s", msg);
  if (!c->down)
    plog(p, UVPQ_LOG_WARNING, "PostgreSQL connection %u lost: %s", c->index, msg);
  c->down = true;
  if (c->running) {
    fail_later(p, c->running, msg);
    c->running = NULL;
  }
  fail_queue(c, msg);
  c->setup_running = false;
  conn_finish(c);
  if (p->closing) {
    c->state = C_CLOSED;
    pool_check_closed(p);
    return;
  }
  c->state = C_BACKOFF;
  uv_timer_start(&c->timer, on_backoff, c->backoff_ms, 0);
  c->backoff_ms = c->backoff_ms * 2 > p->backoff_max_ms ? p->backoff_max_ms
                                                         : c->backoff_ms * 2;
}

/* Sends the next setup step, or becomes READY after the last. */
static void setup_next(uvpq_conn *c) {
  uvpq_pool *p = c->pool;
  int ok = 1;
  if (c->setup_step == 0) {
    c->setup_step = 1;
    if (p->statement_timeout_ms) {
      char ms[32];
      snprintf(ms, sizeof ms, "%u", p->statement_timeout_ms);
      const char *v[1] = {ms};
      ok = PQsendQueryParams(c->pg, "SELECT set_config('statement_timeout', $1, false)",
                             1, NULL, v, NULL, NULL, 0);
      goto sent;
    }
  }
  if (c->setup_step - 1 < p->n_statements) {
    const uvpq_statement *s = &p->statements[c->setup_step - 1];
    c->setup_step++;
    ok = PQsendPrepare(c->pg, s->name, s->sql, 0, NULL);
    goto sent;
  }
  c->state = C_READY;
  c->backoff_ms = p->backoff_min_ms;
  if (c->down)
    plog(p, UVPQ_LOG_INFO, "PostgreSQL connection %u ready", c->index);
  c->down = false;
  if (p->closing && !c->queue.n) {
    c->state = C_CLOSED;
    conn_finish(c);
    pool_check_closed(p);
    return;
  }
  conn_next(c);
  return;
sent:
  if (!ok) {
    conn_broken(c, PQerrorMessage(c->pg));
    return;
  }
  c->setup_running = true;
  int f = PQflush(c->pg);
  if (f < 0 || watch(c, UV_READABLE | (f ? UV_WRITABLE : 0), false) != 0)
    conn_broken(c, PQerrorMessage(c->pg));
}

static void connect_continue(uvpq_conn *c, PostgresPollingStatusType st) {
  if (st == PGRES_POLLING_FAILED) {
    conn_broken(c, PQerrorMessage(c->pg));
    return;
  }
  if (st == PGRES_POLLING_OK) {
    if (PQsetnonblocking(c->pg, 1) != 0) {
      conn_broken(c, PQerrorMessage(c->pg));
      return;
    }
    c->state = C_SETUP;
    c->setup_step = 0;
    unwatch(c); /* from here the socket stays the same */
    setup_next(c);
    return;
  }
  if (watch(c, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE, true) != 0)
    conn_broken(c, "cannot watch the connection's socket");
}

static void ignore_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

static void conn_connect(uvpq_conn *c) {
  c->state = C_CONNECTING;
  c->pg = PQconnectStart(c->pool->conninfo);
  if (!c->pg) {
    conn_broken(c, "out of memory");
    return;
  }
  if (PQstatus(c->pg) == CONNECTION_BAD) {
    conn_broken(c, PQerrorMessage(c->pg));
    return;
  }
  /* Notices ("relation ... already exists, skipping") would go to stderr. */
  PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
  /* libpq: behave as if the last poll had said PGRES_POLLING_WRITING. */
  connect_continue(c, PGRES_POLLING_WRITING);
}

/* --- queries ------------------------------------------------------------ */

static void conn_next(uvpq_conn *c) {
  if (c->state != C_READY || c->running)
    return;
  uvpq_req *r = q_pop(&c->queue);
  if (!r) {
    if (c->pool->closing) {
      c->state = C_CLOSED;
      conn_finish(c);
      pool_check_closed(c->pool);
      return;
    }
    /* Idle: still read, to notice the server closing the connection. */
    if (watch(c, UV_READABLE, false) != 0)
      conn_broken(c, "cannot watch the connection's socket");
    return;
  }
  c->running = r;
  int ok = r->simple ? PQsendQuery(c->pg, r->sql)
           : r->stmt
               ? PQsendQueryPrepared(c->pg, r->stmt, r->nparams,
                                     (const char *const *)r->values, r->lengths,
                                     r->formats, r->binary)
               : PQsendQueryParams(c->pg, r->sql, r->nparams, NULL,
                                   (const char *const *)r->values, r->lengths,
                                   r->formats, r->binary);
  if (!ok) {
    conn_broken(c, PQerrorMessage(c->pg));
    return;
  }
  int f = PQflush(c->pg);
  if (f < 0 || watch(c, UV_READABLE | (f ? UV_WRITABLE : 0), false) != 0)
    conn_broken(c, PQerrorMessage(c->pg));
}

/* What is running got all its results. */
static void query_done(uvpq_conn *c) {
  PGresult *res = c->result;
  c->result = NULL;
  if (c->setup_running) {
    c->setup_running = false;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      char why[ERROR_MAX];
      snprintf(why, sizeof why, "preparing the connection: %s",
               res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
      PQclear(res);
      conn_broken(c, why);
      return;
    }
    PQclear(res);
    setup_next(c);
    return;
  }
  uvpq_req *r = c->running;
  c->running = NULL;
  if (r) {
    const char *err = NULL;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      err = res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg);
    char msg[ERROR_MAX];
    if (err)
      copy_error(msg, sizeof msg, err);
    if (res)
      r->cb(r->arg, res, err ? msg : NULL);
    else
      r->cb(r->arg, NULL, msg);
    free(r);
  }
  PQclear(res);
  conn_next(c);
}

static void on_readable(uvpq_conn *c) {
  if (!PQconsumeInput(c->pg)) {
    conn_broken(c, PQerrorMessage(c->pg));
    return;
  }
  PGnotify *n;
  while ((n = PQnotifies(c->pg)) != NULL)
    PQfreemem(n);
  if (!c->running && !c->setup_running) {
    if (PQstatus(c->pg) == CONNECTION_BAD)
      conn_broken(c, PQerrorMessage(c->pg));
    return;
  }
  while (!PQisBusy(c->pg)) {
    PGresult *res = PQgetResult(c->pg);
    if (!res) {
      query_done(c);
      return;
    }
    /* One statement per query: keep the error if one came, else the last. */
    if (c->result && PQresultStatus(c->result) == PGRES_FATAL_ERROR) {
      PQclear(res);
    } else {
      PQclear(c->result);
      c->result = res;
    }
  }
  if (PQstatus(c->pg) == CONNECTION_BAD)
    conn_broken(c, PQerrorMessage(c->pg));
}

static void on_poll(uv_poll_t *h, int status, int events) {
  uvpq_conn *c = h->data;
  if (status < 0) {
    conn_broken(c, uv_strerror(status));
    return;
  }
  if (c->state == C_CONNECTING) {
    connect_continue(c, PQconnectPoll(c->pg));
    return;
  }
  if (events & UV_WRITABLE) {
    int f = PQflush(c->pg);
    if (f < 0) {
      conn_broken(c, PQerrorMessage(c->pg));
      return;
    }
    if (watch(c, UV_READABLE | (f ? UV_WRITABLE : 0), false) != 0) {
      conn_broken(c, "cannot watch the connection's socket");
      return;
    }
  }
  if (events & UV_READABLE)
    on_readable(c);
}

/* --- the pool ---------------------------------------------------------- */

uvpq_pool *uvpq_pool_new(uv_loop_t *loop, const uvpq_config *cfg, char *err,
                         size_t errlen) {
  if (!cfg->conninfo || cfg->pool_size < 1) {
    snprintf(err, errlen, "a pool needs a conninfo and at least one connection");
    return NULL;
  }
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(cfg->conninfo, &perr);
  if (!opts) {
    char msg[ERROR_MAX];
    copy_error(msg, sizeof msg, perr ? perr : "out of memory");
    snprintf(err, errlen, "conninfo: %s", msg);
    PQfreemem(perr);
    return NULL;
  }
  PQconninfoFree(opts);
  uvpq_pool *p = calloc(1, sizeof *p);
  if (!p || !(p->conninfo = strdup(cfg->conninfo)) ||
      !(p->conns = calloc(cfg->pool_size, sizeof *p->conns))) {
    if (p)
      free(p->conninfo);
    free(p);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->loop = loop;
  p->n = cfg->pool_size;
  p->statement_timeout_ms = cfg->statement_timeout_ms;
  p->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
  p->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
  if (p->backoff_max_ms < p->backoff_min_ms)
    p->backoff_max_ms = p->backoff_min_ms;
  p->statements = cfg->statements;
  p->n_statements = cfg->n_statements;
  p->log = cfg->log;
  p->log_arg = cfg->log_arg;
  uv_timer_init(loop, &p->defer);
  p->defer.data = p;
  p->handles++;
  for (unsigned i = 0; i < p->n; i++) {
    uvpq_conn *c = &p->conns[i];
    c->pool = p;
    c->index = i;
    c->state = C_NEW;
    c->backoff_ms = p->backoff_min_ms;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    p->handles++;
  }
  return p;
}

void uvpq_pool_start(uvpq_pool *p) {
  if (p->started || p->closing)
    return;
  p->started = true;
  for (unsigned i = 0; i < p->n; i++)
    conn_connect(&p->conns[i]);
}

static uvpq_conn *pick(uvpq_pool *p, long lane) {
  if (lane >= 0)
    return &p->conns[(unsigned long)lane % p->n];
  uvpq_conn *best = NULL;
  size_t best_load = SIZE_MAX;
  for (unsigned i = 0; i < p->n; i++) {
    uvpq_conn *c = &p->conns[i];
    size_t load = c->queue.n + (c->running ? 1 : 0);
    if (c->state == C_READY && load < best_load) {
      best = c;
      best_load = load;
    }
  }
  if (best)
    return best;
  for (unsigned i = 0; i < p->n; i++) /* none up yet: one not known down */
    if (!p->conns[i].down)
      return &p->conns[i];
  return &p->conns[0];
}

int uvpq_query(uvpq_pool *p, const uvpq_query_spec *q, uvpq_result_cb cb, void *arg) {
  if (p->closing)
    return -1;
  uvpq_req *r = req_new(q, cb, arg);
  if (!r)
    return -1;
  uvpq_conn *c = pick(p, q->lane);
  if (c->down) {
    char why[ERROR_MAX + 64];
    snprintf(why, sizeof why, "PostgreSQL is unreachable: %s",
             p->last_error[0] ? p->last_error : "connection down");
    fail_later(p, r, why);
    return 0;
  }
  q_push(&c->queue, r);
  conn_next(c);
  return 0;
}

unsigned uvpq_pool_ready(const uvpq_pool *p) {
  unsigned n = 0;
  for (unsigned i = 0; i < p->n; i++)
    n += p->conns[i].state == C_READY;
  return n;
}

unsigned uvpq_pool_usable(const uvpq_pool *p) {
  unsigned n = 0;
  for (unsigned i = 0; i < p->n; i++)
    n += !p->conns[i].down && p->conns[i].state != C_CLOSED;
  return n;
}

unsigned uvpq_pool_size(const uvpq_pool *p) { return p->n; }

size_t uvpq_pool_pending(const uvpq_pool *p) {
  size_t n = p->failed.n;
  for (unsigned i = 0; i < p->n; i++)
    n += p->conns[i].queue.n + (p->conns[i].running ? 1 : 0);
  return n;
}

const char *uvpq_pool_last_error(const uvpq_pool *p) { return p->last_error; }

static void pool_check_closed(uvpq_pool *p) {
  if (!p->closing || p->freed)
    return;
  if (p->failed.n)
    return; /* on_defer comes back here */
  bool all_closed = true;
  for (unsigned i = 0; i < p->n; i++)
    if (p->conns[i].state != C_CLOSED)
      all_closed = false;
  if (!all_closed)
    return;
  if (!uv_is_closing((uv_handle_t *)&p->defer)) {
    uv_close((uv_handle_t *)&p->defer, on_handle_closed);
    for (unsigned i = 0; i < p->n; i++) {
      p->conns[i].timer.data = p;
      uv_close((uv_handle_t *)&p->conns[i].timer, on_handle_closed);
    }
    return;
  }
  if (p->handles)
    return;
  p->freed = true;
  void (*done)(void *) = p->done;
  void *done_arg = p->done_arg;
  free(p->conninfo);
  free(p->conns);
  free(p);
  if (done)
    done(done_arg);
}

void uvpq_pool_close(uvpq_pool *p, void (*done)(void *arg), void *arg) {
  if (p->closing)
    return;
  p->closing = true;
  p->done = done;
  p->done_arg = arg;
  for (unsigned i = 0; i < p->n; i++) {
    uvpq_conn *c = &p->conns[i];
    uv_timer_stop(&c->timer);
    if (c->state == C_READY) {
      if (!c->running && !c->queue.n) {
        c->state = C_CLOSED;
        conn_finish(c);
      }
      continue; /* it closes once its queue is done */
    }
    /* Still connecting (not known down): it closes once it is up and its
     * queue is done, or when it fails. */
    if ((c->state == C_CONNECTING || c->state == C_SETUP) && !c->down)
      continue;
    /* Down or never started: what waits for it fails. */
    fail_queue(c, "the storage is closing");
    c->setup_running = false;
    conn_finish(c);
    c->state = C_CLOSED;
  }
  pool_check_closed(p);
}

void uvpq_pool_close_now(uvpq_pool *p, void (*done)(void *arg), void *arg) {
  if (p->closing)
    return;
  p->closing = true;
  p->done = done;
  p->done_arg = arg;
  for (unsigned i = 0; i < p->n; i++) {
    uvpq_conn *c = &p->conns[i];
    uv_timer_stop(&c->timer);
    if (c->running) {
      fail_later(p, c->running, "the pool was closed");
      c->running = NULL;
    }
    fail_queue(c, "the pool was closed");
    c->setup_running = false;
    conn_finish(c);
    c->state = C_CLOSED;
  }
  pool_check_closed(p);
}

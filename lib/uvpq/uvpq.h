/* uvpq: a bounded pool of PostgreSQL connections driven by a libuv loop
 * through libpq's asynchronous API.  Nothing here blocks the loop:
 * connections are made with PQconnectStart/PQconnectPoll and queries sent
 * with PQsendQueryPrepared/PQsendQueryParams in non-blocking mode, the
 * socket watched with uv_poll.
 *
 * Every query carries its values as parameters: SQL text comes only from
 * the caller's fixed statements, never from data.
 *
 * Each connection runs one query at a time from a FIFO queue of its own.
 * A query sent to a connection by a "lane" (an integer the caller derives
 * from, say, a record id) always goes to the same connection, so queries of
 * one lane run in the order they were queued and each sees the effects of
 * those before it.  A broken connection fails the query it was running and
 * those queued on it, then reconnects with exponential backoff; while it is
 * down, queries for it fail at once (later, from the loop) instead of
 * waiting.
 *
 * Callbacks are never called from inside uvpq_query(). */
#ifndef EXECD_UVPQ_H
#define EXECD_UVPQ_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>
#include <uv.h>

typedef struct uvpq_pool uvpq_pool;

/* A statement prepared on every connection once it is up. */
typedef struct uvpq_statement {
  const char *name;
  const char *sql;
} uvpq_statement;

enum uvpq_log_level { UVPQ_LOG_ERR = 3, UVPQ_LOG_WARNING = 4, UVPQ_LOG_INFO = 6 };

typedef struct uvpq_config {
  const char *conninfo;    /* libpq connection string (copied) */
  unsigned pool_size;      /* connections, at least 1 */
  unsigned statement_timeout_ms; /* 0: the server's default */
  unsigned backoff_min_ms; /* first delay before a reconnect (0: 100) */
  unsigned backoff_max_ms; /* longest delay (0: 5000) */
  const uvpq_statement *statements; /* borrowed for the pool's life */
  size_t n_statements;
  /* Where the pool reports connections lost and made; may be NULL. */
  void (*log)(void *arg, int level, const char *msg);
  void *log_arg;
} uvpq_config;

/* The outcome of one query.  res is the query's last result (owned by
 * uvpq, valid during the call; check PQresultStatus), or NULL when the
 * query did not run to completion, with error saying why (the connection
 * is down or was lost, or the pool is closing).  When res is an error
 * result, error is its message. */
typedef void (*uvpq_result_cb)(void *arg, PGresult *res, const char *error);

/* A new pool on loop; no connection is made before uvpq_pool_start.
 * Returns NULL with err filled if cfg is unusable. */
uvpq_pool *uvpq_pool_new(uv_loop_t *loop, const uvpq_config *cfg, char *err,
                         size_t errlen);
/* Starts connecting every connection. */
void uvpq_pool_start(uvpq_pool *p);

/* A query: a prepared statement by name (stmt) or, with stmt NULL, the SQL
 * text sql (planned each time: for statements whose shape varies).  values
 * are copied; lengths and formats may be NULL (text parameters, NUL
 * terminated); a NULL value is SQL NULL.  result_binary asks for binary
 * result columns.  lane < 0: the least busy connection that is up.
 * Returns 0, or -1 if the pool is closing (cb is then never called). */
typedef struct uvpq_query_spec {
  const char *stmt;
  const char *sql;
  int nparams;
  const char *const *values;
  const int *lengths;
  const int *formats;
  bool result_binary;
  long lane;
  /* sql holds several statements and no parameters (the simple query
   * protocol): for fixed text such as a schema. */
  bool simple;
} uvpq_query_spec;
int uvpq_query(uvpq_pool *p, const uvpq_query_spec *q, uvpq_result_cb cb,
               void *arg);

/* Connections up and ready now. */
unsigned uvpq_pool_ready(const uvpq_pool *p);
/* Connections not known to be down: up, or being made for the first time
 * or after a failure that is not yet confirmed. */
unsigned uvpq_pool_usable(const uvpq_pool *p);
/* The pool's size. */
unsigned uvpq_pool_size(const uvpq_pool *p);
/* Queries queued or running. */
size_t uvpq_pool_pending(const uvpq_pool *p);
/* The last connection error, or "". */
const char *uvpq_pool_last_error(const uvpq_pool *p);

/* Closes the pool: once no query is queued or running, every connection
 * is finished and every handle closed; then done(arg) is called (from the
 * loop) and the pool is freed.  A connection still being made finishes
 * first (and runs its queue); queries on a connection that is down fail
 * now.  No uvpq_query is accepted after this. */
void uvpq_pool_close(uvpq_pool *p, void (*done)(void *arg), void *arg);

/* Closes the pool at once: what is queued or running fails, every
 * connection is finished (a query running on the server may still end
 * there); done(arg) as with uvpq_pool_close. */
void uvpq_pool_close_now(uvpq_pool *p, void (*done)(void *arg), void *arg);

#endif

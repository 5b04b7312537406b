/* The postgres storage plugin: what its parts share.  pg.c has the plugin
 * descriptor, configuration and lifecycle; schema.c the schema, its
 * migration and the prepared statements; row.c the checks of records
 * written and the decoder of stored rows; ops.c the storage ops and the
 * order of write callbacks, and the claims of several nodes; logs.c log
 * buffering, reads and time marks; listen.c wake-ups (LISTEN/NOTIFY).
 * Everything runs on the loop thread; all SQL goes through lib/uvpq with
 * values as parameters.  doc/storage-postgres.md describes the schema. */
#ifndef EXECD_PG_INTERNAL_H
#define EXECD_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bsd/sys/queue.h>

#include <execd/plugin.h>

#include "row.h"
#include "uvpq/uvpq.h"

/* The schema version this build creates and understands. */
#define PG_SCHEMA_VERSION 2

/* Log bytes of one execution accepted but not yet sent. */
typedef struct log_buffer {
  struct log_buffer *next; /* hash chain */
  char id[RECORD_ID_MAX + 1];
  char *data;
  size_t len, cap;
  bool dropped;        /* bytes were dropped here: the marker follows */
  bool capped;         /* the stored log reached log_max: drop at once */
  int64_t received_us; /* when the first of data's bytes arrived */
} log_buffer;

#define LOG_BUCKETS 1024

/* A write (insert, update, remove) waiting for its turn to call back:
 * callbacks run in the order of the calls. */
typedef struct pg_write {
  TAILQ_ENTRY(pg_write) link;
  bool done;
  int status;
  json_t *record; /* handed to cb (a reference), or NULL */
  execd_store_cb cb;
  void *arg;
  char what[16];
  char id[RECORD_ID_MAX + 1];
  char error[512]; /* the detail of a failure, for op_error */
  struct pg_store *st;
  json_t *copy; /* insert/update: the record as stored */
  char *expected; /* update: the expected state (owned), or NULL */
  char *lease_node; /* insert_claim: the node the lease is for (owned), or NULL */
  bool parked;    /* update: held for PostgreSQL to come back */
} pg_write;

TAILQ_HEAD(pg_writes, pg_write);

typedef struct pg_store {
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;

  /* configuration */
  char *conninfo;
  unsigned pool_size;
  unsigned statement_timeout_ms;
  unsigned connect_wait_ms; /* start(): how long to wait for the schema */
  uint64_t log_max;
  uint64_t retention_ms;      /* 0: finished executions are kept */
  unsigned retention_batch;
  unsigned retention_interval_ms;

  uvpq_pool *pool;
  /* One connection of its own for claims, renewals and takeovers: a
   * renewal must not wait behind the pool's queued writes, or leases of a
   * busy node would run out while it is healthy. */
  uvpq_pool *lease_pool;
  bool stopping;

  struct pg_writes writes; /* in call order */
  size_t writes_n;
  /* Updates whose connection was lost, sent again every PARK_RETRY_MS
   * until PostgreSQL answers: a result reached while the database was
   * down is written when it is back. */
  struct pg_writes parked;
  uv_timer_t park_timer;
  bool park_timer_open;

  log_buffer *logs[LOG_BUCKETS];
  size_t logs_dirty; /* buffers with bytes */
  size_t logs_capped; /* buffers that only remember a capped log */
  uv_timer_t log_timer;
  bool log_timer_open;

  struct pg_listener *listener; /* wake-ups (listen.c), or NULL */

  uv_timer_t retention_timer;
  bool retention_timer_open;
  uint64_t retention_deleted; /* in the pass running */
} pg_store;

/* --- schema.c ------------------------------------------------------------ */
extern const uvpq_statement pg_statements[];
extern const size_t pg_n_statements;
/* Creates or checks the schema over one connection on a private loop
 * (start() runs before execd's loop does); waits at most wait_ms.
 * Returns 0, or EXECD_E* with err: unreachable, or a schema newer than
 * PG_SCHEMA_VERSION. */
int schema_migrate(const char *conninfo, unsigned wait_ms, char *err,
                   size_t errlen);

/* --- ops.c --------------------------------------------------------------- */
extern const execd_storage_ops pg_storage_ops;
void writes_init(pg_store *st);
/* stop(): parked updates fail (logged), the retry timer closes. */
void writes_stop(pg_store *st);
void writes_free(pg_store *st);
/* The lane of an id: its queries run on one connection, in order. */
long pg_lane(const char *id);
/* The detail of the error the op with callback argument cb_arg reports. */
void pg_op_error(pg_store *st, void *cb_arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets aside the stored row of id that cannot be read back (why). */
void pg_quarantine(pg_store *st, const char *id, const char *why);

/* --- listen.c: wake-ups on LISTEN/NOTIFY for the core's claims ----------- */
int listen_watch(pg_store *st, void (*wake)(void *arg), void *arg);
void listen_stop(pg_store *st);

/* --- retention.c ---------------------------------------------------------- */
/* Starts the passes (when retention is set); stop closes the timer. */
void retention_start(pg_store *st);
void retention_stop(pg_store *st);

/* --- logs.c -------------------------------------------------------------- */
int logs_append(pg_store *st, const char *id, const char *data, size_t len);
/* Queues id's buffered bytes ahead of whatever is queued next on its lane. */
void logs_flush_id(pg_store *st, const char *id);
void logs_flush_all(pg_store *st);
/* The execution is gone: forget its buffer. */
void logs_forget(pg_store *st, const char *id);
void logs_free_all(pg_store *st);
int logs_read(pg_store *st, const char *id, uint64_t offset, size_t max,
              execd_log_cb cb, void *arg);
int logs_marks(pg_store *st, const char *id, uint64_t from, uint64_t to,
               execd_log_marks_cb cb, void *arg);

#endif

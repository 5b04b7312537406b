/* Retention: finished executions (SUCCEEDED, FAILED, TIMED_OUT, CANCELLED)
 * whose last write is older than `retention` are deleted with their logs
 * and keys, at most `retention_batch` rows per statement, so that no
 * statement holds many locks or writes much WAL at once and the table and
 * its indexes do not grow under steady load.  A pass runs every
 * `retention_interval`; while batches come back full, the next follows
 * after RETENTION_PAUSE_MS. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "pg_internal.h"

#define RETENTION_PAUSE_MS 10

static void on_retention_timer(uv_timer_t *t);

static void schedule(pg_store *st, uint64_t ms) {
  if (st->retention_timer_open && !st->stopping)
    uv_timer_start(&st->retention_timer, on_retention_timer, ms, 0);
}

static void on_batch(void *arg, PGresult *res, const char *error) {
  pg_store *st = arg;
  if (error) {
    st->host->log(st->inst, EXECD_LOG_WARNING, "retention: %s; tried again in %u ms",
                  error, st->retention_interval_ms);
    schedule(st, st->retention_interval_ms);
    return;
  }
  long deleted = PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : 0;
  st->retention_deleted += (uint64_t)deleted;
  if (deleted >= (long)st->retention_batch) {
    schedule(st, RETENTION_PAUSE_MS);
    return;
  }
  if (st->retention_deleted)
    st->host->log(st->inst, EXECD_LOG_INFO,
                  "retention: deleted %llu finished executions older than %llu s",
                  (unsigned long long)st->retention_deleted,
                  (unsigned long long)(st->retention_ms / 1000));
  st->retention_deleted = 0;
  schedule(st, st->retention_interval_ms);
}

static void on_retention_timer(uv_timer_t *t) {
  pg_store *st = t->data;
  if (st->stopping)
    return;
  char age[32], batch[32];
  snprintf(age, sizeof age, "%llu", (unsigned long long)st->retention_ms);
  snprintf(batch, sizeof batch, "%u", st->retention_batch);
  uvpq_query_spec q = {.stmt = "execd_retention", .nparams = 2,
                       .values = (const char *[]){age, batch}, .lane = -1};
  if (uvpq_query(st->pool, &q, on_batch, st) != 0)
    return; /* closing */
}

void retention_start(pg_store *st) {
  if (!st->retention_ms)
    return;
  uv_timer_init(st->loop, &st->retention_timer);
  st->retention_timer.data = st;
  st->retention_timer_open = true;
  schedule(st, st->retention_interval_ms);
}

static void on_closed(uv_handle_t *h) { (void)h; }

void retention_stop(pg_store *st) {
  if (!st->retention_timer_open)
    return;
  uv_timer_stop(&st->retention_timer);
  uv_close((uv_handle_t *)&st->retention_timer, on_closed);
  st->retention_timer_open = false;
}

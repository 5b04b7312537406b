/* The postgres storage plugin: descriptor, configuration and lifecycle.
 * create() checks the configuration only; start() makes or checks the
 * schema (schema.c) and starts the connection pool; the ops are in ops.c
 * and logs.c.  doc/storage-postgres.md is the user's documentation. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configcheck/config_check.h"
#include "pg_internal.h"

#define DEFAULT_POOL_SIZE 4
#define MAX_POOL_SIZE 64
#define DEFAULT_STATEMENT_TIMEOUT_MS 30000
#define DEFAULT_CONNECT_WAIT_MS 30000
#define DEFAULT_LOG_MAX (1ull << 20)
#define MIN_LOG_MAX 1024

static const execd_config_key pg_config_keys[] = {
    {"conninfo", EXECD_CFG_STRING, NULL,
     "libpq connection string (\"host=/run/postgresql dbname=execd\", or a "
     "postgresql:// URI); passfile, sslmode, sslrootcert, sslcert, sslkey, "
     "connect_timeout and the other libpq keys go here"},
    {"pool_size", EXECD_CFG_INT, "4",
     "connections to PostgreSQL (1-64); each runs one statement at a time"},
    {"statement_timeout", EXECD_CFG_DURATION, "30s",
     "longest a statement may run before the server cancels it (0: the "
     "server's setting)"},
    {"connect_wait", EXECD_CFG_DURATION, "30s",
     "how long start-up waits for PostgreSQL to answer before execd gives up"},
    {"log_max", EXECD_CFG_SIZE, "1M",
     "bytes of log kept per execution; later output is dropped and a marker "
     "line says so"},
    {"retention", EXECD_CFG_DURATION, "0",
     "finished executions whose last write is older than this are deleted "
     "with their logs (0: kept until removed)"},
    {"retention_batch", EXECD_CFG_INT, "500",
     "most executions one retention statement deletes (1-100000)"},
    {"retention_interval", EXECD_CFG_DURATION, "60s",
     "how often retention looks for executions to delete"},
    {NULL, 0, NULL, NULL}};

static void pg_log_cb(void *arg, int level, const char *msg) {
  pg_store *st = arg;
  st->host->log(st->inst, level, "%s", msg);
}

static int cfg_uint(pg_store *st, const json_t *config, const char *key,
                    long long def, long long min, long long max, long long *out) {
  const json_t *v = json_object_get(config, key);
  if (!v) {
    *out = def;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
    st->host->set_error(st->inst, "%s must be an integer from %lld to %lld", key, min, max);
    return EXECD_ECONFIG;
  }
  *out = json_integer_value(v);
  return 0;
}

static int configure(pg_store *st, const json_t *config) {
  const json_t *ci = json_object_get(config, "conninfo");
  if (!ci) {
    st->host->set_error(st->inst, "conninfo is missing: set it to a libpq "
                        "connection string (e.g. \"host=/run/postgresql dbname=execd\")");
    return EXECD_ECONFIG;
  }
  if (!json_is_string(ci) || !json_string_value(ci)[0]) {
    st->host->set_error(st->inst, "conninfo must be a non-empty string");
    return EXECD_ECONFIG;
  }
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(json_string_value(ci), &perr);
  if (!opts) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", perr ? perr : "out of memory");
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
      msg[--n] = '\0';
    st->host->set_error(st->inst, "conninfo '...': %s", msg);
    PQfreemem(perr);
    return EXECD_ECONFIG;
  }
  PQconninfoFree(opts);
  long long pool, timeout, wait, log_max, retention, batch, interval;
  int rc;
  if ((rc = cfg_uint(st, config, "pool_size", DEFAULT_POOL_SIZE, 1, MAX_POOL_SIZE, &pool)) ||
      (rc = cfg_uint(st, config, "statement_timeout", DEFAULT_STATEMENT_TIMEOUT_MS, 0,
                     24ll * 3600 * 1000, &timeout)) ||
      (rc = cfg_uint(st, config, "connect_wait", DEFAULT_CONNECT_WAIT_MS, 100,
                     3600ll * 1000, &wait)) ||
      (rc = cfg_uint(st, config, "log_max", DEFAULT_LOG_MAX, MIN_LOG_MAX,
                     1ll << 40, &log_max)) ||
      (rc = cfg_uint(st, config, "retention", 0, 0, 100ll * 365 * 86400 * 1000,
                     &retention)) ||
      (rc = cfg_uint(st, config, "retention_batch", 500, 1, 100000, &batch)) ||
      (rc = cfg_uint(st, config, "retention_interval", 60000, 10, 86400ll * 1000,
                     &interval)))
    return rc;
  st->retention_ms = (uint64_t)retention;
  st->retention_batch = (unsigned)batch;
  st->retention_interval_ms = (unsigned)interval;
  st->pool_size = (unsigned)pool;
  st->statement_timeout_ms = (unsigned)timeout;
  st->connect_wait_ms = (unsigned)wait;
  st->log_max = (uint64_t)log_max;
  st->conninfo = strdup(json_string_value(ci));
  if (!st->conninfo) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  return 0;
}

static void pg_destroy(void *self);

static pg_store *store_new(const execd_host *host, execd_instance *inst) {
  pg_store *st = calloc(1, sizeof *st);
  if (!st)
    return NULL;
  st->host = host;
  st->inst = inst;
  writes_init(st);
  return st;
}

/* check_config: create()'s configure() on a scratch store; no connection. */
static int pg_check_config(const json_t *config, char *err, size_t errlen) {
  config_check_ctx ck;
  pg_store *st = store_new(config_check_host(), NULL);
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return EXECD_ENOMEM;
  }
  st->inst = config_check_begin(&ck, err, errlen);
  int rc = configure(st, config);
  pg_destroy(st);
  return config_check_end(&ck, rc);
}

static int pg_create(const execd_host *host, execd_instance *inst,
                     const json_t *config, void **self) {
  *self = NULL;
  pg_store *st = store_new(host, inst);
  if (!st) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  st->loop = host->loop(inst);
  int rc = configure(st, config);
  if (rc == 0) {
    uvpq_config cfg = {.conninfo = st->conninfo, .pool_size = st->pool_size,
                       .statement_timeout_ms = st->statement_timeout_ms,
                       .statements = pg_statements, .n_statements = pg_n_statements,
                       .log = pg_log_cb, .log_arg = st};
    char err[512];
    st->pool = uvpq_pool_new(st->loop, &cfg, err, sizeof err);
    cfg.pool_size = 1;
    if (st->pool)
      st->lease_pool = uvpq_pool_new(st->loop, &cfg, err, sizeof err);
    if (!st->pool || !st->lease_pool) {
      host->set_error(inst, "%s", err);
      rc = EXECD_ECONFIG;
    }
  }
  if (rc == 0) {
    uv_timer_init(st->loop, &st->log_timer);
    st->log_timer.data = st;
    st->log_timer_open = true;
    uv_timer_init(st->loop, &st->park_timer);
    st->park_timer.data = st;
    st->park_timer_open = true;
  }
  if (rc != 0) {
    pg_destroy(st);
    return rc;
  }
  *self = st;
  return 0;
}

/* The schema is made or checked before any op runs: an execd older than
 * the database's schema refuses to start. */
static int pg_start(void *self) {
  pg_store *st = self;
  char err[1024];
  int rc = schema_migrate(st->conninfo, st->connect_wait_ms, err, sizeof err);
  if (rc != 0) {
    st->host->set_error(st->inst, "%s", err);
    return rc;
  }
  uvpq_pool_start(st->pool);
  uvpq_pool_start(st->lease_pool);
  retention_start(st);
  st->host->log(st->inst, EXECD_LOG_INFO,
                "PostgreSQL storage: schema version %d, %u connections",
                PG_SCHEMA_VERSION, st->pool_size);
  return 0;
}

static void on_pool_closed(void *arg) { ((pg_store *)arg)->pool = NULL; }
static void on_lease_pool_closed(void *arg) { ((pg_store *)arg)->lease_pool = NULL; }
static void on_timer_closed(uv_handle_t *h) { (void)h; }

/* Buffered log bytes are sent and queued writes finish; then the pool
 * closes. */
static void pg_stop(void *self) {
  pg_store *st = self;
  if (st->stopping)
    return;
  logs_flush_all(st);
  st->stopping = true;
  listen_stop(st);
  retention_stop(st);
  writes_stop(st);
  if (st->log_timer_open) {
    uv_timer_stop(&st->log_timer);
    uv_close((uv_handle_t *)&st->log_timer, on_timer_closed);
    st->log_timer_open = false;
  }
  if (st->pool)
    uvpq_pool_close(st->pool, on_pool_closed, st);
  if (st->lease_pool)
    uvpq_pool_close(st->lease_pool, on_lease_pool_closed, st);
}

static void pg_destroy(void *self) {
  pg_store *st = self;
  if (!st)
    return;
  /* A pool never closed (no stop) has no handle running: close it on a
   * loop that is not running, which frees it once its closes are seen. */
  if (st->lease_pool && st->loop) {
    uvpq_pool_close_now(st->lease_pool, on_lease_pool_closed, st);
    while (st->lease_pool)
      uv_run(st->loop, UV_RUN_NOWAIT);
  }
  if (st->pool && st->loop) {
    uvpq_pool_close_now(st->pool, on_pool_closed, st);
    while (st->pool)
      uv_run(st->loop, UV_RUN_NOWAIT);
  }
  /* Without stop(), timers are still open: closed here, on a loop that
   * is not running, which sees the closes at once. */
  bool closing = st->log_timer_open || st->retention_timer_open || st->park_timer_open ||
                 st->listener;
  listen_stop(st);
  retention_stop(st);
  writes_stop(st);
  if (st->log_timer_open) {
    uv_close((uv_handle_t *)&st->log_timer, on_timer_closed);
    st->log_timer_open = false;
  }
  if (closing)
    uv_run(st->loop, UV_RUN_NOWAIT);
  writes_free(st);
  logs_free_all(st);
  free(st->conninfo);
  free(st);
}

static const execd_plugin pg_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_STORAGE,
    .name = "postgres",
    .version = PACKAGE_VERSION,
    .description = "PostgreSQL storage: records, logs and idempotency keys in "
                   "one database (libpq on the loop)",
    .config_keys = pg_config_keys,
    .create = pg_create,
    .start = pg_start,
    .stop = pg_stop,
    .destroy = pg_destroy,
    .reload = NULL,
    .ops = &pg_storage_ops,
    .check_config = pg_check_config,
};

EXECD_PLUGIN_DEFINE(pg_plugin)

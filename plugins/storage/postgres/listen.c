/* Wake-ups for several nodes: a connection of its own (not one of the
 * pool's: a LISTEN belongs to a session) listens on the channel execd_work,
 * which execd_insert notifies in the transaction of every queued insert.
 * Each notification calls the core's wake callback (watch_work).  A lost
 * connection (a restart of PostgreSQL, pg_terminate_backend, a failover)
 * is made again with backoff and LISTEN is sent again; the core is woken
 * once it listens again, since notifications sent meanwhile are lost.
 * libpq's asynchronous API on the loop: nothing here blocks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

#define LISTEN_BACKOFF_MIN_MS 100
#define LISTEN_BACKOFF_MAX_MS 5000

typedef struct pg_listener {
  pg_store *st;
  void (*wake)(void *arg);
  void *arg;
  PGconn *conn;
  uv_poll_t *poll; /* on conn's socket; freed when closed */
  int fd;
  uv_timer_t retry;
  unsigned backoff_ms;
  bool connecting;  /* PQconnectPoll under way */
  bool listening;   /* LISTEN answered */
  bool lost_logged; /* one warning per outage */
} pg_listener;

static void connect_start(pg_listener *l);

static void on_poll_closed(uv_handle_t *h) { free(h); }

/* Stops watching the socket and ends the connection. */
static void conn_end(pg_listener *l) {
  if (l->poll) {
    uv_poll_stop(l->poll);
    uv_close((uv_handle_t *)l->poll, on_poll_closed);
    l->poll = NULL;
  }
  if (l->conn)
    PQfinish(l->conn);
  l->conn = NULL;
  l->fd = -1;
  l->connecting = l->listening = false;
}

static void on_retry(uv_timer_t *t) { connect_start(t->data); }

static void conn_lost(pg_listener *l, const char *why) {
  pg_store *st = l->st;
  if (!l->lost_logged)
    st->host->log(st->inst, EXECD_LOG_WARNING,
                  "wake-ups: the LISTEN connection is down (%s); listening again once "
                  "PostgreSQL answers (claims poll meanwhile)",
                  why && why[0] ? why : "no detail");
  l->lost_logged = true;
  conn_end(l);
  uv_timer_start(&l->retry, on_retry, l->backoff_ms, 0);
  l->backoff_ms = l->backoff_ms * 2 > LISTEN_BACKOFF_MAX_MS ? LISTEN_BACKOFF_MAX_MS
                                                            : l->backoff_ms * 2;
}

static void on_io(uv_poll_t *h, int status, int events);

static int watch(pg_listener *l, int events) {
  int fd = PQsocket(l->conn);
  if (fd < 0)
    return -1;
  if (l->poll && fd != l->fd) { /* libpq moved to another socket */
    uv_poll_stop(l->poll);
    uv_close((uv_handle_t *)l->poll, on_poll_closed);
    l->poll = NULL;
  }
  if (!l->poll) {
    l->poll = malloc(sizeof *l->poll);
    if (!l->poll || uv_poll_init(l->st->loop, l->poll, fd) != 0) {
      free(l->poll);
      l->poll = NULL;
      return -1;
    }
    l->poll->data = l;
    l->fd = fd;
  }
  return uv_poll_start(l->poll, events, on_io) == 0 ? 0 : -1;
}

static void connect_step(pg_listener *l) {
  switch (PQconnectPoll(l->conn)) {
  case PGRES_POLLING_READING:
    if (watch(l, UV_READABLE) != 0)
      conn_lost(l, "cannot watch its socket");
    return;
  case PGRES_POLLING_WRITING:
    if (watch(l, UV_WRITABLE) != 0)
      conn_lost(l, "cannot watch its socket");
    return;
  case PGRES_POLLING_OK:
    l->connecting = false;
    if (PQsetnonblocking(l->conn, 1) != 0 || !PQsendQuery(l->conn, "LISTEN execd_work") ||
        watch(l, UV_READABLE) != 0) {
      conn_lost(l, PQerrorMessage(l->conn));
      return;
    }
    PQflush(l->conn);
    return;
  default:
    conn_lost(l, PQerrorMessage(l->conn));
  }
}

/* Reads what arrived: LISTEN's answer, then notifications. */
static void read_input(pg_listener *l) {
  if (!PQconsumeInput(l->conn)) {
    conn_lost(l, PQerrorMessage(l->conn));
    return;
  }
  while (!PQisBusy(l->conn)) {
    PGresult *res = PQgetResult(l->conn);
    if (!res)
      break;
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", PQresultErrorMessage(res));
    PQclear(res);
    if (!ok) {
      conn_lost(l, why); /* "cannot execute LISTEN during recovery" and the like */
      return;
    }
    if (!l->listening) {
      pg_store *st = l->st;
      l->listening = true;
      l->backoff_ms = LISTEN_BACKOFF_MIN_MS;
      if (l->lost_logged)
        st->host->log(st->inst, EXECD_LOG_NOTICE, "wake-ups: listening again");
      l->lost_logged = false;
      l->wake(l->arg); /* what was notified while not listening */
    }
  }
  bool woken = false;
  PGnotify *n;
  while ((n = PQnotifies(l->conn)) != NULL) {
    PQfreemem(n);
    woken = true;
  }
  if (woken)
    l->wake(l->arg);
}

static void on_io(uv_poll_t *h, int status, int events) {
  pg_listener *l = h->data;
  (void)events;
  if (h != l->poll)
    return;
  if (status < 0) {
    conn_lost(l, uv_strerror(status));
    return;
  }
  if (l->connecting)
    connect_step(l);
  else
    read_input(l);
}

static void connect_start(pg_listener *l) {
  conn_end(l);
  l->conn = PQconnectStart(l->st->conninfo);
  if (!l->conn || PQstatus(l->conn) == CONNECTION_BAD) {
    conn_lost(l, l->conn ? PQerrorMessage(l->conn) : "out of memory");
    return;
  }
  l->connecting = true;
  connect_step(l);
}

static void on_retry_closed(uv_handle_t *h) { free(h->data); }

void listen_stop(pg_store *st) {
  pg_listener *l = st->listener;
  if (!l)
    return;
  st->listener = NULL;
  conn_end(l);
  uv_timer_stop(&l->retry);
  uv_close((uv_handle_t *)&l->retry, on_retry_closed);
}

int listen_watch(pg_store *st, void (*wake)(void *arg), void *arg) {
  if (!wake) {
    listen_stop(st);
    return 0;
  }
  if (st->listener || st->stopping) {
    st->host->set_error(st->inst, "wake-ups are registered already");
    return EXECD_EINVAL;
  }
  pg_listener *l = calloc(1, sizeof *l);
  if (!l) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  l->st = st;
  l->wake = wake;
  l->arg = arg;
  l->fd = -1;
  l->backoff_ms = LISTEN_BACKOFF_MIN_MS;
  uv_timer_init(st->loop, &l->retry);
  l->retry.data = l;
  st->listener = l;
  connect_start(l);
  return 0;
}

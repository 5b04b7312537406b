/* libmicrohttpd driven by the libuv loop, with no thread of its own:
 * MHD runs in external epoll mode; its epoll fd is watched with a uv_poll
 * and its timeout with a uv_timer.  Every wake-up "kicks" MHD: MHD_run,
 * then re-arm the timer from MHD_get_timeout.
 *
 * Requests answered by an async host call are suspended and resumed from
 * the reply callback.  MHD must run after every resume; that run happens
 * on the next loop iteration (an idle handle), never inside a host
 * callback, so that connections closing in it cannot unwatch subscriptions
 * while the core is walking its list of them.
 * Request contexts are reference counted so a reply arriving after the
 * client went away finds its context alive but marked closed. */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_internal.h"

/* TCP keep-alive on client connections, so that a follow stream to a host
 * that vanished is noticed even when nothing is written. */
#define TCP_KEEPALIVE_IDLE_S 30
#define TCP_KEEPALIVE_INTERVAL_S 10
#define TCP_KEEPALIVE_COUNT 3

/* ---- request contexts ---------------------------------------------------- */

void request_ref(http_request *req) { req->refs++; }

void request_unref(http_request *req) {
  if (--req->refs > 0)
    return;
  answer_discard(&req->answer);
  free(req->body);
  free(req->label_key);
  free(req->label_value);
  free(req);
}

static http_request *request_new(http_server *srv, struct MHD_Connection *conn,
                                 const char *method) {
  http_request *req = calloc(1, sizeof *req);
  if (!req)
    return NULL;
  req->srv = srv;
  req->conn = conn;
  req->method = method;
  req->refs = 1; /* the connection's */
  req->next = srv->requests;
  if (srv->requests)
    srv->requests->prev = req;
  srv->requests = req;
  return req;
}

void request_answer(http_request *req, http_answer *a) {
  if (req->closed) {
    answer_discard(a);
    return;
  }
  answer_discard(&req->answer);
  req->answer = *a;
  a->response = NULL;
  if (req->suspended) {
    req->suspended = 0;
    MHD_resume_connection(req->conn);
    server_kick_soon(req->srv);
  }
}

void request_on_reply(void *arg, const execd_reply *reply) {
  http_request *req = arg;
  if (!req->closed)
    req->on_reply(req, reply);
  request_unref(req);
}

void request_after_call(http_request *req, int call) {
  if (call == 0)
    return;
  /* The host refused the call: no callback will come. */
  http_answer a = {0, NULL};
  answer_call_error(&a, call);
  request_answer(req, &a);
  request_unref(req);
}

/* Queue req->answer; MHD_NO closes the connection. */
static enum MHD_Result queue_answer(http_request *req) {
  http_answer a = req->answer;
  req->answer.response = NULL;
  if (!a.response)
    return MHD_NO; /* out of memory building it */
  enum MHD_Result rc = MHD_queue_response(req->conn, a.status, a.response);
  MHD_destroy_response(a.response);
  return rc;
}

/* ---- the request head ------------------------------------------------------ */

typedef struct head_scan {
  size_t bytes;          /* header names and values */
  unsigned content_lengths;
  const char *first_cl;  /* the first Content-Length value */
  int cl_differ;         /* two Content-Length headers that differ */
  unsigned transfer_encodings;
} head_scan;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value) {
  head_scan *h = cls;
  (void)kind;
  h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF */
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
    if (h->content_lengths++ && value && h->first_cl &&
        strcmp(value, h->first_cl) != 0)
      h->cl_differ = 1;
    if (!h->first_cl)
      h->first_cl = value ? value : "";
  } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
    h->transfer_encodings++;
  }
  return MHD_YES;
}

/* An answer that also ends the connection: after it nothing the client
 * sent on this connection can be trusted to be framed right. */
static void refuse_and_close(http_request *req, unsigned status,
                             const char *code, const char *message) {
  answer_error(&req->answer, status, code, message, NULL);
  answer_header(&req->answer, MHD_HTTP_HEADER_CONNECTION, "close");
}

int request_check_head(http_request *req, const char *url,
                       const char *version) {
  if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 &&
      strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
    refuse_and_close(req, MHD_HTTP_HTTP_VERSION_NOT_SUPPORTED,
                     "http_version_not_supported",
                     "only HTTP/1.0 and HTTP/1.1 are served");
    return 1;
  }
  head_scan target;
  memset(&target, 0, sizeof target);
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, scan_header,
                            &target); /* the query: url is the path only */
  if (strlen(url) + target.bytes > HTTP_URI_MAX) {
    char msg[96];
    snprintf(msg, sizeof msg, "the request target is longer than %d bytes",
             HTTP_URI_MAX);
    refuse_and_close(req, MHD_HTTP_URI_TOO_LONG, "uri_too_long", msg);
    return 1;
  }
  head_scan h;
  memset(&h, 0, sizeof h);
  MHD_get_connection_values(req->conn, MHD_HEADER_KIND, scan_header, &h);
  if (h.bytes > HTTP_HEADERS_MAX) {
    char msg[96];
    snprintf(msg, sizeof msg, "the request headers are larger than %d bytes",
             HTTP_HEADERS_MAX);
    refuse_and_close(req, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                     "headers_too_large", msg);
    return 1;
  }
  /* RFC 9112 6.3: a message with both, or with differing lengths, is a
   * request smuggling attempt behind a proxy that reads it otherwise. */
  if (h.content_lengths && h.transfer_encodings) {
    refuse_and_close(req, MHD_HTTP_BAD_REQUEST, NULL,
                     "Content-Length and Transfer-Encoding together: the "
                     "body's length is ambiguous");
    return 1;
  }
  if (h.cl_differ) {
    refuse_and_close(req, MHD_HTTP_BAD_REQUEST, NULL,
                     "two different Content-Length headers: the body's "
                     "length is ambiguous");
    return 1;
  }
  if (h.transfer_encodings > 1) {
    refuse_and_close(req, MHD_HTTP_BAD_REQUEST, NULL,
                     "more than one Transfer-Encoding header");
    return 1;
  }
  return 0;
}

/* Percent-decoding of the path and query: as libmicrohttpd's own, except
 * that "%00" stays as it is.  A decoded NUL would end the C string early,
 * so "ID%00" would be read as "ID"; left encoded, it is an invalid id. */
static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t request_unescape(void *cls, struct MHD_Connection *conn, char *s) {
  (void)cls;
  (void)conn;
  char *out = s;
  for (const char *in = s; *in;) {
    int hi, lo;
    if (in[0] == '%' && (hi = hex_value(in[1])) >= 0 &&
        (lo = hex_value(in[2])) >= 0 && (hi | lo) != 0) {
      *out++ = (char)(hi * 16 + lo);
      in += 3;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
  return (size_t)(out - s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  http_server *srv = cls;
  http_request *req = *con_cls;
  (void)version;

  if (!req) {
    /* Headers only: decide now whether the request can be refused without
     * reading its body. */
    req = request_new(srv, conn, method);
    if (!req)
      return MHD_NO;
    *con_cls = req;
    if (srv->stopping) {
      answer_error(&req->answer, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                   "execd is shutting down", NULL);
      answer_header(&req->answer, MHD_HTTP_HEADER_RETRY_AFTER,
                    HTTP_RETRY_AFTER_SHUTDOWN);
      return queue_answer(req);
    }
    /* Framing and size first: they decide how the bytes that follow are
     * read, whatever the route. */
    if (request_check_head(req, url, version) || routes_begin(req, url, method))
      return queue_answer(req);
    return MHD_YES;
  }

  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    req->body_seen += n;
    if (req->body_seen > srv->max_body) {
      /* A chunked body over the limit (a declared Content-Length over it
       * was refused before the body).  libmicrohttpd 0.9.75 cannot queue a
       * response while it hands us upload data, so the rest of the body
       * is read and dropped, costing no memory, and the 413 follows once
       * it ends.  A body that never ends is cut by the idle timeout only
       * if it stalls; one that keeps coming is closed at
       * HTTP_DISCARD_MAX, so that nobody can stream to execd forever. */
      req->body_too_big = 1;
      if (req->body_seen - srv->max_body > HTTP_DISCARD_MAX)
        return MHD_NO;
      return MHD_YES;
    }
    if (!routes_wants_body(req))
      return MHD_YES;
    if (req->body_len + n + 1 > req->body_cap) {
      size_t cap = req->body_cap ? req->body_cap : 4096;
      while (cap < req->body_len + n + 1)
        cap *= 2;
      char *nb = realloc(req->body, cap);
      if (!nb)
        return MHD_NO;
      req->body = nb;
      req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, upload_data, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
    return MHD_YES;
  }

  if (req->answer.response)
    return queue_answer(req);
  if (req->dispatched) {
    /* Resumed without an answer: only stop() does that. */
    answer_error(&req->answer, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                 "execd is shutting down", NULL);
    answer_header(&req->answer, MHD_HTTP_HEADER_RETRY_AFTER,
                  HTTP_RETRY_AFTER_SHUTDOWN);
    return queue_answer(req);
  }
  req->dispatched = 1;
  if (req->body_too_big) {
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is larger than %llu bytes",
             (unsigned long long)srv->max_body);
    answer_error(&req->answer, HTTP_STATUS_TOO_LARGE, NULL, msg, NULL);
    return queue_answer(req);
  }
  routes_dispatch(req);
  if (req->answer.response)
    return queue_answer(req);
  /* Suspended here rather than in the handler, so that a reply delivered
   * during the host call itself needs no resume. */
  req->suspended = 1;
  MHD_suspend_connection(conn);
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  http_server *srv = cls;
  http_request *req = *con_cls;
  (void)conn;
  (void)toe;
  if (!req)
    return;
  *con_cls = NULL;
  req->closed = 1;
  req->conn = NULL;
  if (req->prev)
    req->prev->next = req->next;
  else
    srv->requests = req->next;
  if (req->next)
    req->next->prev = req->prev;
  req->prev = req->next = NULL;
  request_unref(req);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  (void)cls;
  (void)socket_context;
  if (toe != MHD_CONNECTION_NOTIFY_STARTED)
    return;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!ci)
    return;
  int fd = ci->connect_fd;
  int on = 1, idle = TCP_KEEPALIVE_IDLE_S, intvl = TCP_KEEPALIVE_INTERVAL_S,
      cnt = TCP_KEEPALIVE_COUNT;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  http_server *srv = cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  /* While serving, MHD mostly reports clients that went away. */
  srv->host->log(srv->inst, srv->bound[0] ? EXECD_LOG_DEBUG : EXECD_LOG_ERR,
                 "libmicrohttpd: %s", line);
}

/* ---- MHD on the loop ------------------------------------------------------ */

/* Runs of MHD on the next loop iteration in a row while it keeps asking
 * for no wait, before falling back to a 1 ms timer: bounded, so that a
 * connection MHD always wants to run at once cannot spin the loop. */
#define KICK_NOW_MAX 4

static void on_timer(uv_timer_t *t) { server_kick(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  server_kick(p->data);
}

static void on_tick(uv_timer_t *t) { stream_tick(t->data); }

void server_kick(http_server *srv) {
  if (!srv->mhd)
    return;
  if (srv->in_run)
    return; /* MHD_run is not re-entrant */
  srv->in_run = 1;
  MHD_run(srv->mhd);
  srv->in_run = 0;
  if (!srv->mhd)
    return;
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES) {
    if (ms == 0 && srv->runs_now < KICK_NOW_MAX) {
      /* MHD has work at once: after a response it reads the connection
       * again until the socket says EAGAIN, and only then waits for its
       * epoll.  Run it on the next loop iteration (which polls for I/O
       * first), not a 1 ms timer: the next request of a kept-alive
       * connection would wait for that timer, twice (2-3 ms a request). */
      srv->runs_now++;
      uv_timer_stop(&srv->timer);
      server_kick_soon(srv);
      return;
    }
    if (ms != 0)
      srv->runs_now = 0;
    /* Never 0 ms: a 0 ms timer re-armed from its own callback starves the
     * libuv 1.44 loop; after KICK_NOW_MAX runs in a row MHD waits 1 ms. */
    uv_timer_start(&srv->timer, on_timer, ms ? ms : 1, 0);
  } else {
    srv->runs_now = 0;
    uv_timer_stop(&srv->timer);
  }
}

static void on_kick_soon(uv_idle_t *h) {
  uv_idle_stop(h);
  server_kick(h->data);
}

void server_kick_soon(http_server *srv) {
  if (srv->mhd)
    uv_idle_start(&srv->kick_idle, on_kick_soon);
}

int server_start(http_server *srv) {
  char err[256];
  unsigned port = 0;
  int fd = listen_open(&srv->addr, &port, err, sizeof err);
  if (fd < 0) {
    srv->host->set_error(srv->inst, "%s", err);
    return EXECD_EIO;
  }
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (srv->addr.ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  srv->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, srv,
      /* first, so that every message goes through it */
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
      MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_CONNECTION_TIMEOUT, srv->timeout_s,
      MHD_OPTION_CONNECTION_LIMIT, srv->max_connections,
      /* Room for a request head over execd's own limits, so that execd,
       * not the library, answers 414/431 in its JSON format. */
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
      MHD_OPTION_UNESCAPE_CALLBACK, request_unescape, srv,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_END);
  if (!srv->mhd) {
    close(fd);
    srv->host->set_error(srv->inst,
                         "cannot start libmicrohttpd on %s (see the log)",
                         srv->listen_text);
    return EXECD_EIO;
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  if (!di) {
    MHD_stop_daemon(srv->mhd);
    srv->mhd = NULL;
    srv->host->set_error(srv->inst, "libmicrohttpd has no epoll fd");
    return EXECD_EIO;
  }
  int rc = uv_poll_init(srv->loop, &srv->poll, di->epoll_fd);
  if (rc != 0) {
    MHD_stop_daemon(srv->mhd);
    srv->mhd = NULL;
    srv->host->set_error(srv->inst, "uv_poll_init: %s", uv_strerror(rc));
    return EXECD_EIO;
  }
  srv->poll.data = srv;
  uv_timer_init(srv->loop, &srv->timer);
  srv->timer.data = srv;
  uv_timer_init(srv->loop, &srv->tick);
  srv->tick.data = srv;
  uv_idle_init(srv->loop, &srv->kick_idle);
  srv->kick_idle.data = srv;
  srv->handles_open = 4;
  uv_poll_start(&srv->poll, UV_READABLE, on_poll);

  listen_format(&srv->addr, port, srv->bound, sizeof srv->bound);
  srv->host->log(srv->inst, EXECD_LOG_NOTICE, "listening on %s", srv->bound);
  server_kick(srv);
  return 0;
}

void server_tick_start(http_server *srv) {
  if (srv->handles_open && !srv->tick_running && !srv->stopping) {
    uint64_t every = srv->keepalive_ms < 100 ? srv->keepalive_ms : 100;
    if (every == 0)
      every = 1;
    srv->tick_running = 1;
    uv_timer_start(&srv->tick, on_tick, every, every);
  }
}

void server_tick_stop(http_server *srv) {
  if (srv->tick_running) {
    srv->tick_running = 0;
    uv_timer_stop(&srv->tick);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  http_server *srv = h->data;
  srv->handles_open--;
}

void server_stop(http_server *srv) {
  if (!srv->mhd)
    return;
  srv->stopping = 1;
  /* MHD refuses to stop with suspended connections: resume them all; the
   * handler then answers 503 and streams end. */
  stream_shutdown_all(srv);
  for (http_request *req = srv->requests; req; req = req->next)
    if (req->suspended) {
      req->suspended = 0;
      MHD_resume_connection(req->conn);
    }
  server_tick_stop(srv);
  uv_poll_stop(&srv->poll);
  uv_timer_stop(&srv->timer);
  uv_idle_stop(&srv->kick_idle);
  struct MHD_Daemon *d = srv->mhd;
  srv->mhd = NULL;
  MHD_stop_daemon(d); /* completes every connection, closes the socket */
  srv->host->log(srv->inst, EXECD_LOG_INFO, "stopped listening on %s",
                 srv->bound);
  srv->bound[0] = '\0';
  uv_close((uv_handle_t *)&srv->poll, on_handle_closed);
  uv_close((uv_handle_t *)&srv->timer, on_handle_closed);
  uv_close((uv_handle_t *)&srv->tick, on_handle_closed);
  uv_close((uv_handle_t *)&srv->kick_idle, on_handle_closed);
}

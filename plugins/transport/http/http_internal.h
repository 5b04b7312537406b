/* Internal interfaces of the http transport, shared by its source files:
 *
 *   http.c     plugin descriptor, config, lifecycle, reload
 *   listen.c   parsing "ADDRESS:PORT" and binding the listening socket
 *   server.c   libmicrohttpd driven by the libuv loop; request contexts
 *   routes.c   URL routing, authentication, handlers calling the host
 *   stream.c   chunked log follow and server-sent events
 *   respond.c  JSON/text responses and the error mapping
 *
 * Everything runs on the loop thread.  Bearer tokens are checked by the
 * daemon (host->authenticate, ABI 1.5).
 */
#ifndef EXECD_HTTP_INTERNAL_H
#define EXECD_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <uv.h>

#include <execd/plugin.h>

#define HTTP_ID_LEN 36      /* execution ids are UUID-like: [0-9a-f-]{36} */
#define HTTP_AGENT_NAME_MAX 128 /* agent names: [A-Za-z0-9._-], as the core allows */
#define HTTP_TENANT_MAX EXECD_TENANT_MAX /* longest tenant name */
/* Limits of a request head, answered by execd with its JSON error
 * document (414, 431).  libmicrohttpd keeps a request head in a buffer of
 * HTTP_CONNECTION_MEMORY bytes: a head that does not even fit there gets
 * the library's own answer, an HTML page, as does a request line of HTTP
 * major version 2 or more; 0.9.75 answers both before any callback of
 * execd runs and has no option to replace its pages (doc/api.md). */
#define HTTP_URI_MAX 8192
#define HTTP_HEADERS_MAX 16384
#define HTTP_CONNECTION_MEMORY (128 * 1024)
/* Bytes of a chunked body over max_body read and dropped before the
 * connection is closed instead of answered 413. */
#define HTTP_DISCARD_MAX (256ull << 20)
/* Retry-After of a 503 while execd shuts down (seconds). */
#define HTTP_RETRY_AFTER_SHUTDOWN "5"
/* 413, 422: libmicrohttpd renamed these constants between releases. */
#define HTTP_STATUS_TOO_LARGE 413u
#define HTTP_STATUS_UNPROCESSABLE 422u

/* ---- listen.c ------------------------------------------------------------ */

typedef struct http_listen_addr {
  struct sockaddr_storage ss;
  socklen_t len;
  int loopback; /* 127.0.0.0/8 or ::1 */
} http_listen_addr;

/* Parse "127.0.0.1:8080", "[::1]:8080" or "localhost:8080". */
int listen_parse(const char *text, http_listen_addr *out, char *err,
                 size_t errlen);
/* Create a non-blocking listening socket.  Returns the fd, or -1 with err
 * set.  *port gets the bound port (useful with port 0). */
int listen_open(const http_listen_addr *addr, unsigned *port, char *err,
                size_t errlen);
/* "127.0.0.1:8080" / "[::1]:8080" for addr with the given port. */
void listen_format(const http_listen_addr *addr, unsigned port, char *buf,
                   size_t buflen);

/* ---- http.c: the instance ------------------------------------------------ */

typedef struct http_request http_request;
typedef struct http_stream http_stream;

typedef struct http_server {
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;

  /* config */
  char *listen_text;
  http_listen_addr addr;
  uint64_t max_body;   /* bytes */
  unsigned timeout_s;  /* idle connection timeout; 0 = none */
  unsigned max_connections;
  uint64_t keepalive_ms; /* how often idle streams are checked / pinged */

  /* server.c */
  struct MHD_Daemon *mhd;
  char bound[80];      /* "127.0.0.1:PORT" once listening */
  uv_poll_t poll;      /* MHD's epoll fd */
  uv_timer_t timer;    /* MHD_get_timeout */
  uv_timer_t tick;     /* stream keep-alive and retries */
  int handles_open;    /* uv handles not yet closed */
  uv_idle_t kick_idle; /* runs MHD on the next loop iteration */
  int in_run;          /* inside MHD_run */
  int runs_now;        /* MHD_runs in a row for which MHD asked for no wait */
  int stopping;
  http_request *requests; /* live request contexts */

  /* stream.c */
  http_stream *streams;   /* live streaming responses */
  int tick_running;
} http_server;

/* ---- respond.c ----------------------------------------------------------- */

/* A response ready to queue. */
typedef struct http_answer {
  unsigned status;
  struct MHD_Response *response;
} http_answer;

/* HTTP status for a negative EXECD_E*. */
unsigned respond_status_for(int execd_status);
/* The default error code string for an HTTP status ("not_found"). */
const char *respond_code_for(unsigned http_status);

/* Serialise doc (borrowed) followed by a newline. */
void answer_json(http_answer *a, unsigned status, const json_t *doc);
/* {"error":{"code","message","field"}}; code NULL: from the status. */
void answer_error(http_answer *a, unsigned status, const char *code,
                  const char *message, const char *field);
/* The same with "details" (borrowed, may be NULL): a reply's error body. */
void answer_error_details(http_answer *a, unsigned status, const char *code,
                          const char *message, const char *field, json_t *details);
/* The error of a failed host reply (status != 0). */
void answer_reply_error(http_answer *a, const execd_reply *r);
/* A host call that was refused outright (returned rc != 0). */
void answer_call_error(http_answer *a, int rc);
void answer_text(http_answer *a, unsigned status, const char *content_type,
                 const char *data, size_t len);
void answer_discard(http_answer *a);
/* Add a header to a prepared answer. */
void answer_header(http_answer *a, const char *name, const char *value);

/* ---- server.c: requests ---------------------------------------------------- */

/* Route matched for a request (routes.c). */
typedef struct http_route http_route;

/* Called with a host reply, to turn it into req->answer. */
typedef void (*http_reply_fn)(http_request *req, const execd_reply *reply);

/* One HTTP request (MHD's con_cls).  Reference counted: one reference for
 * the MHD connection (dropped on MHD_OPTION_NOTIFY_COMPLETED) and one per
 * host call in flight, so that a reply arriving after the client went away
 * finds the context alive and marked closed. */
struct http_request {
  http_server *srv;              /* valid while !closed */
  struct MHD_Connection *conn;   /* valid while !closed */
  http_request *prev, *next;     /* in srv->requests while !closed */
  int refs;
  int closed;      /* MHD is done with the connection */
  int suspended;   /* we suspended it, waiting for an answer */
  int dispatched;  /* the handler ran (the body is complete) */

  const http_route *route;
  const char *method; /* MHD's, valid while !closed */
  char id[HTTP_ID_LEN + 1];
  char agent[HTTP_AGENT_NAME_MAX + 1]; /* /v1/agents/{name} */
  char tenant[HTTP_TENANT_MAX + 1];

  char *body;          /* request body (submit only) */
  size_t body_len, body_cap;
  uint64_t body_seen;  /* bytes received, kept or not */
  int body_too_big;

  char *label_key, *label_value; /* owned copies for list queries */

  http_reply_fn on_reply;
  http_answer answer;  /* queued by the next handler call */
  void *extra;         /* per-handler state (stream.c) */
};

/* First look at a request: HTTP version, target and header sizes, and an
 * unambiguous body length (one Content-Length, or Transfer-Encoding, not
 * both).  Returns 1 with req->answer set (the connection is then closed). */
int request_check_head(http_request *req, const char *url, const char *version);
/* libmicrohttpd's unescape callback: %XX decoding that keeps "%00". */
size_t request_unescape(void *cls, struct MHD_Connection *conn, char *s);

void request_ref(http_request *req);
void request_unref(http_request *req);
/* Store the answer; resume the connection if it was suspended waiting for
 * it.  (A request left without an answer by its handler is suspended.) */
void request_answer(http_request *req, http_answer *a);
/* The reply callback for host calls that answer a request: runs
 * req->on_reply unless the client is gone, then drops the reference taken
 * for the call. */
void request_on_reply(void *arg, const execd_reply *reply);
/* After a host call made with a reference held for request_on_reply: call
 * is the host's return code; on failure no callback will come, so the
 * reference is dropped and the request is answered with the mapped error. */
void request_after_call(http_request *req, int call);

/* Run MHD now and re-arm its timer. */
void server_kick(http_server *srv);
/* Run MHD on the next loop iteration: after every MHD_resume_connection. */
void server_kick_soon(http_server *srv);
int server_start(http_server *srv);
/* The stream tick timer (keep-alives, retries) runs while streams exist. */
void server_tick_start(http_server *srv);
void server_tick_stop(http_server *srv);
/* Answer every suspended request, stop MHD, close the uv handles. */
void server_stop(http_server *srv);

/* ---- routes.c -------------------------------------------------------------- */

/* First call for a request (headers only): route, check the method, the
 * token, the id, content type and length.  Returns 0 to continue (read the
 * body), or 1 with req->answer set (an error to queue right away). */
int routes_begin(http_request *req, const char *url, const char *method);
/* The body is complete: run the handler.  Either sets req->answer or
 * suspends the request until an async reply. */
void routes_dispatch(http_request *req);
/* True if the route keeps the request body. */
int routes_wants_body(const http_request *req);

/* ---- stream.c -------------------------------------------------------------- */

/* GET /v1/executions/{id}/logs: page the stored log from offset; with
 * follow, keep the response open until the execution ends; with
 * timestamps, each line starts with the time it arrived. */
void stream_logs_begin(http_request *req, uint64_t offset, int follow, int timestamps);
/* GET /v1/executions/{id}/events?follow=1: server-sent events. */
void stream_events_begin(http_request *req);
/* Stop: end every stream and resume its connection. */
void stream_shutdown_all(http_server *srv);
void stream_tick(http_server *srv);

#endif

/* An HTTP client of one server's REST API (a container engine's, for the
 * container backends): libcurl multi_socket driven by the libuv loop, over
 * the server's unix socket or TCP, with TLS or without (httpc_endpoint.h).
 * Nothing here blocks the loop.
 *
 * Requests are relative to the client's API prefix ("/v1.41" for the
 * Docker Engine API), so one client serves any server of that dialect. */
#ifndef EXECD_HTTPC_H
#define EXECD_HTTPC_H

#include <stdatomic.h>
#include <stddef.h>

#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "httpc_endpoint.h"

typedef struct httpc_client httpc_client;
typedef struct httpc_request httpc_request;

/* How a request ended.  Borrowed, valid only during the done callback. */
typedef struct httpc_response {
  long status;       /* HTTP status, or 0 if no response came */
  int transport_err; /* non-zero: the server could not be reached or the
                        connection broke (error holds curl's reason) */
  const char *error; /* transport error text, or NULL */
  const char *body;  /* the buffered body (NUL-terminated), "" when streamed */
  size_t body_len;
  int truncated;     /* the body was longer than the buffer cap */
} httpc_response;

/* Streamed body bytes (chunked encoding already removed).  Return 0 to go
 * on, non-zero to abort the transfer (done then reports transport_err). */
typedef int (*httpc_data_cb)(void *arg, const char *data, size_t len);
/* The response headers are complete (status known); the body follows. */
typedef void (*httpc_headers_cb)(void *arg, long status);
typedef void (*httpc_done_cb)(void *arg, const httpc_response *r);

typedef struct httpc_request_opts {
  const char *method;       /* "GET", "POST", "PUT", "DELETE", "HEAD" */
  const char *path;         /* after the prefix, with its query: "/containers/create" */
  const char *body;         /* copied; or NULL */
  size_t body_len;
  char *body_owned;         /* alternatively: a malloc'd body the request takes over */
  const char *content_type; /* of the body ("application/json" when NULL) */
  const char *extra_header; /* one more "Name: value" header, or NULL */
  long timeout_ms;          /* whole request; 0 = none (streams, waits) */
  size_t body_max;          /* cap on a buffered body; 0 = 1 MiB */
  httpc_data_cb on_data;    /* stream the body instead of buffering it */
  httpc_headers_cb on_headers;
  httpc_done_cb on_done;    /* required */
  void *arg;
} httpc_request_opts;

/* A client for the server at ep (copied), API paths under prefix.  name
 * is the server's name for messages ("docker"). */
httpc_client *httpc_client_new(uv_loop_t *loop, const httpc_endpoint *ep, const char *prefix,
                               const char *name);
/* Cancels every request (their callbacks are not called) and closes the
 * libuv handles; the client is freed once they are closed. */
void httpc_client_close(httpc_client *c);
uv_loop_t *httpc_client_loop(const httpc_client *c);
const httpc_endpoint *httpc_client_endpoint(const httpc_client *c);
const char *httpc_client_name(const httpc_client *c);
/* TCP: the server's address, as the last request that reached it
 * connected to (or the endpoint's own, when it is an address literal), so
 * a connection of another kind needs no name lookup.  0, or -1 while none
 * is known (and always for a unix socket). */
int httpc_client_peer(const httpc_client *c, struct sockaddr_storage *out);

/* Starts a request.  Returns NULL only when out of memory.  on_done runs
 * exactly once, later, unless the request is cancelled first. */
httpc_request *httpc_request_start(httpc_client *c, const httpc_request_opts *o);
/* Convenience: JSON body (borrowed), buffered response. */
httpc_request *httpc_request_json(httpc_client *c, const char *method, const char *path,
                                  const json_t *body, long timeout_ms, httpc_done_cb done,
                                  void *arg);
/* Cancels a request that has not completed: no callback runs after this.
 * Safe to call from inside this client's callbacks. */
void httpc_request_cancel(httpc_request *r);

/* Blocking: for the thread pool only, never the loop.  GETs path on a
 * connection of its own and hands a 200 answer's body to on_data as it
 * arrives (non-zero from on_data ends the transfer), for bodies too large
 * to hold in memory.  It ends early once *stop is non-zero (checked on
 * every chunk and about once a second) or when under a byte a second came
 * for stall_ms.  Returns the HTTP status (for a status other than 200,
 * err holds the server's message), or 0 when no complete answer came
 * (err says why).  c is only read: safe while the loop uses c. */
long httpc_get_blocking(const httpc_client *c, const char *path, httpc_data_cb on_data,
                        void *arg, const atomic_int *stop, long stall_ms, char *err,
                        size_t err_size);

/* The "message" member of a JSON error body, or the body itself
 * (trimmed) into buf. */
const char *httpc_error_message(const httpc_response *r, char *buf, size_t size);

/* Percent-encodes s for a query string into a new string. */
char *httpc_url_escape(const char *s);

#endif
